/*-------------------------------------------------------------------------
 *
 * fulfillment.c
 *	  Shipments: create, ship, deliver, cancel; rejection by a location
 *	  with re-routing. The documents of a shipment (packing slip, labels)
 *	  are in documents.c.
 *
 *	  A shipment holds units of one order at one location. create_shipment
 *	  takes what the order holds there and is not in another pending
 *	  shipment; ship() consumes the reservations behind those units and
 *	  takes them off on_hand through the ledger (kind shipment).
 *
 *	  Locking: every function here locks the order row first (the shipment
 *	  row is read, then its order locked, then the shipment re-read under
 *	  that lock), then the order lines, then balance rows in (product,
 *	  location) order: the global order described in inventory.c. Two calls
 *	  on shipments of one order therefore run one after the other, and a
 *	  shipment can never take units another shipment already has.
 *
 *	  Labels are rendered by ZplLabel() (zpl.c), the one ZPL writer
 *	  (return labels use it too).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "oms.h"

/* ---- helpers ---- */

static void FfCancelledEvents(int64 order_id, const char *reason);

void
FulfillmentShipmentNotFound(int64 shipment_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("shipment " INT64_FORMAT " does not exist", shipment_id),
			 errdetail("No row in oms.shipments has id " INT64_FORMAT ".", shipment_id),
			 errhint("Use the shipment_id returned by oms.create_shipment().")));
}

/*
 * Lock the shipment's order, then the shipment. Returns the order id and
 * the shipment's status and location.
 */
static int64
FfLockShipment(int64 shipment_id, char **status, int32 *location_id, char **order_status)
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
	*order_status = LifecycleLockOrder(order_id, NULL);
	OmsQuery(OmsPlan(&plan_lock,
					 "SELECT status, location_id FROM oms.shipments WHERE id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
					 1, types), values, NULL, 1);
	*status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	*location_id = OmsGetInt32(0, 2, NULL);
	return order_id;
}

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

/* The shipment document (jsonb in the caller's SPI memory), with a note. */
static Datum
FfDocument(int64 shipment_id, const char *extra_json)
{
	static SPIPlanPtr plan = NULL;
	Datum		doc;

	if (!OmsDocument(&plan, FF_SHIPMENT_DOCUMENT_SQL, shipment_id, extra_json, &doc))
		FulfillmentShipmentNotFound(shipment_id);
	return doc;
}

static char *
FfTextArg(FunctionCallInfo fcinfo, int argno, const char *name, int maxlen)
{
	char	   *s;

	OmsRequireArg(fcinfo, argno, name);
	s = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (strlen(s) == 0 || (int) strlen(s) > maxlen)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s \"%s\"", name, s),
				 errdetail("%s must have 1 to %d characters.", name, maxlen),
				 errhint("Pass the %s as it is stored in its table.", name)));
	return s;
}

/* ---- create_shipment ---- */

typedef struct FfOpenLine
{
	int64		line_id;
	int32		line_no;
	char	   *sku;
	int32		open;			/* held at the location, not in a pending shipment */
	int32		want;
} FfOpenLine;

PG_FUNCTION_INFO_V1(create_shipment);
/*
 * oms.create_shipment(order_id, location, lines DEFAULT NULL). What a line
 * can ship from a location is what it holds there (kits: whole kits) minus
 * what pending shipments already have.
 */
