--
-- coverage: a void recomputes coverage (issue 13, breach 4) and totals
-- follow the units owed (breach 5), with their oms.check() invariant
-- (order_total_owed) shown to fail on a planted breach.
-- Every error is locked in with its SQLSTATE, and changes nothing.
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
INSERT INTO oms.products (sku, name, kind) VALUES ('A', 'Product A', 'stock'), ('B', 'Product B', 'stock');
INSERT INTO oms.customers (external_ref, email, name, flags) VALUES
    ('ann', 'ann@example.com', 'Ann', '{}'),
    ('corp', 'ap@corp.example.com', 'Corp Ltd', '{terms}');
SELECT oms.receive_stock('A', 'BER', 100) IS NOT NULL AS received;
SELECT oms.receive_stock('B', 'BER', 1) IS NOT NULL AS received;

CREATE FUNCTION place(ext text, price numeric, extra jsonb DEFAULT '{}') RETURNS bigint LANGUAGE sql AS
$$ SELECT (oms.place_order(jsonb_build_object('channel', 'web', 'external_id', ext, 'currency', 'EUR',
       'lines', jsonb_build_array(jsonb_build_object('sku', 'A', 'qty', 1, 'unit_price', price))) || extra) ->> 'order_id')::bigint $$;
CREATE FUNCTION oid_of(ext text) RETURNS bigint LANGUAGE sql AS
$$ SELECT id FROM oms.orders WHERE external_id = ext $$;
CREATE FUNCTION pay_of(ext text, n int DEFAULT 1) RETURNS bigint LANGUAGE sql AS
$$ SELECT p.id FROM oms.payments p JOIN oms.orders o ON o.id = p.order_id WHERE o.external_id = ext ORDER BY p.id OFFSET n - 1 LIMIT 1 $$;
CREATE FUNCTION card(amount numeric) RETURNS jsonb LANGUAGE sql AS
$$ SELECT jsonb_build_object('method', 'card', 'amount', amount, 'token', 'tok_visa') $$;
CREATE FUNCTION try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
    det text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    RETURN st || ': ' || msg || ' | ' || det;
END
$$;
-- what an order is: status, hold, whether its reservations expire, totals
CREATE FUNCTION state(ext text) RETURNS text LANGUAGE sql AS
$$ SELECT format('%s held_from=%s expires=%s total=%s paid=%s/%s/%s', o.status, COALESCE(o.held_from, '-'),
                 o.expires_at IS NOT NULL, o.total,
                 (SELECT COALESCE(sum(authorized), 0) FROM oms.payments WHERE order_id = o.id),
                 (SELECT COALESCE(sum(captured), 0) FROM oms.payments WHERE order_id = o.id),
                 (SELECT COALESCE(sum(voided), 0) FROM oms.payments WHERE order_id = o.id))
     FROM oms.orders o WHERE o.external_id = ext $$;
CREATE VIEW counts AS
SELECT (SELECT count(*) FROM oms.order_status_history) AS history,
       (SELECT count(*) FROM oms.events) AS events,
       (SELECT count(*) FROM oms.payment_transactions) AS transactions,
       (SELECT COALESCE(sum(voided), 0) FROM oms.payments) AS voided;

-- ---------------------------------------------------------------------
-- Breach 4: voiding the only authorization of a confirmed order sends it
-- back to pending_payment, with a reason, and its reservations expire
-- again; it can no longer be shipped.
-- ---------------------------------------------------------------------
SELECT place('V-1', 10) IS NOT NULL AS placed;
SELECT oms.authorize_payment(oid_of('V-1'), card(10)) ->> 'order_status' AS after_authorize;
SELECT state('V-1');
SELECT oms.void_payment(pay_of('V-1')) ->> 'order_status' AS after_void;
SELECT state('V-1');
SELECT to_status, reason FROM oms.order_history(oid_of('V-1'));
SELECT kind FROM oms.events WHERE order_id = oid_of('V-1') ORDER BY id;
-- the order waits for payment again: no shipment
SELECT try(format('SELECT oms.create_shipment(%s, %L)', oid_of('V-1'), 'BER'));
-- a new authorization confirms it again
SELECT oms.authorize_payment(oid_of('V-1'), card(10)) ->> 'order_status' AS reauthorized;
SELECT state('V-1');

