--
-- flash: hot products for flash sales (issue 15)
--   1. oms.set_hot_product spreads the free units of a balance over slot
--      rows (slot 0 keeps the safety stock and the damaged units); 1 slot
--      folds them back; every bad input is refused and changes nothing;
--   2. reservations take units slot by slot, releases and cancels give them
--      back to their slots; receipts spread over the slots, counts,
--      write-offs, damage and safety stock gather them first;
--   3. everything that reads a balance sees the sum (stock_levels,
--      available, routing, report_inventory);
--   4. oms.rebalance_hot_product evens the slots out;
--   5. oms.check() stays empty, slot by slot.
--
SET client_min_messages = warning;
\set SHOW_CONTEXT never
DROP EXTENSION IF EXISTS oms CASCADE; CREATE EXTENSION oms;
SELECT setseed(0.25);
INSERT INTO oms.channels (code, name, kind, hold_minutes) VALUES ('web', 'Web', 'web', 0);
INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority) VALUES
    ('WH1', 'Warehouse 1', 'warehouse', 52.52, 13.40, 10),
    ('WH2', 'Warehouse 2', 'warehouse', 50.11, 8.68, 20);
INSERT INTO oms.products (sku, name, kind) VALUES
    ('DROP', 'The drop', 'stock'), ('MUG', 'Mug', 'stock'), ('KIT', 'Kit', 'kit'), ('WRAP', 'Gift wrap', 'service');
INSERT INTO oms.kit_components (kit_id, component_id, qty)
SELECT k.id, c.id, 1 FROM oms.products k, oms.products c WHERE k.sku = 'KIT' AND c.sku = 'DROP';
SELECT oms.receive_stock('DROP', 'WH1', 40) IS NOT NULL AS received, oms.receive_stock('DROP', 'WH2', 5) IS NOT NULL AS received;

CREATE FUNCTION try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
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
CREATE FUNCTION buy(ext text, qty int, sku text DEFAULT 'DROP') RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
BEGIN
    r := oms.place_order(jsonb_build_object('channel', 'web', 'external_id', ext, 'currency', 'EUR',
             'lines', jsonb_build_array(jsonb_build_object('sku', sku, 'qty', qty, 'unit_price', 5))));
    RETURN (r -> 'lines' -> 0 ->> 'reserved') || ' reserved';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
CREATE VIEW counts AS
SELECT (SELECT count(*) FROM oms.stock_movements) AS movements, (SELECT count(*) FROM oms.hot_balances) AS hot,
       (SELECT count(*) FROM oms.stock_balances) AS balance_rows;
CREATE VIEW slots AS
SELECT l.code AS location, b.slot, b.on_hand, b.reserved, b.damaged, b.safety_stock
  FROM oms.stock_balances b JOIN oms.locations l ON l.id = b.location_id JOIN oms.products p ON p.id = b.product_id
 WHERE p.sku = 'DROP' ORDER BY l.code, b.slot;

-- 1. bad inputs: each refused, nothing written
SELECT * FROM counts;
SELECT try($$SELECT oms.set_hot_product(NULL, 4)$$) AS null_sku;
SELECT try($$SELECT oms.set_hot_product('DROP', NULL)$$) AS null_slots;
SELECT try($$SELECT oms.set_hot_product('NOPE', 4)$$) AS unknown_sku;
SELECT try($$SELECT oms.set_hot_product('KIT', 4)$$) AS kit;
SELECT try($$SELECT oms.set_hot_product('WRAP', 4)$$) AS service;
SELECT try($$SELECT oms.set_hot_product('DROP', 0)$$) AS zero_slots;
SELECT try($$SELECT oms.set_hot_product('DROP', 65)$$) AS too_many_slots;
SELECT try($$SELECT oms.set_hot_product('DROP', -2147483648)$$) AS huge_negative;
SELECT try($$SELECT oms.set_hot_product('DROP', 4, 'NOWHERE')$$) AS unknown_location;
SELECT try($$SELECT oms.set_hot_product('MUG', 4)$$) AS no_stock_anywhere;
SELECT try(format('SELECT oms.set_hot_product(%L, 4)', repeat('x', 65))) AS long_sku;
SELECT try(format('SELECT oms.set_hot_product(%L, 4, %L)', 'DROP', repeat('x', 33))) AS long_location;
SELECT try($$SELECT oms.rebalance_hot_product(NULL)$$) AS rebalance_null;
SELECT try($$SELECT oms.rebalance_hot_product('NOPE')$$) AS rebalance_unknown;
SELECT try($$SELECT oms.rebalance_hot_product('DROP', 'NOWHERE')$$) AS rebalance_unknown_location;
SELECT * FROM counts;

