/*-------------------------------------------------------------------------
 *
 * order_place.c
 *	  oms.place_order (and OrdersPlace, which counter sales call), in
 *	  named steps. The steps it shares with re-routing and edits
 *	  (OrdersLoadKits, OrdersBuildDemand, OrdersReserve, OrdersDistribute,
 *	  OrdersBookReservations) are in src/order_steps.c. Also
 *	  OrdersRouteRequest, the routing request place_order would make, for
 *	  oms.explain_route.
 *
 *	  place_order, step by step
 *	  -------------------------
 *	   1. PoParse (src/order_parse.c): parse and validate the whole JSON
 *	      document before touching any table; every problem is a 22023
 *	      naming the field.
 *	   2. PoRequestHash (src/order_parse.c): the SHA-256 of the request,
 *	      numbers canonicalised (10, 10.0000 and 1e1 are one request), by
 *	      which a replay is told from a different document reusing the
 *	      external_id.
 *	   3. PoResolveChannel: the channel, whether it takes orders, and the
 *	      payment hold it gives.
 *	   4. PoResolvePickup: click and collect, the store named by
 *	      ship_to.pickup, whose coordinates become the ship-to's.
 *	   5. PoInsertOrder: a committed order with the same (channel,
 *	      external_id) is looked up first (PoFindExisting): a replay
 *	      writes nothing at all, not even a customer or a sequence number.
 *	      Otherwise the order row (and its customer), with INSERT ...
 *	      ON CONFLICT (channel_id, external_id) DO NOTHING. That is the
 *	      idempotency door: a concurrent duplicate waits on the first
 *	      inserter's unique index entry before it holds any balance lock,
 *	      then sees its committed row and returns it as a replay
 *	      ("replayed": true). A different document reusing the external_id
 *	      is refused (22023). Only a new order goes on, and only when its
 *	      channel is active.
 *	   6. PoResolveProducts: the lines' products; every unknown or inactive
 *	      sku is reported at once. OrdersTakeSubstitutes (src/
 *	      order_substitute.c): a line sent with "substitute": "allow" whose
 *	      product is short takes its best-ranked substitute in stock.
 *	      OrdersPricingApply (src/order_pricing.c): lines without
 *	      unit_price priced from the price lists, given prices checked
 *	      under price_check strict, promotions and codes applied (the
 *	      codes' uses taken with guarded updates, before any balance row
 *	      is locked); the totals then follow the lines (PoOwedTotals).
 *	   7. OrdersLockKits, OrdersLoadKits: the components of the order's kits,
 *	      read after the kit rows are locked FOR SHARE (orders without kits
 *	      skip both), so that a concurrent change of a kit's components
 *	      either waits for this order (and is then refused while the order
 *	      holds the kit) or is read in full (src/catalog.sql,
 *	      oms.catalog_kit_bom_guard).
 *	   8. OrdersBuildDemand: the demand per product: same-sku lines
 *	      together, kits expanded into their components, one group per kit
 *	      line (a kit ships from one place).
 *	   9. PoReserveLast: when the routing engine's plan from the current
 *	      balances covers every demand (the usual case), steps 10 to 12
 *	      are written first and the plan's guarded updates run last, in
 *	      one subtransaction (src/route_reserve.c, RouteReserveLate): the
 *	      balance rows then stay locked only from there to the commit.
 *	      If the stock moved meanwhile, all of it is rolled back and the
 *	      order takes the way below.
 *	      OrdersReserve: route and reserve (src/route_reserve.c, RouteReserve).
 *	      The routing engine plans from the current balances (no locks); if
 *	      the plan is short, lapsed reservations of unpaid orders on the
 *	      short products are released first (lazy expiry) and the order
 *	      planned again; this is done only while this call holds no balance
 *	      lock, to keep the lock order. The plan is executed in (product_id,
 *	      location_id) order with guarded updates: UPDATE ... SET reserved =
 *	      reserved + q WHERE ... AND on_hand - reserved - safety_stock >= q,
 *	      in a subtransaction. If one finds the stock gone, the
 *	      subtransaction is rolled back and the order planned again with
 *	      fresh numbers, a bounded number of times. The last attempt locks
 *	      each row (SELECT ... FOR UPDATE) and takes what is there, up to
 *	      the plan. The decision is stored in oms.routing_decisions. Under
 *	      all_or_nothing a shortfall raises OM001 listing every short sku,
 *	      and nothing is written.
 *	  10. OrdersDistribute: hand what was reserved to the lines in line
 *	      order (a kit line gets whole kits only); the rest of each line is
 *	      backordered or cancelled according to the policy.
 *	  11. PoBookLines: the order lines, in one set-based statement; then
 *	      PoOwedTotals: when units were cancelled (policy partial), the
 *	      order's totals count only the units owed.
 *	  12. OrdersBookReservations: give back what no line can use, write the
 *	      reservations and their movements in one set-based statement, and
 *	      check for low stock.
 *	  13. PoApplyRules: the status after placement: backordered when units
 *	      wait, confirmed for a customer on payment terms, then the hold
 *	      rules.
 *	  The answer is the order document (src/order_document.c), built
 *	  from what the call holds (OrdersDocumentPlaced); only when the rules
 *	  of step 13 changed the status is it read back.
 *
 *	  The locking order (orders, order lines, kit product rows ascending,
 *	  balance rows ascending) and
 *	  the guarded-update protocol are described in inventory.c. Balance
 *	  rows change only through inventory.c's primitives (InventoryReserve,
 *	  InventoryReserveUpTo, InventoryUnreserve); the movement rows that
 *	  belong to reservations are written here, in the same set-based
 *	  statement as the reservation rows themselves.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/sha2.h"
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

/* GUC oms.hold_minutes (registered in _PG_init): default hold of an unpaid order */
int			oms_hold_minutes = 60;


