--
-- charges: the shipping charge and tax at placement (src/order_charges.c)
--   1. shipping: given (shipping.amount), quoted from the rate table
--      (shipping.quote), or none; in the total, the coverage, the journal
--      (shipping revenue with the first shipment); a full cancel refunds
--      it, a partial return does not; cancelling every unit takes it off;
--   2. tax: rates by country, region and tax class with validity; given
--      vs computed per channel; net vs gross prices; refunds give the
--      line's tax back in proportion;
--   3. bad inputs: each a 22023 that changes nothing; a pickup or counter
--      order is taxed where it is handed over (oms.locations.country);
--   4. planted breaches: check() reports order_total_owed,
--      shipping_without_units and shipping_recognized.
--
SET client_min_messages = warning;
\set SHOW_CONTEXT never
DROP EXTENSION IF EXISTS oms CASCADE; CREATE EXTENSION oms;
INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web');
INSERT INTO oms.channels (code, name, kind, tax_mode) VALUES ('shop', 'Shop', 'web', 'computed');
INSERT INTO oms.channels (code, name, kind, tax_mode, prices_include_tax) VALUES ('pos', 'Store', 'pos', 'computed', true);
INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority) VALUES ('BER', 'Berlin', 'warehouse', 52.52, 13.40, 10);
INSERT INTO oms.products (sku, name, kind, weight_kg) VALUES ('A', 'Lamp', 'stock', 1.5);
INSERT INTO oms.products (sku, name, kind, tax_class) VALUES ('BOOK', 'Book', 'stock', 'reduced'), ('FOOD', 'Tea', 'stock', 'zero');
INSERT INTO oms.customers (external_ref, email, name) VALUES ('ann', 'ann@example.com', 'Ann');
SELECT oms.receive_stock('A', 'BER', 100) IS NOT NULL, oms.receive_stock('BOOK', 'BER', 100) IS NOT NULL,
       oms.receive_stock('FOOD', 'BER', 100) IS NOT NULL;
INSERT INTO oms.carriers (code, name, tracking_url, active) VALUES ('dhl', 'DHL', 'https://x/{{tracking_number}}', true);
INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days, active)
    SELECT id, 'std', 'Paket', 3, true FROM oms.carriers UNION ALL SELECT id, 'exp', 'Express', 1, true FROM oms.carriers;
INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
    SELECT id, 'EUR', NULL, NULL, CASE code WHEN 'std' THEN 4.90 ELSE 12.50 END FROM oms.carrier_services;
INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
    SELECT id, 'EUR', NULL, 2, 3.90 FROM oms.carrier_services WHERE code = 'std';
INSERT INTO oms.tax_rates (country, region, tax_class, rate, name) VALUES
    ('DE', NULL, 'standard', 0.19, 'MwSt 19 %'), ('DE', NULL, 'reduced', 0.07, 'MwSt 7 %'),
    ('US', NULL, 'standard', 0, 'no federal sales tax'), ('US', 'NY', 'standard', 0.08875, 'NYC sales tax');
-- a rate that has not started yet, and one that has ended
INSERT INTO oms.tax_rates (country, tax_class, rate, valid_from) VALUES ('AT', 'standard', 0.25, current_date + 10);
INSERT INTO oms.tax_rates (country, tax_class, rate, valid_from, valid_to) VALUES ('AT', 'standard', 0.20, current_date - 100, current_date + 10);
INSERT INTO oms.tax_rates (country, tax_class, rate, valid_from, valid_to) VALUES ('AT', 'standard', 0.10, current_date - 200, current_date - 100);

