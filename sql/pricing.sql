--
-- pricing: price lists (channel, currency, validity, priority, customer
-- flag), quantity breaks, oms.price(), place_order pricing lines without
-- unit_price, price_check strict, and where each line's price came from.
--
SET client_min_messages = warning;
\set VERBOSITY default
\set SHOW_CONTEXT never
DROP EXTENSION oms CASCADE;
CREATE EXTENSION oms;
CREATE SCHEMA pricing_t;
SET search_path = pricing_t, oms;

INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web'), ('pos', 'Stores', 'pos'), ('b2b', 'Trade', 'wholesale');
UPDATE oms.channels SET price_check = 'strict' WHERE code = 'b2b';
INSERT INTO oms.locations (code, name, kind, latitude, longitude) VALUES ('BER', 'Berlin', 'warehouse', 52.52, 13.40);
INSERT INTO oms.products (sku, name, kind) VALUES ('MUG', 'Mug', 'stock'), ('TEA', 'Tea', 'stock'), ('WRAP', 'Gift wrap', 'service'),
    ('PLATE', 'Plate', 'stock');
INSERT INTO oms.customers (external_ref, email, name, flags) VALUES
    ('ann', 'ann@example.com', 'Ann', '{}'), ('vic', 'vic@example.com', 'Vic', '{vip}'), ('wes', 'wes@example.com', 'Wes', '{wholesale}');
SELECT count(oms.receive_stock(sku, 'BER', 1000)) FROM (VALUES ('MUG'), ('TEA'), ('PLATE')) v(sku);

CREATE FUNCTION try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
    det text;
    hint text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RETURN st || ': ' || msg || ' | ' || det || ' | ' || hint;
END
$$;
CREATE FUNCTION place(ext text, lines jsonb, extra jsonb DEFAULT '{}', channel text DEFAULT 'web') RETURNS jsonb LANGUAGE sql AS
$$ SELECT oms.place_order(jsonb_build_object('channel', channel, 'external_id', ext, 'currency', 'EUR', 'lines', lines) || extra) $$;
CREATE FUNCTION lines(ext text) RETURNS TABLE (line_no int, sku text, qty int, unit_price numeric, discount numeric, price_source text, price_list text)
LANGUAGE sql AS
$$ SELECT l.line_no, p.sku, l.qty, l.unit_price, l.discount, l.price_source, pl.code
     FROM oms.order_lines l JOIN oms.products p ON p.id = l.product_id LEFT JOIN oms.price_lists pl ON pl.id = l.price_list_id
     JOIN oms.orders o ON o.id = l.order_id WHERE o.external_id = ext ORDER BY l.line_no $$;
CREATE FUNCTION totals(ext text) RETURNS TABLE (subtotal numeric, discount numeric, tax numeric, total numeric)
LANGUAGE sql AS $$ SELECT subtotal, discount, tax, total FROM oms.orders WHERE external_id = ext $$;

-- ---------------------------------------------------------------------------
-- the tables' rules
-- ---------------------------------------------------------------------------
\set VERBOSITY terse
INSERT INTO oms.price_lists (code, name, currency) VALUES ('Bad Code', 'x', 'EUR');
INSERT INTO oms.price_lists (code, name, currency) VALUES ('x', 'x', 'eur');
INSERT INTO oms.price_lists (code, name, currency, valid_from, valid_to) VALUES ('x', 'x', 'EUR', '2026-02-01', '2026-01-01');
INSERT INTO oms.price_lists (code, name, currency, customer_flag) VALUES ('x', 'x', 'EUR', 'VIP');
INSERT INTO oms.price_lists (code, name, currency) VALUES ('x', 'card 4111 1111 1111 1111', 'EUR');
UPDATE oms.channels SET price_check = 'loose' WHERE code = 'web';

-- the public list (every channel), a web list that beats it, a VIP list,
-- a wholesale list for the trade channel, an expired and a future list
INSERT INTO oms.price_lists (code, name, channel_id, currency, customer_flag, priority, valid_from, valid_to, prices_include_tax)
SELECT v.code, v.name, c.id, v.cur, v.flag, v.prio, v.vf, v.vt, v.gross
  FROM (VALUES ('public', 'Public', NULL, 'EUR', NULL, 0, NULL::timestamptz, NULL::timestamptz, true),
               ('web', 'Web shop', 'web', 'EUR', NULL, 10, NULL, NULL, true),
               ('vip', 'VIP', NULL, 'EUR', 'vip', 10, NULL, NULL, true),
               ('trade', 'Trade', 'b2b', 'EUR', 'wholesale', 0, NULL, NULL, false),
               ('usd', 'Dollars', NULL, 'USD', NULL, 0, NULL, NULL, false),
               ('old', 'Last year', NULL, 'EUR', NULL, 100, '2020-01-01', '2021-01-01', true),
               ('next', 'Next year', NULL, 'EUR', NULL, 100, now() + interval '1 year', NULL, true)) v(code, name, ch, cur, flag, prio, vf, vt, gross)
  LEFT JOIN oms.channels c ON c.code = v.ch;
