/*-------------------------------------------------------------------------
 *
 * returns.c
 *	  RMAs: create, authorize, reject, return label, receive with
 *	  disposition, and the resolution: refund, store credit or exchange.
 *
 *	  The claim rule
 *	  --------------
 *	  An RMA line claims units of an order line from the moment it is
 *	  requested until its RMA is rejected; units received as missing leave
 *	  the claim (the customer still has them). A new claim must fit in the
 *	  line's shipped units less every claim of other RMAs, so two RMAs can
 *	  never return the same unit. Every function here locks the order row
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
 *	    exchange      a replacement order at zero price, placed through
 *	                  place_order (stock reserved, or OM001 and nothing done).
 *	  Refunds and credit together never exceed what the order's payments
 *	  captured less what they refunded.
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

extern Datum place_order(PG_FUNCTION_ARGS);

/* ---- helpers ---- */

static void
RmaNotFound(int64 rma_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("RMA " INT64_FORMAT " does not exist", rma_id),
			 errdetail("No row in oms.rmas has id " INT64_FORMAT ".", rma_id),
			 errhint("Use the rma_id returned by oms.create_rma().")));
}

/* Lock the RMA's order, then the RMA; returns the order id and status. */
static int64
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

static Datum
RmaDocument(int64 rma_id, const char *extra_json)
{
	static SPIPlanPtr plan = NULL;
	Datum		doc;

	if (!OmsDocument(&plan, RMA_DOCUMENT_SQL, rma_id, extra_json, &doc))
		RmaNotFound(rma_id);
	return doc;
}

/* An order line of the order, for RMA lines: by line_no or by sku. */
typedef struct RmaLine
{
	int64		id;
	int32		line_no;
	char	   *sku;
	char		kind;
	int32		shipped;
	int32		claimable;		/* shipped less other RMAs' claims */
	int32		open;			/* this RMA: requested less received (receive_rma) */
	int64		rma_line_id;
	/* from the request */
	int32		qty;
	int32		restocked;
	int32		damaged;
	int32		missing;
	char	   *reason;
} RmaLine;

static int
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
static RmaLine *
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

static void
RmaEvent(const char *kind, int64 order_id, int64 rma_id, const char *extra)
{
	EventsEmit(kind, order_id, psprintf("{\"rma_id\": " INT64_FORMAT "%s%s}", rma_id, extra ? ", " : "", extra ? extra : ""));
}

/* ---- create_rma ---- */

PG_FUNCTION_INFO_V1(create_rma);
/*
 * oms.create_rma(order_id, rma jsonb).
 */
