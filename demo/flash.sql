-- demo/flash.sql: a flash sale. A limited grinder drops at 10:00: 40 units
-- at the Berlin warehouse. Before the drop the back office spreads them over
-- 8 slot rows (hot-product mode), so that buyers stop queueing on one row
-- lock; 50 buyers then try for one each: 40 get one, 10 are told sold out,
-- and oms.stock_levels shows one sum. After the drop the mode is turned off
-- and the free units fold back into one row.
-- Run by demo/run after demo/stores.sql. Nothing here is meant to fail, so
-- any error stops the demo.
\set ON_ERROR_STOP 1
\pset footer off
SET search_path = public, oms;

INSERT INTO oms.products (sku, name, kind, weight_kg, unit_cost)
VALUES ('GRIND-LTD-DROP', 'Hand grinder, limited edition (the drop)', 'stock', 0.8, 120.00);
SELECT oms.receive_stock('GRIND-LTD-DROP', 'WH-BER', 40, 'the drop') IS NOT NULL AS received;

\echo
\echo '== Before the drop: the 40 units spread over 8 slots (oms_admin) =='
SET ROLE oms_admin;
SELECT l ->> 'slots' AS slots, l -> 'balance' ->> 'available' AS available, l -> 'balance' -> 'slot_available' AS per_slot
  FROM jsonb_array_elements(oms.set_hot_product('GRIND-LTD-DROP', 8, 'WH-BER') -> 'locations') l;
RESET ROLE;

\echo
\echo '== 10:00: 50 buyers, one unit each (oms_app); a buyer who is too late gets OM001 =='
CREATE FUNCTION pg_temp.drop_buy(n int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM oms.place_order(jsonb_build_object('channel', 'web', 'external_id', 'DROP-' || n, 'currency', 'EUR',
        'lines', jsonb_build_array(jsonb_build_object('sku', 'GRIND-LTD-DROP', 'qty', 1, 'unit_price', 189.00))));
    RETURN 'got one';
EXCEPTION WHEN SQLSTATE 'OM001' THEN
    RETURN 'sold out';
END $$;
SET ROLE oms_app;
SELECT pg_temp.drop_buy(n) AS outcome, count(*) AS buyers FROM generate_series(1, 50) n GROUP BY 1 ORDER BY 1;
\echo '-- one sum for everyone who reads stock'
SELECT sku, location, on_hand, reserved, available FROM oms.stock_levels WHERE sku = 'GRIND-LTD-DROP';
RESET ROLE;
\echo '-- behind it, the slots (each reservation names its slot; the ledger has a row per slot)'
SELECT b.slot, b.on_hand, b.reserved FROM oms.stock_balances b JOIN oms.products p ON p.id = b.product_id
 WHERE p.sku = 'GRIND-LTD-DROP' ORDER BY b.slot;

\echo
\echo '== After the drop: two buyers cancel, the mode goes off, the free units fold back into slot 0 =='
SET ROLE oms_app;
SELECT oms.cancel_order(o.id, 'changed my mind') ->> 'status' AS status
  FROM oms.orders o WHERE o.external_id IN ('DROP-1', 'DROP-2') ORDER BY o.id;
RESET ROLE;
SET ROLE oms_admin;
SELECT l -> 'balance' ->> 'available' AS available, l -> 'balance' -> 'slot_available' AS per_slot
  FROM jsonb_array_elements(oms.set_hot_product('GRIND-LTD-DROP', 1) -> 'locations') l;
RESET ROLE;
SELECT count(*) AS violations FROM oms.check();
