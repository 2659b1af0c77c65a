/*-------------------------------------------------------------------------
 *
 * inventory.c
 *	  Stock balances and the movement ledger: the ledger triggers, goods
 *	  receipts, cycle counts, safety stock, availability, low-stock events
 *	  and the filling of backorders when stock arrives. The write guard of
 *	  oms.stock_balances lives in balance_guard.c.
 *
 *	  The ledger protocol
 *	  -------------------
 *	  oms.stock_movements is the truth and is append-only (UPDATE, DELETE and
 *	  TRUNCATE raise). oms.stock_balances is its running sum, kept so that a
 *	  reservation is one guarded UPDATE of one row. Every oms function that
 *	  changes a balance writes, in the same transaction, a movement with the
 *	  same deltas; it does so with OmsExec(), which raises a backend-local
 *	  write permission for the duration of that one SQL statement. The guard
 *	  trigger on oms.stock_balances (balance_guard.c) rejects every write
 *	  made without it, so an UPDATE typed in psql, even by a superuser,
 *	  fails (only disabling the trigger gets around it, and oms.check()
 *	  reports what that breaks).
 *
 *	  A movement inserted from outside the oms functions (pg_restore's COPY,
 *	  a DBA's INSERT) is applied to the balances by a statement-level trigger
 *	  that sums the statement's rows per balance row first: a restore
 *	  therefore rebuilds every balance from the ledger, and the order of rows
 *	  inside the COPY cannot make a transient sum break a CHECK.
 *
 *	  The locking protocol
 *	  --------------------
 *	  Row locks are taken in one global order: orders, then order lines, then
 *	  balance rows in (product_id, location_id) order. receive_stock is the
 *	  one path that starts from a balance row (the one being received): it
 *	  takes the order lines it fills, and the other component rows of kits,
 *	  with SKIP LOCKED, so it never waits while holding a balance lock and
 *	  cannot close a cycle. Its lines query locks the orders too (NO KEY
 *	  UPDATE, SKIP LOCKED): the reservation it inserts references the order,
 *	  and a foreign-key check on an order that cancel_order holds would be a
 *	  wait under a balance lock. A line it skips is filled by the next receipt.
 *
 *	  Reservations come only from guarded statements:
 *	    UPDATE ... SET reserved = reserved + q
 *	     WHERE ... AND on_hand - reserved - safety_stock >= q
 *	  and the bookkeeping follows from the row it returns. Where "as much as
 *	  there is, up to q" is wanted, the row is first locked with SELECT ...
 *	  FOR UPDATE, which returns the newest committed version, and the guarded
 *	  UPDATE follows under that lock. Under REPEATABLE READ and SERIALIZABLE
 *	  a concurrently changed row raises 40001 instead; callers retry.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "oms.h"

static bool InventoryLockBalance(int64 product_id, int32 location_id, bool create,
								 int32 *on_hand, int32 *reserved, int32 *safety);

/* ---- ledger triggers ---- */

PG_FUNCTION_INFO_V1(inventory_ledger_guard);
/*
 * Trigger on oms.stock_movements: the ledger is append-only.
 */
Datum
inventory_ledger_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "inventory_ledger_guard: not called by trigger manager");

	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("oms.stock_movements is append-only"),
			 errdetail("%s of stock movements is not allowed.",
					   TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event) ? "TRUNCATE" :
					   TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ? "DELETE" : "UPDATE"),
			 errhint("Correct a movement with a new compensating movement, for example oms.adjust_stock().")));
	PG_RETURN_NULL();
}

PG_FUNCTION_INFO_V1(inventory_ledger_apply);
/*
 * Statement trigger on oms.stock_movements: apply movements that did not
 * come from an oms function (restore, manual INSERT) to the balances.
 */
Datum
inventory_ledger_apply(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	int			rc;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "inventory_ledger_apply: not called by trigger manager");

	/* an oms function wrote this movement and has already moved the balance */
	if (OmsWriteAllowed())
		return PointerGetDatum(NULL);

	SPI_connect();
	rc = SPI_register_trigger_data(trigdata);
	if (rc != SPI_OK_TD_REGISTER)
		elog(ERROR, "SPI_register_trigger_data failed: %d", rc);
	OmsWriteBegin();
	rc = SPI_execute(
		"INSERT INTO oms.stock_balances AS b "
		"       (product_id, location_id, slot, on_hand, reserved, damaged, safety_stock, updated_at) "
		"SELECT product_id, location_id, slot, pg_catalog.sum(on_hand_delta), pg_catalog.sum(reserved_delta), "
		"       pg_catalog.sum(damaged_delta), pg_catalog.sum(safety_stock_delta), pg_catalog.max(at) "
		"  FROM new_movements GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 "
		"ON CONFLICT (product_id, location_id, slot) DO UPDATE "
		"   SET on_hand = b.on_hand OPERATOR(pg_catalog.+) excluded.on_hand, "
		"       reserved = b.reserved OPERATOR(pg_catalog.+) excluded.reserved, "
		"       damaged = b.damaged OPERATOR(pg_catalog.+) excluded.damaged, "
		"       safety_stock = b.safety_stock OPERATOR(pg_catalog.+) excluded.safety_stock, "
		"       updated_at = pg_catalog.now()",
		false, 0);
	OmsWriteEnd();
	if (rc < 0)
		elog(ERROR, "inventory_ledger_apply: %s", SPI_result_code_string(rc));
	SPI_finish();
	return PointerGetDatum(NULL);
}

