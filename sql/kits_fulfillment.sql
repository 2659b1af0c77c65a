--
-- kits_fulfillment: regressions of fixed behaviour around kits, rejections,
-- holds and ship_to (src/route_*.c, src/order_*.c, src/fulfillment*.c,
-- src/inventory.c):
--   1. a kit stays whole at one location: routing keeps a kit's products
--      together, distribution forms whole kits per location, and
--      oms.available(kit) counts whole kits per location
--   2. rejecting a kit line cancels a pending shipment of that line at
--      another location too
--   3. a receipt at a location that rejected an order never fills that
--      order's backorder there
--   4. an order in fulfillment can be held and released
--   5. ship_to coordinates with long decimals are not taken for card numbers
-- Every error is shown in full, its SQLSTATE is locked in, and it changes
-- nothing.
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
-- fixture shared by every block: routing by priority (A, then B, then C),
-- one carrier service with an any-distance rate; each block has products
-- of its own
-- ---------------------------------------------------------------------------
INSERT INTO oms.channels (code, name, kind, routing_strategy) VALUES ('web', 'Web', 'web', 'priority');
INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority, address) VALUES
    ('A', 'Warehouse A', 'warehouse', 52.5200, 13.4050, 10, E'Lagerstrasse 1\n10115 Berlin\nDE'),
    ('B', 'Warehouse B', 'warehouse', 53.5511,  9.9937, 20, E'Hafenweg 7\n20457 Hamburg\nDE'),
    ('C', 'Store C',     'store',     48.1351, 11.5820, 30, E'Marienplatz 8\n80331 Muenchen\nDE');
INSERT INTO oms.carriers (code, name, tracking_url, active) VALUES
    ('dhl', 'DHL', 'https://www.dhl.de/track?piececode={{tracking_number}}', true);
INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days, active)
SELECT id, 'std', 'Paket', 2, true FROM oms.carriers WHERE code = 'dhl';
INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
SELECT id, 'EUR', NULL, NULL, 5.99 FROM oms.carrier_services WHERE code = 'std';

-- define products: [[sku, kind], ...]; kits: [[kit, component, qty], ...]
CREATE FUNCTION products(list jsonb, kits jsonb DEFAULT '[]') RETURNS int LANGUAGE sql AS
$$ INSERT INTO oms.products (sku, name, kind, weight_kg)
   SELECT p ->> 0, 'Product ' || (p ->> 0), p ->> 1, CASE WHEN p ->> 1 = 'stock' THEN 0.5 ELSE 0 END
     FROM jsonb_array_elements(list) p;
   INSERT INTO oms.kit_components SELECT k.id, c.id, (v ->> 2)::int FROM jsonb_array_elements(kits) v
     JOIN oms.products c ON c.sku = v ->> 1 JOIN oms.products k ON k.sku = v ->> 0;
   SELECT jsonb_array_length(list) $$;
-- receive stock: [[sku, location, qty], ...]; returns what the receipts filled
CREATE FUNCTION receive(list jsonb) RETURNS jsonb LANGUAGE sql AS
$$ SELECT jsonb_agg(oms.receive_stock(v ->> 0, v ->> 1, (v ->> 2)::int) -> 'backorders_filled' ORDER BY n)
     FROM jsonb_array_elements(list) WITH ORDINALITY AS t(v, n) $$;
-- place an order; lines is [[sku, qty], ...] at 10 EUR a unit; extra keys are merged
CREATE FUNCTION place(ext text, lines jsonb, extra jsonb DEFAULT '{}') RETURNS bigint LANGUAGE sql AS
$$ SELECT (oms.place_order(jsonb_build_object('channel', 'web', 'external_id', ext, 'currency', 'EUR',
       'ship_to', jsonb_build_object('name', 'Ann Example', 'line1', 'Am Kanal 5', 'postal_code', '14467',
                                     'city', 'Potsdam', 'country', 'DE'),
       'lines', (SELECT jsonb_agg(jsonb_build_object('sku', l ->> 0, 'qty', (l ->> 1)::int, 'unit_price', 10))
                   FROM jsonb_array_elements(lines) l)) || extra) ->> 'order_id')::bigint $$;
