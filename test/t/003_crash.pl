# Crash rounds: kill -9 at a random moment under a mixed workload, then
# recover and check that nothing acknowledged was lost.
#
# OMS_CRASH_ROUNDS rounds (default 5; test/run soak runs 50). In each round
# four clients (test/fuzz/crash_client.py) run business flows in autocommit
# mode: place, cancel; place, authorize, capture, refund part of the payment;
# place, authorize, capture, create a shipment, ship, create an RMA, receive
# it, refund it. Each client logs every call that returned (so committed),
# with its ids. At a random moment after the round got going, one of:
#   - the postmaster and every process of the node get SIGKILL (a power cut),
#     and the node is started again (crash recovery);
#   - one backend (a client's, picked at random) gets SIGKILL: the postmaster
#     resets every backend and recovers by itself (restart_after_crash).
# After each round:
#   - every client lost its connection and exited;
#   - the server accepts connections again;
#   - oms.check() is empty;
#   - every acknowledged action is there: orders with their external_id and
#     lines, cancels, payments authorized, captured and refunded, shipments
#     shipped with their tracking number, RMAs created, received and refunded;
#   - a retried place_order of an acknowledged order (three at random and the
#     last one before the kill) is answered as a replay of the same order;
# and, at the end, the recovered node takes new orders with fresh ids.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Cwd;
use Time::HiRes qw(time usleep);
use OmsTap qw(server_log_problems cluster_pids);

my $rounds = $ENV{OMS_CRASH_ROUNDS} || 5;
my $nclients = 4;
my $min_acks = 40;    # acknowledged calls in a round before the kill may come
my $python = $ENV{OMS_PYTHON} || '/usr/bin/python3';
my $client = Cwd::abs_path('test/fuzz/crash_client.py');
my $seed = $ENV{OMS_FUZZ_SEED} || int(rand(2**31));
srand($seed);
note "crash rounds: $rounds, seed $seed (replay: OMS_FUZZ_SEED=$seed)";

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', q{
log_statement = none
restart_after_crash = on
});
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE crash');
$node->safe_psql('crash', 'CREATE EXTENSION oms');
$node->safe_psql('crash', slurp_file('demo/catalog.sql'));
# every order ships from WH-BER, and a day of crash rounds places more
# orders than the demo's daily capacity there: unlimited
$node->safe_psql('crash', q{
    UPDATE oms.locations SET daily_capacity = NULL WHERE code = 'WH-BER';
    SELECT oms.receive_stock(s, 'WH-BER', 1000000)
      FROM unnest(ARRAY['BEAN-ETH-250', 'BEAN-COL-250', 'BEAN-ETH-1K', 'BEAN-COL-1K']) s;
});
my $dsn = 'host=' . $node->host . ' port=' . $node->port . ' dbname=crash';
my $dir = $node->basedir;

