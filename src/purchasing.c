/*-------------------------------------------------------------------------
 *
 * purchasing.c
 *	  Purchase orders: the settings of the area, the status guard, entering
 *	  a purchase order by hand, sending it (with its text document),
 *	  cancelling or closing it, reading it, and incoming stock. Proposals
 *	  live in po_propose.c, receiving in po_receive.c.
 *
 *	  Statuses are data: oms.purchase_order_statuses says what each allows
 *	  (editable, receivable, cancellable, ...) and the trigger holds every
 *	  change of status to oms.purchase_order_transitions, whoever makes it.
 *
 *	  Locking: a purchase order row is locked (FOR UPDATE) before its lines
 *	  and before any balance row; nothing locks a purchase order while it
 *	  holds a balance row except a proposal run inside place_order, which
 *	  locks only draft orders, and nothing that holds a draft order waits
 *	  for a balance row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "oms.h"

bool		oms_propose_on_low_stock = false;
int			oms_over_receipt_percent = 0;

static void
PurchasingLowStock(int64 *product_ids, int n)
{
	if (oms_propose_on_low_stock && n > 0)
		(void) PurchasingPropose(product_ids, n, 0);
}

/* the settings of the area and the low-stock hook; called by _PG_init */
void
PurchasingInit(void)
{
	DefineCustomBoolVariable("oms.propose_on_low_stock",
							 "Propose purchase orders in the transaction that drops a product to its reorder point.",
							 "Off by default: proposals then run from a sweep (oms.propose_purchase_orders()).",
							 &oms_propose_on_low_stock,
							 false,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("oms.over_receipt_percent",
							"Percent of a purchase order line that may be received beyond the quantity ordered.",
							"0 refuses any over-receipt.",
							&oms_over_receipt_percent,
							0, 0, 1000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	InventoryLowStockHook = PurchasingLowStock;
}

/* a JSON string literal */
static char *
PurchasingQuote(const char *s)
{
	StringInfoData b;

	initStringInfo(&b);
	escape_json(&b, s);
	return b.data;
}

void
PurchasingNotFound(int64 po_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("purchase order " INT64_FORMAT " does not exist", po_id),
			 errdetail("No row in oms.purchase_orders has this id."),
			 errhint("Use the ids that create_purchase_order and propose_purchase_orders return.")));
}

/* lock a purchase order; its status (and the columns asked for) */
static char *
PurchasingLock(int64 po_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(po_id)};

	OmsQuery(OmsPlan(&plan,
					 "SELECT status FROM oms.purchase_orders WHERE id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
					 1, types), values, NULL, 1);
	if (SPI_processed == 0)
		PurchasingNotFound(po_id);
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/* does the status have the capability (a boolean column of purchase_order_statuses)? */
static bool
PurchasingAllows(const char *status, const char *capability)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(status), CStringGetTextDatum(capability)};

	OmsQuery(OmsPlan(&plan,
					 "SELECT (pg_catalog.to_jsonb(s) OPERATOR(pg_catalog.->>) $2)::boolean "
					 "  FROM oms.purchase_order_statuses s WHERE s.status OPERATOR(pg_catalog.=) $1",
					 2, types), values, NULL, 1);
	return SPI_processed == 1 && DatumGetBool(OmsGetDatum(0, 1, NULL));
}

static void
PurchasingSetStatus(int64 po_id, const char *to)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2] = {Int64GetDatum(po_id), CStringGetTextDatum(to)};

	OmsExec(OmsPlan(&plan,
					"UPDATE oms.purchase_orders SET status = $2, updated_at = pg_catalog.now(), "
					"       sent_at = CASE WHEN $2 OPERATOR(pg_catalog.=) 'sent' THEN pg_catalog.now() ELSE sent_at END "
					" WHERE id OPERATOR(pg_catalog.=) $1",
					2, types), values, NULL, 0);
}