CREATE FUNCTION place(ext text, doc text) RETURNS bigint LANGUAGE sql AS
$$ SELECT (oms.place_order(jsonb_build_object('external_id', ext, 'currency', 'EUR') || doc::jsonb) ->> 'order_id')::bigint $$;
CREATE FUNCTION amounts(ext text) RETURNS TABLE (status text, subtotal numeric, discount numeric, tax numeric, shipping numeric, total numeric)
LANGUAGE sql AS $$ SELECT status, subtotal, discount, tax, shipping, total FROM oms.orders WHERE external_id = ext $$;
CREATE FUNCTION lines_of(ext text) RETURNS TABLE (line_no int, qty int, unit_price numeric, discount numeric, tax numeric, gross boolean)
LANGUAGE sql AS $$ SELECT l.line_no, l.qty, l.unit_price, l.discount, l.tax, l.price_includes_tax FROM oms.order_lines l
  JOIN oms.orders o ON o.id = l.order_id WHERE o.external_id = ext ORDER BY l.line_no $$;
CREATE FUNCTION try(q text) RETURNS TABLE (state text, message text, detail text, hint text) LANGUAGE plpgsql AS $$
DECLARE m text; d text; h text;
BEGIN
  EXECUTE q;
  RETURN QUERY SELECT 'ok'::text, NULL::text, NULL::text, NULL::text;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
  RETURN QUERY SELECT SQLSTATE, regexp_replace(m, '(order|RMA) [0-9]+', '\1 #', 'g'),
                      regexp_replace(d, '(Order|order|RMA) [0-9]+', '\1 #', 'g'), h;
END $$;
CREATE VIEW counts AS SELECT (SELECT count(*) FROM oms.orders) AS orders, (SELECT count(*) FROM oms.order_lines) AS lines,
       (SELECT count(*) FROM oms.journal_entries) AS journal, (SELECT sum(reserved) FROM oms.stock_balances) AS reserved;
