/*-------------------------------------------------------------------------
 *
 * lifecycle.c
 *	  The order state machine as data: the trigger on oms.orders that lets a
 *	  status change through only along oms.order_transitions, writing a
 *	  history row and an outbox event; the cache of the transitions and of
 *	  the status capabilities (LifecycleAllows); and the primitives the
 *	  areas above use to change a locked order (LifecycleLockOrder,
 *	  LifecycleTouchOrder, LifecycleChange, LifecycleHold). The order
 *	  actions oms.set_order_status, oms.hold_order and oms.release_hold are
 *	  in src/order_actions.c, above the areas they orchestrate.
 *
 *	  The trigger fires for every writer: the oms API, a direct UPDATE by
 *	  oms_admin, a superuser in psql. Only disabling it gets around it, and
 *	  oms.check() reports orders whose status does not match their history.
 *	  Rows INSERTed by something other than an oms function (pg_restore's
 *	  COPY) are taken as they are: their history comes with them.
 *
 *	  Transition cache
 *	  ----------------
 *	  Every backend keeps the transition table in memory. Row changes send
 *	  no cache invalidation by themselves, so a statement trigger on
 *	  oms.order_statuses and oms.order_transitions calls
 *	  CacheInvalidateRelcache(); at commit every backend receives the
 *	  invalidation, and the relcache callback registered here marks the
 *	  cache stale. Every check first takes in pending invalidations (so a
 *	  long transaction sees a change committed meanwhile) and reloads a
 *	  stale cache with the latest snapshot; an invalidation that arrives
 *	  during the reload makes it reload again.
 *
 *	  Reasons
 *	  -------
 *	  API functions pass the reason for a change to the trigger through
 *	  LifecycleSetReason() around their UPDATE; it is cleared at the end of
 *	  every transaction. A direct UPDATE records no reason.
 *
 *	  Status rules
 *	  ------------
 *	  A transition in the table is necessary, not sufficient: the target
 *	  must also mean something true of the order (its capability columns,
 *	  read through LifecycleAllows, never its name). The trigger refuses
 *	  (55000, nothing changed) for every writer:
 *	   - a fulfillment_driven target (partially_shipped, shipped,
 *	     delivered, or a custom one) unless the change comes from the
 *	     shipment path, when the order has stock or kit lines with units
 *	     not cancelled. The shipment path (ship, deliver in src/ship.c)
 *	     raises a backend-local flag around its status change
 *	     (LifecycleFulfillmentBegin/End), a depth counter in a C variable
 *	     that SQL cannot set, reset at every transaction end and
 *	     subtransaction abort as the balance write guard is. Orders of
 *	     services only have no shipments and may still be moved by hand.
 *	   - a target without holds_stock while the order still has active
 *	     reservations or backordered units. This needs no flag: the paths
 *	     that release them (cancel, expiry, the shipment of the last unit)
 *	     release first and change the status after, so the rule holds for
 *	     them too, and it can never be switched on by accident.
 *	  The rules read the order's lines and reservations only when the
 *	  target has one of these meanings, so ordinary changes (confirm, hold)
 *	  cost nothing more.
 *
 *	  Coverage
 *	  --------
 *	  A shippable status (confirmed, in_fulfillment, partially_shipped)
 *	  promises payment: the order is covered when its payments' open
 *	  authorizations and captures (authorized - voided, summed: the measure
 *	  authorize_payment confirms by) reach its total (tax and the shipping
 *	  charge included, src/order_charges.c), or its customer is flagged
 *	  terms (LifecycleCovered; such an order gets an invoice,
 *	  src/invoices.c). The trigger refuses (55000) a
 *	  change into a shippable status from one that is not (a manual
 *	  confirmation, a release of a hold, a custom transition), and an
 *	  INSERT in a shippable status, when the order is not covered; a void
 *	  that would uncover a shippable order moves it back first (src/
 *	  payments.c). Refunds do not count against coverage: a refund before
 *	  shipping is a goodwill adjustment, which the money path bounds by
 *	  what was captured.
 *
 *	  Terms are read with the customer row locked FOR SHARE, and only when
 *	  payments alone do not cover the order: removing the flag
 *	  (oms.customers_terms_guard, an UPDATE of that row) then waits for
 *	  every transaction that relies on it, and sees the orders they commit.
 *
 *	  History and events are written AFTER INSERT
 *	  -------------------------------------------
 *	  An INSERT is validated BEFORE (an initial status) and recorded AFTER
 *	  (history row, order_placed event): place_order inserts with ON
 *	  CONFLICT DO NOTHING, and a BEFORE trigger runs before the conflict is
 *	  found, so a replay used to leave a history row and an event naming an
 *	  order id that was never stored. An AFTER ROW trigger fires only for
 *	  the row that was really inserted.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "oms.h"

static MemoryContext LifecycleCxt = NULL;
static bool LifecycleValid = false;
static int	LifecycleNTransitions = 0;
static char **LifecycleFrom = NULL;
static char **LifecycleTo = NULL;
static int	LifecycleNStatuses = 0;
static char **LifecycleStatuses = NULL;
static bool *LifecycleInitial = NULL;
static uint32 *LifecycleCaps = NULL;	/* per status: bit (1 << LifecycleCapability) */
static char *LifecycleReason = NULL;
static int	LifecycleFulfillmentDepth = 0;	/* > 0: the shipment path is changing a status */

