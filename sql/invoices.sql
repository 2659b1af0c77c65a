--
-- invoices: invoices and A/R of customers on payment terms (src/invoices.c)
--   1. an order of a customer flagged terms gets an invoice (number,
--      issue and due date from terms_days, the total with shipping and
--      tax), a text document, and its A/R in the journal;
--   2. settlements by invoice, check or bank_transfer, partial and full;
--      the invoice follows edits and is void on cancel;
--   3. report_ar_ageing buckets;
--   4. bad inputs; planted breaches of invoice_vs_order and
--      invoices_receivable_posted.
--
SET client_min_messages = warning;
\set SHOW_CONTEXT never
DROP EXTENSION IF EXISTS oms CASCADE; CREATE EXTENSION oms;
INSERT INTO oms.channels (code, name, kind) VALUES ('b2b', 'Wholesale', 'wholesale');
INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority) VALUES ('BER', 'Berlin', 'warehouse', 52.52, 13.40, 10);
INSERT INTO oms.products (sku, name, kind) VALUES ('A', 'Lamp', 'stock'), ('B', 'Shade', 'stock');
INSERT INTO oms.customers (external_ref, email, name, flags, terms_days) VALUES
    ('acme', 'ap@acme.example', 'Acme GmbH', '{terms}', 14), ('bob', 'bob@example.com', 'Bob', '{}', 30);
INSERT INTO oms.tax_rates (country, tax_class, rate) VALUES ('DE', 'standard', 0.19);
SELECT oms.receive_stock('A', 'BER', 100) IS NOT NULL, oms.receive_stock('B', 'BER', 100) IS NOT NULL;
INSERT INTO oms.carriers (code, name, tracking_url, active) VALUES ('dhl', 'DHL', 'https://x/{{tracking_number}}', true);
INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days, active) SELECT id, 'std', 'Paket', 2, true FROM oms.carriers;

CREATE FUNCTION place(ext text, cust text, doc text) RETURNS bigint LANGUAGE sql AS
$$ SELECT (oms.place_order(jsonb_build_object('channel', 'b2b', 'external_id', ext, 'currency', 'EUR',
           'customer', jsonb_build_object('external_ref', cust), 'ship_to', '{"name": "Acme", "line1": "Hauptstr. 1", "city": "Berlin", "country": "DE"}'::jsonb)
           || doc::jsonb) ->> 'order_id')::bigint $$;
CREATE FUNCTION inv(oid bigint) RETURNS TABLE (number text, status text, amount numeric, paid numeric, terms int)
LANGUAGE sql AS $$ SELECT number, status, amount, paid, due_on - issued_on FROM oms.invoices WHERE order_id = oid $$;
CREATE FUNCTION inv_id(oid bigint) RETURNS bigint LANGUAGE sql AS $$ SELECT id FROM oms.invoices WHERE order_id = oid $$;
CREATE FUNCTION ar() RETURNS TABLE (account text, balance numeric) LANGUAGE sql AS $$
  SELECT l.account, sum(l.debit - l.credit) FROM oms.journal_lines l WHERE l.account IN ('invoices_receivable', 'accounts_receivable', 'cash_clearing')
   GROUP BY 1 ORDER BY 1 $$;
CREATE FUNCTION try(q text) RETURNS TABLE (state text, message text, detail text, hint text) LANGUAGE plpgsql AS $$
DECLARE m text; d text; h text;
BEGIN
  EXECUTE q;
  RETURN QUERY SELECT 'ok'::text, NULL::text, NULL::text, NULL::text;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
  RETURN QUERY SELECT SQLSTATE, regexp_replace(regexp_replace(m, '(order|invoice) [0-9]+', '\1 #', 'g'), 'INV-[0-9]+', 'INV-#', 'g'),
                      regexp_replace(d, '(order|id|Order) [0-9]+', '\1 #', 'g'), h;
END $$;

