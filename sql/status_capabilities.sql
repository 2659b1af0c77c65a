--
-- status_capabilities: what an order status means is data, the capability
-- columns of oms.order_statuses, read by LifecycleAllows() in C and joined
-- in SQL (oms.check(), the report views). The matrix of every seeded
-- status, then two custom statuses inserted with their capabilities that
-- behave by their row with no code change: awaiting_pickup (may hold stock,
-- take payments, ship, be rejected, counts as a sale) and awaiting_review
-- (the same without shippable: no shipment, with the normal error).
--
SET client_min_messages = warning;
SET search_path = public, oms;
\set VERBOSITY default
-- errors raised inside oms functions would show the internal statement as
-- CONTEXT; what matters is the error itself
\set SHOW_CONTEXT never
DROP EXTENSION oms CASCADE;
CREATE EXTENSION oms;

-- ---------------------------------------------------------------------------
-- the capability matrix of the seeded statuses
-- ---------------------------------------------------------------------------
SELECT status, initial, final, holds_stock, open, fulfillment_driven, payable, cancellable, terminal,
       counts_as_sale, shippable, returnable
  FROM oms.order_statuses WHERE seeded ORDER BY status;

-- ---------------------------------------------------------------------------
-- fixture: two warehouses with stock, one carrier with a rate
-- ---------------------------------------------------------------------------
INSERT INTO oms.channels (code, name, kind, routing_strategy) VALUES ('web', 'Web', 'web', 'priority');
INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority, address) VALUES
    ('BER', 'Berlin warehouse',  'warehouse', 52.5200, 13.4050, 10, E'Lagerstrasse 1\n10115 Berlin\nDE'),
    ('HAM', 'Hamburg warehouse', 'warehouse', 53.5511,  9.9937, 20, E'Hafenweg 7\n20457 Hamburg\nDE');
INSERT INTO oms.products (sku, name, kind, weight_kg) VALUES ('TENT', 'Tent for two', 'stock', 2.500);
INSERT INTO oms.customers (external_ref, email, name) VALUES ('ann', 'ann@example.com', 'Ann Example');
SELECT count(oms.receive_stock('TENT', loc, 10)) AS receipts FROM (VALUES ('BER'), ('HAM')) AS v(loc);
INSERT INTO oms.carriers (code, name, tracking_url, active) VALUES
    ('dhl', 'DHL', 'https://www.dhl.de/track?piececode={{tracking_number}}', true);
INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days, active)
SELECT id, 'standard', 'Paket', 2, true FROM oms.carriers WHERE code = 'dhl';
INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
SELECT id, 'EUR', NULL, 31.5, 6.99 FROM oms.carrier_services WHERE code = 'standard';

-- place two tents for Ann at 10 EUR each
CREATE FUNCTION place(ext text) RETURNS bigint LANGUAGE sql AS
$$ SELECT (oms.place_order(jsonb_build_object('channel', 'web', 'external_id', ext, 'currency', 'EUR',
       'customer', jsonb_build_object('external_ref', 'ann'),
       'ship_to', jsonb_build_object('name', 'Ann Example', 'line1', 'Am Kanal 5', 'postal_code', '14467',
                                     'city', 'Potsdam', 'country', 'DE', 'lat', 52.3906, 'lon', 13.0645),
       'lines', jsonb_build_array(jsonb_build_object('sku', 'TENT', 'qty', 2, 'unit_price', 10)))) ->> 'order_id')::bigint $$;
CREATE FUNCTION oid_of(ext text) RETURNS bigint LANGUAGE sql AS
$$ SELECT id FROM oms.orders WHERE external_id = ext $$;
-- authorize and capture an amount by card; the order's status after it
CREATE FUNCTION pay(ext text, amount numeric) RETURNS text LANGUAGE sql AS
$$ SELECT oms.capture_payment((oms.authorize_payment(oid_of(ext), jsonb_build_object('method', 'card',
       'amount', amount, 'token', 'tok_' || ext || '_' || amount)) ->> 'payment_id')::bigint) ->> 'order_status' $$;
