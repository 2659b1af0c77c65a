--
-- card_guard: the card-number (PAN) guard normalises before it scans, and
-- every free-text field the extension stores is scanned (issue 13, breach
-- 9). A corpus of card numbers, written in every format a person or a
-- copy-paste produces, is generated here and sent through every call that
-- stores a free-text field: every attempt is refused with 22023 and none is
-- stored. What is not a card number still passes.
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
SELECT oms.place_order('{"channel": "web", "external_id": "CG-1", "currency": "EUR",
    "lines": [{"sku": "A", "qty": 1, "unit_price": 10}]}') ->> 'status' AS placed;

-- run a statement, return its SQLSTATE and message (or ok)
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

-- ---------------------------------------------------------------------------
-- the function: the formats of breach 9, each found
-- ---------------------------------------------------------------------------
SELECT label, oms.contains_card_number(v) AS looks_like_a_card FROM (VALUES
    ('newlines',            E'4111\n1111\n1111\n1111'),
    ('tabs',                E'4111\t1111\t1111\t1111'),
    ('CR LF',               E'4111\r\n1111\r\n1111\r\n1111'),
    ('commas',              '4111,1111,1111,1111'),
    ('comma space',         '4111, 1111, 1111, 1111'),
    ('slashes',             '4111/1111/1111/1111'),
    ('underscores',         '4111_1111_1111_1111'),
    ('no-break spaces',     U&'4111\00A01111\00A01111\00A01111'),
    ('thin spaces',         U&'4111\20091111\20091111\20091111'),
    ('narrow no-break',     U&'4111\202F1111\202F1111\202F1111'),
    ('ideographic spaces',  U&'4111\30001111\30001111\30001111'),
    ('zero-width spaces',   U&'4111\200B1111\200B1111\200B1111'),
    ('zero-width joiners',  U&'4\200D1\200D1\200D1\200D111111111111'),
    ('word joiners',        U&'4111\20601111\20601111\20601111'),
    ('BOM',                 U&'\FEFF4111\FEFF1111\FEFF1111\FEFF1111'),
    ('four spaces',         '4111    1111    1111    1111'),
    ('ten spaces',          '4111          1111          1111          1111'),
    ('en dashes',           U&'4111\20131111\20131111\20131111'),
    ('bullets',             U&'4111\20221111\20221111\20221111'),
    ('full-width digits',   U&'\FF14\FF11\FF11\FF11\FF11\FF11\FF11\FF11\FF11\FF11\FF11\FF11\FF11\FF11\FF11\FF11'),
    ('full-width, spaced',  U&'\FF14\FF11\FF11\FF11\3000\FF11\FF11\FF11\FF11\3000\FF11\FF11\FF11\FF11\3000\FF11\FF11\FF11\FF11'),
    ('mixed widths',        U&'4111 \FF11\FF11\FF11\FF11 1111 1111'),
    ('odd grouping',        '41 111 111 1111 1111'),
    ('space dash space',    '4111 - 1111 - 1111 - 1111'),
    ('amex, newlines',      E'3782\n822463\n10005'),
    ('in a sentence',       E'card:\t5555\n5555\n5555\n4444, exp 12/30'),
    ('after other digits',  'order 2 4242/4242/4242/4242'),
    ('control characters',  E'4111\x011111\x021111\x031111')) AS t(label, v);
-- what is not a card number: the separator is too long (four characters
-- other than blanks), a letter splits the number, too few or too many
-- digits, Luhn fails
SELECT label, oms.contains_card_number(v) AS looks_like_a_card FROM (VALUES
    ('12 digits',           '4111 1111 1111'),
    ('16 digits, no Luhn',  E'4111\n1111\n1111\n1112'),
    ('long separator',      '4111 -- 1111 -- 1111 -- 1111'),
    ('letters between',     '4111 a 1111 b 1111 c 1111'),
    ('20-digit tracking',   '94001118992231234567'),
    ('ISO date',            '2026-12-04'),
    ('date and time',       '04.12.2026 19:07'),
    ('ISO timestamp',       '2026-12-04T19:07:49Z'),
    ('phone',               '+49 30 1234 5678'),
    ('phone, US',           '+1 (555) 123-4567'),
    ('price list',          '12.50, 13.75, 9.99'),
    ('quantities',          E'qty 4\nqty 5\nqty 6'),
    ('full-width 12',       U&'\FF14\FF11\FF11\FF11\FF11\FF11\FF11\FF11\FF11\FF11\FF11\FF11'),
    ('empty',               '')) AS t(label, v);

