-- test/clients/setup.sql: the catalog the client examples sell from, loaded
-- by test/clients/run as a superuser into a fresh database. Known stock:
--   HOT-NODE, HOT-PY  150 units each: one per client, and more orders than
--                     units, so that OM001 happens under contention
--   PLENTY            100000 units: every order takes 2; an order asking
--                     200000 is short whatever happens
\set ON_ERROR_STOP 1
CREATE EXTENSION oms;

SET ROLE oms_admin;
INSERT INTO oms.channels (code, name, kind) VALUES
    ('node', 'node-pg example', 'web'),
    ('python', 'psycopg example', 'web');
INSERT INTO oms.locations (code, name, kind, latitude, longitude, pickup)
     VALUES ('WH-1', 'Test warehouse', 'warehouse', 52.52, 13.40, false);
INSERT INTO oms.products (sku, gtin, name, reorder_point) VALUES
    ('HOT-NODE', '4000073120007', 'Hot item sold by the node example', 10),
    ('HOT-PY', '4000073120373', 'Hot item sold by the python example', 10),
    ('PLENTY', '4000073120748', 'Item in good supply', 0);
RESET ROLE;

SELECT oms.receive_stock('HOT-NODE', 'WH-1', 150, 'setup');
SELECT oms.receive_stock('HOT-PY', 'WH-1', 150, 'setup');
SELECT oms.receive_stock('PLENTY', 'WH-1', 100000, 'setup');

-- the application logs in as a member of oms_app, never as a superuser
CREATE ROLE oms_clients_app LOGIN IN ROLE oms_app;
-- the app's sessions send NOTIFY oms_events for every event they write
ALTER ROLE oms_clients_app SET oms.notify_events = on;
