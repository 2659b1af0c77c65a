# Automatic failover with pg_auto_failover: no acknowledged order is lost.
#
# A pg_auto_failover formation on this machine, each part a throwaway
# cluster of the PostgreSQL binaries on PATH, on its own port
# (get_free_port), under this test's tmp dir: a monitor, and two nodes
# (node1 starts as the primary, node2 as its secondary) with synchronous
# replication (pg_auto_failover's default for a secondary with
# replication-quorum true: synchronous_standby_names = 'ANY 1 (...)'). oms
# is installed on the primary, in two databases (shop and bench), with the
# demo catalog and 1,000,000 units of every stock sku at WH-BER.
#
# Health checks tuned down so that a failover takes seconds (defaults in
# brackets):
#   monitor (ALTER SYSTEM, pgautofailover.*):
#     health_check_period              1000 ms  [5000]
#     health_check_timeout             1000 ms  [5000]
#     health_check_max_retries         1        [2]
#     health_check_retry_delay          500 ms  [2000]
#     node_considered_unhealthy_timeout 2000 ms [20000]
#     primary_demote_timeout           3000 ms  [30000]
#     startup_grace_period             2000 ms  [10000]
#   keepers (pg_autoctl config set, [timeout] section):
#     network_partition_timeout        2 s      [20]  (a primary that loses
#        the monitor and every standby demotes itself after this; it must
#        stay below primary_demote_timeout, after which the monitor lets the
#        secondary take writes)
#     prepare_promotion_walreceiver    1 s      [5]
#
# The clients (test/ha/order_client.py, psycopg, OMS_FAILOVER_CLIENTS
# threads, 6 by default) connect through one libpq multi-host string,
#   host=localhost,localhost port=P1,P2 dbname=shop target_session_attrs=read-write
# and place orders in explicit transactions, logging every acknowledged
# order (the COMMIT returned) with its order_id and external_id, every
# in-doubt one (the COMMIT got no answer) and every retry; after a
# connection error they reconnect and send the same document again
# (place_order is idempotent on (channel, external_id): an in-doubt order
# that had committed comes back as a replay).
#
# 1. Throughput of synchronous against asynchronous replication, in this
#    run, in a database of its own (bench): the same client load, as fast as
#    the server answers, for OMS_FAILOVER_SECONDS (default 4) with the
#    secondary in the write quorum (synchronous), then with `pg_autoctl set
#    node replication-quorum false` on the secondary (the monitor sets
#    synchronous_standby_names = '' on the primary: asynchronous), then
#    synchronous again; the ratio async / mean(sync) is reported.
# 2. OMS_FAILOVER_ROUNDS failovers (default 3), back and forth, with the
#    clients running throughout, each at OMS_FAILOVER_RATE orders/s (10 by
#    default: oms.check() reads every order, and each round runs it). Each
#    round:
#    - the formation is primary + secondary and the secondary is a
#      synchronous standby of the primary (pg_stat_replication);
#    - after OMS_FAILOVER_SECONDS of load the clients go full speed (no
#      rate limit, so that COMMITs are in flight), and after 0.5 to 1.5 s
#      more the primary's machine dies: its pg_autoctl (the keeper,
#      which would otherwise restart Postgres in place) gets SIGKILL, then
#      its postmaster gets kill -9 (the pid from postmaster.pid), then every
#      process left of that cluster (backends, walsenders);
#    - the monitor promotes the secondary by itself; the clients reconnect
#      and continue (at OMS_FAILOVER_RATE again); the failover time is from
#      the kill -9 to the first order acknowledged by the new primary;
#    - the old primary's pg_autoctl runs again and the node rejoins as a
#      secondary (pg_rewind by pg_autoctl), and the monitor shows it
#      secondary;
#    - on the new primary, every order acknowledged so far is present with
#      its order_id and external_id, and SELECT count(*) FROM oms.check() is
#      0 (REPEATABLE READ, so one snapshot while the clients go on).
# 3. At the end, after the clients stopped: the orders of the clients on the
#    primary are exactly the acknowledged ones (no order missing, none
#    extra, none twice), every in-doubt order was resolved by its retry,
#    none was refused, oms.check() is empty, and the secondary has the same
#    orders.
#
# Reported (diag): failover time per round, orders acknowledged and found,
# in-doubt count (and how many of them turned out committed), throughput
# synchronous and asynchronous and their ratio.
#
# Environment: OMS_FAILOVER_ROUNDS (3), OMS_FAILOVER_SECONDS (4),
# OMS_FAILOVER_CLIENTS (6), OMS_FAILOVER_RATE (10), OMS_PYTHON
# (/usr/bin/python3). CI runs the defaults (about 65 s); a longer run, e.g.:
#   OMS_FAILOVER_ROUNDS=20 OMS_FAILOVER_SECONDS=30 test/run tap:012_failover
#
# Every process started here (pg_autoctl of the monitor and of each node,
# their clusters, the clients) is stopped in an END block, also when the test
# dies or gets SIGINT, SIGTERM or SIGHUP; the last tests check that no
# cluster runs and nothing listens on the formation's ports.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Cwd;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time usleep);
use OmsTap qw(cluster_pids);

