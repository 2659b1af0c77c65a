/*-------------------------------------------------------------------------
 *
 * order_parse.c
 *	  The place_order document parsed and validated (PoParse), before any
 *	  table is touched, and its SHA-256 (PoRequestHash), by which a replay
 *	  is recognised. Every problem is a 22023 naming the field (JsonInvalid).
 *	  Nothing here reads or writes a table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/cryptohash.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "orders.h"

#define OMS_MAX_LINES		500
#define OMS_MAX_LINE_QTY	1000000
#define OMS_MAX_FLAGS		32
#define OMS_MAX_FLAG_CHARS	32
/* ship_to, as JSON text (jsonb's output, as ship_to::text prints it) */
#define OMS_MAX_SHIP_TO_BYTES	16384

/* A coordinate in decimal degrees, within +-limit. */
static double
PoCoordinate(JsonbValue *v, const char *path, double limit)
{
	double		d;

	if (v->type != jbvNumeric)
		JsonInvalid(path, psprintf("%s must be a number, not %s.", path, JsonTypeName(v)),
				  "Give coordinates as decimal degrees.");
	/* range-check as numeric first: 1e400 does not fit a double (22003) */
	if (numeric_is_nan(v->val.numeric) ||
		DatumGetBool(DirectFunctionCall2(numeric_gt,
										 DirectFunctionCall1(numeric_abs, NumericGetDatum(v->val.numeric)),
										 DirectFunctionCall1(float8_numeric, Float8GetDatum(limit)))))
		JsonInvalid(path, psprintf("%s must be between %g and %g degrees.", path, -limit, limit),
				  "Check that lat and lon are not swapped.");
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
	if (isnan(d) || d < -limit || d > limit)
		JsonInvalid(path, psprintf("%s must be between %g and %g degrees.", path, -limit, limit),
				  "Check that lat and lon are not swapped.");
	return d;
}

