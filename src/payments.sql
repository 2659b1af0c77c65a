
-- ===========================================================================
-- payments: authorizations, captures, voids and refunds with PSP tokens
-- only; gift cards and store credit with atomic balances (src/payments.c)
--
-- Money moves like stock: each change is one guarded UPDATE whose WHERE
-- clause is the invariant (captured + voided + amount <= authorized, balance
-- >= amount, ...), so two concurrent captures or two spends of one gift card
-- cannot both pass. Every action is also a row in oms.payment_transactions.
-- ===========================================================================

CREATE TABLE oms.gift_cards (
    id              bigserial     NOT NULL,
    kind            text          NOT NULL DEFAULT 'gift_card',
    code_hash       bytea,
    code_last4      text,
    customer_id     bigint,
    currency        text          NOT NULL,
    issued          numeric(16,4) NOT NULL,
    balance         numeric(16,4) NOT NULL,
    active          boolean       NOT NULL DEFAULT true,
    created_at      timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT gift_cards_pkey PRIMARY KEY (id),
    CONSTRAINT gift_cards_code_hash_key UNIQUE (code_hash),
    CONSTRAINT gift_cards_customer_fkey FOREIGN KEY (customer_id) REFERENCES oms.customers (id),
    CONSTRAINT gift_cards_kind_chk CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['gift_card', 'store_credit'])),
    CONSTRAINT gift_cards_identity_chk CHECK (CASE WHEN kind OPERATOR(pg_catalog.=) 'gift_card'
        THEN code_hash IS NOT NULL AND customer_id IS NULL ELSE code_hash IS NULL AND customer_id IS NOT NULL END),
    CONSTRAINT gift_cards_currency_chk CHECK (currency OPERATOR(pg_catalog.~) '^[A-Z]{3}$'),
    CONSTRAINT gift_cards_balance_chk CHECK (balance OPERATOR(pg_catalog.>=) 0 AND balance OPERATOR(pg_catalog.<=) issued),
    CONSTRAINT gift_cards_issued_chk CHECK (issued OPERATOR(pg_catalog.>=) 0)
);
CREATE UNIQUE INDEX gift_cards_store_credit_key ON oms.gift_cards (customer_id, currency) WHERE kind OPERATOR(pg_catalog.=) 'store_credit';
COMMENT ON TABLE oms.gift_cards IS 'Stored-value accounts: gift cards (found by the hash of their code) and customer store credit';
COMMENT ON COLUMN oms.gift_cards.id IS 'Account id';
COMMENT ON COLUMN oms.gift_cards.kind IS 'gift_card or store_credit';
COMMENT ON COLUMN oms.gift_cards.code_hash IS 'SHA-256 of the normalized gift card code; the code itself is never stored';
COMMENT ON COLUMN oms.gift_cards.code_last4 IS 'Last four characters of the code, for display';
COMMENT ON COLUMN oms.gift_cards.customer_id IS 'Owner of a store credit account';
COMMENT ON COLUMN oms.gift_cards.currency IS 'ISO 4217 currency of the balance';
COMMENT ON COLUMN oms.gift_cards.issued IS 'Total value ever issued to the account';
COMMENT ON COLUMN oms.gift_cards.balance IS 'Spendable value; never below 0 (CHECK), never above issued';
COMMENT ON COLUMN oms.gift_cards.active IS 'Inactive accounts cannot be spent';
COMMENT ON COLUMN oms.gift_cards.created_at IS 'When the account was created';