static void LifecycleRead(void);

static void
LifecycleRelcacheCallback(Datum arg, Oid relid)
{
	(void) arg;
	(void) relid;
	/* cheap to reload; any relcache flush of ours or all marks it stale */
	LifecycleValid = false;
}

static void
LifecycleXactCallback(XactEvent event, void *arg)
{
	(void) event;
	(void) arg;
	LifecycleReason = NULL;
	LifecycleFulfillmentDepth = 0;
}

/* an error caught by a savepoint must not leave a reason for a later change */
static void
LifecycleSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	(void) mySubid;
	(void) parentSubid;
	(void) arg;
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		LifecycleReason = NULL;
		LifecycleFulfillmentDepth = 0;
	}
}

void
LifecycleInit(void)
{
	CacheRegisterRelcacheCallback(LifecycleRelcacheCallback, (Datum) 0);
	RegisterXactCallback(LifecycleXactCallback, NULL);
	RegisterSubXactCallback(LifecycleSubXactCallback, NULL);
}

void
LifecycleSetReason(const char *reason)
{
	LifecycleReason = reason ? MemoryContextStrdup(TopTransactionContext, reason) : NULL;
}

/*
 * The shipment path (src/ship.c) raises this around the status change it
 * makes; fulfillment_driven statuses are reached only inside it. See
 * "Status rules" in the banner.
 */
void
LifecycleFulfillmentBegin(void)
{
	LifecycleFulfillmentDepth++;
}

void
LifecycleFulfillmentEnd(void)
{
	if (LifecycleFulfillmentDepth > 0)
		LifecycleFulfillmentDepth--;
}

