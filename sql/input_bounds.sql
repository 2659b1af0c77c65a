--
-- input_bounds: free-text arguments (reasons, notes, references) are at
-- most 1,000 characters, counted in characters, not bytes (issue 13).
-- place_order's ship_to is at most 16 KB (16384 bytes of its JSON text),
-- its flags at most 32 of at most 32 characters, and no identifier (codes,
-- skus, external ids and references, emails, tracking numbers, gift card
-- codes, consumer names, document keys) holds a control character; those
-- refusals never echo the value. Each refusal is 22023 naming the field,
-- and changes nothing.
--
SET client_min_messages = warning;
SET search_path = public, oms;
\set VERBOSITY default
\set SHOW_CONTEXT never
DROP EXTENSION oms CASCADE;
CREATE EXTENSION oms;

INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web');
INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority) VALUES
    ('BER', 'Berlin', 'warehouse', 52.52, 13.40, 10);
INSERT INTO oms.products (sku, name, kind) VALUES ('A', 'Product A', 'stock');
INSERT INTO oms.customers (external_ref, email, name, flags) VALUES ('ann', 'ann@example.com', 'Ann', '{}');
SELECT oms.receive_stock('A', 'BER', 100) IS NOT NULL AS received;
SELECT oms.place_order('{"channel": "web", "external_id": "IB-1", "currency": "EUR",
    "lines": [{"sku": "A", "qty": 1, "unit_price": 10}]}') ->> 'status' AS placed;

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
CREATE VIEW counts AS
SELECT (SELECT count(*) FROM oms.stock_movements) AS movements,
       (SELECT count(*) FROM oms.order_status_history) AS history,
       (SELECT count(*) FROM oms.payment_transactions) AS transactions,
       (SELECT count(*) FROM oms.gift_cards) AS accounts,
       (SELECT count(*) FROM oms.events) AS events,
       (SELECT status FROM oms.orders WHERE external_id = 'IB-1') AS status;

-- texts: 1,000 ASCII characters, 1,000 characters of three bytes each
-- (3,000 bytes), 1,000 emoji (4,000 bytes) pass; 1,001 characters do not
CREATE TABLE texts (label text, v text);
INSERT INTO texts VALUES
    ('1001 ascii',         repeat('x', 1001)),
    ('1001 three-byte',    repeat(U&'\20AC', 1001)),
    ('1001 emoji',         repeat(U&'\+01F4E6', 1001)),
    ('100000 ascii',       repeat('y', 100000));
CREATE TABLE calls (field text, stmt text);
INSERT INTO calls VALUES
    ('receive_stock reference',   $$SELECT oms.receive_stock('A', 'BER', 1, %L)$$),
    ('adjust_stock reason',       $$SELECT oms.adjust_stock('A', 'BER', 50, %L)$$),
    ('hold_order reason',         $$SELECT oms.hold_order((SELECT id FROM oms.orders WHERE external_id = 'IB-1'), %L)$$),
    ('set_order_status reason',   $$SELECT oms.set_order_status((SELECT id FROM oms.orders WHERE external_id = 'IB-1'), 'cancelled', %L)$$),
    ('issue_store_credit reason', $$SELECT oms.issue_store_credit((SELECT id FROM oms.customers WHERE external_ref = 'ann'), 5, 'EUR', %L)$$),
    ('refund_payment reason',     $$SELECT oms.refund_payment(987654, 1, %L)$$),
    ('reject_rma reason',         $$SELECT oms.reject_rma(987654, %L)$$),
    ('create_rma notes',          $$SELECT oms.create_rma((SELECT id FROM oms.orders WHERE external_id = 'IB-1'), jsonb_build_object('resolution', 'refund', 'notes', %L::text, 'lines', '[]'::jsonb))$$);
SELECT * FROM counts;
SELECT c.field, t.label, try(format(c.stmt, t.v)) AS result FROM calls c, texts t ORDER BY c.field, t.label;
SELECT * FROM counts;

-- at the bound: accepted, and stored whole
SELECT label, try(format($$SELECT oms.receive_stock('A', 'BER', 1, %L)$$, v)) AS result FROM (VALUES
    ('1000 ascii', repeat('x', 1000)), ('1000 three-byte', repeat(U&'\20AC', 1000)),
    ('1000 emoji', repeat(U&'\+01F4E6', 1000)), ('empty', '')) AS t(label, v);
