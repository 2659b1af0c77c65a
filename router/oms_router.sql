-- router/oms_router.sql: the oms API routed by merchant with PL/Proxy.
--
-- Load it into a database of its own (the router), as a superuser (PL/Proxy
-- is an untrusted language), after
-- CREATE EXTENSION plproxy:
--
--     psql -d router -v ON_ERROR_STOP=1 -f router/oms_router.sql
--
-- oms is single-tenant per database: a merchant's skus, stock, orders and
-- money are its database. So every merchant gets a database of its own,
-- with oms installed, on one of the partition clusters, and the router
-- sends each call to that database and to no other: every call is one
-- transaction on one node and keeps every guarantee of oms (guarded stock,
-- idempotency on (channel, external_id), the money path, oms.check()).
--
-- Placement: a directory (oms_router.merchants: merchant -> libpq connection
-- string) and PL/Proxy's CONNECT, not CLUSTER + RUN ON hash. A hash over N
-- partitions would put several merchants in one partition, that is in one
-- oms database, where their skus, orders and money would mix: oms has no
-- merchant column. With the directory one row places one merchant, moving a
-- merchant is moving its database and updating its row, merchants of any
-- size sit where there is room, and nothing forces a power of 2.
--
-- Platform reads (orders per merchant per day, stock per merchant) run on
-- every merchant database in parallel with PL/Proxy's RUN ON ALL, over a
-- cluster, 'oms_merchants', whose partitions are the rows of the same
-- directory (plproxy.get_cluster_partitions below, with modular_mapping so
-- that any number of merchants is fine); the directory stays the only
-- placement. Each merchant database names its merchant in a database
-- setting (ALTER DATABASE ... SET oms_router.merchant = '...'), so rows
-- coming back from RUN ON ALL carry their merchant, and check(merchant)
-- reports a directory row that points at another merchant's database.
--
-- Layers:
--   oms_router_remote  the PL/Proxy functions (one remote SELECT each) and
--                      the directory lookups; no role but the owner uses it
--   oms_router         what callers use: plpgsql wrappers with a leading
--                      merchant argument, SECURITY DEFINER, that give the
--                      merchant database's error back unchanged (PL/Proxy
--                      keeps the SQLSTATE but prefixes the message with
--                      "<function>(<nargs>): [<db>] REMOTE ERROR: " and the
--                      detail and hint with "Remote detail: ", "Remote
--                      hint: "; the wrappers strip exactly these)
--
-- Connections: the router connects to a merchant database as
-- oms_link_app (a LOGIN member of oms_app) for the API, and as
-- oms_link_reporting (a LOGIN member of oms_reporting) for check() and the
-- platform reads; the directory's connection string carries host, port,
-- dbname and any other libpq option but no user (the router adds it).
-- Passwords belong in the router server's ~/.pgpass, not in the directory.
-- Calls are autocommit on the merchant database (PL/Proxy runs one
-- statement per call): a router transaction that rolls back does not undo
-- a call that returned. Retrying a place_order with the same document is
-- answered as a replay, as on oms itself.
--
-- Roles (created NOLOGIN when absent; PUBLIC gets nothing):
--   oms_router_app        the API functions
--   oms_router_reporting  check(merchant), the platform reads, the
--                         directory without connection strings
--   oms_router_admin      the directory (insert, update, delete)

\set ON_ERROR_STOP 1

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'plproxy') THEN
        RAISE EXCEPTION 'router/oms_router.sql needs PL/Proxy: CREATE EXTENSION plproxy first';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'oms_router_app') THEN
        CREATE ROLE oms_router_app NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'oms_router_reporting') THEN
        CREATE ROLE oms_router_reporting NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'oms_router_admin') THEN
        CREATE ROLE oms_router_admin NOLOGIN;
    END IF;
END $$;

