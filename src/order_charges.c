/*-------------------------------------------------------------------------
 *
 * order_charges.c
 *	  What place_order charges beyond the unit prices: each line's tax from
 *	  oms.tax_rates, net or gross, and the order's shipping charge.
 *
 *	  Tax (ChargesLineTax), after the lines' discounts are known and before
 *	  the lines are written:
 *	    - where the order is taxed (ChargesTaxPlace): a pickup or counter
 *	      order at its location, when oms.locations.country is set (its
 *	      region with it); else the ship-to (ship_to.country, ship_to.region).
 *	      With no country, no rate is read.
 *	    - the rate is the oms.tax_rates row of that country for the
 *	      product's tax_class, valid today; a row naming the region wins
 *	      over the country's. No row: the line is not taxed (an export,
 *	      say).
 *	    - channel tax_mode given (the default): a line that sends "tax"
 *	      keeps it; a line that sends none is computed. tax_mode computed:
 *	      every line is computed, a line that sends "tax" is refused, and an
 *	      order without a country is refused.
 *	    - net line: tax = round((qty x unit_price - discount) x rate, 4).
 *	    - gross line (ChargesLineGross: the line's price_includes_tax, else
 *	      the document's prices_include_tax, else the channel's): the price
 *	      and discount the caller sent include the tax. oms stores the net
 *	      amounts, unit_price = round(gross unit price / (1 + rate), 4) and
 *	      discount = round(gross discount / (1 + rate), 4), and the tax is
 *	      the rest: tax = (qty x gross price - gross discount) - (qty x
 *	      unit_price - discount), which is gross - gross / (1 + rate) to
 *	      within the rounding. So the line costs exactly the gross amount
 *	      the customer saw, and every money invariant (order_total_owed,
 *	      refunds per unit, revenue recognised on shipping) reads the line
 *	      as any net line. order_lines.price_includes_tax records it.
 *	      A gross line that also sends "tax" is refused.
 *
 *	  Shipping (ChargesShipping, the one function that decides it): the
 *	  document's shipping.amount, or shipping.quote (cheapest or fastest):
 *	  the sum of oms.quote_shipping's choice for each parcel (one per
 *	  location holding the order's reserved units), or 0. free_shipping
 *	  (a free-shipping promotion) makes it 0. ChargesApply writes it and
 *	  the totals, total = subtotal - discount + tax + shipping, to the
 *	  order row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "orders.h"

/* ---- numeric arithmetic ---- */

static Datum
ChNum(int32 i)
{
	return DirectFunctionCall1(int4_numeric, Int32GetDatum(i));
}

static Datum
ChAdd(Datum a, Datum b)
{
	return DirectFunctionCall2(numeric_add, a, b);
}

static Datum
ChSub(Datum a, Datum b)
{
	return DirectFunctionCall2(numeric_sub, a, b);
}

static Datum
ChMul(Datum a, Datum b)
{
	return DirectFunctionCall2(numeric_mul, a, b);
}

static Datum
ChRound4(Datum a)
{
	return DirectFunctionCall2(numeric_round, a, Int32GetDatum(4));
}

static int
ChCmp(Datum a, Datum b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, a, b));
}

static char *
ChText(Datum a)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, a));
}

/* ---- the document ---- */

static int8
ChBool(JsonbValue *v, const char *path)
{
	if (v->type != jbvBool)
		JsonInvalid(path, psprintf("%s must be true or false, not %s.", path, JsonTypeName(v)),
					"Send true when the prices include tax, false (or nothing) when they do not.");
	return v->val.boolean ? 1 : 0;
}

/*
 * "shipping": {"amount": 4.95} or {"quote": "cheapest" | "fastest"};
 * "prices_include_tax": bool; lines[i].price_includes_tax: bool; whether
 * each line sent "tax".
 */
