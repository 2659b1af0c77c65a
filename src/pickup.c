/*-------------------------------------------------------------------------
 *
 * pickup.c
 *	  The click-and-collect handover: oms.ready_for_pickup,
 *	  oms.hand_over and the pickup sweep oms.expire_pickups.
 *
 *	  A pickup order (ship_to.pickup, src/order_place.c) is reserved at its
 *	  store; the store creates its shipment there (oms.create_shipment) and
 *	  packs it. Then:
 *	  1. ready_for_pickup: the shipment, pending at the order's pickup
 *	     store, gets a pickup code of 8 characters drawn with
 *	     pg_strong_random from 31 letters and digits that cannot be misread
 *	     (no 0/O, 1/I/L): 31^8, about 8.5e11 codes. Only the SHA-256 of the
 *	     code is written to the shipment; the code itself goes to the
 *	     customer in the pickup_ready event (the outbox is how a
 *	     notification leaves oms, src/events.c) and in the answer, for a
 *	     store that prints it. Asking again gives a new code: the old one
 *	     stops working.
 *	  2. hand_over: the customer shows the code; it is normalised (case,
 *	     spaces and dashes do not matter), hashed and compared in constant
 *	     time. A wrong code is refused with nothing changed. A right one
 *	     ships the shipment without carrier, service, tracking number or
 *	     rate (FfHandOver, src/ship.c: stock, ledger, revenue and
 *	     shipment_shipped as for any shipment) and delivers it (oms.deliver:
 *	     the customer has it).
 *	  3. expire_pickups: pickups ready for more than oms.pickup_expiry_days
 *	     and still pending go back to stock: their order is cancelled
 *	     (oms.cancel_order releases the reservations and voids or refunds
 *	     the payments), with a pickup_expired event first.
 *
 *	  Locking: every step locks the order, then the shipment
 *	  (FfLockShipment), as ship and cancel do, and re-reads the shipment
 *	  under the lock; a hand_over and a sweep of the same pickup therefore
 *	  run one after the other, and the second sees what the first did
 *	  (test/specs/handover_vs_expiry.spec).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "port.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "oms.h"
#include "fulfillment.h"

/* oms.pickup_expiry_days (defined in oms.c) */
int			oms_pickup_expiry_days = 7;

#define PICKUP_CODE_CHARS	8
/* letters and digits that cannot be misread for one another */
static const char PickupAlphabet[] = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/* SHA-256 of a normalised code, as bytea */
static bytea *
PickupHash(const char *norm)
{
	pg_cryptohash_ctx *ctx;
	bytea	   *h = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);

	ctx = pg_cryptohash_create(PG_SHA256);
	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) norm, strlen(norm)) < 0 ||
		pg_cryptohash_final(ctx, (uint8 *) VARDATA(h), PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "oms: could not hash pickup code");
	pg_cryptohash_free(ctx);
	SET_VARSIZE(h, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	return h;
}

/* a fresh code, without bias: bytes >= 248 (8 x 31) are drawn again */
static char *
PickupNewCode(void)
{
	char	   *code = palloc(PICKUP_CODE_CHARS + 1);
	int			n = 0;

	while (n < PICKUP_CODE_CHARS)
	{
		uint8		b;

		if (!pg_strong_random(&b, 1))
			elog(ERROR, "oms: could not generate a pickup code");
		if (b >= 248)
			continue;
		code[n++] = PickupAlphabet[b % 31];
	}
	code[n] = '\0';
	return code;
}

/* The pickup shipment, locked (order, then shipment): its order and whether it is a pending pickup at its store. */
static int64
PickupLock(int64 shipment_id, const char *action, bool *ready)
{
	static SPIPlanPtr plan = NULL;
	Oid			t1[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(shipment_id)};
	char	   *sstatus;
	char	   *ostatus;
	int32		location_id;
	int64		order_id;
	bool		isnull;

	order_id = FfLockShipment(shipment_id, &sstatus, &location_id, &ostatus, NULL);
	OmsQuery(OmsPlan(&plan,
					 "SELECT o.pickup_location_id OPERATOR(pg_catalog.=) s.location_id, s.ready_at IS NOT NULL, "
					 "       l.code "
					 "  FROM oms.shipments s JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) s.order_id "
					 "  JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) s.location_id "
					 " WHERE s.id OPERATOR(pg_catalog.=) $1",
					 1, t1), values, NULL, 1);
	(void) OmsGetDatum(0, 1, &isnull);
	if (isnull || !DatumGetBool(OmsGetDatum(0, 1, NULL)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("shipment " INT64_FORMAT " is not a pickup", shipment_id),
				 errdetail("Its order " INT64_FORMAT " is not collected at %s.", order_id,
						   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3)),
				 errhint("Only the shipment of a click-and-collect order (ship_to.pickup), at its pickup store, is handed over; ship the others with oms.ship().")));
	*ready = DatumGetBool(OmsGetDatum(0, 2, NULL));
	if (strcmp(sstatus, "pending") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("shipment " INT64_FORMAT " cannot be %s: it is %s", shipment_id, action, sstatus),
				 errdetail(strcmp(sstatus, "cancelled") == 0
						   ? "A cancelled pickup (also one released by oms.expire_pickups) is never handed over."
						   : "A pickup is handed over once."),
				 errhint("See oms.get_shipment.")));
	if (!LifecycleAllows(ostatus, LCAP_SHIPPABLE) || !FfInFulfillment(ostatus))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("shipment " INT64_FORMAT " cannot be %s: its order " INT64_FORMAT " is %s",
						shipment_id, action, order_id, ostatus),
				 errdetail("Only orders in fulfillment are handed over."),
				 errhint("Release the hold first, or cancel the shipment.")));
	return order_id;
}

