-- oms--0.1.0--0.2.0.sql: ALTER EXTENSION oms UPDATE from 0.1.0 to 0.2.0.
--
-- Frozen once 0.2.0 is released: later changes get their own script
-- (README, Contributing). test/t/011_upgrade.pl installs 0.1.0, runs
-- orders through it, applies this script and compares the catalog with a
-- fresh 0.2.0 install (test/upgrade/catalog.sql).
--
-- Run it in a new session (ALTER EXTENSION oms UPDATE as the first oms
-- statement of the connection): 0.2.0 has its own library, oms-0.2.0.so,
-- and a session that already loaded 0.1.0's oms.so cannot load it too
-- (55000, "another version of the oms library is already loaded").
-- Other sessions should reconnect after the update: until then they keep
-- 0.1.0's library, which does not know the 0.2.0 schema.
--
-- The new CHECK constraints are validated against existing rows; a row
-- that 0.1.0 accepted and 0.2.0 refuses (a card number in a ship-to number
-- or in a field next to another, more than 32 order flags) stops the
-- update with the constraint's name, and nothing changes. Run
-- SELECT * FROM oms.check() afterwards: the invariants new in 0.2.0
-- (coverage, status meaning, money out) report what 0.1.0 let through.

\echo Use "ALTER EXTENSION oms UPDATE TO '0.2.0'" to load this file. \quit

-- ---- the 0.2.0 library -----------------------------------------------------
-- Every C function moves to this version's library. Their SQL signatures
-- are those of 0.1.0, so each is replaced as the catalog defines it, with
-- the library path changed (pg_get_functiondef keeps arguments, defaults,
-- volatility, security and search_path as they are).
DO $upgrade$
DECLARE
    f oid;
BEGIN
    FOR f IN
        SELECT p.oid FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid
                                     AND d.deptype = 'e'
          JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'oms'
         WHERE p.prolang = (SELECT oid FROM pg_catalog.pg_language WHERE lanname = 'c')
           AND p.probin = '$libdir/oms'
         ORDER BY p.oid
    LOOP
        EXECUTE pg_catalog.replace(pg_catalog.pg_get_functiondef(f), 'AS ''$libdir/oms'',', 'AS ''MODULE_PATHNAME'',');
    END LOOP;
END
$upgrade$;

-- ---- card-number guard: per field, ship-to numbers, tables admins write ----
-- The same guard over an order's ship_to: every string and number at any
-- depth except the top-level coordinates lat and lon (orders_no_card_number_chk)
CREATE FUNCTION oms.ship_to_contains_card_number(pg_catalog.jsonb) RETURNS pg_catalog.bool
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'ship_to_contains_card_number';
COMMENT ON FUNCTION oms.ship_to_contains_card_number(pg_catalog.jsonb)
    IS 'True when a string or number of the ship-to document, at any depth except the top-level lat and lon, holds a card number as oms.contains_card_number sees it; false for NULL';

-- The same guard as a trigger, for the tables oms_admin writes with plain
-- SQL: a clean 22023 naming table and column, where a CHECK constraint's
-- DETAIL would echo the row, card number included.
CREATE FUNCTION oms.refuse_card_number() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'refuse_card_number';
COMMENT ON FUNCTION oms.refuse_card_number()
    IS 'Trigger: refuses a row whose named text columns hold a card number (22023, the value is not echoed)';
COMMENT ON FUNCTION oms.contains_card_number(pg_catalog.text)
    IS 'True when the text holds 13 to 19 digits passing the Luhn check, after normalisation: runs of up to three separators (punctuation, any white space, Unicode and zero-width spaces) between digit groups are ignored and full-width digits count as digits';
GRANT EXECUTE ON FUNCTION oms.ship_to_contains_card_number(pg_catalog.jsonb) TO oms_admin, oms_app, oms_reporting;

ALTER TABLE oms.customers
    DROP CONSTRAINT customers_no_card_number_chk,
    ADD CONSTRAINT customers_no_card_number_chk CHECK (NOT oms.contains_card_number(COALESCE(external_ref, ''))
        AND NOT oms.contains_card_number(COALESCE(email, '')) AND NOT oms.contains_card_number(COALESCE(name, ''))),
    DROP CONSTRAINT customers_flags_chk,
    ADD CONSTRAINT customers_flags_chk CHECK (
        pg_catalog.array_position(flags, NULL) IS NULL AND pg_catalog.cardinality(flags) OPERATOR(pg_catalog.<=) 32
        AND pg_catalog.array_to_string(flags, ',') OPERATOR(pg_catalog.~) '^([a-z][a-z0-9_]{0,31}(,|$))*$');
ALTER TABLE oms.orders
    DROP CONSTRAINT orders_no_card_number_chk,
    ADD CONSTRAINT orders_no_card_number_chk CHECK (NOT oms.contains_card_number(COALESCE(notes, ''))
        AND NOT oms.ship_to_contains_card_number(ship_to)),
    ADD CONSTRAINT orders_flags_chk CHECK (
        pg_catalog.array_position(flags, NULL) IS NULL AND pg_catalog.cardinality(flags) OPERATOR(pg_catalog.<=) 32
        AND pg_catalog.array_to_string(flags, ',') OPERATOR(pg_catalog.~) '^([a-z][a-z0-9_]{0,31}(,|$))*$'),
    DROP CONSTRAINT orders_amounts_chk,
    ADD CONSTRAINT orders_amounts_chk CHECK (LEAST(subtotal, discount, tax, total) OPERATOR(pg_catalog.>=) 0),
    DROP CONSTRAINT orders_policy_chk,
    ADD CONSTRAINT orders_policy_chk CHECK (policy OPERATOR(pg_catalog.~) '^(all_or_nothing|partial|backorder)$'),
    DROP CONSTRAINT orders_split_policy_chk,
    ADD CONSTRAINT orders_split_policy_chk CHECK (split_policy OPERATOR(pg_catalog.~) '^(allow|avoid|forbid)$');
ALTER TABLE oms.payments
    DROP CONSTRAINT payments_no_card_number_chk,
    ADD CONSTRAINT payments_no_card_number_chk CHECK (NOT oms.contains_card_number(COALESCE(token, ''))
        AND NOT oms.contains_card_number(COALESCE(psp_reference, '')) AND NOT oms.contains_card_number(COALESCE(card_brand, '')));
ALTER TABLE oms.shipments ADD CONSTRAINT shipments_no_card_number_chk CHECK (
    (tracking_number IS NULL OR tracking_number OPERATOR(pg_catalog.~) '^[0-9]+$'
     OR NOT oms.contains_card_number(tracking_number))
    AND NOT oms.contains_card_number(COALESCE(cancel_reason, '')));
ALTER TABLE oms.fulfillment_rejections ADD CONSTRAINT fulfillment_rejections_no_card_number_chk CHECK (
    NOT oms.contains_card_number(COALESCE(note, '')));
ALTER TABLE oms.order_status_history ADD CONSTRAINT order_status_history_no_card_number_chk CHECK (
    NOT oms.contains_card_number(COALESCE(reason, '')));
CREATE TRIGGER channels_no_card_number BEFORE INSERT OR UPDATE ON oms.channels
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('name');
CREATE TRIGGER locations_no_card_number BEFORE INSERT OR UPDATE ON oms.locations
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('name', 'address');
CREATE TRIGGER products_no_card_number BEFORE INSERT OR UPDATE ON oms.products
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('name');
CREATE TRIGGER message_templates_no_card_number BEFORE INSERT OR UPDATE ON oms.message_templates
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('subject', 'body');
CREATE TRIGGER carriers_no_card_number BEFORE INSERT OR UPDATE ON oms.carriers
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('name', 'tracking_url');
CREATE TRIGGER carrier_services_no_card_number BEFORE INSERT OR UPDATE ON oms.carrier_services
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('name');
CREATE TRIGGER accounts_no_card_number BEFORE INSERT OR UPDATE ON oms.accounts
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('name');
CREATE TRIGGER journal_rules_no_card_number BEFORE INSERT OR UPDATE ON oms.journal_rules
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('description');
CREATE TRIGGER rejection_reasons_no_card_number BEFORE INSERT OR UPDATE ON oms.rejection_reasons
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('description');
CREATE TRIGGER return_reasons_no_card_number BEFORE INSERT OR UPDATE ON oms.return_reasons
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('description');
CREATE TRIGGER order_statuses_no_card_number BEFORE INSERT OR UPDATE ON oms.order_statuses
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('description');
CREATE TRIGGER hold_rules_no_card_number BEFORE INSERT OR UPDATE ON oms.hold_rules
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('reason');

-- ---- order statuses: capabilities as data (src/lifecycle.sql) --------------
ALTER TABLE oms.order_statuses
    ADD COLUMN holds_stock        boolean NOT NULL DEFAULT false,
    ADD COLUMN open               boolean NOT NULL DEFAULT false,
    ADD COLUMN fulfillment_driven boolean NOT NULL DEFAULT false,
    ADD COLUMN payable            boolean NOT NULL DEFAULT true,
    ADD COLUMN cancellable        boolean NOT NULL DEFAULT false,
    ADD COLUMN terminal           boolean NOT NULL DEFAULT false,
    ADD COLUMN counts_as_sale     boolean NOT NULL DEFAULT true,
    ADD COLUMN shippable          boolean NOT NULL DEFAULT false,
    ADD COLUMN returnable         boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN oms.order_statuses.holds_stock IS 'Capability: the order may hold active reservations and backorders in this status; leaving for a status without it releases them';
COMMENT ON COLUMN oms.order_statuses.open IS 'Capability: units still to be fulfilled count as open demand (backorder fills, reports)';
COMMENT ON COLUMN oms.order_statuses.fulfillment_driven IS 'Capability: reached through shipments (ship, deliver) when the order has stock lines, not by hand';
COMMENT ON COLUMN oms.order_statuses.payable IS 'Capability: payments may be authorized and captured';
COMMENT ON COLUMN oms.order_statuses.cancellable IS 'Capability: oms.cancel_order may cancel the order';
COMMENT ON COLUMN oms.order_statuses.terminal IS 'Capability: the order ended unfulfilled; nothing is held, owed or shipped (cancelled, expired)';
COMMENT ON COLUMN oms.order_statuses.counts_as_sale IS 'Capability: the order counts as a sale in reports';
COMMENT ON COLUMN oms.order_statuses.shippable IS 'Capability: shipments may be created and shipped';
COMMENT ON COLUMN oms.order_statuses.returnable IS 'Capability: shipped units may be returned (RMA)';
-- the seeded statuses get the meaning they had in 0.1.0's code; a custom
-- status keeps the column defaults (payable, counts as a sale), the meaning
-- custom statuses had before capabilities existed
UPDATE oms.order_statuses s
   SET holds_stock = v.hs, open = v.op, fulfillment_driven = v.fd, payable = v.pa, cancellable = v.ca,
       terminal = v.te, counts_as_sale = v.sa, shippable = v.sh, returnable = v.re
  FROM (VALUES
    --                    hs     op     fd     pa     ca     te     sa     sh     re
    ('pending_payment',    true,  true,  false, true,  true,  false, true,  false, false),
    ('backordered',        true,  true,  false, true,  true,  false, true,  false, false),
    ('confirmed',          true,  true,  false, true,  true,  false, true,  true,  false),
    ('on_hold',            true,  true,  false, true,  true,  false, true,  false, false),
    ('in_fulfillment',     true,  true,  false, true,  true,  false, true,  true,  false),
    ('partially_shipped',  true,  true,  true,  true,  true,  false, true,  true,  true),
    ('shipped',            false, false, true,  true,  false, false, true,  false, true),
    ('delivered',          false, false, true,  true,  false, false, true,  false, true),
    ('completed',          false, false, false, false, false, false, true,  false, true),
    ('partially_returned', false, false, false, true,  false, false, true,  false, true),
    ('returned',           false, false, false, false, false, false, true,  false, false),
    ('cancelled',          false, false, false, false, false, true,  false, false, false),
    ('expired',            false, false, false, false, false, true,  false, false, false))
    AS v(status, hs, op, fd, pa, ca, te, sa, sh, re)
 WHERE s.status = v.status AND s.seeded;
-- a void that leaves a confirmed order uncovered sends it back to awaiting
-- payment (oms.void_payment)
INSERT INTO oms.order_transitions (from_status, to_status, seeded)
VALUES ('confirmed', 'pending_payment', true), ('confirmed', 'backordered', true)
ON CONFLICT DO NOTHING;
ALTER TABLE oms.order_statuses ADD CONSTRAINT order_statuses_terminal_chk CHECK (NOT (terminal AND (holds_stock OR open OR payable OR cancellable OR shippable OR counts_as_sale)));

-- ---- stock and order rows: no foreign keys on the hot path; anchored
-- ---- patterns and LEAST for the closed sets and bounds (src/orders.sql,
-- ---- src/inventory.sql, src/routing.sql) ------------------------------------
ALTER TABLE oms.reservations
    DROP CONSTRAINT reservations_order_fkey,
    DROP CONSTRAINT reservations_line_fkey,
    DROP CONSTRAINT reservations_product_fkey,
    DROP CONSTRAINT reservations_location_fkey,
    DROP CONSTRAINT reservations_status_chk,
    ADD CONSTRAINT reservations_status_chk CHECK (status OPERATOR(pg_catalog.~) '^(active|released|expired|consumed)$');
ALTER TABLE oms.stock_movements
    DROP CONSTRAINT stock_movements_product_fkey,
    DROP CONSTRAINT stock_movements_location_fkey,
    DROP CONSTRAINT stock_movements_kind_chk,
    ADD CONSTRAINT stock_movements_kind_chk CHECK (kind OPERATOR(pg_catalog.~)
        '^(receipt|adjustment|safety_stock|reservation|release|expiry|shipment|return_restock|return_damaged|write_off)$');
ALTER TABLE oms.routing_decisions
    DROP CONSTRAINT routing_decisions_order_fkey,
    DROP CONSTRAINT routing_decisions_trigger_chk,
    ADD CONSTRAINT routing_decisions_trigger_chk CHECK (trigger OPERATOR(pg_catalog.~) '^(place_order|reroute)$');
ALTER TABLE oms.stock_balances
    DROP CONSTRAINT stock_balances_damaged_chk,
    DROP CONSTRAINT stock_balances_safety_stock_chk,
    ADD CONSTRAINT stock_balances_counts_chk CHECK (LEAST(damaged, safety_stock) OPERATOR(pg_catalog.>=) 0);
ALTER TABLE oms.order_lines
    DROP CONSTRAINT order_lines_amounts_chk,
    ADD CONSTRAINT order_lines_amounts_chk CHECK (LEAST(unit_price, discount, tax) OPERATOR(pg_catalog.>=) 0),
    DROP CONSTRAINT order_lines_parts_chk,
    ADD CONSTRAINT order_lines_parts_chk CHECK (LEAST(qty_reserved, qty_backordered, qty_shipped, qty_cancelled, qty_returned)
        OPERATOR(pg_catalog.>=) 0);
-- the balance guard asks its question once per statement
DROP TRIGGER stock_balances_guard ON oms.stock_balances;
CREATE TRIGGER stock_balances_guard
    BEFORE INSERT OR UPDATE OR DELETE ON oms.stock_balances
    FOR EACH STATEMENT EXECUTE FUNCTION oms.inventory_balance_guard();
-- a new order's history row and order_placed event are written after the
-- INSERT (an INSERT ... ON CONFLICT DO NOTHING replay records nothing)
CREATE TRIGGER orders_status_recorded
    AFTER INSERT ON oms.orders
    FOR EACH ROW EXECUTE FUNCTION oms.lifecycle_status_guard();

-- ---- valued exchanges (src/returns.sql) ---------------------------------------
ALTER TABLE oms.rmas
    ADD COLUMN exchange_value numeric(16,4) NOT NULL DEFAULT 0,
    ADD CONSTRAINT rmas_exchange_value_chk CHECK (exchange_value OPERATOR(pg_catalog.>=) 0),
    DROP CONSTRAINT rmas_no_card_number_chk,
    ADD CONSTRAINT rmas_no_card_number_chk CHECK (NOT oms.contains_card_number(COALESCE(notes, ''))
        AND NOT oms.contains_card_number(COALESCE(reject_reason, '')));

-- ---- kit bill of materials guard (src/catalog.sql) ----------------------------
CREATE FUNCTION oms.catalog_kit_bom_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_sku   text;
    v_kit   bigint;
    v_kits  bigint[];
    v_open  bigint;
BEGIN
    -- the kits whose bill of materials changes, in id order (an UPDATE can
    -- move a row from one kit to another)
    IF TG_OP OPERATOR(pg_catalog.=) 'INSERT' THEN
        v_kits := ARRAY[NEW.kit_id];
    ELSIF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
        v_kits := ARRAY[OLD.kit_id];
    ELSIF OLD.kit_id OPERATOR(pg_catalog.=) NEW.kit_id THEN
        v_kits := ARRAY[NEW.kit_id];
    ELSE
        v_kits := CASE WHEN OLD.kit_id OPERATOR(pg_catalog.<) NEW.kit_id THEN ARRAY[OLD.kit_id, NEW.kit_id]
                       ELSE ARRAY[NEW.kit_id, OLD.kit_id] END;
    END IF;
    IF pg_catalog.current_setting('transaction_isolation') OPERATOR(pg_catalog.<>) 'read committed' THEN
        SELECT sku INTO v_sku FROM oms.products WHERE id OPERATOR(pg_catalog.=) v_kits[1];
        RAISE EXCEPTION 'kit components cannot be changed under % isolation', pg_catalog.current_setting('transaction_isolation')
            USING ERRCODE = '55000',
                  DETAIL = pg_catalog.format('The check for open orders of kit %s must see the orders committed while it waits, which a transaction snapshot does not.', v_sku),
                  HINT = 'Change kit components in a READ COMMITTED transaction (the default).';
    END IF;
    FOREACH v_kit IN ARRAY v_kits LOOP
        -- the lock of the protocol above; a kit deleted by this very
        -- statement (ON DELETE CASCADE) is not found and needs no check
        UPDATE oms.products SET kind = kind WHERE id OPERATOR(pg_catalog.=) v_kit RETURNING sku INTO v_sku;
        CONTINUE WHEN NOT FOUND;
        -- a new statement: under READ COMMITTED it sees the orders of every
        -- place_order the UPDATE waited for
        SELECT pg_catalog.count(DISTINCT ol.order_id) INTO v_open
          FROM oms.order_lines ol
         WHERE ol.product_id OPERATOR(pg_catalog.=) v_kit
           AND (ol.qty_reserved OPERATOR(pg_catalog.>) 0 OR ol.qty_backordered OPERATOR(pg_catalog.>) 0);
        IF v_open OPERATOR(pg_catalog.>) 0 THEN
            RAISE EXCEPTION 'kit % is held by open orders', v_sku
                USING ERRCODE = '55000',
                      DETAIL = pg_catalog.format('%s order(s) hold reserved or backordered units of kit %s as its current components; changing them would leave those orders unable to ship.', v_open, v_sku),
                      HINT = pg_catalog.format('Create a new kit product for the new composition, or wait until the open orders of kit %s have shipped or been cancelled.', v_sku);
        END IF;
    END LOOP;
    IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION oms.catalog_kit_bom_guard() IS 'Trigger: a kit''s components cannot change while open orders (reserved or backordered units) hold the kit';
CREATE TRIGGER kit_components_bom_guard
    BEFORE INSERT OR UPDATE OR DELETE ON oms.kit_components
    FOR EACH ROW EXECUTE FUNCTION oms.catalog_kit_bom_guard();

-- ---- payment terms guard (src/payments.sql) ----------------------------------
CREATE FUNCTION oms.customers_terms_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_orders bigint[];
BEGIN
    IF NOT COALESCE('terms' OPERATOR(pg_catalog.=) ANY (OLD.flags), false)
       OR COALESCE('terms' OPERATOR(pg_catalog.=) ANY (NEW.flags), false) THEN
        RETURN NEW;
    END IF;
    IF pg_catalog.current_setting('transaction_isolation') OPERATOR(pg_catalog.<>) 'read committed' THEN
        RAISE EXCEPTION 'the terms flag cannot be removed under % isolation', pg_catalog.current_setting('transaction_isolation')
            USING ERRCODE = '55000',
                  DETAIL = pg_catalog.format('The check for orders of customer %s that rely on payment terms must see the orders committed while it waits, which a transaction snapshot does not.', OLD.id),
                  HINT = 'Remove the flag in a READ COMMITTED transaction (the default).';
    END IF;
    SELECT pg_catalog.array_agg(o.id ORDER BY o.id) INTO v_orders
      FROM oms.orders o
      JOIN oms.order_statuses s ON s.status OPERATOR(pg_catalog.=) COALESCE(o.held_from, o.status)
     WHERE o.customer_id OPERATOR(pg_catalog.=) OLD.id
       AND s.shippable AND NOT s.terminal
       AND o.total OPERATOR(pg_catalog.>) COALESCE((SELECT pg_catalog.sum(p.authorized OPERATOR(pg_catalog.-) p.voided)
                                                      FROM oms.payments p WHERE p.order_id OPERATOR(pg_catalog.=) o.id), 0);
    IF v_orders IS NOT NULL THEN
        RAISE EXCEPTION 'customer % cannot lose the terms flag: % open order(s) rely on it', OLD.id, pg_catalog.cardinality(v_orders)
            USING ERRCODE = '55000',
                  DETAIL = pg_catalog.format('Orders %s are in a status that may ship, and their payments do not reach their totals.',
                                             pg_catalog.array_to_string(v_orders[1:20], ', ')
                                             OPERATOR(pg_catalog.||) CASE WHEN pg_catalog.cardinality(v_orders) OPERATOR(pg_catalog.>) 20 THEN ', ...' ELSE '' END),
                  HINT = 'Record their payments with oms.authorize_payment() (an invoice payment needs the flag, so record it first), or cancel them, then remove the flag.';
    END IF;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION oms.customers_terms_guard() IS 'Trigger: the terms flag cannot be removed while open confirmed orders of the customer rely on it';
CREATE TRIGGER customers_terms_guard
    BEFORE UPDATE OF flags ON oms.customers
    FOR EACH ROW EXECUTE FUNCTION oms.customers_terms_guard();

-- ---- applications read payments masked (src/payments.sql) -----------------------
CREATE VIEW oms.payments_masked AS
SELECT p.id, p.order_id, p.method, p.currency, p.authorized, p.captured, p.voided, p.refunded, p.status,
       CASE WHEN p.token IS NULL THEN NULL ELSE '****'::text END AS token,
       CASE WHEN p.psp_reference IS NULL THEN NULL
            WHEN pg_catalog.char_length(p.psp_reference) OPERATOR(pg_catalog.>=) 12
            THEN '****'::text OPERATOR(pg_catalog.||) pg_catalog."right"(p.psp_reference, 4)
            ELSE '****'::text END AS psp_reference,
       p.card_brand, p.card_last4, p.card_exp_month, p.card_exp_year, p.gift_card_id, p.created_at, p.updated_at
  FROM oms.payments p;
COMMENT ON VIEW oms.payments_masked IS 'oms.payments as applications see it: the PSP token and reference masked, every other column as it is';
COMMENT ON COLUMN oms.payments_masked.id IS 'Payment id';
COMMENT ON COLUMN oms.payments_masked.order_id IS 'The order';
COMMENT ON COLUMN oms.payments_masked.method IS 'card, gift_card, store_credit, invoice, check or cash';
COMMENT ON COLUMN oms.payments_masked.currency IS 'Always the order''s currency';
COMMENT ON COLUMN oms.payments_masked.authorized IS 'Amount authorized';
COMMENT ON COLUMN oms.payments_masked.captured IS 'Amount captured; captured + voided <= authorized';
COMMENT ON COLUMN oms.payments_masked.voided IS 'Authorized amount released without capture';
COMMENT ON COLUMN oms.payments_masked.refunded IS 'Amount refunded; never above captured';
COMMENT ON COLUMN oms.payments_masked.status IS 'authorized, partially_captured, captured, voided, partially_refunded or refunded (derived from the amounts)';
COMMENT ON COLUMN oms.payments_masked.token IS 'Masked: **** when the payment has a PSP token, NULL when not; the token itself is never shown';
COMMENT ON COLUMN oms.payments_masked.psp_reference IS 'Masked: **** followed by the last 4 characters of the PSP reference when it has at least 12, else ****; NULL when there is none';
COMMENT ON COLUMN oms.payments_masked.card_brand IS 'Card brand, for display';
COMMENT ON COLUMN oms.payments_masked.card_last4 IS 'Last four digits of the card, for display';
COMMENT ON COLUMN oms.payments_masked.card_exp_month IS 'Card expiry month';
COMMENT ON COLUMN oms.payments_masked.card_exp_year IS 'Card expiry year';
COMMENT ON COLUMN oms.payments_masked.gift_card_id IS 'Gift card or store credit account spent';
COMMENT ON COLUMN oms.payments_masked.created_at IS 'When the payment was authorized';
COMMENT ON COLUMN oms.payments_masked.updated_at IS 'Last change';

-- ---- money out other than refunds (src/payments.sql) ----------------------------
CREATE TABLE oms.money_out (
    id            bigserial     NOT NULL,
    order_id      bigint        NOT NULL,
    kind          text          NOT NULL,
    amount        numeric(16,4) NOT NULL,
    rma_id        bigint,
    at            timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    actor         text          NOT NULL DEFAULT SESSION_USER,
    CONSTRAINT money_out_pkey PRIMARY KEY (id),
    CONSTRAINT money_out_order_fkey FOREIGN KEY (order_id) REFERENCES oms.orders (id),
    CONSTRAINT money_out_kind_chk CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['store_credit', 'exchange'])),
    CONSTRAINT money_out_amount_chk CHECK (amount OPERATOR(pg_catalog.>) 0)
);
CREATE INDEX money_out_order_idx ON oms.money_out (order_id);
COMMENT ON TABLE oms.money_out IS 'Money that left an order other than as a refund to its payments: store credit issued for it, returned value applied to an exchange';
COMMENT ON COLUMN oms.money_out.id IS 'Sequence number';
COMMENT ON COLUMN oms.money_out.order_id IS 'The order the money came from';
COMMENT ON COLUMN oms.money_out.kind IS 'store_credit or exchange';
COMMENT ON COLUMN oms.money_out.amount IS 'Amount, in the order''s currency';
COMMENT ON COLUMN oms.money_out.rma_id IS 'The RMA it resolved, if any';
COMMENT ON COLUMN oms.money_out.at IS 'When';
COMMENT ON COLUMN oms.money_out.actor IS 'Login role';
SELECT pg_catalog.pg_extension_config_dump('oms.money_out', '');
SELECT pg_catalog.pg_extension_config_dump('oms.money_out_id_seq', '');
-- store credit issued by 0.1.0 for a return left its order: the money path
-- of 0.2.0 counts it from here (exchanges of 0.1.0 carried no value)
INSERT INTO oms.money_out (order_id, kind, amount, rma_id, at, actor)
SELECT r.order_id, 'store_credit', r.store_credit, r.id, COALESCE(r.resolved_at, r.created_at), 'oms 0.2.0 upgrade'
  FROM oms.rmas r
 WHERE r.store_credit > 0
 ORDER BY r.id;
