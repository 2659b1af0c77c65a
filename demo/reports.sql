-- The reports BI reads (oms.report_*, as oms_reporting) and the accounting
-- journal, after everything the demo did.
\set ON_ERROR_STOP 1
\pset footer off
SET search_path = public, oms;
SET ROLE oms_reporting;

\echo
\echo '== Sales per day and channel (oms.report_sales_daily) =='
SELECT channel, currency, orders, units, gross, discounts, tax, net, refunds, net_after_refunds
  FROM oms.report_sales_daily ORDER BY day, channel;

\echo
\echo '== Channels (oms.report_channels) =='
SELECT * FROM oms.report_channels ORDER BY channel;

\echo
\echo '== Payment reconciliation per order (oms.report_payment_reconciliation), the first 12 orders =='
SELECT * FROM oms.report_payment_reconciliation ORDER BY 1 LIMIT 12;

\echo
\echo '== Low stock and reorder suggestions (oms.report_low_stock) =='
SELECT * FROM oms.report_low_stock;

\echo
\echo '== Fulfillment per location (oms.report_fulfillment) and routing (oms.report_routing) =='
SELECT * FROM oms.report_fulfillment;
SELECT * FROM oms.report_routing;

\echo
\echo '== Returns (oms.report_returns) =='
SELECT * FROM oms.report_returns;

RESET ROLE;
\echo
\echo '== Materialized reports: refreshed by oms_admin (here all six, CONCURRENTLY), read by BI in milliseconds at any size =='
SET ROLE oms_admin;
SELECT report, row_count, duration_ms FROM oms.refresh_reports();
RESET ROLE;
SELECT channel, currency, orders, revenue, net_revenue FROM oms.report_channels_mv ORDER BY 1, 2;

\echo
\echo '== The accounting journal: balances per account (every entry balances; a deferred trigger refuses any that does not) =='
SELECT account, sum(debit) AS debit, sum(credit) AS credit, sum(debit - credit) AS balance
  FROM oms.journal GROUP BY account ORDER BY account;

\echo
\echo '== The last journal entries (oms.journal) =='
SELECT entry_id, kind, order_id, account, debit, credit FROM oms.journal ORDER BY entry_id DESC, account LIMIT 14;

\echo
\echo '== For accounting: SELECT oms.create_accounting_publication(); then CREATE SUBSCRIPTION ... PUBLICATION oms_accounting (see README) =='
\echo
\echo '== oms.check(): every invariant holds (no rows) =='
SELECT * FROM oms.check();
