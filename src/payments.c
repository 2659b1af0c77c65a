/*-------------------------------------------------------------------------
 *
 * payments.c
 *	  Payments with provider tokens only: the shared helpers (lock, book,
 *	  document), capture, void and refund (oms.capture_payment,
 *	  oms.void_payment, oms.refund_payment), and what other areas call:
 *	  the payments of a cancelled order (PaymentsCancelOrder) and refunds
 *	  over an order's payments (PaymentsRefundable, PaymentsRefundOrder).
 *	  The other files of payments, with the helpers here declared in
 *	  payments.h:
 *	    payment_authorize.c  oms.authorize_payment (in named steps)
 *	    stored_value.c       gift cards and store credit
 *	  This banner states the rules they share.
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
 *	  One money path: every refund-like action of an order (a refund to any
 *	  payment, store credit issued for it, returned value applied to an
 *	  exchange) passes PaymentsMoneyOut, which locks and writes the order
 *	  row and refuses (22023) when refunds + store credit + exchange credit
 *	  would exceed what the order's payments captured.
 *
 *	  Only the SHA-256 of a gift card code is stored (stored_value.c). Card
 *	  numbers are never stored: token, reference and brand pass the PAN
 *	  guard, and so do reasons.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "oms.h"
#include "payments.h"

/* ---- helpers ---- */

Datum
PayZero(void)
{
	return DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
}

char *
PayNum(Datum d)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, d));
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

/* Book one payment action: journal entry, transaction row and outbox event. */
void
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

Datum
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

int
PayCmp(Datum a, Datum b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, a, b));
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

/* ---- the one money path ---- */

static const char *const pay_out_names[] = {"refund", "store credit", "exchange credit"};
static const char *const pay_out_kinds[] = {NULL, "store_credit", "exchange"};

/*
 * The one money path. Every refund-like action of an order passes here
 * before it moves anything: a refund to any of its payments (PayRefund:
 * refund_payment, the refunds of a cancellation and of refund_rma), store
 * credit issued for it (PaymentsIssueStoreCredit with an order), and the
 * value of returned units applied to an exchange (refund_rma). It
 *   1. locks the order row, and writes it (LifecycleTouchOrder): the order
 *      is the serialisation point, taken before payment rows and stored
 *      value accounts (the lock order of the banner); the write makes a
 *      REPEATABLE READ or SERIALIZABLE caller whose snapshot predates
 *      another money-out of the order fail with 40001 instead of deciding
 *      from stale sums;
 *   2. sums what the order captured and what already left it: refunds
 *      (payments.refunded) plus store credit and exchange credit
 *      (oms.money_out);
 *   3. refuses (22023, naming the order, with the three numbers) when
 *      already out + amount > captured;
 *   4. records the money-out in oms.money_out (refunds are recorded by the
 *      refund itself: payments.refunded and a payment_transactions row).
 * oms.check() states the same bound per order (order_money_out).
 */