-- ---------------------------------------------------------------------------
-- the corpus: card numbers x formats x fields, generated
-- ---------------------------------------------------------------------------
-- three test card numbers (Visa 16, Mastercard 16, Amex 15) with their
-- print groups, and separators between the groups
CREATE TABLE pans (pan text, groups int[]);
INSERT INTO pans VALUES ('4111111111111111', '{4,4,4,4}'), ('5555555555554444', '{4,4,4,4}'),
                        ('378282246310005', '{4,6,5}');
CREATE TABLE seps (sep text);
INSERT INTO seps VALUES (''), (' '), ('-'), ('.'), (E'\t'), (E'\n'), (E'\r\n'), (','), (', '), ('/'), ('_'),
    (U&'\00A0'), (U&'\2009'), (U&'\202F'), (U&'\3000'), (U&'\200B'), (U&'\2060'), (U&'\FEFF'),
    ('    '), (' - '), (U&'\2013'), ('|'), (':');
-- a format: the groups joined by the separator, in ASCII or full-width
-- digits, alone or inside a sentence
CREATE FUNCTION grouped(pan text, groups int[], sep text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT string_agg(substr(pan, 1 + COALESCE((SELECT sum(g) FROM unnest(groups[1:i - 1]) g), 0)::int, groups[i]), sep ORDER BY i)
      FROM generate_subscripts(groups, 1) i $$;
CREATE TABLE corpus AS
SELECT row_number() OVER () AS n, p.pan, v.value
  FROM pans p, seps s,
       LATERAL (VALUES (grouped(p.pan, p.groups, s.sep)),
                       ('card ' || grouped(p.pan, p.groups, s.sep) || ' exp 12/30'),
                       (translate(grouped(p.pan, p.groups, s.sep), '0123456789', U&'\FF10\FF11\FF12\FF13\FF14\FF15\FF16\FF17\FF18\FF19'))) AS v(value);
SELECT count(*) AS formats FROM corpus;
-- every call that stores a free-text field, with the value as %L
CREATE TABLE fields (field text, stmt text);
INSERT INTO fields VALUES
    ('receive_stock reference',     $$SELECT oms.receive_stock('A', 'BER', 1, %L)$$),
    ('adjust_stock reason',         $$SELECT oms.adjust_stock('A', 'BER', 50, %L)$$),
    ('hold_order reason',           $$SELECT oms.hold_order((SELECT id FROM oms.orders WHERE external_id = 'CG-1'), %L)$$),
    ('set_order_status reason',     $$SELECT oms.set_order_status((SELECT id FROM oms.orders WHERE external_id = 'CG-1'), 'cancelled', %L)$$),
    ('issue_store_credit reason',   $$SELECT oms.issue_store_credit((SELECT id FROM oms.customers WHERE external_ref = 'ann'), 5, 'EUR', %L)$$),
    ('products.name',               $$INSERT INTO oms.products (sku, name, kind) VALUES ('CG-P', %L, 'stock')$$),
    ('locations.name',              $$INSERT INTO oms.locations (code, name, kind) VALUES ('CGL', %L, 'store')$$),
    ('locations.address',           $$UPDATE oms.locations SET address = %L WHERE code = 'BER'$$),
    ('channels.name',               $$UPDATE oms.channels SET name = %L WHERE code = 'web'$$),
    ('message_templates.body',      $$UPDATE oms.message_templates SET body = %L WHERE kind = 'order_confirmed'$$),
    ('message_templates.subject',   $$UPDATE oms.message_templates SET subject = %L WHERE kind = 'order_confirmed'$$),
    ('return_reasons.description',  $$UPDATE oms.return_reasons SET description = %L WHERE code = (SELECT min(code) FROM oms.return_reasons)$$),
    ('order_statuses.description',  $$UPDATE oms.order_statuses SET description = %L WHERE status = 'confirmed'$$),
    ('carriers.name',               $$INSERT INTO oms.carriers (code, name) VALUES ('cg', %L)$$),
    ('carriers.tracking_url',       $$INSERT INTO oms.carriers (code, name, tracking_url) VALUES ('cg', 'CG', %L)$$);
CREATE TABLE attempts AS
SELECT f.field, c.pan, c.value, try(format(f.stmt, c.value)) AS result FROM fields f, corpus c;
-- every attempt refused with 22023, the field named, the number never echoed
SELECT count(*) AS attempts, count(*) FILTER (WHERE result LIKE '22023: %contains what looks like a payment card number') AS refused_22023,
       count(*) FILTER (WHERE strpos(result, pan) > 0) AS echoed
  FROM attempts;
SELECT field, count(*) AS attempts, min(result) AS result FROM attempts GROUP BY field ORDER BY field;
-- nothing stored: the digits of no card number are in any of these columns
CREATE FUNCTION digits(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT regexp_replace(translate(t, U&'\FF10\FF11\FF12\FF13\FF14\FF15\FF16\FF17\FF18\FF19', '0123456789'), '[^0-9]', '', 'g') $$;
SELECT count(*) AS stored FROM pans p, (
    SELECT reference FROM oms.stock_movements UNION ALL SELECT reason FROM oms.order_status_history
    UNION ALL SELECT reason FROM oms.payment_transactions UNION ALL SELECT name FROM oms.products
    UNION ALL SELECT name || ' ' || COALESCE(address, '') FROM oms.locations UNION ALL SELECT name FROM oms.channels
    UNION ALL SELECT subject || body FROM oms.message_templates UNION ALL SELECT description FROM oms.return_reasons
    UNION ALL SELECT description FROM oms.order_statuses UNION ALL SELECT name FROM oms.carriers
    UNION ALL SELECT payload::text FROM oms.events) t(v)
 WHERE strpos(digits(t.v), p.pan) > 0;
SELECT status FROM oms.orders WHERE external_id = 'CG-1';

-- what is not a card number is stored, in the same fields
SELECT label, try(format(stmt, v)) AS result FROM (VALUES
    ('12 digits',          $$SELECT oms.receive_stock('A', 'BER', 1, %L)$$, 'PO 4111 1111 1111'),
    ('16 digits, no Luhn', $$SELECT oms.receive_stock('A', 'BER', 1, %L)$$, E'PO 4111\n1111\n1111\n1112'),
    ('date',               $$SELECT oms.adjust_stock('A', 'BER', 50, %L)$$, 'count of 2026-12-04, 19:07'),
    ('phone',              $$UPDATE oms.locations SET address = %L WHERE code = 'BER'$$, 'Alexanderplatz 1, Berlin, +49 30 1234 5678'),
    ('20-digit tracking',  $$UPDATE oms.message_templates SET body = %L WHERE kind = 'order_confirmed'$$, 'sample 94001118992231234567'),
    ('product name',       $$INSERT INTO oms.products (sku, name, kind) VALUES ('CG-OK', %L, 'stock')$$, U&'Mug 0,3\00A0l, 12\2009pcs')) AS t(label, stmt, v);

-- GTINs: a GTIN (13 or 14 digits) passes the Luhn check about one time in ten, so it
-- would be refused in a free-text field; in the gtin column (type oms.gtin,
-- validated by its own check digit) it is never scanned. Measured on 1000
-- valid GTIN-13s:
CREATE TABLE gtins AS
SELECT b || ((10 - (SELECT sum(substr(b, i, 1)::int * CASE WHEN (12 - i) % 2 = 0 THEN 3 ELSE 1 END) FROM generate_series(1, 12) i) % 10) % 10)::text AS g
  FROM (SELECT (400638133000 + i)::text AS b FROM generate_series(1, 1000) i) s;
SELECT count(*) AS gtins, count(*) FILTER (WHERE oms.gtin_is_valid(g)) AS valid,
       count(*) FILTER (WHERE oms.contains_card_number(g)) AS look_like_a_card FROM gtins;
INSERT INTO oms.products (sku, name, kind, gtin)
SELECT 'G-' || g, 'GTIN product', 'stock', g FROM gtins WHERE oms.contains_card_number(g);
SELECT count(*) AS stored_in_gtin_column FROM oms.products WHERE sku LIKE 'G-%';

-- tracking numbers: scanned unless digits only (the carrier's own numbers,
-- see the README); a card number with dashes or spaces is refused by ship()
-- as a card number, never echoed (the format check, whose message echoes
-- the value, comes after the scan)
SELECT try($$SELECT oms.ship(1, 'dhl', 'standard', '4111-1111-1111-1111')$$) AS dashed_pan_as_tracking;
SELECT try($$SELECT oms.ship(1, 'dhl', 'standard', '4111 1111 1111 1111')$$) AS spaced_pan_as_tracking;
SELECT oms.ship(1, 'dhl', 'standard', '5555 5555 5555 4444');

-- ship_to: numbers are scanned too, at any depth (a card number sent as a
-- JSON number); only the coordinates lat and lon are not, whose decimals
-- are a long digit run that passes the Luhn check one time in ten
SELECT count(*) AS orders FROM oms.orders;
SELECT label, try(format('SELECT oms.place_order(%L)', jsonb_build_object('channel', 'web', 'external_id', 'CG-S-' || n, 'currency', 'EUR',
           'ship_to', ship_to, 'lines', '[{"sku": "A", "qty": 1, "unit_price": 10}]'::jsonb))) AS result FROM (VALUES
    (1, 'a number',                '{"name": "Ann", "phone": 4111111111111111}'::jsonb),
    (2, 'in a nested object',      '{"name": "Ann", "contact": {"mobile": {"number": 5555555555554444}}}'),
    (3, 'in an array',             '{"name": "Ann", "phones": [30123456, 378282246310005]}'),
    (4, 'with a fraction',         '{"name": "Ann", "ref": 4111111111111111.00}'),
    (5, 'in exponent notation',    '{"name": "Ann", "ref": 4.111111111111111e15}'),
    (6, 'negative',                '{"name": "Ann", "ref": -4111111111111111}'),
    (7, 'a coordinate elsewhere',  '{"name": "Ann", "geo": {"lat": 52.520008143442}}'),
    (8, 'as a key',                '{"name": "Ann", "4111111111111111": true}')) AS t(n, label, ship_to) ORDER BY n;
-- what passes: the coordinates themselves (52.520008143442 passes Luhn as a
-- digit run, but it is lat), house numbers, postal codes, a phone number
SELECT oms.contains_card_number('52.520008143442') AS lat_looks_like_a_card;
SELECT oms.place_order(jsonb_build_object('channel', 'web', 'external_id', 'CG-S-OK', 'currency', 'EUR',
           'ship_to', '{"name": "Ann", "line1": "Hauptstr.", "number": 12, "postal_code": 10115, "phone": 4930123456,
                        "lat": 52.520008143442, "lon": 13.404950123400}'::jsonb,
           'lines', '[{"sku": "A", "qty": 1, "unit_price": 10}]'::jsonb)) ->> 'status' AS placed;
SELECT ship_to FROM oms.orders WHERE external_id = 'CG-S-OK';
SELECT count(*) AS orders FROM oms.orders;
-- in full
SELECT oms.place_order('{"channel": "web", "external_id": "CG-S-9", "currency": "EUR",
    "ship_to": {"name": "Ann", "phone": 4111111111111111}, "lines": [{"sku": "A", "qty": 1, "unit_price": 10}]}');
-- a direct write meets the CHECK constraint, which scans numbers the same way
SELECT try($$UPDATE oms.orders SET ship_to = '{"name": "Ann", "phone": 4111111111111111}' WHERE external_id = 'CG-S-OK'$$) AS direct_write;
SELECT try($$UPDATE oms.orders SET ship_to = ship_to || '{"box": [1, {"no": 5555555555554444}]}' WHERE external_id = 'CG-S-OK'$$) AS direct_write_nested;
SELECT try($$UPDATE oms.orders SET ship_to = ship_to || '{"lat": 52.520008143442}' WHERE external_id = 'CG-S-OK'$$) AS direct_write_lat;

-- customer.email: scanned before the email check, whose message echoes it
-- (and before the customers CHECK, whose detail would echo the row)
SELECT try($$SELECT oms.place_order('{"channel": "web", "external_id": "CG-E-1", "currency": "EUR",
    "customer": {"email": "4111111111111111@example.com"}, "lines": [{"sku": "A", "qty": 1, "unit_price": 10}]}')$$) AS pan_in_email;
SELECT try($$SELECT oms.place_order('{"channel": "web", "external_id": "CG-E-2", "currency": "EUR",
    "customer": {"email": "4111 1111 1111 1111"}, "lines": [{"sku": "A", "qty": 1, "unit_price": 10}]}')$$) AS pan_as_email;
SELECT count(*) AS customers FROM oms.customers;

-- an admin-written table refuses through the trigger, with a clean message
-- that names the column and does not echo the row
INSERT INTO oms.products (sku, name, kind) VALUES ('CG-X', E'Gift for 4111\n1111\n1111\n1111', 'stock');
SELECT * FROM oms.check();
