
-- ===========================================================================
-- inventory: balances, the append-only movement ledger, receive / adjust /
-- safety stock, availability (src/inventory.c)
--
-- The ledger is the truth: every change to a balance row is written by the
-- oms C functions together with a movement row carrying the same deltas.
-- A C trigger rejects any other write to oms.stock_balances, whoever issues
-- it (superusers included), and another rejects UPDATE, DELETE and
-- TRUNCATE on oms.stock_movements.
--
-- Movements that arrive from anywhere else (pg_restore's COPY, or a DBA's
-- hand-written INSERT) are applied to the balances by a statement-level
-- trigger, aggregated per balance row, so the balances always follow the
-- ledger. That is also why stock_balances is not registered with
-- pg_extension_config_dump: pg_dump keeps the ledger and a restore rebuilds
-- the balances from it.
-- ===========================================================================

CREATE TABLE oms.stock_balances (
    product_id    bigint      NOT NULL,
    location_id   integer     NOT NULL,
    slot          smallint    NOT NULL DEFAULT 0,
    on_hand       integer     NOT NULL DEFAULT 0,
    reserved      integer     NOT NULL DEFAULT 0,
    damaged       integer     NOT NULL DEFAULT 0,
    safety_stock  integer     NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT stock_balances_pkey PRIMARY KEY (product_id, location_id, slot),
    CONSTRAINT stock_balances_product_fkey FOREIGN KEY (product_id) REFERENCES oms.products (id),
    CONSTRAINT stock_balances_location_fkey FOREIGN KEY (location_id) REFERENCES oms.locations (id),
    CONSTRAINT stock_balances_slot_chk CHECK (slot OPERATOR(pg_catalog.=) 0),
    CONSTRAINT stock_balances_on_hand_chk CHECK (on_hand OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT stock_balances_reserved_chk CHECK (reserved OPERATOR(pg_catalog.>=) 0 AND reserved OPERATOR(pg_catalog.<=) on_hand),
    -- damaged and safety stock in one CHECK: each reservation's UPDATE
    -- parses every CHECK of the table again
    CONSTRAINT stock_balances_counts_chk CHECK (LEAST(damaged, safety_stock) OPERATOR(pg_catalog.>=) 0)
);
CREATE INDEX stock_balances_location_idx ON oms.stock_balances (location_id);
COMMENT ON TABLE oms.stock_balances IS 'Stock of one product at one location; written only by oms functions, always together with a movement';
COMMENT ON COLUMN oms.stock_balances.product_id IS 'The product (kind stock)';
COMMENT ON COLUMN oms.stock_balances.location_id IS 'The location';
COMMENT ON COLUMN oms.stock_balances.slot IS 'Sub-row number reserved for spreading hot SKUs over several rows; always 0 in this version';
COMMENT ON COLUMN oms.stock_balances.on_hand IS 'Sellable units physically at the location';
COMMENT ON COLUMN oms.stock_balances.reserved IS 'Units of on_hand held for orders; never above on_hand (CHECK)';
COMMENT ON COLUMN oms.stock_balances.damaged IS 'Units physically at the location that cannot be sold; not part of on_hand';
COMMENT ON COLUMN oms.stock_balances.safety_stock IS 'Units of on_hand that are never reserved';
COMMENT ON COLUMN oms.stock_balances.updated_at IS 'Time of the last change';

CREATE TABLE oms.stock_movements (
    id                  bigserial   NOT NULL,
    at                  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    product_id          bigint      NOT NULL,
    location_id         integer     NOT NULL,
    slot                smallint    NOT NULL DEFAULT 0,
    kind                text        NOT NULL,
    on_hand_delta       integer     NOT NULL DEFAULT 0,
    reserved_delta      integer     NOT NULL DEFAULT 0,
    damaged_delta       integer     NOT NULL DEFAULT 0,
    safety_stock_delta  integer     NOT NULL DEFAULT 0,
    order_id            bigint,
    reservation_id      bigint,
    reference           text,
    actor               text        NOT NULL DEFAULT SESSION_USER,
    CONSTRAINT stock_movements_pkey PRIMARY KEY (id),
    -- no foreign keys: why at oms.reservations (src/orders.sql)
    -- one anchored pattern rather than "= ANY (ARRAY[...])": every INSERT
    -- parses the table's CHECKs again, and the array constant is the larger
    -- node text by a factor of 2.7
    CONSTRAINT stock_movements_kind_chk CHECK (kind OPERATOR(pg_catalog.~)
        '^(receipt|adjustment|safety_stock|reservation|release|expiry|shipment|return_restock|return_damaged|write_off|damage|repair)$'),
    CONSTRAINT stock_movements_nonzero_chk CHECK (on_hand_delta OPERATOR(pg_catalog.<>) 0 OR reserved_delta OPERATOR(pg_catalog.<>) 0
        OR damaged_delta OPERATOR(pg_catalog.<>) 0 OR safety_stock_delta OPERATOR(pg_catalog.<>) 0)
);
CREATE INDEX stock_movements_balance_idx ON oms.stock_movements (product_id, location_id, slot);
CREATE INDEX stock_movements_order_idx ON oms.stock_movements (order_id) WHERE order_id IS NOT NULL;
COMMENT ON TABLE oms.stock_movements IS 'Append-only stock ledger: every balance change, with its deltas, reason and actor';
COMMENT ON COLUMN oms.stock_movements.id IS 'Ledger sequence number';
COMMENT ON COLUMN oms.stock_movements.at IS 'Transaction time of the change';
COMMENT ON COLUMN oms.stock_movements.product_id IS 'The product';
COMMENT ON COLUMN oms.stock_movements.location_id IS 'The location';
COMMENT ON COLUMN oms.stock_movements.slot IS 'Balance slot (always 0 in this version)';
COMMENT ON COLUMN oms.stock_movements.kind IS 'receipt, adjustment, safety_stock, reservation, release, expiry, shipment, return_restock, return_damaged, write_off, damage or repair';
COMMENT ON COLUMN oms.stock_movements.on_hand_delta IS 'Change of on_hand';
COMMENT ON COLUMN oms.stock_movements.reserved_delta IS 'Change of reserved';
COMMENT ON COLUMN oms.stock_movements.damaged_delta IS 'Change of damaged';
COMMENT ON COLUMN oms.stock_movements.safety_stock_delta IS 'Change of safety_stock';
COMMENT ON COLUMN oms.stock_movements.order_id IS 'Order the movement belongs to, if any';
COMMENT ON COLUMN oms.stock_movements.reservation_id IS 'Reservation the movement belongs to, if any';
COMMENT ON COLUMN oms.stock_movements.reference IS 'Free reference: delivery note, count sheet, reason';
COMMENT ON COLUMN oms.stock_movements.actor IS 'Login role that caused the movement';

CREATE FUNCTION oms.inventory_balance_guard() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'inventory_balance_guard';
COMMENT ON FUNCTION oms.inventory_balance_guard() IS 'Trigger: rejects writes to oms.stock_balances that do not come from oms functions';
-- Statement level on purpose: the guard asks one backend-local question per
-- statement (did an oms function raise the write permission?). A row-level
-- BEFORE UPDATE trigger would also make the executor lock each balance row
-- before updating it; inside place_order's per-attempt subtransactions those
-- locks pile up as multixacts on the row, which made a long transaction of
-- many orders quadratic.
CREATE TRIGGER stock_balances_guard
    BEFORE INSERT OR UPDATE OR DELETE ON oms.stock_balances
    FOR EACH STATEMENT EXECUTE FUNCTION oms.inventory_balance_guard();
CREATE TRIGGER stock_balances_guard_truncate
    BEFORE TRUNCATE ON oms.stock_balances
    FOR EACH STATEMENT EXECUTE FUNCTION oms.inventory_balance_guard();

CREATE FUNCTION oms.inventory_ledger_guard() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'inventory_ledger_guard';
COMMENT ON FUNCTION oms.inventory_ledger_guard() IS 'Trigger: the stock ledger is append-only';
CREATE TRIGGER stock_movements_append_only
    BEFORE UPDATE OR DELETE ON oms.stock_movements
    FOR EACH ROW EXECUTE FUNCTION oms.inventory_ledger_guard();
CREATE TRIGGER stock_movements_no_truncate
    BEFORE TRUNCATE ON oms.stock_movements
    FOR EACH STATEMENT EXECUTE FUNCTION oms.inventory_ledger_guard();

CREATE FUNCTION oms.inventory_ledger_apply() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'inventory_ledger_apply';
COMMENT ON FUNCTION oms.inventory_ledger_apply() IS 'Trigger: applies movements inserted outside the oms functions (restore, manual) to the balances';
CREATE TRIGGER stock_movements_apply
    AFTER INSERT ON oms.stock_movements
    REFERENCING NEW TABLE AS new_movements
    FOR EACH STATEMENT EXECUTE FUNCTION oms.inventory_ledger_apply();

CREATE VIEW oms.stock_levels AS
SELECT p.sku, l.code AS location, b.on_hand, b.reserved, b.damaged, b.safety_stock,
       pg_catalog.int4larger(b.on_hand OPERATOR(pg_catalog.-) b.reserved OPERATOR(pg_catalog.-) b.safety_stock, 0) AS available
  FROM oms.stock_balances b
  JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) b.product_id
  JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) b.location_id;