CREATE TABLE oms.payments (
    id              bigserial     NOT NULL,
    order_id        bigint        NOT NULL,
    method          text          NOT NULL,
    currency        text          NOT NULL,
    authorized      numeric(16,4) NOT NULL,
    captured        numeric(16,4) NOT NULL DEFAULT 0,
    voided          numeric(16,4) NOT NULL DEFAULT 0,
    refunded        numeric(16,4) NOT NULL DEFAULT 0,
    status          text          GENERATED ALWAYS AS (
        CASE WHEN refunded OPERATOR(pg_catalog.>) 0 AND refunded OPERATOR(pg_catalog.=) captured THEN 'refunded'
             WHEN refunded OPERATOR(pg_catalog.>) 0 THEN 'partially_refunded'
             WHEN captured OPERATOR(pg_catalog.>) 0 AND captured OPERATOR(pg_catalog.+) voided OPERATOR(pg_catalog.=) authorized THEN 'captured'
             WHEN captured OPERATOR(pg_catalog.>) 0 THEN 'partially_captured'
             WHEN voided OPERATOR(pg_catalog.=) authorized THEN 'voided'
             ELSE 'authorized' END) STORED,
    token           text,
    psp_reference   text,
    card_brand      text,
    card_last4      text,
    card_exp_month  integer,
    card_exp_year   integer,
    gift_card_id    bigint,
    created_at      timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT payments_pkey PRIMARY KEY (id),
    CONSTRAINT payments_order_fkey FOREIGN KEY (order_id) REFERENCES oms.orders (id),
    CONSTRAINT payments_gift_card_fkey FOREIGN KEY (gift_card_id) REFERENCES oms.gift_cards (id),
    CONSTRAINT payments_method_chk CHECK (method OPERATOR(pg_catalog.=) ANY (ARRAY['card', 'gift_card', 'store_credit', 'invoice', 'check', 'cash', 'bank_transfer'])),
    CONSTRAINT payments_currency_chk CHECK (currency OPERATOR(pg_catalog.~) '^[A-Z]{3}$'),
    CONSTRAINT payments_authorized_chk CHECK (authorized OPERATOR(pg_catalog.>) 0),
    CONSTRAINT payments_amounts_chk CHECK (captured OPERATOR(pg_catalog.>=) 0 AND voided OPERATOR(pg_catalog.>=) 0 AND refunded OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT payments_capture_chk CHECK (captured OPERATOR(pg_catalog.+) voided OPERATOR(pg_catalog.<=) authorized),
    CONSTRAINT payments_refund_chk CHECK (refunded OPERATOR(pg_catalog.<=) captured),
    CONSTRAINT payments_card_chk CHECK (method OPERATOR(pg_catalog.<>) 'card' OR token IS NOT NULL),
    CONSTRAINT payments_account_chk CHECK ((method OPERATOR(pg_catalog.=) ANY (ARRAY['gift_card', 'store_credit'])) OPERATOR(pg_catalog.=) (gift_card_id IS NOT NULL)),
    CONSTRAINT payments_last4_chk CHECK (card_last4 OPERATOR(pg_catalog.~) '^[0-9]{4}$'),
    CONSTRAINT payments_exp_month_chk CHECK (card_exp_month OPERATOR(pg_catalog.>=) 1 AND card_exp_month OPERATOR(pg_catalog.<=) 12),
    CONSTRAINT payments_exp_year_chk CHECK (card_exp_year OPERATOR(pg_catalog.>=) 2000 AND card_exp_year OPERATOR(pg_catalog.<=) 2100),
    CONSTRAINT payments_no_card_number_chk CHECK (NOT oms.contains_card_number(COALESCE(token, ''))
        AND NOT oms.contains_card_number(COALESCE(psp_reference, '')) AND NOT oms.contains_card_number(COALESCE(card_brand, '')))
);
CREATE INDEX payments_order_idx ON oms.payments (order_id);
COMMENT ON TABLE oms.payments IS 'Payments of orders: amounts authorized, captured, voided and refunded; PSP tokens only, never card numbers';
COMMENT ON COLUMN oms.payments.id IS 'Payment id';
COMMENT ON COLUMN oms.payments.order_id IS 'The order';
COMMENT ON COLUMN oms.payments.method IS 'card, gift_card, store_credit, invoice, check, cash or bank_transfer';
COMMENT ON COLUMN oms.payments.currency IS 'Always the order''s currency';
COMMENT ON COLUMN oms.payments.authorized IS 'Amount authorized';
COMMENT ON COLUMN oms.payments.captured IS 'Amount captured; captured + voided <= authorized';
COMMENT ON COLUMN oms.payments.voided IS 'Authorized amount released without capture';
COMMENT ON COLUMN oms.payments.refunded IS 'Amount refunded; never above captured';
COMMENT ON COLUMN oms.payments.status IS 'authorized, partially_captured, captured, voided, partially_refunded or refunded (derived from the amounts)';
COMMENT ON COLUMN oms.payments.token IS 'Payment provider token (cards)';
COMMENT ON COLUMN oms.payments.psp_reference IS 'Payment provider reference';
COMMENT ON COLUMN oms.payments.card_brand IS 'Card brand, for display';
COMMENT ON COLUMN oms.payments.card_last4 IS 'Last four digits of the card, for display';
COMMENT ON COLUMN oms.payments.card_exp_month IS 'Card expiry month';
COMMENT ON COLUMN oms.payments.card_exp_year IS 'Card expiry year';
COMMENT ON COLUMN oms.payments.gift_card_id IS 'Gift card or store credit account spent';
COMMENT ON COLUMN oms.payments.created_at IS 'When the payment was authorized';
COMMENT ON COLUMN oms.payments.updated_at IS 'Last change';

CREATE TABLE oms.payment_transactions (
    id            bigserial     NOT NULL,
    payment_id    bigint        NOT NULL,
    order_id      bigint        NOT NULL,
    kind          text          NOT NULL,
    amount        numeric(16,4) NOT NULL,
    at            timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    actor         text          NOT NULL DEFAULT SESSION_USER,
    reason        text,
    CONSTRAINT payment_transactions_pkey PRIMARY KEY (id),
    CONSTRAINT payment_transactions_payment_fkey FOREIGN KEY (payment_id) REFERENCES oms.payments (id),
    CONSTRAINT payment_transactions_kind_chk CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['authorize', 'capture', 'void', 'refund'])),
    CONSTRAINT payment_transactions_amount_chk CHECK (amount OPERATOR(pg_catalog.>) 0),
    CONSTRAINT payment_transactions_no_card_number_chk CHECK (NOT oms.contains_card_number(COALESCE(reason, '')))
);
CREATE INDEX payment_transactions_payment_idx ON oms.payment_transactions (payment_id);
COMMENT ON TABLE oms.payment_transactions IS 'Every payment action: authorize, capture, void, refund';
COMMENT ON COLUMN oms.payment_transactions.id IS 'Sequence number';
COMMENT ON COLUMN oms.payment_transactions.payment_id IS 'The payment';
COMMENT ON COLUMN oms.payment_transactions.order_id IS 'The order';
COMMENT ON COLUMN oms.payment_transactions.kind IS 'authorize, capture, void or refund';
COMMENT ON COLUMN oms.payment_transactions.amount IS 'Amount of this action';
COMMENT ON COLUMN oms.payment_transactions.at IS 'Transaction time';
COMMENT ON COLUMN oms.payment_transactions.actor IS 'Login role';
COMMENT ON COLUMN oms.payment_transactions.reason IS 'Reason (refunds, voids)';

