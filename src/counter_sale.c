/*-------------------------------------------------------------------------
 *
 * counter_sale.c
 *	  oms.sell_at_counter: a sale at a store's counter, recorded in one call
 *	  and one transaction, composed of the steps every order takes.
 *
 *	  sell_at_counter, step by step
 *	  -----------------------------
 *	  1. CsParse: the sale document is an order document (channel,
 *	     external_id, currency, customer, lines, policy, notes, flags) plus
 *	     location (the store's code) and payments (what the customer
 *	     tendered: cash and card tokens alike, each as
 *	     oms.authorize_payment takes it, with its amount). A ship_to is
 *	     refused: the customer walks out with the goods.
 *	  2. CsResolve: the location is active and holds stock on its own
 *	     premises (a store or a warehouse's trade counter, not a dropship
 *	     supplier); the channel is of kind pos.
 *	  3. OrdersPlace (src/order_place.c): the order is placed as
 *	     place_order places it, idempotent by (channel, external_id), with
 *	     its units reserved at the store only, whatever its pickup flag and
 *	     daily capacity, and with no hold rule. Units the store lacks are
 *	     refused with OM001 and nothing is written (policy all_or_nothing,
 *	     the default); a till that takes an order for later asks for policy
 *	     backorder. A replay (a till that retries) returns the sale as it
 *	     was recorded and does nothing else.
 *	  4. CsPay: the change (cash tendered beyond the total; a replay
 *	     answers it again), then the payments, in the order given, through
 *	     oms.authorize_payment and oms.capture_payment, so that the journal
 *	     (cash clearing), the coverage rule and the events are those of any
 *	     order. Together they must cover the order's total (22023
 *	     otherwise). Only cash may exceed what is still owed: the excess is
 *	     the change handed back, never captured; a card or gift card is
 *	     charged at most what is owed.
 *	  5. CsHandOver: one shipment of every unit reserved at the store
 *	     (oms.create_shipment), handed over without carrier, service,
 *	     tracking number or rate (FfHandOver, src/ship.c: stock off on_hand,
 *	     revenue and tax recognised, shipment_shipped), delivered
 *	     (oms.deliver), and the order completed.
 *	  The answer: the order document, the payments, the shipment and the
 *	  change.
 *
 *	  Locking is that of the steps composed: placement takes the balance
 *	  rows in (product, location) order, payment and shipment lock the
 *	  order first. A counter sale and an online order racing for a store's
 *	  last unit are the last-units race of place_order
 *	  (test/specs/counter_vs_online.spec).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "oms.h"
#include "orders.h"
#include "payments.h"
#include "fulfillment.h"

/* at most this many payments in one sale */
#define CS_MAX_PAYMENTS 16

typedef struct CsPayment
{
	Jsonb	   *doc;			/* the payment as given */
	char	   *method;
	Datum		amount;			/* numeric: tendered */
} CsPayment;

typedef struct CsSale
{
	/* CsParse */
	Jsonb	   *doc;
	char	   *location;
	char	   *channel;
	CsPayment  *payments;
	int			npayments;
	/* CsResolve */
	int32		location_id;
	/* OrdersPlace */
	int64		order_id;
	bool		replayed;
	/* CsPay */
	Datum		change;			/* numeric */
} CsSale;

