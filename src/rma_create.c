/*-------------------------------------------------------------------------
 *
 * rma_create.c
 *	  oms.create_rma: a customer asks to return shipped units.
 *
 *	  create_rma, step by step
 *	  ------------------------
 *	  The SQL entry create_rma() reads as this list; the steps share an
 *	  RmaRequest.
 *	  1. RmaCreateParse: the document: resolution, notes, the exchange
 *	     items (active stock products or kits) and the requested lines,
 *	     each a 22023 naming the field.
 *	  2. RmaCreateLockAndCheck: lock (and write) the order; its status must
 *	     allow returns (LCAP_RETURNABLE).
 *	  3. RmaCreateCheckWindow: inside the channel's return window, counted
 *	     from delivery, or from shipping when not delivered.
 *	  4. RmaCreateClaimLines: each requested line names a shipped stock or
 *	     kit line of the order, once, with a reason of oms.return_reasons,
 *	     and fits in the line's claimable units (the claim rule of
 *	     returns.c).
 *	  5. RmaCreateCheckCustomer: store credit needs a customer to credit.
 *	  6. RmaCreateValueExchange: each exchange line gets its unit price:
 *	     the price paid per unit of the returned line of the same sku
 *	     (the lowest, when several lines return it), where its quantity is
 *	     at most the units of that sku coming back; otherwise the price
 *	     the document gives (required). The exchange value is the sum.
 *	  7. RmaCreateInsert: the RMA row, with the priced exchange lines.
 *	  8. RmaCreateInsertLines: its lines with the value of a unit, and the
 *	     RMA's value.
 *	  9. RmaCreateAutoApprove: authorized at once when every reason allows
 *	     it for the larger of the RMA's value and the exchange value (an
 *	     exchange for something dearer than what comes back is judged by
 *	     what goes out).
 *	  10. RmaCreateEmitEvents: rma_requested, and rma_authorized when
 *	     approved.
 *	  It returns the RMA document.
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
#include "returns.h"

/* the working state of one create_rma() call, filled step by step */
typedef struct RmaRequest
{
	/* RmaCreateParse */
	int64		order_id;
	char	   *resolution;
	char	   *notes;			/* NULL: none */
	char	   *exchange_json;	/* the priced replacement items as a JSON array; NULL: none */
	int			nex;			/* the replacement items, as parsed */
	char	  **ex_sku;
	int32	   *ex_qty;
	Datum	   *ex_price;		/* numeric; (Datum) 0: not given */
	Datum		exchange_value; /* numeric; RmaCreateValueExchange */
	JsonbContainer *reqlines;	/* the requested lines */
	int			nreq;
	/* RmaCreateClaimLines */
	RmaLine    *lines;			/* every line of the order; qty > 0: requested */
	int			nlines;
	/* RmaCreateInsert, RmaCreateAutoApprove */
	int64		rma_id;
	bool		authorized;
} RmaRequest;

static void RmaCreateParse(FunctionCallInfo fcinfo, RmaRequest *r);
static void RmaCreateLockAndCheck(RmaRequest *r);
static void RmaCreateCheckWindow(RmaRequest *r);
static void RmaCreateClaimLines(RmaRequest *r);
static void RmaCreateCheckCustomer(RmaRequest *r);
static void RmaCreateValueExchange(RmaRequest *r);
static void RmaCreateInsert(RmaRequest *r);
static void RmaCreateInsertLines(RmaRequest *r);
static void RmaCreateAutoApprove(RmaRequest *r);
static void RmaCreateEmitEvents(RmaRequest *r);

PG_FUNCTION_INFO_V1(create_rma);
/*
 * oms.create_rma(order_id, rma jsonb): the steps in the banner, in that
 * order.
 */
