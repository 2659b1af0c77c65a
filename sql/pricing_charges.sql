--
-- pricing_charges: where pricing (src/order_pricing.c) meets the charges
-- (src/order_charges.c) at placement:
--   1. a free-shipping promotion waives the shipping charge, given
--      (shipping.amount) or quoted (shipping.quote); below its minimum the
--      charge stands;
--   2. a line priced from a gross list (prices_include_tax) has its tax
--      extracted; one from a net list has it added; a given price follows
--      the document and the channel as before;
--   3. totals, payments coverage and check() agree.
--
SET client_min_messages = warning;
\set SHOW_CONTEXT never
DROP EXTENSION IF EXISTS oms CASCADE; CREATE EXTENSION oms;
INSERT INTO oms.channels (code, name, kind, tax_mode) VALUES ('web', 'Web', 'web', 'computed');
INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority) VALUES ('BER', 'Berlin', 'warehouse', 52.52, 13.40, 10);
INSERT INTO oms.products (sku, name, kind, weight_kg) VALUES ('LAMP', 'Lamp', 'stock', 1.5), ('MUG', 'Mug', 'stock', 0.4);
INSERT INTO oms.customers (external_ref, email, name) VALUES ('ann', 'ann@example.com', 'Ann');
SELECT oms.receive_stock('LAMP', 'BER', 100) IS NOT NULL, oms.receive_stock('MUG', 'BER', 100) IS NOT NULL;
INSERT INTO oms.carriers (code, name, tracking_url, active) VALUES ('dhl', 'DHL', 'https://x/{{tracking_number}}', true);
INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days, active)
    SELECT id, 'std', 'Paket', 3, true FROM oms.carriers;
INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
    SELECT id, 'EUR', NULL, NULL, 4.90 FROM oms.carrier_services;
INSERT INTO oms.tax_rates (country, tax_class, rate, name) VALUES ('DE', 'standard', 0.19, 'MwSt 19 %');
-- the gross list prices LAMP at 119.00 with tax; the net list prices MUG at 10.00 before tax
INSERT INTO oms.price_lists (code, name, currency, prices_include_tax) VALUES ('gross', 'Gross', 'EUR', true);
INSERT INTO oms.price_lists (code, name, currency, prices_include_tax, priority) VALUES ('net', 'Net', 'EUR', false, 1);
INSERT INTO oms.prices (price_list_id, product_id, unit_price)
SELECT l.id, p.id, v.price FROM (VALUES ('gross', 'LAMP', 119.00), ('net', 'MUG', 10.00)) v(list, sku, price)
  JOIN oms.price_lists l ON l.code = v.list JOIN oms.products p ON p.sku = v.sku;
INSERT INTO oms.promotions (code, name, kind, automatic, min_subtotal, currency) VALUES ('ship50', 'Free shipping over 50', 'free_shipping', true, 50, 'EUR');

CREATE FUNCTION pc_place(ext text, lines jsonb, extra jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS
$$ SELECT oms.place_order(jsonb_build_object('channel', 'web', 'external_id', ext, 'currency', 'EUR',
       'customer', jsonb_build_object('external_ref', 'ann'),
       'ship_to', jsonb_build_object('country', 'DE', 'city', 'Berlin', 'lat', 52.5, 'lon', 13.4),
       'lines', lines) || extra) $$;
CREATE FUNCTION pc_amounts(ext text) RETURNS TABLE (subtotal numeric, discount numeric, tax numeric, shipping numeric, total numeric)
LANGUAGE sql AS $$ SELECT subtotal, discount, tax, shipping, total FROM oms.orders WHERE external_id = ext $$;

-- 1. free shipping over 50: the given charge of 6.50 is waived on a 100.00 order
SELECT (pc_place('F-1', '[{"sku": "LAMP", "qty": 1}]', '{"shipping": {"amount": 6.50}}') ->> 'free_shipping')::boolean AS free_shipping;
SELECT * FROM pc_amounts('F-1');
-- ... and the quoted one too
SELECT (pc_place('F-2', '[{"sku": "LAMP", "qty": 1}]', '{"shipping": {"quote": "cheapest"}}') ->> 'free_shipping')::boolean AS free_shipping;
SELECT * FROM pc_amounts('F-2');
-- below the minimum (2 mugs, 20.00 net) the charge stands, quoted and given
SELECT pc_place('F-3', '[{"sku": "MUG", "qty": 2}]', '{"shipping": {"quote": "cheapest"}}') ->> 'total' AS total;
SELECT * FROM pc_amounts('F-3');
SELECT pc_place('F-4', '[{"sku": "MUG", "qty": 2}]', '{"shipping": {"amount": 6.50}}') ->> 'total' AS total;
SELECT * FROM pc_amounts('F-4');
SELECT o.external_id, p.promotion_id IS NOT NULL AS recorded FROM oms.orders o
  LEFT JOIN oms.order_promotions p ON p.order_id = o.id ORDER BY 1;

-- 2. the lines: LAMP from the gross list (tax extracted: 100.00 + 19.00),
--    MUG from the net list (tax added: 10.00 + 1.90), a given net price
--    (tax added) and a given gross price (price_includes_tax)
SELECT l.line_no, p.sku, l.price_source, l.price_includes_tax, l.unit_price, l.tax
  FROM oms.order_lines l JOIN oms.orders o ON o.id = l.order_id JOIN oms.products p ON p.id = l.product_id
 WHERE o.external_id IN ('F-1', 'F-3') ORDER BY o.external_id, l.line_no;
SELECT pc_place('G-1', '[{"sku": "LAMP", "qty": 1, "unit_price": 50}, {"sku": "MUG", "qty": 1, "unit_price": 11.90, "price_includes_tax": true}]') ->> 'total' AS total;
SELECT l.line_no, l.price_source, l.price_includes_tax, l.unit_price, l.tax
  FROM oms.order_lines l JOIN oms.orders o ON o.id = l.order_id WHERE o.external_id = 'G-1' ORDER BY 1;
SELECT * FROM pc_amounts('G-1');

-- 3. the order_placed event says the total each order ended with (the
--    order row is written before pricing and tax; the event follows it)
SELECT o.external_id, o.total, (e.payload ->> 'total')::numeric = o.total AS event_total_matches
  FROM oms.orders o JOIN oms.events e ON e.order_id = o.id AND e.kind = 'order_placed' ORDER BY 1;
-- everything is consistent
SELECT * FROM oms.check();
DROP FUNCTION pc_place(text, jsonb, jsonb), pc_amounts(text);
