# The accounting journal replicates: two real clusters. The publisher runs
# oms (wal_level = logical) and oms.create_accounting_publication(); the
# subscriber is accounting's own database, which does not need oms: it has
# only the four journal tables (accounts, journal_rules, journal_entries,
# journal_lines, the same columns, keys and CHECKs, without oms's foreign
# keys and triggers, which belong to the writer), in a schema oms, and
# subscribes to oms_accounting with the initial copy (the seeded accounts
# and rules come over with it).
#
# The publisher runs a pgbench storm (8 clients, 6000 transactions) of orders, payments (card,
# cash, a gift card part, store credit; every authorization captured at
# once), shipments (all that an order holds at a location, or one unit of
# one line: partial shipments), cancellations (refunds of captured money),
# RMAs received and refunded or resolved as store credit, gift cards sold
# and stock receipts. While it runs, the subscriber is stopped and started
# again twice (a fast shutdown, then an immediate one), and the storm goes
# on meanwhile. Afterwards, once the subscriber has caught up:
#   - the subscriber holds exactly the publisher's journal: row counts of
#     the four tables, per-account sums of debits and credits, and every
#     row the same (md5 over the ordered rows);
#   - every entry balances, on the subscriber too;
#   - the publisher's journal says what the business did: per order, the
#     revenue and tax recognised are those of the units shipped (never
#     twice); per payment and account, the journal is its captures and
#     refunds on the accounts of the rules (refunds for RMAs to
#     sales_returns, other refunds back to A/R); store credit issued is the
#     RMAs' store credit; the gift card and store credit liabilities are
#     the balances outstanding; A/R of a cancelled order, and of one paid
#     and shipped in full without refunds, is 0;
#   - oms.check() is empty on the publisher, and the storm really happened.
#
# Every oms call of the storm goes through a plpgsql helper in public that
# catches the SQLSTATEs documented for its business outcomes (see
# 006_returns_storm.pl), writes them to public.storm_log and re-raises
# anything else, so pgbench fails the run on anything unexpected.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use OmsTap qw(storm_sql);
use Time::HiRes qw(time usleep);

my $clients = 8;
my $per_client = 750;
my @tables = qw(accounts journal_rules journal_entries journal_lines);

# ---- publisher ----------------------------------------------------------------