GRANT SELECT ON oms.money_out TO oms_admin;
GRANT EXECUTE ON FUNCTION oms.catalog_kit_bom_guard() TO oms_admin;

-- applications read payments without the PSP token and reference
REVOKE SELECT ON oms.payments FROM oms_app;
GRANT SELECT ON oms.payments_masked TO oms_app, oms_admin;

-- an open order's amounts count the units it owes: 0.1.0 kept units
-- cancelled at placement (policy partial) in them
UPDATE oms.orders o
   SET subtotal = l.subtotal, discount = l.discount, tax = l.tax, total = l.subtotal - l.discount + l.tax
  FROM oms.order_statuses s,
       (SELECT ol.order_id,
               pg_catalog.sum((ol.qty - ol.qty_cancelled) * ol.unit_price) AS subtotal,
               pg_catalog.sum(pg_catalog.round(ol.discount * (ol.qty - ol.qty_cancelled) / ol.qty, 4)) AS discount,
               pg_catalog.sum(pg_catalog.round(ol.tax * (ol.qty - ol.qty_cancelled) / ol.qty, 4)) AS tax
          FROM oms.order_lines ol GROUP BY ol.order_id) l
 WHERE l.order_id = o.id AND s.status = o.status AND NOT s.terminal
   AND (o.subtotal <> l.subtotal OR o.discount <> l.discount OR o.tax <> l.tax
        OR o.total <> l.subtotal - l.discount + l.tax);

-- ---- reports: statuses by capability, amounts of the units owed (src/reports.sql) ----
CREATE OR REPLACE VIEW oms.report_sales_daily AS
SELECT f.day, c.code AS channel, f.currency,
       pg_catalog.sum(f.orders)::bigint AS orders,
       pg_catalog.sum(f.units)::bigint AS units,
       pg_catalog.sum(f.gross) AS gross,
       pg_catalog.sum(f.discounts) AS discounts,
       pg_catalog.sum(f.tax) AS tax,
       pg_catalog.sum(f.net) AS net,
       pg_catalog.sum(f.refunds) AS refunds,
       pg_catalog.sum(f.net) OPERATOR(pg_catalog.-) pg_catalog.sum(f.refunds) AS net_after_refunds
  FROM (SELECT (o.placed_at AT TIME ZONE 'UTC')::date AS day, o.channel_id, o.currency,
               1 AS orders,
               (SELECT COALESCE(pg_catalog.sum(l.qty OPERATOR(pg_catalog.-) l.qty_cancelled), 0) FROM oms.order_lines l
                 WHERE l.order_id OPERATOR(pg_catalog.=) o.id) AS units,
               o.subtotal AS gross, o.discount AS discounts, o.tax, o.total AS net,
               0.0000 AS refunds
          FROM oms.orders o
          JOIN oms.order_statuses st ON st.status OPERATOR(pg_catalog.=) o.status
         WHERE st.counts_as_sale
           AND NOT EXISTS (SELECT FROM oms.rmas x WHERE x.exchange_order_id OPERATOR(pg_catalog.=) o.id)
        UNION ALL
        -- an exchange's replacement order is never paid, so it has no refunds
        SELECT (t.at AT TIME ZONE 'UTC')::date, o.channel_id, o.currency,
               0, 0, 0.0000, 0.0000, 0.0000, 0.0000, t.amount
          FROM oms.payment_transactions t
          JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) t.order_id
          JOIN oms.order_statuses st ON st.status OPERATOR(pg_catalog.=) o.status
         WHERE t.kind OPERATOR(pg_catalog.=) 'refund'
           AND st.counts_as_sale) f
  JOIN oms.channels c ON c.id OPERATOR(pg_catalog.=) f.channel_id
 GROUP BY f.day, c.code, f.currency;
CREATE OR REPLACE VIEW oms.report_payment_reconciliation AS
SELECT o.id AS order_id, o.external_id, c.code AS channel,
       (o.placed_at AT TIME ZONE 'UTC')::date AS day,
       o.status, o.currency, o.total,
       x.cancelled_value,
       x.authorized, x.captured, x.voided, x.refunded,
       x.returns_refunded, x.returns_store_credit,
       x.captured OPERATOR(pg_catalog.-) x.refunded AS net_paid,
       y.amount_due,
       y.amount_due OPERATOR(pg_catalog.-) (x.captured OPERATOR(pg_catalog.-) x.refunded) AS balance_due,
       pg_catalog.cardinality(z.reasons) OPERATOR(pg_catalog.>) 0 AS mismatch,
       z.reasons AS mismatch_reasons
  FROM oms.orders o
  JOIN oms.channels c ON c.id OPERATOR(pg_catalog.=) o.channel_id
  JOIN oms.order_statuses st ON st.status OPERATOR(pg_catalog.=) o.status
  -- per order sums as lateral subqueries: a lookup by any column of the
  -- order (external_id, status) reads only that order's rows
  CROSS JOIN LATERAL (SELECT pg_catalog.sum(authorized) AS authorized, pg_catalog.sum(captured) AS captured,
                             pg_catalog.sum(voided) AS voided, pg_catalog.sum(refunded) AS refunded
                        FROM oms.payments WHERE order_id OPERATOR(pg_catalog.=) o.id) p
  CROSS JOIN LATERAL (SELECT pg_catalog.sum(refunded) AS refunded, pg_catalog.sum(store_credit) AS store_credit
                        FROM oms.rmas WHERE order_id OPERATOR(pg_catalog.=) o.id) r
  CROSS JOIN LATERAL (SELECT
                    pg_catalog.sum(CASE WHEN qty_cancelled OPERATOR(pg_catalog.=) qty
                                        THEN (unit_price OPERATOR(pg_catalog.*) qty) OPERATOR(pg_catalog.-) discount OPERATOR(pg_catalog.+) tax
                                        ELSE pg_catalog.round(((unit_price OPERATOR(pg_catalog.*) qty) OPERATOR(pg_catalog.-) discount
                                             OPERATOR(pg_catalog.+) tax) OPERATOR(pg_catalog.*) qty_cancelled OPERATOR(pg_catalog./) qty, 2) END) AS value
               FROM oms.order_lines
              WHERE order_id OPERATOR(pg_catalog.=) o.id AND qty_cancelled OPERATOR(pg_catalog.>) 0) lc
 CROSS JOIN LATERAL (SELECT st.terminal AS closed,
                            COALESCE(lc.value, 0.0000) AS cancelled_value,
                            COALESCE(p.authorized, 0.0000) AS authorized, COALESCE(p.captured, 0.0000) AS captured,
                            COALESCE(p.voided, 0.0000) AS voided, COALESCE(p.refunded, 0.0000) AS refunded,
                            COALESCE(r.refunded, 0.0000) AS returns_refunded, COALESCE(r.store_credit, 0.0000) AS returns_store_credit) x
 CROSS JOIN LATERAL (SELECT CASE WHEN x.closed THEN 0.0000
                                 ELSE o.total OPERATOR(pg_catalog.-) x.returns_refunded END AS amount_due) y
 CROSS JOIN LATERAL (SELECT pg_catalog.array_remove(ARRAY[
            CASE WHEN x.captured OPERATOR(pg_catalog.>) o.total THEN 'captured_over_total' END,
            CASE WHEN x.closed AND x.captured OPERATOR(pg_catalog.<>) x.refunded THEN 'closed_with_money_kept' END,
            CASE WHEN x.closed AND x.authorized OPERATOR(pg_catalog.>) (x.captured OPERATOR(pg_catalog.+) x.voided)
                 THEN 'closed_with_open_authorization' END,
            -- every unit shipped: the status holds no stock and is not terminal
            CASE WHEN NOT st.holds_stock AND NOT st.terminal
                  AND y.amount_due OPERATOR(pg_catalog.>) (x.captured OPERATOR(pg_catalog.-) x.refunded) THEN 'shipped_with_balance_due' END,
            CASE WHEN NOT x.closed AND y.amount_due OPERATOR(pg_catalog.<) (x.captured OPERATOR(pg_catalog.-) x.refunded) THEN 'overpaid' END
            ]::text[], NULL) AS reasons) z;
CREATE OR REPLACE VIEW oms.report_customers AS
-- one row per order, per payment and per shipped line, added up per
-- customer: a filter on customer_id reaches each branch's orders through
-- orders_customer_idx, and a full read joins by hash
SELECT cu.id AS customer_id, cu.external_ref, cu.flags, f.currency,
       pg_catalog.sum(f.orders)::bigint AS orders,
       pg_catalog.sum(f.orders_cancelled)::bigint AS orders_cancelled,
       pg_catalog.min(f.placed_at) AS first_order_at,
       pg_catalog.max(f.placed_at) AS last_order_at,
       pg_catalog.sum(f.net_paid) AS lifetime_value,
       pg_catalog.sum(f.shipped)::bigint AS units_shipped,
       pg_catalog.sum(f.returned)::bigint AS units_returned,
       pg_catalog.round(pg_catalog.sum(f.returned)::numeric OPERATOR(pg_catalog./) NULLIF(pg_catalog.sum(f.shipped), 0), 4) AS return_rate
  FROM (SELECT o.customer_id, o.currency,
               CASE WHEN x.closed THEN 0 ELSE 1 END AS orders,
               CASE WHEN x.closed THEN 1 ELSE 0 END AS orders_cancelled,
               CASE WHEN NOT x.closed THEN o.placed_at END AS placed_at,
               0.0000 AS net_paid, 0 AS shipped, 0 AS returned
          FROM oms.orders o
          JOIN oms.order_statuses st ON st.status OPERATOR(pg_catalog.=) o.status
         CROSS JOIN LATERAL (SELECT st.terminal AS closed) x
         WHERE NOT EXISTS (SELECT FROM oms.rmas e WHERE e.exchange_order_id OPERATOR(pg_catalog.=) o.id)
        UNION ALL
        SELECT o.customer_id, o.currency, 0, 0, NULL, p.captured OPERATOR(pg_catalog.-) p.refunded, 0, 0
          FROM oms.payments p
          JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) p.order_id
         WHERE NOT EXISTS (SELECT FROM oms.rmas e WHERE e.exchange_order_id OPERATOR(pg_catalog.=) o.id)
        UNION ALL
        SELECT o.customer_id, o.currency, 0, 0, NULL, 0.0000, ol.qty_shipped, ol.qty_returned
          FROM oms.order_lines ol
          JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) ol.order_id
          JOIN oms.products pr ON pr.id OPERATOR(pg_catalog.=) ol.product_id
         WHERE ol.qty_shipped OPERATOR(pg_catalog.>) 0 AND pr.kind OPERATOR(pg_catalog.<>) 'service'
           AND NOT EXISTS (SELECT FROM oms.rmas e WHERE e.exchange_order_id OPERATOR(pg_catalog.=) o.id)) f
  JOIN oms.customers cu ON cu.id OPERATOR(pg_catalog.=) f.customer_id
 GROUP BY cu.id, cu.external_ref, cu.flags, f.currency;
CREATE OR REPLACE VIEW oms.report_channels AS
SELECT c.code AS channel, o.currency,
       pg_catalog.count(*) AS orders_placed,
       pg_catalog.count(*) FILTER (WHERE o.status OPERATOR(pg_catalog.=) 'cancelled') AS orders_cancelled,
       pg_catalog.count(*) FILTER (WHERE o.status OPERATOR(pg_catalog.=) 'expired') AS orders_expired,
       pg_catalog.round(pg_catalog.count(*) FILTER (WHERE x.closed)::numeric OPERATOR(pg_catalog./) pg_catalog.count(*), 4) AS cancellation_rate,
       pg_catalog.count(*) FILTER (WHERE NOT x.closed) AS orders,
       COALESCE(pg_catalog.sum(o.total) FILTER (WHERE NOT x.closed), 0.0000) AS revenue,
       COALESCE(pg_catalog.sum(p.refunded) FILTER (WHERE NOT x.closed), 0.0000) AS refunds,
       COALESCE(pg_catalog.sum(o.total) FILTER (WHERE NOT x.closed), 0.0000)
           OPERATOR(pg_catalog.-) COALESCE(pg_catalog.sum(p.refunded) FILTER (WHERE NOT x.closed), 0.0000) AS net_revenue
  FROM oms.orders o
  JOIN oms.channels c ON c.id OPERATOR(pg_catalog.=) o.channel_id
  LEFT JOIN (SELECT order_id, pg_catalog.sum(refunded) AS refunded FROM oms.payments GROUP BY order_id) p
    ON p.order_id OPERATOR(pg_catalog.=) o.id
  JOIN oms.order_statuses st ON st.status OPERATOR(pg_catalog.=) o.status
 CROSS JOIN LATERAL (SELECT st.terminal AS closed) x
 WHERE NOT EXISTS (SELECT FROM oms.rmas e WHERE e.exchange_order_id OPERATOR(pg_catalog.=) o.id)
 GROUP BY c.code, o.currency;

-- ---- comments that 0.2.0 changed ---------------------------------------------
COMMENT ON FUNCTION oms.lifecycle_status_guard() IS 'Trigger: only transitions in oms.order_transitions and the status rules; writes history and an event';
COMMENT ON COLUMN oms.orders.subtotal IS 'Sum of (qty - qty_cancelled) * unit_price over the lines: the units owed (placement cancels units under policy partial)';
COMMENT ON COLUMN oms.orders.discount IS 'Sum of line discounts, each in proportion to the line''s units owed, rounded to 4 decimals';
COMMENT ON COLUMN oms.orders.tax IS 'Sum of line taxes, each in proportion to the line''s units owed, rounded to 4 decimals';
COMMENT ON COLUMN oms.orders.total IS 'subtotal - discount + tax: what the units owed cost (oms.check(): order_total_owed)';
COMMENT ON COLUMN oms.report_sales_daily.units IS 'Units owed on those orders, every line (a kit counts as one unit, services count); units cancelled at placement under policy partial are left out, as they are from the order''s amounts';
COMMENT ON COLUMN oms.report_sales_daily.gross IS 'Sum of orders.subtotal ((qty - qty_cancelled) x unit_price over the lines)';
COMMENT ON VIEW oms.report_payment_reconciliation IS 'Every order with its payments and what is still owed. amount_due is what the customer owes in money for what they keep: 0 for a cancelled or expired order, else total (which counts only the units owed: units cancelled at placement are not in it) less the money refunded for returns. A return settled in store credit does not lower it: the customer traded the goods for credit, and the money paid stays due. A goodwill refund outside an RMA raises balance_due: oms cannot tell it from a mistake, so it shows';
COMMENT ON COLUMN oms.report_payment_reconciliation.total IS 'orders.total: the units owed (not cancelled at placement) at their price, less discount, plus tax';
COMMENT ON COLUMN oms.report_payment_reconciliation.cancelled_value IS 'Value of the units cancelled on the order''s lines: (unit_price x qty - discount + tax) x qty_cancelled / qty per line, rounded to 2 decimals unless the whole line is cancelled. Informational: orders.total no longer counts units cancelled while the order is open, so amount_due does not subtract it';
COMMENT ON COLUMN oms.report_payment_reconciliation.amount_due IS 'What the customer owes in money: 0 when cancelled or expired, else total - returns_refunded';
COMMENT ON COLUMN oms.return_reasons.auto_approve_max IS 'An RMA is authorized at once when every line''s reason has a limit here and the larger of its value and its exchange value is at most the lowest of them; NULL never';
COMMENT ON COLUMN oms.rmas.exchange_lines IS 'Exchange: the replacement lines [{sku, qty, unit_price}], each priced (a returned sku at the price paid for it)';
COMMENT ON COLUMN oms.rmas.exchange_value IS 'Exchange: what the replacement lines are worth (sum of qty x unit_price); 0 for other resolutions';
COMMENT ON FUNCTION oms.create_rma(bigint, jsonb)
    IS 'Request a return {lines: [{sku or line_no, qty, reason}], resolution: refund | exchange | store_credit, exchange: {lines: [{sku, qty, unit_price}]}, notes}';

-- ---- the oracle: new invariants (src/check.sql) -----------------------------------
-- (oms.check(): once, at the end of this script, with every area's change)

-- ---- the accounting feed survives a restore; the subscriber's DDL (src/ledger.sql) ----
CREATE OR REPLACE FUNCTION oms.create_accounting_publication() RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    -- the journal tables, in the order a subscriber creates them
    -- (oms.accounting_subscriber_ddl lists the same)
    v_tables  regclass[] := ARRAY['oms.accounts', 'oms.journal_rules', 'oms.journal_entries', 'oms.journal_lines'];
    v_missing regclass[];
    v_pub     pg_catalog.pg_publication%ROWTYPE;
BEGIN
    SELECT * INTO v_pub FROM pg_catalog.pg_publication WHERE pubname = 'oms_accounting';
    IF NOT FOUND THEN
        EXECUTE pg_catalog.format('CREATE PUBLICATION oms_accounting FOR TABLE %s',
                                  pg_catalog.array_to_string(v_tables::text[], ', '));
        RETURN 'publication oms_accounting created';
    END IF;
    IF v_pub.puballtables THEN
        RETURN 'publication oms_accounting already publishes every table';
    END IF;
    SELECT pg_catalog.array_agg(t ORDER BY o) INTO v_missing
      FROM pg_catalog.unnest(v_tables) WITH ORDINALITY AS u(t, o)
     WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_publication_rel pr
                        WHERE pr.prpubid = v_pub.oid AND pr.prrelid = u.t);
    IF v_missing IS NULL THEN
        RETURN 'publication oms_accounting already exists';
    END IF;
    EXECUTE pg_catalog.format('ALTER PUBLICATION oms_accounting ADD TABLE %s',
                              pg_catalog.array_to_string(v_missing::text[], ', '));
    RETURN pg_catalog.format('publication oms_accounting repaired: added %s', pg_catalog.array_to_string(v_missing::text[], ', '));
END
$fn$;
COMMENT ON FUNCTION oms.create_accounting_publication()
    IS 'Create the publication oms_accounting (accounts, rules, journal entries and lines) for logical replication to accounting, or add the journal tables it lacks (after pg_restore, which does not restore the membership of extension tables)';
CREATE FUNCTION oms.accounting_subscriber_ddl() RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT 'CREATE SCHEMA IF NOT EXISTS oms;' OPERATOR(pg_catalog.||) E'\n' OPERATOR(pg_catalog.||)
       pg_catalog.string_agg(t.ddl, E'\n' ORDER BY t.o)
  FROM (SELECT u.o,
               pg_catalog.format(E'CREATE TABLE %s (\n    %s\n);', u.t,
                   (SELECT pg_catalog.string_agg(x.line, E',\n    ' ORDER BY x.k, x.n)
                      FROM (SELECT 1 AS k, a.attnum::int AS n,
                                   pg_catalog.format('%I %s', a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod))
                                   OPERATOR(pg_catalog.||) CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
                                   OPERATOR(pg_catalog.||) COALESCE(' DEFAULT ' OPERATOR(pg_catalog.||) d.expr, '') AS line
                              FROM pg_catalog.pg_attribute a
                              LEFT JOIN LATERAL (SELECT pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) AS expr
                                                   FROM pg_catalog.pg_attrdef ad
                                                  WHERE ad.adrelid = a.attrelid AND ad.adnum = a.attnum) d
                                ON d.expr NOT LIKE 'nextval(%'
                             WHERE a.attrelid = u.t AND a.attnum > 0 AND NOT a.attisdropped
                            UNION ALL
                            SELECT 2, CASE c.contype WHEN 'p' THEN 0 ELSE 1 END,
                                   pg_catalog.format('CONSTRAINT %I %s', c.conname, pg_catalog.pg_get_constraintdef(c.oid))
                              FROM pg_catalog.pg_constraint c
                             WHERE c.conrelid = u.t AND c.contype IN ('p', 'c')
                               AND pg_catalog.pg_get_constraintdef(c.oid) NOT LIKE '%oms.%') x))
               OPERATOR(pg_catalog.||) COALESCE((SELECT pg_catalog.string_agg(E'\n' OPERATOR(pg_catalog.||) pg_catalog.pg_get_indexdef(i.indexrelid) OPERATOR(pg_catalog.||) ';', '' ORDER BY i.indexrelid::regclass::text)
                                                   FROM pg_catalog.pg_index i
                                                  WHERE i.indrelid = u.t
                                                    AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint c WHERE c.conindid = i.indexrelid)), '') AS ddl
          FROM pg_catalog.unnest(ARRAY['oms.accounts', 'oms.journal_rules', 'oms.journal_entries', 'oms.journal_lines']::regclass[])
               WITH ORDINALITY AS u(t, o)) t
$fn$;
COMMENT ON FUNCTION oms.accounting_subscriber_ddl()
    IS 'The CREATE TABLE statements of the journal tables for the accounting subscriber''s database (columns, keys, CHECKs and indexes, no sequences, foreign keys or triggers); run them there before CREATE SUBSCRIPTION';
GRANT EXECUTE ON FUNCTION oms.accounting_subscriber_ddl() TO oms_admin;

-- the materialized reports carry their live views' comments (src/reports.sql)
DO $$
DECLARE
    m record;
BEGIN
    FOR m IN SELECT report, source FROM oms.materialized_reports LOOP
        EXECUTE pg_catalog.format('COMMENT ON MATERIALIZED VIEW oms.%I IS %L', m.report,
            pg_catalog.format('Materialized copy of oms.%s, refreshed by oms.refresh_reports() (oms.materialized_reports says as of when). %s',
                              m.source, pg_catalog.obj_description(pg_catalog.format('oms.%I', m.source)::pg_catalog.regclass, 'pg_class')));
        EXECUTE (SELECT pg_catalog.string_agg(pg_catalog.format('COMMENT ON COLUMN oms.%I.%I IS %L', m.report, a.attname,
                                                                pg_catalog.col_description(a.attrelid, a.attnum)), '; ')
                   FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid OPERATOR(pg_catalog.=) pg_catalog.format('oms.%I', m.source)::pg_catalog.regclass
                    AND a.attnum OPERATOR(pg_catalog.>) 0);
    END LOOP;
END $$;

-- grants as src/grants.sql gives them: PUBLIC gets nothing on the new
-- objects, oms_admin may use every sequence
REVOKE ALL ON ALL TABLES IN SCHEMA oms FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA oms FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA oms FROM PUBLIC;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA oms TO oms_admin;

-- ===========================================================================
-- order edits, line cancels and substitutes (issue 16): oms.edit_order,
-- oms.cancel_lines, oms.order_versions, oms.product_substitutes,
-- oms.product_substitutes_available, oms.send_follow_ups; order lines record
-- substituted_for; routing decisions of edits; the confirmation names
-- substitutions
-- ===========================================================================
ALTER TABLE oms.order_lines ADD COLUMN substituted_for bigint,
    ADD CONSTRAINT order_lines_substituted_for_fkey FOREIGN KEY (substituted_for) REFERENCES oms.products (id);
COMMENT ON COLUMN oms.order_lines.substituted_for IS 'The product the customer asked for, when this line''s product is a substitute (place_order "substitute": "allow", or edit_order)';
ALTER TABLE oms.routing_decisions DROP CONSTRAINT routing_decisions_trigger_chk,
    ADD CONSTRAINT routing_decisions_trigger_chk CHECK (trigger OPERATOR(pg_catalog.~) '^(place_order|reroute|edit_order)$');
COMMENT ON COLUMN oms.routing_decisions.trigger IS 'place_order, reroute after a rejection, or edit_order (added units, a changed ship-to)';
UPDATE oms.message_templates SET body = E'Hello {{customer_name}},\n\nthank you for your order {{order_ref}}. We have received your payment and are preparing:\n{{items}}\nTotal: {{total}} {{currency}}\n{{substitutions}}\nWe will let you know when it ships.'
 WHERE kind OPERATOR(pg_catalog.=) 'order_confirmed' AND channel OPERATOR(pg_catalog.=) 'email' AND seeded;
COMMENT ON COLUMN oms.message_templates.body IS 'Body text, with placeholders: customer_name, order_ref, order_id, total, currency, status, reason, amount, items, carrier, service, tracking_number, tracking_url, parcel_items, substitutions';

