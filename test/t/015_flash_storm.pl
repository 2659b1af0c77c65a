# A flash-sale storm (issue 15): 32 clients buy one hot SKU that has 1,000
# units, spread over 16 slots (oms.set_hot_product), one unit per order,
# while another client rebalances the slots now and then. Exactly 1,000
# units must be sold, none oversold, and no buyer may be told "sold out"
# (OM001) while units remained: an OM001 is false when an order that
# started after it still got a unit (the storm only ever takes units, so
# that unit was free when the OM001 was answered). oms.check() must be
# empty, and the ledger per slot must match the balances (check() compares
# them slot by slot).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OmsTap qw(storm_node storm_pgbench storm_aftermath);

my $clients = 32;
my $per_client = 40;    # 1,280 tries for 1,000 units

my $node = storm_node('flash', 'flash');
$node->safe_psql('flash', q{
    CREATE EXTENSION oms;
    INSERT INTO oms.channels (code, name, kind, hold_minutes) VALUES ('web', 'Web', 'web', 0);
    INSERT INTO oms.locations (code, name, kind, latitude, longitude) VALUES
        ('WH1', 'Warehouse 1', 'warehouse', 52.40, 13.51);
    INSERT INTO oms.products (sku, name, kind) VALUES ('DROP', 'The drop', 'stock');
    SELECT oms.receive_stock('DROP', 'WH1', 1000, 'the drop');
    SELECT oms.set_hot_product('DROP', 16);

    CREATE SEQUENCE public.flash_ext;
    CREATE TABLE public.flash_log (
        what     text NOT NULL,
        order_id bigint,
        started  timestamptz NOT NULL,
        ended    timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    CREATE FUNCTION public.flash_buy() RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
        t0 timestamptz := clock_timestamp();
        res jsonb;
    BEGIN
        res := oms.place_order(jsonb_build_object(
            'channel', 'web', 'external_id', 'flash-' || nextval('public.flash_ext'), 'currency', 'EUR',
            'policy', 'all_or_nothing',
            'lines', jsonb_build_array(jsonb_build_object('sku', 'DROP', 'qty', 1, 'unit_price', 99))));
        INSERT INTO public.flash_log (what, order_id, started) VALUES ('placed', (res->>'order_id')::bigint, t0);
    EXCEPTION WHEN SQLSTATE 'OM001' THEN
        INSERT INTO public.flash_log (what, started) VALUES ('om001', t0);
    END $$;
});

storm_pgbench($node, 'flash', $clients, $per_client, 'the flash sale',
    {
        'flash_buy@50' => q{SELECT public.flash_buy();},
        'flash_rebalance@1' => q{SELECT oms.rebalance_hot_product('DROP');},
    });

storm_aftermath($node, 'flash');

my ($placed, $sold, $om001, $false, $on_hand, $reserved, $slots_used) = split /\|/, $node->safe_psql('flash', q{
    SELECT (SELECT count(*) FROM public.flash_log WHERE what = 'placed'),
           (SELECT COALESCE(sum(l.qty_reserved), 0) FROM oms.order_lines l),
           (SELECT count(*) FROM public.flash_log WHERE what = 'om001'),
           (SELECT count(*) FROM public.flash_log f
             WHERE f.what = 'om001'
               AND f.ended < (SELECT max(started) FROM public.flash_log WHERE what = 'placed')),
           (SELECT on_hand FROM oms.stock_levels WHERE sku = 'DROP'),
           (SELECT reserved FROM oms.stock_levels WHERE sku = 'DROP'),
           (SELECT count(DISTINCT slot) FROM oms.reservations)});
note "placed $placed, units sold $sold, OM001 $om001 (false $false), on_hand $on_hand, reserved $reserved, "
  . "slots reserved from $slots_used";
is($sold, 1000, 'exactly 1,000 units sold');
is($placed, 1000, 'exactly 1,000 orders placed');
is($reserved, 1000, 'the balance holds 1,000 units reserved, none oversold');
is($on_hand, 1000, 'on_hand is still the 1,000 received');
is($false, 0, 'no false sold-out: no OM001 while units remained');
cmp_ok($om001, '>', 0, 'buyers after the sell-out got OM001');
cmp_ok($slots_used, '>=', 8, 'the units were reserved from many slots');
is($node->safe_psql('flash', q{SELECT count(*) FROM oms.orders o
        WHERE NOT EXISTS (SELECT FROM public.flash_log f WHERE f.order_id = o.id)}),
   '0', 'every order in oms.orders was answered as placed');

$node->stop;
done_testing();
