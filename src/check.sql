
-- ===========================================================================
-- check: oms.check(), the invariant oracle
--
-- Returns one row per violation; no rows means the data is consistent. Each
-- area contributes its own branch. Every concurrency, crash and stress test
-- ends with SELECT * FROM oms.check().
-- ===========================================================================

CREATE FUNCTION oms.check(OUT invariant text, OUT detail text)
    RETURNS SETOF record
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $fn$
    -- catalog: kits contain stock products only (the trigger can be bypassed
    -- by session_replication_role = replica or a disabled trigger)
    SELECT 'kit_component_kind'::text,
           pg_catalog.format('kit %s lists component %s of kind %s', k.sku, c.sku, c.kind)
      FROM oms.kit_components kc
      JOIN oms.products k ON k.id = kc.kit_id
      JOIN oms.products c ON c.id = kc.component_id
     WHERE k.kind <> 'kit' OR c.kind <> 'stock'
    UNION ALL
    -- catalog: an active kit must have at least one component, or it could be
    -- sold without reserving anything
    SELECT 'kit_without_components',
           pg_catalog.format('active kit %s has no components', p.sku)
      FROM oms.products p
     WHERE p.kind = 'kit' AND p.active
       AND NOT EXISTS (SELECT FROM oms.kit_components kc WHERE kc.kit_id = p.id)
$fn$;
COMMENT ON FUNCTION oms.check() IS 'Every violated invariant, one row each; empty means consistent';
