/*-------------------------------------------------------------------------
 *
 * rma_refund.c
 *	  oms.refund_rma: the resolution of the received units of an RMA, by
 *	  the money rules in the banner of returns.c: a refund through the
 *	  payments area (PaymentsRefundOrder), store credit
 *	  (PaymentsIssueStoreCredit), or an exchange, a replacement order placed
 *	  through place_order at the exchange prices, less the exchange credit
 *	  (the refundable value of what came back, at most the exchange value).
 *	  Each passes the one money path of payments (PaymentsMoneyOut: refunds
 *	  and store credit inside the payments functions, the exchange credit
 *	  here), so refunds, credit and exchange credit of the order together
 *	  stay within what it captured. What the exchange is worth above the
 *	  credit is owed: the replacement then waits in pending_payment with
 *	  that total, like any unpaid order, instead of being confirmed at zero
 *	  price; the customer pays it with oms.authorize_payment. (Refusing such
 *	  an RMA instead would turn away the common "a bigger size, I pay the
 *	  difference" exchange.) When the exchange is worth less than what came
 *	  back, the rest is not paid out automatically: it stays within the
 *	  order's bound and can be refunded with oms.refund_payment.
 *
 *	  Locking: the order row, then the RMA (RmaLock, returns.c); payments
 *	  and stored-value accounts after them, in the order of payments.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "oms.h"
#include "returns.h"

/* the SQL function of orders: an exchange is placed like any order */
extern Datum place_order(PG_FUNCTION_ARGS);

PG_FUNCTION_INFO_V1(refund_rma);
/*
 * oms.refund_rma(rma_id): resolve the received units not yet resolved
 * (see the banner). A second call with nothing new received is refused.
 */
