/*-------------------------------------------------------------------------
 *
 * orders.h
 *	  Private header of the orders subsystem (src/order_*.c): the working
 *	  struct that the placement steps share with re-routing, the placement
 *	  document, and the prototypes the order_*.c files call in each other.
 *	  What other areas may call of the orders subsystem is declared in oms.h
 *	  ("orders" section); nothing here is for them.
 *
 *	  The files and what each calls of the others (a layered graph, lowest
 *	  first: each calls only files listed before it):
 *	    order_document.c  the order document (get_order)
 *	    order_parse.c     the place_order document parsed and validated
 *	    order_substitute.c substitutes of short products (oms.product_substitutes)
 *	    order_pricing.c   price authority and promotions in placement and
 *	                      edits (calls order_parse.c and the pricing
 *	                      subsystem, src/pricing.h)
 *	    order_steps.c     the placement steps shared with re-routing and edits
 *	                      (calls order_substitute.c for OM001's detail)
 *	    order_place.c     place_order and its named steps (calls order_parse.c,
 *	                      order_document.c, order_substitute.c, order_steps.c)
 *	    order_reroute.c   re-routing after a rejection (calls order_steps.c)
 *	    order_release.c   release of reservations and backorders, expiry
 *	    order_actions.c   cancel_order, set_order_status, hold_order,
 *	                      release_hold: the order actions that orchestrate
 *	                      payments.c and fulfillment.c, so they sit above them
 *	                      (calls order_release.c, order_document.c)
 *	    order_edit.c      edit_order and cancel_lines: parse, validate, the
 *	                      new version, its event and answer (calls
 *	                      order_edit_apply.c, order_document.c, order_parse.c)
 *	    order_edit_apply.c what an edit does to stock, lines, totals, status
 *	                      and money (calls order_steps.c, payments.c)
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMS_ORDERS_H
#define OMS_ORDERS_H

#include "utils/jsonb.h"

#include "oms.h"
#include "routing.h"

/*
 * OrderWork: an order's lines on their way through routing and reservation
 * ----------------------------------------------------------------------
 * The interface between the phase that asks for stock (place_order, or
 * re-routing after a rejection) and the steps that get it, in order:
 *
 *	 OrdersLoadKits -> OrdersBuildDemand -> OrdersReserve -> OrdersDistribute
 *	 -> OrdersBookReservations
 *
 * Between the last two the caller writes its lines from the outcome
 * (reserved, backordered, cancelled); OrdersBookReservations needs each
 * line's id.
 *
 * The caller fills the INPUT part: the order (its id, and channel and
 * external_id for the movements' reference), its routing inputs
 * (OrderRouteInputs, passed on in the RouteRequest), the rule
 * for units that cannot be reserved, and the lines with the units each asks
 * to have routed. Each step fills its part of the rest and reads what the
 * steps before it filled; nothing else is read or written. Everything is
 * palloc'd in the caller's (SPI procedure) memory.
 */

/* What becomes of a line's units that no location can give now. */
typedef enum OrderShortfall
{
	ORDER_SHORT_REFUSE,			/* all_or_nothing: OM001, nothing is written */
	ORDER_SHORT_CANCEL,			/* partial: cancelled; OM001 only when nothing at all is reserved */
	ORDER_SHORT_BACKORDER		/* backordered, to be filled by a later receipt */
} OrderShortfall;

/* one order line asking for stock */
typedef struct OrderLine
{
	/* input */
	int			line_no;
	char	   *sku;			/* for messages */
	OmsProduct	product;		/* id and kind (stock, kit, service) */
	int32		qty;			/* units (kits, for a kit line) to route now */
	int64		id;				/* oms.order_lines.id, 0 until the line is written */

	/* output of OrdersDistribute: qty = reserved + backordered + cancelled */
	int32		reserved;
	int32		backordered;
	int32		cancelled;

	/* substitutes (order_substitute.c): "substitute": "allow" on the line */
	bool		substitute_allowed;
	Datum		substitute_price;	/* numeric substitute_unit_price, or 0 */
	int64		substituted_for;	/* the product asked for, 0: none */
	char	   *substituted_for_sku;
} OrderLine;

/* a component of one of the order's kits (OrdersLoadKits) */
typedef struct OrderComponent
{
	int64		kit_id;
	int64		component_id;
	int32		qty;			/* units per kit */
	char	   *sku;
} OrderComponent;