/* 1. the sale document: the order's keys are checked by placement */
static void
CsParse(Jsonb *doc, CsSale *cs)
{
	JsonbContainer *root = &doc->root;
	JsonbValue	buf;
	JsonbValue *v;

	JsonDocument = "sale";
	if (!JB_ROOT_IS_OBJECT(doc))
		JsonInvalid("sale", "The sale must be a JSON object.",
					"Send {\"channel\": ..., \"external_id\": ..., \"location\": ..., \"lines\": [...], \"payments\": [...]}.");
	cs->doc = doc;
	if ((v = JsonGet(root, "location", &buf)) == NULL)
		JsonInvalid("location", "The key location is required.", "Name the store by its code in oms.locations.");
	cs->location = JsonString(v, "location", OMS_MAX_CODE_CHARS, true);
	if ((v = JsonGet(root, "channel", &buf)) == NULL)
		JsonInvalid("channel", "The key channel is required.", "Name the store's pos channel by its code.");
	cs->channel = JsonString(v, "channel", OMS_MAX_CODE_CHARS, true);
	if (JsonGet(root, "ship_to", &buf) != NULL)
		JsonInvalid("ship_to", "A counter sale is handed over at the store; it has no ship_to.",
					"Leave ship_to out, or place an order for delivery with oms.place_order().");
	cs->npayments = 0;
	cs->payments = palloc0(sizeof(CsPayment) * CS_MAX_PAYMENTS);
	if ((v = JsonGet(root, "payments", &buf)) != NULL)
	{
		JsonbContainer *arr = JsonArray(v, "payments");
		int			n = JsonContainerSize(arr);
		int			i;

		if (n > CS_MAX_PAYMENTS)
			JsonInvalid("payments", psprintf("payments has %d entries; at most %d are allowed.", n, CS_MAX_PAYMENTS),
						"Take the payment in fewer parts.");
		for (i = 0; i < n; i++)
		{
			JsonbValue *e = getIthJsonbValueFromContainer(arr, i);
			char	   *path = psprintf("payments[%d]", i);
			JsonbContainer *p = JsonObject(e, path);
			JsonbValue	pbuf;
			JsonbValue *pv;
			CsPayment  *cp = &cs->payments[cs->npayments++];

			cp->doc = JsonbValueToJsonb(e);
			if ((pv = JsonGet(p, "method", &pbuf)) == NULL)
				JsonInvalid(psprintf("%s.method", path), "Every payment names its method.",
							"Use cash, card (with its PSP token), gift_card or store_credit.");
			cp->method = JsonString(pv, psprintf("%s.method", path), 32, true);
			if ((pv = JsonGet(p, "amount", &pbuf)) == NULL)
				JsonInvalid(psprintf("%s.amount", path), "Every payment says how much was tendered.",
							"Give the amount in the sale's currency, for example 20.00.");
			cp->amount = JsonMoney(pv, psprintf("%s.amount", path));
			if (PayCmp(cp->amount, PayZero()) <= 0)
				JsonInvalid(psprintf("%s.amount", path), "A payment's amount must be greater than 0.",
							"Leave out a payment of nothing.");
		}
	}
}

