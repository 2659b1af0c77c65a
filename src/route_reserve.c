/*-------------------------------------------------------------------------
 *
 * route_reserve.c
 *	  Routing, second phase: executing a plan and recording the decision.
 *	  RouteReserve() reserves what RoutePlan() (route_plan.c) planned, with
 *	  guarded updates and bounded re-planning; RouteReserveLate() reserves a
 *	  plan that covers the order in one attempt, after the caller's writes;
 *	  RouteRecord() stores the decision behind what was reserved in
 *	  oms.routing_decisions.
 *
 *	  Locking protocol
 *	  ----------------
 *	  RoutePlan() reads balances without locks. RouteReserve() executes the
 *	  plan in (product, location) order with guarded updates inside a
 *	  subtransaction, then takes the daily capacity of the locations used
 *	  (a guarded upsert on oms.location_daily_load, after the balance rows:
 *	  the same order everywhere). If a guarded update finds the stock gone,
 *	  or a location's capacity was used up meanwhile, the subtransaction is
 *	  rolled back, which also drops its row locks, and the order is planned
 *	  again with fresh numbers, at most ROUTE_ATTEMPTS times. The last
 *	  attempt (except under all_or_nothing) locks each row and takes what is
 *	  there. Nothing is ever reserved without the guard, so routing cannot
 *	  oversell, and locks are only ever taken in ascending order, so it
 *	  cannot deadlock.
 *
 *	  Lazy expiry
 *	  -----------
 *	  When a plan is short and the caller passed an expiry callback
 *	  (req->expire: placement passes the orders layer's expiry of lapsed
 *	  unpaid orders), RouteReserve() calls it once, before any balance lock
 *	  of this call is taken, and re-plans for free when it released
 *	  something. Routing itself never calls an order function.
 *
 *	  The record
 *	  ----------
 *	  A decision row holds the rule that decided, the chosen locations with
 *	  their score terms and units, the best runners-up, and how many of the
 *	  active locations with stock of the order each filter took out.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "routing.h"

#define ROUTE_ATTEMPTS		4

/* one balance row's work in an attempt: give back, then reserve */
typedef struct RouteOp
{
	RouteAllocation a;			/* qty: units to reserve */
	int32		release;		/* units to give back first (re-route) */
} RouteOp;

/* (product, location) ascending: the one lock order */
static int
RouteAllocCmp(const void *a, const void *b)
{
	const RouteAllocation *x = a;
	const RouteAllocation *y = b;

	if (x->product_id != y->product_id)
		return x->product_id < y->product_id ? -1 : 1;
	return (x->location_id > y->location_id) - (x->location_id < y->location_id);
}

/* ---- executing a plan ---- */

/*
 * Count this order against the daily capacity of the capacity-limited
 * locations it was just given stock at. A guarded upsert: false when one
 * of them filled up since the plan was made.
 */
static bool
RouteTakeCapacity(RouteState *st, RouteAllocation *taken, int ntaken)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT4OID};
	Datum		values[1];
	int32	   *locs = palloc(sizeof(int32) * (st->nplan + 1));
	int			nlocs = 0;
	int			i,
				j;

	for (i = 0; i < st->nplan; i++)
	{
		RouteSite  *x = &st->sites[st->plan[i]];

		if (x->capacity < 0)
			continue;
		for (j = 0; j < ntaken; j++)
			if (taken[j].location_id == x->id)
			{
				locs[nlocs++] = x->id;
				break;
			}
	}
	/* ascending location id: one lock order */
	for (i = 1; i < nlocs; i++)
		for (j = i; j > 0 && locs[j - 1] > locs[j]; j--)
		{
			int32		t = locs[j];

			locs[j] = locs[j - 1];
			locs[j - 1] = t;
		}
	for (i = 0; i < nlocs; i++)
	{
		values[0] = Int32GetDatum(locs[i]);
		OmsExec(OmsPlan(&plan,
						"INSERT INTO oms.location_daily_load AS d (location_id, day, orders) "
						"SELECT l.id, pg_catalog.timezone(l.time_zone, pg_catalog.now())::pg_catalog.date, 1 "
						"  FROM oms.locations l WHERE l.id OPERATOR(pg_catalog.=) $1 "
						"   AND l.daily_capacity IS NOT NULL "
						"ON CONFLICT (location_id, day) DO UPDATE SET orders = d.orders OPERATOR(pg_catalog.+) 1 "
						" WHERE d.orders OPERATOR(pg_catalog.<) "
						"       (SELECT l2.daily_capacity FROM oms.locations l2 WHERE l2.id OPERATOR(pg_catalog.=) d.location_id) "
						"RETURNING d.orders",
						1, types), values, NULL, 0);
		if (SPI_processed != 1)
			return false;
	}
	return true;
}