/* units reserved in a balance row by this call (OrdersReserve) */
typedef struct OrderTaken
{
	int64		product_id;
	int32		location_id;
	int32		group;			/* the demand group the units were routed for */
	int32		qty;			/* reserved in the balance by this call */
	int32		used;			/* handed to lines (OrdersDistribute) */
	const char *location_code;	/* the location's code, for the document */
} OrderTaken;

/* one reservation row to write: line index, product, location, units */
typedef struct OrderPiece
{
	int			line;
	int64		product_id;
	int32		location_id;
	int32		qty;
	const char *location_code;	/* for the document */
} OrderPiece;

/* the order's own inputs to routing (RouteRequest): its channel and destination */
typedef struct OrderRouteInputs
{
	int32		channel_id;
	bool		has_coords;
	double		lat;
	double		lon;
	int32		pickup_location_id; /* 0: ship */
	const char *split;			/* allow, avoid or forbid */
	bool		counter;		/* a counter sale (src/counter_sale.c): pickup_location_id sells over its counter */
	/* the delivery promise asked for (src/route_promise.c) */
	bool		has_deliver_by;
	int32		deliver_by;		/* DateADT */
	bool		express;
	const char *service_level;	/* standard, express or NULL */
	const char *currency;
} OrderRouteInputs;

typedef struct OrderWork
{
	/* input: the order */
	int64		order_id;
	char	   *channel;		/* code, for the movements' reference */
	char	   *external_id;
	/* input: where it may be served from */
	OrderRouteInputs route;
	OrderShortfall shortfall;
	/* input: the lines */
	int			nlines;
	OrderLine  *lines;

	/* OrdersLoadKits */
	OrderComponent *comps;
	int			ncomps;
	bool		any_reorder_point;	/* a demanded product has a reorder point */
	/* OrdersBuildDemand: per product, sorted by product_id */
	RouteDemand *demands;
	int			ndemands;
	/* OrdersReserve */
	OrderTaken *taken;
	int			ntaken;
	/* OrdersDistribute */
	OrderPiece *pieces;
	int			npieces;
	bool		any_backorder;
	int32		total_reserved_units;
} OrderWork;

/*
 * The place_order document, parsed and validated (order_parse.c): the
 * OrderWork inputs, and what only placement writes (the order row's own
 * columns, and each line's prices, parallel to work.lines).
 */
typedef struct PoPrice
{
	Datum		unit_price;		/* numeric */
	Datum		discount;		/* numeric */
	Datum		tax;			/* numeric */
	/* src/order_charges.c: whether the line sent tax; its price_includes_tax (-1: not sent) */
	bool		tax_given;
	int8		includes_tax;
	bool		gross;			/* the line was priced gross (ChargesLineGross) */
	bool		given;			/* unit_price was in the document (else: priced from the lists) */
} PoPrice;

/*
 * The shipping charge's inputs (src/order_charges.c, ChargesShipping): the
 * one place that decides the order's shipping charge.
 */
typedef struct ChargesShippingInput
{
	int64		order_id;
	Datum		amount;			/* numeric shipping.amount, (Datum) 0: not given */
	const char *quote;			/* shipping.quote: cheapest or fastest, NULL: not asked */
	bool		free_shipping;	/* a free-shipping promotion applies: the charge is 0 */
} ChargesShippingInput;

typedef struct PoOrder
{
	OrderWork	work;
	char	   *currency;
	char	   *policy;			/* all_or_nothing, partial or backorder (work.shortfall) */
	char	   *pickup;			/* ship_to.pickup: location code, or NULL */
	bool		has_customer;
	char	   *cust_ref;
	char	   *cust_email;
	char	   *cust_name;
	char	   *cust_address;	/* customer.address: the label of a saved address, or NULL */
	char	   *ship_to;		/* JSON text or NULL */
	char	  **flags;
	int			nflags;
	char	   *notes;
	int32		hold_minutes;	/* -1 when not given */
	char	   *deliver_by;		/* YYYY-MM-DD or NULL */
	char	   *service_level;	/* standard, express or NULL */
	PoPrice    *prices;			/* per line */
	Datum		subtotal;		/* numeric: the lines' units at their prices */
	Datum		discount;		/* numeric: the lines' discounts */
	Datum		tax;			/* numeric: the lines' tax */
	/* src/order_charges.c: the document's shipping and prices_include_tax (-1: not sent) */
	ChargesShippingInput shipping;
	int8		prices_include_tax;
	bool		charges_changed;	/* ChargesLineTax changed a line's amounts */
	bool		tax_computed;	/* the channel's tax_mode is computed */
	bool		channel_gross;	/* the channel's prices_include_tax */
	char	   *pickup_country; /* the pickup or counter location's country and region, or NULL */
	char	   *pickup_region;
	/* pricing and promotions (src/order_pricing.c) */
	char	  **codes;			/* "codes", upper case */
	int			ncodes;
	bool		codes_required; /* "codes_required", default true */
	char	   *source_code;	/* "source_code" (campaign), or NULL */
	bool		repriced;		/* list prices or promotions changed the amounts */
	struct OrderPricing *pricing;	/* what OrdersPricingApply decided */
} PoOrder;