/* the purchase order document as jsonb, in SPI memory */
static Datum
PurchasingDocument(int64 po_id)
{
	static SPIPlanPtr plan = NULL;
	Datum		doc;

	if (!OmsDocument(&plan,
					 "SELECT pg_catalog.jsonb_build_object('purchase_order_id', po.id, 'supplier', s.code, "
					 "       'location', l.code, 'currency', po.currency, 'status', po.status, 'proposed', po.proposed, "
					 "       'note', po.note, 'created_at', po.created_at, 'sent_at', po.sent_at, "
					 "       'total', (SELECT COALESCE(pg_catalog.sum(pl.qty_ordered OPERATOR(pg_catalog.*) pl.unit_cost), 0) "
					 "                   FROM oms.purchase_order_lines pl WHERE pl.purchase_order_id OPERATOR(pg_catalog.=) po.id), "
					 "       'lines', (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('line_no', pl.line_no, "
					 "                   'sku', p.sku, 'supplier_sku', pl.supplier_sku, 'ordered', pl.qty_ordered, "
					 "                   'received', pl.qty_received, 'damaged', pl.qty_damaged, 'unit_cost', pl.unit_cost, "
					 "                   'expected_on', pl.expected_on) ORDER BY pl.line_no) "
					 "                   FROM oms.purchase_order_lines pl JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) pl.product_id "
					 "                  WHERE pl.purchase_order_id OPERATOR(pg_catalog.=) po.id)) "
					 "  FROM oms.purchase_orders po "
					 "  JOIN oms.suppliers s ON s.id OPERATOR(pg_catalog.=) po.supplier_id "
					 "  JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) po.location_id "
					 " WHERE po.id OPERATOR(pg_catalog.=) $1",
					 po_id, NULL, &doc))
		PurchasingNotFound(po_id);
	return doc;
}

/* the text document, in SPI memory */
static char *
PurchasingRender(int64 po_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(po_id)};

	OmsQuery(OmsPlan(&plan,
					 "SELECT pg_catalog.concat_ws(E'\\n', "
					 "   pg_catalog.format('PURCHASE ORDER PO-%s', po.id), "
					 "   pg_catalog.format('Date: %s', pg_catalog.to_char(COALESCE(po.sent_at, pg_catalog.now()), 'YYYY-MM-DD')), "
					 "   '', 'Supplier:', pg_catalog.format('  %s (%s)', s.name, s.code), "
					 "   NULLIF('  ' OPERATOR(pg_catalog.||) pg_catalog.replace(COALESCE(s.address, ''), E'\\n', E'\\n  '), '  '), "
					 "   '', 'Deliver to:', pg_catalog.format('  %s (%s)', l.name, l.code), "
					 "   NULLIF('  ' OPERATOR(pg_catalog.||) pg_catalog.replace(COALESCE(l.address, ''), E'\\n', E'\\n  '), '  '), "
					 "   '', pg_catalog.format('%-4s %-16s %-16s %8s %12s %14s  %s', 'Line', 'Your sku', 'Our sku', 'Qty', 'Unit cost', 'Amount', 'Expected'), "
					 "   (SELECT pg_catalog.string_agg(pg_catalog.format('%-4s %-16s %-16s %8s %12s %14s  %s', pl.line_no, "
					 "            COALESCE(pl.supplier_sku, '-'), p.sku, pl.qty_ordered, pl.unit_cost, "
					 "            pl.qty_ordered OPERATOR(pg_catalog.*) pl.unit_cost, COALESCE(pl.expected_on::text, '-')), "
					 "            E'\\n' ORDER BY pl.line_no) "
					 "      FROM oms.purchase_order_lines pl JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) pl.product_id "
					 "     WHERE pl.purchase_order_id OPERATOR(pg_catalog.=) po.id), "
					 "   '', pg_catalog.format('Total: %s %s', (SELECT COALESCE(pg_catalog.sum(pl.qty_ordered OPERATOR(pg_catalog.*) pl.unit_cost), 0) "
					 "        FROM oms.purchase_order_lines pl WHERE pl.purchase_order_id OPERATOR(pg_catalog.=) po.id), po.currency), "
					 "   'Note: ' OPERATOR(pg_catalog.||) po.note) "
					 "  FROM oms.purchase_orders po "
					 "  JOIN oms.suppliers s ON s.id OPERATOR(pg_catalog.=) po.supplier_id "
					 "  JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) po.location_id "
					 " WHERE po.id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	if (SPI_processed == 0)
		PurchasingNotFound(po_id);
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/* ---- the status guard ---- */

PG_FUNCTION_INFO_V1(purchase_order_transition);
/* Trigger: a status change must be in oms.purchase_order_transitions. */
Datum
purchase_order_transition(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	char	   *from;
	char	   *to;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "purchase_order_transition: not called by trigger manager");
	desc = RelationGetDescr(td->tg_relation);
	from = SPI_getvalue(td->tg_trigtuple, desc, SPI_fnumber(desc, "status"));
	to = SPI_getvalue(td->tg_newtuple, desc, SPI_fnumber(desc, "status"));
	if (from && to && strcmp(from, to) != 0)
	{
		values[0] = CStringGetTextDatum(from);
		values[1] = CStringGetTextDatum(to);
		SPI_connect();
		OmsQuery(OmsPlan(&plan,
						 "SELECT FROM oms.purchase_order_transitions "
						 " WHERE from_status OPERATOR(pg_catalog.=) $1 AND to_status OPERATOR(pg_catalog.=) $2",
						 2, types), values, NULL, 1);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("purchase order cannot change from %s to %s", from, to),
					 errdetail("oms.purchase_order_transitions has no transition from %s to %s.", from, to),
					 errhint("Use send_purchase_order, receive_purchase_order, cancel_purchase_order or close_purchase_order.")));
		SPI_finish();
	}
	return PointerGetDatum(td->tg_newtuple);
}

