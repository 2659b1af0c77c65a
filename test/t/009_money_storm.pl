# The money storm (issue 13): 8 clients at once place orders, authorize,
# capture and void payments, edit orders (issue 16: quantities, added lines,
# the rest cancelled, each refunding what was captured beyond the new
# total), refund them by hand (refund_payment, random
# amounts, often more than the order can still pay out), ship, and request,
# authorize, receive and resolve RMAs with every resolution (refund, store
# credit, exchange for the same sku at the price paid or for another sku at
# a given price, sometimes dearer than what comes back), all on the same
# few orders. Every refund-like action passes the one money path
# (PaymentsMoneyOut), which locks the order and refuses what would take
# more out of it than its payments captured. Afterwards:
#   - no deadlock or crashed backend in the server log, and oms.check() is
#     empty (order_money_out, rma_money, payment_amounts, ...);
#   - a direct SQL assertion: per order, refunds + store credit + exchange
#     credit + exchange value the replacement does not charge <= captured;
#   - orders of every other customer ship to Germany with tax computed
#     from oms.tax_rates, a shipping charge, and half of those gross prices
#     (issue 18): the same invariants hold with shipping and tax;
#   - and the storm really happened (refusals of the money path, store
#     credit, exchanges with money owed, ...).
#
# pgbench aborts a client on any error, so every call goes through a
# plpgsql helper that logs the documented business refusals (22023, 55000,
# OM001, 40001) in public.storm_log and re-raises anything else. Picks are
# plain SELECTs (no locks of their own).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OmsTap qw(storm_aftermath storm_node storm_sql storm_pgbench);

my $clients = 8;
my $per_client = 150;