-- (render_notification: see the end of the purchasing section, which holds every area's change to it)

-- ===========================================================================
-- order edits, line cancels and substitutes: oms.edit_order,
-- oms.cancel_lines, oms.order_versions, oms.product_substitutes,
-- oms.send_follow_ups (src/order_edit.c, src/order_edit_apply.c,
-- src/order_substitute.c)
-- ===========================================================================

CREATE TABLE oms.order_versions (
    order_id      bigint      NOT NULL,
    version       integer     NOT NULL,
    edit_id       text,
    request_hash  bytea,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    actor         text        NOT NULL DEFAULT SESSION_USER,
    kind          text        NOT NULL,
    reason        text,
    document      jsonb       NOT NULL,
    changes       jsonb,
    CONSTRAINT order_versions_pkey PRIMARY KEY (order_id, version),
    CONSTRAINT order_versions_edit_id_key UNIQUE (order_id, edit_id),
    CONSTRAINT order_versions_order_fkey FOREIGN KEY (order_id) REFERENCES oms.orders (id),
    CONSTRAINT order_versions_version_chk CHECK (version OPERATOR(pg_catalog.>) 0),
    CONSTRAINT order_versions_kind_chk CHECK (kind OPERATOR(pg_catalog.~) '^(placed|edit_order|cancel_lines)$'),
    CONSTRAINT order_versions_edit_id_chk CHECK (pg_catalog.length(edit_id) OPERATOR(pg_catalog.<=) 200),
    CONSTRAINT order_versions_no_card_number_chk CHECK (NOT oms.contains_card_number(COALESCE(reason, ''))
        AND NOT oms.contains_card_number(COALESCE(edit_id, '')))
);
COMMENT ON TABLE oms.order_versions IS 'Every version of an edited order: version 1 is the order as placed (written by its first edit), each edit_order or cancel_lines adds the next';
COMMENT ON COLUMN oms.order_versions.order_id IS 'The order';
COMMENT ON COLUMN oms.order_versions.version IS 'Version number, from 1 (as placed)';
COMMENT ON COLUMN oms.order_versions.edit_id IS 'The caller''s idempotency key of the edit; a retry with the same edit_id is a replay';
COMMENT ON COLUMN oms.order_versions.request_hash IS 'SHA-256 of the edit request, to tell a retry from a different edit reusing the edit_id';
COMMENT ON COLUMN oms.order_versions.created_at IS 'When the version was made';
COMMENT ON COLUMN oms.order_versions.actor IS 'Login role that made the edit';
COMMENT ON COLUMN oms.order_versions.kind IS 'placed (version 1), edit_order or cancel_lines';
COMMENT ON COLUMN oms.order_versions.reason IS 'Why, when given';
COMMENT ON COLUMN oms.order_versions.document IS 'The order document (oms.get_order) of this version';
COMMENT ON COLUMN oms.order_versions.changes IS 'What the edit changed: per line and for the order, before and after; NULL for version 1';

CREATE TABLE oms.product_substitutes (
    product_id     bigint  NOT NULL,
    substitute_id  bigint  NOT NULL,
    rank           integer NOT NULL DEFAULT 1,
    reason         text,
    CONSTRAINT product_substitutes_pkey PRIMARY KEY (product_id, substitute_id),
    CONSTRAINT product_substitutes_product_fkey FOREIGN KEY (product_id) REFERENCES oms.products (id),
    CONSTRAINT product_substitutes_substitute_fkey FOREIGN KEY (substitute_id) REFERENCES oms.products (id),
    CONSTRAINT product_substitutes_self_chk CHECK (product_id OPERATOR(pg_catalog.<>) substitute_id),
    CONSTRAINT product_substitutes_rank_chk CHECK (rank OPERATOR(pg_catalog.>) 0),
    CONSTRAINT product_substitutes_reason_chk CHECK (pg_catalog.length(reason) OPERATOR(pg_catalog.<=) 1000)
);
CREATE INDEX product_substitutes_substitute_idx ON oms.product_substitutes (substitute_id);
COMMENT ON TABLE oms.product_substitutes IS 'Products that may stand in for another when it is out of stock, best rank first; maintained by oms_admin';
COMMENT ON COLUMN oms.product_substitutes.product_id IS 'The product asked for';
COMMENT ON COLUMN oms.product_substitutes.substitute_id IS 'A product that may be sent instead';
COMMENT ON COLUMN oms.product_substitutes.rank IS 'Preference, 1 first; ties by sku';
COMMENT ON COLUMN oms.product_substitutes.reason IS 'Why it is a fair substitute (shown to support staff)';
CREATE TRIGGER product_substitutes_no_card_number BEFORE INSERT OR UPDATE ON oms.product_substitutes
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('reason');

CREATE FUNCTION oms.edit_order(order_id bigint, edit jsonb)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'edit_order';
COMMENT ON FUNCTION oms.edit_order(bigint, jsonb)
    IS 'Change a placed order atomically: quantities, added and removed lines, substitutes, prices, ship-to (re-routed); stock, money, status and a new version follow; idempotent per edit_id';

CREATE FUNCTION oms.cancel_lines(order_id bigint, cancel jsonb)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'cancel_lines';
COMMENT ON FUNCTION oms.cancel_lines(bigint, jsonb)
    IS 'Cancel unshipped units of lines (also the rest of a partially shipped order): stock released, money refunded, status follows; idempotent per edit_id';

CREATE FUNCTION oms.product_substitutes_available(sku text)
    RETURNS TABLE (substitute text, rank integer, available bigint, reason text)
    LANGUAGE c STABLE STRICT PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'product_substitutes_available';
COMMENT ON FUNCTION oms.product_substitutes_available(text)
    IS 'The substitutes of a product, best first, with the units available at active locations';

CREATE FUNCTION oms.send_follow_ups()
    RETURNS integer
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'send_follow_ups';
COMMENT ON FUNCTION oms.send_follow_ups()
    IS 'Sweep: emit order_follow_up once per order delivered oms.follow_up_days days ago or more; returns the number of events';

INSERT INTO oms.message_templates (kind, subject, body, seeded) VALUES
    ('order_edited', 'Your order {{order_ref}} has been changed',
     E'Hello {{customer_name}},\n\nyour order {{order_ref}} has been changed as you asked. It now holds:\n{{items}}\nTotal: {{total}} {{currency}}', true),
    ('order_follow_up', 'How is your order {{order_ref}}?',
     E'Hello {{customer_name}},\n\nyour order {{order_ref}} arrived a few days ago. We hope everything is right; if not, reply to this message and we will sort it out.', true);
SELECT pg_catalog.pg_extension_config_dump('oms.order_versions', '');
SELECT pg_catalog.pg_extension_config_dump('oms.product_substitutes', '');

-- Order edits and substitutes (src/order_edit.sql): applications edit and
-- cancel lines through the API and read the versions; oms_admin maintains
-- the substitutes with plain SQL; the follow-up sweep is run by pg_cron or a
-- worker under either role.
GRANT SELECT ON oms.order_versions TO oms_admin, oms_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON oms.product_substitutes TO oms_admin;
GRANT SELECT ON oms.product_substitutes TO oms_app;
GRANT EXECUTE ON FUNCTION
    oms.edit_order(bigint, jsonb), oms.cancel_lines(bigint, jsonb),
    oms.product_substitutes_available(text), oms.send_follow_ups()
    TO oms_admin, oms_app;
-- PUBLIC gets nothing on the new functions (src/grants.sql revokes all)
REVOKE ALL ON FUNCTION oms.edit_order(bigint, jsonb), oms.cancel_lines(bigint, jsonb),
    oms.product_substitutes_available(text), oms.send_follow_ups() FROM PUBLIC;

-- ===========================================================================
-- ---- purchasing (issue 17): suppliers, purchase orders, incoming stock,
-- ---- damaged stock, inventory value (src/purchasing.sql, src/inventory.sql,
-- ---- src/ledger.sql, src/events.sql, src/reports.sql, src/check.sql,
-- ---- src/grants.sql)
-- ===========================================================================

-- new movement kinds: damage and repair (src/inventory.sql)
ALTER TABLE oms.stock_movements
    DROP CONSTRAINT stock_movements_kind_chk,
    ADD CONSTRAINT stock_movements_kind_chk CHECK (kind OPERATOR(pg_catalog.~)
        '^(receipt|adjustment|safety_stock|reservation|release|expiry|shipment|return_restock|return_damaged|write_off|damage|repair)$');
COMMENT ON COLUMN oms.stock_movements.kind IS 'receipt, adjustment, safety_stock, reservation, release, expiry, shipment, return_restock, return_damaged, write_off, damage or repair';

-- the value of the stock in the journal: accounts, rules, entry kinds (src/ledger.sql)
ALTER TABLE oms.journal_rules
    DROP CONSTRAINT journal_rules_event_chk,
    ADD CONSTRAINT journal_rules_event_chk CHECK (event OPERATOR(pg_catalog.=) ANY (ARRAY[
        'capture_cash', 'capture_gift_card', 'capture_store_credit',
        'shipment_revenue', 'shipment_tax',
        'refund_cash', 'refund_gift_card', 'refund_store_credit',
        'return_refund_cash', 'return_refund_gift_card', 'return_refund_store_credit',
        'gift_card_issue', 'store_credit_issue',
        'inventory_receipt', 'cogs', 'inventory_write_off']));
ALTER TABLE oms.journal_entries
    DROP CONSTRAINT journal_entries_kind_chk,
    ADD CONSTRAINT journal_entries_kind_chk CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['capture', 'shipment', 'refund',
        'gift_card_issue', 'store_credit_issue', 'manual', 'inventory_receipt', 'cogs', 'write_off']));
COMMENT ON COLUMN oms.journal_rules.event IS 'Business event: capture_*, shipment_revenue, shipment_tax, refund_* (cancellations and manual refunds), return_refund_* (RMAs), gift_card_issue, store_credit_issue, inventory_receipt, cogs, inventory_write_off';
COMMENT ON COLUMN oms.journal_entries.kind IS 'capture, shipment, refund, gift_card_issue, store_credit_issue, manual, inventory_receipt, cogs or write_off';
-- purchasing: the value of the stock (src/valuation.c)
INSERT INTO oms.accounts (code, name, kind, seeded) VALUES
    ('inventory', 'Inventory (stock at moving average cost)', 'asset', true),
    ('goods_received_not_invoiced', 'Goods received not invoiced (suppliers)', 'liability', true),
    ('cost_of_goods_sold', 'Cost of goods sold', 'expense', true),
    ('inventory_loss', 'Inventory loss (damaged and written-off stock)', 'expense', true);
INSERT INTO oms.journal_rules (event, debit_account, credit_account, description, seeded) VALUES
    ('inventory_receipt', 'inventory', 'goods_received_not_invoiced', 'Goods received against a purchase order, at their cost', true),
    ('cogs', 'cost_of_goods_sold', 'inventory', 'Cost of the units shipped, at moving average cost', true),
    ('inventory_write_off', 'inventory_loss', 'inventory', 'Units written off, at moving average cost', true);

-- the purchasing area (src/purchasing.sql, as it is)

-- ===========================================================================
-- purchasing: suppliers, purchase orders, incoming stock, automatic
-- proposals, receiving against purchase orders, damaged stock and the
-- value of the stock (src/purchasing.c, src/po_receive.c,
-- src/stock_damage.c, src/valuation.c)
--
-- Purchase order statuses are data (oms.purchase_order_statuses, with
-- their capabilities as columns, and oms.purchase_order_transitions); a C
-- trigger holds every status change to the transition table. Incoming
-- stock is derived, never stored: the units still owed by the lines of
-- purchase orders whose status is open. Stock is valued at moving average
-- cost per product (oms.inventory_valuation), every change of value is a
-- valued movement (oms.valued_movements) with its journal entry, and
-- oms.check() holds the valuation to the sum of its movements and to the
-- journal's inventory account (invariant 12).
--
-- This part is assembled after the lifecycle part: the backorder ETA view
-- reads orders and their statuses. In the C layers purchasing sits between
-- inventory and orders (README, Contributing).
-- ===========================================================================

CREATE TABLE oms.suppliers (
    id          serial      NOT NULL,
    code        text        NOT NULL,
    name        text        NOT NULL,
    email       text,
    address     text,
    active      boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT suppliers_pkey PRIMARY KEY (id),
    CONSTRAINT suppliers_code_key UNIQUE (code),
    CONSTRAINT suppliers_code_chk CHECK (code OPERATOR(pg_catalog.~) '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$'),
    CONSTRAINT suppliers_name_chk CHECK (pg_catalog.length(pg_catalog.btrim(name)) OPERATOR(pg_catalog.>) 0
        AND pg_catalog.length(name) OPERATOR(pg_catalog.<=) 200),
    CONSTRAINT suppliers_text_chk CHECK (pg_catalog.length(email) OPERATOR(pg_catalog.<=) 254
        AND pg_catalog.length(address) OPERATOR(pg_catalog.<=) 1000)
);
COMMENT ON TABLE oms.suppliers IS 'Vendors that purchase orders go to; maintained by oms_admin with plain SQL';
COMMENT ON COLUMN oms.suppliers.id IS 'Surrogate key';
COMMENT ON COLUMN oms.suppliers.code IS 'Supplier code, the key the API uses';
COMMENT ON COLUMN oms.suppliers.name IS 'Supplier name, printed on purchase orders';
COMMENT ON COLUMN oms.suppliers.email IS 'Address purchase orders are sent to (by the integration that consumes purchase_order_sent)';
COMMENT ON COLUMN oms.suppliers.address IS 'Postal address, printed on purchase orders';
COMMENT ON COLUMN oms.suppliers.active IS 'Inactive suppliers get no proposals and no new purchase orders';
COMMENT ON COLUMN oms.suppliers.created_at IS 'Creation time';

CREATE TABLE oms.supplier_products (
    id              bigserial     NOT NULL,
    supplier_id     integer       NOT NULL,
    product_id      bigint        NOT NULL,
    location_id     integer,
    supplier_sku    text,
    unit_cost       numeric(14,4) NOT NULL,
    currency        text          NOT NULL,
    lead_time_days  integer       NOT NULL DEFAULT 7,
    min_order_qty   integer       NOT NULL DEFAULT 1,
    pack_size       integer       NOT NULL DEFAULT 1,
    preferred       boolean       NOT NULL DEFAULT false,
    CONSTRAINT supplier_products_pkey PRIMARY KEY (id),
    CONSTRAINT supplier_products_key UNIQUE NULLS NOT DISTINCT (supplier_id, product_id, location_id),
    CONSTRAINT supplier_products_supplier_fkey FOREIGN KEY (supplier_id) REFERENCES oms.suppliers (id),
    CONSTRAINT supplier_products_product_fkey FOREIGN KEY (product_id) REFERENCES oms.products (id),
    CONSTRAINT supplier_products_location_fkey FOREIGN KEY (location_id) REFERENCES oms.locations (id),
    CONSTRAINT supplier_products_sku_chk CHECK (pg_catalog.length(supplier_sku) OPERATOR(pg_catalog.<=) 64),
    CONSTRAINT supplier_products_cost_chk CHECK (unit_cost OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT supplier_products_currency_chk CHECK (currency OPERATOR(pg_catalog.~) '^[A-Z]{3}$'),
    CONSTRAINT supplier_products_counts_chk CHECK (lead_time_days OPERATOR(pg_catalog.>=) 0
        AND lead_time_days OPERATOR(pg_catalog.<=) 3650
        AND min_order_qty OPERATOR(pg_catalog.>=) 1 AND pack_size OPERATOR(pg_catalog.>=) 1
        AND min_order_qty OPERATOR(pg_catalog.<=) 1000000 AND pack_size OPERATOR(pg_catalog.<=) 1000000)
);
-- one preferred supplier per product and delivery location (NULL: any)
CREATE UNIQUE INDEX supplier_products_preferred_idx ON oms.supplier_products (product_id, COALESCE(location_id, 0)) WHERE preferred;
CREATE INDEX supplier_products_product_idx ON oms.supplier_products (product_id);
COMMENT ON TABLE oms.supplier_products IS 'What a supplier delivers: its sku, cost, lead time, minimum order and pack size, per product and optionally per delivery location';
COMMENT ON COLUMN oms.supplier_products.id IS 'Surrogate key';
COMMENT ON COLUMN oms.supplier_products.supplier_id IS 'The supplier';
COMMENT ON COLUMN oms.supplier_products.product_id IS 'The product (kind stock)';
COMMENT ON COLUMN oms.supplier_products.location_id IS 'The delivery location this offer is for; NULL: any location';
COMMENT ON COLUMN oms.supplier_products.supplier_sku IS 'The supplier''s own article number, printed on the purchase order';
COMMENT ON COLUMN oms.supplier_products.unit_cost IS 'Cost of one unit in currency';
COMMENT ON COLUMN oms.supplier_products.currency IS 'ISO 4217 currency of unit_cost';
COMMENT ON COLUMN oms.supplier_products.lead_time_days IS 'Days from sending a purchase order to the goods arriving';
COMMENT ON COLUMN oms.supplier_products.min_order_qty IS 'Fewest units per purchase order line';
COMMENT ON COLUMN oms.supplier_products.pack_size IS 'Units are ordered in multiples of this';
COMMENT ON COLUMN oms.supplier_products.preferred IS 'The supplier proposals pick for this product and location (one per product and location)';

CREATE TABLE oms.purchase_order_statuses (
    status       text    NOT NULL,
    open         boolean NOT NULL DEFAULT false,
    editable     boolean NOT NULL DEFAULT false,
    receivable   boolean NOT NULL DEFAULT false,
    cancellable  boolean NOT NULL DEFAULT false,
    terminal     boolean NOT NULL DEFAULT false,
    description  text    NOT NULL,
    seeded       boolean NOT NULL DEFAULT false,
    CONSTRAINT purchase_order_statuses_pkey PRIMARY KEY (status),
    CONSTRAINT purchase_order_statuses_status_chk CHECK (status OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,31}$'),
    CONSTRAINT purchase_order_statuses_terminal_chk CHECK (NOT (terminal AND (open OR editable OR receivable OR cancellable)))
);
COMMENT ON TABLE oms.purchase_order_statuses IS 'Statuses of purchase orders and what each allows (capabilities as data)';
COMMENT ON COLUMN oms.purchase_order_statuses.status IS 'Status name';
COMMENT ON COLUMN oms.purchase_order_statuses.open IS 'Units still owed by its lines count as incoming stock';
COMMENT ON COLUMN oms.purchase_order_statuses.editable IS 'Proposals may add to it (a draft)';
COMMENT ON COLUMN oms.purchase_order_statuses.receivable IS 'Goods may be received against it; its lines give backorders their expected date';
COMMENT ON COLUMN oms.purchase_order_statuses.cancellable IS 'cancel_purchase_order may cancel it';
COMMENT ON COLUMN oms.purchase_order_statuses.terminal IS 'Nothing more happens to it';
COMMENT ON COLUMN oms.purchase_order_statuses.description IS 'What the status means';
COMMENT ON COLUMN oms.purchase_order_statuses.seeded IS 'Installed by the extension (not dumped)';
INSERT INTO oms.purchase_order_statuses (status, open, editable, receivable, cancellable, terminal, description, seeded) VALUES
    ('draft', true, true, false, true, false, 'Proposed or entered, not sent to the supplier yet', true),
    ('sent', true, false, true, true, false, 'Sent to the supplier; goods expected', true),
    ('partially_received', true, false, true, false, false, 'Some goods received, more expected', true),
    ('received', false, false, false, false, true, 'Every unit ordered received', true),
    ('closed', false, false, false, false, true, 'Closed with units outstanding that are no longer expected', true),
    ('cancelled', false, false, false, false, true, 'Cancelled before anything was received', true);

CREATE TABLE oms.purchase_order_transitions (
    from_status  text    NOT NULL,
    to_status    text    NOT NULL,
    seeded       boolean NOT NULL DEFAULT false,
    CONSTRAINT purchase_order_transitions_pkey PRIMARY KEY (from_status, to_status),
    CONSTRAINT purchase_order_transitions_from_fkey FOREIGN KEY (from_status) REFERENCES oms.purchase_order_statuses (status),
    CONSTRAINT purchase_order_transitions_to_fkey FOREIGN KEY (to_status) REFERENCES oms.purchase_order_statuses (status)
);
COMMENT ON TABLE oms.purchase_order_transitions IS 'The status changes a purchase order may make; a trigger refuses every other';
COMMENT ON COLUMN oms.purchase_order_transitions.from_status IS 'Status before';
COMMENT ON COLUMN oms.purchase_order_transitions.to_status IS 'Status after';
COMMENT ON COLUMN oms.purchase_order_transitions.seeded IS 'Installed by the extension (not dumped)';
INSERT INTO oms.purchase_order_transitions (from_status, to_status, seeded) VALUES
    ('draft', 'sent', true), ('draft', 'cancelled', true),
    ('sent', 'partially_received', true), ('sent', 'received', true), ('sent', 'cancelled', true), ('sent', 'closed', true),
    ('partially_received', 'received', true), ('partially_received', 'closed', true);

CREATE TABLE oms.purchase_orders (
    id           bigserial   NOT NULL,
    supplier_id  integer     NOT NULL,
    location_id  integer     NOT NULL,
    currency     text        NOT NULL,
    status       text        NOT NULL DEFAULT 'draft',
    proposed     boolean     NOT NULL DEFAULT false,
    note         text,
    document     text,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    sent_at      timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT purchase_orders_pkey PRIMARY KEY (id),
    CONSTRAINT purchase_orders_supplier_fkey FOREIGN KEY (supplier_id) REFERENCES oms.suppliers (id),
    CONSTRAINT purchase_orders_location_fkey FOREIGN KEY (location_id) REFERENCES oms.locations (id),
    CONSTRAINT purchase_orders_status_fkey FOREIGN KEY (status) REFERENCES oms.purchase_order_statuses (status),
    CONSTRAINT purchase_orders_currency_chk CHECK (currency OPERATOR(pg_catalog.~) '^[A-Z]{3}$'),
    CONSTRAINT purchase_orders_note_chk CHECK (pg_catalog.length(note) OPERATOR(pg_catalog.<=) 1000)
);
CREATE INDEX purchase_orders_status_idx ON oms.purchase_orders (status);
CREATE INDEX purchase_orders_supplier_idx ON oms.purchase_orders (supplier_id, location_id);
COMMENT ON TABLE oms.purchase_orders IS 'Purchase orders: goods ordered from a supplier for one delivery location';
COMMENT ON COLUMN oms.purchase_orders.id IS 'Purchase order number';
COMMENT ON COLUMN oms.purchase_orders.supplier_id IS 'The supplier';
COMMENT ON COLUMN oms.purchase_orders.location_id IS 'Where the goods are delivered';
COMMENT ON COLUMN oms.purchase_orders.currency IS 'Currency of its unit costs';
COMMENT ON COLUMN oms.purchase_orders.status IS 'Status (oms.purchase_order_statuses)';
COMMENT ON COLUMN oms.purchase_orders.proposed IS 'Created by oms.propose_purchase_orders rather than by hand';
COMMENT ON COLUMN oms.purchase_orders.note IS 'Free text, printed on the document';
COMMENT ON COLUMN oms.purchase_orders.document IS 'The text document as sent (send_purchase_order)';
COMMENT ON COLUMN oms.purchase_orders.created_at IS 'Creation time';
COMMENT ON COLUMN oms.purchase_orders.sent_at IS 'When it was sent to the supplier';
COMMENT ON COLUMN oms.purchase_orders.updated_at IS 'Time of the last change';

CREATE TABLE oms.purchase_order_lines (
    id                 bigserial     NOT NULL,
    purchase_order_id  bigint        NOT NULL,
    line_no            integer       NOT NULL,
    product_id         bigint        NOT NULL,
    supplier_sku       text,
    qty_ordered        integer       NOT NULL,
    qty_received       integer       NOT NULL DEFAULT 0,
    qty_damaged        integer       NOT NULL DEFAULT 0,
    unit_cost          numeric(14,4) NOT NULL,
    expected_on        date,
    lead_time_days     integer       NOT NULL DEFAULT 0,
    CONSTRAINT purchase_order_lines_pkey PRIMARY KEY (id),
    CONSTRAINT purchase_order_lines_line_key UNIQUE (purchase_order_id, line_no),
    CONSTRAINT purchase_order_lines_product_key UNIQUE (purchase_order_id, product_id),
    CONSTRAINT purchase_order_lines_order_fkey FOREIGN KEY (purchase_order_id) REFERENCES oms.purchase_orders (id),
    CONSTRAINT purchase_order_lines_product_fkey FOREIGN KEY (product_id) REFERENCES oms.products (id),
    CONSTRAINT purchase_order_lines_qty_chk CHECK (qty_ordered OPERATOR(pg_catalog.>) 0 AND qty_received OPERATOR(pg_catalog.>=) 0
        AND qty_damaged OPERATOR(pg_catalog.>=) 0 AND qty_damaged OPERATOR(pg_catalog.<=) qty_received),
    CONSTRAINT purchase_order_lines_cost_chk CHECK (unit_cost OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT purchase_order_lines_lead_chk CHECK (lead_time_days OPERATOR(pg_catalog.>=) 0)
);
CREATE INDEX purchase_order_lines_product_idx ON oms.purchase_order_lines (product_id);
COMMENT ON TABLE oms.purchase_order_lines IS 'Lines of purchase orders: units ordered, received (damaged among them), cost and expected date';
COMMENT ON COLUMN oms.purchase_order_lines.id IS 'Surrogate key';
COMMENT ON COLUMN oms.purchase_order_lines.purchase_order_id IS 'The purchase order';
COMMENT ON COLUMN oms.purchase_order_lines.line_no IS 'Line number within the purchase order';
COMMENT ON COLUMN oms.purchase_order_lines.product_id IS 'The product';
COMMENT ON COLUMN oms.purchase_order_lines.supplier_sku IS 'The supplier''s article number';
COMMENT ON COLUMN oms.purchase_order_lines.qty_ordered IS 'Units ordered';
COMMENT ON COLUMN oms.purchase_order_lines.qty_received IS 'Units received so far, damaged ones included';
COMMENT ON COLUMN oms.purchase_order_lines.qty_damaged IS 'Units of qty_received that arrived damaged';
COMMENT ON COLUMN oms.purchase_order_lines.unit_cost IS 'Agreed cost of one unit in the order''s currency';
COMMENT ON COLUMN oms.purchase_order_lines.expected_on IS 'Expected arrival date; set from the lead time when the order is sent, unless given';
COMMENT ON COLUMN oms.purchase_order_lines.lead_time_days IS 'Lead time of the supplier offer, used for expected_on when the order is sent';

CREATE TABLE oms.purchase_order_receipts (
    id                 bigserial     NOT NULL,
    at                 timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    purchase_order_id  bigint        NOT NULL,
    line_id            bigint        NOT NULL,
    location_id        integer       NOT NULL,
    qty                integer       NOT NULL,
    condition          text          NOT NULL,
    unit_cost          numeric(14,4) NOT NULL,
    actor              text          NOT NULL DEFAULT SESSION_USER,
    CONSTRAINT purchase_order_receipts_pkey PRIMARY KEY (id),
    CONSTRAINT purchase_order_receipts_order_fkey FOREIGN KEY (purchase_order_id) REFERENCES oms.purchase_orders (id),
    CONSTRAINT purchase_order_receipts_line_fkey FOREIGN KEY (line_id) REFERENCES oms.purchase_order_lines (id),
    CONSTRAINT purchase_order_receipts_qty_chk CHECK (qty OPERATOR(pg_catalog.>) 0),
    CONSTRAINT purchase_order_receipts_condition_chk CHECK (condition OPERATOR(pg_catalog.=) ANY (ARRAY['sellable', 'damaged'])),
    CONSTRAINT purchase_order_receipts_cost_chk CHECK (unit_cost OPERATOR(pg_catalog.>=) 0)
);
CREATE INDEX purchase_order_receipts_order_idx ON oms.purchase_order_receipts (purchase_order_id);
COMMENT ON TABLE oms.purchase_order_receipts IS 'Goods received against purchase order lines, with their condition and invoiced cost';
COMMENT ON COLUMN oms.purchase_order_receipts.id IS 'Surrogate key';
COMMENT ON COLUMN oms.purchase_order_receipts.at IS 'When';
COMMENT ON COLUMN oms.purchase_order_receipts.purchase_order_id IS 'The purchase order';
COMMENT ON COLUMN oms.purchase_order_receipts.line_id IS 'The purchase order line';
COMMENT ON COLUMN oms.purchase_order_receipts.location_id IS 'Where the goods were received';
COMMENT ON COLUMN oms.purchase_order_receipts.qty IS 'Units received';
COMMENT ON COLUMN oms.purchase_order_receipts.condition IS 'sellable (on hand) or damaged';
COMMENT ON COLUMN oms.purchase_order_receipts.unit_cost IS 'Cost of one unit as received (the line''s cost unless the receipt gave one)';
COMMENT ON COLUMN oms.purchase_order_receipts.actor IS 'Login role that received';

-- One row per product that proposals have considered: the row that
-- serialises two proposals for the same product (src/purchasing.c).
CREATE TABLE oms.purchase_proposals (
    product_id         bigint      NOT NULL,
    proposed_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    purchase_order_id  bigint,
    qty                integer     NOT NULL DEFAULT 0,
    CONSTRAINT purchase_proposals_pkey PRIMARY KEY (product_id),
    CONSTRAINT purchase_proposals_product_fkey FOREIGN KEY (product_id) REFERENCES oms.products (id)
);
COMMENT ON TABLE oms.purchase_proposals IS 'Per product, the last proposal run that considered it and what it added (also its lock: two proposals for one product take turns)';
COMMENT ON COLUMN oms.purchase_proposals.product_id IS 'The product';
COMMENT ON COLUMN oms.purchase_proposals.proposed_at IS 'Time of the last proposal run for it';
COMMENT ON COLUMN oms.purchase_proposals.purchase_order_id IS 'Purchase order that run added to, if any';
COMMENT ON COLUMN oms.purchase_proposals.qty IS 'Units that run added (0: none needed)';

-- ---- incoming stock ---------------------------------------------------------

CREATE VIEW oms.incoming_stock AS
SELECT pl.product_id, po.location_id,
       pg_catalog.sum(GREATEST(pl.qty_ordered OPERATOR(pg_catalog.-) pl.qty_received, 0))::integer AS qty,
       pg_catalog.min(pl.expected_on) FILTER (WHERE s.receivable) AS next_expected_on
  FROM oms.purchase_order_lines pl
  JOIN oms.purchase_orders po ON po.id OPERATOR(pg_catalog.=) pl.purchase_order_id
  JOIN oms.purchase_order_statuses s ON s.status OPERATOR(pg_catalog.=) po.status
 WHERE s.open AND pl.qty_received OPERATOR(pg_catalog.<) pl.qty_ordered
 GROUP BY pl.product_id, po.location_id;
COMMENT ON VIEW oms.incoming_stock IS 'Units still owed by open purchase orders, per product and delivery location (not sellable until received)';
COMMENT ON COLUMN oms.incoming_stock.product_id IS 'The product';
COMMENT ON COLUMN oms.incoming_stock.location_id IS 'The delivery location';
COMMENT ON COLUMN oms.incoming_stock.qty IS 'Units ordered and not received yet';
COMMENT ON COLUMN oms.incoming_stock.next_expected_on IS 'Earliest expected date among the lines already sent';

-- stock_levels (src/inventory.sql) gains the incoming units, as its last column
CREATE OR REPLACE VIEW oms.stock_levels AS
SELECT p.sku, l.code AS location, b.on_hand, b.reserved, b.damaged, b.safety_stock,
       pg_catalog.int4larger(b.on_hand OPERATOR(pg_catalog.-) b.reserved OPERATOR(pg_catalog.-) b.safety_stock, 0) AS available,
       COALESCE(i.qty, 0) AS incoming
  FROM oms.stock_balances b
  JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) b.product_id
  JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) b.location_id
  LEFT JOIN oms.incoming_stock i ON i.product_id OPERATOR(pg_catalog.=) b.product_id
       AND i.location_id OPERATOR(pg_catalog.=) b.location_id;
