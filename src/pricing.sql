
-- ===========================================================================
-- pricing: price lists and prices (src/pricing.c), promotions and their
-- codes (src/promotions.c, src/promotion_codes.c), and what place_order
-- applied (src/order_pricing.c)
-- ===========================================================================

CREATE TABLE oms.price_lists (
    id                 bigserial     NOT NULL,
    code               text          NOT NULL,
    name               text          NOT NULL,
    channel_id         integer,
    currency           text          NOT NULL,
    customer_flag      text,
    priority           integer       NOT NULL DEFAULT 0,
    valid_from         timestamptz,
    valid_to           timestamptz,
    prices_include_tax boolean       NOT NULL DEFAULT false,
    active             boolean       NOT NULL DEFAULT true,
    created_at         timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT price_lists_pkey PRIMARY KEY (id),
    CONSTRAINT price_lists_code_key UNIQUE (code),
    CONSTRAINT price_lists_code_chk CHECK (code OPERATOR(pg_catalog.~) '^[a-z0-9][a-z0-9_-]{0,31}$'),
    CONSTRAINT price_lists_name_chk CHECK (pg_catalog.length(pg_catalog.btrim(name)) OPERATOR(pg_catalog.>) 0
        AND pg_catalog.length(name) OPERATOR(pg_catalog.<=) 200),
    CONSTRAINT price_lists_channel_fkey FOREIGN KEY (channel_id) REFERENCES oms.channels (id),
    CONSTRAINT price_lists_currency_chk CHECK (currency OPERATOR(pg_catalog.~) '^[A-Z]{3}$'),
    CONSTRAINT price_lists_customer_flag_chk CHECK (customer_flag OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,31}$'),
    CONSTRAINT price_lists_validity_chk CHECK (valid_to OPERATOR(pg_catalog.>) valid_from)
);
CREATE INDEX price_lists_scope_idx ON oms.price_lists (currency, channel_id) WHERE active;
COMMENT ON TABLE oms.price_lists IS 'Price lists per channel and currency, with validity, priority and customer-flag scope; place_order prices a line without unit_price from them (oms.price)';
COMMENT ON COLUMN oms.price_lists.id IS 'Surrogate key';
COMMENT ON COLUMN oms.price_lists.code IS 'Stable code (lowercase letters, digits, _ and -)';
COMMENT ON COLUMN oms.price_lists.name IS 'Display name';
COMMENT ON COLUMN oms.price_lists.channel_id IS 'The channel it prices for; NULL: every channel';
COMMENT ON COLUMN oms.price_lists.currency IS 'ISO 4217 currency of its prices; it prices orders of that currency only';
COMMENT ON COLUMN oms.price_lists.customer_flag IS 'Only for customers carrying this flag (vip, wholesale); NULL: everyone, guests included';
COMMENT ON COLUMN oms.price_lists.priority IS 'Higher wins among the lists that price the product; ties go to the flag-scoped, then the channel-scoped, then the older list';
COMMENT ON COLUMN oms.price_lists.valid_from IS 'Prices from this moment; NULL: always';
COMMENT ON COLUMN oms.price_lists.valid_to IS 'Prices until this moment (exclusive); NULL: open-ended';
COMMENT ON COLUMN oms.price_lists.prices_include_tax IS 'Its prices are gross (tax included); stored and reported with each price, for the tax step';
COMMENT ON COLUMN oms.price_lists.active IS 'Inactive lists price nothing';
COMMENT ON COLUMN oms.price_lists.created_at IS 'When the list was created';

CREATE TABLE oms.prices (
    price_list_id bigint        NOT NULL,
    product_id    bigint        NOT NULL,
    min_qty       integer       NOT NULL DEFAULT 1,
    unit_price    numeric(16,4) NOT NULL,
    CONSTRAINT prices_pkey PRIMARY KEY (price_list_id, product_id, min_qty),
    CONSTRAINT prices_price_list_fkey FOREIGN KEY (price_list_id) REFERENCES oms.price_lists (id) ON DELETE CASCADE,
    CONSTRAINT prices_product_fkey FOREIGN KEY (product_id) REFERENCES oms.products (id),
    CONSTRAINT prices_min_qty_chk CHECK (min_qty OPERATOR(pg_catalog.>=) 1),
    CONSTRAINT prices_unit_price_chk CHECK (unit_price OPERATOR(pg_catalog.>=) 0
        AND unit_price OPERATOR(pg_catalog.<) 1000000000000)
);
CREATE INDEX prices_product_idx ON oms.prices (product_id);
COMMENT ON TABLE oms.prices IS 'A product''s unit price in a price list, with quantity breaks: a line of qty units takes the row with the greatest min_qty <= qty';
COMMENT ON COLUMN oms.prices.price_list_id IS 'The price list';
COMMENT ON COLUMN oms.prices.product_id IS 'The product';
COMMENT ON COLUMN oms.prices.min_qty IS 'Quantity break: the price holds for lines of at least this many units';
COMMENT ON COLUMN oms.prices.unit_price IS 'Price of one unit, in the list''s currency';

