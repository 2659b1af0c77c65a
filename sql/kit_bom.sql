--
-- kit_bom: a kit's bill of materials cannot change under open orders
-- (issue 13, breach 7), and oms.check() sees a kit line whose reservations
-- do not match its kit's components (kit_line_vs_bom)
-- (src/catalog.sql oms.catalog_kit_bom_guard, src/check.sql).
--   1. INSERT, UPDATE and DELETE of kit_components are refused (55000, with
--      a hint) while order lines of the kit hold reserved or backordered
--      units, whoever writes (oms_admin, superuser), and change nothing
--   2. under REPEATABLE READ every change of kit components is refused
--   3. kits without open orders, and kits whose orders were cancelled, are
--      edited freely
--   4. planted breaches (guard bypassed): check() reports kit_line_vs_bom
--      for a changed quantity, a removed and an added component
--
SET client_min_messages = warning;
SET search_path = public, oms;
\set VERBOSITY default
\set SHOW_CONTEXT never
DROP EXTENSION oms CASCADE;
CREATE EXTENSION oms;

INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web');
INSERT INTO oms.locations (code, name, kind, latitude, longitude) VALUES ('A', 'Warehouse A', 'warehouse', 52.52, 13.40);
INSERT INTO oms.products (sku, name, kind) VALUES
    ('KIT', 'Starter kit', 'kit'), ('KIT2', 'Other kit', 'kit'), ('KIT3', 'Backordered kit', 'kit'),
    ('MUG', 'Mug', 'stock'), ('SPOON', 'Spoon', 'stock'), ('LID', 'Lid', 'stock');
-- KIT = 2 MUG + 1 SPOON; KIT2 = 1 LID; KIT3 = 1 LID + 1 SPOON
INSERT INTO oms.kit_components
SELECT k.id, c.id, v.qty FROM (VALUES ('KIT', 'MUG', 2), ('KIT', 'SPOON', 1), ('KIT2', 'LID', 1),
                                      ('KIT3', 'LID', 1), ('KIT3', 'SPOON', 1)) v(kit, comp, qty)
  JOIN oms.products k ON k.sku = v.kit JOIN oms.products c ON c.sku = v.comp;
SELECT oms.receive_stock(s, 'A', 10) IS NOT NULL AS received FROM unnest(ARRAY['MUG', 'SPOON']) s;

CREATE FUNCTION place(ext text, sku text, qty int, policy text DEFAULT 'all_or_nothing') RETURNS bigint LANGUAGE sql AS
$$ SELECT (oms.place_order(jsonb_build_object('channel', 'web', 'external_id', ext, 'currency', 'EUR', 'policy', policy,
       'ship_to', jsonb_build_object('name', 'Ann Example', 'line1', 'Am Kanal 5', 'postal_code', '14467',
                                     'city', 'Potsdam', 'country', 'DE'),
       'lines', jsonb_build_array(jsonb_build_object('sku', sku, 'qty', qty, 'unit_price', 10)))) ->> 'order_id')::bigint $$;
-- the bill of materials, as a fingerprint of every row
CREATE FUNCTION bom() RETURNS text LANGUAGE sql AS
$$ SELECT string_agg(format('%s=%s*%s', k.sku, kc.qty, c.sku), ', ' ORDER BY k.sku, c.sku)
     FROM oms.kit_components kc JOIN oms.products k ON k.id = kc.kit_id JOIN oms.products c ON c.id = kc.component_id $$;
CREATE FUNCTION pid(s text) RETURNS bigint LANGUAGE sql AS $$ SELECT id FROM oms.products WHERE sku = s $$;

-- an open order holds 2 KIT (4 MUG and 2 SPOON reserved)
SELECT place('o-kit', 'KIT', 2) IS NOT NULL AS placed;
SELECT ol.qty, ol.qty_reserved FROM oms.order_lines ol WHERE ol.product_id = pid('KIT');
-- an order waits for KIT3 (LID is out of stock: backordered)
SELECT place('o-kit3', 'KIT3', 1, 'backorder') IS NOT NULL AS placed;
SELECT ol.qty, ol.qty_reserved, ol.qty_backordered FROM oms.order_lines ol WHERE ol.product_id = pid('KIT3');
SELECT bom();

