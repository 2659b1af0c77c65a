/*-------------------------------------------------------------------------
 *
 * order_pricing.c
 *	  Price authority in place_order: what the pricing subsystem
 *	  (src/pricing.h) decides, applied to an order being placed.
 *
 *	  OrdersPricingApply runs once the lines' products (and substitutes)
 *	  are known, before any stock is reserved:
 *	   1. The channel's price_check and the customer's flags.
 *	   2. A line without unit_price is priced from the price lists
 *	      (src/pricing.c); none prices it: 22023 naming the line. A line
 *	      with a unit_price keeps it; under price_check strict it is
 *	      refused (22023 naming the line, the list price in the detail)
 *	      when a list prices the product differently. A strict channel
 *	      with no list price for the product accepts the given price:
 *	      there is nothing to differ from.
 *	   3. Promotions and codes (src/promotions.c): automatic promotions in
 *	      scope and the document's codes, the codes' uses taken with
 *	      guarded updates (src/promotion_codes.c). A discount the document
 *	      gives a line stays, and promotions come on top of it.
 *	   4. The order's amounts again (PoAmounts), the codes it was placed
 *	      with (oms.order_codes) and its source_code. The order row's
 *	      totals are then rewritten from the lines (PoOwedTotals,
 *	      o->repriced).
 *	  OrdersPricingBook runs after the lines are written: each line's
 *	  price list, and the promotions applied per line (oms.order_promotions).
 *	  OrdersPricingDocument adds the outcome to place_order's answer.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "orders.h"
#include "pricing.h"

/* what OrdersPricingApply decided, for OrdersPricingBook and the answer */
typedef struct OrderPricing
{
	PricingLine *lines;
	PromoOutcome promo;
	bool		any_listed;
} OrderPricing;

static char *
OpNumeric(Datum n)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, n));
}

/* Steps 1 and 2: the context, and every line's price. */
static void
OpPriceLines(PoOrder *o, PricingContext *ctx, OrderPricing *op)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT4OID, INT8OID};
	Datum		values[2] = {Int32GetDatum(o->work.route.channel_id), Int64GetDatum(ctx->customer_id)};
	bool		strict;
	bool		resolve;
	int			i;

	OmsQuery(OmsPlan(&plan,
					 "SELECT c.price_check OPERATOR(pg_catalog.=) 'strict', "
					 "       COALESCE((SELECT flags FROM oms.customers WHERE id OPERATOR(pg_catalog.=) $2), '{}') "
					 "  FROM oms.channels c WHERE c.id OPERATOR(pg_catalog.=) $1",
					 2, types), values, NULL, 1);
	strict = DatumGetBool(OmsGetDatum(0, 1, NULL));
	ctx->flags = SPI_datumTransfer(OmsGetDatum(0, 2, NULL), false, -1);

	op->lines = palloc0(sizeof(PricingLine) * o->work.nlines);
	resolve = strict;
	for (i = 0; i < o->work.nlines; i++)
	{
		PricingLine *pl = &op->lines[i];
		OrderLine  *l = &o->work.lines[i];

		pl->line_no = l->line_no;
		pl->sku = l->sku;
		pl->product_id = l->product.id;
		pl->qty = l->qty;
		/* a substitute's own price, when the line gives one, is given too */
		pl->given = o->prices[i].given || (l->substituted_for != 0 && l->substitute_price != (Datum) 0);
		pl->unit_price = o->prices[i].unit_price;
		pl->discount = o->prices[i].discount;
		if (!pl->given)
			resolve = true;
	}
	if (!resolve)
		return;
	PricingResolve(ctx, op->lines, o->work.nlines);
	for (i = 0; i < o->work.nlines; i++)
	{
		PricingLine *pl = &op->lines[i];
		Datum		gross;

		if (!pl->given)
		{
			if (!pl->listed)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid order: no price for line %d", pl->line_no),
						 errdetail("Line %d (%s) has no unit_price, and no active price list of channel \"%s\" prices it in %s for %d units%s.",
								   pl->line_no, pl->sku, o->work.channel, ctx->currency, pl->qty,
								   ctx->customer_id ? " for this customer" : ""),
						 errhint("Send the line's unit_price, or add the product to a price list (oms.prices).")));
			pl->unit_price = pl->list_price;
			/* a list price is gross or net as its list says: the tax step reads it (src/order_charges.c) */
			o->prices[i].includes_tax = pl->prices_include_tax ? 1 : 0;
			o->repriced = true;
			op->any_listed = true;
			gross = DirectFunctionCall2(numeric_mul, pl->unit_price, DirectFunctionCall1(int4_numeric, Int32GetDatum(pl->qty)));
			if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, pl->discount, gross)) > 0)
				JsonInvalid(psprintf("lines[%d].discount", i),
							psprintf("lines[%d].discount %s exceeds the line amount %s at the list price.", i,
									 OpNumeric(pl->discount), OpNumeric(gross)),
							"The discount is for the whole line, not per unit.");
		}
		else if (strict && pl->listed &&
				 DatumGetInt32(DirectFunctionCall2(numeric_cmp, pl->unit_price, pl->list_price)) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid order: line %d's unit_price differs from the price list", pl->line_no),
					 errdetail("Line %d (%s) gives unit_price %s; the price list's is %s.", pl->line_no, pl->sku,
							   OpNumeric(pl->unit_price), OpNumeric(pl->list_price)),
					 errhint("Channel \"%s\" checks prices (price_check strict): send the list price, or leave unit_price out.",
							 o->work.channel)));
	}
}

