# A pgbench storm over the whole fulfillment path: 12 clients at once place
# orders (random policy and split policy, ship-to coordinates or click and
# collect, hot skus, a kit, a service), confirm them (set_order_status, or
# a cash authorization that covers the total and its capture), create
# shipments where the orders hold stock, ship them with unique tracking
# numbers, deliver them, let locations reject orders (re-routing them in
# the same transaction), cancel orders and receive stock (which fills
# backorders), all on the same few rows. Afterwards:
#   - oms.check() is empty;
#   - the server log has no deadlock (and no crashed backend);
#   - no balance has on_hand below 0 or more reserved than on hand;
#   - the units the ledger took off on_hand as shipments (kind shipment)
#     are, per product and location, exactly the component units of the
#     shipped and delivered shipments' lines;
#   - oms.ship never found a pending shipment whose units were no longer
#     reserved (a shipment keeps what it claimed until it ships or is
#     cancelled);
#   - and the storm really happened (counts of each outcome).
#
# pgbench aborts a client on any error, so every call goes through a small
# plpgsql helper in public that catches the SQLSTATEs documented for that
# call's business outcomes (OM001 insufficient stock, 40001 capacity lost at
# every attempt, 55000 a state that no longer allows the call, 22023 a claim
# or an amount beyond what is left), writes them to public.storm_log and
# re-raises anything else: a deadlock (40P01), an internal error (XX000) or
# a constraint violation fails the run. Picks are plain SELECTs (no locks),
# so the helpers add no lock of their own to the oms functions' order.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OmsTap qw(storm_aftermath storm_node storm_sql storm_receive_initial storm_pgbench);

my $clients = 12;
my $per_client = 500;

