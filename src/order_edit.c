/*-------------------------------------------------------------------------
 *
 * order_edit.c
 *	  oms.edit_order and oms.cancel_lines: change a placed order in one
 *	  atomic call. This file reads the request, locks and loads the order,
 *	  applies the changes to its picture of the lines (src/order_edit.h)
 *	  and checks each; src/order_edit_apply.c then makes stock, lines,
 *	  totals, status and money follow; this file writes the new version,
 *	  the history row and the order_edited event, and answers.
 *
 *	  edit_order, step by step
 *	  ------------------------
 *	   1. EdParse: the request's shape (edit_id, reason, changes), checked
 *	      before any table is read; every problem is a 22023 naming the
 *	      field. The request hash (as place_order's) tells a retry from a
 *	      different edit reusing the edit_id.
 *	   2. EdLoadOrder: the order row locked (FOR UPDATE: the order lock
 *	      that every action on the order takes first), then
 *	      EdReplay: an edit_id already in oms.order_versions answers that
 *	      version again ("replayed": true) and writes nothing.
 *	   3. EdCheckStatus: refused (55000) for a terminal order, an order
 *	      that holds no stock any more (everything shipped), and an order
 *	      on hold unless the caller has the privileges of oms_admin.
 *	   4. EdLoadLines: the lines locked in line order, with their products
 *	      and the units pending shipments hold.
 *	   5. EdApplyChange, per change in order: set_qty, add_line,
 *	      remove_line, set_price, substitute, set_ship_to (cancel_lines:
 *	      cancel). Each is checked against the picture as the changes
 *	      before it left it: unknown lines and skus (22023), a line below
 *	      what shipped, or a price change of a line with shipped units
 *	      (55000). Then EdCheckNotEmpty: an edit that leaves no unit owed
 *	      is refused (55000; cancel_order cancels an order).
 *	   6. EdApply (src/order_edit_apply.c): stock, lines, totals, status,
 *	      money, in the global lock order.
 *	   7. EdRecord: version 1 (the order before its first edit) when it is
 *	      missing, the new version with its document and changes, a
 *	      history row, and one order_edited event with the before/after
 *	      diff. The answer is the order document with "edit".
 *
 *	  A failure anywhere raises an error, and the transaction (or the
 *	  caller's savepoint) rolls back everything the call wrote: an edit is
 *	  applied whole or not at all.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "order_edit.h"

#define ED_MAX_CHANGES		100
#define ED_MAX_LINE_QTY		1000000
#define ED_MAX_LINES		500
#define ED_MAX_SHIP_TO_BYTES 16384
#define ED_MAX_EDIT_ID		200

static const char *const EdChangeOps[] = {"set_qty", "add_line", "remove_line", "set_price", "substitute",
"set_ship_to", NULL};

/* ---- 1. the request ---- */

typedef struct EdRequest
{
	JsonbContainer **changes;
	int			nchanges;
} EdRequest;