my $pub = PostgreSQL::Test::Cluster->new('acct_pub');
$pub->init(allows_streaming => 'logical');
$pub->append_conf('postgresql.conf', q{
log_statement = none
max_connections = 40
});
$pub->start;
$pub->safe_psql('postgres', 'CREATE DATABASE shop');
$pub->safe_psql('shop', q{
    CREATE EXTENSION oms;
    INSERT INTO oms.channels (code, name, kind, routing_strategy) VALUES ('web', 'Web', 'web', 'cheapest');
    INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority, handling_cost, cost_per_km, address) VALUES
        ('WH1', 'Warehouse Berlin',    'warehouse', 52.40, 13.51, 10, 1.50, 0.010, E'Lagerstr. 1\n12529 Berlin'),
        ('WH2', 'Warehouse Frankfurt', 'warehouse', 50.11,  8.68, 20, 1.20, 0.012, E'Hafenweg 2\n60314 Frankfurt');
    INSERT INTO oms.products (sku, name, kind, weight_kg) VALUES
        ('HOT1', 'Hot 1', 'stock', 0.4), ('HOT2', 'Hot 2', 'stock', 1.2),
        ('P1', 'Plenty 1', 'stock', 0.3), ('P2', 'Plenty 2', 'stock', 0.8);
    INSERT INTO oms.products (sku, name, kind) VALUES ('SVC', 'Gift wrap', 'service');
    INSERT INTO oms.carriers (code, name, tracking_url) VALUES ('dhl', 'DHL', 'https://dhl.example/track?n={{tracking_number}}');
    INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days)
        SELECT id, 'std', 'Paket', 2 FROM oms.carriers;
    INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
        SELECT id, 'EUR', NULL, NULL, 4.90 FROM oms.carrier_services;
    -- 15 known customers (orders of customers 16..18 are guests)
    INSERT INTO oms.customers (email, name)
        SELECT 'c' || i || '@example.com', 'Customer ' || i FROM generate_series(1, 15) i;
    -- gift cards that never run out
    SELECT oms.issue_gift_card('ACCT-GIFT-' || lpad(i::text, 4, '0'), 1000000, 'EUR') FROM generate_series(1, 5) i;
    -- the stock arrives on purchase orders, valued at cost (purchasing):
    -- receipts post inventory, shipments cost of goods sold
    INSERT INTO oms.suppliers (code, name) VALUES ('ACME', 'Acme Wholesale');
    INSERT INTO oms.supplier_products (supplier_id, product_id, unit_cost, currency, preferred)
        SELECT s.id, p.id, v.cost, 'EUR', true FROM oms.suppliers s,
               (VALUES ('HOT1', 8.1234), ('HOT2', 11.50), ('P1', 4.05), ('P2', 5.55)) v(sku, cost)
          JOIN oms.products p ON p.sku = v.sku;
    SELECT oms.send_purchase_order((oms.create_purchase_order('ACME', loc, lines) ->> 'purchase_order_id')::bigint) ->> 'status'
      FROM (VALUES ('WH1', '[{"sku": "HOT1", "qty": 40}, {"sku": "P1", "qty": 5000}, {"sku": "P2", "qty": 5000}]'::jsonb),
                   ('WH2', '[{"sku": "HOT1", "qty": 20}, {"sku": "HOT2", "qty": 40}, {"sku": "P1", "qty": 5000}, {"sku": "P2", "qty": 5000}]'::jsonb)) v(loc, lines);
    SELECT oms.receive_purchase_order(po.id, l.code, (SELECT jsonb_agg(jsonb_build_object('line', pl.line_no, 'qty', pl.qty_ordered))
                                                        FROM oms.purchase_order_lines pl WHERE pl.purchase_order_id = po.id)) ->> 'status'
      FROM oms.purchase_orders po JOIN oms.locations l ON l.id = po.location_id ORDER BY po.id;

    -- a purchase order of 3 units of a hot sku, sent and received (one in
    -- four damaged and written off) at a cost that varies
    CREATE FUNCTION public.storm_po(s int, l int, cost numeric, dmg int) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        sku text := (ARRAY['HOT1', 'HOT2'])[s];
        loc text := (ARRAY['WH1', 'WH2'])[l];
        po bigint;
        r jsonb;
    BEGIN
        po := (oms.create_purchase_order('ACME', loc, jsonb_build_array(jsonb_build_object('sku', sku, 'qty', 3, 'unit_cost', cost)))
               ->> 'purchase_order_id')::bigint;
        PERFORM oms.send_purchase_order(po);
        IF dmg = 1 THEN
            r := oms.receive_purchase_order(po, loc, jsonb_build_array(jsonb_build_object('line', 1, 'qty', 2),
                     jsonb_build_object('line', 1, 'qty', 1, 'condition', 'damaged')));
        ELSE
            r := oms.receive_purchase_order(po, loc, jsonb_build_array(jsonb_build_object('line', 1, 'qty', 3)));
        END IF;
        IF dmg = 1 THEN
            PERFORM oms.write_off(sku, loc, 1, 'storm: arrived broken');
        END IF;
        RETURN r;
    END $$;

    CREATE SEQUENCE public.storm_ext;
    CREATE SEQUENCE public.storm_trk;
    CREATE SEQUENCE public.storm_gift;
    CREATE TABLE public.storm_log (what text NOT NULL, state text, message text);

    -- up to 3 lines of s1..s3 (hot skus twice, a service), whole-cent unit
    -- prices with a discount and taxes that do not divide by the quantity
    CREATE FUNCTION public.storm_place(n int, s1 int, s2 int, s3 int, q1 int, q2 int, q3 int, cust int, pol int) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        skus text[] := ARRAY['HOT1', 'HOT2', 'HOT1', 'HOT2', 'P1', 'P2', 'P1', 'SVC'];
        prices numeric[] := ARRAY[19.90, 24.00, 19.90, 24.00, 9.90, 12.35, 9.90, 3.50];
        s int[] := ARRAY[s1, s2, s3];
        q int[] := ARRAY[q1, q2, q3];
        lines jsonb := '[]';
        doc jsonb;
    BEGIN
        FOR i IN 1 .. n LOOP
            lines := lines || jsonb_build_array(jsonb_build_object(
                'sku', skus[s[i]], 'qty', q[i], 'unit_price', prices[s[i]],
                'discount', CASE WHEN q[i] > 1 THEN 0.10 * s[i] ELSE 0 END,
                'tax', round(prices[s[i]] * q[i] * 0.19, 2) + 0.01));
        END LOOP;
        doc := jsonb_build_object(
            'channel', 'web', 'external_id', 'ac-' || nextval('public.storm_ext'), 'currency', 'EUR',
            'policy', (ARRAY['all_or_nothing', 'partial', 'backorder'])[pol],
            'ship_to', jsonb_build_object('name', 'Max Muster', 'line1', 'Ringstr. 7', 'postal_code', '12345',
                                          'city', 'Musterstadt', 'country', 'DE',
                                          'lat', round((47.5 + random() * 7)::numeric, 3),
                                          'lon', round((6 + random() * 9)::numeric, 3)),
            'lines', lines);
        IF cust <= 15 THEN
            doc := doc || jsonb_build_object('customer', jsonb_build_object('email', 'c' || cust || '@example.com'));
        END IF;
        RETURN oms.place_order(doc);
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('place', SQLSTATE, SQLERRM, ARRAY['OM001', '40001']) THEN
            RAISE;
        END IF;
        RETURN NULL;
    END $$;

    -- pay an unpaid order in full, every authorization captured at once:
    -- how 1 cash, 2 card, 3 a gift card for gpart percent and a card for
    -- the rest, 4 the customer's store credit as far as it goes and a card
    -- for the rest
    CREATE FUNCTION public.storm_pay(how int, gpart int, card int) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        pick bigint := (SELECT max(id) FROM oms.orders) * random();
        oid bigint;
        cust bigint;
        open numeric;
        part numeric;
        pay jsonb;
    BEGIN
        SELECT o.id, o.customer_id, o.total - COALESCE((SELECT sum(p.authorized - p.voided) FROM oms.payments p WHERE p.order_id = o.id), 0)
          INTO oid, cust, open
          FROM oms.orders o
         WHERE o.status IN ('pending_payment', 'backordered')
         ORDER BY o.id >= pick DESC, o.id LIMIT 1;
        IF oid IS NULL OR open <= 0 THEN
            RETURN NULL;
        END IF;
        IF how = 3 THEN
            part := greatest(round(open * gpart / 100, 2), 0.01);
            IF part < open THEN
                pay := oms.authorize_payment(oid, jsonb_build_object('method', 'gift_card', 'amount', part,
                           'gift_card_code', 'ACCT-GIFT-' || lpad(card::text, 4, '0')));
                PERFORM oms.capture_payment((pay ->> 'payment_id')::bigint);
                open := open - part;
            END IF;
        ELSIF how = 4 AND cust IS NOT NULL THEN
            part := least(open, (SELECT balance FROM oms.gift_cards WHERE kind = 'store_credit' AND customer_id = cust AND currency = 'EUR'));
            IF part > 0 THEN
                pay := oms.authorize_payment(oid, jsonb_build_object('method', 'store_credit', 'amount', part));
                PERFORM oms.capture_payment((pay ->> 'payment_id')::bigint);
                open := open - part;
            END IF;
        END IF;
        IF open > 0 THEN
            IF how = 1 THEN
                pay := oms.authorize_payment(oid, jsonb_build_object('method', 'cash', 'amount', open));
            ELSE
                pay := oms.authorize_payment(oid, jsonb_build_object('method', 'card', 'amount', open,
                           'token', 'tok_acct_' || oid, 'brand', 'visa', 'last4', '4242'));
            END IF;
            pay := oms.capture_payment((pay ->> 'payment_id')::bigint);
        END IF;
        RETURN pay;
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('pay', SQLSTATE, SQLERRM, ARRAY['55000', '22023', 'OM002']) THEN
            RAISE;
        END IF;
        RETURN NULL;
    END $$;

    -- ship from one location of an order: everything it holds there, or
    -- (part = 1) one unit of one line; a pending shipment left by a failed
    -- call is shipped as it is
    CREATE FUNCTION public.storm_ship(part int) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        pick bigint := (SELECT max(id) FROM oms.orders) * random();
        oid bigint;
        loc text;
        line int;
        sid bigint;
    BEGIN
        SELECT r.order_id, l.code, ol.line_no INTO oid, loc, line
          FROM oms.reservations r
          JOIN oms.orders o ON o.id = r.order_id
          JOIN oms.order_lines ol ON ol.id = r.order_line_id
          JOIN oms.locations l ON l.id = r.location_id
         WHERE r.status = 'active' AND o.status IN ('confirmed', 'in_fulfillment', 'partially_shipped')
         ORDER BY r.order_id >= pick DESC, r.order_id, random() LIMIT 1;
        IF oid IS NULL THEN
            RETURN NULL;
        END IF;
        SELECT s.id INTO sid FROM oms.shipments s JOIN oms.locations l ON l.id = s.location_id
         WHERE s.order_id = oid AND l.code = loc AND s.status = 'pending' ORDER BY s.id LIMIT 1;
        IF sid IS NULL THEN
            sid := (oms.create_shipment(oid, loc, CASE WHEN part = 1 THEN jsonb_build_array(jsonb_build_object('line_no', line, 'qty', 1)) END)
                    ->> 'shipment_id')::bigint;
        END IF;
        RETURN oms.ship(sid, 'dhl', 'std', 'TRK-' || nextval('public.storm_trk'));
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('ship', SQLSTATE, SQLERRM, ARRAY['55000', '22023']) THEN
            RAISE;
        END IF;
        RETURN NULL;
    END $$;

    -- an RMA for one line of a shipped order, 1 to 2 units of what looks
    -- returnable; resolution refund, or (credit = 1, a customer's order)
    -- store credit
    CREATE FUNCTION public.storm_rma(q int, credit int) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        pick bigint := (SELECT max(id) FROM oms.orders) * random();
        oid bigint;
        cust bigint;
        line int;
        returnable int;
    BEGIN
        SELECT o.id, o.customer_id, x.line_no, x.returnable INTO oid, cust, line, returnable
          FROM oms.orders o
          CROSS JOIN LATERAL (
              SELECT ol.line_no,
                     ol.qty_shipped - COALESCE((SELECT sum(rl.qty - rl.qty_missing) FROM oms.rma_lines rl JOIN oms.rmas r ON r.id = rl.rma_id
                                                 WHERE rl.order_line_id = ol.id AND r.status <> 'rejected'), 0) AS returnable
                FROM oms.order_lines ol JOIN oms.products p ON p.id = ol.product_id
               WHERE ol.order_id = o.id AND p.kind <> 'service') x
         WHERE o.status IN ('shipped', 'partially_shipped', 'delivered', 'partially_returned') AND x.returnable > 0
         ORDER BY o.id >= pick DESC, o.id, random() LIMIT 1;
        IF oid IS NULL THEN
            RETURN NULL;
        END IF;
        RETURN oms.create_rma(oid, jsonb_build_object(
            'resolution', CASE WHEN credit = 1 AND cust IS NOT NULL THEN 'store_credit' ELSE 'refund' END,
            'lines', jsonb_build_array(jsonb_build_object('line_no', line, 'qty', least(q, returnable), 'reason', 'defective'))));
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('rma', SQLSTATE, SQLERRM, ARRAY['22023', '55000']) THEN
            RAISE;
        END IF;
        RETURN NULL;
    END $$;

    -- receive an authorized RMA in full at WH1 (sellable or damaged) and
    -- resolve it: refund or store credit
    CREATE FUNCTION public.storm_return(cond int) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        pick bigint := (SELECT max(id) FROM oms.rmas) * random();
        rid bigint;
        lines jsonb;
    BEGIN
        SELECT id INTO rid FROM oms.rmas WHERE status = 'authorized' ORDER BY id >= pick DESC, id LIMIT 1;
        IF rid IS NULL THEN
            RETURN NULL;
        END IF;
        SELECT jsonb_agg(jsonb_build_object('line_no', ol.line_no, 'qty', rl.qty,
                                            'condition', CASE WHEN cond = 1 THEN 'damaged' ELSE 'sellable' END))
          INTO lines
          FROM oms.rma_lines rl JOIN oms.order_lines ol ON ol.id = rl.order_line_id WHERE rl.rma_id = rid;
        PERFORM oms.receive_rma(rid, 'WH1', lines);
        RETURN oms.refund_rma(rid);
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('return', SQLSTATE, SQLERRM, ARRAY['55000', '22023']) THEN
            RAISE;
        END IF;
        RETURN NULL;
    END $$;

    CREATE FUNCTION public.storm_cancel() RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        pick bigint := (SELECT max(id) FROM oms.orders) * random();
        oid bigint;
    BEGIN
        SELECT id INTO oid FROM oms.orders
         WHERE status IN ('pending_payment', 'backordered', 'confirmed', 'in_fulfillment', 'partially_shipped')
         ORDER BY id >= pick DESC, id LIMIT 1;
        IF oid IS NULL THEN
            RETURN NULL;
        END IF;
        RETURN oms.cancel_order(oid, 'storm');
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('cancel', SQLSTATE, SQLERRM, ARRAY['55000']) THEN
            RAISE;
        END IF;
        RETURN NULL;
    END $$;
});
$pub->safe_psql('shop', storm_sql('storm_caught'));
is($pub->safe_psql('shop', 'SELECT oms.create_accounting_publication()'), 'publication oms_accounting created',
    'oms.create_accounting_publication() creates the publication');