/* ---- create_purchase_order ---- */

static int32
PurchasingSupplier(const char *code)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(code)};

	OmsQuery(OmsPlan(&plan,
					 "SELECT id, active FROM oms.suppliers WHERE code OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	if (SPI_processed == 0 || !DatumGetBool(OmsGetDatum(0, 2, NULL)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s supplier \"%s\"", SPI_processed == 0 ? "unknown" : "inactive", code),
				 errdetail("Purchase orders go to an active supplier of oms.suppliers."),
				 errhint("Supplier codes are case-sensitive.")));
	return OmsGetInt32(0, 1, NULL);
}

static int32
PurchasingLocation(const char *code)
{
	int32		id;
	bool		active = false;
	bool		found = OmsLookupLocation(code, &id, &active);

	if (!found || !active)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s location \"%s\"", found ? "inactive" : "unknown", code),
				 errdetail("Goods are delivered to an active location of oms.locations."),
				 errhint("Location codes are case-sensitive.")));
	return id;
}

PG_FUNCTION_INFO_V1(create_purchase_order);
/*
 * oms.create_purchase_order(supplier, location, lines, note): a draft by
 * hand. Each line: sku, qty, and optionally unit_cost and expected_on; the
 * cost and lead time default to the supplier's offer for that product (the
 * location's own offer first). The currency is that of the offers, or of
 * the product's valuation, and every line must agree.
 */
