--
-- reports: the oms.report_* views over a small fixed fixture, every number
-- checked by hand (the arithmetic is in the comments above each query);
-- the reports reconcile with each other and with the API; oms_reporting
-- reads them without reading any table (src/reports.sql).
--
SET client_min_messages = warning;
SET search_path = public, oms;
\set VERBOSITY default
\set SHOW_CONTEXT never
DROP EXTENSION oms CASCADE;
CREATE EXTENSION oms;

-- ---------------------------------------------------------------------------
-- fixture
-- ---------------------------------------------------------------------------
-- web routes by priority (BER first), app by distance; reservations of
-- unpaid orders are held until paid or cancelled (hold_minutes 0)
INSERT INTO oms.channels (code, name, kind, routing_strategy, hold_minutes) VALUES
    ('web', 'Web shop', 'web', 'priority', 0),
    ('app', 'Mobile app', 'mobile', 'closest', 0);
INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority, address) VALUES
    ('BER', 'Berlin warehouse',  'warehouse', 52.5200, 13.4050, 10, E'Lagerstrasse 1\n10115 Berlin\nDE'),
    ('HAM', 'Hamburg warehouse', 'warehouse', 53.5511,  9.9937, 20, E'Hafenweg 7\n20457 Hamburg\nDE'),
    ('OLD', 'Old depot',         'warehouse', 52.0000, 13.0000, 90, E'Altweg 1\n14770 Brandenburg\nDE');
--                                                              unit_cost reorder point, qty
INSERT INTO oms.products (sku, name, kind, weight_kg, unit_cost, reorder_point, reorder_qty) VALUES
    ('TENT',    'Tent for two',      'stock',   2.500, 55.5,  5, 10),
    ('MUG',     'Enamel mug',        'stock',   0.400,  2.25, 16, 20),
    ('LAMP',    'Camping lamp',      'stock',   1.200, NULL,  2, 0),
    ('BOOT',    'Hiking boot',       'stock',   1.100, 40,    0, 0),
    ('CAP',     'Sun cap',           'stock',   0.100,  3,    0, 0),
    ('CAMPSET', 'Tent and two mugs', 'kit',     0,     NULL,  0, 0),
    ('TREKSET', 'Boot and lamp',     'kit',     0,     NULL,  0, 0),
    ('WRAP',    'Gift wrap',         'service', 0,     NULL,  0, 0);
INSERT INTO oms.kit_components SELECT k.id, c.id, v.q
  FROM (VALUES ('CAMPSET', 'TENT', 1), ('CAMPSET', 'MUG', 2), ('TREKSET', 'BOOT', 1), ('TREKSET', 'LAMP', 1)) v(kit, sku, q)
  JOIN oms.products c ON c.sku = v.sku JOIN oms.products k ON k.sku = v.kit;
INSERT INTO oms.customers (external_ref, email, name, flags) VALUES
    ('ann', 'ann@example.com', 'Ann Example', '{}'),
    ('bob', 'bob@example.com', 'Bob Example', '{vip}');
-- no boots anywhere
SELECT count(oms.receive_stock(sku, loc, qty)) AS receipts FROM (VALUES
    ('TENT', 'BER', 10), ('TENT', 'HAM', 5), ('MUG', 'BER', 20), ('LAMP', 'BER', 3), ('LAMP', 'OLD', 4),
    ('CAP', 'BER', 1), ('CAP', 'HAM', 2)) AS v(sku, loc, qty);
-- the old depot closes with its 4 lamps still there
UPDATE oms.locations SET active = false WHERE code = 'OLD';
INSERT INTO oms.carriers (code, name, tracking_url, active) VALUES
    ('dhl', 'DHL', 'https://www.dhl.de/track?piececode={{tracking_number}}', true);
INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days, active)
SELECT id, 'standard', 'Paket', 2, true FROM oms.carriers WHERE code = 'dhl';
INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
SELECT s.id, c.cur, NULL, NULL, 5.99 FROM oms.carrier_services s, (VALUES ('EUR'), ('USD')) c(cur) WHERE s.code = 'standard';

-- place an order for a customer (NULL: a guest) in Potsdam; lines is
-- [[sku, qty, unit_price, discount, tax], ...] (discount and tax optional);
-- extra keys are merged
CREATE FUNCTION place(ext text, lines jsonb, cust text DEFAULT 'ann', channel text DEFAULT 'web', extra jsonb DEFAULT '{}')
RETURNS bigint LANGUAGE sql AS
$$ SELECT (oms.place_order(jsonb_build_object('channel', channel, 'external_id', ext, 'currency', 'EUR',
       'ship_to', jsonb_build_object('name', COALESCE(initcap(cust) || ' Example', 'Gus Guest'), 'line1', 'Am Kanal 5',
                                     'postal_code', '14467', 'city', 'Potsdam', 'country', 'DE', 'lat', 52.3906, 'lon', 13.0645),
       'lines', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('sku', l ->> 0, 'qty', (l ->> 1)::int,
                                  'unit_price', (l ->> 2)::numeric, 'discount', (l ->> 3)::numeric, 'tax', (l ->> 4)::numeric)))
                   FROM jsonb_array_elements(lines) l))
       || CASE WHEN cust IS NULL THEN '{}' ELSE jsonb_build_object('customer', jsonb_build_object('external_ref', cust)) END
       || extra)
       ->> 'order_id')::bigint $$;
