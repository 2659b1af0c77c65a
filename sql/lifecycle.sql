--
-- lifecycle: the order state machine as data. Every legal and illegal
-- transition of the seeded table, custom statuses, holds, set_order_status,
-- hold rules, payment terms, history and events, direct UPDATEs, oms.check().
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
INSERT INTO oms.products (sku, name, kind) VALUES ('A', 'Product A', 'stock'), ('B', 'Product B', 'stock'),
    ('S', 'Service S', 'service');
INSERT INTO oms.customers (external_ref, email, name, flags) VALUES
    ('plain-1', 'plain@example.com', 'Plain', '{}'),
    ('terms-1', 'terms@example.com', 'On terms', '{terms}'),
    ('cb-1', 'chargeback@example.com', 'Had a chargeback', '{chargeback}');
SELECT oms.receive_stock('A', 'BER', 100) IS NOT NULL AS a_received, oms.receive_stock('B', 'BER', 5) IS NOT NULL AS b_received;

-- what the tests show of an order document: no timestamps
CREATE OR REPLACE FUNCTION doc(j jsonb) RETURNS jsonb LANGUAGE sql AS
$$ SELECT j - 'placed_at' - 'expires_at' $$;
-- place a one-line order of A; extra keys are merged into the document
CREATE OR REPLACE FUNCTION place(ext text, extra jsonb DEFAULT '{}') RETURNS bigint LANGUAGE sql AS
$$ SELECT (oms.place_order(jsonb_build_object('channel', 'web', 'external_id', ext, 'currency', 'EUR',
       'lines', jsonb_build_array(jsonb_build_object('sku', 'A', 'qty', 1, 'unit_price', 10))) || extra) ->> 'order_id')::bigint $$;
CREATE OR REPLACE FUNCTION oid_of(ext text) RETURNS bigint LANGUAGE sql AS
$$ SELECT id FROM oms.orders WHERE external_id = ext $$;
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
       (SELECT count(*) FROM oms.order_status_history) AS history,
       (SELECT count(*) FROM oms.events) AS events,
       (SELECT count(*) FROM oms.reservations WHERE status = 'active') AS active_reservations,
       (SELECT string_agg(status || '=' || n, ' ' ORDER BY status) FROM
           (SELECT status, count(*) AS n FROM oms.orders GROUP BY 1) s) AS statuses;

-- ---------------------------------------------------------------------------
-- the seeded vocabulary
-- ---------------------------------------------------------------------------
SELECT status, initial, final, seeded,
       (SELECT string_agg(t.to_status, ', ' ORDER BY t.to_status) FROM oms.order_transitions t WHERE t.from_status = s.status) AS allowed_targets
  FROM oms.order_statuses s ORDER BY status;
SELECT count(*) AS transitions, bool_and(seeded) AS all_seeded FROM oms.order_transitions;

-- ---------------------------------------------------------------------------
-- the whole matrix: for every (from, to) pair of seeded statuses, an order is
-- put into "from" with the trigger bypassed (session_replication_role =
-- replica), then a plain UPDATE to "to" is attempted with the trigger on.
-- Each attempt runs in a subtransaction that is rolled back. Changes into
-- cancelled and expired are in the table but release stock and payments, so
-- a direct UPDATE of them is refused ("oms only": oms.cancel_order and
-- expiry make them); every other allowed change goes through. The order is
-- of a service only: it holds no stock and ships nothing, so the status
-- rules (sql/status_rules.sql) stay out of the way and the matrix shows the
-- transition table alone. Its total is zero, so that it is always covered
-- and the coverage rule (sql/coverage.sql) stays out of the way too.
-- ---------------------------------------------------------------------------
SELECT place('MATRIX', '{"lines": [{"sku": "S", "qty": 1, "unit_price": 0}]}') AS matrix_order;
SELECT * FROM counts;
CREATE TEMP TABLE matrix (from_status text, to_status text, outcome text);
DO $$
DECLARE
    f text;
    t text;
    o bigint := oid_of('MATRIX');
    res text;
    st text;
    det text;
    hnt text;
    msg text;
