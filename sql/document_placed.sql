--
-- document_placed: place_order answers with the order document built in
-- memory from what the call wrote (src/order_document.c,
-- OrdersDocumentPlaced), not read back. It must be exactly the document
-- oms.get_order reads from the tables, for every shape of order:
--   1. stock lines, repeated skus, a service line, a guest and a customer
--   2. a kit whose components come from two locations, and locations
--      listed by code then sku in the collation (codes chosen so that byte
--      order and insertion order differ)
--   3. policy partial with cancelled units (totals follow the units owed)
--   4. pickup, no hold (expires_at null), notes and flags
--   5. the read-back cases: backordered, terms customer (confirmed), hold
--   6. a replay answers with the read-back document and "replayed": true
--   7. the money the answer shows: a shipping charge, tax computed from
--      oms.tax_rates on gross prices (the net unit price and the tax as
--      stored, 4 decimals), partial with cancelled units and shipping
--
SET client_min_messages = warning;
SET search_path = public, oms;
\set VERBOSITY default
\set SHOW_CONTEXT never
DROP EXTENSION oms CASCADE;
CREATE EXTENSION oms;

INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web');
INSERT INTO oms.locations (code, name, kind, latitude, longitude, pickup, priority) VALUES
    ('b-north', 'North', 'store', 52.52, 13.40, true, 10),
    ('A-south', 'South', 'warehouse', 48.14, 11.58, false, 20),
    ('Zeta', 'Zeta', 'warehouse', 50.11, 8.68, false, 30);
INSERT INTO oms.products (sku, name, kind) VALUES
    ('KIT', 'Kit', 'kit'), ('mug', 'Mug', 'stock'), ('Spoon', 'Spoon', 'stock'), ('LID', 'Lid', 'stock'),
    ('WRAP', 'Gift wrap', 'service'), ('RARE', 'Rare', 'stock');
-- KIT = 2 mug + 1 Spoon
INSERT INTO oms.kit_components
SELECT k.id, c.id, v.qty FROM (VALUES ('KIT', 'mug', 2), ('KIT', 'Spoon', 1)) v(kit, comp, qty)
  JOIN oms.products k ON k.sku = v.kit JOIN oms.products c ON c.sku = v.comp;
SELECT count(oms.receive_stock(s, l, q)) FROM (VALUES ('mug', 'b-north', 4), ('Spoon', 'b-north', 2),
    ('mug', 'A-south', 6), ('Spoon', 'A-south', 3), ('mug', 'Zeta', 50), ('LID', 'Zeta', 50),
    ('Spoon', 'Zeta', 1), ('RARE', 'A-south', 1)) v(s, l, q);
INSERT INTO oms.customers (external_ref, email, flags) VALUES ('acme', 'buyer@acme.example', '{terms}');
INSERT INTO oms.hold_rules (flag, reason) VALUES ('fraud_check', 'manual fraud review');

-- place(doc): the answer, and whether it equals get_order plus "replayed"
CREATE FUNCTION place(doc jsonb) RETURNS TABLE (same boolean, status text, answer jsonb) LANGUAGE sql AS
$$ SELECT d = oms.get_order((d ->> 'order_id')::bigint) || jsonb_build_object('replayed', d -> 'replayed'),
          d ->> 'status', d - 'placed_at' - 'expires_at' - 'order_id'
     FROM oms.place_order(doc) d $$;

-- 1. stock lines, a repeated sku, a service line; a guest
SELECT * FROM place('{"channel": "web", "external_id": "d-1", "currency": "EUR",
    "lines": [{"sku": "mug", "qty": 2, "unit_price": 9.90, "discount": 1, "tax": 3.5},
              {"sku": "LID", "qty": 1, "unit_price": 4},
              {"sku": "mug", "qty": 1, "unit_price": 9.90},
              {"sku": "WRAP", "qty": 1, "unit_price": 2.5}]}');
