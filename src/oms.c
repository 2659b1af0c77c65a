/*-------------------------------------------------------------------------
 *
 * oms.c
 *	  Module entry point of the oms extension: module magic, _PG_init and
 *	  the GUCs shared by every area.
 *
 *	  Each business area lives in its own pair of files, src/<area>.c beside
 *	  src/<area>.sql; this file only holds what belongs to the module as a
 *	  whole.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "oms.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static void OmsXactCallback(XactEvent event, void *arg);
static void OmsSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
							   SubTransactionId parentSubid, void *arg);

/*
 * Module load: define the GUCs, reserve the "oms." prefix so that a typo
 * such as SET oms.hold_minuts is reported instead of silently accepted, and
 * register the callbacks that reset the balance write permission.
 */
void
_PG_init(void)
{
	DefineCustomIntVariable("oms.hold_minutes",
							"Minutes the reservations of an unpaid order are held.",
							"Used when neither the order nor its channel sets hold_minutes; 0 holds until paid or cancelled.",
							&oms_hold_minutes,
							60, 0, 525600,
							PGC_USERSET, GUC_UNIT_MIN,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("oms.notify_events",
							 "Send NOTIFY oms_events for every outbox event.",
							 "Off by default: NOTIFY serializes commits. Consumers can poll oms.read_events instead.",
							 &oms_notify_events,
							 false,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("oms.event_redelivery_seconds",
							"Seconds after which an unacknowledged batch of events is delivered again.",
							NULL,
							&oms_event_redelivery_seconds,
							300, 1, 86400,
							PGC_USERSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	MarkGUCPrefixReserved("oms");
	RegisterXactCallback(OmsXactCallback, NULL);
	LifecycleInit();
	RouteInit();
	RegisterSubXactCallback(OmsSubXactCallback, NULL);
}

PG_FUNCTION_INFO_V1(oms_version);
/*
 * oms.version(): version string of the loaded shared library.
 */
Datum
oms_version(PG_FUNCTION_ARGS)
{
	(void) fcinfo;
	PG_RETURN_TEXT_P(cstring_to_text(OMS_VERSION_STR));
}

/* ---- GUCs ---- */

int			oms_hold_minutes = 60;

/* ---- balance write permission ---- */

static int	OmsWriteDepth = 0;

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

static void
OmsXactCallback(XactEvent event, void *arg)
{
	(void) event;
	(void) arg;
	OmsWriteDepth = 0;
}

static void
OmsSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
				   SubTransactionId parentSubid, void *arg)
{
	(void) mySubid;
	(void) parentSubid;
	(void) arg;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		OmsWriteDepth = 0;
}

/* ---- SPI helpers ---- */

SPIPlanPtr
OmsPlan(SPIPlanPtr *cache, const char *sql, int nargs, Oid *argtypes)
{
	if (*cache == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

		if (plan == NULL)
			elog(ERROR, "oms: SPI_prepare failed (%s) for: %s",
				 SPI_result_code_string(SPI_result), sql);
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "oms: SPI_keepplan failed");
		*cache = plan;
	}
	return *cache;
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
	if (*cache == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);

		if (plan == NULL)
			elog(ERROR, "oms: SPI_prepare failed (%s) for: %s",
				 SPI_result_code_string(SPI_result), sql);
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "oms: SPI_keepplan failed");
		*cache = plan;
	}
	return *cache;
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

/* ---- catalog lookups shared by every area ---- */

static SPIPlanPtr plan_lookup_product = NULL;
static SPIPlanPtr plan_lookup_location = NULL;