Datum
create_shipment(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan_open = NULL;
	static SPIPlanPtr plan_ship = NULL;
	static SPIPlanPtr plan_lines = NULL;
	int64		order_id;
	char	   *location;
	int32		location_id;
	bool		loc_active;
	char	   *status;
	FfOpenLine *lines;
	int			nlines;
	int			i,
				j;
	int64		shipment_id;
	int64		total = 0;
	Oid			t2[2] = {INT8OID, INT4OID};
	Datum		values[3];

	OmsRequireArg(fcinfo, 0, "order_id");
	order_id = PG_GETARG_INT64(0);
	location = FfTextArg(fcinfo, 1, "location", 32);

	SPI_connect();
	if (!OmsLookupLocation(location, &location_id, &loc_active))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown location \"%s\"", location),
				 errdetail("No location in oms.locations has the code \"%s\".", location),
				 errhint("Location codes are case-sensitive.")));
	status = LifecycleLockOrder(order_id, NULL);
	if (strcmp(status, "confirmed") != 0 && strcmp(status, "in_fulfillment") != 0 &&
		strcmp(status, "partially_shipped") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order " INT64_FORMAT " cannot be shipped: it is %s", order_id, status),
				 errdetail("Shipments are created for confirmed orders (status confirmed, in_fulfillment or partially_shipped)."),
				 errhint(strcmp(status, "pending_payment") == 0 || strcmp(status, "backordered") == 0
						 ? "Pay first: an authorization that covers the total confirms the order."
						 : strcmp(status, "on_hold") == 0 ? "Release the hold first." : "Nothing can ship from this order.")));

	values[0] = Int64GetDatum(order_id);
	values[1] = Int32GetDatum(location_id);
	OmsQuery(OmsPlan(&plan_open,
					 "SELECT ol.id, ol.line_no, p.sku, "
					 "       CASE WHEN p.kind OPERATOR(pg_catalog.=) 'kit' THEN "
					 "         (SELECT COALESCE(pg_catalog.min(COALESCE(h.held, 0) OPERATOR(pg_catalog./) kc.qty), 0) "
					 "            FROM oms.kit_components kc "
					 "            LEFT JOIN (SELECT r.product_id, pg_catalog.sum(r.qty)::int4 AS held FROM oms.reservations r "
					 "                        WHERE r.order_line_id OPERATOR(pg_catalog.=) ol.id "
					 "                          AND r.location_id OPERATOR(pg_catalog.=) $2 "
					 "                          AND r.status OPERATOR(pg_catalog.=) 'active' GROUP BY r.product_id) h "
					 "              ON h.product_id OPERATOR(pg_catalog.=) kc.component_id "
					 "           WHERE kc.kit_id OPERATOR(pg_catalog.=) ol.product_id) "
					 "       ELSE (SELECT COALESCE(pg_catalog.sum(r.qty), 0)::int4 FROM oms.reservations r "
					 "              WHERE r.order_line_id OPERATOR(pg_catalog.=) ol.id AND r.location_id OPERATOR(pg_catalog.=) $2 "
					 "                AND r.status OPERATOR(pg_catalog.=) 'active') END "
					 "       OPERATOR(pg_catalog.-) "
					 "       (SELECT COALESCE(pg_catalog.sum(sl.qty), 0)::int4 FROM oms.shipment_lines sl "
					 "          JOIN oms.shipments s ON s.id OPERATOR(pg_catalog.=) sl.shipment_id "
					 "         WHERE sl.order_line_id OPERATOR(pg_catalog.=) ol.id AND s.location_id OPERATOR(pg_catalog.=) $2 "
					 "           AND s.status OPERATOR(pg_catalog.=) 'pending') "
					 "  FROM oms.order_lines ol JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) ol.product_id "
					 " WHERE ol.order_id OPERATOR(pg_catalog.=) $1 AND p.kind OPERATOR(pg_catalog.<>) 'service' "
					 " ORDER BY ol.line_no",
					 2, t2), values, NULL, 0);
	nlines = (int) SPI_processed;
	lines = palloc0(sizeof(FfOpenLine) * (nlines + 1));
	for (i = 0; i < nlines; i++)
	{
		lines[i].line_id = OmsGetInt64(i, 1, NULL);
		lines[i].line_no = OmsGetInt32(i, 2, NULL);
		lines[i].sku = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3);
		lines[i].open = Max(OmsGetInt32(i, 4, NULL), 0);
	}

	if (PG_ARGISNULL(2))
	{
		for (i = 0; i < nlines; i++)
			lines[i].want = lines[i].open;
	}
	else
	{
		static const char *const keys[] = {"line_no", "sku", "qty", NULL};
		Jsonb	   *doc = PG_GETARG_JSONB_P(2);
		int32	   *line_nos;
		char	  **skus;
		int			n;

		JsonDocument = "shipment";
		if (!JB_ROOT_IS_ARRAY(doc) || JB_ROOT_IS_SCALAR(doc))
			JsonInvalid("lines", "lines must be a JSON array of {\"line_no\" or \"sku\", \"qty\"}.",
						"Pass NULL to ship everything the order holds at the location.");
		n = JsonContainerSize(&doc->root);
		if (n == 0)
			JsonInvalid("lines", "lines is empty.", "Pass NULL to ship everything the order holds at the location.");
		line_nos = palloc(sizeof(int32) * (nlines + 1));
		skus = palloc(sizeof(char *) * (nlines + 1));
		for (j = 0; j < nlines; j++)
		{
			line_nos[j] = lines[j].line_no;
			skus[j] = lines[j].sku;
		}
		for (i = 0; i < n; i++)
		{
			JsonbValue *lv = getIthJsonbValueFromContainer(&doc->root, i);
			char	   *path = psprintf("lines[%d]", i);
			JsonbContainer *l = JsonObject(lv, path);
			JsonbValue	buf;
			JsonbValue *f;
			int			found = -1;
			int32		qty;

			JsonCheckKeys(l, keys, path);
			found = JsonOrderLine(l, path, order_id, nlines, line_nos, skus);
			if ((f = JsonGet(l, "qty", &buf)) == NULL)
				JsonInvalid(psprintf("%s.qty", path), psprintf("%s.qty is required.", path), "Give the units to ship.");
			qty = JsonInt(f, psprintf("%s.qty", path), 1, 1000000, "Give the units to ship, at least 1.");
			if (lines[found].want > 0)
				JsonInvalid(path, psprintf("Line %d is listed twice.", lines[found].line_no), "List each line once.");
			lines[found].want = qty;
		}
		for (i = 0; i < nlines; i++)
			if (lines[i].want > lines[i].open)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid shipment: line %d asks to ship more than is reserved at %s", lines[i].line_no, location),
						 errdetail("Line %d (%s) asks for %d unit(s); the order holds %d at %s that no other pending shipment has.",
								   lines[i].line_no, lines[i].sku, lines[i].want, lines[i].open, location),
						 errhint("Ship at most what is reserved at the location; see oms.get_order for where units are held.")));
	}
	for (i = 0; i < nlines; i++)
		total += lines[i].want;
	if (total == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order " INT64_FORMAT " has nothing to ship from %s", order_id, location),
				 errdetail("No unit of the order is reserved at %s outside another pending shipment.", location),
				 errhint("See oms.get_order for where the order's units are held.")));

	/* the shipment and its lines */
	{
		Oid			t3[3] = {INT8OID, INT4OID, INT8ARRAYOID};
		int64	   *ids = palloc(sizeof(int64) * (nlines + 1));
		int32	   *qtys = palloc(sizeof(int32) * (nlines + 1));
		int			k = 0;
		Oid			tl[3] = {INT8OID, INT8ARRAYOID, INT4ARRAYOID};

		for (i = 0; i < nlines; i++)
			if (lines[i].want > 0)
			{
				ids[k] = lines[i].line_id;
				qtys[k] = lines[i].want;
				k++;
			}
		values[0] = Int64GetDatum(order_id);
		values[1] = Int32GetDatum(location_id);
		OmsExec(OmsPlan(&plan_ship,
						"INSERT INTO oms.shipments (order_id, location_id, currency, weight_kg, distance_km) "
						"SELECT o.id, l.id, o.currency, 0, "
						"       CASE WHEN o.ship_lat IS NOT NULL THEN "
						"         pg_catalog.round(oms.distance_km(l.latitude, l.longitude, o.ship_lat, o.ship_lon)::pg_catalog.numeric, 1) END "
						"  FROM oms.orders o, oms.locations l "
						" WHERE o.id OPERATOR(pg_catalog.=) $1 AND l.id OPERATOR(pg_catalog.=) $2 "
						"RETURNING id",
						2, t3), values, NULL, 1);
		shipment_id = OmsGetInt64(0, 1, NULL);
		values[0] = Int64GetDatum(shipment_id);
		values[1] = PointerGetDatum(OmsInt8Array(ids, k));
		values[2] = PointerGetDatum(OmsInt4Array(qtys, k));
		/* weight: the stock items' weight (a kit weighs its components) */
		OmsExec(OmsPlan(&plan_lines,
						"WITH sl AS (INSERT INTO oms.shipment_lines (shipment_id, order_line_id, qty) "
						"            SELECT $1, * FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3)) "
						"            RETURNING order_line_id, qty) "
						"UPDATE oms.shipments s SET weight_kg = COALESCE(( "
						"  SELECT pg_catalog.sum(sl.qty OPERATOR(pg_catalog.*) COALESCE(( "
						"           SELECT pg_catalog.sum(kc.qty OPERATOR(pg_catalog.*) cp.weight_kg) "
						"             FROM oms.kit_components kc JOIN oms.products cp ON cp.id OPERATOR(pg_catalog.=) kc.component_id "
						"            WHERE kc.kit_id OPERATOR(pg_catalog.=) p.id AND p.kind OPERATOR(pg_catalog.=) 'kit'), p.weight_kg)) "
						"    FROM sl JOIN oms.order_lines ol ON ol.id OPERATOR(pg_catalog.=) sl.order_line_id "
						"    JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) ol.product_id), 0) "
						" WHERE s.id OPERATOR(pg_catalog.=) $1",
						3, tl), values, NULL, 0);
	}
	if (strcmp(status, "confirmed") == 0)
		LifecycleChange(order_id, "in_fulfillment", psprintf("shipment " INT64_FORMAT " created at %s", shipment_id, location), false);
	EventsEmit("shipment_created", order_id,
			   psprintf("{\"shipment_id\": " INT64_FORMAT ", \"location\": \"%s\", \"units\": " INT64_FORMAT "}",
						shipment_id, location, total));
	PG_RETURN_DATUM(OmsFinish(FfDocument(shipment_id, NULL)));
}

