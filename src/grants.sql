
-- ===========================================================================
-- grants: least privilege, applied after every area has created its objects
--
-- PUBLIC gets nothing: functions are executable by PUBLIC by default and
-- types are usable by PUBLIC by default, so both are revoked explicitly.
-- ===========================================================================

REVOKE ALL ON ALL TABLES IN SCHEMA oms FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA oms FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA oms FROM PUBLIC;
REVOKE ALL ON TYPE oms.gtin FROM PUBLIC;

-- The type and its support functions: every oms role handles GTINs.
GRANT USAGE ON TYPE oms.gtin TO oms_admin, oms_app, oms_reporting;
GRANT EXECUTE ON FUNCTION
    oms.gtin_in(pg_catalog.cstring), oms.gtin_out(oms.gtin),
    oms.gtin_recv(pg_catalog.internal), oms.gtin_send(oms.gtin),
    oms.gtin_lt(oms.gtin, oms.gtin), oms.gtin_le(oms.gtin, oms.gtin),
    oms.gtin_eq(oms.gtin, oms.gtin), oms.gtin_ne(oms.gtin, oms.gtin),
    oms.gtin_ge(oms.gtin, oms.gtin), oms.gtin_gt(oms.gtin, oms.gtin),
    oms.gtin_cmp(oms.gtin, oms.gtin), oms.gtin_sortsupport(pg_catalog.internal),
    oms.gtin_hash(oms.gtin), oms.gtin_hash_extended(oms.gtin, pg_catalog.int8),
    oms.gtin_short(oms.gtin), oms.gtin_is_valid(pg_catalog.text),
    oms.distance_km(double precision, double precision, double precision, double precision),
    oms.version()
    TO oms_admin, oms_app, oms_reporting;

-- oms_admin maintains the catalog with plain SQL.
GRANT SELECT, INSERT, UPDATE, DELETE ON
    oms.channels, oms.locations, oms.products, oms.kit_components, oms.customers
    TO oms_admin;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA oms TO oms_admin;
-- the kit guard runs as the writer, so the writer needs to be able to run it
GRANT EXECUTE ON FUNCTION oms.catalog_kit_guard(), oms.catalog_kit_bom_guard() TO oms_admin;
GRANT EXECUTE ON FUNCTION oms.check() TO oms_admin, oms_reporting;
GRANT EXECUTE ON FUNCTION oms.contains_card_number(pg_catalog.text), oms.ship_to_contains_card_number(pg_catalog.jsonb)
    TO oms_admin, oms_app, oms_reporting;

-- Applications read the catalog; they write only through oms.* functions.
GRANT SELECT ON oms.channels, oms.locations, oms.products, oms.kit_components
    TO oms_app;
-- Reporting reads reports (views) and events only: the oms.report_* views,
-- oms.stock_levels, the outbox and the status vocabulary. Base tables stay
-- out of reach; SECURITY DEFINER read functions (oms.check, oms.available,
-- oms.get_order) serve what the views do not.

-- Inventory and orders: everyone reads through the API or read-only tables;
-- only the SECURITY DEFINER functions below write.
GRANT SELECT ON oms.stock_levels, oms.stock_balances, oms.stock_movements,
    oms.orders, oms.order_lines, oms.reservations
    TO oms_admin;
GRANT SELECT ON oms.stock_levels TO oms_reporting;
GRANT SELECT ON oms.stock_levels, oms.orders, oms.order_lines, oms.reservations TO oms_app;
GRANT EXECUTE ON FUNCTION
    oms.place_order(jsonb), oms.cancel_order(bigint, text), oms.get_order(bigint),
    oms.receive_stock(text, text, integer, text), oms.adjust_stock(text, text, integer, text),
    oms.set_safety_stock(text, text, integer), oms.available(text, text),
    oms.expire_reservations()
    TO oms_admin, oms_app;
GRANT EXECUTE ON FUNCTION oms.available(text, text), oms.get_order(bigint) TO oms_reporting;