bool
OmsLookupProduct(const char *sku, OmsProduct *out)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	char	   *kind;

	values[0] = CStringGetTextDatum(sku);
	OmsQuery(OmsPlan(&plan_lookup_product,
					 "SELECT id, kind, active FROM oms.products WHERE sku OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	if (SPI_processed == 0)
		return false;
	out->id = OmsGetInt64(0, 1, NULL);
	kind = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	out->kind = (strcmp(kind, "kit") == 0) ? OMS_KIND_KIT :
		(strcmp(kind, "service") == 0) ? OMS_KIND_SERVICE : OMS_KIND_STOCK;
	out->active = DatumGetBool(OmsGetDatum(0, 3, NULL));
	return true;
}

bool
OmsLookupLocation(const char *code, int32 *id, bool *active)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	values[0] = CStringGetTextDatum(code);
	OmsQuery(OmsPlan(&plan_lookup_location,
					 "SELECT id, active FROM oms.locations WHERE code OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	if (SPI_processed == 0)
		return false;
	*id = OmsGetInt32(0, 1, NULL);
	if (active)
		*active = DatumGetBool(OmsGetDatum(0, 2, NULL));
	return true;
}

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

/* ---- card number (PAN) guard ---- */

/*
 * Does the text contain something that looks like a payment card number?
 * Digits are read in groups separated by up to three spaces, dashes or dots
 * ("4111 1111 1111 1111", "4111-1111-1111-1111", "4111.1111..."). A group
 * of 13 to 19 digits, or consecutive groups in a card layout (4-4-4-4 with
 * a last group of 1 to 4 digits, 4-6-5, 4-6-4), that passes the Luhn check
 * is a card number, so a PAN next to other digits ("order 2
 * 4242424242424242", "4111 1111 1111 1111 12/30") is found too. A single
 * unbroken run longer than 19 digits (a tracking number) and other
 * groupings (phone numbers, "302-5518842-1190735") are not. oms never stores a card number: only PSP tokens, brand, last four
 * digits and expiry.
 */
static bool
OmsLuhn(const int *digits, int n)
{
	int			sum = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		int			d = digits[n - 1 - i];

		if (i % 2 == 1)
		{
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return sum % 10 == 0;
}

bool
OmsContainsCardNumber(const char *s)
{
	const char *p = s;

	while (*p)
	{
		/* one run: digit groups separated by spaces, dashes or dots */
		int			digits[256];
		int			gstart[128];
		int			glen[128];
		int			ngroups = 0;
		int			ndigits = 0;
		int			i,
					j;

		if (*p < '0' || *p > '9')
		{
			p++;
			continue;
		}
		while (*p && ngroups < 128)
		{
			const char *q;

			gstart[ngroups] = ndigits;
			glen[ngroups] = 0;
			while (*p >= '0' && *p <= '9')
			{
				if (ndigits < 256)
				{
					digits[ndigits++] = *p - '0';
					glen[ngroups]++;
				}
				p++;
			}
			ngroups++;
			/* a separator continues the run only if more digits follow */
			q = p;
			while (*q == ' ' || *q == '-' || *q == '.')
				q++;
			if (q == p || q - p > 3 || *q < '0' || *q > '9')
				break;
			p = q;
		}
		/*
		 * Candidates: one unbroken group of 13 to 19 digits, or consecutive
		 * groups laid out as cards print them: fours with a last group of 1
		 * to 4 (4-4-4-4, 4-4-4-4-3), or 4-6-5 and 4-6-4 (Amex, Diners).
		 * Other groupings (phone numbers, 3-7-7 marketplace order numbers)
		 * are not card numbers.
		 */
		for (i = 0; i < ngroups; i++)
		{
			int			total = 0;

			if (glen[i] >= 13 && glen[i] <= 19 && OmsLuhn(digits + gstart[i], glen[i]))
				return true;
			if (glen[i] != 4)
				continue;
			/* fours, then a last group of 1 to 4 */
			for (j = i; j < ngroups; j++)
			{
				total += glen[j];
				if (total > 19 || glen[j] > 4)
					break;
				if (j > i && total >= 13 && OmsLuhn(digits + gstart[i], total))
					return true;
				if (glen[j] != 4)
					break;
			}
			/* 4-6-5 and 4-6-4 */
			if (i + 2 < ngroups && glen[i + 1] == 6 && (glen[i + 2] == 5 || glen[i + 2] == 4) &&
				OmsLuhn(digits + gstart[i], 10 + glen[i + 2]))
				return true;
		}
	}
	return false;
}

void
OmsCheckNoCardNumber(const char *value, const char *field)
{
	if (value && OmsContainsCardNumber(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s contains what looks like a payment card number", field),
				 errdetail("A run of 13 to 19 digits passing the Luhn check was found in %s; oms never stores card numbers.", field),
				 errhint("Send the payment provider's token, the card brand and the last four digits instead.")));
}

PG_FUNCTION_INFO_V1(contains_card_number);
/*
 * oms.contains_card_number(text): the PAN guard, for CHECK constraints.
 */
Datum
contains_card_number(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(OmsContainsCardNumber(text_to_cstring(PG_GETARG_TEXT_PP(0))));
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