/* 2. the store and the channel */
static void
CsResolve(CsSale *cs)
{
	static SPIPlanPtr plan = NULL;
	Oid			t2[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	bool		isnull;
	char	   *kind;

	values[0] = CStringGetTextDatum(cs->location);
	values[1] = CStringGetTextDatum(cs->channel);
	OmsQuery(OmsPlan(&plan,
					 "SELECT (SELECT l.id FROM oms.locations l WHERE l.code OPERATOR(pg_catalog.=) $1), "
					 "       (SELECT l.active FROM oms.locations l WHERE l.code OPERATOR(pg_catalog.=) $1), "
					 "       (SELECT l.kind FROM oms.locations l WHERE l.code OPERATOR(pg_catalog.=) $1), "
					 "       (SELECT c.kind FROM oms.channels c WHERE c.code OPERATOR(pg_catalog.=) $2)",
					 2, t2), values, NULL, 1);
	cs->location_id = OmsGetInt32(0, 1, &isnull);
	if (isnull)
		JsonInvalid("location", psprintf("No location in oms.locations has the code \"%s\".", cs->location),
					"Name the store by its code in oms.locations.");
	kind = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	if (!DatumGetBool(OmsGetDatum(0, 2, NULL)))
		JsonInvalid("location", psprintf("Location \"%s\" is inactive.", cs->location),
					"Reactivate the location in oms.locations, or sell from another one.");
	if (strcmp(kind, "dropship") == 0)
		JsonInvalid("location", psprintf("Location \"%s\" is a dropship supplier; its stock is not on the premises.", cs->location),
					"Sell at a store (or a warehouse's trade counter).");
	kind = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
	/* an unknown channel is reported by placement, as for any order */
	if (kind != NULL && strcmp(kind, "pos") != 0)
		JsonInvalid("channel", psprintf("Channel \"%s\" is of kind %s; counter sales go through a pos channel.", cs->channel, kind),
					"Use the store's pos channel, or place the order with oms.place_order().");
}

/* 3. placement at the store: the order document is the sale without location and payments */
static void
CsPlace(CsSale *cs)
{
	static SPIPlanPtr plan_doc = NULL;
	static SPIPlanPtr plan_placed = NULL;
	Oid			t1[1] = {JSONBOID};
	Datum		values[1];
	Datum		placed;
	Jsonb	   *order_doc;

	values[0] = JsonbPGetDatum(cs->doc);
	OmsQuery(OmsPlan(&plan_doc, "SELECT $1 OPERATOR(pg_catalog.-) '{location,payments}'::pg_catalog.text[]",
					 1, t1), values, NULL, 1);
	order_doc = DatumGetJsonbPCopy(OmsGetDatum(0, 1, NULL));
	placed = OrdersPlace(order_doc, cs->location_id);
	values[0] = placed;
	OmsQuery(OmsPlan(&plan_placed,
					 "SELECT ($1 OPERATOR(pg_catalog.->>) 'order_id')::pg_catalog.int8, "
					 "       COALESCE(($1 OPERATOR(pg_catalog.->>) 'replayed')::pg_catalog.bool, false)",
					 1, t1), values, NULL, 1);
	cs->order_id = OmsGetInt64(0, 1, NULL);
	cs->replayed = DatumGetBool(OmsGetDatum(0, 2, NULL));
}

/* 4. the payments, which must cover the total; cash may exceed it (change) */
static void
CsPay(CsSale *cs)
{
	static SPIPlanPtr plan_total = NULL;
	static SPIPlanPtr plan_auth = NULL;
	static SPIPlanPtr plan_capture = NULL;
	Oid			t1[1] = {INT8OID};
	Oid			t3[3] = {INT8OID, JSONBOID, NUMERICOID};
	Datum		values[3];
	Datum		owed;
	Datum		tendered = PayZero();
	int			i;

	values[0] = Int64GetDatum(cs->order_id);
	OmsQuery(OmsPlan(&plan_total, "SELECT total, currency FROM oms.orders WHERE id OPERATOR(pg_catalog.=) $1",
					 1, t1), values, NULL, 1);
	owed = SPI_datumTransfer(OmsGetDatum(0, 1, NULL), false, -1);
	for (i = 0; i < cs->npayments; i++)
		tendered = DirectFunctionCall2(numeric_add, tendered, cs->payments[i].amount);
	/* the cash tendered beyond the total goes back to the customer */
	cs->change = PayCmp(tendered, owed) > 0 ? DirectFunctionCall2(numeric_sub, tendered, owed) : PayZero();
	if (cs->replayed)
		return;					/* a retry: recorded, paid and handed over already */
	if (PayCmp(tendered, owed) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid sale: the payments do not cover the total"),
				 errdetail("The sale comes to %s %s; the payments tendered add up to %s.", PayNum(owed),
						   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2), PayNum(tendered)),
				 errhint("A counter sale is paid in full before the customer leaves; add a payment for the rest.")));
	for (i = 0; i < cs->npayments; i++)
	{
		CsPayment  *cp = &cs->payments[i];
		Datum		charge = cp->amount;

		if (PayCmp(owed, PayZero()) <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid sale: payments[%d] is not needed", i),
					 errdetail("The payments before it already cover the total of %s.", PayNum(tendered)),
					 errhint("Leave the payment out.")));
		if (PayCmp(charge, owed) > 0)
		{
			if (strcmp(cp->method, "cash") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid sale: payments[%d] exceeds what is owed", i),
						 errdetail("It is %s by %s; %s is still owed.", PayNum(charge), cp->method, PayNum(owed)),
						 errhint("Only cash may exceed the total (the excess is the change); charge the card for what is owed.")));
			charge = owed;
		}
		values[0] = Int64GetDatum(cs->order_id);
		values[1] = JsonbPGetDatum(cp->doc);
		values[2] = charge;
		OmsQuery(OmsPlan(&plan_auth,
						 "SELECT (oms.authorize_payment($1, $2 OPERATOR(pg_catalog.||) "
						 "        pg_catalog.jsonb_build_object('amount', $3)) OPERATOR(pg_catalog.->>) 'payment_id')::pg_catalog.int8",
						 3, t3), values, NULL, 1);
		values[0] = Int64GetDatum(OmsGetInt64(0, 1, NULL));
		OmsQuery(OmsPlan(&plan_capture, "SELECT oms.capture_payment($1)", 1, t1), values, NULL, 1);
		owed = DirectFunctionCall2(numeric_sub, owed, charge);
	}
}

