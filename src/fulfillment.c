/*-------------------------------------------------------------------------
 *
 * fulfillment.c
 *	  Shipments, the shared part: looking a shipment up and locking it,
 *	  its document (oms.get_shipment), and cancellation (oms.cancel_shipment
 *	  and, for cancel_order, FulfillmentCancelOrder). The phases of a
 *	  shipment live in files of their own, with the helpers here declared
 *	  in fulfillment.h:
 *	    shipment_create.c     oms.create_shipment
 *	    ship.c                oms.ship (in named steps) and oms.deliver
 *	    fulfillment_reject.c  oms.reject_fulfillment (a location refuses)
 *	  The printable documents of a shipment are in documents.c.
 *
 *	  A shipment holds units of one order at one location. create_shipment
 *	  takes what the order holds there and is not in another pending
 *	  shipment; ship() consumes the reservations behind those units and
 *	  takes them off on_hand through the ledger (kind shipment).
 *
 *	  Locking: every function of shipments locks the order row first (the
 *	  shipment row is read, then its order locked, then the shipment re-read
 *	  under that lock: FfLockShipment), then the order lines, then balance
 *	  rows in (product, location) order: the global order described in
 *	  inventory.c. Two calls on shipments of one order therefore run one
 *	  after the other, and a shipment can never take units another shipment
 *	  already has.
 *
 *	  What an order status allows is asked of its capabilities
 *	  (LifecycleAllows): shipments need LCAP_SHIPPABLE, a rejection
 *	  LCAP_OPEN. Being "in fulfillment" is a position in the workflow, not
 *	  a capability: see FfInFulfillment().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "oms.h"
#include "fulfillment.h"

/* ---- lookups and arguments ---- */

void
FulfillmentShipmentNotFound(int64 shipment_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("shipment " INT64_FORMAT " does not exist", shipment_id),
			 errdetail("No row in oms.shipments has id " INT64_FORMAT ".", shipment_id),
			 errhint("Use the shipment_id returned by oms.create_shipment().")));
}

char *
FfTextArg(FunctionCallInfo fcinfo, int argno, const char *name, int maxlen)
{
	char	   *s;

	s = OmsIdentifierArg(fcinfo, argno, name, maxlen);
	if (strlen(s) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s \"\"", name),
				 errdetail("%s must have 1 to %d characters.", name, maxlen),
				 errhint("Pass the %s as it is stored in its table.", name)));
	return s;
}

int32
FfLocation(const char *location)
{
	int32		location_id;
	bool		active;

	if (!OmsLookupLocation(location, &location_id, &active))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown location \"%s\"", location),
				 errdetail("No location in oms.locations has the code \"%s\".", location),
				 errhint("Location codes are case-sensitive.")));
	return location_id;
}

