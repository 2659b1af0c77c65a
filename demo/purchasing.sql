-- demo/purchasing.sql: purchasing. A lantern sells down at the Berlin
-- warehouse: the order that drops it to its reorder point proposes a
-- purchase order in its own transaction (oms.propose_on_low_stock); a
-- customer's order beyond the stock waits as a backorder and is told when
-- the goods are expected; the purchase order is sent (its text document),
-- partly received with one unit damaged, which fills the backorder; the
-- damaged unit is written off; the order ships (cost of goods sold), and
-- the reports show purchase order reconciliation and the gross margin.
-- Run by demo/run after demo/returns.sql. Nothing here is meant to fail,
-- so any error stops the demo.
\set ON_ERROR_STOP 1
\pset footer off
\pset null '-'
SET search_path = public, oms;

\echo
\echo '== A supplier and its offer: cost, lead time, minimum order quantity and pack size =='
INSERT INTO oms.products (sku, name, kind, weight_kg, reorder_point, reorder_qty) VALUES
    ('LANTERN', 'Camping lantern', 'stock', 0.600, 4, 10);
INSERT INTO oms.suppliers (code, name, email, address) VALUES
    ('LUMEN', 'Lumen Outdoor BV', 'orders@lumen.example', E'Havenstraat 4\n3011 Rotterdam');
INSERT INTO oms.supplier_products (supplier_id, product_id, supplier_sku, unit_cost, currency, lead_time_days, min_order_qty, pack_size, preferred)
SELECT s.id, p.id, 'LU-200', 11.40, 'EUR', 6, 12, 6, true FROM oms.suppliers s, oms.products p
 WHERE s.code = 'LUMEN' AND p.sku = 'LANTERN';
SELECT s.code AS supplier, p.sku, sp.supplier_sku, sp.unit_cost, sp.currency, sp.lead_time_days, sp.min_order_qty, sp.pack_size, sp.preferred
  FROM oms.supplier_products sp JOIN oms.suppliers s ON s.id = sp.supplier_id JOIN oms.products p ON p.id = sp.product_id
 WHERE p.sku = 'LANTERN';

\echo
\echo '== The first stock arrives on a purchase order, valued at cost (Dr inventory, Cr goods received not invoiced) =='
SELECT (oms.create_purchase_order('LUMEN', 'WH-BER', '[{"sku": "LANTERN", "qty": 6}]') ->> 'purchase_order_id')::bigint AS first_po \gset
SELECT oms.send_purchase_order(:first_po) ->> 'status' AS status;
SELECT r ->> 'status' AS status, r -> 'received' AS received
  FROM oms.receive_purchase_order(:first_po, 'WH-BER', '[{"sku": "LANTERN", "qty": 6}]') r;
SELECT sku, location, on_hand, available, incoming FROM oms.stock_levels WHERE sku = 'LANTERN';

\echo
\echo '== A sell-down: with oms.propose_on_low_stock on, the order that drops the lantern to its reorder point (4) proposes a purchase order in the same transaction =='
SET oms.propose_on_low_stock = on;
SELECT o ->> 'order_id' AS order_id, o ->> 'status' AS status
  FROM oms.place_order('{"channel": "web", "external_id": "demo-lantern-1", "currency": "EUR",
         "customer": {"external_ref": "shop-10002"},
         "ship_to": {"name": "Marco Rossi", "line1": "Via Roma 1", "postal_code": "20121", "city": "Milano", "country": "IT", "lat": 45.4642, "lon": 9.1900},
         "lines": [{"sku": "LANTERN", "qty": 3, "unit_price": 29.90}]}') o;
RESET oms.propose_on_low_stock;
\echo '-- available 3 + incoming 0 <= 4: max(reorder_qty 10, 4 + 1 - 3) = 10, rounded up to the MOQ 12 (a multiple of the pack of 6):'
SELECT payload FROM oms.events WHERE kind = 'purchase_order_proposed' ORDER BY id DESC LIMIT 1;
SELECT sku, location, on_hand, reserved, available, incoming FROM oms.stock_levels WHERE sku = 'LANTERN';
\echo '-- a second sweep proposes nothing more: the draft already counts as incoming'
SELECT oms.propose_purchase_orders() -> 'proposed' AS proposed_again;

