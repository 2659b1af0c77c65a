
-- ===========================================================================
-- reports: the oms.report_* views for BI tools, read by oms_reporting
--
-- Plain SQL views over the operational tables, one per question. They run
-- with the rights of their owner (security_invoker is off, the default), so
-- oms_reporting reads them without any access to the base tables behind
-- them; what a view does not show (card tokens, e-mail addresses, notes)
-- stays out of reach.
--
-- Conventions every view follows, so that their numbers reconcile:
--   * Days are UTC dates. Money is in the order's currency, and every view
--     that adds money up groups by currency: amounts in different
--     currencies are never summed.
--   * An order "counts as a sale" when its status has counts_as_sale (every
--     seeded status but cancelled and expired) and it is not the
--     replacement order of an exchange (rmas.exchange_order_id: it is
--     placed at price 0 and is not a new sale). An order is "closed" when
--     its status is terminal (cancelled, expired): it ended unfulfilled.
--     What a status means is read from the capability columns of
--     oms.order_statuses, never from its name; the two exceptions are
--     report_channels.orders_cancelled and orders_expired, which count the
--     statuses they are named after. Its amounts are those of the units
--     it owes (orders.subtotal, discount, tax, total: units cancelled at
--     placement are not in them).
--   * Refunds are money paid back (oms.payment_transactions of kind refund,
--     equal to the sum of oms.payments.refunded); store credit issued for a
--     return is not a refund of money.
--   * Backorders are not held at any location. In the stock reports
--     (report_inventory, report_low_stock) a kit line's backordered kits
--     count as units of its components; report_backorders lists the lines
--     as ordered (kits as kits).
--   * Inventory value is at products.unit_cost, in the base currency.
--   * Rates are fractions between 0 and 1 rounded to 4 decimals, NULL when
--     the denominator is 0.
-- Results are live: a view shows what is committed now (on a hot standby,
-- what has been replayed), so an order cancelled today leaves the sales of
-- the day it was placed.
-- ===========================================================================

-- report_sales_daily filtered by day: the day expressions of the two
-- branches, so that "WHERE day >= ..." reads only the days asked for
-- (AT TIME ZONE with a constant zone is immutable)
CREATE INDEX orders_placed_day_idx ON oms.orders (((placed_at AT TIME ZONE 'UTC')::date));
CREATE INDEX payment_transactions_refund_day_idx ON oms.payment_transactions (((at AT TIME ZONE 'UTC')::date))
    WHERE kind OPERATOR(pg_catalog.=) 'refund';
-- the sales, customer and channel reports leave out the replacement orders
-- of exchanges: an anti-join per order that this small index answers
CREATE INDEX rmas_exchange_order_idx ON oms.rmas (exchange_order_id) WHERE exchange_order_id IS NOT NULL;

-- ---------------------------------------------------------------------------
-- sales per day and channel
-- ---------------------------------------------------------------------------
CREATE VIEW oms.report_sales_daily AS
SELECT f.day, c.code AS channel, f.currency,
       pg_catalog.sum(f.orders)::bigint AS orders,
       pg_catalog.sum(f.units)::bigint AS units,
       pg_catalog.sum(f.gross) AS gross,
       pg_catalog.sum(f.discounts) AS discounts,
       pg_catalog.sum(f.tax) AS tax,
       pg_catalog.sum(f.net) AS net,
       pg_catalog.sum(f.refunds) AS refunds,
       pg_catalog.sum(f.net) OPERATOR(pg_catalog.-) pg_catalog.sum(f.refunds) AS net_after_refunds,
       pg_catalog.sum(f.shipping) AS shipping
  FROM (SELECT (o.placed_at AT TIME ZONE 'UTC')::date AS day, o.channel_id, o.currency,
               1 AS orders,
               (SELECT COALESCE(pg_catalog.sum(l.qty OPERATOR(pg_catalog.-) l.qty_cancelled), 0) FROM oms.order_lines l
                 WHERE l.order_id OPERATOR(pg_catalog.=) o.id) AS units,
               o.subtotal AS gross, o.discount AS discounts, o.tax, o.total AS net,
               0.0000 AS refunds, o.shipping
          FROM oms.orders o
          JOIN oms.order_statuses st ON st.status OPERATOR(pg_catalog.=) o.status
         WHERE st.counts_as_sale
           AND NOT EXISTS (SELECT FROM oms.rmas x WHERE x.exchange_order_id OPERATOR(pg_catalog.=) o.id)
        UNION ALL
        -- an exchange's replacement order is never paid, so it has no refunds
        SELECT (t.at AT TIME ZONE 'UTC')::date, o.channel_id, o.currency,
               0, 0, 0.0000, 0.0000, 0.0000, 0.0000, t.amount, 0.0000
          FROM oms.payment_transactions t
          JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) t.order_id
          JOIN oms.order_statuses st ON st.status OPERATOR(pg_catalog.=) o.status
         WHERE t.kind OPERATOR(pg_catalog.=) 'refund'
           AND st.counts_as_sale) f
  JOIN oms.channels c ON c.id OPERATOR(pg_catalog.=) f.channel_id
 GROUP BY f.day, c.code, f.currency;
COMMENT ON VIEW oms.report_sales_daily IS 'Sales per UTC day, channel and currency: orders placed that day that count as sales (not cancelled, not expired, not an exchange''s replacement) with their amounts, and the refunds paid that day on such orders. Cancelled and expired orders are not sales: they and their refunds are left out entirely, also from the days before they were cancelled. A day with refunds and no new orders has a row with orders 0';
COMMENT ON COLUMN oms.report_sales_daily.day IS 'UTC date: placed_at for the order columns, the refund''s time for refunds';
COMMENT ON COLUMN oms.report_sales_daily.channel IS 'Channel code';
COMMENT ON COLUMN oms.report_sales_daily.currency IS 'ISO 4217 currency of the amounts';
COMMENT ON COLUMN oms.report_sales_daily.orders IS 'Orders placed that day that count as sales';
COMMENT ON COLUMN oms.report_sales_daily.units IS 'Units owed on those orders, every line (a kit counts as one unit, services count); units cancelled at placement under policy partial are left out, as they are from the order''s amounts';
COMMENT ON COLUMN oms.report_sales_daily.gross IS 'Sum of orders.subtotal ((qty - qty_cancelled) x unit_price over the lines)';
COMMENT ON COLUMN oms.report_sales_daily.discounts IS 'Sum of orders.discount';
COMMENT ON COLUMN oms.report_sales_daily.tax IS 'Sum of orders.tax';
COMMENT ON COLUMN oms.report_sales_daily.net IS 'gross - discounts + tax + shipping = sum of orders.total: what customers were charged, tax and shipping included so that refunds (which pay them back too) can be subtracted';
COMMENT ON COLUMN oms.report_sales_daily.refunds IS 'Money refunded that day (payment_transactions of kind refund) on orders of the channel that count as sales, whatever day they were placed; store credit is not included';
COMMENT ON COLUMN oms.report_sales_daily.net_after_refunds IS 'net - refunds';
COMMENT ON COLUMN oms.report_sales_daily.shipping IS 'Sum of orders.shipping: the shipping charged (included in net)';

-- ---------------------------------------------------------------------------
-- inventory per sku and location
-- ---------------------------------------------------------------------------
-- what waiting backorders need, per stock product: the one definition
-- report_inventory and report_low_stock share (not granted to anyone: the
-- reports read it with their owner's rights)
CREATE VIEW oms.backorder_demand AS
SELECT COALESCE(kc.component_id, ol.product_id) AS product_id,
       pg_catalog.sum(ol.qty_backordered OPERATOR(pg_catalog.*) COALESCE(kc.qty, 1))::bigint AS units
  FROM oms.order_lines ol
  LEFT JOIN oms.kit_components kc ON kc.kit_id OPERATOR(pg_catalog.=) ol.product_id
 WHERE ol.qty_backordered OPERATOR(pg_catalog.>) 0
 GROUP BY 1;
COMMENT ON VIEW oms.backorder_demand IS 'Units of each stock product that waiting order lines need: qty_backordered, kit lines as kits x component qty (backorders wait for any location)';
COMMENT ON COLUMN oms.backorder_demand.product_id IS 'Stock product (a kit line counts for its components)';
COMMENT ON COLUMN oms.backorder_demand.units IS 'Units the waiting lines need';

CREATE VIEW oms.report_inventory AS
SELECT p.sku, l.code AS location, b.on_hand, b.reserved, b.damaged, b.safety_stock,
       pg_catalog.int4larger(b.on_hand OPERATOR(pg_catalog.-) b.reserved OPERATOR(pg_catalog.-) b.safety_stock, 0) AS available,
       NULL::bigint AS backordered,
       0 AS inbound,
       b.on_hand OPERATOR(pg_catalog.*) p.unit_cost AS value_at_cost
  FROM oms.stock_balances b
  JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) b.product_id
  JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) b.location_id
