/*-------------------------------------------------------------------------
 *
 * routing.c
 *	  The routing engine: which location(s) serve an order, and why.
 *
 *	  One entry point decides, RoutePlan(); RouteReserve() executes its plan
 *	  with guarded updates and re-plans with fresh numbers when the stock
 *	  moved; RouteRecord() stores the decision; explain_route() shows the
 *	  same reasoning without reserving anything.
 *
 *	  Candidates
 *	  ----------
 *	  A location is eligible when every filter passes, in this order:
 *	    active      the location is active;
 *	    fulfils     it ships parcels, or, for a click-and-collect order
 *	                (ship_to.pickup), it is the named pickup location;
 *	    channel     the channel lists it in oms.channel_locations, or the
 *	                channel lists no location at all;
 *	    distance    it lies within the channel's max_distance_km of the
 *	                ship-to (passes when either is unknown);
 *	    capacity    orders routed to it today (UTC) < its daily_capacity;
 *	    rejected    it has not rejected this order before;
 *	    stock       it has available stock for at least one demanded
 *	                product.
 *
 *	  Scoring
 *	  -------
 *	  Plans are compared on, in order:
 *	    1. units left short (fewer is better);
 *	    2. number of shipments, that is of locations (fewer is better: a
 *	       location that has the whole order beats any split);
 *	    3. the channel's strategy, summed over the plan's locations:
 *	         closest   distance to the ship-to,
 *	         cheapest  estimated cost = distance x cost_per_km + handling,
 *	         priority  the locations' priority numbers (lower first),
 *	         balance   minus the stock the location keeps of the demanded
 *	                   products after the order (most left first);
 *	    4. then the estimated cost, the priority and the distance, in the
 *	       order the strategy does not already use, then the lowest id.
 *	  Without ship-to coordinates every distance counts as 0.
 *
 *	  Split policy (per order)
 *	  ------------------------
 *	    allow   split whenever no single location has everything; with
 *	            policy partial or backorder the split also reserves as
 *	            many units as the eligible locations have.
 *	    avoid   split only when the split fulfils everything; otherwise
 *	            use the best single location (most products in full, then
 *	            most units, then score) and leave the rest short.
 *	    forbid  never split: the best single location, the rest short
 *	            (backordered, cancelled, or OM001 under all_or_nothing).
 *
 *	  The search for the fewest shipments
 *	  -----------------------------------
 *	  A product "fits" a location when the location has its whole demand.
 *	  With at most ROUTE_EXACT_MAX demanded products the engine finds the
 *	  exact minimum: a dynamic programme over the subsets of products, where
 *	  each location adds the products that fit it, keeps for every subset
 *	  the best (shipments, score) way to cover it (2^n x locations steps:
 *	  256 x 1,000 for 8 products over 1,000 locations). With more products
 *	  it uses the greedy cover (repeatedly the location that fits the most
 *	  uncovered products, ties by score), which is within a factor ln(n) of
 *	  the optimum and linear in the locations; large orders are rare and
 *	  must not make placement slow. Products that fit no single location
 *	  are then taken from the plan's locations first and from the other
 *	  eligible locations in score order.
 *
 *	  Concurrency
 *	  -----------
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
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/resowner.h"
#include "utils/tuplestore.h"

#include "oms.h"

#define ROUTE_ATTEMPTS		4
#define ROUTE_EXACT_MAX		8
#define ROUTE_RUNNERS_UP	3
#define ROUTE_EPS			1e-9

/* filters, in the order they are applied */
enum
{
	RF_ACTIVE, RF_FULFILS, RF_CHANNEL, RF_DISTANCE, RF_CAPACITY, RF_REJECTED, RF_STOCK, RF_COUNT
};
static const char *const route_filter_names[RF_COUNT] = {
	"active", "fulfils", "channel", "distance", "capacity", "not_rejected", "stock"
};

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

/* one balance row's work in an attempt: give back, then reserve */
typedef struct RouteOp
{
	RouteAllocation a;			/* qty: units to reserve */
	int32		release;		/* units to give back first (re-route) */
} RouteOp;

static RouteSite *route_cmp_sites;

static int
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

/* eligible sites: most products in full first, then score, then id */
static int
RouteSiteCmp(const void *a, const void *b)
{
	const RouteSite *x = &route_cmp_sites[*(const int *) a];
	const RouteSite *y = &route_cmp_sites[*(const int *) b];
	int			c;

	if (x->nfit != y->nfit)
		return x->nfit > y->nfit ? -1 : 1;
	if (x->units != y->units)
		return x->units > y->units ? -1 : 1;
	c = RouteKeyCmp(x->key, y->key);
	if (c != 0)
		return c;
	return (x->id > y->id) - (x->id < y->id);
}

