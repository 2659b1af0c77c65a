/*-------------------------------------------------------------------------
 *
 * order_steps.c
 *	  The steps of placement that re-routing (src/order_reroute.c) and
 *	  edits (src/order_edit_apply.c) take too, on the OrderWork struct of
 *	  src/orders.h: OrdersLoadKits (the components of the order's kits),
 *	  OrdersBuildDemand (the demand per product, kits expanded),
 *	  OrdersReserve (route and reserve, OM001 when short under
 *	  all_or_nothing), OrdersDistribute (what was reserved handed to the
 *	  lines) and OrdersBookReservations (the unused units given back, the
 *	  reservations and their movements written). src/order_place.c tells
 *	  how place_order runs them, step by step, and holds the locking
 *	  order; the guarded-update protocol is in src/inventory.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "orders.h"

static int
PoDemandCmp(const void *a, const void *b)
{
	const RouteDemand *x = a;
	const RouteDemand *y = b;

	if (x->product_id != y->product_id)
		return x->product_id < y->product_id ? -1 : 1;
	return (x->group > y->group) - (x->group < y->group);
}

/* Is any demand of demands[i]'s product short in the plan? */
static bool
PoDemandShort(OrderWork *w, RoutePlanOut *plan, int i)
{
	int			j;

	for (j = 0; j < w->ndemands; j++)
		if (w->demands[j].product_id == w->demands[i].product_id && plan->shortfall[j] > 0)
			return true;
	return false;
}

/*
 * OM001 for an all_or_nothing order: every short product, asked and
 * available (over the eligible locations). 40001 when nothing is short any
 * more: every attempt lost a race.
 */
static void
PoRaiseInsufficient(OrderWork *w, RoutePlanOut *plan)
{
	StringInfoData detail;
	int			nshort = 0;
	bool		any_subs = false;
	char	   *subs;
	int			i,
				j,
				k;

	initStringInfo(&detail);
	for (i = 0; i < w->ndemands; i++)
	{
		char	   *sku = NULL;
		int64		asked = 0;
		int32		g = w->demands[i].group;

		/* one entry per product: what all its demands ask together */
		for (j = 0; j < i; j++)
			if (w->demands[j].product_id == w->demands[i].product_id)
				break;
		if (j < i)
			continue;
		for (j = 0; j < w->ndemands; j++)
			if (w->demands[j].product_id == w->demands[i].product_id)
			{
				asked += w->demands[j].qty;
				if (plan->shortfall[j] > 0)
					g = w->demands[j].group;
			}
		/* short only because a kit cannot be assembled at one place: below */
		if (!PoDemandShort(w, plan, i) || (!plan->split_refused && plan->available[i] >= asked))
			continue;
		for (j = 0; j < w->nlines && g == 0 && sku == NULL; j++)
			if (w->lines[j].product.id == w->demands[i].product_id)
				sku = w->lines[j].sku;
		/* a kit component: name it and its kit */
		for (k = 0; k < w->ncomps && g > 0 && sku == NULL; k++)
			if (w->comps[k].component_id == w->demands[i].product_id &&
				w->comps[k].kit_id == w->lines[g - 1].product.id)
				sku = psprintf("%s (in kit %s)", w->comps[k].sku, w->lines[g - 1].sku);
		appendStringInfo(&detail, "%s%s: asked " INT64_FORMAT ", available " INT64_FORMAT,
						 nshort ? "; " : "", sku ? sku : "?", asked, plan->available[i]);
		/* what could stand in for it (src/order_substitute.c) */
		if (g == 0 && (subs = OrdersSubstitutesText(w->demands[i].product_id)) != NULL)
		{
			appendStringInfo(&detail, ", substitutes in stock: %s", subs);
			any_subs = true;
		}
		nshort++;
	}
	for (i = 0; i < w->ndemands && nshort == 0; i++)
		if (plan->shortfall[i] > 0 && w->demands[i].group > 0)
		{
			OrderLine  *kit = &w->lines[w->demands[i].group - 1];

			ereport(ERROR,
					(errcode(ERRCODE_OMS_INSUFFICIENT_STOCK),
					 errmsg("insufficient stock: kit %s cannot be assembled at one location", kit->sku),
					 errdetail("There are enough units of every component, but no location (or set of locations) holds the components of %d whole kit(s) together.",
							   kit->qty),
					 errhint("Nothing was reserved. A kit ships from one place: move stock so its components are together, or place the order with policy partial or backorder.")));
		}
	if (nshort == 0)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not reserve the order: concurrent orders took the stock at every attempt"),
				 errdetail("Every product is available on paper, but each reservation attempt lost a race for it."),
				 errhint("Nothing was reserved. Retry the call.")));
	if (plan->split_refused)
		ereport(ERROR,
				(errcode(ERRCODE_OMS_INSUFFICIENT_STOCK),
				 errmsg("insufficient stock at any single location for %d of the order's products", nshort),
				 errdetail("%s; the split policy \"%s\" keeps the order from being split over locations.",
						   detail.data, w->route.split),
				 errhint("Nothing was reserved. Allow splitting, lower the quantities, or place the order with policy partial or backorder.")));
	/* available counts the locations that can deliver by the deadline only */
	if (w->route.has_deliver_by)
		ereport(ERROR,
				(errcode(ERRCODE_OMS_INSUFFICIENT_STOCK),
				 errmsg("insufficient stock deliverable by deliver_by for %d of the order's products", nshort),
				 errdetail("%s, at the locations whose carriers deliver by the date.", detail.data),
				 errhint("Nothing was reserved. See oms.explain_route for the promised date of every location; a later deliver_by, or none, lets more locations serve the order.")));
	ereport(ERROR,
			(errcode(ERRCODE_OMS_INSUFFICIENT_STOCK),
			 errmsg("insufficient stock for %d of the order's products", nshort),
			 errdetail("%s.", detail.data),
			 any_subs ?
			 errhint("Nothing was reserved. Take a substitute (line option \"substitute\": \"allow\"), lower the quantities, or place the order with policy partial or backorder.") :
			 errhint("Nothing was reserved. Lower the quantities, or place the order with policy partial or backorder.")));
}

