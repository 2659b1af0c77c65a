--
-- returns: RMAs (create with return window, claims, reasons and
-- auto-approval; authorize, reject, return label), receiving with
-- disposition (sellable, damaged, missing; kits as components; backorder
-- fills), and the resolution: refund to the original payments (stored value
-- first), store credit or an exchange order (src/returns.c).
-- Every error is shown in full, its SQLSTATE is locked in, and it changes
-- nothing.
--
SET client_min_messages = warning;
SET search_path = public, oms;
\set VERBOSITY default
-- errors raised inside oms functions would show the internal statement as
-- CONTEXT; what matters is the error itself
\set SHOW_CONTEXT never
DROP EXTENSION oms CASCADE;
CREATE EXTENSION oms;

-- ---------------------------------------------------------------------------
-- fixture
-- ---------------------------------------------------------------------------
-- routing by priority: BER first, then HAM; OLD is closed
INSERT INTO oms.channels (code, name, kind, routing_strategy) VALUES ('web', 'Web', 'web', 'priority');
INSERT INTO oms.channels (code, name, kind, routing_strategy, return_window_days) VALUES ('pos', 'Store till', 'pos', 'priority', 0);
INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority, address, active) VALUES
    ('BER', 'Berlin warehouse',  'warehouse', 52.5200, 13.4050, 10, E'Lagerstrasse 1\n10115 Berlin\nDE', true),
    ('HAM', 'Hamburg warehouse', 'warehouse', 53.5511,  9.9937, 20, E'Hafenweg 7\n20457 Hamburg\nDE', true),
    ('OLD', 'Old depot',         'warehouse', 52.0000, 13.0000, 90, E'Altweg 1\n14770 Brandenburg\nDE', false);
INSERT INTO oms.products (sku, name, kind, weight_kg) VALUES
    ('TENT',    'Tent for two',      'stock',   2.500),
    ('MUG',     'Enamel mug',        'stock',   0.400),
    ('LAMP',    'Camping lamp',      'stock',   1.200),
    ('CAMPSET', 'Tent and two mugs', 'kit',     0),
    ('WRAP',    'Gift wrap',         'service', 0),
    ('BOOT',    'Hiking boot',       'stock',   1.100),
    ('CAP',     'Sun cap',           'stock',   0.100);
INSERT INTO oms.kit_components SELECT k.id, c.id, v.q FROM (VALUES ('CAMPSET', 'TENT', 1), ('CAMPSET', 'MUG', 2)) v(kit, sku, q)
  JOIN oms.products c ON c.sku = v.sku JOIN oms.products k ON k.sku = v.kit;
INSERT INTO oms.customers (external_ref, email, name) VALUES
    ('ann', 'ann@example.com', 'Ann Example'),
    ('bob', 'bob@example.com', 'Bob Example');
-- no boots anywhere; one cap at HAM
SELECT count(oms.receive_stock(sku, loc, qty)) AS receipts FROM (VALUES
    ('TENT', 'BER', 30), ('MUG', 'BER', 60), ('LAMP', 'BER', 10), ('CAP', 'HAM', 1)) AS v(sku, loc, qty);
INSERT INTO oms.carriers (code, name, tracking_url, active) VALUES
    ('dhl', 'DHL', 'https://www.dhl.de/track?piececode={{tracking_number}}', true);
INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days, active)
SELECT id, 'standard', 'Paket', 2, true FROM oms.carriers WHERE code = 'dhl';
INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
SELECT id, 'EUR', NULL, NULL, 5.99 FROM oms.carrier_services WHERE code = 'standard';

-- place an order for a customer (NULL: a guest) in Potsdam; lines is
-- [[sku, qty, unit_price, discount, tax], ...] (discount and tax optional);
-- extra keys are merged
CREATE FUNCTION place(ext text, lines jsonb, cust text DEFAULT 'ann', channel text DEFAULT 'web', extra jsonb DEFAULT '{}')
RETURNS bigint LANGUAGE sql AS
$$ SELECT (oms.place_order(jsonb_build_object('channel', channel, 'external_id', ext, 'currency', 'EUR',
       'ship_to', jsonb_build_object('name', COALESCE(initcap(cust) || ' Example', 'Gus Guest'), 'line1', 'Am Kanal 5',
                                     'postal_code', '14467', 'city', 'Potsdam', 'country', 'DE', 'lat', 52.3906, 'lon', 13.0645),
       'lines', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('sku', l ->> 0, 'qty', (l ->> 1)::int,
                                  'unit_price', (l ->> 2)::numeric, 'discount', (l ->> 3)::numeric, 'tax', (l ->> 4)::numeric)))
                   FROM jsonb_array_elements(lines) l))
       || CASE WHEN cust IS NULL THEN '{}' ELSE jsonb_build_object('customer', jsonb_build_object('external_ref', cust)) END
       || extra)
       ->> 'order_id')::bigint $$;
CREATE FUNCTION oid_of(ext text) RETURNS bigint LANGUAGE sql AS
$$ SELECT id FROM oms.orders WHERE external_id = ext $$;
-- pay the whole order by card: authorize, then capture (captured => NULL:
-- authorize only); the order is confirmed
CREATE FUNCTION pay(ext text, captured numeric DEFAULT -1) RETURNS text LANGUAGE sql AS
$$ SELECT CASE WHEN captured IS NULL THEN a ->> 'order_status'
               ELSE oms.capture_payment((a ->> 'payment_id')::bigint, CASE WHEN captured >= 0 THEN captured END) ->> 'order_status' END
     FROM oms.orders o, oms.authorize_payment(o.id, jsonb_build_object('method', 'card', 'amount', o.total,
                                              'token', 'tok_' || ext)) a
    WHERE o.external_id = ext $$;
-- the n-th shipment of an order
CREATE FUNCTION sh(ext text, n int DEFAULT 1) RETURNS bigint LANGUAGE sql AS
$$ SELECT s.id FROM oms.shipments s JOIN oms.orders o ON o.id = s.order_id WHERE o.external_id = ext ORDER BY s.id OFFSET n - 1 LIMIT 1 $$;
-- ship what the order holds at a location (lines: only those) and deliver
-- it (deliver => false: only ship); returns the order's status
CREATE FUNCTION send(ext text, loc text DEFAULT 'BER', lines jsonb DEFAULT NULL, deliver boolean DEFAULT true) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    s bigint;
    st text;
BEGIN
    s := (oms.create_shipment(oid_of(ext), loc, lines) ->> 'shipment_id')::bigint;
    st := oms.ship(s, 'dhl', 'standard', 'JJD-' || ext || '-' || s) ->> 'order_status';
    IF deliver THEN
        st := oms.deliver(s) ->> 'order_status';
    END IF;
    RETURN st;
END
$$;
-- the n-th RMA of an order
CREATE FUNCTION rma_of(ext text, n int DEFAULT 1) RETURNS bigint LANGUAGE sql AS
$$ SELECT r.id FROM oms.rmas r JOIN oms.orders o ON o.id = r.order_id WHERE o.external_id = ext ORDER BY r.id OFFSET n - 1 LIMIT 1 $$;
-- what the tests show of an RMA document: no ids
CREATE FUNCTION rdoc(j jsonb) RETURNS jsonb LANGUAGE sql AS
$$ SELECT j - 'rma_id' - 'order_id' - 'exchange_order_id' $$;
-- an RMA's lines: one row each
CREATE FUNCTION rlines(rma bigint) RETURNS TABLE (line_no int, sku text, qty int, reason text, unit_value numeric,
                                                  restocked int, damaged int, missing int, resolved int)
