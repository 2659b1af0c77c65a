-- demo/catalog.sql: the sample catalog of a speciality coffee retailer,
-- loaded by demo/run as oms_admin with plain SQL. GTINs are fictitious but
-- carry valid check digits.
\set ON_ERROR_STOP 1
SET ROLE oms_admin;

-- how each channel routes its orders (see the fulfillment part of the demo):
-- the web shop and the phone team ship from wherever is cheapest, the app
-- promises speed (closest, within 800 km), the marketplace and wholesale
-- keep stock even across the warehouses (balance, priority)
INSERT INTO oms.channels (code, name, kind, routing_strategy, max_distance_km) VALUES
    ('web',       'Web shop',              'web',         'cheapest', NULL),
    ('app',       'Mobile app',            'mobile',      'closest',  800),
    ('pos',       'Store tills',           'pos',         'closest',  NULL),
    ('amazon-de', 'Amazon.de marketplace', 'marketplace', 'balance',  NULL),
    ('phone',     'Phone orders',          'phone',       'cheapest', NULL),
    ('b2b',       'Wholesale to cafes',    'wholesale',   'priority', NULL);

-- real coordinates: logistics parks near Berlin, Rotterdam and Milan, stores
-- in Munich and Hamburg, and a dropship roaster in Lyon. est_cost of a
-- parcel = distance x cost_per_km + handling_cost; stores pack by hand
-- (dearer handling) and the Hamburg store packs at most 2 parcels a day.
-- The address is the sender address on shipping labels.
INSERT INTO oms.locations (code, name, kind, latitude, longitude, ships, pickup, priority, daily_capacity,
                           handling_cost, cost_per_km, address) VALUES
    ('WH-BER', 'Berlin warehouse (Grossbeeren)',  'warehouse', 52.3547, 13.3090, true,  false, 10, 4000, 1.10, 0.0080,
     E'Am Gueterverkehrszentrum 12\n14979 Grossbeeren\nGermany'),
    ('WH-RTM', 'Rotterdam warehouse (Waalhaven)', 'warehouse', 51.8889, 4.4378,  true,  false, 20, 3000, 1.25, 0.0080,
     E'Waalhaven Oostzijde 80\n3087 BM Rotterdam\nNetherlands'),
    ('WH-MIL', 'Milan warehouse (Segrate)',       'warehouse', 45.4904, 9.2950,  true,  false, 30, 1500, 1.40, 0.0090,
     E'Via Cassanese 224\n20054 Segrate MI\nItaly'),
    ('ST-MUC', 'Munich store, Viktualienmarkt',   'store',     48.1351, 11.5762, true,  true,  50,  150, 2.60, 0.0100,
     E'Viktualienmarkt 3\n80331 Muenchen\nGermany'),
    ('ST-HAM', 'Hamburg store, Schanzenviertel',  'store',     53.5627, 9.9617,  true,  true,  50,    2, 2.60, 0.0100,
     E'Schulterblatt 71\n20357 Hamburg\nGermany'),
    ('DS-LYS', 'Lyon roaster (dropship)',         'dropship',  45.7640, 4.8357,  true,  false, 90,  300, 0.00, 0.0120,
     E'Rue de Marseille 41\n69007 Lyon\nFrance');

-- the marketplace and wholesale ship from the warehouses (and the roaster)
-- only; the other channels may use every location (no rows)
INSERT INTO oms.channel_locations (channel_id, location_id)
SELECT c.id, l.id FROM oms.channels c, oms.locations l
 WHERE (c.code = 'amazon-de' AND l.kind = 'warehouse')
    OR (c.code = 'b2b' AND l.kind IN ('warehouse', 'dropship'));

