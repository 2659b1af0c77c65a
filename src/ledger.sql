
-- ===========================================================================
-- ledger: the double-entry accounting journal (src/ledger.c)
--
-- Every business event that moves money or revenue posts a journal entry
-- in the same transaction: captures, refunds, revenue and tax recognised
-- when units ship, gift cards and store credit issued. The accounts are a
-- table, and which accounts an event debits and credits is data
-- (oms.journal_rules). A deferred constraint trigger (C) refuses any entry
-- whose debits and credits differ at commit, and the journal is
-- append-only: a correction is a reversing entry. The tables keep their
-- primary key as replica identity; oms.create_accounting_publication()
-- publishes them for logical replication.
-- ===========================================================================

CREATE TABLE oms.accounts (
    code        text    NOT NULL,
    name        text    NOT NULL,
    kind        text    NOT NULL,
    seeded      boolean NOT NULL DEFAULT false,
    CONSTRAINT accounts_pkey PRIMARY KEY (code),
    CONSTRAINT accounts_code_chk CHECK (code OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,62}$'),
    CONSTRAINT accounts_kind_chk CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['asset', 'liability', 'equity', 'revenue', 'expense']))
);
ALTER TABLE oms.accounts REPLICA IDENTITY DEFAULT;
COMMENT ON TABLE oms.accounts IS 'Chart of accounts of the journal; extensible with INSERT';
COMMENT ON COLUMN oms.accounts.code IS 'Account code';
COMMENT ON COLUMN oms.accounts.name IS 'Account name';
COMMENT ON COLUMN oms.accounts.kind IS 'asset, liability, equity, revenue or expense';
COMMENT ON COLUMN oms.accounts.seeded IS 'Shipped with the extension (not dumped)';
INSERT INTO oms.accounts (code, name, kind, seeded) VALUES
    ('cash_clearing', 'Cash clearing (payments received, awaiting settlement)', 'asset', true),
    ('accounts_receivable', 'Accounts receivable (customers)', 'asset', true),
    ('sales_revenue', 'Sales revenue', 'revenue', true),
    ('sales_returns', 'Sales returns and allowances', 'revenue', true),
    ('tax_payable', 'Sales tax payable', 'liability', true),
    ('gift_card_liability', 'Gift cards outstanding', 'liability', true),
    ('store_credit_liability', 'Store credit outstanding', 'liability', true);

