--
-- returns_money: the money rules of refund_rma in corner cases found by
-- testing (each block failed before its fix)
--   1. refunds and store credit for one order's returns together stay
--      within what its payments captured;
--   2. an exchange whose units were partly reported missing is settled as a
--      refund of the units that came back, and missing units leave the
--      claim (a later RMA may claim them);
--   3. partial refunds add up to the rounded whole: the last unit can
--      always be refunded;
--   4. ... also when the captured amount has four decimals.
--
SET client_min_messages = warning;
\set SHOW_CONTEXT never
DROP EXTENSION IF EXISTS oms CASCADE; CREATE EXTENSION oms;
INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web');
INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority) VALUES ('BER', 'Berlin', 'warehouse', 52.52, 13.40, 10);
INSERT INTO oms.products (sku, name, kind) VALUES ('A', 'A', 'stock');
INSERT INTO oms.customers (external_ref, email, name) VALUES ('ann', 'ann@example.com', 'Ann');
SELECT oms.receive_stock('A', 'BER', 100) IS NOT NULL;
INSERT INTO oms.carriers (code, name, tracking_url, active) VALUES ('dhl', 'DHL', 'https://x/{{tracking_number}}', true);
INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days, active) SELECT id, 'std', 'Paket', 2, true FROM oms.carriers;
INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price) SELECT id, 'EUR', NULL, NULL, 5 FROM oms.carrier_services;
-- an order of qty units of A at price (discount disc), paid by card (capture cap, NULL = all), shipped and delivered
CREATE FUNCTION o(ext text, qty int, price numeric, disc numeric, cap numeric) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE id bigint; p bigint; s bigint;
BEGIN
  id := (oms.place_order(jsonb_build_object('channel', 'web', 'external_id', ext, 'currency', 'EUR', 'customer', '{"external_ref": "ann"}'::jsonb,
         'lines', jsonb_build_array(jsonb_build_object('sku', 'A', 'qty', qty, 'unit_price', price, 'discount', disc)))) ->> 'order_id')::bigint;
  p := (oms.authorize_payment(id, jsonb_build_object('method', 'card', 'amount', qty * price - disc, 'token', 'tok')) ->> 'payment_id')::bigint;
  PERFORM oms.capture_payment(p, cap);
  s := (oms.create_shipment(id, 'BER') ->> 'shipment_id')::bigint;
  PERFORM oms.ship(s, 'dhl', 'std', 'T' || ext);
  PERFORM oms.deliver(s);
  RETURN id;
END $$;

-- 1. 30 of 60 captured: store credit of 30 for one unit uses it all, so the
-- refund of the second unit is refused and nothing moves
SELECT o('Q1', 2, 30, 0, 30) AS q1 \gset
SELECT (oms.create_rma(:q1, '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "store_credit"}') ->> 'rma_id')::bigint AS r1 \gset
SELECT oms.receive_rma(:r1, 'BER', '[{"sku": "A", "qty": 1, "condition": "sellable"}]') ->> 'status' AS received;
SELECT oms.refund_rma(:r1) -> 'amount' AS credited;
SELECT (oms.create_rma(:q1, '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "refund"}') ->> 'rma_id')::bigint AS r2 \gset
SELECT oms.receive_rma(:r2, 'BER', '[{"sku": "A", "qty": 1, "condition": "sellable"}]') ->> 'status' AS received;
SELECT oms.refund_rma(:r2);
SELECT sum(refunded) AS refunded, sum(store_credit) AS credited FROM oms.rmas WHERE order_id = :q1;
SELECT * FROM oms.check();

