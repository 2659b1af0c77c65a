/*-------------------------------------------------------------------------
 *
 * events.c
 *	  The transactional outbox: EventsEmit() for every area, and the
 *	  consumer API oms.read_events / oms.ack_events.
 *
 *	  Delivery protocol
 *	  -----------------
 *	  Event ids come from a sequence when the row is inserted, but
 *	  transactions commit in another order: an event with id 103 can become
 *	  visible after id 105 was read. A cursor on id alone would skip it
 *	  forever. So every event records its writing transaction (xid8), and a
 *	  consumer reads in (xid, id) order, only events whose transaction is
 *	  older than the reader's snapshot xmin: every such transaction has
 *	  finished, so no event can later appear before the cursor.
 *
 *	  Each consumer has one row holding two positions: delivered (handed to
 *	  some worker) and acknowledged. read_events locks that row, hands out
 *	  the events after the delivered position and advances it, so
 *	  concurrent workers of one consumer queue on the row and get disjoint
 *	  batches. ack_events moves the acknowledged position. A batch that is
 *	  not acknowledged within oms.event_redelivery_seconds is delivered
 *	  again (at-least-once): the delivered position falls back to the
 *	  acknowledged one.
 *
 *	  NOTIFY oms_events (payload: the event id) is sent only when the GUC
 *	  oms.notify_events is on: NOTIFY serializes commits.
 *
 *	  EventsEmit() is the one path that writes oms.events: no other C
 *	  function and no SQL function inserts into it (a restore's COPY aside,
 *	  which events_restore_guard handles). So NOTIFY, and every later rule
 *	  about events, applies to every kind; test/t/004_notify.pl holds a
 *	  LISTEN client to one notification per event row, for every kind.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/xid8.h"

#include "oms.h"

bool		oms_notify_events = false;
int			oms_event_redelivery_seconds = 300;

/*
 * Write one event; payload is a JSON object text (NULL for {}). With
 * oms.notify_events on, queue NOTIFY oms_events with the new id (sent at
 * commit, dropped on rollback).
 */
void
EventsEmit(const char *kind, int64 order_id, const char *payload)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {TEXTOID, INT8OID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = "   ";
	int			connected = SPI_connect();

	values[0] = CStringGetTextDatum(kind);
	values[1] = Int64GetDatum(order_id);
	if (order_id <= 0)
		nulls[1] = 'n';
	values[2] = CStringGetTextDatum(payload ? payload : "{}");
	OmsExec(OmsPlan(&plan,
					"INSERT INTO oms.events (kind, order_id, payload) VALUES ($1, $2, $3::pg_catalog.jsonb) RETURNING id",
					3, types), values, nulls, 1);
	if (oms_notify_events)
		Async_Notify("oms_events", psprintf(INT64_FORMAT, OmsGetInt64(0, 1, NULL)));
	if (connected == SPI_OK_CONNECT)
		SPI_finish();
}

/*
 * The order_placed event of an order placed in this transaction, with its
 * total as it stands now: placement writes the order row first (the event
 * is written with it, src/lifecycle.c) and may then change the total
 * (prices from the lists, promotions, tax, shipping, units cancelled at
 * placement). The event is not visible to any reader before commit, so it
 * is amended in place rather than followed by a second event.
 */
void
EventsAmendPlacedTotal(int64 order_id, Datum total)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, NUMERICOID};
	Datum		values[2] = {Int64GetDatum(order_id), total};

	OmsExec(OmsPlan(&plan,
					"UPDATE oms.events SET payload = payload OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('total', $2) "
					" WHERE order_id OPERATOR(pg_catalog.=) $1 AND kind OPERATOR(pg_catalog.=) 'order_placed'",
					2, types), values, NULL, 0);
}

static inline void
EventsCheckConsumer(FunctionCallInfo fcinfo, const char **consumer)
{
	const char *c;
	const char *p;
	bool		ok;

	c = OmsIdentifierArg(fcinfo, 0, "consumer", 64);
	ok = strlen(c) >= 1 && strlen(c) <= 64 && isalnum((unsigned char) c[0]);
	for (p = c; ok && *p; p++)
		if (!isalnum((unsigned char) *p) && *p != '_' && *p != '.' && *p != '-')
			ok = false;
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid consumer name \"%s\"", c),
				 errdetail("A consumer name has 1 to 64 letters, digits, _, . or -, starting with a letter or digit."),
				 errhint("Name the consumer after the worker, for example \"mailer\".")));
	*consumer = c;
}

PG_FUNCTION_INFO_V1(read_events);
/*
 * oms.read_events(consumer, max): the next batch for this consumer.
 */