-- where the order's units are held, and its status
CREATE FUNCTION held(ext text) RETURNS TABLE (status text, location text, reserved bigint) LANGUAGE sql AS
$$ SELECT o.status, l.code, sum(r.qty) FROM oms.orders o
     LEFT JOIN oms.reservations r ON r.order_id = o.id AND r.status = 'active'
     LEFT JOIN oms.locations l ON l.id = r.location_id
    WHERE o.external_id = ext GROUP BY o.status, l.code ORDER BY l.code $$;
-- ---------------------------------------------------------------------------
-- two custom statuses, only rows: no C change
-- ---------------------------------------------------------------------------
INSERT INTO oms.order_statuses (status, description, holds_stock, open, payable, cancellable, counts_as_sale, shippable) VALUES
    ('awaiting_pickup', 'Confirmed; the customer collects it, the store ships it to the counter', true, true, true, true, true, true);
INSERT INTO oms.order_statuses (status, description, holds_stock, open, payable, cancellable, counts_as_sale) VALUES
    ('awaiting_review', 'Confirmed; waits for a manual review before anything ships', true, true, true, true, true);
INSERT INTO oms.order_transitions (from_status, to_status) VALUES
    ('confirmed', 'awaiting_pickup'), ('awaiting_pickup', 'in_fulfillment'), ('awaiting_pickup', 'cancelled'),
    ('confirmed', 'awaiting_review'), ('awaiting_review', 'confirmed'), ('awaiting_review', 'cancelled');
SELECT status, holds_stock, open, fulfillment_driven, payable, cancellable, terminal, counts_as_sale, shippable, returnable
  FROM oms.order_statuses WHERE NOT seeded ORDER BY status;

-- ---------------------------------------------------------------------------
-- awaiting_pickup: paid in part, the rest authorized, moved there
-- ---------------------------------------------------------------------------
SELECT place('P-1') AS p1, pay('P-1', 15) AS after_part_payment;
-- confirming by hand is refused while the payments do not cover the total
-- (sql/coverage.sql)
SELECT oms.set_order_status(oid_of('P-1'), 'confirmed', 'rest paid at the counter') ->> 'status' AS confirmed;
SELECT oms.authorize_payment(oid_of('P-1'), '{"method": "check", "amount": 5}') ->> 'order_status' AS rest_authorized;
SELECT oms.set_order_status(oid_of('P-1'), 'awaiting_pickup', 'customer collects') ->> 'status' AS moved;
SELECT * FROM held('P-1');

-- payable: the rest is captured there; the order stays where it is (it is
-- already past payment: shippable)
SELECT oms.capture_payment((SELECT max(id) FROM oms.payments WHERE order_id = oid_of('P-1'))) ->> 'order_status' AS after_full_payment;
SELECT oms.authorize_payment(oid_of('P-1'), '{"method": "card", "amount": 1, "token": "tok_more"}');
SELECT :'LAST_ERROR_SQLSTATE' AS nothing_left_to_authorize;

-- holds stock, open, counts as a sale: the oracle is empty and the reports
-- count the order
SELECT * FROM oms.check();
SELECT channel, currency, orders, units, net, refunds FROM oms.report_sales_daily;
SELECT channel, orders_placed, orders_cancelled, orders_expired, orders, revenue FROM oms.report_channels;
SELECT status, amount_due, net_paid, balance_due, mismatch FROM oms.report_payment_reconciliation
 WHERE order_id = oid_of('P-1');
SELECT external_ref, orders, orders_cancelled, lifetime_value FROM oms.report_customers;

-- open: a location may reject it; the units are re-routed to HAM and the
-- order stays awaiting_pickup
SELECT r -> 'rejection' ->> 'released_units' AS released_at_ber, r ->> 'status' AS status
  FROM oms.reject_fulfillment(oid_of('P-1'), 'BER', 'no_capacity', 'counter staff off') AS r;
SELECT * FROM held('P-1');

-- shippable: a shipment is created there (the order goes in_fulfillment,
-- the transition the row allows) and ships
SELECT s ->> 'status' AS shipment, s ->> 'order_status' AS order_status, s -> 'lines' AS lines
  FROM oms.create_shipment(oid_of('P-1'), 'HAM') AS s;
