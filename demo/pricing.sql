-- demo/pricing.sql: prices and promotions in the database. The back office
-- keeps a public price list with a quantity break and a VIP list, a summer
-- code limited to two uses and free shipping over 50 EUR; the shop sends
-- lines without prices, and oms prices them, applies the promotions, takes
-- the code's uses atomically, refuses the third use, gives a use back when
-- an order is cancelled, and reports what the promotions gave.
-- Run by demo/run after demo/stores.sql. Nothing here is meant to fail, so
-- any error stops the demo (refusals are caught and shown).
\set ON_ERROR_STOP 1
\pset footer off
\pset null '-'
SET search_path = public, oms;

SET ROLE oms_admin;
\echo
\echo '== The back office: a public list (6 bags or more cost less), a VIP list, a limited code, free shipping over 50 EUR =='
INSERT INTO oms.price_lists (code, name, currency, priority) VALUES ('demo-public', 'Public prices', 'EUR', 0);
INSERT INTO oms.price_lists (code, name, currency, customer_flag, priority) VALUES ('demo-vip', 'VIP prices', 'EUR', 'vip', 10);
INSERT INTO oms.prices (price_list_id, product_id, min_qty, unit_price)
SELECT l.id, p.id, v.min_qty, v.price
  FROM (VALUES ('demo-public', 'BEAN-ETH-250', 1, 9.90), ('demo-public', 'BEAN-ETH-250', 6, 8.90),
               ('demo-public', 'BEAN-COL-250', 1, 8.90), ('demo-vip', 'BEAN-ETH-250', 1, 8.50)) v(list, sku, min_qty, price)
  JOIN oms.price_lists l ON l.code = v.list JOIN oms.products p ON p.sku = v.sku;
INSERT INTO oms.promotions (code, name, kind, value) VALUES ('summer10', 'Summer: 10% off', 'percent_off', 10);
INSERT INTO oms.promotion_codes (promotion_id, code, usage_limit) SELECT id, 'SUMMER10', 2 FROM oms.promotions WHERE code = 'summer10';
INSERT INTO oms.promotions (code, name, kind, min_subtotal, currency, automatic) VALUES ('ship-free-50', 'Free shipping over 50 EUR', 'free_shipping', 50, 'EUR', true);
RESET ROLE;

SET ROLE oms_app;
SELECT oms.receive_stock('BEAN-ETH-250', 'WH-BER', 100) IS NOT NULL AS received, oms.receive_stock('BEAN-COL-250', 'WH-BER', 100) IS NOT NULL AS received;
\echo '-- what a bag costs on the web shop: for a guest, for 6 bags, for a VIP customer'
SELECT 'guest, 1 bag' AS who, unit_price, price_list FROM oms.price('BEAN-ETH-250', 'web', 'EUR')
UNION ALL SELECT 'guest, 6 bags', unit_price, price_list FROM oms.price('BEAN-ETH-250', 'web', 'EUR', 6)
UNION ALL SELECT 'VIP (shop-10001)', unit_price, price_list FROM oms.price('BEAN-ETH-250', 'web', 'EUR', 1, 'shop-10001');

\echo
\echo '== The shop sends lines without prices: oms prices them; over 50 EUR the order ships free =='
SELECT o ->> 'order_id' AS order_id, o ->> 'subtotal' AS subtotal, o ->> 'discount' AS discount, o ->> 'total' AS total,
       o ->> 'free_shipping' AS free_shipping
  FROM oms.place_order('{"channel": "web", "external_id": "WEB-PRICE-1", "currency": "EUR",
         "customer": {"external_ref": "shop-10001"}, "lines": [{"sku": "BEAN-ETH-250", "qty": 7}]}') o;
SELECT l.line_no, p.sku, l.qty, l.unit_price, l.price_source, pl.code AS price_list
  FROM oms.order_lines l JOIN oms.products p ON p.id = l.product_id LEFT JOIN oms.price_lists pl ON pl.id = l.price_list_id
 WHERE l.order_id = (SELECT id FROM oms.orders WHERE external_id = 'WEB-PRICE-1');

\echo
\echo '== SUMMER10 may be used twice: two orders take it, the third is refused, the fourth goes through without it =='
CREATE TEMP TABLE summer (n int, outcome text);
DO $$
DECLARE
    r jsonb;
BEGIN
    FOR i IN 1 .. 4 LOOP
        BEGIN
            r := oms.place_order(jsonb_build_object('channel', 'web', 'external_id', 'WEB-SUMMER-' || i, 'currency', 'EUR',
                     'customer', jsonb_build_object('external_ref', 'shop-10002'), 'codes', jsonb_build_array('summer10'),
                     'codes_required', i < 4, 'source_code', 'newsletter-june',
                     'lines', jsonb_build_array(jsonb_build_object('sku', 'BEAN-COL-250', 'qty', 2))));
            INSERT INTO summer VALUES (i, format('placed, total %s, code %s', r ->> 'total',
                CASE WHEN (r -> 'codes' -> 0 ->> 'applied')::boolean THEN 'applied' ELSE 'refused: ' || (r -> 'codes' -> 0 ->> 'refusal') END));
        EXCEPTION WHEN SQLSTATE 'OM012' THEN
            INSERT INTO summer VALUES (i, 'refused ' || SQLSTATE || ': ' || SQLERRM);
        END;
    END LOOP;
END $$;
SELECT * FROM summer ORDER BY n;
RESET ROLE;
SELECT code, uses, usage_limit FROM oms.promotion_codes WHERE code = 'SUMMER10';   -- the back office's view
SET ROLE oms_app;
\echo '-- the first summer order is cancelled: its use goes back, and the next order gets it'
SELECT oms.cancel_order((SELECT id FROM oms.orders WHERE external_id = 'WEB-SUMMER-1'), 'customer changed mind') ->> 'status' AS status;
RESET ROLE;
SELECT code, uses, usage_limit FROM oms.promotion_codes WHERE code = 'SUMMER10';   -- the back office's view
SET ROLE oms_app;
SELECT o ->> 'total' AS total, o -> 'codes' -> 0 ->> 'applied' AS code_applied
  FROM oms.place_order('{"channel": "web", "external_id": "WEB-SUMMER-5", "currency": "EUR", "codes": ["SUMMER10"],
         "customer": {"external_ref": "shop-10003"}, "lines": [{"sku": "BEAN-COL-250", "qty": 1}]}') o;
RESET ROLE;

SET ROLE oms_reporting;
\echo
\echo '== What the promotions gave (oms.report_promotions) =='
SELECT * FROM oms.report_promotions WHERE promotion IN ('summer10', 'ship-free-50') OR source_code IS NOT NULL
 ORDER BY promotion NULLS LAST, source_code;
RESET ROLE;
SELECT count(*) AS check_violations FROM oms.check();
