/*-------------------------------------------------------------------------
 *
 * order_explain.c
 *	  oms.explain_route(order jsonb): how place_order would route an order
 *	  document now, without reserving anything.
 *
 *	  A thin SQL entry in the orders layer: the orders layer turns the
 *	  document into a routing request (OrdersRouteRequest: the same parsing
 *	  and validation as place_order), then routing explains its plan
 *	  (RouteExplain in route_explain.c). Keeping the entry here lets routing
 *	  stay below orders: it never parses an order document itself.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "routing.h"

/*
 * InitMaterializedSRF(fcinfo, 0), with one difference: the tuplestore keeps
 * its rows in a generation memory context of the calling query (made on
 * the first call, kept in fn_extra; newer PostgreSQL releases give every
 * tuplestore one) instead of the query's AllocSet, which rounds each row
 * up to a power of two: explain_route's rows, about 270 bytes, took 512
 * each, over half a megabyte at 1,000 locations. The node that reads the
 * rows ends the tuplestore, which frees them; another call in the same
 * query (a lateral join) reuses the context.
 */
static void
ExplainMaterialize(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext rows = (MemoryContext) fcinfo->flinfo->fn_extra;
	MemoryContext old;
	TupleDesc	desc;
	Tuplestorestate *store;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("materialize mode required, but it is not allowed in this context")));
	if (rows == NULL)
	{
		rows = GenerationContextCreate(fcinfo->flinfo->fn_mcxt, "oms explain_route rows",
									   0, ALLOCSET_DEFAULT_INITSIZE, ALLOCSET_DEFAULT_MAXSIZE);
		fcinfo->flinfo->fn_extra = rows;
	}
	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	MemoryContextSwitchTo(rows);
	store = tuplestore_begin_heap((rsinfo->allowedModes & SFRM_Materialize_Random) != 0, false, work_mem);
	MemoryContextSwitchTo(old);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = desc;
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

	OmsRequireArg(fcinfo, 0, "order");
	ExplainMaterialize(fcinfo);

	SPI_connect();
	OrdersRouteRequest(PG_GETARG_JSONB_P(0), &req);
	RouteExplain(&req, rsinfo->setResult, rsinfo->setDesc);
	SPI_finish();
	return (Datum) 0;
}
