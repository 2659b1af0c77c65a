/*-------------------------------------------------------------------------
 *
 * ledger.c
 *	  The double-entry journal: postings from the business events, the
 *	  deferred balance check and the append-only guard.
 *
 *	  Every posting goes through LedgerPost(): one entry, and per event a
 *	  debit line and a credit line on the accounts oms.journal_rules names
 *	  for it. So every entry the oms functions write balances by
 *	  construction; the deferred constraint trigger (ledger_balance_check)
 *	  holds every other writer to the same rule at commit.
 *
 *	  Revenue is recognised when units ship: LedgerRecognize() computes, per
 *	  order, the net and tax of what has shipped (qty_shipped / qty of each
 *	  line's net and tax) and posts the difference to what was already
 *	  recognised, so partial shipments add up to the order and never more.
 *	  The order's shipping charge is recognised whole with its first
 *	  shipment (shipment_shipping, shipping revenue).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "oms.h"

/*
 * Post one entry: for each event, a debit and a credit of its amount on the
 * accounts of its rule; a negative amount reverses them (credit the debit
 * account, debit the credit account). Zero amounts are left out; an entry
 * with nothing to post is not written (0 is returned, else the entry id).
 */
int64
LedgerPost(const char *kind, const char *currency, int64 order_id, int64 payment_id, int64 rma_id,
		   int64 shipment_id, int nevents, const char **events, Datum *amounts)
{
	static SPIPlanPtr plan_entry = NULL;
	static SPIPlanPtr plan_lines = NULL;
	Oid			types[6] = {TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID};
	Datum		values[6];
	char		nulls[6] = "      ";
	Datum	   *ev = palloc(sizeof(Datum) * (nevents + 1));
	Datum	   *amt = palloc(sizeof(Datum) * (nevents + 1));
	Datum		zero = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
	int			n = 0;
	int			i;
	int64		entry_id;

	for (i = 0; i < nevents; i++)
	{
		if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, amounts[i], zero)) == 0)
			continue;
		ev[n] = CStringGetTextDatum(events[i]);
		amt[n] = amounts[i];
		n++;
	}
	if (n == 0)
		return 0;
	values[0] = CStringGetTextDatum(kind);
	values[1] = CStringGetTextDatum(currency);
	values[2] = Int64GetDatum(order_id);
	values[3] = Int64GetDatum(payment_id);
	values[4] = Int64GetDatum(rma_id);
	values[5] = Int64GetDatum(shipment_id);
	if (order_id <= 0)
		nulls[2] = 'n';
	if (payment_id <= 0)
		nulls[3] = 'n';
	if (rma_id <= 0)
		nulls[4] = 'n';
	if (shipment_id <= 0)
		nulls[5] = 'n';
	OmsExec(OmsPlan(&plan_entry,
					"INSERT INTO oms.journal_entries (kind, currency, order_id, payment_id, rma_id, shipment_id) "
					"VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
					6, types), values, nulls, 1);
	entry_id = OmsGetInt64(0, 1, NULL);
	{
		Oid			t3[3] = {INT8OID, TEXTARRAYOID, NUMERICARRAYOID};
		Datum		v3[3];

		v3[0] = Int64GetDatum(entry_id);
		v3[1] = PointerGetDatum(construct_array(ev, n, TEXTOID, -1, false, TYPALIGN_INT));
		v3[2] = PointerGetDatum(construct_array(amt, n, NUMERICOID, -1, false, TYPALIGN_INT));
		OmsExec(OmsPlan(&plan_lines,
						"INSERT INTO oms.journal_lines (entry_id, account, debit, credit) "
						"SELECT $1, x.account, x.debit, x.credit "
						"  FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3)) AS p(event, amount) "
						"  JOIN oms.journal_rules r ON r.event OPERATOR(pg_catalog.=) p.event "
						"  CROSS JOIN LATERAL (VALUES (r.debit_account, GREATEST(p.amount, 0), "
						"                                 GREATEST(OPERATOR(pg_catalog.-) p.amount, 0)), "
						"                             (r.credit_account, GREATEST(OPERATOR(pg_catalog.-) p.amount, 0), "
						"                                 GREATEST(p.amount, 0))) "
						"       AS x(account, debit, credit)",
						3, t3), v3, NULL, 0);
		if ((int) SPI_processed != 2 * n)
			elog(ERROR, "oms: a journal rule is missing for an event of entry kind %s", kind);
	}
	return entry_id;
}

