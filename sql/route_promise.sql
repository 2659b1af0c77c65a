--
-- route_promise: routing by delivery promise (issue 21)
--   Two locations in two time zones exactly 24 hours apart, so that the
--   dates below hold at any hour of the run (with zones 13 or 14 hours
--   apart, an express verdict flipped with the hour of day): WEST
--   (Etc/GMT+10, UTC-10, no cut-off: ships on its own today) far from the
--   customer, EAST (Etc/GMT-14, UTC+14, cut-off 00:00: always past it,
--   ships on its tomorrow) near the customer, so its carrier rate is
--   cheaper. EAST's today is always WEST's today + 1, so EAST ships on
--   WEST's today + 2. One service std of 2 days, one exp of 1 day: WEST
--   delivers std on W+2, exp on W+1; EAST exp on W+3, std on W+4.
--   1. without a deadline, strategy cheapest: EAST (the cheaper rate);
--   2. deliver_by W+2: only WEST can make it, and wins;
--      deliver_by W+4: both can, EAST (cheaper) wins again;
--   3. explain_route shows the deadline verdict and the promise per
--      location; the decision stores the promise;
--   4. strategy fastest: the earliest date wins (WEST) over the cheaper;
--      service_level express: the fastest service is promised;
--   5. a deadline nobody can make (W-1): OM001, nothing written;
--   6. the daily capacity counts the location's own day;
--   7. invalid documents and locations.
--
SET client_min_messages = warning;
\set SHOW_CONTEXT never
DROP EXTENSION IF EXISTS oms CASCADE; CREATE EXTENSION oms;
INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web');
INSERT INTO oms.channels (code, name, kind, routing_strategy) VALUES ('fast', 'Fast', 'web', 'fastest');
INSERT INTO oms.locations (code, name, kind, latitude, longitude, time_zone, cutoff_time, daily_capacity)
VALUES ('WEST', 'West', 'warehouse', 52.5, 13.4, 'Etc/GMT+10', NULL, 100),
       ('EAST', 'East', 'warehouse', 50.0, 8.0, 'Etc/GMT-14', '00:00', NULL);
INSERT INTO oms.products (sku, name, kind, weight_kg) VALUES ('BOX', 'Box', 'stock', 1);
SELECT oms.receive_stock('BOX', 'WEST', 50) IS NOT NULL, oms.receive_stock('BOX', 'EAST', 50) IS NOT NULL;
INSERT INTO oms.carriers (code, name) VALUES ('ups', 'UPS');
INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days)
SELECT id, 'std', 'Standard', 2 FROM oms.carriers UNION ALL SELECT id, 'exp', 'Express', 1 FROM oms.carriers;
INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
SELECT s.id, 'EUR', b.km, NULL, CASE s.code WHEN 'std' THEN b.std ELSE b.exp END
  FROM oms.carrier_services s, (VALUES (100::numeric, 5, 15), (NULL, 9, 25)) AS b(km, std, exp);
-- WEST's today, the reference of the dates below
CREATE FUNCTION west(n int) RETURNS text LANGUAGE sql AS $$ SELECT to_char(timezone('Etc/GMT+10', now())::date + n, 'YYYY-MM-DD') $$;
CREATE FUNCTION doc(ext text, extra jsonb DEFAULT '{}', channel text DEFAULT 'web') RETURNS jsonb LANGUAGE sql AS $$
SELECT jsonb_build_object('channel', channel, 'external_id', ext, 'currency', 'EUR', 'ship_to', jsonb_build_object('lat', 50.1, 'lon', 8.1),
         'lines', jsonb_build_array(jsonb_build_object('sku', 'BOX', 'qty', 1, 'unit_price', 10))) || extra
$$;
CREATE FUNCTION routed(r jsonb) RETURNS text LANGUAGE sql AS $$
SELECT string_agg(DISTINCT res ->> 'location', ',') FROM jsonb_array_elements(r -> 'lines') l, jsonb_array_elements(l -> 'locations') res
$$;
CREATE FUNCTION promise_try(q text) RETURNS TABLE (state text, message text, detail text, hint text) LANGUAGE plpgsql AS $$
DECLARE m text; d text; h text;
BEGIN
  EXECUTE q;
  RETURN QUERY SELECT 'ok'::text, NULL::text, NULL::text, NULL::text;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
  RETURN QUERY SELECT SQLSTATE, m, regexp_replace(d, '[0-9]{4}-[0-9]{2}-[0-9]{2}', 'DATE', 'g'), h;
END $$;

-- 1. no deadline: the cheapest (EAST, near the customer)
SELECT routed(oms.place_order(doc('p1'))) AS no_deadline;
-- 2. by W+2 only WEST delivers; by W+4 both do, EAST is cheaper
SELECT routed(oms.place_order(doc('p2', jsonb_build_object('deliver_by', west(2))))) AS by_today_plus_2;
SELECT routed(oms.place_order(doc('p3', jsonb_build_object('deliver_by', west(4))))) AS by_today_plus_4;
SELECT external_id, deliver_by = west(2)::date AS deliver_by_2, deliver_by = west(4)::date AS deliver_by_4, service_level
  FROM oms.orders ORDER BY id;