Datum
read_events(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan_lock = NULL;
	static SPIPlanPtr plan_read = NULL;
	static SPIPlanPtr plan_advance = NULL;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const char *consumer;
	int32		max;
	Oid			t1[1] = {TEXTOID};
	Oid			tread[4] = {TEXTOID, INT4OID, XID8OID, INT8OID};
	Oid			tadv[3] = {TEXTOID, XID8OID, INT8OID};
	Datum		values[4];
	Datum		cur_xid;
	int64		cur_id;
	bool		redeliver;
	int			n,
				i;
	MemoryContext oldcxt;

	EventsCheckConsumer(fcinfo, &consumer);
	OmsRequireArg(fcinfo, 1, "max");
	max = PG_GETARG_INT32(1);
	if (max < 1 || max > 10000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max must be between 1 and 10000"),
				 errdetail("The value given was %d.", max),
				 errhint("Read in batches of a few hundred events.")));

	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	values[0] = CStringGetTextDatum(consumer);
	/* create the consumer on first use, then lock its row */
	OmsExec(OmsPlan(&plan_lock,
					"WITH ins AS (INSERT INTO oms.event_consumers (consumer) VALUES ($1) ON CONFLICT DO NOTHING) "
					"SELECT 1",
					1, t1), values, NULL, 0);
	{
		static SPIPlanPtr plan_row = NULL;
		Oid			trow[2] = {TEXTOID, INT4OID};
		Datum		rv[2] = {values[0], Int32GetDatum(oms_event_redelivery_seconds)};

		OmsQuery(OmsPlan(&plan_row,
						 "SELECT delivered_xid, delivered_id, acked_xid, acked_id, "
						 "       (delivered_xid, delivered_id) OPERATOR(pg_catalog.>) (acked_xid, acked_id) "
						 "       AND delivered_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.make_interval(secs => $2)) "
						 "  FROM oms.event_consumers WHERE consumer OPERATOR(pg_catalog.=) $1 FOR UPDATE",
						 2, trow), rv, NULL, 1);
		if (SPI_processed != 1)
			elog(ERROR, "oms: event consumer row vanished");
		redeliver = DatumGetBool(OmsGetDatum(0, 5, NULL));
		if (redeliver)
		{
			cur_xid = OmsGetDatum(0, 3, NULL);
			cur_id = OmsGetInt64(0, 4, NULL);
		}
		else
		{
			cur_xid = OmsGetDatum(0, 1, NULL);
			cur_id = OmsGetInt64(0, 2, NULL);
		}
	}

	values[1] = Int32GetDatum(max);
	values[2] = cur_xid;
	values[3] = Int64GetDatum(cur_id);
	OmsQuery(OmsPlan(&plan_read,
					 "SELECT e.id, e.at, e.xid, e.kind, e.order_id, e.payload FROM oms.events e "
					 " WHERE (e.xid, e.id) OPERATOR(pg_catalog.>) ($3, $4) "
					 "   AND e.xid OPERATOR(pg_catalog.<) pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot()) "
					 " ORDER BY e.xid, e.id LIMIT $2",
					 4, tread), values, NULL, 0);
	n = (int) SPI_processed;

	oldcxt = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	for (i = 0; i < n; i++)
	{
		Datum		vals[6];
		bool		nulls[6];
		int			c;

		for (c = 0; c < 6; c++)
			vals[c] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, c + 1, &nulls[c]);
		/* copy by-reference values out of SPI memory */
		/* vals[2] (xid8) is pass-by-value */
		vals[3] = nulls[3] ? (Datum) 0 : PointerGetDatum(PG_DETOAST_DATUM_COPY(vals[3]));
		vals[5] = nulls[5] ? (Datum) 0 : PointerGetDatum(PG_DETOAST_DATUM_COPY(vals[5]));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, vals, nulls);
	}
	MemoryContextSwitchTo(oldcxt);

	if (n > 0)
	{
		Datum		av[3];

		av[0] = values[0];
		av[1] = SPI_getbinval(SPI_tuptable->vals[n - 1], SPI_tuptable->tupdesc, 3, &(bool){false});
		av[2] = SPI_getbinval(SPI_tuptable->vals[n - 1], SPI_tuptable->tupdesc, 1, &(bool){false});
		OmsExec(OmsPlan(&plan_advance,
						"UPDATE oms.event_consumers SET delivered_xid = $2, delivered_id = $3, delivered_at = pg_catalog.now() "
						" WHERE consumer OPERATOR(pg_catalog.=) $1",
						3, tadv), av, NULL, 0);
	}
	else if (redeliver)
	{
		/* nothing after the acknowledged position: reset the delivered one */
		Datum		av[3] = {values[0], cur_xid, Int64GetDatum(cur_id)};

		OmsExec(OmsPlan(&plan_advance,
						"UPDATE oms.event_consumers SET delivered_xid = $2, delivered_id = $3, delivered_at = pg_catalog.now() "
						" WHERE consumer OPERATOR(pg_catalog.=) $1",
						3, tadv), av, NULL, 0);
	}
	SPI_finish();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(ack_events);
/*
 * oms.ack_events(consumer, upto_id): acknowledge delivered events up to
 * upto_id. An id that was never delivered to the consumer is an error.
 */
