/*-------------------------------------------------------------------------
 *
 * order_document.c
 *	  The order document: the order with its lines and where each line's
 *	  units are reserved, as jsonb. One saved plan serves oms.get_order and
 *	  the answers of place_order, cancel_order, set_order_status,
 *	  hold_order, release_hold and reject_at_location. Reads only. A new
 *	  order's document is built in memory from what place_order holds
 *	  (OrdersDocumentPlaced): the same document without reading back what
 *	  the call has just written.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/json.h"
#include "utils/numeric.h"
#include "utils/varlena.h"

#include "orders.h"

/*
 * The shortage of a backordered line: its product's substitutes that have
 * stock (src/order_substitute.c, oms.product_substitutes), best first, as
 * {"substitutes": [{"sku", "available"}, ...]}, or NULL when none has any.
 * One expression for both documents; pid is the line's product.
 */
#define ORDERS_SUBSTITUTES_SQL(pid) \
	"(SELECT CASE WHEN pg_catalog.count(*) OPERATOR(pg_catalog.>) 0 THEN pg_catalog.jsonb_build_object('substitutes', " \
	"        pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('sku', x.sku, 'available', x.avail) ORDER BY x.rank, x.sku)) END " \
	"   FROM (SELECT sp.sku, ps.rank, " \
	"                COALESCE((SELECT pg_catalog.sum(GREATEST(b.on_hand OPERATOR(pg_catalog.-) b.reserved OPERATOR(pg_catalog.-) b.safety_stock, 0)) " \
	"                            FROM oms.stock_balances b JOIN oms.locations bl ON bl.id OPERATOR(pg_catalog.=) b.location_id AND bl.active " \
	"                           WHERE b.product_id OPERATOR(pg_catalog.=) sp.id), 0)::pg_catalog.int8 AS avail " \
	"           FROM oms.product_substitutes ps JOIN oms.products sp ON sp.id OPERATOR(pg_catalog.=) ps.substitute_id " \
	"                AND sp.active AND sp.kind OPERATOR(pg_catalog.=) 'stock' " \
	"          WHERE ps.product_id OPERATOR(pg_catalog.=) " pid ") x WHERE x.avail OPERATOR(pg_catalog.>) 0)"

/*
 * The order document: one saved plan (the query is planned once per
 * backend, not on every call as a SQL-language function with a SET clause
 * would be). $2: NULL leaves "replayed" out, else it is its value.
 */