-- Applications read payments through this view; the table itself is out of
-- their reach (src/grants.sql). The PSP token is a bearer credential: with
-- the merchant's API key it charges the card again, so no application needs
-- it and none gets any part of it: the view shows '****' when there is one.
-- The PSP reference is not a credential, but it is the key to the payment
-- at the provider: the view keeps its last four characters after '****'
-- (only when it is at least 12 characters long, so that at most a third of
-- it shows), which is what support staff match against the provider's
-- dashboard. Every other column is shown as it is. Only the SECURITY
-- DEFINER payment functions (and oms_admin, and superusers) read the
-- table. The view runs with its owner's rights (security_invoker is off),
-- so it needs no grant on the table.
CREATE VIEW oms.payments_masked AS
SELECT p.id, p.order_id, p.method, p.currency, p.authorized, p.captured, p.voided, p.refunded, p.status,
       CASE WHEN p.token IS NULL THEN NULL ELSE '****'::text END AS token,
       CASE WHEN p.psp_reference IS NULL THEN NULL
            WHEN pg_catalog.char_length(p.psp_reference) OPERATOR(pg_catalog.>=) 12
            THEN '****'::text OPERATOR(pg_catalog.||) pg_catalog."right"(p.psp_reference, 4)
            ELSE '****'::text END AS psp_reference,
       p.card_brand, p.card_last4, p.card_exp_month, p.card_exp_year, p.gift_card_id, p.created_at, p.updated_at
  FROM oms.payments p;