/* ---- ship ---- */

/* one reservation (part) consumed by a shipment */
typedef struct FfConsume
{
	int64		product_id;
	int64		reservation_id;
	int32		qty;
} FfConsume;

static int
FfConsumeCmp(const void *a, const void *b)
{
	const FfConsume *x = a;
	const FfConsume *y = b;

	if (x->product_id != y->product_id)
		return x->product_id < y->product_id ? -1 : 1;
	return (x->reservation_id > y->reservation_id) - (x->reservation_id < y->reservation_id);
}

PG_FUNCTION_INFO_V1(ship);
/*
 * oms.ship(shipment_id, carrier, service, tracking_number).
 */
Datum
ship(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan_service = NULL;
	static SPIPlanPtr plan_dup = NULL;
	static SPIPlanPtr plan_rate = NULL;
	static SPIPlanPtr plan_need = NULL;
	static SPIPlanPtr plan_res = NULL;
	static SPIPlanPtr plan_split = NULL;
	static SPIPlanPtr plan_consume = NULL;
	static SPIPlanPtr plan_lines = NULL;
	static SPIPlanPtr plan_done = NULL;
	static SPIPlanPtr plan_shipment = NULL;
	static SPIPlanPtr plan_event = NULL;
	int64		shipment_id;
	char	   *carrier;
	char	   *service;
	char	   *tracking;
	char	   *sstatus;
	char	   *ostatus;
	int32		location_id;
	int64		order_id;
	int32		service_id;
	int32		carrier_id;
	Datum		rate;
	FfConsume  *cons = NULL;
	int			ncons = 0;
	int			i,
				n;
	bool		complete;
	const char *p;
	Datum		values[6];
	char		nulls[6] = "      ";

	OmsRequireArg(fcinfo, 0, "shipment_id");
	shipment_id = PG_GETARG_INT64(0);
	carrier = FfTextArg(fcinfo, 1, "carrier", 32);
	service = FfTextArg(fcinfo, 2, "service", 32);
	OmsRequireArg(fcinfo, 3, "tracking_number");
	tracking = text_to_cstring(PG_GETARG_TEXT_PP(3));
	/*
	 * Letters, digits and dashes: what carriers print, and what a Code 128
	 * barcode carries without escaping. Not checked for card numbers: long
	 * digit-only tracking numbers are common and some pass the Luhn check.
	 */
	for (p = tracking; *p; p++)
		if (!isalnum((unsigned char) *p) && *p != '-')
			break;
	if (strlen(tracking) == 0 || strlen(tracking) > 40 || *p != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid tracking number \"%s\"", tracking),
				 errdetail("A tracking number has 1 to 40 letters, digits or dashes."),
				 errhint("Pass the number as the carrier issued it, without spaces.")));

	SPI_connect();
	{
		Oid			t2[2] = {TEXTOID, TEXTOID};

		values[0] = CStringGetTextDatum(carrier);
		values[1] = CStringGetTextDatum(service);
		OmsQuery(OmsPlan(&plan_service,
						 "SELECT c.id, c.active, (SELECT sv.id FROM oms.carrier_services sv "
						 "                         WHERE sv.carrier_id OPERATOR(pg_catalog.=) c.id AND sv.code OPERATOR(pg_catalog.=) $2 "
						 "                           AND sv.active), "
						 "       (SELECT pg_catalog.string_agg(sv.code, ', ' ORDER BY sv.code) FROM oms.carrier_services sv "
						 "         WHERE sv.carrier_id OPERATOR(pg_catalog.=) c.id AND sv.active) "
						 "  FROM oms.carriers c WHERE c.code OPERATOR(pg_catalog.=) $1",
						 2, t2), values, NULL, 1);
		if (SPI_processed == 0 || !DatumGetBool(OmsGetDatum(0, 2, NULL)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown carrier \"%s\"", carrier),
					 errdetail(SPI_processed == 0 ? "No carrier in oms.carriers has the code \"%s\"." : "Carrier \"%s\" is inactive.", carrier),
					 errhint("See oms.quote_shipping for the carriers and services that serve the shipment.")));
		carrier_id = OmsGetInt32(0, 1, NULL);
		{
			bool		isnull;

			service_id = OmsGetInt32(0, 3, &isnull);
			if (isnull)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown service \"%s\" of carrier \"%s\"", service, carrier),
						 errdetail("The active services of %s are: %s.", carrier,
								   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4)
								   ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4) : "none"),
						 errhint("See oms.quote_shipping for the carriers and services that serve the shipment.")));
		}
	}

	order_id = FfLockShipment(shipment_id, &sstatus, &location_id, &ostatus);
	if (strcmp(sstatus, "pending") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("shipment " INT64_FORMAT " cannot ship: it is %s", shipment_id, sstatus),
				 errdetail(strcmp(sstatus, "cancelled") == 0 ? "A cancelled shipment never ships."
						   : "A shipment ships once."),
				 errhint(strcmp(sstatus, "cancelled") == 0 ? "Create a new shipment for the units."
						 : "See oms.get_shipment for its tracking number.")));
	if (strcmp(ostatus, "in_fulfillment") != 0 && strcmp(ostatus, "partially_shipped") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("shipment " INT64_FORMAT " cannot ship: its order " INT64_FORMAT " is %s", shipment_id, order_id, ostatus),
				 errdetail("Only orders in fulfillment ship."),
				 errhint(strcmp(ostatus, "on_hold") == 0 ? "Release the hold first." : "Cancel the shipment.")));

	/* the tracking number is the carrier's: once per carrier */
	{
		Oid			t2[2] = {INT4OID, TEXTOID};

		values[0] = Int32GetDatum(carrier_id);
		values[1] = CStringGetTextDatum(tracking);
		OmsQuery(OmsPlan(&plan_dup,
						 "SELECT id FROM oms.shipments WHERE carrier_id OPERATOR(pg_catalog.=) $1 "
						 "   AND tracking_number OPERATOR(pg_catalog.=) $2",
						 2, t2), values, NULL, 1);
		if (SPI_processed > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tracking number \"%s\" of carrier \"%s\" is already used", tracking, carrier),
					 errdetail("Shipment " INT64_FORMAT " has it.", OmsGetInt64(0, 1, NULL)),
					 errhint("Each parcel needs its own tracking number.")));
	}

	/* the rate: the quote rule of oms.quote_shipping, for this service */
	{
		Oid			t3[3] = {INT8OID, TEXTOID, TEXTOID};
		bool		isnull;

		values[0] = Int64GetDatum(shipment_id);
		values[1] = CStringGetTextDatum(carrier);
		values[2] = CStringGetTextDatum(service);
		OmsQuery(OmsPlan(&plan_rate,
						 "SELECT q.price, (SELECT s.distance_km FROM oms.shipments s WHERE s.id OPERATOR(pg_catalog.=) $1), "
						 "       (SELECT s.weight_kg FROM oms.shipments s WHERE s.id OPERATOR(pg_catalog.=) $1) "
						 "  FROM (SELECT 1) one LEFT JOIN oms.quote_shipping(shipment_id => $1) q "
						 "    ON q.carrier OPERATOR(pg_catalog.=) $2 AND q.service OPERATOR(pg_catalog.=) $3",
						 3, t3), values, NULL, 1);
		rate = OmsGetDatum(0, 1, &isnull);
		if (isnull)
		{
			char	   *dist = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
			char	   *kg = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);

			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("service \"%s\" of carrier \"%s\" does not serve shipment " INT64_FORMAT, service, carrier, shipment_id),
					 errdetail("No rate in oms.shipping_rates covers %s kg over %s in the order's currency.",
							   kg, dist ? psprintf("%s km", dist) : "an unknown distance"),
					 errhint("See oms.quote_shipping(shipment_id => " INT64_FORMAT ") for the services that do.", shipment_id)));
		}
		rate = SPI_datumTransfer(rate, false, -1);
	}

	/*
	 * The reservations behind the shipment's units, per line and product
	 * (kits through their components), oldest first, locked.
	 */
	{
		Oid			t1[1] = {INT8OID};
		Oid			t3[3] = {INT8OID, INT8OID, INT4OID};
		SPITupleTable *need;
		int			nneed;

		values[0] = Int64GetDatum(shipment_id);
		OmsQuery(OmsPlan(&plan_need,
						 "SELECT sl.order_line_id, ol.line_no, "
						 "       COALESCE(kc.component_id, ol.product_id), "
						 "       sl.qty OPERATOR(pg_catalog.*) COALESCE(kc.qty, 1), s.location_id "
						 "  FROM oms.shipment_lines sl "
						 "  JOIN oms.shipments s ON s.id OPERATOR(pg_catalog.=) sl.shipment_id "
						 "  JOIN oms.order_lines ol ON ol.id OPERATOR(pg_catalog.=) sl.order_line_id "
						 "  JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) ol.product_id "
						 "  LEFT JOIN oms.kit_components kc ON p.kind OPERATOR(pg_catalog.=) 'kit' "
						 "       AND kc.kit_id OPERATOR(pg_catalog.=) p.id "
						 " WHERE sl.shipment_id OPERATOR(pg_catalog.=) $1 ORDER BY ol.line_no, 3",
						 1, t1), values, NULL, 0);
		need = SPI_tuptable;
		nneed = (int) SPI_processed;
		cons = palloc(sizeof(FfConsume) * 16);
		n = 16;
		for (i = 0; i < nneed; i++)
		{
			bool		isnull;
			int64		line_id = DatumGetInt64(SPI_getbinval(need->vals[i], need->tupdesc, 1, &isnull));
			int32		line_no = DatumGetInt32(SPI_getbinval(need->vals[i], need->tupdesc, 2, &isnull));
			int64		product_id = DatumGetInt64(SPI_getbinval(need->vals[i], need->tupdesc, 3, &isnull));
			int32		want = DatumGetInt32(SPI_getbinval(need->vals[i], need->tupdesc, 4, &isnull));
			int			r;

			values[0] = Int64GetDatum(line_id);
			values[1] = Int64GetDatum(product_id);
			values[2] = Int32GetDatum(location_id);
			OmsQuery(OmsPlan(&plan_res,
							 "SELECT id, qty FROM oms.reservations WHERE order_line_id OPERATOR(pg_catalog.=) $1 "
							 "   AND product_id OPERATOR(pg_catalog.=) $2 AND location_id OPERATOR(pg_catalog.=) $3 "
							 "   AND status OPERATOR(pg_catalog.=) 'active' ORDER BY id FOR UPDATE",
							 3, t3), values, NULL, 0);
			for (r = 0; r < (int) SPI_processed && want > 0; r++)
			{
				int32		q = Min(OmsGetInt32(r, 2, NULL), want);

				if (ncons == n)
				{
					n *= 2;
					cons = repalloc(cons, sizeof(FfConsume) * n);
				}
				cons[ncons].product_id = product_id;
				cons[ncons].reservation_id = OmsGetInt64(r, 1, NULL);
				cons[ncons].qty = q;
				ncons++;
				want -= q;
			}
			if (want > 0)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("shipment " INT64_FORMAT " asks to ship more than is reserved", shipment_id),
						 errdetail("Line %d lacks %d unit(s) of product " INT64_FORMAT " reserved at the shipment's location.",
								   line_no, want, product_id),
						 errhint("The reservation was released since the shipment was created; cancel the shipment and create a new one.")));
		}
	}

	/* lines first (the lock order), then reservations and balances ascending */
	values[0] = Int64GetDatum(shipment_id);
	{
		Oid			t1[1] = {INT8OID};

		OmsExec(OmsPlan(&plan_lines,
						"UPDATE oms.order_lines ol SET qty_reserved = ol.qty_reserved OPERATOR(pg_catalog.-) sl.qty, "
						"       qty_shipped = ol.qty_shipped OPERATOR(pg_catalog.+) sl.qty "
						"  FROM oms.shipment_lines sl WHERE sl.shipment_id OPERATOR(pg_catalog.=) $1 "
						"   AND ol.id OPERATOR(pg_catalog.=) sl.order_line_id",
						1, t1), values, NULL, 0);
	}
	qsort(cons, ncons, sizeof(FfConsume), FfConsumeCmp);
	for (i = 0; i < ncons; i++)
	{
		Oid			t2[2] = {INT8OID, INT4OID};
		int64		consumed_id = cons[i].reservation_id;

		values[0] = Int64GetDatum(cons[i].reservation_id);
		values[1] = Int32GetDatum(cons[i].qty);
		/* a partly shipped reservation: split off the shipped part */
		OmsExec(OmsPlan(&plan_split,
						"WITH old AS (UPDATE oms.reservations SET qty = qty OPERATOR(pg_catalog.-) $2 "
						"              WHERE id OPERATOR(pg_catalog.=) $1 AND qty OPERATOR(pg_catalog.>) $2 "
						"             RETURNING order_id, order_line_id, product_id, location_id, slot, created_at) "
						"INSERT INTO oms.reservations (order_id, order_line_id, product_id, location_id, slot, qty, status, created_at, ended_at) "
						"SELECT order_id, order_line_id, product_id, location_id, slot, $2, 'consumed', created_at, pg_catalog.now() FROM old "
						"RETURNING id",
						2, t2), values, NULL, 0);
		if (SPI_processed == 1)
			consumed_id = OmsGetInt64(0, 1, NULL);
		else
		{
			Oid			t1[1] = {INT8OID};

			OmsExec(OmsPlan(&plan_consume,
							"UPDATE oms.reservations SET status = 'consumed', ended_at = pg_catalog.now() "
							" WHERE id OPERATOR(pg_catalog.=) $1",
							1, t1), values, NULL, 0);
		}
		InventoryShip(cons[i].product_id, location_id, cons[i].qty, order_id, consumed_id,
					  psprintf("shipment " INT64_FORMAT " %s %s", shipment_id, carrier, tracking));
	}

	/* the shipment */
	{
		Oid			t5[5] = {INT8OID, INT4OID, INT4OID, TEXTOID, NUMERICOID};

		values[0] = Int64GetDatum(shipment_id);
		values[1] = Int32GetDatum(carrier_id);
		values[2] = Int32GetDatum(service_id);
		values[3] = CStringGetTextDatum(tracking);
		values[4] = rate;
		OmsExec(OmsPlan(&plan_shipment,
						"UPDATE oms.shipments SET status = 'shipped', carrier_id = $2, service_id = $3, "
						"       tracking_number = $4, rate = $5, shipped_at = pg_catalog.now() "
						" WHERE id OPERATOR(pg_catalog.=) $1",
						5, t5), values, nulls, 0);
	}

	/*
	 * The order: shipped when no unit is reserved or waiting any more;
	 * then its service lines count as delivered with the goods.
	 */
	{
		Oid			t1[1] = {INT8OID};

		values[0] = Int64GetDatum(order_id);
		OmsQuery(OmsPlan(&plan_done,
						 "SELECT NOT EXISTS (SELECT FROM oms.order_lines l JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) l.product_id "
						 "                    WHERE l.order_id OPERATOR(pg_catalog.=) $1 AND p.kind OPERATOR(pg_catalog.<>) 'service' "
						 "                      AND (l.qty_reserved OPERATOR(pg_catalog.>) 0 OR l.qty_backordered OPERATOR(pg_catalog.>) 0))",
						 1, t1), values, NULL, 1);
		complete = DatumGetBool(OmsGetDatum(0, 1, NULL));
		if (complete)
		{
			static SPIPlanPtr plan_services = NULL;

			OmsExec(OmsPlan(&plan_services,
							"UPDATE oms.order_lines l SET qty_shipped = l.qty_shipped OPERATOR(pg_catalog.+) l.qty_reserved, qty_reserved = 0 "
							"  FROM oms.products p WHERE p.id OPERATOR(pg_catalog.=) l.product_id "
							"   AND p.kind OPERATOR(pg_catalog.=) 'service' AND l.order_id OPERATOR(pg_catalog.=) $1 "
							"   AND l.qty_reserved OPERATOR(pg_catalog.>) 0",
							1, t1), values, NULL, 0);
		}
	}
	/* revenue and tax of what shipped, in the journal */
	LedgerRecognize(order_id, shipment_id);
	if (complete)
		LifecycleChange(order_id, "shipped", psprintf("shipment " INT64_FORMAT " shipped", shipment_id), false);
	else if (strcmp(ostatus, "partially_shipped") != 0)
		LifecycleChange(order_id, "partially_shipped", psprintf("shipment " INT64_FORMAT " shipped", shipment_id), false);

	/* the event carries what the "your order has shipped" message needs */
	{
		Oid			t1[1] = {INT8OID};

		values[0] = Int64GetDatum(shipment_id);
		OmsQuery(OmsPlan(&plan_event,
						 "SELECT pg_catalog.jsonb_build_object('shipment_id', s.id, 'location', l.code, "
						 "         'carrier', c.code, 'carrier_name', c.name, 'service', sv.code, 'service_name', sv.name, "
						 "         'tracking_number', s.tracking_number, "
						 "         'tracking_url', pg_catalog.replace(c.tracking_url, '{{tracking_number}}', s.tracking_number), "
						 "         'transit_days', sv.transit_days, "
						 "         'items', (SELECT pg_catalog.string_agg(pg_catalog.format('  %s x %s (%s)', sl.qty, p.name, p.sku), "
						 "                                              E'\\n' ORDER BY ol.line_no) "
						 "                     FROM oms.shipment_lines sl "
						 "                     JOIN oms.order_lines ol ON ol.id OPERATOR(pg_catalog.=) sl.order_line_id "
						 "                     JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) ol.product_id "
						 "                    WHERE sl.shipment_id OPERATOR(pg_catalog.=) s.id))::pg_catalog.text "
						 "  FROM oms.shipments s JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) s.location_id "
						 "  JOIN oms.carriers c ON c.id OPERATOR(pg_catalog.=) s.carrier_id "
						 "  JOIN oms.carrier_services sv ON sv.id OPERATOR(pg_catalog.=) s.service_id "
						 " WHERE s.id OPERATOR(pg_catalog.=) $1",
						 1, t1), values, NULL, 1);
		EventsEmit("shipment_shipped", order_id, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	}
	PG_RETURN_DATUM(OmsFinish(FfDocument(shipment_id, NULL)));
}

