# A pgbench storm over the whole returns path: 10 clients at once place
# orders (hot skus, a kit, a service; customers and guests; all_or_nothing,
# partial and backorder), pay them (cash or card for the whole total, or a
# gift card part and a card for the rest; every authorization captured at
# once), ship everything (one location of an order per transaction:
# create_shipment there, then ship), deliver, request RMAs (random lines and
# quantities within what looks returnable, sometimes one more; random
# reasons; resolution refund, store_credit or exchange), authorize or
# reject them, receive them in parts (sellable, damaged or missing, at a
# random location; missing units leave the claim and are returnable
# again), resolve them with refund_rma (an exchange with missing units is
# refunded instead), cancel orders and receive stock, all on the same few
# rows. Afterwards:
#   - the server log has no deadlock (and no crashed backend);
#   - oms.check() is empty (rma_claims, rma_received, returned_vs_rmas,
#     rma_money and everything else);
#   - money: every refund is accounted for: sum(payments.refunded) =
#     sum(rmas.refunded) + the refunds cancel_order made (refund transactions
#     whose reason is not an RMA reference); each RMA's refund transactions
#     add up to its rmas.refunded; a cancelled order refunded exactly what
#     it captured; no order has more authorized than its total; refunds
#     and credit of an order's RMAs never exceed what its payments
#     captured; each refund (store credit) RMA's refunded (store_credit) is
#     round(sum(resolved units x unit_value x (100 - fee) / 100), 2), also
#     when received and refunded in parts; the store credit issued is the
#     RMAs' store credit; refund_rma was never refused for exceeding what
#     the payments hold; an exchange with every unit back is a priced
#     replacement order rma-<id> (its total the exchange value less the
#     exchange credit) and moves no money, one with units missing
#     is refunded like a refund RMA;
#   - stock: on_hand and damaged never negative; the ledger's
#     return_restock / return_damaged units are, per RMA and product, the
#     restocked / damaged units of its lines (kits as their components),
#     and per product and location the units the storm received there;
#   - and the storm really happened (counts of each outcome).
#
# pgbench aborts a client on any error, so every call goes through a small
# plpgsql helper in public that catches the SQLSTATEs documented for that
# call's business outcomes (22023 a claim or an amount beyond what is left,
# 55000 a state that no longer allows the call, OM001 out of stock for an
# all_or_nothing order or an exchange, 40001 routing lost every attempt),
# writes them to public.storm_log and re-raises anything else: a deadlock
# (40P01), an internal error (XX000) or a constraint violation fails the
# run. Picks are plain SELECTs (no locks), so the helpers add no lock of
# their own to the oms functions' order; each transaction makes the calls
# of one order (and ships from one location), so no helper puts two oms
# calls' locks in an order oms does not promise.
#
# Line taxes make some unit values fractional (OMS_STORM_ODD_CENTS=0 turns
# them off): several RMAs of one order line must still refund exactly what
# was paid for it and never more, so refund_rma is never refused.
#
# Any client pays any order (OMS_STORM_PAY_RACE=0 makes each client pay
# only its own orders): two clients paying the same order at once must not
# both authorize its total; the check "no order has more authorized than
# its total" proves it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OmsTap qw(storm_aftermath storm_node storm_sql storm_receive_initial storm_pgbench);