Datum
create_rma(PG_FUNCTION_ARGS)
{
	static const char *const top_keys[] = {"lines", "resolution", "exchange", "notes", NULL};
	static const char *const line_keys[] = {"line_no", "sku", "qty", "reason", NULL};
	static const char *const exchange_keys[] = {"lines", NULL};
	static const char *const exline_keys[] = {"sku", "qty", NULL};
	static SPIPlanPtr plan_window = NULL;
	static SPIPlanPtr plan_reason = NULL;
	static SPIPlanPtr plan_insert = NULL;
	static SPIPlanPtr plan_lines = NULL;
	static SPIPlanPtr plan_auto = NULL;
	int64		order_id;
	Jsonb	   *doc;
	JsonbValue	buf;
	JsonbValue *v;
	JsonbContainer *reqlines;
	char	   *resolution;
	char	   *notes = NULL;
	char	   *exchange_json = NULL;
	char	   *status;
	RmaLine    *lines;
	int			nlines;
	int			nreq;
	int			i;
	int64		rma_id;
	bool		authorized;

	OmsRequireArg(fcinfo, 0, "order_id");
	OmsRequireArg(fcinfo, 1, "rma");
	order_id = PG_GETARG_INT64(0);
	doc = PG_GETARG_JSONB_P(1);
	SPI_connect();
	JsonDocument = "RMA";
	if (!JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
		JsonInvalid("rma", "The RMA must be a JSON object.",
					"Send {\"lines\": [{\"sku\": ..., \"qty\": ..., \"reason\": ...}], \"resolution\": \"refund\"}.");
	JsonCheckKeys(&doc->root, top_keys, "the RMA");
	if ((v = JsonGet(&doc->root, "resolution", &buf)) == NULL)
		JsonInvalid("resolution", "The key resolution is required.", "Use refund, exchange or store_credit.");
	resolution = JsonString(v, "resolution", 32, true);
	if (strcmp(resolution, "refund") != 0 && strcmp(resolution, "exchange") != 0 && strcmp(resolution, "store_credit") != 0)
		JsonInvalid("resolution", psprintf("resolution must be refund, exchange or store_credit, not \"%s\".", resolution),
					"Use refund, exchange or store_credit.");
	if ((v = JsonGet(&doc->root, "notes", &buf)) != NULL)
	{
		notes = JsonString(v, "notes", 10000, false);
		OmsCheckNoCardNumber(notes, "notes");
	}
	if ((v = JsonGet(&doc->root, "exchange", &buf)) != NULL)
	{
		JsonbContainer *ex = JsonObject(v, "exchange");
		JsonbValue	ebuf;
		JsonbValue *el;
		JsonbContainer *exlines;
		StringInfoData out;
		int			n;

		if (strcmp(resolution, "exchange") != 0)
			JsonInvalid("exchange", "exchange is only for resolution exchange.", "Leave it out, or set resolution to exchange.");
		JsonCheckKeys(ex, exchange_keys, "exchange");
		if ((el = JsonGet(ex, "lines", &ebuf)) == NULL)
			JsonInvalid("exchange.lines", "exchange.lines is required.", "List the replacement items: [{\"sku\": ..., \"qty\": ...}].");
		exlines = JsonArray(el, "exchange.lines");
		n = JsonContainerSize(exlines);
		if (n == 0 || n > 100)
			JsonInvalid("exchange.lines", "exchange.lines needs 1 to 100 entries.", "List the replacement items.");
		initStringInfo(&out);
		appendStringInfoChar(&out, '[');
		for (i = 0; i < n; i++)
		{
			char	   *path = psprintf("exchange.lines[%d]", i);
			JsonbContainer *l = JsonObject(getIthJsonbValueFromContainer(exlines, i), path);
			JsonbValue	lbuf;
			JsonbValue *f;
			char	   *sku;
			int32		qty;
			OmsProduct	p;

			JsonCheckKeys(l, exline_keys, path);
			if ((f = JsonGet(l, "sku", &lbuf)) == NULL)
				JsonInvalid(psprintf("%s.sku", path), psprintf("%s.sku is required.", path), "Name the replacement by its sku.");
			sku = JsonString(f, psprintf("%s.sku", path), 64, true);
			if ((f = JsonGet(l, "qty", &lbuf)) == NULL)
				JsonInvalid(psprintf("%s.qty", path), psprintf("%s.qty is required.", path), "Give the number of units.");
			qty = JsonInt(f, psprintf("%s.qty", path), 1, 1000000, "Give the number of units, at least 1.");
			if (!OmsLookupProduct(sku, &p) || !p.active || p.kind == OMS_KIND_SERVICE)
				JsonInvalid(psprintf("%s.sku", path),
							psprintf("%s.sku \"%s\" is not an active stock product or kit.", path, sku),
							"Exchange for a product that can ship.");
			appendStringInfo(&out, "%s{\"sku\": ", i ? ", " : "");
			escape_json(&out, sku);
			appendStringInfo(&out, ", \"qty\": %d}", qty);
		}
		appendStringInfoChar(&out, ']');
		exchange_json = out.data;
	}
	else if (strcmp(resolution, "exchange") == 0)
		JsonInvalid("exchange", "resolution exchange needs exchange.lines, the replacement items.",
					"Add \"exchange\": {\"lines\": [{\"sku\": ..., \"qty\": ...}]}.");
	if ((v = JsonGet(&doc->root, "lines", &buf)) == NULL)
		JsonInvalid("lines", "The key lines is required.", "List what comes back: [{\"sku\": ..., \"qty\": ..., \"reason\": ...}].");
	reqlines = JsonArray(v, "lines");
	nreq = JsonContainerSize(reqlines);
	if (nreq == 0)
		JsonInvalid("lines", "lines is empty.", "An RMA returns at least one unit.");

	status = LifecycleLockOrder(order_id, NULL);
	LifecycleTouchOrder(order_id);
	if (strcmp(status, "shipped") != 0 && strcmp(status, "partially_shipped") != 0 && strcmp(status, "delivered") != 0 &&
		strcmp(status, "completed") != 0 && strcmp(status, "partially_returned") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order " INT64_FORMAT " cannot be returned: it is %s", order_id, status),
				 errdetail("Returns are accepted for orders that shipped (shipped, partially_shipped, delivered, completed, partially_returned)."),
				 errhint(strcmp(status, "returned") == 0 ? "Every shipped unit is already returned." : "Cancel the order instead, or wait until it ships.")));

	/* the return window: from delivery, or from shipping when not delivered */
	{
		Oid			types[1] = {INT8OID};
		Datum		values[1] = {Int64GetDatum(order_id)};

		OmsQuery(OmsPlan(&plan_window,
						 "SELECT pg_catalog.now() OPERATOR(pg_catalog.<=) (s.since OPERATOR(pg_catalog.+) pg_catalog.make_interval(days => c.return_window_days)), "
						 "       pg_catalog.to_char(s.since, 'YYYY-MM-DD'), c.return_window_days, s.delivered "
						 "  FROM oms.orders o JOIN oms.channels c ON c.id OPERATOR(pg_catalog.=) o.channel_id, "
						 "       LATERAL (SELECT COALESCE(pg_catalog.max(sh.delivered_at), pg_catalog.max(sh.shipped_at)) AS since, "
						 "                       pg_catalog.max(sh.delivered_at) IS NOT NULL AS delivered "
						 "                  FROM oms.shipments sh WHERE sh.order_id OPERATOR(pg_catalog.=) o.id "
						 "                   AND sh.status OPERATOR(pg_catalog.=) ANY ('{shipped,delivered}'::text[])) s "
						 " WHERE o.id OPERATOR(pg_catalog.=) $1",
						 1, types), values, NULL, 1);
		{
			bool		isnull;
			Datum		inside = OmsGetDatum(0, 1, &isnull);

			if (!isnull && !DatumGetBool(inside))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("order " INT64_FORMAT " is outside its return window", order_id),
						 errdetail("It was %s on %s and the channel accepts returns for %s days.",
								   DatumGetBool(OmsGetDatum(0, 4, NULL)) ? "delivered" : "shipped",
								   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2),
								   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3)),
						 errhint("Extend oms.channels.return_window_days, or handle it as a goodwill case outside oms.")));
		}
	}

	lines = RmaLoadLines(order_id, 0, &nlines);
	for (i = 0; i < nreq; i++)
	{
		char	   *path = psprintf("lines[%d]", i);
		JsonbContainer *l = JsonObject(getIthJsonbValueFromContainer(reqlines, i), path);
		JsonbValue	lbuf;
		JsonbValue *f;
		int			k;
		RmaLine    *line;

		JsonCheckKeys(l, line_keys, path);
		k = RmaFindLine(lines, nlines, l, path, order_id);
		line = &lines[k];
		if (line->qty > 0)
			JsonInvalid(path, psprintf("Line %d is listed twice.", line->line_no), "List each line once.");
		if ((f = JsonGet(l, "qty", &lbuf)) == NULL)
			JsonInvalid(psprintf("%s.qty", path), psprintf("%s.qty is required.", path), "Give the units coming back.");
		line->qty = JsonInt(f, psprintf("%s.qty", path), 1, 1000000, "Give the units coming back, at least 1.");
		if ((f = JsonGet(l, "reason", &lbuf)) == NULL)
			JsonInvalid(psprintf("%s.reason", path), psprintf("%s.reason is required.", path), "Give a code of oms.return_reasons.");
		line->reason = JsonString(f, psprintf("%s.reason", path), 63, true);
		if (line->kind == OMS_KIND_SERVICE)
			JsonInvalid(path, psprintf("Line %d (%s) is a service; services are not returned.", line->line_no, line->sku),
						"Refund a service with oms.refund_payment.");
		if (line->shipped == 0)
			JsonInvalid(path, psprintf("Line %d (%s) has not shipped.", line->line_no, line->sku),
						"Only shipped units can be returned; cancel what has not shipped.");
		if (line->qty > line->claimable)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid RMA: line %d asks to return more than is returnable", line->line_no),
					 errdetail("Line %d (%s) asks for %d unit(s); %d shipped, %d already in other RMAs, %d returnable.",
							   line->line_no, line->sku, line->qty, line->shipped, line->shipped - line->claimable,
							   Max(line->claimable, 0)),
					 errhint("Return at most the returnable units; see oms.get_rma for the open RMAs.")));
		{
			Oid			types[1] = {TEXTOID};
			Datum		values[1] = {CStringGetTextDatum(line->reason)};

			OmsQuery(OmsPlan(&plan_reason,
							 "SELECT EXISTS (SELECT FROM oms.return_reasons WHERE code OPERATOR(pg_catalog.=) $1 AND active), "
							 "       (SELECT pg_catalog.string_agg(code, ', ' ORDER BY code) FROM oms.return_reasons WHERE active)",
							 1, types), values, NULL, 1);
			if (!DatumGetBool(OmsGetDatum(0, 1, NULL)))
				JsonInvalid(psprintf("%s.reason", path),
							psprintf("%s.reason \"%s\" is not a return reason; the active reasons are: %s.", path, line->reason,
									 SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2)),
							"Use one of these codes; add reasons to oms.return_reasons with INSERT.");
		}
	}

	/* store credit needs a customer to credit */
	if (strcmp(resolution, "store_credit") == 0)
	{
		static SPIPlanPtr plan_cust = NULL;
		Oid			types[1] = {INT8OID};
		Datum		values[1] = {Int64GetDatum(order_id)};

		OmsQuery(OmsPlan(&plan_cust, "SELECT customer_id IS NOT NULL FROM oms.orders WHERE id OPERATOR(pg_catalog.=) $1",
						 1, types), values, NULL, 1);
		if (!DatumGetBool(OmsGetDatum(0, 1, NULL)))
			JsonInvalid("resolution", "Store credit needs a customer, and this is a guest order.",
						"Resolve with refund or exchange.");
	}

	/* the RMA, its lines with the value of a unit, and the auto-approval */
	{
		Oid			types[4] = {INT8OID, TEXTOID, TEXTOID, TEXTOID};
		Datum		values[4];
		char		nulls[4] = "    ";

		values[0] = Int64GetDatum(order_id);
		values[1] = CStringGetTextDatum(resolution);
		if (exchange_json)
			values[2] = CStringGetTextDatum(exchange_json);
		else
			nulls[2] = 'n';
		if (notes)
			values[3] = CStringGetTextDatum(notes);
		else
			nulls[3] = 'n';
		OmsExec(OmsPlan(&plan_insert,
						"INSERT INTO oms.rmas (order_id, resolution, value, exchange_lines, notes) "
						"VALUES ($1, $2, 0, $3::pg_catalog.jsonb, $4) RETURNING id",
						4, types), values, nulls, 1);
		rma_id = OmsGetInt64(0, 1, NULL);
	}
	{
		int64	   *ids = palloc(sizeof(int64) * (nlines + 1));
		int32	   *qtys = palloc(sizeof(int32) * (nlines + 1));
		Datum	   *reasons = palloc(sizeof(Datum) * (nlines + 1));
		int			k = 0;
		Oid			types[4] = {INT8OID, INT8ARRAYOID, INT4ARRAYOID, TEXTARRAYOID};
		Datum		values[4];

		for (i = 0; i < nlines; i++)
			if (lines[i].qty > 0)
			{
				ids[k] = lines[i].id;
				qtys[k] = lines[i].qty;
				reasons[k] = CStringGetTextDatum(lines[i].reason);
				k++;
			}
		values[0] = Int64GetDatum(rma_id);
		values[1] = PointerGetDatum(OmsInt8Array(ids, k));
		values[2] = PointerGetDatum(OmsInt4Array(qtys, k));
		values[3] = PointerGetDatum(construct_array(reasons, k, TEXTOID, -1, false, TYPALIGN_INT));
		OmsExec(OmsPlan(&plan_lines,
						"WITH l AS (INSERT INTO oms.rma_lines (rma_id, order_line_id, qty, reason, unit_value) "
						"           SELECT $1, x.line_id, x.qty, x.reason, "
						"                  pg_catalog.round((ol.unit_price OPERATOR(pg_catalog.*) ol.qty OPERATOR(pg_catalog.-) ol.discount "
						"                         OPERATOR(pg_catalog.+) ol.tax) OPERATOR(pg_catalog./) ol.qty, 4) "
						"             FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4)) AS x(line_id, qty, reason) "
						"             JOIN oms.order_lines ol ON ol.id OPERATOR(pg_catalog.=) x.line_id "
						"           RETURNING qty, unit_value) "
						"UPDATE oms.rmas SET value = (SELECT pg_catalog.sum(qty OPERATOR(pg_catalog.*) unit_value) FROM l) "
						" WHERE id OPERATOR(pg_catalog.=) $1",
						4, types), values, NULL, 0);
	}
	{
		Oid			types[1] = {INT8OID};
		Datum		values[1] = {Int64GetDatum(rma_id)};

		/* authorized at once when every reason allows it for this value */
		OmsExec(OmsPlan(&plan_auto,
						"UPDATE oms.rmas r SET status = 'authorized', authorized_at = pg_catalog.now() "
						" WHERE r.id OPERATOR(pg_catalog.=) $1 "
						"   AND r.value OPERATOR(pg_catalog.<=) (SELECT pg_catalog.min(rr.auto_approve_max) FROM oms.rma_lines rl "
						"                     JOIN oms.return_reasons rr ON rr.code OPERATOR(pg_catalog.=) rl.reason "
						"                    WHERE rl.rma_id OPERATOR(pg_catalog.=) r.id) "
						"   AND NOT EXISTS (SELECT FROM oms.rma_lines rl JOIN oms.return_reasons rr ON rr.code OPERATOR(pg_catalog.=) rl.reason "
						"                    WHERE rl.rma_id OPERATOR(pg_catalog.=) r.id AND rr.auto_approve_max IS NULL)",
						1, types), values, NULL, 0);
		authorized = SPI_processed == 1;
	}
	RmaEvent("rma_requested", order_id, rma_id, NULL);
	if (authorized)
		RmaEvent("rma_authorized", order_id, rma_id, "\"auto\": true");
	PG_RETURN_DATUM(OmsFinish(RmaDocument(rma_id, NULL)));
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
	OmsCheckNoCardNumber(reason, "reason");
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