CREATE TABLE oms.product_categories (
    product_id bigint NOT NULL,
    category   text   NOT NULL,
    CONSTRAINT product_categories_pkey PRIMARY KEY (product_id, category),
    CONSTRAINT product_categories_product_fkey FOREIGN KEY (product_id) REFERENCES oms.products (id) ON DELETE CASCADE,
    CONSTRAINT product_categories_category_chk CHECK (category OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_-]{0,63}$')
);
CREATE INDEX product_categories_category_idx ON oms.product_categories (category);
COMMENT ON TABLE oms.product_categories IS 'The categories a product belongs to (a product may be in several); promotions target lines by category';
COMMENT ON COLUMN oms.product_categories.product_id IS 'The product';
COMMENT ON COLUMN oms.product_categories.category IS 'Category code (lowercase letters, digits, _ and -)';

CREATE TABLE oms.promotions (
    id             bigserial     NOT NULL,
    code           text          NOT NULL,
    name           text          NOT NULL,
    kind           text          NOT NULL,
    product_id     bigint,
    category       text,
    value          numeric(16,4),
    buy_qty        integer,
    get_qty        integer,
    min_subtotal   numeric(16,4),
    currency       text,
    channel_id     integer,
    customer_flag  text,
    valid_from     timestamptz,
    valid_to       timestamptz,
    automatic      boolean       NOT NULL DEFAULT false,
    combinable     boolean       NOT NULL DEFAULT true,
    priority       integer       NOT NULL DEFAULT 0,
    active         boolean       NOT NULL DEFAULT true,
    created_at     timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT promotions_pkey PRIMARY KEY (id),
    CONSTRAINT promotions_code_key UNIQUE (code),
    CONSTRAINT promotions_code_chk CHECK (code OPERATOR(pg_catalog.~) '^[a-z0-9][a-z0-9_-]{0,31}$'),
    CONSTRAINT promotions_name_chk CHECK (pg_catalog.length(pg_catalog.btrim(name)) OPERATOR(pg_catalog.>) 0
        AND pg_catalog.length(name) OPERATOR(pg_catalog.<=) 200),
    CONSTRAINT promotions_kind_chk CHECK (kind OPERATOR(pg_catalog.~) '^(percent_off|amount_off|buy_x_get_y|free_shipping)$'),
    CONSTRAINT promotions_product_fkey FOREIGN KEY (product_id) REFERENCES oms.products (id),
    CONSTRAINT promotions_category_chk CHECK (category OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_-]{0,63}$'),
    CONSTRAINT promotions_target_chk CHECK (product_id IS NULL OR category IS NULL),
    -- the value each kind needs: a percentage in (0, 100], an amount > 0
    -- (in the promotion's currency), buy X get Y with the percentage off
    -- the Y units (100: free), free shipping none
    CONSTRAINT promotions_value_chk CHECK (COALESCE(CASE kind
        WHEN 'percent_off' THEN value OPERATOR(pg_catalog.>) 0 AND value OPERATOR(pg_catalog.<=) 100
        WHEN 'amount_off' THEN value OPERATOR(pg_catalog.>) 0 AND value OPERATOR(pg_catalog.<) 1000000000000 AND currency IS NOT NULL
        WHEN 'buy_x_get_y' THEN value OPERATOR(pg_catalog.>) 0 AND value OPERATOR(pg_catalog.<=) 100
             AND buy_qty OPERATOR(pg_catalog.>=) 1 AND get_qty OPERATOR(pg_catalog.>=) 1
             AND buy_qty OPERATOR(pg_catalog.<=) 1000 AND get_qty OPERATOR(pg_catalog.<=) 1000
             AND (product_id IS NOT NULL OR category IS NOT NULL)
        ELSE value IS NULL END, false)),
    CONSTRAINT promotions_buy_get_chk CHECK ((kind OPERATOR(pg_catalog.=) 'buy_x_get_y') OPERATOR(pg_catalog.=) (buy_qty IS NOT NULL AND get_qty IS NOT NULL)),
    -- a minimum is an amount: it is in the promotion's currency
    CONSTRAINT promotions_min_subtotal_chk CHECK (min_subtotal IS NULL OR (min_subtotal OPERATOR(pg_catalog.>) 0
        AND min_subtotal OPERATOR(pg_catalog.<) 1000000000000 AND currency IS NOT NULL)),
    CONSTRAINT promotions_currency_chk CHECK (currency OPERATOR(pg_catalog.~) '^[A-Z]{3}$'),
    CONSTRAINT promotions_channel_fkey FOREIGN KEY (channel_id) REFERENCES oms.channels (id),
    CONSTRAINT promotions_customer_flag_chk CHECK (customer_flag OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,31}$'),
    CONSTRAINT promotions_validity_chk CHECK (valid_to OPERATOR(pg_catalog.>) valid_from)
);
COMMENT ON TABLE oms.promotions IS 'Promotions as data: percent or amount off the order or off matching lines, buy X get Y, free shipping; scoped by channel, customer flag, currency and dates; automatic or by code';
COMMENT ON COLUMN oms.promotions.id IS 'Surrogate key';
COMMENT ON COLUMN oms.promotions.code IS 'Stable name of the promotion (not the code customers type: see oms.promotion_codes)';
COMMENT ON COLUMN oms.promotions.name IS 'Display name';
COMMENT ON COLUMN oms.promotions.kind IS 'percent_off, amount_off, buy_x_get_y or free_shipping';
COMMENT ON COLUMN oms.promotions.product_id IS 'Only lines of this product; NULL with category NULL: the whole order';
COMMENT ON COLUMN oms.promotions.category IS 'Only lines of products in this category (oms.product_categories)';
COMMENT ON COLUMN oms.promotions.value IS 'percent_off: percentage (0-100]; amount_off: amount off the order (no target), or off each matching unit (product or category); buy_x_get_y: percentage off the Y units (100: free)';
COMMENT ON COLUMN oms.promotions.buy_qty IS 'buy_x_get_y: units bought (X)';
COMMENT ON COLUMN oms.promotions.get_qty IS 'buy_x_get_y: units discounted per X bought (Y); the cheapest matching units are the ones discounted';
COMMENT ON COLUMN oms.promotions.min_subtotal IS 'Applies only when the order''s subtotal (its units at their prices, before discounts) reaches this, in the promotion''s currency (required with it)';
COMMENT ON COLUMN oms.promotions.currency IS 'Only orders in this currency (required for amount_off); NULL: any';
COMMENT ON COLUMN oms.promotions.channel_id IS 'Only orders of this channel; NULL: every channel';
COMMENT ON COLUMN oms.promotions.customer_flag IS 'Only customers carrying this flag; NULL: everyone';
COMMENT ON COLUMN oms.promotions.valid_from IS 'Applies from this moment; NULL: always';
COMMENT ON COLUMN oms.promotions.valid_to IS 'Applies until this moment (exclusive); NULL: open-ended';
COMMENT ON COLUMN oms.promotions.automatic IS 'Applies to every order in scope without a code';
COMMENT ON COLUMN oms.promotions.combinable IS 'false: exclusive, it applies alone (the highest-priority promotion that applies decides)';
COMMENT ON COLUMN oms.promotions.priority IS 'Higher is considered first';
COMMENT ON COLUMN oms.promotions.active IS 'Inactive promotions apply to nothing; their codes are refused as expired';
COMMENT ON COLUMN oms.promotions.created_at IS 'When the promotion was created';

CREATE TABLE oms.promotion_codes (
    id                 bigserial   NOT NULL,
    promotion_id       bigint      NOT NULL,
    code               text        NOT NULL,
    usage_limit        integer,
    per_customer_limit integer,
    uses               integer     NOT NULL DEFAULT 0,
    active             boolean     NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT promotion_codes_pkey PRIMARY KEY (id),
    CONSTRAINT promotion_codes_code_key UNIQUE (code),
    CONSTRAINT promotion_codes_promotion_fkey FOREIGN KEY (promotion_id) REFERENCES oms.promotions (id),
    CONSTRAINT promotion_codes_code_chk CHECK (code OPERATOR(pg_catalog.~) '^[A-Z0-9][A-Z0-9_-]{0,31}$'),
    CONSTRAINT promotion_codes_usage_limit_chk CHECK (usage_limit OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT promotion_codes_per_customer_limit_chk CHECK (per_customer_limit OPERATOR(pg_catalog.>=) 1),
    -- the guarded update (src/promotion_codes.c) never passes the limit;
    -- this is the last line of defence
    CONSTRAINT promotion_codes_uses_chk CHECK (uses OPERATOR(pg_catalog.>=) 0
        AND (usage_limit IS NULL OR uses OPERATOR(pg_catalog.<=) usage_limit))
);
CREATE INDEX promotion_codes_promotion_idx ON oms.promotion_codes (promotion_id);
COMMENT ON TABLE oms.promotion_codes IS 'Codes customers type for a promotion, with a total and a per-customer usage limit; uses is taken by place_order with a guarded update and given back on cancel or expiry';
COMMENT ON COLUMN oms.promotion_codes.id IS 'Surrogate key';
COMMENT ON COLUMN oms.promotion_codes.promotion_id IS 'The promotion the code applies';
COMMENT ON COLUMN oms.promotion_codes.code IS 'What the customer types (capital letters, digits, _ and -; place_order matches it case-insensitively)';
COMMENT ON COLUMN oms.promotion_codes.usage_limit IS 'At most this many live orders use the code; NULL: unlimited';
COMMENT ON COLUMN oms.promotion_codes.per_customer_limit IS 'At most this many live orders of one customer use the code (guests cannot use such a code); NULL: no limit';
COMMENT ON COLUMN oms.promotion_codes.uses IS 'Live orders using the code (oms.check(): promotion_code_uses)';
COMMENT ON COLUMN oms.promotion_codes.active IS 'Inactive codes are refused as expired';
COMMENT ON COLUMN oms.promotion_codes.created_at IS 'When the code was created';

CREATE TABLE oms.promotion_code_customers (
    code_id     bigint  NOT NULL,
    customer_id bigint  NOT NULL,
    uses        integer NOT NULL DEFAULT 0,
    CONSTRAINT promotion_code_customers_pkey PRIMARY KEY (code_id, customer_id),
    CONSTRAINT promotion_code_customers_code_fkey FOREIGN KEY (code_id) REFERENCES oms.promotion_codes (id),
    CONSTRAINT promotion_code_customers_customer_fkey FOREIGN KEY (customer_id) REFERENCES oms.customers (id),
    CONSTRAINT promotion_code_customers_uses_chk CHECK (uses OPERATOR(pg_catalog.>=) 0)
);
COMMENT ON TABLE oms.promotion_code_customers IS 'Per customer, the live orders using a code (for per_customer_limit), taken and given back with the code''s uses';
COMMENT ON COLUMN oms.promotion_code_customers.code_id IS 'The code';
COMMENT ON COLUMN oms.promotion_code_customers.customer_id IS 'The customer';
COMMENT ON COLUMN oms.promotion_code_customers.uses IS 'Live orders of this customer using the code';

-- the order's campaign, and where each line's price came from
ALTER TABLE oms.order_lines
    ADD CONSTRAINT order_lines_price_list_fkey FOREIGN KEY (price_list_id) REFERENCES oms.price_lists (id);

CREATE TABLE oms.order_codes (
    id          bigserial   NOT NULL,
    order_id    bigint      NOT NULL,
    code        text        NOT NULL,
    code_id     bigint,
    customer_id bigint,
    applied     boolean     NOT NULL,
    refusal     text,
    sqlstate    text,
    released_at timestamptz,
    CONSTRAINT order_codes_pkey PRIMARY KEY (id),
    CONSTRAINT order_codes_order_code_key UNIQUE (order_id, code),
    CONSTRAINT order_codes_order_fkey FOREIGN KEY (order_id) REFERENCES oms.orders (id),
    CONSTRAINT order_codes_code_fkey FOREIGN KEY (code_id) REFERENCES oms.promotion_codes (id),
    CONSTRAINT order_codes_refusal_chk CHECK (applied OPERATOR(pg_catalog.=) (refusal IS NULL)
        AND (applied OR released_at IS NULL) AND (applied OPERATOR(pg_catalog.<=) (code_id IS NOT NULL))),
    CONSTRAINT order_codes_code_chk CHECK (pg_catalog.length(code) OPERATOR(pg_catalog.<=) 32)
);
CREATE INDEX order_codes_code_idx ON oms.order_codes (code_id) WHERE applied AND released_at IS NULL;
COMMENT ON TABLE oms.order_codes IS 'The codes an order was placed with: applied (it holds a use of the code until released_at) or refused, with the reason';
COMMENT ON COLUMN oms.order_codes.id IS 'Surrogate key';
COMMENT ON COLUMN oms.order_codes.order_id IS 'The order';
COMMENT ON COLUMN oms.order_codes.code IS 'The code as the document sent it (upper case)';
COMMENT ON COLUMN oms.order_codes.code_id IS 'The code row; NULL for an unknown code';
COMMENT ON COLUMN oms.order_codes.customer_id IS 'The order''s customer when the use counts toward the per-customer limit';
COMMENT ON COLUMN oms.order_codes.applied IS 'true: the order took a use of the code';
COMMENT ON COLUMN oms.order_codes.refusal IS 'Why the code was refused (codes_required false): unknown, expired, exhausted, not combinable, minimum not met, not eligible';
COMMENT ON COLUMN oms.order_codes.sqlstate IS 'The SQLSTATE the refusal would have raised';
COMMENT ON COLUMN oms.order_codes.released_at IS 'When the use was given back (the order was cancelled or expired)';

CREATE TABLE oms.order_promotions (
    id            bigserial     NOT NULL,
    order_id      bigint        NOT NULL,
    order_line_id bigint,
    promotion_id  bigint        NOT NULL,
    code_id       bigint,
    amount        numeric(16,4) NOT NULL,
    free_shipping boolean       NOT NULL DEFAULT false,
    CONSTRAINT order_promotions_pkey PRIMARY KEY (id),
    CONSTRAINT order_promotions_order_fkey FOREIGN KEY (order_id) REFERENCES oms.orders (id),
    CONSTRAINT order_promotions_line_fkey FOREIGN KEY (order_line_id) REFERENCES oms.order_lines (id),
    CONSTRAINT order_promotions_promotion_fkey FOREIGN KEY (promotion_id) REFERENCES oms.promotions (id),
    CONSTRAINT order_promotions_code_fkey FOREIGN KEY (code_id) REFERENCES oms.promotion_codes (id),
    CONSTRAINT order_promotions_amount_chk CHECK (amount OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT order_promotions_shape_chk CHECK (free_shipping OPERATOR(pg_catalog.=) (order_line_id IS NULL))
);
CREATE INDEX order_promotions_order_idx ON oms.order_promotions (order_id);
CREATE INDEX order_promotions_promotion_idx ON oms.order_promotions (promotion_id);
COMMENT ON TABLE oms.order_promotions IS 'What each promotion gave an order: one row per (line, promotion) with the discount it put on the line (its share of order_lines.discount), and one row without line for free shipping';
COMMENT ON COLUMN oms.order_promotions.id IS 'Surrogate key';
COMMENT ON COLUMN oms.order_promotions.order_id IS 'The order';
COMMENT ON COLUMN oms.order_promotions.order_line_id IS 'The line discounted; NULL for free shipping';
COMMENT ON COLUMN oms.order_promotions.promotion_id IS 'The promotion';
COMMENT ON COLUMN oms.order_promotions.code_id IS 'The code that brought it; NULL for an automatic promotion';
COMMENT ON COLUMN oms.order_promotions.amount IS 'Discount on the line (whole line, as order_lines.discount)';
COMMENT ON COLUMN oms.order_promotions.free_shipping IS 'The order ships free by this promotion (the shipping charge is waived)';

CREATE FUNCTION oms.price(sku text, channel text, currency text, qty integer DEFAULT 1, customer text DEFAULT NULL,
                          OUT unit_price numeric, OUT price_list text, OUT price_list_id bigint,
                          OUT min_qty integer, OUT prices_include_tax boolean)
    RETURNS record
    LANGUAGE c STABLE PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'oms_price';
COMMENT ON FUNCTION oms.price(text, text, text, integer, text)
    IS 'The unit price place_order gives qty units of the product on the channel in the currency for the customer (external_ref; NULL: a guest), and the price list it comes from; all NULL when no list prices it';

-- per promotion: orders, code uses, discount, revenue of the orders; per
-- source code (campaign): the same with promotion NULL
CREATE VIEW oms.report_promotions AS
SELECT p.code AS promotion, NULL::text AS source_code,
       pg_catalog.count(DISTINCT a.order_id) AS orders,
       (SELECT pg_catalog.count(*) FROM oms.order_codes oc JOIN oms.promotion_codes c ON c.id OPERATOR(pg_catalog.=) oc.code_id
         WHERE c.promotion_id OPERATOR(pg_catalog.=) p.id AND oc.applied AND oc.released_at IS NULL) AS code_uses,
       COALESCE(pg_catalog.sum(a.amount), 0) AS discount,
       COALESCE((SELECT pg_catalog.sum(o.total) FROM oms.orders o JOIN oms.order_statuses s ON s.status OPERATOR(pg_catalog.=) o.status
                  WHERE s.counts_as_sale AND o.id IN (SELECT order_id FROM oms.order_promotions x WHERE x.promotion_id OPERATOR(pg_catalog.=) p.id)), 0) AS revenue,
       pg_catalog.bool_or(a.free_shipping) IS TRUE AS free_shipping
  FROM oms.promotions p
  LEFT JOIN (oms.order_promotions a JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) a.order_id
             JOIN oms.order_statuses s ON s.status OPERATOR(pg_catalog.=) o.status AND s.counts_as_sale)
    ON a.promotion_id OPERATOR(pg_catalog.=) p.id
 GROUP BY p.id, p.code
UNION ALL
SELECT NULL, o.source_code, pg_catalog.count(*), NULL,
       pg_catalog.sum(o.discount), pg_catalog.sum(o.total), NULL
  FROM oms.orders o JOIN oms.order_statuses s ON s.status OPERATOR(pg_catalog.=) o.status
 WHERE s.counts_as_sale AND o.source_code IS NOT NULL
 GROUP BY o.source_code;
COMMENT ON VIEW oms.report_promotions IS 'Per promotion (source_code NULL) and per campaign source code (promotion NULL): orders that count as a sale, live code uses, discount given and the revenue (orders.total) of those orders';
COMMENT ON COLUMN oms.report_promotions.promotion IS 'The promotion''s code; NULL on a source-code row';
COMMENT ON COLUMN oms.report_promotions.source_code IS 'The campaign (orders.source_code); NULL on a promotion row';
COMMENT ON COLUMN oms.report_promotions.orders IS 'Orders that count as a sale (not cancelled or expired) with the promotion, or with the source code';
COMMENT ON COLUMN oms.report_promotions.code_uses IS 'Live uses of the promotion''s codes; NULL on a source-code row';
COMMENT ON COLUMN oms.report_promotions.discount IS 'Discount the promotion gave (its order_promotions amounts); for a source code, the orders'' whole discount';
COMMENT ON COLUMN oms.report_promotions.revenue IS 'Sum of orders.total of those orders';
COMMENT ON COLUMN oms.report_promotions.free_shipping IS 'The promotion gave free shipping to at least one of them; NULL on a source-code row';

SELECT pg_catalog.pg_extension_config_dump('oms.price_lists', '');
SELECT pg_catalog.pg_extension_config_dump('oms.price_lists_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.prices', '');
SELECT pg_catalog.pg_extension_config_dump('oms.product_categories', '');
SELECT pg_catalog.pg_extension_config_dump('oms.promotions', '');
SELECT pg_catalog.pg_extension_config_dump('oms.promotions_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.promotion_codes', '');
SELECT pg_catalog.pg_extension_config_dump('oms.promotion_codes_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.promotion_code_customers', '');
SELECT pg_catalog.pg_extension_config_dump('oms.order_codes', '');
SELECT pg_catalog.pg_extension_config_dump('oms.order_codes_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.order_promotions', '');
SELECT pg_catalog.pg_extension_config_dump('oms.order_promotions_id_seq', '');

CREATE TRIGGER price_lists_no_card_number BEFORE INSERT OR UPDATE ON oms.price_lists
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('name');
CREATE TRIGGER promotions_no_card_number BEFORE INSERT OR UPDATE ON oms.promotions
    FOR EACH ROW EXECUTE FUNCTION oms.refuse_card_number('name');
