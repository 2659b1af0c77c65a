
-- ===========================================================================
-- lifecycle: statuses and transitions as data, enforced by a C trigger on
-- oms.orders; history; holds (src/lifecycle.c). The order actions declared
-- here (set_order_status, hold_order, release_hold) are implemented in
-- src/order_actions.c.
-- ===========================================================================

CREATE TABLE oms.order_statuses (
    status       text    NOT NULL,
    description  text    NOT NULL,
    initial      boolean NOT NULL DEFAULT false,
    final        boolean NOT NULL DEFAULT false,
    seeded       boolean NOT NULL DEFAULT false,
    -- capabilities: what the status means. C code and SQL ask these columns
    -- (LifecycleAllows() in src/lifecycle.c), never the status name, so a
    -- custom status inserted with its capabilities behaves with no code change.
    -- The defaults give a status added without them the meaning custom
    -- statuses had before capabilities existed: payable, counted as a sale,
    -- and nothing else.
    holds_stock        boolean NOT NULL DEFAULT false,
    open               boolean NOT NULL DEFAULT false,
    fulfillment_driven boolean NOT NULL DEFAULT false,
    payable            boolean NOT NULL DEFAULT true,
    cancellable        boolean NOT NULL DEFAULT false,
    terminal           boolean NOT NULL DEFAULT false,
    counts_as_sale     boolean NOT NULL DEFAULT true,
    shippable          boolean NOT NULL DEFAULT false,
    returnable         boolean NOT NULL DEFAULT false,
    CONSTRAINT order_statuses_pkey PRIMARY KEY (status),
    CONSTRAINT order_statuses_terminal_chk CHECK (NOT (terminal AND (holds_stock OR open OR payable OR cancellable OR shippable OR counts_as_sale))),
    CONSTRAINT order_statuses_status_chk CHECK (status OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,39}$')
);
COMMENT ON TABLE oms.order_statuses IS 'Order statuses; add your own with INSERT (seeded rows come with the extension)';
COMMENT ON COLUMN oms.order_statuses.status IS 'Status name';
COMMENT ON COLUMN oms.order_statuses.description IS 'What the status means';
COMMENT ON COLUMN oms.order_statuses.initial IS 'Orders may be created in this status';
COMMENT ON COLUMN oms.order_statuses.final IS 'No transition leaves this status (informational)';
COMMENT ON COLUMN oms.order_statuses.seeded IS 'Row installed by the extension; not dumped, CREATE EXTENSION recreates it';
COMMENT ON COLUMN oms.order_statuses.holds_stock IS 'Capability: the order may hold active reservations and backorders in this status; leaving for a status without it releases them';
COMMENT ON COLUMN oms.order_statuses.open IS 'Capability: units still to be fulfilled count as open demand (backorder fills, reports)';
COMMENT ON COLUMN oms.order_statuses.fulfillment_driven IS 'Capability: reached through shipments (ship, deliver) when the order has stock lines, not by hand';
COMMENT ON COLUMN oms.order_statuses.payable IS 'Capability: payments may be authorized and captured';
COMMENT ON COLUMN oms.order_statuses.cancellable IS 'Capability: oms.cancel_order may cancel the order';
COMMENT ON COLUMN oms.order_statuses.terminal IS 'Capability: the order ended unfulfilled; nothing is held, owed or shipped (cancelled, expired)';
COMMENT ON COLUMN oms.order_statuses.counts_as_sale IS 'Capability: the order counts as a sale in reports';
COMMENT ON COLUMN oms.order_statuses.shippable IS 'Capability: shipments may be created and shipped';
COMMENT ON COLUMN oms.order_statuses.returnable IS 'Capability: shipped units may be returned (RMA)';