Datum
create_rma(PG_FUNCTION_ARGS)
{
	RmaRequest	r;

	memset(&r, 0, sizeof(r));
	SPI_connect();
	RmaCreateParse(fcinfo, &r);
	RmaCreateLockAndCheck(&r);
	RmaCreateCheckWindow(&r);
	RmaCreateClaimLines(&r);
	RmaCreateCheckCustomer(&r);
	RmaCreateValueExchange(&r);
	RmaCreateInsert(&r);
	RmaCreateInsertLines(&r);
	RmaCreateAutoApprove(&r);
	RmaCreateEmitEvents(&r);
	PG_RETURN_DATUM(OmsFinish(RmaDocument(r.rma_id, NULL)));
}

/*
 * The most units of one sku an exchange line may ask for when that sku is
 * not coming back (when it is, the units coming back are the limit).
 */
#define RMA_EXCHANGE_MAX_QTY 1000

/* the exchange items [{"sku", "qty", "unit_price"}] into r->ex_* */
static void
RmaCreateParseExchange(JsonbValue *v, RmaRequest *r)
{
	static const char *const exchange_keys[] = {"lines", NULL};
	static const char *const exline_keys[] = {"sku", "qty", "unit_price", NULL};
	JsonbContainer *ex = JsonObject(v, "exchange");
	JsonbValue	ebuf;
	JsonbValue *el;
	JsonbContainer *exlines;
	int			n;
	int			i;

	JsonCheckKeys(ex, exchange_keys, "exchange");
	if ((el = JsonGet(ex, "lines", &ebuf)) == NULL)
		JsonInvalid("exchange.lines", "exchange.lines is required.", "List the replacement items: [{\"sku\": ..., \"qty\": ...}].");
	exlines = JsonArray(el, "exchange.lines");
	n = JsonContainerSize(exlines);
	if (n == 0 || n > 100)
		JsonInvalid("exchange.lines", "exchange.lines needs 1 to 100 entries.", "List the replacement items.");
	r->nex = n;
	r->ex_sku = palloc(sizeof(char *) * n);
	r->ex_qty = palloc(sizeof(int32) * n);
	r->ex_price = palloc0(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
	{
		char	   *path = psprintf("exchange.lines[%d]", i);
		JsonbContainer *l = JsonObject(getIthJsonbValueFromContainer(exlines, i), path);
		JsonbValue	lbuf;
		JsonbValue *f;
		char	   *sku;
		OmsProduct	p;
		int			k;

		JsonCheckKeys(l, exline_keys, path);
		if ((f = JsonGet(l, "sku", &lbuf)) == NULL)
			JsonInvalid(psprintf("%s.sku", path), psprintf("%s.sku is required.", path), "Name the replacement by its sku.");
		sku = JsonString(f, psprintf("%s.sku", path), OMS_MAX_SKU_CHARS, true);
		if ((f = JsonGet(l, "qty", &lbuf)) == NULL)
			JsonInvalid(psprintf("%s.qty", path), psprintf("%s.qty is required.", path), "Give the number of units.");
		r->ex_qty[i] = JsonInt(f, psprintf("%s.qty", path), 1, RMA_EXCHANGE_MAX_QTY,
							   "Give the number of units, 1 to 1000 (for an item that comes back, at most the units coming back).");
		if ((f = JsonGet(l, "unit_price", &lbuf)) != NULL)
		{
			r->ex_price[i] = JsonMoney(f, psprintf("%s.unit_price", path));
			if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, r->ex_price[i],
												  DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) <= 0)
				JsonInvalid(psprintf("%s.unit_price", path), psprintf("%s.unit_price must be greater than 0.", path),
							"Give the price of one replacement unit in the order's currency.");
		}
		if (!OmsLookupProduct(sku, &p) || !p.active || p.kind == OMS_KIND_SERVICE)
			JsonInvalid(psprintf("%s.sku", path),
						psprintf("%s.sku \"%s\" is not an active stock product or kit.", path, sku),
						"Exchange for a product that can ship.");
		for (k = 0; k < i; k++)
			if (strcmp(r->ex_sku[k], sku) == 0)
				JsonInvalid(psprintf("%s.sku", path), psprintf("%s.sku \"%s\" is listed twice.", path, sku),
							"List each replacement sku once, with the total quantity.");
		r->ex_sku[i] = sku;
	}
}

