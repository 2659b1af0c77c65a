-- test/bench/reports_seed.sql: run by test/bench/reports as the superuser in
-- the bench database. Creates the extension, a catalog (3 channels, 6
-- locations, 200 stock products with costs and reorder points, a kit, a
-- service, 2 carriers with rates, 10 gift cards) and :customers customers,
-- then the seed: :seed orders taken through the real API, each with its own
-- fate (dice rolled per order with a fixed random seed):
--
--   5%  stay unpaid (pending_payment, or backordered under policy backorder)
--   4%  are cancelled after payment (refunded in full)
--   6%  are paid and left unshipped (confirmed)
--  85%  ship, from every location that holds units (routing splits some);
--       80% of those are delivered, and 10% of the delivered get an RMA
--       (refund, store credit or exchange; received sellable, damaged or
--       missing; refunded or credited)
--
-- Payment: 60% card, 25% cash, 15% part gift card + card. Orders are 1 to 3
-- lines (2% a kit, 3% a service line), for known customers (85%) or guests.
-- Stock is short for 20 skus, so backorders and splits happen.
--
-- test/bench/reports_clone.sql then copies the seed's order graphs to reach
-- 100k and 1M orders.
\set ON_ERROR_STOP 1
\set QUIET 1

CREATE EXTENSION oms;

INSERT INTO oms.channels (code, name, kind, routing_strategy) VALUES
    ('web', 'Web shop', 'web', 'cheapest'),
    ('app', 'Mobile app', 'mobile', 'closest'),
    ('pos', 'Stores', 'pos', 'priority');
INSERT INTO oms.locations (code, name, kind, latitude, longitude, pickup, priority, handling_cost, cost_per_km, address) VALUES
    ('WH-BER', 'Warehouse Berlin',    'warehouse', 52.40, 13.51, false, 10, 1.50, 0.010, E'Lagerstr. 1\n12529 Berlin'),
    ('WH-FRA', 'Warehouse Frankfurt', 'warehouse', 50.11,  8.68, false, 20, 1.20, 0.012, E'Hafenweg 2\n60314 Frankfurt'),
    ('WH-HAM', 'Warehouse Hamburg',   'warehouse', 53.55, 10.00, false, 30, 1.40, 0.011, E'Kai 3\n20457 Hamburg'),
    ('ST-MUC', 'Store Munich',        'store',     48.13, 11.57, true,  50, 2.50, 0.020, E'Marienplatz 4\n80331 Muenchen'),
    ('ST-CGN', 'Store Cologne',       'store',     50.94,  6.96, true,  60, 2.50, 0.020, E'Domplatz 5\n50667 Koeln'),
    ('ST-LEJ', 'Store Leipzig',       'store',     51.34, 12.37, true,  70, 2.50, 0.020, E'Markt 6\n04109 Leipzig');
INSERT INTO oms.products (sku, name, kind, weight_kg, unit_cost, reorder_point, reorder_qty)
SELECT 'SKU-' || lpad(i::text, 4, '0'), 'Product ' || i, 'stock', 0.2 + (i % 17) * 0.3,
       round((3 + (i % 41) * 1.7)::numeric, 2), 20 + i % 30, 100
  FROM generate_series(1, 200) i;
INSERT INTO oms.products (sku, name, kind) VALUES ('KIT-1', 'Starter kit', 'kit'), ('SVC-WRAP', 'Gift wrap', 'service');
INSERT INTO oms.kit_components (kit_id, component_id, qty)
SELECT k.id, c.id, v.q FROM oms.products k,
       (VALUES ('SKU-0001', 1), ('SKU-0002', 2)) AS v(sku, q) JOIN oms.products c ON c.sku = v.sku
 WHERE k.sku = 'KIT-1';
INSERT INTO oms.carriers (code, name, tracking_url) VALUES
    ('dhl', 'DHL', 'https://dhl.example/track?n={{tracking_number}}'),
    ('ups', 'UPS', 'https://ups.example/t/{{tracking_number}}');
INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days)
SELECT c.id, v.code, v.name, v.days FROM oms.carriers c
  JOIN (VALUES ('dhl', 'std', 'Paket', 2), ('ups', 'std', 'Standard', 3)) AS v(carrier, code, name, days)
    ON v.carrier = c.code;
INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
SELECT s.id, 'EUR', b.km, b.kg, b.price
  FROM oms.carrier_services s, (VALUES (300::numeric, 5::numeric, 4.90), (NULL, NULL, 12.90)) AS b(km, kg, price);