UNION ALL
SELECT p.sku, NULL, NULL, NULL, NULL, NULL, NULL, w.units, NULL, NULL
  FROM oms.backorder_demand w
  JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) w.product_id;
COMMENT ON VIEW oms.report_inventory IS 'Stock per sku and location (every balance row, inactive locations included), plus one row with location NULL per stock sku that has waiting backorders: backorders wait for any location, so they are not split over locations, and summing a column over a sku''s rows gives the sku''s total';
COMMENT ON COLUMN oms.report_inventory.sku IS 'Product sku (kind stock)';
COMMENT ON COLUMN oms.report_inventory.location IS 'Location code; NULL on the sku''s backorder row';
COMMENT ON COLUMN oms.report_inventory.on_hand IS 'Sellable units at the location; NULL on the backorder row';
COMMENT ON COLUMN oms.report_inventory.reserved IS 'Units of on_hand held for orders; NULL on the backorder row';
COMMENT ON COLUMN oms.report_inventory.damaged IS 'Units at the location that cannot be sold (not part of on_hand); NULL on the backorder row';
COMMENT ON COLUMN oms.report_inventory.safety_stock IS 'Units of on_hand never promised; NULL on the backorder row';
COMMENT ON COLUMN oms.report_inventory.available IS 'on_hand - reserved - safety_stock, at least 0 (as oms.stock_levels and oms.available); NULL on the backorder row';
COMMENT ON COLUMN oms.report_inventory.backordered IS 'On the backorder row (location NULL): units of the sku that waiting order lines need (qty_backordered; kit lines as kits x component qty); NULL on location rows';
COMMENT ON COLUMN oms.report_inventory.inbound IS 'Units on their way to the location: always 0 in this version, oms has no purchase orders yet (report_low_stock suggests them); NULL on the backorder row';
COMMENT ON COLUMN oms.report_inventory.value_at_cost IS 'on_hand x products.unit_cost in the base currency; NULL when the unit cost is unknown; damaged units are not valued';

-- ---------------------------------------------------------------------------
-- low stock and reorder suggestions
-- ---------------------------------------------------------------------------
CREATE VIEW oms.report_low_stock AS
SELECT p.sku, p.name, x.on_hand, x.available, x.backordered, y.net_available,
       p.reorder_point, p.reorder_qty, y.suggested_qty,
       y.suggested_qty OPERATOR(pg_catalog.*) p.unit_cost AS suggested_cost
  FROM oms.products p
  LEFT JOIN (SELECT b.product_id, pg_catalog.sum(b.on_hand) AS on_hand,
                    pg_catalog.sum(pg_catalog.int4larger(b.on_hand OPERATOR(pg_catalog.-) b.reserved
                                   OPERATOR(pg_catalog.-) b.safety_stock, 0)) AS available
               FROM oms.stock_balances b
               JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) b.location_id
              WHERE l.active
              GROUP BY b.product_id) a ON a.product_id OPERATOR(pg_catalog.=) p.id
  LEFT JOIN oms.backorder_demand w ON w.product_id OPERATOR(pg_catalog.=) p.id
 CROSS JOIN LATERAL (SELECT COALESCE(a.on_hand, 0)::bigint AS on_hand, COALESCE(a.available, 0)::bigint AS available,
                            COALESCE(w.units, 0)::bigint AS backordered) x
 CROSS JOIN LATERAL (SELECT x.available OPERATOR(pg_catalog.-) x.backordered AS net_available,
                            pg_catalog.int8larger(p.reorder_qty, p.reorder_point OPERATOR(pg_catalog.-)
                                (x.available OPERATOR(pg_catalog.-) x.backordered)) AS suggested_qty) y
 WHERE p.kind OPERATOR(pg_catalog.=) 'stock'
   AND (p.active OR x.backordered OPERATOR(pg_catalog.>) 0)
   AND y.net_available OPERATOR(pg_catalog.<=) p.reorder_point
   AND y.suggested_qty OPERATOR(pg_catalog.>) 0;
COMMENT ON VIEW oms.report_low_stock IS 'Stock products to reorder: available at all active locations minus waiting backorders is at or below the reorder point. Lists active products, and inactive ones only while orders wait for them; a product whose suggestion would be 0 (no reorder point, no reorder qty, nothing backordered) is left out. The suggestions are the "automatic purchase orders": inbound stock is not netted, oms has no purchase orders yet';
COMMENT ON COLUMN oms.report_low_stock.sku IS 'Product sku (kind stock)';
COMMENT ON COLUMN oms.report_low_stock.name IS 'Product name';
COMMENT ON COLUMN oms.report_low_stock.on_hand IS 'Sellable units at active locations';
COMMENT ON COLUMN oms.report_low_stock.available IS 'Units that can be promised at active locations (= oms.available(sku))';
COMMENT ON COLUMN oms.report_low_stock.backordered IS 'Units waiting order lines need (kit lines as kits x component qty)';
COMMENT ON COLUMN oms.report_low_stock.net_available IS 'available - backordered; negative when more is owed than there is';
COMMENT ON COLUMN oms.report_low_stock.reorder_point IS 'products.reorder_point';
COMMENT ON COLUMN oms.report_low_stock.reorder_qty IS 'products.reorder_qty';
COMMENT ON COLUMN oms.report_low_stock.suggested_qty IS 'Units to order: the larger of reorder_qty and reorder_point - net_available (what brings net availability back to the reorder point)';
COMMENT ON COLUMN oms.report_low_stock.suggested_cost IS 'suggested_qty x products.unit_cost in the base currency; NULL when the unit cost is unknown';

-- ---------------------------------------------------------------------------
-- backorder ageing
-- ---------------------------------------------------------------------------
CREATE VIEW oms.report_backorders AS
SELECT o.id AS order_id, o.external_id, c.code AS channel, o.status, ol.line_no, p.sku,
       ol.qty_backordered AS qty, o.placed_at, a.age_days,
       CASE WHEN a.age_days OPERATOR(pg_catalog.<=) 2 THEN '0-2'
            WHEN a.age_days OPERATOR(pg_catalog.<=) 7 THEN '3-7'
            WHEN a.age_days OPERATOR(pg_catalog.<=) 30 THEN '8-30'
            ELSE '>30' END AS age_bucket
  FROM oms.order_lines ol
  JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) ol.order_id
  JOIN oms.channels c ON c.id OPERATOR(pg_catalog.=) o.channel_id
  JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) ol.product_id
 CROSS JOIN LATERAL (SELECT pg_catalog.floor(EXTRACT(EPOCH FROM pg_catalog.now() OPERATOR(pg_catalog.-) o.placed_at)
                            OPERATOR(pg_catalog./) 86400)::integer AS age_days) a
 WHERE ol.qty_backordered OPERATOR(pg_catalog.>) 0;
