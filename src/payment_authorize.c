/*-------------------------------------------------------------------------
 *
 * payment_authorize.c
 *	  oms.authorize_payment: record an authorization of a payment method
 *	  (provider token, gift card, store credit, invoice, check or cash).
 *
 *	  authorize_payment, step by step
 *	  -------------------------------
 *	  The SQL entry authorize_payment() reads as this list; the steps share
 *	  a PayAuth.
 *	  1. PayAuthParse: the payment document, before touching any table;
 *	     every problem is a 22023 naming the field. Card numbers never get
 *	     in: card payments send the provider's token.
 *	  2. PayAuthLockOrder: lock and write the order row, then read in a
 *	     statement of its own what is already authorized: after waiting for
 *	     a concurrent authorization only a new snapshot sees its payment.
 *	  3. PayAuthCheckOrder: the order takes payments (LCAP_PAYABLE), in its
 *	     own currency, up to its open amount; invoices need payment terms.
 *	  4. PayAuthSpendStoredValue: a gift card or store credit is spent with
 *	     a guarded update (balance >= amount), which two spends cannot both
 *	     pass.
 *	  5. PayAuthInsert: the payment row.
 *	  6. PayAuthBook: the authorize transaction, its journal entry and the
 *	     payment_authorized event (PayBook).
 *	  7. PayAuthConfirmOrder: when the order's total is covered, an order
 *	     awaiting payment is confirmed and its reservations stop expiring;
 *	     a held one is confirmed when its hold is released.
 *	  It returns the payment document.
 *
 *	  Locking as in payments.c: the order row, then stored-value accounts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "oms.h"
#include "payments.h"

/* the working state of one authorize_payment() call, filled step by step */
typedef struct PayAuth
{
	/* PayAuthParse */
	int64		order_id;
	char	   *method;
	Datum		amount;			/* numeric */
	char	   *currency;		/* NULL: the order's */
	char	   *token;
	char	   *psp;
	char	   *brand;
	char	   *last4;
	int32		exp_month;		/* 0: none */
	int32		exp_year;		/* 0: none */
	char	   *code;			/* gift card code */
	/* PayAuthLockOrder */
	char	   *status;
	char	   *held_from;		/* NULL: not on hold */
	char	   *order_currency;
	bool		terms;
	bool		has_customer;
	int64		customer_id;
	bool		over;			/* amount > open amount */
	bool		covered;		/* amount >= open amount */
	char	   *open_amount;
	/* PayAuthSpendStoredValue */
	int64		account_id;		/* 0: none */
	/* PayAuthInsert */
	int64		payment_id;
} PayAuth;

static void PayAuthParse(FunctionCallInfo fcinfo, PayAuth *a);
static void PayAuthLockOrder(PayAuth *a);
static void PayAuthCheckOrder(PayAuth *a);
static void PayAuthSpendStoredValue(PayAuth *a);
static void PayAuthInsert(PayAuth *a);
static void PayAuthBook(PayAuth *a);
static void PayAuthConfirmOrder(PayAuth *a);

PG_FUNCTION_INFO_V1(authorize_payment);
/*
 * oms.authorize_payment(order_id, payment jsonb): record an authorization,
 * by the steps in the banner, in that order.
 */
