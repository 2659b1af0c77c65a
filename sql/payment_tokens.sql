--
-- payment_tokens: applications read payments through oms.payments_masked,
-- never the PSP token or reference (issue 13, breach 8)
-- (src/payments.sql, src/grants.sql).
--   1. as oms_app, the table and its token and psp_reference columns are
--      refused (42501)
--   2. the view shows every payment, the token as ****, the PSP reference as
--      **** plus its last 4 characters when it has at least 12, else ****
--   3. the payment functions still use the token (capture as oms_app)
--
SET client_min_messages = warning;
SET search_path = public, oms;
\set VERBOSITY default
\set SHOW_CONTEXT never
DROP EXTENSION oms CASCADE;
CREATE EXTENSION oms;

INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web');
INSERT INTO oms.locations (code, name, kind, latitude, longitude) VALUES ('A', 'Warehouse A', 'warehouse', 52.52, 13.40);
INSERT INTO oms.products (sku, name) VALUES ('MUG', 'Mug');
SELECT oms.receive_stock('MUG', 'A', 10) IS NOT NULL AS received;
SELECT (oms.place_order(jsonb_build_object('channel', 'web', 'external_id', 'o-' || n, 'currency', 'EUR',
        'lines', jsonb_build_array(jsonb_build_object('sku', 'MUG', 'qty', 1, 'unit_price', 10)))) ->> 'status') AS status
  FROM generate_series(1, 3) n;
SELECT oms.authorize_payment((SELECT id FROM oms.orders WHERE external_id = 'o-1'),
        '{"method": "card", "amount": 10, "token": "tok_1QwErTyUiOp", "psp_reference": "pi_3PqRsTuVwXyZ", "brand": "visa", "last4": "4242"}')
        ->> 'status' AS status;
SELECT oms.authorize_payment((SELECT id FROM oms.orders WHERE external_id = 'o-2'),
        '{"method": "card", "amount": 10, "token": "tok_short", "psp_reference": "pi_9"}') ->> 'status' AS status;
SELECT oms.authorize_payment((SELECT id FROM oms.orders WHERE external_id = 'o-3'),
        '{"method": "cash", "amount": 10}') ->> 'status' AS status;

CREATE ROLE regress_tokens_app IN ROLE oms_app;
SET ROLE regress_tokens_app;
-- 1. the table is out of reach, its secret columns above all
SELECT token FROM oms.payments;
SELECT psp_reference FROM oms.payments;
SELECT count(*) FROM oms.payments;
-- 2. the view
SELECT o.external_id, p.method, p.token, p.psp_reference, p.card_brand, p.card_last4, p.authorized, p.status
  FROM oms.payments_masked p JOIN oms.orders o ON o.id = p.order_id ORDER BY o.external_id;
-- 3. the payment functions still work for the app
SELECT oms.capture_payment((SELECT p.id FROM oms.payments_masked p JOIN oms.orders o ON o.id = p.order_id
                             WHERE o.external_id = 'o-1')) ->> 'status' AS status;
RESET ROLE;
-- the table still holds the real values (superuser and oms_admin read them)
SELECT o.external_id, p.token, p.psp_reference, p.captured
  FROM oms.payments p JOIN oms.orders o ON o.id = p.order_id ORDER BY o.external_id;
SELECT has_table_privilege('oms_admin', 'oms.payments', 'SELECT') AS admin_reads_table,
       has_table_privilege('oms_admin', 'oms.payments_masked', 'SELECT') AS admin_reads_view,
       has_table_privilege('oms_reporting', 'oms.payments_masked', 'SELECT') AS reporting_reads_view;
SELECT invariant, detail FROM oms.check();
DROP ROLE regress_tokens_app;