CREATE TABLE oms.journal_rules (
    event          text    NOT NULL,
    debit_account  text    NOT NULL,
    credit_account text    NOT NULL,
    description    text    NOT NULL,
    seeded         boolean NOT NULL DEFAULT false,
    CONSTRAINT journal_rules_pkey PRIMARY KEY (event),
    CONSTRAINT journal_rules_debit_fkey FOREIGN KEY (debit_account) REFERENCES oms.accounts (code),
    CONSTRAINT journal_rules_credit_fkey FOREIGN KEY (credit_account) REFERENCES oms.accounts (code),
    CONSTRAINT journal_rules_event_chk CHECK (event OPERATOR(pg_catalog.=) ANY (ARRAY[
        'capture_cash', 'capture_gift_card', 'capture_store_credit',
        'shipment_revenue', 'shipment_tax',
        'refund_cash', 'refund_gift_card', 'refund_store_credit',
        'return_refund_cash', 'return_refund_gift_card', 'return_refund_store_credit',
        'gift_card_issue', 'store_credit_issue',
        'inventory_receipt', 'cogs', 'inventory_write_off',
        'shipment_shipping', 'return_refund_tax', 'invoice_issue', 'invoice_settle']))
);
ALTER TABLE oms.journal_rules REPLICA IDENTITY DEFAULT;
COMMENT ON TABLE oms.journal_rules IS 'Which account each business event debits and credits (the mapping is data: change it with UPDATE)';
COMMENT ON COLUMN oms.journal_rules.event IS 'Business event: capture_*, shipment_revenue, shipment_tax, refund_* (cancellations and manual refunds), return_refund_* (RMAs), gift_card_issue, store_credit_issue, inventory_receipt, cogs, inventory_write_off';
COMMENT ON COLUMN oms.journal_rules.debit_account IS 'Account debited';
COMMENT ON COLUMN oms.journal_rules.credit_account IS 'Account credited';
COMMENT ON COLUMN oms.journal_rules.description IS 'What the posting means';
COMMENT ON COLUMN oms.journal_rules.seeded IS 'Shipped with the extension (not dumped)';
INSERT INTO oms.journal_rules (event, debit_account, credit_account, description, seeded) VALUES
    ('capture_cash', 'cash_clearing', 'accounts_receivable', 'Card, cash, check or invoice payment captured', true),
    ('capture_gift_card', 'gift_card_liability', 'accounts_receivable', 'Gift card redeemed', true),
    ('capture_store_credit', 'store_credit_liability', 'accounts_receivable', 'Store credit redeemed', true),
    ('shipment_revenue', 'accounts_receivable', 'sales_revenue', 'Revenue recognised when units ship (net of discounts)', true),
    ('shipment_tax', 'accounts_receivable', 'tax_payable', 'Tax on the units shipped', true),
    ('refund_cash', 'accounts_receivable', 'cash_clearing', 'Money paid back on a cancellation or a manual refund', true),
    ('refund_gift_card', 'accounts_receivable', 'gift_card_liability', 'Gift card value restored on a cancellation or a manual refund', true),
    ('refund_store_credit', 'accounts_receivable', 'store_credit_liability', 'Store credit restored on a cancellation or a manual refund', true),
    ('return_refund_cash', 'sales_returns', 'cash_clearing', 'Money paid back for returned units', true),
    ('return_refund_gift_card', 'sales_returns', 'gift_card_liability', 'Gift card value restored for returned units', true),
    ('return_refund_store_credit', 'sales_returns', 'store_credit_liability', 'Store credit restored for returned units', true),
    ('gift_card_issue', 'cash_clearing', 'gift_card_liability', 'Gift card sold', true),
    ('store_credit_issue', 'sales_returns', 'store_credit_liability', 'Store credit issued (returns, goodwill)', true);
-- purchasing: the value of the stock (src/valuation.c)
INSERT INTO oms.accounts (code, name, kind, seeded) VALUES
    ('inventory', 'Inventory (stock at moving average cost)', 'asset', true),
    ('goods_received_not_invoiced', 'Goods received not invoiced (suppliers)', 'liability', true),
    ('cost_of_goods_sold', 'Cost of goods sold', 'expense', true),
    ('inventory_loss', 'Inventory loss (damaged and written-off stock)', 'expense', true);
INSERT INTO oms.journal_rules (event, debit_account, credit_account, description, seeded) VALUES
    ('inventory_receipt', 'inventory', 'goods_received_not_invoiced', 'Goods received against a purchase order, at their cost', true),
    ('cogs', 'cost_of_goods_sold', 'inventory', 'Cost of the units shipped, at moving average cost', true),
    ('inventory_write_off', 'inventory_loss', 'inventory', 'Units written off, at moving average cost', true);
-- shipping charges, tax and invoices (src/order_charges.c)
INSERT INTO oms.accounts (code, name, kind, seeded) VALUES
    ('shipping_revenue', 'Shipping revenue (shipping charged to customers)', 'revenue', true);
INSERT INTO oms.journal_rules (event, debit_account, credit_account, description, seeded) VALUES
    ('shipment_shipping', 'accounts_receivable', 'shipping_revenue', 'The order''s shipping charge, recognised with its first shipment', true),
    ('return_refund_tax', 'tax_payable', 'sales_returns', 'The tax part of a refund for returned units, taken back off tax payable', true);