void
ChargesParse(JsonbContainer *root, JsonbContainer *lines, PoOrder *o)
{
	static const char *const shipping_keys[] = {"amount", "quote", NULL};
	JsonbValue	buf;
	JsonbValue *v;
	int			i;

	o->prices_include_tax = -1;
	o->shipping.amount = (Datum) 0;
	o->shipping.quote = NULL;
	o->shipping.free_shipping = false;
	if ((v = JsonGet(root, "prices_include_tax", &buf)) != NULL)
		o->prices_include_tax = ChBool(v, "prices_include_tax");
	if ((v = JsonGet(root, "shipping", &buf)) != NULL)
	{
		JsonbContainer *s = JsonObject(v, "shipping");
		JsonbValue	sbuf;
		JsonbValue *a;
		JsonbValue *q;

		JsonCheckKeys(s, shipping_keys, "shipping");
		a = JsonGet(s, "amount", &sbuf);
		if (a)
			o->shipping.amount = JsonMoney(a, "shipping.amount");
		q = JsonGet(s, "quote", &sbuf);
		if (q)
		{
			if (a)
				JsonInvalid("shipping", "shipping has both amount and quote.",
							"Send the charge as shipping.amount, or ask for the rate table's with shipping.quote, not both.");
			o->shipping.quote = JsonString(q, "shipping.quote", 16, true);
			if (strcmp(o->shipping.quote, "cheapest") != 0 && strcmp(o->shipping.quote, "fastest") != 0)
				JsonInvalid("shipping.quote",
							psprintf("shipping.quote must be cheapest or fastest, not \"%s\".", o->shipping.quote),
							"cheapest charges the cheapest rate of each parcel, fastest the rate of its fastest service.");
		}
		if (a == NULL && q == NULL)
			JsonInvalid("shipping", "shipping has neither amount nor quote.",
						"Send {\"amount\": 4.95} or {\"quote\": \"cheapest\"}, or leave shipping out for no charge.");
	}
	for (i = 0; i < o->work.nlines; i++)
	{
		JsonbContainer *l = getIthJsonbValueFromContainer(lines, i)->val.binary.data;
		JsonbValue	lbuf;
		JsonbValue *f;

		o->prices[i].includes_tax = -1;
		o->prices[i].tax_given = JsonGet(l, "tax", &lbuf) != NULL;
		if ((f = JsonGet(l, "price_includes_tax", &lbuf)) != NULL)
			o->prices[i].includes_tax = ChBool(f, psprintf("lines[%d].price_includes_tax", i));
	}
}

/*
 * The one place that says whether line i was priced gross: the line's
 * price_includes_tax, else the document's prices_include_tax, else the
 * channel's (oms.channels.prices_include_tax).
 */
bool
ChargesLineGross(PoOrder *o, int i, bool channel_gross)
{
	if (o->prices[i].includes_tax >= 0)
		return o->prices[i].includes_tax == 1;
	if (o->prices_include_tax >= 0)
		return o->prices_include_tax == 1;
	return channel_gross;
}

/* ---- tax ---- */

/*
 * Where the order is taxed: a pickup or counter order where it is handed
 * over, when its location has a country; else the ship-to's country
 * (upper case, trimmed) and region. *country is NULL when neither says.
 */
static void
ChargesTaxPlace(PoOrder *o, char **country, char **region)
{
	JsonbContainer *s;
	JsonbValue	buf;
	JsonbValue *v;

	*country = o->pickup_country;
	*region = o->pickup_region;
	if (*country != NULL || o->ship_to == NULL)
		return;
	s = &DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(o->ship_to)))->root;
	if ((v = JsonGet(s, "country", &buf)) != NULL && v->type == jbvString)
	{
		text	   *t = cstring_to_text_with_len(v->val.string.val, v->val.string.len);
		char	   *c = TextDatumGetCString(DirectFunctionCall1Coll(upper, DEFAULT_COLLATION_OID,
																	DirectFunctionCall1(btrim1, PointerGetDatum(t))));

		if (c[0] != '\0')
			*country = c;
	}
	if ((v = JsonGet(s, "region", &buf)) != NULL && v->type == jbvString)
		*region = pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * Each line's tax (see the banner), into o->prices and the order's
 * amounts in o; o->charges_changed when a line's amounts changed, so that
 * ChargesApply writes the order row's totals again. The rates are read
 * only when the order has a place to be taxed.
 */
