--
-- stores: counter sales and the pickup handover (issue 21)
--   1. oms.sell_at_counter: order, payments (cash and card), handover out of
--      the store's stock and completion in one call; stock, ledger,
--      journal and events as for any order; change for cash; idempotent by
--      (channel, external_id); every refusal changes nothing;
--   2. the pickup handover: ready_for_pickup gives a code (only its hash
--      on the shipment), hand_over checks it, expire_pickups releases
--      pickups not collected in time;
--   3. oms.check() stays empty.
--
SET client_min_messages = warning;
\set SHOW_CONTEXT never
DROP EXTENSION IF EXISTS oms CASCADE; CREATE EXTENSION oms;
INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web'), ('pos', 'Till', 'pos');
INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority, pickup, daily_capacity)
VALUES ('WH', 'Warehouse', 'warehouse', 52.52, 13.40, 10, false, NULL),
       ('STORE', 'Store Mitte', 'store', 52.53, 13.41, 20, true, 1),
       ('DS', 'Dropshipper', 'dropship', 50.0, 8.0, 30, false, NULL);
INSERT INTO oms.products (sku, name, kind, weight_kg) VALUES ('MUG', 'Mug', 'stock', 0.4), ('TEA', 'Tea', 'stock', 0.1);
SELECT oms.receive_stock('MUG', 'STORE', 3) IS NOT NULL, oms.receive_stock('MUG', 'WH', 50) IS NOT NULL,
       oms.receive_stock('TEA', 'STORE', 10) IS NOT NULL, oms.receive_stock('MUG', 'DS', 5) IS NOT NULL;
-- the error as SQLSTATE, message, detail and hint, ids written as #
CREATE FUNCTION stores_try(q text) RETURNS TABLE (state text, message text, detail text, hint text) LANGUAGE plpgsql AS $$
DECLARE m text; d text; h text;
BEGIN
  EXECUTE q;
  RETURN QUERY SELECT 'ok'::text, NULL::text, NULL::text, NULL::text;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
  RETURN QUERY SELECT SQLSTATE, regexp_replace(m, '(order|shipment) [0-9]+', '\1 #', 'g'),
                      regexp_replace(d, '(Order|order|shipment) [0-9]+', '\1 #', 'g'), h;
END $$;
-- what a sale writes, to show that a refusal wrote nothing
CREATE VIEW counts AS
SELECT (SELECT count(*) FROM oms.orders) AS orders, (SELECT count(*) FROM oms.payments) AS payments,
       (SELECT count(*) FROM oms.shipments) AS shipments, (SELECT count(*) FROM oms.stock_movements) AS movements,
       (SELECT count(*) FROM oms.journal_entries) AS journal, (SELECT count(*) FROM oms.events) AS events,
       (SELECT sum(on_hand) FROM oms.stock_balances) AS on_hand, (SELECT sum(reserved) FROM oms.stock_balances) AS reserved;
