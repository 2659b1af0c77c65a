/*-------------------------------------------------------------------------
 *
 * stock_hot.c
 *	  Hot products (flash sales): the available stock of one (product,
 *	  location) spread over several rows of oms.stock_balances, its slots,
 *	  so that buyers of the same SKU stop queueing on one row lock.
 *
 *	  The slots
 *	  ---------
 *	  A balance is the sum of its slot rows (slot 0 to 63, the third column
 *	  of the key). Slot 0 always exists and keeps the damaged units and the
 *	  safety stock (a CHECK refuses them elsewhere); receipts, counts,
 *	  returns and write-offs work on slot 0. Every slot holds sellable units
 *	  and its own reservations: a reservation row names the slot it was
 *	  taken from, and its release or shipment changes that slot. The ledger
 *	  (oms.stock_movements, with its slot column) stays the truth per slot;
 *	  moving units between slots is a pair of movements of kind rebalance.
 *	  oms.hot_balances says which balances are spread and over how many
 *	  slots; whether a reservation takes the slotted way is a matter of the
 *	  data, not of that setting: a balance takes it while a slot above 0
 *	  holds free units (routing reads that flag with the balances), so a
 *	  product that was hot keeps selling its last slotted units after the
 *	  mode is turned off.
 *
 *	  Reserving a hot balance (InventoryReserveHot)
 *	  ---------------------------------------------
 *	  1. One slot that can cover the quantity, in random order, FOR UPDATE
 *	     SKIP LOCKED: a busy slot is passed over, never waited for. These
 *	     locks never wait, so they cannot close a deadlock cycle.
 *	  2. Only when that finds nothing (every slot with the quantity is
 *	     locked, or no slot holds it whole): walk the slots in ascending
 *	     order, waiting for each slot that has free units and taking what
 *	     it has, one statement per slot so that each sees the newest
 *	     committed numbers. Waits happen in (product, location, slot)
 *	     order, the global lock order.
 *	  3. Before answering "short", a fresh read of the committed free units
 *	     of every slot: units that arrived in a slot the walk had already
 *	     passed (a rebalance or a receipt that committed meanwhile) send the
 *	     walk round again. So a hot product never reports sold out while a
 *	     committed free unit remains.
 *	  Step 1 and each round of the walk run in a subtransaction that is
 *	  rolled back when it comes up short. A row that FOR UPDATE locked and
 *	  then skipped (its newest version no longer had the units: SKIP LOCKED
 *	  and the walk both re-check after locking) stays locked; a next round
 *	  that starts again at slot 0 would then wait for a lower slot while
 *	  holding a higher one, against the lock order (the storm test found
 *	  exactly that deadlock). Rolling the short round back drops those
 *	  locks. The price is one subtransaction per hot reservation.
 *
 *	  Rebalancing (InventorySpread) locks the slots it changes with SKIP
 *	  LOCKED in ascending order, so it never waits for a buyer and buyers
 *	  never wait for it for longer than one short statement; the units of
 *	  busy slots simply stay where they are until the next rebalance.
 *	  Operations that need every free unit in one place (a count, a
 *	  write-off, safety stock, damage) first gather the free units of the
 *	  slots above 0 into slot 0 under locks taken in ascending order
 *	  (InventoryGatherSlots), after locking slot 0.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "oms.h"

/* one movement of one slot (the balance already changed) */
static void
HotMovement(int64 product_id, int32 location_id, int32 slot, const char *kind,
			int32 on_hand_delta, const char *reference)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[6] = {INT8OID, INT4OID, INT4OID, TEXTOID, INT4OID, TEXTOID};
	Datum		values[6];
	char		nulls[6] = "      ";

	values[0] = Int64GetDatum(product_id);
	values[1] = Int32GetDatum(location_id);
	values[2] = Int32GetDatum(slot);
	values[3] = CStringGetTextDatum(kind);
	values[4] = Int32GetDatum(on_hand_delta);
	if (reference)
		values[5] = CStringGetTextDatum(reference);
	else
		nulls[5] = 'n';
	OmsExec(OmsPlan(&plan,
					"INSERT INTO oms.stock_movements (product_id, location_id, slot, kind, on_hand_delta, reference) "
					"VALUES ($1, $2, $3::pg_catalog.int2, $4, $5, $6)",
					6, types), values, nulls, 0);
}

