/*-------------------------------------------------------------------------
 *
 * po_receive.c
 *	  oms.receive_purchase_order: goods arrive against a purchase order.
 *	  Sellable units are booked through the receipt path of receive_stock
 *	  (InventoryReceiveUnits, movement kind receipt, the purchase order as
 *	  reference) and fill waiting backorders there (InventoryFillBackorders:
 *	  VIP orders first, then the oldest); damaged units go to damaged. Every
 *	  unit received is valued at its cost (valuation.c: Dr inventory, Cr
 *	  goods received not invoiced). Over-receipt beyond
 *	  oms.over_receipt_percent of a line is refused. The purchase order
 *	  becomes partially_received or received.
 *
 *	  Locking: the purchase order row, its lines, then the balance rows in
 *	  ascending product order (one location), then the valuation rows in the
 *	  same order (valuation.c).
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
#include "utils/numeric.h"

#include "oms.h"

typedef struct PoLine
{
	int64		id;
	int32		line_no;
	int64		product_id;
	char	   *sku;
	int32		ordered;
	int32		received;
	Datum		unit_cost;
	int32		sellable;		/* this receipt */
	int32		damaged;		/* this receipt */
	Datum		cost;			/* this receipt's unit cost */
	bool		cost_given;
} PoLine;

static int
PoLineCmp(const void *a, const void *b)
{
	const PoLine *x = a;
	const PoLine *y = b;

	if (x->product_id != y->product_id)
		return x->product_id < y->product_id ? -1 : 1;
	return 0;
}

PG_FUNCTION_INFO_V1(receive_purchase_order);
/*
 * oms.receive_purchase_order(po, location, lines): lines is an array of
 * {"line" or "sku", "qty", "condition" (sellable, the default, or damaged),
 * "unit_cost" (the invoiced cost, when it differs from the line's)}.
 */