/* by score only (for the order in which a split takes stock) */
static int
RouteScoreCmp(const void *a, const void *b)
{
	const RouteSite *x = &route_cmp_sites[*(const int *) a];
	const RouteSite *y = &route_cmp_sites[*(const int *) b];
	int			c = RouteKeyCmp(x->key, y->key);

	if (c != 0)
		return c;
	return (x->id > y->id) - (x->id < y->id);
}

static int
RouteAllocCmp(const void *a, const void *b)
{
	const RouteAllocation *x = a;
	const RouteAllocation *y = b;

	if (x->product_id != y->product_id)
		return x->product_id < y->product_id ? -1 : 1;
	return (x->location_id > y->location_id) - (x->location_id < y->location_id);
}

static bool
RouteContains(int32 *ids, int n, int32 id)
{
	int			i;

	for (i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* ---- configuration and candidates ---- */

/*
 * The channel's routing configuration (strategy, distance limit, allowed
 * locations) is read once per backend and channel and cached: it changes
 * rarely, and placement should not pay a query for it. The cache is
 * dropped on every relcache invalidation; a statement trigger on
 * oms.channels and oms.channel_locations (routing_invalidate) sends one
 * for each change, so every backend re-reads after the change commits,
 * and the changing session at once.
 */
typedef struct RouteChannelConfig
{
	int32		channel_id;
	char	   *strategy;
	double		max_distance_km;
	int32	   *allowed;
	int			nallowed;
} RouteChannelConfig;

static MemoryContext RouteCacheContext = NULL;
static RouteChannelConfig *RouteCache = NULL;
static int	RouteCacheN = 0;
static int	RouteCacheSize = 0;

static void
RouteCacheReset(void)
{
	if (RouteCacheContext)
		MemoryContextReset(RouteCacheContext);
	RouteCache = NULL;
	RouteCacheN = 0;
	RouteCacheSize = 0;
}

static void
RouteRelcacheCallback(Datum arg, Oid relid)
{
	(void) arg;
	(void) relid;
	RouteCacheReset();
}

void
RouteInit(void)
{
	CacheRegisterRelcacheCallback(RouteRelcacheCallback, (Datum) 0);
}

PG_FUNCTION_INFO_V1(routing_invalidate);
/* Trigger: routing configuration changed; every backend re-reads it. */
Datum
routing_invalidate(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "routing_invalidate: not called by trigger manager");
	CacheInvalidateRelcache(td->tg_relation);
	RouteCacheReset();
	return PointerGetDatum(NULL);
}

static int32 *
RouteIntArray(Datum d, int *n)
{
	ArrayType  *arr = DatumGetArrayTypeP(d);
	Datum	   *elems;
	int32	   *ids;
	int			j;

	deconstruct_array(arr, INT4OID, 4, true, TYPALIGN_INT, &elems, NULL, n);
	ids = palloc(sizeof(int32) * (*n + 1));
	for (j = 0; j < *n; j++)
		ids[j] = DatumGetInt32(elems[j]);
	return ids;
}

/* The channel's configuration (cached) and the order's rejections. */
static void
RouteLoadConfig(RouteRequest *req)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_rejected = NULL;
	Oid			types[1] = {INT4OID};
	Datum		values[1];
	RouteChannelConfig *c = NULL;
	int			i;

	for (i = 0; i < RouteCacheN; i++)
		if (RouteCache[i].channel_id == req->channel_id)
			c = &RouteCache[i];
	if (c == NULL)
	{
		bool		isnull;
		Datum		d;
		MemoryContext old;
		char	   *strategy;
		double		max_km;
		int32	   *allowed;
		int			nallowed;

		values[0] = Int32GetDatum(req->channel_id);
		OmsQuery(OmsPlan(&plan,
						 "SELECT c.routing_strategy, c.max_distance_km::pg_catalog.float8, "
						 "       ARRAY(SELECT cl.location_id FROM oms.channel_locations cl "
						 "              WHERE cl.channel_id OPERATOR(pg_catalog.=) c.id) "
						 "  FROM oms.channels c WHERE c.id OPERATOR(pg_catalog.=) $1",
						 1, types), values, NULL, 1);
		if (SPI_processed != 1)
			elog(ERROR, "oms: channel %d vanished during routing", req->channel_id);
		strategy = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		d = OmsGetDatum(0, 2, &isnull);
		max_km = isnull ? -1 : DatumGetFloat8(d);
		allowed = RouteIntArray(OmsGetDatum(0, 3, NULL), &nallowed);

		if (RouteCacheContext == NULL)
			RouteCacheContext = AllocSetContextCreate(TopMemoryContext, "oms routing configuration",
													  ALLOCSET_SMALL_SIZES);
		old = MemoryContextSwitchTo(RouteCacheContext);
		if (RouteCacheN == RouteCacheSize)
		{
			RouteChannelConfig *grown;

			RouteCacheSize = RouteCacheSize ? RouteCacheSize * 2 : 8;
			grown = palloc(sizeof(RouteChannelConfig) * RouteCacheSize);
			if (RouteCacheN > 0)
				memcpy(grown, RouteCache, sizeof(RouteChannelConfig) * RouteCacheN);
			RouteCache = grown;
		}
		c = &RouteCache[RouteCacheN++];
		c->channel_id = req->channel_id;
		c->strategy = pstrdup(strategy);
		c->max_distance_km = max_km;
		c->nallowed = nallowed;
		c->allowed = palloc(sizeof(int32) * (nallowed + 1));
		if (nallowed > 0)
			memcpy(c->allowed, allowed, sizeof(int32) * nallowed);
		MemoryContextSwitchTo(old);
	}
	/* a copy: an invalidation during this call must not pull it away */
	req->strategy = pstrdup(c->strategy);
	req->max_distance_km = c->max_distance_km;
	req->nallowed = c->nallowed;
	req->allowed = palloc(sizeof(int32) * (c->nallowed + 1));
	if (c->nallowed > 0)
		memcpy(req->allowed, c->allowed, sizeof(int32) * c->nallowed);

	req->rejected = NULL;
	req->nrejected = 0;
	if (req->rejections && req->order_id > 0)
	{
		Oid			t8[1] = {INT8OID};

		values[0] = Int64GetDatum(req->order_id);
		OmsQuery(OmsPlan(&plan_rejected,
						 "SELECT ARRAY(SELECT r.location_id FROM oms.fulfillment_rejections r "
						 "              WHERE r.order_id OPERATOR(pg_catalog.=) $1)",
						 1, t8), values, NULL, 1);
		req->rejected = RouteIntArray(OmsGetDatum(0, 1, NULL), &req->nrejected);
	}
	req->config_loaded = true;
}