-- a customer (no terms flag), with ship_to coordinates
SELECT * FROM place('{"channel": "web", "external_id": "d-2", "currency": "EUR",
    "customer": {"email": "ann@example.com", "name": "Ann"},
    "ship_to": {"name": "Ann", "line1": "Am Kanal 5", "city": "Potsdam", "country": "DE", "lat": 52.39, "lon": 13.06},
    "lines": [{"sku": "Spoon", "qty": 1, "unit_price": 3}]}');
-- 2. a kit split over locations: 4 kits need 8 mug + 4 Spoon, whole kits
--    from two locations; the mug line takes the rest from two more
SELECT * FROM place('{"channel": "web", "external_id": "d-3", "currency": "EUR", "split": "allow",
    "lines": [{"sku": "KIT", "qty": 4, "unit_price": 30}, {"sku": "mug", "qty": 45, "unit_price": 9.90}]}');
-- 3. partial: RARE has 1 of 3; totals count the units owed
SELECT * FROM place('{"channel": "web", "external_id": "d-4", "currency": "EUR", "policy": "partial",
    "lines": [{"sku": "RARE", "qty": 3, "unit_price": 100, "discount": 30, "tax": 19},
              {"sku": "LID", "qty": 2, "unit_price": 4}]}');
-- 4. pickup at b-north, no hold (expires_at null), notes and flags
SELECT oms.receive_stock('mug', 'b-north', 5) IS NOT NULL AS received;
SELECT * FROM place('{"channel": "web", "external_id": "d-5", "currency": "EUR", "hold_minutes": 0,
    "notes": "ring twice", "flags": ["gift"], "ship_to": {"pickup": "b-north"},
    "lines": [{"sku": "mug", "qty": 1, "unit_price": 9.90}]}');
-- 5. read back: backordered, terms (confirmed), held
SELECT * FROM place('{"channel": "web", "external_id": "d-6", "currency": "EUR", "policy": "backorder",
    "lines": [{"sku": "RARE", "qty": 2, "unit_price": 100}]}');
SELECT * FROM place('{"channel": "web", "external_id": "d-7", "currency": "EUR",
    "customer": {"external_ref": "acme"}, "lines": [{"sku": "LID", "qty": 1, "unit_price": 4}]}');
SELECT * FROM place('{"channel": "web", "external_id": "d-8", "currency": "EUR", "flags": ["fraud_check"],
    "lines": [{"sku": "LID", "qty": 1, "unit_price": 4}]}');
-- 6. a replay: the read-back document with "replayed": true
SELECT same, status, answer -> 'replayed' AS replayed FROM place('{"channel": "web", "external_id": "d-1", "currency": "EUR",
    "lines": [{"sku": "mug", "qty": 2, "unit_price": 9.90, "discount": 1, "tax": 3.5},
              {"sku": "LID", "qty": 1, "unit_price": 4},
              {"sku": "mug", "qty": 1, "unit_price": 9.90},
              {"sku": "WRAP", "qty": 1, "unit_price": 2.5}]}');
-- 7. shipping and computed tax on gross prices: the lines' net unit_price,
--    discount and tax and the order's amounts are the stored ones
INSERT INTO oms.channels (code, name, kind, tax_mode, prices_include_tax) VALUES ('gross', 'Gross', 'web', 'computed', true);
INSERT INTO oms.tax_rates (country, rate) VALUES ('DE', 0.19);
SELECT * FROM place('{"channel": "gross", "external_id": "d-9", "currency": "EUR", "ship_to": {"country": "DE"},
    "shipping": {"amount": 4.95},
    "lines": [{"sku": "mug", "qty": 3, "unit_price": 9.99, "discount": 1}, {"sku": "LID", "qty": 1, "unit_price": 4}]}');
SELECT oms.receive_stock('RARE', 'A-south', 1) IS NOT NULL AS received;
SELECT * FROM place('{"channel": "gross", "external_id": "d-10", "currency": "EUR", "policy": "partial",
    "ship_to": {"country": "DE"}, "shipping": {"amount": 4.95},
    "lines": [{"sku": "RARE", "qty": 3, "unit_price": 119}, {"sku": "LID", "qty": 1, "unit_price": 4}]}');
SELECT * FROM oms.check();
