/*-------------------------------------------------------------------------
 *
 * order_document.c
 *	  The order document: the order with its lines and where each line's
 *	  units are reserved, as jsonb. One saved plan serves oms.get_order and
 *	  the answers of place_order, cancel_order, set_order_status,
 *	  hold_order, release_hold and reject_at_location. Reads only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"

#include "orders.h"

/*
 * The order document: one saved plan (the query is planned once per
 * backend, not on every call as a SQL-language function with a SET clause
 * would be). $2: NULL leaves "replayed" out, else it is its value.
 */
#define ORDERS_DOCUMENT_SQL \
	"SELECT pg_catalog.jsonb_build_object(" \
	"  'order_id', o.id, 'channel', c.code, 'external_id', o.external_id, 'status', o.status, " \
	"  'policy', o.policy, 'currency', o.currency, 'customer_id', o.customer_id, 'total', o.total, " \
	"  'placed_at', o.placed_at, 'expires_at', o.expires_at, " \
	"  'lines', (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(" \
	"              'line_no', l.line_no, 'sku', p.sku, 'qty', l.qty, 'reserved', l.qty_reserved, " \
	"              'backordered', l.qty_backordered, 'shipped', l.qty_shipped, 'cancelled', l.qty_cancelled, " \
	"              'locations', (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(" \
	"                                 'location', loc.code, 'sku', rp.sku, 'qty', r.qty) ORDER BY loc.code, rp.sku), '[]'::pg_catalog.jsonb) " \
	"                              FROM oms.reservations r " \
	"                              JOIN oms.locations loc ON loc.id OPERATOR(pg_catalog.=) r.location_id " \
	"                              JOIN oms.products rp ON rp.id OPERATOR(pg_catalog.=) r.product_id " \
	"                             WHERE r.order_line_id OPERATOR(pg_catalog.=) l.id " \
	"                               AND r.status OPERATOR(pg_catalog.=) 'active')) ORDER BY l.line_no) " \
	"               FROM oms.order_lines l JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) l.product_id " \
	"              WHERE l.order_id OPERATOR(pg_catalog.=) o.id)) " \
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
