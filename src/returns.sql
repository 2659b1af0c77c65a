
-- ===========================================================================
-- returns: RMAs with authorization, receiving with disposition, refunds,
-- exchanges and store credit (src/returns.c)
--
-- An RMA line claims shipped units of an order line from the moment it is
-- requested until the RMA is rejected: Σ claims <= shipped, so two RMAs can
-- never return the same unit. Receiving books sellable units back into
-- on_hand (ledger kind return_restock) and damaged ones into damaged
-- (return_damaged); refunds go through the payments area's refund path.
-- ===========================================================================

CREATE TABLE oms.return_reasons (
    code               text          NOT NULL,
    description        text          NOT NULL,
    restocking_fee_pct numeric(5,2)  NOT NULL DEFAULT 0,
    auto_approve_max   numeric(12,2),
    active             boolean       NOT NULL DEFAULT true,
    seeded             boolean       NOT NULL DEFAULT false,
    CONSTRAINT return_reasons_pkey PRIMARY KEY (code),
    CONSTRAINT return_reasons_code_chk CHECK (code OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,62}$'),
    CONSTRAINT return_reasons_fee_chk CHECK (restocking_fee_pct OPERATOR(pg_catalog.>=) 0 AND restocking_fee_pct OPERATOR(pg_catalog.<=) 100),
    CONSTRAINT return_reasons_auto_chk CHECK (auto_approve_max OPERATOR(pg_catalog.>=) 0)
);
COMMENT ON TABLE oms.return_reasons IS 'Why customers return items; extensible with INSERT';
COMMENT ON COLUMN oms.return_reasons.code IS 'Reason code used in RMA lines';
COMMENT ON COLUMN oms.return_reasons.description IS 'What the reason means';
COMMENT ON COLUMN oms.return_reasons.restocking_fee_pct IS 'Percent of the refundable value kept as a restocking fee';
COMMENT ON COLUMN oms.return_reasons.auto_approve_max IS 'An RMA is authorized at once when every line''s reason has a limit here and the larger of its value and its exchange value is at most the lowest of them; NULL never';
COMMENT ON COLUMN oms.return_reasons.active IS 'Inactive reasons cannot be used for new RMAs';
COMMENT ON COLUMN oms.return_reasons.seeded IS 'Shipped with the extension (not dumped); rows added by users are dumped';
INSERT INTO oms.return_reasons (code, description, restocking_fee_pct, auto_approve_max, seeded) VALUES
    ('defective', 'Does not work', 0, 500, true),
    ('damaged_in_transit', 'Arrived damaged', 0, 500, true),
    ('wrong_item', 'Not what was ordered', 0, 500, true),
    ('not_as_described', 'Differs from its description', 0, 100, true),
    ('changed_mind', 'The customer does not want it any more', 10, 50, true),
    ('too_small', 'Size too small', 0, 200, true),
    ('too_large', 'Size too large', 0, 200, true);

