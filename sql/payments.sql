--
-- payments: authorize, capture, void, refund; gift cards and store credit;
-- invoices on terms; the card number (PAN) guard on every free-text field.
-- Every error is locked in with its SQLSTATE, and changes nothing.
--
SET client_min_messages = warning;
SET search_path = public, oms;
\set VERBOSITY default
-- errors raised inside oms functions would show the internal statement as
-- CONTEXT; what matters is the error itself
\set SHOW_CONTEXT never
DROP EXTENSION oms CASCADE;
CREATE EXTENSION oms;

INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web');
INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority) VALUES
    ('BER', 'Berlin', 'warehouse', 52.52, 13.40, 10);
INSERT INTO oms.products (sku, name, kind) VALUES ('A', 'Product A', 'stock');
INSERT INTO oms.customers (external_ref, email, name, flags) VALUES
    ('ann', 'ann@example.com', 'Ann', '{}'),
    ('bob', 'bob@example.com', 'Bob', '{}'),
    ('corp', 'ap@corp.example.com', 'Corp Ltd', '{terms}');
SELECT oms.receive_stock('A', 'BER', 1000) IS NOT NULL AS received;

-- what the tests show of a document: no timestamps
CREATE OR REPLACE FUNCTION doc(j jsonb) RETURNS jsonb LANGUAGE sql AS
$$ SELECT j - 'placed_at' - 'expires_at' $$;
-- place a one-line order of A for a total of price EUR; extra keys are merged
CREATE OR REPLACE FUNCTION place(ext text, price numeric, extra jsonb DEFAULT '{}') RETURNS bigint LANGUAGE sql AS
$$ SELECT (oms.place_order(jsonb_build_object('channel', 'web', 'external_id', ext, 'currency', 'EUR',
       'lines', jsonb_build_array(jsonb_build_object('sku', 'A', 'qty', 1, 'unit_price', price))) || extra) ->> 'order_id')::bigint $$;
CREATE OR REPLACE FUNCTION oid_of(ext text) RETURNS bigint LANGUAGE sql AS
$$ SELECT id FROM oms.orders WHERE external_id = ext $$;
-- the n-th payment of an order
CREATE OR REPLACE FUNCTION pay_of(ext text, n int DEFAULT 1) RETURNS bigint LANGUAGE sql AS
$$ SELECT p.id FROM oms.payments p JOIN oms.orders o ON o.id = p.order_id WHERE o.external_id = ext ORDER BY p.id OFFSET n - 1 LIMIT 1 $$;
-- run a statement, return its SQLSTATE and message (or ok)
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
       (SELECT count(*) FROM oms.events) AS events,
       (SELECT count(*) FROM oms.customers) AS customers,
       (SELECT count(*) FROM oms.gift_cards) AS accounts,
       (SELECT COALESCE(sum(balance), 0) FROM oms.gift_cards) AS balances,
       (SELECT COALESCE(sum(authorized), 0) || '/' || COALESCE(sum(captured), 0) || '/' || COALESCE(sum(voided), 0) || '/' || COALESCE(sum(refunded), 0)
          FROM oms.payments) AS "auth/capt/void/refd";

SELECT place('P-1', 100) AS p1;
SELECT * FROM counts;

