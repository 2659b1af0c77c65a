/*-------------------------------------------------------------------------
 *
 * order_actions.c
 *	  The order actions a caller asks for by order id: oms.cancel_order
 *	  (OrdersCancel), oms.set_order_status, oms.hold_order and
 *	  oms.release_hold. Each locks the order row first
 *	  (LifecycleLockOrder), changes it through src/lifecycle.c, whose
 *	  trigger checks every change against oms.order_transitions, and
 *	  answers with the order document (src/order_document.c).
 *
 *	  Cancelling orchestrates the areas above orders: it cancels the
 *	  order's open shipments (src/fulfillment.c), releases its stock
 *	  (src/order_release.c) and voids or refunds its payments
 *	  (src/payments.c). That is why this file sits on top of them, and why
 *	  lifecycle.c, below the orders, holds none of these functions. Their
 *	  SQL declarations are in src/lifecycle.sql (set_order_status,
 *	  hold_order, release_hold) and src/orders.sql (cancel_order).
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

#include "orders.h"

/*
 * Cancel an order (the caller is connected to SPI): release its stock and
 * backorders, void open authorizations, refund captures, and move it to
 * cancelled through the lifecycle trigger. Returns the order document with
 * what was done; a cancelled or expired order is left alone and says so.
 */
static Datum
OrdersCancel(int64 order_id, const char *reason)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	char	   *status;
	int64		shipped;
	int			released;
	char	   *filled = NULL;
	char	   *payments;
	Datum		doc;

	/*
	 * Lock first, then count what shipped in a statement of its own: after
	 * waiting for the lock (a concurrent ship) only a new snapshot sees the
	 * lines that ship committed.
	 */
	status = LifecycleLockOrder(order_id, NULL);
	values[0] = Int64GetDatum(order_id);
	OmsQuery(OmsPlan(&plan,
					 "SELECT COALESCE(pg_catalog.sum(l.qty_shipped), 0)::int8 FROM oms.order_lines l "
					 " WHERE l.order_id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	shipped = OmsGetInt64(0, 1, NULL);

	/* ended unfulfilled (cancelled, expired): nothing left to release */
	if (LifecycleAllows(status, LCAP_TERMINAL))
	{
		StringInfoData note;

		initStringInfo(&note);
		appendStringInfo(&note, "{\"cancelled\": false, \"note\": \"order " INT64_FORMAT " is already %s; nothing to do\"}",
						 order_id, status);
		doc = OrdersDocumentReplayed(order_id, false);
		return DirectFunctionCall2(jsonb_concat, doc,
								   DirectFunctionCall1(jsonb_in, CStringGetDatum(note.data)));
	}
	if (shipped > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order " INT64_FORMAT " cannot be cancelled: it has shipped", order_id),
				 errdetail("from %s to cancelled: " INT64_FORMAT " unit(s) have already shipped.", status, shipped),
				 errhint("Create a return for shipped units instead.")));

	FulfillmentCancelOrder(order_id);
	released = OrdersRelease(&order_id, 1, "cancelled", reason ? reason : "cancelled", "release", &filled);
	payments = PaymentsCancelOrder(order_id, reason ? reason : "order cancelled");
	/* an invoice of a terms order is void (src/invoices.c) */
	InvoicesFollow(order_id);
	doc = OrdersDocumentReplayed(order_id, false);
	return DirectFunctionCall2(jsonb_concat, doc,
							   DirectFunctionCall1(jsonb_in,
												   CStringGetDatum(psprintf("{\"cancelled\": true, \"reservations_released\": %d, "
																			"\"backorders_filled\": %s, \"payments\": %s}",
																			released, filled, payments))));
}

PG_FUNCTION_INFO_V1(cancel_order);
/*
 * oms.cancel_order(order_id, reason): release everything the order holds.
 */
Datum
cancel_order(PG_FUNCTION_ARGS)
{
	int64		order_id;
	char	   *reason = NULL;
	Datum		result;

	OmsRequireArg(fcinfo, 0, "order_id");
	order_id = PG_GETARG_INT64(0);
	if (!PG_ARGISNULL(1))
	{
		reason = text_to_cstring(PG_GETARG_TEXT_PP(1));
		OmsCheckFreeText(reason, "reason", OMS_MAX_REASON_CHARS);
	}
	SPI_connect();
	result = SPI_datumTransfer(OrdersCancel(order_id, reason), false, -1);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/* The document with a note saying why nothing was done. */
static Datum
OrdersActionNote(Datum doc, const char *note)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfoString(&s, "{\"note\": ");
	escape_json(&s, note);
	appendStringInfoChar(&s, '}');
	return DirectFunctionCall2(jsonb_concat, doc, DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data)));
}

/* The reason argument: checked for card numbers; required for a hold. */
static char *
OrdersReasonArg(FunctionCallInfo fcinfo, int argno, bool required)
{
	char	   *reason;

	if (PG_ARGISNULL(argno))
	{
		if (required)
			OmsRequireArg(fcinfo, argno, "reason");
		return NULL;
	}
	reason = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (required && strspn(reason, " \t\r\n") == strlen(reason))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("reason must not be empty"),
				 errdetail("A hold is recorded with its reason."),
				 errhint("Say why the order is held, for example \"address check\".")));
	OmsCheckFreeText(reason, "reason", OMS_MAX_REASON_CHARS);
	return reason;
}