my $rounds = $ENV{OMS_FAILOVER_ROUNDS} || 3;
my $seconds = $ENV{OMS_FAILOVER_SECONDS} || 4;
my $nclients = $ENV{OMS_FAILOVER_CLIENTS} || 6;
my $rate = $ENV{OMS_FAILOVER_RATE} || 10;
my $python = $ENV{OMS_PYTHON} || '/usr/bin/python3';
my $client = Cwd::abs_path('test/ha/order_client.py');
my $seed = $ENV{OMS_FUZZ_SEED} || int(rand(2**31));
srand($seed);
note "failover rounds: $rounds, $seconds s of load per phase, $nclients clients ($rate orders/s each in the rounds), "
  . "seed $seed";

my $bindir = `pg_config --bindir`;
chomp $bindir;
my $pg_ctl = "$bindir/pg_ctl";
-x $pg_ctl or BAIL_OUT("no pg_ctl in $bindir");

# everything under this test's tmp dir; pg_autoctl keeps its configuration
# and state under XDG_CONFIG_HOME and XDG_DATA_HOME, its pid files under
# XDG_RUNTIME_DIR; its own local connections use PGHOST, the socket
# directory of every cluster here
my $base = PostgreSQL::Test::Utils::tempdir('failover');
my $sock = "$base/sock";
mkdir $_ or die "mkdir $_: $!" for $sock, "$base/config", "$base/share", "$base/run";
$ENV{XDG_CONFIG_HOME} = "$base/config";
$ENV{XDG_DATA_HOME} = "$base/share";
$ENV{XDG_RUNTIME_DIR} = "$base/run";
$ENV{PGHOST} = $sock;
delete @ENV{qw(PGPORT PGDATABASE PGUSER PGSERVICE PGOPTIONS)};

my %port = map { $_ => PostgreSQL::Test::Cluster::get_free_port() } qw(monitor node1 node2);
my %pgdata = map { $_ => "$base/$_" } qw(monitor node1 node2);
my %keeper;    # name => pid of its pg_autoctl run (a session leader)
my %other = (node1 => 'node2', node2 => 'node1');

my $clients;    # the IPC::Run harness of the order clients, while they run

END
{
    my $rc = $?;
    eval { $clients->kill_kill if $clients && $clients->pumpable; };
    stop_everything();
    $? = $rc;
}
# a test killed by a signal (a harness timeout, ^C) stops its formation too
# (exit, not die: an eval must not catch it)
$SIG{$_} = sub { diag("killed by SIG$_[0]"); exit 1; } for qw(INT TERM HUP);

# ---- the formation -------------------------------------------------------------
my $t_setup = time;
# the monitor and the first node are initialized here so that they get a
# socket directory of their own and small memory settings (pg_autoctl takes
# an existing PGDATA); the second node is a base backup of the first and
# inherits its postgresql.conf
for my $name (qw(monitor node1))
{
    run_ok([ 'initdb', '-D', $pgdata{$name}, '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C.UTF-8' ],
        "initdb $name");
    PostgreSQL::Test::Utils::append_to_file("$pgdata{$name}/postgresql.conf", qq{
# test/t/012_failover.pl: small clusters on a shared machine
unix_socket_directories = '$sock'
listen_addresses = 'localhost'
shared_buffers = '64MB'
max_connections = 50
log_min_messages = warning
});
}
run_ok([ 'pg_autoctl', 'create', 'monitor', '--pgdata', $pgdata{monitor}, '--pgport', $port{monitor},
         '--pgctl', $pg_ctl, '--hostname', 'localhost', '--auth', 'trust', '--no-ssl' ], 'pg_autoctl create monitor');
