/*-------------------------------------------------------------------------
 *
 * card_guard.c
 *	  The card-number (PAN) guard: OmsContainsCardNumber() finds what looks
 *	  like a payment card number in a text, OmsCheckNoCardNumber() rejects a
 *	  field that holds one (22023), and oms.contains_card_number(text) offers
 *	  the same test to CHECK constraints.
 *
 *	  The trigger oms.refuse_card_number(column, ...) guards the tables
 *	  oms_admin writes with plain SQL. The bounds of free text (its length
 *	  and this guard together) are in text_bounds.c.
 *
 *	  oms never stores a card number: only PSP tokens, brand, last four
 *	  digits and expiry. The areas that accept free text from a caller
 *	  (orders, status reasons, payments, shipments, returns) run it through
 *	  this guard. Pure C over the string; it calls no other oms file.
 *	  Refusals name the field and never echo the value.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "oms.h"

/*
 * Does the text contain something that looks like a payment card number?
 *
 * The text is normalised while it is read, one character (code point) at a
 * time, so that the way a number is written does not hide it:
 *
 *	- a digit is 0-9 or a full-width digit (U+FF10 to U+FF19);
 *	- a blank is any white space (space, tab, newline, CR, VT, FF), a
 *	  Unicode space (U+00A0, U+2000 to U+200A, U+202F, U+205F, U+3000) or a
 *	  zero-width character (U+200B to U+200D, U+2060, U+FEFF); a run of
 *	  blanks, however long, counts as one separator character, so that
 *	  "4111    1111" and "4111 \n 1111" are one number;
 *	- any other character that is not a letter or digit (ASCII punctuation,
 *	  control characters, Unicode general punctuation U+2010 to U+205E such
 *	  as dashes and bullets, full-width punctuation) is one separator
 *	  character;
 *	- a letter (any other character) ends the number.
 *
 * Digits separated by a run of at most three separator characters are one
 * run, read as groups ("4111/1111/1111/1111", "4111, 1111, 1111, 1111",
 * "4111_1111_1111_1111"). Any span of consecutive groups of a run that
 * holds 13 to 19 digits and passes the Luhn check is a card number, so a
 * PAN next to other digits ("order 2 4242424242424242", "4111 1111 1111
 * 1111 12/30") is found too. A single unbroken group longer than 19 digits
 * (a tracking number) is not a card number, and neither is a span of fewer
 * than 13 digits (a 12-digit reference, a date, most phone numbers).
 *
 * False positives: any 13 to 19 digit span passes the Luhn check one time in
 * ten, so a 14-digit GTIN, a 15-digit tracking number or a date with time
 * and seconds ("2026-12-04 19:07:49") written into a scanned free-text field
 * is refused one time in ten. The fields meant for such numbers are typed
 * (oms.gtin) or documented exceptions (external_id), see the README.
 *
 * Non-UTF8 databases: bytes above 0x7F count as letters (the conservative
 * choice, nothing but ASCII is normalised there).
 */
