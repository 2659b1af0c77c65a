--
-- promotions: every rule (percent and amount off the order or off matching
-- lines, buy X get Y, free shipping, minimum subtotal, channel, flag and
-- date scope, combinable or exclusive, priority), codes with total and
-- per-customer limits, every refusal and its SQLSTATE, codes_required,
-- source_code, uses given back on cancel and expiry, edits, refunds after
-- discount, oms.report_promotions and oms.check().
--
SET client_min_messages = warning;
\set VERBOSITY default
\set SHOW_CONTEXT never
DROP EXTENSION oms CASCADE;
CREATE EXTENSION oms;
CREATE SCHEMA promo_t;
SET search_path = promo_t, oms;

INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web'), ('pos', 'Stores', 'pos');
INSERT INTO oms.locations (code, name, kind, latitude, longitude) VALUES ('BER', 'Berlin', 'warehouse', 52.52, 13.40);
INSERT INTO oms.products (sku, name, kind) VALUES ('MUG', 'Mug', 'stock'), ('TEA', 'Tea', 'stock'), ('CUP', 'Cup', 'stock'),
    ('SOCK', 'Sock', 'stock');
INSERT INTO oms.product_categories SELECT id, 'drinkware' FROM oms.products WHERE sku IN ('MUG', 'CUP');
INSERT INTO oms.customers (external_ref, email, name, flags) VALUES
    ('ann', 'ann@example.com', 'Ann', '{}'), ('vic', 'vic@example.com', 'Vic', '{vip}');
SELECT count(oms.receive_stock(sku, 'BER', 1000)) FROM (VALUES ('MUG'), ('TEA'), ('CUP'), ('SOCK')) v(sku);
INSERT INTO oms.price_lists (code, name, currency) VALUES ('public', 'Public', 'EUR');
INSERT INTO oms.prices (price_list_id, product_id, unit_price)
SELECT l.id, p.id, v.price FROM (VALUES ('MUG', 10.00), ('TEA', 4.00), ('CUP', 6.00), ('SOCK', 3.00)) v(sku, price)
  JOIN oms.products p ON p.sku = v.sku, oms.price_lists l WHERE l.code = 'public';

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
-- place an order for ann (or another customer, or a guest with cust NULL)
CREATE FUNCTION place(ext text, lines jsonb, extra jsonb DEFAULT '{}', cust text DEFAULT 'ann', channel text DEFAULT 'web')
RETURNS jsonb LANGUAGE sql AS
$$ SELECT oms.place_order(jsonb_strip_nulls(jsonb_build_object('channel', channel, 'external_id', ext, 'currency', 'EUR',
       'customer', CASE WHEN cust IS NOT NULL THEN jsonb_build_object('external_ref', cust) END, 'lines', lines)) || extra) $$;
-- what the answer says of pricing
CREATE FUNCTION show(doc jsonb) RETURNS TABLE (subtotal numeric, discount numeric, total numeric, free_shipping boolean, promotions text, codes text)
LANGUAGE sql AS
$$ SELECT (doc->>'subtotal')::numeric, (doc->>'discount')::numeric, (doc->>'total')::numeric, (doc->>'free_shipping')::boolean,
          (SELECT string_agg(format('%s%s: %s%s', p->>'promotion', COALESCE(' (' || (p->>'code') || ')', ''), p->>'discount',
                                    CASE WHEN (p->>'free_shipping')::boolean THEN ', free shipping' ELSE '' END), '; ')
             FROM jsonb_array_elements(doc->'promotions') p),
          (SELECT string_agg(format('%s %s%s', c->>'code', CASE WHEN (c->>'applied')::boolean THEN 'applied' ELSE 'refused' END,
                                    COALESCE(': ' || (c->>'refusal') || ' ' || (c->>'sqlstate'), '')), '; ')
             FROM jsonb_array_elements(doc->'codes') c) $$;
