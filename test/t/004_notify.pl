# oms.notify_events: off by default (no NOTIFY), on sends NOTIFY oms_events
# with the id of each outbox event, at commit, to every listener; and every
# event kind the extension emits takes that one path (EventsEmit), so a
# LISTEN client sees exactly one notification per event row, of every kind.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time usleep);

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

# ---- every kind, seen by a separate LISTEN client ------------------------------

# Every event kind the extension emits. The list is held honest below: each
# kind named literally in src/*.c, and order_<status> for each status a
# transition leads to, must be in it.
my @kinds = qw(
  order_placed order_backordered order_pending_payment order_confirmed order_unconfirmed order_on_hold order_hold_released
  order_in_fulfillment order_partially_shipped order_shipped order_delivered order_completed
  order_partially_returned order_returned order_cancelled order_expired
  payment_authorized payment_captured payment_voided payment_refunded
  gift_card_issued store_credit_issued refund_issued
  shipment_created shipment_shipped shipment_delivered shipment_cancelled fulfillment_rejected
  backorder_filled low_stock
  rma_requested rma_authorized rma_rejected rma_received
  order_edited order_follow_up
  purchase_order_proposed purchase_order_sent purchase_order_received purchase_order_closed purchase_order_cancelled
  pickup_ready pickup_expired);
my %listed = map { $_ => 1 } @kinds;

my %in_source;
for my $file (glob('src/*.c'))
{
    my $text = slurp_file($file);
    $in_source{$1} = $file while $text =~ /\b(?:EventsEmit|RmaEvent)\(\s*"([a-z_]+)"/g;
}
ok(scalar(keys %in_source) > 0, 'the sources name event kinds');
is(join(' ', grep { !$listed{$_} } sort keys %in_source), '',
   'every event kind named in src/*.c is in the list this test drives');

$node->safe_psql('postgres', 'CREATE DATABASE shop');
$node->safe_psql('shop', 'CREATE EXTENSION oms');
my @statuses = split /\n/, $node->safe_psql('shop', 'SELECT DISTINCT to_status FROM oms.order_transitions ORDER BY 1');
is(join(' ', grep { !$listed{"order_$_"} } @statuses), '',
   'order_<status> of every status a transition leads to is in the list');

$node->safe_psql('shop', q{
    INSERT INTO oms.channels (code, name, kind, routing_strategy) VALUES ('web', 'Web', 'web', 'priority');
    INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority, address) VALUES
        ('BER', 'Berlin', 'warehouse', 52.52, 13.40, 10, E'Lagerstrasse 1\n10115 Berlin'),
        ('HAM', 'Hamburg', 'warehouse', 53.55, 9.99, 20, E'Hafenweg 7\n20457 Hamburg');
    INSERT INTO oms.products (sku, name, kind, weight_kg, reorder_point, reorder_qty) VALUES
        ('TENT', 'Tent', 'stock', 2.5, 5, 20), ('MUG', 'Mug', 'stock', 0.4, 0, 0), ('BOOT', 'Boot', 'stock', 1.1, 0, 0);
    INSERT INTO oms.customers (external_ref, email, name) VALUES ('ann', 'ann@example.com', 'Ann Example');
    INSERT INTO oms.carriers (code, name, tracking_url, active) VALUES ('dhl', 'DHL', 'https://dhl.example/{{tracking_number}}', true);
    INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days, active) SELECT id, 'standard', 'Paket', 2, true FROM oms.carriers;
    INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price) SELECT id, 'EUR', NULL, NULL, 5.99 FROM oms.carrier_services;
    SELECT oms.receive_stock('TENT', 'BER', 10), oms.receive_stock('MUG', 'BER', 50), oms.receive_stock('MUG', 'HAM', 50);
    CREATE FUNCTION place(ext text, sku text, qty int, policy text DEFAULT 'all_or_nothing') RETURNS bigint LANGUAGE sql AS
    $$ SELECT (oms.place_order(jsonb_build_object('channel', 'web', 'external_id', ext, 'currency', 'EUR', 'policy', policy,
           'customer', jsonb_build_object('external_ref', 'ann'),
           'ship_to', jsonb_build_object('name', 'Ann Example', 'line1', 'Am Kanal 5', 'postal_code', '14467', 'city', 'Potsdam',
                                         'country', 'DE', 'lat', 52.39, 'lon', 13.06),
           'lines', jsonb_build_array(jsonb_build_object('sku', sku, 'qty', qty, 'unit_price', 10)))) ->> 'order_id')::bigint $$;
    CREATE FUNCTION oid_of(ext text) RETURNS bigint LANGUAGE sql AS $$ SELECT id FROM oms.orders WHERE external_id = ext $$;
    CREATE FUNCTION pay(ext text, capture boolean) RETURNS bigint LANGUAGE sql AS
    $$ SELECT (CASE WHEN capture THEN oms.capture_payment((a ->> 'payment_id')::bigint) ELSE a END ->> 'payment_id')::bigint
         FROM oms.orders o, oms.authorize_payment(o.id, jsonb_build_object('method', 'card', 'amount', o.total, 'token', 'tok_' || ext)) a
        WHERE o.external_id = ext $$;
    CREATE FUNCTION ship(ext text, loc text, qty int, deliver boolean) RETURNS text LANGUAGE plpgsql AS $$
    DECLARE s bigint; st text;
    BEGIN
        s := (oms.create_shipment(oid_of(ext), loc, jsonb_build_array(jsonb_build_object('line_no', 1, 'qty', qty))) ->> 'shipment_id')::bigint;
        st := oms.ship(s, 'dhl', 'standard', 'JJD-' || ext || '-' || s) ->> 'order_status';
        IF deliver THEN st := oms.deliver(s) ->> 'order_status'; END IF;
        RETURN st;
    END $$;
});
$node->safe_psql('postgres', 'ALTER DATABASE shop SET oms.notify_events = on');