CREATE FUNCTION oid_of(ext text) RETURNS bigint LANGUAGE sql AS
$$ SELECT id FROM oms.orders WHERE external_id = ext $$;
-- pay an order in full in cash: the authorization confirms it
CREATE FUNCTION confirm(ext text) RETURNS text LANGUAGE sql AS
$$ SELECT oms.authorize_payment(oid_of(ext), jsonb_build_object('method', 'cash',
       'amount', (SELECT total FROM oms.orders WHERE external_id = ext))) ->> 'order_status' $$;
-- the n-th shipment of an order
CREATE FUNCTION sh(ext text, n int DEFAULT 1) RETURNS bigint LANGUAGE sql AS
$$ SELECT s.id FROM oms.shipments s JOIN oms.orders o ON o.id = s.order_id WHERE o.external_id = ext ORDER BY s.id OFFSET n - 1 LIMIT 1 $$;
-- an order as oms.get_order shows it: status, and where each line's units are held
CREATE FUNCTION locs(ext text) RETURNS TABLE (status text, line_no int, sku text, qty int, reserved int, backordered int, shipped int, cancelled int, held_at text)
LANGUAGE sql AS
$$ SELECT j ->> 'status', (l ->> 'line_no')::int, l ->> 'sku', (l ->> 'qty')::int, (l ->> 'reserved')::int,
          (l ->> 'backordered')::int, (l ->> 'shipped')::int, (l ->> 'cancelled')::int,
          (SELECT string_agg(format('%s %s x%s', x ->> 'location', x ->> 'sku', x ->> 'qty'), ', ')
             FROM jsonb_array_elements(l -> 'locations') x)
     FROM oms.get_order(oid_of(ext)) j, jsonb_array_elements(j -> 'lines') l $$;
-- the kits an order's kit lines hold, per location, from the active
-- reservations: whole is true when the components there make exactly
-- that many kits (every component, nothing left over)
CREATE FUNCTION kits_of(ext text) RETURNS TABLE (line_no int, kit text, location text, components text, kits int, whole boolean)
LANGUAGE sql AS
$$ WITH held AS (
       SELECT r.order_line_id, r.location_id, r.product_id, sum(r.qty)::int AS qty FROM oms.reservations r
        WHERE r.order_id = oid_of(ext) AND r.status = 'active' GROUP BY 1, 2, 3),
   at AS (SELECT DISTINCT order_line_id, location_id FROM held)
   SELECT ol.line_no, k.sku, l.code,
          string_agg(format('%s x%s', c.sku, COALESCE(h.qty, 0)), ', ' ORDER BY c.sku),
          min(COALESCE(h.qty, 0) / kc.qty),
          min(COALESCE(h.qty, 0) / kc.qty) = max(COALESCE(h.qty, 0) / kc.qty) AND bool_and(COALESCE(h.qty, 0) % kc.qty = 0)
     FROM at JOIN oms.order_lines ol ON ol.id = at.order_line_id
     JOIN oms.products k ON k.id = ol.product_id AND k.kind = 'kit'
     JOIN oms.locations l ON l.id = at.location_id
     JOIN oms.kit_components kc ON kc.kit_id = k.id JOIN oms.products c ON c.id = kc.component_id
     LEFT JOIN held h ON h.order_line_id = at.order_line_id AND h.location_id = at.location_id AND h.product_id = kc.component_id
    GROUP BY ol.line_no, k.sku, l.code, l.id ORDER BY ol.line_no, l.id $$;
