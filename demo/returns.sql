-- demo/returns.sql: returns (RMAs). A customer sends back a scale she paid
-- partly with a gift card: the RMA is approved at once, a return label is
-- printed, the scale is restocked at the Berlin warehouse and refunded, gift
-- card first. Lena's AeroPress comes back broken: it is booked as damaged
-- (not sellable) and refunded less the restocking fee of her reason. Sophie
-- exchanges a bag of beans for another: the replacement order is placed at
-- zero price with its stock reserved. Then the stock, the payments, the
-- return statistics and the customer messages.
-- Run by demo/run after demo/fulfillment.sql, mostly as oms_app. Nothing
-- here is meant to fail, so any error stops the demo.
\set ON_ERROR_STOP 1
\pset footer off
\pset null '-'
SET search_path = public, oms;

\echo
\echo '== Return reasons are data: each has a restocking fee and a limit up to which an RMA is approved without review =='
SELECT code, description, restocking_fee_pct AS fee_pct, auto_approve_max FROM oms.return_reasons ORDER BY auto_approve_max DESC, code;
\echo '-- returns are accepted up to return_window_days after delivery (after shipping when not delivered):'
SELECT code AS channel, return_window_days FROM oms.channels WHERE code IN ('web', 'app', 'amazon-de') ORDER BY id;

\echo
\echo '== A refund with a restock. First an order to return: Anna pays her scale and mug with a 20 EUR gift card and a card =='
SELECT oms.issue_gift_card('BDAY-2026-ANNA-77XK', 20.00, 'EUR') ->> 'balance' AS gift_card_issued;
SET ROLE oms_app;
SELECT o ->> 'order_id' AS order_id, o ->> 'status' AS status, o ->> 'total' AS total,
       (SELECT string_agg(format('%s x %s @ %s', r ->> 'qty', r ->> 'sku', r ->> 'location'), ', ')
          FROM jsonb_path_query(o, '$.lines[*].locations[*]') AS r) AS reserved
  FROM oms.place_order('{"channel": "web", "external_id": "WEB-100310", "currency": "EUR",
        "customer": {"external_ref": "shop-10005", "email": "anna.schulz@example.de", "name": "Anna Schulz"},
        "ship_to": {"name": "Anna Schulz", "line1": "Kastanienallee 12", "postal_code": "10435", "city": "Berlin",
                    "country": "Germany", "lat": 52.5386, "lon": 13.4106},
        "lines": [{"sku": "SCALE-0.1G", "qty": 1, "unit_price": 29.90, "tax": 4.77},
                  {"sku": "MUG-TRAVEL", "qty": 1, "unit_price": 14.90, "tax": 2.38}]}') AS o;
SELECT id AS anna_order FROM oms.orders WHERE external_id = 'WEB-100310' \gset
SELECT p ->> 'method' AS method, p ->> 'authorized' AS authorized, p ->> 'order_status' AS order_status
  FROM oms.authorize_payment(:anna_order, '{"method": "gift_card", "amount": 20, "gift_card_code": "BDAY-2026-ANNA-77XK"}') AS p;
SELECT p ->> 'method' AS method, p ->> 'authorized' AS authorized, p ->> 'order_status' AS order_status
  FROM oms.orders o, oms.authorize_payment(o.id, jsonb_build_object('method', 'card', 'amount', o.total - 20,
        'token', 'tok_5AnNa1', 'brand', 'visa', 'last4', '1881', 'exp_month', 8, 'exp_year', 2030)) AS p
 WHERE o.id = :anna_order;
\echo '-- Berlin packs and ships it, the payments are captured, DHL delivers:'
SELECT (oms.create_shipment(:anna_order, 'WH-BER') ->> 'shipment_id') AS anna_shipment \gset
SELECT s ->> 'shipment_id' AS shipment_id, s ->> 'location' AS location, s ->> 'tracking_number' AS tracking_number,
       s ->> 'order_status' AS order_status
  FROM oms.ship(:anna_shipment, 'dhl', 'paket', '00340434161094042601') AS s;
SELECT p.method, c ->> 'status' AS status, c ->> 'captured' AS captured
  FROM oms.payments_masked p, oms.capture_payment(p.id) AS c WHERE p.order_id = :anna_order ORDER BY p.id;
SELECT d ->> 'status' AS shipment, d ->> 'order_status' AS order_status FROM oms.deliver(:anna_shipment) AS d;

