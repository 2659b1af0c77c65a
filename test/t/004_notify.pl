# oms.notify_events: off by default (no NOTIFY), on sends NOTIFY oms_events
# with the id of each outbox event, at commit, to every listener.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('notify');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION oms');

# one session listens and writes an event; psql prints notifications that
# arrive for it after each statement
my ($out, $err);
$node->psql('postgres', q{
    LISTEN oms_events;
    SELECT oms.issue_gift_card('NOTIFY-OFF-0001', 10, 'EUR') ->> 'gift_card_id';
    SET oms.notify_events = on;
    SELECT oms.issue_gift_card('NOTIFY-ON-00001', 10, 'EUR') ->> 'gift_card_id';
}, stdout => \$out, stderr => \$err);

my @notes = ($out =~ /Asynchronous notification "oms_events" with payload "(\d+)"/g);
is(scalar(@notes), 1, 'exactly one notification: the GUC is off by default') or diag("stdout:\n$out\nstderr:\n$err");
my $id = $node->safe_psql('postgres', q{SELECT max(id) FROM oms.events WHERE kind = 'gift_card_issued'});
is($notes[0], $id, 'the payload is the id of the event written with the GUC on');
is($node->safe_psql('postgres', q{SELECT count(*) FROM oms.events WHERE kind = 'gift_card_issued'}), '2',
   'both events are in the outbox either way');

$node->stop;
done_testing();
