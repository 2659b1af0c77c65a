# A pgbench storm: 16 clients place orders (all three policies, hot and
# plentiful skus, a kit, a service), cancel them, edit them (issue 16:
# quantities up and down, lines added, removed and cancelled, a new ship-to
# that re-routes), receive stock that fills backorders and expire lapsed
# holds, all at once. Afterwards oms.check()
# must be empty, no sku may have more reserved than was ever received, and
# no balance may reserve more than it has on hand.
#
# pgbench aborts a client on any error (and counts a deadlock as a failed
# transaction), so the calls go through small plpgsql helpers in public that
# catch SQLSTATE OM001 (insufficient stock, an expected outcome) and nothing
# else: a deadlock, a guard violation or an internal error fails the run.
# Catching OM001 also exercises the extension's subtransaction-abort path.
# Expiry: the clock cannot be advanced, so storm_expire() moves one unpaid
# order's expires_at into the past before it runs oms.expire_reservations().
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OmsTap qw(server_log_problems storm_node storm_sql storm_receive_initial storm_pgbench restart_if_down);

my $clients = 16;
my $per_client = 500;

my $node = storm_node('storm', 'storm');
$node->safe_psql('storm', q{
    CREATE EXTENSION oms;
    INSERT INTO oms.channels (code, name, kind, hold_minutes) VALUES
        ('web', 'Web', 'web', NULL),      -- oms.hold_minutes (60): unpaid holds lapse
        ('app', 'App', 'mobile', 0);      -- held until paid or cancelled
    INSERT INTO oms.locations (code, name, kind, latitude, longitude, pickup, priority) VALUES
        ('WH1', 'Warehouse 1', 'warehouse', 52.40, 13.51, false, 10),
        ('WH2', 'Warehouse 2', 'warehouse', 50.11, 8.68, false, 20),
        ('ST1', 'Store 1', 'store', 48.13, 11.57, true, 50);
    INSERT INTO oms.products (sku, name, kind) VALUES
        ('HOT1', 'Hot 1', 'stock'), ('HOT2', 'Hot 2', 'stock'), ('HOT3', 'Hot 3', 'stock'),
        ('P1', 'Plenty 1', 'stock'), ('P2', 'Plenty 2', 'stock'), ('P3', 'Plenty 3', 'stock'),
        ('P4', 'Plenty 4', 'stock'), ('P5', 'Plenty 5', 'stock'),
        ('KIT1', 'Kit: 1 x HOT1 + 2 x P1', 'kit'), ('SVC', 'Gift wrap', 'service');
    INSERT INTO oms.kit_components (kit_id, component_id, qty)
        SELECT k.id, c.id, q FROM oms.products k,
               (VALUES ('HOT1', 1), ('P1', 2)) AS v(sku, q) JOIN oms.products c ON c.sku = v.sku
         WHERE k.sku = 'KIT1';

    -- what the storm did, written by the helpers (OM001 outcomes, receipts)
    CREATE SEQUENCE public.storm_ext;
    CREATE TABLE public.storm_log (
        what     text NOT NULL,
        policy   text,
        sku      text,
        location text,
        qty      integer,
        order_id bigint
    );

    -- s1..s3 index the sku list below (hot skus appear twice), pol the policy
    CREATE FUNCTION public.storm_place(n int, s1 int, s2 int, s3 int, q1 int, q2 int, q3 int,
                                       pol int, ch int, vip int) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        skus text[] := ARRAY['HOT1', 'HOT2', 'HOT3', 'HOT1', 'HOT2', 'HOT3', 'KIT1',
                             'P1', 'P2', 'P3', 'P4', 'P5', 'SVC'];
        policies text[] := ARRAY['all_or_nothing', 'partial', 'backorder'];
        s int[] := ARRAY[s1, s2, s3];
        q int[] := ARRAY[q1, q2, q3];
        lines jsonb := '[]';
        doc jsonb;
        res jsonb;
    BEGIN
        FOR i IN 1 .. n LOOP
            lines := lines || jsonb_build_array(jsonb_build_object(
                'sku', skus[s[i]], 'qty', q[i], 'unit_price', 9.5 + i));
        END LOOP;
        doc := jsonb_build_object(
            'channel', CASE ch WHEN 1 THEN 'web' ELSE 'app' END,
            'external_id', 'storm-' || nextval('public.storm_ext'),
            'currency', 'EUR',
            'policy', policies[pol],
            'flags', CASE WHEN vip = 1 THEN '["vip"]'::jsonb ELSE '[]'::jsonb END,
            'lines', lines);
        BEGIN
            res := oms.place_order(doc);
        EXCEPTION WHEN SQLSTATE 'OM001' THEN
            INSERT INTO public.storm_log (what, policy) VALUES ('om001', policies[pol]);
            RETURN NULL;
        END;
        INSERT INTO public.storm_log (what, policy, order_id)
             VALUES ('placed', policies[pol], (res ->> 'order_id')::bigint);
        RETURN res;
    END $$;

    -- cancel a random existing order (a second cancel is a no-op)
    CREATE FUNCTION public.storm_cancel() RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        pick bigint := (SELECT max(id) FROM oms.orders) * random();
        oid bigint;
    BEGIN
        SELECT id INTO oid FROM oms.orders WHERE id >= pick ORDER BY id LIMIT 1;
        IF oid IS NULL THEN
            RETURN NULL;
        END IF;
        RETURN oms.cancel_order(oid, 'storm');
    END $$;

    -- edit a random order: one change of every kind in turn (the kind is
    -- k); the refusals an edit documents (OM001 for an all_or_nothing
    -- order short of the added units, 55000 for a closed order or one the
    -- change would leave empty, 22023 for a line that is not there) are
    -- logged, anything else fails the storm
    CREATE FUNCTION public.storm_edit(k int, q int, s int) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        skus text[] := ARRAY['HOT1', 'HOT2', 'HOT3', 'KIT1', 'P1', 'P2', 'SVC'];
        pick bigint := (SELECT max(id) FROM oms.orders) * random();
        oid bigint;
        ln int;
        change jsonb;
        res jsonb;
    BEGIN
        SELECT id INTO oid FROM oms.orders WHERE id >= pick ORDER BY id LIMIT 1;
        IF oid IS NULL THEN
            RETURN NULL;
        END IF;
        ln := 1 + (q % 3);
        change := CASE k
            WHEN 1 THEN jsonb_build_object('op', 'set_qty', 'line_no', ln, 'qty', q)
            WHEN 2 THEN jsonb_build_object('op', 'add_line', 'sku', skus[s], 'qty', q, 'unit_price', 4.5)
            WHEN 3 THEN jsonb_build_object('op', 'remove_line', 'line_no', ln)
            WHEN 4 THEN jsonb_build_object('op', 'set_ship_to', 'ship_to',
                            jsonb_build_object('lat', (ARRAY[52.5, 50.1, 48.1])[s % 3 + 1], 'lon', (ARRAY[13.4, 8.7, 11.6])[s % 3 + 1]))
            ELSE NULL END;
        BEGIN
            IF k = 5 THEN
                res := oms.cancel_lines(oid, jsonb_build_object('lines', jsonb_build_array(jsonb_build_object('line_no', ln, 'qty', 1))));
            ELSE
                res := oms.edit_order(oid, jsonb_build_object('changes', jsonb_build_array(change)));
            END IF;
        EXCEPTION WHEN SQLSTATE 'OM001' OR SQLSTATE '55000' OR SQLSTATE '22023' THEN
            INSERT INTO public.storm_log (what, policy) VALUES ('edit_refused', SQLSTATE);
            RETURN NULL;
        END;
        INSERT INTO public.storm_log (what, policy, order_id) VALUES ('edited', k::text, oid);
        RETURN res;
    END $$;

    -- let time pass for one unpaid web order (its hold lapses now), then
    -- run the expiry job
    CREATE FUNCTION public.storm_expire() RETURNS integer
    LANGUAGE plpgsql AS $$
    DECLARE
        pick bigint := (SELECT max(id) FROM oms.orders) * random();
    BEGIN
        UPDATE oms.orders SET expires_at = now() - interval '1 second'
         WHERE id = (SELECT id FROM oms.orders
                      WHERE status = 'pending_payment' AND expires_at > now() AND id >= pick
                      ORDER BY id LIMIT 1);
        RETURN oms.expire_reservations();
    END $$;
});
$node->safe_psql('storm', storm_sql('storm_receive'));

