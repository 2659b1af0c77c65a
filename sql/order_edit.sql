--
-- order_edit: oms.edit_order and oms.cancel_lines (issue 16). Every kind of
-- edit with its stock, lines, money and status; every refusal with its
-- SQLSTATE and message, changing nothing; versions, history, events and
-- replays. Substitutes have their own file (substitutes).
--
SET client_min_messages = warning;
\set VERBOSITY default
\set SHOW_CONTEXT never
DROP EXTENSION oms CASCADE;
CREATE EXTENSION oms;
-- the helpers live in a schema of their own, dropped at the end
CREATE SCHEMA edit_t;
GRANT USAGE ON SCHEMA edit_t TO oms_app, oms_admin;
SET search_path = edit_t, oms;

INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web');
-- BER is close to Berlin ship-tos, MUC to Munich ones (routing: closest)
INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority) VALUES
    ('BER', 'Berlin', 'warehouse', 52.52, 13.40, 10),
    ('MUC', 'Munich', 'warehouse', 48.14, 11.58, 10);
INSERT INTO oms.products (sku, name, kind) VALUES
    ('A', 'Product A', 'stock'), ('B', 'Product B', 'stock'), ('C', 'Product C', 'stock'),
    ('KIT', 'A and two B', 'kit'), ('WRAP', 'Gift wrap', 'service'), ('GONE', 'Discontinued', 'stock');
UPDATE oms.products SET active = false WHERE sku = 'GONE';
INSERT INTO oms.kit_components SELECT k.id, c.id, v.q FROM (VALUES ('A', 1), ('B', 2)) v(sku, q)
  JOIN oms.products c ON c.sku = v.sku, oms.products k WHERE k.sku = 'KIT';
INSERT INTO oms.customers (external_ref, email, name) VALUES ('ann', 'ann@example.com', 'Ann');
SELECT count(oms.receive_stock(sku, loc, qty)) AS receipts FROM (VALUES
    ('A', 'BER', 20), ('B', 'BER', 20), ('C', 'BER', 2),
    ('A', 'MUC', 20), ('B', 'MUC', 20), ('C', 'MUC', 5)) AS v(sku, loc, qty);
INSERT INTO oms.carriers (code, name, tracking_url) VALUES ('dhl', 'DHL', 'https://dhl.example/{{tracking_number}}');
INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days)
SELECT id, 'standard', 'Paket', 2 FROM oms.carriers;
INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price)
SELECT id, 'EUR', NULL, NULL, 5 FROM oms.carrier_services;

CREATE FUNCTION place(ext text, lines jsonb, extra jsonb DEFAULT '{}') RETURNS bigint LANGUAGE sql AS
$$ SELECT (oms.place_order(jsonb_build_object('channel', 'web', 'external_id', ext, 'currency', 'EUR',
       'customer', jsonb_build_object('external_ref', 'ann'),
       'ship_to', jsonb_build_object('city', 'Berlin', 'lat', 52.50, 'lon', 13.40), 'lines', lines) || extra) ->> 'order_id')::bigint $$;
CREATE FUNCTION oid_of(ext text) RETURNS bigint LANGUAGE sql AS
$$ SELECT id FROM oms.orders WHERE external_id = ext $$;
CREATE FUNCTION card(amount numeric) RETURNS jsonb LANGUAGE sql AS
$$ SELECT jsonb_build_object('method', 'card', 'amount', amount, 'token', 'tok_visa') $$;
CREATE FUNCTION try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
    det text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    RETURN st || ': ' || msg || ' | ' || det;
END
$$;
-- an order in one line: status, totals, payments (authorized/captured/refunded)
CREATE FUNCTION state(ext text) RETURNS text LANGUAGE sql AS
$$ SELECT format('%s held_from=%s subtotal=%s discount=%s tax=%s total=%s paid=%s/%s/%s', o.status, COALESCE(o.held_from, '-'),
                 o.subtotal, o.discount, o.tax, o.total,
                 (SELECT COALESCE(sum(authorized - voided), 0) FROM oms.payments WHERE order_id = o.id),
                 (SELECT COALESCE(sum(captured), 0) FROM oms.payments WHERE order_id = o.id),
                 (SELECT COALESCE(sum(refunded), 0) FROM oms.payments WHERE order_id = o.id))
     FROM oms.orders o WHERE o.external_id = ext $$;