LANGUAGE sql AS
$$ SELECT (l ->> 'line_no')::int, l ->> 'sku', (l ->> 'qty')::int, l ->> 'reason', (l ->> 'unit_value')::numeric,
          (l ->> 'restocked')::int, (l ->> 'damaged')::int, (l ->> 'missing')::int, (l ->> 'resolved')::int
     FROM jsonb_array_elements(oms.get_rma(rma) -> 'lines') l $$;
-- an order's status and its lines
CREATE FUNCTION lines_of(ext text) RETURNS TABLE (status text, line_no int, sku text, qty int, reserved int, backordered int,
                                                  shipped int, returned int)
LANGUAGE sql AS
$$ SELECT o.status, l.line_no, p.sku, l.qty, l.qty_reserved, l.qty_backordered, l.qty_shipped, l.qty_returned
     FROM oms.orders o JOIN oms.order_lines l ON l.order_id = o.id JOIN oms.products p ON p.id = l.product_id
    WHERE o.external_id = ext ORDER BY l.line_no $$;
-- stock of some products at a location
CREATE FUNCTION stock(loc text, skus text[]) RETURNS TABLE (sku text, on_hand int, reserved int, damaged int) LANGUAGE sql AS
$$ SELECT p.sku, b.on_hand, b.reserved, b.damaged FROM oms.stock_balances b JOIN oms.products p ON p.id = b.product_id
     JOIN oms.locations l ON l.id = b.location_id WHERE l.code = loc AND p.sku = ANY (skus) ORDER BY p.sku $$;
-- the ledger rows of returns (reference 'RMA n')
CREATE FUNCTION ledger(rma bigint) RETURNS TABLE (kind text, location text, sku text, on_hand_delta int, reserved_delta int, damaged_delta int)
LANGUAGE sql AS
$$ SELECT m.kind, l.code, p.sku, m.on_hand_delta, m.reserved_delta, m.damaged_delta FROM oms.stock_movements m
     JOIN oms.products p ON p.id = m.product_id JOIN oms.locations l ON l.id = m.location_id
    WHERE m.reference = 'RMA ' || rma ORDER BY m.id $$;
-- an order's payments
CREATE FUNCTION payments_of(ext text) RETURNS TABLE (method text, status text, authorized numeric, captured numeric, refunded numeric)
LANGUAGE sql AS
$$ SELECT p.method, p.status, p.authorized, p.captured, p.refunded FROM oms.payments p JOIN oms.orders o ON o.id = p.order_id
    WHERE o.external_id = ext ORDER BY p.id $$;
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
-- run a statement, return its SQLSTATE, message and detail (dates masked)
CREATE FUNCTION tryd(stmt text) RETURNS TABLE (state text, message text, detail text) LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN QUERY SELECT 'ok', NULL::text, NULL::text;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
    RETURN QUERY SELECT state, message, regexp_replace(detail, '\d{4}-\d{2}-\d{2}', 'YYYY-MM-DD', 'g');