/* 5. hand over what the store reserved, deliver it, complete the order */
static void
CsHandOver(CsSale *cs)
{
	static SPIPlanPtr plan_units = NULL;
	static SPIPlanPtr plan_create = NULL;
	static SPIPlanPtr plan_deliver = NULL;
	static SPIPlanPtr plan_status = NULL;
	Oid			t1[1] = {INT8OID};
	Oid			t2[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	int64		shipment_id;
	char	   *status;

	values[0] = Int64GetDatum(cs->order_id);
	OmsQuery(OmsPlan(&plan_units,
					 "SELECT EXISTS (SELECT FROM oms.reservations WHERE order_id OPERATOR(pg_catalog.=) $1 "
					 "                  AND status OPERATOR(pg_catalog.=) 'active')",
					 1, t1), values, NULL, 1);
	if (!DatumGetBool(OmsGetDatum(0, 1, NULL)))
		return;					/* everything backordered: nothing to hand over today */
	values[1] = CStringGetTextDatum(cs->location);
	OmsQuery(OmsPlan(&plan_create,
					 "SELECT (oms.create_shipment($1, $2) OPERATOR(pg_catalog.->>) 'shipment_id')::pg_catalog.int8",
					 2, t2), values, NULL, 1);
	shipment_id = OmsGetInt64(0, 1, NULL);
	FfHandOver(shipment_id, "counter");
	values[0] = Int64GetDatum(shipment_id);
	OmsQuery(OmsPlan(&plan_deliver, "SELECT oms.deliver($1)", 1, t1), values, NULL, 1);
	values[0] = Int64GetDatum(cs->order_id);
	OmsQuery(OmsPlan(&plan_status, "SELECT status FROM oms.orders WHERE id OPERATOR(pg_catalog.=) $1", 1, t1),
			 values, NULL, 1);
	status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	/* delivered is the target of the handover step; completed closes the sale */
	if (strcmp(status, "delivered") == 0 && LifecycleAllowed(status, "completed"))
		LifecycleChange(cs->order_id, "completed", "counter sale", false);
}

/* the answer: the order, its payments and shipments, the change */
static Datum
CsDocument(CsSale *cs)
{
	static SPIPlanPtr plan = NULL;
	Oid			t3[3] = {INT8OID, BOOLOID, NUMERICOID};
	Datum		values[3];

	values[0] = Int64GetDatum(cs->order_id);
	values[1] = BoolGetDatum(cs->replayed);
	values[2] = cs->change;
	OmsQuery(OmsPlan(&plan,
					 "SELECT pg_catalog.jsonb_build_object('order', oms.get_order($1), 'replayed', $2, 'change', $3, "
					 "  'payments', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
					 "        'payment_id', p.id, 'method', p.method, 'captured', p.captured, 'card_last4', p.card_last4) ORDER BY p.id) "
					 "      FROM oms.payments p WHERE p.order_id OPERATOR(pg_catalog.=) $1), '[]'), "
					 "  'shipments', COALESCE((SELECT pg_catalog.jsonb_agg(oms.get_shipment(s.id) ORDER BY s.id) "
					 "      FROM oms.shipments s WHERE s.order_id OPERATOR(pg_catalog.=) $1), '[]'))",
					 3, t3), values, NULL, 1);
	return OmsGetDatum(0, 1, NULL);
}

PG_FUNCTION_INFO_V1(sell_at_counter);
/*
 * oms.sell_at_counter(sale jsonb): the steps in the banner, in that order.
 */
Datum
sell_at_counter(PG_FUNCTION_ARGS)
{
	CsSale		cs;

	memset(&cs, 0, sizeof(cs));
	OmsRequireArg(fcinfo, 0, "sale");
	CsParse(PG_GETARG_JSONB_P(0), &cs);

	SPI_connect();
	CsResolve(&cs);
	CsPlace(&cs);
	CsPay(&cs);
	if (!cs.replayed)
		CsHandOver(&cs);
	PG_RETURN_DATUM(OmsFinish(CsDocument(&cs)));
}