static void
EdParse(EdEdit *e, Jsonb *doc, EdRequest *rq)
{
	static const char *const edit_keys[] = {"edit_id", "reason", "changes", NULL};
	static const char *const cancel_keys[] = {"edit_id", "reason", "lines", "rest", NULL};
	JsonbContainer *root;
	JsonbValue	buf;
	JsonbValue *v;
	JsonbContainer *list;
	int			i;

	JsonDocument = e->cancel_mode ? "cancel" : "edit";
	if (!JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
		JsonInvalid("(root)", "The document must be a JSON object.",
					e->cancel_mode ? "Send {\"lines\": [{\"line_no\": 1, \"qty\": 2}]} or {\"rest\": true}." :
					"Send {\"changes\": [{\"op\": \"set_qty\", \"line_no\": 1, \"qty\": 2}]}.");
	root = &doc->root;
	JsonCheckKeys(root, e->cancel_mode ? cancel_keys : edit_keys, "(root)");
	if ((v = JsonGet(root, "edit_id", &buf)) != NULL)
	{
		e->edit_id = JsonString(v, "edit_id", ED_MAX_EDIT_ID, true);
		OmsCheckNoCardNumber(e->edit_id, "edit_id");
	}
	if ((v = JsonGet(root, "reason", &buf)) != NULL)
		e->reason = JsonText(v, "reason", OMS_MAX_REASON_CHARS);

	if (e->cancel_mode)
	{
		bool		rest = false;

		if ((v = JsonGet(root, "rest", &buf)) != NULL)
		{
			if (v->type != jbvBool)
				JsonInvalid("rest", psprintf("rest must be true or false, not %s.", JsonTypeName(v)),
							"Send \"rest\": true to cancel every unshipped unit.");
			rest = v->val.boolean;
		}
		v = JsonGet(root, "lines", &buf);
		if (rest && v != NULL)
			JsonInvalid("lines", "Give lines or \"rest\": true, not both.", "\"rest\": true cancels every unshipped unit of every line.");
		if (rest)
		{
			rq->nchanges = 0;
			rq->changes = NULL;
			return;
		}
		if (v == NULL)
			JsonInvalid("lines", "The key lines is required (or \"rest\": true).", "Send [{\"line_no\": 1, \"qty\": 2}].");
	}
	else if ((v = JsonGet(root, "changes", &buf)) == NULL)
		JsonInvalid("changes", "The key changes is required.", "Send [{\"op\": \"set_qty\", \"line_no\": 1, \"qty\": 2}].");
	list = JsonArray(v, e->cancel_mode ? "lines" : "changes");
	rq->nchanges = JsonContainerSize(list);
	if (rq->nchanges == 0)
		JsonInvalid(e->cancel_mode ? "lines" : "changes", "The list is empty.", "Send at least one entry.");
	if (rq->nchanges > ED_MAX_CHANGES)
		JsonInvalid(e->cancel_mode ? "lines" : "changes",
					psprintf("The list has %d entries; at most %d are allowed.", rq->nchanges, ED_MAX_CHANGES),
					"Split the edit.");
	rq->changes = palloc(sizeof(JsonbContainer *) * rq->nchanges);
	for (i = 0; i < rq->nchanges; i++)
		rq->changes[i] = JsonObject(getIthJsonbValueFromContainer(list, i),
									psprintf("%s[%d]", e->cancel_mode ? "lines" : "changes", i));
}

/* ---- 2. the order ---- */

static void
EdLoadOrder(EdEdit *e)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(e->order_id)};
	bool		isnull;
	Datum		d;

	e->status = LifecycleLockOrder(e->order_id, &e->held_from);
	OmsQuery(OmsPlan(&plan,
					 "SELECT c.code, o.external_id, o.policy, o.channel_id, o.ship_lat, o.ship_lon, "
					 "       COALESCE(o.pickup_location_id, 0), o.split_policy, COALESCE(o.customer_id, 0), o.total, "
					 "       o.ship_to::pg_catalog.text "
					 "  FROM oms.orders o JOIN oms.channels c ON c.id OPERATOR(pg_catalog.=) o.channel_id "
					 " WHERE o.id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	e->channel = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	e->external_id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	e->policy = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	e->shortfall = strcmp(e->policy, "partial") == 0 ? ORDER_SHORT_CANCEL :
		strcmp(e->policy, "backorder") == 0 ? ORDER_SHORT_BACKORDER : ORDER_SHORT_REFUSE;
	e->route.channel_id = OmsGetInt32(0, 4, NULL);
	d = OmsGetDatum(0, 5, &isnull);
	e->route.has_coords = !isnull;
	if (!isnull)
	{
		e->route.lat = DatumGetFloat8(d);
		e->route.lon = DatumGetFloat8(OmsGetDatum(0, 6, NULL));
	}
	e->route.pickup_location_id = OmsGetInt32(0, 7, NULL);
	e->route.split = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 8);
	e->customer_id = OmsGetInt64(0, 9, NULL);
	e->total_before = SPI_datumTransfer(OmsGetDatum(0, 10, NULL), false, -1);
	e->ship_to_before = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 11);
}

/*
 * A retry: the version this edit_id made, answered again (true), or 22023
 * when a different request reuses the edit_id.
 */
static bool
EdReplay(EdEdit *e, Datum *answer)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	bytea	   *h;
	bool		isnull;

	if (e->edit_id == NULL)
		return false;
	values[0] = Int64GetDatum(e->order_id);
	values[1] = CStringGetTextDatum(e->edit_id);
	OmsQuery(OmsPlan(&plan,
					 "SELECT request_hash, version, kind, document OPERATOR(pg_catalog.||) "
					 "       pg_catalog.jsonb_build_object('edit', changes, 'replayed', true) "
					 "  FROM oms.order_versions WHERE order_id OPERATOR(pg_catalog.=) $1 AND edit_id OPERATOR(pg_catalog.=) $2",
					 2, types), values, NULL, 1);
	if (SPI_processed == 0)
		return false;
	h = DatumGetByteaPP(OmsGetDatum(0, 1, &isnull));
	if (isnull || VARSIZE_ANY_EXHDR(h) != PG_SHA256_DIGEST_LENGTH ||
		memcmp(VARDATA_ANY(h), e->digest, PG_SHA256_DIGEST_LENGTH) != 0 ||
		strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3), e->kind) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s: edit_id \"%s\" of order " INT64_FORMAT " belongs to another edit",
						JsonDocument, e->edit_id, e->order_id),
				 errdetail("Version %d of the order was made with this edit_id and a different request.",
						   OmsGetInt32(0, 2, NULL)),
				 errhint("A retry must resend the identical request; a new edit needs a new edit_id.")));
	*answer = SPI_datumTransfer(OmsGetDatum(0, 4, NULL), false, -1);
	return true;
}

/* ---- 3. the status ---- */

/* the caller (SET ROLE included, SECURITY DEFINER not) has oms_admin's privileges */
static bool
EdCallerIsAdmin(void)
{
	Oid			admin = get_role_oid("oms_admin", true);

	return superuser_arg(GetOuterUserId()) ||
		(OidIsValid(admin) && has_privs_of_role(GetOuterUserId(), admin));
}

