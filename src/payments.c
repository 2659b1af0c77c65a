/*-------------------------------------------------------------------------
 *
 * payments.c
 *	  Payments with provider tokens only, gift cards and store credit.
 *
 *	  Every action locks the order row first (orders, then payments, then
 *	  stored-value accounts: the global lock order), reads the payment under
 *	  that lock to give precise errors, and then changes amounts with a
 *	  guarded UPDATE whose WHERE clause is the invariant itself:
 *	    capture:  captured + voided + amount <= authorized
 *	    refund:   refunded + amount <= captured
 *	    spend:    balance >= amount            (gift card, store credit)
 *	  so a double capture or two spends of one gift card cannot both pass,
 *	  even from paths that do not take the order lock first. The CHECK
 *	  constraints on oms.payments and oms.gift_cards state the same rules.
 *
 *	  The gift card code is normalized (spaces and dashes removed, upper
 *	  case) and only its SHA-256 is stored. Card numbers are never stored:
 *	  token, reference and brand pass the PAN guard, and so do reasons.
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
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "oms.h"

/* ---- helpers ---- */

static Datum
PayZero(void)
{
	return DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
}

/* Validate a money argument and round it to the columns' 4 decimals. */
static inline Datum
PayCheckAmount(Datum amount, const char *name)
{
	Datum		rounded;

	if (!OmsMoneyRound(amount, true, &rounded))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be greater than 0 and below 1000000000000", name),
				 errdetail("The value given was %s; amounts keep 4 decimals.", DatumGetCString(DirectFunctionCall1(numeric_out, amount))),
				 errhint("Amounts are positive, in the order's currency.")));
	return rounded;
}

static char *
PayNum(Datum d)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, d));
}

static bytea *
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

/* Lock the payment's order, then the payment; returns the order id. */
static int64
PayLock(int64 payment_id)
{
	static SPIPlanPtr plan_order = NULL;
	static SPIPlanPtr plan_pay = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(payment_id)};
	int64		order_id;

	OmsQuery(OmsPlan(&plan_order,
					 "SELECT order_id FROM oms.payments WHERE id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("payment " INT64_FORMAT " does not exist", payment_id),
				 errdetail("No row in oms.payments has id " INT64_FORMAT ".", payment_id),
				 errhint("Use the payment_id returned by oms.authorize_payment().")));
	order_id = OmsGetInt64(0, 1, NULL);
	(void) LifecycleLockOrder(order_id, NULL);
	OmsQuery(OmsPlan(&plan_pay,
					 "SELECT 1 FROM oms.payments WHERE id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
					 1, types), values, NULL, 1);
	return order_id;
}

/* Book one payment action: transaction row and outbox event. */
static void
PayBook(int64 payment_id, int64 order_id, const char *kind, Datum amount, const char *reason, int64 rma_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[5] = {INT8OID, INT8OID, TEXTOID, NUMERICOID, TEXTOID};
	Datum		values[5];
	char		nulls[5] = "     ";
	StringInfoData payload;

	/* the journal entry of the action, in the same transaction */
	LedgerPayment(payment_id, kind, amount, rma_id);

	values[0] = Int64GetDatum(payment_id);
	values[1] = Int64GetDatum(order_id);
	values[2] = CStringGetTextDatum(kind);
	values[3] = amount;
	if (reason)
		values[4] = CStringGetTextDatum(reason);
	else
		nulls[4] = 'n';
	OmsExec(OmsPlan(&plan,
					"INSERT INTO oms.payment_transactions (payment_id, order_id, kind, amount, reason) VALUES ($1, $2, $3, $4, $5)",
					5, types), values, nulls, 0);
	initStringInfo(&payload);
	appendStringInfo(&payload, "{\"payment_id\": " INT64_FORMAT ", \"amount\": %s, \"reason\": ", payment_id, PayNum(amount));
	if (reason)
		escape_json(&payload, reason);
	else
		appendStringInfoString(&payload, "null");
	appendStringInfoChar(&payload, '}');
	EventsEmit(psprintf("payment_%s", strcmp(kind, "authorize") == 0 ? "authorized" :
						strcmp(kind, "capture") == 0 ? "captured" :
						strcmp(kind, "void") == 0 ? "voided" : "refunded"),
			   order_id, payload.data);
}