my $node = storm_node('mstorm', 'mstorm');
$node->safe_psql('mstorm', q{
    CREATE EXTENSION oms;
    INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web');
    INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority) VALUES
        ('WH1', 'Warehouse 1', 'warehouse', 52.40, 13.51, 10);
    INSERT INTO oms.products (sku, name, kind) VALUES ('A', 'A', 'stock'), ('B', 'B', 'stock');
    INSERT INTO oms.carriers (code, name) VALUES ('dhl', 'DHL');
    INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days)
        SELECT id, 'std', 'Paket', 2 FROM oms.carriers;
    INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
        SELECT id, 'EUR', NULL, NULL, 4.90 FROM oms.carrier_services;
    INSERT INTO oms.customers (email, name)
        SELECT 'c' || i || '@example.com', 'Customer ' || i FROM generate_series(1, 5) i;
    SELECT oms.receive_stock('A', 'WH1', 100000), oms.receive_stock('B', 'WH1', 100000);
    -- issue 18: tax computed for DE (B is reduced-rate), and a shipping charge
    INSERT INTO oms.tax_rates (country, tax_class, rate) VALUES ('DE', 'standard', 0.19), ('DE', 'reduced', 0.07);
    UPDATE oms.products SET tax_class = 'reduced' WHERE sku = 'B';
    CREATE SEQUENCE public.storm_ext;
    CREATE SEQUENCE public.storm_trk;
    CREATE TABLE public.storm_log (what text NOT NULL, state text, message text);
} . storm_sql(qw(storm_caught)) . q{
    -- qa units of A at 10.00 and qb of B at 7.00 (qb may be 0)
    CREATE FUNCTION public.ms_place(qa int, qb int, cust int) RETURNS jsonb LANGUAGE plpgsql AS $$
    DECLARE lines jsonb := jsonb_build_array(jsonb_build_object('sku', 'A', 'qty', qa, 'unit_price', 10));
    BEGIN
        IF qb > 0 THEN
            lines := lines || jsonb_build_array(jsonb_build_object('sku', 'B', 'qty', qb, 'unit_price', 7));
        END IF;
        -- every other customer ships to Germany: tax computed, 4.90 shipping,
        -- half of them priced gross (issue 18)
        RETURN oms.place_order(jsonb_build_object('channel', 'web', 'external_id', 'ms-' || nextval('public.storm_ext'),
                   'currency', 'EUR', 'customer', jsonb_build_object('email', 'c' || cust || '@example.com'), 'lines', lines)
               || CASE WHEN cust % 2 = 0 THEN jsonb_build_object('ship_to', jsonb_build_object('country', 'DE'),
                                                                 'shipping', jsonb_build_object('amount', 4.90),
                                                                 'prices_include_tax', cust = 4)
                       ELSE '{}'::jsonb END);
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('place', SQLSTATE, SQLERRM, ARRAY['OM001', '40001', '22023']) THEN RAISE; END IF;
        RETURN NULL;
    END $$;

    -- authorize what an unpaid order still needs by card
    CREATE FUNCTION public.ms_authorize() RETURNS jsonb LANGUAGE plpgsql AS $$
    DECLARE oid bigint; open numeric;
    BEGIN
        SELECT o.id, o.total - COALESCE((SELECT sum(p.authorized - p.voided) FROM oms.payments p WHERE p.order_id = o.id), 0)
          INTO oid, open FROM oms.orders o WHERE o.status = 'pending_payment' ORDER BY random() LIMIT 1;
        IF oid IS NULL OR open <= 0 THEN RETURN NULL; END IF;
        RETURN oms.authorize_payment(oid, jsonb_build_object('method', 'card', 'amount', open, 'token', 'tok_' || oid));
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('authorize', SQLSTATE, SQLERRM, ARRAY['55000', '22023']) THEN RAISE; END IF;
        RETURN NULL;
    END $$;

    -- capture all (whole = 1) or part of what a payment has left
    CREATE FUNCTION public.ms_capture(whole int) RETURNS jsonb LANGUAGE plpgsql AS $$
    DECLARE pid bigint; left_ numeric;
    BEGIN
        SELECT id, authorized - captured - voided INTO pid, left_ FROM oms.payments
         WHERE authorized > captured + voided ORDER BY random() LIMIT 1;
        IF pid IS NULL THEN RETURN NULL; END IF;
        RETURN oms.capture_payment(pid, CASE WHEN whole = 1 THEN NULL ELSE greatest(round(left_ / 2, 2), 0.01) END);
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('capture', SQLSTATE, SQLERRM, ARRAY['55000', '22023']) THEN RAISE; END IF;
        RETURN NULL;
    END $$;

    CREATE FUNCTION public.ms_void() RETURNS jsonb LANGUAGE plpgsql AS $$
    DECLARE pid bigint;
    BEGIN
        SELECT id INTO pid FROM oms.payments WHERE authorized > captured + voided ORDER BY random() LIMIT 1;
        IF pid IS NULL THEN RETURN NULL; END IF;
        RETURN oms.void_payment(pid);
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('void', SQLSTATE, SQLERRM, ARRAY['55000', '22023']) THEN RAISE; END IF;
        RETURN NULL;
    END $$;

    -- refund pct percent of what a payment captured (often more than the
    -- order can still pay out once RMAs resolved)
    CREATE FUNCTION public.ms_refund_payment(pct int) RETURNS jsonb LANGUAGE plpgsql AS $$
    DECLARE pid bigint; cap numeric;
    BEGIN
        SELECT id, captured INTO pid, cap FROM oms.payments WHERE captured > refunded ORDER BY random() LIMIT 1;
        IF pid IS NULL THEN RETURN NULL; END IF;
        RETURN oms.refund_payment(pid, greatest(round(cap * pct / 100, 2), 0.01), 'storm');
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('refund_payment', SQLSTATE, SQLERRM, ARRAY['55000', '22023']) THEN RAISE; END IF;
        RETURN NULL;
    END $$;

    CREATE FUNCTION public.ms_ship() RETURNS jsonb LANGUAGE plpgsql AS $$
    DECLARE oid bigint; sid bigint;
    BEGIN
        SELECT o.id INTO oid FROM oms.orders o
         WHERE o.status IN ('confirmed', 'in_fulfillment', 'partially_shipped')
           AND EXISTS (SELECT FROM oms.reservations r WHERE r.order_id = o.id AND r.status = 'active')
         ORDER BY random() LIMIT 1;
        IF oid IS NULL THEN RETURN NULL; END IF;
        SELECT id INTO sid FROM oms.shipments WHERE order_id = oid AND status = 'pending' LIMIT 1;
        IF sid IS NULL THEN
            sid := (oms.create_shipment(oid, 'WH1') ->> 'shipment_id')::bigint;
        END IF;
        RETURN oms.ship(sid, 'dhl', 'std', 'TRK-' || nextval('public.storm_trk'));
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('ship', SQLSTATE, SQLERRM, ARRAY['55000', '22023']) THEN RAISE; END IF;
        RETURN NULL;
    END $$;

    -- an RMA of one returnable unit of a shipped order; res 1 refund,
    -- 2 store credit, 3 exchange for the same sku, 4 exchange for qb units
    -- of B at price (given)
    CREATE FUNCTION public.ms_rma(res int, reason int, qb int, price int) RETURNS jsonb LANGUAGE plpgsql AS $$
    DECLARE oid bigint; sku text; doc jsonb;
    BEGIN
        SELECT ol.order_id, p.sku INTO oid, sku FROM oms.order_lines ol JOIN oms.products p ON p.id = ol.product_id
          JOIN oms.orders o ON o.id = ol.order_id
         WHERE o.status IN ('shipped', 'partially_shipped', 'delivered', 'partially_returned')
           AND ol.qty_shipped > COALESCE((SELECT sum(rl.qty - rl.qty_missing) FROM oms.rma_lines rl JOIN oms.rmas x ON x.id = rl.rma_id
                                           WHERE rl.order_line_id = ol.id AND x.status <> 'rejected'), 0)
         ORDER BY random() LIMIT 1;
        IF oid IS NULL THEN RETURN NULL; END IF;
        doc := jsonb_build_object('resolution', (ARRAY['refund', 'store_credit', 'exchange', 'exchange'])[res],
                   'lines', jsonb_build_array(jsonb_build_object('sku', sku, 'qty', 1,
                                'reason', (ARRAY['defective', 'changed_mind', 'wrong_item'])[reason])));
        IF res = 3 THEN
            doc := doc || jsonb_build_object('exchange', jsonb_build_object('lines', jsonb_build_array(jsonb_build_object('sku', sku, 'qty', 1))));
        ELSIF res = 4 AND sku <> 'B' THEN
            doc := doc || jsonb_build_object('exchange', jsonb_build_object('lines', jsonb_build_array(
                       jsonb_build_object('sku', 'B', 'qty', qb, 'unit_price', price))));
        ELSIF res = 4 THEN
            doc := doc || jsonb_build_object('exchange', jsonb_build_object('lines', jsonb_build_array(
                       jsonb_build_object('sku', 'A', 'qty', qb, 'unit_price', price))));
        END IF;
        RETURN oms.create_rma(oid, doc);
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('rma', SQLSTATE, SQLERRM, ARRAY['55000', '22023']) THEN RAISE; END IF;
        RETURN NULL;
    END $$;

    CREATE FUNCTION public.ms_authorize_rma() RETURNS jsonb LANGUAGE plpgsql AS $$
    DECLARE rid bigint;
    BEGIN
        SELECT id INTO rid FROM oms.rmas WHERE status = 'requested' ORDER BY random() LIMIT 1;
        IF rid IS NULL THEN RETURN NULL; END IF;
        RETURN oms.authorize_rma(rid);
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('authorize_rma', SQLSTATE, SQLERRM, ARRAY['55000']) THEN RAISE; END IF;
        RETURN NULL;
    END $$;

    -- receive every open unit of an authorized RMA, sellable
    CREATE FUNCTION public.ms_receive() RETURNS jsonb LANGUAGE plpgsql AS $$
    DECLARE rid bigint; items jsonb;
    BEGIN
        SELECT id INTO rid FROM oms.rmas WHERE status IN ('authorized', 'partially_received') ORDER BY random() LIMIT 1;
        IF rid IS NULL THEN RETURN NULL; END IF;
        SELECT jsonb_agg(jsonb_build_object('line_no', ol.line_no, 'qty', rl.qty - rl.qty_restocked - rl.qty_damaged - rl.qty_missing,
                                            'condition', 'sellable'))
          INTO items FROM oms.rma_lines rl JOIN oms.order_lines ol ON ol.id = rl.order_line_id
         WHERE rl.rma_id = rid AND rl.qty > rl.qty_restocked + rl.qty_damaged + rl.qty_missing;
        IF items IS NULL THEN RETURN NULL; END IF;
        RETURN oms.receive_rma(rid, 'WH1', items);
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('receive_rma', SQLSTATE, SQLERRM, ARRAY['55000', '22023']) THEN RAISE; END IF;
        RETURN NULL;
    END $$;

    -- edit an order that still holds stock (issue 16): k 1 sets line 1's
    -- quantity to q (more is refused once the order is in fulfillment, less
    -- refunds what was captured beyond the new total), 2 adds q units of B,
    -- 3 cancels the rest of the order (refused when nothing has shipped: it
    -- would leave the order empty)
    CREATE FUNCTION public.ms_edit(k int, q int) RETURNS jsonb LANGUAGE plpgsql AS $$
    DECLARE oid bigint;
    BEGIN
        -- every other call an order whose payments captured its total, so
        -- that edits refund
        SELECT o.id INTO oid FROM oms.orders o JOIN oms.order_statuses s ON s.status = o.status AND s.holds_stock
         WHERE q % 2 = 1 OR (SELECT sum(p.captured - p.refunded) FROM oms.payments p WHERE p.order_id = o.id) >= o.total
         ORDER BY random() LIMIT 1;
        IF oid IS NULL THEN RETURN NULL; END IF;
        IF k = 3 THEN
            RETURN oms.cancel_lines(oid, jsonb_build_object('rest', true));
        END IF;
        RETURN oms.edit_order(oid, jsonb_build_object('changes', jsonb_build_array(CASE k
                   WHEN 1 THEN jsonb_build_object('op', 'set_qty', 'line_no', 1, 'qty', q)
                   ELSE jsonb_build_object('op', 'add_line', 'sku', 'B', 'qty', q, 'unit_price', 7) END)));
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('edit', SQLSTATE, SQLERRM, ARRAY['55000', '22023', 'OM001']) THEN RAISE; END IF;
        RETURN NULL;
    END $$;

    CREATE FUNCTION public.ms_refund_rma() RETURNS jsonb LANGUAGE plpgsql AS $$
    DECLARE rid bigint;
    BEGIN
        SELECT id INTO rid FROM oms.rmas WHERE status IN ('received', 'partially_received') ORDER BY random() LIMIT 1;
        IF rid IS NULL THEN RETURN NULL; END IF;
        RETURN oms.refund_rma(rid);
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('refund_rma', SQLSTATE, SQLERRM, ARRAY['55000', '22023', 'OM001']) THEN RAISE; END IF;
        RETURN NULL;
    END $$;
});