Datum
receive_purchase_order(PG_FUNCTION_ARGS)
{
	static const char *const keys[] = {"line", "sku", "qty", "condition", "unit_cost", NULL};
	static SPIPlanPtr plan_po = NULL;
	static SPIPlanPtr plan_lines = NULL;
	static SPIPlanPtr plan_book = NULL;
	static SPIPlanPtr plan_receipt = NULL;
	static SPIPlanPtr plan_status = NULL;
	int64		po_id;
	char	   *location;
	int32		location_id;
	bool		active = false;
	bool		found;
	Jsonb	   *doc;
	char	   *status;
	char	   *currency;
	int32		po_location;
	PoLine	   *lines;
	int			nlines;
	int			n,
				i,
				k;
	char	   *reference;
	StringInfoData filled;
	bool		first = true;
	Oid			t1[1] = {INT8OID};
	Datum		v1[1];
	char	   *new_status;
	Datum		result;

	OmsRequireArg(fcinfo, 0, "purchase_order_id");
	po_id = PG_GETARG_INT64(0);
	location = OmsIdentifierArg(fcinfo, 1, "location", OMS_MAX_CODE_CHARS);
	OmsRequireArg(fcinfo, 2, "lines");
	doc = PG_GETARG_JSONB_P(2);
	JsonDocument = "receipt";
	if (!JB_ROOT_IS_ARRAY(doc) || JB_ROOT_IS_SCALAR(doc))
		JsonInvalid("lines", "lines must be a JSON array of {\"line\" or \"sku\", \"qty\", \"condition\", \"unit_cost\"}.",
					"condition is sellable (the default) or damaged.");
	n = JsonContainerSize(&doc->root);
	if (n == 0)
		JsonInvalid("lines", "lines is empty.", "List what arrived.");
	if (n > 1000)
		JsonInvalid("lines", psprintf("lines has %d entries; at most 1000 are allowed.", n), "Receive in several calls.");

	SPI_connect();
	found = OmsLookupLocation(location, &location_id, &active);
	if (!found || !active)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s location \"%s\"", found ? "inactive" : "unknown", location),
				 errdetail("Goods are received at an active location of oms.locations."),
				 errhint("Location codes are case-sensitive.")));

	v1[0] = Int64GetDatum(po_id);
	OmsQuery(OmsPlan(&plan_po,
					 "SELECT po.status, po.currency, po.location_id, s.receivable FROM oms.purchase_orders po "
					 "  JOIN oms.purchase_order_statuses s ON s.status OPERATOR(pg_catalog.=) po.status "
					 " WHERE po.id OPERATOR(pg_catalog.=) $1 FOR UPDATE OF po",
					 1, t1), v1, NULL, 1);
	if (SPI_processed == 0)
		PurchasingNotFound(po_id);
	status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	currency = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	po_location = OmsGetInt32(0, 3, NULL);
	if (!DatumGetBool(OmsGetDatum(0, 4, NULL)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("purchase order " INT64_FORMAT " cannot be received: it is %s", po_id, status),
				 errdetail(strcmp(status, "draft") == 0 ? "A draft has not been sent to the supplier."
						   : "Nothing more is expected on it."),
				 errhint(strcmp(status, "draft") == 0 ? "Send it with oms.send_purchase_order() first."
						 : "Book unexpected goods with oms.receive_stock, or on a new purchase order.")));
	if (po_location != location_id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("purchase order " INT64_FORMAT " is not delivered to \"%s\"", po_id, location),
				 errdetail("Its goods are expected at another location."),
				 errhint("Receive it at its delivery location (oms.get_purchase_order shows it), then move the stock.")));

	OmsQuery(OmsPlan(&plan_lines,
					 "SELECT pl.id, pl.line_no, pl.product_id, p.sku, pl.qty_ordered, pl.qty_received, pl.unit_cost "
					 "  FROM oms.purchase_order_lines pl JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) pl.product_id "
					 " WHERE pl.purchase_order_id OPERATOR(pg_catalog.=) $1 ORDER BY pl.line_no FOR UPDATE OF pl",
					 1, t1), v1, NULL, 0);
	nlines = (int) SPI_processed;
	lines = palloc0(sizeof(PoLine) * Max(nlines, 1));
	for (i = 0; i < nlines; i++)
	{
		lines[i].id = OmsGetInt64(i, 1, NULL);
		lines[i].line_no = OmsGetInt32(i, 2, NULL);
		lines[i].product_id = OmsGetInt64(i, 3, NULL);
		lines[i].sku = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 4);
		lines[i].ordered = OmsGetInt32(i, 5, NULL);
		lines[i].received = OmsGetInt32(i, 6, NULL);
		lines[i].unit_cost = SPI_datumTransfer(OmsGetDatum(i, 7, NULL), false, -1);
		lines[i].cost = lines[i].unit_cost;
	}

	for (i = 0; i < n; i++)
	{
		char	   *path = psprintf("lines[%d]", i);
		JsonbContainer *l = JsonObject(getIthJsonbValueFromContainer(&doc->root, i), path);
		JsonbValue	buf;
		JsonbValue *fl;
		JsonbValue *fs;
		JsonbValue *f;
		PoLine	   *line = NULL;
		int32		qty;
		bool		damaged = false;

		JsonCheckKeys(l, keys, path);
		fl = JsonGet(l, "line", &buf);
		if (fl)
		{
			int32		line_no = JsonInt(fl, psprintf("%s.line", path), 1, 1000000, "Give the purchase order's line number.");

			for (k = 0; k < nlines; k++)
				if (lines[k].line_no == line_no)
					line = &lines[k];
			if (!line)
				JsonInvalid(psprintf("%s.line", path), psprintf("Purchase order " INT64_FORMAT " has no line %d.", po_id, line_no),
							"oms.get_purchase_order() lists its lines.");
		}
		fs = JsonGet(l, "sku", &buf);
		if (fs)
		{
			char	   *sku = JsonString(fs, psprintf("%s.sku", path), OMS_MAX_SKU_CHARS, true);
			PoLine	   *by_sku = NULL;

			for (k = 0; k < nlines; k++)
				if (strcmp(lines[k].sku, sku) == 0)
					by_sku = &lines[k];
			if (!by_sku)
				JsonInvalid(psprintf("%s.sku", path), psprintf("Purchase order " INT64_FORMAT " has no line for sku \"%s\".", po_id, sku),
							"Book goods that were not ordered with oms.receive_stock.");
			if (line && line != by_sku)
				JsonInvalid(path, psprintf("Line %d is not sku \"%s\".", line->line_no, sku), "Give line or sku, or both of the same line.");
			line = by_sku;
		}
		if (!line)
			JsonInvalid(path, psprintf("%s needs \"line\" or \"sku\".", path), "Name the purchase order line the goods are for.");
		if ((f = JsonGet(l, "qty", &buf)) == NULL)
			JsonInvalid(psprintf("%s.qty", path), psprintf("%s.qty is required.", path), "Give the units that arrived.");
		qty = JsonInt(f, psprintf("%s.qty", path), 1, 1000000000, "Give the units that arrived, at least 1.");
		if ((f = JsonGet(l, "condition", &buf)) != NULL)
		{
			char	   *cond = JsonString(f, psprintf("%s.condition", path), 16, true);

			if (strcmp(cond, "damaged") == 0)
				damaged = true;
			else if (strcmp(cond, "sellable") != 0)
				JsonInvalid(psprintf("%s.condition", path),
							psprintf("%s.condition must be sellable or damaged, not \"%s\".", path, cond),
							"Use sellable or damaged.");
		}
		if ((f = JsonGet(l, "unit_cost", &buf)) != NULL && f->type != jbvNull)
		{
			Datum		cost = JsonMoney(f, psprintf("%s.unit_cost", path));

			if (line->cost_given && DatumGetInt32(DirectFunctionCall2(numeric_cmp, cost, line->cost)) != 0)
				JsonInvalid(psprintf("%s.unit_cost", path), psprintf("Line %d is given two different unit costs.", line->line_no),
							"Give one unit cost per line and receipt.");
			line->cost = cost;
			line->cost_given = true;
		}
		if ((int64) line->sellable + line->damaged + qty > 1000000000)
			JsonInvalid(psprintf("%s.qty", path), "More than 1000000000 units for one line.", "Check the quantities.");
		if (damaged)
			line->damaged += qty;
		else
			line->sellable += qty;
	}

	/* over-receipt: at most ordered * (1 + oms.over_receipt_percent / 100) */
	for (i = 0; i < nlines; i++)
	{
		int64		limit = (int64) lines[i].ordered + (int64) lines[i].ordered * oms_over_receipt_percent / 100;
		int64		total = (int64) lines[i].received + lines[i].sellable + lines[i].damaged;

		if (total > limit)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid receipt: line %d of purchase order " INT64_FORMAT " would be over-received", lines[i].line_no, po_id),
					 errdetail("Line %d (%s): %d ordered, %d received before, %d in this receipt; oms.over_receipt_percent = %d allows " INT64_FORMAT ".",
							   lines[i].line_no, lines[i].sku, lines[i].ordered, lines[i].received,
							   lines[i].sellable + lines[i].damaged, oms_over_receipt_percent, limit),
					 errhint("Receive the extra units with oms.receive_stock, or raise oms.over_receipt_percent.")));
	}
	/* a product valued in another currency is refused before anything is written */
	for (i = 0; i < nlines; i++)
	{
		char	   *held;

		if (lines[i].sellable + lines[i].damaged == 0)
			continue;
		held = ValuationCurrency(lines[i].product_id);
		if (held && strcmp(held, currency) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("product \"%s\" is valued in %s, purchase order " INT64_FORMAT " is in %s", lines[i].sku, held, po_id, currency),
					 errdetail("A product's stock is valued at moving average cost in one currency, that of its first valued receipt."),
					 errhint("Order it in %s.", held)));
	}

	/* balance rows in ascending product order; sellable units fill backorders */
	qsort(lines, nlines, sizeof(PoLine), PoLineCmp);
	reference = psprintf("purchase order " INT64_FORMAT, po_id);
	initStringInfo(&filled);
	appendStringInfoChar(&filled, '[');
	for (i = 0; i < nlines; i++)
	{
		if (lines[i].damaged > 0)
			InventoryReceiveUnits(lines[i].product_id, location_id, lines[i].damaged, true, reference, lines[i].sku, location);
		if (lines[i].sellable > 0)
		{
			char	   *f;

			InventoryReceiveUnits(lines[i].product_id, location_id, lines[i].sellable, false, reference, lines[i].sku, location);
			f = InventoryFillBackorders(lines[i].product_id, location_id);
			if (strcmp(f, "[]") != 0)
			{
				appendStringInfo(&filled, "%s%.*s", first ? "" : ", ", (int) strlen(f) - 2, f + 1);
				first = false;
			}
		}
	}
	appendStringInfoChar(&filled, ']');

	/* the lines, the receipts, then the valuation rows in the same order */
	for (i = 0; i < nlines; i++)
	{
		int			pass;

		if (lines[i].sellable + lines[i].damaged == 0)
			continue;
		{
			Oid			tb[3] = {INT8OID, INT4OID, INT4OID};
			Datum		vb[3];

			vb[0] = Int64GetDatum(lines[i].id);
			vb[1] = Int32GetDatum(lines[i].sellable + lines[i].damaged);
			vb[2] = Int32GetDatum(lines[i].damaged);
			OmsExec(OmsPlan(&plan_book,
							"UPDATE oms.purchase_order_lines SET qty_received = qty_received OPERATOR(pg_catalog.+) $2, "
							"       qty_damaged = qty_damaged OPERATOR(pg_catalog.+) $3 WHERE id OPERATOR(pg_catalog.=) $1",
							3, tb), vb, NULL, 0);
		}
		for (pass = 0; pass < 2; pass++)
		{
			int32		units = pass == 0 ? lines[i].sellable : lines[i].damaged;
			Oid			tr[6] = {INT8OID, INT8OID, INT4OID, INT4OID, TEXTOID, NUMERICOID};
			Datum		vr[6];

			if (units == 0)
				continue;
			vr[0] = Int64GetDatum(po_id);
			vr[1] = Int64GetDatum(lines[i].id);
			vr[2] = Int32GetDatum(location_id);
			vr[3] = Int32GetDatum(units);
			vr[4] = CStringGetTextDatum(pass == 0 ? "sellable" : "damaged");
			vr[5] = lines[i].cost;
			OmsExec(OmsPlan(&plan_receipt,
							"INSERT INTO oms.purchase_order_receipts (purchase_order_id, line_id, location_id, qty, condition, unit_cost) "
							"VALUES ($1, $2, $3, $4, $5, $6)",
							6, tr), vr, NULL, 0);
		}
		ValuationReceipt(lines[i].product_id, currency, lines[i].sellable + lines[i].damaged, lines[i].cost, po_id);
	}

	/* the status follows what was received */
	OmsQuery(OmsPlan(&plan_status,
					 "SELECT CASE WHEN pg_catalog.bool_and(qty_received OPERATOR(pg_catalog.>=) qty_ordered) THEN 'received' "
					 "            ELSE 'partially_received' END "
					 "  FROM oms.purchase_order_lines WHERE purchase_order_id OPERATOR(pg_catalog.=) $1",
					 1, t1), v1, NULL, 1);
	new_status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (strcmp(new_status, status) != 0)
	{
		static SPIPlanPtr plan_set = NULL;
		Oid			ts[2] = {INT8OID, TEXTOID};
		Datum		vs[2] = {Int64GetDatum(po_id), CStringGetTextDatum(new_status)};

		OmsExec(OmsPlan(&plan_set,
						"UPDATE oms.purchase_orders SET status = $2, updated_at = pg_catalog.now() WHERE id OPERATOR(pg_catalog.=) $1",
						2, ts), vs, NULL, 0);
	}
	{
		StringInfoData rec;

		initStringInfo(&rec);
		appendStringInfoChar(&rec, '[');
		first = true;
		for (i = 0; i < nlines; i++)
		{
			if (lines[i].sellable + lines[i].damaged == 0)
				continue;
			appendStringInfo(&rec, "%s{\"line\": %d, \"sku\": \"%s\", \"sellable\": %d, \"damaged\": %d}",
							 first ? "" : ", ", lines[i].line_no, lines[i].sku, lines[i].sellable, lines[i].damaged);
			first = false;
		}
		appendStringInfoChar(&rec, ']');
		EventsEmit("purchase_order_received", 0,
				   psprintf("{\"purchase_order_id\": " INT64_FORMAT ", \"status\": \"%s\", \"lines\": %s}",
							po_id, new_status, rec.data));
		result = DirectFunctionCall1(jsonb_in, CStringGetDatum(
										 psprintf("{\"purchase_order_id\": " INT64_FORMAT ", \"status\": \"%s\", \"received\": %s, "
												  "\"backorders_filled\": %s}",
												  po_id, new_status, rec.data, filled.data)));
	}
	PG_RETURN_DATUM(OmsFinish(result));
}
