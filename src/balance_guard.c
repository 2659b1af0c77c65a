/*-------------------------------------------------------------------------
 *
 * balance_guard.c
 *	  The balance write guard: the backend-local permission to write
 *	  oms.stock_balances (OmsWriteBegin, OmsWriteEnd, OmsWriteAllowed), the
 *	  transaction callbacks that reset it, and the guard trigger
 *	  oms.inventory_balance_guard() that rejects every write made without it.
 *
 *	  The protocol
 *	  ------------
 *	  A balance changes only together with a movement in oms.stock_movements
 *	  (see the ledger protocol in inventory.c). The oms C functions that
 *	  write both do so through OmsExec() (spi.c), which raises the
 *	  permission for exactly the one SQL statement it runs; the guard
 *	  trigger on oms.stock_balances checks it, so an UPDATE typed in psql,
 *	  even by a superuser, fails. The permission is a depth counter in a
 *	  plain C variable: SQL cannot set it, and nested oms statements (a
 *	  trigger that runs oms SQL) keep it raised until the outermost one
 *	  ends. An error can escape a write section before OmsWriteEnd() runs
 *	  and be caught by a caller's savepoint; so the depth is reset to zero
 *	  at every transaction end and every subtransaction abort, and a caught
 *	  error can never leave the permission raised.
 *
 *	  The other triggers that must tell an oms write from a foreign one
 *	  (the ledger apply trigger, the restore guard of oms.events, the status
 *	  guard) ask OmsWriteAllowed() as well. This file calls no other oms
 *	  file.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/trigger.h"
#include "fmgr.h"

#include "oms.h"

static int	OmsWriteDepth = 0;

static void BalanceGuardXactCallback(XactEvent event, void *arg);
static void BalanceGuardSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
										SubTransactionId parentSubid, void *arg);

/* ---- the write permission ---- */

void
OmsWriteBegin(void)
{
	OmsWriteDepth++;
}

void
OmsWriteEnd(void)
{
	if (OmsWriteDepth > 0)
		OmsWriteDepth--;
}

bool
OmsWriteAllowed(void)
{
	return OmsWriteDepth > 0;
}

/* ---- reset at transaction end and subtransaction abort ---- */

/* Called once from _PG_init. */
void
BalanceGuardInit(void)
{
	RegisterXactCallback(BalanceGuardXactCallback, NULL);
	RegisterSubXactCallback(BalanceGuardSubXactCallback, NULL);
}

static void
BalanceGuardXactCallback(XactEvent event, void *arg)
{
	(void) event;
	(void) arg;
	OmsWriteDepth = 0;
}

static void
BalanceGuardSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
							SubTransactionId parentSubid, void *arg)
{
	(void) mySubid;
	(void) parentSubid;
	(void) arg;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		OmsWriteDepth = 0;
}

/* ---- the guard trigger ---- */

PG_FUNCTION_INFO_V1(inventory_balance_guard);
/*
 * Trigger on oms.stock_balances: only oms functions may write it.
 */
Datum
inventory_balance_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "inventory_balance_guard: not called by trigger manager");

	if (!OmsWriteAllowed())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("direct writes to oms.stock_balances are not allowed"),
				 errdetail("Balances change only together with a movement in oms.stock_movements."),
				 errhint("Use oms.receive_stock(), oms.adjust_stock() or oms.set_safety_stock(), or insert a movement.")));

	if (TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		return PointerGetDatum(NULL);
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		return PointerGetDatum(trigdata->tg_newtuple);
	return PointerGetDatum(trigdata->tg_trigtuple);
}