# a first batch of shipped, captured orders, so that returns start at once
$node->safe_psql('mstorm', q{
    DO $$
    DECLARE o jsonb; p jsonb; s jsonb;
    BEGIN
        FOR i IN 1 .. 40 LOOP
            o := public.ms_place(1 + i % 3, i % 2, 1 + i % 5);
            p := oms.authorize_payment((o ->> 'order_id')::bigint, jsonb_build_object('method', 'card', 'amount', o -> 'total', 'token', 'tok'));
            PERFORM oms.capture_payment((p ->> 'payment_id')::bigint);
            s := oms.create_shipment((o ->> 'order_id')::bigint, 'WH1');
            PERFORM oms.ship((s ->> 'shipment_id')::bigint, 'dhl', 'std', 'TRK-0-' || i);
        END LOOP;
        -- and paid orders of 3 A not shipped yet, for edits that refund
        FOR i IN 1 .. 30 LOOP
            o := public.ms_place(3, 0, 1 + i % 5);
            p := oms.authorize_payment((o ->> 'order_id')::bigint, jsonb_build_object('method', 'card', 'amount', o -> 'total', 'token', 'tok'));
            PERFORM oms.capture_payment((p ->> 'payment_id')::bigint);
        END LOOP;
    END $$;
});

storm_pgbench($node, 'mstorm', $clients, $per_client,
    'money storm: place, authorize, capture, void, refund_payment, ship, RMAs with every resolution',
    {
        'ms_place@4' => q{
\set qa random(1, 3)
\set qb random(0, 2)
\set cust random(1, 5)
SELECT public.ms_place(:qa, :qb, :cust);
},
        'ms_authorize@4' => q{
SELECT public.ms_authorize();
},
        'ms_capture@4' => q{
\set whole random(1, 3)
SELECT public.ms_capture(:whole);
},
        'ms_void@1' => q{
SELECT public.ms_void();
},
        'ms_refund_payment@3' => q{
\set pct random(10, 100)
SELECT public.ms_refund_payment(:pct);
},
        'ms_ship@4' => q{
SELECT public.ms_ship();
},
        'ms_rma@4' => q{
\set res random(1, 4)
\set reason random(1, 3)
\set qb random(1, 3)
\set price random(1, 40)
SELECT public.ms_rma(:res, :reason, :qb, :price);
},
        'ms_authorize_rma@1' => q{
SELECT public.ms_authorize_rma();
},
        'ms_receive@3' => q{
SELECT public.ms_receive();
},
        'ms_refund_rma@3' => q{
SELECT public.ms_refund_rma();
},
        'ms_edit@4' => q{
\set k random(1, 3)
\set q random(1, 4)
SELECT public.ms_edit(:k, :q);
},
    });

