--
-- status_rules: what a status means holds whoever writes (issue 13, breaches
-- 1 and 6). The status trigger (src/lifecycle.c, "Status rules") refuses a
-- fulfillment_driven status reached by hand when the order has stock or kit
-- lines, and a status without holds_stock while the order holds stock; a
-- replay of place_order writes nothing. Every refusal is shown with its
-- SQLSTATE, message, detail and hint, and changes nothing. Then the normal
-- flows, and the planted breach of every invariant of this part of
-- oms.check(): status_holds_no_stock, status_vs_shipments, history_orphan,
-- event_orphan.
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
INSERT INTO oms.products (sku, name, kind) VALUES ('A', 'Product A', 'stock'), ('C', 'Component C', 'stock'),
    ('K', 'Kit of two C', 'kit'), ('S', 'Service S', 'service');
INSERT INTO oms.kit_components SELECT k.id, c.id, 2 FROM oms.products k, oms.products c WHERE k.sku = 'K' AND c.sku = 'C';
SELECT oms.receive_stock('A', 'BER', 100) IS NOT NULL AS a_received, oms.receive_stock('C', 'BER', 100) IS NOT NULL AS c_received;
INSERT INTO oms.carriers (code, name, tracking_url, active) VALUES ('dhl', 'DHL', 'https://dhl.example/{{tracking_number}}', true);
INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days, active)
SELECT id, 'standard', 'Paket', 2, true FROM oms.carriers;
INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
SELECT id, 'EUR', NULL, NULL, 4.99 FROM oms.carrier_services;

