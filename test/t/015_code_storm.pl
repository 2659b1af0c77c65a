# A pgbench storm on promotion codes (issue 18): 16 clients place orders
# with code LIMIT100 (usage_limit 100), with codes_required true and false
# mixed, a second code with a per-customer limit of 1 over 20 customers,
# and cancel random orders, which gives their uses back. Afterwards: the
# code's uses equal the live orders holding a use and never exceed 100
# (a final phase takes the last uses until the code is exhausted, so the
# limit is reached), no customer holds more than one use of the
# per-customer code, and oms.check() is empty.
#
# The helpers catch the refusals a code may get (OM012 exhausted, OM015
# not eligible) and nothing else: a deadlock, a constraint violation or an
# internal error fails the run.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OmsTap qw(storm_node storm_pgbench storm_aftermath);

my $clients = 16;
my $per_client = 40;

my $node = storm_node('codes', 'codes');
$node->safe_psql('codes', q{
    CREATE EXTENSION oms;
    INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web');
    INSERT INTO oms.locations (code, name, kind, latitude, longitude) VALUES ('WH1', 'Warehouse 1', 'warehouse', 52.40, 13.51);
    INSERT INTO oms.products (sku, name, kind) VALUES ('MUG', 'Mug', 'stock'), ('TEA', 'Tea', 'stock');
    SELECT oms.receive_stock('MUG', 'WH1', 1000000), oms.receive_stock('TEA', 'WH1', 1000000);
    INSERT INTO oms.price_lists (code, name, currency) VALUES ('public', 'Public', 'EUR');
    INSERT INTO oms.prices (price_list_id, product_id, unit_price)
        SELECT l.id, p.id, 10 FROM oms.price_lists l, oms.products p;
    INSERT INTO oms.promotions (code, name, kind, value) VALUES ('limited', 'Limited', 'percent_off', 10),
        ('once', 'Once per customer', 'percent_off', 5);
    INSERT INTO oms.promotion_codes (promotion_id, code, usage_limit)
        SELECT id, 'LIMIT100', 100 FROM oms.promotions WHERE code = 'limited';
    INSERT INTO oms.promotion_codes (promotion_id, code, per_customer_limit)
        SELECT id, 'ONCE', 1 FROM oms.promotions WHERE code = 'once';
    INSERT INTO oms.customers (external_ref, email)
        SELECT 'c' || i, 'c' || i || '@example.com' FROM generate_series(1, 20) i;

    CREATE SEQUENCE public.storm_ext;
    CREATE TABLE public.storm_log (what text NOT NULL, state text, order_id bigint);

    -- place an order with LIMIT100 (and ONCE for customer c<cust>);
    -- required: a refused code refuses the order, else it is reported
    CREATE FUNCTION public.storm_place(cust int, required int, once int) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        res jsonb;
    BEGIN
        res := oms.place_order(jsonb_build_object(
            'channel', 'web', 'external_id', 'storm-' || nextval('public.storm_ext'), 'currency', 'EUR',
            'customer', jsonb_build_object('external_ref', 'c' || cust),
            'codes', CASE WHEN once = 1 THEN '["LIMIT100", "ONCE"]'::jsonb ELSE '["limit100"]'::jsonb END,
            'codes_required', required = 1,
            'lines', '[{"sku": "MUG", "qty": 1}, {"sku": "TEA", "qty": 2}]'::jsonb));
        INSERT INTO public.storm_log (what, order_id) VALUES ('placed', (res ->> 'order_id')::bigint);
        RETURN res;
    EXCEPTION WHEN SQLSTATE 'OM012' OR SQLSTATE 'OM015' THEN
        INSERT INTO public.storm_log (what, state) VALUES ('refused', SQLSTATE);
        RETURN NULL;
    END $$;

    -- cancel a random order (a second cancel is a no-op)
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
});

storm_pgbench($node, 'codes', $clients, $per_client, 'code storm',
    {
        'place' => q{
\set cust random(1, 20)
\set required random(0, 1)
\set once random(0, 1)
SELECT public.storm_place(:cust, :required, :once);
},
        'cancel@1' => q{
SELECT public.storm_cancel();
},
    });

# the last phase: no cancels, every client takes uses until none is left
storm_pgbench($node, 'codes', $clients, 10, 'code storm, last uses',
    { 'last' => q{
\set cust random(1, 20)
SELECT public.storm_place(:cust, 1, 0);
} });

storm_aftermath($node, 'codes');

my ($uses, $live, $over, $refused, $placed, $cancelled) = split /\|/, $node->safe_psql('codes', q{
    SELECT k.uses,
           (SELECT count(*) FROM oms.order_codes oc JOIN oms.orders o ON o.id = oc.order_id
             WHERE oc.code_id = k.id AND oc.applied AND oc.released_at IS NULL AND o.status NOT IN ('cancelled', 'expired')),
           (SELECT count(*) FROM (SELECT oc.customer_id FROM oms.order_codes oc JOIN oms.orders o ON o.id = oc.order_id
                                    JOIN oms.promotion_codes c ON c.id = oc.code_id
                                   WHERE c.code = 'ONCE' AND oc.applied AND oc.released_at IS NULL
                                     AND o.status NOT IN ('cancelled', 'expired')
                                   GROUP BY 1 HAVING count(*) > 1) x),
           (SELECT count(*) FROM public.storm_log WHERE what = 'refused'),
           (SELECT count(*) FROM public.storm_log WHERE what = 'placed'),
           (SELECT count(*) FROM oms.orders WHERE status = 'cancelled')
      FROM oms.promotion_codes k WHERE k.code = 'LIMIT100'});
note "LIMIT100 uses $uses, live orders holding it $live; placed $placed, refused $refused, cancelled $cancelled";
is($uses, '100', 'exactly 100 uses of the code limited to 100');
is($live, '100', 'exactly 100 live orders hold a use of it');
is($over, '0', 'no customer holds two uses of the once-per-customer code');
cmp_ok($refused, '>', 0, 'orders ran into the limits (OM012) and were refused');
cmp_ok($cancelled, '>', 0, 'cancels gave uses back');
is($node->safe_psql('codes', q{
    SELECT count(*) FROM oms.order_codes WHERE code = 'LIMIT100' AND NOT applied AND refusal IS DISTINCT FROM 'exhausted'}),
   '0', 'every refusal of LIMIT100 reported in an order says exhausted');

$node->stop;
done_testing();
