# pg_dump keeps every catalog row of oms (pg_extension_config_dump), and a
# restored database continues its sequences without collisions.
#
# The dumped database also holds stock, orders (reserved, backordered,
# cancelled, a kit) and reservations. oms.stock_balances is deliberately not
# dumped: the statement trigger on oms.stock_movements rebuilds it from the
# ledger while pg_restore COPYs the movements in, so the restored stock
# levels must equal the source's and oms.check() must be empty.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE shop');
$node->safe_psql('shop', q{
    CREATE EXTENSION oms;
    INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web'), ('pos', 'Stores', 'pos');
    INSERT INTO oms.locations (code, name, kind, latitude, longitude, pickup)
         VALUES ('WH', 'Warehouse', 'warehouse', 52.40, 13.51, false), ('ST', 'Store', 'store', 48.13, 11.57, true);
    INSERT INTO oms.products (sku, gtin, name, kind) VALUES
        ('A', '4006381333931', 'A', 'stock'), ('B', '96385074', 'B', 'stock'), ('K', NULL, 'Kit', 'kit');
    INSERT INTO oms.kit_components SELECT k.id, c.id, 2 FROM oms.products k, oms.products c
     WHERE k.sku = 'K' AND c.sku IN ('A', 'B');
    INSERT INTO oms.customers (external_ref, email, flags) VALUES ('c1', 'ann@example.com', '{vip}');
});

