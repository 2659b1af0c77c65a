/*-------------------------------------------------------------------------
 *
 * order_substitute.c
 *	  Substitutes: the products that may stand in for another when it is
 *	  out of stock (oms.product_substitutes, maintained by oms_admin), with
 *	  the units available of each.
 *
 *	  - OrdersSubstitutesText: the substitutes in stock for a short product,
 *	    as a phrase for OM001's errdetail (place_order, edit_order).
 *	  - OrdersTakeSubstitutes: placement's step for lines sent with
 *	    "substitute": "allow": a stock line whose product the active
 *	    locations cannot cover is switched to the best-ranked substitute
 *	    that can, at the line's price unless the line gives
 *	    "substitute_unit_price". The line records the product asked for
 *	    (order_lines.substituted_for).
 *	  - oms.product_substitutes_available(sku): the same list for callers.
 *
 *	  Availability here is read without locks (on_hand - reserved -
 *	  safety_stock over the active locations), as routing's plan is: it
 *	  decides which product to ask for, never what is reserved. The
 *	  guarded updates of routing reserve afterwards, and if a concurrent
 *	  order took the substitute's stock meanwhile, the order's policy
 *	  applies to it as to any short line. Other lines of the same order
 *	  asking for the substitute are not subtracted: the decision is per
 *	  line, and routing still reserves only what is there.
 *
 *	  Only stock products substitute and are substituted: a kit is a bundle
 *	  whose equivalent is a different bundle, which a merchant lists as a
 *	  product of its own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

#include "orders.h"

/* units a product has available over the active locations (unlocked read) */
#define SUBSTITUTE_AVAILABLE(pid) \
	"COALESCE((SELECT pg_catalog.sum(GREATEST(b.on_hand OPERATOR(pg_catalog.-) b.reserved OPERATOR(pg_catalog.-) b.safety_stock, 0)) " \
	"            FROM oms.stock_balances b JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) b.location_id AND l.active " \
	"           WHERE b.product_id OPERATOR(pg_catalog.=) " pid "), 0)::pg_catalog.int8"

/*
 * The substitutes of product_id (active stock products), best first, with
 * what they have available: columns sku, rank, available, reason, id.
 */
static int
SubstitutesOf(int64 product_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(product_id)};

	OmsQuery(OmsPlan(&plan,
					 "SELECT p.sku, s.rank, " SUBSTITUTE_AVAILABLE("p.id") ", s.reason, p.id "
					 "  FROM oms.product_substitutes s "
					 "  JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) s.substitute_id "
					 "       AND p.active AND p.kind OPERATOR(pg_catalog.=) 'stock' "
					 " WHERE s.product_id OPERATOR(pg_catalog.=) $1 "
					 " ORDER BY s.rank, p.sku",
					 1, types), values, NULL, 0);
	return (int) SPI_processed;
}

/*
 * The substitutes of product_id that have stock, as "B-1 (12 available),
 * C-2 (3 available)"; NULL when none has any.
 */
char *
OrdersSubstitutesText(int64 product_id)
{
	StringInfoData out;
	int			n = SubstitutesOf(product_id);
	int			i;

	initStringInfo(&out);
	for (i = 0; i < n; i++)
	{
		int64		avail = OmsGetInt64(i, 3, NULL);

		if (avail <= 0)
			continue;
		appendStringInfo(&out, "%s%s (" INT64_FORMAT " available)", out.len ? ", " : "",
						 SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1), avail);
	}
	return out.len ? out.data : NULL;
}

/* units of product_id available over the active locations */
static int64
SubstituteAvailable(int64 product_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(product_id)};

	OmsQuery(OmsPlan(&plan, "SELECT " SUBSTITUTE_AVAILABLE("$1"), 1, types), values, NULL, 1);
	return OmsGetInt64(0, 1, NULL);
}

/*
 * The best-ranked substitute of product_id with at least qty units
 * available: true with its id and sku, false when none has them.
 */