/* 1. the document, before any lock */
static void
RmaCreateParse(FunctionCallInfo fcinfo, RmaRequest *r)
{
	static const char *const top_keys[] = {"lines", "resolution", "exchange", "notes", NULL};
	Jsonb	   *doc;
	JsonbValue	buf;
	JsonbValue *v;

	OmsRequireArg(fcinfo, 0, "order_id");
	OmsRequireArg(fcinfo, 1, "rma");
	r->order_id = PG_GETARG_INT64(0);
	doc = PG_GETARG_JSONB_P(1);
	JsonDocument = "RMA";
	if (!JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
		JsonInvalid("rma", "The RMA must be a JSON object.",
					"Send {\"lines\": [{\"sku\": ..., \"qty\": ..., \"reason\": ...}], \"resolution\": \"refund\"}.");
	JsonCheckKeys(&doc->root, top_keys, "the RMA");
	if ((v = JsonGet(&doc->root, "resolution", &buf)) == NULL)
		JsonInvalid("resolution", "The key resolution is required.", "Use refund, exchange or store_credit.");
	r->resolution = JsonString(v, "resolution", 32, true);
	if (strcmp(r->resolution, "refund") != 0 && strcmp(r->resolution, "exchange") != 0 &&
		strcmp(r->resolution, "store_credit") != 0)
		JsonInvalid("resolution", psprintf("resolution must be refund, exchange or store_credit, not \"%s\".", r->resolution),
					"Use refund, exchange or store_credit.");
	if ((v = JsonGet(&doc->root, "notes", &buf)) != NULL)
		r->notes = JsonText(v, "notes", OMS_MAX_REASON_CHARS);
	if ((v = JsonGet(&doc->root, "exchange", &buf)) != NULL)
	{
		(void) JsonObject(v, "exchange");
		if (strcmp(r->resolution, "exchange") != 0)
			JsonInvalid("exchange", "exchange is only for resolution exchange.", "Leave it out, or set resolution to exchange.");
		RmaCreateParseExchange(v, r);
	}
	else if (strcmp(r->resolution, "exchange") == 0)
		JsonInvalid("exchange", "resolution exchange needs exchange.lines, the replacement items.",
					"Add \"exchange\": {\"lines\": [{\"sku\": ..., \"qty\": ...}]}.");
	if ((v = JsonGet(&doc->root, "lines", &buf)) == NULL)
		JsonInvalid("lines", "The key lines is required.", "List what comes back: [{\"sku\": ..., \"qty\": ..., \"reason\": ...}].");
	r->reqlines = JsonArray(v, "lines");
	r->nreq = JsonContainerSize(r->reqlines);
	if (r->nreq == 0)
		JsonInvalid("lines", "lines is empty.", "An RMA returns at least one unit.");
}

/*
 * 2. Lock (and write) the order; it must allow returns. The hint tells an
 * order whose shipped units all came back (it holds nothing, did not end
 * unfulfilled and allows no return: returned) from one that has not
 * shipped yet.
 */
static void
RmaCreateLockAndCheck(RmaRequest *r)
{
	char	   *status;

	status = LifecycleLockOrder(r->order_id, NULL);
	LifecycleTouchOrder(r->order_id);
	if (!LifecycleAllows(status, LCAP_RETURNABLE))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order " INT64_FORMAT " cannot be returned: it is %s", r->order_id, status),
				 errdetail("Returns are accepted for orders that shipped (shipped, partially_shipped, delivered, completed, partially_returned)."),
				 errhint(!LifecycleAllows(status, LCAP_HOLDS_STOCK) && !LifecycleAllows(status, LCAP_TERMINAL) &&
						 LifecycleAllows(status, LCAP_COUNTS_AS_SALE)
						 ? "Every shipped unit is already returned." : "Cancel the order instead, or wait until it ships.")));
}