-- ---------------------------------------------------------------------------
-- 1. issue
-- ---------------------------------------------------------------------------
-- Acme is on terms (14 days): 2 lamps at 50 net, 19 % tax computed, 9.90 shipping
SELECT place('P1', 'acme', '{"lines": [{"sku": "A", "qty": 2, "unit_price": 50}], "shipping": {"amount": 9.90}}') AS p1 \gset
SELECT status, total FROM oms.orders WHERE id = :p1;
SELECT * FROM inv(:p1);
SELECT issued_on = current_date AS issued_today, due_on = current_date + 14 AS due_in_14_days FROM oms.invoices WHERE order_id = :p1;
-- Bob is not on terms: no invoice
SELECT place('P2', 'bob', '{"lines": [{"sku": "A", "qty": 1, "unit_price": 50}]}') AS p2 \gset
SELECT count(*) AS invoices_of_bob FROM oms.invoices WHERE order_id = :p2;
-- the document
SELECT regexp_replace(regexp_replace(oms.invoice_document(inv_id(:p1)), '[0-9]{4}-[0-9]{2}-[0-9]{2}', 'YYYY-MM-DD', 'g'), 'INV-[0-9]+', 'INV-#', 'g') AS document;
-- the journal: the invoice's amount moved to invoices_receivable
SELECT * FROM ar();

-- ---------------------------------------------------------------------------
-- 2. settlements, edits, cancel
-- ---------------------------------------------------------------------------
-- a partial bank transfer, then a check for the rest
SELECT oms.settle_invoice(inv_id(:p1), '{"method": "bank_transfer", "amount": 100, "reference": "SEPA 2026-12-06 ACME"}')
       - 'invoice_id' - 'payment_id' - 'order_id' - 'number' - 'due_on' AS first;
SELECT oms.settle_invoice(inv_id(:p1), '{"method": "check", "amount": 28.90}') - 'invoice_id' - 'payment_id' - 'order_id' - 'number' - 'due_on' AS second;
SELECT method, authorized, captured, status FROM oms.payments WHERE order_id = :p1 ORDER BY id;
SELECT * FROM ar();
-- a third settlement of a paid invoice is refused
SELECT * FROM try(format($$SELECT oms.settle_invoice(%s, '{"method": "check", "amount": 1}')$$, inv_id(:p1)));
-- the invoice follows an edit: one lamp cancelled of an unpaid terms order
SELECT place('P3', 'acme', '{"lines": [{"sku": "A", "qty": 2, "unit_price": 10}, {"sku": "B", "qty": 1, "unit_price": 5}]}') AS p3 \gset
SELECT * FROM inv(:p3);
SELECT oms.cancel_lines(:p3, '{"lines": [{"line_no": 1, "qty": 1}]}') -> 'edit' -> 'status' AS status;
SELECT total FROM oms.orders WHERE id = :p3;
SELECT * FROM inv(:p3);
SELECT * FROM ar();
-- settled in part, then cancelled: void, and the payment refunded by the cancel
SELECT oms.settle_invoice(inv_id(:p3), '{"method": "invoice", "amount": 5}') ->> 'status' AS partly;
SELECT oms.cancel_order(:p3, 'customer went elsewhere') ->> 'status' AS cancelled;
SELECT * FROM inv(:p3);
SELECT captured, refunded FROM oms.payments WHERE order_id = :p3;
SELECT * FROM ar();
SELECT * FROM try(format($$SELECT oms.settle_invoice(%s, '{"method": "check", "amount": 1}')$$, inv_id(:p3)));

-- ---------------------------------------------------------------------------
-- 3. ageing
-- ---------------------------------------------------------------------------
SELECT place('P4', 'acme', '{"lines": [{"sku": "B", "qty": 1, "unit_price": 100}]}') AS p4 \gset
SELECT place('P5', 'acme', '{"lines": [{"sku": "B", "qty": 1, "unit_price": 200}]}') AS p5 \gset
SELECT place('P6', 'acme', '{"lines": [{"sku": "B", "qty": 1, "unit_price": 300}]}') AS p6 \gset
SELECT place('P7', 'acme', '{"lines": [{"sku": "B", "qty": 1, "unit_price": 400}]}') AS p7 \gset
SELECT place('P8', 'acme', '{"lines": [{"sku": "B", "qty": 1, "unit_price": 500}]}') AS p8 \gset
-- back-dated as if issued long ago (due dates 10, 45, 75 and 120 days past)
UPDATE oms.invoices SET issued_on = current_date - 24, due_on = current_date - 10 WHERE order_id = :p5;
UPDATE oms.invoices SET issued_on = current_date - 59, due_on = current_date - 45 WHERE order_id = :p6;
UPDATE oms.invoices SET issued_on = current_date - 89, due_on = current_date - 75 WHERE order_id = :p7;
UPDATE oms.invoices SET issued_on = current_date - 134, due_on = current_date - 120 WHERE order_id = :p8;
SELECT customer, currency, invoices, open, current, days_1_30, days_31_60, days_61_90, days_90_plus,
       oldest_due = current_date - 120 AS oldest FROM oms.report_ar_ageing;