COMMENT ON VIEW oms.report_backorders IS 'Order lines waiting for stock, with their age since the order was placed (a line backordered later, by a rejection, is aged from placement too: the customer has waited since then)';
COMMENT ON COLUMN oms.report_backorders.order_id IS 'Order id';
COMMENT ON COLUMN oms.report_backorders.external_id IS 'The order''s id in the calling system';
COMMENT ON COLUMN oms.report_backorders.channel IS 'Channel code';
COMMENT ON COLUMN oms.report_backorders.status IS 'Order status';
COMMENT ON COLUMN oms.report_backorders.line_no IS 'Line number in the order';
COMMENT ON COLUMN oms.report_backorders.sku IS 'Product of the line (a kit line shows the kit)';
COMMENT ON COLUMN oms.report_backorders.qty IS 'Units of the line waiting (kits: whole kits)';
COMMENT ON COLUMN oms.report_backorders.placed_at IS 'When the order was placed';
COMMENT ON COLUMN oms.report_backorders.age_days IS 'Whole days since placed_at, at the start of the reading transaction';
COMMENT ON COLUMN oms.report_backorders.age_bucket IS 'Age band of age_days: 0-2, 3-7, 8-30 or >30';

-- ---------------------------------------------------------------------------
-- fulfillment per location
-- ---------------------------------------------------------------------------
CREATE VIEW oms.report_fulfillment AS
SELECT l.code AS location,
       pg_catalog.count(*) FILTER (WHERE s.left_location) AS shipments,
       pg_catalog.count(*) FILTER (WHERE s.status OPERATOR(pg_catalog.=) 'pending') AS shipments_pending,
       COALESCE(pg_catalog.sum(s.units) FILTER (WHERE s.left_location), 0)::bigint AS units_shipped,
       pg_catalog.count(DISTINCT s.order_id) FILTER (WHERE s.left_location) AS orders_shipped,
       pg_catalog.count(DISTINCT s.order_id) FILTER (WHERE s.left_location AND s.parcels OPERATOR(pg_catalog.>) 1) AS orders_split,
       pg_catalog.round(pg_catalog.count(DISTINCT s.order_id) FILTER (WHERE s.left_location AND s.parcels OPERATOR(pg_catalog.>) 1)::numeric
                        OPERATOR(pg_catalog./) NULLIF(pg_catalog.count(DISTINCT s.order_id) FILTER (WHERE s.left_location), 0), 4) AS split_rate,
       pg_catalog.round(pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY s.ship_hours)::numeric, 2) AS ship_hours_p50,
       pg_catalog.round(pg_catalog.percentile_cont(0.9) WITHIN GROUP (ORDER BY s.ship_hours)::numeric, 2) AS ship_hours_p90,
       pg_catalog.round(pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY s.delivery_hours)::numeric, 2) AS delivery_hours_p50,
       pg_catalog.round(pg_catalog.percentile_cont(0.9) WITHIN GROUP (ORDER BY s.delivery_hours)::numeric, 2) AS delivery_hours_p90
  FROM (SELECT sh.order_id, sh.location_id, sh.status,
               sh.status OPERATOR(pg_catalog.=) ANY (ARRAY['shipped', 'delivered']) AS left_location,
               (SELECT pg_catalog.sum(sl.qty) FROM oms.shipment_lines sl WHERE sl.shipment_id OPERATOR(pg_catalog.=) sh.id) AS units,
               pg_catalog.count(*) FILTER (WHERE sh.status OPERATOR(pg_catalog.=) ANY (ARRAY['shipped', 'delivered']))
                   OVER (PARTITION BY sh.order_id) AS parcels,
               EXTRACT(EPOCH FROM sh.shipped_at OPERATOR(pg_catalog.-) o.placed_at)::double precision
                   OPERATOR(pg_catalog./) 3600 AS ship_hours,
               EXTRACT(EPOCH FROM sh.delivered_at OPERATOR(pg_catalog.-) sh.shipped_at)::double precision
                   OPERATOR(pg_catalog./) 3600 AS delivery_hours
          FROM oms.shipments sh
          JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) sh.order_id
         WHERE sh.status OPERATOR(pg_catalog.<>) 'cancelled') s
  JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) s.location_id
 GROUP BY GROUPING SETS ((l.code), ());
COMMENT ON VIEW oms.report_fulfillment IS 'Shipments per location that ships, and one row with location NULL for all locations together (its percentiles and split rate are over every shipment and order, not sums of the location rows). Times are per shipment; cancelled shipments are left out';
COMMENT ON COLUMN oms.report_fulfillment.location IS 'Location code; NULL on the all-locations row';
COMMENT ON COLUMN oms.report_fulfillment.shipments IS 'Shipments that left (shipped or delivered)';
COMMENT ON COLUMN oms.report_fulfillment.shipments_pending IS 'Shipments being picked and packed (not shipped yet)';
COMMENT ON COLUMN oms.report_fulfillment.units_shipped IS 'Units in the shipments that left (kits: whole kits; service lines are not part of shipments)';
COMMENT ON COLUMN oms.report_fulfillment.orders_shipped IS 'Orders with at least one shipment that left from here';
COMMENT ON COLUMN oms.report_fulfillment.orders_split IS 'Of orders_shipped, those that left in more than one shipment (from any locations)';
COMMENT ON COLUMN oms.report_fulfillment.split_rate IS 'orders_split / orders_shipped';
COMMENT ON COLUMN oms.report_fulfillment.ship_hours_p50 IS 'Median hours from the order''s placed_at to the shipment''s shipped_at (percentile_cont), over the shipments that left';
COMMENT ON COLUMN oms.report_fulfillment.ship_hours_p90 IS '90th percentile of the hours from placed_at to shipped_at';
COMMENT ON COLUMN oms.report_fulfillment.delivery_hours_p50 IS 'Median hours from shipped_at to delivered_at, over delivered shipments';
COMMENT ON COLUMN oms.report_fulfillment.delivery_hours_p90 IS '90th percentile of the hours from shipped_at to delivered_at';

-- ---------------------------------------------------------------------------
-- routing decisions per strategy, rule and location
-- ---------------------------------------------------------------------------
CREATE VIEW oms.report_routing AS
SELECT d.strategy, d.rule, e.location,
       pg_catalog.count(*) AS decisions,
       pg_catalog.count(*) FILTER (WHERE d.trigger OPERATOR(pg_catalog.=) 'reroute') AS reroutes,
       pg_catalog.round(pg_catalog.count(*)::numeric OPERATOR(pg_catalog./) t.decisions, 4) AS share,
       COALESCE(pg_catalog.sum(e.units), 0)::bigint AS units,
       pg_catalog.round(pg_catalog.avg(e.distance_km), 1) AS avg_distance_km
  FROM oms.routing_decisions d
  LEFT JOIN LATERAL (SELECT x OPERATOR(pg_catalog.->>) 'location' AS location,
                            (x OPERATOR(pg_catalog.->>) 'units')::bigint AS units,
                            (x OPERATOR(pg_catalog.->>) 'distance_km')::numeric AS distance_km
                       FROM pg_catalog.jsonb_array_elements(d.chosen) AS x) e ON true
  JOIN (SELECT strategy, rule, pg_catalog.count(*) AS decisions
          FROM oms.routing_decisions GROUP BY strategy, rule) t
    ON t.strategy OPERATOR(pg_catalog.=) d.strategy AND t.rule OPERATOR(pg_catalog.=) d.rule
 GROUP BY d.strategy, d.rule, e.location, t.decisions;
COMMENT ON VIEW oms.report_routing IS 'How often each strategy and rule chose each location (routing_decisions, placements and re-routes), with the units reserved there and the average distance; a decision that reserved nothing anywhere counts on a row with location NULL';
COMMENT ON COLUMN oms.report_routing.strategy IS 'Channel strategy at decision time: closest, cheapest, priority or balance';
COMMENT ON COLUMN oms.report_routing.rule IS 'The rule that decided (routing_decisions.rule)';
COMMENT ON COLUMN oms.report_routing.location IS 'Chosen location code; NULL for decisions that chose no location';
COMMENT ON COLUMN oms.report_routing.decisions IS 'Decisions of this strategy and rule that chose this location';
COMMENT ON COLUMN oms.report_routing.reroutes IS 'Of those, re-routes after a rejection';
COMMENT ON COLUMN oms.report_routing.share IS 'decisions / all decisions of this strategy and rule; a split decision chooses several locations, so shares can add up to more than 1';
COMMENT ON COLUMN oms.report_routing.units IS 'Stock units reserved at the location by these decisions (kit components counted one by one)';
COMMENT ON COLUMN oms.report_routing.avg_distance_km IS 'Average distance from the location to the ship-to over these decisions, in km; decisions without ship-to coordinates are left out, NULL when none had them';