END
$$;
-- the detail of the error a statement raises, as it is
CREATE FUNCTION raw_detail(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    d text;
BEGIN
    EXECUTE stmt;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN d;
END
$$;
-- everything a bad call could change
CREATE VIEW counts AS
SELECT (SELECT count(*) FROM oms.orders) AS orders,
       (SELECT count(*) FROM oms.rmas) AS rmas,
       (SELECT string_agg(status || ' ' || n, ', ' ORDER BY status) FROM (SELECT status, count(*) AS n FROM oms.rmas GROUP BY 1) s) AS rma_status,
       (SELECT count(*) FROM oms.rma_lines) AS rma_lines,
       (SELECT sum(qty_restocked) || '/' || sum(qty_damaged) || '/' || sum(qty_missing) || '/' || sum(qty_resolved) FROM oms.rma_lines) AS "rest/dam/miss/res",
       (SELECT sum(qty_returned) FROM oms.order_lines) AS returned,
       (SELECT count(*) FROM oms.payments) AS payments,
       (SELECT count(*) FROM oms.payment_transactions) AS transactions,
       (SELECT COALESCE(sum(refunded), 0) FROM oms.payments) AS refunded,
       (SELECT COALESCE(sum(balance), 0) FROM oms.gift_cards) AS balances,
       (SELECT count(*) FROM oms.stock_movements) AS movements,
       (SELECT sum(on_hand) || '/' || sum(reserved) || '/' || sum(damaged) FROM oms.stock_balances) AS "on_hand/reserved/damaged",
       (SELECT count(*) FROM oms.events) AS events,
       (SELECT count(*) FROM oms.order_status_history) AS history;

-- ---------------------------------------------------------------------------
-- the orders
-- ---------------------------------------------------------------------------
-- A-1 (Ann): 4 tents at 100 less 20 discount plus 38 tax (104.50 a unit),
-- 6 mugs at 10 plus 1.20 tax (10.20 a unit), a gift wrap; paid 100 by
-- gift card and the rest by card, all captured; shipped from BER and
-- delivered
SELECT oms.issue_gift_card('GIFT-RETURN-0001', 150, 'EUR') ->> 'balance' AS gift_card_issued;
SELECT place('A-1', '[["TENT", 4, 100, 20, 38], ["MUG", 6, 10, 0, 1.2], ["WRAP", 1, 5]]') AS a1;
SELECT total FROM oms.orders WHERE external_id = 'A-1';
SELECT oms.capture_payment((oms.authorize_payment(oid_of('A-1'), '{"method": "gift_card", "amount": 100, "gift_card_code": "GIFT-RETURN-0001"}')
       ->> 'payment_id')::bigint) ->> 'status' AS gift_card_payment,
       oms.gift_card_balance('GIFT-RETURN-0001') AS gift_card_balance;
SELECT oms.capture_payment((oms.authorize_payment(oid_of('A-1'), '{"method": "card", "amount": 384.2, "token": "tok_a1"}')
       ->> 'payment_id')::bigint) ->> 'order_status' AS a1_status;
SELECT send('A-1') AS a1_status;
SELECT * FROM lines_of('A-1');
-- U-1 (Ann): a tent shipped, the lamp not yet
SELECT place('U-1', '[["TENT", 1, 50], ["LAMP", 1, 30]]') AS u1, pay('U-1') AS u1_status;
SELECT send('U-1', 'BER', '[{"sku": "TENT", "qty": 1}]', false) AS u1_status;
-- P-1 (Ann): paid, not shipped
SELECT place('P-1', '[["MUG", 1, 10]]') AS p1, pay('P-1') AS p1_status;
-- S-1 (a guest): two mugs, delivered
SELECT place('S-1', '[["MUG", 2, 10]]', NULL) AS s1, pay('S-1') AS s1_status, send('S-1') AS s1_status;
-- D-1 (Ann): two lines of mugs, delivered
SELECT place('D-1', '[["MUG", 1, 10], ["MUG", 2, 10]]') AS d1, pay('D-1') AS d1_status, send('D-1') AS d1_status;

-- ---------------------------------------------------------------------------
-- create_rma: bad input, each raises, nothing changes
-- ---------------------------------------------------------------------------
SELECT * FROM counts;
-- a few in full
SELECT oms.create_rma(oid_of('A-1'), '[]');
SELECT oms.create_rma(oid_of('A-1'), '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "refund", "colour": "red"}');
SELECT oms.create_rma(oid_of('A-1'), '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}]}');
SELECT oms.create_rma(oid_of('A-1'), '{"resolution": "refund"}');
SELECT oms.create_rma(oid_of('A-1'), '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "replace"}');
SELECT oms.create_rma(oid_of('A-1'), '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "exchange"}');
SELECT oms.create_rma(oid_of('A-1'), '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "exchange", "exchange": {}}');
SELECT oms.create_rma(oid_of('A-1'), '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "refund", "exchange": {"lines": [{"sku": "TENT", "qty": 1}]}}');
SELECT oms.create_rma(oid_of('A-1'), '{"lines": [{"sku": "TENT", "qty": 1, "reason": "bored"}], "resolution": "refund"}');
SELECT oms.create_rma(oid_of('A-1'), '{"lines": [{"sku": "TENT", "qty": 5, "reason": "defective"}], "resolution": "refund"}');
SELECT oms.create_rma(oid_of('A-1'), '{"lines": [{"sku": "WRAP", "qty": 1, "reason": "defective"}], "resolution": "refund"}');
SELECT oms.create_rma(oid_of('U-1'), '{"lines": [{"sku": "LAMP", "qty": 1, "reason": "defective"}], "resolution": "refund"}');
SELECT oms.create_rma(oid_of('P-1'), '{"lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}], "resolution": "refund"}');
SELECT oms.create_rma(oid_of('S-1'), '{"lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}], "resolution": "store_credit"}');
SELECT oms.create_rma(oid_of('A-1'), '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}, {"line_no": 1, "qty": 1, "reason": "defective"}], "resolution": "refund"}');
SELECT oms.create_rma(oid_of('D-1'), '{"lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}], "resolution": "refund"}');
SELECT oms.create_rma(NULL, '{"lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}], "resolution": "refund"}');
SELECT oms.create_rma(oid_of('A-1'), NULL);
-- every one with its SQLSTATE
SELECT label, e.* FROM (SELECT oid_of('A-1') AS o) x, (VALUES
    ('NULL RMA',               NULL),
    ('JSON null',              'null'),
    ('array',                  '[]'),
    ('string',                 '"refund"'),
    ('number',                 '5'),
    ('empty object',           '{}'),
    ('unknown key',            '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "refund", "colour": "red"}'),
    ('no resolution',          '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}]}'),
    ('resolution replace',     '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "replace"}'),
    ('resolution upper case',  '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "REFUND"}'),
    ('resolution number',      '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": 1}'),
    ('resolution null',        '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": null}'),
    ('no lines',               '{"resolution": "refund"}'),
    ('lines an object',        '{"lines": {"sku": "TENT", "qty": 1, "reason": "defective"}, "resolution": "refund"}'),
    ('lines empty',            '{"lines": [], "resolution": "refund"}'),
    ('line a number',          '{"lines": [1], "resolution": "refund"}'),
    ('line unknown key',       '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective", "colour": "red"}], "resolution": "refund"}'),
    ('line without sku or line_no', '{"lines": [{"qty": 1, "reason": "defective"}], "resolution": "refund"}'),
    ('unknown sku',            '{"lines": [{"sku": "LAMP", "qty": 1, "reason": "defective"}], "resolution": "refund"}'),
    ('sku not in the catalog', '{"lines": [{"sku": "NOPE", "qty": 1, "reason": "defective"}], "resolution": "refund"}'),
    ('unknown line_no',        '{"lines": [{"line_no": 9, "qty": 1, "reason": "defective"}], "resolution": "refund"}'),
    ('line_no 0',              '{"lines": [{"line_no": 0, "qty": 1, "reason": "defective"}], "resolution": "refund"}'),
    ('line_no "1"',            '{"lines": [{"line_no": "1", "qty": 1, "reason": "defective"}], "resolution": "refund"}'),
    ('line listed twice',      '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}, {"line_no": 1, "qty": 1, "reason": "defective"}], "resolution": "refund"}'),
    ('no qty',                 '{"lines": [{"sku": "TENT", "reason": "defective"}], "resolution": "refund"}'),
    ('qty 0',                  '{"lines": [{"sku": "TENT", "qty": 0, "reason": "defective"}], "resolution": "refund"}'),
    ('qty -1',                 '{"lines": [{"sku": "TENT", "qty": -1, "reason": "defective"}], "resolution": "refund"}'),
    ('qty 1.5',                '{"lines": [{"sku": "TENT", "qty": 1.5, "reason": "defective"}], "resolution": "refund"}'),
    ('qty "1"',                '{"lines": [{"sku": "TENT", "qty": "1", "reason": "defective"}], "resolution": "refund"}'),
    ('qty 1e9',                '{"lines": [{"sku": "TENT", "qty": 1000000000, "reason": "defective"}], "resolution": "refund"}'),
    ('qty 5 of 4 shipped',     '{"lines": [{"sku": "TENT", "qty": 5, "reason": "defective"}], "resolution": "refund"}'),
    ('no reason',              '{"lines": [{"sku": "TENT", "qty": 1}], "resolution": "refund"}'),
    ('unknown reason',         '{"lines": [{"sku": "TENT", "qty": 1, "reason": "bored"}], "resolution": "refund"}'),
    ('reason upper case',      '{"lines": [{"sku": "TENT", "qty": 1, "reason": "DEFECTIVE"}], "resolution": "refund"}'),
    ('reason empty',           '{"lines": [{"sku": "TENT", "qty": 1, "reason": ""}], "resolution": "refund"}'),
    ('a service',              '{"lines": [{"sku": "WRAP", "qty": 1, "reason": "defective"}], "resolution": "refund"}'),
    ('exchange, no exchange',  '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "exchange"}'),
    ('exchange without lines', '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "exchange", "exchange": {}}'),
    ('exchange lines empty',   '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "exchange", "exchange": {"lines": []}}'),
    ('exchange an array',      '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "exchange", "exchange": [{"sku": "TENT", "qty": 1}]}'),
    ('exchange unknown key',   '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "exchange", "exchange": {"lines": [{"sku": "TENT", "qty": 1}], "when": "now"}}'),
    ('exchange line key',      '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "exchange", "exchange": {"lines": [{"sku": "TENT", "qty": 1, "colour": "red"}]}}'),
    ('exchange sku unknown',   '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "exchange", "exchange": {"lines": [{"sku": "NOPE", "qty": 1}]}}'),
    ('exchange for a service', '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "exchange", "exchange": {"lines": [{"sku": "WRAP", "qty": 1}]}}'),
    ('exchange qty 0',         '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "exchange", "exchange": {"lines": [{"sku": "TENT", "qty": 0}]}}'),
    ('exchange without qty',   '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "exchange", "exchange": {"lines": [{"sku": "TENT"}]}}'),
    ('exchange on a refund',   '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "refund", "exchange": {"lines": [{"sku": "TENT", "qty": 1}]}}'),
    ('notes a number',         '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "refund", "notes": 5}'),
    ('card number in notes',   '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "refund", "notes": "card 4111 1111 1111 1111"}')) AS t(label, r),
       tryd(format('SELECT oms.create_rma(%s, %L)', o, r)) e;
SELECT label, e.* FROM (VALUES
    ('line not shipped',       $$SELECT oms.create_rma(oid_of('U-1'), '{"lines": [{"sku": "LAMP", "qty": 1, "reason": "defective"}], "resolution": "refund"}')$$),
    ('order not shipped',      $$SELECT oms.create_rma(oid_of('P-1'), '{"lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}], "resolution": "refund"}')$$),
    ('store credit, guest',    $$SELECT oms.create_rma(oid_of('S-1'), '{"lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}], "resolution": "store_credit"}')$$),
    ('sku on two lines',       $$SELECT oms.create_rma(oid_of('D-1'), '{"lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}], "resolution": "refund"}')$$),
    ('unknown order',          $$SELECT oms.create_rma(987654, '{"lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}], "resolution": "refund"}')$$),
    ('NULL order',             $$SELECT oms.create_rma(NULL, '{"lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}], "resolution": "refund"}')$$),
    ('malformed JSON',         $$SELECT oms.create_rma(oid_of('A-1'), '{"lines": [')$$)) AS t(label, stmt), tryd(stmt) e;
-- an inactive reason is not offered
UPDATE oms.return_reasons SET active = false WHERE code = 'too_large';
SELECT * FROM tryd($$SELECT oms.create_rma(oid_of('A-1'), '{"lines": [{"sku": "TENT", "qty": 1, "reason": "too_large"}], "resolution": "refund"}')$$);
UPDATE oms.return_reasons SET active = true WHERE code = 'too_large';
SELECT * FROM counts;

-- ---------------------------------------------------------------------------
-- create_rma, authorize_rma, reject_rma: claims and auto-approval
-- ---------------------------------------------------------------------------
-- 3 tents, defective: 313.50, within defective's 500, authorized at once
SELECT jsonb_pretty(rdoc(oms.create_rma(oid_of('A-1'), '{"lines": [{"sku": "TENT", "qty": 3, "reason": "defective"}],
    "resolution": "refund", "notes": "zip broken"}'))) AS rma_1;
SELECT status, value, notes, authorized_at IS NOT NULL AS authorized_at_set FROM oms.rmas WHERE id = rma_of('A-1', 1);
-- the other RMAs claim what is left: 1 tent; 2 is too many, across RMAs
SELECT * FROM counts;
SELECT oms.create_rma(oid_of('A-1'), '{"lines": [{"sku": "TENT", "qty": 2, "reason": "wrong_item"}], "resolution": "refund"}');
SELECT * FROM counts;
-- 6 mugs, changed_mind: 61.20 is above changed_mind's 50, the RMA waits
SELECT rdoc(oms.create_rma(oid_of('A-1'), '{"lines": [{"line_no": 2, "qty": 6, "reason": "changed_mind"}], "resolution": "refund"}')) AS rma_2;
-- no label yet
SELECT oms.return_label(rma_of('A-1', 2));
SELECT rdoc(oms.authorize_rma(rma_of('A-1', 2))) ->> 'status' AS authorized;
-- again: a no-op that says so
SELECT n ->> 'authorized' AS authorized, n ->> 'note' AS note, n ->> 'status' AS status
  FROM oms.authorize_rma(rma_of('A-1', 2)) AS n;
SELECT n ->> 'authorized' AS authorized, n ->> 'note' AS note FROM oms.authorize_rma(rma_of('A-1', 1)) AS n;
-- the last tent, not_as_described: 104.50 is above its 100, the RMA waits
SELECT rdoc(oms.create_rma(oid_of('A-1'), '{"lines": [{"sku": "TENT", "qty": 1, "reason": "not_as_described"}], "resolution": "refund"}')) ->> 'status' AS rma_3;
-- every tent is claimed now
SELECT * FROM tryd($$SELECT oms.create_rma(oid_of('A-1'), '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "refund"}')$$);
-- rejecting it frees the tent: the reason is required
SELECT oms.reject_rma(rma_of('A-1', 3), ' ');
SELECT label, e.* FROM (VALUES
    ('empty reason',        $$SELECT oms.reject_rma(rma_of('A-1', 3), '')$$),
    ('blank reason',        $$SELECT oms.reject_rma(rma_of('A-1', 3), E' \t\n')$$),
    ('NULL reason',         $$SELECT oms.reject_rma(rma_of('A-1', 3), NULL)$$),
    ('card number',         $$SELECT oms.reject_rma(rma_of('A-1', 3), 'refund to 4111 1111 1111 1111')$$),
    ('NULL RMA',            $$SELECT oms.reject_rma(NULL, 'no')$$),
    ('unknown RMA',         $$SELECT oms.reject_rma(987654, 'no')$$)) AS t(label, stmt), tryd(stmt) e;
SELECT rdoc(oms.reject_rma(rma_of('A-1', 3), 'the photos show the tent as described')) - 'lines' AS rejected;
-- again: a no-op that says so; a rejected RMA is not authorized
SELECT n ->> 'rejected' AS rejected, n ->> 'note' AS note, n ->> 'reject_reason' AS reject_reason
  FROM oms.reject_rma(rma_of('A-1', 3), 'other reason') AS n;
SELECT oms.authorize_rma(rma_of('A-1', 3));
SELECT oms.return_label(rma_of('A-1', 3));
SELECT label, e.* FROM (VALUES
    ('rejected',    $$SELECT oms.authorize_rma(rma_of('A-1', 3))$$),
    ('unknown RMA', $$SELECT oms.authorize_rma(987654)$$),
    ('NULL RMA',    $$SELECT oms.authorize_rma(NULL)$$)) AS t(label, stmt), tryd(stmt) e;
-- the tent can be claimed again: wrong_item, authorized at once
SELECT rdoc(oms.create_rma(oid_of('A-1'), '{"lines": [{"sku": "TENT", "qty": 1, "reason": "wrong_item"}], "resolution": "refund"}')) ->> 'status' AS rma_4;
SELECT r.id = rma_of('A-1', n) AS in_order, n, r.status, r.value, r.reject_reason
  FROM generate_series(1, 4) n, oms.rmas r WHERE r.id = rma_of('A-1', n) ORDER BY n;
-- several reasons: the lowest limit counts (wrong_item 500, changed_mind
-- 50): 40.00 passes; a reason without a limit never passes
INSERT INTO oms.return_reasons (code, description, restocking_fee_pct) VALUES ('late_delivery', 'Came too late to be of use', 5);
SELECT place('M-1', '[["MUG", 3, 10], ["LAMP", 1, 30]]') AS m1, pay('M-1') AS m1_status, send('M-1') AS m1_status;
SELECT rdoc(oms.create_rma(oid_of('M-1'), '{"lines": [{"sku": "MUG", "qty": 1, "reason": "changed_mind"}, {"sku": "LAMP", "qty": 1, "reason": "wrong_item"}], "resolution": "refund"}')) ->> 'status' AS value_40_limit_50;
SELECT rdoc(oms.create_rma(oid_of('M-1'), '{"lines": [{"sku": "MUG", "qty": 1, "reason": "late_delivery"}], "resolution": "refund"}')) ->> 'status' AS no_limit;
SELECT rdoc(oms.create_rma(oid_of('M-1'), '{"lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}], "resolution": "refund"}')) ->> 'status' AS value_10_limit_500;
SELECT n, r.status, r.value FROM generate_series(1, 3) n, oms.rmas r WHERE r.id = rma_of('M-1', n) ORDER BY n;

-- ---------------------------------------------------------------------------
-- return_label: ZPL for an authorized RMA, to the location that shipped
-- the units
-- ---------------------------------------------------------------------------
SELECT oms.return_label(rma_of('A-1', 1)) AS label;
SELECT label, e.* FROM (VALUES
    ('requested',   $$SELECT oms.return_label(rma_of('M-1', 2))$$),
    ('rejected',    $$SELECT oms.return_label(rma_of('A-1', 3))$$),
    ('unknown RMA', $$SELECT oms.return_label(987654)$$)) AS t(label, stmt), tryd(stmt) e;
SELECT oms.return_label(NULL) IS NULL AS label_of_null, oms.get_rma(NULL) IS NULL AS get_of_null;
SELECT * FROM tryd($$SELECT oms.get_rma(987654)$$);

-- ---------------------------------------------------------------------------
-- receive_rma: bad input, each raises, nothing changes
-- ---------------------------------------------------------------------------
SELECT * FROM counts;
SELECT oms.receive_rma(rma_of('A-1', 1), 'NOWHERE', '[{"sku": "TENT", "qty": 1, "condition": "sellable"}]');
SELECT oms.receive_rma(rma_of('A-1', 1), 'OLD', '[{"sku": "TENT", "qty": 1, "condition": "sellable"}]');
SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"sku": "TENT", "qty": 1, "condition": "broken"}]');
SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"sku": "TENT", "qty": 4, "condition": "sellable"}]');
SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"sku": "TENT", "qty": 2, "condition": "sellable"}, {"line_no": 1, "qty": 2, "condition": "damaged"}]');
SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"sku": "MUG", "qty": 1, "condition": "sellable"}]');
SELECT oms.receive_rma(rma_of('M-1', 2), 'BER', '[{"sku": "MUG", "qty": 1, "condition": "sellable"}]');
SELECT oms.receive_rma(rma_of('A-1', 3), 'BER', '[{"sku": "TENT", "qty": 1, "condition": "sellable"}]');
SELECT label, e.* FROM (VALUES
    ('unknown location',       $$SELECT oms.receive_rma(rma_of('A-1', 1), 'NOWHERE', '[{"sku": "TENT", "qty": 1, "condition": "sellable"}]')$$),
    ('location in lower case', $$SELECT oms.receive_rma(rma_of('A-1', 1), 'ber', '[{"sku": "TENT", "qty": 1, "condition": "sellable"}]')$$),
    ('inactive location',      $$SELECT oms.receive_rma(rma_of('A-1', 1), 'OLD', '[{"sku": "TENT", "qty": 1, "condition": "sellable"}]')$$),
    ('unknown RMA',            $$SELECT oms.receive_rma(987654, 'BER', '[{"sku": "TENT", "qty": 1, "condition": "sellable"}]')$$),
    ('NULL RMA',               $$SELECT oms.receive_rma(NULL, 'BER', '[{"sku": "TENT", "qty": 1, "condition": "sellable"}]')$$),
    ('NULL location',          $$SELECT oms.receive_rma(rma_of('A-1', 1), NULL, '[{"sku": "TENT", "qty": 1, "condition": "sellable"}]')$$),
    ('NULL lines',             $$SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', NULL)$$),
    ('lines an object',        $$SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '{"sku": "TENT", "qty": 1, "condition": "sellable"}')$$),
    ('lines a string',         $$SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '"TENT"')$$),
    ('lines empty',            $$SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[]')$$),
    ('line a number',          $$SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[1]')$$),
    ('unknown key',            $$SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"sku": "TENT", "qty": 1, "condition": "sellable", "bin": "A1"}]')$$),
    ('no sku or line_no',      $$SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"qty": 1, "condition": "sellable"}]')$$),
    ('unknown sku',            $$SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"sku": "LAMP", "qty": 1, "condition": "sellable"}]')$$),
    ('unknown line_no',        $$SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"line_no": 7, "qty": 1, "condition": "sellable"}]')$$),
    ('line not in the RMA',    $$SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"sku": "MUG", "qty": 1, "condition": "sellable"}]')$$),
    ('no qty',                 $$SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"sku": "TENT", "condition": "sellable"}]')$$),
    ('qty 0',                  $$SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"sku": "TENT", "qty": 0, "condition": "sellable"}]')$$),
    ('qty 0.5',                $$SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"sku": "TENT", "qty": 0.5, "condition": "sellable"}]')$$),
    ('qty 1e7',                $$SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"sku": "TENT", "qty": 10000000, "condition": "sellable"}]')$$),
    ('no condition',           $$SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"sku": "TENT", "qty": 1}]')$$),
    ('condition broken',       $$SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"sku": "TENT", "qty": 1, "condition": "broken"}]')$$),
    ('condition upper case',   $$SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"sku": "TENT", "qty": 1, "condition": "SELLABLE"}]')$$),
    ('condition a number',     $$SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"sku": "TENT", "qty": 1, "condition": 1}]')$$),
    ('4 of 3 authorized',      $$SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"sku": "TENT", "qty": 4, "condition": "sellable"}]')$$),
    ('4 of 3 over two entries', $$SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"sku": "TENT", "qty": 2, "condition": "sellable"}, {"line_no": 1, "qty": 2, "condition": "damaged"}]')$$),
    ('RMA requested',          $$SELECT oms.receive_rma(rma_of('M-1', 2), 'BER', '[{"sku": "MUG", "qty": 1, "condition": "sellable"}]')$$),
    ('RMA rejected',           $$SELECT oms.receive_rma(rma_of('A-1', 3), 'BER', '[{"sku": "TENT", "qty": 1, "condition": "sellable"}]')$$),
    ('malformed JSON',         $$SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{')$$)) AS t(label, stmt), tryd(stmt) e;
SELECT * FROM counts;

-- ---------------------------------------------------------------------------
-- receive_rma: partial receipts with disposition
-- ---------------------------------------------------------------------------
SELECT * FROM stock('BER', '{TENT,MUG}');
-- RMA 1 (3 tents): one sellable and one damaged arrive; the order is
-- partially returned
SELECT rdoc(r) - 'lines' AS received, r -> 'backorders_filled' AS backorders_filled
  FROM oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"sku": "TENT", "qty": 1, "condition": "sellable"}, {"line_no": 1, "qty": 1, "condition": "damaged"}]') AS r;