/* ---- place_order ---- */

/* The channel: its id, whether it takes orders, and the hold it gives. */
static int32
PoResolveChannel(PoOrder *o, bool *active, int32 *hold)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(o->work.channel)};
	int32		channel_hold;
	bool		channel_hold_null;

	OmsQuery(OmsPlan(&plan,
					 "SELECT id, active, hold_minutes, tax_mode OPERATOR(pg_catalog.=) 'computed', prices_include_tax "
					 "  FROM oms.channels WHERE code OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid order: unknown channel \"%s\"", o->work.channel),
				 errdetail("No channel in oms.channels has the code \"%s\".", o->work.channel),
				 errhint("Channel codes are lowercase, for example \"web\".")));
	*active = DatumGetBool(OmsGetDatum(0, 2, NULL));
	channel_hold = OmsGetInt32(0, 3, &channel_hold_null);
	*hold = o->hold_minutes >= 0 ? o->hold_minutes : (!channel_hold_null ? channel_hold : oms_hold_minutes);
	o->work.route.channel_id = OmsGetInt32(0, 1, NULL);
	o->tax_computed = DatumGetBool(OmsGetDatum(0, 4, NULL));
	o->channel_gross = DatumGetBool(OmsGetDatum(0, 5, NULL));
	return o->work.route.channel_id;
}

/* the location's country and region (SPI row 0, columns c and c + 1): where the order is taxed */
static void
PoPickupTaxPlace(PoOrder *o, int c)
{
	o->pickup_country = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, c);
	o->pickup_region = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, c + 1);
}

/*
 * Click and collect: ship_to.pickup names the location; it must be active
 * and take pickups. The parcel's destination is the store: its coordinates
 * become the ship-to's. A counter sale is served by its location alone
 * (its caller checked that it is active), like a pickup there.
 */