-- two authorizations: voiding the second leaves 6 of 10 covered: back to
-- pending_payment as well
SELECT place('V-2', 10) IS NOT NULL AS placed;
SELECT oms.authorize_payment(oid_of('V-2'), card(6)) ->> 'order_status' AS first;
SELECT oms.authorize_payment(oid_of('V-2'), card(4)) ->> 'order_status' AS second;
SELECT oms.void_payment(pay_of('V-2', 2)) ->> 'order_status' AS after_void;
SELECT state('V-2');

-- partly captured, then the rest voided: captures count, but 4 of 10 is short
SELECT place('V-3', 10) IS NOT NULL AS placed;
SELECT oms.authorize_payment(oid_of('V-3'), card(10)) ->> 'order_status' AS authorized;
SELECT oms.capture_payment(pay_of('V-3'), 4) ->> 'captured' AS captured;
SELECT oms.void_payment(pay_of('V-3')) ->> 'order_status' AS after_void;
SELECT state('V-3');
SELECT reason FROM oms.order_history(oid_of('V-3')) ORDER BY at DESC, to_status LIMIT 1;

-- fully captured: nothing left to void, the order stays confirmed
SELECT place('V-4', 10) IS NOT NULL AS placed;
SELECT oms.authorize_payment(oid_of('V-4'), card(10)) IS NOT NULL AS authorized;
SELECT oms.capture_payment(pay_of('V-4')) ->> 'captured' AS captured;
SELECT try(format('SELECT oms.void_payment(%s)', pay_of('V-4')));
SELECT state('V-4');

-- a customer on terms is confirmed without payment: a void changes nothing
SELECT place('V-5', 10, '{"customer": {"external_ref": "corp"}}') IS NOT NULL AS placed;
SELECT oms.authorize_payment(oid_of('V-5'), card(10)) IS NOT NULL AS authorized;
SELECT oms.void_payment(pay_of('V-5')) ->> 'order_status' AS after_void;
SELECT state('V-5');

-- on hold from confirmed: the hold stays, the release now returns to
-- pending_payment, and the reservations expire again
SELECT place('V-6', 10) IS NOT NULL AS placed;
SELECT oms.authorize_payment(oid_of('V-6'), card(10)) ->> 'order_status' AS authorized;
SELECT oms.hold_order(oid_of('V-6'), 'address check') ->> 'status' AS held;
SELECT state('V-6');
SELECT oms.void_payment(pay_of('V-6')) ->> 'order_status' AS after_void;
SELECT state('V-6');
SELECT kind, payload ->> 'held_from' AS held_from, payload ->> 'reason' AS reason
  FROM oms.events WHERE order_id = oid_of('V-6') ORDER BY id DESC LIMIT 1;
SELECT oms.release_hold(oid_of('V-6')) ->> 'status' AS released;

