/*-------------------------------------------------------------------------
 *
 * payments.h
 *	  Private declarations of the payments subsystem: the helpers that
 *	  payments.c and stored_value.c give to the other files of payments
 *	  (payment_authorize.c, stored_value.c). What other areas call
 *	  (PaymentsCancelOrder, PaymentsRefundOrder, ...) is in oms.h.
 *
 *	  Every payment action locks the order row first, then the payment,
 *	  then stored-value accounts: the lock order in the banner of
 *	  payments.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMS_PAYMENTS_H
#define OMS_PAYMENTS_H

#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

#include "oms.h"

/* ---- payments.c ---- */

/* numeric 0 */
extern Datum PayZero(void);
/* a numeric as text */
extern char *PayNum(Datum d);
/* numeric comparison: <0, 0, >0 */
extern int	PayCmp(Datum a, Datum b);
/* book one payment action: journal entry, transaction row and outbox event */
extern void PayBook(int64 payment_id, int64 order_id, const char *kind, Datum amount,
					const char *reason, int64 rma_id);
/* the payment document, with a note (NULL: none); jsonb in the caller's memory */
extern Datum PayDocument(int64 payment_id, const char *note);

/* Validate a money argument and round it to the columns' 4 decimals. */
static inline Datum
PayCheckAmount(Datum amount, const char *name)
{
	Datum		rounded;

	if (!OmsMoneyRound(amount, true, &rounded))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be greater than 0 and below 1000000000000", name),
				 errdetail("The value given was %s; amounts keep 4 decimals.", OmsNumericText(amount)),
				 errhint("Amounts are positive, in the order's currency.")));
	return rounded;
}

/* ---- stored_value.c ---- */

/* a gift card code as typed (with spaces or dashes): at most this many characters */
#define OMS_MAX_GIFT_CARD_CODE_CHARS	100
/* SHA-256 of a normalized gift card code; *last4 (if not NULL) its last 4 */
extern bytea *PayCodeHash(const char *code, char **last4);

#endif							/* OMS_PAYMENTS_H */