#define ROUTE_SITE_COLUMNS \
	"SELECT l.id, l.code, l.priority, l.latitude, l.longitude, " \
	"       l.handling_cost::pg_catalog.float8, l.cost_per_km::pg_catalog.float8, " \
	"       COALESCE(l.daily_capacity, -1), COALESCE(d.orders, 0), l.active, l.ships, l.pickup, " \
	"       b.product_id, GREATEST(b.on_hand OPERATOR(pg_catalog.-) b.reserved OPERATOR(pg_catalog.-) b.safety_stock, 0) "
#define ROUTE_SITE_LOAD_JOIN \
	"  LEFT JOIN oms.location_daily_load d ON l.daily_capacity IS NOT NULL " \
	"       AND d.location_id OPERATOR(pg_catalog.=) l.id " \
	"       AND d.day OPERATOR(pg_catalog.=) pg_catalog.timezone('UTC', pg_catalog.now())::pg_catalog.date "

/*
 * The sites with their availability per demand. For placement only the
 * active locations with stock of a demanded product; for explain_route
 * every location.
 */
static void
RouteLoadSites(RouteRequest *req, RouteState *st)
{
	static SPIPlanPtr plan_stock = NULL;
	static SPIPlanPtr plan_all = NULL;
	Oid			types[1] = {INT8ARRAYOID};
	Datum		values[1];
	int64	   *ids = palloc(sizeof(int64) * (req->ndemands + 1));
	int			i,
				n,
				d;
	RouteSite  *cur = NULL;

	for (i = 0; i < req->ndemands; i++)
		ids[i] = req->demands[i].product_id;
	values[0] = PointerGetDatum(OmsInt8Array(ids, req->ndemands));
	if (req->explain)
		OmsQuery(OmsPlan(&plan_all,
						 ROUTE_SITE_COLUMNS
						 "  FROM oms.locations l "
						 "  LEFT JOIN oms.stock_balances b ON b.location_id OPERATOR(pg_catalog.=) l.id "
						 "       AND b.product_id OPERATOR(pg_catalog.=) ANY ($1) AND b.slot OPERATOR(pg_catalog.=) 0 "
						 ROUTE_SITE_LOAD_JOIN
						 " ORDER BY l.id",
						 1, types), values, NULL, 0);
	else
		OmsQuery(OmsPlanGeneric(&plan_stock,
						 ROUTE_SITE_COLUMNS
						 "  FROM oms.stock_balances b "
						 "  JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) b.location_id "
						 ROUTE_SITE_LOAD_JOIN
						 " WHERE b.product_id OPERATOR(pg_catalog.=) ANY ($1) AND b.slot OPERATOR(pg_catalog.=) 0 "
						 "   AND l.active "
						 "   AND b.on_hand OPERATOR(pg_catalog.-) b.reserved OPERATOR(pg_catalog.-) b.safety_stock OPERATOR(pg_catalog.>) 0 "
						 " ORDER BY l.id",
						 1, types), values, NULL, 0);
	n = (int) SPI_processed;
	st->sites = palloc0(sizeof(RouteSite) * (n + 1));
	st->nsites = 0;
	for (i = 0; i < n; i++)
	{
		int32		id = OmsGetInt32(i, 1, NULL);
		bool		isnull;
		int64		pid;

		if (cur == NULL || cur->id != id)
		{
			cur = &st->sites[st->nsites++];
			cur->id = id;
			cur->code = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
			cur->priority = OmsGetInt32(i, 3, NULL);
			cur->lat = DatumGetFloat8(OmsGetDatum(i, 4, NULL));
			cur->lon = DatumGetFloat8(OmsGetDatum(i, 5, NULL));
			cur->handling = DatumGetFloat8(OmsGetDatum(i, 6, NULL));
			cur->per_km = DatumGetFloat8(OmsGetDatum(i, 7, NULL));
			cur->capacity = OmsGetInt32(i, 8, NULL);
			cur->load = OmsGetInt32(i, 9, NULL);
			cur->active = DatumGetBool(OmsGetDatum(i, 10, NULL));
			cur->ships = DatumGetBool(OmsGetDatum(i, 11, NULL));
			cur->pickup = DatumGetBool(OmsGetDatum(i, 12, NULL));
			cur->avail = palloc0(sizeof(int64) * (req->ndemands + 1));
		}
		pid = OmsGetInt64(i, 13, &isnull);
		if (isnull)
			continue;
		for (d = 0; d < req->ndemands; d++)
			if (req->demands[d].product_id == pid)
				cur->avail[d] = OmsGetInt32(i, 14, NULL);
	}
	/* units a re-route gives back are available to it */
	for (i = 0; i < req->nrelease; i++)
		for (n = 0; n < st->nsites; n++)
			if (st->sites[n].id == req->release[i].location_id)
				for (d = 0; d < req->ndemands; d++)
					if (req->demands[d].product_id == req->release[i].product_id)
						st->sites[n].avail[d] += req->release[i].qty;
}