/* Give value back to a gift card or store credit account. */
static void
PayRestore(int64 payment_id, Datum amount)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, NUMERICOID};
	Datum		values[2] = {Int64GetDatum(payment_id), amount};

	OmsExec(OmsPlan(&plan,
					"UPDATE oms.gift_cards g SET balance = g.balance OPERATOR(pg_catalog.+) $2 "
					"  FROM oms.payments p WHERE p.id OPERATOR(pg_catalog.=) $1 AND g.id OPERATOR(pg_catalog.=) p.gift_card_id",
					2, types), values, NULL, 0);
}

static Datum
PayDocument(int64 payment_id, const char *note)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2] = {Int64GetDatum(payment_id), note ? CStringGetTextDatum(note) : (Datum) 0};
	char		nulls[2] = {' ', note ? ' ' : 'n'};
	bool		isnull;

	OmsQuery(OmsPlan(&plan,
					 "SELECT pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object("
					 "  'payment_id', p.id, 'order_id', p.order_id, 'method', p.method, 'status', p.status, "
					 "  'currency', p.currency, 'authorized', p.authorized, 'captured', p.captured, "
					 "  'voided', p.voided, 'refunded', p.refunded, 'card_brand', p.card_brand, "
					 "  'card_last4', p.card_last4, 'order_status', o.status, 'note', $2, "
					 "  'balance', (SELECT g.balance FROM oms.gift_cards g WHERE g.id OPERATOR(pg_catalog.=) p.gift_card_id))) "
					 "  FROM oms.payments p JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) p.order_id "
					 " WHERE p.id OPERATOR(pg_catalog.=) $1",
					 2, types), values, nulls, 1);
	return SPI_datumTransfer(OmsGetDatum(0, 1, &isnull), false, -1);
}

/* amounts of a locked payment: authorized, captured, voided, refunded */
static void
PayAmounts(int64 payment_id, Datum *amt)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(payment_id)};
	int			i;

	OmsQuery(OmsPlan(&plan,
					 "SELECT authorized, captured, voided, refunded, "
					 "       authorized OPERATOR(pg_catalog.-) captured OPERATOR(pg_catalog.-) voided, "
					 "       captured OPERATOR(pg_catalog.-) refunded "
					 "  FROM oms.payments WHERE id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	for (i = 0; i < 6; i++)
		amt[i] = SPI_datumTransfer(OmsGetDatum(0, i + 1, NULL), false, -1);
}

static int
PayCmp(Datum a, Datum b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, a, b));
}

/* ---- authorize ---- */

PG_FUNCTION_INFO_V1(authorize_payment);
/*
 * oms.authorize_payment(order_id, payment jsonb): record an authorization.
 */
