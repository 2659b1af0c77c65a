/*-------------------------------------------------------------------------
 *
 * rma_receive.c
 *	  oms.receive_rma: the units of an authorized RMA arrive at a location.
 *	  Sellable units go back into on_hand (filling waiting backorders there,
 *	  as a receipt does), damaged ones into damaged, missing ones are only
 *	  counted; kits come back as their components. When units came back the
 *	  order becomes partially_returned or returned.
 *
 *	  Locking: the order row, then the RMA (RmaLock, returns.c), then the
 *	  balance rows in (product, location) order through InventoryReturn.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "oms.h"
#include "returns.h"

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
	rma_id = PG_GETARG_INT64(0);
	location = OmsIdentifierArg(fcinfo, 1, "location", OMS_MAX_CODE_CHARS);
	OmsRequireArg(fcinfo, 2, "lines");
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

			/*
			 * Only an order that shipped completely (returnable, holding no
			 * stock any more) moves; one still shipping keeps its status.
			 */
			if (strcmp(ostatus, to) != 0 &&
				LifecycleAllows(ostatus, LCAP_RETURNABLE) && !LifecycleAllows(ostatus, LCAP_HOLDS_STOCK))
				LifecycleChange(order_id, to, psprintf("RMA " INT64_FORMAT " received", rma_id), false);
		}
	}
	RmaEvent("rma_received", order_id, rma_id, psprintf("\"location\": \"%s\"", location));
	PG_RETURN_DATUM(OmsFinish(RmaDocument(rma_id, psprintf("{\"backorders_filled\": %s}", filled.data))));
}