/* What all demands of d's product ask for together. */
static int64
RouteProductDemand(RouteRequest *req, int d)
{
	int64		total = 0;
	int			e;

	for (e = 0; e < req->ndemands; e++)
		if (req->demands[e].product_id == req->demands[d].product_id)
			total += req->demands[e].qty;
	return total;
}

static bool
RouteFirstOfProduct(RouteRequest *req, int d)
{
	int			e;

	for (e = 0; e < d; e++)
		if (req->demands[e].product_id == req->demands[d].product_id)
			return false;
	return true;
}

/* Filters, score terms and the strategy key of every site. */
static void
RouteScoreSites(RouteRequest *req, RouteState *st)
{
	int			s,
				d,
				f;
	char		strat = req->strategy[1];	/* cLosest, cHeapest, pRiority, bAlance */
	int64	   *total_of = palloc(sizeof(int64) * (req->ndemands + 1));
	bool	   *first_of = palloc(sizeof(bool) * (req->ndemands + 1));

	/* per demand, once: what all demands of its product ask together */
	for (d = 0; d < req->ndemands; d++)
	{
		total_of[d] = RouteProductDemand(req, d);
		first_of[d] = RouteFirstOfProduct(req, d);
	}
	st->eligible = palloc(sizeof(int) * (st->nsites + 1));
	st->neligible = 0;
	for (s = 0; s < st->nsites; s++)
	{
		RouteSite  *x = &st->sites[s];

		if (req->has_coords)
			x->distance = CatalogDistanceKm(x->lat, x->lon, req->lat, req->lon);
		else
			x->distance = -1;
		x->ship_cost = (x->distance > 0 ? x->distance : 0) * x->per_km;
		x->est_cost = x->ship_cost + x->handling;
		x->units = 0;
		x->after = 0;
		x->nfit = 0;
		x->fit_mask = 0;
		if (x->fit == NULL)
			x->fit = palloc(sizeof(bool) * (req->ndemands + 1));
		for (d = 0; d < req->ndemands; d++)
		{
			int64		total = total_of[d];

			if (first_of[d])
				x->units += Min(x->avail[d], total);
			x->fit[d] = x->avail[d] >= total;
		}
		/* a kit group fits only as a whole: kits ship from one place */
		for (d = 0; d < req->ndemands; d++)
		{
			int			e;

			if (req->demands[d].group == 0 || !x->fit[d])
				continue;
			for (e = 0; e < req->ndemands; e++)
				if (req->demands[e].group == req->demands[d].group && x->avail[e] < req->demands[e].qty)
					x->fit[d] = false;
		}
		for (d = 0; d < req->ndemands; d++)
			if (x->fit[d])
			{
				x->nfit++;
				if (d < 32)
					x->fit_mask |= ((uint32) 1) << d;
				if (first_of[d])
					x->after += x->avail[d] - total_of[d];
			}

		x->pass[RF_ACTIVE] = x->active;
		x->pass[RF_FULFILS] = req->pickup_location_id > 0 ? (x->id == req->pickup_location_id && x->pickup) : x->ships;
		x->pass[RF_CHANNEL] = req->nallowed == 0 || RouteContains(req->allowed, req->nallowed, x->id);
		x->pass[RF_DISTANCE] = req->max_distance_km < 0 || x->distance < 0 || x->distance <= req->max_distance_km;
		x->pass[RF_CAPACITY] = x->capacity < 0 || x->load < x->capacity;
		x->pass[RF_REJECTED] = !RouteContains(req->rejected, req->nrejected, x->id);
		x->pass[RF_STOCK] = x->units > 0;
		x->failed = -1;
		for (f = 0; f < RF_COUNT; f++)
			if (!x->pass[f])
			{
				x->failed = f;
				break;
			}

		/* strategy measure, then the tie-breakers it does not use */
		{
			double		dist = x->distance > 0 ? x->distance : 0;

			x->key[3] = 0;

			switch (strat)
			{
				case 'l':		/* closest */
					x->key[0] = dist;
					x->key[1] = x->est_cost;
					x->key[2] = x->priority;
					break;
				case 'r':		/* priority */
					x->key[0] = x->priority;
					x->key[1] = x->est_cost;
					x->key[2] = dist;
					break;
				case 'a':		/* balance */
					x->key[0] = -(double) x->after;
					x->key[1] = x->est_cost;
					x->key[2] = x->priority;
					x->key[3] = dist;
					break;
				default:		/* cheapest */
					x->key[0] = x->est_cost;
					x->key[1] = x->priority;
					x->key[2] = dist;
					break;
			}
		}
		x->chosen = false;
		x->planned = 0;
		if (x->failed < 0)
			st->eligible[st->neligible++] = s;
	}
	route_cmp_sites = st->sites;
	qsort(st->eligible, st->neligible, sizeof(int), RouteSiteCmp);
}

