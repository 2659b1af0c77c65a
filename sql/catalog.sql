--
-- catalog: channels, locations, products, kits and customers; every named
-- constraint and the kit guard, with their error texts locked in.
--
SET client_min_messages = warning;
SET search_path = public, oms;
-- constraint violations: the constraint name is what is locked in (their
-- DETAIL would echo timestamps); the kit guard's own errors use full verbosity
\set VERBOSITY terse

-- channels
INSERT INTO oms.channels (code, name, kind) VALUES
    ('web', 'Web shop', 'web'), ('app', 'Mobile app', 'mobile'), ('pos', 'Stores', 'pos');
INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Second web shop', 'web');
INSERT INTO oms.channels (code, name, kind) VALUES ('Web Shop', 'Bad code', 'web');
INSERT INTO oms.channels (code, name, kind) VALUES ('fax', 'Fax', 'fax');
INSERT INTO oms.channels (code, name, kind) VALUES ('blank', '   ', 'web');
INSERT INTO oms.channels (code, name, kind) VALUES (NULL, 'No code', 'web');

-- locations
INSERT INTO oms.locations (code, name, kind, latitude, longitude, pickup, priority, daily_capacity, handling_cost) VALUES
    ('WH-BER', 'Berlin warehouse', 'warehouse', 52.4010, 13.5183, false, 10, 5000, 1.20),
    ('ST-MUC', 'Munich store', 'store', 48.1374, 11.5755, true, 50, 200, 2.50);
INSERT INTO oms.locations (code, name, kind, latitude, longitude) VALUES ('X1', 'North of the pole', 'warehouse', 91, 0);
INSERT INTO oms.locations (code, name, kind, latitude, longitude) VALUES ('X2', 'Off the map', 'warehouse', 0, -181);
INSERT INTO oms.locations (code, name, kind, latitude, longitude) VALUES ('X3', 'Shed', 'shed', 0, 0);
INSERT INTO oms.locations (code, name, kind, latitude, longitude, pickup) VALUES ('X4', 'Vendor', 'dropship', 0, 0, true);
INSERT INTO oms.locations (code, name, kind, latitude, longitude, daily_capacity) VALUES ('X5', 'Closed', 'warehouse', 0, 0, 0);
INSERT INTO oms.locations (code, name, kind, latitude, longitude, handling_cost) VALUES ('X6', 'Paid to handle', 'warehouse', 0, 0, -1);
INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority) VALUES ('X7', 'Negative', 'warehouse', 0, 0, -1);
INSERT INTO oms.locations (code, name, kind, latitude, longitude) VALUES ('WH-BER', 'Duplicate', 'warehouse', 0, 0);
INSERT INTO oms.locations (code, name, kind, latitude, longitude) VALUES ('X8', 'No coordinates', 'warehouse', NULL, 0);

-- products
INSERT INTO oms.products (sku, gtin, name, kind, weight_kg, reorder_point, reorder_qty, unit_cost) VALUES
    ('GRINDER-1', '4006381333931', 'Burr grinder', 'stock', 2.1, 5, 20, 48.00),
    ('MACHINE-1', '5901234123457', 'Espresso machine', 'stock', 8.4, 2, 10, 310.00),
    ('CUP-2', '96385074', 'Espresso cups, pair', 'stock', 0.3, 20, 100, 3.10),
    ('STARTER-KIT', '036000291452', 'Espresso starter kit', 'kit', 0, 0, 0, NULL),
    ('WRAP', NULL, 'Gift wrapping', 'service', 0, 0, 0, NULL);
SELECT sku, gtin, oms.gtin_short(gtin) AS short, kind FROM oms.products ORDER BY sku;
INSERT INTO oms.products (sku, gtin, name) VALUES ('GRINDER-2', '04006381333931', 'Same barcode, padded');
INSERT INTO oms.products (sku, gtin, name) VALUES ('BAD-GTIN', '4006381333932', 'Bad check digit');
INSERT INTO oms.products (sku, name) VALUES ('GRINDER-1', 'Duplicate sku');
INSERT INTO oms.products (sku, name) VALUES ('has space', 'Bad sku');
INSERT INTO oms.products (sku, name) VALUES ('', 'Empty sku');
INSERT INTO oms.products (sku, name, kind) VALUES ('GADGET', 'Gadget', 'bundle');
INSERT INTO oms.products (sku, name, weight_kg) VALUES ('FEATHER', 'Negative weight', -0.1);
INSERT INTO oms.products (sku, name, reorder_point) VALUES ('RP', 'Negative reorder point', -1);
INSERT INTO oms.products (sku, name, reorder_qty) VALUES ('RQ', 'Negative reorder qty', -5);
INSERT INTO oms.products (sku, name, unit_cost) VALUES ('FREE', 'Negative cost', -0.01);
INSERT INTO oms.products (sku, name) VALUES ('NONAME', '');