-- stock of some products at every location
CREATE FUNCTION stock(skus text[]) RETURNS TABLE (location text, sku text, on_hand int, reserved int) LANGUAGE sql AS
$$ SELECT l.code, p.sku, b.on_hand, b.reserved FROM oms.stock_balances b JOIN oms.products p ON p.id = b.product_id
     JOIN oms.locations l ON l.id = b.location_id WHERE p.sku = ANY (skus) ORDER BY l.id, p.sku $$;
-- an order's shipments
CREATE FUNCTION ships_of(ext text) RETURNS TABLE (n bigint, location text, status text, cancel_reason text, lines text)
LANGUAGE sql AS
$$ SELECT row_number() OVER (ORDER BY s.id), l.code, s.status, s.cancel_reason,
          (SELECT string_agg(format('%s x%s', p.sku, sl.qty), ', ' ORDER BY ol.line_no)
             FROM oms.shipment_lines sl JOIN oms.order_lines ol ON ol.id = sl.order_line_id
             JOIN oms.products p ON p.id = ol.product_id WHERE sl.shipment_id = s.id)
     FROM oms.shipments s JOIN oms.locations l ON l.id = s.location_id JOIN oms.orders o ON o.id = s.order_id
    WHERE o.external_id = ext ORDER BY s.id $$;
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
-- everything a bad call could change
CREATE VIEW counts AS
SELECT (SELECT count(*) FROM oms.orders) AS orders,
       (SELECT count(*) FROM oms.order_lines) AS lines,
       (SELECT count(*) FROM oms.reservations) AS reservations,
       (SELECT count(*) FROM oms.stock_movements) AS movements,
       (SELECT sum(on_hand) || '/' || sum(reserved) FROM oms.stock_balances) AS "on_hand/reserved",
       (SELECT count(*) FROM oms.shipments) AS shipments,
       (SELECT count(*) FROM oms.events) AS events,
       (SELECT count(*) FROM oms.order_status_history) AS history,
       (SELECT count(*) FROM oms.fulfillment_rejections) AS rejections,
       (SELECT count(*) FROM oms.routing_decisions) AS decisions;

-- ---------------------------------------------------------------------------
-- 1a. a kit whose components are never together: DUO is 1 CUP and 2
-- PLATEs; the cups are all at A, the plates all at B
-- ---------------------------------------------------------------------------
SELECT products('[["CUP", "stock"], ["PLATE", "stock"], ["DUO", "kit"]]', '[["DUO", "CUP", 1], ["DUO", "PLATE", 2]]') AS products;
SELECT receive('[["CUP", "A", 5], ["PLATE", "B", 6]]') AS filled;
-- no whole kit anywhere, although there are enough components in total
SELECT oms.available('DUO') AS duo, oms.available('DUO', 'A') AS duo_at_a, oms.available('DUO', 'B') AS duo_at_b,
       oms.available('CUP') AS cups, oms.available('PLATE') AS plates;
-- all_or_nothing names the kit; partial has nothing to give; each raises
-- and writes nothing
SELECT * FROM counts;
SELECT place('K-1', '[["DUO", 1]]') AS k1;
SELECT place('K-2', '[["DUO", 1]]', '{"policy": "partial"}') AS k2;
-- with split forbidden, the products are short at any single location
SELECT place('K-1', '[["DUO", 1]]', '{"split": "forbid"}') AS k1;
-- more kits than there are components in total: the usual shortage message
SELECT place('K-1', '[["DUO", 4]]') AS k1;
SELECT label, try(stmt) AS sqlstate_and_message FROM (VALUES
    ('all_or_nothing, kit apart',     $$SELECT place('K-1', '[["DUO", 1]]')$$),
    ('all_or_nothing, split forbidden', $$SELECT place('K-1', '[["DUO", 1]]', '{"split": "forbid"}')$$),
    ('partial, kit apart',            $$SELECT place('K-2', '[["DUO", 1]]', '{"policy": "partial"}')$$),
    ('all_or_nothing, too few plates', $$SELECT place('K-1', '[["DUO", 4]]')$$)) AS t(label, stmt);
