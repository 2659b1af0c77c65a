--
-- fulfillment: shipments (create, ship, deliver, cancel), carriers, services
-- and rate bands, quote_shipping, packing slips and ZPL labels, the
-- shipment_shipped notification, and reject_fulfillment with re-routing in
-- the same transaction (src/fulfillment.c, OrdersReroute in src/order_reroute.c).
-- Every error is locked in with its SQLSTATE, message, detail and hint, and
-- changes nothing.
--
SET client_min_messages = warning;
SET search_path = public, oms;
\set VERBOSITY default
-- errors raised inside oms functions would show the internal statement as
-- CONTEXT; what matters is the error itself
\set SHOW_CONTEXT never
DROP EXTENSION oms CASCADE;
CREATE EXTENSION oms;

-- ---------------------------------------------------------------------------
-- fixture
-- ---------------------------------------------------------------------------
-- routing by priority: BER first, then HAM, MUC, LEJ; most ship-tos are in
-- Potsdam, 27.2 km from BER
INSERT INTO oms.channels (code, name, kind, routing_strategy) VALUES ('web', 'Web', 'web', 'priority');
INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority, pickup, address) VALUES
    ('BER', 'Berlin warehouse',  'warehouse', 52.5200, 13.4050, 10, false, E'Lagerstrasse 1\n10115 Berlin\nDE'),
    ('HAM', 'Hamburg warehouse', 'warehouse', 53.5511,  9.9937, 20, false, E'Hafenweg 7\n20457 Hamburg\nDE'),
    ('MUC', 'Munich store',      'store',     48.1351, 11.5820, 30, true,  E'Marienplatz 8\n80331 Muenchen\nDE'),
    ('LEJ', 'Leipzig store',     'store',     51.3397, 12.3731, 40, true,  E'Markt 1\n04109 Leipzig\nDE');
SELECT code, round(oms.distance_km(latitude, longitude, 52.3906, 13.0645)::numeric, 1) AS km_to_potsdam
  FROM oms.locations ORDER BY id;
INSERT INTO oms.products (sku, name, kind, weight_kg, gtin) VALUES
    ('TENT',    'Tent for two',        'stock',    2.500, '4006381333931'),
    ('MUG',     'Enamel mug',          'stock',    0.400, '5901234123457'),
    ('LAMP',    'Camping lamp',        'stock',    1.200, '4012345678901'),
    ('STOVE',   'Gas stove',           'stock',    0.800, NULL),
    ('POT',     'Cast iron pot',       'stock',   40.000, NULL),
    ('CAMPSET', 'Tent and two mugs',   'kit',      0,     '0012345678905'),
    ('WRAP',    'Gift wrap',           'service',  0,     NULL),
    ('BOOT',    'Hiking boot',         'stock',    1.100, NULL),
    ('CAP',     'Sun cap',             'stock',    0.100, NULL),
    ('STICK',   'Walking stick',       'stock',    0.300, NULL),
    ('SOCK',    'Wool sock',           'stock',    0.050, NULL),
    ('HIKESET', 'Stick and two socks', 'kit',      0,     NULL);
INSERT INTO oms.kit_components SELECT k.id, c.id, v.q FROM (VALUES ('CAMPSET', 'TENT', 1), ('CAMPSET', 'MUG', 2),
    ('HIKESET', 'STICK', 1), ('HIKESET', 'SOCK', 2)) v(kit, sku, q)
  JOIN oms.products c ON c.sku = v.sku JOIN oms.products k ON k.sku = v.kit;
INSERT INTO oms.customers (external_ref, email, name) VALUES ('ann', 'ann@example.com', 'Ann Example');
SELECT count(oms.receive_stock(sku, loc, qty)) AS receipts FROM (VALUES
    ('TENT', 'BER', 20), ('MUG', 'BER', 40), ('LAMP', 'BER', 10), ('STOVE', 'BER', 5), ('POT', 'BER', 2),
    ('TENT', 'HAM', 10), ('MUG', 'HAM', 20), ('LAMP', 'HAM', 5),
    ('TENT', 'MUC', 3), ('MUG', 'MUC', 6),
    ('LAMP', 'LEJ', 2), ('MUG', 'LEJ', 4),
    -- for the rejections
    ('BOOT', 'BER', 5), ('BOOT', 'HAM', 3), ('BOOT', 'MUC', 2),
    ('CAP', 'BER', 5), ('CAP', 'HAM', 5), ('CAP', 'MUC', 5),
    ('STICK', 'BER', 4), ('STICK', 'HAM', 2), ('STICK', 'MUC', 2),
    ('SOCK', 'BER', 8), ('SOCK', 'HAM', 4), ('SOCK', 'MUC', 2)) AS v(sku, loc, qty);

-- two carriers with two active services each (DHL also has an inactive
-- one), and an inactive carrier (GLS) that would be the cheapest
INSERT INTO oms.carriers (code, name, tracking_url, active) VALUES
    ('dhl', 'DHL', 'https://www.dhl.de/track?piececode={{tracking_number}}', true),
    ('ups', 'UPS', 'https://www.ups.com/track?tracknum={{tracking_number}}', true),
    ('gls', 'GLS', 'https://gls-group.eu/track/{{tracking_number}}', false);
INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days, active)
SELECT c.id, v.code, v.name, v.days, v.active FROM (VALUES
    ('dhl', 'standard', 'Paket',         2, true),
    ('dhl', 'express',  'Express',       1, true),
    ('dhl', 'sameday',  'Same Day',      0, false),
    ('ups', 'ground',   'Standard',      3, true),
    ('ups', 'saver',    'Express Saver', 1, true),
    ('gls', 'parcel',   'Parcel',        2, true)) AS v(carrier, code, name, days, active)
  JOIN oms.carriers c ON c.code = v.carrier;
-- rate bands in EUR (and one in USD that EUR orders never see)
--   dhl standard (Paket, 2 days):   <= 300 km: 4.99 up to 5 kg, 7.49 up to 31.5 kg;
--                                   any distance: 6.99 / 9.99
--   dhl express (1 day):            any distance up to 10 kg: 19.90
--   dhl sameday (inactive):         any: 2.00
--   ups ground (Standard, 3 days):  <= 500 km up to 20 kg: 5.90; any distance up to 20 kg: 8.90
--   ups saver (Express Saver, 1 day): <= 200 km up to 10 kg: 12.50 (nothing further)
--   gls parcel (inactive carrier):  any: 3.00
INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
SELECT s.id, v.cur, v.km, v.kg, v.price FROM (VALUES
    ('dhl', 'standard', 'EUR', 300, 5, 4.99), ('dhl', 'standard', 'EUR', 300, 31.5, 7.49),
    ('dhl', 'standard', 'EUR', NULL, 5, 6.99), ('dhl', 'standard', 'EUR', NULL, 31.5, 9.99),
    ('dhl', 'standard', 'USD', NULL, NULL, 1.00),
    ('dhl', 'express', 'EUR', NULL, 10, 19.90),
    ('dhl', 'sameday', 'EUR', NULL, NULL, 2.00),
    ('ups', 'ground', 'EUR', 500, 20, 5.90), ('ups', 'ground', 'EUR', NULL, 20, 8.90),
    ('ups', 'saver', 'EUR', 200, 10, 12.50),
    ('gls', 'parcel', 'EUR', NULL, NULL, 3.00)) AS v(carrier, service, cur, km, kg, price)
  JOIN oms.carriers c ON c.code = v.carrier JOIN oms.carrier_services s ON s.carrier_id = c.id AND s.code = v.service;