/*
 * One attempt's work, inside its subtransaction: per balance row in
 * ascending order, give back (re-route), then reserve with the guard, or
 * on the last attempt take what is there. Then the daily capacities.
 * False when the stock or a capacity moved since the plan.
 */
static bool
RouteExecute(RouteOp *ops, int nops, bool take_what_is_there, RouteState *st,
			 RouteAllocation *got_list, int *ngot)
{
	int			i;

	for (i = 0; i < nops; i++)
	{
		RouteAllocation *a = &ops[i].a;
		int32		got;

		if (ops[i].release > 0)
			InventoryUnreserve(a->product_id, a->location_id, ops[i].release);
		if (a->qty == 0)
			continue;
		if (take_what_is_there)
			got = InventoryReserveUpTo(a->product_id, a->location_id, a->qty);
		else
			got = InventoryReserve(a->product_id, a->location_id, a->qty) ? a->qty : -1;
		if (got < 0)
			return false;		/* the stock went away since the plan */
		if (got > 0)
		{
			got_list[*ngot] = *a;
			got_list[*ngot].qty = got;
			(*ngot)++;
		}
	}
	/* a location filled up since the plan */
	return RouteTakeCapacity(st, got_list, *ngot);
}

/*
 * Run one attempt in a subtransaction: kept when it succeeded, rolled back
 * (with its row locks) when the stock or a capacity moved. Any error inside
 * (a lock timeout, a cancel, a constraint) also rolls it back before it
 * propagates: left open, it would strand the session in an aborted
 * subtransaction that only a FATAL ends.
 */
static bool
RouteAttempt(RouteOp *ops, int nops, bool take_what_is_there, RouteState *st,
			 RouteAllocation *got_list, int *ngot, RouteLateWrites before, void *arg)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool done = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		if (before)
		{
			RouteAllocation *planned = palloc(sizeof(RouteAllocation) * (nops + 1));
			int			i;

			for (i = 0; i < nops; i++)
				planned[i] = ops[i].a;
			before(arg, planned, nops);
		}
		done = RouteExecute(ops, nops, take_what_is_there, st, got_list, ngot);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		ReThrowError(edata);
	}
	PG_END_TRY();
	if (done)
		ReleaseCurrentSubTransaction();
	else
	{
		RollbackAndReleaseCurrentSubTransaction();
		*ngot = 0;
	}
	MemoryContextSwitchTo(oldcontext);
	CurrentResourceOwner = oldowner;
	return done;
}

/*
 * Plan, then reserve the plan, re-planning with fresh numbers when the
 * stock or a capacity moved (see the banner). On success *taken holds what
 * was reserved, per (product, location), ascending. Returns false, holding
 * nothing, when an all_or_nothing order is short (out->shortfall says by
 * how much) or when every attempt lost a race.
 */