static void
EdCheckStatus(EdEdit *e)
{
	if (LifecycleAllows(e->status, LCAP_TERMINAL))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order " INT64_FORMAT " cannot be edited: it is %s", e->order_id, e->status),
				 errdetail("The order ended unfulfilled; nothing is held or owed any more."),
				 errhint("Place a new order.")));
	if (!LifecycleAllows(e->status, LCAP_HOLDS_STOCK))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order " INT64_FORMAT " cannot be edited: it is %s", e->order_id, e->status),
				 errdetail("Status %s holds no stock: every unit owed has shipped.", e->status),
				 errhint("Create a return (oms.create_rma) for shipped units, or place a new order.")));
	if (e->held_from != NULL && !EdCallerIsAdmin())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order " INT64_FORMAT " cannot be edited: it is on hold", e->order_id),
				 errdetail("An order stopped for review is edited only by oms_admin."),
				 errhint("Release the hold with oms.release_hold() first, or edit as oms_admin.")));
}

/* ---- 4. the lines ---- */

static void
EdLoadLines(EdEdit *e)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(e->order_id)};
	int			i;

	OmsQuery(OmsPlan(&plan,
					 "SELECT l.id, l.line_no, l.product_id, p.kind, p.sku, COALESCE(l.substituted_for, 0), l.qty, "
					 "       l.qty_reserved, l.qty_backordered, l.qty_shipped, l.qty_cancelled, "
					 "       (SELECT COALESCE(pg_catalog.sum(sl.qty), 0)::int4 FROM oms.shipment_lines sl "
					 "          JOIN oms.shipments s ON s.id OPERATOR(pg_catalog.=) sl.shipment_id "
					 "         WHERE sl.order_line_id OPERATOR(pg_catalog.=) l.id AND s.status OPERATOR(pg_catalog.=) 'pending'), "
					 "       l.unit_price, l.discount, l.tax "
					 "  FROM oms.order_lines l JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) l.product_id "
					 " WHERE l.order_id OPERATOR(pg_catalog.=) $1 ORDER BY l.line_no FOR UPDATE OF l",
					 1, types), values, NULL, 0);
	e->nlines = (int) SPI_processed;
	e->maxlines = e->nlines + ED_MAX_CHANGES + 1;
	e->lines = palloc0(sizeof(EdLine) * e->maxlines);
	for (i = 0; i < e->nlines; i++)
	{
		EdLine	   *l = &e->lines[i];
		char	   *kind = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 4);

		l->id = OmsGetInt64(i, 1, NULL);
		l->line_no = OmsGetInt32(i, 2, NULL);
		l->product.id = OmsGetInt64(i, 3, NULL);
		l->product.kind = strcmp(kind, "kit") == 0 ? OMS_KIND_KIT :
			strcmp(kind, "service") == 0 ? OMS_KIND_SERVICE : OMS_KIND_STOCK;
		l->product.active = true;
		l->sku = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 5);
		l->substituted_for = OmsGetInt64(i, 6, NULL);
		l->qty = OmsGetInt32(i, 7, NULL);
		l->reserved = OmsGetInt32(i, 8, NULL);
		l->backordered = OmsGetInt32(i, 9, NULL);
		l->shipped = OmsGetInt32(i, 10, NULL);
		l->cancelled = OmsGetInt32(i, 11, NULL);
		l->pending = OmsGetInt32(i, 12, NULL);
		l->unit_price = SPI_datumTransfer(OmsGetDatum(i, 13, NULL), false, -1);
		l->discount = SPI_datumTransfer(OmsGetDatum(i, 14, NULL), false, -1);
		l->tax = SPI_datumTransfer(OmsGetDatum(i, 15, NULL), false, -1);
		l->old_sku = l->sku;
		l->old_qty = l->qty;
		l->old_cancelled = l->cancelled;
		l->old_unit_price = l->unit_price;
		l->old_discount = l->discount;
		l->old_tax = l->tax;
		l->work = -1;
	}
}

/* ---- 5. the changes ---- */

/* the line a change names (line_no or sku), among the lines so far */
static EdLine *
EdFindLine(EdEdit *e, JsonbContainer *c, const char *path)
{
	int32	   *nos = palloc(sizeof(int32) * (e->nlines + 1));
	char	  **skus = palloc(sizeof(char *) * (e->nlines + 1));
	int			i;

	for (i = 0; i < e->nlines; i++)
	{
		nos[i] = e->lines[i].line_no;
		skus[i] = e->lines[i].sku;
	}
	return &e->lines[JsonOrderLine(c, path, e->order_id, e->nlines, nos, skus)];
}

/* a product by sku for a line: 22023 when unknown, inactive or not sold alone */
static void
EdProduct(const char *sku, const char *path, OmsProduct *p)
{
	if (!OmsLookupProduct(sku, p))
		JsonInvalid(path, psprintf("No product has the sku %s.", sku),
					"Skus are case-sensitive; create missing products in oms.products first.");
	if (!p->active)
		JsonInvalid(path, psprintf("Product %s is not sold any more.", sku), "Choose an active product.");
}