-- kits: components must be stock products, and kinds cannot change under a kit
\set VERBOSITY default
INSERT INTO oms.kit_components (kit_id, component_id, qty)
SELECT k.id, c.id, q FROM oms.products k, (VALUES ('GRINDER-1', 1), ('MACHINE-1', 1), ('CUP-2', 2)) AS v(sku, q)
  JOIN oms.products c ON c.sku = v.sku WHERE k.sku = 'STARTER-KIT';
SELECT k.sku AS kit, c.sku AS component, kc.qty
  FROM oms.kit_components kc JOIN oms.products k ON k.id = kc.kit_id JOIN oms.products c ON c.id = kc.component_id
 ORDER BY 1, 2;
-- a stock product cannot have components
INSERT INTO oms.kit_components SELECT (SELECT id FROM oms.products WHERE sku = 'CUP-2'), (SELECT id FROM oms.products WHERE sku = 'GRINDER-1'), 1;
-- a service or a kit cannot be a component
INSERT INTO oms.kit_components SELECT (SELECT id FROM oms.products WHERE sku = 'STARTER-KIT'), (SELECT id FROM oms.products WHERE sku = 'WRAP'), 1;
INSERT INTO oms.products (sku, name, kind) VALUES ('MEGA-KIT', 'Kit of kits', 'kit');
INSERT INTO oms.kit_components SELECT (SELECT id FROM oms.products WHERE sku = 'MEGA-KIT'), (SELECT id FROM oms.products WHERE sku = 'STARTER-KIT'), 1;
-- a kit cannot contain itself (the guard sees it first), nor a component
-- zero times, nor an unknown product
INSERT INTO oms.kit_components SELECT id, id, 1 FROM oms.products WHERE sku = 'MEGA-KIT';
INSERT INTO oms.kit_components SELECT (SELECT id FROM oms.products WHERE sku = 'MEGA-KIT'), (SELECT id FROM oms.products WHERE sku = 'CUP-2'), 0;
INSERT INTO oms.kit_components VALUES ((SELECT id FROM oms.products WHERE sku = 'MEGA-KIT'), -42, 1);
-- kind changes that would break a kit
UPDATE oms.products SET kind = 'stock' WHERE sku = 'STARTER-KIT';
UPDATE oms.products SET kind = 'service' WHERE sku = 'CUP-2';
-- deleting a component in use is refused; deleting the kit removes its list
DELETE FROM oms.products WHERE sku = 'CUP-2';
-- oms.check() reports the empty active kit, then nothing once it is retired
SELECT * FROM oms.check();
UPDATE oms.products SET active = false WHERE sku = 'MEGA-KIT';
SELECT * FROM oms.check();
-- with the trigger bypassed, oms.check() still sees a broken kit
SET session_replication_role = replica;
UPDATE oms.products SET kind = 'service' WHERE sku = 'CUP-2';
SET session_replication_role = origin;
SELECT * FROM oms.check();
UPDATE oms.products SET kind = 'stock' WHERE sku = 'CUP-2';
SELECT * FROM oms.check();

-- customers
\set VERBOSITY terse
INSERT INTO oms.customers (external_ref, email, name, flags) VALUES
    ('shop-1001', 'ann@example.com', 'Ann Example', '{vip}'),
    (NULL, 'bob@example.org', 'Bob Example', '{}'),
    ('erp-77', NULL, 'Wholesale GmbH', '{terms,wholesale}');
INSERT INTO oms.customers (email) VALUES ('ANN@example.com');
INSERT INTO oms.customers (external_ref) VALUES ('shop-1001');
INSERT INTO oms.customers (name) VALUES ('Nobody');
INSERT INTO oms.customers (email) VALUES ('not-an-email');
INSERT INTO oms.customers (external_ref) VALUES ('  ');
INSERT INTO oms.customers (external_ref, flags) VALUES ('c2', '{VIP}');
INSERT INTO oms.customers (external_ref, flags) VALUES ('c3', '{vip,NULL}');
INSERT INTO oms.customers (external_ref, flags) VALUES ('c4', '{"fraud review"}');
INSERT INTO oms.customers (external_ref, flags) VALUES ('c5', NULL);
SELECT external_ref, email, name, flags FROM oms.customers ORDER BY id;

-- distances
\set VERBOSITY default
SELECT a.code AS from_loc, b.code AS to_loc, oms.distance_km(a.latitude, a.longitude, b.latitude, b.longitude)::numeric(8,1) AS km
  FROM oms.locations a, oms.locations b WHERE a.code < b.code;
SELECT oms.distance_km(0, 0, 0, 0) AS same_point, oms.distance_km(0, 0, 0, 180)::numeric(8,1) AS half_circumference;
SELECT oms.distance_km(95, 0, 0, 0);
SELECT oms.distance_km(0, 0, 0, 200);
SELECT oms.distance_km('NaN', 0, 0, 0);
SELECT oms.distance_km(NULL, 0, 0, 0) AS null_in_null_out;
