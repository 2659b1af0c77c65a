/*-------------------------------------------------------------------------
 *
 * oms.h
 *	  Shared declarations for the oms extension, one section per source
 *	  file.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMS_H
#define OMS_H

#include "postgres.h"

/*
 * OMS_VERSION_STR, the version of the library, is not defined here: the
 * Makefile passes default_version of oms.control (-DOMS_VERSION_STR), so the
 * version has one source.
 */

/* ---- gtin.c ---- */

/*
 * A GTIN is stored as its 14-digit numeric value in an int64: the canonical
 * GTIN-14 form is the number left-padded with zeros, so numeric order equals
 * the order of the canonical text, and the check digit is unaffected by the
 * padding.
 */
typedef int64 Gtin;

#define GTIN_MAX INT64CONST(99999999999999)

#define DatumGetGtin(X)		((Gtin) DatumGetInt64(X))
#define GtinGetDatum(X)		Int64GetDatum((int64) (X))
#define PG_GETARG_GTIN(n)	DatumGetGtin(PG_GETARG_DATUM(n))
#define PG_RETURN_GTIN(x)	return GtinGetDatum(x)

extern int	GtinCheckDigit(Gtin body);

/* ---- oms.c: the module (_PG_init, GUCs) ---- */

/* oms.hold_minutes: default reservation hold for unpaid orders (order_place.c) */
extern int	oms_hold_minutes;
/* oms.follow_up_days: days after delivery that the follow-up is due (order_follow_up.c) */
extern int	oms_follow_up_days;
/* pickup.c: oms.pickup_expiry_days */
extern int	oms_pickup_expiry_days;

/* custom SQLSTATEs (class "OM") */
#define ERRCODE_OMS_INSUFFICIENT_STOCK	MAKE_SQLSTATE('O','M','0','0','1')
#define ERRCODE_OMS_INSUFFICIENT_FUNDS	MAKE_SQLSTATE('O','M','0','0','2')

/* ---- balance_guard.c: the write permission of oms.stock_balances ---- */

/*
 * Balance write permission. oms.stock_balances may only change while an oms
 * C function executes its own SQL: the guard trigger checks OmsWriteAllowed().
 * The depth is a plain C variable, so SQL cannot set it; it is reset at
 * every (sub)transaction abort, so an error that escapes a write section
 * and is caught by a caller's savepoint cannot leave it raised.
 */
extern void BalanceGuardInit(void);
extern void OmsWriteBegin(void);
extern void OmsWriteEnd(void);
extern bool OmsWriteAllowed(void);

/* ---- spi.c: SPI helpers (plans, execution, results, argument errors) ---- */

#include "executor/spi.h"

/* prepare once per backend, keep (SPI_keepplan) */
extern SPIPlanPtr OmsPlan(SPIPlanPtr *cache, const char *sql, int nargs, Oid *argtypes);
/* the same, always with the generic plan */
extern SPIPlanPtr OmsPlanGeneric(SPIPlanPtr *cache, const char *sql, int nargs, Oid *argtypes);
extern int	OmsKeyLookupsBegin(void);
extern void OmsKeyLookupsEnd(int nest);
/* run a saved plan with balance writes allowed; errors on SPI failure */
extern int	OmsExec(SPIPlanPtr plan, Datum *values, const char *nulls, long tcount);
/* run a saved plan read-only-ish (no balance write permission) */
extern int	OmsQuery(SPIPlanPtr plan, Datum *values, const char *nulls, long tcount);
/* a row of OmsQueryEach: its columns, valid only during the call */
typedef void (*OmsRowFn) (Datum *values, bool *isnull, void *arg);
/* like OmsQuery, each row handed to fn as it comes instead of into SPI_tuptable; returns the count */
extern uint64 OmsQueryEach(SPIPlanPtr plan, Datum *values, const char *nulls, OmsRowFn fn, void *arg);

/* a jsonb document by id (one-parameter query), extra keys merged; false: no row */
extern bool OmsDocument(SPIPlanPtr *plan, const char *sql, int64 id, const char *extra_json, Datum *doc);
/* transfer a result out of SPI memory and SPI_finish */
extern Datum OmsFinish(Datum result);

/* int8[] and int4[] for the parameters of set-based statements */
#include "utils/array.h"
extern ArrayType *OmsInt8Array(int64 *v, int n);
extern ArrayType *OmsInt4Array(int32 *v, int n);

extern int64 OmsGetInt64(int row, int col, bool *isnull);
extern int32 OmsGetInt32(int row, int col, bool *isnull);
extern Datum OmsGetDatum(int row, int col, bool *isnull);