static void
PoResolvePickup(PoOrder *o, int32 counter_location_id)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_counter = NULL;
	Oid			types[1] = {TEXTOID};
	Oid			types_counter[1] = {INT4OID};
	Datum		values[1];

	if (counter_location_id > 0)
	{
		values[0] = Int32GetDatum(counter_location_id);
		OmsQuery(OmsPlan(&plan_counter,
						 "SELECT latitude, longitude, country, region FROM oms.locations WHERE id OPERATOR(pg_catalog.=) $1",
						 1, types_counter), values, NULL, 1);
		if (SPI_processed == 0)
			elog(ERROR, "oms: counter location %d vanished", counter_location_id);
		o->work.route.pickup_location_id = counter_location_id;
		o->work.route.counter = true;
		o->work.route.has_coords = true;
		o->work.route.lat = DatumGetFloat8(OmsGetDatum(0, 1, NULL));
		o->work.route.lon = DatumGetFloat8(OmsGetDatum(0, 2, NULL));
		PoPickupTaxPlace(o, 3);
		return;
	}
	if (o->pickup == NULL)
		return;
	values[0] = CStringGetTextDatum(o->pickup);
	OmsQuery(OmsPlan(&plan,
					 "SELECT id, active, pickup, latitude, longitude, country, region FROM oms.locations "
					 " WHERE code OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	if (SPI_processed == 0)
		JsonInvalid("ship_to.pickup", psprintf("ship_to.pickup names location \"%s\", which does not exist.", o->pickup),
					"Name a store by its code in oms.locations.");
	if (!DatumGetBool(OmsGetDatum(0, 2, NULL)) || !DatumGetBool(OmsGetDatum(0, 3, NULL)))
		JsonInvalid("ship_to.pickup", psprintf("Location \"%s\" is %s.", o->pickup,
											  DatumGetBool(OmsGetDatum(0, 2, NULL)) ? "not a pickup location" : "inactive"),
					"Choose an active location whose pickup flag is set, or ship the order.");
	o->work.route.pickup_location_id = OmsGetInt32(0, 1, NULL);
	o->work.route.has_coords = true;
	o->work.route.lat = DatumGetFloat8(OmsGetDatum(0, 4, NULL));
	o->work.route.lon = DatumGetFloat8(OmsGetDatum(0, 5, NULL));
	PoPickupTaxPlace(o, 6);
}

/*
 * The customer: found by external_ref, else email; created when new. The
 * customer found is locked FOR KEY SHARE and read again under the lock: an
 * erasure (src/customers.c) running meanwhile changes its external_ref
 * and email, so that it is no longer found, and the order creates a new
 * customer instead of attaching personal data to an erased one.
 */
static bool
PoResolveCustomer(PoOrder *o, int64 *customer_id)
{
	static SPIPlanPtr plan_ins = NULL;
	static SPIPlanPtr plan_get = NULL;
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = "   ";
	int			attempt;

	if (!o->has_customer)
		return false;
	values[0] = o->cust_ref ? CStringGetTextDatum(o->cust_ref) : (Datum) 0;
	values[1] = o->cust_email ? CStringGetTextDatum(o->cust_email) : (Datum) 0;
	values[2] = o->cust_name ? CStringGetTextDatum(o->cust_name) : (Datum) 0;
	nulls[0] = o->cust_ref ? ' ' : 'n';
	nulls[1] = o->cust_email ? ' ' : 'n';
	nulls[2] = o->cust_name ? ' ' : 'n';
	for (attempt = 0;; attempt++)
	{
		OmsExec(OmsPlan(&plan_ins,
						"INSERT INTO oms.customers (external_ref, email, name) VALUES ($1, $2, $3) "
						"ON CONFLICT DO NOTHING RETURNING id",
						3, types), values, nulls, 1);
		if (SPI_processed == 1)
			break;
		OmsQuery(OmsPlan(&plan_get,
						 "SELECT id FROM oms.customers "
						 " WHERE (external_ref OPERATOR(pg_catalog.=) $1 "
						 "        OR pg_catalog.lower(email) OPERATOR(pg_catalog.=) pg_catalog.lower($2)) "
						 "   AND erased_at IS NULL "
						 " ORDER BY external_ref OPERATOR(pg_catalog.=) $1 DESC NULLS LAST LIMIT 1 FOR KEY SHARE",
						 2, types), values, nulls, 1);
		if (SPI_processed == 1)
			break;
		/* erased while this call waited for it: look again */
		if (attempt >= 2)
			JsonInvalid("customer.external_ref",
						"The external_ref names a customer whose personal data was erased.",
						"Send the customer's current reference, or leave external_ref out and send the email.");
	}
	*customer_id = OmsGetInt64(0, 1, NULL);
	return true;
}

/*
 * customer.address: the ship-to is the customer's saved address of that
 * label (src/customers.c), with its coordinates. The customer must exist
 * and not be erased.
 */
static void
PoResolveAddress(PoOrder *o)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = "   ";
	bool		lat_null;

	if (o->cust_address == NULL)
		return;
	if (o->ship_to != NULL)
		JsonInvalid("customer.address", "The order names its ship-to twice: ship_to and customer.address.",
					"Send either the address (ship_to) or the label of a saved one (customer.address).");
	values[0] = o->cust_ref ? CStringGetTextDatum(o->cust_ref) : (Datum) 0;
	values[1] = o->cust_email ? CStringGetTextDatum(o->cust_email) : (Datum) 0;
	values[2] = CStringGetTextDatum(o->cust_address);
	nulls[0] = o->cust_ref ? ' ' : 'n';
	nulls[1] = o->cust_email ? ' ' : 'n';
	OmsQuery(OmsPlan(&plan,
					 "SELECT a.address::pg_catalog.text, "
					 "       (a.address OPERATOR(pg_catalog.->>) 'lat')::pg_catalog.float8, "
					 "       (a.address OPERATOR(pg_catalog.->>) 'lon')::pg_catalog.float8 "
					 "  FROM (SELECT id FROM oms.customers c "
					 "         WHERE (c.external_ref OPERATOR(pg_catalog.=) $1 "
					 "                OR pg_catalog.lower(c.email) OPERATOR(pg_catalog.=) pg_catalog.lower($2)) "
					 "           AND c.erased_at IS NULL "
					 "         ORDER BY c.external_ref OPERATOR(pg_catalog.=) $1 DESC NULLS LAST LIMIT 1) c "
					 "  JOIN oms.customer_addresses a ON a.customer_id OPERATOR(pg_catalog.=) c.id "
					 "   AND a.label OPERATOR(pg_catalog.=) $3",
					 3, types), values, nulls, 1);
	if (SPI_processed == 0)
		JsonInvalid("customer.address", psprintf("The customer has no saved address labelled \"%s\".", o->cust_address),
					"Save it first with oms.save_customer_address(), or send the ship_to.");
	o->ship_to = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	o->work.route.lat = DatumGetFloat8(OmsGetDatum(0, 2, &lat_null));
	if (!lat_null)
		o->work.route.lon = DatumGetFloat8(OmsGetDatum(0, 3, NULL));
	o->work.route.has_coords = !lat_null;
}

/*
 * The order already placed with this channel and external_id, if any: a
 * replay when the request hash matches (o->work.order_id is set and true
 * returned), 22023 when a different document reuses the external_id.
 * Looked up before the INSERT, so a replay writes nothing at all: no
 * customer, no history row, no event, no updated_at, not even a sequence
 * number; and again after an ON CONFLICT (a concurrent duplicate).
 */
