/*-------------------------------------------------------------------------
 *
 * order_edit_apply.c
 *	  What an edit does (EdApply, for oms.edit_order and oms.cancel_lines
 *	  in src/order_edit.c, which has locked the order and its lines and
 *	  edited its picture of them, src/order_edit.h): stock, lines, totals,
 *	  status and money follow the picture, in one transaction, through the
 *	  placement machinery rather than a second reservation path.
 *
 *	  Steps
 *	  -----
 *	   1. EdPlan: per line, the units it must hold after the edit (qty -
 *	      cancelled - shipped) against what it holds (reserved +
 *	      backordered). More: the difference is routed (its "added" units,
 *	      to which the order's policy applies). Fewer: backordered units go
 *	      first; when reserved units must go too, the line's reservations
 *	      are released and the units it keeps are routed again in the same
 *	      step. A substitute (the product changed) releases the old
 *	      product's units and routes the new one's. A changed ship-to
 *	      re-routes every reserved unit when nothing of the order has
 *	      shipped (with units shipped, the address changes for the rest and
 *	      the plan stays). Units in pending shipments are never released:
 *	      such a change is refused (55000) until the shipment ships or is
 *	      cancelled.
 *	   2. EdLoadReleases: the reservations released, locked.
 *	   3. EdReserve: OrdersLoadKits, OrdersBuildDemand, OrdersReserve,
 *	      OrdersDistribute (src/order_place.c) route the units asked for,
 *	      excluding locations that rejected the order. The released
 *	      balance units are given back inside the routing attempt, merged
 *	      with the new reservations in (product, location) order: the one
 *	      global lock order, as re-routing after a rejection does. Then the
 *	      policy for added units that could not be reserved: all_or_nothing
 *	      refuses the edit (OM001, with the substitutes in stock), partial
 *	      cancels them, backorder backorders them. Units routed again that
 *	      find no stock are backordered (the order was accepted).
 *	   4. EdReleaseReservations, EdWriteLines, OrdersBookReservations: the
 *	      released reservations and their movements, the lines (added ones
 *	      inserted), the new reservations and their movements.
 *	   5. EdOrderRow: the ship-to and the totals, recomputed from the lines
 *	      as placement computes them (units owed).
 *	   6. EdFill: released units fill waiting backorders, as cancel_order's
 *	      do (src/inventory.c, InventoryFillBackorders); not after a
 *	      re-route, whose released units would fill the order's own
 *	      backorders back at the locations it left.
 *	   7. EdSettle: the status and the money follow.
 *	      - nothing left to ship and units shipped: shipped (delivered when
 *	        every parcel arrived), through the shipment path's flag;
 *	      - an unpaid order is backordered exactly when units wait;
 *	      - coverage (src/lifecycle.c, "Coverage"): an order whose status
 *	        promises payment and that the new total leaves uncovered goes
 *	        back to awaiting payment (pending_payment, or backordered),
 *	        its reservations expiring again as a new unpaid order's; with
 *	        units shipped, or no transition back, the edit is refused
 *	        (55000): authorize the difference first. An unpaid order that
 *	        its payments now cover is confirmed;
 *	      - a confirmed order that the edit put on backorder gets an
 *	        order_backordered event (its status does not change);
 *	      - captured money beyond what the order now costs is refunded
 *	        through the one refund path (PaymentsRefundOrder): captured -
 *	        refunds not made for returns - total; and open authorizations
 *	        the order no longer needs are voided, whole, newest first, while
 *	        the rest still covers the total (PaymentsVoidSurplus).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/numeric.h"

#include "order_edit.h"

typedef struct EdStock
{
	OrderWork	w;
	int			nrel;
	RouteAllocation *rel;
	int64	   *rel_ids;
} EdStock;

static void
EdPendingRule(EdEdit *e, EdLine *l, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("line %d of order " INT64_FORMAT " cannot %s: %d unit(s) are in a pending shipment",
					l->line_no, e->order_id, what, l->pending),
			 errdetail("The warehouse is picking those units; their reservations stay until the shipment ships or is cancelled."),
			 errhint("Ship the pending shipment, or cancel it with oms.cancel_shipment(), then edit again.")));
}

/* ---- 1. the plan ---- */