/* 22004 for a NULL argument of a non-STRICT function */
extern void OmsRequireArg(FunctionCallInfo fcinfo, int argno, const char *name);
/* 22023 for an order id that does not exist */
extern void OmsOrderNotFound(int64 order_id) pg_attribute_noreturn();

/* ---- card_guard.c: the card-number (PAN) guard ---- */

/* PAN guard: 13-19 digits (after normalising separators) passing Luhn */
extern bool OmsContainsCardNumber(const char *s);
extern void OmsCheckNoCardNumber(const char *value, const char *field);

/* ---- text_bounds.c: the bounds of free text and identifiers ---- */

/* reasons and notes: at most this many characters */
#define OMS_MAX_REASON_CHARS	1000
/* skus, and the codes of locations, channels, carriers and services */
#define OMS_MAX_SKU_CHARS		64
#define OMS_MAX_CODE_CHARS		32
/* free text: at most maxchars characters, no card number (22023) */
extern void OmsCheckFreeText(const char *value, const char *field, int maxchars);
/* an identifier: at most maxchars characters, no control character (22023) */
extern void OmsCheckIdentifier(const char *value, const char *field, int maxchars);
/* a text argument that is an identifier: not NULL (22004), then as above */
extern char *OmsIdentifierArg(FunctionCallInfo fcinfo, int argno, const char *field, int maxchars);

/* ---- json.c: JSON document helpers (shared by every JSON API) ---- */

#include "utils/jsonb.h"

extern const char *JsonDocument;	/* "order", "payment", ... for messages */
extern const char *JsonTypeName(JsonbValue *v);
extern void JsonInvalid(const char *path, const char *detail, const char *hint);
extern JsonbValue *JsonGet(JsonbContainer *obj, const char *key, JsonbValue *buf);
extern void JsonCheckKeys(JsonbContainer *obj, const char *const *allowed, const char *where);
/* an identifier: a string of at most maxlen characters, no control character */
extern char *JsonString(JsonbValue *v, const char *path, int maxlen, bool nonempty);
/* free text: a string within OmsCheckFreeText's bounds */
extern char *JsonText(JsonbValue *v, const char *path, int maxchars);
extern JsonbContainer *JsonObject(JsonbValue *v, const char *path);
extern JsonbContainer *JsonArray(JsonbValue *v, const char *path);
extern int32 JsonInt(JsonbValue *v, const char *path, int32 min, int32 max, const char *hint);
extern bool OmsMoneyRound(Datum amount, bool positive, Datum *rounded);
/* a numeric for a message, in scientific notation when it is long */
extern char *OmsNumericText(Datum n);
extern Datum JsonMoney(JsonbValue *v, const char *path);
/* keys, strings and numbers, one per line, for the card guard; skip: top-level keys left out */
extern char *JsonScanText(JsonbContainer *c, const char *const *skip);
extern int	JsonOrderLine(JsonbContainer *entry, const char *path, int64 order_id, int n,
						  const int32 *line_nos, char *const *skus);

/* ---- catalog.c ---- */

extern double CatalogDistanceKm(double lat1, double lon1,
								double lat2, double lon2);

typedef struct OmsProduct
{
	int64		id;
	char		kind;			/* 's'tock, 'k'it, 's'e'r'vice -> 'v' */
	bool		active;
} OmsProduct;

#define OMS_KIND_STOCK		's'
#define OMS_KIND_KIT		'k'
#define OMS_KIND_SERVICE	'v'

/* a product by sku, a location by code; false when there is none */
extern bool OmsLookupProduct(const char *sku, OmsProduct *out);
extern bool OmsLookupLocation(const char *code, int32 *id, bool *active);

/* ---- inventory.c ---- */

/* guarded reserve of exactly qty; false when the stock is not there */
extern bool InventoryReserve(int64 product_id, int32 location_id, int32 qty);
/* lock the balance row, then reserve what is there up to qty; units taken */
extern int32 InventoryReserveUpTo(int64 product_id, int32 location_id, int32 qty);
/* give back units this transaction reserved (the row is locked by it) */
extern void InventoryUnreserve(int64 product_id, int32 location_id, int32 qty);
/* emit low_stock for products whose availability just crossed the reorder point */
extern void InventoryLowStock(int64 *product_ids, int32 *decreases, int n);

/* shipping: reserved and on_hand down, movement kind shipment */
extern void InventoryShip(int64 product_id, int32 location_id, int32 qty, int64 order_id,
						  int64 reservation_id, const char *reference);
