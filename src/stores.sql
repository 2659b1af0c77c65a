
-- ===========================================================================
-- stores: counter sales (src/counter_sale.c) and the pickup handover
-- (src/pickup.c). A counter sale is an order of a pos channel placed,
-- paid, handed over and completed in one call at the store's location; a
-- pickup shipment is made ready with a code the customer shows, and handed
-- over against it. Both leave the store without a carrier: the shipment's
-- handover column says how (src/fulfillment.sql).
-- ===========================================================================

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

-- the pickup message, by email and SMS; the shipping message by SMS
INSERT INTO oms.message_templates (kind, channel, subject, body, seeded) VALUES
    ('pickup_ready', 'email', 'Your order {{order_ref}} is ready for pickup',
     E'Hello {{customer_name}},\n\nyour order {{order_ref}} is waiting for you at {{location_name}}:\n{{parcel_items}}\n\nShow this pickup code at the counter: {{pickup_code}}\nPlease collect it by {{collect_by}}.', true),
    ('pickup_ready', 'sms', 'Order {{order_ref}} ready for pickup',
     'Your order {{order_ref}} is ready at {{location_name}}. Pickup code: {{pickup_code}}. Collect by {{collect_by}}.', true),
    ('shipment_shipped', 'sms', 'Order {{order_ref}} shipped',
     'Your order {{order_ref}} is on its way with {{carrier}}: {{tracking_url}}', true);