# ---- subscriber -----------------------------------------------------------------

# Accounting's database does not need oms: only the journal tables, with
# the publisher's columns, keys and CHECKs, which
# oms.accounting_subscriber_ddl() prints (no foreign keys, triggers or
# sequences: the rows, ids included, come from the publisher).
my $sub = PostgreSQL::Test::Cluster->new('acct_sub');
$sub->init;
$sub->start;
$sub->safe_psql('postgres', 'CREATE DATABASE accounting');
my $ddl = $pub->safe_psql('shop', 'SELECT oms.accounting_subscriber_ddl()');
like($ddl, qr/CREATE TABLE oms\.journal_lines/, 'oms.accounting_subscriber_ddl() prints the journal tables');
$sub->safe_psql('accounting', $ddl);

# the subscriber's tables are the publisher's: same columns, types,
# NOT NULLs and CHECKs (catches what oms.accounting_subscriber_ddl() misses)
my $shape = q{
    SELECT string_agg(x, E'\n' ORDER BY x) FROM (
        SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
               || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END AS x
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'oms' AND c.relname IN ('accounts', 'journal_rules', 'journal_entries', 'journal_lines')
           AND a.attnum > 0 AND NOT a.attisdropped
        UNION ALL
        SELECT c.relname || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid)
          FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'oms' AND c.relname IN ('accounts', 'journal_rules', 'journal_entries', 'journal_lines')
           AND k.contype IN ('c', 'p')
        UNION ALL
        SELECT pg_get_indexdef(i.indexrelid)
          FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'oms' AND c.relname IN ('accounts', 'journal_rules', 'journal_entries', 'journal_lines')) s};