Datum
authorize_payment(PG_FUNCTION_ARGS)
{
	static const char *const keys[] = {"method", "amount", "currency", "token", "psp_reference", "brand",
	"last4", "exp_month", "exp_year", "gift_card_code", NULL};
	static SPIPlanPtr plan_order = NULL;
	static SPIPlanPtr plan_spend = NULL;
	static SPIPlanPtr plan_account = NULL;
	static SPIPlanPtr plan_insert = NULL;
	static SPIPlanPtr plan_held = NULL;
	int64		order_id;
	Jsonb	   *doc;
	JsonbContainer *root;
	JsonbValue	buf;
	JsonbValue *v;
	char	   *method;
	Datum		amount;
	char	   *currency = NULL;
	char	   *token = NULL;
	char	   *psp = NULL;
	char	   *brand = NULL;
	char	   *last4 = NULL;
	int32		exp_month = 0;
	int32		exp_year = 0;
	char	   *code = NULL;
	char	   *status;
	char	   *order_currency;
	bool		terms;
	bool		has_customer;
	int64		customer_id;
	bool		over;
	bool		covered;
	int64		account_id = 0;
	int64		payment_id;
	Datum		result;

	OmsRequireArg(fcinfo, 0, "order_id");
	OmsRequireArg(fcinfo, 1, "payment");
	order_id = PG_GETARG_INT64(0);
	doc = PG_GETARG_JSONB_P(1);
	JsonDocument = "payment";
	root = &doc->root;
	if (!JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
		JsonInvalid("document", "The payment must be a JSON object.",
					"Send {\"method\": ..., \"amount\": ..., ...}.");
	JsonCheckKeys(root, keys, "the payment");
	if ((v = JsonGet(root, "method", &buf)) == NULL)
		JsonInvalid("method", "The key method is required.", "Use card, gift_card, store_credit, invoice, check or cash.");
	method = JsonString(v, "method", 32, true);
	if (strcmp(method, "card") != 0 && strcmp(method, "gift_card") != 0 && strcmp(method, "store_credit") != 0 &&
		strcmp(method, "invoice") != 0 && strcmp(method, "check") != 0 && strcmp(method, "cash") != 0)
		JsonInvalid("method", psprintf("method must be card, gift_card, store_credit, invoice, check or cash, not \"%s\".", method),
					"Card payments send the provider's token, never the card number.");
	if ((v = JsonGet(root, "amount", &buf)) == NULL)
		JsonInvalid("amount", "The key amount is required.", "Give the amount to authorize.");
	amount = JsonMoney(v, "amount");
	if (PayCmp(amount, PayZero()) <= 0)
		JsonInvalid("amount", "amount must be greater than 0.", "Give the amount to authorize.");
	if ((v = JsonGet(root, "currency", &buf)) != NULL)
		currency = JsonString(v, "currency", 3, true);
	if ((v = JsonGet(root, "token", &buf)) != NULL)
	{
		token = JsonString(v, "token", 200, true);
		OmsCheckNoCardNumber(token, "token");
	}
	if ((v = JsonGet(root, "psp_reference", &buf)) != NULL)
	{
		psp = JsonString(v, "psp_reference", 200, true);
		OmsCheckNoCardNumber(psp, "psp_reference");
	}
	if ((v = JsonGet(root, "brand", &buf)) != NULL)
	{
		brand = JsonString(v, "brand", 32, true);
		OmsCheckNoCardNumber(brand, "brand");
	}
	if ((v = JsonGet(root, "last4", &buf)) != NULL)
	{
		last4 = JsonString(v, "last4", 4, true);
		if (strlen(last4) != 4 || strspn(last4, "0123456789") != 4)
			JsonInvalid("last4", psprintf("last4 must be the last four digits of the card, not \"%s\".", last4),
						"Send exactly four digits as a string, for example \"4242\".");
	}
	if ((v = JsonGet(root, "exp_month", &buf)) != NULL)
		exp_month = JsonInt(v, "exp_month", 1, 12, "Months are 1 to 12.");
	if ((v = JsonGet(root, "exp_year", &buf)) != NULL)
		exp_year = JsonInt(v, "exp_year", 2000, 2100, "Give the four-digit year.");
	if ((v = JsonGet(root, "gift_card_code", &buf)) != NULL)
		code = JsonString(v, "gift_card_code", 100, true);
	if (strcmp(method, "card") == 0 && token == NULL)
		JsonInvalid("token", "A card payment needs the payment provider's token.",
					"Tokenize the card with your payment provider and send the token; never the card number.");
	if (strcmp(method, "gift_card") == 0 && code == NULL)
		JsonInvalid("gift_card_code", "A gift card payment needs gift_card_code.", "Send the code printed on the card.");
	if (strcmp(method, "card") != 0 && (token || last4 || brand || exp_month || exp_year))
		JsonInvalid("method", psprintf("token, brand, last4 and expiry belong to card payments, not %s.", method),
					"Leave the card fields out.");

	SPI_connect();
	/*
	 * Lock (and write) the order first, then read what is authorized in a
	 * statement of its own: after waiting for a concurrent authorization
	 * only a new snapshot sees its payment.
	 */
	(void) LifecycleLockOrder(order_id, NULL);
	LifecycleTouchOrder(order_id);
	{
		Oid			types[2] = {INT8OID, NUMERICOID};
		Datum		values[2] = {Int64GetDatum(order_id), amount};
		bool		isnull;

		OmsQuery(OmsPlan(&plan_order,
						 "SELECT o.status, o.currency, COALESCE('terms' OPERATOR(pg_catalog.=) ANY (c.flags), false), o.customer_id, "
						 "       $2 OPERATOR(pg_catalog.>) (o.total OPERATOR(pg_catalog.-) COALESCE((SELECT pg_catalog.sum(p.authorized OPERATOR(pg_catalog.-) p.voided) "
						 "                FROM oms.payments p WHERE p.order_id OPERATOR(pg_catalog.=) o.id), 0)), "
						 "       $2 OPERATOR(pg_catalog.>=) (o.total OPERATOR(pg_catalog.-) COALESCE((SELECT pg_catalog.sum(p.authorized OPERATOR(pg_catalog.-) p.voided) "
						 "                FROM oms.payments p WHERE p.order_id OPERATOR(pg_catalog.=) o.id), 0)), "
						 "       (o.total OPERATOR(pg_catalog.-) COALESCE((SELECT pg_catalog.sum(p.authorized OPERATOR(pg_catalog.-) p.voided) "
						 "                FROM oms.payments p WHERE p.order_id OPERATOR(pg_catalog.=) o.id), 0))::text "
						 "  FROM oms.orders o LEFT JOIN oms.customers c ON c.id OPERATOR(pg_catalog.=) o.customer_id "
						 " WHERE o.id OPERATOR(pg_catalog.=) $1 FOR UPDATE OF o",
						 2, types), values, NULL, 1);
		if (SPI_processed == 0)
			OmsOrderNotFound(order_id);
		status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		order_currency = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		terms = DatumGetBool(OmsGetDatum(0, 3, NULL));
		customer_id = OmsGetInt64(0, 4, &isnull);
		has_customer = !isnull;
		over = DatumGetBool(OmsGetDatum(0, 5, NULL));
		covered = DatumGetBool(OmsGetDatum(0, 6, NULL));
		if (strcmp(status, "cancelled") == 0 || strcmp(status, "expired") == 0 ||
			strcmp(status, "returned") == 0 || strcmp(status, "completed") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("order " INT64_FORMAT " takes no payments: it is %s", order_id, status),
					 errdetail("Payments are authorized for open orders only."),
					 errhint("Place a new order.")));
		if (currency && strcmp(currency, order_currency) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid payment: currency %s differs from the order's %s", currency, order_currency),
					 errdetail("A payment is always in its order's currency."),
					 errhint("Convert the amount on the provider's side, or leave currency out.")));
		if (over)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid payment: amount %s exceeds the open amount %s of order " INT64_FORMAT,
							PayNum(amount), SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7), order_id),
					 errdetail("The order total less what is already authorized is the most that can be authorized."),
					 errhint("Authorize at most the open amount.")));
	}
	if (strcmp(method, "invoice") == 0 && !terms)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid payment: order " INT64_FORMAT " is not on payment terms", order_id),
				 errdetail("Invoice payments are for customers flagged terms."),
				 errhint("Add the flag terms to the customer, or use another method.")));

	/* stored value: spend it with a guarded update */
	if (strcmp(method, "gift_card") == 0 || strcmp(method, "store_credit") == 0)
	{
		Oid			types[4] = {BYTEAOID, INT8OID, TEXTOID, NUMERICOID};
		Datum		values[4];
		char		nulls[4] = "    ";
		bool		gift = strcmp(method, "gift_card") == 0;

		if (!gift && !has_customer)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid payment: order " INT64_FORMAT " has no customer to take store credit from", order_id),
					 errdetail("Store credit belongs to a customer; guest orders have none."),
					 errhint("Use another method.")));
		if (gift)
		{
			values[0] = PointerGetDatum(PayCodeHash(code, NULL));
			nulls[1] = 'n';
			values[1] = (Datum) 0;
		}
		else
		{
			nulls[0] = 'n';
			values[0] = (Datum) 0;
			values[1] = Int64GetDatum(customer_id);
		}
		values[2] = CStringGetTextDatum(order_currency);
		values[3] = amount;
		OmsExec(OmsPlan(&plan_spend,
						"UPDATE oms.gift_cards SET balance = balance OPERATOR(pg_catalog.-) $4 "
						" WHERE (code_hash OPERATOR(pg_catalog.=) $1 OR (kind OPERATOR(pg_catalog.=) 'store_credit' AND customer_id OPERATOR(pg_catalog.=) $2)) "
						"   AND currency OPERATOR(pg_catalog.=) $3 AND active AND balance OPERATOR(pg_catalog.>=) $4 "
						"RETURNING id",
						4, types), values, nulls, 1);
		if (SPI_processed == 1)
			account_id = OmsGetInt64(0, 1, NULL);
		else
		{
			OmsQuery(OmsPlan(&plan_account,
							 "SELECT currency, active, balance::text FROM oms.gift_cards "
							 " WHERE code_hash OPERATOR(pg_catalog.=) $1 OR (kind OPERATOR(pg_catalog.=) 'store_credit' "
							 "       AND customer_id OPERATOR(pg_catalog.=) $2 AND currency OPERATOR(pg_catalog.=) $3) "
							 " ORDER BY id LIMIT 1",
							 3, types), values, nulls, 1);
			if (SPI_processed == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg(gift ? "unknown gift card" : "customer has no store credit in %s", order_currency),
						 errdetail(gift ? "No gift card has this code." : "No store credit account exists for this customer and currency."),
						 errhint(gift ? "Check the code as printed on the card." : "Issue store credit with oms.issue_store_credit().")));
			if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), order_currency) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid payment: the gift card is in %s, the order in %s",
								SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), order_currency),
						 errdetail("A payment is always in its order's currency."),
						 errhint("Use a card in the order's currency.")));
			if (!DatumGetBool(OmsGetDatum(0, 2, NULL)))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("the %s is inactive", gift ? "gift card" : "store credit account"),
						 errdetail("Inactive accounts cannot be spent."),
						 errhint("Use another method.")));
			ereport(ERROR,
					(errcode(ERRCODE_OMS_INSUFFICIENT_FUNDS),
					 errmsg("insufficient %s balance", gift ? "gift card" : "store credit"),
					 errdetail("The balance is %s, the amount %s.",
							   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3), PayNum(amount)),
					 errhint("Authorize at most the balance and pay the rest with another method.")));
		}
	}

	{
		Oid			types[11] = {INT8OID, TEXTOID, TEXTOID, NUMERICOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		INT4OID, INT4OID, INT8OID};
		Datum		values[11];
		char		nulls[11];

		memset(nulls, ' ', sizeof(nulls));
		values[0] = Int64GetDatum(order_id);
		values[1] = CStringGetTextDatum(method);
		values[2] = CStringGetTextDatum(order_currency);
		values[3] = amount;
#define PAY_OPT(i, s) do { if (s) values[i] = CStringGetTextDatum(s); else nulls[i] = 'n'; } while (0)
		PAY_OPT(4, token);
		PAY_OPT(5, psp);
		PAY_OPT(6, brand);
		PAY_OPT(7, last4);
		values[8] = Int32GetDatum(exp_month);
		nulls[8] = exp_month ? ' ' : 'n';
		values[9] = Int32GetDatum(exp_year);
		nulls[9] = exp_year ? ' ' : 'n';
		values[10] = Int64GetDatum(account_id);
		nulls[10] = account_id ? ' ' : 'n';
		OmsExec(OmsPlan(&plan_insert,
						"INSERT INTO oms.payments (order_id, method, currency, authorized, token, psp_reference, card_brand, "
						"       card_last4, card_exp_month, card_exp_year, gift_card_id) "
						"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
						11, types), values, nulls, 1);
		payment_id = OmsGetInt64(0, 1, NULL);
	}
	PayBook(payment_id, order_id, "authorize", amount, NULL, 0);

	/* covered: the order is confirmed and its reservations stop expiring */
	if (covered)
	{
		if (strcmp(status, "pending_payment") == 0 || strcmp(status, "backordered") == 0)
			LifecycleChange(order_id, "confirmed", "payment authorized", true);
		else if (strcmp(status, "on_hold") == 0)
		{
			Oid			types[1] = {INT8OID};
			Datum		values[1] = {Int64GetDatum(order_id)};

			OmsExec(OmsPlan(&plan_held,
							"UPDATE oms.orders SET held_from = 'confirmed', expires_at = NULL "
							" WHERE id OPERATOR(pg_catalog.=) $1 AND held_from OPERATOR(pg_catalog.=) ANY ('{pending_payment,backordered}')",
							1, types), values, NULL, 0);
			/* the customer hears of the confirmation now; the release is quiet */
			if (SPI_processed == 1)
				EventsEmit("order_confirmed", order_id,
						   "{\"from\": \"on_hold\", \"to\": \"on_hold\", \"reason\": \"payment authorized while on hold; released to confirmed\"}");
		}
	}
	result = PayDocument(payment_id, NULL);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/* ---- capture, void, refund ---- */