/* Step 4: the codes the order was placed with, and its source code. */
static void
OpRecordCodes(PoOrder *o, const PricingContext *ctx, OrderPricing *op)
{
	static SPIPlanPtr plan_codes = NULL;
	static SPIPlanPtr plan_source = NULL;
	Oid			types[7] = {INT8OID, TEXTARRAYOID, INT8ARRAYOID, BOOLARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID};
	Datum		values[7];
	int			i;

	if (o->ncodes > 0)
	{
		Datum	   *code = palloc(sizeof(Datum) * o->ncodes);
		int64	   *code_id = palloc(sizeof(int64) * o->ncodes);
		Datum	   *applied = palloc(sizeof(Datum) * o->ncodes);
		Datum	   *refusal = palloc(sizeof(Datum) * o->ncodes);
		Datum	   *state = palloc(sizeof(Datum) * o->ncodes);
		int64	   *cust = palloc(sizeof(int64) * o->ncodes);

		for (i = 0; i < o->ncodes; i++)
		{
			PromoCode  *c = &op->promo.codes[i];

			code[i] = CStringGetTextDatum(c->code);
			code_id[i] = c->code_id;
			applied[i] = BoolGetDatum(c->applied);
			refusal[i] = CStringGetTextDatum(c->applied ? "" : c->refusal);
			state[i] = CStringGetTextDatum(c->applied ? "" : c->sqlstate);
			cust[i] = c->applied && c->per_customer_limit ? ctx->customer_id : 0;
		}
		values[0] = Int64GetDatum(o->work.order_id);
		values[1] = PointerGetDatum(construct_array(code, o->ncodes, TEXTOID, -1, false, TYPALIGN_INT));
		values[2] = PointerGetDatum(OmsInt8Array(code_id, o->ncodes));
		values[3] = PointerGetDatum(construct_array(applied, o->ncodes, BOOLOID, 1, true, TYPALIGN_CHAR));
		values[4] = PointerGetDatum(construct_array(refusal, o->ncodes, TEXTOID, -1, false, TYPALIGN_INT));
		values[5] = PointerGetDatum(construct_array(state, o->ncodes, TEXTOID, -1, false, TYPALIGN_INT));
		values[6] = PointerGetDatum(OmsInt8Array(cust, o->ncodes));
		OmsExec(OmsPlan(&plan_codes,
						"INSERT INTO oms.order_codes (order_id, code, code_id, customer_id, applied, refusal, sqlstate) "
						"SELECT $1, c, NULLIF(k, 0), NULLIF(u, 0), a, NULLIF(r, ''), NULLIF(s, '') "
						"  FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), "
						"       pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7)) AS x(c, k, a, r, s, u)",
						7, types), values, NULL, 0);
	}
	if (o->source_code)
	{
		values[0] = Int64GetDatum(o->work.order_id);
		values[1] = CStringGetTextDatum(o->source_code);
		types[1] = TEXTOID;
		OmsExec(OmsPlan(&plan_source,
						"UPDATE oms.orders SET source_code = $2 WHERE id OPERATOR(pg_catalog.=) $1",
						2, types), values, NULL, 1);
	}
}