/* on_hand of one slot up or down by delta (locked by the caller), with its movement */
static void
HotMoveUnits(int64 product_id, int32 location_id, int32 slot, int32 delta, const char *reference)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[4] = {INT8OID, INT4OID, INT4OID, INT4OID};
	Datum		values[4];

	if (delta == 0)
		return;
	values[0] = Int64GetDatum(product_id);
	values[1] = Int32GetDatum(location_id);
	values[2] = Int32GetDatum(slot);
	values[3] = Int32GetDatum(delta);
	OmsExec(OmsPlan(&plan,
					"UPDATE oms.stock_balances SET on_hand = on_hand OPERATOR(pg_catalog.+) $4, updated_at = pg_catalog.now() "
					" WHERE product_id OPERATOR(pg_catalog.=) $1 AND location_id OPERATOR(pg_catalog.=) $2 "
					"   AND slot OPERATOR(pg_catalog.=) $3",
					4, types), values, NULL, 0);
	if (SPI_processed != 1)
		elog(ERROR, "oms: slot %d of product " INT64_FORMAT " at location %d is missing", slot, product_id, location_id);
	HotMovement(product_id, location_id, slot, "rebalance", delta, reference);
}

/* guarded reserve of qty on one slot (locked by this transaction) */
static bool
HotReserveSlot(int64 product_id, int32 location_id, int32 slot, int32 qty)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[4] = {INT8OID, INT4OID, INT4OID, INT4OID};
	Datum		values[4];

	values[0] = Int64GetDatum(product_id);
	values[1] = Int32GetDatum(location_id);
	values[2] = Int32GetDatum(slot);
	values[3] = Int32GetDatum(qty);
	OmsExec(OmsPlan(&plan,
					"UPDATE oms.stock_balances SET reserved = reserved OPERATOR(pg_catalog.+) $4 "
					" WHERE product_id OPERATOR(pg_catalog.=) $1 AND location_id OPERATOR(pg_catalog.=) $2 "
					"   AND slot OPERATOR(pg_catalog.=) $3 "
					"   AND on_hand OPERATOR(pg_catalog.-) reserved OPERATOR(pg_catalog.-) safety_stock OPERATOR(pg_catalog.>=) $4",
					4, types), values, NULL, 0);
	return SPI_processed == 1;
}

/* committed free units over every slot (a fresh snapshot, no lock) */
static int64
HotCommittedFree(int64 product_id, int32 location_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2] = {Int64GetDatum(product_id), Int32GetDatum(location_id)};

	OmsQuery(OmsPlan(&plan,
					 "SELECT COALESCE(pg_catalog.sum(pg_catalog.int4larger(on_hand OPERATOR(pg_catalog.-) reserved "
					 "       OPERATOR(pg_catalog.-) safety_stock, 0)), 0)::int8 "
					 "  FROM oms.stock_balances "
					 " WHERE product_id OPERATOR(pg_catalog.=) $1 AND location_id OPERATOR(pg_catalog.=) $2",
					 2, types), values, NULL, 1);
	return OmsGetInt64(0, 1, NULL);
}

#define HOT_WALK_ROUNDS		8

static void HotAddTake(InventorySlotTake *out, int *nout, int32 slot, int32 qty);

/*
 * Step 1: one slot that has all of qty, in random order, FOR UPDATE SKIP
 * LOCKED (never waiting). The slot taken, or -1. A row whose newest
 * version no longer qualifies stays locked when it is skipped: the caller
 * runs this in a subtransaction and rolls it back when it finds nothing.
 */