static void
EdShippedRule(EdEdit *e, EdLine *l, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("line %d of order " INT64_FORMAT " cannot %s: %d unit(s) have shipped", l->line_no, e->order_id,
					what, l->shipped),
			 errdetail("Shipped units stay on the line at the price they shipped at (%d shipped, %d cancelled).",
					   l->shipped, l->cancelled),
			 errhint("Cancel the unshipped rest with oms.cancel_lines(), and return shipped units with oms.create_rma().")));
}

/* the money keys of set_price / add_line / substitute; false when none is given */
static bool
EdPrices(EdLine *l, JsonbContainer *c, const char *path)
{
	JsonbValue	buf;
	JsonbValue *f;
	bool		any = false;

	if ((f = JsonGet(c, "unit_price", &buf)) != NULL)
	{
		l->unit_price = JsonMoney(f, psprintf("%s.unit_price", path));
		any = true;
	}
	if ((f = JsonGet(c, "discount", &buf)) != NULL)
	{
		l->discount = JsonMoney(f, psprintf("%s.discount", path));
		any = true;
	}
	if ((f = JsonGet(c, "tax", &buf)) != NULL)
	{
		l->tax = JsonMoney(f, psprintf("%s.tax", path));
		any = true;
	}
	return any;
}

static int32
EdQty(JsonbContainer *c, const char *path, int32 min)
{
	JsonbValue	buf;
	JsonbValue *f;

	if ((f = JsonGet(c, "qty", &buf)) == NULL)
		JsonInvalid(psprintf("%s.qty", path), psprintf("%s.qty is required.", path), "Give the number of units.");
	return JsonInt(f, psprintf("%s.qty", path), min, ED_MAX_LINE_QTY, "Split very large quantities into several orders.");
}

/* a coordinate in decimal degrees within +-limit, compared as numeric first (1e400 fits no double) */
static double
EdCoordinate(JsonbValue *v, const char *path, int limit)
{
	Datum		lim = DirectFunctionCall1(int4_numeric, Int32GetDatum(limit));

	if (v->type != jbvNumeric || numeric_is_nan(v->val.numeric) ||
		DatumGetBool(DirectFunctionCall2(numeric_gt, DirectFunctionCall1(numeric_abs, NumericGetDatum(v->val.numeric)), lim)))
		JsonInvalid(path, psprintf("%s must be a number between %d and %d.", path, -limit, limit),
					"Give coordinates as decimal degrees.");
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
}

/* set_ship_to: the new address; the re-route is decided in EdApply */
static void
EdShipTo(EdEdit *e, JsonbContainer *c, const char *path)
{
	static const char *const coordinates[] = {"lat", "lon", NULL};
	JsonbValue	buf;
	JsonbValue *v;
	JsonbContainer *s;
	JsonbValue *lat;
	JsonbValue *lon;
	JsonbValue	sbuf;
	StringInfoData txt;
	char	   *p = psprintf("%s.ship_to", path);

	if (e->route.pickup_location_id != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order " INT64_FORMAT " is collected at a store: its ship-to cannot change", e->order_id),
				 errdetail("A click-and-collect order goes to the store it was placed for."),
				 errhint("Cancel it and place a new order to ship it instead.")));
	if ((v = JsonGet(c, "ship_to", &buf)) == NULL)
		JsonInvalid(p, psprintf("%s is required.", p), "Send the new address as an object.");
	s = JsonObject(v, p);
	if (JsonGet(s, "pickup", &sbuf) != NULL)
		JsonInvalid(psprintf("%s.pickup", p), "An edit cannot turn a shipped order into a pickup.",
					"Cancel it and place a click-and-collect order.");
	initStringInfo(&txt);
	JsonbToCString(&txt, s, -1);
	if (txt.len > ED_MAX_SHIP_TO_BYTES)
		JsonInvalid(p, psprintf("%s is %d bytes as JSON text; at most %d bytes (16 KB) are allowed.", p, txt.len,
								ED_MAX_SHIP_TO_BYTES),
					"Send the address, contact and delivery instructions; keep other data outside oms.");
	OmsCheckNoCardNumber(JsonScanText(s, coordinates), p);
	lat = JsonGet(s, "lat", &sbuf);
	if (lat)
		e->route.lat = EdCoordinate(lat, psprintf("%s.lat", p), 90);
	lon = JsonGet(s, "lon", &sbuf);
	if (lon)
		e->route.lon = EdCoordinate(lon, psprintf("%s.lon", p), 180);
	if ((lat == NULL) != (lon == NULL))
		JsonInvalid(p, psprintf("%s has only one of lat and lon.", p), "Give both coordinates or neither.");
	e->route.has_coords = lat != NULL;
	e->ship_to = txt.data;
	e->ship_to_changed = true;
}