CREATE FUNCTION pay(oid bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE p bigint;
BEGIN
  p := (oms.authorize_payment(oid, jsonb_build_object('method', 'card', 'token', 'tok',
        'amount', (SELECT total FROM oms.orders WHERE id = oid))) ->> 'payment_id')::bigint;
  PERFORM oms.capture_payment(p);
  RETURN p;
END $$;
CREATE FUNCTION ship_all(oid bigint, tracking text) RETURNS text LANGUAGE sql AS $$
  SELECT oms.ship((oms.create_shipment(oid, 'BER') ->> 'shipment_id')::bigint, 'dhl', 'std', tracking) ->> 'status' $$;
CREATE FUNCTION journal_of(oid bigint) RETURNS TABLE (kind text, account text, debit numeric, credit numeric) LANGUAGE sql AS $$
  SELECT e.kind, l.account, l.debit, l.credit FROM oms.journal_entries e JOIN oms.journal_lines l ON l.entry_id = e.id
   WHERE e.order_id = oid ORDER BY e.id, l.id $$;

-- ---------------------------------------------------------------------------
-- 1. shipping
-- ---------------------------------------------------------------------------
-- given: 2 lamps at 20 and 4.95 shipping make 44.95
SELECT place('S1', '{"channel": "web", "lines": [{"sku": "A", "qty": 2, "unit_price": 20}], "shipping": {"amount": 4.95}}') AS s1 \gset
SELECT * FROM amounts('S1');
-- the document answers with the total, shipping included
SELECT oms.get_order(:s1) -> 'total' AS total;
-- none: no charge
SELECT place('S2', '{"channel": "web", "lines": [{"sku": "A", "qty": 1, "unit_price": 20}]}') AS s2 \gset
SELECT * FROM amounts('S2');
-- quoted, cheapest: one parcel of 1.5 kg fits the 2 kg band at 3.90
SELECT place('S3', '{"channel": "web", "lines": [{"sku": "A", "qty": 1, "unit_price": 20}], "shipping": {"quote": "cheapest"}}') AS s3 \gset
SELECT * FROM amounts('S3');
-- quoted, cheapest: 3 kg needs the any-weight band, 4.90; fastest: express, 12.50
SELECT place('S4', '{"channel": "web", "lines": [{"sku": "A", "qty": 2, "unit_price": 20}], "shipping": {"quote": "cheapest"}}') AS s4 \gset
SELECT place('S5', '{"channel": "web", "lines": [{"sku": "A", "qty": 2, "unit_price": 20}], "shipping": {"quote": "fastest"}}') AS s5 \gset
SELECT external_id, shipping, total FROM oms.orders WHERE external_id IN ('S4', 'S5') ORDER BY 1;
-- coverage: a payment of the units alone does not confirm the order; with shipping it does
SELECT oms.authorize_payment(:s1, '{"method": "card", "token": "t", "amount": 40}') ->> 'order_status' AS after_40;
SELECT oms.authorize_payment(:s1, '{"method": "card", "token": "t", "amount": 4.95}') ->> 'order_status' AS after_shipping;
SELECT sum(oms.capture_payment(id) IS NOT NULL::int) FROM oms.payments WHERE order_id = :s1;
-- the journal: shipping revenue with the first shipment, once
SELECT oms.ship((oms.create_shipment(:s1, 'BER', '[{"line_no": 1, "qty": 1}]') ->> 'shipment_id')::bigint, 'dhl', 'std', 'S1-A') ->> 'status' AS first;
SELECT oms.ship((oms.create_shipment(:s1, 'BER') ->> 'shipment_id')::bigint, 'dhl', 'std', 'S1-B') ->> 'status' AS second;
SELECT * FROM journal_of(:s1) WHERE kind = 'shipment';
SELECT * FROM oms.revenue_recognized WHERE order_id = :s1;
-- a partial return refunds the unit, not the shipping
SELECT (oms.create_rma(:s1, '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "refund"}') ->> 'rma_id')::bigint AS r1 \gset
SELECT oms.receive_rma(:r1, 'BER', '[{"sku": "A", "qty": 1, "condition": "sellable"}]') ->> 'status' AS received;
SELECT oms.refund_rma(:r1) -> 'amount' AS refunded;
-- the merchant who wants to give the shipping back too refunds it by hand
SELECT oms.refund_payment((SELECT min(id) FROM oms.payments WHERE order_id = :s1), 4.95, 'shipping refunded as goodwill') ->> 'refunded' AS shipping_back;
-- a full cancel refunds the shipping with everything else
SELECT pay(:s4) IS NOT NULL AS paid;
SELECT oms.cancel_order(:s4, 'changed my mind') ->> 'status' AS status;
SELECT captured, refunded FROM oms.payments WHERE order_id = :s4;
SELECT * FROM amounts('S4');
-- cancelling every unit of an open order takes the shipping charge off with them
SELECT place('S6', '{"channel": "web", "lines": [{"sku": "A", "qty": 2, "unit_price": 20}, {"sku": "BOOK", "qty": 1, "unit_price": 10}], "shipping": {"amount": 5}, "policy": "backorder"}') AS s6 \gset
SELECT oms.cancel_lines(:s6, '{"lines": [{"line_no": 1, "qty": 2}]}') -> 'edit' ->> 'status' AS one_line;
SELECT * FROM amounts('S6');
-- (cancelling the last unit is refused: that is cancel_order, which keeps the amounts it closed with)
SELECT state, message FROM try($$SELECT oms.cancel_lines(oid_of, '{"rest": true}') FROM (SELECT id AS oid_of FROM oms.orders WHERE external_id = 'S6') x$$);
-- report_sales_daily: the shipping column
SELECT channel, orders, gross, discounts, tax, shipping, net FROM oms.report_sales_daily ORDER BY channel;

-- ---------------------------------------------------------------------------
-- 2. tax
-- ---------------------------------------------------------------------------
-- channel web (tax_mode given): a line without tax is computed from the
-- rate of the ship-to's country and the product's class; a line with tax keeps it
SELECT place('T1', '{"channel": "web", "ship_to": {"country": "DE"}, "lines": [{"sku": "A", "qty": 2, "unit_price": 10, "discount": 1},
  {"sku": "BOOK", "qty": 1, "unit_price": 9.99}, {"sku": "FOOD", "qty": 1, "unit_price": 3}, {"sku": "A", "qty": 1, "unit_price": 10, "tax": 0.5}]}') AS t1 \gset