# the listener: its own connection, idle while another session works; it
# prints what arrived whenever it runs a statement
my ($lin, $lout, $lerr) = ('', '', '');
my $timer = IPC::Run::timer($PostgreSQL::Test::Utils::timeout_default);
my $listener = IPC::Run::start(
    [ 'psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('shop'), '-f', '-' ],
    '<', \$lin, '>', \$lout, '2>', \$lerr, $timer);
my $marks = 0;
sub listener_mark
{
    $marks++;
    $lin .= "SELECT 'mark $marks';\n";
    $listener->pump until $lout =~ /^mark $marks$/m || $timer->is_expired;
    die "the listener did not answer:\n$lerr" if $timer->is_expired;
    return;
}
$lin .= "LISTEN oms_events;\n";
listener_mark();
my $before = $node->safe_psql('shop', 'SELECT COALESCE(max(id), 0) FROM oms.events');

$node->safe_psql('shop', q{
    -- placement, low stock (10 -> 4 available, reorder point 5), payment, hold and release
    SELECT place('N-1', 'TENT', 6);
    SELECT pay('N-1', true);
    SELECT oms.hold_order(oid_of('N-1'), 'fraud review') ->> 'status';
    SELECT oms.release_hold(oid_of('N-1')) ->> 'status';
    -- two shipments: partially shipped, shipped, delivered, completed
    SELECT ship('N-1', 'BER', 2, false);
    SELECT ship('N-1', 'BER', 4, true);
    SELECT oms.deliver(s.id) ->> 'order_status' FROM oms.shipments s WHERE s.order_id = oid_of('N-1') AND s.status = 'shipped';
    SELECT oms.set_order_status(oid_of('N-1'), 'completed') ->> 'status';
    -- returns: one unit refunded (partially returned), an RMA rejected, then
    -- the rest back for store credit (returned)
    SELECT oms.create_rma(oid_of('N-1'), '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "refund"}') ->> 'status';
    SELECT oms.receive_rma(r.id, 'BER', '[{"sku": "TENT", "qty": 1, "condition": "sellable"}]') ->> 'status' FROM oms.rmas r WHERE r.order_id = oid_of('N-1');
    SELECT oms.refund_rma(r.id) ->> 'status' FROM oms.rmas r WHERE r.order_id = oid_of('N-1');
    SELECT oms.create_rma(oid_of('N-1'), '{"lines": [{"sku": "TENT", "qty": 5, "reason": "changed_mind"}], "resolution": "refund"}') ->> 'status';
    SELECT oms.reject_rma(max(r.id), 'outside the rules') ->> 'status' FROM oms.rmas r WHERE r.order_id = oid_of('N-1');
    SELECT oms.create_rma(oid_of('N-1'), '{"lines": [{"sku": "TENT", "qty": 5, "reason": "defective"}], "resolution": "store_credit"}') ->> 'status';
    SELECT oms.receive_rma(max(r.id), 'BER', '[{"sku": "TENT", "qty": 5, "condition": "damaged"}]') ->> 'status' FROM oms.rmas r WHERE r.order_id = oid_of('N-1');
    SELECT oms.refund_rma(max(r.id)) ->> 'status' FROM oms.rmas r WHERE r.order_id = oid_of('N-1');
    -- backorder, filled by a receipt
    SELECT place('N-2', 'BOOT', 2, 'backorder');
    SELECT oms.receive_stock('BOOT', 'BER', 5) IS NOT NULL;
    -- purchasing: TENT (5 available, reorder point 5) is proposed; the
    -- purchase order is sent, partly received and closed; another cancelled
    INSERT INTO oms.suppliers (code, name) VALUES ('ACME', 'Acme');
    INSERT INTO oms.supplier_products (supplier_id, product_id, unit_cost, currency, preferred)
        SELECT s.id, p.id, 5, 'EUR', true FROM oms.suppliers s, oms.products p WHERE p.sku = 'TENT';
    SELECT jsonb_array_length(oms.propose_purchase_orders() -> 'proposed');
    SELECT oms.send_purchase_order(max(id)) ->> 'status' FROM oms.purchase_orders;
    SELECT oms.receive_purchase_order(max(id), 'BER', '[{"sku": "TENT", "qty": 1}]') ->> 'status' FROM oms.purchase_orders;
    SELECT oms.close_purchase_order(max(id), 'rest not coming') ->> 'status' FROM oms.purchase_orders;
    SELECT oms.cancel_purchase_order((oms.create_purchase_order('ACME', 'BER', '[{"sku": "TENT", "qty": 2}]')
                                      ->> 'purchase_order_id')::bigint, 'not needed') ->> 'status';
    -- cancel after a shipment was created: shipment cancelled, authorization voided
    SELECT place('N-3', 'MUG', 1);
    SELECT pay('N-3', false);
    SELECT oms.create_shipment(oid_of('N-3'), 'BER') ->> 'shipment_id' IS NOT NULL;
    SELECT oms.cancel_order(oid_of('N-3'), 'customer changed their mind') ->> 'status';
    -- a held confirmed order whose only authorization is voided: no longer covered
    SELECT place('N-9', 'MUG', 1);
    SELECT pay('N-9', false);
    SELECT oms.hold_order(oid_of('N-9'), 'address check') ->> 'status';
    SELECT oms.void_payment(p.id) ->> 'order_status' FROM oms.payments p WHERE p.order_id = oid_of('N-9');
    -- expiry of an unpaid order
    SELECT place('N-4', 'MUG', 1);
    UPDATE oms.orders SET expires_at = now() - interval '1 minute' WHERE external_id = 'N-4';
    SELECT oms.expire_reservations();
    -- a location rejects the order, which is re-routed
    SELECT place('N-5', 'MUG', 1);
    SELECT pay('N-5', true);
    SELECT oms.reject_fulfillment(oid_of('N-5'), 'BER', 'damaged') ->> 'status';
    -- an edit, and the follow-up a week after N-1's parcels arrived
    SELECT place('N-6', 'MUG', 1);
    SELECT oms.edit_order(oid_of('N-6'), '{"changes": [{"op": "set_qty", "line_no": 1, "qty": 2}]}') ->> 'status';
    UPDATE oms.shipments SET delivered_at = delivered_at - interval '8 days' WHERE order_id = oid_of('N-1');
    SELECT oms.send_follow_ups();
    -- a pickup made ready and not collected in time: released by the sweep
    UPDATE oms.locations SET pickup = true WHERE code = 'HAM';
    SELECT oms.place_order('{"channel": "web", "external_id": "N-7", "currency": "EUR", "customer": {"external_ref": "ann"},
             "ship_to": {"pickup": "HAM"}, "lines": [{"sku": "MUG", "qty": 1, "unit_price": 10}]}') ->> 'status';
    SELECT pay('N-7', false);
    SELECT oms.ready_for_pickup((oms.create_shipment(oid_of('N-7'), 'HAM') ->> 'shipment_id')::bigint) ->> 'status';
    UPDATE oms.shipments SET ready_at = ready_at - interval '30 days' WHERE order_id = oid_of('N-7');
    SELECT oms.expire_pickups();
    -- stored value
    SELECT oms.issue_gift_card('GIFT-NOTIFY-0001', 25, 'EUR') ->> 'gift_card_id' IS NOT NULL;
    SELECT oms.issue_store_credit(c.id, 10, 'EUR', 'goodwill') IS NOT NULL FROM oms.customers c;
});

my %event_kind = map { split /\|/ } split /\n/,
  $node->safe_psql('shop', "SELECT id, kind FROM oms.events WHERE id > $before ORDER BY id");
my @event_ids = sort { $a <=> $b } keys %event_kind;

# every commit has signalled the listener; let it catch up (bounded)
my @notified;
my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
while (1)
{
    listener_mark();
    @notified = ($lout =~ /^Asynchronous notification "oms_events" with payload "(\d+)"/mg);
    last if @notified >= @event_ids || time > $deadline;
    usleep(100_000);
}
listener_mark();    # nothing more arrives
@notified = ($lout =~ /^Asynchronous notification "oms_events" with payload "(\d+)"/mg);
$lin .= "\\q\n";
$listener->finish;

is(join(',', sort { $a <=> $b } @notified), join(',', @event_ids),
   'the listener saw exactly one notification per event row, with its id')
  or diag('events without a notification: ' . join(' ', map { "$_($event_kind{$_})" } grep { my $e = $_; !grep { $_ == $e } @notified } @event_ids));

my (%events_of, %notes_of);
$events_of{ $event_kind{$_} }++ for @event_ids;
$notes_of{ $event_kind{$_} // 'unknown' }++ for @notified;
for my $kind (@kinds)
{
    ok($events_of{$kind}, "the scenario emits $kind");
    is($notes_of{$kind} // 0, $events_of{$kind} // 0, "$kind: one notification per event");
}
is(join(' ', grep { !$listed{$_} } sort keys %events_of), '', 'no event kind outside the list');
is($node->safe_psql('shop', 'SELECT invariant, detail FROM oms.check() ORDER BY 1, 2'), '', 'oms.check() is empty');

$node->stop;
done_testing();