#define ORDERS_DOCUMENT_SQL \
	"SELECT pg_catalog.jsonb_build_object(" \
	"  'order_id', o.id, 'channel', c.code, 'external_id', o.external_id, 'status', o.status, " \
	"  'policy', o.policy, 'currency', o.currency, 'customer_id', o.customer_id, 'total', o.total, " \
	"  'subtotal', o.subtotal, 'discount', o.discount, 'shipping', o.shipping, 'tax', o.tax, " \
	"  'placed_at', o.placed_at, 'expires_at', o.expires_at, " \
	"  'lines', (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(" \
	"              'line_no', l.line_no, 'sku', p.sku, 'qty', l.qty, 'reserved', l.qty_reserved, " \
	"              'unit_price', l.unit_price, 'discount', l.discount, 'tax', l.tax, " \
	"              'backordered', l.qty_backordered, 'shipped', l.qty_shipped, 'cancelled', l.qty_cancelled, " \
	"              'locations', (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(" \
	"                                 'location', loc.code, 'sku', rp.sku, 'qty', r.qty) ORDER BY loc.code, rp.sku), '[]'::pg_catalog.jsonb) " \
	"                              FROM oms.reservations r " \
	"                              JOIN oms.locations loc ON loc.id OPERATOR(pg_catalog.=) r.location_id " \
	"                              JOIN oms.products rp ON rp.id OPERATOR(pg_catalog.=) r.product_id " \
	"                             WHERE r.order_line_id OPERATOR(pg_catalog.=) l.id " \
	"                               AND r.status OPERATOR(pg_catalog.=) 'active')) " \
	"              OPERATOR(pg_catalog.||) CASE WHEN l.substituted_for IS NULL THEN '{}'::pg_catalog.jsonb " \
	"                   ELSE pg_catalog.jsonb_build_object('substituted_for', (SELECT sp.sku FROM oms.products sp " \
	"                                                        WHERE sp.id OPERATOR(pg_catalog.=) l.substituted_for)) END " \
	"              OPERATOR(pg_catalog.||) CASE WHEN l.qty_backordered OPERATOR(pg_catalog.>) 0 " \
	"                   THEN COALESCE(" ORDERS_SUBSTITUTES_SQL("l.product_id") ", '{}'::pg_catalog.jsonb) " \
	"                   ELSE '{}'::pg_catalog.jsonb END " \
	/* a backordered line's expected date (purchasing: oms.backorder_eta), when one is known */ \
	"            OPERATOR(pg_catalog.||) CASE WHEN l.qty_backordered OPERATOR(pg_catalog.>) 0 THEN COALESCE(( " \
	"                SELECT pg_catalog.jsonb_build_object('expected_on', e.expected_on) FROM oms.backorder_eta e " \
	"                 WHERE e.order_line_id OPERATOR(pg_catalog.=) l.id AND e.expected_on IS NOT NULL), '{}'::pg_catalog.jsonb) " \
	"                ELSE '{}'::pg_catalog.jsonb END ORDER BY l.line_no) " \
	"               FROM oms.order_lines l JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) l.product_id " \
	"              WHERE l.order_id OPERATOR(pg_catalog.=) o.id)) " \
	"  OPERATOR(pg_catalog.||) CASE WHEN " ORDERS_HAS_PRICING_SQL " THEN " ORDERS_PRICING_SQL \
	"       ELSE '{}'::pg_catalog.jsonb END " \
	"  OPERATOR(pg_catalog.||) CASE WHEN $2 IS NULL THEN '{}'::pg_catalog.jsonb " \
	"       ELSE pg_catalog.jsonb_build_object('replayed', $2) END " \
	"  FROM oms.orders o JOIN oms.channels c ON c.id OPERATOR(pg_catalog.=) o.channel_id " \
	" WHERE o.id OPERATOR(pg_catalog.=) $1"

/* Run the document query; *found is false when there is no such order. */
static Datum
OrdersDocument(int64 order_id, int replayed, bool *found)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, BOOLOID};
	Datum		values[2] = {Int64GetDatum(order_id), BoolGetDatum(replayed > 0)};
	char		nulls[2] = {' ', replayed < 0 ? 'n' : ' '};
	bool		isnull;
	Datum		d;

	OmsQuery(OmsPlan(&plan, ORDERS_DOCUMENT_SQL, 2, types), values, nulls, 1);
	*found = SPI_processed > 0;
	if (!*found)
		return (Datum) 0;
	d = OmsGetDatum(0, 1, &isnull);
	return SPI_datumTransfer(d, false, -1);
}

/* The document with "replayed": place_order's and cancel_order's answer. */
Datum
OrdersDocumentReplayed(int64 order_id, bool replayed)
{
	bool		found;
	Datum		d = OrdersDocument(order_id, replayed ? 1 : 0, &found);

	if (!found)
		elog(ERROR, "oms: order " INT64_FORMAT " vanished", order_id);
	return d;
}

/* The document of an order the caller knows exists (other areas use it). */
Datum
OrdersDocumentOf(int64 order_id)
{
	bool		found;
	Datum		d = OrdersDocument(order_id, -1, &found);

	if (!found)
		elog(ERROR, "oms: order " INT64_FORMAT " vanished", order_id);
	return d;
}

PG_FUNCTION_INFO_V1(get_order);
/*
 * oms.get_order(order_id): the order document, NULL when there is no such
 * order.
 */
Datum
get_order(PG_FUNCTION_ARGS)
{
	int64		order_id = PG_GETARG_INT64(0);
	bool		found;
	Datum		d;

	SPI_connect();
	d = OrdersDocument(order_id, -1, &found);
	SPI_finish();
	if (!found)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(d);
}

/* ---- a new order's document, from what place_order holds ---- */

static void
DocPush(JsonbParseState **st, JsonbIteratorToken tok, JsonbValue *v)
{
	(void) pushJsonbValue(st, tok, v);
}

