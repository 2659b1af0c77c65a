# test/t/OmsTap.pm: helpers the TAP suites share (prove runs with -I test/t).
package OmsTap;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils qw(slurp_file);
use Test::More;
use Time::HiRes qw(time usleep);
use Cwd ();

our @EXPORT_OK = qw(server_log_problems storm_aftermath storm_node storm_sql storm_receive_initial
  storm_pgbench restart_if_down cluster_pids);

# A node for a pgbench storm, started: lock waits logged, room for the
# clients, and an empty database $db (the test creates the extension there
# with its fixture).
sub storm_node
{
    my ($name, $db) = @_;
    my $node = PostgreSQL::Test::Cluster->new($name);
    $node->init;
    $node->append_conf('postgresql.conf', q{
log_statement = none
log_lock_waits = on
max_connections = 60
});
    $node->start;
    $node->safe_psql('postgres', "CREATE DATABASE $db");
    return $node;
}

# SQL helpers several storms share, by name; storm_sql(names...) returns the
# text that creates them, in the order given. They write public.storm_log,
# which each test creates with the columns it needs (storm_receive needs
# what, sku, location and qty; storm_caught what, state and message).
my %storm_sql = (
    # the business outcomes of a call are logged; anything else is raised
    storm_caught => q{
    CREATE FUNCTION public.storm_caught(what text, state text, message text, allowed text[]) RETURNS boolean
    LANGUAGE plpgsql AS $$
    BEGIN
        IF state <> ALL (allowed) THEN
            RETURN false;
        END IF;
        INSERT INTO public.storm_log (what, state, message) VALUES (what, state, message);
        RETURN true;
    END $$;
},
    # a goods receipt, logged so that the ledger can be checked against it
    storm_receive => q{
    CREATE FUNCTION public.storm_receive(sku text, loc text, qty integer) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        res jsonb;
    BEGIN
        res := oms.receive_stock(sku, loc, qty, 'storm');
        INSERT INTO public.storm_log (what, sku, location, qty) VALUES ('receipt', sku, loc, qty);
        RETURN res;
    END $$;
});

sub storm_sql
{
    return join('', map { $storm_sql{$_} // die "no storm helper $_" } @_);
}

# The stock a storm starts from: { sku => [ [ location, qty ], ... ] },
# booked through public.storm_receive, in sku order.
sub storm_receive_initial
{
    my ($node, $db, $initial) = @_;
    my @receipts;
    for my $sku (sort keys %$initial)
    {
        push @receipts, "SELECT public.storm_receive('$sku', '$_->[0]', $_->[1]);" for @{ $initial->{$sku} };
    }
    $node->safe_psql($db, join("\n", @receipts));
    return;
}

# The storm: pgbench with $clients clients of $per_client transactions each
# over the weighted scripts, retrying serialization failures and deadlocks;
# every transaction must end processed, none failed, and nothing may print
# an error or abort (one test). Notes how long it took.
sub storm_pgbench
{
    my ($node, $db, $clients, $per_client, $name, $scripts) = @_;
    my $total = $clients * $per_client;
    my $t0 = time;
    $node->pgbench(
        "-n -c $clients -j 4 -t $per_client --max-tries=10",
        0,
        [ qr{^number of transactions actually processed: $total/$total$}m,
          qr{^number of failed transactions: 0 }m ],
        [ qr{\A(?![\s\S]*(?:error|abort))} ],
        $name, $scripts, $db);
    note sprintf('storm took %.1f s', time - $t0);
    return;
}

# A backend that crashes takes the node down (restart_after_crash = off).
# Bring it back up, through crash recovery, so the data can still be judged.
sub restart_if_down
{
    my ($node) = @_;
    return if $node->psql('postgres', 'SELECT 1') == 0;
    diag('the server went down during the storm; starting it again to check the data');
    my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
    usleep(100_000) while -e $node->data_dir . '/postmaster.pid' && time < $deadline;
    $node->kill9;    # forgets the dead postmaster's pid
    $node->start;
    return;
}

# Deadlocks, crashed backends, PANICs and assertion failures in the node's
# server log (pgbench retries a deadlock and only counts it, and only says
# that a client was aborted): each is shown (the first four, with their
# DETAIL line), and the counts are returned as (deadlocks, others).
sub server_log_problems
{
    my ($node) = @_;
    my @entries = split /^(?=\d{4}-\d\d-\d\d \d)/m, slurp_file($node->logfile);
    my @found;
    my ($deadlocks, $other) = (0, 0);
    for my $i (0 .. $#entries)
    {
        next unless $entries[$i] =~ /deadlock detected|was terminated by signal|PANIC:|TRAP:/;
        if ($entries[$i] =~ /deadlock detected/) { $deadlocks++ } else { $other++ }
        my $text = $entries[$i];
        $text .= $entries[ $i + 1 ] if $i < $#entries && $entries[ $i + 1 ] =~ /^\S+ \S+ \S+ \[\d+\] .*?DETAIL:/;
        push @found, $text;
    }
    diag("server log:\n" . join('', grep { defined } @found[ 0 .. 3 ]) . (@found > 4 ? '... (' . scalar(@found) . " in all)\n" : ''))
      if @found;
    return ($deadlocks, $other);
}

# After a pgbench storm on $node, database $db: no deadlock and no crashed
# backend in the server log (two tests); a node that went down (restart_after_crash
# = off) is started again through crash recovery so the data can still be
# judged; then oms.check() must be empty (one test).
sub storm_aftermath
{
    my ($node, $db) = @_;
    my ($deadlocks, $problems) = server_log_problems($node);
    is($deadlocks, 0, 'no deadlock in the server log');
    is($problems, 0, 'no crashed backend, PANIC or assertion failure in the server log');
    restart_if_down($node);
    my $violations = $node->safe_psql($db, 'SELECT invariant, detail FROM oms.check() ORDER BY 1, 2');
    is($violations, '', 'oms.check() is empty after the storm')
      or diag("oms.check() rows:\n$violations");
    return;
}

# pids of a cluster's processes, from its data directory: the postmaster
# and its children all run there (kill -9 tests: what is left of a cluster)
sub cluster_pids
{
    my ($dir) = @_;
    $dir = Cwd::abs_path($dir) // $dir;
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

1;
