--
-- input_overflow: a number too big for the column it lands in is refused
-- with 22023 naming the field, never the bare 22003 "numeric field
-- overflow" (or "integer out of range") of an INSERT or UPDATE (issue 13,
-- bounded inputs). Amounts are below 10^12 (numeric(16,4) keeps 12 digits
-- before the point), and so are an order's subtotal, tax and total and a
-- store credit account; a balance holds at most 2^31 - 1 units; a shipment
-- weighs less than 10^7 kg. One row per field, with its SQLSTATE and
-- message; nothing changes. Each case was found by trying it: those marked
-- "was 22003" failed with the bare overflow before.
--
SET client_min_messages = warning;
SET search_path = public, oms;
\set VERBOSITY default
\set SHOW_CONTEXT never
DROP EXTENSION oms CASCADE;
CREATE EXTENSION oms;

INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web');
INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority) VALUES
    ('BER', 'Berlin', 'warehouse', 52.52, 13.40, 10);
INSERT INTO oms.products (sku, name, kind, weight_kg) VALUES
    ('A', 'Product A', 'stock', 1), ('H', 'Heavy press', 'stock', 9999);
INSERT INTO oms.customers (external_ref, email, name) VALUES ('ann', 'ann@example.com', 'Ann');
INSERT INTO oms.carriers (code, name, active) VALUES ('dhl', 'DHL', true);
INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days, active)
SELECT id, 'std', 'Paket', 2, true FROM oms.carriers;
INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
SELECT id, 'EUR', NULL, NULL, 5 FROM oms.carrier_services;
SELECT count(oms.receive_stock(sku, 'BER', qty)) AS receipts FROM (VALUES ('A', 100), ('H', 2000)) AS v(sku, qty);