\echo
\echo '== The scale''s display is not backlit as pictured: Anna asks to return it (oms.create_rma) =='
\echo '-- not_as_described approves up to 100 EUR; the scale was paid 29.90 + 4.77 tax, so the RMA is authorized at once'
SELECT r ->> 'rma_id' AS rma_id, r ->> 'status' AS status, r ->> 'resolution' AS resolution, r ->> 'value' AS value,
       (SELECT string_agg(format('%s x %s (%s, %s each)', l ->> 'qty', l ->> 'sku', l ->> 'reason', l ->> 'unit_value'), ', ')
          FROM jsonb_array_elements(r -> 'lines') AS l) AS lines
  FROM oms.create_rma(:anna_order, '{"lines": [{"sku": "SCALE-0.1G", "qty": 1, "reason": "not_as_described"}],
                                     "resolution": "refund", "notes": "display is not backlit as pictured"}') AS r;
SELECT id AS anna_rma FROM oms.rmas WHERE order_id = :anna_order \gset

\pset format unaligned
\pset tuples_only on
\echo
\echo '== The return label for Anna to print (oms.return_label): to the warehouse that shipped, the RMA number as barcode =='
SELECT oms.return_label(:anna_rma);
\pset tuples_only off
\pset format aligned

\echo
\echo '== The parcel arrives in Berlin; the scale is fine and goes back on the shelf (oms.receive_rma, sellable) =='
SELECT sku, location, on_hand, reserved, damaged, available FROM oms.stock_levels WHERE sku = 'SCALE-0.1G' AND location = 'WH-BER';
SELECT r ->> 'status' AS rma_status, r ->> 'order_status' AS order_status,
       (SELECT string_agg(format('%s: %s sellable, %s damaged, %s missing', l ->> 'sku', l ->> 'restocked',
               l ->> 'damaged', l ->> 'missing'), ', ') FROM jsonb_array_elements(r -> 'lines') AS l) AS received,
       r -> 'backorders_filled' AS backorders_filled
  FROM oms.receive_rma(:anna_rma, 'WH-BER', '[{"sku": "SCALE-0.1G", "qty": 1, "condition": "sellable"}]') AS r;
RESET ROLE;
\echo '-- the ledger row (kind return_restock) and the stock level: on_hand and available are one up'
SELECT m.id, p.sku, l.code AS location, m.kind, m.on_hand_delta AS on_hand, m.damaged_delta AS damaged, m.reference
  FROM oms.stock_movements m JOIN oms.products p ON p.id = m.product_id JOIN oms.locations l ON l.id = m.location_id
 WHERE m.reference = 'RMA ' || :anna_rma ORDER BY m.id;
SELECT sku, location, on_hand, reserved, damaged, available FROM oms.stock_levels WHERE sku = 'SCALE-0.1G' AND location = 'WH-BER';

SET ROLE oms_app;
\echo
\echo '== Anna is refunded (oms.refund_rma): the gift card is refunded first, the card gets the rest =='
SELECT r ->> 'status' AS rma_status, r ->> 'resolved_units' AS units, r ->> 'amount' AS amount,
       (SELECT string_agg(format('payment %s: %s', x ->> 'payment_id', x ->> 'refunded'), ', ')
          FROM jsonb_array_elements(r -> 'result') AS x) AS refunds
  FROM oms.refund_rma(:anna_rma) AS r;
SELECT id AS payment_id, method, captured, refunded, status FROM oms.payments_masked WHERE order_id = :anna_order ORDER BY id;
\echo '-- the gift card can be spent again at once:'
SELECT oms.gift_card_balance('BDAY-2026-ANNA-77XK') AS gift_card_balance;

\echo
\echo '== A damaged return: Lena changed her mind about the AeroPress, but it arrives cracked =='
\echo '-- her card payment is captured first (it was only authorized); changed_mind approves up to 50 EUR, so no review'
SELECT p.method, c ->> 'status' AS status, c ->> 'captured' AS captured
  FROM oms.orders o JOIN oms.payments_masked p ON p.order_id = o.id, oms.capture_payment(p.id) AS c
 WHERE o.external_id = 'WEB-100301';