/* 3. the return window: from delivery, or from shipping when not delivered */
static void
RmaCreateCheckWindow(RmaRequest *r)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(r->order_id)};
	bool		isnull;
	Datum		inside;

	OmsQuery(OmsPlan(&plan,
					 "SELECT pg_catalog.now() OPERATOR(pg_catalog.<=) (s.since OPERATOR(pg_catalog.+) pg_catalog.make_interval(days => c.return_window_days)), "
					 "       pg_catalog.to_char(s.since, 'YYYY-MM-DD'), c.return_window_days, s.delivered "
					 "  FROM oms.orders o JOIN oms.channels c ON c.id OPERATOR(pg_catalog.=) o.channel_id, "
					 "       LATERAL (SELECT COALESCE(pg_catalog.max(sh.delivered_at), pg_catalog.max(sh.shipped_at)) AS since, "
					 "                       pg_catalog.max(sh.delivered_at) IS NOT NULL AS delivered "
					 "                  FROM oms.shipments sh WHERE sh.order_id OPERATOR(pg_catalog.=) o.id "
					 "                   AND sh.status OPERATOR(pg_catalog.=) ANY ('{shipped,delivered}'::text[])) s "
					 " WHERE o.id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	inside = OmsGetDatum(0, 1, &isnull);
	if (!isnull && !DatumGetBool(inside))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order " INT64_FORMAT " is outside its return window", r->order_id),
				 errdetail("It was %s on %s and the channel accepts returns for %s days.",
						   DatumGetBool(OmsGetDatum(0, 4, NULL)) ? "delivered" : "shipped",
						   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2),
						   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3)),
				 errhint("Extend oms.channels.return_window_days, or handle it as a goodwill case outside oms.")));
}

