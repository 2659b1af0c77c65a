/*-------------------------------------------------------------------------
 *
 * json.c
 *	  Validation of the JSON documents the API takes (orders, payments):
 *	  typed getters that raise 22023 naming the field, a check for unknown
 *	  keys, and the money and whole-number rules shared by every document.
 *	  A string is an identifier (JsonString) or free text (JsonText), with
 *	  the bounds of text_bounds.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "oms.h"


const char *
JsonTypeName(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return "a boolean";
		case jbvBinary:
			return JsonContainerIsObject(v->val.binary.data) ? "an object" : "an array";
		default:
			return "a JSON value";
	}
}

void
JsonInvalid(const char *path, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid %s: %s", JsonDocument, path),
			 errdetail("%s", detail),
			 errhint("%s", hint)));
}

JsonbValue *
JsonGet(JsonbContainer *obj, const char *key, JsonbValue *buf)
{
	JsonbValue *v = getKeyJsonValueFromContainer(obj, key, strlen(key), buf);

	if (v == NULL || v->type == jbvNull)
		return NULL;
	return v;
}

/* Every key of obj must be in allowed (NULL-terminated). */
void
JsonCheckKeys(JsonbContainer *obj, const char *const *allowed, const char *where)
{
	JsonbIterator *it = JsonbIteratorInit(obj);
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		const char *const *a;
		bool		found = false;

		if (tok != WJB_KEY)
			continue;
		for (a = allowed; *a; a++)
			if (strlen(*a) == (size_t) v.val.string.len &&
				strncmp(*a, v.val.string.val, v.val.string.len) == 0)
				found = true;
		if (!found)
		{
			StringInfoData keys;

			/* the key is echoed below: short and printable only */
			OmsCheckIdentifier(pnstrdup(v.val.string.val, v.val.string.len), psprintf("a key of %s", where), 64);
			initStringInfo(&keys);
			for (a = allowed; *a; a++)
				appendStringInfo(&keys, "%s%s", a == allowed ? "" : ", ", *a);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid %s: unknown key \"%.*s\" in %s", JsonDocument,
							v.val.string.len, v.val.string.val, where),
					 errdetail("The keys allowed in %s are: %s.", where, keys.data),
					 errhint("Check the spelling of the key.")));
		}
	}
}

/* the string of v, or 22023 naming the field when v is not a string */
static char *
JsonStringValue(JsonbValue *v, const char *path)
{
	if (v->type != jbvString)
		JsonInvalid(path, psprintf("%s must be a string, not %s.", path, JsonTypeName(v)),
				  "Quote the value.");
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * An identifier (a code, sku, reference, email ...): a string of at most
 * maxlen characters without control characters (OmsCheckIdentifier), and
 * with nonempty not blank.
 */
char *
JsonString(JsonbValue *v, const char *path, int maxlen, bool nonempty)
{
	char	   *s = JsonStringValue(v, path);

	if (nonempty && strspn(s, " \t\r\n") == strlen(s))
		JsonInvalid(path, psprintf("%s must not be empty.", path), "Give a value.");
	OmsCheckIdentifier(s, path, maxlen);
	return s;
}

/* Free text (notes, names): a string within OmsCheckFreeText's bounds. */
char *
JsonText(JsonbValue *v, const char *path, int maxchars)
{
	char	   *s = JsonStringValue(v, path);

	OmsCheckFreeText(s, path, maxchars);
	return s;
}

JsonbContainer *
JsonObject(JsonbValue *v, const char *path)
{
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		JsonInvalid(path, psprintf("%s must be an object, not %s.", path, JsonTypeName(v)),
				  "Write it as {\"key\": value, ...}.");
	return v->val.binary.data;
}

JsonbContainer *
JsonArray(JsonbValue *v, const char *path)
{
	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		JsonInvalid(path, psprintf("%s must be an array, not %s.", path, JsonTypeName(v)),
				  "Write it as [...].");
	return v->val.binary.data;
}

/* which document the JSON helpers are validating, for their messages */
const char *JsonDocument = "order";

/*
 * A number for a message: as numeric_out writes it, or in scientific
 * notation when that is longer than 40 characters (1e400 is 1.000000e+400,
 * not 401 digits).
 */
char *
OmsNumericText(Datum n)
{
	char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, n));

	if (strlen(s) > 40)
		s = numeric_out_sci(DatumGetNumeric(n), 6);
	return s;
}

static bool
JsonNumericIsIntegral(Numeric n)
{
	Datum		t = DirectFunctionCall2(numeric_trunc, NumericGetDatum(n), Int32GetDatum(0));

	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(n), t)) == 0;
}

int32
JsonInt(JsonbValue *v, const char *path, int32 min, int32 max, const char *hint)
{
	Numeric		n;
	bool		err = false;
	int32		r;

	if (v->type != jbvNumeric)
		JsonInvalid(path, psprintf("%s must be a number, not %s.", path, JsonTypeName(v)),
				  "Write the number without quotes.");
	n = v->val.numeric;
	if (numeric_is_nan(n) || numeric_is_inf(n) || !JsonNumericIsIntegral(n))
		JsonInvalid(path, psprintf("%s must be a whole number, not %s.", path, OmsNumericText(NumericGetDatum(n))),
				  "Quantities and minutes are whole numbers.");
	r = numeric_int4_opt_error(n, &err);
	if (err || r < min || r > max)
		JsonInvalid(path, psprintf("%s must be between %d and %d, not %s.", path, min, max,
								   OmsNumericText(NumericGetDatum(n))),
				  hint);
	return r;
}