my $node = storm_node('fstorm', 'fstorm');
$node->safe_psql('fstorm', q{
    CREATE EXTENSION oms;
    INSERT INTO oms.channels (code, name, kind, routing_strategy) VALUES
        ('web', 'Web', 'web', 'cheapest'),
        ('app', 'App', 'mobile', 'closest'),
        ('b2b', 'B2B', 'marketplace', 'priority');
    INSERT INTO oms.locations (code, name, kind, latitude, longitude, pickup, priority,
                               daily_capacity, handling_cost, cost_per_km, address) VALUES
        ('WH1', 'Warehouse Berlin',    'warehouse', 52.40, 13.51, false, 10, NULL, 1.50, 0.010, E'Lagerstr. 1\n12529 Berlin'),
        ('WH2', 'Warehouse Frankfurt', 'warehouse', 50.11,  8.68, false, 20, NULL, 1.20, 0.012, E'Hafenweg 2\n60314 Frankfurt'),
        ('WH3', 'Warehouse Hamburg',   'warehouse', 53.55,  9.99, false, 30, 400,  1.00, 0.015, E'Kai 3\n20457 Hamburg'),
        ('ST1', 'Store Munich',        'store',     48.13, 11.57, true,  50, NULL, 2.50, 0.020, E'Marienplatz 4\n80331 Muenchen'),
        ('ST2', 'Store Cologne',       'store',     50.94,  6.96, true,  60, NULL, 2.50, 0.020, E'Domplatz 5\n50667 Koeln'),
        ('ST3', 'Store Leipzig',       'store',     51.34, 12.37, true,  70, NULL, 2.00, 0.020, E'Markt 6\n04109 Leipzig');
    INSERT INTO oms.products (sku, name, kind, weight_kg) VALUES
        ('HOT1', 'Hot 1', 'stock', 0.4), ('HOT2', 'Hot 2', 'stock', 1.2), ('HOT3', 'Hot 3', 'stock', 2.5),
        ('P1', 'Plenty 1', 'stock', 0.3), ('P2', 'Plenty 2', 'stock', 0.8), ('P3', 'Plenty 3', 'stock', 4.0);
    INSERT INTO oms.products (sku, name, kind) VALUES
        ('KIT1', 'Kit: 1 x HOT1 + 2 x P1', 'kit'), ('SVC', 'Gift wrap', 'service');
    INSERT INTO oms.kit_components (kit_id, component_id, qty)
        SELECT k.id, c.id, q FROM oms.products k,
               (VALUES ('HOT1', 1), ('P1', 2)) AS v(sku, q) JOIN oms.products c ON c.sku = v.sku
         WHERE k.sku = 'KIT1';
    INSERT INTO oms.carriers (code, name, tracking_url) VALUES
        ('dhl', 'DHL', 'https://dhl.example/track?n={{tracking_number}}'),
        ('ups', 'UPS', 'https://ups.example/t/{{tracking_number}}');
    INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days)
        SELECT c.id, v.code, v.name, v.days FROM oms.carriers c
          JOIN (VALUES ('dhl', 'std', 'Paket', 2), ('dhl', 'exp', 'Express', 1), ('ups', 'std', 'Standard', 3))
               AS v(carrier, code, name, days) ON v.carrier = c.code;
    -- bands: near and light, near, anywhere (every parcel has a rate)
    INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
        SELECT s.id, 'EUR', b.km, b.kg, b.price * CASE s.code WHEN 'exp' THEN 2 ELSE 1 END
          FROM oms.carrier_services s,
               (VALUES (300::numeric, 5::numeric, 4.90), (300, NULL, 7.90), (NULL, NULL, 12.90)) AS b(km, kg, price);

    CREATE SEQUENCE public.storm_ext;
    CREATE SEQUENCE public.storm_trk;
    -- the business errors the helpers caught, and the receipts they booked
    CREATE TABLE public.storm_log (
        what     text NOT NULL,
        state    text,
        message  text,
        sku      text,
        location text,
        qty      integer
    );

    -- s1..s3 index the sku list (hot skus twice), pol the policy, sp the
    -- split policy, ch the channel, dest: 1 click and collect at ST1,
    -- 2 no ship-to coordinates, else a random address in Germany
    CREATE FUNCTION public.storm_place(n int, s1 int, s2 int, s3 int, q1 int, q2 int, q3 int,
                                       pol int, sp int, ch int, dest int) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        skus text[] := ARRAY['HOT1', 'HOT2', 'HOT3', 'HOT1', 'HOT2', 'HOT3', 'KIT1', 'KIT1',
                             'P1', 'P2', 'P3', 'SVC'];
        policies text[] := ARRAY['all_or_nothing', 'partial', 'backorder'];
        splits text[] := ARRAY['allow', 'avoid', 'forbid'];
        s int[] := ARRAY[s1, s2, s3];
        q int[] := ARRAY[q1, q2, q3];
        lines jsonb := '[]';
        ship_to jsonb;
    BEGIN
        FOR i IN 1 .. n LOOP
            lines := lines || jsonb_build_array(jsonb_build_object(
                'sku', skus[s[i]], 'qty', q[i], 'unit_price', 9.5 + i));
        END LOOP;
        ship_to := CASE dest
            WHEN 1 THEN jsonb_build_object('name', 'Erika Muster', 'pickup', 'ST1')
            WHEN 2 THEN jsonb_build_object('name', 'Erika Muster', 'line1', 'Hauptstr. 1', 'city', 'Irgendwo', 'country', 'DE')
            ELSE jsonb_build_object('name', 'Max Muster', 'line1', 'Ringstr. 7', 'postal_code', '12345',
                                    'city', 'Musterstadt', 'country', 'DE',
                                    'lat', round((47.5 + random() * 7)::numeric, 3),
                                    'lon', round((6 + random() * 9)::numeric, 3)) END;
        RETURN oms.place_order(jsonb_build_object(
            'channel', (ARRAY['web', 'app', 'b2b'])[ch],
            'external_id', 'fs-' || nextval('public.storm_ext'),
            'currency', 'EUR',
            'policy', policies[pol],
            'split', splits[sp],
            'ship_to', ship_to,
            'lines', lines));
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('place', SQLSTATE, SQLERRM, ARRAY['OM001', '40001']) THEN
            RAISE;
        END IF;
        RETURN NULL;
    END $$;

    -- pay an unpaid order: set_order_status (bank transfer seen), or a cash
    -- authorization of the total and its capture
    CREATE FUNCTION public.storm_confirm(how int) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        pick bigint := (SELECT max(id) FROM oms.orders) * random();
        oid bigint;
        amount numeric;
        pay jsonb;
    BEGIN
        SELECT id, total INTO oid, amount FROM oms.orders
         WHERE status IN ('pending_payment', 'backordered')
         ORDER BY id >= pick DESC, id LIMIT 1;
        IF oid IS NULL THEN
            RETURN NULL;
        END IF;
        IF how = 1 THEN
            -- a cheque received: authorized, not captured (a confirmation by
            -- hand without a payment is refused: the order is not covered)
            RETURN oms.authorize_payment(oid, jsonb_build_object('method', 'check', 'amount', amount));
        END IF;
        pay := oms.authorize_payment(oid, jsonb_build_object('method', 'cash', 'amount', amount));
        RETURN oms.capture_payment((pay ->> 'payment_id')::bigint);
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('confirm', SQLSTATE, SQLERRM, ARRAY['55000', '22023']) THEN
            RAISE;
        END IF;
        RETURN NULL;
    END $$;

    -- a shipment at a location the order holds stock at: everything open
    -- there, or (explicit = 1) one unit of one line held there
    CREATE FUNCTION public.storm_create_shipment(explicit int) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        pick bigint := (SELECT max(id) FROM oms.orders) * random();
        oid bigint;
        loc text;
        line int;
    BEGIN
        SELECT r.order_id, l.code, ol.line_no INTO oid, loc, line
          FROM oms.reservations r
          JOIN oms.orders o ON o.id = r.order_id
          JOIN oms.locations l ON l.id = r.location_id
          JOIN oms.order_lines ol ON ol.id = r.order_line_id
         WHERE r.status = 'active' AND o.status IN ('confirmed', 'in_fulfillment', 'partially_shipped')
         ORDER BY r.order_id >= pick DESC, r.order_id, random() LIMIT 1;
        IF oid IS NULL THEN
            RETURN NULL;
        END IF;
        RETURN oms.create_shipment(oid, loc,
                   CASE WHEN explicit = 1 THEN jsonb_build_array(jsonb_build_object('line_no', line, 'qty', 1)) END);
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('create_shipment', SQLSTATE, SQLERRM, ARRAY['55000', '22023']) THEN
            RAISE;
        END IF;
        RETURN NULL;
    END $$;

    CREATE FUNCTION public.storm_ship(c int) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        pick bigint := (SELECT max(id) FROM oms.shipments) * random();
        sid bigint;
    BEGIN
        SELECT id INTO sid FROM oms.shipments WHERE status = 'pending' ORDER BY id >= pick DESC, id LIMIT 1;
        IF sid IS NULL THEN
            RETURN NULL;
        END IF;
        RETURN oms.ship(sid, (ARRAY['dhl', 'dhl', 'ups'])[c], (ARRAY['std', 'exp', 'std'])[c],
                        'TRK-' || nextval('public.storm_trk'));
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('ship', SQLSTATE, SQLERRM, ARRAY['55000']) THEN
            RAISE;
        END IF;
        RETURN NULL;
    END $$;

    CREATE FUNCTION public.storm_deliver() RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        pick bigint := (SELECT max(id) FROM oms.shipments) * random();
        sid bigint;
    BEGIN
        SELECT id INTO sid FROM oms.shipments WHERE status = 'shipped' ORDER BY id >= pick DESC, id LIMIT 1;
        IF sid IS NULL THEN
            RETURN NULL;
        END IF;
        RETURN oms.deliver(sid);
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('deliver', SQLSTATE, SQLERRM, ARRAY['55000']) THEN
            RAISE;
        END IF;
        RETURN NULL;
    END $$;

    -- a location the order holds stock at rejects it
    CREATE FUNCTION public.storm_reject(why int) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        pick bigint := (SELECT max(id) FROM oms.orders) * random();
        oid bigint;
        loc text;
    BEGIN
        SELECT r.order_id, l.code INTO oid, loc
          FROM oms.reservations r
          JOIN oms.orders o ON o.id = r.order_id
          JOIN oms.locations l ON l.id = r.location_id
         WHERE r.status = 'active'
           AND o.status IN ('pending_payment', 'backordered', 'confirmed', 'on_hold', 'in_fulfillment', 'partially_shipped')
         ORDER BY r.order_id >= pick DESC, r.order_id, random() LIMIT 1;
        IF oid IS NULL THEN
            RETURN NULL;
        END IF;
        RETURN oms.reject_fulfillment(oid, loc, (ARRAY['damaged', 'no_capacity', 'other', 'inventory_mismatch'])[why],
                                      'storm');
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('reject', SQLSTATE, SQLERRM, ARRAY['55000']) THEN
            RAISE;
        END IF;
        RETURN NULL;
    END $$;

    CREATE FUNCTION public.storm_cancel() RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        pick bigint := (SELECT max(id) FROM oms.orders) * random();
        oid bigint;
    BEGIN
        SELECT id INTO oid FROM oms.orders WHERE status NOT IN ('cancelled', 'expired')
         ORDER BY id >= pick DESC, id LIMIT 1;
        IF oid IS NULL THEN
            RETURN NULL;
        END IF;
        RETURN oms.cancel_order(oid, 'storm');
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('cancel', SQLSTATE, SQLERRM, ARRAY['55000']) THEN
            RAISE;
        END IF;
        RETURN NULL;
    END $$;
});
$node->safe_psql('fstorm', storm_sql(qw(storm_caught storm_receive)));

