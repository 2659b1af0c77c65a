--
-- oracle: the invariant oracle oms.check() can fail. A small consistent
-- state is built through the API (stock, two orders paid by card, gift card
-- and store credit, one shipped and delivered, one with a pending shipment,
-- an RMA received and refunded, the journal those post); check() is empty.
-- Then each invariant below is breached directly, one per transaction that
-- is rolled back, and check() reports it:
--   balance_bounds, balance_vs_ledger, reserved_vs_reservations,
--   line_accounting, line_vs_reservations, payment_amounts,
--   stored_value_balance, shipped_vs_shipments, pending_shipment_vs_reserved,
--   rma_claims, rma_received, returned_vs_rmas, rma_money, journal_balance,
--   reference_orphan, handover_location, erased_customer_data.
-- (The other invariants are planted beside their features:
-- kit_component_kind and kit_without_components in catalog,
-- kit_line_vs_bom in kit_bom, status_vs_history in lifecycle,
-- status_holds_no_stock, status_vs_shipments, history_orphan and
-- event_orphan in status_rules, order_total_owed in coverage,
-- order_money_out in money_path.)
-- Where a CHECK constraint guards the invariant too, the block first shows
-- the CHECK refusing the breach, then drops the constraint inside the
-- rolled-back transaction to show that the oracle sees it as well.
-- The guard triggers (the balance write guard of src/balance_guard.c, the
-- append-only and status guards) stand aside with session_replication_role
-- = replica, which turns off every trigger of oms (none is ENABLE ALWAYS),
-- including the ledger apply trigger on oms.stock_movements and the FK
-- triggers (reservations, movements and routing decisions have none).
--
SET client_min_messages = warning;
SET search_path = public, oms;
\set VERBOSITY default
\set SHOW_CONTEXT never
DROP EXTENSION oms CASCADE;
CREATE EXTENSION oms;

-- ---------------------------------------------------------------------------
-- fixture, through the API
-- ---------------------------------------------------------------------------
INSERT INTO oms.channels (code, name, kind, routing_strategy) VALUES ('web', 'Web', 'web', 'priority');
INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority, address) VALUES
    ('BER', 'Berlin warehouse', 'warehouse', 52.5200, 13.4050, 10, E'Lagerstrasse 1\n10115 Berlin\nDE');
INSERT INTO oms.products (sku, name, kind, weight_kg) VALUES
    ('TENT', 'Tent for two', 'stock', 2.500),
    ('MUG',  'Enamel mug',   'stock', 0.400);
INSERT INTO oms.customers (external_ref, email, name) VALUES ('ann', 'ann@example.com', 'Ann Example');
SELECT count(oms.receive_stock(sku, 'BER', qty)) AS receipts FROM (VALUES ('TENT', 20), ('MUG', 40)) AS v(sku, qty);
INSERT INTO oms.carriers (code, name, tracking_url, active) VALUES
    ('dhl', 'DHL', 'https://www.dhl.de/track?piececode={{tracking_number}}', true);
INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days, active)
SELECT id, 'standard', 'Paket', 2, true FROM oms.carriers WHERE code = 'dhl';
INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
SELECT id, 'EUR', NULL, NULL, 5.99 FROM oms.carrier_services WHERE code = 'standard';

-- place an order for Ann; lines is [[sku, qty, unit_price], ...]
CREATE FUNCTION place(ext text, lines jsonb) RETURNS text LANGUAGE sql AS
$$ SELECT oms.place_order(jsonb_build_object('channel', 'web', 'external_id', ext, 'currency', 'EUR',
       'customer', jsonb_build_object('external_ref', 'ann'),
       'ship_to', jsonb_build_object('name', 'Ann Example', 'line1', 'Am Kanal 5', 'postal_code', '14467',
                                     'city', 'Potsdam', 'country', 'DE', 'lat', 52.3906, 'lon', 13.0645),
       'lines', (SELECT jsonb_agg(jsonb_build_object('sku', l ->> 0, 'qty', (l ->> 1)::int, 'unit_price', (l ->> 2)::numeric))
                   FROM jsonb_array_elements(lines) l))) ->> 'status' $$;