is($sub->safe_psql('accounting', $shape), $pub->safe_psql('shop', $shape),
    "the subscriber's journal tables have the publisher's columns, types, primary keys, CHECKs and indexes");

my $pub_connstr = $pub->connstr . ' dbname=shop';
$sub->safe_psql('accounting',
    "CREATE SUBSCRIPTION oms_accounting CONNECTION '$pub_connstr' PUBLICATION oms_accounting");
$sub->wait_for_subscription_sync($pub, 'oms_accounting', 'accounting');
is($sub->safe_psql('accounting', q{
    SELECT (SELECT count(*) FROM oms.accounts) || ' accounts, ' || (SELECT count(*) FROM oms.journal_rules) || ' rules, '
           || (SELECT count(*) FROM oms.journal_entries) || ' entries'}),
    '13 accounts, 20 rules, 12 entries',
    'the initial copy brings the seeded chart of accounts, the rules, the gift cards sold and the stock received so far');

# ---- the storm, with the subscriber restarted twice in the middle ----------------

my %scripts = (
    'ac_place@10' => q{
\set n random(1, 3)
\set s1 random(1, 8)
\set s2 random(1, 8)
\set s3 random(1, 8)
\set q1 random(1, 3)
\set q2 random(1, 3)
\set q3 random(1, 3)
\set cust random(1, 18)
\set pol random(1, 3)
SELECT public.storm_place(:n, :s1, :s2, :s3, :q1, :q2, :q3, :cust, :pol);
},
    'ac_pay@8' => q{
\set how random(1, 4)
\set gpart random(5, 95)
\set card random(1, 5)
SELECT public.storm_pay(:how, :gpart, :card);
},
    'ac_ship@9' => q{
\set part random(1, 3)
SELECT public.storm_ship(:part);
},
    'ac_rma@4' => q{
\set q random(1, 2)
\set credit random(1, 3)
SELECT public.storm_rma(:q, :credit);
},
    'ac_return@4' => q{
\set cond random(1, 4)
SELECT public.storm_return(:cond);
},
    'ac_cancel@2' => q{
SELECT public.storm_cancel();
},
    'ac_gift@1' => q{
SELECT oms.issue_gift_card('ACCT-SOLD-' || lpad(nextval('public.storm_gift')::text, 6, '0'), 25, 'EUR');
},
    'ac_stock@1' => q{
\set s random(1, 2)
\set l random(1, 2)
\set cents random(500, 1500)
\set dmg random(1, 4)
SELECT public.storm_po(:s, :l, :cents / 100.0, :dmg);
},
);
my $dir = $pub->basedir;
my @files;
for my $name (sort keys %scripts)
{
    (my $file = "$dir/$name") =~ s/\@\d+$//;
    PostgreSQL::Test::Utils::append_to_file($file, $scripts{$name});
    push @files, '-f', "$file\@" . ($name =~ /\@(\d+)$/)[0];
}
my ($bench_out, $bench_err) = ('', '');
my $t0 = time;
my $bench = IPC::Run::start(
    [ 'pgbench', '-n', '-c', $clients, '-j', 4, '-t', $per_client, '--max-tries=10', @files,
      $pub->connstr('shop') . ' application_name=acct_storm' ],
    '<', \undef, '>', \$bench_out, '2>', \$bench_err,
    IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));

