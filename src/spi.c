/*-------------------------------------------------------------------------
 *
 * spi.c
 *	  The SPI helpers every area uses: saved plans (OmsPlan, OmsPlanGeneric),
 *	  running them (OmsExec with the balance write permission raised,
 *	  OmsQuery without, OmsQueryEach row by row into a callback), reading
 *	  result columns (OmsGet*), int8[] and int4[]
 *	  parameters for set-based statements, a JSON document by id
 *	  (OmsDocument), handing a result out of SPI memory (OmsFinish), and the
 *	  two argument errors shared by the SQL-callable functions
 *	  (OmsRequireArg, OmsOrderNotFound).
 *
 *	  This file sits at the bottom of the call graph: it calls no other oms
 *	  file except balance_guard.c (OmsExec raises the write permission for
 *	  the one statement it runs).
 *
 *	  Plans are prepared on first use and kept for the life of the backend
 *	  (SPI_keepplan); the caller owns the static cache pointer, so each
 *	  statement is prepared once per backend.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "nodes/params.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "oms.h"

/* ---- saved plans ---- */

/*
 * Prepare sql once per backend into *cache and keep it (SPI_keepplan);
 * cursor_options 0 is what SPI_prepare() does.
 */
static SPIPlanPtr
OmsPlanWith(SPIPlanPtr *cache, const char *sql, int nargs, Oid *argtypes, int cursor_options)
{
	if (*cache == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, argtypes, cursor_options);

		if (plan == NULL)
			elog(ERROR, "oms: SPI_prepare failed (%s) for: %s",
				 SPI_result_code_string(SPI_result), sql);
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "oms: SPI_keepplan failed");
		*cache = plan;
	}
	return *cache;
}

SPIPlanPtr
OmsPlan(SPIPlanPtr *cache, const char *sql, int nargs, Oid *argtypes)
{
	return OmsPlanWith(cache, sql, nargs, argtypes, 0);
}

/*
 * Like OmsPlan, but always the generic plan: for hot statements whose
 * custom plans cost more to make than they save (routing's candidate
 * query is re-planned on every call otherwise: the estimate for
 * "= ANY ($1)" of the generic plan looks worse than it is).
 */
SPIPlanPtr
OmsPlanGeneric(SPIPlanPtr *cache, const char *sql, int nargs, Oid *argtypes)
{
	return OmsPlanWith(cache, sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);
}

/*
 * Key lookups only: between OmsKeyLookupsBegin() and OmsKeyLookupsEnd()
 * the planner does not choose sequential scans (enable_seqscan is off, as
 * a function's SET clause would set it, and restored the same way, also
 * on error). Every statement of an order's placement finds its rows by a
 * key. On a small table whose statistics say "two pages" the planner
 * prefers a sequential scan for those lookups, and the saved plan keeps
 * it; in a long transaction that places many orders, every version of a
 * hot balance row that the transaction itself wrote stays in the table
 * until it commits, so each such scan reads all of them and a bulk import
 * became quadratic. An index lookup follows only the one row's versions.
 *
 * jit is off too: a statement with no index to use (the scan of the few
 * rows of oms.promotions) keeps its sequential scan at the disabled-path
 * cost of 10^10, far above jit_above_cost, and LLVM compiled and freed it
 * on every order, a third of place_order's time.
 */