PG_FUNCTION_INFO_V1(ready_for_pickup);
/*
 * oms.ready_for_pickup(shipment_id): a new pickup code; its hash on the
 * shipment, the code in the pickup_ready event and the answer.
 */
Datum
ready_for_pickup(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			t5[5] = {INT8OID, BYTEAOID, TEXTOID, INT4OID, BOOLOID};
	Datum		values[5];
	int64		shipment_id;
	int64		order_id;
	bool		ready;
	char	   *code;
	StringInfoData extra;

	OmsRequireArg(fcinfo, 0, "shipment_id");
	shipment_id = PG_GETARG_INT64(0);
	SPI_connect();
	order_id = PickupLock(shipment_id, "made ready for pickup", &ready);
	code = PickupNewCode();
	values[0] = Int64GetDatum(shipment_id);
	values[1] = PointerGetDatum(PickupHash(code));
	values[2] = CStringGetTextDatum(code);
	values[3] = Int32GetDatum(oms_pickup_expiry_days);
	values[4] = BoolGetDatum(ready);
	/* the event carries what the "ready for pickup" message needs */
	OmsExec(OmsPlan(&plan,
					"UPDATE oms.shipments s SET ready_at = pg_catalog.now(), pickup_code_hash = $2 "
					" WHERE s.id OPERATOR(pg_catalog.=) $1 "
					"RETURNING pg_catalog.jsonb_build_object('shipment_id', s.id, 'pickup_code', $3, "
					"  'location', (SELECT l.code FROM oms.locations l WHERE l.id OPERATOR(pg_catalog.=) s.location_id), "
					"  'location_name', (SELECT l.name FROM oms.locations l WHERE l.id OPERATOR(pg_catalog.=) s.location_id), "
					"  'collect_by', CASE WHEN $4 OPERATOR(pg_catalog.>) 0 "
					"                     THEN (s.ready_at OPERATOR(pg_catalog.+) pg_catalog.make_interval(days => $4))::pg_catalog.date END, "
					"  'new_code', $5, "
					"  'items', (SELECT pg_catalog.string_agg(pg_catalog.format('  %s x %s (%s)', sl.qty, p.name, p.sku), "
					"                                         E'\\n' ORDER BY ol.line_no) "
					"              FROM oms.shipment_lines sl "
					"              JOIN oms.order_lines ol ON ol.id OPERATOR(pg_catalog.=) sl.order_line_id "
					"              JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) ol.product_id "
					"             WHERE sl.shipment_id OPERATOR(pg_catalog.=) s.id))::pg_catalog.text",
					5, t5), values, NULL, 1);
	EventsEmit("pickup_ready", order_id, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	initStringInfo(&extra);
	appendStringInfoString(&extra, "{\"pickup_code\": ");
	escape_json(&extra, code);
	appendStringInfoChar(&extra, '}');
	PG_RETURN_DATUM(OmsFinish(FfDocument(shipment_id, extra.data)));
}

/* the code as typed, normalised: letters upper case, spaces and dashes dropped */
static char *
PickupNormalise(const char *typed)
{
	StringInfoData norm;
	const char *p;

	initStringInfo(&norm);
	for (p = typed; *p; p++)
	{
		if (*p == ' ' || *p == '-')
			continue;
		if (!isalnum((unsigned char) *p) || norm.len >= 64)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid pickup code"),
					 errdetail("A pickup code has %d letters and digits.", PICKUP_CODE_CHARS),
					 errhint("Type the code from the customer's pickup message.")));
		appendStringInfoChar(&norm, toupper((unsigned char) *p));
	}
	return norm.data;
}

PG_FUNCTION_INFO_V1(hand_over);
/*
 * oms.hand_over(shipment_id, pickup_code): the customer collects a ready
 * pickup; it ships and is delivered without a carrier.
 */
