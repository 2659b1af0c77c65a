--
-- events: the transactional outbox. What each business action writes, and
-- the consumer API: batches, acknowledgement, redelivery of unacknowledged
-- batches, independent consumers. (That an event of a transaction still
-- open is not delivered before it commits needs two sessions: the
-- isolation specs cover it.)
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
INSERT INTO oms.products (sku, name, kind) VALUES ('A', 'Product A', 'stock'), ('B', 'Product B', 'stock');
INSERT INTO oms.customers (external_ref, email, name, flags) VALUES ('ann', 'ann@example.com', 'Ann', '{}');
SELECT oms.receive_stock('A', 'BER', 10) IS NOT NULL AS received;

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
CREATE OR REPLACE FUNCTION oid_of(ext text) RETURNS bigint LANGUAGE sql AS
$$ SELECT id FROM oms.orders WHERE external_id = ext $$;
CREATE VIEW counts AS
SELECT (SELECT count(*) FROM oms.events) AS events,
       (SELECT string_agg(consumer || ' delivered ' || delivered_id || ' acked ' || acked_id, ', ' ORDER BY consumer)
          FROM oms.event_consumers) AS consumers;

-- a receipt writes no event (no reorder point is set)
SELECT * FROM counts;

-- ---------------------------------------------------------------------------
-- what the business actions write
-- ---------------------------------------------------------------------------
-- placement
SELECT oms.place_order('{"channel": "web", "external_id": "E-1", "currency": "EUR", "customer": {"external_ref": "ann"},
    "lines": [{"sku": "A", "qty": 2, "unit_price": 10}]}') ->> 'status' AS e1;
SELECT id, kind, order_id, payload FROM oms.events ORDER BY id;
-- payments and confirmation: authorize, capture, refund, void
SELECT oms.authorize_payment(oid_of('E-1'), '{"method": "card", "amount": 20, "token": "tok_e1"}') ->> 'order_status' AS e1_status;
SELECT oms.capture_payment(p.id, 15) ->> 'status' AS captured FROM oms.payments p WHERE p.order_id = oid_of('E-1');
SELECT oms.refund_payment(p.id, 5, 'scratched') ->> 'status' AS refunded FROM oms.payments p WHERE p.order_id = oid_of('E-1');
SELECT oms.void_payment(p.id) ->> 'status' AS voided FROM oms.payments p WHERE p.order_id = oid_of('E-1');
SELECT id, kind, order_id, payload FROM oms.events WHERE id > 1 ORDER BY id;
-- hold and release
SELECT oms.hold_order(oid_of('E-1'), 'address check') ->> 'status' AS held;
SELECT oms.release_hold(oid_of('E-1')) ->> 'status' AS released;
SELECT id, kind, order_id, payload FROM oms.events WHERE id > 6 ORDER BY id;
-- cancel (the remaining capture is refunded)
SELECT oms.cancel_order(oid_of('E-1'), 'customer asked') -> 'payments' AS payments;
SELECT id, kind, order_id, payload FROM oms.events WHERE id > 8 ORDER BY id;
-- a backorder, then its fill by a receipt
SELECT oms.place_order('{"channel": "web", "external_id": "E-2", "currency": "EUR", "policy": "backorder",
    "lines": [{"sku": "B", "qty": 3, "unit_price": 4}]}') ->> 'status' AS e2;
SELECT oms.receive_stock('B', 'BER', 5) -> 'backorders_filled' AS filled;
SELECT id, kind, order_id, payload FROM oms.events WHERE id > 11 ORDER BY id;
SELECT status FROM oms.orders WHERE external_id = 'E-2';
SELECT * FROM counts;

-- ---------------------------------------------------------------------------
-- consumers: batches in order, acknowledged positions
-- ---------------------------------------------------------------------------
SELECT id, kind, order_id FROM oms.read_events('mailer', 5);
SELECT * FROM counts;
-- the next batch follows on, whether or not the first was acknowledged
SELECT id, kind, order_id FROM oms.read_events('mailer', 5);
SELECT oms.ack_events('mailer', 10) AS acked;
SELECT * FROM counts;
-- acknowledging again, or an earlier id, changes nothing
SELECT oms.ack_events('mailer', 10) AS acked_again, oms.ack_events('mailer', 3) AS acked_earlier;
-- the rest, then nothing
SELECT id, kind, order_id FROM oms.read_events('mailer');
SELECT id, kind, order_id FROM oms.read_events('mailer');
SELECT oms.ack_events('mailer', max(id)::bigint) AS acked FROM oms.events;
SELECT * FROM counts;
-- a new event: not delivered to the consumer until it reads again
SELECT oms.place_order('{"channel": "web", "external_id": "E-3", "currency": "EUR", "lines": [{"sku": "A", "qty": 1, "unit_price": 10}]}') ->> 'status' AS e3;