# stock, orders and reservations
sub place
{
    my ($ext, $policy, $lines) = @_;
    my $items = join(', ', map { qq({"sku": "$_->[0]", "qty": $_->[1], "unit_price": 4.25}) } @$lines);
    return $node->safe_psql('shop', qq{SELECT oms.place_order('{"channel": "web", "external_id": "$ext",
        "currency": "EUR", "policy": "$policy", "lines": [$items]}') ->> 'status'});
}
$node->safe_psql('shop', q{
    SELECT oms.receive_stock('A', 'WH', 20);
    SELECT oms.receive_stock('A', 'ST', 5);
    SELECT oms.receive_stock('B', 'WH', 6);
    SELECT oms.receive_stock('B', 'ST', 2, 'delivery note 17');
    SELECT oms.set_safety_stock('A', 'ST', 1);
    SELECT oms.adjust_stock('A', 'WH', 18, 'cycle count');
});
is(place('o-reserved', 'all_or_nothing', [ [ 'A', 3 ] ]), 'pending_payment', 'an order reserves stock');
is(place('o-kit', 'all_or_nothing', [ [ 'K', 2 ] ]), 'pending_payment', 'a kit order reserves its components');
is(place('o-backorder', 'backorder', [ [ 'B', 6 ], [ 'A', 1 ] ]), 'backordered', 'an order waits for stock');
is(place('o-cancel', 'partial', [ [ 'A', 2 ], [ 'B', 9 ] ]), 'pending_payment', 'a partial order takes what there is');
$node->safe_psql('shop', q{
    SELECT oms.cancel_order((SELECT id FROM oms.orders WHERE external_id = 'o-cancel'), 'changed mind');
    SELECT oms.receive_stock('B', 'WH', 1);
});
is($node->safe_psql('shop', q{
    SELECT string_agg(external_id || ':' || status, ',' ORDER BY id) FROM oms.orders}),
    'o-reserved:pending_payment,o-kit:pending_payment,o-backorder:backordered,o-cancel:cancelled',
    'source has reserved, kit, backordered and cancelled orders');
is($node->safe_psql('shop', q{
    SELECT (SELECT count(*) FROM oms.reservations WHERE status = 'active') > 0
       AND (SELECT count(*) FROM oms.reservations WHERE status = 'released') > 0
       AND (SELECT sum(qty_backordered) FROM oms.order_lines) > 0
       AND EXISTS (SELECT FROM oms.stock_movements WHERE reference = 'backorder fill')}),
    't', 'source has active and released reservations, backordered units and a backorder fill');
is($node->safe_psql('shop', 'SELECT count(*) FROM oms.check()'), '0', 'source is consistent');

# the outbox across a restore into another cluster: burn transaction ids so
# the source's are far above a fresh cluster's, let a consumer acknowledge
# part of the events, then dump
$node->safe_psql('shop', "SELECT pg_current_xact_id();\n" x 3000);
$node->safe_psql('shop', q{SELECT oms.place_order('{"channel": "web", "external_id": "o-late", "currency": "EUR",
                                                    "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}')});
my $acked = $node->safe_psql('shop', q{SELECT max(id) FROM oms.read_events('mailer', 3)});
$node->safe_psql('shop', "SELECT oms.ack_events('mailer', $acked)");
my $events_total = $node->safe_psql('shop', 'SELECT count(*) FROM oms.events');
my $unacked = $node->safe_psql('shop', "SELECT string_agg(id::text, ',' ORDER BY id) FROM oms.events WHERE id > $acked");
ok($events_total > 6, "there are events to carry over ($events_total)");

my $snapshot = q{
    SELECT (SELECT string_agg(code || ':' || kind, ',' ORDER BY code) FROM oms.channels) || '|' ||
           (SELECT string_agg(code || ':' || latitude || ':' || pickup, ',' ORDER BY code) FROM oms.locations) || '|' ||
           (SELECT string_agg(sku || ':' || coalesce(gtin::text, '-') || ':' || kind, ',' ORDER BY sku) FROM oms.products) || '|' ||
           (SELECT count(*) FROM oms.kit_components) || '|' ||
           (SELECT string_agg(external_ref || ':' || flags::text, ',') FROM oms.customers)
};
my $before = $node->safe_psql('shop', $snapshot);

my $levels = 'SELECT sku, location, on_hand, reserved, available FROM oms.stock_levels ORDER BY 1, 2';
my $levels_before = $node->safe_psql('shop', $levels);
my $orders = q{
    SELECT (SELECT string_agg(id || ':' || external_id || ':' || status || ':' || total, ',' ORDER BY id) FROM oms.orders) || '|' ||
           (SELECT string_agg(order_id || '/' || line_no || ':' || qty || '=' || qty_reserved || '+' || qty_backordered
                              || '+' || qty_cancelled, ',' ORDER BY order_id, line_no) FROM oms.order_lines) || '|' ||
           (SELECT string_agg(id || ':' || order_id || ':' || product_id || '@' || location_id || ':' || qty || ':' || status,
                              ',' ORDER BY id) FROM oms.reservations) || '|' ||
           (SELECT count(*) || ':' || sum(on_hand_delta) || ':' || sum(reserved_delta) || ':' || sum(safety_stock_delta)
              FROM oms.stock_movements)
};
my $orders_before = $node->safe_psql('shop', $orders);

# the accounting feed: pg_dump keeps the publication but not that the
# extension's tables belong to it (test below)
$node->safe_psql('shop', 'SET client_min_messages = error; SELECT oms.create_accounting_publication()');
my $published = q{SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY tablename)
                    FROM pg_publication_tables WHERE pubname = 'oms_accounting'};
is($node->safe_psql('shop', $published), 'oms.accounts,oms.journal_entries,oms.journal_lines,oms.journal_rules',
    'the source publishes the journal');

my $dump = $node->basedir . '/shop.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('shop'), '-f', $dump ], 'pg_dump succeeds');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ], 'pg_restore succeeds');

is($node->safe_psql('restored', $snapshot), $before, 'every catalog row survives dump and restore');

# the publication comes back empty: oms.create_accounting_publication()
# repairs it, and says so; run again, it leaves it as it is
is($node->safe_psql('restored', $published), '', 'pg_restore brings the publication back without its tables');
is($node->safe_psql('restored', 'SELECT oms.create_accounting_publication()'),
    'publication oms_accounting repaired: added oms.accounts, oms.journal_rules, oms.journal_entries, oms.journal_lines',
    'oms.create_accounting_publication() adds the missing tables');
is($node->safe_psql('restored', $published), $node->safe_psql('shop', $published),
    'the restored publication publishes the journal again');
is($node->safe_psql('restored', 'SELECT oms.create_accounting_publication()'), 'publication oms_accounting already exists',
    'a complete publication is left as it is');
my $violations = $node->safe_psql('restored', 'SELECT invariant, detail FROM oms.check() ORDER BY 1, 2');
is($violations, '', 'restored database is consistent (oms.check() is empty)')
  or diag("oms.check() rows:\n$violations");
is($node->safe_psql('restored', $orders), $orders_before, 'orders, lines, reservations and the ledger survive dump and restore');
is($node->safe_psql('restored', $levels), $levels_before, 'stock levels are rebuilt from the ledger')
  or diag("source:\n$levels_before\nrestored:\n" . $node->safe_psql('restored', $levels));
isnt($levels_before, '', 'there was stock to rebuild');

# the restored stock is live: a backorder is filled by the next receipt, and
# a new order reserves what the restored balances say is available
is($node->safe_psql('restored', q{
    SELECT jsonb_array_length(oms.receive_stock('B', 'WH', 10) -> 'backorders_filled')}), '1', 'restored backorder is filled by a receipt');
is($node->safe_psql('restored', q{
    SELECT status FROM oms.orders WHERE external_id = 'o-backorder'}), 'pending_payment', 'the filled order is no longer backordered');
is($node->safe_psql('restored', q{SELECT oms.available('A', 'ST')}), $node->safe_psql('shop', q{SELECT oms.available('A', 'ST')}),
    'available stock matches the source');
is($node->safe_psql('restored', q{
    SELECT oms.place_order('{"channel": "web", "external_id": "o-after", "currency": "EUR",
                             "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}') ->> 'order_id'}),
    $node->safe_psql('shop', q{SELECT max(id) + 1 FROM oms.orders}), 'order ids continue after restore');
$violations = $node->safe_psql('restored', 'SELECT invariant, detail FROM oms.check() ORDER BY 1, 2');
is($violations, '', 'restored database stays consistent when used') or diag($violations);

# the sequences came along: new rows do not collide with restored ones
$node->safe_psql('restored', q{INSERT INTO oms.products (sku, name) VALUES ('C', 'C')});
is($node->safe_psql('restored', q{SELECT count(DISTINCT id) FROM oms.products}), '4', 'product ids continue after restore');

# the extension is still an extension (not loose objects) after restore
is($node->safe_psql('restored', q{SELECT extversion FROM pg_extension WHERE extname = 'oms'}),
    $node->safe_psql('restored', q{SELECT default_version FROM pg_available_extensions WHERE name = 'oms'}),
    'extension restored as such');

# restore into a freshly initialized cluster: its transaction ids are lower
# than every event's in the dump
my $fresh = PostgreSQL::Test::Cluster->new('fresh');
$fresh->init;
$fresh->start;
$fresh->safe_psql('postgres', 'CREATE DATABASE shop');
$fresh->command_ok([ 'pg_restore', '--exit-on-error', '-d', $fresh->connstr('shop'), $dump ], 'pg_restore into a fresh cluster succeeds');
ok($fresh->safe_psql('shop', 'SELECT pg_current_xact_id()::text::bigint') < $node->safe_psql('shop', 'SELECT max(xid)::text::bigint FROM oms.events'),
   'the fresh cluster is behind the source in transaction ids');
is($fresh->safe_psql('shop', 'SELECT count(*) FROM oms.events'), $events_total, 'every event is restored');
is($fresh->safe_psql('shop', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM oms.read_events('mailer', 10000)}), $unacked,
   'the consumer gets exactly the events it had not acknowledged, in order');
is($fresh->safe_psql('shop', q{SELECT count(*) FROM oms.read_events('newcomer', 10000)}), $events_total,
   'a new consumer gets every restored event');
$fresh->safe_psql('shop', q{SELECT oms.place_order('{"channel": "web", "external_id": "o-fresh", "currency": "EUR",
                                                     "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]}')});
is($fresh->safe_psql('shop', q{SELECT string_agg(kind, ',' ORDER BY xid, id) FROM oms.read_events('mailer', 10000)}), 'order_placed',
   'an event written after the restore is delivered after the restored ones');
$violations = $fresh->safe_psql('shop', 'SELECT invariant, detail FROM oms.check() ORDER BY 1, 2');
is($violations, '', 'the fresh cluster is consistent') or diag($violations);
$fresh->stop;

$node->stop;
done_testing();