-- ---------------------------------------------------------------------------
-- returns per sku and reason
-- ---------------------------------------------------------------------------
CREATE VIEW oms.report_returns AS
SELECT a.level, a.currency, a.sku, a.reason, a.rmas, a.units_requested,
       a.units_restocked, a.units_damaged, a.units_missing, a.units_returned,
       COALESCE(sh.units, 0)::bigint AS units_shipped,
       pg_catalog.round(a.units_returned::numeric OPERATOR(pg_catalog./) NULLIF(sh.units, 0), 4) AS return_rate,
       pg_catalog.round(a.units_restocked::numeric OPERATOR(pg_catalog./) NULLIF(a.units_received, 0), 4) AS restocked_share,
       pg_catalog.round(a.units_damaged::numeric OPERATOR(pg_catalog./) NULLIF(a.units_received, 0), 4) AS damaged_share,
       pg_catalog.round(a.units_missing::numeric OPERATOR(pg_catalog./) NULLIF(a.units_received, 0), 4) AS missing_share,
       a.value_resolved
  FROM (SELECT CASE GROUPING(r.sku, r.reason) WHEN 0 THEN 'sku_reason' WHEN 1 THEN 'sku'
                    WHEN 2 THEN 'reason' ELSE 'all' END AS level,
               r.currency, r.sku, r.reason,
               pg_catalog.count(DISTINCT r.rma_id) AS rmas,
               pg_catalog.sum(r.qty)::bigint AS units_requested,
               pg_catalog.sum(r.qty_restocked)::bigint AS units_restocked,
               pg_catalog.sum(r.qty_damaged)::bigint AS units_damaged,
               pg_catalog.sum(r.qty_missing)::bigint AS units_missing,
               pg_catalog.sum(r.qty_restocked OPERATOR(pg_catalog.+) r.qty_damaged)::bigint AS units_returned,
               pg_catalog.sum(r.qty_restocked OPERATOR(pg_catalog.+) r.qty_damaged OPERATOR(pg_catalog.+) r.qty_missing)::bigint AS units_received,
               pg_catalog.sum(r.qty_resolved OPERATOR(pg_catalog.*) r.unit_value) AS value_resolved
          FROM (SELECT o.currency, p.sku, rl.reason, rl.rma_id, rl.qty, rl.qty_restocked, rl.qty_damaged,
                       rl.qty_missing, rl.qty_resolved, rl.unit_value
                  FROM oms.rma_lines rl
                  JOIN oms.rmas m ON m.id OPERATOR(pg_catalog.=) rl.rma_id
                  JOIN oms.order_lines ol ON ol.id OPERATOR(pg_catalog.=) rl.order_line_id
                  JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) ol.order_id
                  JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) ol.product_id
                 WHERE m.status OPERATOR(pg_catalog.<>) 'rejected') r
         GROUP BY GROUPING SETS ((r.currency, r.sku, r.reason), (r.currency, r.sku), (r.currency, r.reason), (r.currency))) a
  -- units shipped per currency and sku, and per currency (sku NULL, for the
  -- reason and all levels), in one pass over the lines; skus are never empty
  LEFT JOIN (SELECT o.currency, p.sku, pg_catalog.sum(ol.qty_shipped) AS units
               FROM oms.order_lines ol
               JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) ol.order_id
               JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) ol.product_id
              WHERE ol.qty_shipped OPERATOR(pg_catalog.>) 0 AND p.kind OPERATOR(pg_catalog.<>) 'service'
              GROUP BY GROUPING SETS ((o.currency, p.sku), (o.currency))) sh
    ON sh.currency OPERATOR(pg_catalog.=) a.currency AND COALESCE(sh.sku, '') OPERATOR(pg_catalog.=) COALESCE(a.sku, '');
COMMENT ON VIEW oms.report_returns IS 'Returns per currency at four levels: per sku and reason, per sku (all reasons), per reason (all skus) and in all; RMAs that were rejected are left out. Only skus and reasons with returns have rows: a sku shipped and never returned has a return rate of 0. Money is the paid value of the units resolved, before restocking fees and rounding: the money actually refunded or credited is per RMA (rmas.refunded, rmas.store_credit; report_payment_reconciliation per order) and is not split over lines here';
COMMENT ON COLUMN oms.report_returns.level IS 'sku_reason, sku (reason NULL: all reasons), reason (sku NULL: all skus) or all (both NULL)';
COMMENT ON COLUMN oms.report_returns.currency IS 'Currency of the orders returned from';
COMMENT ON COLUMN oms.report_returns.sku IS 'Product returned (kits as kits); NULL on the reason and all levels';
COMMENT ON COLUMN oms.report_returns.reason IS 'Return reason; NULL on the sku and all levels';
COMMENT ON COLUMN oms.report_returns.rmas IS 'RMAs (not rejected) with such lines';
COMMENT ON COLUMN oms.report_returns.units_requested IS 'Units claimed by those RMAs';
COMMENT ON COLUMN oms.report_returns.units_restocked IS 'Units received sellable, back in stock';
COMMENT ON COLUMN oms.report_returns.units_damaged IS 'Units received damaged';
COMMENT ON COLUMN oms.report_returns.units_missing IS 'Units reported missing from the parcel';
COMMENT ON COLUMN oms.report_returns.units_returned IS 'units_restocked + units_damaged: units that came back (as order_lines.qty_returned)';
COMMENT ON COLUMN oms.report_returns.units_shipped IS 'Units of the sku shipped in this currency (all skus but services on the reason and all levels), returned or not';
COMMENT ON COLUMN oms.report_returns.return_rate IS 'units_returned / units_shipped';
COMMENT ON COLUMN oms.report_returns.restocked_share IS 'units_restocked / units received (restocked + damaged + missing)';
COMMENT ON COLUMN oms.report_returns.damaged_share IS 'units_damaged / units received';
COMMENT ON COLUMN oms.report_returns.missing_share IS 'units_missing / units received';
COMMENT ON COLUMN oms.report_returns.value_resolved IS 'Sum of qty_resolved x unit_value: what the units refunded, credited or exchanged were paid, before restocking fees and rounding';