static bool
PoFindExisting(PoOrder *o, int32 channel_id, const uint8 *digest)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT4OID, TEXTOID};
	Datum		values[2] = {Int32GetDatum(channel_id), CStringGetTextDatum(o->work.external_id)};
	bytea	   *eh;
	bool		isnull;

	OmsQuery(OmsPlan(&plan,
					 "SELECT id, request_hash FROM oms.orders WHERE channel_id OPERATOR(pg_catalog.=) $1 "
					 "   AND external_id OPERATOR(pg_catalog.=) $2",
					 2, types), values, NULL, 1);
	if (SPI_processed == 0)
		return false;
	o->work.order_id = OmsGetInt64(0, 1, NULL);
	eh = DatumGetByteaPP(OmsGetDatum(0, 2, &isnull));
	if (VARSIZE_ANY_EXHDR(eh) != PG_SHA256_DIGEST_LENGTH ||
		memcmp(VARDATA_ANY(eh), digest, PG_SHA256_DIGEST_LENGTH) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid order: external_id \"%s\" of channel \"%s\" belongs to another order",
						o->work.external_id, o->work.channel),
				 errdetail("Order " INT64_FORMAT " was placed with this external_id and a different document.", o->work.order_id),
				 errhint("A retry must resend the identical document; a new order needs a new external_id.")));
	return true;
}

/*
 * The order row: the idempotency door. Returns false when (channel,
 * external_id) already exists: o->order_id is then that order, after
 * checking that the document is the same (22023 otherwise).
 */
