/*-------------------------------------------------------------------------
 *
 * stored_value.c
 *	  Stored value: gift cards (oms.issue_gift_card, oms.gift_card_balance)
 *	  and store credit (oms.issue_store_credit, and PaymentsIssueStoreCredit
 *	  for returns, which passes the one money path, PaymentsMoneyOut, when
 *	  the credit is issued for an order). Spending either is a payment method of
 *	  payment_authorize.c, through a guarded update of the balance.
 *
 *	  The gift card code is normalized (spaces and dashes removed, upper
 *	  case) and only its SHA-256 is stored (PayCodeHash). Issuing posts the
 *	  liability to the journal (LedgerPost) and emits an event.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "oms.h"
#include "payments.h"

bytea *
PayCodeHash(const char *code, char **last4)
{
	StringInfoData norm;
	const char *p;
	pg_cryptohash_ctx *ctx;
	bytea	   *h = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);

	initStringInfo(&norm);
	for (p = code; *p; p++)
	{
		if (*p == ' ' || *p == '-')
			continue;
		if (!isalnum((unsigned char) *p))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid gift card code"),
					 errdetail("A gift card code has letters and digits, optionally grouped with spaces or dashes."),
					 errhint("Type the code as printed on the card.")));
		appendStringInfoChar(&norm, toupper((unsigned char) *p));
	}
	if (norm.len < 8 || norm.len > 64)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid gift card code"),
				 errdetail("A gift card code has 8 to 64 letters and digits; this one has %d.", norm.len),
				 errhint("Type the code as printed on the card.")));
	if (last4)
		*last4 = pstrdup(norm.data + norm.len - 4);
	ctx = pg_cryptohash_create(PG_SHA256);
	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (uint8 *) norm.data, norm.len) < 0 ||
		pg_cryptohash_final(ctx, (uint8 *) VARDATA(h), PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "oms: could not hash gift card code");
	pg_cryptohash_free(ctx);
	SET_VARSIZE(h, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	return h;
}

static void
PayCheckCurrency(const char *currency)
{
	if (strlen(currency) != 3 || strspn(currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid currency \"%s\"", currency),
				 errdetail("A currency is three capital letters (ISO 4217)."),
				 errhint("For example EUR, USD or GBP.")));
}

PG_FUNCTION_INFO_V1(issue_gift_card);
/*
 * oms.issue_gift_card(code, amount, currency): only the code's hash is kept.
 */
Datum
issue_gift_card(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	char	   *code;
	Datum		amount;
	char	   *currency;
	char	   *last4;
	bytea	   *hash;
	int64		id;
	Datum		result;

	code = OmsIdentifierArg(fcinfo, 0, "code", OMS_MAX_GIFT_CARD_CODE_CHARS);
	OmsRequireArg(fcinfo, 1, "amount");
	amount = PayCheckAmount(PG_GETARG_DATUM(1), "amount");
	currency = OmsIdentifierArg(fcinfo, 2, "currency", 3);
	PayCheckCurrency(currency);
	hash = PayCodeHash(code, &last4);

	SPI_connect();
	{
		Oid			types[4] = {BYTEAOID, TEXTOID, TEXTOID, NUMERICOID};
		Datum		values[4] = {PointerGetDatum(hash), CStringGetTextDatum(last4), CStringGetTextDatum(currency), amount};

		OmsExec(OmsPlan(&plan,
						"INSERT INTO oms.gift_cards (kind, code_hash, code_last4, currency, issued, balance) "
						"VALUES ('gift_card', $1, $2, $3, $4, $4) ON CONFLICT (code_hash) DO NOTHING RETURNING id",
						4, types), values, NULL, 1);
	}
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("a gift card with this code already exists"),
				 errdetail("Gift card codes are unique."),
				 errhint("Generate a new code.")));
	id = OmsGetInt64(0, 1, NULL);
	{
		const char *event = "gift_card_issue";

		LedgerPost("gift_card_issue", currency, 0, 0, 0, 0, 1, &event, &amount);
	}
	EventsEmit("gift_card_issued", 0,
			   psprintf("{\"gift_card_id\": " INT64_FORMAT ", \"currency\": \"%s\", \"amount\": %s, \"last4\": \"%s\"}",
						id, currency, PayNum(amount), last4));
	result = DirectFunctionCall1(jsonb_in, CStringGetDatum(
																psprintf("{\"gift_card_id\": " INT64_FORMAT ", \"last4\": \"%s\", \"currency\": \"%s\", \"balance\": %s}",
																		 id, last4, currency, PayNum(amount))));
	result = SPI_datumTransfer(result, false, -1);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

PG_FUNCTION_INFO_V1(gift_card_balance);
/*
 * oms.gift_card_balance(code): spendable balance, NULL for an unknown code.
 */