CREATE TABLE oms.order_transitions (
    from_status  text    NOT NULL,
    to_status    text    NOT NULL,
    seeded       boolean NOT NULL DEFAULT false,
    CONSTRAINT order_transitions_pkey PRIMARY KEY (from_status, to_status),
    CONSTRAINT order_transitions_from_fkey FOREIGN KEY (from_status) REFERENCES oms.order_statuses (status),
    CONSTRAINT order_transitions_to_fkey FOREIGN KEY (to_status) REFERENCES oms.order_statuses (status),
    CONSTRAINT order_transitions_change_chk CHECK (from_status OPERATOR(pg_catalog.<>) to_status)
);
COMMENT ON TABLE oms.order_transitions IS 'Allowed status changes; the trigger on oms.orders rejects every other one, whoever issues it';
COMMENT ON COLUMN oms.order_transitions.from_status IS 'Status before';
COMMENT ON COLUMN oms.order_transitions.to_status IS 'Status after';
COMMENT ON COLUMN oms.order_transitions.seeded IS 'Row installed by the extension; not dumped, CREATE EXTENSION recreates it';

CREATE TABLE oms.order_status_history (
    id           bigserial   NOT NULL,
    order_id     bigint      NOT NULL,
    from_status  text,
    to_status    text        NOT NULL,
    at           timestamptz NOT NULL DEFAULT pg_catalog.now(),
    actor        text        NOT NULL DEFAULT SESSION_USER,
    reason       text,
    CONSTRAINT order_status_history_pkey PRIMARY KEY (id)
);
CREATE INDEX order_status_history_order_idx ON oms.order_status_history (order_id, id);
COMMENT ON TABLE oms.order_status_history IS 'Every status change of every order, written by the status trigger';
COMMENT ON COLUMN oms.order_status_history.id IS 'Sequence number';
COMMENT ON COLUMN oms.order_status_history.order_id IS 'The order';
COMMENT ON COLUMN oms.order_status_history.from_status IS 'Status before (NULL when the order was created)';
COMMENT ON COLUMN oms.order_status_history.to_status IS 'Status after';
COMMENT ON COLUMN oms.order_status_history.at IS 'Transaction time';
COMMENT ON COLUMN oms.order_status_history.actor IS 'Login role that made the change';
COMMENT ON COLUMN oms.order_status_history.reason IS 'Why, when given';

CREATE TABLE oms.hold_rules (
    flag     text    NOT NULL,
    reason   text    NOT NULL,
    active   boolean NOT NULL DEFAULT true,
    seeded   boolean NOT NULL DEFAULT false,
    CONSTRAINT hold_rules_pkey PRIMARY KEY (flag),
    CONSTRAINT hold_rules_flag_chk CHECK (flag OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]*$')
);
COMMENT ON TABLE oms.hold_rules IS 'Order or customer flags that put a new order on hold at placement';
COMMENT ON COLUMN oms.hold_rules.flag IS 'Flag on the order or on its customer';
COMMENT ON COLUMN oms.hold_rules.reason IS 'Hold reason recorded in the history';
COMMENT ON COLUMN oms.hold_rules.active IS 'Inactive rules are ignored';
COMMENT ON COLUMN oms.hold_rules.seeded IS 'Row installed by the extension; not dumped';

-- seeded statuses and their capabilities (hs holds_stock, op open, fd
-- fulfillment_driven, pa payable, ca cancellable, te terminal, sa
-- counts_as_sale, sh shippable, re returnable)
INSERT INTO oms.order_statuses (status, description, initial, final, seeded,
        holds_stock, open, fulfillment_driven, payable, cancellable, terminal, counts_as_sale, shippable, returnable)