SELECT * FROM counts;
SELECT count(*) AS k1_or_k2_written FROM oms.orders WHERE external_id IN ('K-1', 'K-2');
-- backorder keeps both kits waiting and reserves no component
SELECT place('K-3', '[["DUO", 2]]', '{"policy": "backorder"}') AS k3;
SELECT * FROM locs('K-3');
SELECT * FROM stock('{CUP,PLATE}');
-- a receipt fills the backorder with whole kits where it lands: a cup at B
-- makes one kit there, two plates at A one kit there
SELECT receive('[["CUP", "B", 1], ["PLATE", "A", 2]]') AS filled;
SELECT * FROM locs('K-3');
SELECT * FROM kits_of('K-3');

-- ---------------------------------------------------------------------------
-- 1b. components at A and B, neither has every kit: whole kits from each
-- ---------------------------------------------------------------------------
-- A: 4 cups and 4 plates (2 kits), B: 2 cups and 4 plates (2 kits)
SELECT receive('[["PLATE", "A", 4], ["CUP", "B", 2]]') AS filled;
SELECT * FROM stock('{CUP,PLATE}');
SELECT oms.available('DUO') AS duo, oms.available('DUO', 'A') AS duo_at_a, oms.available('DUO', 'B') AS duo_at_b,
       oms.available('DUO', 'C') AS duo_at_c;
-- partial, 3 kits: 2 at A (first by priority) and 1 at B
SELECT place('K-4', '[["DUO", 3]]', '{"policy": "partial"}') AS k4;
SELECT * FROM locs('K-4');
SELECT * FROM kits_of('K-4');
SELECT oms.available('DUO', 'A') AS duo_at_a, oms.available('DUO', 'B') AS duo_at_b;
-- backorder, 3 kits: the one kit left (at B), 2 wait
SELECT place('K-5', '[["DUO", 3]]', '{"policy": "backorder"}') AS k5;
SELECT * FROM locs('K-5');
SELECT * FROM kits_of('K-5');
-- 2 cups are left at A, no plate: two plates there make one more kit
SELECT receive('[["PLATE", "A", 2]]') AS filled;
SELECT * FROM kits_of('K-5');
-- B has no cup left: two plates there make no kit; a cup then makes the
-- last one
SELECT receive('[["PLATE", "B", 2], ["CUP", "B", 1]]') AS filled;
SELECT * FROM locs('K-5');
SELECT * FROM kits_of('K-5');
-- all_or_nothing, 2 kits, each location has 1: 1 at A and 1 at B
SELECT receive('[["PLATE", "A", 2], ["CUP", "B", 1], ["PLATE", "B", 2]]') AS filled;
SELECT oms.available('DUO') AS duo, oms.available('DUO', 'A') AS duo_at_a, oms.available('DUO', 'B') AS duo_at_b;
SELECT place('K-6', '[["DUO", 2]]') AS k6;
SELECT * FROM kits_of('K-6');
SELECT oms.available('DUO') AS duo;
-- K-4 ships from A and from B: each parcel has whole kits
SELECT confirm('K-4') AS k4_status;
SELECT oms.create_shipment(oid_of('K-4'), 'A') ->> 'order_status' AS created_at_a;
SELECT oms.create_shipment(oid_of('K-4'), 'B') ->> 'order_status' AS created_at_b;
SELECT * FROM ships_of('K-4');
SELECT oms.ship(sh('K-4', 1), 'dhl', 'std', 'K4A') ->> 'order_status' AS after_a;
SELECT oms.ship(sh('K-4', 2), 'dhl', 'std', 'K4B') ->> 'order_status' AS after_b;
SELECT * FROM ships_of('K-4');
SELECT * FROM locs('K-4');
SELECT * FROM kits_of('K-4');
SELECT * FROM stock('{CUP,PLATE}');
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- 1c. shared products: a kit and a stock line of one of its components,
-- and two kits with a common component
-- ---------------------------------------------------------------------------
-- SOUP is a BOWL and a SPOON, SALAD a BOWL and 2 FORKs
SELECT products('[["BOWL", "stock"], ["SPOON", "stock"], ["FORK", "stock"], ["SOUP", "kit"], ["SALAD", "kit"]]',
    '[["SOUP", "BOWL", 1], ["SOUP", "SPOON", 1], ["SALAD", "BOWL", 1], ["SALAD", "FORK", 2]]') AS products;
