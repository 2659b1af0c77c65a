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
#include "utils/jsonb.h"

#include "routing.h"

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
	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	OrdersRouteRequest(PG_GETARG_JSONB_P(0), &req);
	RouteExplain(&req, rsinfo->setResult, rsinfo->setDesc);
	SPI_finish();
	return (Datum) 0;
}