SELECT id AS lena_order FROM oms.orders WHERE external_id = 'WEB-100301' \gset
SELECT r ->> 'rma_id' AS rma_id, r ->> 'status' AS status, r ->> 'value' AS value,
       (SELECT string_agg(format('%s x %s (%s)', l ->> 'qty', l ->> 'sku', l ->> 'reason'), ', ')
          FROM jsonb_array_elements(r -> 'lines') AS l) AS lines
  FROM oms.create_rma(:lena_order, '{"lines": [{"sku": "AERO-PRESS", "qty": 1, "reason": "changed_mind"}],
                                     "resolution": "refund"}') AS r;
SELECT id AS lena_rma FROM oms.rmas WHERE order_id = :lena_order \gset
SELECT sku, location, on_hand, reserved, damaged, available FROM oms.stock_levels WHERE sku = 'AERO-PRESS' AND location = 'WH-BER';
SELECT r ->> 'status' AS rma_status, r ->> 'order_status' AS order_status,
       (SELECT string_agg(format('%s: %s sellable, %s damaged', l ->> 'sku', l ->> 'restocked', l ->> 'damaged'), ', ')
          FROM jsonb_array_elements(r -> 'lines') AS l) AS received
  FROM oms.receive_rma(:lena_rma, 'WH-BER', '[{"sku": "AERO-PRESS", "qty": 1, "condition": "damaged"}]') AS r;
RESET ROLE;
\echo '-- received damaged: the balance''s damaged column goes up (ledger kind return_damaged), on_hand and available do not'
SELECT m.id, p.sku, l.code AS location, m.kind, m.on_hand_delta AS on_hand, m.damaged_delta AS damaged, m.reference
  FROM oms.stock_movements m JOIN oms.products p ON p.id = m.product_id JOIN oms.locations l ON l.id = m.location_id
 WHERE m.reference = 'RMA ' || :lena_rma ORDER BY m.id;
SELECT sku, location, on_hand, reserved, damaged, available FROM oms.stock_levels WHERE sku = 'AERO-PRESS' AND location = 'WH-BER';
SET ROLE oms_app;
\echo '-- the refund keeps the reason''s 10 % restocking fee: 40.47 paid, 36.42 refunded'
SELECT r ->> 'status' AS rma_status, r ->> 'value' AS value, r ->> 'amount' AS amount,
       (SELECT string_agg(format('payment %s: %s', x ->> 'payment_id', x ->> 'refunded'), ', ')
          FROM jsonb_array_elements(r -> 'result') AS x) AS refunds
  FROM oms.refund_rma(:lena_rma) AS r;

\echo
\echo '== An exchange: Sophie''s two parcels arrive (her payment is captured); she finds the Ethiopia 1 kg too light for espresso and wants the Colombia instead =='
SELECT s ->> 'shipment_id' AS shipment_id, s ->> 'status' AS shipment, s ->> 'order_status' AS order_status
  FROM oms.orders o JOIN oms.shipments sh ON sh.order_id = o.id, oms.deliver(sh.id) AS s
 WHERE o.external_id = 'WEB-100304' ORDER BY sh.id;
SELECT id AS sophie_order FROM oms.orders WHERE external_id = 'WEB-100304' \gset
SELECT p.method, c ->> 'status' AS status, c ->> 'captured' AS captured
  FROM oms.payments_masked p, oms.capture_payment(p.id) AS c WHERE p.order_id = :sophie_order ORDER BY p.id;
\echo '-- the Lyon roaster lists its Colombia 1 kg:'
SELECT r -> 'balance' ->> 'sku' AS sku, r -> 'balance' ->> 'location' AS location, r ->> 'received' AS received
  FROM oms.receive_stock('BEAN-COL-1K', 'DS-LYS', 30, 'roaster stock list') AS r;
\echo '-- the RMA names what she sends back and what she wants instead (exchange.lines), at the shop''s price of 29.90,'
\echo '-- the same as the Ethiopia she returns: nothing more to pay, so the replacement order has a zero total'
SELECT r ->> 'rma_id' AS rma_id, r ->> 'status' AS status, r ->> 'resolution' AS resolution, r ->> 'value' AS value,
       r -> 'exchange_lines' AS exchange_lines
  FROM oms.create_rma(:sophie_order, '{"lines": [{"sku": "BEAN-ETH-1K", "qty": 1, "reason": "not_as_described"}],
                                       "resolution": "exchange", "exchange": {"lines": [{"sku": "BEAN-COL-1K", "qty": 1, "unit_price": 29.90}]},
                                       "notes": "unopened, roast too light for her espresso machine"}') AS r;
