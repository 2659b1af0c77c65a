/*-------------------------------------------------------------------------
 *
 * promotion_codes.c
 *	  The uses of promotion codes: taken by place_order, given back when the
 *	  order is cancelled or expires.
 *
 *	  Usage limits are a concurrency problem, the same as stock: a code
 *	  limited to 100 uses must never be used 101 times, however many orders
 *	  race for the last use. The protocol is stock's:
 *
 *	  - Guarded writes. A use is taken with
 *	      UPDATE oms.promotion_codes SET uses = uses + 1
 *	       WHERE id = $1 AND (usage_limit IS NULL OR uses < usage_limit)
 *	    RETURNING id
 *	    in the order's own transaction. The row lock serializes the racers;
 *	    under READ COMMITTED the one that waited re-evaluates the guard on
 *	    the committed row, so the last use goes to exactly one of them and
 *	    the other sees no row (exhausted). Nothing is read, decided and
 *	    then written. Under REPEATABLE READ and SERIALIZABLE the waiter
 *	    gets 40001, and retries.
 *	  - The per-customer limit is the same guarded update on the
 *	    (code, customer) row of oms.promotion_code_customers, created on
 *	    first use (INSERT ... ON CONFLICT DO UPDATE ... WHERE uses <
 *	    limit). The code row is always taken first, so two orders of the
 *	    same customer lock in the same order.
 *	  - Lock order: an order's codes are taken in ascending code id
 *	    (src/promotions.c sorts them), before any balance row is locked
 *	    (placement reserves stock after pricing), so code rows and balance
 *	    rows never wait on each other in opposite orders.
 *	  - Giving back: an order that holds a use records it in
 *	    oms.order_codes (applied, released_at NULL). Cancel and expiry
 *	    (src/order_release.c, OrdersRelease) call PromotionCodesRelease
 *	    first, before any balance row: it sets released_at and decrements
 *	    uses (and the customer's) code by code in ascending id, under the
 *	    order lock the caller holds, so a use is given back exactly once,
 *	    and code rows are always locked before balance rows.
 *	  - One case is left to the deadlock detector: placement's lazy expiry
 *	    (src/order_release.c) releases lapsed orders while the placing
 *	    call already holds its own codes; two placements each expiring an
 *	    order that holds the other's code would wait on each other. One of
 *	    them then fails with 40P01 and is retried; the other goes on.
 *
 *	  oms.check() (promotion_code_uses) verifies that every code's uses
 *	  equals its live orders, and the same per customer.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"

#include "pricing.h"

/*
 * Take one use of the code, and of the customer's allowance when the code
 * has a per-customer limit. False, with nothing taken, when a limit is
 * reached; *per_customer then says whether it was the customer's.
 */
bool
PromotionCodesTake(int64 code_id, int64 customer_id, bool per_customer_limit, bool *per_customer)
{
	static SPIPlanPtr plan_code = NULL;
	static SPIPlanPtr plan_cust = NULL;
	static SPIPlanPtr plan_back = NULL;
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(code_id), Int64GetDatum(customer_id)};

	*per_customer = false;
	OmsExec(OmsPlan(&plan_code,
					"UPDATE oms.promotion_codes SET uses = uses OPERATOR(pg_catalog.+) 1 "
					" WHERE id OPERATOR(pg_catalog.=) $1 "
					"   AND (usage_limit IS NULL OR uses OPERATOR(pg_catalog.<) usage_limit) RETURNING id",
					1, types), values, NULL, 1);
	if (SPI_processed == 0)
		return false;
	if (!per_customer_limit)
		return true;
	OmsExec(OmsPlan(&plan_cust,
					"INSERT INTO oms.promotion_code_customers AS x (code_id, customer_id, uses) "
					"SELECT $1, $2, 1 FROM oms.promotion_codes c "
					" WHERE c.id OPERATOR(pg_catalog.=) $1 AND c.per_customer_limit OPERATOR(pg_catalog.>=) 1 "
					"ON CONFLICT (code_id, customer_id) DO UPDATE SET uses = x.uses OPERATOR(pg_catalog.+) 1 "
					" WHERE x.uses OPERATOR(pg_catalog.<) (SELECT per_customer_limit FROM oms.promotion_codes "
					"                                       WHERE id OPERATOR(pg_catalog.=) $1) "
					"RETURNING x.uses",
					2, types), values, NULL, 1);
	if (SPI_processed == 1)
		return true;
	/* the customer's allowance is used up: the code's use goes back */
	OmsExec(OmsPlan(&plan_back,
					"UPDATE oms.promotion_codes SET uses = uses OPERATOR(pg_catalog.-) 1 WHERE id OPERATOR(pg_catalog.=) $1",
					1, types), values, NULL, 1);
	*per_customer = true;
	return false;
}

