# The purchasing storm (issue 17): 8 clients at once place orders (some
# backordered, some proposing purchase orders in their own transaction
# with oms.propose_on_low_stock), run proposal sweeps, send drafts, receive
# purchase orders in parts (some units damaged, at varying invoiced
# costs, filling backorders), close and cancel purchase orders, pay and
# ship (cost of goods sold), cancel orders, and mark stock damaged, repair
# and write it off, all on two scarce products at two locations.
# Afterwards:
#   - no deadlock or crashed backend, and oms.check() is empty (balances vs
#     ledger, reservations, inventory value = valued movements, every valued
#     movement posted, purchase order lines vs receipts, journal balance);
#   - no purchase order line was received beyond what was ordered (the
#     tolerance is 0), damaged units are within received ones;
#   - the inventory account of the journal equals the valuation;
#   - a proposal sweep run twice in a row adds nothing the second time;
#   - and the storm really happened.
#
# Every call goes through a plpgsql helper that logs the documented
# business refusals in public.storm_log and re-raises anything else.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OmsTap qw(storm_aftermath storm_node storm_sql storm_pgbench);

my $clients = 8;
my $per_client = 150;

my $node = storm_node('pstorm', 'pstorm');
$node->safe_psql('pstorm', q{
    CREATE EXTENSION oms;
    INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web');
    INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority) VALUES
        ('WH1', 'Warehouse 1', 'warehouse', 52.40, 13.51, 10), ('WH2', 'Warehouse 2', 'warehouse', 50.11, 8.68, 20);
    INSERT INTO oms.products (sku, name, kind, reorder_point, reorder_qty) VALUES
        ('A', 'A', 'stock', 8, 10), ('B', 'B', 'stock', 5, 6);
    INSERT INTO oms.carriers (code, name) VALUES ('dhl', 'DHL');
    INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days)
        SELECT id, 'std', 'Paket', 2 FROM oms.carriers;
    INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
        SELECT id, 'EUR', NULL, NULL, 4.90 FROM oms.carrier_services;
    INSERT INTO oms.customers (email, name, flags)
        SELECT 'c' || i || '@example.com', 'Customer ' || i, CASE WHEN i = 1 THEN '{vip}'::text[] ELSE '{}' END
          FROM generate_series(1, 5) i;
    INSERT INTO oms.suppliers (code, name) VALUES ('S1', 'Supplier one'), ('S2', 'Supplier two');
    INSERT INTO oms.supplier_products (supplier_id, product_id, location_id, unit_cost, currency, min_order_qty, pack_size, preferred)
        SELECT s.id, p.id, NULL, v.cost, 'EUR', v.moq, v.pack, v.pref
          FROM (VALUES ('S1', 'A', 5.00, 6, 3, true), ('S2', 'A', 4.00, 1, 1, false), ('S2', 'B', 7.25, 4, 2, true)) v(sup, sku, cost, moq, pack, pref)
          JOIN oms.suppliers s ON s.code = v.sup JOIN oms.products p ON p.sku = v.sku;
    CREATE SEQUENCE public.storm_ext;
    CREATE SEQUENCE public.storm_trk;
    CREATE TABLE public.storm_log (what text NOT NULL, state text, message text);
} . storm_sql(qw(storm_caught)) . q{
    -- q units of A or B, policy backorder or all_or_nothing; propose = 1:
    -- with oms.propose_on_low_stock on
    CREATE FUNCTION public.ps_place(s int, q int, pol int, cust int, propose int) RETURNS jsonb LANGUAGE plpgsql AS $$
    DECLARE r jsonb;
    BEGIN
        PERFORM set_config('oms.propose_on_low_stock', CASE WHEN propose = 1 THEN 'on' ELSE 'off' END, true);
        r := oms.place_order(jsonb_build_object('channel', 'web', 'external_id', 'ps-' || nextval('public.storm_ext'),
                 'currency', 'EUR', 'policy', CASE WHEN pol = 1 THEN 'all_or_nothing' ELSE 'backorder' END,
                 'customer', jsonb_build_object('email', 'c' || cust || '@example.com'),
                 'lines', jsonb_build_array(jsonb_build_object('sku', (ARRAY['A', 'B'])[s], 'qty', q, 'unit_price', 20))));
        RETURN r;
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('place', SQLSTATE, SQLERRM, ARRAY['OM001', '40001']) THEN RAISE; END IF;
        RETURN NULL;
    END $$;

    CREATE FUNCTION public.ps_propose(l int) RETURNS jsonb LANGUAGE plpgsql AS $$
    BEGIN
        RETURN oms.propose_purchase_orders(CASE WHEN l = 0 THEN NULL ELSE (ARRAY['WH1', 'WH2'])[l] END);
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('propose', SQLSTATE, SQLERRM, ARRAY['40001']) THEN RAISE; END IF;
        RETURN NULL;
    END $$;

    CREATE FUNCTION public.ps_send() RETURNS jsonb LANGUAGE plpgsql AS $$
    DECLARE po bigint;
    BEGIN
        SELECT id INTO po FROM oms.purchase_orders WHERE status = 'draft' ORDER BY random() LIMIT 1;
        IF po IS NULL THEN RETURN NULL; END IF;
        RETURN oms.send_purchase_order(po);
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('send', SQLSTATE, SQLERRM, ARRAY['55000']) THEN RAISE; END IF;
        RETURN NULL;
    END $$;

    -- receive part (pct percent, at least 1) of one line's outstanding
    -- units, one of them damaged when dmg = 1, at cost cents / 100
    CREATE FUNCTION public.ps_receive(pct int, dmg int, cents int) RETURNS jsonb LANGUAGE plpgsql AS $$
    DECLARE po bigint; loc text; line int; open int; q int; lines jsonb;
    BEGIN
        SELECT p.id, l.code, pl.line_no, pl.qty_ordered - pl.qty_received INTO po, loc, line, open
          FROM oms.purchase_orders p JOIN oms.locations l ON l.id = p.location_id
          JOIN oms.purchase_order_lines pl ON pl.purchase_order_id = p.id
         WHERE p.status IN ('sent', 'partially_received') AND pl.qty_received < pl.qty_ordered
         ORDER BY random() LIMIT 1;
        IF po IS NULL THEN RETURN NULL; END IF;
        q := greatest(1, open * pct / 100);
        IF dmg = 1 AND q > 1 THEN
            lines := jsonb_build_array(jsonb_build_object('line', line, 'qty', q - 1, 'unit_cost', cents / 100.0),
                                       jsonb_build_object('line', line, 'qty', 1, 'condition', 'damaged'));
        ELSE
            lines := jsonb_build_array(jsonb_build_object('line', line, 'qty', q, 'unit_cost', cents / 100.0));
        END IF;
        RETURN oms.receive_purchase_order(po, loc, lines);
    EXCEPTION WHEN OTHERS THEN
        -- another client received the same units first: over-receipt (22023) or received already (55000)
        IF NOT public.storm_caught('receive', SQLSTATE, SQLERRM, ARRAY['22023', '55000']) THEN RAISE; END IF;
        RETURN NULL;
    END $$;

    CREATE FUNCTION public.ps_close(cancel int) RETURNS jsonb LANGUAGE plpgsql AS $$
    DECLARE po bigint;
    BEGIN
        SELECT id INTO po FROM oms.purchase_orders
         WHERE status IN ('sent', 'partially_received', 'draft') ORDER BY random() LIMIT 1;
        IF po IS NULL THEN RETURN NULL; END IF;
        IF cancel = 1 THEN
            RETURN oms.cancel_purchase_order(po, 'storm');
        END IF;
        RETURN oms.close_purchase_order(po, 'storm');
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('close', SQLSTATE, SQLERRM, ARRAY['55000']) THEN RAISE; END IF;
        RETURN NULL;
    END $$;

    -- pay an unpaid order in full, then ship what it holds at one location
    CREATE FUNCTION public.ps_ship() RETURNS jsonb LANGUAGE plpgsql AS $$
    DECLARE oid bigint; loc text; p jsonb; open numeric; sid bigint;
    BEGIN
        SELECT o.id, o.total - COALESCE((SELECT sum(x.authorized - x.voided) FROM oms.payments x WHERE x.order_id = o.id), 0)
          INTO oid, open FROM oms.orders o WHERE o.status = 'pending_payment' ORDER BY random() LIMIT 1;
        IF oid IS NOT NULL AND open > 0 THEN
            p := oms.authorize_payment(oid, jsonb_build_object('method', 'card', 'amount', open, 'token', 'tok_' || oid));
            PERFORM oms.capture_payment((p ->> 'payment_id')::bigint);
        END IF;
        SELECT r.order_id, l.code INTO oid, loc FROM oms.reservations r
          JOIN oms.orders o ON o.id = r.order_id JOIN oms.locations l ON l.id = r.location_id
         WHERE r.status = 'active' AND o.status IN ('confirmed', 'in_fulfillment', 'partially_shipped')
         ORDER BY random() LIMIT 1;
        IF oid IS NULL THEN RETURN NULL; END IF;
        sid := (oms.create_shipment(oid, loc) ->> 'shipment_id')::bigint;
        RETURN oms.ship(sid, 'dhl', 'std', 'TRK-' || nextval('public.storm_trk'));
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('ship', SQLSTATE, SQLERRM, ARRAY['55000', '22023']) THEN RAISE; END IF;
        RETURN NULL;
    END $$;

    CREATE FUNCTION public.ps_cancel() RETURNS jsonb LANGUAGE plpgsql AS $$
    DECLARE oid bigint;
    BEGIN
        SELECT id INTO oid FROM oms.orders WHERE status IN ('pending_payment', 'backordered', 'confirmed')
         ORDER BY random() LIMIT 1;
        IF oid IS NULL THEN RETURN NULL; END IF;
        RETURN oms.cancel_order(oid, 'storm');
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('cancel', SQLSTATE, SQLERRM, ARRAY['55000']) THEN RAISE; END IF;
        RETURN NULL;
    END $$;

    -- what 1 mark damaged, 2 repair, 3 write off damaged, 4 write off sellable
    CREATE FUNCTION public.ps_damage(what int, s int, l int, q int) RETURNS jsonb LANGUAGE plpgsql AS $$
    DECLARE sku text := (ARRAY['A', 'B'])[s]; loc text := (ARRAY['WH1', 'WH2'])[l];
    BEGIN
        RETURN CASE what WHEN 1 THEN oms.mark_damaged(sku, loc, q, 'storm')
                         WHEN 2 THEN oms.repair(sku, loc, q, 'storm')
                         WHEN 3 THEN oms.write_off(sku, loc, q, 'storm')
                         ELSE oms.write_off(sku, loc, q, 'storm', 'sellable') END;
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('damage', SQLSTATE, SQLERRM, ARRAY['23514']) THEN RAISE; END IF;
        RETURN NULL;
    END $$;

    -- some stock to start from, on purchase orders (valued)
    SELECT oms.send_purchase_order((oms.create_purchase_order('S1', 'WH1', '[{"sku": "A", "qty": 30}]') ->> 'purchase_order_id')::bigint) ->> 'status';
    SELECT oms.send_purchase_order((oms.create_purchase_order('S2', 'WH2', '[{"sku": "A", "qty": 20}, {"sku": "B", "qty": 20}]') ->> 'purchase_order_id')::bigint) ->> 'status';
    SELECT oms.receive_purchase_order(1, 'WH1', '[{"line": 1, "qty": 30}]') ->> 'status';
    SELECT oms.receive_purchase_order(2, 'WH2', '[{"line": 1, "qty": 20}, {"line": 2, "qty": 20}]') ->> 'status';
});