INSERT INTO oms.products (sku, gtin, name, kind, weight_kg, reorder_point, reorder_qty, unit_cost) VALUES
    ('BEAN-ETH-250', '4000073120007', 'Ethiopia Yirgacheffe beans 250 g', 'stock', 0.27, 40, 120, 5.10),
    ('BEAN-ETH-1K', '4000073120373', 'Ethiopia Yirgacheffe beans 1 kg', 'stock', 1.05, 20, 60, 18.40),
    ('BEAN-COL-250', '4000073120748', 'Colombia Huila beans 250 g', 'stock', 0.27, 40, 120, 4.60),
    ('BEAN-COL-1K', '4000073121110', 'Colombia Huila beans 1 kg', 'stock', 1.05, 20, 60, 16.90),
    ('BEAN-BRA-1K', '4000073121486', 'Brazil Cerrado espresso blend 1 kg', 'stock', 1.05, 25, 80, 13.20),
    ('BEAN-DECAF-250', '4000073121851', 'Swiss water decaf 250 g', 'stock', 0.27, 15, 50, 5.40),
    ('GRIND-BURR-C40', '4000073122223', 'Hand burr grinder', 'stock', 0.75, 5, 20, 92.00),
    ('GRIND-ELEC-60', '4000073122599', 'Electric flat burr grinder', 'stock', 5.8, 3, 10, 210.00),
    ('ESP-MACH-SGL', '4000073122964', 'Single boiler espresso machine', 'stock', 9.2, 2, 6, 420.00),
    ('ESP-MACH-DBL', '4000073123336', 'Dual boiler espresso machine', 'stock', 23.5, 1, 3, 1390.00),
    ('KETTLE-GOOSE', '4000073123701', 'Gooseneck kettle 0.9 l', 'stock', 1.1, 6, 24, 31.00),
    ('KETTLE-ELEC', '4000073124074', 'Electric gooseneck kettle', 'stock', 1.4, 6, 18, 54.00),
    ('DRIP-V60-02', '4000073124449', 'Ceramic dripper size 02', 'stock', 0.45, 10, 40, 8.20),
    ('FILTER-V60-100', '4000073124814', 'Paper filters size 02, 100 pcs', 'stock', 0.12, 50, 200, 1.90),
    ('PRESS-FR-1L', '4000073125187', 'French press 1 l', 'stock', 0.85, 8, 24, 14.50),
    ('AERO-PRESS', '4000073125552', 'Piston brewer', 'stock', 0.4, 10, 30, 22.00),
    ('SCALE-0.1G', '4000073125927', 'Brewing scale 0.1 g', 'stock', 0.35, 8, 24, 19.80),
    ('TAMPER-58', '4000073126290', 'Tamper 58 mm', 'stock', 0.45, 6, 20, 17.00),
    ('PITCHER-600', '4000073126665', 'Milk pitcher 600 ml', 'stock', 0.3, 8, 30, 7.40),
    ('CUP-ESP-2', '4000073127037', 'Espresso cups, pair', 'stock', 0.3, 20, 60, 6.10),
    ('CUP-CAP-2', '4000073127402', 'Cappuccino cups, pair', 'stock', 0.55, 20, 60, 8.90),
    ('MUG-TRAVEL', '4000073127778', 'Insulated travel mug', 'stock', 0.35, 15, 40, 9.30),
    ('CLEAN-TABS', '4000073128140', 'Machine cleaning tablets, 100 pcs', 'stock', 0.25, 20, 80, 4.20),
    ('DESCALER', '4000073128515', 'Descaler 1 l', 'stock', 1.05, 20, 60, 3.80),
    ('KNOCK-BOX', '4000073128881', 'Knock box', 'stock', 0.9, 4, 12, 11.60),
    ('CANISTER', '4000073129253', 'Vacuum bean canister', 'stock', 0.5, 10, 30, 12.40),
    ('FILTER-CHEMEX', '073410001233', 'Bonded filters, 100 pcs', 'stock', 0.3, 30, 100, 6.70),
    ('SPOON-MEASURE', '96385074', 'Measuring spoon', 'stock', 0.03, 20, 80, 0.90),
    ('GIFT-WRAP', NULL, 'Gift wrapping', 'service', 0, 0, 0, NULL),
    ('KIT-POUROVER', '0871234560017', 'Pour-over starter kit', 'kit', 0, 0, 0, NULL),
    ('KIT-ESPRESSO', '0871234560024', 'Home espresso bundle', 'kit', 0, 0, 0, NULL);