static void
EdPlan(EdEdit *e)
{
	bool		any_shipped = false;
	bool		any_pending = false;
	int			i;

	for (i = 0; i < e->nlines; i++)
	{
		any_shipped |= e->lines[i].shipped > 0;
		any_pending |= e->lines[i].pending > 0;
	}
	if (e->ship_to_changed && any_pending)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the ship-to of order " INT64_FORMAT " cannot change while a shipment is pending", e->order_id),
				 errdetail("A pending shipment is being packed for the current address."),
				 errhint("Ship the pending shipment, or cancel it with oms.cancel_shipment(), then edit again.")));
	/* re-route only when nothing has shipped from the old plan */
	e->rerouted = e->ship_to_changed && !any_shipped;

	for (i = 0; i < e->nlines; i++)
	{
		EdLine	   *l = &e->lines[i];
		int32		keep = l->qty - l->cancelled - l->shipped;	/* units to hold */
		int32		held = l->reserved + l->backordered;

		l->work = -1;
		if (l->product.kind == OMS_KIND_SERVICE)
		{
			/* a service holds no stock: its units owed are "reserved" */
			l->got_reserved = keep;
			l->bo_keep = 0;
			continue;
		}
		if (l->id == 0 || l->swapped)
		{
			l->release_all = l->id != 0 && l->reserved > 0;
			l->bo_keep = 0;
			l->ask = keep;
			l->added = keep;
		}
		else
		{
			int32		cut = Max(0, held - keep);
			int32		bo_cut = Min(l->backordered, cut);

			l->bo_keep = l->backordered - bo_cut;
			if (cut - bo_cut > 0 || (e->rerouted && l->reserved > 0))
			{
				l->release_all = true;
				l->ask = keep - l->bo_keep;
			}
			else
				l->ask = keep - l->reserved - l->bo_keep;
			l->added = Max(0, keep - held);
		}
		if (l->release_all && l->pending > 0)
			EdPendingRule(e, l, l->swapped ? "switch to a substitute" : "give back reserved units");
	}
}

/* ---- 2. the reservations released ---- */

static void
EdLoadReleases(EdEdit *e, EdStock *st)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8ARRAYOID};
	Datum		values[1];
	int64	   *ids = palloc(sizeof(int64) * (e->nlines + 1));
	int			n = 0;
	int			i;

	for (i = 0; i < e->nlines; i++)
		if (e->lines[i].release_all)
			ids[n++] = e->lines[i].id;
	st->nrel = 0;
	if (n == 0)
		return;
	values[0] = PointerGetDatum(OmsInt8Array(ids, n));
	OmsQuery(OmsPlan(&plan,
					 "SELECT id, product_id, location_id, qty FROM oms.reservations "
					 " WHERE order_line_id OPERATOR(pg_catalog.=) ANY ($1) AND status OPERATOR(pg_catalog.=) 'active' "
					 " ORDER BY product_id, location_id, id FOR UPDATE",
					 1, types), values, NULL, 0);
	st->nrel = (int) SPI_processed;
	st->rel = palloc(sizeof(RouteAllocation) * (st->nrel + 1));
	st->rel_ids = palloc(sizeof(int64) * (st->nrel + 1));
	for (i = 0; i < st->nrel; i++)
	{
		st->rel_ids[i] = OmsGetInt64(i, 1, NULL);
		st->rel[i].product_id = OmsGetInt64(i, 2, NULL);
		st->rel[i].location_id = OmsGetInt32(i, 3, NULL);
		st->rel[i].qty = OmsGetInt32(i, 4, NULL);
		st->rel[i].group = 0;
	}
}

/* ---- 3. routing ---- */