BEGIN
    FOR f IN SELECT status FROM oms.order_statuses ORDER BY status LOOP
        FOR t IN SELECT status FROM oms.order_statuses WHERE status <> f ORDER BY status LOOP
            BEGIN
                PERFORM set_config('session_replication_role', 'replica', true);
                UPDATE oms.orders SET status = f WHERE id = o;
                PERFORM set_config('session_replication_role', 'origin', true);
                BEGIN
                    UPDATE oms.orders SET status = t WHERE id = o;
                    -- an allowed change writes one history row ending at t
                    IF (SELECT to_status FROM oms.order_status_history WHERE order_id = o ORDER BY id DESC LIMIT 1) = t THEN
                        res := 'allowed';
                    ELSE
                        res := 'allowed without history';
                    END IF;
                EXCEPTION WHEN OTHERS THEN
                    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT,
                                            msg = MESSAGE_TEXT;
                    res := CASE WHEN st = '55000' AND det = format('from %s to %s', f, t) AND msg LIKE '%directly'
                                THEN 'oms only'
                                WHEN st = '55000' AND det = format('from %s to %s', f, t) THEN 'rejected'
                                ELSE format('rejected %s %s %s', st, det, hnt) END;
                END;
                RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = res;
            EXCEPTION WHEN raise_exception THEN
                GET STACKED DIAGNOSTICS res = MESSAGE_TEXT;
            END;
            INSERT INTO matrix VALUES (f, t, res);
        END LOOP;
    END LOOP;
END
$$;
-- nothing stayed: same counts, the order is still pending_payment
SELECT * FROM counts;
SELECT count(*) AS pairs, count(*) FILTER (WHERE outcome = 'allowed') AS allowed,
       count(*) FILTER (WHERE outcome = 'oms only') AS oms_only,
       count(*) FILTER (WHERE outcome = 'rejected') AS rejected FROM matrix;
SELECT * FROM matrix WHERE outcome NOT IN ('allowed', 'oms only', 'rejected');
-- the trigger allows exactly oms.order_transitions (directly, or through oms
-- for cancelled and expired): both differences are empty
SELECT from_status, to_status FROM matrix WHERE outcome IN ('allowed', 'oms only')
EXCEPT SELECT from_status, to_status FROM oms.order_transitions;
SELECT from_status, to_status FROM oms.order_transitions
EXCEPT SELECT from_status, to_status FROM matrix WHERE outcome IN ('allowed', 'oms only');
-- and "oms only" is exactly the transitions into cancelled and expired
SELECT from_status, to_status FROM matrix WHERE outcome = 'oms only'
EXCEPT SELECT from_status, to_status FROM oms.order_transitions WHERE to_status IN ('cancelled', 'expired');
SELECT from_status, to_status FROM oms.order_transitions WHERE to_status IN ('cancelled', 'expired')
EXCEPT SELECT from_status, to_status FROM matrix WHERE outcome = 'oms only';
-- the matrix: one row per from status, one column per to status, lettered
-- as the rows are ("x" allowed, "o" through oms only, "." rejected, "-" the
-- status itself)
SELECT chr(96 + s.n::int) AS letter, s.status AS from_status,
       string_agg(CASE WHEN m.outcome = 'allowed' THEN 'x' WHEN m.outcome = 'oms only' THEN 'o'
                       WHEN m.outcome = 'rejected' THEN '.' ELSE '-' END, ' ' ORDER BY t.n) AS "a b c d e f g h i j k l m"
  FROM (SELECT status, row_number() OVER (ORDER BY status) AS n FROM oms.order_statuses) s
 CROSS JOIN (SELECT status, row_number() OVER (ORDER BY status) AS n FROM oms.order_statuses) t
  LEFT JOIN matrix m ON m.from_status = s.status AND m.to_status = t.status
 GROUP BY s.n, s.status ORDER BY s.n;

