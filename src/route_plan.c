/*-------------------------------------------------------------------------
 *
 * route_plan.c
 *	  Routing, first phase: the configuration, the candidate locations and
 *	  the search for the plan (the search itself, on the scored candidates
 *	  in memory, is src/route_search.c). RoutePlan() is the single entry point of
 *	  location choice; it reads balances without locks and reserves
 *	  nothing (route_reserve.c executes its plan, route_explain.c explains
 *	  it).
 *
 *	  Configuration
 *	  -------------
 *	  A channel's strategy, distance limit and allowed locations are read
 *	  once per backend and channel and cached (see RouteChannelConfig). The
 *	  strategy's name is resolved once, at that load, through the table of
 *	  strategies below into a RouteStrategy; the CHECK constraint on
 *	  oms.channels.routing_strategy refuses any other name.
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
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/memutils.h"

#include "routing.h"


const char *const RouteFilterNames[RF_COUNT] = {
	"active", "fulfils", "channel", "distance", "capacity", "not_rejected", "stock", "deadline"
};

/*
 * The strategies: the name stored in oms.channels.routing_strategy (and
 * in oms.routing_decisions), the enum the search switches on, and the
 * term explain_route uses for the strategy's measure. In enum order.
 */
typedef struct RouteStrategyEntry
{
	const char *name;
	RouteStrategy strategy;
	const char *term;
} RouteStrategyEntry;

static const RouteStrategyEntry RouteStrategies[ROUTE_STRATEGY_COUNT] = {
	{"closest", ROUTE_STRATEGY_CLOSEST, "closest"},
	{"cheapest", ROUTE_STRATEGY_CHEAPEST, "cheapest"},
	{"priority", ROUTE_STRATEGY_PRIORITY, "best priority"},
	{"balance", ROUTE_STRATEGY_BALANCE, "most stock left"},
	{"fastest", ROUTE_STRATEGY_FASTEST, "earliest delivery"},
};

/*
 * A stored name to its strategy. The CHECK constraint on
 * oms.channels.routing_strategy admits only the names of the table, so an
 * unknown one is a can't-happen (a constraint dropped or widened without
 * teaching the engine the new strategy): never run it as another one.
 */
static RouteStrategy
RouteStrategyLookup(const char *name)
{
	StringInfoData known;
	int			i;

	for (i = 0; i < ROUTE_STRATEGY_COUNT; i++)
		if (strcmp(RouteStrategies[i].name, name) == 0)
			return RouteStrategies[i].strategy;
	initStringInfo(&known);
	for (i = 0; i < ROUTE_STRATEGY_COUNT; i++)
		appendStringInfo(&known, "%s%s", i ? ", " : "", RouteStrategies[i].name);
	elog(ERROR, "oms: unknown routing strategy \"%s\" (known: %s)", name, known.data);
	pg_unreachable();
}

static const RouteStrategyEntry *
RouteStrategyEntryOf(RouteStrategy strategy)
{
	if ((int) strategy < 0 || strategy >= ROUTE_STRATEGY_COUNT)
		elog(ERROR, "oms: invalid routing strategy %d", (int) strategy);
	Assert(RouteStrategies[strategy].strategy == strategy);
	return &RouteStrategies[strategy];
}

/* the strategy's name, as oms.channels and oms.routing_decisions store it */
const char *
RouteStrategyName(RouteStrategy strategy)
{
	return RouteStrategyEntryOf(strategy)->name;
}

/* what the strategy measures, in explanations ("ranks lower on ...") */
const char *
RouteStrategyTerm(RouteStrategy strategy)
{
	return RouteStrategyEntryOf(strategy)->term;
}

static RouteSite *route_cmp_sites;

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
 * and the changing session at once. The strategy is kept resolved.
 */