\echo
\echo '== Lena (VIP) orders 5: 3 are there, 2 wait as a backorder =='
SELECT o ->> 'order_id' AS order_id, o ->> 'status' AS status, o -> 'lines' -> 0 -> 'backordered' AS backordered
  FROM oms.place_order('{"channel": "web", "external_id": "demo-lantern-2", "currency": "EUR", "policy": "backorder",
         "customer": {"external_ref": "shop-10001"},
         "ship_to": {"name": "Lena Fischer", "line1": "Torstr. 1", "postal_code": "10119", "city": "Berlin", "country": "DE", "lat": 52.53, "lon": 13.40},
         "lines": [{"sku": "LANTERN", "qty": 5, "unit_price": 29.90}]}') o;

\echo
\echo '== The proposed purchase order is sent: expected dates from the lead time, a text document for the supplier =='
SELECT purchase_order_id AS po FROM oms.report_purchase_orders WHERE supplier = 'LUMEN' AND status = 'draft' \gset
SELECT oms.send_purchase_order(:po) ->> 'document' AS document;
\echo '-- Lena''s backorder now has an expected date, in get_order and in the delay message:'
SELECT l ->> 'sku' AS sku, l ->> 'backordered' AS backordered, l ->> 'expected_on' AS expected_on
  FROM jsonb_array_elements(oms.get_order((SELECT id FROM oms.orders WHERE external_id = 'demo-lantern-2')) -> 'lines') l;
SELECT subject, body FROM oms.render_notification((SELECT max(id) FROM oms.events WHERE kind = 'order_backordered'
                                                    AND order_id = (SELECT id FROM oms.orders WHERE external_id = 'demo-lantern-2')));

\echo
\echo '== Part of the purchase order arrives: 5 sellable (they fill Lena''s backorder first) and 1 damaged =='
SELECT r ->> 'status' AS po_status, r -> 'received' AS received, r -> 'backorders_filled' AS backorders_filled
  FROM oms.receive_purchase_order(:po, 'WH-BER', '[{"sku": "LANTERN", "qty": 5}, {"sku": "LANTERN", "qty": 1, "condition": "damaged"}]') r;
SELECT sku, location, on_hand, reserved, damaged, available, incoming FROM oms.stock_levels WHERE sku = 'LANTERN';
SELECT external_id, status FROM oms.orders WHERE external_id = 'demo-lantern-2';
\echo '-- the damaged lantern cannot be repaired: written off, its value to inventory loss'
SELECT oms.write_off('LANTERN', 'WH-BER', 1, 'glass broken in transit') -> 'balance' AS balance;
SELECT s.kind, s.on_hand_delta, s.damaged_delta, s.reference FROM oms.stock_movements s JOIN oms.products p ON p.id = s.product_id
 WHERE p.sku = 'LANTERN' AND s.kind IN ('receipt', 'write_off') ORDER BY s.id;

\echo
\echo '== Lena pays, the lanterns ship: cost of goods sold at moving average cost =='
SELECT oms.capture_payment((oms.authorize_payment(o.id, jsonb_build_object('method', 'card', 'amount', o.total, 'token', 'tok_demo_lantern'))
       ->> 'payment_id')::bigint) ->> 'order_status' AS status
  FROM oms.orders o WHERE o.external_id = 'demo-lantern-2';
SELECT oms.ship((oms.create_shipment(o.id, 'WH-BER') ->> 'shipment_id')::bigint, 'dhl', 'paket', '00340434161094099001') ->> 'order_status' AS status
  FROM oms.orders o WHERE o.external_id = 'demo-lantern-2';
SELECT v.qty AS valued_units, v.value, round(v.value / NULLIF(v.qty, 0), 4) AS average_cost
  FROM oms.inventory_valuation v JOIN oms.products p ON p.id = v.product_id WHERE p.sku = 'LANTERN';
SELECT kind, account, sum(debit) AS debit, sum(credit) AS credit FROM oms.journal
 WHERE kind IN ('inventory_receipt', 'cogs', 'write_off') GROUP BY 1, 2 ORDER BY 1, 2;

\echo
\echo '== Reports: purchase order reconciliation and the gross margin (as oms_reporting) =='
SET ROLE oms_reporting;
SELECT purchase_order_id, supplier, status, late, ordered, received, damaged, outstanding, ordered_value, received_value, cost_variance
  FROM oms.report_purchase_orders WHERE supplier = 'LUMEN' ORDER BY 1;
SELECT day, channel, sku, units, revenue, cogs, gross_margin, fully_valued FROM oms.report_gross_margin WHERE sku = 'LANTERN';
RESET ROLE;
SELECT * FROM oms.check();