-- bad input: each raises, nothing changes
SELECT * FROM counts;
SELECT oms.read_events('mailer', 0);
SELECT oms.read_events('mailer', 10001);
SELECT oms.read_events(NULL);
SELECT oms.ack_events('mailer', 15);
SELECT oms.ack_events('mailer', 987654);
SELECT oms.ack_events('nobody', 1);
SELECT label, try(stmt) AS sqlstate_and_message FROM (VALUES
    ('max 0',                $$SELECT oms.read_events('mailer', 0)$$),
    ('max -1',               $$SELECT oms.read_events('mailer', -1)$$),
    ('max 10001',            $$SELECT oms.read_events('mailer', 10001)$$),
    ('max NULL',             $$SELECT oms.read_events('mailer', NULL)$$),
    ('consumer NULL',        $$SELECT oms.read_events(NULL)$$),
    ('ack not delivered',    $$SELECT oms.ack_events('mailer', 15)$$),
    ('ack no such event',    $$SELECT oms.ack_events('mailer', 987654)$$),
    ('ack unknown consumer', $$SELECT oms.ack_events('nobody', 1)$$),
    ('ack NULL consumer',    $$SELECT oms.ack_events(NULL, 1)$$),
    ('ack NULL id',          $$SELECT oms.ack_events('mailer', NULL)$$)) AS t(label, stmt);
SELECT * FROM counts;
SELECT id, kind, order_id, payload FROM oms.read_events('mailer');
SELECT oms.ack_events('mailer', 15) AS acked;
SELECT * FROM counts;
-- the largest batch is allowed
SELECT count(*) AS batch_of_10000 FROM oms.read_events('bulk', 10000);
SET oms.event_redelivery_seconds = 0;

-- ---------------------------------------------------------------------------
-- redelivery: a batch not acknowledged in time is delivered again
-- ---------------------------------------------------------------------------
SELECT id, kind FROM oms.read_events('erp', 4);
SELECT oms.ack_events('erp', 2) AS acked;
SELECT id, kind FROM oms.read_events('erp', 2);
-- not yet due (300 seconds by default): the read goes on after the batch
SELECT id, kind FROM oms.read_events('erp', 2);
SET oms.event_redelivery_seconds = 1;
SELECT pg_sleep(1.5);
-- due: the read starts again after the acknowledged position
SELECT id, kind FROM oms.read_events('erp', 3);
SELECT oms.ack_events('erp', 5) AS acked;
SELECT id, kind FROM oms.read_events('erp', 3);
RESET oms.event_redelivery_seconds;

-- ---------------------------------------------------------------------------
-- consumers are independent: each gets every event once, in the same order
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE got (consumer text, n int, id bigint);
INSERT INTO got SELECT 'audit', e.n, e.id FROM oms.read_events('audit', 10000) WITH ORDINALITY AS e(id, at, xid, kind, order_id, payload, n);
INSERT INTO got SELECT 'warehouse', e.n, e.id FROM oms.read_events('warehouse', 7) WITH ORDINALITY AS e(id, at, xid, kind, order_id, payload, n);
INSERT INTO got SELECT 'warehouse', 7 + e.n, e.id FROM oms.read_events('warehouse', 10000) WITH ORDINALITY AS e(id, at, xid, kind, order_id, payload, n);
SELECT consumer, count(*) AS events, count(DISTINCT id) AS distinct_events FROM got GROUP BY 1 ORDER BY 1;
SELECT (SELECT count(*) FROM oms.events) AS in_outbox,
       (SELECT count(*) FROM got a JOIN got w ON w.id = a.id AND w.n = a.n
         WHERE a.consumer = 'audit' AND w.consumer = 'warehouse') AS same_position_in_both;
SELECT * FROM counts;

-- low_stock: when a product's availability over active locations falls to
-- its reorder point, once when it crosses (not again while it stays below);
-- a product without a reorder point never raises it
INSERT INTO oms.products (sku, name, reorder_point, reorder_qty) VALUES ('LOW', 'Watched', 5, 20), ('UNWATCHED', 'Not watched', 0, 0);
SELECT oms.receive_stock('LOW', 'BER', 8) IS NOT NULL AS received, oms.receive_stock('UNWATCHED', 'BER', 8) IS NOT NULL AS received_too;
SELECT oms.place_order('{"channel": "web", "external_id": "LOW-1", "currency": "EUR",
    "lines": [{"sku": "LOW", "qty": 2, "unit_price": 1}, {"sku": "UNWATCHED", "qty": 7, "unit_price": 1}]}') ->> 'status' AS six_left;
SELECT count(*) AS low_stock_events FROM oms.events WHERE kind = 'low_stock';
SELECT oms.place_order('{"channel": "web", "external_id": "LOW-2", "currency": "EUR",
    "lines": [{"sku": "LOW", "qty": 2, "unit_price": 1}]}') ->> 'status' AS four_left;
SELECT oms.place_order('{"channel": "web", "external_id": "LOW-3", "currency": "EUR",
    "lines": [{"sku": "LOW", "qty": 1, "unit_price": 1}]}') ->> 'status' AS three_left;
SELECT payload FROM oms.events WHERE kind = 'low_stock' ORDER BY id;
-- a cycle count and a safety stock increase are decreases of availability too
SELECT oms.receive_stock('LOW', 'BER', 10) -> 'balance' ->> 'available' AS refilled;
SELECT oms.adjust_stock('LOW', 'BER', 8, 'shrinkage') ->> 'delta' AS counted_down;
SELECT oms.set_safety_stock('UNWATCHED', 'BER', 1) ->> 'previous_safety_stock' AS unwatched_safety;
SELECT payload ->> 'sku' AS sku, payload ->> 'available' AS available FROM oms.events WHERE kind = 'low_stock' ORDER BY id;

-- consumer names are validated
SELECT try($$SELECT count(*) FROM oms.read_events('bad name!', 1)$$) AS bad_name,
       try($$SELECT count(*) FROM oms.read_events('', 1)$$) AS empty_name,
       try($$SELECT oms.ack_events('-dash', 1)$$) AS leading_dash;

DROP FUNCTION try(text), oid_of(text);
