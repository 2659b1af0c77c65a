/*-------------------------------------------------------------------------
 *
 * order_follow_up.c
 *	  oms.send_follow_ups(): the sweep that pg_cron or a worker runs (for
 *	  example every hour, beside oms.expire_reservations()) to emit one
 *	  order_follow_up event per order whose parcels all arrived at least
 *	  oms.follow_up_days days ago. The customer message is the
 *	  order_follow_up template (src/order_edit.sql); the database never
 *	  sends anything itself.
 *
 *	  An order qualifies when its status holds no stock and is not terminal
 *	  (it shipped), none of its shipments is pending or on its way, and its
 *	  last delivery is old enough. Each order gets the event once: the
 *	  sweep looks for an earlier order_follow_up event of the order (the
 *	  outbox is append-only and indexed by order). Orders are locked with
 *	  SKIP LOCKED, so two sweeps running at once never emit twice and never
 *	  wait for an order another call is changing. oms.follow_up_days = 0
 *	  turns the sweep off.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"

#include "oms.h"

/* GUC oms.follow_up_days (registered in _PG_init) */
int			oms_follow_up_days = 7;

PG_FUNCTION_INFO_V1(send_follow_ups);
/*
 * oms.send_follow_ups(): emit order_follow_up for the orders delivered
 * oms.follow_up_days days ago or more; returns how many.
 */
Datum
send_follow_ups(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(oms_follow_up_days)};
	int64	   *ids;
	char	  **payloads;
	int			n,
				i;

	(void) fcinfo;
	if (oms_follow_up_days <= 0)
		PG_RETURN_INT32(0);
	SPI_connect();
	OmsQuery(OmsPlan(&plan,
					 "SELECT o.id, pg_catalog.jsonb_build_object('delivered_at', d.at, 'days', $1)::pg_catalog.text "
					 "  FROM oms.orders o "
					 "  JOIN oms.order_statuses s ON s.status OPERATOR(pg_catalog.=) o.status "
					 "       AND NOT s.holds_stock AND NOT s.terminal "
					 "  JOIN LATERAL (SELECT pg_catalog.max(sh.delivered_at) AS at, "
					 "                       pg_catalog.bool_or(sh.status OPERATOR(pg_catalog.=) ANY ('{pending,shipped}'::text[])) AS moving "
					 "                  FROM oms.shipments sh WHERE sh.order_id OPERATOR(pg_catalog.=) o.id) d ON true "
					 " WHERE d.at OPERATOR(pg_catalog.<=) (pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.make_interval(days => $1)) "
					 "   AND NOT d.moving "
					 "   AND NOT EXISTS (SELECT FROM oms.events e WHERE e.order_id OPERATOR(pg_catalog.=) o.id "
					 "                     AND e.kind OPERATOR(pg_catalog.=) 'order_follow_up') "
					 " ORDER BY o.id FOR UPDATE OF o SKIP LOCKED",
					 1, types), values, NULL, 0);
	n = (int) SPI_processed;
	ids = palloc(sizeof(int64) * (n + 1));
	payloads = palloc(sizeof(char *) * (n + 1));
	for (i = 0; i < n; i++)
	{
		ids[i] = OmsGetInt64(i, 1, NULL);
		payloads[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
	}
	for (i = 0; i < n; i++)
		EventsEmit("order_follow_up", ids[i], payloads[i]);
	SPI_finish();
	PG_RETURN_INT32(n);
}