CREATE FUNCTION lines(ext text) RETURNS TABLE (line_no int, sku text, qty int, unit_price numeric, discount numeric, promotions text)
LANGUAGE sql AS
$$ SELECT l.line_no, p.sku, l.qty, l.unit_price, l.discount,
          (SELECT string_agg(pr.code || ' ' || a.amount, ', ' ORDER BY pr.code) FROM oms.order_promotions a
             JOIN oms.promotions pr ON pr.id = a.promotion_id WHERE a.order_line_id = l.id)
     FROM oms.order_lines l JOIN oms.products p ON p.id = l.product_id
     JOIN oms.orders o ON o.id = l.order_id WHERE o.external_id = ext ORDER BY l.line_no $$;
CREATE FUNCTION uses() RETURNS TABLE (code text, uses int, usage_limit int)
LANGUAGE sql AS $$ SELECT code, uses, usage_limit FROM oms.promotion_codes ORDER BY code $$;
CREATE FUNCTION oid_of(ext text) RETURNS bigint LANGUAGE sql AS $$ SELECT id FROM oms.orders WHERE external_id = ext $$;
CREATE FUNCTION promo(code text, kind text, extra jsonb DEFAULT '{}') RETURNS bigint LANGUAGE sql AS
$$ INSERT INTO oms.promotions SELECT * FROM jsonb_populate_record(NULL::oms.promotions,
       jsonb_build_object('id', nextval('oms.promotions_id_seq'), 'code', code, 'name', code, 'kind', kind,
                          'automatic', false, 'combinable', true, 'priority', 0, 'active', true, 'created_at', now()) || extra)
   RETURNING id $$;
CREATE FUNCTION code(promotion text, code text, usage_limit int DEFAULT NULL, per_customer int DEFAULT NULL) RETURNS void LANGUAGE sql AS
$$ INSERT INTO oms.promotion_codes (promotion_id, code, usage_limit, per_customer_limit)
   SELECT p.id, $2, $3, $4 FROM oms.promotions p WHERE p.code = $1 $$;

-- ---------------------------------------------------------------------------
-- the tables' rules
-- ---------------------------------------------------------------------------
\set VERBOSITY terse
SELECT promo('bad-kind', 'gift');
SELECT promo('no-value', 'percent_off');
SELECT promo('too-much', 'percent_off', '{"value": 101}');
SELECT promo('no-currency', 'amount_off', '{"value": 5}');
SELECT promo('no-target', 'buy_x_get_y', '{"value": 100, "buy_qty": 2, "get_qty": 1}');
SELECT promo('both', 'percent_off', jsonb_build_object('value', 5, 'category', 'drinkware', 'product_id', (SELECT id FROM oms.products WHERE sku = 'MUG')));
SELECT promo('ship-value', 'free_shipping', '{"value": 5}');
SELECT promo('no-currency-minimum', 'free_shipping', '{"min_subtotal": 50}');
SELECT promo('Upper', 'free_shipping');
INSERT INTO oms.promotions (code, name, kind) VALUES ('card', 'call 4111 1111 1111 1111', 'free_shipping');
SELECT promo('ok', 'free_shipping');
SELECT code('ok', 'lower');
SELECT code('ok', 'OK-1', -1);
SELECT code('ok', 'OK-1', 1, 0);
SELECT code('ok', 'OK-1', 1);
UPDATE oms.promotion_codes SET uses = 2 WHERE code = 'OK-1';
UPDATE oms.promotion_codes SET uses = -1 WHERE code = 'OK-1';
DELETE FROM oms.promotion_codes;
DELETE FROM oms.promotions;
\set VERBOSITY default