-- 3. explain_route: the deadline verdict and the promise of every location
SELECT location, eligible, verdicts -> 'deadline' AS deadline, reason,
       verdicts -> 'promise' ->> 'service' AS service,
       CASE location WHEN 'WEST' THEN (verdicts -> 'promise' ->> 'arrives_on') = west(2) END AS west_arrives_today_plus_2,
       (verdicts -> 'promise' ->> 'ships_on') = CASE location WHEN 'WEST' THEN west(0)
            ELSE to_char(timezone('Etc/GMT-14', now())::date + 1, 'YYYY-MM-DD') END AS ships_on_local_day,
       shipping_cost
  FROM oms.explain_route(doc('x1', jsonb_build_object('deliver_by', west(2)))) ORDER BY location;
-- without a deadline or service level, verdicts look as before: no deadline, no promise
SELECT location, verdicts FROM oms.explain_route(doc('x2')) ORDER BY location;
-- the decision stores the promise of the chosen location
SELECT o.external_id, d.chosen -> 0 ->> 'location' AS location, d.chosen -> 0 -> 'promise' ->> 'service' AS service,
       (d.chosen -> 0 -> 'promise' ->> 'arrives_on') = west(2) AS arrives_today_plus_2, d.chosen -> 0 -> 'promise' ->> 'rate' AS rate
  FROM oms.routing_decisions d JOIN oms.orders o ON o.id = d.order_id ORDER BY d.id;

-- 4. strategy fastest: the earliest arrival wins over the cheaper rate
SELECT routed(oms.place_order(doc('f1', '{}', 'fast'))) AS fastest;
SELECT d.strategy, d.rule, d.chosen -> 0 ->> 'location' AS location FROM oms.routing_decisions d
  JOIN oms.orders o ON o.id = d.order_id WHERE o.external_id = 'f1';
-- service_level express: the fastest service is promised (and charged); EAST's rate is still the cheaper
SELECT routed(oms.place_order(doc('e1', '{"service_level": "express"}'))) AS express;
SELECT d.chosen -> 0 -> 'promise' ->> 'service' AS service, d.chosen -> 0 -> 'promise' ->> 'rate' AS rate
  FROM oms.routing_decisions d JOIN oms.orders o ON o.id = d.order_id WHERE o.external_id = 'e1';
SELECT service_level FROM oms.orders WHERE external_id = 'e1';
-- a deadline with express: WEST's express arrives W+1
SELECT location, eligible, verdicts -> 'promise' ->> 'service' AS service,
       CASE location WHEN 'WEST' THEN (verdicts -> 'promise' ->> 'arrives_on') = west(1) END AS west_today_plus_1
  FROM oms.explain_route(doc('x3', jsonb_build_object('deliver_by', west(1), 'service_level', 'express'))) ORDER BY location;

-- 5. a deadline nobody can make (W-1): refused like a shortage, nothing written
SELECT count(*) AS orders_before FROM oms.orders;
SELECT * FROM promise_try(format('SELECT oms.place_order(%L)', doc('late', jsonb_build_object('deliver_by', west(-1)))));
SELECT count(*) AS orders_after FROM oms.orders;
SELECT location, eligible, reason FROM oms.explain_route(doc('x4', jsonb_build_object('deliver_by', west(-1)))) ORDER BY location;
-- no rate in the order's currency: no promise, the deadline filters everything
SELECT location, eligible, verdicts -> 'promise' AS promise
  FROM oms.explain_route(doc('x5', jsonb_build_object('deliver_by', west(9), 'currency', 'USD'))) ORDER BY location;

-- 6. the daily capacity counts days in the location's time zone
SELECT l.code, d.day = timezone(l.time_zone, now())::date AS local_day, d.orders
  FROM oms.location_daily_load d JOIN oms.locations l ON l.id = d.location_id;

-- 7. invalid documents and locations
SELECT * FROM promise_try(format('SELECT oms.place_order(%L)', doc('bad', '{"deliver_by": "2026-02-30"}')));
SELECT * FROM promise_try(format('SELECT oms.place_order(%L)', doc('bad', '{"deliver_by": "next friday"}')));
SELECT * FROM promise_try(format('SELECT oms.place_order(%L)', doc('bad', '{"deliver_by": "26-12-24"}')));
SELECT * FROM promise_try(format('SELECT oms.place_order(%L)', doc('bad', '{"deliver_by": "1999-12-31"}')));
SELECT * FROM promise_try(format('SELECT oms.place_order(%L)', doc('bad', '{"deliver_by": 20261224}')));
-- null is as if left out (as for every optional key)
SELECT state FROM promise_try(format('SELECT oms.place_order(%L)', doc('null-deadline', '{"deliver_by": null}')));
SELECT * FROM promise_try(format('SELECT oms.place_order(%L)', doc('bad', '{"service_level": "overnight"}')));
SELECT * FROM promise_try(format('SELECT oms.place_order(%L)', doc('bad', '{"service_level": ""}')));
SELECT * FROM promise_try($$UPDATE oms.locations SET time_zone = 'Mars/Olympus' WHERE code = 'WEST'$$);
SELECT state, message FROM promise_try($$UPDATE oms.channels SET routing_strategy = 'soonest' WHERE code = 'web'$$);
SELECT count(*) AS orders_unchanged FROM oms.orders;

SELECT * FROM oms.check();
DROP FUNCTION west(int), doc(text, jsonb, text), routed(jsonb), promise_try(text);