/* A flag: a lowercase identifier (its length is bounded by JsonString). */
static bool
PoFlagOk(const char *f)
{
	const char *p;

	if (*f < 'a' || *f > 'z')
		return false;
	for (p = f; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

/* Plausibly an email address: one @, a dot in the domain, no blanks. */
static bool
PoEmailOk(const char *e)
{
	const char *at = strchr(e, '@');

	if (at == NULL || at == e || strchr(at + 1, '@') != NULL)
		return false;
	if (strpbrk(e, " \t\r\n") != NULL)
		return false;
	return strchr(at + 1, '.') != NULL && at[1] != '.' && e[strlen(e) - 1] != '.';
}

/*
 * The order's amounts from its lines' prices: subtotal (the units at their
 * unit prices), discount and tax, and the total they make. Each follows the
 * money rule of every amount (OmsMoneyRound: below 10^12, as the columns
 * keep 12 digits before the point), or the order is refused naming lines: a
 * 22023, never the bare 22003 of the INSERT. The discount of a line is at
 * most its amount, so the discount is at most the subtotal and the total
 * is not negative.
 */
void
PoAmounts(PoOrder *o)
{
	const char *names[3] = {"subtotal", "tax", "total"};
	Datum		amounts[3];
	Datum		rounded;
	int			i;

	o->subtotal = o->discount = o->tax = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
	for (i = 0; i < o->work.nlines; i++)
	{
		o->subtotal = DirectFunctionCall2(numeric_add, o->subtotal,
										  DirectFunctionCall2(numeric_mul, o->prices[i].unit_price,
															  DirectFunctionCall1(int4_numeric, Int32GetDatum(o->work.lines[i].qty))));
		/* a line still to be priced from the lists: its discount counts once it is (src/order_pricing.c) */
		if (o->prices[i].given || o->repriced)
			o->discount = DirectFunctionCall2(numeric_add, o->discount, o->prices[i].discount);
		o->tax = DirectFunctionCall2(numeric_add, o->tax, o->prices[i].tax);
	}
	amounts[0] = o->subtotal;
	amounts[1] = o->tax;
	amounts[2] = DirectFunctionCall2(numeric_add, DirectFunctionCall2(numeric_sub, o->subtotal, o->discount), o->tax);
	for (i = 0; i < 3; i++)
		if (!OmsMoneyRound(amounts[i], false, &rounded))
			JsonInvalid("lines", psprintf("The lines make an order %s of %s; an order's subtotal, tax and total are below 1000000000000.",
										  names[i], OmsNumericText(amounts[i])),
						"Split the order into several orders.");
}

/*
 * The delivery promise the order asks for (src/route_promise.c):
 * deliver_by, a date written YYYY-MM-DD; service_level, standard or
 * express. The currency goes to routing for the carriers' rates.
 */
static void
PoParsePromise(JsonbContainer *root, PoOrder *o)
{
	JsonbValue	buf;
	JsonbValue *v;

	o->work.route.currency = o->currency;
	if ((v = JsonGet(root, "deliver_by", &buf)) != NULL)
	{
		char	   *s = JsonString(v, "deliver_by", 10, true);
		int			y,
					m,
					d,
					jd,
					y2,
					m2,
					d2;
		char		tail;

		if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
			sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || y < 2000 || y > 2100 || m < 1 || m > 12 || d < 1 || d > 31)
			JsonInvalid("deliver_by", psprintf("deliver_by must be a date written YYYY-MM-DD between 2000 and 2100, not \"%s\".", s),
						"Write the date the customer must have the goods by, for example \"2026-12-24\".");
		jd = date2j(y, m, d);
		j2date(jd, &y2, &m2, &d2);
		if (y2 != y || m2 != m || d2 != d)
			JsonInvalid("deliver_by", psprintf("deliver_by \"%s\" is not a day of the calendar.", s),
						"Write the date the customer must have the goods by, for example \"2026-12-24\".");
		o->work.route.has_deliver_by = true;
		o->work.route.deliver_by = jd - POSTGRES_EPOCH_JDATE;
		o->deliver_by = s;
	}
	if ((v = JsonGet(root, "service_level", &buf)) != NULL)
	{
		o->service_level = JsonString(v, "service_level", 32, true);
		if (strcmp(o->service_level, "express") == 0)
			o->work.route.express = true;
		else if (strcmp(o->service_level, "standard") != 0)
			JsonInvalid("service_level", psprintf("service_level must be standard or express, not \"%s\".", o->service_level),
						"Leave it out, or ask for express to be routed by the fastest delivery.");
		o->work.route.service_level = o->service_level;
	}
}

/*
 * Pricing keys (src/order_pricing.c): "codes", at most 10 promotion codes
 * (letters, digits, _ and -, matched case-insensitively: kept upper case),
 * "codes_required" (default true: a refused code refuses the order) and
 * "source_code", the campaign.
 */
static void
PoParsePricing(JsonbContainer *root, PoOrder *o)
{
	JsonbValue	buf;
	JsonbValue *v;
	int			i,
				j;

	o->codes_required = true;
	if ((v = JsonGet(root, "codes", &buf)) != NULL)
	{
		JsonbContainer *codes = JsonArray(v, "codes");
		int			n = JsonContainerSize(codes);

		if (n > 10)
			JsonInvalid("codes", psprintf("codes has %d entries; at most 10 are allowed.", n),
						"Send the codes the customer entered, at most 10.");
		o->codes = palloc(sizeof(char *) * (n + 1));
		for (i = 0; i < n; i++)
		{
			char	   *path = psprintf("codes[%d]", i);
			char	   *c = JsonString(getIthJsonbValueFromContainer(codes, i), path, 32, true);
			char	   *p;

			for (p = c; *p; p++)
			{
				if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
					  ((*p == '_' || *p == '-') && p > c)))
					JsonInvalid(path, psprintf("%s has a character other than letters, digits, _ and -.", path),
								"Send the code as the customer typed it, without spaces.");
				if (*p >= 'a' && *p <= 'z')
					*p = *p - 'a' + 'A';
			}
			for (j = 0; j < i; j++)
				if (strcmp(o->codes[j], c) == 0)
					JsonInvalid(path, psprintf("%s repeats code \"%s\".", path, c), "Send each code once.");
			o->codes[o->ncodes++] = c;
		}
	}
	if ((v = JsonGet(root, "codes_required", &buf)) != NULL)
	{
		if (v->type != jbvBool)
			JsonInvalid("codes_required", psprintf("codes_required must be true or false, not %s.", JsonTypeName(v)),
						"Send false to place the order without the codes that are refused.");
		o->codes_required = v->val.boolean;
	}
	if ((v = JsonGet(root, "source_code", &buf)) != NULL)
	{
		char	   *p;

		o->source_code = JsonString(v, "source_code", 64, true);
		for (p = o->source_code; *p; p++)
			if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
				  ((*p == '_' || *p == '-' || *p == '.') && p > o->source_code)))
				JsonInvalid("source_code", "source_code has a character other than letters, digits, ., _ and -.",
							"Send the campaign's code, for example \"xmas-2026\".");
	}
}