run_ok([ 'pg_autoctl', 'config', 'set', '--pgdata', $pgdata{monitor}, 'postgresql.listen_addresses', 'localhost' ],
    'monitor: listen on localhost');
start_keeper('monitor');
my $monitor_dsn = "host=localhost port=$port{monitor} dbname=pg_auto_failover";
wait_until(sub { defined try_sql($monitor_dsn, 'SELECT 1') }, 60, 'the monitor accepts connections')
  or BAIL_OUT('no monitor');
for my $set (
    'health_check_period = 1000', 'health_check_timeout = 1000', 'health_check_max_retries = 1',
    'health_check_retry_delay = 500', 'node_considered_unhealthy_timeout = 2000', 'primary_demote_timeout = 3000',
    'startup_grace_period = 2000')
{
    sql($monitor_dsn, "ALTER SYSTEM SET pgautofailover.$set");
}
sql($monitor_dsn, 'SELECT pg_reload_conf()');
my $monitor_uri = "postgres://autoctl_node\@localhost:$port{monitor}/pg_auto_failover?sslmode=disable";

for my $name (qw(node1 node2))
{
    run_ok([ 'pg_autoctl', 'create', 'postgres', '--pgdata', $pgdata{$name}, '--pgport', $port{$name},
             '--pgctl', $pg_ctl, '--listen', 'localhost', '--hostname', 'localhost', '--name', $name,
             '--dbname', 'shop', '--auth', 'trust', '--no-ssl', '--monitor', $monitor_uri ],
        "pg_autoctl create postgres $name");
    run_ok([ 'pg_autoctl', 'config', 'set', '--pgdata', $pgdata{$name}, "timeout.$_->[0]", $_->[1] ],
        "$name: timeout.$_->[0] = $_->[1]")
      for [ 'network_partition_timeout', 2 ], [ 'prepare_promotion_walreceiver', 1 ];
    start_keeper($name);
    my $want = $name eq 'node1' ? { node1 => 'single' } : { node1 => 'primary', node2 => 'secondary' };
    ok(wait_states($want, 120), "$name registered: " . states_text())
      or BAIL_OUT('the formation did not form');
}
ok(sync_standby_of('node1'), 'node2 is a synchronous standby of node1');
note sprintf('formation up in %.1f s', time - $t_setup);

# oms in two databases: shop for the failovers, bench for the throughput
# measurement (so that the oms.check() of every round reads only the orders
# of the rounds)
my $skus;
sql("host=localhost port=$port{node1} dbname=shop", 'CREATE DATABASE bench');
for my $db (qw(shop bench))
{
    my $conn = "host=localhost port=$port{node1} dbname=$db";
    sql($conn, 'CREATE EXTENSION oms');
    run_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $conn, '-f', Cwd::abs_path('demo/catalog.sql') ],
        "$db: the demo catalog is loaded");
    # every order ships from WH-BER, and the clients place more orders than
    # its daily capacity: unlimited, and plenty of stock
    $skus = sql($conn, q{
        UPDATE oms.locations SET daily_capacity = NULL WHERE code = 'WH-BER';
        WITH s AS (SELECT sku FROM oms.products WHERE kind = 'stock'),
             r AS MATERIALIZED (SELECT sku, oms.receive_stock(sku, 'WH-BER', 1000000) FROM s)
        SELECT string_agg(sku, ',' ORDER BY sku) FROM r});
    ok(scalar(split /,/, $skus) >= 4, "$db: stock received for the stock skus ($skus)");
}
my $p1 = "host=localhost port=$port{node1} dbname=shop";

my $dsn = "host=localhost,localhost port=$port{node1},$port{node2} dbname=shop "
  . 'target_session_attrs=read-write connect_timeout=2';
(my $bench_dsn = $dsn) =~ s/dbname=shop/dbname=bench/;

