/*-------------------------------------------------------------------------
 *
 * promotions.c
 *	  Which promotions apply to an order and what each gives
 *	  (PromotionsApply), for place_order through src/order_pricing.c.
 *
 *	  Promotions are data (oms.promotions): a kind (percent_off,
 *	  amount_off, buy_x_get_y, free_shipping), a target (the whole order,
 *	  or the lines of one product or one category), a minimum subtotal, a
 *	  scope (channel, customer flag, currency, dates), whether it combines
 *	  with others, and a priority. Automatic promotions apply to every
 *	  order in scope; the others only through a code (oms.promotion_codes).
 *
 *	  PromotionsApply, step by step
 *	  -----------------------------
 *	   1. PromoLoad: the automatic promotions in scope and live now, and
 *	      the document's codes with their promotion. A code is refused
 *	      when unknown (OM010), when it, or its promotion, is inactive or
 *	      outside its dates (OM011, "expired"), or when the order is out
 *	      of its scope: channel, currency, customer flag, or a guest using
 *	      a code with a per-customer limit (OM015, "not eligible").
 *	   2. PromoSelect: the candidates by priority (higher first; a code
 *	      before an automatic promotion of the same priority; then id).
 *	      One whose minimum subtotal the order does not reach is refused
 *	      (OM014); one whose target matches no line is not eligible
 *	      (OM015); an exclusive one (combinable false) applies only as the
 *	      first, and then alone: every later one, and an exclusive one
 *	      after others, is refused as not combinable (OM013). Automatic
 *	      promotions that do not apply are passed over silently. Two codes
 *	      of one promotion: the second is not combinable.
 *	   3. PromoTakeCodes: the uses of the selected codes, ascending code id
 *	      (src/promotion_codes.c: guarded updates). A code whose limit is
 *	      reached is refused (OM012, "exhausted"): the uses taken in this
 *	      round are given back and the selection runs again without it,
 *	      because an exclusive code that is gone may let others apply.
 *	   4. PromoCompute: the discounts, in the selection's order, each on
 *	      what the lines still cost after the discounts before it, so that
 *	      stacked promotions never take a line below zero. Amounts are
 *	      rounded to cents (2 decimals):
 *	      - percent_off: that percentage of each matching line;
 *	      - amount_off on the order: the amount spread over the lines in
 *	        proportion to what they cost, the rounding rest on the last;
 *	        on a product or category: the amount off each matching unit;
 *	      - buy_x_get_y: of the matching units, get_qty of every buy_qty +
 *	        get_qty are discounted by value percent, the cheapest first;
 *	      - free_shipping: no line discount; recorded, and told by
 *	        PricingFreeShipping.
 *	      A discount is the line's: refunds then give back, per unit, what
 *	      was paid for it after discount (src/returns.c).
 *
 *	  With codes_required (the default), the first refused code raises its
 *	  SQLSTATE and the order is not placed; otherwise the refusals are
 *	  reported and the order is placed without those codes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

#include "pricing.h"

/* refusals raise OM010 (unknown) to OM015 (not eligible): see the banner */

/* a promotion that may apply: automatic, or brought by a code */
typedef struct Promo
{
	int64		id;
	char	   *kind;
	int64		product_id;		/* 0: none */
	char	   *category;		/* NULL: none */
	Datum		value;			/* numeric, or 0 */
	int32		buy_qty;
	int32		get_qty;
	Datum		min_subtotal;	/* numeric, or 0: none */
	bool		combinable;
	int32		priority;
	int			code;			/* index into the codes, -1: automatic */
	bool		selected;
	bool		dropped;		/* its code was refused: out of the running */
} Promo;

typedef struct PromoState
{
	const PricingContext *ctx;
	PricingLine *lines;
	int			nlines;
	PromoCode  *codes;
	int			ncodes;
	Promo	   *promos;
	int			npromos;
	/* (product, category) of the order's products */
	int64	   *cat_product;
	char	  **cat_name;
	int			ncats;
	Datum		subtotal;		/* numeric: the lines at their prices */
} PromoState;