static void
LifecycleRead(void)
{
	MemoryContext old;
	int			i;

	if (LifecycleCxt == NULL)
		LifecycleCxt = AllocSetContextCreate(TopMemoryContext, "oms lifecycle cache",
											 ALLOCSET_SMALL_SIZES);
	MemoryContextReset(LifecycleCxt);

	SPI_connect();
	PushActiveSnapshot(GetLatestSnapshot());
	if (SPI_execute("SELECT from_status, to_status FROM oms.order_transitions ORDER BY to_status", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "oms: cannot read oms.order_transitions");
	old = MemoryContextSwitchTo(LifecycleCxt);
	LifecycleNTransitions = (int) SPI_processed;
	LifecycleFrom = palloc(sizeof(char *) * (LifecycleNTransitions + 1));
	LifecycleTo = palloc(sizeof(char *) * (LifecycleNTransitions + 1));
	for (i = 0; i < LifecycleNTransitions; i++)
	{
		LifecycleFrom[i] = pstrdup(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		LifecycleTo[i] = pstrdup(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
	}
	MemoryContextSwitchTo(old);

	/* the capability columns, in the order of LifecycleCapability */
	if (SPI_execute("SELECT status, initial, holds_stock, open, fulfillment_driven, payable, cancellable, "
					"       terminal, counts_as_sale, shippable, returnable "
					"  FROM oms.order_statuses ORDER BY status", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "oms: cannot read oms.order_statuses");
	old = MemoryContextSwitchTo(LifecycleCxt);
	LifecycleNStatuses = (int) SPI_processed;
	LifecycleStatuses = palloc(sizeof(char *) * (LifecycleNStatuses + 1));
	LifecycleInitial = palloc(sizeof(bool) * (LifecycleNStatuses + 1));
	LifecycleCaps = palloc0(sizeof(uint32) * (LifecycleNStatuses + 1));
	for (i = 0; i < LifecycleNStatuses; i++)
	{
		bool		isnull;
		int			c;

		LifecycleStatuses[i] = pstrdup(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		LifecycleInitial[i] = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		for (c = 0; c < LCAP_COUNT; c++)
			if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3 + c, &isnull)))
				LifecycleCaps[i] |= (uint32) 1 << c;
	}
	MemoryContextSwitchTo(old);
	PopActiveSnapshot();
	SPI_finish();
}

/*
 * Make sure the cache reflects every committed change of the lifecycle
 * tables. Pending invalidations are taken in first (a transaction that has
 * already locked everything it uses would otherwise not see them until its
 * next lock). The cache is marked valid before it is read, so an
 * invalidation that arrives during the read marks it stale again and the
 * read is repeated; and it is read with the latest snapshot, as catalog
 * lookups are, not the statement's.
 */
static void
LifecycleLoad(void)
{
	int			attempts = 0;

	AcceptInvalidationMessages();
	while (!LifecycleValid)
	{
		if (++attempts > 100)
			elog(ERROR, "oms: the lifecycle tables keep changing; could not load them");
		LifecycleValid = true;
		LifecycleRead();
	}
}

bool
LifecycleStatusExists(const char *status)
{
	int			i;

	LifecycleLoad();
	for (i = 0; i < LifecycleNStatuses; i++)
		if (strcmp(LifecycleStatuses[i], status) == 0)
			return true;
	return false;
}

/*
 * What a status means: one of its capability columns in oms.order_statuses.
 * Every rule that depends on the meaning of a status asks this (or joins the
 * column in SQL) instead of comparing names, so a custom status behaves by
 * its row. An unknown status has no capability.
 */
bool
LifecycleAllows(const char *status, LifecycleCapability cap)
{
	int			i;

	Assert((int) cap < (int) LCAP_COUNT);
	LifecycleLoad();
	for (i = 0; i < LifecycleNStatuses; i++)
		if (strcmp(LifecycleStatuses[i], status) == 0)
			return (LifecycleCaps[i] & ((uint32) 1 << cap)) != 0;
	return false;
}

/* is the transition from -> to in oms.order_transitions? (cached) */
bool
LifecycleAllowed(const char *from, const char *to)
{
	int			i;

	LifecycleLoad();
	for (i = 0; i < LifecycleNTransitions; i++)
		if (strcmp(LifecycleFrom[i], from) == 0 && strcmp(LifecycleTo[i], to) == 0)
			return true;
	return false;
}

static char *
LifecycleTargets(const char *from)
{
	StringInfoData s;
	int			i;

	initStringInfo(&s);
	for (i = 0; i < LifecycleNTransitions; i++)
		if (strcmp(LifecycleFrom[i], from) == 0)
			appendStringInfo(&s, "%s%s", s.len ? ", " : "", LifecycleTo[i]);
	return s.data;
}

static void
LifecycleRecord(int64 order_id, const char *from, const char *to, HeapTuple tup, TupleDesc desc)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[4] = {INT8OID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = "    ";
	StringInfoData payload;

	SPI_connect();
	values[0] = Int64GetDatum(order_id);
	if (from)
		values[1] = CStringGetTextDatum(from);
	else
		nulls[1] = 'n';
	values[2] = CStringGetTextDatum(to);
	if (LifecycleReason)
		values[3] = CStringGetTextDatum(LifecycleReason);
	else
		nulls[3] = 'n';
	OmsExec(OmsPlan(&plan,
					"INSERT INTO oms.order_status_history (order_id, from_status, to_status, reason) VALUES ($1, $2, $3, $4)",
					4, types), values, nulls, 0);

	initStringInfo(&payload);
	if (from == NULL)
	{
		char	   *ext = SPI_getvalue(tup, desc, SPI_fnumber(desc, "external_id"));
		char	   *cur = SPI_getvalue(tup, desc, SPI_fnumber(desc, "currency"));
		char	   *total = SPI_getvalue(tup, desc, SPI_fnumber(desc, "total"));

		appendStringInfoString(&payload, "{\"external_id\": ");
		escape_json(&payload, ext);
		appendStringInfo(&payload, ", \"currency\": \"%s\", \"total\": %s, \"status\": ", cur, total);
		escape_json(&payload, to);
		appendStringInfoChar(&payload, '}');
		EventsEmit("order_placed", order_id, payload.data);
	}
	else
	{
		appendStringInfoString(&payload, "{\"from\": ");
		escape_json(&payload, from);
		appendStringInfoString(&payload, ", \"to\": ");
		escape_json(&payload, to);
		appendStringInfoString(&payload, ", \"reason\": ");
		if (LifecycleReason)
			escape_json(&payload, LifecycleReason);
		else
			appendStringInfoString(&payload, "null");
		appendStringInfoChar(&payload, '}');
		/*
		 * A release back to a status is its own event (the customer heard of
		 * that status before); leaving a hold any other way, such as being
		 * cancelled, is the event of the new status.
		 */
		EventsEmit(strcmp(from, "on_hold") == 0 && strcmp(to, "cancelled") != 0 ?
				   "order_hold_released" : psprintf("order_%s", to),
				   order_id, payload.data);
	}
	SPI_finish();
}

/*
 * Is the customer (0: a guest) flagged terms? Read with the customer row
 * locked FOR SHARE, so that removing the flag waits for this transaction
 * (banner, "Coverage").
 */
bool
LifecycleOnTerms(int64 customer_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(customer_id)};
	bool		terms;

	if (customer_id <= 0)
		return false;
	SPI_connect();
	OmsQuery(OmsPlan(&plan,
					 "SELECT 'terms' OPERATOR(pg_catalog.=) ANY (flags) FROM oms.customers "
					 " WHERE id OPERATOR(pg_catalog.=) $1 FOR SHARE",
					 1, types), values, NULL, 1);
	terms = SPI_processed > 0 && DatumGetBool(OmsGetDatum(0, 1, NULL));
	SPI_finish();
	return terms;
}

/*
 * Is the order covered (banner, "Coverage")? total and customer_id are the
 * order's (customer_id 0: a guest); *held, when not NULL, gets what its
 * payments hold (authorized - voided), as text.
 */
bool
LifecycleCovered(int64 order_id, Datum total, int64 customer_id, char **held)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, NUMERICOID};
	Datum		values[2] = {Int64GetDatum(order_id), total};
	MemoryContext caller = CurrentMemoryContext;
	bool		covered;

	SPI_connect();
	OmsQuery(OmsPlan(&plan,
					 "SELECT h OPERATOR(pg_catalog.>=) $2, h::text "
					 "  FROM (SELECT COALESCE(pg_catalog.sum(authorized OPERATOR(pg_catalog.-) voided), 0) AS h "
					 "          FROM oms.payments WHERE order_id OPERATOR(pg_catalog.=) $1) p",
					 2, types), values, NULL, 1);
	covered = DatumGetBool(OmsGetDatum(0, 1, NULL));
	if (held)
		*held = MemoryContextStrdup(caller, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
	SPI_finish();
	return covered || LifecycleOnTerms(customer_id);
}