SELECT * FROM rlines(rma_of('A-1', 1));
SELECT * FROM ledger(rma_of('A-1', 1));
SELECT * FROM stock('BER', '{TENT,MUG}');
SELECT * FROM lines_of('A-1');
-- one tent is still expected: two more are refused, also split over two
-- entries, and nothing changes
SELECT * FROM counts;
SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"sku": "TENT", "qty": 2, "condition": "sellable"}]');
SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"sku": "TENT", "qty": 1, "condition": "sellable"}, {"sku": "TENT", "qty": 1, "condition": "missing"}]');
SELECT * FROM counts;
-- the parcel did not hold the third tent: the RMA is received
SELECT rdoc(oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"sku": "TENT", "qty": 1, "condition": "missing"}]')) ->> 'status' AS rma_1;
SELECT * FROM rlines(rma_of('A-1', 1));
SELECT * FROM tryd($$SELECT oms.receive_rma(rma_of('A-1', 1), 'BER', '[{"sku": "TENT", "qty": 1, "condition": "sellable"}]')$$);
-- missing units are counted only: no ledger row, no stock, not returned
SELECT * FROM ledger(rma_of('A-1', 1));
SELECT * FROM lines_of('A-1');

-- ---------------------------------------------------------------------------
-- refund_rma: the received units, stored value first
-- ---------------------------------------------------------------------------
SELECT * FROM payments_of('A-1');
SELECT oms.gift_card_balance('GIFT-RETURN-0001') AS gift_card_balance;
-- RMA 1: 2 tents received (sellable and damaged) x 104.50, defective has
-- no fee: 209.00; the missing one is not refunded. The gift card's 100
-- goes back first, then 109 to the card
SELECT rdoc(r) - 'lines' AS refunded FROM oms.refund_rma(rma_of('A-1', 1)) AS r;
SELECT * FROM payments_of('A-1');
SELECT oms.gift_card_balance('GIFT-RETURN-0001') AS gift_card_balance;
SELECT p.method, t.kind, t.amount, t.reason FROM oms.payment_transactions t JOIN oms.payments p ON p.id = t.payment_id
 WHERE t.order_id = oid_of('A-1') AND t.kind = 'refund' ORDER BY t.id;
