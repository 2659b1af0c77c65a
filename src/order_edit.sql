
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
