--
-- orders: place_order, cancel_order, expiry and backorders. Every bad input
-- gets its SQLSTATE and message, and changes nothing.
--
SET client_min_messages = warning;
SET search_path = public, oms;
\set VERBOSITY default
DROP EXTENSION oms CASCADE;
CREATE EXTENSION oms;

INSERT INTO oms.channels (code, name, kind, hold_minutes) VALUES
    ('web', 'Web', 'web', NULL), ('pos', 'Stores', 'pos', 0), ('old', 'Closed marketplace', 'marketplace', NULL);
UPDATE oms.channels SET active = false WHERE code = 'old';
INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority) VALUES
    ('BER', 'Berlin', 'warehouse', 52.52, 13.40, 10),
    ('MUC', 'Munich', 'warehouse', 48.14, 11.58, 10),
    ('HAM', 'Hamburg', 'store', 53.55, 9.99, 50);
INSERT INTO oms.products (sku, name, kind) VALUES
    ('A', 'Product A', 'stock'), ('B', 'Product B', 'stock'), ('C', 'Product C', 'stock'),
    ('D', 'Product D', 'stock'), ('KIT', 'A and two B', 'kit'), ('EMPTYKIT', 'No components', 'kit'),
    ('WRAP', 'Gift wrap', 'service'), ('GONE', 'Discontinued', 'stock');
UPDATE oms.products SET active = false WHERE sku IN ('GONE', 'EMPTYKIT');
INSERT INTO oms.kit_components SELECT k.id, c.id, v.q FROM (VALUES ('A', 1), ('B', 2)) v(sku, q)
  JOIN oms.products c ON c.sku = v.sku, oms.products k WHERE k.sku = 'KIT';
INSERT INTO oms.customers (external_ref, email, name, flags) VALUES ('vip-1', 'vip@example.com', 'Very Important', '{vip}');
SELECT oms.receive_stock('A', 'BER', 10) IS NOT NULL, oms.receive_stock('B', 'BER', 10) IS NOT NULL,
       oms.receive_stock('A', 'MUC', 10) IS NOT NULL, oms.receive_stock('C', 'MUC', 4) IS NOT NULL,
       oms.receive_stock('C', 'HAM', 3) IS NOT NULL;

-- what the tests show of an order document: no timestamps
CREATE FUNCTION doc(j jsonb) RETURNS jsonb LANGUAGE sql AS
$$ SELECT j - 'placed_at' - 'expires_at' $$;
CREATE VIEW counts AS
SELECT (SELECT count(*) FROM oms.orders) AS orders, (SELECT count(*) FROM oms.order_lines) AS lines,
       (SELECT count(*) FROM oms.reservations) AS reservations, (SELECT count(*) FROM oms.stock_movements) AS movements,
       (SELECT count(*) FROM oms.customers) AS customers, (SELECT sum(reserved) FROM oms.stock_balances) AS reserved;
SELECT * FROM counts;