for my $round (1 .. $rounds)
{
    my $how = rand() < 0.5 ? 'postmaster' : 'backend';
    my @logs = map { "$dir/round$round-client$_.log" } 1 .. $nclients;
    my $log_start = -s $node->logfile;
    my @harness;
    for my $c (1 .. $nclients)
    {
        push @harness, IPC::Run::start(
            [ $python, $client, '--dsn', $dsn, '--client', $c, '--prefix', "r$round", '--log', $logs[ $c - 1 ],
              '--seed', $seed + 100 * $round + $c, '--seconds', 120 ],
            '<', \undef, '>', "$dir/round$round-client$c.out", '2>&1', "$dir/round$round-client$c.out",
            IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
    }

    # wait for the round to get going, then a random moment more
    my $deadline = time + 60;
    my $acks = 0;
    while (time < $deadline)
    {
        $acks = 0;
        for (@logs) { $acks += () = slurp_file($_) =~ /"act": "(?!refused)/g if -e $_; }
        last if $acks >= $min_acks;
        usleep(50_000);
    }
    usleep(int(rand(1_500_000)));

    my @crashes = grep { /terminated by signal|PANIC|TRAP/ } split /\n/, substr(slurp_file($node->logfile), $log_start);
    is(join("\n", @crashes), '', "round $round: no server process crashed on its own before the kill");

    if ($how eq 'postmaster')
    {
        # the postmaster and every process of the node, like a power cut:
        # without this the orphaned backends would keep running (and keep
        # the shared memory attached) after the postmaster is gone
        my @server_pids = cluster_pids($node->data_dir);
        $node->kill9;
        kill 'KILL', @server_pids;
        # wait until they are gone, zombies reaped included: a new postmaster
        # refuses to start while the old pid still exists
        $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
        while (time < $deadline)
        {
            my @left = grep { -e "/proc/$_" } @server_pids, cluster_pids($node->data_dir);
            last unless @left;
            kill 'KILL', @left;
            usleep(100_000);
        }
    }
    else
    {
        my $pids = '';
        $node->psql('crash', q{SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'crash%'}, stdout => \$pids);
        my @pids = grep { /^\d+$/ } split /\n/, $pids;
        my $victim = @pids ? $pids[ int(rand(@pids)) ] : undef;
        if (defined $victim) { kill 'KILL', $victim; }
        else { diag("round $round: no client backend to kill (the clients already finished?)"); }
    }
    my $finished = 1;
    for my $h (@harness)
    {
        eval { $h->finish; 1 } or do { $finished = 0; diag("client did not exit: $@"); $h->kill_kill; };
    }
    ok($finished, "round $round: the clients lost their connections to the kill of a $how and exited");

    # recovery: the node's own after a backend's kill, a restart after a power cut
    if ($how eq 'postmaster') { $node->start; }
    else
    {
        $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
        usleep(200_000) while $node->psql('crash', 'SELECT 1') != 0 && time < $deadline;
    }
    is($node->psql('crash', 'SELECT 1'), 0, "round $round: the server accepts connections after the kill of a $how");

    my $violations = $node->safe_psql('crash', 'SELECT invariant, detail FROM oms.check() ORDER BY 1, 2');
    is($violations, '', "round $round: oms.check() is empty after crash recovery")
      or diag("oms.check() rows:\n$violations");

    # every acknowledged action is there, and retries are replays
    my ($out, $err) = ('', '');
    my $rc = IPC::Run::run([ $python, $client, '--dsn', $dsn, '--seed', $seed + $round, '--verify', grep { -e } @logs ],
        '<', \undef, '>', \$out, '2>', \$err);
    my ($summary) = $out =~ /^(verified: .*)$/m;
    my %acts;
    for (@logs) { next unless -e $_; my $text = slurp_file($_); $acts{$1}++ while $text =~ /"act": "(\w+)"/g; }
    note "round $round (kill of a $how): " . join(', ', map { "$_ $acts{$_}" } sort keys %acts);
    cmp_ok($acts{ship} // 0, '>', 0, "round $round: orders were placed, paid and shipped before the kill");
    ok($rc && defined $summary && $out !~ /^(lost|replay):/m,
        "round $round: every acknowledged action survived, retried orders are replays (" . ($summary // 'no summary') . ')')
      or diag("$out$err");
}

my ($deadlocks, $problems) = server_log_problems($node);
is($deadlocks, 0, 'no deadlock in the server log');

# the recovered node works: a new order gets a fresh id
my $new = $node->safe_psql('crash', q{
    SELECT (r ->> 'order_id')::bigint > (SELECT max(id) FROM oms.orders WHERE external_id <> 'after-crash')
      FROM oms.place_order('{"channel": "web", "external_id": "after-crash", "currency": "EUR",
                             "lines": [{"sku": "BEAN-ETH-250", "qty": 2, "unit_price": 3}]}') r});
is($new, 't', 'the recovered node places new orders with fresh ids');
my $violations = $node->safe_psql('crash', 'SELECT invariant, detail FROM oms.check() ORDER BY 1, 2');
is($violations, '', 'oms.check() stays empty') or diag($violations);

$node->stop;
done_testing();