-- ---------------------------------------------------------------------------
-- automatic promotions: every rule
-- ---------------------------------------------------------------------------
-- 10% off the order, automatic
SELECT promo('ten', 'percent_off', '{"value": 10, "automatic": true}') > 0 AS created;
SELECT * FROM show(place('A-1', '[{"sku": "MUG", "qty": 2}, {"sku": "TEA", "qty": 1}]'));
SELECT * FROM lines('A-1');
-- a discount the caller gives stays, the promotion works on what is left
SELECT * FROM show(place('A-2', '[{"sku": "MUG", "qty": 1, "discount": 2}]'));
SELECT * FROM lines('A-2');
UPDATE oms.promotions SET active = false WHERE code = 'ten';
-- 25% off drinkware (category), 1 off each tea (product), automatic, combinable
SELECT promo('drink25', 'percent_off', '{"value": 25, "category": "drinkware", "automatic": true}') > 0 AS created;
SELECT promo('tea1', 'amount_off', jsonb_build_object('value', 1, 'currency', 'EUR', 'automatic', true,
             'product_id', (SELECT id FROM oms.products WHERE sku = 'TEA'))) > 0 AS created;
SELECT * FROM show(place('A-3', '[{"sku": "MUG", "qty": 1}, {"sku": "CUP", "qty": 1}, {"sku": "TEA", "qty": 3}, {"sku": "SOCK", "qty": 1}]'));
SELECT * FROM lines('A-3');
UPDATE oms.promotions SET active = false WHERE code IN ('drink25', 'tea1');
-- buy 2 get 1 free on drinkware: the cheapest units are free
SELECT promo('b2g1', 'buy_x_get_y', '{"value": 100, "buy_qty": 2, "get_qty": 1, "category": "drinkware", "automatic": true}') > 0 AS created;
SELECT * FROM show(place('A-4', '[{"sku": "MUG", "qty": 4}, {"sku": "CUP", "qty": 2}]'));
SELECT * FROM lines('A-4');
-- 2 units: nothing free
SELECT * FROM show(place('A-5', '[{"sku": "MUG", "qty": 2}]'));
UPDATE oms.promotions SET active = false WHERE code = 'b2g1';
-- 5 EUR off orders of at least 30, spread over the lines; free shipping from 50
SELECT promo('five', 'amount_off', '{"value": 5, "currency": "EUR", "min_subtotal": 30, "automatic": true}') > 0 AS created;
SELECT promo('ship50', 'free_shipping', '{"min_subtotal": 50, "currency": "EUR", "automatic": true}') > 0 AS created;
SELECT * FROM show(place('A-6', '[{"sku": "MUG", "qty": 2}, {"sku": "TEA", "qty": 1}]'));
SELECT * FROM show(place('A-7', '[{"sku": "MUG", "qty": 2}, {"sku": "TEA", "qty": 3}, {"sku": "SOCK", "qty": 1}]'));
SELECT * FROM lines('A-7');
SELECT * FROM show(place('A-8', '[{"sku": "MUG", "qty": 5}]'));
-- channel scope, customer-flag scope, date scope
UPDATE oms.promotions SET channel_id = (SELECT id FROM oms.channels WHERE code = 'pos') WHERE code = 'five';
UPDATE oms.promotions SET customer_flag = 'vip' WHERE code = 'ship50';
SELECT * FROM show(place('A-9', '[{"sku": "MUG", "qty": 5}]'));
SELECT * FROM show(place('A-10', '[{"sku": "MUG", "qty": 5}]', '{}', 'vic', 'pos'));
UPDATE oms.promotions SET valid_from = now() + interval '1 day' WHERE code = 'five';
UPDATE oms.promotions SET valid_to = now() - interval '1 day', valid_from = now() - interval '2 days' WHERE code = 'ship50';
SELECT * FROM show(place('A-11', '[{"sku": "MUG", "qty": 5}]', '{}', 'vic', 'pos'));
UPDATE oms.promotions SET active = false WHERE code IN ('five', 'ship50');
-- exclusive beats combinable by priority; a lower exclusive is passed over
SELECT promo('big', 'percent_off', '{"value": 30, "automatic": true, "combinable": false, "priority": 10}') > 0 AS created;
SELECT promo('small', 'percent_off', '{"value": 5, "automatic": true}') > 0 AS created;
SELECT promo('other', 'percent_off', '{"value": 50, "automatic": true, "combinable": false, "priority": -1}') > 0 AS created;
SELECT * FROM show(place('A-12', '[{"sku": "MUG", "qty": 1}]'));
UPDATE oms.promotions SET priority = -5 WHERE code = 'big';
SELECT * FROM show(place('A-13', '[{"sku": "MUG", "qty": 1}]'));
UPDATE oms.promotions SET active = false WHERE code IN ('big', 'small', 'other');

