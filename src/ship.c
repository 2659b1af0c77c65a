/*-------------------------------------------------------------------------
 *
 * ship.c
 *	  oms.ship: a pending shipment leaves its location; oms.deliver: it
 *	  arrived.
 *
 *	  ship, step by step
 *	  ------------------
 *	  The SQL entry ship() reads as this list; the steps share a ShipState.
 *	  1. ShipParse: the arguments; the tracking number is letters, digits
 *	     and dashes.
 *	  2. ShipResolveService: the carrier and its service, both active.
 *	  3. ShipLockAndCheck: lock the order, then the shipment
 *	     (FfLockShipment); the shipment must be pending and the order
 *	     shippable (LCAP_SHIPPABLE) and in fulfillment (FfInFulfillment).
 *	  4. ShipCheckTracking: a tracking number is used once per carrier.
 *	  5. ShipRate: the rate, by the quote rule of oms.quote_shipping.
 *	  6. ShipCollectReservations: the reservations behind the shipment's
 *	     units, per line and product (kits through their components),
 *	     oldest first, locked; a unit no longer reserved is an error.
 *	  7. ShipConsumeReservations: the order lines move the units from
 *	     reserved to shipped (lines first: the lock order), then each
 *	     reservation is consumed in (product, reservation) order, a partly
 *	     shipped one split into its consumed part.
 *	  8. ShipRecordMovements: on_hand and reserved go down at the location,
 *	     with a movement of kind shipment per consumed reservation
 *	     (InventoryShip), balance rows in ascending order.
 *	  9. ShipMarkShipped: the shipment row gets carrier, service, tracking
 *	     number, rate and shipped_at.
 *	 10. ShipCheckComplete: the order shipped completely when no unit is
 *	     reserved or waiting any more; its service lines then count as
 *	     delivered with the goods.
 *	 11. ShipRecognizeRevenue: revenue and tax of what shipped, in the
 *	     journal (LedgerRecognize).
 *	 12. ShipAdvanceStatus: the order becomes shipped, or partially_shipped.
 *	 13. ShipEmitEvent: shipment_shipped, with what the "your order has
 *	     shipped" message needs.
 *	  It returns the shipment document.
 *
 *	  Locking follows fulfillment.c: order row, shipment row, order lines,
 *	  reservations, then balance rows in (product, location) order.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "oms.h"
#include "fulfillment.h"

/* one reservation (part) consumed by a shipment */
typedef struct ShipConsume
{
	int64		product_id;
	int64		reservation_id;	/* the reservation; after step 7 the consumed row */
	int32		qty;
} ShipConsume;

/* the working state of one ship() call, filled step by step */
typedef struct ShipState
{
	/* ShipParse */
	int64		shipment_id;
	char	   *carrier;
	char	   *service;
	char	   *tracking;
	/* ShipResolveService */
	int32		carrier_id;
	int32		service_id;
	/* ShipLockAndCheck */
	int64		order_id;
	char	   *order_status;
	int32		location_id;
	/* ShipRate (numeric, in the caller's memory) */
	Datum		rate;
	/* ShipCollectReservations, ShipConsumeReservations */
	ShipConsume *cons;
	int			ncons;
	/* ShipCheckComplete */
	bool		complete;
	/* FfHandOver: counter or pickup, no carrier (NULL: a carrier took it) */
	const char *handover;
} ShipState;

static void ShipParse(FunctionCallInfo fcinfo, ShipState *s);
static void ShipResolveService(ShipState *s);
static void ShipLockAndCheck(ShipState *s);
static void ShipCheckTracking(ShipState *s);
static void ShipRate(ShipState *s);
static void ShipCollectReservations(ShipState *s);
static void ShipConsumeReservations(ShipState *s);
static void ShipRecordMovements(ShipState *s);
static void ShipMarkShipped(ShipState *s);
static void ShipCheckComplete(ShipState *s);
static void ShipRecognizeRevenue(ShipState *s);
static void ShipAdvanceStatus(ShipState *s);
static void ShipEmitEvent(ShipState *s);