bool
OrdersBestSubstitute(int64 product_id, int32 qty, int64 *sub_id, char **sub_sku)
{
	int			n = SubstitutesOf(product_id);
	int			i;

	for (i = 0; i < n; i++)
		if (OmsGetInt64(i, 3, NULL) >= qty)
		{
			*sub_id = OmsGetInt64(i, 5, NULL);
			*sub_sku = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
			return true;
		}
	return false;
}

/* Is sub_id listed as a substitute of product_id? */
bool
OrdersIsSubstitute(int64 product_id, int64 sub_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(product_id), Int64GetDatum(sub_id)};

	OmsQuery(OmsPlan(&plan,
					 "SELECT FROM oms.product_substitutes WHERE product_id OPERATOR(pg_catalog.=) $1 "
					 "   AND substitute_id OPERATOR(pg_catalog.=) $2",
					 2, types), values, NULL, 1);
	return SPI_processed == 1;
}

/*
 * Placement's substitution step (see the banner), after the products are
 * resolved and before any stock is planned: each line with
 * "substitute": "allow" whose stock product the active locations cannot
 * cover is switched to its best substitute that can. prices: the lines'
 * unit prices, replaced by substitute_unit_price where the line gives one.
 */
void
OrdersTakeSubstitutes(OrderWork *w, PoPrice *prices)
{
	int			i;

	for (i = 0; i < w->nlines; i++)
	{
		OrderLine  *l = &w->lines[i];
		int64		sub_id;
		char	   *sub_sku;

		if (!l->substitute_allowed || l->product.kind != OMS_KIND_STOCK)
			continue;
		if (SubstituteAvailable(l->product.id) >= l->qty)
			continue;
		if (!OrdersBestSubstitute(l->product.id, l->qty, &sub_id, &sub_sku))
			continue;
		l->substituted_for = l->product.id;
		l->substituted_for_sku = l->sku;
		l->product.id = sub_id;
		l->sku = sub_sku;
		if (l->substitute_price != (Datum) 0)
		{
			Datum		gross = DirectFunctionCall2(numeric_mul, l->substitute_price,
													DirectFunctionCall1(int4_numeric, Int32GetDatum(l->qty)));
			Datum		rounded;

			if (!OmsMoneyRound(gross, false, &rounded))
				JsonInvalid(psprintf("lines[%d].substitute_unit_price", i),
							psprintf("Line %d would cost %s at its substitute's price; a line amount is below 1000000000000.",
									 l->line_no, OmsNumericText(gross)),
							"Lower the price or the quantity.");
			if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, prices[i].discount, gross)) > 0)
				JsonInvalid(psprintf("lines[%d].substitute_unit_price", i),
							psprintf("Line %d's discount %s exceeds its amount %s at the substitute's price.", l->line_no,
									 DatumGetCString(DirectFunctionCall1(numeric_out, prices[i].discount)),
									 DatumGetCString(DirectFunctionCall1(numeric_out, gross))),
							"Lower the discount, or give the substitute a higher price.");
			prices[i].unit_price = l->substitute_price;
		}
	}
}

PG_FUNCTION_INFO_V1(product_substitutes_available);
/*
 * oms.product_substitutes_available(sku): the product's substitutes, best
 * first, with their available units.
 */
Datum
product_substitutes_available(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *sku = text_to_cstring(PG_GETARG_TEXT_PP(0));
	OmsProduct	p;
	int			n,
				i;

	InitMaterializedSRF(fcinfo, 0);
	OmsCheckIdentifier(sku, "sku", OMS_MAX_SKU_CHARS);
	SPI_connect();
	if (!OmsLookupProduct(sku, &p))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown sku \"%s\"", sku),
				 errdetail("No product in oms.products has the sku \"%s\".", sku),
				 errhint("Skus are case-sensitive.")));
	n = SubstitutesOf(p.id);
	for (i = 0; i < n; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = CStringGetTextDatum(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		values[1] = Int32GetDatum(OmsGetInt32(i, 2, NULL));
		values[2] = Int64GetDatum(OmsGetInt64(i, 3, NULL));
		values[3] = OmsGetDatum(i, 4, &nulls[3]);
		if (!nulls[3])
			values[3] = CStringGetTextDatum(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 4));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}