-- 2. on: the 40 units at WH1 over 4 slots (10 each); WH2 is left alone
SELECT oms.set_hot_product('DROP', 4, 'WH1');
SELECT p.sku, l.code, h.slots FROM oms.hot_balances h JOIN oms.products p ON p.id = h.product_id
  JOIN oms.locations l ON l.id = h.location_id;
SELECT * FROM slots;
SELECT slot, kind, on_hand_delta, reference FROM oms.stock_movements WHERE kind = 'rebalance' ORDER BY id;
-- the sum everywhere
SELECT sku, location, on_hand, reserved, available FROM oms.stock_levels WHERE sku = 'DROP' ORDER BY location;
SELECT oms.available('DROP') AS total, oms.available('DROP', 'WH1') AS wh1, oms.available('KIT') AS kits;
SELECT sku, location, on_hand, reserved, available FROM oms.report_inventory WHERE sku = 'DROP' ORDER BY location;
-- again is a no-op; a second call with the same slots moves nothing
SELECT oms.set_hot_product('DROP', 4, 'WH1') -> 'locations' -> 0 -> 'moved' AS moved_again;

-- orders: units from the slots, one reservation per slot used
SELECT buy('o1', 1), buy('o2', 3), buy('o3', 12), buy('k1', 2, 'KIT');
SELECT o.external_id, count(r.id) AS reservations, sum(r.qty) AS units, count(DISTINCT r.slot) AS slots
  FROM oms.orders o JOIN oms.reservations r ON r.order_id = o.id GROUP BY 1 ORDER BY 1;
SELECT sum(on_hand) AS on_hand, sum(reserved) AS reserved FROM slots WHERE location = 'WH1';
SELECT sku, location, on_hand, reserved, available FROM oms.stock_levels WHERE sku = 'DROP' ORDER BY location;
SELECT * FROM oms.check();
-- routing sees the sum: an order bigger than any slot still goes to WH1 in one piece
SELECT buy('o4', 15);
SELECT r.location_id, sum(r.qty) FROM oms.reservations r JOIN oms.orders o ON o.id = r.order_id
 WHERE o.external_id = 'o4' GROUP BY 1;
SELECT * FROM oms.check();

-- a cancel gives the units back to their slots
SELECT oms.cancel_order(id, 'changed mind') ->> 'status' AS cancelled FROM oms.orders WHERE external_id = 'o3';
SELECT sum(on_hand) AS on_hand, sum(reserved) AS reserved FROM slots WHERE location = 'WH1';
SELECT * FROM oms.check();

-- a receipt spreads over the slots
SELECT oms.receive_stock('DROP', 'WH1', 8) -> 'balance' ->> 'available' AS available;
SELECT count(*) FILTER (WHERE on_hand > reserved) AS slots_with_free_units FROM slots WHERE location = 'WH1';
SELECT * FROM oms.check();

-- rebalance evens the free units out
SELECT oms.rebalance_hot_product('DROP', 'WH1') -> 'locations' -> 0 -> 'balance' -> 'slot_available' AS slot_available;
SELECT * FROM oms.check();

-- counts, safety stock, damage and write-offs work on the sum (gathering on slot 0)
SELECT oms.adjust_stock('DROP', 'WH1', 44, 'cycle count') -> 'balance' AS counted;
SELECT oms.set_safety_stock('DROP', 'WH1', 3) -> 'balance' AS safety;
SELECT oms.mark_damaged('DROP', 'WH1', 2, 'forklift') -> 'balance' AS damaged;
SELECT oms.write_off('DROP', 'WH1', 1, 'lost', 'sellable') -> 'balance' AS written_off;
SELECT * FROM slots WHERE location = 'WH1' AND (slot = 0 OR on_hand > reserved);
SELECT * FROM oms.check();
-- a count below what is reserved is still refused
SELECT try($$SELECT oms.adjust_stock('DROP', 'WH1', 1, 'recount')$$) AS below_reserved;

-- fewer slots: the free units of slots 2 and 3 move to slots 0 and 1
SELECT oms.set_hot_product('DROP', 2, 'WH1') -> 'locations' -> 0 -> 'balance' -> 'slot_available' AS slot_available;
SELECT * FROM oms.check();

-- 5. off: the free units back on slot 0; reservations stay on their slots
SELECT oms.set_hot_product('DROP', 1) -> 'locations' AS off;
SELECT count(*) AS hot FROM oms.hot_balances;
SELECT count(*) FILTER (WHERE slot > 0 AND on_hand > reserved) AS free_units_off_slot_0 FROM slots;
SELECT buy('o5', 2);
SELECT sku, location, on_hand, reserved, available FROM oms.stock_levels WHERE sku = 'DROP' ORDER BY location;
SELECT * FROM oms.check();

-- the write guard covers the slot rows too
SELECT try($$UPDATE oms.stock_balances SET on_hand = on_hand + 1 WHERE slot = 1$$) AS direct_write;

DROP VIEW counts, slots;
DROP FUNCTION try(text), buy(text, int, text);