# the journal entries of the publisher, and whether the storm still runs
sub pub_entries { return $pub->safe_psql('shop', 'SELECT count(*) FROM oms.journal_entries') }
sub storm_clients
{
    return $pub->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'acct_storm'});
}

# wait until the publisher has written some entries and the subscriber has
# applied some of them
sub wait_until
{
    my ($what, $cond) = @_;
    my $deadline = time + 60;
    until ($cond->())
    {
        die "timed out waiting for $what" if time > $deadline;
        $bench->pump_nb;
        usleep(100_000);
    }
}

for my $round ([ 'fast', 300 ], [ 'immediate', 900 ])
{
    my ($mode, $min) = @$round;
    wait_until("$min entries on the subscriber", sub {
        $sub->safe_psql('accounting', 'SELECT count(*) FROM oms.journal_entries') >= $min });
    is(storm_clients(), $clients, "the storm runs when the subscriber is stopped ($mode, after $min entries applied)");
    $sub->stop($mode);
    my $at_stop = pub_entries();
    wait_until('the storm to go on without the subscriber', sub { pub_entries() >= $at_stop + 150 });
    $sub->start;
    my $at_start = pub_entries();
    cmp_ok($at_start, '>', $at_stop, "the publisher wrote entries while the subscriber was down ($at_stop -> $at_start)");
    is(storm_clients(), $clients, "the storm still runs when the subscriber is back ($mode)");
}

$bench->finish;
note sprintf('storm took %.1f s', time - $t0);
is($?, 0, 'pgbench exited 0') or diag($bench_err);
like($bench_out, qr{^number of transactions actually processed: ${\($clients * $per_client)}/${\($clients * $per_client)}$}m,
    'every storm transaction was processed');
like($bench_out, qr{^number of failed transactions: 0 }m, 'no storm transaction failed');
unlike($bench_err, qr/error|abort/i, 'pgbench reported no error') or diag($bench_err);

# ---- the subscriber converges ----------------------------------------------------

