--
-- ledger: the double-entry accounting journal (src/ledger.c). Each
-- business event that moves money or revenue posts an entry in its own
-- transaction, on the accounts oms.journal_rules names for it: a gift
-- card sold, captures (card, gift card, store credit), revenue and tax
-- recognised as units ship (partial shipments add up to the order), a
-- cancellation's refunds (refund_*: back to A/R), an RMA's refunds
-- (return_refund_*: sales_returns) and store credit. Every entry balances,
-- a changed mapping is used by the next posting, an unbalanced entry is
-- refused at commit, the journal is append-only, and
-- oms.create_accounting_publication() publishes it for logical
-- replication.
--
SET client_min_messages = warning;
SET search_path = public, oms;
\set VERBOSITY default
\set SHOW_CONTEXT never
DROP EXTENSION oms CASCADE;
CREATE EXTENSION oms;

-- ---------------------------------------------------------------------------
-- fixture
-- ---------------------------------------------------------------------------
INSERT INTO oms.channels (code, name, kind, routing_strategy) VALUES ('web', 'Web', 'web', 'priority');
INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority, address) VALUES
    ('BER', 'Berlin warehouse', 'warehouse', 52.5200, 13.4050, 10, E'Lagerstrasse 1\n10115 Berlin\nDE');
INSERT INTO oms.products (sku, name, kind, weight_kg) VALUES
    ('TENT', 'Tent for two', 'stock',   2.500),
    ('MUG',  'Enamel mug',   'stock',   0.400),
    ('WRAP', 'Gift wrap',    'service', 0);
INSERT INTO oms.customers (external_ref, email, name) VALUES ('ann', 'ann@example.com', 'Ann Example');
SELECT count(oms.receive_stock(sku, 'BER', qty)) AS receipts FROM (VALUES ('TENT', 20), ('MUG', 40)) AS v(sku, qty);
INSERT INTO oms.carriers (code, name, tracking_url, active) VALUES
    ('dhl', 'DHL', 'https://www.dhl.de/track?piececode={{tracking_number}}', true);
INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days, active)
SELECT id, 'standard', 'Paket', 2, true FROM oms.carriers WHERE code = 'dhl';
INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
SELECT id, 'EUR', NULL, NULL, 5.99 FROM oms.carrier_services WHERE code = 'standard';

-- place an order for Ann; lines is [[sku, qty, unit_price, discount, tax], ...]
CREATE FUNCTION place(ext text, lines jsonb) RETURNS text LANGUAGE sql AS
$$ SELECT oms.place_order(jsonb_build_object('channel', 'web', 'external_id', ext, 'currency', 'EUR',
       'customer', jsonb_build_object('external_ref', 'ann'),
       'ship_to', jsonb_build_object('name', 'Ann Example', 'line1', 'Am Kanal 5', 'postal_code', '14467',
                                     'city', 'Potsdam', 'country', 'DE', 'lat', 52.3906, 'lon', 13.0645),
       'lines', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('sku', l ->> 0, 'qty', (l ->> 1)::int,
                                  'unit_price', (l ->> 2)::numeric, 'discount', (l ->> 3)::numeric, 'tax', (l ->> 4)::numeric)))
                   FROM jsonb_array_elements(lines) l))) ->> 'status' $$;
CREATE FUNCTION oid_of(ext text) RETURNS bigint LANGUAGE sql AS
$$ SELECT id FROM oms.orders WHERE external_id = ext $$;
-- authorize amount of an order by a method (card, gift_card with code,
-- store_credit) and capture it; returns the order's status
CREATE FUNCTION pay(ext text, method text, amount numeric, code text DEFAULT NULL) RETURNS text LANGUAGE sql AS
$$ SELECT oms.capture_payment((oms.authorize_payment(oid_of(ext), jsonb_strip_nulls(jsonb_build_object(
              'method', method, 'amount', amount, 'gift_card_code', code,
              'token', CASE WHEN method = 'card' THEN 'tok_' || ext END))) ->> 'payment_id')::bigint) ->> 'order_status' $$;
-- ship what the order holds at BER (lines: only those); returns the order's status
CREATE FUNCTION send(ext text, lines jsonb DEFAULT NULL) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    s bigint;
BEGIN
    s := (oms.create_shipment(oid_of(ext), 'BER', lines) ->> 'shipment_id')::bigint;
    RETURN oms.ship(s, 'dhl', 'standard', 'JJD-' || ext || '-' || s) ->> 'order_status';
