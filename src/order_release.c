/*-------------------------------------------------------------------------
 *
 * order_release.c
 *	  Giving back what orders hold: OrdersRelease releases every active
 *	  reservation and backorder of a set of orders and moves them to a
 *	  closing status (cancel_order and expiry use it); OrdersExpireForProducts
 *	  is the lazy expiry routing asks for when a plan is short; and
 *	  oms.expire_reservations expires every lapsed unpaid order.
 *
 *	  Which orders expire is asked of the lifecycle data, not of status
 *	  names: an order whose payment hold (expires_at) has lapsed and whose
 *	  status has a transition to expired in oms.order_transitions (seeded:
 *	  pending_payment and backordered; an order on hold keeps its stock).
 *	  "expired" is named as the target of the step.
 *
 *	  Locking: the caller of OrdersRelease has locked the orders; the
 *	  expiry functions lock them with FOR UPDATE SKIP LOCKED, ascending, so
 *	  that an order being changed by someone else is skipped rather than
 *	  waited for. Balance rows are then taken in (product, location) order
 *	  across all the orders at once, through inventory.c's
 *	  InventoryUnreserve, and the freed units fill waiting backorders while
 *	  this call still holds those rows (InventoryFillBackorders).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "orders.h"
#include "pricing.h"

/* orders that may expire now: the hold lapsed, and the lifecycle allows it */
#define ORDERS_EXPIRABLE \
	"o.expires_at OPERATOR(pg_catalog.<=) pg_catalog.now() " \
	"AND EXISTS (SELECT FROM oms.order_transitions t " \
	"             WHERE t.from_status OPERATOR(pg_catalog.=) o.status " \
	"               AND t.to_status OPERATOR(pg_catalog.=) 'expired')"

/*
 * Release every active reservation and backorder of the given orders, which
 * the caller has locked. Balance rows are taken in (product, location)
 * order across all the orders at once. Returns the number of reservations
 * released.
 */
