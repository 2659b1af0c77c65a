/*-------------------------------------------------------------------------
 *
 * po_propose.c
 *	  Automatic purchase order proposals: oms.propose_purchase_orders() (a
 *	  sweep) and, with oms.propose_on_low_stock on, the same run inside the
 *	  transaction that drops a product to its reorder point (the low-stock
 *	  hook of inventory.c).
 *
 *	  What is proposed
 *	  ----------------
 *	  Reorder points are per product, so the need is computed over the
 *	  network: position = available (active locations) + incoming (open
 *	  purchase order lines, drafts included) - backordered units (stock
 *	  lines and the components of kit lines, of orders whose status holds
 *	  stock). A product with a reorder point gets
 *	  max(reorder_qty, reorder_point + 1 - position) units when position <=
 *	  reorder_point; any product gets -position units when its backorders
 *	  exceed its stock. The supplier is the preferred offer (an offer for
 *	  the delivery location before one for any location, then the cheapest),
 *	  and the line's total is rounded up to the offer's minimum order
 *	  quantity and then to its pack size. The units go onto the draft
 *	  purchase order of that supplier, location and currency (created when
 *	  there is none), extending the product's line when it has one.
 *
 *	  Delivery location: the one given; without one, the offer's own
 *	  location, else the first active warehouse by priority.
 *
 *	  Idempotent: the units proposed count as incoming at once, so a second
 *	  run finds the position above the reorder point and adds nothing.
 *
 *	  Concurrency: a run first upserts the products' rows of
 *	  oms.purchase_proposals in ascending product order. Two runs for one
 *	  product take turns there; under READ COMMITTED the second then reads
 *	  (each statement has a new snapshot) the draft lines of the first and
 *	  adds nothing, under REPEATABLE READ and SERIALIZABLE it fails with
 *	  40001 and its retry adds nothing. Draft purchase orders are locked
 *	  after that, and nothing that holds one waits for a proposal row.
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

#include "oms.h"

typedef struct ProposeRow
{
	int64		product_id;
	char	   *sku;
	int64		need;
	bool		has_offer;
	int32		supplier_id;
	char	   *supplier;
	int32		location_id;
	char	   *location;
	Datum		unit_cost;
	char	   *currency;
	int32		lead_time;
	int32		moq;
	int32		pack;
	char	   *supplier_sku;
} ProposeRow;

/* the candidate products (stock, active; reorder point or backorders), locked in ascending order */
static void
ProposeLock(int64 *product_ids, int n)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8ARRAYOID};
	Datum		values[1];
	char		nulls[1] = " ";

	if (product_ids)
		values[0] = PointerGetDatum(OmsInt8Array(product_ids, n));
	else
		nulls[0] = 'n';
	OmsExec(OmsPlan(&plan,
					"INSERT INTO oms.purchase_proposals AS pp (product_id) "
					"SELECT p.id FROM oms.products p "
					" WHERE p.kind OPERATOR(pg_catalog.=) 'stock' AND p.active "
					"   AND ($1::int8[] IS NULL OR p.id OPERATOR(pg_catalog.=) ANY ($1)) "
					"   AND (p.reorder_point OPERATOR(pg_catalog.>) 0 OR EXISTS ("
					"        SELECT FROM oms.order_lines l "
					"         WHERE l.qty_backordered OPERATOR(pg_catalog.>) 0 AND (l.product_id OPERATOR(pg_catalog.=) p.id "
					"            OR l.product_id IN (SELECT kit_id FROM oms.kit_components WHERE component_id OPERATOR(pg_catalog.=) p.id)))) "
					" ORDER BY p.id "
					"ON CONFLICT (product_id) DO UPDATE SET proposed_at = pg_catalog.now(), purchase_order_id = NULL, qty = 0",
					1, types), values, nulls, 0);
}