Datum
hand_over(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan_hash = NULL;
	static SPIPlanPtr plan_deliver = NULL;
	Oid			t1[1] = {INT8OID};
	Datum		values[1];
	int64		shipment_id;
	char	   *typed;
	char	   *norm;
	bytea	   *given;
	bytea	   *stored;
	bool		ready;
	bool		isnull;
	int			i;
	uint8		diff = 0;

	OmsRequireArg(fcinfo, 0, "shipment_id");
	shipment_id = PG_GETARG_INT64(0);
	OmsRequireArg(fcinfo, 1, "pickup_code");
	typed = text_to_cstring(PG_GETARG_TEXT_PP(1));
	norm = PickupNormalise(typed);
	given = PickupHash(norm);

	SPI_connect();
	(void) PickupLock(shipment_id, "handed over", &ready);
	if (!ready)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("shipment " INT64_FORMAT " is not ready for pickup", shipment_id),
				 errdetail("It has no pickup code yet."),
				 errhint("Call oms.ready_for_pickup() when it is packed; the customer gets the code.")));
	values[0] = Int64GetDatum(shipment_id);
	OmsQuery(OmsPlan(&plan_hash, "SELECT pickup_code_hash FROM oms.shipments WHERE id OPERATOR(pg_catalog.=) $1",
					 1, t1), values, NULL, 1);
	stored = DatumGetByteaPP(OmsGetDatum(0, 1, &isnull));
	if (isnull || VARSIZE_ANY_EXHDR(stored) != PG_SHA256_DIGEST_LENGTH)
		elog(ERROR, "oms: pickup shipment " INT64_FORMAT " has no code hash", shipment_id);
	/* constant time: the comparison does not tell how much of the code was right */
	for (i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		diff |= ((const uint8 *) VARDATA_ANY(stored))[i] ^ ((const uint8 *) VARDATA(given))[i];
	if (diff != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wrong pickup code for shipment " INT64_FORMAT, shipment_id),
				 errdetail("The code given does not match the one sent to the customer."),
				 errhint("Check the code in the customer's pickup message; oms.ready_for_pickup() sends a new one.")));
	FfHandOver(shipment_id, "pickup");
	OmsQuery(OmsPlan(&plan_deliver, "SELECT oms.deliver($1)", 1, t1), values, NULL, 1);
	PG_RETURN_DATUM(OmsFinish(FfDocument(shipment_id, "{\"handed_over\": true}")));
}

PG_FUNCTION_INFO_V1(expire_pickups);
/*
 * oms.expire_pickups(): pickups ready for longer than
 * oms.pickup_expiry_days go back to stock; returns how many.
 */
Datum
expire_pickups(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan_due = NULL;
	static SPIPlanPtr plan_recheck = NULL;
	static SPIPlanPtr plan_cancel = NULL;
	Oid			t1[1] = {INT4OID};
	Oid			t2[2] = {INT8OID, INT4OID};
	Oid			t2c[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	int64	   *ids;
	int			n;
	int			i;
	int			released = 0;

	if (oms_pickup_expiry_days == 0)
		PG_RETURN_INT32(0);
	SPI_connect();
	values[0] = Int32GetDatum(oms_pickup_expiry_days);
	OmsQuery(OmsPlan(&plan_due,
					 "SELECT id FROM oms.shipments WHERE status OPERATOR(pg_catalog.=) 'pending' AND ready_at IS NOT NULL "
					 "   AND ready_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.make_interval(days => $1)) "
					 " ORDER BY id",
					 1, t1), values, NULL, 0);
	n = (int) SPI_processed;
	ids = palloc(sizeof(int64) * (n + 1));
	for (i = 0; i < n; i++)
		ids[i] = OmsGetInt64(i, 1, NULL);
	for (i = 0; i < n; i++)
	{
		char	   *sstatus;
		char	   *ostatus;
		int32		location_id;
		int64		order_id;
		char	   *payload;

		/* the order, then the shipment, as hand_over: then read it again */
		order_id = FfLockShipment(ids[i], &sstatus, &location_id, &ostatus, NULL);
		if (strcmp(sstatus, "pending") != 0)
			continue;			/* handed over or cancelled meanwhile */
		values[0] = Int64GetDatum(ids[i]);
		values[1] = Int32GetDatum(oms_pickup_expiry_days);
		OmsQuery(OmsPlan(&plan_recheck,
						 "SELECT pg_catalog.jsonb_build_object('shipment_id', s.id, 'location', l.code, "
						 "         'ready_at', s.ready_at, 'days', $2)::pg_catalog.text "
						 "  FROM oms.shipments s JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) s.location_id "
						 " WHERE s.id OPERATOR(pg_catalog.=) $1 AND s.ready_at IS NOT NULL "
						 "   AND s.ready_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.make_interval(days => $2))",
						 2, t2), values, NULL, 1);
		if (SPI_processed == 0)
			continue;			/* made ready again meanwhile */
		payload = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		EventsEmit("pickup_expired", order_id, payload);
		values[0] = Int64GetDatum(order_id);
		values[1] = CStringGetTextDatum(psprintf("pickup not collected within %d days", oms_pickup_expiry_days));
		OmsQuery(OmsPlan(&plan_cancel, "SELECT oms.cancel_order($1, $2)", 2, t2c), values, NULL, 1);
		released++;
	}
	SPI_finish();
	PG_RETURN_INT32(released);
}