static int32
HotReserveAny(int64 product_id, int32 location_id, int32 qty)
{
	static SPIPlanPtr plan_any = NULL;
	Oid			types[3] = {INT8OID, INT4OID, INT4OID};
	Datum		values[3];

	values[0] = Int64GetDatum(product_id);
	values[1] = Int32GetDatum(location_id);
	values[2] = Int32GetDatum(qty);
	OmsExec(OmsPlan(&plan_any,
					"UPDATE oms.stock_balances b SET reserved = b.reserved OPERATOR(pg_catalog.+) $3 "
					" WHERE b.product_id OPERATOR(pg_catalog.=) $1 AND b.location_id OPERATOR(pg_catalog.=) $2 "
					/* an uncorrelated subquery: one initplan, run once (in a join it could be rescanned) */
					"   AND b.slot OPERATOR(pg_catalog.=) "
					"       (SELECT s.slot FROM oms.stock_balances s "
					"         WHERE s.product_id OPERATOR(pg_catalog.=) $1 AND s.location_id OPERATOR(pg_catalog.=) $2 "
					"           AND s.on_hand OPERATOR(pg_catalog.-) s.reserved OPERATOR(pg_catalog.-) s.safety_stock OPERATOR(pg_catalog.>=) $3 "
					"         ORDER BY pg_catalog.random() LIMIT 1 FOR UPDATE SKIP LOCKED) "
					"   AND b.on_hand OPERATOR(pg_catalog.-) b.reserved OPERATOR(pg_catalog.-) b.safety_stock OPERATOR(pg_catalog.>=) $3 "
					"RETURNING b.slot::int4",
					3, types), values, NULL, 0);
	return SPI_processed == 1 ? OmsGetInt32(0, 1, NULL) : -1;
}

/* one ascending walk: wait for each slot with free units, take up to want; units taken */
static int32
HotWalk(int64 product_id, int32 location_id, int32 want, InventorySlotTake *out, int *nout)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {INT8OID, INT4OID, INT4OID};
	Datum		values[3];
	int32		from = 0;
	int32		got = 0;

	values[0] = Int64GetDatum(product_id);
	values[1] = Int32GetDatum(location_id);
	while (got < want)
	{
		int32		slot,
					free_units,
					take;

		values[2] = Int32GetDatum(from);
		OmsQuery(OmsPlan(&plan,
						 "SELECT slot::int4, on_hand OPERATOR(pg_catalog.-) reserved OPERATOR(pg_catalog.-) safety_stock "
						 "  FROM oms.stock_balances "
						 " WHERE product_id OPERATOR(pg_catalog.=) $1 AND location_id OPERATOR(pg_catalog.=) $2 "
						 "   AND slot OPERATOR(pg_catalog.>=) $3 "
						 "   AND on_hand OPERATOR(pg_catalog.-) reserved OPERATOR(pg_catalog.-) safety_stock OPERATOR(pg_catalog.>) 0 "
						 " ORDER BY slot LIMIT 1 FOR UPDATE",
						 3, types), values, NULL, 1);
		if (SPI_processed == 0)
			break;
		slot = OmsGetInt32(0, 1, NULL);
		free_units = OmsGetInt32(0, 2, NULL);
		take = Min(free_units, want - got);
		if (!HotReserveSlot(product_id, location_id, slot, take))
			elog(ERROR, "oms: guarded reserve failed under lock for product " INT64_FORMAT " slot %d",
				 product_id, slot);
		HotAddTake(out, nout, slot, take);
		got += take;
		from = slot + 1;
	}
	return got;
}

/*
 * One round in a subtransaction: the first also tries step 1. Returns the
 * units to report (kept), or -1 when the round was rolled back, with every
 * lock it took, and another should run.
 */
static int32
HotWalkRound(int64 product_id, int32 location_id, int32 qty, bool exact, bool first, bool last,
			 InventorySlotTake *out, int *nout)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	InventorySlotTake takes[INVENTORY_MAX_SLOTS];
	int			ntakes = 0;
	volatile int32 result = -1;
	int			i;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		int32		slot = first ? HotReserveAny(product_id, location_id, qty) : -1;

		if (slot >= 0)
		{
			HotAddTake(takes, &ntakes, slot, qty);
			result = qty;
		}
		else if (first && exact && HotCommittedFree(product_id, location_id) < qty)
			result = 0;			/* not there even before any wait: short */
		else
		{
			int32		got = HotWalk(product_id, location_id, qty, takes, &ntakes);

			if (got == qty)
				result = got;
			else if (last || HotCommittedFree(product_id, location_id) == 0)
				result = exact ? 0 : got;	/* really short */
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		ReThrowError(edata);
	}
	PG_END_TRY();
	if (result > 0)
		ReleaseCurrentSubTransaction();
	else
		RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(oldcontext);
	CurrentResourceOwner = oldowner;
	if (result > 0)
		for (i = 0; i < ntakes; i++)
			HotAddTake(out, nout, takes[i].slot, takes[i].qty);
	return result;
}

