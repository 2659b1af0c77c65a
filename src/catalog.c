/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  C parts of the catalog area: geographic distance between locations
 *	  and ship-to addresses, and the lookups of a product by sku and of a
 *	  location by code that every area shares.
 *
 *	  The catalog tables themselves (src/catalog.sql) are plain tables that
 *	  oms_admin maintains with SQL; their rules are named constraints and a
 *	  trigger. What lives here is the arithmetic that routing runs for every
 *	  candidate location, where a C function pays, and the two lookups by
 *	  natural key (saved plans, through spi.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "oms.h"

/* mean Earth radius (IUGG), kilometres */
#define EARTH_RADIUS_KM 6371.0088

static inline void
CatalogCheckCoordinate(double lat, double lon)
{
	if (isnan(lat) || lat < -90.0 || lat > 90.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("latitude %g is out of range", lat),
				 errdetail("A latitude is between -90 and 90 degrees."),
				 errhint("Check that latitude and longitude are not swapped.")));
	if (isnan(lon) || lon < -180.0 || lon > 180.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("longitude %g is out of range", lon),
				 errdetail("A longitude is between -180 and 180 degrees."),
				 errhint("Check that latitude and longitude are not swapped.")));
}

/*
 * Haversine distance; numerically stable for small distances, which is what
 * choosing between nearby stores needs.
 */
double
CatalogDistanceKm(double lat1, double lon1, double lat2, double lon2)
{
	double		rad = M_PI / 180.0;
	double		dlat = (lat2 - lat1) * rad;
	double		dlon = (lon2 - lon1) * rad;
	double		a;

	a = sin(dlat / 2) * sin(dlat / 2) +
		cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
	if (a > 1.0)
		a = 1.0;
	return 2.0 * EARTH_RADIUS_KM * asin(sqrt(a));
}

PG_FUNCTION_INFO_V1(distance_km);
/*
 * oms.distance_km(lat1, lon1, lat2, lon2): great-circle distance in km.
 */
Datum
distance_km(PG_FUNCTION_ARGS)
{
	double		lat1 = PG_GETARG_FLOAT8(0);
	double		lon1 = PG_GETARG_FLOAT8(1);
	double		lat2 = PG_GETARG_FLOAT8(2);
	double		lon2 = PG_GETARG_FLOAT8(3);

	CatalogCheckCoordinate(lat1, lon1);
	CatalogCheckCoordinate(lat2, lon2);
	PG_RETURN_FLOAT8(CatalogDistanceKm(lat1, lon1, lat2, lon2));
}

/* ---- lookups by natural key, shared by every area ---- */

static SPIPlanPtr plan_lookup_product = NULL;
static SPIPlanPtr plan_lookup_location = NULL;

bool
OmsLookupProduct(const char *sku, OmsProduct *out)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	char	   *kind;

	values[0] = CStringGetTextDatum(sku);
	OmsQuery(OmsPlan(&plan_lookup_product,
					 "SELECT id, kind, active FROM oms.products WHERE sku OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	if (SPI_processed == 0)
		return false;
	out->id = OmsGetInt64(0, 1, NULL);
	kind = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	out->kind = (strcmp(kind, "kit") == 0) ? OMS_KIND_KIT :
		(strcmp(kind, "service") == 0) ? OMS_KIND_SERVICE : OMS_KIND_STOCK;
	out->active = DatumGetBool(OmsGetDatum(0, 3, NULL));
	return true;
}

bool
OmsLookupLocation(const char *code, int32 *id, bool *active)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	values[0] = CStringGetTextDatum(code);
	OmsQuery(OmsPlan(&plan_lookup_location,
					 "SELECT id, active FROM oms.locations WHERE code OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	if (SPI_processed == 0)
		return false;
	*id = OmsGetInt32(0, 1, NULL);
	if (active)
		*active = DatumGetBool(OmsGetDatum(0, 2, NULL));
	return true;
}