/*
 * Price the order's lines, check given prices, apply promotions and codes
 * (banner, steps 1 to 4). customer_id 0: a guest.
 */
void
OrdersPricingApply(PoOrder *o, int64 customer_id)
{
	OrderPricing *op = palloc0(sizeof(OrderPricing));
	PricingContext ctx;
	PromoCode  *codes = palloc0(sizeof(PromoCode) * (o->ncodes + 1));
	int			i;

	o->pricing = op;
	ctx.channel_id = o->work.route.channel_id;
	ctx.currency = o->currency;
	ctx.customer_id = customer_id;
	OpPriceLines(o, &ctx, op);
	for (i = 0; i < o->ncodes; i++)
		codes[i].code = o->codes[i];
	PromotionsApply(&ctx, op->lines, o->work.nlines, codes, o->ncodes, o->codes_required, &op->promo);
	for (i = 0; i < op->promo.napplied; i++)
		if (op->promo.applied[i].line >= 0)
			o->repriced = true;
	for (i = 0; i < o->work.nlines; i++)
	{
		o->prices[i].unit_price = op->lines[i].unit_price;
		o->prices[i].discount = op->lines[i].discount;
	}
	if (o->repriced)
		PoAmounts(o);
	/* a free-shipping promotion waives the shipping charge (src/order_charges.c) */
	o->shipping.free_shipping = PricingFreeShipping(&op->promo);
	OpRecordCodes(o, &ctx, op);
}

/*
 * After the lines are written (their ids known): the price list of each
 * list-priced line, and one oms.order_promotions row per discount given
 * (and one for free shipping).
 */
void
OrdersPricingBook(PoOrder *o)
{
	static SPIPlanPtr plan_lists = NULL;
	static SPIPlanPtr plan_promos = NULL;
	OrderPricing *op = o->pricing;
	Oid			types[6] = {INT8OID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, NUMERICARRAYOID, INT8ARRAYOID};
	Datum		values[6];
	int			i,
				n;

	if (op == NULL)
		return;
	values[0] = Int64GetDatum(o->work.order_id);
	if (op->any_listed)
	{
		int64	   *ids = palloc(sizeof(int64) * o->work.nlines);
		int64	   *lists = palloc(sizeof(int64) * o->work.nlines);

		for (i = n = 0; i < o->work.nlines; i++)
			if (!op->lines[i].given)
			{
				ids[n] = o->work.lines[i].id;
				lists[n++] = op->lines[i].price_list_id;
			}
		values[1] = PointerGetDatum(OmsInt8Array(ids, n));
		values[2] = PointerGetDatum(OmsInt8Array(lists, n));
		OmsExec(OmsPlan(&plan_lists,
						"UPDATE oms.order_lines l SET price_source = 'list', price_list_id = u.list "
						"  FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3)) AS u(id, list) "
						" WHERE l.id OPERATOR(pg_catalog.=) u.id AND l.order_id OPERATOR(pg_catalog.=) $1",
						3, types), values, NULL, 0);
	}
	if (op->promo.napplied > 0)
	{
		int			m = op->promo.napplied;
		int64	   *line = palloc(sizeof(int64) * m);
		int64	   *promo = palloc(sizeof(int64) * m);
		Datum	   *amount = palloc(sizeof(Datum) * m);
		int64	   *code = palloc(sizeof(int64) * m);

		for (i = 0; i < m; i++)
		{
			PromoApplied *a = &op->promo.applied[i];

			line[i] = a->line >= 0 ? o->work.lines[a->line].id : 0;
			promo[i] = a->promotion_id;
			amount[i] = a->amount;
			code[i] = a->code_id;
		}
		values[1] = PointerGetDatum(OmsInt8Array(line, m));
		values[2] = PointerGetDatum(OmsInt8Array(promo, m));
		values[3] = PointerGetDatum(OmsInt8Array(code, m));
		values[4] = PointerGetDatum(construct_array(amount, m, NUMERICOID, -1, false, TYPALIGN_INT));
		OmsExec(OmsPlan(&plan_promos,
						"INSERT INTO oms.order_promotions (order_id, order_line_id, promotion_id, code_id, amount, free_shipping) "
						"SELECT $1, NULLIF(l, 0), p, NULLIF(c, 0), a, l OPERATOR(pg_catalog.=) 0 "
						"  FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), "
						"       pg_catalog.unnest($5)) AS x(l, p, c, a)",
						5, types), values, NULL, 0);
	}
}