bool
RouteReserve(RouteRequest *req, RoutePlanOut *out, RouteAllocation **taken, int *ntaken)
{
	bool		all_or_nothing = req->all_or_nothing;
	bool		expired_once = (req->expire == NULL);
	bool		done = false;
	int			attempt;
	int			i;

	*ntaken = 0;
	*taken = NULL;
	for (attempt = 0; attempt < ROUTE_ATTEMPTS && !done; attempt++)
	{
		bool		short_any = false;
		bool		last = (attempt == ROUTE_ATTEMPTS - 1);
		RouteAllocation *got_list;
		int			ngot = 0;
		RouteOp    *ops;
		int			nops;

		RoutePlan(req, out);
		for (i = 0; i < req->ndemands; i++)
			if (out->shortfall[i] > 0)
				short_any = true;

		/* lazy expiry: only while no balance lock is held by this call */
		if (short_any && !expired_once)
		{
			int64	   *short_ids = palloc(sizeof(int64) * req->ndemands);
			int			nshort = 0;

			expired_once = true;
			for (i = 0; i < req->ndemands; i++)
				if (out->shortfall[i] > 0)
					short_ids[nshort++] = req->demands[i].product_id;
			if (req->expire(short_ids, nshort) > 0)
			{
				attempt--;		/* a free re-plan with the released stock */
				continue;
			}
		}
		if (short_any && all_or_nothing)
			return false;

		/* this attempt's work: releases (re-route) merged with the plan */
		nops = 0;
		ops = palloc(sizeof(RouteOp) * (out->nallocs + req->nrelease + 1));
		for (i = 0; i < out->nallocs; i++)
		{
			ops[nops].a = out->allocs[i];
			ops[nops].release = 0;
			nops++;
		}
		for (i = 0; i < req->nrelease; i++)
		{
			int			k;

			for (k = 0; k < nops; k++)
				if (ops[k].a.product_id == req->release[i].product_id &&
					ops[k].a.location_id == req->release[i].location_id)
					break;
			if (k == nops)
			{
				ops[k].a = req->release[i];
				ops[k].a.qty = 0;
				ops[k].release = 0;
				nops++;
			}
			ops[k].release += req->release[i].qty;
		}
		qsort(ops, nops, sizeof(RouteOp), RouteAllocCmp);
		got_list = palloc(sizeof(RouteAllocation) * (nops + 1));

		done = RouteAttempt(ops, nops, last && !all_or_nothing, out->state, got_list, &ngot, NULL, NULL);
		if (done)
		{
			*taken = got_list;
			*ntaken = ngot;
		}
	}
	if (!done)
	{
		/* report with fresh numbers; nothing is held */
		RoutePlan(req, out);
		return false;
	}
	return true;
}

/*
 * Reserve exactly what a plan that covers every demand allocates, in one
 * attempt whose subtransaction first runs before(arg, planned, n): the
 * caller's writes that follow from the plan (placement writes the
 * decision, the lines and the reservations there). The balance rows are
 * then locked last, just before the caller goes on to commit, instead of
 * staying locked while those rows are written. True when every guarded
 * update and capacity held: the writes and the reservations stand. False
 * when the stock or a capacity moved since the plan: the subtransaction is
 * rolled back, the writes and the row locks with it, and nothing is held;
 * the caller then takes the way of RouteReserve(). An error raised by
 * before() rolls the subtransaction back and propagates.
 */
bool
RouteReserveLate(RoutePlanOut *plan, RouteLateWrites before, void *arg)
{
	RouteOp    *ops = palloc(sizeof(RouteOp) * (plan->nallocs + 1));
	RouteAllocation *got_list = palloc(sizeof(RouteAllocation) * (plan->nallocs + 1));
	int			ngot = 0;
	int			i;

	for (i = 0; i < plan->nallocs; i++)
	{
		ops[i].a = plan->allocs[i];
		ops[i].release = 0;
	}
	qsort(ops, plan->nallocs, sizeof(RouteOp), RouteAllocCmp);
	return RouteAttempt(ops, plan->nallocs, false, plan->state, got_list, &ngot, before, arg);
}

/* ---- the record of a decision ---- */

static void
RouteAppendNumber(StringInfo buf, double v)
{
	appendStringInfo(buf, "%.2f", v);
}

static void
RouteAppendSiteTerms(StringInfo buf, RouteSite *x)
{
	appendStringInfoString(buf, "\"location\": ");
	escape_json(buf, x->code);
	appendStringInfoString(buf, ", \"distance_km\": ");
	if (x->distance < 0)
		appendStringInfoString(buf, "null");
	else
		appendStringInfo(buf, "%.1f", x->distance);
	appendStringInfoString(buf, ", \"est_cost\": ");
	RouteAppendNumber(buf, x->est_cost);
	appendStringInfo(buf, ", \"priority\": %d, \"lines_in_full\": %d", x->priority, x->nfit);
	if (x->promise_text)
		appendStringInfo(buf, ", \"promise\": %s", x->promise_text);
}

/*
 * Store the decision behind what was reserved: the rule, the chosen
 * locations with their terms, the runners-up and what the filters took out.
 */
