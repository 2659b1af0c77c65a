--
-- money_path: the one money path and valued exchanges (issue 13, breaches 2
-- and 3) and the order_money_out invariant of oms.check()
--   1. refunds across paths stay within what the order captured: store
--      credit for a return, then a manual refund_payment of everything, is
--      refused (22023) and nothing moves; the other way round too;
--   2. exchanges are valued: every exchange line has a unit price (the
--      price paid for a returned sku, otherwise given), quantities are
--      bounded, auto-approval looks at the larger of the two values, and
--      the value above what came back is owed on the replacement order,
--      which waits in pending_payment instead of being confirmed at zero;
--   3. planted breaches: check() reports order_money_out.
--
SET client_min_messages = warning;
\set SHOW_CONTEXT never
DROP EXTENSION IF EXISTS oms CASCADE; CREATE EXTENSION oms;
INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web');
INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority) VALUES ('BER', 'Berlin', 'warehouse', 52.52, 13.40, 10);
INSERT INTO oms.products (sku, name, kind) VALUES ('A', 'A', 'stock'), ('ESPRESSO', 'Espresso machine', 'stock'),
    ('FILTER', 'Filter pack', 'stock');
INSERT INTO oms.customers (external_ref, email, name) VALUES ('ann', 'ann@example.com', 'Ann');
SELECT oms.receive_stock('A', 'BER', 100) IS NOT NULL, oms.receive_stock('ESPRESSO', 'BER', 5) IS NOT NULL,
       oms.receive_stock('FILTER', 'BER', 500) IS NOT NULL;
INSERT INTO oms.carriers (code, name, tracking_url, active) VALUES ('dhl', 'DHL', 'https://x/{{tracking_number}}', true);
INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days, active) SELECT id, 'std', 'Paket', 2, true FROM oms.carriers;
INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price) SELECT id, 'EUR', NULL, NULL, 5 FROM oms.carrier_services;
-- an order of qty units of A at price, paid by card and captured in full, shipped and delivered
CREATE FUNCTION o(ext text, qty int, price numeric) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE id bigint; p bigint; s bigint;
BEGIN
  id := (oms.place_order(jsonb_build_object('channel', 'web', 'external_id', ext, 'currency', 'EUR', 'customer', '{"external_ref": "ann"}'::jsonb,
         'lines', jsonb_build_array(jsonb_build_object('sku', 'A', 'qty', qty, 'unit_price', price)))) ->> 'order_id')::bigint;
  p := (oms.authorize_payment(id, jsonb_build_object('method', 'card', 'amount', qty * price, 'token', 'tok')) ->> 'payment_id')::bigint;
  PERFORM oms.capture_payment(p);
  s := (oms.create_shipment(id, 'BER') ->> 'shipment_id')::bigint;
  PERFORM oms.ship(s, 'dhl', 'std', 'T' || ext);
  PERFORM oms.deliver(s);
  RETURN id;
