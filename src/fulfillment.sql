
-- ===========================================================================
-- fulfillment: carriers, services and rates; shipments and their lines;
-- rejection and re-routing (src/fulfillment.c)
--
-- A shipment takes units an order holds at one location. Shipping it
-- consumes those reservations and takes the units off on_hand through the
-- ledger (kind shipment), in the lock order of inventory.c: the order,
-- its lines, then the balance rows ascending.
-- ===========================================================================

CREATE TABLE oms.carriers (
    id           serial  NOT NULL,
    code         text    NOT NULL,
    name         text    NOT NULL,
    tracking_url text,
    active       boolean NOT NULL DEFAULT true,
    CONSTRAINT carriers_pkey PRIMARY KEY (id),
    CONSTRAINT carriers_code_key UNIQUE (code),
    CONSTRAINT carriers_code_chk CHECK (code OPERATOR(pg_catalog.~) '^[a-z0-9][a-z0-9_-]{0,31}$'),
    CONSTRAINT carriers_name_chk CHECK (pg_catalog.length(pg_catalog.btrim(name)) OPERATOR(pg_catalog.>) 0)
);
COMMENT ON TABLE oms.carriers IS 'Parcel carriers';
COMMENT ON COLUMN oms.carriers.id IS 'Surrogate key';
COMMENT ON COLUMN oms.carriers.code IS 'Stable code the API uses (lowercase)';
COMMENT ON COLUMN oms.carriers.name IS 'Display name';
COMMENT ON COLUMN oms.carriers.tracking_url IS 'Tracking page; {{tracking_number}} is replaced by the shipment''s number';
COMMENT ON COLUMN oms.carriers.active IS 'Inactive carriers are not quoted and cannot ship';

CREATE TABLE oms.carrier_services (
    id            serial  NOT NULL,
    carrier_id    integer NOT NULL,
    code          text    NOT NULL,
    name          text    NOT NULL,
    transit_days  integer NOT NULL,
    active        boolean NOT NULL DEFAULT true,
    CONSTRAINT carrier_services_pkey PRIMARY KEY (id),
    CONSTRAINT carrier_services_carrier_code_key UNIQUE (carrier_id, code),
    CONSTRAINT carrier_services_carrier_fkey FOREIGN KEY (carrier_id) REFERENCES oms.carriers (id),
    CONSTRAINT carrier_services_code_chk CHECK (code OPERATOR(pg_catalog.~) '^[a-z0-9][a-z0-9_-]{0,31}$'),
    CONSTRAINT carrier_services_name_chk CHECK (pg_catalog.length(pg_catalog.btrim(name)) OPERATOR(pg_catalog.>) 0),
    CONSTRAINT carrier_services_transit_days_chk CHECK (transit_days OPERATOR(pg_catalog.>=) 0 AND transit_days OPERATOR(pg_catalog.<=) 365)
);
COMMENT ON TABLE oms.carrier_services IS 'Services of a carrier (standard, express, ...) with their transit time';
COMMENT ON COLUMN oms.carrier_services.id IS 'Surrogate key';
COMMENT ON COLUMN oms.carrier_services.carrier_id IS 'The carrier';
COMMENT ON COLUMN oms.carrier_services.code IS 'Code of the service, unique per carrier';
COMMENT ON COLUMN oms.carrier_services.name IS 'Display name';
COMMENT ON COLUMN oms.carrier_services.transit_days IS 'Calendar days from handover to delivery';
COMMENT ON COLUMN oms.carrier_services.active IS 'Inactive services are not quoted and cannot ship';

