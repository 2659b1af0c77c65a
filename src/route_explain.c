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
 *	  Cost
 *	  ----
 *	  One row per location, so explain_route is linear in the locations by
 *	  design, and the per-row work is kept small: the verdict objects are
 *	  built as jsonb values once per call (at most 2^RF_COUNT different
 *	  ones), the numerics without a text round trip, the reason in one
 *	  reused buffer. The planner's view of the locations (about 450 kB at
 *	  1,000 locations) lives in working memory the backend keeps between
 *	  calls (RouteExplainMemory): memory allocated fresh on every call, and
 *	  handed back to the kernel after it, costs a page fault per 4 kB on
 *	  first touch, which on the bench machine was a quarter of the call.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/tuplestore.h"

#include "routing.h"

/*
 * RouteExplain's working memory, kept by the backend between calls and
 * emptied after each one: a generation context whose first block, of
 * ROUTE_EXPLAIN_KEEP bytes, survives the reset (and holds the large arrays
 * of the plan, which an AllocSet would give blocks of their own and free).
 * Up to about 2,000 locations a call stays inside that block. A nested
 * call (explain_route run from inside one of RouteExplain's own queries,
 * which nothing does today) gets a context of its own instead.
 */
#define ROUTE_EXPLAIN_KEEP	(1024 * 1024)

static MemoryContext RouteExplainMemory = NULL;
static bool RouteExplainBusy = false;

/*
 * v rounded to scale (0-2) decimals as a numeric: exactly what numeric_in
 * makes of snprintf("%.*f", scale, v), which rounds the binary value of v
 * correctly. Without that text round trip when the rounding is clear: v is
 * finite, 0 <= v < 10^6, so v x 10^scale (< 10^8) is off by less than
 * 10^-7 from its exact value and a fraction more than 10^-6 away from one
 * half rounds the same way. Otherwise (a near tie, a negative, a huge or
 * non-finite value) through the text, as before.
 */