PG_FUNCTION_INFO_V1(ship);
/*
 * oms.ship(shipment_id, carrier, service, tracking_number): the steps in
 * the banner, in that order.
 */
Datum
ship(PG_FUNCTION_ARGS)
{
	ShipState	s;

	memset(&s, 0, sizeof(s));
	ShipParse(fcinfo, &s);

	SPI_connect();
	ShipResolveService(&s);
	ShipLockAndCheck(&s);
	ShipCheckTracking(&s);
	ShipRate(&s);
	ShipCollectReservations(&s);
	ShipConsumeReservations(&s);
	ShipRecordMovements(&s);
	ShipMarkShipped(&s);
	ShipCheckComplete(&s);
	ShipRecognizeRevenue(&s);
	ShipAdvanceStatus(&s);
	ShipEmitEvent(&s);
	PG_RETURN_DATUM(OmsFinish(FfDocument(s.shipment_id, NULL)));
}

/* 1. the arguments */
static void
ShipParse(FunctionCallInfo fcinfo, ShipState *s)
{
	const char *p;

	OmsRequireArg(fcinfo, 0, "shipment_id");
	s->shipment_id = PG_GETARG_INT64(0);
	s->carrier = FfTextArg(fcinfo, 1, "carrier", OMS_MAX_CODE_CHARS);
	s->service = FfTextArg(fcinfo, 2, "service", OMS_MAX_CODE_CHARS);
	s->tracking = OmsIdentifierArg(fcinfo, 3, "tracking_number", 40);
	/*
	 * The card guard reads a tracking number unless it is digits only: an
	 * unbroken run of digits is what carriers issue (FedEx Ground has 15,
	 * USPS 20 to 22), and one in ten 13 to 19 digit runs passes the Luhn
	 * check, so scanning them would refuse one parcel in ten. This is the
	 * external_id exception again; a card number written in groups
	 * ("4111-1111-1111-1111", "4111 1111 1111 1111") or next to letters is
	 * refused. It runs before the format check, whose message echoes the
	 * value.
	 */
	if (strspn(s->tracking, "0123456789") != strlen(s->tracking))
		OmsCheckNoCardNumber(s->tracking, "tracking_number");
	/*
	 * Letters, digits and dashes: what carriers print, and what a Code 128
	 * barcode carries without escaping.
	 */
	for (p = s->tracking; *p; p++)
		if (!isalnum((unsigned char) *p) && *p != '-')
			break;
	if (strlen(s->tracking) == 0 || *p != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid tracking number \"%s\"", s->tracking),
				 errdetail("A tracking number has 1 to 40 letters, digits or dashes."),
				 errhint("Pass the number as the carrier issued it, without spaces.")));
}

/* 2. the carrier and its service, both active */
static void
ShipResolveService(ShipState *s)
{
	static SPIPlanPtr plan = NULL;
	Oid			t2[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	bool		isnull;

	values[0] = CStringGetTextDatum(s->carrier);
	values[1] = CStringGetTextDatum(s->service);
	OmsQuery(OmsPlan(&plan,
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
				 errmsg("unknown carrier \"%s\"", s->carrier),
				 errdetail(SPI_processed == 0 ? "No carrier in oms.carriers has the code \"%s\"." : "Carrier \"%s\" is inactive.", s->carrier),
				 errhint("See oms.quote_shipping for the carriers and services that serve the shipment.")));
	s->carrier_id = OmsGetInt32(0, 1, NULL);
	s->service_id = OmsGetInt32(0, 3, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown service \"%s\" of carrier \"%s\"", s->service, s->carrier),
				 errdetail("The active services of %s are: %s.", s->carrier,
						   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4)
						   ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4) : "none"),
				 errhint("See oms.quote_shipping for the carriers and services that serve the shipment.")));
}

/*
 * 3. Lock the order, then the shipment. The shipment ships once; the order
 * must be shippable and in fulfillment. A held order is told to release
 * the hold: held_from is set exactly while an order is held, which no
 * capability says (on_hold shares its capabilities with pending_payment).
 */