/* one entry of edit_order's changes, applied to the picture */
static void
EdApplyChange(EdEdit *e, JsonbContainer *c, int n)
{
	static const char *const keys_qty[] = {"op", "line_no", "sku", "qty", NULL};
	static const char *const keys_add[] = {"op", "sku", "qty", "unit_price", "discount", "tax", NULL};
	static const char *const keys_remove[] = {"op", "line_no", "sku", NULL};
	static const char *const keys_price[] = {"op", "line_no", "sku", "unit_price", "discount", "tax", NULL};
	static const char *const keys_sub[] = {"op", "line_no", "sku", "substitute", "unit_price", NULL};
	static const char *const keys_ship[] = {"op", "ship_to", NULL};
	char	   *path = psprintf("changes[%d]", n);
	JsonbValue	buf;
	JsonbValue *v;
	char	   *op;
	EdLine	   *l;
	int			i;

	if ((v = JsonGet(c, "op", &buf)) == NULL)
		JsonInvalid(psprintf("%s.op", path), psprintf("%s.op is required.", path),
					"op is one of set_qty, add_line, remove_line, set_price, substitute, set_ship_to.");
	op = JsonString(v, psprintf("%s.op", path), 32, true);
	for (i = 0; EdChangeOps[i] != NULL; i++)
		if (strcmp(op, EdChangeOps[i]) == 0)
			break;
	if (EdChangeOps[i] == NULL)
		JsonInvalid(psprintf("%s.op", path), psprintf("%s.op \"%s\" is not a change oms knows.", path, op),
					"op is one of set_qty, add_line, remove_line, set_price, substitute, set_ship_to.");

	if (strcmp(op, "set_ship_to") == 0)
	{
		JsonCheckKeys(c, keys_ship, path);
		EdShipTo(e, c, path);
		return;
	}
	if (strcmp(op, "add_line") == 0)
	{
		JsonbValue *f;

		JsonCheckKeys(c, keys_add, path);
		if (e->nlines >= ED_MAX_LINES)
			JsonInvalid(path, psprintf("Order " INT64_FORMAT " has %d lines; an order has at most %d.", e->order_id,
									   e->nlines, ED_MAX_LINES), "Place a new order for the rest.");
		l = &e->lines[e->nlines];
		memset(l, 0, sizeof(EdLine));
		l->line_no = e->nlines == 0 ? 1 : e->lines[e->nlines - 1].line_no + 1;
		if ((f = JsonGet(c, "sku", &buf)) == NULL)
			JsonInvalid(psprintf("%s.sku", path), psprintf("%s.sku is required.", path), "Name the product by its sku.");
		l->sku = JsonString(f, psprintf("%s.sku", path), OMS_MAX_SKU_CHARS, true);
		EdProduct(l->sku, psprintf("%s.sku", path), &l->product);
		l->qty = EdQty(c, path, 1);
		l->discount = l->tax = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
		if (JsonGet(c, "unit_price", &buf) == NULL)
			JsonInvalid(psprintf("%s.unit_price", path), psprintf("%s.unit_price is required.", path),
						"Give the price of one unit, 0 for a free item.");
		(void) EdPrices(l, c, path);
		l->old_unit_price = l->old_discount = l->old_tax = (Datum) 0;
		l->touched = true;
		l->work = -1;
		e->nlines++;
		return;
	}

	/* the rest name an existing line */
	if (strcmp(op, "set_qty") == 0)
		JsonCheckKeys(c, keys_qty, path);
	else if (strcmp(op, "remove_line") == 0)
		JsonCheckKeys(c, keys_remove, path);
	else if (strcmp(op, "set_price") == 0)
		JsonCheckKeys(c, keys_price, path);
	else
		JsonCheckKeys(c, keys_sub, path);
	l = EdFindLine(e, c, path);
	if (l->qty == l->cancelled && l->shipped == 0 && l->id != 0 && l->touched && strcmp(op, "remove_line") != 0)
		JsonInvalid(path, psprintf("Line %d is removed by an earlier change of this edit.", l->line_no),
					"Remove a line last, or not at all.");
	l->touched = true;

	if (strcmp(op, "set_qty") == 0)
	{
		int32		qty = EdQty(c, path, 1);

		if (qty < l->shipped + l->cancelled)
		{
			if (l->shipped > 0)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("line %d of order " INT64_FORMAT " cannot go below its shipped quantity", l->line_no, e->order_id),
						 errdetail("The edit asks for %d unit(s); %d have shipped and %d are cancelled.", qty, l->shipped,
								   l->cancelled),
						 errhint("Ask for at least %d; return shipped units with oms.create_rma().", l->shipped + l->cancelled)));
			JsonInvalid(psprintf("%s.qty", path),
						psprintf("Line %d has %d cancelled unit(s); qty counts them, so it is at least %d.", l->line_no,
								 l->cancelled, l->cancelled),
						"qty is the line's ordered units, cancelled ones included (see oms.get_order).");
		}
		l->qty = qty;
	}
	else if (strcmp(op, "remove_line") == 0)
	{
		if (l->shipped > 0)
			EdShippedRule(e, l, "be removed");
		l->cancelled = l->qty;
	}
	else if (strcmp(op, "set_price") == 0)
	{
		if (l->shipped > 0)
			EdShippedRule(e, l, "change its price");
		if (!EdPrices(l, c, path))
			JsonInvalid(path, psprintf("%s gives none of unit_price, discount and tax.", path), "Give the amounts to change.");
	}
	else
	{
		OmsProduct	p;
		char	   *sku;

		if ((v = JsonGet(c, "substitute", &buf)) == NULL)
			JsonInvalid(psprintf("%s.substitute", path), psprintf("%s.substitute is required.", path),
						"Name the substitute by its sku (oms.product_substitutes_available lists them).");
		sku = JsonString(v, psprintf("%s.substitute", path), OMS_MAX_SKU_CHARS, true);
		EdProduct(sku, psprintf("%s.substitute", path), &p);
		if (l->shipped > 0)
			EdShippedRule(e, l, "switch to a substitute");
		if (!OrdersIsSubstitute(l->substituted_for ? l->substituted_for : l->product.id, p.id))
			JsonInvalid(psprintf("%s.substitute", path),
						psprintf("%s is not a substitute of %s in oms.product_substitutes.", sku,
								 l->substituted_for ? "the product the line asked for" : l->sku),
						"oms.product_substitutes_available(sku) lists the substitutes.");
		if (l->substituted_for == 0)
			l->substituted_for = l->product.id;
		else if (l->substituted_for == p.id)
			l->substituted_for = 0;	/* back to the product asked for */
		l->product = p;
		l->sku = sku;
		l->swapped = true;
		(void) EdPrices(l, c, path);
	}
}