SELECT receive('[["BOWL", "A", 3], ["SPOON", "A", 2], ["BOWL", "B", 5], ["SPOON", "B", 5], ["FORK", "B", 4],
                 ["BOWL", "C", 4], ["FORK", "C", 2]]') AS filled;
SELECT oms.available('SOUP') AS soup, oms.available('SALAD') AS salad;
-- 2 soups and a bowl: 3 bowls and 2 spoons, all at A
SELECT place('K-7', '[["SOUP", 2], ["BOWL", 1]]') AS k7;
SELECT * FROM locs('K-7');
SELECT * FROM kits_of('K-7');
-- a soup and a salad: 2 bowls, a spoon, 2 forks: only B has them all
SELECT place('K-8', '[["SOUP", 1], ["SALAD", 1]]') AS k8;
SELECT * FROM locs('K-8');
SELECT * FROM kits_of('K-8');
-- 3 soups and 3 bowls (partial): no location has 6 bowls and 3 spoons;
-- the soups are whole at B, the bowl line is served from C
SELECT * FROM stock('{BOWL,SPOON,FORK}');
SELECT place('K-9', '[["SOUP", 3], ["BOWL", 3]]', '{"policy": "partial"}') AS k9;
SELECT * FROM locs('K-9');
SELECT * FROM kits_of('K-9');
-- 2 salads and a soup (backorder): one salad can be made (at C), the
-- rest waits; the forks and the spoon at B make no kit and stay free
SELECT place('K-10', '[["SALAD", 2], ["SOUP", 1]]', '{"policy": "backorder"}') AS k10;
SELECT * FROM locs('K-10');
SELECT * FROM kits_of('K-10');
SELECT * FROM stock('{BOWL,SPOON,FORK}');
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- 2. reject_fulfillment of a kit line cancels the line's pending shipment
-- at another location: PAIR is a MUG and a SAUCER; one kit at B, one at C
-- ---------------------------------------------------------------------------
SELECT products('[["MUG", "stock"], ["SAUCER", "stock"], ["PAIR", "kit"]]', '[["PAIR", "MUG", 1], ["PAIR", "SAUCER", 1]]') AS products;
SELECT receive('[["MUG", "B", 1], ["SAUCER", "B", 1], ["MUG", "C", 1], ["SAUCER", "C", 1]]') AS filled;
SELECT place('P-1', '[["PAIR", 2]]') AS p1;
SELECT * FROM kits_of('P-1');
SELECT confirm('P-1') AS p1_status;
-- A gets the stock for both kits later; the C kit goes into a shipment
SELECT receive('[["MUG", "A", 2], ["SAUCER", "A", 2]]') AS filled;
SELECT oms.create_shipment(oid_of('P-1'), 'C') ->> 'order_status' AS p1_status;
SELECT * FROM ships_of('P-1');
-- B rejects: the kit line gives up both kits (B and C) and both are routed
-- to A; the pending shipment at C is cancelled with them
SELECT * FROM counts;
SELECT r -> 'rejection' AS rejection, r ->> 'status' AS status
  FROM oms.reject_fulfillment(oid_of('P-1'), 'B', 'damaged') AS r;