static bool
PoInsertOrder(PoOrder *o, int32 channel_id, int32 hold, const uint8 *digest, OrderDocHead *head)
{
	static SPIPlanPtr plan_order = NULL;
	Oid			types[18] = {INT4OID, TEXTOID, INT8OID, TEXTOID, TEXTOID, JSONBOID, FLOAT8OID, FLOAT8OID,
	TEXTARRAYOID, TEXTOID, INT4OID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID, BYTEAOID, TEXTOID, INT4OID};
	Datum		values[18];
	char		nulls[18];
	bytea	   *h = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	Datum	   *f = palloc(sizeof(Datum) * (o->nflags + 1));
	int64		customer_id;
	int			i;

	/* a retry of a committed order: nothing is written */
	if (PoFindExisting(o, channel_id, digest))
		return false;
	memset(nulls, ' ', sizeof(nulls));
	SET_VARSIZE(h, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	memcpy(VARDATA(h), digest, PG_SHA256_DIGEST_LENGTH);
	for (i = 0; i < o->nflags; i++)
		f[i] = CStringGetTextDatum(o->flags[i]);

	values[0] = Int32GetDatum(channel_id);
	values[1] = CStringGetTextDatum(o->work.external_id);
	if (PoResolveCustomer(o, &customer_id))
		values[2] = Int64GetDatum(customer_id);
	else
	{
		customer_id = 0;
		nulls[2] = 'n';
	}
	values[3] = CStringGetTextDatum(o->currency);
	values[4] = CStringGetTextDatum(o->policy);
	if (o->ship_to)
		values[5] = DirectFunctionCall1(jsonb_in, CStringGetDatum(o->ship_to));
	else
		nulls[5] = 'n';
	values[6] = Float8GetDatum(o->work.route.lat);
	values[7] = Float8GetDatum(o->work.route.lon);
	if (!o->work.route.has_coords)
		nulls[6] = nulls[7] = 'n';
	values[8] = PointerGetDatum(construct_array(f, o->nflags, TEXTOID, -1, false, TYPALIGN_INT));
	if (o->notes)
		values[9] = CStringGetTextDatum(o->notes);
	else
		nulls[9] = 'n';
	values[10] = Int32GetDatum(hold);
	/* the amounts of PoParse, each checked below 10^12 there */
	values[11] = o->subtotal;
	values[12] = o->discount;
	values[13] = o->tax;
	values[14] = DirectFunctionCall2(numeric_add, DirectFunctionCall2(numeric_sub, o->subtotal, o->discount), o->tax);
	values[15] = PointerGetDatum(h);
	values[16] = CStringGetTextDatum(o->work.route.split);
	values[17] = Int32GetDatum(o->work.route.pickup_location_id);
	if (o->work.route.pickup_location_id == 0)
		nulls[17] = 'n';
	OmsExec(OmsPlan(&plan_order,
					"INSERT INTO oms.orders (channel_id, external_id, customer_id, currency, status, policy, ship_to, "
					"       ship_lat, ship_lon, flags, notes, hold_minutes, expires_at, subtotal, discount, tax, total, request_hash, "
					"       split_policy, pickup_location_id) "
					"VALUES ($1, $2, $3, $4, 'pending_payment', $5, $6, $7, $8, $9, $10, $11, "
					"        CASE WHEN $11 OPERATOR(pg_catalog.>) 0 THEN pg_catalog.now() OPERATOR(pg_catalog.+) "
					"             pg_catalog.make_interval(mins => $11) END, "
					"        $12, $13, $14, $15, $16, $17, $18) "
					"ON CONFLICT (channel_id, external_id) DO NOTHING "
					"RETURNING id, placed_at, expires_at, total, subtotal, discount, shipping, tax",
					18, types), values, nulls, 1);
	if (SPI_processed == 1)
	{
		bool		isnull;

		o->work.order_id = OmsGetInt64(0, 1, NULL);
		head->order_id = o->work.order_id;
		head->status = "pending_payment";
		head->policy = o->policy;
		head->currency = o->currency;
		head->customer_id = customer_id;
		head->placed_at = OmsGetDatum(0, 2, NULL);
		head->expires_at = OmsGetDatum(0, 3, &isnull);
		if (isnull)
			head->expires_at = (Datum) 0;
		OrdersDocHeadAmounts(head, 4);
		return true;
	}

	/* a concurrent duplicate that committed first */
	if (!PoFindExisting(o, channel_id, digest))
		elog(ERROR, "oms: conflicting order vanished");
	return false;
}

/* Products of the lines: every unknown or inactive sku is reported at once. */
static void
PoResolveProducts(OrderWork *w)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {TEXTARRAYOID};
	Datum		values[1];
	Datum	   *skus = palloc(sizeof(Datum) * w->nlines);
	StringInfoData unknown;
	StringInfoData inactive;
	int			n,
				i,
				j;

	for (i = 0; i < w->nlines; i++)
		skus[i] = CStringGetTextDatum(w->lines[i].sku);
	values[0] = PointerGetDatum(construct_array(skus, w->nlines, TEXTOID, -1, false, TYPALIGN_INT));
	OmsQuery(OmsPlan(&plan,
					 "SELECT sku, id, kind, active, reorder_point OPERATOR(pg_catalog.>) 0 FROM oms.products WHERE sku OPERATOR(pg_catalog.=) ANY ($1)",
					 1, types), values, NULL, 0);
	n = (int) SPI_processed;
	for (i = 0; i < w->nlines; i++)
	{
		w->lines[i].product.id = 0;
		for (j = 0; j < n; j++)
		{
			char	   *sku = SPI_getvalue(SPI_tuptable->vals[j], SPI_tuptable->tupdesc, 1);
			char	   *kind;

			if (strcmp(sku, w->lines[i].sku) != 0)
				continue;
			kind = SPI_getvalue(SPI_tuptable->vals[j], SPI_tuptable->tupdesc, 3);
			w->lines[i].product.id = OmsGetInt64(j, 2, NULL);
			w->lines[i].product.kind = strcmp(kind, "kit") == 0 ? OMS_KIND_KIT :
				strcmp(kind, "service") == 0 ? OMS_KIND_SERVICE : OMS_KIND_STOCK;
			w->lines[i].product.active = DatumGetBool(OmsGetDatum(j, 4, NULL));
			if (DatumGetBool(OmsGetDatum(j, 5, NULL)))
				w->any_reorder_point = true;
		}
	}
	initStringInfo(&unknown);
	initStringInfo(&inactive);
	for (i = 0; i < w->nlines; i++)
	{
		if (w->lines[i].product.id == 0)
			appendStringInfo(&unknown, "%s%s (line %d)", unknown.len ? ", " : "", w->lines[i].sku, i + 1);
		else if (!w->lines[i].product.active)
			appendStringInfo(&inactive, "%s%s (line %d)", inactive.len ? ", " : "", w->lines[i].sku, i + 1);
	}
	if (unknown.len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid order: unknown sku"),
				 errdetail("No product has the sku: %s.", unknown.data),
				 errhint("Skus are case-sensitive; create missing products in oms.products first.")));
	if (inactive.len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid order: inactive product"),
				 errdetail("These products are not sold any more: %s.", inactive.data),
				 errhint("Remove the lines, or reactivate the products.")));
}