COMMENT ON VIEW oms.stock_levels IS 'Stock per sku and location with what can still be promised';
COMMENT ON COLUMN oms.stock_levels.sku IS 'Product sku';
COMMENT ON COLUMN oms.stock_levels.location IS 'Location code';
COMMENT ON COLUMN oms.stock_levels.on_hand IS 'Sellable units at the location';
COMMENT ON COLUMN oms.stock_levels.reserved IS 'Units held for orders';
COMMENT ON COLUMN oms.stock_levels.damaged IS 'Units at the location that cannot be sold';
COMMENT ON COLUMN oms.stock_levels.safety_stock IS 'Units never promised';
COMMENT ON COLUMN oms.stock_levels.available IS 'on_hand - reserved - safety_stock, or 0 when safety stock exceeds free stock';

CREATE FUNCTION oms.receive_stock(sku text, location text, qty integer, reference text DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'receive_stock';
COMMENT ON FUNCTION oms.receive_stock(text, text, integer, text)
    IS 'Book a goods receipt; fills waiting backorders at that location first (VIP orders, then oldest)';

CREATE FUNCTION oms.adjust_stock(sku text, location text, counted_on_hand integer, reason text)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'adjust_stock';
COMMENT ON FUNCTION oms.adjust_stock(text, text, integer, text)
    IS 'Cycle count: set on_hand to the counted quantity and record the difference as a movement';

CREATE FUNCTION oms.set_safety_stock(sku text, location text, qty integer)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'set_safety_stock';
COMMENT ON FUNCTION oms.set_safety_stock(text, text, integer)
    IS 'Set the units of a balance that are never reserved';

CREATE FUNCTION oms.available(sku text, location text DEFAULT NULL)
    RETURNS integer
    LANGUAGE c STABLE PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'available';
COMMENT ON FUNCTION oms.available(text, text)
    IS 'Units that can be promised at a location, or at all active locations when location is NULL; for a kit, the minimum over its components; NULL for a service';

SELECT pg_catalog.pg_extension_config_dump('oms.stock_movements', '');
SELECT pg_catalog.pg_extension_config_dump('oms.stock_movements_id_seq', '');

-- Card-number guard (issue 13, breach 9): stock_movements.reference is
-- checked where a caller writes it (receive_stock, adjust_stock); no CHECK
-- backstop, because the order code writes the order's external_id into it,
-- and external_id is the documented exception (marketplace order numbers
-- are long digit runs).
