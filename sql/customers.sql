--
-- customers: contacts, consent and the GDPR requests (issue 21)
--   1. saved addresses (labelled, one default per kind); an order names
--      customer.address instead of repeating its ship_to;
--   2. the phone number (E.164);
--   3. consent per purpose and channel, with when and how; render_notification
--      honours it and the channel (email or SMS);
--   4. export: one JSON document of everything about the customer;
--   5. erase: anonymised in place, orders, amounts and the journal intact;
--   6. every refusal changes nothing; oms.check() stays empty.
--
SET client_min_messages = warning;
\set SHOW_CONTEXT never
DROP EXTENSION IF EXISTS oms CASCADE; CREATE EXTENSION oms;
INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web');
INSERT INTO oms.locations (code, name, kind, latitude, longitude, pickup) VALUES ('WH', 'Warehouse', 'warehouse', 52.52, 13.40, true);
INSERT INTO oms.products (sku, name, kind) VALUES ('MUG', 'Mug', 'stock');
SELECT oms.receive_stock('MUG', 'WH', 20) IS NOT NULL;
INSERT INTO oms.customers (external_ref, email, name) VALUES ('ann', 'ann@example.com', 'Ann Example');
CREATE FUNCTION cust_try(q text) RETURNS TABLE (state text, message text, detail text, hint text) LANGUAGE plpgsql AS $$
DECLARE m text; d text; h text;
BEGIN
  EXECUTE q;
  RETURN QUERY SELECT 'ok'::text, NULL::text, NULL::text, NULL::text;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
  RETURN QUERY SELECT SQLSTATE, m, d, h;
END $$;
CREATE VIEW cust_counts AS
SELECT (SELECT count(*) FROM oms.customer_addresses) AS addresses, (SELECT count(*) FROM oms.customer_consents) AS consents,
       (SELECT string_agg(coalesce(phone, '-') || '/' || coalesce(email, '-'), ',' ORDER BY id) FROM oms.customers) AS contacts,
       (SELECT count(*) FROM oms.orders) AS orders;
CREATE TEMP TABLE ann AS SELECT id FROM oms.customers WHERE external_ref = 'ann';

