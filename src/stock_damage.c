/*-------------------------------------------------------------------------
 *
 * stock_damage.c
 *	  Damaged stock at a location: oms.mark_damaged (sellable -> damaged,
 *	  movement kind damage), oms.repair (damaged -> sellable, kind repair,
 *	  then waiting backorders fill) and oms.write_off (damaged or sellable ->
 *	  gone, kind write_off, its value to inventory loss).
 *
 *	  Reserved units are never touched: sellable units leave only through a
 *	  guarded UPDATE (... WHERE on_hand - reserved >= q), so a write-off or a
 *	  damage report racing a reservation either finds the units free or
 *	  refuses; it never takes them from under an order. One balance row is
 *	  locked, then the product's valuation row (valuation.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "oms.h"

typedef enum DamageAction
{
	DAMAGE_MARK,
	DAMAGE_REPAIR,
	DAMAGE_WRITE_OFF
} DamageAction;

static Datum
DamageRun(FunctionCallInfo fcinfo, DamageAction action)
{
	static SPIPlanPtr plan_sellable_out = NULL;
	static SPIPlanPtr plan_damaged_out = NULL;
	static SPIPlanPtr plan_balance = NULL;
	Oid			types[4] = {INT8OID, INT4OID, INT4OID, INT4OID};
	Datum		values[4];
	char	   *sku;
	char	   *loc;
	int32		qty;
	char	   *reason;
	bool		from_damaged = action != DAMAGE_MARK;
	OmsProduct	p;
	int32		location_id;
	char	   *filled = "[]";
	char	   *balance;

	sku = OmsIdentifierArg(fcinfo, 0, "sku", OMS_MAX_SKU_CHARS);
	loc = OmsIdentifierArg(fcinfo, 1, "location", OMS_MAX_CODE_CHARS);
	OmsRequireArg(fcinfo, 2, "qty");
	OmsRequireArg(fcinfo, 3, "reason");
	qty = PG_GETARG_INT32(2);
	reason = text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (qty < 1 || qty > 1000000000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("qty must be between 1 and 1000000000"),
				 errdetail("The value given was %d.", qty),
				 errhint("Quantities are whole units greater than zero.")));
	OmsCheckFreeText(reason, "reason", OMS_MAX_REASON_CHARS);
	if (strspn(reason, " \t\r\n") == strlen(reason))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("reason must not be empty"),
				 errdetail("Every change of damaged stock is recorded with its reason."),
				 errhint("Say what happened, for example \"forklift, aisle 4\".")));
	if (action == DAMAGE_WRITE_OFF)
	{
		char	   *cond;

		OmsRequireArg(fcinfo, 4, "condition");
		cond = text_to_cstring(PG_GETARG_TEXT_PP(4));
		if (strcmp(cond, "sellable") == 0)
			from_damaged = false;
		else if (strcmp(cond, "damaged") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("condition must be damaged or sellable"),
					 errdetail("The value given is neither."),
					 errhint("Write off damaged units (the default), or unreserved sellable units.")));
	}

	SPI_connect();
	if (!OmsLookupProduct(sku, &p))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown sku \"%s\"", sku),
				 errdetail("No product in oms.products has this sku."),
				 errhint("Skus are case-sensitive.")));
	if (p.kind != OMS_KIND_STOCK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("product \"%s\" does not hold stock", sku),
				 errdetail("Only products of kind stock have balances."),
				 errhint("Name the components of a kit.")));
	if (!OmsLookupLocation(loc, &location_id, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown location \"%s\"", loc),
				 errdetail("No location in oms.locations has this code."),
				 errhint("Location codes are case-sensitive.")));

	values[0] = Int64GetDatum(p.id);
	values[1] = Int32GetDatum(location_id);
	values[2] = Int32GetDatum(qty);
	/* the to-side of the move: +1 into the other column (mark, repair), 0 gone (write-off) */
	values[3] = Int32GetDatum(action == DAMAGE_WRITE_OFF ? 0 : 1);
	if (from_damaged)
		OmsExec(OmsPlan(&plan_damaged_out,
						"UPDATE oms.stock_balances SET damaged = damaged OPERATOR(pg_catalog.-) $3, "
						"       on_hand = on_hand OPERATOR(pg_catalog.+) ($3 OPERATOR(pg_catalog.*) $4), updated_at = pg_catalog.now() "
						" WHERE product_id OPERATOR(pg_catalog.=) $1 AND location_id OPERATOR(pg_catalog.=) $2 "
						"   AND slot OPERATOR(pg_catalog.=) 0 AND damaged OPERATOR(pg_catalog.>=) $3 "
						"   AND on_hand OPERATOR(pg_catalog.<=) (2147483647 OPERATOR(pg_catalog.-) ($3 OPERATOR(pg_catalog.*) $4))",
						4, types), values, NULL, 0);
	else
		OmsExec(OmsPlan(&plan_sellable_out,
						"UPDATE oms.stock_balances SET on_hand = on_hand OPERATOR(pg_catalog.-) $3, "
						"       damaged = damaged OPERATOR(pg_catalog.+) ($3 OPERATOR(pg_catalog.*) $4), updated_at = pg_catalog.now() "
						" WHERE product_id OPERATOR(pg_catalog.=) $1 AND location_id OPERATOR(pg_catalog.=) $2 "
						"   AND slot OPERATOR(pg_catalog.=) 0 AND (on_hand OPERATOR(pg_catalog.-) reserved) OPERATOR(pg_catalog.>=) $3 "
						"   AND damaged OPERATOR(pg_catalog.<=) (2147483647 OPERATOR(pg_catalog.-) ($3 OPERATOR(pg_catalog.*) $4))",
						4, types), values, NULL, 0);
	if (SPI_processed == 0)
	{
		OmsQuery(OmsPlan(&plan_balance,
						 "SELECT on_hand, reserved, damaged FROM oms.stock_balances "
						 " WHERE product_id OPERATOR(pg_catalog.=) $1 AND location_id OPERATOR(pg_catalog.=) $2 "
						 "   AND slot OPERATOR(pg_catalog.=) 0",
						 2, types), values, NULL, 1);
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("only %d %s unit(s) of \"%s\" at \"%s\"%s", SPI_processed == 0 ? 0 :
						from_damaged ? OmsGetInt32(0, 3, NULL) : OmsGetInt32(0, 1, NULL) - OmsGetInt32(0, 2, NULL),
						from_damaged ? "damaged" : "unreserved", sku, loc,
						from_damaged ? "" : " can leave sellable stock"),
				 errdetail("%d unit(s) were asked for; on_hand %d, reserved %d, damaged %d.", qty,
						   SPI_processed == 0 ? 0 : OmsGetInt32(0, 1, NULL), SPI_processed == 0 ? 0 : OmsGetInt32(0, 2, NULL),
						   SPI_processed == 0 ? 0 : OmsGetInt32(0, 3, NULL)),
				 errhint(from_damaged ? "Mark the units damaged first with oms.mark_damaged()."
						 : "Reserved units belong to orders: cancel or reroute the orders holding them first.")));
	}
	if (action == DAMAGE_MARK)
		InventoryMovement(p.id, location_id, "damage", -qty, 0, qty, 0, reason);
	else if (action == DAMAGE_REPAIR)
		InventoryMovement(p.id, location_id, "repair", qty, 0, -qty, 0, reason);
	else
		InventoryMovement(p.id, location_id, "write_off", from_damaged ? 0 : -qty, 0, from_damaged ? -qty : 0, 0, reason);

	if (!from_damaged)
	{
		int64		pid = p.id;
		int32		dec = qty;

		InventoryLowStock(&pid, &dec, 1);
	}
	if (action == DAMAGE_REPAIR)
		filled = InventoryFillBackorders(p.id, location_id);
	if (action == DAMAGE_WRITE_OFF)
		ValuationIssue(p.id, qty, "write_off", 0, 0);

	{
		static SPIPlanPtr plan_json = NULL;

		OmsQuery(OmsPlan(&plan_json,
						 "SELECT pg_catalog.json_build_object('sku', p.sku, 'location', l.code, 'on_hand', b.on_hand, "
						 "       'reserved', b.reserved, 'damaged', b.damaged, 'safety_stock', b.safety_stock)::text "
						 "  FROM oms.stock_balances b JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) b.product_id "
						 "  JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) b.location_id "
						 " WHERE b.product_id OPERATOR(pg_catalog.=) $1 AND b.location_id OPERATOR(pg_catalog.=) $2 "
						 "   AND b.slot OPERATOR(pg_catalog.=) 0",
						 2, types), values, NULL, 1);
		balance = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	}
	return OmsFinish(DirectFunctionCall1(jsonb_in, CStringGetDatum(
											 psprintf("{\"qty\": %d, \"balance\": %s, \"backorders_filled\": %s}",
													  qty, balance, filled))));
}

PG_FUNCTION_INFO_V1(mark_damaged);
/* oms.mark_damaged(sku, location, qty, reason): unreserved sellable units -> damaged */
Datum
mark_damaged(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(DamageRun(fcinfo, DAMAGE_MARK));
}

PG_FUNCTION_INFO_V1(repair);
/* oms.repair(sku, location, qty, reason): damaged units -> sellable */
Datum
repair(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(DamageRun(fcinfo, DAMAGE_REPAIR));
}

PG_FUNCTION_INFO_V1(write_off);
/* oms.write_off(sku, location, qty, reason, condition): damaged (or unreserved sellable) units -> gone */
Datum
write_off(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(DamageRun(fcinfo, DAMAGE_WRITE_OFF));
}