/* ---- the search ---- */

/* Exact fewest-shipments cover of the fitting products (ndemands <= 8). */
static void
RouteExactCover(RouteRequest *req, RouteState *st, uint32 target)
{
	int			nmasks = 1 << req->ndemands;
	int		   *count = palloc(sizeof(int) * nmasks);
	double	   *key = palloc(sizeof(double) * nmasks * 4);
	int		   *prev = palloc(sizeof(int) * nmasks);
	int		   *via = palloc(sizeof(int) * nmasks);
	int			m,
				e,
				k;

	for (m = 0; m < nmasks; m++)
		count[m] = -1;
	count[0] = 0;
	memset(key, 0, sizeof(double) * 4);
	for (m = 0; m < nmasks; m++)
	{
		if (count[m] < 0 || ((uint32) m & target) == target)
			continue;
		for (e = 0; e < st->neligible; e++)
		{
			RouteSite  *x = &st->sites[st->eligible[e]];
			int			nm = m | (int) x->fit_mask;
			double		cand[4];
			bool		better;

			if (nm == m)
				continue;
			for (k = 0; k < 4; k++)
				cand[k] = key[m * 4 + k] + x->key[k];
			if (count[nm] < 0 || count[m] + 1 < count[nm])
				better = true;
			else if (count[m] + 1 == count[nm])
				better = RouteKeyCmp(cand, &key[nm * 4]) < 0;
			else
				better = false;
			if (better)
			{
				count[nm] = count[m] + 1;
				memcpy(&key[nm * 4], cand, sizeof(cand));
				prev[nm] = m;
				via[nm] = st->eligible[e];
			}
		}
	}
	/* the cheapest reachable superset of the target */
	{
		int			best = -1;

		for (m = 0; m < nmasks; m++)
		{
			if (count[m] < 0 || ((uint32) m & target) != target)
				continue;
			if (best < 0 || count[m] < count[best] ||
				(count[m] == count[best] && RouteKeyCmp(&key[m * 4], &key[best * 4]) < 0))
				best = m;
		}
		for (m = best; m > 0; m = prev[m])
			st->sites[via[m]].chosen = true;
	}
}

