-- test/bench/reports_clone.sql: run by test/bench/reports as the superuser
-- after reports_seed.sql. Defines public.bench_clone(first, last), which
-- adds copies first..last of the seed's order graphs: every row of the seed
-- in the tables the reports read (customers, orders and their lines,
-- payments and transactions, shipments, RMAs, routing decisions) is copied
-- with
--   * its ids and the ids it references moved by copy x (seed's max id of
--     the referenced table), so each copy is a graph of its own;
--   * its unique text (external_id, tracking_number, e-mail, external_ref)
--     given the suffix -c<copy>;
--   * its timestamps moved back by a whole number of days (0..729) that
--     depends on the copy and the order, so the orders spread over two
--     years while each order keeps its own timeline.
-- The copies are real order graphs the API wrote, so every report reads
-- the shapes it reads in production. They are written with
-- session_replication_role = replica (no triggers, no foreign key checks:
-- a bulk load) and are not booked in stock, events or the journal: the
-- bench measures reading the reports, not oms.check().
\set ON_ERROR_STOP 1
\set QUIET 1

-- the seed's extent, fixed before the first copy
CREATE TABLE public.bench_seed_extent AS
SELECT t.relname::text AS tab, t.oid::regclass AS rel,
       CASE WHEN t.relname <> 'shipment_lines' THEN   -- the one table without an id
           (xpath('/row/m/text()', query_to_xml(format('SELECT max(id) AS m FROM %s', t.oid::regclass), false, true, '')))[1]::text::bigint
       END AS max_id
  FROM pg_class t
 WHERE t.relnamespace = 'oms'::regnamespace
   AND t.relname IN ('customers', 'orders', 'order_lines', 'payments', 'payment_transactions',
                     'shipments', 'shipment_lines', 'rmas', 'rma_lines', 'routing_decisions');

CREATE FUNCTION public.bench_clone(first integer, last integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    t record;
    cols text;
    exprs text;
    shift text;
    n bigint;
    total bigint := 0;
BEGIN
    SET LOCAL session_replication_role = replica;
    FOR t IN SELECT * FROM public.bench_seed_extent
              ORDER BY array_position(ARRAY['customers', 'orders', 'order_lines', 'payments', 'payment_transactions',
                                            'shipments', 'shipment_lines', 'rmas', 'rma_lines', 'routing_decisions'], tab)
    LOOP
        -- the day shift of a row: by its order when it has one
        shift := CASE
            WHEN t.tab = 'orders' THEN format('((k.k * 1000003 + s.id) %% 730)')
            WHEN EXISTS (SELECT FROM pg_attribute WHERE attrelid = t.rel AND attname = 'order_id' AND NOT attisdropped)
                THEN format('((k.k * 1000003 + s.order_id) %% 730)')
            ELSE '((k.k * 7919) % 730)' END;
        SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
               string_agg(CASE
                   WHEN a.attname = 'id' AND t.max_id IS NOT NULL
                       THEN format('s.id + k.k * %s', t.max_id)
                   WHEN a.attname = 'order_id'   -- payment_transactions.order_id has no foreign key
                       THEN format('s.order_id + k.k * %s', (SELECT max_id FROM public.bench_seed_extent WHERE tab = 'orders'))
                   WHEN f.max_id IS NOT NULL
                       THEN format('s.%I + k.k * %s', a.attname, f.max_id)
                   WHEN (t.tab, a.attname) IN (('orders', 'external_id'), ('shipments', 'tracking_number'),
                                               ('customers', 'email'), ('customers', 'external_ref'))
                       THEN format('s.%I || ''-c'' || k.k', a.attname)
                   WHEN a.atttypid = 'timestamptz'::regtype
                       THEN format('s.%I - %s * interval ''1 day''', a.attname, shift)
                   ELSE format('s.%I', a.attname) END, ', ' ORDER BY a.attnum)
          INTO cols, exprs
          FROM pg_attribute a
          LEFT JOIN LATERAL (
                SELECT e.max_id FROM pg_constraint c JOIN public.bench_seed_extent e ON e.rel = c.confrelid
                 WHERE c.conrelid = t.rel AND c.contype = 'f' AND c.conkey = ARRAY[a.attnum]
                 LIMIT 1) f ON true
         WHERE a.attrelid = t.rel AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '';
        EXECUTE format('INSERT INTO %s (%s) SELECT %s FROM %s s CROSS JOIN generate_series(%s, %s) AS k(k) %s',
                       t.rel, cols, exprs, t.rel, first, last,
                       CASE WHEN t.max_id IS NOT NULL THEN format('WHERE s.id <= %s', t.max_id)
                            WHEN t.tab = 'shipment_lines'
                                THEN format('WHERE s.shipment_id <= %s',
                                            (SELECT max_id FROM public.bench_seed_extent WHERE tab = 'shipments'))
                            ELSE '' END);
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
    END LOOP;
    -- the id sequences past the copies, so the API can still write
    FOR t IN SELECT * FROM public.bench_seed_extent WHERE max_id IS NOT NULL LOOP
        PERFORM setval(pg_get_serial_sequence(t.rel::text, 'id'), (SELECT max_id FROM public.bench_seed_extent e WHERE e.rel = t.rel) * (last + 1));
    END LOOP;
    RETURN total;
END $$;
