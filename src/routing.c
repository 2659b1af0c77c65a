/*-------------------------------------------------------------------------
 *
 * routing.c
 *	  Location choice for place_order, behind the single entry point
 *	  RoutePlan().
 *
 *	  This version implements the placeholder rule of the reservation
 *	  release: prefer one location that can reserve the whole order (best
 *	  priority first, then nearest to the ship-to, then lowest id); when no
 *	  single location can, split: each product is taken from the locations
 *	  in that same ranking until its demand is covered. The full routing
 *	  engine (filters, cost scoring, strategies, explain_route) replaces the
 *	  body of RoutePlan() without changing its contract.
 *
 *	  RoutePlan() only plans from the numbers it is given; it never touches
 *	  the database. place_order executes the plan with guarded updates and
 *	  asks for a new plan, with fresh numbers, when a guarded update finds
 *	  the stock gone.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "oms.h"

typedef struct RouteLocation
{
	int32		location_id;
	int32		priority;
	double		distance_km;
} RouteLocation;

static int
RouteLocationCmp(const void *a, const void *b)
{
	const RouteLocation *x = a;
	const RouteLocation *y = b;

	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	if (x->distance_km != y->distance_km)
		return x->distance_km < y->distance_km ? -1 : 1;
	return (x->location_id > y->location_id) - (x->location_id < y->location_id);
}

static int32
RouteAvailable(RouteCandidate *cands, int ncands, int64 product_id, int32 location_id)
{
	int			i;

	for (i = 0; i < ncands; i++)
		if (cands[i].product_id == product_id && cands[i].location_id == location_id)
			return cands[i].available;
	return 0;
}

int
RoutePlan(RouteDemand *demands, int ndemands,
		  RouteCandidate *cands, int ncands,
		  RouteAllocation *allocs, int64 *shortfall)
{
	RouteLocation *locs = palloc(sizeof(RouteLocation) * (ncands + 1));
	int			nlocs = 0;
	int			nallocs = 0;
	int			i,
				j,
				d;

	/* distinct candidate locations, ranked */
	for (i = 0; i < ncands; i++)
	{
		for (j = 0; j < nlocs; j++)
			if (locs[j].location_id == cands[i].location_id)
				break;
		if (j == nlocs)
		{
			locs[nlocs].location_id = cands[i].location_id;
			locs[nlocs].priority = cands[i].priority;
			locs[nlocs].distance_km = cands[i].distance_km < 0 ? 0 : cands[i].distance_km;
			nlocs++;
		}
	}
	qsort(locs, nlocs, sizeof(RouteLocation), RouteLocationCmp);

	/* one location for the whole order, when there is one */
	for (j = 0; j < nlocs; j++)
	{
		bool		covers = true;

		for (d = 0; d < ndemands && covers; d++)
			if (RouteAvailable(cands, ncands, demands[d].product_id, locs[j].location_id) < demands[d].qty)
				covers = false;
		if (covers)
		{
			for (d = 0; d < ndemands; d++)
			{
				allocs[nallocs].product_id = demands[d].product_id;
				allocs[nallocs].location_id = locs[j].location_id;
				allocs[nallocs].qty = (int32) demands[d].qty;
				nallocs++;
				shortfall[d] = 0;
			}
			pfree(locs);
			return nallocs;
		}
	}

	/* split: each product from the ranked locations until covered */
	for (d = 0; d < ndemands; d++)
	{
		int64		remaining = demands[d].qty;

		for (j = 0; j < nlocs && remaining > 0; j++)
		{
			int32		avail = RouteAvailable(cands, ncands, demands[d].product_id, locs[j].location_id);
			int32		take;

			if (avail <= 0)
				continue;
			take = (int32) Min((int64) avail, remaining);
			allocs[nallocs].product_id = demands[d].product_id;
			allocs[nallocs].location_id = locs[j].location_id;
			allocs[nallocs].qty = take;
			nallocs++;
			remaining -= take;
		}
		shortfall[d] = remaining;
	}
	pfree(locs);
	return nallocs;
}