SELECT s, d, i, f, true, hs, op, fd, pa, ca, te, sa, sh, re FROM (VALUES
    --                                                                                  i      f      hs     op     fd     pa     ca     te     sa     sh     re
    ('pending_payment',    'Placed, stock reserved, waiting for payment',                  true,  false, true,  true,  false, true,  true,  false, true,  false, false),
    ('backordered',        'Placed, some units wait for stock',                            false, false, true,  true,  false, true,  true,  false, true,  false, false),
    ('confirmed',          'Paid (or on payment terms); reservations no longer expire',    false, false, true,  true,  false, true,  true,  false, true,  true,  false),
    ('on_hold',            'Stopped for review; release returns it to where it was',       false, false, true,  true,  false, true,  true,  false, true,  false, false),
    ('in_fulfillment',     'Being picked and packed',                                      false, false, true,  true,  false, true,  true,  false, true,  true,  false),
    ('partially_shipped',  'Some units shipped',                                           false, false, true,  true,  true,  true,  true,  false, true,  true,  true),
    ('shipped',            'Every unit shipped',                                           false, false, false, false, true,  true,  false, false, true,  false, true),
    ('delivered',          'Delivered to the customer',                                    false, false, false, false, true,  true,  false, false, true,  false, true),
    ('completed',          'Closed after delivery',                                        false, false, false, false, false, false, false, false, true,  false, true),
    ('partially_returned', 'Some shipped units returned',                                  false, false, false, false, false, true,  false, false, true,  false, true),
    ('returned',           'Every shipped unit returned',                                  false, true,  false, false, false, false, false, false, true,  false, false),
    ('cancelled',          'Cancelled; stock released, payments voided or refunded',       false, true,  false, false, false, false, false, true,  false, false, false),
    ('expired',            'Unpaid; reservations lapsed',                                  false, true,  false, false, false, false, false, true,  false, false, false))
    AS v(s, d, i, f, hs, op, fd, pa, ca, te, sa, sh, re);

INSERT INTO oms.order_transitions (from_status, to_status, seeded)
SELECT f, t, true FROM (VALUES
    ('pending_payment', 'confirmed'), ('pending_payment', 'backordered'), ('pending_payment', 'on_hold'),
    ('pending_payment', 'cancelled'), ('pending_payment', 'expired'),
    ('backordered', 'pending_payment'), ('backordered', 'confirmed'), ('backordered', 'on_hold'),
    ('backordered', 'cancelled'), ('backordered', 'expired'),
    ('confirmed', 'in_fulfillment'), ('confirmed', 'on_hold'), ('confirmed', 'cancelled'),
    -- a void that leaves a confirmed order uncovered sends it back to
    -- awaiting payment (oms.void_payment, src/payments.c)
    ('confirmed', 'pending_payment'), ('confirmed', 'backordered'),
    ('on_hold', 'pending_payment'), ('on_hold', 'backordered'), ('on_hold', 'confirmed'), ('on_hold', 'cancelled'),
    ('in_fulfillment', 'partially_shipped'), ('in_fulfillment', 'shipped'), ('in_fulfillment', 'confirmed'),
    ('in_fulfillment', 'cancelled'), ('in_fulfillment', 'on_hold'), ('on_hold', 'in_fulfillment'),
    ('partially_shipped', 'shipped'),
    ('shipped', 'delivered'), ('shipped', 'partially_returned'), ('shipped', 'returned'),
    ('delivered', 'completed'), ('delivered', 'partially_returned'), ('delivered', 'returned'),
    ('completed', 'partially_returned'), ('completed', 'returned'),
    ('partially_returned', 'returned'), ('partially_returned', 'completed')) AS v(f, t);

INSERT INTO oms.hold_rules (flag, reason, seeded) VALUES ('fraud_review', 'flagged for fraud review', true);

ALTER TABLE oms.orders
    ADD CONSTRAINT orders_status_fkey FOREIGN KEY (status) REFERENCES oms.order_statuses (status),
    ADD CONSTRAINT orders_held_from_fkey FOREIGN KEY (held_from) REFERENCES oms.order_statuses (status);

-- SECURITY DEFINER: the trigger writes history and outbox rows that the
-- role changing the status (oms_admin by hand) may not write itself; the
-- history still records the login role (SESSION_USER) as actor.
CREATE FUNCTION oms.lifecycle_status_guard() RETURNS trigger
    LANGUAGE c SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'lifecycle_status_guard';