Datum
authorize_payment(PG_FUNCTION_ARGS)
{
	PayAuth		a;
	Datum		result;

	memset(&a, 0, sizeof(a));
	PayAuthParse(fcinfo, &a);

	SPI_connect();
	PayAuthLockOrder(&a);
	PayAuthCheckOrder(&a);
	PayAuthSpendStoredValue(&a);
	PayAuthInsert(&a);
	PayAuthBook(&a);
	PayAuthConfirmOrder(&a);
	result = PayDocument(a.payment_id, NULL);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/* 1. the payment document */
static void
PayAuthParse(FunctionCallInfo fcinfo, PayAuth *a)
{
	static const char *const keys[] = {"method", "amount", "currency", "token", "psp_reference", "brand",
	"last4", "exp_month", "exp_year", "gift_card_code", NULL};
	Jsonb	   *doc;
	JsonbContainer *root;
	JsonbValue	buf;
	JsonbValue *v;

	OmsRequireArg(fcinfo, 0, "order_id");
	OmsRequireArg(fcinfo, 1, "payment");
	a->order_id = PG_GETARG_INT64(0);
	doc = PG_GETARG_JSONB_P(1);
	JsonDocument = "payment";
	root = &doc->root;
	if (!JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
		JsonInvalid("document", "The payment must be a JSON object.",
					"Send {\"method\": ..., \"amount\": ..., ...}.");
	JsonCheckKeys(root, keys, "the payment");
	if ((v = JsonGet(root, "method", &buf)) == NULL)
		JsonInvalid("method", "The key method is required.", "Use card, gift_card, store_credit, invoice, check, cash or bank_transfer.");
	a->method = JsonString(v, "method", 32, true);
	if (strcmp(a->method, "card") != 0 && strcmp(a->method, "gift_card") != 0 && strcmp(a->method, "store_credit") != 0 &&
		strcmp(a->method, "invoice") != 0 && strcmp(a->method, "check") != 0 && strcmp(a->method, "cash") != 0 &&
		strcmp(a->method, "bank_transfer") != 0)
		JsonInvalid("method", psprintf("method must be card, gift_card, store_credit, invoice, check, cash or bank_transfer, not \"%s\".", a->method),
					"Card payments send the provider's token, never the card number.");
	if ((v = JsonGet(root, "amount", &buf)) == NULL)
		JsonInvalid("amount", "The key amount is required.", "Give the amount to authorize.");
	a->amount = JsonMoney(v, "amount");
	if (PayCmp(a->amount, PayZero()) <= 0)
		JsonInvalid("amount", "amount must be greater than 0.", "Give the amount to authorize.");
	if ((v = JsonGet(root, "currency", &buf)) != NULL)
		a->currency = JsonString(v, "currency", 3, true);
	if ((v = JsonGet(root, "token", &buf)) != NULL)
	{
		a->token = JsonString(v, "token", 200, true);
		OmsCheckNoCardNumber(a->token, "token");
	}
	if ((v = JsonGet(root, "psp_reference", &buf)) != NULL)
	{
		a->psp = JsonString(v, "psp_reference", 200, true);
		OmsCheckNoCardNumber(a->psp, "psp_reference");
	}
	if ((v = JsonGet(root, "brand", &buf)) != NULL)
	{
		a->brand = JsonString(v, "brand", 32, true);
		OmsCheckNoCardNumber(a->brand, "brand");
	}
	if ((v = JsonGet(root, "last4", &buf)) != NULL)
	{
		a->last4 = JsonString(v, "last4", 4, true);
		if (strlen(a->last4) != 4 || strspn(a->last4, "0123456789") != 4)
			JsonInvalid("last4", psprintf("last4 must be the last four digits of the card, not \"%s\".", a->last4),
						"Send exactly four digits as a string, for example \"4242\".");
	}
	if ((v = JsonGet(root, "exp_month", &buf)) != NULL)
		a->exp_month = JsonInt(v, "exp_month", 1, 12, "Months are 1 to 12.");
	if ((v = JsonGet(root, "exp_year", &buf)) != NULL)
		a->exp_year = JsonInt(v, "exp_year", 2000, 2100, "Give the four-digit year.");
	if ((v = JsonGet(root, "gift_card_code", &buf)) != NULL)
		a->code = JsonString(v, "gift_card_code", OMS_MAX_GIFT_CARD_CODE_CHARS, true);
	if (strcmp(a->method, "card") == 0 && a->token == NULL)
		JsonInvalid("token", "A card payment needs the payment provider's token.",
					"Tokenize the card with your payment provider and send the token; never the card number.");
	if (strcmp(a->method, "gift_card") == 0 && a->code == NULL)
		JsonInvalid("gift_card_code", "A gift card payment needs gift_card_code.", "Send the code printed on the card.");
	if (strcmp(a->method, "card") != 0 && (a->token || a->last4 || a->brand || a->exp_month || a->exp_year))
		JsonInvalid("method", psprintf("token, brand, last4 and expiry belong to card payments, not %s.", a->method),
					"Leave the card fields out.");
}

/*
 * 2. Lock (and write) the order first, then read what is authorized in a
 * statement of its own: after waiting for a concurrent authorization only
 * a new snapshot sees its payment.
 */
static void
PayAuthLockOrder(PayAuth *a)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, NUMERICOID};
	Datum		values[2];
	bool		isnull;

	(void) LifecycleLockOrder(a->order_id, &a->held_from);
	LifecycleTouchOrder(a->order_id);
	values[0] = Int64GetDatum(a->order_id);
	values[1] = a->amount;
	OmsQuery(OmsPlan(&plan,
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
		OmsOrderNotFound(a->order_id);
	a->status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	a->order_currency = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	a->terms = DatumGetBool(OmsGetDatum(0, 3, NULL));
	a->customer_id = OmsGetInt64(0, 4, &isnull);
	a->has_customer = !isnull;
	a->over = DatumGetBool(OmsGetDatum(0, 5, NULL));
	a->covered = DatumGetBool(OmsGetDatum(0, 6, NULL));
	a->open_amount = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7);
}

/* 3. the order takes this payment */
static void
PayAuthCheckOrder(PayAuth *a)
{
	if (!LifecycleAllows(a->status, LCAP_PAYABLE))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order " INT64_FORMAT " takes no payments: it is %s", a->order_id, a->status),
				 errdetail("Payments are authorized for open orders only."),
				 errhint("Place a new order.")));
	if (a->currency && strcmp(a->currency, a->order_currency) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid payment: currency %s differs from the order's %s", a->currency, a->order_currency),
				 errdetail("A payment is always in its order's currency."),
				 errhint("Convert the amount on the provider's side, or leave currency out.")));
	if (a->over)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid payment: amount %s exceeds the open amount %s of order " INT64_FORMAT,
						PayNum(a->amount), a->open_amount, a->order_id),
				 errdetail("The order total less what is already authorized is the most that can be authorized."),
				 errhint("Authorize at most the open amount.")));
	if (strcmp(a->method, "invoice") == 0 && !a->terms)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid payment: order " INT64_FORMAT " is not on payment terms", a->order_id),
				 errdetail("Invoice payments are for customers flagged terms."),
				 errhint("Add the flag terms to the customer, or use another method.")));
}

