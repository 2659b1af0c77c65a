/*-------------------------------------------------------------------------
 *
 * valuation.c
 *	  The value of the stock: moving average cost per product, the valued
 *	  movements, and their journal entries (inventory on receipt, cost of
 *	  goods sold on shipment, inventory loss on write-off).
 *
 *	  Why moving average
 *	  ------------------
 *	  oms books stock per (product, location) but does not track lots, so
 *	  FIFO layers would be an invention of the books, not of the shelves;
 *	  standard cost needs a price list the merchant maintains and a
 *	  variance account. Moving average needs neither: every valued receipt
 *	  re-averages (value += qty * cost), and every unit that leaves takes
 *	  value / qty. It is one row per product, so the cost of a shipment is
 *	  known in its own transaction. The average is per product over all
 *	  locations (units move between locations without changing their cost).
 *	  When the last valued unit leaves, it takes exactly the value that is
 *	  left, so rounding never leaves a residue.
 *
 *	  Units received without a cost (receive_stock, restocked returns,
 *	  cycle counts) carry no value: a shipment or write-off values at most
 *	  the valued units there are (qty). A product is valued in the currency
 *	  of its first valued receipt; a receipt in another currency is refused.
 *
 *	  Locking: the valuation row of a product is taken after its balance
 *	  rows, and callers that touch several products call in ascending
 *	  product order after all their balance work (receipts, shipments), so
 *	  the valuation rows extend the global lock order at its end.
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

/* the currency a product is valued in, or NULL */
char *
ValuationCurrency(int64 product_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(product_id)};

	OmsQuery(OmsPlan(&plan,
					 "SELECT currency FROM oms.inventory_valuation WHERE product_id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	if (SPI_processed == 0)
		return NULL;
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

static void
ValuationRecord(int64 product_id, const char *currency, const char *kind, int32 qty, Datum value,
				int64 purchase_order_id, int64 order_id, int64 shipment_id, int64 entry_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[9] = {INT8OID, TEXTOID, TEXTOID, INT4OID, NUMERICOID, INT8OID, INT8OID, INT8OID, INT8OID};
	Datum		values[9];
	char		nulls[9] = "         ";

	values[0] = Int64GetDatum(product_id);
	values[1] = CStringGetTextDatum(currency);
	values[2] = CStringGetTextDatum(kind);
	values[3] = Int32GetDatum(qty);
	values[4] = value;
	values[5] = Int64GetDatum(purchase_order_id);
	values[6] = Int64GetDatum(order_id);
	values[7] = Int64GetDatum(shipment_id);
	values[8] = Int64GetDatum(entry_id);
	if (purchase_order_id <= 0)
		nulls[5] = 'n';
	if (order_id <= 0)
		nulls[6] = 'n';
	if (shipment_id <= 0)
		nulls[7] = 'n';
	if (entry_id <= 0)
		nulls[8] = 'n';
	OmsExec(OmsPlan(&plan,
					"INSERT INTO oms.valued_movements (product_id, currency, kind, qty, value, purchase_order_id, "
					"       order_id, shipment_id, journal_entry_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
					9, types), values, nulls, 0);
}

/*
 * Units received at unit_cost: the valuation row gains qty units and
 * qty * unit_cost of value (created on the first valued receipt, in this
 * currency), the journal posts Dr inventory, Cr goods received not
 * invoiced.
 */
void
ValuationReceipt(int64 product_id, const char *currency, int32 qty, Datum unit_cost, int64 purchase_order_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[4] = {INT8OID, TEXTOID, INT4OID, NUMERICOID};
	Datum		values[4];
	Datum		amount;
	char	   *held;
	const char *event = "inventory_receipt";
	int64		entry_id;

	values[0] = Int64GetDatum(product_id);
	values[1] = CStringGetTextDatum(currency);
	values[2] = Int32GetDatum(qty);
	values[3] = unit_cost;
	OmsExec(OmsPlan(&plan,
					"WITH a AS (SELECT pg_catalog.round($3::pg_catalog.numeric OPERATOR(pg_catalog.*) $4, 4) AS amount), "
					"     i AS (INSERT INTO oms.inventory_valuation AS v (product_id, currency, qty, value) "
					"           SELECT $1, $2, $3, a.amount FROM a "
					"           ON CONFLICT (product_id) DO UPDATE SET qty = v.qty OPERATOR(pg_catalog.+) excluded.qty, "
					"                  value = v.value OPERATOR(pg_catalog.+) excluded.value, updated_at = pg_catalog.now() "
					"            WHERE v.currency OPERATOR(pg_catalog.=) excluded.currency "
					"           RETURNING 1) "
					"SELECT a.amount FROM a WHERE EXISTS (SELECT FROM i)",
					4, types), values, NULL, 1);
	if (SPI_processed == 0)
	{
		held = ValuationCurrency(product_id);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("product " INT64_FORMAT " is valued in %s, not %s", product_id, held ? held : "?", currency),
				 errdetail("A product's stock is valued at moving average cost in one currency, that of its first valued receipt."),
				 errhint("Order it in %s, or convert the unit cost to %s.", held ? held : "?", held ? held : "?")));
	}
	amount = SPI_datumTransfer(OmsGetDatum(0, 1, NULL), false, -1);
	entry_id = LedgerPost("inventory_receipt", currency, 0, 0, 0, 0, 1, &event, &amount);
	ValuationRecord(product_id, currency, "receipt", qty, amount, purchase_order_id, 0, 0, entry_id);
}