storm_aftermath($node, 'mstorm');

my $over = $node->safe_psql('mstorm', q{
    SELECT COALESCE(string_agg('order ' || o.id || ': captured ' || c.captured || ', out ' || c.out_, '; '), '')
      FROM oms.orders o
      CROSS JOIN LATERAL (
          SELECT COALESCE((SELECT sum(captured) FROM oms.payments WHERE order_id = o.id), 0) AS captured,
                 COALESCE((SELECT sum(refunded) FROM oms.payments WHERE order_id = o.id), 0)
                 + COALESCE((SELECT sum(amount) FROM oms.money_out WHERE order_id = o.id), 0)
                 + COALESCE((SELECT sum(GREATEST(round(r.exchange_value - COALESCE((SELECT sum(m.amount) FROM oms.money_out m
                                                                                     WHERE m.rma_id = r.id AND m.kind = 'exchange'), 0)
                                                      - x.total, 2), 0))
                               FROM oms.rmas r JOIN oms.orders x ON x.id = r.exchange_order_id WHERE r.order_id = o.id), 0) AS out_) c
     WHERE c.out_ > c.captured});
is($over, '', 'per order, refunds + store credit + exchange credit + uncharged exchange value <= captured');

note "business refusals (SQLSTATE, message with numbers as #):\n"
  . $node->safe_psql('mstorm', q{
    SELECT what || ' ' || state || ' x' || count(*) || ': ' || m
      FROM (SELECT what, state, regexp_replace(message, '[0-9]+(\.[0-9]+)?', '#', 'g') AS m FROM public.storm_log) x
     GROUP BY what, state, m ORDER BY what, state, count(*) DESC});