# scarce hot skus (40 units each, spread differently), plentiful others
my %initial = (
    HOT1 => [ [ 'WH1', 20 ], [ 'ST1', 20 ] ],
    HOT2 => [ [ 'WH2', 40 ] ],
    HOT3 => [ [ 'WH1', 15 ], [ 'WH2', 15 ], [ 'ST1', 10 ] ],
    map { ("P$_" => [ [ 'WH1', 5000 ], [ 'WH2', 5000 ] ]) } 1 .. 5);
storm_receive_initial($node, 'storm', \%initial);
is($node->safe_psql('storm', q{SELECT sum(on_hand) FROM oms.stock_balances WHERE product_id IN
        (SELECT id FROM oms.products WHERE sku LIKE 'HOT%')}), '120', 'hot skus start with 40 units each');

storm_pgbench($node, 'storm', $clients, $per_client,
    'storm of orders, cancels, receipts and expiry',
    {
        'storm_place@12' => q{
\set n random(1, 3)
\set s1 random(1, 13)
\set s2 random(1, 13)
\set s3 random(1, 13)
\set q1 random(1, 4)
\set q2 random(1, 4)
\set q3 random(1, 4)
\set pol random(1, 3)
\set ch random(1, 2)
\set vip random(1, 10)
SELECT public.storm_place(:n, :s1, :s2, :s3, :q1, :q2, :q3, :pol, :ch, :vip);
},
        'storm_cancel@3' => q{
SELECT public.storm_cancel();
},
        'storm_edit@3' => q{
\set k random(1, 5)
\set q random(1, 4)
\set s random(1, 7)
SELECT public.storm_edit(:k, :q, :s);
},
        'storm_receive@1' => q{
\set s random(1, 8)
\set l random(1, 3)
\set q random(1, 4)
SELECT public.storm_receive((ARRAY['HOT1','HOT2','HOT3','P1','P2','P3','P4','P5'])[:s],
                            (ARRAY['WH1','WH2','ST1'])[:l], :q);
},
        'storm_expire@1' => q{
SELECT public.storm_expire();
},
    });
