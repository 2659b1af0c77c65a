/*-------------------------------------------------------------------------
 *
 * gtin.c
 *	  The oms.gtin data type: Global Trade Item Numbers with check-digit
 *	  validation.
 *
 *	  Accepted input is GTIN-8, UPC-A (GTIN-12), EAN-13 (GTIN-13) and
 *	  GTIN-14, optionally surrounded by white space. Every form is a
 *	  left-zero-padded GTIN-14, so the value is stored as one int64 holding
 *	  the 14-digit number (pass-by-value, 8 bytes) and is always printed in
 *	  its canonical 14-digit form; oms.gtin_short() gives the shortest form.
 *	  Because zero padding changes neither the number nor the GS1 mod-10
 *	  check digit, "same product" and "equal value" coincide: 4006381333931
 *	  and 04006381333931 are one GTIN.
 *
 *	  Input errors raise 22P02 (invalid_text_representation) with a detail
 *	  naming the exact problem; binary input is validated the same way, so a
 *	  value of this type is always a valid GTIN whatever the client sends.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "fmgr.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/sortsupport.h"

#include "oms.h"

typedef enum GtinParseStatus
{
	GTIN_OK,
	GTIN_EMPTY,
	GTIN_NOT_DIGIT,
	GTIN_BAD_LENGTH,
	GTIN_ALL_ZERO,
	GTIN_BAD_CHECK
} GtinParseStatus;

typedef struct GtinParseResult
{
	GtinParseStatus status;
	Gtin		value;
	int			ndigits;		/* digits seen (BAD_LENGTH, BAD_CHECK) */
	int			badpos;			/* 1-based character position (NOT_DIGIT) */
	const char *badchar;		/* offending character (NOT_DIGIT) */
	int			given;			/* check digit given (BAD_CHECK) */
	int			expected;		/* check digit expected (BAD_CHECK) */
} GtinParseResult;

/*
 * GS1 mod-10 check digit of a GTIN body (the number without its check
 * digit): weights 3 and 1 alternate, starting with 3 at the rightmost digit.
 */
int
GtinCheckDigit(Gtin body)
{
	int			sum = 0;
	int			weight = 3;

	while (body > 0)
	{
		sum += (int) (body % 10) * weight;
		weight = (weight == 3) ? 1 : 3;
		body /= 10;
	}
	return (10 - sum % 10) % 10;
}

static inline bool
GtinValidLength(int n)
{
	return n == 8 || n == 12 || n == 13 || n == 14;
}

/* Parse without raising, so that gtin_in and oms.gtin_is_valid agree. */
static void
GtinParse(const char *str, GtinParseResult *res)
{
	const char *p = str;
	const char *start;
	const char *end;
	Gtin		v = 0;
	int			n = 0;

	memset(res, 0, sizeof(*res));

	while (*p && isspace((unsigned char) *p))
		p++;
	start = p;
	end = start + strlen(start);
	while (end > start && isspace((unsigned char) end[-1]))
		end--;

	if (start == end)
	{
		res->status = GTIN_EMPTY;
		return;
	}

	for (p = start; p < end; p += pg_mblen(p))
	{
		if (*p < '0' || *p > '9')
		{
			res->status = GTIN_NOT_DIGIT;
			res->badpos = (int) (p - str) + 1;
			res->badchar = p;
			return;
		}
		if (n < 14)
			v = v * 10 + (*p - '0');
		n++;
	}

	res->ndigits = n;
	if (!GtinValidLength(n))
	{
		res->status = GTIN_BAD_LENGTH;
		return;
	}
	if (v == 0)
	{
		res->status = GTIN_ALL_ZERO;
		return;
	}

	res->given = (int) (v % 10);
	res->expected = GtinCheckDigit(v / 10);
	if (res->given != res->expected)
	{
		res->status = GTIN_BAD_CHECK;
		return;
	}

	res->status = GTIN_OK;
	res->value = v;
}

/* Raise the 22P02 error that matches a failed parse. */
static void
GtinReportError(const char *str, const GtinParseResult *res)
{
	switch (res->status)
	{
		case GTIN_OK:
			break;
		case GTIN_EMPTY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type gtin: \"%s\"", str),
					 errdetail("The value is empty."),
					 errhint("A GTIN has 8, 12, 13 or 14 digits.")));
			break;
		case GTIN_NOT_DIGIT:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type gtin: \"%s\"", str),
					 errdetail("Character \"%.*s\" at position %d is not a digit.",
							   pg_mblen(res->badchar), res->badchar, res->badpos),
					 errhint("Write the GTIN as digits only, without spaces, dashes or prefixes.")));
			break;
		case GTIN_BAD_LENGTH:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type gtin: \"%s\"", str),
					 errdetail("The value has %d digits.", res->ndigits),
					 errhint("A GTIN has 8 (GTIN-8), 12 (UPC-A), 13 (EAN-13) or 14 (GTIN-14) digits.")));
			break;
		case GTIN_ALL_ZERO:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type gtin: \"%s\"", str),
					 errdetail("A GTIN cannot be all zeros."),
					 errhint("Use the number printed under the product's barcode.")));
			break;
		case GTIN_BAD_CHECK:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type gtin: \"%s\"", str),
					 errdetail("The check digit is %d, but the other digits require %d.",
							   res->given, res->expected),
					 errhint("Look for a mistyped or transposed digit.")));
			break;
	}
}