# scarce hot skus spread over the locations, plentiful others
my %initial = (
    HOT1 => [ [ 'WH1', 12 ], [ 'ST1', 8 ], [ 'ST3', 6 ] ],
    HOT2 => [ [ 'WH2', 15 ], [ 'WH3', 10 ] ],
    HOT3 => [ [ 'WH1', 8 ], [ 'WH3', 8 ], [ 'ST2', 8 ] ],
    map { ("P$_" => [ [ 'WH1', 3000 ], [ 'WH2', 3000 ], [ 'ST1', 500 ], [ 'ST3', 500 ] ]) } 1 .. 3);
storm_receive_initial($node, 'fstorm', \%initial);

storm_pgbench($node, 'fstorm', $clients, $per_client,
    'storm of orders, payments, shipments, deliveries, rejections, cancels and receipts',
    {
        'fs_place@10' => q{
\set n random(1, 3)
\set s1 random(1, 12)
\set s2 random(1, 12)
\set s3 random(1, 12)
\set q1 random(1, 3)
\set q2 random(1, 3)
\set q3 random(1, 3)
\set pol random(1, 3)
\set sp random(1, 3)
\set ch random(1, 3)
\set dest random(1, 10)
SELECT public.storm_place(:n, :s1, :s2, :s3, :q1, :q2, :q3, :pol, :sp, :ch, :dest);
},
        'fs_confirm@5' => q{
\set how random(1, 2)
SELECT public.storm_confirm(:how);
},
        'fs_create_shipment@5' => q{
\set explicit random(1, 4)
SELECT public.storm_create_shipment(:explicit);
},
        'fs_ship@5' => q{
\set c random(1, 3)
SELECT public.storm_ship(:c);
},
        'fs_deliver@2' => q{
SELECT public.storm_deliver();
},
        'fs_reject@2' => q{
\set why random(1, 4)
SELECT public.storm_reject(:why);
},
        'fs_cancel@2' => q{
SELECT public.storm_cancel();
},
        'fs_receive@2' => q{
\set s random(1, 6)
\set l random(1, 6)
\set q random(1, 5)
SELECT public.storm_receive((ARRAY['HOT1','HOT2','HOT3','P1','P2','P3'])[:s],
                            (ARRAY['WH1','WH2','WH3','ST1','ST2','ST3'])[:l], :q);
},
    });