-- ---------------------------------------------------------------------------
-- payment reconciliation per order
-- ---------------------------------------------------------------------------
CREATE VIEW oms.report_payment_reconciliation AS
SELECT o.id AS order_id, o.external_id, c.code AS channel,
       (o.placed_at AT TIME ZONE 'UTC')::date AS day,
       o.status, o.currency, o.total,
       x.cancelled_value,
       x.authorized, x.captured, x.voided, x.refunded,
       x.returns_refunded, x.returns_store_credit,
       x.captured OPERATOR(pg_catalog.-) x.refunded AS net_paid,
       y.amount_due,
       y.amount_due OPERATOR(pg_catalog.-) (x.captured OPERATOR(pg_catalog.-) x.refunded) AS balance_due,
       pg_catalog.cardinality(z.reasons) OPERATOR(pg_catalog.>) 0 AS mismatch,
       z.reasons AS mismatch_reasons
  FROM oms.orders o
  JOIN oms.channels c ON c.id OPERATOR(pg_catalog.=) o.channel_id
  JOIN oms.order_statuses st ON st.status OPERATOR(pg_catalog.=) o.status
  -- per order sums as lateral subqueries: a lookup by any column of the
  -- order (external_id, status) reads only that order's rows
  CROSS JOIN LATERAL (SELECT pg_catalog.sum(authorized) AS authorized, pg_catalog.sum(captured) AS captured,
                             pg_catalog.sum(voided) AS voided, pg_catalog.sum(refunded) AS refunded
                        FROM oms.payments WHERE order_id OPERATOR(pg_catalog.=) o.id) p
  CROSS JOIN LATERAL (SELECT pg_catalog.sum(refunded) AS refunded, pg_catalog.sum(store_credit) AS store_credit
                        FROM oms.rmas WHERE order_id OPERATOR(pg_catalog.=) o.id) r
  CROSS JOIN LATERAL (SELECT
                    pg_catalog.sum(CASE WHEN qty_cancelled OPERATOR(pg_catalog.=) qty
                                        THEN (unit_price OPERATOR(pg_catalog.*) qty) OPERATOR(pg_catalog.-) discount OPERATOR(pg_catalog.+) tax
                                        ELSE pg_catalog.round(((unit_price OPERATOR(pg_catalog.*) qty) OPERATOR(pg_catalog.-) discount
                                             OPERATOR(pg_catalog.+) tax) OPERATOR(pg_catalog.*) qty_cancelled OPERATOR(pg_catalog./) qty, 2) END) AS value
               FROM oms.order_lines
              WHERE order_id OPERATOR(pg_catalog.=) o.id AND qty_cancelled OPERATOR(pg_catalog.>) 0) lc
 CROSS JOIN LATERAL (SELECT st.terminal AS closed,
                            COALESCE(lc.value, 0.0000) AS cancelled_value,
                            COALESCE(p.authorized, 0.0000) AS authorized, COALESCE(p.captured, 0.0000) AS captured,
                            COALESCE(p.voided, 0.0000) AS voided, COALESCE(p.refunded, 0.0000) AS refunded,
                            COALESCE(r.refunded, 0.0000) AS returns_refunded, COALESCE(r.store_credit, 0.0000) AS returns_store_credit) x
 CROSS JOIN LATERAL (SELECT CASE WHEN x.closed THEN 0.0000
                                 ELSE o.total OPERATOR(pg_catalog.-) x.returns_refunded END AS amount_due) y
 CROSS JOIN LATERAL (SELECT pg_catalog.array_remove(ARRAY[
            CASE WHEN x.captured OPERATOR(pg_catalog.>) o.total THEN 'captured_over_total' END,
            CASE WHEN x.closed AND x.captured OPERATOR(pg_catalog.<>) x.refunded THEN 'closed_with_money_kept' END,
            CASE WHEN x.closed AND x.authorized OPERATOR(pg_catalog.>) (x.captured OPERATOR(pg_catalog.+) x.voided)
                 THEN 'closed_with_open_authorization' END,
            -- every unit shipped: the status holds no stock and is not terminal
            CASE WHEN NOT st.holds_stock AND NOT st.terminal
                  AND y.amount_due OPERATOR(pg_catalog.>) (x.captured OPERATOR(pg_catalog.-) x.refunded) THEN 'shipped_with_balance_due' END,
            CASE WHEN NOT x.closed AND y.amount_due OPERATOR(pg_catalog.<) (x.captured OPERATOR(pg_catalog.-) x.refunded) THEN 'overpaid' END
            ]::text[], NULL) AS reasons) z;
COMMENT ON VIEW oms.report_payment_reconciliation IS 'Every order with its payments and what is still owed. amount_due is what the customer owes in money for what they keep: 0 for a cancelled or expired order, else total (which counts only the units owed: units cancelled at placement are not in it) less the money refunded for returns. A return settled in store credit does not lower it: the customer traded the goods for credit, and the money paid stays due. A goodwill refund outside an RMA raises balance_due: oms cannot tell it from a mistake, so it shows';
COMMENT ON COLUMN oms.report_payment_reconciliation.order_id IS 'Order id';
COMMENT ON COLUMN oms.report_payment_reconciliation.external_id IS 'The order''s id in the calling system';
COMMENT ON COLUMN oms.report_payment_reconciliation.channel IS 'Channel code';
COMMENT ON COLUMN oms.report_payment_reconciliation.day IS 'UTC date the order was placed (as report_sales_daily.day): a filter such as day >= current_date - 7 reads only those days (orders_placed_day_idx)';
COMMENT ON COLUMN oms.report_payment_reconciliation.status IS 'Order status';
COMMENT ON COLUMN oms.report_payment_reconciliation.currency IS 'Currency of every amount of the row';
COMMENT ON COLUMN oms.report_payment_reconciliation.total IS 'orders.total: the units owed (not cancelled at placement) at their price, less discount, plus tax';
COMMENT ON COLUMN oms.report_payment_reconciliation.cancelled_value IS 'Value of the units cancelled on the order''s lines: (unit_price x qty - discount + tax) x qty_cancelled / qty per line, rounded to 2 decimals unless the whole line is cancelled. Informational: orders.total no longer counts units cancelled while the order is open, so amount_due does not subtract it';
COMMENT ON COLUMN oms.report_payment_reconciliation.authorized IS 'Sum of payments.authorized';
COMMENT ON COLUMN oms.report_payment_reconciliation.captured IS 'Sum of payments.captured';
COMMENT ON COLUMN oms.report_payment_reconciliation.voided IS 'Sum of payments.voided';
COMMENT ON COLUMN oms.report_payment_reconciliation.refunded IS 'Sum of payments.refunded: all money paid back, for returns, cancellations or otherwise';
COMMENT ON COLUMN oms.report_payment_reconciliation.returns_refunded IS 'Of refunded, the money refunded for returns (sum of rmas.refunded)';
COMMENT ON COLUMN oms.report_payment_reconciliation.returns_store_credit IS 'Store credit issued for returns of the order (sum of rmas.store_credit); not money';
COMMENT ON COLUMN oms.report_payment_reconciliation.net_paid IS 'captured - refunded: money kept';
COMMENT ON COLUMN oms.report_payment_reconciliation.amount_due IS 'What the customer owes in money: 0 when cancelled or expired, else total - returns_refunded';
COMMENT ON COLUMN oms.report_payment_reconciliation.balance_due IS 'amount_due - net_paid: positive = still to be paid (or captured), negative = to be paid back';
COMMENT ON COLUMN oms.report_payment_reconciliation.mismatch IS 'True when mismatch_reasons is not empty';
COMMENT ON COLUMN oms.report_payment_reconciliation.mismatch_reasons IS 'captured_over_total; closed_with_money_kept (cancelled or expired, captured <> refunded); closed_with_open_authorization (cancelled or expired, authorized beyond captured + voided); shipped_with_balance_due (shipped, delivered, completed or returned, balance_due > 0); overpaid (not cancelled or expired, balance_due < 0)';

-- ---------------------------------------------------------------------------
-- customers
-- ---------------------------------------------------------------------------
CREATE VIEW oms.report_customers AS
-- one row per order, per payment and per shipped line, added up per
-- customer: a filter on customer_id reaches each branch's orders through
-- orders_customer_idx, and a full read joins by hash
SELECT cu.id AS customer_id, cu.external_ref, cu.flags, f.currency,
       pg_catalog.sum(f.orders)::bigint AS orders,
       pg_catalog.sum(f.orders_cancelled)::bigint AS orders_cancelled,
       pg_catalog.min(f.placed_at) AS first_order_at,
       pg_catalog.max(f.placed_at) AS last_order_at,
       pg_catalog.sum(f.net_paid) AS lifetime_value,
       pg_catalog.sum(f.shipped)::bigint AS units_shipped,
       pg_catalog.sum(f.returned)::bigint AS units_returned,
       pg_catalog.round(pg_catalog.sum(f.returned)::numeric OPERATOR(pg_catalog./) NULLIF(pg_catalog.sum(f.shipped), 0), 4) AS return_rate
  FROM (SELECT o.customer_id, o.currency,
               CASE WHEN x.closed THEN 0 ELSE 1 END AS orders,
               CASE WHEN x.closed THEN 1 ELSE 0 END AS orders_cancelled,
               CASE WHEN NOT x.closed THEN o.placed_at END AS placed_at,
               0.0000 AS net_paid, 0 AS shipped, 0 AS returned
          FROM oms.orders o
          JOIN oms.order_statuses st ON st.status OPERATOR(pg_catalog.=) o.status
         CROSS JOIN LATERAL (SELECT st.terminal AS closed) x
         WHERE NOT EXISTS (SELECT FROM oms.rmas e WHERE e.exchange_order_id OPERATOR(pg_catalog.=) o.id)
        UNION ALL
        SELECT o.customer_id, o.currency, 0, 0, NULL, p.captured OPERATOR(pg_catalog.-) p.refunded, 0, 0
          FROM oms.payments p
          JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) p.order_id
         WHERE NOT EXISTS (SELECT FROM oms.rmas e WHERE e.exchange_order_id OPERATOR(pg_catalog.=) o.id)
        UNION ALL
        SELECT o.customer_id, o.currency, 0, 0, NULL, 0.0000, ol.qty_shipped, ol.qty_returned
          FROM oms.order_lines ol
          JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) ol.order_id
          JOIN oms.products pr ON pr.id OPERATOR(pg_catalog.=) ol.product_id
         WHERE ol.qty_shipped OPERATOR(pg_catalog.>) 0 AND pr.kind OPERATOR(pg_catalog.<>) 'service'
           AND NOT EXISTS (SELECT FROM oms.rmas e WHERE e.exchange_order_id OPERATOR(pg_catalog.=) o.id)) f
  JOIN oms.customers cu ON cu.id OPERATOR(pg_catalog.=) f.customer_id
 GROUP BY cu.id, cu.external_ref, cu.flags, f.currency;