PG_FUNCTION_INFO_V1(capture_payment);
/*
 * oms.capture_payment(payment_id, amount): capture, by default all that is left.
 */
Datum
capture_payment(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64		payment_id;
	int64		order_id;
	Datum		amt[6];
	Datum		amount;
	Datum		result;
	Datum		given = (Datum) 0;

	OmsRequireArg(fcinfo, 0, "payment_id");
	payment_id = PG_GETARG_INT64(0);
	if (!PG_ARGISNULL(1))
		given = PayCheckAmount(PG_GETARG_DATUM(1), "amount");

	SPI_connect();
	order_id = PayLock(payment_id);
	PayAmounts(payment_id, amt);
	if (PayCmp(amt[4], PayZero()) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("payment " INT64_FORMAT " has nothing left to capture", payment_id),
				 errdetail("Authorized %s, captured %s, voided %s.", PayNum(amt[0]), PayNum(amt[1]), PayNum(amt[2])),
				 errhint("Authorize a new payment for more.")));
	amount = PG_ARGISNULL(1) ? amt[4] : given;
	if (PayCmp(amount, amt[4]) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("capture of %s exceeds the %s left on payment " INT64_FORMAT, PayNum(amount), PayNum(amt[4]), payment_id),
				 errdetail("Authorized %s, captured %s, voided %s: captured + voided never exceeds authorized.",
						   PayNum(amt[0]), PayNum(amt[1]), PayNum(amt[2])),
				 errhint("Capture at most what is left, or authorize more.")));
	{
		Oid			types[2] = {INT8OID, NUMERICOID};
		Datum		values[2] = {Int64GetDatum(payment_id), amount};

		OmsExec(OmsPlan(&plan,
						"UPDATE oms.payments SET captured = captured OPERATOR(pg_catalog.+) $2, updated_at = pg_catalog.now() "
						" WHERE id OPERATOR(pg_catalog.=) $1 "
						"   AND captured OPERATOR(pg_catalog.+) voided OPERATOR(pg_catalog.+) $2 OPERATOR(pg_catalog.<=) authorized",
						2, types), values, NULL, 0);
		if (SPI_processed != 1)
			elog(ERROR, "oms: guarded capture failed under lock");
	}
	PayBook(payment_id, order_id, "capture", amount, NULL, 0);
	result = PayDocument(payment_id, NULL);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * Void the uncaptured remainder of a locked payment, given its amounts
 * (PayAmounts); false if there is none.
 */