# the server log, a restart if the node went down, and oms.check()
storm_aftermath($node, 'fstorm');

my $negative = $node->safe_psql('fstorm', q{
    SELECT sku || ' at ' || location || ': on_hand ' || on_hand || ', reserved ' || reserved
      FROM oms.stock_levels WHERE on_hand < 0 OR reserved > on_hand ORDER BY 1});
is($negative, '', 'no balance has on_hand below 0 or more reserved than on hand')
  or diag($negative);

# the running on_hand of every balance, movement by movement, never dipped
# below 0 (a shipment or a write-off never took units that were not there)
my $dipped = $node->safe_psql('fstorm', q{
    SELECT string_agg(DISTINCT p.sku || ' at ' || l.code, ', ')
      FROM (SELECT product_id, location_id,
                   sum(on_hand_delta) OVER (PARTITION BY product_id, location_id ORDER BY id) AS running
              FROM oms.stock_movements) m
      JOIN oms.products p ON p.id = m.product_id JOIN oms.locations l ON l.id = m.location_id
     WHERE m.running < 0});
is($dipped, '', 'on_hand never went below 0 in the ledger, movement by movement')
  or diag($dipped);

my $ledger_vs_shipments = $node->safe_psql('fstorm', q{
    WITH shipped AS (
        SELECT COALESCE(kc.component_id, ol.product_id) AS product_id, s.location_id,
               sum(sl.qty * COALESCE(kc.qty, 1)) AS units
          FROM oms.shipment_lines sl
          JOIN oms.shipments s ON s.id = sl.shipment_id AND s.status IN ('shipped', 'delivered')
          JOIN oms.order_lines ol ON ol.id = sl.order_line_id
          JOIN oms.products p ON p.id = ol.product_id
          LEFT JOIN oms.kit_components kc ON p.kind = 'kit' AND kc.kit_id = p.id
         GROUP BY 1, 2),
    ledger AS (
        SELECT product_id, location_id, -sum(on_hand_delta) AS units
          FROM oms.stock_movements WHERE kind = 'shipment' GROUP BY 1, 2)
    SELECT COALESCE(string_agg(p.sku || ' at ' || l.code || ': ledger ' || COALESCE(g.units, 0)
                               || ', shipments ' || COALESCE(s.units, 0), '; ' ORDER BY p.sku, l.code), '')
      FROM shipped s FULL JOIN ledger g USING (product_id, location_id)
      JOIN oms.products p ON p.id = product_id JOIN oms.locations l ON l.id = location_id
     WHERE s.units IS DISTINCT FROM g.units});