COMMENT ON VIEW oms.payments_masked IS 'oms.payments as applications see it: the PSP token and reference masked, every other column as it is';
COMMENT ON COLUMN oms.payments_masked.id IS 'Payment id';
COMMENT ON COLUMN oms.payments_masked.order_id IS 'The order';
COMMENT ON COLUMN oms.payments_masked.method IS 'card, gift_card, store_credit, invoice, check, cash or bank_transfer';
COMMENT ON COLUMN oms.payments_masked.currency IS 'Always the order''s currency';
COMMENT ON COLUMN oms.payments_masked.authorized IS 'Amount authorized';
COMMENT ON COLUMN oms.payments_masked.captured IS 'Amount captured; captured + voided <= authorized';
COMMENT ON COLUMN oms.payments_masked.voided IS 'Authorized amount released without capture';
COMMENT ON COLUMN oms.payments_masked.refunded IS 'Amount refunded; never above captured';
COMMENT ON COLUMN oms.payments_masked.status IS 'authorized, partially_captured, captured, voided, partially_refunded or refunded (derived from the amounts)';
COMMENT ON COLUMN oms.payments_masked.token IS 'Masked: **** when the payment has a PSP token, NULL when not; the token itself is never shown';
COMMENT ON COLUMN oms.payments_masked.psp_reference IS 'Masked: **** followed by the last 4 characters of the PSP reference when it has at least 12, else ****; NULL when there is none';
COMMENT ON COLUMN oms.payments_masked.card_brand IS 'Card brand, for display';
COMMENT ON COLUMN oms.payments_masked.card_last4 IS 'Last four digits of the card, for display';
COMMENT ON COLUMN oms.payments_masked.card_exp_month IS 'Card expiry month';
COMMENT ON COLUMN oms.payments_masked.card_exp_year IS 'Card expiry year';
COMMENT ON COLUMN oms.payments_masked.gift_card_id IS 'Gift card or store credit account spent';
COMMENT ON COLUMN oms.payments_masked.created_at IS 'When the payment was authorized';
COMMENT ON COLUMN oms.payments_masked.updated_at IS 'Last change';
-- The one money path (PaymentsMoneyOut, src/payments.c): every refund-like
-- action of an order is bounded by what its payments captured. Refunds to
-- the order's payments are recorded as payment_transactions of kind refund;
-- the money that leaves an order any other way (store credit issued for it,
-- the value of returned units applied to an exchange) is recorded here, so
-- that oms.check() (order_money_out) can sum both per order.
CREATE TABLE oms.money_out (
    id            bigserial     NOT NULL,
    order_id      bigint        NOT NULL,
    kind          text          NOT NULL,
    amount        numeric(16,4) NOT NULL,
    rma_id        bigint,
    at            timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    actor         text          NOT NULL DEFAULT SESSION_USER,
    CONSTRAINT money_out_pkey PRIMARY KEY (id),
    CONSTRAINT money_out_order_fkey FOREIGN KEY (order_id) REFERENCES oms.orders (id),
    CONSTRAINT money_out_kind_chk CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['store_credit', 'exchange'])),
    CONSTRAINT money_out_amount_chk CHECK (amount OPERATOR(pg_catalog.>) 0)
);
CREATE INDEX money_out_order_idx ON oms.money_out (order_id);
COMMENT ON TABLE oms.money_out IS 'Money that left an order other than as a refund to its payments: store credit issued for it, returned value applied to an exchange';
COMMENT ON COLUMN oms.money_out.id IS 'Sequence number';
COMMENT ON COLUMN oms.money_out.order_id IS 'The order the money came from';
COMMENT ON COLUMN oms.money_out.kind IS 'store_credit or exchange';
COMMENT ON COLUMN oms.money_out.amount IS 'Amount, in the order''s currency';
COMMENT ON COLUMN oms.money_out.rma_id IS 'The RMA it resolved, if any';
COMMENT ON COLUMN oms.money_out.at IS 'When';
COMMENT ON COLUMN oms.money_out.actor IS 'Login role';

CREATE FUNCTION oms.authorize_payment(order_id bigint, payment jsonb)
    RETURNS jsonb LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'authorize_payment';
COMMENT ON FUNCTION oms.authorize_payment(bigint, jsonb)
    IS 'Record an authorization {method, amount, token, psp_reference, brand, last4, exp_month, exp_year, gift_card_code}; confirms the order when payments cover it';
CREATE FUNCTION oms.capture_payment(payment_id bigint, amount numeric DEFAULT NULL)
    RETURNS jsonb LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'capture_payment';
COMMENT ON FUNCTION oms.capture_payment(bigint, numeric) IS 'Capture an amount (default: all that is left) of an authorization';
CREATE FUNCTION oms.void_payment(payment_id bigint)
    RETURNS jsonb LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'void_payment';
COMMENT ON FUNCTION oms.void_payment(bigint) IS 'Release the uncaptured part of an authorization';
CREATE FUNCTION oms.refund_payment(payment_id bigint, amount numeric, reason text DEFAULT NULL)
    RETURNS jsonb LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'refund_payment';
COMMENT ON FUNCTION oms.refund_payment(bigint, numeric, text) IS 'Refund part or all of what was captured';
CREATE FUNCTION oms.issue_gift_card(code text, amount numeric, currency text)
    RETURNS jsonb LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'issue_gift_card';