void
PaymentsMoneyOut(int64 order_id, PaymentsMoneyKind kind, Datum amount, int64 rma_id)
{
	static SPIPlanPtr plan_sum = NULL;
	static SPIPlanPtr plan_rec = NULL;
	Datum		captured;
	Datum		refunds;
	Datum		credit;
	Datum		exchange;
	Datum		out;

	(void) LifecycleLockOrder(order_id, NULL);
	LifecycleTouchOrder(order_id);
	{
		Oid			types[1] = {INT8OID};
		Datum		values[1] = {Int64GetDatum(order_id)};

		OmsQuery(OmsPlan(&plan_sum,
						 "SELECT COALESCE((SELECT pg_catalog.sum(p.captured) FROM oms.payments p WHERE p.order_id OPERATOR(pg_catalog.=) $1), 0), "
						 "       COALESCE((SELECT pg_catalog.sum(p.refunded) FROM oms.payments p WHERE p.order_id OPERATOR(pg_catalog.=) $1), 0), "
						 "       COALESCE((SELECT pg_catalog.sum(m.amount) FROM oms.money_out m "
						 "                  WHERE m.order_id OPERATOR(pg_catalog.=) $1 AND m.kind OPERATOR(pg_catalog.=) 'store_credit'), 0), "
						 "       COALESCE((SELECT pg_catalog.sum(m.amount) FROM oms.money_out m "
						 "                  WHERE m.order_id OPERATOR(pg_catalog.=) $1 AND m.kind OPERATOR(pg_catalog.=) 'exchange'), 0)",
						 1, types), values, NULL, 1);
	}
	captured = SPI_datumTransfer(OmsGetDatum(0, 1, NULL), false, -1);
	refunds = SPI_datumTransfer(OmsGetDatum(0, 2, NULL), false, -1);
	credit = SPI_datumTransfer(OmsGetDatum(0, 3, NULL), false, -1);
	exchange = SPI_datumTransfer(OmsGetDatum(0, 4, NULL), false, -1);
	out = DirectFunctionCall2(numeric_add, refunds, DirectFunctionCall2(numeric_add, credit, exchange));
	if (PayCmp(DirectFunctionCall2(numeric_add, out, amount), captured) > 0)
	{
		Datum		left = DirectFunctionCall2(numeric_sub, captured, out);

		if (PayCmp(left, PayZero()) < 0)
			left = PayZero();
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s of %s exceeds the %s order " INT64_FORMAT " can still pay out",
						pay_out_names[kind], PayNum(amount), PayNum(left), order_id),
				 errdetail("Order " INT64_FORMAT " captured %s and %s is already out (refunds %s, store credit %s, exchange credit %s); %s was asked. "
						   "Refunds, store credit and exchange credit of an order together never exceed what its payments captured.",
						   order_id, PayNum(captured), PayNum(out), PayNum(refunds), PayNum(credit), PayNum(exchange), PayNum(amount)),
				 errhint("Pay out at most what is left, or capture more first.")));
	}
	if (kind != PAY_OUT_REFUND)
	{
		Oid			types[4] = {INT8OID, TEXTOID, NUMERICOID, INT8OID};
		Datum		values[4] = {Int64GetDatum(order_id), CStringGetTextDatum(pay_out_kinds[kind]), amount, Int64GetDatum(rma_id)};
		char		nulls[4] = {' ', ' ', ' ', rma_id ? ' ' : 'n'};

		OmsExec(OmsPlan(&plan_rec,
						"INSERT INTO oms.money_out (order_id, kind, amount, rma_id) VALUES ($1, $2, $3, $4)",
						4, types), values, nulls, 0);
	}
}

/*
 * Refund amount of a locked payment (already checked against captured),
 * through the one money path (PaymentsMoneyOut).
 */
static void
PayRefund(int64 payment_id, int64 order_id, Datum amount, const char *reason, int64 rma_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, NUMERICOID};
	Datum		values[2] = {Int64GetDatum(payment_id), amount};

	PaymentsMoneyOut(order_id, PAY_OUT_REFUND, amount, rma_id);
	OmsExec(OmsPlan(&plan,
					"UPDATE oms.payments SET refunded = refunded OPERATOR(pg_catalog.+) $2, updated_at = pg_catalog.now() "
					" WHERE id OPERATOR(pg_catalog.=) $1 AND refunded OPERATOR(pg_catalog.+) $2 OPERATOR(pg_catalog.<=) captured",
					2, types), values, NULL, 0);
	if (SPI_processed != 1)
		elog(ERROR, "oms: guarded refund failed under lock");
	PayRestore(payment_id, amount);
	PayBook(payment_id, order_id, "refund", amount, reason, rma_id);
}

/*
 * Coverage of a void
 * ------------------
 * Coverage is defined in src/lifecycle.c (banner, "Coverage"): a status
 * that may ship (LCAP_SHIPPABLE: confirmed, in_fulfillment,
 * partially_shipped) promises that the order's payments (authorized -
 * voided) reach its total, or that its customer is on payment terms; for a
 * held order the status it returns to (held_from) is the one that counts.
 * Terms are read (under the customer row's share lock) only when the void
 * would leave the payments short. A void that leaves such
 * an order uncovered, decided under the order lock before anything is
 * written:
 *   - moves it back to awaiting payment: pending_payment, or backordered
 *     when units wait for stock (placement's rule), through the status
 *     trigger with the reason "payment N voided: no longer covered"; a held
 *     order keeps its hold and returns to that status on release. Its
 *     reservations expire again after the order's hold_minutes, as a new
 *     unpaid order's do.
 *   - is refused (55000) when no transition leads there from the status,
 *     or when units have shipped (whatever the status, unless terminal):
 *     in the seeded lifecycle that is an order in fulfillment or shipped
 *     (in_fulfillment, partially_shipped, shipped, delivered, ...). The
 *     warehouse picks, and the goods leave, on the promise of payment;
 *     cancel the order (which cancels its pending shipments and voids
 *     everything), or capture the payment.
 */