CREATE FUNCTION oid_of(ext text) RETURNS bigint LANGUAGE sql AS
$$ SELECT id FROM oms.orders WHERE external_id = ext $$;
-- the line of an order that sells sku
CREATE FUNCTION line_of(ext text, sku text) RETURNS bigint LANGUAGE sql AS
$$ SELECT l.id FROM oms.order_lines l JOIN oms.products p ON p.id = l.product_id
    WHERE l.order_id = oid_of(ext) AND p.sku = line_of.sku $$;
-- authorize amount of an order by a method (card; gift_card with its code;
-- store_credit) and capture it; returns the order's status
CREATE FUNCTION pay(ext text, method text, amount numeric, code text DEFAULT NULL) RETURNS text LANGUAGE sql AS
$$ SELECT oms.capture_payment((oms.authorize_payment(oid_of(ext), jsonb_strip_nulls(jsonb_build_object(
              'method', method, 'amount', amount, 'gift_card_code', code,
              'token', CASE WHEN method = 'card' THEN 'tok_' || ext END))) ->> 'payment_id')::bigint) ->> 'order_status' $$;
-- the payment of an order by a method
CREATE FUNCTION pay_of(ext text, method text) RETURNS bigint LANGUAGE sql AS
$$ SELECT id FROM oms.payments WHERE order_id = oid_of(ext) AND payments.method = pay_of.method $$;
-- ids of a product and a location
CREATE FUNCTION sku_id(sku text) RETURNS bigint LANGUAGE sql AS
$$ SELECT id FROM oms.products WHERE products.sku = sku_id.sku $$;
CREATE FUNCTION loc_id(code text) RETURNS integer LANGUAGE sql AS
$$ SELECT id FROM oms.locations WHERE locations.code = loc_id.code $$;
-- the n-th shipment of an order
CREATE FUNCTION sh(ext text, n int DEFAULT 1) RETURNS bigint LANGUAGE sql AS
$$ SELECT s.id FROM oms.shipments s WHERE s.order_id = oid_of(ext) ORDER BY s.id OFFSET n - 1 LIMIT 1 $$;
-- the n-th RMA of an order
CREATE FUNCTION rma_of(ext text, n int DEFAULT 1) RETURNS bigint LANGUAGE sql AS
$$ SELECT r.id FROM oms.rmas r WHERE r.order_id = oid_of(ext) ORDER BY r.id OFFSET n - 1 LIMIT 1 $$;
-- run a statement, return its SQLSTATE and message (or ok); the DETAIL of a
-- CHECK violation shows the failing row with its timestamps, so it is left out
CREATE FUNCTION try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN st || ': ' || msg;
END
$$;

-- a gift card of 50 and 20 of store credit for Ann
SELECT oms.issue_gift_card('GIFT-OMS-ORACLE-01', 50, 'EUR') ->> 'balance' AS gift_card_balance;
SELECT oms.issue_store_credit((SELECT id FROM oms.customers WHERE external_ref = 'ann'), 20, 'EUR', 'goodwill') ->> 'balance'
       AS store_credit_balance;

-- A-1: 2 tents and 2 mugs (220.00), 30.00 by gift card and 190.00 by card,
-- shipped and delivered; one tent comes back (RMA, defective), received
-- sellable at BER and refunded: to the gift card first, the rest to the card
SELECT place('A-1', '[["TENT", 2, 100], ["MUG", 2, 10]]') AS a1;
SELECT pay('A-1', 'gift_card', 30, 'GIFT-OMS-ORACLE-01') AS a1, pay('A-1', 'card', 190) AS a1;
SELECT oms.create_shipment(oid_of('A-1'), 'BER') ->> 'status' AS a1_shipment;
SELECT oms.ship(sh('A-1'), 'dhl', 'standard', 'JJD-A-1') ->> 'order_status' AS a1;
SELECT oms.deliver(sh('A-1')) ->> 'order_status' AS a1;
SELECT oms.create_rma(oid_of('A-1'), '{"lines": [{"sku": "TENT", "qty": 1, "reason": "defective"}], "resolution": "refund"}') ->> 'status'
       AS rma_1;