void
RouteRecord(RouteRequest *req, RoutePlanOut *out, const char *trigger,
			RouteAllocation *taken, int ntaken)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[13] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, INT4OID,
	FLOAT8OID, FLOAT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[13];
	char		nulls[13];
	RouteState *st = out->state;
	StringInfoData chosen;
	StringInfoData runners;
	StringInfoData filtered;
	Datum	   *codes = palloc(sizeof(Datum) * (st->nplan + 1));
	int			ncodes = 0;
	double		dist = 0;
	double		cost = 0;
	int64		short_units = 0;
	int			i,
				j,
				nr = 0;
	bool		first = true;

	memset(nulls, ' ', sizeof(nulls));
	initStringInfo(&chosen);
	initStringInfo(&runners);
	initStringInfo(&filtered);
	appendStringInfoChar(&chosen, '[');
	for (i = 0; i < st->nplan; i++)
	{
		RouteSite  *x = &st->sites[st->plan[i]];
		int64		units = 0;

		for (j = 0; j < ntaken; j++)
			if (taken[j].location_id == x->id)
				units += taken[j].qty;
		if (units == 0)
			continue;
		codes[ncodes++] = CStringGetTextDatum(x->code);
		dist += x->distance > 0 ? x->distance : 0;
		cost += x->est_cost;
		appendStringInfoString(&chosen, first ? "{" : ", {");
		RouteAppendSiteTerms(&chosen, x);
		appendStringInfo(&chosen, ", \"units\": " INT64_FORMAT "}", units);
		first = false;
	}
	appendStringInfoChar(&chosen, ']');

	appendStringInfoChar(&runners, '[');
	for (i = 0; i < st->neligible && nr < ROUTE_RUNNERS_UP; i++)
	{
		RouteSite  *x = &st->sites[st->eligible[i]];

		if (x->chosen)
			continue;
		appendStringInfoString(&runners, nr ? ", {" : "{");
		RouteAppendSiteTerms(&runners, x);
		appendStringInfoChar(&runners, '}');
		nr++;
	}
	appendStringInfoChar(&runners, ']');

	/*
	 * What the filters took out of the active locations with stock of the
	 * order: the locations placement reads (a re-route reads them all).
	 */
	{
		int			counts[RF_COUNT];

		memset(counts, 0, sizeof(counts));
		for (i = 0; i < st->nsites; i++)
			if (st->sites[i].failed >= 0 && st->sites[i].active && st->sites[i].units > 0)
				counts[st->sites[i].failed]++;
		appendStringInfoChar(&filtered, '{');
		first = true;
		for (i = 0; i < RF_COUNT; i++)
			if (counts[i] > 0)
			{
				appendStringInfo(&filtered, "%s\"%s\": %d", first ? "" : ", ", RouteFilterNames[i], counts[i]);
				first = false;
			}
		appendStringInfoChar(&filtered, '}');
	}

	for (i = 0; i < req->ndemands; i++)
	{
		int64		got = 0;

		for (j = 0; j < ntaken; j++)
			if (taken[j].product_id == req->demands[i].product_id)
				got += taken[j].qty;
		short_units += Max(req->demands[i].qty - got, 0);
	}

	values[0] = Int64GetDatum(req->order_id);
	values[1] = CStringGetTextDatum(trigger);
	values[2] = CStringGetTextDatum(RouteStrategyName(req->strategy));
	values[3] = CStringGetTextDatum(req->split);
	values[4] = CStringGetTextDatum(ncodes == 0 ? "nothing reserved" : st->rule);
	values[5] = PointerGetDatum(construct_array(codes, ncodes, TEXTOID, -1, false, TYPALIGN_INT));
	values[6] = Int32GetDatum(ncodes);
	values[7] = Float8GetDatum(dist);
	if (!req->has_coords && req->pickup_location_id <= 0)
		nulls[7] = 'n';
	values[8] = Float8GetDatum(cost);
	values[9] = Int64GetDatum(short_units);
	values[10] = CStringGetTextDatum(chosen.data);
	values[11] = CStringGetTextDatum(runners.data);
	values[12] = CStringGetTextDatum(filtered.data);
	OmsExec(OmsPlan(&plan,
					"INSERT INTO oms.routing_decisions (order_id, trigger, strategy, split_policy, rule, locations, "
					"       shipments, distance_km, est_cost, short_units, chosen, runners_up, filtered) "
					"VALUES ($1, $2, $3, $4, $5, $6, $7, $8::pg_catalog.numeric(10,1), $9::pg_catalog.numeric(14,2), "
					"        $10, $11::pg_catalog.jsonb, $12::pg_catalog.jsonb, $13::pg_catalog.jsonb)",
					13, types), values, nulls, 0);
}