static void
DocKey(JsonbParseState **st, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) key;
	v.val.string.len = strlen(key);
	DocPush(st, WJB_KEY, &v);
}

static void
DocString(JsonbParseState **st, const char *key, const char *s)
{
	JsonbValue	v;

	DocKey(st, key);
	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = strlen(s);
	DocPush(st, WJB_VALUE, &v);
}

static void
DocNumeric(JsonbParseState **st, const char *key, Numeric n)
{
	JsonbValue	v;

	DocKey(st, key);
	v.type = jbvNumeric;
	v.val.numeric = n;
	DocPush(st, WJB_VALUE, &v);
}

static void
DocInt(JsonbParseState **st, const char *key, int64 i)
{
	DocNumeric(st, key, int64_to_numeric(i));
}

/* a timestamptz as jsonb_build_object shows it (JsonEncodeDateTime), or null */
static void
DocTimestamp(JsonbParseState **st, const char *key, Datum ts, bool isnull)
{
	JsonbValue	v;

	if (!isnull)
	{
		DocString(st, key, JsonEncodeDateTime(NULL, ts, TIMESTAMPTZOID, NULL));
		return;
	}
	DocKey(st, key);
	v.type = jbvNull;
	DocPush(st, WJB_VALUE, &v);
}

/* a backordered line's substitutes in stock (ORDERS_SUBSTITUTES_SQL), when it has any */
static void
DocSubstitutes(JsonbParseState **st, int64 product_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(product_id)};
	JsonbValue	v;
	bool		isnull;
	Datum		d;
	Jsonb	   *jb;
	JsonbValue *sub;

	OmsQuery(OmsPlan(&plan, "SELECT " ORDERS_SUBSTITUTES_SQL("$1"), 1, types), values, NULL, 1);
	d = OmsGetDatum(0, 1, &isnull);
	if (isnull)
		return;
	jb = DatumGetJsonbP(d);
	DocKey(st, "substitutes");
	sub = getKeyJsonValueFromContainer(&jb->root, "substitutes", 11, &v);
	DocPush(st, WJB_VALUE, sub);
}

/* the sku of a piece: its line's product, or one of the line's kit's components */
static const char *
DocPieceSku(OrderWork *w, OrderPiece *p)
{
	OrderLine  *l = &w->lines[p->line];
	int			k;

	if (l->product.id == p->product_id)
		return l->sku;
	for (k = 0; k < w->ncomps; k++)
		if (w->comps[k].kit_id == l->product.id && w->comps[k].component_id == p->product_id)
			return w->comps[k].sku;
	elog(ERROR, "oms: reservation of product " INT64_FORMAT " belongs to no product of line %d",
		 p->product_id, l->line_no);
	return NULL;				/* keep the compiler quiet */
}

static int
DocTextCmp(const char *a, const char *b)
{
	return varstr_cmp(a, strlen(a), b, strlen(b), DEFAULT_COLLATION_OID);
}

/*
 * The amounts of the order row as stored, from SPI row 0: total, subtotal,
 * discount, shipping and tax in columns c to c + 4 (what the insert and
 * the totals updates of placement return).
 */
void
OrdersDocHeadAmounts(OrderDocHead *head, int c)
{
	head->total = datumCopy(OmsGetDatum(0, c, NULL), false, -1);
	head->subtotal = datumCopy(OmsGetDatum(0, c + 1, NULL), false, -1);
	head->discount = datumCopy(OmsGetDatum(0, c + 2, NULL), false, -1);
	head->shipping = datumCopy(OmsGetDatum(0, c + 3, NULL), false, -1);
	head->tax = datumCopy(OmsGetDatum(0, c + 4, NULL), false, -1);
}

/*
 * The document of an order place_order has just written, the same as
 * ORDERS_DOCUMENT_SQL with "replayed": false would read back: the caller
 * passes the order row's columns as it wrote them (h) and the lines and
 * reservation pieces it wrote (w). Each line's locations are in the
 * query's order: location code, then sku, in the database collation.
 */