Datum
gift_card_balance(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	bytea	   *hash = PayCodeHash(OmsIdentifierArg(fcinfo, 0, "code", OMS_MAX_GIFT_CARD_CODE_CHARS), NULL);
	Oid			types[1] = {BYTEAOID};
	Datum		values[1] = {PointerGetDatum(hash)};
	Datum		result;
	bool		isnull = true;

	SPI_connect();
	OmsQuery(OmsPlan(&plan,
					 "SELECT balance FROM oms.gift_cards WHERE code_hash OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	if (SPI_processed > 0)
		result = SPI_datumTransfer(OmsGetDatum(0, 1, &isnull), false, -1);
	else
		result = (Datum) 0;
	SPI_finish();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/*
 * Store credit for a customer (added to their balance in that currency):
 * the jsonb {store_credit_id, customer_id, currency, balance}, in the
 * caller's SPI memory.
 */
Datum
PaymentsIssueStoreCredit(int64 customer_id, Datum amount, const char *currency, const char *reason,
						 int64 order_id, int64 rma_id)
{
	static SPIPlanPtr plan_cust = NULL;
	static SPIPlanPtr plan = NULL;
	Datum		result;
	bool		isnull;

	{
		Oid			types[1] = {INT8OID};
		Datum		values[1] = {Int64GetDatum(customer_id)};

		OmsQuery(OmsPlan(&plan_cust, "SELECT 1 FROM oms.customers WHERE id OPERATOR(pg_catalog.=) $1",
						 1, types), values, NULL, 1);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("customer " INT64_FORMAT " does not exist", customer_id),
					 errdetail("No row in oms.customers has id " INT64_FORMAT ".", customer_id),
					 errhint("Store credit belongs to a known customer.")));
	}
	/* credit for an order leaves that order: the one money path */
	if (order_id != 0)
		PaymentsMoneyOut(order_id, PAY_OUT_STORE_CREDIT, amount, rma_id);
	/*
	 * The account adds up what is issued to it: an account, like every
	 * amount, stays below 10^12 (its columns keep 12 digits before the
	 * point), or the credit is refused naming amount instead of the bare
	 * 22003 of the addition. The row stays locked by ON CONFLICT when the
	 * WHERE refuses it.
	 */
	{
		Oid			types[3] = {INT8OID, TEXTOID, NUMERICOID};
		Datum		values[3] = {Int64GetDatum(customer_id), CStringGetTextDatum(currency), amount};

		OmsExec(OmsPlan(&plan,
						"INSERT INTO oms.gift_cards AS g (kind, customer_id, currency, issued, balance) "
						"VALUES ('store_credit', $1, $2, $3, $3) "
						"ON CONFLICT (customer_id, currency) WHERE kind OPERATOR(pg_catalog.=) 'store_credit' "
						"DO UPDATE SET issued = g.issued OPERATOR(pg_catalog.+) excluded.issued, "
						"              balance = g.balance OPERATOR(pg_catalog.+) excluded.balance "
						" WHERE (g.issued OPERATOR(pg_catalog.+) excluded.issued) OPERATOR(pg_catalog.<) 1000000000000 "
						"   AND (g.balance OPERATOR(pg_catalog.+) excluded.balance) OPERATOR(pg_catalog.<) 1000000000000 "
						"RETURNING pg_catalog.jsonb_build_object('store_credit_id', g.id, 'customer_id', g.customer_id, "
						"          'currency', g.currency, 'balance', g.balance)",
						3, types), values, NULL, 1);
		if (SPI_processed == 0)
		{
			static SPIPlanPtr plan_acct = NULL;

			OmsQuery(OmsPlan(&plan_acct,
							 "SELECT issued::text, balance::text FROM oms.gift_cards "
							 " WHERE kind OPERATOR(pg_catalog.=) 'store_credit' AND customer_id OPERATOR(pg_catalog.=) $1 "
							 "   AND currency OPERATOR(pg_catalog.=) $2",
							 2, types), values, NULL, 1);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("amount %s would take the store credit of customer " INT64_FORMAT " in %s to 1000000000000 or more",
							PayNum(amount), customer_id, currency),
					 errdetail("The account was issued %s and holds %s; both stay below 1000000000000.",
							   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
							   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2)),
					 errhint("Check the amount: store credit is given in units of the currency, not cents.")));
		}
	}
	/* a copy: the event below runs another statement */
	result = PointerGetDatum(PG_DETOAST_DATUM_COPY(OmsGetDatum(0, 1, &isnull)));
	{
		const char *event = "store_credit_issue";

		LedgerPost("store_credit_issue", currency, order_id, 0, rma_id, 0, 1, &event, &amount);
	}
	{
		StringInfoData payload;

		initStringInfo(&payload);
		appendStringInfo(&payload, "{\"customer_id\": " INT64_FORMAT ", \"currency\": \"%s\", \"amount\": %s, \"reason\": ",
						 customer_id, currency, PayNum(amount));
		if (reason)
			escape_json(&payload, reason);
		else
			appendStringInfoString(&payload, "null");
		appendStringInfoChar(&payload, '}');
		EventsEmit("store_credit_issued", 0, payload.data);
	}
	return result;
}

PG_FUNCTION_INFO_V1(issue_store_credit);
/*
 * oms.issue_store_credit(customer_id, amount, currency, reason).
 */
Datum
issue_store_credit(PG_FUNCTION_ARGS)
{
	int64		customer_id;
	Datum		amount;
	char	   *currency;
	char	   *reason = NULL;
	Datum		result;

	OmsRequireArg(fcinfo, 0, "customer_id");
	OmsRequireArg(fcinfo, 1, "amount");
	customer_id = PG_GETARG_INT64(0);
	amount = PG_GETARG_DATUM(1);
	currency = OmsIdentifierArg(fcinfo, 2, "currency", 3);
	if (!PG_ARGISNULL(3))
	{
		reason = text_to_cstring(PG_GETARG_TEXT_PP(3));
		OmsCheckFreeText(reason, "reason", OMS_MAX_REASON_CHARS);
	}
	amount = PayCheckAmount(amount, "amount");
	PayCheckCurrency(currency);

	SPI_connect();
	result = SPI_datumTransfer(PaymentsIssueStoreCredit(customer_id, amount, currency, reason, 0, 0), false, -1);
	SPI_finish();
	PG_RETURN_DATUM(result);
}