SELECT * FROM lines_of('T1');
SELECT * FROM amounts('T1');
-- region: New York's rate wins over the country's; elsewhere in the US no tax
SELECT place('T2', '{"channel": "web", "ship_to": {"country": "us", "region": "NY"}, "lines": [{"sku": "A", "qty": 3, "unit_price": 19.99}]}') AS t2 \gset
SELECT place('T3', '{"channel": "web", "ship_to": {"country": "US", "region": "TX"}, "lines": [{"sku": "A", "qty": 3, "unit_price": 19.99}]}') AS t3 \gset
SELECT external_id, tax, total FROM oms.orders WHERE external_id IN ('T2', 'T3') ORDER BY 1;
-- validity: today's Austrian rate is 20 %, not the ended 10 % nor the coming 25 %
SELECT place('T4', '{"channel": "web", "ship_to": {"country": "AT"}, "lines": [{"sku": "A", "qty": 1, "unit_price": 100}]}') AS t4 \gset
SELECT tax FROM oms.orders WHERE id = :t4;
-- no rate (France has none here) and no country: no tax
SELECT place('T5', '{"channel": "web", "ship_to": {"country": "FR"}, "lines": [{"sku": "A", "qty": 1, "unit_price": 100}]}') AS t5 \gset
SELECT place('T6', '{"channel": "web", "lines": [{"sku": "A", "qty": 1, "unit_price": 100}]}') AS t6 \gset
SELECT external_id, tax FROM oms.orders WHERE external_id IN ('T5', 'T6') ORDER BY 1;
-- channel shop (tax_mode computed): computed, with shipping on top (shipping is not taxed)
SELECT place('T7', '{"channel": "shop", "ship_to": {"country": "DE"}, "lines": [{"sku": "A", "qty": 1, "unit_price": 100}], "shipping": {"amount": 4.90}}') AS t7 \gset
SELECT * FROM amounts('T7');
-- gross prices: the document's prices_include_tax; 119.00 gross is 100.00 net + 19.00 tax
SELECT place('G1', '{"channel": "web", "ship_to": {"country": "DE"}, "prices_include_tax": true,
  "lines": [{"sku": "A", "qty": 1, "unit_price": 119}, {"sku": "A", "qty": 3, "unit_price": 9.99, "discount": 2}, {"sku": "BOOK", "qty": 1, "unit_price": 10.70, "price_includes_tax": false}]}') AS g1 \gset
SELECT * FROM lines_of('G1');
-- the total is exactly what the gross prices say: 119 + 3 x 9.99 - 2 + 10.70 + 7 % of it
SELECT *, 119 + 3 * 9.99 - 2 + 10.70 + 0.749 AS expected FROM amounts('G1');
-- the channel pos sells gross by default; a line can say net
SELECT place('G2', '{"channel": "pos", "ship_to": {"country": "DE"}, "lines": [{"sku": "A", "qty": 7, "unit_price": 0.99}, {"sku": "BOOK", "qty": 1, "unit_price": 10, "price_includes_tax": false}]}') AS g2 \gset
SELECT * FROM lines_of('G2');
SELECT * FROM amounts('G2');
-- refunds split the tax back out: a returned unit of T1's line 1 gives back its net and its tax
SELECT pay(:t1) IS NOT NULL AS paid, ship_all(:t1, 'T1-A') AS shipped;
SELECT * FROM journal_of(:t1) WHERE kind = 'shipment';
SELECT (oms.create_rma(:t1, '{"lines": [{"line_no": 1, "qty": 1, "reason": "defective"}], "resolution": "refund"}') ->> 'rma_id')::bigint AS r2 \gset
SELECT oms.receive_rma(:r2, 'BER', '[{"line_no": 1, "qty": 1, "condition": "sellable"}]') ->> 'status' AS received;
-- line 1: (2 x 10 - 1 + 3.61) / 2 = 11.305, rounded 11.31 (the refund is in cents)
SELECT oms.refund_rma(:r2) -> 'amount' AS refunded;
-- the journal reverses the tax apart from the revenue: 11.31 x 3.61 / 22.61 = 1.8058 off tax payable
SELECT * FROM journal_of(:t1) WHERE kind = 'refund';
SELECT account, sum(debit) - sum(credit) AS balance FROM oms.journal_lines l JOIN oms.journal_entries e ON e.id = l.entry_id
 WHERE e.order_id = :t1 GROUP BY account ORDER BY account;