SELECT * FROM counts;
SELECT * FROM locs('P-1');
SELECT * FROM kits_of('P-1');
SELECT * FROM ships_of('P-1');
SELECT kind, payload FROM oms.events WHERE order_id = oid_of('P-1') ORDER BY id;
SELECT d.trigger, d.locations, d.short_units FROM oms.routing_decisions d WHERE d.order_id = oid_of('P-1') ORDER BY d.id;
SELECT from_status, to_status, reason FROM oms.order_history(oid_of('P-1'));
-- damaged: B's units stay on hand; C's are free again
SELECT * FROM stock('{MUG,SAUCER}');
SELECT * FROM oms.check();
-- the new shipment at A has both kits and ships
SELECT oms.create_shipment(oid_of('P-1'), 'A') ->> 'order_status' AS p1_status;
SELECT oms.ship(sh('P-1', 2), 'dhl', 'std', 'P1A') ->> 'order_status' AS p1_status;
SELECT * FROM ships_of('P-1');
SELECT * FROM locs('P-1');

-- ---------------------------------------------------------------------------
-- 3. a receipt at a location that rejected an order does not fill that
-- order's backorder there
-- ---------------------------------------------------------------------------
SELECT products('[["VASE", "stock"]]') AS products;
SELECT receive('[["VASE", "A", 4]]') AS filled;
-- V-1 unpaid, V-2 confirmed; 2 vases each, both at A
SELECT place('V-1', '[["VASE", 2]]') AS v1, place('V-2', '[["VASE", 2]]') AS v2;
SELECT confirm('V-2') AS v2_status;
-- A rejects both; no other location has vases: the units are backordered
SELECT r -> 'rejection' AS rejection, r ->> 'status' AS status
  FROM oms.reject_fulfillment(oid_of('V-1'), 'A', 'damaged') AS r;
SELECT r -> 'rejection' AS rejection, r ->> 'status' AS status
  FROM oms.reject_fulfillment(oid_of('V-2'), 'A', 'damaged') AS r;
SELECT * FROM locs('V-1');
SELECT * FROM locs('V-2');
-- a receipt at A fills neither; the orders still wait
SELECT oms.receive_stock('VASE', 'A', 5) -> 'backorders_filled' AS filled_at_a;
SELECT * FROM locs('V-1');
SELECT * FROM locs('V-2');
SELECT * FROM stock('{VASE}');
-- a receipt at B fills both there, the oldest first
SELECT oms.receive_stock('VASE', 'B', 4) -> 'backorders_filled' AS filled_at_b;
SELECT * FROM locs('V-1');
SELECT * FROM locs('V-2');
SELECT * FROM stock('{VASE}');
-- another order is still routed to A
SELECT place('V-3', '[["VASE", 1]]') AS v3;
SELECT * FROM locs('V-3');
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- 4. an order in fulfillment can be held; it does not ship while held
-- ---------------------------------------------------------------------------
SELECT products('[["LAMP", "stock"]]') AS products;
SELECT receive('[["LAMP", "A", 3]]') AS filled;
SELECT place('H-1', '[["LAMP", 1]]') AS h1;
SELECT confirm('H-1') AS h1_status;
SELECT oms.create_shipment(oid_of('H-1'), 'A') ->> 'order_status' AS h1_status;
SELECT oms.hold_order(oid_of('H-1'), 'address check') ->> 'status' AS held;
SELECT status, held_from FROM oms.orders WHERE external_id = 'H-1';
-- while held: no shipping, no new shipment; each raises, nothing changes
SELECT * FROM counts;
SELECT oms.ship(sh('H-1'), 'dhl', 'std', 'H1A');
SELECT oms.create_shipment(oid_of('H-1'), 'A');
SELECT label, try(stmt) AS sqlstate_and_message FROM (VALUES
    ('ship while held',            $$SELECT oms.ship(sh('H-1'), 'dhl', 'std', 'H1A')$$),
    ('create_shipment while held', $$SELECT oms.create_shipment(oid_of('H-1'), 'A')$$)) AS t(label, stmt);