-- a few rejections in full: SQLSTATE 55000, detail "from X to Y", the hint
-- lists the allowed targets (or says there are none)
UPDATE oms.orders SET status = 'shipped' WHERE id = oid_of('MATRIX');
SELECT try($$UPDATE oms.orders SET status = 'delivered' WHERE external_id = 'MATRIX'$$) AS sqlstate_and_message;
SET session_replication_role = replica;
UPDATE oms.orders SET status = 'cancelled' WHERE id = oid_of('MATRIX');
SET session_replication_role = origin;
UPDATE oms.orders SET status = 'confirmed' WHERE id = oid_of('MATRIX');
SET session_replication_role = replica;
UPDATE oms.orders SET status = 'partially_shipped' WHERE id = oid_of('MATRIX');
SET session_replication_role = origin;
UPDATE oms.orders SET status = 'delivered' WHERE id = oid_of('MATRIX');
-- the same status again is no change at all: no history row, no event
UPDATE oms.orders SET status = 'partially_shipped' WHERE id = oid_of('MATRIX');
-- bypassing the trigger leaves the status out of step with the history, and
-- oms.check() says so
SELECT * FROM oms.check();
-- repair: back to where the history ends
SET session_replication_role = replica;
UPDATE oms.orders SET status = 'pending_payment' WHERE id = oid_of('MATRIX');
SET session_replication_role = origin;
SELECT * FROM oms.check();
SELECT * FROM counts;

-- ---------------------------------------------------------------------------
-- a custom status, added with plain INSERTs, is usable at once in the same
-- session: the transition cache is refreshed. The order is of a service
-- only, so that the status rules (sql/status_rules.sql) let it reach
-- delivered and completed by hand.
-- ---------------------------------------------------------------------------
SELECT place('PICKUP', '{"lines": [{"sku": "S", "qty": 1, "unit_price": 10}]}') AS pickup_order;
-- paid at once: the authorization confirms it
SELECT oms.authorize_payment(oid_of('PICKUP'), '{"method": "cash", "amount": 10}') ->> 'order_status' AS confirmed;
-- not there yet (this also loads the cache in this session)
SELECT oms.set_order_status(oid_of('PICKUP'), 'ready_for_pickup');
INSERT INTO oms.order_statuses (status, description) VALUES ('ready_for_pickup', 'Waiting at the store counter');
-- the status exists, but no transition leads there yet
SELECT oms.set_order_status(oid_of('PICKUP'), 'ready_for_pickup');
INSERT INTO oms.order_transitions (from_status, to_status) VALUES
    ('confirmed', 'ready_for_pickup'), ('ready_for_pickup', 'completed'), ('ready_for_pickup', 'cancelled');
SELECT doc(oms.set_order_status(oid_of('PICKUP'), 'ready_for_pickup', 'customer collects')) - 'lines' AS ready;
-- the hint lists the new targets
SELECT oms.set_order_status(oid_of('PICKUP'), 'shipped');
-- a transition inserted and rolled back is forgotten again
BEGIN;
INSERT INTO oms.order_transitions (from_status, to_status) VALUES ('ready_for_pickup', 'delivered');
SELECT oms.set_order_status(oid_of('PICKUP'), 'delivered') ->> 'status' AS inside_the_transaction;
ROLLBACK;
SELECT oms.set_order_status(oid_of('PICKUP'), 'delivered');
-- ... also when only a savepoint is rolled back
BEGIN;
SAVEPOINT s;
INSERT INTO oms.order_transitions (from_status, to_status) VALUES ('ready_for_pickup', 'delivered');
ROLLBACK TO SAVEPOINT s;
SELECT try($$SELECT oms.set_order_status(oid_of('PICKUP'), 'delivered')$$) AS after_savepoint_rollback;
COMMIT;
-- a deleted transition is refused from then on
DELETE FROM oms.order_transitions WHERE from_status = 'ready_for_pickup' AND to_status = 'completed';
SELECT oms.set_order_status(oid_of('PICKUP'), 'completed');
SELECT doc(oms.set_order_status(oid_of('PICKUP'), 'cancelled', 'never collected')) -> 'status' AS pickup_cancelled;
SELECT from_status, to_status, reason FROM oms.order_history(oid_of('PICKUP'));
-- the vocabulary's own guards
INSERT INTO oms.order_statuses (status, description) VALUES ('Bad Name', 'x');
INSERT INTO oms.order_transitions (from_status, to_status) VALUES ('confirmed', 'confirmed');
INSERT INTO oms.order_transitions (from_status, to_status) VALUES ('confirmed', 'nowhere');