-- an exchange on a taxed order: the replacement is priced at what was paid,
-- tax included (119.00), so its tax is extracted, not added: nothing owed
SELECT pay(:t7) IS NOT NULL AS paid, ship_all(:t7, 'T7-A') AS shipped;
SELECT (oms.create_rma(:t7, '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "exchange",
        "exchange": {"lines": [{"sku": "A", "qty": 1}]}}') ->> 'rma_id')::bigint AS r3 \gset
SELECT oms.authorize_rma(:r3) ->> 'status' AS authorized;
SELECT oms.receive_rma(:r3, 'BER', '[{"sku": "A", "qty": 1, "condition": "sellable"}]') ->> 'status' AS received;
SELECT (oms.refund_rma(:r3) -> 'result') - 'exchange_order_id' AS exchanged;
SELECT o.status, o.subtotal, o.discount, o.tax, o.shipping, o.total FROM oms.orders o
  JOIN oms.rmas r ON r.exchange_order_id = o.id WHERE r.id = :r3;
SELECT l.unit_price, l.discount, l.tax, l.price_includes_tax FROM oms.order_lines l
  JOIN oms.rmas r ON r.exchange_order_id = l.order_id WHERE r.id = :r3;

-- ---------------------------------------------------------------------------
-- 3. bad inputs: 22023, nothing written
-- ---------------------------------------------------------------------------
SELECT * FROM counts \gset before_
SELECT * FROM try($$SELECT place('B1', '{"channel": "web", "lines": [{"sku": "A", "qty": 1, "unit_price": 1}], "shipping": 5}')$$);
SELECT * FROM try($$SELECT place('B2', '{"channel": "web", "lines": [{"sku": "A", "qty": 1, "unit_price": 1}], "shipping": {}}')$$);
SELECT * FROM try($$SELECT place('B3', '{"channel": "web", "lines": [{"sku": "A", "qty": 1, "unit_price": 1}], "shipping": {"amount": -1}}')$$);
SELECT * FROM try($$SELECT place('B4', '{"channel": "web", "lines": [{"sku": "A", "qty": 1, "unit_price": 1}], "shipping": {"amount": 1e15}}')$$);
SELECT * FROM try($$SELECT place('B5', '{"channel": "web", "lines": [{"sku": "A", "qty": 1, "unit_price": 1}], "shipping": {"amount": 1, "quote": "cheapest"}}')$$);
SELECT * FROM try($$SELECT place('B6', '{"channel": "web", "lines": [{"sku": "A", "qty": 1, "unit_price": 1}], "shipping": {"quote": "slowest"}}')$$);
SELECT * FROM try($$SELECT place('B7', '{"channel": "web", "lines": [{"sku": "A", "qty": 1, "unit_price": 1}], "shipping": {"amount": 1, "tip": 2}}')$$);
SELECT * FROM try($$SELECT place('B8', '{"channel": "web", "lines": [{"sku": "A", "qty": 1, "unit_price": 1}], "shipping": {"amount": null}}')$$);
SELECT * FROM try($$SELECT place('B9', '{"channel": "web", "currency": "USD", "lines": [{"sku": "A", "qty": 1, "unit_price": 1}], "shipping": {"quote": "cheapest"}}')$$);
SELECT * FROM try($$SELECT place('B10', '{"channel": "web", "policy": "backorder", "lines": [{"sku": "A", "qty": 1000, "unit_price": 1}], "shipping": {"quote": "cheapest"}}')$$);
SELECT * FROM try($$SELECT place('B11', '{"channel": "web", "prices_include_tax": "yes", "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}')$$);
SELECT * FROM try($$SELECT place('B12', '{"channel": "web", "lines": [{"sku": "A", "qty": 1, "unit_price": 1, "price_includes_tax": 1}]}')$$);
SELECT * FROM try($$SELECT place('B13', '{"channel": "shop", "ship_to": {"country": "DE"}, "lines": [{"sku": "A", "qty": 1, "unit_price": 1, "tax": 0.19}]}')$$);
SELECT * FROM try($$SELECT place('B14', '{"channel": "shop", "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}')$$);
SELECT * FROM try($$SELECT place('B15', '{"channel": "web", "ship_to": {"country": "DE"}, "prices_include_tax": true, "lines": [{"sku": "A", "qty": 1, "unit_price": 1, "tax": 0.16}]}')$$);
SELECT * FROM try($$SELECT place('B16', '{"channel": "web", "ship_to": {"country": "DE"}, "lines": [{"sku": "A", "qty": 100, "unit_price": 999999999999}]}')$$);
SELECT * FROM try($$SELECT place('B17', '{"channel": "web", "lines": [{"sku": "A", "qty": 1, "unit_price": 999999999999}], "shipping": {"amount": 10}}')$$);
SELECT * FROM counts \gset after_
SELECT :before_orders = :after_orders AND :before_lines = :after_lines AND :before_journal = :after_journal
       AND :before_reserved = :after_reserved AS nothing_written;
-- the tables refuse bad rates and classes
SELECT state, message FROM try($$INSERT INTO oms.tax_rates (country, tax_class, rate) VALUES ('de', 'standard', 0.19)$$);
SELECT state, message FROM try($$INSERT INTO oms.tax_rates (country, tax_class, rate) VALUES ('DE', 'standard', 1.5)$$);
SELECT state, message FROM try($$INSERT INTO oms.tax_rates (country, tax_class, rate) VALUES ('DE', 'standard', 0.16)$$);
SELECT state, message FROM try($$INSERT INTO oms.tax_rates (country, tax_class, rate, valid_from, valid_to) VALUES ('CH', 'standard', 0.08, '2026-01-01', '2025-01-01')$$);
SELECT state, message FROM try($$INSERT INTO oms.tax_rates (country, tax_class, rate, name) VALUES ('CH', 'standard', 0.08, 'card 4111 1111 1111 1111')$$);
SELECT state, message FROM try($$UPDATE oms.products SET tax_class = 'Reduced!' WHERE sku = 'A'$$);
SELECT state, message FROM try($$UPDATE oms.channels SET tax_mode = 'maybe' WHERE code = 'web'$$);
SELECT state, message FROM try($$UPDATE oms.orders SET shipping = -1 WHERE external_id = 'S1'$$);

-- where a pickup or counter order is taxed: at its location when the
-- location has a country (the goods are handed over there), else by the
-- ship-to's country
INSERT INTO oms.locations (code, name, kind, latitude, longitude, pickup, country) VALUES
    ('VIE', 'Vienna store', 'store', 48.21, 16.37, true, 'AT');
INSERT INTO oms.locations (code, name, kind, latitude, longitude, pickup, country, region) VALUES
    ('NYC', 'New York store', 'store', 40.71, -74.01, true, 'US', 'NY');
INSERT INTO oms.locations (code, name, kind, latitude, longitude, pickup) VALUES
    ('POT', 'Potsdam store', 'store', 52.39, 13.06, true);
SELECT count(oms.receive_stock('A', l, 10)) FROM unnest(ARRAY['VIE', 'NYC', 'POT']) l;
SELECT place('P1', '{"channel": "shop", "ship_to": {"pickup": "VIE"}, "lines": [{"sku": "A", "qty": 1, "unit_price": 100}]}') IS NOT NULL AS placed;
SELECT * FROM lines_of('P1');
-- the customer's German address does not matter: handed over in Vienna
SELECT place('P2', '{"channel": "shop", "ship_to": {"pickup": "VIE", "country": "DE"}, "lines": [{"sku": "A", "qty": 1, "unit_price": 100}]}') IS NOT NULL AS placed;
SELECT * FROM lines_of('P2');
-- the location's region picks the regional rate
SELECT place('P3', '{"channel": "shop", "ship_to": {"pickup": "NYC"}, "lines": [{"sku": "A", "qty": 1, "unit_price": 100}]}') IS NOT NULL AS placed;
SELECT * FROM lines_of('P3');
-- a location without a country: the ship-to's, else refused
SELECT place('P4', '{"channel": "shop", "ship_to": {"pickup": "POT", "country": "DE"}, "lines": [{"sku": "A", "qty": 1, "unit_price": 100}]}') IS NOT NULL AS placed;
SELECT * FROM lines_of('P4');
SELECT * FROM try($$SELECT place('P5', '{"channel": "shop", "ship_to": {"pickup": "POT"}, "lines": [{"sku": "A", "qty": 1, "unit_price": 100}]}')$$);
-- a country that is not a string, or blank, names no country
SELECT state, message FROM try($$SELECT place('P6', '{"channel": "shop", "ship_to": {"country": 49}, "lines": [{"sku": "A", "qty": 1, "unit_price": 100}]}')$$);
SELECT state, message FROM try($$SELECT place('P7', '{"channel": "shop", "ship_to": {"country": "  "}, "lines": [{"sku": "A", "qty": 1, "unit_price": 100}]}')$$);
-- lower case and spaces are forgiven: " de " is DE
SELECT place('P8', '{"channel": "shop", "ship_to": {"country": " de "}, "lines": [{"sku": "A", "qty": 1, "unit_price": 100}]}') IS NOT NULL AS placed;
SELECT tax FROM lines_of('P8');
SELECT count(*) AS p5_p6_p7_written FROM oms.orders WHERE external_id IN ('P5', 'P6', 'P7');
-- a counter sale in the Vienna store, gross prices (channel pos): 120 is 100 + 20 % tax
SELECT oms.sell_at_counter('{"channel": "pos", "external_id": "C1", "location": "VIE", "currency": "EUR",
    "lines": [{"sku": "A", "qty": 1, "unit_price": 120}], "payments": [{"method": "cash", "amount": 120}]}') -> 'order' ->> 'status' AS counter_sale;
SELECT * FROM lines_of('C1');
-- a region needs a country; codes are upper-case ISO 3166-1
SELECT state, message FROM try($$UPDATE oms.locations SET region = 'Brandenburg' WHERE code = 'POT'$$);
SELECT state, message FROM try($$UPDATE oms.locations SET country = 'de' WHERE code = 'POT'$$);
SELECT state, message FROM try($$UPDATE oms.locations SET country = 'AT', region = ' ' WHERE code = 'POT'$$);

SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- 4. planted breaches
-- ---------------------------------------------------------------------------
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.orders SET shipping = shipping + 1 WHERE external_id = 'T7';
SELECT invariant, regexp_replace(detail, 'order [0-9]+', 'order #') FROM oms.check() WHERE invariant = 'order_total_owed';
ROLLBACK;
BEGIN;
SET LOCAL session_replication_role = replica;
-- S4 was cancelled, every unit with it: reopened with its shipping, it owes no unit
UPDATE oms.orders SET status = 'confirmed' WHERE external_id = 'S4';
SELECT invariant, regexp_replace(detail, 'order [0-9]+', 'order #') FROM oms.check() WHERE invariant = 'shipping_without_units';
ROLLBACK;
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.revenue_recognized SET shipping = 0 WHERE order_id = :s1;
SELECT invariant, regexp_replace(detail, 'order [0-9]+', 'order #') FROM oms.check() WHERE invariant = 'shipping_recognized';
ROLLBACK;
SELECT * FROM oms.check();

DROP FUNCTION place(text, text), amounts(text), lines_of(text), try(text), pay(bigint), ship_all(bigint, text), journal_of(bigint);
DROP VIEW counts;