-- invoices of terms customers (src/invoices.c): what an open invoice still
-- asks for moves from the order's receivable to the invoiced receivable
INSERT INTO oms.accounts (code, name, kind, seeded) VALUES
    ('invoices_receivable', 'Invoiced receivables (open invoices of customers on terms)', 'asset', true);
INSERT INTO oms.journal_rules (event, debit_account, credit_account, description, seeded) VALUES
    ('invoice_issue', 'invoices_receivable', 'accounts_receivable', 'An invoice issued to a customer on terms (or its amount changed; negative: voided)', true),
    ('invoice_settle', 'accounts_receivable', 'invoices_receivable', 'An invoice settled by a payment (invoice, check or bank transfer)', true);

CREATE TABLE oms.journal_entries (
    id          bigserial   NOT NULL,
    at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    kind        text        NOT NULL,
    currency    text        NOT NULL,
    order_id    bigint,
    payment_id  bigint,
    rma_id      bigint,
    shipment_id bigint,
    memo        text,
    CONSTRAINT journal_entries_pkey PRIMARY KEY (id),
    CONSTRAINT journal_entries_kind_chk CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['capture', 'shipment', 'refund',
        'gift_card_issue', 'store_credit_issue', 'manual', 'inventory_receipt', 'cogs', 'write_off', 'invoice'])),
    CONSTRAINT journal_entries_currency_chk CHECK (currency OPERATOR(pg_catalog.~) '^[A-Z]{3}$')
);
ALTER TABLE oms.journal_entries REPLICA IDENTITY DEFAULT;
CREATE INDEX journal_entries_order_idx ON oms.journal_entries (order_id) WHERE order_id IS NOT NULL;
COMMENT ON TABLE oms.journal_entries IS 'Journal entries, written in the transaction of the business event; append-only';
COMMENT ON COLUMN oms.journal_entries.id IS 'Entry number';
COMMENT ON COLUMN oms.journal_entries.at IS 'Transaction time of the event';
COMMENT ON COLUMN oms.journal_entries.kind IS 'capture, shipment, refund, gift_card_issue, store_credit_issue, manual, inventory_receipt, cogs or write_off';
COMMENT ON COLUMN oms.journal_entries.currency IS 'Currency of every line of the entry';
COMMENT ON COLUMN oms.journal_entries.order_id IS 'The order, when the event has one';
COMMENT ON COLUMN oms.journal_entries.payment_id IS 'The payment (captures and refunds)';
COMMENT ON COLUMN oms.journal_entries.rma_id IS 'The RMA (refunds and store credit for returns)';
COMMENT ON COLUMN oms.journal_entries.shipment_id IS 'The shipment (revenue recognition)';
COMMENT ON COLUMN oms.journal_entries.memo IS 'Free text';

CREATE TABLE oms.journal_lines (
    id          bigserial     NOT NULL,
    entry_id    bigint        NOT NULL,
    account     text          NOT NULL,
    debit       numeric(16,4) NOT NULL DEFAULT 0,
    credit      numeric(16,4) NOT NULL DEFAULT 0,
    CONSTRAINT journal_lines_pkey PRIMARY KEY (id),
    CONSTRAINT journal_lines_entry_fkey FOREIGN KEY (entry_id) REFERENCES oms.journal_entries (id),
    CONSTRAINT journal_lines_account_fkey FOREIGN KEY (account) REFERENCES oms.accounts (code),
    CONSTRAINT journal_lines_amounts_chk CHECK (debit OPERATOR(pg_catalog.>=) 0 AND credit OPERATOR(pg_catalog.>=) 0
        AND (debit OPERATOR(pg_catalog.>) 0) OPERATOR(pg_catalog.<>) (credit OPERATOR(pg_catalog.>) 0))
);
ALTER TABLE oms.journal_lines REPLICA IDENTITY DEFAULT;
CREATE INDEX journal_lines_entry_idx ON oms.journal_lines (entry_id);
COMMENT ON TABLE oms.journal_lines IS 'Journal lines: one side of one account per line; every entry balances (deferred check at commit)';
COMMENT ON COLUMN oms.journal_lines.id IS 'Line number';
COMMENT ON COLUMN oms.journal_lines.entry_id IS 'The entry';
COMMENT ON COLUMN oms.journal_lines.account IS 'The account (oms.accounts)';
COMMENT ON COLUMN oms.journal_lines.debit IS 'Debit amount, or 0';
COMMENT ON COLUMN oms.journal_lines.credit IS 'Credit amount, or 0';