static void
HotAddTake(InventorySlotTake *out, int *nout, int32 slot, int32 qty)
{
	int			i;

	for (i = 0; i < *nout; i++)
		if (out[i].slot == slot)
		{
			out[i].qty += qty;
			return;
		}
	out[*nout].slot = slot;
	out[*nout].qty = qty;
	(*nout)++;
}

/*
 * Reserve qty units of a hot balance (see the banner). exact: all of qty
 * or report short (the caller rolls back what was taken, its
 * subtransaction); otherwise what there is, up to qty. out (at least
 * INVENTORY_MAX_SLOTS long) receives the units per slot. Returns the units
 * taken.
 */
int32
InventoryReserveHot(int64 product_id, int32 location_id, int32 qty, bool exact,
					InventorySlotTake *out, int *nout)
{
	int			round;

	*nout = 0;

	/*
	 * 2. and 3. the waiting walk in ascending slot order, each round in a
	 * subtransaction: a round that comes up short while the committed
	 * numbers still show free units (they moved into a slot it had passed)
	 * is rolled back, which also drops the locks it took, so that the next
	 * round, which starts again at slot 0, waits only while holding
	 * nothing of this balance: the lock order stays ascending.
	 */
	for (round = 0; round < HOT_WALK_ROUNDS; round++)
	{
		int32		got = HotWalkRound(product_id, location_id, qty, exact, round == 0,
									   round == HOT_WALK_ROUNDS - 1, out, nout);

		if (got >= 0)
			return got;
	}
	return 0;					/* not reached */
}

/*
 * Gather the free units of the slots above 0 into slot 0, whose row the
 * caller has locked; the slots are locked in ascending order. Afterwards
 * every free unit of the balance is on slot 0. Returns the on_hand and
 * reserved units the other slots held before (slot 0's numbers read
 * before this call plus these are the balance's totals).
 */
void
InventoryGatherSlots(int64 product_id, int32 location_id, int32 *on_hand_other, int32 *reserved_other)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2] = {Int64GetDatum(product_id), Int32GetDatum(location_id)};
	int32	   *slots;
	int32	   *frees;
	int			n,
				i;
	int32		moved = 0;

	*on_hand_other = 0;
	*reserved_other = 0;
	OmsQuery(OmsPlan(&plan,
					 "SELECT slot::int4, on_hand, reserved FROM oms.stock_balances "
					 " WHERE product_id OPERATOR(pg_catalog.=) $1 AND location_id OPERATOR(pg_catalog.=) $2 "
					 "   AND slot OPERATOR(pg_catalog.>) 0 "
					 " ORDER BY slot FOR UPDATE",
					 2, types), values, NULL, 0);
	n = (int) SPI_processed;
	if (n == 0)
		return;
	slots = palloc(sizeof(int32) * n);
	frees = palloc(sizeof(int32) * n);
	for (i = 0; i < n; i++)
	{
		int32		on_hand = OmsGetInt32(i, 2, NULL);
		int32		reserved = OmsGetInt32(i, 3, NULL);

		slots[i] = OmsGetInt32(i, 1, NULL);
		frees[i] = on_hand - reserved;
		*on_hand_other += on_hand;	/* before the gathering: the caller read slot 0 before it too */
		*reserved_other += reserved;
	}
	for (i = 0; i < n; i++)
		if (frees[i] > 0)
		{
			HotMoveUnits(product_id, location_id, slots[i], -frees[i], "gathered into slot 0");
			moved += frees[i];
		}
	if (moved > 0)
		HotMoveUnits(product_id, location_id, 0, moved, "gathered into slot 0");
}

/*
 * Spread the free units of a balance evenly over slots 0 .. nslots - 1
 * (nslots 1: fold every free unit back into slot 0). Missing slot rows are
 * created (only the missing ones: a conflict check on an existing row would
 * wait for a buyer holding it). wait: lock every slot (ascending) and wait
 * for busy ones; else SKIP LOCKED, and busy slots keep their units.
 * Returns the units moved.
 */