/* ---- argument checks ---- */

static inline int64
InventoryCheckStockSku(const char *sku)
{
	OmsProduct	p;

	if (!OmsLookupProduct(sku, &p))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown sku \"%s\"", sku),
				 errdetail("No product in oms.products has this sku."),
				 errhint("Create the product first; skus are case-sensitive.")));
	if (p.kind != OMS_KIND_STOCK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("product \"%s\" does not hold stock", sku),
				 errdetail("It is a %s; only products of kind stock have balances.",
						   p.kind == OMS_KIND_KIT ? "kit" : "service"),
				 errhint(p.kind == OMS_KIND_KIT ? "Book the kit's components instead." :
						 "Services are sold without stock.")));
	return p.id;
}

static inline int32
InventoryCheckLocation(const char *code)
{
	int32		id;

	if (!OmsLookupLocation(code, &id, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown location \"%s\"", code),
				 errdetail("No location in oms.locations has this code."),
				 errhint("Location codes are case-sensitive.")));
	return id;
}

static inline void
InventoryCheckQty(int32 qty, int32 min, const char *what)
{
	if (qty < min || qty > 1000000000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between %d and 1000000000", what, min),
				 errdetail("The value given was %d.", qty),
				 errhint(min > 0 ? "Quantities are whole units greater than zero." :
						 "Quantities are whole units, zero or more.")));
}

/* on_hand of the balance row (slot 0, where receipts go), as text */
static char *
InventoryBalanceOnHand(int64 product_id, int32 location_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2] = {Int64GetDatum(product_id), Int32GetDatum(location_id)};

	OmsQuery(OmsPlan(&plan,
					 "SELECT on_hand::text FROM oms.stock_balances "
					 " WHERE product_id OPERATOR(pg_catalog.=) $1 AND location_id OPERATOR(pg_catalog.=) $2 "
					 "   AND slot OPERATOR(pg_catalog.=) 0",
					 2, types), values, NULL, 1);
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

static char *
InventoryBalanceJson(int64 product_id, int32 location_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2] = {Int64GetDatum(product_id), Int32GetDatum(location_id)};

	OmsQuery(OmsPlan(&plan,
					 "SELECT pg_catalog.json_build_object('sku', s.sku, 'location', s.location, 'on_hand', s.on_hand, "
					 "       'reserved', s.reserved, 'damaged', s.damaged, 'safety_stock', s.safety_stock, 'available', s.available)::text "
					 "  FROM oms.stock_levels s, oms.products p, oms.locations l "
					 " WHERE p.id OPERATOR(pg_catalog.=) $1 AND l.id OPERATOR(pg_catalog.=) $2 "
					 "   AND s.sku OPERATOR(pg_catalog.=) p.sku AND s.location OPERATOR(pg_catalog.=) l.code",
					 2, types), values, NULL, 1);
	if (SPI_processed == 0)
		return pstrdup("null");
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

static Datum
InventoryJsonbFromCString(const char *s)
{
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(s));
}

/* Insert one movement (balance already changed under the write permission). */
void
InventoryMovement(int64 product_id, int32 location_id, const char *kind,
				  int32 on_hand_delta, int32 reserved_delta, int32 damaged_delta,
				  int32 safety_delta, const char *reference)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[8] = {INT8OID, INT4OID, TEXTOID, INT4OID, INT4OID, INT4OID, INT4OID, TEXTOID};
	Datum		values[8];
	char		nulls[8] = "        ";

	values[0] = Int64GetDatum(product_id);
	values[1] = Int32GetDatum(location_id);
	values[2] = CStringGetTextDatum(kind);
	values[3] = Int32GetDatum(on_hand_delta);
	values[4] = Int32GetDatum(reserved_delta);
	values[5] = Int32GetDatum(damaged_delta);
	values[6] = Int32GetDatum(safety_delta);
	if (reference)
		values[7] = CStringGetTextDatum(reference);
	else
		nulls[7] = 'n';
	OmsExec(OmsPlan(&plan,
					"INSERT INTO oms.stock_movements (product_id, location_id, kind, on_hand_delta, "
					"       reserved_delta, damaged_delta, safety_stock_delta, reference) "
					"VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
					8, types), values, nulls, 0);
}

/* ---- the balance primitives every area reserves through ---- */

/* Give back units reserved by this call (rows are locked by us). */
void
InventoryUnreserve(int64 product_id, int32 location_id, int32 qty)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {INT8OID, INT4OID, INT4OID};
	Datum		values[3] = {Int64GetDatum(product_id), Int32GetDatum(location_id), Int32GetDatum(qty)};

	OmsExec(OmsPlan(&plan,
					"UPDATE oms.stock_balances SET reserved = reserved OPERATOR(pg_catalog.-) $3 "
					" WHERE product_id OPERATOR(pg_catalog.=) $1 AND location_id OPERATOR(pg_catalog.=) $2 "
					"   AND slot OPERATOR(pg_catalog.=) 0",
					3, types), values, NULL, 0);
}