/* OM001 for added units an all_or_nothing order cannot get */
static void
EdRefuseShort(EdEdit *e, StringInfo detail, bool any_subs)
{
	ereport(ERROR,
			(errcode(ERRCODE_OMS_INSUFFICIENT_STOCK),
			 errmsg("insufficient stock for the edit of order " INT64_FORMAT, e->order_id),
			 errdetail("%s.", detail->data),
			 any_subs ?
			 errhint("Nothing was changed. Switch the line to a substitute (op \"substitute\"), or ask for fewer units.") :
			 errhint("Nothing was changed. Ask for fewer units: the order's policy all_or_nothing takes only what can be reserved whole.")));
}

static void
EdReserve(EdEdit *e, EdStock *st)
{
	OrderWork  *w = &st->w;
	StringInfoData detail;
	bool		any_subs = false;
	int			i;

	memset(w, 0, sizeof(OrderWork));
	w->order_id = e->order_id;
	w->channel = e->channel;
	w->external_id = e->external_id;
	w->route = e->route;
	w->shortfall = ORDER_SHORT_BACKORDER;
	w->lines = palloc0(sizeof(OrderLine) * (e->nlines + 1));
	for (i = 0; i < e->nlines; i++)
	{
		EdLine	   *l = &e->lines[i];
		OrderLine  *ol;

		if (l->product.kind == OMS_KIND_SERVICE || l->ask <= 0)
			continue;
		l->work = w->nlines;
		ol = &w->lines[w->nlines++];
		ol->line_no = l->line_no;
		ol->sku = l->sku;
		ol->product = l->product;
		ol->qty = l->ask;
		ol->id = l->id;
	}
	if (w->nlines > 0)
	{
		OrdersLockKits(w);
		OrdersLoadKits(w);
		OrdersBuildDemand(w);
		OrdersReserve(w, true, "edit_order", st->rel, st->nrel);
		OrdersDistribute(w);
	}
	else
	{
		/* only units given back: in (product, location) order */
		for (i = 0; i < st->nrel; i++)
			InventoryUnreserve(st->rel[i].product_id, st->rel[i].location_id, st->rel[i].qty);
	}

	initStringInfo(&detail);
	for (i = 0; i < e->nlines; i++)
	{
		EdLine	   *l = &e->lines[i];
		OrderLine  *ol;
		int32		short_added;

		if (l->work < 0)
			continue;
		ol = &w->lines[l->work];
		l->got_reserved = ol->reserved;
		l->got_backordered = ol->backordered;
		l->got_cancelled = 0;
		short_added = Min(ol->backordered, l->added);
		if (short_added <= 0)
			continue;
		if (e->shortfall == ORDER_SHORT_REFUSE)
		{
			char	   *subs = l->product.kind == OMS_KIND_STOCK ? OrdersSubstitutesText(l->product.id) : NULL;

			appendStringInfo(&detail, "%sline %d (%s): %d more asked, %d could be reserved", detail.len ? "; " : "",
							 l->line_no, l->sku, l->added, l->added - short_added);
			if (subs)
			{
				appendStringInfo(&detail, ", substitutes in stock: %s", subs);
				any_subs = true;
			}
		}
		else if (e->shortfall == ORDER_SHORT_CANCEL)
		{
			l->got_backordered -= short_added;
			l->got_cancelled = short_added;
		}
	}
	if (detail.len > 0)
		EdRefuseShort(e, &detail, any_subs);
}

/* ---- 4. writing ---- */

static void
EdReleaseReservations(EdEdit *e, EdStock *st)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8ARRAYOID, TEXTOID};
	Datum		values[2];

	if (st->nrel == 0)
		return;
	values[0] = PointerGetDatum(OmsInt8Array(st->rel_ids, st->nrel));
	values[1] = CStringGetTextDatum(psprintf("order %s/%s: %s", e->channel, e->external_id, e->kind));
	OmsExec(OmsPlan(&plan,
					"WITH r AS (UPDATE oms.reservations SET status = 'released', ended_at = pg_catalog.now() "
					"            WHERE id OPERATOR(pg_catalog.=) ANY ($1) "
					"           RETURNING id, order_id, product_id, location_id, qty) "
					"INSERT INTO oms.stock_movements (product_id, location_id, kind, reserved_delta, "
					"       order_id, reservation_id, reference) "
					"SELECT product_id, location_id, 'release', OPERATOR(pg_catalog.-) qty, order_id, id, $2 FROM r",
					2, types), values, NULL, 0);
}

