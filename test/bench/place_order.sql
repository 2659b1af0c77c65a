-- place_order: one call per order, 3 lines of distinct random skus,
-- quantities 1-3, a new external_id every time (client id + random 63-bit).
-- Run as bench_app (a member of oms_app) with -M prepared.
\set s1 random(1, :nproducts)
\set d1 random(1, (:nproducts - 1) / 2)
\set d2 random(1, (:nproducts - 1) / 2)
\set s2 1 + (:s1 - 1 + :d1) % :nproducts
\set s3 1 + (:s1 - 1 + :d1 + :d2) % :nproducts
\set q1 random(1, 3)
\set q2 random(1, 3)
\set q3 random(1, 3)
\set ext random(1, 9223372036854775806)
SELECT oms.place_order(jsonb_build_object(
    'channel', 'web',
    'external_id', 'bench-' || :client_id::text || '-' || :ext::text,
    'currency', 'EUR',
    'lines', jsonb_build_array(
        jsonb_build_object('sku', 'SKU-' || :s1::text, 'qty', :q1::integer, 'unit_price', 9.90),
        jsonb_build_object('sku', 'SKU-' || :s2::text, 'qty', :q2::integer, 'unit_price', 19.90),
        jsonb_build_object('sku', 'SKU-' || :s3::text, 'qty', :q3::integer, 'unit_price', 4.50))));