/* 4. stored value: spend it with a guarded update */
static void
PayAuthSpendStoredValue(PayAuth *a)
{
	static SPIPlanPtr plan_spend = NULL;
	static SPIPlanPtr plan_account = NULL;
	Oid			types[4] = {BYTEAOID, INT8OID, TEXTOID, NUMERICOID};
	Datum		values[4];
	char		nulls[4] = "    ";
	bool		gift;

	if (strcmp(a->method, "gift_card") != 0 && strcmp(a->method, "store_credit") != 0)
		return;
	gift = strcmp(a->method, "gift_card") == 0;
	if (!gift && !a->has_customer)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid payment: order " INT64_FORMAT " has no customer to take store credit from", a->order_id),
				 errdetail("Store credit belongs to a customer; guest orders have none."),
				 errhint("Use another method.")));
	if (gift)
	{
		values[0] = PointerGetDatum(PayCodeHash(a->code, NULL));
		nulls[1] = 'n';
		values[1] = (Datum) 0;
	}
	else
	{
		nulls[0] = 'n';
		values[0] = (Datum) 0;
		values[1] = Int64GetDatum(a->customer_id);
	}
	values[2] = CStringGetTextDatum(a->order_currency);
	values[3] = a->amount;
	OmsExec(OmsPlan(&plan_spend,
					"UPDATE oms.gift_cards SET balance = balance OPERATOR(pg_catalog.-) $4 "
					" WHERE (code_hash OPERATOR(pg_catalog.=) $1 OR (kind OPERATOR(pg_catalog.=) 'store_credit' AND customer_id OPERATOR(pg_catalog.=) $2)) "
					"   AND currency OPERATOR(pg_catalog.=) $3 AND active AND balance OPERATOR(pg_catalog.>=) $4 "
					"RETURNING id",
					4, types), values, nulls, 1);
	if (SPI_processed == 1)
	{
		a->account_id = OmsGetInt64(0, 1, NULL);
		return;
	}
	/* refused: say why */
	OmsQuery(OmsPlan(&plan_account,
					 "SELECT currency, active, balance::text FROM oms.gift_cards "
					 " WHERE code_hash OPERATOR(pg_catalog.=) $1 OR (kind OPERATOR(pg_catalog.=) 'store_credit' "
					 "       AND customer_id OPERATOR(pg_catalog.=) $2 AND currency OPERATOR(pg_catalog.=) $3) "
					 " ORDER BY id LIMIT 1",
					 3, types), values, nulls, 1);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg(gift ? "unknown gift card" : "customer has no store credit in %s", a->order_currency),
				 errdetail(gift ? "No gift card has this code." : "No store credit account exists for this customer and currency."),
				 errhint(gift ? "Check the code as printed on the card." : "Issue store credit with oms.issue_store_credit().")));
	if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), a->order_currency) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid payment: the gift card is in %s, the order in %s",
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), a->order_currency),
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
					   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3), PayNum(a->amount)),
			 errhint("Authorize at most the balance and pay the rest with another method.")));
}