END
$$;
-- the n-th RMA of an order
CREATE FUNCTION rma_of(ext text, n int DEFAULT 1) RETURNS bigint LANGUAGE sql AS
$$ SELECT r.id FROM oms.rmas r JOIN oms.orders o ON o.id = r.order_id WHERE o.external_id = ext ORDER BY r.id OFFSET n - 1 LIMIT 1 $$;
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

-- The entries posted since the last call, one row per line (debits
-- first), without ids: entry is the entry's number in the journal (1 = the
-- first ever), ref names what the entry points to (order external id,
-- payment method, the order's n-th shipment)
CREATE TABLE shown (upto bigint NOT NULL);
INSERT INTO shown VALUES (0);
CREATE FUNCTION new_entries() RETURNS TABLE (entry bigint, kind text, ref text, account text, debit numeric, credit numeric)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    SELECT n.no, e.kind,
           concat_ws(' ', o.external_id, p.method,
                     CASE WHEN e.shipment_id IS NOT NULL THEN 'shipment ' ||
                         (SELECT count(*) FROM oms.shipments s WHERE s.order_id = e.order_id AND s.id <= e.shipment_id) END),
           l.account, l.debit, l.credit
      FROM oms.journal_entries e
      JOIN (SELECT id, row_number() OVER (ORDER BY id) AS no FROM oms.journal_entries) n ON n.id = e.id
      JOIN oms.journal_lines l ON l.entry_id = e.id
      LEFT JOIN oms.orders o ON o.id = e.order_id
      LEFT JOIN oms.payments p ON p.id = e.payment_id
     WHERE e.id > (SELECT upto FROM shown)
     ORDER BY e.id, l.debit = 0, l.account, l.debit + l.credit DESC;
    UPDATE shown SET upto = COALESCE((SELECT max(id) FROM oms.journal_entries), 0);
END
$$;
-- per account: debits, credits and the balance (debit - credit); accounts
-- without lines too
CREATE VIEW balances AS
SELECT a.code AS account, a.kind, COALESCE(sum(l.debit), 0)::numeric(16,4) AS debit, COALESCE(sum(l.credit), 0)::numeric(16,4) AS credit,
       COALESCE(sum(l.debit - l.credit), 0)::numeric(16,4) AS balance
  FROM oms.accounts a LEFT JOIN oms.journal_lines l ON l.account = a.code
 GROUP BY a.code, a.kind ORDER BY a.code;
-- per order: what the journal says the customer owes (A/R), the revenue
-- and tax recognised, and the order's own numbers
CREATE VIEW per_order AS
SELECT o.external_id, o.status, o.subtotal - o.discount AS net, o.tax, o.total,
       COALESCE(sum(l.debit - l.credit) FILTER (WHERE l.account = 'accounts_receivable'), 0)::numeric(16,4) AS receivable,
       COALESCE(sum(l.credit - l.debit) FILTER (WHERE e.kind = 'shipment' AND l.account NOT IN ('accounts_receivable', 'tax_payable')), 0)::numeric(16,4) AS revenue,
       COALESCE(sum(l.credit - l.debit) FILTER (WHERE e.kind = 'shipment' AND l.account = 'tax_payable'), 0)::numeric(16,4) AS tax_recognised
  FROM oms.orders o
  LEFT JOIN oms.journal_entries e ON e.order_id = o.id
  LEFT JOIN oms.journal_lines l ON l.entry_id = e.id
 GROUP BY o.id ORDER BY o.id;
-- every entry balances, and has at least two lines
CREATE VIEW unbalanced AS
SELECT e.id, e.kind, sum(l.debit) AS debit, sum(l.credit) AS credit, count(l.id) AS lines
  FROM oms.journal_entries e LEFT JOIN oms.journal_lines l ON l.entry_id = e.id
 GROUP BY e.id HAVING COALESCE(sum(l.debit), 0) <> COALESCE(sum(l.credit), 0) OR count(l.id) < 2;

-- ---------------------------------------------------------------------------
-- the chart of accounts and the rules, as installed
-- ---------------------------------------------------------------------------
SELECT code, kind, seeded FROM oms.accounts ORDER BY code;
SELECT event, debit_account, credit_account FROM oms.journal_rules ORDER BY event;
SELECT * FROM new_entries();

-- ---------------------------------------------------------------------------
-- a gift card sold: Dr cash_clearing, Cr gift_card_liability
-- ---------------------------------------------------------------------------
SELECT oms.issue_gift_card('GIFT-LEDGER-0001', 80, 'EUR') ->> 'balance' AS gift_card;
SELECT * FROM new_entries();
SELECT * FROM balances;

-- ---------------------------------------------------------------------------
-- L-1: 3 tents at 100 less 25 discount plus 10 tax, 2 mugs at 10 plus 3.80
-- tax, a gift wrap at 5: net 300, tax 13.80, total 313.80; paid 50 by the
-- gift card and 263.80 by card, both captured: Dr gift_card_liability /
-- Dr cash_clearing, Cr accounts_receivable
-- ---------------------------------------------------------------------------
SELECT place('L-1', '[["TENT", 3, 100, 25, 10], ["MUG", 2, 10, 0, 3.8], ["WRAP", 1, 5]]') AS l1;
SELECT net, tax, total FROM per_order WHERE external_id = 'L-1';
SELECT pay('L-1', 'gift_card', 50, 'GIFT-LEDGER-0001') AS l1_status;
SELECT * FROM new_entries();
SELECT pay('L-1', 'card', 263.80) AS l1_status;
SELECT * FROM new_entries();
-- A/R credited with everything paid: the customer paid ahead of delivery
SELECT * FROM per_order WHERE external_id = 'L-1';

-- ---------------------------------------------------------------------------
-- shipments: revenue (net of discount) and tax of the shipped units only,
-- Dr accounts_receivable, Cr sales_revenue / tax_payable; in parts they
-- add up to the order's net and tax
-- ---------------------------------------------------------------------------
-- one tent: 275 / 3 = 91.6667 revenue, 10 / 3 = 3.3333 tax
SELECT send('L-1', '[{"sku": "TENT", "qty": 1}]') AS l1_status;
SELECT * FROM new_entries();
SELECT * FROM per_order WHERE external_id = 'L-1';
-- another tent: 183.3333 - 91.6667 = 91.6666 revenue, 6.6667 - 3.3333 = 3.3334 tax
SELECT send('L-1', '[{"sku": "TENT", "qty": 1}]') AS l1_status;
SELECT * FROM new_entries();
-- the rest: the last tent, both mugs (20 + 3.80 tax) and the wrap (5, it
-- ships with the last parcel): 91.6667 + 20 + 5 = 116.6667 revenue,
-- 3.3333 + 3.80 = 7.1333 tax
SELECT send('L-1') AS l1_status;
SELECT * FROM new_entries();
-- fully paid and shipped: A/R nets to 0, revenue = net, tax = tax
SELECT * FROM per_order WHERE external_id = 'L-1';
SELECT * FROM balances;

-- ---------------------------------------------------------------------------
-- C-1: paid (20 by the gift card, 30 by card), not shipped, cancelled: the
-- refunds go back through A/R (refund_gift_card, refund_cash: Dr
-- accounts_receivable, Cr gift_card_liability / cash_clearing); no revenue
-- was recognised, and A/R nets to 0
-- ---------------------------------------------------------------------------
SELECT place('C-1', '[["TENT", 1, 50]]') AS c1;
SELECT pay('C-1', 'gift_card', 20, 'GIFT-LEDGER-0001') AS c1_status, pay('C-1', 'card', 30) AS c1_status;
SELECT * FROM new_entries();
SELECT oms.cancel_order(oid_of('C-1'), 'customer changed mind') ->> 'status' AS c1_status;
SELECT * FROM new_entries();
SELECT * FROM per_order WHERE external_id = 'C-1';
SELECT oms.gift_card_balance('GIFT-LEDGER-0001') AS gift_card_balance;

-- ---------------------------------------------------------------------------
-- RMA refund: one tent of L-1 back, refunded (unit value (300 - 25 + 10) /
-- 3 = 95): the gift card first (50), then the card (45); return_refund_*:
-- Dr sales_returns, Cr gift_card_liability / cash_clearing. The revenue
-- recognised is not touched, A/R stays 0
-- ---------------------------------------------------------------------------
SELECT oms.create_rma(oid_of('L-1'), '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "refund"}') ->> 'status' AS rma;
SELECT oms.receive_rma(rma_of('L-1'), 'BER', '[{"sku": "TENT", "qty": 1, "condition": "sellable"}]') ->> 'status' AS rma;
SELECT * FROM new_entries();
SELECT oms.refund_rma(rma_of('L-1')) ->> 'status' AS rma;
SELECT * FROM new_entries();
SELECT * FROM per_order WHERE external_id = 'L-1';

-- ---------------------------------------------------------------------------
-- store credit: an RMA resolved as store credit (a mug, 11.90) and goodwill
-- credit (15): Dr sales_returns, Cr store_credit_liability; then spent on
-- S-1 (capture_store_credit: Dr store_credit_liability, Cr A/R)
-- ---------------------------------------------------------------------------
SELECT oms.create_rma(oid_of('L-1'), '{"lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}], "resolution": "store_credit"}') ->> 'status' AS rma;
SELECT oms.receive_rma(rma_of('L-1', 2), 'BER', '[{"sku": "MUG", "qty": 1, "condition": "damaged"}]') ->> 'status' AS rma;
SELECT oms.refund_rma(rma_of('L-1', 2)) ->> 'status' AS rma;
SELECT entry, kind, account, debit, credit FROM new_entries();
SELECT oms.issue_store_credit((SELECT id FROM oms.customers WHERE external_ref = 'ann'), 15, 'EUR', 'goodwill') ->> 'balance' AS store_credit;
SELECT entry, kind, account, debit, credit FROM new_entries();
SELECT place('S-1', '[["MUG", 2, 10, 0, 3.8]]') AS s1;
SELECT pay('S-1', 'store_credit', 23.80) AS s1_status;
SELECT * FROM new_entries();
SELECT send('S-1') AS s1_status;
SELECT * FROM new_entries();
SELECT * FROM per_order;
SELECT * FROM balances;

-- ---------------------------------------------------------------------------
-- the mapping is data: a new revenue account for shipped revenue is used
-- by the next posting
-- ---------------------------------------------------------------------------
INSERT INTO oms.accounts (code, name, kind) VALUES ('sales_revenue_web', 'Sales revenue, web shop', 'revenue');
UPDATE oms.journal_rules SET credit_account = 'sales_revenue_web', seeded = false WHERE event = 'shipment_revenue';
SELECT place('M-1', '[["TENT", 2, 40, 0, 7.6]]') AS m1, pay('M-1', 'card', 87.60) AS m1_status;
SELECT send('M-1') AS m1_status;
SELECT * FROM new_entries();
SELECT * FROM per_order WHERE external_id = 'M-1';

-- ---------------------------------------------------------------------------
-- every entry balances
-- ---------------------------------------------------------------------------
SELECT * FROM unbalanced;
SELECT sum(debit) = sum(credit) AS journal_balances, count(DISTINCT entry_id) AS entries, count(*) AS lines FROM oms.journal_lines;

-- ---------------------------------------------------------------------------
-- an unbalanced entry is refused at commit (23514), and leaves nothing
-- ---------------------------------------------------------------------------
SELECT count(*) AS entries_before FROM oms.journal_entries;
BEGIN;
INSERT INTO oms.journal_entries (kind, currency, memo) VALUES ('manual', 'EUR', 'one-legged');
INSERT INTO oms.journal_lines (entry_id, account, debit)
SELECT max(id), 'cash_clearing', 10 FROM oms.journal_entries;
-- inside the transaction it is there
SELECT count(*) AS lines_of_the_entry FROM oms.journal_lines WHERE entry_id = (SELECT max(id) FROM oms.journal_entries);
COMMIT;
SELECT count(*) AS entries_after FROM oms.journal_entries;
SELECT count(*) AS manual_entries FROM oms.journal_entries WHERE kind = 'manual';
-- the same with the SQLSTATE, checked now (SET CONSTRAINTS ... IMMEDIATE)
SELECT try($$
    WITH e AS (INSERT INTO oms.journal_entries (kind, currency, memo) VALUES ('manual', 'EUR', 'one-legged') RETURNING id)
    INSERT INTO oms.journal_lines (entry_id, account, debit) SELECT id, 'cash_clearing', 10 FROM e;
    SET CONSTRAINTS oms.journal_lines_balanced IMMEDIATE$$) AS unbalanced_entry;
-- a balanced manual entry is accepted
BEGIN;
INSERT INTO oms.journal_entries (kind, currency, memo) VALUES ('manual', 'EUR', 'correction');
INSERT INTO oms.journal_lines (entry_id, account, debit, credit)
SELECT max(id), v.account, v.debit, v.credit FROM oms.journal_entries,
       (VALUES ('cash_clearing', 10, 0), ('sales_revenue', 0, 10)) AS v(account, debit, credit)
 GROUP BY v.account, v.debit, v.credit;
COMMIT;
SELECT * FROM new_entries();

-- ---------------------------------------------------------------------------
-- append-only (42501); a line with both a debit and a credit, or neither,
-- or a negative amount is refused by the CHECK (23514)
-- ---------------------------------------------------------------------------
SELECT label, try(stmt) AS result FROM (VALUES
    ('update an entry',     $$UPDATE oms.journal_entries SET memo = 'changed' WHERE id = (SELECT min(id) FROM oms.journal_entries)$$),
    ('delete an entry',     $$DELETE FROM oms.journal_entries WHERE id = (SELECT min(id) FROM oms.journal_entries)$$),
    ('truncate entries',    $$TRUNCATE oms.journal_entries CASCADE$$),
    ('update a line',       $$UPDATE oms.journal_lines SET debit = debit + 1 WHERE id = (SELECT min(id) FROM oms.journal_lines WHERE debit > 0)$$),
    ('delete a line',       $$DELETE FROM oms.journal_lines WHERE id = (SELECT min(id) FROM oms.journal_lines)$$),
    ('truncate lines',      $$TRUNCATE oms.journal_lines$$),
    ('debit and credit',    $$INSERT INTO oms.journal_lines (entry_id, account, debit, credit) SELECT max(id), 'cash_clearing', 5, 5 FROM oms.journal_entries$$),
    ('neither',             $$INSERT INTO oms.journal_lines (entry_id, account, debit, credit) SELECT max(id), 'cash_clearing', 0, 0 FROM oms.journal_entries$$),
    ('negative debit',      $$INSERT INTO oms.journal_lines (entry_id, account, debit, credit) SELECT max(id), 'cash_clearing', -5, 0 FROM oms.journal_entries$$),
    ('unknown account',     $$INSERT INTO oms.journal_lines (entry_id, account, debit, credit) SELECT max(id), 'petty_cash', 5, 0 FROM oms.journal_entries$$),
    ('unknown entry kind',  $$INSERT INTO oms.journal_entries (kind, currency) VALUES ('adjustment', 'EUR')$$)) AS t(label, stmt);
-- in full, once each
UPDATE oms.journal_lines SET debit = debit + 1 WHERE id = (SELECT min(id) FROM oms.journal_lines WHERE debit > 0);
DELETE FROM oms.journal_entries WHERE id = (SELECT min(id) FROM oms.journal_entries);
TRUNCATE oms.journal_lines;
-- nothing changed
SELECT count(*) AS lines, sum(debit) AS debits, sum(credit) AS credits FROM oms.journal_lines;

-- ---------------------------------------------------------------------------
-- logical replication: the publication is made on request, once
-- ---------------------------------------------------------------------------
SELECT count(*) AS publications FROM pg_publication WHERE pubname = 'oms_accounting';
-- (the test cluster's wal_level may be below logical: that warning is not
-- what is tested here; test/t/007_accounting_replication.pl replicates)
SET client_min_messages = error;
SELECT oms.create_accounting_publication();
SET client_min_messages = warning;
SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = 'oms_accounting' ORDER BY tablename;
SELECT pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_publication WHERE pubname = 'oms_accounting';
SELECT oms.create_accounting_publication();
-- a publication that lost tables (pg_restore brings it back with none) is
-- repaired, naming what was added
ALTER PUBLICATION oms_accounting DROP TABLE oms.journal_lines, oms.accounts;
SELECT oms.create_accounting_publication();
SELECT count(*) AS published FROM pg_publication_tables WHERE pubname = 'oms_accounting';
-- a publication of every table already carries the journal: left as it is
DROP PUBLICATION oms_accounting;
SET client_min_messages = error;
CREATE PUBLICATION oms_accounting FOR ALL TABLES;
SET client_min_messages = warning;
SELECT oms.create_accounting_publication();
DROP PUBLICATION oms_accounting;
SET client_min_messages = error;
SELECT oms.create_accounting_publication();
SET client_min_messages = warning;
-- the subscriber's tables: every journal table, no foreign key, no sequence
SELECT (SELECT count(*) FROM regexp_matches(oms.accounting_subscriber_ddl(), 'CREATE TABLE oms\.', 'g')) AS tables,
       oms.accounting_subscriber_ddl() ~ 'REFERENCES|nextval' AS keys_or_sequences;
-- replica identity: the primary key (d = default)
SELECT c.relname, c.relreplident FROM pg_class c
 WHERE c.oid IN ('oms.accounts'::regclass, 'oms.journal_rules'::regclass, 'oms.journal_entries'::regclass, 'oms.journal_lines'::regclass)
 ORDER BY c.relname;
DROP PUBLICATION oms_accounting;

DROP VIEW balances, per_order, unbalanced;
DROP FUNCTION place(text, jsonb), oid_of(text), pay(text, text, numeric, text), send(text, jsonb), rma_of(text, int),
    try(text), new_entries();
DROP TABLE shown;
SELECT * FROM oms.check();