server_log_problems($node);

# A backend that crashes takes the node down (restart_after_crash = off):
# bring it back up, through crash recovery, so the data can still be judged.
restart_if_down($node);

# ---- the invariants ---------------------------------------------------------

my $violations = $node->safe_psql('storm', 'SELECT invariant, detail FROM oms.check() ORDER BY 1, 2');
is($violations, '', 'oms.check() is empty after the storm')
  or diag("oms.check() rows:\n$violations");

my $over = $node->safe_psql('storm', q{
    SELECT p.sku || ': reserved ' || COALESCE(r.qty, 0) || ', received ' || COALESCE(m.qty, 0)
      FROM oms.products p
      LEFT JOIN (SELECT product_id, sum(qty) AS qty FROM oms.reservations
                  WHERE status = 'active' GROUP BY 1) r ON r.product_id = p.id
      LEFT JOIN (SELECT product_id, sum(on_hand_delta) AS qty FROM oms.stock_movements
                  WHERE kind = 'receipt' GROUP BY 1) m ON m.product_id = p.id
     WHERE COALESCE(r.qty, 0) > COALESCE(m.qty, 0)
     ORDER BY p.sku});
is($over, '', 'no sku has more reserved (active reservations) than was ever received')
  or diag($over);

my $overbooked = $node->safe_psql('storm', q{
    SELECT sku || ' at ' || location || ': on_hand ' || on_hand || ', reserved ' || reserved
      FROM oms.stock_levels WHERE reserved > on_hand ORDER BY 1});