/* Guarded reserve of exactly qty; false when the stock is not there. */
bool
InventoryReserve(int64 product_id, int32 location_id, int32 qty)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {INT8OID, INT4OID, INT4OID};
	Datum		values[3] = {Int64GetDatum(product_id), Int32GetDatum(location_id), Int32GetDatum(qty)};

	OmsExec(OmsPlan(&plan,
					"UPDATE oms.stock_balances SET reserved = reserved OPERATOR(pg_catalog.+) $3 "
					" WHERE product_id OPERATOR(pg_catalog.=) $1 AND location_id OPERATOR(pg_catalog.=) $2 "
					"   AND slot OPERATOR(pg_catalog.=) 0 "
					"   AND on_hand OPERATOR(pg_catalog.-) reserved OPERATOR(pg_catalog.-) safety_stock OPERATOR(pg_catalog.>=) $3",
					3, types), values, NULL, 0);
	return SPI_processed == 1;
}

/*
 * Shipping: take qty units of a reservation off reserved and on_hand, with
 * the movement (kind shipment) that names the order and the reservation.
 * The caller holds the order and takes balance rows in ascending order.
 */
void
InventoryShip(int64 product_id, int32 location_id, int32 qty, int64 order_id,
			  int64 reservation_id, const char *reference)
{
	static SPIPlanPtr plan_balance = NULL;
	static SPIPlanPtr plan_movement = NULL;
	Oid			types[6] = {INT8OID, INT4OID, INT4OID, INT8OID, INT8OID, TEXTOID};
	Datum		values[6];

	values[0] = Int64GetDatum(product_id);
	values[1] = Int32GetDatum(location_id);
	values[2] = Int32GetDatum(qty);
	values[3] = Int64GetDatum(order_id);
	values[4] = Int64GetDatum(reservation_id);
	values[5] = CStringGetTextDatum(reference);
	OmsExec(OmsPlan(&plan_balance,
					"UPDATE oms.stock_balances SET on_hand = on_hand OPERATOR(pg_catalog.-) $3, "
					"       reserved = reserved OPERATOR(pg_catalog.-) $3, updated_at = pg_catalog.now() "
					" WHERE product_id OPERATOR(pg_catalog.=) $1 AND location_id OPERATOR(pg_catalog.=) $2 "
					"   AND slot OPERATOR(pg_catalog.=) 0 AND reserved OPERATOR(pg_catalog.>=) $3",
					3, types), values, NULL, 0);
	if (SPI_processed != 1)
		elog(ERROR, "oms: shipped units of product " INT64_FORMAT " at location %d were not reserved",
			 product_id, location_id);
	OmsExec(OmsPlan(&plan_movement,
					"INSERT INTO oms.stock_movements (product_id, location_id, kind, on_hand_delta, reserved_delta, "
					"       order_id, reservation_id, reference) "
					"VALUES ($1, $2, 'shipment', OPERATOR(pg_catalog.-) $3, OPERATOR(pg_catalog.-) $3, $4, $5, $6)",
					6, types), values, NULL, 0);
}

/*
 * A location reports that units are not there (the count was wrong):
 * write off up to qty of its unreserved units (kind adjustment). Returns
 * the units written off.
 */
int32
InventoryWriteOff(int64 product_id, int32 location_id, int32 qty, const char *reference)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {INT8OID, INT4OID, INT4OID};
	Datum		values[3];
	int32		on_hand,
				reserved,
				safety,
				take;

	if (!InventoryLockBalance(product_id, location_id, false, &on_hand, &reserved, &safety))
		return 0;
	take = Min(qty, on_hand - reserved);
	if (take <= 0)
		return 0;
	values[0] = Int64GetDatum(product_id);
	values[1] = Int32GetDatum(location_id);
	values[2] = Int32GetDatum(take);
	OmsExec(OmsPlan(&plan,
					"UPDATE oms.stock_balances SET on_hand = on_hand OPERATOR(pg_catalog.-) $3, updated_at = pg_catalog.now() "
					" WHERE product_id OPERATOR(pg_catalog.=) $1 AND location_id OPERATOR(pg_catalog.=) $2 "
					"   AND slot OPERATOR(pg_catalog.=) 0",
					3, types), values, NULL, 0);
	InventoryMovement(product_id, location_id, "adjustment", -take, 0, 0, 0, reference);
	return take;
}

/*
 * Returned units arrive at a location: on_hand up (sellable) or damaged up,
 * with the movement (kind return_restock or return_damaged) naming the
 * order. The balance row is created when the location never held the
 * product. The caller takes balance rows in ascending order.
 */