int64
InventorySpread(int64 product_id, int32 location_id, int32 nslots, bool wait)
{
	static SPIPlanPtr plan_create = NULL;
	static SPIPlanPtr plan_wait = NULL;
	static SPIPlanPtr plan_skip = NULL;
	Oid			types[3] = {INT8OID, INT4OID, INT4OID};
	Datum		values[3];
	int32	   *slots;
	int32	   *frees;
	int32	   *targets;
	int64		total = 0;
	int64		moved = 0;
	int			n,
				i,
				k,
				inside = 0;

	values[0] = Int64GetDatum(product_id);
	values[1] = Int32GetDatum(location_id);
	values[2] = Int32GetDatum(nslots);
	if (nslots > 1)
		OmsExec(OmsPlan(&plan_create,
						"INSERT INTO oms.stock_balances (product_id, location_id, slot) "
						"SELECT $1, $2, g::pg_catalog.int2 FROM pg_catalog.generate_series(0, $3 OPERATOR(pg_catalog.-) 1) g "
						" WHERE NOT EXISTS (SELECT FROM oms.stock_balances b WHERE b.product_id OPERATOR(pg_catalog.=) $1 "
						"                      AND b.location_id OPERATOR(pg_catalog.=) $2 AND b.slot OPERATOR(pg_catalog.=) g) "
						" ORDER BY g ON CONFLICT (product_id, location_id, slot) DO NOTHING",
						3, types), values, NULL, 0);
	if (wait)
		OmsQuery(OmsPlan(&plan_wait,
						 "SELECT slot::int4, on_hand OPERATOR(pg_catalog.-) reserved OPERATOR(pg_catalog.-) safety_stock "
						 "  FROM oms.stock_balances "
						 " WHERE product_id OPERATOR(pg_catalog.=) $1 AND location_id OPERATOR(pg_catalog.=) $2 "
						 " ORDER BY slot FOR UPDATE",
						 2, types), values, NULL, 0);
	else
		OmsQuery(OmsPlan(&plan_skip,
						 "SELECT slot::int4, on_hand OPERATOR(pg_catalog.-) reserved OPERATOR(pg_catalog.-) safety_stock "
						 "  FROM oms.stock_balances "
						 " WHERE product_id OPERATOR(pg_catalog.=) $1 AND location_id OPERATOR(pg_catalog.=) $2 "
						 " ORDER BY slot FOR UPDATE SKIP LOCKED",
						 2, types), values, NULL, 0);
	n = (int) SPI_processed;
	if (n == 0)
		return 0;
	slots = palloc(sizeof(int32) * n);
	frees = palloc(sizeof(int32) * n);
	targets = palloc0(sizeof(int32) * n);
	for (i = 0; i < n; i++)
	{
		slots[i] = OmsGetInt32(i, 1, NULL);
		frees[i] = Max(OmsGetInt32(i, 2, NULL), 0);
		total += frees[i];
		if (slots[i] < nslots)
			inside++;
	}
	if (inside == 0)
		return 0;				/* every target slot is busy: nothing to do now */
	/* even shares over the locked target slots, the remainder to the lowest */
	for (i = 0, k = 0; i < n; i++)
		if (slots[i] < nslots)
		{
			targets[i] = (int32) (total / inside + (k < total % inside ? 1 : 0));
			k++;
		}
	/* takes first, then gives: on_hand never goes below reserved */
	for (i = 0; i < n; i++)
		if (targets[i] < frees[i])
		{
			HotMoveUnits(product_id, location_id, slots[i], targets[i] - frees[i], "rebalance");
			moved += frees[i] - targets[i];
		}
	for (i = 0; i < n; i++)
		if (targets[i] > frees[i])
			HotMoveUnits(product_id, location_id, slots[i], targets[i] - frees[i], "rebalance");
	return moved;
}

/* the configured slots of a balance; 1 when it is not hot */
int32
InventoryHotSlots(int64 product_id, int32 location_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2] = {Int64GetDatum(product_id), Int32GetDatum(location_id)};

	OmsQuery(OmsPlan(&plan,
					 "SELECT slots::int4 FROM oms.hot_balances "
					 " WHERE product_id OPERATOR(pg_catalog.=) $1 AND location_id OPERATOR(pg_catalog.=) $2",
					 2, types), values, NULL, 1);
	if (SPI_processed == 0)
		return 1;
	return OmsGetInt32(0, 1, NULL);
}