CREATE TABLE oms.revenue_recognized (
    order_id  bigint        NOT NULL,
    net       numeric(16,4) NOT NULL,
    tax       numeric(16,4) NOT NULL,
    shipping  numeric(16,4) NOT NULL DEFAULT 0,
    CONSTRAINT revenue_recognized_pkey PRIMARY KEY (order_id),
    CONSTRAINT revenue_recognized_order_fkey FOREIGN KEY (order_id) REFERENCES oms.orders (id)
);
COMMENT ON TABLE oms.revenue_recognized IS 'Per order, the revenue and tax the journal has recognised for shipped units; the next shipment posts the difference';
COMMENT ON COLUMN oms.revenue_recognized.order_id IS 'The order';
COMMENT ON COLUMN oms.revenue_recognized.net IS 'Net revenue recognised (after discounts)';
COMMENT ON COLUMN oms.revenue_recognized.tax IS 'Tax recognised';
COMMENT ON COLUMN oms.revenue_recognized.shipping IS 'Shipping charge recognised: the order''s whole charge once a unit has shipped';

-- SECURITY DEFINER: a deferred trigger runs at commit as the role that
-- committed (oms_app, say), which may not read the journal itself.
CREATE FUNCTION oms.ledger_balance_check() RETURNS trigger
    LANGUAGE c SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'ledger_balance_check';
COMMENT ON FUNCTION oms.ledger_balance_check() IS 'Constraint trigger (deferred): at commit, every journal entry touched balances (debits = credits)';
CREATE CONSTRAINT TRIGGER journal_lines_balanced
    AFTER INSERT ON oms.journal_lines
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION oms.ledger_balance_check();

CREATE FUNCTION oms.ledger_append_only() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'ledger_append_only';
COMMENT ON FUNCTION oms.ledger_append_only() IS 'Trigger: the journal is append-only; a correction is a reversing entry';
CREATE TRIGGER journal_entries_append_only
    BEFORE UPDATE OR DELETE ON oms.journal_entries
    FOR EACH ROW EXECUTE FUNCTION oms.ledger_append_only();
CREATE TRIGGER journal_lines_append_only
    BEFORE UPDATE OR DELETE ON oms.journal_lines
    FOR EACH ROW EXECUTE FUNCTION oms.ledger_append_only();
CREATE TRIGGER journal_entries_no_truncate
    BEFORE TRUNCATE ON oms.journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION oms.ledger_append_only();
CREATE TRIGGER journal_lines_no_truncate
    BEFORE TRUNCATE ON oms.journal_lines
    FOR EACH STATEMENT EXECUTE FUNCTION oms.ledger_append_only();

-- Not SECURITY DEFINER: the DBA who wants the publication runs this, with
-- the right to create publications in the database. A publication created
-- by CREATE EXTENSION would exist on every install, also where nobody
-- replicates, and would be owned by whoever installed the extension.
--
-- It also repairs. pg_dump does not dump that an extension's table belongs
-- to a publication, so after pg_restore the publication oms_accounting
-- exists with no tables and the subscriber receives nothing, silently.
-- Run again, this adds every journal table the publication lacks (and says
-- which); a publication that has them all is left as it is.
CREATE FUNCTION oms.create_accounting_publication() RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    -- the journal tables, in the order a subscriber creates them
    -- (oms.accounting_subscriber_ddl lists the same)
    v_tables  regclass[] := ARRAY['oms.accounts', 'oms.journal_rules', 'oms.journal_entries', 'oms.journal_lines'];
    v_missing regclass[];
    v_pub     pg_catalog.pg_publication%ROWTYPE;