void
InventoryReturn(int64 product_id, int32 location_id, int32 qty, bool damaged,
				int64 order_id, const char *reference)
{
	static SPIPlanPtr plan_restock = NULL;
	static SPIPlanPtr plan_damaged = NULL;
	static SPIPlanPtr plan_movement = NULL;
	Oid			types[6] = {INT8OID, INT4OID, INT4OID, INT8OID, TEXTOID, BOOLOID};
	Datum		values[6];
	int32		on_hand,
				reserved,
				safety;

	if (!InventoryLockBalance(product_id, location_id, true, &on_hand, &reserved, &safety))
		elog(ERROR, "oms: balance row missing after creation");
	values[0] = Int64GetDatum(product_id);
	values[1] = Int32GetDatum(location_id);
	values[2] = Int32GetDatum(qty);
	values[3] = Int64GetDatum(order_id);
	values[4] = CStringGetTextDatum(reference);
	values[5] = BoolGetDatum(damaged);
	if (damaged)
		OmsExec(OmsPlan(&plan_damaged,
						"UPDATE oms.stock_balances SET damaged = damaged OPERATOR(pg_catalog.+) $3, updated_at = pg_catalog.now() "
						" WHERE product_id OPERATOR(pg_catalog.=) $1 AND location_id OPERATOR(pg_catalog.=) $2 "
						"   AND slot OPERATOR(pg_catalog.=) 0",
						3, types), values, NULL, 0);
	else
		OmsExec(OmsPlan(&plan_restock,
						"UPDATE oms.stock_balances SET on_hand = on_hand OPERATOR(pg_catalog.+) $3, updated_at = pg_catalog.now() "
						" WHERE product_id OPERATOR(pg_catalog.=) $1 AND location_id OPERATOR(pg_catalog.=) $2 "
						"   AND slot OPERATOR(pg_catalog.=) 0",
						3, types), values, NULL, 0);
	OmsExec(OmsPlan(&plan_movement,
					"INSERT INTO oms.stock_movements (product_id, location_id, kind, on_hand_delta, damaged_delta, order_id, reference) "
					"VALUES ($1, $2, CASE WHEN $6 THEN 'return_damaged' ELSE 'return_restock' END, "
					"        CASE WHEN $6 THEN 0 ELSE $3 END, CASE WHEN $6 THEN $3 ELSE 0 END, $4, $5)",
					6, types), values, NULL, 0);
}

/* ---- low stock ---- */

/* set by the purchasing area (a higher layer) when it is loaded */
InventoryProductsHook InventoryLowStockHook = NULL;

/*
 * Emit low_stock for each product whose available total over active
 * locations has just crossed its reorder point downwards: after the
 * decreases given (units of availability taken), available <= reorder_point
 * while available + decrease > reorder_point. One statement finds the lot;
 * each event then takes the one path of every event, EventsEmit(), so that
 * NOTIFY (oms.notify_events) applies to it like to any other. The payloads
 * are copied out first: EventsEmit runs its own SPI statement.
 */
void
InventoryLowStock(int64 *product_ids, int32 *decreases, int n)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8ARRAYOID, INT4ARRAYOID};
	Datum		values[2];
	char	  **payloads;
	int64	   *crossed;
	int			nevents;
	int			i;

	if (n == 0)
		return;
	values[0] = PointerGetDatum(OmsInt8Array(product_ids, n));
	values[1] = PointerGetDatum(OmsInt4Array(decreases, n));
	OmsQuery(OmsPlan(&plan,
					 "SELECT pg_catalog.jsonb_build_object('sku', p.sku, 'available', s.avail, "
					 "       'reorder_point', p.reorder_point, 'reorder_qty', p.reorder_qty)::pg_catalog.text, p.id "
					 "  FROM (SELECT pid, pg_catalog.sum(dec) AS dec FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) AS x(pid, dec) "
					 "         GROUP BY pid) d "
					 "  JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) d.pid "
					 " CROSS JOIN LATERAL (SELECT COALESCE(pg_catalog.sum(b.on_hand OPERATOR(pg_catalog.-) b.reserved "
					 "                     OPERATOR(pg_catalog.-) b.safety_stock), 0) AS avail "
					 "                       FROM oms.stock_balances b JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) b.location_id "
					 "                      WHERE b.product_id OPERATOR(pg_catalog.=) p.id AND l.active) s "
					 " WHERE p.reorder_point OPERATOR(pg_catalog.>) 0 AND s.avail OPERATOR(pg_catalog.<=) p.reorder_point "
					 "   AND (s.avail OPERATOR(pg_catalog.+) d.dec) OPERATOR(pg_catalog.>) p.reorder_point "
					 " ORDER BY p.id",
					 2, types), values, NULL, 0);
	nevents = (int) SPI_processed;
	if (nevents == 0)
		return;
	payloads = palloc(sizeof(char *) * nevents);
	crossed = palloc(sizeof(int64) * nevents);
	for (i = 0; i < nevents; i++)
	{
		payloads[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		crossed[i] = OmsGetInt64(i, 2, NULL);
	}
	for (i = 0; i < nevents; i++)
		EventsEmit("low_stock", 0, payloads[i]);
	/* purchasing may propose in this transaction (oms.propose_on_low_stock) */
	if (InventoryLowStockHook)
		InventoryLowStockHook(crossed, nevents);
}

/* ---- receive_stock ---- */

/*
 * A goods receipt: on_hand (or damaged) up by qty, with the movement (kind
 * receipt). The balance row is created when missing and stays locked. The
 * one receipt path of receive_stock and receive_purchase_order; the caller
 * fills backorders from sellable units afterwards.
 */