is($overbooked, '', 'no balance reserves more than it has on hand')
  or diag($overbooked);

# every receipt the helpers booked is in the ledger, and nothing else
is($node->safe_psql('storm', q{
    SELECT COALESCE(string_agg(sku || ': ledger ' || COALESCE(l, 0) || ', booked ' || COALESCE(b, 0), '; ' ORDER BY sku), '')
      FROM (SELECT p.sku, sum(m.on_hand_delta) AS l FROM oms.stock_movements m
              JOIN oms.products p ON p.id = m.product_id WHERE m.kind = 'receipt' GROUP BY 1) x
      FULL JOIN (SELECT sku, sum(qty) AS b FROM public.storm_log WHERE what = 'receipt' GROUP BY 1) y USING (sku)
     WHERE l IS DISTINCT FROM b}), '', 'the receipts in the ledger are exactly the receipts booked');

# every order place_order returned exists, and no OM001 call left an order behind
is($node->safe_psql('storm', q{
    SELECT (SELECT count(*) FROM oms.orders) = (SELECT count(*) FROM public.storm_log WHERE what = 'placed')
       AND NOT EXISTS (SELECT FROM public.storm_log g WHERE what = 'placed'
                        AND NOT EXISTS (SELECT FROM oms.orders o WHERE o.id = g.order_id))}),
    't', 'oms.orders holds exactly the orders place_order returned');

# ---- the storm really happened ---------------------------------------------

my ($placed, $om001, $om001_aon, $backorder_fills, $cancelled, $expired, $backordered, $kit_lines, $edited, $rerouted) = split /\|/,
  $node->safe_psql('storm', q{
    SELECT (SELECT count(*) FROM public.storm_log WHERE what = 'placed'),
           (SELECT count(*) FROM public.storm_log WHERE what = 'om001'),
           (SELECT count(*) FROM public.storm_log WHERE what = 'om001' AND policy = 'all_or_nothing'),
           (SELECT count(*) FROM oms.stock_movements WHERE kind = 'reservation' AND reference = 'backorder fill'),
           (SELECT count(*) FROM oms.orders WHERE status = 'cancelled'),
           (SELECT count(*) FROM oms.orders WHERE status = 'expired'),
           (SELECT count(*) FROM oms.order_lines WHERE qty_backordered > 0),
           (SELECT count(*) FROM oms.order_lines l JOIN oms.products p ON p.id = l.product_id
             WHERE p.kind = 'kit' AND l.qty_reserved > 0),
           (SELECT count(*) FROM oms.order_versions WHERE version > 1),
           (SELECT count(*) FROM oms.routing_decisions WHERE trigger = 'edit_order')});
note "placed $placed, OM001 $om001 (all_or_nothing $om001_aon), backorder fills $backorder_fills, "
  . "cancelled $cancelled, expired $expired, lines still backordered $backordered, kit lines reserved $kit_lines, "
  . "edits $edited (routed by edits $rerouted)";
cmp_ok($placed, '>=', 1000, 'a good number of orders were placed');
cmp_ok($om001_aon, '>', 20, 'all_or_nothing orders ran into OM001 (the subtransaction abort path)');
cmp_ok($backorder_fills, '>', 0, 'receipts filled backorders');
cmp_ok($cancelled, '>', 0, 'orders were cancelled');
cmp_ok($expired, '>', 0, 'unpaid holds expired');
cmp_ok($kit_lines, '>', 0, 'kits were reserved');
cmp_ok($edited, '>', 100, 'orders were edited');
cmp_ok($rerouted, '>', 0, 'edits routed units');
is($node->safe_psql('storm', q{SELECT count(*) FROM oms.order_versions v
        WHERE v.version > 1 AND NOT EXISTS (SELECT FROM oms.order_versions w
                                             WHERE w.order_id = v.order_id AND w.version = v.version - 1)}),
   '0', 'the versions of every edited order follow one another');

$node->stop;
done_testing();