-- ---------------------------------------------------------------------------
-- bad input: each raises, nothing changes
-- ---------------------------------------------------------------------------
SELECT oms.place_order('{"channel": "web", ');
SELECT oms.place_order(NULL);
SELECT oms.place_order('null');
SELECT oms.place_order('[]');
SELECT oms.place_order('"an order"');
SELECT oms.place_order('42');
SELECT oms.place_order('{}');
SELECT oms.place_order('{"channel": "web"}');
SELECT oms.place_order('{"channel": "web", "external_id": "x"}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR"}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": []}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": {}}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": "A"}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": ["A"]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "polcy": "partial", "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"sku": "A", "qty": 1, "unit_price": 1, "colour": "red"}]}');
SELECT oms.place_order('{"channel": 7, "external_id": "x", "currency": "EUR", "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": 12, "currency": "EUR", "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "  ", "currency": "EUR", "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "eur", "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EURO", "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "policy": "maybe", "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"qty": 1, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"sku": "A", "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"sku": "A", "qty": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"sku": "A", "qty": "3", "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"sku": "A", "qty": 1.5, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"sku": "A", "qty": 0, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"sku": "A", "qty": -2, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"sku": "A", "qty": 1000001, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"sku": "A", "qty": 2147483648, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"sku": "A", "qty": 1e30, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"sku": "A", "qty": null, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"sku": "A", "qty": 1, "unit_price": "abc"}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"sku": "A", "qty": 1, "unit_price": -1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"sku": "A", "qty": 1, "unit_price": 1e15}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"sku": "A", "qty": 2, "unit_price": 5, "discount": 11}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"sku": "A", "qty": 1, "unit_price": 5, "tax": -0.5}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "hold_minutes": -1, "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "hold_minutes": 2.5, "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "flags": "vip", "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "flags": ["VIP"], "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "notes": 5, "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "customer": {}, "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "customer": {"email": "not-an-address"}, "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "customer": {"email": "a@b.c", "phone": "1"}, "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "customer": "ann", "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "ship_to": {"lat": 91, "lon": 0}, "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "ship_to": {"lat": 52.5}, "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "ship_to": {"lat": "52.5", "lon": 13.4}, "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}');
SELECT oms.place_order(jsonb_build_object('channel', 'web', 'external_id', 'x', 'currency', 'EUR',
       'lines', (SELECT jsonb_agg(jsonb_build_object('sku', 'A', 'qty', 1, 'unit_price', 1)) FROM generate_series(1, 501))));
SELECT oms.place_order('{"channel": "fax", "external_id": "x", "currency": "EUR", "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "old", "external_id": "x", "currency": "EUR", "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"sku": "NOPE", "qty": 1, "unit_price": 1}, {"sku": "A", "qty": 1, "unit_price": 1}, {"sku": "a", "qty": 1, "unit_price": 1}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"sku": "GONE", "qty": 1, "unit_price": 1}]}');
UPDATE oms.products SET active = true WHERE sku = 'EMPTYKIT';
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"sku": "EMPTYKIT", "qty": 1, "unit_price": 1}]}');
UPDATE oms.products SET active = false WHERE sku = 'EMPTYKIT';
-- too little stock: every short product is listed, nothing is reserved
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"sku": "A", "qty": 25, "unit_price": 1}, {"sku": "B", "qty": 3, "unit_price": 1}, {"sku": "D", "qty": 1, "unit_price": 1}]}');
-- same-sku lines are summed before reserving: 12 + 12 of A exceed the 20 there are
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"sku": "A", "qty": 12, "unit_price": 1}, {"sku": "A", "qty": 12, "unit_price": 1}]}');
-- a kit is short when a component is: 6 kits need 12 of B
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "lines": [{"sku": "KIT", "qty": 6, "unit_price": 1}]}');
-- partial with nothing at all available
SELECT oms.place_order('{"channel": "web", "external_id": "x", "currency": "EUR", "policy": "partial", "lines": [{"sku": "D", "qty": 1, "unit_price": 1}]}');
SELECT * FROM counts;

