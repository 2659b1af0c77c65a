
-- ===========================================================================
-- check: oms.check(), the invariant oracle
--
-- Returns one row per violation; no rows means the data is consistent. Each
-- area contributes its own branch. Every concurrency, crash and stress test
-- ends with SELECT * FROM oms.check().
-- ===========================================================================

CREATE FUNCTION oms.check(OUT invariant text, OUT detail text)
    RETURNS SETOF record
    LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    -- one scan of each table per invariant, never a probe per row: the
    -- plan must not depend on fresh statistics (right after a bulk of
    -- orders, before autovacuum's ANALYZE, a per-line probe of reservations
    -- took 14 s at 30k orders), and JIT would compile the ~60 joins for
    -- seconds whenever stale statistics make the plan look expensive
    SET jit = off
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
    -- catalog: kit_line_vs_bom. A kit line's active reservations are exactly
    -- the bill of materials it was placed with, which is the kit's current
    -- one (oms.catalog_kit_bom_guard refuses to change the components of a kit
    -- that open orders hold): per component, reserved kits times the
    -- component quantity, and nothing of any product that is not a
    -- component. The kit half of line_vs_reservations, which now covers
    -- stock lines only, moved here.
    SELECT 'kit_line_vs_bom',
           pg_catalog.format('order %s line %s (kit %s): %s reserved needs %s of product %s, active reservations hold %s',
                             ol.order_id, ol.line_no, p.sku, ol.qty_reserved, ol.qty_reserved * COALESCE(x.per, 0),
                             x.product_id, COALESCE(x.held, 0))
      FROM (SELECT COALESCE(e.line_id, r.order_line_id) AS line_id, COALESCE(e.product_id, r.product_id) AS product_id,
                   e.per, r.held
              FROM (SELECT ol.id AS line_id, kc.component_id AS product_id, kc.qty AS per
                      FROM oms.order_lines ol
                      JOIN oms.products p ON p.id = ol.product_id AND p.kind = 'kit'
                      JOIN oms.kit_components kc ON kc.kit_id = ol.product_id) e
              FULL JOIN (SELECT r.order_line_id, r.product_id, pg_catalog.sum(r.qty) AS held
                           FROM oms.reservations r
                           JOIN oms.order_lines ol ON ol.id = r.order_line_id
                           JOIN oms.products p ON p.id = ol.product_id AND p.kind = 'kit'
                          WHERE r.status = 'active' GROUP BY 1, 2) r
                ON r.order_line_id = e.line_id AND r.product_id = e.product_id) x
      JOIN oms.order_lines ol ON ol.id = x.line_id
      JOIN oms.products p ON p.id = ol.product_id
     WHERE COALESCE(x.held, 0) <> ol.qty_reserved * COALESCE(x.per, 0)
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
    -- inventory 2c: reference_orphan. Reservations, movements and routing
    -- decisions have no foreign keys (src/orders.sql says why): every
    -- reservation belongs to a line of its order, every reservation and
    -- movement to an existing balance row, every decision to an order.
    SELECT 'reference_orphan',
           pg_catalog.format('reservation %s: order %s has no line %s', r.id, r.order_id, r.order_line_id)
      FROM oms.reservations r
     WHERE NOT EXISTS (SELECT FROM oms.order_lines ol WHERE ol.id = r.order_line_id AND ol.order_id = r.order_id)
    UNION ALL
    SELECT 'reference_orphan',
           pg_catalog.format('%s %s: no balance row for product %s at location %s (slot %s)',
                             x.what, x.id, x.product_id, x.location_id, x.slot)
      FROM (SELECT 'reservation' AS what, id, product_id, location_id, slot FROM oms.reservations
            UNION ALL
            SELECT 'movement', id, product_id, location_id, slot FROM oms.stock_movements) x
     WHERE NOT EXISTS (SELECT FROM oms.stock_balances b
                        WHERE b.product_id = x.product_id AND b.location_id = x.location_id AND b.slot = x.slot)
    UNION ALL
    SELECT 'reference_orphan', pg_catalog.format('routing decision %s: no order %s', d.id, d.order_id)
      FROM oms.routing_decisions d
     WHERE NOT EXISTS (SELECT FROM oms.orders o WHERE o.id = d.order_id)
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
    -- orders 3b: a stock line's reserved units are exactly its active
    -- reservations (kit lines: kit_line_vs_bom, with the catalog branches)
    SELECT 'line_vs_reservations',
           pg_catalog.format('order %s line %s (%s): %s reserved needs %s of product %s, active reservations hold %s',
                             ol.order_id, ol.line_no, p.sku, ol.qty_reserved, ol.qty_reserved, ol.product_id,
                             COALESCE(h.held, 0))
      FROM oms.order_lines ol
      JOIN oms.products p ON p.id = ol.product_id AND p.kind = 'stock'
      LEFT JOIN (SELECT order_line_id, product_id, pg_catalog.sum(qty) AS held FROM oms.reservations
                  WHERE status = 'active' GROUP BY 1, 2) h
        ON h.order_line_id = ol.id AND h.product_id = ol.product_id
     WHERE COALESCE(h.held, 0) <> ol.qty_reserved
    UNION ALL
    -- lifecycle 4: every order's status is the last one its history reached
    -- (orders created through oms; the status trigger writes the history)
    SELECT 'status_vs_history',
           pg_catalog.format('order %s is %s, its history ends at %s', o.id, o.status, COALESCE(h.to_status, '(nothing)'))
      FROM oms.orders o
      LEFT JOIN LATERAL (SELECT sh.to_status FROM oms.order_status_history sh
                          WHERE sh.order_id = o.id ORDER BY sh.id DESC LIMIT 1) h ON true
     WHERE h.to_status IS DISTINCT FROM o.status
    UNION ALL
    -- ---- lifecycle 9 and 10: statuses mean something; history and events
    -- ---- refer to orders (src/lifecycle.c "Status rules")
    -- lifecycle 9: a status without holds_stock holds nothing: no active
    -- reservations and no backordered units (generalises the former
    -- closed_order_holds_stock, which looked at terminal statuses only)
    SELECT 'status_holds_no_stock',
           pg_catalog.format('order %s is %s, a status that holds no stock, but has %s active reserved and %s backordered unit(s)',
                             o.id, o.status, COALESCE(r.qty, 0), COALESCE(b.qty, 0))
      FROM oms.orders o
      JOIN oms.order_statuses s ON s.status = o.status AND NOT s.holds_stock
      LEFT JOIN (SELECT order_id, pg_catalog.sum(qty) AS qty FROM oms.reservations WHERE status = 'active' GROUP BY 1) r
        ON r.order_id = o.id
      LEFT JOIN (SELECT order_id, pg_catalog.sum(qty_backordered) AS qty FROM oms.order_lines GROUP BY 1) b
        ON b.order_id = o.id
     WHERE COALESCE(r.qty, 0) > 0 OR COALESCE(b.qty, 0) > 0
    UNION ALL
    -- lifecycle 9: a fulfillment_driven status matches the shipments: an
    -- order with stock or kit lines (units not cancelled) in such a status
    -- has shipped units; and an order whose every such unit is shipped is
    -- not in a status that holds stock
    SELECT 'status_vs_shipments',
           pg_catalog.format('order %s is %s with %s of %s stock unit(s) shipped', o.id, o.status, g.shipped, g.owed)
      FROM oms.orders o
      JOIN oms.order_statuses s ON s.status = o.status
      JOIN (SELECT ol.order_id, pg_catalog.sum(ol.qty - ol.qty_cancelled) AS owed, pg_catalog.sum(ol.qty_shipped) AS shipped
              FROM oms.order_lines ol JOIN oms.products p ON p.id = ol.product_id AND p.kind <> 'service'
             GROUP BY 1 HAVING pg_catalog.sum(ol.qty - ol.qty_cancelled) > 0) g ON g.order_id = o.id
     WHERE (s.fulfillment_driven AND g.shipped = 0)
        OR (s.holds_stock AND g.shipped >= g.owed)
    UNION ALL
    -- lifecycle 10: every history row refers to an existing order
    SELECT 'history_orphan',
           pg_catalog.format('history row %s (%s to %s) refers to order %s, which does not exist',
                             h.id, COALESCE(h.from_status, '(new)'), h.to_status, h.order_id)
      FROM oms.order_status_history h
     WHERE NOT EXISTS (SELECT FROM oms.orders o WHERE o.id = h.order_id)
    UNION ALL
    -- lifecycle 10: every event with an order_id refers to an existing order
    SELECT 'event_orphan',
           pg_catalog.format('event %s (%s) refers to order %s, which does not exist', e.id, e.kind, e.order_id)
      FROM oms.events e
     WHERE e.order_id IS NOT NULL AND NOT EXISTS (SELECT FROM oms.orders o WHERE o.id = e.order_id)
    UNION ALL
    -- payments 5: captured + voided <= authorized, refunded <= captured, and
    -- the order's currency (also CHECKs, except the currency)
    SELECT 'payment_amounts',
           pg_catalog.format('payment %s of order %s: %s %s authorized, %s captured, %s voided, %s refunded (order in %s)',
                             p.id, p.order_id, p.currency, p.authorized, p.captured, p.voided, p.refunded, o.currency)
      FROM oms.payments p JOIN oms.orders o ON o.id = p.order_id
     WHERE p.captured + p.voided > p.authorized OR p.refunded > p.captured OR p.authorized <= 0
        OR p.currency <> o.currency
    UNION ALL
    -- payments: a gift card or store credit balance is what was issued less
    -- what payments still hold (authorized - voided - refunded)
    SELECT 'stored_value_balance',
           pg_catalog.format('%s %s: balance %s, issued %s, held by payments %s', g.kind, g.id, g.balance, g.issued, COALESCE(s.held, 0))
      FROM oms.gift_cards g
      LEFT JOIN (SELECT gift_card_id, pg_catalog.sum(authorized - voided - refunded) AS held
                   FROM oms.payments WHERE gift_card_id IS NOT NULL GROUP BY 1) s ON s.gift_card_id = g.id
     WHERE g.balance <> g.issued - COALESCE(s.held, 0) OR g.balance < 0
    UNION ALL
    -- coverage 8: order_total_owed. An open order's amounts count only the
    -- units owed (not cancelled): subtotal = sum of (qty - qty_cancelled) x
    -- unit_price, discount and tax = each line's in proportion to its units
    -- owed (rounded to 4 decimals per line), total = subtotal - discount +
    -- tax + shipping (src/order_place.c, PoOwedTotals; src/order_charges.c).
    -- A terminal order (cancelled, expired) keeps the amounts it had when
    -- it closed.
    SELECT 'order_total_owed',
           pg_catalog.format('order %s (%s): subtotal %s, discount %s, tax %s, shipping %s, total %s; its units owed make %s, %s, %s, %s',
                             o.id, o.status, o.subtotal, o.discount, o.tax, o.shipping, o.total,
                             l.subtotal, l.discount, l.tax, l.subtotal - l.discount + l.tax + o.shipping)
      FROM oms.orders o
      JOIN oms.order_statuses s ON s.status = o.status
     CROSS JOIN LATERAL (SELECT COALESCE(pg_catalog.sum((ol.qty - ol.qty_cancelled) * ol.unit_price), 0) AS subtotal,
                                COALESCE(pg_catalog.sum(pg_catalog.round(ol.discount * (ol.qty - ol.qty_cancelled) / ol.qty, 4)), 0) AS discount,
                                COALESCE(pg_catalog.sum(pg_catalog.round(ol.tax * (ol.qty - ol.qty_cancelled) / ol.qty, 4)), 0) AS tax
                           FROM oms.order_lines ol WHERE ol.order_id = o.id) l
     WHERE NOT s.terminal
       AND (o.subtotal <> l.subtotal OR o.discount <> l.discount OR o.tax <> l.tax
            OR o.total <> l.subtotal - l.discount + l.tax + o.shipping)
    UNION ALL
    -- charges: shipping_without_units. An open order charges shipping only
    -- while a unit is owed: an edit that cancels every unit takes the
    -- shipping charge off with them (src/order_edit_apply.c)
    SELECT 'shipping_without_units',
           pg_catalog.format('order %s (%s) charges shipping %s and owes no unit', o.id, o.status, o.shipping)
      FROM oms.orders o
      JOIN oms.order_statuses s ON s.status = o.status AND NOT s.terminal
     WHERE o.shipping > 0
       AND NOT EXISTS (SELECT FROM oms.order_lines ol WHERE ol.order_id = o.id AND ol.qty > ol.qty_cancelled)
    UNION ALL
    -- charges: shipping_recognized. The journal recognises an order's
    -- shipping charge whole with its first shipment: once a unit has
    -- shipped, oms.revenue_recognized.shipping is the order's charge
    -- (src/ledger.c)
    SELECT 'shipping_recognized',
           pg_catalog.format('order %s: shipping %s, recognised %s', o.id, o.shipping, COALESCE(rr.shipping, 0))
      FROM oms.orders o
      LEFT JOIN oms.revenue_recognized rr ON rr.order_id = o.id
     WHERE EXISTS (SELECT FROM oms.order_lines ol WHERE ol.order_id = o.id AND ol.qty_shipped > 0)
       AND COALESCE(rr.shipping, 0) <> o.shipping
    UNION ALL
    -- invoices: invoice_vs_order. An invoice that is not void asks for its
    -- order's total, and its order is not cancelled or expired; a void one
    -- belongs to such an order; open means paid < amount, paid the rest
    -- (src/invoices.c)
    SELECT 'invoice_vs_order',
           pg_catalog.format('invoice %s (%s): amount %s, paid %s; order %s is %s with total %s',
                             i.number, i.status, i.amount, i.paid, o.id, o.status, o.total)
      FROM oms.invoices i
      JOIN oms.orders o ON o.id = i.order_id
      JOIN oms.order_statuses s ON s.status = o.status
     WHERE (i.status <> 'void' AND (i.amount <> o.total OR s.terminal))
        OR (i.status = 'void' AND NOT s.terminal)
        OR (i.status = 'open' AND i.paid >= i.amount)
        OR (i.status = 'paid' AND i.paid < i.amount)
    UNION ALL
    -- invoices: invoices_receivable_posted. The journal's invoices_receivable
    -- holds, per currency, what the open invoices still ask for
    -- (amount - paid): issue, changes and voids post the difference,
    -- settlements their amount (src/invoices.c)
    SELECT 'invoices_receivable_posted',
           pg_catalog.format('%s: invoices_receivable balance %s, open invoices ask %s',
                             COALESCE(j.currency, i.currency), COALESCE(j.balance, 0), COALESCE(i.asks, 0))
      FROM (SELECT e.currency, pg_catalog.sum(l.debit - l.credit) AS balance
              FROM oms.journal_lines l JOIN oms.journal_entries e ON e.id = l.entry_id
             WHERE l.account = 'invoices_receivable' GROUP BY 1) j
      FULL JOIN (SELECT currency, pg_catalog.sum(amount - paid) AS asks FROM oms.invoices
                  WHERE status = 'open' GROUP BY 1) i ON i.currency = j.currency
     WHERE COALESCE(j.balance, 0) <> COALESCE(i.asks, 0)
    UNION ALL
    -- coverage 8: order_coverage. A status that may ship (shippable; on
    -- hold: the status the order returns to) promises payment: the order's
    -- payments, authorized less voided, reach its total, or its customer is
    -- on payment terms (src/lifecycle.c, "Coverage")
    SELECT 'order_coverage',
           pg_catalog.format('order %s: %s, total %s, payments hold %s, customer not on payment terms',
                             o.id, COALESCE(o.held_from, o.status), o.total, COALESCE(p.held, 0))
      FROM oms.orders o
      JOIN oms.order_statuses s ON s.status = COALESCE(o.held_from, o.status)
      LEFT JOIN oms.customers c ON c.id = o.customer_id
      LEFT JOIN (SELECT order_id, pg_catalog.sum(authorized - voided) AS held FROM oms.payments GROUP BY 1) p
             ON p.order_id = o.id
     WHERE s.shippable AND NOT s.terminal
       AND COALESCE(p.held, 0) < o.total
       AND NOT COALESCE('terms' = ANY (c.flags), false)
    UNION ALL
    -- fulfillment: a stock line's shipped units are exactly the units of
    -- its shipped and delivered shipments
    SELECT 'shipped_vs_shipments',
           pg_catalog.format('order %s line %s: qty_shipped %s, in shipped shipments %s',
                             ol.order_id, ol.line_no, ol.qty_shipped, COALESCE(s.qty, 0))
      FROM oms.order_lines ol
      JOIN oms.products p ON p.id = ol.product_id AND p.kind <> 'service'
      LEFT JOIN (SELECT sl.order_line_id, pg_catalog.sum(sl.qty) AS qty
                   FROM oms.shipment_lines sl JOIN oms.shipments sh ON sh.id = sl.shipment_id
                  WHERE sh.status IN ('shipped', 'delivered') GROUP BY 1) s ON s.order_line_id = ol.id
     WHERE ol.qty_shipped <> COALESCE(s.qty, 0)
    UNION ALL
    -- fulfillment: pending shipments never hold more of a line than the
    -- line has reserved at the shipment's location (kits: whole kits)
    SELECT 'pending_shipment_vs_reserved',
           pg_catalog.format('order %s line %s at location %s: %s unit(s) in pending shipments, %s reserved there',
                             ol.order_id, ol.line_no, ps.location_id, ps.qty, COALESCE(h.kits, 0))
      FROM (SELECT sl.order_line_id, sh.location_id, pg_catalog.sum(sl.qty) AS qty
              FROM oms.shipment_lines sl JOIN oms.shipments sh ON sh.id = sl.shipment_id
             WHERE sh.status = 'pending' GROUP BY 1, 2) ps
      JOIN oms.order_lines ol ON ol.id = ps.order_line_id
      JOIN oms.products p ON p.id = ol.product_id
      LEFT JOIN LATERAL (
          SELECT CASE WHEN p.kind = 'kit'
                      THEN (SELECT pg_catalog.min(COALESCE(r.held, 0) / kc.qty)
                              FROM oms.kit_components kc
                              LEFT JOIN (SELECT product_id, pg_catalog.sum(qty) AS held FROM oms.reservations
                                          WHERE order_line_id = ol.id AND location_id = ps.location_id
                                            AND status = 'active' GROUP BY 1) r ON r.product_id = kc.component_id
                             WHERE kc.kit_id = p.id)
                      ELSE (SELECT pg_catalog.sum(qty) FROM oms.reservations
                             WHERE order_line_id = ol.id AND location_id = ps.location_id AND status = 'active')
                 END AS kits) h ON true
     WHERE ps.qty > COALESCE(h.kits, 0)
    UNION ALL
    -- returns 7: an order line's RMA claims (RMAs not rejected, units not
    -- reported missing) never exceed what it shipped: no unit comes back twice
    SELECT 'rma_claims',
           pg_catalog.format('order %s line %s: shipped %s, claimed by RMAs %s', ol.order_id, ol.line_no, ol.qty_shipped, c.qty)
      FROM oms.order_lines ol
      JOIN (SELECT rl.order_line_id, pg_catalog.sum(rl.qty - rl.qty_missing) AS qty FROM oms.rma_lines rl
              JOIN oms.rmas r ON r.id = rl.rma_id WHERE r.status <> 'rejected' GROUP BY 1) c ON c.order_line_id = ol.id
     WHERE c.qty > ol.qty_shipped
    UNION ALL
    -- returns 7: received <= authorized: units are received only for an
    -- authorized RMA, and never more than its lines ask (also a CHECK)
    SELECT 'rma_received',
           pg_catalog.format('RMA %s (%s) line of order line %s: qty %s, restocked %s, damaged %s, missing %s, resolved %s',
                             r.id, r.status, rl.order_line_id, rl.qty, rl.qty_restocked, rl.qty_damaged, rl.qty_missing, rl.qty_resolved)
      FROM oms.rma_lines rl JOIN oms.rmas r ON r.id = rl.rma_id
     WHERE rl.qty_restocked + rl.qty_damaged + rl.qty_missing > rl.qty
        OR rl.qty_resolved > rl.qty_restocked + rl.qty_damaged
        OR (r.status IN ('requested', 'rejected') AND rl.qty_restocked + rl.qty_damaged + rl.qty_missing > 0)
    UNION ALL
    -- returns: an order line's returned units are the units its RMAs received
    -- back (sellable or damaged)
    SELECT 'returned_vs_rmas',
           pg_catalog.format('order %s line %s: qty_returned %s, received by RMAs %s', ol.order_id, ol.line_no, ol.qty_returned,
                             COALESCE(x.qty, 0))
      FROM oms.order_lines ol
      LEFT JOIN (SELECT order_line_id, pg_catalog.sum(qty_restocked + qty_damaged) AS qty FROM oms.rma_lines GROUP BY 1) x
        ON x.order_line_id = ol.id
     WHERE ol.qty_returned <> COALESCE(x.qty, 0)
    UNION ALL
    -- returns: money out for returns (refunds and store credit) never exceeds
    -- what the order's payments captured
    SELECT 'rma_money',
           pg_catalog.format('order %s: RMAs refunded %s and credited %s, payments captured %s', r.order_id, r.refunded, r.credit,
                             COALESCE(p.captured, 0))
      FROM (SELECT order_id, pg_catalog.sum(refunded) AS refunded, pg_catalog.sum(store_credit) AS credit
              FROM oms.rmas GROUP BY 1) r
      LEFT JOIN (SELECT order_id, pg_catalog.sum(captured) AS captured FROM oms.payments GROUP BY 1) p ON p.order_id = r.order_id
     WHERE r.refunded + r.credit > COALESCE(p.captured, 0)
    UNION ALL
    -- payments 8: order_money_out: per order, money out never exceeds what its
    -- payments captured: refunds to its payments + store credit issued for it
    -- + exchange credit (returned value applied to a replacement) + exchange
    -- value beyond that credit which the replacement order does not charge
    -- (in cents: unit prices keep 4 decimals). The one money path
    -- (PaymentsMoneyOut) refuses each action that would break it.
    SELECT 'order_money_out',
           pg_catalog.format('order %s: captured %s, money out %s (refunds %s, store credit %s, exchange credit %s, exchange value not charged %s)',
                             m.order_id, m.captured, m.refunds + m.credit + m.exchange + m.uncharged,
                             m.refunds, m.credit, m.exchange, m.uncharged)
      FROM (SELECT o.id AS order_id,
                   COALESCE(p.captured, 0) AS captured, COALESCE(p.refunded, 0) AS refunds,
                   COALESCE(mo.credit, 0) AS credit, COALESCE(mo.exchange, 0) AS exchange,
                   COALESCE(x.uncharged, 0) AS uncharged
              FROM oms.orders o
              LEFT JOIN (SELECT order_id, pg_catalog.sum(captured) AS captured, pg_catalog.sum(refunded) AS refunded
                           FROM oms.payments GROUP BY 1) p ON p.order_id = o.id
              LEFT JOIN (SELECT order_id, pg_catalog.sum(amount) FILTER (WHERE kind = 'store_credit') AS credit,
                                pg_catalog.sum(amount) FILTER (WHERE kind = 'exchange') AS exchange
                           FROM oms.money_out GROUP BY 1) mo ON mo.order_id = o.id
              LEFT JOIN (SELECT r.order_id,
                                pg_catalog.sum(GREATEST(pg_catalog.round(r.exchange_value - COALESCE(c.credit, 0) - xo.total, 2), 0)) AS uncharged
                           FROM oms.rmas r
                           JOIN oms.orders xo ON xo.id = r.exchange_order_id
                           LEFT JOIN (SELECT rma_id, pg_catalog.sum(amount) AS credit FROM oms.money_out
                                       WHERE kind = 'exchange' GROUP BY 1) c ON c.rma_id = r.id
                          GROUP BY 1) x ON x.order_id = o.id) m
     WHERE m.refunds + m.credit + m.exchange + m.uncharged > m.captured
    UNION ALL
    -- ledger 6: every journal entry balances (the deferred trigger refuses
    -- it at commit; this catches entries written with triggers disabled)
    SELECT 'journal_balance',
           pg_catalog.format('journal entry %s (%s): debits %s, credits %s', e.id, e.kind, COALESCE(l.debit, 0), COALESCE(l.credit, 0))
      FROM oms.journal_entries e
      LEFT JOIN (SELECT entry_id, pg_catalog.sum(debit) AS debit, pg_catalog.sum(credit) AS credit
                   FROM oms.journal_lines GROUP BY 1) l ON l.entry_id = e.id
     WHERE COALESCE(l.debit, 0) <> COALESCE(l.credit, 0)
    UNION ALL
    -- purchasing 12: inventory value equals the sum of valued movements,
    -- per product in units and value
    SELECT 'inventory_value',
           pg_catalog.format('product %s: valuation %s unit(s) worth %s, valued movements %s unit(s) worth %s',
                             COALESCE(v.product_id, m.product_id), COALESCE(v.qty, 0), COALESCE(v.value, 0),
                             COALESCE(m.qty, 0), COALESCE(m.value, 0))
      FROM oms.inventory_valuation v
      FULL JOIN (SELECT product_id, pg_catalog.sum(qty) AS qty, pg_catalog.sum(value) AS value
                   FROM oms.valued_movements GROUP BY 1) m ON m.product_id = v.product_id
     WHERE COALESCE(v.qty, 0) <> COALESCE(m.qty, 0) OR COALESCE(v.value, 0) <> COALESCE(m.value, 0)
    UNION ALL
    -- purchasing 12: every valued movement is in the journal, its entry
    -- posting exactly its value (whatever accounts the rules name)
    SELECT 'inventory_value_posted',
           pg_catalog.format('valued movement %s (%s of product %s): value %s, journal entry %s posts %s',
                             m.id, m.kind, m.product_id, m.value, COALESCE(m.journal_entry_id::text, 'none'), COALESCE(j.debit, 0))
      FROM oms.valued_movements m
      LEFT JOIN (SELECT entry_id, pg_catalog.sum(debit) AS debit FROM oms.journal_lines GROUP BY 1) j
        ON j.entry_id = m.journal_entry_id
     WHERE COALESCE(j.debit, 0) <> pg_catalog.abs(m.value)
    UNION ALL
    -- purchasing: a purchase order line's received and damaged units are
    -- its receipts
    SELECT 'purchase_order_receipts',
           pg_catalog.format('purchase order %s line %s: received %s (damaged %s), receipts %s (damaged %s)',
                             pl.purchase_order_id, pl.line_no, pl.qty_received, pl.qty_damaged,
                             COALESCE(r.qty, 0), COALESCE(r.damaged, 0))
      FROM oms.purchase_order_lines pl
      LEFT JOIN (SELECT line_id, pg_catalog.sum(qty) AS qty,
                        COALESCE(pg_catalog.sum(qty) FILTER (WHERE condition = 'damaged'), 0) AS damaged
                   FROM oms.purchase_order_receipts GROUP BY 1) r ON r.line_id = pl.id
     WHERE pl.qty_received <> COALESCE(r.qty, 0) OR pl.qty_damaged <> COALESCE(r.damaged, 0)
    UNION ALL
    -- stores: goods handed over without a carrier left from where the order
    -- was to be collected (a pickup at its pickup store, a counter sale at
    -- its store): src/pickup.c, src/counter_sale.c
    SELECT 'handover_location',
           pg_catalog.format('shipment %s (%s) of order %s left from location %s, the order is collected at %s',
                             s.id, s.handover, s.order_id, s.location_id, COALESCE(o.pickup_location_id::text, 'no store'))
      FROM oms.shipments s JOIN oms.orders o ON o.id = s.order_id
     WHERE s.handover IS NOT NULL AND s.location_id IS DISTINCT FROM o.pickup_location_id
    UNION ALL
    -- customers: an erased customer keeps no personal data: no name, email,
    -- phone, address or consent, and its orders no ship-to detail,
    -- coordinates or notes (src/customers.c)
    SELECT 'erased_customer_data',
           pg_catalog.format('customer %s (erased %s) still holds %s', c.id, c.erased_at,
                             pg_catalog.concat_ws(', ',
                                 CASE WHEN c.name IS NOT NULL OR c.email IS NOT NULL OR c.phone IS NOT NULL THEN 'contact data' END,
                                 CASE WHEN EXISTS (SELECT FROM oms.customer_addresses a WHERE a.customer_id = c.id) THEN 'addresses' END,
                                 CASE WHEN EXISTS (SELECT FROM oms.customer_consents k WHERE k.customer_id = c.id) THEN 'consents' END,
                                 CASE WHEN EXISTS (SELECT FROM oms.orders o WHERE o.customer_id = c.id
                                                      AND (o.ship_lat IS NOT NULL OR o.notes IS NOT NULL
                                                           OR (o.ship_to - ARRAY['erased', 'country', 'pickup']) <> '{}'::jsonb))
                                      THEN 'order ship-to data' END))
      FROM oms.customers c
     WHERE c.erased_at IS NOT NULL
       AND (c.name IS NOT NULL OR c.email IS NOT NULL OR c.phone IS NOT NULL
            OR EXISTS (SELECT FROM oms.customer_addresses a WHERE a.customer_id = c.id)
            OR EXISTS (SELECT FROM oms.customer_consents k WHERE k.customer_id = c.id)
            OR EXISTS (SELECT FROM oms.orders o WHERE o.customer_id = c.id
                          AND (o.ship_lat IS NOT NULL OR o.notes IS NOT NULL
                               OR (o.ship_to - ARRAY['erased', 'country', 'pickup']) <> '{}'::jsonb)))
    UNION ALL
    -- pricing: invariant 11. A promotion code's uses are the live orders
    -- holding a use of it (applied, not given back, the order's status not
    -- terminal), never above its usage_limit; the same per customer for
    -- codes with a per-customer limit (src/promotion_codes.c)
    SELECT 'promotion_code_uses',
           pg_catalog.format('promotion code %s: uses %s, live orders using it %s, usage_limit %s',
                             k.code, k.uses, COALESCE(u.n, 0), COALESCE(k.usage_limit::text, 'none'))
      FROM oms.promotion_codes k
      LEFT JOIN (SELECT oc.code_id, pg_catalog.count(*) AS n
                   FROM oms.order_codes oc JOIN oms.orders o ON o.id = oc.order_id
                   JOIN oms.order_statuses s ON s.status = o.status
                  WHERE oc.applied AND oc.released_at IS NULL AND NOT s.terminal GROUP BY 1) u ON u.code_id = k.id
     WHERE k.uses <> COALESCE(u.n, 0) OR k.uses > k.usage_limit
    UNION ALL
    SELECT 'promotion_code_uses',
           pg_catalog.format('promotion code %s, customer %s: uses %s, live orders of the customer using it %s, per_customer_limit %s',
                             k.code, COALESCE(c.customer_id, u.customer_id), COALESCE(c.uses, 0), COALESCE(u.n, 0),
                             COALESCE(k.per_customer_limit::text, 'none'))
      FROM oms.promotion_code_customers c
      FULL JOIN (SELECT oc.code_id, oc.customer_id, pg_catalog.count(*) AS n
                   FROM oms.order_codes oc JOIN oms.orders o ON o.id = oc.order_id
                   JOIN oms.order_statuses s ON s.status = o.status
                  WHERE oc.applied AND oc.released_at IS NULL AND NOT s.terminal AND oc.customer_id IS NOT NULL
                  GROUP BY 1, 2) u ON u.code_id = c.code_id AND u.customer_id = c.customer_id
      JOIN oms.promotion_codes k ON k.id = COALESCE(c.code_id, u.code_id)
     WHERE COALESCE(c.uses, 0) <> COALESCE(u.n, 0) OR c.uses > k.per_customer_limit
$fn$;
COMMENT ON FUNCTION oms.check() IS 'Every violated invariant, one row each; empty means consistent';