COMMENT ON VIEW oms.report_customers IS 'Customers per currency they ordered in (guest orders and exchange replacement orders left out). Identifies customers by id and external_ref only: names and e-mail addresses stay out of reporting';
COMMENT ON COLUMN oms.report_customers.customer_id IS 'Customer id';
COMMENT ON COLUMN oms.report_customers.external_ref IS 'The customer''s id in the calling system (shop, CRM)';
COMMENT ON COLUMN oms.report_customers.flags IS 'customers.flags (vip, fraud_review, terms, ...)';
COMMENT ON COLUMN oms.report_customers.currency IS 'Currency of the orders and of lifetime_value';
COMMENT ON COLUMN oms.report_customers.orders IS 'Orders that count as sales (not cancelled or expired)';
COMMENT ON COLUMN oms.report_customers.orders_cancelled IS 'Orders cancelled or expired';
COMMENT ON COLUMN oms.report_customers.first_order_at IS 'placed_at of the first order that counts as a sale';
COMMENT ON COLUMN oms.report_customers.last_order_at IS 'placed_at of the latest order that counts as a sale';
COMMENT ON COLUMN oms.report_customers.lifetime_value IS 'Money kept from the customer over all orders: sum of captured - refunded over every payment method (store credit spent included)';
COMMENT ON COLUMN oms.report_customers.units_shipped IS 'Units shipped to the customer (kits as kits; services, which cannot be returned, left out)';
COMMENT ON COLUMN oms.report_customers.units_returned IS 'Units returned (received sellable or damaged)';
COMMENT ON COLUMN oms.report_customers.return_rate IS 'units_returned / units_shipped';

-- ---------------------------------------------------------------------------
-- channels
-- ---------------------------------------------------------------------------
CREATE VIEW oms.report_channels AS
SELECT c.code AS channel, o.currency,
       pg_catalog.count(*) AS orders_placed,
       pg_catalog.count(*) FILTER (WHERE o.status OPERATOR(pg_catalog.=) 'cancelled') AS orders_cancelled,
       pg_catalog.count(*) FILTER (WHERE o.status OPERATOR(pg_catalog.=) 'expired') AS orders_expired,
       pg_catalog.round(pg_catalog.count(*) FILTER (WHERE x.closed)::numeric OPERATOR(pg_catalog./) pg_catalog.count(*), 4) AS cancellation_rate,
       pg_catalog.count(*) FILTER (WHERE NOT x.closed) AS orders,
       COALESCE(pg_catalog.sum(o.total) FILTER (WHERE NOT x.closed), 0.0000) AS revenue,
       COALESCE(pg_catalog.sum(p.refunded) FILTER (WHERE NOT x.closed), 0.0000) AS refunds,
       COALESCE(pg_catalog.sum(o.total) FILTER (WHERE NOT x.closed), 0.0000)
           OPERATOR(pg_catalog.-) COALESCE(pg_catalog.sum(p.refunded) FILTER (WHERE NOT x.closed), 0.0000) AS net_revenue
  FROM oms.orders o
  JOIN oms.channels c ON c.id OPERATOR(pg_catalog.=) o.channel_id
  LEFT JOIN (SELECT order_id, pg_catalog.sum(refunded) AS refunded FROM oms.payments GROUP BY order_id) p
    ON p.order_id OPERATOR(pg_catalog.=) o.id
  JOIN oms.order_statuses st ON st.status OPERATOR(pg_catalog.=) o.status
 CROSS JOIN LATERAL (SELECT st.terminal AS closed) x
 WHERE NOT EXISTS (SELECT FROM oms.rmas e WHERE e.exchange_order_id OPERATOR(pg_catalog.=) o.id)
 GROUP BY c.code, o.currency;
COMMENT ON VIEW oms.report_channels IS 'Orders, revenue and cancellations per channel and currency, all time (exchange replacement orders left out). orders, revenue and refunds are the sums of report_sales_daily''s orders, net and refunds over the channel''s days';
COMMENT ON COLUMN oms.report_channels.channel IS 'Channel code';
COMMENT ON COLUMN oms.report_channels.currency IS 'Currency of the amounts';
COMMENT ON COLUMN oms.report_channels.orders_placed IS 'Every order placed';
COMMENT ON COLUMN oms.report_channels.orders_cancelled IS 'Orders cancelled';
COMMENT ON COLUMN oms.report_channels.orders_expired IS 'Orders expired (never paid)';
COMMENT ON COLUMN oms.report_channels.cancellation_rate IS '(orders_cancelled + orders_expired) / orders_placed';
COMMENT ON COLUMN oms.report_channels.orders IS 'Orders that count as sales: orders_placed - orders_cancelled - orders_expired';
COMMENT ON COLUMN oms.report_channels.revenue IS 'Sum of orders.total of those orders (tax included)';
COMMENT ON COLUMN oms.report_channels.refunds IS 'Money refunded on those orders';
COMMENT ON COLUMN oms.report_channels.net_revenue IS 'revenue - refunds';

-- ===========================================================================
-- materialized reports
--
-- The history-wide reports (sales per day, fulfillment, routing, returns,
-- customers, channels) read every order there ever was: at 1M orders a read
-- of the live view takes seconds (test/bench/reports). Each of them also
-- exists as oms.<view>_mv, a materialized copy of the live view that BI
-- reads in milliseconds, refreshed by oms.refresh_reports() on a schedule
-- the business chooses. The refresh pays the whole computation once, on the
-- primary, instead of once per dashboard; it runs CONCURRENTLY by default,
-- so dashboards keep reading the previous contents meanwhile, and never
-- touches the order tables' locks (place_order is not slowed, beyond the
-- shared CPU and I/O).
--
-- Not materialized: report_inventory, report_low_stock and report_backorders
-- (current state, read through small indexes: milliseconds at any history)
-- and report_payment_reconciliation (one row per order: read by order,
-- which is fast live; a copy would be as big as orders).
-- ===========================================================================
CREATE MATERIALIZED VIEW oms.report_sales_daily_mv AS SELECT * FROM oms.report_sales_daily;
CREATE UNIQUE INDEX report_sales_daily_mv_key ON oms.report_sales_daily_mv (day, channel, currency);
CREATE MATERIALIZED VIEW oms.report_fulfillment_mv AS SELECT * FROM oms.report_fulfillment;
CREATE UNIQUE INDEX report_fulfillment_mv_key ON oms.report_fulfillment_mv (location);
CREATE MATERIALIZED VIEW oms.report_routing_mv AS SELECT * FROM oms.report_routing;
CREATE UNIQUE INDEX report_routing_mv_key ON oms.report_routing_mv (strategy, rule, location);
CREATE MATERIALIZED VIEW oms.report_returns_mv AS SELECT * FROM oms.report_returns;
CREATE UNIQUE INDEX report_returns_mv_key ON oms.report_returns_mv (level, currency, sku, reason);
CREATE MATERIALIZED VIEW oms.report_customers_mv AS SELECT * FROM oms.report_customers;
CREATE UNIQUE INDEX report_customers_mv_key ON oms.report_customers_mv (customer_id, currency);
-- "top customers": ORDER BY lifetime_value DESC LIMIT n reads the index
CREATE INDEX report_customers_mv_value_idx ON oms.report_customers_mv (lifetime_value DESC);
CREATE MATERIALIZED VIEW oms.report_channels_mv AS SELECT * FROM oms.report_channels;
CREATE UNIQUE INDEX report_channels_mv_key ON oms.report_channels_mv (channel, currency);