-- what the tests show of a document: no timestamps
CREATE FUNCTION doc(j jsonb) RETURNS jsonb LANGUAGE sql AS
$$ SELECT j - 'placed_at' - 'expires_at' - 'created_at' - 'shipped_at' - 'delivered_at' - 'cancelled_at' $$;
-- place an order for Ann in Potsdam; lines is [[sku, qty], ...] at 10 EUR a unit; extra keys are merged
CREATE FUNCTION place(ext text, lines jsonb, extra jsonb DEFAULT '{}') RETURNS bigint LANGUAGE sql AS
$$ SELECT (oms.place_order(jsonb_build_object('channel', 'web', 'external_id', ext, 'currency', 'EUR',
       'customer', jsonb_build_object('external_ref', 'ann'),
       'ship_to', jsonb_build_object('name', 'Ann Example', 'line1', 'Am Kanal 5', 'postal_code', '14467',
                                     'city', 'Potsdam', 'country', 'DE', 'lat', 52.3906, 'lon', 13.0645),
       'lines', (SELECT jsonb_agg(jsonb_build_object('sku', l ->> 0, 'qty', (l ->> 1)::int, 'unit_price', 10))
                   FROM jsonb_array_elements(lines) l)) || extra) ->> 'order_id')::bigint $$;
CREATE FUNCTION oid_of(ext text) RETURNS bigint LANGUAGE sql AS
$$ SELECT id FROM oms.orders WHERE external_id = ext $$;
-- pay the whole order by card: authorize, then capture; the order is confirmed
CREATE FUNCTION pay(ext text) RETURNS text LANGUAGE sql AS
$$ SELECT oms.capture_payment((oms.authorize_payment(o.id, jsonb_build_object('method', 'card', 'amount', o.total,
       'token', 'tok_' || ext)) ->> 'payment_id')::bigint) ->> 'order_status'
     FROM oms.orders o WHERE o.external_id = ext $$;
-- the n-th shipment of an order
CREATE FUNCTION sh(ext text, n int DEFAULT 1) RETURNS bigint LANGUAGE sql AS
$$ SELECT s.id FROM oms.shipments s JOIN oms.orders o ON o.id = s.order_id WHERE o.external_id = ext ORDER BY s.id OFFSET n - 1 LIMIT 1 $$;
-- an order's status and where the units of each line are: reserved, backordered, shipped, cancelled
CREATE FUNCTION lines_of(ext text) RETURNS TABLE (status text, line_no int, sku text, qty int, reserved int, backordered int, shipped int, cancelled int)
LANGUAGE sql AS
$$ SELECT o.status, l.line_no, p.sku, l.qty, l.qty_reserved, l.qty_backordered, l.qty_shipped, l.qty_cancelled
     FROM oms.orders o JOIN oms.order_lines l ON l.order_id = o.id JOIN oms.products p ON p.id = l.product_id
    WHERE o.external_id = ext ORDER BY l.line_no $$;
-- where an order's units are held: active reservations per location and product
CREATE FUNCTION held(ext text) RETURNS TABLE (location text, sku text, qty bigint) LANGUAGE sql AS
$$ SELECT l.code, p.sku, sum(r.qty) FROM oms.reservations r JOIN oms.orders o ON o.id = r.order_id
     JOIN oms.locations l ON l.id = r.location_id JOIN oms.products p ON p.id = r.product_id
    WHERE o.external_id = ext AND r.status = 'active' GROUP BY l.code, l.id, p.sku ORDER BY l.id, p.sku $$;
-- stock of some products at a location
CREATE FUNCTION stock(loc text, skus text[]) RETURNS TABLE (sku text, on_hand int, reserved int) LANGUAGE sql AS
$$ SELECT p.sku, b.on_hand, b.reserved FROM oms.stock_balances b JOIN oms.products p ON p.id = b.product_id
     JOIN oms.locations l ON l.id = b.location_id WHERE l.code = loc AND p.sku = ANY (skus) ORDER BY p.sku $$;
-- run a statement, return its SQLSTATE and message (or ok)
CREATE FUNCTION try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN st || ': ' || msg;
END
$$;
-- a packing slip without its creation date; runs of spaces are shown as two
-- (the column padding is not compared)
CREATE FUNCTION slip(shipment bigint) RETURNS text LANGUAGE sql AS
$$ SELECT regexp_replace(oms.packing_slip(shipment), 'created \d{4}-\d{2}-\d{2}', 'created <date>') $$;
-- everything a bad call could change
CREATE VIEW counts AS
SELECT (SELECT count(*) FROM oms.shipments) AS shipments,
       (SELECT string_agg(status || ' ' || n, ', ' ORDER BY status) FROM (SELECT status, count(*) AS n FROM oms.shipments GROUP BY 1) s) AS by_status,
       (SELECT count(*) FROM oms.shipment_lines) AS shipment_lines,
       (SELECT count(*) FROM oms.reservations) AS reservations,
       (SELECT count(*) FROM oms.stock_movements) AS movements,
       (SELECT sum(on_hand) || '/' || sum(reserved) FROM oms.stock_balances) AS "on_hand/reserved",
       (SELECT count(*) FROM oms.events) AS events,
       (SELECT count(*) FROM oms.order_status_history) AS history,
       (SELECT count(*) FROM oms.fulfillment_rejections) AS rejections,
       (SELECT count(*) FROM oms.routing_decisions) AS decisions;
-- where an order document says its lines are held (get_order, reject_fulfillment)
CREATE FUNCTION locs(j jsonb) RETURNS TABLE (status text, line_no int, sku text, qty int, reserved int, backordered int, shipped int, held_at text)
LANGUAGE sql AS
$$ SELECT j ->> 'status', (l ->> 'line_no')::int, l ->> 'sku', (l ->> 'qty')::int, (l ->> 'reserved')::int,
          (l ->> 'backordered')::int, (l ->> 'shipped')::int,
          (SELECT string_agg(format('%s %s x%s', x ->> 'location', x ->> 'sku', x ->> 'qty'), ', ')
             FROM jsonb_array_elements(l -> 'locations') x)
     FROM jsonb_array_elements(j -> 'lines') l $$;
-- an order's reservations: line, product, where, how many, status
CREATE FUNCTION res_of(ext text) RETURNS TABLE (id bigint, line_no int, sku text, location text, qty int, status text) LANGUAGE sql AS
$$ SELECT r.id, ol.line_no, p.sku, l.code, r.qty, r.status FROM oms.reservations r
     JOIN oms.order_lines ol ON ol.id = r.order_line_id JOIN oms.products p ON p.id = r.product_id
     JOIN oms.locations l ON l.id = r.location_id JOIN oms.orders o ON o.id = r.order_id
    WHERE o.external_id = ext ORDER BY r.id $$;
-- an order's ledger rows of some kinds
CREATE FUNCTION ledger_of(ext text, kinds text[]) RETURNS TABLE (kind text, sku text, location text, on_hand_delta int, reserved_delta int, reservation_id bigint, reference text) LANGUAGE sql AS
$$ SELECT m.kind, p.sku, l.code, m.on_hand_delta, m.reserved_delta, m.reservation_id, m.reference FROM oms.stock_movements m
     JOIN oms.products p ON p.id = m.product_id JOIN oms.locations l ON l.id = m.location_id
     JOIN oms.orders o ON o.id = m.order_id
    WHERE o.external_id = ext AND m.kind = ANY (kinds) ORDER BY m.id $$;