COMMENT ON FUNCTION oms.issue_gift_card(text, numeric, text) IS 'Issue a gift card; only the hash of its code is stored';
CREATE FUNCTION oms.gift_card_balance(code text)
    RETURNS numeric LANGUAGE c STABLE STRICT PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'gift_card_balance';
COMMENT ON FUNCTION oms.gift_card_balance(text) IS 'Spendable balance of a gift card, NULL when there is no such card';
CREATE FUNCTION oms.issue_store_credit(customer_id bigint, amount numeric, currency text, reason text DEFAULT NULL)
    RETURNS jsonb LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'issue_store_credit';
COMMENT ON FUNCTION oms.issue_store_credit(bigint, numeric, text, text) IS 'Add store credit to a customer''s account in a currency';

SELECT pg_catalog.pg_extension_config_dump('oms.gift_cards', '');
SELECT pg_catalog.pg_extension_config_dump('oms.gift_cards_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.payments', '');
SELECT pg_catalog.pg_extension_config_dump('oms.payments_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.payment_transactions', '');
SELECT pg_catalog.pg_extension_config_dump('oms.payment_transactions_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('oms.money_out', '');
SELECT pg_catalog.pg_extension_config_dump('oms.money_out_id_seq', '');

-- ---------------------------------------------------------------------------
-- Coverage and payment terms (src/lifecycle.c, "Coverage"): an order in a
-- shippable status whose payments do not reach its total is covered by its
-- customer's terms flag. Removing the flag is refused while such an open
-- order relies on it. Every transaction that relies on the flag reads it
-- with the customer row locked FOR SHARE (LifecycleOnTerms); this trigger
-- runs once the UPDATE holds that row, so it waits for them, and its
-- query, a new statement under READ COMMITTED, sees the orders they
-- committed.
-- ---------------------------------------------------------------------------
CREATE FUNCTION oms.customers_terms_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_orders bigint[];
BEGIN
    IF NOT COALESCE('terms' OPERATOR(pg_catalog.=) ANY (OLD.flags), false)
       OR COALESCE('terms' OPERATOR(pg_catalog.=) ANY (NEW.flags), false) THEN
        RETURN NEW;
    END IF;
    IF pg_catalog.current_setting('transaction_isolation') OPERATOR(pg_catalog.<>) 'read committed' THEN
        RAISE EXCEPTION 'the terms flag cannot be removed under % isolation', pg_catalog.current_setting('transaction_isolation')
            USING ERRCODE = '55000',
                  DETAIL = pg_catalog.format('The check for orders of customer %s that rely on payment terms must see the orders committed while it waits, which a transaction snapshot does not.', OLD.id),
                  HINT = 'Remove the flag in a READ COMMITTED transaction (the default).';
    END IF;
    SELECT pg_catalog.array_agg(o.id ORDER BY o.id) INTO v_orders
      FROM oms.orders o
      JOIN oms.order_statuses s ON s.status OPERATOR(pg_catalog.=) COALESCE(o.held_from, o.status)
     WHERE o.customer_id OPERATOR(pg_catalog.=) OLD.id
       AND s.shippable AND NOT s.terminal
       AND o.total OPERATOR(pg_catalog.>) COALESCE((SELECT pg_catalog.sum(p.authorized OPERATOR(pg_catalog.-) p.voided)
                                                      FROM oms.payments p WHERE p.order_id OPERATOR(pg_catalog.=) o.id), 0);
    IF v_orders IS NOT NULL THEN
        RAISE EXCEPTION 'customer % cannot lose the terms flag: % open order(s) rely on it', OLD.id, pg_catalog.cardinality(v_orders)
            USING ERRCODE = '55000',
                  DETAIL = pg_catalog.format('Orders %s are in a status that may ship, and their payments do not reach their totals.',
                                             pg_catalog.array_to_string(v_orders[1:20], ', ')
                                             OPERATOR(pg_catalog.||) CASE WHEN pg_catalog.cardinality(v_orders) OPERATOR(pg_catalog.>) 20 THEN ', ...' ELSE '' END),
                  HINT = 'Record their payments with oms.authorize_payment() (an invoice payment needs the flag, so record it first), or cancel them, then remove the flag.';
    END IF;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION oms.customers_terms_guard() IS 'Trigger: the terms flag cannot be removed while open confirmed orders of the customer rely on it';

CREATE TRIGGER customers_terms_guard
    BEFORE UPDATE OF flags ON oms.customers
    FOR EACH ROW EXECUTE FUNCTION oms.customers_terms_guard();
