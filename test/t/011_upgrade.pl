# ALTER EXTENSION oms UPDATE from the released 0.1.0, tested as
# pg_stat_statements tests its old versions: install 0.1.0 (its frozen
# install script and its own library, oms.so, from make
# install-upgrade-fixtures), run orders through its API, update, then
#   - the catalog equals a fresh install's (test/upgrade/catalog.sql:
#     tables, columns, constraints, indexes, triggers, views, functions,
#     grants, comments, pg_dump registrations and seeded rows);
#   - the orders placed under 0.1.0 carry on through the 0.2.0 API (pay,
#     ship, return, refund, cancel);
#   - oms.check() is empty before and after.
# Also: ALTER EXTENSION UPDATE in a session that already loaded 0.1.0's
# library is refused with 55000 and changes nothing (one library per
# version, README "Upgrading").
use strict;
use warnings;
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $from = '0.1.0';
my $catalog_sql = slurp_file(dirname(__FILE__) . '/../upgrade/catalog.sql');

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->start;

my $to = $node->safe_psql('postgres', q{SELECT default_version FROM pg_available_extensions WHERE name = 'oms'});
# the fixtures are installed by test/run (make install-upgrade-fixtures); a
# run without them fails here, loudly, rather than skipping
is($node->safe_psql('postgres',
    qq{SELECT count(*) FROM pg_available_extension_versions WHERE name = 'oms' AND version = '$from'}),
    '1', "oms $from is installable (make install-upgrade-fixtures)")
    or BAIL_OUT("oms $from is not installed: run make upgrade-fixtures install-upgrade-fixtures (test/run does)");
isnt($to, $from, "the default version ($to) is newer than $from");

$node->safe_psql('postgres', 'CREATE DATABASE old');
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION oms');
$node->safe_psql('old', "CREATE EXTENSION oms VERSION '$from'");
is($node->safe_psql('old', 'SELECT oms.version()'), $from, "the $from library answers for the $from install");