CREATE TABLE oms.shipping_rates (
    id          serial        NOT NULL,
    service_id  integer       NOT NULL,
    currency    text          NOT NULL,
    max_km      numeric(8,1),
    max_kg      numeric(10,3),
    price       numeric(12,2) NOT NULL,
    CONSTRAINT shipping_rates_pkey PRIMARY KEY (id),
    CONSTRAINT shipping_rates_band_key UNIQUE NULLS NOT DISTINCT (service_id, currency, max_km, max_kg),
    CONSTRAINT shipping_rates_service_fkey FOREIGN KEY (service_id) REFERENCES oms.carrier_services (id),
    CONSTRAINT shipping_rates_currency_chk CHECK (currency OPERATOR(pg_catalog.~) '^[A-Z]{3}$'),
    CONSTRAINT shipping_rates_max_km_chk CHECK (max_km OPERATOR(pg_catalog.>) 0),
    CONSTRAINT shipping_rates_max_kg_chk CHECK (max_kg OPERATOR(pg_catalog.>) 0),
    CONSTRAINT shipping_rates_price_chk CHECK (price OPERATOR(pg_catalog.>=) 0)
);
COMMENT ON TABLE oms.shipping_rates IS 'Rate table: price of a parcel by service, distance band and weight band; the narrowest band that fits applies';
COMMENT ON COLUMN oms.shipping_rates.id IS 'Surrogate key';
COMMENT ON COLUMN oms.shipping_rates.service_id IS 'The carrier service';
COMMENT ON COLUMN oms.shipping_rates.currency IS 'Currency of the price; orders are quoted in their own currency only';
COMMENT ON COLUMN oms.shipping_rates.max_km IS 'Upper bound of the distance band (location to ship-to), NULL for any distance (also when the distance is unknown)';
COMMENT ON COLUMN oms.shipping_rates.max_kg IS 'Upper bound of the weight band, NULL for any weight';
COMMENT ON COLUMN oms.shipping_rates.price IS 'Price of one parcel';

CREATE TABLE oms.shipments (
    id              bigserial     NOT NULL,
    order_id        bigint        NOT NULL,
    location_id     integer       NOT NULL,
    status          text          NOT NULL DEFAULT 'pending',
    carrier_id      integer,
    service_id      integer,
    tracking_number text,
    rate            numeric(12,2),
    currency        text          NOT NULL,
    weight_kg       numeric(10,3) NOT NULL,
    distance_km     numeric(8,1),
    created_at      timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    shipped_at      timestamptz,
    delivered_at    timestamptz,
    cancelled_at    timestamptz,
    cancel_reason   text,
    handover        text,
    ready_at        timestamptz,
    pickup_code_hash bytea,
    CONSTRAINT shipments_pkey PRIMARY KEY (id),
    CONSTRAINT shipments_order_fkey FOREIGN KEY (order_id) REFERENCES oms.orders (id),
    CONSTRAINT shipments_location_fkey FOREIGN KEY (location_id) REFERENCES oms.locations (id),
    CONSTRAINT shipments_carrier_fkey FOREIGN KEY (carrier_id) REFERENCES oms.carriers (id),
    CONSTRAINT shipments_service_fkey FOREIGN KEY (service_id) REFERENCES oms.carrier_services (id),
    CONSTRAINT shipments_tracking_key UNIQUE (carrier_id, tracking_number),
    CONSTRAINT shipments_status_chk CHECK (status OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'shipped', 'delivered', 'cancelled'])),
    -- shipped: handed to a carrier (carrier, service and tracking number),
    -- or to the customer over a counter or at a pickup (handover, no carrier)
    CONSTRAINT shipments_shipped_chk CHECK ((status OPERATOR(pg_catalog.=) ANY (ARRAY['shipped', 'delivered']))
        OPERATOR(pg_catalog.=) (shipped_at IS NOT NULL AND (handover IS NOT NULL
            OR (carrier_id IS NOT NULL AND service_id IS NOT NULL AND tracking_number IS NOT NULL)))),
    CONSTRAINT shipments_delivered_chk CHECK ((status OPERATOR(pg_catalog.=) 'delivered') OPERATOR(pg_catalog.=) (delivered_at IS NOT NULL)),
    CONSTRAINT shipments_cancelled_chk CHECK ((status OPERATOR(pg_catalog.=) 'cancelled') OPERATOR(pg_catalog.=) (cancelled_at IS NOT NULL)),
    CONSTRAINT shipments_handover_chk CHECK (handover IS NULL OR (handover OPERATOR(pg_catalog.~) '^(counter|pickup)$'
        AND carrier_id IS NULL AND service_id IS NULL AND tracking_number IS NULL AND rate IS NULL)),
    CONSTRAINT shipments_pickup_ready_chk CHECK ((ready_at IS NULL) OPERATOR(pg_catalog.=) (pickup_code_hash IS NULL)
        AND (pickup_code_hash IS NULL OR pg_catalog.length(pickup_code_hash) OPERATOR(pg_catalog.=) 32))
);
CREATE INDEX shipments_ready_idx ON oms.shipments (ready_at) WHERE status OPERATOR(pg_catalog.=) 'pending' AND ready_at IS NOT NULL;
CREATE INDEX shipments_order_idx ON oms.shipments (order_id);
COMMENT ON TABLE oms.shipments IS 'Parcels: units of one order leaving one location';
COMMENT ON COLUMN oms.shipments.id IS 'Shipment id';
COMMENT ON COLUMN oms.shipments.order_id IS 'The order';
COMMENT ON COLUMN oms.shipments.location_id IS 'Where it ships from';
COMMENT ON COLUMN oms.shipments.status IS 'pending (being picked and packed), shipped, delivered or cancelled';
COMMENT ON COLUMN oms.shipments.carrier_id IS 'Carrier, set when shipped';
COMMENT ON COLUMN oms.shipments.service_id IS 'Carrier service, set when shipped';
COMMENT ON COLUMN oms.shipments.tracking_number IS 'Carrier tracking number, unique per carrier';
COMMENT ON COLUMN oms.shipments.rate IS 'Price from the rate table when shipped';
COMMENT ON COLUMN oms.shipments.currency IS 'Currency of the rate (the order''s)';
COMMENT ON COLUMN oms.shipments.weight_kg IS 'Weight of the units (stock items'' weight_kg)';
COMMENT ON COLUMN oms.shipments.distance_km IS 'Distance from the location to the ship-to, NULL when unknown';
COMMENT ON COLUMN oms.shipments.created_at IS 'When the shipment was created';
COMMENT ON COLUMN oms.shipments.shipped_at IS 'When it was handed to the carrier';
COMMENT ON COLUMN oms.shipments.delivered_at IS 'When it was delivered';
COMMENT ON COLUMN oms.shipments.cancelled_at IS 'When it was cancelled (before shipping)';
COMMENT ON COLUMN oms.shipments.cancel_reason IS 'Why it was cancelled';
COMMENT ON COLUMN oms.shipments.handover IS 'How it left without a carrier: counter (a counter sale) or pickup (handed over to the customer with the pickup code); NULL when a carrier took it';
COMMENT ON COLUMN oms.shipments.ready_at IS 'When it was made ready for pickup (oms.ready_for_pickup); uncollected pickups expire oms.pickup_expiry_days after';
COMMENT ON COLUMN oms.shipments.pickup_code_hash IS 'SHA-256 of the pickup code (the code itself is never stored on the shipment)';

