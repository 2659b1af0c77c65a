/*-------------------------------------------------------------------------
 *
 * order_reroute.c
 *	  Re-routing after a location rejects an order (OrdersReroute, called
 *	  by oms.reject_fulfillment in src/fulfillment_reject.c, which has locked the
 *	  order and cancelled its pending shipments there): release what the
 *	  location holds for the order and route those units again, excluding
 *	  every location that rejected it, in the same transaction.
 *
 *	  The rejection is its own input struct (RrRejection): the order's
 *	  routing inputs and the released reservations, grouped per line with
 *	  the units each gives back. From it re-routing fills an OrderWork
 *	  (src/orders.h) whose lines ask for exactly those units, and runs the
 *	  placement steps it shares with place_order (src/order_place.c):
 *
 *	   1. RrLoadOrder: the order's reference and routing inputs.
 *	   2. RrLoadReleased: the reservations to release, locked with their
 *	      lines: a stock line's at this location, all of a kit line's that
 *	      has any here (kits are whole: its kits are routed again as one
 *	      demand).
 *	   3. RrWork: the OrderWork asking for the released units.
 *	   4. OrdersLoadKits, OrdersBuildDemand, OrdersReserve, OrdersDistribute:
 *	      route the units again, excluding rejecting locations. The balance
 *	      rows of the released units are given back inside the routing
 *	      attempt, merged with the new reservations in (product, location)
 *	      order, so this call takes balance locks in the one global order
 *	      like every other.
 *	   5. RrReleaseReservations: the released reservations and their
 *	      movements, in one statement.
 *	   6. OrdersBookReservations: the new reservations and their movements.
 *	   7. RrWriteOff: with adjust_stock (reason inventory_mismatch) the
 *	      released units are written off the location's on_hand, as far as
 *	      they are not reserved for other orders.
 *	   8. RrBookLines: per line, what was released, what came back, what
 *	      waits.
 *	   9. RrBackorderStatus: an unpaid order with units waiting becomes
 *	      backordered; a confirmed one gets an order_backordered event
 *	      (the customer's delay notice; its status does not change).
 *	  The answer is a JSON object text (RrAnswer).
 *
 *	  Units no eligible location has are backordered whatever the order's
 *	  policy: the order was accepted, and a shortage found later is waited
 *	  out, not cancelled silently (cancel_order remains the caller's
 *	  choice).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "orders.h"

/* an order line that gives units back */
typedef struct RrLine
{
	int64		line_id;
	int			line_no;
	char	   *sku;
	OmsProduct	product;		/* a stock or kit product */
	int32		units;			/* stock line: units released at the location;
								 * kit line: all its reserved kits */
} RrLine;

/* what a location's rejection asks of re-routing */
typedef struct RrRejection
{
	/* the call */
	int64		order_id;
	int32		location_id;	/* the rejecting location */
	bool		adjust_stock;	/* write the released units off there */
	const char *why;
	/* the order row: its reference and routing inputs */
	char	   *channel;
	char	   *external_id;
	OrderRouteInputs route;
	/* the released reservations, locked: id and product, location, qty */
	int			nreleased;
	int64	   *reservation_ids;
	RouteAllocation *released;
	int64		released_units;
	/* the lines giving units back, in line order */
	int			nlines;
	RrLine	   *lines;
} RrRejection;

/* The order's reference and routing inputs; 22023 when there is none. */
static void
RrLoadOrder(RrRejection *rj)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(rj->order_id)};
	bool		isnull;
	Datum		lat;

	OmsQuery(OmsPlan(&plan,
					 "SELECT c.code, o.external_id, o.channel_id, o.ship_lat, o.ship_lon, "
					 "       COALESCE(o.pickup_location_id, 0), o.split_policy "
					 "  FROM oms.orders o JOIN oms.channels c ON c.id OPERATOR(pg_catalog.=) o.channel_id "
					 " WHERE o.id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	if (SPI_processed != 1)
		OmsOrderNotFound(rj->order_id);
	rj->channel = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	rj->external_id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	rj->route.channel_id = OmsGetInt32(0, 3, NULL);
	lat = OmsGetDatum(0, 4, &isnull);
	rj->route.has_coords = !isnull;
	if (!isnull)
	{
		rj->route.lat = DatumGetFloat8(lat);
		rj->route.lon = DatumGetFloat8(OmsGetDatum(0, 5, NULL));
	}
	rj->route.pickup_location_id = OmsGetInt32(0, 6, NULL);
	rj->route.split = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7);
}

/*
 * The reservations to release, locked with their lines: a stock line's at
 * this location, all of a kit line's that has any here. 55000 when the
 * order holds nothing at the location.
 */
