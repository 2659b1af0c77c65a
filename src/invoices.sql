
-- ===========================================================================
-- invoices: invoices and receivables of customers on payment terms
-- (src/invoices.c)
--
-- An order placed by a customer flagged terms is confirmed on terms and
-- gets an invoice: a number from oms.invoice_number_seq, issued today, due
-- after the customer's terms_days, for the order's total. The invoice
-- follows the order: an edit changes its amount, a cancel voids it.
-- oms.settle_invoice records a payment (invoice, check or bank_transfer)
-- through the payments area and marks the invoice paid once it is covered.
-- The journal moves what an open invoice asks for to invoices_receivable
-- (invoice_issue) and back on payment (invoice_settle).
-- ===========================================================================

CREATE SEQUENCE oms.invoice_number_seq;
COMMENT ON SEQUENCE oms.invoice_number_seq IS 'Invoice numbers: INV- and this number, six digits at least';

CREATE TABLE oms.invoices (
    id           bigserial     NOT NULL,
    number       text          NOT NULL,
    order_id     bigint        NOT NULL,
    customer_id  bigint        NOT NULL,
    currency     text          NOT NULL,
    issued_on    date          NOT NULL,
    due_on       date          NOT NULL,
    amount       numeric(16,4) NOT NULL,
    paid         numeric(16,4) NOT NULL DEFAULT 0,
    status       text          NOT NULL DEFAULT 'open',
    created_at   timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    paid_at      timestamptz,
    voided_at    timestamptz,
    CONSTRAINT invoices_pkey PRIMARY KEY (id),
    CONSTRAINT invoices_number_key UNIQUE (number),
    CONSTRAINT invoices_order_key UNIQUE (order_id),
    CONSTRAINT invoices_order_fkey FOREIGN KEY (order_id) REFERENCES oms.orders (id),
    CONSTRAINT invoices_customer_fkey FOREIGN KEY (customer_id) REFERENCES oms.customers (id),
    CONSTRAINT invoices_currency_chk CHECK (currency OPERATOR(pg_catalog.~) '^[A-Z]{3}$'),
    CONSTRAINT invoices_due_chk CHECK (due_on OPERATOR(pg_catalog.>=) issued_on),
    CONSTRAINT invoices_amounts_chk CHECK (LEAST(amount, paid) OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT invoices_status_chk CHECK (status OPERATOR(pg_catalog.~) '^(open|paid|void)$'),
    CONSTRAINT invoices_voided_chk CHECK ((status OPERATOR(pg_catalog.=) 'void') OPERATOR(pg_catalog.=) (voided_at IS NOT NULL))
);
CREATE INDEX invoices_customer_idx ON oms.invoices (customer_id);
CREATE INDEX invoices_open_idx ON oms.invoices (due_on) WHERE status OPERATOR(pg_catalog.=) 'open';
COMMENT ON TABLE oms.invoices IS 'Invoices of orders placed on payment terms, one per order; written by oms functions only';
COMMENT ON COLUMN oms.invoices.id IS 'Invoice id';
COMMENT ON COLUMN oms.invoices.number IS 'Invoice number (INV-000001), from oms.invoice_number_seq';
COMMENT ON COLUMN oms.invoices.order_id IS 'The order invoiced';
COMMENT ON COLUMN oms.invoices.customer_id IS 'The customer billed (flagged terms when the order was placed)';
COMMENT ON COLUMN oms.invoices.currency IS 'The order''s currency';
COMMENT ON COLUMN oms.invoices.issued_on IS 'Issue date: the day the order was placed';
COMMENT ON COLUMN oms.invoices.due_on IS 'Due date: issued_on + the customer''s terms_days';
COMMENT ON COLUMN oms.invoices.amount IS 'Amount invoiced: the order''s total, followed through edits while the invoice is not void (oms.check(): invoice_vs_order)';
COMMENT ON COLUMN oms.invoices.paid IS 'Settled so far by oms.settle_invoice';
COMMENT ON COLUMN oms.invoices.status IS 'open (amount - paid is owed), paid (paid reaches amount) or void (the order was cancelled)';
COMMENT ON COLUMN oms.invoices.created_at IS 'When the invoice was written';
COMMENT ON COLUMN oms.invoices.paid_at IS 'When the last settlement was recorded';
COMMENT ON COLUMN oms.invoices.voided_at IS 'When the invoice was voided';

CREATE FUNCTION oms.settle_invoice(invoice_id bigint, payment jsonb)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'settle_invoice';
COMMENT ON FUNCTION oms.settle_invoice(bigint, jsonb)
    IS 'Settle an open invoice with a payment {method: invoice, check or bank_transfer, amount, reference}: authorized and captured on its order, the invoice paid once covered';

CREATE FUNCTION oms.invoice_document(invoice_id bigint)
    RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'invoice_document';
COMMENT ON FUNCTION oms.invoice_document(bigint)
    IS 'The invoice as a printable text document: number, dates, bill-to, lines with tax, shipping, total, paid and due';

-- A/R ageing: what open invoices still ask for, by how long it is overdue
CREATE VIEW oms.report_ar_ageing AS
SELECT i.customer_id, c.name AS customer, i.currency,
       pg_catalog.count(*)::bigint AS invoices,
       pg_catalog.sum(i.amount OPERATOR(pg_catalog.-) i.paid) AS open,
       COALESCE(pg_catalog.sum(i.amount OPERATOR(pg_catalog.-) i.paid) FILTER (WHERE i.due_on OPERATOR(pg_catalog.>=) CURRENT_DATE), 0) AS current,
       COALESCE(pg_catalog.sum(i.amount OPERATOR(pg_catalog.-) i.paid)
                FILTER (WHERE CURRENT_DATE OPERATOR(pg_catalog.-) i.due_on BETWEEN 1 AND 30), 0) AS days_1_30,
       COALESCE(pg_catalog.sum(i.amount OPERATOR(pg_catalog.-) i.paid)
                FILTER (WHERE CURRENT_DATE OPERATOR(pg_catalog.-) i.due_on BETWEEN 31 AND 60), 0) AS days_31_60,
       COALESCE(pg_catalog.sum(i.amount OPERATOR(pg_catalog.-) i.paid)
                FILTER (WHERE CURRENT_DATE OPERATOR(pg_catalog.-) i.due_on BETWEEN 61 AND 90), 0) AS days_61_90,
       COALESCE(pg_catalog.sum(i.amount OPERATOR(pg_catalog.-) i.paid)
                FILTER (WHERE CURRENT_DATE OPERATOR(pg_catalog.-) i.due_on OPERATOR(pg_catalog.>) 90), 0) AS days_90_plus,
       pg_catalog.min(i.due_on) AS oldest_due
  FROM oms.invoices i
  JOIN oms.customers c ON c.id OPERATOR(pg_catalog.=) i.customer_id
 WHERE i.status OPERATOR(pg_catalog.=) 'open'
 GROUP BY i.customer_id, c.name, i.currency;
COMMENT ON VIEW oms.report_ar_ageing IS 'Accounts receivable ageing per customer and currency: what open invoices still ask for (amount - paid), not yet due (current) and by days overdue';
COMMENT ON COLUMN oms.report_ar_ageing.customer_id IS 'The customer';
COMMENT ON COLUMN oms.report_ar_ageing.customer IS 'The customer''s name';
COMMENT ON COLUMN oms.report_ar_ageing.currency IS 'Currency of the amounts';
COMMENT ON COLUMN oms.report_ar_ageing.invoices IS 'Open invoices';
COMMENT ON COLUMN oms.report_ar_ageing.open IS 'What they still ask for: current + every overdue bucket';
COMMENT ON COLUMN oms.report_ar_ageing.current IS 'Not yet due (due today or later)';
COMMENT ON COLUMN oms.report_ar_ageing.days_1_30 IS '1 to 30 days overdue';
COMMENT ON COLUMN oms.report_ar_ageing.days_31_60 IS '31 to 60 days overdue';
COMMENT ON COLUMN oms.report_ar_ageing.days_61_90 IS '61 to 90 days overdue';
COMMENT ON COLUMN oms.report_ar_ageing.days_90_plus IS 'More than 90 days overdue';
COMMENT ON COLUMN oms.report_ar_ageing.oldest_due IS 'The earliest due date among them';

SELECT pg_catalog.pg_extension_config_dump('oms.invoices', '');
SELECT pg_catalog.pg_extension_config_dump('oms.invoices_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.invoice_number_seq', '');