Datum
ack_events(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan_pos = NULL;
	static SPIPlanPtr plan_ack = NULL;
	const char *consumer;
	int64		upto;
	Oid			t2[2] = {TEXTOID, INT8OID};
	Datum		values[2];
	int			acked;

	EventsCheckConsumer(fcinfo, &consumer);
	OmsRequireArg(fcinfo, 1, "upto_id");
	upto = PG_GETARG_INT64(1);

	SPI_connect();
	values[0] = CStringGetTextDatum(consumer);
	values[1] = Int64GetDatum(upto);
	/* the event must exist and lie inside the consumer's delivered range */
	OmsQuery(OmsPlan(&plan_pos,
					 "SELECT e.xid, e.id, "
					 "       (e.xid, e.id) OPERATOR(pg_catalog.<=) (c.delivered_xid, c.delivered_id) AS delivered, "
					 "       (e.xid, e.id) OPERATOR(pg_catalog.<=) (c.acked_xid, c.acked_id) AS acked "
					 "  FROM oms.event_consumers c, oms.events e "
					 " WHERE c.consumer OPERATOR(pg_catalog.=) $1 AND e.id OPERATOR(pg_catalog.=) $2 FOR UPDATE OF c",
					 2, t2), values, NULL, 1);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot acknowledge event " INT64_FORMAT " for consumer \"%s\"", upto, consumer),
				 errdetail("Either the consumer has never read events or there is no event " INT64_FORMAT ".", upto),
				 errhint("Acknowledge the id of the last event that oms.read_events returned.")));
	if (!DatumGetBool(OmsGetDatum(0, 3, NULL)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event " INT64_FORMAT " was not delivered to consumer \"%s\"", upto, consumer),
				 errdetail("A consumer can acknowledge only events that oms.read_events returned to it."),
				 errhint("Acknowledge the id of the last event that oms.read_events returned.")));
	if (DatumGetBool(OmsGetDatum(0, 4, NULL)))
	{
		SPI_finish();
		PG_RETURN_INT32(0);
	}
	{
		Oid			t3[3] = {TEXTOID, XID8OID, INT8OID};
		Datum		v3[3] = {values[0], OmsGetDatum(0, 1, NULL), Int64GetDatum(upto)};

		OmsExec(OmsPlan(&plan_ack,
						"WITH c AS (SELECT acked_xid, acked_id FROM oms.event_consumers WHERE consumer OPERATOR(pg_catalog.=) $1), "
						"     n AS (SELECT pg_catalog.count(*) AS n FROM oms.events e, c "
						"            WHERE (e.xid, e.id) OPERATOR(pg_catalog.>) (c.acked_xid, c.acked_id) "
						"              AND (e.xid, e.id) OPERATOR(pg_catalog.<=) ($2, $3)) "
						"UPDATE oms.event_consumers SET acked_xid = $2, acked_id = $3 "
						"  FROM n WHERE consumer OPERATOR(pg_catalog.=) $1 RETURNING n.n::int4",
						3, t3), v3, NULL, 0);
		acked = OmsGetInt32(0, 1, NULL);
	}
	SPI_finish();
	PG_RETURN_INT32(acked);
}

PG_FUNCTION_INFO_V1(events_restore_guard);
/*
 * BEFORE INSERT trigger on oms.events and oms.event_consumers. A row that
 * pg_restore brings carries transaction ids of another cluster, which mean
 * nothing here and could sort after every new event. They are moved to
 * transaction 0: restored events come first, in id order, and restored
 * cursors keep their position among them. A row inserted by hand gets the
 * current transaction by default and is left alone.
 */
Datum
events_restore_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	tup;
	const char *names[2];
	int			cols[2];
	Datum		vals[2];
	bool		nulls[2] = {false, false};
	int			n = 0;
	int			i;
	FullTransactionId current;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "events_restore_guard: not called by trigger manager");
	tup = td->tg_trigtuple;
	if (OmsWriteAllowed())
		return PointerGetDatum(tup);
	desc = td->tg_relation->rd_att;
	if (SPI_fnumber(desc, "xid") > 0)
		names[n++] = "xid";
	else
	{
		names[n++] = "acked_xid";
		names[n++] = "delivered_xid";
	}
	current = GetTopFullTransactionId();
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		d;

		cols[i] = SPI_fnumber(desc, names[i]);
		d = SPI_getbinval(tup, desc, cols[i], &isnull);
		vals[i] = d;
		if (!isnull && U64FromFullTransactionId(DatumGetFullTransactionId(d)) != 0 &&
			!FullTransactionIdEquals(DatumGetFullTransactionId(d), current))
			vals[i] = FullTransactionIdGetDatum(InvalidFullTransactionId);
	}
	return PointerGetDatum(heap_modify_tuple_by_cols(tup, desc, n, cols, vals, nulls));
}
