/*-------------------------------------------------------------------------
 *
 * routing.h
 *	  The routing subsystem: which location(s) serve an order, and why.
 *
 *	  Routing is split by phase, one file each:
 *	    route_plan.c     configuration (the channel's strategy, distance
 *	                     limit and locations, cached), the candidate
 *	                     locations, their filters and scores, and the
 *	                     search for the plan (RoutePlan);
 *	    route_reserve.c  executing a plan with guarded updates and bounded
 *	                     re-planning (RouteReserve), and recording the
 *	                     decision (RouteRecord);
 *	    route_explain.c  the ranked explanation of a plan (RouteExplain),
 *	                     behind oms.explain_route.
 *
 *	  The first section below is the interface for the callers above
 *	  routing (the orders layer: placement, re-routing and explain_route's
 *	  thin entry in order_explain.c). The second is private to route_*.c:
 *	  the planner's view of the locations, which the execute, record and
 *	  explain phases read.
 *
 *	  Routing sits below orders and never calls an order function. Where it
 *	  must trigger order behaviour (lazy expiry of lapsed unpaid orders
 *	  while it is short of stock), the caller passes a callback in the
 *	  request. RouteInit() is declared in oms.h, where _PG_init calls it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ROUTING_H
#define ROUTING_H

#include "access/tupdesc.h"
#include "utils/tuplestore.h"

#include "oms.h"

/* ==== the interface for callers (orders layer) ==== */

/*
 * One demand: a product for the stock lines (group 0), or a component of
 * one kit line (group = that line's number in the order, per = units per
 * kit). A product can appear in several demands; they share its stock.
 */
typedef struct RouteDemand
{
	int64		product_id;
	int64		qty;
	int32		group;			/* 0: stock lines; else a kit line: kept whole at one location */
	int32		per;			/* kit lines: units per kit */
} RouteDemand;

typedef struct RouteAllocation
{
	int64		product_id;
	int32		location_id;
	int32		qty;
	int32		group;			/* the demand's group the units are for */
} RouteAllocation;

/*
 * A channel's routing strategy: how locations rank after the number of
 * shipments. Resolved once from oms.channels.routing_strategy when the
 * configuration is loaded (route_plan.c holds the table of names).
 */
typedef enum RouteStrategy
{
	ROUTE_STRATEGY_CLOSEST,		/* distance to the ship-to */
	ROUTE_STRATEGY_CHEAPEST,	/* estimated cost: distance x cost_per_km + handling */
	ROUTE_STRATEGY_PRIORITY,	/* the locations' priority numbers, lower first */
	ROUTE_STRATEGY_BALANCE,		/* most stock of the demanded products left after */
	ROUTE_STRATEGY_FASTEST,		/* the earliest promised delivery date (src/route_promise.c) */
	ROUTE_STRATEGY_COUNT
} RouteStrategy;

/*
 * Lazy expiry, supplied by the caller: release lapsed unpaid orders that
 * hold stock of these products; returns how many were released. Routing
 * calls it at most once per RouteReserve, only when the plan is short and
 * while it holds no balance lock.
 */
typedef int (*RouteExpireFn) (int64 *product_ids, int nproducts);

struct RouteState;

/* What to route: filled by the caller; the rest is loaded by RoutePlan(). */
typedef struct RouteRequest
{
	int64		order_id;		/* 0 for explain_route */
	int32		channel_id;
	bool		has_coords;
	double		lat;
	double		lon;
	int32		pickup_location_id; /* click and collect, 0 otherwise */
	bool		counter;		/* a counter sale: pickup_location_id sells, pickup flag and capacity aside */
	/* the delivery promise (src/route_promise.c) */
	bool		has_deliver_by; /* deliver_by is a deadline: locations that cannot make it are filtered */
	int32		deliver_by;		/* DateADT */
	bool		express;		/* service_level express: the fastest service, not the cheapest */
	bool		promise;		/* a service_level was given: promise even without a deadline */
	const char *currency;		/* the order's, for the carriers' rates */
	const char *split;			/* allow, avoid or forbid */
	bool		all_or_nothing;
	RouteExpireFn expire;		/* lazy expiry for RouteReserve; NULL: none */
	bool		rejections;		/* exclude locations that rejected the order */
	bool		explain;		/* load every location (explain_route, re-route) */
	RouteAllocation *release;	/* re-route: units this call gives back first */
	int			nrelease;
	RouteDemand *demands;		/* per product */
	int			ndemands;

	/* loaded by the first RoutePlan() */
	bool		config_loaded;
	RouteStrategy strategy;
	double		max_distance_km;	/* -1: no limit */
	int32	   *allowed;
	int			nallowed;		/* 0: every location */
	int32	   *rejected;
	int			nrejected;
} RouteRequest;

typedef struct RoutePlanOut
{
	RouteAllocation *allocs;
	int			nallocs;
	int64	   *shortfall;		/* per demand: units no plan location has */
	int64	   *available;		/* per demand: over the eligible locations */
	bool		split_refused;	/* the split policy kept a split from covering more */
	struct RouteState *state;	/* the planner's view of the locations */
} RoutePlanOut;

