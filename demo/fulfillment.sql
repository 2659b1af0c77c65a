-- demo/fulfillment.sql: routing and fulfillment. Orders from several
-- channels are routed across the sample locations, each decision explained
-- (oms.explain_route) and stored (oms.routing_decisions); one order splits,
-- one is collected in a store, a store rejects an order it cannot fill and
-- the order re-routes; a store reaches its daily capacity; then a parcel is
-- quoted, shipped with a packing slip and a ZPL label, the customer told,
-- and delivered, and the split order ships as two parcels.
-- Run by demo/run after demo/lifecycle.sql, mostly as oms_app. Nothing here
-- is meant to fail, so any error stops the demo.
\set ON_ERROR_STOP 1
\pset footer off
\pset null '-'
SET search_path = public, oms;

\echo
\echo '== Routing is configured as data: each channel has a strategy, some a distance limit or a list of locations =='
SELECT c.code AS channel, c.routing_strategy AS strategy, c.max_distance_km,
       COALESCE((SELECT string_agg(l.code, ', ' ORDER BY l.priority) FROM oms.channel_locations cl
                   JOIN oms.locations l ON l.id = cl.location_id WHERE cl.channel_id = c.id), 'all') AS may_ship_from
  FROM oms.channels c ORDER BY c.id;
\echo '-- and each location its costs (est_cost of a parcel = km x cost_per_km + handling_cost), flags and daily capacity:'
SELECT code, kind, ships, pickup, priority, daily_capacity, handling_cost, cost_per_km
  FROM oms.locations ORDER BY priority, code;

SET ROLE oms_app;
\echo
\echo '== Stock arrives at the stores, the warehouses and the Lyon roaster =='
SELECT r -> 'balance' ->> 'location' AS location,
       string_agg(format('%s x %s', r ->> 'received', r -> 'balance' ->> 'sku'), ', ') AS received
  FROM (VALUES
    (oms.receive_stock('AERO-PRESS',   'ST-HAM',   6, 'transfer T-91')),
    (oms.receive_stock('BEAN-COL-250', 'ST-HAM',  10, 'transfer T-91')),
    (oms.receive_stock('SCALE-0.1G',   'ST-HAM',   4, 'transfer T-91')),
    (oms.receive_stock('AERO-PRESS',   'ST-MUC',   5, 'transfer T-92')),
    (oms.receive_stock('SCALE-0.1G',   'ST-MUC',   3, 'transfer T-92')),
    (oms.receive_stock('AERO-PRESS',   'WH-BER',  40, 'PO-2026-0430')),
    (oms.receive_stock('SCALE-0.1G',   'WH-BER',  30, 'PO-2026-0430')),
    (oms.receive_stock('MUG-TRAVEL',   'WH-BER',  50, 'PO-2026-0430')),
    (oms.receive_stock('AERO-PRESS',   'WH-RTM',  25, 'PO-2026-0431')),
    (oms.receive_stock('SCALE-0.1G',   'WH-RTM',  20, 'PO-2026-0431')),
    (oms.receive_stock('MUG-TRAVEL',   'WH-RTM',  30, 'PO-2026-0431')),
    (oms.receive_stock('AERO-PRESS',   'WH-MIL',  15, 'PO-2026-0432')),
    (oms.receive_stock('BEAN-ETH-250', 'WH-MIL',  40, 'PO-2026-0432')),
    (oms.receive_stock('BEAN-ETH-1K',  'DS-LYS', 100, 'roaster stock list'))) AS v(r)
 GROUP BY 1 ORDER BY 1;