SELECT length(reference) AS chars, octet_length(reference) AS bytes FROM oms.stock_movements
 WHERE reference IS NOT NULL ORDER BY id;
SELECT try(format($$SELECT oms.hold_order((SELECT id FROM oms.orders WHERE external_id = 'IB-1'), %L)$$, repeat(U&'\20AC', 1000))) AS hold_1000_chars;
SELECT length(reason) AS chars FROM oms.order_status_history WHERE reason IS NOT NULL;

-- in full, once: message, detail and hint
SELECT oms.adjust_stock('A', 'BER', 50, repeat(U&'\20AC', 1001));

-- ---------------------------------------------------------------------------
-- place_order: notes, ship_to, flags
-- ---------------------------------------------------------------------------
-- an order document with the keys of extra merged in
CREATE FUNCTION bounds_doc(ext text, extra jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('channel', 'web', 'external_id', ext, 'currency', 'EUR',
           'lines', '[{"sku": "A", "qty": 1, "unit_price": 10}]'::jsonb) || extra $$;
CREATE VIEW order_counts AS
SELECT (SELECT count(*) FROM oms.orders) AS orders, (SELECT count(*) FROM oms.customers) AS customers,
       (SELECT count(*) FROM oms.stock_movements) AS movements, (SELECT count(*) FROM oms.events) AS events;
SELECT * FROM order_counts;
SELECT label, try(format('SELECT oms.place_order(%L)', bounds_doc('IB-N-' || n, extra))) AS result FROM (VALUES
    (1, 'notes 1001 ascii',        jsonb_build_object('notes', repeat('x', 1001))),
    (2, 'notes 1001 three-byte',   jsonb_build_object('notes', repeat(U&'\20AC', 1001))),
    (3, 'notes 1001 emoji',        jsonb_build_object('notes', repeat(U&'\+01F4E6', 1001))),
    (4, 'notes 100000 ascii',      jsonb_build_object('notes', repeat('y', 100000))),
    (5, 'ship_to 16385 bytes',     jsonb_build_object('ship_to', jsonb_build_object('name', repeat('x', 16373)))),
    (6, 'ship_to 5461 euro signs', jsonb_build_object('ship_to', jsonb_build_object('name', repeat(U&'\20AC', 5461)))),
    (7, 'ship_to 1 MB',            jsonb_build_object('ship_to', jsonb_build_object('name', 'x', 'instructions', repeat('z', 1000000)))),
    (8, '33 flags',                jsonb_build_object('flags', (SELECT jsonb_agg('f' || i) FROM generate_series(1, 33) i))),
    (9, 'a flag of 33 characters', jsonb_build_object('flags', jsonb_build_array('vip', repeat('a', 33)))),
    (10, 'customer.name 201 three-byte', jsonb_build_object('customer', jsonb_build_object('email', 'n@example.com', 'name', repeat(U&'\20AC', 201)))))
    AS t(n, label, extra) ORDER BY n;
SELECT * FROM order_counts;
-- at the bounds: accepted, and stored whole
SELECT label, try(format('SELECT oms.place_order(%L)', bounds_doc('IB-OK-' || n, extra))) AS result FROM (VALUES
    (1, 'notes 1000 ascii',        jsonb_build_object('notes', repeat('x', 1000))),
    (2, 'notes 1000 three-byte',   jsonb_build_object('notes', repeat(U&'\20AC', 1000))),
    (3, 'notes 1000 emoji',        jsonb_build_object('notes', repeat(U&'\+01F4E6', 1000))),
    (4, 'ship_to 16384 bytes',     jsonb_build_object('ship_to', jsonb_build_object('name', repeat('x', 16372)))),
    (5, '32 flags',                jsonb_build_object('flags', (SELECT jsonb_agg('f' || i) FROM generate_series(1, 32) i))),
    (6, 'a flag of 32 characters', jsonb_build_object('flags', jsonb_build_array('vip', repeat('a', 32)))),
    (7, 'external_id of 200 euro signs', jsonb_build_object('external_id', repeat(U&'\20AC', 200))),
    (8, 'customer.name 200 three-byte', jsonb_build_object('customer', jsonb_build_object('email', 'n@example.com', 'name', repeat(U&'\20AC', 200)))))
    AS t(n, label, extra) ORDER BY n;
SELECT left(external_id, 8) AS external_id, length(external_id) AS id_chars, octet_length(external_id) AS id_bytes,
       length(notes) AS notes_chars, octet_length(notes) AS notes_bytes,
       octet_length(ship_to::text) AS ship_to_bytes, cardinality(flags) AS flags, max(length(f)) AS longest_flag
  FROM oms.orders LEFT JOIN LATERAL unnest(flags) f ON true
 WHERE external_id LIKE 'IB-OK-%' OR external_id LIKE U&'\20AC%'
 GROUP BY id ORDER BY id;
SELECT try(format('SELECT oms.place_order(%L)', bounds_doc(repeat(U&'\20AC', 201), '{}'))) AS external_id_201_chars;
-- a customer's flags (written by oms_admin with SQL) have the same bounds,
-- as a CHECK: 32 flags of at most 32 characters
SELECT label, try(format('INSERT INTO oms.customers (external_ref, flags) VALUES (%L, %L)', 'flags-' || n, flags)) AS result FROM (VALUES
    (1, '32 flags',                (SELECT array_agg('f' || i) FROM generate_series(1, 32) i)),
    (2, '33 flags',                (SELECT array_agg('f' || i) FROM generate_series(1, 33) i)),
    (3, 'a flag of 32 characters', ARRAY[repeat('a', 32)]),
    (4, 'a flag of 33 characters', ARRAY[repeat('a', 33)])) AS t(n, label, flags) ORDER BY n;
DELETE FROM oms.customers WHERE external_ref LIKE 'flags-%';
-- in full
SELECT oms.place_order(bounds_doc('IB-F-1', jsonb_build_object('notes', repeat(U&'\20AC', 1001))));
SELECT oms.place_order(bounds_doc('IB-F-2', jsonb_build_object('ship_to', jsonb_build_object('name', repeat(U&'\20AC', 5461)))));
SELECT oms.place_order(bounds_doc('IB-F-3', jsonb_build_object('flags', (SELECT jsonb_agg('f' || i) FROM generate_series(1, 33) i))));
SELECT oms.place_order(bounds_doc('IB-F-4', jsonb_build_object('flags', jsonb_build_array(repeat('a', 33)))));
SELECT * FROM order_counts;

-- ---------------------------------------------------------------------------
-- control characters in identifiers: C0 (U+0000 to U+001F), DEL (U+007F)
-- and C1 (U+0080 to U+009F), in every kind of identifier of every entry
-- point; the value is never echoed
-- ---------------------------------------------------------------------------
CREATE TABLE controls (label text, c text);
INSERT INTO controls VALUES ('tab', E'\t'), ('line feed', E'\n'), ('carriage return', E'\r'), ('escape', E'\x1b'),
    ('bell', E'\x07'), ('DEL', E'\x7f'), ('NEL U+0085', U&'\0085'), ('CSI U+009B', U&'\009B');
-- each in a sku: found wherever it stands
SELECT label, try(format($$SELECT oms.receive_stock(%L, 'BER', 1)$$, 'A' || c || 'B')) AS result FROM controls;
-- each kind of identifier, %s being 'X' then a control character then 'Y'
CREATE TABLE id_calls (n serial, field text, stmt text);
INSERT INTO id_calls (field, stmt) VALUES
    ('place_order channel',               $$SELECT oms.place_order(jsonb_build_object('channel', %L::text, 'external_id', 'C-1', 'currency', 'EUR', 'lines', '[{"sku": "A", "qty": 1, "unit_price": 1}]'::jsonb))$$),
    ('place_order external_id',           $$SELECT oms.place_order(jsonb_build_object('channel', 'web', 'external_id', %L::text, 'currency', 'EUR', 'lines', '[{"sku": "A", "qty": 1, "unit_price": 1}]'::jsonb))$$),
    ('place_order currency',              $$SELECT oms.place_order(jsonb_build_object('channel', 'web', 'external_id', 'C-1', 'currency', left(%L::text, 3), 'lines', '[{"sku": "A", "qty": 1, "unit_price": 1}]'::jsonb))$$),
    ('place_order lines[0].sku',          $$SELECT oms.place_order(jsonb_build_object('channel', 'web', 'external_id', 'C-1', 'currency', 'EUR', 'lines', jsonb_build_array(jsonb_build_object('sku', %L::text, 'qty', 1, 'unit_price', 1))))$$),
    ('place_order policy',                $$SELECT oms.place_order(jsonb_build_object('channel', 'web', 'external_id', 'C-1', 'currency', 'EUR', 'policy', %L::text, 'lines', '[{"sku": "A", "qty": 1, "unit_price": 1}]'::jsonb))$$),
    ('place_order flags[0]',              $$SELECT oms.place_order(jsonb_build_object('channel', 'web', 'external_id', 'C-1', 'currency', 'EUR', 'flags', jsonb_build_array(%L::text), 'lines', '[{"sku": "A", "qty": 1, "unit_price": 1}]'::jsonb))$$),
    ('place_order customer.external_ref', $$SELECT oms.place_order(jsonb_build_object('channel', 'web', 'external_id', 'C-1', 'currency', 'EUR', 'customer', jsonb_build_object('external_ref', %L::text), 'lines', '[{"sku": "A", "qty": 1, "unit_price": 1}]'::jsonb))$$),
    ('place_order customer.email',        $$SELECT oms.place_order(jsonb_build_object('channel', 'web', 'external_id', 'C-1', 'currency', 'EUR', 'customer', jsonb_build_object('email', %L::text || '@example.com'), 'lines', '[{"sku": "A", "qty": 1, "unit_price": 1}]'::jsonb))$$),
    ('place_order ship_to.pickup',        $$SELECT oms.place_order(jsonb_build_object('channel', 'web', 'external_id', 'C-1', 'currency', 'EUR', 'ship_to', jsonb_build_object('pickup', %L::text), 'lines', '[{"sku": "A", "qty": 1, "unit_price": 1}]'::jsonb))$$),
    ('place_order a key',                 $$SELECT oms.place_order(jsonb_build_object('channel', 'web', 'external_id', 'C-1', 'currency', 'EUR', %L::text, 1, 'lines', '[{"sku": "A", "qty": 1, "unit_price": 1}]'::jsonb))$$),
    ('explain_route lines[0].sku',        $$SELECT * FROM oms.explain_route(jsonb_build_object('channel', 'web', 'external_id', 'C-1', 'currency', 'EUR', 'lines', jsonb_build_array(jsonb_build_object('sku', %L::text, 'qty', 1, 'unit_price', 1))))$$),
    ('authorize_payment method',          $$SELECT oms.authorize_payment((SELECT id FROM oms.orders WHERE external_id = 'IB-1'), jsonb_build_object('method', %L::text, 'amount', 1))$$),
    ('authorize_payment token',           $$SELECT oms.authorize_payment((SELECT id FROM oms.orders WHERE external_id = 'IB-1'), jsonb_build_object('method', 'card', 'amount', 1, 'token', %L::text))$$),
    ('authorize_payment psp_reference',   $$SELECT oms.authorize_payment((SELECT id FROM oms.orders WHERE external_id = 'IB-1'), jsonb_build_object('method', 'card', 'amount', 1, 'token', 'tok', 'psp_reference', %L::text))$$),
    ('authorize_payment brand',           $$SELECT oms.authorize_payment((SELECT id FROM oms.orders WHERE external_id = 'IB-1'), jsonb_build_object('method', 'card', 'amount', 1, 'token', 'tok', 'brand', %L::text))$$),
    ('authorize_payment gift_card_code',  $$SELECT oms.authorize_payment((SELECT id FROM oms.orders WHERE external_id = 'IB-1'), jsonb_build_object('method', 'gift_card', 'amount', 1, 'gift_card_code', %L::text))$$),
    ('create_rma resolution',             $$SELECT oms.create_rma((SELECT id FROM oms.orders WHERE external_id = 'IB-1'), jsonb_build_object('resolution', %L::text, 'lines', '[]'::jsonb))$$),
    ('create_rma exchange.lines[0].sku',  $$SELECT oms.create_rma((SELECT id FROM oms.orders WHERE external_id = 'IB-1'), jsonb_build_object('resolution', 'exchange', 'exchange', jsonb_build_object('lines', jsonb_build_array(jsonb_build_object('sku', %L::text, 'qty', 1))), 'lines', '[]'::jsonb))$$),
    ('receive_stock sku',                 $$SELECT oms.receive_stock(%L, 'BER', 1)$$),
    ('receive_stock location',            $$SELECT oms.receive_stock('A', %L, 1)$$),
    ('adjust_stock sku',                  $$SELECT oms.adjust_stock(%L, 'BER', 1, 'count')$$),
    ('set_safety_stock location',         $$SELECT oms.set_safety_stock('A', %L, 1)$$),
    ('available sku',                     $$SELECT oms.available(%L)$$),
    ('available location',                $$SELECT oms.available('A', %L)$$),
    ('set_order_status status',           $$SELECT oms.set_order_status((SELECT id FROM oms.orders WHERE external_id = 'IB-1'), %L)$$),
    ('create_shipment location',          $$SELECT oms.create_shipment((SELECT id FROM oms.orders WHERE external_id = 'IB-1'), %L)$$),
    ('ship carrier',                      $$SELECT oms.ship(987654, %L, 'std', 'T1')$$),
    ('ship service',                      $$SELECT oms.ship(987654, 'dhl', %L, 'T1')$$),
    ('ship tracking_number',              $$SELECT oms.ship(987654, 'dhl', 'std', %L)$$),
    ('reject_fulfillment location',       $$SELECT oms.reject_fulfillment((SELECT id FROM oms.orders WHERE external_id = 'IB-1'), %L, 'damaged')$$),
    ('reject_fulfillment reason',         $$SELECT oms.reject_fulfillment((SELECT id FROM oms.orders WHERE external_id = 'IB-1'), 'BER', %L)$$),
    ('receive_rma location',              $$SELECT oms.receive_rma(987654, %L, '[]')$$),
    ('issue_gift_card code',              $$SELECT oms.issue_gift_card(%L, 10, 'EUR')$$),
    ('issue_gift_card currency',          $$SELECT oms.issue_gift_card('GIFT-0001-0002', 10, left(%L, 3))$$),
    ('gift_card_balance code',            $$SELECT oms.gift_card_balance(%L)$$),
    ('issue_store_credit currency',       $$SELECT oms.issue_store_credit((SELECT id FROM oms.customers WHERE external_ref = 'ann'), 1, left(%L, 3))$$),
    ('read_events consumer',              $$SELECT * FROM oms.read_events(%L)$$),
    ('ack_events consumer',               $$SELECT oms.ack_events(%L, 1)$$);
SELECT * FROM counts;
SELECT * FROM order_counts;
CREATE TABLE id_attempts AS
SELECT i.n, i.field, c.label AS control, c.c, try(format(i.stmt, 'X' || c.c || 'Y')) AS result
  FROM id_calls i JOIN controls c ON c.label = (SELECT label FROM controls ORDER BY label OFFSET (i.n - 1) % 8 LIMIT 1);
SELECT field, control, result FROM id_attempts ORDER BY n;
-- none echoes the value
SELECT count(*) AS attempts, count(*) FILTER (WHERE result LIKE '22023: %') AS refused_22023,
       count(*) FILTER (WHERE strpos(result, c) > 0) AS echoed FROM id_attempts;
SELECT * FROM counts;
SELECT * FROM order_counts;
-- in full
SELECT oms.receive_stock(E'A\x1b[2JB', 'BER', 1);
SELECT oms.place_order(jsonb_build_object('channel', 'web', 'external_id', E'C-1\nDROP', 'currency', 'EUR', 'lines', '[{"sku": "A", "qty": 1, "unit_price": 1}]'::jsonb));
SELECT oms.place_order(jsonb_build_object('channel', 'web', 'external_id', 'C-1', 'currency', 'EUR', repeat('k', 65), 1, 'lines', '[]'::jsonb));
-- what is not a control character passes the identifier rule: a no-break
-- space, a soft hyphen, letters of any script (the lookup then says the
-- sku is unknown, echoing it)
SELECT label, try(format($$SELECT oms.receive_stock(%L, 'BER', 1)$$, v)) AS result FROM (VALUES
    ('no-break space U+00A0', U&'A\00A0B'), ('soft hyphen U+00AD', U&'A\00ADB'), ('umlaut', 'MÜSLI')) AS t(label, v);
SELECT * FROM oms.check();
DROP TABLE controls, id_calls, id_attempts;
DROP FUNCTION bounds_doc(text, jsonb);