-- ---------------------------------------------------------------------------
-- 4. bad inputs: clear errors, nothing written
-- ---------------------------------------------------------------------------
SELECT (SELECT count(*) FROM oms.payments) AS payments_before, (SELECT count(*) FROM oms.journal_lines) AS lines_before \gset
SELECT * FROM try($$SELECT oms.settle_invoice(999999, '{"method": "check", "amount": 1}')$$);
SELECT * FROM try($$SELECT oms.settle_invoice(NULL, '{"method": "check", "amount": 1}')$$);
SELECT * FROM try(format($$SELECT oms.settle_invoice(%s, NULL)$$, inv_id(:p4)));
SELECT * FROM try(format($$SELECT oms.settle_invoice(%s, '[1]')$$, inv_id(:p4)));
SELECT * FROM try(format($$SELECT oms.settle_invoice(%s, '{"method": "card", "amount": 1}')$$, inv_id(:p4)));
SELECT * FROM try(format($$SELECT oms.settle_invoice(%s, '{"method": "check"}')$$, inv_id(:p4)));
SELECT * FROM try(format($$SELECT oms.settle_invoice(%s, '{"method": "check", "amount": 0}')$$, inv_id(:p4)));
SELECT * FROM try(format($$SELECT oms.settle_invoice(%s, '{"method": "check", "amount": -5}')$$, inv_id(:p4)));
SELECT * FROM try(format($$SELECT oms.settle_invoice(%s, '{"method": "check", "amount": 1e20}')$$, inv_id(:p4)));
SELECT * FROM try(format($$SELECT oms.settle_invoice(%s, '{"method": "check", "amount": 119.01}')$$, inv_id(:p4)));
SELECT * FROM try(format($$SELECT oms.settle_invoice(%s, '{"method": "check", "amount": 1, "memo": "x"}')$$, inv_id(:p4)));
SELECT * FROM try(format($$SELECT oms.settle_invoice(%s, '{"method": "check", "amount": 1, "reference": "4111 1111 1111 1111"}')$$, inv_id(:p4)));
SELECT * FROM try(format($$SELECT oms.settle_invoice(%s, '{"method": "check", "amount": 1, "reference": "%s"}')$$, inv_id(:p4), repeat('x', 201)));
SELECT * FROM try($$SELECT oms.invoice_document(999999)$$);
SELECT oms.invoice_document(NULL) IS NULL AS strict_null;
SELECT (SELECT count(*) FROM oms.payments) = :payments_before AS no_payment,
       (SELECT count(*) FROM oms.journal_lines) = :lines_before AS no_journal, paid FROM oms.invoices WHERE order_id = :p4;
SELECT state, message FROM try($$UPDATE oms.customers SET terms_days = 400 WHERE external_ref = 'acme'$$);
-- the payments method list has bank_transfer for any order too
SELECT oms.authorize_payment(:p2, '{"method": "bank_transfer", "amount": 50}') ->> 'order_status' AS bob_paid_by_transfer;

SELECT * FROM oms.check();

BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.invoices SET amount = amount + 1 WHERE order_id = :p4;
SELECT invariant, regexp_replace(detail, '(INV-|order )[0-9]+', '\1#', 'g') FROM oms.check() WHERE invariant IN ('invoice_vs_order', 'invoices_receivable_posted') ORDER BY 1;
ROLLBACK;
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.invoices SET status = 'void', voided_at = now() WHERE order_id = :p5;
SELECT invariant, regexp_replace(detail, '(INV-|order )[0-9]+', '\1#', 'g') FROM oms.check() WHERE invariant IN ('invoice_vs_order', 'invoices_receivable_posted') ORDER BY 1;
ROLLBACK;
SELECT * FROM oms.check();

DROP FUNCTION place(text, text, text), inv(bigint), inv_id(bigint), ar(), try(text);