COMMENT ON COLUMN oms.stock_levels.incoming IS 'Units on open purchase orders for this location, not received yet (not sellable, not in available)';

-- ---- backorder ETA ----------------------------------------------------------
-- A backordered stock line is expected when the receivable purchase order
-- lines, taken by expected date, have covered every backorder of the
-- product that is filled before it (VIP orders, then oldest: the order
-- InventoryFillBackorders fills in). Kit lines are covered per component:
-- the latest component date. No date: nothing ordered covers it yet.
CREATE VIEW oms.backorder_eta AS
WITH demand AS (
    SELECT l.id AS order_line_id, l.order_id, l.line_no, c.product_id, l.qty_backordered OPERATOR(pg_catalog.*) c.per AS units,
           pg_catalog.sum(l.qty_backordered OPERATOR(pg_catalog.*) c.per) OVER (PARTITION BY c.product_id
               ORDER BY ('vip' OPERATOR(pg_catalog.=) ANY (o.flags) OR 'vip' OPERATOR(pg_catalog.=) ANY (COALESCE(cu.flags, '{}'))) DESC,
                        o.placed_at, o.id, l.line_no ROWS UNBOUNDED PRECEDING) AS cum
      FROM oms.order_lines l
      JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) l.order_id
      JOIN oms.order_statuses st ON st.status OPERATOR(pg_catalog.=) o.status
      LEFT JOIN oms.customers cu ON cu.id OPERATOR(pg_catalog.=) o.customer_id
      CROSS JOIN LATERAL (SELECT l.product_id, 1
                           WHERE NOT EXISTS (SELECT FROM oms.kit_components k WHERE k.kit_id OPERATOR(pg_catalog.=) l.product_id)
                          UNION ALL
                          SELECT k.component_id, k.qty FROM oms.kit_components k WHERE k.kit_id OPERATOR(pg_catalog.=) l.product_id) c(product_id, per)
     WHERE l.qty_backordered OPERATOR(pg_catalog.>) 0 AND st.holds_stock),
supply AS (
    SELECT pl.product_id, pl.expected_on,
           pg_catalog.sum(pl.qty_ordered OPERATOR(pg_catalog.-) pl.qty_received) OVER (PARTITION BY pl.product_id
               ORDER BY pl.expected_on, pl.id ROWS UNBOUNDED PRECEDING) AS cum
      FROM oms.purchase_order_lines pl
      JOIN oms.purchase_orders po ON po.id OPERATOR(pg_catalog.=) pl.purchase_order_id
      JOIN oms.purchase_order_statuses s ON s.status OPERATOR(pg_catalog.=) po.status
     WHERE s.receivable AND pl.qty_received OPERATOR(pg_catalog.<) pl.qty_ordered AND pl.expected_on IS NOT NULL)
SELECT d.order_line_id, pg_catalog.min(d.order_id) AS order_id, pg_catalog.min(d.line_no) AS line_no,
       CASE WHEN pg_catalog.bool_and(e.expected_on IS NOT NULL) THEN pg_catalog.max(e.expected_on) END AS expected_on
  FROM demand d
  LEFT JOIN LATERAL (SELECT pg_catalog.min(s.expected_on) AS expected_on FROM supply s
                      WHERE s.product_id OPERATOR(pg_catalog.=) d.product_id AND s.cum OPERATOR(pg_catalog.>=) d.cum) e ON true
 GROUP BY d.order_line_id;
COMMENT ON VIEW oms.backorder_eta IS 'Expected date of each backordered order line: the earliest date by which sent purchase orders cover it and every backorder filled before it';
COMMENT ON COLUMN oms.backorder_eta.order_line_id IS 'The order line';
COMMENT ON COLUMN oms.backorder_eta.order_id IS 'The order';
COMMENT ON COLUMN oms.backorder_eta.line_no IS 'Line number';
COMMENT ON COLUMN oms.backorder_eta.expected_on IS 'Expected date, NULL when no sent purchase order covers it yet';

-- ---- valuation --------------------------------------------------------------
-- Moving average cost per product, over all locations (src/valuation.c
-- says why): qty units carry value; a receipt adds its units at their
-- cost, a shipment or write-off takes units at the average.

CREATE TABLE oms.inventory_valuation (
    product_id  bigint        NOT NULL,
    currency    text          NOT NULL,
    qty         bigint        NOT NULL DEFAULT 0,
    value       numeric(18,4) NOT NULL DEFAULT 0,
    updated_at  timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT inventory_valuation_pkey PRIMARY KEY (product_id),
    CONSTRAINT inventory_valuation_product_fkey FOREIGN KEY (product_id) REFERENCES oms.products (id),
    CONSTRAINT inventory_valuation_currency_chk CHECK (currency OPERATOR(pg_catalog.~) '^[A-Z]{3}$'),
    CONSTRAINT inventory_valuation_bounds_chk CHECK (qty OPERATOR(pg_catalog.>=) 0 AND value OPERATOR(pg_catalog.>=) 0
        AND (qty OPERATOR(pg_catalog.>) 0 OR value OPERATOR(pg_catalog.=) 0))
);
COMMENT ON TABLE oms.inventory_valuation IS 'Value of the stock per product at moving average cost; written only together with a valued movement';
COMMENT ON COLUMN oms.inventory_valuation.product_id IS 'The product';
COMMENT ON COLUMN oms.inventory_valuation.currency IS 'Currency the product is valued in (that of its first valued receipt)';
COMMENT ON COLUMN oms.inventory_valuation.qty IS 'Units carrying value (received with a cost, not yet shipped or written off)';
COMMENT ON COLUMN oms.inventory_valuation.value IS 'Their value; value / qty is the moving average unit cost';
COMMENT ON COLUMN oms.inventory_valuation.updated_at IS 'Time of the last change';

CREATE TABLE oms.valued_movements (
    id                 bigserial     NOT NULL,
    at                 timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    product_id         bigint        NOT NULL,
    currency           text          NOT NULL,
    kind               text          NOT NULL,
    qty                integer       NOT NULL,
    value              numeric(18,4) NOT NULL,
    purchase_order_id  bigint,
    order_id           bigint,
    shipment_id        bigint,
    journal_entry_id   bigint,
    CONSTRAINT valued_movements_pkey PRIMARY KEY (id),
    CONSTRAINT valued_movements_kind_chk CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['receipt', 'shipment', 'write_off'])),
    CONSTRAINT valued_movements_currency_chk CHECK (currency OPERATOR(pg_catalog.~) '^[A-Z]{3}$')
);
CREATE INDEX valued_movements_product_idx ON oms.valued_movements (product_id);
CREATE INDEX valued_movements_order_idx ON oms.valued_movements (order_id) WHERE order_id IS NOT NULL;
COMMENT ON TABLE oms.valued_movements IS 'Append-only: every change of inventory value (receipts at cost, shipments and write-offs at average cost) with its journal entry';
COMMENT ON COLUMN oms.valued_movements.id IS 'Sequence number';
COMMENT ON COLUMN oms.valued_movements.at IS 'Transaction time';
COMMENT ON COLUMN oms.valued_movements.product_id IS 'The product';
COMMENT ON COLUMN oms.valued_movements.currency IS 'Currency of value';
COMMENT ON COLUMN oms.valued_movements.kind IS 'receipt, shipment (cost of goods sold) or write_off';
COMMENT ON COLUMN oms.valued_movements.qty IS 'Units in (positive) or out (negative)';
COMMENT ON COLUMN oms.valued_movements.value IS 'Value in (positive) or out (negative)';
COMMENT ON COLUMN oms.valued_movements.purchase_order_id IS 'The purchase order of a receipt';
COMMENT ON COLUMN oms.valued_movements.order_id IS 'The order of a shipment';
COMMENT ON COLUMN oms.valued_movements.shipment_id IS 'The shipment';
COMMENT ON COLUMN oms.valued_movements.journal_entry_id IS 'The journal entry that posted it';

CREATE FUNCTION oms.valuation_append_only() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'valuation_append_only';
COMMENT ON FUNCTION oms.valuation_append_only() IS 'Trigger: valued movements are append-only';
CREATE TRIGGER valued_movements_append_only
    BEFORE UPDATE OR DELETE ON oms.valued_movements
    FOR EACH ROW EXECUTE FUNCTION oms.valuation_append_only();
CREATE TRIGGER valued_movements_no_truncate
    BEFORE TRUNCATE ON oms.valued_movements
    FOR EACH STATEMENT EXECUTE FUNCTION oms.valuation_append_only();

-- ---- status guard -----------------------------------------------------------

CREATE FUNCTION oms.purchase_order_transition() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'purchase_order_transition';
COMMENT ON FUNCTION oms.purchase_order_transition() IS 'Trigger: a purchase order changes status only along oms.purchase_order_transitions';
CREATE TRIGGER purchase_orders_transition
    BEFORE UPDATE OF status ON oms.purchase_orders
    FOR EACH ROW EXECUTE FUNCTION oms.purchase_order_transition();

-- ---- functions --------------------------------------------------------------

CREATE FUNCTION oms.create_purchase_order(supplier text, location text, lines jsonb, note text DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'create_purchase_order';
COMMENT ON FUNCTION oms.create_purchase_order(text, text, jsonb, text)
    IS 'Enter a draft purchase order by hand: lines [{sku, qty, unit_cost?, expected_on?}]; cost and lead time default to the supplier''s offer';

CREATE FUNCTION oms.propose_purchase_orders(location text DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'propose_purchase_orders';
COMMENT ON FUNCTION oms.propose_purchase_orders(text)
    IS 'Create or extend draft purchase orders for products at or below their reorder point or with backorders beyond their stock; preferred supplier, MOQ and pack size; idempotent';

CREATE FUNCTION oms.send_purchase_order(purchase_order_id bigint)
    RETURNS jsonb
    LANGUAGE c VOLATILE STRICT PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'send_purchase_order';
COMMENT ON FUNCTION oms.send_purchase_order(bigint)
    IS 'Send a draft purchase order: expected dates from lead times, the text document rendered and stored, event purchase_order_sent';

CREATE FUNCTION oms.purchase_order_document(purchase_order_id bigint)
    RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'purchase_order_document';
COMMENT ON FUNCTION oms.purchase_order_document(bigint)
    IS 'The purchase order as a text document (supplier, delivery address, lines with supplier skus, quantities, costs, dates)';

CREATE FUNCTION oms.cancel_purchase_order(purchase_order_id bigint, reason text)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'cancel_purchase_order';
COMMENT ON FUNCTION oms.cancel_purchase_order(bigint, text)
    IS 'Cancel a purchase order that nothing was received against (draft or sent)';

CREATE FUNCTION oms.close_purchase_order(purchase_order_id bigint, reason text)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'close_purchase_order';
COMMENT ON FUNCTION oms.close_purchase_order(bigint, text)
    IS 'Close a sent or partly received purchase order short: the units outstanding are no longer expected';

CREATE FUNCTION oms.get_purchase_order(purchase_order_id bigint)
    RETURNS jsonb
    LANGUAGE c STABLE STRICT PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'get_purchase_order';
COMMENT ON FUNCTION oms.get_purchase_order(bigint)
    IS 'A purchase order with its lines, units received and expected dates';

CREATE FUNCTION oms.receive_purchase_order(purchase_order_id bigint, location text, lines jsonb)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'receive_purchase_order';
COMMENT ON FUNCTION oms.receive_purchase_order(bigint, text, jsonb)
    IS 'Receive goods against a purchase order: [{line|sku, qty, condition?, unit_cost?}]; sellable units fill backorders, damaged units go to damaged; values the receipt and posts it';

CREATE FUNCTION oms.incoming(sku text, location text DEFAULT NULL)
    RETURNS integer
    LANGUAGE c STABLE PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'incoming';
COMMENT ON FUNCTION oms.incoming(text, text)
    IS 'Units of a product on open purchase orders, at a location or everywhere; never part of oms.available()';

CREATE FUNCTION oms.mark_damaged(sku text, location text, qty integer, reason text)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mark_damaged';
COMMENT ON FUNCTION oms.mark_damaged(text, text, integer, text)
    IS 'Move sellable units that are not reserved to damaged (movement kind damage)';

CREATE FUNCTION oms.repair(sku text, location text, qty integer, reason text)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'repair';
COMMENT ON FUNCTION oms.repair(text, text, integer, text)
    IS 'Move damaged units back to sellable (movement kind repair); fills waiting backorders';

CREATE FUNCTION oms.write_off(sku text, location text, qty integer, reason text, condition text DEFAULT 'damaged')
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'write_off';
COMMENT ON FUNCTION oms.write_off(text, text, integer, text, text)
    IS 'Remove damaged (or unreserved sellable) units for good (movement kind write_off); their value goes to inventory loss';

SELECT pg_catalog.pg_extension_config_dump('oms.suppliers', '');
SELECT pg_catalog.pg_extension_config_dump('oms.suppliers_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.supplier_products', '');
SELECT pg_catalog.pg_extension_config_dump('oms.supplier_products_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.purchase_order_statuses', 'WHERE NOT seeded');
SELECT pg_catalog.pg_extension_config_dump('oms.purchase_order_transitions', 'WHERE NOT seeded');
SELECT pg_catalog.pg_extension_config_dump('oms.purchase_orders', '');
SELECT pg_catalog.pg_extension_config_dump('oms.purchase_orders_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.purchase_order_lines', '');
SELECT pg_catalog.pg_extension_config_dump('oms.purchase_order_lines_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.purchase_order_receipts', '');
SELECT pg_catalog.pg_extension_config_dump('oms.purchase_order_receipts_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.purchase_proposals', '');
SELECT pg_catalog.pg_extension_config_dump('oms.inventory_valuation', '');
SELECT pg_catalog.pg_extension_config_dump('oms.valued_movements', '');
SELECT pg_catalog.pg_extension_config_dump('oms.valued_movements_id_seq', '');

-- Card-number guard: the free text that oms_admin writes with plain SQL
CREATE TRIGGER suppliers_no_card_number BEFORE INSERT OR UPDATE ON oms.suppliers
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('name', 'email', 'address');
CREATE TRIGGER supplier_products_no_card_number BEFORE INSERT OR UPDATE ON oms.supplier_products
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('supplier_sku');
CREATE TRIGGER purchase_order_statuses_no_card_number BEFORE INSERT OR UPDATE ON oms.purchase_order_statuses
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('description');
CREATE TRIGGER purchase_orders_no_card_number BEFORE INSERT OR UPDATE ON oms.purchase_orders
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('note');

-- the delay message names the expected date (src/events.sql)
-- (oms.render_notification(): once, at the end of this script, with every area's change)

-- ---------------------------------------------------------------------------
-- purchasing: purchase order reconciliation and gross margin (issue 17)
-- ---------------------------------------------------------------------------
CREATE VIEW oms.report_purchase_orders AS
SELECT po.id AS purchase_order_id, s.code AS supplier, l.code AS location, po.status, st.open, po.currency,
       po.created_at, po.sent_at, x.expected_on,
       st.receivable AND x.expected_on OPERATOR(pg_catalog.<) CURRENT_DATE AND x.outstanding OPERATOR(pg_catalog.>) 0 AS late,
       x.ordered, x.received, x.damaged, x.outstanding,
       x.ordered_value, x.received_value_ordered_cost, r.received_value,
       r.received_value OPERATOR(pg_catalog.-) x.received_value_ordered_cost AS cost_variance
  FROM oms.purchase_orders po
  JOIN oms.suppliers s ON s.id OPERATOR(pg_catalog.=) po.supplier_id
  JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) po.location_id
  JOIN oms.purchase_order_statuses st ON st.status OPERATOR(pg_catalog.=) po.status
  CROSS JOIN LATERAL (
      SELECT pg_catalog.min(pl.expected_on) FILTER (WHERE pl.qty_received OPERATOR(pg_catalog.<) pl.qty_ordered) AS expected_on,
             COALESCE(pg_catalog.sum(pl.qty_ordered), 0)::bigint AS ordered,
             COALESCE(pg_catalog.sum(pl.qty_received), 0)::bigint AS received,
             COALESCE(pg_catalog.sum(pl.qty_damaged), 0)::bigint AS damaged,
             COALESCE(pg_catalog.sum(GREATEST(pl.qty_ordered OPERATOR(pg_catalog.-) pl.qty_received, 0)) FILTER (WHERE st.open), 0)::bigint AS outstanding,
             COALESCE(pg_catalog.sum(pl.qty_ordered OPERATOR(pg_catalog.*) pl.unit_cost), 0) AS ordered_value,
             COALESCE(pg_catalog.sum(pl.qty_received OPERATOR(pg_catalog.*) pl.unit_cost), 0) AS received_value_ordered_cost
        FROM oms.purchase_order_lines pl WHERE pl.purchase_order_id OPERATOR(pg_catalog.=) po.id) x
  CROSS JOIN LATERAL (
      SELECT COALESCE(pg_catalog.sum(rc.qty OPERATOR(pg_catalog.*) rc.unit_cost), 0) AS received_value
        FROM oms.purchase_order_receipts rc WHERE rc.purchase_order_id OPERATOR(pg_catalog.=) po.id) r;
COMMENT ON VIEW oms.report_purchase_orders IS 'Purchase order reconciliation: per purchase order, units ordered, received (damaged among them) and outstanding, whether it is late, and the cost variance of what was received (received at invoiced cost - received at ordered cost)';
COMMENT ON COLUMN oms.report_purchase_orders.purchase_order_id IS 'Purchase order number';
COMMENT ON COLUMN oms.report_purchase_orders.supplier IS 'Supplier code';
COMMENT ON COLUMN oms.report_purchase_orders.location IS 'Delivery location code';
COMMENT ON COLUMN oms.report_purchase_orders.status IS 'Status';
COMMENT ON COLUMN oms.report_purchase_orders.open IS 'Its outstanding units count as incoming stock';
COMMENT ON COLUMN oms.report_purchase_orders.currency IS 'Currency of its costs';
COMMENT ON COLUMN oms.report_purchase_orders.created_at IS 'Created';
COMMENT ON COLUMN oms.report_purchase_orders.sent_at IS 'Sent to the supplier';
COMMENT ON COLUMN oms.report_purchase_orders.expected_on IS 'Earliest expected date of a line not fully received';
COMMENT ON COLUMN oms.report_purchase_orders.late IS 'Sent, units outstanding, and the earliest expected date has passed';
COMMENT ON COLUMN oms.report_purchase_orders.ordered IS 'Units ordered';
COMMENT ON COLUMN oms.report_purchase_orders.received IS 'Units received (damaged included)';
COMMENT ON COLUMN oms.report_purchase_orders.damaged IS 'Units received damaged';
COMMENT ON COLUMN oms.report_purchase_orders.outstanding IS 'Units still expected (0 once received, closed or cancelled)';
COMMENT ON COLUMN oms.report_purchase_orders.ordered_value IS 'Units ordered at the ordered cost';
COMMENT ON COLUMN oms.report_purchase_orders.received_value_ordered_cost IS 'Units received at the ordered cost';
COMMENT ON COLUMN oms.report_purchase_orders.received_value IS 'Units received at the cost they were received at';
COMMENT ON COLUMN oms.report_purchase_orders.cost_variance IS 'received_value - received_value_ordered_cost: positive when the supplier charged more than ordered';

-- Revenue is net of discounts, per shipped unit (as the journal recognises
-- it); COGS is the moving average cost the shipment took (valued
-- movements), a kit line carrying the cost of its components. A day is the
-- shipment's day in the server's time zone; currencies are not converted.
CREATE VIEW oms.report_gross_margin AS
SELECT (sh.shipped_at)::date AS day, c.code AS channel, p.sku, o.currency,
       pg_catalog.sum(sl.qty)::bigint AS units,
       pg_catalog.sum(pg_catalog.round((ol.unit_price OPERATOR(pg_catalog.*) ol.qty OPERATOR(pg_catalog.-) ol.discount)
           OPERATOR(pg_catalog.*) sl.qty OPERATOR(pg_catalog./) ol.qty, 4)) AS revenue,
       COALESCE(pg_catalog.sum(k.cost), 0) AS cogs,
       pg_catalog.sum(pg_catalog.round((ol.unit_price OPERATOR(pg_catalog.*) ol.qty OPERATOR(pg_catalog.-) ol.discount)
           OPERATOR(pg_catalog.*) sl.qty OPERATOR(pg_catalog./) ol.qty, 4)) OPERATOR(pg_catalog.-) COALESCE(pg_catalog.sum(k.cost), 0) AS gross_margin,
       COALESCE(pg_catalog.bool_and(k.valued), false) AS fully_valued
  FROM oms.shipment_lines sl
  JOIN oms.shipments sh ON sh.id OPERATOR(pg_catalog.=) sl.shipment_id AND sh.shipped_at IS NOT NULL
  JOIN oms.order_lines ol ON ol.id OPERATOR(pg_catalog.=) sl.order_line_id
  JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) ol.order_id
  JOIN oms.channels c ON c.id OPERATOR(pg_catalog.=) o.channel_id
  JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) ol.product_id
  LEFT JOIN LATERAL (
      SELECT pg_catalog.round(pg_catalog.sum(sl.qty OPERATOR(pg_catalog.*) comp.per
                 OPERATOR(pg_catalog.*) COALESCE(vm.value OPERATOR(pg_catalog./) NULLIF(vm.qty, 0), 0)), 4) AS cost,
             pg_catalog.bool_and(vm.qty IS NOT NULL) AS valued
        FROM (SELECT ol.product_id, 1 WHERE p.kind OPERATOR(pg_catalog.=) 'stock'
              UNION ALL
              SELECT kc.component_id, kc.qty FROM oms.kit_components kc WHERE kc.kit_id OPERATOR(pg_catalog.=) ol.product_id) comp(product_id, per)
        LEFT JOIN (SELECT v.product_id, pg_catalog.sum(v.qty) AS qty, pg_catalog.sum(v.value) AS value
                     FROM oms.valued_movements v
                    WHERE v.shipment_id OPERATOR(pg_catalog.=) sh.id AND v.kind OPERATOR(pg_catalog.=) 'shipment'
                    GROUP BY v.product_id) vm ON vm.product_id OPERATOR(pg_catalog.=) comp.product_id) k ON p.kind OPERATOR(pg_catalog.<>) 'service'
 GROUP BY 1, 2, 3, 4;
COMMENT ON VIEW oms.report_gross_margin IS 'Gross margin per day, channel and sku of what shipped: revenue (net of discounts) - cost of goods sold at moving average cost';
COMMENT ON COLUMN oms.report_gross_margin.day IS 'Day the units shipped';
COMMENT ON COLUMN oms.report_gross_margin.channel IS 'Sales channel code';
COMMENT ON COLUMN oms.report_gross_margin.sku IS 'Sku sold (a kit is reported as the kit)';
COMMENT ON COLUMN oms.report_gross_margin.currency IS 'Currency of the orders (revenue); cost is in the products'' valuation currency';
COMMENT ON COLUMN oms.report_gross_margin.units IS 'Units shipped';
COMMENT ON COLUMN oms.report_gross_margin.revenue IS 'Net revenue of the units shipped';
COMMENT ON COLUMN oms.report_gross_margin.cogs IS 'Cost of goods sold of the units shipped';
COMMENT ON COLUMN oms.report_gross_margin.gross_margin IS 'revenue - cogs';
COMMENT ON COLUMN oms.report_gross_margin.fully_valued IS 'Every unit shipped carried a cost (false: some stock was received without a cost, so cogs is understated)';

