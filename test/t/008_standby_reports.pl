# Reports on a streaming hot standby: BI reads a replica, so every report
# must answer there exactly as it does on the primary.
#
# A primary (allows_streaming) runs CREATE EXTENSION oms, a fixture and a
# first part of the workload; a base backup of it starts a streaming hot
# standby; the rest of the workload runs on the primary while the standby
# streams, so what the standby shows comes from replayed WAL as well as from
# the backup. The workload goes through the oms API: orders placed (web and
# app channels, customers and guests, a kit, a service, EUR and USD, a split
# over two locations, backorders), paid with authorize_payment +
# capture_payment (card, cash, a gift card part), shipped with
# create_shipment + ship, delivered, one rejected by a location and
# re-routed, one shipment still packing, a paid order cancelled (refunded),
# a receipt that fills a backorder, and RMAs received (sellable, damaged,
# missing) and resolved by refund_rma (refund, store credit). Every report
# has rows (asserted).
#
# After the standby has replayed everything the primary wrote:
#   - the materialized reports were refreshed on the primary (each with
#     rows) and are compared like the views; oms.refresh_reports() on the
#     standby fails and says to call it on the primary; after a new order
#     and a refresh on the primary, the standby's report_channels_mv
#     counts it;
#   - the standby is in recovery, and writes on it fail as read-only (plain
#     SQL, an oms API call, and a temporary table of the BI role, which the
#     primary allows);
#   - a LOGIN role that is a member of oms_reporting, created on the primary
#     (roles replicate), reads the same set of oms.report_* views on both
#     nodes: discovered from the catalog at run time (views and
#     materialized views named oms.report_*), so reports added later are
#     covered without touching this file; there must be at least one;
#   - for each of them, plus oms.stock_levels, oms.return_stats and
#     oms.journal, that role gets the same rows on both nodes: the row count
#     and an md5 over every row's text in a fixed order
#     (string_agg(t::text ORDER BY t::text)) are equal. On a difference both
#     sides are shown in full.
#
# Time: a view may use now() (report_backorders.age_days is the whole days
# since placed_at at the start of the reading transaction); the two
# readings are separate transactions on two nodes. The elapsed days of the
# orders here are far from a day boundary (all placed minutes ago or
# backdated by whole days plus 12 hours), so the two readings agree; no
# column is left out of the comparison. Both queries run right after each
# other, and a view that differs is read once more on both nodes before it
# counts as a failure (a value that crossed a boundary between the two
# readings, e.g. a future view keyed on current_date at midnight UTC, is
# the same on the second reading; a view calling a volatile function like
# random() or clock_timestamp(), or anything that only the primary sees,
# differs again and fails).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', q{
log_statement = none
});
$primary->start;