SELECT oms.receive_rma(rma_of('A-1'), 'BER', '[{"sku": "TENT", "qty": 1, "condition": "sellable"}]') ->> 'status' AS rma_1;
SELECT oms.refund_rma(rma_of('A-1')) ->> 'status' AS rma_1;

-- B-1: 3 tents (300.00), 20.00 of store credit and 280.00 by card; a
-- shipment is created at BER but not shipped yet (pending)
SELECT place('B-1', '[["TENT", 3, 100]]') AS b1;
SELECT pay('B-1', 'store_credit', 20) AS b1, pay('B-1', 'card', 280) AS b1;
SELECT oms.create_shipment(oid_of('B-1'), 'BER') ->> 'status' AS b1_shipment;

-- the state the plants below start from (ids are those of a fresh install)
SELECT o.external_id, o.id AS order_id, o.status, l.line_no, l.id AS line_id, p.sku, p.id AS product_id,
       l.qty, l.qty_reserved AS reserved, l.qty_backordered AS backordered, l.qty_shipped AS shipped,
       l.qty_cancelled AS cancelled, l.qty_returned AS returned
  FROM oms.orders o JOIN oms.order_lines l ON l.order_id = o.id JOIN oms.products p ON p.id = l.product_id
 ORDER BY o.external_id, l.line_no;
SELECT p.sku, l.code AS location, l.id AS location_id, b.on_hand, b.reserved, b.damaged, b.safety_stock
  FROM oms.stock_balances b JOIN oms.products p ON p.id = b.product_id JOIN oms.locations l ON l.id = b.location_id
 ORDER BY p.sku, l.code;
SELECT r.order_id, r.order_line_id, p.sku, r.location_id, r.qty, r.status
  FROM oms.reservations r JOIN oms.products p ON p.id = r.product_id ORDER BY r.id;
SELECT p.id AS payment_id, o.external_id, p.method, p.gift_card_id, p.currency, p.authorized, p.captured, p.voided, p.refunded
  FROM oms.payments p JOIN oms.orders o ON o.id = p.order_id ORDER BY p.id;
SELECT id, kind, issued, balance FROM oms.gift_cards ORDER BY id;
SELECT s.id AS shipment_id, o.external_id, s.status, s.location_id, sl.order_line_id, sl.qty
  FROM oms.shipments s JOIN oms.orders o ON o.id = s.order_id JOIN oms.shipment_lines sl ON sl.shipment_id = s.id
 ORDER BY s.id, sl.order_line_id;
SELECT r.id AS rma_id, o.external_id, r.status, r.resolution, r.value, r.refunded, r.store_credit,
       rl.order_line_id, rl.qty, rl.qty_restocked AS restocked, rl.qty_damaged AS damaged, rl.qty_missing AS missing,
       rl.qty_resolved AS resolved
  FROM oms.rmas r JOIN oms.orders o ON o.id = r.order_id JOIN oms.rma_lines rl ON rl.rma_id = r.id ORDER BY r.id, rl.id;
SELECT e.id AS entry_id, e.kind, sum(l.debit) AS debit, sum(l.credit) AS credit
  FROM oms.journal_entries e JOIN oms.journal_lines l ON l.entry_id = e.id GROUP BY e.id, e.kind ORDER BY e.id;

-- consistent
SELECT * FROM oms.check();

-- ===========================================================================
-- the plants: each breach in a transaction that is rolled back
-- ===========================================================================

-- ---------------------------------------------------------------------------
-- balance_bounds: 0 <= reserved <= on_hand, nothing negative; a CHECK per
-- bound guards it too. The C write guard (src/balance_guard.c) refuses any
-- direct write to oms.stock_balances, even a superuser's (42501); with
-- session_replication_role = replica its trigger does not fire, nor does
-- the ledger apply trigger of oms.stock_movements, so a balance and its
-- movement are written as two statements. Plant: a count that writes off
-- 17 of the 19 tents at BER, leaving on_hand 2 under the 3 reserved for
-- B-1; the CHECK stock_balances_reserved_chk refuses it.
-- ---------------------------------------------------------------------------
SELECT try(format('UPDATE oms.stock_balances SET on_hand = on_hand - 17 WHERE product_id = %s AND location_id = %s',
                  sku_id('TENT'), loc_id('BER'))) AS direct_write;