-- what each materialized report shows, and since when
CREATE TABLE oms.materialized_reports (
    report       text          NOT NULL,
    source       text          NOT NULL,
    as_of        timestamptz   NOT NULL,
    refreshed_at timestamptz   NOT NULL,
    duration_ms  numeric(12,1),
    row_count    bigint,
    CONSTRAINT materialized_reports_pkey PRIMARY KEY (report)
);
COMMENT ON TABLE oms.materialized_reports IS 'The materialized reports (oms.report_*_mv), one row each, written by oms.refresh_reports(): how old their contents are';
COMMENT ON COLUMN oms.materialized_reports.report IS 'Name of the materialized view in schema oms';
COMMENT ON COLUMN oms.materialized_reports.source IS 'The live view it copies; its columns mean the same';
COMMENT ON COLUMN oms.materialized_reports.as_of IS 'The contents are the live view as of this time: the start of the transaction when refreshed under REPEATABLE READ or SERIALIZABLE (every report of one call then shares it), else the start of the refresh';
COMMENT ON COLUMN oms.materialized_reports.refreshed_at IS 'When the last refresh finished (CREATE EXTENSION counts as one)';
COMMENT ON COLUMN oms.materialized_reports.duration_ms IS 'How long the last refresh took; NULL for the one of CREATE EXTENSION';
COMMENT ON COLUMN oms.materialized_reports.row_count IS 'Rows after the last refresh; NULL for the one of CREATE EXTENSION';
-- every materialized view above, named after the live view it copies
INSERT INTO oms.materialized_reports (report, source, as_of, refreshed_at)
SELECT c.relname, pg_catalog.left(c.relname, -3), pg_catalog.now(), pg_catalog.now()
  FROM pg_catalog.pg_class c
 WHERE c.relnamespace OPERATOR(pg_catalog.=) 'oms'::pg_catalog.regnamespace
   AND c.relkind OPERATOR(pg_catalog.=) 'm';

-- each materialized report says what it copies, and its columns carry the
-- comments of the live view's
DO $$
DECLARE
    m record;
BEGIN
    FOR m IN SELECT report, source FROM oms.materialized_reports LOOP
        EXECUTE pg_catalog.format('COMMENT ON MATERIALIZED VIEW oms.%I IS %L', m.report,
            pg_catalog.format('Materialized copy of oms.%s, refreshed by oms.refresh_reports() (oms.materialized_reports says as of when). %s',
                              m.source, pg_catalog.obj_description(pg_catalog.format('oms.%I', m.source)::pg_catalog.regclass, 'pg_class')));
        EXECUTE (SELECT pg_catalog.string_agg(pg_catalog.format('COMMENT ON COLUMN oms.%I.%I IS %L', m.report, a.attname,
                                                                pg_catalog.col_description(a.attrelid, a.attnum)), '; ')
                   FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid OPERATOR(pg_catalog.=) pg_catalog.format('oms.%I', m.source)::pg_catalog.regclass
                    AND a.attnum OPERATOR(pg_catalog.>) 0);
    END LOOP;
END $$;

CREATE FUNCTION oms.refresh_reports(reports text[] DEFAULT NULL, concurrent boolean DEFAULT true)
RETURNS TABLE (report text, row_count bigint, duration_ms numeric, as_of timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m record;
    unknown text;
    t0 timestamptz;
    snap timestamptz;
    n bigint;
BEGIN
    IF pg_catalog.pg_is_in_recovery() THEN
        RAISE EXCEPTION USING ERRCODE = '25006',
            MESSAGE = 'materialized reports cannot be refreshed on a standby',
            DETAIL = 'This server is in recovery: it replays the primary''s materialized reports as they are refreshed there.',
            HINT = 'Call oms.refresh_reports() on the primary.';
    END IF;
    IF reports IS NOT NULL THEN
        SELECT pg_catalog.string_agg(COALESCE(pg_catalog.quote_literal(r), 'NULL'), ', ') INTO unknown
          FROM pg_catalog.unnest(reports) AS r
         WHERE r IS NULL OR NOT EXISTS (SELECT FROM oms.materialized_reports x WHERE x.report OPERATOR(pg_catalog.=) r);
        IF unknown IS NOT NULL OR pg_catalog.cardinality(reports) OPERATOR(pg_catalog.=) 0 THEN
            RAISE EXCEPTION USING ERRCODE = '22023',
                MESSAGE = 'unknown materialized report',
                DETAIL = CASE WHEN unknown IS NULL THEN 'The list of reports is empty.'
                              ELSE pg_catalog.format('Not a materialized report: %s.', unknown) END,
                HINT = pg_catalog.format('Name some of %s, or pass NULL to refresh them all.',
                                         (SELECT pg_catalog.string_agg(x.report, ', ' ORDER BY x.report) FROM oms.materialized_reports x));
        END IF;
    END IF;
    -- the registry rows are locked in name order: two calls at once refresh
    -- one after the other, never deadlock, and each as_of is exact
    FOR m IN SELECT x.report FROM oms.materialized_reports x
              WHERE reports IS NULL OR x.report OPERATOR(pg_catalog.=) ANY (reports)
              ORDER BY x.report FOR UPDATE
    LOOP
        t0 := pg_catalog.clock_timestamp();
        snap := CASE WHEN pg_catalog.current_setting('transaction_isolation') OPERATOR(pg_catalog.=) 'read committed'
                     THEN t0 ELSE pg_catalog.transaction_timestamp() END;
        IF concurrent THEN
            EXECUTE pg_catalog.format('REFRESH MATERIALIZED VIEW CONCURRENTLY oms.%I', m.report);
        ELSE
            EXECUTE pg_catalog.format('REFRESH MATERIALIZED VIEW oms.%I', m.report);
        END IF;
        EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM oms.%I', m.report) INTO n;
        UPDATE oms.materialized_reports x
           SET as_of = snap, refreshed_at = pg_catalog.clock_timestamp(),
               duration_ms = pg_catalog.round((EXTRACT(EPOCH FROM pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) t0)
                                               OPERATOR(pg_catalog.*) 1000)::numeric, 1),
               row_count = n
         WHERE x.report OPERATOR(pg_catalog.=) m.report
        RETURNING x.report, x.row_count, x.duration_ms, x.as_of
             INTO report, row_count, duration_ms, as_of;
        RETURN NEXT;
    END LOOP;
END $$;
COMMENT ON FUNCTION oms.refresh_reports(text[], boolean) IS 'Refreshes the materialized reports (all, or those named, e.g. ARRAY[''report_sales_daily_mv'']) from their live views and records it in oms.materialized_reports; returns one row per report with its rows, duration and as_of. CONCURRENTLY by default: readers keep the previous contents until commit. Call it in a REPEATABLE READ transaction for reports that reconcile with each other to the cent; on a standby it raises 25006 (refresh on the primary, the copies replicate)';