/* The order lines, one statement; their ids go back into o->work.lines. */
static void
PoBookLines(PoOrder *o)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[11] = {INT8OID, INT4ARRAYOID, INT8ARRAYOID, INT4ARRAYOID, NUMERICARRAYOID,
	NUMERICARRAYOID, NUMERICARRAYOID, INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, INT8ARRAYOID};
	Datum		values[11];
	int64	   *a_sub = palloc(sizeof(int64) * o->work.nlines);
	int32	   *a_no = palloc(sizeof(int32) * o->work.nlines);
	int64	   *a_pid = palloc(sizeof(int64) * o->work.nlines);
	int32	   *a_qty = palloc(sizeof(int32) * o->work.nlines);
	int32	   *a_res = palloc(sizeof(int32) * o->work.nlines);
	int32	   *a_bo = palloc(sizeof(int32) * o->work.nlines);
	int32	   *a_can = palloc(sizeof(int32) * o->work.nlines);
	Datum	   *a_price = palloc(sizeof(Datum) * o->work.nlines);
	Datum	   *a_disc = palloc(sizeof(Datum) * o->work.nlines);
	Datum	   *a_tax = palloc(sizeof(Datum) * o->work.nlines);
	int			i;

	for (i = 0; i < o->work.nlines; i++)
	{
		a_no[i] = o->work.lines[i].line_no;
		a_pid[i] = o->work.lines[i].product.id;
		a_qty[i] = o->work.lines[i].qty;
		a_res[i] = o->work.lines[i].reserved;
		a_bo[i] = o->work.lines[i].backordered;
		a_can[i] = o->work.lines[i].cancelled;
		a_price[i] = o->prices[i].unit_price;
		a_disc[i] = o->prices[i].discount;
		a_tax[i] = o->prices[i].tax;
		a_sub[i] = o->work.lines[i].substituted_for;
	}
	values[0] = Int64GetDatum(o->work.order_id);
	values[1] = PointerGetDatum(OmsInt4Array(a_no, o->work.nlines));
	values[2] = PointerGetDatum(OmsInt8Array(a_pid, o->work.nlines));
	values[3] = PointerGetDatum(OmsInt4Array(a_qty, o->work.nlines));
	values[4] = PointerGetDatum(construct_array(a_price, o->work.nlines, NUMERICOID, -1, false, TYPALIGN_INT));
	values[5] = PointerGetDatum(construct_array(a_disc, o->work.nlines, NUMERICOID, -1, false, TYPALIGN_INT));
	values[6] = PointerGetDatum(construct_array(a_tax, o->work.nlines, NUMERICOID, -1, false, TYPALIGN_INT));
	values[7] = PointerGetDatum(OmsInt4Array(a_res, o->work.nlines));
	values[8] = PointerGetDatum(OmsInt4Array(a_bo, o->work.nlines));
	values[9] = PointerGetDatum(OmsInt4Array(a_can, o->work.nlines));
	values[10] = PointerGetDatum(OmsInt8Array(a_sub, o->work.nlines));
	OmsExec(OmsPlan(&plan,
					"INSERT INTO oms.order_lines (order_id, line_no, product_id, qty, unit_price, discount, tax, "
					"       qty_reserved, qty_backordered, qty_cancelled, substituted_for) "
					"SELECT $1, n, p, q, pr, d, t, r, b, c, NULLIF(s, 0) "
					"  FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), "
					"       pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8), "
					"       pg_catalog.unnest($9), pg_catalog.unnest($10), pg_catalog.unnest($11)) AS u(n, p, q, pr, d, t, r, b, c, s) "
					"RETURNING line_no, id, unit_price, discount, tax",
					11, types), values, NULL, 0);
	for (i = 0; i < (int) SPI_processed; i++)
	{
		int			n = OmsGetInt32(i, 1, NULL) - 1;

		o->work.lines[n].id = OmsGetInt64(i, 2, NULL);
		/* the amounts as stored (4 decimals), for the answer */
		o->prices[n].unit_price = datumCopy(OmsGetDatum(i, 3, NULL), false, -1);
		o->prices[n].discount = datumCopy(OmsGetDatum(i, 4, NULL), false, -1);
		o->prices[n].tax = datumCopy(OmsGetDatum(i, 5, NULL), false, -1);
	}
	/* each line's price list and the promotions applied (src/order_pricing.c) */
	OrdersPricingBook(o);
}

/*
 * Totals follow the units owed: when placement cancelled units (policy
 * partial), the order's subtotal, discount, tax and total count only the
 * units not cancelled. A line's discount and tax are for the whole line,
 * so they shrink in proportion, rounded per line to the columns' 4
 * decimals: a line with nothing cancelled keeps its amounts exactly.
 * oms.check() (order_total_owed) recomputes the same expression.
 */
static void
PoOwedTotals(PoOrder *o, OrderDocHead *head)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(o->work.order_id)};
	int			i;

	for (i = 0; i < o->work.nlines; i++)
		if (o->work.lines[i].cancelled > 0 || o->work.lines[i].substitute_price != (Datum) 0)
			break;
	if (i == o->work.nlines && !o->repriced)
		return;					/* the totals of PoInsertOrder stand */
	OmsExec(OmsPlan(&plan,
					"UPDATE oms.orders o SET subtotal = l.subtotal, discount = l.discount, tax = l.tax, "
					"       total = l.subtotal OPERATOR(pg_catalog.-) l.discount OPERATOR(pg_catalog.+) l.tax OPERATOR(pg_catalog.+) o.shipping "
					"  FROM (SELECT pg_catalog.sum((qty OPERATOR(pg_catalog.-) qty_cancelled) OPERATOR(pg_catalog.*) unit_price) AS subtotal, "
					"               pg_catalog.sum(pg_catalog.round(discount OPERATOR(pg_catalog.*) (qty OPERATOR(pg_catalog.-) qty_cancelled) "
					"                              OPERATOR(pg_catalog./) qty, 4)) AS discount, "
					"               pg_catalog.sum(pg_catalog.round(tax OPERATOR(pg_catalog.*) (qty OPERATOR(pg_catalog.-) qty_cancelled) "
					"                              OPERATOR(pg_catalog./) qty, 4)) AS tax "
					"          FROM oms.order_lines WHERE order_id OPERATOR(pg_catalog.=) $1) l "
					" WHERE o.id OPERATOR(pg_catalog.=) $1 "
					"RETURNING o.total, o.subtotal, o.discount, o.shipping, o.tax",
					1, types), values, NULL, 0);
	OrdersDocHeadAmounts(head, 1);
}