static bool
OmsLuhn(const int *digits, int n)
{
	int			sum = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		int			d = digits[n - 1 - i];

		if (i % 2 == 1)
		{
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return sum % 10 == 0;
}

/* what one character of the text is, for the scan */
typedef enum PanChar
{
	PAN_DIGIT,					/* 0-9, full-width digits */
	PAN_BLANK,					/* white space, Unicode spaces, zero-width */
	PAN_PUNCT,					/* other non-alphanumeric: one separator */
	PAN_LETTER					/* ends a number */
} PanChar;

#define PAN_MAX_DIGITS	256
#define PAN_MAX_GROUPS	128

/*
 * Classify the character at *p, set *len to its length in bytes and *digit
 * to its value when it is a digit.
 */
static PanChar
OmsPanClassify(const unsigned char *p, bool utf8, int *len, int *digit)
{
	pg_wchar	c;

	*len = 1;
	if (*p < 0x80)
	{
		if (*p >= '0' && *p <= '9')
		{
			*digit = *p - '0';
			return PAN_DIGIT;
		}
		if (*p == ' ' || (*p >= '\t' && *p <= '\r'))
			return PAN_BLANK;
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
			return PAN_LETTER;
		return PAN_PUNCT;		/* punctuation and control characters */
	}
	if (!utf8)
		return PAN_LETTER;
	*len = pg_utf_mblen(p);
	/* a truncated sequence: count what is left as one letter */
	for (int i = 1; i < *len; i++)
		if (p[i] == '\0')
		{
			*len = i;
			return PAN_LETTER;
		}
	c = utf8_to_unicode(p);
	if (c >= 0xFF10 && c <= 0xFF19)
	{
		*digit = (int) (c - 0xFF10);
		return PAN_DIGIT;
	}
	if (c == 0x00A0 || (c >= 0x2000 && c <= 0x200D) || c == 0x202F ||
		c == 0x205F || c == 0x2060 || c == 0x3000 || c == 0xFEFF)
		return PAN_BLANK;
	if ((c >= 0x2010 && c <= 0x205E) || (c >= 0xFF01 && c <= 0xFF0F) ||
		(c >= 0xFF1A && c <= 0xFF20) || c == 0x00B7 || c == 0x2212 ||
		c == 0x3001 || c == 0x3002)
		return PAN_PUNCT;
	return PAN_LETTER;
}

/* a span of consecutive groups, 13 to 19 digits, passing Luhn? */
static bool
OmsPanRunHasCard(const int *digits, const int *gstart, const int *glen, int ngroups)
{
	for (int i = 0; i < ngroups; i++)
	{
		int			total = 0;

		for (int j = i; j < ngroups; j++)
		{
			total += glen[j];
			if (total > 19)
				break;
			if (total >= 13 && OmsLuhn(digits + gstart[i], total))
				return true;
		}
	}
	return false;
}

bool
OmsContainsCardNumber(const char *s)
{
	const unsigned char *p = (const unsigned char *) s;
	bool		utf8 = GetDatabaseEncoding() == PG_UTF8;
	int			digits[PAN_MAX_DIGITS];
	int			gstart[PAN_MAX_GROUPS];
	int			glen[PAN_MAX_GROUPS];
	int			ngroups = 0;
	int			ndigits = 0;
	int			sep = 0;		/* separator characters since the last digit */
	bool		blank = false;	/* the last character was a blank */
	bool		skip = false;	/* in a group too long to be a card number */

	for (;;)
	{
		int			len = 1;
		int			digit = 0;
		PanChar		k = *p ? OmsPanClassify(p, utf8, &len, &digit) : PAN_LETTER;

		if (k == PAN_DIGIT && skip && sep == 0)
			blank = false;	/* the rest of an over-long group */
		else if (k == PAN_DIGIT)
		{
			/* a long separator, or a full buffer, ends the run */
			if (ngroups > 0 && (sep > 3 || ndigits >= PAN_MAX_DIGITS ||
								(sep > 0 && ngroups >= PAN_MAX_GROUPS)))
			{
				if (OmsPanRunHasCard(digits, gstart, glen, ngroups))
					return true;
				/* an unbroken group filled the buffer: skip its rest */
				skip = (sep == 0);
				ngroups = ndigits = 0;
				if (skip)
				{
					p += len;
					continue;
				}
			}
			skip = false;
			if (ngroups == 0 || sep > 0)
			{
				gstart[ngroups] = ndigits;
				glen[ngroups++] = 0;
			}
			digits[ndigits++] = digit;
			glen[ngroups - 1]++;
			sep = 0;
			blank = false;
		}
		else if (k == PAN_BLANK)
		{
			if (!blank)
				sep++;
			blank = true;
		}
		else if (k == PAN_PUNCT)
		{
			sep++;
			blank = false;
		}
		else
		{
			/* a letter, or the end of the text, ends the run */
			if (ngroups > 0 && OmsPanRunHasCard(digits, gstart, glen, ngroups))
				return true;
			if (*p == '\0')
				return false;
			ngroups = ndigits = 0;
			sep = 0;
			blank = false;
			skip = false;
		}
		p += len;
	}
}

void
OmsCheckNoCardNumber(const char *value, const char *field)
{
	if (value && OmsContainsCardNumber(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s contains what looks like a payment card number", field),
				 errdetail("A run of 13 to 19 digits passing the Luhn check was found in %s; oms never stores card numbers.", field),
				 errhint("Send the payment provider's token, the card brand and the last four digits instead.")));
}

PG_FUNCTION_INFO_V1(contains_card_number);
/*
 * oms.contains_card_number(text): the PAN guard, for CHECK constraints.
 */
Datum
contains_card_number(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(OmsContainsCardNumber(text_to_cstring(PG_GETARG_TEXT_PP(0))));
}

PG_FUNCTION_INFO_V1(ship_to_contains_card_number);
/*
 * oms.ship_to_contains_card_number(jsonb): the PAN guard over an order's
 * ship_to, for orders_no_card_number_chk. Exactly what the SQL expression
 *   oms.contains_card_number(COALESCE(jsonb_path_query_array(
 *       CASE WHEN jsonb_typeof(ship_to) = 'object' THEN ship_to - '{lat,lon}'
 *            ELSE ship_to END,
 *       'strict $.** ? (@.type() == "string" || @.type() == "number")')::text, ''))
 * computes (every string and number at any depth, except the top-level
 * coordinates), with the path parsed once per backend: as a CHECK written
 * in SQL, that expression was parsed and planned again by every statement
 * that inserts an order. NULL is false.
 */
Datum
ship_to_contains_card_number(PG_FUNCTION_ARGS)
{
	static Datum path = (Datum) 0;
	static Datum no_vars = (Datum) 0;
	Jsonb	   *ship_to;
	Datum		target;
	Datum		found;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	if (path == (Datum) 0)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		no_vars = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
		path = DirectFunctionCall1(jsonpath_in,
								   CStringGetDatum("strict $.** ? (@.type() == \"string\" || @.type() == \"number\")"));
		MemoryContextSwitchTo(old);
	}
	ship_to = PG_GETARG_JSONB_P(0);
	target = JsonbPGetDatum(ship_to);
	if (JB_ROOT_IS_OBJECT(ship_to))
	{
		Datum		coords[2] = {CStringGetTextDatum("lat"), CStringGetTextDatum("lon")};

		target = DirectFunctionCall2(jsonb_delete_array, target,
									 PointerGetDatum(construct_array(coords, 2, TEXTOID, -1, false, TYPALIGN_INT)));
	}
	found = DirectFunctionCall4(jsonb_path_query_array, target, path, no_vars, BoolGetDatum(false));
	PG_RETURN_BOOL(OmsContainsCardNumber(DatumGetCString(DirectFunctionCall1(jsonb_out, found))));
}