CREATE SCHEMA oms_router;
CREATE SCHEMA oms_router_remote;
-- PL/Proxy reads cluster configuration from functions of this schema
CREATE SCHEMA IF NOT EXISTS plproxy;
REVOKE ALL ON SCHEMA oms_router, oms_router_remote, plproxy FROM PUBLIC;
REVOKE ALL ON FUNCTION plproxy_call_handler(), plproxy_validator(oid), plproxy_fdw_validator(text[], oid) FROM PUBLIC;

-- ---- the directory -------------------------------------------------------------

CREATE TABLE oms_router.merchants (
    merchant   text        PRIMARY KEY,
    connstr    text        NOT NULL UNIQUE,
    state      text        NOT NULL DEFAULT 'active',
    note       text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT merchants_merchant_chk CHECK (merchant ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    CONSTRAINT merchants_state_chk CHECK (state IN ('active', 'moving')),
    CONSTRAINT merchants_connstr_chk CHECK (connstr !~* '(^|\s)user\s*=' AND connstr !~ '[\r\n]')
);
COMMENT ON TABLE oms_router.merchants IS
    'Where each merchant''s oms database is: one row per merchant, one database per merchant';
COMMENT ON COLUMN oms_router.merchants.merchant IS 'The merchant key callers pass as the first argument';
COMMENT ON COLUMN oms_router.merchants.connstr IS
    'libpq connection string of the merchant''s database (host, port, dbname, options; no user: the router adds it)';
COMMENT ON COLUMN oms_router.merchants.state IS
    'active: calls go through; moving: calls fail with 57P03 until the move is done';

-- what reporting may see of the directory: no connection strings
CREATE VIEW oms_router.merchant_list AS
    SELECT merchant, state, updated_at FROM oms_router.merchants;
COMMENT ON VIEW oms_router.merchant_list IS 'The merchants and their state, without their connection strings';

-- the platform cluster's version: bumped by every change of the directory,
-- so PL/Proxy reloads the partitions on the next call
CREATE SEQUENCE oms_router_remote.directory_version AS integer CYCLE;

CREATE FUNCTION oms_router_remote.directory_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM nextval('oms_router_remote.directory_version');
    IF TG_OP = 'UPDATE' THEN
        NEW.updated_at := now();
        RETURN NEW;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER merchants_touch BEFORE UPDATE ON oms_router.merchants
    FOR EACH ROW EXECUTE FUNCTION oms_router_remote.directory_changed();
CREATE TRIGGER merchants_version AFTER INSERT OR DELETE OR TRUNCATE ON oms_router.merchants
    FOR EACH STATEMENT EXECUTE FUNCTION oms_router_remote.directory_changed();

-- ---- lookups ----------------------------------------------------------------------

-- The connection string of a merchant's database, as the login user of the
-- purpose ('app' or 'reporting'). Unknown merchant: 22023; a merchant being
-- moved: 57P03 (retry shortly).
CREATE FUNCTION oms_router_remote.connstr(merchant text, purpose text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m oms_router.merchants;
BEGIN
    IF merchant IS NULL THEN
        RAISE EXCEPTION 'merchant must not be NULL' USING ERRCODE = '22004';
    END IF;
    SELECT * INTO m FROM oms_router.merchants d WHERE d.merchant = connstr.merchant;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown merchant "%"', left(merchant, 64) USING ERRCODE = '22023',
            HINT = 'oms_router.merchant_list lists the merchants; merchant keys are case-sensitive.';
    END IF;
    IF m.state = 'moving' THEN
        RAISE EXCEPTION 'merchant "%" is being moved to another database', merchant USING ERRCODE = '57P03',
            HINT = 'Retry in a few seconds; nothing of this call was done.';
    END IF;
    RETURN m.connstr || ' user=oms_link_' || purpose;
END $$;

CREATE FUNCTION oms_router_remote.app_connstr(merchant text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN oms_router_remote.connstr(merchant, 'app');

CREATE FUNCTION oms_router_remote.reporting_connstr(merchant text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN oms_router_remote.connstr(merchant, 'reporting');

-- Re-raise an error caught by a wrapper: one that came from a merchant
-- database as it was raised there (PL/Proxy's prefixes removed), any other
-- (unknown merchant, connection failure) as it is.
CREATE FUNCTION oms_router_remote.reraise(state text, message text, detail text, hint text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    remote text := '^[^\s()]+\(\d+\): \[[^]]*\] REMOTE ERROR: ';
BEGIN
    IF message ~ remote THEN
        message := regexp_replace(message, remote, '');
        detail := regexp_replace(detail, '^Remote detail: ', '');
        hint := regexp_replace(hint, '^Remote hint: ', '');
    END IF;
    detail := nullif(detail, '');
    hint := nullif(hint, '');
    IF detail IS NULL AND hint IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = state, MESSAGE = message;
    ELSIF hint IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = state, MESSAGE = message, DETAIL = detail;
    ELSIF detail IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = state, MESSAGE = message, HINT = hint;
    ELSE
        RAISE EXCEPTION USING ERRCODE = state, MESSAGE = message, DETAIL = detail, HINT = hint;
    END IF;
END $$;

-- ---- the platform cluster: partitions = the directory ----------------------------

CREATE FUNCTION plproxy.get_cluster_version(cluster_name text) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF cluster_name = 'oms_merchants' THEN
        RETURN (SELECT last_value FROM oms_router_remote.directory_version);
    END IF;
    RAISE EXCEPTION 'unknown PL/Proxy cluster "%"', cluster_name USING ERRCODE = '22023';
END $$;

-- every merchant's database once, in merchant order; a merchant being moved
-- stops the platform reads until its move is done (its old database may
-- already be gone, its new one not yet filled)
CREATE FUNCTION plproxy.get_cluster_partitions(cluster_name text) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF cluster_name <> 'oms_merchants' THEN
        RAISE EXCEPTION 'unknown PL/Proxy cluster "%"', cluster_name USING ERRCODE = '22023';
    END IF;
    IF EXISTS (SELECT FROM oms_router.merchants WHERE state <> 'active') THEN
        RAISE EXCEPTION 'a merchant is being moved: platform reads wait until the move is done' USING ERRCODE = '57P03',
            HINT = 'Retry in a few seconds.';
    END IF;
    IF NOT EXISTS (SELECT FROM oms_router.merchants) THEN
        RAISE EXCEPTION 'the directory oms_router.merchants is empty' USING ERRCODE = '55000';
    END IF;
    RETURN QUERY SELECT connstr || ' user=oms_link_reporting' FROM oms_router.merchants ORDER BY merchant;
END $$;

-- modular mapping: any number of partitions (RUN ON ALL hashes nothing)
CREATE FUNCTION plproxy.get_cluster_config(cluster_name text, OUT key text, OUT val text) RETURNS SETOF record
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    VALUES ('modular_mapping', '1'), ('connection_lifetime', '1800');
$$;

-- ---- the API ----------------------------------------------------------------------

-- One pair per oms function: oms_router_remote.<name>, the PL/Proxy call,
-- and oms_router.<name>, the wrapper callers use. Same arguments as the oms
-- function (same names and defaults), after merchant; same result.
DO $gen$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT * FROM (VALUES
        -- name, arguments (with defaults), names passed on, result
        ('place_order',       'doc jsonb',                                                  'doc',                                   'jsonb'),
        ('get_order',         'order_id bigint',                                            'order_id',                              'jsonb'),
        ('cancel_order',      'order_id bigint, reason text DEFAULT NULL',                  'order_id, reason',                      'jsonb'),
        ('authorize_payment', 'order_id bigint, payment jsonb',                             'order_id, payment',                     'jsonb'),
        ('capture_payment',   'payment_id bigint, amount numeric DEFAULT NULL',             'payment_id, amount',                    'jsonb'),
        ('void_payment',      'payment_id bigint',                                          'payment_id',                            'jsonb'),
        ('refund_payment',    'payment_id bigint, amount numeric, reason text DEFAULT NULL', 'payment_id, amount, reason',          'jsonb'),
        ('create_shipment',   'order_id bigint, location text, lines jsonb DEFAULT NULL',   'order_id, location, lines',             'jsonb'),
        ('get_shipment',      'shipment_id bigint',                                         'shipment_id',                           'jsonb'),
        ('ship',              'shipment_id bigint, carrier text, service text, tracking_number text',
                                                                                            'shipment_id, carrier, service, tracking_number', 'jsonb'),
        ('deliver',           'shipment_id bigint',                                         'shipment_id',                           'jsonb'),
        ('create_rma',        'order_id bigint, rma jsonb',                                 'order_id, rma',                         'jsonb'),
        ('authorize_rma',     'rma_id bigint',                                              'rma_id',                                'jsonb'),
        ('get_rma',           'rma_id bigint',                                              'rma_id',                                'jsonb'),
        ('receive_rma',       'rma_id bigint, location text, lines jsonb',                  'rma_id, location, lines',               'jsonb'),
        ('refund_rma',        'rma_id bigint',                                              'rma_id',                                'jsonb'),
        ('available',         'sku text, location text DEFAULT NULL',                       'sku, location',                         'integer')
    ) AS v(name, args, pass, result)
    LOOP
        EXECUTE format($f$
            CREATE FUNCTION oms_router_remote.%1$I(merchant text, %2$s) RETURNS %4$s
            LANGUAGE plproxy AS $p$
                CONNECT oms_router_remote.app_connstr(merchant);
                SELECT oms.%1$I(%3$s);
            $p$ $f$, f.name, f.args, f.pass, f.result);
        -- the notice PL/Proxy prints when it reconnects after an error is
        -- not for callers (oms raises no notices)
        EXECUTE format($f$
            CREATE FUNCTION oms_router.%1$I(merchant text, %2$s) RETURNS %4$s
            LANGUAGE plpgsql SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $w$
            DECLARE
                st text; msg text; det text; hnt text;
            BEGIN
                RETURN oms_router_remote.%1$I(merchant, %3$s);
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
                                        hnt = PG_EXCEPTION_HINT;
                PERFORM oms_router_remote.reraise(st, msg, det, hnt);
                RETURN NULL;
            END $w$ $f$, f.name, f.args, f.pass, f.result);
        EXECUTE format('COMMENT ON FUNCTION oms_router.%I(text, %s) IS %L', f.name,
                       regexp_replace(regexp_replace(f.args, '\w+ (\w+)( DEFAULT NULL)?', '\1', 'g'), '\s+', ' ', 'g'),
                       format('oms.%s on the merchant''s database', f.name));
        EXECUTE format('GRANT EXECUTE ON FUNCTION oms_router.%I(text, %s) TO oms_router_app', f.name,
                       regexp_replace(f.args, '\w+ (\w+)( DEFAULT NULL)?', '\1', 'g'));
    END LOOP;
END $gen$;

-- oms.check() of a merchant's database, plus a row 'merchant_identity' when
-- the directory row points at a database that is not the merchant's
CREATE FUNCTION oms_router_remote.check(merchant text, OUT invariant text, OUT detail text) RETURNS SETOF record
LANGUAGE plproxy AS $p$
    CONNECT oms_router_remote.reporting_connstr(merchant);
    SELECT c.invariant, c.detail FROM oms.check() c
    UNION ALL
    SELECT 'merchant_identity'::text,
           'the database ' || current_database() || ' belongs to merchant '
           || coalesce(current_setting('oms_router.merchant', true), '(not set)') || ', not to ' || merchant
     WHERE current_setting('oms_router.merchant', true) IS DISTINCT FROM merchant;
$p$;

CREATE FUNCTION oms_router.check(merchant text, OUT invariant text, OUT detail text) RETURNS SETOF record
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $$
DECLARE
    st text; msg text; det text; hnt text;
BEGIN
    RETURN QUERY SELECT c.invariant, c.detail FROM oms_router_remote.check(merchant) c;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    PERFORM oms_router_remote.reraise(st, msg, det, hnt);
END $$;
COMMENT ON FUNCTION oms_router.check(text) IS
    'oms.check() on the merchant''s database, plus merchant_identity when the directory points at another merchant''s database';

-- ---- platform reads: every merchant database at once, aggregated here ------------

-- per merchant database: orders, units and net per day and currency (from
-- oms.report_sales_daily, summed over channels)
CREATE FUNCTION oms_router_remote.sales_daily_all(since date,
    OUT merchant text, OUT day date, OUT currency text, OUT orders bigint, OUT units bigint, OUT net numeric)
RETURNS SETOF record
LANGUAGE plproxy AS $p$
    CLUSTER 'oms_merchants';
    RUN ON ALL;
    SELECT current_setting('oms_router.merchant', true) AS merchant, s.day, s.currency,
           sum(s.orders)::bigint AS orders, sum(s.units)::bigint AS units, sum(s.net) AS net
      FROM oms.report_sales_daily s
     WHERE s.day >= since
     GROUP BY s.day, s.currency;
$p$;

-- per merchant database: one row, the stock at its locations (from
-- oms.report_inventory)
CREATE FUNCTION oms_router_remote.stock_all(
    OUT merchant text, OUT skus bigint, OUT on_hand bigint, OUT reserved bigint, OUT available bigint,
    OUT value_at_cost numeric)
RETURNS SETOF record
LANGUAGE plproxy AS $p$
    CLUSTER 'oms_merchants';
    RUN ON ALL;
    SELECT current_setting('oms_router.merchant', true) AS merchant,
           count(DISTINCT i.sku) AS skus, coalesce(sum(i.on_hand), 0)::bigint AS on_hand,
           coalesce(sum(i.reserved), 0)::bigint AS reserved, coalesce(sum(i.available), 0)::bigint AS available,
           coalesce(sum(i.value_at_cost), 0) AS value_at_cost
      FROM oms.report_inventory i
     WHERE i.location IS NOT NULL;
$p$;

-- the rows the platform reads collect before they check them
CREATE TYPE oms_router_remote.sales_daily_row AS (
    merchant text, day date, currency text, orders bigint, units bigint, net numeric);
CREATE TYPE oms_router_remote.stock_row AS (
    merchant text, skus bigint, on_hand bigint, reserved bigint, available bigint, value_at_cost numeric);
REVOKE ALL ON TYPE oms_router_remote.sales_daily_row, oms_router_remote.stock_row FROM PUBLIC;

-- A row from a database whose merchant setting is missing or names no merchant
-- of the directory would be counted under the wrong name: refuse.
CREATE FUNCTION oms_router_remote.check_identities(answered text[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    bad text;
BEGIN
    SELECT a INTO bad FROM unnest(answered) a
     WHERE a IS NULL OR NOT EXISTS (SELECT FROM oms_router.merchants m WHERE m.merchant = a) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'a merchant database answered as merchant %, which is not in the directory', coalesce(bad, 'NULL')
            USING ERRCODE = '55000',
                  HINT = 'Each merchant database needs ALTER DATABASE ... SET oms_router.merchant = ''<merchant>''; run oms_router.check(merchant) for each merchant.';
    END IF;
END $$;

CREATE FUNCTION oms_router.platform_sales_daily(since date DEFAULT current_date - 30,
    OUT merchant text, OUT day date, OUT currency text, OUT orders bigint, OUT units bigint, OUT net numeric)
RETURNS SETOF record
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $$
DECLARE
    rows oms_router_remote.sales_daily_row[];
    st text; msg text; det text; hnt text;
BEGIN
    BEGIN
        SELECT array_agg(ROW(s.merchant, s.day, s.currency, s.orders, s.units, s.net)::oms_router_remote.sales_daily_row)
          INTO rows FROM oms_router_remote.sales_daily_all(since) s;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
        PERFORM oms_router_remote.reraise(st, msg, det, hnt);
    END;
    PERFORM oms_router_remote.check_identities(ARRAY(SELECT DISTINCT r.merchant FROM unnest(rows) r));
    -- each database answers one row per day and currency: a second row means
    -- two directory rows reach the same database
    IF (SELECT count(*) FROM unnest(rows)) <> (SELECT count(DISTINCT (r.merchant, r.day, r.currency)) FROM unnest(rows) r) THEN
        RAISE EXCEPTION 'the merchant databases did not answer once each' USING ERRCODE = '55000',
            DETAIL = 'A merchant answered twice for the same day and currency.',
            HINT = 'Two directory rows may point at the same database: run oms_router.check(merchant) for each merchant.';
    END IF;
    RETURN QUERY SELECT r.merchant, r.day, r.currency, r.orders, r.units, r.net FROM unnest(rows) r
                  ORDER BY r.merchant, r.day, r.currency;
END $$;
COMMENT ON FUNCTION oms_router.platform_sales_daily(date) IS
    'Per merchant, day and currency since a day: orders, units and net of oms.report_sales_daily, from every merchant database';

CREATE FUNCTION oms_router.platform_stock(
    OUT merchant text, OUT skus bigint, OUT on_hand bigint, OUT reserved bigint, OUT available bigint,
    OUT value_at_cost numeric)
RETURNS SETOF record
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $$
DECLARE
    rows oms_router_remote.stock_row[];
    st text; msg text; det text; hnt text;
BEGIN
    BEGIN
        SELECT array_agg(ROW(s.merchant, s.skus, s.on_hand, s.reserved, s.available, s.value_at_cost)::oms_router_remote.stock_row)
          INTO rows FROM oms_router_remote.stock_all() s;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
        PERFORM oms_router_remote.reraise(st, msg, det, hnt);
    END;
    PERFORM oms_router_remote.check_identities(ARRAY(SELECT r.merchant FROM unnest(rows) r));
    IF (SELECT count(*) FROM unnest(rows)) <> (SELECT count(DISTINCT r.merchant) FROM unnest(rows) r)
       OR (SELECT count(*) FROM unnest(rows)) <> (SELECT count(*) FROM oms_router.merchants) THEN
        RAISE EXCEPTION 'the merchant databases did not answer once each' USING ERRCODE = '55000',
            DETAIL = format('%s answers for %s merchants.', (SELECT count(*) FROM unnest(rows)), (SELECT count(*) FROM oms_router.merchants)),
            HINT = 'Two directory rows may point at the same database: run oms_router.check(merchant) for each merchant.';
    END IF;
    RETURN QUERY SELECT r.merchant, r.skus, r.on_hand, r.reserved, r.available, r.value_at_cost FROM unnest(rows) r
                  ORDER BY r.merchant;
END $$;
COMMENT ON FUNCTION oms_router.platform_stock() IS
    'Per merchant: skus, units on hand, reserved and available at its locations, and their value at cost, from every merchant database';

-- ---- privileges ------------------------------------------------------------------

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA oms_router, oms_router_remote, plproxy FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA oms_router, oms_router_remote FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA oms_router_remote FROM PUBLIC;
GRANT USAGE ON SCHEMA oms_router TO oms_router_app, oms_router_reporting, oms_router_admin;
GRANT EXECUTE ON FUNCTION oms_router.check(text), oms_router.platform_sales_daily(date), oms_router.platform_stock()
    TO oms_router_reporting, oms_router_admin;
GRANT SELECT ON oms_router.merchant_list TO oms_router_reporting, oms_router_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON oms_router.merchants TO oms_router_admin;