INSERT INTO oms.customers (email, name, external_ref)
SELECT 'c' || i || '@example.com', 'Customer ' || i, 'crm-' || i FROM generate_series(1, :customers) i;
SELECT count(oms.issue_gift_card('BENCH-GIFT-' || lpad(i::text, 4, '0'), 100000000, 'EUR')) AS gift_cards
  FROM generate_series(1, 10) i \gset

-- stock: plenty for most skus at 2 to 6 locations; skus 181..200 are short (2 units)
SELECT count(oms.receive_stock(p.sku, l.code,
                               CASE WHEN p.id > 180 THEN 2 ELSE 1000000 END, 'bench seed'))
  FROM oms.products p CROSS JOIN oms.locations l
 WHERE p.kind = 'stock' AND (p.id + l.id) % 3 <> 0 \gset

CREATE SEQUENCE public.bench_ext;
CREATE SEQUENCE public.bench_trk;

-- n orders, each through its whole life
CREATE PROCEDURE public.bench_seed(n integer)
LANGUAGE plpgsql AS $$
DECLARE
    i integer;
    fate double precision;
    nl integer;
    lines jsonb;
    doc jsonb;
    res jsonb;
    oid bigint;
    total numeric;
    part numeric;
    pay jsonb;
    loc record;
    sid bigint;
    rl jsonb;
    rid bigint;
    cust integer;
    cond text;
