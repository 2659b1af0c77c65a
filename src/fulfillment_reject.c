/*-------------------------------------------------------------------------
 *
 * fulfillment_reject.c
 *	  oms.reject_fulfillment: a location refuses to fulfil an order. Its
 *	  pending shipments of the order are cancelled, the rejection recorded
 *	  (routing never sends the order there again), and OrdersReroute
 *	  (orders) releases and re-routes what the location held.
 *
 *	  The order must be open (LCAP_OPEN: it has units still to fulfil).
 *	  Locking as in fulfillment.c: the order row first; the re-route then
 *	  takes balance rows in the global order.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"

#include "oms.h"
#include "fulfillment.h"

PG_FUNCTION_INFO_V1(reject_fulfillment);
/*
 * oms.reject_fulfillment(order_id, location, reason, note DEFAULT NULL):
 * the location's pending shipments of the order are cancelled, the
 * rejection recorded (routing never sends the order there again), and
 * order_release.c and order_reroute.c release and re-route what the location held.
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
	bool		adjusts;
	char	   *status;
	char	   *result;
	Datum		doc;
	Datum		values[5];
	char		nulls[5] = "     ";

	OmsRequireArg(fcinfo, 0, "order_id");
	order_id = PG_GETARG_INT64(0);
	location = FfTextArg(fcinfo, 1, "location", OMS_MAX_CODE_CHARS);
	reason = FfTextArg(fcinfo, 2, "reason", 63);
	if (!PG_ARGISNULL(3))
	{
		note = text_to_cstring(PG_GETARG_TEXT_PP(3));
		OmsCheckFreeText(note, "note", OMS_MAX_REASON_CHARS);
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
	location_id = FfLocation(location);
	status = LifecycleLockOrder(order_id, NULL);
	/* open: units still to fulfil, which a location can refuse */
	if (!LifecycleAllows(status, LCAP_OPEN))
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