/* Greedy cover: the location fitting most uncovered products, repeatedly. */
static void
RouteGreedyCover(RouteRequest *req, RouteState *st, bool *fits_somewhere)
{
	bool	   *covered = palloc0(sizeof(bool) * (req->ndemands + 1));
	int			left = 0;
	int			d,
				e;

	for (d = 0; d < req->ndemands; d++)
		if (fits_somewhere[d])
			left++;
	while (left > 0)
	{
		int			best = -1;
		int			best_new = 0;

		for (e = 0; e < st->neligible; e++)
		{
			RouteSite  *x = &st->sites[st->eligible[e]];
			int			nnew = 0;

			if (x->chosen)
				continue;
			for (d = 0; d < req->ndemands; d++)
				if (!covered[d] && x->fit[d])
					nnew++;
			if (nnew > best_new ||
				(nnew == best_new && nnew > 0 && RouteKeyCmp(x->key, st->sites[best].key) < 0))
			{
				best = st->eligible[e];
				best_new = nnew;
			}
		}
		if (best < 0)
			break;
		st->sites[best].chosen = true;
		for (d = 0; d < req->ndemands; d++)
			if (!covered[d] && st->sites[best].fit[d])
			{
				covered[d] = true;
				left--;
			}
	}
}

static bool
RouteFirstOfGroup(RouteRequest *req, int d)
{
	int			e;

	for (e = 0; e < d; e++)
		if (req->demands[e].group == req->demands[d].group)
			return false;
	return true;
}

/* Allocate q units of demand d at site x: one allocation, shared stock down. */
static void
RouteTake(RouteRequest *req, RoutePlanOut *out, int *nallocs, RouteSite *x, int d, int64 q)
{
	int			e;

	out->allocs[*nallocs].product_id = req->demands[d].product_id;
	out->allocs[*nallocs].location_id = x->id;
	out->allocs[*nallocs].qty = (int32) q;
	out->allocs[*nallocs].group = req->demands[d].group;
	(*nallocs)++;
	for (e = 0; e < req->ndemands; e++)
		if (req->demands[e].product_id == req->demands[d].product_id)
			x->left[e] -= q;
	x->planned += q;
	x->chosen = true;
}

/*
 * Allocate the demands over the sites in order (the chosen ones first, by
 * score; then, when may_add, the other eligible ones), counting the stock
 * the demands of one product share. Kit lines first, as whole kits: at the
 * first site that has all of the line's kits, else kit by kit over the
 * sites. Then the stock lines: at the first site that has the whole
 * demand, else spread over the sites.
 */