-- ---------------------------------------------------------------------------
-- codes: applied, and every refusal with its SQLSTATE
-- ---------------------------------------------------------------------------
SELECT promo('welcome', 'percent_off', '{"value": 20}') > 0 AS created;
SELECT code('welcome', 'WELCOME', 2, 1);
SELECT promo('vipship', 'free_shipping', '{"customer_flag": "vip"}') > 0 AS created;
SELECT code('vipship', 'VIPSHIP');
SELECT promo('solo', 'amount_off', '{"value": 3, "currency": "EUR", "combinable": false}') > 0 AS created;
SELECT code('solo', 'SOLO');
SELECT promo('big-spender', 'percent_off', '{"value": 15, "min_subtotal": 100, "currency": "EUR"}') > 0 AS created;
SELECT code('big-spender', 'BIG');
SELECT promo('gone', 'percent_off', jsonb_build_object('value', 15, 'valid_from', now() - interval '2 days', 'valid_to', now() - interval '1 day')) > 0 AS created;
SELECT code('gone', 'GONE');
SELECT code('welcome', 'OFF');
UPDATE oms.promotion_codes SET active = false WHERE code = 'OFF';
SELECT promo('socks', 'percent_off', jsonb_build_object('value', 50, 'product_id', (SELECT id FROM oms.products WHERE sku = 'SOCK'))) > 0 AS created;
SELECT code('socks', 'SOCKS');
SELECT promo('pos-only', 'percent_off', jsonb_build_object('value', 10, 'channel_id', (SELECT id FROM oms.channels WHERE code = 'pos'))) > 0 AS created;
SELECT code('pos-only', 'POS');
-- applied (case-insensitively), once per customer
SELECT * FROM show(place('C-1', '[{"sku": "MUG", "qty": 1}]', '{"codes": ["welcome"], "source_code": "xmas-2026"}'));
SELECT * FROM lines('C-1');
SELECT * FROM uses();
-- the order document has the pricing outcome too: get_order shows it, and a
-- replay answers what the first call answered (no second use taken)
SELECT * FROM show(oms.get_order(oid_of('C-1')));
SELECT (place('C-1', '[{"sku": "MUG", "qty": 1}]', '{"codes": ["welcome"], "source_code": "xmas-2026"}') - 'replayed')
       = oms.get_order(oid_of('C-1')) AS replay_is_the_document,
       oms.get_order(oid_of('C-1')) ?& ARRAY['promotions', 'codes', 'source_code', 'free_shipping'] AS has_pricing;
