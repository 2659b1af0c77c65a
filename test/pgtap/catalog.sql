-- pgTAP: the catalog's shape, its privileges and the gtin type, as a DBA or
-- a migration tool would check them.
BEGIN;
SELECT plan(42);

SELECT has_schema('oms');
SELECT tables_are('oms', ARRAY['channels', 'locations', 'products', 'kit_components', 'customers', 'customer_addresses', 'customer_consents',
                         'stock_balances', 'stock_movements', 'orders', 'order_lines', 'reservations',
                         'events', 'event_consumers', 'order_statuses', 'order_transitions',
                         'order_status_history', 'hold_rules', 'gift_cards', 'payments', 'payment_transactions', 'money_out',
                         'message_templates', 'channel_locations', 'location_daily_load', 'rejection_reasons',
                         'fulfillment_rejections', 'routing_decisions', 'carriers', 'carrier_services',
                         'shipping_rates', 'shipments', 'shipment_lines', 'return_reasons', 'rmas', 'rma_lines', 'accounts', 'journal_rules', 'journal_entries', 'journal_lines', 'revenue_recognized',
                         'suppliers', 'supplier_products', 'purchase_order_statuses', 'purchase_order_transitions', 'purchase_orders',
                         'purchase_order_lines', 'purchase_order_receipts', 'purchase_proposals', 'inventory_valuation', 'valued_movements',
                         'materialized_reports', 'order_versions', 'product_substitutes', 'tax_rates', 'invoices',
                         'price_lists', 'prices', 'product_categories', 'promotions', 'promotion_codes',
                         'promotion_code_customers', 'order_codes', 'order_promotions']);
SELECT materialized_views_are('oms', ARRAY['report_sales_daily_mv', 'report_fulfillment_mv', 'report_routing_mv',
                                           'report_returns_mv', 'report_customers_mv', 'report_channels_mv']);
-- each one is registered with its live view, so oms.refresh_reports() refreshes it
SELECT set_eq($$SELECT report::name FROM oms.materialized_reports$$,
              $$SELECT matviewname FROM pg_matviews WHERE schemaname = 'oms'$$,
              'every materialized view of oms is in oms.materialized_reports');

SELECT col_is_pk('oms', 'channels', 'id', 'channels.id is the primary key');
SELECT col_is_unique('oms', 'channels', 'code', 'channel codes are unique');
SELECT col_is_pk('oms', 'locations', 'id', 'locations.id is the primary key');
SELECT col_is_unique('oms', 'locations', 'code', 'location codes are unique');
SELECT col_type_is('oms', 'locations', 'latitude', 'double precision', 'latitude is double precision');
SELECT col_not_null('oms', 'locations', 'latitude', 'latitude is required');
SELECT col_is_pk('oms', 'products', 'id', 'products.id is the primary key');
SELECT col_is_unique('oms', 'products', 'sku', 'skus are unique');
SELECT col_is_unique('oms', 'products', 'gtin', 'gtins are unique');
SELECT col_type_is('oms', 'products', 'gtin', 'oms.gtin', 'products.gtin is an oms.gtin');
SELECT col_default_is('oms', 'products', 'kind', 'stock', 'products are stock items by default');
SELECT col_is_pk('oms', 'kit_components', ARRAY['kit_id', 'component_id'], 'one row per kit and component');
SELECT fk_ok('oms', 'kit_components', 'kit_id', 'oms', 'products', 'id');
SELECT fk_ok('oms', 'kit_components', 'component_id', 'oms', 'products', 'id');
SELECT col_is_unique('oms', 'customers', 'external_ref', 'customer external refs are unique');
SELECT has_index('oms', 'customers', 'customers_email_key', 'emails are unique case-insensitively');
SELECT has_trigger('oms', 'kit_components', 'kit_components_guard', 'kit components are guarded');
SELECT has_trigger('oms', 'products', 'products_kind_guard', 'kind changes are guarded');

SELECT has_type('oms', 'gtin', 'oms.gtin exists');
SELECT has_opclass('oms', 'gtin_ops', 'btree opclass for gtin');
SELECT has_opclass('oms', 'gtin_hash_ops', 'hash opclass for gtin');
SELECT has_cast('text', 'oms.gtin');
SELECT has_cast('oms.gtin', 'text');
SELECT is(oms.gtin_short('04006381333931'), '4006381333931', 'gtin_short drops the GTIN-14 padding');
SELECT throws_ok($$ SELECT '4006381333932'::oms.gtin $$, '22P02', NULL, 'a bad check digit is 22P02');
SELECT throws_ok($$ SELECT ''::oms.gtin $$, '22P02', NULL, 'an empty gtin is 22P02');

SELECT volatility_is('oms', 'gtin_in', ARRAY['cstring'], 'immutable');
SELECT volatility_is('oms', 'distance_km', ARRAY['double precision', 'double precision', 'double precision', 'double precision'], 'immutable');
SELECT volatility_is('oms', 'check', ARRAY[]::text[], 'stable');
SELECT function_returns('oms', 'check', ARRAY[]::text[], 'setof record');

SELECT has_role('oms_admin');
SELECT has_role('oms_app');
SELECT has_role('oms_reporting');
SELECT table_privs_are('oms', 'products', 'oms_app', ARRAY['SELECT'], 'apps only read products');
SELECT table_privs_are('oms', 'products', 'oms_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'], 'admins maintain products');
SELECT table_privs_are('oms', 'customers', 'oms_app', ARRAY[]::text[], 'apps do not read customers directly');
SELECT table_privs_are('oms', 'products', 'public', ARRAY[]::text[], 'PUBLIC has no table privileges');
SELECT is_empty($$ SELECT * FROM oms.check() $$, 'a fresh install is consistent');

SELECT * FROM finish();
ROLLBACK;