-- ---------------------------------------------------------------------------
-- purchasing: purchase order reconciliation and gross margin (issue 17)
-- ---------------------------------------------------------------------------
CREATE VIEW oms.report_purchase_orders AS
SELECT po.id AS purchase_order_id, s.code AS supplier, l.code AS location, po.status, st.open, po.currency,
       po.created_at, po.sent_at, x.expected_on,
       st.receivable AND x.expected_on OPERATOR(pg_catalog.<) CURRENT_DATE AND x.outstanding OPERATOR(pg_catalog.>) 0 AS late,
       x.ordered, x.received, x.damaged, x.outstanding,
       x.ordered_value, x.received_value_ordered_cost, r.received_value,
       r.received_value OPERATOR(pg_catalog.-) x.received_value_ordered_cost AS cost_variance
  FROM oms.purchase_orders po
  JOIN oms.suppliers s ON s.id OPERATOR(pg_catalog.=) po.supplier_id
  JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) po.location_id
  JOIN oms.purchase_order_statuses st ON st.status OPERATOR(pg_catalog.=) po.status
  CROSS JOIN LATERAL (
      SELECT pg_catalog.min(pl.expected_on) FILTER (WHERE pl.qty_received OPERATOR(pg_catalog.<) pl.qty_ordered) AS expected_on,
             COALESCE(pg_catalog.sum(pl.qty_ordered), 0)::bigint AS ordered,
             COALESCE(pg_catalog.sum(pl.qty_received), 0)::bigint AS received,
             COALESCE(pg_catalog.sum(pl.qty_damaged), 0)::bigint AS damaged,
             COALESCE(pg_catalog.sum(GREATEST(pl.qty_ordered OPERATOR(pg_catalog.-) pl.qty_received, 0)) FILTER (WHERE st.open), 0)::bigint AS outstanding,
             COALESCE(pg_catalog.sum(pl.qty_ordered OPERATOR(pg_catalog.*) pl.unit_cost), 0) AS ordered_value,
             COALESCE(pg_catalog.sum(pl.qty_received OPERATOR(pg_catalog.*) pl.unit_cost), 0) AS received_value_ordered_cost
        FROM oms.purchase_order_lines pl WHERE pl.purchase_order_id OPERATOR(pg_catalog.=) po.id) x
  CROSS JOIN LATERAL (
      SELECT COALESCE(pg_catalog.sum(rc.qty OPERATOR(pg_catalog.*) rc.unit_cost), 0) AS received_value
        FROM oms.purchase_order_receipts rc WHERE rc.purchase_order_id OPERATOR(pg_catalog.=) po.id) r;
COMMENT ON VIEW oms.report_purchase_orders IS 'Purchase order reconciliation: per purchase order, units ordered, received (damaged among them) and outstanding, whether it is late, and the cost variance of what was received (received at invoiced cost - received at ordered cost)';
COMMENT ON COLUMN oms.report_purchase_orders.purchase_order_id IS 'Purchase order number';
COMMENT ON COLUMN oms.report_purchase_orders.supplier IS 'Supplier code';
COMMENT ON COLUMN oms.report_purchase_orders.location IS 'Delivery location code';
COMMENT ON COLUMN oms.report_purchase_orders.status IS 'Status';
COMMENT ON COLUMN oms.report_purchase_orders.open IS 'Its outstanding units count as incoming stock';
COMMENT ON COLUMN oms.report_purchase_orders.currency IS 'Currency of its costs';
COMMENT ON COLUMN oms.report_purchase_orders.created_at IS 'Created';
COMMENT ON COLUMN oms.report_purchase_orders.sent_at IS 'Sent to the supplier';
COMMENT ON COLUMN oms.report_purchase_orders.expected_on IS 'Earliest expected date of a line not fully received';
COMMENT ON COLUMN oms.report_purchase_orders.late IS 'Sent, units outstanding, and the earliest expected date has passed';
COMMENT ON COLUMN oms.report_purchase_orders.ordered IS 'Units ordered';
COMMENT ON COLUMN oms.report_purchase_orders.received IS 'Units received (damaged included)';
COMMENT ON COLUMN oms.report_purchase_orders.damaged IS 'Units received damaged';
COMMENT ON COLUMN oms.report_purchase_orders.outstanding IS 'Units still expected (0 once received, closed or cancelled)';
COMMENT ON COLUMN oms.report_purchase_orders.ordered_value IS 'Units ordered at the ordered cost';
COMMENT ON COLUMN oms.report_purchase_orders.received_value_ordered_cost IS 'Units received at the ordered cost';
COMMENT ON COLUMN oms.report_purchase_orders.received_value IS 'Units received at the cost they were received at';
COMMENT ON COLUMN oms.report_purchase_orders.cost_variance IS 'received_value - received_value_ordered_cost: positive when the supplier charged more than ordered';

-- Revenue is net of discounts, per shipped unit (as the journal recognises
-- it); COGS is the moving average cost the shipment took (valued
-- movements), a kit line carrying the cost of its components. A day is the
-- shipment's day in the server's time zone; currencies are not converted.
CREATE VIEW oms.report_gross_margin AS
SELECT (sh.shipped_at)::date AS day, c.code AS channel, p.sku, o.currency,
       pg_catalog.sum(sl.qty)::bigint AS units,
       pg_catalog.sum(pg_catalog.round((ol.unit_price OPERATOR(pg_catalog.*) ol.qty OPERATOR(pg_catalog.-) ol.discount)
           OPERATOR(pg_catalog.*) sl.qty OPERATOR(pg_catalog./) ol.qty, 4)) AS revenue,
       COALESCE(pg_catalog.sum(k.cost), 0) AS cogs,
       pg_catalog.sum(pg_catalog.round((ol.unit_price OPERATOR(pg_catalog.*) ol.qty OPERATOR(pg_catalog.-) ol.discount)
           OPERATOR(pg_catalog.*) sl.qty OPERATOR(pg_catalog./) ol.qty, 4)) OPERATOR(pg_catalog.-) COALESCE(pg_catalog.sum(k.cost), 0) AS gross_margin,
       COALESCE(pg_catalog.bool_and(k.valued), false) AS fully_valued
  FROM oms.shipment_lines sl
  JOIN oms.shipments sh ON sh.id OPERATOR(pg_catalog.=) sl.shipment_id AND sh.shipped_at IS NOT NULL
  JOIN oms.order_lines ol ON ol.id OPERATOR(pg_catalog.=) sl.order_line_id
  JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) ol.order_id
  JOIN oms.channels c ON c.id OPERATOR(pg_catalog.=) o.channel_id
  JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) ol.product_id
  LEFT JOIN LATERAL (
      SELECT pg_catalog.round(pg_catalog.sum(sl.qty OPERATOR(pg_catalog.*) comp.per
                 OPERATOR(pg_catalog.*) COALESCE(vm.value OPERATOR(pg_catalog./) NULLIF(vm.qty, 0), 0)), 4) AS cost,
             pg_catalog.bool_and(vm.qty IS NOT NULL) AS valued
        FROM (SELECT ol.product_id, 1 WHERE p.kind OPERATOR(pg_catalog.=) 'stock'
              UNION ALL
              SELECT kc.component_id, kc.qty FROM oms.kit_components kc WHERE kc.kit_id OPERATOR(pg_catalog.=) ol.product_id) comp(product_id, per)
        LEFT JOIN (SELECT v.product_id, pg_catalog.sum(v.qty) AS qty, pg_catalog.sum(v.value) AS value
                     FROM oms.valued_movements v
                    WHERE v.shipment_id OPERATOR(pg_catalog.=) sh.id AND v.kind OPERATOR(pg_catalog.=) 'shipment'
                    GROUP BY v.product_id) vm ON vm.product_id OPERATOR(pg_catalog.=) comp.product_id) k ON p.kind OPERATOR(pg_catalog.<>) 'service'
 GROUP BY 1, 2, 3, 4;
COMMENT ON VIEW oms.report_gross_margin IS 'Gross margin per day, channel and sku of what shipped: revenue (net of discounts) - cost of goods sold at moving average cost';
COMMENT ON COLUMN oms.report_gross_margin.day IS 'Day the units shipped';
COMMENT ON COLUMN oms.report_gross_margin.channel IS 'Sales channel code';
COMMENT ON COLUMN oms.report_gross_margin.sku IS 'Sku sold (a kit is reported as the kit)';
COMMENT ON COLUMN oms.report_gross_margin.currency IS 'Currency of the orders (revenue); cost is in the products'' valuation currency';
COMMENT ON COLUMN oms.report_gross_margin.units IS 'Units shipped';
COMMENT ON COLUMN oms.report_gross_margin.revenue IS 'Net revenue of the units shipped';
COMMENT ON COLUMN oms.report_gross_margin.cogs IS 'Cost of goods sold of the units shipped';
COMMENT ON COLUMN oms.report_gross_margin.gross_margin IS 'revenue - cogs';
COMMENT ON COLUMN oms.report_gross_margin.fully_valued IS 'Every unit shipped carried a cost (false: some stock was received without a cost, so cogs is understated)';