SELECT * FROM rlines(rma_of('A-1', 1));
-- refunding twice: the RMA is resolved
SELECT * FROM counts;
SELECT oms.refund_rma(rma_of('A-1', 1));
SELECT * FROM counts;

-- RMA 2 (6 mugs, changed_mind: 10% restocking fee): 3 sellable arrive and
-- are refunded at once: 3 x 10.20 x 0.9 = 27.54
SELECT rdoc(oms.receive_rma(rma_of('A-1', 2), 'BER', '[{"sku": "MUG", "qty": 3, "condition": "sellable"}]')) ->> 'status' AS rma_2;
SELECT r ->> 'status' AS status, r -> 'amount' AS amount, r -> 'resolved_units' AS units, r -> 'refunded' AS refunded
  FROM oms.refund_rma(rma_of('A-1', 2)) AS r;
-- nothing new since
SELECT oms.refund_rma(rma_of('A-1', 2));
-- the rest: 1 damaged, 2 missing; refunded: 1 x 10.20 x 0.9 = 9.18
SELECT rdoc(oms.receive_rma(rma_of('A-1', 2), 'HAM', '[{"sku": "MUG", "qty": 1, "condition": "damaged"}, {"sku": "MUG", "qty": 2, "condition": "missing"}]')) ->> 'status' AS rma_2;
SELECT r ->> 'status' AS status, r -> 'amount' AS amount, r -> 'resolved_units' AS units, r -> 'refunded' AS refunded
  FROM oms.refund_rma(rma_of('A-1', 2)) AS r;
