--
-- input_bounds: free-text arguments (reasons, notes, references) are at
-- most 1,000 characters, counted in characters, not bytes (issue 13).
-- Each refusal is 22023 naming the field, and changes nothing.
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
SELECT * FROM oms.check();
