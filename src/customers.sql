
-- ===========================================================================
-- customers: contacts and personal data (src/customers.c). A customer's
-- phone number, labelled addresses (one default per kind) that an order can
-- name instead of repeating its ship-to, consent per purpose and channel
-- with when and how it was given; the export of a customer's personal data
-- as one JSON document and its erasure (anonymised in place: orders,
-- amounts and the journal stay).
-- ===========================================================================

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
