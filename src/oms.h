/*-------------------------------------------------------------------------
 *
 * oms.h
 *	  Shared declarations for the oms extension, one section per source
 *	  file.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMS_H
#define OMS_H

#include "postgres.h"

#define OMS_VERSION_STR "0.1.0"

/* ---- gtin.c ---- */

/*
 * A GTIN is stored as its 14-digit numeric value in an int64: the canonical
 * GTIN-14 form is the number left-padded with zeros, so numeric order equals
 * the order of the canonical text, and the check digit is unaffected by the
 * padding.
 */
typedef int64 Gtin;

#define GTIN_MAX INT64CONST(99999999999999)

#define DatumGetGtin(X)		((Gtin) DatumGetInt64(X))
#define GtinGetDatum(X)		Int64GetDatum((int64) (X))
#define PG_GETARG_GTIN(n)	DatumGetGtin(PG_GETARG_DATUM(n))
#define PG_RETURN_GTIN(x)	return GtinGetDatum(x)

extern int	GtinCheckDigit(Gtin body);

/* ---- catalog.c ---- */

extern double CatalogDistanceKm(double lat1, double lon1,
								double lat2, double lon2);

#endif							/* OMS_H */
