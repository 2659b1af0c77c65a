--
-- substitutes: oms.product_substitutes, OM001 naming the substitutes in
-- stock, place_order's line option "substitute": "allow", the confirmation
-- saying so, edit_order switching a line to a substitute; and the
-- notifications of issue 16: order_backordered for a confirmed order that a
-- re-route puts on backorder, order_follow_up from oms.send_follow_ups().
--
SET client_min_messages = warning;
\set VERBOSITY default
\set SHOW_CONTEXT never
DROP EXTENSION oms CASCADE;
CREATE EXTENSION oms;
CREATE SCHEMA subst_t;
SET search_path = subst_t, oms;

INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web');
INSERT INTO oms.locations (code, name, kind, latitude, longitude) VALUES
    ('BER', 'Berlin', 'warehouse', 52.52, 13.40), ('MUC', 'Munich', 'warehouse', 48.14, 11.58);
INSERT INTO oms.products (sku, name, kind) VALUES
    ('MUG-RED', 'Red mug', 'stock'), ('MUG-BLUE', 'Blue mug', 'stock'), ('MUG-GREEN', 'Green mug', 'stock'),
    ('MUG-OLD', 'Old mug', 'stock'), ('LID', 'Lid', 'stock'), ('SET', 'Mug set', 'kit');
UPDATE oms.products SET active = false WHERE sku = 'MUG-OLD';
INSERT INTO oms.kit_components SELECT k.id, c.id, 1 FROM oms.products k, oms.products c WHERE k.sku = 'SET' AND c.sku = 'LID';
INSERT INTO oms.customers (external_ref, email, name) VALUES ('ann', 'ann@example.com', 'Ann');
SELECT count(oms.receive_stock(sku, loc, qty)) AS receipts FROM (VALUES
    ('MUG-RED', 'BER', 1), ('MUG-BLUE', 'BER', 5), ('MUG-GREEN', 'MUC', 50), ('MUG-OLD', 'BER', 9), ('LID', 'BER', 5)) v(sku, loc, qty);
-- blue first, then green; the inactive old mug never stands in
INSERT INTO oms.product_substitutes (product_id, substitute_id, rank, reason)
SELECT p.id, s.id, v.rank, v.reason FROM (VALUES
    ('MUG-RED', 'MUG-BLUE', 1, 'same mug, other colour'), ('MUG-RED', 'MUG-GREEN', 2, 'same mug, other colour'),
    ('MUG-RED', 'MUG-OLD', 1, 'discontinued model')) v(p, s, rank, reason)
  JOIN oms.products p ON p.sku = v.p JOIN oms.products s ON s.sku = v.s;

-- the table's rules
INSERT INTO oms.product_substitutes (product_id, substitute_id) SELECT id, id FROM oms.products WHERE sku = 'LID';
INSERT INTO oms.product_substitutes (product_id, substitute_id, rank)
SELECT p.id, s.id, 0 FROM oms.products p, oms.products s WHERE p.sku = 'LID' AND s.sku = 'MUG-RED';
INSERT INTO oms.product_substitutes (product_id, substitute_id, reason)
SELECT p.id, s.id, 'call 4111 1111 1111 1111' FROM oms.products p, oms.products s WHERE p.sku = 'LID' AND s.sku = 'MUG-RED';
SELECT * FROM oms.product_substitutes_available('MUG-RED');
SELECT * FROM oms.product_substitutes_available('LID');
SELECT * FROM oms.product_substitutes_available('NOPE');