my $clients = 10;
my $per_client = 400;
my $odd_cents = ($ENV{OMS_STORM_ODD_CENTS} // '1') ? 1 : 0;
my $pay_clients = ($ENV{OMS_STORM_PAY_RACE} // '1') ? 1 : $clients;

my $node = storm_node('rstorm', 'rstorm');
$node->safe_psql('rstorm', q{
    CREATE EXTENSION oms;
    INSERT INTO oms.channels (code, name, kind, routing_strategy) VALUES
        ('web', 'Web', 'web', 'cheapest'),
        ('app', 'App', 'mobile', 'closest');
    INSERT INTO oms.locations (code, name, kind, latitude, longitude, pickup, priority, handling_cost, cost_per_km, address) VALUES
        ('WH1', 'Warehouse Berlin',    'warehouse', 52.40, 13.51, false, 10, 1.50, 0.010, E'Lagerstr. 1\n12529 Berlin'),
        ('WH2', 'Warehouse Frankfurt', 'warehouse', 50.11,  8.68, false, 20, 1.20, 0.012, E'Hafenweg 2\n60314 Frankfurt'),
        ('ST1', 'Store Munich',        'store',     48.13, 11.57, true,  50, 2.50, 0.020, E'Marienplatz 4\n80331 Muenchen');
    INSERT INTO oms.products (sku, name, kind, weight_kg) VALUES
        ('HOT1', 'Hot 1', 'stock', 0.4), ('HOT2', 'Hot 2', 'stock', 1.2),
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
          JOIN (VALUES ('dhl', 'std', 'Paket', 2), ('ups', 'std', 'Standard', 3))
               AS v(carrier, code, name, days) ON v.carrier = c.code;
    INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
        SELECT s.id, 'EUR', b.km, b.kg, b.price
          FROM oms.carrier_services s,
               (VALUES (300::numeric, 5::numeric, 4.90), (NULL, NULL, 12.90)) AS b(km, kg, price);
    -- 20 known customers (orders of customers 21..25 are guests)
    INSERT INTO oms.customers (email, name)
        SELECT 'c' || i || '@example.com', 'Customer ' || i FROM generate_series(1, 20) i;
    -- gift cards that never run out
    SELECT oms.issue_gift_card('STORM-GIFT-' || lpad(i::text, 4, '0'), 1000000, 'EUR') FROM generate_series(1, 10) i;

    CREATE SEQUENCE public.storm_ext;
    CREATE SEQUENCE public.storm_trk;
    -- unit prices and whole-line taxes the orders use; see OMS_STORM_ODD_CENTS
    CREATE TABLE public.storm_prices (idx int PRIMARY KEY, price numeric NOT NULL, tax numeric NOT NULL);
    -- the business errors the helpers caught, the stock receipts and the
    -- RMA receipts they booked
    CREATE TABLE public.storm_log (
        what        text NOT NULL,
        state       text,
        message     text,
        sku         text,
        location    text,
        qty         integer,
        rma_line_id bigint,
        condition   text
    );

    -- s1..s3 index the sku list (hot skus twice), p1..p3 the prices, cust
    -- a customer (21..25: a guest), pol the policy
    CREATE FUNCTION public.storm_place(n int, s1 int, s2 int, s3 int, q1 int, q2 int, q3 int,
                                       p1 int, p2 int, p3 int, cust int, pol int, ch int) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        skus text[] := ARRAY['HOT1', 'HOT2', 'HOT1', 'HOT2', 'KIT1', 'KIT1', 'P1', 'P2', 'P3', 'SVC'];
        policies text[] := ARRAY['all_or_nothing', 'partial', 'backorder'];
        s int[] := ARRAY[s1, s2, s3];
        q int[] := ARRAY[q1, q2, q3];
        pr int[] := ARRAY[p1, p2, p3];
        lines jsonb := '[]';
        price record;
        doc jsonb;
    BEGIN
        FOR i IN 1 .. n LOOP
            SELECT * INTO price FROM public.storm_prices WHERE storm_prices.idx = pr[i];
            lines := lines || jsonb_build_array(jsonb_build_object(
                'sku', skus[s[i]], 'qty', q[i], 'unit_price', price.price, 'tax', price.tax));
        END LOOP;
        doc := jsonb_build_object(
            'channel', (ARRAY['web', 'app'])[ch],
            'external_id', 'rs-' || nextval('public.storm_ext'),
            'currency', 'EUR',
            'policy', policies[pol],
            'ship_to', jsonb_build_object('name', 'Max Muster', 'line1', 'Ringstr. 7', 'postal_code', '12345',
                                          'city', 'Musterstadt', 'country', 'DE',
                                          'lat', round((47.5 + random() * 7)::numeric, 3),
                                          'lon', round((6 + random() * 9)::numeric, 3)),
            'lines', lines);
        IF cust <= 20 THEN
            doc := doc || jsonb_build_object('customer', jsonb_build_object('email', 'c' || cust || '@example.com'));
        END IF;
        RETURN oms.place_order(doc);
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('place', SQLSTATE, SQLERRM, ARRAY['OM001', '40001']) THEN
            RAISE;
        END IF;
        RETURN NULL;
    END $$;

    -- pay an unpaid order in full, every authorization captured at once:
    -- how 1 cash, 2 card, 3 a gift card for gpart percent and a card for
    -- the rest. Client k of n pays only orders with id % n = k (see the
    -- header: OMS_STORM_PAY_RACE)
    CREATE FUNCTION public.storm_pay(how int, gpart int, card int, k int, n int) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        pick bigint := (SELECT max(id) FROM oms.orders) * random();
        oid bigint;
        open numeric;
        part numeric;
        pay jsonb;
        res jsonb;
    BEGIN
        SELECT o.id, o.total - COALESCE((SELECT sum(p.authorized - p.voided) FROM oms.payments p WHERE p.order_id = o.id), 0)
          INTO oid, open
          FROM oms.orders o
         WHERE o.status IN ('pending_payment', 'backordered') AND o.id % n = k
         ORDER BY o.id >= pick DESC, o.id LIMIT 1;
        IF oid IS NULL OR open <= 0 THEN
            RETURN NULL;
        END IF;
        IF how = 3 THEN
            part := greatest(round(open * gpart / 100, 2), 0.01);
            IF part < open THEN
                pay := oms.authorize_payment(oid, jsonb_build_object('method', 'gift_card', 'amount', part,
                           'gift_card_code', 'STORM-GIFT-' || lpad(card::text, 4, '0')));
                PERFORM oms.capture_payment((pay ->> 'payment_id')::bigint);
                open := open - part;
            END IF;
        END IF;
        IF how = 1 THEN
            pay := oms.authorize_payment(oid, jsonb_build_object('method', 'cash', 'amount', open));
        ELSE
            pay := oms.authorize_payment(oid, jsonb_build_object('method', 'card', 'amount', open,
                       'token', 'tok_storm_' || oid, 'brand', 'visa', 'last4', '4242'));
        END IF;
        res := oms.capture_payment((pay ->> 'payment_id')::bigint);
        RETURN res;
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('pay', SQLSTATE, SQLERRM, ARRAY['55000', '22023']) THEN
            RAISE;
        END IF;
        RETURN NULL;
    END $$;

    -- ship what an order holds at one location: create_shipment there
    -- (everything open) and ship it; a pending shipment left by a failed
    -- call is shipped as it is
    CREATE FUNCTION public.storm_ship(c int) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        pick bigint := (SELECT max(id) FROM oms.orders) * random();
        oid bigint;
        loc text;
        sid bigint;
        doc jsonb;
    BEGIN
        SELECT r.order_id, l.code INTO oid, loc
          FROM oms.reservations r
          JOIN oms.orders o ON o.id = r.order_id
          JOIN oms.locations l ON l.id = r.location_id
         WHERE r.status = 'active' AND o.status IN ('confirmed', 'in_fulfillment', 'partially_shipped')
         ORDER BY r.order_id >= pick DESC, r.order_id, random() LIMIT 1;
        IF oid IS NULL THEN
            RETURN NULL;
        END IF;
        SELECT s.id INTO sid FROM oms.shipments s JOIN oms.locations l ON l.id = s.location_id
         WHERE s.order_id = oid AND l.code = loc AND s.status = 'pending' ORDER BY s.id LIMIT 1;
        IF sid IS NULL THEN
            doc := oms.create_shipment(oid, loc);
            sid := (doc ->> 'shipment_id')::bigint;
        END IF;
        RETURN oms.ship(sid, (ARRAY['dhl', 'ups'])[c], 'std', 'TRK-' || nextval('public.storm_trk'));
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('ship', SQLSTATE, SQLERRM, ARRAY['55000', '22023']) THEN
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

    -- an RMA for up to nl lines of a shipped order, each for 1 to what
    -- looks returnable (over = 1: one more than that); r1..r3 the reasons;
    -- res 3 store credit (refund for a guest), 4 exchange for one unit of
    -- ex, else refund
    CREATE FUNCTION public.storm_rma(nl int, q1 int, q2 int, q3 int, r1 int, r2 int, r3 int,
                                     res int, over int, ex int) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        pick bigint := (SELECT max(id) FROM oms.orders) * random();
        reasons text[] := ARRAY['defective', 'damaged_in_transit', 'wrong_item', 'not_as_described',
                                'changed_mind', 'too_small', 'too_large'];
        q int[] := ARRAY[q1, q2, q3];
        r int[] := ARRAY[r1, r2, r3];
        oid bigint;
        cust bigint;
        l record;
        i int := 0;
        lines jsonb := '[]';
        resolution text;
        doc jsonb;
        returned text[] := '{}';
        exsku text := (ARRAY['P1', 'P2', 'HOT1', 'KIT1'])[ex];
    BEGIN
        SELECT o.id, o.customer_id INTO oid, cust
          FROM oms.orders o
         WHERE o.status IN ('shipped', 'partially_shipped', 'delivered', 'completed', 'partially_returned')
           AND EXISTS (SELECT FROM oms.order_lines ol
                        WHERE ol.order_id = o.id
                          AND ol.qty_shipped > COALESCE((SELECT sum(rl.qty - rl.qty_missing) FROM oms.rma_lines rl
                                                           JOIN oms.rmas x ON x.id = rl.rma_id
                                                          WHERE rl.order_line_id = ol.id AND x.status <> 'rejected'), 0))
         ORDER BY o.id >= pick DESC, o.id LIMIT 1;
        IF oid IS NULL THEN
            RETURN NULL;
        END IF;
        FOR l IN
            SELECT * FROM (
                SELECT ol.line_no, p.sku,
                       ol.qty_shipped - COALESCE((SELECT sum(rl.qty - rl.qty_missing) FROM oms.rma_lines rl JOIN oms.rmas x ON x.id = rl.rma_id
                                                   WHERE rl.order_line_id = ol.id AND x.status <> 'rejected'), 0) AS returnable
                  FROM oms.order_lines ol JOIN oms.products p ON p.id = ol.product_id
                 WHERE ol.order_id = oid AND p.kind <> 'service') x
             WHERE returnable > 0 ORDER BY random() LIMIT nl
        LOOP
            i := i + 1;
            returned := returned || l.sku;
            lines := lines || jsonb_build_array(jsonb_build_object(
                'line_no', l.line_no,
                'qty', CASE WHEN over = 1 THEN l.returnable + 1 ELSE 1 + q[i] % l.returnable END,
                'reason', reasons[r[i]]));
        END LOOP;
        IF i = 0 THEN
            RETURN NULL;
        END IF;
        resolution := CASE WHEN res = 3 AND cust IS NOT NULL THEN 'store_credit' WHEN res = 4 THEN 'exchange' ELSE 'refund' END;
        doc := jsonb_build_object('resolution', resolution, 'lines', lines, 'notes', 'storm');
        IF resolution = 'exchange' THEN
            -- a returned sku is exchanged at the price paid; another needs
            -- its price (a cent: the credit of what comes back covers it)
            doc := doc || jsonb_build_object('exchange', jsonb_build_object('lines', jsonb_build_array(
                               jsonb_build_object('sku', exsku, 'qty', 1)
                               || CASE WHEN exsku = ANY (returned) THEN '{}'::jsonb ELSE '{"unit_price": 0.01}'::jsonb END)));
        END IF;
        RETURN oms.create_rma(oid, doc);
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('rma', SQLSTATE, SQLERRM, ARRAY['22023', '55000']) THEN
            RAISE;
        END IF;
        RETURN NULL;
    END $$;

    -- authorize a requested RMA, or (act = 1) reject a requested or
    -- authorized one
    CREATE FUNCTION public.storm_authorize(act int) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        pick bigint := (SELECT max(id) FROM oms.rmas) * random();
        rid bigint;
    BEGIN
        SELECT id INTO rid FROM oms.rmas
         WHERE status = 'requested' OR (act = 1 AND status = 'authorized')
         ORDER BY id >= pick DESC, id LIMIT 1;
        IF rid IS NULL THEN
            RETURN NULL;
        END IF;
        IF act = 1 THEN
            RETURN oms.reject_rma(rid, 'storm: outside policy');
        END IF;
        RETURN oms.authorize_rma(rid);
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('authorize', SQLSTATE, SQLERRM, ARRAY['55000']) THEN
            RAISE;
        END IF;
        RETURN NULL;
    END $$;

    -- receive an authorized RMA at location loc: per open line, all of it
    -- or (part = 1) one unit, in condition c1..c3 (1-12 sellable, 13-17
    -- damaged, else missing); what was booked goes to the storm log
    CREATE FUNCTION public.storm_receive_rma(loc text, part int, c1 int, c2 int, c3 int) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        pick bigint := (SELECT max(id) FROM oms.rmas) * random();
        c int[] := ARRAY[c1, c2, c3];
        rid bigint;
        l record;
        i int := 0;
        lines jsonb := '[]';
        booked jsonb := '[]';
        cond text;
        n int;
        res jsonb;
    BEGIN
        SELECT id INTO rid FROM oms.rmas WHERE status IN ('authorized', 'partially_received')
         ORDER BY id >= pick DESC, id LIMIT 1;
        IF rid IS NULL THEN
            RETURN NULL;
        END IF;
        FOR l IN
            SELECT ol.line_no, rl.id, rl.qty - rl.qty_restocked - rl.qty_damaged - rl.qty_missing AS open
              FROM oms.rma_lines rl JOIN oms.order_lines ol ON ol.id = rl.order_line_id
             WHERE rl.rma_id = rid AND rl.qty - rl.qty_restocked - rl.qty_damaged - rl.qty_missing > 0
             ORDER BY ol.line_no LIMIT 3
        LOOP
            i := i + 1;
            cond := CASE WHEN c[i] <= 12 THEN 'sellable' WHEN c[i] <= 17 THEN 'damaged' ELSE 'missing' END;
            n := CASE WHEN part = 1 THEN 1 ELSE l.open END;
            lines := lines || jsonb_build_array(jsonb_build_object('line_no', l.line_no, 'qty', n, 'condition', cond));
            booked := booked || jsonb_build_array(jsonb_build_object('id', l.id, 'qty', n, 'condition', cond));
        END LOOP;
        IF i = 0 THEN
            RETURN NULL;
        END IF;
        res := oms.receive_rma(rid, loc, lines);
        INSERT INTO public.storm_log (what, location, rma_line_id, qty, condition)
            SELECT 'rma_receipt', loc, (b ->> 'id')::bigint, (b ->> 'qty')::int, b ->> 'condition'
              FROM jsonb_array_elements(booked) b;
        RETURN res;
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('receive_rma', SQLSTATE, SQLERRM, ARRAY['55000', '22023']) THEN
            RAISE;
        END IF;
        RETURN NULL;
    END $$;

    -- resolve what an RMA received and has not resolved; exchanges that
    -- cannot go ahead yet (units still expected) only now and then
    CREATE FUNCTION public.storm_refund(try_blocked int) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    DECLARE
        pick bigint := (SELECT max(id) FROM oms.rmas) * random();
        rid bigint;
    BEGIN
        SELECT r.id INTO rid FROM oms.rmas r
         WHERE r.status IN ('partially_received', 'received')
           AND EXISTS (SELECT FROM oms.rma_lines rl WHERE rl.rma_id = r.id
                          AND rl.qty_restocked + rl.qty_damaged > rl.qty_resolved)
           AND (try_blocked = 1 OR r.resolution <> 'exchange'
                OR NOT EXISTS (SELECT FROM oms.rma_lines rl WHERE rl.rma_id = r.id
                                  AND rl.qty_restocked + rl.qty_damaged + rl.qty_missing < rl.qty))
         ORDER BY r.id >= pick DESC, r.id LIMIT 1;
        IF rid IS NULL THEN
            RETURN NULL;
        END IF;
        RETURN oms.refund_rma(rid);
    EXCEPTION WHEN OTHERS THEN
        IF NOT public.storm_caught('refund', SQLSTATE, SQLERRM, ARRAY['55000', 'OM001', '22023']) THEN
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
        SELECT id INTO oid FROM oms.orders
         WHERE status IN ('pending_payment', 'backordered', 'confirmed', 'in_fulfillment', 'partially_shipped', 'shipped')
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
$node->safe_psql('rstorm', storm_sql(qw(storm_caught storm_receive)));

# whole-cent unit values (also less 10%), or with OMS_STORM_ODD_CENTS
# whole-cent line taxes that make them fractional (1.00 over 3 units)
$node->safe_psql('rstorm', $odd_cents
    ? q{INSERT INTO public.storm_prices VALUES (1, 9.90, 1.00), (2, 12.35, 0.01), (3, 19.90, 0.05), (4, 24.00, 0), (5, 7.30, 0.01)}
    : q{INSERT INTO public.storm_prices VALUES (1, 9.90, 0), (2, 12.50, 0), (3, 19.90, 0), (4, 24.00, 0), (5, 7.30, 0)});

my %initial = (
    HOT1 => [ [ 'WH1', 60 ], [ 'ST1', 30 ] ],
    HOT2 => [ [ 'WH2', 60 ], [ 'WH1', 20 ] ],
    map { ("P$_" => [ [ 'WH1', 5000 ], [ 'WH2', 5000 ], [ 'ST1', 500 ] ]) } 1 .. 3);
storm_receive_initial($node, 'rstorm', \%initial);

storm_pgbench($node, 'rstorm', $clients, $per_client,
    'storm of orders, payments, shipments, RMAs, receipts of returns, refunds, cancels and stock receipts',
    {
        'rs_place@10' => q{
\set n random(1, 3)
\set s1 random(1, 10)
\set s2 random(1, 10)
\set s3 random(1, 10)
\set q1 random(1, 3)
\set q2 random(1, 3)
\set q3 random(1, 3)
\set p1 random(1, 5)
\set p2 random(1, 5)
\set p3 random(1, 5)
\set cust random(1, 25)
\set pol random(1, 3)
\set ch random(1, 2)
SELECT public.storm_place(:n, :s1, :s2, :s3, :q1, :q2, :q3, :p1, :p2, :p3, :cust, :pol, :ch);
},
        'rs_pay@7' => q{
\set how random(1, 3)
\set gpart random(5, 95)
\set card random(1, 10)
} . "SELECT public.storm_pay(:how, :gpart, :card, :client_id % $pay_clients, $pay_clients);\n",
        'rs_ship@9' => q{
\set c random(1, 2)
SELECT public.storm_ship(:c);
},
        'rs_deliver@3' => q{
SELECT public.storm_deliver();
},
        'rs_rma@7' => q{
\set nl random(1, 3)
\set q1 random(0, 3)
\set q2 random(0, 3)
\set q3 random(0, 3)
\set r1 random(1, 7)
\set r2 random(1, 7)
\set r3 random(1, 7)
\set res random(1, 5)
\set over random(1, 15)
\set ex random(1, 4)
SELECT public.storm_rma(:nl, :q1, :q2, :q3, :r1, :r2, :r3, :res, :over, :ex);
},
        'rs_authorize@3' => q{
\set act random(1, 5)
SELECT public.storm_authorize(:act);
},
        'rs_receive_rma@6' => q{
\set l random(1, 3)
\set part random(1, 3)
\set c1 random(1, 20)
\set c2 random(1, 20)
\set c3 random(1, 20)
SELECT public.storm_receive_rma((ARRAY['WH1', 'WH2', 'ST1'])[:l], :part, :c1, :c2, :c3);
},
        'rs_refund@6' => q{
\set blocked random(1, 5)
SELECT public.storm_refund(:blocked);
},
        'rs_cancel@2' => q{
SELECT public.storm_cancel();
},
        'rs_receive@1' => q{
\set s random(1, 3)
\set l random(1, 3)
\set q random(1, 6)
SELECT public.storm_receive((ARRAY['HOT1', 'HOT2', 'P1'])[:s], (ARRAY['WH1', 'WH2', 'ST1'])[:l], :q);
},
    });

# the server log, a restart if the node went down, and oms.check()
storm_aftermath($node, 'rstorm');

# ---- money ------------------------------------------------------------------

my ($pay_refunded, $rma_refunded, $cancel_refunded, $captured, $balanced) = split /\|/, $node->safe_psql('rstorm', q{
    SELECT p.refunded, r.refunded, c.refunded, p.captured, p.refunded = r.refunded + c.refunded
      FROM (SELECT COALESCE(sum(refunded), 0) AS refunded, COALESCE(sum(captured), 0) AS captured FROM oms.payments) p,
           (SELECT COALESCE(sum(refunded), 0) AS refunded FROM oms.rmas) r,
           (SELECT COALESCE(sum(amount), 0) AS refunded FROM oms.payment_transactions
             WHERE kind = 'refund' AND reason !~ '^RMA [0-9]+$') c});
note "captured $captured, refunded $pay_refunded: by RMAs $rma_refunded, by cancellations $cancel_refunded";
is($balanced, 't',
    'every refund is accounted for: sum(payments.refunded) = sum(rmas.refunded) + refunds made by cancel_order');

is($node->safe_psql('rstorm', q{
    SELECT COALESCE(string_agg('RMA ' || r.id || ': refunded ' || r.refunded || ', refund transactions ' || COALESCE(t.amount, 0),
                               '; ' ORDER BY r.id), '')
      FROM oms.rmas r
      LEFT JOIN (SELECT reason, sum(amount) AS amount FROM oms.payment_transactions
                  WHERE kind = 'refund' AND reason ~ '^RMA [0-9]+$' GROUP BY 1) t ON t.reason = 'RMA ' || r.id
     WHERE r.refunded <> COALESCE(t.amount, 0)}), '',
    "each RMA's refund transactions add up to its refunded amount");

my $over_authorized = $node->safe_psql('rstorm', q{
    SELECT string_agg('order ' || o.id || ' (' || o.status || ', ' || o.policy || '): total ' || o.total
                      || ', authorized less voided ' || p.held || ', payments ' || p.list, E'\n' ORDER BY o.id)
      FROM oms.orders o
      JOIN (SELECT order_id, sum(authorized - voided) AS held,
                   string_agg(method || ' ' || authorized || '/' || captured || '/' || voided || '/' || refunded, ', ' ORDER BY id) AS list
              FROM oms.payments GROUP BY 1) p ON p.order_id = o.id
     WHERE p.held > o.total});
is($over_authorized, '', 'no order has more authorized (less voided) than its total')
  or diag($over_authorized);

is($node->safe_psql('rstorm', q{
    SELECT COALESCE(string_agg('order ' || o.id || ': captured ' || p.captured || ', refunded ' || p.refunded
                               || ', authorized ' || p.authorized || ', voided ' || p.voided, '; ' ORDER BY o.id), '')
      FROM oms.orders o
      JOIN (SELECT order_id, sum(captured) AS captured, sum(refunded) AS refunded,
                   sum(authorized) AS authorized, sum(voided) AS voided
              FROM oms.payments GROUP BY 1) p ON p.order_id = o.id
     WHERE o.status = 'cancelled' AND (p.refunded <> p.captured OR p.captured + p.voided <> p.authorized)}), '',
    'a cancelled order refunded everything it captured and voided the rest');

is($node->safe_psql('rstorm', q{
    SELECT COALESCE(string_agg('order ' || r.order_id || ': RMAs refunded ' || r.refunded || ' and credited ' || r.credit
                               || ', captured ' || COALESCE(p.captured, 0), '; ' ORDER BY r.order_id), '')
      FROM (SELECT order_id, sum(refunded) AS refunded, sum(store_credit) AS credit FROM oms.rmas GROUP BY 1) r
      LEFT JOIN (SELECT order_id, sum(captured) AS captured FROM oms.payments GROUP BY 1) p USING (order_id)
     WHERE r.refunded + r.credit > COALESCE(p.captured, 0)}), '',
    "refunds and store credit of an order's RMAs never exceed what its payments captured");

# Per order line, refund_rma pays the increase of round(paid x units
# resolved so far / qty, 2) less the reason's fee, over all the line's
# RMAs; the increases add up to the value of every resolved unit, so an
# order's returns never pay out more than that, fees and exchanges only
# lower it. An exchange with every unit back moves no money.
my $rounding = $node->safe_psql('rstorm', q{
    WITH lines AS (
        SELECT ol.order_id, round((ol.unit_price * ol.qty - ol.discount + ol.tax) * sum(rl.qty_resolved) / ol.qty, 2) AS worth
          FROM oms.order_lines ol JOIN oms.rma_lines rl ON rl.order_line_id = ol.id
         GROUP BY ol.id),
    money AS (
        SELECT order_id, sum(refunded + store_credit) AS paid_out FROM oms.rmas GROUP BY 1)
    SELECT COALESCE(string_agg(msg, '; '), '') FROM (
        SELECT 'order ' || m.order_id || ': returns paid out ' || m.paid_out || ', resolved units worth ' || w.worth AS msg
          FROM money m JOIN (SELECT order_id, sum(worth) AS worth FROM lines GROUP BY 1) w USING (order_id)
         WHERE m.paid_out > w.worth
        UNION ALL
        SELECT 'RMA ' || r.id || ' (exchange, nothing missing) moved money: refunded ' || r.refunded || ', credited ' || r.store_credit
          FROM oms.rmas r
         WHERE r.resolution = 'exchange' AND r.status = 'resolved' AND (r.refunded <> 0 OR r.store_credit <> 0)
           AND NOT EXISTS (SELECT FROM oms.rma_lines rl WHERE rl.rma_id = r.id AND rl.qty_missing > 0)) x});
is($rounding, '',
    "an order's returns pay out at most the value of its resolved units (per line round(paid x resolved / qty, 2)), "
    . 'and an exchange with every unit back moves no money')
  or diag($rounding);

is($node->safe_psql('rstorm', q{
    SELECT (SELECT COALESCE(sum(issued), 0) FROM oms.gift_cards WHERE kind = 'store_credit')
           = (SELECT COALESCE(sum(store_credit), 0) FROM oms.rmas)}), 't',
    'the store credit issued is the store credit of the RMAs');

is($node->safe_psql('rstorm', q{
    SELECT COALESCE(string_agg(DISTINCT message, '; '), '') FROM public.storm_log WHERE what = 'refund' AND state = '22023'}), '',
    'refund_rma was never refused for exceeding what the payments hold (every order was captured in full)');

is($node->safe_psql('rstorm', q{
    SELECT COALESCE(string_agg('RMA ' || r.id || ': ' || r.status || ', ' || m.missing || ' missing, exchange order '
                               || COALESCE(o.external_id, '(none)') || ' total ' || COALESCE(o.total::text, '-')
                               || ', refunded ' || r.refunded, '; ' ORDER BY r.id), '')
      FROM oms.rmas r
      JOIN (SELECT rma_id, sum(qty_missing) AS missing FROM oms.rma_lines GROUP BY 1) m ON m.rma_id = r.id
      LEFT JOIN oms.orders o ON o.id = r.exchange_order_id
     WHERE r.resolution = 'exchange'
       AND ((r.exchange_order_id IS NOT NULL) <> (r.status = 'resolved' AND m.missing = 0)
            OR (m.missing = 0 AND r.refunded <> 0)
            OR (o.id IS NOT NULL AND (o.total <> round(r.exchange_value - COALESCE((SELECT sum(m.amount) FROM oms.money_out m
                                                                                  WHERE m.rma_id = r.id AND m.kind = 'exchange'), 0), 2)
                                      OR o.external_id <> 'rma-' || r.id)))}), '',
    'an exchange RMA resolved with every unit back has its replacement order rma-<id>, whose total is the exchange value '
    . 'less the exchange credit, and moved no money to payments or store credit; with units missing it has no replacement');

# ---- stock ------------------------------------------------------------------

my $negative = $node->safe_psql('rstorm', q{
    SELECT string_agg(sku || ' at ' || location || ': on_hand ' || on_hand || ', reserved ' || reserved
                      || ', damaged ' || damaged, '; ' ORDER BY sku, location)
      FROM oms.stock_levels WHERE on_hand < 0 OR damaged < 0 OR reserved > on_hand});
is($negative, '', 'no balance has on_hand or damaged below 0, or more reserved than on hand')
  or diag($negative);

my $dipped = $node->safe_psql('rstorm', q{
    SELECT string_agg(DISTINCT p.sku || ' at ' || l.code, ', ')
      FROM (SELECT product_id, location_id,
                   sum(on_hand_delta) OVER w AS on_hand, sum(damaged_delta) OVER w AS damaged
              FROM oms.stock_movements
            WINDOW w AS (PARTITION BY product_id, location_id, slot ORDER BY id)) m
      JOIN oms.products p ON p.id = m.product_id JOIN oms.locations l ON l.id = m.location_id
     WHERE m.on_hand < 0 OR m.damaged < 0});
is($dipped, '', 'on_hand and damaged never went below 0 in the ledger, movement by movement')
  or diag($dipped);

# per RMA and product: the ledger rows referencing the RMA are its lines'
# restocked and damaged units, kits as their components
my $per_rma = $node->safe_psql('rstorm', q{
    WITH lines AS (
        SELECT rl.rma_id, COALESCE(kc.component_id, ol.product_id) AS product_id,
               sum(rl.qty_restocked * COALESCE(kc.qty, 1)) AS restocked,
               sum(rl.qty_damaged * COALESCE(kc.qty, 1)) AS damaged
          FROM oms.rma_lines rl
          JOIN oms.order_lines ol ON ol.id = rl.order_line_id
          JOIN oms.products p ON p.id = ol.product_id
          LEFT JOIN oms.kit_components kc ON p.kind = 'kit' AND kc.kit_id = p.id
         GROUP BY 1, 2
        HAVING sum(rl.qty_restocked + rl.qty_damaged) > 0),
    ledger AS (
        SELECT substr(reference, 5)::bigint AS rma_id, product_id,
               sum(on_hand_delta) FILTER (WHERE kind = 'return_restock') AS restocked,
               sum(damaged_delta) FILTER (WHERE kind = 'return_damaged') AS damaged
          FROM oms.stock_movements
         WHERE kind IN ('return_restock', 'return_damaged')
         GROUP BY 1, 2)
    SELECT COALESCE(string_agg('RMA ' || rma_id || ' ' || p.sku || ': lines ' || COALESCE(x.restocked, 0) || '/'
                               || COALESCE(x.damaged, 0) || ', ledger ' || COALESCE(g.restocked, 0) || '/'
                               || COALESCE(g.damaged, 0), '; ' ORDER BY rma_id, p.sku), '')
      FROM lines x FULL JOIN ledger g USING (rma_id, product_id)
      JOIN oms.products p ON p.id = product_id
     WHERE COALESCE(x.restocked, 0) <> COALESCE(g.restocked, 0) OR COALESCE(x.damaged, 0) <> COALESCE(g.damaged, 0)});
is($per_rma, '',
    'ledger return_restock / return_damaged = restocked / damaged units of each RMA, per product (kits as components)')
  or diag($per_rma);

# per product and location: the ledger's returns are the receipts the storm
# booked there
my $per_location = $node->safe_psql('rstorm', q{
    WITH booked AS (
        SELECT COALESCE(kc.component_id, ol.product_id) AS product_id, l.id AS location_id,
               sum(s.qty * COALESCE(kc.qty, 1)) FILTER (WHERE s.condition = 'sellable') AS restocked,
               sum(s.qty * COALESCE(kc.qty, 1)) FILTER (WHERE s.condition = 'damaged') AS damaged
          FROM public.storm_log s
          JOIN oms.locations l ON l.code = s.location
          JOIN oms.rma_lines rl ON rl.id = s.rma_line_id
          JOIN oms.order_lines ol ON ol.id = rl.order_line_id
          JOIN oms.products p ON p.id = ol.product_id
          LEFT JOIN oms.kit_components kc ON p.kind = 'kit' AND kc.kit_id = p.id
         WHERE s.what = 'rma_receipt' AND s.condition <> 'missing'
         GROUP BY 1, 2),
    ledger AS (
        SELECT product_id, location_id,
               sum(on_hand_delta) FILTER (WHERE kind = 'return_restock') AS restocked,
               sum(damaged_delta) FILTER (WHERE kind = 'return_damaged') AS damaged
          FROM oms.stock_movements WHERE kind IN ('return_restock', 'return_damaged') GROUP BY 1, 2)
    SELECT COALESCE(string_agg(p.sku || ' at ' || l.code || ': booked ' || COALESCE(b.restocked, 0) || '/'
                               || COALESCE(b.damaged, 0) || ', ledger ' || COALESCE(g.restocked, 0) || '/'
                               || COALESCE(g.damaged, 0), '; ' ORDER BY p.sku, l.code), '')
      FROM booked b FULL JOIN ledger g USING (product_id, location_id)
      JOIN oms.products p ON p.id = product_id JOIN oms.locations l ON l.id = location_id
     WHERE COALESCE(b.restocked, 0) <> COALESCE(g.restocked, 0) OR COALESCE(b.damaged, 0) <> COALESCE(g.damaged, 0)});
is($per_location, '',
    'ledger returns per product and location = the units the storm received there (sellable / damaged)')
  or diag($per_location);

is($node->safe_psql('rstorm', q{
    SELECT COALESCE(string_agg(sku || ': ledger ' || COALESCE(l, 0) || ', booked ' || COALESCE(b, 0), '; ' ORDER BY sku), '')
      FROM (SELECT p.sku, sum(m.on_hand_delta) AS l FROM oms.stock_movements m
              JOIN oms.products p ON p.id = m.product_id WHERE m.kind = 'receipt' GROUP BY 1) x
      FULL JOIN (SELECT sku, sum(qty) AS b FROM public.storm_log WHERE what = 'receipt' GROUP BY 1) y USING (sku)
     WHERE l IS DISTINCT FROM b}), '', 'the stock receipts in the ledger are exactly the receipts booked');

# ---- the storm really happened ---------------------------------------------

note "business errors caught (SQLSTATE, message with numbers as #):\n"
  . $node->safe_psql('rstorm', q{
    SELECT what || ' ' || state || ' x' || count(*) || ': ' || m
      FROM (SELECT what, state, regexp_replace(message, '[0-9]+', '#', 'g') AS m
              FROM public.storm_log WHERE state IS NOT NULL) x
     GROUP BY what, state, m ORDER BY what, state, count(*) DESC});

my %n = map { split /=/ } split /\n/, $node->safe_psql('rstorm', q{
    SELECT 'orders=' || count(*) FROM oms.orders
    UNION ALL SELECT 'shipped=' || count(*) FROM oms.shipments WHERE status IN ('shipped', 'delivered')
    UNION ALL SELECT 'delivered=' || count(*) FROM oms.shipments WHERE status = 'delivered'
    UNION ALL SELECT 'gift_card_payments=' || count(*) FROM oms.payments WHERE method = 'gift_card'
    UNION ALL SELECT 'rmas=' || count(*) FROM oms.rmas
    UNION ALL SELECT 'rmas_requested_only=' || count(*) FROM oms.rmas WHERE authorized_at IS NULL AND status <> 'rejected'
    UNION ALL SELECT 'rmas_rejected=' || count(*) FROM oms.rmas WHERE status = 'rejected'
    UNION ALL SELECT 'rmas_resolved=' || count(*) FROM oms.rmas WHERE status = 'resolved'
    UNION ALL SELECT 'rmas_refunded=' || count(*) FROM oms.rmas WHERE refunded > 0
    UNION ALL SELECT 'rmas_credited=' || count(*) FROM oms.rmas WHERE store_credit > 0
    UNION ALL SELECT 'exchanges=' || count(*) FROM oms.rmas WHERE exchange_order_id IS NOT NULL
    UNION ALL SELECT 'exchanges_refunded=' || count(*) FROM oms.rmas WHERE resolution = 'exchange' AND refunded > 0
    UNION ALL SELECT 'claims_freed_by_missing=' || count(*) FROM oms.rma_lines rl
               WHERE rl.qty_missing > 0 AND EXISTS (SELECT FROM oms.rma_lines x JOIN oms.rmas xr ON xr.id = x.rma_id
                                                      WHERE x.order_line_id = rl.order_line_id AND x.rma_id > rl.rma_id
                                                        AND xr.status <> 'rejected')
    UNION ALL SELECT 'fee_refunds=' || count(*) FROM oms.rma_lines WHERE reason = 'changed_mind' AND qty_resolved > 0
    UNION ALL SELECT 'units_restocked=' || COALESCE(sum(qty_restocked), 0) FROM oms.rma_lines
    UNION ALL SELECT 'units_damaged=' || COALESCE(sum(qty_damaged), 0) FROM oms.rma_lines
    UNION ALL SELECT 'units_missing=' || COALESCE(sum(qty_missing), 0) FROM oms.rma_lines
    UNION ALL SELECT 'kits_returned=' || COALESCE(sum(rl.qty_restocked + rl.qty_damaged), 0) FROM oms.rma_lines rl
                JOIN oms.order_lines ol ON ol.id = rl.order_line_id JOIN oms.products p ON p.id = ol.product_id
               WHERE p.kind = 'kit'
    UNION ALL SELECT 'rma_receipts=' || count(*) FROM oms.events WHERE kind = 'rma_received'
    UNION ALL SELECT 'orders_returned=' || count(*) FROM oms.orders WHERE status = 'returned'
    UNION ALL SELECT 'orders_partially_returned=' || count(*) FROM oms.orders WHERE status = 'partially_returned'
    UNION ALL SELECT 'gift_card_refunds=' || count(*) FROM oms.payment_transactions t JOIN oms.payments p ON p.id = t.payment_id
               WHERE t.kind = 'refund' AND p.method = 'gift_card' AND t.reason ~ '^RMA '
    UNION ALL SELECT 'cancelled_orders=' || count(*) FROM oms.orders WHERE status = 'cancelled'
    UNION ALL SELECT 'cancel_refunds=' || count(*) FROM oms.payment_transactions WHERE kind = 'refund' AND reason !~ '^RMA [0-9]+$'
    UNION ALL SELECT 'over_claims_refused=' || count(*) FROM public.storm_log
               WHERE what = 'rma' AND state = '22023' AND message LIKE '%more than is returnable%'
    UNION ALL SELECT 'return_backorder_fills=' || count(*) FROM oms.stock_movements m
               WHERE m.kind = 'reservation' AND m.reference = 'backorder fill'
                 AND EXISTS (SELECT FROM oms.stock_movements r WHERE r.kind = 'return_restock' AND r.at = m.at
                                AND r.product_id = m.product_id AND r.location_id = m.location_id)});
note join(', ', map { "$_ $n{$_}" } sort keys %n);
cmp_ok($n{orders}, '>=', 350, 'a good number of orders were placed');
cmp_ok($n{shipped}, '>', 200, 'shipments shipped');
cmp_ok($n{gift_card_payments}, '>', 20, 'orders were paid partly with gift cards');
cmp_ok($n{rmas}, '>', 150, 'RMAs were requested');
cmp_ok($n{rmas_rejected}, '>', 5, 'RMAs were rejected');
cmp_ok($n{rmas_resolved}, '>', 50, 'RMAs were resolved');
cmp_ok($n{rmas_refunded}, '>', 30, 'RMAs were refunded');
cmp_ok($n{rmas_credited}, '>', 5, 'RMAs were resolved with store credit');
cmp_ok($n{exchanges}, '>', 3, 'RMAs were exchanged');
cmp_ok($n{fee_refunds}, '>', 5, 'refunds kept a restocking fee');
cmp_ok($n{units_restocked}, '>', 50, 'units came back sellable');
cmp_ok($n{units_damaged}, '>', 10, 'units came back damaged');
cmp_ok($n{units_missing}, '>', 5, 'units were reported missing');
cmp_ok($n{kits_returned}, '>', 0, 'kits came back');
cmp_ok($n{gift_card_refunds}, '>', 5, 'refunds went to gift cards first');
cmp_ok($n{orders_returned}, '>', 0, 'orders were returned in full');
cmp_ok($n{cancel_refunds}, '>', 0, 'cancellations refunded captured payments');
cmp_ok($n{over_claims_refused}, '>', 5, 'claims beyond the returnable units were refused');

$node->stop;
done_testing();