storm_pgbench($node, 'pstorm', $clients, $per_client,
    'purchasing storm: place (backorders, in-transaction proposals), propose, send, receive, close, ship, cancel, damage',
    {
        'ps_place@6' => q{
\set s random(1, 2)
\set q random(1, 4)
\set pol random(1, 3)
\set cust random(1, 5)
\set propose random(1, 2)
SELECT public.ps_place(:s, :q, :pol, :cust, :propose);
},
        'ps_propose@2' => q{
\set l random(0, 2)
SELECT public.ps_propose(:l);
},
        'ps_send@2' => q{
SELECT public.ps_send();
},
        'ps_receive@3' => q{
\set pct random(30, 100)
\set dmg random(1, 4)
\set cents random(300, 900)
SELECT public.ps_receive(:pct, :dmg, :cents);
},
        'ps_close@1' => q{
\set cancel random(1, 2)
SELECT public.ps_close(:cancel);
},
        'ps_ship@4' => q{
SELECT public.ps_ship();
},
        'ps_cancel@1' => q{
SELECT public.ps_cancel();
},
        'ps_damage@2' => q{
\set what random(1, 4)
\set s random(1, 2)
\set l random(1, 2)
\set q random(1, 2)
SELECT public.ps_damage(:what, :s, :l, :q);
},
    });