SELECT * FROM uses();
-- every refusal raises its SQLSTATE (codes_required is the default)
SELECT try($$SELECT place('C-2', '[{"sku": "MUG", "qty": 1}]', '{"codes": ["NOPE"]}')$$) AS unknown;
SELECT try($$SELECT place('C-2', '[{"sku": "MUG", "qty": 1}]', '{"codes": ["GONE"]}')$$) AS expired;
SELECT try($$SELECT place('C-2', '[{"sku": "MUG", "qty": 1}]', '{"codes": ["OFF"]}')$$) AS inactive;
SELECT try($$SELECT place('C-2', '[{"sku": "MUG", "qty": 1}]', '{"codes": ["WELCOME"]}')$$) AS per_customer;
SELECT try($$SELECT place('C-2', '[{"sku": "MUG", "qty": 1}]', '{"codes": ["WELCOME", "SOLO"]}', 'vic')$$) AS not_combinable;
SELECT try($$SELECT place('C-2', '[{"sku": "MUG", "qty": 1}]', '{"codes": ["BIG"]}')$$) AS minimum;
SELECT try($$SELECT place('C-2', '[{"sku": "MUG", "qty": 1}]', '{"codes": ["VIPSHIP"]}')$$) AS flag_scope;
SELECT try($$SELECT place('C-2', '[{"sku": "MUG", "qty": 1}]', '{"codes": ["POS"]}')$$) AS channel_scope;
SELECT try($$SELECT place('C-2', '[{"sku": "MUG", "qty": 1}]', '{"codes": ["SOCKS"]}')$$) AS no_matching_line;
SELECT try($$SELECT place('C-2', '[{"sku": "MUG", "qty": 1}]', '{"codes": ["WELCOME"]}', NULL)$$) AS guest_per_customer;
SELECT count(*) AS orders_c2 FROM oms.orders WHERE external_id = 'C-2';
SELECT * FROM uses();
-- codes_required false: the order is placed, the refusals reported
SELECT * FROM show(place('C-3', '[{"sku": "MUG", "qty": 1}, {"sku": "SOCK", "qty": 2}]',
                         '{"codes": ["NOPE", "WELCOME", "SOCKS", "BIG"], "codes_required": false}'));
SELECT * FROM lines('C-3');
SELECT code, applied, refusal, sqlstate FROM oms.order_codes WHERE order_id = oid_of('C-3') ORDER BY id;
-- the total limit: vic takes the second and last use of WELCOME
SELECT * FROM show(place('C-4', '[{"sku": "TEA", "qty": 5}]', '{"codes": ["WELCOME", "VIPSHIP"]}', 'vic'));
INSERT INTO oms.customers (external_ref, email) VALUES ('bob', 'bob@example.com');
SELECT try($$SELECT place('C-5', '[{"sku": "MUG", "qty": 1}]', '{"codes": ["WELCOME"]}', 'bob')$$) AS exhausted;
SELECT * FROM show(place('C-5', '[{"sku": "MUG", "qty": 1}]', '{"codes": ["WELCOME"], "codes_required": false}', 'bob'));
-- an exclusive code alone
SELECT * FROM show(place('C-6', '[{"sku": "MUG", "qty": 1}]', '{"codes": ["SOLO"], "source_code": "newsletter"}', 'bob'));
SELECT * FROM uses();

-- bad documents: 22023 naming the field
SELECT try($$SELECT place('C-9', '[{"sku": "MUG", "qty": 1}]', '{"codes": "WELCOME"}')$$);
SELECT try($$SELECT place('C-9', '[{"sku": "MUG", "qty": 1}]', '{"codes": ["WEL COME"]}')$$);
SELECT try($$SELECT place('C-9', '[{"sku": "MUG", "qty": 1}]', '{"codes": ["-X"]}')$$);
SELECT try($$SELECT place('C-9', '[{"sku": "MUG", "qty": 1}]', '{"codes": [""]}')$$);
SELECT try($$SELECT place('C-9', '[{"sku": "MUG", "qty": 1}]', '{"codes": [7]}')$$);
SELECT try(format($f$SELECT place('C-9', '[{"sku": "MUG", "qty": 1}]', '{"codes": ["%s"]}')$f$, repeat('A', 33)));
SELECT try($$SELECT place('C-9', '[{"sku": "MUG", "qty": 1}]', '{"codes": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]}')$$);
SELECT try($$SELECT place('C-9', '[{"sku": "MUG", "qty": 1}]', '{"codes": ["WELCOME", "welcome"]}')$$);
SELECT try($$SELECT place('C-9', '[{"sku": "MUG", "qty": 1}]', '{"codes_required": "yes"}')$$);
SELECT try($$SELECT place('C-9', '[{"sku": "MUG", "qty": 1}]', '{"source_code": "xmas 2026"}')$$);
SELECT try($$SELECT place('C-9', '[{"sku": "MUG", "qty": 1}]', '{"source_code": ""}')$$);
SELECT try(format($f$SELECT place('C-9', '[{"sku": "MUG", "qty": 1}]', '{"source_code": "%s"}')$f$, repeat('x', 65)));
-- a replay takes no second use
SELECT (place('C-4', '[{"sku": "TEA", "qty": 5}]', '{"codes": ["WELCOME", "VIPSHIP"]}', 'vic'))->>'replayed' AS replayed;
SELECT * FROM uses();