/*
 * The order row's columns in the document, as placement wrote them (the
 * lines and their reservations come from the OrderWork).
 */
typedef struct OrderDocHead
{
	int64		order_id;
	const char *status;
	const char *policy;
	const char *currency;
	int64		customer_id;	/* 0: a guest order */
	Datum		total;			/* numeric, as stored; so are the four below */
	Datum		subtotal;
	Datum		discount;
	Datum		shipping;
	Datum		tax;
	Datum		placed_at;		/* timestamptz */
	Datum		expires_at;		/* timestamptz, or (Datum) 0 for none */
} OrderDocHead;

/* ---- order_charges.c: tax and the shipping charge at placement ---- */

/* the document's shipping, prices_include_tax and lines[].price_includes_tax (PoParse) */
extern void ChargesParse(JsonbContainer *root, JsonbContainer *lines, PoOrder *o);
/* is line i priced gross? the line's flag, else the document's, else the channel's */
extern bool ChargesLineGross(PoOrder *o, int i, bool channel_gross);
/* each line's tax from oms.tax_rates, after the discounts are known, before the lines are written */
extern void ChargesLineTax(PoOrder *o);
/* the shipping charge the inputs give */
extern Datum ChargesShipping(const ChargesShippingInput *in);
/* the shipping charge and the totals on the order row, after the reservations are written */
extern void ChargesApply(PoOrder *o, OrderDocHead *head);

/* ---- order_parse.c ---- */

/* parse and validate the whole document; every problem is a 22023 naming the field */
extern void PoParse(Jsonb *doc, PoOrder *o);
/* SHA-256 of the document, the idempotency check of a replay */
extern void PoRequestHash(Jsonb *doc, uint8 *digest);
/* the order's subtotal, discount and tax from its lines' prices (bounds: 22023) */
extern void PoAmounts(PoOrder *o);

/* ---- order_pricing.c: prices from the lists, promotions and codes ---- */

/* after the products (and substitutes) are known: price, check, discount */
extern void OrdersPricingApply(PoOrder *o, int64 customer_id);
/* after the lines are written: each line's price list, the promotions applied */
extern void OrdersPricingBook(PoOrder *o);
/*
 * An edit changed a line's units from old_qty to qty: the promotions' share
 * of its discount is scaled in proportion (oms.order_promotions too);
 * returns the line's new discount.
 */
extern Datum OrdersPricingRescale(int64 line_id, int32 old_qty, int32 qty, Datum unit_price, Datum discount);
/* place_order's answer with the pricing outcome added */
extern Datum OrdersPricingDocument(Datum doc, PoOrder *o);

/* ---- order_steps.c: the placement steps shared with re-routing and edits ---- */

/* the kit rows of the work's lines locked FOR SHARE, ascending (before OrdersLoadKits) */
extern void OrdersLockKits(OrderWork *w);
extern void OrdersLoadKits(OrderWork *w);
extern void OrdersBuildDemand(OrderWork *w);
/*
 * Route and reserve, then record the decision under trigger. rejections:
 * exclude the locations that rejected the order, and no lazy expiry.
 * release: balance units given back inside the routing attempt.
 */
extern void OrdersReserve(OrderWork *w, bool rejections, const char *trigger,
						  RouteAllocation *release, int nrelease);
extern void OrdersDistribute(OrderWork *w);
extern void OrdersBookReservations(OrderWork *w);
/* the routing request of the work's demands (placement's first plan) */
extern void OrdersWorkRouteRequest(OrderWork *w, RouteRequest *req);
/* the units a plan took, per demand, into w->taken */
extern void OrdersTakenFrom(OrderWork *w, RoutePlanOut *plan, RouteAllocation *taken, int ntaken);
/* OrdersBookReservations' two halves: the unused units given back; the reservation rows */
extern void OrdersGiveBackUnused(OrderWork *w);
extern void OrdersWriteReservations(OrderWork *w);