-- ---------------------------------------------------------------------------
-- one shipment of everything the order holds at a location (lines NULL)
-- ---------------------------------------------------------------------------
SELECT place('S-1', '[["TENT", 1], ["LAMP", 2]]') AS s1;
SELECT pay('S-1') AS s1_status;
SELECT * FROM stock('BER', '{TENT,LAMP}');
SELECT * FROM counts;
-- pending: nothing leaves the shelf yet; the order is in fulfillment
SELECT jsonb_pretty(doc(oms.create_shipment(oid_of('S-1'), 'BER'))) AS shipment;
SELECT * FROM counts;
SELECT * FROM stock('BER', '{TENT,LAMP}');
-- shipped: 1 tent and 2 lamps (4.9 kg) over 27.2 km with DHL Paket: the
-- 300 km / 5 kg band, 4.99
SELECT jsonb_pretty(doc(oms.ship(sh('S-1'), 'dhl', 'standard', 'JJD0001'))) AS shipped;
SELECT * FROM lines_of('S-1');
-- on_hand and reserved down by the shipped units; each reservation is
-- consumed whole, and its ledger row of kind shipment names it
SELECT * FROM stock('BER', '{TENT,LAMP}');
SELECT * FROM res_of('S-1');
SELECT * FROM ledger_of('S-1', '{reservation,shipment}');
-- delivered: the only parcel arrived, so the order is delivered; a second
-- delivery (a re-sent carrier webhook) is a no-op that says so
SELECT doc(oms.deliver(sh('S-1'))) ->> 'order_status' AS delivered;
SELECT * FROM counts;
SELECT doc(oms.deliver(sh('S-1'))) - 'lines' AS deliver_again;
SELECT * FROM counts;
SELECT from_status, to_status, reason FROM oms.order_history(oid_of('S-1'));
SELECT kind, payload - 'items' AS payload FROM oms.events WHERE order_id = oid_of('S-1') AND kind LIKE 'shipment%' ORDER BY id;

-- ---------------------------------------------------------------------------
-- partial shipments: lines by line_no and by sku, then the rest; the
-- service line (gift wrap) goes with the last parcel
-- ---------------------------------------------------------------------------
SELECT place('S-2', '[["TENT", 3], ["MUG", 4], ["WRAP", 1], ["LAMP", 1]]') AS s2;
SELECT pay('S-2') AS s2_status;
SELECT * FROM res_of('S-2');
SELECT doc(oms.create_shipment(oid_of('S-2'), 'BER', '[{"line_no": 1, "qty": 2}, {"sku": "MUG", "qty": 1}]')) -> 'lines' AS first_parcel;
-- while it is pending, no other shipment can claim its units: what is left
-- open at BER is 1 tent, 3 mugs and the lamp
SELECT * FROM counts;
SELECT oms.create_shipment(oid_of('S-2'), 'BER', '[{"line_no": 1, "qty": 2}]');
SELECT oms.create_shipment(oid_of('S-2'), 'BER', '[{"sku": "MUG", "qty": 4}]');
SELECT try($$SELECT oms.create_shipment(oid_of('S-2'), 'BER', '[{"line_no": 1, "qty": 2}]')$$) AS tents_in_pending_shipment,
       try($$SELECT oms.create_shipment(oid_of('S-2'), 'BER', '[{"sku": "MUG", "qty": 4}]')$$) AS mugs_in_pending_shipment;
SELECT * FROM counts;
-- 2 tents and a mug: 5.4 kg, UPS Standard 5.90
SELECT doc(oms.ship(sh('S-2'), 'ups', 'ground', '1Z999AA10123456784')) ->> 'order_status' AS after_first_parcel;
SELECT * FROM lines_of('S-2');
-- the reservations of 3 tents and 4 mugs were split: the shipped part is a
-- consumed row of its own, the rest stays active
SELECT * FROM res_of('S-2');
SELECT * FROM ledger_of('S-2', '{shipment}');
-- the rest, by default: 1 tent, 3 mugs, the lamp (not the gift wrap)
SELECT doc(oms.create_shipment(oid_of('S-2'), 'BER')) -> 'lines' AS second_parcel;
-- nothing is left open at BER: every unit is in a pending shipment
SELECT oms.create_shipment(oid_of('S-2'), 'BER');
SELECT try($$SELECT oms.create_shipment(oid_of('S-2'), 'BER')$$) AS all_in_pending_shipments;
SELECT doc(oms.ship(sh('S-2', 2), 'dhl', 'standard', 'JJD0002')) ->> 'order_status' AS after_second_parcel;
SELECT * FROM lines_of('S-2');
SELECT * FROM res_of('S-2');
SELECT s ->> 'shipment_id' AS shipment, s ->> 'status' AS status, s ->> 'carrier' AS carrier, s ->> 'service' AS service,
       s ->> 'tracking_number' AS tracking_number, s ->> 'weight_kg' AS kg, s ->> 'rate' AS rate
  FROM (VALUES (sh('S-2', 1)), (sh('S-2', 2))) v(id), oms.get_shipment(v.id) s;
-- delivered only when every parcel arrived
SELECT doc(oms.deliver(sh('S-2', 2))) ->> 'order_status' AS second_delivered;
SELECT doc(oms.deliver(sh('S-2', 1))) ->> 'order_status' AS first_delivered;
SELECT from_status, to_status, reason FROM oms.order_history(oid_of('S-2'));
-- a parcel delivered while others are still to ship leaves the order partially shipped
SELECT place('S-3', '[["TENT", 1], ["MUG", 1]]') AS s3;
SELECT pay('S-3') AS s3_status;
SELECT oms.create_shipment(oid_of('S-3'), 'BER', '[{"sku": "TENT", "qty": 1}]') ->> 'order_status' AS created;
SELECT oms.ship(sh('S-3'), 'dhl', 'standard', 'JJD0003') ->> 'order_status' AS shipped;
SELECT oms.deliver(sh('S-3')) ->> 'order_status' AS delivered;
SELECT oms.create_shipment(oid_of('S-3'), 'BER') ->> 'order_status' AS created;
SELECT oms.ship(sh('S-3', 2), 'dhl', 'standard', 'JJD0004') ->> 'order_status' AS shipped;
SELECT oms.deliver(sh('S-3', 2)) ->> 'order_status' AS delivered;

-- ---------------------------------------------------------------------------
-- kits: a kit line ships whole kits; the components are what leaves the
-- shelf and what the packing slip lists
-- ---------------------------------------------------------------------------
SELECT place('K-1', '[["CAMPSET", 2], ["STOVE", 1]]') AS k1;
SELECT pay('K-1') AS k1_status;
SELECT * FROM stock('BER', '{TENT,MUG,STOVE}');
-- weight: 2 x (2.5 + 2 x 0.4) + 0.8 = 7.4 kg
SELECT jsonb_pretty(doc(oms.create_shipment(oid_of('K-1'), 'BER'))) AS kit_shipment;
SELECT oms.packing_slip(sh('K-1')) ~ ('created ' || to_char(current_date, 'YYYY-MM-DD')) AS slip_dated_today;
SELECT slip(sh('K-1')) AS packing_slip;
SELECT doc(oms.ship(sh('K-1'), 'dhl', 'standard', 'JJD0005')) ->> 'rate' AS rate;
SELECT * FROM stock('BER', '{TENT,MUG,STOVE}');
SELECT * FROM lines_of('K-1');
SELECT * FROM ledger_of('K-1', '{shipment}');