-- a paid, shipped order of 2 A (for refunds, RMAs and receipts), and a paid
-- order of 1001 heavy presses (for its shipment)
CREATE FUNCTION overflow_paid(ext text, sku text, qty int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE id bigint;
BEGIN
  id := (oms.place_order(jsonb_build_object('channel', 'web', 'external_id', ext, 'currency', 'EUR',
         'customer', '{"external_ref": "ann"}'::jsonb,
         'lines', jsonb_build_array(jsonb_build_object('sku', sku, 'qty', qty, 'unit_price', 10)))) ->> 'order_id')::bigint;
  PERFORM oms.capture_payment((oms.authorize_payment(id, jsonb_build_object('method', 'card', 'amount', qty * 10, 'token', 'tok'))
                               ->> 'payment_id')::bigint);
  RETURN id;
END $$;
SELECT overflow_paid('S-1', 'A', 2) AS s1 \gset
SELECT overflow_paid('P-1', 'H', 1001) AS p1 \gset
SELECT oms.ship((oms.create_shipment(:s1, 'BER') ->> 'shipment_id')::bigint, 'dhl', 'std', 'T1') ->> 'status' AS shipped;
SELECT (oms.create_rma(:s1, '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "refund"}') ->> 'rma_id')::bigint AS r1 \gset
SELECT id AS pay1 FROM oms.payments WHERE order_id = :s1 \gset

-- run a statement; its SQLSTATE and message, or ok
CREATE OR REPLACE FUNCTION try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN st || ': ' || msg;
END
$$;
CREATE VIEW counts AS
SELECT (SELECT count(*) FROM oms.orders) AS orders,
       (SELECT count(*) FROM oms.payments) AS payments,
       (SELECT count(*) FROM oms.payment_transactions) AS transactions,
       (SELECT count(*) FROM oms.stock_movements) AS movements,
       (SELECT sum(on_hand) FROM oms.stock_balances) AS on_hand,
       (SELECT count(*) FROM oms.gift_cards) AS accounts,
       (SELECT count(*) FROM oms.shipments) AS shipments,
       (SELECT count(*) FROM oms.rmas) AS rmas,
       (SELECT count(*) FROM oms.journal_lines) AS journal,
       (SELECT count(*) FROM oms.events) AS events;
-- an order document with one line; the line's extra keys and the
-- document's are merged in
CREATE FUNCTION overflow_doc(line jsonb, extra jsonb DEFAULT '{}') RETURNS text LANGUAGE sql AS $$
    SELECT (jsonb_build_object('channel', 'web', 'external_id', 'X-1', 'currency', 'EUR',
            'lines', jsonb_build_array(jsonb_build_object('sku', 'A', 'qty', 1, 'unit_price', 10) || line)) || extra)::text $$;

SELECT * FROM counts;
CREATE TABLE overflow_calls (n serial, field text, stmt text);
INSERT INTO overflow_calls (field, stmt) VALUES
    -- place_order: each amount and number of the document
    ('place_order lines[0].unit_price 1e20',        format('SELECT oms.place_order(%L)', overflow_doc('{"unit_price": 1e20}'))),
    ('place_order lines[0].unit_price 1e400',       format('SELECT oms.place_order(%L)', overflow_doc('{"unit_price": 1e400}'))),
    ('place_order lines[0].discount 1e20',          format('SELECT oms.place_order(%L)', overflow_doc('{"discount": 1e20}'))),
    ('place_order lines[0].tax 1e400',              format('SELECT oms.place_order(%L)', overflow_doc('{"tax": 1e400}'))),
    ('place_order lines[0].qty 1e400',              format('SELECT oms.place_order(%L)', overflow_doc('{"qty": 1e400}'))),
    ('place_order subtotal (was 22003)',            format('SELECT oms.place_order(%L)', overflow_doc('{"qty": 1000000, "unit_price": 999999999999}'))),
    ('place_order subtotal of two lines (was 22003)',
        format('SELECT oms.place_order(%L)', overflow_doc('{"unit_price": 999999999999}',
               '{"lines": [{"sku": "A", "qty": 1, "unit_price": 999999999999}, {"sku": "A", "qty": 1, "unit_price": 999999999999}]}'))),
    ('place_order tax of two lines (was 22003)',
        format('SELECT oms.place_order(%L)', overflow_doc('{}',
               '{"lines": [{"sku": "A", "qty": 1, "unit_price": 1, "tax": 999999999999}, {"sku": "A", "qty": 1, "unit_price": 1, "tax": 999999999999}]}'))),
    ('place_order total (was 22003)',               format('SELECT oms.place_order(%L)', overflow_doc('{"unit_price": 600000000000, "tax": 600000000000}'))),
    ('place_order hold_minutes 1e400',              format('SELECT oms.place_order(%L)', overflow_doc('{}', '{"hold_minutes": 1e400}'))),
    ('place_order ship_to.lat 1e400',               format('SELECT oms.place_order(%L)', overflow_doc('{}', '{"ship_to": {"lat": 1e400, "lon": 13}}'))),
    ('place_order ship_to.lon -1e20',               format('SELECT oms.place_order(%L)', overflow_doc('{}', '{"ship_to": {"lat": 52, "lon": -1e20}}'))),
    ('explain_route subtotal',                      format('SELECT * FROM oms.explain_route(%L)', overflow_doc('{"qty": 1000000, "unit_price": 999999999999}'))),
    -- payments
    ('authorize_payment amount 1e20',               format($$SELECT oms.authorize_payment(%s, '{"method": "cash", "amount": 1e20}')$$, :s1)),
    ('authorize_payment amount 1e400',              format($$SELECT oms.authorize_payment(%s, '{"method": "cash", "amount": 1e400}')$$, :s1)),
    ('authorize_payment exp_year 1e20',             format($$SELECT oms.authorize_payment(%s, '{"method": "card", "token": "tok", "amount": 1, "exp_year": 1e20}')$$, :s1)),
    ('capture_payment amount 99999999999999.99',    format('SELECT oms.capture_payment(%s, 99999999999999.99)', :pay1)),
    ('capture_payment amount 1e400',                format('SELECT oms.capture_payment(%s, 1e400)', :pay1)),
    ('refund_payment amount 99999999999999.99',     format('SELECT oms.refund_payment(%s, 99999999999999.99)', :pay1)),
    ('issue_gift_card amount 99999999999999.99',    $$SELECT oms.issue_gift_card('GIFT-0001-0001', 99999999999999.99, 'EUR')$$),
    ('issue_store_credit amount 99999999999999.99', $$SELECT oms.issue_store_credit((SELECT id FROM oms.customers WHERE external_ref = 'ann'), 99999999999999.99, 'EUR')$$),
    -- returns
    ('create_rma lines[0].qty 1e400',               format($$SELECT oms.create_rma(%s, '{"lines": [{"sku": "A", "qty": 1e400, "reason": "defective"}], "resolution": "refund"}')$$, :s1)),
    ('create_rma exchange.lines[0].unit_price 1e20',
        format($$SELECT oms.create_rma(%s, '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "exchange", "exchange": {"lines": [{"sku": "H", "qty": 1, "unit_price": 1e20}]}}')$$, :s1)),
    ('create_rma exchange.lines[0].qty 1e400',
        format($$SELECT oms.create_rma(%s, '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "exchange", "exchange": {"lines": [{"sku": "H", "qty": 1e400, "unit_price": 1}]}}')$$, :s1)),
    ('create_rma exchange value',
        format($$SELECT oms.create_rma(%s, '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "exchange", "exchange": {"lines": [{"sku": "H", "qty": 1000, "unit_price": 999999999999}]}}')$$, :s1)),
    ('receive_rma lines[0].qty 1e400',              format($$SELECT oms.receive_rma(%s, 'BER', '[{"sku": "A", "qty": 1e400, "condition": "sellable"}]')$$, :r1)),
    -- fulfillment
    ('create_shipment lines[0].qty 1e400',          format($$SELECT oms.create_shipment(%s, 'BER', '[{"sku": "H", "qty": 1e400}]')$$, :p1)),
    ('create_shipment weight (was 22003)',          format($$SELECT oms.create_shipment(%s, 'BER')$$, :p1)),
    -- stock
    ('receive_stock qty 2147483647',                $$SELECT oms.receive_stock('A', 'BER', 2147483647)$$),
    ('adjust_stock counted_on_hand 2147483647',     $$SELECT oms.adjust_stock('A', 'BER', 2147483647, 'count')$$),
    ('set_safety_stock qty 2147483647',             $$SELECT oms.set_safety_stock('A', 'BER', 2147483647)$$),
    ('read_events max 2147483647',                  $$SELECT * FROM oms.read_events('overflow', 2147483647)$$);
SELECT field, try(stmt) AS result FROM overflow_calls ORDER BY n;
SELECT * FROM counts;

-- sums: a receipt that takes on_hand past 2^31 - 1 (was 22003 "integer out
-- of range"), store credit that takes an account to 10^12 (was 22003)
SELECT oms.receive_stock('A', 'BER', 1000000000) ->> 'received' AS received,
       oms.receive_stock('A', 'BER', 1000000000) ->> 'received' AS received_again;
SELECT oms.issue_store_credit((SELECT id FROM oms.customers WHERE external_ref = 'ann'), 999999999999, 'EUR') ->> 'balance' AS credit;
SELECT * FROM counts;
SELECT try($$SELECT oms.receive_stock('A', 'BER', 1000000000)$$) AS third_receipt,
       try($$SELECT oms.issue_store_credit((SELECT id FROM oms.customers WHERE external_ref = 'ann'), 1, 'EUR')$$) AS more_credit;
SELECT * FROM counts;

-- in full, once each: message, detail and hint
SELECT oms.place_order(overflow_doc('{"qty": 1000000, "unit_price": 999999999999}')::jsonb);
SELECT oms.place_order(overflow_doc('{}', '{"lines": [{"sku": "A", "qty": 1, "unit_price": 1, "tax": 999999999999}, {"sku": "A", "qty": 1, "unit_price": 1, "tax": 999999999999}]}')::jsonb);
SELECT oms.place_order(overflow_doc('{"unit_price": 600000000000, "tax": 600000000000}')::jsonb);
SELECT oms.place_order(overflow_doc('{"unit_price": 1e400}')::jsonb);
SELECT oms.capture_payment(:pay1, 1e400);
SELECT oms.create_shipment(:p1, 'BER');
SELECT oms.receive_stock('A', 'BER', 1000000000);
SELECT oms.issue_store_credit((SELECT id FROM oms.customers WHERE external_ref = 'ann'), 1, 'EUR');

-- at the bounds: accepted
SELECT oms.place_order(overflow_doc('{"unit_price": 999999999999.9999}')::jsonb) ->> 'total' AS total_at_the_bound;
SELECT oms.place_order(overflow_doc('{"unit_price": 500000000000, "tax": 499999999999.9999}', '{"external_id": "X-2"}')::jsonb) ->> 'total' AS total_with_tax;
SELECT oms.receive_stock('A', 'BER', 2147483647 - (SELECT b.on_hand FROM oms.stock_balances b JOIN oms.products p ON p.id = b.product_id
                                                    WHERE p.sku = 'A')) -> 'balance' ->> 'on_hand' AS on_hand_at_the_bound;
SELECT oms.create_shipment(:p1, 'BER', '[{"sku": "H", "qty": 1000}]') ->> 'weight_kg' AS weight_below_the_bound;
SELECT * FROM oms.check();
DROP TABLE overflow_calls;
DROP FUNCTION overflow_paid(text, text, int), overflow_doc(jsonb, jsonb), try(text);
