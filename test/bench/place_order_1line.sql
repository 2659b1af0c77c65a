-- place_order with one line of one unit; the sku is drawn from
-- SKU-:lo .. SKU-:hi (lo = hi = 1: every client orders the same hot sku).
-- Run as bench_app with -M prepared.
\set s1 random(:lo, :hi)
\set ext random(1, 9223372036854775806)
SELECT oms.place_order(jsonb_build_object(
    'channel', 'web',
    'external_id', 'bench1-' || :client_id::text || '-' || :ext::text,
    'currency', 'EUR',
    'lines', jsonb_build_array(
        jsonb_build_object('sku', 'SKU-' || :s1::text, 'qty', 1, 'unit_price', 9.90))));