/*
 * The coverage rule of the banner for a row entering status to (from: NULL
 * for an INSERT).
 */
static void
LifecycleCheckCoverage(int64 order_id, const char *from, const char *to, HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	Datum		total;
	Datum		cust;
	char	   *held;

	if (!LifecycleAllows(to, LCAP_SHIPPABLE) || (from && LifecycleAllows(from, LCAP_SHIPPABLE)))
		return;
	total = SPI_getbinval(tup, desc, SPI_fnumber(desc, "total"), &isnull);
	cust = SPI_getbinval(tup, desc, SPI_fnumber(desc, "customer_id"), &isnull);
	if (LifecycleCovered(order_id, total, isnull ? 0 : DatumGetInt64(cust), &held))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 from ?
			 errmsg("order " INT64_FORMAT " cannot change status from \"%s\" to \"%s\": it is not covered", order_id, from, to) :
			 errmsg("order " INT64_FORMAT " cannot start in status \"%s\": it is not covered", order_id, to),
			 errdetail("%s promises payment: the order total is %s, its payments hold %s (authorized less voided), and its customer is not on payment terms.",
					   to, DatumGetCString(DirectFunctionCall1(numeric_out, total)), held),
			 errhint("Record the payment with oms.authorize_payment() (card, gift_card, store_credit, check or cash), which confirms the order once it is covered, or flag the customer terms.")));
}

/*
 * The status rules of the banner, for a change from -> to that the
 * transition table allows. Reads the order only when the target is
 * fulfillment_driven or holds no stock.
 */