static void
EdWriteLines(EdEdit *e, EdStock *st)
{
	static SPIPlanPtr plan_upd = NULL;
	static SPIPlanPtr plan_ins = NULL;
	Oid			types[13] = {INT8OID, INT8OID, INT4OID, NUMERICOID, NUMERICOID, NUMERICOID, INT4OID, INT4OID,
	INT4OID, INT8OID, INT8OID, INT4OID, INT4OID};
	Datum		values[13];
	char		nulls[13];
	int			i;

	for (i = 0; i < e->nlines; i++)
	{
		EdLine	   *l = &e->lines[i];
		int32		reserved;

		if (l->product.kind == OMS_KIND_SERVICE)
			reserved = l->got_reserved;
		else
			reserved = (l->release_all || l->id == 0 || l->swapped ? 0 : l->reserved) + l->got_reserved;
		l->cancelled += l->got_cancelled;
		l->backordered = l->bo_keep + l->got_backordered;
		l->reserved = reserved;
		e->units_backordered += l->got_backordered;
		if (!l->touched && !l->release_all && l->work < 0)
			continue;
		memset(nulls, ' ', sizeof(nulls));
		values[0] = Int64GetDatum(l->id);
		values[1] = Int64GetDatum(l->product.id);
		values[2] = Int32GetDatum(l->qty);
		/* promotions' share of the discount follows the units (src/order_pricing.c) */
		if (l->id != 0 && l->qty != l->old_qty &&
			DatumGetInt32(DirectFunctionCall2(numeric_cmp, l->discount, l->old_discount)) == 0)
			l->discount = OrdersPricingRescale(l->id, l->old_qty, l->qty, l->unit_price, l->discount);
		values[3] = l->unit_price;
		values[4] = l->discount;
		values[5] = l->tax;
		values[6] = Int32GetDatum(l->reserved);
		values[7] = Int32GetDatum(l->backordered);
		values[8] = Int32GetDatum(l->cancelled);
		values[9] = Int64GetDatum(l->substituted_for);
		if (l->substituted_for == 0)
			nulls[9] = 'n';
		values[10] = Int64GetDatum(e->order_id);
		values[11] = Int32GetDatum(l->line_no);
		values[12] = Int32GetDatum(l->shipped);
		if (l->id != 0)
			OmsExec(OmsPlan(&plan_upd,
							"UPDATE oms.order_lines SET product_id = $2, qty = $3, unit_price = $4, discount = $5, tax = $6, "
							"       qty_reserved = $7, qty_backordered = $8, qty_cancelled = $9, substituted_for = $10, "
							/* a price the edit sets is given, not the list's (src/order_pricing.c) */
							"       price_source = CASE WHEN unit_price OPERATOR(pg_catalog.=) $4 AND product_id OPERATOR(pg_catalog.=) $2 "
							"                           THEN price_source ELSE 'given' END, "
							"       price_list_id = CASE WHEN unit_price OPERATOR(pg_catalog.=) $4 AND product_id OPERATOR(pg_catalog.=) $2 "
							"                            THEN price_list_id END "
							" WHERE id OPERATOR(pg_catalog.=) $1 AND qty_shipped OPERATOR(pg_catalog.=) $13 "
							"   AND order_id OPERATOR(pg_catalog.=) $11 AND line_no OPERATOR(pg_catalog.=) $12",
							13, types), values, nulls, 0);
		else
		{
			OmsExec(OmsPlan(&plan_ins,
							"INSERT INTO oms.order_lines (order_id, line_no, product_id, qty, unit_price, discount, tax, "
							"       qty_reserved, qty_backordered, qty_cancelled, substituted_for) "
							"SELECT $11, $12, $2, $3, $4, $5, $6, $7, $8, $9, $10 WHERE $1 OPERATOR(pg_catalog.=) 0 "
							"   AND $13 OPERATOR(pg_catalog.=) 0 RETURNING id",
							13, types), values, nulls, 0);
			l->id = OmsGetInt64(0, 1, NULL);
			if (l->work >= 0)
				st->w.lines[l->work].id = l->id;
		}
		if (SPI_processed != 1)
			elog(ERROR, "oms: order line %d of order " INT64_FORMAT " changed under its lock", l->line_no, e->order_id);
	}
}