typedef struct PayCoverage
{
	char	   *status;
	char	   *held_from;		/* NULL: not on hold */
	Datum		total;
	Datum		held;			/* sum of authorized - voided */
	int64		customer_id;	/* 0: a guest */
	bool		waits;			/* some units are backordered */
	bool		shipped;		/* some units have shipped */
} PayCoverage;

/* the coverage of a locked order */
static void
PayCoverageOf(int64 order_id, PayCoverage *c)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(order_id)};
	bool		isnull;

	OmsQuery(OmsPlan(&plan,
					 "SELECT o.status, o.held_from, o.total, "
					 "       COALESCE((SELECT pg_catalog.sum(p.authorized OPERATOR(pg_catalog.-) p.voided) FROM oms.payments p "
					 "                  WHERE p.order_id OPERATOR(pg_catalog.=) o.id), 0), "
					 "       COALESCE(o.customer_id, 0), "
					 "       EXISTS (SELECT FROM oms.order_lines l WHERE l.order_id OPERATOR(pg_catalog.=) o.id "
					 "                  AND l.qty_backordered OPERATOR(pg_catalog.>) 0), "
					 "       EXISTS (SELECT FROM oms.order_lines l WHERE l.order_id OPERATOR(pg_catalog.=) o.id "
					 "                  AND l.qty_shipped OPERATOR(pg_catalog.>) 0) "
					 "  FROM oms.orders o WHERE o.id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	c->status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	c->held_from = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	c->total = SPI_datumTransfer(OmsGetDatum(0, 3, NULL), false, -1);
	c->held = SPI_datumTransfer(OmsGetDatum(0, 4, NULL), false, -1);
	c->customer_id = OmsGetInt64(0, 5, &isnull);
	c->waits = DatumGetBool(OmsGetDatum(0, 6, NULL));
	c->shipped = DatumGetBool(OmsGetDatum(0, 7, NULL));
}

/*
 * Before voiding amount of payment_id: the status the order must go back
 * to (NULL: none, it stays covered or does not promise coverage), or 55000
 * when it cannot go back. The banner above gives the rule.
 */
static const char *
PayVoidTarget(int64 order_id, int64 payment_id, Datum amount, PayCoverage *c)
{
	const char *promise;
	const char *target;
	Datum		after;

	PayCoverageOf(order_id, c);
	promise = c->held_from ? c->held_from : c->status;
	if (LifecycleAllows(promise, LCAP_TERMINAL) ||
		(!LifecycleAllows(promise, LCAP_SHIPPABLE) && !c->shipped))
		return NULL;
	after = DirectFunctionCall2(numeric_sub, c->held, amount);
	if (PayCmp(after, c->total) >= 0 || LifecycleOnTerms(c->customer_id))
		return NULL;
	target = c->waits ? "backordered" : "pending_payment";
	if (c->shipped || !LifecycleAllowed(promise, target))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("payment " INT64_FORMAT " cannot be voided: order " INT64_FORMAT " is %s and would no longer be covered",
						payment_id, order_id, promise),
				 errdetail("The order total is %s; its payments hold %s, and %s after this void. %s",
						   PayNum(c->total), PayNum(c->held), PayNum(after),
						   c->shipped ? "Units of the order have shipped." :
						   psprintf("No transition leads from %s back to %s.", promise, target)),
				 errhint("Capture the payment to go on fulfilling the order, or cancel the order with oms.cancel_order().")));
	return target;
}

/*
 * After the void: move the (locked) order back to target, or for a held
 * order the status its release returns to; its reservations expire again.
 */