typedef struct RouteChannelConfig
{
	int32		channel_id;
	RouteStrategy strategy;
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
		RouteStrategy strategy;
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
		strategy = RouteStrategyLookup(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
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
		c->strategy = strategy;
		c->max_distance_km = max_km;
		c->nallowed = nallowed;
		c->allowed = palloc(sizeof(int32) * (nallowed + 1));
		if (nallowed > 0)
			memcpy(c->allowed, allowed, sizeof(int32) * nallowed);
		MemoryContextSwitchTo(old);
	}
	/* a copy: an invalidation during this call must not pull it away */
	req->strategy = c->strategy;
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

#define ROUTE_LOCATION_COLUMNS \
	"SELECT l.id, l.code, l.priority, l.latitude, l.longitude, " \
	"       l.handling_cost::pg_catalog.float8, l.cost_per_km::pg_catalog.float8, " \
	"       COALESCE(l.daily_capacity, -1), COALESCE(d.orders, 0), l.active, l.ships, l.pickup "
#define ROUTE_LOCATION_NCOLUMNS 12
#define ROUTE_SITE_COLUMNS \
	ROUTE_LOCATION_COLUMNS \
	"     , b.product_id, GREATEST(b.on_hand OPERATOR(pg_catalog.-) b.reserved OPERATOR(pg_catalog.-) b.safety_stock, 0) "
#define ROUTE_SITE_LOAD_JOIN \
	"  LEFT JOIN oms.location_daily_load d ON l.daily_capacity IS NOT NULL " \
	"       AND d.location_id OPERATOR(pg_catalog.=) l.id " \
	"       AND d.day OPERATOR(pg_catalog.=) pg_catalog.timezone(l.time_zone, pg_catalog.now())::pg_catalog.date "

/*
 * Columns 1-12 of a result row (ROUTE_LOCATION_COLUMNS, deformed into v,
 * none of them null) into site x, whose availability per demand is avail
 * (zeroed, ndemands long: a slice of one array for all sites; NULL when
 * the caller assigns it later).
 */
static void
RouteSiteFromRow(RouteSite *x, Datum *v, int64 *avail)
{
	x->id = DatumGetInt32(v[0]);
	x->code = TextDatumGetCString(v[1]);
	x->priority = DatumGetInt32(v[2]);
	x->lat = DatumGetFloat8(v[3]);
	x->lon = DatumGetFloat8(v[4]);
	x->handling = DatumGetFloat8(v[5]);
	x->per_km = DatumGetFloat8(v[6]);
	x->capacity = DatumGetInt32(v[7]);
	x->load = DatumGetInt32(v[8]);
	x->active = DatumGetBool(v[9]);
	x->ships = DatumGetBool(v[10]);
	x->pickup = DatumGetBool(v[11]);
	x->avail = avail;
}

/* The index of id in ids (n ids, ascending), by binary search; -1 if absent. */
static int
RouteIdIndex(const int32 *ids, int n, int32 id)
{
	int			lo = 0,
				hi = n - 1;

	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (ids[mid] == id)
			return mid;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* The available units of product pid at site x, for every demand of it. */
static void
RouteSiteAvail(RouteRequest *req, RouteSite *x, int64 pid, int32 avail)
{
	int			d;

	for (d = 0; d < req->ndemands; d++)
		if (req->demands[d].product_id == pid)
			x->avail[d] = avail;
}

/* RouteLoadSites for explain_route: the state of its two row-by-row queries */
typedef struct RouteLoad
{
	RouteRequest *req;
	RouteState *st;
	int			size;			/* sites allocated */
	int32	   *ids;			/* the sites' ids, ascending */
	int		   *index_of;		/* when the ids are dense: site of id ids[0] + i, or -1 */
	int32		span;			/* entries of index_of */
} RouteLoad;

/* A row of the locations query (ascending id): one more site. */
static void
RouteLocationRow(Datum *values, bool *isnull, void *arg)
{
	RouteLoad  *load = (RouteLoad *) arg;
	RouteState *st = load->st;

	(void) isnull;
	if (st->nsites == load->size)
	{
		load->size *= 2;
		st->sites = repalloc(st->sites, sizeof(RouteSite) * load->size);
	}
	memset(&st->sites[st->nsites], 0, sizeof(RouteSite));
	RouteSiteFromRow(&st->sites[st->nsites], values, NULL);
	st->nsites++;
}

/* A row of the balances query: a demanded product's stock at a site. */
static void
RouteBalanceRow(Datum *values, bool *isnull, void *arg)
{
	RouteLoad  *load = (RouteLoad *) arg;
	int32		id = DatumGetInt32(values[0]);
	int			s;

	(void) isnull;
	if (load->index_of == NULL)
		s = RouteIdIndex(load->ids, load->st->nsites, id);
	else if (id < load->ids[0] || id - load->ids[0] >= load->span)
		s = -1;
	else
		s = load->index_of[id - load->ids[0]];
	if (s >= 0)
		RouteSiteAvail(load->req, &load->st->sites[s], DatumGetInt64(values[1]), DatumGetInt32(values[2]));
}

/*
 * The sites with their availability per demand. For placement only the
 * active locations with stock of a demanded product (one query, locations
 * joined with the balances); for explain_route every location. That one
 * reads the locations and the balances of the demanded products in two
 * queries, row by row as the executor produces them (no copy of the rows
 * into SPI_tuptable), and matches them here by location id: joining every
 * location with the balances, sorting the joined rows and copying them
 * cost several times as much at 1,000 locations. A balance of a location
 * the first query did not see (one created between the two) is left out,
 * as if read a moment earlier.
 */
static void
RouteLoadSites(RouteRequest *req, RouteState *st)
{
	static SPIPlanPtr plan_stock = NULL;
	static SPIPlanPtr plan_locations = NULL;
	static SPIPlanPtr plan_balances = NULL;
	Oid			types[1] = {INT8ARRAYOID};
	Datum		values[1];
	Datum		row[ROUTE_LOCATION_NCOLUMNS + 2];
	bool		nulls[ROUTE_LOCATION_NCOLUMNS + 2];
	int64	   *ids = palloc(sizeof(int64) * (req->ndemands + 1));
	int64	   *avail;
	int			i,
				n,
				d;
	RouteSite  *cur = NULL;
	MemoryContext mcxt = CurrentMemoryContext;

	for (i = 0; i < req->ndemands; i++)
		ids[i] = req->demands[i].product_id;
	values[0] = PointerGetDatum(OmsInt8Array(ids, req->ndemands));
	if (req->explain)
	{
		RouteLoad	load;

		load.req = req;
		load.st = st;
		load.size = 64;
		st->sites = palloc(sizeof(RouteSite) * load.size);
		st->nsites = 0;
		OmsQueryEach(OmsPlan(&plan_locations,
							 ROUTE_LOCATION_COLUMNS
							 "  FROM oms.locations l "
							 ROUTE_SITE_LOAD_JOIN
							 " ORDER BY l.id",
							 0, NULL), NULL, NULL, RouteLocationRow, &load);
		MemoryContextSwitchTo(mcxt);	/* SPI left its own context current */
		avail = palloc0(sizeof(int64) * ((Size) st->nsites * req->ndemands + 1));
		load.ids = palloc(sizeof(int32) * (st->nsites + 1));
		for (i = 0; i < st->nsites; i++)
		{
			st->sites[i].avail = avail + (Size) i * req->ndemands;
			load.ids[i] = st->sites[i].id;
		}
		/* ids from a sequence are dense: then a table from id to site */
		load.index_of = NULL;
		load.span = 0;
		if (st->nsites > 0 && (int64) load.ids[st->nsites - 1] - load.ids[0] < 4 * (int64) st->nsites + 1024)
		{
			load.span = load.ids[st->nsites - 1] - load.ids[0] + 1;
			load.index_of = palloc(sizeof(int) * load.span);
			for (i = 0; i < load.span; i++)
				load.index_of[i] = -1;
			for (i = 0; i < st->nsites; i++)
				load.index_of[load.ids[i] - load.ids[0]] = i;
		}
		OmsQueryEach(OmsPlanGeneric(&plan_balances,
									"SELECT b.location_id, b.product_id, "
									"       GREATEST(b.on_hand OPERATOR(pg_catalog.-) b.reserved OPERATOR(pg_catalog.-) b.safety_stock, 0) "
									"  FROM oms.stock_balances b "
									" WHERE b.product_id OPERATOR(pg_catalog.=) ANY ($1) AND b.slot OPERATOR(pg_catalog.=) 0",
									1, types), values, NULL, RouteBalanceRow, &load);
		MemoryContextSwitchTo(mcxt);
	}
	else
	{
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
		MemoryContextSwitchTo(mcxt);
		n = (int) SPI_processed;
		st->sites = palloc0(sizeof(RouteSite) * (n + 1));
		avail = palloc0(sizeof(int64) * ((Size) n * req->ndemands + 1));
		st->nsites = 0;
		for (i = 0; i < n; i++)
		{
			heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, row, nulls);
			if (cur == NULL || cur->id != DatumGetInt32(row[0]))
			{
				cur = &st->sites[st->nsites];
				RouteSiteFromRow(cur, row, avail + (Size) st->nsites * req->ndemands);
				st->nsites++;
			}
			RouteSiteAvail(req, cur, DatumGetInt64(row[ROUTE_LOCATION_NCOLUMNS]),
						   DatumGetInt32(row[ROUTE_LOCATION_NCOLUMNS + 1]));
		}
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
	int64	   *total_of = palloc(sizeof(int64) * (req->ndemands + 1));
	bool	   *first_of = palloc(sizeof(bool) * (req->ndemands + 1));
	bool	   *fit = palloc(sizeof(bool) * ((Size) st->nsites * req->ndemands + 1));
	bool		promise = RoutePromiseWanted(req);

	/* per demand, once: what all demands of its product ask together */
	for (d = 0; d < req->ndemands; d++)
	{
		total_of[d] = RouteProductDemand(req, d);
		first_of[d] = RouteFirstOfProduct(req, d);
	}
	st->eligible = palloc(sizeof(int) * (st->nsites + 1));
	st->neligible = 0;
	for (s = 0; s < st->nsites; s++)
		st->sites[s].distance = req->has_coords
			? CatalogDistanceKm(st->sites[s].lat, st->sites[s].lon, req->lat, req->lon) : -1;
	/* a delivery promise per site: its carrier's rate is then the shipping cost */
	if (promise)
		RoutePromise(req, st);
	for (s = 0; s < st->nsites; s++)
	{
		RouteSite  *x = &st->sites[s];

		x->ship_cost = promise && x->promised ? x->promise_rate : (x->distance > 0 ? x->distance : 0) * x->per_km;
		x->est_cost = x->ship_cost + x->handling;
		x->units = 0;
		x->after = 0;
		x->nfit = 0;
		x->fit_mask = 0;
		x->fit = fit + (Size) s * req->ndemands;
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
		x->pass[RF_FULFILS] = req->pickup_location_id > 0 ? (x->id == req->pickup_location_id && (x->pickup || req->counter)) : x->ships;
		x->pass[RF_CHANNEL] = req->nallowed == 0 || RouteContains(req->allowed, req->nallowed, x->id);
		x->pass[RF_DISTANCE] = req->max_distance_km < 0 || x->distance < 0 || x->distance <= req->max_distance_km;
		/* a counter sale is not a parcel: the daily capacity neither applies nor counts it */
		if (req->counter)
			x->capacity = -1;
		x->pass[RF_CAPACITY] = x->capacity < 0 || x->load < x->capacity;
		x->pass[RF_REJECTED] = !RouteContains(req->rejected, req->nrejected, x->id);
		x->pass[RF_STOCK] = x->units > 0;
		x->pass[RF_DEADLINE] = !req->has_deliver_by || x->promised;
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

			switch (req->strategy)
			{
				case ROUTE_STRATEGY_CLOSEST:
					x->key[0] = dist;
					x->key[1] = x->est_cost;
					x->key[2] = x->priority;
					break;
				case ROUTE_STRATEGY_PRIORITY:
					x->key[0] = x->priority;
					x->key[1] = x->est_cost;
					x->key[2] = dist;
					break;
				case ROUTE_STRATEGY_BALANCE:
					x->key[0] = -(double) x->after;
					x->key[1] = x->est_cost;
					x->key[2] = x->priority;
					x->key[3] = dist;
					break;
				case ROUTE_STRATEGY_FASTEST:
					/* no promise (no service reaches the ship-to): last */
					x->key[0] = x->promised ? (double) x->arrives_on : 1e12;
					x->key[1] = x->est_cost;
					x->key[2] = dist;
					break;
				case ROUTE_STRATEGY_CHEAPEST:
					x->key[0] = x->est_cost;
					x->key[1] = x->priority;
					x->key[2] = dist;
					break;
				case ROUTE_STRATEGY_COUNT:
					elog(ERROR, "oms: invalid routing strategy %d", (int) req->strategy);
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

/*
 * The single entry point of location choice: fills out (allocations,
 * shortfall per demand, availability per demand over eligible locations)
 * from the current balances. Reads only; never locks. The plan is
 * allocated in the memory context current at the call (an SPI query
 * leaves SPI's own context current: the loaders switch back after theirs).
 */
void
RoutePlan(RouteRequest *req, RoutePlanOut *out)
{
	MemoryContext mcxt = CurrentMemoryContext;
	RouteState *st = palloc0(sizeof(RouteState));
	int			n = req->ndemands;
	bool	   *fits_somewhere = palloc0(sizeof(bool) * (n + 1));
	bool		single = false;
	bool		coverable = true;
	int			d,
				e;

	if (!req->config_loaded)
	{
		RouteLoadConfig(req);
		MemoryContextSwitchTo(mcxt);
	}
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
	RouteSortByScore(st, st->plan, st->nplan);
}