/*
 * A payment action booked by the payments area: captures and refunds
 * post; authorizations and voids move no money. for_return: the refund is
 * for returned units (sales returns) rather than a cancellation.
 */
void
LedgerPayment(int64 payment_id, const char *action, Datum amount, int64 rma_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(payment_id)};
	char	   *method;
	const char *cls;
	const char *event;
	bool		shipped;

	if (strcmp(action, "capture") != 0 && strcmp(action, "refund") != 0)
		return;
	OmsQuery(OmsPlan(&plan,
					 "SELECT p.method, p.currency, p.order_id, "
					 "       EXISTS (SELECT FROM oms.order_lines l WHERE l.order_id OPERATOR(pg_catalog.=) p.order_id "
					 "                  AND l.qty_shipped OPERATOR(pg_catalog.>) 0) "
					 "  FROM oms.payments p WHERE p.id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	method = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	shipped = DatumGetBool(OmsGetDatum(0, 4, NULL));
	cls = strcmp(method, "gift_card") == 0 ? "gift_card" : strcmp(method, "store_credit") == 0 ? "store_credit" : "cash";
	if (strcmp(action, "capture") == 0)
		event = psprintf("capture_%s", cls);
	else
	{
		/*
		 * Money back for returned units, or on an order that shipped (a
		 * price allowance): sales returns. Otherwise (a cancellation,
		 * nothing recognised): back against the receivable.
		 */
		event = psprintf("%srefund_%s", (rma_id > 0 || shipped) ? "return_" : "", cls);
	}
	if (strcmp(action, "refund") == 0 && rma_id > 0)
	{
		/*
		 * Money back for returned units gives back their tax too: the
		 * tax part of the refund, in proportion to the tax in what the
		 * RMA's order lines cost, is taken off tax payable
		 * (return_refund_tax), so that sales returns hold the net alone.
		 */
		static SPIPlanPtr plan_tax = NULL;
		Oid			t2[2] = {INT8OID, NUMERICOID};
		Datum		v2[2];
		const char *events[2];
		Datum		amounts[2];
		char	   *currency = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		int64		order_id = OmsGetInt64(0, 3, NULL);

		v2[0] = Int64GetDatum(rma_id);
		v2[1] = amount;
		OmsQuery(OmsPlan(&plan_tax,
						 "SELECT COALESCE(pg_catalog.round($2 OPERATOR(pg_catalog.*) pg_catalog.sum(ol.tax OPERATOR(pg_catalog.*) rl.qty OPERATOR(pg_catalog./) ol.qty) "
						 "       OPERATOR(pg_catalog./) NULLIF(pg_catalog.sum((ol.unit_price OPERATOR(pg_catalog.*) ol.qty OPERATOR(pg_catalog.-) ol.discount "
						 "                OPERATOR(pg_catalog.+) ol.tax) OPERATOR(pg_catalog.*) rl.qty OPERATOR(pg_catalog./) ol.qty), 0), 4), 0) "
						 "  FROM oms.rma_lines rl JOIN oms.order_lines ol ON ol.id OPERATOR(pg_catalog.=) rl.order_line_id "
						 " WHERE rl.rma_id OPERATOR(pg_catalog.=) $1",
						 2, t2), v2, NULL, 1);
		events[0] = event;
		amounts[0] = amount;
		events[1] = "return_refund_tax";
		amounts[1] = SPI_datumTransfer(OmsGetDatum(0, 1, NULL), false, -1);
		LedgerPost(action, currency, order_id, payment_id, rma_id, 0, 2, events, amounts);
		return;
	}
	LedgerPost(action, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2),
			   OmsGetInt64(0, 3, NULL), payment_id, rma_id, 0, 1, &event, &amount);
}

/*
 * Recognise the revenue and tax of what an order has shipped and not been
 * recognised yet (see the banner).
 */
