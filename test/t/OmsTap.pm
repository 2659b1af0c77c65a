# test/t/OmsTap.pm: helpers the TAP suites share (prove runs with -I test/t).
package OmsTap;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Utils qw(slurp_file);
use Test::More;
use Time::HiRes qw(time usleep);

our @EXPORT_OK = qw(server_log_problems storm_aftermath);

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
    if ($node->psql('postgres', 'SELECT 1') != 0)
    {
        diag('the server went down during the storm; starting it again to check the data');
        my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
        usleep(100_000) while -e $node->data_dir . '/postmaster.pid' && time < $deadline;
        $node->kill9;    # forgets the dead postmaster's pid
        $node->start;
    }
    my $violations = $node->safe_psql($db, 'SELECT invariant, detail FROM oms.check() ORDER BY 1, 2');
    is($violations, '', 'oms.check() is empty after the storm')
      or diag("oms.check() rows:\n$violations");
    return;
}

1;
