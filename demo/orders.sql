-- demo/orders.sql: stock arrives, orders come in from several channels, one
-- is retried, one waits for stock, one is cancelled. Run by demo/run as an
-- application role would: oms_app can call the API but not write tables.
\set ON_ERROR_STOP 0
\pset footer off
SET search_path = public, oms;

\echo
\echo '== Goods receipts (oms.receive_stock), booked in the movement ledger =='
SET ROLE oms_app;
SELECT r ->> 'received' AS received, r -> 'balance' ->> 'sku' AS sku, r -> 'balance' ->> 'location' AS location,
       r -> 'balance' ->> 'on_hand' AS on_hand
  FROM (VALUES
    (oms.receive_stock('BEAN-ETH-250',   'WH-BER', 120, 'PO-2026-0412')),
    (oms.receive_stock('BEAN-ETH-250',   'WH-RTM',  60, 'PO-2026-0413')),
    (oms.receive_stock('BEAN-COL-250',   'WH-BER',  80, 'PO-2026-0412')),
    (oms.receive_stock('DRIP-V60-02',    'WH-BER',  25, 'PO-2026-0412')),
    (oms.receive_stock('FILTER-V60-100', 'WH-BER', 200, 'PO-2026-0412')),
    (oms.receive_stock('KETTLE-GOOSE',   'WH-BER',  12, 'PO-2026-0414')),
    (oms.receive_stock('KETTLE-GOOSE',   'ST-MUC',   4, 'transfer T-88')),
    (oms.receive_stock('GRIND-BURR-C40', 'WH-RTM',  15, 'PO-2026-0415')),
    (oms.receive_stock('ESP-MACH-SGL',   'WH-MIL',   2, 'PO-2026-0416')),
    (oms.receive_stock('TAMPER-58',      'WH-MIL',  10, 'PO-2026-0416'))) AS v(r);

\echo '== A web order, shipped to Hamburg: one location has everything, so no split =='
SELECT o ->> 'order_id' AS order_id, o ->> 'status' AS status, o ->> 'total' AS total,
       jsonb_path_query_array(o, '$.lines[*].locations[*]') AS reserved_at
  FROM oms.place_order('{"channel": "web", "external_id": "WEB-100234", "currency": "EUR",
        "customer": {"external_ref": "shop-10001", "email": "lena.fischer@example.de", "name": "Lena Fischer"},
        "ship_to": {"name": "Lena Fischer", "street": "Schulterblatt 58", "city": "Hamburg", "lat": 53.5627, "lon": 9.9617},
        "lines": [{"sku": "KIT-POUROVER", "qty": 1, "unit_price": 64.90, "tax": 10.36},
                  {"sku": "BEAN-COL-250", "qty": 2, "unit_price": 8.90, "tax": 2.84}]}') AS o;

\echo '== The shop times out and retries the same request: the same order comes back, marked replayed =='
SELECT o ->> 'order_id' AS order_id, o ->> 'replayed' AS replayed
  FROM oms.place_order('{"channel": "web", "external_id": "WEB-100234", "currency": "EUR",
        "customer": {"external_ref": "shop-10001", "email": "lena.fischer@example.de", "name": "Lena Fischer"},
        "ship_to": {"name": "Lena Fischer", "street": "Schulterblatt 58", "city": "Hamburg", "lat": 53.5627, "lon": 9.9617},
        "lines": [{"sku": "KIT-POUROVER", "qty": 1, "unit_price": 64.90, "tax": 10.36},
                  {"sku": "BEAN-COL-250", "qty": 2, "unit_price": 8.90, "tax": 2.84}]}') AS o;

\echo '== A marketplace order larger than any one warehouse: split over Berlin and Rotterdam =='
SELECT o ->> 'order_id' AS order_id, o ->> 'status' AS status,
       jsonb_path_query_array(o, '$.lines[*].locations[*]') AS reserved_at
  FROM oms.place_order('{"channel": "amazon-de", "external_id": "302-5518842-1190735", "currency": "EUR",
        "ship_to": {"city": "Cologne", "lat": 50.9375, "lon": 6.9603},
        "lines": [{"sku": "BEAN-ETH-250", "qty": 150, "unit_price": 7.50}]}') AS o;