/*
 * Lock the rows of the order's kit products FOR SHARE, in id order, before
 * OrdersLoadKits reads their components in a statement of its own. This is
 * place_order's half of the bill-of-materials protocol written at
 * oms.catalog_kit_bom_guard (src/catalog.sql): a change of a kit's components
 * UPDATEs the kit's row first, so it waits for every place_order of the kit
 * in flight (and then sees its order and is refused while the order holds
 * the kit), and a place_order that comes second waits for the change and
 * then, under READ COMMITTED, reads the new components with the next
 * statement's snapshot; under REPEATABLE READ the updated row gives 40001.
 * Several place_orders of one kit share the lock and do not wait for each
 * other. An order without kits does nothing here.
 */
void
OrdersLockKits(OrderWork *w)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8ARRAYOID};
	Datum		values[1];
	int64	   *kit_ids = palloc(sizeof(int64) * w->nlines);
	int			nkits = 0;
	int			i;

	for (i = 0; i < w->nlines; i++)
		if (w->lines[i].product.kind == OMS_KIND_KIT)
			kit_ids[nkits++] = w->lines[i].product.id;
	if (nkits == 0)
		return;
	values[0] = PointerGetDatum(OmsInt8Array(kit_ids, nkits));
	OmsQuery(OmsPlan(&plan,
					 "SELECT id FROM oms.products WHERE id OPERATOR(pg_catalog.=) ANY ($1) ORDER BY id FOR SHARE",
					 1, types), values, NULL, 0);
}