CREATE FUNCTION odoc(ext text, lines jsonb, extra jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS
$$ SELECT jsonb_build_object('channel', 'web', 'external_id', ext, 'currency', 'EUR',
       'ship_to', jsonb_build_object('name', 'Ann', 'line1', 'Am Kanal 5', 'postal_code', '14467', 'city', 'Potsdam',
                                     'country', 'DE', 'lat', 52.39, 'lon', 13.06),
       'lines', (SELECT jsonb_agg(jsonb_build_object('sku', l ->> 0, 'qty', (l ->> 1)::int, 'unit_price', 10))
                   FROM jsonb_array_elements(lines) l)) || extra $$;
-- place an order; lines is [[sku, qty], ...] at 10 EUR a unit
CREATE FUNCTION place(ext text, lines jsonb, extra jsonb DEFAULT '{}') RETURNS bigint LANGUAGE sql AS
$$ SELECT (oms.place_order(odoc(ext, lines, extra)) ->> 'order_id')::bigint $$;
CREATE FUNCTION oid_of(ext text) RETURNS bigint LANGUAGE sql AS
$$ SELECT id FROM oms.orders WHERE external_id = ext $$;
CREATE FUNCTION pay(ext text) RETURNS text LANGUAGE sql AS
$$ SELECT oms.capture_payment((oms.authorize_payment(o.id, jsonb_build_object('method', 'card', 'amount', o.total,
       'token', 'tok_' || ext)) ->> 'payment_id')::bigint) ->> 'order_status'
     FROM oms.orders o WHERE o.external_id = ext $$;
-- ship qty units of the order's first line (NULL: everything it holds); the order's status after
CREATE FUNCTION send(ext text, qty int DEFAULT NULL) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    s bigint;
BEGIN
    s := (oms.create_shipment(oid_of(ext), 'BER',
              CASE WHEN qty IS NOT NULL THEN jsonb_build_array(jsonb_build_object('line_no', 1, 'qty', qty)) END)
          ->> 'shipment_id')::bigint;
    RETURN oms.ship(s, 'dhl', 'standard', 'JJD-' || ext || '-' || s) ->> 'order_status';
END
$$;
-- deliver every shipped parcel of the order; the order's status after
CREATE FUNCTION arrive(ext text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    s bigint;
    st text;
BEGIN
    FOR s IN SELECT id FROM oms.shipments WHERE order_id = oid_of(ext) AND status = 'shipped' ORDER BY id LOOP
        st := oms.deliver(s) ->> 'order_status';
    END LOOP;
    RETURN st;
END
$$;
-- run a statement: SQLSTATE, message, detail and hint (or ok)
CREATE FUNCTION try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
    det text;
    hnt text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    RETURN st || ': ' || msg || E'\n  detail: ' || det || E'\n  hint: ' || hnt;
END
$$;
GRANT EXECUTE ON FUNCTION try(text) TO oms_app, oms_admin;
-- what a refusal must leave as it was
CREATE VIEW counts AS
SELECT (SELECT count(*) FROM oms.orders) AS orders,
       (SELECT count(*) FROM oms.order_status_history) AS history,
       (SELECT count(*) FROM oms.events) AS events,
       (SELECT count(*) FROM oms.reservations WHERE status = 'active') AS active_reservations,
       (SELECT string_agg(status || '=' || n, ' ' ORDER BY status) FROM
           (SELECT status, count(*) AS n FROM oms.orders GROUP BY 1) s) AS statuses;

-- ---------------------------------------------------------------------------
-- breach 1: fulfilment faked by status. As oms_app, a paid order of 3 units
-- is picked (in_fulfillment holds stock: allowed by hand), but shipped,
-- partially_shipped, delivered and completed are refused: nothing shipped.
-- ---------------------------------------------------------------------------
SELECT place('P-1', '[["A", 3]]') AS p1, pay('P-1') AS p1_paid;
SELECT oid_of('P-1') AS p1 \gset
SET ROLE oms_app;
SELECT oms.set_order_status(:p1, 'in_fulfillment') ->> 'status' AS picking;
SELECT try(format('SELECT oms.set_order_status(%s, %L)', :p1, 'partially_shipped')) AS to_partially_shipped;
SELECT try(format('SELECT oms.set_order_status(%s, %L)', :p1, 'shipped')) AS to_shipped;
SELECT try(format('SELECT oms.set_order_status(%s, %L)', :p1, 'delivered')) AS to_delivered;
SELECT try(format('SELECT oms.set_order_status(%s, %L)', :p1, 'completed')) AS to_completed;
RESET ROLE;
SELECT * FROM counts;
-- the same for a direct UPDATE, even by a superuser: the trigger fires for every writer
SELECT try(format('UPDATE oms.orders SET status = %L WHERE id = %s', 'shipped', :p1)) AS superuser_update;
-- a kit line is stock too
SELECT place('K-1', '[["K", 1]]') AS k1, pay('K-1') AS k1_paid;
SELECT oid_of('K-1') AS k1 \gset
SELECT * FROM counts;
SELECT oms.set_order_status(:k1, 'in_fulfillment') ->> 'status' AS k1_picking;
SELECT try(format('SELECT oms.set_order_status(%s, %L)', :k1, 'shipped')) AS kit_to_shipped;
SELECT * FROM counts;

-- ---------------------------------------------------------------------------
-- a custom transition inserted by oms_admin does not get around the rules:
-- the README's awaiting_pickup -> completed, and a custom fulfillment-driven
-- status. awaiting_pickup holds stock (the units wait at the counter).
-- ---------------------------------------------------------------------------
SET ROLE oms_admin;
INSERT INTO oms.order_statuses (status, description, holds_stock, open, cancellable, shippable) VALUES
    ('awaiting_pickup', 'Waiting at the store counter', true, true, true, true);
INSERT INTO oms.order_statuses (status, description, fulfillment_driven) VALUES
    ('out_for_delivery', 'With the courier', true);
INSERT INTO oms.order_transitions (from_status, to_status) VALUES
    ('confirmed', 'awaiting_pickup'), ('awaiting_pickup', 'completed'), ('awaiting_pickup', 'cancelled'),
    ('in_fulfillment', 'out_for_delivery'), ('backordered', 'completed');
RESET ROLE;
SELECT place('PU-1', '[["A", 2]]') AS pu1, pay('PU-1') AS pu1_paid;
SELECT oid_of('PU-1') AS pu1 \gset
SET ROLE oms_app;
SELECT oms.set_order_status(:pu1, 'awaiting_pickup') ->> 'status' AS at_the_counter;
SELECT try(format('SELECT oms.set_order_status(%s, %L)', :pu1, 'completed')) AS pickup_to_completed;
SELECT try(format('SELECT oms.set_order_status(%s, %L)', :p1, 'out_for_delivery')) AS to_custom_driven;
RESET ROLE;
SET ROLE oms_admin;
SELECT try(format('UPDATE oms.orders SET status = %L WHERE id = %s', 'completed', :pu1)) AS admin_update;
RESET ROLE;
-- backordered units are held too
SELECT place('B-1', '[["A", 150]]', '{"policy": "backorder"}') AS b1;
SELECT oid_of('B-1') AS b1 \gset
SELECT status FROM oms.orders WHERE id = :b1;
SELECT try(format('SELECT oms.set_order_status(%s, %L)', :b1, 'completed')) AS backordered_to_completed;
SELECT * FROM counts;
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- the normal flows still work
-- ---------------------------------------------------------------------------
-- ship part, ship the rest, deliver, complete by hand (completed is not
-- fulfillment-driven and holds nothing)
SELECT send('P-1', 1) AS first_parcel, send('P-1') AS second_parcel, arrive('P-1') AS arrived;
SELECT oms.set_order_status(:p1, 'completed') ->> 'status' AS p1_completed;
-- the kit ships whole
SELECT send('K-1') AS kit_shipped;
-- delivered is fulfillment-driven too: oms.deliver() reaches it, not a hand
SELECT try(format('SELECT oms.set_order_status(%s, %L)', :k1, 'delivered')) AS delivered_by_hand;
SELECT arrive('K-1') AS kit_arrived;
-- a return of a delivered unit
SELECT oms.create_rma(:p1, '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "refund"}') ->> 'status' AS rma;
SELECT oms.receive_rma(r.id, 'BER', '[{"sku": "A", "qty": 1, "condition": "sellable"}]') ->> 'order_status' AS after_return
  FROM oms.rmas r WHERE r.order_id = :p1;
-- the pickup order: out of the counter status by cancelling (the release path)
SELECT oms.cancel_order(:pu1, 'not collected') ->> 'status' AS pickup_cancelled;
-- the backordered order is cancelled too
SELECT oms.cancel_order(:b1, 'customer gave up') ->> 'status' AS b1_cancelled;
-- expiry releases and changes the status (the release path)
SELECT place('E-1', '[["A", 1]]', '{"hold_minutes": 1}') AS e1;
UPDATE oms.orders SET expires_at = now() - interval '1 minute' WHERE id = oid_of('E-1');
SELECT oms.expire_reservations() AS expired;
SELECT status FROM oms.orders WHERE id = oid_of('E-1');
-- hold and release
SELECT place('H-1', '[["A", 1]]') AS h1;
SELECT oms.hold_order(oid_of('H-1'), 'address check') ->> 'status' AS held,
       oms.release_hold(oid_of('H-1')) ->> 'status' AS released;
-- an order of services only is still moved by hand, to the end
SELECT place('SV-1', '[["S", 1]]') AS sv1, pay('SV-1') AS sv1_paid;
SELECT oid_of('SV-1') AS sv1 \gset
SET ROLE oms_app;
SELECT oms.set_order_status(:sv1, 'in_fulfillment') ->> 'status' AS a,
       oms.set_order_status(:sv1, 'shipped') ->> 'status' AS b,
       oms.set_order_status(:sv1, 'delivered') ->> 'status' AS c,
       oms.set_order_status(:sv1, 'completed') ->> 'status' AS d;
RESET ROLE;
SELECT e.external_id, h.from_status, h.to_status, h.reason
  FROM oms.orders e JOIN oms.order_status_history h ON h.order_id = e.id
 WHERE e.external_id IN ('P-1', 'K-1', 'PU-1', 'E-1', 'SV-1') ORDER BY h.id;
SELECT * FROM counts;
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- breach 6: a replay writes nothing. The first call places the order; an
-- identical replay, and one whose numbers are written differently (10,
-- 10.0000, 1e1), return the same document with "replayed": true, and no
-- order, history row, event, sequence number or updated_at changes. A
-- different document with the same external_id is 22023.
-- ---------------------------------------------------------------------------
SELECT oms.place_order(odoc('R-1', '[["A", 2]]')) ->> 'replayed' AS first_replayed;
CREATE TEMP TABLE before_replay AS
SELECT c.*, (SELECT updated_at FROM oms.orders WHERE external_id = 'R-1') AS updated_at,
       (SELECT last_value FROM oms.orders_id_seq) AS order_seq,
       (SELECT last_value FROM oms.order_status_history_id_seq) AS history_seq,
       (SELECT last_value FROM oms.events_id_seq) AS events_seq
  FROM counts c;
SELECT r ->> 'replayed' AS replayed, (r ->> 'order_id')::bigint = oid_of('R-1') AS same_order, r ->> 'status' AS status
  FROM oms.place_order(odoc('R-1', '[["A", 2]]')) r;
SELECT r ->> 'replayed' AS replayed_10_0000
  FROM oms.place_order(jsonb_set(odoc('R-1', '[["A", 2]]'), '{lines,0,unit_price}', '10.0000')) r;
SELECT r ->> 'replayed' AS replayed_1e1
  FROM oms.place_order(jsonb_set(odoc('R-1', '[["A", 2]]'), '{lines,0,unit_price}', '1e1')) r;
SELECT r ->> 'replayed' AS replayed_lat
  FROM oms.place_order(jsonb_set(odoc('R-1', '[["A", 2]]'), '{ship_to,lat}', '52.3900')) r;
SELECT try($$SELECT oms.place_order(jsonb_set(odoc('R-1', '[["A", 2]]'), '{lines,0,unit_price}', '10.01'))$$) AS different_price;
SELECT try($$SELECT oms.place_order(odoc('R-1', '[["A", 3]]'))$$) AS different_qty;
SELECT (SELECT row(c.*)::text FROM counts c) = (SELECT row(b.orders, b.history, b.events, b.active_reservations, b.statuses)::text FROM before_replay b) AS counts_unchanged,
       (SELECT updated_at FROM oms.orders WHERE external_id = 'R-1') = (SELECT updated_at FROM before_replay) AS updated_at_unchanged,
       (SELECT last_value FROM oms.orders_id_seq) = (SELECT order_seq FROM before_replay) AS no_order_number_used,
       (SELECT last_value FROM oms.order_status_history_id_seq) = (SELECT history_seq FROM before_replay) AS no_history_number_used,
       (SELECT last_value FROM oms.events_id_seq) = (SELECT events_seq FROM before_replay) AS no_event_number_used;
SELECT count(*) AS placed_events FROM oms.events WHERE kind = 'order_placed' AND order_id = oid_of('R-1');
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- the oracle can fail: each breach planted directly (superuser, the guard
-- triggers bypassed with session_replication_role = replica), in a
-- transaction that is rolled back; check() reports it
-- ---------------------------------------------------------------------------
SELECT place('X-1', '[["A", 2]]') AS x1, pay('X-1') AS x1_paid;
SELECT place('X-2', '[["A", 2]]') AS x2, pay('X-2') AS x2_paid, send('X-2') AS x2_shipped;
-- status_holds_no_stock: completed while 2 units are reserved
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.orders SET status = 'completed' WHERE external_id = 'X-1';
INSERT INTO oms.order_status_history (order_id, from_status, to_status) SELECT id, 'confirmed', 'completed' FROM oms.orders WHERE external_id = 'X-1';
SELECT * FROM oms.check();
ROLLBACK;
-- status_vs_shipments: shipped with nothing shipped (and still holding stock)
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.orders SET status = 'shipped' WHERE external_id = 'X-1';
INSERT INTO oms.order_status_history (order_id, from_status, to_status) SELECT id, 'confirmed', 'shipped' FROM oms.orders WHERE external_id = 'X-1';
SELECT * FROM oms.check();
ROLLBACK;
-- status_vs_shipments: every unit shipped, but back in a status that holds stock
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.orders SET status = 'in_fulfillment' WHERE external_id = 'X-2';
INSERT INTO oms.order_status_history (order_id, from_status, to_status) SELECT id, 'shipped', 'in_fulfillment' FROM oms.orders WHERE external_id = 'X-2';
SELECT * FROM oms.check();
ROLLBACK;
-- history_orphan and event_orphan: rows about an order that does not exist
-- (what a replay wrote before the fix)
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO oms.order_status_history (order_id, from_status, to_status) VALUES (987654, NULL, 'pending_payment');
INSERT INTO oms.events (kind, order_id, payload) VALUES ('order_placed', 987654, '{}');
SELECT invariant, regexp_replace(detail, '(row|event) [0-9]+', '\1 N') AS detail FROM oms.check();
ROLLBACK;
SELECT * FROM oms.check();

-- the helpers of this file are not left for the files after it
DROP VIEW counts;
DROP FUNCTION odoc(text, jsonb, jsonb), place(text, jsonb, jsonb), oid_of(text), pay(text), send(text, int), arrive(text), try(text);