static void
ShipLockAndCheck(ShipState *s)
{
	char	   *sstatus;
	char	   *held_from;

	s->order_id = FfLockShipment(s->shipment_id, &sstatus, &s->location_id, &s->order_status, &held_from);
	if (strcmp(sstatus, "pending") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("shipment " INT64_FORMAT " cannot ship: it is %s", s->shipment_id, sstatus),
				 errdetail(strcmp(sstatus, "cancelled") == 0 ? "A cancelled shipment never ships."
						   : "A shipment ships once."),
				 errhint(strcmp(sstatus, "cancelled") == 0 ? "Create a new shipment for the units."
						 : "See oms.get_shipment for its tracking number.")));
	if (!LifecycleAllows(s->order_status, LCAP_SHIPPABLE) || !FfInFulfillment(s->order_status))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("shipment " INT64_FORMAT " cannot ship: its order " INT64_FORMAT " is %s",
						s->shipment_id, s->order_id, s->order_status),
				 errdetail("Only orders in fulfillment ship."),
				 errhint(held_from != NULL ? "Release the hold first." : "Cancel the shipment.")));
}

/* 4. the tracking number is the carrier's: once per carrier */
static void
ShipCheckTracking(ShipState *s)
{
	static SPIPlanPtr plan = NULL;
	Oid			t2[2] = {INT4OID, TEXTOID};
	Datum		values[2];

	values[0] = Int32GetDatum(s->carrier_id);
	values[1] = CStringGetTextDatum(s->tracking);
	OmsQuery(OmsPlan(&plan,
					 "SELECT id FROM oms.shipments WHERE carrier_id OPERATOR(pg_catalog.=) $1 "
					 "   AND tracking_number OPERATOR(pg_catalog.=) $2",
					 2, t2), values, NULL, 1);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tracking number \"%s\" of carrier \"%s\" is already used", s->tracking, s->carrier),
				 errdetail("Shipment " INT64_FORMAT " has it.", OmsGetInt64(0, 1, NULL)),
				 errhint("Each parcel needs its own tracking number.")));
}

/* 5. the rate: the quote rule of oms.quote_shipping, for this service */
static void
ShipRate(ShipState *s)
{
	static SPIPlanPtr plan = NULL;
	Oid			t3[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];
	bool		isnull;
	Datum		rate;

	values[0] = Int64GetDatum(s->shipment_id);
	values[1] = CStringGetTextDatum(s->carrier);
	values[2] = CStringGetTextDatum(s->service);
	OmsQuery(OmsPlan(&plan,
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
				 errmsg("service \"%s\" of carrier \"%s\" does not serve shipment " INT64_FORMAT, s->service, s->carrier, s->shipment_id),
				 errdetail("No rate in oms.shipping_rates covers %s kg over %s in the order's currency.",
						   kg, dist ? psprintf("%s km", dist) : "an unknown distance"),
				 errhint("See oms.quote_shipping(shipment_id => " INT64_FORMAT ") for the services that do.", s->shipment_id)));
	}
	s->rate = SPI_datumTransfer(rate, false, -1);
}

/*
 * 6. The reservations behind the shipment's units, per line and product
 * (kits through their components), oldest first, locked.
 */
