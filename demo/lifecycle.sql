-- demo/lifecycle.sql: payments confirm orders, a hold and its release, a
-- cancellation that voids and refunds, the status history and the outbox.
\set ON_ERROR_STOP 0
\pset footer off
SET search_path = public, oms;

\echo
\echo '== Gift cards are issued by the back office; only a hash of the code is stored =='
SELECT oms.issue_gift_card('XMAS-2026-7Q4K-99PL', 50.00, 'EUR') AS gift_card;
SELECT kind, code_last4, encode(code_hash, 'hex') AS code_hash, balance FROM oms.gift_cards;

SET ROLE oms_app;
\echo '== The web order is paid by card (a PSP token, never the number): it is confirmed, its hold no longer expires =='
SELECT p ->> 'payment_id' AS payment_id, p ->> 'status' AS payment, p ->> 'order_status' AS order_status
  FROM oms.orders o, oms.authorize_payment(o.id, jsonb_build_object('method', 'card', 'amount', o.total,
        'token', 'tok_1QwErTy', 'psp_reference', 'pi_3PqR', 'brand', 'visa', 'last4', '4242', 'exp_month', 11, 'exp_year', 2028)) AS p
 WHERE o.external_id = 'WEB-100234';
SELECT c ->> 'status' AS payment, c ->> 'captured' AS captured
  FROM oms.payments_masked p, oms.capture_payment(p.id) AS c
 WHERE p.order_id = (SELECT id FROM oms.orders WHERE external_id = 'WEB-100234');

\echo '-- a card number where a token belongs is refused, whatever the spacing:'
SELECT oms.authorize_payment(o.id, '{"method": "card", "amount": 10, "token": "4111 1111 1111 1111"}') FROM oms.orders o WHERE o.external_id = '302-5518842-1190735';

\echo '== The marketplace order: half by gift card, the rest by card =='
SELECT p ->> 'method' AS method, p ->> 'authorized' AS authorized, p ->> 'balance' AS gift_card_left, p ->> 'order_status' AS order_status
  FROM oms.orders o, oms.authorize_payment(o.id, '{"method": "gift_card", "amount": 50, "gift_card_code": "xmas 2026 7q4k 99pl"}') AS p
 WHERE o.external_id = '302-5518842-1190735';
SELECT p ->> 'method' AS method, p ->> 'authorized' AS authorized, p ->> 'order_status' AS order_status
  FROM oms.orders o, oms.authorize_payment(o.id, jsonb_build_object('method', 'card', 'amount', o.total - 50, 'token', 'tok_9ZxC')) AS p
 WHERE o.external_id = '302-5518842-1190735';

\echo '== Hold for an address check, then release: back to where it was =='
SELECT h ->> 'status' AS status FROM oms.orders o, oms.hold_order(o.id, 'address check: street not found') AS h WHERE o.external_id = '302-5518842-1190735';
SELECT r ->> 'status' AS status FROM oms.orders o, oms.release_hold(o.id) AS r WHERE o.external_id = '302-5518842-1190735';

\echo '-- the database refuses a status change the lifecycle does not allow, whoever asks:'
SELECT oms.set_order_status(o.id, 'delivered') FROM oms.orders o WHERE o.external_id = '302-5518842-1190735';
RESET ROLE;
\echo '-- (even a superuser writing SQL by hand)'
UPDATE oms.orders SET status = 'completed' WHERE external_id = '302-5518842-1190735';

\echo '== The web customer cancels after paying: stock released, capture refunded =='
SET ROLE oms_app;
SELECT c ->> 'status' AS status, c -> 'payments' AS payments
  FROM oms.orders o, oms.cancel_order(o.id, 'customer changed their mind') AS c WHERE o.external_id = 'WEB-100234';
RESET ROLE;

\echo '== Status history of the marketplace order =='
SELECT h.* FROM oms.orders o, oms.order_history(o.id) AS h WHERE o.external_id = '302-5518842-1190735';

\echo '== A business adds its own status with plain INSERTs =='
SET ROLE oms_admin;
INSERT INTO oms.order_statuses (status, description) VALUES ('awaiting_pickup', 'Ready for the customer to collect');
INSERT INTO oms.order_transitions (from_status, to_status) VALUES ('confirmed', 'awaiting_pickup'), ('awaiting_pickup', 'completed');
RESET ROLE;
SELECT s ->> 'status' AS status FROM oms.orders o, oms.set_order_status(o.id, 'awaiting_pickup', 'customer collects in Munich') AS s
 WHERE o.external_id = '302-5518842-1190735';

\echo '== The outbox: every change as an event (last 12) =='
SELECT id, kind, order_id, payload FROM oms.events ORDER BY id DESC LIMIT 12;

\echo '== oms.check(): every invariant holds (no rows) =='
SELECT * FROM oms.check();
