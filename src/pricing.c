/*-------------------------------------------------------------------------
 *
 * pricing.c
 *	  Price lists: which list prices a line (PricingResolve, for
 *	  place_order through src/order_pricing.c) and oms.price(), the same
 *	  answer for one product, for callers that show a price before the
 *	  order exists.
 *
 *	  The rule, in one query (PRICING_BEST): among the active lists of the
 *	  order's currency whose channel is the order's or NULL, whose
 *	  customer_flag is one of the customer's flags or NULL, and whose
 *	  validity [valid_from, valid_to) holds now, and that have a price row
 *	  for the product with min_qty <= qty: the highest priority wins; ties
 *	  go to the flag-scoped list (the customer's own price), then the
 *	  channel-scoped list, then the oldest list. Within the winning list the
 *	  greatest quantity break that the line reaches gives the price. A list
 *	  that does not price the product at all is passed over, so that a small
 *	  VIP list overrides the public list only where it has prices.
 *
 *	  Reads only: nothing here writes a table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "pricing.h"

/* the best list price of product $1 for $2 units: see the banner */
#define PRICING_BEST(product, qty) \
	"SELECT pr.unit_price, l.id, l.prices_include_tax, l.code, pr.min_qty " \
	"  FROM oms.price_lists l JOIN oms.prices pr ON pr.price_list_id OPERATOR(pg_catalog.=) l.id " \
	" WHERE pr.product_id OPERATOR(pg_catalog.=) " product \
	"   AND pr.min_qty OPERATOR(pg_catalog.<=) " qty \
	"   AND l.active AND l.currency OPERATOR(pg_catalog.=) $3 " \
	"   AND (l.channel_id IS NULL OR l.channel_id OPERATOR(pg_catalog.=) $4) " \
	"   AND (l.customer_flag IS NULL OR l.customer_flag OPERATOR(pg_catalog.=) ANY ($5)) " \
	"   AND (l.valid_from IS NULL OR l.valid_from OPERATOR(pg_catalog.<=) pg_catalog.now()) " \
	"   AND (l.valid_to IS NULL OR pg_catalog.now() OPERATOR(pg_catalog.<) l.valid_to) " \
	" ORDER BY l.priority DESC, l.customer_flag IS NOT NULL DESC, l.channel_id IS NOT NULL DESC, l.id, pr.min_qty DESC " \
	" LIMIT 1"

/*
 * Every line's best list price, one statement for the whole order. A line
 * no list prices keeps listed false; the caller decides what that means.
 */
void
PricingResolve(const PricingContext *ctx, PricingLine *lines, int n)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[5] = {INT8ARRAYOID, INT4ARRAYOID, TEXTOID, INT4OID, TEXTARRAYOID};
	Datum		values[5];
	int64	   *pids = palloc(sizeof(int64) * n);
	int32	   *qtys = palloc(sizeof(int32) * n);
	int			i;

	for (i = 0; i < n; i++)
	{
		pids[i] = lines[i].product_id;
		qtys[i] = lines[i].qty;
		lines[i].listed = false;
	}
	values[0] = PointerGetDatum(OmsInt8Array(pids, n));
	values[1] = PointerGetDatum(OmsInt4Array(qtys, n));
	values[2] = CStringGetTextDatum(ctx->currency);
	values[3] = Int32GetDatum(ctx->channel_id);
	values[4] = ctx->flags;
	OmsQuery(OmsPlan(&plan,
					 "SELECT u.n::pg_catalog.int4, x.unit_price, x.id, x.prices_include_tax "
					 "  FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) WITH ORDINALITY AS u(p, q, n) "
					 " CROSS JOIN LATERAL (" PRICING_BEST("u.p", "u.q") ") x",
					 5, types), values, NULL, 0);
	for (i = 0; i < (int) SPI_processed; i++)
	{
		PricingLine *l = &lines[OmsGetInt32(i, 1, NULL) - 1];

		l->listed = true;
		l->list_price = SPI_datumTransfer(OmsGetDatum(i, 2, NULL), false, -1);
		l->price_list_id = OmsGetInt64(i, 3, NULL);
		l->prices_include_tax = DatumGetBool(OmsGetDatum(i, 4, NULL));
	}
}

PG_FUNCTION_INFO_V1(oms_price);
/*
 * oms.price(sku, channel, currency, qty, customer): the unit price
 * place_order would give, and its list; every column NULL when no list
 * prices the product. Unknown sku, channel or customer: 22023.
 */