-- the oracle: invariant 12 (src/check.sql)
-- (oms.check(): once, at the end of this script, with every area's change)

-- Purchasing (issue 17): oms_admin maintains suppliers and their offers
-- with plain SQL and runs the purchase order flow; applications (the
-- warehouse app) receive goods, report damage and read purchase orders;
-- reporting reads the purchasing reports.
GRANT SELECT, INSERT, UPDATE, DELETE ON oms.suppliers, oms.supplier_products TO oms_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON oms.purchase_order_statuses, oms.purchase_order_transitions TO oms_admin;
GRANT SELECT ON oms.purchase_orders, oms.purchase_order_lines, oms.purchase_order_receipts, oms.purchase_proposals,
    oms.incoming_stock, oms.backorder_eta, oms.inventory_valuation, oms.valued_movements
    TO oms_admin;
GRANT SELECT ON oms.suppliers, oms.supplier_products, oms.purchase_order_statuses, oms.purchase_orders,
    oms.purchase_order_lines, oms.incoming_stock, oms.backorder_eta
    TO oms_app;
GRANT EXECUTE ON FUNCTION
    oms.create_purchase_order(text, text, jsonb, text), oms.propose_purchase_orders(text),
    oms.send_purchase_order(bigint), oms.cancel_purchase_order(bigint, text), oms.close_purchase_order(bigint, text),
    oms.write_off(text, text, integer, text, text)
    TO oms_admin;
GRANT EXECUTE ON FUNCTION
    oms.get_purchase_order(bigint), oms.purchase_order_document(bigint), oms.receive_purchase_order(bigint, text, jsonb),
    oms.incoming(text, text), oms.mark_damaged(text, text, integer, text), oms.repair(text, text, integer, text)
    TO oms_admin, oms_app;
GRANT EXECUTE ON FUNCTION oms.incoming(text, text) TO oms_reporting;
-- the status guard runs as the writer (oms_admin may add statuses and transitions)
GRANT EXECUTE ON FUNCTION oms.purchase_order_transition() TO oms_admin;
GRANT SELECT ON oms.report_purchase_orders, oms.report_gross_margin TO oms_reporting, oms_admin;
REVOKE ALL ON ALL TABLES IN SCHEMA oms FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA oms FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA oms FROM PUBLIC;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA oms TO oms_admin;

-- ---- stores: counter sales and the pickup handover (src/fulfillment.sql, src/stores.sql) ----
ALTER TABLE oms.shipments
    ADD COLUMN handover text,
    ADD COLUMN ready_at timestamptz,
    ADD COLUMN pickup_code_hash bytea,
    DROP CONSTRAINT shipments_shipped_chk,
    ADD CONSTRAINT shipments_shipped_chk CHECK ((status OPERATOR(pg_catalog.=) ANY (ARRAY['shipped', 'delivered']))
        OPERATOR(pg_catalog.=) (shipped_at IS NOT NULL AND (handover IS NOT NULL
            OR (carrier_id IS NOT NULL AND service_id IS NOT NULL AND tracking_number IS NOT NULL)))),
    ADD CONSTRAINT shipments_handover_chk CHECK (handover IS NULL OR (handover OPERATOR(pg_catalog.~) '^(counter|pickup)$'
        AND carrier_id IS NULL AND service_id IS NULL AND tracking_number IS NULL AND rate IS NULL)),
    ADD CONSTRAINT shipments_pickup_ready_chk CHECK ((ready_at IS NULL) OPERATOR(pg_catalog.=) (pickup_code_hash IS NULL)
        AND (pickup_code_hash IS NULL OR pg_catalog.length(pickup_code_hash) OPERATOR(pg_catalog.=) 32));
CREATE INDEX shipments_ready_idx ON oms.shipments (ready_at) WHERE status OPERATOR(pg_catalog.=) 'pending' AND ready_at IS NOT NULL;
COMMENT ON COLUMN oms.shipments.handover IS 'How it left without a carrier: counter (a counter sale) or pickup (handed over to the customer with the pickup code); NULL when a carrier took it';
COMMENT ON COLUMN oms.shipments.ready_at IS 'When it was made ready for pickup (oms.ready_for_pickup); uncollected pickups expire oms.pickup_expiry_days after';
COMMENT ON COLUMN oms.shipments.pickup_code_hash IS 'SHA-256 of the pickup code (the code itself is never stored on the shipment)';

CREATE FUNCTION oms.sell_at_counter(sale jsonb)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'sell_at_counter';
COMMENT ON FUNCTION oms.sell_at_counter(jsonb)
    IS 'Record a sale at a store''s counter in one call: the order (a pos channel), its payments (which must cover the total), the handover out of the store''s stock and completion; idempotent by (channel, external_id)';
CREATE FUNCTION oms.ready_for_pickup(shipment_id bigint)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'ready_for_pickup';
COMMENT ON FUNCTION oms.ready_for_pickup(bigint)
    IS 'A pickup shipment is packed and waits at its store: give it a pickup code (only its hash is kept on the shipment) and emit pickup_ready, the customer''s notification with the code';
CREATE FUNCTION oms.hand_over(shipment_id bigint, pickup_code text)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'hand_over';
COMMENT ON FUNCTION oms.hand_over(bigint, text)
    IS 'Hand a ready pickup shipment to the customer who shows its pickup code: it ships and is delivered without a carrier';
CREATE FUNCTION oms.expire_pickups()
    RETURNS integer
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'expire_pickups';
COMMENT ON FUNCTION oms.expire_pickups()
    IS 'The pickup sweep: pickups ready for longer than oms.pickup_expiry_days and not collected are released back to stock (their order is cancelled, payments voided or refunded), with a pickup_expired event; returns how many';
REVOKE ALL ON FUNCTION oms.sell_at_counter(jsonb), oms.ready_for_pickup(bigint), oms.hand_over(bigint, text),
    oms.expire_pickups() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oms.sell_at_counter(jsonb), oms.ready_for_pickup(bigint), oms.hand_over(bigint, text),
    oms.expire_pickups()
    TO oms_admin, oms_app;

-- ---- stores: routing by delivery promise (src/catalog.sql, src/orders.sql) ----
ALTER TABLE oms.channels
    DROP CONSTRAINT channels_routing_strategy_chk,
    ADD CONSTRAINT channels_routing_strategy_chk CHECK (routing_strategy OPERATOR(pg_catalog.=) ANY (ARRAY['closest', 'cheapest', 'priority', 'balance', 'fastest']));
COMMENT ON COLUMN oms.channels.routing_strategy IS 'How routing ranks locations after the number of shipments: closest, cheapest (estimated cost), priority, balance (most stock left after the order) or fastest (earliest promised delivery)';
ALTER TABLE oms.locations
    ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC',
    ADD COLUMN cutoff_time time;
COMMENT ON COLUMN oms.locations.time_zone IS 'The location''s time zone (IANA name, for example Europe/Berlin): its days for the daily capacity and the cut-off';
COMMENT ON COLUMN oms.locations.cutoff_time IS 'Local time after which an order ships the next day (delivery promises); NULL: it ships the same day';
CREATE FUNCTION oms.locations_time_zone_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_timezone_names WHERE name OPERATOR(pg_catalog.=) NEW.time_zone) THEN
        RAISE EXCEPTION 'unknown time zone "%" for location %', NEW.time_zone, NEW.code
            USING ERRCODE = '22023', DETAIL = 'pg_timezone_names has no time zone of this name.',
                  HINT = 'Use an IANA name such as Europe/Berlin or America/New_York.';
    END IF;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION oms.locations_time_zone_guard() IS 'Trigger: a location''s time zone must be one PostgreSQL knows';
CREATE TRIGGER locations_time_zone_guard BEFORE INSERT OR UPDATE OF time_zone ON oms.locations
    FOR EACH ROW EXECUTE FUNCTION oms.locations_time_zone_guard();
REVOKE ALL ON FUNCTION oms.locations_time_zone_guard() FROM PUBLIC;
-- the daily load counted UTC days until now; from here on the location's own
-- days (every location is on UTC until its time_zone is set)
ALTER TABLE oms.orders
    ADD COLUMN deliver_by date,
    ADD COLUMN service_level text,
    ADD CONSTRAINT orders_service_level_chk CHECK (service_level OPERATOR(pg_catalog.~) '^(standard|express)$');
COMMENT ON COLUMN oms.orders.deliver_by IS 'The date the customer must have the goods by (the document''s deliver_by): routing filters the locations that cannot make it';
COMMENT ON COLUMN oms.orders.service_level IS 'standard or express (the document''s service_level): express routes by the fastest carrier service';
COMMENT ON COLUMN oms.location_daily_load.day IS 'The day, in the location''s time zone (oms.locations.time_zone)';
COMMENT ON COLUMN oms.routing_decisions.strategy IS 'The channel''s strategy at the time: closest, cheapest, priority, balance or fastest';
COMMENT ON COLUMN oms.routing_decisions.chosen IS 'Per chosen location: code, units, distance_km, est_cost, priority, and the delivery promise (ships_on, arrives_on, carrier, service, rate) when the order asked for one';

-- ---- stores: customer contacts, consent and GDPR (src/catalog.sql, src/customers.sql, src/events.sql, src/stores.sql) ----
ALTER TABLE oms.customers
    ADD COLUMN phone text,
    ADD COLUMN erased_at timestamptz,
    ADD COLUMN erase_reason text,
    ADD CONSTRAINT customers_phone_chk CHECK (phone OPERATOR(pg_catalog.~) '^\+[1-9][0-9]{6,14}$'),
    DROP CONSTRAINT customers_no_card_number_chk,
    ADD CONSTRAINT customers_no_card_number_chk CHECK (NOT oms.contains_card_number(COALESCE(external_ref, ''))
        AND NOT oms.contains_card_number(COALESCE(email, '')) AND NOT oms.contains_card_number(COALESCE(name, ''))
        AND NOT oms.contains_card_number(COALESCE(erase_reason, '')));
COMMENT ON COLUMN oms.customers.phone IS 'Mobile number in E.164 form (+4915112345678), for SMS notifications';
COMMENT ON COLUMN oms.customers.erased_at IS 'When the customer''s personal data was erased (oms.erase_customer); the row stays for the orders';
COMMENT ON COLUMN oms.customers.erase_reason IS 'Why it was erased (the request it answered)';
CREATE TABLE oms.customer_addresses (
    id           bigserial   NOT NULL,
    customer_id  bigint      NOT NULL,
    label        text        NOT NULL,
    kind         text        NOT NULL DEFAULT 'shipping',
    is_default   boolean     NOT NULL DEFAULT false,
    address      jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT customer_addresses_pkey PRIMARY KEY (id),
    CONSTRAINT customer_addresses_customer_fkey FOREIGN KEY (customer_id) REFERENCES oms.customers (id),
    CONSTRAINT customer_addresses_label_key UNIQUE (customer_id, label),
    CONSTRAINT customer_addresses_label_chk CHECK (label OPERATOR(pg_catalog.~) '^[a-z0-9][a-z0-9_-]{0,31}$'),
    CONSTRAINT customer_addresses_kind_chk CHECK (kind OPERATOR(pg_catalog.~) '^(shipping|billing)$'),
    CONSTRAINT customer_addresses_address_chk CHECK (pg_catalog.jsonb_typeof(address) OPERATOR(pg_catalog.=) 'object'
        AND pg_catalog.octet_length(address::pg_catalog.text) OPERATOR(pg_catalog.<=) 16384),
    CONSTRAINT customer_addresses_no_card_number_chk CHECK (NOT oms.ship_to_contains_card_number(address))
);
-- one default address per customer and kind
CREATE UNIQUE INDEX customer_addresses_default_key ON oms.customer_addresses (customer_id, kind) WHERE is_default;
COMMENT ON TABLE oms.customer_addresses IS 'A customer''s saved addresses, by label; an order may name one (customer.address) instead of repeating its ship_to';
COMMENT ON COLUMN oms.customer_addresses.id IS 'Surrogate key';
COMMENT ON COLUMN oms.customer_addresses.customer_id IS 'The customer';
COMMENT ON COLUMN oms.customer_addresses.label IS 'The customer''s name for it (home, office), unique per customer';
COMMENT ON COLUMN oms.customer_addresses.kind IS 'shipping or billing';
COMMENT ON COLUMN oms.customer_addresses.is_default IS 'The default address of its kind (at most one per customer and kind)';
COMMENT ON COLUMN oms.customer_addresses.address IS 'The address as an order''s ship_to holds it (name, lines, city, postcode, country, lat, lon)';
COMMENT ON COLUMN oms.customer_addresses.created_at IS 'When it was saved first';
COMMENT ON COLUMN oms.customer_addresses.updated_at IS 'When it was saved last';

CREATE TABLE oms.customer_consents (
    customer_id  bigint      NOT NULL,
    purpose      text        NOT NULL,
    channel      text        NOT NULL,
    granted      boolean     NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    source       text        NOT NULL,
    CONSTRAINT customer_consents_pkey PRIMARY KEY (customer_id, purpose, channel),
    CONSTRAINT customer_consents_customer_fkey FOREIGN KEY (customer_id) REFERENCES oms.customers (id),
    CONSTRAINT customer_consents_purpose_chk CHECK (purpose OPERATOR(pg_catalog.~) '^(order_updates|marketing)$'),
    CONSTRAINT customer_consents_channel_chk CHECK (channel OPERATOR(pg_catalog.~) '^(email|sms)$'),
    CONSTRAINT customer_consents_source_chk CHECK (pg_catalog.length(pg_catalog.btrim(source)) OPERATOR(pg_catalog.>) 0
        AND pg_catalog.length(source) OPERATOR(pg_catalog.<=) 500)
);
COMMENT ON TABLE oms.customer_consents IS 'A customer''s consent per purpose (order_updates, marketing) and channel (email, sms): given or withdrawn, when and how';
COMMENT ON COLUMN oms.customer_consents.customer_id IS 'The customer';
COMMENT ON COLUMN oms.customer_consents.purpose IS 'order_updates (messages about the customer''s orders) or marketing';
COMMENT ON COLUMN oms.customer_consents.channel IS 'email or sms';
COMMENT ON COLUMN oms.customer_consents.granted IS 'true: given; false: withdrawn (or refused)';
COMMENT ON COLUMN oms.customer_consents.recorded_at IS 'When it was given or withdrawn';
COMMENT ON COLUMN oms.customer_consents.source IS 'How: the form, checkbox or conversation it was given in (free text, card-number guarded)';
CREATE TRIGGER customer_consents_no_card_number BEFORE INSERT OR UPDATE ON oms.customer_consents
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('source');
CREATE TRIGGER customer_addresses_no_card_number BEFORE INSERT OR UPDATE ON oms.customer_addresses
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('label');
SELECT pg_catalog.pg_extension_config_dump('oms.customer_addresses', '');
SELECT pg_catalog.pg_extension_config_dump('oms.customer_addresses_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.customer_consents', '');

CREATE FUNCTION oms.save_customer_address(customer_id bigint, address jsonb)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'save_customer_address';
COMMENT ON FUNCTION oms.save_customer_address(bigint, jsonb)
    IS 'Save a customer''s address under its label ({"label", "kind", "default", "address": {...}}): a new label adds one, a known label replaces it; default makes it the one default of its kind';

CREATE FUNCTION oms.set_customer_phone(customer_id bigint, phone text)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'set_customer_phone';
COMMENT ON FUNCTION oms.set_customer_phone(bigint, text)
    IS 'Set (or with NULL remove) a customer''s mobile number, in E.164 form; spaces, dashes and brackets are dropped';

CREATE FUNCTION oms.record_consent(customer_id bigint, purpose text, channel text, granted boolean, source text)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'record_consent';
COMMENT ON FUNCTION oms.record_consent(bigint, text, text, boolean, text)
    IS 'Record that a customer gave (granted true) or withdrew (false) consent for a purpose (order_updates, marketing) on a channel (email, sms), and how';

CREATE FUNCTION oms.export_customer(customer_id bigint)
    RETURNS jsonb
    LANGUAGE c STABLE STRICT PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'export_customer';
COMMENT ON FUNCTION oms.export_customer(bigint)
    IS 'Everything oms holds about a customer as one JSON document (GDPR access request): contact data, addresses, consents, orders with their lines, ship-to, payments (masked), shipments and returns';

CREATE FUNCTION oms.erase_customer(customer_id bigint, reason text)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'erase_customer';
COMMENT ON FUNCTION oms.erase_customer(bigint, text)
    IS 'Erase a customer''s personal data (GDPR erasure): name, email, phone, external reference, addresses and consents; the orders'' ship-to, coordinates and notes; orders, amounts, payments and the journal stay for accounting';