CREATE TABLE oms.shipment_lines (
    shipment_id    bigint  NOT NULL,
    order_line_id  bigint  NOT NULL,
    qty            integer NOT NULL,
    CONSTRAINT shipment_lines_pkey PRIMARY KEY (shipment_id, order_line_id),
    CONSTRAINT shipment_lines_shipment_fkey FOREIGN KEY (shipment_id) REFERENCES oms.shipments (id),
    CONSTRAINT shipment_lines_line_fkey FOREIGN KEY (order_line_id) REFERENCES oms.order_lines (id),
    CONSTRAINT shipment_lines_qty_chk CHECK (qty OPERATOR(pg_catalog.>) 0)
);
CREATE INDEX shipment_lines_line_idx ON oms.shipment_lines (order_line_id);
COMMENT ON TABLE oms.shipment_lines IS 'Units of an order line in a shipment (kits: whole kits)';
COMMENT ON COLUMN oms.shipment_lines.shipment_id IS 'The shipment';
COMMENT ON COLUMN oms.shipment_lines.order_line_id IS 'The order line';
COMMENT ON COLUMN oms.shipment_lines.qty IS 'Units of the line in this shipment';

CREATE FUNCTION oms.create_shipment(order_id bigint, location text, lines jsonb DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'create_shipment';
COMMENT ON FUNCTION oms.create_shipment(bigint, text, jsonb)
    IS 'Start a shipment of the units an order holds at a location (all of them, or lines [{line_no or sku, qty}]); the order moves to in_fulfillment';

CREATE FUNCTION oms.ship(shipment_id bigint, carrier text, service text, tracking_number text)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'ship';
COMMENT ON FUNCTION oms.ship(bigint, text, text, text)
    IS 'Hand a shipment to the carrier: consume its reservations, take the units off on_hand, set the order to partially_shipped or shipped, emit shipment_shipped';

CREATE FUNCTION oms.deliver(shipment_id bigint)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'deliver';
COMMENT ON FUNCTION oms.deliver(bigint)
    IS 'Record delivery of a shipped shipment; the order is delivered when every unit shipped and every shipment arrived. A repeated call is a no-op that says so';

CREATE FUNCTION oms.cancel_shipment(shipment_id bigint, reason text DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'cancel_shipment';
COMMENT ON FUNCTION oms.cancel_shipment(bigint, text)
    IS 'Cancel a shipment before it ships; its units stay reserved for the order';

CREATE FUNCTION oms.get_shipment(shipment_id bigint)
    RETURNS jsonb
    LANGUAGE c STABLE STRICT PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'get_shipment';
COMMENT ON FUNCTION oms.get_shipment(bigint)
    IS 'The shipment as a JSON document';

CREATE FUNCTION oms.reject_fulfillment(order_id bigint, location text, reason text, note text DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'reject_fulfillment';
COMMENT ON FUNCTION oms.reject_fulfillment(bigint, text, text, text)
    IS 'A location cannot fulfil an order: release what it holds for the order, exclude it, re-route in the same transaction; reason inventory_mismatch also writes the missing units off';

CREATE FUNCTION oms.quote_shipping(shipment_id bigint DEFAULT NULL, order_id bigint DEFAULT NULL,
                                   choose text DEFAULT NULL, deliver_by date DEFAULT NULL)
    RETURNS TABLE (location text, carrier text, service text, transit_days integer, arrives_on date,
                   distance_km numeric, weight_kg numeric, price numeric, currency text)
    LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_order bigint;
BEGIN
    IF (quote_shipping.shipment_id IS NULL) = (quote_shipping.order_id IS NULL) THEN
        RAISE EXCEPTION 'quote_shipping needs exactly one of shipment_id and order_id'
            USING ERRCODE = '22023',
                  DETAIL = CASE WHEN quote_shipping.shipment_id IS NULL THEN 'Both were NULL.' ELSE 'Both were given.' END,
                  HINT = 'Call oms.quote_shipping(shipment_id => ...) or oms.quote_shipping(order_id => ...).';
    END IF;
    IF quote_shipping.choose IS NOT NULL AND quote_shipping.choose NOT IN ('cheapest', 'fastest', 'cheapest_by') THEN
        RAISE EXCEPTION 'invalid choose "%"', quote_shipping.choose
            USING ERRCODE = '22023', DETAIL = 'choose must be cheapest, fastest or cheapest_by.',
                  HINT = 'Leave it NULL to list every option.';
    END IF;
    IF (quote_shipping.choose IS NOT DISTINCT FROM 'cheapest_by') <> (quote_shipping.deliver_by IS NOT NULL) THEN
        RAISE EXCEPTION 'cheapest_by and deliver_by go together'
            USING ERRCODE = '22023',
                  DETAIL = CASE WHEN quote_shipping.deliver_by IS NULL THEN 'choose cheapest_by needs a deliver_by date.'
                                ELSE 'deliver_by is only used with choose cheapest_by.' END,
                  HINT = 'Call with choose => ''cheapest_by'', deliver_by => date ''...''.';
    END IF;
    IF quote_shipping.shipment_id IS NOT NULL THEN
        SELECT s.order_id INTO v_order FROM oms.shipments s WHERE s.id = quote_shipping.shipment_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'shipment % does not exist', quote_shipping.shipment_id
                USING ERRCODE = '22023', DETAIL = 'No row in oms.shipments has this id.',
                      HINT = 'Use the shipment_id returned by oms.create_shipment().';
        END IF;
    ELSIF NOT EXISTS (SELECT FROM oms.orders o WHERE o.id = quote_shipping.order_id) THEN
        RAISE EXCEPTION 'order % does not exist', quote_shipping.order_id
            USING ERRCODE = '22023', DETAIL = pg_catalog.format('No row in oms.orders has id %s.', quote_shipping.order_id),
                  HINT = 'Use the order_id returned by oms.place_order().';
    END IF;

    RETURN QUERY
    WITH parcel AS (
        -- one shipment
        SELECT l.code AS location, s.distance_km AS dist, s.weight_kg AS kg, s.currency AS cur
          FROM oms.shipments s JOIN oms.locations l ON l.id = s.location_id
         WHERE s.id = quote_shipping.shipment_id
        UNION ALL
        -- an order: one parcel per location holding its units
        SELECT l.code,
               CASE WHEN o.ship_lat IS NOT NULL
                    THEN round(oms.distance_km(l.latitude, l.longitude, o.ship_lat, o.ship_lon)::numeric, 1) END,
               sum(r.qty * p.weight_kg), o.currency
          FROM oms.orders o
          JOIN oms.reservations r ON r.order_id = o.id AND r.status = 'active'
          JOIN oms.locations l ON l.id = r.location_id
          JOIN oms.products p ON p.id = r.product_id
         WHERE o.id = quote_shipping.order_id
         GROUP BY l.code, l.latitude, l.longitude, o.ship_lat, o.ship_lon, o.currency
    ), option AS (
        SELECT pa.location, c.code AS carrier, sv.code AS service, sv.transit_days,
               current_date + sv.transit_days AS arrives_on, pa.dist, pa.kg, rate.price, pa.cur
          FROM parcel pa
          JOIN oms.carrier_services sv ON sv.active
          JOIN oms.carriers c ON c.id = sv.carrier_id AND c.active
          CROSS JOIN LATERAL (
              -- the narrowest band that fits; an unknown distance fits only "any distance"
              SELECT sr.price FROM oms.shipping_rates sr
               WHERE sr.service_id = sv.id AND sr.currency = pa.cur
                 AND (sr.max_km IS NULL OR sr.max_km >= pa.dist)
                 AND (sr.max_kg IS NULL OR sr.max_kg >= pa.kg)
               ORDER BY sr.max_km NULLS LAST, sr.max_kg NULLS LAST
               LIMIT 1) rate
         WHERE quote_shipping.choose IS DISTINCT FROM 'cheapest_by'
            OR current_date + sv.transit_days <= quote_shipping.deliver_by
    ), ranked AS (
        SELECT op.*, row_number() OVER (
                   PARTITION BY op.location
                   ORDER BY CASE WHEN quote_shipping.choose = 'fastest' THEN op.transit_days END,
                            op.price, op.transit_days, op.carrier, op.service) AS rn
          FROM option op
    )
    SELECT rk.location, rk.carrier, rk.service, rk.transit_days, rk.arrives_on, rk.dist, rk.kg, rk.price, rk.cur
      FROM ranked rk
     WHERE quote_shipping.choose IS NULL OR rk.rn = 1
     ORDER BY rk.location, rk.rn;
END
$fn$;
COMMENT ON FUNCTION oms.quote_shipping(bigint, bigint, text, date)
    IS 'Shipping options from the rate table for a shipment or an order (one parcel per location): all, or per parcel the cheapest, the fastest, or the cheapest arriving by deliver_by';

INSERT INTO oms.message_templates (kind, subject, body, seeded) VALUES
    ('shipment_shipped', 'Your order {{order_ref}} has shipped',
     E'Hello {{customer_name}},\n\ngood news: your order {{order_ref}} is on its way with {{carrier}} ({{service}}).\nTracking number: {{tracking_number}}\n{{tracking_url}}\n\nItems in this parcel:\n{{parcel_items}}', true),
    ('shipment_delivered', 'Your order {{order_ref}} has been delivered',
     E'Hello {{customer_name}},\n\nyour parcel {{tracking_number}} for order {{order_ref}} has been delivered. We hope you enjoy it.', true);

SELECT pg_catalog.pg_extension_config_dump('oms.carriers', '');
SELECT pg_catalog.pg_extension_config_dump('oms.carriers_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.carrier_services', '');
SELECT pg_catalog.pg_extension_config_dump('oms.carrier_services_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.shipping_rates', '');
SELECT pg_catalog.pg_extension_config_dump('oms.shipping_rates_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.shipments', '');
SELECT pg_catalog.pg_extension_config_dump('oms.shipments_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.shipment_lines', '');

-- Card-number guard (issue 13, breach 9). Tables that oms_admin writes with
-- plain SQL get the trigger (a clean 22023 naming the column; a CHECK would
-- echo the row in its DETAIL); columns that only C entry points write, which
-- check first, get a CHECK constraint backstop.
CREATE TRIGGER carriers_no_card_number BEFORE INSERT OR UPDATE ON oms.carriers
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('name', 'tracking_url');
CREATE TRIGGER carrier_services_no_card_number BEFORE INSERT OR UPDATE ON oms.carrier_services
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('name');
ALTER TABLE oms.shipments ADD CONSTRAINT shipments_no_card_number_chk CHECK (
    -- a digits-only tracking number is the carrier's (see ship.c)
    (tracking_number IS NULL OR tracking_number OPERATOR(pg_catalog.~) '^[0-9]+$'
     OR NOT oms.contains_card_number(tracking_number))
    AND NOT oms.contains_card_number(COALESCE(cancel_reason, '')));