void
ChargesLineTax(PoOrder *o)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {INT8ARRAYOID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = "   ";
	Datum		limit = DirectFunctionCall3(numeric_in, CStringGetDatum("1000000000000"),
											ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	Datum		total;
	char	   *country;
	char	   *region;
	int			i;

	ChargesTaxPlace(o, &country, &region);
	if (country != NULL)
	{
		int64	   *pids = palloc(sizeof(int64) * o->work.nlines);

		for (i = 0; i < o->work.nlines; i++)
			pids[i] = o->work.lines[i].product.id;
		values[0] = PointerGetDatum(OmsInt8Array(pids, o->work.nlines));
		values[1] = CStringGetTextDatum(country);
		if (region != NULL)
			values[2] = CStringGetTextDatum(region);
		else
			nulls[2] = 'n';
		/* generic: its custom plans cost more to make (0.14 ms) than they save */
		OmsQuery(OmsPlanGeneric(&plan,
								"SELECT (SELECT r.rate FROM oms.tax_rates r "
								"         WHERE r.country OPERATOR(pg_catalog.=) $2 "
								"           AND (r.region IS NULL OR r.region OPERATOR(pg_catalog.=) $3) "
								"           AND r.tax_class OPERATOR(pg_catalog.=) p.tax_class "
								"           AND (r.valid_from IS NULL OR r.valid_from OPERATOR(pg_catalog.<=) CURRENT_DATE) "
								"           AND (r.valid_to IS NULL OR r.valid_to OPERATOR(pg_catalog.>) CURRENT_DATE) "
								"         ORDER BY r.region NULLS LAST, r.valid_from DESC NULLS LAST LIMIT 1) "
								"  FROM pg_catalog.unnest($1) WITH ORDINALITY AS u(pid, i) "
								"  JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) u.pid "
								" ORDER BY u.i",
								3, types), values, nulls, 0);
		if ((int) SPI_processed != o->work.nlines)
			elog(ERROR, "oms: the products of the order changed under it");
	}

	o->subtotal = o->discount = o->tax = ChNum(0);
	for (i = 0; i < o->work.nlines; i++)
	{
		PoPrice    *pp = &o->prices[i];
		bool		computed = o->tax_computed;
		bool		has_country = country != NULL;
		bool		no_rate = true;
		Datum		rate = has_country ? OmsGetDatum(i, 1, &no_rate) : (Datum) 0;
		Datum		qty = ChNum(o->work.lines[i].qty);

		pp->gross = ChargesLineGross(o, i, o->channel_gross);
		if (pp->tax_given && computed)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid order: lines[%d].tax is given, but channel \"%s\" computes tax", i, o->work.channel),
					 errdetail("The channel's tax_mode is computed: oms computes every line's tax from oms.tax_rates."),
					 errhint("Leave tax out of the lines, or set the channel's tax_mode to given.")));
		if (pp->tax_given && pp->gross)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid order: lines[%d] is priced gross and gives tax", i),
					 errdetail("A price that includes tax has its tax extracted by oms from oms.tax_rates."),
					 errhint("Leave tax out of the line, or send its net price with price_includes_tax false.")));
		if (computed && !has_country)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid order: channel \"%s\" computes tax and the order has no ship_to.country", o->work.channel),
					 errdetail("Tax rates are by country: the ship-to must say which, or for a pickup or counter order its location (oms.locations.country)."),
					 errhint("Send ship_to.country as an ISO 3166-1 code such as \"DE\", or set the location's country.")));
		if (!pp->tax_given && !no_rate)
		{
			Datum		one_plus = ChAdd(ChNum(1), rate);
			Datum		amount = ChSub(ChMul(pp->unit_price, qty), pp->discount);

			if (!pp->gross)
				pp->tax = ChRound4(ChMul(amount, rate));
			else
			{
				Datum		unit = ChRound4(DirectFunctionCall2(numeric_div, pp->unit_price, one_plus));
				Datum		disc = ChRound4(DirectFunctionCall2(numeric_div, pp->discount, one_plus));
				Datum		net;

				if (ChCmp(disc, ChMul(unit, qty)) > 0)
					disc = ChMul(unit, qty);
				net = ChSub(ChMul(unit, qty), disc);
				pp->tax = ChSub(amount, net);
				/* tiny amounts: the rounding must not make the tax negative */
				if (ChCmp(pp->tax, ChNum(0)) < 0)
				{
					disc = ChSub(disc, pp->tax);
					pp->tax = ChNum(0);
				}
				pp->unit_price = unit;
				pp->discount = disc;
			}
			if (ChCmp(pp->tax, ChNum(0)) != 0 || pp->gross)
				o->charges_changed = true;
		}
		o->subtotal = ChAdd(o->subtotal, ChMul(pp->unit_price, qty));
		o->discount = ChAdd(o->discount, pp->discount);
		o->tax = ChAdd(o->tax, pp->tax);
	}
	total = ChAdd(ChSub(o->subtotal, o->discount), o->tax);
	if (o->shipping.amount != (Datum) 0)
		total = ChAdd(total, o->shipping.amount);
	if (ChCmp(total, limit) >= 0 || ChCmp(o->tax, limit) >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid order: the total with tax and shipping is %s", ChText(total)),
				 errdetail("An order's subtotal, tax and total are below 1000000000000."),
				 errhint("Split the order.")));
}