BEGIN
    PERFORM setseed(0.42);
    FOR i IN 1 .. n LOOP
        IF i % 100 = 0 THEN
            COMMIT;   -- short transactions, as the API's callers have
        END IF;
        fate := random();
        nl := 1 + floor(random() * 3)::integer;
        lines := '[]';
        FOR k IN 1 .. nl LOOP
            lines := lines || jsonb_build_array(jsonb_build_object(
                'sku', CASE WHEN k = 1 AND random() < 0.02 THEN 'KIT-1'
                            WHEN k = nl AND nl > 1 AND random() < 0.05 THEN 'SVC-WRAP'
                            ELSE 'SKU-' || lpad((1 + floor(power(random(), 1.6) * 200))::integer::text, 4, '0') END,
                'qty', 1 + floor(power(random(), 3) * 4)::integer,
                'unit_price', round((5 + random() * 95)::numeric, 2),
                'discount', CASE WHEN random() < 0.2 THEN 1.00 ELSE 0 END,
                'tax', round((random() * 9)::numeric, 2)));
        END LOOP;
        -- a line may repeat a sku: keep the first of each
        SELECT jsonb_agg(x ORDER BY o) INTO lines
          FROM (SELECT DISTINCT ON (x ->> 'sku') x, o FROM jsonb_array_elements(lines) WITH ORDINALITY AS e(x, o)
                 ORDER BY x ->> 'sku', o) s;
        cust := 1 + floor(random() * 1.18 * current_setting('bench.customers')::integer)::integer;
        doc := jsonb_build_object(
            'channel', (ARRAY['web', 'web', 'app', 'pos'])[1 + floor(random() * 4)::integer],
            'external_id', 'b-' || nextval('public.bench_ext'),
            'currency', 'EUR',
            'policy', CASE WHEN random() < 0.15 THEN 'backorder' WHEN random() < 0.2 THEN 'partial' ELSE 'all_or_nothing' END,
            'split', CASE WHEN random() < 0.3 THEN 'avoid' ELSE 'allow' END,
            'ship_to', jsonb_build_object('name', 'Max Muster', 'line1', 'Ringstr. 7', 'postal_code', '12345',
                                          'city', 'Musterstadt', 'country', 'DE',
                                          'lat', round((47.5 + random() * 7)::numeric, 3),
                                          'lon', round((6 + random() * 9)::numeric, 3)),
            'lines', lines);
        IF cust <= current_setting('bench.customers')::integer THEN
            doc := doc || jsonb_build_object('customer', jsonb_build_object('email', 'c' || cust || '@example.com'));
        END IF;
        BEGIN
            res := oms.place_order(doc);
        EXCEPTION WHEN SQLSTATE 'OM001' THEN
            CONTINUE;   -- out of stock under all_or_nothing: nothing placed
        END;
        oid := (res ->> 'order_id')::bigint;
        IF fate < 0.05 THEN
            CONTINUE;   -- unpaid
        END IF;
        SELECT o.total INTO total FROM oms.orders o WHERE o.id = oid;
        IF random() < 0.15 THEN
            part := round(total * 0.3, 2);
            IF part > 0 AND part < total THEN
                pay := oms.authorize_payment(oid, jsonb_build_object('method', 'gift_card', 'amount', part,
                           'gift_card_code', 'BENCH-GIFT-' || lpad((1 + i % 10)::text, 4, '0')));
                PERFORM oms.capture_payment((pay ->> 'payment_id')::bigint);
                total := total - part;
            END IF;
        END IF;
        IF random() < 0.3 THEN
            pay := oms.authorize_payment(oid, jsonb_build_object('method', 'cash', 'amount', total));
        ELSE
            pay := oms.authorize_payment(oid, jsonb_build_object('method', 'card', 'amount', total,
                       'token', 'tok_bench_' || oid, 'brand', 'visa', 'last4', '4242'));
        END IF;
        PERFORM oms.capture_payment((pay ->> 'payment_id')::bigint);
        IF fate < 0.09 THEN
            PERFORM oms.cancel_order(oid, 'bench: customer changed mind');
            CONTINUE;
        END IF;
        IF fate < 0.15 THEN
            CONTINUE;   -- paid, not shipped yet
        END IF;
        FOR loc IN
            SELECT DISTINCT l.code FROM oms.reservations r JOIN oms.locations l ON l.id = r.location_id
             WHERE r.order_id = oid AND r.status = 'active' ORDER BY 1
        LOOP
            sid := (oms.create_shipment(oid, loc.code) ->> 'shipment_id')::bigint;
            PERFORM oms.ship(sid, (ARRAY['dhl', 'ups'])[1 + i % 2], 'std', 'BT-' || nextval('public.bench_trk'));
            IF fate >= 0.32 THEN
                PERFORM oms.deliver(sid);
            END IF;
        END LOOP;
        IF fate < 0.32 OR random() >= 0.10 THEN
            CONTINUE;
        END IF;
        -- a return: one shipped line, 1 unit or all of it
        SELECT jsonb_build_array(jsonb_build_object(
                   'line_no', ol.line_no,
                   'qty', CASE WHEN random() < 0.7 THEN 1 ELSE ol.qty_shipped END,
                   'reason', (ARRAY['defective', 'damaged_in_transit', 'wrong_item', 'not_as_described',
                                    'changed_mind', 'too_small', 'too_large'])[1 + floor(random() * 7)::integer]))
          INTO rl
          FROM oms.order_lines ol JOIN oms.products p ON p.id = ol.product_id
         WHERE ol.order_id = oid AND ol.qty_shipped > 0 AND p.kind <> 'service'
         ORDER BY ol.line_no LIMIT 1;
        IF rl IS NULL THEN
            CONTINUE;
        END IF;
        doc := jsonb_build_object('lines', rl, 'resolution',
                   CASE WHEN random() < 0.15 AND cust <= current_setting('bench.customers')::integer THEN 'store_credit'
                        WHEN random() < 0.1 THEN 'exchange' ELSE 'refund' END);
        IF doc ->> 'resolution' = 'exchange' THEN
            doc := doc || '{"exchange": {"lines": [{"sku": "SKU-0003", "qty": 1}]}}';
        END IF;
        rid := (oms.create_rma(oid, doc) ->> 'rma_id')::bigint;
        IF (SELECT status FROM oms.rmas WHERE id = rid) = 'requested' THEN
            PERFORM oms.authorize_rma(rid);
        END IF;
        cond := CASE WHEN random() < 0.8 THEN 'sellable' WHEN random() < 0.7 THEN 'damaged' ELSE 'missing' END;
        PERFORM oms.receive_rma(rid, 'WH-BER', jsonb_build_array(jsonb_build_object(
                    'line_no', (rl -> 0 ->> 'line_no')::integer, 'qty', (rl -> 0 ->> 'qty')::integer, 'condition', cond)));
        IF cond <> 'missing' THEN
            BEGIN
                PERFORM oms.refund_rma(rid);
            EXCEPTION WHEN SQLSTATE 'OM001' OR SQLSTATE '55000' THEN
                NULL;   -- an exchange out of stock, or waiting for units: left open
            END;
        END IF;
    END LOOP;
END $$;

SELECT set_config('bench.customers', :'customers', false) \gset
CALL public.bench_seed(:seed);