Datum
create_purchase_order(PG_FUNCTION_ARGS)
{
	static const char *const keys[] = {"sku", "qty", "unit_cost", "expected_on", NULL};
	static SPIPlanPtr plan_offer = NULL;
	static SPIPlanPtr plan_po = NULL;
	static SPIPlanPtr plan_line = NULL;
	char	   *supplier;
	char	   *location;
	char	   *note = NULL;
	Jsonb	   *doc;
	int32		supplier_id;
	int32		location_id;
	char	   *currency = NULL;
	int			n,
				i,
				j;
	int64		po_id;
	int64	   *products;
	Datum		result;

	supplier = OmsIdentifierArg(fcinfo, 0, "supplier", OMS_MAX_CODE_CHARS);
	location = OmsIdentifierArg(fcinfo, 1, "location", OMS_MAX_CODE_CHARS);
	OmsRequireArg(fcinfo, 2, "lines");
	doc = PG_GETARG_JSONB_P(2);
	if (!PG_ARGISNULL(3))
	{
		note = text_to_cstring(PG_GETARG_TEXT_PP(3));
		OmsCheckFreeText(note, "note", OMS_MAX_REASON_CHARS);
	}
	JsonDocument = "purchase order";
	if (!JB_ROOT_IS_ARRAY(doc) || JB_ROOT_IS_SCALAR(doc))
		JsonInvalid("lines", "lines must be a JSON array of {\"sku\", \"qty\", \"unit_cost\", \"expected_on\"}.",
					"unit_cost and expected_on are optional.");
	n = JsonContainerSize(&doc->root);
	if (n == 0)
		JsonInvalid("lines", "lines is empty.", "List what to order.");
	if (n > 1000)
		JsonInvalid("lines", psprintf("lines has %d entries; at most 1000 are allowed.", n), "Split it into several purchase orders.");

	SPI_connect();
	supplier_id = PurchasingSupplier(supplier);
	location_id = PurchasingLocation(location);
	products = palloc(sizeof(int64) * n);
	po_id = 0;
	for (i = 0; i < n; i++)
	{
		char	   *path = psprintf("lines[%d]", i);
		JsonbContainer *l = JsonObject(getIthJsonbValueFromContainer(&doc->root, i), path);
		JsonbValue	buf;
		JsonbValue *f;
		char	   *sku;
		OmsProduct	p;
		int32		qty;
		Datum		cost = (Datum) 0;
		bool		have_cost = false;
		char	   *expected = NULL;
		char	   *line_currency;
		Oid			types[6] = {INT8OID, INT4OID, INT4OID, INT4OID, NUMERICOID, DATEOID};
		Datum		values[6];
		char		nulls[6] = "      ";

		JsonCheckKeys(l, keys, path);
		if ((f = JsonGet(l, "sku", &buf)) == NULL)
			JsonInvalid(psprintf("%s.sku", path), psprintf("%s.sku is required.", path), "Name the product by its sku.");
		sku = JsonString(f, psprintf("%s.sku", path), OMS_MAX_SKU_CHARS, true);
		if (!OmsLookupProduct(sku, &p))
			JsonInvalid(psprintf("%s.sku", path), psprintf("No product has sku \"%s\".", sku), "Skus are case-sensitive.");
		if (p.kind != OMS_KIND_STOCK)
			JsonInvalid(psprintf("%s.sku", path), psprintf("Product \"%s\" is not of kind stock.", sku),
						"Order the components of a kit; services have no stock.");
		for (j = 0; j < i; j++)
			if (products[j] == p.id)
				JsonInvalid(psprintf("%s.sku", path), psprintf("Sku \"%s\" appears twice.", sku), "Give each product one line with the total quantity.");
		products[i] = p.id;
		if ((f = JsonGet(l, "qty", &buf)) == NULL)
			JsonInvalid(psprintf("%s.qty", path), psprintf("%s.qty is required.", path), "Give the units to order.");
		qty = JsonInt(f, psprintf("%s.qty", path), 1, 1000000000, "Order at least 1 unit.");
		if ((f = JsonGet(l, "unit_cost", &buf)) != NULL && f->type != jbvNull)
		{
			cost = JsonMoney(f, psprintf("%s.unit_cost", path));
			have_cost = true;
		}
		if ((f = JsonGet(l, "expected_on", &buf)) != NULL && f->type != jbvNull)
			expected = JsonString(f, psprintf("%s.expected_on", path), 10, true);

		/* the offer: cost, currency, supplier sku, lead time */
		values[0] = Int64GetDatum(p.id);
		values[1] = Int32GetDatum(supplier_id);
		values[2] = Int32GetDatum(location_id);
		OmsQuery(OmsPlan(&plan_offer,
						 "SELECT unit_cost, currency, supplier_sku, lead_time_days FROM oms.supplier_products "
						 " WHERE product_id OPERATOR(pg_catalog.=) $1 AND supplier_id OPERATOR(pg_catalog.=) $2 "
						 "   AND (location_id IS NULL OR location_id OPERATOR(pg_catalog.=) $3) "
						 " ORDER BY location_id IS NULL LIMIT 1",
						 3, types), values, NULL, 1);
		if (SPI_processed == 0 && !have_cost)
			JsonInvalid(psprintf("%s.unit_cost", path),
						psprintf("Supplier \"%s\" has no offer for \"%s\" in oms.supplier_products, and the line gives no unit_cost.", supplier, sku),
						"Give unit_cost, or add the supplier's offer first.");
		line_currency = SPI_processed > 0 ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2) : NULL;
		if (!have_cost)
			cost = SPI_datumTransfer(OmsGetDatum(0, 1, NULL), false, -1);
		values[3] = SPI_processed > 0 ? OmsGetDatum(0, 4, NULL) : Int32GetDatum(0);
		values[4] = cost;
		if (SPI_processed > 0 && SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3) != NULL)
			values[5] = CStringGetTextDatum(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3));
		else
			nulls[5] = 'n';
		if (line_currency == NULL)
			line_currency = ValuationCurrency(p.id);
		if (line_currency == NULL)
			line_currency = currency;
		if (line_currency == NULL)
			JsonInvalid(psprintf("%s.unit_cost", path),
						psprintf("The currency of \"%s\" is not known: supplier \"%s\" has no offer for it.", sku, supplier),
						"Add the supplier's offer (oms.supplier_products) first; it names the currency.");
		if (currency == NULL)
			currency = pstrdup(line_currency);
		else if (strcmp(currency, line_currency) != 0)
			JsonInvalid(psprintf("lines[%d]", i), psprintf("Line %d is in %s, an earlier line in %s.", i + 1, line_currency, currency),
						"A purchase order has one currency; order the others on another purchase order.");

		if (po_id == 0)
		{
			Oid			tpo[4] = {INT4OID, INT4OID, TEXTOID, TEXTOID};
			Datum		vpo[4];
			char		npo[4] = "    ";

			vpo[0] = Int32GetDatum(supplier_id);
			vpo[1] = Int32GetDatum(location_id);
			vpo[2] = CStringGetTextDatum(currency);
			if (note)
				vpo[3] = CStringGetTextDatum(note);
			else
				npo[3] = 'n';
			OmsExec(OmsPlan(&plan_po,
							"INSERT INTO oms.purchase_orders (supplier_id, location_id, currency, note) "
							"VALUES ($1, $2, $3, $4) RETURNING id",
							4, tpo), vpo, npo, 1);
			po_id = OmsGetInt64(0, 1, NULL);
		}
		{
			Oid			tl[8] = {INT8OID, INT4OID, INT8OID, INT4OID, NUMERICOID, TEXTOID, INT4OID, TEXTOID};
			Datum		vl[8];
			char		nl[8] = "        ";

			vl[0] = Int64GetDatum(po_id);
			vl[1] = Int32GetDatum(i + 1);
			vl[2] = Int64GetDatum(p.id);
			vl[3] = Int32GetDatum(qty);
			vl[4] = cost;
			vl[5] = values[5];
			nl[5] = nulls[5];
			vl[6] = values[3];
			if (expected)
				vl[7] = CStringGetTextDatum(expected);
			else
				nl[7] = 'n';
			OmsExec(OmsPlan(&plan_line,
							"INSERT INTO oms.purchase_order_lines (purchase_order_id, line_no, product_id, qty_ordered, "
							"       unit_cost, supplier_sku, lead_time_days, expected_on) "
							"VALUES ($1, $2, $3, $4, $5, $6, $7, $8::pg_catalog.date)",
							8, tl), vl, nl, 0);
		}
	}
	result = PurchasingDocument(po_id);
	PG_RETURN_DATUM(OmsFinish(result));
}