SELECT * FROM counts;
SELECT * FROM ships_of('H-1');
-- released: back in fulfillment, and the shipment ships
SELECT oms.release_hold(oid_of('H-1')) ->> 'status' AS released;
SELECT oms.ship(sh('H-1'), 'dhl', 'std', 'H1A') ->> 'order_status' AS h1_status;
SELECT * FROM ships_of('H-1');
SELECT from_status, to_status, reason FROM oms.order_history(oid_of('H-1'));

-- ---------------------------------------------------------------------------
-- 5. ship_to: coordinates with long decimals are numbers, not card
-- numbers; a card number in a ship_to string is refused
-- ---------------------------------------------------------------------------
CREATE FUNCTION lamp_order(ext text, ship_to jsonb) RETURNS jsonb LANGUAGE sql AS
$$ SELECT jsonb_build_object('channel', 'web', 'external_id', ext, 'currency', 'EUR', 'ship_to', ship_to,
       'lines', jsonb_build_array(jsonb_build_object('sku', 'LAMP', 'qty', 1, 'unit_price', 10))) $$;
SELECT oms.place_order(lamp_order('G-1', '{"name": "Ann Example", "line1": "Flughofstrasse 1", "city": "Kloten",
    "country": "CH", "lat": 47.43247700878404, "lon": 8.572915700000001}')) -> 'lines' -> 0 -> 'locations' AS g1;
SELECT ship_lat, ship_lon, ship_to ->> 'lat' AS lat_in_doc FROM oms.orders WHERE external_id = 'G-1';
SELECT location, role, distance_km FROM oms.explain_route(lamp_order('G-2', '{"lat": 47.43247700878404, "lon": 8.572915700000001}'))
 ORDER BY rank;
-- the digits of that latitude pass the Luhn check: scanning the whole
-- document text, as before the fix, refused this address
SELECT oms.contains_card_number('{"lat": 47.43247700878404, "lon": 8.572915700000001}'::jsonb::text) AS document_text_looks_like_a_card;
-- two hundred coordinates with 14 to 15 decimals, of which 31 look like
-- card numbers as document text: none is refused
SELECT count(*) AS coordinates, count(*) FILTER (WHERE oms.contains_card_number(ship_to::text)) AS text_looks_like_a_card,
       count(*) FILTER (WHERE r <> 'ok') AS refused FROM (
    SELECT ship_to, try(format('SELECT count(*) FROM oms.explain_route(lamp_order(%L, %L))', 'G-' || i, ship_to)) AS r
      FROM generate_series(1, 200) i,
           jsonb_build_object('lat', (40 + i * 0.04321987654321987)::float8, 'lon', (5 + i * 0.0318273645546372)::float8) AS ship_to) t;
SELECT receive('[["LAMP", "A", 30]]') AS filled;
SELECT count(*) AS orders, count(*) FILTER (WHERE oms.contains_card_number(ship_to::text)) AS text_looks_like_a_card,
       count(*) FILTER (WHERE r <> 'ok') AS refused FROM (
    SELECT ship_to, try(format('SELECT oms.place_order(lamp_order(%L, %L))', 'G-P' || i, ship_to)) AS r
      FROM generate_series(1, 30) i,
           jsonb_build_object('lat', (40 + i * 0.04321987654321987)::float8, 'lon', (5 + i * 0.0318273645546372)::float8) AS ship_to) t;
SELECT count(*) AS placed, count(*) FILTER (WHERE ship_lat::text ~ '\.\d{10}') AS long_decimals FROM oms.orders WHERE external_id LIKE 'G-P%';
-- a card number in a string of ship_to: refused by place_order and
-- explain_route, nothing written
SELECT * FROM counts;
SELECT oms.place_order(lamp_order('G-3', '{"name": "Ann Example", "line1": "Am Kanal 5", "line2": "4111 1111 1111 1111",
    "city": "Potsdam", "country": "DE", "lat": 52.3906, "lon": 13.0645}'));
SELECT * FROM oms.explain_route(lamp_order('G-3', '{"line2": "4111 1111 1111 1111"}'));
SELECT label, try(stmt) AS sqlstate_and_message FROM (VALUES
    ('place_order, card in line2',   $$SELECT oms.place_order(lamp_order('G-3', '{"line2": "4111 1111 1111 1111"}'))$$),
    ('place_order, card in name',    $$SELECT oms.place_order(lamp_order('G-3', '{"name": "4111111111111111", "lat": 47.43247700878404, "lon": 8.572915700000001}'))$$),
    ('explain_route, card in line2', $$SELECT count(*) FROM oms.explain_route(lamp_order('G-3', '{"line2": "4111 1111 1111 1111"}'))$$),
    ('explain_route, card in a key', $$SELECT count(*) FROM oms.explain_route(lamp_order('G-3', '{"4111 1111 1111 1111": "x"}'))$$)) AS t(label, stmt);
SELECT * FROM counts;

-- ---------------------------------------------------------------------------
-- the books balance
-- ---------------------------------------------------------------------------
-- ---------------------------------------------------------------------------
-- a kit that shares a product with another line, or with another kit: each
-- kit line is routed as its own group over the shared stock, so a plan that
-- keeps every kit whole is found (A has plenty of cups and bowls, B the
-- last cup with the plates, and the last bowl with the forks)
-- ---------------------------------------------------------------------------
SELECT products('[["SH-CUP", "stock"], ["SH-PLATE", "stock"], ["SH-DUO", "kit"],
                  ["SH-BOWL", "stock"], ["SH-SPOON", "stock"], ["SH-FORK", "stock"], ["SH-SOUP", "kit"], ["SH-SALAD", "kit"]]',
                '[["SH-DUO", "SH-CUP", 1], ["SH-DUO", "SH-PLATE", 2], ["SH-SOUP", "SH-BOWL", 1], ["SH-SOUP", "SH-SPOON", 1],
                  ["SH-SALAD", "SH-BOWL", 1], ["SH-SALAD", "SH-FORK", 2]]') AS products;
SELECT receive('[["SH-CUP", "A", 5], ["SH-CUP", "B", 1], ["SH-PLATE", "B", 2], ["SH-BOWL", "A", 5], ["SH-SPOON", "A", 1],
                 ["SH-BOWL", "B", 1], ["SH-FORK", "B", 2]]') AS filled;
SELECT oms.available('SH-DUO') AS duo, oms.available('SH-SOUP') AS soup, oms.available('SH-SALAD') AS salad;
-- the kit takes B's cup with the plates; the cup line takes one of A's
SELECT place('SH-1', '[["SH-DUO", 1], ["SH-CUP", 1]]') IS NOT NULL AS placed;
SELECT * FROM locs('SH-1');
SELECT * FROM kits_of('SH-1');
-- the soup from A, the salad from B (the only bowl next to the forks)
SELECT place('SH-2', '[["SH-SOUP", 1], ["SH-SALAD", 1]]') IS NOT NULL AS placed;
SELECT * FROM locs('SH-2');
SELECT * FROM kits_of('SH-2');
SELECT o.external_id, d.rule, d.locations FROM oms.routing_decisions d JOIN oms.orders o ON o.id = d.order_id
 WHERE o.external_id LIKE 'SH-%' ORDER BY d.id;
SELECT * FROM oms.check();

DROP VIEW counts;
DROP FUNCTION products(jsonb, jsonb), receive(jsonb), place(text, jsonb, jsonb), oid_of(text), confirm(text), sh(text, int), locs(text),
    kits_of(text), stock(text[]), ships_of(text), try(text), lamp_order(text, jsonb);
SELECT * FROM oms.check();