/* Components of the order's kits; a kit without components is refused. */
void
OrdersLoadKits(OrderWork *w)
{
	static SPIPlanPtr plan = NULL;
	int64	   *kit_ids = palloc(sizeof(int64) * w->nlines);
	int			nkits = 0;
	int			i,
				j;

	for (i = 0; i < w->nlines; i++)
		if (w->lines[i].product.kind == OMS_KIND_KIT)
			kit_ids[nkits++] = w->lines[i].product.id;
	if (nkits == 0)
		return;
	{
		Oid			types[1] = {INT8ARRAYOID};
		Datum		values[1] = {PointerGetDatum(OmsInt8Array(kit_ids, nkits))};

		OmsQuery(OmsPlan(&plan,
						 "SELECT kc.kit_id, kc.component_id, kc.qty, p.sku, p.reorder_point OPERATOR(pg_catalog.>) 0 FROM oms.kit_components kc "
						 "  JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) kc.component_id "
						 " WHERE kc.kit_id OPERATOR(pg_catalog.=) ANY ($1) ORDER BY kc.kit_id, kc.component_id",
						 1, types), values, NULL, 0);
	}
	w->ncomps = (int) SPI_processed;
	w->comps = palloc(sizeof(OrderComponent) * (w->ncomps + 1));
	for (i = 0; i < w->ncomps; i++)
	{
		w->comps[i].kit_id = OmsGetInt64(i, 1, NULL);
		w->comps[i].component_id = OmsGetInt64(i, 2, NULL);
		w->comps[i].qty = OmsGetInt32(i, 3, NULL);
		w->comps[i].sku = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 4);
		if (DatumGetBool(OmsGetDatum(i, 5, NULL)))
			w->any_reorder_point = true;
	}
	for (i = 0; i < w->nlines; i++)
	{
		bool		has = false;

		if (w->lines[i].product.kind != OMS_KIND_KIT)
			continue;
		for (j = 0; j < w->ncomps; j++)
			if (w->comps[j].kit_id == w->lines[i].product.id)
				has = true;
		if (!has)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid order: kit \"%s\" has no components", w->lines[i].sku),
					 errdetail("A kit is reserved through its components, and this one lists none."),
					 errhint("Add its components in oms.kit_components.")));
	}
}

/*
 * The stock products a line needs: itself for a stock line, its components
 * for a kit line, nothing for a service. Fills pids/per and returns how many.
 */
static int
PoLineProducts(OrderWork *w, OrderLine *l, int64 *pids, int32 *per)
{
	int			n = 0;
	int			j;

	if (l->product.kind == OMS_KIND_STOCK)
	{
		pids[0] = l->product.id;
		per[0] = 1;
		return 1;
	}
	if (l->product.kind == OMS_KIND_KIT)
		for (j = 0; j < w->ncomps; j++)
			if (w->comps[j].kit_id == l->product.id)
			{
				pids[n] = w->comps[j].component_id;
				per[n] = w->comps[j].qty;
				n++;
			}
	return n;
}

/*
 * The demands: one per product for the stock lines (same-sku lines
 * summed), and one per component for each kit line, in a group of its own
 * (group = the line's index + 1) that routing keeps at one location: a kit
 * ships from one place. Demands of one product share its stock.
 */
void
OrdersBuildDemand(OrderWork *w)
{
	int64	   *pids = palloc(sizeof(int64) * (w->ncomps + 1));
	int32	   *per = palloc(sizeof(int32) * (w->ncomps + 1));
	int64	   *total = palloc0(sizeof(int64) * (w->nlines + w->ncomps + 1));
	int			i,
				j,
				k,
				n;

	w->demands = palloc0(sizeof(RouteDemand) * (w->nlines + w->ncomps + 1));
	for (i = 0; i < w->nlines; i++)
	{
		bool		kit = w->lines[i].product.kind == OMS_KIND_KIT;
		int32		gid = kit ? i + 1 : 0;

		n = PoLineProducts(w, &w->lines[i], pids, per);
		for (j = 0; j < n; j++)
		{
			for (k = 0; k < w->ndemands; k++)
				if (w->demands[k].product_id == pids[j] && w->demands[k].group == gid)
					break;
			if (k == w->ndemands)
			{
				w->demands[k].product_id = pids[j];
				w->demands[k].qty = 0;
				w->demands[k].group = gid;
				w->demands[k].per = kit ? per[j] : 1;
				w->ndemands++;
			}
			w->demands[k].qty += (int64) w->lines[i].qty * per[j];
		}
	}
	/* no product may be asked for more than int4 can count */
	for (k = 0; k < w->ndemands; k++)
		for (j = 0; j < w->ndemands; j++)
			if (w->demands[j].product_id == w->demands[k].product_id)
			{
				total[k] += w->demands[j].qty;
				if (total[k] > PG_INT32_MAX / 2)
					JsonInvalid("lines", "The order asks for more than 1073741823 units of one product.",
								"Split the order.");
			}
	qsort(w->demands, w->ndemands, sizeof(RouteDemand), PoDemandCmp);
}

