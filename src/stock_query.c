/*-------------------------------------------------------------------------
 *
 * stock_query.c
 *	  The two stock questions of the API, read without locks:
 *	  oms.available(sku, location), the promisable units (on_hand -
 *	  reserved - safety_stock; kits by their scarcest component, services
 *	  NULL), and oms.incoming(sku, location), the units on open purchase
 *	  orders (oms.incoming_stock, purchasing), which are never sellable.
 *	  Both take the same arguments, checked once (StockQueryArgs).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"

#include "oms.h"

/*
 * The sku (any kind) and the optional location of a stock question; an
 * unknown one is a 22023 naming it. Connects SPI. nulls[1] is set when no
 * location is given (every active location).
 */
static void
StockQueryArgs(FunctionCallInfo fcinfo, OmsProduct *p, int32 *location_id, char *nulls)
{
	char	   *sku = OmsIdentifierArg(fcinfo, 0, "sku", OMS_MAX_SKU_CHARS);

	SPI_connect();
	if (!OmsLookupProduct(sku, p))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown sku \"%s\"", sku),
				 errdetail("No product in oms.products has this sku."),
				 errhint("Skus are case-sensitive.")));
	*location_id = 0;
	if (!PG_ARGISNULL(1))
	{
		char	   *loc = OmsIdentifierArg(fcinfo, 1, "location", OMS_MAX_CODE_CHARS);

		if (!OmsLookupLocation(loc, location_id, NULL))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown location \"%s\"", loc),
					 errdetail("No location in oms.locations has this code."),
					 errhint("Location codes are case-sensitive.")));
	}
	else
		nulls[1] = 'n';
}

PG_FUNCTION_INFO_V1(available);
/*
 * oms.available(sku, location): promisable units; kits are limited by their
 * scarcest component, services have no stock (NULL).
 */
Datum
available(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan_stock = NULL;
	static SPIPlanPtr plan_kit = NULL;
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2];
	char		nulls[2] = "  ";
	OmsProduct	p;
	int32		location_id = 0;
	int64		result;
	bool		isnull;

	StockQueryArgs(fcinfo, &p, &location_id, nulls);

	if (p.kind == OMS_KIND_SERVICE)
	{
		SPI_finish();
		PG_RETURN_NULL();
	}

	values[0] = Int64GetDatum(p.id);
	values[1] = Int32GetDatum(location_id);
	if (p.kind == OMS_KIND_STOCK)
		OmsQuery(OmsPlan(&plan_stock,
						 "SELECT COALESCE(pg_catalog.sum(pg_catalog.int4larger(b.on_hand OPERATOR(pg_catalog.-) b.reserved "
						 "       OPERATOR(pg_catalog.-) b.safety_stock, 0)), 0)::int8 "
						 "  FROM oms.stock_balances b JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) b.location_id "
						 " WHERE b.product_id OPERATOR(pg_catalog.=) $1 "
						 "   AND CASE WHEN $2 IS NULL THEN l.active ELSE b.location_id OPERATOR(pg_catalog.=) $2 END",
						 2, types), values, nulls, 1);
	else
		/* whole kits per location (a kit ships from one place), summed */
		OmsQuery(OmsPlan(&plan_kit,
						 "SELECT COALESCE(pg_catalog.sum(k.kits), 0)::int8 FROM ("
						 "  SELECT pg_catalog.min(COALESCE(pg_catalog.int4larger(b.on_hand OPERATOR(pg_catalog.-) b.reserved "
						 "         OPERATOR(pg_catalog.-) b.safety_stock, 0), 0) OPERATOR(pg_catalog./) kc.qty) AS kits "
						 "    FROM oms.locations l CROSS JOIN oms.kit_components kc "
						 "    LEFT JOIN oms.stock_balances b ON b.product_id OPERATOR(pg_catalog.=) kc.component_id "
						 "         AND b.location_id OPERATOR(pg_catalog.=) l.id AND b.slot OPERATOR(pg_catalog.=) 0 "
						 "   WHERE kc.kit_id OPERATOR(pg_catalog.=) $1 "
						 "     AND CASE WHEN $2 IS NULL THEN l.active ELSE l.id OPERATOR(pg_catalog.=) $2 END "
						 "   GROUP BY l.id) k",
						 2, types), values, nulls, 1);
	result = OmsGetInt64(0, 1, &isnull);
	SPI_finish();
	if (result > PG_INT32_MAX)
		result = PG_INT32_MAX;
	PG_RETURN_INT32((int32) result);
}

PG_FUNCTION_INFO_V1(incoming);
/* oms.incoming(sku, location): units on open purchase orders */
Datum
incoming(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2];
	char		nulls[2] = "  ";
	OmsProduct	p;
	int32		location_id = 0;
	int64		result;

	StockQueryArgs(fcinfo, &p, &location_id, nulls);
	values[0] = Int64GetDatum(p.id);
	values[1] = Int32GetDatum(location_id);
	OmsQuery(OmsPlan(&plan,
					 "SELECT COALESCE(pg_catalog.sum(qty), 0)::int8 FROM oms.incoming_stock "
					 " WHERE product_id OPERATOR(pg_catalog.=) $1 AND ($2::int4 IS NULL OR location_id OPERATOR(pg_catalog.=) $2)",
					 2, types), values, nulls, 1);
	result = OmsGetInt64(0, 1, NULL);
	SPI_finish();
	PG_RETURN_INT32((int32) Min(result, PG_INT32_MAX));
}