/* ---- shipping ---- */

/*
 * The shipping charge (see the banner). A quote prices the parcels of
 * the units reserved: one per location, at the choice of oms.quote_shipping;
 * a parcel no rate prices, or units waiting for stock, are refused, since
 * their delivery cost is not known.
 */
Datum
ChargesShipping(const ChargesShippingInput *in)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	int64		parcels;
	int64		quoted;
	bool		waits;

	if (in->free_shipping)
		return ChNum(0);
	if (in->quote == NULL)
		return in->amount != (Datum) 0 ? in->amount : ChNum(0);
	values[0] = Int64GetDatum(in->order_id);
	values[1] = CStringGetTextDatum(in->quote);
	OmsQuery(OmsPlan(&plan,
					 "SELECT (SELECT pg_catalog.count(DISTINCT r.location_id) FROM oms.reservations r "
					 "         WHERE r.order_id OPERATOR(pg_catalog.=) $1 AND r.status OPERATOR(pg_catalog.=) 'active'), "
					 "       q.n, COALESCE(q.price, 0), "
					 "       EXISTS (SELECT FROM oms.order_lines l WHERE l.order_id OPERATOR(pg_catalog.=) $1 "
					 "                  AND l.qty_backordered OPERATOR(pg_catalog.>) 0) "
					 "  FROM (SELECT pg_catalog.count(*) AS n, pg_catalog.sum(price) AS price "
					 "          FROM oms.quote_shipping(order_id => $1, choose => $2)) q",
					 2, types), values, NULL, 1);
	parcels = OmsGetInt64(0, 1, NULL);
	quoted = OmsGetInt64(0, 2, NULL);
	waits = DatumGetBool(OmsGetDatum(0, 4, NULL));
	if (waits)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid order: shipping.quote cannot price units that wait for stock"),
				 errdetail("A quote prices the parcels of the reserved units; the order has backordered units."),
				 errhint("Send the charge as shipping.amount for an order that may wait for stock.")));
	if (quoted < parcels)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid order: no shipping rate for %lld of its %lld parcel(s)",
						(long long) (parcels - quoted), (long long) parcels),
				 errdetail("oms.shipping_rates has no active service rate in the order's currency for every parcel's distance and weight."),
				 errhint("Add a rate to oms.shipping_rates, or send the charge as shipping.amount.")));
	return SPI_datumTransfer(OmsGetDatum(0, 3, NULL), false, -1);
}