END $$;
-- an RMA of order oid; the error as SQLSTATE, message (ids written as #), detail and hint
CREATE FUNCTION try(q text) RETURNS TABLE (state text, message text, detail text, hint text) LANGUAGE plpgsql AS $$
DECLARE m text; d text; h text;
BEGIN
  EXECUTE q;
  RETURN QUERY SELECT 'ok'::text, NULL::text, NULL::text, NULL::text;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
  RETURN QUERY SELECT SQLSTATE, regexp_replace(m, '(order|RMA) [0-9]+', '\1 #', 'g'),
                      regexp_replace(d, '(Order|order|RMA) [0-9]+', '\1 #', 'g'), h;
END $$;
-- what moves money or stock, to show that a refusal changed nothing
CREATE VIEW counts AS
SELECT (SELECT count(*) FROM oms.orders) AS orders, (SELECT count(*) FROM oms.rmas) AS rmas,
       (SELECT count(*) FROM oms.payment_transactions) AS transactions, (SELECT sum(refunded) FROM oms.payments) AS refunded,
       (SELECT count(*) FROM oms.money_out) AS money_out, (SELECT COALESCE(sum(balance), 0) FROM oms.gift_cards) AS balances,
       (SELECT count(*) FROM oms.journal_entries) AS journal, (SELECT count(*) FROM oms.events) AS events;
-- money in and out of an order
CREATE FUNCTION money_of(oid bigint) RETURNS TABLE (captured numeric, refunded numeric, store_credit numeric, exchange_credit numeric)
LANGUAGE sql AS $$
SELECT (SELECT sum(captured) FROM oms.payments WHERE order_id = oid), (SELECT sum(refunded) FROM oms.payments WHERE order_id = oid),
       (SELECT COALESCE(sum(amount), 0) FROM oms.money_out WHERE order_id = oid AND kind = 'store_credit'),
       (SELECT COALESCE(sum(amount), 0) FROM oms.money_out WHERE order_id = oid AND kind = 'exchange') $$;
CREATE FUNCTION rma(oid bigint, doc text) RETURNS bigint LANGUAGE sql AS
$$ SELECT (oms.create_rma(oid, doc::jsonb) ->> 'rma_id')::bigint $$;
CREATE FUNCTION back(r bigint, sku text, qty int) RETURNS text LANGUAGE sql AS
$$ SELECT oms.receive_rma(r, 'BER', jsonb_build_array(jsonb_build_object('sku', sku, 'qty', qty, 'condition', 'sellable'))) ->> 'status' $$;

-- ---------------------------------------------------------------------------
-- 1. one money path (breach 3)
-- ---------------------------------------------------------------------------
-- M1: 2 A at 5.00 = 10.00 captured; one unit back as 5.00 of store credit
SELECT o('M1', 2, 5) AS m1 \gset
SELECT rma(:m1, '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "store_credit"}') AS r1 \gset
SELECT back(:r1, 'A', 1) AS received, oms.refund_rma(:r1) -> 'amount' AS credited;
SELECT * FROM money_of(:m1);
-- the whole 10.00 back to the card as well: refused, 5.00 is already out
SELECT * FROM counts;
SELECT * FROM try($$SELECT oms.refund_payment((SELECT id FROM oms.payments WHERE order_id = $$ || :m1 || $$), 10, 'goodwill')$$);
SELECT * FROM counts;
-- what is left, 5.00, goes through; then not a cent more
SELECT oms.refund_payment((SELECT id FROM oms.payments WHERE order_id = :m1), 5, 'goodwill') ->> 'refunded' AS refunded;
SELECT * FROM try($$SELECT oms.refund_payment((SELECT id FROM oms.payments WHERE order_id = $$ || :m1 || $$), 0.01)$$);
SELECT * FROM money_of(:m1);
SELECT * FROM oms.check();

-- M2: the other way round: 10.00 refunded to the card, then store credit
-- for a returned unit is refused and nothing moves
SELECT o('M2', 2, 5) AS m2 \gset
SELECT oms.refund_payment((SELECT id FROM oms.payments WHERE order_id = :m2), 10) ->> 'refunded' AS refunded;
SELECT rma(:m2, '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "store_credit"}') AS r2 \gset
SELECT back(:r2, 'A', 1) AS received;
SELECT * FROM counts;
SELECT * FROM try($$SELECT oms.refund_rma($$ || :r2 || $$)$$);
SELECT * FROM counts;
SELECT * FROM money_of(:m2);
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- 2. exchanges are valued (breach 2)
-- ---------------------------------------------------------------------------
-- E1: 1 A at 5.00. The review's RMA: one unit back, exchanged for an
-- espresso machine and 250 filter packs
SELECT o('E1', 1, 5) AS e1 \gset
-- without prices: refused, the first unpriced line named
SELECT * FROM try($$SELECT rma($$ || :e1 || $$, '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "exchange",
    "exchange": {"lines": [{"sku": "ESPRESSO", "qty": 1}, {"sku": "FILTER", "qty": 250}]}}')$$);
-- bounded quantities: 1,000,000 filter packs, 0, more returned units than come back
SELECT * FROM try($$SELECT rma($$ || :e1 || $$, '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "exchange",
    "exchange": {"lines": [{"sku": "FILTER", "qty": 1000000, "unit_price": 2}]}}')$$);
SELECT * FROM try($$SELECT rma($$ || :e1 || $$, '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "exchange",
    "exchange": {"lines": [{"sku": "FILTER", "qty": 1001, "unit_price": 2}]}}')$$);
SELECT * FROM try($$SELECT rma($$ || :e1 || $$, '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "exchange",
    "exchange": {"lines": [{"sku": "A", "qty": 2}]}}')$$);
-- prices: a returned sku is exchanged at the price paid (5.00), no other;
-- a given price is positive; a sku listed once
SELECT * FROM try($$SELECT rma($$ || :e1 || $$, '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "exchange",
    "exchange": {"lines": [{"sku": "A", "qty": 1, "unit_price": 0.01}]}}')$$);
SELECT * FROM try($$SELECT rma($$ || :e1 || $$, '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "exchange",
    "exchange": {"lines": [{"sku": "ESPRESSO", "qty": 1, "unit_price": 0}]}}')$$);
SELECT * FROM try($$SELECT rma($$ || :e1 || $$, '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "exchange",
    "exchange": {"lines": [{"sku": "ESPRESSO", "qty": 1, "unit_price": "300"}]}}')$$);
SELECT * FROM try($$SELECT rma($$ || :e1 || $$, '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "exchange",
    "exchange": {"lines": [{"sku": "FILTER", "qty": 1, "unit_price": 2}, {"sku": "FILTER", "qty": 1, "unit_price": 2}]}}')$$);
SELECT * FROM try($$SELECT rma($$ || :e1 || $$, '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "exchange",
    "exchange": {"lines": [{"sku": "FILTER", "qty": 1000, "unit_price": 999999999999}]}}')$$);
SELECT count(*) AS rmas FROM oms.rmas WHERE order_id = :e1;
-- priced: worth 300 + 250 x 2 = 800, above the 500 that defective allows:
-- not authorized on the 5.00 that comes back, it waits for review
SELECT rma(:e1, '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "exchange",
    "exchange": {"lines": [{"sku": "ESPRESSO", "qty": 1, "unit_price": 300}, {"sku": "FILTER", "qty": 250, "unit_price": 2}]}}') AS re1 \gset
SELECT status, value, exchange_value, exchange_lines FROM oms.rmas WHERE id = :re1;
-- authorized by hand and received: the 5.00 that came back is the
-- exchange credit; the replacement owes 795.00 and waits in pending_payment
SELECT oms.authorize_rma(:re1) ->> 'status' AS status, back(:re1, 'A', 1) AS received;
SELECT (r -> 'result') - 'exchange_order_id' AS result, r ->> 'status' AS status FROM oms.refund_rma(:re1) r;
SELECT o.status, o.subtotal, o.discount, o.total FROM oms.orders o JOIN oms.rmas r ON r.exchange_order_id = o.id WHERE r.id = :re1;
SELECT p.sku, l.qty, l.unit_price, l.discount FROM oms.order_lines l JOIN oms.products p ON p.id = l.product_id
  JOIN oms.rmas r ON r.exchange_order_id = l.order_id WHERE r.id = :re1 ORDER BY l.line_no;
SELECT * FROM money_of(:e1);
-- the customer pays the difference: the replacement is confirmed
SELECT oms.authorize_payment(r.exchange_order_id, '{"method": "card", "amount": 795, "token": "tok"}') ->> 'order_status' AS replacement
  FROM oms.rmas r WHERE r.id = :re1;
SELECT * FROM oms.check();

-- E2: an even swap, 3 A at 29.00 together (9.6667 each): the same sku at the
-- price paid; nothing owed, the replacement is confirmed at once
CREATE FUNCTION o3() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE id bigint; p bigint; s bigint;
BEGIN
  id := (oms.place_order('{"channel": "web", "external_id": "E2", "currency": "EUR", "customer": {"external_ref": "ann"},
         "lines": [{"sku": "A", "qty": 3, "unit_price": 10, "discount": 1}]}') ->> 'order_id')::bigint;
  p := (oms.authorize_payment(id, '{"method": "card", "amount": 29, "token": "tok"}') ->> 'payment_id')::bigint;
  PERFORM oms.capture_payment(p);
  s := (oms.create_shipment(id, 'BER') ->> 'shipment_id')::bigint;
  PERFORM oms.ship(s, 'dhl', 'std', 'TE2');
  RETURN id;
END $$;
SELECT o3() AS e2 \gset
SELECT rma(:e2, '{"lines": [{"sku": "A", "qty": 3, "reason": "wrong_item"}], "resolution": "exchange",
    "exchange": {"lines": [{"sku": "A", "qty": 3, "unit_price": 9.6667}]}}') AS re2 \gset
SELECT status, value, exchange_value, exchange_lines FROM oms.rmas WHERE id = :re2;
SELECT back(:re2, 'A', 3) AS received, oms.refund_rma(:re2) -> 'result' -> 'owed' AS owed;
SELECT o.status, o.subtotal, o.discount, o.total FROM oms.orders o JOIN oms.rmas r ON r.exchange_order_id = o.id WHERE r.id = :re2;
SELECT * FROM money_of(:e2);
SELECT * FROM oms.check();

-- E3: the restocking fee is owed: 1 A at 5.00 back as changed_mind (10%)
-- is worth 4.50; the same A again owes 0.50
SELECT o('E3', 1, 5) AS e3 \gset
SELECT rma(:e3, '{"lines": [{"sku": "A", "qty": 1, "reason": "changed_mind"}], "resolution": "exchange",
    "exchange": {"lines": [{"sku": "A", "qty": 1}]}}') AS re3 \gset
SELECT back(:re3, 'A', 1) AS received, oms.refund_rma(:re3) -> 'result' -> 'owed' AS owed;
SELECT o.status, o.total FROM oms.orders o JOIN oms.rmas r ON r.exchange_order_id = o.id WHERE r.id = :re3;
SELECT * FROM money_of(:e3);

-- E4: the exchange credit is money out too: after 5.00 of the 5.00 order
-- went back to the card, the returned unit has nothing left to pay for the
-- replacement: refused (22023), nothing placed
SELECT o('E4', 1, 5) AS e4 \gset
SELECT rma(:e4, '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "exchange",
    "exchange": {"lines": [{"sku": "A", "qty": 1}]}}') AS re4 \gset
SELECT back(:re4, 'A', 1) AS received;
SELECT oms.refund_payment((SELECT id FROM oms.payments WHERE order_id = :e4), 5) ->> 'refunded' AS refunded;
SELECT * FROM counts;
SELECT * FROM try($$SELECT oms.refund_rma($$ || :re4 || $$)$$);
SELECT * FROM counts;
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- 3. planted breaches: check() reports order_money_out
-- ---------------------------------------------------------------------------
-- breach 3 as the review found it: 5.00 of store credit and 10.00 refunded
-- on the 10.00 order M2 (store credit written past the money path)
BEGIN;
INSERT INTO oms.money_out (order_id, kind, amount) VALUES (:m2, 'store_credit', 5);
SELECT invariant, regexp_replace(detail, 'order [0-9]+', 'order #') AS detail FROM oms.check();
ROLLBACK;
-- breach 2 as the review found it: an exchange worth 800 more than the even
-- swap E2, confirmed at the old price (nothing charged for it)
BEGIN;
UPDATE oms.rmas SET exchange_value = exchange_value + 800 WHERE id = :re2;
SELECT invariant, regexp_replace(detail, 'order [0-9]+', 'order #') AS detail FROM oms.check();
ROLLBACK;
-- a refund written to a payment directly, past the money path, with the
-- guard triggers off: 10.00 refunded on M1 whose 5.00 of credit is out
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.payments SET refunded = captured WHERE order_id = :m1;
SELECT invariant, regexp_replace(detail, 'order [0-9]+', 'order #') AS detail FROM oms.check();
ROLLBACK;
SELECT * FROM oms.check();

DROP FUNCTION o(text, int, numeric), o3(), try(text), money_of(bigint), rma(bigint, text), back(bigint, text, int);
DROP VIEW counts;