/* ---- numeric helpers ---- */

static inline Datum
N(int64 v)
{
	return DirectFunctionCall1(int8_numeric, Int64GetDatum(v));
}

static inline Datum
Nadd(Datum a, Datum b)
{
	return DirectFunctionCall2(numeric_add, a, b);
}

static inline Datum
Nsub(Datum a, Datum b)
{
	return DirectFunctionCall2(numeric_sub, a, b);
}

static inline Datum
Nmul(Datum a, Datum b)
{
	return DirectFunctionCall2(numeric_mul, a, b);
}

static inline Datum
Ndiv(Datum a, Datum b)
{
	return DirectFunctionCall2(numeric_div, a, b);
}

static inline Datum
Ncents(Datum a)
{
	return DirectFunctionCall2(numeric_round, a, Int32GetDatum(2));
}

static inline int
Ncmp(Datum a, Datum b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, a, b));
}

static inline Datum
Nmin(Datum a, Datum b)
{
	return Ncmp(a, b) <= 0 ? a : b;
}

static inline char *
Ntext(Datum a)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, a));
}

/* ---- step 1: load ---- */

/* the promotion columns every load selects, from p */
#define PROMO_COLUMNS \
	"p.id, p.kind, COALESCE(p.product_id, 0), p.category, p.value, COALESCE(p.buy_qty, 0), " \
	"COALESCE(p.get_qty, 0), p.min_subtotal, p.combinable, p.priority"
#define PROMO_LIVE(p) \
	"(" p ".active AND (" p ".valid_from IS NULL OR " p ".valid_from OPERATOR(pg_catalog.<=) pg_catalog.now()) " \
	" AND (" p ".valid_to IS NULL OR pg_catalog.now() OPERATOR(pg_catalog.<) " p ".valid_to))"
#define PROMO_IN_SCOPE(p) \
	"((" p ".channel_id IS NULL OR " p ".channel_id OPERATOR(pg_catalog.=) $1) " \
	" AND (" p ".currency IS NULL OR " p ".currency OPERATOR(pg_catalog.=) $2) " \
	" AND (" p ".customer_flag IS NULL OR " p ".customer_flag OPERATOR(pg_catalog.=) ANY ($3)))"

/* the promotion columns of SPI row i, from column c */
static void
PromoFromRow(Promo *p, int i, int c)
{
	bool		isnull;

	memset(p, 0, sizeof(*p));
	p->id = OmsGetInt64(i, c, NULL);
	p->kind = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, c + 1);
	p->product_id = OmsGetInt64(i, c + 2, NULL);
	p->category = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, c + 3);
	p->value = OmsGetDatum(i, c + 4, &isnull);
	p->value = isnull ? (Datum) 0 : SPI_datumTransfer(p->value, false, -1);
	p->buy_qty = OmsGetInt32(i, c + 5, NULL);
	p->get_qty = OmsGetInt32(i, c + 6, NULL);
	p->min_subtotal = OmsGetDatum(i, c + 7, &isnull);
	p->min_subtotal = isnull ? (Datum) 0 : SPI_datumTransfer(p->min_subtotal, false, -1);
	p->combinable = DatumGetBool(OmsGetDatum(i, c + 8, NULL));
	p->priority = OmsGetInt32(i, c + 9, NULL);
	p->code = -1;
}

static void
PromoRefuse(PromoCode *c, const char *refusal, const char *sqlstate, char *detail)
{
	c->applied = false;
	c->refusal = refusal;
	c->sqlstate = sqlstate;
	c->detail = detail;
}