PG_FUNCTION_INFO_V1(refuse_card_number);
/*
 * Trigger oms.refuse_card_number(column, ...): BEFORE INSERT OR UPDATE FOR
 * EACH ROW, refuses a row whose named columns (text or text[]) hold a card
 * number, with a clean 22023 naming table and column. Used on the tables
 * oms_admin writes with plain SQL, where no C entry point checks first: a
 * CHECK constraint would do the same, but its DETAIL echoes the failing
 * row, card number included, into the client and the server log.
 */
Datum
refuse_card_number(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *trigger;
	TupleDesc	tupdesc;
	HeapTuple	tuple;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		elog(ERROR, "refuse_card_number: must be fired BEFORE INSERT OR UPDATE FOR EACH ROW");
	trigger = trigdata->tg_trigger;
	tupdesc = trigdata->tg_relation->rd_att;
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;

	for (int i = 0; i < trigger->tgnargs; i++)
	{
		const char *col = trigger->tgargs[i];
		int			attnum = SPI_fnumber(tupdesc, col);
		char	   *value;

		if (attnum <= 0)
			elog(ERROR, "refuse_card_number: no column \"%s\" in \"%s\"", col,
				 RelationGetRelationName(trigdata->tg_relation));
		value = SPI_getvalue(tuple, tupdesc, attnum);
		if (value && OmsContainsCardNumber(value))
		{
			char	   *field = psprintf("%s.%s", RelationGetRelationName(trigdata->tg_relation), col);

			OmsCheckNoCardNumber(value, field);
		}
	}
	return PointerGetDatum(tuple);
}