-- the order documents of this part, kept in psql variables so that each is
-- explained first and then placed unchanged
\set web_ham '{"channel": "web", "external_id": "WEB-100301", "currency": "EUR", "customer": {"external_ref": "shop-10001", "email": "lena.fischer@example.de", "name": "Lena Fischer"}, "ship_to": {"name": "Lena Fischer", "line1": "Grosse Bergstrasse 160", "postal_code": "22767", "city": "Hamburg", "country": "Germany", "lat": 53.5511, "lon": 9.9350}, "lines": [{"sku": "AERO-PRESS", "qty": 1, "unit_price": 34.90, "tax": 5.57}, {"sku": "BEAN-COL-250", "qty": 2, "unit_price": 8.90, "tax": 2.84}]}'
\set app_vrn '{"channel": "app", "external_id": "APP-78004", "currency": "EUR", "customer": {"external_ref": "shop-10002", "email": "marco.rossi@example.it", "name": "Marco Rossi"}, "ship_to": {"name": "Marco Rossi", "line1": "Via Mazzini 12", "postal_code": "37121", "city": "Verona", "country": "Italy", "lat": 45.4384, "lon": 10.9916}, "lines": [{"sku": "AERO-PRESS", "qty": 1, "unit_price": 34.90}, {"sku": "BEAN-ETH-250", "qty": 2, "unit_price": 8.90}]}'
\set amz_fra '{"channel": "amazon-de", "external_id": "302-7781290-5512201", "currency": "EUR", "ship_to": {"name": "K. Wagner", "line1": "Berger Strasse 101", "postal_code": "60316", "city": "Frankfurt am Main", "country": "Germany", "lat": 50.1213, "lon": 8.6964}, "lines": [{"sku": "SCALE-0.1G", "qty": 1, "unit_price": 29.90}, {"sku": "MUG-TRAVEL", "qty": 2, "unit_price": 14.90}]}'
\set web_ham2 '{"channel": "web", "external_id": "WEB-100302", "currency": "EUR", "customer": {"email": "tom.becker@example.de", "name": "Tom Becker"}, "ship_to": {"name": "Tom Becker", "line1": "Eppendorfer Weg 90", "postal_code": "20259", "city": "Hamburg", "country": "Germany", "lat": 53.5729, "lon": 9.9637}, "lines": [{"sku": "SCALE-0.1G", "qty": 1, "unit_price": 29.90}]}'
\set web_ham3 '{"channel": "web", "external_id": "WEB-100303", "currency": "EUR", "ship_to": {"city": "Hamburg", "lat": 53.5503, "lon": 10.0006}, "lines": [{"sku": "SCALE-0.1G", "qty": 1, "unit_price": 29.90}]}'
\set web_split '{"channel": "web", "external_id": "WEB-100304", "currency": "EUR", "customer": {"external_ref": "shop-10003", "email": "sophie.martin@example.fr", "name": "Sophie Martin"}, "ship_to": {"name": "Sophie Martin", "line1": "Rue de Carouge 18", "postal_code": "1205", "city": "Geneve", "country": "Switzerland", "lat": 46.1950, "lon": 6.1432}, "lines": [{"sku": "ESP-MACH-SGL", "qty": 1, "unit_price": 499.00}, {"sku": "BEAN-ETH-1K", "qty": 2, "unit_price": 29.90}]}'
\set web_cc '{"channel": "web", "external_id": "WEB-100305", "currency": "EUR", "customer": {"email": "max.huber@example.de", "name": "Max Huber"}, "ship_to": {"pickup": "ST-MUC", "name": "Max Huber"}, "lines": [{"sku": "AERO-PRESS", "qty": 1, "unit_price": 34.90}, {"sku": "SCALE-0.1G", "qty": 1, "unit_price": 29.90}]}'

-- place an order and show where its units were reserved
\set place 'SELECT o ->> ''order_id'' AS order_id, o ->> ''status'' AS status, (SELECT string_agg(format(''%s x %s @ %s'', r ->> ''qty'', r ->> ''sku'', r ->> ''location''), '', '') FROM jsonb_path_query(o, ''$.lines[*].locations[*]'') AS r) AS reserved FROM oms.place_order'

\echo
\echo '== Web shop (cheapest) to Hamburg: oms.explain_route ranks every location before anything is reserved =='
\echo '-- the Hamburg store is 2 km away: its dearer handling (2.60) still beats 262 km from Berlin (3.20)'
SELECT rank, location, role, lines_in_full, distance_km, est_cost, reason FROM oms.explain_route(:'web_ham');
\echo '-- placing the order reserves what was explained:'
:place(:'web_ham') AS o;