is($ledger_vs_shipments, '',
    'units shipped in the ledger (kind shipment) = component units of the shipped shipments, per sku and location')
  or diag($ledger_vs_shipments);

is($node->safe_psql('fstorm', q{
    SELECT COALESCE(string_agg(DISTINCT message, '; '), '') FROM public.storm_log
     WHERE what = 'ship' AND message LIKE '%more than is reserved%'}), '',
    'ship never found a pending shipment whose units were released meanwhile');

# every receipt the helper booked is in the ledger, and nothing else
is($node->safe_psql('fstorm', q{
    SELECT COALESCE(string_agg(sku || ': ledger ' || COALESCE(l, 0) || ', booked ' || COALESCE(b, 0), '; ' ORDER BY sku), '')
      FROM (SELECT p.sku, sum(m.on_hand_delta) AS l FROM oms.stock_movements m
              JOIN oms.products p ON p.id = m.product_id WHERE m.kind = 'receipt' GROUP BY 1) x
      FULL JOIN (SELECT sku, sum(qty) AS b FROM public.storm_log WHERE what = 'receipt' GROUP BY 1) y USING (sku)
     WHERE l IS DISTINCT FROM b}), '', 'the receipts in the ledger are exactly the receipts booked');

# ---- the storm really happened ---------------------------------------------