/* ---- deliver, cancel_shipment ---- */

PG_FUNCTION_INFO_V1(deliver);
/*
 * oms.deliver(shipment_id). A repeated call (carriers re-send delivery
 * webhooks) changes nothing and says so.
 */
Datum
deliver(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_all = NULL;
	int64		shipment_id;
	char	   *sstatus;
	char	   *ostatus;
	int32		location_id;
	int64		order_id;
	Oid			t1[1] = {INT8OID};
	Datum		values[1];

	OmsRequireArg(fcinfo, 0, "shipment_id");
	shipment_id = PG_GETARG_INT64(0);
	SPI_connect();
	order_id = FfLockShipment(shipment_id, &sstatus, &location_id, &ostatus);
	if (strcmp(sstatus, "delivered") == 0)
		PG_RETURN_DATUM(OmsFinish(FfDocument(shipment_id,
											psprintf("{\"delivered\": false, \"note\": \"shipment " INT64_FORMAT " is already delivered; nothing to do\"}",
													 shipment_id))));
	if (strcmp(sstatus, "shipped") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("shipment " INT64_FORMAT " cannot be delivered: it is %s", shipment_id, sstatus),
				 errdetail("Only a shipped shipment can be delivered."),
				 errhint(strcmp(sstatus, "pending") == 0 ? "Ship it first with oms.ship()." : "A cancelled shipment never arrives.")));
	values[0] = Int64GetDatum(shipment_id);
	OmsExec(OmsPlan(&plan,
					"UPDATE oms.shipments SET status = 'delivered', delivered_at = pg_catalog.now() "
					" WHERE id OPERATOR(pg_catalog.=) $1 "
					"RETURNING pg_catalog.jsonb_build_object('shipment_id', id, 'tracking_number', tracking_number)::pg_catalog.text",
					1, t1), values, NULL, 1);
	EventsEmit("shipment_delivered", order_id, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	/* the order arrived when it shipped completely and every parcel arrived */
	if (strcmp(ostatus, "shipped") == 0)
	{
		values[0] = Int64GetDatum(order_id);
		OmsQuery(OmsPlan(&plan_all,
						 "SELECT NOT EXISTS (SELECT FROM oms.shipments WHERE order_id OPERATOR(pg_catalog.=) $1 "
						 "                    AND status OPERATOR(pg_catalog.=) ANY ('{pending,shipped}'::text[]))",
						 1, t1), values, NULL, 1);
		if (DatumGetBool(OmsGetDatum(0, 1, NULL)))
			LifecycleChange(order_id, "delivered", psprintf("shipment " INT64_FORMAT " delivered", shipment_id), false);
	}
	PG_RETURN_DATUM(OmsFinish(FfDocument(shipment_id, NULL)));
}

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
 * After shipments were cancelled: an order in fulfillment with no pending
 * shipment and nothing shipped is back to confirmed.
 */