/* what each locked product needs, and its offer */
static ProposeRow *
ProposeNeeds(int64 *product_ids, int n, int32 location_id, int *nrows)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8ARRAYOID, INT4OID};
	Datum		values[2];
	char		nulls[2] = "  ";
	ProposeRow *rows;
	int			i;

	if (product_ids)
		values[0] = PointerGetDatum(OmsInt8Array(product_ids, n));
	else
		nulls[0] = 'n';
	values[1] = Int32GetDatum(location_id);
	if (location_id <= 0)
		nulls[1] = 'n';
	OmsQuery(OmsPlan(&plan,
					 "WITH p AS (SELECT p.id, p.sku, p.reorder_point, p.reorder_qty FROM oms.products p "
					 "            WHERE p.kind OPERATOR(pg_catalog.=) 'stock' AND p.active "
					 "              AND ($1::int8[] IS NULL OR p.id OPERATOR(pg_catalog.=) ANY ($1))), "
					 "     av AS (SELECT b.product_id, pg_catalog.sum(GREATEST(b.on_hand OPERATOR(pg_catalog.-) b.reserved "
					 "                   OPERATOR(pg_catalog.-) b.safety_stock, 0)) AS qty "
					 "              FROM oms.stock_balances b JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) b.location_id "
					 "             WHERE l.active AND b.product_id IN (SELECT id FROM p) GROUP BY 1), "
					 "     inc AS (SELECT product_id, pg_catalog.sum(qty) AS qty FROM oms.incoming_stock "
					 "              WHERE product_id IN (SELECT id FROM p) GROUP BY 1), "
					 "     bo AS (SELECT COALESCE(kc.component_id, l.product_id) AS product_id, "
					 "                   pg_catalog.sum(l.qty_backordered OPERATOR(pg_catalog.*) COALESCE(kc.qty, 1)) AS qty "
					 "              FROM oms.order_lines l "
					 "              JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) l.order_id "
					 "              JOIN oms.order_statuses s ON s.status OPERATOR(pg_catalog.=) o.status "
					 "              LEFT JOIN oms.kit_components kc ON kc.kit_id OPERATOR(pg_catalog.=) l.product_id "
					 "             WHERE l.qty_backordered OPERATOR(pg_catalog.>) 0 AND s.holds_stock GROUP BY 1), "
					 "     q AS (SELECT p.id, p.sku, "
					 "                  CASE WHEN p.reorder_point OPERATOR(pg_catalog.>) 0 AND x.pos OPERATOR(pg_catalog.<=) p.reorder_point "
					 "                       THEN GREATEST(p.reorder_qty, p.reorder_point OPERATOR(pg_catalog.+) 1 OPERATOR(pg_catalog.-) x.pos) "
					 "                       WHEN x.pos OPERATOR(pg_catalog.<) 0 THEN OPERATOR(pg_catalog.-) x.pos END AS need "
					 "             FROM p CROSS JOIN LATERAL (SELECT COALESCE((SELECT qty FROM av WHERE av.product_id OPERATOR(pg_catalog.=) p.id), 0) "
					 "                    OPERATOR(pg_catalog.+) COALESCE((SELECT qty FROM inc WHERE inc.product_id OPERATOR(pg_catalog.=) p.id), 0) "
					 "                    OPERATOR(pg_catalog.-) COALESCE((SELECT qty FROM bo WHERE bo.product_id OPERATOR(pg_catalog.=) p.id), 0) AS pos) x) "
					 "SELECT q.id, q.sku, LEAST(q.need, 1000000000)::int8, o.supplier_id, o.code, o.dest, l.code, o.unit_cost, o.currency, "
					 "       o.lead_time_days, o.min_order_qty, o.pack_size, o.supplier_sku "
					 "  FROM q "
					 "  LEFT JOIN LATERAL (SELECT sp.*, s.code, "
					 "                            COALESCE($2, sp.location_id, (SELECT id FROM oms.locations "
					 "                                WHERE active AND kind OPERATOR(pg_catalog.=) 'warehouse' ORDER BY priority, id LIMIT 1)) AS dest "
					 "                       FROM oms.supplier_products sp JOIN oms.suppliers s ON s.id OPERATOR(pg_catalog.=) sp.supplier_id "
					 "                      WHERE sp.product_id OPERATOR(pg_catalog.=) q.id AND s.active "
					 "                        AND ($2 IS NULL OR sp.location_id IS NULL OR sp.location_id OPERATOR(pg_catalog.=) $2) "
					 "                      ORDER BY sp.preferred DESC, (sp.location_id IS NOT NULL) DESC, sp.unit_cost, sp.id LIMIT 1) o ON true "
					 "  LEFT JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) o.dest "
					 " WHERE q.need OPERATOR(pg_catalog.>) 0 "
					 " ORDER BY q.id",
					 2, types), values, nulls, 0);
	*nrows = (int) SPI_processed;
	rows = palloc0(sizeof(ProposeRow) * Max(*nrows, 1));
	for (i = 0; i < *nrows; i++)
	{
		bool		isnull;
		ProposeRow *r = &rows[i];

		r->product_id = OmsGetInt64(i, 1, NULL);
		r->sku = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		r->need = OmsGetInt64(i, 3, NULL);
		r->supplier_id = OmsGetInt32(i, 4, &isnull);
		r->has_offer = !isnull;
		if (!r->has_offer)
			continue;
		r->supplier = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 5);
		r->location_id = OmsGetInt32(i, 6, &isnull);
		if (isnull)
		{
			r->has_offer = false;
			r->location_id = -1;
			continue;
		}
		r->location = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 7);
		r->unit_cost = SPI_datumTransfer(OmsGetDatum(i, 8, NULL), false, -1);
		r->currency = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 9);
		r->lead_time = OmsGetInt32(i, 10, NULL);
		r->moq = OmsGetInt32(i, 11, NULL);
		r->pack = OmsGetInt32(i, 12, NULL);
		r->supplier_sku = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 13);
	}
	return rows;
}