INSERT INTO oms.prices (price_list_id, product_id, min_qty, unit_price)
SELECT l.id, p.id, v.q, v.price
  FROM (VALUES ('public', 'MUG', 1, 10.00), ('public', 'MUG', 10, 9.00), ('public', 'MUG', 100, 8.00),
               ('public', 'TEA', 1, 4.00), ('public', 'WRAP', 1, 2.50),
               ('web', 'MUG', 1, 9.50),
               ('vip', 'MUG', 1, 7.00), ('vip', 'TEA', 5, 3.00),
               ('trade', 'MUG', 1, 6.00), ('trade', 'MUG', 50, 5.00),
               ('usd', 'MUG', 1, 11.00),
               ('old', 'MUG', 1, 1.00), ('next', 'MUG', 1, 1.00)) v(list, sku, q, price)
  JOIN oms.price_lists l ON l.code = v.list JOIN oms.products p ON p.sku = v.sku;
INSERT INTO oms.prices (price_list_id, product_id, min_qty, unit_price)
SELECT l.id, p.id, 0, 1 FROM oms.price_lists l, oms.products p WHERE l.code = 'public' AND p.sku = 'TEA';
INSERT INTO oms.prices (price_list_id, product_id, min_qty, unit_price)
SELECT l.id, p.id, 2, -1 FROM oms.price_lists l, oms.products p WHERE l.code = 'public' AND p.sku = 'TEA';
\set VERBOSITY default

-- ---------------------------------------------------------------------------
-- oms.price(): priority, channel, validity, quantity breaks, customer scope
-- ---------------------------------------------------------------------------
SELECT v.label, p.*
  FROM (VALUES ('pos, 1 mug: public', 'MUG', 'pos', 'EUR', 1, NULL),
               ('pos, 10 mugs: break 10', 'MUG', 'pos', 'EUR', 10, NULL),
               ('pos, 99 mugs: break 10', 'MUG', 'pos', 'EUR', 99, NULL),
               ('pos, 100 mugs: break 100', 'MUG', 'pos', 'EUR', 100, NULL),
               ('web, 1 mug: web list (priority 10)', 'MUG', 'web', 'EUR', 1, NULL),
               ('web, 100 mugs: web list has no break, it still wins', 'MUG', 'web', 'EUR', 100, NULL),
               ('web, tea: web list has no tea, public', 'TEA', 'web', 'EUR', 1, NULL),
               ('web, vip: flag-scoped list wins the tie', 'MUG', 'web', 'EUR', 1, 'vic'),
               ('web, vip, 1 tea: vip break 5 not reached, public', 'TEA', 'web', 'EUR', 1, 'vic'),
               ('web, vip, 5 tea: vip break 5', 'TEA', 'web', 'EUR', 5, 'vic'),
               ('web, ann (no flags): web', 'MUG', 'web', 'EUR', 1, 'ann'),
               ('b2b, wholesale: trade', 'MUG', 'b2b', 'EUR', 60, 'wes'),
               ('web, wholesale: trade is b2b only', 'MUG', 'web', 'EUR', 60, 'wes'),
               ('USD', 'MUG', 'web', 'USD', 1, NULL),
               ('GBP: no list', 'MUG', 'web', 'GBP', 1, NULL),
               ('plate: no price', 'PLATE', 'web', 'EUR', 1, NULL)) v(label, sku, ch, cur, q, cust)
 CROSS JOIN LATERAL oms.price(v.sku, v.ch, v.cur, v.q, v.cust) p;
-- an inactive list prices nothing
UPDATE oms.price_lists SET active = false WHERE code = 'web';
SELECT * FROM oms.price('MUG', 'web', 'EUR');
UPDATE oms.price_lists SET active = true WHERE code = 'web';
-- bad arguments
SELECT try($$SELECT oms.price('NOPE', 'web', 'EUR')$$);
SELECT try($$SELECT oms.price('MUG', 'nope', 'EUR')$$);
SELECT try($$SELECT oms.price('MUG', 'web', 'euro')$$);
SELECT try($$SELECT oms.price('MUG', 'web', 'EUR', 0)$$);
SELECT try($$SELECT oms.price('MUG', 'web', 'EUR', 1000001)$$);
SELECT try($$SELECT oms.price('MUG', 'web', 'EUR', NULL)$$);
SELECT try($$SELECT oms.price(NULL, 'web', 'EUR')$$);
SELECT try($$SELECT oms.price('MUG', 'web', 'EUR', 1, 'nobody')$$);
SELECT try($$SELECT oms.price(repeat('M', 100), 'web', 'EUR')$$);