$primary->safe_psql('postgres', 'CREATE DATABASE shop');
$primary->safe_psql('shop', q{
    CREATE EXTENSION oms;
    -- the BI login: reads reports, nothing else
    CREATE ROLE bi LOGIN IN ROLE oms_reporting;

    INSERT INTO oms.channels (code, name, kind, routing_strategy, hold_minutes) VALUES
        ('web', 'Web shop', 'web', 'priority', 0),
        ('app', 'Mobile app', 'mobile', 'closest', 0);
    -- a promotion that no order uses: oms.report_promotions lists it all the same
    INSERT INTO oms.promotions (code, name, kind, value) VALUES ('spring', 'Spring sale', 'percent_off', 10);
    INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority, pickup, address) VALUES
        ('BER', 'Berlin warehouse',  'warehouse', 52.5200, 13.4050, 10, false, E'Lagerstrasse 1\n10115 Berlin\nDE'),
        ('HAM', 'Hamburg warehouse', 'warehouse', 53.5511,  9.9937, 20, false, E'Hafenweg 7\n20457 Hamburg\nDE'),
        ('MUC', 'Munich store',      'store',     48.1374, 11.5755, 30, true,  E'Marienplatz 4\n80331 Muenchen\nDE');
    INSERT INTO oms.products (sku, name, kind, weight_kg, unit_cost, reorder_point, reorder_qty) VALUES
        ('TENT',    'Tent for two',      'stock',   2.500, 55.5,  5, 10),
        ('MUG',     'Enamel mug',        'stock',   0.400,  2.25, 50, 40),
        ('LAMP',    'Camping lamp',      'stock',   1.200, NULL,  2, 0),
        ('BOOT',    'Hiking boot',       'stock',   1.100, 40,    0, 0),
        ('CAP',     'Sun cap',           'stock',   0.100,  3,    0, 0),
        ('CAMPSET', 'Tent and two mugs', 'kit',     0,     NULL,  0, 0),
        ('WRAP',    'Gift wrap',         'service', 0,     NULL,  0, 0);
    INSERT INTO oms.kit_components SELECT k.id, c.id, v.q
      FROM (VALUES ('CAMPSET', 'TENT', 1), ('CAMPSET', 'MUG', 2)) v(kit, sku, q)
      JOIN oms.products c ON c.sku = v.sku JOIN oms.products k ON k.sku = v.kit;
    INSERT INTO oms.customers (external_ref, email, name, flags) VALUES
        ('ann', 'ann@example.com', 'Ann Example', '{}'),
        ('bob', 'bob@example.com', 'Bob Example', '{vip}'),
        ('cyd', 'cyd@example.com', 'Cyd Example', '{}'),
        ('dee', 'ap@dee.example', 'Dee Trading', '{terms}');
    INSERT INTO oms.carriers (code, name, tracking_url) VALUES
        ('dhl', 'DHL', 'https://www.dhl.de/track?piececode={{tracking_number}}');
    INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days)
        SELECT id, 'standard', 'Paket', 2 FROM oms.carriers WHERE code = 'dhl';
    INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
        SELECT s.id, c.cur, NULL, NULL, 5.99 FROM oms.carrier_services s, (VALUES ('EUR'), ('USD')) c(cur);
    -- no boots anywhere; lamps only in Berlin
    SELECT count(oms.receive_stock(sku, loc, qty)) FROM (VALUES
        ('TENT', 'BER', 20), ('TENT', 'HAM', 6), ('TENT', 'MUC', 2), ('MUG', 'BER', 30), ('MUG', 'MUC', 8),
        ('LAMP', 'BER', 3), ('CAP', 'BER', 1), ('CAP', 'HAM', 4)) AS v(sku, loc, qty);
    SELECT oms.issue_gift_card('GIFT-0001', 100, 'EUR');
    -- a purchase order sent and waiting (oms.report_purchase_orders)
    INSERT INTO oms.suppliers (code, name) VALUES ('ACME', 'Acme');
    INSERT INTO oms.supplier_products (supplier_id, product_id, unit_cost, currency, preferred)
        SELECT s.id, p.id, 7.5, 'EUR', true FROM oms.suppliers s, oms.products p WHERE p.sku = 'BOOT';
    SELECT oms.send_purchase_order((oms.create_purchase_order('ACME', 'BER', '[{"sku": "BOOT", "qty": 12}]')
                                    ->> 'purchase_order_id')::bigint) ->> 'status';

    -- workload helpers (public, used by the superuser that runs the workload)
    -- place an order; lines [[sku, qty, unit_price, discount, tax], ...];
    -- cust NULL: a guest; extra keys are merged into the document
    CREATE FUNCTION public.place(ext text, lines jsonb, cust text DEFAULT 'ann', channel text DEFAULT 'web',
                                 extra jsonb DEFAULT '{}') RETURNS bigint LANGUAGE sql AS
    $$ SELECT (oms.place_order(jsonb_build_object('channel', channel, 'external_id', ext, 'currency', 'EUR',
           'ship_to', jsonb_build_object('name', 'Max Muster', 'line1', 'Am Kanal 5', 'postal_code', '14467',
                                         'city', 'Potsdam', 'country', 'DE', 'lat', 52.3906, 'lon', 13.0645),
           'lines', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('sku', l ->> 0, 'qty', (l ->> 1)::int,
                                      'unit_price', (l ->> 2)::numeric, 'discount', (l ->> 3)::numeric,
                                      'tax', (l ->> 4)::numeric)))
                       FROM jsonb_array_elements(lines) l))
           || CASE WHEN cust IS NULL THEN '{}' ELSE jsonb_build_object('customer', jsonb_build_object('external_ref', cust)) END
           || extra) ->> 'order_id')::bigint $$;
    CREATE FUNCTION public.oid_of(ext text) RETURNS bigint LANGUAGE sql AS
    $$ SELECT id FROM oms.orders WHERE external_id = ext $$;
    CREATE FUNCTION public.rma_of(ext text) RETURNS bigint LANGUAGE sql AS
    $$ SELECT max(r.id) FROM oms.rmas r JOIN oms.orders o ON o.id = r.order_id WHERE o.external_id = ext $$;
    -- pay the open amount: authorize, then capture; how card | cash |
    -- gift (a gift card pays 20.00, a card the rest)
    CREATE FUNCTION public.pay(ext text, how text DEFAULT 'card') RETURNS text LANGUAGE plpgsql AS $$
    DECLARE
        o oms.orders;
        open numeric;
        a jsonb;
    BEGIN
        SELECT * INTO o FROM oms.orders WHERE external_id = ext;
        open := o.total;
        IF how = 'gift' THEN
            a := oms.authorize_payment(o.id, jsonb_build_object('method', 'gift_card', 'amount', 20,
                                                                'gift_card_code', 'GIFT-0001'));
            PERFORM oms.capture_payment((a ->> 'payment_id')::bigint);
            open := open - 20;
        END IF;
        IF how = 'cash' THEN
            a := oms.authorize_payment(o.id, jsonb_build_object('method', 'cash', 'amount', open));
        ELSE
            a := oms.authorize_payment(o.id, jsonb_build_object('method', 'card', 'amount', open,
                                                                'token', 'tok_' || ext, 'brand', 'visa', 'last4', '4242'));
        END IF;
        RETURN oms.capture_payment((a ->> 'payment_id')::bigint) ->> 'order_status';
    END $$;
    -- ship what the order holds at every location (create_shipment + ship)
    -- and deliver it unless deliver is false; returns the order's status
    CREATE FUNCTION public.send(ext text, deliver boolean DEFAULT true) RETURNS text LANGUAGE plpgsql AS $$
    DECLARE
        loc text;
        s bigint;
        st text;
    BEGIN
        FOR loc IN SELECT DISTINCT l.code FROM oms.reservations r JOIN oms.locations l ON l.id = r.location_id
                    WHERE r.order_id = oid_of(ext) AND r.status = 'active' ORDER BY 1
        LOOP
            s := (oms.create_shipment(oid_of(ext), loc) ->> 'shipment_id')::bigint;
            st := oms.ship(s, 'dhl', 'standard', 'JJD-' || ext || '-' || loc) ->> 'order_status';
            IF deliver THEN
                st := oms.deliver(s) ->> 'order_status';
            END IF;
        END LOOP;
        RETURN st;
    END $$;
});