\echo '== A wholesale order that may wait: policy backorder =='
SELECT o ->> 'order_id' AS order_id, o ->> 'status' AS status,
       jsonb_path_query_array(o, '$.lines[*] ? (@.backordered > 0) .sku') AS waiting_for,
       jsonb_path_query_array(o, '$.lines[*].backordered') AS backordered
  FROM oms.place_order('{"channel": "b2b", "external_id": "CAFE-KIEZ-0042", "currency": "EUR", "policy": "backorder",
        "customer": {"external_ref": "erp-C042"}, "hold_minutes": 0,
        "lines": [{"sku": "GRIND-BURR-C40", "qty": 20, "unit_price": 81.00},
                  {"sku": "BEAN-BRA-1K", "qty": 10, "unit_price": 12.00}]}') AS o;

\echo '== An app order that asks for more than there is (all_or_nothing): refused with every short line, nothing reserved =='
SELECT oms.place_order('{"channel": "app", "external_id": "APP-77812", "currency": "EUR",
        "lines": [{"sku": "ESP-MACH-SGL", "qty": 3, "unit_price": 499}, {"sku": "TAMPER-58", "qty": 30, "unit_price": 24}]}');

\echo '== A phone order for the espresso bundle, then the customer calls back and cancels =='
SELECT o ->> 'order_id' AS order_id, o ->> 'status' AS status
  FROM oms.place_order('{"channel": "phone", "external_id": "TEL-5521", "currency": "EUR",
        "customer": {"email": "marco.rossi@example.it", "name": "Marco Rossi"},
        "lines": [{"sku": "ESP-MACH-SGL", "qty": 1, "unit_price": 499}, {"sku": "TAMPER-58", "qty": 1, "unit_price": 24}]}') AS o;
SELECT c ->> 'status' AS status, c ->> 'reservations_released' AS released
  FROM oms.orders o, oms.cancel_order(o.id, 'customer called back') AS c WHERE o.external_id = 'TEL-5521';
SELECT c ->> 'note' AS second_cancel FROM oms.orders o, oms.cancel_order(o.id) AS c WHERE o.external_id = 'TEL-5521';

\echo '== The grinders arrive in Rotterdam: the waiting wholesale order is filled first =='
SELECT oms.receive_stock('GRIND-BURR-C40', 'WH-RTM', 10, 'PO-2026-0420') -> 'backorders_filled' AS filled;
SELECT oms.receive_stock('BEAN-BRA-1K', 'WH-BER', 40, 'PO-2026-0421') -> 'backorders_filled' AS filled;
SELECT external_id, status FROM oms.orders WHERE external_id = 'CAFE-KIEZ-0042';
RESET ROLE;

\echo '== Stock levels =='
SELECT * FROM oms.stock_levels ORDER BY location, sku;

\echo '== What can still be promised (kits: limited by their scarcest component) =='
SET ROLE oms_app;
SELECT sku, oms.available(sku) AS available FROM (VALUES ('BEAN-ETH-250'), ('KETTLE-GOOSE'), ('KIT-POUROVER'), ('KIT-ESPRESSO'), ('GIFT-WRAP')) v(sku);
\echo '-- and an app cannot move stock behind the ledger''s back:'
UPDATE oms.stock_balances SET on_hand = on_hand + 100;
RESET ROLE;

\echo '== The ledger: every change, with its reason and actor (last 8) =='
SELECT m.id, p.sku, l.code AS location, m.kind, m.on_hand_delta AS on_hand, m.reserved_delta AS reserved, m.reference, m.actor
  FROM oms.stock_movements m JOIN oms.products p ON p.id = m.product_id JOIN oms.locations l ON l.id = m.location_id
 ORDER BY m.id DESC LIMIT 8;

\echo '== oms.check(): every invariant holds (no rows) =='
SELECT * FROM oms.check();