SELECT id AS sophie_rma FROM oms.rmas WHERE order_id = :sophie_order \gset
\echo '-- the unopened bag comes back to the roaster that shipped it:'
SELECT r ->> 'status' AS rma_status, r ->> 'order_status' AS order_status,
       (SELECT string_agg(format('%s: %s sellable', l ->> 'sku', l ->> 'restocked'), ', ') FROM jsonb_array_elements(r -> 'lines') AS l) AS received
  FROM oms.receive_rma(:sophie_rma, 'DS-LYS', '[{"sku": "BEAN-ETH-1K", "qty": 1, "condition": "sellable"}]') AS r;
\echo '-- oms.refund_rma resolves an exchange with a replacement order at zero price, placed through place_order and confirmed:'
SELECT r ->> 'status' AS rma_status, r ->> 'resolved_units' AS units, r -> 'result' ->> 'exchange_order_id' AS exchange_order_id
  FROM oms.refund_rma(:sophie_rma) AS r;
SELECT exchange_order_id FROM oms.rmas WHERE id = :sophie_rma \gset
SELECT o ->> 'order_id' AS order_id, o ->> 'external_id' AS external_id, o ->> 'channel' AS channel, o ->> 'status' AS status,
       o ->> 'total' AS total,
       (SELECT string_agg(format('%s x %s, %s reserved', l ->> 'qty', l ->> 'sku', l ->> 'reserved'), ', ')
          FROM jsonb_array_elements(o -> 'lines') AS l) AS lines
  FROM oms.get_order(:exchange_order_id) AS o;
\echo '-- its unit is reserved at the roaster, ready to ship:'
SELECT l.code AS location, p.sku, r.qty, r.status
  FROM oms.reservations r JOIN oms.products p ON p.id = r.product_id JOIN oms.locations l ON l.id = r.location_id
 WHERE r.order_id = :exchange_order_id ORDER BY r.id;
RESET ROLE;

\echo
\echo '== The resulting stock of the returned and exchanged products =='
SELECT sku, location, on_hand, reserved, damaged, available FROM oms.stock_levels
 WHERE (sku, location) IN (('SCALE-0.1G', 'WH-BER'), ('AERO-PRESS', 'WH-BER'), ('BEAN-ETH-1K', 'DS-LYS'), ('BEAN-COL-1K', 'DS-LYS'))
 ORDER BY sku, location;
\echo '-- the returns in the ledger:'
SELECT m.id, p.sku, l.code AS location, m.kind, m.on_hand_delta AS on_hand, m.damaged_delta AS damaged, m.reference
  FROM oms.stock_movements m JOIN oms.products p ON p.id = m.product_id JOIN oms.locations l ON l.id = m.location_id
 WHERE m.kind IN ('return_restock', 'return_damaged') ORDER BY m.id;

\echo
\echo '== The payments of the three orders: what was captured and what the returns refunded =='
SELECT o.external_id, o.status AS order_status, p.id AS payment_id, p.method, p.captured, p.refunded, p.status
  FROM oms.payments p JOIN oms.orders o ON o.id = p.order_id
 WHERE o.id IN (:anna_order, :lena_order, :sophie_order) ORDER BY o.id, p.id;
SELECT r.id AS rma_id, o.external_id, r.resolution, r.status, r.value, r.refunded, r.exchange_order_id
  FROM oms.rmas r JOIN oms.orders o ON o.id = r.order_id ORDER BY r.id;

\echo
\echo '== oms.return_stats: returns per sku and reason =='
SELECT * FROM oms.return_stats ORDER BY sku, reason;

\echo
\echo '== The customer messages of the returns (oms.render_notification for the rma_* and refund_issued events) =='
SELECT e.id AS event_id, e.kind, o.external_id, COALESCE(n.recipient, '(no e-mail on file)') AS recipient, n.subject
  FROM oms.events e JOIN oms.orders o ON o.id = e.order_id, oms.render_notification(e.id) AS n
 WHERE e.kind LIKE 'rma\_%' OR e.kind = 'refund_issued' ORDER BY e.id;
\echo '-- the settlement messages in full:'
\pset format unaligned
\pset tuples_only on
SELECT format(E'To: %s\nSubject: %s\n\n%s\n', n.recipient, n.subject, n.body)
  FROM oms.events e, oms.render_notification(e.id) AS n
 WHERE e.kind = 'refund_issued' ORDER BY e.id;
\pset tuples_only off
\pset format aligned

\echo
\echo '== oms.check(): every invariant holds (no rows) =='
SELECT * FROM oms.check();