-- Lifecycle, payments, events.
GRANT SELECT ON oms.order_statuses, oms.order_transitions, oms.order_status_history, oms.hold_rules,
    oms.events, oms.event_consumers, oms.payments, oms.payment_transactions, oms.gift_cards
    TO oms_admin;
-- money out of orders other than refunds (store credit, exchanges): read-only
GRANT SELECT ON oms.money_out TO oms_admin;
-- a business adds its own statuses, transitions and hold rules with INSERT
GRANT INSERT, UPDATE, DELETE ON oms.order_statuses, oms.order_transitions, oms.hold_rules TO oms_admin;
-- oms_admin may move an order's status by hand; the trigger still decides
GRANT UPDATE (status, notes, flags) ON oms.orders TO oms_admin;
GRANT SELECT ON oms.order_statuses, oms.order_transitions, oms.order_status_history TO oms_app;
-- applications read payments without their PSP token and reference (the
-- table stays out of their reach; only the SECURITY DEFINER payment
-- functions use the token); oms_admin keeps the table and gets the view too,
-- for back-office screens that should not show tokens either
GRANT SELECT ON oms.payments_masked TO oms_app, oms_admin;
GRANT SELECT ON oms.events, oms.order_statuses TO oms_reporting;
GRANT EXECUTE ON FUNCTION
    oms.set_order_status(bigint, text, text), oms.hold_order(bigint, text), oms.release_hold(bigint),
    oms.order_history(bigint),
    oms.authorize_payment(bigint, jsonb), oms.capture_payment(bigint, numeric), oms.void_payment(bigint),
    oms.refund_payment(bigint, numeric, text), oms.gift_card_balance(text),
    oms.read_events(text, integer), oms.ack_events(text, bigint)
    TO oms_admin, oms_app;
-- issuing value is a back-office act
GRANT EXECUTE ON FUNCTION oms.issue_gift_card(text, numeric, text), oms.issue_store_credit(bigint, numeric, text, text)
    TO oms_admin;
GRANT EXECUTE ON FUNCTION oms.order_history(bigint) TO oms_reporting;
GRANT SELECT, INSERT, UPDATE, DELETE ON oms.message_templates TO oms_admin;
GRANT EXECUTE ON FUNCTION oms.render_notification(bigint, text) TO oms_admin, oms_app;

-- Routing: oms_admin configures (channel locations, rejection reasons);
-- applications read the decisions and explain a route before placing.
GRANT SELECT, INSERT, UPDATE, DELETE ON oms.channel_locations, oms.rejection_reasons TO oms_admin;
GRANT SELECT ON oms.channel_locations, oms.rejection_reasons, oms.routing_decisions,
    oms.fulfillment_rejections, oms.location_daily_load
    TO oms_admin, oms_app;
GRANT EXECUTE ON FUNCTION oms.explain_route(jsonb) TO oms_admin, oms_app;

-- Fulfillment: oms_admin maintains carriers, services and rates; the
-- applications (warehouse apps, store apps) drive shipments through the API.
GRANT SELECT, INSERT, UPDATE, DELETE ON oms.carriers, oms.carrier_services, oms.shipping_rates TO oms_admin;
GRANT SELECT ON oms.carriers, oms.carrier_services, oms.shipping_rates, oms.shipments, oms.shipment_lines
    TO oms_admin, oms_app;
GRANT EXECUTE ON FUNCTION
    oms.create_shipment(bigint, text, jsonb), oms.ship(bigint, text, text, text), oms.deliver(bigint),
    oms.cancel_shipment(bigint, text), oms.get_shipment(bigint), oms.packing_slip(bigint),
    oms.shipping_label(bigint), oms.reject_fulfillment(bigint, text, text, text),
    oms.quote_shipping(bigint, bigint, text, date)
    TO oms_admin, oms_app;