-- ---------------------------------------------------------------------------
-- create_shipment: bad calls, each raises, nothing changes
-- ---------------------------------------------------------------------------
-- E-1 holds 2 tents, 1 mug and a gift wrap at BER; E-2 has two lines of
-- MUG; E-3 is unpaid; E-4 is paid and on hold
SELECT place('E-1', '[["TENT", 2], ["MUG", 1], ["WRAP", 1]]') AS e1, pay('E-1') AS e1_status;
SELECT place('E-2', '[["MUG", 1], ["MUG", 2]]') AS e2, pay('E-2') AS e2_status;
SELECT place('E-3', '[["TENT", 1]]') AS e3;
SELECT place('E-4', '[["TENT", 1]]') AS e4, pay('E-4') AS e4_status;
SELECT oms.hold_order(oid_of('E-4'), 'address check') ->> 'status' AS e4_status;
SELECT * FROM counts;
-- the order's status
SELECT oms.create_shipment(oid_of('E-3'), 'BER');
SELECT oms.create_shipment(oid_of('E-4'), 'BER');
SELECT oms.create_shipment(oid_of('S-1'), 'BER');
-- order, location
SELECT oms.create_shipment(987654, 'BER');
SELECT oms.create_shipment(oid_of('E-1'), 'NOWHERE');
SELECT oms.create_shipment(oid_of('E-1'), 'ber');
SELECT oms.create_shipment(NULL, 'BER');
SELECT oms.create_shipment(oid_of('E-1'), NULL);
-- nothing held at HAM
SELECT oms.create_shipment(oid_of('E-1'), 'HAM');
-- the lines
SELECT oms.create_shipment(oid_of('E-1'), 'BER', '{"line_no": 1, "qty": 1}');
SELECT oms.create_shipment(oid_of('E-1'), 'BER', '"TENT"');
SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[]');
SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[1]');
SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"line_no": 1, "qty": 1, "colour": "red"}]');
SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"qty": 1}]');
SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"line_no": 1}]');
SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"line_no": 9, "qty": 1}]');
SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"sku": "LAMP", "qty": 1}]');
SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"sku": "WRAP", "qty": 1}]');
SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"line_no": 1, "qty": 1}, {"sku": "TENT", "qty": 1}]');
SELECT oms.create_shipment(oid_of('E-2'), 'BER', '[{"sku": "MUG", "qty": 1}]');
SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"line_no": 1, "qty": 0}]');
SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"line_no": 1, "qty": 1000001}]');
SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"line_no": 1, "qty": 3}]');
-- every one with its SQLSTATE
SELECT label, try(stmt) AS sqlstate_and_message FROM (VALUES
    ('unpaid order',           $$SELECT oms.create_shipment(oid_of('E-3'), 'BER')$$),
    ('order on hold',          $$SELECT oms.create_shipment(oid_of('E-4'), 'BER')$$),
    ('delivered order',        $$SELECT oms.create_shipment(oid_of('S-1'), 'BER')$$),
    ('unknown order',          $$SELECT oms.create_shipment(987654, 'BER')$$),
    ('unknown location',       $$SELECT oms.create_shipment(oid_of('E-1'), 'NOWHERE')$$),
    ('location in lower case', $$SELECT oms.create_shipment(oid_of('E-1'), 'ber')$$),
    ('empty location',         $$SELECT oms.create_shipment(oid_of('E-1'), '')$$),
    ('location too long',      $$SELECT oms.create_shipment(oid_of('E-1'), repeat('X', 33))$$),
    ('NULL order',             $$SELECT oms.create_shipment(NULL, 'BER')$$),
    ('NULL location',          $$SELECT oms.create_shipment(oid_of('E-1'), NULL)$$),
    ('nothing held there',     $$SELECT oms.create_shipment(oid_of('E-1'), 'HAM')$$),
    ('lines an object',        $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '{"line_no": 1, "qty": 1}')$$),
    ('lines a string',         $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '"TENT"')$$),
    ('lines JSON null',        $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', 'null')$$),
    ('lines empty',            $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[]')$$),
    ('line a number',          $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[1]')$$),
    ('unknown key',            $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"line_no": 1, "qty": 1, "colour": "red"}]')$$),
    ('no line_no or sku',      $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"qty": 1}]')$$),
    ('no qty',                 $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"line_no": 1}]')$$),
    ('unknown line_no',        $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"line_no": 9, "qty": 1}]')$$),
    ('line_no 0',              $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"line_no": 0, "qty": 1}]')$$),
    ('line_no "1"',            $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"line_no": "1", "qty": 1}]')$$),
    ('sku not in the order',   $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"sku": "LAMP", "qty": 1}]')$$),
    ('sku of a service line',  $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"sku": "WRAP", "qty": 1}]')$$),
    ('sku empty',              $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"sku": "", "qty": 1}]')$$),
    ('sku a number',           $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"sku": 5, "qty": 1}]')$$),
    ('line listed twice',      $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"line_no": 1, "qty": 1}, {"sku": "TENT", "qty": 1}]')$$),
    ('line_no listed twice',   $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"line_no": 2, "qty": 1}, {"line_no": 2, "qty": 1}]')$$),
    ('sku ambiguous',          $$SELECT oms.create_shipment(oid_of('E-2'), 'BER', '[{"sku": "MUG", "qty": 1}]')$$),
    ('qty 0',                  $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"line_no": 1, "qty": 0}]')$$),
    ('qty -1',                 $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"line_no": 1, "qty": -1}]')$$),
    ('qty 1.5',                $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"line_no": 1, "qty": 1.5}]')$$),
    ('qty "1"',                $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"line_no": 1, "qty": "1"}]')$$),
    ('qty null',               $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"line_no": 1, "qty": null}]')$$),
    ('qty 1000001',            $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"line_no": 1, "qty": 1000001}]')$$),
    ('qty 1e30',               $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"line_no": 1, "qty": 1e30}]')$$),
    ('more than reserved',     $$SELECT oms.create_shipment(oid_of('E-1'), 'BER', '[{"line_no": 1, "qty": 3}]')$$)) AS t(label, stmt);
SELECT * FROM counts;

