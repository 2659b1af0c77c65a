-- test/clients/setup.sql: the catalog the client examples sell from, loaded
-- by test/clients/run as a superuser into a fresh database. Each worker run
-- (node and python, each at two isolation levels) has a channel and a hot
-- sku of its own:
--   HOT-<RUN>  150 units: more orders than units, so that OM001 happens
--              under contention
--   PLENTY     100000 units, shared: every order takes 2; an order asking
--              200000 is short whatever happens
\set ON_ERROR_STOP 1
CREATE EXTENSION oms;

SET ROLE oms_admin;
INSERT INTO oms.channels (code, name, kind) VALUES
    ('node-rc', 'node-pg example, READ COMMITTED', 'web'),
    ('node-ser', 'node-pg example, SERIALIZABLE', 'web'),
    ('py-rc', 'psycopg example, READ COMMITTED', 'mobile'),
    ('py-rr', 'psycopg example, REPEATABLE READ', 'mobile'),
    ('interleave', 'test/clients/interleave.py', 'phone');
INSERT INTO oms.locations (code, name, kind, latitude, longitude, pickup)
     VALUES ('WH-1', 'Test warehouse', 'warehouse', 52.52, 13.40, false);
INSERT INTO oms.products (sku, gtin, name, reorder_point) VALUES
    ('HOT-NODE-RC', '4000073120007', 'Hot item of the node-rc run', 10),
    ('HOT-NODE-SER', '4000073120373', 'Hot item of the node-ser run', 10),
    ('HOT-PY-RC', '4000073120748', 'Hot item of the py-rc run', 10),
    ('HOT-PY-RR', '4000073121110', 'Hot item of the py-rr run', 10),
    ('PLENTY', '4000073121486', 'Item in good supply', 0);
RESET ROLE;

SELECT oms.receive_stock(sku, 'WH-1', CASE WHEN sku = 'PLENTY' THEN 100000 ELSE 150 END, 'setup')
  FROM oms.products ORDER BY sku;

-- the application logs in as a member of oms_app, never as a superuser
-- (roles are cluster-wide: a second database reuses it)
SELECT 'CREATE ROLE oms_clients_app LOGIN IN ROLE oms_app'
 WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'oms_clients_app') \gexec
-- the app's sessions send NOTIFY oms_events for every event they write
ALTER ROLE oms_clients_app SET oms.notify_events = on;