static bool
PayVoid(int64 payment_id, int64 order_id, Datum *amt, const char *reason)
{
	static SPIPlanPtr plan = NULL;

	if (PayCmp(amt[4], PayZero()) == 0)
		return false;
	{
		Oid			types[2] = {INT8OID, NUMERICOID};
		Datum		values[2] = {Int64GetDatum(payment_id), amt[4]};

		OmsExec(OmsPlan(&plan,
						"UPDATE oms.payments SET voided = voided OPERATOR(pg_catalog.+) $2, updated_at = pg_catalog.now() "
						" WHERE id OPERATOR(pg_catalog.=) $1 "
						"   AND captured OPERATOR(pg_catalog.+) voided OPERATOR(pg_catalog.+) $2 OPERATOR(pg_catalog.<=) authorized",
						2, types), values, NULL, 0);
	}
	PayRestore(payment_id, amt[4]);
	PayBook(payment_id, order_id, "void", amt[4], reason, 0);
	return true;
}

/* Refund amount of a locked payment (already checked against captured). */
static void
PayRefund(int64 payment_id, int64 order_id, Datum amount, const char *reason, int64 rma_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, NUMERICOID};
	Datum		values[2] = {Int64GetDatum(payment_id), amount};

	OmsExec(OmsPlan(&plan,
					"UPDATE oms.payments SET refunded = refunded OPERATOR(pg_catalog.+) $2, updated_at = pg_catalog.now() "
					" WHERE id OPERATOR(pg_catalog.=) $1 AND refunded OPERATOR(pg_catalog.+) $2 OPERATOR(pg_catalog.<=) captured",
					2, types), values, NULL, 0);
	if (SPI_processed != 1)
		elog(ERROR, "oms: guarded refund failed under lock");
	PayRestore(payment_id, amount);
	PayBook(payment_id, order_id, "refund", amount, reason, rma_id);
}