/* ---- 5. the order row ---- */

static void
EdOrderRow(EdEdit *e)
{
	static SPIPlanPtr plan_ship = NULL;
	static SPIPlanPtr plan_totals = NULL;
	Oid			types[4] = {INT8OID, JSONBOID, FLOAT8OID, FLOAT8OID};
	Datum		values[4];
	char		nulls[4] = "    ";

	values[0] = Int64GetDatum(e->order_id);
	if (e->ship_to_changed)
	{
		values[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(e->ship_to));
		values[2] = Float8GetDatum(e->route.lat);
		values[3] = Float8GetDatum(e->route.lon);
		if (!e->route.has_coords)
			nulls[2] = nulls[3] = 'n';
		OmsExec(OmsPlan(&plan_ship,
						"UPDATE oms.orders SET ship_to = $2, ship_lat = $3, ship_lon = $4 WHERE id OPERATOR(pg_catalog.=) $1",
						4, types), values, nulls, 0);
	}
	/*
	 * the expression of placement's PoOwedTotals and oms.check()'s
	 * order_total_owed; the shipping charge stays while a unit is owed and
	 * goes once none is (src/order_charges.c)
	 */
	OmsExec(OmsPlan(&plan_totals,
					"UPDATE oms.orders o SET subtotal = l.subtotal, discount = l.discount, tax = l.tax, "
					"       shipping = CASE WHEN l.owed OPERATOR(pg_catalog.>) 0 THEN o.shipping ELSE 0 END, "
					"       total = l.subtotal OPERATOR(pg_catalog.-) l.discount OPERATOR(pg_catalog.+) l.tax "
					"               OPERATOR(pg_catalog.+) CASE WHEN l.owed OPERATOR(pg_catalog.>) 0 THEN o.shipping ELSE 0 END, "
					"       updated_at = pg_catalog.now() "
					"  FROM (SELECT pg_catalog.sum((qty OPERATOR(pg_catalog.-) qty_cancelled) OPERATOR(pg_catalog.*) unit_price) AS subtotal, "
					"               pg_catalog.sum(pg_catalog.round(discount OPERATOR(pg_catalog.*) (qty OPERATOR(pg_catalog.-) qty_cancelled) "
					"                              OPERATOR(pg_catalog./) qty, 4)) AS discount, "
					"               pg_catalog.sum(pg_catalog.round(tax OPERATOR(pg_catalog.*) (qty OPERATOR(pg_catalog.-) qty_cancelled) "
					"                              OPERATOR(pg_catalog./) qty, 4)) AS tax, "
					"               pg_catalog.sum(qty OPERATOR(pg_catalog.-) qty_cancelled) AS owed "
					"          FROM oms.order_lines WHERE order_id OPERATOR(pg_catalog.=) $1) l "
					" WHERE o.id OPERATOR(pg_catalog.=) $1 RETURNING o.total",
					1, types), values, NULL, 0);
	e->total_after = SPI_datumTransfer(OmsGetDatum(0, 1, NULL), false, -1);
	/* an invoice of a terms order follows the total (src/invoices.c) */
	InvoicesFollow(e->order_id);
}

/* ---- 6. backorders filled by released units ---- */