Datum
OrdersDocumentPlaced(const OrderDocHead *h, OrderWork *w, const PoPrice *prices)
{
	JsonbParseState *st = NULL;
	JsonbValue	v;
	JsonbValue *res;
	int		   *order = palloc(sizeof(int) * (w->npieces + 1));
	int			i,
				j,
				k,
				n;

	DocPush(&st, WJB_BEGIN_OBJECT, NULL);
	DocInt(&st, "order_id", h->order_id);
	DocString(&st, "channel", w->channel);
	DocString(&st, "external_id", w->external_id);
	DocString(&st, "status", h->status);
	DocString(&st, "policy", h->policy);
	DocString(&st, "currency", h->currency);
	if (h->customer_id > 0)
		DocInt(&st, "customer_id", h->customer_id);
	else
	{
		DocKey(&st, "customer_id");
		v.type = jbvNull;
		DocPush(&st, WJB_VALUE, &v);
	}
	DocNumeric(&st, "total", DatumGetNumeric(h->total));
	DocNumeric(&st, "subtotal", DatumGetNumeric(h->subtotal));
	DocNumeric(&st, "discount", DatumGetNumeric(h->discount));
	DocNumeric(&st, "shipping", DatumGetNumeric(h->shipping));
	DocNumeric(&st, "tax", DatumGetNumeric(h->tax));
	DocTimestamp(&st, "placed_at", h->placed_at, false);
	DocTimestamp(&st, "expires_at", h->expires_at, h->expires_at == (Datum) 0);
	DocKey(&st, "lines");
	DocPush(&st, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < w->nlines; i++)
	{
		OrderLine  *l = &w->lines[i];

		DocPush(&st, WJB_BEGIN_OBJECT, NULL);
		DocInt(&st, "line_no", l->line_no);
		DocString(&st, "sku", l->sku);
		DocInt(&st, "qty", l->qty);
		DocInt(&st, "reserved", l->reserved);
		DocNumeric(&st, "unit_price", DatumGetNumeric(prices[i].unit_price));
		DocNumeric(&st, "discount", DatumGetNumeric(prices[i].discount));
		DocNumeric(&st, "tax", DatumGetNumeric(prices[i].tax));
		DocInt(&st, "backordered", l->backordered);
		DocInt(&st, "shipped", 0);
		DocInt(&st, "cancelled", l->cancelled);
		if (l->substituted_for != 0)
			DocString(&st, "substituted_for", l->substituted_for_sku);
		if (l->backordered > 0)
			DocSubstitutes(&st, l->product.id);
		/* this line's pieces, by location code, then sku */
		n = 0;
		for (j = 0; j < w->npieces; j++)
		{
			if (w->pieces[j].line != i)
				continue;
			for (k = n; k > 0; k--)
			{
				OrderPiece *a = &w->pieces[order[k - 1]];
				OrderPiece *b = &w->pieces[j];
				int			c = DocTextCmp(a->location_code, b->location_code);

				if (c < 0 || (c == 0 && DocTextCmp(DocPieceSku(w, a), DocPieceSku(w, b)) <= 0))
					break;
				order[k] = order[k - 1];
			}
			order[k] = j;
			n++;
		}
		DocKey(&st, "locations");
		DocPush(&st, WJB_BEGIN_ARRAY, NULL);
		for (j = 0; j < n; j++)
		{
			OrderPiece *p = &w->pieces[order[j]];

			DocPush(&st, WJB_BEGIN_OBJECT, NULL);
			DocString(&st, "location", p->location_code);
			DocString(&st, "sku", DocPieceSku(w, p));
			DocInt(&st, "qty", p->qty);
			DocPush(&st, WJB_END_OBJECT, NULL);
		}
		DocPush(&st, WJB_END_ARRAY, NULL);
		DocPush(&st, WJB_END_OBJECT, NULL);
	}
	DocPush(&st, WJB_END_ARRAY, NULL);
	DocKey(&st, "replayed");
	v.type = jbvBool;
	v.val.boolean = false;
	DocPush(&st, WJB_VALUE, &v);
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	/* out of the SPI procedure's memory, which SPI_finish frees */
	return SPI_datumTransfer(JsonbPGetDatum(JsonbValueToJsonb(res)), false, -1);
}