static void
RrLoadReleased(RrRejection *rj)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2] = {Int64GetDatum(rj->order_id), Int32GetDatum(rj->location_id)};
	int			i,
				j;

	OmsQuery(OmsPlan(&plan,
					 "SELECT r.id, r.product_id, r.location_id, r.qty, l.id, l.line_no, l.product_id, p.kind, "
					 "       l.qty_reserved, p.sku "
					 "  FROM oms.order_lines l "
					 "  JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) l.product_id "
					 "  JOIN oms.reservations r ON r.order_line_id OPERATOR(pg_catalog.=) l.id "
					 "       AND r.status OPERATOR(pg_catalog.=) 'active' "
					 " WHERE l.order_id OPERATOR(pg_catalog.=) $1 "
					 "   AND EXISTS (SELECT FROM oms.reservations h WHERE h.order_line_id OPERATOR(pg_catalog.=) l.id "
					 "               AND h.status OPERATOR(pg_catalog.=) 'active' AND h.location_id OPERATOR(pg_catalog.=) $2) "
					 "   AND (p.kind OPERATOR(pg_catalog.=) 'kit' OR r.location_id OPERATOR(pg_catalog.=) $2) "
					 " ORDER BY l.line_no, r.product_id, r.location_id, r.id "
					 "   FOR UPDATE OF l, r",
					 2, types), values, NULL, 0);
	rj->nreleased = (int) SPI_processed;
	rj->released = palloc(sizeof(RouteAllocation) * (rj->nreleased + 1));
	rj->reservation_ids = palloc(sizeof(int64) * (rj->nreleased + 1));
	rj->lines = palloc0(sizeof(RrLine) * (rj->nreleased + 1));
	for (i = 0; i < rj->nreleased; i++)
	{
		int64		line_id = OmsGetInt64(i, 5, NULL);
		char	   *kind = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 8);
		bool		kit = strcmp(kind, "kit") == 0;
		int32		qty = OmsGetInt32(i, 4, NULL);
		RrLine	   *l = NULL;

		rj->reservation_ids[i] = OmsGetInt64(i, 1, NULL);
		rj->released[i].product_id = OmsGetInt64(i, 2, NULL);
		rj->released[i].location_id = OmsGetInt32(i, 3, NULL);
		rj->released[i].qty = qty;
		rj->released[i].group = 0;
		for (j = 0; j < rj->nlines; j++)
			if (rj->lines[j].line_id == line_id)
				l = &rj->lines[j];
		if (l == NULL)
		{
			l = &rj->lines[rj->nlines++];
			l->line_id = line_id;
			l->line_no = OmsGetInt32(i, 6, NULL);
			l->product.id = OmsGetInt64(i, 7, NULL);
			l->product.kind = kit ? OMS_KIND_KIT : OMS_KIND_STOCK;
			l->product.active = true;
			l->sku = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 10);
			/* a kit line re-routes all its kits; a stock line what is here */
			l->units = kit ? OmsGetInt32(i, 9, NULL) : 0;
		}
		if (!kit)
			l->units += qty;
		rj->released_units += qty;
	}
	if (rj->nlines == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order " INT64_FORMAT " holds nothing at this location", rj->order_id),
				 errdetail("No active reservation of the order is at the rejecting location."),
				 errhint("Reject only at a location the order was routed to (see oms.get_order).")));
}

/*
 * The OrderWork that asks for the released units: one line per line giving
 * units back, asking for exactly those units. What no eligible location has
 * is backordered (see the banner), whatever policy the order was placed
 * with.
 */
static void
RrWork(RrRejection *rj, OrderWork *w)
{
	int			i;

	memset(w, 0, sizeof(*w));
	w->order_id = rj->order_id;
	w->channel = rj->channel;
	w->external_id = rj->external_id;
	w->route = rj->route;
	w->shortfall = ORDER_SHORT_BACKORDER;
	w->nlines = rj->nlines;
	w->lines = palloc0(sizeof(OrderLine) * (rj->nlines + 1));
	for (i = 0; i < rj->nlines; i++)
	{
		w->lines[i].line_no = rj->lines[i].line_no;
		w->lines[i].sku = rj->lines[i].sku;
		w->lines[i].product = rj->lines[i].product;
		w->lines[i].qty = rj->lines[i].units;
		w->lines[i].id = rj->lines[i].line_id;
	}
}

/* The released reservations and their movements, in one statement. */
static void
RrReleaseReservations(RrRejection *rj)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8ARRAYOID, TEXTOID};
	Datum		values[2];

	values[0] = PointerGetDatum(OmsInt8Array(rj->reservation_ids, rj->nreleased));
	values[1] = CStringGetTextDatum(psprintf("order %s/%s rejected: %s", rj->channel, rj->external_id, rj->why));
	OmsExec(OmsPlan(&plan,
					"WITH r AS (UPDATE oms.reservations SET status = 'released', ended_at = pg_catalog.now() "
					"            WHERE id OPERATOR(pg_catalog.=) ANY ($1) "
					"           RETURNING id, order_id, order_line_id, product_id, location_id, qty) "
					"INSERT INTO oms.stock_movements (product_id, location_id, kind, reserved_delta, "
					"       order_id, reservation_id, reference) "
					"SELECT product_id, location_id, 'release', OPERATOR(pg_catalog.-) qty, order_id, id, $2 FROM r",
					2, types), values, NULL, 0);
}

