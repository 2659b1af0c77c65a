/*-------------------------------------------------------------------------
 *
 * route_promise.c
 *	  Routing by delivery promise: for every candidate location, the best
 *	  carrier service that reaches the ship-to, and the date it arrives.
 *
 *	  A promise is computed when the order asks for one (deliver_by, a
 *	  date; or service_level, standard or express) or when its channel's
 *	  strategy is fastest. Click and collect has no carrier leg and no
 *	  promise. For a location:
 *	  - it ships on its own local day (its time_zone): today, or tomorrow
 *	    when the local time is past its cutoff_time (no cut-off: today);
 *	  - a service qualifies when it and its carrier are active and a rate
 *	    of the order's currency covers the distance to the ship-to and the
 *	    order's weight (the narrowest band, as oms.quote_shipping quotes);
 *	    it arrives transit_days after the ship day;
 *	  - with deliver_by, only services arriving by that date count; the
 *	    location with none fails the deadline filter (RF_DEADLINE), under
 *	    any strategy;
 *	  - the service chosen is the cheapest that qualifies (ties: the
 *	    fastest), or with service_level express or strategy fastest, the
 *	    fastest (ties: the cheapest).
 *	  The chosen service's rate becomes the location's shipping cost in the
 *	  score (route_plan.c), so strategy cheapest prefers the cheapest of
 *	  the locations that can make the date. Strategy fastest ranks by the
 *	  date of arrival. The promise is shown by explain_route (verdicts) and
 *	  stored with the decision (routing_decisions.chosen and runners_up).
 *
 *	  Everything is read in one query over all candidate sites; nothing is
 *	  locked (the planner reads only).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"

#include "oms.h"
#include "routing.h"

bool
RoutePromiseWanted(RouteRequest *req)
{
	if (req->pickup_location_id > 0)
		return false;
	return req->has_deliver_by || req->promise || req->strategy == ROUTE_STRATEGY_FASTEST;
}

void
RoutePromise(RouteRequest *req, RouteState *st)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[7] = {INT4ARRAYOID, FLOAT8ARRAYOID, TEXTOID, DATEOID, BOOLOID, INT8ARRAYOID, INT8ARRAYOID};
	Datum		values[7];
	char		nulls[7] = "       ";
	Datum	   *ids = palloc(sizeof(Datum) * (st->nsites + 1));
	Datum	   *dists = palloc(sizeof(Datum) * (st->nsites + 1));
	bool	   *dnulls = palloc(sizeof(bool) * (st->nsites + 1));
	Datum	   *pids = palloc(sizeof(Datum) * (req->ndemands + 1));
	Datum	   *qtys = palloc(sizeof(Datum) * (req->ndemands + 1));
	int			dims[1];
	int			lbs[1] = {1};
	int			s,
				r;

	for (s = 0; s < st->nsites; s++)
	{
		ids[s] = Int32GetDatum(st->sites[s].id);
		dists[s] = Float8GetDatum(st->sites[s].distance);
		dnulls[s] = st->sites[s].distance < 0;
		st->sites[s].promised = false;
		st->sites[s].promise_text = NULL;
	}
	for (s = 0; s < req->ndemands; s++)
	{
		pids[s] = Int64GetDatum(req->demands[s].product_id);
		qtys[s] = Int64GetDatum(req->demands[s].qty);
	}
	dims[0] = st->nsites;
	values[0] = PointerGetDatum(construct_array(ids, st->nsites, INT4OID, 4, true, TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_md_array(dists, dnulls, 1, dims, lbs, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[2] = CStringGetTextDatum(req->currency ? req->currency : "");
	values[3] = DateADTGetDatum(req->deliver_by);
	nulls[3] = req->has_deliver_by ? ' ' : 'n';
	values[4] = BoolGetDatum(req->express || req->strategy == ROUTE_STRATEGY_FASTEST);
	values[5] = PointerGetDatum(construct_array(pids, req->ndemands, INT8OID, 8, true, TYPALIGN_DOUBLE));
	values[6] = PointerGetDatum(construct_array(qtys, req->ndemands, INT8OID, 8, true, TYPALIGN_DOUBLE));
	OmsQuery(OmsPlan(&plan,
					 "WITH kg AS (SELECT COALESCE(pg_catalog.sum(p.weight_kg OPERATOR(pg_catalog.*) d.qty), 0) AS kg "
					 "              FROM ROWS FROM (pg_catalog.unnest($6), pg_catalog.unnest($7)) AS d(pid, qty) "
					 "              JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) d.pid) "
					 "SELECT x.id, best.arrives_on OPERATOR(pg_catalog.-) '2000-01-01'::pg_catalog.date, "
					 "       best.rate::pg_catalog.float8, "
					 "       pg_catalog.jsonb_build_object('ships_on', sd.ships_on, 'arrives_on', best.arrives_on, "
					 "         'carrier', best.carrier, 'service', best.service, 'transit_days', best.transit_days, "
					 "         'rate', best.rate)::pg_catalog.text "
					 "  FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) AS x(id, dist) "
					 "  JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) x.id "
					 "  CROSS JOIN kg "
					 "  CROSS JOIN LATERAL (SELECT pg_catalog.timezone(l.time_zone, pg_catalog.now()) AS local) lt "
					 "  CROSS JOIN LATERAL (SELECT lt.local::pg_catalog.date "
					 "       OPERATOR(pg_catalog.+) CASE WHEN l.cutoff_time IS NOT NULL "
					 "                                    AND lt.local::pg_catalog.time OPERATOR(pg_catalog.>=) l.cutoff_time "
					 "                                   THEN 1 ELSE 0 END AS ships_on) sd "
					 "  JOIN LATERAL ("
					 "       SELECT c.code AS carrier, sv.code AS service, sv.transit_days, "
					 "              sd.ships_on OPERATOR(pg_catalog.+) sv.transit_days AS arrives_on, rate.price AS rate "
					 "         FROM oms.carrier_services sv "
					 "         JOIN oms.carriers c ON c.id OPERATOR(pg_catalog.=) sv.carrier_id AND c.active "
					 "         JOIN LATERAL (SELECT r.price FROM oms.shipping_rates r "
					 "                        WHERE r.service_id OPERATOR(pg_catalog.=) sv.id AND r.currency OPERATOR(pg_catalog.=) $3 "
					 "                          AND (r.max_km IS NULL OR r.max_km OPERATOR(pg_catalog.>=) x.dist) "
					 "                          AND (r.max_kg IS NULL OR r.max_kg OPERATOR(pg_catalog.>=) kg.kg) "
					 "                        ORDER BY r.max_km NULLS LAST, r.max_kg NULLS LAST LIMIT 1) rate ON true "
					 "        WHERE sv.active "
					 "          AND ($4::pg_catalog.date IS NULL "
					 "               OR sd.ships_on OPERATOR(pg_catalog.+) sv.transit_days OPERATOR(pg_catalog.<=) $4) "
					 "        ORDER BY CASE WHEN $5 THEN sv.transit_days END, rate.price, sv.transit_days, c.code, sv.code "
					 "        LIMIT 1) best ON true",
					 7, types), values, nulls, 0);
	for (r = 0; r < (int) SPI_processed; r++)
	{
		int32		id = OmsGetInt32(r, 1, NULL);

		for (s = 0; s < st->nsites; s++)
			if (st->sites[s].id == id)
			{
				RouteSite  *x = &st->sites[s];

				x->promised = true;
				x->arrives_on = OmsGetInt32(r, 2, NULL);
				x->promise_rate = DatumGetFloat8(OmsGetDatum(r, 3, NULL));
				x->promise_text = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 4);
				break;
			}
	}
}