# ---- 1. synchronous against asynchronous ----------------------------------------
my %tps;
for my $phase ([ 'sync1', 'true' ], [ 'async', 'false' ], [ 'sync2', 'true' ])
{
    my ($label, $quorum) = @$phase;
    run_ok([ 'pg_autoctl', 'set', 'node', 'replication-quorum', $quorum, '--pgdata', $pgdata{node2} ],
        "$label: replication-quorum $quorum on the secondary");
    my $want = $quorum eq 'true' ? 'node2 is a synchronous standby' : 'synchronous_standby_names is empty';
    ok(wait_until(sub {
          my $names = try_sql($p1, 'SHOW synchronous_standby_names') // 'x';
          $quorum eq 'true' ? ($names ne '' && sync_standby_of('node1')) : $names eq ''
    }, 60, $want), "$label: $want");
    my $log = "$base/$label.log";
    my ($out, $err) = ('', '');
    my $rc = IPC::Run::run([ $python, $client, '--dsn', $bench_dsn, '--clients', $nclients, '--prefix', $label, '--log', $log,
        '--skus', $skus, '--seconds', $seconds, '--seed', $seed ], '<', \undef, '>', \$out, '2>', \$err,
        IPC::Run::timeout($seconds + 120));
    chomp $out;
    my $s = eval { decode_json((split /\n/, $out)[-1] // '') } // {};
    ok($rc && ($s->{acks} // 0) > 0 && $s->{refused} == 0 && $s->{indoubt} == 0,
        "$label: orders placed ($out)") or diag($err);
    $tps{$label} = ($s->{acks} // 0) / ($s->{seconds} || 1);
}
my $sync_tps = ($tps{sync1} + $tps{sync2}) / 2;
diag(sprintf('throughput, %d clients: synchronous %.1f orders/s (%.1f, %.1f), asynchronous %.1f orders/s; '
      . 'async/sync = %.2f', $nclients, $sync_tps, $tps{sync1}, $tps{sync2}, $tps{async},
    $sync_tps ? $tps{async} / $sync_tps : 0));
cmp_ok($sync_tps, '>', 0, 'synchronous replication carries orders');

# ---- 2. failovers ------------------------------------------------------------------
my $log = "$base/failover.log";
my $stop = "$base/stop";
my $burst = "$base/burst";
$clients = IPC::Run::start([ $python, $client, '--dsn', $dsn, '--clients', $nclients, '--prefix', 'fo',
    '--log', $log, '--skus', $skus, '--stop-file', $stop, '--retry-seconds', 90, '--rate', $rate, '--burst-file', $burst, '--seed', $seed + 1 ],
    '<', \undef, '>', "$base/failover.out", '2>', "$base/failover.err");

my $primary = 'node1';
my @failover_times;
for my $round (1 .. $rounds)
{
    my $secondary = $other{$primary};
    ok(wait_states({ $primary => 'primary', $secondary => 'secondary' }, 60),
        "round $round: $primary primary, $secondary secondary: " . states_text());
    ok(sync_standby_of($primary), "round $round: $secondary is a synchronous standby of $primary");

    # load, then the clients at full speed, and the kill at a random moment
    my $acks_before = count_acks($log);
    my $t = time;
    wait_until(sub { time - $t >= $seconds && count_acks($log) > $acks_before + 20 }, $seconds + 60,
        'orders before the kill');
    PostgreSQL::Test::Utils::append_to_file($burst, "burst\n");
    usleep(500_000 + int(rand(1_000_000)));
    my $before = count_acks($log);
    cmp_ok($before - $acks_before, '>', 0, "round $round: orders acknowledged by $primary before the kill");
    my $t_kill = kill_machine($primary);
    note "round $round: $primary killed";

    # the monitor promotes the secondary; the clients follow it
    my $promoted = wait_states({ $secondary => qr/^(wait_primary|primary)$/ }, 60);
    ok($promoted, "round $round: the monitor promoted $secondary: " . states_text());
    my $first;
    wait_until(sub { $first = first_ack_after($log, $t_kill, $port{$secondary}); defined $first }, 60,
        'an order on the new primary');
    ok(defined $first, "round $round: the clients reconnected and placed orders on $secondary");
    unlink $burst;
    my $failover = defined $first ? $first - $t_kill : -1;
    push @failover_times, $failover;
    diag(sprintf('round %d: failover %s -> %s: %.2f s from kill -9 to the first order acknowledged',
        $round, $primary, $secondary, $failover));

    # the old primary comes back as a secondary
    start_keeper($primary);
    ok(wait_states({ $secondary => 'primary', $primary => 'secondary' }, 120),
        "round $round: $primary rejoined as a secondary: " . states_text());

    # every order acknowledged so far is on the new primary
    my $new_dsn = "host=localhost port=$port{$secondary} dbname=shop";
    my %acked = acked($log);
    my $found = found_orders($new_dsn);
    my @missing = grep { !defined $found->{$_} || $found->{$_} ne $acked{$_} } sort keys %acked;
    is(scalar(@missing), 0, sprintf('round %d: all %d orders acknowledged so far are on %s with their ids',
        $round, scalar(keys %acked), $secondary))
      or diag('missing or with another id: ' . join(', ', @missing[ 0 .. ($#missing < 9 ? $#missing : 9) ]));
    my $t_check = time;
    is(sql($new_dsn, 'BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM oms.check(); COMMIT'), '0',
        "round $round: SELECT count(*) FROM oms.check() = 0 on $secondary");
    note sprintf('round %d: oms.check() took %.1f s', $round, time - $t_check);
    $primary = $secondary;
}

# ---- 3. the end ----------------------------------------------------------------
PostgreSQL::Test::Utils::append_to_file($stop, "stop\n");
my $finished = eval { $clients->finish; 1 };
ok($finished, 'the clients stopped') or do { diag("clients: $@"); $clients->kill_kill; };
my $summary = eval { decode_json((split /\n/, slurp_file("$base/failover.out"))[-1] // '') } // {};
note 'clients: ' . encode_json($summary);
diag(slurp_file("$base/failover.err")) if -s "$base/failover.err";

my $p_dsn = "host=localhost port=$port{$primary} dbname=shop";
my %acked = acked($log);
my @events = map { decode_json($_) } grep { /\S/ } split /\n/, slurp_file($log);
my @indoubt = grep { $_->{ev} eq 'indoubt' } @events;
my %indoubt_ext = map { $_->{ext} => 1 } @indoubt;
my @resolved = grep { $_->{ev} eq 'ack' && $indoubt_ext{ $_->{ext} } } @events;
my $committed_indoubt = grep { $_->{replayed} } @resolved;
my @refused = grep { $_->{ev} eq 'refused' } @events;
my @unresolved = grep { $_->{ev} eq 'unresolved' } @events;
my $retries = grep { $_->{ev} eq 'retry' } @events;
is(scalar(@refused), 0, 'no order was refused') or diag(encode_json(\@refused));
is(scalar(@unresolved), 0, 'no document was left unresolved') or diag(encode_json(\@unresolved));
is(scalar(@resolved), scalar(keys %indoubt_ext), 'every in-doubt order was resolved by its retry');

my $rows = sql($p_dsn, q{SELECT external_id || ' ' || id FROM oms.orders WHERE external_id LIKE 'fo-%' ORDER BY 1});
my %db;
my $twice = 0;
for (split /\n/, $rows) { my ($e, $id) = split / /; $twice++ if exists $db{$e}; $db{$e} = $id; }
my @missing = grep { !defined $db{$_} || $db{$_} ne $acked{$_} } sort keys %acked;
my @extra = grep { !exists $acked{$_} } sort keys %db;
diag(sprintf('orders: %d acknowledged, %d found on the primary (%s), %d missing, %d not acknowledged; '
      . 'in-doubt %d (%d had committed: answered as replays, %d had not: placed by the retry); %d retried before COMMIT',
    scalar(keys %acked), scalar(keys %db), $primary, scalar(@missing), scalar(@extra), scalar(@indoubt),
    $committed_indoubt, scalar(@resolved) - $committed_indoubt, $retries));
is(scalar(@missing), 0, 'every acknowledged order is on the primary with its order_id')
  or diag('missing: ' . join(', ', @missing[ 0 .. ($#missing < 9 ? $#missing : 9) ]));
is(scalar(@extra), 0, 'no order on the primary that was not acknowledged') or diag('extra: ' . join(', ', @extra));
is($twice, 0, 'no external_id twice');
is(scalar(keys %db), scalar(keys %acked), 'orders found = orders acknowledged');
is(sql($p_dsn, 'SELECT count(*) FROM oms.check()'), '0', 'SELECT count(*) FROM oms.check() = 0 at the end');

my $s_dsn = "host=localhost port=$port{$other{$primary}} dbname=shop";
my $want = scalar(keys %db);
ok(wait_until(sub { (try_sql($s_dsn, q{SELECT count(*) FROM oms.orders WHERE external_id LIKE 'fo-%'}) // -1) == $want },
    60, 'the secondary has replayed'), "the secondary $other{$primary} has the same $want orders");
diag(sprintf('failover times (kill -9 to first order): %s s; max %.2f s',
    join(', ', map { sprintf('%.2f', $_) } @failover_times), (sort { $b <=> $a } @failover_times)[0]));

stop_everything();
ok(!grep({ -e "$_/postmaster.pid" || cluster_pids($_) } values %pgdata), 'every cluster is stopped');
my @listening = grep { !PostgreSQL::Test::Cluster::can_bind('127.0.0.1', $_) } sort values %port;
is("@listening", '', 'nothing listens on the ports of the formation any more');
done_testing();

# ---- helpers ---------------------------------------------------------------------

sub run_ok
{
    my ($cmd, $name) = @_;
    my ($out, $err) = ('', '');
    my $ok = IPC::Run::run($cmd, '<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(180));
    ok($ok, $name) or diag(join(' ', @$cmd) . "\n$out$err");
    return $ok;
}

# psql -At on a connection string: the output, or undef on an error
sub try_sql
{
    my ($conn, $query) = @_;
    my ($out, $err) = ('', '');
    my $ok = eval {
        IPC::Run::run([ 'psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-d', "$conn connect_timeout=5",
            '-c', $query ], '<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(120));
    };
    return undef unless $ok;
    chomp $out;
    return $out;
}

sub sql
{
    my ($conn, $query) = @_;
    my ($out, $err) = ('', '');
    IPC::Run::run([ 'psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $conn, '-c', $query ],
        '<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(600))
      or die "psql ($conn) failed: $err\n$query";
    chomp $out;
    return $out;
}

sub wait_until
{
    my ($cond, $timeout, $what) = @_;
    my $deadline = time + $timeout;
    while (time < $deadline)
    {
        return 1 if $cond->();
        usleep(100_000);
    }
    return $cond->() ? 1 : 0;
}

# name => "reported/goal" from the monitor
sub states
{
    my $rows = try_sql($monitor_dsn, q{SELECT nodename || ' ' || reportedstate || ' ' || goalstate FROM pgautofailover.node})
      // '';
    return map { my ($n, $r, $g) = split / /; ($n => [ $r, $g ]) } split /\n/, $rows;
}

sub states_text
{
    my %s = states();
    return join(', ', map { "$_ $s{$_}[0]" . ($s{$_}[0] eq $s{$_}[1] ? '' : " -> $s{$_}[1]") } sort keys %s);
}

# wait until every named node reports (and is assigned) the state wanted
# (a string, or a pattern)
sub wait_states
{
    my ($want, $timeout) = @_;
    return wait_until(sub {
        my %s = states();
        for my $n (keys %$want)
        {
            return 0 unless $s{$n};
            my $w = $want->{$n};
            return 0 unless ref $w ? ($s{$n}[0] =~ $w && $s{$n}[1] =~ $w) : ($s{$n}[0] eq $w && $s{$n}[1] eq $w);
        }
        return 1;
    }, $timeout, 'states');
}

# the other node streams to $name as a synchronous (quorum) standby
sub sync_standby_of
{
    my ($name) = @_;
    my $n = try_sql("host=localhost port=$port{$name} dbname=shop",
        q{SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND sync_state IN ('sync', 'quorum')});
    return defined $n && $n eq '1';
}

sub start_keeper
{
    my ($name) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0)
    {
        POSIX::setsid();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$base/$name.keeper.log";
        open STDERR, '>&', \*STDOUT;
        exec('pg_autoctl', 'run', '--pgdata', $pgdata{$name}) or POSIX::_exit(127);
    }
    $keeper{$name} = $pid;
    return;
}

# pids of the process group $pgid (a keeper and its services)
sub group_pids
{
    my ($pgid) = @_;
    my @pids;
    opendir(my $proc, '/proc') or die "cannot read /proc: $!";
    for my $pid (grep { /^\d+$/ } readdir($proc))
    {
        open(my $fh, '<', "/proc/$pid/stat") or next;
        my $stat = <$fh>;
        close $fh;
        # pid (comm) state ppid pgrp ...; a zombie is gone already
        next unless defined $stat && $stat =~ /\)\s+(\S+)\s+\d+\s+(\d+)/;
        push @pids, $pid if $2 == $pgid && $1 ne 'Z';
    }
    closedir($proc);
    return @pids;
}

# the machine of $name dies: its keeper, then its postmaster (kill -9 of
# the pid in postmaster.pid), then what is left of the cluster. Returns
# the time of the postmaster's kill.
sub kill_machine
{
    my ($name) = @_;
    my $pgid = $keeper{$name};
    my $pm = (split /\n/, slurp_file("$pgdata{$name}/postmaster.pid"))[0];
    my @autoctl = grep { (readlink("/proc/$_/exe") // '') =~ /pg_autoctl$/ } group_pids($pgid);
    kill 'KILL', @autoctl;
    kill 'KILL', $pm;
    my $t_kill = time;
    # wait until all are gone, the postmaster reaped too: a new postmaster
    # refuses to start while the old pid still exists
    my $deadline = time + 30;
    while (time < $deadline)
    {
        waitpid($pgid, POSIX::WNOHANG());
        my @left = (cluster_pids($pgdata{$name}), group_pids($pgid));
        last unless @left || -e "/proc/$pm";
        kill 'KILL', @left;
        usleep(20_000);
    }
    diag("$name: the killed postmaster $pm is still there") if -e "/proc/$pm";
    waitpid($pgid, 0);
    delete $keeper{$name};
    return $t_kill;
}

# stop every keeper (on SIGINT pg_autoctl stops its Postgres in fast
# mode); whatever is left after 30 s gets SIGKILL
sub stop_everything
{
    for my $name (keys %keeper)
    {
        kill 'INT', $keeper{$name};
    }
    my $deadline = time + 30;
    for my $name (keys %keeper)
    {
        my $pid = $keeper{$name};
        while (time < $deadline && waitpid($pid, POSIX::WNOHANG()) == 0) { usleep(50_000); }
    }
    for my $name (keys %keeper)
    {
        my @left = (group_pids($keeper{$name}), cluster_pids($pgdata{$name}));
        kill 'KILL', @left if @left;
        waitpid($keeper{$name}, 0);
    }
    %keeper = ();
    for my $dir (values %pgdata)
    {
        my @left = cluster_pids($dir);
        kill 'KILL', @left if @left;
    }
    return;
}

sub count_acks
{
    my ($file) = @_;
    return 0 unless -e $file;
    my $n = () = slurp_file($file) =~ /"ev": "ack"/g;
    return $n;
}

# external_id => order_id of every acknowledged order in the log
sub acked
{
    my ($file) = @_;
    my %a;
    return %a unless -e $file;
    for (split /\n/, slurp_file($file))
    {
        next unless /"ev": "ack"/;
        my $e = eval { decode_json($_) } or next;    # a line being written
        $a{ $e->{ext} } = $e->{order_id};
    }
    return %a;
}

# time of the first order acknowledged after $t by the server on $port
sub first_ack_after
{
    my ($file, $t, $port) = @_;
    my $first;
    for (split /\n/, slurp_file($file))
    {
        next unless /"ev": "ack"/;
        my $e = eval { decode_json($_) } or next;
        $first = $e->{t} if $e->{t} > $t && $e->{port} == $port && (!defined $first || $e->{t} < $first);
    }
    return $first;
}

# external_id => id of the clients' orders (external_id fo-...) on a node
sub found_orders
{
    my ($conn) = @_;
    my %f;
    for (split /\n/, sql($conn, q{SELECT external_id || ' ' || id FROM oms.orders WHERE external_id LIKE 'fo-%'}))
    {
        my ($e, $id) = split / /;
        $f{$e} = $id;
    }
    return \%f;
}