-- 2. an exchange of 2 units, one comes back and one is missing: the unit
-- that came back is refunded (no replacement is owed), and the missing one
-- can be claimed again by a new RMA
SELECT o('X2', 2, 10, 0, NULL) AS x2 \gset
SELECT (oms.create_rma(:x2, '{"lines": [{"sku": "A", "qty": 2, "reason": "wrong_item"}], "resolution": "exchange", "exchange": {"lines": [{"sku": "A", "qty": 1}]}}') ->> 'rma_id')::bigint AS r3 \gset
SELECT oms.receive_rma(:r3, 'BER', '[{"sku": "A", "qty": 1, "condition": "sellable"}, {"sku": "A", "qty": 1, "condition": "missing"}]') ->> 'status' AS received;
SELECT r ->> 'status' AS status, r ->> 'amount' AS amount, r ->> 'refunded' AS refunded, r ->> 'exchange_order_id' AS exchange_order
  FROM oms.refund_rma(:r3) AS r;
SELECT oms.create_rma(:x2, '{"lines": [{"sku": "A", "qty": 1, "reason": "wrong_item"}], "resolution": "refund"}') ->> 'status' AS new_claim;
SELECT * FROM oms.check();

-- 3. 3 units for 29 (10 each, 1 discount): unit value 9.6667; refunded one
-- by one: 9.67, 9.66, 9.67 = 29.00 (each the rounded total so far less what
-- was already refunded)
SELECT o('R3', 3, 10, 1, NULL) AS o3 \gset
SELECT (oms.create_rma(:o3, '{"lines": [{"sku": "A", "qty": 3, "reason": "defective"}], "resolution": "refund"}') ->> 'rma_id')::bigint AS r4 \gset
SELECT oms.receive_rma(:r4, 'BER', '[{"sku": "A", "qty": 1, "condition": "sellable"}]') IS NOT NULL AS got, oms.refund_rma(:r4) -> 'amount' AS amount;
SELECT oms.receive_rma(:r4, 'BER', '[{"sku": "A", "qty": 1, "condition": "sellable"}]') IS NOT NULL AS got, oms.refund_rma(:r4) -> 'amount' AS amount;
SELECT oms.receive_rma(:r4, 'BER', '[{"sku": "A", "qty": 1, "condition": "sellable"}]') IS NOT NULL AS got, oms.refund_rma(:r4) -> 'amount' AS amount;
SELECT status, refunded FROM oms.rmas WHERE id = :r4;
SELECT p.captured, p.refunded FROM oms.payments p WHERE p.order_id = :o3;

-- 4. 3 units at 2.4358 captured in full (7.3074, four decimals): returned
-- two, then the last one, as store credit. The cents of the last unit
-- (7.31 - 4.87 = 2.44) pass what is left (2.4374) by less than half a
-- cent: the last credit is exactly what is left, never a refusal (found by
-- the returns storm, tap:006)
SELECT o('C4', 3, 2.4358, 0, NULL) AS o4 \gset
SELECT (oms.create_rma(:o4, '{"lines": [{"sku": "A", "qty": 3, "reason": "defective"}], "resolution": "store_credit"}') ->> 'rma_id')::bigint AS r5 \gset
SELECT oms.receive_rma(:r5, 'BER', '[{"sku": "A", "qty": 2, "condition": "sellable"}]') IS NOT NULL AS got, oms.refund_rma(:r5) -> 'amount' AS amount;
SELECT oms.receive_rma(:r5, 'BER', '[{"sku": "A", "qty": 1, "condition": "sellable"}]') IS NOT NULL AS got, oms.refund_rma(:r5) -> 'amount' AS amount;
SELECT status, store_credit FROM oms.rmas WHERE id = :r5;
-- all of it at once: 7.31 against 7.3074
SELECT o('C5', 3, 2.4358, 0, NULL) AS o5 \gset
SELECT (oms.create_rma(:o5, '{"lines": [{"sku": "A", "qty": 3, "reason": "defective"}], "resolution": "refund"}') ->> 'rma_id')::bigint AS r6 \gset
SELECT oms.receive_rma(:r6, 'BER', '[{"sku": "A", "qty": 3, "condition": "sellable"}]') IS NOT NULL AS got, oms.refund_rma(:r6) -> 'amount' AS amount;
SELECT p.captured, p.refunded FROM oms.payments p WHERE p.order_id = :o5;
DROP FUNCTION o(text, int, numeric, numeric, numeric);
SELECT * FROM oms.check();