BEGIN
    SELECT * INTO v_pub FROM pg_catalog.pg_publication WHERE pubname = 'oms_accounting';
    IF NOT FOUND THEN
        EXECUTE pg_catalog.format('CREATE PUBLICATION oms_accounting FOR TABLE %s',
                                  pg_catalog.array_to_string(v_tables::text[], ', '));
        RETURN 'publication oms_accounting created';
    END IF;
    IF v_pub.puballtables THEN
        RETURN 'publication oms_accounting already publishes every table';
    END IF;
    SELECT pg_catalog.array_agg(t ORDER BY o) INTO v_missing
      FROM pg_catalog.unnest(v_tables) WITH ORDINALITY AS u(t, o)
     WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_publication_rel pr
                        WHERE pr.prpubid = v_pub.oid AND pr.prrelid = u.t);
    IF v_missing IS NULL THEN
        RETURN 'publication oms_accounting already exists';
    END IF;
    EXECUTE pg_catalog.format('ALTER PUBLICATION oms_accounting ADD TABLE %s',
                              pg_catalog.array_to_string(v_missing::text[], ', '));
    RETURN pg_catalog.format('publication oms_accounting repaired: added %s', pg_catalog.array_to_string(v_missing::text[], ', '));
END
$fn$;
COMMENT ON FUNCTION oms.create_accounting_publication()
    IS 'Create the publication oms_accounting (accounts, rules, journal entries and lines) for logical replication to accounting, or add the journal tables it lacks (after pg_restore, which does not restore the membership of extension tables)';

-- The subscriber's tables. Accounting's database does not need oms, only
-- the journal tables with the publisher's columns, types, NOT NULLs,
-- defaults, primary keys, CHECKs and indexes, read here from the catalog
-- (pg_dump -s -t oms.journal_* prints nothing: the tables belong to the
-- extension). Left out: sequences and defaults that use them (the ids come
-- from the publisher), foreign keys (the apply worker does not check them),
-- triggers, and CHECKs that call oms functions (the subscriber has none).
CREATE FUNCTION oms.accounting_subscriber_ddl() RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT 'CREATE SCHEMA IF NOT EXISTS oms;' OPERATOR(pg_catalog.||) E'\n' OPERATOR(pg_catalog.||)
       pg_catalog.string_agg(t.ddl, E'\n' ORDER BY t.o)
  FROM (SELECT u.o,
               pg_catalog.format(E'CREATE TABLE %s (\n    %s\n);', u.t,
                   (SELECT pg_catalog.string_agg(x.line, E',\n    ' ORDER BY x.k, x.n)
                      FROM (SELECT 1 AS k, a.attnum::int AS n,
                                   pg_catalog.format('%I %s', a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod))
                                   OPERATOR(pg_catalog.||) CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
                                   OPERATOR(pg_catalog.||) COALESCE(' DEFAULT ' OPERATOR(pg_catalog.||) d.expr, '') AS line
                              FROM pg_catalog.pg_attribute a
                              LEFT JOIN LATERAL (SELECT pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) AS expr
                                                   FROM pg_catalog.pg_attrdef ad
                                                  WHERE ad.adrelid = a.attrelid AND ad.adnum = a.attnum) d
                                ON d.expr NOT LIKE 'nextval(%'
                             WHERE a.attrelid = u.t AND a.attnum > 0 AND NOT a.attisdropped
                            UNION ALL
                            SELECT 2, CASE c.contype WHEN 'p' THEN 0 ELSE 1 END,
                                   pg_catalog.format('CONSTRAINT %I %s', c.conname, pg_catalog.pg_get_constraintdef(c.oid))
                              FROM pg_catalog.pg_constraint c
                             WHERE c.conrelid = u.t AND c.contype IN ('p', 'c')
                               AND pg_catalog.pg_get_constraintdef(c.oid) NOT LIKE '%oms.%') x))
               OPERATOR(pg_catalog.||) COALESCE((SELECT pg_catalog.string_agg(E'\n' OPERATOR(pg_catalog.||) pg_catalog.pg_get_indexdef(i.indexrelid) OPERATOR(pg_catalog.||) ';', '' ORDER BY i.indexrelid::regclass::text)
                                                   FROM pg_catalog.pg_index i
                                                  WHERE i.indrelid = u.t
                                                    AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint c WHERE c.conindid = i.indexrelid)), '') AS ddl
          FROM pg_catalog.unnest(ARRAY['oms.accounts', 'oms.journal_rules', 'oms.journal_entries', 'oms.journal_lines']::regclass[])
               WITH ORDINALITY AS u(t, o)) t