-- ---------------------------------------------------------------------------
-- authorize_payment: bad input, each raises, nothing changes
-- ---------------------------------------------------------------------------
-- a few in full
SELECT oms.authorize_payment(987654, '{"method": "cash", "amount": 1}');
SELECT oms.authorize_payment(oid_of('P-1'), '[]');
SELECT oms.authorize_payment(oid_of('P-1'), '{"method": "cash", "amount": 1, "colour": "red"}');
SELECT oms.authorize_payment(oid_of('P-1'), '{"method": "bitcoin", "amount": 1}');
SELECT oms.authorize_payment(oid_of('P-1'), '{"method": "cash", "amount": 10, "currency": "USD"}');
SELECT oms.authorize_payment(oid_of('P-1'), '{"method": "cash", "amount": 100.01}');
SELECT oms.authorize_payment(oid_of('P-1'), '{"method": "card", "amount": 10}');
SELECT oms.authorize_payment(oid_of('P-1'), '{"method": "cash", "amount": 10, "last4": "4242"}');
SELECT oms.authorize_payment(oid_of('P-1'), '{"method": "card", "amount": 10, "token": "4111 1111 1111 1111"}');
-- every one with its SQLSTATE
SELECT label, try(format('SELECT oms.authorize_payment(%s, %L)', o, p)) AS sqlstate_and_message
  FROM (SELECT oid_of('P-1') AS o) x, (VALUES
    ('NULL document',       NULL),
    ('JSON null',           'null'),
    ('array',               '[]'),
    ('string',              '"cash"'),
    ('number',              '5'),
    ('empty object',        '{}'),
    ('unknown key',         '{"method": "cash", "amount": 1, "colour": "red"}'),
    ('no method',           '{"amount": 1}'),
    ('method null',         '{"method": null, "amount": 1}'),
    ('method number',       '{"method": 5, "amount": 1}'),
    ('method empty',        '{"method": " ", "amount": 1}'),
    ('method bitcoin',      '{"method": "bitcoin", "amount": 1}'),
    ('method upper case',   '{"method": "CASH", "amount": 1}'),
    ('no amount',           '{"method": "cash"}'),
    ('amount 0',            '{"method": "cash", "amount": 0}'),
    ('amount -1',           '{"method": "cash", "amount": -1}'),
    ('amount "abc"',        '{"method": "cash", "amount": "abc"}'),
    ('amount "10"',         '{"method": "cash", "amount": "10"}'),
    ('amount 1e12',         '{"method": "cash", "amount": 1e12}'),
    ('currency USD',        '{"method": "cash", "amount": 10, "currency": "USD"}'),
    ('currency eur',        '{"method": "cash", "amount": 10, "currency": "eur"}'),
    ('currency number',     '{"method": "cash", "amount": 10, "currency": 978}'),
    ('above open amount',   '{"method": "cash", "amount": 100.01}'),
    ('card without token',  '{"method": "card", "amount": 10}'),
    ('card empty token',    '{"method": "card", "amount": 10, "token": ""}'),
    ('token on cash',       '{"method": "cash", "amount": 10, "token": "tok_1"}'),
    ('brand on check',      '{"method": "check", "amount": 10, "brand": "visa"}'),
    ('last4 on cash',       '{"method": "cash", "amount": 10, "last4": "4242"}'),
    ('exp_month on cash',   '{"method": "cash", "amount": 10, "exp_month": 12}'),
    ('exp_year on invoice', '{"method": "invoice", "amount": 10, "exp_year": 2030}'),
    ('last4 letters',       '{"method": "card", "amount": 10, "token": "tok_1", "last4": "abcd"}'),
    ('last4 too short',     '{"method": "card", "amount": 10, "token": "tok_1", "last4": "42"}'),
    ('last4 number',        '{"method": "card", "amount": 10, "token": "tok_1", "last4": 4242}'),
    ('exp_month 13',        '{"method": "card", "amount": 10, "token": "tok_1", "exp_month": 13}'),
    ('exp_month 0',         '{"method": "card", "amount": 10, "token": "tok_1", "exp_month": 0}'),
    ('exp_year 1999',       '{"method": "card", "amount": 10, "token": "tok_1", "exp_year": 1999}'),
    ('gift card no code',   '{"method": "gift_card", "amount": 10}'),
    ('gift card unknown',   '{"method": "gift_card", "amount": 10, "gift_card_code": "NOSUCHCARD"}'),
    ('gift card bad code',  '{"method": "gift_card", "amount": 10, "gift_card_code": "NO$UCH"}'),
    ('store credit guest',  '{"method": "store_credit", "amount": 10}'),
    ('invoice, no terms',   '{"method": "invoice", "amount": 10}')) AS t(label, p);
SELECT try('SELECT oms.authorize_payment(987654, ''{"method": "cash", "amount": 1}'')') AS unknown_order,
       try('SELECT oms.authorize_payment(NULL, ''{"method": "cash", "amount": 1}'')') AS null_order;
SELECT * FROM counts;

-- ---------------------------------------------------------------------------
-- the card number guard: 13 to 19 digits, spaces or dashes allowed, passing
-- the Luhn check
-- ---------------------------------------------------------------------------
SELECT v AS text, oms.contains_card_number(v) AS looks_like_a_card FROM (VALUES
    ('4111111111111111'), ('4111 1111 1111 1111'), ('4242-4242-4242-4242'), ('378282246310005'),
    ('6011 0009 9013 9424'), ('card 5555555555554444 exp 12/30'), ('4222222222222'),
    ('4111 1111 1111 1112'), ('4242424242424241'), ('411111111111'),
    ('94001118992231234567'), ('1Z 999 AA1 0123456784'),
    ('tok_4111111111111112'), ('')) AS t(v);