CREATE FUNCTION sale(ext text, extra jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
SELECT jsonb_build_object('channel', 'pos', 'external_id', ext, 'location', 'STORE', 'currency', 'EUR',
         'lines', jsonb_build_array(jsonb_build_object('sku', 'MUG', 'qty', 2, 'unit_price', 12.5, 'tax', 4.75)),
         'payments', jsonb_build_array(jsonb_build_object('method', 'cash', 'amount', 20),
                                       jsonb_build_object('method', 'card', 'token', 'tok_visa', 'amount', 9.75))) || extra
$$;

-- the store's daily capacity (1 parcel) is used up today: a counter sale is no parcel
INSERT INTO oms.location_daily_load (location_id, day, orders)
SELECT id, timezone('UTC', now())::date, 1 FROM oms.locations WHERE code = 'STORE';
-- 1. a counter sale: cash 20 and card 9.75 for 29.75
SELECT r -> 'order' ->> 'status' AS status, r -> 'order' ->> 'total' AS total, r ->> 'change' AS change,
       r ->> 'replayed' AS replayed, jsonb_array_length(r -> 'payments') AS payments,
       (SELECT string_agg(p ->> 'method' || ' ' || (p ->> 'captured'), ', ') FROM jsonb_array_elements(r -> 'payments') p) AS captured,
       r -> 'shipments' -> 0 ->> 'status' AS shipment, r -> 'shipments' -> 0 ->> 'location' AS at
  FROM oms.sell_at_counter(sale('till-1')) r;
-- the shipment left over the counter: no carrier, tracking number or rate
SELECT handover, carrier_id, service_id, tracking_number, rate, shipped_at IS NOT NULL AS shipped, status
  FROM oms.shipments;
-- the store's stock went down, the warehouse's did not; nothing stays reserved
SELECT l.code, b.on_hand, b.reserved FROM oms.stock_balances b JOIN oms.locations l ON l.id = b.location_id
 JOIN oms.products p ON p.id = b.product_id WHERE p.sku = 'MUG' ORDER BY l.code;
SELECT m.kind, m.qty, m.reference FROM oms.stock_movements m JOIN oms.locations l ON l.id = m.location_id
 WHERE l.code = 'STORE' AND kind <> 'receipt' ORDER BY m.id;
-- the history: placed, paid, in fulfillment, shipped, delivered, completed
SELECT from_status, to_status FROM oms.order_status_history ORDER BY id;
-- the journal: payments captured (cash clearing), revenue and tax recognised
SELECT account, sum(debit) AS debit, sum(credit) AS credit FROM oms.journal_lines GROUP BY account ORDER BY account;
SELECT kind FROM oms.events ORDER BY id;
-- the counter sale counted no parcel against the store's daily capacity
SELECT orders AS counted FROM oms.location_daily_load;

-- 2. the till retries: the same sale, answered again, nothing written
SELECT * INTO TEMP before FROM counts;
SELECT r ->> 'replayed' AS replayed, r -> 'order' ->> 'status' AS status, r ->> 'change' AS change
  FROM oms.sell_at_counter(sale('till-1')) r;
SELECT (SELECT row(c.*)::text FROM counts c) = (SELECT row(b.*)::text FROM before b) AS unchanged;

-- 3. cash beyond the total is change; a sale of exactly the stock left
SELECT r -> 'order' ->> 'status' AS status, r ->> 'change' AS change,
       (SELECT string_agg(p ->> 'method' || ' ' || (p ->> 'captured'), ', ') FROM jsonb_array_elements(r -> 'payments') p) AS captured
  FROM oms.sell_at_counter(sale('till-2', '{"lines": [{"sku": "MUG", "qty": 1, "unit_price": 12.5}], "payments": [{"method": "cash", "amount": 50}]}')) r;

-- 4. refusals, each changing nothing
DROP TABLE before;
SELECT * INTO TEMP before FROM counts;
-- the store lacks the units (the warehouse has 50): OM001, no backorder at a counter
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-3', '{"lines": [{"sku": "MUG", "qty": 2, "unit_price": 12.5}], "payments": [{"method": "cash", "amount": 25}]}'))$$);
-- payments that do not cover the total
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', '{"lines": [{"sku": "TEA", "qty": 1, "unit_price": 5}], "payments": [{"method": "cash", "amount": 4.99}]}'))$$);
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', '{"lines": [{"sku": "TEA", "qty": 1, "unit_price": 5}]}'))$$);
-- a card charged beyond what is owed; a payment not needed
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', '{"lines": [{"sku": "TEA", "qty": 1, "unit_price": 5}], "payments": [{"method": "card", "token": "tok", "amount": 6}]}'))$$);
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', '{"lines": [{"sku": "TEA", "qty": 1, "unit_price": 5}], "payments": [{"method": "cash", "amount": 5}, {"method": "cash", "amount": 1}]}'))$$);
-- bad payments
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', '{"payments": [{"amount": 5}]}'))$$);
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', '{"payments": [{"method": "cash"}]}'))$$);
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', '{"payments": [{"method": "cash", "amount": 0}]}'))$$);
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', '{"payments": [{"method": "cash", "amount": -5}]}'))$$);
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', '{"payments": [{"method": "cash", "amount": 1e20}]}'))$$);
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', '{"payments": {"method": "cash"}}'))$$);
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', '{"payments": [1]}'))$$);
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', jsonb_build_object('payments', (SELECT jsonb_agg(jsonb_build_object('method', 'cash', 'amount', 1)) FROM generate_series(1, 17)))))$$);
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', '{"lines": [{"sku": "TEA", "qty": 1, "unit_price": 5}], "payments": [{"method": "card", "amount": 5}]}'))$$);
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', '{"lines": [{"sku": "TEA", "qty": 1, "unit_price": 5}], "payments": [{"method": "card", "token": "4111 1111 1111 1111", "amount": 5}]}'))$$);
-- the location and the channel
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4') - 'location')$$);
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', '{"location": "NOPE"}'))$$);
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', '{"location": "DS"}'))$$);
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', '{"location": 7}'))$$);
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', '{"channel": "web"}'))$$);
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', '{"channel": "nope"}'))$$);
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4') - 'channel')$$);
-- no ship_to at a counter; the order's own keys are checked by placement
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', '{"ship_to": {"name": "Ann"}}'))$$);
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', '{"colour": "red"}'))$$);
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', '{"notes": "card 4111 1111 1111 1111"}'))$$);
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4', '{"lines": [{"sku": "MUG", "qty": 0, "unit_price": 1}]}'))$$);
SELECT * FROM stores_try($$SELECT oms.sell_at_counter('[]')$$);
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(NULL)$$);
-- a different sale reusing the external_id
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-1', '{"lines": [{"sku": "TEA", "qty": 1, "unit_price": 5}], "payments": [{"method": "cash", "amount": 5}]}'))$$);
-- an inactive store
UPDATE oms.locations SET active = false WHERE code = 'STORE';
SELECT * FROM stores_try($$SELECT oms.sell_at_counter(sale('till-4'))$$);
UPDATE oms.locations SET active = true WHERE code = 'STORE';
SELECT (SELECT row(c.*)::text FROM counts c) = (SELECT row(b.*)::text FROM before b) AS unchanged;