-- ---------------------------------------------------------------------------
-- placing
-- ---------------------------------------------------------------------------
-- one location can take the whole order: no split; equal priority, so the
-- one nearest to the ship-to (Munich) wins over Berlin
SELECT doc(oms.place_order('{"channel": "web", "external_id": "W-1", "currency": "EUR",
    "customer": {"external_ref": "shop-7", "email": "Ann@Example.com", "name": "Ann"},
    "ship_to": {"name": "Ann", "city": "Augsburg", "lat": 48.37, "lon": 10.90},
    "flags": ["gift"], "notes": "leave at the door",
    "lines": [{"sku": "A", "qty": 2, "unit_price": 9.90, "discount": 1.80, "tax": 3.42},
              {"sku": "WRAP", "qty": 1, "unit_price": 2.50}]}'));
-- the retry returns the same order, marked as a replay, and changes nothing
SELECT * FROM counts;
SELECT doc(oms.place_order('{"channel": "web", "external_id": "W-1", "currency": "EUR",
    "customer": {"external_ref": "shop-7", "email": "Ann@Example.com", "name": "Ann"},
    "ship_to": {"name": "Ann", "city": "Augsburg", "lat": 48.37, "lon": 10.90},
    "flags": ["gift"], "notes": "leave at the door",
    "lines": [{"sku": "A", "qty": 2, "unit_price": 9.90, "discount": 1.80, "tax": 3.42},
              {"sku": "WRAP", "qty": 1, "unit_price": 2.50}]}')) ->> 'replayed' AS replayed;
SELECT * FROM counts;
-- the same external_id with another document is refused
SELECT oms.place_order('{"channel": "web", "external_id": "W-1", "currency": "EUR", "lines": [{"sku": "A", "qty": 3, "unit_price": 9.90}]}');
-- ... but the same external_id on another channel is another order
SELECT doc(oms.place_order('{"channel": "pos", "external_id": "W-1", "currency": "EUR", "customer": {"email": "ann@example.com"}, "lines": [{"sku": "C", "qty": 1, "unit_price": 5}]}')) - 'lines';
SELECT o.external_id, c.code AS channel, cu.external_ref, cu.email, o.total, o.hold_minutes, o.expires_at IS NOT NULL AS expires
  FROM oms.orders o JOIN oms.channels c ON c.id = o.channel_id LEFT JOIN oms.customers cu ON cu.id = o.customer_id ORDER BY o.id;

-- no single location has 15 of A: split, priority then distance (Berlin first for a Hamburg ship-to)
SELECT doc(oms.place_order('{"channel": "web", "external_id": "W-2", "currency": "EUR", "ship_to": {"lat": 53.55, "lon": 9.99},
    "lines": [{"sku": "A", "qty": 15, "unit_price": 1}]}')) -> 'lines';
-- partial: the 3 of A left (in Munich) are reserved and 4 cancelled; B
-- comes from Berlin (split allowed)
SELECT doc(oms.place_order('{"channel": "web", "external_id": "W-3", "currency": "EUR", "policy": "partial",
    "lines": [{"sku": "A", "qty": 7, "unit_price": 10}, {"sku": "B", "qty": 6, "unit_price": 10}]}')) -> 'lines';
SELECT oms.available('KIT') AS kits_left, oms.available('A') AS a_left, oms.available('B') AS b_left;
-- partial: what is there is reserved, the rest cancelled
SELECT doc(oms.place_order('{"channel": "web", "external_id": "W-4", "currency": "EUR", "policy": "partial",
    "lines": [{"sku": "C", "qty": 9, "unit_price": 1}, {"sku": "D", "qty": 2, "unit_price": 1}]}')) -> 'lines';
-- backorder: the rest waits for stock; the order is backordered
SELECT doc(oms.place_order('{"channel": "web", "external_id": "W-5", "currency": "EUR", "policy": "backorder",
    "lines": [{"sku": "D", "qty": 3, "unit_price": 1}, {"sku": "A", "qty": 2, "unit_price": 1}]}'));
SELECT doc(oms.place_order('{"channel": "web", "external_id": "W-6", "currency": "EUR", "policy": "backorder",
    "customer": {"external_ref": "vip-1"}, "lines": [{"sku": "D", "qty": 2, "unit_price": 1}]}')) ->> 'status' AS vip_order;
-- receiving D fills the VIP order first although it is newer, then the oldest
SELECT oms.receive_stock('D', 'HAM', 3) -> 'backorders_filled' AS filled;
SELECT external_id, status FROM oms.orders WHERE external_id IN ('W-5', 'W-6') ORDER BY 1;
SELECT oms.receive_stock('D', 'HAM', 5) -> 'backorders_filled' AS filled;
SELECT external_id, status FROM oms.orders WHERE external_id IN ('W-5', 'W-6') ORDER BY 1;
-- reservations cannot hide a short count
SELECT oms.adjust_stock('D', 'HAM', 1, 'count');

-- hold: channel setting 0 (pos) never expires, GUC for web, per-order override
SET oms.hold_minutes = 15;
SELECT oms.place_order('{"channel": "web", "external_id": "W-7", "currency": "EUR", "lines": [{"sku": "B", "qty": 1, "unit_price": 1}]}') ->> 'status' AS w7;
SELECT oms.place_order('{"channel": "web", "external_id": "W-8", "currency": "EUR", "hold_minutes": 0, "lines": [{"sku": "B", "qty": 1, "unit_price": 1}]}') ->> 'status' AS w8;
RESET oms.hold_minutes;
SELECT o.external_id, c.code AS channel, o.hold_minutes, round(extract(epoch FROM o.expires_at - o.placed_at) / 60) AS minutes
  FROM oms.orders o JOIN oms.channels c ON c.id = o.channel_id
 WHERE o.external_id IN ('W-1', 'W-7', 'W-8') ORDER BY 1, 2;
SET oms.hold_minutes = -1;
SET oms.hold_minuts = 5;
-- free memory a backend keeps between calls: in kB, -1 restores the C
-- library's defaults; a superuser's setting (PGC_SUSET)
SHOW oms.malloc_trim_threshold;
SET oms.malloc_trim_threshold = -1;
SET oms.malloc_trim_threshold = '64MB';
SHOW oms.malloc_trim_threshold;
SET oms.malloc_trim_threshold = -2;
RESET oms.malloc_trim_threshold;
CREATE ROLE oms_malloc_probe;
SET ROLE oms_malloc_probe;
SET oms.malloc_trim_threshold = '1MB';
RESET ROLE;
DROP ROLE oms_malloc_probe;

-- ---------------------------------------------------------------------------
-- cancelling
-- ---------------------------------------------------------------------------
SELECT oms.cancel_order(NULL);
SELECT oms.cancel_order(987654);
SELECT doc(oms.cancel_order(o.id, 'customer changed their mind')) - 'lines' FROM oms.orders o WHERE external_id = 'W-2';
SELECT doc(oms.cancel_order(o.id)) ->> 'note' AS second_cancel FROM oms.orders o WHERE external_id = 'W-2';
SELECT status, cancel_reason FROM oms.orders WHERE external_id = 'W-2';
-- a backordered order gives back its reservations and its backorders
SELECT doc(oms.place_order('{"channel": "web", "external_id": "W-9", "currency": "EUR", "policy": "backorder",
    "lines": [{"sku": "C", "qty": 50, "unit_price": 1}]}')) -> 'lines' -> 0 -> 'backordered' AS w9_backordered;
SELECT doc(oms.cancel_order(o.id)) -> 'lines' FROM oms.orders o WHERE external_id = 'W-9';
-- a shipped order cannot be cancelled (shipping arrives with fulfillment;
-- here a line is marked shipped by hand inside a rolled-back transaction)
BEGIN;
UPDATE oms.order_lines l SET qty_reserved = qty_reserved - 1, qty_shipped = 1
  FROM oms.orders o WHERE o.id = l.order_id AND o.external_id = 'W-7';
SELECT oms.cancel_order(o.id) FROM oms.orders o WHERE external_id = 'W-7';
ROLLBACK;

-- ---------------------------------------------------------------------------
-- expiry
-- ---------------------------------------------------------------------------
SELECT oms.expire_reservations() AS nothing_lapsed_yet;
-- web orders W-1 and W-7 lapse (backdated by hand: the hold is minutes long)
UPDATE oms.orders o SET expires_at = now() - interval '1 minute'
  FROM oms.channels c WHERE c.id = o.channel_id AND c.code = 'web' AND o.external_id IN ('W-7', 'W-1');
SELECT oms.expire_reservations() AS released;
SELECT o.external_id, c.code AS channel, o.status, o.cancel_reason, o.expires_at IS NULL AS hold_cleared
  FROM oms.orders o JOIN oms.channels c ON c.id = o.channel_id WHERE o.external_id IN ('W-1', 'W-7') ORDER BY 1, 2;
SELECT doc(oms.cancel_order(o.id)) ->> 'note' AS cancel_expired FROM oms.orders o WHERE external_id = 'W-7';
SELECT oms.expire_reservations() AS again;
-- lazy expiry: an order that finds too little stock first releases lapsed
-- holds on that product. W-10 takes the last C, its hold lapses, W-11 gets it.
SELECT oms.receive_stock('C', 'MUC', 1) -> 'balance' ->> 'available' AS c_received;
SELECT oms.available('C') AS c_before;
SELECT doc(oms.place_order('{"channel": "web", "external_id": "W-10", "currency": "EUR", "lines": [{"sku": "C", "qty": 1, "unit_price": 1}]}')) ->> 'status' AS w10;
UPDATE oms.orders SET expires_at = now() - interval '1 minute' WHERE external_id = 'W-10';
SELECT oms.available('C') AS c_all_held;
SELECT doc(oms.place_order('{"channel": "web", "external_id": "W-11", "currency": "EUR", "lines": [{"sku": "C", "qty": 1, "unit_price": 1}]}')) -> 'lines' -> 0 -> 'reserved' AS w11_reserved;
SELECT external_id, status FROM oms.orders WHERE external_id IN ('W-10', 'W-11') ORDER BY 1;

-- ---------------------------------------------------------------------------
-- the books balance
-- ---------------------------------------------------------------------------
SELECT * FROM oms.stock_levels ORDER BY sku, location;
SELECT m.kind, count(*), sum(m.reserved_delta) AS reserved_delta FROM oms.stock_movements m GROUP BY 1 ORDER BY 1;
SELECT * FROM oms.check();

-- two lines that need the same product share what there is: a repeated sku
-- (3 of B are free at BER) ...
SELECT doc(oms.place_order('{"channel": "web", "external_id": "W-12", "currency": "EUR", "policy": "partial",
    "lines": [{"sku": "B", "qty": 2, "unit_price": 1}, {"sku": "B", "qty": 2, "unit_price": 1}]}')) -> 'lines';
-- ... and a kit next to one of its own components, both waiting for B
SELECT doc(oms.place_order('{"channel": "web", "external_id": "W-13", "currency": "EUR", "policy": "backorder",
    "lines": [{"sku": "KIT", "qty": 1, "unit_price": 30}, {"sku": "B", "qty": 1, "unit_price": 1}]}')) -> 'lines';
-- a receipt of B fills the kit (whole kits: 2 B with an A at the same place) and the B line
SELECT oms.receive_stock('B', 'BER', 3) -> 'backorders_filled' AS filled;
SELECT doc(oms.get_order(o.id)) -> 'lines' FROM oms.orders o WHERE external_id = 'W-13';
SELECT * FROM oms.check();

-- units freed by a cancel or an expiry go to waiting backorders first
SELECT oms.available('D') AS d_free;
SELECT (doc(oms.place_order('{"channel": "web", "external_id": "W-14", "currency": "EUR", "policy": "backorder",
    "lines": [{"sku": "D", "qty": 4, "unit_price": 1}]}')) -> 'lines' -> 0) - 'locations' AS w14;
SELECT c -> 'backorders_filled' = jsonb_build_array(jsonb_build_object('order_id', w14.id, 'line_no', 1, 'qty', 1)) AS w14_filled_by_cancel,
       c ->> 'status' AS w6_status
  FROM oms.orders o, oms.orders w14, oms.cancel_order(o.id, 'out of stock elsewhere') AS c
 WHERE o.external_id = 'W-6' AND w14.external_id = 'W-14';
SELECT external_id, status FROM oms.orders WHERE external_id = 'W-14';
SELECT (doc(oms.place_order('{"channel": "web", "external_id": "W-15", "currency": "EUR", "policy": "backorder",
    "lines": [{"sku": "D", "qty": 2, "unit_price": 1}]}')) -> 'lines' -> 0) - 'locations' AS w15;
UPDATE oms.orders SET expires_at = now() - interval '1 minute' WHERE external_id = 'W-5';
SELECT oms.expire_reservations() AS released;
SELECT external_id, status FROM oms.orders WHERE external_id IN ('W-5', 'W-15') ORDER BY 1;
SELECT * FROM oms.stock_levels WHERE sku = 'D';
SELECT * FROM oms.check();

-- lowering safety stock frees units: waiting backorders are filled from them
SELECT oms.receive_stock('C', 'HAM', 2) -> 'backorders_filled' AS filled_by_receipt;
SELECT oms.set_safety_stock('C', 'HAM', 2) -> 'balance' ->> 'available' AS held_back;
SELECT (doc(oms.place_order('{"channel": "web", "external_id": "W-16", "currency": "EUR", "policy": "backorder",
    "lines": [{"sku": "C", "qty": 1, "unit_price": 1}]}')) -> 'lines' -> 0) ->> 'backordered' AS w16_waits;
SELECT f -> 'backorders_filled' = jsonb_build_array(jsonb_build_object('order_id', w16.id, 'line_no', 1, 'qty', 1)) AS w16_filled,
       f ->> 'previous_safety_stock' AS previous
  FROM oms.set_safety_stock('C', 'HAM', 0) AS f, oms.orders w16 WHERE w16.external_id = 'W-16';
SELECT external_id, status FROM oms.orders WHERE external_id = 'W-16';
SELECT * FROM oms.check();

-- a kit ships from one place, so its components are reserved together: with
-- KIT's A free only in Munich and its B only in Berlin and Hamburg no whole
-- kit exists, so oms.available counts none, all_or_nothing says which kit
-- cannot be assembled, and partial finds nothing it can serve
SELECT oms.receive_stock('B', 'HAM', 4) IS NOT NULL AS b_in_hamburg, oms.receive_stock('A', 'MUC', 2) IS NOT NULL AS a_in_munich;
SELECT oms.available('KIT') AS kits, oms.available('KIT', 'MUC') AS kits_munich, oms.available('A', 'MUC') AS a_munich,
       oms.available('B', 'HAM') AS b_hamburg;
CREATE TABLE before AS SELECT * FROM counts;
SELECT oms.place_order('{"channel": "web", "external_id": "K-1", "currency": "EUR", "split": "allow",
    "lines": [{"sku": "KIT", "qty": 1, "unit_price": 30}]}');
SELECT oms.place_order('{"channel": "web", "external_id": "K-2", "currency": "EUR", "policy": "partial",
    "lines": [{"sku": "KIT", "qty": 1, "unit_price": 30}]}');
SELECT (SELECT row(b.*)::text FROM before b) = (SELECT row(c.*)::text FROM counts c) AS nothing_written;
DROP TABLE before;
SELECT * FROM oms.check();

-- ship_to is scanned for card numbers in its strings only: the decimals of
-- a geocoded coordinate are a digit run that passes the Luhn check one time
-- in ten, and must not turn an order away
SELECT oms.contains_card_number('47.43247700878404') AS digits_alone_look_like_a_card;
SELECT oms.place_order('{"channel": "web", "external_id": "GEO-1", "currency": "EUR",
    "ship_to": {"name": "Geo", "lat": 47.43247700878404, "lon": 8.5}, "lines": [{"sku": "WRAP", "qty": 1, "unit_price": 1}]}') ->> 'status' AS accepted;
SELECT oms.place_order('{"channel": "web", "external_id": "GEO-2", "currency": "EUR",
    "ship_to": {"name": "Geo", "line2": "4111 1111 1111 1111", "lat": 47.4, "lon": 8.5}, "lines": [{"sku": "WRAP", "qty": 1, "unit_price": 1}]}');
SELECT * FROM oms.check();
