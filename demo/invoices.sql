-- demo/invoices.sql: shipping charges, tax and invoices. The back office
-- enters the German VAT rates (19 %, 7 % for coffee) and lets the
-- wholesale channel compute tax; Cafe Kiez (on 14-day terms) orders beans
-- with the rate table's shipping: the order is confirmed on terms and gets
-- an invoice, printed as text; a bank transfer settles part of it; the
-- ageing report shows what is open (an older invoice back-dated to fill
-- the buckets). A web order with gross prices shows the tax extracted.
-- Run by demo/run after demo/stores.sql. Nothing here is meant to fail, so
-- any error stops the demo.
\set ON_ERROR_STOP 1
\pset footer off
\pset null '-'
SET search_path = public, oms;

SET ROLE oms_admin;
\echo
\echo '== Tax rates by country and tax class; the wholesale channel computes tax, Cafe Kiez pays within 14 days =='
INSERT INTO oms.tax_rates (country, tax_class, rate, name) VALUES
    ('DE', 'standard', 0.19, 'MwSt 19 %'), ('DE', 'reduced', 0.07, 'MwSt 7 % (food)'),
    ('NL', 'standard', 0.21, 'BTW 21 %'), ('NL', 'reduced', 0.09, 'BTW 9 % (food)');
UPDATE oms.products SET tax_class = 'reduced' WHERE sku LIKE 'BEAN-%';
UPDATE oms.channels SET tax_mode = 'computed' WHERE code = 'b2b';
UPDATE oms.customers SET terms_days = 14 WHERE external_ref = 'erp-C042';
SELECT country, tax_class, rate, name FROM oms.tax_rates ORDER BY country, tax_class;

SET ROLE oms_app;
\echo
\echo '== Cafe Kiez orders 10 kg of espresso beans and a grinder; shipping from the rate table, tax computed for DE =='
SELECT o ->> 'order_id' AS order_id, o ->> 'status' AS status, o ->> 'total' AS total
  FROM oms.place_order('{"channel": "b2b", "external_id": "ERP-PO-2026-118", "currency": "EUR",
         "customer": {"external_ref": "erp-C042"},
         "ship_to": {"name": "Cafe Kiez GmbH", "line1": "Weserstr. 40", "postal_code": "12045", "city": "Berlin", "country": "DE",
                     "lat": 52.4880, "lon": 13.4330},
         "shipping": {"quote": "cheapest"},
         "lines": [{"sku": "BEAN-BRA-1K", "qty": 10, "unit_price": 24.00, "discount": 12.00},
                   {"sku": "GRIND-BURR-C40", "qty": 1, "unit_price": 149.00}]}') o;
SELECT subtotal, discount, tax, shipping, total FROM oms.orders WHERE external_id = 'ERP-PO-2026-118';
\echo '-- the invoice, issued with the order'
SELECT number, status, issued_on, due_on, amount FROM oms.invoices
 WHERE order_id = (SELECT id FROM oms.orders WHERE external_id = 'ERP-PO-2026-118');
\pset format unaligned
\pset tuples_only on
SELECT oms.invoice_document(i.id) FROM oms.invoices i JOIN oms.orders o ON o.id = i.order_id WHERE o.external_id = 'ERP-PO-2026-118';
\pset tuples_only off
\pset format aligned
\echo
\echo '-- Cafe Kiez transfers 200 EUR now; the rest stays open'
SELECT s ->> 'number' AS invoice, s ->> 'status' AS status, s ->> 'paid' AS paid, s ->> 'open' AS open
  FROM oms.invoices i JOIN oms.orders o ON o.id = i.order_id,
       oms.settle_invoice(i.id, '{"method": "bank_transfer", "amount": 200, "reference": "SEPA KIEZ 2026-12"}') s
 WHERE o.external_id = 'ERP-PO-2026-118';

\echo
\echo '== A second invoice, and the A/R ageing (the demo back-dates the first order''s invoice by 40 days) =='
SELECT o ->> 'total' AS total
  FROM oms.place_order('{"channel": "b2b", "external_id": "ERP-PO-2026-119", "currency": "EUR",
         "customer": {"external_ref": "erp-C042"},
         "ship_to": {"name": "Cafe Kiez GmbH", "line1": "Weserstr. 40", "city": "Berlin", "country": "DE"},
         "shipping": {"amount": 6.90},
         "lines": [{"sku": "BEAN-ETH-1K", "qty": 4, "unit_price": 29.00}]}') o;
RESET ROLE;
UPDATE oms.invoices SET issued_on = issued_on - 40, due_on = due_on - 40
 WHERE order_id = (SELECT id FROM oms.orders WHERE external_id = 'ERP-PO-2026-118');
SET ROLE oms_reporting;
SELECT customer, currency, invoices, open, current, days_1_30, days_31_60, days_61_90, days_90_plus FROM oms.report_ar_ageing;

SET ROLE oms_app;
\echo
\echo '== A web order priced gross (tax included): the tax is extracted, the customer pays exactly the shelf price =='
SELECT o ->> 'total' AS total
  FROM oms.place_order('{"channel": "web", "external_id": "WEB-GROSS-1", "currency": "EUR", "prices_include_tax": true,
         "ship_to": {"name": "Lena Fischer", "city": "Berlin", "country": "DE"}, "shipping": {"amount": 4.90},
         "lines": [{"sku": "BEAN-ETH-250", "qty": 2, "unit_price": 10.70}, {"sku": "KETTLE-GOOSE", "qty": 1, "unit_price": 59.50}]}') o;
SELECT l.line_no, p.sku, l.qty, l.unit_price AS net_unit_price, l.tax, l.price_includes_tax
  FROM oms.order_lines l JOIN oms.products p ON p.id = l.product_id
 WHERE l.order_id = (SELECT id FROM oms.orders WHERE external_id = 'WEB-GROSS-1') ORDER BY l.line_no;

RESET ROLE;
\echo
\echo '-- the journal: shipping revenue, tax and invoiced receivables; and the oracle'
SELECT account, sum(debit) - sum(credit) AS balance FROM oms.journal_lines
 WHERE account IN ('invoices_receivable', 'shipping_revenue', 'tax_payable') GROUP BY account ORDER BY account;
SELECT count(*) AS violations FROM oms.check();
