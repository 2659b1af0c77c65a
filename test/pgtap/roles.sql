-- pgTAP: what each oms role may do, as declared (privileges) and in
-- practice (login roles that are members of oms_app, oms_reporting and
-- oms_admin try it). oms_app writes only through the SECURITY DEFINER API;
-- oms_reporting reads events, views and the status vocabulary and writes
-- nothing; oms_admin maintains statuses, transitions and hold rules and
-- may move an order's status by hand, but never touches money; PUBLIC gets
-- nothing at all.
BEGIN;
SELECT plan(231);

-- ---- oms_app: the API ---------------------------------------------------------
SELECT function_privs_are('oms', f, a, 'oms_app', ARRAY['EXECUTE'], 'oms_app can execute oms.' || f || '(' || array_to_string(a, ', ') || ')')
  FROM (VALUES ('place_order', ARRAY['jsonb']::name[]),
               ('cancel_order', ARRAY['bigint', 'text']),
               ('get_order', ARRAY['bigint']),
               ('set_order_status', ARRAY['bigint', 'text', 'text']),
               ('hold_order', ARRAY['bigint', 'text']),
               ('release_hold', ARRAY['bigint']),
               ('order_history', ARRAY['bigint']),
               ('authorize_payment', ARRAY['bigint', 'jsonb']),
               ('capture_payment', ARRAY['bigint', 'numeric']),
               ('void_payment', ARRAY['bigint']),
               ('refund_payment', ARRAY['bigint', 'numeric', 'text']),
               ('gift_card_balance', ARRAY['text']),
               ('read_events', ARRAY['text', 'integer']),
               ('ack_events', ARRAY['text', 'bigint']),
               ('create_shipment', ARRAY['bigint', 'text', 'jsonb']),
               ('ship', ARRAY['bigint', 'text', 'text', 'text']),
               ('deliver', ARRAY['bigint']),
               ('cancel_shipment', ARRAY['bigint', 'text']),
               ('reject_fulfillment', ARRAY['bigint', 'text', 'text', 'text']),
               ('explain_route', ARRAY['jsonb']),
               ('quote_shipping', ARRAY['bigint', 'bigint', 'text', 'date']),
               ('packing_slip', ARRAY['bigint']),
               ('shipping_label', ARRAY['bigint']),
               ('create_rma', ARRAY['bigint', 'jsonb']),
               ('authorize_rma', ARRAY['bigint']),
               ('reject_rma', ARRAY['bigint', 'text']),
               ('get_rma', ARRAY['bigint']),
               ('return_label', ARRAY['bigint']),
               ('receive_rma', ARRAY['bigint', 'text', 'jsonb']),
               ('refund_rma', ARRAY['bigint']),
               ('receive_stock', ARRAY['text', 'text', 'integer', 'text']),
               ('available', ARRAY['text', 'text'])) AS t(f, a);
-- issuing value is a back-office act
SELECT function_privs_are('oms', 'issue_gift_card', ARRAY['text', 'numeric', 'text'], 'oms_app', ARRAY[]::name[],
                          'oms_app cannot issue gift cards');
SELECT function_privs_are('oms', 'issue_store_credit', ARRAY['bigint', 'numeric', 'text', 'text'], 'oms_app', ARRAY[]::name[],
                          'oms_app cannot issue store credit');

-- oms_app reads orders and payments but writes no table
SELECT table_privs_are('oms', 'orders', 'oms_app', ARRAY['SELECT'], 'oms_app only reads oms.orders');
SELECT column_privs_are('oms', 'orders', 'status', 'oms_app', ARRAY['SELECT'], 'oms_app cannot update oms.orders.status');
SELECT table_privs_are('oms', 'order_lines', 'oms_app', ARRAY['SELECT'], 'oms_app only reads oms.order_lines');
SELECT table_privs_are('oms', 'reservations', 'oms_app', ARRAY['SELECT'], 'oms_app only reads oms.reservations');
-- payments: through oms.payments_masked only; reading the table (and with it
-- every PSP token and reference) was breach 8 of issue 13
SELECT table_privs_are('oms', 'payments', 'oms_app', ARRAY[]::name[], 'oms_app has no privilege on oms.payments');
SELECT ok(NOT has_column_privilege('oms_app', 'oms.payments', 'token', 'SELECT'),
          'oms_app cannot read oms.payments.token');