\echo
\echo '== Mobile app (closest, at most 800 km) to Verona: Milan is closest; Rotterdam and Hamburg are too far =='
SELECT rank, location, role, lines_in_full, distance_km, est_cost, reason FROM oms.explain_route(:'app_vrn');
:place(:'app_vrn') AS o;

\echo
\echo '== Marketplace (balance, warehouses only) to Frankfurt: the warehouse left with the most stock ships; stores are excluded =='
SELECT rank, location, role, lines_in_full, distance_km, est_cost, available_after, reason FROM oms.explain_route(:'amz_fra');
:place(:'amz_fra') AS o;

\echo
\echo '== A split: the espresso machine is only in Milan, the 1 kg beans only at the Lyon roaster, so two parcels =='
SELECT rank, location, role, lines_in_full, distance_km, est_cost, reason FROM oms.explain_route(:'web_split');
:place(:'web_split') AS o;

\echo
\echo '== Click and collect in Munich (ship_to.pickup): only the pickup store is a candidate, at distance 0 =='
SELECT rank, location, role, lines_in_full, distance_km, est_cost, reason FROM oms.explain_route(:'web_cc');
:place(:'web_cc') AS o;

\echo
\echo '== Every decision is stored in oms.routing_decisions: the rule that decided, and how many locations each filter excluded =='
SELECT d.order_id, o.external_id, d.strategy, d.rule, d.locations, d.shipments, d.distance_km, d.est_cost, d.short_units AS short, d.filtered
  FROM oms.routing_decisions d JOIN oms.orders o ON o.id = d.order_id
 WHERE o.external_id IN ('WEB-100301', 'APP-78004', '302-7781290-5512201', 'WEB-100304', 'WEB-100305')
 ORDER BY d.id;
\echo '-- with the runners-up (at most 3), here those of the Hamburg order:'
SELECT r ->> 'location' AS location, r ->> 'lines_in_full' AS lines_in_full, r ->> 'distance_km' AS distance_km,
       r ->> 'est_cost' AS est_cost
  FROM oms.routing_decisions d JOIN oms.orders o ON o.id = d.order_id, jsonb_array_elements(d.runners_up) AS r
 WHERE o.external_id = 'WEB-100301';

\echo
\echo '== Lena pays for her Hamburg order by card: it is confirmed =='
SELECT p ->> 'status' AS payment, p ->> 'order_status' AS order_status
  FROM oms.orders o, oms.authorize_payment(o.id, jsonb_build_object('method', 'card', 'amount', o.total,
        'token', 'tok_7HkLm2', 'psp_reference', 'pi_3Ra1', 'brand', 'mastercard', 'last4', '5454', 'exp_month', 3, 'exp_year', 2029)) AS p
 WHERE o.external_id = 'WEB-100301';

\echo
\echo '== The Hamburg store cannot find the AeroPress: it rejects the order (inventory_mismatch) and oms re-routes it at once =='
SELECT r -> 'rejection' ->> 'released_units' AS released, r -> 'rejection' ->> 'written_off' AS written_off,
       r -> 'rejection' ->> 'backordered_units' AS backordered,
       (SELECT string_agg(format('%s x %s @ %s', x ->> 'qty', p.sku, l.code), ', ')
          FROM jsonb_array_elements(r -> 'rejection' -> 'rerouted') AS x
          JOIN oms.products p ON p.id = (x ->> 'product_id')::bigint
          JOIN oms.locations l ON l.id = (x ->> 'location_id')::integer) AS rerouted_to,
       r ->> 'status' AS order_status
  FROM oms.orders o, oms.reject_fulfillment(o.id, 'ST-HAM', 'inventory_mismatch', 'shelf empty, count was wrong') AS r
 WHERE o.external_id = 'WEB-100301';
\echo '-- the order''s reservations: released in Hamburg, active in Berlin'
SELECT ol.line_no, p.sku, l.code AS location, r.qty, r.status
  FROM oms.orders o JOIN oms.reservations r ON r.order_id = o.id JOIN oms.order_lines ol ON ol.id = r.order_line_id
  JOIN oms.products p ON p.id = r.product_id JOIN oms.locations l ON l.id = r.location_id
 WHERE o.external_id = 'WEB-100301' ORDER BY r.id;