void
LedgerRecognize(int64 order_id, int64 shipment_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(order_id)};
	const char *events[3] = {"shipment_revenue", "shipment_tax", "shipment_shipping"};
	Datum		amounts[3];

	/*
	 * What has shipped, less what oms.revenue_recognized says was already
	 * recognised (not read back from the journal: the accounts a rule
	 * names may change between two shipments), and the new totals stored.
	 */
	OmsExec(OmsPlan(&plan,
					"WITH s AS (SELECT COALESCE(pg_catalog.sum(pg_catalog.round((l.unit_price OPERATOR(pg_catalog.*) l.qty "
					"                  OPERATOR(pg_catalog.-) l.discount) OPERATOR(pg_catalog.*) l.qty_shipped OPERATOR(pg_catalog./) l.qty, 4)), 0) AS net, "
					"                  COALESCE(pg_catalog.sum(pg_catalog.round(l.tax OPERATOR(pg_catalog.*) l.qty_shipped "
					"                  OPERATOR(pg_catalog./) l.qty, 4)), 0) AS tax, "
					"                  CASE WHEN pg_catalog.bool_or(l.qty_shipped OPERATOR(pg_catalog.>) 0) "
					"                       THEN (SELECT o.shipping FROM oms.orders o WHERE o.id OPERATOR(pg_catalog.=) $1) ELSE 0 END AS shipping "
					"             FROM oms.order_lines l WHERE l.order_id OPERATOR(pg_catalog.=) $1), "
					"     old AS (SELECT net, tax, shipping FROM oms.revenue_recognized WHERE order_id OPERATOR(pg_catalog.=) $1 FOR UPDATE), "
					"     up AS (INSERT INTO oms.revenue_recognized AS r (order_id, net, tax, shipping) SELECT $1, s.net, s.tax, s.shipping FROM s "
					"            ON CONFLICT (order_id) DO UPDATE SET net = excluded.net, tax = excluded.tax, shipping = excluded.shipping RETURNING 1) "
					"SELECT s.net OPERATOR(pg_catalog.-) COALESCE((SELECT net FROM old), 0), "
					"       s.tax OPERATOR(pg_catalog.-) COALESCE((SELECT tax FROM old), 0), "
					"       (SELECT o.currency FROM oms.orders o WHERE o.id OPERATOR(pg_catalog.=) $1), "
					"       (SELECT pg_catalog.count(*) FROM up), "
					"       s.shipping OPERATOR(pg_catalog.-) COALESCE((SELECT shipping FROM old), 0) "
					"  FROM s",
					1, types), values, NULL, 1);
	amounts[0] = SPI_datumTransfer(OmsGetDatum(0, 1, NULL), false, -1);
	amounts[1] = SPI_datumTransfer(OmsGetDatum(0, 2, NULL), false, -1);
	amounts[2] = SPI_datumTransfer(OmsGetDatum(0, 5, NULL), false, -1);
	LedgerPost("shipment", SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3),
			   order_id, 0, 0, shipment_id, 3, events, amounts);
}

PG_FUNCTION_INFO_V1(ledger_balance_check);
/* Deferred constraint trigger: the entry of the new line balances. */
Datum
ledger_balance_check(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	TriggerData *td = (TriggerData *) fcinfo->context;
	bool		isnull;
	Datum		entry;
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "ledger_balance_check: not called by trigger manager");
	entry = heap_getattr(td->tg_trigtuple, 2, RelationGetDescr(td->tg_relation), &isnull);
	values[0] = entry;
	SPI_connect();
	OmsQuery(OmsPlan(&plan,
					 "SELECT pg_catalog.sum(debit)::text, pg_catalog.sum(credit)::text, "
					 "       pg_catalog.sum(debit) OPERATOR(pg_catalog.=) pg_catalog.sum(credit) "
					 "  FROM oms.journal_lines WHERE entry_id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	if (!DatumGetBool(OmsGetDatum(0, 3, NULL)))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("journal entry " INT64_FORMAT " does not balance", DatumGetInt64(entry)),
				 errdetail("Debits %s, credits %s.", SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
						   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2)),
				 errhint("Every journal entry needs debits equal to its credits before the transaction commits.")));
	SPI_finish();
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(ledger_append_only);
/* The journal is append-only. */
Datum
ledger_append_only(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "ledger_append_only: not called by trigger manager");
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("the journal is append-only"),
			 errdetail("%s on %s is not allowed.",
					   TRIGGER_FIRED_BY_TRUNCATE(td->tg_event) ? "TRUNCATE" :
					   TRIGGER_FIRED_BY_DELETE(td->tg_event) ? "DELETE" : "UPDATE",
					   RelationGetRelationName(td->tg_relation)),
			 errhint("Correct an entry by posting a reversing entry.")));
	return PointerGetDatum(NULL);
}