/* ---- the SQL functions ---- */

static int64
HotCheckSku(const char *sku)
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
				 errdetail("Only products of kind stock have balances to spread."),
				 errhint(p.kind == OMS_KIND_KIT ? "Make the kit's components hot instead." :
						 "Services are sold without stock.")));
	return p.id;
}

/*
 * The locations a call works on: the one named, or (NULL) every location
 * where the product has a balance, ascending. Returns their count.
 */
static int
HotLocations(FunctionCallInfo fcinfo, int argno, int64 product_id, int32 **ids)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(product_id)};
	int			n,
				i;

	if (!PG_ARGISNULL(argno))
	{
		char	   *loc = text_to_cstring(PG_GETARG_TEXT_PP(argno));
		int32		id;

		OmsCheckIdentifier(loc, "location", OMS_MAX_CODE_CHARS);
		if (!OmsLookupLocation(loc, &id, NULL))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown location \"%s\"", loc),
					 errdetail("No location in oms.locations has this code."),
					 errhint("Location codes are case-sensitive; pass NULL for every location of the product.")));
		*ids = palloc(sizeof(int32));
		(*ids)[0] = id;
		return 1;
	}
	OmsQuery(OmsPlan(&plan,
					 "SELECT location_id FROM oms.stock_balances "
					 " WHERE product_id OPERATOR(pg_catalog.=) $1 AND slot OPERATOR(pg_catalog.=) 0 "
					 " ORDER BY location_id",
					 1, types), values, NULL, 0);
	n = (int) SPI_processed;
	*ids = palloc(sizeof(int32) * (n + 1));
	for (i = 0; i < n; i++)
		(*ids)[i] = OmsGetInt32(i, 1, NULL);
	return n;
}

/* one location's entry of the answer: code, slots, available, units moved */
static void
HotAppendLocation(StringInfo buf, bool first, int64 product_id, int32 location_id, int32 slots, int64 moved)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2] = {Int64GetDatum(product_id), Int32GetDatum(location_id)};

	OmsQuery(OmsPlan(&plan,
					 "SELECT pg_catalog.json_build_object('location', l.code, "
					 "       'available', COALESCE(pg_catalog.sum(pg_catalog.int4larger(b.on_hand OPERATOR(pg_catalog.-) b.reserved "
					 "                    OPERATOR(pg_catalog.-) b.safety_stock, 0)), 0), "
					 "       'slot_rows', pg_catalog.count(b.slot), "
					 "       'slot_available', COALESCE(pg_catalog.json_agg(pg_catalog.int4larger(b.on_hand OPERATOR(pg_catalog.-) "
					 "                    b.reserved OPERATOR(pg_catalog.-) b.safety_stock, 0) ORDER BY b.slot) "
					 "                    FILTER (WHERE b.slot IS NOT NULL), '[]'))::text "
					 "  FROM oms.locations l LEFT JOIN oms.stock_balances b ON b.location_id OPERATOR(pg_catalog.=) l.id "
					 "       AND b.product_id OPERATOR(pg_catalog.=) $1 "
					 " WHERE l.id OPERATOR(pg_catalog.=) $2 GROUP BY l.code",
					 2, types), values, NULL, 1);
	appendStringInfo(buf, "%s{\"slots\": %d, \"moved\": " INT64_FORMAT ", \"balance\": %s}",
					 first ? "" : ", ", slots, moved,
					 SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
}

PG_FUNCTION_INFO_V1(set_hot_product);
/*
 * oms.set_hot_product(sku, slots, location DEFAULT NULL): spread the
 * product's free stock at the location (NULL: every location where it has
 * a balance) over slots rows; slots 1 turns the mode off and folds the free
 * units back into slot 0.
 */