PG_FUNCTION_INFO_V1(void_payment);
/*
 * oms.void_payment(payment_id): release what is not captured.
 */
Datum
void_payment(PG_FUNCTION_ARGS)
{
	int64		payment_id;
	int64		order_id;
	Datum		amt[6];
	Datum		result;

	OmsRequireArg(fcinfo, 0, "payment_id");
	payment_id = PG_GETARG_INT64(0);
	SPI_connect();
	order_id = PayLock(payment_id);
	PayAmounts(payment_id, amt);
	if (PayCmp(amt[4], PayZero()) == 0)
	{
		if (PayCmp(amt[1], PayZero()) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("payment " INT64_FORMAT " is captured and cannot be voided", payment_id),
					 errdetail("Authorized %s, captured %s: nothing uncaptured is left to release.", PayNum(amt[0]), PayNum(amt[1])),
					 errhint("Refund captured money with oms.refund_payment().")));
		result = PayDocument(payment_id, psprintf("payment " INT64_FORMAT " is already voided; nothing to do", payment_id));
	}
	else
	{
		PayVoid(payment_id, order_id, amt, NULL);
		result = PayDocument(payment_id, NULL);
	}
	SPI_finish();
	PG_RETURN_DATUM(result);
}

PG_FUNCTION_INFO_V1(refund_payment);
/*
 * oms.refund_payment(payment_id, amount, reason): refund captured money.
 */
