-- demo/edits.sql: changing placed orders (issue 16). Jonas calls customer
-- service: one more French press, add a pair of cappuccino cups, and send it
-- all to his office in Milan instead of Berlin; the edit re-reserves,
-- re-routes to the Milan warehouse and sends the order back to awaiting
-- payment until he pays the difference. Clara's order partly shipped; she
-- no longer wants the rest: it is cancelled, refunded, and the order has
-- shipped. Tom orders an electric kettle that is out of stock and accepts a
-- substitute: the stovetop gooseneck kettle is reserved instead, and his
-- confirmation says so.
-- Run by demo/run after demo/returns.sql, mostly as oms_app. Nothing here is
-- meant to fail, so any error stops the demo.
\set ON_ERROR_STOP 1
\pset footer off
\pset null '-'
SET search_path = public, oms;

-- stock for this part of the demo, and a substitute for the electric kettle
SELECT count(oms.receive_stock(sku, loc, qty, 'PO-2026-0501')) AS receipts FROM (VALUES
    ('PRESS-FR-1L', 'WH-BER', 10), ('PRESS-FR-1L', 'WH-MIL', 10), ('CUP-CAP-2', 'WH-BER', 20),
    ('CUP-CAP-2', 'WH-MIL', 20), ('CANISTER', 'WH-BER', 10), ('CLEAN-TABS', 'WH-BER', 30)) AS v(sku, loc, qty);
INSERT INTO oms.product_substitutes (product_id, substitute_id, rank, reason)
SELECT p.id, s.id, 1, 'same pour control, heated on the stove'
  FROM oms.products p, oms.products s WHERE p.sku = 'KETTLE-ELEC' AND s.sku = 'KETTLE-GOOSE';

\echo
\echo '== Jonas orders two French presses to Berlin and pays =='
SET ROLE oms_app;
SELECT o ->> 'order_id' AS order_id, o ->> 'status' AS status, o ->> 'total' AS total,
       (SELECT string_agg(format('%s x %s @ %s', r ->> 'qty', r ->> 'sku', r ->> 'location'), ', ')
          FROM jsonb_path_query(o, '$.lines[*].locations[*]') AS r) AS reserved
  FROM oms.place_order('{"channel": "web", "external_id": "WEB-100420", "currency": "EUR",
        "customer": {"external_ref": "shop-10020", "email": "jonas.weber@example.de", "name": "Jonas Weber"},
        "ship_to": {"name": "Jonas Weber", "city": "Berlin", "country": "Germany", "lat": 52.52, "lon": 13.40},
        "lines": [{"sku": "PRESS-FR-1L", "qty": 2, "unit_price": 29.00, "tax": 9.26}]}') AS o;
SELECT id AS jonas FROM oms.orders WHERE external_id = 'WEB-100420' \gset
SELECT total AS jonas_paid FROM oms.orders WHERE id = :jonas \gset
SELECT p ->> 'order_status' AS order_status FROM oms.authorize_payment(:jonas, jsonb_build_object('method', 'card',
       'amount', :jonas_paid, 'token', 'tok_J0nA5', 'brand', 'visa', 'last4', '4242')) AS p;

\echo
\echo '== He calls: one more press, a pair of cappuccino cups, and deliver to his office in Milan (one atomic edit) =='
SELECT e -> 'edit' -> 'ship_to' ->> 'rerouted' AS rerouted, e -> 'edit' -> 'total' AS total, e -> 'edit' -> 'status' AS status,
       (SELECT string_agg(format('%s x %s @ %s', r ->> 'qty', r ->> 'sku', r ->> 'location'), ', ')
          FROM jsonb_path_query(e, '$.lines[*].locations[*]') AS r) AS reserved
  FROM oms.edit_order(:jonas, '{"edit_id": "cs-2026-0042", "reason": "customer called",
        "changes": [{"op": "set_qty", "sku": "PRESS-FR-1L", "qty": 3},
                    {"op": "add_line", "sku": "CUP-CAP-2", "qty": 1, "unit_price": 19.90, "tax": 3.18},
                    {"op": "set_ship_to", "ship_to": {"name": "Jonas Weber", "company": "Studio W", "city": "Milano",
                                                      "country": "Italy", "lat": 45.4642, "lon": 9.19}}]}') AS e;
\echo '-- the support agent''s retry of the same edit is a replay: nothing happens twice'
SELECT oms.edit_order(:jonas, '{"edit_id": "cs-2026-0042", "reason": "customer called",
        "changes": [{"op": "set_qty", "sku": "PRESS-FR-1L", "qty": 3},
                    {"op": "add_line", "sku": "CUP-CAP-2", "qty": 1, "unit_price": 19.90, "tax": 3.18},
                    {"op": "set_ship_to", "ship_to": {"name": "Jonas Weber", "company": "Studio W", "city": "Milano",
                                                      "country": "Italy", "lat": 45.4642, "lon": 9.19}}]}') ->> 'replayed' AS replayed;
