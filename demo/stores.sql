-- demo/stores.sql: stores and deadlines. A sale at the Munich store's
-- counter (paid in cash and by card, handed over, completed in one call);
-- a click-and-collect order made ready with a pickup code and handed over
-- against it; an order that must arrive by tomorrow, routed to the
-- warehouse that can still make it although another is cheaper; a
-- customer's saved address, phone number and SMS consent, the export of
-- her data, and the erasure of another customer.
-- Run by demo/run after demo/reports.sql, mostly as oms_app. Nothing here
-- is meant to fail, so any error stops the demo.
\set ON_ERROR_STOP 1
\pset footer off
\pset null '-'
SET search_path = public, oms;

SET ROLE oms_app;
\echo
\echo '== A sale at the Munich store counter: two bags of beans, 20 EUR cash and the rest by card =='
SELECT oms.receive_stock('BEAN-ETH-250', 'ST-MUC', 6) IS NOT NULL AS received;
SELECT s -> 'order' ->> 'order_id' AS order_id, s -> 'order' ->> 'status' AS status, s -> 'order' ->> 'total' AS total,
       (SELECT string_agg(p ->> 'method' || ' ' || (p ->> 'captured'), ', ') FROM jsonb_array_elements(s -> 'payments') p) AS paid,
       s -> 'shipments' -> 0 ->> 'status' AS goods, s ->> 'change' AS change
  FROM oms.sell_at_counter('{"channel": "pos", "external_id": "MUC-TILL1-0001", "location": "ST-MUC", "currency": "EUR",
         "lines": [{"sku": "BEAN-ETH-250", "qty": 2, "unit_price": 9.90, "tax": 3.16}],
         "payments": [{"method": "cash", "amount": 20}, {"method": "card", "token": "tok_pos_4242", "brand": "visa", "last4": "4242", "amount": 2.96}]}') s;
\echo '-- the till retries (the network dropped the answer): the same sale comes back, nothing is written twice'
SELECT s ->> 'replayed' AS replayed, s -> 'order' ->> 'status' AS status
  FROM oms.sell_at_counter('{"channel": "pos", "external_id": "MUC-TILL1-0001", "location": "ST-MUC", "currency": "EUR",
         "lines": [{"sku": "BEAN-ETH-250", "qty": 2, "unit_price": 9.90, "tax": 3.16}],
         "payments": [{"method": "cash", "amount": 20}, {"method": "card", "token": "tok_pos_4242", "brand": "visa", "last4": "4242", "amount": 2.96}]}') s;
\echo '-- a customer pays 50 EUR cash for one bag: the change is in the answer'
SELECT s -> 'order' ->> 'total' AS total, s ->> 'change' AS change
  FROM oms.sell_at_counter('{"channel": "pos", "external_id": "MUC-TILL1-0002", "location": "ST-MUC", "currency": "EUR",
         "lines": [{"sku": "BEAN-ETH-250", "qty": 1, "unit_price": 9.90}], "payments": [{"method": "cash", "amount": 50}]}') s;