-- 1. addresses: home (default shipping), office, billing
SELECT jsonb_pretty(oms.save_customer_address(id, '{"label": "home", "default": true,
         "address": {"name": "Ann Example", "line1": "Hauptstr. 1", "city": "Berlin", "postcode": "10115", "country": "DE", "lat": 52.53, "lon": 13.38}}') -> 'addresses') FROM ann;
SELECT oms.save_customer_address(id, '{"label": "office", "address": {"name": "Ann Example", "line1": "Werkstr. 9", "city": "Potsdam", "country": "DE"}}') IS NOT NULL FROM ann;
SELECT oms.save_customer_address(id, '{"label": "invoice", "kind": "billing", "default": true, "address": {"name": "Ann Example GmbH", "country": "DE"}}') IS NOT NULL FROM ann;
-- the office becomes the default: home is one no longer (one default per kind)
SELECT a ->> 'label' AS label, a ->> 'kind' AS kind, a ->> 'default' AS is_default
  FROM ann, jsonb_array_elements(oms.save_customer_address(id, '{"label": "office", "default": true,
         "address": {"name": "Ann Example", "line1": "Werkstr. 9", "city": "Potsdam", "country": "DE"}}') -> 'addresses') a;
-- an order names the saved address: its ship-to and coordinates are the address's
SELECT o ->> 'status' AS status FROM oms.place_order('{"channel": "web", "external_id": "o-1", "currency": "EUR",
         "customer": {"external_ref": "ann", "address": "home"}, "lines": [{"sku": "MUG", "qty": 1, "unit_price": 10}]}') o;
SELECT ship_to ->> 'city' AS city, ship_lat, ship_lon FROM oms.orders WHERE external_id = 'o-1';
-- refusals
SELECT * INTO TEMP before FROM cust_counts;
SELECT * FROM cust_try($$SELECT oms.place_order('{"channel": "web", "external_id": "o-2", "currency": "EUR",
         "customer": {"external_ref": "ann", "address": "cottage"}, "lines": [{"sku": "MUG", "qty": 1, "unit_price": 10}]}')$$);
SELECT * FROM cust_try($$SELECT oms.place_order('{"channel": "web", "external_id": "o-2", "currency": "EUR", "ship_to": {"city": "Bonn"},
         "customer": {"external_ref": "ann", "address": "home"}, "lines": [{"sku": "MUG", "qty": 1, "unit_price": 10}]}')$$);
SELECT * FROM cust_try($$SELECT oms.place_order('{"channel": "web", "external_id": "o-2", "currency": "EUR",
         "customer": {"external_ref": "bob", "address": "home"}, "lines": [{"sku": "MUG", "qty": 1, "unit_price": 10}]}')$$);
SELECT * FROM cust_try($$SELECT oms.save_customer_address((SELECT id FROM ann), '{"address": {"city": "Bonn"}}')$$);
SELECT * FROM cust_try($$SELECT oms.save_customer_address((SELECT id FROM ann), '{"label": "Home Sweet", "address": {"city": "Bonn"}}')$$);
SELECT * FROM cust_try($$SELECT oms.save_customer_address((SELECT id FROM ann), '{"label": "x", "kind": "postal", "address": {"city": "Bonn"}}')$$);
SELECT * FROM cust_try($$SELECT oms.save_customer_address((SELECT id FROM ann), '{"label": "x", "default": "yes", "address": {"city": "Bonn"}}')$$);
SELECT * FROM cust_try($$SELECT oms.save_customer_address((SELECT id FROM ann), '{"label": "x"}')$$);
SELECT * FROM cust_try($$SELECT oms.save_customer_address((SELECT id FROM ann), '{"label": "x", "address": "Bonn"}')$$);
SELECT * FROM cust_try($$SELECT oms.save_customer_address((SELECT id FROM ann), '{"label": "x", "address": {"city": "Bonn", "lat": 95, "lon": 1}}')$$);
SELECT * FROM cust_try($$SELECT oms.save_customer_address((SELECT id FROM ann), '{"label": "x", "address": {"city": "Bonn", "lat": 50}}')$$);
SELECT * FROM cust_try($$SELECT oms.save_customer_address((SELECT id FROM ann), '{"label": "x", "address": {"pickup": "WH"}}')$$);
SELECT * FROM cust_try($$SELECT oms.save_customer_address((SELECT id FROM ann), '{"label": "x", "address": {"note": "card 4111 1111 1111 1111"}}')$$);
SELECT * FROM cust_try($$SELECT oms.save_customer_address((SELECT id FROM ann), jsonb_build_object('label', 'x', 'address', jsonb_build_object('note', repeat('x', 17000))))$$);
SELECT * FROM cust_try($$SELECT oms.save_customer_address((SELECT id FROM ann), '{"label": "x", "colour": "red", "address": {}}')$$);
SELECT * FROM cust_try($$SELECT oms.save_customer_address((SELECT id FROM ann), '[]')$$);
SELECT * FROM cust_try($$SELECT oms.save_customer_address(999999, '{"label": "x", "address": {}}')$$);
SELECT * FROM cust_try($$SELECT oms.save_customer_address(NULL, '{"label": "x", "address": {}}')$$);

SELECT (SELECT row(c.*)::text FROM cust_counts c) = (SELECT row(b.*)::text FROM before b) AS unchanged;

-- 2. the phone number, typed as people type it
SELECT oms.set_customer_phone(id, '+49 (151) 123-456 78') ->> 'phone' AS phone FROM ann;
DROP TABLE before;
SELECT * INTO TEMP before FROM cust_counts;
SELECT * FROM cust_try($$SELECT oms.set_customer_phone((SELECT id FROM ann), '0151 12345678')$$);
SELECT * FROM cust_try($$SELECT oms.set_customer_phone((SELECT id FROM ann), '+49 151 CALL ME')$$);
SELECT * FROM cust_try($$SELECT oms.set_customer_phone((SELECT id FROM ann), '+12345')$$);
SELECT * FROM cust_try($$SELECT oms.set_customer_phone((SELECT id FROM ann), '+1234567890123456')$$);
SELECT * FROM cust_try($$SELECT oms.set_customer_phone((SELECT id FROM ann), repeat('1', 41))$$);
SELECT (SELECT row(c.*)::text FROM cust_counts c) = (SELECT row(b.*)::text FROM before b) AS unchanged;

-- 3. consent, and the notifications that honour it
SELECT k ->> 'purpose' AS purpose, k ->> 'channel' AS channel, k ->> 'granted' AS granted, k ->> 'source' AS source,
       (k ->> 'recorded_at')::timestamptz <= now() AS recorded
  FROM ann, jsonb_array_elements(oms.record_consent(id, 'marketing', 'email', true, 'newsletter checkbox at checkout') -> 'consents') k;
SELECT * FROM cust_try($$SELECT oms.record_consent((SELECT id FROM ann), 'profiling', 'email', true, 'x')$$);
SELECT * FROM cust_try($$SELECT oms.record_consent((SELECT id FROM ann), 'marketing', 'fax', true, 'x')$$);
SELECT * FROM cust_try($$SELECT oms.record_consent((SELECT id FROM ann), 'marketing', 'email', true, '  ')$$);
SELECT * FROM cust_try($$SELECT oms.record_consent((SELECT id FROM ann), 'marketing', 'email', NULL, 'x')$$);
SELECT * FROM cust_try($$SELECT oms.record_consent((SELECT id FROM ann), 'marketing', 'email', true, 'card 4111 1111 1111 1111')$$);
-- a confirmed order: by email (no consent recorded: order updates go out); by SMS only with consent
SELECT oms.authorize_payment(o.id, '{"method": "card", "token": "tok", "amount": 10}') ->> 'order_status' FROM oms.orders o WHERE external_id = 'o-1';
CREATE TEMP TABLE ev AS SELECT id FROM oms.events WHERE kind = 'order_confirmed';
SELECT 'email' AS channel, recipient, subject FROM ev, oms.render_notification(ev.id, 'email')
UNION ALL SELECT 'sms', recipient, subject FROM ev, oms.render_notification(ev.id, 'sms');
SELECT oms.record_consent(id, 'order_updates', 'sms', true, 'order confirmation page') IS NOT NULL FROM ann;
-- no SMS template for order_confirmed: nothing by SMS still
SELECT count(*) AS sms FROM ev, oms.render_notification(ev.id, 'sms');
-- the customer withdraws order updates by email
SELECT oms.record_consent(id, 'order_updates', 'email', false, 'unsubscribe link') IS NOT NULL FROM ann;
SELECT count(*) AS emails FROM ev, oms.render_notification(ev.id, 'email');
-- shipping by SMS: the customer consented; the message goes to the phone
INSERT INTO oms.carriers (code, name, tracking_url) VALUES ('dhl', 'DHL', 'https://dhl.example/{{tracking_number}}');
INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days) SELECT id, 'std', 'Paket', 2 FROM oms.carriers;
INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price) SELECT id, 'EUR', NULL, NULL, 5 FROM oms.carrier_services;
SELECT oms.ship((oms.create_shipment(id, 'WH') ->> 'shipment_id')::bigint, 'dhl', 'std', 'JJD1') ->> 'status' FROM oms.orders WHERE external_id = 'o-1';
SELECT n.recipient, n.subject, n.body FROM oms.events e, oms.render_notification(e.id, 'sms') n WHERE e.kind = 'shipment_shipped';
SELECT count(*) AS emails FROM oms.events e, oms.render_notification(e.id, 'email') n WHERE e.kind = 'shipment_shipped';

-- 4. export: one document with contacts, addresses, consents and orders
SELECT d ->> 'email' AS email, d ->> 'phone' AS phone, jsonb_array_length(d -> 'addresses') AS addresses,
       jsonb_array_length(d -> 'consents') AS consents, jsonb_array_length(d -> 'orders') AS orders,
       d -> 'orders' -> 0 -> 'ship_to' ->> 'city' AS city, d -> 'orders' -> 0 -> 'payments' -> 0 ->> 'method' AS paid_by,
       d -> 'orders' -> 0 -> 'shipments' -> 0 ->> 'tracking_number' AS tracking, d ? 'exported_at' AS dated
  FROM ann, oms.export_customer(id) d;
SELECT * FROM cust_try($$SELECT oms.export_customer(999999)$$);

-- 5. erase: personal data gone, orders, amounts and the journal intact
CREATE TEMP TABLE money AS SELECT (SELECT sum(total) FROM oms.orders) AS totals, (SELECT sum(captured) FROM oms.payments) AS captured,
       (SELECT sum(debit) FROM oms.journal_lines) AS journal, (SELECT count(*) FROM oms.order_lines) AS lines;
SELECT * FROM cust_try($$SELECT oms.erase_customer((SELECT id FROM ann), '')$$);
SELECT * FROM cust_try($$SELECT oms.erase_customer((SELECT id FROM ann), NULL)$$);
SELECT * FROM cust_try($$SELECT oms.erase_customer(999999, 'GDPR request')$$);
SELECT oms.erase_customer(id, 'GDPR request of 2026-12-05') FROM ann;
SELECT external_ref = 'erased:' || id AS ref_erased, email, name, phone, erased_at IS NOT NULL AS erased, erase_reason
  FROM oms.customers WHERE id = (SELECT id FROM ann);
SELECT external_id, status, total, ship_to, ship_lat, notes FROM oms.orders ORDER BY id;
SELECT (SELECT count(*) FROM oms.customer_addresses) AS addresses, (SELECT count(*) FROM oms.customer_consents) AS consents;
SELECT (SELECT sum(total) FROM oms.orders) = totals AS totals_kept, (SELECT sum(captured) FROM oms.payments) = captured AS captured_kept,
       (SELECT sum(debit) FROM oms.journal_lines) = journal AS journal_kept, (SELECT count(*) FROM oms.order_lines) = lines AS lines_kept
  FROM money;
-- the export now holds no personal data
SELECT d ->> 'email' AS email, d ->> 'name' AS name, d -> 'orders' -> 0 -> 'ship_to' AS ship_to FROM ann, oms.export_customer(id) d;
-- a second erase says so; the erased customer takes no new contact data
SELECT oms.erase_customer(id, 'again') ->> 'erased' AS erased_again FROM ann;
SELECT * FROM cust_try($$SELECT oms.set_customer_phone((SELECT id FROM ann), '+4915112345678')$$);
SELECT * FROM cust_try($$SELECT oms.record_consent((SELECT id FROM ann), 'marketing', 'email', true, 'x')$$);
-- the same person orders again: a new customer
SELECT (o ->> 'customer_id')::bigint <> (SELECT id FROM ann) AS new_customer
  FROM oms.place_order('{"channel": "web", "external_id": "o-3", "currency": "EUR", "customer": {"email": "ann@example.com", "external_ref": "ann"},
         "lines": [{"sku": "MUG", "qty": 1, "unit_price": 10}]}') o;
SELECT * FROM cust_try($$SELECT oms.place_order(jsonb_build_object('channel', 'web', 'external_id', 'o-4', 'currency', 'EUR',
         'customer', jsonb_build_object('external_ref', 'erased:' || (SELECT id FROM ann)), 'lines', '[{"sku": "MUG", "qty": 1, "unit_price": 10}]'::jsonb))$$);

SELECT * FROM oms.check();
DROP VIEW cust_counts;
DROP FUNCTION cust_try(text);
