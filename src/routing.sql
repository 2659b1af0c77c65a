
-- ===========================================================================
-- routing: which location(s) serve an order, and why (src/route_plan.c,
-- src/route_reserve.c, src/route_explain.c; explain_route enters through
-- src/order_explain.c)
--
-- The routing engine runs inside place_order's reservation transaction and
-- inside oms.reject_fulfillment's re-route. Its configuration is data:
-- the channel's strategy and maximum distance (oms.channels), the
-- locations a channel may use (oms.channel_locations), the locations'
-- coordinates, costs, priority and daily capacity (oms.locations). Every
-- decision is stored in oms.routing_decisions; oms.explain_route shows the
-- same reasoning for a document without reserving anything.
-- ===========================================================================

CREATE TABLE oms.channel_locations (
    channel_id   integer NOT NULL,
    location_id  integer NOT NULL,
    CONSTRAINT channel_locations_pkey PRIMARY KEY (channel_id, location_id),
    CONSTRAINT channel_locations_channel_fkey FOREIGN KEY (channel_id) REFERENCES oms.channels (id) ON DELETE CASCADE,
    CONSTRAINT channel_locations_location_fkey FOREIGN KEY (location_id) REFERENCES oms.locations (id) ON DELETE CASCADE
);
COMMENT ON TABLE oms.channel_locations IS 'Locations a channel may route to; a channel without rows here may use every location';
COMMENT ON COLUMN oms.channel_locations.channel_id IS 'The channel';
COMMENT ON COLUMN oms.channel_locations.location_id IS 'A location the channel may route to';

CREATE FUNCTION oms.routing_invalidate() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'routing_invalidate';
COMMENT ON FUNCTION oms.routing_invalidate() IS 'Trigger: tells every backend to re-read its cached routing configuration';
CREATE TRIGGER channels_routing_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON oms.channels
    FOR EACH STATEMENT EXECUTE FUNCTION oms.routing_invalidate();
CREATE TRIGGER channel_locations_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON oms.channel_locations
    FOR EACH STATEMENT EXECUTE FUNCTION oms.routing_invalidate();

CREATE TABLE oms.location_daily_load (
    location_id  integer NOT NULL,
    day          date    NOT NULL,
    orders       integer NOT NULL,
    CONSTRAINT location_daily_load_pkey PRIMARY KEY (location_id, day),
    CONSTRAINT location_daily_load_location_fkey FOREIGN KEY (location_id) REFERENCES oms.locations (id),
    CONSTRAINT location_daily_load_orders_chk CHECK (orders OPERATOR(pg_catalog.>=) 0)
);
COMMENT ON TABLE oms.location_daily_load IS 'Orders routed to a capacity-limited location per day (UTC); routing counts here with a guarded increment, so daily_capacity is never exceeded';
COMMENT ON COLUMN oms.location_daily_load.location_id IS 'The location (one with a daily_capacity)';
COMMENT ON COLUMN oms.location_daily_load.day IS 'The day, in the location''s time zone (oms.locations.time_zone)';
COMMENT ON COLUMN oms.location_daily_load.orders IS 'Orders routed to the location that day';

CREATE TABLE oms.rejection_reasons (
    code          text    NOT NULL,
    description   text    NOT NULL,
    adjusts_stock boolean NOT NULL DEFAULT false,
    seeded        boolean NOT NULL DEFAULT false,
    CONSTRAINT rejection_reasons_pkey PRIMARY KEY (code),
    CONSTRAINT rejection_reasons_code_chk CHECK (code OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,62}$')
);
COMMENT ON TABLE oms.rejection_reasons IS 'Why a location rejects an order it was routed to; extensible with INSERT';
COMMENT ON COLUMN oms.rejection_reasons.code IS 'Reason code passed to oms.reject_fulfillment';
COMMENT ON COLUMN oms.rejection_reasons.description IS 'What the reason means';
COMMENT ON COLUMN oms.rejection_reasons.adjusts_stock IS 'The stock count was wrong: the rejected units are written off the location''s on_hand';
COMMENT ON COLUMN oms.rejection_reasons.seeded IS 'Shipped with the extension (not dumped); rows added by users are dumped';
INSERT INTO oms.rejection_reasons (code, description, adjusts_stock, seeded) VALUES
    ('inventory_mismatch', 'The units are not there: the stock count was wrong', true, true),
    ('damaged', 'The units are there but cannot be sold', false, true),
    ('no_capacity', 'The location cannot handle the order in time', false, true),
    ('other', 'Any other reason', false, true);

CREATE TABLE oms.fulfillment_rejections (
    id           bigserial   NOT NULL,
    order_id     bigint      NOT NULL,
    location_id  integer     NOT NULL,
    reason       text        NOT NULL,
    note         text,
    units        integer     NOT NULL,
    rejected_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    actor        text        NOT NULL DEFAULT SESSION_USER,
    CONSTRAINT fulfillment_rejections_pkey PRIMARY KEY (id),
    CONSTRAINT fulfillment_rejections_order_fkey FOREIGN KEY (order_id) REFERENCES oms.orders (id),
    CONSTRAINT fulfillment_rejections_location_fkey FOREIGN KEY (location_id) REFERENCES oms.locations (id),
    CONSTRAINT fulfillment_rejections_reason_fkey FOREIGN KEY (reason) REFERENCES oms.rejection_reasons (code),
    CONSTRAINT fulfillment_rejections_order_location_key UNIQUE (order_id, location_id),
    CONSTRAINT fulfillment_rejections_units_chk CHECK (units OPERATOR(pg_catalog.>=) 0)
);
COMMENT ON TABLE oms.fulfillment_rejections IS 'Locations that rejected an order; routing never sends the order there again';
COMMENT ON COLUMN oms.fulfillment_rejections.id IS 'Rejection id';
COMMENT ON COLUMN oms.fulfillment_rejections.order_id IS 'The order';
COMMENT ON COLUMN oms.fulfillment_rejections.location_id IS 'The location that rejected it';
COMMENT ON COLUMN oms.fulfillment_rejections.reason IS 'Reason code (oms.rejection_reasons)';
COMMENT ON COLUMN oms.fulfillment_rejections.note IS 'Free text from the location';
COMMENT ON COLUMN oms.fulfillment_rejections.units IS 'Reserved units released at the location';
COMMENT ON COLUMN oms.fulfillment_rejections.rejected_at IS 'When';
COMMENT ON COLUMN oms.fulfillment_rejections.actor IS 'Login role that rejected';