$pub->wait_for_catchup('oms_accounting');
my @sub_errors = grep { /ERROR:/ } split /\n/, slurp_file($sub->logfile);
is(join("\n", @sub_errors[ 0 .. ($#sub_errors < 4 ? $#sub_errors : 4) ]), '',
    'the subscriber applied every change without an error (no conflict after the restarts)');

for my $t (@tables)
{
    my $n = $pub->safe_psql('shop', "SELECT count(*) FROM oms.$t");
    is($sub->safe_psql('accounting', "SELECT count(*) FROM oms.$t"), $n, "oms.$t: $n rows on both sides");
}

my $per_account = q{
    SELECT string_agg(account || ' ' || debit || ' ' || credit, E'\n' ORDER BY account)
      FROM (SELECT account, sum(debit) AS debit, sum(credit) AS credit FROM oms.journal_lines GROUP BY 1) s};
my $pub_sums = $pub->safe_psql('shop', $per_account);
is($sub->safe_psql('accounting', $per_account), $pub_sums, 'per account, the sums of debits and credits are equal');
# the inventory entries balance on the subscriber too: its inventory
# account is the publisher's inventory value (moving average, what was
# received at cost less what shipped and was written off at average cost)
my ($inv_value, $inv_entries) = split /\|/, $pub->safe_psql('shop', q{
    SELECT (SELECT COALESCE(sum(value), 0) FROM oms.inventory_valuation),
           (SELECT string_agg(kind || '=' || n, ' ' ORDER BY kind) FROM (SELECT kind, count(*) AS n FROM oms.journal_entries
             WHERE kind IN ('inventory_receipt', 'cogs', 'write_off') GROUP BY 1) k)});
is($sub->safe_psql('accounting', q{SELECT COALESCE(sum(debit - credit), 0) FROM oms.journal_lines WHERE account = 'inventory'}),
    $inv_value, "on the subscriber the inventory account is the publisher's inventory value ($inv_value)");
like($inv_entries, qr/^cogs=\d+ inventory_receipt=\d+ write_off=\d+$/,
    "receipts, cost of goods sold and write-offs were posted ($inv_entries)");
is($sub->safe_psql('accounting', q{
    SELECT COALESCE(sum(debit - credit), 0) FROM oms.journal_lines
     WHERE account IN ('inventory', 'goods_received_not_invoiced', 'cost_of_goods_sold', 'inventory_loss')}), '0.0000',
    'on the subscriber the inventory entries balance among themselves (inventory + COGS + loss = goods received)');
note "per account (debit, credit):\n$pub_sums";

my %rows = (
    accounts => q{SELECT md5(string_agg(format('%s|%s|%s|%s', code, name, kind, seeded), E'\n' ORDER BY code)) FROM oms.accounts},
    journal_rules => q{SELECT md5(string_agg(format('%s|%s|%s|%s|%s', event, debit_account, credit_account, description, seeded),
                                             E'\n' ORDER BY event)) FROM oms.journal_rules},
    journal_entries => q{SELECT md5(string_agg(format('%s|%s|%s|%s|%s|%s|%s|%s|%s', id, extract(epoch FROM at), kind, currency,
                                                      order_id, payment_id, rma_id, shipment_id, memo), E'\n' ORDER BY id))
                           FROM oms.journal_entries},
    journal_lines => q{SELECT md5(string_agg(format('%s|%s|%s|%s|%s', id, entry_id, account, debit, credit), E'\n' ORDER BY id))
                         FROM oms.journal_lines});
for my $t (@tables)
{
    is($sub->safe_psql('accounting', $rows{$t}), $pub->safe_psql('shop', $rows{$t}), "oms.$t: every row is the same");
}

my $unbalanced = q{
    SELECT COALESCE(string_agg('entry ' || e.id || ' (' || e.kind || '): debits ' || COALESCE(l.debit, 0)
                               || ', credits ' || COALESCE(l.credit, 0) || ', ' || COALESCE(l.n, 0) || ' lines', E'\n' ORDER BY e.id), '')
      FROM oms.journal_entries e
      LEFT JOIN (SELECT entry_id, sum(debit) AS debit, sum(credit) AS credit, count(*) AS n FROM oms.journal_lines GROUP BY 1) l
             ON l.entry_id = e.id
     WHERE COALESCE(l.debit, 0) <> COALESCE(l.credit, 0) OR COALESCE(l.n, 0) < 2};
is($sub->safe_psql('accounting', $unbalanced), '', 'on the subscriber every entry balances (and has two lines or more)');
is($pub->safe_psql('shop', $unbalanced), '', 'on the publisher every entry balances (and has two lines or more)');
is($sub->safe_psql('accounting', q{
    SELECT count(*) FROM oms.journal_lines l WHERE NOT EXISTS (SELECT FROM oms.journal_entries e WHERE e.id = l.entry_id)
                                              OR NOT EXISTS (SELECT FROM oms.accounts a WHERE a.code = l.account)}), '0',
    'on the subscriber every line has its entry and its account');

# ---- the publisher's journal says what the business did -----------------------------

my $violations = $pub->safe_psql('shop', 'SELECT invariant, detail FROM oms.check() ORDER BY 1, 2');
is($violations, '', 'oms.check() is empty on the publisher') or diag("oms.check() rows:\n$violations");

# revenue and tax recognised per order = those of the units shipped: per
# line round(net x shipped / qty, 4) and round(tax x shipped / qty, 4); a
# second recognition of the same units would show here
my $recognised = $pub->safe_psql('shop', q{
    WITH shipped AS (
        SELECT order_id, sum(round((unit_price * qty - discount) * qty_shipped / qty, 4)) AS net,
               sum(round(tax * qty_shipped / qty, 4)) AS tax
          FROM oms.order_lines GROUP BY 1),
    booked AS (
        SELECT e.order_id, sum(l.credit - l.debit) FILTER (WHERE l.account = 'sales_revenue') AS net,
               sum(l.credit - l.debit) FILTER (WHERE l.account = 'tax_payable') AS tax
          FROM oms.journal_entries e JOIN oms.journal_lines l ON l.entry_id = e.id
         WHERE e.kind = 'shipment' GROUP BY 1)
    SELECT COALESCE(string_agg('order ' || order_id || ': shipped ' || COALESCE(s.net, 0) || ' + tax ' || COALESCE(s.tax, 0)
                               || ', recognised ' || COALESCE(b.net, 0) || ' + tax ' || COALESCE(b.tax, 0), E'\n' ORDER BY order_id), '')
      FROM shipped s FULL JOIN booked b USING (order_id)
     WHERE COALESCE(s.net, 0) <> COALESCE(b.net, 0) OR COALESCE(s.tax, 0) <> COALESCE(b.tax, 0)});
is($recognised, '', 'per order, the revenue and tax recognised are those of the units shipped') or diag($recognised);

# per payment and account: the journal is the payment's captures and
# refunds on the accounts of the rules (A/R for captures and for refunds
# of cancellations, sales_returns for refunds of RMAs, the method's
# account: cash_clearing, gift_card_liability, store_credit_liability)
my $per_payment = $pub->safe_psql('shop', q{
    WITH tx AS (
        SELECT t.payment_id, t.kind, t.amount, t.reason ~ '^RMA [0-9]+$' AS for_rma,
               CASE p.method WHEN 'gift_card' THEN 'gift_card_liability' WHEN 'store_credit' THEN 'store_credit_liability'
                             ELSE 'cash_clearing' END AS money
          FROM oms.payment_transactions t JOIN oms.payments p ON p.id = t.payment_id
         WHERE t.kind IN ('capture', 'refund')),
    want AS (
        SELECT payment_id, account, sum(amount) AS net FROM (
            SELECT payment_id, money AS account, CASE kind WHEN 'capture' THEN amount ELSE -amount END AS amount FROM tx
            UNION ALL
            SELECT payment_id, CASE WHEN kind = 'capture' OR NOT for_rma THEN 'accounts_receivable' ELSE 'sales_returns' END,
                   CASE kind WHEN 'capture' THEN -amount ELSE amount END FROM tx) x
         GROUP BY 1, 2),
    -- a refund for returned units takes its tax share off tax_payable
    -- (return_refund_tax: Dr tax_payable, Cr sales_returns, issue 18): the
    -- two lines together are the refund's sales_returns line
    got AS (
        SELECT e.payment_id, CASE WHEN e.kind = 'refund' AND l.account = 'tax_payable' THEN 'sales_returns' ELSE l.account END AS account,
               sum(l.debit - l.credit) AS net
          FROM oms.journal_entries e JOIN oms.journal_lines l ON l.entry_id = e.id
         WHERE e.payment_id IS NOT NULL GROUP BY 1, 2)
    SELECT COALESCE(string_agg('payment ' || payment_id || ' ' || account || ': transactions ' || COALESCE(w.net, 0)
                               || ', journal ' || COALESCE(g.net, 0), E'\n' ORDER BY payment_id, account), '')
      FROM want w FULL JOIN got g USING (payment_id, account)
     WHERE COALESCE(w.net, 0) <> COALESCE(g.net, 0)});
is($per_payment, '',
    'per payment and account, the journal is its captures and refunds on the accounts of the rules') or diag($per_payment);

my ($sc_journal, $sc_rmas, $sc_issued) = split /\|/, $pub->safe_psql('shop', q{
    SELECT (SELECT COALESCE(sum(l.credit), 0) FROM oms.journal_entries e JOIN oms.journal_lines l ON l.entry_id = e.id
             WHERE e.kind = 'store_credit_issue' AND l.account = 'store_credit_liability'),
           (SELECT COALESCE(sum(store_credit), 0) FROM oms.rmas),
           (SELECT COALESCE(sum(issued), 0) FROM oms.gift_cards WHERE kind = 'store_credit')});
ok($sc_journal == $sc_rmas && $sc_rmas == $sc_issued,
    "store credit issued in the journal ($sc_journal) = the RMAs' store credit ($sc_rmas) = what the store credit accounts were issued ($sc_issued)");

is($pub->safe_psql('shop', q{
    SELECT COALESCE(string_agg(account || ': journal ' || j || ', balances ' || b, '; '), '') FROM (
        SELECT 'gift_card_liability' AS account,
               (SELECT COALESCE(sum(credit - debit), 0) FROM oms.journal_lines WHERE account = 'gift_card_liability') AS j,
               (SELECT COALESCE(sum(balance), 0) FROM oms.gift_cards WHERE kind = 'gift_card') AS b
        UNION ALL
        SELECT 'store_credit_liability',
               (SELECT COALESCE(sum(credit - debit), 0) FROM oms.journal_lines WHERE account = 'store_credit_liability'),
               (SELECT COALESCE(sum(balance), 0) FROM oms.gift_cards WHERE kind = 'store_credit')) x
     WHERE j <> b}), '',
    'the gift card and store credit liabilities are the balances outstanding (every authorization was captured)');

my $receivable = $pub->safe_psql('shop', q{
    WITH ar AS (
        SELECT e.order_id, sum(l.debit - l.credit) AS ar
          FROM oms.journal_entries e JOIN oms.journal_lines l ON l.entry_id = e.id
         WHERE l.account = 'accounts_receivable' GROUP BY 1),
    paid AS (
        SELECT order_id, sum(captured) AS captured FROM oms.payments GROUP BY 1)
    SELECT COALESCE(string_agg('order ' || o.id || ' (' || o.status || '): A/R ' || COALESCE(ar.ar, 0), E'\n' ORDER BY o.id), '')
      FROM oms.orders o
      LEFT JOIN ar ON ar.order_id = o.id
      LEFT JOIN paid ON paid.order_id = o.id
     WHERE COALESCE(ar.ar, 0) <> 0
       AND (o.status = 'cancelled'
            OR (paid.captured = o.total
                AND NOT EXISTS (SELECT FROM oms.payment_transactions t
                                 WHERE t.order_id = o.id AND t.kind = 'refund' AND t.reason !~ '^RMA [0-9]+$')
                AND NOT EXISTS (SELECT FROM oms.order_lines l WHERE l.order_id = o.id AND l.qty_shipped < l.qty)))});
is($receivable, '', 'A/R nets to 0 for cancelled orders and for orders paid and shipped in full') or diag($receivable);

# ---- the storm really happened ----------------------------------------------------

note "business errors caught (SQLSTATE, message with numbers as #):\n"
  . $pub->safe_psql('shop', q{
    SELECT what || ' ' || state || ' x' || count(*) || ': ' || m
      FROM (SELECT what, state, regexp_replace(message, '[0-9]+', '#', 'g') AS m FROM public.storm_log) x
     GROUP BY what, state, m ORDER BY what, state, count(*) DESC});
my %n = map { split /=/ } split /\n/, $pub->safe_psql('shop', q{
    SELECT 'entries=' || count(*) FROM oms.journal_entries
    UNION ALL SELECT kind || '=' || count(*) FROM oms.journal_entries GROUP BY kind
    UNION ALL SELECT 'captures_' || p.method || '=' || count(*) FROM oms.journal_entries e JOIN oms.payments p ON p.id = e.payment_id
               WHERE e.kind = 'capture' GROUP BY p.method
    UNION ALL SELECT 'cancel_refunds=' || count(*) FROM oms.journal_entries e JOIN oms.journal_lines l ON l.entry_id = e.id
               WHERE e.kind = 'refund' AND l.account = 'accounts_receivable'
    UNION ALL SELECT 'rma_refunds=' || count(*) FROM oms.journal_entries e JOIN oms.journal_lines l ON l.entry_id = e.id
               WHERE e.kind = 'refund' AND l.account = 'sales_returns'
    UNION ALL SELECT 'orders_shipped_in_parts=' || count(*) FROM (
               SELECT order_id FROM oms.journal_entries WHERE kind = 'shipment' GROUP BY 1 HAVING count(*) > 1) x
    UNION ALL SELECT 'orders_paid_and_shipped_in_full=' || count(*) FROM oms.orders o
               WHERE o.total = (SELECT sum(captured) FROM oms.payments p WHERE p.order_id = o.id)
                 AND NOT EXISTS (SELECT FROM oms.order_lines l WHERE l.order_id = o.id AND l.qty_shipped < l.qty)
    UNION ALL SELECT 'orders=' || count(*) FROM oms.orders
    UNION ALL SELECT 'cancelled=' || count(*) FROM oms.orders WHERE status = 'cancelled'});
note join(', ', map { "$_ $n{$_}" } sort keys %n);
cmp_ok($n{entries}, '>', 2000, 'the journal has thousands of entries');
cmp_ok($n{captures_card} // 0, '>', 200, 'card captures were booked');
cmp_ok($n{captures_cash} // 0, '>', 50, 'cash captures were booked');
cmp_ok($n{captures_gift_card} // 0, '>', 30, 'gift card captures were booked');
cmp_ok($n{captures_store_credit} // 0, '>', 5, 'store credit captures were booked');
cmp_ok($n{shipment} // 0, '>', 300, 'revenue was recognised on shipments');
cmp_ok($n{orders_shipped_in_parts} // 0, '>', 30, 'orders were shipped (and recognised) in parts');
cmp_ok($n{orders_paid_and_shipped_in_full} // 0, '>', 100, 'orders were paid and shipped in full');
cmp_ok($n{cancel_refunds} // 0, '>', 20, 'cancellations refunded captured money');
cmp_ok($n{rma_refunds} // 0, '>', 30, 'RMAs were refunded');
cmp_ok($n{store_credit_issue} // 0, '>', 10, 'store credit was issued for RMAs');
cmp_ok($n{gift_card_issue} // 0, '>', 20, 'gift cards were sold during the storm');

$sub->stop;
$pub->stop;
done_testing();