\echo
\echo '== Click and collect at Munich: the parcel is packed, the customer gets a pickup code, and shows it =='
CREATE TEMP TABLE pickup AS
SELECT (oms.place_order('{"channel": "web", "external_id": "WEB-PICK-1", "currency": "EUR",
         "customer": {"external_ref": "shop-10003"}, "ship_to": {"pickup": "ST-MUC"},
         "lines": [{"sku": "BEAN-ETH-250", "qty": 1, "unit_price": 9.90}]}') ->> 'order_id')::bigint AS order_id, NULL::bigint AS shipment_id;
SELECT oms.authorize_payment(order_id, '{"method": "card", "token": "tok_pick", "amount": 9.90}') ->> 'order_status' AS paid FROM pickup;
UPDATE pickup SET shipment_id = (oms.create_shipment(order_id, 'ST-MUC') ->> 'shipment_id')::bigint;
CREATE TEMP TABLE code AS SELECT oms.ready_for_pickup(shipment_id) ->> 'pickup_code' AS c FROM pickup;
RESET ROLE;
\echo '-- the pickup_ready message (email); the shipment keeps only the hash of the code'
SELECT n.recipient, n.subject, n.body FROM oms.events e, oms.render_notification(e.id) n WHERE e.kind = 'pickup_ready';
SET ROLE oms_app;
SELECT s.status, s.handover, s.ready_at IS NOT NULL AS ready, length(s.pickup_code_hash) AS hash_bytes FROM pickup JOIN oms.shipments s ON s.id = shipment_id;
\echo '-- the customer shows the code (typed in lower case at the counter): handed over, no carrier, no tracking number'
SELECT h ->> 'status' AS status, h ->> 'handed_over' AS handed_over, h ->> 'tracking_number' AS tracking
  FROM pickup, code, oms.hand_over(shipment_id, lower(c)) h;
SELECT status FROM oms.orders WHERE id = (SELECT order_id FROM pickup);
RESET ROLE;
\echo '-- uncollected pickups go back to stock after oms.pickup_expiry_days (7) by the sweep; none is due now:'
SELECT oms.expire_pickups() AS released;

\echo
\echo '== Delivery by a date: the warehouses get their time zones and cut-off times =='
UPDATE oms.locations SET time_zone = 'Europe/Berlin', cutoff_time = NULL WHERE code = 'WH-BER';
-- Rotterdam's cut-off has passed for today (00:00: every order ships tomorrow)
UPDATE oms.locations SET time_zone = 'Europe/Amsterdam', cutoff_time = '00:00' WHERE code = 'WH-RTM';
UPDATE oms.locations SET time_zone = 'Europe/Rome', cutoff_time = '15:00' WHERE code = 'WH-MIL';
SELECT code, time_zone, cutoff_time FROM oms.locations WHERE kind = 'warehouse' ORDER BY code;
SELECT oms.receive_stock('GRIND-BURR-C40', l, 5) IS NOT NULL FROM unnest(ARRAY['WH-BER', 'WH-RTM']) l;
SET ROLE oms_app;
\echo '-- a customer in Utrecht wants a grinder: without a date, Rotterdam (close, cheap) serves it'
SELECT location, eligible, est_cost, reason
  FROM oms.explain_route('{"channel": "web", "external_id": "x", "currency": "EUR", "ship_to": {"city": "Utrecht", "lat": 52.09, "lon": 5.12},
         "lines": [{"sku": "GRIND-BURR-C40", "qty": 1, "unit_price": 129}]}')
 WHERE location IN ('WH-BER', 'WH-RTM') ORDER BY rank;
\echo '-- by tomorrow (Amsterdam time): Rotterdam ships only tomorrow and cannot make it; Berlin can, with an express service (its rate is now the shipping cost)'
SELECT location, eligible, verdicts -> 'deadline' AS deadline, verdicts -> 'promise' ->> 'carrier' AS carrier,
       verdicts -> 'promise' ->> 'service' AS service, verdicts -> 'promise' ->> 'arrives_on' AS arrives_on, est_cost
  FROM oms.explain_route(jsonb_build_object('channel', 'web', 'external_id', 'x', 'currency', 'EUR',
         'ship_to', jsonb_build_object('city', 'Utrecht', 'lat', 52.09, 'lon', 5.12),
         'deliver_by', to_char(timezone('Europe/Amsterdam', now())::date + 1, 'YYYY-MM-DD'),
         'lines', jsonb_build_array(jsonb_build_object('sku', 'GRIND-BURR-C40', 'qty', 1, 'unit_price', 129))))
 WHERE location IN ('WH-BER', 'WH-RTM') ORDER BY rank;
SELECT o ->> 'order_id' AS order_id, (SELECT string_agg(DISTINCT x ->> 'location', ',') FROM jsonb_array_elements(o -> 'lines') l, jsonb_array_elements(l -> 'locations') x) AS routed_to
  FROM oms.place_order(jsonb_build_object('channel', 'web', 'external_id', 'WEB-DEADLINE-1', 'currency', 'EUR',
         'customer', jsonb_build_object('external_ref', 'shop-10003'),
         'ship_to', jsonb_build_object('name', 'Customer', 'city', 'Utrecht', 'country', 'NL', 'lat', 52.09, 'lon', 5.12),
         'deliver_by', to_char(timezone('Europe/Amsterdam', now())::date + 1, 'YYYY-MM-DD'),
         'lines', jsonb_build_array(jsonb_build_object('sku', 'GRIND-BURR-C40', 'qty', 1, 'unit_price', 129)))) o;
\echo '-- the decision stores the promise'
SELECT d.strategy, d.chosen -> 0 ->> 'location' AS location, d.chosen -> 0 -> 'promise' AS promise
  FROM oms.routing_decisions d JOIN oms.orders o ON o.id = d.order_id WHERE o.external_id = 'WEB-DEADLINE-1';

\echo
\echo '== A customer saves her home address, her mobile number and her consent to order updates by SMS =='
CREATE TEMP TABLE cust AS SELECT customer_id AS id FROM oms.orders WHERE external_id = 'WEB-PICK-1';
SELECT a ->> 'label' AS label, a ->> 'kind' AS kind, a ->> 'default' AS is_default, a -> 'address' ->> 'city' AS city
  FROM cust, jsonb_array_elements(oms.save_customer_address(id, '{"label": "home", "default": true,
         "address": {"name": "Sophie Martin", "line1": "Oudegracht 10", "city": "Utrecht", "postcode": "3511", "country": "NL", "lat": 52.09, "lon": 5.12}}')
         -> 'addresses') a;
SELECT oms.set_customer_phone(id, '+31 6 1234 5678') ->> 'phone' AS phone FROM cust;
SELECT c ->> 'purpose' AS purpose, c ->> 'channel' AS channel, c ->> 'granted' AS granted, c ->> 'source' AS how
  FROM cust, jsonb_array_elements(oms.record_consent(id, 'order_updates', 'sms', true, 'checkbox in the checkout') -> 'consents') c;
\echo '-- her next order names the saved address instead of repeating it'
SELECT o ->> 'status' AS status FROM oms.place_order('{"channel": "web", "external_id": "WEB-HOME-1", "currency": "EUR",
         "customer": {"external_ref": "shop-10003", "address": "home"}, "lines": [{"sku": "BEAN-COL-250", "qty": 1, "unit_price": 8.90}]}') o;
SELECT ship_to ->> 'line1' AS ship_to, ship_lat, ship_lon FROM oms.orders WHERE external_id = 'WEB-HOME-1';
RESET ROLE;
\echo '-- the pickup message by SMS goes to her phone (she consented); by email it goes as before'
SELECT 'sms' AS channel, n.recipient, n.body FROM oms.events e, oms.render_notification(e.id, 'sms') n WHERE e.kind = 'pickup_ready';
\echo '-- her data, as one document (GDPR access request): contacts and orders'
SELECT d ->> 'phone' AS phone, jsonb_array_length(d -> 'addresses') AS addresses, jsonb_array_length(d -> 'consents') AS consents,
       jsonb_array_length(d -> 'orders') AS orders
  FROM cust c, oms.export_customer(c.id) d;
\echo '-- another customer asks to be forgotten: anonymised in place, her orders and their amounts stay'
SELECT oms.erase_customer(c.id, 'GDPR erasure request by email') AS erased
  FROM oms.customers c WHERE c.id = (SELECT max(o.customer_id) FROM oms.orders o JOIN oms.customers k ON k.id = o.customer_id
                                      WHERE k.erased_at IS NULL AND k.external_ref IS DISTINCT FROM 'shop-10003');
SELECT c.external_ref, c.email, c.name, o.external_id, o.total, o.ship_to
  FROM oms.customers c JOIN oms.orders o ON o.customer_id = c.id WHERE c.erased_at IS NOT NULL;
SELECT count(*) AS violations FROM oms.check();