Datum
refund_rma(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan_amount = NULL;
	static SPIPlanPtr plan_done = NULL;
	static SPIPlanPtr plan_order = NULL;
	static SPIPlanPtr plan_link = NULL;
	int64		rma_id;
	int64		order_id;
	char	   *status;
	char	   *resolution;
	Datum		amount;
	int64		units;
	int64		missing;
	int64		open_units;
	char	   *currency;
	char	   *result_json = "null";
	char	   *summary;
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	OmsRequireArg(fcinfo, 0, "rma_id");
	rma_id = PG_GETARG_INT64(0);
	SPI_connect();
	order_id = RmaLock(rma_id, &status, &resolution);
	if (strcmp(status, "partially_received") != 0 && strcmp(status, "received") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("RMA " INT64_FORMAT " cannot be refunded: it is %s", rma_id, status),
				 errdetail(strcmp(status, "resolved") == 0 ? "Every received unit of it is already refunded, credited or exchanged."
						   : strcmp(status, "rejected") == 0 ? "A rejected RMA is not refunded."
						   : "Nothing of it has been received yet."),
				 errhint(strcmp(status, "resolved") == 0 ? "Nothing to do." : "Receive the units first with oms.receive_rma().")));

	/* the units to resolve and their value, less restocking fees */
	values[0] = Int64GetDatum(rma_id);
	OmsQuery(OmsPlan(&plan_amount,
					 "SELECT COALESCE(pg_catalog.sum(pg_catalog.round(g.gross OPERATOR(pg_catalog.*) (100 OPERATOR(pg_catalog.-) rr.restocking_fee_pct) "
					 "                  OPERATOR(pg_catalog./) 100, 2)), 0), "					 "       COALESCE(pg_catalog.sum(rl.qty_restocked OPERATOR(pg_catalog.+) rl.qty_damaged OPERATOR(pg_catalog.-) rl.qty_resolved), 0)::int8, "
					 "       COALESCE(pg_catalog.sum(rl.qty_missing), 0)::int8, "
					 "       COALESCE(pg_catalog.sum(rl.qty OPERATOR(pg_catalog.-) rl.qty_restocked OPERATOR(pg_catalog.-) rl.qty_damaged "
					 "                OPERATOR(pg_catalog.-) rl.qty_missing), 0)::int8, "
					 "       (SELECT o.currency FROM oms.orders o JOIN oms.rmas r ON r.order_id OPERATOR(pg_catalog.=) o.id "
					 "         WHERE r.id OPERATOR(pg_catalog.=) $1) "
					 "  FROM oms.rma_lines rl JOIN oms.return_reasons rr ON rr.code OPERATOR(pg_catalog.=) rl.reason "
					 "  JOIN oms.order_lines ol ON ol.id OPERATOR(pg_catalog.=) rl.order_line_id "
					 "  CROSS JOIN LATERAL (SELECT COALESCE(pg_catalog.sum(x.qty_resolved), 0) AS done FROM oms.rma_lines x "
					 "                       WHERE x.order_line_id OPERATOR(pg_catalog.=) ol.id) d "
					 "  CROSS JOIN LATERAL (SELECT ol.unit_price OPERATOR(pg_catalog.*) ol.qty OPERATOR(pg_catalog.-) ol.discount "
					 "                             OPERATOR(pg_catalog.+) ol.tax AS paid) t "
					 "  CROSS JOIN LATERAL (SELECT pg_catalog.round(t.paid OPERATOR(pg_catalog.*) (d.done OPERATOR(pg_catalog.+) rl.qty_restocked "
					 "                             OPERATOR(pg_catalog.+) rl.qty_damaged OPERATOR(pg_catalog.-) rl.qty_resolved) "
					 "                             OPERATOR(pg_catalog./) ol.qty, 2) "
					 "                      OPERATOR(pg_catalog.-) pg_catalog.round(t.paid OPERATOR(pg_catalog.*) d.done OPERATOR(pg_catalog./) ol.qty, 2) AS gross) g "
					 " WHERE rl.rma_id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	amount = SPI_datumTransfer(OmsGetDatum(0, 1, NULL), false, -1);
	units = OmsGetInt64(0, 2, NULL);
	missing = OmsGetInt64(0, 3, NULL);
	open_units = OmsGetInt64(0, 4, NULL);
	currency = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5);
	if (units == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("RMA " INT64_FORMAT " has nothing new to refund", rma_id),
				 errdetail("Every unit received so far is already resolved%s.", missing > 0 ? "; missing units are never refunded" : ""),
				 errhint("Receive more units first, or nothing is left to do.")));

	/*
	 * An exchange replaces the whole RMA, so it waits for every unit; when
	 * some were reported missing, the replacement cannot be owed and the
	 * units that did come back are refunded instead.
	 */
	if (strcmp(resolution, "exchange") == 0 && open_units > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("RMA " INT64_FORMAT " cannot be exchanged yet", rma_id),
				 errdetail("An exchange ships the replacement once every unit of the RMA is back: " INT64_FORMAT " unit(s) still expected.",
						   open_units),
				 errhint("Receive the rest first, or record the units that will not come as missing.")));
	if (strcmp(resolution, "exchange") == 0 && missing > 0)
		resolution = "refund";

	/*
	 * Refunds and credit for returns together stay within what the
	 * order's payments captured less what they refunded.
	 */
	if (strcmp(resolution, "exchange") != 0)
	{
		static SPIPlanPtr plan_room = NULL;
		Datum		room;

		values[0] = Int64GetDatum(order_id);
		OmsQuery(OmsPlan(&plan_room,
						 "SELECT COALESCE(pg_catalog.sum(r.store_credit), 0) FROM oms.rmas r WHERE r.order_id OPERATOR(pg_catalog.=) $1",
						 1, types), values, NULL, 1);
		room = DirectFunctionCall2(numeric_sub, PaymentsRefundable(order_id), OmsGetDatum(0, 1, NULL));

		/*
		 * Amounts are kept to 4 decimals and returns pay out whole cents:
		 * the rounded value of the last units can pass what is left by less
		 * than half a cent (3 units at 2.4358 captured as 7.3074, returned
		 * for 7.31). That remnant is not money the order lacks: pay out
		 * exactly what is left.
		 */
		if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, amount, room)) > 0 &&
			DatumGetInt32(DirectFunctionCall2(numeric_cmp, amount,
											  DirectFunctionCall2(numeric_round, room, Int32GetDatum(2)))) <= 0)
			amount = room;
		if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, amount, room)) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s of %s exceeds the %s the order's payments hold",
							strcmp(resolution, "refund") == 0 ? "refund" : "store credit",
							DatumGetCString(DirectFunctionCall1(numeric_out, amount)),
							DatumGetCString(DirectFunctionCall1(numeric_out,
																DirectFunctionCall2(numeric_round, room, Int32GetDatum(2))))),
					 errdetail("Refunds and store credit for returns never exceed what the order's payments captured less what was refunded or credited."),
					 errhint("Capture the payment first.")));
	}

	if (strcmp(resolution, "exchange") == 0)
	{
		static SPIPlanPtr plan_value = NULL;
		Datum		order_doc;
		Datum		new_order;
		Datum		exchange_value;
		Datum		credit;
		Datum		owed;
		Datum		discount;

		/*
		 * The exchange credit: the refundable value of what came back, at
		 * most what the exchange is worth; it leaves the order through the
		 * one money path. The rest of the exchange value is owed.
		 */
		values[0] = Int64GetDatum(rma_id);
		OmsQuery(OmsPlan(&plan_value, "SELECT exchange_value FROM oms.rmas WHERE id OPERATOR(pg_catalog.=) $1",
						 1, types), values, NULL, 1);
		exchange_value = SPI_datumTransfer(OmsGetDatum(0, 1, NULL), false, -1);
		credit = DatumGetInt32(DirectFunctionCall2(numeric_cmp, amount, exchange_value)) < 0 ? amount : exchange_value;
		/*
		 * owed in cents: unit prices keep 4 decimals, refunds 2, so an even
		 * swap of 3 units paid 29.00 together (9.6667 each) owes nothing
		 */
		owed = DirectFunctionCall2(numeric_round, DirectFunctionCall2(numeric_sub, exchange_value, credit), Int32GetDatum(2));
		discount = DirectFunctionCall2(numeric_sub, exchange_value, owed);
		if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, credit, DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) > 0)
			PaymentsMoneyOut(order_id, PAY_OUT_EXCHANGE, credit, rma_id);

		/*
		 * The replacement order, through place_order: the exchange lines at
		 * their prices, the credit spread over them as line discounts in
		 * order (each line at most its own amount), so its total is what is
		 * owed. The prices are what was paid, tax included: the document
		 * says prices_include_tax, so that the tax is extracted from them
		 * (src/order_charges.c) rather than added on top.
		 */
		{
			Oid			t2[2] = {INT8OID, NUMERICOID};
			Datum		v2[2] = {Int64GetDatum(rma_id), discount};

			OmsQuery(OmsPlan(&plan_order,
							 "SELECT pg_catalog.jsonb_build_object('channel', c.code, 'external_id', 'rma-' OPERATOR(pg_catalog.||) r.id, "
							 "         'currency', o.currency, 'policy', 'all_or_nothing', 'hold_minutes', 0, 'prices_include_tax', true, "
							 "         'notes', 'exchange for RMA ' OPERATOR(pg_catalog.||) r.id OPERATOR(pg_catalog.||) ' of order ' OPERATOR(pg_catalog.||) o.external_id, "
							 "         'lines', (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('sku', x.sku, 'qty', x.qty, "
							 "                          'unit_price', x.unit_price, "
							 "                          'discount', LEAST(x.gross, GREATEST($2 OPERATOR(pg_catalog.-) x.before, 0))) ORDER BY x.n) "
							 "                     FROM (SELECT e.n, e.x ->> 'sku' AS sku, (e.x ->> 'qty')::int4 AS qty, "
							 "                                  (e.x ->> 'unit_price')::numeric AS unit_price, "
							 "                                  (e.x ->> 'unit_price')::numeric OPERATOR(pg_catalog.*) (e.x ->> 'qty')::int4 AS gross, "
							 "                                  COALESCE(pg_catalog.sum((e.x ->> 'unit_price')::numeric OPERATOR(pg_catalog.*) (e.x ->> 'qty')::int4) "
							 "                                    OVER (ORDER BY e.n ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before "
							 "                             FROM pg_catalog.jsonb_array_elements(r.exchange_lines) WITH ORDINALITY AS e(x, n)) x)) "
							 "       OPERATOR(pg_catalog.||) CASE WHEN o.ship_to IS NULL THEN '{}'::pg_catalog.jsonb "
							 "            ELSE pg_catalog.jsonb_build_object('ship_to', o.ship_to) END "
							 "       OPERATOR(pg_catalog.||) CASE WHEN cu.id IS NULL THEN '{}'::pg_catalog.jsonb "
							 "            ELSE pg_catalog.jsonb_build_object('customer', pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object( "
							 "                 'external_ref', cu.external_ref, 'email', cu.email, 'name', cu.name))) END "
							 "  FROM oms.rmas r JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) r.order_id "
							 "  JOIN oms.channels c ON c.id OPERATOR(pg_catalog.=) o.channel_id "
							 "  LEFT JOIN oms.customers cu ON cu.id OPERATOR(pg_catalog.=) o.customer_id "
							 " WHERE r.id OPERATOR(pg_catalog.=) $1",
							 2, t2), v2, NULL, 1);
		}
		order_doc = SPI_datumTransfer(OmsGetDatum(0, 1, NULL), false, -1);
		new_order = DirectFunctionCall1(place_order, order_doc);
		{
			char	   *txt = DatumGetCString(DirectFunctionCall1(jsonb_out, new_order));
			Oid			t2[2] = {INT8OID, TEXTOID};
			Datum		v2[2];
			int64		new_id;

			v2[0] = Int64GetDatum(rma_id);
			v2[1] = CStringGetTextDatum(txt);
			OmsExec(OmsPlan(&plan_link,
							"UPDATE oms.rmas SET exchange_order_id = ($2::pg_catalog.jsonb ->> 'order_id')::int8 "
							" WHERE id OPERATOR(pg_catalog.=) $1 RETURNING exchange_order_id",
							2, t2), v2, NULL, 1);
			new_id = OmsGetInt64(0, 1, NULL);
			if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, owed, DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) == 0)
			{
				/* nothing owed: the replacement is confirmed at once */
				LifecycleChange(new_id, "confirmed", psprintf("exchange for RMA " INT64_FORMAT, rma_id), true);
				result_json = psprintf("{\"exchange_order_id\": " INT64_FORMAT ", \"exchange_credit\": %s, \"owed\": 0}",
									   new_id, DatumGetCString(DirectFunctionCall1(numeric_out, credit)));
				summary = psprintf("replacement order " INT64_FORMAT " at no charge", new_id);
			}
			else
			{
				/* the excess is owed: the replacement waits for its payment */
				result_json = psprintf("{\"exchange_order_id\": " INT64_FORMAT ", \"exchange_credit\": %s, \"owed\": %s}",
									   new_id, DatumGetCString(DirectFunctionCall1(numeric_out, credit)),
									   DatumGetCString(DirectFunctionCall1(numeric_out, owed)));
				summary = psprintf("replacement order " INT64_FORMAT ", %s %s to pay", new_id,
								   DatumGetCString(DirectFunctionCall1(numeric_out, owed)), currency);
			}
		}
	}
	else if (strcmp(resolution, "store_credit") == 0)
	{
		static SPIPlanPtr plan_credit = NULL;
		int64		customer_id;

		values[0] = Int64GetDatum(order_id);
		OmsQuery(OmsPlan(&plan_credit, "SELECT o.customer_id FROM oms.orders o WHERE o.id OPERATOR(pg_catalog.=) $1",
						 1, types), values, NULL, 1);
		customer_id = OmsGetInt64(0, 1, NULL);
		if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, amount, DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) > 0)
			result_json = DatumGetCString(DirectFunctionCall1(jsonb_out,
															  PaymentsIssueStoreCredit(customer_id, amount, currency,
																					   psprintf("RMA " INT64_FORMAT, rma_id), order_id, rma_id)));
		summary = psprintf("%s %s as store credit", DatumGetCString(DirectFunctionCall1(numeric_out, amount)), currency);
	}
	else
	{
		if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, amount, DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) > 0)
			result_json = PaymentsRefundOrder(order_id, amount, psprintf("RMA " INT64_FORMAT, rma_id), rma_id);
		summary = psprintf("%s %s refunded to the original payment", DatumGetCString(DirectFunctionCall1(numeric_out, amount)), currency);
	}

	/* the units are resolved; the RMA is done when every unit is accounted for */
	{
		Oid			t3[3] = {INT8OID, NUMERICOID, TEXTOID};
		Datum		v3[3];

		v3[0] = Int64GetDatum(rma_id);
		v3[1] = amount;
		v3[2] = CStringGetTextDatum(resolution);
		OmsExec(OmsPlan(&plan_done,
						"WITH l AS (UPDATE oms.rma_lines SET qty_resolved = qty_restocked OPERATOR(pg_catalog.+) qty_damaged "
						"            WHERE rma_id OPERATOR(pg_catalog.=) $1 RETURNING 1) "
						"UPDATE oms.rmas r SET "
						"       refunded = r.refunded OPERATOR(pg_catalog.+) CASE WHEN $3 OPERATOR(pg_catalog.=) 'refund' THEN $2 ELSE 0 END, "
						"       store_credit = r.store_credit OPERATOR(pg_catalog.+) CASE WHEN $3 OPERATOR(pg_catalog.=) 'store_credit' THEN $2 ELSE 0 END, "
						"       status = CASE WHEN r.status OPERATOR(pg_catalog.=) 'received' THEN 'resolved' ELSE r.status END, "
						"       resolved_at = pg_catalog.now() "
						" WHERE r.id OPERATOR(pg_catalog.=) $1 AND (SELECT pg_catalog.count(*) FROM l) OPERATOR(pg_catalog.>=) 0",
						3, t3), v3, NULL, 0);
	}
	EventsEmit("refund_issued", order_id,
			   psprintf("{\"rma_id\": " INT64_FORMAT ", \"resolution\": \"%s\", \"amount\": %s, \"currency\": \"%s\", \"reason\": \"%s\"}",
						rma_id, resolution, DatumGetCString(DirectFunctionCall1(numeric_out, amount)), currency, summary));
	PG_RETURN_DATUM(OmsFinish(RmaDocument(rma_id, psprintf("{\"resolved_units\": " INT64_FORMAT ", \"amount\": %s, \"result\": %s}",
															units, DatumGetCString(DirectFunctionCall1(numeric_out, amount)),
															result_json))));
}