static void
PayUncover(int64 order_id, int64 payment_id, const char *target, PayCoverage *c)
{
	static SPIPlanPtr plan_expiry = NULL;
	static SPIPlanPtr plan_held = NULL;
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2] = {Int64GetDatum(order_id), CStringGetTextDatum(target)};
	char	   *reason = psprintf("payment " INT64_FORMAT " voided: no longer covered", payment_id);

	if (c->held_from == NULL)
		LifecycleChange(order_id, target, reason, false);
	else
	{
		StringInfoData payload;

		OmsExec(OmsPlan(&plan_held,
						"UPDATE oms.orders SET held_from = $2 WHERE id OPERATOR(pg_catalog.=) $1",
						2, types), values, NULL, 0);
		/* the status is unchanged (on_hold): the trigger writes nothing, so say it */
		initStringInfo(&payload);
		appendStringInfo(&payload, "{\"from\": \"on_hold\", \"to\": \"on_hold\", \"held_from\": \"%s\", \"reason\": ", target);
		escape_json(&payload, reason);
		appendStringInfoChar(&payload, '}');
		EventsEmit("order_unconfirmed", order_id, payload.data);
	}
	/* as placement sets it for a new unpaid order */
	OmsExec(OmsPlan(&plan_expiry,
					"UPDATE oms.orders SET expires_at = CASE WHEN hold_minutes OPERATOR(pg_catalog.>) 0 "
					"       THEN pg_catalog.now() OPERATOR(pg_catalog.+) pg_catalog.make_interval(mins => hold_minutes) END "
					" WHERE id OPERATOR(pg_catalog.=) $1",
					1, types), values, NULL, 0);
}

PG_FUNCTION_INFO_V1(void_payment);
/*
 * oms.void_payment(payment_id): release what is not captured; an order the
 * void leaves uncovered goes back to awaiting payment (see "Coverage of a
 * void" above).
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
		PayCoverage cov;
		const char *target = PayVoidTarget(order_id, payment_id, amt[4], &cov);

		PayVoid(payment_id, order_id, amt, NULL);
		if (target)
			PayUncover(order_id, payment_id, target, &cov);
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
		OmsCheckFreeText(reason, "reason", OMS_MAX_REASON_CHARS);
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
 * After an edit lowered a (locked) order's total: void the open
 * authorizations the order no longer needs, newest first. A payment's
 * uncaptured remainder is voided whole (void_payment's unit) and only while
 * the other payments (authorized - voided) still reach the total, so that
 * coverage holds. Returns a JSON array of the voids.
 */
char *
PaymentsVoidSurplus(int64 order_id, Datum total, const char *reason)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_held = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(order_id)};
	int64	   *ids;
	Datum		held;
	int			n,
				i;
	StringInfoData out;

	OmsQuery(OmsPlan(&plan,
					 "SELECT id FROM oms.payments WHERE order_id OPERATOR(pg_catalog.=) $1 "
					 "   AND authorized OPERATOR(pg_catalog.>) (captured OPERATOR(pg_catalog.+) voided) "
					 " ORDER BY id DESC FOR UPDATE",
					 1, types), values, NULL, 0);
	n = (int) SPI_processed;
	ids = palloc(sizeof(int64) * (n + 1));
	for (i = 0; i < n; i++)
		ids[i] = OmsGetInt64(i, 1, NULL);
	OmsQuery(OmsPlan(&plan_held,
					 "SELECT COALESCE(pg_catalog.sum(authorized OPERATOR(pg_catalog.-) voided), 0) FROM oms.payments "
					 " WHERE order_id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	held = SPI_datumTransfer(OmsGetDatum(0, 1, NULL), false, -1);
	initStringInfo(&out);
	appendStringInfoChar(&out, '[');
	for (i = 0; i < n; i++)
	{
		Datum		amt[6];
		Datum		after;

		PayAmounts(ids[i], amt);
		after = DirectFunctionCall2(numeric_sub, held, amt[4]);
		if (PayCmp(after, total) < 0)
			continue;
		if (PayVoid(ids[i], order_id, amt, reason))
		{
			held = after;
			appendStringInfo(&out, "%s{\"payment_id\": " INT64_FORMAT ", \"voided\": %s}",
							 out.len > 1 ? ", " : "", ids[i], PayNum(amt[4]));
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