CREATE TABLE oms.rmas (
    id               bigserial     NOT NULL,
    order_id         bigint        NOT NULL,
    status           text          NOT NULL DEFAULT 'requested',
    resolution       text          NOT NULL,
    value            numeric(16,4) NOT NULL,
    exchange_lines   jsonb,
    exchange_order_id bigint,
    refunded         numeric(16,4) NOT NULL DEFAULT 0,
    store_credit     numeric(16,4) NOT NULL DEFAULT 0,
    notes            text,
    reject_reason    text,
    created_at       timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    authorized_at    timestamptz,
    received_at      timestamptz,
    resolved_at      timestamptz,
    -- added in 0.2.0: last, where ALTER TABLE ADD COLUMN puts it on an upgrade
    exchange_value   numeric(16,4) NOT NULL DEFAULT 0,
    CONSTRAINT rmas_pkey PRIMARY KEY (id),
    CONSTRAINT rmas_order_fkey FOREIGN KEY (order_id) REFERENCES oms.orders (id),
    CONSTRAINT rmas_exchange_order_fkey FOREIGN KEY (exchange_order_id) REFERENCES oms.orders (id),
    CONSTRAINT rmas_status_chk CHECK (status OPERATOR(pg_catalog.=) ANY (ARRAY['requested', 'authorized', 'rejected',
        'partially_received', 'received', 'resolved'])),
    CONSTRAINT rmas_resolution_chk CHECK (resolution OPERATOR(pg_catalog.=) ANY (ARRAY['refund', 'exchange', 'store_credit'])),
    CONSTRAINT rmas_exchange_chk CHECK ((resolution OPERATOR(pg_catalog.=) 'exchange') OPERATOR(pg_catalog.=) (exchange_lines IS NOT NULL)),
    CONSTRAINT rmas_amounts_chk CHECK (value OPERATOR(pg_catalog.>=) 0 AND refunded OPERATOR(pg_catalog.>=) 0 AND store_credit OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT rmas_exchange_value_chk CHECK (exchange_value OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT rmas_no_card_number_chk CHECK (NOT oms.contains_card_number(COALESCE(notes, ''))
        AND NOT oms.contains_card_number(COALESCE(reject_reason, '')))
);
CREATE INDEX rmas_order_idx ON oms.rmas (order_id);
COMMENT ON TABLE oms.rmas IS 'Return merchandise authorizations: what a customer sends back, and how it is resolved';
COMMENT ON COLUMN oms.rmas.id IS 'RMA id';
COMMENT ON COLUMN oms.rmas.order_id IS 'The order the units were shipped with';
COMMENT ON COLUMN oms.rmas.status IS 'requested, authorized, rejected, partially_received, received or resolved (refunded, credited or exchanged)';
COMMENT ON COLUMN oms.rmas.resolution IS 'refund (to the original payments), exchange (a replacement order) or store_credit';
COMMENT ON COLUMN oms.rmas.value IS 'What the requested units were paid (unit price less discount plus tax, per unit), before restocking fees';
COMMENT ON COLUMN oms.rmas.exchange_lines IS 'Exchange: the replacement lines [{sku, qty, unit_price}], each priced (a returned sku at the price paid for it)';
COMMENT ON COLUMN oms.rmas.exchange_value IS 'Exchange: what the replacement lines are worth (sum of qty x unit_price); 0 for other resolutions';
COMMENT ON COLUMN oms.rmas.exchange_order_id IS 'Exchange: the replacement order, once created';
COMMENT ON COLUMN oms.rmas.refunded IS 'Money refunded to the order''s payments for this RMA';
COMMENT ON COLUMN oms.rmas.store_credit IS 'Store credit issued for this RMA';
COMMENT ON COLUMN oms.rmas.notes IS 'Free notes';
COMMENT ON COLUMN oms.rmas.reject_reason IS 'Why the RMA was rejected';
COMMENT ON COLUMN oms.rmas.created_at IS 'When it was requested';
COMMENT ON COLUMN oms.rmas.authorized_at IS 'When it was authorized';
COMMENT ON COLUMN oms.rmas.received_at IS 'When units were last received';
COMMENT ON COLUMN oms.rmas.resolved_at IS 'When it was refunded, credited or exchanged';

CREATE TABLE oms.rma_lines (
    id             bigserial     NOT NULL,
    rma_id         bigint        NOT NULL,
    order_line_id  bigint        NOT NULL,
    qty            integer       NOT NULL,
    reason         text          NOT NULL,
    unit_value     numeric(16,4) NOT NULL,
    qty_restocked  integer       NOT NULL DEFAULT 0,
    qty_damaged    integer       NOT NULL DEFAULT 0,
    qty_missing    integer       NOT NULL DEFAULT 0,
    qty_resolved   integer       NOT NULL DEFAULT 0,
    CONSTRAINT rma_lines_pkey PRIMARY KEY (id),
    CONSTRAINT rma_lines_rma_line_key UNIQUE (rma_id, order_line_id),
    CONSTRAINT rma_lines_rma_fkey FOREIGN KEY (rma_id) REFERENCES oms.rmas (id),
    CONSTRAINT rma_lines_line_fkey FOREIGN KEY (order_line_id) REFERENCES oms.order_lines (id),
    CONSTRAINT rma_lines_reason_fkey FOREIGN KEY (reason) REFERENCES oms.return_reasons (code),
    CONSTRAINT rma_lines_qty_chk CHECK (qty OPERATOR(pg_catalog.>) 0),
    CONSTRAINT rma_lines_received_chk CHECK (qty_restocked OPERATOR(pg_catalog.>=) 0 AND qty_damaged OPERATOR(pg_catalog.>=) 0
        AND qty_missing OPERATOR(pg_catalog.>=) 0
        AND qty_restocked OPERATOR(pg_catalog.+) qty_damaged OPERATOR(pg_catalog.+) qty_missing OPERATOR(pg_catalog.<=) qty),
    CONSTRAINT rma_lines_resolved_chk CHECK (qty_resolved OPERATOR(pg_catalog.>=) 0
        AND qty_resolved OPERATOR(pg_catalog.<=) (qty_restocked OPERATOR(pg_catalog.+) qty_damaged))
);
CREATE INDEX rma_lines_line_idx ON oms.rma_lines (order_line_id);
COMMENT ON TABLE oms.rma_lines IS 'Units of an order line in an RMA, and what became of them';
COMMENT ON COLUMN oms.rma_lines.id IS 'Line id';
COMMENT ON COLUMN oms.rma_lines.rma_id IS 'The RMA';
COMMENT ON COLUMN oms.rma_lines.order_line_id IS 'The order line returned';
COMMENT ON COLUMN oms.rma_lines.qty IS 'Units requested (and, once authorized, authorized); kits: whole kits';
COMMENT ON COLUMN oms.rma_lines.reason IS 'Return reason (oms.return_reasons)';
COMMENT ON COLUMN oms.rma_lines.unit_value IS 'What one unit was paid: (unit_price x qty - discount + tax) / qty of the order line';
COMMENT ON COLUMN oms.rma_lines.qty_restocked IS 'Units received sellable, back in on_hand';
COMMENT ON COLUMN oms.rma_lines.qty_damaged IS 'Units received damaged, in the balance''s damaged';
COMMENT ON COLUMN oms.rma_lines.qty_missing IS 'Units the parcel did not contain; never refunded';
COMMENT ON COLUMN oms.rma_lines.qty_resolved IS 'Received units already refunded, credited or exchanged';

CREATE FUNCTION oms.create_rma(order_id bigint, rma jsonb)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'create_rma';
COMMENT ON FUNCTION oms.create_rma(bigint, jsonb)
    IS 'Request a return {lines: [{sku or line_no, qty, reason}], resolution: refund | exchange | store_credit, exchange: {lines: [{sku, qty, unit_price}]}, notes}';

CREATE FUNCTION oms.authorize_rma(rma_id bigint)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'authorize_rma';
COMMENT ON FUNCTION oms.authorize_rma(bigint) IS 'Authorize a requested RMA; a repeated call is a no-op that says so';

CREATE FUNCTION oms.reject_rma(rma_id bigint, reason text)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'reject_rma';
COMMENT ON FUNCTION oms.reject_rma(bigint, text) IS 'Reject a requested or authorized RMA with nothing received; its units become returnable again';

CREATE FUNCTION oms.get_rma(rma_id bigint)
    RETURNS jsonb
    LANGUAGE c STABLE STRICT PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'get_rma';
COMMENT ON FUNCTION oms.get_rma(bigint) IS 'The RMA as a JSON document';

CREATE FUNCTION oms.return_label(rma_id bigint)
    RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'return_label';
COMMENT ON FUNCTION oms.return_label(bigint)
    IS 'Return label of an authorized RMA in ZPL: from the customer to the location that shipped most of its units, the RMA number as barcode';

CREATE FUNCTION oms.receive_rma(rma_id bigint, location text, lines jsonb)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'receive_rma';
COMMENT ON FUNCTION oms.receive_rma(bigint, text, jsonb)
    IS 'Receive returned units [{sku or line_no, qty, condition: sellable | damaged | missing}] at a location; partial receipts allowed';

CREATE FUNCTION oms.refund_rma(rma_id bigint)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'refund_rma';
COMMENT ON FUNCTION oms.refund_rma(bigint)
    IS 'Resolve the received units: refund to the original payments (gift cards and store credit first, then cards), issue store credit, or place the exchange order';

CREATE VIEW oms.return_stats AS
SELECT p.sku, rl.reason,
       pg_catalog.count(DISTINCT r.id) AS rmas,
       COALESCE(pg_catalog.sum(rl.qty) FILTER (WHERE r.status OPERATOR(pg_catalog.<>) 'rejected'), 0) AS units_requested,
       pg_catalog.sum(rl.qty_restocked) AS units_restocked,
       pg_catalog.sum(rl.qty_damaged) AS units_damaged,
       pg_catalog.sum(rl.qty_missing) AS units_missing,
       pg_catalog.count(*) FILTER (WHERE r.status OPERATOR(pg_catalog.=) 'rejected') AS lines_rejected,
       pg_catalog.sum(rl.qty_resolved OPERATOR(pg_catalog.*) rl.unit_value) AS value_resolved
  FROM oms.rma_lines rl
  JOIN oms.rmas r ON r.id OPERATOR(pg_catalog.=) rl.rma_id
  JOIN oms.order_lines ol ON ol.id OPERATOR(pg_catalog.=) rl.order_line_id
  JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) ol.product_id
 GROUP BY p.sku, rl.reason;
COMMENT ON VIEW oms.return_stats IS 'Returns per sku and reason: requested, restocked, damaged and missing units, rejected lines, value resolved';
COMMENT ON COLUMN oms.return_stats.sku IS 'The product returned';
COMMENT ON COLUMN oms.return_stats.reason IS 'Return reason';
COMMENT ON COLUMN oms.return_stats.rmas IS 'RMAs with this sku and reason';
COMMENT ON COLUMN oms.return_stats.units_requested IS 'Units requested, rejected RMAs left out';
COMMENT ON COLUMN oms.return_stats.units_restocked IS 'Units received sellable';
COMMENT ON COLUMN oms.return_stats.units_damaged IS 'Units received damaged';
COMMENT ON COLUMN oms.return_stats.units_missing IS 'Units claimed but not in the parcel';
COMMENT ON COLUMN oms.return_stats.lines_rejected IS 'RMA lines of rejected RMAs';
COMMENT ON COLUMN oms.return_stats.value_resolved IS 'Paid value of the units refunded, credited or exchanged (before restocking fees)';

INSERT INTO oms.message_templates (kind, subject, body, seeded) VALUES
    ('rma_requested', 'We received your return request for order {{order_ref}}',
     E'Hello {{customer_name}},\n\nwe have your return request for order {{order_ref}} and will review it shortly.', true),
    ('rma_authorized', 'Your return for order {{order_ref}} is approved',
     E'Hello {{customer_name}},\n\nyour return for order {{order_ref}} is approved. Please print the return label and send the items back.', true),
    ('rma_received', 'Your returned items for order {{order_ref}} arrived',
     E'Hello {{customer_name}},\n\nthe items you returned for order {{order_ref}} have arrived at our warehouse.', true),
    ('refund_issued', 'Your return for order {{order_ref}} is settled',
     E'Hello {{customer_name}},\n\nyour return for order {{order_ref}} is settled: {{reason}}.', true);

SELECT pg_catalog.pg_extension_config_dump('oms.return_reasons', 'WHERE NOT seeded');
SELECT pg_catalog.pg_extension_config_dump('oms.rmas', '');
SELECT pg_catalog.pg_extension_config_dump('oms.rmas_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.rma_lines', '');
SELECT pg_catalog.pg_extension_config_dump('oms.rma_lines_id_seq', '');

-- Card-number guard (issue 13, breach 9). Tables that oms_admin writes with
-- plain SQL get the trigger (a clean 22023 naming the column; a CHECK would
-- echo the row in its DETAIL); columns that only C entry points write, which
-- check first, get a CHECK constraint backstop.
CREATE TRIGGER return_reasons_no_card_number BEFORE INSERT OR UPDATE ON oms.return_reasons
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('description');
