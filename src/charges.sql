
-- ===========================================================================
-- charges: tax rates, and the order's shipping charge (src/order_charges.c)
--
-- place_order computes a line's tax from oms.tax_rates when the caller sends
-- none (or always, on a channel with tax_mode computed): the rate of the
-- ship-to's country (and region, when a row names it) for the product's
-- tax_class, valid today. A gross line (price_includes_tax) has its tax
-- extracted. The shipping charge is the document's shipping.amount, or the
-- quoted rate of oms.quote_shipping (shipping.quote), or 0.
-- ===========================================================================

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