-- (oms.render_notification() and its comment: once, at the end of this script, with every area's change)

-- the pickup message, by email and SMS; the shipping message by SMS
INSERT INTO oms.message_templates (kind, channel, subject, body, seeded) VALUES
    ('pickup_ready', 'email', 'Your order {{order_ref}} is ready for pickup',
     E'Hello {{customer_name}},\n\nyour order {{order_ref}} is waiting for you at {{location_name}}:\n{{parcel_items}}\n\nShow this pickup code at the counter: {{pickup_code}}\nPlease collect it by {{collect_by}}.', true),
    ('pickup_ready', 'sms', 'Order {{order_ref}} ready for pickup',
     'Your order {{order_ref}} is ready at {{location_name}}. Pickup code: {{pickup_code}}. Collect by {{collect_by}}.', true),
    ('shipment_shipped', 'sms', 'Order {{order_ref}} shipped',
     'Your order {{order_ref}} is on its way with {{carrier}}: {{tracking_url}}', true);

REVOKE ALL ON ALL TABLES IN SCHEMA oms FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA oms FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA oms FROM PUBLIC;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA oms TO oms_admin;
GRANT SELECT ON oms.customer_addresses, oms.customer_consents TO oms_admin;
GRANT EXECUTE ON FUNCTION oms.save_customer_address(bigint, jsonb), oms.set_customer_phone(bigint, text),
    oms.record_consent(bigint, text, text, boolean, text), oms.export_customer(bigint)
    TO oms_admin, oms_app;
GRANT EXECUTE ON FUNCTION oms.erase_customer(bigint, text) TO oms_admin;
GRANT EXECUTE ON FUNCTION oms.locations_time_zone_guard() TO oms_admin;

-- ---- stores: the oracle's invariants handover_location and erased_customer_data (src/check.sql) ----
-- (oms.check(): once, at the end of this script, with every area's change)
COMMENT ON FUNCTION oms.check() IS 'Every violated invariant, one row each; empty means consistent';

-- ===========================================================================
-- pricing: price lists, price authority in place_order, promotions and codes
-- (issue 18, part 1; src/pricing.sql, src/pricing.c, src/promotions.c,
-- src/promotion_codes.c, src/order_pricing.c)
-- ===========================================================================
ALTER TABLE oms.channels ADD COLUMN price_check text NOT NULL DEFAULT 'accept',
    ADD CONSTRAINT channels_price_check_chk CHECK (price_check OPERATOR(pg_catalog.~) '^(accept|strict)$');
COMMENT ON COLUMN oms.channels.price_check IS 'accept: a line''s given unit_price stands; strict: place_order refuses a given unit_price that differs from the price list''s (22023)';
ALTER TABLE oms.orders ADD COLUMN source_code text,
    ADD CONSTRAINT orders_source_code_chk CHECK (source_code OPERATOR(pg_catalog.~) '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$');
COMMENT ON COLUMN oms.orders.source_code IS 'The campaign the order came from (the document''s source_code), for oms.report_promotions';
ALTER TABLE oms.order_lines ADD COLUMN price_list_id bigint,
    ADD COLUMN price_source text NOT NULL DEFAULT 'given',
    ADD CONSTRAINT order_lines_price_source_chk CHECK (price_source OPERATOR(pg_catalog.~) '^(given|list)$'
        AND (price_source OPERATOR(pg_catalog.=) 'list') OPERATOR(pg_catalog.=) (price_list_id IS NOT NULL));
COMMENT ON COLUMN oms.order_lines.price_list_id IS 'The price list unit_price came from (price_source list); NULL when given';
COMMENT ON COLUMN oms.order_lines.price_source IS 'Where unit_price came from: given (the document or an edit) or list (oms.price_lists, price_list_id)';
CREATE TABLE oms.price_lists (
    id                 bigserial     NOT NULL,
    code               text          NOT NULL,
    name               text          NOT NULL,
    channel_id         integer,
    currency           text          NOT NULL,
    customer_flag      text,
    priority           integer       NOT NULL DEFAULT 0,
    valid_from         timestamptz,
    valid_to           timestamptz,
    prices_include_tax boolean       NOT NULL DEFAULT false,
    active             boolean       NOT NULL DEFAULT true,
    created_at         timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT price_lists_pkey PRIMARY KEY (id),
    CONSTRAINT price_lists_code_key UNIQUE (code),
    CONSTRAINT price_lists_code_chk CHECK (code OPERATOR(pg_catalog.~) '^[a-z0-9][a-z0-9_-]{0,31}$'),
    CONSTRAINT price_lists_name_chk CHECK (pg_catalog.length(pg_catalog.btrim(name)) OPERATOR(pg_catalog.>) 0
        AND pg_catalog.length(name) OPERATOR(pg_catalog.<=) 200),
    CONSTRAINT price_lists_channel_fkey FOREIGN KEY (channel_id) REFERENCES oms.channels (id),
    CONSTRAINT price_lists_currency_chk CHECK (currency OPERATOR(pg_catalog.~) '^[A-Z]{3}$'),
    CONSTRAINT price_lists_customer_flag_chk CHECK (customer_flag OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,31}$'),
    CONSTRAINT price_lists_validity_chk CHECK (valid_to OPERATOR(pg_catalog.>) valid_from)
);
CREATE INDEX price_lists_scope_idx ON oms.price_lists (currency, channel_id) WHERE active;
COMMENT ON TABLE oms.price_lists IS 'Price lists per channel and currency, with validity, priority and customer-flag scope; place_order prices a line without unit_price from them (oms.price)';
COMMENT ON COLUMN oms.price_lists.id IS 'Surrogate key';
COMMENT ON COLUMN oms.price_lists.code IS 'Stable code (lowercase letters, digits, _ and -)';
COMMENT ON COLUMN oms.price_lists.name IS 'Display name';
COMMENT ON COLUMN oms.price_lists.channel_id IS 'The channel it prices for; NULL: every channel';
COMMENT ON COLUMN oms.price_lists.currency IS 'ISO 4217 currency of its prices; it prices orders of that currency only';
COMMENT ON COLUMN oms.price_lists.customer_flag IS 'Only for customers carrying this flag (vip, wholesale); NULL: everyone, guests included';
COMMENT ON COLUMN oms.price_lists.priority IS 'Higher wins among the lists that price the product; ties go to the flag-scoped, then the channel-scoped, then the older list';
COMMENT ON COLUMN oms.price_lists.valid_from IS 'Prices from this moment; NULL: always';
COMMENT ON COLUMN oms.price_lists.valid_to IS 'Prices until this moment (exclusive); NULL: open-ended';
COMMENT ON COLUMN oms.price_lists.prices_include_tax IS 'Its prices are gross (tax included); stored and reported with each price, for the tax step';
COMMENT ON COLUMN oms.price_lists.active IS 'Inactive lists price nothing';
COMMENT ON COLUMN oms.price_lists.created_at IS 'When the list was created';

CREATE TABLE oms.prices (
    price_list_id bigint        NOT NULL,
    product_id    bigint        NOT NULL,
    min_qty       integer       NOT NULL DEFAULT 1,
    unit_price    numeric(16,4) NOT NULL,
    CONSTRAINT prices_pkey PRIMARY KEY (price_list_id, product_id, min_qty),
    CONSTRAINT prices_price_list_fkey FOREIGN KEY (price_list_id) REFERENCES oms.price_lists (id) ON DELETE CASCADE,
    CONSTRAINT prices_product_fkey FOREIGN KEY (product_id) REFERENCES oms.products (id),
    CONSTRAINT prices_min_qty_chk CHECK (min_qty OPERATOR(pg_catalog.>=) 1),
    CONSTRAINT prices_unit_price_chk CHECK (unit_price OPERATOR(pg_catalog.>=) 0
        AND unit_price OPERATOR(pg_catalog.<) 1000000000000)
);
CREATE INDEX prices_product_idx ON oms.prices (product_id);
COMMENT ON TABLE oms.prices IS 'A product''s unit price in a price list, with quantity breaks: a line of qty units takes the row with the greatest min_qty <= qty';
COMMENT ON COLUMN oms.prices.price_list_id IS 'The price list';
COMMENT ON COLUMN oms.prices.product_id IS 'The product';
COMMENT ON COLUMN oms.prices.min_qty IS 'Quantity break: the price holds for lines of at least this many units';
COMMENT ON COLUMN oms.prices.unit_price IS 'Price of one unit, in the list''s currency';

CREATE TABLE oms.product_categories (
    product_id bigint NOT NULL,
    category   text   NOT NULL,
    CONSTRAINT product_categories_pkey PRIMARY KEY (product_id, category),
    CONSTRAINT product_categories_product_fkey FOREIGN KEY (product_id) REFERENCES oms.products (id) ON DELETE CASCADE,
    CONSTRAINT product_categories_category_chk CHECK (category OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_-]{0,63}$')
);
CREATE INDEX product_categories_category_idx ON oms.product_categories (category);
COMMENT ON TABLE oms.product_categories IS 'The categories a product belongs to (a product may be in several); promotions target lines by category';
COMMENT ON COLUMN oms.product_categories.product_id IS 'The product';
COMMENT ON COLUMN oms.product_categories.category IS 'Category code (lowercase letters, digits, _ and -)';

CREATE TABLE oms.promotions (
    id             bigserial     NOT NULL,
    code           text          NOT NULL,
    name           text          NOT NULL,
    kind           text          NOT NULL,
    product_id     bigint,
    category       text,
    value          numeric(16,4),
    buy_qty        integer,
    get_qty        integer,
    min_subtotal   numeric(16,4),
    currency       text,
    channel_id     integer,
    customer_flag  text,
    valid_from     timestamptz,
    valid_to       timestamptz,
    automatic      boolean       NOT NULL DEFAULT false,
    combinable     boolean       NOT NULL DEFAULT true,
    priority       integer       NOT NULL DEFAULT 0,
    active         boolean       NOT NULL DEFAULT true,
    created_at     timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT promotions_pkey PRIMARY KEY (id),
    CONSTRAINT promotions_code_key UNIQUE (code),
    CONSTRAINT promotions_code_chk CHECK (code OPERATOR(pg_catalog.~) '^[a-z0-9][a-z0-9_-]{0,31}$'),
    CONSTRAINT promotions_name_chk CHECK (pg_catalog.length(pg_catalog.btrim(name)) OPERATOR(pg_catalog.>) 0
        AND pg_catalog.length(name) OPERATOR(pg_catalog.<=) 200),
    CONSTRAINT promotions_kind_chk CHECK (kind OPERATOR(pg_catalog.~) '^(percent_off|amount_off|buy_x_get_y|free_shipping)$'),
    CONSTRAINT promotions_product_fkey FOREIGN KEY (product_id) REFERENCES oms.products (id),
    CONSTRAINT promotions_category_chk CHECK (category OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_-]{0,63}$'),
    CONSTRAINT promotions_target_chk CHECK (product_id IS NULL OR category IS NULL),
    -- the value each kind needs: a percentage in (0, 100], an amount > 0
    -- (in the promotion's currency), buy X get Y with the percentage off
    -- the Y units (100: free), free shipping none
    CONSTRAINT promotions_value_chk CHECK (COALESCE(CASE kind
        WHEN 'percent_off' THEN value OPERATOR(pg_catalog.>) 0 AND value OPERATOR(pg_catalog.<=) 100
        WHEN 'amount_off' THEN value OPERATOR(pg_catalog.>) 0 AND value OPERATOR(pg_catalog.<) 1000000000000 AND currency IS NOT NULL
        WHEN 'buy_x_get_y' THEN value OPERATOR(pg_catalog.>) 0 AND value OPERATOR(pg_catalog.<=) 100
             AND buy_qty OPERATOR(pg_catalog.>=) 1 AND get_qty OPERATOR(pg_catalog.>=) 1
             AND buy_qty OPERATOR(pg_catalog.<=) 1000 AND get_qty OPERATOR(pg_catalog.<=) 1000
             AND (product_id IS NOT NULL OR category IS NOT NULL)
        ELSE value IS NULL END, false)),
    CONSTRAINT promotions_buy_get_chk CHECK ((kind OPERATOR(pg_catalog.=) 'buy_x_get_y') OPERATOR(pg_catalog.=) (buy_qty IS NOT NULL AND get_qty IS NOT NULL)),
    -- a minimum is an amount: it is in the promotion's currency
    CONSTRAINT promotions_min_subtotal_chk CHECK (min_subtotal IS NULL OR (min_subtotal OPERATOR(pg_catalog.>) 0
        AND min_subtotal OPERATOR(pg_catalog.<) 1000000000000 AND currency IS NOT NULL)),
    CONSTRAINT promotions_currency_chk CHECK (currency OPERATOR(pg_catalog.~) '^[A-Z]{3}$'),
    CONSTRAINT promotions_channel_fkey FOREIGN KEY (channel_id) REFERENCES oms.channels (id),
    CONSTRAINT promotions_customer_flag_chk CHECK (customer_flag OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,31}$'),
    CONSTRAINT promotions_validity_chk CHECK (valid_to OPERATOR(pg_catalog.>) valid_from)
);
COMMENT ON TABLE oms.promotions IS 'Promotions as data: percent or amount off the order or off matching lines, buy X get Y, free shipping; scoped by channel, customer flag, currency and dates; automatic or by code';
COMMENT ON COLUMN oms.promotions.id IS 'Surrogate key';
COMMENT ON COLUMN oms.promotions.code IS 'Stable name of the promotion (not the code customers type: see oms.promotion_codes)';
COMMENT ON COLUMN oms.promotions.name IS 'Display name';
COMMENT ON COLUMN oms.promotions.kind IS 'percent_off, amount_off, buy_x_get_y or free_shipping';
COMMENT ON COLUMN oms.promotions.product_id IS 'Only lines of this product; NULL with category NULL: the whole order';
COMMENT ON COLUMN oms.promotions.category IS 'Only lines of products in this category (oms.product_categories)';
COMMENT ON COLUMN oms.promotions.value IS 'percent_off: percentage (0-100]; amount_off: amount off the order (no target), or off each matching unit (product or category); buy_x_get_y: percentage off the Y units (100: free)';
COMMENT ON COLUMN oms.promotions.buy_qty IS 'buy_x_get_y: units bought (X)';
COMMENT ON COLUMN oms.promotions.get_qty IS 'buy_x_get_y: units discounted per X bought (Y); the cheapest matching units are the ones discounted';
COMMENT ON COLUMN oms.promotions.min_subtotal IS 'Applies only when the order''s subtotal (its units at their prices, before discounts) reaches this, in the promotion''s currency (required with it)';
COMMENT ON COLUMN oms.promotions.currency IS 'Only orders in this currency (required for amount_off); NULL: any';
COMMENT ON COLUMN oms.promotions.channel_id IS 'Only orders of this channel; NULL: every channel';
COMMENT ON COLUMN oms.promotions.customer_flag IS 'Only customers carrying this flag; NULL: everyone';
COMMENT ON COLUMN oms.promotions.valid_from IS 'Applies from this moment; NULL: always';
COMMENT ON COLUMN oms.promotions.valid_to IS 'Applies until this moment (exclusive); NULL: open-ended';
COMMENT ON COLUMN oms.promotions.automatic IS 'Applies to every order in scope without a code';
COMMENT ON COLUMN oms.promotions.combinable IS 'false: exclusive, it applies alone (the highest-priority promotion that applies decides)';
COMMENT ON COLUMN oms.promotions.priority IS 'Higher is considered first';
COMMENT ON COLUMN oms.promotions.active IS 'Inactive promotions apply to nothing; their codes are refused as expired';
COMMENT ON COLUMN oms.promotions.created_at IS 'When the promotion was created';

CREATE TABLE oms.promotion_codes (
    id                 bigserial   NOT NULL,
    promotion_id       bigint      NOT NULL,
    code               text        NOT NULL,
    usage_limit        integer,
    per_customer_limit integer,
    uses               integer     NOT NULL DEFAULT 0,
    active             boolean     NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT promotion_codes_pkey PRIMARY KEY (id),
    CONSTRAINT promotion_codes_code_key UNIQUE (code),
    CONSTRAINT promotion_codes_promotion_fkey FOREIGN KEY (promotion_id) REFERENCES oms.promotions (id),
    CONSTRAINT promotion_codes_code_chk CHECK (code OPERATOR(pg_catalog.~) '^[A-Z0-9][A-Z0-9_-]{0,31}$'),
    CONSTRAINT promotion_codes_usage_limit_chk CHECK (usage_limit OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT promotion_codes_per_customer_limit_chk CHECK (per_customer_limit OPERATOR(pg_catalog.>=) 1),
    -- the guarded update (src/promotion_codes.c) never passes the limit;
    -- this is the last line of defence
    CONSTRAINT promotion_codes_uses_chk CHECK (uses OPERATOR(pg_catalog.>=) 0
        AND (usage_limit IS NULL OR uses OPERATOR(pg_catalog.<=) usage_limit))
);
CREATE INDEX promotion_codes_promotion_idx ON oms.promotion_codes (promotion_id);
COMMENT ON TABLE oms.promotion_codes IS 'Codes customers type for a promotion, with a total and a per-customer usage limit; uses is taken by place_order with a guarded update and given back on cancel or expiry';
COMMENT ON COLUMN oms.promotion_codes.id IS 'Surrogate key';
COMMENT ON COLUMN oms.promotion_codes.promotion_id IS 'The promotion the code applies';
COMMENT ON COLUMN oms.promotion_codes.code IS 'What the customer types (capital letters, digits, _ and -; place_order matches it case-insensitively)';
COMMENT ON COLUMN oms.promotion_codes.usage_limit IS 'At most this many live orders use the code; NULL: unlimited';
COMMENT ON COLUMN oms.promotion_codes.per_customer_limit IS 'At most this many live orders of one customer use the code (guests cannot use such a code); NULL: no limit';
COMMENT ON COLUMN oms.promotion_codes.uses IS 'Live orders using the code (oms.check(): promotion_code_uses)';
COMMENT ON COLUMN oms.promotion_codes.active IS 'Inactive codes are refused as expired';
COMMENT ON COLUMN oms.promotion_codes.created_at IS 'When the code was created';

CREATE TABLE oms.promotion_code_customers (
    code_id     bigint  NOT NULL,
    customer_id bigint  NOT NULL,
    uses        integer NOT NULL DEFAULT 0,
    CONSTRAINT promotion_code_customers_pkey PRIMARY KEY (code_id, customer_id),
    CONSTRAINT promotion_code_customers_code_fkey FOREIGN KEY (code_id) REFERENCES oms.promotion_codes (id),
    CONSTRAINT promotion_code_customers_customer_fkey FOREIGN KEY (customer_id) REFERENCES oms.customers (id),
    CONSTRAINT promotion_code_customers_uses_chk CHECK (uses OPERATOR(pg_catalog.>=) 0)
);
COMMENT ON TABLE oms.promotion_code_customers IS 'Per customer, the live orders using a code (for per_customer_limit), taken and given back with the code''s uses';
COMMENT ON COLUMN oms.promotion_code_customers.code_id IS 'The code';
COMMENT ON COLUMN oms.promotion_code_customers.customer_id IS 'The customer';
COMMENT ON COLUMN oms.promotion_code_customers.uses IS 'Live orders of this customer using the code';

-- the order's campaign, and where each line's price came from
ALTER TABLE oms.order_lines
    ADD CONSTRAINT order_lines_price_list_fkey FOREIGN KEY (price_list_id) REFERENCES oms.price_lists (id);

CREATE TABLE oms.order_codes (
    id          bigserial   NOT NULL,
    order_id    bigint      NOT NULL,
    code        text        NOT NULL,
    code_id     bigint,
    customer_id bigint,
    applied     boolean     NOT NULL,
    refusal     text,
    sqlstate    text,
    released_at timestamptz,
    CONSTRAINT order_codes_pkey PRIMARY KEY (id),
    CONSTRAINT order_codes_order_code_key UNIQUE (order_id, code),
    CONSTRAINT order_codes_order_fkey FOREIGN KEY (order_id) REFERENCES oms.orders (id),
    CONSTRAINT order_codes_code_fkey FOREIGN KEY (code_id) REFERENCES oms.promotion_codes (id),
    CONSTRAINT order_codes_refusal_chk CHECK (applied OPERATOR(pg_catalog.=) (refusal IS NULL)
        AND (applied OR released_at IS NULL) AND (applied OPERATOR(pg_catalog.<=) (code_id IS NOT NULL))),
    CONSTRAINT order_codes_code_chk CHECK (pg_catalog.length(code) OPERATOR(pg_catalog.<=) 32)
);
CREATE INDEX order_codes_code_idx ON oms.order_codes (code_id) WHERE applied AND released_at IS NULL;
COMMENT ON TABLE oms.order_codes IS 'The codes an order was placed with: applied (it holds a use of the code until released_at) or refused, with the reason';
COMMENT ON COLUMN oms.order_codes.id IS 'Surrogate key';
COMMENT ON COLUMN oms.order_codes.order_id IS 'The order';
COMMENT ON COLUMN oms.order_codes.code IS 'The code as the document sent it (upper case)';
COMMENT ON COLUMN oms.order_codes.code_id IS 'The code row; NULL for an unknown code';
COMMENT ON COLUMN oms.order_codes.customer_id IS 'The order''s customer when the use counts toward the per-customer limit';
COMMENT ON COLUMN oms.order_codes.applied IS 'true: the order took a use of the code';
COMMENT ON COLUMN oms.order_codes.refusal IS 'Why the code was refused (codes_required false): unknown, expired, exhausted, not combinable, minimum not met, not eligible';
COMMENT ON COLUMN oms.order_codes.sqlstate IS 'The SQLSTATE the refusal would have raised';
COMMENT ON COLUMN oms.order_codes.released_at IS 'When the use was given back (the order was cancelled or expired)';

CREATE TABLE oms.order_promotions (
    id            bigserial     NOT NULL,
    order_id      bigint        NOT NULL,
    order_line_id bigint,
    promotion_id  bigint        NOT NULL,
    code_id       bigint,
    amount        numeric(16,4) NOT NULL,
    free_shipping boolean       NOT NULL DEFAULT false,
    CONSTRAINT order_promotions_pkey PRIMARY KEY (id),
    CONSTRAINT order_promotions_order_fkey FOREIGN KEY (order_id) REFERENCES oms.orders (id),
    CONSTRAINT order_promotions_line_fkey FOREIGN KEY (order_line_id) REFERENCES oms.order_lines (id),
    CONSTRAINT order_promotions_promotion_fkey FOREIGN KEY (promotion_id) REFERENCES oms.promotions (id),
    CONSTRAINT order_promotions_code_fkey FOREIGN KEY (code_id) REFERENCES oms.promotion_codes (id),
    CONSTRAINT order_promotions_amount_chk CHECK (amount OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT order_promotions_shape_chk CHECK (free_shipping OPERATOR(pg_catalog.=) (order_line_id IS NULL))
);
CREATE INDEX order_promotions_order_idx ON oms.order_promotions (order_id);
CREATE INDEX order_promotions_promotion_idx ON oms.order_promotions (promotion_id);
COMMENT ON TABLE oms.order_promotions IS 'What each promotion gave an order: one row per (line, promotion) with the discount it put on the line (its share of order_lines.discount), and one row without line for free shipping';
COMMENT ON COLUMN oms.order_promotions.id IS 'Surrogate key';
COMMENT ON COLUMN oms.order_promotions.order_id IS 'The order';
COMMENT ON COLUMN oms.order_promotions.order_line_id IS 'The line discounted; NULL for free shipping';
COMMENT ON COLUMN oms.order_promotions.promotion_id IS 'The promotion';
COMMENT ON COLUMN oms.order_promotions.code_id IS 'The code that brought it; NULL for an automatic promotion';
COMMENT ON COLUMN oms.order_promotions.amount IS 'Discount on the line (whole line, as order_lines.discount)';
COMMENT ON COLUMN oms.order_promotions.free_shipping IS 'The order ships free by this promotion (the shipping charge is waived)';

CREATE FUNCTION oms.price(sku text, channel text, currency text, qty integer DEFAULT 1, customer text DEFAULT NULL,
                          OUT unit_price numeric, OUT price_list text, OUT price_list_id bigint,
                          OUT min_qty integer, OUT prices_include_tax boolean)
    RETURNS record
    LANGUAGE c STABLE PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'oms_price';
COMMENT ON FUNCTION oms.price(text, text, text, integer, text)
    IS 'The unit price place_order gives qty units of the product on the channel in the currency for the customer (external_ref; NULL: a guest), and the price list it comes from; all NULL when no list prices it';

-- per promotion: orders, code uses, discount, revenue of the orders; per
-- source code (campaign): the same with promotion NULL
CREATE VIEW oms.report_promotions AS
SELECT p.code AS promotion, NULL::text AS source_code,
       pg_catalog.count(DISTINCT a.order_id) AS orders,
       (SELECT pg_catalog.count(*) FROM oms.order_codes oc JOIN oms.promotion_codes c ON c.id OPERATOR(pg_catalog.=) oc.code_id
         WHERE c.promotion_id OPERATOR(pg_catalog.=) p.id AND oc.applied AND oc.released_at IS NULL) AS code_uses,
       COALESCE(pg_catalog.sum(a.amount), 0) AS discount,
       COALESCE((SELECT pg_catalog.sum(o.total) FROM oms.orders o JOIN oms.order_statuses s ON s.status OPERATOR(pg_catalog.=) o.status
                  WHERE s.counts_as_sale AND o.id IN (SELECT order_id FROM oms.order_promotions x WHERE x.promotion_id OPERATOR(pg_catalog.=) p.id)), 0) AS revenue,
       pg_catalog.bool_or(a.free_shipping) IS TRUE AS free_shipping
  FROM oms.promotions p
  LEFT JOIN (oms.order_promotions a JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) a.order_id
             JOIN oms.order_statuses s ON s.status OPERATOR(pg_catalog.=) o.status AND s.counts_as_sale)
    ON a.promotion_id OPERATOR(pg_catalog.=) p.id
 GROUP BY p.id, p.code
UNION ALL
SELECT NULL, o.source_code, pg_catalog.count(*), NULL,
       pg_catalog.sum(o.discount), pg_catalog.sum(o.total), NULL
  FROM oms.orders o JOIN oms.order_statuses s ON s.status OPERATOR(pg_catalog.=) o.status
 WHERE s.counts_as_sale AND o.source_code IS NOT NULL
 GROUP BY o.source_code;
COMMENT ON VIEW oms.report_promotions IS 'Per promotion (source_code NULL) and per campaign source code (promotion NULL): orders that count as a sale, live code uses, discount given and the revenue (orders.total) of those orders';
COMMENT ON COLUMN oms.report_promotions.promotion IS 'The promotion''s code; NULL on a source-code row';
COMMENT ON COLUMN oms.report_promotions.source_code IS 'The campaign (orders.source_code); NULL on a promotion row';
COMMENT ON COLUMN oms.report_promotions.orders IS 'Orders that count as a sale (not cancelled or expired) with the promotion, or with the source code';
COMMENT ON COLUMN oms.report_promotions.code_uses IS 'Live uses of the promotion''s codes; NULL on a source-code row';
COMMENT ON COLUMN oms.report_promotions.discount IS 'Discount the promotion gave (its order_promotions amounts); for a source code, the orders'' whole discount';
COMMENT ON COLUMN oms.report_promotions.revenue IS 'Sum of orders.total of those orders';
COMMENT ON COLUMN oms.report_promotions.free_shipping IS 'The promotion gave free shipping to at least one of them; NULL on a source-code row';

SELECT pg_catalog.pg_extension_config_dump('oms.price_lists', '');
SELECT pg_catalog.pg_extension_config_dump('oms.price_lists_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.prices', '');
SELECT pg_catalog.pg_extension_config_dump('oms.product_categories', '');
SELECT pg_catalog.pg_extension_config_dump('oms.promotions', '');
SELECT pg_catalog.pg_extension_config_dump('oms.promotions_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.promotion_codes', '');
SELECT pg_catalog.pg_extension_config_dump('oms.promotion_codes_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.promotion_code_customers', '');
SELECT pg_catalog.pg_extension_config_dump('oms.order_codes', '');
SELECT pg_catalog.pg_extension_config_dump('oms.order_codes_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.order_promotions', '');
SELECT pg_catalog.pg_extension_config_dump('oms.order_promotions_id_seq', '');

CREATE TRIGGER price_lists_no_card_number BEFORE INSERT OR UPDATE ON oms.price_lists
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('name');
CREATE TRIGGER promotions_no_card_number BEFORE INSERT OR UPDATE ON oms.promotions
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('name');

REVOKE ALL ON oms.price_lists, oms.prices, oms.product_categories, oms.promotions, oms.promotion_codes,
    oms.promotion_code_customers, oms.order_codes, oms.order_promotions, oms.report_promotions FROM PUBLIC;
REVOKE ALL ON SEQUENCE oms.price_lists_id_seq, oms.promotions_id_seq, oms.promotion_codes_id_seq,
    oms.order_codes_id_seq, oms.order_promotions_id_seq FROM PUBLIC;
REVOKE ALL ON FUNCTION oms.price(text, text, text, integer, text) FROM PUBLIC;
GRANT USAGE, SELECT ON SEQUENCE oms.price_lists_id_seq, oms.promotions_id_seq, oms.promotion_codes_id_seq,
    oms.order_codes_id_seq, oms.order_promotions_id_seq TO oms_admin;
-- Pricing (src/pricing.sql): the back office keeps price lists, prices,
-- categories, promotions and codes with plain SQL; a code's uses are
-- written only by place_order, cancel and expiry (SECURITY DEFINER), so
-- oms_admin may not UPDATE that column (oms.check(): promotion_code_uses).
-- Applications read them and ask oms.price(); reporting reads the report.
GRANT SELECT, INSERT, UPDATE, DELETE ON oms.price_lists, oms.prices, oms.product_categories, oms.promotions TO oms_admin;
GRANT SELECT, INSERT, DELETE ON oms.promotion_codes TO oms_admin;
GRANT UPDATE (code, usage_limit, per_customer_limit, active) ON oms.promotion_codes TO oms_admin;
GRANT SELECT ON oms.promotion_code_customers, oms.order_codes, oms.order_promotions TO oms_admin;
GRANT SELECT ON oms.price_lists, oms.prices, oms.product_categories, oms.promotions, oms.order_codes, oms.order_promotions
    TO oms_app;
GRANT EXECUTE ON FUNCTION oms.price(text, text, text, integer, text) TO oms_admin, oms_app;
GRANT SELECT ON oms.report_promotions TO oms_admin, oms_reporting;
-- (oms.check(): once, at the end of this script, with every area's change)

-- ===========================================================================
-- ---- charges (issue 18 part 2): shipping charges, tax, invoices and A/R
-- ---- (src/catalog.sql, src/orders.sql, src/payments.sql, src/charges.sql,
-- ---- src/invoices.sql, src/ledger.sql, src/reports.sql, src/check.sql,
-- ---- src/grants.sql)
-- ===========================================================================
ALTER TABLE oms.channels ADD COLUMN tax_mode text NOT NULL DEFAULT 'given';
ALTER TABLE oms.channels ADD COLUMN prices_include_tax boolean NOT NULL DEFAULT false;
ALTER TABLE oms.channels ADD CONSTRAINT channels_tax_mode_chk CHECK (tax_mode OPERATOR(pg_catalog.=) ANY (ARRAY['given', 'computed']));
COMMENT ON COLUMN oms.channels.tax_mode IS 'given: a line''s tax is what the caller sends, computed from oms.tax_rates when it sends none; computed: oms computes every line''s tax and refuses a given one';
COMMENT ON COLUMN oms.channels.prices_include_tax IS 'Unit prices from this channel are gross (tax included) unless the document says otherwise; oms extracts the tax';
ALTER TABLE oms.products ADD COLUMN tax_class text NOT NULL DEFAULT 'standard';
ALTER TABLE oms.products ADD CONSTRAINT products_tax_class_chk CHECK (tax_class OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,31}$');
COMMENT ON COLUMN oms.products.tax_class IS 'Tax class (standard, reduced, zero, ...): which oms.tax_rates row applies to it';
ALTER TABLE oms.customers ADD COLUMN terms_days integer NOT NULL DEFAULT 30;
ALTER TABLE oms.customers ADD CONSTRAINT customers_terms_days_chk CHECK (terms_days OPERATOR(pg_catalog.>=) 0 AND terms_days OPERATOR(pg_catalog.<=) 365);
COMMENT ON COLUMN oms.customers.terms_days IS 'Payment terms in days: an invoice of a customer flagged terms is due this many days after it is issued';
ALTER TABLE oms.orders ADD COLUMN shipping numeric(16,4) NOT NULL DEFAULT 0;
ALTER TABLE oms.orders ADD CONSTRAINT orders_shipping_chk CHECK (shipping OPERATOR(pg_catalog.>=) 0);
COMMENT ON COLUMN oms.orders.shipping IS 'Shipping charge: the document''s shipping.amount, or the quoted rate (shipping.quote), or 0; 0 once no unit is owed (src/order_charges.c)';
COMMENT ON COLUMN oms.orders.total IS 'subtotal - discount + tax + shipping: what the units owed and their delivery cost (oms.check(): order_total_owed)';
ALTER TABLE oms.order_lines ADD COLUMN price_includes_tax boolean NOT NULL DEFAULT false;
ALTER TABLE oms.locations
    ADD COLUMN country text,
    ADD COLUMN region text,
    ADD CONSTRAINT locations_country_chk CHECK (country OPERATOR(pg_catalog.~) '^[A-Z]{2}$'),
    ADD CONSTRAINT locations_region_chk CHECK (region IS NULL OR (pg_catalog.length(pg_catalog.btrim(region)) OPERATOR(pg_catalog.>) 0
        AND pg_catalog.length(region) OPERATOR(pg_catalog.<=) 64 AND country IS NOT NULL));
COMMENT ON COLUMN oms.locations.country IS 'ISO 3166-1 alpha-2 country code: where a pickup or counter order handed over here is taxed (oms.tax_rates); NULL: such orders are taxed by ship_to.country';
COMMENT ON COLUMN oms.locations.region IS 'Region for oms.tax_rates.region (exact text), with country; NULL: the whole country';
COMMENT ON COLUMN oms.order_lines.price_includes_tax IS 'The line was priced gross (tax included): unit_price and discount hold the net amounts oms extracted, tax the rest, so that the line still costs the gross amount (src/order_charges.c)';
ALTER TABLE oms.payments DROP CONSTRAINT payments_method_chk;
ALTER TABLE oms.payments ADD CONSTRAINT payments_method_chk CHECK (method OPERATOR(pg_catalog.=) ANY (ARRAY['card', 'gift_card', 'store_credit', 'invoice', 'check', 'cash', 'bank_transfer']));
COMMENT ON COLUMN oms.payments.method IS 'card, gift_card, store_credit, invoice, check, cash or bank_transfer';
COMMENT ON COLUMN oms.payments_masked.method IS 'card, gift_card, store_credit, invoice, check, cash or bank_transfer';
ALTER TABLE oms.revenue_recognized ADD COLUMN shipping numeric(16,4) NOT NULL DEFAULT 0;
COMMENT ON COLUMN oms.revenue_recognized.shipping IS 'Shipping charge recognised: the order''s whole charge once a unit has shipped';
ALTER TABLE oms.journal_rules DROP CONSTRAINT journal_rules_event_chk;
ALTER TABLE oms.journal_rules ADD CONSTRAINT journal_rules_event_chk CHECK (event OPERATOR(pg_catalog.=) ANY (ARRAY[
        'capture_cash', 'capture_gift_card', 'capture_store_credit',
        'shipment_revenue', 'shipment_tax',
        'refund_cash', 'refund_gift_card', 'refund_store_credit',
        'return_refund_cash', 'return_refund_gift_card', 'return_refund_store_credit',
        'gift_card_issue', 'store_credit_issue',
        'inventory_receipt', 'cogs', 'inventory_write_off',
        'shipment_shipping', 'return_refund_tax', 'invoice_issue', 'invoice_settle']));
ALTER TABLE oms.journal_entries DROP CONSTRAINT journal_entries_kind_chk;
ALTER TABLE oms.journal_entries ADD CONSTRAINT journal_entries_kind_chk CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['capture', 'shipment', 'refund',
        'gift_card_issue', 'store_credit_issue', 'manual', 'inventory_receipt', 'cogs', 'write_off', 'invoice']));
INSERT INTO oms.accounts (code, name, kind, seeded) VALUES
    ('shipping_revenue', 'Shipping revenue (shipping charged to customers)', 'revenue', true),
    ('invoices_receivable', 'Invoiced receivables (open invoices of customers on terms)', 'asset', true);
INSERT INTO oms.journal_rules (event, debit_account, credit_account, description, seeded) VALUES
    ('shipment_shipping', 'accounts_receivable', 'shipping_revenue', 'The order''s shipping charge, recognised with its first shipment', true),
    ('return_refund_tax', 'tax_payable', 'sales_returns', 'The tax part of a refund for returned units, taken back off tax payable', true);
INSERT INTO oms.journal_rules (event, debit_account, credit_account, description, seeded) VALUES
    ('invoice_issue', 'invoices_receivable', 'accounts_receivable', 'An invoice issued to a customer on terms (or its amount changed; negative: voided)', true),
    ('invoice_settle', 'accounts_receivable', 'invoices_receivable', 'An invoice settled by a payment (invoice, check or bank transfer)', true);

CREATE TABLE oms.tax_rates (
    id          serial        NOT NULL,
    country     text          NOT NULL,
    region      text,
    tax_class   text          NOT NULL DEFAULT 'standard',
    rate        numeric(7,6)  NOT NULL,
    valid_from  date,
    valid_to    date,
    name        text,
    CONSTRAINT tax_rates_pkey PRIMARY KEY (id),
    CONSTRAINT tax_rates_key UNIQUE NULLS NOT DISTINCT (country, region, tax_class, valid_from),
    CONSTRAINT tax_rates_country_chk CHECK (country OPERATOR(pg_catalog.~) '^[A-Z]{2}$'),
    CONSTRAINT tax_rates_region_chk CHECK (pg_catalog.length(pg_catalog.btrim(region)) OPERATOR(pg_catalog.>) 0
        AND pg_catalog.length(region) OPERATOR(pg_catalog.<=) 64),
    CONSTRAINT tax_rates_tax_class_chk CHECK (tax_class OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,31}$'),
    CONSTRAINT tax_rates_rate_chk CHECK (rate OPERATOR(pg_catalog.>=) 0 AND rate OPERATOR(pg_catalog.<) 1),
    CONSTRAINT tax_rates_validity_chk CHECK (valid_to OPERATOR(pg_catalog.>) valid_from),
    CONSTRAINT tax_rates_name_chk CHECK (pg_catalog.length(name) OPERATOR(pg_catalog.<=) 200)
);
COMMENT ON TABLE oms.tax_rates IS 'Sales tax rates by country (and region) and product tax class, with optional validity; place_order takes the most specific row valid today';
COMMENT ON COLUMN oms.tax_rates.id IS 'Surrogate key';
COMMENT ON COLUMN oms.tax_rates.country IS 'ISO 3166-1 alpha-2 country code of the ship-to (ship_to.country)';
COMMENT ON COLUMN oms.tax_rates.region IS 'Region of the ship-to (ship_to.region, exact text), NULL for the whole country; a row naming the region wins';
COMMENT ON COLUMN oms.tax_rates.tax_class IS 'The products.tax_class it applies to';
COMMENT ON COLUMN oms.tax_rates.rate IS 'Rate as a fraction: 0.19 is 19 %';
COMMENT ON COLUMN oms.tax_rates.valid_from IS 'First day the rate applies, NULL for always';
COMMENT ON COLUMN oms.tax_rates.valid_to IS 'First day it no longer applies, NULL for open-ended';
COMMENT ON COLUMN oms.tax_rates.name IS 'Display name, such as "VAT 19 %"';

CREATE TRIGGER tax_rates_no_card_number BEFORE INSERT OR UPDATE ON oms.tax_rates
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('name');

SELECT pg_catalog.pg_extension_config_dump('oms.tax_rates', '');
SELECT pg_catalog.pg_extension_config_dump('oms.tax_rates_id_seq', '');

CREATE SEQUENCE oms.invoice_number_seq;
COMMENT ON SEQUENCE oms.invoice_number_seq IS 'Invoice numbers: INV- and this number, six digits at least';

CREATE TABLE oms.invoices (
    id           bigserial     NOT NULL,
    number       text          NOT NULL,
    order_id     bigint        NOT NULL,
    customer_id  bigint        NOT NULL,
    currency     text          NOT NULL,
    issued_on    date          NOT NULL,
    due_on       date          NOT NULL,
    amount       numeric(16,4) NOT NULL,
    paid         numeric(16,4) NOT NULL DEFAULT 0,
    status       text          NOT NULL DEFAULT 'open',
    created_at   timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    paid_at      timestamptz,
    voided_at    timestamptz,
    CONSTRAINT invoices_pkey PRIMARY KEY (id),
    CONSTRAINT invoices_number_key UNIQUE (number),
    CONSTRAINT invoices_order_key UNIQUE (order_id),
    CONSTRAINT invoices_order_fkey FOREIGN KEY (order_id) REFERENCES oms.orders (id),
    CONSTRAINT invoices_customer_fkey FOREIGN KEY (customer_id) REFERENCES oms.customers (id),
    CONSTRAINT invoices_currency_chk CHECK (currency OPERATOR(pg_catalog.~) '^[A-Z]{3}$'),
    CONSTRAINT invoices_due_chk CHECK (due_on OPERATOR(pg_catalog.>=) issued_on),
    CONSTRAINT invoices_amounts_chk CHECK (LEAST(amount, paid) OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT invoices_status_chk CHECK (status OPERATOR(pg_catalog.~) '^(open|paid|void)$'),
    CONSTRAINT invoices_voided_chk CHECK ((status OPERATOR(pg_catalog.=) 'void') OPERATOR(pg_catalog.=) (voided_at IS NOT NULL))
);
CREATE INDEX invoices_customer_idx ON oms.invoices (customer_id);
CREATE INDEX invoices_open_idx ON oms.invoices (due_on) WHERE status OPERATOR(pg_catalog.=) 'open';
COMMENT ON TABLE oms.invoices IS 'Invoices of orders placed on payment terms, one per order; written by oms functions only';
COMMENT ON COLUMN oms.invoices.id IS 'Invoice id';
COMMENT ON COLUMN oms.invoices.number IS 'Invoice number (INV-000001), from oms.invoice_number_seq';
COMMENT ON COLUMN oms.invoices.order_id IS 'The order invoiced';
COMMENT ON COLUMN oms.invoices.customer_id IS 'The customer billed (flagged terms when the order was placed)';
COMMENT ON COLUMN oms.invoices.currency IS 'The order''s currency';
COMMENT ON COLUMN oms.invoices.issued_on IS 'Issue date: the day the order was placed';
COMMENT ON COLUMN oms.invoices.due_on IS 'Due date: issued_on + the customer''s terms_days';
COMMENT ON COLUMN oms.invoices.amount IS 'Amount invoiced: the order''s total, followed through edits while the invoice is not void (oms.check(): invoice_vs_order)';
COMMENT ON COLUMN oms.invoices.paid IS 'Settled so far by oms.settle_invoice';
COMMENT ON COLUMN oms.invoices.status IS 'open (amount - paid is owed), paid (paid reaches amount) or void (the order was cancelled)';
COMMENT ON COLUMN oms.invoices.created_at IS 'When the invoice was written';
COMMENT ON COLUMN oms.invoices.paid_at IS 'When the last settlement was recorded';
COMMENT ON COLUMN oms.invoices.voided_at IS 'When the invoice was voided';

CREATE FUNCTION oms.settle_invoice(invoice_id bigint, payment jsonb)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'settle_invoice';
COMMENT ON FUNCTION oms.settle_invoice(bigint, jsonb)
    IS 'Settle an open invoice with a payment {method: invoice, check or bank_transfer, amount, reference}: authorized and captured on its order, the invoice paid once covered';

CREATE FUNCTION oms.invoice_document(invoice_id bigint)
    RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'invoice_document';
COMMENT ON FUNCTION oms.invoice_document(bigint)
    IS 'The invoice as a printable text document: number, dates, bill-to, lines with tax, shipping, total, paid and due';

-- A/R ageing: what open invoices still ask for, by how long it is overdue
CREATE VIEW oms.report_ar_ageing AS
SELECT i.customer_id, c.name AS customer, i.currency,
       pg_catalog.count(*)::bigint AS invoices,
       pg_catalog.sum(i.amount OPERATOR(pg_catalog.-) i.paid) AS open,
       COALESCE(pg_catalog.sum(i.amount OPERATOR(pg_catalog.-) i.paid) FILTER (WHERE i.due_on OPERATOR(pg_catalog.>=) CURRENT_DATE), 0) AS current,
       COALESCE(pg_catalog.sum(i.amount OPERATOR(pg_catalog.-) i.paid)
                FILTER (WHERE CURRENT_DATE OPERATOR(pg_catalog.-) i.due_on BETWEEN 1 AND 30), 0) AS days_1_30,
       COALESCE(pg_catalog.sum(i.amount OPERATOR(pg_catalog.-) i.paid)
                FILTER (WHERE CURRENT_DATE OPERATOR(pg_catalog.-) i.due_on BETWEEN 31 AND 60), 0) AS days_31_60,
       COALESCE(pg_catalog.sum(i.amount OPERATOR(pg_catalog.-) i.paid)
                FILTER (WHERE CURRENT_DATE OPERATOR(pg_catalog.-) i.due_on BETWEEN 61 AND 90), 0) AS days_61_90,
       COALESCE(pg_catalog.sum(i.amount OPERATOR(pg_catalog.-) i.paid)
                FILTER (WHERE CURRENT_DATE OPERATOR(pg_catalog.-) i.due_on OPERATOR(pg_catalog.>) 90), 0) AS days_90_plus,
       pg_catalog.min(i.due_on) AS oldest_due
  FROM oms.invoices i
  JOIN oms.customers c ON c.id OPERATOR(pg_catalog.=) i.customer_id
 WHERE i.status OPERATOR(pg_catalog.=) 'open'
 GROUP BY i.customer_id, c.name, i.currency;
COMMENT ON VIEW oms.report_ar_ageing IS 'Accounts receivable ageing per customer and currency: what open invoices still ask for (amount - paid), not yet due (current) and by days overdue';
COMMENT ON COLUMN oms.report_ar_ageing.customer_id IS 'The customer';
COMMENT ON COLUMN oms.report_ar_ageing.customer IS 'The customer''s name';
COMMENT ON COLUMN oms.report_ar_ageing.currency IS 'Currency of the amounts';
COMMENT ON COLUMN oms.report_ar_ageing.invoices IS 'Open invoices';
COMMENT ON COLUMN oms.report_ar_ageing.open IS 'What they still ask for: current + every overdue bucket';
COMMENT ON COLUMN oms.report_ar_ageing.current IS 'Not yet due (due today or later)';
COMMENT ON COLUMN oms.report_ar_ageing.days_1_30 IS '1 to 30 days overdue';
COMMENT ON COLUMN oms.report_ar_ageing.days_31_60 IS '31 to 60 days overdue';
COMMENT ON COLUMN oms.report_ar_ageing.days_61_90 IS '61 to 90 days overdue';
COMMENT ON COLUMN oms.report_ar_ageing.days_90_plus IS 'More than 90 days overdue';
COMMENT ON COLUMN oms.report_ar_ageing.oldest_due IS 'The earliest due date among them';

SELECT pg_catalog.pg_extension_config_dump('oms.invoices', '');
SELECT pg_catalog.pg_extension_config_dump('oms.invoices_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.invoice_number_seq', '');

CREATE OR REPLACE VIEW oms.report_sales_daily AS
SELECT f.day, c.code AS channel, f.currency,
       pg_catalog.sum(f.orders)::bigint AS orders,
       pg_catalog.sum(f.units)::bigint AS units,
       pg_catalog.sum(f.gross) AS gross,
       pg_catalog.sum(f.discounts) AS discounts,
       pg_catalog.sum(f.tax) AS tax,
       pg_catalog.sum(f.net) AS net,
       pg_catalog.sum(f.refunds) AS refunds,
       pg_catalog.sum(f.net) OPERATOR(pg_catalog.-) pg_catalog.sum(f.refunds) AS net_after_refunds,
       pg_catalog.sum(f.shipping) AS shipping
  FROM (SELECT (o.placed_at AT TIME ZONE 'UTC')::date AS day, o.channel_id, o.currency,
               1 AS orders,
               (SELECT COALESCE(pg_catalog.sum(l.qty OPERATOR(pg_catalog.-) l.qty_cancelled), 0) FROM oms.order_lines l
                 WHERE l.order_id OPERATOR(pg_catalog.=) o.id) AS units,
               o.subtotal AS gross, o.discount AS discounts, o.tax, o.total AS net,
               0.0000 AS refunds, o.shipping
          FROM oms.orders o
          JOIN oms.order_statuses st ON st.status OPERATOR(pg_catalog.=) o.status
         WHERE st.counts_as_sale
           AND NOT EXISTS (SELECT FROM oms.rmas x WHERE x.exchange_order_id OPERATOR(pg_catalog.=) o.id)
        UNION ALL
        -- an exchange's replacement order is never paid, so it has no refunds
        SELECT (t.at AT TIME ZONE 'UTC')::date, o.channel_id, o.currency,
               0, 0, 0.0000, 0.0000, 0.0000, 0.0000, t.amount, 0.0000
          FROM oms.payment_transactions t
          JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) t.order_id
          JOIN oms.order_statuses st ON st.status OPERATOR(pg_catalog.=) o.status
         WHERE t.kind OPERATOR(pg_catalog.=) 'refund'
           AND st.counts_as_sale) f
  JOIN oms.channels c ON c.id OPERATOR(pg_catalog.=) f.channel_id
 GROUP BY f.day, c.code, f.currency;
COMMENT ON COLUMN oms.report_sales_daily.net IS 'gross - discounts + tax + shipping = sum of orders.total: what customers were charged, tax and shipping included so that refunds (which pay them back too) can be subtracted';
COMMENT ON COLUMN oms.report_sales_daily.shipping IS 'Sum of orders.shipping: the shipping charged (included in net)';
-- the materialized copy of report_sales_daily gains the shipping column:
-- recreated from the live view, with its index, grants and comments
DROP MATERIALIZED VIEW oms.report_sales_daily_mv;
CREATE MATERIALIZED VIEW oms.report_sales_daily_mv AS SELECT * FROM oms.report_sales_daily;
CREATE UNIQUE INDEX report_sales_daily_mv_key ON oms.report_sales_daily_mv (day, channel, currency);
GRANT SELECT ON oms.report_sales_daily_mv TO oms_reporting, oms_admin;
DO $$
BEGIN
    EXECUTE pg_catalog.format('COMMENT ON MATERIALIZED VIEW oms.report_sales_daily_mv IS %L',
        pg_catalog.format('Materialized copy of oms.%s, refreshed by oms.refresh_reports() (oms.materialized_reports says as of when). %s',
                          'report_sales_daily', pg_catalog.obj_description('oms.report_sales_daily'::pg_catalog.regclass, 'pg_class')));
    EXECUTE (SELECT pg_catalog.string_agg(pg_catalog.format('COMMENT ON COLUMN oms.report_sales_daily_mv.%I IS %L', a.attname,
                                                            pg_catalog.col_description(a.attrelid, a.attnum)), '; ')
               FROM pg_catalog.pg_attribute a
              WHERE a.attrelid OPERATOR(pg_catalog.=) 'oms.report_sales_daily'::pg_catalog.regclass
                AND a.attnum OPERATOR(pg_catalog.>) 0);
END $$;

-- (oms.check(): once, at the end of this script, with every area's change)

-- grants as src/grants.sql gives them
-- Charges (src/order_charges.c): the back office keeps the tax rates; the
-- shop reads them (to show prices with tax).
GRANT SELECT, INSERT, UPDATE, DELETE ON oms.tax_rates TO oms_admin;
GRANT SELECT ON oms.tax_rates TO oms_app;
-- Invoices (src/invoices.c): the back office and the shop read them and
-- record settlements; reporting reads the ageing report.
GRANT SELECT ON oms.invoices, oms.report_ar_ageing TO oms_admin;
GRANT SELECT ON oms.invoices TO oms_app;
GRANT SELECT ON oms.report_ar_ageing TO oms_reporting;
GRANT EXECUTE ON FUNCTION oms.settle_invoice(bigint, jsonb), oms.invoice_document(bigint) TO oms_admin, oms_app;
REVOKE ALL ON ALL TABLES IN SCHEMA oms FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA oms FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA oms FROM PUBLIC;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA oms TO oms_admin;

-- ===========================================================================
-- functions several areas of 0.2.0 change: defined once, here, as the
-- install script has them (src/check.sql, src/events.sql)
-- ===========================================================================
CREATE OR REPLACE FUNCTION oms.check(OUT invariant text, OUT detail text)
    RETURNS SETOF record
    LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    -- one scan of each table per invariant, never a probe per row: the
    -- plan must not depend on fresh statistics (right after a bulk of
    -- orders, before autovacuum's ANALYZE, a per-line probe of reservations
    -- took 14 s at 30k orders), and JIT would compile the ~60 joins for
    -- seconds whenever stale statistics make the plan look expensive
    SET jit = off
AS $fn$
    -- catalog: kits contain stock products only (the trigger can be bypassed
    -- by session_replication_role = replica or a disabled trigger)
    SELECT 'kit_component_kind'::text,
           pg_catalog.format('kit %s lists component %s of kind %s', k.sku, c.sku, c.kind)
      FROM oms.kit_components kc
      JOIN oms.products k ON k.id = kc.kit_id
      JOIN oms.products c ON c.id = kc.component_id
     WHERE k.kind <> 'kit' OR c.kind <> 'stock'
    UNION ALL
    -- catalog: an active kit must have at least one component, or it could be
    -- sold without reserving anything
    SELECT 'kit_without_components',
           pg_catalog.format('active kit %s has no components', p.sku)
      FROM oms.products p
     WHERE p.kind = 'kit' AND p.active
       AND NOT EXISTS (SELECT FROM oms.kit_components kc WHERE kc.kit_id = p.id)
    UNION ALL
    -- catalog: kit_line_vs_bom. A kit line's active reservations are exactly
    -- the bill of materials it was placed with, which is the kit's current
    -- one (oms.catalog_kit_bom_guard refuses to change the components of a kit
    -- that open orders hold): per component, reserved kits times the
    -- component quantity, and nothing of any product that is not a
    -- component. The kit half of line_vs_reservations, which now covers
    -- stock lines only, moved here.
    SELECT 'kit_line_vs_bom',
           pg_catalog.format('order %s line %s (kit %s): %s reserved needs %s of product %s, active reservations hold %s',
                             ol.order_id, ol.line_no, p.sku, ol.qty_reserved, ol.qty_reserved * COALESCE(x.per, 0),
                             x.product_id, COALESCE(x.held, 0))
      FROM (SELECT COALESCE(e.line_id, r.order_line_id) AS line_id, COALESCE(e.product_id, r.product_id) AS product_id,
                   e.per, r.held
              FROM (SELECT ol.id AS line_id, kc.component_id AS product_id, kc.qty AS per
                      FROM oms.order_lines ol
                      JOIN oms.products p ON p.id = ol.product_id AND p.kind = 'kit'
                      JOIN oms.kit_components kc ON kc.kit_id = ol.product_id) e
              FULL JOIN (SELECT r.order_line_id, r.product_id, pg_catalog.sum(r.qty) AS held
                           FROM oms.reservations r
                           JOIN oms.order_lines ol ON ol.id = r.order_line_id
                           JOIN oms.products p ON p.id = ol.product_id AND p.kind = 'kit'
                          WHERE r.status = 'active' GROUP BY 1, 2) r
                ON r.order_line_id = e.line_id AND r.product_id = e.product_id) x
      JOIN oms.order_lines ol ON ol.id = x.line_id
      JOIN oms.products p ON p.id = ol.product_id
     WHERE COALESCE(x.held, 0) <> ol.qty_reserved * COALESCE(x.per, 0)
    UNION ALL
    -- inventory 1: 0 <= reserved <= on_hand, nothing negative (also CHECKs)
    SELECT 'balance_bounds',
           pg_catalog.format('%s at %s: on_hand %s, reserved %s, damaged %s, safety_stock %s',
                             p.sku, l.code, b.on_hand, b.reserved, b.damaged, b.safety_stock)
      FROM oms.stock_balances b
      JOIN oms.products p ON p.id = b.product_id
      JOIN oms.locations l ON l.id = b.location_id
     WHERE b.reserved < 0 OR b.reserved > b.on_hand OR b.on_hand < 0 OR b.damaged < 0 OR b.safety_stock < 0
    UNION ALL
    -- inventory 2a: every balance equals the sum of its movements
    SELECT 'balance_vs_ledger',
           pg_catalog.format('product %s at location %s: balance on_hand/reserved/damaged/safety %s/%s/%s/%s, ledger %s/%s/%s/%s',
                             COALESCE(b.product_id, m.product_id), COALESCE(b.location_id, m.location_id),
                             COALESCE(b.on_hand, 0), COALESCE(b.reserved, 0), COALESCE(b.damaged, 0), COALESCE(b.safety_stock, 0),
                             COALESCE(m.on_hand, 0), COALESCE(m.reserved, 0), COALESCE(m.damaged, 0), COALESCE(m.safety_stock, 0))
      FROM oms.stock_balances b
      FULL JOIN (SELECT product_id, location_id, slot,
                        pg_catalog.sum(on_hand_delta) AS on_hand, pg_catalog.sum(reserved_delta) AS reserved,
                        pg_catalog.sum(damaged_delta) AS damaged, pg_catalog.sum(safety_stock_delta) AS safety_stock
                   FROM oms.stock_movements GROUP BY 1, 2, 3) m
        ON m.product_id = b.product_id AND m.location_id = b.location_id AND m.slot = b.slot
     WHERE COALESCE(b.on_hand, 0) <> COALESCE(m.on_hand, 0) OR COALESCE(b.reserved, 0) <> COALESCE(m.reserved, 0)
        OR COALESCE(b.damaged, 0) <> COALESCE(m.damaged, 0) OR COALESCE(b.safety_stock, 0) <> COALESCE(m.safety_stock, 0)
    UNION ALL
    -- inventory 2b: reserved equals the sum of active reservations
    SELECT 'reserved_vs_reservations',
           pg_catalog.format('product %s at location %s: reserved %s, active reservations %s',
                             COALESCE(b.product_id, r.product_id), COALESCE(b.location_id, r.location_id),
                             COALESCE(b.reserved, 0), COALESCE(r.qty, 0))
      FROM oms.stock_balances b
      FULL JOIN (SELECT product_id, location_id, slot, pg_catalog.sum(qty) AS qty
                   FROM oms.reservations WHERE status = 'active' GROUP BY 1, 2, 3) r
        ON r.product_id = b.product_id AND r.location_id = b.location_id AND r.slot = b.slot
     WHERE COALESCE(b.reserved, 0) <> COALESCE(r.qty, 0)
    UNION ALL
    -- inventory 2c: reference_orphan. Reservations, movements and routing
    -- decisions have no foreign keys (src/orders.sql says why): every
    -- reservation belongs to a line of its order, every reservation and
    -- movement to an existing balance row, every decision to an order.
    SELECT 'reference_orphan',
           pg_catalog.format('reservation %s: order %s has no line %s', r.id, r.order_id, r.order_line_id)
      FROM oms.reservations r
     WHERE NOT EXISTS (SELECT FROM oms.order_lines ol WHERE ol.id = r.order_line_id AND ol.order_id = r.order_id)
    UNION ALL
    SELECT 'reference_orphan',
           pg_catalog.format('%s %s: no balance row for product %s at location %s (slot %s)',
                             x.what, x.id, x.product_id, x.location_id, x.slot)
      FROM (SELECT 'reservation' AS what, id, product_id, location_id, slot FROM oms.reservations
            UNION ALL
            SELECT 'movement', id, product_id, location_id, slot FROM oms.stock_movements) x
     WHERE NOT EXISTS (SELECT FROM oms.stock_balances b
                        WHERE b.product_id = x.product_id AND b.location_id = x.location_id AND b.slot = x.slot)
    UNION ALL
    SELECT 'reference_orphan', pg_catalog.format('routing decision %s: no order %s', d.id, d.order_id)
      FROM oms.routing_decisions d
     WHERE NOT EXISTS (SELECT FROM oms.orders o WHERE o.id = d.order_id)
    UNION ALL
    -- orders 3: reserved + backordered + shipped + cancelled = qty, returned <= shipped
    SELECT 'line_accounting',
           pg_catalog.format('order %s line %s: qty %s, reserved %s, backordered %s, shipped %s, cancelled %s, returned %s',
                             ol.order_id, ol.line_no, ol.qty, ol.qty_reserved, ol.qty_backordered, ol.qty_shipped,
                             ol.qty_cancelled, ol.qty_returned)
      FROM oms.order_lines ol
     WHERE ol.qty_reserved + ol.qty_backordered + ol.qty_shipped + ol.qty_cancelled <> ol.qty
        OR ol.qty_returned > ol.qty_shipped OR ol.qty_returned < 0
    UNION ALL
    -- orders 3b: a stock line's reserved units are exactly its active
    -- reservations (kit lines: kit_line_vs_bom, with the catalog branches)
    SELECT 'line_vs_reservations',
           pg_catalog.format('order %s line %s (%s): %s reserved needs %s of product %s, active reservations hold %s',
                             ol.order_id, ol.line_no, p.sku, ol.qty_reserved, ol.qty_reserved, ol.product_id,
                             COALESCE(h.held, 0))
      FROM oms.order_lines ol
      JOIN oms.products p ON p.id = ol.product_id AND p.kind = 'stock'
      LEFT JOIN (SELECT order_line_id, product_id, pg_catalog.sum(qty) AS held FROM oms.reservations
                  WHERE status = 'active' GROUP BY 1, 2) h
        ON h.order_line_id = ol.id AND h.product_id = ol.product_id
     WHERE COALESCE(h.held, 0) <> ol.qty_reserved
    UNION ALL
    -- lifecycle 4: every order's status is the last one its history reached
    -- (orders created through oms; the status trigger writes the history)
    SELECT 'status_vs_history',
           pg_catalog.format('order %s is %s, its history ends at %s', o.id, o.status, COALESCE(h.to_status, '(nothing)'))
      FROM oms.orders o
      LEFT JOIN LATERAL (SELECT sh.to_status FROM oms.order_status_history sh
                          WHERE sh.order_id = o.id ORDER BY sh.id DESC LIMIT 1) h ON true
     WHERE h.to_status IS DISTINCT FROM o.status
    UNION ALL
    -- ---- lifecycle 9 and 10: statuses mean something; history and events
    -- ---- refer to orders (src/lifecycle.c "Status rules")
    -- lifecycle 9: a status without holds_stock holds nothing: no active
    -- reservations and no backordered units (generalises the former
    -- closed_order_holds_stock, which looked at terminal statuses only)
    SELECT 'status_holds_no_stock',
           pg_catalog.format('order %s is %s, a status that holds no stock, but has %s active reserved and %s backordered unit(s)',
                             o.id, o.status, COALESCE(r.qty, 0), COALESCE(b.qty, 0))
      FROM oms.orders o
      JOIN oms.order_statuses s ON s.status = o.status AND NOT s.holds_stock
      LEFT JOIN (SELECT order_id, pg_catalog.sum(qty) AS qty FROM oms.reservations WHERE status = 'active' GROUP BY 1) r
        ON r.order_id = o.id
      LEFT JOIN (SELECT order_id, pg_catalog.sum(qty_backordered) AS qty FROM oms.order_lines GROUP BY 1) b
        ON b.order_id = o.id
     WHERE COALESCE(r.qty, 0) > 0 OR COALESCE(b.qty, 0) > 0
    UNION ALL
    -- lifecycle 9: a fulfillment_driven status matches the shipments: an
    -- order with stock or kit lines (units not cancelled) in such a status
    -- has shipped units; and an order whose every such unit is shipped is
    -- not in a status that holds stock
    SELECT 'status_vs_shipments',
           pg_catalog.format('order %s is %s with %s of %s stock unit(s) shipped', o.id, o.status, g.shipped, g.owed)
      FROM oms.orders o
      JOIN oms.order_statuses s ON s.status = o.status
      JOIN (SELECT ol.order_id, pg_catalog.sum(ol.qty - ol.qty_cancelled) AS owed, pg_catalog.sum(ol.qty_shipped) AS shipped
              FROM oms.order_lines ol JOIN oms.products p ON p.id = ol.product_id AND p.kind <> 'service'
             GROUP BY 1 HAVING pg_catalog.sum(ol.qty - ol.qty_cancelled) > 0) g ON g.order_id = o.id
     WHERE (s.fulfillment_driven AND g.shipped = 0)
        OR (s.holds_stock AND g.shipped >= g.owed)
    UNION ALL
    -- lifecycle 10: every history row refers to an existing order
    SELECT 'history_orphan',
           pg_catalog.format('history row %s (%s to %s) refers to order %s, which does not exist',
                             h.id, COALESCE(h.from_status, '(new)'), h.to_status, h.order_id)
      FROM oms.order_status_history h
     WHERE NOT EXISTS (SELECT FROM oms.orders o WHERE o.id = h.order_id)
    UNION ALL
    -- lifecycle 10: every event with an order_id refers to an existing order
    SELECT 'event_orphan',
           pg_catalog.format('event %s (%s) refers to order %s, which does not exist', e.id, e.kind, e.order_id)
      FROM oms.events e
     WHERE e.order_id IS NOT NULL AND NOT EXISTS (SELECT FROM oms.orders o WHERE o.id = e.order_id)
    UNION ALL
    -- payments 5: captured + voided <= authorized, refunded <= captured, and
    -- the order's currency (also CHECKs, except the currency)
    SELECT 'payment_amounts',
           pg_catalog.format('payment %s of order %s: %s %s authorized, %s captured, %s voided, %s refunded (order in %s)',
                             p.id, p.order_id, p.currency, p.authorized, p.captured, p.voided, p.refunded, o.currency)
      FROM oms.payments p JOIN oms.orders o ON o.id = p.order_id
     WHERE p.captured + p.voided > p.authorized OR p.refunded > p.captured OR p.authorized <= 0
        OR p.currency <> o.currency
    UNION ALL
    -- payments: a gift card or store credit balance is what was issued less
    -- what payments still hold (authorized - voided - refunded)
    SELECT 'stored_value_balance',
           pg_catalog.format('%s %s: balance %s, issued %s, held by payments %s', g.kind, g.id, g.balance, g.issued, COALESCE(s.held, 0))
      FROM oms.gift_cards g
      LEFT JOIN (SELECT gift_card_id, pg_catalog.sum(authorized - voided - refunded) AS held
                   FROM oms.payments WHERE gift_card_id IS NOT NULL GROUP BY 1) s ON s.gift_card_id = g.id
     WHERE g.balance <> g.issued - COALESCE(s.held, 0) OR g.balance < 0
    UNION ALL
    -- coverage 8: order_total_owed. An open order's amounts count only the
    -- units owed (not cancelled): subtotal = sum of (qty - qty_cancelled) x
    -- unit_price, discount and tax = each line's in proportion to its units
    -- owed (rounded to 4 decimals per line), total = subtotal - discount +
    -- tax + shipping (src/order_place.c, PoOwedTotals; src/order_charges.c).
    -- A terminal order (cancelled, expired) keeps the amounts it had when
    -- it closed.
    SELECT 'order_total_owed',
           pg_catalog.format('order %s (%s): subtotal %s, discount %s, tax %s, shipping %s, total %s; its units owed make %s, %s, %s, %s',
                             o.id, o.status, o.subtotal, o.discount, o.tax, o.shipping, o.total,
                             l.subtotal, l.discount, l.tax, l.subtotal - l.discount + l.tax + o.shipping)
      FROM oms.orders o
      JOIN oms.order_statuses s ON s.status = o.status
     CROSS JOIN LATERAL (SELECT COALESCE(pg_catalog.sum((ol.qty - ol.qty_cancelled) * ol.unit_price), 0) AS subtotal,
                                COALESCE(pg_catalog.sum(pg_catalog.round(ol.discount * (ol.qty - ol.qty_cancelled) / ol.qty, 4)), 0) AS discount,
                                COALESCE(pg_catalog.sum(pg_catalog.round(ol.tax * (ol.qty - ol.qty_cancelled) / ol.qty, 4)), 0) AS tax
                           FROM oms.order_lines ol WHERE ol.order_id = o.id) l
     WHERE NOT s.terminal
       AND (o.subtotal <> l.subtotal OR o.discount <> l.discount OR o.tax <> l.tax
            OR o.total <> l.subtotal - l.discount + l.tax + o.shipping)
    UNION ALL
    -- charges: shipping_without_units. An open order charges shipping only
    -- while a unit is owed: an edit that cancels every unit takes the
    -- shipping charge off with them (src/order_edit_apply.c)
    SELECT 'shipping_without_units',
           pg_catalog.format('order %s (%s) charges shipping %s and owes no unit', o.id, o.status, o.shipping)
      FROM oms.orders o
      JOIN oms.order_statuses s ON s.status = o.status AND NOT s.terminal
     WHERE o.shipping > 0
       AND NOT EXISTS (SELECT FROM oms.order_lines ol WHERE ol.order_id = o.id AND ol.qty > ol.qty_cancelled)
    UNION ALL
    -- charges: shipping_recognized. The journal recognises an order's
    -- shipping charge whole with its first shipment: once a unit has
    -- shipped, oms.revenue_recognized.shipping is the order's charge
    -- (src/ledger.c)
    SELECT 'shipping_recognized',
           pg_catalog.format('order %s: shipping %s, recognised %s', o.id, o.shipping, COALESCE(rr.shipping, 0))
      FROM oms.orders o
      LEFT JOIN oms.revenue_recognized rr ON rr.order_id = o.id
     WHERE EXISTS (SELECT FROM oms.order_lines ol WHERE ol.order_id = o.id AND ol.qty_shipped > 0)
       AND COALESCE(rr.shipping, 0) <> o.shipping
    UNION ALL
    -- invoices: invoice_vs_order. An invoice that is not void asks for its
    -- order's total, and its order is not cancelled or expired; a void one
    -- belongs to such an order; open means paid < amount, paid the rest
    -- (src/invoices.c)
    SELECT 'invoice_vs_order',
           pg_catalog.format('invoice %s (%s): amount %s, paid %s; order %s is %s with total %s',
                             i.number, i.status, i.amount, i.paid, o.id, o.status, o.total)
      FROM oms.invoices i
      JOIN oms.orders o ON o.id = i.order_id
      JOIN oms.order_statuses s ON s.status = o.status
     WHERE (i.status <> 'void' AND (i.amount <> o.total OR s.terminal))
        OR (i.status = 'void' AND NOT s.terminal)
        OR (i.status = 'open' AND i.paid >= i.amount)
        OR (i.status = 'paid' AND i.paid < i.amount)
    UNION ALL
    -- invoices: invoices_receivable_posted. The journal's invoices_receivable
    -- holds, per currency, what the open invoices still ask for
    -- (amount - paid): issue, changes and voids post the difference,
    -- settlements their amount (src/invoices.c)
    SELECT 'invoices_receivable_posted',
           pg_catalog.format('%s: invoices_receivable balance %s, open invoices ask %s',
                             COALESCE(j.currency, i.currency), COALESCE(j.balance, 0), COALESCE(i.asks, 0))
      FROM (SELECT e.currency, pg_catalog.sum(l.debit - l.credit) AS balance
              FROM oms.journal_lines l JOIN oms.journal_entries e ON e.id = l.entry_id
             WHERE l.account = 'invoices_receivable' GROUP BY 1) j
      FULL JOIN (SELECT currency, pg_catalog.sum(amount - paid) AS asks FROM oms.invoices
                  WHERE status = 'open' GROUP BY 1) i ON i.currency = j.currency
     WHERE COALESCE(j.balance, 0) <> COALESCE(i.asks, 0)
    UNION ALL
    -- coverage 8: order_coverage. A status that may ship (shippable; on
    -- hold: the status the order returns to) promises payment: the order's
    -- payments, authorized less voided, reach its total, or its customer is
    -- on payment terms (src/lifecycle.c, "Coverage")
    SELECT 'order_coverage',
           pg_catalog.format('order %s: %s, total %s, payments hold %s, customer not on payment terms',
                             o.id, COALESCE(o.held_from, o.status), o.total, COALESCE(p.held, 0))
      FROM oms.orders o
      JOIN oms.order_statuses s ON s.status = COALESCE(o.held_from, o.status)
      LEFT JOIN oms.customers c ON c.id = o.customer_id
      LEFT JOIN (SELECT order_id, pg_catalog.sum(authorized - voided) AS held FROM oms.payments GROUP BY 1) p
             ON p.order_id = o.id
     WHERE s.shippable AND NOT s.terminal
       AND COALESCE(p.held, 0) < o.total
       AND NOT COALESCE('terms' = ANY (c.flags), false)
    UNION ALL
    -- fulfillment: a stock line's shipped units are exactly the units of
    -- its shipped and delivered shipments
    SELECT 'shipped_vs_shipments',
           pg_catalog.format('order %s line %s: qty_shipped %s, in shipped shipments %s',
                             ol.order_id, ol.line_no, ol.qty_shipped, COALESCE(s.qty, 0))
      FROM oms.order_lines ol
      JOIN oms.products p ON p.id = ol.product_id AND p.kind <> 'service'
      LEFT JOIN (SELECT sl.order_line_id, pg_catalog.sum(sl.qty) AS qty
                   FROM oms.shipment_lines sl JOIN oms.shipments sh ON sh.id = sl.shipment_id
                  WHERE sh.status IN ('shipped', 'delivered') GROUP BY 1) s ON s.order_line_id = ol.id
     WHERE ol.qty_shipped <> COALESCE(s.qty, 0)
    UNION ALL
    -- fulfillment: pending shipments never hold more of a line than the
    -- line has reserved at the shipment's location (kits: whole kits)
    SELECT 'pending_shipment_vs_reserved',
           pg_catalog.format('order %s line %s at location %s: %s unit(s) in pending shipments, %s reserved there',
                             ol.order_id, ol.line_no, ps.location_id, ps.qty, COALESCE(h.kits, 0))
      FROM (SELECT sl.order_line_id, sh.location_id, pg_catalog.sum(sl.qty) AS qty
              FROM oms.shipment_lines sl JOIN oms.shipments sh ON sh.id = sl.shipment_id
             WHERE sh.status = 'pending' GROUP BY 1, 2) ps
      JOIN oms.order_lines ol ON ol.id = ps.order_line_id
      JOIN oms.products p ON p.id = ol.product_id
      LEFT JOIN LATERAL (
          SELECT CASE WHEN p.kind = 'kit'
                      THEN (SELECT pg_catalog.min(COALESCE(r.held, 0) / kc.qty)
                              FROM oms.kit_components kc
                              LEFT JOIN (SELECT product_id, pg_catalog.sum(qty) AS held FROM oms.reservations
                                          WHERE order_line_id = ol.id AND location_id = ps.location_id
                                            AND status = 'active' GROUP BY 1) r ON r.product_id = kc.component_id
                             WHERE kc.kit_id = p.id)
                      ELSE (SELECT pg_catalog.sum(qty) FROM oms.reservations
                             WHERE order_line_id = ol.id AND location_id = ps.location_id AND status = 'active')
                 END AS kits) h ON true
     WHERE ps.qty > COALESCE(h.kits, 0)
    UNION ALL
    -- returns 7: an order line's RMA claims (RMAs not rejected, units not
    -- reported missing) never exceed what it shipped: no unit comes back twice
    SELECT 'rma_claims',
           pg_catalog.format('order %s line %s: shipped %s, claimed by RMAs %s', ol.order_id, ol.line_no, ol.qty_shipped, c.qty)
      FROM oms.order_lines ol
      JOIN (SELECT rl.order_line_id, pg_catalog.sum(rl.qty - rl.qty_missing) AS qty FROM oms.rma_lines rl
              JOIN oms.rmas r ON r.id = rl.rma_id WHERE r.status <> 'rejected' GROUP BY 1) c ON c.order_line_id = ol.id
     WHERE c.qty > ol.qty_shipped
    UNION ALL
    -- returns 7: received <= authorized: units are received only for an
    -- authorized RMA, and never more than its lines ask (also a CHECK)
    SELECT 'rma_received',
           pg_catalog.format('RMA %s (%s) line of order line %s: qty %s, restocked %s, damaged %s, missing %s, resolved %s',
                             r.id, r.status, rl.order_line_id, rl.qty, rl.qty_restocked, rl.qty_damaged, rl.qty_missing, rl.qty_resolved)
      FROM oms.rma_lines rl JOIN oms.rmas r ON r.id = rl.rma_id
     WHERE rl.qty_restocked + rl.qty_damaged + rl.qty_missing > rl.qty
        OR rl.qty_resolved > rl.qty_restocked + rl.qty_damaged
        OR (r.status IN ('requested', 'rejected') AND rl.qty_restocked + rl.qty_damaged + rl.qty_missing > 0)
    UNION ALL
    -- returns: an order line's returned units are the units its RMAs received
    -- back (sellable or damaged)
    SELECT 'returned_vs_rmas',
           pg_catalog.format('order %s line %s: qty_returned %s, received by RMAs %s', ol.order_id, ol.line_no, ol.qty_returned,
                             COALESCE(x.qty, 0))
      FROM oms.order_lines ol
      LEFT JOIN (SELECT order_line_id, pg_catalog.sum(qty_restocked + qty_damaged) AS qty FROM oms.rma_lines GROUP BY 1) x
        ON x.order_line_id = ol.id
     WHERE ol.qty_returned <> COALESCE(x.qty, 0)
    UNION ALL
    -- returns: money out for returns (refunds and store credit) never exceeds
    -- what the order's payments captured
    SELECT 'rma_money',
           pg_catalog.format('order %s: RMAs refunded %s and credited %s, payments captured %s', r.order_id, r.refunded, r.credit,
                             COALESCE(p.captured, 0))
      FROM (SELECT order_id, pg_catalog.sum(refunded) AS refunded, pg_catalog.sum(store_credit) AS credit
              FROM oms.rmas GROUP BY 1) r
      LEFT JOIN (SELECT order_id, pg_catalog.sum(captured) AS captured FROM oms.payments GROUP BY 1) p ON p.order_id = r.order_id
     WHERE r.refunded + r.credit > COALESCE(p.captured, 0)
    UNION ALL
    -- payments 8: order_money_out: per order, money out never exceeds what its
    -- payments captured: refunds to its payments + store credit issued for it
    -- + exchange credit (returned value applied to a replacement) + exchange
    -- value beyond that credit which the replacement order does not charge
    -- (in cents: unit prices keep 4 decimals). The one money path
    -- (PaymentsMoneyOut) refuses each action that would break it.
    SELECT 'order_money_out',
           pg_catalog.format('order %s: captured %s, money out %s (refunds %s, store credit %s, exchange credit %s, exchange value not charged %s)',
                             m.order_id, m.captured, m.refunds + m.credit + m.exchange + m.uncharged,
                             m.refunds, m.credit, m.exchange, m.uncharged)
      FROM (SELECT o.id AS order_id,
                   COALESCE(p.captured, 0) AS captured, COALESCE(p.refunded, 0) AS refunds,
                   COALESCE(mo.credit, 0) AS credit, COALESCE(mo.exchange, 0) AS exchange,
                   COALESCE(x.uncharged, 0) AS uncharged
              FROM oms.orders o
              LEFT JOIN (SELECT order_id, pg_catalog.sum(captured) AS captured, pg_catalog.sum(refunded) AS refunded
                           FROM oms.payments GROUP BY 1) p ON p.order_id = o.id
              LEFT JOIN (SELECT order_id, pg_catalog.sum(amount) FILTER (WHERE kind = 'store_credit') AS credit,
                                pg_catalog.sum(amount) FILTER (WHERE kind = 'exchange') AS exchange
                           FROM oms.money_out GROUP BY 1) mo ON mo.order_id = o.id
              LEFT JOIN (SELECT r.order_id,
                                pg_catalog.sum(GREATEST(pg_catalog.round(r.exchange_value - COALESCE(c.credit, 0) - xo.total, 2), 0)) AS uncharged
                           FROM oms.rmas r
                           JOIN oms.orders xo ON xo.id = r.exchange_order_id
                           LEFT JOIN (SELECT rma_id, pg_catalog.sum(amount) AS credit FROM oms.money_out
                                       WHERE kind = 'exchange' GROUP BY 1) c ON c.rma_id = r.id
                          GROUP BY 1) x ON x.order_id = o.id) m
     WHERE m.refunds + m.credit + m.exchange + m.uncharged > m.captured
    UNION ALL
    -- ledger 6: every journal entry balances (the deferred trigger refuses
    -- it at commit; this catches entries written with triggers disabled)
    SELECT 'journal_balance',
           pg_catalog.format('journal entry %s (%s): debits %s, credits %s', e.id, e.kind, COALESCE(l.debit, 0), COALESCE(l.credit, 0))
      FROM oms.journal_entries e
      LEFT JOIN (SELECT entry_id, pg_catalog.sum(debit) AS debit, pg_catalog.sum(credit) AS credit
                   FROM oms.journal_lines GROUP BY 1) l ON l.entry_id = e.id
     WHERE COALESCE(l.debit, 0) <> COALESCE(l.credit, 0)
    UNION ALL
    -- purchasing 12: inventory value equals the sum of valued movements,
    -- per product in units and value
    SELECT 'inventory_value',
           pg_catalog.format('product %s: valuation %s unit(s) worth %s, valued movements %s unit(s) worth %s',
                             COALESCE(v.product_id, m.product_id), COALESCE(v.qty, 0), COALESCE(v.value, 0),
                             COALESCE(m.qty, 0), COALESCE(m.value, 0))
      FROM oms.inventory_valuation v
      FULL JOIN (SELECT product_id, pg_catalog.sum(qty) AS qty, pg_catalog.sum(value) AS value
                   FROM oms.valued_movements GROUP BY 1) m ON m.product_id = v.product_id
     WHERE COALESCE(v.qty, 0) <> COALESCE(m.qty, 0) OR COALESCE(v.value, 0) <> COALESCE(m.value, 0)
    UNION ALL
    -- purchasing 12: every valued movement is in the journal, its entry
    -- posting exactly its value (whatever accounts the rules name)
    SELECT 'inventory_value_posted',
           pg_catalog.format('valued movement %s (%s of product %s): value %s, journal entry %s posts %s',
                             m.id, m.kind, m.product_id, m.value, COALESCE(m.journal_entry_id::text, 'none'), COALESCE(j.debit, 0))
      FROM oms.valued_movements m
      LEFT JOIN (SELECT entry_id, pg_catalog.sum(debit) AS debit FROM oms.journal_lines GROUP BY 1) j
        ON j.entry_id = m.journal_entry_id
     WHERE COALESCE(j.debit, 0) <> pg_catalog.abs(m.value)
    UNION ALL
    -- purchasing: a purchase order line's received and damaged units are
    -- its receipts
    SELECT 'purchase_order_receipts',
           pg_catalog.format('purchase order %s line %s: received %s (damaged %s), receipts %s (damaged %s)',
                             pl.purchase_order_id, pl.line_no, pl.qty_received, pl.qty_damaged,
                             COALESCE(r.qty, 0), COALESCE(r.damaged, 0))
      FROM oms.purchase_order_lines pl
      LEFT JOIN (SELECT line_id, pg_catalog.sum(qty) AS qty,
                        COALESCE(pg_catalog.sum(qty) FILTER (WHERE condition = 'damaged'), 0) AS damaged
                   FROM oms.purchase_order_receipts GROUP BY 1) r ON r.line_id = pl.id
     WHERE pl.qty_received <> COALESCE(r.qty, 0) OR pl.qty_damaged <> COALESCE(r.damaged, 0)
    UNION ALL
    -- stores: goods handed over without a carrier left from where the order
    -- was to be collected (a pickup at its pickup store, a counter sale at
    -- its store): src/pickup.c, src/counter_sale.c
    SELECT 'handover_location',
           pg_catalog.format('shipment %s (%s) of order %s left from location %s, the order is collected at %s',
                             s.id, s.handover, s.order_id, s.location_id, COALESCE(o.pickup_location_id::text, 'no store'))
      FROM oms.shipments s JOIN oms.orders o ON o.id = s.order_id
     WHERE s.handover IS NOT NULL AND s.location_id IS DISTINCT FROM o.pickup_location_id
    UNION ALL
    -- customers: an erased customer keeps no personal data: no name, email,
    -- phone, address or consent, and its orders no ship-to detail,
    -- coordinates or notes (src/customers.c)
    SELECT 'erased_customer_data',
           pg_catalog.format('customer %s (erased %s) still holds %s', c.id, c.erased_at,
                             pg_catalog.concat_ws(', ',
                                 CASE WHEN c.name IS NOT NULL OR c.email IS NOT NULL OR c.phone IS NOT NULL THEN 'contact data' END,
                                 CASE WHEN EXISTS (SELECT FROM oms.customer_addresses a WHERE a.customer_id = c.id) THEN 'addresses' END,
                                 CASE WHEN EXISTS (SELECT FROM oms.customer_consents k WHERE k.customer_id = c.id) THEN 'consents' END,
                                 CASE WHEN EXISTS (SELECT FROM oms.orders o WHERE o.customer_id = c.id
                                                      AND (o.ship_lat IS NOT NULL OR o.notes IS NOT NULL
                                                           OR (o.ship_to - ARRAY['erased', 'country', 'pickup']) <> '{}'::jsonb))
                                      THEN 'order ship-to data' END))
      FROM oms.customers c
     WHERE c.erased_at IS NOT NULL
       AND (c.name IS NOT NULL OR c.email IS NOT NULL OR c.phone IS NOT NULL
            OR EXISTS (SELECT FROM oms.customer_addresses a WHERE a.customer_id = c.id)
            OR EXISTS (SELECT FROM oms.customer_consents k WHERE k.customer_id = c.id)
            OR EXISTS (SELECT FROM oms.orders o WHERE o.customer_id = c.id
                          AND (o.ship_lat IS NOT NULL OR o.notes IS NOT NULL
                               OR (o.ship_to - ARRAY['erased', 'country', 'pickup']) <> '{}'::jsonb)))
    UNION ALL
    -- pricing: invariant 11. A promotion code's uses are the live orders
    -- holding a use of it (applied, not given back, the order's status not
    -- terminal), never above its usage_limit; the same per customer for
    -- codes with a per-customer limit (src/promotion_codes.c)
    SELECT 'promotion_code_uses',
           pg_catalog.format('promotion code %s: uses %s, live orders using it %s, usage_limit %s',
                             k.code, k.uses, COALESCE(u.n, 0), COALESCE(k.usage_limit::text, 'none'))
      FROM oms.promotion_codes k
      LEFT JOIN (SELECT oc.code_id, pg_catalog.count(*) AS n
                   FROM oms.order_codes oc JOIN oms.orders o ON o.id = oc.order_id
                   JOIN oms.order_statuses s ON s.status = o.status
                  WHERE oc.applied AND oc.released_at IS NULL AND NOT s.terminal GROUP BY 1) u ON u.code_id = k.id
     WHERE k.uses <> COALESCE(u.n, 0) OR k.uses > k.usage_limit
    UNION ALL
    SELECT 'promotion_code_uses',
           pg_catalog.format('promotion code %s, customer %s: uses %s, live orders of the customer using it %s, per_customer_limit %s',
                             k.code, COALESCE(c.customer_id, u.customer_id), COALESCE(c.uses, 0), COALESCE(u.n, 0),
                             COALESCE(k.per_customer_limit::text, 'none'))
      FROM oms.promotion_code_customers c
      FULL JOIN (SELECT oc.code_id, oc.customer_id, pg_catalog.count(*) AS n
                   FROM oms.order_codes oc JOIN oms.orders o ON o.id = oc.order_id
                   JOIN oms.order_statuses s ON s.status = o.status
                  WHERE oc.applied AND oc.released_at IS NULL AND NOT s.terminal AND oc.customer_id IS NOT NULL
                  GROUP BY 1, 2) u ON u.code_id = c.code_id AND u.customer_id = c.customer_id
      JOIN oms.promotion_codes k ON k.id = COALESCE(c.code_id, u.code_id)
     WHERE COALESCE(c.uses, 0) <> COALESCE(u.n, 0) OR c.uses > k.per_customer_limit
$fn$;

CREATE OR REPLACE FUNCTION oms.render_notification(event_id bigint, channel text DEFAULT 'email')
    RETURNS TABLE (recipient text, subject text, body text)
    LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_event    oms.events;
    v_tpl      oms.message_templates;
    v_values   jsonb;
    v_key      text;
    v_val      text;
    v_consent  boolean;
BEGIN
    SELECT * INTO v_event FROM oms.events e WHERE e.id = render_notification.event_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'event % does not exist', render_notification.event_id
            USING ERRCODE = '22023', DETAIL = 'No row in oms.events has this id.',
                  HINT = 'Render the ids that oms.read_events returns.';
    END IF;
    SELECT * INTO v_tpl FROM oms.message_templates t
     WHERE t.kind = v_event.kind AND t.channel = render_notification.channel;
    IF NOT FOUND THEN
        RETURN;     -- no message for this kind of event
    END IF;
    -- goods handed over at a counter or a pickup left with the customer:
    -- no "shipped" or "delivered" message (src/pickup.c, src/counter_sale.c)
    IF v_event.kind IN ('shipment_shipped', 'shipment_delivered') AND EXISTS (
           SELECT FROM oms.shipments s
            WHERE s.id = (v_event.payload ->> 'shipment_id')::bigint AND s.handover IS NOT NULL) THEN
        RETURN;
    END IF;

    SELECT jsonb_build_object(
               'customer_name', COALESCE(c.name, 'customer'),
               'order_ref', o.external_id,
               'order_id', o.id,
               'total', to_char(o.total, 'FM999999999990.00'),
               'currency', o.currency,
               'status', o.status,
               'reason', COALESCE(v_event.payload ->> 'reason', ''),
               'amount', COALESCE(to_char((v_event.payload ->> 'amount')::numeric, 'FM999999999990.00'), ''),
               'carrier', COALESCE(v_event.payload ->> 'carrier_name', ''),
               'service', COALESCE(v_event.payload ->> 'service_name', ''),
               'tracking_number', COALESCE(v_event.payload ->> 'tracking_number', ''),
               'tracking_url', COALESCE(v_event.payload ->> 'tracking_url', ''),
               'parcel_items', COALESCE(v_event.payload ->> 'items', ''),
               'pickup_code', COALESCE(v_event.payload ->> 'pickup_code', ''),
               'location_name', COALESCE(v_event.payload ->> 'location_name', ''),
               'collect_by', COALESCE(v_event.payload ->> 'collect_by', ''),
               -- a delayed line says when it is expected (oms.backorder_eta, purchasing)
               'items', (SELECT string_agg(format('  %s x %s (%s)', l.qty, p.name, p.sku)
                                           || CASE WHEN v_event.kind = 'order_backordered' THEN
                                                   COALESCE((SELECT ', expected by ' || e.expected_on FROM oms.backorder_eta e
                                                              WHERE e.order_line_id = l.id AND e.expected_on IS NOT NULL), '')
                                              ELSE '' END, E'\n' ORDER BY l.line_no)
                           FROM oms.order_lines l JOIN oms.products p ON p.id = l.product_id
                          WHERE l.order_id = o.id
                            AND (v_event.kind <> 'order_backordered' OR l.qty_backordered > 0)),
               'substitutions', (SELECT string_agg(format('  %s (%s) is sent in place of %s (%s), which is out of stock.', p.name, p.sku, sp.name, sp.sku),
                                                   E'\n' ORDER BY l.line_no) || E'\n'
                                   FROM oms.order_lines l JOIN oms.products p ON p.id = l.product_id
                                   JOIN oms.products sp ON sp.id = l.substituted_for
                                  WHERE l.order_id = o.id),
               'recipient', CASE render_notification.channel WHEN 'email' THEN c.email WHEN 'sms' THEN c.phone END,
               -- the customer's consent to order updates on this channel
               'consent', (SELECT k.granted FROM oms.customer_consents k
                            WHERE k.customer_id = c.id AND k.purpose = 'order_updates'
                              AND k.channel = render_notification.channel))
      INTO v_values
      FROM oms.orders o LEFT JOIN oms.customers c ON c.id = o.customer_id
     WHERE o.id = v_event.order_id;
    IF v_values IS NULL THEN
        RETURN;     -- not an order event
    END IF;

    -- consent: order updates by email go out unless the customer withdrew
    -- them (they serve the contract); an SMS only with consent given
    v_consent := (v_values ->> 'consent')::boolean;
    IF v_consent IS FALSE OR (render_notification.channel = 'sms' AND v_consent IS NOT TRUE) THEN
        RETURN;
    END IF;
    v_values := v_values - 'consent';
    recipient := v_values ->> 'recipient';
    subject := v_tpl.subject;
    body := v_tpl.body;
    FOR v_key, v_val IN SELECT key, value FROM jsonb_each_text(v_values) LOOP
        subject := replace(subject, '{{' || v_key || '}}', COALESCE(v_val, ''));
        body := replace(body, '{{' || v_key || '}}', COALESCE(v_val, ''));
    END LOOP;
    subject := regexp_replace(subject, '\{\{[a-z_]+\}\}', '', 'g');
    body := regexp_replace(body, '\{\{[a-z_]+\}\}', '', 'g');
    RETURN NEXT;
END
$fn$;
COMMENT ON FUNCTION oms.render_notification(bigint, text)
    IS 'The customer message for an event on a channel, email or sms (recipient: the email address or the phone number, subject, body); no row when the event kind has no template for the channel, or the customer''s consent to order updates on it does not allow it (an SMS needs consent given, an email goes out unless withdrawn)';