static Datum
RouteNumeric(double v, int scale)
{
	static const double scale10[] = {1.0, 10.0, 100.0};
	char		buf[64];

	Assert(scale >= 0 && scale <= 2);
	if (v >= 0 && v < 1e6)
	{
		double		p = v * scale10[scale];
		double		whole = floor(p);
		double		frac = p - whole;

		if (fabs(frac - 0.5) > 1e-6)
			return NumericGetDatum(int64_div_fast_to_numeric((int64) whole + (frac > 0.5 ? 1 : 0), scale));
	}
	snprintf(buf, sizeof(buf), "%.*f", scale, v);
	return DirectFunctionCall3(numeric_in, CStringGetDatum(buf), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

/*
 * The verdicts object of x, {"active": true, ...}, one key per filter.
 * There are at most 2^RF_COUNT different ones: each is built once per call
 * (cache, indexed by the bit mask of the passed filters) in the caller's
 * memory context, as a jsonb value, without a text round trip.
 */
static Datum
RouteVerdicts(RouteSite *x, Datum *cache, bool deadline)
{
	int			mask = 0;
	int			f;

	for (f = 0; f < RF_COUNT; f++)
		if (x->pass[f])
			mask |= 1 << f;
	if (cache[mask] == (Datum) 0)
	{
		JsonbParseState *state = NULL;
		JsonbValue	key;
		JsonbValue	val;
		JsonbValue *obj;

		pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
		for (f = 0; f < RF_COUNT; f++)
		{
			/* the deadline filter is shown when the document has a deadline */
			if (f == RF_DEADLINE && !deadline)
				continue;
			key.type = jbvString;
			key.val.string.val = unconstify(char *, RouteFilterNames[f]);
			key.val.string.len = strlen(RouteFilterNames[f]);
			pushJsonbValue(&state, WJB_KEY, &key);
			val.type = jbvBool;
			val.val.boolean = x->pass[f];
			pushJsonbValue(&state, WJB_VALUE, &val);
		}
		obj = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
		cache[mask] = JsonbPGetDatum(JsonbValueToJsonb(obj));
	}
	return cache[mask];
}

static void
RouteFilterReason(StringInfo buf, RouteRequest *req, RouteSite *x)
{
	switch (x->failed)
	{
		case RF_ACTIVE:
			appendStringInfoString(buf, "filtered: location inactive");
			return;
		case RF_FULFILS:
			appendStringInfoString(buf, req->pickup_location_id > 0 ? "filtered: not the pickup location" : "filtered: does not ship");
			return;
		case RF_CHANNEL:
			appendStringInfoString(buf, "filtered: not a location of the channel");
			return;
		case RF_DISTANCE:
			appendStringInfo(buf, "filtered: %.1f km away, the channel allows %.1f km", x->distance, req->max_distance_km);
			return;
		case RF_CAPACITY:
			appendStringInfo(buf, "filtered: daily capacity reached (%d of %d orders today)", x->load, x->capacity);
			return;
		case RF_REJECTED:
			appendStringInfoString(buf, "filtered: rejected this order before");
			return;
		case RF_STOCK:
			appendStringInfoString(buf, "filtered: no stock of any line");
			return;
		case RF_DEADLINE:
			appendStringInfoString(buf, "filtered: no carrier service delivers by the deadline from here");
			return;
	}
}

static void
RouteLinesInFull(StringInfo buf, int nfit, int n)
{
	if (n == 1)
		appendStringInfoString(buf, nfit ? "the line" : "no line");
	else if (nfit == n)
		appendStringInfo(buf, "all %d lines", n);
	else
		appendStringInfo(buf, "%d of %d lines", nfit, n);
}

/* Why an eligible location is not in the plan, in words. */
static void
RouteWhyNot(StringInfo buf, RouteRequest *req, RouteState *st, RouteSite *x)
{
	RouteSite  *worst = NULL;
	int			min_fit = req->ndemands;
	int			i;

	if (st->nplan == 0)
	{
		appendStringInfoString(buf, "no plan");
		return;
	}
	if (st->nplan == 1 && st->sites[st->plan[0]].nfit == req->ndemands && x->nfit < req->ndemands)
	{
		appendStringInfoString(buf, "has ");
		RouteLinesInFull(buf, x->nfit, req->ndemands);
		appendStringInfoString(buf, " in full; the chosen location has all");
		return;
	}
	for (i = 0; i < st->nplan; i++)
	{
		RouteSite  *c = &st->sites[st->plan[i]];

		if (worst == NULL || RouteKeyCmp(c->key, worst->key) > 0)
			worst = c;
		min_fit = Min(min_fit, c->nfit);
	}
	if (x->nfit < min_fit)
	{
		appendStringInfoString(buf, "has ");
		RouteLinesInFull(buf, x->nfit, req->ndemands);
		appendStringInfoString(buf, " in full, fewer than every chosen location");
	}
	else if (RouteKeyCmp(x->key, worst->key) < 0)
		appendStringInfo(buf, "scores better on %s alone, but the best plan (%d shipment%s) does not include it",
						 RouteStrategyTerm(req->strategy), st->nplan, st->nplan == 1 ? "" : "s");
	else if (RouteKeyCmp(x->key, worst->key) == 0)
		appendStringInfoString(buf, "ties on every score term; the lower location id wins");
	else
		appendStringInfo(buf, "ranks lower on %s", RouteStrategyTerm(req->strategy));
}

/*
 * RouteExplain's work, in the current memory context: plan, then the rows.
 * The verdict objects and the role texts are built once, the reason is
 * written into one reused buffer, and what a row still allocates (its
 * texts and numerics) lives in a context reset after the row is stored
 * (the tuplestore copies it).
 */
static void
RouteExplainRows(RouteRequest *req, Tuplestorestate *store, TupleDesc desc)
{
	static const char *const roles[] = {"chosen", "runner_up", "eligible", "filtered"};
	RoutePlanOut out;
	RouteState *st;
	int		   *order;
	int			norder = 0;
	int			i,
				rank = 0;
	Datum		verdicts[1 << RF_COUNT];
	Datum		role_texts[lengthof(roles)];
	StringInfoData reason;
	MemoryContext rowcxt;
	MemoryContext oldcxt;

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

	memset(verdicts, 0, sizeof(verdicts));
	for (i = 0; i < (int) lengthof(roles); i++)
		role_texts[i] = CStringGetTextDatum(roles[i]);
	initStringInfo(&reason);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "oms explain_route row", ALLOCSET_SMALL_SIZES);

	for (i = 0; i < norder; i++)
	{
		RouteSite  *x = &st->sites[order[i]];
		Datum		values[14];
		bool		nulls[14];
		int			role;
		int64		total = 0;
		int			d;

		memset(nulls, 0, sizeof(nulls));
		for (d = 0; d < req->ndemands; d++)
			total += x->avail[d];

		resetStringInfo(&reason);
		if (x->failed >= 0)
		{
			role = 3;
			RouteFilterReason(&reason, req, x);
		}
		else if (x->chosen)
		{
			role = 0;
			appendStringInfo(&reason, "%s; ", st->rule);
			RouteLinesInFull(&reason, x->nfit, req->ndemands);
			appendStringInfo(&reason, " in full, " INT64_FORMAT " unit%s planned here",
							 x->planned, x->planned == 1 ? "" : "s");
		}
		else
		{
			role = (i < st->nplan + ROUTE_RUNNERS_UP) ? 1 : 2;
			RouteWhyNot(&reason, req, st, x);
		}
		rank++;
		values[4] = RouteVerdicts(x, verdicts, req->has_deliver_by);
		/* the promise from here: when promised, what; else that none is */
		if (RoutePromiseWanted(req))
			values[4] = DirectFunctionCall2(jsonb_concat, values[4],
											DirectFunctionCall1(jsonb_in, CStringGetDatum(
																	psprintf("{\"promise\": %s}", x->promise_text ? x->promise_text : "null"))));

		oldcxt = MemoryContextSwitchTo(rowcxt);
		values[0] = Int32GetDatum(rank);
		values[1] = CStringGetTextDatum(x->code);
		values[2] = role_texts[role];
		values[3] = BoolGetDatum(x->failed < 0);
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
		values[13] = PointerGetDatum(cstring_to_text_with_len(reason.data, reason.len));
		tuplestore_putvalues(store, desc, values, nulls);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(rowcxt);
	}
	MemoryContextDelete(rowcxt);
}

/*
 * Plan req without reserving anything and put one row per location into
 * store (desc: the columns of oms.explain_route), ranked as the banner
 * says. The caller is connected to SPI.
 */
void
RouteExplain(RouteRequest *req, Tuplestorestate *store, TupleDesc desc)
{
	MemoryContext callcxt = CurrentMemoryContext;
	bool		nested = RouteExplainBusy;
	MemoryContext work;

	if (nested)
		work = AllocSetContextCreate(callcxt, "oms explain_route (nested)", ALLOCSET_DEFAULT_SIZES);
	else
	{
		if (RouteExplainMemory == NULL)
			RouteExplainMemory = GenerationContextCreate(TopMemoryContext, "oms explain_route",
														 ROUTE_EXPLAIN_KEEP, ROUTE_EXPLAIN_KEEP,
														 ALLOCSET_DEFAULT_MAXSIZE);
		work = RouteExplainMemory;
		RouteExplainBusy = true;
	}
	PG_TRY();
	{
		MemoryContextSwitchTo(work);
		RouteExplainRows(req, store, desc);
	}
	PG_FINALLY();
	{
		MemoryContextSwitchTo(callcxt);
		if (nested)
			MemoryContextDelete(work);
		else
		{
			MemoryContextReset(work);
			RouteExplainBusy = false;
		}
	}
	PG_END_TRY();
}