INSERT INTO oms.kit_components (kit_id, component_id, qty)
SELECT k.id, c.id, v.qty
  FROM (VALUES ('KIT-POUROVER', 'DRIP-V60-02', 1), ('KIT-POUROVER', 'FILTER-V60-100', 1),
               ('KIT-POUROVER', 'KETTLE-GOOSE', 1), ('KIT-POUROVER', 'BEAN-ETH-250', 2),
               ('KIT-ESPRESSO', 'ESP-MACH-SGL', 1), ('KIT-ESPRESSO', 'GRIND-ELEC-60', 1),
               ('KIT-ESPRESSO', 'TAMPER-58', 1), ('KIT-ESPRESSO', 'CUP-ESP-2', 2)) AS v(kit, component, qty)
  JOIN oms.products k ON k.sku = v.kit
  JOIN oms.products c ON c.sku = v.component;

INSERT INTO oms.customers (external_ref, email, name, flags) VALUES
    ('shop-10001', 'lena.fischer@example.de',  'Lena Fischer',      '{vip}'),
    ('shop-10002', 'marco.rossi@example.it',   'Marco Rossi',       '{}'),
    ('shop-10003', 'sophie.martin@example.fr', 'Sophie Martin',     '{}'),
    ('erp-C042',   'orders@cafe-kiez.example', 'Cafe Kiez GmbH',    '{terms,wholesale}'),
    ('shop-10004', 'j.devries@example.nl',     'Jan de Vries',      '{fraud_review}');

-- carriers, their services and rate bands (EUR per parcel): the narrowest
-- band that fits a parcel's distance and weight applies
INSERT INTO oms.carriers (code, name, tracking_url) VALUES
    ('dhl', 'DHL', 'https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode={{tracking_number}}'),
    ('dpd', 'DPD', 'https://tracking.dpd.de/status/en_US/parcel/{{tracking_number}}'),
    ('ups', 'UPS', 'https://www.ups.com/track?tracknum={{tracking_number}}');
INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days)
SELECT c.id, v.code, v.name, v.days
  FROM (VALUES ('dhl', 'paket', 'Paket', 2), ('dhl', 'express', 'Express', 1),
               ('dpd', 'classic', 'Classic', 3), ('ups', 'saver', 'Express Saver', 1)) AS v(carrier, code, name, days)
  JOIN oms.carriers c ON c.code = v.carrier;
INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
SELECT s.id, 'EUR', v.max_km, v.max_kg, v.price
  FROM (VALUES ('dhl', 'paket',    300, 5,    4.99), ('dhl', 'paket',    300, 31.5,  8.49),
               ('dhl', 'paket',   NULL, 5,    9.49), ('dhl', 'paket',   NULL, 31.5, 15.99),
               ('dhl', 'express',  300, 5,   14.90), ('dhl', 'express', NULL, 5,    24.90),
               ('dhl', 'express', NULL, 31.5, 39.90),
               ('dpd', 'classic', 1000, 5,    4.60), ('dpd', 'classic', 1000, 31.5,  7.90),
               ('dpd', 'classic', NULL, 31.5, 12.90),
               ('ups', 'saver',   NULL, 10,  19.50), ('ups', 'saver',   NULL, 31.5, 34.00)) AS v(carrier, service, max_km, max_kg, price)
  JOIN oms.carriers c ON c.code = v.carrier
  JOIN oms.carrier_services s ON s.carrier_id = c.id AND s.code = v.service;

RESET ROLE;