/* ---- receive_rma ---- */

typedef struct RmaStock
{
	int64		product_id;
	int32		qty;
	bool		damaged;
} RmaStock;

static int
RmaStockCmp(const void *a, const void *b)
{
	const RmaStock *x = a;
	const RmaStock *y = b;

	if (x->product_id != y->product_id)
		return x->product_id < y->product_id ? -1 : 1;
	return (int) x->damaged - (int) y->damaged;
}

PG_FUNCTION_INFO_V1(receive_rma);
/*
 * oms.receive_rma(rma_id, location, lines): sellable units back into
 * on_hand (filling waiting backorders there, as a receipt does), damaged
 * ones into damaged, missing ones only counted. Kits come back as their
 * components.
 */
Datum
receive_rma(PG_FUNCTION_ARGS)
{
	static const char *const line_keys[] = {"line_no", "sku", "qty", "condition", NULL};
	static SPIPlanPtr plan_comp = NULL;
	static SPIPlanPtr plan_book = NULL;
	static SPIPlanPtr plan_status = NULL;
	static SPIPlanPtr plan_order = NULL;
	int64		rma_id;
	char	   *location;
	int32		location_id;
	bool		loc_active = false;
	bool		loc_found;
	Jsonb	   *doc;
	char	   *status;
	int64		order_id;
	RmaLine    *lines;
	int			nlines;
	int			n,
				i,
				j;
	RmaStock   *stock;
	int			nstock = 0;
	StringInfoData filled;
	char	   *ref;

	OmsRequireArg(fcinfo, 0, "rma_id");
	OmsRequireArg(fcinfo, 1, "location");
	OmsRequireArg(fcinfo, 2, "lines");
	rma_id = PG_GETARG_INT64(0);
	location = text_to_cstring(PG_GETARG_TEXT_PP(1));
	doc = PG_GETARG_JSONB_P(2);
	JsonDocument = "receipt";
	if (!JB_ROOT_IS_ARRAY(doc) || JB_ROOT_IS_SCALAR(doc))
		JsonInvalid("lines", "lines must be a JSON array of {\"sku\" or \"line_no\", \"qty\", \"condition\"}.",
					"condition is sellable, damaged or missing.");
	n = JsonContainerSize(&doc->root);
	if (n == 0)
		JsonInvalid("lines", "lines is empty.", "List what arrived.");

	SPI_connect();
	loc_found = OmsLookupLocation(location, &location_id, &loc_active);
	if (!loc_found || !loc_active)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s location \"%s\"", loc_found ? "inactive" : "unknown", location),
				 errdetail("Returns are received at an active location of oms.locations."),
				 errhint("Location codes are case-sensitive.")));
	order_id = RmaLock(rma_id, &status, NULL);
	if (strcmp(status, "authorized") != 0 && strcmp(status, "partially_received") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("RMA " INT64_FORMAT " cannot be received: it is %s", rma_id, status),
				 errdetail(strcmp(status, "requested") == 0 ? "Units are received for an authorized RMA."
						   : strcmp(status, "rejected") == 0 ? "A rejected RMA is not received."
						   : "Every unit of it has been received."),
				 errhint(strcmp(status, "requested") == 0 ? "Authorize it first with oms.authorize_rma()." : "Create a new RMA for other units.")));
	lines = RmaLoadLines(order_id, rma_id, &nlines);

	for (i = 0; i < n; i++)
	{
		char	   *path = psprintf("lines[%d]", i);
		JsonbContainer *l = JsonObject(getIthJsonbValueFromContainer(&doc->root, i), path);
		JsonbValue	lbuf;
		JsonbValue *f;
		RmaLine    *line;
		int32		qty;
		char	   *cond;

		JsonCheckKeys(l, line_keys, path);
		line = &lines[RmaFindLine(lines, nlines, l, path, order_id)];
		if (line->rma_line_id == 0)
			JsonInvalid(path, psprintf("Line %d (%s) is not in RMA " INT64_FORMAT ".", line->line_no, line->sku, rma_id),
						"Receive only what the RMA authorized.");
		if ((f = JsonGet(l, "qty", &lbuf)) == NULL)
			JsonInvalid(psprintf("%s.qty", path), psprintf("%s.qty is required.", path), "Give the units that arrived.");
		qty = JsonInt(f, psprintf("%s.qty", path), 1, 1000000, "Give the units that arrived, at least 1.");
		if ((f = JsonGet(l, "condition", &lbuf)) == NULL)
			JsonInvalid(psprintf("%s.condition", path), psprintf("%s.condition is required.", path), "Use sellable, damaged or missing.");
		cond = JsonString(f, psprintf("%s.condition", path), 16, true);
		if (strcmp(cond, "sellable") == 0)
			line->restocked += qty;
		else if (strcmp(cond, "damaged") == 0)
			line->damaged += qty;
		else if (strcmp(cond, "missing") == 0)
			line->missing += qty;
		else
			JsonInvalid(psprintf("%s.condition", path), psprintf("%s.condition must be sellable, damaged or missing, not \"%s\".", path, cond),
						"Use sellable, damaged or missing.");
	}
	for (i = 0; i < nlines; i++)
	{
		int32		got = lines[i].restocked + lines[i].damaged + lines[i].missing;

		if (got > lines[i].open)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid receipt: line %d receives more than the RMA authorized", lines[i].line_no),
					 errdetail("Line %d (%s): %d unit(s) in this receipt, %d still expected by RMA " INT64_FORMAT ".",
							   lines[i].line_no, lines[i].sku, got, lines[i].open, rma_id),
					 errhint("Receive extra units with a new RMA, or with oms.receive_stock.")));
	}

	/* the stock products behind the units (kits: their components) */
	stock = palloc(sizeof(RmaStock) * 64);
	{
		int			cap = 64;

		for (i = 0; i < nlines; i++)
		{
			int			pass;

			if (lines[i].restocked + lines[i].damaged == 0)
				continue;
			for (pass = 0; pass < 2; pass++)
			{
				int32		units = pass == 0 ? lines[i].restocked : lines[i].damaged;
				Oid			types[1] = {INT8OID};
				Datum		values[1] = {Int64GetDatum(lines[i].id)};

				if (units == 0)
					continue;
				OmsQuery(OmsPlan(&plan_comp,
								 "SELECT COALESCE(kc.component_id, ol.product_id), COALESCE(kc.qty, 1) "
								 "  FROM oms.order_lines ol JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) ol.product_id "
								 "  LEFT JOIN oms.kit_components kc ON p.kind OPERATOR(pg_catalog.=) 'kit' "
								 "       AND kc.kit_id OPERATOR(pg_catalog.=) p.id "
								 " WHERE ol.id OPERATOR(pg_catalog.=) $1",
								 1, types), values, NULL, 0);
				for (j = 0; j < (int) SPI_processed; j++)
				{
					if (nstock == cap)
					{
						cap *= 2;
						stock = repalloc(stock, sizeof(RmaStock) * cap);
					}
					stock[nstock].product_id = OmsGetInt64(j, 1, NULL);
					stock[nstock].qty = units * OmsGetInt32(j, 2, NULL);
					stock[nstock].damaged = pass == 1;
					nstock++;
				}
			}
		}
	}

	/* balance rows in ascending order, then backorders fill from sellable units */
	qsort(stock, nstock, sizeof(RmaStock), RmaStockCmp);
	ref = psprintf("RMA " INT64_FORMAT, rma_id);
	for (i = 0; i < nstock; i++)
		InventoryReturn(stock[i].product_id, location_id, stock[i].qty, stock[i].damaged, order_id, ref);
	initStringInfo(&filled);
	appendStringInfoChar(&filled, '[');
	for (i = 0; i < nstock; i++)
	{
		char	   *f;

		if (stock[i].damaged || (i > 0 && stock[i - 1].product_id == stock[i].product_id && !stock[i - 1].damaged))
			continue;
		f = InventoryFillBackorders(stock[i].product_id, location_id);
		if (strcmp(f, "[]") != 0)
			appendStringInfo(&filled, "%s%.*s", filled.len > 1 ? ", " : "", (int) strlen(f) - 2, f + 1);
	}
	appendStringInfoChar(&filled, ']');

	/* the RMA lines and the order lines */
	for (i = 0; i < nlines; i++)
	{
		Oid			types[5] = {INT8OID, INT8OID, INT4OID, INT4OID, INT4OID};
		Datum		values[5];

		if (lines[i].restocked + lines[i].damaged + lines[i].missing == 0)
			continue;
		values[0] = Int64GetDatum(lines[i].rma_line_id);
		values[1] = Int64GetDatum(lines[i].id);
		values[2] = Int32GetDatum(lines[i].restocked);
		values[3] = Int32GetDatum(lines[i].damaged);
		values[4] = Int32GetDatum(lines[i].missing);
		OmsExec(OmsPlan(&plan_book,
						"WITH rl AS (UPDATE oms.rma_lines SET qty_restocked = qty_restocked OPERATOR(pg_catalog.+) $3, "
						"                   qty_damaged = qty_damaged OPERATOR(pg_catalog.+) $4, "
						"                   qty_missing = qty_missing OPERATOR(pg_catalog.+) $5 "
						"             WHERE id OPERATOR(pg_catalog.=) $1 RETURNING id) "
						"UPDATE oms.order_lines SET qty_returned = qty_returned OPERATOR(pg_catalog.+) $3 OPERATOR(pg_catalog.+) $4 "
						" WHERE id OPERATOR(pg_catalog.=) $2",
						5, types), values, NULL, 0);
	}
	{
		Oid			types[1] = {INT8OID};
		Datum		values[1] = {Int64GetDatum(rma_id)};

		OmsExec(OmsPlan(&plan_status,
						"UPDATE oms.rmas r SET received_at = pg_catalog.now(), "
						"       status = CASE WHEN EXISTS (SELECT FROM oms.rma_lines rl WHERE rl.rma_id OPERATOR(pg_catalog.=) r.id "
						"                     AND rl.qty_restocked OPERATOR(pg_catalog.+) rl.qty_damaged OPERATOR(pg_catalog.+) rl.qty_missing "
						"                         OPERATOR(pg_catalog.<) rl.qty) THEN 'partially_received' ELSE 'received' END "
						" WHERE r.id OPERATOR(pg_catalog.=) $1",
						1, types), values, NULL, 0);
	}
	/* the order: returned when every shipped unit came back */
	{
		Oid			types[1] = {INT8OID};
		Datum		values[1] = {Int64GetDatum(order_id)};
		char	   *ostatus;
		bool		all;

		OmsQuery(OmsPlan(&plan_order,
						 "SELECT o.status, NOT EXISTS (SELECT FROM oms.order_lines l JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) l.product_id "
						 "                    WHERE l.order_id OPERATOR(pg_catalog.=) o.id AND p.kind OPERATOR(pg_catalog.<>) 'service' "
						 "                      AND (l.qty_returned OPERATOR(pg_catalog.<) l.qty_shipped OR l.qty_reserved OPERATOR(pg_catalog.>) 0 "
						 "                           OR l.qty_backordered OPERATOR(pg_catalog.>) 0)), "
						 "       EXISTS (SELECT FROM oms.order_lines l WHERE l.order_id OPERATOR(pg_catalog.=) o.id "
						 "                  AND l.qty_returned OPERATOR(pg_catalog.>) 0) "
						 "  FROM oms.orders o WHERE o.id OPERATOR(pg_catalog.=) $1",
						 1, types), values, NULL, 1);
		ostatus = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		all = DatumGetBool(OmsGetDatum(0, 2, NULL));
		if (DatumGetBool(OmsGetDatum(0, 3, NULL)))
		{
			const char *to = all ? "returned" : "partially_returned";

			if (strcmp(ostatus, to) != 0 &&
				(strcmp(ostatus, "shipped") == 0 || strcmp(ostatus, "delivered") == 0 ||
				 strcmp(ostatus, "completed") == 0 || strcmp(ostatus, "partially_returned") == 0))
				LifecycleChange(order_id, to, psprintf("RMA " INT64_FORMAT " received", rma_id), false);
		}
	}
	RmaEvent("rma_received", order_id, rma_id, psprintf("\"location\": \"%s\"", location));
	PG_RETURN_DATUM(OmsFinish(RmaDocument(rma_id, psprintf("{\"backorders_filled\": %s}", filled.data))));
}