-- ---------------------------------------------------------------------------
-- cancel and expiry give the uses back; the customer may use the code again
-- ---------------------------------------------------------------------------
SELECT oms.cancel_order(oid_of('C-1'), 'changed mind')->>'status' AS status;
SELECT * FROM uses();
SELECT code, released_at IS NOT NULL AS released FROM oms.order_codes WHERE order_id = oid_of('C-1');
SELECT (place('C-7', '[{"sku": "MUG", "qty": 1}]', '{"codes": ["WELCOME"], "hold_minutes": 1}'))->>'status' AS status;
UPDATE oms.orders SET expires_at = now() - interval '1 minute' WHERE external_id = 'C-7';
SELECT oms.expire_reservations() AS expired;
SELECT status FROM oms.orders WHERE external_id = 'C-7';
SELECT * FROM uses();
SELECT oms.cancel_order(oid_of('C-1'), 'again')->>'note' IS NOT NULL AS second_cancel_noop;
SELECT * FROM uses();
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- edits scale the promotions' share of a line's discount with its units
-- ---------------------------------------------------------------------------
SELECT * FROM lines('C-4');
SELECT oms.edit_order(oid_of('C-4'), '{"changes": [{"op": "set_qty", "line_no": 1, "qty": 3}]}')->>'status' AS edited;
SELECT * FROM lines('C-4');
SELECT subtotal, discount, total FROM oms.orders WHERE external_id = 'C-4';
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- a refund gives back what was paid for the returned unit after discount
-- ---------------------------------------------------------------------------
INSERT INTO oms.carriers (code, name, tracking_url, active) VALUES ('dhl', 'DHL', 'https://x/{{tracking_number}}', true);
INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days, active) SELECT id, 'std', 'Paket', 2, true FROM oms.carriers;
INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price) SELECT id, 'EUR', NULL, NULL, 5 FROM oms.carrier_services;
-- 2 socks at 3 with 50% off: a returned sock refunds 1.50, not 3
SELECT * FROM show(place('R-1', '[{"sku": "MUG", "qty": 2}, {"sku": "SOCK", "qty": 2}]', '{"codes": ["SOCKS"]}'));
SELECT (oms.authorize_payment(oid_of('R-1'), jsonb_build_object('method', 'card', 'amount', 23, 'token', 'tok')) ->> 'payment_id')::bigint AS pay \gset
SELECT oms.capture_payment(:pay) ->> 'status' AS captured;
SELECT oms.ship((oms.create_shipment(oid_of('R-1'), 'BER') ->> 'shipment_id')::bigint, 'dhl', 'std', 'T-R1') ->> 'status' AS shipped;
SELECT (oms.create_rma(oid_of('R-1'), '{"lines": [{"sku": "SOCK", "qty": 1, "reason": "defective"}], "resolution": "refund"}') ->> 'rma_id')::bigint AS rma \gset
SELECT oms.receive_rma(:rma, 'BER', '[{"sku": "SOCK", "qty": 1, "condition": "sellable"}]') ->> 'status' AS received;
SELECT oms.refund_rma(:rma) -> 'amount' AS refunded;
SELECT l.qty, l.unit_price, l.discount, l.qty_returned FROM oms.order_lines l WHERE l.order_id = oid_of('R-1') ORDER BY l.line_no;

-- ---------------------------------------------------------------------------
-- the report, and the oracle
-- ---------------------------------------------------------------------------
SELECT * FROM oms.report_promotions ORDER BY promotion NULLS LAST, source_code;
SELECT * FROM oms.check();