/* The count was wrong: the units are not there. Returns the units written off. */
static int64
RrWriteOff(RrRejection *rj)
{
	int64		written_off = 0;
	int			i;

	if (!rj->adjust_stock)
		return 0;
	for (i = 0; i < rj->nreleased; i++)
		if (rj->released[i].location_id == rj->location_id)
			written_off += InventoryWriteOff(rj->released[i].product_id, rj->location_id, rj->released[i].qty,
											 psprintf("inventory mismatch: order %s/%s rejected",
													  rj->channel, rj->external_id));
	return written_off;
}

/* The lines: what was released, what came back, what waits. Returns the units backordered. */
static int64
RrBookLines(OrderWork *w)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[4] = {INT8OID, INT4OID, INT4OID, INT4OID};
	Datum		values[4];
	int64		backordered = 0;
	int			i;

	for (i = 0; i < w->nlines; i++)
	{
		values[0] = Int64GetDatum(w->lines[i].id);
		values[1] = Int32GetDatum(w->lines[i].qty);
		values[2] = Int32GetDatum(w->lines[i].reserved);
		values[3] = Int32GetDatum(w->lines[i].backordered);
		OmsExec(OmsPlan(&plan,
						"UPDATE oms.order_lines SET qty_reserved = qty_reserved OPERATOR(pg_catalog.-) $2 OPERATOR(pg_catalog.+) $3, "
						"       qty_backordered = qty_backordered OPERATOR(pg_catalog.+) $4 "
						" WHERE id OPERATOR(pg_catalog.=) $1",
						4, types), values, NULL, 0);
		backordered += w->lines[i].backordered;
	}
	return backordered;
}

/*
 * An unpaid order with units waiting is backordered. This is a step of the
 * placement workflow, not a question of meaning: pending_payment and
 * backordered are the two statuses of an unpaid order, told apart by
 * whether units wait, and placement (PoApplyRules) takes the same step. A
 * paid, held or shipping order keeps its status: its waiting units show in
 * its lines. So the source status is named here, as the target is.
 */
static void
RrBackorderStatus(int64 order_id, int64 backordered)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(order_id)};
	char	   *status;

	OmsQuery(OmsPlan(&plan, "SELECT status, COALESCE(held_from, status) FROM oms.orders WHERE id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (strcmp(status, "pending_payment") == 0)
		LifecycleChange(order_id, "backordered", "re-routed units wait for stock", false);
	/* a confirmed order keeps its status: the delay notice is an event of its own */
	else if (LifecycleAllows(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2), LCAP_SHIPPABLE))
		EventsEmit("order_backordered", order_id,
				   psprintf("{\"from\": \"%s\", \"to\": \"%s\", \"backordered_units\": " INT64_FORMAT
							", \"reason\": \"re-routed after a rejection\"}", status, status, backordered));
}

/* The answer: what was released, written off, backordered and re-routed. */
static char *
RrAnswer(RrRejection *rj, OrderWork *w, int64 written_off, int64 backordered)
{
	StringInfoData out;
	int			i;

	initStringInfo(&out);
	appendStringInfo(&out, "{\"released_units\": " INT64_FORMAT ", \"written_off\": " INT64_FORMAT
					 ", \"backordered_units\": " INT64_FORMAT ", \"rerouted\": [",
					 rj->released_units, written_off, backordered);
	for (i = 0; i < w->npieces; i++)
	{
		appendStringInfo(&out, "%s{\"line_no\": %d, \"location_id\": %d, \"product_id\": " INT64_FORMAT ", \"qty\": %d}",
						 i ? ", " : "", w->lines[w->pieces[i].line].line_no, w->pieces[i].location_id,
						 w->pieces[i].product_id, w->pieces[i].qty);
	}
	appendStringInfoString(&out, "]}");
	return out.data;
}

/*
 * A location rejected the (locked) order: release what it holds for the
 * order there and route those units again, in the steps of the banner.
 * Returns a JSON object text.
 */
char *
OrdersReroute(int64 order_id, int32 location_id, bool adjust_stock, const char *why)
{
	RrRejection *rj = palloc0(sizeof(RrRejection));
	OrderWork  *w = palloc0(sizeof(OrderWork));
	int64		written_off;
	int64		backordered;

	rj->order_id = order_id;
	rj->location_id = location_id;
	rj->adjust_stock = adjust_stock;
	rj->why = why;
	RrLoadOrder(rj);
	RrLoadReleased(rj);
	RrWork(rj, w);
	OrdersLoadKits(w);
	OrdersBuildDemand(w);
	OrdersReserve(w, true, "reroute", rj->released, rj->nreleased);
	OrdersDistribute(w);
	RrReleaseReservations(rj);
	OrdersBookReservations(w);
	written_off = RrWriteOff(rj);
	backordered = RrBookLines(w);
	if (backordered > 0)
		RrBackorderStatus(order_id, backordered);
	return RrAnswer(rj, w, written_off, backordered);
}