static void
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
	order_id = FfLockShipment(shipment_id, &sstatus, &location_id, &ostatus);
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
	OmsCheckNoCardNumber(reason, "reason");
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

/* shipment_cancelled for each shipment id the last statement returned */
static void
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

PG_FUNCTION_INFO_V1(get_shipment);
Datum
get_shipment(PG_FUNCTION_ARGS)
{
	SPI_connect();
	PG_RETURN_DATUM(OmsFinish(FfDocument(PG_GETARG_INT64(0), NULL)));
}

/* ---- rejection ---- */

PG_FUNCTION_INFO_V1(reject_fulfillment);
/*
 * oms.reject_fulfillment(order_id, location, reason, note DEFAULT NULL):
 * the location's pending shipments of the order are cancelled, the
 * rejection recorded (routing never sends the order there again), and
 * orders.c releases and re-routes what the location held.
 */
Datum
reject_fulfillment(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan_reason = NULL;
	static SPIPlanPtr plan_reject = NULL;
	static SPIPlanPtr plan_ships = NULL;
	int64		order_id;
	char	   *location;
	char	   *reason;
	char	   *note = NULL;
	int32		location_id;
	bool		loc_active;
	bool		adjusts;
	char	   *status;
	char	   *result;
	Datum		doc;
	Datum		values[5];
	char		nulls[5] = "     ";

	OmsRequireArg(fcinfo, 0, "order_id");
	order_id = PG_GETARG_INT64(0);
	location = FfTextArg(fcinfo, 1, "location", 32);
	reason = FfTextArg(fcinfo, 2, "reason", 63);
	if (!PG_ARGISNULL(3))
	{
		note = text_to_cstring(PG_GETARG_TEXT_PP(3));
		OmsCheckNoCardNumber(note, "note");
	}

	SPI_connect();
	{
		Oid			t1[1] = {TEXTOID};

		values[0] = CStringGetTextDatum(reason);
		OmsQuery(OmsPlan(&plan_reason,
						 "SELECT (SELECT adjusts_stock FROM oms.rejection_reasons WHERE code OPERATOR(pg_catalog.=) $1), "
						 "       (SELECT pg_catalog.string_agg(code, ', ' ORDER BY code) FROM oms.rejection_reasons)",
						 1, t1), values, NULL, 1);
		{
			bool		isnull;

			adjusts = DatumGetBool(OmsGetDatum(0, 1, &isnull));
			if (isnull)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown rejection reason \"%s\"", reason),
						 errdetail("The reasons in oms.rejection_reasons are: %s.",
								   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2)),
						 errhint("Pass one of these codes and put details in the note; add reasons with INSERT.")));
		}
	}
	if (!OmsLookupLocation(location, &location_id, &loc_active))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown location \"%s\"", location),
				 errdetail("No location in oms.locations has the code \"%s\".", location),
				 errhint("Location codes are case-sensitive.")));
	status = LifecycleLockOrder(order_id, NULL);
	if (strcmp(status, "pending_payment") != 0 && strcmp(status, "backordered") != 0 &&
		strcmp(status, "confirmed") != 0 && strcmp(status, "on_hold") != 0 &&
		strcmp(status, "in_fulfillment") != 0 && strcmp(status, "partially_shipped") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order " INT64_FORMAT " cannot be rejected: it is %s", order_id, status),
				 errdetail("Only an order still waiting to ship can be rejected by a location."),
				 errhint("Nothing of the order is left to fulfil.")));

	/* the location's pending shipments of the order go */
	{
		Oid			t2[2] = {INT8OID, INT4OID};

		values[0] = Int64GetDatum(order_id);
		values[1] = Int32GetDatum(location_id);
		/*
		 * Also a pending shipment elsewhere that has a kit line with units
		 * here: the re-route releases all of a kit line's reservations.
		 */
		OmsExec(OmsPlan(&plan_ships,
						"UPDATE oms.shipments s SET status = 'cancelled', cancelled_at = pg_catalog.now(), "
						"       cancel_reason = 'rejected by the location' "
						" WHERE s.order_id OPERATOR(pg_catalog.=) $1 AND s.status OPERATOR(pg_catalog.=) 'pending' "
						"   AND (s.location_id OPERATOR(pg_catalog.=) $2 "
						"        OR EXISTS (SELECT FROM oms.shipment_lines sl "
						"                     JOIN oms.order_lines ol ON ol.id OPERATOR(pg_catalog.=) sl.order_line_id "
						"                     JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) ol.product_id "
						"                    WHERE sl.shipment_id OPERATOR(pg_catalog.=) s.id AND p.kind OPERATOR(pg_catalog.=) 'kit' "
						"                      AND EXISTS (SELECT FROM oms.reservations r "
						"                                   WHERE r.order_line_id OPERATOR(pg_catalog.=) ol.id "
						"                                     AND r.location_id OPERATOR(pg_catalog.=) $2 "
						"                                     AND r.status OPERATOR(pg_catalog.=) 'active'))) "
						"RETURNING s.id",
						2, t2), values, NULL, 0);
		FfCancelledEvents(order_id, "rejected by the location");
	}

	/* the rejection; a second one for the same location is refused */
	{
		Oid			t4[4] = {INT8OID, INT4OID, TEXTOID, TEXTOID};

		values[0] = Int64GetDatum(order_id);
		values[1] = Int32GetDatum(location_id);
		values[2] = CStringGetTextDatum(reason);
		if (note)
			values[3] = CStringGetTextDatum(note);
		else
			nulls[3] = 'n';
		OmsExec(OmsPlan(&plan_reject,
						"INSERT INTO oms.fulfillment_rejections (order_id, location_id, reason, note, units) "
						"SELECT $1, $2, $3, $4, COALESCE(pg_catalog.sum(r.qty), 0) FROM oms.reservations r "
						" WHERE r.order_id OPERATOR(pg_catalog.=) $1 AND r.location_id OPERATOR(pg_catalog.=) $2 "
						"   AND r.status OPERATOR(pg_catalog.=) 'active' "
						"ON CONFLICT (order_id, location_id) DO NOTHING RETURNING id",
						4, t4), values, nulls, 1);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("location \"%s\" has already rejected order " INT64_FORMAT, location, order_id),
					 errdetail("Routing no longer sends the order there."),
					 errhint("Nothing to do.")));
	}

	result = OrdersReroute(order_id, location_id, adjusts, reason);
	EventsEmit("fulfillment_rejected", order_id,
			   psprintf("{\"location\": \"%s\", \"reason\": \"%s\", \"reroute\": %s}", location, reason, result));
	FfBackToConfirmed(order_id, status, psprintf("rejected by %s", location));
	doc = DirectFunctionCall2(jsonb_concat, OrdersDocumentOf(order_id),
							  DirectFunctionCall1(jsonb_in, CStringGetDatum(psprintf("{\"rejection\": %s}", result))));
	PG_RETURN_DATUM(OmsFinish(doc));
}