\echo '-- a second decision (trigger reroute); the rejecting store is excluded by the filter not_rejected, now and later:'
SELECT d.id, d.trigger, d.rule, d.locations, d.distance_km, d.est_cost, d.filtered
  FROM oms.routing_decisions d JOIN oms.orders o ON o.id = d.order_id WHERE o.external_id = 'WEB-100301' ORDER BY d.id;
SELECT o.external_id, l.code AS location, f.reason, f.note, f.units
  FROM oms.fulfillment_rejections f JOIN oms.locations l ON l.id = f.location_id JOIN oms.orders o ON o.id = f.order_id;
RESET ROLE;
\echo '-- the ledger of the Hamburg store: reservation, release, and the write-off of the units that were not there'
SELECT m.id, p.sku, m.kind, m.on_hand_delta AS on_hand, m.reserved_delta AS reserved, m.reference
  FROM oms.stock_movements m JOIN oms.products p ON p.id = m.product_id JOIN oms.locations l ON l.id = m.location_id
 WHERE l.code = 'ST-HAM' AND m.kind <> 'receipt' ORDER BY m.id;
SELECT sku, location, on_hand, reserved, available FROM oms.stock_levels
 WHERE location = 'ST-HAM' AND sku IN ('AERO-PRESS', 'BEAN-COL-250') ORDER BY sku;

SET ROLE oms_app;
\echo
\echo '== Daily capacity: the Hamburg store packs 2 parcels a day. Lena''s order counted (it was routed there today), Tom''s takes the last slot ... =='
:place(:'web_ham2') AS o;
\echo '-- ... so a third Hamburg order would go to Berlin (explained only, not placed):'
SELECT rank, location, role, distance_km, est_cost, reason FROM oms.explain_route(:'web_ham3') WHERE rank <= 2 OR location = 'ST-HAM';
SELECT l.code AS location, l.daily_capacity, d.orders AS routed_today
  FROM oms.location_daily_load d JOIN oms.locations l ON l.id = d.location_id WHERE l.code = 'ST-HAM';

\echo
\echo '== Berlin picks and packs Lena''s order: oms.create_shipment takes what the order holds there =='
SELECT s ->> 'shipment_id' AS shipment_id, s ->> 'location' AS location, s ->> 'status' AS status,
       s ->> 'weight_kg' AS weight_kg, s ->> 'distance_km' AS distance_km,
       (SELECT string_agg(format('%s x %s', x ->> 'qty', x ->> 'sku'), ', ') FROM jsonb_array_elements(s -> 'lines') AS x) AS lines,
       s ->> 'order_status' AS order_status
  FROM oms.orders o, oms.create_shipment(o.id, 'WH-BER') AS s WHERE o.external_id = 'WEB-100301';
SELECT s.id AS shipment_id FROM oms.shipments s JOIN oms.orders o ON o.id = s.order_id
 WHERE o.external_id = 'WEB-100301' \gset

\echo
\echo '== Shipping quotes from the rate table: every option, then the cheapest, the fastest, and the cheapest there in 2 days =='
SELECT carrier, service, transit_days, distance_km, weight_kg, price, currency FROM oms.quote_shipping(shipment_id => :shipment_id);
SELECT 'cheapest' AS choice, carrier, service, transit_days, price FROM oms.quote_shipping(shipment_id => :shipment_id, choose => 'cheapest')
UNION ALL
SELECT 'fastest', carrier, service, transit_days, price FROM oms.quote_shipping(shipment_id => :shipment_id, choose => 'fastest')
UNION ALL
SELECT 'cheapest in 2 days', carrier, service, transit_days, price
  FROM oms.quote_shipping(shipment_id => :shipment_id, choose => 'cheapest_by', deliver_by => current_date + 2);