-- ---------------------------------------------------------------------------
-- holds: release returns to the status before the hold
-- ---------------------------------------------------------------------------
SELECT place('HOLD-1') AS hold_1;
SELECT oms.hold_order(oid_of('HOLD-1'), 'address check') ->> 'status' AS held;
SELECT status, held_from FROM oms.orders WHERE external_id = 'HOLD-1';
-- a second hold is a no-op that says so
SELECT oms.hold_order(oid_of('HOLD-1'), 'again') ->> 'note' AS second_hold;
SELECT count(*) AS hold_history_rows FROM oms.order_status_history WHERE order_id = oid_of('HOLD-1');
SELECT oms.release_hold(oid_of('HOLD-1')) ->> 'status' AS released;
SELECT status, held_from, expires_at IS NOT NULL AS still_expires FROM oms.orders WHERE external_id = 'HOLD-1';
-- from confirmed: back to confirmed
SELECT place('HOLD-2') AS hold_2;
SELECT oms.authorize_payment(oid_of('HOLD-2'), '{"method": "check", "amount": 10}') ->> 'order_status' AS confirmed;
SELECT status, expires_at IS NULL AS hold_cleared FROM oms.orders WHERE external_id = 'HOLD-2';
SELECT oms.set_order_status(oid_of('HOLD-2'), 'on_hold', 'manual review') ->> 'status' AS held;
SELECT status, held_from FROM oms.orders WHERE external_id = 'HOLD-2';
SELECT oms.release_hold(oid_of('HOLD-2')) ->> 'status' AS released;
SELECT status, held_from, expires_at IS NULL AS hold_cleared FROM oms.orders WHERE external_id = 'HOLD-2';
-- release when not held
SELECT oms.release_hold(oid_of('HOLD-2'));
-- hold errors: each raises, nothing changes
SELECT oms.set_order_status(oid_of('HOLD-2'), 'in_fulfillment') ->> 'status' AS picking;
SELECT * FROM counts;
SELECT oms.hold_order(oid_of('HOLD-2'), '');
SELECT oms.hold_order(oid_of('HOLD-2'), NULL);
SELECT oms.hold_order(oid_of('PICKUP'), 'too late');
SELECT oms.release_hold(oid_of('HOLD-2'));
-- their SQLSTATEs
SELECT label, try(stmt) AS sqlstate_and_message FROM (VALUES
    ('empty reason',        $$SELECT oms.hold_order(oid_of('HOLD-2'), '')$$),
    ('blank reason',        $$SELECT oms.hold_order(oid_of('HOLD-2'), E' \t\n')$$),
    ('NULL reason',         $$SELECT oms.hold_order(oid_of('HOLD-2'), NULL)$$),
    ('NULL order',          $$SELECT oms.hold_order(NULL, 'x')$$),
    ('unknown order',       $$SELECT oms.hold_order(987654, 'x')$$),
    ('card number reason',  $$SELECT oms.hold_order(oid_of('HOLD-2'), 'card 4111 1111 1111 1111')$$),
    ('hold a closed order', $$SELECT oms.hold_order(oid_of('PICKUP'), 'too late')$$),
    ('release NULL',        $$SELECT oms.release_hold(NULL)$$),
    ('release unknown',     $$SELECT oms.release_hold(987654)$$),
    ('release not held',    $$SELECT oms.release_hold(oid_of('HOLD-2'))$$)) AS t(label, stmt);
SELECT * FROM counts;
SELECT from_status, to_status, reason FROM oms.order_history(oid_of('HOLD-2'));