-- ---------------------------------------------------------------------------
-- place_order: lines without unit_price are priced from the lists
-- ---------------------------------------------------------------------------
SELECT p->>'status' AS status, p->'total' AS total, p->'subtotal' AS subtotal, p->'discount' AS discount
  FROM place('P-1', '[{"sku": "MUG", "qty": 2}, {"sku": "TEA", "qty": 1, "unit_price": 5}, {"sku": "WRAP", "qty": 1, "discount": 0.5}]') p;
SELECT * FROM lines('P-1');
SELECT * FROM totals('P-1');
-- the VIP customer gets the VIP list; quantity breaks per line
SELECT p->'total' AS total FROM place('P-2', '[{"sku": "MUG", "qty": 3}, {"sku": "TEA", "qty": 6}]',
                                      '{"customer": {"external_ref": "vic"}}') p;
SELECT * FROM lines('P-2');
SELECT p->'total' AS total FROM place('P-3', '[{"sku": "MUG", "qty": 12}]', '{}', 'pos') p;
SELECT * FROM lines('P-3');
-- no list prices the line: 22023 naming the line, nothing written
SELECT try($$SELECT place('P-4', '[{"sku": "MUG", "qty": 1}, {"sku": "PLATE", "qty": 2}]')$$);
SELECT try($$SELECT oms.place_order('{"channel": "web", "external_id": "P-4", "currency": "GBP", "lines": [{"sku": "MUG", "qty": 1}]}')$$);
SELECT count(*) AS orders_p4 FROM oms.orders WHERE external_id = 'P-4';
-- a given discount above the line at the list price
SELECT try($$SELECT place('P-5', '[{"sku": "TEA", "qty": 1, "discount": 4.01}]')$$);
-- a replay of a priced order returns it, writes nothing
SELECT p->>'replayed' AS replayed, p->'total' AS total
  FROM place('P-1', '[{"sku": "MUG", "qty": 2}, {"sku": "TEA", "qty": 1, "unit_price": 5}, {"sku": "WRAP", "qty": 1, "discount": 0.5}]') p;
-- a list price changing later does not change placed orders
UPDATE oms.prices SET unit_price = 99 WHERE price_list_id = (SELECT id FROM oms.price_lists WHERE code = 'web');
SELECT * FROM lines('P-1');
UPDATE oms.prices SET unit_price = 9.5 WHERE price_list_id = (SELECT id FROM oms.price_lists WHERE code = 'web');

-- ---------------------------------------------------------------------------
-- price_check strict (channel b2b): a given price must be the list's
-- ---------------------------------------------------------------------------
SELECT try($$SELECT place('S-1', '[{"sku": "MUG", "qty": 2, "unit_price": 5.99}]', '{"customer": {"external_ref": "wes"}}', 'b2b')$$);
SELECT p->'total' AS total FROM place('S-2', '[{"sku": "MUG", "qty": 2, "unit_price": 6}]', '{"customer": {"external_ref": "wes"}}', 'b2b') p;
SELECT p->'total' AS total FROM place('S-3', '[{"sku": "MUG", "qty": 60}]', '{"customer": {"external_ref": "wes"}}', 'b2b') p;
SELECT * FROM lines('S-3');
-- no list prices the plate on b2b: the given price stands
SELECT p->'total' AS total FROM place('S-4', '[{"sku": "PLATE", "qty": 1, "unit_price": 3}]', '{"customer": {"external_ref": "wes"}}', 'b2b') p;
-- the web channel accepts any given price
SELECT p->'total' AS total FROM place('S-5', '[{"sku": "MUG", "qty": 1, "unit_price": 1.23}]') p;
SELECT * FROM lines('S-5');

-- an edit that sets a line's price makes it given; the other line keeps its list
SELECT oms.edit_order((SELECT id FROM oms.orders WHERE external_id = 'P-2'),
                      '{"changes": [{"op": "set_price", "line_no": 1, "unit_price": 6.5}]}') ->> 'status' AS edited;
SELECT * FROM lines('P-2');

-- the price list of an order line cannot be deleted
SELECT try($$DELETE FROM oms.price_lists WHERE code = 'public'$$);
SELECT * FROM oms.check();