/* The routing request for this order. */
void
OrdersWorkRouteRequest(OrderWork *w, RouteRequest *req)
{
	memset(req, 0, sizeof(*req));
	req->order_id = w->order_id;
	req->channel_id = w->route.channel_id;
	req->has_coords = w->route.has_coords;
	req->lat = w->route.lat;
	req->lon = w->route.lon;
	req->pickup_location_id = w->route.pickup_location_id;
	req->counter = w->route.counter;
	req->has_deliver_by = w->route.has_deliver_by;
	req->deliver_by = w->route.deliver_by;
	req->express = w->route.express;
	req->promise = w->route.service_level != NULL;
	req->currency = w->route.currency;
	req->split = w->route.split;
	req->all_or_nothing = w->shortfall == ORDER_SHORT_REFUSE;
	req->demands = w->demands;
	req->ndemands = w->ndemands;
}

/* What this call reserved, per balance row, with the location codes of the plan. */
void
OrdersTakenFrom(OrderWork *w, RoutePlanOut *plan, RouteAllocation *taken, int ntaken)
{
	int			i,
				j;

	w->taken = palloc(sizeof(OrderTaken) * (ntaken + 1));
	for (i = 0; i < ntaken; i++)
	{
		w->taken[i].product_id = taken[i].product_id;
		w->taken[i].location_id = taken[i].location_id;
		w->taken[i].group = taken[i].group;
		w->taken[i].qty = taken[i].qty;
		w->taken[i].used = 0;
		w->taken[i].location_code = NULL;
		for (j = 0; j < plan->state->nsites; j++)
			if (plan->state->sites[j].id == taken[i].location_id)
				w->taken[i].location_code = plan->state->sites[j].code;
	}
	w->ntaken = ntaken;
}

/*
 * Route and reserve (src/route_reserve.c: plans, guarded updates, bounded
 * re-planning), then record the decision. An all_or_nothing order that is
 * short raises OM001 here, holding nothing.
 */
void
OrdersReserve(OrderWork *w, bool rejections, const char *trigger, RouteAllocation *release, int nrelease)
{
	RouteRequest req;
	RoutePlanOut plan;
	RouteAllocation *taken;
	int			ntaken;

	w->ntaken = 0;
	w->taken = NULL;
	if (w->ndemands == 0)
		return;
	OrdersWorkRouteRequest(w, &req);
	req.expire = rejections ? NULL : OrdersExpireForProducts;
	req.rejections = rejections;
	req.release = release;
	req.nrelease = nrelease;
	req.explain = nrelease > 0;	/* released units may sit where nothing is available */
	if (!RouteReserve(&req, &plan, &taken, &ntaken))
	{
		if (!req.all_or_nothing)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not reserve the order: concurrent orders took the locations' capacity at every attempt"),
					 errdetail("Each reservation attempt found a chosen location's daily capacity used up meanwhile."),
					 errhint("Nothing was reserved. Retry the call.")));
		PoRaiseInsufficient(w, &plan);
	}
	OrdersTakenFrom(w, &plan, taken, ntaken);
	RouteRecord(&req, &plan, trigger, taken, ntaken);
}

/*
 * Hand qty units of product (at location loc, or anywhere when loc < 0)
 * that were routed for group from what this call reserved to line i, as
 * reservation pieces.
 */
