/*-------------------------------------------------------------------------
 *
 * returns.c
 *	  RMAs, the shared part: looking an RMA up and locking it, its document
 *	  (oms.get_rma), the order lines it may claim, the review
 *	  (oms.authorize_rma, oms.reject_rma) and the return label
 *	  (oms.return_label, through ZplLabel of zpl.c). The phases of an RMA
 *	  live in files of their own, with the helpers here declared in
 *	  returns.h:
 *	    rma_create.c   oms.create_rma (in named steps)
 *	    rma_receive.c  oms.receive_rma: receipt with disposition
 *	    rma_refund.c   oms.refund_rma: refund, store credit or exchange
 *	  This banner states the rules the phases share.
 *
 *	  The claim rule
 *	  --------------
 *	  An RMA line claims units of an order line from the moment it is
 *	  requested until its RMA is rejected; units received as missing leave
 *	  the claim (the customer still has them). A new claim must fit in the
 *	  line's shipped units less every claim of other RMAs, so two RMAs can
 *	  never return the same unit. Every function of RMAs locks the order row
 *	  first (then the RMA row): concurrent RMAs of one order, and concurrent
 *	  refunds of one RMA, run one after the other and see each other's work.
 *
 *	  Money
 *	  -----
 *	  A unit is worth what was paid for it: (unit_price x qty - discount +
 *	  tax) / qty of its order line; the reason's restocking fee is kept.
 *	  refund_rma resolves the units received sellable or damaged and not yet
 *	  resolved (missing units never are), at most once each. Per order line
 *	  the value of the units resolved so far, over all its RMAs, is
 *	  round(paid x units / qty, 2); a refund pays the increase, less the
 *	  reason's fee, so partial and separate refunds of a line add up to
 *	  what was paid for it and never more:
 *	    refund        through the payments area's refund path, stored value
 *	                  (gift cards, store credit) first, then cards;
 *	    store_credit  credited to the customer;
 *	    exchange      a replacement order placed through place_order (stock
 *	                  reserved, or OM001 and nothing done), its lines at the
 *	                  exchange prices (create_rma); the refundable value of
 *	                  what came back is applied to it as a discount (the
 *	                  exchange credit), and what the exchange is worth above
 *	                  that is owed: the replacement waits in pending_payment
 *	                  with that total. Only a replacement with nothing owed
 *	                  is confirmed at once.
 *	  Refunds, store credit and exchange credit of an order together never
 *	  exceed what its payments captured: each passes the payments area's
 *	  one money path (PaymentsMoneyOut), which locks the order and checks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "oms.h"
#include "returns.h"

/* ---- helpers ---- */

void
RmaNotFound(int64 rma_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("RMA " INT64_FORMAT " does not exist", rma_id),
			 errdetail("No row in oms.rmas has id " INT64_FORMAT ".", rma_id),
			 errhint("Use the rma_id returned by oms.create_rma().")));
}