/* ---- refund_rma ---- */

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
		Datum		order_doc;
		Datum		new_order;

		/* the replacement order, at zero price, through place_order */
		values[0] = Int64GetDatum(rma_id);
		OmsQuery(OmsPlan(&plan_order,
						 "SELECT pg_catalog.jsonb_build_object('channel', c.code, 'external_id', 'rma-' OPERATOR(pg_catalog.||) r.id, "
						 "         'currency', o.currency, 'policy', 'all_or_nothing', 'hold_minutes', 0, "
						 "         'notes', 'exchange for RMA ' OPERATOR(pg_catalog.||) r.id OPERATOR(pg_catalog.||) ' of order ' OPERATOR(pg_catalog.||) o.external_id, "
						 "         'lines', (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('sku', x ->> 'sku', 'qty', (x ->> 'qty')::int4, 'unit_price', 0)) "
						 "                     FROM pg_catalog.jsonb_array_elements(r.exchange_lines) x)) "
						 "       OPERATOR(pg_catalog.||) CASE WHEN o.ship_to IS NULL THEN '{}'::pg_catalog.jsonb "
						 "            ELSE pg_catalog.jsonb_build_object('ship_to', o.ship_to) END "
						 "       OPERATOR(pg_catalog.||) CASE WHEN cu.id IS NULL THEN '{}'::pg_catalog.jsonb "
						 "            ELSE pg_catalog.jsonb_build_object('customer', pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object( "
						 "                 'external_ref', cu.external_ref, 'email', cu.email, 'name', cu.name))) END "
						 "  FROM oms.rmas r JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) r.order_id "
						 "  JOIN oms.channels c ON c.id OPERATOR(pg_catalog.=) o.channel_id "
						 "  LEFT JOIN oms.customers cu ON cu.id OPERATOR(pg_catalog.=) o.customer_id "
						 " WHERE r.id OPERATOR(pg_catalog.=) $1",
						 1, types), values, NULL, 1);
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
			/* nothing to pay: the replacement is confirmed at once */
			LifecycleChange(new_id, "confirmed", psprintf("exchange for RMA " INT64_FORMAT, rma_id), true);
			result_json = psprintf("{\"exchange_order_id\": " INT64_FORMAT "}", new_id);
			summary = psprintf("replacement order " INT64_FORMAT " at no charge", new_id);
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