static void
PoTakeUnits(OrderWork *w, int i, int32 group, int64 product_id, int32 loc, int32 qty)
{
	int			k;

	for (k = 0; k < w->ntaken && qty > 0; k++)
	{
		OrderTaken *t = &w->taken[k];
		int32		give;

		if (t->product_id != product_id || t->group != group || t->used == t->qty ||
			(loc >= 0 && t->location_id != loc))
			continue;
		give = Min(qty, t->qty - t->used);
		t->used += give;
		qty -= give;
		w->pieces[w->npieces].line = i;
		w->pieces[w->npieces].product_id = product_id;
		w->pieces[w->npieces].location_id = t->location_id;
		w->pieces[w->npieces].qty = give;
		w->pieces[w->npieces].location_code = t->location_code;
		w->npieces++;
	}
	if (qty != 0)
		elog(ERROR, "oms: reservation distribution came up short");
}

/*
 * Distribute what was reserved to the lines in line order; kits get whole
 * kits only. Each line's units are taken out of "taken" at once (used), so
 * two lines that need the same product (repeated sku, or a kit and one of
 * its components) share what was reserved instead of both counting it. The
 * rest of each line is backordered or cancelled according to the policy.
 */
void
OrdersDistribute(OrderWork *w)
{
	int64	   *pids = palloc(sizeof(int64) * (w->ncomps + 1));
	int32	   *per = palloc(sizeof(int32) * (w->ncomps + 1));
	int			i,
				j,
				k,
				n;

	w->pieces = palloc(sizeof(OrderPiece) * (w->nlines * (w->ncomps + 1) * (w->ntaken + 1) + 1));
	for (i = 0; i < w->nlines; i++)
	{
		OrderLine  *l = &w->lines[i];
		int32		units = l->qty;

		if (l->product.kind == OMS_KIND_SERVICE)
		{
			l->reserved = l->qty;
			continue;
		}
		n = PoLineProducts(w, l, pids, per);
		if (l->product.kind == OMS_KIND_KIT)
		{
			/* whole kits, each from one location: a kit ships from one place */
			int32		gid = i + 1;
			int			t;

			units = 0;
			for (t = 0; t < w->ntaken && units < l->qty; t++)
			{
				int32		loc = w->taken[t].location_id;
				int32		kits = l->qty - units;
				bool		seen = false;

				if (w->taken[t].group != gid)
					continue;
				for (k = 0; k < t; k++)
					if (w->taken[k].group == gid && w->taken[k].location_id == loc)
						seen = true;
				if (seen)
					continue;
				for (j = 0; j < n; j++)
				{
					int64		free_units = 0;

					for (k = 0; k < w->ntaken; k++)
						if (w->taken[k].product_id == pids[j] && w->taken[k].location_id == loc &&
							w->taken[k].group == gid)
							free_units += w->taken[k].qty - w->taken[k].used;
					kits = (int32) Min((int64) kits, free_units / per[j]);
				}
				if (kits <= 0)
					continue;
				for (j = 0; j < n; j++)
					PoTakeUnits(w, i, gid, pids[j], loc, kits * per[j]);
				units += kits;
			}
		}
		else if (n > 0)
		{
			int64		free_units = 0;

			for (k = 0; k < w->ntaken; k++)
				if (w->taken[k].product_id == pids[0] && w->taken[k].group == 0)
					free_units += w->taken[k].qty - w->taken[k].used;
			units = (int32) Min((int64) units, free_units);
			if (units > 0)
				PoTakeUnits(w, i, 0, pids[0], -1, units);
		}
		l->reserved = units;
		w->total_reserved_units += units;
		if (l->qty > units)
		{
			if (w->shortfall == ORDER_SHORT_BACKORDER)
			{
				l->backordered = l->qty - units;
				w->any_backorder = true;
			}
			else
				l->cancelled = l->qty - units;
		}
	}

	if (w->shortfall == ORDER_SHORT_REFUSE)
	{
		for (i = 0; i < w->nlines; i++)
			if (w->lines[i].reserved != w->lines[i].qty)
				ereport(ERROR,
						(errcode(ERRCODE_OMS_INSUFFICIENT_STOCK),
						 errmsg("insufficient stock: kit %s cannot be assembled at one location", w->lines[i].sku),
						 errdetail("Line %d asks for %d kit(s); the reserved components make %d whole kit(s) at single locations.",
								   w->lines[i].line_no, w->lines[i].qty, w->lines[i].reserved),
						 errhint("Nothing was reserved. Place the order with policy partial or backorder, or move stock so the components are together.")));
	}
	else if (w->shortfall == ORDER_SHORT_CANCEL && w->total_reserved_units == 0)
	{
		bool		any_stock_line = false;

		for (i = 0; i < w->nlines; i++)
			if (w->lines[i].product.kind != OMS_KIND_SERVICE)
				any_stock_line = true;
		if (any_stock_line)
			ereport(ERROR,
					(errcode(ERRCODE_OMS_INSUFFICIENT_STOCK),
					 errmsg("insufficient stock: nothing of the order is available"),
					 errdetail("Policy partial reserves what is available, and no line can be served: its products are out of stock, or a kit's components are not together at any one location."),
					 errhint("Nothing was reserved. Place the order with policy backorder to wait for stock.")));
	}
}


