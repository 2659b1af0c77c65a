# test/t/OmsTap.pm: helpers the TAP suites share (prove runs with -I test/t).
package OmsTap;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Utils qw(slurp_file);
use Test::More;

our @EXPORT_OK = qw(server_log_problems);

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

1;