-- Returns: oms_admin maintains the reasons; applications run the RMA flow.
GRANT SELECT, INSERT, UPDATE, DELETE ON oms.return_reasons TO oms_admin;
GRANT SELECT ON oms.return_reasons, oms.rmas, oms.rma_lines TO oms_admin, oms_app;
GRANT SELECT ON oms.return_stats TO oms_admin, oms_app, oms_reporting;
GRANT EXECUTE ON FUNCTION
    oms.create_rma(bigint, jsonb), oms.authorize_rma(bigint), oms.reject_rma(bigint, text), oms.get_rma(bigint),
    oms.return_label(bigint), oms.receive_rma(bigint, text, jsonb), oms.refund_rma(bigint)
    TO oms_admin, oms_app;

-- Ledger: oms_admin maintains the chart of accounts and the posting rules;
-- the journal is read by administrators and by reporting.
GRANT SELECT, INSERT, UPDATE ON oms.accounts, oms.journal_rules TO oms_admin;
GRANT SELECT ON oms.journal_entries, oms.journal_lines, oms.journal, oms.revenue_recognized TO oms_admin;
GRANT SELECT ON oms.journal TO oms_reporting;
-- the subscriber's CREATE TABLE statements, for the DBA who sets up accounting
GRANT EXECUTE ON FUNCTION oms.accounting_subscriber_ddl() TO oms_admin;

-- Reports: BI reads the oms.report_* views. A view runs with its owner's
-- rights (security_invoker is off), so oms_reporting reads them without any
-- access to the tables behind them. oms_app gets none: applications serve
-- customers and warehouses through the API, and the reports aggregate data
-- an application may not read (customers, payments across orders); an
-- application that shows reports logs in with oms_reporting as well.
GRANT SELECT ON oms.report_sales_daily, oms.report_inventory, oms.report_low_stock, oms.report_backorders,
    oms.report_fulfillment, oms.report_routing, oms.report_returns, oms.report_payment_reconciliation,
    oms.report_customers, oms.report_channels,
    oms.report_sales_daily_mv, oms.report_fulfillment_mv, oms.report_routing_mv, oms.report_returns_mv,
    oms.report_customers_mv, oms.report_channels_mv, oms.materialized_reports
    TO oms_reporting, oms_admin;
-- refreshing the materialized reports is a scheduled back-office job
GRANT EXECUTE ON FUNCTION oms.refresh_reports(text[], boolean) TO oms_admin;

-- Order edits and substitutes (src/order_edit.sql): applications edit and
-- cancel lines through the API and read the versions; oms_admin maintains
-- the substitutes with plain SQL; the follow-up sweep is run by pg_cron or a
-- worker under either role.
GRANT SELECT ON oms.order_versions TO oms_admin, oms_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON oms.product_substitutes TO oms_admin;
GRANT SELECT ON oms.product_substitutes TO oms_app;
GRANT EXECUTE ON FUNCTION
    oms.edit_order(bigint, jsonb), oms.cancel_lines(bigint, jsonb),
    oms.product_substitutes_available(text), oms.send_follow_ups()
    TO oms_admin, oms_app;
-- Purchasing (issue 17): oms_admin maintains suppliers and their offers
-- with plain SQL and runs the purchase order flow; applications (the
-- warehouse app) receive goods, report damage and read purchase orders;
-- reporting reads the purchasing reports.
GRANT SELECT, INSERT, UPDATE, DELETE ON oms.suppliers, oms.supplier_products TO oms_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON oms.purchase_order_statuses, oms.purchase_order_transitions TO oms_admin;
GRANT SELECT ON oms.purchase_orders, oms.purchase_order_lines, oms.purchase_order_receipts, oms.purchase_proposals,
    oms.incoming_stock, oms.backorder_eta, oms.inventory_valuation, oms.valued_movements
    TO oms_admin;
GRANT SELECT ON oms.suppliers, oms.supplier_products, oms.purchase_order_statuses, oms.purchase_orders,
    oms.purchase_order_lines, oms.incoming_stock, oms.backorder_eta
    TO oms_app;
GRANT EXECUTE ON FUNCTION
    oms.create_purchase_order(text, text, jsonb, text), oms.propose_purchase_orders(text),
    oms.send_purchase_order(bigint), oms.cancel_purchase_order(bigint, text), oms.close_purchase_order(bigint, text),
    oms.write_off(text, text, integer, text, text)
    TO oms_admin;
