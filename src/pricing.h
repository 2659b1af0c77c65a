/*-------------------------------------------------------------------------
 *
 * pricing.h
 *	  The pricing subsystem: price lists (src/pricing.c), promotions
 *	  (src/promotions.c) and their codes (src/promotion_codes.c). Placement
 *	  calls it through src/order_pricing.c; nothing here knows an order.
 *
 *	  The files, lowest first (each calls only files listed before it):
 *	    pricing.c          price lists: PricingResolve, oms.price()
 *	    promotion_codes.c  code uses taken with guarded updates and given
 *	                       back (PromotionCodesTake, PromotionCodesRelease)
 *	    promotions.c       which promotions apply and what each gives
 *	                       (PromotionsApply, PricingFreeShipping)
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMS_PRICING_H
#define OMS_PRICING_H

#include "oms.h"

/* who and where an order is priced for */
typedef struct PricingContext
{
	int32		channel_id;
	const char *currency;
	int64		customer_id;	/* 0: a guest */
	Datum		flags;			/* text[]: the customer's flags ('{}' for a guest) */
} PricingContext;

/* one line to price and discount */
typedef struct PricingLine
{
	/* input */
	int			line_no;
	const char *sku;			/* for messages */
	int64		product_id;
	int32		qty;
	bool		given;			/* the document gave unit_price */
	Datum		unit_price;		/* numeric: given, or the list's once resolved */
	Datum		discount;		/* numeric: the whole line's discount (given, then promotions) */

	/* PricingResolve: the price lists' answer */
	bool		listed;			/* a list prices the line */
	Datum		list_price;		/* numeric */
	int64		price_list_id;
	/*
	 * The list's prices_include_tax: whether list_price is gross.
	 * OrdersPricingApply passes it to the line (PoPrice.includes_tax),
	 * where the tax step (src/order_charges.c) splits the tax out of a
	 * gross price instead of adding it.
	 */
	bool		prices_include_tax;
} PricingLine;

/* ---- pricing.c ---- */

/* every line's best list price (listed false when no list prices it) */
extern void PricingResolve(const PricingContext *ctx, PricingLine *lines, int n);

/* ---- promotion_codes.c ---- */

/*
 * Take one use of the code (and of the customer's allowance, when the code
 * has a per-customer limit) with guarded updates; false, with nothing
 * taken, when a limit is reached (*per_customer tells which).
 */
extern bool PromotionCodesTake(int64 code_id, int64 customer_id, bool per_customer_limit, bool *per_customer);
/* give back one use taken by PromotionCodesTake in this transaction */
extern void PromotionCodesUntake(int64 code_id, int64 customer_id, bool per_customer_limit);
/* give back every live code use of these orders (cancel, expiry) */
extern void PromotionCodesRelease(int64 *order_ids, int norders);

/* ---- promotions.c ---- */

/* a code the document sent, and what became of it */
typedef struct PromoCode
{
	char	   *code;			/* upper case */
	int64		code_id;		/* 0: unknown */
	bool		per_customer_limit;
	bool		applied;
	const char *refusal;		/* NULL when applied */
	const char *sqlstate;		/* the refusal's SQLSTATE (OM010..OM015) */
	char	   *detail;			/* the refusal in a sentence */
} PromoCode;

/* a discount a promotion put on a line, or free shipping (line -1) */
typedef struct PromoApplied
{
	int			line;			/* index into the lines, -1: free shipping */
	int64		promotion_id;
	int64		code_id;		/* 0: automatic */
	Datum		amount;			/* numeric */
} PromoApplied;

typedef struct PromoOutcome
{
	PromoCode  *codes;
	int			ncodes;
	PromoApplied *applied;
	int			napplied;
	bool		free_shipping;
} PromoOutcome;

/*
 * Apply the automatic promotions in scope and the codes to the priced
 * lines: adds to each line's discount, takes the codes' uses, and fills
 * *out. A refused code raises its SQLSTATE when codes_required, and is
 * reported in *out otherwise.
 */
extern void PromotionsApply(const PricingContext *ctx, PricingLine *lines, int n,
							PromoCode *codes, int ncodes, bool codes_required, PromoOutcome *out);

/*
 * Does the order ship free? True when a free_shipping promotion applied.
 * Pricing decides eligibility and records it (oms.order_promotions,
 * free_shipping); OrdersPricingApply passes it to the shipping charge
 * (ChargesShippingInput.free_shipping, src/order_charges.c), which is 0.
 */
extern bool PricingFreeShipping(const PromoOutcome *out);

#endif							/* OMS_PRICING_H */