/* the count was wrong: write off up to qty unreserved units; units written off */
extern int32 InventoryWriteOff(int64 product_id, int32 location_id, int32 qty, const char *reference);
/* returned units back at a location: on_hand (or damaged) up, kind return_restock / return_damaged */
extern void InventoryReturn(int64 product_id, int32 location_id, int32 qty, bool damaged,
							int64 order_id, const char *reference);
/* fill waiting backorders of product at location; returns JSON array text */
extern char *InventoryFillBackorders(int64 product_id, int32 location_id);
/* one movement row (the balance already changed under the write permission) */
extern void InventoryMovement(int64 product_id, int32 location_id, const char *kind,
							  int32 on_hand_delta, int32 reserved_delta, int32 damaged_delta,
							  int32 safety_delta, const char *reference);
/* a goods receipt: on_hand (or damaged) up, kind receipt; the row stays locked */
extern void InventoryReceiveUnits(int64 product_id, int32 location_id, int32 qty, bool damaged,
								  const char *reference, const char *sku, const char *loc);
/* called with the products whose availability just crossed the reorder point */
typedef void (*InventoryProductsHook) (int64 *product_ids, int n);
extern InventoryProductsHook InventoryLowStockHook;

/* ---- valuation.c: the value of the stock (moving average) ---- */

/* units received at unit_cost (numeric): Dr inventory, Cr goods received not invoiced */
extern void ValuationReceipt(int64 product_id, const char *currency, int32 qty, Datum unit_cost,
							 int64 purchase_order_id);
/* units out at average cost, kind "shipment" (COGS) or "write_off" (inventory loss) */
extern void ValuationIssue(int64 product_id, int32 qty, const char *kind, int64 order_id, int64 shipment_id);
/* the currency a product is valued in, or NULL */
extern char *ValuationCurrency(int64 product_id);

/* ---- purchasing.c, po_propose.c, po_receive.c ---- */

extern bool oms_propose_on_low_stock;
extern int	oms_over_receipt_percent;
/* the GUCs and the low-stock hook (_PG_init) */
extern void PurchasingInit(void);
/* propose for these products (NULL: all), delivering to location_id (0: default); JSON text */
extern char *PurchasingPropose(int64 *product_ids, int n, int32 location_id);
/* 22023 for a purchase order id that does not exist */
extern void PurchasingNotFound(int64 po_id) pg_attribute_noreturn();

/* ---- orders (src/order_*.c; their private header is src/orders.h) ---- */

struct RouteRequest;

/* lazy expiry: release lapsed unpaid orders holding these products (order_release.c) */
extern int	OrdersExpireForProducts(int64 *product_ids, int nproducts);
/* a location rejected the (locked) order: release there, re-route; JSON text (order_reroute.c) */
extern char *OrdersReroute(int64 order_id, int32 location_id, bool adjust_stock, const char *why);
/* parse and resolve an order document into a routing request, for explain_route (order_place.c) */
extern void OrdersRouteRequest(Jsonb *doc, struct RouteRequest *req);
/* the order document (jsonb, in the caller's SPI memory) (order_document.c) */
extern Datum OrdersDocumentOf(int64 order_id);

/* ---- events.c ---- */

extern bool oms_notify_events;
extern int	oms_event_redelivery_seconds;
/* write one outbox event (order_id <= 0: none; payload: JSON object text) */
extern void EventsEmit(const char *kind, int64 order_id, const char *payload);
extern void EventsAmendPlacedTotal(int64 order_id, Datum total);

/* ---- lifecycle.c ---- */

extern void LifecycleInit(void);
extern void LifecycleSetReason(const char *reason);
/* raised by the shipment path around its status change (src/ship.c) */
extern void LifecycleFulfillmentBegin(void);
extern void LifecycleFulfillmentEnd(void);
extern bool LifecycleStatusExists(const char *status);

/* status capabilities: the boolean columns of oms.order_statuses, in order */
typedef enum LifecycleCapability
{
	LCAP_HOLDS_STOCK,			/* may hold active reservations and backorders */
	LCAP_OPEN,					/* units still to fulfil count as open demand */
	LCAP_FULFILLMENT_DRIVEN,	/* reached through shipments when the order has stock lines */
	LCAP_PAYABLE,				/* payments may be authorized and captured */
	LCAP_CANCELLABLE,			/* cancel_order may cancel it */
	LCAP_TERMINAL,				/* ended unfulfilled: nothing held, owed or shipped */
	LCAP_COUNTS_AS_SALE,		/* counts as a sale in reports */
	LCAP_SHIPPABLE,				/* shipments may be created and shipped */
	LCAP_RETURNABLE,			/* shipped units may be returned */
	LCAP_COUNT
} LifecycleCapability;