SELECT * FROM rlines(rma_of('A-1', 2));
SELECT * FROM ledger(rma_of('A-1', 2));
SELECT * FROM stock('HAM', '{MUG}');
SELECT oms.refund_rma(rma_of('A-1', 2));
-- refund_rma: bad calls
SELECT label, e.* FROM (VALUES
    ('resolved',          $$SELECT oms.refund_rma(rma_of('A-1', 1))$$),
    ('rejected',          $$SELECT oms.refund_rma(rma_of('A-1', 3))$$),
    ('authorized, nothing received', $$SELECT oms.refund_rma(rma_of('A-1', 4))$$),
    ('requested',         $$SELECT oms.refund_rma(rma_of('M-1', 2))$$),
    ('unknown RMA',       $$SELECT oms.refund_rma(987654)$$),
    ('NULL RMA',          $$SELECT oms.refund_rma(NULL)$$)) AS t(label, stmt), tryd(stmt) e;
SELECT * FROM payments_of('A-1');
SELECT * FROM lines_of('A-1');
-- a received RMA cannot be rejected
SELECT oms.reject_rma(rma_of('A-1', 1), 'too late');
SELECT n ->> 'authorized' AS authorized, n ->> 'note' AS note FROM oms.authorize_rma(rma_of('A-1', 1)) AS n;