-- its lines: units and where they are held
CREATE FUNCTION lines(ext text) RETURNS TABLE (line_no int, sku text, qty int, res int, bo int, shp int, can int,
                                               price numeric, disc numeric, tax numeric, held text) LANGUAGE sql AS
$$ SELECT l.line_no, p.sku, l.qty, l.qty_reserved, l.qty_backordered, l.qty_shipped, l.qty_cancelled,
          l.unit_price, l.discount, l.tax,
          (SELECT string_agg(format('%s:%s=%s', loc.code, rp.sku, r.qty), ' ' ORDER BY loc.code, rp.sku)
             FROM oms.reservations r JOIN oms.locations loc ON loc.id = r.location_id
             JOIN oms.products rp ON rp.id = r.product_id
            WHERE r.order_line_id = l.id AND r.status = 'active')
     FROM oms.order_lines l JOIN oms.products p ON p.id = l.product_id
     JOIN oms.orders o ON o.id = l.order_id WHERE o.external_id = ext ORDER BY l.line_no $$;
-- what an edit writes, to show that a refusal writes nothing
CREATE VIEW counts AS
SELECT (SELECT count(*) FROM oms.order_lines) AS lines, (SELECT count(*) FROM oms.reservations) AS reservations,
       (SELECT count(*) FROM oms.stock_movements) AS movements, (SELECT sum(reserved) FROM oms.stock_balances) AS reserved,
       (SELECT count(*) FROM oms.order_versions) AS versions, (SELECT count(*) FROM oms.events) AS events,
       (SELECT count(*) FROM oms.order_status_history) AS history, (SELECT sum(total) FROM oms.orders) AS totals;
