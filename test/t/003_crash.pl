# kill -9 in the middle of a storm of orders. Several psql clients place
# orders in autocommit mode (with some cancels and receipts in between) and
# print the order_id of every place_order that returned, which psql only
# does after the commit. Every server process is then killed with SIGKILL,
# the node is started again (crash recovery), and:
#   - oms.check() is empty,
#   - every order a client saw returned exists, with its external_id and
#     its lines, and a retry of its document is answered as a replay,
#   - the recovered node takes new orders.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Cwd;
use Time::HiRes qw(time usleep);

my $nclients = 6;
my $per_client = 5000;      # far more than can run before the kill
my $min_before_kill = 400;  # orders committed before we pull the plug

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', q{
log_statement = none
});
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE crash');
$node->safe_psql('crash', q{
    CREATE EXTENSION oms;
    INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web'), ('app', 'App', 'mobile');
    INSERT INTO oms.locations (code, name, kind, latitude, longitude, pickup) VALUES
        ('WH1', 'Warehouse 1', 'warehouse', 52.40, 13.51, false),
        ('WH2', 'Warehouse 2', 'warehouse', 50.11, 8.68, false),
        ('ST1', 'Store 1', 'store', 48.13, 11.57, true);
    INSERT INTO oms.products (sku, name, kind) VALUES
        ('HOT', 'Hot', 'stock'), ('A', 'A', 'stock'), ('B', 'B', 'stock'), ('C', 'C', 'stock'),
        ('KIT', 'Kit: 1 x HOT + 1 x A', 'kit');
    INSERT INTO oms.kit_components (kit_id, component_id, qty)
        SELECT k.id, c.id, 1 FROM oms.products k, oms.products c WHERE k.sku = 'KIT' AND c.sku IN ('HOT', 'A');
    SELECT oms.receive_stock('HOT', 'WH1', 30);
    SELECT oms.receive_stock('HOT', 'ST1', 30);
    SELECT oms.receive_stock(s, l, 100000) FROM unnest(ARRAY['A', 'B', 'C']) s, unnest(ARRAY['WH1', 'WH2']) l;
});

# ---- the clients' scripts --------------------------------------------------

srand(20240611);
my @skus = qw(HOT HOT KIT A B C);
my @policies = qw(all_or_nothing partial backorder);
my %doc;    # external_id => the JSON document sent
my @scripts;
for my $c (1 .. $nclients)
{
    my $script = '';
    for my $i (1 .. $per_client)
    {
        my $ext = "c$c-$i";
        my %seen;
        my @lines;
        for (1 .. 1 + int(rand(3)))
        {
            my $sku = $skus[ int(rand(@skus)) ];
            next if $seen{$sku}++;
            push @lines, sprintf('{"sku": "%s", "qty": %d, "unit_price": %.2f}', $sku, 1 + int(rand(3)), 1 + rand(50));
        }
        $doc{$ext} = sprintf('{"channel": "%s", "external_id": "%s", "currency": "EUR", "policy": "%s", "lines": [%s]}',
            rand() < 0.7 ? 'web' : 'app', $ext, $policies[ int(rand(@policies)) ], join(', ', @lines));
        $script .= "SELECT 'placed ' || (r ->> 'external_id') || ' ' || (r ->> 'order_id') FROM oms.place_order('$doc{$ext}') r;\n";
        # now and then: cancel one of this client's earlier orders, book a receipt
        $script .= "SELECT 'cancelled ' || (oms.cancel_order(id) ->> 'order_id') FROM oms.orders"
          . " WHERE external_id = 'c$c-" . (1 + int(rand($i))) . "';\n"
          if $i % 7 == 0;
        $script .= "SELECT 'received ' || (oms.receive_stock('HOT', '" . (rand() < 0.5 ? 'WH1' : 'ST1') . "', 2) ->> 'received');\n"
          if $i % 11 == 0;
    }
    push @scripts, $script;
}

# ---- the storm ---------------------------------------------------------------