SELECT s ->> 'status' AS shipment, s ->> 'order_status' AS order_status, s ->> 'rate' AS rate
  FROM oms.ship((SELECT id FROM oms.shipments WHERE order_id = oid_of('P-1')), 'dhl', 'standard', 'AP0001') AS s;
SELECT from_status, to_status, reason FROM oms.order_status_history WHERE order_id = oid_of('P-1') ORDER BY id;
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- awaiting_review: the same without shippable
-- ---------------------------------------------------------------------------
SELECT place('R-1') AS r1, pay('R-1', 20) AS after_payment;
SELECT oms.set_order_status(oid_of('R-1'), 'awaiting_review', 'large order') ->> 'status' AS moved;
-- no shipment, with the normal error (message, detail and hint: it is
-- paid, so the hint says to move it on) and SQLSTATE 55000
SELECT oms.create_shipment(oid_of('R-1'), 'BER');
SELECT :'LAST_ERROR_SQLSTATE' AS create_shipment_in_review;
-- still payable and open: a location may reject it, and the reports count it
SELECT r -> 'rejection' ->> 'released_units' AS released_at_ber, r ->> 'status' AS status
  FROM oms.reject_fulfillment(oid_of('R-1'), 'BER', 'no_capacity') AS r;
SELECT * FROM held('R-1');
SELECT channel, orders, net FROM oms.report_sales_daily;
-- after the review it ships the normal way
SELECT oms.set_order_status(oid_of('R-1'), 'confirmed', 'reviewed') ->> 'status' AS reviewed;
SELECT s ->> 'status' AS shipment, s ->> 'order_status' AS order_status
  FROM oms.create_shipment(oid_of('R-1'), 'HAM') AS s;
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- backorders wait by the status's row too: a receipt fills those of an
-- order in awaiting_review (it holds stock), and not those of a held order
-- until it is released
-- ---------------------------------------------------------------------------
SELECT sum(available) + 2 AS want FROM oms.stock_levels WHERE sku = 'TENT' \gset
SELECT oms.place_order(jsonb_build_object('channel', 'web', 'external_id', 'B-1', 'currency', 'EUR',
       'customer', jsonb_build_object('external_ref', 'ann'), 'policy', 'backorder',
       'lines', jsonb_build_array(jsonb_build_object('sku', 'TENT', 'qty', :want, 'unit_price', 10)))) ->> 'status' AS b1;
SELECT pay('B-1', 10 * :want) AS b1_paid;
SELECT oms.set_order_status(oid_of('B-1'), 'awaiting_review', 'large order') ->> 'status' AS b1_moved;
SELECT oms.place_order(jsonb_build_object('channel', 'web', 'external_id', 'B-2', 'currency', 'EUR',
       'customer', jsonb_build_object('external_ref', 'ann'), 'policy', 'backorder',
       'lines', jsonb_build_array(jsonb_build_object('sku', 'TENT', 'qty', 1, 'unit_price', 10)))) ->> 'status' AS b2;
SELECT oms.hold_order(oid_of('B-2'), 'address check') ->> 'status' AS b2_held;
CREATE FUNCTION waiting() RETURNS TABLE (external_id text, status text, backordered int) LANGUAGE sql AS
$$ SELECT o.external_id, o.status, l.qty_backordered FROM oms.orders o JOIN oms.order_lines l ON l.order_id = o.id
    WHERE o.external_id IN ('B-1', 'B-2') ORDER BY 1 $$;
SELECT * FROM waiting();
-- 5 tents arrive: B-1 takes the 2 it waits for, B-2 is on hold and waits on
SELECT jsonb_array_length(r -> 'backorders_filled') AS lines_filled FROM oms.receive_stock('TENT', 'BER', 5) AS r;
SELECT * FROM waiting();
-- released, B-2 takes the next receipt
SELECT oms.release_hold(oid_of('B-2')) ->> 'status' AS b2_released;
SELECT jsonb_array_length(r -> 'backorders_filled') AS lines_filled FROM oms.receive_stock('TENT', 'BER', 1) AS r;
SELECT * FROM waiting();
SELECT * FROM oms.check();

-- the helpers go: the next files define their own
DROP FUNCTION place(text), oid_of(text), pay(text, numeric), held(text), waiting();
