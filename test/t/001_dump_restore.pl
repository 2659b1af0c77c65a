# pg_dump keeps every catalog row of oms (pg_extension_config_dump), and a
# restored database continues its sequences without collisions.
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

my $snapshot = q{
    SELECT (SELECT string_agg(code || ':' || kind, ',' ORDER BY code) FROM oms.channels) || '|' ||
           (SELECT string_agg(code || ':' || latitude || ':' || pickup, ',' ORDER BY code) FROM oms.locations) || '|' ||
           (SELECT string_agg(sku || ':' || coalesce(gtin::text, '-') || ':' || kind, ',' ORDER BY sku) FROM oms.products) || '|' ||
           (SELECT count(*) FROM oms.kit_components) || '|' ||
           (SELECT string_agg(external_ref || ':' || flags::text, ',') FROM oms.customers)
};
my $before = $node->safe_psql('shop', $snapshot);

my $dump = $node->basedir . '/shop.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('shop'), '-f', $dump ], 'pg_dump succeeds');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ], 'pg_restore succeeds');

is($node->safe_psql('restored', $snapshot), $before, 'every catalog row survives dump and restore');
is($node->safe_psql('restored', 'SELECT count(*) FROM oms.check()'), '0', 'restored catalog is consistent');

# the sequences came along: new rows do not collide with restored ones
$node->safe_psql('restored', q{INSERT INTO oms.products (sku, name) VALUES ('C', 'C')});
is($node->safe_psql('restored', q{SELECT count(DISTINCT id) FROM oms.products}), '4', 'product ids continue after restore');

# the extension is still an extension (not loose objects) after restore
is($node->safe_psql('restored', q{SELECT extversion FROM pg_extension WHERE extname = 'oms'}), '0.1.0', 'extension restored as such');

$node->stop;
done_testing();