/* 4. the requested lines against the order's lines and their claims */
static void
RmaCreateClaimLines(RmaRequest *r)
{
	static const char *const line_keys[] = {"line_no", "sku", "qty", "reason", NULL};
	static SPIPlanPtr plan_reason = NULL;
	int			i;

	r->lines = RmaLoadLines(r->order_id, 0, &r->nlines);
	for (i = 0; i < r->nreq; i++)
	{
		char	   *path = psprintf("lines[%d]", i);
		JsonbContainer *l = JsonObject(getIthJsonbValueFromContainer(r->reqlines, i), path);
		JsonbValue	lbuf;
		JsonbValue *f;
		int			k;
		RmaLine    *line;

		JsonCheckKeys(l, line_keys, path);
		k = RmaFindLine(r->lines, r->nlines, l, path, r->order_id);
		line = &r->lines[k];
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
}

/* 5. store credit needs a customer to credit */
static void
RmaCreateCheckCustomer(RmaRequest *r)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(r->order_id)};

	if (strcmp(r->resolution, "store_credit") != 0)
		return;
	OmsQuery(OmsPlan(&plan, "SELECT customer_id IS NOT NULL FROM oms.orders WHERE id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	if (!DatumGetBool(OmsGetDatum(0, 1, NULL)))
		JsonInvalid("resolution", "Store credit needs a customer, and this is a guest order.",
					"Resolve with refund or exchange.");
}

/*
 * 6. The exchange lines priced, and the exchange value (see the banner).
 * A replacement of a returned sku is exchanged at the price paid for it,
 * so an even swap costs nothing more; anything else carries the price the
 * document gives. Each exchange line is a 22023 naming the field.
 */
static void
RmaCreateValueExchange(RmaRequest *r)
{
	static SPIPlanPtr plan = NULL;
	int64	   *ids;
	int			k = 0;
	int			i;
	Datum		total = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
	Datum		limit = DirectFunctionCall1(int8_numeric, Int64GetDatum(INT64CONST(1000000000000)));
	StringInfoData out;

	if (r->nex == 0)
		return;
	ids = palloc(sizeof(int64) * (r->nlines + 1));
	for (i = 0; i < r->nlines; i++)
		if (r->lines[i].qty > 0)
			ids[k++] = r->lines[i].id;
	initStringInfo(&out);
	appendStringInfoChar(&out, '[');
	for (i = 0; i < r->nex; i++)
	{
		char	   *path = psprintf("exchange.lines[%d]", i);
		int32		back = 0;
		Datum		price;
		int			j;

		for (j = 0; j < r->nlines; j++)
			if (r->lines[j].qty > 0 && strcmp(r->lines[j].sku, r->ex_sku[i]) == 0)
				back += r->lines[j].qty;
		if (back > 0)
		{
			Oid			types[2] = {INT8ARRAYOID, TEXTOID};
			Datum		values[2] = {PointerGetDatum(OmsInt8Array(ids, k)), CStringGetTextDatum(r->ex_sku[i])};

			if (r->ex_qty[i] > back)
				JsonInvalid(psprintf("%s.qty", path),
							psprintf("%s.qty %d exceeds the %d unit(s) of %s coming back.", path, r->ex_qty[i], back, r->ex_sku[i]),
							"Exchange a returned item for at most as many units as come back; order more with a new order.");
			/* the price paid per unit, as the RMA lines value it */
			OmsQuery(OmsPlan(&plan,
							 "SELECT pg_catalog.min(pg_catalog.round((ol.unit_price OPERATOR(pg_catalog.*) ol.qty OPERATOR(pg_catalog.-) ol.discount "
							 "                  OPERATOR(pg_catalog.+) ol.tax) OPERATOR(pg_catalog./) ol.qty, 4)) "
							 "  FROM oms.order_lines ol JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) ol.product_id "
							 " WHERE ol.id OPERATOR(pg_catalog.=) ANY ($1) AND p.sku OPERATOR(pg_catalog.=) $2",
							 2, types), values, NULL, 1);
			price = SPI_datumTransfer(OmsGetDatum(0, 1, NULL), false, -1);
			if (r->ex_price[i] != (Datum) 0 &&
				DatumGetInt32(DirectFunctionCall2(numeric_cmp, r->ex_price[i], price)) != 0)
				JsonInvalid(psprintf("%s.unit_price", path),
							psprintf("%s.unit_price %s differs from the %s paid per unit of the returned %s.", path,
									 DatumGetCString(DirectFunctionCall1(numeric_out, r->ex_price[i])),
									 DatumGetCString(DirectFunctionCall1(numeric_out, price)), r->ex_sku[i]),
							"Leave unit_price out for an item that comes back: it is exchanged at the price paid.");
		}
		else
		{
			if (r->ex_price[i] == (Datum) 0)
				JsonInvalid(psprintf("%s.unit_price", path),
							psprintf("%s.unit_price is required: %s is not among the items coming back.", path, r->ex_sku[i]),
							"Give the price of one replacement unit; the value above what comes back is paid on the replacement order.");
			price = r->ex_price[i];
		}
		total = DirectFunctionCall2(numeric_add, total,
									DirectFunctionCall2(numeric_mul, price, DirectFunctionCall1(int4_numeric, Int32GetDatum(r->ex_qty[i]))));
		if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, total, limit)) >= 0)
			JsonInvalid("exchange.lines", "The exchange is worth 1000000000000 or more.",
						"Exchange for less, or place an order for the rest.");
		appendStringInfo(&out, "%s{\"sku\": ", i ? ", " : "");
		escape_json(&out, r->ex_sku[i]);
		appendStringInfo(&out, ", \"qty\": %d, \"unit_price\": %s}", r->ex_qty[i],
						 DatumGetCString(DirectFunctionCall1(numeric_out, price)));
	}
	appendStringInfoChar(&out, ']');
	r->exchange_json = out.data;
	r->exchange_value = total;
}