-- ---------------------------------------------------------------------------
-- store credit, and an order that comes back whole
-- ---------------------------------------------------------------------------
-- B-1 (Bob): 2 tents at 80, delivered; both too small (160.00, within
-- too_small's 200): authorized at once, resolved as store credit
SELECT place('B-1', '[["TENT", 2, 80]]', 'bob') AS b1, pay('B-1') AS b1_status, send('B-1') AS b1_status;
SELECT rdoc(oms.create_rma(oid_of('B-1'), '{"lines": [{"sku": "TENT", "qty": 2, "reason": "too_small"}], "resolution": "store_credit"}')) - 'lines' AS rma;
SELECT g.kind, c.external_ref, g.issued, g.balance FROM oms.gift_cards g JOIN oms.customers c ON c.id = g.customer_id ORDER BY g.id;
-- both come back sellable, at HAM: every shipped unit is back, the order
-- is returned
SELECT r ->> 'status' AS rma_status, r ->> 'order_status' AS order_status
  FROM oms.receive_rma(rma_of('B-1'), 'HAM', '[{"sku": "TENT", "qty": 2, "condition": "sellable"}]') AS r;
SELECT * FROM lines_of('B-1');
SELECT * FROM stock('HAM', '{TENT}');
SELECT from_status, to_status, reason FROM oms.order_history(oid_of('B-1'));
-- the credit: 2 x 80.00 to Bob's store credit; the payment is untouched
SELECT r ->> 'status' AS status, r -> 'amount' AS amount, r -> 'store_credit' AS store_credit, (r -> 'result') - 'store_credit_id' - 'customer_id' AS result
  FROM oms.refund_rma(rma_of('B-1')) AS r;
SELECT g.kind, c.external_ref, g.issued, g.balance FROM oms.gift_cards g JOIN oms.customers c ON c.id = g.customer_id ORDER BY g.id;
SELECT * FROM payments_of('B-1');
-- a returned order takes no more RMAs
SELECT * FROM tryd($$SELECT oms.create_rma(oid_of('B-1'), '{"lines": [{"sku": "TENT", "qty": 1, "reason": "too_small"}], "resolution": "refund"}')$$);
-- Bob spends the credit on a new order
SELECT place('B-2', '[["MUG", 1, 10]]', 'bob') AS b2;
SELECT oms.authorize_payment(oid_of('B-2'), '{"method": "store_credit", "amount": 10}') ->> 'order_status' AS b2_status;
SELECT g.kind, c.external_ref, g.issued, g.balance FROM oms.gift_cards g JOIN oms.customers c ON c.id = g.customer_id ORDER BY g.id;

-- ---------------------------------------------------------------------------
-- money is never refunded or credited beyond what was captured
-- ---------------------------------------------------------------------------
-- N-1: a lamp at 30, authorized but not captured; shipped and delivered
SELECT place('N-1', '[["LAMP", 1, 30]]') AS n1, pay('N-1', NULL) AS n1_status, send('N-1') AS n1_status;
SELECT rdoc(oms.create_rma(oid_of('N-1'), '{"lines": [{"sku": "LAMP", "qty": 1, "reason": "defective"}], "resolution": "refund"}')) ->> 'status' AS rma;
SELECT rdoc(oms.receive_rma(rma_of('N-1'), 'BER', '[{"sku": "LAMP", "qty": 1, "condition": "sellable"}]')) ->> 'status' AS rma;
SELECT * FROM counts;
SELECT oms.refund_rma(rma_of('N-1'));
SELECT * FROM counts;
-- 20 captured: still less than the 30 to refund
SELECT oms.capture_payment((SELECT id FROM oms.payments WHERE order_id = oid_of('N-1')), 20) ->> 'captured' AS captured;
SELECT * FROM tryd($$SELECT oms.refund_rma(rma_of('N-1'))$$);
SELECT * FROM counts;
-- the other 10 captured: the refund goes through
SELECT oms.capture_payment((SELECT id FROM oms.payments WHERE order_id = oid_of('N-1'))) ->> 'captured' AS captured;
SELECT r ->> 'status' AS status, r -> 'amount' AS amount FROM oms.refund_rma(rma_of('N-1')) AS r;
SELECT * FROM payments_of('N-1');
-- N-2: the same with store credit
SELECT place('N-2', '[["LAMP", 1, 30]]') AS n2, pay('N-2', NULL) AS n2_status, send('N-2') AS n2_status;
SELECT rdoc(oms.create_rma(oid_of('N-2'), '{"lines": [{"sku": "LAMP", "qty": 1, "reason": "defective"}], "resolution": "store_credit"}')) ->> 'status' AS rma;
SELECT rdoc(oms.receive_rma(rma_of('N-2'), 'BER', '[{"sku": "LAMP", "qty": 1, "condition": "damaged"}]')) ->> 'status' AS rma;
SELECT * FROM counts;
SELECT oms.refund_rma(rma_of('N-2'));
SELECT * FROM counts;

-- ---------------------------------------------------------------------------
-- exchange: a replacement order, once every unit is back; the value of what
-- came back pays for it (the exchange credit), here all of it
-- ---------------------------------------------------------------------------
-- X-1: 2 lamps at 40, delivered; too small, exchanged for a boot at 50 (none
-- in stock anywhere) and a cap at 30 (one at HAM): worth 80, as the lamps
SELECT place('X-1', '[["LAMP", 2, 40]]') AS x1, pay('X-1') AS x1_status, send('X-1') AS x1_status;
SELECT rdoc(oms.create_rma(oid_of('X-1'), '{"lines": [{"sku": "LAMP", "qty": 2, "reason": "too_small"}], "resolution": "exchange",
    "exchange": {"lines": [{"sku": "BOOT", "qty": 1, "unit_price": 50}, {"sku": "CAP", "qty": 1, "unit_price": 30}]}}')) - 'lines' AS rma;
-- one lamp back: the exchange waits for the other
SELECT rdoc(oms.receive_rma(rma_of('X-1'), 'BER', '[{"sku": "LAMP", "qty": 1, "condition": "sellable"}]')) ->> 'status' AS rma;
SELECT oms.refund_rma(rma_of('X-1'));
-- both back: no boot anywhere, the replacement cannot be placed: OM001,
-- and nothing changes
SELECT rdoc(oms.receive_rma(rma_of('X-1'), 'BER', '[{"sku": "LAMP", "qty": 1, "condition": "sellable"}]')) ->> 'status' AS rma;
SELECT * FROM counts;
SELECT oms.refund_rma(rma_of('X-1'));
SELECT * FROM tryd($$SELECT oms.refund_rma(rma_of('X-1'))$$);
SELECT * FROM counts;
SELECT status, exchange_order_id FROM oms.rmas WHERE id = rma_of('X-1');
-- boots arrive at BER; now the replacement is placed at the exchange prices
-- less the 80 of exchange credit: nothing owed, so confirmed at once, stock
-- reserved (boot at BER, cap at HAM), linked to the RMA
SELECT oms.receive_stock('BOOT', 'BER', 1) -> 'backorders_filled' AS filled;
SELECT r ->> 'status' AS status, r -> 'amount' AS amount, r -> 'resolved_units' AS units,
       (r -> 'result' ->> 'exchange_order_id')::bigint = (r ->> 'exchange_order_id')::bigint AS linked
  FROM oms.refund_rma(rma_of('X-1')) AS r;
SELECT o.external_id = 'rma-' || r.id AS named_after_the_rma, o.status, o.subtotal, o.total, o.notes = 'exchange for RMA ' || r.id || ' of order X-1' AS notes_ok,
       c.external_ref AS customer, o.ship_to ->> 'name' AS ship_to, o.policy
  FROM oms.rmas r JOIN oms.orders o ON o.id = r.exchange_order_id LEFT JOIN oms.customers c ON c.id = o.customer_id
 WHERE r.id = rma_of('X-1');
SELECT l.line_no, p.sku, l.qty, l.unit_price, l.discount, l.qty_reserved, l.qty_backordered
  FROM oms.rmas r JOIN oms.order_lines l ON l.order_id = r.exchange_order_id JOIN oms.products p ON p.id = l.product_id
 WHERE r.id = rma_of('X-1') ORDER BY l.line_no;
SELECT loc.code AS location, p.sku, res.qty, res.status FROM oms.rmas r JOIN oms.reservations res ON res.order_id = r.exchange_order_id
  JOIN oms.locations loc ON loc.id = res.location_id JOIN oms.products p ON p.id = res.product_id
 WHERE r.id = rma_of('X-1') ORDER BY loc.id, p.sku;
SELECT h.from_status, h.to_status, h.reason = 'exchange for RMA ' || r.id AS reason_ok
  FROM oms.rmas r, oms.order_history(r.exchange_order_id) h WHERE r.id = rma_of('X-1');
SELECT * FROM lines_of('X-1');
SELECT * FROM tryd($$SELECT oms.refund_rma(rma_of('X-1'))$$);

-- ---------------------------------------------------------------------------
-- kits come back as their components
-- ---------------------------------------------------------------------------
-- K-1: 2 camp sets (a tent and two mugs each) at 60; not as described:
-- 120.00 is above that reason's 100, so the RMA waits for authorization
SELECT place('K-1', '[["CAMPSET", 2, 60]]') AS k1, pay('K-1') AS k1_status, send('K-1') AS k1_status;
SELECT rdoc(oms.create_rma(oid_of('K-1'), '{"lines": [{"sku": "CAMPSET", "qty": 2, "reason": "not_as_described"}], "resolution": "refund"}')) ->> 'status' AS rma;
SELECT rdoc(oms.authorize_rma(rma_of('K-1'))) ->> 'status' AS rma;
SELECT * FROM stock('BER', '{TENT,MUG}');
-- one kit sellable, one damaged
SELECT rdoc(r) ->> 'status' AS rma, r ->> 'order_status' AS order_status
  FROM oms.receive_rma(rma_of('K-1'), 'BER', '[{"sku": "CAMPSET", "qty": 1, "condition": "sellable"}, {"sku": "CAMPSET", "qty": 1, "condition": "damaged"}]') AS r;
SELECT * FROM ledger(rma_of('K-1'));
SELECT * FROM stock('BER', '{TENT,MUG,CAMPSET}');
SELECT * FROM lines_of('K-1');
SELECT r ->> 'status' AS status, r -> 'amount' AS amount, r -> 'resolved_units' AS units FROM oms.refund_rma(rma_of('K-1')) AS r;

-- ---------------------------------------------------------------------------
-- returned units fill waiting backorders at the receiving location
-- ---------------------------------------------------------------------------
-- L-1: a lamp, delivered; BO-1 (Bob, policy backorder) then asks for one
-- lamp more than BER has
SELECT place('L-1', '[["LAMP", 1, 30]]') AS l1, pay('L-1') AS l1_status, send('L-1') AS l1_status;
SELECT * FROM stock('BER', '{LAMP}');
SELECT place('BO-1', '[["LAMP", 7, 30]]', 'bob', 'web', '{"policy": "backorder"}') AS bo1, pay('BO-1') AS bo1_status;
SELECT * FROM lines_of('BO-1');
SELECT rdoc(oms.create_rma(oid_of('L-1'), '{"lines": [{"sku": "LAMP", "qty": 1, "reason": "damaged_in_transit"}], "resolution": "refund"}')) ->> 'status' AS rma;
-- received sellable at BER: the backorder takes it at once
SELECT r ->> 'status' AS rma, jsonb_array_length(r -> 'backorders_filled') AS fills,
       (r -> 'backorders_filled' -> 0 ->> 'order_id')::bigint = oid_of('BO-1') AS filled_bo1,
       r -> 'backorders_filled' -> 0 -> 'line_no' AS line_no, r -> 'backorders_filled' -> 0 -> 'qty' AS qty
  FROM oms.receive_rma(rma_of('L-1'), 'BER', '[{"sku": "LAMP", "qty": 1, "condition": "sellable"}]') AS r;
SELECT * FROM lines_of('BO-1');
SELECT * FROM stock('BER', '{LAMP}');
SELECT * FROM ledger(rma_of('L-1'));

-- ---------------------------------------------------------------------------
-- a partially shipped order: its shipped units can be returned
-- ---------------------------------------------------------------------------
SELECT rdoc(oms.create_rma(oid_of('U-1'), '{"lines": [{"line_no": 1, "qty": 1, "reason": "defective"}], "resolution": "refund"}')) ->> 'order_status' AS order_status;

-- ---------------------------------------------------------------------------
-- the return window: 30 days on web after the last delivery (or shipping
-- when nothing was delivered); 0 days on pos
-- ---------------------------------------------------------------------------
SELECT place('W-1', '[["MUG", 1, 10]]') AS w1, pay('W-1') AS w1_status, send('W-1') AS w1_status;
-- delivered 31 days ago: outside
UPDATE oms.shipments SET delivered_at = now() - interval '31 days', shipped_at = now() - interval '32 days' WHERE id = sh('W-1');
SELECT * FROM counts;
-- (the detail names the delivery date, shown here as YYYY-MM-DD)
SELECT * FROM tryd($$SELECT oms.create_rma(oid_of('W-1'), '{"lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}], "resolution": "refund"}')$$);
SELECT raw_detail($$SELECT oms.create_rma(oid_of('W-1'), '{"lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}], "resolution": "refund"}')$$)
       = format('It was delivered on %s and the channel accepts returns for 30 days.', to_char(delivered_at, 'YYYY-MM-DD')) AS date_is_the_delivery
  FROM oms.shipments WHERE id = sh('W-1');
SELECT * FROM counts;
-- exactly 30 days: still inside (now() is the same within a transaction);
-- one second more: outside
BEGIN;
UPDATE oms.shipments SET delivered_at = now() - interval '30 days 1 second' WHERE id = sh('W-1');
SELECT state, message FROM tryd($$SELECT oms.create_rma(oid_of('W-1'), '{"lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}], "resolution": "refund"}')$$);
UPDATE oms.shipments SET delivered_at = now() - interval '30 days' WHERE id = sh('W-1');
SELECT rdoc(oms.create_rma(oid_of('W-1'), '{"lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}], "resolution": "refund"}')) ->> 'status' AS at_30_days;
ROLLBACK;
-- a longer window on the channel lets the 31 days old delivery in
UPDATE oms.channels SET return_window_days = 45 WHERE code = 'web';
UPDATE oms.shipments SET delivered_at = now() - interval '31 days' WHERE id = sh('W-1');
SELECT rdoc(oms.create_rma(oid_of('W-1'), '{"lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}], "resolution": "refund"}')) ->> 'status' AS window_45_days;
UPDATE oms.channels SET return_window_days = 30 WHERE code = 'web';
-- shipped 31 days ago and never delivered: the window runs from shipping
SELECT place('W-2', '[["MUG", 1, 10]]') AS w2, pay('W-2') AS w2_status, send('W-2', 'BER', NULL, false) AS w2_status;
UPDATE oms.shipments SET shipped_at = now() - interval '31 days' WHERE id = sh('W-2');
SELECT * FROM tryd($$SELECT oms.create_rma(oid_of('W-2'), '{"lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}], "resolution": "refund"}')$$);
-- pos accepts no returns after the moment of delivery: in the delivering
-- transaction the RMA is still inside (0 days), any later one is outside
SELECT place('W-3', '[["MUG", 2, 10]]', 'ann', 'pos') AS w3, pay('W-3') AS w3_status, send('W-3', 'BER', NULL, false) AS w3_status;
BEGIN;
SELECT oms.deliver(sh('W-3')) ->> 'order_status' AS w3_status;
SELECT rdoc(oms.create_rma(oid_of('W-3'), '{"lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}], "resolution": "refund"}')) ->> 'status' AS same_moment;
COMMIT;
SELECT * FROM tryd($$SELECT oms.create_rma(oid_of('W-3'), '{"lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}], "resolution": "refund"}')$$);

-- ---------------------------------------------------------------------------
-- events and the customer's messages
-- ---------------------------------------------------------------------------
-- A-1: every RMA event (rma: the first to fourth RMA of A-1) with its
-- payload and the subject of its message (rma_rejected has no template)
SELECT (SELECT n FROM generate_series(1, 4) n WHERE rma_of('A-1', n) = (e.payload ->> 'rma_id')::bigint) AS rma,
       e.kind, e.payload - 'rma_id' AS payload, r.subject
  FROM oms.events e LEFT JOIN LATERAL oms.render_notification(e.id) r ON true
 WHERE e.order_id = oid_of('A-1') AND (e.kind LIKE 'rma_%' OR e.kind = 'refund_issued') ORDER BY e.id;
-- each kind in full, once
SELECT DISTINCT ON (e.kind) e.kind, r.recipient, r.subject, r.body
  FROM oms.events e, oms.render_notification(e.id) r
 WHERE e.order_id = oid_of('A-1') AND e.kind IN ('rma_requested', 'rma_authorized', 'rma_received', 'refund_issued')
 ORDER BY e.kind, e.id;
-- the settlement message names the amount and how it was settled
SELECT o.external_id, r.subject, r.body
  FROM oms.events e JOIN oms.orders o ON o.id = e.order_id, oms.render_notification(e.id) r
 WHERE e.kind = 'refund_issued' AND o.external_id IN ('B-1', 'K-1')
 ORDER BY e.id;
SELECT e.payload ->> 'resolution' AS resolution, e.payload ->> 'amount' AS amount,
       e.payload ->> 'reason' = 'replacement order ' || r.exchange_order_id || ' at no charge' AS reason_names_the_order,
       regexp_replace(n.body, 'replacement order \d+', 'replacement order N') AS body
  FROM oms.events e JOIN oms.rmas r ON r.id = (e.payload ->> 'rma_id')::bigint, oms.render_notification(e.id) n
 WHERE e.kind = 'refund_issued' AND e.order_id = oid_of('X-1');
SELECT kind, count(*) FROM oms.events WHERE kind LIKE 'rma_%' OR kind = 'refund_issued' GROUP BY 1 ORDER BY 1;

-- ---------------------------------------------------------------------------
-- return_stats
-- ---------------------------------------------------------------------------
SELECT * FROM oms.return_stats ORDER BY sku, reason;

-- ---------------------------------------------------------------------------
-- the books balance
-- ---------------------------------------------------------------------------
SELECT * FROM counts;
SELECT status, resolution, count(*), sum(value) AS value, sum(refunded) AS refunded, sum(store_credit) AS store_credit
  FROM oms.rmas GROUP BY 1, 2 ORDER BY 1, 2;
DROP VIEW counts;
DROP FUNCTION place(text, jsonb, text, text, jsonb), oid_of(text), pay(text, numeric), sh(text, int), send(text, text, jsonb, boolean),
    rma_of(text, int), rdoc(jsonb), rlines(bigint), lines_of(text), stock(text, text[]), ledger(bigint), payments_of(text),
    try(text), tryd(text), raw_detail(text);
SELECT * FROM oms.check();