PG_FUNCTION_INFO_V1(set_order_status);
/*
 * oms.set_order_status(order_id, status, reason): move along a transition.
 *
 * The status names compared here are TARGETS of workflow steps, not
 * questions about what a status means (those ask LifecycleAllows): a few
 * targets are steps with work of their own, and the request is routed to
 * that step. expired and backordered are set only by oms itself, from
 * reservations and stock; cancelled is the cancel step, which releases
 * stock and payments; on_hold is the hold step, which remembers the status
 * it leaves; confirmed is the confirm step, which ends the payment hold
 * (expires_at), as payments.c and placement confirm. Any other target is a
 * plain move, which the lifecycle trigger checks.
 */
Datum
set_order_status(PG_FUNCTION_ARGS)
{
	int64		order_id;
	char	   *to;
	char	   *reason;
	char	   *from;
	Datum		result;

	OmsRequireArg(fcinfo, 0, "order_id");
	order_id = PG_GETARG_INT64(0);
	/* a status name has at most 40 characters (order_statuses_status_chk) */
	to = OmsIdentifierArg(fcinfo, 1, "status", 40);
	reason = OrdersReasonArg(fcinfo, 2, false);

	SPI_connect();
	if (!LifecycleStatusExists(to))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown order status \"%s\"", to),
				 errdetail("oms.order_statuses has no status \"%s\".", to),
				 errhint("Add it with INSERT INTO oms.order_statuses, and its transitions to oms.order_transitions.")));
	if (strcmp(to, "expired") == 0 || strcmp(to, "backordered") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("status \"%s\" is set by oms itself", to),
				 errdetail("%s follows from reservations and stock, not from a request.", to),
				 errhint(strcmp(to, "expired") == 0 ? "Run oms.expire_reservations(), or cancel the order." :
						 "Place the order with policy backorder.")));
	from = LifecycleLockOrder(order_id, NULL);

	/* the workflow targets of the comment above */
	if (strcmp(to, "cancelled") == 0)
		result = OrdersCancel(order_id, reason);
	else if (strcmp(from, to) == 0)
		result = OrdersActionNote(OrdersDocumentOf(order_id), psprintf("order " INT64_FORMAT " is already %s; nothing to do", order_id, to));
	else if (strcmp(to, "on_hold") == 0)
	{
		LifecycleHold(order_id, reason);
		result = OrdersDocumentOf(order_id);
	}
	else
	{
		LifecycleChange(order_id, to, reason, strcmp(to, "confirmed") == 0);
		result = OrdersDocumentOf(order_id);
	}
	result = SPI_datumTransfer(result, false, -1);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

PG_FUNCTION_INFO_V1(hold_order);
/*
 * oms.hold_order(order_id, reason): stop an order for review.
 */
Datum
hold_order(PG_FUNCTION_ARGS)
{
	int64		order_id;
	char	   *reason;
	char	   *from;
	Datum		result;

	OmsRequireArg(fcinfo, 0, "order_id");
	order_id = PG_GETARG_INT64(0);
	reason = OrdersReasonArg(fcinfo, 1, true);

	SPI_connect();
	from = LifecycleLockOrder(order_id, NULL);
	/* on_hold: the status the hold step (LifecycleHold) sets */
	if (strcmp(from, "on_hold") == 0)
		result = OrdersActionNote(OrdersDocumentOf(order_id), psprintf("order " INT64_FORMAT " is already on hold; nothing to do", order_id));
	else
	{
		LifecycleHold(order_id, reason);
		result = OrdersDocumentOf(order_id);
	}
	result = SPI_datumTransfer(result, false, -1);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

PG_FUNCTION_INFO_V1(release_hold);
/*
 * oms.release_hold(order_id): back to the status before the hold.
 */
Datum
release_hold(PG_FUNCTION_ARGS)
{
	int64		order_id;
	char	   *from;
	char	   *held_from = NULL;
	Datum		result;

	OmsRequireArg(fcinfo, 0, "order_id");
	order_id = PG_GETARG_INT64(0);

	SPI_connect();
	from = LifecycleLockOrder(order_id, &held_from);
	/* on_hold: the status the hold step (LifecycleHold) sets */
	if (strcmp(from, "on_hold") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order " INT64_FORMAT " is not on hold", order_id),
				 errdetail("from %s to (release)", from),
				 errhint("Only orders in status on_hold can be released.")));
	/*
	 * Back to the status the hold left (held from nowhere, as after a
	 * direct UPDATE: the initial status); back to confirmed is the confirm
	 * step again (a workflow target, see set_order_status).
	 */
	LifecycleChange(order_id, held_from ? held_from : "pending_payment", "hold released",
					held_from && strcmp(held_from, "confirmed") == 0);
	result = SPI_datumTransfer(OrdersDocumentOf(order_id), false, -1);
	SPI_finish();
	PG_RETURN_DATUM(result);
}