void
InventoryReceiveUnits(int64 product_id, int32 location_id, int32 qty, bool damaged,
					  const char *reference, const char *sku, const char *loc)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_damaged = NULL;
	Oid			types[3] = {INT8OID, INT4OID, INT4OID};
	Datum		values[3];

	values[0] = Int64GetDatum(product_id);
	values[1] = Int32GetDatum(location_id);
	values[2] = Int32GetDatum(qty);
	/*
	 * on_hand is an integer: a receipt that would take it past 2147483647
	 * is refused naming qty, not with the bare 22003 of the addition. The
	 * row stays locked by ON CONFLICT when the WHERE refuses it.
	 */
	if (damaged)
	{
		OmsExec(OmsPlan(&plan_damaged,
						"INSERT INTO oms.stock_balances AS b (product_id, location_id, damaged) VALUES ($1, $2, $3) "
						"ON CONFLICT (product_id, location_id, slot) DO UPDATE "
						"   SET damaged = b.damaged OPERATOR(pg_catalog.+) excluded.damaged, updated_at = pg_catalog.now() "
						" WHERE b.damaged OPERATOR(pg_catalog.<=) (2147483647 OPERATOR(pg_catalog.-) excluded.damaged) "
						"RETURNING damaged",
						3, types), values, NULL, 0);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("qty %d would take the damaged stock of %s at %s past 2147483647 units", qty, sku, loc),
					 errdetail("A balance holds at most 2147483647 damaged units."),
					 errhint("Check the quantity received; it counts units, not cases or grams.")));
		InventoryMovement(product_id, location_id, "receipt", 0, 0, qty, 0, reference);
		return;
	}
	OmsExec(OmsPlan(&plan,
					"INSERT INTO oms.stock_balances AS b (product_id, location_id, on_hand) VALUES ($1, $2, $3) "
					"ON CONFLICT (product_id, location_id, slot) DO UPDATE "
					"   SET on_hand = b.on_hand OPERATOR(pg_catalog.+) excluded.on_hand, updated_at = pg_catalog.now() "
					" WHERE b.on_hand OPERATOR(pg_catalog.<=) (2147483647 OPERATOR(pg_catalog.-) excluded.on_hand) "
					"RETURNING on_hand",
					3, types), values, NULL, 0);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("qty %d would take the stock of %s at %s past 2147483647 units", qty, sku, loc),
				 errdetail("on_hand is %s; a balance holds at most 2147483647 units.",
						   InventoryBalanceOnHand(product_id, location_id)),
				 errhint("Check the quantity received; it counts units, not cases or grams.")));
	InventoryMovement(product_id, location_id, "receipt", qty, 0, 0, 0, reference);
}

PG_FUNCTION_INFO_V1(receive_stock);
/*
 * oms.receive_stock(sku, location, qty, reference): book a goods receipt,
 * then fill waiting backorders from it.
 */
Datum
receive_stock(PG_FUNCTION_ARGS)
{
	char	   *sku;
	char	   *loc;
	int32		qty;
	char	   *reference = NULL;
	int64		product_id;
	int32		location_id;
	char	   *filled;
	char	   *balance;
	StringInfoData out;
	Datum		result;

	sku = OmsIdentifierArg(fcinfo, 0, "sku", OMS_MAX_SKU_CHARS);
	loc = OmsIdentifierArg(fcinfo, 1, "location", OMS_MAX_CODE_CHARS);
	OmsRequireArg(fcinfo, 2, "qty");
	qty = PG_GETARG_INT32(2);
	if (!PG_ARGISNULL(3))
		reference = text_to_cstring(PG_GETARG_TEXT_PP(3));
	InventoryCheckQty(qty, 1, "qty");
	OmsCheckFreeText(reference, "reference", OMS_MAX_REASON_CHARS);

	SPI_connect();
	product_id = InventoryCheckStockSku(sku);
	location_id = InventoryCheckLocation(loc);

	InventoryReceiveUnits(product_id, location_id, qty, false, reference, sku, loc);

	filled = InventoryFillBackorders(product_id, location_id);
	balance = InventoryBalanceJson(product_id, location_id);

	initStringInfo(&out);
	appendStringInfo(&out, "{\"received\": %d, \"balance\": %s, \"backorders_filled\": %s}",
					 qty, balance, filled);
	/* copy out of SPI's memory, which SPI_finish frees */
	result = SPI_datumTransfer(InventoryJsonbFromCString(out.data), false, -1);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/* ---- adjust_stock ---- */

/* Lock a balance row, creating it empty first when missing. */
static bool
InventoryLockBalance(int64 product_id, int32 location_id, bool create,
					 int32 *on_hand, int32 *reserved, int32 *safety)
{
	static SPIPlanPtr plan_lock = NULL;
	static SPIPlanPtr plan_create = NULL;
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2] = {Int64GetDatum(product_id), Int32GetDatum(location_id)};

	if (create)
		OmsExec(OmsPlan(&plan_create,
						"INSERT INTO oms.stock_balances (product_id, location_id) VALUES ($1, $2) "
						"ON CONFLICT (product_id, location_id, slot) DO NOTHING",
						2, types), values, NULL, 0);
	OmsQuery(OmsPlan(&plan_lock,
					 "SELECT on_hand, reserved, safety_stock FROM oms.stock_balances "
					 " WHERE product_id OPERATOR(pg_catalog.=) $1 AND location_id OPERATOR(pg_catalog.=) $2 "
					 "   AND slot OPERATOR(pg_catalog.=) 0 FOR UPDATE",
					 2, types), values, NULL, 1);
	if (SPI_processed == 0)
		return false;
	*on_hand = OmsGetInt32(0, 1, NULL);
	*reserved = OmsGetInt32(0, 2, NULL);
	*safety = OmsGetInt32(0, 3, NULL);
	return true;
}

/* Lock the row, then take what is there up to qty. Returns units taken. */
int32
InventoryReserveUpTo(int64 product_id, int32 location_id, int32 qty)
{
	int32		on_hand,
				reserved,
				safety;
	int32		take;

	if (!InventoryLockBalance(product_id, location_id, false, &on_hand, &reserved, &safety))
		return 0;
	take = Min(on_hand - reserved - safety, qty);
	if (take <= 0)
		return 0;
	if (!InventoryReserve(product_id, location_id, take))
		elog(ERROR, "oms: guarded reserve failed under lock for product " INT64_FORMAT, product_id);
	return take;
}

