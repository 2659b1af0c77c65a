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
 *	    (src/order_release.c, OrdersRelease) call PromotionCodesRelease,
 *	    which sets released_at and decrements uses (and the customer's)
 *	    in one statement per table, under the order lock the caller holds,
 *	    so a use is given back exactly once.
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
 * their way to cancelled or expired): released_at is set once, and each
 * code's uses (and the customer's) go down by the uses released.
 */
void
PromotionCodesRelease(int64 *order_ids, int norders)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8ARRAYOID};
	Datum		values[1];

	if (norders == 0)
		return;
	values[0] = PointerGetDatum(OmsInt8Array(order_ids, norders));
	OmsExec(OmsPlan(&plan,
					"WITH r AS (UPDATE oms.order_codes SET released_at = pg_catalog.now() "
					"            WHERE order_id OPERATOR(pg_catalog.=) ANY ($1) AND applied AND released_at IS NULL "
					"           RETURNING code_id, customer_id), "
					"     c AS (UPDATE oms.promotion_codes p SET uses = p.uses OPERATOR(pg_catalog.-) n.n "
					"             FROM (SELECT code_id, pg_catalog.count(*)::int4 AS n FROM r GROUP BY code_id) n "
					"            WHERE p.id OPERATOR(pg_catalog.=) n.code_id RETURNING p.id) "
					"UPDATE oms.promotion_code_customers k SET uses = k.uses OPERATOR(pg_catalog.-) n.n "
					"  FROM (SELECT code_id, customer_id, pg_catalog.count(*)::int4 AS n FROM r "
					"         WHERE customer_id IS NOT NULL GROUP BY 1, 2) n "
					" WHERE k.code_id OPERATOR(pg_catalog.=) n.code_id AND k.customer_id OPERATOR(pg_catalog.=) n.customer_id",
					1, types), values, NULL, 0);
}