static int
RouteAllocate(RouteRequest *req, RouteState *st, RoutePlanOut *out, bool may_add)
{
	int		   *order = palloc(sizeof(int) * (st->neligible + 1));
	int			norder = 0;
	int			nallocs = 0;
	int			d,
				e,
				m;

	/* chosen sites first, then the rest, each by score */
	for (e = 0; e < st->neligible; e++)
	{
		RouteSite  *x = &st->sites[st->eligible[e]];

		x->left = palloc(sizeof(int64) * (req->ndemands + 1));
		for (d = 0; d < req->ndemands; d++)
			x->left[d] = x->avail[d];
		if (x->chosen)
			order[norder++] = st->eligible[e];
	}
	route_cmp_sites = st->sites;
	qsort(order, norder, sizeof(int), RouteScoreCmp);
	if (may_add)
	{
		int			first_rest = norder;

		for (e = 0; e < st->neligible; e++)
			if (!st->sites[st->eligible[e]].chosen)
				order[norder++] = st->eligible[e];
		qsort(order + first_rest, norder - first_rest, sizeof(int), RouteScoreCmp);
	}

	/* kit lines: whole kits, each from one site */
	for (d = 0; d < req->ndemands; d++)
	{
		int32		g = req->demands[d].group;
		int64		kits;
		int			one = -1;

		if (g == 0 || !RouteFirstOfGroup(req, d))
			continue;
		kits = req->demands[d].qty / req->demands[d].per;
		for (e = 0; e < norder && one < 0; e++)
		{
			RouteSite  *x = &st->sites[order[e]];
			bool		all = x->chosen;

			for (m = 0; m < req->ndemands && all; m++)
				if (req->demands[m].group == g && x->left[m] < req->demands[m].qty)
					all = false;
			if (all)
				one = order[e];
		}
		for (e = 0; e < norder && kits > 0; e++)
		{
			RouteSite  *x = &st->sites[one >= 0 ? one : order[e]];
			int64		here = kits;

			for (m = 0; m < req->ndemands; m++)
				if (req->demands[m].group == g)
					here = Min(here, x->left[m] / req->demands[m].per);
			if (here > 0)
			{
				for (m = 0; m < req->ndemands; m++)
					if (req->demands[m].group == g)
						RouteTake(req, out, &nallocs, x, m, here * req->demands[m].per);
				kits -= here;
			}
			if (one >= 0)
				break;
		}
		for (m = 0; m < req->ndemands; m++)
			if (req->demands[m].group == g)
				out->shortfall[m] = kits * req->demands[m].per;
	}

	/* stock lines */
	for (d = 0; d < req->ndemands; d++)
	{
		int64		want = req->demands[d].qty;

		if (req->demands[d].group != 0)
			continue;
		for (e = 0; e < norder && want > 0; e++)
		{
			RouteSite  *x = &st->sites[order[e]];

			if (x->chosen && x->left[d] >= want)
			{
				RouteTake(req, out, &nallocs, x, d, want);
				want = 0;
			}
		}
		for (e = 0; e < norder && want > 0; e++)
		{
			RouteSite  *x = &st->sites[order[e]];
			int64		take = Min(x->left[d], want);

			if (take > 0)
			{
				RouteTake(req, out, &nallocs, x, d, take);
				want -= take;
			}
		}
		out->shortfall[d] = want;
	}
	return nallocs;
}

/*
 * The single entry point of location choice: fills out (allocations,
 * shortfall per demand, availability per demand over eligible locations)
 * from the current balances. Reads only; never locks.
 */