PG_FUNCTION_INFO_V1(adjust_stock);
/*
 * oms.adjust_stock(sku, location, counted_on_hand, reason): cycle count.
 */
Datum
adjust_stock(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {INT8OID, INT4OID, INT4OID};
	Datum		values[3];
	char	   *sku;
	char	   *loc;
	int32		counted;
	char	   *reason;
	int64		product_id;
	int32		location_id;
	int32		on_hand,
				reserved,
				safety;
	int32		delta;
	char	   *filled = "[]";
	StringInfoData out;
	Datum		result;

	sku = OmsIdentifierArg(fcinfo, 0, "sku", OMS_MAX_SKU_CHARS);
	loc = OmsIdentifierArg(fcinfo, 1, "location", OMS_MAX_CODE_CHARS);
	OmsRequireArg(fcinfo, 2, "counted_on_hand");
	OmsRequireArg(fcinfo, 3, "reason");
	counted = PG_GETARG_INT32(2);
	reason = text_to_cstring(PG_GETARG_TEXT_PP(3));
	InventoryCheckQty(counted, 0, "counted_on_hand");
	OmsCheckFreeText(reason, "reason", OMS_MAX_REASON_CHARS);
	if (strspn(reason, " \t\r\n") == strlen(reason))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("reason must not be empty"),
				 errdetail("Every stock adjustment is recorded with its reason."),
				 errhint("Say why the count differs, for example \"cycle count aisle 4\".")));

	SPI_connect();
	product_id = InventoryCheckStockSku(sku);
	location_id = InventoryCheckLocation(loc);
	InventoryLockBalance(product_id, location_id, true, &on_hand, &reserved, &safety);

	if (counted < reserved)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("counted quantity %d of \"%s\" at \"%s\" is below the %d units reserved",
						counted, sku, loc, reserved),
				 errdetail("Reserved units must stay on hand: 0 <= reserved <= on_hand."),
				 errhint("Cancel or reroute the orders holding this stock first, or recount.")));

	delta = counted - on_hand;
	if (delta != 0)
	{
		values[0] = Int64GetDatum(product_id);
		values[1] = Int32GetDatum(location_id);
		values[2] = Int32GetDatum(delta);
		OmsExec(OmsPlan(&plan,
						"UPDATE oms.stock_balances SET on_hand = on_hand OPERATOR(pg_catalog.+) $3, updated_at = pg_catalog.now() "
						" WHERE product_id OPERATOR(pg_catalog.=) $1 AND location_id OPERATOR(pg_catalog.=) $2 "
						"   AND slot OPERATOR(pg_catalog.=) 0",
						3, types), values, NULL, 0);
		InventoryMovement(product_id, location_id, "adjustment", delta, 0, 0, 0, reason);
		if (delta > 0)
			filled = InventoryFillBackorders(product_id, location_id);
		else
		{
			int32		dec = -delta;

			InventoryLowStock(&product_id, &dec, 1);
		}
	}

	initStringInfo(&out);
	appendStringInfo(&out, "{\"previous_on_hand\": %d, \"delta\": %d, \"balance\": %s, \"backorders_filled\": %s}",
					 on_hand, delta, InventoryBalanceJson(product_id, location_id), filled);
	/* copy out of SPI's memory, which SPI_finish frees */
	result = SPI_datumTransfer(InventoryJsonbFromCString(out.data), false, -1);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/* ---- set_safety_stock ---- */

PG_FUNCTION_INFO_V1(set_safety_stock);
/*
 * oms.set_safety_stock(sku, location, qty): units never reserved.
 */