/*
 * Units out at average cost: at most the valued units there are (see the
 * banner); the last valued unit takes what value is left. kind shipment
 * posts cost of goods sold, kind write_off inventory loss.
 */
void
ValuationIssue(int64 product_id, int32 qty, const char *kind, int64 order_id, int64 shipment_id)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_update = NULL;
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2];
	Datum		amount;
	Datum		neg;
	int32		take;
	char	   *currency;
	const char *event = strcmp(kind, "shipment") == 0 ? "cogs" : "inventory_write_off";
	int64		entry_id;

	values[0] = Int64GetDatum(product_id);
	values[1] = Int32GetDatum(qty);
	/*
	 * Two statements: the row locked first, then changed by what that read
	 * computed. (One statement with a FOR UPDATE CTE and an UPDATE joined to
	 * it let a concurrent issue of the same product slip in between under
	 * READ COMMITTED: the journal storm once left qty 0 with value 3.2850,
	 * refused by inventory_valuation_bounds_chk.)
	 */
	OmsQuery(OmsPlan(&plan,
					 "SELECT currency, LEAST(qty, $2::pg_catalog.int8)::integer AS take, "
					 "       CASE WHEN qty OPERATOR(pg_catalog.<=) $2 THEN value "
					 "            ELSE pg_catalog.round(value OPERATOR(pg_catalog.*) $2 OPERATOR(pg_catalog./) qty, 4) END AS amount "
					 "  FROM oms.inventory_valuation "
					 " WHERE product_id OPERATOR(pg_catalog.=) $1 AND qty OPERATOR(pg_catalog.>) 0 FOR UPDATE",
					 2, types), values, NULL, 1);
	if (SPI_processed == 0)
		return;					/* nothing valued */
	currency = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	take = OmsGetInt32(0, 2, NULL);
	amount = SPI_datumTransfer(OmsGetDatum(0, 3, NULL), false, -1);
	{
		Oid			t2[3] = {INT8OID, INT4OID, NUMERICOID};
		Datum		v2[3] = {Int64GetDatum(product_id), Int32GetDatum(take), amount};

		OmsExec(OmsPlan(&plan_update,
						"UPDATE oms.inventory_valuation SET qty = qty OPERATOR(pg_catalog.-) $2, "
						"       value = value OPERATOR(pg_catalog.-) $3, updated_at = pg_catalog.now() "
						" WHERE product_id OPERATOR(pg_catalog.=) $1",
						3, t2), v2, NULL, 0);
	}
	entry_id = LedgerPost(strcmp(kind, "shipment") == 0 ? "cogs" : "write_off", currency,
						  order_id, 0, 0, shipment_id, 1, &event, &amount);
	neg = DirectFunctionCall1(numeric_uminus, amount);
	ValuationRecord(product_id, currency, kind, -take, neg, 0, order_id, shipment_id, entry_id);
}

PG_FUNCTION_INFO_V1(valuation_append_only);
/* Trigger: valued movements are append-only. */
Datum
valuation_append_only(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "valuation_append_only: not called by trigger manager");
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("valued movements are append-only"),
			 errdetail("%s on %s is not allowed.",
					   TRIGGER_FIRED_BY_TRUNCATE(td->tg_event) ? "TRUNCATE" :
					   TRIGGER_FIRED_BY_DELETE(td->tg_event) ? "DELETE" : "UPDATE",
					   RelationGetRelationName(td->tg_relation)),
			 errhint("The value of the stock changes only through receipts, shipments and write-offs.")));
	return PointerGetDatum(NULL);
}