-- 5. a backorder asked for: what the store has is handed over, the rest waits
SELECT r -> 'order' ->> 'status' AS status, r -> 'order' -> 'lines' -> 0 ->> 'backordered' AS backordered,
       r -> 'shipments' -> 0 ->> 'status' AS shipment
  FROM oms.sell_at_counter(sale('till-5', '{"policy": "backorder", "lines": [{"sku": "TEA", "qty": 12, "unit_price": 1}], "payments": [{"method": "cash", "amount": 12}]}')) r;
-- a counter return goes through the RMA functions, received at the store
SELECT oms.create_rma((SELECT id FROM oms.orders WHERE external_id = 'till-1'),
         '{"resolution": "refund", "lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}]}') ->> 'status' AS rma;

-- 6. pickup: a click-and-collect order, its shipment at the store
UPDATE oms.locations SET daily_capacity = NULL WHERE code = 'STORE';
SELECT oms.receive_stock('MUG', 'STORE', 5) IS NOT NULL;
CREATE TEMP TABLE pk AS
SELECT (oms.place_order('{"channel": "web", "external_id": "web-1", "currency": "EUR", "customer": {"email": "ann@example.com"},
        "ship_to": {"pickup": "STORE"}, "lines": [{"sku": "MUG", "qty": 2, "unit_price": 12.5}]}') ->> 'order_id')::bigint AS order_id;
SELECT oms.authorize_payment(order_id, '{"method": "card", "token": "tok", "amount": 25}') ->> 'order_status' FROM pk;
ALTER TABLE pk ADD COLUMN shipment_id bigint;
UPDATE pk SET shipment_id = (oms.create_shipment(order_id, 'STORE') ->> 'shipment_id')::bigint;
-- not ready yet: no code to check
SELECT * FROM stores_try($$SELECT oms.hand_over((SELECT shipment_id FROM pk), 'ABCDEFGH')$$);
-- ready: the code is in the answer and the event, only its hash on the shipment
CREATE TEMP TABLE code AS SELECT oms.ready_for_pickup(shipment_id) ->> 'pickup_code' AS c FROM pk;
SELECT c ~ '^[A-HJKMNP-Z2-9]{8}$' AS well_formed FROM code;
SELECT e.payload ->> 'pickup_code' = c AS event_has_code, e.payload ->> 'location' AS location,
       e.payload ->> 'collect_by' = (now() + interval '7 days')::date::text AS collect_by, e.payload ->> 'items' AS items
  FROM oms.events e, code WHERE e.kind = 'pickup_ready';
SELECT length(pickup_code_hash) AS hash_bytes, pickup_code_hash = sha256(convert_to(c, 'UTF8')) AS is_sha256,
       position(convert_to(c, 'UTF8') IN pickup_code_hash) = 0 AS code_not_stored
  FROM oms.shipments, code WHERE id = (SELECT shipment_id FROM pk);
-- a wrong code is refused and changes nothing
DROP TABLE before;
SELECT * INTO TEMP before FROM counts;
SELECT * FROM stores_try($$SELECT oms.hand_over((SELECT shipment_id FROM pk), 'ABCDEFGH')$$);
SELECT * FROM stores_try($$SELECT oms.hand_over((SELECT shipment_id FROM pk), 'AB$CD')$$);
SELECT * FROM stores_try($$SELECT oms.hand_over((SELECT shipment_id FROM pk), repeat('A', 100))$$);
SELECT * FROM stores_try($$SELECT oms.hand_over((SELECT shipment_id FROM pk), NULL)$$);
SELECT * FROM stores_try($$SELECT oms.hand_over(NULL, 'ABCDEFGH')$$);
SELECT * FROM stores_try($$SELECT oms.hand_over(999999, 'ABCDEFGH')$$);
SELECT * FROM stores_try($$SELECT oms.ready_for_pickup(999999)$$);
SELECT * FROM stores_try($$SELECT oms.ready_for_pickup(NULL)$$);
SELECT (SELECT row(c.*)::text FROM counts c) = (SELECT row(b.*)::text FROM before b) AS unchanged;
-- a shipment that is not a pickup: a parcel from the warehouse
CREATE TEMP TABLE parcel AS
SELECT (oms.place_order('{"channel": "web", "external_id": "web-parcel", "currency": "EUR", "ship_to": {"lat": 52.5, "lon": 13.4},
        "lines": [{"sku": "MUG", "qty": 1, "unit_price": 12.5}], "hold_minutes": 0}') ->> 'order_id')::bigint AS order_id;
SELECT oms.authorize_payment(order_id, '{"method": "card", "token": "tok", "amount": 12.5}') IS NOT NULL FROM parcel;
SELECT * FROM stores_try($$SELECT oms.ready_for_pickup((oms.create_shipment((SELECT order_id FROM parcel), 'WH') ->> 'shipment_id')::bigint)$$);
-- the counter sale's shipment was handed over already
SELECT * FROM stores_try($$SELECT oms.ready_for_pickup((SELECT min(id) FROM oms.shipments))$$);
-- the right code, typed in lower case with a dash: handed over and delivered, no carrier
SELECT r ->> 'status' AS status, r ->> 'handed_over' AS handed_over, r ->> 'tracking_number' AS tracking
  FROM pk, code, oms.hand_over(shipment_id, lower(substr(c, 1, 4)) || '-' || lower(substr(c, 5))) r;
SELECT status, handover, carrier_id FROM oms.shipments WHERE id = (SELECT shipment_id FROM pk);
SELECT status FROM oms.orders WHERE id = (SELECT order_id FROM pk);
-- a second handover is refused
SELECT * FROM stores_try($$SELECT oms.hand_over((SELECT shipment_id FROM pk), (SELECT c FROM code))$$);
SELECT * FROM stores_try($$SELECT oms.ready_for_pickup((SELECT shipment_id FROM pk))$$);

-- 7. the sweep: a pickup not collected within oms.pickup_expiry_days
CREATE TEMP TABLE pk2 AS
SELECT (oms.place_order('{"channel": "web", "external_id": "web-2", "currency": "EUR",
        "ship_to": {"pickup": "STORE"}, "lines": [{"sku": "MUG", "qty": 1, "unit_price": 12.5}]}') ->> 'order_id')::bigint AS order_id;
SELECT oms.authorize_payment(order_id, '{"method": "card", "token": "tok", "amount": 12.5}') IS NOT NULL FROM pk2;
ALTER TABLE pk2 ADD COLUMN shipment_id bigint;
UPDATE pk2 SET shipment_id = (oms.create_shipment(order_id, 'STORE') ->> 'shipment_id')::bigint;
SELECT oms.ready_for_pickup(shipment_id) IS NOT NULL FROM pk2;
SELECT oms.expire_pickups() AS released_too_early;
-- eight days later (the ready time moved back)
UPDATE oms.shipments SET ready_at = ready_at - interval '8 days' WHERE id = (SELECT shipment_id FROM pk2);
SET oms.pickup_expiry_days = 0;
SELECT oms.expire_pickups() AS released_when_off;
RESET oms.pickup_expiry_days;
SELECT reserved AS store_reserved_before FROM oms.stock_balances WHERE location_id = (SELECT id FROM oms.locations WHERE code = 'STORE')
   AND product_id = (SELECT id FROM oms.products WHERE sku = 'MUG');
SELECT oms.expire_pickups() AS released;
SELECT reserved AS store_reserved_after FROM oms.stock_balances WHERE location_id = (SELECT id FROM oms.locations WHERE code = 'STORE')
   AND product_id = (SELECT id FROM oms.products WHERE sku = 'MUG');
SELECT o.status, o.cancel_reason, s.status AS shipment, p.voided FROM pk2 JOIN oms.orders o ON o.id = pk2.order_id
  JOIN oms.shipments s ON s.id = pk2.shipment_id JOIN oms.payments p ON p.order_id = o.id;
SELECT payload - 'ready_at' AS payload FROM oms.events WHERE kind = 'pickup_expired';
SELECT * FROM stores_try($$SELECT oms.hand_over((SELECT shipment_id FROM pk2), 'ABCDEFGH')$$);
SELECT oms.expire_pickups() AS released_again;

SELECT * FROM oms.check();
DROP VIEW counts;
DROP FUNCTION stores_try(text), sale(text, jsonb);