-- ---------------------------------------------------------------------------
-- 1. refused while open orders hold the kit, as oms_admin and as superuser
-- ---------------------------------------------------------------------------
CREATE ROLE regress_kit_bom_admin IN ROLE oms_admin;
SET ROLE regress_kit_bom_admin;
INSERT INTO oms.kit_components VALUES (pid('KIT'), pid('LID'), 1);
UPDATE oms.kit_components SET qty = 3 WHERE kit_id = pid('KIT') AND component_id = pid('MUG');
DELETE FROM oms.kit_components WHERE kit_id = pid('KIT') AND component_id = pid('SPOON');
-- a component row moved from a kit without orders to a held kit, or back
UPDATE oms.kit_components SET kit_id = pid('KIT') WHERE kit_id = pid('KIT2');
UPDATE oms.kit_components SET kit_id = pid('KIT2') WHERE kit_id = pid('KIT') AND component_id = pid('SPOON');
-- backordered units hold the kit too
UPDATE oms.kit_components SET qty = 2 WHERE kit_id = pid('KIT3') AND component_id = pid('LID');
RESET ROLE;
DELETE FROM oms.kit_components WHERE kit_id = pid('KIT');
-- nothing changed
SELECT bom();
SELECT invariant, detail FROM oms.check();

-- ---------------------------------------------------------------------------
-- 2. a change under REPEATABLE READ is refused, even of a kit without orders
-- ---------------------------------------------------------------------------
BEGIN ISOLATION LEVEL REPEATABLE READ;
UPDATE oms.kit_components SET qty = 2 WHERE kit_id = pid('KIT2');
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
INSERT INTO oms.kit_components VALUES (pid('KIT2'), pid('MUG'), 1);
ROLLBACK;
SELECT bom();

-- ---------------------------------------------------------------------------
-- 3. edits that strand nothing pass
-- ---------------------------------------------------------------------------
SET ROLE regress_kit_bom_admin;
-- KIT2 has no orders
UPDATE oms.kit_components SET qty = 2 WHERE kit_id = pid('KIT2');
INSERT INTO oms.kit_components VALUES (pid('KIT2'), pid('SPOON'), 1);
RESET ROLE;
-- once the KIT order is cancelled, KIT is free again
SELECT oms.cancel_order((SELECT id FROM oms.orders WHERE external_id = 'o-kit'), 'regress') ->> 'status' AS status;
SET ROLE regress_kit_bom_admin;
UPDATE oms.kit_components SET qty = 3 WHERE kit_id = pid('KIT') AND component_id = pid('MUG');
INSERT INTO oms.kit_components VALUES (pid('KIT'), pid('LID'), 1);
DELETE FROM oms.kit_components WHERE kit_id = pid('KIT') AND component_id = pid('LID');
RESET ROLE;
SELECT bom();
-- a new order of KIT reserves the new composition: 3 MUG and 1 SPOON a kit
SELECT place('o-kit-new', 'KIT', 1) IS NOT NULL AS placed;
SELECT p.sku, r.qty FROM oms.reservations r JOIN oms.products p ON p.id = r.product_id
  JOIN oms.orders o ON o.id = r.order_id WHERE o.external_id = 'o-kit-new' AND r.status = 'active' ORDER BY p.sku;
SELECT invariant, detail FROM oms.check();

-- ---------------------------------------------------------------------------
-- 4. planted breaches: the guard bypassed, check() reports kit_line_vs_bom
-- (o-kit-new holds 1 KIT as 3 MUG + 1 SPOON)
-- ---------------------------------------------------------------------------
-- a component's quantity changed
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.kit_components SET qty = 4 WHERE kit_id = pid('KIT') AND component_id = pid('MUG');
SELECT invariant, detail FROM oms.check();
ROLLBACK;
-- a component removed: its reservations belong to no component any more
BEGIN;
ALTER TABLE oms.kit_components DISABLE TRIGGER kit_components_bom_guard;
DELETE FROM oms.kit_components WHERE kit_id = pid('KIT') AND component_id = pid('SPOON');
SELECT invariant, detail FROM oms.check();
ROLLBACK;
-- a component added: the line holds none of it
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO oms.kit_components VALUES (pid('KIT'), pid('LID'), 1);
SELECT invariant, detail FROM oms.check();
ROLLBACK;
SELECT bom();
SELECT invariant, detail FROM oms.check();

DROP ROLE regress_kit_bom_admin;