-- ---------------------------------------------------------------------------
-- ship: bad calls, each raises, nothing changes
-- ---------------------------------------------------------------------------
-- E-1's pending shipment (2 tents, 1 mug: 5.4 kg, 27.2 km); P-1 is a 40 kg
-- pot that no band takes; N-1 has no coordinates (unknown distance)
SELECT oms.create_shipment(oid_of('E-1'), 'BER') -> 'lines' AS e1_parcel;
SELECT place('P-1', '[["POT", 1]]') AS p1, pay('P-1') AS p1_status;
SELECT oms.create_shipment(oid_of('P-1'), 'BER') ->> 'weight_kg' AS p1_kg;
SELECT place('N-1', '[["MUG", 1]]', '{"ship_to": {"name": "Nils", "city": "Somewhere"}}') AS n1, pay('N-1') AS n1_status;
SELECT oms.create_shipment(oid_of('N-1'), 'BER') ->> 'distance_km' AS n1_km;
SELECT * FROM counts;
-- carrier and service
SELECT oms.ship(sh('E-1'), 'fedex', 'standard', 'T1');
SELECT oms.ship(sh('E-1'), 'gls', 'parcel', 'T1');
SELECT oms.ship(sh('E-1'), 'dhl', 'overnight', 'T1');
SELECT oms.ship(sh('E-1'), 'dhl', 'sameday', 'T1');
SELECT oms.ship(sh('E-1'), 'DHL', 'standard', 'T1');
-- tracking numbers: 1 to 40 letters, digits or dashes
SELECT oms.ship(sh('E-1'), 'dhl', 'standard', 'JJD 0001 0002');
SELECT oms.ship(sh('E-1'), 'dhl', 'standard', repeat('9', 41));
SELECT oms.ship(sh('E-1'), 'dhl', 'standard', '');
SELECT oms.ship(sh('E-1'), 'dhl', 'standard', 'JJD_0001');
-- already used by DHL for S-1
SELECT oms.ship(sh('E-1'), 'dhl', 'standard', 'JJD0001');
-- no rate band: 40 kg is above every band; UPS Express Saver only serves
-- 200 km, and a distance that is not known is outside every limited band
SELECT oms.ship(sh('P-1'), 'dhl', 'standard', 'POT1');
SELECT oms.ship(sh('N-1'), 'ups', 'saver', 'NILS1');
-- shipment
SELECT oms.ship(987654, 'dhl', 'standard', 'T1');
SELECT oms.ship(sh('K-1'), 'dhl', 'standard', 'T1');
SELECT oms.ship(sh('S-1'), 'dhl', 'standard', 'T1');
SELECT oms.ship(NULL, 'dhl', 'standard', 'T1');
SELECT oms.ship(sh('E-1'), NULL, 'standard', 'T1');
SELECT oms.ship(sh('E-1'), 'dhl', NULL, 'T1');
SELECT oms.ship(sh('E-1'), 'dhl', 'standard', NULL);
SELECT label, try(stmt) AS sqlstate_and_message FROM (VALUES
    ('unknown carrier',        $$SELECT oms.ship(sh('E-1'), 'fedex', 'standard', 'T1')$$),
    ('inactive carrier',       $$SELECT oms.ship(sh('E-1'), 'gls', 'parcel', 'T1')$$),
    ('carrier in upper case',  $$SELECT oms.ship(sh('E-1'), 'DHL', 'standard', 'T1')$$),
    ('empty carrier',          $$SELECT oms.ship(sh('E-1'), '', 'standard', 'T1')$$),
    ('unknown service',        $$SELECT oms.ship(sh('E-1'), 'dhl', 'overnight', 'T1')$$),
    ('service of another carrier', $$SELECT oms.ship(sh('E-1'), 'dhl', 'ground', 'T1')$$),
    ('inactive service',       $$SELECT oms.ship(sh('E-1'), 'dhl', 'sameday', 'T1')$$),
    ('empty service',          $$SELECT oms.ship(sh('E-1'), 'dhl', '', 'T1')$$),
    ('tracking with spaces',   $$SELECT oms.ship(sh('E-1'), 'dhl', 'standard', 'JJD 0001 0002')$$),
    ('tracking 41 characters', $$SELECT oms.ship(sh('E-1'), 'dhl', 'standard', repeat('9', 41))$$),
    ('empty tracking',         $$SELECT oms.ship(sh('E-1'), 'dhl', 'standard', '')$$),
    ('tracking with _',        $$SELECT oms.ship(sh('E-1'), 'dhl', 'standard', 'JJD_0001')$$),
    ('tracking with ^',        $$SELECT oms.ship(sh('E-1'), 'dhl', 'standard', 'JJD^FS0001')$$),
    ('tracking with newline',  $$SELECT oms.ship(sh('E-1'), 'dhl', 'standard', E'JJD\n0001')$$),
    ('tracking with umlaut',   $$SELECT oms.ship(sh('E-1'), 'dhl', 'standard', 'JJDÄ0001')$$),
    ('tracking reused',        $$SELECT oms.ship(sh('E-1'), 'dhl', 'standard', 'JJD0001')$$),
    ('no band for 40 kg',      $$SELECT oms.ship(sh('P-1'), 'dhl', 'standard', 'POT1')$$),
    ('no band, any service',   $$SELECT oms.ship(sh('P-1'), 'ups', 'ground', 'POT1')$$),
    ('no band, unknown km',    $$SELECT oms.ship(sh('N-1'), 'ups', 'saver', 'NILS1')$$),
    ('unknown shipment',       $$SELECT oms.ship(987654, 'dhl', 'standard', 'T1')$$),
    ('shipped twice',          $$SELECT oms.ship(sh('K-1'), 'dhl', 'standard', 'T1')$$),
    ('delivered shipment',     $$SELECT oms.ship(sh('S-1'), 'dhl', 'standard', 'T1')$$),
    ('NULL shipment',          $$SELECT oms.ship(NULL, 'dhl', 'standard', 'T1')$$),
    ('NULL carrier',           $$SELECT oms.ship(sh('E-1'), NULL, 'standard', 'T1')$$),
    ('NULL service',           $$SELECT oms.ship(sh('E-1'), 'dhl', NULL, 'T1')$$),
    ('NULL tracking',          $$SELECT oms.ship(sh('E-1'), 'dhl', 'standard', NULL)$$)) AS t(label, stmt);
SELECT * FROM counts;
-- the same number at another carrier is another parcel: E-1 ships with UPS
SELECT doc(oms.ship(sh('E-1'), 'ups', 'ground', 'JJD0001')) - 'lines' AS e1_shipped;
-- N-1's unknown distance fits the "any distance" band of DHL Paket Standard
SELECT doc(oms.ship(sh('N-1'), 'dhl', 'standard', 'NILS1')) ->> 'rate' AS n1_rate;

-- ---------------------------------------------------------------------------
-- deliver: only a shipped shipment
-- ---------------------------------------------------------------------------
SELECT oms.deliver(sh('P-1'));
SELECT oms.deliver(987654);
SELECT oms.deliver(NULL);
SELECT label, try(stmt) AS sqlstate_and_message FROM (VALUES
    ('pending',          $$SELECT oms.deliver(sh('P-1'))$$),
    ('unknown shipment', $$SELECT oms.deliver(987654)$$),
    ('NULL',             $$SELECT oms.deliver(NULL)$$)) AS t(label, stmt);
SELECT * FROM counts;

-- ---------------------------------------------------------------------------
-- cancel_shipment: before it ships; the units stay reserved
-- ---------------------------------------------------------------------------
SELECT * FROM held('P-1');
SELECT doc(oms.cancel_shipment(sh('P-1'), 'too heavy for parcel service')) - 'lines' AS cancelled;
SELECT status, cancel_reason FROM oms.shipments WHERE id = sh('P-1');
-- still reserved for the order, which is back to confirmed (no other shipment)
SELECT * FROM held('P-1');
SELECT * FROM lines_of('P-1');
SELECT from_status, to_status, reason FROM oms.order_history(oid_of('P-1'));
-- again: a no-op that says so
SELECT * FROM counts;
SELECT oms.cancel_shipment(sh('P-1')) ->> 'note' AS cancel_again;
SELECT * FROM counts;
-- a cancelled shipment never ships nor arrives
SELECT oms.ship(sh('P-1'), 'dhl', 'standard', 'POT1');
SELECT oms.deliver(sh('P-1'));
-- a shipped one cannot be cancelled
SELECT oms.cancel_shipment(sh('K-1'));
SELECT oms.cancel_shipment(987654);
SELECT oms.cancel_shipment(NULL);
SELECT label, try(stmt) AS sqlstate_and_message FROM (VALUES
    ('ship a cancelled shipment',    $$SELECT oms.ship(sh('P-1'), 'dhl', 'standard', 'POT1')$$),
    ('deliver a cancelled shipment', $$SELECT oms.deliver(sh('P-1'))$$),
    ('cancel a shipped shipment',    $$SELECT oms.cancel_shipment(sh('K-1'))$$),
    ('cancel a delivered shipment',  $$SELECT oms.cancel_shipment(sh('S-1'))$$),
    ('unknown shipment',             $$SELECT oms.cancel_shipment(987654)$$),
    ('NULL shipment',                $$SELECT oms.cancel_shipment(NULL)$$)) AS t(label, stmt);
