-- routing_place: how long oms.place_order takes for the same kind of order
-- document as routing_explain.sql: 5 lines of distinct random skus (qty
-- 1-3), a random ship-to in Europe, policy partial (a line the locations
-- cannot cover is reserved in part and cancelled for the rest, never an
-- error), a new external_id every call (client id + random 63-bit).
-- Routes, reserves, records the decision, commits.
-- Run by test/bench/routing as bench_app (a member of oms_app), one client.
\set s1 random(1, :nskus)
\set d1 random(1, (:nskus - 1) / 4)
\set d2 random(1, (:nskus - 1) / 4)
\set d3 random(1, (:nskus - 1) / 4)
\set d4 random(1, (:nskus - 1) / 4)
\set s2 1 + (:s1 - 1 + :d1) % :nskus
\set s3 1 + (:s1 - 1 + :d1 + :d2) % :nskus
\set s4 1 + (:s1 - 1 + :d1 + :d2 + :d3) % :nskus
\set s5 1 + (:s1 - 1 + :d1 + :d2 + :d3 + :d4) % :nskus
\set q1 random(1, 3)
\set q2 random(1, 3)
\set q3 random(1, 3)
\set q4 random(1, 3)
\set q5 random(1, 3)
-- coordinates with 4 decimals (about 10 m), what a shop sends; the card
-- guard scans only the strings of ship_to, so longer fractions work too
\set la random(0, 240000)
\set lo random(0, 390000)
\set ext random(1, 9223372036854775806)
SELECT oms.place_order(jsonb_build_object(
    'channel', 'web',
    'external_id', 'route-' || :client_id::text || '-' || :ext::text,
    'currency', 'EUR',
    'policy', 'partial',
    'ship_to', jsonb_build_object('lat', round(36 + :la::integer / 10000.0, 4),
                                  'lon', round(-9 + :lo::integer / 10000.0, 4)),
    'lines', jsonb_build_array(
        jsonb_build_object('sku', 'SKU-' || :s1::text, 'qty', :q1::integer, 'unit_price', 9.90),
        jsonb_build_object('sku', 'SKU-' || :s2::text, 'qty', :q2::integer, 'unit_price', 19.90),
        jsonb_build_object('sku', 'SKU-' || :s3::text, 'qty', :q3::integer, 'unit_price', 4.50),
        jsonb_build_object('sku', 'SKU-' || :s4::text, 'qty', :q4::integer, 'unit_price', 12.00),
        jsonb_build_object('sku', 'SKU-' || :s5::text, 'qty', :q5::integer, 'unit_price', 7.25))));