Datum
refund_payment(PG_FUNCTION_ARGS)
{
	int64		payment_id;
	int64		order_id;
	Datum		amount;
	char	   *reason = NULL;
	Datum		amt[6];
	Datum		result;

	OmsRequireArg(fcinfo, 0, "payment_id");
	OmsRequireArg(fcinfo, 1, "amount");
	payment_id = PG_GETARG_INT64(0);
	amount = PayCheckAmount(PG_GETARG_DATUM(1), "amount");
	if (!PG_ARGISNULL(2))
	{
		reason = text_to_cstring(PG_GETARG_TEXT_PP(2));
		OmsCheckNoCardNumber(reason, "reason");
	}
	SPI_connect();
	order_id = PayLock(payment_id);
	PayAmounts(payment_id, amt);
	if (PayCmp(amount, amt[5]) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("refund of %s exceeds the %s refundable on payment " INT64_FORMAT, PayNum(amount), PayNum(amt[5]), payment_id),
				 errdetail("Captured %s, refunded %s: refunds never exceed what was captured.", PayNum(amt[1]), PayNum(amt[3])),
				 errhint("Refund at most the captured amount less earlier refunds.")));
	PayRefund(payment_id, order_id, amount, reason, 0);
	result = PayDocument(payment_id, NULL);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * On cancellation (order row locked by the caller): void every open
 * authorization and refund every capture. Returns a JSON array of actions.
 */
char *
PaymentsCancelOrder(int64 order_id, const char *reason)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(order_id)};
	int64	   *ids;
	int			n,
				i;
	StringInfoData out;

	OmsQuery(OmsPlan(&plan,
					 "SELECT id FROM oms.payments WHERE order_id OPERATOR(pg_catalog.=) $1 ORDER BY id FOR UPDATE",
					 1, types), values, NULL, 0);
	n = (int) SPI_processed;
	ids = palloc(sizeof(int64) * (n + 1));
	for (i = 0; i < n; i++)
		ids[i] = OmsGetInt64(i, 1, NULL);
	initStringInfo(&out);
	appendStringInfoChar(&out, '[');
	for (i = 0; i < n; i++)
	{
		Datum		amt[6];

		PayAmounts(ids[i], amt);
		if (PayVoid(ids[i], order_id, amt, reason))
			appendStringInfo(&out, "%s{\"payment_id\": " INT64_FORMAT ", \"voided\": %s}",
							 out.len > 1 ? ", " : "", ids[i], PayNum(amt[4]));
		if (PayCmp(amt[5], PayZero()) > 0)
		{
			PayRefund(ids[i], order_id, amt[5], reason, 0);
			appendStringInfo(&out, "%s{\"payment_id\": " INT64_FORMAT ", \"refunded\": %s}",
							 out.len > 1 ? ", " : "", ids[i], PayNum(amt[5]));
		}
	}
	appendStringInfoChar(&out, ']');
	return out.data;
}

/*
 * What the (locked) order's payments still hold that could be refunded:
 * captured less refunded, over all of them.
 */