/*
 * Parse and validate the whole order document into *o (src/orders.h),
 * with the defaults of the keys left out. Reads no table.
 */
void
PoParse(Jsonb *doc, PoOrder *o)
{
	static const char *const top_keys[] = {"channel", "external_id", "customer", "currency", "ship_to",
	"lines", "flags", "notes", "policy", "split", "hold_minutes", "deliver_by", "service_level",
	"shipping", "prices_include_tax", "codes", "codes_required", "source_code", NULL};
	static const char *const customer_keys[] = {"external_ref", "email", "name", "address", NULL};
	static const char *const line_keys[] = {"sku", "qty", "unit_price", "discount", "tax",
	"substitute", "substitute_unit_price", "price_includes_tax", NULL};
	JsonbContainer *root = &doc->root;
	JsonbValue	buf;
	JsonbValue *v;
	JsonbContainer *lines;
	int			i;

	memset(o, 0, sizeof(*o));
	o->hold_minutes = -1;
	JsonDocument = "order";

	if (!JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid order: the document must be a JSON object"),
				 errdetail("place_order received %s.", JB_ROOT_IS_SCALAR(doc) ? "a scalar" : "an array"),
				 errhint("Send {\"channel\": ..., \"external_id\": ..., \"currency\": ..., \"lines\": [...]}.")));
	JsonCheckKeys(root, top_keys, "the order");

	if ((v = JsonGet(root, "channel", &buf)) == NULL)
		JsonInvalid("channel", "The key channel is required.", "Name the channel by its code, for example \"web\".");
	o->work.channel = JsonString(v, "channel", OMS_MAX_CODE_CHARS, true);

	if ((v = JsonGet(root, "external_id", &buf)) == NULL)
		JsonInvalid("external_id", "The key external_id is required.",
				  "Send the order's id in your system; it makes retries safe.");
	/*
	 * Not PAN-checked: the caller's order number is often a long number
	 * (13-digit shop ids), and one in ten of those passes the Luhn check.
	 */
	o->work.external_id = JsonString(v, "external_id", 200, true);

	if ((v = JsonGet(root, "currency", &buf)) == NULL)
		JsonInvalid("currency", "The key currency is required.", "Use an ISO 4217 code such as \"EUR\".");
	o->currency = JsonString(v, "currency", 3, true);
	if (strlen(o->currency) != 3 || strspn(o->currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)
		JsonInvalid("currency", psprintf("currency must be three capital letters, not \"%s\".", o->currency),
				  "Use an ISO 4217 code such as \"EUR\".");

	o->policy = "all_or_nothing";
	o->work.shortfall = ORDER_SHORT_REFUSE;
	if ((v = JsonGet(root, "policy", &buf)) != NULL)
	{
		o->policy = JsonString(v, "policy", 32, true);
		if (strcmp(o->policy, "partial") == 0)
			o->work.shortfall = ORDER_SHORT_CANCEL;
		else if (strcmp(o->policy, "backorder") == 0)
			o->work.shortfall = ORDER_SHORT_BACKORDER;
		else if (strcmp(o->policy, "all_or_nothing") != 0)
			JsonInvalid("policy", psprintf("policy must be all_or_nothing, partial or backorder, not \"%s\".", o->policy),
					  "Leave it out for all_or_nothing.");
	}

	o->work.route.split = "allow";
	if ((v = JsonGet(root, "split", &buf)) != NULL)
	{
		o->work.route.split = JsonString(v, "split", 32, true);
		if (strcmp(o->work.route.split, "allow") != 0 && strcmp(o->work.route.split, "avoid") != 0 && strcmp(o->work.route.split, "forbid") != 0)
			JsonInvalid("split", psprintf("split must be allow, avoid or forbid, not \"%s\".", o->work.route.split),
						"Leave it out to allow splitting the order over several shipments.");
	}

	PoParsePromise(root, o);
	PoParsePricing(root, o);

	if ((v = JsonGet(root, "hold_minutes", &buf)) != NULL)
		o->hold_minutes = JsonInt(v, "hold_minutes", 0, 525600,
								 "Give the hold in minutes, at most 525600 (a year); 0 holds until paid or cancelled.");

	if ((v = JsonGet(root, "notes", &buf)) != NULL)
		o->notes = JsonText(v, "notes", OMS_MAX_REASON_CHARS);

	if ((v = JsonGet(root, "flags", &buf)) != NULL)
	{
		JsonbContainer *flags = JsonArray(v, "flags");
		int			n = JsonContainerSize(flags);

		if (n > OMS_MAX_FLAGS)
			JsonInvalid("flags", psprintf("flags has %d entries; at most %d are allowed.", n, OMS_MAX_FLAGS),
						"Flags are for what rules act on (vip, gift, fraud_review); write the rest in notes.");
		o->flags = palloc(sizeof(char *) * (n + 1));
		for (i = 0; i < n; i++)
		{
			JsonbValue *f = getIthJsonbValueFromContainer(flags, i);
			char	   *path = psprintf("flags[%d]", i);
			char	   *s = JsonString(f, path, OMS_MAX_FLAG_CHARS, true);

			if (!PoFlagOk(s))
				JsonInvalid(path, psprintf("%s is \"%s\"; flags are lowercase letters, digits and _, starting with a letter.", path, s),
						  "Write flags such as vip, gift or fraud_review.");
			o->flags[o->nflags++] = s;
		}
	}

	if ((v = JsonGet(root, "customer", &buf)) != NULL)
	{
		JsonbContainer *c = JsonObject(v, "customer");
		JsonbValue	cbuf;
		JsonbValue *cv;

		JsonCheckKeys(c, customer_keys, "customer");
		if ((cv = JsonGet(c, "external_ref", &cbuf)) != NULL)
		{
			o->cust_ref = JsonString(cv, "customer.external_ref", 200, true);
			OmsCheckNoCardNumber(o->cust_ref, "customer.external_ref");
		}
		if ((cv = JsonGet(c, "email", &cbuf)) != NULL)
		{
			o->cust_email = JsonString(cv, "customer.email", 320, true);
			/* before the message below echoes it */
			OmsCheckNoCardNumber(o->cust_email, "customer.email");
			if (!PoEmailOk(o->cust_email))
				JsonInvalid("customer.email", psprintf("customer.email \"%s\" is not an email address.", o->cust_email),
						  "Send an address such as ann@example.com, or leave email out.");
		}
		if ((cv = JsonGet(c, "name", &cbuf)) != NULL)
			o->cust_name = JsonText(cv, "customer.name", 200);
		/* a saved address by its label (src/customers.c), instead of ship_to */
		if ((cv = JsonGet(c, "address", &cbuf)) != NULL)
		{
			o->cust_address = JsonString(cv, "customer.address", 32, true);
		}
		if (o->cust_ref == NULL && o->cust_email == NULL)
			JsonInvalid("customer", "customer needs external_ref or email to be recognised.",
					  "Leave customer out for a guest order.");
		o->has_customer = true;
	}

	if ((v = JsonGet(root, "ship_to", &buf)) != NULL)
	{
		static const char *const coordinates[] = {"lat", "lon", NULL};
		JsonbContainer *s = JsonObject(v, "ship_to");
		JsonbValue	sbuf;
		JsonbValue *lat;
		JsonbValue *lon;
		JsonbValue *pickup;
		StringInfoData txt;

		initStringInfo(&txt);
		JsonbToCString(&txt, s, -1);
		if (txt.len > OMS_MAX_SHIP_TO_BYTES)
			JsonInvalid("ship_to", psprintf("ship_to is %d bytes as JSON text; at most %d bytes (16 KB) are allowed.",
											txt.len, OMS_MAX_SHIP_TO_BYTES),
						"Send the address, contact and delivery instructions; keep other data outside oms.");
		o->ship_to = txt.data;
		lat = JsonGet(s, "lat", &sbuf);
		if (lat)
			o->work.route.lat = PoCoordinate(lat, "ship_to.lat", 90);
		lon = JsonGet(s, "lon", &sbuf);
		if (lon)
			o->work.route.lon = PoCoordinate(lon, "ship_to.lon", 180);
		if ((lat == NULL) != (lon == NULL))
			JsonInvalid("ship_to", "ship_to has only one of lat and lon.", "Give both coordinates or neither.");
		o->work.route.has_coords = (lat != NULL);
		if ((pickup = JsonGet(s, "pickup", &sbuf)) != NULL)
			o->pickup = JsonString(pickup, "ship_to.pickup", OMS_MAX_CODE_CHARS, true);
		/* every key, string and number, the coordinates excepted */
		OmsCheckNoCardNumber(JsonScanText(s, coordinates), "ship_to");
	}

	if ((v = JsonGet(root, "lines", &buf)) == NULL)
		JsonInvalid("lines", "The key lines is required.", "Send at least one line: [{\"sku\": ..., \"qty\": ..., \"unit_price\": ...}].");
	lines = JsonArray(v, "lines");
	o->work.nlines = JsonContainerSize(lines);
	if (o->work.nlines == 0)
		JsonInvalid("lines", "lines is empty.", "An order needs at least one line.");
	if (o->work.nlines > OMS_MAX_LINES)
		JsonInvalid("lines", psprintf("lines has %d entries; at most %d are allowed.", o->work.nlines, OMS_MAX_LINES),
				  "Split the order.");
	o->work.lines = palloc0(sizeof(OrderLine) * o->work.nlines);
	o->prices = palloc0(sizeof(PoPrice) * o->work.nlines);
	for (i = 0; i < o->work.nlines; i++)
	{
		JsonbValue *lv = getIthJsonbValueFromContainer(lines, i);
		char	   *path = psprintf("lines[%d]", i);
		JsonbContainer *l = JsonObject(lv, path);
		JsonbValue	lbuf;
		JsonbValue *f;
		OrderLine  *pl = &o->work.lines[i];
		PoPrice    *pp = &o->prices[i];

		JsonCheckKeys(l, line_keys, path);
		pl->line_no = i + 1;
		if ((f = JsonGet(l, "sku", &lbuf)) == NULL)
			JsonInvalid(psprintf("%s.sku", path), psprintf("%s.sku is required.", path), "Name the product by its sku.");
		pl->sku = JsonString(f, psprintf("%s.sku", path), OMS_MAX_SKU_CHARS, true);
		if ((f = JsonGet(l, "qty", &lbuf)) == NULL)
			JsonInvalid(psprintf("%s.qty", path), psprintf("%s.qty is required.", path), "Give the number of units.");
		pl->qty = JsonInt(f, psprintf("%s.qty", path), 1, OMS_MAX_LINE_QTY,
						"Split very large quantities into several orders.");
		/* no unit_price: priced from the price lists (src/order_pricing.c) */
		pp->given = (f = JsonGet(l, "unit_price", &lbuf)) != NULL;
		pp->unit_price = pp->given ? JsonMoney(f, psprintf("%s.unit_price", path))
			: DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
		pp->discount = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
		pp->tax = pp->discount;
		if ((f = JsonGet(l, "discount", &lbuf)) != NULL)
			pp->discount = JsonMoney(f, psprintf("%s.discount", path));
		if ((f = JsonGet(l, "tax", &lbuf)) != NULL)
			pp->tax = JsonMoney(f, psprintf("%s.tax", path));
		/* substitutes (src/order_substitute.c) */
		if ((f = JsonGet(l, "substitute", &lbuf)) != NULL)
		{
			char	   *sub = JsonString(f, psprintf("%s.substitute", path), 16, true);

			if (strcmp(sub, "allow") != 0 && strcmp(sub, "forbid") != 0)
				JsonInvalid(psprintf("%s.substitute", path),
							psprintf("%s.substitute must be allow or forbid, not \"%s\".", path, sub),
							"Send \"allow\" to accept the best-ranked substitute in stock when the product is short.");
			pl->substitute_allowed = strcmp(sub, "allow") == 0;
		}
		if ((f = JsonGet(l, "substitute_unit_price", &lbuf)) != NULL)
		{
			if (!pl->substitute_allowed)
				JsonInvalid(psprintf("%s.substitute_unit_price", path),
							psprintf("%s.substitute_unit_price is given without \"substitute\": \"allow\".", path),
							"Allow substitutes on the line, or leave the price out.");
			pl->substitute_price = JsonMoney(f, psprintf("%s.substitute_unit_price", path));
		}
		if (pp->given)
		{
			Datum		gross = DirectFunctionCall2(numeric_mul, pp->unit_price,
													DirectFunctionCall1(int4_numeric, Int32GetDatum(pl->qty)));

			if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, pp->discount, gross)) > 0)
				JsonInvalid(psprintf("%s.discount", path),
						  psprintf("%s.discount %s exceeds the line amount %s.", path,
								   DatumGetCString(DirectFunctionCall1(numeric_out, pp->discount)),
								   DatumGetCString(DirectFunctionCall1(numeric_out, gross))),
						  "The discount is for the whole line, not per unit.");
		}
	}
	/* shipping and the prices' tax (src/order_charges.c) */
	ChargesParse(root, lines, o);
	PoAmounts(o);
}