my %n = map { split /=/ } split /\n/, $node->safe_psql('mstorm', q{
    SELECT 'money_path_refusals=' || count(*) FROM public.storm_log WHERE message LIKE '%can still pay out%'
    UNION ALL SELECT 'card_refunds=' || count(*) FROM oms.payment_transactions WHERE kind = 'refund' AND reason = 'storm'
    UNION ALL SELECT 'rma_refunds=' || count(*) FROM oms.rmas WHERE refunded > 0
    UNION ALL SELECT 'store_credit=' || count(*) FROM oms.money_out WHERE kind = 'store_credit'
    UNION ALL SELECT 'exchanges=' || count(*) FROM oms.rmas WHERE exchange_order_id IS NOT NULL
    UNION ALL SELECT 'exchanges_owing=' || count(*) FROM oms.rmas r JOIN oms.orders o ON o.id = r.exchange_order_id WHERE o.total > 0
    UNION ALL SELECT 'voids=' || count(*) FROM oms.payment_transactions WHERE kind = 'void'
    UNION ALL SELECT 'taxed_shipped=' || count(*) FROM oms.orders o WHERE o.shipping > 0 AND o.tax > 0
                AND EXISTS (SELECT FROM oms.order_lines l WHERE l.order_id = o.id AND l.qty_shipped > 0)
    UNION ALL SELECT 'gross_lines=' || count(*) FROM oms.order_lines WHERE price_includes_tax
    UNION ALL SELECT 'edits=' || count(*) FROM oms.order_versions WHERE version > 1
    UNION ALL SELECT 'edit_refunds=' || count(*) FROM oms.payment_transactions
                WHERE kind = 'refund' AND (reason LIKE '%: edit_order' OR reason LIKE '%: cancel_lines')});
note join(', ', map { "$_ $n{$_}" } sort keys %n);
cmp_ok($n{card_refunds}, '>', 10, 'payments were refunded by hand');
cmp_ok($n{money_path_refusals}, '>', 0, 'the money path refused money out beyond what was captured');
cmp_ok($n{rma_refunds}, '>', 0, 'RMAs were refunded');
cmp_ok($n{store_credit}, '>', 0, 'RMAs were resolved with store credit');
cmp_ok($n{exchanges}, '>', 0, 'RMAs were exchanged');
cmp_ok($n{edits}, '>', 10, 'orders were edited');
cmp_ok($n{taxed_shipped}, '>', 0, 'orders with shipping and computed tax shipped (issue 18)');
cmp_ok($n{gross_lines}, '>', 0, 'lines were priced gross (issue 18)');
cmp_ok($n{edit_refunds}, '>', 0, 'edits refunded what was captured beyond the new total');

$node->stop;
done_testing();
