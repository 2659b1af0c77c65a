/*-------------------------------------------------------------------------
 *
 * route_explain.c
 *	  Routing, explained: RouteExplain() plans an order the way placement
 *	  would (RoutePlan() in route_plan.c, with every location loaded),
 *	  reserves nothing, and writes one ranked row per location: the plan's
 *	  locations first (in score order), then the other eligible ones, then
 *	  the filtered ones; each with its filter verdicts, its score terms and
 *	  a reason in words (why chosen, why not, which filter took it out).
 *
 *	  The SQL entry, oms.explain_route(jsonb), lives in the orders layer
 *	  (order_explain.c): turning an order document into a RouteRequest is
 *	  the orders layer's work, and routing never calls up into it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/tuplestore.h"

#include "routing.h"

static Datum
RouteNumeric(double v, int scale)
{
	char		buf[64];

	snprintf(buf, sizeof(buf), "%.*f", scale, v);
	return DirectFunctionCall3(numeric_in, CStringGetDatum(buf), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

static char *
RouteFilterReason(RouteRequest *req, RouteSite *x)
{
	switch (x->failed)
	{
		case RF_ACTIVE:
			return "filtered: location inactive";
		case RF_FULFILS:
			return req->pickup_location_id > 0 ? "filtered: not the pickup location" : "filtered: does not ship";
		case RF_CHANNEL:
			return "filtered: not a location of the channel";
		case RF_DISTANCE:
			return psprintf("filtered: %.1f km away, the channel allows %.1f km", x->distance, req->max_distance_km);
		case RF_CAPACITY:
			return psprintf("filtered: daily capacity reached (%d of %d orders today)", x->load, x->capacity);
		case RF_REJECTED:
			return "filtered: rejected this order before";
		case RF_STOCK:
			return "filtered: no stock of any line";
	}
	return "";
}

static char *
RouteLinesInFull(int nfit, int n)
{
	if (n == 1)
		return nfit ? "the line" : "no line";
	if (nfit == n)
		return psprintf("all %d lines", n);
	return psprintf("%d of %d lines", nfit, n);
}

/* Why an eligible location is not in the plan, in words. */
static char *
RouteWhyNot(RouteRequest *req, RouteState *st, RouteSite *x)
{
	RouteSite  *worst = NULL;
	int			min_fit = req->ndemands;
	int			i;

	if (st->nplan == 0)
		return "no plan";
	if (st->nplan == 1 && st->sites[st->plan[0]].nfit == req->ndemands && x->nfit < req->ndemands)
		return psprintf("has %s in full; the chosen location has all", RouteLinesInFull(x->nfit, req->ndemands));
	for (i = 0; i < st->nplan; i++)
	{
		RouteSite  *c = &st->sites[st->plan[i]];

		if (worst == NULL || RouteKeyCmp(c->key, worst->key) > 0)
			worst = c;
		min_fit = Min(min_fit, c->nfit);
	}
	if (x->nfit < min_fit)
		return psprintf("has %s in full, fewer than every chosen location", RouteLinesInFull(x->nfit, req->ndemands));
	if (RouteKeyCmp(x->key, worst->key) < 0)
		return psprintf("scores better on %s alone, but the best plan (%d shipment%s) does not include it",
						RouteStrategyTerm(req->strategy), st->nplan, st->nplan == 1 ? "" : "s");
	if (RouteKeyCmp(x->key, worst->key) == 0)
		return "ties on every score term; the lower location id wins";
	return psprintf("ranks lower on %s", RouteStrategyTerm(req->strategy));
}

/*
 * Plan req without reserving anything and put one row per location into
 * store (desc: the columns of oms.explain_route), ranked as the banner
 * says. The caller is connected to SPI.
 */
void
RouteExplain(RouteRequest *req, Tuplestorestate *store, TupleDesc desc)
{
	RoutePlanOut out;
	RouteState *st;
	int		   *order;
	int			norder = 0;
	int			i,
				f,
				rank = 0;

	req->explain = true;
	RoutePlan(req, &out);
	st = out.state;

	order = palloc(sizeof(int) * (st->nsites + 1));
	for (i = 0; i < st->nplan; i++)
		order[norder++] = st->plan[i];
	for (i = 0; i < st->neligible; i++)
		if (!st->sites[st->eligible[i]].chosen)
			order[norder++] = st->eligible[i];
	for (i = 0; i < st->nsites; i++)
		if (st->sites[i].failed >= 0)
			order[norder++] = i;

	for (i = 0; i < norder; i++)
	{
		RouteSite  *x = &st->sites[order[i]];
		Datum		values[14];
		bool		nulls[14];
		StringInfoData verdicts;
		char	   *role;
		char	   *reason;
		int64		total = 0;
		int			d;

		memset(nulls, 0, sizeof(nulls));
		initStringInfo(&verdicts);
		appendStringInfoChar(&verdicts, '{');
		for (f = 0; f < RF_COUNT; f++)
			appendStringInfo(&verdicts, "%s\"%s\": %s", f ? ", " : "", RouteFilterNames[f],
							 x->pass[f] ? "true" : "false");
		appendStringInfoChar(&verdicts, '}');
		for (d = 0; d < req->ndemands; d++)
			total += x->avail[d];

		if (x->failed >= 0)
		{
			role = "filtered";
			reason = RouteFilterReason(req, x);
		}
		else if (x->chosen)
		{
			role = "chosen";
			reason = psprintf("%s; %s in full, " INT64_FORMAT " unit%s planned here",
							  st->rule, RouteLinesInFull(x->nfit, req->ndemands),
							  x->planned, x->planned == 1 ? "" : "s");
		}
		else
		{
			role = (i < st->nplan + ROUTE_RUNNERS_UP) ? "runner_up" : "eligible";
			reason = RouteWhyNot(req, st, x);
		}
		rank++;
		values[0] = Int32GetDatum(rank);
		values[1] = CStringGetTextDatum(x->code);
		values[2] = CStringGetTextDatum(role);
		values[3] = BoolGetDatum(x->failed < 0);
		values[4] = DirectFunctionCall1(jsonb_in, CStringGetDatum(verdicts.data));
		values[5] = Int32GetDatum(x->nfit);
		values[6] = Int64GetDatum(total);
		if (x->distance < 0)
			nulls[7] = true;
		else
			values[7] = RouteNumeric(x->distance, 1);
		values[8] = RouteNumeric(x->ship_cost, 2);
		values[9] = RouteNumeric(x->handling, 2);
		values[10] = RouteNumeric(x->est_cost, 2);
		values[11] = Int32GetDatum(x->priority);
		values[12] = Int64GetDatum(x->after);
		values[13] = CStringGetTextDatum(reason);
		tuplestore_putvalues(store, desc, values, nulls);
	}
}