/*
 * The document with every number in its shortest form (trailing zeros of
 * the fraction removed: 10, 10.0000 and 1e1 are all 10; -0 is 0), so that
 * numerically equal documents hash alike. jsonb already orders keys and
 * drops duplicates and whitespace; numbers keep the scale they were sent
 * with, hence this walk.
 */
static Jsonb *
PoCanonical(Jsonb *doc)
{
	JsonbIterator *it = JsonbIteratorInit(&doc->root);
	JsonbParseState *state = NULL;
	JsonbValue	v;
	JsonbValue *res = NULL;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if ((tok == WJB_VALUE || tok == WJB_ELEM) && v.type == jbvNumeric)
			v.val.numeric = DatumGetNumeric(DirectFunctionCall1(numeric_trim_scale, NumericGetDatum(v.val.numeric)));
		res = pushJsonbValue(&state, tok, tok < WJB_BEGIN_ARRAY ? &v : NULL);
	}
	return JsonbValueToJsonb(res);
}

/* The SHA-256 of the document in canonical form (jsonb text, numbers trimmed). */
void
PoRequestHash(Jsonb *doc, uint8 *digest)
{
	StringInfoData txt;
	pg_cryptohash_ctx *ctx;

	doc = PoCanonical(doc);
	initStringInfo(&txt);
	JsonbToCString(&txt, &doc->root, VARSIZE(doc));
	ctx = pg_cryptohash_create(PG_SHA256);
	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (uint8 *) txt.data, txt.len) < 0 ||
		pg_cryptohash_final(ctx, digest, PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "oms: could not compute request hash");
	pg_cryptohash_free(ctx);
}
