
-- ===========================================================================
-- documents: the packing slip and the shipping label of a shipment
-- (src/documents.c); they read, never write
-- ===========================================================================

CREATE FUNCTION oms.packing_slip(shipment_id bigint)
    RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'packing_slip';
COMMENT ON FUNCTION oms.packing_slip(bigint)
    IS 'Printable packing slip of a shipment: order, ship-to, lines with SKU, GTIN and quantities';

CREATE FUNCTION oms.shipping_label(shipment_id bigint)
    RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'shipping_label';
COMMENT ON FUNCTION oms.shipping_label(bigint)
    IS 'Shipping label of a shipped shipment in ZPL (4x6 in, 203 dpi): addresses, carrier, service, tracking number and its Code 128 barcode';
