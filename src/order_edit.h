/*-------------------------------------------------------------------------
 *
 * order_edit.h
 *	  Private header of order editing (src/order_edit.c, the entry points,
 *	  and src/order_edit_apply.c, what an edit does): the edit as both
 *	  files see it. order_edit.c loads the order and its lines and applies
 *	  the requested changes to this picture, validating each; then
 *	  order_edit_apply.c makes stock, lines, totals, status and money
 *	  follow it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMS_ORDER_EDIT_H
#define OMS_ORDER_EDIT_H

#include "orders.h"

/* one line of the order, before and after the edit */
typedef struct EdLine
{
	int64		id;				/* 0: added by this edit */
	int			line_no;
	OmsProduct	product;
	char	   *sku;
	int64		substituted_for;	/* 0: none */
	int32		qty;
	int32		reserved;
	int32		backordered;
	int32		shipped;
	int32		cancelled;
	int32		pending;		/* units in pending shipments */
	Datum		unit_price;		/* numeric */
	Datum		discount;
	Datum		tax;
	/* as loaded, for the diff */
	char	   *old_sku;
	int32		old_qty;
	int32		old_cancelled;
	Datum		old_unit_price;
	Datum		old_discount;
	Datum		old_tax;

	/* what the edit asked of the line */
	bool		touched;
	bool		swapped;		/* product changed (substitute) */

	/* the plan (order_edit_apply.c) */
	bool		release_all;	/* its reservations are released, its held units routed again */
	int32		bo_keep;		/* backordered units kept */
	int32		ask;			/* units routed by this edit */
	int32		added;			/* of ask, units the edit added (the order's policy applies) */
	int			work;			/* index in the OrderWork, -1: none */
	/* outcome */
	int32		got_reserved;
	int32		got_backordered;
	int32		got_cancelled;
} EdLine;

typedef struct EdEdit
{
	/* the call */
	int64		order_id;
	bool		cancel_mode;	/* cancel_lines: units are cancelled, qty stays */
	const char *kind;			/* edit_order or cancel_lines */
	char	   *edit_id;
	char	   *reason;
	uint8		digest[32];

	/* the order, locked */
	char	   *status;
	char	   *held_from;		/* NULL: not on hold */
	char	   *channel;
	char	   *external_id;
	char	   *policy;
	OrderShortfall shortfall;
	OrderRouteInputs route;
	int64		customer_id;
	Datum		total_before;
	char	   *ship_to_before; /* JSON text or NULL */

	/* the new ship-to */
	bool		ship_to_changed;
	char	   *ship_to;		/* JSON text */
	bool		rerouted;

	/* the lines, loaded and then edited in place; new lines appended */
	int			nlines;
	int			maxlines;
	EdLine	   *lines;

	/* outcome (order_edit_apply.c) */
	Datum		total_after;
	char	   *status_after;
	int64		units_backordered;	/* by this edit */
	char	   *refunds;		/* JSON array text */
	char	   *voids;			/* JSON array text */
	char	   *filled;			/* JSON array text */
	bool		completed;		/* nothing else owed: the order moved on */
} EdEdit;

/* ---- order_edit_apply.c ---- */

/* make stock, lines, totals, status and money follow the edited picture */
extern void EdApply(EdEdit *e);

#endif							/* OMS_ORDER_EDIT_H */