CREATE FUNCTION edit(ext text, changes jsonb, extra jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS
$$ SELECT oms.edit_order(oid_of(ext), jsonb_build_object('changes', changes) || extra) -> 'edit' $$;

-- ---------------------------------------------------------------------------
-- 1. quantity up and down, a line added and removed
-- ---------------------------------------------------------------------------
SELECT place('E-1', '[{"sku": "A", "qty": 2, "unit_price": 10, "discount": 2, "tax": 3.8},
                      {"sku": "B", "qty": 1, "unit_price": 5}]') IS NOT NULL AS placed;
SELECT state('E-1');
SELECT * FROM lines('E-1');
-- qty up: the added units are routed and reserved (closest: BER); totals follow
SELECT jsonb_pretty(edit('E-1', '[{"op": "set_qty", "line_no": 1, "qty": 5}]', '{"reason": "customer called"}')
                    - 'refunds' - 'backorders_filled');
SELECT state('E-1');
SELECT * FROM lines('E-1');
-- qty down: reserved units are released (movements) and the rest held again
SELECT edit('E-1', '[{"op": "set_qty", "sku": "A", "qty": 3}]') -> 'total' AS total;
SELECT * FROM lines('E-1');
SELECT kind, reserved_delta, reference FROM oms.stock_movements
 WHERE order_id = oid_of('E-1') ORDER BY id DESC LIMIT 3;
-- a line added, a line removed (its units cancelled: the line stays, qty_cancelled = qty)
SELECT edit('E-1', '[{"op": "add_line", "sku": "C", "qty": 1, "unit_price": 7.5, "tax": 1.5},
                     {"op": "remove_line", "line_no": 2}]') -> 'lines' AS lines;
SELECT state('E-1');
SELECT * FROM lines('E-1');
-- a service line added: nothing to reserve, owed all the same
SELECT edit('E-1', '[{"op": "add_line", "sku": "WRAP", "qty": 1, "unit_price": 3}]') -> 'total' AS total;
SELECT * FROM lines('E-1');
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- 2. prices: per line unit_price, discount, tax
-- ---------------------------------------------------------------------------
SELECT edit('E-1', '[{"op": "set_price", "line_no": 1, "unit_price": 9, "discount": 0}]') -> 'lines' AS lines;
SELECT state('E-1');
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- 3. ship_to: re-routed when nothing has shipped (Berlin -> Munich)
-- ---------------------------------------------------------------------------
SELECT place('E-2', '[{"sku": "A", "qty": 2, "unit_price": 10}, {"sku": "KIT", "qty": 1, "unit_price": 30}]') IS NOT NULL AS placed;
SELECT * FROM lines('E-2');
SELECT edit('E-2', '[{"op": "set_ship_to", "ship_to": {"city": "Munich", "lat": 48.13, "lon": 11.57}}]') -> 'ship_to' AS ship_to;
SELECT * FROM lines('E-2');
SELECT ship_to, ship_lat, ship_lon FROM oms.orders WHERE external_id = 'E-2';
SELECT trigger, locations FROM oms.routing_decisions WHERE order_id = oid_of('E-2') ORDER BY id;
-- a kit line's quantity down: its component reservations are released and whole kits held again
SELECT edit('E-2', '[{"op": "set_qty", "sku": "KIT", "qty": 2}]') -> 'total' AS up,
       edit('E-2', '[{"op": "set_qty", "sku": "KIT", "qty": 1}]') -> 'total' AS down;
SELECT * FROM lines('E-2');
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- 4. the order's policy for added units that are short
-- ---------------------------------------------------------------------------
-- C: 2 at BER, 5 at MUC. all_or_nothing (E-1): more C than there is is refused, OM001
SELECT * FROM counts \gset before_
SELECT try($$SELECT oms.edit_order(oid_of('E-1'), '{"changes": [{"op": "set_qty", "sku": "C", "qty": 50}]}')$$);
SELECT (SELECT row(c.*)::text FROM counts c) = row(:'before_lines', :'before_reservations', :'before_movements', :'before_reserved',
       :'before_versions', :'before_events', :'before_history', :'before_totals')::text AS nothing_changed;
-- backorder: the units short wait, the order is backordered, and back again when they are gone
SELECT place('E-3', '[{"sku": "A", "qty": 1, "unit_price": 10}]', '{"policy": "backorder"}') IS NOT NULL AS placed;
SELECT edit('E-3', '[{"op": "add_line", "sku": "C", "qty": 10, "unit_price": 1}]') -> 'backordered_units' AS backordered;
SELECT state('E-3');
SELECT * FROM lines('E-3');
SELECT edit('E-3', '[{"op": "set_qty", "sku": "C", "qty": 3}]') -> 'status' AS status;
SELECT * FROM lines('E-3');
-- partial: the units short are cancelled
SELECT place('E-4', '[{"sku": "A", "qty": 1, "unit_price": 10}]', '{"policy": "partial"}') IS NOT NULL AS placed;
SELECT edit('E-4', '[{"op": "add_line", "sku": "C", "qty": 10, "unit_price": 1}]') -> 'total' AS total;
SELECT * FROM lines('E-4');
SELECT state('E-4');
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- 5. money: coverage, going back to awaiting payment, refunds
-- ---------------------------------------------------------------------------
SELECT place('M-1', '[{"sku": "A", "qty": 2, "unit_price": 10}]') IS NOT NULL AS placed;
SELECT oms.authorize_payment(oid_of('M-1'), card(20)) ->> 'order_status' AS paid;
-- more than the payments hold: a confirmed order goes back to awaiting payment
SELECT edit('M-1', '[{"op": "set_qty", "line_no": 1, "qty": 3}]') -> 'status' AS status;
SELECT state('M-1'), (SELECT expires_at IS NOT NULL FROM oms.orders WHERE external_id = 'M-1') AS expires_again;
SELECT oms.authorize_payment(oid_of('M-1'), card(10)) ->> 'order_status' AS paid_again;
SELECT p.id AS pay1 FROM oms.payments p WHERE p.order_id = oid_of('M-1') ORDER BY id LIMIT 1 \gset
SELECT (oms.capture_payment(:pay1) ->> 'captured')::numeric AS captured;
SELECT p.id AS pay2 FROM oms.payments p WHERE p.order_id = oid_of('M-1') ORDER BY id DESC LIMIT 1 \gset
SELECT (oms.capture_payment(:pay2) ->> 'captured')::numeric AS captured;
-- less than was captured: the difference is refunded through the one refund path
SELECT edit('M-1', '[{"op": "set_qty", "line_no": 1, "qty": 1}]') -> 'refunds' AS refunds;
SELECT state('M-1');
SELECT kind, payload ->> 'amount' AS amount FROM oms.events WHERE order_id = oid_of('M-1') AND kind = 'payment_refunded';
-- an unpaid order its payments now cover is confirmed
SELECT place('M-2', '[{"sku": "A", "qty": 3, "unit_price": 10}]') IS NOT NULL AS placed;
SELECT oms.authorize_payment(oid_of('M-2'), card(20)) ->> 'order_status' AS partly_paid;
SELECT edit('M-2', '[{"op": "set_qty", "line_no": 1, "qty": 2}]') -> 'status' AS status;
SELECT state('M-2');
-- in fulfillment, an uncovered increase is refused: authorize first
SELECT oms.set_order_status(oid_of('M-2'), 'in_fulfillment') ->> 'status' AS status;
SELECT try($$SELECT edit('M-2', '[{"op": "set_qty", "line_no": 1, "qty": 5}]')$$);
SELECT state('M-2');
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- 6. cancel_lines and the rest of a partially shipped order
-- ---------------------------------------------------------------------------
SELECT place('S-1', '[{"sku": "A", "qty": 3, "unit_price": 10}, {"sku": "B", "qty": 2, "unit_price": 5},
                      {"sku": "WRAP", "qty": 1, "unit_price": 2}]') IS NOT NULL AS placed;
SELECT oms.authorize_payment(oid_of('S-1'), card(42)) ->> 'order_status' AS paid;
SELECT (oms.create_shipment(oid_of('S-1'), 'BER', '[{"line_no": 1, "qty": 2}]') ->> 'shipment_id')::bigint AS sh1 \gset
SELECT oms.ship(:sh1, 'dhl', 'standard', 'T-1') ->> 'status' AS shipment;
SELECT state('S-1');
SELECT (SELECT id FROM oms.payments WHERE order_id = oid_of('S-1')) AS spay \gset
SELECT (oms.capture_payment(:spay) ->> 'captured')::numeric AS captured;
-- below what shipped, removing a shipped line, repricing it: refused
SELECT try($$SELECT edit('S-1', '[{"op": "set_qty", "line_no": 1, "qty": 0}]')$$);
SELECT try($$SELECT edit('S-1', '[{"op": "set_qty", "line_no": 1, "qty": 1}]')$$);
SELECT try($$SELECT edit('S-1', '[{"op": "remove_line", "line_no": 1}]')$$);
SELECT try($$SELECT edit('S-1', '[{"op": "set_price", "line_no": 1, "unit_price": 1}]')$$);
SELECT try($$SELECT oms.cancel_lines(oid_of('S-1'), '{"lines": [{"line_no": 1, "qty": 3}]}')$$);
-- one unit of line 1: released, refunded
SELECT jsonb_pretty((oms.cancel_lines(oid_of('S-1'), '{"lines": [{"line_no": 1, "qty": 1}], "reason": "out of patience"}') -> 'edit')
                    - 'backorders_filled');
SELECT * FROM lines('S-1');
-- the rest: nothing else is owed, so the order has shipped; the service goes with it
SELECT oms.cancel_lines(oid_of('S-1'), '{"rest": true, "edit_id": "rest-1"}') -> 'edit' -> 'status' AS status;
SELECT state('S-1');
SELECT * FROM lines('S-1');
-- a retry is a replay; the same edit_id with another request is refused
SELECT oms.cancel_lines(oid_of('S-1'), '{"rest": true, "edit_id": "rest-1"}') ->> 'replayed' AS replayed;
SELECT try($$SELECT oms.cancel_lines(oid_of('S-1'), '{"rest": true, "edit_id": "rest-1", "reason": "x"}')$$);
-- shipped completely now: nothing left to edit
SELECT try($$SELECT oms.cancel_lines(oid_of('S-1'), '{"rest": true}')$$);
SELECT oms.deliver(:sh1) ->> 'status' AS delivered;
SELECT state('S-1');
SELECT * FROM oms.check();

-- ---------------------------------------------------------------------------
-- 7. versions, history, the order_edited event, replays
-- ---------------------------------------------------------------------------
SELECT version, kind, edit_id, reason, document -> 'total' AS total, changes -> 'total' AS change
  FROM oms.order_versions WHERE order_id = oid_of('E-1') ORDER BY version;
SELECT from_status, to_status, reason FROM oms.order_history(oid_of('E-1'));
SELECT payload -> 'version' AS version, payload -> 'lines' -> 0 -> 'before' ->> 'qty' AS before_qty,
       payload -> 'lines' -> 0 -> 'after' ->> 'qty' AS after_qty
  FROM oms.events WHERE order_id = oid_of('E-1') AND kind = 'order_edited' ORDER BY id LIMIT 2;
SELECT subject FROM oms.render_notification((SELECT max(id) FROM oms.events WHERE kind = 'order_edited'));
SELECT edit('E-3', '[{"op": "set_qty", "line_no": 1, "qty": 2}]', '{"edit_id": "e3-a"}') -> 'version' AS version;
SELECT * FROM counts \gset before_
SELECT oms.edit_order(oid_of('E-3'), '{"edit_id": "e3-a", "changes": [{"op": "set_qty", "line_no": 1, "qty": 2}]}') ->> 'replayed' AS replayed;
SELECT (SELECT row(c.*)::text FROM counts c) = row(:'before_lines', :'before_reservations', :'before_movements', :'before_reserved',
       :'before_versions', :'before_events', :'before_history', :'before_totals')::text AS nothing_changed;
SELECT try($$SELECT oms.edit_order(oid_of('E-3'), '{"edit_id": "e3-a", "changes": [{"op": "set_qty", "line_no": 1, "qty": 3}]}')$$);
SELECT try($$SELECT oms.cancel_lines(oid_of('E-3'), '{"edit_id": "e3-a", "lines": [{"line_no": 1}]}')$$);

-- ---------------------------------------------------------------------------
-- 8. refusals: each one changes nothing
-- ---------------------------------------------------------------------------
SELECT place('R-1', '[{"sku": "A", "qty": 2, "unit_price": 10}, {"sku": "B", "qty": 1, "unit_price": 5}]') IS NOT NULL AS placed;
SELECT place('R-2', '[{"sku": "A", "qty": 1, "unit_price": 10}]') IS NOT NULL AS placed;
SELECT oms.cancel_order(oid_of('R-2')) ->> 'status' AS cancelled;
SELECT place('R-3', '[{"sku": "A", "qty": 1, "unit_price": 10}]') IS NOT NULL AS placed;
SELECT oms.hold_order(oid_of('R-3'), 'address check') ->> 'status' AS held;
SELECT * FROM counts \gset before_
SELECT try(stmt) FROM (VALUES
    ($$SELECT oms.edit_order(NULL, '{"changes": []}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), NULL)$$),
    ($$SELECT oms.edit_order(999999, '{"changes": [{"op": "set_qty", "line_no": 1, "qty": 1}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '[]')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '"x"')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": []}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": {}}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [1]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"chnages": []}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "explode"}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "set_qty", "line_no": 9, "qty": 1}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "set_qty", "sku": "C", "qty": 1}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "set_qty", "qty": 1}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "set_qty", "line_no": 1}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "set_qty", "line_no": 1, "qty": 0}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "set_qty", "line_no": 1, "qty": -1}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "set_qty", "line_no": 1, "qty": 1.5}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "set_qty", "line_no": 1, "qty": 1e30}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "set_qty", "line_no": 1, "qty": "2"}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "set_qty", "line_no": 1, "qty": 2, "colour": "red"}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "add_line", "sku": "NOPE", "qty": 1, "unit_price": 1}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "add_line", "sku": "GONE", "qty": 1, "unit_price": 1}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "add_line", "sku": "B", "qty": 1}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "add_line", "sku": "B", "qty": 1, "unit_price": -1}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "add_line", "sku": "B", "qty": 1, "unit_price": 1e13}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "add_line", "sku": "B", "qty": 1000000, "unit_price": 999999999}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "set_price", "line_no": 1, "discount": 21}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "set_price", "line_no": 1}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "remove_line", "line_no": 1}, {"op": "remove_line", "line_no": 2}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "remove_line", "line_no": 1}, {"op": "set_qty", "line_no": 1, "qty": 1}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "set_ship_to"}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "set_ship_to", "ship_to": "Berlin"}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "set_ship_to", "ship_to": {"lat": 95, "lon": 0}}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "set_ship_to", "ship_to": {"lat": 50}}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "set_ship_to", "ship_to": {"lat": 1e400, "lon": "x"}}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "set_ship_to", "ship_to": {"pickup": "BER"}}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "set_ship_to", "ship_to": {"note": "card 4111 1111 1111 1111"}}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"reason": "card 4111111111111111", "changes": [{"op": "set_qty", "line_no": 1, "qty": 1}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), jsonb_build_object('reason', repeat('x', 1001), 'changes', '[{"op": "set_qty", "line_no": 1, "qty": 1}]'::jsonb))$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), jsonb_build_object('edit_id', repeat('x', 201), 'changes', '[{"op": "set_qty", "line_no": 1, "qty": 1}]'::jsonb))$$),
    ($$SELECT oms.edit_order(oid_of('R-1'), '{"changes": [{"op": "substitute", "line_no": 1, "substitute": "B"}]}')$$),
    ($$SELECT oms.edit_order(oid_of('R-2'), '{"changes": [{"op": "set_qty", "line_no": 1, "qty": 2}]}')$$),
    ($$SELECT oms.cancel_lines(oid_of('R-1'), '{}')$$),
    ($$SELECT oms.cancel_lines(oid_of('R-1'), '{"lines": []}')$$),
    ($$SELECT oms.cancel_lines(oid_of('R-1'), '{"rest": "yes"}')$$),
    ($$SELECT oms.cancel_lines(oid_of('R-1'), '{"rest": true, "lines": [{"line_no": 1}]}')$$),
    ($$SELECT oms.cancel_lines(oid_of('R-1'), '{"rest": true}')$$),
    ($$SELECT oms.cancel_lines(oid_of('R-1'), '{"lines": [{"line_no": 1}, {"line_no": 2}]}')$$),
    ($$SELECT oms.cancel_lines(oid_of('R-1'), '{"lines": [{"line_no": 1, "qty": 3}]}')$$),
    ($$SELECT oms.cancel_lines(oid_of('R-1'), '{"lines": [{"line_no": 1, "qty": 0}]}')$$)
) AS v(stmt);
SELECT (SELECT row(c.*)::text FROM counts c) = row(:'before_lines', :'before_reservations', :'before_movements', :'before_reserved',
       :'before_versions', :'before_events', :'before_history', :'before_totals')::text AS nothing_changed;
-- oms_admin edits a held order; oms_app may not
GRANT SELECT ON oms.orders TO oms_app;
SET ROLE oms_app;
SELECT try($$SELECT oms.edit_order(oid_of('R-3'), '{"changes": [{"op": "set_qty", "line_no": 1, "qty": 2}]}')$$);
RESET ROLE;
SET ROLE oms_admin;
SELECT oms.edit_order(oid_of('R-3'), '{"changes": [{"op": "set_qty", "line_no": 1, "qty": 2}]}') -> 'edit' -> 'status' AS status;
RESET ROLE;
SELECT state('R-3');
-- a line in a pending shipment gives back no reserved unit until it ships or is cancelled
SELECT oms.authorize_payment(oid_of('R-1'), card(25)) ->> 'order_status' AS paid;
SELECT (oms.create_shipment(oid_of('R-1'), 'BER') ->> 'shipment_id')::bigint AS rsh \gset
SELECT try($$SELECT edit('R-1', '[{"op": "set_qty", "line_no": 1, "qty": 1}]')$$);
SELECT try($$SELECT edit('R-1', '[{"op": "set_ship_to", "ship_to": {"city": "Munich", "lat": 48.13, "lon": 11.57}}]')$$);
-- more units than are paid for: refused while in fulfillment (authorize_payment never goes beyond the total)
SELECT try($$SELECT edit('R-1', '[{"op": "set_qty", "line_no": 1, "qty": 3}]')$$);
SELECT oms.cancel_shipment(:rsh) ->> 'status' AS shipment;
SELECT state('R-1');
-- confirmed again: more units send it back to awaiting payment, and a payment confirms it
SELECT edit('R-1', '[{"op": "set_qty", "line_no": 1, "qty": 3}]') -> 'status' AS status;
SELECT oms.authorize_payment(oid_of('R-1'), card(10)) ->> 'order_status' AS paid;
-- fewer units: the authorization the order no longer needs is voided (whole; the rest still covers it)
SELECT e -> 'total' AS total, e -> 'voids' AS voids FROM edit('R-1', '[{"op": "set_qty", "line_no": 1, "qty": 1}]') AS e;
SELECT state('R-1');
SELECT * FROM lines('R-1');
SELECT * FROM oms.check();

-- the replacement order of an exchange: its lines are the return's money, only its ship-to changes
SELECT place('X-1', '[{"sku": "A", "qty": 1, "unit_price": 10}]') AS x1 \gset
SELECT (oms.authorize_payment(:x1, card(10)) ->> 'payment_id')::bigint AS xpay \gset
SELECT oms.capture_payment(:xpay) ->> 'captured' AS captured;
SELECT (oms.create_shipment(:x1, 'BER') ->> 'shipment_id')::bigint AS xsh \gset
SELECT oms.ship(:xsh, 'dhl', 'standard', 'T-X1') ->> 'status' AS shipped, oms.deliver(:xsh) ->> 'status' AS delivered;
SELECT (oms.create_rma(:x1, '{"lines": [{"sku": "A", "qty": 1, "reason": "wrong_item"}], "resolution": "exchange",
                              "exchange": {"lines": [{"sku": "B", "qty": 1, "unit_price": 10}]}}') ->> 'rma_id')::bigint AS xr \gset
SELECT oms.receive_rma(:xr, 'BER', '[{"sku": "A", "qty": 1, "condition": "sellable"}]') ->> 'status' AS received;
SELECT (oms.refund_rma(:xr) ->> 'exchange_order_id')::bigint AS xo \gset
SELECT try(format($$SELECT oms.edit_order(%s, '{"changes": [{"op": "set_qty", "line_no": 1, "qty": 2}]}')$$, :xo));
SELECT try(format($$SELECT oms.cancel_lines(%s, '{"rest": true}')$$, :xo));
SELECT oms.edit_order(:xo, '{"changes": [{"op": "set_ship_to", "ship_to": {"city": "Berlin", "lat": 52.51, "lon": 13.41}}]}')
       -> 'edit' -> 'ship_to' ->> 'rerouted' AS rerouted;
SELECT * FROM oms.check();

RESET ROLE;
DROP SCHEMA edit_t CASCADE;