SELECT * FROM counts;
-- with two pending shipments, cancelling one leaves the order in fulfillment
SELECT place('C-1', '[["TENT", 1], ["MUG", 1]]') AS c1, pay('C-1') AS c1_status;
SELECT oms.create_shipment(oid_of('C-1'), 'BER', '[{"sku": "TENT", "qty": 1}]') ->> 'order_status' AS first;
SELECT oms.create_shipment(oid_of('C-1'), 'BER') -> 'lines' AS second;
SELECT oms.cancel_shipment(sh('C-1', 1)) ->> 'order_status' AS after_cancelling_one;
SELECT oms.cancel_shipment(sh('C-1', 2)) ->> 'order_status' AS after_cancelling_both;
-- the units of cancelled shipments can go into a new one
SELECT oms.create_shipment(oid_of('C-1'), 'BER') -> 'lines' AS third;
-- a cancellation reason is checked for card numbers
SELECT * FROM counts;
SELECT oms.cancel_shipment(sh('C-1', 3), 'card 4111 1111 1111 1111');
SELECT try($$SELECT oms.cancel_shipment(sh('C-1', 3), 'card 4111 1111 1111 1111')$$) AS card_number_in_reason;
SELECT * FROM counts;

-- ---------------------------------------------------------------------------
-- cancel_order cancels the order's pending shipments; nothing ships after
-- ---------------------------------------------------------------------------
SELECT place('X-1', '[["LAMP", 2]]') AS x1, pay('X-1') AS x1_status;
SELECT oms.create_shipment(oid_of('X-1'), 'BER') ->> 'order_status' AS x1_status;
SELECT * FROM stock('BER', '{LAMP}');
SELECT oms.cancel_order(oid_of('X-1'), 'customer changed their mind') ->> 'status' AS x1_status;
SELECT status, cancel_reason FROM oms.shipments WHERE id = sh('X-1');
SELECT * FROM stock('BER', '{LAMP}');
SELECT * FROM counts;
SELECT oms.ship(sh('X-1'), 'dhl', 'standard', 'X1');
SELECT oms.create_shipment(oid_of('X-1'), 'BER');
SELECT label, try(stmt) AS sqlstate_and_message FROM (VALUES
    ('ship, order cancelled',            $$SELECT oms.ship(sh('X-1'), 'dhl', 'standard', 'X1')$$),
    ('create_shipment, order cancelled', $$SELECT oms.create_shipment(oid_of('X-1'), 'BER')$$)) AS t(label, stmt);
SELECT * FROM counts;
-- an order with a shipped parcel cannot be cancelled any more
SELECT oms.cancel_order(oid_of('S-3'));

-- ---------------------------------------------------------------------------
-- a hold after the shipment was created stops it from shipping (an order in
-- fulfillment can be held and released back to in_fulfillment)
-- ---------------------------------------------------------------------------
SELECT place('H-1', '[["MUG", 2]]') AS h1, pay('H-1') AS h1_status;
SELECT oms.create_shipment(oid_of('H-1'), 'BER') ->> 'order_status' AS h1_status;
SELECT oms.hold_order(oid_of('H-1'), 'address check') ->> 'status' AS h1_status;
SELECT * FROM counts;
SELECT oms.ship(sh('H-1'), 'dhl', 'standard', 'H1');
SELECT try($$SELECT oms.ship(sh('H-1'), 'dhl', 'standard', 'H1')$$) AS ship_on_hold;
SELECT * FROM counts;
SELECT oms.release_hold(oid_of('H-1')) ->> 'status' AS h1_status;
SELECT oms.ship(sh('H-1'), 'dhl', 'standard', 'H1') ->> 'order_status' AS h1_status;

-- ---------------------------------------------------------------------------
-- quote_shipping: the options of the rate table for a shipment, or for an
-- order (one parcel per location holding its units); arrives_on is shown
-- as days from today
-- ---------------------------------------------------------------------------
CREATE FUNCTION quote(shipment bigint DEFAULT NULL, ord bigint DEFAULT NULL, choose text DEFAULT NULL, deliver_by date DEFAULT NULL)
RETURNS TABLE (location text, carrier text, service text, transit_days int, days int, distance_km numeric, weight_kg numeric, price numeric, currency text)
LANGUAGE sql AS
$$ SELECT q.location, q.carrier, q.service, q.transit_days, q.arrives_on - current_date, q.distance_km, q.weight_kg, q.price, q.currency
     FROM oms.quote_shipping(shipment_id => shipment, order_id => ord, choose => choose, deliver_by => deliver_by) q $$;