CREATE FUNCTION oid_of(ext text) RETURNS bigint LANGUAGE sql AS
$$ SELECT id FROM oms.orders WHERE external_id = ext $$;
-- pay the whole order by card: authorize the total, then capture
-- (captured => NULL: authorize only; an amount: capture that much)
CREATE FUNCTION pay(ext text, captured numeric DEFAULT -1) RETURNS text LANGUAGE sql AS
$$ SELECT CASE WHEN captured IS NULL THEN a ->> 'order_status'
               ELSE oms.capture_payment((a ->> 'payment_id')::bigint, CASE WHEN captured >= 0 THEN captured END) ->> 'order_status' END
     FROM oms.orders o, oms.authorize_payment(o.id, jsonb_build_object('method', 'card', 'amount', o.total,
                                              'token', 'tok_' || ext)) a
    WHERE o.external_id = ext $$;
-- ship what the order holds at a location and deliver it (deliver =>
-- false: only ship); returns the order's status
CREATE FUNCTION send(ext text, loc text DEFAULT 'BER', deliver boolean DEFAULT true) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    s bigint;
    st text;
BEGIN
    s := (oms.create_shipment(oid_of(ext), loc) ->> 'shipment_id')::bigint;
    st := oms.ship(s, 'dhl', 'standard', 'JJD-' || ext || '-' || loc) ->> 'order_status';
    IF deliver THEN
        st := oms.deliver(s) ->> 'order_status';
    END IF;
    RETURN st;
END
$$;
CREATE FUNCTION rma_of(ext text) RETURNS bigint LANGUAGE sql AS
$$ SELECT r.id FROM oms.rmas r JOIN oms.orders o ON o.id = r.order_id WHERE o.external_id = ext $$;

-- ---------------------------------------------------------------------------
-- the orders (amounts: subtotal - discount + tax = total)
-- ---------------------------------------------------------------------------
-- O1 web, Ann: 2 TENT at 100, discount 10, tax 19, and a WRAP at 5:
-- 205 - 10 + 19 = 214; paid, shipped from BER, delivered
SELECT place('O1', '[["TENT", 2, 100, 10, 19], ["WRAP", 1, 5]]') IS NOT NULL AS o1, pay('O1') AS status, send('O1') AS status;
-- O2 web, Bob: a CAMPSET kit (1 TENT + 2 MUG) at 80; paid, shipped, delivered
SELECT place('O2', '[["CAMPSET", 1, 80]]', 'bob') IS NOT NULL AS o2, pay('O2') AS status, send('O2') AS status;
-- O3 web, Ann, ships to Hamburg: 4 MUG at 5 = 20; paid, then cancelled
-- (the 20 captured are refunded)
SELECT place('O3', '[["MUG", 4, 5]]', 'ann', 'web',
             '{"ship_to": {"name": "Ann Example", "city": "Hamburg", "country": "DE", "lat": 53.5511, "lon": 9.9937}}') IS NOT NULL AS o3,
       pay('O3') AS status, oms.cancel_order(oid_of('O3'), 'changed plans') ->> 'status' AS status;
-- O4 app, guest: 5 LAMP at 30 = 150, policy backorder: the 3 lamps of BER
-- are reserved (OLD is closed), 2 backordered; not paid
SELECT place('O4', '[["LAMP", 5, 30]]', NULL, 'app', '{"policy": "backorder"}') IS NOT NULL AS o4;
-- O5 app, Bob: 1 BOOT at 60, backordered (no boots anywhere)
SELECT place('O5', '[["BOOT", 1, 60]]', 'bob', 'app', '{"policy": "backorder"}') IS NOT NULL AS o5;
-- O6 web, Ann: 3 CAP at 10 = 30, split: 1 from BER, 2 from HAM; 30
-- authorized, only 20 captured; both parcels shipped and delivered
SELECT place('O6', '[["CAP", 3, 10]]') IS NOT NULL AS o6, pay('O6', 20) AS status,
       send('O6', 'BER') AS status, send('O6', 'HAM') AS status;
-- O7 web, Bob, no ship-to coordinates: 1 MUG at 5; paid, its shipment is
-- still being packed
SELECT place('O7', '[["MUG", 1, 5]]', 'bob', 'web', '{"ship_to": {"name": "Bob Example", "city": "Berlin", "country": "DE"}}') IS NOT NULL AS o7,
       pay('O7') AS status, oms.create_shipment(oid_of('O7'), 'BER') ->> 'status' AS shipment;