/* the draft purchase order of supplier, location and currency, locked (created when missing) */
static int64
ProposeDraft(ProposeRow *r, bool *created)
{
	static SPIPlanPtr plan_find = NULL;
	static SPIPlanPtr plan_new = NULL;
	Oid			types[3] = {INT4OID, INT4OID, TEXTOID};
	Datum		values[3];

	values[0] = Int32GetDatum(r->supplier_id);
	values[1] = Int32GetDatum(r->location_id);
	values[2] = CStringGetTextDatum(r->currency);
	OmsQuery(OmsPlan(&plan_find,
					 "SELECT po.id FROM oms.purchase_orders po "
					 "  JOIN oms.purchase_order_statuses s ON s.status OPERATOR(pg_catalog.=) po.status "
					 " WHERE s.editable AND po.supplier_id OPERATOR(pg_catalog.=) $1 AND po.location_id OPERATOR(pg_catalog.=) $2 "
					 "   AND po.currency OPERATOR(pg_catalog.=) $3 "
					 " ORDER BY po.id LIMIT 1 FOR UPDATE OF po",
					 3, types), values, NULL, 1);
	*created = SPI_processed == 0;
	if (!*created)
		return OmsGetInt64(0, 1, NULL);
	OmsExec(OmsPlan(&plan_new,
					"INSERT INTO oms.purchase_orders (supplier_id, location_id, currency, proposed) "
					"VALUES ($1, $2, $3, true) RETURNING id",
					3, types), values, NULL, 1);
	return OmsGetInt64(0, 1, NULL);
}

/* round a line total up to the minimum order quantity, then to the pack size */
static int64
ProposeRound(int64 total, int32 moq, int32 pack)
{
	if (total < moq)
		total = moq;
	if (pack > 1 && total % pack != 0)
		total += pack - total % pack;
	return total;
}

/* add need units of r's product to draft po_id; the units added */
static int32
ProposeAddLine(int64 po_id, ProposeRow *r)
{
	static SPIPlanPtr plan_line = NULL;
	static SPIPlanPtr plan_update = NULL;
	static SPIPlanPtr plan_insert = NULL;
	Oid			types[8] = {INT8OID, INT8OID, INT4OID, NUMERICOID, TEXTOID, INT4OID, INT4OID, INT4OID};
	Datum		values[8];
	char		nulls[8] = "        ";
	int64		existing = 0;
	bool		have_line;
	int64		total;

	values[0] = Int64GetDatum(po_id);
	values[1] = Int64GetDatum(r->product_id);
	OmsQuery(OmsPlan(&plan_line,
					 "SELECT qty_ordered FROM oms.purchase_order_lines "
					 " WHERE purchase_order_id OPERATOR(pg_catalog.=) $1 AND product_id OPERATOR(pg_catalog.=) $2 FOR UPDATE",
					 2, types), values, NULL, 1);
	have_line = SPI_processed == 1;
	if (have_line)
		existing = OmsGetInt32(0, 1, NULL);
	total = ProposeRound(existing + r->need, r->moq, r->pack);
	if (total > 1000000000)
		total = 1000000000;
	if (total <= existing)
		return 0;
	values[2] = Int32GetDatum((int32) total);
	if (have_line)
	{
		OmsExec(OmsPlan(&plan_update,
						"UPDATE oms.purchase_order_lines SET qty_ordered = $3 "
						" WHERE purchase_order_id OPERATOR(pg_catalog.=) $1 AND product_id OPERATOR(pg_catalog.=) $2",
						3, types), values, NULL, 0);
		return (int32) (total - existing);
	}
	values[3] = r->unit_cost;
	if (r->supplier_sku)
		values[4] = CStringGetTextDatum(r->supplier_sku);
	else
		nulls[4] = 'n';
	values[5] = Int32GetDatum(r->lead_time);
	OmsExec(OmsPlan(&plan_insert,
					"INSERT INTO oms.purchase_order_lines (purchase_order_id, line_no, product_id, qty_ordered, unit_cost, "
					"       supplier_sku, lead_time_days) "
					"SELECT $1, COALESCE(pg_catalog.max(line_no), 0) OPERATOR(pg_catalog.+) 1, $2, $3, $4, $5, $6 "
					"  FROM oms.purchase_order_lines WHERE purchase_order_id OPERATOR(pg_catalog.=) $1",
					6, types), values, nulls, 0);
	return (int32) total;
}