/* route_plan.c: the single entry point of location choice; reads only */
extern void RoutePlan(RouteRequest *req, RoutePlanOut *out);

/* route_reserve.c: plan and reserve with bounded re-planning; false when short (nothing held) */
extern bool RouteReserve(RouteRequest *req, RoutePlanOut *out, RouteAllocation **taken, int *ntaken);
/*
 * route_reserve.c: reserve a plan that covers every demand in one attempt,
 * after the caller's writes (before), in one subtransaction; false, holding
 * and keeping nothing, when the stock moved since the plan. planned: the
 * plan's allocations in lock order.
 */
typedef void (*RouteLateWrites) (void *arg, RouteAllocation *planned, int nplanned);
extern bool RouteReserveLate(RoutePlanOut *plan, RouteLateWrites before, void *arg);
/* route_reserve.c: store the decision behind what was reserved */
extern void RouteRecord(RouteRequest *req, RoutePlanOut *out, const char *trigger,
						RouteAllocation *taken, int ntaken);

/* route_explain.c: plan without reserving, one ranked row per location into store */
extern void RouteExplain(RouteRequest *req, Tuplestorestate *store, TupleDesc desc);

/* ==== private to route_*.c: the planner's view of the locations ==== */

#define ROUTE_RUNNERS_UP	3	/* eligible locations shown next to the plan */
#define ROUTE_EPS			1e-9

/* filters, in the order they are applied */
typedef enum RouteFilter
{
	RF_ACTIVE, RF_FULFILS, RF_CHANNEL, RF_DISTANCE, RF_CAPACITY, RF_REJECTED, RF_STOCK, RF_DEADLINE, RF_COUNT
} RouteFilter;

/* the filters' names, as the decisions and explain_route show them */
extern const char *const RouteFilterNames[RF_COUNT];

typedef struct RouteSite
{
	int32		id;
	char	   *code;
	int32		priority;
	double		lat;
	double		lon;
	double		handling;
	double		per_km;
	int32		capacity;		/* -1: unlimited */
	int32		load;			/* orders routed today */
	bool		active;
	bool		ships;
	bool		pickup;
	int64	   *avail;			/* per demand, >= 0 */
	bool	   *fit;			/* per demand: its whole demand is here (for a kit
								 * group: the whole group's; for a product several
								 * demands share: all of them) */
	int64	   *left;			/* per demand: stock not yet allocated (shared by
								 * the demands of one product) */

	double		distance;		/* -1: unknown */
	double		ship_cost;
	double		est_cost;
	int			failed;			/* first failing filter, or -1 */
	bool		pass[RF_COUNT];
	uint32		fit_mask;		/* demands that fit (only when ndemands <= 32) */
	int			nfit;
	int64		units;			/* sum of min(avail, demand) */
	int64		after;			/* stock kept of the demanded products */
	double		key[4];			/* strategy measure, then tie-breakers */
	bool		chosen;
	int64		planned;		/* units allocated here by the plan */
	/* the delivery promise from here (RoutePromise), when the request asks for one */
	bool		promised;		/* a service reaches the ship-to (by deliver_by, if given) */
	int32		arrives_on;		/* DateADT */
	char	   *promise_text;	/* {"ships_on": ..., "arrives_on": ..., "carrier": ..., "service": ..., "rate": ...} */
	double		promise_rate;	/* the service's rate */
} RouteSite;

typedef struct RouteState
{
	RouteSite  *sites;
	int			nsites;
	int		   *eligible;		/* indexes into sites, in score order */
	int			neligible;
	int		   *plan;			/* chosen site indexes, in score order */
	int			nplan;
	const char *rule;
} RouteState;

/* route_search.c: the search over the scored candidates (st->eligible) */
extern void RouteSortByScore(RouteState *st, int *idx, int n);
#define ROUTE_EXACT_MAX		8	/* products up to which the cover is exact */
extern void RouteExactCover(RouteRequest *req, RouteState *st, uint32 target);
extern void RouteGreedyCover(RouteRequest *req, RouteState *st, bool *fits_somewhere);
extern int	RouteAllocate(RouteRequest *req, RouteState *st, RoutePlanOut *out, bool may_add);

/* route_promise.c: whether the request asks for promises; each site's promise */
extern bool RoutePromiseWanted(RouteRequest *req);
extern void RoutePromise(RouteRequest *req, RouteState *st);

/* route_plan.c: the strategy's name (as stored) and its term in explanations */
extern const char *RouteStrategyName(RouteStrategy strategy);
extern const char *RouteStrategyTerm(RouteStrategy strategy);

/* compare two score keys (strategy measure, then tie-breakers) */
static inline int
RouteKeyCmp(const double *a, const double *b)
{
	int			i;

	for (i = 0; i < 4; i++)
	{
		if (a[i] < b[i] - ROUTE_EPS)
			return -1;
		if (a[i] > b[i] + ROUTE_EPS)
			return 1;
	}
	return 0;
}

#endif							/* ROUTING_H */