-- ---------------------------------------------------------------------------
-- set_order_status errors: each raises, nothing changes
-- ---------------------------------------------------------------------------
SELECT place('SET-1') AS set_1;
SELECT * FROM counts;
SELECT oms.set_order_status(987654, 'confirmed');
SELECT oms.set_order_status(oid_of('SET-1'), 'paid');
SELECT oms.set_order_status(oid_of('SET-1'), 'expired');
SELECT oms.set_order_status(oid_of('SET-1'), 'backordered');
SELECT oms.set_order_status(NULL, 'confirmed');
SELECT oms.set_order_status(oid_of('SET-1'), NULL);
SELECT oms.set_order_status(oid_of('SET-1'), 'shipped');
-- their SQLSTATEs
SELECT label, try(stmt) AS sqlstate_and_message FROM (VALUES
    ('unknown order',       $$SELECT oms.set_order_status(987654, 'confirmed')$$),
    ('unknown status',      $$SELECT oms.set_order_status(oid_of('SET-1'), 'paid')$$),
    ('case matters',        $$SELECT oms.set_order_status(oid_of('SET-1'), 'CONFIRMED')$$),
    ('expired',             $$SELECT oms.set_order_status(oid_of('SET-1'), 'expired')$$),
    ('backordered',         $$SELECT oms.set_order_status(oid_of('SET-1'), 'backordered')$$),
    ('NULL order',          $$SELECT oms.set_order_status(NULL, 'confirmed')$$),
    ('NULL status',         $$SELECT oms.set_order_status(oid_of('SET-1'), NULL)$$),
    ('both NULL',           $$SELECT oms.set_order_status(NULL, NULL)$$),
    ('card number reason',  $$SELECT oms.set_order_status(oid_of('SET-1'), 'confirmed', '4242-4242-4242-4242')$$),
    ('shipped',             $$SELECT oms.set_order_status(oid_of('SET-1'), 'shipped')$$),
    ('delivered',           $$SELECT oms.set_order_status(oid_of('SET-1'), 'delivered')$$),
    ('completed',           $$SELECT oms.set_order_status(oid_of('SET-1'), 'completed')$$),
    ('returned',            $$SELECT oms.set_order_status(oid_of('SET-1'), 'returned')$$),
    ('in_fulfillment',      $$SELECT oms.set_order_status(oid_of('SET-1'), 'in_fulfillment')$$)) AS t(label, stmt);
SELECT * FROM counts;
-- the same status is a no-op that says so
SELECT oms.set_order_status(oid_of('SET-1'), 'pending_payment') ->> 'note' AS same_status;
SELECT * FROM counts;

-- set_order_status 'cancelled' takes the full cancel path: reservations
-- released, stock back, the reason recorded
SELECT sum(reserved) AS reserved_before FROM oms.stock_balances;
SELECT doc(oms.set_order_status(oid_of('SET-1'), 'cancelled', 'duplicate order')) - 'lines' AS cancelled;
SELECT status, cancel_reason, expires_at IS NULL AS hold_cleared FROM oms.orders WHERE external_id = 'SET-1';
SELECT r.status, r.qty FROM oms.reservations r WHERE r.order_id = oid_of('SET-1');
SELECT sum(reserved) AS reserved_after FROM oms.stock_balances;
SELECT oms.set_order_status(oid_of('SET-1'), 'cancelled') ->> 'note' AS cancel_again;
SELECT oms.set_order_status(oid_of('SET-1'), 'confirmed');

-- ---------------------------------------------------------------------------
-- hold rules at placement, payment terms
-- ---------------------------------------------------------------------------
SELECT flag, reason, active, seeded FROM oms.hold_rules ORDER BY flag;
-- an order flag listed in hold_rules
SELECT place('FRAUD-1', '{"flags": ["fraud_review"]}') AS fraud_1;
SELECT status, held_from FROM oms.orders WHERE external_id = 'FRAUD-1';
SELECT from_status, to_status, reason FROM oms.order_history(oid_of('FRAUD-1'));
-- a customer flag: not a rule yet
SELECT place('CB-1', '{"customer": {"external_ref": "cb-1"}}') AS cb_1;
SELECT status FROM oms.orders WHERE external_id = 'CB-1';
INSERT INTO oms.hold_rules (flag, reason) VALUES ('chargeback', 'customer had a chargeback');
SELECT place('CB-2', '{"customer": {"external_ref": "cb-1"}}') AS cb_2;
SELECT status, held_from FROM oms.orders WHERE external_id = 'CB-2';
SELECT from_status, to_status, reason FROM oms.order_history(oid_of('CB-2'));
-- an inactive rule is ignored
UPDATE oms.hold_rules SET active = false WHERE flag = 'chargeback';
SELECT place('CB-3', '{"customer": {"external_ref": "cb-1"}}') AS cb_3;
SELECT status FROM oms.orders WHERE external_id = 'CB-3';
-- a customer on payment terms is confirmed at placement: nothing expires
SELECT place('TERMS-1', '{"customer": {"external_ref": "terms-1"}}') AS terms_1;
SELECT status, expires_at IS NULL AS hold_cleared FROM oms.orders WHERE external_id = 'TERMS-1';
SELECT from_status, to_status, reason FROM oms.order_history(oid_of('TERMS-1'));
-- terms and a hold flag: confirmed, then held; release returns to confirmed
SELECT place('TERMS-2', '{"customer": {"external_ref": "terms-1"}, "flags": ["fraud_review"]}') AS terms_2;
SELECT status, held_from, expires_at IS NULL AS hold_cleared FROM oms.orders WHERE external_id = 'TERMS-2';
SELECT oms.release_hold(oid_of('TERMS-2')) ->> 'status' AS released;
SELECT from_status, to_status, reason FROM oms.order_history(oid_of('TERMS-2'));
-- the rule's flag must look like a flag
INSERT INTO oms.hold_rules (flag, reason) VALUES ('Fraud Review', 'x');