-- without the CHECK, the movement booked with it: the ledger agrees (no
-- balance_vs_ledger) and the reservations are untouched (no
-- reserved_vs_reservations), so balance_bounds alone reports TENT at BER
-- with on_hand 2 and reserved 3
BEGIN;
SET LOCAL session_replication_role = replica;
SELECT try(format('UPDATE oms.stock_balances SET on_hand = on_hand - 17 WHERE product_id = %s AND location_id = %s',
                  sku_id('TENT'), loc_id('BER'))) AS write_off_17;
ALTER TABLE oms.stock_balances DROP CONSTRAINT stock_balances_reserved_chk;
UPDATE oms.stock_balances SET on_hand = on_hand - 17 WHERE product_id = sku_id('TENT') AND location_id = loc_id('BER');
INSERT INTO oms.stock_movements (product_id, location_id, kind, on_hand_delta, reference)
VALUES (sku_id('TENT'), loc_id('BER'), 'adjustment', -17, 'count sheet 7');
SELECT invariant, detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;

-- ---------------------------------------------------------------------------
-- balance_vs_ledger: every balance is the sum of its movements. Plant
-- (the guards bypassed as for balance_bounds): 5 mugs added at BER with no
-- movement; the mugs hold no reservation and stay within bounds, so
-- balance_vs_ledger alone reports MUG (product 2) at BER (location 1): 43
-- against the ledger's 38.
-- ---------------------------------------------------------------------------
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.stock_balances SET on_hand = on_hand + 5 WHERE product_id = sku_id('MUG') AND location_id = loc_id('BER');
SELECT invariant, detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;

-- ---------------------------------------------------------------------------
-- reserved_vs_reservations: a balance's reserved is the sum of its active
-- reservations. Plant: one more tent reserved at BER, with its movement
-- (so the ledger agrees, as for balance_bounds) but no reservation behind
-- it: reserved 4, active reservations 3. No order line changes, so
-- reserved_vs_reservations alone reports TENT (product 1) at BER.
-- ---------------------------------------------------------------------------
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.stock_balances SET reserved = reserved + 1 WHERE product_id = sku_id('TENT') AND location_id = loc_id('BER');
INSERT INTO oms.stock_movements (product_id, location_id, kind, reserved_delta, reference)
VALUES (sku_id('TENT'), loc_id('BER'), 'reservation', 1, 'held by hand');
SELECT invariant, detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;