/* one entry of cancel_lines: units to cancel (default: every unshipped one) */
static void
EdApplyCancel(EdEdit *e, JsonbContainer *c, int n)
{
	static const char *const keys[] = {"line_no", "sku", "qty", NULL};
	char	   *path = psprintf("lines[%d]", n);
	EdLine	   *l;
	JsonbValue	buf;
	int32		open;
	int32		qty;

	JsonCheckKeys(c, keys, path);
	l = EdFindLine(e, c, path);
	open = l->qty - l->shipped - l->cancelled;
	qty = JsonGet(c, "qty", &buf) != NULL ? EdQty(c, path, 1) : open;
	if (qty > open)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("line %d of order " INT64_FORMAT " has %d unshipped unit(s), not %d", l->line_no, e->order_id,
						open, qty),
				 errdetail("Of qty %d, %d shipped and %d are cancelled already.", l->qty, l->shipped, l->cancelled),
				 errhint("Cancel at most %d; return shipped units with oms.create_rma().", open)));
	l->cancelled += qty;
	l->touched = true;
}

/* the line amounts stay within the money rule, discounts within the line */
static void
EdCheckAmounts(EdEdit *e)
{
	Datum		subtotal = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
	Datum		rounded;
	int			i;

	for (i = 0; i < e->nlines; i++)
	{
		EdLine	   *l = &e->lines[i];
		Datum		gross = DirectFunctionCall2(numeric_mul, l->unit_price,
												DirectFunctionCall1(int4_numeric, Int32GetDatum(l->qty)));

		if (!OmsMoneyRound(gross, false, &rounded))
			JsonInvalid("changes", psprintf("Line %d would amount to %s; an amount is below 1000000000000.", l->line_no,
											OmsNumericText(gross)), "Lower the quantity or the price.");
		if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, l->discount, gross)) > 0)
			JsonInvalid("changes", psprintf("Line %d's discount %s exceeds the line amount %s.", l->line_no,
											DatumGetCString(DirectFunctionCall1(numeric_out, l->discount)),
											DatumGetCString(DirectFunctionCall1(numeric_out, gross))),
						"The discount is for the whole line, not per unit.");
		subtotal = DirectFunctionCall2(numeric_add, subtotal, DirectFunctionCall2(numeric_add, gross, l->tax));
	}
	if (!OmsMoneyRound(subtotal, false, &rounded))
		JsonInvalid("changes", psprintf("The order would amount to %s; an order's total is below 1000000000000.",
										OmsNumericText(subtotal)), "Place a new order for the rest.");
}

/*
 * A replacement order of an exchange (oms.rmas.exchange_order_id) is worth
 * what the return credits it with: the money path counts the exchange value
 * the replacement does not charge as money out of the original order
 * (oms.check(): order_money_out). Its lines and prices therefore change
 * only through the RMA; its ship-to may change.
 */
static void
EdCheckExchange(EdEdit *e)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(e->order_id)};
	int			i;

	for (i = 0; i < e->nlines; i++)
		if (e->lines[i].touched)
			break;
	if (i == e->nlines)
		return;
	OmsQuery(OmsPlan(&plan, "SELECT id FROM oms.rmas WHERE exchange_order_id OPERATOR(pg_catalog.=) $1 LIMIT 1",
					 1, types), values, NULL, 1);
	if (SPI_processed == 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order " INT64_FORMAT " is the replacement of RMA " INT64_FORMAT ": its lines cannot be edited",
						e->order_id, OmsGetInt64(0, 1, NULL)),
				 errdetail("A replacement is worth what the return credits it with; changing its lines would change the money of the original order."),
				 errhint("Change the ship-to only, or cancel the replacement and resolve the return another way.")));
}

/* an edit never leaves an order with nothing owed */
static void
EdCheckNotEmpty(EdEdit *e)
{
	int64		owed = 0;
	int			i;

	for (i = 0; i < e->nlines; i++)
		owed += e->lines[i].qty - e->lines[i].cancelled;
	if (owed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s would leave order " INT64_FORMAT " empty", e->kind, e->order_id),
				 errdetail("After the change no line of the order would have a unit owed."),
				 errhint("Cancel the order with oms.cancel_order() instead.")));
}