# first part of the workload: in the base backup
is($primary->safe_psql('shop', q{
    SELECT place('O1', '[["TENT", 2, 100, 10, 19], ["WRAP", 1, 5]]') IS NOT NULL, pay('O1'), send('O1');
    SELECT place('O2', '[["CAMPSET", 1, 80]]', 'bob') IS NOT NULL, pay('O2', 'gift'), send('O2');
    SELECT place('O3', '[["LAMP", 5, 30]]', NULL, 'app', '{"policy": "backorder"}') IS NOT NULL;
    SELECT status FROM oms.orders WHERE external_id = 'O3';
}), "t|confirmed|delivered\nt|confirmed|delivered\nt\nbackordered", 'first orders: two paid, shipped and delivered, one backordered');

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# the rest of the workload, streamed to the standby
is($primary->safe_psql('shop', q{
    -- more tents than any one location has (BER has 17 left): split, paid
    -- in cash, every parcel delivered
    SELECT place('O4', '[["TENT", 20, 90, 0, 17.10]]', 'cyd') IS NOT NULL, pay('O4', 'cash'), send('O4');
    -- app orders by distance, paid by card and gift card, one not delivered yet
    SELECT place('O5', '[["MUG", 4, 5], ["CAP", 2, 10]]', 'ann', 'app') IS NOT NULL, pay('O5', 'gift'), send('O5');
    SELECT place('O6', '[["MUG", 2, 5]]', 'bob', 'app') IS NOT NULL, pay('O6'), send('O6', false);
    -- in USD
    SELECT place('O7', '[["MUG", 1, 7]]', 'ann', 'web', '{"currency": "USD"}') IS NOT NULL, pay('O7'), send('O7');
    -- paid, then cancelled: the capture is refunded
    SELECT place('O8', '[["CAP", 1, 12]]', 'cyd') IS NOT NULL, pay('O8'),
           oms.cancel_order(oid_of('O8'), 'changed plans') ->> 'status';
    -- backorders: boots (none anywhere), kept waiting
    SELECT place('O9', '[["BOOT", 1, 60]]', 'bob', 'app', '{"policy": "backorder"}') IS NOT NULL;
    SELECT place('O10', '[["BOOT", 2, 60], ["MUG", 1, 5]]', NULL, 'web', '{"policy": "backorder"}') IS NOT NULL;
    -- paid, its shipment still being packed
    SELECT place('O11', '[["MUG", 3, 5]]', 'cyd') IS NOT NULL, pay('O11'),
           oms.create_shipment(oid_of('O11'), 'BER') ->> 'status';
    -- unpaid, rejected by the location it was routed to (BER has no tents
    -- left), re-routed to another one
    SELECT place('O12', '[["TENT", 1, 50]]', NULL) IS NOT NULL;
    SELECT jsonb_array_length(oms.reject_fulfillment(oid_of('O12'), (SELECT l.code FROM oms.reservations r
               JOIN oms.locations l ON l.id = r.location_id WHERE r.order_id = oid_of('O12') AND r.status = 'active'),
               'no_capacity') -> 'rejection' -> 'rerouted') > 0;
}), "t|confirmed|delivered\nt|confirmed|delivered\nt|confirmed|shipped\nt|confirmed|delivered\nt|confirmed|cancelled\nt\nt\n"
  . "t|confirmed|pending\nt\nt", 'more orders: split, app, USD, cancelled, backordered, packing, re-routed');