static void
LifecycleCheckRules(int64 order_id, const char *from, const char *to)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(order_id)};
	bool		driven = LifecycleAllows(to, LCAP_FULFILLMENT_DRIVEN) && LifecycleFulfillmentDepth == 0;
	bool		holds = LifecycleAllows(to, LCAP_HOLDS_STOCK);
	int64		goods_lines,
				unshipped,
				reserved,
				backordered;

	if (!driven && holds)
		return;
	SPI_connect();
	OmsQuery(OmsPlan(&plan,
					 "SELECT pg_catalog.count(*) FILTER (WHERE p.kind OPERATOR(pg_catalog.<>) 'service' "
					 "                                     AND l.qty OPERATOR(pg_catalog.>) l.qty_cancelled), "
					 "       COALESCE(pg_catalog.sum(l.qty OPERATOR(pg_catalog.-) l.qty_cancelled OPERATOR(pg_catalog.-) l.qty_shipped) "
					 "                FILTER (WHERE p.kind OPERATOR(pg_catalog.<>) 'service'), 0)::int8, "
					 "       (SELECT COALESCE(pg_catalog.sum(r.qty), 0)::int8 FROM oms.reservations r "
					 "         WHERE r.order_id OPERATOR(pg_catalog.=) $1 AND r.status OPERATOR(pg_catalog.=) 'active'), "
					 "       COALESCE(pg_catalog.sum(l.qty_backordered), 0)::int8 "
					 "  FROM oms.order_lines l JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) l.product_id "
					 " WHERE l.order_id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	goods_lines = OmsGetInt64(0, 1, NULL);
	unshipped = OmsGetInt64(0, 2, NULL);
	reserved = OmsGetInt64(0, 3, NULL);
	backordered = OmsGetInt64(0, 4, NULL);
	SPI_finish();

	if (driven && goods_lines > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order " INT64_FORMAT " cannot change status from \"%s\" to \"%s\" by hand", order_id, from, to),
				 unshipped > 0 ?
				 errdetail("%s is reached through shipments: order " INT64_FORMAT " has " INT64_FORMAT " unit(s) not shipped.",
						   to, order_id, unshipped) :
				 errdetail("%s is reached through shipments: order " INT64_FORMAT " has stock lines.", to, order_id),
				 unshipped > 0 ? errhint("Ship the units with oms.ship().") :
				 errhint("Record the arrival of its shipments with oms.deliver().")));
	if (!holds && (reserved > 0 || backordered > 0))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order " INT64_FORMAT " cannot change status from \"%s\" to \"%s\" while it holds stock", order_id, from, to),
				 errdetail("%s holds no stock: order " INT64_FORMAT " still has " INT64_FORMAT " reserved and " INT64_FORMAT " backordered unit(s).",
						   to, order_id, reserved, backordered),
				 errhint("Cancel the order or ship it.")));
}

PG_FUNCTION_INFO_V1(lifecycle_status_guard);
/*
 * Trigger on oms.orders: a status change must be in oms.order_transitions.
 */