-- O9 web, Bob: 1 MUG at 5, never paid: expires
SELECT place('O9', '[["MUG", 1, 5]]', 'bob') IS NOT NULL AS o9;
UPDATE oms.orders SET expires_at = now() - interval '1 minute' WHERE external_id = 'O9';
SELECT oms.expire_reservations() AS expired;
-- O10 app, Ann, in USD: 1 MUG at 7; paid, shipped, not delivered yet
SELECT place('O10', '[["MUG", 1, 7]]', 'ann', 'app', '{"currency": "USD"}') IS NOT NULL AS o10, pay('O10') AS status,
       send('O10', 'BER', false) AS status;
-- O12 web, Bob: 1 TENT at 100 and 2 BOOT at 60 = 220, policy partial: the
-- boots are cancelled at placement, so orders.total is the tent's 100 (the
-- units owed); 100 is captured; the tent is shipped and delivered
SELECT place('O12', '[["TENT", 1, 100], ["BOOT", 2, 60]]', 'bob', 'web', '{"policy": "partial"}') IS NOT NULL AS o12,
       pay('O12') AS status, send('O12') AS status;
-- O13 app, guest: a TREKSET kit (BOOT + LAMP) at 90, backordered as a whole
SELECT place('O13', '[["TREKSET", 1, 90]]', NULL, 'app', '{"policy": "backorder"}') IS NOT NULL AS o13;
-- O14 web, guest: 1 BOOT at 60, backordered
SELECT place('O14', '[["BOOT", 1, 60]]', NULL, 'web', '{"policy": "backorder"}') IS NOT NULL AS o14;
-- O15 web, guest: 1 TENT at 50, not paid; routed to BER, which rejects it:
-- re-routed to HAM
SELECT place('O15', '[["TENT", 1, 50]]', NULL) IS NOT NULL AS o15,
       oms.reject_fulfillment(oid_of('O15'), 'BER', 'no_capacity') -> 'rejection' -> 'rerouted' AS rerouted;

-- the returns
-- RMA of O1: 1 TENT, defective, refund: unit value (2 x 100 - 10 + 19) / 2
-- = 104.50, received sellable at BER, 104.50 refunded
SELECT oms.create_rma(oid_of('O1'), '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "refund"}') ->> 'status' AS rma_o1,
       oms.receive_rma(rma_of('O1'), 'BER', '[{"sku": "TENT", "qty": 1, "condition": "sellable"}]') ->> 'status' AS rma_o1,
       oms.refund_rma(rma_of('O1')) ->> 'amount' AS refunded;
-- RMA of O6: 2 CAP, changed_mind (10% restocking fee), store credit: one
-- comes back damaged at HAM, one is missing; credit 10 x 0.9 = 9.00
SELECT oms.create_rma(oid_of('O6'), '{"lines": [{"sku": "CAP", "qty": 2, "reason": "changed_mind"}], "resolution": "store_credit"}') ->> 'status' AS rma_o6,
       oms.receive_rma(rma_of('O6'), 'HAM', '[{"sku": "CAP", "qty": 1, "condition": "damaged"}, {"sku": "CAP", "qty": 1, "condition": "missing"}]') ->> 'status' AS rma_o6,
       oms.refund_rma(rma_of('O6')) ->> 'amount' AS credited;
-- RMA of O12: the TENT, wrong_item, rejected (left out of every report)
SELECT oms.create_rma(oid_of('O12'), '{"lines": [{"sku": "TENT", "qty": 1, "reason": "wrong_item"}], "resolution": "refund"}') ->> 'status' AS rma_o12,
       oms.reject_rma(rma_of('O12'), 'no proof') ->> 'status' AS rma_o12;
-- RMA of O2: the CAMPSET, wrong_item, exchanged for another CAMPSET: comes
-- back sellable at BER; the replacement order rma-<id> (price 0) is placed
-- now, on today's date, and reserves 1 TENT + 2 MUG at BER
SELECT oms.create_rma(oid_of('O2'), '{"lines": [{"sku": "CAMPSET", "qty": 1, "reason": "wrong_item"}], "resolution": "exchange", "exchange": {"lines": [{"sku": "CAMPSET", "qty": 1}]}}') ->> 'status' AS rma_o2,
       oms.receive_rma(rma_of('O2'), 'BER', '[{"sku": "CAMPSET", "qty": 1, "condition": "sellable"}]') ->> 'status' AS rma_o2,
       oms.refund_rma(rma_of('O2')) ->> 'status' AS rma_o2;
SELECT o.external_id, o.status, o.total FROM oms.orders o ORDER BY o.id;