Datum
set_safety_stock(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {INT8OID, INT4OID, INT4OID};
	Datum		values[3];
	char	   *sku;
	char	   *loc;
	int32		qty;
	int64		product_id;
	int32		location_id;
	int32		on_hand,
				reserved,
				safety;
	char	   *filled = "[]";
	StringInfoData out;
	Datum		result;

	sku = OmsIdentifierArg(fcinfo, 0, "sku", OMS_MAX_SKU_CHARS);
	loc = OmsIdentifierArg(fcinfo, 1, "location", OMS_MAX_CODE_CHARS);
	OmsRequireArg(fcinfo, 2, "qty");
	qty = PG_GETARG_INT32(2);
	InventoryCheckQty(qty, 0, "qty");

	SPI_connect();
	product_id = InventoryCheckStockSku(sku);
	location_id = InventoryCheckLocation(loc);
	InventoryLockBalance(product_id, location_id, true, &on_hand, &reserved, &safety);
	if (qty != safety)
	{
		values[0] = Int64GetDatum(product_id);
		values[1] = Int32GetDatum(location_id);
		values[2] = Int32GetDatum(qty);
		OmsExec(OmsPlan(&plan,
						"UPDATE oms.stock_balances SET safety_stock = $3, updated_at = pg_catalog.now() "
						" WHERE product_id OPERATOR(pg_catalog.=) $1 AND location_id OPERATOR(pg_catalog.=) $2 "
						"   AND slot OPERATOR(pg_catalog.=) 0",
						3, types), values, NULL, 0);
		InventoryMovement(product_id, location_id, "safety_stock", 0, 0, 0, qty - safety, NULL);
		if (qty > safety)
		{
			int32		dec = qty - safety;

			InventoryLowStock(&product_id, &dec, 1);
		}
		else
			filled = InventoryFillBackorders(product_id, location_id);	/* units freed */
	}
	initStringInfo(&out);
	appendStringInfo(&out, "{\"previous_safety_stock\": %d, \"balance\": %s, \"backorders_filled\": %s}",
					 safety, InventoryBalanceJson(product_id, location_id), filled);
	/* copy out of SPI's memory, which SPI_finish frees */
	result = SPI_datumTransfer(InventoryJsonbFromCString(out.data), false, -1);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/* ---- backorder filling ---- */

/*
 * Fill waiting backorders of product_id at location_id, VIP orders first
 * (customer or order flagged vip), then the oldest. An order takes part
 * when its status holds stock (order_statuses.holds_stock: a custom status
 * behaves by its row) and it is not on hold (held_from set: a held order
 * keeps its stock but is given no more until it is released). The caller
 * holds the balance row (product_id, location_id). Lines and their orders
 * are taken with SKIP LOCKED (the order row too: the reservation's foreign key and the
 * status update below would otherwise wait on an order that cancel_order or
 * expiry holds while it waits for this balance row), and so are the other
 * component rows of kit lines (see the banner).
 * Returns a JSON array of {order_id, line_no, qty}.
 */
char *
InventoryFillBackorders(int64 product_id, int32 location_id)
{
	static SPIPlanPtr plan_lines = NULL;
	static SPIPlanPtr plan_components = NULL;
	static SPIPlanPtr plan_lock_other = NULL;
	static SPIPlanPtr plan_book = NULL;
	static SPIPlanPtr plan_status = NULL;
	Oid			t2[2] = {INT8OID, INT4OID};
	Oid			tstatus[1] = {INT8ARRAYOID};
	Datum		values[5];
	StringInfoData out;
	int			nlines;
	int64	   *line_ids;
	int64	   *order_ids;
	int32	   *line_nos;
	int64	   *line_products;
	int32	   *backordered;
	bool	   *is_kit;
	int64	   *touched_orders;
	int			ntouched = 0;
	int			i;
	bool		first = true;

	initStringInfo(&out);
	appendStringInfoChar(&out, '[');

	values[0] = Int64GetDatum(product_id);
	values[1] = Int32GetDatum(location_id);
	OmsQuery(OmsPlan(&plan_lines,
					 "SELECT l.id, l.order_id, l.line_no, l.product_id, l.qty_backordered, "
					 "       p.kind OPERATOR(pg_catalog.=) 'kit' "
					 "  FROM oms.order_lines l "
					 "  JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) l.order_id "
					 "  JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) l.product_id "
					 "  JOIN oms.order_statuses s ON s.status OPERATOR(pg_catalog.=) o.status "
					 "  LEFT JOIN oms.customers c ON c.id OPERATOR(pg_catalog.=) o.customer_id "
					 " WHERE l.qty_backordered OPERATOR(pg_catalog.>) 0 "
					 "   AND s.holds_stock AND o.held_from IS NULL "
					 "   AND (l.product_id OPERATOR(pg_catalog.=) $1 OR l.product_id IN "
					 "        (SELECT kit_id FROM oms.kit_components WHERE component_id OPERATOR(pg_catalog.=) $1)) "
					 "   AND NOT EXISTS (SELECT FROM oms.fulfillment_rejections fr "
					 "                    WHERE fr.order_id OPERATOR(pg_catalog.=) o.id AND fr.location_id OPERATOR(pg_catalog.=) $2) "
					 " ORDER BY ('vip' OPERATOR(pg_catalog.=) ANY (o.flags) OR 'vip' OPERATOR(pg_catalog.=) ANY (COALESCE(c.flags, '{}'))) DESC, "
					 "          o.placed_at, o.id, l.line_no "
					 "   FOR NO KEY UPDATE OF l, o SKIP LOCKED",
					 2, t2), values, NULL, 0);
	nlines = (int) SPI_processed;
	if (nlines == 0)
	{
		appendStringInfoChar(&out, ']');
		return out.data;
	}
	line_ids = palloc(sizeof(int64) * nlines);
	order_ids = palloc(sizeof(int64) * nlines);
	line_nos = palloc(sizeof(int32) * nlines);
	line_products = palloc(sizeof(int64) * nlines);
	backordered = palloc(sizeof(int32) * nlines);
	is_kit = palloc(sizeof(bool) * nlines);
	touched_orders = palloc(sizeof(int64) * nlines);
	for (i = 0; i < nlines; i++)
	{
		line_ids[i] = OmsGetInt64(i, 1, NULL);
		order_ids[i] = OmsGetInt64(i, 2, NULL);
		line_nos[i] = OmsGetInt32(i, 3, NULL);
		line_products[i] = OmsGetInt64(i, 4, NULL);
		backordered[i] = OmsGetInt32(i, 5, NULL);
		is_kit[i] = DatumGetBool(OmsGetDatum(i, 6, NULL));
	}

	for (i = 0; i < nlines; i++)
	{
		int			ncomp;
		int64	   *comp = NULL;
		int32	   *comp_qty = NULL;
		int32		units;
		int			c;
		bool		ok = true;

		/* components of this line: itself for a stock line */
		if (is_kit[i])
		{
			values[0] = Int64GetDatum(line_products[i]);
			OmsQuery(OmsPlan(&plan_components,
							 "SELECT component_id, qty FROM oms.kit_components WHERE kit_id OPERATOR(pg_catalog.=) $1 "
							 " ORDER BY component_id",
							 1, t2), values, NULL, 0);
			ncomp = (int) SPI_processed;
			comp = palloc(sizeof(int64) * ncomp);
			comp_qty = palloc(sizeof(int32) * ncomp);
			for (c = 0; c < ncomp; c++)
			{
				comp[c] = OmsGetInt64(c, 1, NULL);
				comp_qty[c] = OmsGetInt32(c, 2, NULL);
			}
		}
		else
		{
			ncomp = 1;
			comp = palloc(sizeof(int64));
			comp_qty = palloc(sizeof(int32));
			comp[0] = product_id;
			comp_qty[0] = 1;
		}

		/* lock every component row at this location; units = what fits */
		units = backordered[i];
		for (c = 0; c < ncomp && ok; c++)
		{
			int32		avail;

			values[0] = Int64GetDatum(comp[c]);
			values[1] = Int32GetDatum(location_id);
			OmsQuery(OmsPlan(&plan_lock_other,
							 "SELECT on_hand OPERATOR(pg_catalog.-) reserved OPERATOR(pg_catalog.-) safety_stock "
							 "  FROM oms.stock_balances WHERE product_id OPERATOR(pg_catalog.=) $1 "
							 "   AND location_id OPERATOR(pg_catalog.=) $2 AND slot OPERATOR(pg_catalog.=) 0 "
							 "   FOR UPDATE SKIP LOCKED",
							 2, t2), values, NULL, 1);
			if (SPI_processed == 0)
			{
				ok = false;
				break;
			}
			avail = OmsGetInt32(0, 1, NULL);
			if (avail / comp_qty[c] < units)
				units = avail / comp_qty[c];
		}
		if (!ok || units <= 0)
			continue;

		/* reserve under the locks just taken, then book */
		for (c = 0; c < ncomp; c++)
		{
			values[0] = Int64GetDatum(comp[c]);
			values[1] = Int32GetDatum(location_id);
			values[2] = Int32GetDatum(units * comp_qty[c]);
			if (!InventoryReserve(comp[c], location_id, units * comp_qty[c]))
				elog(ERROR, "oms: guarded reserve failed under lock for product " INT64_FORMAT, comp[c]);

			{
				static SPIPlanPtr plan_res = NULL;
				Oid			tres[5] = {INT8OID, INT8OID, INT8OID, INT4OID, INT4OID};
				Datum		rv[5];

				rv[0] = Int64GetDatum(order_ids[i]);
				rv[1] = Int64GetDatum(line_ids[i]);
				rv[2] = Int64GetDatum(comp[c]);
				rv[3] = Int32GetDatum(location_id);
				rv[4] = Int32GetDatum(units * comp_qty[c]);
				OmsExec(OmsPlan(&plan_res,
								"WITH r AS (INSERT INTO oms.reservations (order_id, order_line_id, product_id, location_id, qty) "
								"           VALUES ($1, $2, $3, $4, $5) RETURNING id, order_id, product_id, location_id, qty) "
								"INSERT INTO oms.stock_movements (product_id, location_id, kind, reserved_delta, order_id, reservation_id, reference) "
								"SELECT product_id, location_id, 'reservation', qty, order_id, id, 'backorder fill' FROM r",
								5, tres), rv, NULL, 0);
			}
		}
		values[0] = Int64GetDatum(line_ids[i]);
		values[1] = Int32GetDatum(units);
		OmsExec(OmsPlan(&plan_book,
						"UPDATE oms.order_lines SET qty_reserved = qty_reserved OPERATOR(pg_catalog.+) $2, "
						"       qty_backordered = qty_backordered OPERATOR(pg_catalog.-) $2 "
						" WHERE id OPERATOR(pg_catalog.=) $1",
						2, t2), values, NULL, 0);

		touched_orders[ntouched++] = order_ids[i];
		appendStringInfo(&out, "%s{\"order_id\": " INT64_FORMAT ", \"line_no\": %d, \"qty\": %d}",
						 first ? "" : ", ", order_ids[i], line_nos[i], units);
		EventsEmit("backorder_filled", order_ids[i],
				   psprintf("{\"line_no\": %d, \"qty\": %d, \"location_id\": %d}", line_nos[i], units, location_id));
		first = false;
	}

	/* orders with nothing left waiting are no longer backordered */
	if (ntouched > 0)
	{
		values[0] = PointerGetDatum(OmsInt8Array(touched_orders, ntouched));
		LifecycleSetReason("backorders filled");
		OmsExec(OmsPlan(&plan_status,
						"UPDATE oms.orders o SET status = 'pending_payment', updated_at = pg_catalog.now() "
						" WHERE o.id OPERATOR(pg_catalog.=) ANY ($1) AND o.status OPERATOR(pg_catalog.=) 'backordered' "
						"   AND NOT EXISTS (SELECT FROM oms.order_lines l WHERE l.order_id OPERATOR(pg_catalog.=) o.id "
						"                   AND l.qty_backordered OPERATOR(pg_catalog.>) 0)",
						1, tstatus), values, NULL, 0);
		LifecycleSetReason(NULL);
	}

	appendStringInfoChar(&out, ']');
	return out.data;
}