-- ---------------------------------------------------------------------------
-- reference_orphan: reservations, movements and routing decisions have no
-- foreign keys (src/orders.sql says why); the oracle checks what the keys
-- would. Three plants, each alone in its transaction:
--   1. B-1's tent reservation pointed at an order that does not exist
--      (its line stays B-1's)
--   2. a reservation and its release booked at a new location DUS where MUG
--      has no balance row: the ledger sums to zero there, so
--      balance_vs_ledger is silent and reference_orphan alone reports both
--   3. A-1's routing decision pointed at an order that does not exist
-- ---------------------------------------------------------------------------
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.reservations SET order_id = order_id + 1000000 WHERE order_line_id = line_of('B-1', 'TENT');
SELECT invariant, regexp_replace(detail, '\d+', 'N', 'g') AS detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO oms.locations (code, name, kind, latitude, longitude) VALUES ('DUS', 'Dusseldorf store', 'store', 51.22, 6.78);
INSERT INTO oms.stock_movements (product_id, location_id, kind, reserved_delta, reference)
VALUES (sku_id('MUG'), loc_id('DUS'), 'reservation', 1, 'planted'), (sku_id('MUG'), loc_id('DUS'), 'release', -1, 'planted');
SELECT invariant, regexp_replace(detail, '\d+', 'N', 'g') AS detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;
BEGIN;
UPDATE oms.routing_decisions SET order_id = order_id + 1000000 WHERE order_id = oid_of('A-1');
SELECT invariant, regexp_replace(detail, '\d+', 'N', 'g') AS detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;

-- ---------------------------------------------------------------------------
-- line_accounting: reserved + backordered + shipped + cancelled = qty, and
-- returned <= shipped. The CHECKs order_lines_accounting_chk and
-- order_lines_returned_chk guard it too.
-- ---------------------------------------------------------------------------
-- a unit of B-1's tent line backordered on top of its 3 reserved (4 of 3):
-- the CHECK refuses it; without the CHECK, line_accounting alone reports
-- order 2 line 1 (the reservations, the totals and the status do not look
-- at qty_backordered of a line that holds stock)
BEGIN;
SET LOCAL session_replication_role = replica;
SELECT try(format('UPDATE oms.order_lines SET qty_backordered = qty_backordered + 1 WHERE id = %s', line_of('B-1', 'TENT')))
       AS four_of_three;
ALTER TABLE oms.order_lines DROP CONSTRAINT order_lines_accounting_chk;
UPDATE oms.order_lines SET qty_backordered = qty_backordered + 1 WHERE id = line_of('B-1', 'TENT');
SELECT invariant, detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;
-- the other half: 3 mugs returned of A-1's 2 shipped. The CHECK refuses it;
-- without the CHECK, line_accounting reports order 1 line 2, and
-- returned_vs_rmas too, as it must: qty_returned is also compared with the
-- units RMAs received (none for the mugs), and no RMA can receive 3 of 2
-- shipped units without breaching rma_claims
BEGIN;
SET LOCAL session_replication_role = replica;
SELECT try(format('UPDATE oms.order_lines SET qty_returned = 3 WHERE id = %s', line_of('A-1', 'MUG'))) AS three_of_two;
ALTER TABLE oms.order_lines DROP CONSTRAINT order_lines_returned_chk;
UPDATE oms.order_lines SET qty_returned = 3 WHERE id = line_of('A-1', 'MUG');
SELECT invariant, detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;

-- ---------------------------------------------------------------------------
-- line_vs_reservations: a stock line's reserved units are its active
-- reservations. Plant: B-1's tent line says 2 reserved and 1 backordered
-- (the parts still add up to 3), while its reservation still holds 3. The
-- balance agrees with the reservations and the pending shipment with what
-- is reserved at BER, so line_vs_reservations alone reports order 2 line 1.
-- ---------------------------------------------------------------------------
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.order_lines SET qty_reserved = 2, qty_backordered = 1 WHERE id = line_of('B-1', 'TENT');
SELECT invariant, detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;

-- ---------------------------------------------------------------------------
-- payment_amounts: captured + voided <= authorized, refunded <= captured,
-- authorized > 0 (each also a CHECK), and the order's currency (no CHECK).
-- ---------------------------------------------------------------------------
-- B-1's card payment in USD on an order in EUR: nothing else compares the
-- currency, payment_amounts alone reports payment 4
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.payments SET currency = 'USD' WHERE id = pay_of('B-1', 'card');
SELECT invariant, detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;
-- 10.00 captured beyond the 280.00 authorized: the CHECK
-- payments_capture_chk refuses it; without the CHECK, payment_amounts
-- alone reports payment 4 (more captured only widens what the money out
-- branches allow)
BEGIN;
SET LOCAL session_replication_role = replica;
SELECT try(format('UPDATE oms.payments SET captured = authorized + 10 WHERE id = %s', pay_of('B-1', 'card'))) AS over_capture;
ALTER TABLE oms.payments DROP CONSTRAINT payments_capture_chk;
UPDATE oms.payments SET captured = authorized + 10 WHERE id = pay_of('B-1', 'card');
SELECT invariant, detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;

-- ---------------------------------------------------------------------------
-- stored_value_balance: a gift card's or store credit's balance is what was
-- issued less what payments still hold. Plant: Ann's store credit, all 20.00
-- spent on B-1, shows 5.00 again (within the CHECK's 0..issued). No payment
-- changes, so stored_value_balance alone reports store_credit 2.
-- ---------------------------------------------------------------------------
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.gift_cards SET balance = 5 WHERE kind = 'store_credit';
SELECT invariant, detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;

-- ---------------------------------------------------------------------------
-- shipped_vs_shipments: a line's shipped units are the units of its shipped
-- and delivered shipments. Plant: A-1's delivered shipment lists 1 mug of
-- the 2 the line shipped. The RMAs claim no mug, so shipped_vs_shipments
-- alone reports order 1 line 2.
-- ---------------------------------------------------------------------------
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.shipment_lines SET qty = 1 WHERE shipment_id = sh('A-1') AND order_line_id = line_of('A-1', 'MUG');
SELECT invariant, detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;

-- ---------------------------------------------------------------------------
-- pending_shipment_vs_reserved: pending shipments hold no more of a line
-- than it has reserved at their location. Plant: B-1's pending shipment
-- lists 4 tents, the line has 3 reserved at BER. Only shipped and delivered
-- shipments count for shipped_vs_shipments, so pending_shipment_vs_reserved
-- alone reports order 2 line 1 at location 1.
-- ---------------------------------------------------------------------------
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.shipment_lines SET qty = 4 WHERE shipment_id = sh('B-1') AND order_line_id = line_of('B-1', 'TENT');
SELECT invariant, detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;

-- ---------------------------------------------------------------------------
-- rma_claims: the claims of RMAs not rejected (units not missing) never
-- exceed what the line shipped. Plant: A-1's RMA claims 3 tents of the 2
-- shipped (it received 1 and resolved 1, within its 3: no rma_received),
-- so rma_claims alone reports order 1 line 1.
-- ---------------------------------------------------------------------------
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.rma_lines SET qty = 3 WHERE rma_id = rma_of('A-1');
SELECT invariant, detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;

-- ---------------------------------------------------------------------------
-- rma_received: restocked + damaged + missing <= qty, resolved <= restocked
-- + damaged (both also CHECKs), and nothing received on an RMA that is
-- requested or rejected (no CHECK).
-- ---------------------------------------------------------------------------
-- A-1's RMA, which received its tent, back to requested: the claims are the
-- same and the receipts still match qty_returned, so rma_received alone
-- reports RMA 1
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.rmas SET status = 'requested' WHERE id = rma_of('A-1');
SELECT invariant, detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;
-- the same RMA line, its 1 tent received sellable, also reports it missing
-- (2 of 1): the CHECK rma_lines_received_chk refuses it; without the CHECK,
-- rma_received alone reports it (a missing unit is no longer claimed, and
-- returned units count restocked and damaged only)
BEGIN;
SET LOCAL session_replication_role = replica;
SELECT try(format('UPDATE oms.rma_lines SET qty_missing = 1 WHERE rma_id = %s', rma_of('A-1'))) AS two_of_one;
ALTER TABLE oms.rma_lines DROP CONSTRAINT rma_lines_received_chk;
UPDATE oms.rma_lines SET qty_missing = 1 WHERE rma_id = rma_of('A-1');
SELECT invariant, detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;

-- ---------------------------------------------------------------------------
-- returned_vs_rmas: a line's returned units are the units its RMAs
-- received. Plant: A-1's tent line says 2 returned (within its 2 shipped),
-- its RMA received 1, so returned_vs_rmas alone reports order 1 line 1.
-- ---------------------------------------------------------------------------
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.order_lines SET qty_returned = 2 WHERE id = line_of('A-1', 'TENT');
SELECT invariant, detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;

-- ---------------------------------------------------------------------------
-- rma_money: refunds and store credit of an order's RMAs never exceed what
-- its payments captured. Plant: A-1's RMA, refunded 100.00, also records
-- 150.00 of store credit: 250.00 against 220.00 captured. order_money_out
-- counts the store credit actually issued (oms.money_out) and the payments'
-- refunds, neither of which changes, so rma_money alone reports order 1.
-- ---------------------------------------------------------------------------
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.rmas SET store_credit = 150 WHERE id = rma_of('A-1');
SELECT invariant, detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;

-- ---------------------------------------------------------------------------
-- journal_balance: every journal entry balances. The journal is
-- append-only (its guard trigger refuses the UPDATE, 42501) and the
-- deferred trigger journal_lines_balanced refuses an unbalanced entry at
-- commit (both shown in ledger.sql); with session_replication_role =
-- replica neither fires. Plant: one debit line of A-1's shipment entry
-- (entry 5) raised by 1.00, so journal_balance alone reports entry 5.
-- ---------------------------------------------------------------------------
SELECT try($$UPDATE oms.journal_lines SET debit = debit + 1
              WHERE id = (SELECT min(id) FROM oms.journal_lines WHERE entry_id = 5 AND debit > 0)$$) AS append_only;
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.journal_lines SET debit = debit + 1
 WHERE id = (SELECT min(id) FROM oms.journal_lines WHERE entry_id = 5 AND debit > 0);
SELECT invariant, detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;

-- ---------------------------------------------------------------------------
-- purchasing 12: inventory value equals the sum of valued movements, and
-- every valued movement is posted. Fixture: 4 TENTs received against a
-- purchase order at 10.00 (value 40.00, one journal entry). valued_movements
-- is append-only (42501). Plant 1: the valuation row raised by 5.00, so
-- inventory_value alone reports it. Plant 2: a valued movement without its
-- journal entry (and the valuation following it), so
-- inventory_value_posted alone reports it. Plant 3: a purchase order line
-- that says more was received than its receipts.
-- ---------------------------------------------------------------------------
INSERT INTO oms.suppliers (code, name) VALUES ('ACME', 'Acme');
INSERT INTO oms.supplier_products (supplier_id, product_id, unit_cost, currency, preferred)
SELECT s.id, sku_id('TENT'), 10.00, 'EUR', true FROM oms.suppliers s WHERE s.code = 'ACME';
SELECT (oms.create_purchase_order('ACME', (SELECT code FROM oms.locations ORDER BY id LIMIT 1), '[{"sku": "TENT", "qty": 4}]')
        ->> 'purchase_order_id')::bigint AS po \gset
SELECT oms.send_purchase_order(:po) ->> 'status';
SELECT oms.receive_purchase_order(:po, (SELECT code FROM oms.locations ORDER BY id LIMIT 1), '[{"sku": "TENT", "qty": 4}]') ->> 'status';
SELECT qty, value FROM oms.inventory_valuation WHERE product_id = sku_id('TENT');
SELECT * FROM oms.check();
SELECT try($$UPDATE oms.valued_movements SET value = value + 5$$) AS append_only;
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.inventory_valuation SET value = value + 5 WHERE product_id = sku_id('TENT');
SELECT invariant, detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO oms.valued_movements (id, product_id, currency, kind, qty, value) VALUES (1000, sku_id('TENT'), 'EUR', 'receipt', 1, 7.00);
UPDATE oms.inventory_valuation SET qty = qty + 1, value = value + 7 WHERE product_id = sku_id('TENT');
SELECT invariant, detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.purchase_order_lines SET qty_received = qty_received + 1 WHERE purchase_order_id = :po;
SELECT invariant, detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;

-- ---------------------------------------------------------------------------
-- handover_location (stores): goods handed over without a carrier left from
-- the order's pickup store. Plant: A-1's shipped parcel marked as a pickup
-- handover (no carrier, as the CHECK wants), though A-1 is not collected
-- anywhere, so handover_location alone reports it.
-- ---------------------------------------------------------------------------
BEGIN;
UPDATE oms.shipments SET handover = 'pickup', carrier_id = NULL, service_id = NULL, tracking_number = NULL, rate = NULL
 WHERE id = sh('A-1');
SELECT invariant, regexp_replace(detail, '\d+', 'N', 'g') AS detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;

-- ---------------------------------------------------------------------------
-- erased_customer_data (customers): an erased customer keeps no personal
-- data. Plant: Ann marked erased without oms.erase_customer: her contact
-- data and her orders' ship-to are still there.
-- ---------------------------------------------------------------------------
BEGIN;
UPDATE oms.customers SET erased_at = '2026-12-05 12:00+00' WHERE external_ref = 'ann';
SELECT invariant, regexp_replace(detail, 'customer \d+ \(erased [^)]*\)', 'customer N (erased ...)') AS detail
  FROM oms.check() ORDER BY 1, 2;
ROLLBACK;

-- ---------------------------------------------------------------------------
-- order_total_owed, shipping_recognized, shipping_without_units (charges):
-- the total includes the shipping charge; once a unit shipped the journal
-- has recognised the whole charge; an open order charges shipping only
-- while a unit is owed. Plant: A-1 given a shipping charge behind the
-- API's back (its total and the journal do not know it); then C-1, with
-- shipping, cancelled and set back to confirmed by hand: it owes no unit
-- and still charges shipping (its history and amounts disagree too).
-- ---------------------------------------------------------------------------
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE oms.orders SET shipping = 5 WHERE external_id = 'A-1';
SELECT invariant, regexp_replace(detail, '\d+', 'N', 'g') AS detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;
BEGIN;
SELECT oms.place_order(jsonb_build_object('channel', 'web', 'external_id', 'C-1', 'currency', 'EUR',
       'shipping', jsonb_build_object('amount', 2),
       'lines', jsonb_build_array(jsonb_build_object('sku', 'MUG', 'qty', 1, 'unit_price', 10)))) ->> 'status' AS c1;
SELECT oms.cancel_order(oid_of('C-1'), 'oracle') ->> 'status' AS c1;
SET LOCAL session_replication_role = replica;
UPDATE oms.orders SET status = 'confirmed' WHERE external_id = 'C-1';
SELECT invariant, regexp_replace(detail, '\d+', 'N', 'g') AS detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;

-- ---------------------------------------------------------------------------
-- invoice_vs_order, invoices_receivable_posted (invoices): an invoice asks
-- for its order's total, and the journal's invoices_receivable for what
-- the open invoices ask. Plant: an invoice written by hand for A-1 (not a
-- terms order), for more than its total and never posted.
-- ---------------------------------------------------------------------------
BEGIN;
INSERT INTO oms.invoices (number, order_id, customer_id, currency, issued_on, due_on, amount)
SELECT 'INV-ORACLE', o.id, o.customer_id, o.currency, current_date, current_date + 30, o.total + 1
  FROM oms.orders o WHERE o.external_id = 'A-1';
SELECT invariant, regexp_replace(detail, '\d+', 'N', 'g') AS detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;

-- ---------------------------------------------------------------------------
-- promotion_code_uses (pricing, invariant 11): a code's uses are the live
-- orders holding a use of it, never above the limit; the same per
-- customer. Fixture: Ann's order P-1 took a use of WELCOME (usage_limit 5,
-- one per customer). Plant 1: uses raised by one with no order behind it.
-- Plant 2: P-1's use marked given back while P-1 is live (the code and the
-- customer's count then both say one use more than the live orders).
-- Plant 3: Ann's per-customer count set to 0.
-- ---------------------------------------------------------------------------
INSERT INTO oms.promotions (code, name, kind, value) VALUES ('welcome', 'Welcome', 'percent_off', 10);
INSERT INTO oms.promotion_codes (promotion_id, code, usage_limit, per_customer_limit)
SELECT id, 'WELCOME', 5, 1 FROM oms.promotions WHERE code = 'welcome';
SELECT oms.place_order(jsonb_build_object('channel', 'web', 'external_id', 'P-1', 'currency', 'EUR', 'codes', jsonb_build_array('WELCOME'),
       'customer', jsonb_build_object('external_ref', 'ann'),
       'lines', jsonb_build_array(jsonb_build_object('sku', 'TENT', 'qty', 1, 'unit_price', 100)))) ->> 'total' AS total;
SELECT * FROM oms.check();
BEGIN;
UPDATE oms.promotion_codes SET uses = uses + 1 WHERE code = 'WELCOME';
SELECT invariant, regexp_replace(detail, 'customer \d+', 'customer N') AS detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;
BEGIN;
UPDATE oms.order_codes SET released_at = now() WHERE code = 'WELCOME';
SELECT invariant, regexp_replace(detail, 'customer \d+', 'customer N') AS detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;
BEGIN;
UPDATE oms.promotion_code_customers SET uses = 0;
SELECT invariant, regexp_replace(detail, 'customer \d+', 'customer N') AS detail FROM oms.check() ORDER BY 1, 2;
ROLLBACK;

-- everything rolled back: consistent again
SELECT * FROM oms.check();

DROP FUNCTION place(text, jsonb), oid_of(text), line_of(text, text), pay(text, text, numeric, text), pay_of(text, text),
              sku_id(text), loc_id(text), sh(text, int), rma_of(text, int), try(text);