void
RoutePlan(RouteRequest *req, RoutePlanOut *out)
{
	RouteState *st = palloc0(sizeof(RouteState));
	int			n = req->ndemands;
	bool	   *fits_somewhere = palloc0(sizeof(bool) * (n + 1));
	bool		single = false;
	bool		coverable = true;
	int			d,
				e;

	if (!req->config_loaded)
		RouteLoadConfig(req);
	RouteLoadSites(req, st);
	RouteScoreSites(req, st);

	out->allocs = palloc(sizeof(RouteAllocation) * (n * (st->neligible + 1) + 1));
	out->shortfall = palloc0(sizeof(int64) * (n + 1));
	out->available = palloc0(sizeof(int64) * (n + 1));
	out->split_refused = false;
	out->state = st;

	for (d = 0; d < n; d++)
	{
		for (e = 0; e < st->neligible; e++)
		{
			RouteSite  *x = &st->sites[st->eligible[e]];

			out->available[d] += x->avail[d];
			if (x->fit[d])
				fits_somewhere[d] = true;
		}
		if (out->available[d] < req->demands[d].qty)
			coverable = false;
	}
	if (st->neligible > 0 && st->sites[st->eligible[0]].nfit == n)
		single = true;

	if (st->neligible == 0)
	{
		st->rule = "no eligible location";
		out->nallocs = RouteAllocate(req, st, out, false);
	}
	else if (single)
	{
		/* eligible[0] is the best site that has everything */
		st->sites[st->eligible[0]].chosen = true;
		st->rule = "single location";
		out->nallocs = RouteAllocate(req, st, out, false);
	}
	else if (req->split[0] == 'f' || (req->split[0] == 'a' && req->split[1] == 'v' && !coverable))
	{
		/* eligible[0] has the most products in full, then the most units */
		st->sites[st->eligible[0]].chosen = true;
		st->rule = req->split[0] == 'f' ? "single location, split forbidden"
			: "single location, split avoided (no split fulfils everything)";
		out->nallocs = RouteAllocate(req, st, out, false);
		out->split_refused = true;
	}
	else
	{
		if (n <= ROUTE_EXACT_MAX)
		{
			uint32		target = 0;

			for (d = 0; d < n; d++)
				if (fits_somewhere[d])
					target |= ((uint32) 1) << d;
			if (target != 0)
			{
				RouteExactCover(req, st, target);
				st->rule = "split, exact search";
			}
			else
				st->rule = "split, by score (no location has any product in full)";
		}
		else
		{
			RouteGreedyCover(req, st, fits_somewhere);
			st->rule = "split, greedy cover";
		}
		out->nallocs = RouteAllocate(req, st, out, true);
	}

	/* the plan's sites, in score order */
	st->plan = palloc(sizeof(int) * (st->neligible + 1));
	st->nplan = 0;
	for (e = 0; e < st->neligible; e++)
		if (st->sites[st->eligible[e]].chosen && st->sites[st->eligible[e]].planned > 0)
			st->plan[st->nplan++] = st->eligible[e];
		else
			st->sites[st->eligible[e]].chosen = false;
	route_cmp_sites = st->sites;
	qsort(st->plan, st->nplan, sizeof(int), RouteScoreCmp);
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
						"SELECT l.id, pg_catalog.timezone('UTC', pg_catalog.now())::pg_catalog.date, 1 "
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
			 RouteAllocation *got_list, int *ngot)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool done = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
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
	bool		expired_once = !req->lazy_expiry;
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
			if (OrdersExpireForProducts(short_ids, nshort) > 0)
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

		done = RouteAttempt(ops, nops, last && !all_or_nothing, (RouteState *) out->state, got_list, &ngot);
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
	RouteState *st = (RouteState *) out->state;
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
				appendStringInfo(&filtered, "%s\"%s\": %d", first ? "" : ", ", route_filter_names[i], counts[i]);
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
	values[2] = CStringGetTextDatum(req->strategy);
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

/* ---- explain_route ---- */

static Datum
RouteNumeric(double v, int scale)
{
	char		buf[64];

	snprintf(buf, sizeof(buf), "%.*f", scale, v);
	return DirectFunctionCall3(numeric_in, CStringGetDatum(buf), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

static const char *
RouteStrategyTerm(const char *strategy)
{
	switch (strategy[1])
	{
		case 'l':
			return "closest";
		case 'r':
			return "best priority";
		case 'a':
			return "most stock left";
		default:
			return "cheapest";
	}
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

PG_FUNCTION_INFO_V1(explain_route);
/*
 * oms.explain_route(order jsonb): every location, ranked: the plan's
 * locations first (in score order), then the other eligible ones, then
 * the filtered ones; each with its filter verdicts and score terms.
 */
Datum
explain_route(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RouteRequest req;
	RoutePlanOut out;
	RouteState *st;
	int		   *order;
	int			norder = 0;
	int			i,
				f,
				rank = 0;

	OmsRequireArg(fcinfo, 0, "order");
	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	OrdersRouteRequest(PG_GETARG_JSONB_P(0), &req);
	req.explain = true;
	RoutePlan(&req, &out);
	st = (RouteState *) out.state;

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
			appendStringInfo(&verdicts, "%s\"%s\": %s", f ? ", " : "", route_filter_names[f],
							 x->pass[f] ? "true" : "false");
		appendStringInfoChar(&verdicts, '}');
		for (d = 0; d < req.ndemands; d++)
			total += x->avail[d];

		if (x->failed >= 0)
		{
			role = "filtered";
			reason = RouteFilterReason(&req, x);
		}
		else if (x->chosen)
		{
			role = "chosen";
			reason = psprintf("%s; %s in full, " INT64_FORMAT " unit%s planned here",
							  st->rule, RouteLinesInFull(x->nfit, req.ndemands),
							  x->planned, x->planned == 1 ? "" : "s");
		}
		else
		{
			role = (i < st->nplan + ROUTE_RUNNERS_UP) ? "runner_up" : "eligible";
			reason = RouteWhyNot(&req, st, x);
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
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}
