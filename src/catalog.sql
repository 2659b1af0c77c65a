
-- ===========================================================================
-- catalog: channels, locations, products, kit components, customers
-- (src/catalog.c)
--
-- oms_admin maintains these tables with plain SQL; every rule that matters
-- is a named constraint or a trigger, so a hand-written INSERT is held to
-- the same rules as the API.
-- ===========================================================================

CREATE TABLE oms.channels (
    id          serial      NOT NULL,
    code        text        NOT NULL,
    name        text        NOT NULL,
    kind        text        NOT NULL,
    active      boolean     NOT NULL DEFAULT true,
    hold_minutes integer,
    routing_strategy text   NOT NULL DEFAULT 'cheapest',
    max_distance_km numeric(8,1),
    return_window_days integer NOT NULL DEFAULT 30,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    price_check text        NOT NULL DEFAULT 'accept',
    tax_mode    text        NOT NULL DEFAULT 'given',
    prices_include_tax boolean NOT NULL DEFAULT false,
    CONSTRAINT channels_pkey PRIMARY KEY (id),
    CONSTRAINT channels_tax_mode_chk CHECK (tax_mode OPERATOR(pg_catalog.=) ANY (ARRAY['given', 'computed'])),
    CONSTRAINT channels_routing_strategy_chk CHECK (routing_strategy OPERATOR(pg_catalog.=) ANY (ARRAY['closest', 'cheapest', 'priority', 'balance', 'fastest'])),
    CONSTRAINT channels_max_distance_chk CHECK (max_distance_km OPERATOR(pg_catalog.>) 0),
    CONSTRAINT channels_return_window_chk CHECK (return_window_days OPERATOR(pg_catalog.>=) 0
        AND return_window_days OPERATOR(pg_catalog.<=) 3650),
    CONSTRAINT channels_hold_minutes_chk CHECK (hold_minutes OPERATOR(pg_catalog.>=) 0 AND hold_minutes OPERATOR(pg_catalog.<=) 525600),
    CONSTRAINT channels_code_key UNIQUE (code),
    CONSTRAINT channels_code_chk CHECK (code OPERATOR(pg_catalog.~) '^[a-z0-9][a-z0-9_-]{0,31}$'),
    CONSTRAINT channels_name_chk CHECK (pg_catalog.length(pg_catalog.btrim(name)) OPERATOR(pg_catalog.>) 0),
    CONSTRAINT channels_kind_chk CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['web', 'mobile', 'pos', 'marketplace', 'phone', 'wholesale'])),
    CONSTRAINT channels_price_check_chk CHECK (price_check OPERATOR(pg_catalog.~) '^(accept|strict)$')
);
COMMENT ON TABLE oms.channels IS 'Sales channels orders come from (web shop, app, POS, marketplace, phone, wholesale)';
COMMENT ON COLUMN oms.channels.id IS 'Surrogate key';
COMMENT ON COLUMN oms.channels.code IS 'Stable code the API uses to name the channel (lowercase letters, digits, _ and -)';
COMMENT ON COLUMN oms.channels.name IS 'Display name';
COMMENT ON COLUMN oms.channels.kind IS 'web, mobile, pos, marketplace, phone or wholesale';
COMMENT ON COLUMN oms.channels.active IS 'Inactive channels accept no new orders';
COMMENT ON COLUMN oms.channels.hold_minutes IS 'How long reservations of unpaid orders from this channel are held; NULL uses the GUC oms.hold_minutes, 0 holds until paid or cancelled';
COMMENT ON COLUMN oms.channels.routing_strategy IS 'How routing ranks locations after the number of shipments: closest, cheapest (estimated cost), priority, balance (most stock left after the order) or fastest (earliest promised delivery)';
COMMENT ON COLUMN oms.channels.max_distance_km IS 'Locations farther than this from the ship-to are not routed to; NULL means no limit';
COMMENT ON COLUMN oms.channels.return_window_days IS 'Days after delivery (or shipping, when not delivered) in which returns are accepted';
COMMENT ON COLUMN oms.channels.created_at IS 'When the channel was created';
COMMENT ON COLUMN oms.channels.price_check IS 'accept: a line''s given unit_price stands; strict: place_order refuses a given unit_price that differs from the price list''s (22023)';
COMMENT ON COLUMN oms.channels.tax_mode IS 'given: a line''s tax is what the caller sends, computed from oms.tax_rates when it sends none; computed: oms computes every line''s tax and refuses a given one';
COMMENT ON COLUMN oms.channels.prices_include_tax IS 'Unit prices from this channel are gross (tax included) unless the document says otherwise; oms extracts the tax';