\echo
\echo '== Lena wants it within 2 days: shipped with DHL Paket. The reservations are consumed and the units leave on_hand =='
SELECT s ->> 'status' AS status, s ->> 'carrier' AS carrier, s ->> 'service' AS service, s ->> 'tracking_number' AS tracking_number,
       s ->> 'rate' AS rate, s ->> 'order_status' AS order_status
  FROM oms.ship(:shipment_id, 'dhl', 'paket', '00340434161094042557') AS s;
RESET ROLE;
SELECT m.id, p.sku, l.code AS location, m.kind, m.on_hand_delta AS on_hand, m.reserved_delta AS reserved, m.reference
  FROM oms.stock_movements m JOIN oms.products p ON p.id = m.product_id JOIN oms.locations l ON l.id = m.location_id
 WHERE m.kind = 'shipment' ORDER BY m.id;

\pset format unaligned
\pset tuples_only on
\echo
\echo '== The packing slip (oms.packing_slip) =='
SELECT oms.packing_slip(:shipment_id);
\echo
\echo '== The shipping label, ZPL for a 4x6 in thermal printer (oms.shipping_label) =='
SELECT oms.shipping_label(:shipment_id);
\echo
\echo '== The customer message for the shipment_shipped event (oms.render_notification) =='
SELECT format(E'To: %s\nSubject: %s\n\n%s', n.recipient, n.subject, n.body)
  FROM oms.events e, oms.render_notification(e.id) AS n
 WHERE e.kind = 'shipment_shipped' AND e.payload ->> 'tracking_number' = '00340434161094042557';
\pset tuples_only off
\pset format aligned

SET ROLE oms_app;
\echo
\echo '== The carrier reports delivery: the shipment and the order are delivered =='
SELECT s ->> 'status' AS shipment, s ->> 'order_status' AS order_status FROM oms.deliver(:shipment_id) AS s;
SELECT h.from_status, h.to_status, h.reason FROM oms.orders o, oms.order_history(o.id) AS h WHERE o.external_id = 'WEB-100301';

\echo
\echo '== The split order ships as two parcels: quoted per location, the order is partially_shipped after the first =='
SELECT p ->> 'status' AS payment, p ->> 'order_status' AS order_status
  FROM oms.orders o, oms.authorize_payment(o.id, jsonb_build_object('method', 'card', 'amount', o.total, 'token', 'tok_2PwQz8')) AS p
 WHERE o.external_id = 'WEB-100304';
SELECT q.location, q.carrier, q.service, q.distance_km, q.weight_kg, q.price
  FROM oms.orders o, oms.quote_shipping(order_id => o.id, choose => 'cheapest') AS q WHERE o.external_id = 'WEB-100304';
\echo '-- a shipment at each location, each shipped with its cheapest option:'
SELECT (oms.create_shipment(o.id, 'WH-MIL') ->> 'shipment_id') AS mil_shipment,
       (oms.create_shipment(o.id, 'DS-LYS') ->> 'shipment_id') AS lys_shipment
  FROM oms.orders o WHERE o.external_id = 'WEB-100304' \gset
SELECT s ->> 'shipment_id' AS shipment_id, s ->> 'location' AS location, s ->> 'carrier' AS carrier, s ->> 'service' AS service,
       s ->> 'tracking_number' AS tracking_number, s ->> 'rate' AS rate, s ->> 'order_status' AS order_status
  FROM oms.quote_shipping(shipment_id => :mil_shipment, choose => 'cheapest') AS q,
       oms.ship(:mil_shipment, q.carrier, q.service, '05213371000011') AS s;
SELECT s ->> 'shipment_id' AS shipment_id, s ->> 'location' AS location, s ->> 'carrier' AS carrier, s ->> 'service' AS service,
       s ->> 'tracking_number' AS tracking_number, s ->> 'rate' AS rate, s ->> 'order_status' AS order_status
  FROM oms.quote_shipping(shipment_id => :lys_shipment, choose => 'cheapest') AS q,
       oms.ship(:lys_shipment, q.carrier, q.service, '05213371000012') AS s;
RESET ROLE;

\echo
\echo '== oms.check(): every invariant holds (no rows) =='
SELECT * FROM oms.check();