static void
EdFill(EdEdit *e, EdStock *st)
{
	StringInfoData all;
	int			i;

	initStringInfo(&all);
	appendStringInfoChar(&all, '[');
	/*
	 * A re-route releases at the locations the order moves away from: its own
	 * units, backordered at the new ones, would be filled right back there.
	 * Those units wait for the next receipt or cancellation to fill others.
	 */
	for (i = 0; i < st->nrel && !e->rerouted; i++)
	{
		char	   *f;
		size_t		len;

		if (i > 0 && st->rel[i].product_id == st->rel[i - 1].product_id &&
			st->rel[i].location_id == st->rel[i - 1].location_id)
			continue;
		f = InventoryFillBackorders(st->rel[i].product_id, st->rel[i].location_id);
		len = strlen(f);
		if (len > 2)
			appendStringInfo(&all, "%s%.*s", all.len > 1 ? ", " : "", (int) (len - 2), f + 1);
	}
	appendStringInfoChar(&all, ']');
	e->filled = all.data;
}

/* ---- 7. status and money ---- */

typedef struct EdState
{
	char	   *status;
	char	   *held_from;
	Datum		total;
	Datum		held;			/* payments: authorized - voided */
	Datum		excess;			/* captured - refunds not for returns - total */
	bool		waits;			/* units backordered */
	int64		shipped;		/* stock units shipped */
	int64		open;			/* stock units reserved or backordered */
	int64		customer_id;
} EdState;

static void
EdReadState(int64 order_id, EdState *s)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(order_id)};

	OmsQuery(OmsPlan(&plan,
					 "SELECT o.status, o.held_from, o.total, "
					 "       COALESCE(p.held, 0), COALESCE(p.captured, 0) OPERATOR(pg_catalog.-) (COALESCE(p.refunded, 0) "
					 "         OPERATOR(pg_catalog.-) COALESCE(r.refunded, 0)) OPERATOR(pg_catalog.-) o.total, "
					 "       COALESCE(g.waits, false), COALESCE(g.shipped, 0), COALESCE(g.open, 0), COALESCE(o.customer_id, 0) "
					 "  FROM oms.orders o "
					 "  LEFT JOIN (SELECT pg_catalog.sum(authorized OPERATOR(pg_catalog.-) voided) AS held, pg_catalog.sum(captured) AS captured, "
					 "                    pg_catalog.sum(refunded) AS refunded FROM oms.payments WHERE order_id OPERATOR(pg_catalog.=) $1) p ON true "
					 "  LEFT JOIN (SELECT pg_catalog.sum(refunded) AS refunded FROM oms.rmas WHERE order_id OPERATOR(pg_catalog.=) $1) r ON true "
					 "  LEFT JOIN (SELECT pg_catalog.bool_or(l.qty_backordered OPERATOR(pg_catalog.>) 0) AS waits, "
					 "                    pg_catalog.sum(l.qty_shipped) FILTER (WHERE p.kind OPERATOR(pg_catalog.<>) 'service')::int8 AS shipped, "
					 "                    pg_catalog.sum(l.qty_reserved OPERATOR(pg_catalog.+) l.qty_backordered) "
					 "                        FILTER (WHERE p.kind OPERATOR(pg_catalog.<>) 'service')::int8 AS open "
					 "               FROM oms.order_lines l JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) l.product_id "
					 "              WHERE l.order_id OPERATOR(pg_catalog.=) $1) g ON true "
					 " WHERE o.id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	s->status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	s->held_from = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	s->total = SPI_datumTransfer(OmsGetDatum(0, 3, NULL), false, -1);
	s->held = SPI_datumTransfer(OmsGetDatum(0, 4, NULL), false, -1);
	s->excess = SPI_datumTransfer(OmsGetDatum(0, 5, NULL), false, -1);
	s->waits = DatumGetBool(OmsGetDatum(0, 6, NULL));
	s->shipped = OmsGetInt64(0, 7, NULL);
	s->open = OmsGetInt64(0, 8, NULL);
	s->customer_id = OmsGetInt64(0, 9, NULL);
}

static int
EdCmp(Datum a, Datum b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, a, b));
}