-- ---------------------------------------------------------------------------
-- the history and the status events of one order
-- ---------------------------------------------------------------------------
SELECT from_status, to_status, reason, actor = session_user AS actor_is_session_user
  FROM oms.order_history(oid_of('HOLD-2'));
SELECT kind, payload FROM oms.events WHERE order_id = oid_of('HOLD-2') ORDER BY id;
SELECT * FROM oms.order_history(NULL);

-- ---------------------------------------------------------------------------
-- a direct UPDATE by an oms_admin login: the trigger decides
-- ---------------------------------------------------------------------------
CREATE ROLE regress_lifecycle_admin IN ROLE oms_admin;
SET ROLE regress_lifecycle_admin;
UPDATE oms.orders SET status = 'delivered' WHERE external_id = 'HOLD-2';
UPDATE oms.orders SET status = 'pending_payment' WHERE external_id = 'HOLD-2';
-- an allowed change goes through (the trigger writes history and events on
-- its own authority; the actor is the login role, session_user)
UPDATE oms.orders SET status = 'confirmed' WHERE external_id = 'HOLD-2';
-- cancelling by hand would skip releasing stock and payments: refused
UPDATE oms.orders SET status = 'cancelled' WHERE external_id = 'HOLD-2';
RESET ROLE;
SELECT from_status, to_status, actor = session_user AS actor_is_login_role FROM oms.order_history(oid_of('HOLD-2')) ORDER BY at DESC LIMIT 1;
DROP ROLE regress_lifecycle_admin;
SELECT status FROM oms.orders WHERE external_id = 'HOLD-2';

-- ---------------------------------------------------------------------------
-- a reason given to a call that failed (and was caught by a savepoint) is
-- not written into the history of a later change
-- ---------------------------------------------------------------------------
SELECT place('REASON-1') IS NOT NULL AS placed;
BEGIN;
SAVEPOINT s;
SELECT oms.set_order_status(oid_of('REASON-1'), 'in_fulfillment', 'stale reason');
ROLLBACK TO SAVEPOINT s;
SELECT oms.authorize_payment(oid_of('REASON-1'), '{"method": "cash", "amount": 10}') ->> 'order_status' AS status;
UPDATE oms.orders SET status = 'in_fulfillment' WHERE external_id = 'REASON-1';
COMMIT;
SELECT from_status, to_status, reason FROM oms.order_history(oid_of('REASON-1'));

-- ---------------------------------------------------------------------------
-- cancelling a held order is a cancellation (its event, its message), not a
-- release; a release back to a status is order_hold_released
-- ---------------------------------------------------------------------------
SELECT place('HOLD-CANCEL') IS NOT NULL AS placed;
SELECT oms.hold_order(oid_of('HOLD-CANCEL'), 'address check') ->> 'status' AS status;
SELECT oms.cancel_order(oid_of('HOLD-CANCEL'), 'address does not exist') ->> 'status' AS status;
SELECT kind, payload ->> 'from' AS from_status, payload ->> 'to' AS to_status
  FROM oms.events WHERE order_id = oid_of('HOLD-CANCEL') ORDER BY id;

SELECT * FROM counts;
SELECT * FROM oms.check();
DROP FUNCTION doc(jsonb), place(text, jsonb), oid_of(text), try(text);