/* ---- 7. the record ---- */

/* a line as the diff shows it, before or after the edit */
static void
EdLineJson(StringInfo s, EdLine *l, bool before)
{
	appendStringInfoString(s, "{\"sku\": ");
	escape_json(s, before ? l->old_sku : l->sku);
	appendStringInfo(s, ", \"qty\": %d, \"cancelled\": %d, \"unit_price\": %s, \"discount\": %s, \"tax\": %s}",
					 before ? l->old_qty : l->qty, before ? l->old_cancelled : l->cancelled,
					 DatumGetCString(DirectFunctionCall1(numeric_out, before ? l->old_unit_price : l->unit_price)),
					 DatumGetCString(DirectFunctionCall1(numeric_out, before ? l->old_discount : l->discount)),
					 DatumGetCString(DirectFunctionCall1(numeric_out, before ? l->old_tax : l->tax)));
}

/* what the edit changed, before and after, as JSON object text */
static char *
EdChanges(EdEdit *e, int version)
{
	StringInfoData s;
	int			i;
	bool		first = true;

	initStringInfo(&s);
	appendStringInfo(&s, "{\"version\": %d, \"kind\": \"%s\", \"edit_id\": ", version, e->kind);
	if (e->edit_id)
		escape_json(&s, e->edit_id);
	else
		appendStringInfoString(&s, "null");
	appendStringInfoString(&s, ", \"reason\": ");
	if (e->reason)
		escape_json(&s, e->reason);
	else
		appendStringInfoString(&s, "null");
	appendStringInfoString(&s, ", \"lines\": [");
	for (i = 0; i < e->nlines; i++)
	{
		EdLine	   *l = &e->lines[i];

		if (!l->touched)
			continue;
		appendStringInfo(&s, "%s{\"line_no\": %d, \"before\": ", first ? "" : ", ", l->line_no);
		first = false;
		if (l->old_sku == NULL)
			appendStringInfoString(&s, "null");
		else
			EdLineJson(&s, l, true);
		appendStringInfoString(&s, ", \"after\": ");
		EdLineJson(&s, l, false);
		appendStringInfo(&s, ", \"reserved\": %d, \"backordered\": %d}", l->got_reserved, l->got_backordered);
	}
	appendStringInfoString(&s, "], \"ship_to\": ");
	if (e->ship_to_changed)
		appendStringInfo(&s, "{\"before\": %s, \"after\": %s, \"rerouted\": %s}",
						 e->ship_to_before ? e->ship_to_before : "null", e->ship_to, e->rerouted ? "true" : "false");
	else
		appendStringInfoString(&s, "null");
	appendStringInfo(&s, ", \"total\": {\"before\": %s, \"after\": %s}, \"status\": {\"before\": ",
					 DatumGetCString(DirectFunctionCall1(numeric_out, e->total_before)),
					 DatumGetCString(DirectFunctionCall1(numeric_out, e->total_after)));
	escape_json(&s, e->status);
	appendStringInfoString(&s, ", \"after\": ");
	escape_json(&s, e->status_after);
	appendStringInfo(&s, "}, \"backordered_units\": " INT64_FORMAT ", \"refunds\": %s, \"voids\": %s, \"backorders_filled\": %s}",
					 e->units_backordered, e->refunds ? e->refunds : "[]", e->voids ? e->voids : "[]",
					 e->filled ? e->filled : "[]");
	return s.data;
}

/*
 * The versions (1, the order as it was, when this is its first edit), a
 * history row and the order_edited event; returns the new version's
 * changes as jsonb.
 */