Datum
set_hot_product(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan_on = NULL;
	static SPIPlanPtr plan_off = NULL;
	Oid			types[3] = {INT8OID, INT4OID, INT4OID};
	Datum		values[3];
	char	   *sku;
	int32		slots;
	int64		product_id;
	int32	   *locs;
	int			n,
				i;
	StringInfoData out;

	sku = OmsIdentifierArg(fcinfo, 0, "sku", OMS_MAX_SKU_CHARS);
	OmsRequireArg(fcinfo, 1, "slots");
	slots = PG_GETARG_INT32(1);
	if (slots < 1 || slots > INVENTORY_MAX_SLOTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("slots must be between 1 and %d", INVENTORY_MAX_SLOTS),
				 errdetail("The value given was %d.", slots),
				 errhint("About one slot per concurrent buyer of the product, for example 16 or 32; 1 turns the mode off.")));

	SPI_connect();
	product_id = HotCheckSku(sku);
	n = HotLocations(fcinfo, 2, product_id, &locs);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("product \"%s\" has no stock at any location", sku),
				 errdetail("Without a location, the mode applies to the locations where the product has a balance."),
				 errhint("Name the location, or receive the stock first.")));
	initStringInfo(&out);
	appendStringInfo(&out, "{\"sku\": ");
	escape_json(&out, sku);
	appendStringInfo(&out, ", \"slots\": %d, \"locations\": [", slots);
	for (i = 0; i < n; i++)
	{
		int64		moved;

		values[0] = Int64GetDatum(product_id);
		values[1] = Int32GetDatum(locs[i]);
		values[2] = Int32GetDatum(slots);
		if (slots > 1)
			OmsExec(OmsPlan(&plan_on,
							"INSERT INTO oms.hot_balances AS h (product_id, location_id, slots) VALUES ($1, $2, $3::pg_catalog.int2) "
							"ON CONFLICT (product_id, location_id) DO UPDATE SET slots = excluded.slots, since = pg_catalog.now()",
							3, types), values, NULL, 0);
		else
			OmsExec(OmsPlan(&plan_off,
							"DELETE FROM oms.hot_balances WHERE product_id OPERATOR(pg_catalog.=) $1 "
							"   AND location_id OPERATOR(pg_catalog.=) $2",
							2, types), values, NULL, 0);
		moved = InventorySpread(product_id, locs[i], Max(slots, 1), true);
		HotAppendLocation(&out, i == 0, product_id, locs[i], slots, moved);
	}
	appendStringInfoString(&out, "]}");
	PG_RETURN_DATUM(OmsFinish(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data))));
}

PG_FUNCTION_INFO_V1(rebalance_hot_product);
/*
 * oms.rebalance_hot_product(sku, location DEFAULT NULL): even out the free
 * units over the slots of the hot balances of the product (SKIP LOCKED: a
 * slot busy with a buyer keeps its units). A balance that is no longer hot
 * has its free slotted units folded back into slot 0.
 */
Datum
rebalance_hot_product(PG_FUNCTION_ARGS)
{
	char	   *sku;
	int64		product_id;
	int32	   *locs;
	int			n,
				i;
	StringInfoData out;

	sku = OmsIdentifierArg(fcinfo, 0, "sku", OMS_MAX_SKU_CHARS);
	SPI_connect();
	product_id = HotCheckSku(sku);
	n = HotLocations(fcinfo, 1, product_id, &locs);
	initStringInfo(&out);
	appendStringInfo(&out, "{\"sku\": ");
	escape_json(&out, sku);
	appendStringInfoString(&out, ", \"locations\": [");
	for (i = 0; i < n; i++)
	{
		int32		slots = InventoryHotSlots(product_id, locs[i]);
		int64		moved = InventorySpread(product_id, locs[i], slots, false);

		HotAppendLocation(&out, i == 0, product_id, locs[i], slots, moved);
	}
	appendStringInfoString(&out, "]}");
	PG_RETURN_DATUM(OmsFinish(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data))));
}

/* Lock slot 0 of a balance (when it exists), then gather onto it. */
void
InventoryLockAndGather(int64 product_id, int32 location_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2] = {Int64GetDatum(product_id), Int32GetDatum(location_id)};
	int32		on_hand_other,
				reserved_other;

	OmsQuery(OmsPlan(&plan,
					 "SELECT FROM oms.stock_balances "
					 " WHERE product_id OPERATOR(pg_catalog.=) $1 AND location_id OPERATOR(pg_catalog.=) $2 "
					 "   AND slot OPERATOR(pg_catalog.=) 0 FOR UPDATE",
					 2, types), values, NULL, 1);
	if (SPI_processed == 1)
		InventoryGatherSlots(product_id, location_id, &on_hand_other, &reserved_other);
}