-- 9 lamps and 2 mugs: BER holds 7 lamps, so 2 come from HAM
SELECT place('Q-1', '[["LAMP", 9], ["MUG", 2]]') AS q1;
SELECT * FROM held('Q-1');
-- every option: BER's parcel (9.2 kg, 27.2 km) and HAM's (2.4 kg, 242.7
-- km); the inactive carrier GLS, the inactive DHL Same Day and the USD
-- band are never offered, nor UPS Express Saver beyond 200 km
SELECT * FROM quote(ord => oid_of('Q-1'));
SELECT * FROM quote(ord => oid_of('Q-1'), choose => 'cheapest');
SELECT * FROM quote(ord => oid_of('Q-1'), choose => 'fastest');
SELECT * FROM quote(ord => oid_of('Q-1'), choose => 'cheapest_by', deliver_by => current_date + 2);
SELECT * FROM quote(ord => oid_of('Q-1'), choose => 'cheapest_by', deliver_by => current_date + 1);
-- nothing arrives today
SELECT * FROM quote(ord => oid_of('Q-1'), choose => 'cheapest_by', deliver_by => current_date);
-- a shipment: its own weight and distance (P-1's pot: no option at all)
SELECT pay('Q-1') AS q1_status;
SELECT oms.create_shipment(oid_of('Q-1'), 'HAM') -> 'lines' AS q1_ham;
SELECT * FROM quote(shipment => sh('Q-1'));
SELECT * FROM quote(shipment => sh('Q-1'), choose => 'fastest');
SELECT * FROM quote(shipment => sh('P-1'));
-- an order in USD sees the USD band only
SELECT place('U-1', '[["MUG", 1]]', '{"currency": "USD"}') AS u1;
SELECT * FROM quote(ord => oid_of('U-1'));
-- an order that holds nothing has no parcel
SELECT * FROM quote(ord => oid_of('S-1'));
-- bad calls
SELECT * FROM counts;
SELECT * FROM oms.quote_shipping(shipment_id => sh('Q-1'), order_id => oid_of('Q-1'));
SELECT * FROM oms.quote_shipping();
SELECT * FROM oms.quote_shipping(shipment_id => 987654);
SELECT * FROM oms.quote_shipping(order_id => 987654);
SELECT * FROM oms.quote_shipping(order_id => oid_of('Q-1'), choose => 'quickest');
SELECT * FROM oms.quote_shipping(order_id => oid_of('Q-1'), choose => 'cheapest_by');
SELECT * FROM oms.quote_shipping(order_id => oid_of('Q-1'), deliver_by => current_date + 2);
SELECT * FROM oms.quote_shipping(order_id => oid_of('Q-1'), choose => 'cheapest', deliver_by => current_date + 2);
SELECT label, try(stmt) AS sqlstate_and_message FROM (VALUES
    ('both ids',                  $$SELECT * FROM oms.quote_shipping(shipment_id => sh('Q-1'), order_id => oid_of('Q-1'))$$),
    ('neither id',                $$SELECT * FROM oms.quote_shipping()$$),
    ('NULL ids',                  $$SELECT * FROM oms.quote_shipping(NULL, NULL)$$),
    ('unknown shipment',          $$SELECT * FROM oms.quote_shipping(shipment_id => 987654)$$),
    ('unknown order',             $$SELECT * FROM oms.quote_shipping(order_id => 987654)$$),
    ('choose quickest',           $$SELECT * FROM oms.quote_shipping(order_id => oid_of('Q-1'), choose => 'quickest')$$),
    ('choose CHEAPEST',           $$SELECT * FROM oms.quote_shipping(order_id => oid_of('Q-1'), choose => 'CHEAPEST')$$),
    ('cheapest_by, no date',      $$SELECT * FROM oms.quote_shipping(order_id => oid_of('Q-1'), choose => 'cheapest_by')$$),
    ('date without cheapest_by',  $$SELECT * FROM oms.quote_shipping(order_id => oid_of('Q-1'), deliver_by => current_date + 2)$$),
    ('date with cheapest',        $$SELECT * FROM oms.quote_shipping(order_id => oid_of('Q-1'), choose => 'cheapest', deliver_by => current_date + 2)$$)) AS t(label, stmt);
SELECT * FROM counts;

-- ---------------------------------------------------------------------------
-- documents: the packing slip (any time) and the ZPL label (once shipped)
-- ---------------------------------------------------------------------------
-- Q-1's HAM parcel: slip while pending, no label yet
SELECT slip(sh('Q-1')) AS packing_slip;
SELECT oms.shipping_label(sh('Q-1'));
SELECT try($$SELECT oms.shipping_label(sh('Q-1'))$$) AS label_before_shipping,
       try($$SELECT oms.shipping_label(sh('P-1'))$$) AS label_of_cancelled,
       try($$SELECT oms.shipping_label(987654)$$) AS label_unknown,
       try($$SELECT oms.packing_slip(987654)$$) AS slip_unknown,
       try($$SELECT oms.get_shipment(987654)$$) AS get_unknown;
SELECT oms.shipping_label(NULL) IS NULL AS label_null, oms.packing_slip(NULL) IS NULL AS slip_null, oms.get_shipment(NULL) IS NULL AS get_null;
SELECT oms.ship(sh('Q-1'), 'dhl', 'standard', 'JJD0100') ->> 'order_status' AS q1_status;
SELECT oms.shipping_label(sh('Q-1')) AS label;
-- ZPL: ^ ~ _ and \ in the data are hex escapes (^FH), a newline is a line
-- break of the field block (\&)
SELECT place('Z-1', '[["MUG", 1]]', jsonb_build_object('ship_to', jsonb_build_object(
    'name', E'Zoe ^XA^FDfake^FS ~JA', 'company', E'Under_score \\ Back\\slash', 'line1', E'Hof 2\nHinterhaus',
    'postal_code', '14467', 'city', 'Potsdam', 'country', 'DE', 'lat', 52.3906, 'lon', 13.0645))) AS z1, pay('Z-1') AS z1_status;
SELECT oms.create_shipment(oid_of('Z-1'), 'BER') ->> 'order_status' AS z1_status;
SELECT oms.ship(sh('Z-1'), 'ups', 'saver', '1Z-ESC-0001') ->> 'order_status' AS z1_status;
SELECT oms.shipping_label(sh('Z-1')) AS label;
SELECT slip(sh('Z-1')) AS packing_slip;
-- click and collect: the parcel goes to the store, and the label says so
SELECT place('CC-1', '[["MUG", 2]]', '{"ship_to": {"pickup": "MUC", "name": "Clara Collect"}}') AS cc1, pay('CC-1') AS cc1_status;
SELECT * FROM held('CC-1');
SELECT oms.create_shipment(oid_of('CC-1'), 'MUC') ->> 'distance_km' AS cc1_km;
SELECT oms.ship(sh('CC-1'), 'dhl', 'standard', 'JJD0200') ->> 'rate' AS cc1_rate;
SELECT oms.shipping_label(sh('CC-1')) AS label;
SELECT slip(sh('CC-1')) AS packing_slip;

-- ---------------------------------------------------------------------------
-- the customer hears of each parcel: shipment_shipped renders with the
-- carrier, the tracking number and its URL, and the parcel's items
-- ---------------------------------------------------------------------------
SELECT r.recipient, r.subject, r.body
  FROM oms.events e, oms.render_notification(e.id) r
 WHERE e.order_id = oid_of('S-2') AND e.kind = 'shipment_shipped' ORDER BY e.id;
SELECT r.subject, r.body
  FROM oms.events e, oms.render_notification(e.id) r
 WHERE e.order_id = oid_of('S-1') AND e.kind = 'shipment_delivered';

-- ---------------------------------------------------------------------------
-- reject_fulfillment: a location cannot fulfil; what it holds for the
-- order is released and routed again in the same transaction, never to a
-- location that rejected the order
-- ---------------------------------------------------------------------------
-- the routing decisions of an order
CREATE FUNCTION decisions(ext text) RETURNS TABLE (trigger text, rule text, locations text[], shipments int, short_units bigint, not_rejected jsonb)
LANGUAGE sql AS
$$ SELECT d.trigger, d.rule, d.locations, d.shipments, d.short_units, d.filtered -> 'not_rejected'
     FROM oms.routing_decisions d JOIN oms.orders o ON o.id = d.order_id WHERE o.external_id = ext ORDER BY d.id $$;
-- R-1: 2 boots and a cap, paid, a pending shipment at BER
SELECT place('R-1', '[["BOOT", 2], ["CAP", 1]]') AS r1, pay('R-1') AS r1_status;
SELECT oms.create_shipment(oid_of('R-1'), 'BER') ->> 'order_status' AS r1_status;
SELECT * FROM locs(oms.get_order(oid_of('R-1')));
SELECT * FROM stock('BER', '{BOOT,CAP}');
SELECT * FROM stock('HAM', '{BOOT,CAP}');
-- BER rejects (damaged): its shipment is cancelled, its units released and
-- HAM, next by priority, reserves them; the order is confirmed again
SELECT * FROM counts;
SELECT jsonb_pretty(r -> 'rejection') AS rejection, r ->> 'status' AS status
  FROM oms.reject_fulfillment(oid_of('R-1'), 'BER', 'damaged', 'boxes crushed') AS r;
SELECT * FROM counts;
SELECT * FROM locs(oms.get_order(oid_of('R-1')));
SELECT status, cancel_reason FROM oms.shipments WHERE id = sh('R-1');
-- damaged units stay on hand at BER (only the reservation went)
SELECT * FROM stock('BER', '{BOOT,CAP}');
SELECT * FROM stock('HAM', '{BOOT,CAP}');
SELECT * FROM decisions('R-1');
SELECT l.code, r.reason, r.note, r.units FROM oms.fulfillment_rejections r JOIN oms.locations l ON l.id = r.location_id
 WHERE r.order_id = oid_of('R-1') ORDER BY r.id;
SELECT from_status, to_status, reason FROM oms.order_history(oid_of('R-1'));
SELECT kind, payload FROM oms.events WHERE order_id = oid_of('R-1') AND kind IN ('shipment_cancelled', 'fulfillment_rejected') ORDER BY id;
-- HAM rejects (inventory_mismatch): the units are not there, so they are
-- written off (ledger adjustment); MUC gets the order, never BER again
-- although BER has the most boots
SELECT r -> 'rejection' AS rejection FROM oms.reject_fulfillment(oid_of('R-1'), 'HAM', 'inventory_mismatch') AS r;
SELECT * FROM locs(oms.get_order(oid_of('R-1')));
SELECT * FROM stock('HAM', '{BOOT,CAP}');
SELECT p.sku, l.code AS location, m.on_hand_delta, m.reserved_delta, m.reference FROM oms.stock_movements m
  JOIN oms.products p ON p.id = m.product_id JOIN oms.locations l ON l.id = m.location_id
 WHERE m.kind = 'adjustment' AND m.reference LIKE '%R-1%' ORDER BY m.id;
SELECT * FROM decisions('R-1');
-- MUC rejects too: no location left has boots or caps, so the units are
-- backordered; the order stays confirmed
SELECT r -> 'rejection' AS rejection, r ->> 'status' AS status FROM oms.reject_fulfillment(oid_of('R-1'), 'MUC', 'no_capacity') AS r;
SELECT * FROM locs(oms.get_order(oid_of('R-1')));
SELECT * FROM decisions('R-1');
-- a receipt at LEJ fills the backorder of the confirmed order, which then ships from there
SELECT oms.receive_stock('BOOT', 'LEJ', 3) -> 'backorders_filled' AS filled;
SELECT oms.receive_stock('CAP', 'LEJ', 1) -> 'backorders_filled' AS filled;
SELECT * FROM locs(oms.get_order(oid_of('R-1')));
SELECT oms.create_shipment(oid_of('R-1'), 'LEJ') -> 'lines' AS r1_lej;
SELECT oms.ship(sh('R-1', 2), 'dhl', 'standard', 'JJD0300') ->> 'order_status' AS r1_status;

-- R-2: unpaid, 2 gas stoves, which only BER has: rejected there, the
-- units are backordered and so is the order; a receipt at HAM fills it
SELECT place('R-2', '[["STOVE", 2]]') AS r2;
SELECT r -> 'rejection' AS rejection, r ->> 'status' AS status FROM oms.reject_fulfillment(oid_of('R-2'), 'BER', 'other', 'cannot find them') AS r;
SELECT * FROM lines_of('R-2');
SELECT from_status, to_status, reason FROM oms.order_history(oid_of('R-2'));
SELECT oms.receive_stock('STOVE', 'HAM', 2) -> 'backorders_filled' AS filled;
SELECT * FROM locs(oms.get_order(oid_of('R-2')));

-- R-3: a kit line; BER rejects with inventory_mismatch: the whole kits go
-- to HAM, and what BER held is written off
SELECT place('R-3', '[["HIKESET", 2]]') AS r3, pay('R-3') AS r3_status;
SELECT * FROM locs(oms.get_order(oid_of('R-3')));
SELECT * FROM stock('BER', '{STICK,SOCK}');
SELECT r -> 'rejection' AS rejection FROM oms.reject_fulfillment(oid_of('R-3'), 'BER', 'inventory_mismatch') AS r;
SELECT * FROM locs(oms.get_order(oid_of('R-3')));
SELECT * FROM stock('BER', '{STICK,SOCK}');
SELECT * FROM ledger_of('R-3', '{release,reservation}');
SELECT p.sku, l.code AS location, m.on_hand_delta, m.reserved_delta, m.reference FROM oms.stock_movements m
  JOIN oms.products p ON p.id = m.product_id JOIN oms.locations l ON l.id = m.location_id
 WHERE m.kind = 'adjustment' AND m.reference LIKE '%R-3%' ORDER BY m.id;
SELECT oms.create_shipment(oid_of('R-3'), 'HAM') -> 'lines' AS r3_ham;
-- R-4: 3 kits, 2 at BER and 1 at MUC; MUC rejects (damaged): the line's
-- kits at BER are released too, and all 3 are routed again as whole kits:
-- BER has 2, the third waits
SELECT place('R-4', '[["HIKESET", 3]]') AS r4, pay('R-4') AS r4_status;
SELECT * FROM locs(oms.get_order(oid_of('R-4')));
SELECT r -> 'rejection' AS rejection FROM oms.reject_fulfillment(oid_of('R-4'), 'MUC', 'damaged') AS r;
SELECT * FROM locs(oms.get_order(oid_of('R-4')));
SELECT * FROM decisions('R-4');

-- ---------------------------------------------------------------------------
-- reject_fulfillment: bad calls, each raises, nothing changes
-- ---------------------------------------------------------------------------
SELECT * FROM counts;
SELECT oms.reject_fulfillment(oid_of('R-4'), 'BER', 'too_busy');
SELECT oms.reject_fulfillment(oid_of('R-4'), 'NOWHERE', 'damaged');
SELECT oms.reject_fulfillment(oid_of('R-4'), 'LEJ', 'damaged');
SELECT oms.reject_fulfillment(oid_of('R-4'), 'MUC', 'damaged');
SELECT oms.reject_fulfillment(oid_of('S-1'), 'BER', 'damaged');
SELECT oms.reject_fulfillment(oid_of('X-1'), 'BER', 'damaged');
SELECT oms.reject_fulfillment(987654, 'BER', 'damaged');
SELECT oms.reject_fulfillment(NULL, 'BER', 'damaged');
SELECT oms.reject_fulfillment(oid_of('R-4'), NULL, 'damaged');
SELECT oms.reject_fulfillment(oid_of('R-4'), 'BER', NULL);
SELECT oms.reject_fulfillment(oid_of('R-4'), 'BER', 'damaged', 'card 4111 1111 1111 1111');
SELECT label, try(stmt) AS sqlstate_and_message FROM (VALUES
    ('unknown reason',         $$SELECT oms.reject_fulfillment(oid_of('R-4'), 'BER', 'too_busy')$$),
    ('reason in upper case',   $$SELECT oms.reject_fulfillment(oid_of('R-4'), 'BER', 'DAMAGED')$$),
    ('empty reason',           $$SELECT oms.reject_fulfillment(oid_of('R-4'), 'BER', '')$$),
    ('unknown location',       $$SELECT oms.reject_fulfillment(oid_of('R-4'), 'NOWHERE', 'damaged')$$),
    ('empty location',         $$SELECT oms.reject_fulfillment(oid_of('R-4'), '', 'damaged')$$),
    ('holds nothing there',    $$SELECT oms.reject_fulfillment(oid_of('R-4'), 'LEJ', 'damaged')$$),
    ('rejecting twice',        $$SELECT oms.reject_fulfillment(oid_of('R-4'), 'MUC', 'damaged')$$),
    ('rejecting twice, other reason', $$SELECT oms.reject_fulfillment(oid_of('R-3'), 'BER', 'other')$$),
    ('delivered order',        $$SELECT oms.reject_fulfillment(oid_of('S-1'), 'BER', 'damaged')$$),
    ('shipped order',          $$SELECT oms.reject_fulfillment(oid_of('R-1'), 'LEJ', 'damaged')$$),
    ('cancelled order',        $$SELECT oms.reject_fulfillment(oid_of('X-1'), 'BER', 'damaged')$$),
    ('unknown order',          $$SELECT oms.reject_fulfillment(987654, 'BER', 'damaged')$$),
    ('NULL order',             $$SELECT oms.reject_fulfillment(NULL, 'BER', 'damaged')$$),
    ('NULL location',          $$SELECT oms.reject_fulfillment(oid_of('R-4'), NULL, 'damaged')$$),
    ('NULL reason',            $$SELECT oms.reject_fulfillment(oid_of('R-4'), 'BER', NULL)$$),
    ('card number in the note', $$SELECT oms.reject_fulfillment(oid_of('R-4'), 'BER', 'damaged', 'card 4111 1111 1111 1111')$$)) AS t(label, stmt);
SELECT * FROM counts;

-- ---------------------------------------------------------------------------
-- the books balance
-- ---------------------------------------------------------------------------
SELECT status, count(*) FROM oms.shipments GROUP BY 1 ORDER BY 1;
SELECT kind, count(*) FROM oms.events
 WHERE kind IN ('shipment_created', 'shipment_shipped', 'shipment_delivered', 'fulfillment_rejected') GROUP BY 1 ORDER BY 1;
DROP VIEW counts;
DROP FUNCTION doc(jsonb), place(text, jsonb, jsonb), oid_of(text), pay(text), sh(text, int), lines_of(text), held(text),
    stock(text, text[]), try(text), slip(bigint), locs(jsonb), res_of(text), ledger_of(text, text[]),
    quote(bigint, bigint, text, date), decisions(text);
SELECT * FROM oms.check();