/* ---- reserving last ---- */

typedef struct PoLate
{
	PoOrder    *o;
	OrderDocHead *head;
	RouteRequest *req;
	RoutePlanOut *plan;
} PoLate;

/*
 * The writes that follow from a plan covering the order, inside
 * RouteReserveLate's subtransaction, before the balance rows are locked:
 * the decision, the lines and the reservations with their movements, as
 * if the plan had been reserved (the guarded updates that follow make it
 * so, or roll all of it back).
 */
static void
PoLateWrites(void *arg, RouteAllocation *planned, int nplanned)
{
	PoLate	   *l = arg;
	OrderWork  *w = &l->o->work;

	OrdersTakenFrom(w, l->plan, planned, nplanned);
	RouteRecord(l->req, l->plan, "place_order", planned, nplanned);
	OrdersDistribute(w);
	PoBookLines(l->o);
	PoOwedTotals(l->o, l->head);
	OrdersWriteReservations(w);
}

/* Forget the outcome of a late attempt that was rolled back. */
static void
PoResetOutcome(OrderWork *w)
{
	int			i;

	for (i = 0; i < w->nlines; i++)
	{
		w->lines[i].id = 0;
		w->lines[i].reserved = w->lines[i].backordered = w->lines[i].cancelled = 0;
	}
	w->taken = NULL;
	w->ntaken = 0;
	w->pieces = NULL;
	w->npieces = 0;
	w->any_backorder = false;
	w->total_reserved_units = 0;
}

/*
 * Steps 9 to 12 with the stock reserved last: when a plan made from the
 * current balances covers every demand, the decision, lines and
 * reservations are written first and the guarded updates run after them,
 * in one subtransaction, so that the balance rows stay locked only from
 * there to the commit (the rules and the document follow). False, with
 * nothing written or held, when the plan is short (then the lazy expiry,
 * the policies and the re-planning of OrdersReserve apply) or when the
 * stock moved before the guarded updates (then OrdersReserve plans again).
 */
static bool
PoReserveLast(PoOrder *o, OrderDocHead *head)
{
	OrderWork  *w = &o->work;
	RouteRequest req;
	RoutePlanOut plan;
	PoLate		late;
	int			i;

	if (w->ndemands == 0)
		return false;
	OrdersWorkRouteRequest(w, &req);
	RoutePlan(&req, &plan);
	for (i = 0; i < w->ndemands; i++)
		if (plan.shortfall[i] > 0)
			return false;
	late.o = o;
	late.head = head;
	late.req = &req;
	late.plan = &plan;
	if (RouteReserveLate(&plan, PoLateWrites, &late))
	{
		OrdersGiveBackUnused(w);
		return true;
	}
	PoResetOutcome(w);
	return false;
}

/*
 * The status after placement: backordered when units wait; customers on
 * payment terms are confirmed (their invoice is the payment); then the hold
 * rules: an order or customer flag listed in oms.hold_rules puts the new
 * order on hold, remembering its status.
 */
static bool
PoApplyRules(PoOrder *o)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(o->work.order_id)};
	bool		isnull;
	char	   *hold_reason;
	int64		customer_id;
	bool		changed = false;

	if (o->work.any_backorder)
	{
		LifecycleChange(o->work.order_id, "backordered", "some units wait for stock", false);
		changed = true;
	}
	/* a guest order without flags matches no rule */
	if (!o->has_customer && o->nflags == 0)
		return changed;
	OmsQuery(OmsPlan(&plan,
					 "SELECT COALESCE('terms' OPERATOR(pg_catalog.=) ANY (c.flags), false), "
					 "       (SELECT r.reason FROM oms.hold_rules r WHERE r.active "
					 "           AND (r.flag OPERATOR(pg_catalog.=) ANY (o.flags) "
					 "                OR r.flag OPERATOR(pg_catalog.=) ANY (COALESCE(c.flags, '{}'))) "
					 "         ORDER BY r.flag LIMIT 1), "
					 "       COALESCE(o.customer_id, 0) "
					 "  FROM oms.orders o LEFT JOIN oms.customers c ON c.id OPERATOR(pg_catalog.=) o.customer_id "
					 " WHERE o.id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	(void) OmsGetDatum(0, 2, &isnull);
	hold_reason = isnull ? NULL : SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	customer_id = OmsGetInt64(0, 3, NULL);
	/* terms are confirmed under the customer row's share lock (coverage) */
	if (DatumGetBool(OmsGetDatum(0, 1, NULL)) && LifecycleOnTerms(customer_id))
	{
		LifecycleChange(o->work.order_id, "confirmed", "customer on payment terms", true);
		/* its invoice (src/invoices.c) */
		InvoicesIssue(o->work.order_id);
		changed = true;
	}
	/* a counter sale is paid and handed over in the same call: no hold */
	if (hold_reason && !o->work.route.counter)
	{
		LifecycleHold(o->work.order_id, hold_reason);
		changed = true;
	}
	return changed;
}

/*
 * The delivery promise asked for, on the order row (src/route_promise.c):
 * only orders that ask for one pay this update.
 */
static void
PoRecordPromise(PoOrder *o)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = "   ";

	if (o->deliver_by == NULL && o->service_level == NULL)
		return;
	values[0] = Int64GetDatum(o->work.order_id);
	values[1] = o->deliver_by ? CStringGetTextDatum(o->deliver_by) : (Datum) 0;
	values[2] = o->service_level ? CStringGetTextDatum(o->service_level) : (Datum) 0;
	nulls[1] = o->deliver_by ? ' ' : 'n';
	nulls[2] = o->service_level ? ' ' : 'n';
	OmsExec(OmsPlan(&plan,
					"UPDATE oms.orders SET deliver_by = $2::pg_catalog.date, service_level = $3 "
					" WHERE id OPERATOR(pg_catalog.=) $1",
					3, types), values, nulls, 1);
}