CREATE TABLE oms.routing_decisions (
    id           bigserial   NOT NULL,
    order_id     bigint      NOT NULL,
    decided_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    trigger      text        NOT NULL,
    strategy     text        NOT NULL,
    split_policy text        NOT NULL,
    rule         text        NOT NULL,
    locations    text[]      NOT NULL,
    shipments    integer     NOT NULL,
    distance_km  numeric(10,1),
    est_cost     numeric(14,2) NOT NULL,
    short_units  bigint      NOT NULL,
    chosen       jsonb       NOT NULL,
    runners_up   jsonb       NOT NULL,
    filtered     jsonb       NOT NULL,
    CONSTRAINT routing_decisions_pkey PRIMARY KEY (id),
    -- no foreign key: why at oms.reservations (src/orders.sql)
    CONSTRAINT routing_decisions_trigger_chk CHECK (trigger OPERATOR(pg_catalog.~) '^(place_order|reroute|edit_order)$')
);
CREATE INDEX routing_decisions_order_idx ON oms.routing_decisions (order_id);
COMMENT ON TABLE oms.routing_decisions IS 'Every routing decision: which rule chose which locations, at what distance and cost, and the runners-up';
COMMENT ON COLUMN oms.routing_decisions.id IS 'Decision id';
COMMENT ON COLUMN oms.routing_decisions.order_id IS 'The order routed';
COMMENT ON COLUMN oms.routing_decisions.decided_at IS 'When';
COMMENT ON COLUMN oms.routing_decisions.trigger IS 'place_order, reroute after a rejection, or edit_order (added units, a changed ship-to)';
COMMENT ON COLUMN oms.routing_decisions.strategy IS 'The channel''s strategy at the time: closest, cheapest, priority, balance or fastest';
COMMENT ON COLUMN oms.routing_decisions.split_policy IS 'The order''s split policy: allow, avoid or forbid';
COMMENT ON COLUMN oms.routing_decisions.rule IS 'The rule that decided, for example "single location" or "split, exact search"';
COMMENT ON COLUMN oms.routing_decisions.locations IS 'Codes of the chosen locations, one per shipment';
COMMENT ON COLUMN oms.routing_decisions.shipments IS 'Number of shipments planned';
COMMENT ON COLUMN oms.routing_decisions.distance_km IS 'Sum of the distances of the chosen locations to the ship-to; NULL without ship-to coordinates';
COMMENT ON COLUMN oms.routing_decisions.est_cost IS 'Estimated cost of the plan: distance times cost_per_km plus handling, per shipment';
COMMENT ON COLUMN oms.routing_decisions.short_units IS 'Units no eligible location could supply (backordered, cancelled or refused by the policy)';
COMMENT ON COLUMN oms.routing_decisions.chosen IS 'Per chosen location: code, units, distance_km, est_cost, priority, and the delivery promise (ships_on, arrives_on, carrier, service, rate) when the order asked for one';
COMMENT ON COLUMN oms.routing_decisions.runners_up IS 'The best eligible locations not chosen (at most 3), with their score terms';
COMMENT ON COLUMN oms.routing_decisions.filtered IS 'Active locations with stock of the order that a filter excluded, counted per filter (inactive locations are not read during placement)';

CREATE FUNCTION oms.explain_route("order" jsonb)
    RETURNS TABLE (rank integer, location text, role text, eligible boolean, verdicts jsonb,
                   lines_in_full integer, units_available bigint, distance_km numeric,
                   shipping_cost numeric, handling_cost numeric, est_cost numeric,
                   priority integer, available_after bigint, reason text)
    LANGUAGE c STABLE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'explain_route';
COMMENT ON FUNCTION oms.explain_route(jsonb)
    IS 'How place_order would route this order document now: every location with each filter''s verdict and each score term, ranked, without reserving anything';

SELECT pg_catalog.pg_extension_config_dump('oms.channel_locations', '');
SELECT pg_catalog.pg_extension_config_dump('oms.location_daily_load', '');
SELECT pg_catalog.pg_extension_config_dump('oms.rejection_reasons', 'WHERE NOT seeded');
SELECT pg_catalog.pg_extension_config_dump('oms.fulfillment_rejections', '');
SELECT pg_catalog.pg_extension_config_dump('oms.fulfillment_rejections_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.routing_decisions', '');
SELECT pg_catalog.pg_extension_config_dump('oms.routing_decisions_id_seq', '');

-- Card-number guard (issue 13, breach 9). Tables that oms_admin writes with
-- plain SQL get the trigger (a clean 22023 naming the column; a CHECK would
-- echo the row in its DETAIL); columns that only C entry points write, which
-- check first, get a CHECK constraint backstop.
CREATE TRIGGER rejection_reasons_no_card_number BEFORE INSERT OR UPDATE ON oms.rejection_reasons
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('description');
ALTER TABLE oms.fulfillment_rejections ADD CONSTRAINT fulfillment_rejections_no_card_number_chk CHECK (
    NOT oms.contains_card_number(COALESCE(note, '')));