storm_aftermath($node, 'pstorm');

is($node->safe_psql('pstorm', q{
    SELECT COALESCE(string_agg(format('purchase order %s line %s: ordered %s, received %s, damaged %s',
                                      purchase_order_id, line_no, qty_ordered, qty_received, qty_damaged), '; '), '')
      FROM oms.purchase_order_lines WHERE qty_received > qty_ordered OR qty_damaged > qty_received}), '',
    'no purchase order line was received beyond what was ordered');
is($node->safe_psql('pstorm', q{
    SELECT (SELECT COALESCE(sum(debit - credit), 0) FROM oms.journal_lines WHERE account = 'inventory')
           = (SELECT COALESCE(sum(value), 0) FROM oms.inventory_valuation)}), 't',
    'the inventory account of the journal equals the value of the stock');
$node->safe_psql('pstorm', 'SELECT oms.propose_purchase_orders()');
is($node->safe_psql('pstorm', q{SELECT oms.propose_purchase_orders() -> 'proposed'}), '[]',
    'a second proposal sweep right after the first adds nothing');

note "business refusals (SQLSTATE, message with numbers as #):\n"
  . $node->safe_psql('pstorm', q{
    SELECT what || ' ' || state || ' x' || count(*) || ': ' || m
      FROM (SELECT what, state, regexp_replace(message, '[0-9]+(\.[0-9]+)?', '#', 'g') AS m FROM public.storm_log) x
     GROUP BY what, state, m ORDER BY what, state, count(*) DESC});

