-- test/bench/routing_setup.sql: run by test/bench/routing as the superuser in
-- a fresh database per location count, in three steps (psql variable step):
--
-- catalog  the extension; channel web (routing_strategy :'strategy', no
--          distance limit, every location allowed); :nlocations shipping
--          locations L1..Ln at random points in Europe (36-60 N, 9 W - 30 E)
--          with varied priority, handling_cost and cost_per_km; :nskus stock
--          products SKU-1..SKU-n.
-- stock    run in :parts concurrent sessions, session :part taking the
--          locations whose id % :parts = :part: each location gets a random
--          :share percent of the skus, 2,000 to 20,000 units each (a run
--          places a few thousand orders of at most 3 units a line, so
--          nothing runs out).
-- finish   the login role bench_app (member of oms_app), VACUUM ANALYZE.
--
-- Random but repeatable: setseed(:seed) in each step. The stock is booked
-- through the ledger: a set-based INSERT into oms.stock_movements (kind
-- receipt), whose statement trigger applies the movements to
-- oms.stock_balances, the path a restore takes. Three million
-- oms.receive_stock calls (about 100 us each) would take five minutes
-- instead of one; the balances are the same, and the runner ends with
-- oms.check(), which compares them with the ledger.
\set ON_ERROR_STOP 1
\set QUIET 1

SELECT :'step' = 'catalog' AS step_catalog, :'step' = 'stock' AS step_stock,
       :'step' = 'finish' AS step_finish \gset
\if :step_catalog
CREATE EXTENSION oms;

SELECT setseed(:seed) \gset

SET ROLE oms_admin;
INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web shop', 'web');
UPDATE oms.channels SET routing_strategy = :'strategy' WHERE code = 'web';

-- Europe, roughly: 36-60 N, 9 W - 30 E. One in five is a warehouse (cheap
-- per km, higher handling), the rest stores (no pickup: only shipping counts).
INSERT INTO oms.locations (code, name, kind, latitude, longitude, ships, pickup,
                           priority, handling_cost, cost_per_km)
SELECT format('L%s', i), format('Routing bench location %s', i),
       CASE WHEN i % 5 = 1 THEN 'warehouse' ELSE 'store' END,
       round((36 + random() * 24)::numeric, 4)::float8,
       round((-9 + random() * 39)::numeric, 4)::float8,
       true, false,
       1 + floor(random() * 100)::int,
       round((CASE WHEN i % 5 = 1 THEN 3 + random() * 5 ELSE 1 + random() * 3 END)::numeric, 2),
       round((CASE WHEN i % 5 = 1 THEN 0.002 + random() * 0.01 ELSE 0.01 + random() * 0.04 END)::numeric, 4)
  FROM generate_series(1, :nlocations) AS i;

INSERT INTO oms.products (sku, name, kind, weight_kg, unit_cost)
SELECT 'SKU-' || i, 'Routing bench product ' || i, 'stock', 0.5, 5.00
  FROM generate_series(1, :nskus) AS i;
RESET ROLE;
\endif

\if :step_stock
-- Stock: a random :share % of the skus at each location, via the ledger;
-- in (product, location) order, like every balance write. The sessions
-- write disjoint balance rows, so they never wait for each other.
SELECT setseed(:seed * (:part + 1) / (:parts + 1)) \gset
INSERT INTO oms.stock_movements (product_id, location_id, kind, on_hand_delta, reference)
SELECT p.id, l.id, 'receipt', 2000 + floor(random() * 18001)::int, 'routing bench setup'
  FROM oms.products p CROSS JOIN oms.locations l
 WHERE l.id % :parts = :part AND random() * 100 < :share
 ORDER BY p.id, l.id;
\endif

\if :step_finish

-- what the application logs in as (roles are cluster-wide: created once)
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_app') AS need_role \gset
\if :need_role
CREATE ROLE bench_app LOGIN;
\endif
GRANT oms_app TO bench_app;

-- Statistics for the tables that hold data. The order tables are left
-- never-vacuumed on purpose (see the end of setup.sql): they are planned
-- as if they had a few pages, i.e. with their indexes.
VACUUM ANALYZE oms.channels, oms.locations, oms.products, oms.stock_balances, oms.stock_movements;
\endif