/* Lock the RMA's order, then the RMA; returns the order id and status. */
int64
RmaLock(int64 rma_id, char **status, char **resolution)
{
	static SPIPlanPtr plan_find = NULL;
	static SPIPlanPtr plan_lock = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(rma_id)};
	int64		order_id;

	OmsQuery(OmsPlan(&plan_find, "SELECT order_id FROM oms.rmas WHERE id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	if (SPI_processed == 0)
		RmaNotFound(rma_id);
	order_id = OmsGetInt64(0, 1, NULL);
	(void) LifecycleLockOrder(order_id, NULL);
	LifecycleTouchOrder(order_id);
	OmsQuery(OmsPlan(&plan_lock, "SELECT status, resolution FROM oms.rmas WHERE id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
					 1, types), values, NULL, 1);
	*status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (resolution)
		*resolution = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	return order_id;
}

#define RMA_DOCUMENT_SQL \
	"SELECT pg_catalog.jsonb_build_object(" \
	"  'rma_id', r.id, 'order_id', r.order_id, 'status', r.status, 'resolution', r.resolution, " \
	"  'value', r.value, 'refunded', r.refunded, 'store_credit', r.store_credit, " \
	"  'exchange_lines', r.exchange_lines, 'exchange_order_id', r.exchange_order_id, " \
	"  'reject_reason', r.reject_reason, 'order_status', o.status, " \
	"  'lines', (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(" \
	"              'line_no', ol.line_no, 'sku', p.sku, 'qty', rl.qty, 'reason', rl.reason, " \
	"              'unit_value', rl.unit_value, 'restocked', rl.qty_restocked, 'damaged', rl.qty_damaged, " \
	"              'missing', rl.qty_missing, 'resolved', rl.qty_resolved) ORDER BY ol.line_no) " \
	"              FROM oms.rma_lines rl JOIN oms.order_lines ol ON ol.id OPERATOR(pg_catalog.=) rl.order_line_id " \
	"              JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) ol.product_id " \
	"             WHERE rl.rma_id OPERATOR(pg_catalog.=) r.id)) " \
	"  FROM oms.rmas r JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) r.order_id " \
	" WHERE r.id OPERATOR(pg_catalog.=) $1"

Datum
RmaDocument(int64 rma_id, const char *extra_json)
{
	static SPIPlanPtr plan = NULL;
	Datum		doc;

	if (!OmsDocument(&plan, RMA_DOCUMENT_SQL, rma_id, extra_json, &doc))
		RmaNotFound(rma_id);
	return doc;
}

int
RmaFindLine(RmaLine *lines, int n, JsonbContainer *l, const char *path, int64 order_id)
{
	int32	   *line_nos = palloc(sizeof(int32) * (n + 1));
	char	  **skus = palloc(sizeof(char *) * (n + 1));
	int			j;

	for (j = 0; j < n; j++)
	{
		line_nos[j] = lines[j].line_no;
		skus[j] = lines[j].sku;
	}
	return JsonOrderLine(l, path, order_id, n, line_nos, skus);
}

/*
 * The order's lines with their shipped units and what other RMAs (not
 * rejected) claim; for an RMA being received, also its own open units.
 */
RmaLine *
RmaLoadLines(int64 order_id, int64 rma_id, int *n)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(order_id), Int64GetDatum(rma_id)};
	RmaLine    *lines;
	int			i;

	OmsQuery(OmsPlan(&plan,
					 "SELECT ol.id, ol.line_no, p.sku, p.kind, ol.qty_shipped, "
					 "       ol.qty_shipped OPERATOR(pg_catalog.-) COALESCE((SELECT pg_catalog.sum(rl.qty OPERATOR(pg_catalog.-) rl.qty_missing) FROM oms.rma_lines rl "
					 "             JOIN oms.rmas r ON r.id OPERATOR(pg_catalog.=) rl.rma_id "
					 "            WHERE rl.order_line_id OPERATOR(pg_catalog.=) ol.id AND r.status OPERATOR(pg_catalog.<>) 'rejected' "
					 "              AND r.id OPERATOR(pg_catalog.<>) $2), 0)::int4, "
					 "       COALESCE(mine.qty OPERATOR(pg_catalog.-) mine.qty_restocked OPERATOR(pg_catalog.-) mine.qty_damaged "
					 "                OPERATOR(pg_catalog.-) mine.qty_missing, 0), COALESCE(mine.id, 0) "
					 "  FROM oms.order_lines ol JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) ol.product_id "
					 "  LEFT JOIN oms.rma_lines mine ON mine.order_line_id OPERATOR(pg_catalog.=) ol.id "
					 "       AND mine.rma_id OPERATOR(pg_catalog.=) $2 "
					 " WHERE ol.order_id OPERATOR(pg_catalog.=) $1 ORDER BY ol.line_no",
					 2, types), values, NULL, 0);
	*n = (int) SPI_processed;
	lines = palloc0(sizeof(RmaLine) * (*n + 1));
	for (i = 0; i < *n; i++)
	{
		char	   *kind = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 4);

		lines[i].id = OmsGetInt64(i, 1, NULL);
		lines[i].line_no = OmsGetInt32(i, 2, NULL);
		lines[i].sku = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3);
		lines[i].kind = strcmp(kind, "kit") == 0 ? OMS_KIND_KIT : strcmp(kind, "service") == 0 ? OMS_KIND_SERVICE : OMS_KIND_STOCK;
		lines[i].shipped = OmsGetInt32(i, 5, NULL);
		lines[i].claimable = OmsGetInt32(i, 6, NULL);
		lines[i].open = OmsGetInt32(i, 7, NULL);
		lines[i].rma_line_id = OmsGetInt64(i, 8, NULL);
	}
	return lines;
}