-- in every field that reaches the database
SELECT * FROM counts;
SELECT label, try(stmt) AS sqlstate_and_message FROM (VALUES
    ('token',             $$SELECT oms.authorize_payment(oid_of('P-1'), '{"method": "card", "amount": 10, "token": "4111 1111 1111 1111"}')$$),
    ('token, dashes',     $$SELECT oms.authorize_payment(oid_of('P-1'), '{"method": "card", "amount": 10, "token": "tok-4242-4242-4242-4242"}')$$),
    ('token, amex',       $$SELECT oms.authorize_payment(oid_of('P-1'), '{"method": "card", "amount": 10, "token": "378282246310005"}')$$),
    ('psp_reference',     $$SELECT oms.authorize_payment(oid_of('P-1'), '{"method": "card", "amount": 10, "token": "tok_1", "psp_reference": "ref 4242424242424242"}')$$),
    ('psp_reference cash',$$SELECT oms.authorize_payment(oid_of('P-1'), '{"method": "cash", "amount": 10, "psp_reference": "4111-1111-1111-1111"}')$$),
    ('brand',             $$SELECT oms.authorize_payment(oid_of('P-1'), '{"method": "card", "amount": 10, "token": "tok_1", "brand": "378282246310005"}')$$),
    ('refund reason',     $$SELECT oms.refund_payment(987654, 1, 'card was 4111 1111 1111 1111')$$),
    ('cancel reason',     $$SELECT oms.cancel_order(oid_of('P-1'), 'customer card 4242-4242-4242-4242')$$),
    ('hold reason',       $$SELECT oms.hold_order(oid_of('P-1'), 'check 378282246310005')$$),
    ('status reason',     $$SELECT oms.set_order_status(oid_of('P-1'), 'confirmed', '4111111111111111')$$),
    ('store credit reason',$$SELECT oms.issue_store_credit(1, 5, 'EUR', 'refund to 4111 1111 1111 1111')$$),
    ('notes',             $$SELECT place('PAN-1', 1, '{"notes": "pay with 4111 1111 1111 1111"}')$$),
    ('external_id, not checked: order numbers are often long numbers', $$SELECT place('4242424242424242', 1)$$),
    ('customer name',     $$SELECT place('PAN-2', 1, '{"customer": {"email": "pan@example.com", "name": "Ann 4242-4242-4242-4242"}}')$$),
    ('customer external_ref', $$SELECT place('PAN-3', 1, '{"customer": {"external_ref": "378282246310005"}}')$$),
    ('ship_to field',     $$SELECT place('PAN-4', 1, '{"ship_to": {"name": "Ann", "street": "4111 1111 1111 1111 Main St"}}')$$)) AS t(label, stmt);
