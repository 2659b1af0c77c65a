/*-------------------------------------------------------------------------
 *
 * route_search.c
 *	  The search of the routing engine: which locations serve which
 *	  demands once src/route_plan.c has loaded and scored the candidates
 *	  (RouteState, src/routing.h). RouteExactCover finds the fewest
 *	  shipments that cover the fitting products (up to 8 of them),
 *	  RouteGreedyCover the usual cover beyond that, and RouteAllocate
 *	  turns a cover into allocations, best score first, splitting only
 *	  where the policy allows. Reads nothing and locks nothing: it works on
 *	  the state in memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "routing.h"

static RouteSite *route_score_sites;

/* by score only (for the order in which a split takes stock) */
static int
RouteScoreCmp(const void *a, const void *b)
{
	const RouteSite *x = &route_score_sites[*(const int *) a];
	const RouteSite *y = &route_score_sites[*(const int *) b];
	int			c = RouteKeyCmp(x->key, y->key);

	if (c != 0)
		return c;
	return (x->id > y->id) - (x->id < y->id);
}

/* sort site indexes by score (then id), best first */
void
RouteSortByScore(RouteState *st, int *idx, int n)
{
	route_score_sites = st->sites;
	qsort(idx, n, sizeof(int), RouteScoreCmp);
}

/* Exact fewest-shipments cover of the fitting products (ndemands <= 8). */
void
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
void
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
int
RouteAllocate(RouteRequest *req, RouteState *st, RoutePlanOut *out, bool may_add)
{
	int		   *order = palloc(sizeof(int) * (st->neligible + 1));
	int64	   *left = palloc(sizeof(int64) * ((Size) st->neligible * req->ndemands + 1));
	int			norder = 0;
	int			nallocs = 0;
	int			d,
				e,
				m;

	/* chosen sites first, then the rest, each by score */
	for (e = 0; e < st->neligible; e++)
	{
		RouteSite  *x = &st->sites[st->eligible[e]];

		x->left = left + (Size) e * req->ndemands;
		for (d = 0; d < req->ndemands; d++)
			x->left[d] = x->avail[d];
		if (x->chosen)
			order[norder++] = st->eligible[e];
	}
	RouteSortByScore(st, order, norder);
	if (may_add)
	{
		int			first_rest = norder;

		for (e = 0; e < st->neligible; e++)
			if (!st->sites[st->eligible[e]].chosen)
				order[norder++] = st->eligible[e];
		RouteSortByScore(st, order + first_rest, norder - first_rest);
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