my %n = map { split /=/ } split /\n/, $node->safe_psql('pstorm', q{
    SELECT 'proposed=' || count(*) FROM oms.events WHERE kind = 'purchase_order_proposed'
    UNION ALL SELECT 'sent=' || count(*) FROM oms.events WHERE kind = 'purchase_order_sent'
    UNION ALL SELECT 'receipts=' || count(*) FROM oms.purchase_order_receipts
    UNION ALL SELECT 'damaged_receipts=' || count(*) FROM oms.purchase_order_receipts WHERE condition = 'damaged'
    UNION ALL SELECT 'filled=' || count(*) FROM oms.events WHERE kind = 'backorder_filled'
    UNION ALL SELECT 'cogs=' || count(*) FROM oms.valued_movements WHERE kind = 'shipment'
    UNION ALL SELECT 'write_offs=' || count(*) FROM oms.valued_movements WHERE kind = 'write_off'
    UNION ALL SELECT 'repairs=' || count(*) FROM oms.stock_movements WHERE kind = 'repair'});
note join(', ', map { "$_ $n{$_}" } sort keys %n);
cmp_ok($n{proposed}, '>', 0, 'purchase orders were proposed');
cmp_ok($n{sent}, '>', 0, 'purchase orders were sent');
cmp_ok($n{receipts}, '>', 2, 'goods were received against purchase orders');
cmp_ok($n{damaged_receipts}, '>', 0, 'damaged goods were received');
cmp_ok($n{filled}, '>', 0, 'receipts filled backorders');
cmp_ok($n{cogs}, '>', 0, 'shipments posted cost of goods sold');
cmp_ok($n{write_offs}, '>', 0, 'stock was written off');

$node->stop;
done_testing();
