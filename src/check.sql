
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
    UNION ALL
    -- inventory 1: 0 <= reserved <= on_hand, nothing negative (also CHECKs)
    SELECT 'balance_bounds',
           pg_catalog.format('%s at %s: on_hand %s, reserved %s, damaged %s, safety_stock %s',
                             p.sku, l.code, b.on_hand, b.reserved, b.damaged, b.safety_stock)
      FROM oms.stock_balances b
      JOIN oms.products p ON p.id = b.product_id
      JOIN oms.locations l ON l.id = b.location_id
     WHERE b.reserved < 0 OR b.reserved > b.on_hand OR b.on_hand < 0 OR b.damaged < 0 OR b.safety_stock < 0
    UNION ALL
    -- inventory 2a: every balance equals the sum of its movements
    SELECT 'balance_vs_ledger',
           pg_catalog.format('product %s at location %s: balance on_hand/reserved/damaged/safety %s/%s/%s/%s, ledger %s/%s/%s/%s',
                             COALESCE(b.product_id, m.product_id), COALESCE(b.location_id, m.location_id),
                             COALESCE(b.on_hand, 0), COALESCE(b.reserved, 0), COALESCE(b.damaged, 0), COALESCE(b.safety_stock, 0),
                             COALESCE(m.on_hand, 0), COALESCE(m.reserved, 0), COALESCE(m.damaged, 0), COALESCE(m.safety_stock, 0))
      FROM oms.stock_balances b
      FULL JOIN (SELECT product_id, location_id, slot,
                        pg_catalog.sum(on_hand_delta) AS on_hand, pg_catalog.sum(reserved_delta) AS reserved,
                        pg_catalog.sum(damaged_delta) AS damaged, pg_catalog.sum(safety_stock_delta) AS safety_stock
                   FROM oms.stock_movements GROUP BY 1, 2, 3) m
        ON m.product_id = b.product_id AND m.location_id = b.location_id AND m.slot = b.slot
     WHERE COALESCE(b.on_hand, 0) <> COALESCE(m.on_hand, 0) OR COALESCE(b.reserved, 0) <> COALESCE(m.reserved, 0)
        OR COALESCE(b.damaged, 0) <> COALESCE(m.damaged, 0) OR COALESCE(b.safety_stock, 0) <> COALESCE(m.safety_stock, 0)
    UNION ALL
    -- inventory 2b: reserved equals the sum of active reservations
    SELECT 'reserved_vs_reservations',
           pg_catalog.format('product %s at location %s: reserved %s, active reservations %s',
                             COALESCE(b.product_id, r.product_id), COALESCE(b.location_id, r.location_id),
                             COALESCE(b.reserved, 0), COALESCE(r.qty, 0))
      FROM oms.stock_balances b
      FULL JOIN (SELECT product_id, location_id, slot, pg_catalog.sum(qty) AS qty
                   FROM oms.reservations WHERE status = 'active' GROUP BY 1, 2, 3) r
        ON r.product_id = b.product_id AND r.location_id = b.location_id AND r.slot = b.slot
     WHERE COALESCE(b.reserved, 0) <> COALESCE(r.qty, 0)
    UNION ALL
    -- orders 3: reserved + backordered + shipped + cancelled = qty, returned <= shipped
    SELECT 'line_accounting',
           pg_catalog.format('order %s line %s: qty %s, reserved %s, backordered %s, shipped %s, cancelled %s, returned %s',
                             ol.order_id, ol.line_no, ol.qty, ol.qty_reserved, ol.qty_backordered, ol.qty_shipped,
                             ol.qty_cancelled, ol.qty_returned)
      FROM oms.order_lines ol
     WHERE ol.qty_reserved + ol.qty_backordered + ol.qty_shipped + ol.qty_cancelled <> ol.qty
        OR ol.qty_returned > ol.qty_shipped OR ol.qty_returned < 0
    UNION ALL
    -- orders 3b: a line's reserved units are exactly its active reservations
    -- (kit lines: per component, reserved kits times the component quantity)
    SELECT 'line_vs_reservations',
           pg_catalog.format('order %s line %s (%s): %s reserved needs %s of product %s, active reservations hold %s',
                             ol.order_id, ol.line_no, p.sku, ol.qty_reserved, ol.qty_reserved * c.per, c.component_id, h.held)
      FROM oms.order_lines ol
      JOIN oms.products p ON p.id = ol.product_id
     CROSS JOIN LATERAL (SELECT ol.product_id AS component_id, 1 AS per WHERE p.kind = 'stock'
                         UNION ALL
                         SELECT kc.component_id, kc.qty FROM oms.kit_components kc
                          WHERE kc.kit_id = ol.product_id AND p.kind = 'kit') c
     CROSS JOIN LATERAL (SELECT COALESCE(pg_catalog.sum(r.qty), 0) AS held FROM oms.reservations r
                          WHERE r.order_line_id = ol.id AND r.product_id = c.component_id AND r.status = 'active') h
     WHERE h.held <> ol.qty_reserved * c.per
    UNION ALL
    -- orders: a closed order holds nothing
    SELECT 'closed_order_holds_stock',
           pg_catalog.format('order %s is %s but still has %s', o.id, o.status,
                             CASE WHEN EXISTS (SELECT FROM oms.reservations r WHERE r.order_id = o.id AND r.status = 'active')
                                  THEN 'active reservations' ELSE 'backordered units' END)
      FROM oms.orders o
     WHERE o.status IN ('cancelled', 'expired')
       AND (EXISTS (SELECT FROM oms.reservations r WHERE r.order_id = o.id AND r.status = 'active')
            OR EXISTS (SELECT FROM oms.order_lines ol WHERE ol.order_id = o.id AND ol.qty_backordered > 0))
$fn$;
COMMENT ON FUNCTION oms.check() IS 'Every violated invariant, one row each; empty means consistent';