/* ---- send, cancel, close ---- */

PG_FUNCTION_INFO_V1(send_purchase_order);
/*
 * oms.send_purchase_order(po): expected dates from the lead times (unless
 * given), status sent, the document rendered and kept, and the event
 * purchase_order_sent that the integration delivering it consumes.
 */
Datum
send_purchase_order(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan_dates = NULL;
	static SPIPlanPtr plan_doc = NULL;
	static SPIPlanPtr plan_event = NULL;
	int64		po_id = PG_GETARG_INT64(0);
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	char	   *status;
	char	   *document;
	Datum		result;

	SPI_connect();
	status = PurchasingLock(po_id);
	if (!PurchasingAllows(status, "editable"))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("purchase order " INT64_FORMAT " cannot be sent: it is %s", po_id, status),
				 errdetail("Only a draft purchase order is sent."),
				 errhint("Read it with oms.get_purchase_order(); its document is kept in oms.purchase_orders.document.")));
	values[0] = Int64GetDatum(po_id);
	OmsExec(OmsPlan(&plan_dates,
					"UPDATE oms.purchase_order_lines SET expected_on = COALESCE(expected_on, "
					"       CURRENT_DATE OPERATOR(pg_catalog.+) lead_time_days) "
					" WHERE purchase_order_id OPERATOR(pg_catalog.=) $1",
					1, types), values, NULL, 0);
	PurchasingSetStatus(po_id, "sent");
	document = PurchasingRender(po_id);
	values[1] = CStringGetTextDatum(document);
	OmsExec(OmsPlan(&plan_doc,
					"UPDATE oms.purchase_orders SET document = $2 WHERE id OPERATOR(pg_catalog.=) $1",
					2, types), values, NULL, 0);
	OmsQuery(OmsPlan(&plan_event,
					 "SELECT pg_catalog.jsonb_build_object('purchase_order_id', po.id, 'supplier', s.code, 'email', s.email, "
					 "       'location', l.code, 'document', po.document)::text "
					 "  FROM oms.purchase_orders po JOIN oms.suppliers s ON s.id OPERATOR(pg_catalog.=) po.supplier_id "
					 "  JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) po.location_id WHERE po.id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	EventsEmit("purchase_order_sent", 0, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	result = DirectFunctionCall2(jsonb_concat, PurchasingDocument(po_id),
								 DirectFunctionCall1(jsonb_in, CStringGetDatum(
													 psprintf("{\"document\": %s}",
															  PurchasingQuote(document)))));
	PG_RETURN_DATUM(OmsFinish(result));
}