/*
 * The shipping charge and, when it or the lines' tax changed anything,
 * the order row's totals from its lines (the expression of PoOwedTotals
 * and oms.check()'s order_total_owed), and the gross lines' flag.
 */
void
ChargesApply(PoOrder *o, OrderDocHead *head)
{
	static SPIPlanPtr plan_totals = NULL;
	static SPIPlanPtr plan_gross = NULL;
	Oid			types[2] = {INT8OID, NUMERICOID};
	Datum		values[2];
	Datum		shipping;
	int32	   *gross = palloc(sizeof(int32) * o->work.nlines);
	int			ngross = 0;
	int			i;

	o->shipping.order_id = o->work.order_id;
	shipping = ChargesShipping(&o->shipping);
	for (i = 0; i < o->work.nlines; i++)
		if (o->prices[i].gross)
			gross[ngross++] = o->work.lines[i].line_no;
	if (ngross > 0)
	{
		Oid			t2[2] = {INT8OID, INT4ARRAYOID};
		Datum		v2[2];

		v2[0] = Int64GetDatum(o->work.order_id);
		v2[1] = PointerGetDatum(OmsInt4Array(gross, ngross));
		OmsExec(OmsPlan(&plan_gross,
						"UPDATE oms.order_lines SET price_includes_tax = true "
						" WHERE order_id OPERATOR(pg_catalog.=) $1 AND line_no OPERATOR(pg_catalog.=) ANY ($2)",
						2, t2), v2, NULL, 0);
	}
	if (!o->charges_changed && ChCmp(shipping, ChNum(0)) == 0)
		return;					/* the totals placement wrote stand */
	values[0] = Int64GetDatum(o->work.order_id);
	values[1] = shipping;
	OmsExec(OmsPlan(&plan_totals,
					"UPDATE oms.orders o SET subtotal = l.subtotal, discount = l.discount, tax = l.tax, "
					"       shipping = CASE WHEN l.owed OPERATOR(pg_catalog.>) 0 THEN $2 ELSE 0 END, "
					"       total = l.subtotal OPERATOR(pg_catalog.-) l.discount OPERATOR(pg_catalog.+) l.tax "
					"               OPERATOR(pg_catalog.+) CASE WHEN l.owed OPERATOR(pg_catalog.>) 0 THEN $2 ELSE 0 END "
					"  FROM (SELECT pg_catalog.sum((qty OPERATOR(pg_catalog.-) qty_cancelled) OPERATOR(pg_catalog.*) unit_price) AS subtotal, "
					"               pg_catalog.sum(pg_catalog.round(discount OPERATOR(pg_catalog.*) (qty OPERATOR(pg_catalog.-) qty_cancelled) "
					"                              OPERATOR(pg_catalog./) qty, 4)) AS discount, "
					"               pg_catalog.sum(pg_catalog.round(tax OPERATOR(pg_catalog.*) (qty OPERATOR(pg_catalog.-) qty_cancelled) "
					"                              OPERATOR(pg_catalog./) qty, 4)) AS tax, "
					"               pg_catalog.sum(qty OPERATOR(pg_catalog.-) qty_cancelled) AS owed "
					"          FROM oms.order_lines WHERE order_id OPERATOR(pg_catalog.=) $1) l "
					" WHERE o.id OPERATOR(pg_catalog.=) $1 "
					"RETURNING o.total, o.subtotal, o.discount, o.shipping, o.tax",
					2, types), values, NULL, 0);
	OrdersDocHeadAmounts(head, 1);
}