static void
ProposeRecord(int64 product_id, int64 po_id, int32 qty)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {INT8OID, INT8OID, INT4OID};
	Datum		values[3] = {Int64GetDatum(product_id), Int64GetDatum(po_id), Int32GetDatum(qty)};

	OmsExec(OmsPlan(&plan,
					"UPDATE oms.purchase_proposals SET purchase_order_id = $2, qty = $3 "
					" WHERE product_id OPERATOR(pg_catalog.=) $1",
					3, types), values, NULL, 0);
}

static char *
ProposeQuote(const char *s)
{
	StringInfoData b;

	initStringInfo(&b);
	escape_json(&b, s);
	return b.data;
}

/*
 * One proposal run (see the banner) for the products given (NULL: every
 * candidate), delivering to location_id (0: the default). The caller is
 * connected to SPI. Returns the JSON text {"proposed": [...], "skipped": [...]}.
 */
char *
PurchasingPropose(int64 *product_ids, int n, int32 location_id)
{
	ProposeRow *rows;
	int			nrows;
	int			i;
	StringInfoData proposed;
	StringInfoData skipped;
	bool		first_p = true;
	bool		first_s = true;

	ProposeLock(product_ids, n);
	rows = ProposeNeeds(product_ids, n, location_id, &nrows);
	initStringInfo(&proposed);
	initStringInfo(&skipped);
	for (i = 0; i < nrows; i++)
	{
		ProposeRow *r = &rows[i];
		int64		po_id;
		bool		created;
		int32		added;
		char	   *payload;

		if (!r->has_offer)
		{
			appendStringInfo(&skipped, "%s{\"sku\": %s, \"need\": " INT64_FORMAT ", \"reason\": %s}",
							 first_s ? "" : ", ", ProposeQuote(r->sku), r->need,
							 ProposeQuote(r->location_id < 0 ? "no active warehouse to deliver to"
										  : "no active supplier offers it"));
			first_s = false;
			continue;
		}
		po_id = ProposeDraft(r, &created);
		added = ProposeAddLine(po_id, r);
		ProposeRecord(r->product_id, po_id, added);
		if (added == 0)
			continue;
		payload = psprintf("{\"purchase_order_id\": " INT64_FORMAT ", \"sku\": %s, \"qty\": %d, \"supplier\": %s, "
						   "\"location\": %s, \"new_purchase_order\": %s}",
						   po_id, ProposeQuote(r->sku), added, ProposeQuote(r->supplier), ProposeQuote(r->location),
						   created ? "true" : "false");
		appendStringInfo(&proposed, "%s%s", first_p ? "" : ", ", payload);
		first_p = false;
		EventsEmit("purchase_order_proposed", 0, payload);
	}
	return psprintf("{\"proposed\": [%s], \"skipped\": [%s]}", proposed.data, skipped.data);
}

PG_FUNCTION_INFO_V1(propose_purchase_orders);
/*
 * oms.propose_purchase_orders(location): a sweep over every product; the
 * proposals deliver to location when given.
 */
Datum
propose_purchase_orders(PG_FUNCTION_ARGS)
{
	int32		location_id = 0;
	char	   *out;

	SPI_connect();
	if (!PG_ARGISNULL(0))
	{
		char	   *loc = OmsIdentifierArg(fcinfo, 0, "location", OMS_MAX_CODE_CHARS);
		bool		active = false;
		bool		found = OmsLookupLocation(loc, &location_id, &active);

		if (!found || !active)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s location \"%s\"", found ? "inactive" : "unknown", loc),
					 errdetail("Proposals deliver to an active location of oms.locations."),
					 errhint("Location codes are case-sensitive; call it without a location to use the suppliers' locations.")));
	}
	out = PurchasingPropose(NULL, 0, location_id);
	PG_RETURN_DATUM(OmsFinish(DirectFunctionCall1(jsonb_in, CStringGetDatum(out))));
}