CREATE TABLE oms.locations (
    id              serial           NOT NULL,
    code            text             NOT NULL,
    name            text             NOT NULL,
    kind            text             NOT NULL,
    latitude        double precision NOT NULL,
    longitude       double precision NOT NULL,
    ships           boolean          NOT NULL DEFAULT true,
    pickup          boolean          NOT NULL DEFAULT false,
    priority        integer          NOT NULL DEFAULT 100,
    daily_capacity  integer,
    handling_cost   numeric(12,2)    NOT NULL DEFAULT 0,
    cost_per_km     numeric(10,4)    NOT NULL DEFAULT 0,
    address         text,
    active          boolean          NOT NULL DEFAULT true,
    created_at      timestamptz      NOT NULL DEFAULT pg_catalog.now(),
    time_zone       text             NOT NULL DEFAULT 'UTC',
    cutoff_time     time,
    country         text,
    region          text,
    CONSTRAINT locations_pkey PRIMARY KEY (id),
    CONSTRAINT locations_code_key UNIQUE (code),
    CONSTRAINT locations_code_chk CHECK (code OPERATOR(pg_catalog.~) '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$'),
    CONSTRAINT locations_name_chk CHECK (pg_catalog.length(pg_catalog.btrim(name)) OPERATOR(pg_catalog.>) 0),
    CONSTRAINT locations_kind_chk CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['warehouse', 'store', 'dropship'])),
    CONSTRAINT locations_latitude_chk CHECK (latitude OPERATOR(pg_catalog.>=) -90 AND latitude OPERATOR(pg_catalog.<=) 90),
    CONSTRAINT locations_longitude_chk CHECK (longitude OPERATOR(pg_catalog.>=) -180 AND longitude OPERATOR(pg_catalog.<=) 180),
    CONSTRAINT locations_priority_chk CHECK (priority OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT locations_daily_capacity_chk CHECK (daily_capacity OPERATOR(pg_catalog.>) 0),
    CONSTRAINT locations_handling_cost_chk CHECK (handling_cost OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT locations_cost_per_km_chk CHECK (cost_per_km OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT locations_dropship_pickup_chk CHECK (NOT (kind OPERATOR(pg_catalog.=) 'dropship' AND pickup)),
    CONSTRAINT locations_country_chk CHECK (country OPERATOR(pg_catalog.~) '^[A-Z]{2}$'),
    CONSTRAINT locations_region_chk CHECK (region IS NULL OR (pg_catalog.length(pg_catalog.btrim(region)) OPERATOR(pg_catalog.>) 0
        AND pg_catalog.length(region) OPERATOR(pg_catalog.<=) 64 AND country IS NOT NULL))
);
COMMENT ON TABLE oms.locations IS 'Places that hold stock: warehouses, stores and dropship vendors';
COMMENT ON COLUMN oms.locations.id IS 'Surrogate key';
COMMENT ON COLUMN oms.locations.code IS 'Stable code the API uses to name the location';
COMMENT ON COLUMN oms.locations.name IS 'Display name';
COMMENT ON COLUMN oms.locations.kind IS 'warehouse, store or dropship';
COMMENT ON COLUMN oms.locations.latitude IS 'WGS84 latitude in degrees, used for distance-based routing';
COMMENT ON COLUMN oms.locations.longitude IS 'WGS84 longitude in degrees, used for distance-based routing';
COMMENT ON COLUMN oms.locations.ships IS 'Can ship parcels to customers';
COMMENT ON COLUMN oms.locations.pickup IS 'Customers can collect orders here (click and collect)';
COMMENT ON COLUMN oms.locations.priority IS 'Routing preference: lower numbers are preferred';
COMMENT ON COLUMN oms.locations.daily_capacity IS 'Orders the location can take per day; NULL means unlimited';
COMMENT ON COLUMN oms.locations.handling_cost IS 'Cost of handling one shipment here, in the base currency';
COMMENT ON COLUMN oms.locations.cost_per_km IS 'Estimated shipping cost per km from here to the ship-to, in the base currency; routing multiplies it by the distance';
COMMENT ON COLUMN oms.locations.address IS 'Postal address printed as the sender on labels and packing slips (lines separated by newlines)';
COMMENT ON COLUMN oms.locations.active IS 'Inactive locations are never routed to';
COMMENT ON COLUMN oms.locations.created_at IS 'When the location was created';
COMMENT ON COLUMN oms.locations.time_zone IS 'The location''s time zone (IANA name, for example Europe/Berlin): its days for the daily capacity and the cut-off';
COMMENT ON COLUMN oms.locations.cutoff_time IS 'Local time after which an order ships the next day (delivery promises); NULL: it ships the same day';
COMMENT ON COLUMN oms.locations.country IS 'ISO 3166-1 alpha-2 country code: where a pickup or counter order handed over here is taxed (oms.tax_rates); NULL: such orders are taxed by ship_to.country';
COMMENT ON COLUMN oms.locations.region IS 'Region for oms.tax_rates.region (exact text), with country; NULL: the whole country';

-- a time zone is checked when it is written, so that routing never meets
-- one it cannot use
CREATE FUNCTION oms.locations_time_zone_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_timezone_names WHERE name OPERATOR(pg_catalog.=) NEW.time_zone) THEN
        RAISE EXCEPTION 'unknown time zone "%" for location %', NEW.time_zone, NEW.code
            USING ERRCODE = '22023', DETAIL = 'pg_timezone_names has no time zone of this name.',
                  HINT = 'Use an IANA name such as Europe/Berlin or America/New_York.';
    END IF;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION oms.locations_time_zone_guard() IS 'Trigger: a location''s time zone must be one PostgreSQL knows';
CREATE TRIGGER locations_time_zone_guard BEFORE INSERT OR UPDATE OF time_zone ON oms.locations
    FOR EACH ROW EXECUTE FUNCTION oms.locations_time_zone_guard();

CREATE TABLE oms.products (
    id            bigserial      NOT NULL,
    sku           text           NOT NULL,
    gtin          oms.gtin,
    name          text           NOT NULL,
    kind          text           NOT NULL DEFAULT 'stock',
    weight_kg     numeric(10,3)  NOT NULL DEFAULT 0,
    reorder_point integer        NOT NULL DEFAULT 0,
    reorder_qty   integer        NOT NULL DEFAULT 0,
    unit_cost     numeric(14,4),
    active        boolean        NOT NULL DEFAULT true,
    created_at    timestamptz    NOT NULL DEFAULT pg_catalog.now(),
    tax_class     text           NOT NULL DEFAULT 'standard',
    CONSTRAINT products_pkey PRIMARY KEY (id),
    CONSTRAINT products_tax_class_chk CHECK (tax_class OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,31}$'),
    CONSTRAINT products_sku_key UNIQUE (sku),
    CONSTRAINT products_gtin_key UNIQUE (gtin),
    CONSTRAINT products_sku_chk CHECK (sku OPERATOR(pg_catalog.~) '^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$'),
    CONSTRAINT products_name_chk CHECK (pg_catalog.length(pg_catalog.btrim(name)) OPERATOR(pg_catalog.>) 0),
    CONSTRAINT products_kind_chk CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['stock', 'kit', 'service'])),
    CONSTRAINT products_weight_chk CHECK (weight_kg OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT products_reorder_point_chk CHECK (reorder_point OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT products_reorder_qty_chk CHECK (reorder_qty OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT products_unit_cost_chk CHECK (unit_cost OPERATOR(pg_catalog.>=) 0)
);
COMMENT ON TABLE oms.products IS 'Sellable items: stock items, kits (bundles of stock items) and services (no stock)';
COMMENT ON COLUMN oms.products.id IS 'Surrogate key';
COMMENT ON COLUMN oms.products.sku IS 'Stock keeping unit, the key the API uses (case-sensitive)';
COMMENT ON COLUMN oms.products.gtin IS 'Barcode number (GTIN-8, UPC-A, EAN-13 or GTIN-14), unique when present';
COMMENT ON COLUMN oms.products.name IS 'Display name';
COMMENT ON COLUMN oms.products.kind IS 'stock (holds inventory), kit (made of stock components, no inventory of its own) or service (no inventory)';
COMMENT ON COLUMN oms.products.weight_kg IS 'Shipping weight of one unit in kilograms';
COMMENT ON COLUMN oms.products.reorder_point IS 'Stock level at or below which a reorder is suggested';
COMMENT ON COLUMN oms.products.reorder_qty IS 'Quantity suggested when reordering';
COMMENT ON COLUMN oms.products.unit_cost IS 'Cost of one unit in the base currency, when known (inventory valuation)';
COMMENT ON COLUMN oms.products.active IS 'Inactive products cannot be ordered';
COMMENT ON COLUMN oms.products.created_at IS 'When the product was created';
COMMENT ON COLUMN oms.products.tax_class IS 'Tax class (standard, reduced, zero, ...): which oms.tax_rates row applies to it';

CREATE TABLE oms.kit_components (
    kit_id        bigint  NOT NULL,
    component_id  bigint  NOT NULL,
    qty           integer NOT NULL,
    CONSTRAINT kit_components_pkey PRIMARY KEY (kit_id, component_id),
    CONSTRAINT kit_components_kit_fkey FOREIGN KEY (kit_id) REFERENCES oms.products (id) ON DELETE CASCADE,
    CONSTRAINT kit_components_component_fkey FOREIGN KEY (component_id) REFERENCES oms.products (id) ON DELETE RESTRICT,
    CONSTRAINT kit_components_qty_chk CHECK (qty OPERATOR(pg_catalog.>) 0),
    CONSTRAINT kit_components_self_chk CHECK (kit_id OPERATOR(pg_catalog.<>) component_id)
);
CREATE INDEX kit_components_component_idx ON oms.kit_components (component_id);
COMMENT ON TABLE oms.kit_components IS 'What one unit of a kit is made of; a kit has no stock of its own';
COMMENT ON COLUMN oms.kit_components.kit_id IS 'The kit (a product of kind kit)';
COMMENT ON COLUMN oms.kit_components.component_id IS 'A component (a product of kind stock; kits do not nest)';
COMMENT ON COLUMN oms.kit_components.qty IS 'Units of the component in one kit';

CREATE TABLE oms.customers (
    id            bigserial   NOT NULL,
    external_ref  text,
    email         text,
    name          text,
    flags         text[]      NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    phone         text,
    erased_at     timestamptz,
    erase_reason  text,
    terms_days    integer     NOT NULL DEFAULT 30,
    CONSTRAINT customers_pkey PRIMARY KEY (id),
    CONSTRAINT customers_terms_days_chk CHECK (terms_days OPERATOR(pg_catalog.>=) 0 AND terms_days OPERATOR(pg_catalog.<=) 365),
    CONSTRAINT customers_external_ref_key UNIQUE (external_ref),
    CONSTRAINT customers_identity_chk CHECK (external_ref IS NOT NULL OR email IS NOT NULL),
    CONSTRAINT customers_external_ref_chk CHECK (pg_catalog.length(pg_catalog.btrim(external_ref)) OPERATOR(pg_catalog.>) 0),
    -- E.164: a plus, the country code and the number, digits only
    CONSTRAINT customers_phone_chk CHECK (phone OPERATOR(pg_catalog.~) '^\+[1-9][0-9]{6,14}$'),
    CONSTRAINT customers_email_chk CHECK (email OPERATOR(pg_catalog.~) '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'),
    -- each field on its own, as the API scans them: joined, the digits at
    -- the end of one and the start of the next could read as one number
    CONSTRAINT customers_no_card_number_chk CHECK (NOT oms.contains_card_number(COALESCE(external_ref, ''))
        AND NOT oms.contains_card_number(COALESCE(email, '')) AND NOT oms.contains_card_number(COALESCE(name, ''))
        AND NOT oms.contains_card_number(COALESCE(erase_reason, ''))),
    -- at most 32 flags of at most 32 characters, as place_order takes them
    CONSTRAINT customers_flags_chk CHECK (
        pg_catalog.array_position(flags, NULL) IS NULL AND pg_catalog.cardinality(flags) OPERATOR(pg_catalog.<=) 32
        AND pg_catalog.array_to_string(flags, ',') OPERATOR(pg_catalog.~) '^([a-z][a-z0-9_]{0,31}(,|$))*$')
);
CREATE UNIQUE INDEX customers_email_key ON oms.customers (pg_catalog.lower(email));
COMMENT ON TABLE oms.customers IS 'People and businesses that place orders';
COMMENT ON COLUMN oms.customers.id IS 'Surrogate key';
COMMENT ON COLUMN oms.customers.external_ref IS 'The customer''s id in the calling system (shop, CRM), unique when present';
COMMENT ON COLUMN oms.customers.email IS 'Email address, unique case-insensitively when present';
COMMENT ON COLUMN oms.customers.name IS 'Display name';
COMMENT ON COLUMN oms.customers.flags IS 'Lowercase flags such as vip, fraud_review or terms that rules act on';
COMMENT ON COLUMN oms.customers.created_at IS 'When the customer was created';
COMMENT ON COLUMN oms.customers.phone IS 'Mobile number in E.164 form (+4915112345678), for SMS notifications';
COMMENT ON COLUMN oms.customers.erased_at IS 'When the customer''s personal data was erased (oms.erase_customer); the row stays for the orders';
COMMENT ON COLUMN oms.customers.erase_reason IS 'Why it was erased (the request it answered)';
COMMENT ON COLUMN oms.customers.terms_days IS 'Payment terms in days: an invoice of a customer flagged terms is due this many days after it is issued';

-- Kits: the kit must be of kind kit and every component of kind stock
-- (kits do not nest, which keeps kit reservation one level deep), and a
-- product cannot change kind while that would break an existing kit.
-- A trigger rather than a CHECK because the rule spans two tables.
--
-- Concurrency: the foreign key only takes KEY SHARE on the product rows,
-- which does not conflict with an UPDATE of products.kind, so an insert of
-- a component and a kind change could each pass their check and both
-- commit. The guard therefore reads the kit and component rows FOR SHARE:
-- that conflicts with the kind UPDATE's row lock, so whichever comes second
-- waits for the first and then sees its committed result
-- (test/specs/kit_kind_race.spec).
CREATE FUNCTION oms.catalog_kit_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_kind text;
    v_sku  text;
BEGIN
    IF TG_TABLE_NAME OPERATOR(pg_catalog.=) 'kit_components' THEN
        SELECT kind, sku INTO v_kind, v_sku FROM oms.products WHERE id OPERATOR(pg_catalog.=) NEW.kit_id FOR SHARE;
        IF v_kind OPERATOR(pg_catalog.<>) 'kit' THEN
            RAISE EXCEPTION 'product % is not a kit', v_sku
                USING ERRCODE = '23514',
                      DETAIL = pg_catalog.format('Only products of kind kit have components; %s is of kind %s.', v_sku, v_kind),
                      HINT = 'Set the product''s kind to kit first.';
        END IF;
        SELECT kind, sku INTO v_kind, v_sku FROM oms.products WHERE id OPERATOR(pg_catalog.=) NEW.component_id FOR SHARE;
        IF v_kind OPERATOR(pg_catalog.<>) 'stock' THEN
            RAISE EXCEPTION 'kit component % is not a stock product', v_sku
                USING ERRCODE = '23514',
                      DETAIL = pg_catalog.format('Components must be of kind stock; %s is of kind %s.', v_sku, v_kind),
                      HINT = 'Kits do not nest: list the stock components of the inner kit instead.';
        END IF;
    ELSE
        IF NEW.kind OPERATOR(pg_catalog.<>) 'kit'
           AND EXISTS (SELECT FROM oms.kit_components WHERE kit_id OPERATOR(pg_catalog.=) NEW.id) THEN
            RAISE EXCEPTION 'product % has kit components', NEW.sku
                USING ERRCODE = '23514',
                      DETAIL = pg_catalog.format('Product %s cannot become %s while it lists components.', NEW.sku, NEW.kind),
                      HINT = 'Delete its rows from oms.kit_components first.';
        END IF;
        IF NEW.kind OPERATOR(pg_catalog.<>) 'stock'
           AND EXISTS (SELECT FROM oms.kit_components WHERE component_id OPERATOR(pg_catalog.=) NEW.id) THEN
            RAISE EXCEPTION 'product % is a kit component', NEW.sku
                USING ERRCODE = '23514',
                      DETAIL = pg_catalog.format('Product %s cannot become %s while a kit uses it.', NEW.sku, NEW.kind),
                      HINT = 'Remove it from the kits that use it first.';
        END IF;
    END IF;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION oms.catalog_kit_guard() IS 'Trigger: kits contain only stock products, and kinds cannot change under a kit';

CREATE TRIGGER kit_components_guard
    BEFORE INSERT OR UPDATE ON oms.kit_components
    FOR EACH ROW EXECUTE FUNCTION oms.catalog_kit_guard();
CREATE TRIGGER products_kind_guard
    BEFORE UPDATE OF kind ON oms.products
    FOR EACH ROW WHEN (OLD.kind IS DISTINCT FROM NEW.kind)
    EXECUTE FUNCTION oms.catalog_kit_guard();

-- A kit's bill of materials (its rows in oms.kit_components) cannot change,
-- by INSERT, UPDATE or DELETE, while open orders hold the kit: order lines
-- of the kit with reserved or backordered units (55000). Those units were
-- reserved, or are to be, as the components listed when the order was
-- placed; a changed list would leave the order unable to ship (shipping
-- and the kit_line_vs_bom invariant read the current list).
--
-- Why a refusal, not a frozen bill of materials per order line: one rule
-- here against teaching routing, reservation, shipping, returns, documents
-- and reports to read a per-line composition. A new composition is a new
-- kit product anyway (its own sku, price and history), and the kit is free
-- again once its open orders have shipped or been cancelled.
--
-- Concurrency, the protocol (test/specs/kit_bom_vs_place.spec):
--   * place_order locks the rows of the order's kit products FOR SHARE
--     (src/order_place.c, PoLockKits) in a statement of its own, before the
--     statement that reads their components, and holds the lock until it
--     ends. Orders without kits skip the step. Concurrent place_orders of
--     one kit share the lock.
--   * this guard first UPDATEs the kit's products row (SET kind = kind,
--     which changes nothing but whose row lock conflicts with FOR SHARE),
--     then looks for open orders in a later statement.
--   So a change waits for every place_order of the kit in flight, and its
--   check, a new statement and so a new snapshot under READ COMMITTED, sees
--   their committed lines and refuses. A place_order that comes after the
--   change waits for it to end, then reads the components in a new
--   statement: the committed new list. The UPDATE (rather than a SELECT ...
--   FOR NO KEY UPDATE) leaves a new row version, so that a REPEATABLE READ
--   or SERIALIZABLE place_order whose snapshot predates the change gets
--   40001 from its FOR SHARE instead of reading the old list. The change
--   itself must run under READ COMMITTED: with a transaction snapshot the
--   check cannot see an order committed after the snapshot was taken, so
--   it is refused (55000) under the other levels. Lock order: place_order
--   locks its order row, then the kit rows (ascending id), then balance
--   rows; the guard locks kit rows only (ascending id) and reads order
--   lines without locking them, so the two cannot deadlock.
--
-- Its trigger fires before kit_components_guard (triggers fire in name
-- order), so the kit row is already locked when that one reads it.
CREATE FUNCTION oms.catalog_kit_bom_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_sku   text;
    v_kit   bigint;
    v_kits  bigint[];
    v_open  bigint;
BEGIN
    -- the kits whose bill of materials changes, in id order (an UPDATE can
    -- move a row from one kit to another)
    IF TG_OP OPERATOR(pg_catalog.=) 'INSERT' THEN
        v_kits := ARRAY[NEW.kit_id];
    ELSIF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
        v_kits := ARRAY[OLD.kit_id];
    ELSIF OLD.kit_id OPERATOR(pg_catalog.=) NEW.kit_id THEN
        v_kits := ARRAY[NEW.kit_id];
    ELSE
        v_kits := CASE WHEN OLD.kit_id OPERATOR(pg_catalog.<) NEW.kit_id THEN ARRAY[OLD.kit_id, NEW.kit_id]
                       ELSE ARRAY[NEW.kit_id, OLD.kit_id] END;
    END IF;
    IF pg_catalog.current_setting('transaction_isolation') OPERATOR(pg_catalog.<>) 'read committed' THEN
        SELECT sku INTO v_sku FROM oms.products WHERE id OPERATOR(pg_catalog.=) v_kits[1];
        RAISE EXCEPTION 'kit components cannot be changed under % isolation', pg_catalog.current_setting('transaction_isolation')
            USING ERRCODE = '55000',
                  DETAIL = pg_catalog.format('The check for open orders of kit %s must see the orders committed while it waits, which a transaction snapshot does not.', v_sku),
                  HINT = 'Change kit components in a READ COMMITTED transaction (the default).';
    END IF;
    FOREACH v_kit IN ARRAY v_kits LOOP
        -- the lock of the protocol above; a kit deleted by this very
        -- statement (ON DELETE CASCADE) is not found and needs no check
        UPDATE oms.products SET kind = kind WHERE id OPERATOR(pg_catalog.=) v_kit RETURNING sku INTO v_sku;
        CONTINUE WHEN NOT FOUND;
        -- a new statement: under READ COMMITTED it sees the orders of every
        -- place_order the UPDATE waited for
        SELECT pg_catalog.count(DISTINCT ol.order_id) INTO v_open
          FROM oms.order_lines ol
         WHERE ol.product_id OPERATOR(pg_catalog.=) v_kit
           AND (ol.qty_reserved OPERATOR(pg_catalog.>) 0 OR ol.qty_backordered OPERATOR(pg_catalog.>) 0);
        IF v_open OPERATOR(pg_catalog.>) 0 THEN
            RAISE EXCEPTION 'kit % is held by open orders', v_sku
                USING ERRCODE = '55000',
                      DETAIL = pg_catalog.format('%s order(s) hold reserved or backordered units of kit %s as its current components; changing them would leave those orders unable to ship.', v_open, v_sku),
                      HINT = pg_catalog.format('Create a new kit product for the new composition, or wait until the open orders of kit %s have shipped or been cancelled.', v_sku);
        END IF;
    END LOOP;
    IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION oms.catalog_kit_bom_guard() IS 'Trigger: a kit''s components cannot change while open orders (reserved or backordered units) hold the kit';

CREATE TRIGGER kit_components_bom_guard
    BEFORE INSERT OR UPDATE OR DELETE ON oms.kit_components
    FOR EACH ROW EXECUTE FUNCTION oms.catalog_kit_bom_guard();

-- Great-circle distance, used by routing and reports.
CREATE FUNCTION oms.distance_km(lat1 double precision, lon1 double precision,
                                lat2 double precision, lon2 double precision)
    RETURNS double precision
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'distance_km';
COMMENT ON FUNCTION oms.distance_km(double precision, double precision, double precision, double precision)
    IS 'Great-circle (haversine) distance in kilometres between two WGS84 points';

-- Catalog rows are user data: pg_dump must keep them.
SELECT pg_catalog.pg_extension_config_dump('oms.channels', '');
SELECT pg_catalog.pg_extension_config_dump('oms.channels_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.locations', '');
SELECT pg_catalog.pg_extension_config_dump('oms.locations_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.products', '');
SELECT pg_catalog.pg_extension_config_dump('oms.products_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.kit_components', '');
SELECT pg_catalog.pg_extension_config_dump('oms.customers', '');
SELECT pg_catalog.pg_extension_config_dump('oms.customers_id_seq', '');

-- Card-number guard (issue 13, breach 9). Tables that oms_admin writes with
-- plain SQL get the trigger (a clean 22023 naming the column; a CHECK would
-- echo the row in its DETAIL); columns that only C entry points write, which
-- check first, get a CHECK constraint backstop.
CREATE TRIGGER channels_no_card_number BEFORE INSERT OR UPDATE ON oms.channels
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('name');
CREATE TRIGGER locations_no_card_number BEFORE INSERT OR UPDATE ON oms.locations
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('name', 'address');
CREATE TRIGGER products_no_card_number BEFORE INSERT OR UPDATE ON oms.products
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('name');