# ---- a shop under 0.1.0 -------------------------------------------------------
sub old_sql { return $node->safe_psql('old', $_[0]); }
old_sql(q{
    INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web');
    INSERT INTO oms.locations (code, name, kind, latitude, longitude) VALUES ('WH', 'Warehouse', 'warehouse', 52.40, 13.51);
    INSERT INTO oms.products (sku, name, kind) VALUES ('A', 'Lamp', 'stock'), ('B', 'Shade', 'stock'), ('K', 'Lamp set', 'kit');
    INSERT INTO oms.kit_components SELECT k.id, c.id, 1 FROM oms.products k, oms.products c
     WHERE k.sku = 'K' AND c.sku IN ('A', 'B');
    INSERT INTO oms.customers (external_ref, email) VALUES ('c1', 'ann@example.com');
    INSERT INTO oms.carriers (code, name, tracking_url) VALUES ('dhl', 'DHL', 'https://example.com/{{tracking_number}}');
    INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days)
        SELECT id, 'standard', 'Paket', 2 FROM oms.carriers;
    INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
        SELECT id, 'EUR', NULL, NULL, 4.90 FROM oms.carrier_services;
    SELECT oms.receive_stock('A', 'WH', 40);
    SELECT oms.receive_stock('B', 'WH', 8);
});
sub place
{
    my ($ext, $policy, $lines) = @_;
    my $items = join(', ', map { qq({"sku": "$_->[0]", "qty": $_->[1], "unit_price": 10, "tax": 1.9}) } @$lines);
    return old_sql(qq{SELECT oms.place_order('{"channel": "web", "external_id": "$ext", "currency": "EUR",
        "customer": {"external_ref": "c1"}, "policy": "$policy", "lines": [$items]}') ->> 'order_id'});
}
sub pay
{
    my ($db, $order) = @_;
    return $node->safe_psql($db, qq{
        SELECT oms.capture_payment((oms.authorize_payment($order, jsonb_build_object('method', 'card',
            'amount', (SELECT total FROM oms.orders WHERE id = $order), 'token', 'tok_$order')) ->> 'payment_id')::bigint)});
}
sub ship_all
{
    my ($db, $order, $trk) = @_;
    return $node->safe_psql($db, qq{
        SELECT oms.ship((oms.create_shipment($order, 'WH') ->> 'shipment_id')::bigint, 'dhl', 'standard', '$trk') ->> 'order_status'});
}

my $refunded = place('o-refund', 'all_or_nothing', [ [ 'A', 2 ] ]);
pay('old', $refunded);
is(ship_all('old', $refunded, 'TRK-1'), 'shipped', "0.1.0: an order paid and shipped");
my $credited = place('o-credit', 'all_or_nothing', [ [ 'A', 1 ], [ 'B', 1 ] ]);
pay('old', $credited);
ship_all('old', $credited, 'TRK-2');
my $rma_refund = old_sql(qq{SELECT oms.create_rma($refunded,
    '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "refund"}') ->> 'rma_id'});
my $rma_credit = old_sql(qq{SELECT oms.create_rma($credited,
    '{"lines": [{"sku": "B", "qty": 1, "reason": "defective"}], "resolution": "store_credit"}') ->> 'rma_id'});
old_sql(qq{
    SELECT oms.receive_rma($rma_refund, 'WH', '[{"sku": "A", "qty": 1, "condition": "sellable"}]');
    SELECT oms.refund_rma($rma_refund);
    SELECT oms.receive_rma($rma_credit, 'WH', '[{"sku": "B", "qty": 1, "condition": "sellable"}]');
    SELECT oms.refund_rma($rma_credit);
});
is(old_sql("SELECT refunded > 0 FROM oms.rmas WHERE id = $rma_refund") . ','
     . old_sql("SELECT store_credit > 0 FROM oms.rmas WHERE id = $rma_credit"),
   't,t', '0.1.0: returns resolved by refund and by store credit');
my $pending = place('o-pending', 'all_or_nothing', [ [ 'K', 2 ] ]);
# B has 8 - 1 shipped + 1 restocked - 2 in kits = 6 available: a partial
# order for 10 cancels 4 at placement, which 0.1.0 left in its amounts
my $partial = place('o-partial', 'partial', [ [ 'B', 10 ], [ 'A', 1 ] ]);
is(old_sql("SELECT qty_cancelled FROM oms.order_lines WHERE order_id = $partial AND line_no = 1"), '4',
    '0.1.0: a partial order cancelled what was missing');
my $paid = place('o-paid', 'all_or_nothing', [ [ 'A', 3 ] ]);
pay('old', $paid);
my $cancelled = place('o-cancelled', 'all_or_nothing', [ [ 'A', 1 ] ]);
old_sql("SELECT oms.cancel_order($cancelled, 'changed mind')");
is(old_sql(q{SELECT string_agg(external_id || ':' || status, ',' ORDER BY id) FROM oms.orders}),
   'o-refund:partially_returned,o-credit:partially_returned,o-pending:pending_payment,o-partial:pending_payment,'
   . 'o-paid:confirmed,o-cancelled:cancelled', '0.1.0: orders in every kind of state');
is(old_sql('SELECT count(*) FROM oms.check()'), '0', '0.1.0: consistent before the update');

# ---- the update -----------------------------------------------------------------
# a session that loaded the 0.1.0 library cannot load 0.2.0's: refused, and
# nothing changed
my ($rc, $out, $err) = $node->psql('old', "SELECT oms.version();\nALTER EXTENSION oms UPDATE;");
like($err, qr/another version of the oms library is already loaded in this session/,
    'ALTER EXTENSION UPDATE after calling oms in the same session is refused');
is(old_sql(q{SELECT extversion FROM pg_extension WHERE extname = 'oms'}), $from, '... and changes nothing');

# in a new session it updates
old_sql('ALTER EXTENSION oms UPDATE');
is(old_sql(q{SELECT extversion FROM pg_extension WHERE extname = 'oms'}), $to, "updated to $to");
is(old_sql('SELECT oms.version()'), $to, "a new session loads the $to library");

my $updated = $node->safe_psql('old', $catalog_sql);
my $installed = $node->safe_psql('fresh', $catalog_sql);
cmp_ok(scalar(split /\n/, $installed), '>', 2000, 'the catalog dump lists the whole extension');
my @diff;
{
    my %a = map { $_ => 1 } split /\n/, $updated;
    my %b = map { $_ => 1 } split /\n/, $installed;
    push @diff, map { "only after the update: $_" } grep { !$b{$_} } sort keys %a;
    push @diff, map { "only in a fresh install: $_" } grep { !$a{$_} } sort keys %b;
}
is(scalar(@diff), 0, "the updated catalog equals a fresh $to install")
    or diag(join("\n", @diff[0 .. ($#diff < 40 ? $#diff : 39)]));
is(old_sql('SELECT invariant || \': \' || detail FROM oms.check()'), '', 'consistent right after the update');
is(old_sql("SELECT subtotal || '/' || total FROM oms.orders WHERE id = $partial"), '70.0000/73.0400',
    "the partial order's amounts count the units it owes");
is(old_sql("SELECT kind || ':' || amount || ':' || rma_id FROM oms.money_out"), "store_credit:11.9000:$rma_credit",
    "0.1.0's store credit is money out of its order");

# ---- the 0.1.0 orders through the 0.2.0 API ------------------------------------------
pay('old', $partial);
is(ship_all('old', $partial, 'TRK-3'), 'shipped', 'the partial order is paid and shipped');
pay('old', $pending);
is(ship_all('old', $pending, 'TRK-4'), 'shipped', 'the kit order is paid and shipped');
is(ship_all('old', $paid, 'TRK-5'), 'shipped', 'the paid order ships');
my $rma = old_sql(qq{SELECT oms.create_rma($refunded,
    '{"lines": [{"sku": "A", "qty": 1, "reason": "defective"}], "resolution": "refund"}') ->> 'rma_id'});
old_sql(qq{SELECT oms.receive_rma($rma, 'WH', '[{"sku": "A", "qty": 1, "condition": "sellable"}]');
           SELECT oms.refund_rma($rma)});
is(old_sql("SELECT status FROM oms.orders WHERE id = $refunded"), 'returned', 'the rest of a 0.1.0 order is returned');
# money out stays bounded by what the order captured: a second store
# credit for the whole order is refused
($rc, $out, $err) = $node->psql('old', qq{SELECT oms.refund_payment(
    (SELECT id FROM oms.payments WHERE order_id = $refunded), 1)});
like($err, qr/exceed|more than/, "a refund beyond what a 0.1.0 order captured is refused");
my $late = old_sql(q{SELECT oms.place_order('{"channel": "web", "external_id": "o-late", "currency": "EUR",
    "lines": [{"sku": "A", "qty": 1, "unit_price": 5}]}') ->> 'order_id'});
old_sql("SELECT oms.cancel_order($late, 'test')");
is(old_sql("SELECT status FROM oms.orders WHERE id = $late"), 'cancelled', 'a new order is placed and cancelled');
ok(old_sql(q{SELECT count(*) FROM oms.refresh_reports()}) > 0, 'the materialized reports refresh');
is(old_sql('SELECT invariant || \': \' || detail FROM oms.check()'), '', 'consistent after using the updated extension');

$node->stop;
done_testing();