# scripts, output and errors are files, so the clients never wait for us
my @harness;
my $dir = $node->basedir;
{
    local %ENV = (%ENV, PGHOST => $node->host, PGPORT => $node->port);
    for my $c (1 .. $nclients)
    {
        PostgreSQL::Test::Utils::append_to_file("$dir/client$c.sql", $scripts[ $c - 1 ]);
        push @harness, IPC::Run::start(
            [ 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=0',
              '-d', $node->connstr('crash') . " application_name=storm$c", '-f', "$dir/client$c.sql" ],
            '<', \undef, '>', "$dir/client$c.out", '2>', "$dir/client$c.err",
            IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
    }
}

# wait until enough orders are committed, then a little more, then crash
my $deadline = time + 60;
my $committed = 0;
while (time < $deadline)
{
    # psql, not safe_psql: if the server dies on its own we want to say so
    last if $node->psql('crash', 'SELECT count(*) FROM oms.orders', stdout => \$committed) != 0;
    last if $committed >= $min_before_kill;
    usleep(100_000);
}
$committed = 'unknown' unless $committed =~ /^\d+$/;
usleep(300_000);
my $connected = '';
$node->psql('crash', q{SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'storm%'}, stdout => \$connected);
is($connected, $nclients, 'every client is still connected and placing orders when the server is killed');
my @crashes = grep { /terminated by signal|PANIC|TRAP/ } split /\n/, slurp_file($node->logfile);
is(join("\n", @crashes), '', 'no server process crashed on its own before the kill');

# SIGKILL the postmaster and every process of the node, like a power cut:
# without this the orphaned backends would keep running (and keep the shared
# memory attached) after the postmaster is gone
my @server_pids = node_pids($node);
ok(scalar(@server_pids) > $nclients, 'found the server processes (' . scalar(@server_pids) . ')');
my ($postmaster) = -e $node->data_dir . '/postmaster.pid' ? split(/\n/, slurp_file($node->data_dir . '/postmaster.pid')) : ();
$node->kill9;
kill 'KILL', @server_pids;
# wait until they are gone, zombies reaped included: a new postmaster
# refuses to start while the old pid still exists
$deadline = time + $PostgreSQL::Test::Utils::timeout_default;
while (time < $deadline)
{
    my @left = grep { -e "/proc/$_" } @server_pids, node_pids($node);
    last unless @left;
    kill 'KILL', @left;
    usleep(100_000);
}
is(join(' ', grep { -e "/proc/$_" } grep { defined } $postmaster, @server_pids, node_pids($node)), '', 'every server process is gone');

# the clients notice the lost connection and exit
for my $h (@harness)
{
    eval { $h->finish; 1 } or do { diag("client did not exit: $@"); $h->kill_kill; };
}
my (%placed, @cancelled_seen);
my $received = 0;
my $errors = '';
for my $c (1 .. $nclients)
{
    for (split /\n/, slurp_file("$dir/client$c.out"))
    {
        if (/^placed (\S+) (\d+)$/) { $placed{$1} = $2; }
        elsif (/^cancelled (\d+)$/) { push @cancelled_seen, $1; }
        elsif (/^received \d+$/) { $received++; }
    }
    $errors .= slurp_file("$dir/client$c.err");
}
my $nplaced = scalar(keys %placed);
note "clients saw $nplaced orders placed, " . scalar(@cancelled_seen) . " cancels and $received receipts before the crash "
  . "($committed orders committed when the kill was decided)";
cmp_ok($nplaced, '>=', $min_before_kill, 'the clients saw a meaningful number of orders placed before the crash');
like($errors, qr/server closed the connection|connection to server was lost|terminating connection/,
    'the clients lost their connections to the crash');

# ---- recovery ----------------------------------------------------------------

$node->start;
ok(1, 'the node starts again after the crash');

my $violations = $node->safe_psql('crash', 'SELECT invariant, detail FROM oms.check() ORDER BY 1, 2');
is($violations, '', 'oms.check() is empty after crash recovery')
  or diag("oms.check() rows:\n$violations");

# every returned order is there, under its own external_id, with its lines
my $values = join(',', map { "('$_', $placed{$_})" } sort keys %placed);
my $lost = $node->safe_psql('crash', qq{
    SELECT string_agg(v.ext || ' (order ' || v.id || ')', ', ' ORDER BY v.id)
      FROM (VALUES $values) AS v(ext, id)
     WHERE NOT EXISTS (SELECT FROM oms.orders o WHERE o.id = v.id AND o.external_id = v.ext
                          AND EXISTS (SELECT FROM oms.order_lines l WHERE l.order_id = o.id))});
is($lost, '', "every order whose place_order returned survived the crash ($nplaced orders)");
if (@cancelled_seen)
{
    is($node->safe_psql('crash', 'SELECT count(*) FROM oms.orders WHERE status NOT IN (\'cancelled\', \'expired\') AND id IN ('
              . join(',', @cancelled_seen) . ')'),
        '0', 'every cancel a client saw return survived the crash');
}
cmp_ok($node->safe_psql('crash', q{SELECT count(*) FROM oms.stock_movements WHERE kind = 'receipt'}), '>=', 8 + $received,
    'every receipt a client saw return survived the crash');

# a client retrying after the crash gets its order back, not a second one
my @sample = (sort keys %placed)[ 0, int($nplaced / 2), $nplaced - 1 ];
for my $ext (@sample)
{
    is($node->safe_psql('crash', qq{SELECT (r ->> 'order_id') || ' ' || (r ->> 'replayed') FROM oms.place_order('$doc{$ext}') r}),
        "$placed{$ext} true", "retrying $ext after the crash replays order $placed{$ext}");
}

# the recovered node works: a new order gets a fresh id
my $new = $node->safe_psql('crash', q{
    SELECT (r ->> 'order_id')::bigint > (SELECT max(id) FROM oms.orders WHERE external_id <> 'after-crash')
      FROM oms.place_order('{"channel": "web", "external_id": "after-crash", "currency": "EUR", "policy": "partial",
                             "lines": [{"sku": "A", "qty": 2, "unit_price": 3}]}') r});
is($new, 't', 'the recovered node places new orders with fresh ids');
$violations = $node->safe_psql('crash', 'SELECT invariant, detail FROM oms.check() ORDER BY 1, 2');
is($violations, '', 'oms.check() stays empty') or diag($violations);

$node->stop;
done_testing();

# pids of the node's processes: the postmaster and its children all run in
# the data directory
sub node_pids
{
    my ($node) = @_;
    my $dir = Cwd::abs_path($node->data_dir);
    my @pids;
    opendir(my $proc, '/proc') or die "cannot read /proc: $!";
    for my $pid (grep { /^\d+$/ } readdir($proc))
    {
        my $cwd = readlink("/proc/$pid/cwd");
        push @pids, $pid if defined $cwd && $cwd eq $dir;
    }
    closedir($proc);
    return @pids;
}