/* does the status have the capability? (cached oms.order_statuses) */
extern bool LifecycleAllows(const char *status, LifecycleCapability cap);
/* is the transition from -> to in oms.order_transitions? (cached) */
extern bool LifecycleAllowed(const char *from, const char *to);
/* lock an order row; returns its status (22023 if there is no such order) */
extern char *LifecycleLockOrder(int64 order_id, char **held_from);
/* write the locked order row, so RR/SERIALIZABLE races end in 40001 */
extern void LifecycleTouchOrder(int64 order_id);
/* change a locked order's status (validated by the trigger) */
extern void LifecycleChange(int64 order_id, const char *to, const char *reason, bool confirm);
extern void LifecycleHold(int64 order_id, const char *reason);
/* coverage (lifecycle.c banner): is the customer (0: guest) on terms, read under a share lock */
extern bool LifecycleOnTerms(int64 customer_id);
/* do the order's payments (authorized - voided) reach total, or is its customer on terms? */
extern bool LifecycleCovered(int64 order_id, Datum total, int64 customer_id, char **held);

/* ---- payments.c ---- */

/* the kinds of money that leave an order (PaymentsMoneyOut) */
typedef enum PaymentsMoneyKind
{
	PAY_OUT_REFUND,				/* a refund to one of the order's payments */
	PAY_OUT_STORE_CREDIT,		/* store credit issued for the order */
	PAY_OUT_EXCHANGE			/* returned value applied to an exchange */
} PaymentsMoneyKind;

/*
 * The one money path: lock (and write) the order, check that money out so
 * far plus amount stays within what its payments captured (22023), and
 * record it (refunds are recorded by the refund itself)
 */
extern void PaymentsMoneyOut(int64 order_id, PaymentsMoneyKind kind, Datum amount, int64 rma_id);

/* void whole open authorizations a (locked) order no longer needs for total; JSON */
extern char *PaymentsVoidSurplus(int64 order_id, Datum total, const char *reason);
/* void open authorizations and refund captures of a cancelled order; JSON */
extern char *PaymentsCancelOrder(int64 order_id, const char *reason);
/* captured less refunded over the order's payments (numeric) */
extern Datum PaymentsRefundable(int64 order_id);
/* refund an amount over a locked order's payments, stored value first; JSON */
extern char *PaymentsRefundOrder(int64 order_id, Datum amount, const char *reason, int64 rma_id);
/* store credit for a customer (stored_value.c); jsonb in the caller's SPI memory */
extern Datum PaymentsIssueStoreCredit(int64 customer_id, Datum amount, const char *currency, const char *reason,
									   int64 order_id, int64 rma_id);

/* ---- route_plan.c (the routing subsystem: see routing.h) ---- */

/* register the cache invalidation of the routing configuration (_PG_init) */
extern void RouteInit(void);

/* ---- fulfillment.c ---- */

/* cancel every pending shipment of a locked order (cancel_order) */
extern void FulfillmentCancelOrder(int64 order_id);
/* the error for a shipment id that does not exist (22023) */
extern void FulfillmentShipmentNotFound(int64 shipment_id) pg_attribute_noreturn();

/* ---- zpl.c ---- */

/* the one ZPL label writer (shipping and return labels) */
extern char *ZplLabel(const char *title, const char *from, const char *to,
					  const char *carrier, const char *service,
					  const char *tracking, const char *reference);

/* ---- ledger.c ---- */

/* one balanced journal entry: per event a debit and a credit of its amount; its id (0: nothing posted) */
extern int64 LedgerPost(const char *kind, const char *currency, int64 order_id, int64 payment_id,
					   int64 rma_id, int64 shipment_id, int nevents, const char **events, Datum *amounts);
/* the entry of a payment action (capture, refund; others post nothing); rma_id 0: none */
extern void LedgerPayment(int64 payment_id, const char *action, Datum amount, int64 rma_id);
/* recognise the revenue and tax of what an order shipped and was not recognised yet */
extern void LedgerRecognize(int64 order_id, int64 shipment_id);

/* ---- invoices.c: invoices of customers on payment terms ---- */

/* the invoice of a (locked) order just confirmed on terms */
extern void InvoicesIssue(int64 order_id);
/* the (locked) order's invoice follows its total, or is void once the order is terminal */
extern void InvoicesFollow(int64 order_id);

#endif							/* OMS_H */