-- fixed times (UTC), set as superuser; the replacement order keeps today's
-- date, so any leak of it into the sales reports would show
UPDATE oms.orders o SET placed_at = v.at::timestamptz FROM (VALUES
    ('O1', '2025-03-01 08:00+00'), ('O2', '2025-03-01 12:00+00'), ('O3', '2025-03-01 13:00+00'),
    ('O4', '2025-03-02 09:00+00'), ('O5', '2025-03-02 01:00+00'), ('O6', '2025-03-02 11:00+00'),
    ('O7', '2025-03-02 14:00+00'), ('O9', '2025-03-02 15:00+00'), ('O10', '2025-03-03 08:00+00'),
    ('O12', '2025-03-03 09:00+00'), ('O13', '2025-03-03 10:00+00'), ('O14', '2025-03-03 11:00+00'),
    ('O15', '2025-03-03 12:00+00')) AS v(ext, at)
 WHERE o.external_id = v.ext;
--   order  location  placed       shipped      delivered    ship h  delivery h
--   O1     BER       03-01 08:00  03-01 14:00  03-03 14:00      6      48
--   O2     BER       03-01 12:00  03-02 12:00  03-03 12:00     24      24
--   O6     BER       03-02 11:00  03-02 13:00  03-04 01:00      2      36
--   O6     HAM       03-02 11:00  03-02 19:00  03-04 19:00      8      48
--   O10    BER       03-03 08:00  03-03 20:00  -               12       -
--   O12    BER       03-03 09:00  03-04 09:00  03-05 09:00     24      24
UPDATE oms.shipments s SET shipped_at = v.shipped::timestamptz, delivered_at = v.delivered::timestamptz
  FROM (VALUES
    ('O1',  'BER', '2025-03-01 14:00+00', '2025-03-03 14:00+00'),
    ('O2',  'BER', '2025-03-02 12:00+00', '2025-03-03 12:00+00'),
    ('O6',  'BER', '2025-03-02 13:00+00', '2025-03-04 01:00+00'),
    ('O6',  'HAM', '2025-03-02 19:00+00', '2025-03-04 19:00+00'),
    ('O10', 'BER', '2025-03-03 20:00+00', NULL),
    ('O12', 'BER', '2025-03-04 09:00+00', '2025-03-05 09:00+00')) AS v(ext, loc, shipped, delivered),
       oms.orders o, oms.locations l
 WHERE o.external_id = v.ext AND s.order_id = o.id AND l.code = v.loc AND s.location_id = l.id;
-- the refund of O1's return on 03-05, the cancellation refund of O3 on 03-01
UPDATE oms.payment_transactions t SET at = v.at::timestamptz FROM (VALUES
    ('O1', '2025-03-05 10:00+00'), ('O3', '2025-03-01 13:30+00')) AS v(ext, at), oms.orders o
 WHERE o.external_id = v.ext AND t.order_id = o.id AND t.kind = 'refund';
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- report_sales_daily
-- ---------------------------------------------------------------------------
-- Days are UTC dates whatever the session's time zone: O5, placed
-- 03-02 01:00 UTC (03-01 in New York), is a sale of 03-02.
--   03-01 web EUR: O1 (3 units, 205 / 10 / 19 / 214) + O2 (1, 80): 2 orders,
--         4 units, gross 285, discounts 10, tax 19, net 294; O3 is cancelled
--         (its refund of 20 on 03-01 is left out with it)
--   03-02 app EUR: O4 (5 units, 150) + O5 (1, 60) = 210
--   03-02 web EUR: O6 (3, 30) + O7 (1, 5) = 35; O9 expired
--   03-03 app EUR: O13 (1, 90); app USD: O10 (1, 7)
--   03-03 web EUR: O12 (1 unit owed, 100; the 2 cancelled boots are not in
--         it) + O14 (1, 60) + O15 (1, 50): 3 orders, 3 units, 210
--   03-05 web EUR: no orders; the 104.50 refunded for O1's return
--   the exchange's replacement order (today) is no sale: no row for today
SET TimeZone = 'America/New_York';
SELECT * FROM oms.report_sales_daily ORDER BY day, channel, currency;
RESET TimeZone;
-- a day filter reaches both branches, so the expression indexes can serve it
CREATE FUNCTION plan_of(q text) RETURNS SETOF text LANGUAGE plpgsql AS
$$ BEGIN RETURN QUERY EXECUTE 'EXPLAIN (COSTS OFF) ' || q; END $$;
SET enable_seqscan = off;
SELECT count(*) FILTER (WHERE l ~ 'using orders_placed_day_idx') AS orders_by_day,
       count(*) FILTER (WHERE l ~ 'using payment_transactions_refund_day_idx') AS refunds_by_day
  FROM plan_of($$SELECT * FROM oms.report_sales_daily WHERE day = '2025-03-02'$$) AS l;
RESET enable_seqscan;