\echo '-- he pays the difference, and the order is confirmed again'
SELECT p ->> 'order_status' AS order_status FROM oms.orders o, oms.authorize_payment(o.id, jsonb_build_object('method', 'card',
       'amount', o.total - :jonas_paid, 'token', 'tok_J0nA5', 'brand', 'visa', 'last4', '4242')) AS p WHERE o.id = :jonas;
RESET ROLE;
\echo '-- every version is kept, and the routing decision says why Milan'
SELECT version, kind, edit_id, reason, document ->> 'total' AS total, document ->> 'status' AS status
  FROM oms.order_versions WHERE order_id = :jonas ORDER BY version;
SELECT trigger, locations, rule FROM oms.routing_decisions WHERE order_id = :jonas ORDER BY id;

\echo
\echo '== Clara''s order ships in part; she cancels the rest =='
SET ROLE oms_app;
SELECT o ->> 'order_id' AS order_id, o ->> 'total' AS total
  FROM oms.place_order('{"channel": "web", "external_id": "WEB-100421", "currency": "EUR",
        "customer": {"external_ref": "shop-10021", "email": "clara.fischer@example.de", "name": "Clara Fischer"},
        "ship_to": {"name": "Clara Fischer", "city": "Potsdam", "country": "Germany", "lat": 52.39, "lon": 13.06},
        "lines": [{"sku": "CANISTER", "qty": 2, "unit_price": 24.90, "tax": 7.95},
                  {"sku": "CLEAN-TABS", "qty": 3, "unit_price": 8.50, "tax": 4.07}]}') AS o;
SELECT id AS clara FROM oms.orders WHERE external_id = 'WEB-100421' \gset
SELECT p.id AS clara_pay FROM oms.orders o, oms.authorize_payment(o.id, jsonb_build_object('method', 'card', 'amount', o.total,
       'token', 'tok_C1aRa', 'brand', 'mastercard', 'last4', '5454')) AS a,
       LATERAL (SELECT (a ->> 'payment_id')::bigint AS id) p WHERE o.id = :clara \gset
SELECT c ->> 'captured' AS captured FROM oms.capture_payment(:clara_pay) AS c;
SELECT (s ->> 'shipment_id')::bigint AS clara_parcel FROM oms.create_shipment(:clara, 'WH-BER', '[{"sku": "CANISTER", "qty": 2}]') AS s \gset
SELECT s ->> 'status' AS parcel, s ->> 'order_status' AS order_status FROM oms.ship(:clara_parcel, 'dhl', 'paket', '00340434161094049917') AS s;
SELECT c -> 'edit' -> 'status' AS status, c -> 'edit' -> 'total' AS total, c -> 'edit' -> 'refunds' AS refunds
  FROM oms.cancel_lines(:clara, '{"rest": true, "reason": "customer no longer needs the tablets"}') AS c;
RESET ROLE;
SELECT p.sku, l.qty, l.qty_shipped AS shipped, l.qty_cancelled AS cancelled
  FROM oms.order_lines l JOIN oms.products p ON p.id = l.product_id WHERE l.order_id = :clara ORDER BY l.line_no;

\echo
\echo '== Tom wants the electric kettle, which is out of stock; without a substitute the order is refused, and the error names what is in stock =='
SET ROLE oms_app;
\set ON_ERROR_STOP 0
SELECT oms.place_order('{"channel": "web", "external_id": "WEB-100422", "currency": "EUR",
        "customer": {"external_ref": "shop-10022", "email": "tom.becker@example.de", "name": "Tom Becker"},
        "lines": [{"sku": "KETTLE-ELEC", "qty": 1, "unit_price": 89.00, "tax": 14.21}]}');
\set ON_ERROR_STOP 1
\echo '-- with "substitute": "allow" the gooseneck kettle is reserved instead, at the lower price the shop gives it'
SELECT o ->> 'status' AS status, o -> 'lines' -> 0 ->> 'sku' AS sku, o -> 'lines' -> 0 ->> 'substituted_for' AS substituted_for,
       o ->> 'total' AS total
  FROM oms.place_order('{"channel": "web", "external_id": "WEB-100422", "currency": "EUR",
        "customer": {"external_ref": "shop-10022", "email": "tom.becker@example.de", "name": "Tom Becker"},
        "lines": [{"sku": "KETTLE-ELEC", "qty": 1, "unit_price": 89.00, "tax": 14.21, "substitute": "allow",
                   "substitute_unit_price": 59.00}]}') AS o;
SELECT p ->> 'order_status' AS order_status FROM oms.orders o, oms.authorize_payment(o.id, jsonb_build_object('method', 'card',
       'amount', o.total, 'token', 'tok_T0m', 'brand', 'visa', 'last4', '1111')) AS p WHERE o.external_id = 'WEB-100422';
RESET ROLE;
\echo '-- his confirmation says what he gets instead'
SELECT body FROM oms.render_notification((SELECT max(e.id) FROM oms.events e JOIN oms.orders o ON o.id = e.order_id
                                           WHERE o.external_id = 'WEB-100422' AND e.kind = 'order_confirmed'));

\echo '== oms.check(): every invariant holds (no rows) =='
SELECT * FROM oms.check();