PG_FUNCTION_INFO_V1(place_order);
/*
 * oms.place_order(order jsonb): validate, insert idempotently, reserve
 * atomically, return the order document. The steps are described in the
 * banner of this file.
 */
Datum
place_order(PG_FUNCTION_ARGS)
{
	OmsRequireArg(fcinfo, 0, "order");
	PG_RETURN_DATUM(OrdersPlace(PG_GETARG_JSONB_P(0), 0));
}

/*
 * The steps of place_order for a document. A counter sale
 * (counter_location_id > 0, src/counter_sale.c) is placed the same way,
 * reserved at that location only (PoResolvePickup), with no hold rule.
 */
Datum
OrdersPlace(Jsonb *doc, int32 counter_location_id)
{
	PoOrder		o;
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	int32		channel_id;
	bool		channel_active;
	int32		hold;
	int			nest;
	OrderDocHead head;
	Datum		inserted_total;
	Datum		result;

	PoParse(doc, &o);
	PoRequestHash(doc, digest);

	SPI_connect();
	nest = OmsKeyLookupsBegin();
	channel_id = PoResolveChannel(&o, &channel_active, &hold);
	PoResolveAddress(&o);
	PoResolvePickup(&o, counter_location_id);
	if (!PoInsertOrder(&o, channel_id, hold, digest, &head))
	{
		result = OrdersDocumentReplayed(o.work.order_id, true);
		OmsKeyLookupsEnd(nest);
		SPI_finish();
		return result;
	}
	if (!channel_active)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid order: channel \"%s\" is inactive", o.work.channel),
				 errdetail("Inactive channels accept no new orders."),
				 errhint("Reactivate the channel in oms.channels, or use another one.")));
	inserted_total = head.total;
	PoRecordPromise(&o);
	PoResolveProducts(&o.work);
	OrdersTakeSubstitutes(&o.work, o.prices);
	/* prices from the lists, promotions and codes (src/order_pricing.c) */
	OrdersPricingApply(&o, head.customer_id);
	/* the lines' tax, once their discounts are known (src/order_charges.c) */
	ChargesLineTax(&o);
	OrdersLockKits(&o.work);
	OrdersLoadKits(&o.work);
	OrdersBuildDemand(&o.work);
	if (!PoReserveLast(&o, &head))
	{
		OrdersReserve(&o.work, false, "place_order", NULL, 0);
		OrdersDistribute(&o.work);
		PoBookLines(&o);
		PoOwedTotals(&o, &head);
		OrdersBookReservations(&o.work);
	}
	/* the shipping charge and the totals with it (src/order_charges.c) */
	ChargesApply(&o, &head);
	/* the order_placed event says the total the order ended with */
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, inserted_total, head.total)) != 0)
		EventsAmendPlacedTotal(o.work.order_id, head.total);
	/*
	 * a status the rules changed is read back (the document query has the
	 * pricing outcome); otherwise no read-back
	 */
	if (PoApplyRules(&o))
		result = OrdersDocumentReplayed(o.work.order_id, false);
	else
		result = OrdersPricingDocument(OrdersDocumentPlaced(&head, &o.work, o.prices), &o);
	OmsKeyLookupsEnd(nest);
	SPI_finish();
	return result;
}

/*
 * For oms.explain_route: the routing request place_order would make for
 * this document, validated the same way, without writing anything.
 */
void
OrdersRouteRequest(Jsonb *doc, RouteRequest *req)
{
	PoOrder    *o = palloc(sizeof(PoOrder));
	bool		channel_active;
	int32		hold;

	PoParse(doc, o);
	(void) PoResolveChannel(o, &channel_active, &hold);
	if (!channel_active)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid order: channel \"%s\" is inactive", o->work.channel),
				 errdetail("Inactive channels accept no new orders."),
				 errhint("Reactivate the channel in oms.channels, or use another one.")));
	PoResolveAddress(o);
	PoResolvePickup(o, 0);
	PoResolveProducts(&o->work);
	OrdersLoadKits(&o->work);
	OrdersBuildDemand(&o->work);
	OrdersWorkRouteRequest(&o->work, req);
}