-- ---------------------------------------------------------------------------
-- report_channels
-- ---------------------------------------------------------------------------
--   web EUR: placed O1 O2 O3 O6 O7 O9 O12 O14 O15 = 9; cancelled O3, expired
--            O9: rate 2 / 9 = 0.2222; 7 orders, revenue 214 + 80 + 30 + 5 + 100
--            + 60 + 50 = 539, refunds 104.50 (O3's 20 left out), net 434.50
--   app EUR: O4 O5 O13: 150 + 60 + 90 = 300; app USD: O10: 7
SELECT * FROM oms.report_channels ORDER BY channel, currency;
-- they are the sums of the daily report
SELECT c.channel, c.currency, c.orders = d.orders AS orders, c.revenue = d.net AS revenue, c.refunds = d.refunds AS refunds
  FROM oms.report_channels c
  JOIN (SELECT channel, currency, sum(orders) AS orders, sum(net) AS net, sum(refunds) AS refunds
          FROM oms.report_sales_daily GROUP BY 1, 2) d USING (channel, currency)
 ORDER BY 1, 2;

-- ---------------------------------------------------------------------------
-- report_inventory
-- ---------------------------------------------------------------------------
--   TENT BER: 10 received - 2 (O1) - 1 (O2's kit) - 1 (O12) + 1 (O1's return)
--             + 1 (O2's kit back) = 8 on hand; 1 reserved (the exchange's
--             kit); value 8 x 55.50 = 444.00
--   TENT HAM: 5, 1 reserved for O15; value 5 x 55.50 = 277.50
--   MUG  BER: 20 - 2 (O2) - 1 (O10) + 2 (O2's kit back) = 19 (O3 and O9
--             released theirs); reserved 1 (O7, packing) + 2 (exchange) = 3;
--             available 16; value 19 x 2.25 = 42.75
--   LAMP BER: 3, all reserved by O4; no unit cost: no value
--   LAMP OLD: 4 at the closed depot, listed all the same
--   CAP  BER: 1 - 1 shipped = 0; CAP HAM: 2 - 2 shipped, 1 back damaged
--   backorder rows (location NULL): BOOT O5 1 + O13's kit 1 + O14 1 = 3
--             (O12's boots were cancelled, not backordered);
--             LAMP O4 2 + O13's kit 1 = 3
SELECT * FROM oms.report_inventory ORDER BY sku, location NULLS LAST;
-- a sku's rows add up to the balances and to the backordered lines
SELECT (SELECT sum(on_hand) FROM oms.report_inventory) = (SELECT sum(on_hand) FROM oms.stock_balances) AS on_hand,
       (SELECT sum(reserved) FROM oms.report_inventory) = (SELECT sum(reserved) FROM oms.stock_balances) AS reserved,
       (SELECT sum(backordered) FROM oms.report_inventory) = (SELECT sum(l.qty_backordered * CASE WHEN p.kind = 'kit'
                THEN (SELECT sum(kc.qty) FROM oms.kit_components kc WHERE kc.kit_id = p.id) ELSE 1 END)
           FROM oms.order_lines l JOIN oms.products p ON p.id = l.product_id) AS backordered;

-- ---------------------------------------------------------------------------
-- report_low_stock
-- ---------------------------------------------------------------------------
--   BOOT: available 0 - backordered 3 = -3 <= 0; suggest max(0, 0 - -3) = 3,
--         cost 3 x 40 = 120
--   LAMP: available 0 at active locations (OLD's 4 do not count) - 3 = -3
--         <= 2; suggest max(0, 2 - -3) = 5; no unit cost
--   MUG:  16 - 0 = 16, at the reorder point 16; suggest max(20, 16 - 16) = 20,
--         cost 20 x 2.25 = 45
--   TENT: 7 + 4 = 11 > 5: not low; CAP: 0 <= 0 but nothing to suggest
--         (no reorder point, no reorder qty, no backorders): left out
SELECT * FROM oms.report_low_stock ORDER BY sku;
-- available is what oms.available says
SELECT sku, available = oms.available(sku) AS same FROM oms.report_low_stock ORDER BY sku;

-- ---------------------------------------------------------------------------
-- report_backorders
-- ---------------------------------------------------------------------------
-- ages are counted from now: placed 71, 72, 743 and 744 hours ago are 2, 3,
-- 30 and 31 whole days, the edges of the bands (in a transaction that is
-- rolled back, so that now() is the same for the update and the report)
BEGIN;
UPDATE oms.orders o SET placed_at = now() - v.ago::interval FROM (VALUES
    ('O4', '71 hours'), ('O5', '72 hours'), ('O13', '743 hours'), ('O14', '744 hours')) AS v(ext, ago)
 WHERE o.external_id = v.ext;
SELECT external_id, channel, status, line_no, sku, qty, age_days, age_bucket FROM oms.report_backorders ORDER BY age_days;
ROLLBACK;

-- ---------------------------------------------------------------------------
-- report_fulfillment
-- ---------------------------------------------------------------------------
--   BER: 5 shipments left (O1 O2 O6 O10 O12), O7's is pending; units 2 TENT
--        + 1 CAMPSET + 1 CAP + 1 MUG + 1 TENT = 6 (the WRAP service is no
--        parcel content); 5 orders, O6 split: 1 / 5 = 0.2
--        ship hours 2 6 12 24 24: p50 = 12, p90 = 24 + 0.6 x (24 - 24) = 24
--        delivery hours 24 24 36 48: p50 = 24 + 0.5 x (36 - 24) = 30,
--        p90 at 0.9 x 3 = 2.7: 36 + 0.7 x (48 - 36) = 44.40
--   HAM: O6's parcel: 1 shipment, 2 units, 1 order, split 1 / 1; 8 h, 48 h
--   all: 6 shipments, 8 units, 5 orders, 1 split = 0.2;
--        ship hours 2 6 8 12 24 24: p50 at 2.5 = 8 + 0.5 x 4 = 10, p90 at 4.5 = 24
--        delivery hours 24 24 36 48 48: p50 = 36, p90 at 3.6 = 48
SELECT * FROM oms.report_fulfillment ORDER BY location NULLS LAST;

-- ---------------------------------------------------------------------------
-- report_routing
-- ---------------------------------------------------------------------------
-- distances to the ship-tos, in km
SELECT round(oms.distance_km(52.52, 13.405, 52.3906, 13.0645)::numeric, 1) AS ber_potsdam,
       round(oms.distance_km(53.5511, 9.9937, 52.3906, 13.0645)::numeric, 1) AS ham_potsdam,
       round(oms.distance_km(52.52, 13.405, 53.5511, 9.9937)::numeric, 1) AS ber_hamburg;
--   closest, nothing reserved: O5 and O13 (no stock anywhere): location NULL
--   closest, single location BER: O10, 1 unit, 27.2 km
--   closest, split by score BER: O4, the 3 lamps there
--   priority, nothing reserved: O14
--   priority, single location: 8 decisions
--        BER: O1 (2 units), O2 (kit: 1 + 2), O3 (4), O7 (1), O9 (1), O15 (1),
--             the exchange order (kit: 3) = 7 decisions (7 / 8 = 0.875), 15 units;
--             distance (27.2 x 5 + 255.3 for O3) / 6 = 65.22 (O7 has no coordinates)
--        HAM: O15 re-routed after BER rejected it: 1 decision (0.125), 1 unit
--   priority, split by score: O6, 1 unit at BER (27.2 km) and 2 at HAM (242.7 km)
--   priority, split exact search: O12, the tent at BER (no boots anywhere)
SELECT * FROM oms.report_routing ORDER BY strategy, rule, location NULLS FIRST;

-- ---------------------------------------------------------------------------
-- report_returns
-- ---------------------------------------------------------------------------
-- O12's rejected RMA is left out. Shipped in EUR (services left out):
-- TENT 2 (O1) + 1 (O12) = 3, CAMPSET 1, CAP 3: 7 units.
--   TENT, defective: 1 back sellable of 3 shipped = 0.3333; value 104.50
--   CAP, changed_mind: 1 damaged + 1 missing; returned 1 of 3 = 0.3333;
--        mix 0 / 0.5 / 0.5; value resolved 1 x 10 = 10 (9 credited after the fee)
--   CAMPSET, wrong_item (exchange): 1 of 1 = 1; value 80
--   per reason: 1 returned of all 7 shipped = 0.1429 each
--   all: 3 RMAs, 4 units requested, 2 restocked, 1 damaged, 1 missing,
--        3 returned of 7 = 0.4286; mix 2/4, 1/4, 1/4; value 104.50 + 10 + 80 = 194.50
SELECT * FROM oms.report_returns ORDER BY currency, level, sku, reason;
-- the value resolved is what oms.return_stats says
SELECT (SELECT value_resolved FROM oms.report_returns WHERE level = 'all')
     = (SELECT sum(value_resolved) FROM oms.return_stats) AS same_value_resolved;

-- ---------------------------------------------------------------------------
-- report_payment_reconciliation
-- ---------------------------------------------------------------------------
--   O1:  214 paid, 104.50 refunded for the return: due 214 - 104.50 = 109.50,
--        net paid 109.50, balance 0
--   O2:  exchanged, no money back: due 80, paid 80
--   O3:  cancelled: due 0, 20 captured and 20 refunded: balance 0
--   O4, O5, O13, O14: unpaid and unshipped: the whole total is due, no flag
--   O6:  due 30 (store credit of 9 for the return does not lower what is due
--        in money), captured 20: balance 10 although shipped: flagged
--   O7:  5 paid of 5; O9 expired: due 0; O10: 7 USD paid; O15: 50 due, unpaid
--   O12: total 100 (the 2 boots cancelled at placement, 2 x 60 = 120, are
--        not in it; cancelled_value shows them), due 100, captured 100:
--        balance 0, no flag
--   rma-4: the replacement at price 0: nothing due
SELECT order_id, external_id, channel, CASE WHEN day = (now() AT TIME ZONE 'UTC')::date THEN 'today' ELSE day::text END AS day, status, currency, total, cancelled_value,
       authorized, captured, voided, refunded, returns_refunded, returns_store_credit, net_paid, amount_due,
       balance_due, mismatch, mismatch_reasons
  FROM oms.report_payment_reconciliation ORDER BY order_id;
-- day is the UTC date of placed_at, and a filter on it reads those days only
SELECT count(*) AS days_match FROM oms.report_payment_reconciliation r JOIN oms.orders o ON o.id = r.order_id
 WHERE r.day = (o.placed_at AT TIME ZONE 'UTC')::date;
SELECT count(*) AS placed_today_utc FROM oms.report_payment_reconciliation WHERE day >= (now() AT TIME ZONE 'UTC')::date;
-- the other flags need states the API never leaves behind: a cancelled order
-- whose capture was not refunded, an expired one with an open authorization,
-- a capture above the total (rolled back)
BEGIN;
UPDATE oms.payments SET refunded = 0 WHERE order_id = oid_of('O3');
INSERT INTO oms.payments (order_id, method, currency, authorized, token) VALUES (oid_of('O9'), 'card', 'EUR', 5, 'tok_o9');
UPDATE oms.orders SET total = 4 WHERE external_id = 'O7';
SELECT external_id, status, total, captured, refunded, balance_due, mismatch_reasons
  FROM oms.report_payment_reconciliation WHERE external_id IN ('O3', 'O7', 'O9') ORDER BY order_id;
ROLLBACK;
-- refunded is the sum of the refund transactions
SELECT (SELECT sum(refunded) FROM oms.report_payment_reconciliation)
     = (SELECT sum(amount) FROM oms.payment_transactions WHERE kind = 'refund') AS refunds_match;

-- ---------------------------------------------------------------------------
-- report_customers
-- ---------------------------------------------------------------------------
--   Ann EUR: O1 and O6 count, O3 cancelled; lifetime value (214 - 104.50)
--            + 20 + (20 - 20) = 129.50; shipped 2 TENT + 3 CAP = 5 (the WRAP
--            left out), returned 1 TENT + 1 CAP = 2: 0.4
--   Ann USD: O10: 7; 1 shipped, none back
--   Bob EUR: O2 O5 O7 O12, O9 expired; 80 + 5 + 100 = 185; shipped 1 CAMPSET
--            + 1 TENT, the CAMPSET came back: 0.5; his exchange order is no order
--   guests (O4, O13, O14, O15) have no row
SELECT customer_id, external_ref, flags, currency, orders, orders_cancelled,
       first_order_at AT TIME ZONE 'UTC' AS first_order_utc, last_order_at AT TIME ZONE 'UTC' AS last_order_utc,
       lifetime_value, units_shipped, units_returned, return_rate
  FROM oms.report_customers ORDER BY customer_id, currency;
-- lifetime values and guests' payments add up to all money kept
SELECT (SELECT sum(lifetime_value) FROM oms.report_customers)
       + (SELECT COALESCE(sum(net_paid), 0) FROM oms.report_payment_reconciliation r
           JOIN oms.orders o ON o.id = r.order_id WHERE o.customer_id IS NULL)
     = (SELECT sum(captured - refunded) FROM oms.payments) AS ltv_match;

-- ---------------------------------------------------------------------------
-- materialized reports: copies of the live views, as of the last refresh
-- ---------------------------------------------------------------------------
-- what is materialized, and from which view
SELECT report, source, duration_ms, row_count FROM oms.materialized_reports ORDER BY report;
-- until the first refresh they hold what CREATE EXTENSION saw: nothing
-- (fulfillment's all-locations row is always there)
SELECT (SELECT count(*) FROM oms.report_sales_daily_mv) AS sales_daily_mv,
       (SELECT count(*) FROM oms.report_sales_daily) AS sales_daily,
       (SELECT count(*) FROM oms.report_customers_mv) AS customers_mv,
       (SELECT count(*) FROM oms.report_fulfillment_mv) AS fulfillment_mv;
-- refreshing is oms_admin's; reporting and applications only read
CREATE ROLE regress_reports_admin LOGIN IN ROLE oms_admin;
CREATE ROLE regress_reports_reader LOGIN IN ROLE oms_reporting;
SET ROLE regress_reports_reader;
SELECT count(*) FROM oms.report_customers_mv;
SELECT * FROM oms.refresh_reports();
REFRESH MATERIALIZED VIEW oms.report_customers_mv;
RESET ROLE;
SET ROLE regress_reports_admin;
-- bad input changes nothing (refreshed_at stays as it was)
SELECT refreshed_at AS before_bad_calls FROM oms.materialized_reports WHERE report = 'report_sales_daily_mv' \gset
SELECT * FROM oms.refresh_reports(ARRAY['report_sales_daily_mv', 'report_sales_daily', 'nope']);
SELECT * FROM oms.refresh_reports(ARRAY['report_sales_daily_mv', NULL]);
SELECT * FROM oms.refresh_reports('{}');
SELECT count(*) AS untouched FROM oms.materialized_reports
 WHERE report = 'report_sales_daily_mv' AND refreshed_at = :'before_bad_calls' AND row_count IS NULL;
SELECT count(*) FROM oms.report_sales_daily_mv;
-- one report
SELECT report, row_count FROM oms.refresh_reports(ARRAY['report_channels_mv']);
SELECT count(*) AS sales_daily_mv_still_empty FROM oms.report_sales_daily_mv;
-- all of them, in one snapshot: every as_of is the transaction's start
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT report, row_count FROM oms.refresh_reports();
SELECT count(DISTINCT as_of) AS one_as_of, bool_and(as_of = transaction_timestamp()) AS as_of_is_snapshot,
       bool_and(as_of <= refreshed_at) AS ordered, bool_and(duration_ms >= 0) AS timed
  FROM oms.materialized_reports;
COMMIT;
RESET ROLE;
-- each copy equals its live view, row for row
CREATE FUNCTION mv_differences() RETURNS TABLE (report text, missing bigint, extra bigint) LANGUAGE plpgsql AS $$
DECLARE
    m record;
BEGIN
    FOR m IN SELECT * FROM oms.materialized_reports ORDER BY 1 LOOP
        report := m.report;
        EXECUTE format('SELECT count(*) FROM (TABLE oms.%I EXCEPT ALL TABLE oms.%I) d', m.source, m.report) INTO missing;
        EXECUTE format('SELECT count(*) FROM (TABLE oms.%I EXCEPT ALL TABLE oms.%I) d', m.report, m.source) INTO extra;
        RETURN NEXT;
    END LOOP;
END $$;
SELECT * FROM mv_differences();
-- a new order shows live at once, in the copies after the next refresh
SELECT place('O16', '[["MUG", 1, 4.00]]', 'bob', 'app') IS NOT NULL AS placed;
SELECT report, missing, extra FROM mv_differences() WHERE missing + extra > 0;
SET ROLE regress_reports_admin;
SELECT report, row_count FROM oms.refresh_reports(concurrent => false);
RESET ROLE;
SELECT report, missing, extra FROM mv_differences() WHERE missing + extra > 0;
SELECT orders, orders_cancelled, lifetime_value FROM oms.report_customers_mv WHERE external_ref = 'bob' AND currency = 'EUR';
DROP FUNCTION mv_differences();
DROP ROLE regress_reports_admin, regress_reports_reader;

-- ---------------------------------------------------------------------------
-- access: oms_reporting reads every report and no table behind them;
-- applications do not read reports
-- ---------------------------------------------------------------------------
CREATE ROLE regress_reports_bi LOGIN IN ROLE oms_reporting;
CREATE ROLE regress_reports_app LOGIN IN ROLE oms_app;
SET ROLE regress_reports_bi;
SELECT (SELECT count(*) FROM oms.report_sales_daily) AS sales_daily,
       (SELECT count(*) FROM oms.report_inventory) AS inventory,
       (SELECT count(*) FROM oms.report_low_stock) AS low_stock,
       (SELECT count(*) FROM oms.report_backorders) AS backorders,
       (SELECT count(*) FROM oms.report_fulfillment) AS fulfillment,
       (SELECT count(*) FROM oms.report_routing) AS routing,
       (SELECT count(*) FROM oms.report_returns) AS returns,
       (SELECT count(*) FROM oms.report_payment_reconciliation) AS payment_reconciliation,
       (SELECT count(*) FROM oms.report_customers) AS customers,
       (SELECT count(*) FROM oms.report_channels) AS channels;
SELECT count(*) FROM oms.payments;
SELECT count(*) FROM oms.orders;
SELECT count(*) FROM oms.customers;
RESET ROLE;
SET ROLE regress_reports_app;
SELECT count(*) FROM oms.report_customers;
SELECT count(*) FROM oms.report_customers_mv;
RESET ROLE;
DROP ROLE regress_reports_bi, regress_reports_app;
-- what each role may do with the report views
SELECT r.rolname, string_agg(c.relname, ', ' ORDER BY c.relname) AS can_select
  FROM (VALUES ('oms_admin'), ('oms_app'), ('oms_reporting')) AS r(rolname)
 CROSS JOIN pg_class c
 WHERE c.relnamespace = 'oms'::regnamespace AND c.relname LIKE 'report\_%' AND c.relkind IN ('v', 'm')
   AND has_table_privilege(r.rolname, c.oid, 'SELECT')
 GROUP BY 1 ORDER BY 1;
SELECT c.relname, r.rolname, has_table_privilege(r.rolname, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') AS can_write
  FROM pg_class c, (VALUES ('oms_admin'), ('oms_app'), ('oms_reporting')) AS r(rolname)
 WHERE c.relnamespace = 'oms'::regnamespace AND c.relname LIKE 'report\_%' AND c.relkind IN ('v', 'm')
   AND has_table_privilege(r.rolname, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE');

DROP FUNCTION place(text, jsonb, text, text, jsonb), oid_of(text), pay(text, numeric), send(text, text, boolean), rma_of(text), plan_of(text);
SELECT * FROM oms.check();