Datum
PaymentsRefundable(int64 order_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(order_id)};

	OmsQuery(OmsPlan(&plan,
					 "SELECT COALESCE(pg_catalog.sum(captured OPERATOR(pg_catalog.-) refunded), 0) FROM oms.payments "
					 " WHERE order_id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	return OmsGetDatum(0, 1, NULL);
}

/*
 * Refund amount of a locked order over its payments, through the one
 * refund path (PayRefund): stored value first (gift cards and store
 * credit go back to their balance, which the customer can spend at once),
 * then cards, then the rest, each oldest first and up to its captured less
 * refunded. More than the payments hold is refused (22023). Returns a JSON
 * array of the refunds made.
 */
char *
PaymentsRefundOrder(int64 order_id, Datum amount, const char *reason, int64 rma_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(order_id)};
	int64	   *ids;
	Datum	   *left;
	Datum		total = PayZero();
	Datum		rest = amount;
	int			n,
				i;
	StringInfoData out;

	OmsQuery(OmsPlan(&plan,
					 "SELECT id, captured OPERATOR(pg_catalog.-) refunded FROM oms.payments "
					 " WHERE order_id OPERATOR(pg_catalog.=) $1 AND captured OPERATOR(pg_catalog.>) refunded "
					 " ORDER BY CASE method WHEN 'gift_card' THEN 0 WHEN 'store_credit' THEN 0 WHEN 'card' THEN 1 ELSE 2 END, id "
					 "   FOR UPDATE",
					 1, types), values, NULL, 0);
	n = (int) SPI_processed;
	ids = palloc(sizeof(int64) * (n + 1));
	left = palloc(sizeof(Datum) * (n + 1));
	for (i = 0; i < n; i++)
	{
		ids[i] = OmsGetInt64(i, 1, NULL);
		left[i] = SPI_datumTransfer(OmsGetDatum(i, 2, NULL), false, -1);
		total = DirectFunctionCall2(numeric_add, total, left[i]);
	}
	if (PayCmp(amount, total) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("refund of %s exceeds the %s refundable on order " INT64_FORMAT, PayNum(amount), PayNum(total), order_id),
				 errdetail("The order's payments captured %s more than they refunded; refunds never exceed what was captured.",
						   PayNum(total)),
				 errhint("Capture the payment first, or refund less.")));
	initStringInfo(&out);
	appendStringInfoChar(&out, '[');
	for (i = 0; i < n && PayCmp(rest, PayZero()) > 0; i++)
	{
		Datum		take = PayCmp(rest, left[i]) < 0 ? rest : left[i];

		PayRefund(ids[i], order_id, take, reason, rma_id);
		appendStringInfo(&out, "%s{\"payment_id\": " INT64_FORMAT ", \"refunded\": %s}",
						 out.len > 1 ? ", " : "", ids[i], PayNum(take));
		rest = DirectFunctionCall2(numeric_sub, rest, take);
	}
	appendStringInfoChar(&out, ']');
	return out.data;
}

/* ---- stored value ---- */

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

	OmsRequireArg(fcinfo, 0, "code");
	OmsRequireArg(fcinfo, 1, "amount");
	OmsRequireArg(fcinfo, 2, "currency");
	code = text_to_cstring(PG_GETARG_TEXT_PP(0));
	amount = PayCheckAmount(PG_GETARG_DATUM(1), "amount");
	currency = text_to_cstring(PG_GETARG_TEXT_PP(2));
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
	bytea	   *hash = PayCodeHash(text_to_cstring(PG_GETARG_TEXT_PP(0)), NULL);
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
	{
		Oid			types[3] = {INT8OID, TEXTOID, NUMERICOID};
		Datum		values[3] = {Int64GetDatum(customer_id), CStringGetTextDatum(currency), amount};

		OmsExec(OmsPlan(&plan,
						"INSERT INTO oms.gift_cards AS g (kind, customer_id, currency, issued, balance) "
						"VALUES ('store_credit', $1, $2, $3, $3) "
						"ON CONFLICT (customer_id, currency) WHERE kind OPERATOR(pg_catalog.=) 'store_credit' "
						"DO UPDATE SET issued = g.issued OPERATOR(pg_catalog.+) excluded.issued, "
						"              balance = g.balance OPERATOR(pg_catalog.+) excluded.balance "
						"RETURNING pg_catalog.jsonb_build_object('store_credit_id', g.id, 'customer_id', g.customer_id, "
						"          'currency', g.currency, 'balance', g.balance)",
						3, types), values, NULL, 1);
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
	OmsRequireArg(fcinfo, 2, "currency");
	customer_id = PG_GETARG_INT64(0);
	amount = PG_GETARG_DATUM(1);
	currency = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (!PG_ARGISNULL(3))
	{
		reason = text_to_cstring(PG_GETARG_TEXT_PP(3));
		OmsCheckNoCardNumber(reason, "reason");
	}
	amount = PayCheckAmount(amount, "amount");
	PayCheckCurrency(currency);

	SPI_connect();
	result = SPI_datumTransfer(PaymentsIssueStoreCredit(customer_id, amount, currency, reason, 0, 0), false, -1);
	SPI_finish();
	PG_RETURN_DATUM(result);
}