/*
 * The units no line could use given back, and the low-stock check: after
 * the balance rows are reserved.
 */
void
OrdersGiveBackUnused(OrderWork *w)
{
	int			k;

	/* what no line could use (a partial kit) goes back */
	for (k = 0; k < w->ntaken; k++)
		if (w->taken[k].used < w->taken[k].qty)
			InventoryUnreserve(w->taken[k].product_id, w->taken[k].location_id, w->taken[k].qty - w->taken[k].used);

	/* availability that fell to the reorder point (only products that have one) */
	if (w->ntaken > 0 && w->any_reorder_point)
	{
		int64	   *lp = palloc(sizeof(int64) * w->ntaken);
		int32	   *lq = palloc(sizeof(int32) * w->ntaken);

		for (k = 0; k < w->ntaken; k++)
		{
			lp[k] = w->taken[k].product_id;
			lq[k] = w->taken[k].used;
		}
		InventoryLowStock(lp, lq, w->ntaken);
	}
}

/* The reservation rows and their movements, one statement. */
void
OrdersWriteReservations(OrderWork *w)
{
	static SPIPlanPtr plan = NULL;
	int			i;

	if (w->npieces > 0)
	{
		int64	   *r_line = palloc(sizeof(int64) * w->npieces);
		int64	   *r_pid = palloc(sizeof(int64) * w->npieces);
		int32	   *r_loc = palloc(sizeof(int32) * w->npieces);
		int32	   *r_qty = palloc(sizeof(int32) * w->npieces);
		Oid			types[6] = {INT8OID, INT8ARRAYOID, INT8ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, TEXTOID};
		Datum		values[6];

		for (i = 0; i < w->npieces; i++)
		{
			r_line[i] = w->lines[w->pieces[i].line].id;
			r_pid[i] = w->pieces[i].product_id;
			r_loc[i] = w->pieces[i].location_id;
			r_qty[i] = w->pieces[i].qty;
		}
		values[0] = Int64GetDatum(w->order_id);
		values[1] = PointerGetDatum(OmsInt8Array(r_line, w->npieces));
		values[2] = PointerGetDatum(OmsInt8Array(r_pid, w->npieces));
		values[3] = PointerGetDatum(OmsInt4Array(r_loc, w->npieces));
		values[4] = PointerGetDatum(OmsInt4Array(r_qty, w->npieces));
		values[5] = CStringGetTextDatum(psprintf("order %s/%s", w->channel, w->external_id));
		OmsExec(OmsPlan(&plan,
						"WITH r AS (INSERT INTO oms.reservations (order_id, order_line_id, product_id, location_id, qty) "
						"           SELECT $1, * FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), "
						"                                        pg_catalog.unnest($4), pg_catalog.unnest($5)) "
						"           RETURNING id, product_id, location_id, qty) "
						"INSERT INTO oms.stock_movements (product_id, location_id, kind, reserved_delta, order_id, reservation_id, reference) "
						"SELECT product_id, location_id, 'reservation', qty, $1, id, $6 FROM r",
						6, types), values, NULL, 0);
	}
}

/*
 * The reservations and their movements (one statement), the units no line
 * could use given back, and the low-stock check.
 */
void
OrdersBookReservations(OrderWork *w)
{
	OrdersGiveBackUnused(w);
	OrdersWriteReservations(w);
}