-- in full, once
SELECT oms.cancel_order(oid_of('P-1'), 'customer card 4242-4242-4242-4242');
SELECT * FROM counts;
-- what is not a card number passes: 16 digits failing Luhn, a 20-digit
-- tracking number
SELECT doc(oms.place_order('{"channel": "web", "external_id": "NOT-A-PAN", "currency": "EUR",
    "notes": "ref 4111 1111 1111 1112, tracking 94001118992231234567",
    "ship_to": {"name": "Ann", "street": "4242424242424241 Luhn Lane"},
    "lines": [{"sku": "A", "qty": 1, "unit_price": 5}]}')) - 'lines' AS accepted;
SELECT notes, ship_to FROM oms.orders WHERE external_id = 'NOT-A-PAN';
SELECT oms.cancel_order(oid_of('NOT-A-PAN'), 'test order') ->> 'status' AS cancelled;

-- ---------------------------------------------------------------------------
-- authorize, capture, void, refund
-- ---------------------------------------------------------------------------
-- 60 of 100 by card: not covered, the order still waits for payment
SELECT oms.authorize_payment(oid_of('P-1'), '{"method": "card", "amount": 60, "currency": "EUR", "token": "tok_visa_1",
    "psp_reference": "psp-0001", "brand": "visa", "last4": "1111", "exp_month": 12, "exp_year": 2030}') AS card;
SELECT status, expires_at IS NOT NULL AS still_expires FROM oms.orders WHERE external_id = 'P-1';
SELECT method, token, psp_reference, card_brand, card_last4, card_exp_month, card_exp_year FROM oms.payments WHERE id = pay_of('P-1');
-- more than the 40 still open
SELECT oms.authorize_payment(oid_of('P-1'), '{"method": "cash", "amount": 40.0001}');
SELECT try($$SELECT oms.authorize_payment(oid_of('P-1'), '{"method": "cash", "amount": 40.0001}')$$) AS above_open_amount;
-- captures: never more than what is left
SELECT * FROM counts;
SELECT oms.capture_payment(pay_of('P-1'), 70);
SELECT label, try(stmt) AS sqlstate_and_message FROM (VALUES
    ('over-capture',    $$SELECT oms.capture_payment(pay_of('P-1'), 70)$$),
    ('capture 60.0001', $$SELECT oms.capture_payment(pay_of('P-1'), 60.0001)$$),
    ('capture 0',       $$SELECT oms.capture_payment(pay_of('P-1'), 0)$$),
    ('capture -1',      $$SELECT oms.capture_payment(pay_of('P-1'), -1)$$),
    ('capture NaN',     $$SELECT oms.capture_payment(pay_of('P-1'), 'NaN')$$),
    ('capture 1e12',    $$SELECT oms.capture_payment(pay_of('P-1'), 1e12)$$),
    ('capture unknown', $$SELECT oms.capture_payment(987654)$$),
    ('capture NULL',    $$SELECT oms.capture_payment(NULL)$$),
    ('void unknown',    $$SELECT oms.void_payment(987654)$$),
    ('void NULL',       $$SELECT oms.void_payment(NULL)$$),
    ('refund unknown',  $$SELECT oms.refund_payment(987654, 1)$$),
    ('refund NULL payment', $$SELECT oms.refund_payment(NULL, 1)$$),
    ('refund NULL amount',  $$SELECT oms.refund_payment(pay_of('P-1'), NULL)$$),
    ('refund uncaptured',   $$SELECT oms.refund_payment(pay_of('P-1'), 1)$$)) AS t(label, stmt);
SELECT * FROM counts;
SELECT oms.capture_payment(pay_of('P-1'), 20) AS partial_capture;
SELECT try($$SELECT oms.capture_payment(pay_of('P-1'), 40.0001)$$) AS over_capture;
SELECT oms.capture_payment(pay_of('P-1')) AS capture_the_rest;
-- after a full capture: nothing left to capture, nothing to void
SELECT * FROM counts;
SELECT oms.capture_payment(pay_of('P-1'));
SELECT oms.void_payment(pay_of('P-1'));
SELECT try($$SELECT oms.capture_payment(pay_of('P-1'))$$) AS capture_after_full,
       try($$SELECT oms.capture_payment(pay_of('P-1'), 1)$$) AS capture_1_after_full,
       try($$SELECT oms.void_payment(pay_of('P-1'))$$) AS void_after_capture;
SELECT * FROM counts;
-- the other 40 in cash: covered, the order is confirmed and stops expiring
SELECT oms.authorize_payment(oid_of('P-1'), '{"method": "cash", "amount": 40}') AS cash;
SELECT status, expires_at IS NULL AS hold_cleared FROM oms.orders WHERE external_id = 'P-1';
SELECT from_status, to_status, reason FROM oms.order_history(oid_of('P-1'));
-- nothing is open any more
SELECT try($$SELECT oms.authorize_payment(oid_of('P-1'), '{"method": "cash", "amount": 0.01}')$$) AS nothing_open;
-- void the cash authorization, then again: a no-op that says so
SELECT oms.void_payment(pay_of('P-1', 2)) AS voided;
SELECT oms.void_payment(pay_of('P-1', 2)) ->> 'note' AS void_again;
SELECT try($$SELECT oms.capture_payment(pay_of('P-1', 2))$$) AS capture_voided,
       try($$SELECT oms.refund_payment(pay_of('P-1', 2), 1)$$) AS refund_voided;
-- refunds: never more than captured less earlier refunds
SELECT oms.refund_payment(pay_of('P-1'), 60.01, 'too much');
SELECT try($$SELECT oms.refund_payment(pay_of('P-1'), 60.01)$$) AS over_refund,
       try($$SELECT oms.refund_payment(pay_of('P-1'), 0)$$) AS refund_0,
       try($$SELECT oms.refund_payment(pay_of('P-1'), -5)$$) AS refund_minus_5;
SELECT oms.refund_payment(pay_of('P-1'), 25, 'one item damaged') AS partial_refund;
-- a second refund that would pass the capture is refused whole
SELECT oms.refund_payment(pay_of('P-1'), 35.01, 'more than is left');
SELECT try($$SELECT oms.refund_payment(pay_of('P-1'), 35.01)$$) AS second_refund_too_big;
SELECT oms.refund_payment(pay_of('P-1'), 35) AS refund_the_rest;
SELECT try($$SELECT oms.refund_payment(pay_of('P-1'), 0.01)$$) AS refund_after_full;
SELECT * FROM counts;
-- the books of P-1
SELECT t.payment_id, t.kind, t.amount, t.reason, t.actor = session_user AS actor_ok
  FROM oms.payment_transactions t WHERE t.order_id = oid_of('P-1') ORDER BY t.id;
SELECT id, method, status, authorized, captured, voided, refunded FROM oms.payments WHERE order_id = oid_of('P-1') ORDER BY id;

-- ---------------------------------------------------------------------------
-- gift cards: only the hash of the code is stored
-- ---------------------------------------------------------------------------
SELECT oms.issue_gift_card('gift-abcd-1234-wxyz', 50, 'EUR') AS issued;
SELECT id, kind, length(code_hash) AS hash_bytes, code_last4, customer_id, currency, issued, balance, active FROM oms.gift_cards;
-- the code is nowhere in the row, in any spelling
SELECT count(*) AS rows_holding_the_code FROM oms.gift_cards g
 WHERE upper(g::text) LIKE '%ABCD%1234%' OR g::text LIKE '%abcd%';
SELECT encode(code_hash, 'hex') = encode(sha256('GIFTABCD1234WXYZ'), 'hex') AS hash_of_the_normalized_code FROM oms.gift_cards;
-- normalization: spaces, dashes and case do not matter
SELECT oms.gift_card_balance('GIFT-ABCD-1234-WXYZ') AS dashes, oms.gift_card_balance('gift abcd 1234 wxyz') AS spaces,
       oms.gift_card_balance('GiftAbcd1234Wxyz') AS mixed, oms.gift_card_balance('giftabcd1234wxy z') AS odd_grouping,
       oms.gift_card_balance('GIFTABCD1234WXYA') AS unknown, oms.gift_card_balance(NULL) AS null_code;
-- issuing: bad input, each raises, nothing changes
SELECT * FROM counts;
SELECT oms.issue_gift_card('GIFTABCD1234WXYZ', 10, 'EUR');
SELECT oms.issue_gift_card('short', 10, 'EUR');
SELECT label, try(stmt) AS sqlstate_and_message FROM (VALUES
    ('duplicate, normalized', $$SELECT oms.issue_gift_card('GIFT ABCD 1234 WXYZ', 10, 'EUR')$$),
    ('duplicate, USD',        $$SELECT oms.issue_gift_card('giftabcd1234wxyz', 10, 'USD')$$),
    ('7 characters',          $$SELECT oms.issue_gift_card('ABC-1234', 10, 'EUR')$$),
    ('65 characters',         $$SELECT oms.issue_gift_card(repeat('A', 65), 10, 'EUR')$$),
    ('punctuation',           $$SELECT oms.issue_gift_card('GIFT!CARD#0001', 10, 'EUR')$$),
    ('underscore',            $$SELECT oms.issue_gift_card('GIFT_CARD_0001', 10, 'EUR')$$),
    ('only dashes',           $$SELECT oms.issue_gift_card('-- -- -- --', 10, 'EUR')$$),
    ('empty',                 $$SELECT oms.issue_gift_card('', 10, 'EUR')$$),
    ('NULL code',             $$SELECT oms.issue_gift_card(NULL, 10, 'EUR')$$),
    ('NULL amount',           $$SELECT oms.issue_gift_card('NEWCARD00001', NULL, 'EUR')$$),
    ('NULL currency',         $$SELECT oms.issue_gift_card('NEWCARD00001', 10, NULL)$$),
    ('amount 0',              $$SELECT oms.issue_gift_card('NEWCARD00001', 0, 'EUR')$$),
    ('amount -10',            $$SELECT oms.issue_gift_card('NEWCARD00001', -10, 'EUR')$$),
    ('currency eur',          $$SELECT oms.issue_gift_card('NEWCARD00001', 10, 'eur')$$),
    ('currency EURO',         $$SELECT oms.issue_gift_card('NEWCARD00001', 10, 'EURO')$$),
    ('balance of a bad code', $$SELECT oms.gift_card_balance('bad!code')$$)) AS t(label, stmt);
SELECT * FROM counts;
-- a card in another currency
SELECT oms.issue_gift_card('USD-CARD-0001', 20, 'USD') - 'gift_card_id' AS usd_card;

-- spending: the balance goes down with the authorization
SELECT place('G-1', 80) AS g1;
SELECT oms.authorize_payment(oid_of('G-1'), '{"method": "gift_card", "amount": 30, "gift_card_code": "gift abcd 1234 wxyz"}') AS gift_payment;
SELECT oms.gift_card_balance('GIFTABCD1234WXYZ') AS balance_after_spend;
SELECT * FROM counts;
SELECT oms.authorize_payment(oid_of('G-1'), '{"method": "gift_card", "amount": 25, "gift_card_code": "GIFTABCD1234WXYZ"}');
SELECT oms.authorize_payment(oid_of('G-1'), '{"method": "gift_card", "amount": 5, "gift_card_code": "USD-CARD-0001"}');
SELECT label, try(stmt) AS sqlstate_and_message FROM (VALUES
    ('insufficient balance', $$SELECT oms.authorize_payment(oid_of('G-1'), '{"method": "gift_card", "amount": 25, "gift_card_code": "GIFTABCD1234WXYZ"}')$$),
    ('wrong currency',       $$SELECT oms.authorize_payment(oid_of('G-1'), '{"method": "gift_card", "amount": 5, "gift_card_code": "USD-CARD-0001"}')$$),
    ('unknown code',         $$SELECT oms.authorize_payment(oid_of('G-1'), '{"method": "gift_card", "amount": 5, "gift_card_code": "NOSUCHCARD01"}')$$),
    ('card fields',          $$SELECT oms.authorize_payment(oid_of('G-1'), '{"method": "gift_card", "amount": 5, "gift_card_code": "GIFTABCD1234WXYZ", "last4": "WXYZ"}')$$)) AS t(label, stmt);
SELECT * FROM counts;
-- capture 30, refund 10: the refund goes back on the card
SELECT oms.capture_payment(pay_of('G-1')) ->> 'status' AS captured;
SELECT oms.refund_payment(pay_of('G-1'), 10, 'one item returned') - 'payment_id' - 'order_id' AS refunded;
SELECT oms.gift_card_balance('GIFTABCD1234WXYZ') AS balance_after_refund;
-- a void gives back what was not captured
SELECT (oms.authorize_payment(oid_of('G-1'), '{"method": "gift_card", "amount": 5, "gift_card_code": "GIFTABCD1234WXYZ"}') ->> 'balance') AS balance_while_authorized;
SELECT oms.void_payment(pay_of('G-1', 2)) ->> 'balance' AS balance_after_void;
-- an inactive card cannot be spent
UPDATE oms.gift_cards SET active = false WHERE code_last4 = 'WXYZ';
SELECT oms.authorize_payment(oid_of('G-1'), '{"method": "gift_card", "amount": 5, "gift_card_code": "GIFTABCD1234WXYZ"}');
SELECT try($$SELECT oms.authorize_payment(oid_of('G-1'), '{"method": "gift_card", "amount": 5, "gift_card_code": "GIFTABCD1234WXYZ"}')$$) AS inactive;
UPDATE oms.gift_cards SET active = true WHERE code_last4 = 'WXYZ';
-- cancelling an order paid by gift card: the open authorization is voided,
-- the capture refunded, the card gets all of it back
SELECT place('G-2', 40) AS g2;
SELECT (oms.authorize_payment(oid_of('G-2'), '{"method": "gift_card", "amount": 20, "gift_card_code": "GIFTABCD1234WXYZ"}') ->> 'payment_id')::bigint AS g2_payment;
SELECT oms.capture_payment(pay_of('G-2'), 15) ->> 'status' AS partly_captured;
SELECT oms.gift_card_balance('GIFTABCD1234WXYZ') AS balance_before_cancel;
SELECT doc(oms.cancel_order(oid_of('G-2'), 'customer changed their mind')) -> 'payments' AS payments;
SELECT oms.gift_card_balance('GIFTABCD1234WXYZ') AS balance_after_cancel;
SELECT method, status, authorized, captured, voided, refunded FROM oms.payments WHERE id = pay_of('G-2');
SELECT id, code_last4, currency, issued, balance FROM oms.gift_cards ORDER BY id;

-- ---------------------------------------------------------------------------
-- store credit: per customer and currency
-- ---------------------------------------------------------------------------
SELECT oms.issue_store_credit(c.id, 25, 'EUR', 'goodwill') - 'store_credit_id' - 'customer_id' AS issued
  FROM oms.customers c WHERE c.external_ref = 'ann';
SELECT oms.issue_store_credit(c.id, 5, 'EUR') ->> 'balance' AS topped_up
  FROM oms.customers c WHERE c.external_ref = 'ann';
SELECT * FROM counts;
SELECT label, try(stmt) AS sqlstate_and_message FROM (VALUES
    ('unknown customer', $$SELECT oms.issue_store_credit(987654, 5, 'EUR')$$),
    ('NULL customer',    $$SELECT oms.issue_store_credit(NULL, 5, 'EUR')$$),
    ('amount 0',         $$SELECT oms.issue_store_credit(1, 0, 'EUR')$$),
    ('amount NULL',      $$SELECT oms.issue_store_credit(1, NULL, 'EUR')$$),
    ('currency Eur',     $$SELECT oms.issue_store_credit(1, 5, 'Eur')$$)) AS t(label, stmt);
SELECT * FROM counts;
SELECT place('S-1', 50, '{"customer": {"external_ref": "ann"}}') AS s1,
       place('S-2', 10, '{"customer": {"external_ref": "bob"}}') AS s2,
       place('S-3', 10) AS s3_guest;
SELECT oms.authorize_payment(oid_of('S-1'), '{"method": "store_credit", "amount": 20}') - 'payment_id' - 'order_id' AS store_credit;
-- spending: bad input, each raises, nothing changes
SELECT * FROM counts;
SELECT oms.authorize_payment(oid_of('S-1'), '{"method": "store_credit", "amount": 15}');
SELECT oms.authorize_payment(oid_of('S-2'), '{"method": "store_credit", "amount": 5}');
SELECT oms.authorize_payment(oid_of('S-3'), '{"method": "store_credit", "amount": 5}');
SELECT label, try(stmt) AS sqlstate_and_message FROM (VALUES
    ('insufficient',   $$SELECT oms.authorize_payment(oid_of('S-1'), '{"method": "store_credit", "amount": 15}')$$),
    ('no account',     $$SELECT oms.authorize_payment(oid_of('S-2'), '{"method": "store_credit", "amount": 5}')$$),
    ('guest order',    $$SELECT oms.authorize_payment(oid_of('S-3'), '{"method": "store_credit", "amount": 5}')$$),
    ('with a token',   $$SELECT oms.authorize_payment(oid_of('S-1'), '{"method": "store_credit", "amount": 5, "token": "tok_1"}')$$)) AS t(label, stmt);
SELECT * FROM counts;
SELECT g.kind, c.external_ref, g.currency, g.issued, g.balance FROM oms.gift_cards g JOIN oms.customers c ON c.id = g.customer_id;

-- ---------------------------------------------------------------------------
-- invoices: customers on terms only
-- ---------------------------------------------------------------------------
SELECT place('I-1', 30, '{"customer": {"external_ref": "ann"}}') AS i1;
SELECT * FROM counts;
SELECT oms.authorize_payment(oid_of('I-1'), '{"method": "invoice", "amount": 30}');
SELECT try($$SELECT oms.authorize_payment(oid_of('I-1'), '{"method": "invoice", "amount": 30}')$$) AS no_terms;
SELECT * FROM counts;
-- a terms customer's order is confirmed at placement; the invoice is accepted
SELECT place('I-2', 30, '{"customer": {"external_ref": "corp"}}') AS i2;
SELECT status FROM oms.orders WHERE external_id = 'I-2';
SELECT oms.authorize_payment(oid_of('I-2'), '{"method": "invoice", "amount": 30, "psp_reference": "INV-2026-0001"}') - 'payment_id' - 'order_id' AS invoice;

-- ---------------------------------------------------------------------------
-- confirmation when the authorizations cover the total
-- ---------------------------------------------------------------------------
-- in two parts
SELECT place('C-1', 70) AS c1;
SELECT oms.authorize_payment(oid_of('C-1'), '{"method": "card", "amount": 50, "token": "tok_c1"}') ->> 'order_status' AS after_first;
SELECT status, expires_at IS NOT NULL AS still_expires FROM oms.orders WHERE external_id = 'C-1';
SELECT oms.authorize_payment(oid_of('C-1'), '{"method": "check", "amount": 20}') ->> 'order_status' AS after_second;
SELECT status, expires_at IS NULL AS hold_cleared FROM oms.orders WHERE external_id = 'C-1';
-- a held order stays held, but it will be released to confirmed
SELECT place('C-2', 70, '{"flags": ["fraud_review"]}') AS c2;
SELECT status, held_from FROM oms.orders WHERE external_id = 'C-2';
SELECT oms.authorize_payment(oid_of('C-2'), '{"method": "card", "amount": 70, "token": "tok_c2"}') ->> 'order_status' AS after_payment;
SELECT status, held_from, expires_at IS NULL AS hold_cleared FROM oms.orders WHERE external_id = 'C-2';
SELECT oms.release_hold(oid_of('C-2')) ->> 'status' AS released;
SELECT from_status, to_status, reason FROM oms.order_history(oid_of('C-2'));

-- ---------------------------------------------------------------------------
-- cancelling a paid order: open authorizations voided, captures refunded
-- ---------------------------------------------------------------------------
SELECT place('X-1', 100) AS x1;
SELECT (oms.authorize_payment(oid_of('X-1'), '{"method": "card", "amount": 100, "token": "tok_x1"}') ->> 'payment_id')::bigint AS x1_card;
SELECT oms.capture_payment(p.id, 60) ->> 'status' AS partly_captured FROM oms.payments p WHERE p.order_id = oid_of('X-1');
SELECT oms.refund_payment(p.id, 10, 'price adjustment') ->> 'status' AS partly_refunded FROM oms.payments p WHERE p.order_id = oid_of('X-1');
SELECT jsonb_pretty(jsonb_build_object('status', c -> 'status', 'cancelled', c -> 'cancelled',
       'reservations_released', c -> 'reservations_released', 'payments', c -> 'payments')) AS cancelled
  FROM oms.cancel_order(oid_of('X-1'), 'out of stock') AS c;
SELECT method, status, authorized, captured, voided, refunded FROM oms.payments WHERE order_id = oid_of('X-1');
SELECT kind, amount, reason FROM oms.payment_transactions WHERE order_id = oid_of('X-1') ORDER BY id;
-- a cancelled order takes no payments
SELECT oms.authorize_payment(oid_of('X-1'), '{"method": "cash", "amount": 1}');
SELECT try($$SELECT oms.authorize_payment(oid_of('X-1'), '{"method": "cash", "amount": 1}')$$) AS cancelled_order;
-- cancelling again: nothing more is voided or refunded
SELECT oms.cancel_order(oid_of('X-1')) ->> 'note' AS cancel_again;

-- ---------------------------------------------------------------------------
-- the books balance
-- ---------------------------------------------------------------------------
SELECT kind, count(*) FROM oms.events WHERE kind LIKE 'payment_%' OR kind LIKE '%_issued' GROUP BY 1 ORDER BY 1;
SELECT * FROM counts;
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- amounts keep 4 decimals: they are rounded once on the way in, so stored
-- amounts and gift card balances agree (10.00005 is 10.0001 everywhere)
-- ---------------------------------------------------------------------------
SELECT oms.issue_gift_card('ROUNDING-CARD-1', 50, 'EUR') ->> 'balance' AS issued;
SELECT place('ROUND-1', 30) IS NOT NULL AS placed;
SELECT p ->> 'authorized' AS authorized, p ->> 'balance' AS balance
  FROM oms.authorize_payment(oid_of('ROUND-1'), '{"method": "gift_card", "amount": 10.00005, "gift_card_code": "ROUNDING-CARD-1"}') AS p;
SELECT try($$SELECT oms.authorize_payment(oid_of('ROUND-1'), '{"method": "cash", "amount": 0.00004}')$$) AS rounds_to_zero;
SELECT try($$SELECT oms.capture_payment(pay_of('ROUND-1'), 0.00001)$$) AS capture_rounds_to_zero;
SELECT oms.capture_payment(pay_of('ROUND-1'), 5.00004) ->> 'captured' AS captured;
SELECT oms.refund_payment(pay_of('ROUND-1'), 2.00006) ->> 'refunded' AS refunded;
SELECT oms.gift_card_balance('ROUNDING-CARD-1') AS balance;

-- ---------------------------------------------------------------------------
-- the card-number guard reads digit groups: a card number next to other
-- digits, or written with dots or double spaces, is still found
-- ---------------------------------------------------------------------------
SELECT s, oms.contains_card_number(s) FROM (VALUES
    ('4111 1111 1111 1111 12/30'), ('4111-1111-1111-1111-123'), ('order 2 4242424242424242'),
    ('4242424242424242 1'), ('1 4111111111111111'), ('4111  1111 1111 1111'), ('4111.1111.1111.1111'),
    ('12345678901234567890'), ('4111111111111112'), ('52.5200 13.4050'), ('+49 30 1234 5678'),
    ('3782 822463 10005'), ('3056 930902 5904'), ('4222 2222 2222 2'),
    ('302-5518842-1190735'), ('+49 171 1234567 89'), ('4111 1111 1111 1112')) AS v(s);
SELECT try($$SELECT oms.authorize_payment(oid_of('ROUND-1'), '{"method": "card", "amount": 1, "token": "tok", "psp_reference": "ref 4111.1111.1111.1111"}')$$) AS dotted_pan;

SELECT * FROM counts;
SELECT * FROM oms.check();
DROP FUNCTION doc(jsonb), place(text, numeric, jsonb), oid_of(text), pay_of(text, int), try(text);