static void
ShipCollectReservations(ShipState *s)
{
	static SPIPlanPtr plan_need = NULL;
	static SPIPlanPtr plan_res = NULL;
	Oid			t1[1] = {INT8OID};
	Oid			t3[3] = {INT8OID, INT8OID, INT4OID};
	Datum		values[3];
	SPITupleTable *need;
	int			nneed;
	int			cap = 16;
	int			i;

	values[0] = Int64GetDatum(s->shipment_id);
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
	s->cons = palloc(sizeof(ShipConsume) * cap);
	s->ncons = 0;
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
		values[2] = Int32GetDatum(s->location_id);
		OmsQuery(OmsPlan(&plan_res,
						 "SELECT id, qty FROM oms.reservations WHERE order_line_id OPERATOR(pg_catalog.=) $1 "
						 "   AND product_id OPERATOR(pg_catalog.=) $2 AND location_id OPERATOR(pg_catalog.=) $3 "
						 "   AND status OPERATOR(pg_catalog.=) 'active' ORDER BY id FOR UPDATE",
						 3, t3), values, NULL, 0);
		for (r = 0; r < (int) SPI_processed && want > 0; r++)
		{
			int32		q = Min(OmsGetInt32(r, 2, NULL), want);

			if (s->ncons == cap)
			{
				cap *= 2;
				s->cons = repalloc(s->cons, sizeof(ShipConsume) * cap);
			}
			s->cons[s->ncons].product_id = product_id;
			s->cons[s->ncons].reservation_id = OmsGetInt64(r, 1, NULL);
			s->cons[s->ncons].qty = q;
			s->ncons++;
			want -= q;
		}
		if (want > 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("shipment " INT64_FORMAT " asks to ship more than is reserved", s->shipment_id),
					 errdetail("Line %d lacks %d unit(s) of product " INT64_FORMAT " reserved at the shipment's location.",
							   line_no, want, product_id),
					 errhint("The reservation was released since the shipment was created; cancel the shipment and create a new one.")));
	}
}

static int
ShipConsumeCmp(const void *a, const void *b)
{
	const ShipConsume *x = a;
	const ShipConsume *y = b;

	if (x->product_id != y->product_id)
		return x->product_id < y->product_id ? -1 : 1;
	return (x->reservation_id > y->reservation_id) - (x->reservation_id < y->reservation_id);
}

/*
 * 7. Lines first (the lock order), then the reservations in ascending
 * order; each entry of s->cons then names the consumed reservation row.
 */
static void
ShipConsumeReservations(ShipState *s)
{
	static SPIPlanPtr plan_lines = NULL;
	static SPIPlanPtr plan_split = NULL;
	static SPIPlanPtr plan_consume = NULL;
	Oid			t1[1] = {INT8OID};
	Oid			t2[2] = {INT8OID, INT4OID};
	Datum		values[2];
	int			i;

	values[0] = Int64GetDatum(s->shipment_id);
	OmsExec(OmsPlan(&plan_lines,
					"UPDATE oms.order_lines ol SET qty_reserved = ol.qty_reserved OPERATOR(pg_catalog.-) sl.qty, "
					"       qty_shipped = ol.qty_shipped OPERATOR(pg_catalog.+) sl.qty "
					"  FROM oms.shipment_lines sl WHERE sl.shipment_id OPERATOR(pg_catalog.=) $1 "
					"   AND ol.id OPERATOR(pg_catalog.=) sl.order_line_id",
					1, t1), values, NULL, 0);
	qsort(s->cons, s->ncons, sizeof(ShipConsume), ShipConsumeCmp);
	for (i = 0; i < s->ncons; i++)
	{
		values[0] = Int64GetDatum(s->cons[i].reservation_id);
		values[1] = Int32GetDatum(s->cons[i].qty);
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
			s->cons[i].reservation_id = OmsGetInt64(0, 1, NULL);
		else
			OmsExec(OmsPlan(&plan_consume,
							"UPDATE oms.reservations SET status = 'consumed', ended_at = pg_catalog.now() "
							" WHERE id OPERATOR(pg_catalog.=) $1",
							1, t1), values, NULL, 0);
	}
}

/* 8. the balances and movements, in the order of step 7 (ascending) */
static void
ShipRecordMovements(ShipState *s)
{
	char	   *reference = s->handover
		? psprintf("shipment " INT64_FORMAT " handed over (%s)", s->shipment_id, s->handover)
		: psprintf("shipment " INT64_FORMAT " %s %s", s->shipment_id, s->carrier, s->tracking);
	int			i;

	for (i = 0; i < s->ncons; i++)
		InventoryShip(s->cons[i].product_id, s->location_id, s->cons[i].qty, s->order_id,
					  s->cons[i].reservation_id, reference);
	/* cost of goods sold per product, after every balance row (valuation.c) */
	for (i = 0; i < s->ncons; i++)
	{
		int32		units = s->cons[i].qty;

		while (i + 1 < s->ncons && s->cons[i + 1].product_id == s->cons[i].product_id)
			units += s->cons[++i].qty;
		ValuationIssue(s->cons[i].product_id, units, "shipment", s->order_id, s->shipment_id);
	}
}

