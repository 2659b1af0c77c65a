
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