CREATE FUNCTION order_doc(ext text, lines jsonb, extra jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS
$$ SELECT oms.place_order(jsonb_build_object('channel', 'web', 'external_id', ext, 'currency', 'EUR',
       'customer', jsonb_build_object('external_ref', 'ann'), 'lines', lines) || extra) $$;
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
CREATE FUNCTION oid_of(ext text) RETURNS bigint LANGUAGE sql AS $$ SELECT id FROM oms.orders WHERE external_id = ext $$;
CREATE FUNCTION lines(ext text) RETURNS TABLE (line_no int, sku text, qty int, res int, bo int, price numeric, substituted_for text)
LANGUAGE sql AS
$$ SELECT l.line_no, p.sku, l.qty, l.qty_reserved, l.qty_backordered, l.unit_price, sp.sku
     FROM oms.order_lines l JOIN oms.products p ON p.id = l.product_id LEFT JOIN oms.products sp ON sp.id = l.substituted_for
     JOIN oms.orders o ON o.id = l.order_id WHERE o.external_id = ext ORDER BY l.line_no $$;

-- ---------------------------------------------------------------------------
-- OM001 names the substitutes in stock
-- ---------------------------------------------------------------------------
SELECT try($$SELECT order_doc('X-1', '[{"sku": "MUG-RED", "qty": 3, "unit_price": 12}]')$$);
SELECT try($$SELECT order_doc('X-1', '[{"sku": "LID", "qty": 30, "unit_price": 1}]')$$);

-- ---------------------------------------------------------------------------
-- "substitute": "allow": the best-ranked substitute that has the units
-- ---------------------------------------------------------------------------
-- red is short (1): blue (5) stands in, at the red mug's price
SELECT order_doc('S-1', '[{"sku": "MUG-RED", "qty": 3, "unit_price": 12, "substitute": "allow"},
                          {"sku": "LID", "qty": 1, "unit_price": 2}]') AS placed \gset
SELECT jsonb_pretty(:'placed'::jsonb -> 'lines') AS lines;
SELECT * FROM lines('S-1');
-- the answer built in memory is the document read back
SELECT (:'placed'::jsonb - 'replayed') = (oms.get_order(oid_of('S-1'))) AS same_document;
-- blue is short now too: green (50) stands in, at the price the caller gives for it
SELECT order_doc('S-2', '[{"sku": "MUG-RED", "qty": 10, "unit_price": 12, "substitute": "allow", "substitute_unit_price": 9.5}]') -> 'total' AS total;
SELECT * FROM lines('S-2');
-- enough red: no substitute; "forbid" (the default) never substitutes
SELECT order_doc('S-3', '[{"sku": "MUG-RED", "qty": 1, "unit_price": 12, "substitute": "allow"}]') -> 'lines' -> 0 ->> 'sku' AS sku;
SELECT try($$SELECT order_doc('S-4', '[{"sku": "MUG-RED", "qty": 1, "unit_price": 12, "substitute": "forbid"}]')$$);
-- no substitute has the units: the order's policy decides (backorder), and
-- the shortage lists the substitutes in stock on the backordered line
SELECT order_doc('S-5', '[{"sku": "MUG-RED", "qty": 99, "unit_price": 12, "substitute": "allow"},
                          {"sku": "LID", "qty": 1, "unit_price": 2}]', '{"policy": "backorder"}') AS s5 \gset
SELECT :'s5'::jsonb ->> 'status' AS status, jsonb_pretty(:'s5'::jsonb -> 'lines' -> 0 -> 'substitutes') AS substitutes,
       :'s5'::jsonb -> 'lines' -> 1 ? 'substitutes' AS lid_lists_substitutes;
SELECT (:'s5'::jsonb - 'replayed') = oms.get_order(oid_of('S-5')) AS same_document;
SELECT * FROM lines('S-5');
-- bad input
SELECT try(stmt) FROM (VALUES
    ($$SELECT order_doc('B-1', '[{"sku": "MUG-RED", "qty": 1, "unit_price": 1, "substitute": "yes"}]')$$),
    ($$SELECT order_doc('B-1', '[{"sku": "MUG-RED", "qty": 1, "unit_price": 1, "substitute": true}]')$$),
    ($$SELECT order_doc('B-1', '[{"sku": "MUG-RED", "qty": 1, "unit_price": 1, "substitute_unit_price": 2}]')$$),
    ($$SELECT order_doc('B-1', '[{"sku": "MUG-RED", "qty": 1, "unit_price": 1, "substitute": "allow", "substitute_unit_price": -2}]')$$),
    ($$SELECT order_doc('B-1', '[{"sku": "MUG-RED", "qty": 40, "unit_price": 1, "discount": 30, "substitute": "allow", "substitute_unit_price": 0.5}]')$$)
) v(stmt);
SELECT count(*) AS orders FROM oms.orders;

-- the confirmation says so
SELECT oms.authorize_payment(oid_of('S-1'), '{"method": "card", "amount": 38, "token": "tok_visa"}') ->> 'order_status' AS status;
SELECT body FROM oms.render_notification((SELECT max(id) FROM oms.events WHERE kind = 'order_confirmed'));
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- edit_order switches a line to a substitute
-- ---------------------------------------------------------------------------
SELECT order_doc('E-1', '[{"sku": "MUG-RED", "qty": 1, "unit_price": 12}]', '{"policy": "backorder"}') -> 'lines' -> 0 ->> 'backordered' AS backordered;
SELECT oms.edit_order(oid_of('E-1'), '{"changes": [{"op": "substitute", "line_no": 1, "substitute": "MUG-GREEN", "unit_price": 11}]}')
       -> 'lines' AS lines;
SELECT * FROM lines('E-1');
SELECT status FROM oms.orders WHERE external_id = 'E-1';
-- and back to the product asked for, or on to another substitute of it
SELECT oms.edit_order(oid_of('E-1'), '{"changes": [{"op": "substitute", "line_no": 1, "substitute": "MUG-BLUE"}]}') -> 'lines' -> 0 ->> 'substituted_for' AS substituted_for;
SELECT try($$SELECT oms.edit_order(oid_of('E-1'), '{"changes": [{"op": "substitute", "line_no": 1, "substitute": "LID"}]}')$$);
SELECT try($$SELECT oms.edit_order(oid_of('E-1'), '{"changes": [{"op": "substitute", "line_no": 1, "substitute": "MUG-OLD"}]}')$$);
SELECT try($$SELECT oms.edit_order(oid_of('E-1'), '{"changes": [{"op": "substitute", "line_no": 1}]}')$$);
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- notifications: order_backordered for a confirmed order, order_follow_up
-- ---------------------------------------------------------------------------
-- a confirmed order whose new address is served only where the stock is short
SELECT order_doc('N-1', '[{"sku": "LID", "qty": 2, "unit_price": 5}]', '{"policy": "backorder", "ship_to": {"lat": 52.5, "lon": 13.4}}') ->> 'status' AS status;
SELECT oms.authorize_payment(oid_of('N-1'), '{"method": "card", "amount": 10, "token": "tok_visa"}') ->> 'order_status' AS status;
UPDATE oms.locations SET active = false WHERE code = 'BER';
SELECT oms.edit_order(oid_of('N-1'), '{"changes": [{"op": "set_ship_to", "ship_to": {"lat": 48.1, "lon": 11.6}}]}') -> 'edit'
       -> 'backordered_units' AS backordered;
UPDATE oms.locations SET active = true WHERE code = 'BER';
SELECT kind, payload FROM oms.events WHERE order_id = oid_of('N-1') AND kind IN ('order_backordered', 'order_edited') ORDER BY id;
SELECT subject FROM oms.render_notification((SELECT max(id) FROM oms.events WHERE kind = 'order_backordered'));
-- the follow-up: N days after the last parcel arrived, once
INSERT INTO oms.carriers (code, name, tracking_url) VALUES ('dhl', 'DHL', 'https://dhl.example/{{tracking_number}}');
INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days) SELECT id, 'standard', 'Paket', 2 FROM oms.carriers;
INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price) SELECT id, 'EUR', NULL, NULL, 5 FROM oms.carrier_services;
SELECT (oms.create_shipment(oid_of('S-1'), 'BER') ->> 'shipment_id')::bigint AS sh \gset
SELECT oms.ship(:sh, 'dhl', 'standard', 'T-1') ->> 'status' AS shipped, oms.deliver(:sh) ->> 'status' AS delivered;
SELECT oms.send_follow_ups() AS too_early;
SET oms.follow_up_days = 0;
SELECT oms.send_follow_ups() AS turned_off;
RESET oms.follow_up_days;
-- as if the parcel had arrived 8 days ago
ALTER TABLE oms.shipments DISABLE TRIGGER USER;
UPDATE oms.shipments SET delivered_at = delivered_at - interval '8 days' WHERE id = :sh;
ALTER TABLE oms.shipments ENABLE TRIGGER USER;
SELECT oms.send_follow_ups() AS sent, oms.send_follow_ups() AS again;
SELECT kind, payload ->> 'days' AS days FROM oms.events WHERE kind = 'order_follow_up';
SELECT subject FROM oms.render_notification((SELECT max(id) FROM oms.events WHERE kind = 'order_follow_up'));
SELECT * FROM oms.check();
DROP SCHEMA subst_t CASCADE;