static char *
PurchasingReasonArg(FunctionCallInfo fcinfo, int argno)
{
	char	   *reason;

	OmsRequireArg(fcinfo, argno, "reason");
	reason = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	OmsCheckFreeText(reason, "reason", OMS_MAX_REASON_CHARS);
	if (strspn(reason, " \t\r\n") == strlen(reason))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("reason must not be empty"),
				 errdetail("The supplier and the books need to know why."),
				 errhint("Say why, for example \"supplier out of stock\".")));
	return reason;
}

/* cancel (cancelled) or close (closed) a locked purchase order */
static Datum
PurchasingEnd(FunctionCallInfo fcinfo, bool cancel)
{
	static SPIPlanPtr plan_received = NULL;
	static SPIPlanPtr plan_note = NULL;
	int64		po_id;
	char	   *reason;
	char	   *status;
	const char *to = cancel ? "cancelled" : "closed";
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	bool		received;

	OmsRequireArg(fcinfo, 0, "purchase_order_id");
	po_id = PG_GETARG_INT64(0);
	reason = PurchasingReasonArg(fcinfo, 1);

	SPI_connect();
	status = PurchasingLock(po_id);
	values[0] = Int64GetDatum(po_id);
	values[1] = CStringGetTextDatum(reason);
	OmsQuery(OmsPlan(&plan_received,
					 "SELECT EXISTS (SELECT FROM oms.purchase_order_lines WHERE purchase_order_id OPERATOR(pg_catalog.=) $1 "
					 "                  AND qty_received OPERATOR(pg_catalog.>) 0)",
					 1, types), values, NULL, 1);
	received = DatumGetBool(OmsGetDatum(0, 1, NULL));
	if (cancel && (!PurchasingAllows(status, "cancellable") || received))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("purchase order " INT64_FORMAT " cannot be cancelled: it is %s", po_id, status),
				 errdetail(received ? "Goods were received against it." : "Its status does not allow cancelling."),
				 errhint(received ? "Close it with oms.close_purchase_order() instead: the units outstanding are then no longer expected."
						 : "Only purchase orders nothing was received against are cancelled.")));
	if (!cancel && !PurchasingAllows(status, "receivable"))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("purchase order " INT64_FORMAT " cannot be closed: it is %s", po_id, status),
				 errdetail("Only a sent or partly received purchase order is closed."),
				 errhint("Cancel a draft with oms.cancel_purchase_order().")));
	PurchasingSetStatus(po_id, to);
	OmsExec(OmsPlan(&plan_note,
					"UPDATE oms.purchase_orders SET note = pg_catalog.left(pg_catalog.concat_ws(E'\\n', note, $2), 1000) "
					" WHERE id OPERATOR(pg_catalog.=) $1",
					2, types), values, NULL, 0);
	EventsEmit(cancel ? "purchase_order_cancelled" : "purchase_order_closed", 0,
			   psprintf("{\"purchase_order_id\": " INT64_FORMAT ", \"reason\": %s}", po_id,
						PurchasingQuote(reason)));
	return OmsFinish(PurchasingDocument(po_id));
}

PG_FUNCTION_INFO_V1(cancel_purchase_order);
/* oms.cancel_purchase_order(po, reason): nothing received yet */
Datum
cancel_purchase_order(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(PurchasingEnd(fcinfo, true));
}

PG_FUNCTION_INFO_V1(close_purchase_order);
/* oms.close_purchase_order(po, reason): the rest is no longer expected */
Datum
close_purchase_order(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(PurchasingEnd(fcinfo, false));
}

/* ---- reading ---- */

PG_FUNCTION_INFO_V1(get_purchase_order);
/* oms.get_purchase_order(po) */
Datum
get_purchase_order(PG_FUNCTION_ARGS)
{
	int64		po_id = PG_GETARG_INT64(0);

	SPI_connect();
	PG_RETURN_DATUM(OmsFinish(PurchasingDocument(po_id)));
}

PG_FUNCTION_INFO_V1(purchase_order_document);
/* oms.purchase_order_document(po): the text document */
Datum
purchase_order_document(PG_FUNCTION_ARGS)
{
	int64		po_id = PG_GETARG_INT64(0);

	SPI_connect();
	PG_RETURN_DATUM(OmsFinish(PointerGetDatum(cstring_to_text(PurchasingRender(po_id)))));
}