Datum
lifecycle_status_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	newtup;
	char	   *to;
	int64		order_id;
	bool		isnull;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "lifecycle_status_guard: not called by trigger manager");
	desc = td->tg_relation->rd_att;
	newtup = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	to = SPI_getvalue(newtup, desc, SPI_fnumber(desc, "status"));
	order_id = DatumGetInt64(SPI_getbinval(newtup, desc, SPI_fnumber(desc, "id"), &isnull));

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		int			i;
		bool		initial = false;

		/* restore and other bulk loads bring their own history */
		if (!OmsWriteAllowed())
			return TRIGGER_FIRED_AFTER(td->tg_event) ? PointerGetDatum(NULL) : PointerGetDatum(newtup);
		/* AFTER: the row was really inserted (not a conflict): record it */
		if (TRIGGER_FIRED_AFTER(td->tg_event))
		{
			LifecycleRecord(order_id, NULL, to, newtup, desc);
			return PointerGetDatum(NULL);
		}
		LifecycleLoad();
		for (i = 0; i < LifecycleNStatuses; i++)
			if (strcmp(LifecycleStatuses[i], to) == 0)
				initial = LifecycleInitial[i];
		if (!initial)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("order " INT64_FORMAT " cannot start in status \"%s\"", order_id, to),
					 errdetail("from (new) to %s", to),
					 errhint("Orders start in a status marked initial in oms.order_statuses.")));
		LifecycleCheckCoverage(order_id, NULL, to, newtup, desc);
		return PointerGetDatum(newtup);
	}
	else
	{
		char	   *from = SPI_getvalue(td->tg_trigtuple, desc, SPI_fnumber(desc, "status"));

		if (strcmp(from, to) == 0)
			return PointerGetDatum(newtup);
		if (!LifecycleAllowed(from, to))
		{
			char	   *targets = LifecycleTargets(from);

			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("order " INT64_FORMAT " cannot change status from \"%s\" to \"%s\"", order_id, from, to),
					 errdetail("from %s to %s", from, to),
					 targets[0] ? errhint("Allowed from %s: %s.", from, targets) :
					 errhint("No change is allowed from %s.", from)));
		}
		/*
		 * cancelled and expired release stock and payments: only oms makes
		 * those changes, through oms.cancel_order and expiry
		 */
		if ((strcmp(to, "cancelled") == 0 || strcmp(to, "expired") == 0) && !OmsWriteAllowed())
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("order " INT64_FORMAT " cannot be set to \"%s\" directly", order_id, to),
					 errdetail("from %s to %s", from, to),
					 errhint(strcmp(to, "cancelled") == 0 ?
							 "Use oms.cancel_order(), which also releases stock and voids or refunds payments." :
							 "Expiry is done by oms.expire_reservations().")));
		LifecycleCheckRules(order_id, from, to);
		LifecycleCheckCoverage(order_id, from, to, newtup, desc);
		LifecycleRecord(order_id, from, to, newtup, desc);
		return PointerGetDatum(newtup);
	}
}

PG_FUNCTION_INFO_V1(lifecycle_invalidate);
/*
 * Statement trigger on the lifecycle tables: invalidate every backend's
 * cached transition table at commit.
 */
Datum
lifecycle_invalidate(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "lifecycle_invalidate: not called by trigger manager");
	CacheInvalidateRelcache(td->tg_relation);
	LifecycleValid = false;
	return PointerGetDatum(NULL);
}

/* ---- API ---- */

/* Lock the order and return its status; 22023 when there is none. */
char *
LifecycleLockOrder(int64 order_id, char **held_from)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(order_id)};

	OmsQuery(OmsPlan(&plan,
					 "SELECT status, held_from FROM oms.orders WHERE id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
					 1, types), values, NULL, 1);
	if (SPI_processed == 0)
		OmsOrderNotFound(order_id);
	if (held_from)
		*held_from = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/* Change the status of a locked order, with a reason (trigger validates). */
/*
 * Write the locked order row (updated_at). Functions that serialize on the
 * order row and then decide from other tables (payments, RMA claims) call
 * it: under REPEATABLE READ or SERIALIZABLE a concurrent call that did the
 * same since this transaction's snapshot then fails with 40001, where a
 * mere lock would let both decide from stale numbers.
 */
void
LifecycleTouchOrder(int64 order_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(order_id)};

	OmsExec(OmsPlan(&plan,
					"UPDATE oms.orders SET updated_at = pg_catalog.now() WHERE id OPERATOR(pg_catalog.=) $1",
					1, types), values, NULL, 0);
}

void
LifecycleChange(int64 order_id, const char *to, const char *reason, bool confirm)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {INT8OID, TEXTOID, BOOLOID};
	Datum		values[3] = {Int64GetDatum(order_id), CStringGetTextDatum(to), BoolGetDatum(confirm)};

	LifecycleSetReason(reason);
	OmsExec(OmsPlan(&plan,
					"UPDATE oms.orders SET status = $2, updated_at = pg_catalog.now(), "
					"       expires_at = CASE WHEN $3 THEN NULL ELSE expires_at END, "
					"       held_from = CASE WHEN status OPERATOR(pg_catalog.=) 'on_hold' THEN NULL ELSE held_from END "
					" WHERE id OPERATOR(pg_catalog.=) $1",
					3, types), values, NULL, 0);
	LifecycleSetReason(NULL);
}

/* Put a locked order on hold, remembering its status. */
void
LifecycleHold(int64 order_id, const char *reason)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(order_id)};

	LifecycleSetReason(reason);
	OmsExec(OmsPlan(&plan,
					"UPDATE oms.orders SET held_from = status, status = 'on_hold', updated_at = pg_catalog.now() "
					" WHERE id OPERATOR(pg_catalog.=) $1",
					1, types), values, NULL, 0);
	LifecycleSetReason(NULL);
}