GRANT EXECUTE ON FUNCTION
    oms.get_purchase_order(bigint), oms.purchase_order_document(bigint), oms.receive_purchase_order(bigint, text, jsonb),
    oms.incoming(text, text), oms.mark_damaged(text, text, integer, text), oms.repair(text, text, integer, text)
    TO oms_admin, oms_app;
GRANT EXECUTE ON FUNCTION oms.incoming(text, text) TO oms_reporting;
-- the status guard runs as the writer (oms_admin may add statuses and transitions)
GRANT EXECUTE ON FUNCTION oms.purchase_order_transition() TO oms_admin;
GRANT SELECT ON oms.report_purchase_orders, oms.report_gross_margin TO oms_reporting, oms_admin;
-- Stores: the till and the store app sell at the counter and hand pickups
-- over; the pickup sweep runs from the scheduler like expire_reservations.
GRANT EXECUTE ON FUNCTION oms.sell_at_counter(jsonb), oms.ready_for_pickup(bigint), oms.hand_over(bigint, text),
    oms.expire_pickups()
    TO oms_admin, oms_app;

-- Customers' contacts: the shop and customer service save addresses, phone
-- numbers and consents and answer access requests; erasure is a
-- back-office act (oms_admin), as it cannot be undone.
GRANT SELECT ON oms.customer_addresses, oms.customer_consents TO oms_admin;
GRANT EXECUTE ON FUNCTION oms.save_customer_address(bigint, jsonb), oms.set_customer_phone(bigint, text),
    oms.record_consent(bigint, text, text, boolean, text), oms.export_customer(bigint)
    TO oms_admin, oms_app;
GRANT EXECUTE ON FUNCTION oms.erase_customer(bigint, text) TO oms_admin;
-- the time zone guard of oms.locations runs as the writer
GRANT EXECUTE ON FUNCTION oms.locations_time_zone_guard() TO oms_admin;

-- Pricing (src/pricing.sql): the back office keeps price lists, prices,
-- categories, promotions and codes with plain SQL; a code's uses are
-- written only by place_order, cancel and expiry (SECURITY DEFINER), so
-- oms_admin may not UPDATE that column (oms.check(): promotion_code_uses).
-- Applications read them and ask oms.price(); reporting reads the report.
GRANT SELECT, INSERT, UPDATE, DELETE ON oms.price_lists, oms.prices, oms.product_categories, oms.promotions TO oms_admin;
GRANT SELECT, INSERT, DELETE ON oms.promotion_codes TO oms_admin;
GRANT UPDATE (code, usage_limit, per_customer_limit, active) ON oms.promotion_codes TO oms_admin;
GRANT SELECT ON oms.promotion_code_customers, oms.order_codes, oms.order_promotions TO oms_admin;
GRANT SELECT ON oms.price_lists, oms.prices, oms.product_categories, oms.promotions, oms.order_codes, oms.order_promotions
    TO oms_app;
GRANT EXECUTE ON FUNCTION oms.price(text, text, text, integer, text) TO oms_admin, oms_app;
GRANT SELECT ON oms.report_promotions TO oms_admin, oms_reporting;
-- Charges (src/order_charges.c): the back office keeps the tax rates; the
-- shop reads them (to show prices with tax).
GRANT SELECT, INSERT, UPDATE, DELETE ON oms.tax_rates TO oms_admin;
GRANT SELECT ON oms.tax_rates TO oms_app;
-- Invoices (src/invoices.c): the back office and the shop read them and
-- record settlements; reporting reads the ageing report.
GRANT SELECT ON oms.invoices, oms.report_ar_ageing TO oms_admin;
GRANT SELECT ON oms.invoices TO oms_app;
GRANT SELECT ON oms.report_ar_ageing TO oms_reporting;
GRANT EXECUTE ON FUNCTION oms.settle_invoice(bigint, jsonb), oms.invoice_document(bigint) TO oms_admin, oms_app;
