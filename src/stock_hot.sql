-- ===========================================================================
-- Hot products (flash sales): src/stock_hot.c
-- ---------------------------------------------------------------------------
-- A hot balance keeps its free units spread over several slot rows of
-- oms.stock_balances, so that buyers of the same SKU take different row
-- locks. oms.hot_balances says which balances are spread and over how many
-- slots; oms.set_hot_product turns the mode on (or off: slots 1) and
-- oms.rebalance_hot_product evens the slots out while sales go on.
-- ===========================================================================

CREATE TABLE oms.hot_balances (
    product_id   bigint      NOT NULL,
    location_id  integer     NOT NULL,
    slots        smallint    NOT NULL,
    since        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT hot_balances_pkey PRIMARY KEY (product_id, location_id),
    CONSTRAINT hot_balances_product_fkey FOREIGN KEY (product_id) REFERENCES oms.products (id),
    CONSTRAINT hot_balances_location_fkey FOREIGN KEY (location_id) REFERENCES oms.locations (id),
    CONSTRAINT hot_balances_slots_chk CHECK (slots OPERATOR(pg_catalog.>=) 2 AND slots OPERATOR(pg_catalog.<=) 64)
);
CREATE INDEX hot_balances_location_idx ON oms.hot_balances (location_id);
COMMENT ON TABLE oms.hot_balances IS 'Balances in hot-product mode (flash sales): their free stock is spread over several slot rows of oms.stock_balances; written by oms.set_hot_product';
COMMENT ON COLUMN oms.hot_balances.product_id IS 'The product (kind stock)';
COMMENT ON COLUMN oms.hot_balances.location_id IS 'The location';
COMMENT ON COLUMN oms.hot_balances.slots IS 'Slot rows the free units are spread over (2 to 64; slot 0 is one of them)';
COMMENT ON COLUMN oms.hot_balances.since IS 'When the mode was turned on or last resized';
SELECT pg_catalog.pg_extension_config_dump('oms.hot_balances', '');

CREATE FUNCTION oms.set_hot_product(sku text, slots integer, location text DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'set_hot_product';
COMMENT ON FUNCTION oms.set_hot_product(text, integer, text)
    IS 'Hot-product mode for a flash sale: spread the free stock of the product at the location (NULL: every location where it has a balance) over slots rows; slots 1 turns the mode off and folds the free units back';

CREATE FUNCTION oms.rebalance_hot_product(sku text, location text DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'rebalance_hot_product';
COMMENT ON FUNCTION oms.rebalance_hot_product(text, text)
    IS 'Even out the free units of a hot product over its slots without stopping sales (busy slots are skipped); folds the slots of a balance that is no longer hot';