void
RmaEvent(const char *kind, int64 order_id, int64 rma_id, const char *extra)
{
	EventsEmit(kind, order_id, psprintf("{\"rma_id\": " INT64_FORMAT "%s%s}", rma_id, extra ? ", " : "", extra ? extra : ""));
}

/* ---- authorize, reject ---- */

PG_FUNCTION_INFO_V1(authorize_rma);
Datum
authorize_rma(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64		rma_id;
	int64		order_id;
	char	   *status;
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	OmsRequireArg(fcinfo, 0, "rma_id");
	rma_id = PG_GETARG_INT64(0);
	SPI_connect();
	order_id = RmaLock(rma_id, &status, NULL);
	if (strcmp(status, "requested") != 0)
	{
		if (strcmp(status, "rejected") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("RMA " INT64_FORMAT " cannot be authorized: it is rejected", rma_id),
					 errdetail("A rejected RMA stays rejected."),
					 errhint("Create a new RMA.")));
		PG_RETURN_DATUM(OmsFinish(RmaDocument(rma_id, psprintf("{\"authorized\": false, \"note\": \"RMA " INT64_FORMAT " is already %s; nothing to do\"}",
																 rma_id, status))));
	}
	values[0] = Int64GetDatum(rma_id);
	OmsExec(OmsPlan(&plan,
					"UPDATE oms.rmas SET status = 'authorized', authorized_at = pg_catalog.now() WHERE id OPERATOR(pg_catalog.=) $1",
					1, types), values, NULL, 0);
	RmaEvent("rma_authorized", order_id, rma_id, NULL);
	PG_RETURN_DATUM(OmsFinish(RmaDocument(rma_id, NULL)));
}

PG_FUNCTION_INFO_V1(reject_rma);
Datum
reject_rma(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64		rma_id;
	int64		order_id;
	char	   *status;
	char	   *reason;
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];

	OmsRequireArg(fcinfo, 0, "rma_id");
	OmsRequireArg(fcinfo, 1, "reason");
	rma_id = PG_GETARG_INT64(0);
	reason = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (strspn(reason, " \t\r\n") == strlen(reason))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("reason must not be empty"),
				 errdetail("A rejection tells the customer why."),
				 errhint("Pass a short reason, for example \"outside policy\".")));
	OmsCheckFreeText(reason, "reason", OMS_MAX_REASON_CHARS);
	SPI_connect();
	order_id = RmaLock(rma_id, &status, NULL);
	if (strcmp(status, "rejected") == 0)
		PG_RETURN_DATUM(OmsFinish(RmaDocument(rma_id, psprintf("{\"rejected\": false, \"note\": \"RMA " INT64_FORMAT " is already rejected; nothing to do\"}",
															   rma_id))));
	if (strcmp(status, "requested") != 0 && strcmp(status, "authorized") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("RMA " INT64_FORMAT " cannot be rejected: it is %s", rma_id, status),
				 errdetail("Units of it have been received."),
				 errhint("Resolve it with oms.refund_rma().")));
	values[0] = Int64GetDatum(rma_id);
	values[1] = CStringGetTextDatum(reason);
	OmsExec(OmsPlan(&plan,
					"UPDATE oms.rmas SET status = 'rejected', reject_reason = $2 WHERE id OPERATOR(pg_catalog.=) $1",
					2, types), values, NULL, 0);
	{
		StringInfoData ev;

		initStringInfo(&ev);
		appendStringInfoString(&ev, "\"reason\": ");
		escape_json(&ev, reason);
		RmaEvent("rma_rejected", order_id, rma_id, ev.data);
	}
	PG_RETURN_DATUM(OmsFinish(RmaDocument(rma_id, NULL)));
}