/* 5. the payment row */
static void
PayAuthInsert(PayAuth *a)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[11] = {INT8OID, TEXTOID, TEXTOID, NUMERICOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	INT4OID, INT4OID, INT8OID};
	Datum		values[11];
	char		nulls[11];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(a->order_id);
	values[1] = CStringGetTextDatum(a->method);
	values[2] = CStringGetTextDatum(a->order_currency);
	values[3] = a->amount;
#define PAY_OPT(i, s) do { if (s) values[i] = CStringGetTextDatum(s); else nulls[i] = 'n'; } while (0)
	PAY_OPT(4, a->token);
	PAY_OPT(5, a->psp);
	PAY_OPT(6, a->brand);
	PAY_OPT(7, a->last4);
#undef PAY_OPT
	values[8] = Int32GetDatum(a->exp_month);
	nulls[8] = a->exp_month ? ' ' : 'n';
	values[9] = Int32GetDatum(a->exp_year);
	nulls[9] = a->exp_year ? ' ' : 'n';
	values[10] = Int64GetDatum(a->account_id);
	nulls[10] = a->account_id ? ' ' : 'n';
	OmsExec(OmsPlan(&plan,
					"INSERT INTO oms.payments (order_id, method, currency, authorized, token, psp_reference, card_brand, "
					"       card_last4, card_exp_month, card_exp_year, gift_card_id) "
					"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
					11, types), values, nulls, 1);
	a->payment_id = OmsGetInt64(0, 1, NULL);
}

/* 6. the transaction, its journal entry and the event */
static void
PayAuthBook(PayAuth *a)
{
	PayBook(a->payment_id, a->order_id, "authorize", a->amount, NULL, 0);
}

/*
 * 7. Covered: an order awaiting payment is confirmed and its reservations
 * stop expiring. Awaiting payment is what the capabilities say of
 * pending_payment and backordered: it holds stock and takes payments but
 * may not ship yet. A held order (held_from is set exactly while an order
 * is on hold, which no capability says) stays held, and is confirmed when
 * the hold is released if it was held while awaiting payment.
 */
static void
PayAuthConfirmOrder(PayAuth *a)
{
	static SPIPlanPtr plan_held = NULL;

	if (!a->covered)
		return;
	if (a->held_from == NULL)
	{
		if (LifecycleAllows(a->status, LCAP_HOLDS_STOCK) && LifecycleAllows(a->status, LCAP_PAYABLE) &&
			!LifecycleAllows(a->status, LCAP_SHIPPABLE))
			LifecycleChange(a->order_id, "confirmed", "payment authorized", true);
	}
	else
	{
		Oid			types[1] = {INT8OID};
		Datum		values[1] = {Int64GetDatum(a->order_id)};

		OmsExec(OmsPlan(&plan_held,
						"UPDATE oms.orders o SET held_from = 'confirmed', expires_at = NULL "
						" WHERE o.id OPERATOR(pg_catalog.=) $1 "
						"   AND EXISTS (SELECT FROM oms.order_statuses s WHERE s.status OPERATOR(pg_catalog.=) o.held_from "
						"                  AND s.holds_stock AND s.payable AND NOT s.shippable)",
						1, types), values, NULL, 0);
		/* the customer hears of the confirmation now; the release is quiet */
		if (SPI_processed == 1)
			EventsEmit("order_confirmed", a->order_id,
					   "{\"from\": \"on_hold\", \"to\": \"on_hold\", \"reason\": \"payment authorized while on hold; released to confirmed\"}");
	}
}
