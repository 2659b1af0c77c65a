/*-------------------------------------------------------------------------
 *
 * text_bounds.c
 *	  The bounds of every text a caller hands to oms (issue 13, bounded
 *	  inputs), in two kinds:
 *
 *	  - free text (reasons, notes, references, names): at most a number of
 *	    characters and no card number (OmsCheckFreeText);
 *	  - identifiers (codes, skus, external ids and references, emails,
 *	    tracking numbers, gift card codes, consumer names, the keys of a
 *	    document): at most a number of characters and no control character
 *	    (OmsCheckIdentifier, and OmsIdentifierArg for a text argument).
 *
 *	  Lengths are counted in characters, never bytes: 1,000 euro signs are
 *	  1,000 characters (3,000 bytes). Every refusal is 22023 naming the
 *	  field, and none echoes the value: a long value would flood the log,
 *	  and a control character (a line break, an escape sequence) garbles
 *	  it. A check runs before any message that does echo the value ("unknown
 *	  sku ..."), so that what is echoed is short and printable.
 *
 *	  Calls card_guard.c (the card-number scan) and spi.c (OmsRequireArg).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "oms.h"

/* 22023: field has n characters, more than maxchars */
static void
OmsTooLong(const char *field, int n, int maxchars, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s is too long", field),
			 errdetail("%s has %d characters; at most %d are allowed.", field, n, maxchars),
			 errhint("%s", hint)));
}

/*
 * The bounds every free-text field shares: at most maxchars characters
 * and no card number. 22023 naming the field; the value is never echoed.
 */
void
OmsCheckFreeText(const char *value, const char *field, int maxchars)
{
	int			n;

	if (value == NULL)
		return;
	n = pg_mbstrlen(value);
	if (n > maxchars)
		OmsTooLong(field, n, maxchars,
				   "Shorten the text; keep long documents outside oms and store a reference to them.");
	OmsCheckNoCardNumber(value, field);
}

/*
 * Is c a control character? C0 (U+0000 to U+001F), DEL (U+007F) and C1
 * (U+0080 to U+009F). C1 is only told apart in a UTF8 database: in the
 * single-byte encodings, bytes 0x80 to 0x9F are letters (WIN1252) as often
 * as control characters (LATIN1), and they are let through.
 */
static inline bool
OmsIsControl(pg_wchar c)
{
	return c < 0x20 || (c >= 0x7F && c <= 0x9F);
}

/*
 * The bounds of an identifier: at most maxchars characters, and no control
 * character. 22023 naming the field; the value is never echoed, only the
 * position and code point of the first control character.
 */
void
OmsCheckIdentifier(const char *value, const char *field, int maxchars)
{
	bool		utf8 = GetDatabaseEncoding() == PG_UTF8;
	const unsigned char *p = (const unsigned char *) value;
	int			n;
	int			pos;

	if (value == NULL)
		return;
	n = pg_mbstrlen(value);
	if (n > maxchars)
		OmsTooLong(field, n, maxchars,
				   "Check that the right value was passed: codes, skus and references are short.");
	for (pos = 1; *p; pos++)
	{
		pg_wchar	c = (utf8 && *p >= 0x80) ? utf8_to_unicode(p) : *p;

		if (OmsIsControl(c))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s contains a control character", field),
					 errdetail("Character %d of %s is U+%04X; identifiers contain no control characters (U+0000 to U+001F, U+007F to U+009F).",
							   pos, field, (unsigned int) c),
					 errhint("Remove tabs, line breaks and other control characters; the value is not shown, as they garble logs.")));
		p += pg_mblen((const char *) p);
	}
}

/*
 * A text argument that is an identifier: not NULL (22004), within the
 * bounds of OmsCheckIdentifier.
 */
char *
OmsIdentifierArg(FunctionCallInfo fcinfo, int argno, const char *field, int maxchars)
{
	char	   *s;

	OmsRequireArg(fcinfo, argno, field);
	s = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	OmsCheckIdentifier(s, field, maxchars);
	return s;
}