/* Give back one use taken by PromotionCodesTake in this transaction. */
void
PromotionCodesUntake(int64 code_id, int64 customer_id, bool per_customer_limit)
{
	static SPIPlanPtr plan_code = NULL;
	static SPIPlanPtr plan_cust = NULL;
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(code_id), Int64GetDatum(customer_id)};

	OmsExec(OmsPlan(&plan_code,
					"UPDATE oms.promotion_codes SET uses = uses OPERATOR(pg_catalog.-) 1 WHERE id OPERATOR(pg_catalog.=) $1",
					1, types), values, NULL, 1);
	if (per_customer_limit)
		OmsExec(OmsPlan(&plan_cust,
						"UPDATE oms.promotion_code_customers SET uses = uses OPERATOR(pg_catalog.-) 1 "
						" WHERE code_id OPERATOR(pg_catalog.=) $1 AND customer_id OPERATOR(pg_catalog.=) $2",
						2, types), values, NULL, 1);
}

/*
 * Give back every live code use of the orders (locked by the caller, on
 * their way to cancelled or expired): released_at is set once, then each
 * code's uses (and its customers') go down by the uses released, code by
 * code in ascending id, each code row before its customer rows: the order
 * in which placement takes them (PromotionCodesTake). The caller runs this
 * before it touches any balance row, as placement takes codes before
 * stock, so that a cancel and a placement never wait on each other in
 * opposite orders.
 */
void
PromotionCodesRelease(int64 *order_ids, int norders)
{
	static SPIPlanPtr plan_released = NULL;
	static SPIPlanPtr plan_code = NULL;
	static SPIPlanPtr plan_cust = NULL;
	Oid			types[1] = {INT8ARRAYOID};
	Oid			types2[2] = {INT8OID, INT4OID};
	Oid			types3[3] = {INT8OID, INT8OID, INT4OID};
	Datum		values[3];
	int			n,
				i;
	int64	   *codes;
	int64	   *customers;
	int32	   *uses;

	if (norders == 0)
		return;
	values[0] = PointerGetDatum(OmsInt8Array(order_ids, norders));
	OmsQuery(OmsPlan(&plan_released,
					 "WITH r AS (UPDATE oms.order_codes SET released_at = pg_catalog.now() "
					 "            WHERE order_id OPERATOR(pg_catalog.=) ANY ($1) AND applied AND released_at IS NULL "
					 "           RETURNING code_id, customer_id) "
					 "SELECT code_id, COALESCE(customer_id, 0), pg_catalog.count(*)::pg_catalog.int4 FROM r "
					 " GROUP BY 1, 2 ORDER BY 1, 2",
					 1, types), values, NULL, 0);
	n = (int) SPI_processed;
	if (n == 0)
		return;
	codes = palloc(sizeof(int64) * n);
	customers = palloc(sizeof(int64) * n);
	uses = palloc(sizeof(int32) * n);
	for (i = 0; i < n; i++)
	{
		codes[i] = OmsGetInt64(i, 1, NULL);
		customers[i] = OmsGetInt64(i, 2, NULL);
		uses[i] = OmsGetInt32(i, 3, NULL);
	}
	for (i = 0; i < n; i++)
	{
		int			j;
		int32		total = 0;

		/* the code's row once, with every use released of it */
		if (i == 0 || codes[i] != codes[i - 1])
		{
			for (j = i; j < n && codes[j] == codes[i]; j++)
				total += uses[j];
			values[0] = Int64GetDatum(codes[i]);
			values[1] = Int32GetDatum(total);
			OmsExec(OmsPlan(&plan_code,
							"UPDATE oms.promotion_codes SET uses = uses OPERATOR(pg_catalog.-) $2 "
							" WHERE id OPERATOR(pg_catalog.=) $1",
							2, types2), values, NULL, 0);
		}
		if (customers[i] != 0)
		{
			values[0] = Int64GetDatum(codes[i]);
			values[1] = Int64GetDatum(customers[i]);
			values[2] = Int32GetDatum(uses[i]);
			OmsExec(OmsPlan(&plan_cust,
							"UPDATE oms.promotion_code_customers SET uses = uses OPERATOR(pg_catalog.-) $3 "
							" WHERE code_id OPERATOR(pg_catalog.=) $1 AND customer_id OPERATOR(pg_catalog.=) $2",
							3, types3), values, NULL, 0);
		}
	}
}