is($primary->safe_psql('shop', q{
    -- a receipt fills O3's lamps
    SELECT jsonb_array_length(oms.receive_stock('LAMP', 'BER', 4) -> 'backorders_filled') > 0;
    SELECT status FROM oms.orders WHERE external_id = 'O3';
    -- RMA of O1: a tent, defective, refund: back sellable, refunded
    SELECT oms.create_rma(oid_of('O1'), '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "refund"}') ->> 'status',
           oms.receive_rma(rma_of('O1'), 'BER', '[{"sku": "TENT", "qty": 1, "condition": "sellable"}]') ->> 'status',
           (oms.refund_rma(rma_of('O1')) ->> 'amount')::numeric > 0;
    -- RMA of O5: 2 caps, changed_mind, store credit: one damaged, one missing
    SELECT oms.create_rma(oid_of('O5'), '{"lines": [{"sku": "CAP", "qty": 2, "reason": "changed_mind"}], "resolution": "store_credit"}') ->> 'status',
           oms.receive_rma(rma_of('O5'), 'HAM', '[{"sku": "CAP", "qty": 1, "condition": "damaged"}, {"sku": "CAP", "qty": 1, "condition": "missing"}]') ->> 'status',
           (oms.refund_rma(rma_of('O5')) ->> 'amount')::numeric > 0;
    -- RMA of O4: 3 tents, too_large, refund: received in two parts, refunded twice
    SELECT oms.create_rma(oid_of('O4'), '{"lines": [{"sku": "TENT", "qty": 3, "reason": "too_large"}], "resolution": "refund"}') ->> 'status';
    SELECT oms.authorize_rma(rma_of('O4')) ->> 'status',
           oms.receive_rma(rma_of('O4'), 'HAM', '[{"sku": "TENT", "qty": 1, "condition": "sellable"}]') ->> 'status',
           (oms.refund_rma(rma_of('O4')) ->> 'amount')::numeric > 0;
    SELECT oms.receive_rma(rma_of('O4'), 'BER', '[{"sku": "TENT", "qty": 2, "condition": "damaged"}]') ->> 'status',
           (oms.refund_rma(rma_of('O4')) ->> 'amount')::numeric > 0;
    -- RMA of O7 rejected
    SELECT oms.create_rma(oid_of('O7'), '{"lines": [{"sku": "MUG", "qty": 1, "reason": "wrong_item"}], "resolution": "refund"}') IS NOT NULL,
           oms.reject_rma(rma_of('O7'), 'no proof') ->> 'status';
    -- history over several days: backdate some orders by whole days plus
    -- 12 hours (see the header: report_backorders ages them from now())
    UPDATE oms.orders SET placed_at = placed_at - interval '10 days 12 hours' WHERE external_id IN ('O1', 'O2', 'O9');
    UPDATE oms.orders SET placed_at = placed_at - interval '3 days 12 hours' WHERE external_id IN ('O3', 'O4', 'O8');
    -- a customer on payment terms: confirmed with an invoice (oms.report_ar_ageing)
    SELECT place('TERMS-1', '[["MUG", 1, 9]]', 'dee') IS NOT NULL;
    SELECT status FROM oms.orders WHERE external_id = 'TERMS-1';
    -- the materialized reports, refreshed on the primary, replicate
    SELECT count(*) FROM oms.refresh_reports() WHERE row_count > 0;
    SELECT count(*) FROM oms.check();
}), "t\npending_payment\nauthorized|received|t\nauthorized|received|t\nrequested\nauthorized|partially_received|t\nreceived|t\nt|rejected\nt\nconfirmed\n6\n0",
    'a receipt fills a backorder; RMAs received and refunded (refund, store credit, in parts), one rejected; a terms order invoiced; '
    . 'the six materialized reports refreshed with rows; oms.check() is empty');