Datum
oms_price(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan_ctx = NULL;
	static SPIPlanPtr plan = NULL;
	Oid			types_ctx[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values_ctx[3];
	char		nulls_ctx[3] = "   ";
	Oid			types[5] = {INT8OID, INT4OID, TEXTOID, INT4OID, TEXTARRAYOID};
	Datum		values[5];
	char	   *sku = OmsIdentifierArg(fcinfo, 0, "sku", OMS_MAX_SKU_CHARS);
	char	   *channel = OmsIdentifierArg(fcinfo, 1, "channel", OMS_MAX_CODE_CHARS);
	char	   *currency = OmsIdentifierArg(fcinfo, 2, "currency", 3);
	char	   *customer = NULL;
	int32		qty;
	TupleDesc	desc;
	Datum		out[5];
	bool		outnull[5] = {true, true, true, true, true};
	bool		isnull;
	int			i;

	OmsRequireArg(fcinfo, 3, "qty");
	qty = PG_GETARG_INT32(3);
	if (!PG_ARGISNULL(4))
	{
		customer = text_to_cstring(PG_GETARG_TEXT_PP(4));
		OmsCheckIdentifier(customer, "customer", 200);
	}
	if (strlen(currency) != 3 || strspn(currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid currency \"%s\"", currency),
				 errdetail("A currency is three capital letters."),
				 errhint("Use an ISO 4217 code such as \"EUR\".")));
	if (qty < 1 || qty > 1000000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid qty %d", qty),
				 errdetail("qty must be between 1 and 1000000."),
				 errhint("Ask for the price of the units of one order line.")));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "oms.price: return type must be a row type");
	desc = BlessTupleDesc(desc);

	SPI_connect();
	values_ctx[0] = CStringGetTextDatum(sku);
	values_ctx[1] = CStringGetTextDatum(channel);
	values_ctx[2] = customer ? CStringGetTextDatum(customer) : (Datum) 0;
	nulls_ctx[2] = customer ? ' ' : 'n';
	OmsQuery(OmsPlan(&plan_ctx,
					 "SELECT (SELECT id FROM oms.products WHERE sku OPERATOR(pg_catalog.=) $1), "
					 "       (SELECT id FROM oms.channels WHERE code OPERATOR(pg_catalog.=) $2), "
					 "       (SELECT flags FROM oms.customers WHERE external_ref OPERATOR(pg_catalog.=) $3 AND erased_at IS NULL), "
					 "       $3 IS NULL",
					 3, types_ctx), values_ctx, nulls_ctx, 1);
	values[0] = OmsGetDatum(0, 1, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown sku \"%s\"", sku),
				 errdetail("No product in oms.products has the sku \"%s\".", sku),
				 errhint("Skus are case-sensitive.")));
	values[3] = OmsGetDatum(0, 2, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown channel \"%s\"", channel),
				 errdetail("No channel in oms.channels has the code \"%s\".", channel),
				 errhint("Channel codes are lowercase, for example \"web\".")));
	values[4] = OmsGetDatum(0, 3, &isnull);
	if (isnull)
	{
		if (!DatumGetBool(OmsGetDatum(0, 4, NULL)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown customer \"%s\"", customer),
					 errdetail("No customer in oms.customers has the external_ref \"%s\".", customer),
					 errhint("Pass the customer's external_ref, or NULL for a guest's price.")));
		values[4] = PointerGetDatum(construct_empty_array(TEXTOID));
	}
	values[1] = Int32GetDatum(qty);
	values[2] = CStringGetTextDatum(currency);
	OmsQuery(OmsPlan(&plan, PRICING_BEST("$1", "$2"), 5, types), values, NULL, 1);
	if (SPI_processed == 1)
	{
		out[0] = SPI_datumTransfer(OmsGetDatum(0, 1, NULL), false, -1);
		out[2] = Int64GetDatum(OmsGetInt64(0, 2, NULL));
		out[4] = OmsGetDatum(0, 3, NULL);
		out[1] = SPI_datumTransfer(OmsGetDatum(0, 4, NULL), false, -1);
		out[3] = Int32GetDatum(OmsGetInt32(0, 5, NULL));
		for (i = 0; i < 5; i++)
			outnull[i] = false;
	}
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, out, outnull)));
}