int
OmsKeyLookupsBegin(void)
{
	int			nest = NewGUCNestLevel();

	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("jit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nest;
}

void
OmsKeyLookupsEnd(int nest)
{
	AtEOXact_GUC(true, nest);
}

int
OmsExec(SPIPlanPtr plan, Datum *values, const char *nulls, long tcount)
{
	int			rc;

	OmsWriteBegin();
	rc = SPI_execute_plan(plan, values, nulls, false, tcount);
	OmsWriteEnd();
	if (rc < 0)
		elog(ERROR, "oms: SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	return rc;
}

int
OmsQuery(SPIPlanPtr plan, Datum *values, const char *nulls, long tcount)
{
	int			rc = SPI_execute_plan(plan, values, nulls, false, tcount);

	if (rc < 0)
		elog(ERROR, "oms: SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	return rc;
}

/*
 * OmsQueryEach: a DestReceiver that hands each row to a callback, in the
 * memory context that was current when the query was started (the
 * executor runs in its own, which ends with the query).
 */
typedef struct OmsRowReceiver
{
	DestReceiver pub;
	OmsRowFn	fn;
	void	   *arg;
	MemoryContext mcxt;
} OmsRowReceiver;

static bool
OmsRowReceive(TupleTableSlot *slot, DestReceiver *self)
{
	OmsRowReceiver *r = (OmsRowReceiver *) self;
	MemoryContext old = MemoryContextSwitchTo(r->mcxt);

	slot_getallattrs(slot);
	r->fn(slot->tts_values, slot->tts_isnull, r->arg);
	MemoryContextSwitchTo(old);
	return true;
}

static void
OmsRowStartup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	(void) self;
	(void) operation;
	(void) typeinfo;
}

static void
OmsRowNothing(DestReceiver *self)
{
	(void) self;
}

/*
 * Run a saved plan like OmsQuery, but hand each result row to fn as the
 * executor produces it (its columns deformed, valid only during the call)
 * instead of copying every row into SPI_tuptable: for results of
 * thousands of rows that are read once, that copy and its memory are most
 * of the cost. fn runs in the memory context current at this call. Returns
 * the number of rows.
 */
uint64
OmsQueryEach(SPIPlanPtr plan, Datum *values, const char *nulls, OmsRowFn fn, void *arg)
{
	OmsRowReceiver receiver;
	SPIExecuteOptions options;
	int			nargs = SPI_getargcount(plan);
	int			i;
	int			rc;

	memset(&receiver, 0, sizeof(receiver));
	receiver.pub.receiveSlot = OmsRowReceive;
	receiver.pub.rStartup = OmsRowStartup;
	receiver.pub.rShutdown = OmsRowNothing;
	receiver.pub.rDestroy = OmsRowNothing;
	/* SPI reads only mydest: not DestSPI, so it fills no SPI_tuptable */
	receiver.pub.mydest = DestNone;
	receiver.fn = fn;
	receiver.arg = arg;
	receiver.mcxt = CurrentMemoryContext;

	memset(&options, 0, sizeof(options));
	if (nargs > 0)
	{
		options.params = makeParamList(nargs);
		for (i = 0; i < nargs; i++)
		{
			ParamExternData *p = &options.params->params[i];

			p->value = values[i];
			p->isnull = nulls != NULL && nulls[i] == 'n';
			p->pflags = PARAM_FLAG_CONST;
			p->ptype = SPI_getargtypeid(plan, i);
		}
	}
	options.dest = (DestReceiver *) &receiver;
	rc = SPI_execute_plan_extended(plan, &options);
	if (rc < 0)
		elog(ERROR, "oms: SPI_execute_plan_extended failed: %s", SPI_result_code_string(rc));
	return SPI_processed;
}

Datum
OmsGetDatum(int row, int col, bool *isnull)
{
	bool		n;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &n);

	if (isnull)
		*isnull = n;
	return d;
}

int64
OmsGetInt64(int row, int col, bool *isnull)
{
	bool		n;
	Datum		d = OmsGetDatum(row, col, &n);

	if (isnull)
		*isnull = n;
	return n ? 0 : DatumGetInt64(d);
}

int32
OmsGetInt32(int row, int col, bool *isnull)
{
	bool		n;
	Datum		d = OmsGetDatum(row, col, &n);

	if (isnull)
		*isnull = n;
	return n ? 0 : DatumGetInt32(d);
}

/* ---- arrays for set-based SPI statements ---- */

ArrayType *
OmsInt8Array(int64 *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * (n + 1));
	int			i;

	for (i = 0; i < n; i++)
		d[i] = Int64GetDatum(v[i]);
	return construct_array(d, n, INT8OID, 8, true, TYPALIGN_DOUBLE);
}

ArrayType *
OmsInt4Array(int32 *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * (n + 1));
	int			i;

	for (i = 0; i < n; i++)
		d[i] = Int32GetDatum(v[i]);
	return construct_array(d, n, INT4OID, 4, true, TYPALIGN_INT);
}

/* ---- argument errors shared by the SQL-callable functions ---- */

/* Raise 22004 for a NULL argument of a non-STRICT function. */
void
OmsRequireArg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name),
				 errdetail("Argument %d of %s was NULL.", argno + 1,
						   get_func_name(fcinfo->flinfo->fn_oid)),
				 errhint("Pass a value for %s.", name)));
}

/* 22023 for an order id that does not exist. */
void
OmsOrderNotFound(int64 order_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("order " INT64_FORMAT " does not exist", order_id),
			 errdetail("No row in oms.orders has id " INT64_FORMAT ".", order_id),
			 errhint("Use the order_id returned by oms.place_order().")));
}

/* ---- documents and results ---- */

/*
 * A JSON document by id: the one-parameter query's single jsonb column,
 * with the keys of extra_json (when given) merged in. False when there is
 * no such row. The plan is cached by the caller.
 */
bool
OmsDocument(SPIPlanPtr *plan, const char *sql, int64 id, const char *extra_json, Datum *doc)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(id)};

	OmsQuery(OmsPlan(plan, sql, 1, types), values, NULL, 1);
	if (SPI_processed == 0)
		return false;
	*doc = OmsGetDatum(0, 1, NULL);
	if (extra_json)
		*doc = DirectFunctionCall2(jsonb_concat, *doc, DirectFunctionCall1(jsonb_in, CStringGetDatum(extra_json)));
	return true;
}

/* Move a result made in SPI memory out, and disconnect from SPI. */
Datum
OmsFinish(Datum result)
{
	Datum		out = SPI_datumTransfer(result, false, -1);

	SPI_finish();
	return out;
}