int64
FfLockShipment(int64 shipment_id, char **status, int32 *location_id, char **order_status, char **held_from)
{
	static SPIPlanPtr plan_find = NULL;
	static SPIPlanPtr plan_lock = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(shipment_id)};
	int64		order_id;

	OmsQuery(OmsPlan(&plan_find, "SELECT order_id FROM oms.shipments WHERE id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	if (SPI_processed == 0)
		FulfillmentShipmentNotFound(shipment_id);
	order_id = OmsGetInt64(0, 1, NULL);
	*order_status = LifecycleLockOrder(order_id, held_from);
	OmsQuery(OmsPlan(&plan_lock,
					 "SELECT status, location_id FROM oms.shipments WHERE id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
					 1, types), values, NULL, 1);
	*status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	*location_id = OmsGetInt32(0, 2, NULL);
	return order_id;
}

/*
 * The order is in fulfillment when it is at or past the status that
 * create_shipment moves it to (in_fulfillment), that is in that status or
 * in one that shipments reach (LCAP_FULFILLMENT_DRIVEN). This is a
 * position in the workflow, not a meaning: confirmed and in_fulfillment
 * have the same capabilities, and the only difference is that a shipment
 * was created. So the comparison names the target status of that step,
 * which the house rule allows, and asks the capability for the rest.
 */
bool
FfInFulfillment(const char *status)
{
	return strcmp(status, "in_fulfillment") == 0 || LifecycleAllows(status, LCAP_FULFILLMENT_DRIVEN);
}

/* ---- the shipment document ---- */

#define FF_SHIPMENT_DOCUMENT_SQL \
	"SELECT pg_catalog.jsonb_build_object(" \
	"  'shipment_id', s.id, 'order_id', s.order_id, 'location', l.code, 'status', s.status, " \
	"  'carrier', c.code, 'service', sv.code, 'tracking_number', s.tracking_number, " \
	"  'rate', s.rate, 'currency', s.currency, 'weight_kg', s.weight_kg, 'distance_km', s.distance_km, " \
	"  'created_at', s.created_at, 'shipped_at', s.shipped_at, 'delivered_at', s.delivered_at, " \
	"  'cancelled_at', s.cancelled_at, 'order_status', o.status, " \
	"  'lines', (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(" \
	"                 'line_no', ol.line_no, 'sku', p.sku, 'qty', sl.qty) ORDER BY ol.line_no), '[]'::pg_catalog.jsonb) " \
	"              FROM oms.shipment_lines sl " \
	"              JOIN oms.order_lines ol ON ol.id OPERATOR(pg_catalog.=) sl.order_line_id " \
	"              JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) ol.product_id " \
	"             WHERE sl.shipment_id OPERATOR(pg_catalog.=) s.id)) " \
	"  FROM oms.shipments s " \
	"  JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) s.order_id " \
	"  JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) s.location_id " \
	"  LEFT JOIN oms.carriers c ON c.id OPERATOR(pg_catalog.=) s.carrier_id " \
	"  LEFT JOIN oms.carrier_services sv ON sv.id OPERATOR(pg_catalog.=) s.service_id " \
	" WHERE s.id OPERATOR(pg_catalog.=) $1"

Datum
FfDocument(int64 shipment_id, const char *extra_json)
{
	static SPIPlanPtr plan = NULL;
	Datum		doc;

	if (!OmsDocument(&plan, FF_SHIPMENT_DOCUMENT_SQL, shipment_id, extra_json, &doc))
		FulfillmentShipmentNotFound(shipment_id);
	return doc;
}

PG_FUNCTION_INFO_V1(get_shipment);
/*
 * oms.get_shipment(shipment_id): the shipment document.
 */
Datum
get_shipment(PG_FUNCTION_ARGS)
{
	SPI_connect();
	PG_RETURN_DATUM(OmsFinish(FfDocument(PG_GETARG_INT64(0), NULL)));
}

/* ---- cancellation ---- */

/* Cancel one locked pending shipment. */
static void
FfCancel(int64 shipment_id, const char *reason)
{
	static SPIPlanPtr plan = NULL;
	Oid			t2[2] = {INT8OID, TEXTOID};
	Datum		values[2];

	values[0] = Int64GetDatum(shipment_id);
	values[1] = CStringGetTextDatum(reason);
	OmsExec(OmsPlan(&plan,
					"UPDATE oms.shipments SET status = 'cancelled', cancelled_at = pg_catalog.now(), cancel_reason = $2 "
					" WHERE id OPERATOR(pg_catalog.=) $1",
					2, t2), values, NULL, 0);
}

/*
 * The order goes back from in_fulfillment, the status create_shipment set,
 * to confirmed: the names are the two ends of that workflow step.
 */
void
FfBackToConfirmed(int64 order_id, const char *status, const char *why)
{
	static SPIPlanPtr plan = NULL;
	Oid			t1[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(order_id)};

	if (strcmp(status, "in_fulfillment") != 0)
		return;
	OmsQuery(OmsPlan(&plan,
					 "SELECT NOT EXISTS (SELECT FROM oms.shipments WHERE order_id OPERATOR(pg_catalog.=) $1 "
					 "                    AND status OPERATOR(pg_catalog.<>) 'cancelled')",
					 1, t1), values, NULL, 1);
	if (DatumGetBool(OmsGetDatum(0, 1, NULL)))
		LifecycleChange(order_id, "confirmed", why, false);
}

PG_FUNCTION_INFO_V1(cancel_shipment);
/*
 * oms.cancel_shipment(shipment_id, reason DEFAULT NULL). The units stay
 * reserved for the order. A repeated call changes nothing and says so.
 */
Datum
cancel_shipment(PG_FUNCTION_ARGS)
{
	int64		shipment_id;
	char	   *reason;
	char	   *sstatus;
	char	   *ostatus;
	int32		location_id;
	int64		order_id;

	OmsRequireArg(fcinfo, 0, "shipment_id");
	shipment_id = PG_GETARG_INT64(0);
	reason = PG_ARGISNULL(1) ? "cancelled" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	SPI_connect();
	order_id = FfLockShipment(shipment_id, &sstatus, &location_id, &ostatus, NULL);
	if (strcmp(sstatus, "cancelled") == 0)
		PG_RETURN_DATUM(OmsFinish(FfDocument(shipment_id,
											psprintf("{\"cancelled\": false, \"note\": \"shipment " INT64_FORMAT " is already cancelled; nothing to do\"}",
													 shipment_id))));
	if (strcmp(sstatus, "pending") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("shipment " INT64_FORMAT " cannot be cancelled: it is %s", shipment_id, sstatus),
				 errdetail("Only a shipment that has not shipped can be cancelled."),
				 errhint("Shipped units come back through a return.")));
	OmsCheckFreeText(reason, "reason", OMS_MAX_REASON_CHARS);
	FfCancel(shipment_id, reason);
	{
		StringInfoData ev;

		initStringInfo(&ev);
		appendStringInfo(&ev, "{\"shipment_id\": " INT64_FORMAT ", \"reason\": ", shipment_id);
		escape_json(&ev, reason);
		appendStringInfoChar(&ev, '}');
		EventsEmit("shipment_cancelled", order_id, ev.data);
	}
	FfBackToConfirmed(order_id, ostatus, psprintf("shipment " INT64_FORMAT " cancelled", shipment_id));
	PG_RETURN_DATUM(OmsFinish(FfDocument(shipment_id, "{\"cancelled\": true}")));
}

void
FfCancelledEvents(int64 order_id, const char *reason)
{
	int			n = (int) SPI_processed;
	int64	   *ids = palloc(sizeof(int64) * (n + 1));
	int			i;

	for (i = 0; i < n; i++)
		ids[i] = OmsGetInt64(i, 1, NULL);
	for (i = 0; i < n; i++)
		EventsEmit("shipment_cancelled", order_id,
				   psprintf("{\"shipment_id\": " INT64_FORMAT ", \"reason\": \"%s\"}", ids[i], reason));
}

/* For cancel_order: cancel every pending shipment of the (locked) order. */
void
FulfillmentCancelOrder(int64 order_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			t1[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(order_id)};

	OmsExec(OmsPlan(&plan,
					"UPDATE oms.shipments SET status = 'cancelled', cancelled_at = pg_catalog.now(), "
					"       cancel_reason = 'order cancelled' "
					" WHERE order_id OPERATOR(pg_catalog.=) $1 AND status OPERATOR(pg_catalog.=) 'pending' "
					"RETURNING id",
					1, t1), values, NULL, 0);
	FfCancelledEvents(order_id, "order cancelled");
}