static void
PromoLoad(PromoState *s)
{
	static SPIPlanPtr plan_auto = NULL;
	static SPIPlanPtr plan_codes = NULL;
	static SPIPlanPtr plan_cats = NULL;
	Oid			types[4] = {INT4OID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID};
	Oid			types_cats[1] = {INT8ARRAYOID};
	Datum		values[4];
	int			nauto,
				i;
	int64	   *pids;

	values[0] = Int32GetDatum(s->ctx->channel_id);
	values[1] = CStringGetTextDatum(s->ctx->currency);
	values[2] = s->ctx->flags;
	OmsQuery(OmsPlan(&plan_auto,
					 "SELECT " PROMO_COLUMNS " FROM oms.promotions p "
					 " WHERE p.automatic AND " PROMO_LIVE("p") " AND " PROMO_IN_SCOPE("p"),
					 3, types), values, NULL, 0);
	nauto = (int) SPI_processed;
	s->promos = palloc0(sizeof(Promo) * (nauto + s->ncodes + 1));
	for (i = 0; i < nauto; i++)
		PromoFromRow(&s->promos[s->npromos++], i, 1);

	if (s->ncodes > 0)
	{
		Datum	   *c = palloc(sizeof(Datum) * s->ncodes);

		for (i = 0; i < s->ncodes; i++)
		{
			c[i] = CStringGetTextDatum(s->codes[i].code);
			s->codes[i].code_id = 0;
			PromoRefuse(&s->codes[i], "unknown", "OM010",
						psprintf("No promotion code \"%s\" exists.", s->codes[i].code));
		}
		values[3] = PointerGetDatum(construct_array(c, s->ncodes, TEXTOID, -1, false, TYPALIGN_INT));
		OmsQuery(OmsPlan(&plan_codes,
						 "SELECT u.n::pg_catalog.int4, k.id, " PROMO_LIVE("p") " AND k.active, " PROMO_IN_SCOPE("p") ", "
						 "       k.per_customer_limit IS NOT NULL, " PROMO_COLUMNS
						 "  FROM pg_catalog.unnest($4) WITH ORDINALITY AS u(code, n) "
						 "  JOIN oms.promotion_codes k ON k.code OPERATOR(pg_catalog.=) u.code "
						 "  JOIN oms.promotions p ON p.id OPERATOR(pg_catalog.=) k.promotion_id",
						 4, types), values, NULL, 0);
		for (i = 0; i < (int) SPI_processed; i++)
		{
			int			n = OmsGetInt32(i, 1, NULL) - 1;
			PromoCode  *pc = &s->codes[n];

			pc->code_id = OmsGetInt64(i, 2, NULL);
			pc->per_customer_limit = DatumGetBool(OmsGetDatum(i, 5, NULL));
			if (!DatumGetBool(OmsGetDatum(i, 3, NULL)))
				PromoRefuse(pc, "expired", "OM011",
							psprintf("Promotion code \"%s\" is inactive or outside its promotion's dates.", pc->code));
			else if (!DatumGetBool(OmsGetDatum(i, 4, NULL)))
				PromoRefuse(pc, "not eligible", "OM015",
							psprintf("Promotion code \"%s\" is not valid for this order's channel, currency or customer.", pc->code));
			else if (pc->per_customer_limit && s->ctx->customer_id == 0)
				PromoRefuse(pc, "not eligible", "OM015",
							psprintf("Promotion code \"%s\" is limited per customer, and the order names no customer.", pc->code));
			else
			{
				Promo	   *p = &s->promos[s->npromos++];

				PromoFromRow(p, i, 6);
				p->code = n;
				pc->refusal = NULL;
			}
		}
	}

	/* the categories of the order's products, for category targets */
	pids = palloc(sizeof(int64) * s->nlines);
	for (i = 0; i < s->nlines; i++)
		pids[i] = s->lines[i].product_id;
	values[0] = PointerGetDatum(OmsInt8Array(pids, s->nlines));
	for (i = 0; i < s->npromos; i++)
		if (s->promos[i].category)
			break;
	if (i < s->npromos)
	{
		OmsQuery(OmsPlan(&plan_cats,
						 "SELECT product_id, category FROM oms.product_categories WHERE product_id OPERATOR(pg_catalog.=) ANY ($1)",
						 1, types_cats), values, NULL, 0);
		s->ncats = (int) SPI_processed;
		s->cat_product = palloc(sizeof(int64) * (s->ncats + 1));
		s->cat_name = palloc(sizeof(char *) * (s->ncats + 1));
		for (i = 0; i < s->ncats; i++)
		{
			s->cat_product[i] = OmsGetInt64(i, 1, NULL);
			s->cat_name[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		}
	}
}

/* ---- step 2: select ---- */

/* does the promotion's target take line i? (no target: every line) */
static bool
PromoMatches(PromoState *s, Promo *p, int i)
{
	int			j;

	if (p->product_id != 0)
		return s->lines[i].product_id == p->product_id;
	if (p->category == NULL)
		return true;
	for (j = 0; j < s->ncats; j++)
		if (s->cat_product[j] == s->lines[i].product_id && strcmp(s->cat_name[j], p->category) == 0)
			return true;
	return false;
}

/* higher priority first; a code before an automatic one; then id */
static int
PromoCompare(const void *a, const void *b)
{
	const Promo *x = a;
	const Promo *y = b;

	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	if ((x->code >= 0) != (y->code >= 0))
		return x->code >= 0 ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id ? 1 : 0;
}

/* a candidate does not apply: a code is refused, an automatic one passed over */
static void
PromoNotApplied(PromoState *s, Promo *p, const char *refusal, const char *sqlstate, char *detail)
{
	p->selected = false;
	if (p->code >= 0)
		PromoRefuse(&s->codes[p->code], refusal, sqlstate, detail);
}

static void
PromoSelect(PromoState *s)
{
	bool		exclusive = false;
	int			nselected = 0;
	int			i,
				j;

	for (i = 0; i < s->npromos; i++)
	{
		Promo	   *p = &s->promos[i];
		const char *code = p->code >= 0 ? s->codes[p->code].code : NULL;
		bool		any = false;

		if (p->dropped)
			continue;
		p->selected = false;
		for (j = 0; j < i; j++)
			if (s->promos[j].selected && s->promos[j].id == p->id)
				break;
		if (j < i)
		{
			PromoNotApplied(s, p, "not combinable", "OM013",
							psprintf("Promotion code \"%s\" brings a promotion the order already has.", code ? code : ""));
			continue;
		}
		if (p->min_subtotal != (Datum) 0 && Ncmp(s->subtotal, p->min_subtotal) < 0)
		{
			PromoNotApplied(s, p, "minimum not met", "OM014",
							psprintf("Promotion code \"%s\" needs a subtotal of at least %s; the order's is %s.",
									 code ? code : "", Ntext(p->min_subtotal), Ntext(s->subtotal)));
			continue;
		}
		for (j = 0; j < s->nlines; j++)
			if (PromoMatches(s, p, j))
				any = true;
		if (!any)
		{
			PromoNotApplied(s, p, "not eligible", "OM015",
							psprintf("Promotion code \"%s\" applies to %s%s, and the order has none.", code ? code : "",
									 p->category ? "products of category " : "another product",
									 p->category ? p->category : ""));
			continue;
		}
		if (exclusive || (!p->combinable && nselected > 0))
		{
			PromoNotApplied(s, p, "not combinable", "OM013",
							psprintf("Promotion code \"%s\" cannot be combined with the order's other promotions.", code ? code : ""));
			continue;
		}
		p->selected = true;
		nselected++;
		if (!p->combinable)
			exclusive = true;
		if (p->code >= 0)
		{
			s->codes[p->code].applied = true;
			s->codes[p->code].refusal = NULL;
		}
	}
}

/* ---- step 3: take the codes' uses ---- */

/* Take the selected codes' uses; false when one is exhausted (dropped). */
static bool
PromoTakeCodes(PromoState *s)
{
	int		   *order = palloc(sizeof(int) * (s->npromos + 1));
	int			n = 0,
				i,
				j;

	for (i = 0; i < s->npromos; i++)
		if (s->promos[i].selected && s->promos[i].code >= 0)
			order[n++] = i;
	/* insertion sort by code id: a handful of codes */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && s->codes[s->promos[order[j - 1]].code].code_id > s->codes[s->promos[order[j]].code].code_id; j--)
		{
			int			t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	for (i = 0; i < n; i++)
	{
		Promo	   *p = &s->promos[order[i]];
		PromoCode  *pc = &s->codes[p->code];
		bool		per_customer;

		if (PromotionCodesTake(pc->code_id, s->ctx->customer_id, pc->per_customer_limit, &per_customer))
			continue;
		/* give back this round's uses, drop the code, select again */
		for (j = 0; j < i; j++)
		{
			PromoCode  *t = &s->codes[s->promos[order[j]].code];

			PromotionCodesUntake(t->code_id, s->ctx->customer_id, t->per_customer_limit);
		}
		p->dropped = true;
		p->selected = false;
		PromoRefuse(pc, "exhausted", "OM012",
					per_customer ? psprintf("The customer has used promotion code \"%s\" as often as it allows.", pc->code)
					: psprintf("Promotion code \"%s\" has been used as often as its limit allows.", pc->code));
		return false;
	}
	return true;
}

/* ---- step 4: compute ---- */

static void
PromoGive(PromoState *s, PromoOutcome *out, Promo *p, int line, Datum amount)
{
	PromoApplied *a;

	if (line >= 0)
	{
		if (Ncmp(amount, N(0)) <= 0)
			return;
		s->lines[line].discount = Nadd(s->lines[line].discount, amount);
	}
	a = &out->applied[out->napplied++];
	a->line = line;
	a->promotion_id = p->id;
	a->code_id = p->code >= 0 ? s->codes[p->code].code_id : 0;
	a->amount = amount;
}

/* what line i still costs: unit_price x qty - discount */
static Datum
PromoRemaining(PromoState *s, int i)
{
	return Nsub(Nmul(s->lines[i].unit_price, N(s->lines[i].qty)), s->lines[i].discount);
}

static void
PromoCompute(PromoState *s, Promo *p, PromoOutcome *out)
{
	int			i;

	if (strcmp(p->kind, "free_shipping") == 0)
	{
		out->free_shipping = true;
		PromoGive(s, out, p, -1, N(0));
	}
	else if (strcmp(p->kind, "percent_off") == 0)
	{
		for (i = 0; i < s->nlines; i++)
			if (PromoMatches(s, p, i))
			{
				Datum		rem = PromoRemaining(s, i);

				PromoGive(s, out, p, i, Nmin(rem, Ncents(Ndiv(Nmul(rem, p->value), N(100)))));
			}
	}
	else if (strcmp(p->kind, "amount_off") == 0 && p->product_id == 0 && p->category == NULL)
	{
		Datum		total = N(0);
		Datum		amount;
		Datum		given = N(0);
		int			last = -1;

		for (i = 0; i < s->nlines; i++)
			if (Ncmp(PromoRemaining(s, i), N(0)) > 0)
			{
				total = Nadd(total, PromoRemaining(s, i));
				last = i;
			}
		if (last < 0)
			return;
		amount = Nmin(p->value, total);
		for (i = 0; i <= last; i++)
		{
			Datum		rem = PromoRemaining(s, i);
			Datum		share;

			if (Ncmp(rem, N(0)) <= 0)
				continue;
			share = i == last ? Nsub(amount, given) : Ncents(Ndiv(Nmul(amount, rem), total));
			share = Nmin(share, rem);
			given = Nadd(given, share);
			PromoGive(s, out, p, i, share);
		}
	}
	else if (strcmp(p->kind, "amount_off") == 0)
	{
		for (i = 0; i < s->nlines; i++)
			if (PromoMatches(s, p, i))
				PromoGive(s, out, p, i, Nmin(PromoRemaining(s, i), Nmul(p->value, N(s->lines[i].qty))));
	}
	else if (strcmp(p->kind, "buy_x_get_y") == 0)
	{
		int64		units = 0;
		int64		free;
		bool	   *done = palloc0(sizeof(bool) * s->nlines);

		for (i = 0; i < s->nlines; i++)
			if (PromoMatches(s, p, i))
				units += s->lines[i].qty;
		free = (units / (p->buy_qty + p->get_qty)) * p->get_qty;
		/* the cheapest matching units first */
		while (free > 0)
		{
			int			best = -1;
			int64		k;

			for (i = 0; i < s->nlines; i++)
				if (!done[i] && PromoMatches(s, p, i) &&
					(best < 0 || Ncmp(s->lines[i].unit_price, s->lines[best].unit_price) < 0))
					best = i;
			if (best < 0)
				break;
			done[best] = true;
			k = Min(free, (int64) s->lines[best].qty);
			free -= k;
			PromoGive(s, out, p, best,
					  Nmin(PromoRemaining(s, best),
						   Ncents(Ndiv(Nmul(Nmul(s->lines[best].unit_price, N(k)), p->value), N(100)))));
		}
	}
	else
		elog(ERROR, "oms: unknown promotion kind \"%s\"", p->kind);
}

/* ---- PromotionsApply ---- */

void
PromotionsApply(const PricingContext *ctx, PricingLine *lines, int n,
				PromoCode *codes, int ncodes, bool codes_required, PromoOutcome *out)
{
	PromoState	s;
	int			i,
				round;

	memset(&s, 0, sizeof(s));
	memset(out, 0, sizeof(*out));
	s.ctx = ctx;
	s.lines = lines;
	s.nlines = n;
	s.codes = codes;
	s.ncodes = ncodes;
	s.subtotal = N(0);
	for (i = 0; i < n; i++)
		s.subtotal = Nadd(s.subtotal, Nmul(lines[i].unit_price, N(lines[i].qty)));
	out->codes = codes;
	out->ncodes = ncodes;

	PromoLoad(&s);
	if (s.npromos > 1)
		qsort(s.promos, s.npromos, sizeof(Promo), PromoCompare);
	/* at most one round per code: each failed round drops one */
	for (round = 0; round <= ncodes; round++)
	{
		PromoSelect(&s);
		if (PromoTakeCodes(&s))
			break;
	}
	for (i = 0; i < ncodes; i++)
		if (!codes[i].applied && codes_required)
			ereport(ERROR,
					(errcode(MAKE_SQLSTATE(codes[i].sqlstate[0], codes[i].sqlstate[1], codes[i].sqlstate[2],
										   codes[i].sqlstate[3], codes[i].sqlstate[4])),
					 errmsg("promotion code \"%s\" refused: %s", codes[i].code, codes[i].refusal),
					 errdetail("%s", codes[i].detail),
					 errhint("Remove the code, or send \"codes_required\": false to place the order without the codes that are refused.")));

	out->applied = palloc0(sizeof(PromoApplied) * (s.npromos * (n + 1) + 1));
	for (i = 0; i < s.npromos; i++)
		if (s.promos[i].selected)
			PromoCompute(&s, &s.promos[i], out);
}

/*
 * Does the order ship free? See pricing.h: the shipping charge is waived
 * when this is true (src/order_charges.c); pricing records the
 * eligibility in oms.order_promotions (free_shipping) and in place_order's
 * answer ("free_shipping").
 */
bool
PricingFreeShipping(const PromoOutcome *out)
{
	return out != NULL && out->free_shipping;
}