# everything the primary wrote has been replayed
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

is($standby->safe_psql('shop', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
is($primary->safe_psql('shop', 'SELECT pg_is_in_recovery()'), 'f', 'the primary is not');
is($primary->safe_psql('postgres', q{SELECT state FROM pg_stat_replication WHERE application_name = 'standby'}),
    'streaming', 'the standby streams from the primary');

# writes fail on the standby: plain SQL, an oms API call, and the one write
# the BI role may make on the primary (a temporary table)
$primary->safe_psql('shop', 'CREATE TEMP TABLE scratch (i int)', connstr => $primary->connstr('shop') . ' user=bi');
for my $w (
    # undef: the cluster's superuser (the OS user running the tests, which is
    # postgres in CI and anyone with sudo elsewhere)
    [ undef, q{INSERT INTO oms.channels (code, name, kind) VALUES ('x', 'X', 'web')}, 'an INSERT' ],
    [ undef, q{SELECT oms.receive_stock('MUG', 'BER', 1)}, 'an oms API call (receive_stock)' ],
    [ undef, q{CREATE TABLE public.scratch (i int)}, 'a CREATE TABLE' ],
    [ 'bi', q{CREATE TEMP TABLE scratch (i int)}, 'a temporary table of the BI role (allowed on the primary)' ])
{
    my ($user, $sql, $what) = @$w;
    my ($rc, $out, $err) = $standby->psql('shop', $sql,
        connstr => $standby->connstr('shop') . (defined $user ? " user=$user" : ''));
    isnt($rc, 0, "$what fails on the standby");
    note("$what: $err");
    like($err, qr/read-only transaction|during recovery/,
        "$what: the standby refuses it") or diag($err);
}
is($primary->safe_psql('shop', q{SELECT on_hand FROM oms.stock_levels WHERE sku = 'MUG' AND location = 'BER'}),
   $standby->safe_psql('shop', q{SELECT on_hand FROM oms.stock_levels WHERE sku = 'MUG' AND location = 'BER'}),
   'nothing changed on the standby after the refused writes');
# refreshing the materialized reports is for the primary: the standby says so
{
    my ($rc, $out, $err) = $standby->psql('shop', 'SELECT * FROM oms.refresh_reports()');
    isnt($rc, 0, 'oms.refresh_reports() fails on the standby');
    like($err, qr/ERROR:  materialized reports cannot be refreshed on a standby/, 'refresh_reports on the standby: the error says why')
      or diag($err);
    like($err, qr/HINT:  Call oms.refresh_reports\(\) on the primary/, 'refresh_reports on the standby: the hint says where')
      or diag($err);
}

# the reports, as the BI role, on both nodes
my $bi_primary = $primary->connstr('shop') . ' user=bi';
my $bi_standby = $standby->connstr('shop') . ' user=bi';
sub bi_query
{
    my ($node, $connstr, $sql) = @_;
    return $node->safe_psql('shop', $sql, connstr => $connstr);
}

my $discover = q{
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'oms' AND c.relkind IN ('v', 'm') AND c.relname LIKE 'report\_%'
     ORDER BY 1};
my @reports = split /\n/, bi_query($primary, $bi_primary, $discover);
ok(scalar(@reports) > 0, 'there are oms.report_* views: ' . join(', ', @reports));
is(bi_query($standby, $bi_standby, $discover), join("\n", @reports), 'the standby has the same report views');
is($standby->safe_psql('shop', q{SELECT pg_has_role('bi', 'oms_reporting', 'MEMBER')}), 't',
   'the BI role (created on the primary) exists on the standby as a member of oms_reporting');

# row count and a digest of every row in a fixed order
sub digest_sql
{
    my ($view) = @_;
    return qq{SELECT count(*) || ' rows, md5 ' || COALESCE(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '-')
                FROM oms.$view t};
}
sub rows_sql
{
    my ($view) = @_;
    return qq{SELECT t::text FROM oms.$view t ORDER BY 1};
}

my @different;
for my $view (@reports, 'stock_levels', 'return_stats', 'journal')
{
    my $sql = digest_sql($view);
    my $on_primary = bi_query($primary, $bi_primary, $sql);
    my $on_standby = bi_query($standby, $bi_standby, $sql);
    if ($on_primary ne $on_standby)
    {
        # read once more on both nodes (see the header: time boundaries)
        note("oms.$view differed on the first reading (primary $on_primary, standby $on_standby); reading again");
        $on_primary = bi_query($primary, $bi_primary, $sql);
        $on_standby = bi_query($standby, $bi_standby, $sql);
    }
    unlike($on_primary, qr/^0 rows/, "oms.$view has rows to compare")
      or diag("oms.$view is empty on the primary: extend the workload of this test so that it has rows");
    is($on_standby, $on_primary, "oms.$view: the standby answers as the primary ($on_primary)")
      or do
    {
        push @different, $view;
        diag("oms.$view on the primary:\n" . bi_query($primary, $bi_primary, rows_sql($view))
              . "\noms.$view on the standby:\n" . bi_query($standby, $bi_standby, rows_sql($view)));
    };
}
is(join(', ', @different), '', 'no view differs between primary and standby');

# the comparison is not vacuous: the standby follows new writes, and a
# report shows them there once replayed
$primary->safe_psql('shop', q{SELECT place('O13', '[["MUG", 1, 5]]', 'ann') IS NOT NULL});
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is(bi_query($standby, $bi_standby, digest_sql('report_sales_daily')),
   bi_query($primary, $bi_primary, digest_sql('report_sales_daily')),
   'a new order shows in report_sales_daily on the standby once replayed');
is(bi_query($standby, $bi_standby, q{SELECT count(*) FROM oms.report_payment_reconciliation WHERE external_id = 'O13'}), '1',
   'the new order has its row in report_payment_reconciliation on the standby');
# and a materialized report shows it there once refreshed on the primary
my $channels_mv = q{SELECT orders_placed FROM oms.report_channels_mv WHERE channel = 'web' AND currency = 'EUR'};
my $mv_before = bi_query($standby, $bi_standby, $channels_mv);
$primary->safe_psql('shop', q{SELECT count(*) FROM oms.refresh_reports(ARRAY['report_channels_mv'])});
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is(bi_query($standby, $bi_standby, $channels_mv), $mv_before + 1,
   'the refreshed report_channels_mv counts the new order on the standby');

$standby->stop;
$primary->stop;
done_testing();