/*
 * An edit changes a line's units (src/order_edit_apply.c): what the
 * promotions gave the line is scaled by qty / old_qty, rounded to cents, so
 * that each remaining unit keeps the discount it had (a percentage stays
 * the same percentage); a discount the caller gave stays as it was, as for
 * any edited line. Promotions are not evaluated again: an edit is not a
 * new order, and the customer keeps what was granted at placement. The
 * line's discount never exceeds its amount.
 */
Datum
OrdersPricingRescale(int64 line_id, int32 old_qty, int32 qty, Datum unit_price, Datum discount)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {INT8OID, INT4OID, INT4OID};
	Datum		values[3] = {Int64GetDatum(line_id), Int32GetDatum(old_qty), Int32GetDatum(qty)};
	Datum		gross;

	if (old_qty <= 0)
		return discount;
	OmsQuery(OmsPlan(&plan,
					 "WITH b AS (SELECT COALESCE(pg_catalog.sum(amount), 0) AS s FROM oms.order_promotions "
					 "            WHERE order_line_id OPERATOR(pg_catalog.=) $1), "
					 "     u AS (UPDATE oms.order_promotions "
					 "              SET amount = pg_catalog.round(amount OPERATOR(pg_catalog.*) $3 OPERATOR(pg_catalog./) $2, 2) "
					 "            WHERE order_line_id OPERATOR(pg_catalog.=) $1 RETURNING amount) "
					 "SELECT b.s, (SELECT COALESCE(pg_catalog.sum(amount), 0) FROM u) FROM b",
					 3, types), values, NULL, 1);
	discount = DirectFunctionCall2(numeric_add,
								   DirectFunctionCall2(numeric_sub, discount, OmsGetDatum(0, 1, NULL)),
								   OmsGetDatum(0, 2, NULL));
	gross = DirectFunctionCall2(numeric_mul, unit_price, DirectFunctionCall1(int4_numeric, Int32GetDatum(qty)));
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, discount, gross)) > 0)
		discount = gross;
	return SPI_datumTransfer(discount, false, -1);
}

/*
 * The document place_order built in memory, with the pricing outcome
 * (ORDERS_PRICING_SQL) when the order has one, as the document query adds
 * it (ORDERS_HAS_PRICING_SQL); decided from what the call holds.
 */
Datum
OrdersPricingDocument(Datum doc, PoOrder *o)
{
	static SPIPlanPtr plan = NULL;
	OrderPricing *op = o->pricing;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(o->work.order_id)};
	StringInfoData s;

	if (op == NULL || (!o->repriced && o->ncodes == 0 && o->source_code == NULL && op->promo.napplied == 0))
		return doc;
	OmsQuery(OmsPlan(&plan,
					 "SELECT " ORDERS_PRICING_SQL
					 "  FROM oms.orders o WHERE o.id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	initStringInfo(&s);
	appendStringInfoString(&s, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	/* out of SPI memory, as the document it extends */
	return SPI_datumTransfer(DirectFunctionCall2(jsonb_concat, doc, DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data))),
							 false, -1);
}