/* 9. the shipment row */
static void
ShipMarkShipped(ShipState *s)
{
	static SPIPlanPtr plan = NULL;
	Oid			t6[6] = {INT8OID, INT4OID, INT4OID, TEXTOID, NUMERICOID, TEXTOID};
	Datum		values[6];
	const char *nulls = s->handover ? " nnnn " : "     n";

	values[0] = Int64GetDatum(s->shipment_id);
	values[1] = Int32GetDatum(s->carrier_id);
	values[2] = Int32GetDatum(s->service_id);
	values[3] = s->handover ? (Datum) 0 : CStringGetTextDatum(s->tracking);
	values[4] = s->rate;
	values[5] = s->handover ? CStringGetTextDatum(s->handover) : (Datum) 0;
	OmsExec(OmsPlan(&plan,
					"UPDATE oms.shipments SET status = 'shipped', carrier_id = $2, service_id = $3, "
					"       tracking_number = $4, rate = $5, shipped_at = pg_catalog.now(), handover = $6 "
					" WHERE id OPERATOR(pg_catalog.=) $1",
					6, t6), values, nulls, 0);
}

/*
 * 10. The order shipped completely when no unit is reserved or waiting any
 * more; then its service lines count as delivered with the goods.
 */
static void
ShipCheckComplete(ShipState *s)
{
	static SPIPlanPtr plan_done = NULL;
	static SPIPlanPtr plan_services = NULL;
	Oid			t1[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(s->order_id);
	OmsQuery(OmsPlan(&plan_done,
					 "SELECT NOT EXISTS (SELECT FROM oms.order_lines l JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) l.product_id "
					 "                    WHERE l.order_id OPERATOR(pg_catalog.=) $1 AND p.kind OPERATOR(pg_catalog.<>) 'service' "
					 "                      AND (l.qty_reserved OPERATOR(pg_catalog.>) 0 OR l.qty_backordered OPERATOR(pg_catalog.>) 0))",
					 1, t1), values, NULL, 1);
	s->complete = DatumGetBool(OmsGetDatum(0, 1, NULL));
	if (s->complete)
		OmsExec(OmsPlan(&plan_services,
						"UPDATE oms.order_lines l SET qty_shipped = l.qty_shipped OPERATOR(pg_catalog.+) l.qty_reserved, qty_reserved = 0 "
						"  FROM oms.products p WHERE p.id OPERATOR(pg_catalog.=) l.product_id "
						"   AND p.kind OPERATOR(pg_catalog.=) 'service' AND l.order_id OPERATOR(pg_catalog.=) $1 "
						"   AND l.qty_reserved OPERATOR(pg_catalog.>) 0",
						1, t1), values, NULL, 0);
}

/* 11. revenue and tax of what shipped, in the journal */
static void
ShipRecognizeRevenue(ShipState *s)
{
	LedgerRecognize(s->order_id, s->shipment_id);
}

/*
 * 12. The order's status: shipped when complete, else partially_shipped
 * (the targets of this step; "already there" compares with the target).
 */
static void
ShipAdvanceStatus(ShipState *s)
{
	char	   *why = psprintf("shipment " INT64_FORMAT " shipped", s->shipment_id);

	/* fulfillment_driven statuses are reached only here and in deliver */
	LifecycleFulfillmentBegin();
	if (s->complete)
		LifecycleChange(s->order_id, "shipped", why, false);
	else if (strcmp(s->order_status, "partially_shipped") != 0)
		LifecycleChange(s->order_id, "partially_shipped", why, false);
	LifecycleFulfillmentEnd();
}

/* 13. the event carries what the "your order has shipped" message needs */
static void
ShipEmitEvent(ShipState *s)
{
	static SPIPlanPtr plan = NULL;
	Oid			t1[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(s->shipment_id);
	OmsQuery(OmsPlan(&plan,
					 "SELECT (pg_catalog.jsonb_build_object('shipment_id', s.id, 'location', l.code, "
					 "         'carrier', c.code, 'carrier_name', c.name, 'service', sv.code, 'service_name', sv.name, "
					 "         'tracking_number', s.tracking_number, "
					 "         'tracking_url', pg_catalog.replace(c.tracking_url, '{{tracking_number}}', s.tracking_number), "
					 "         'transit_days', sv.transit_days, "
					 "         'items', (SELECT pg_catalog.string_agg(pg_catalog.format('  %s x %s (%s)', sl.qty, p.name, p.sku), "
					 "                                              E'\\n' ORDER BY ol.line_no) "
					 "                     FROM oms.shipment_lines sl "
					 "                     JOIN oms.order_lines ol ON ol.id OPERATOR(pg_catalog.=) sl.order_line_id "
					 "                     JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) ol.product_id "
					 "                    WHERE sl.shipment_id OPERATOR(pg_catalog.=) s.id)) "
					 "       OPERATOR(pg_catalog.||) CASE WHEN s.handover IS NULL THEN '{}'::pg_catalog.jsonb "
					 "            ELSE pg_catalog.jsonb_build_object('handover', s.handover) END)::pg_catalog.text "
					 "  FROM oms.shipments s JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) s.location_id "
					 "  LEFT JOIN oms.carriers c ON c.id OPERATOR(pg_catalog.=) s.carrier_id "
					 "  LEFT JOIN oms.carrier_services sv ON sv.id OPERATOR(pg_catalog.=) s.service_id "
					 " WHERE s.id OPERATOR(pg_catalog.=) $1",
					 1, t1), values, NULL, 1);
	EventsEmit("shipment_shipped", s->order_id, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
}

/*
 * FfHandOver: a pending shipment leaves its location in the customer's
 * hands, over a store's counter or at a pickup handover
 * (src/counter_sale.c, src/pickup.c): the steps of ship() from 3 on, with
 * no carrier, service, tracking number or rate (the shipment's handover
 * column says how it left). The caller holds an SPI connection and has
 * checked what is particular to its handover.
 */
void
FfHandOver(int64 shipment_id, const char *handover)
{
	ShipState	s;

	memset(&s, 0, sizeof(s));
	s.shipment_id = shipment_id;
	s.handover = handover;
	s.rate = (Datum) 0;
	ShipLockAndCheck(&s);
	ShipCollectReservations(&s);
	ShipConsumeReservations(&s);
	ShipRecordMovements(&s);
	ShipMarkShipped(&s);
	ShipCheckComplete(&s);
	ShipRecognizeRevenue(&s);
	ShipAdvanceStatus(&s);
	ShipEmitEvent(&s);
}

/* ---- deliver ---- */

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
	order_id = FfLockShipment(shipment_id, &sstatus, &location_id, &ostatus, NULL);
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
	/*
	 * The order arrived when it shipped completely (it holds no stock any
	 * more and shipments brought it where it is) and every parcel arrived;
	 * delivered is the target of this step.
	 */
	if (LifecycleAllows(ostatus, LCAP_FULFILLMENT_DRIVEN) && !LifecycleAllows(ostatus, LCAP_HOLDS_STOCK) &&
		strcmp(ostatus, "delivered") != 0)
	{
		values[0] = Int64GetDatum(order_id);
		OmsQuery(OmsPlan(&plan_all,
						 "SELECT NOT EXISTS (SELECT FROM oms.shipments WHERE order_id OPERATOR(pg_catalog.=) $1 "
						 "                    AND status OPERATOR(pg_catalog.=) ANY ('{pending,shipped}'::text[]))",
						 1, t1), values, NULL, 1);
		if (DatumGetBool(OmsGetDatum(0, 1, NULL)))
		{
			LifecycleFulfillmentBegin();
			LifecycleChange(order_id, "delivered", psprintf("shipment " INT64_FORMAT " delivered", shipment_id), false);
			LifecycleFulfillmentEnd();
		}
	}
	PG_RETURN_DATUM(OmsFinish(FfDocument(shipment_id, NULL)));
}