/* nothing left to ship: the order shipped (and arrived, when every parcel did) */
static void
EdComplete(EdEdit *e)
{
	static SPIPlanPtr plan_services = NULL;
	static SPIPlanPtr plan_all = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(e->order_id)};
	char	   *why = psprintf("%s: nothing else to ship", e->kind);
	bool		arrived;

	/* service lines count as delivered with the goods (src/ship.c, step 10) */
	OmsExec(OmsPlan(&plan_services,
					"UPDATE oms.order_lines l SET qty_shipped = l.qty_shipped OPERATOR(pg_catalog.+) l.qty_reserved, qty_reserved = 0 "
					"  FROM oms.products p WHERE p.id OPERATOR(pg_catalog.=) l.product_id "
					"   AND p.kind OPERATOR(pg_catalog.=) 'service' AND l.order_id OPERATOR(pg_catalog.=) $1 "
					"   AND l.qty_reserved OPERATOR(pg_catalog.>) 0",
					1, types), values, NULL, 0);
	OmsQuery(OmsPlan(&plan_all,
					 "SELECT NOT EXISTS (SELECT FROM oms.shipments WHERE order_id OPERATOR(pg_catalog.=) $1 "
					 "                    AND status OPERATOR(pg_catalog.=) ANY ('{pending,shipped}'::text[]))",
					 1, types), values, NULL, 1);
	arrived = DatumGetBool(OmsGetDatum(0, 1, NULL));
	/* shipped and delivered are the targets of this step, as in src/ship.c */
	LifecycleFulfillmentBegin();
	LifecycleChange(e->order_id, "shipped", why, false);
	if (arrived)
		LifecycleChange(e->order_id, "delivered", why, false);
	LifecycleFulfillmentEnd();
	e->completed = true;
}

/* the order no longer covered: back to awaiting payment, or refused */
static void
EdUncover(EdEdit *e, EdState *s)
{
	static SPIPlanPtr plan_held = NULL;
	static SPIPlanPtr plan_expiry = NULL;
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	const char *promise = s->held_from ? s->held_from : s->status;
	const char *target = s->waits ? "backordered" : "pending_payment";
	char	   *reason = psprintf("%s: total %s no longer covered", e->kind,
								  DatumGetCString(DirectFunctionCall1(numeric_out, s->total)));

	if (s->shipped > 0 || !LifecycleAllowed(promise, target))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the edit would leave order " INT64_FORMAT " uncovered while it is %s", e->order_id, promise),
				 errdetail("The edit makes the total %s; the order's payments hold %s (authorized less voided). %s",
						   DatumGetCString(DirectFunctionCall1(numeric_out, s->total)),
						   DatumGetCString(DirectFunctionCall1(numeric_out, s->held)),
						   s->shipped > 0 ? "Units of the order have shipped on the promise of payment." :
						   psprintf("No transition leads from %s back to %s.", promise, target)),
				 s->shipped > 0 ?
				 errhint("Nothing was changed. An order that has shipped units cannot ask for more payment: place the additional units as a new order.") :
				 errhint("Nothing was changed. Cancel its pending shipments (the order returns to confirmed) and edit again, or place the additional units as a new order.")));
	values[0] = Int64GetDatum(e->order_id);
	values[1] = CStringGetTextDatum(target);
	if (s->held_from == NULL)
		LifecycleChange(e->order_id, target, reason, false);
	else
	{
		StringInfoData payload;

		OmsExec(OmsPlan(&plan_held, "UPDATE oms.orders SET held_from = $2 WHERE id OPERATOR(pg_catalog.=) $1",
						2, types), values, NULL, 0);
		initStringInfo(&payload);
		appendStringInfo(&payload, "{\"from\": \"on_hold\", \"to\": \"on_hold\", \"held_from\": \"%s\", \"reason\": ", target);
		escape_json(&payload, reason);
		appendStringInfoChar(&payload, '}');
		EventsEmit("order_unconfirmed", e->order_id, payload.data);
	}
	/* its reservations expire again, as a new unpaid order's (src/payments.c, PayUncover) */
	OmsExec(OmsPlan(&plan_expiry,
					"UPDATE oms.orders SET expires_at = CASE WHEN hold_minutes OPERATOR(pg_catalog.>) 0 "
					"       THEN pg_catalog.now() OPERATOR(pg_catalog.+) pg_catalog.make_interval(mins => hold_minutes) END "
					" WHERE id OPERATOR(pg_catalog.=) $1",
					1, types), values, NULL, 0);
}