/* ---- order_substitute.c ---- */

/* the substitutes in stock of a short product, for OM001's detail; NULL: none */
extern char *OrdersSubstitutesText(int64 product_id);
/* the best-ranked substitute with qty units available; false: none */
extern bool OrdersBestSubstitute(int64 product_id, int32 qty, int64 *sub_id, char **sub_sku);
/* is sub_id listed in oms.product_substitutes for product_id? */
extern bool OrdersIsSubstitute(int64 product_id, int64 sub_id);
/* placement: switch "substitute": "allow" lines that are short to their best substitute */
extern void OrdersTakeSubstitutes(OrderWork *w, PoPrice *prices);

/* ---- order_place.c ---- */

/*
 * place_order's steps for a document; counter_location_id > 0 makes it a
 * counter sale at that location (src/counter_sale.c): reserved there only,
 * whatever its pickup flag and daily capacity, and no hold rule applies.
 */
extern Datum OrdersPlace(Jsonb *doc, int32 counter_location_id);

/* ---- order_document.c ---- */

/*
 * The pricing outcome of the order o (an alias of oms.orders) as a jsonb
 * object: "free_shipping", "source_code", "promotions" (per promotion: its
 * code, the code that brought it, the discount, free shipping) and
 * "codes" (each code sent: applied, or the refusal and its SQLSTATE).
 * place_order's answer and the order document (get_order, a replay) carry
 * it when ORDERS_HAS_PRICING_SQL holds: an order priced from a list, with
 * codes, a source code or a promotion.
 */
#define ORDERS_PRICING_SQL \
	"pg_catalog.jsonb_build_object( " \
	"       'free_shipping', EXISTS (SELECT FROM oms.order_promotions a " \
	"                                 WHERE a.order_id OPERATOR(pg_catalog.=) o.id AND a.free_shipping), " \
	"       'source_code', o.source_code, " \
	"       'promotions', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object( " \
	"                  'promotion', p.code, 'code', k.code, 'discount', x.amount, 'free_shipping', x.fs) " \
	"                  ORDER BY p.code) " \
	"             FROM (SELECT a.promotion_id, a.code_id, pg_catalog.sum(a.amount) AS amount, pg_catalog.bool_or(a.free_shipping) AS fs " \
	"                     FROM oms.order_promotions a WHERE a.order_id OPERATOR(pg_catalog.=) o.id GROUP BY 1, 2) x " \
	"             JOIN oms.promotions p ON p.id OPERATOR(pg_catalog.=) x.promotion_id " \
	"             LEFT JOIN oms.promotion_codes k ON k.id OPERATOR(pg_catalog.=) x.code_id), '[]'), " \
	"       'codes', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object( " \
	"                  'code', c.code, 'applied', c.applied, 'refusal', c.refusal, 'sqlstate', c.sqlstate)) ORDER BY c.id) " \
	"             FROM oms.order_codes c WHERE c.order_id OPERATOR(pg_catalog.=) o.id), '[]')) "
#define ORDERS_HAS_PRICING_SQL \
	"(o.source_code IS NOT NULL " \
	" OR EXISTS (SELECT FROM oms.order_codes c WHERE c.order_id OPERATOR(pg_catalog.=) o.id) " \
	" OR EXISTS (SELECT FROM oms.order_promotions a WHERE a.order_id OPERATOR(pg_catalog.=) o.id) " \
	" OR EXISTS (SELECT FROM oms.order_lines l WHERE l.order_id OPERATOR(pg_catalog.=) o.id " \
	"               AND l.price_source OPERATOR(pg_catalog.=) 'list'))"

/* the document, with "replayed" (place_order's and cancel_order's answer) */
extern Datum OrdersDocumentReplayed(int64 order_id, bool replayed);
/* a new order's document built from what place_order holds: no read-back */
extern Datum OrdersDocumentPlaced(const OrderDocHead *h, OrderWork *w, const PoPrice *prices);
/* the order row's total, subtotal, discount, shipping and tax: SPI row 0, columns c to c + 4 */
extern void OrdersDocHeadAmounts(OrderDocHead *head, int c);

/* ---- order_release.c ---- */

/*
 * Release every active reservation and backorder of the (locked) orders.
 * With filled != NULL the freed units then fill waiting backorders, and
 * *filled receives the fills as a JSON array.
 */
extern int	OrdersRelease(int64 *order_ids, int norders, const char *status,
						  const char *reason, const char *movement_kind, char **filled);

#endif							/* OMS_ORDERS_H */