SELECT ok(NOT has_column_privilege('oms_app', 'oms.payments', 'psp_reference', 'SELECT'),
          'oms_app cannot read oms.payments.psp_reference');
SELECT table_privs_are('oms', 'payments_masked', 'oms_app', ARRAY['SELECT'], 'oms_app only reads oms.payments_masked');
SELECT table_privs_are('oms', 'order_statuses', 'oms_app', ARRAY['SELECT'], 'oms_app only reads oms.order_statuses');
SELECT table_privs_are('oms', 'order_transitions', 'oms_app', ARRAY['SELECT'], 'oms_app only reads oms.order_transitions');
SELECT table_privs_are('oms', 'order_status_history', 'oms_app', ARRAY['SELECT'], 'oms_app only reads oms.order_status_history');
SELECT table_privs_are('oms', 'stock_balances', 'oms_app', ARRAY[]::name[], 'oms_app has no privilege on oms.stock_balances');
SELECT table_privs_are('oms', 'stock_movements', 'oms_app', ARRAY[]::name[], 'oms_app has no privilege on oms.stock_movements');
SELECT table_privs_are('oms', 'gift_cards', 'oms_app', ARRAY[]::name[], 'oms_app has no privilege on oms.gift_cards');
SELECT table_privs_are('oms', 'payment_transactions', 'oms_app', ARRAY[]::name[], 'oms_app has no privilege on oms.payment_transactions');
SELECT table_privs_are('oms', 'events', 'oms_app', ARRAY[]::name[], 'oms_app reads events through oms.read_events only');
SELECT table_privs_are('oms', 'event_consumers', 'oms_app', ARRAY[]::name[], 'oms_app has no privilege on oms.event_consumers');
SELECT table_privs_are('oms', 'hold_rules', 'oms_app', ARRAY[]::name[], 'oms_app has no privilege on oms.hold_rules');
SELECT table_privs_are('oms', t, 'oms_app', ARRAY['SELECT'], 'oms_app only reads oms.' || t)
  FROM unnest(ARRAY['shipments', 'shipment_lines', 'routing_decisions', 'fulfillment_rejections', 'carriers']::name[]) AS t;
