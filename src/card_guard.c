/*-------------------------------------------------------------------------
 *
 * card_guard.c
 *	  The card-number (PAN) guard: OmsContainsCardNumber() finds what looks
 *	  like a payment card number in a text, OmsCheckNoCardNumber() rejects a
 *	  field that holds one (22023), and oms.contains_card_number(text) offers
 *	  the same test to CHECK constraints.
 *
 *	  oms never stores a card number: only PSP tokens, brand, last four
 *	  digits and expiry. The areas that accept free text from a caller
 *	  (orders, status reasons, payments, shipments, returns) run it through
 *	  this guard. Pure C over the string; it calls no other oms file.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "oms.h"

/*
 * Does the text contain something that looks like a payment card number?
 * Digits are read in groups separated by up to three spaces, dashes or dots
 * ("4111 1111 1111 1111", "4111-1111-1111-1111", "4111.1111..."). A group
 * of 13 to 19 digits, or consecutive groups in a card layout (4-4-4-4 with
 * a last group of 1 to 4 digits, 4-6-5, 4-6-4), that passes the Luhn check
 * is a card number, so a PAN next to other digits ("order 2
 * 4242424242424242", "4111 1111 1111 1111 12/30") is found too. A single
 * unbroken run longer than 19 digits (a tracking number) and other
 * groupings (phone numbers, "302-5518842-1190735") are not. oms never
 * stores a card number: only PSP tokens, brand, last four digits and
 * expiry.
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

bool
OmsContainsCardNumber(const char *s)
{
	const char *p = s;

	while (*p)
	{
		/* one run: digit groups separated by spaces, dashes or dots */
		int			digits[256];
		int			gstart[128];
		int			glen[128];
		int			ngroups = 0;
		int			ndigits = 0;
		int			i,
					j;

		if (*p < '0' || *p > '9')
		{
			p++;
			continue;
		}
		while (*p && ngroups < 128)
		{
			const char *q;

			gstart[ngroups] = ndigits;
			glen[ngroups] = 0;
			while (*p >= '0' && *p <= '9')
			{
				if (ndigits < 256)
				{
					digits[ndigits++] = *p - '0';
					glen[ngroups]++;
				}
				p++;
			}
			ngroups++;
			/* a separator continues the run only if more digits follow */
			q = p;
			while (*q == ' ' || *q == '-' || *q == '.')
				q++;
			if (q == p || q - p > 3 || *q < '0' || *q > '9')
				break;
			p = q;
		}
		/*
		 * Candidates: one unbroken group of 13 to 19 digits, or consecutive
		 * groups laid out as cards print them: fours with a last group of 1
		 * to 4 (4-4-4-4, 4-4-4-4-3), or 4-6-5 and 4-6-4 (Amex, Diners).
		 * Other groupings (phone numbers, 3-7-7 marketplace order numbers)
		 * are not card numbers.
		 */
		for (i = 0; i < ngroups; i++)
		{
			int			total = 0;

			if (glen[i] >= 13 && glen[i] <= 19 && OmsLuhn(digits + gstart[i], glen[i]))
				return true;
			if (glen[i] != 4)
				continue;
			/* fours, then a last group of 1 to 4 */
			for (j = i; j < ngroups; j++)
			{
				total += glen[j];
				if (total > 19 || glen[j] > 4)
					break;
				if (j > i && total >= 13 && OmsLuhn(digits + gstart[i], total))
					return true;
				if (glen[j] != 4)
					break;
			}
			/* 4-6-5 and 4-6-4 */
			if (i + 2 < ngroups && glen[i + 1] == 6 && (glen[i + 2] == 5 || glen[i + 2] == 4) &&
				OmsLuhn(digits + gstart[i], 10 + glen[i + 2]))
				return true;
		}
	}
	return false;
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