static Datum
EdRecord(EdEdit *e, Datum before_doc, Datum after_doc)
{
	static SPIPlanPtr plan_max = NULL;
	static SPIPlanPtr plan_ins = NULL;
	Oid			t1[1] = {INT8OID};
	Oid			types[8] = {INT8OID, INT4OID, TEXTOID, BYTEAOID, TEXTOID, TEXTOID, JSONBOID, JSONBOID};
	Datum		values[8];
	char		nulls[8];
	int			version;
	char	   *changes;
	bytea	   *h;
	bool		isnull;

	values[0] = Int64GetDatum(e->order_id);
	OmsQuery(OmsPlan(&plan_max, "SELECT pg_catalog.max(version) FROM oms.order_versions WHERE order_id OPERATOR(pg_catalog.=) $1",
					 1, t1), values, NULL, 1);
	version = OmsGetInt32(0, 1, &isnull);
	if (isnull)
		version = 0;
	memset(nulls, ' ', sizeof(nulls));
	if (version == 0)
	{
		/* version 1: the order as placed (or as it was before versions existed) */
		values[1] = Int32GetDatum(1);
		nulls[2] = nulls[3] = nulls[5] = nulls[7] = 'n';
		values[4] = CStringGetTextDatum("placed");
		values[6] = before_doc;
		OmsExec(OmsPlan(&plan_ins,
						"INSERT INTO oms.order_versions (order_id, version, edit_id, request_hash, kind, reason, document, changes) "
						"VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
						8, types), values, nulls, 0);
		version = 1;
		memset(nulls, ' ', sizeof(nulls));
	}
	version++;
	changes = EdChanges(e, version);
	h = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	SET_VARSIZE(h, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	memcpy(VARDATA(h), e->digest, PG_SHA256_DIGEST_LENGTH);
	values[1] = Int32GetDatum(version);
	values[2] = e->edit_id ? CStringGetTextDatum(e->edit_id) : (Datum) 0;
	nulls[2] = e->edit_id ? ' ' : 'n';
	values[3] = PointerGetDatum(h);
	values[4] = CStringGetTextDatum(e->kind);
	values[5] = e->reason ? CStringGetTextDatum(e->reason) : (Datum) 0;
	nulls[5] = e->reason ? ' ' : 'n';
	values[6] = after_doc;
	values[7] = DirectFunctionCall1(jsonb_in, CStringGetDatum(changes));
	OmsExec(OmsPlan(&plan_ins,
					"INSERT INTO oms.order_versions (order_id, version, edit_id, request_hash, kind, reason, document, changes) "
					"VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
					8, types), values, nulls, 0);
	EventsEmit("order_edited", e->order_id, changes);
	return values[7];
}

/*
 * The history row of the edit: from and to the status the order had when
 * the edit began (the status changes the edit then makes are recorded by
 * the status trigger after it, so the history still ends at the status).
 */
static void
EdHistory(EdEdit *e)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];

	values[0] = Int64GetDatum(e->order_id);
	values[1] = CStringGetTextDatum(e->status);
	values[2] = CStringGetTextDatum(psprintf("%s%s%s", strcmp(e->kind, "cancel_lines") == 0 ? "lines cancelled" : "order edited",
											 e->reason ? ": " : "", e->reason ? e->reason : ""));
	OmsExec(OmsPlan(&plan,
					"INSERT INTO oms.order_status_history (order_id, from_status, to_status, reason) VALUES ($1, $2, $2, $3)",
					3, types), values, NULL, 0);
}

/* ---- the entry points ---- */

static Datum
EdRun(FunctionCallInfo fcinfo, bool cancel_mode)
{
	EdEdit	   *e = palloc0(sizeof(EdEdit));
	EdRequest	rq;
	Jsonb	   *doc;
	Datum		answer;
	Datum		before_doc;
	Datum		after_doc;
	Datum		changes;
	int			i;

	OmsRequireArg(fcinfo, 0, "order_id");
	OmsRequireArg(fcinfo, 1, cancel_mode ? "cancel" : "edit");
	e->order_id = PG_GETARG_INT64(0);
	doc = PG_GETARG_JSONB_P(1);
	e->cancel_mode = cancel_mode;
	e->kind = cancel_mode ? "cancel_lines" : "edit_order";
	EdParse(e, doc, &rq);
	PoRequestHash(doc, e->digest);

	SPI_connect();
	EdLoadOrder(e);
	if (EdReplay(e, &answer))
		return OmsFinish(answer);
	EdCheckStatus(e);
	LifecycleTouchOrder(e->order_id);
	before_doc = OrdersDocumentOf(e->order_id);
	EdLoadLines(e);
	if (cancel_mode && rq.nchanges == 0)
	{
		/* "rest": every unshipped unit of every line */
		for (i = 0; i < e->nlines; i++)
			if (e->lines[i].qty > e->lines[i].shipped + e->lines[i].cancelled)
			{
				e->lines[i].cancelled = e->lines[i].qty - e->lines[i].shipped;
				e->lines[i].touched = true;
			}
	}
	for (i = 0; i < rq.nchanges; i++)
	{
		if (cancel_mode)
			EdApplyCancel(e, rq.changes[i], i);
		else
			EdApplyChange(e, rq.changes[i], i);
	}
	EdCheckAmounts(e);
	EdCheckNotEmpty(e);
	EdCheckExchange(e);
	EdHistory(e);
	EdApply(e);
	after_doc = OrdersDocumentOf(e->order_id);
	changes = EdRecord(e, before_doc, after_doc);
	answer = DirectFunctionCall2(jsonb_concat, after_doc,
								 DirectFunctionCall1(jsonb_in, CStringGetDatum("{\"replayed\": false}")));
	answer = DirectFunctionCall2(jsonb_concat, answer,
								 DirectFunctionCall1(jsonb_in,
													 CStringGetDatum(psprintf("{\"edit\": %s}",
																			  DatumGetCString(DirectFunctionCall1(jsonb_out, changes))))));
	return OmsFinish(answer);
}

PG_FUNCTION_INFO_V1(edit_order);
/*
 * oms.edit_order(order_id, edit): change a placed order atomically (the
 * steps are in the banner).
 */
Datum
edit_order(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(EdRun(fcinfo, false));
}

PG_FUNCTION_INFO_V1(cancel_lines);
/*
 * oms.cancel_lines(order_id, cancel): cancel unshipped units of lines, or
 * with "rest": true every unshipped unit (the rest of a partially shipped
 * order).
 */
Datum
cancel_lines(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(EdRun(fcinfo, true));
}