SELECT is_empty($$
    SELECT c.oid::regclass FROM pg_class c
     WHERE c.relnamespace = 'oms'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
       AND (has_table_privilege('oms_app', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
            OR has_any_column_privilege('oms_app', c.oid, 'INSERT, UPDATE'))
$$, 'oms_app can write no table or view of oms directly');

-- ---- oms_reporting: events, views and the vocabulary, read only ---------------
SELECT table_privs_are('oms', 'events', 'oms_reporting', ARRAY['SELECT'], 'oms_reporting reads oms.events');
SELECT table_privs_are('oms', 'stock_levels', 'oms_reporting', ARRAY['SELECT'], 'oms_reporting reads oms.stock_levels');
SELECT table_privs_are('oms', 'order_statuses', 'oms_reporting', ARRAY['SELECT'], 'oms_reporting reads oms.order_statuses');
SELECT table_privs_are('oms', v, 'oms_reporting', ARRAY['SELECT'], 'oms_reporting reads oms.' || v)
  FROM unnest(ARRAY['report_sales_daily', 'report_inventory', 'report_low_stock', 'report_backorders', 'report_fulfillment',
                    'report_routing', 'report_returns', 'report_payment_reconciliation', 'report_customers', 'report_channels',
                    'report_sales_daily_mv', 'report_fulfillment_mv', 'report_routing_mv', 'report_returns_mv',
                    'report_customers_mv', 'report_channels_mv', 'materialized_reports',
                    'return_stats', 'journal']::name[]) AS v;
-- and every report view and materialized report there is, also ones added later
SELECT is_empty($$
    SELECT c.oid::regclass FROM pg_class c
     WHERE c.relnamespace = 'oms'::regnamespace AND c.relkind IN ('v', 'm') AND c.relname LIKE 'report\_%'
       AND NOT has_table_privilege('oms_reporting', c.oid, 'SELECT')
$$, 'oms_reporting can SELECT every oms.report_* view and materialized view');
-- payment tokens stay out of its reach
SELECT ok(NOT has_column_privilege('oms_reporting', 'oms.payments', 'token', 'SELECT'),
          'oms_reporting cannot read payment tokens');
SELECT table_privs_are('oms', t, 'oms_reporting', ARRAY[]::name[], 'oms_reporting has no privilege on oms.' || t)
  FROM unnest(ARRAY['orders', 'order_lines', 'customers', 'payments', 'payment_transactions', 'gift_cards',
                    'stock_balances', 'reservations', 'event_consumers', 'shipments', 'shipment_lines',
                    'routing_decisions', 'fulfillment_rejections', 'shipping_rates']::name[]) AS t;
SELECT is_empty($$
    SELECT c.oid::regclass FROM pg_class c
     WHERE c.relnamespace = 'oms'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
       AND (has_table_privilege('oms_reporting', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
            OR has_any_column_privilege('oms_reporting', c.oid, 'INSERT, UPDATE'))
$$, 'oms_reporting can write no table or view of oms');
SELECT function_privs_are('oms', f, a, 'oms_reporting', ARRAY[]::name[], 'oms_reporting cannot execute oms.' || f || '(' || array_to_string(a, ', ') || ')')
  FROM (VALUES ('place_order', ARRAY['jsonb']::name[]),
               ('cancel_order', ARRAY['bigint', 'text']),
               ('set_order_status', ARRAY['bigint', 'text', 'text']),
               ('hold_order', ARRAY['bigint', 'text']),
               ('release_hold', ARRAY['bigint']),
               ('authorize_payment', ARRAY['bigint', 'jsonb']),
               ('capture_payment', ARRAY['bigint', 'numeric']),
               ('void_payment', ARRAY['bigint']),
               ('refund_payment', ARRAY['bigint', 'numeric', 'text']),
               ('issue_gift_card', ARRAY['text', 'numeric', 'text']),
               ('issue_store_credit', ARRAY['bigint', 'numeric', 'text', 'text']),
               ('receive_stock', ARRAY['text', 'text', 'integer', 'text']),
               ('adjust_stock', ARRAY['text', 'text', 'integer', 'text']),
               ('expire_reservations', ARRAY[]::name[]),
               ('create_shipment', ARRAY['bigint', 'text', 'jsonb']),
               ('ship', ARRAY['bigint', 'text', 'text', 'text']),
               ('deliver', ARRAY['bigint']),
               ('cancel_shipment', ARRAY['bigint', 'text']),
               ('reject_fulfillment', ARRAY['bigint', 'text', 'text', 'text']),
               ('explain_route', ARRAY['jsonb']),
               ('quote_shipping', ARRAY['bigint', 'bigint', 'text', 'date']),
               ('packing_slip', ARRAY['bigint']),
               ('shipping_label', ARRAY['bigint']),
               ('create_rma', ARRAY['bigint', 'jsonb']),
               ('authorize_rma', ARRAY['bigint']),
               ('reject_rma', ARRAY['bigint', 'text']),
               ('get_rma', ARRAY['bigint']),
               ('return_label', ARRAY['bigint']),
               ('receive_rma', ARRAY['bigint', 'text', 'jsonb']),
               ('refund_rma', ARRAY['bigint']),
               ('read_events', ARRAY['text', 'integer']),
               ('ack_events', ARRAY['text', 'bigint']),
               ('refresh_reports', ARRAY['text[]', 'boolean'])) AS t(f, a);

-- ---- oms_admin: the vocabulary and a manual status, never money ---------------
SELECT table_privs_are('oms', t, 'oms_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'], 'oms_admin maintains oms.' || t)
  FROM unnest(ARRAY['order_statuses', 'order_transitions', 'hold_rules', 'carriers', 'carrier_services',
                    'shipping_rates', 'channel_locations', 'rejection_reasons']::name[]) AS t;
SELECT table_privs_are('oms', t, 'oms_admin', ARRAY['SELECT'], 'oms_admin only reads oms.' || t)
  FROM unnest(ARRAY['shipments', 'shipment_lines', 'routing_decisions', 'fulfillment_rejections', 'location_daily_load']::name[]) AS t;
SELECT table_privs_are('oms', 'orders', 'oms_admin', ARRAY['SELECT'], 'oms_admin has no table-wide write privilege on oms.orders');
SELECT column_privs_are('oms', 'orders', 'status', 'oms_admin', ARRAY['SELECT', 'UPDATE'], 'oms_admin may update oms.orders.status');
SELECT column_privs_are('oms', 'orders', 'total', 'oms_admin', ARRAY['SELECT'], 'oms_admin cannot update oms.orders.total');
SELECT column_privs_are('oms', 'orders', 'held_from', 'oms_admin', ARRAY['SELECT'], 'oms_admin cannot update oms.orders.held_from');
SELECT table_privs_are('oms', t, 'oms_admin', ARRAY['SELECT'], 'oms_admin only reads oms.' || t)
  FROM unnest(ARRAY['payments', 'payment_transactions', 'gift_cards', 'order_status_history', 'events']::name[]) AS t;
SELECT function_privs_are('oms', 'issue_gift_card', ARRAY['text', 'numeric', 'text'], 'oms_admin', ARRAY['EXECUTE'],
                          'oms_admin can issue gift cards');
-- the materialized reports: oms_admin refreshes them (a scheduled job) and
-- only reads the registry; applications neither
SELECT function_privs_are('oms', 'refresh_reports', ARRAY['text[]', 'boolean'], 'oms_admin', ARRAY['EXECUTE'],
                          'oms_admin can refresh the materialized reports');
SELECT function_privs_are('oms', 'refresh_reports', ARRAY['text[]', 'boolean'], 'oms_app', ARRAY[]::name[],
                          'oms_app cannot refresh the materialized reports');
SELECT table_privs_are('oms', 'materialized_reports', 'oms_admin', ARRAY['SELECT'], 'oms_admin only reads oms.materialized_reports');

-- ---- PUBLIC: nothing ------------------------------------------------------------
SELECT schema_privs_are('oms', 'public', ARRAY[]::name[], 'PUBLIC cannot use schema oms');
SELECT table_privs_are('oms', t, 'public', ARRAY[]::name[], 'PUBLIC has no privilege on oms.' || t)
  FROM unnest(ARRAY['orders', 'payments', 'gift_cards', 'events', 'order_statuses', 'stock_levels']::name[]) AS t;
SELECT function_privs_are('oms', 'place_order', ARRAY['jsonb'], 'public', ARRAY[]::name[], 'PUBLIC cannot place orders');
SELECT function_privs_are('oms', 'capture_payment', ARRAY['bigint', 'numeric'], 'public', ARRAY[]::name[], 'PUBLIC cannot capture payments');
SELECT is_empty($$
    SELECT p.oid::regprocedure FROM pg_proc p
     WHERE p.pronamespace = 'oms'::regnamespace AND has_function_privilege('public', p.oid, 'EXECUTE')
$$, 'PUBLIC can execute no function of oms');
SELECT is_empty($$
    SELECT c.oid::regclass FROM pg_class c
     WHERE c.relnamespace = 'oms'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
       AND (has_table_privilege('public', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')
            OR has_any_column_privilege('public', c.oid, 'SELECT, INSERT, UPDATE'))
$$, 'PUBLIC has no privilege on any relation of oms');

-- ---- the write API runs as the owner, with a pinned search_path ---------------
SELECT is_definer('oms', f, a, 'oms.' || f || '(' || array_to_string(a, ', ') || ') is SECURITY DEFINER')
  FROM (VALUES ('place_order', ARRAY['jsonb']::name[]),
               ('cancel_order', ARRAY['bigint', 'text']),
               ('set_order_status', ARRAY['bigint', 'text', 'text']),
               ('hold_order', ARRAY['bigint', 'text']),
               ('release_hold', ARRAY['bigint']),
               ('authorize_payment', ARRAY['bigint', 'jsonb']),
               ('capture_payment', ARRAY['bigint', 'numeric']),
               ('void_payment', ARRAY['bigint']),
               ('refund_payment', ARRAY['bigint', 'numeric', 'text']),
               ('issue_gift_card', ARRAY['text', 'numeric', 'text']),
               ('read_events', ARRAY['text', 'integer']),
               ('create_shipment', ARRAY['bigint', 'text', 'jsonb']),
               ('ship', ARRAY['bigint', 'text', 'text', 'text']),
               ('deliver', ARRAY['bigint']),
               ('cancel_shipment', ARRAY['bigint', 'text']),
               ('reject_fulfillment', ARRAY['bigint', 'text', 'text', 'text']),
               ('explain_route', ARRAY['jsonb']),
               ('quote_shipping', ARRAY['bigint', 'bigint', 'text', 'date']),
               ('packing_slip', ARRAY['bigint']),
               ('shipping_label', ARRAY['bigint']),
               ('create_rma', ARRAY['bigint', 'jsonb']),
               ('authorize_rma', ARRAY['bigint']),
               ('reject_rma', ARRAY['bigint', 'text']),
               ('get_rma', ARRAY['bigint']),
               ('return_label', ARRAY['bigint']),
               ('receive_rma', ARRAY['bigint', 'text', 'jsonb']),
               ('refund_rma', ARRAY['bigint']),
               ('ack_events', ARRAY['text', 'bigint']),
               ('receive_stock', ARRAY['text', 'text', 'integer', 'text'])) AS t(f, a);
SELECT is_empty($$
    SELECT p.oid::regprocedure FROM pg_proc p
     WHERE p.pronamespace = 'oms'::regnamespace AND p.prosecdef
       AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')
$$, 'every SECURITY DEFINER function of oms pins its search_path');

-- ---- in practice ----------------------------------------------------------------
-- as the superuser: a small catalog and three login roles
INSERT INTO oms.channels (code, name, kind) VALUES ('tap-web', 'TAP web', 'web');
INSERT INTO oms.locations (code, name, kind, latitude, longitude) VALUES ('TAP-WH', 'TAP warehouse', 'warehouse', 52.5, 13.4);
INSERT INTO oms.products (sku, name) VALUES ('TAP-A', 'TAP product A');
DO $$ BEGIN PERFORM oms.receive_stock('TAP-A', 'TAP-WH', 5); END $$;
CREATE ROLE oms_tap_shop LOGIN IN ROLE oms_app;
CREATE ROLE oms_tap_bi LOGIN IN ROLE oms_reporting;
CREATE ROLE oms_tap_admin LOGIN IN ROLE oms_admin;

-- an application login
SET LOCAL ROLE oms_tap_shop;
SELECT throws_ok($$ UPDATE oms.orders SET status = 'confirmed' $$, '42501', NULL,
                 'an app cannot UPDATE oms.orders directly');
SELECT throws_ok($$ INSERT INTO oms.payments (order_id, method, currency, authorized) VALUES (1, 'cash', 'EUR', 1) $$, '42501', NULL,
                 'an app cannot INSERT into oms.payments directly');
SELECT throws_ok($$ UPDATE oms.stock_balances SET reserved = 0 $$, '42501', NULL,
                 'an app cannot UPDATE oms.stock_balances directly');
SELECT throws_ok($$ DELETE FROM oms.reservations $$, '42501', NULL,
                 'an app cannot DELETE from oms.reservations directly');
SELECT throws_ok($$ UPDATE oms.gift_cards SET balance = 1000 $$, '42501', NULL,
                 'an app cannot UPDATE oms.gift_cards directly');
SELECT lives_ok($$ SELECT oms.place_order('{"channel": "tap-web", "external_id": "tap-1", "currency": "EUR",
                                            "lines": [{"sku": "TAP-A", "qty": 2, "unit_price": 5}]}') $$,
                'an app places an order through oms.place_order');
SELECT results_eq($$ SELECT status, total FROM oms.orders WHERE external_id = 'tap-1' $$,
                  $$ VALUES ('pending_payment'::text, 10::numeric(16,4)) $$,
                  'the app reads back its order');
SELECT lives_ok($$ SELECT oms.authorize_payment((SELECT id FROM oms.orders WHERE external_id = 'tap-1'),
                                                '{"method": "card", "amount": 10, "token": "tok_tap"}') $$,
                'an app authorizes a payment through oms.authorize_payment');
SELECT throws_ok($$ SELECT token FROM oms.payments $$, '42501', NULL,
                 'an app cannot read payment tokens from oms.payments');
SELECT throws_ok($$ SELECT psp_reference FROM oms.payments $$, '42501', NULL,
                 'an app cannot read PSP references from oms.payments');
SELECT results_eq($$ SELECT p.method, p.token, p.authorized FROM oms.payments_masked p JOIN oms.orders o ON o.id = p.order_id
                      WHERE o.external_id = 'tap-1' $$,
                  $$ VALUES ('card'::text, '****'::text, 10::numeric(16,4)) $$,
                  'an app reads its payment through oms.payments_masked, the token masked');
SELECT lives_ok($$ SELECT oms.capture_payment((SELECT p.id FROM oms.payments_masked p JOIN oms.orders o ON o.id = p.order_id
                                                WHERE o.external_id = 'tap-1')) $$,
                'an app captures it through oms.capture_payment');
-- the capture's journal entry is checked by a deferred trigger that runs as
-- the committing role: force it now, as the app
SELECT lives_ok($$ SET CONSTRAINTS ALL IMMEDIATE $$,
                'the journal balance check passes for the app''s capture (it runs with the extension''s rights)');
SET CONSTRAINTS ALL DEFERRED;
SELECT lives_ok($$ SELECT oms.set_order_status((SELECT id FROM oms.orders WHERE external_id = 'tap-1'), 'in_fulfillment') $$,
                'an app moves the order on through oms.set_order_status');
SELECT lives_ok($$ SELECT count(*) FROM oms.read_events('tap-worker') $$,
                'an app reads events through oms.read_events');
SELECT throws_ok($$ SELECT oms.issue_gift_card('TAP-GIFT-0001', 10, 'EUR') $$, '42501', NULL,
                 'an app cannot issue a gift card');
SELECT throws_ok($$ SELECT count(*) FROM oms.customers $$, '42501', NULL,
                 'an app cannot read oms.customers');
RESET ROLE;

-- a reporting login
SET LOCAL ROLE oms_tap_bi;
SELECT lives_ok($$ SELECT count(*) FROM oms.events $$, 'reporting reads oms.events');
SELECT lives_ok($$ SELECT count(*) FROM oms.stock_levels $$, 'reporting reads oms.stock_levels');
SELECT lives_ok($$ SELECT count(*) FROM oms.order_statuses $$, 'reporting reads oms.order_statuses');
SELECT throws_ok($$ SELECT count(*) FROM oms.orders $$, '42501', NULL, 'reporting cannot read oms.orders');
SELECT throws_ok($$ SELECT count(*) FROM oms.payments $$, '42501', NULL, 'reporting cannot read oms.payments');
SELECT throws_ok($$ SELECT oms.cancel_order((SELECT min(order_id) FROM oms.events), 'reporting') $$, '42501', NULL,
                 'reporting cannot cancel an order');
SELECT throws_ok($$ SELECT count(*) FROM oms.read_events('tap-bi') $$, '42501', NULL,
                 'reporting cannot move a consumer cursor');
RESET ROLE;

-- an admin login
SET LOCAL ROLE oms_tap_admin;
SELECT lives_ok($$ INSERT INTO oms.order_statuses (status, description, holds_stock) VALUES ('tap_packed', 'Packed (pgTAP)', true) $$,
                'an admin adds a status');
SELECT lives_ok($$ INSERT INTO oms.order_transitions (from_status, to_status) VALUES ('in_fulfillment', 'tap_packed') $$,
                'an admin adds a transition');
SELECT lives_ok($$ INSERT INTO oms.hold_rules (flag, reason) VALUES ('tap_review', 'pgTAP review') $$,
                'an admin adds a hold rule');
SELECT lives_ok($$ UPDATE oms.orders SET status = 'tap_packed' WHERE external_id = 'tap-1' $$,
                'an admin moves an order along the new transition by hand');
SELECT throws_ok($$ UPDATE oms.orders SET status = 'pending_payment' WHERE external_id = 'tap-1' $$, '55000', NULL,
                 'the status trigger still refuses a transition that does not exist');
SELECT throws_ok($$ UPDATE oms.orders SET total = 0 WHERE external_id = 'tap-1' $$, '42501', NULL,
                 'an admin cannot change an order total');
SELECT throws_ok($$ UPDATE oms.payments SET captured = 0 $$, '42501', NULL,
                 'an admin cannot UPDATE oms.payments');
SELECT throws_ok($$ INSERT INTO oms.payment_transactions (payment_id, order_id, kind, amount) VALUES (1, 1, 'refund', 1) $$, '42501', NULL,
                 'an admin cannot INSERT into oms.payment_transactions');
RESET ROLE;

SELECT results_eq($$ SELECT h.from_status, h.to_status FROM oms.orders o, oms.order_history(o.id) h WHERE o.external_id = 'tap-1' $$,
                  $$ VALUES (NULL::text, 'pending_payment'::text), ('pending_payment', 'confirmed'),
                            ('confirmed', 'in_fulfillment'), ('in_fulfillment', 'tap_packed') $$,
                  'the history records every change, whoever made it');
SELECT is_empty($$ SELECT * FROM oms.check() $$, 'the books balance after all of it');

SELECT * FROM finish();
ROLLBACK;