static void
EdSettle(EdEdit *e)
{
	EdState		s;
	const char *promise;
	Datum		zero = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));

	EdReadState(e->order_id, &s);
	if (s.held_from == NULL && s.shipped > 0 && s.open == 0 && LifecycleAllows(s.status, LCAP_HOLDS_STOCK))
		EdComplete(e);
	else if (s.held_from == NULL)
	{
		/* the two statuses of an unpaid order, told apart by units waiting (src/order_reroute.c) */
		if (strcmp(s.status, "pending_payment") == 0 && s.waits)
			LifecycleChange(e->order_id, "backordered", psprintf("%s: units wait for stock", e->kind), false);
		else if (strcmp(s.status, "backordered") == 0 && !s.waits)
			LifecycleChange(e->order_id, "pending_payment", psprintf("%s: no unit waits any more", e->kind), false);
	}
	EdReadState(e->order_id, &s);
	promise = s.held_from ? s.held_from : s.status;
	if (LifecycleAllows(promise, LCAP_SHIPPABLE) && !LifecycleAllows(promise, LCAP_TERMINAL) &&
		!LifecycleCovered(e->order_id, s.total, s.customer_id, NULL))
		EdUncover(e, &s);
	else if (s.held_from == NULL && LifecycleAllows(s.status, LCAP_HOLDS_STOCK) && LifecycleAllows(s.status, LCAP_PAYABLE) &&
			 !LifecycleAllows(s.status, LCAP_SHIPPABLE) && EdCmp(s.held, zero) > 0 && EdCmp(s.held, s.total) >= 0 &&
			 LifecycleAllowed(s.status, "confirmed"))
		LifecycleChange(e->order_id, "confirmed", psprintf("%s: covered by its payments", e->kind), true);

	EdReadState(e->order_id, &s);
	promise = s.held_from ? s.held_from : s.status;
	if (e->units_backordered > 0 && LifecycleAllows(promise, LCAP_SHIPPABLE))
	{
		StringInfoData payload;

		initStringInfo(&payload);
		appendStringInfoString(&payload, "{\"from\": ");
		escape_json(&payload, s.status);
		appendStringInfoString(&payload, ", \"to\": ");
		escape_json(&payload, s.status);
		appendStringInfo(&payload, ", \"backordered_units\": " INT64_FORMAT ", \"reason\": \"%s\"}", e->units_backordered,
						 e->rerouted ? "re-routed to the new ship-to" : "edited");
		EventsEmit("order_backordered", e->order_id, payload.data);
	}
	e->refunds = "[]";
	if (EdCmp(s.excess, zero) > 0)
	{
		Datum		refundable = PaymentsRefundable(e->order_id);
		Datum		amount = EdCmp(s.excess, refundable) < 0 ? s.excess : refundable;

		if (EdCmp(amount, zero) > 0)
			e->refunds = PaymentsRefundOrder(e->order_id, amount,
											 psprintf("order %s/%s: %s", e->channel, e->external_id, e->kind), 0);
	}
	/* open authorizations the order no longer needs are voided, whole */
	e->voids = PaymentsVoidSurplus(e->order_id, s.total,
								   psprintf("order %s/%s: %s", e->channel, e->external_id, e->kind));
	e->status_after = s.status;
}

/*
 * Make stock, lines, totals, status and money follow the edited picture
 * (the steps of the banner).
 */
void
EdApply(EdEdit *e)
{
	EdStock    *st = palloc0(sizeof(EdStock));

	EdPlan(e);
	EdLoadReleases(e, st);
	EdReserve(e, st);
	EdReleaseReservations(e, st);
	EdWriteLines(e, st);
	if (st->w.nlines > 0)
		OrdersBookReservations(&st->w);
	EdOrderRow(e);
	EdFill(e, st);
	EdSettle(e);
}
