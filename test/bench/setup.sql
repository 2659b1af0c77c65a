-- test/bench/setup.sql: run by test/bench/run as the superuser in the bench
-- database. Creates the extension, a catalog (channel web, two locations,
-- :nproducts products SKU-1 .. SKU-n), plentiful stock booked through
-- oms.receive_stock, a login role for the application (member of oms_app),
-- and the app-side schema "appside" with plain tables holding the same
-- quantities.
\set ON_ERROR_STOP 1
\set QUIET 1

CREATE EXTENSION oms;

SET ROLE oms_admin;
INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web shop', 'web');
INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority) VALUES
    ('WH-1', 'Bench warehouse one', 'warehouse', 52.35, 13.31, 10),
    ('WH-2', 'Bench warehouse two', 'warehouse', 51.89, 4.44, 20);
INSERT INTO oms.products (sku, name, kind, weight_kg, unit_cost)
SELECT 'SKU-' || i, 'Bench product ' || i, 'stock', 0.5, 5.00
  FROM generate_series(1, :nproducts) AS i;
RESET ROLE;

-- stock through the API: every product at both locations
SELECT count(oms.receive_stock(p.sku, l.code, :stock_qty, 'bench setup'))
  FROM oms.products p CROSS JOIN oms.locations l;

-- what applications log in as (roles are cluster-wide: a second bench
-- database in the same cluster reuses it)
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_app') AS need_role \gset
\if :need_role
CREATE ROLE bench_app LOGIN;
\endif
GRANT oms_app TO bench_app;

-- ---------------------------------------------------------------------------
-- appside: the same business data in plain tables, written with plain SQL
-- the way app-side OMSes do (SELECT ... FOR UPDATE, UPDATE, INSERTs).
-- Mirrors the keys, foreign keys, checks and main indexes of the oms tables.
-- ---------------------------------------------------------------------------
CREATE SCHEMA appside;
CREATE TABLE appside.products (
    id   bigint PRIMARY KEY,
    sku  text NOT NULL UNIQUE
);
CREATE TABLE appside.locations (
    id   integer PRIMARY KEY,
    code text NOT NULL UNIQUE
);
CREATE TABLE appside.stock (
    product_id  bigint  NOT NULL REFERENCES appside.products,
    location_id integer NOT NULL REFERENCES appside.locations,
    on_hand     integer NOT NULL,
    reserved    integer NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (product_id, location_id),
    CHECK (reserved >= 0),
    CHECK (reserved <= on_hand)
);
CREATE TABLE appside.orders (
    id          bigserial PRIMARY KEY,
    channel     text NOT NULL,
    external_id text NOT NULL,
    currency    text NOT NULL,
    status      text NOT NULL,
    total       numeric(16,4) NOT NULL DEFAULT 0,
    placed_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    UNIQUE (channel, external_id)
);
CREATE TABLE appside.order_lines (
    id           bigserial PRIMARY KEY,
    order_id     bigint  NOT NULL REFERENCES appside.orders,
    line_no      integer NOT NULL,
    product_id   bigint  NOT NULL REFERENCES appside.products,
    qty          integer NOT NULL CHECK (qty > 0),
    unit_price   numeric(16,4) NOT NULL,
    qty_reserved integer NOT NULL DEFAULT 0,
    UNIQUE (order_id, line_no)
);
CREATE TABLE appside.reservations (
    id            bigserial PRIMARY KEY,
    order_id      bigint  NOT NULL REFERENCES appside.orders,
    order_line_id bigint  NOT NULL REFERENCES appside.order_lines,
    product_id    bigint  NOT NULL REFERENCES appside.products,
    location_id   integer NOT NULL REFERENCES appside.locations,
    qty           integer NOT NULL CHECK (qty > 0),
    status        text    NOT NULL DEFAULT 'active',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON appside.reservations (order_id);
CREATE INDEX ON appside.reservations (product_id, location_id) WHERE status = 'active';

-- same products (id = the number in the sku), locations and quantities
INSERT INTO appside.products (id, sku)
SELECT substr(sku, 5)::bigint, sku FROM oms.products;
INSERT INTO appside.locations (id, code)
SELECT row_number() OVER (ORDER BY priority, code), code FROM oms.locations;
INSERT INTO appside.stock (product_id, location_id, on_hand, reserved)
SELECT ap.id, al.id, s.on_hand, s.reserved
  FROM oms.stock_levels s
  JOIN appside.products ap ON ap.sku = s.sku
  JOIN appside.locations al ON al.code = s.location;

-- Statistics for the tables that hold data now. The order tables are left
-- never-vacuumed on purpose: statistics saying "empty" would make the
-- plans cached in the first minute (foreign key checks, prepared
-- statements) sequential scans that grow with every order, until
-- autovacuum's first ANALYZE; never-vacuumed tables are planned as if they
-- had a few pages, i.e. with their indexes.
VACUUM ANALYZE oms.channels, oms.locations, oms.products, oms.stock_balances, oms.stock_movements,
    appside.products, appside.locations, appside.stock;