COMMENT ON FUNCTION oms.lifecycle_status_guard() IS 'Trigger: only transitions in oms.order_transitions and the status rules; writes history and an event';
CREATE TRIGGER orders_status_guard
    BEFORE INSERT OR UPDATE OF status ON oms.orders
    FOR EACH ROW EXECUTE FUNCTION oms.lifecycle_status_guard();
-- A new order's history row and order_placed event are written AFTER the
-- INSERT: a BEFORE trigger runs before INSERT ... ON CONFLICT DO NOTHING
-- finds a replay's conflict, and would record an order that is never stored.
CREATE TRIGGER orders_status_recorded
    AFTER INSERT ON oms.orders
    FOR EACH ROW EXECUTE FUNCTION oms.lifecycle_status_guard();

CREATE FUNCTION oms.lifecycle_invalidate() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'lifecycle_invalidate';
COMMENT ON FUNCTION oms.lifecycle_invalidate() IS 'Trigger: tells every backend to reload its cached transition table';
CREATE TRIGGER order_statuses_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON oms.order_statuses
    FOR EACH STATEMENT EXECUTE FUNCTION oms.lifecycle_invalidate();
CREATE TRIGGER order_transitions_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON oms.order_transitions
    FOR EACH STATEMENT EXECUTE FUNCTION oms.lifecycle_invalidate();

CREATE FUNCTION oms.set_order_status(order_id bigint, status text, reason text DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'set_order_status';
COMMENT ON FUNCTION oms.set_order_status(bigint, text, text)
    IS 'Move an order to another status along an allowed transition; cancelled and on_hold take their full paths';

CREATE FUNCTION oms.hold_order(order_id bigint, reason text)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'hold_order';
COMMENT ON FUNCTION oms.hold_order(bigint, text) IS 'Put an order on hold, remembering its status';

CREATE FUNCTION oms.release_hold(order_id bigint)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'release_hold';
COMMENT ON FUNCTION oms.release_hold(bigint) IS 'Return a held order to the status it had before the hold';

CREATE FUNCTION oms.order_history(order_id bigint)
    RETURNS TABLE (at timestamptz, from_status text, to_status text, actor text, reason text)
    LANGUAGE sql STABLE STRICT PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT h.at, h.from_status, h.to_status, h.actor, h.reason
      FROM oms.order_status_history h WHERE h.order_id = $1 ORDER BY h.id
$fn$;
COMMENT ON FUNCTION oms.order_history(bigint) IS 'Status history of one order, oldest first';

SELECT pg_catalog.pg_extension_config_dump('oms.order_statuses', 'WHERE NOT seeded');
SELECT pg_catalog.pg_extension_config_dump('oms.order_transitions', 'WHERE NOT seeded');
SELECT pg_catalog.pg_extension_config_dump('oms.hold_rules', 'WHERE NOT seeded');
SELECT pg_catalog.pg_extension_config_dump('oms.order_status_history', '');
SELECT pg_catalog.pg_extension_config_dump('oms.order_status_history_id_seq', '');

-- Card-number guard (issue 13, breach 9). Tables that oms_admin writes with
-- plain SQL get the trigger (a clean 22023 naming the column; a CHECK would
-- echo the row in its DETAIL); columns that only C entry points write, which
-- check first, get a CHECK constraint backstop.
CREATE TRIGGER order_statuses_no_card_number BEFORE INSERT OR UPDATE ON oms.order_statuses
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('description');
CREATE TRIGGER hold_rules_no_card_number BEFORE INSERT OR UPDATE ON oms.hold_rules
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('reason');
ALTER TABLE oms.order_status_history ADD CONSTRAINT order_status_history_no_card_number_chk CHECK (
    NOT oms.contains_card_number(COALESCE(reason, '')));
