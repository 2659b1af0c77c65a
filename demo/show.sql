-- demo/show.sql: what oms can do so far, printed by demo/run.
\set ON_ERROR_STOP 0
\pset footer off
SET search_path = public, oms;

\echo
\echo '== Channels and locations (distances from the Berlin warehouse, km) =='
SELECT l.code, l.kind, l.name, l.pickup, l.priority, l.daily_capacity,
       round(oms.distance_km(b.latitude, b.longitude, l.latitude, l.longitude)::numeric, 0) AS km_from_wh_ber
  FROM oms.locations l, oms.locations b WHERE b.code = 'WH-BER' ORDER BY l.priority, l.code;

\echo '== Products: GTINs are stored canonical (14 digits) and print short on request =='
SELECT sku, kind, gtin, oms.gtin_short(gtin) AS printed_on_label, name
  FROM oms.products ORDER BY kind, sku LIMIT 12;
SELECT kind, count(*) AS products FROM oms.products GROUP BY kind ORDER BY kind;

\echo '== Kits and what one unit is made of =='
SELECT k.sku AS kit, c.sku AS component, kc.qty, c.name
  FROM oms.kit_components kc JOIN oms.products k ON k.id = kc.kit_id JOIN oms.products c ON c.id = kc.component_id
 ORDER BY k.sku, c.sku;

\echo '== A scanner reads EAN-13 4000073120007; the same product in every GTIN form =='
SELECT sku, name FROM oms.products WHERE gtin = '4000073120007';
SELECT sku, name FROM oms.products WHERE gtin = '04000073120007';

\echo '== The database itself refuses bad data, whoever writes it =='
\echo '-- a mistyped barcode:'
INSERT INTO oms.products (sku, gtin, name) VALUES ('TYPO', '4000073120008', 'Mistyped barcode');
\echo '-- a kit inside a kit:'
INSERT INTO oms.kit_components SELECT k.id, c.id, 1 FROM oms.products k, oms.products c
 WHERE k.sku = 'KIT-ESPRESSO' AND c.sku = 'KIT-POUROVER';
\echo '-- an app role writing the catalog directly:'
SET ROLE oms_app;
UPDATE oms.products SET name = 'hijacked' WHERE sku = 'AERO-PRESS';
RESET ROLE;

\echo '== oms.check(): every invariant holds (no rows) =='
SELECT * FROM oms.check();