int
OrdersRelease(int64 *order_ids, int norders, const char *status,
			  const char *reason, const char *movement_kind, char **filled)
{
	static SPIPlanPtr plan_sums = NULL;
	static SPIPlanPtr plan_res = NULL;
	static SPIPlanPtr plan_lines = NULL;
	static SPIPlanPtr plan_orders = NULL;
	Oid			t1[1] = {INT8ARRAYOID};
	Oid			t4[4] = {INT8ARRAYOID, TEXTOID, TEXTOID, TEXTOID};
	Oid			t3[3] = {INT8ARRAYOID, TEXTOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = "    ";
	int			n,
				i;
	int64	   *pids;
	int32	   *locs;
	int32	   *qtys;
	int			released;

	if (norders == 0)
		return 0;
	/*
	 * the promotion code uses the orders held go back first: code rows
	 * before balance rows, as placement takes them (src/promotion_codes.c)
	 */
	PromotionCodesRelease(order_ids, norders);
	values[0] = PointerGetDatum(OmsInt8Array(order_ids, norders));
	OmsQuery(OmsPlan(&plan_sums,
					 "SELECT product_id, location_id, pg_catalog.sum(qty)::int4 FROM oms.reservations "
					 " WHERE order_id OPERATOR(pg_catalog.=) ANY ($1) AND status OPERATOR(pg_catalog.=) 'active' "
					 " GROUP BY 1, 2 ORDER BY 1, 2",
					 1, t1), values, NULL, 0);
	n = (int) SPI_processed;
	pids = palloc(sizeof(int64) * (n + 1));
	locs = palloc(sizeof(int32) * (n + 1));
	qtys = palloc(sizeof(int32) * (n + 1));
	for (i = 0; i < n; i++)
	{
		pids[i] = OmsGetInt64(i, 1, NULL);
		locs[i] = OmsGetInt32(i, 2, NULL);
		qtys[i] = OmsGetInt32(i, 3, NULL);
	}
	for (i = 0; i < n; i++)
		InventoryUnreserve(pids[i], locs[i], qtys[i]);

	values[1] = CStringGetTextDatum(strcmp(movement_kind, "expiry") == 0 ? "expired" : "released");
	values[2] = CStringGetTextDatum(movement_kind);
	if (reason)
		values[3] = CStringGetTextDatum(reason);
	else
		nulls[3] = 'n';
	OmsExec(OmsPlan(&plan_res,
					"WITH r AS (UPDATE oms.reservations SET status = $2, ended_at = pg_catalog.now() "
					"            WHERE order_id OPERATOR(pg_catalog.=) ANY ($1) AND status OPERATOR(pg_catalog.=) 'active' "
					"           RETURNING id, order_id, product_id, location_id, qty) "
					"INSERT INTO oms.stock_movements (product_id, location_id, kind, reserved_delta, order_id, reservation_id, reference) "
					"SELECT product_id, location_id, $3, OPERATOR(pg_catalog.-) qty, order_id, id, $4 FROM r",
					4, t4), values, nulls, 0);
	released = (int) SPI_processed;

	OmsExec(OmsPlan(&plan_lines,
					"UPDATE oms.order_lines SET qty_cancelled = qty_cancelled OPERATOR(pg_catalog.+) qty_reserved "
					"       OPERATOR(pg_catalog.+) qty_backordered, qty_reserved = 0, qty_backordered = 0 "
					" WHERE order_id OPERATOR(pg_catalog.=) ANY ($1) "
					"   AND (qty_reserved OPERATOR(pg_catalog.>) 0 OR qty_backordered OPERATOR(pg_catalog.>) 0)",
					1, t1), values, NULL, 0);

	values[1] = CStringGetTextDatum(status);
	values[2] = values[3];
	nulls[2] = nulls[3];
	LifecycleSetReason(reason);
	OmsExec(OmsPlan(&plan_orders,
					"UPDATE oms.orders SET status = $2, cancel_reason = $3, expires_at = NULL, held_from = NULL, updated_at = pg_catalog.now() "
					" WHERE id OPERATOR(pg_catalog.=) ANY ($1)",
					3, t3), values, nulls, 0);
	LifecycleSetReason(NULL);

	/*
	 * The released units go to waiting backorders first, as a receipt's do.
	 * This call still holds every released balance row, which is what the
	 * fill requires, and the fill never waits (SKIP LOCKED). The orders
	 * just released are closed and no longer match.
	 */
	if (filled)
	{
		StringInfoData all;

		initStringInfo(&all);
		appendStringInfoChar(&all, '[');
		for (i = 0; i < n; i++)
		{
			char	   *f = InventoryFillBackorders(pids[i], locs[i]);
			size_t		len = strlen(f);

			if (len > 2)
				appendStringInfo(&all, "%s%.*s", all.len > 1 ? ", " : "", (int) (len - 2), f + 1);
		}
		appendStringInfoChar(&all, ']');
		*filled = all.data;
	}
	return released;
}

/*
 * Lazy expiry: release lapsed unpaid orders holding stock of these
 * products. Orders being changed by someone else are skipped.
 */
int
OrdersExpireForProducts(int64 *product_ids, int nproducts)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8ARRAYOID};
	Datum		values[1] = {PointerGetDatum(OmsInt8Array(product_ids, nproducts))};
	int64	   *ids;
	int			n,
				i;

	OmsQuery(OmsPlan(&plan,
					 "SELECT o.id FROM oms.orders o "
					 " WHERE " ORDERS_EXPIRABLE
					 "   AND o.id IN (SELECT r.order_id FROM oms.reservations r "
					 "                 WHERE r.product_id OPERATOR(pg_catalog.=) ANY ($1) AND r.status OPERATOR(pg_catalog.=) 'active') "
					 " ORDER BY o.id FOR UPDATE OF o SKIP LOCKED",
					 1, types), values, NULL, 0);
	n = (int) SPI_processed;
	if (n == 0)
		return 0;
	ids = palloc(sizeof(int64) * n);
	for (i = 0; i < n; i++)
		ids[i] = OmsGetInt64(i, 1, NULL);
	/* the stock freed here is for the order being placed: no backorder fill */
	return OrdersRelease(ids, n, "expired", "reservation hold expired", "expiry", NULL);
}

PG_FUNCTION_INFO_V1(expire_reservations);
/*
 * oms.expire_reservations(): release the reservations of unpaid orders whose
 * hold has lapsed. Returns the number of reservations released.
 */
Datum
expire_reservations(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64	   *ids;
	int			n,
				i;
	int			released = 0;

	(void) fcinfo;
	SPI_connect();
	OmsQuery(OmsPlan(&plan,
					 "SELECT o.id FROM oms.orders o WHERE " ORDERS_EXPIRABLE
					 " ORDER BY o.id FOR UPDATE OF o SKIP LOCKED",
					 0, NULL), NULL, NULL, 0);
	n = (int) SPI_processed;
	if (n > 0)
	{
		char	   *filled;

		ids = palloc(sizeof(int64) * n);
		for (i = 0; i < n; i++)
			ids[i] = OmsGetInt64(i, 1, NULL);

		released = OrdersRelease(ids, n, "expired", "reservation hold expired", "expiry", &filled);
	}
	SPI_finish();
	PG_RETURN_INT32(released);
}