note "business errors caught (SQLSTATE, message with numbers as #):\n"
  . $node->safe_psql('fstorm', q{
    SELECT what || ' ' || state || ' x' || count(*) || ': ' || m
      FROM (SELECT what, state, regexp_replace(message, '[0-9]+', '#', 'g') AS m
              FROM public.storm_log WHERE state IS NOT NULL) x
     GROUP BY what, state, m ORDER BY what, state, count(*) DESC});

my %n = map { split /=/ } split /\n/, $node->safe_psql('fstorm', q{
    SELECT 'orders=' || count(*) FROM oms.orders
    UNION ALL SELECT 'confirmed=' || count(*) FROM oms.order_status_history WHERE to_status = 'confirmed'
    UNION ALL SELECT 'shipments=' || count(*) FROM oms.shipments
    UNION ALL SELECT 'shipped=' || count(*) FROM oms.shipments WHERE status IN ('shipped', 'delivered')
    UNION ALL SELECT 'delivered_shipments=' || count(*) FROM oms.shipments WHERE status = 'delivered'
    UNION ALL SELECT 'delivered_orders=' || count(*) FROM oms.orders WHERE status = 'delivered'
    UNION ALL SELECT 'partially_shipped=' || count(*) FROM oms.order_status_history WHERE to_status = 'partially_shipped'
    UNION ALL SELECT 'kits_shipped=' || COALESCE(sum(sl.qty), 0) FROM oms.shipment_lines sl
                JOIN oms.shipments s ON s.id = sl.shipment_id AND s.status IN ('shipped', 'delivered')
                JOIN oms.order_lines ol ON ol.id = sl.order_line_id JOIN oms.products p ON p.id = ol.product_id
               WHERE p.kind = 'kit'
    UNION ALL SELECT 'cancelled_shipments=' || count(*) FROM oms.shipments WHERE status = 'cancelled'
    UNION ALL SELECT 'rejections=' || count(*) FROM oms.fulfillment_rejections
    UNION ALL SELECT 'reroutes=' || count(*) FROM oms.routing_decisions WHERE trigger = 'reroute'
    UNION ALL SELECT 'written_off=' || COALESCE(-sum(on_hand_delta), 0) FROM oms.stock_movements
               WHERE kind = 'adjustment' AND reference LIKE 'inventory mismatch%'
    UNION ALL SELECT 'cancelled_orders=' || count(*) FROM oms.orders WHERE status = 'cancelled'
    UNION ALL SELECT 'cancel_refused_shipped=' || count(*) FROM public.storm_log
               WHERE what = 'cancel' AND state = '55000'
    UNION ALL SELECT 'om001=' || count(*) FROM public.storm_log WHERE what = 'place' AND state = 'OM001'
    UNION ALL SELECT 'backorder_fills=' || count(*) FROM oms.stock_movements
               WHERE kind = 'reservation' AND reference = 'backorder fill'});
note join(', ', map { "$_ $n{$_}" } sort keys %n);
cmp_ok($n{orders}, '>=', 500, 'a good number of orders were placed');
cmp_ok($n{confirmed}, '>', 100, 'orders were confirmed');
cmp_ok($n{shipped}, '>', 100, 'shipments shipped');
cmp_ok($n{delivered_shipments}, '>', 10, 'shipments were delivered');
cmp_ok($n{delivered_orders}, '>', 0, 'orders were delivered');
cmp_ok($n{partially_shipped}, '>', 0, 'orders shipped in several parcels');
cmp_ok($n{kits_shipped}, '>', 0, 'kits shipped');
cmp_ok($n{rejections}, '>', 20, 'locations rejected orders');
cmp_ok($n{reroutes}, '>', 20, 'rejections re-routed orders');
cmp_ok($n{cancelled_orders}, '>', 0, 'orders were cancelled');
cmp_ok($n{om001}, '>', 0, 'all_or_nothing orders ran into OM001');

$node->stop;
done_testing();