/* 7. the RMA row */
static void
RmaCreateInsert(RmaRequest *r)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[5] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, NUMERICOID};
	Datum		values[5];
	char		nulls[5] = "     ";

	values[4] = r->exchange_json ? r->exchange_value : DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
	values[0] = Int64GetDatum(r->order_id);
	values[1] = CStringGetTextDatum(r->resolution);
	if (r->exchange_json)
		values[2] = CStringGetTextDatum(r->exchange_json);
	else
		nulls[2] = 'n';
	if (r->notes)
		values[3] = CStringGetTextDatum(r->notes);
	else
		nulls[3] = 'n';
	OmsExec(OmsPlan(&plan,
					"INSERT INTO oms.rmas (order_id, resolution, value, exchange_lines, notes, exchange_value) "
					"VALUES ($1, $2, 0, $3::pg_catalog.jsonb, $4, $5) RETURNING id",
					5, types), values, nulls, 1);
	r->rma_id = OmsGetInt64(0, 1, NULL);
}

/* 8. the RMA lines with the value of a unit, and the RMA's value */
static void
RmaCreateInsertLines(RmaRequest *r)
{
	static SPIPlanPtr plan = NULL;
	int64	   *ids = palloc(sizeof(int64) * (r->nlines + 1));
	int32	   *qtys = palloc(sizeof(int32) * (r->nlines + 1));
	Datum	   *reasons = palloc(sizeof(Datum) * (r->nlines + 1));
	int			k = 0;
	int			i;
	Oid			types[4] = {INT8OID, INT8ARRAYOID, INT4ARRAYOID, TEXTARRAYOID};
	Datum		values[4];

	for (i = 0; i < r->nlines; i++)
		if (r->lines[i].qty > 0)
		{
			ids[k] = r->lines[i].id;
			qtys[k] = r->lines[i].qty;
			reasons[k] = CStringGetTextDatum(r->lines[i].reason);
			k++;
		}
	values[0] = Int64GetDatum(r->rma_id);
	values[1] = PointerGetDatum(OmsInt8Array(ids, k));
	values[2] = PointerGetDatum(OmsInt4Array(qtys, k));
	values[3] = PointerGetDatum(construct_array(reasons, k, TEXTOID, -1, false, TYPALIGN_INT));
	OmsExec(OmsPlan(&plan,
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

/*
 * 9. authorized at once when every reason allows it for the larger of the
 * RMA's value and its exchange value
 */
static void
RmaCreateAutoApprove(RmaRequest *r)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(r->rma_id)};

	OmsExec(OmsPlan(&plan,
					"UPDATE oms.rmas r SET status = 'authorized', authorized_at = pg_catalog.now() "
					" WHERE r.id OPERATOR(pg_catalog.=) $1 "
					"   AND GREATEST(r.value, r.exchange_value) OPERATOR(pg_catalog.<=) (SELECT pg_catalog.min(rr.auto_approve_max) FROM oms.rma_lines rl "
					"                     JOIN oms.return_reasons rr ON rr.code OPERATOR(pg_catalog.=) rl.reason "
					"                    WHERE rl.rma_id OPERATOR(pg_catalog.=) r.id) "
					"   AND NOT EXISTS (SELECT FROM oms.rma_lines rl JOIN oms.return_reasons rr ON rr.code OPERATOR(pg_catalog.=) rl.reason "
					"                    WHERE rl.rma_id OPERATOR(pg_catalog.=) r.id AND rr.auto_approve_max IS NULL)",
					1, types), values, NULL, 0);
	r->authorized = SPI_processed == 1;
}

/* 10. the events */
static void
RmaCreateEmitEvents(RmaRequest *r)
{
	RmaEvent("rma_requested", r->order_id, r->rma_id, NULL);
	if (r->authorized)
		RmaEvent("rma_authorized", r->order_id, r->rma_id, "\"auto\": true");
}