/*
 * The money rule of every API: a finite amount, rounded to the 4 decimals
 * the columns keep (once, here, so that every sum agrees), below 10^12, and
 * not negative (or, with positive, above 0). Returns false when it is not.
 */
bool
OmsMoneyRound(Datum amount, bool positive, Datum *rounded)
{
	Numeric		n = DatumGetNumeric(amount);
	Datum		limit = DirectFunctionCall1(int8_numeric, Int64GetDatum(INT64CONST(1000000000000)));
	Datum		zero = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
	int			sign;

	if (numeric_is_nan(n) || numeric_is_inf(n))
		return false;
	*rounded = DirectFunctionCall2(numeric_round, amount, Int32GetDatum(4));
	sign = DatumGetInt32(DirectFunctionCall2(numeric_cmp, positive ? *rounded : amount, zero));
	if (positive ? sign <= 0 : sign < 0)
		return false;
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, *rounded, limit)) < 0;
}

Datum
JsonMoney(JsonbValue *v, const char *path)
{
	Datum		rounded;

	if (v->type != jbvNumeric)
		JsonInvalid(path, psprintf("%s must be a number, not %s.", path, JsonTypeName(v)),
					"Write amounts as JSON numbers, for example 12.50.");
	if (!OmsMoneyRound(NumericGetDatum(v->val.numeric), false, &rounded))
		JsonInvalid(path, psprintf("%s must be at least 0 and below 1000000000000, not %s.", path,
								   OmsNumericText(NumericGetDatum(v->val.numeric))),
					"Amounts are in the order's currency, never negative.");
	return rounded;
}

/*
 * The keys, strings and numbers of a JSON document, one per line: what the
 * card-number guard scans in free-form documents such as ship_to, so that
 * 4111111111111111 sent as a number, at any depth, is found like the
 * string. A number is written as numeric_out writes it. The values of the
 * top-level keys in skip (NULL-terminated) are left out: ship_to's lat and
 * lon, whose decimals are a long digit run that passes the Luhn check one
 * time in ten.
 */
char *
JsonScanText(JsonbContainer *c, const char *const *skip)
{
	StringInfoData out;
	JsonbIterator *it = JsonbIteratorInit(c);
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			depth = 0;
	int			skip_depth = 0; /* > 0: inside the value of a skipped key */
	bool		skip_next = false;	/* the next value belongs to a skipped key */

	initStringInfo(&out);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
		{
			depth++;
			if (skip_next)
				skip_depth = depth;
			skip_next = false;
			continue;
		}
		if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
		{
			if (depth == skip_depth)
				skip_depth = 0;
			depth--;
			continue;
		}
		if (skip_depth > 0)
			continue;
		if (tok == WJB_VALUE && skip_next)
		{
			skip_next = false;
			continue;
		}
		if (tok == WJB_KEY && depth == 1 && skip)
			for (const char *const *k = skip; *k; k++)
				if (strlen(*k) == (size_t) v.val.string.len &&
					strncmp(*k, v.val.string.val, v.val.string.len) == 0)
					skip_next = true;
		if (v.type == jbvString)
			appendBinaryStringInfo(&out, v.val.string.val, v.val.string.len);
		else if (v.type == jbvNumeric)
			appendStringInfoString(&out, DatumGetCString(DirectFunctionCall1(numeric_out,
																			 NumericGetDatum(v.val.numeric))));
		else
			continue;
		appendStringInfoChar(&out, '\n');
	}
	return out.data;
}

/*
 * The order line an entry {"line_no": n} or {"sku": s} names, among n
 * lines given by their numbers and skus: its index. A sku that two lines
 * share must be named by line_no. 22023 otherwise.
 */
int
JsonOrderLine(JsonbContainer *entry, const char *path, int64 order_id, int n,
			  const int32 *line_nos, char *const *skus)
{
	JsonbValue	buf;
	JsonbValue *f;
	int			found = -1;
	int			j;

	if ((f = JsonGet(entry, "line_no", &buf)) != NULL)
	{
		int32		no = JsonInt(f, psprintf("%s.line_no", path), 1, PG_INT32_MAX, "Use the line_no of oms.get_order.");

		for (j = 0; j < n; j++)
			if (line_nos[j] == no)
				found = j;
		if (found < 0)
			JsonInvalid(psprintf("%s.line_no", path), psprintf("Order " INT64_FORMAT " has no line %d.", order_id, no),
						"Use the line_no of oms.get_order.");
	}
	else if ((f = JsonGet(entry, "sku", &buf)) != NULL)
	{
		char	   *sku = JsonString(f, psprintf("%s.sku", path), OMS_MAX_SKU_CHARS, true);

		for (j = 0; j < n; j++)
			if (strcmp(skus[j], sku) == 0)
			{
				if (found >= 0)
					JsonInvalid(psprintf("%s.sku", path),
								psprintf("Order " INT64_FORMAT " has several lines with sku %s.", order_id, sku),
								"Name the line by line_no.");
				found = j;
			}
		if (found < 0)
			JsonInvalid(psprintf("%s.sku", path), psprintf("Order " INT64_FORMAT " has no line with sku %s.", order_id, sku),
						"Use a sku of the order.");
	}
	else
		JsonInvalid(path, psprintf("%s needs line_no or sku.", path), "Name the line by line_no or sku.");
	return found;
}