PG_FUNCTION_INFO_V1(gtin_in);
/*
 * Text input: GTIN-8, -12, -13 or -14 with a valid check digit.
 */
Datum
gtin_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	GtinParseResult res;

	GtinParse(str, &res);
	if (res.status != GTIN_OK)
		GtinReportError(str, &res);
	PG_RETURN_GTIN(res.value);
}

PG_FUNCTION_INFO_V1(gtin_out);
/*
 * Text output: always the canonical 14 digits.
 */
Datum
gtin_out(PG_FUNCTION_ARGS)
{
	Gtin		v = PG_GETARG_GTIN(0);

	PG_RETURN_CSTRING(psprintf("%014lld", (long long) v));
}

PG_FUNCTION_INFO_V1(gtin_recv);
/*
 * Binary input: an int8, validated exactly like text input.
 */
Datum
gtin_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int64		v = pq_getmsgint64(buf);

	if (v <= 0 || v > GTIN_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid external gtin value"),
				 errdetail("The value %lld is outside 1 to 99999999999999.", (long long) v),
				 errhint("Send a GTIN as the int8 of its 14-digit form.")));
	if (GtinCheckDigit(v / 10) != (int) (v % 10))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid external gtin value"),
				 errdetail("The check digit of %014lld is wrong.", (long long) v),
				 errhint("Send a GTIN as the int8 of its 14-digit form.")));
	PG_RETURN_GTIN(v);
}

PG_FUNCTION_INFO_V1(gtin_send);
/*
 * Binary output: the 14-digit number as an int8.
 */
Datum
gtin_send(PG_FUNCTION_ARGS)
{
	Gtin		v = PG_GETARG_GTIN(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint64(&buf, v);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(gtin_short);
/*
 * oms.gtin_short(gtin): the shortest of GTIN-8, -12, -13 and -14 that
 * holds the value (the leading zeros it drops are padding).
 */
Datum
gtin_short(PG_FUNCTION_ARGS)
{
	Gtin		v = PG_GETARG_GTIN(0);
	int			width;

	if (v < INT64CONST(100000000))
		width = 8;
	else if (v < INT64CONST(1000000000000))
		width = 12;
	else if (v < INT64CONST(10000000000000))
		width = 13;
	else
		width = 14;
	PG_RETURN_TEXT_P(cstring_to_text(psprintf("%0*lld", width, (long long) v)));
}

PG_FUNCTION_INFO_V1(gtin_is_valid);
/*
 * oms.gtin_is_valid(text): true when the text is a valid GTIN, without
 * raising; for cleaning imported data.
 */
Datum
gtin_is_valid(PG_FUNCTION_ARGS)
{
	char	   *str = text_to_cstring(PG_GETARG_TEXT_PP(0));
	GtinParseResult res;

	GtinParse(str, &res);
	PG_RETURN_BOOL(res.status == GTIN_OK);
}

/* Comparison operators: the int64 order is the canonical text order. */
#define GTIN_CMP_FUNC(name, op) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_BOOL(PG_GETARG_GTIN(0) op PG_GETARG_GTIN(1)); \
}

GTIN_CMP_FUNC(gtin_lt, <)
GTIN_CMP_FUNC(gtin_le, <=)
GTIN_CMP_FUNC(gtin_eq, ==)
GTIN_CMP_FUNC(gtin_ne, !=)
GTIN_CMP_FUNC(gtin_ge, >=)
GTIN_CMP_FUNC(gtin_gt, >)

PG_FUNCTION_INFO_V1(gtin_cmp);
/*
 * btree support 1: three-way comparison.
 */
Datum
gtin_cmp(PG_FUNCTION_ARGS)
{
	Gtin		a = PG_GETARG_GTIN(0);
	Gtin		b = PG_GETARG_GTIN(1);

	PG_RETURN_INT32((a > b) - (a < b));
}

PG_FUNCTION_INFO_V1(gtin_sortsupport);
/*
 * btree support 2: sort with the built-in signed-datum comparator.
 */
Datum
gtin_sortsupport(PG_FUNCTION_ARGS)
{
	SortSupport ssup = (SortSupport) PG_GETARG_POINTER(0);

	ssup->comparator = ssup_datum_signed_cmp;
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(gtin_hash);
/*
 * hash support 1: same hash as int8, so hash joins against int8 would agree.
 */
Datum
gtin_hash(PG_FUNCTION_ARGS)
{
	return DirectFunctionCall1(hashint8, PG_GETARG_DATUM(0));
}

PG_FUNCTION_INFO_V1(gtin_hash_extended);
/*
 * hash support 2: seeded 64-bit hash (hash partitioning).
 */
Datum
gtin_hash_extended(PG_FUNCTION_ARGS)
{
	return DirectFunctionCall2(hashint8extended, PG_GETARG_DATUM(0),
							   PG_GETARG_DATUM(1));
}