$fn$;
COMMENT ON FUNCTION oms.accounting_subscriber_ddl()
    IS 'The CREATE TABLE statements of the journal tables for the accounting subscriber''s database (columns, keys, CHECKs and indexes, no sequences, foreign keys or triggers); run them there before CREATE SUBSCRIPTION';

CREATE VIEW oms.journal AS
SELECT e.id AS entry_id, e.at, e.kind, e.currency, e.order_id, e.payment_id, e.rma_id, e.shipment_id,
       l.account, l.debit, l.credit
  FROM oms.journal_entries e JOIN oms.journal_lines l ON l.entry_id OPERATOR(pg_catalog.=) e.id;
COMMENT ON VIEW oms.journal IS 'The journal, one row per line with its entry';
COMMENT ON COLUMN oms.journal.entry_id IS 'Entry number';
COMMENT ON COLUMN oms.journal.at IS 'When';
COMMENT ON COLUMN oms.journal.kind IS 'Entry kind';
COMMENT ON COLUMN oms.journal.currency IS 'Currency';
COMMENT ON COLUMN oms.journal.order_id IS 'Order';
COMMENT ON COLUMN oms.journal.payment_id IS 'Payment';
COMMENT ON COLUMN oms.journal.rma_id IS 'RMA';
COMMENT ON COLUMN oms.journal.shipment_id IS 'Shipment';
COMMENT ON COLUMN oms.journal.account IS 'Account';
COMMENT ON COLUMN oms.journal.debit IS 'Debit';
COMMENT ON COLUMN oms.journal.credit IS 'Credit';

SELECT pg_catalog.pg_extension_config_dump('oms.accounts', 'WHERE NOT seeded');
SELECT pg_catalog.pg_extension_config_dump('oms.journal_rules', 'WHERE NOT seeded');
SELECT pg_catalog.pg_extension_config_dump('oms.journal_entries', '');
SELECT pg_catalog.pg_extension_config_dump('oms.journal_entries_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.journal_lines', '');
SELECT pg_catalog.pg_extension_config_dump('oms.journal_lines_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.revenue_recognized', '');

-- Card-number guard (issue 13, breach 9). Tables that oms_admin writes with
-- plain SQL get the trigger (a clean 22023 naming the column; a CHECK would
-- echo the row in its DETAIL); columns that only C entry points write, which
-- check first, get a CHECK constraint backstop.
CREATE TRIGGER accounts_no_card_number BEFORE INSERT OR UPDATE ON oms.accounts
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('name');
CREATE TRIGGER journal_rules_no_card_number BEFORE INSERT OR UPDATE ON oms.journal_rules
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('description');
-- journal_entries.memo has no CHECK: the journal tables replicate to
-- accounting's own database, which has no oms functions and mirrors the
-- publisher's CHECKs; the memo is written only by oms's ledger code.
