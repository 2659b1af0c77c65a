
-- ===========================================================================
-- orders: orders, lines, reservations; place_order, cancel_order,
-- expire_reservations (src/order_*.c, see src/orders.h; location choice in
-- src/route_*.c)
-- ===========================================================================

CREATE TABLE oms.orders (
    id            bigserial     NOT NULL,
    channel_id    integer       NOT NULL,
    external_id   text          NOT NULL,
    customer_id   bigint,
    currency      text          NOT NULL,
    status        text          NOT NULL,
    policy        text          NOT NULL,
    split_policy  text          NOT NULL DEFAULT 'allow',
    pickup_location_id integer,
    ship_to       jsonb,
    ship_lat      double precision,
    ship_lon      double precision,
    flags         text[]        NOT NULL DEFAULT '{}',
    notes         text,
    hold_minutes  integer       NOT NULL,
    expires_at    timestamptz,
    subtotal      numeric(16,4) NOT NULL DEFAULT 0,
    discount      numeric(16,4) NOT NULL DEFAULT 0,
    tax           numeric(16,4) NOT NULL DEFAULT 0,
    total         numeric(16,4) NOT NULL DEFAULT 0,
    request_hash  bytea         NOT NULL,
    placed_at     timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    updated_at    timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    cancel_reason text,
    held_from     text,
    deliver_by    date,
    service_level text,
    source_code   text,
    shipping      numeric(16,4) NOT NULL DEFAULT 0,
    CONSTRAINT orders_pkey PRIMARY KEY (id),
    CONSTRAINT orders_shipping_chk CHECK (shipping OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT orders_channel_external_id_key UNIQUE (channel_id, external_id),
    CONSTRAINT orders_channel_fkey FOREIGN KEY (channel_id) REFERENCES oms.channels (id),
    CONSTRAINT orders_customer_fkey FOREIGN KEY (customer_id) REFERENCES oms.customers (id),
    CONSTRAINT orders_currency_chk CHECK (currency OPERATOR(pg_catalog.~) '^[A-Z]{3}$'),
    -- anchored patterns for the closed sets: see stock_movements_kind_chk
    CONSTRAINT orders_split_policy_chk CHECK (split_policy OPERATOR(pg_catalog.~) '^(allow|avoid|forbid)$'),
    CONSTRAINT orders_pickup_location_fkey FOREIGN KEY (pickup_location_id) REFERENCES oms.locations (id),
    CONSTRAINT orders_service_level_chk CHECK (service_level OPERATOR(pg_catalog.~) '^(standard|express)$'),
    CONSTRAINT orders_policy_chk CHECK (policy OPERATOR(pg_catalog.~) '^(all_or_nothing|partial|backorder)$'),
    CONSTRAINT orders_ship_lat_chk CHECK (ship_lat OPERATOR(pg_catalog.>=) -90 AND ship_lat OPERATOR(pg_catalog.<=) 90),
    CONSTRAINT orders_ship_lon_chk CHECK (ship_lon OPERATOR(pg_catalog.>=) -180 AND ship_lon OPERATOR(pg_catalog.<=) 180),
    CONSTRAINT orders_hold_minutes_chk CHECK (hold_minutes OPERATOR(pg_catalog.>=) 0),
    -- ship_to: its strings and numbers at any depth, as place_order scans
    -- them, except the coordinates lat and lon, whose decimals are a long
    -- digit run that passes the Luhn check one time in ten (a C function:
    -- the same scan written as a SQL expression here was parsed and planned
    -- again by every INSERT of an order)
    CONSTRAINT orders_no_card_number_chk CHECK (NOT oms.contains_card_number(COALESCE(notes, ''))
        AND NOT oms.ship_to_contains_card_number(ship_to)),
    -- at most 32 flags of at most 32 characters (place_order)
    CONSTRAINT orders_flags_chk CHECK (
        pg_catalog.array_position(flags, NULL) IS NULL AND pg_catalog.cardinality(flags) OPERATOR(pg_catalog.<=) 32
        AND pg_catalog.array_to_string(flags, ',') OPERATOR(pg_catalog.~) '^([a-z][a-z0-9_]{0,31}(,|$))*$'),
    -- LEAST over NOT NULL columns: one comparison to parse per statement
    CONSTRAINT orders_amounts_chk CHECK (LEAST(subtotal, discount, tax, total) OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT orders_source_code_chk CHECK (source_code OPERATOR(pg_catalog.~) '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')
);
CREATE INDEX orders_customer_idx ON oms.orders (customer_id);
CREATE INDEX orders_expiry_idx ON oms.orders (expires_at) WHERE expires_at IS NOT NULL;
COMMENT ON TABLE oms.orders IS 'Customer orders; created by oms.place_order, unique per (channel, external_id)';
COMMENT ON COLUMN oms.orders.id IS 'Order id';
COMMENT ON COLUMN oms.orders.channel_id IS 'Channel the order came from';
COMMENT ON COLUMN oms.orders.external_id IS 'The order''s id in the calling system; the idempotency key together with the channel';
COMMENT ON COLUMN oms.orders.customer_id IS 'Customer, NULL for a guest order';
COMMENT ON COLUMN oms.orders.currency IS 'ISO 4217 currency code of all amounts';
COMMENT ON COLUMN oms.orders.status IS 'Lifecycle status (oms.order_statuses; changes follow oms.order_transitions)';
COMMENT ON COLUMN oms.orders.policy IS 'What placement did with short stock: all_or_nothing, partial or backorder';
COMMENT ON COLUMN oms.orders.split_policy IS 'Whether routing may split the order over several shipments: allow, avoid (only to fulfil everything) or forbid';
COMMENT ON COLUMN oms.orders.pickup_location_id IS 'Click and collect: the location the customer collects from (ship_to.pickup); NULL for shipped orders';
COMMENT ON COLUMN oms.orders.ship_to IS 'Ship-to address as given';
COMMENT ON COLUMN oms.orders.ship_lat IS 'Ship-to latitude, when given';
COMMENT ON COLUMN oms.orders.ship_lon IS 'Ship-to longitude, when given';
COMMENT ON COLUMN oms.orders.flags IS 'Order flags such as vip, gift or fraud_review';
COMMENT ON COLUMN oms.orders.notes IS 'Free notes';
COMMENT ON COLUMN oms.orders.hold_minutes IS 'Reservation hold while unpaid, in minutes; 0 holds until paid or cancelled';
COMMENT ON COLUMN oms.orders.expires_at IS 'When unpaid reservations lapse; NULL when they do not';
COMMENT ON COLUMN oms.orders.subtotal IS 'Sum of (qty - qty_cancelled) * unit_price over the lines: the units owed (placement cancels units under policy partial)';
COMMENT ON COLUMN oms.orders.discount IS 'Sum of line discounts, each in proportion to the line''s units owed, rounded to 4 decimals';
COMMENT ON COLUMN oms.orders.tax IS 'Sum of line taxes, each in proportion to the line''s units owed, rounded to 4 decimals';
COMMENT ON COLUMN oms.orders.total IS 'subtotal - discount + tax + shipping: what the units owed and their delivery cost (oms.check(): order_total_owed)';
COMMENT ON COLUMN oms.orders.request_hash IS 'SHA-256 of the placing request, to tell a retry from a different order reusing the external_id';
COMMENT ON COLUMN oms.orders.placed_at IS 'When the order was placed';
COMMENT ON COLUMN oms.orders.updated_at IS 'Last change';
COMMENT ON COLUMN oms.orders.cancel_reason IS 'Why the order was cancelled or expired';
COMMENT ON COLUMN oms.orders.held_from IS 'While on hold: the status a release returns to';
COMMENT ON COLUMN oms.orders.deliver_by IS 'The date the customer must have the goods by (the document''s deliver_by): routing filters the locations that cannot make it';
COMMENT ON COLUMN oms.orders.source_code IS 'The campaign the order came from (the document''s source_code), for oms.report_promotions';
COMMENT ON COLUMN oms.orders.shipping IS 'Shipping charge: the document''s shipping.amount, or the quoted rate (shipping.quote), or 0; 0 once no unit is owed (src/order_charges.c)';
COMMENT ON COLUMN oms.orders.service_level IS 'standard or express (the document''s service_level): express routes by the fastest carrier service';

CREATE TABLE oms.order_lines (
    id               bigserial     NOT NULL,
    order_id         bigint        NOT NULL,
    line_no          integer       NOT NULL,
    product_id       bigint        NOT NULL,
    qty              integer       NOT NULL,
    unit_price       numeric(16,4) NOT NULL,
    discount         numeric(16,4) NOT NULL DEFAULT 0,
    tax              numeric(16,4) NOT NULL DEFAULT 0,
    qty_reserved     integer       NOT NULL DEFAULT 0,
    qty_backordered  integer       NOT NULL DEFAULT 0,
    qty_shipped      integer       NOT NULL DEFAULT 0,
    qty_cancelled    integer       NOT NULL DEFAULT 0,
    qty_returned     integer       NOT NULL DEFAULT 0,
    substituted_for  bigint,
    price_list_id    bigint,
    price_source     text          NOT NULL DEFAULT 'given',
    price_includes_tax boolean     NOT NULL DEFAULT false,
    CONSTRAINT order_lines_pkey PRIMARY KEY (id),
    CONSTRAINT order_lines_order_line_no_key UNIQUE (order_id, line_no),
    CONSTRAINT order_lines_order_fkey FOREIGN KEY (order_id) REFERENCES oms.orders (id),
    CONSTRAINT order_lines_product_fkey FOREIGN KEY (product_id) REFERENCES oms.products (id),
    CONSTRAINT order_lines_qty_chk CHECK (qty OPERATOR(pg_catalog.>) 0),
    -- LEAST over NOT NULL columns, as orders_amounts_chk
    CONSTRAINT order_lines_amounts_chk CHECK (LEAST(unit_price, discount, tax) OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT order_lines_parts_chk CHECK (LEAST(qty_reserved, qty_backordered, qty_shipped, qty_cancelled, qty_returned)
        OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT order_lines_accounting_chk CHECK (qty_reserved OPERATOR(pg_catalog.+) qty_backordered OPERATOR(pg_catalog.+) qty_shipped
        OPERATOR(pg_catalog.+) qty_cancelled OPERATOR(pg_catalog.=) qty),
    CONSTRAINT order_lines_returned_chk CHECK (qty_returned OPERATOR(pg_catalog.<=) qty_shipped),
    CONSTRAINT order_lines_substituted_for_fkey FOREIGN KEY (substituted_for) REFERENCES oms.products (id),
    CONSTRAINT order_lines_price_source_chk CHECK (price_source OPERATOR(pg_catalog.~) '^(given|list)$'
        AND (price_source OPERATOR(pg_catalog.=) 'list') OPERATOR(pg_catalog.=) (price_list_id IS NOT NULL))
);
CREATE INDEX order_lines_backorder_idx ON oms.order_lines (product_id) WHERE qty_backordered OPERATOR(pg_catalog.>) 0;
COMMENT ON TABLE oms.order_lines IS 'Order lines; every unit is accounted as reserved, backordered, shipped or cancelled';
COMMENT ON COLUMN oms.order_lines.id IS 'Line id';
COMMENT ON COLUMN oms.order_lines.order_id IS 'The order';
COMMENT ON COLUMN oms.order_lines.line_no IS 'Position in the order, from 1';
COMMENT ON COLUMN oms.order_lines.product_id IS 'The product (stock, kit or service)';
COMMENT ON COLUMN oms.order_lines.qty IS 'Units ordered';
COMMENT ON COLUMN oms.order_lines.unit_price IS 'Price of one unit before discount and tax';
COMMENT ON COLUMN oms.order_lines.discount IS 'Discount on the whole line';
COMMENT ON COLUMN oms.order_lines.tax IS 'Tax on the whole line';
COMMENT ON COLUMN oms.order_lines.qty_reserved IS 'Units held in stock for this line (kits: whole kits)';
COMMENT ON COLUMN oms.order_lines.qty_backordered IS 'Units waiting for stock';
COMMENT ON COLUMN oms.order_lines.qty_shipped IS 'Units shipped';
COMMENT ON COLUMN oms.order_lines.qty_cancelled IS 'Units cancelled, expired or not filled';
COMMENT ON COLUMN oms.order_lines.qty_returned IS 'Units returned; never above qty_shipped';
COMMENT ON COLUMN oms.order_lines.price_list_id IS 'The price list unit_price came from (price_source list); NULL when given';
COMMENT ON COLUMN oms.order_lines.price_source IS 'Where unit_price came from: given (the document or an edit) or list (oms.price_lists, price_list_id)';
COMMENT ON COLUMN oms.order_lines.price_includes_tax IS 'The line was priced gross (tax included): unit_price and discount hold the net amounts oms extracted, tax the rest, so that the line still costs the gross amount (src/order_charges.c)';
COMMENT ON COLUMN oms.order_lines.substituted_for IS 'The product the customer asked for, when this line''s product is a substitute (place_order "substitute": "allow", or edit_order)';

CREATE TABLE oms.reservations (
    id            bigserial   NOT NULL,
    order_id      bigint      NOT NULL,
    order_line_id bigint      NOT NULL,
    product_id    bigint      NOT NULL,
    location_id   integer     NOT NULL,
    slot          smallint    NOT NULL DEFAULT 0,
    qty           integer     NOT NULL,
    status        text        NOT NULL DEFAULT 'active',
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    ended_at      timestamptz,
    CONSTRAINT reservations_pkey PRIMARY KEY (id),
    -- No foreign keys, deliberately (the same for oms.stock_movements and
    -- oms.routing_decisions). Only oms functions write these rows (no role
    -- has INSERT), and they write them next to rows they have just written
    -- or locked in the same transaction: the order and its lines, inserted
    -- by the same call, and the balance row of (product, location), updated
    -- under its row lock (the balance has the foreign keys to products and
    -- locations, and the balance guard refuses its deletion). A key check
    -- there costs a statement per row and proves nothing new: a 3-line
    -- order paid 19 of them. What a key would still catch, a superuser
    -- deleting an order or line underneath, oms.check() reports as
    -- reference_orphan.
    CONSTRAINT reservations_qty_chk CHECK (qty OPERATOR(pg_catalog.>) 0),
    CONSTRAINT reservations_status_chk CHECK (status OPERATOR(pg_catalog.~) '^(active|released|expired|consumed)$'),
    CONSTRAINT reservations_ended_chk CHECK ((status OPERATOR(pg_catalog.=) 'active') OPERATOR(pg_catalog.=) (ended_at IS NULL))
);
CREATE INDEX reservations_order_idx ON oms.reservations (order_id);
CREATE INDEX reservations_active_idx ON oms.reservations (product_id, location_id) WHERE status OPERATOR(pg_catalog.=) 'active';
-- the order document lists each line's active reservations: without this
-- index that lookup reads every active reservation in the database
CREATE INDEX reservations_line_active_idx ON oms.reservations (order_line_id) WHERE status OPERATOR(pg_catalog.=) 'active';
COMMENT ON TABLE oms.reservations IS 'Stock held for an order line at a location; active ones sum exactly to the balance''s reserved';
COMMENT ON COLUMN oms.reservations.id IS 'Reservation id';
COMMENT ON COLUMN oms.reservations.order_id IS 'The order';
COMMENT ON COLUMN oms.reservations.order_line_id IS 'The order line (for a kit line, one reservation per component)';
COMMENT ON COLUMN oms.reservations.product_id IS 'Product held (a kit''s component for kit lines)';
COMMENT ON COLUMN oms.reservations.location_id IS 'Where it is held';
COMMENT ON COLUMN oms.reservations.slot IS 'Balance slot (always 0 in this version)';
COMMENT ON COLUMN oms.reservations.qty IS 'Units held';
COMMENT ON COLUMN oms.reservations.status IS 'active, released (cancelled), expired or consumed (shipped)';
COMMENT ON COLUMN oms.reservations.created_at IS 'When the stock was reserved';
COMMENT ON COLUMN oms.reservations.ended_at IS 'When the reservation stopped being active';

CREATE FUNCTION oms.place_order("order" jsonb)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'place_order';
COMMENT ON FUNCTION oms.place_order(jsonb)
    IS 'Place an order and reserve its stock atomically in one call; idempotent per (channel, external_id)';

CREATE FUNCTION oms.cancel_order(order_id bigint, reason text DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'cancel_order';
COMMENT ON FUNCTION oms.cancel_order(bigint, text)
    IS 'Cancel an order: release its reservations and backorders; a second call is a no-op that says so';

CREATE FUNCTION oms.expire_reservations()
    RETURNS integer
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'expire_reservations';
COMMENT ON FUNCTION oms.expire_reservations()
    IS 'Release the reservations of unpaid orders past expires_at; returns the number of reservations released';

CREATE FUNCTION oms.get_order(order_id bigint)
    RETURNS jsonb
    LANGUAGE c STABLE STRICT PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'get_order';
COMMENT ON FUNCTION oms.get_order(bigint)
    IS 'The order as a JSON document: status, lines, what is reserved where, backordered and cancelled units';

SELECT pg_catalog.pg_extension_config_dump('oms.orders', '');
SELECT pg_catalog.pg_extension_config_dump('oms.orders_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.order_lines', '');
SELECT pg_catalog.pg_extension_config_dump('oms.order_lines_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.reservations', '');
SELECT pg_catalog.pg_extension_config_dump('oms.reservations_id_seq', '');
