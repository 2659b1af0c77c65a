
-- ===========================================================================
-- events: the transactional outbox and its consumers (src/events.c)
-- ===========================================================================

CREATE TABLE oms.events (
    id        bigserial   NOT NULL,
    at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    xid       xid8        NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
    kind      text        NOT NULL,
    order_id  bigint,
    payload   jsonb       NOT NULL DEFAULT '{}',
    CONSTRAINT events_pkey PRIMARY KEY (id),
    CONSTRAINT events_kind_chk CHECK (kind OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]*$'),
    CONSTRAINT events_payload_chk CHECK (pg_catalog.jsonb_typeof(payload) OPERATOR(pg_catalog.=) 'object')
);
CREATE INDEX events_delivery_idx ON oms.events (xid, id);
CREATE INDEX events_order_idx ON oms.events (order_id) WHERE order_id IS NOT NULL;
COMMENT ON TABLE oms.events IS 'Transactional outbox: one row per business event, written in the same transaction as the change';
COMMENT ON COLUMN oms.events.id IS 'Event id';
COMMENT ON COLUMN oms.events.at IS 'Transaction time of the event';
COMMENT ON COLUMN oms.events.xid IS 'Writing transaction; consumers read in (xid, id) order so that late commits are never skipped';
COMMENT ON COLUMN oms.events.kind IS 'order_placed, order_confirmed, order_on_hold, order_cancelled, order_backordered, backorder_filled, payment_authorized, payment_captured, payment_voided, payment_refunded, low_stock, ...';
COMMENT ON COLUMN oms.events.order_id IS 'Order the event is about, if any';
COMMENT ON COLUMN oms.events.payload IS 'Event details';

CREATE TABLE oms.event_consumers (
    consumer        text        NOT NULL,
    acked_xid       xid8        NOT NULL DEFAULT '0',
    acked_id        bigint      NOT NULL DEFAULT 0,
    delivered_xid   xid8        NOT NULL DEFAULT '0',
    delivered_id    bigint      NOT NULL DEFAULT 0,
    delivered_at    timestamptz,
    CONSTRAINT event_consumers_pkey PRIMARY KEY (consumer),
    CONSTRAINT event_consumers_name_chk CHECK (consumer OPERATOR(pg_catalog.~) '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$')
);
COMMENT ON TABLE oms.event_consumers IS 'Per-consumer cursors over oms.events';
COMMENT ON COLUMN oms.event_consumers.consumer IS 'Consumer name (one name per kind of worker: mailer, erp-sync, ...)';
COMMENT ON COLUMN oms.event_consumers.acked_xid IS 'Acknowledged position: writing transaction of the last acknowledged event';
COMMENT ON COLUMN oms.event_consumers.acked_id IS 'Acknowledged position: id of the last acknowledged event';
COMMENT ON COLUMN oms.event_consumers.delivered_xid IS 'Delivered position: writing transaction of the last delivered event';
COMMENT ON COLUMN oms.event_consumers.delivered_id IS 'Delivered position: id of the last delivered event';
COMMENT ON COLUMN oms.event_consumers.delivered_at IS 'When the last batch was delivered; unacknowledged batches are delivered again after oms.event_redelivery_seconds';

CREATE FUNCTION oms.read_events(consumer text, max integer DEFAULT 100)
    RETURNS SETOF oms.events
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'read_events';
COMMENT ON FUNCTION oms.read_events(text, integer)
    IS 'The next batch of events for a consumer; concurrent workers of one consumer get disjoint batches';

CREATE FUNCTION oms.ack_events(consumer text, upto_id bigint)
    RETURNS integer
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'ack_events';
COMMENT ON FUNCTION oms.ack_events(text, bigint)
    IS 'Acknowledge a consumer''s delivered events up to and including upto_id; returns how many became acknowledged';

SELECT pg_catalog.pg_extension_config_dump('oms.events', '');
SELECT pg_catalog.pg_extension_config_dump('oms.events_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.event_consumers', '');