PG_FUNCTION_INFO_V1(get_rma);
Datum
get_rma(PG_FUNCTION_ARGS)
{
	SPI_connect();
	PG_RETURN_DATUM(OmsFinish(RmaDocument(PG_GETARG_INT64(0), NULL)));
}

/* ---- return label ---- */

PG_FUNCTION_INFO_V1(return_label);
/*
 * oms.return_label(rma_id): ZPL through the one label writer, from the
 * customer to the location that shipped most of the RMA's units.
 */
Datum
return_label(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64		rma_id = PG_GETARG_INT64(0);
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(rma_id)};
	char	   *status;
	char	   *label;
	HeapTuple	t;
	TupleDesc	d;

	SPI_connect();
	OmsQuery(OmsPlan(&plan,
					 "SELECT r.status, "
					 "       pg_catalog.concat_ws(E'\\n', COALESCE(o.ship_to ->> 'name', c.name), o.ship_to ->> 'line1', "
					 "              o.ship_to ->> 'line2', NULLIF(pg_catalog.concat_ws(' ', o.ship_to ->> 'postal_code', o.ship_to ->> 'city'), ''), "
					 "              o.ship_to ->> 'country'), "
					 "       (SELECT pg_catalog.concat_ws(E'\\n', 'Returns, ' OPERATOR(pg_catalog.||) l.name, l.address) "
					 "          FROM oms.rma_lines rl JOIN oms.shipment_lines sl ON sl.order_line_id OPERATOR(pg_catalog.=) rl.order_line_id "
					 "          JOIN oms.shipments s ON s.id OPERATOR(pg_catalog.=) sl.shipment_id "
					 "               AND s.status OPERATOR(pg_catalog.=) ANY ('{shipped,delivered}'::text[]) "
					 "          JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) s.location_id "
					 "         WHERE rl.rma_id OPERATOR(pg_catalog.=) r.id "
					 "         GROUP BY l.id, l.name, l.address ORDER BY pg_catalog.sum(sl.qty) DESC, l.id LIMIT 1), "
					 "       'RMA' OPERATOR(pg_catalog.||) pg_catalog.lpad(r.id::text, 8, '0'), "
					 "       pg_catalog.format('Order %s   RMA %s   %s', o.external_id, r.id, "
					 "              (SELECT pg_catalog.string_agg(pg_catalog.format('%s x%s', p.sku, rl.qty), ', ' ORDER BY ol.line_no) "
					 "                 FROM oms.rma_lines rl JOIN oms.order_lines ol ON ol.id OPERATOR(pg_catalog.=) rl.order_line_id "
					 "                 JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) ol.product_id WHERE rl.rma_id OPERATOR(pg_catalog.=) r.id)) "
					 "  FROM oms.rmas r JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) r.order_id "
					 "  LEFT JOIN oms.customers c ON c.id OPERATOR(pg_catalog.=) o.customer_id "
					 " WHERE r.id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	if (SPI_processed == 0)
		RmaNotFound(rma_id);
	t = SPI_tuptable->vals[0];
	d = SPI_tuptable->tupdesc;
	status = SPI_getvalue(t, d, 1);
	if (strcmp(status, "requested") == 0 || strcmp(status, "rejected") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("RMA " INT64_FORMAT " has no return label: it is %s", rma_id, status),
				 errdetail("A return label is issued for an authorized RMA."),
				 errhint(strcmp(status, "requested") == 0 ? "Authorize it first with oms.authorize_rma()." : "A rejected RMA is not sent back.")));
	label = ZplLabel("RETURN", SPI_getvalue(t, d, 2) ? SPI_getvalue(t, d, 2) : "",
								SPI_getvalue(t, d, 3) ? SPI_getvalue(t, d, 3) : "Returns",
								"Return", "RMA", SPI_getvalue(t, d, 4), SPI_getvalue(t, d, 5));
	PG_RETURN_DATUM(OmsFinish(PointerGetDatum(cstring_to_text(label))));
}