-- confirmed with units waiting (policy backorder): back to backordered
SELECT (oms.place_order('{"channel": "web", "external_id": "V-7", "currency": "EUR", "policy": "backorder",
        "lines": [{"sku": "B", "qty": 3, "unit_price": 2}]}') ->> 'status') AS placed;
SELECT oms.authorize_payment(oid_of('V-7'), card(6)) ->> 'order_status' AS authorized;
SELECT oms.void_payment(pay_of('V-7')) ->> 'order_status' AS after_void;
SELECT state('V-7');

-- in fulfillment: a void that would uncover the order is refused (55000)
-- and changes nothing
SELECT place('V-8', 10) IS NOT NULL AS placed;
SELECT oms.authorize_payment(oid_of('V-8'), card(10)) IS NOT NULL AS authorized;
SELECT oms.create_shipment(oid_of('V-8'), 'BER') ->> 'status' AS shipment;
SELECT state('V-8');
SELECT * FROM counts;
SELECT try(format('SELECT oms.void_payment(%s)', pay_of('V-8')));
SELECT * FROM counts;
SELECT state('V-8');
-- no replacement can be authorized while the order is covered; capturing
-- is the way on (cancel_order the way out)
SELECT try(format('SELECT oms.authorize_payment(%s, %L::jsonb)', oid_of('V-8'), card(1)));
SELECT oms.capture_payment(pay_of('V-8')) ->> 'captured' AS captured;
SELECT state('V-8');

-- ---------------------------------------------------------------------
-- Breach 5: under policy partial the total counts only the units owed.
-- C has 1 unit: 1 of 7 is reserved, 6 are cancelled.
-- ---------------------------------------------------------------------
INSERT INTO oms.products (sku, name, kind) VALUES ('C', 'Product C', 'stock');
SELECT oms.receive_stock('C', 'BER', 1) IS NOT NULL AS received;
SELECT d ->> 'status' AS status, d ->> 'total' AS total,
       (SELECT jsonb_agg(jsonb_build_object('sku', l ->> 'sku', 'reserved', l -> 'reserved', 'cancelled', l -> 'cancelled'))
          FROM jsonb_array_elements(d -> 'lines') l) AS lines
  FROM oms.place_order('{"channel": "web", "external_id": "P-1", "currency": "EUR", "policy": "partial",
        "lines": [{"sku": "C", "qty": 7, "unit_price": 1}]}') d;
SELECT subtotal, discount, tax, total FROM oms.orders WHERE id = oid_of('P-1');
-- the customer authorizes 1.00, not 7.00: more is refused
SELECT try(format('SELECT oms.authorize_payment(%s, %L::jsonb)', oid_of('P-1'), card(7)));
SELECT oms.authorize_payment(oid_of('P-1'), card(1)) ->> 'order_status' AS paid;

-- discount and tax shrink in proportion per line; a line with nothing
-- cancelled keeps its amounts exactly
SELECT oms.receive_stock('C', 'BER', 1) IS NOT NULL AS received;
SELECT d ->> 'total' AS total
  FROM oms.place_order('{"channel": "web", "external_id": "P-2", "currency": "EUR", "policy": "partial",
        "lines": [{"sku": "C", "qty": 3, "unit_price": 10, "discount": 1, "tax": 2},
                  {"sku": "A", "qty": 2, "unit_price": 5, "discount": 0.5, "tax": 1.9}]}') d;
SELECT subtotal, discount, tax, total FROM oms.orders WHERE id = oid_of('P-2');
-- nothing cancelled: the totals as given
SELECT d ->> 'total' AS total
  FROM oms.place_order('{"channel": "web", "external_id": "P-3", "currency": "EUR", "policy": "partial",
        "lines": [{"sku": "A", "qty": 3, "unit_price": 10, "discount": 1, "tax": 2}]}') d;

-- the reconciliation report: nothing due beyond the units owed
SELECT order_id = oid_of('P-1') AS p1, total, cancelled_value, amount_due, balance_due, mismatch_reasons
  FROM oms.report_payment_reconciliation WHERE order_id IN (oid_of('P-1'), oid_of('P-2')) ORDER BY order_id;

SELECT * FROM oms.check();

-- ---------------------------------------------------------------------
-- The oracle can fail: order_total_owed, planted directly (the guards
-- stand aside with session_replication_role = replica), rolled back.
-- ---------------------------------------------------------------------
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.orders SET total = 7, subtotal = 7 WHERE id = oid_of('P-1');
SELECT invariant, detail FROM oms.check();
ROLLBACK;
BEGIN;
SET LOCAL session_replication_role = replica;
-- a unit cancelled later without the totals following
UPDATE oms.order_lines SET qty_reserved = qty_reserved - 1, qty_cancelled = qty_cancelled + 1
 WHERE order_id = oid_of('P-3');
SELECT invariant, detail FROM oms.check() WHERE invariant = 'order_total_owed';
ROLLBACK;
-- a terminal order keeps the amounts it closed with
SELECT oms.cancel_order(oid_of('P-3')) ->> 'status' AS cancelled;
SELECT total FROM oms.orders WHERE id = oid_of('P-3');
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------
-- A status that may ship promises coverage (src/lifecycle.c,
-- "Coverage"): payments (authorized - voided) reach the total, or the
-- customer is on terms. Entering such a status uncovered is refused with
-- 55000 for every writer, and changes nothing.
-- ---------------------------------------------------------------------
CREATE VIEW cv_counts AS
SELECT (SELECT count(*) FROM oms.order_status_history) AS history, (SELECT count(*) FROM oms.events) AS events,
       (SELECT count(*) FROM oms.payments) AS payments,
       (SELECT string_agg(external_id || '=' || status, ' ' ORDER BY id) FROM oms.orders WHERE external_id LIKE 'CV-%') AS orders;
SELECT place('CV-1', 10) AS cv1;
SELECT * FROM cv_counts;
-- by hand, unpaid: refused, in full
SELECT oms.set_order_status(oid_of('CV-1'), 'confirmed', 'paid by bank transfer');
-- the same by a direct UPDATE of an oms_admin login, and partly paid
SELECT oms.authorize_payment(oid_of('CV-1'), card(6)) ->> 'order_status' AS six_of_ten;
CREATE ROLE regress_coverage_admin IN ROLE oms_admin;
SET ROLE regress_coverage_admin;
SELECT try($$UPDATE oms.orders SET status = 'confirmed' WHERE external_id = 'CV-1'$$) AS admin_update;
RESET ROLE;
SELECT * FROM cv_counts;
-- a hold does not launder it: on_hold -> confirmed and -> in_fulfillment
-- are refused the same way
SELECT oms.hold_order(oid_of('CV-1'), 'address check') ->> 'status' AS held;
SELECT try($$SELECT oms.set_order_status(oid_of('CV-1'), 'confirmed')$$) AS held_to_confirmed,
       try($$SELECT oms.set_order_status(oid_of('CV-1'), 'in_fulfillment')$$) AS held_to_in_fulfillment;
SELECT oms.release_hold(oid_of('CV-1')) ->> 'status' AS released;
-- the rest paid: the authorization confirms it
SELECT oms.authorize_payment(oid_of('CV-1'), '{"method": "cash", "amount": 4}') ->> 'order_status' AS paid;
-- a zero total is covered: confirmed by hand
SELECT place('CV-2', 0) AS cv2;
SELECT oms.set_order_status(oid_of('CV-2'), 'confirmed', 'free sample') ->> 'status' AS free_sample;
-- a customer who gets terms after placing: confirmed by hand
SELECT place('CV-3', 10, '{"customer": {"external_ref": "ann"}}') AS cv3;
UPDATE oms.customers SET flags = '{terms}' WHERE external_ref = 'ann';
SELECT oms.set_order_status(oid_of('CV-3'), 'confirmed', 'account opened') ->> 'status' AS on_terms;
SELECT * FROM cv_counts;
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------
-- The terms flag cannot be removed while confirmed orders of the
-- customer rely on it (oms.customers_terms_guard, 55000), nor under
-- REPEATABLE READ, where its check could miss orders committed
-- meanwhile. Adding other flags is unaffected.
-- ---------------------------------------------------------------------
UPDATE oms.customers SET flags = '{}' WHERE external_ref = 'ann';
UPDATE oms.customers SET flags = '{terms,vip}' WHERE external_ref = 'ann';
BEGIN ISOLATION LEVEL REPEATABLE READ;
UPDATE oms.customers SET flags = '{}' WHERE external_ref = 'ann';
ROLLBACK;
SELECT external_ref, flags FROM oms.customers WHERE external_ref = 'ann';
-- once the order is paid (an invoice needs the flag: record it first), the
-- flag can go
SELECT oms.authorize_payment(oid_of('CV-3'), '{"method": "invoice", "amount": 10}') ->> 'order_status' AS invoiced;
UPDATE oms.customers SET flags = '{vip}' WHERE external_ref = 'ann';
SELECT external_ref, flags FROM oms.customers WHERE external_ref = 'ann';
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------
-- create_shipment checks coverage once more where goods would leave. The
-- rules above keep a shippable order covered, so the breach is planted
-- (an unpaid order put into confirmed with the guards aside), rolled back.
-- The oracle sees it too: order_coverage.
-- ---------------------------------------------------------------------
SELECT place('CV-4', 10) AS cv4;
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.orders SET status = 'confirmed' WHERE id = oid_of('CV-4');
SET LOCAL session_replication_role = origin;
SELECT invariant, detail FROM oms.check();
SAVEPOINT s;
SELECT oms.create_shipment(oid_of('CV-4'), 'BER');
ROLLBACK TO SAVEPOINT s;
-- held, with confirmed as the status it returns to: the same
SET LOCAL session_replication_role = replica;
UPDATE oms.orders SET status = 'on_hold', held_from = 'confirmed' WHERE id = oid_of('CV-4');
SET LOCAL session_replication_role = origin;
SELECT invariant, detail FROM oms.check();
ROLLBACK;
-- a void planted on a confirmed order (the void path would have moved it
-- back): the oracle reports it
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.payments SET voided = authorized WHERE order_id = oid_of('CV-1');
SELECT invariant, detail FROM oms.check();
ROLLBACK;
SELECT * FROM oms.check();
DROP VIEW cv_counts;
DROP ROLE regress_coverage_admin;
DROP FUNCTION place(text, numeric, jsonb), oid_of(text), pay_of(text, int), card(numeric), try(text), state(text);
