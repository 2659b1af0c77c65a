/*-------------------------------------------------------------------------
 *
 * shipment_create.c
 *	  oms.create_shipment: a shipment of the units an order holds at one
 *	  location and that no other pending shipment has (kits as whole kits).
 *
 *	  The order must be in a status with LCAP_SHIPPABLE. The first shipment
 *	  moves the order to in_fulfillment (FfInFulfillment in fulfillment.c).
 *	  Locking as in fulfillment.c: the order row first, then the rows read
 *	  for the lines.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"

#include "oms.h"
#include "fulfillment.h"

/*
 * Is the order covered (src/lifecycle.c, "Coverage")? *total and *held
 * (what its payments hold) are set for the messages.
 */
static bool
CreateCovered(int64 order_id, Datum *total, char **held)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(order_id)};
	int64		customer_id;

	OmsQuery(OmsPlan(&plan,
					 "SELECT total, COALESCE(customer_id, 0) FROM oms.orders WHERE id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	*total = SPI_datumTransfer(OmsGetDatum(0, 1, NULL), false, -1);
	customer_id = OmsGetInt64(0, 2, NULL);
	return LifecycleCovered(order_id, *total, customer_id, held);
}

/*
 * Does the order still wait for the payment that covers it? Asked only to
 * word the hint below.
 */
static bool
CreateAwaitsPayment(int64 order_id, const char *status)
{
	Datum		total;
	char	   *held;

	if (!LifecycleAllows(status, LCAP_HOLDS_STOCK) || !LifecycleAllows(status, LCAP_PAYABLE))
		return false;
	return !CreateCovered(order_id, &total, &held);
}

/*
 * A shippable status promises coverage (src/lifecycle.c, "Coverage"); the
 * status rules keep that promise, and this checks it once more where goods
 * would leave: no shipment for an order that is not covered.
 */
static void
CreateCheckCovered(int64 order_id)
{
	Datum		total;
	char	   *held;

	if (CreateCovered(order_id, &total, &held))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("order " INT64_FORMAT " cannot be shipped: it is not covered", order_id),
			 errdetail("The order total is %s, its payments hold %s (authorized less voided), and its customer is not on payment terms.",
					   DatumGetCString(DirectFunctionCall1(numeric_out, total)), held),
			 errhint("Record the payment with oms.authorize_payment() first.")));
}

/*
 * May the (locked) order get a shipment? Only in a status with
 * LCAP_SHIPPABLE. The hint tells what would make it shippable: a held
 * order (held_from set: the hold is a mechanism of its own, not a
 * capability, and on_hold shares its capabilities with pending_payment) is
 * released; an order that holds stock and still waits for its payment is
 * paid; one that holds stock in a status of its own (a custom status
 * without shippable) moves on; any other has nothing left to ship.
 */
static inline void
CreateCheckShippable(int64 order_id, const char *status, const char *held_from)
{
	const char *hint;

	if (LifecycleAllows(status, LCAP_SHIPPABLE))
	{
		CreateCheckCovered(order_id);
		return;
	}
	if (held_from != NULL)
		hint = "Release the hold first.";
	else if (CreateAwaitsPayment(order_id, status))
		hint = "Pay first: an authorization that covers the total confirms the order.";
	else if (LifecycleAllows(status, LCAP_HOLDS_STOCK))
		hint = "Move the order to a status that allows shipments first.";
	else
		hint = "Nothing can ship from this order.";
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("order " INT64_FORMAT " cannot be shipped: it is %s", order_id, status),
			 errdetail("Shipments are created for confirmed orders (status confirmed, in_fulfillment or partially_shipped)."),
			 errhint("%s", hint)));
}

/* an order line and what it can ship from the location */
typedef struct CreateLine
{
	int64		line_id;
	int32		line_no;
	char	   *sku;
	int32		open;			/* held at the location, not in a pending shipment */
	int32		want;
} CreateLine;

PG_FUNCTION_INFO_V1(create_shipment);
/*
 * oms.create_shipment(order_id, location, lines DEFAULT NULL). What a line
 * can ship from a location is what it holds there (kits: whole kits) minus
 * what pending shipments already have.
 */
Datum
create_shipment(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan_open = NULL;
	static SPIPlanPtr plan_weight = NULL;
	static SPIPlanPtr plan_ship = NULL;
	static SPIPlanPtr plan_lines = NULL;
	int64		order_id;
	char	   *location;
	int32		location_id;
	char	   *status;
	char	   *held_from;
	CreateLine *lines;
	int			nlines;
	int			i,
				j;
	int64		shipment_id;
	int64		total = 0;
	Oid			t2[2] = {INT8OID, INT4OID};
	Datum		values[3];

	OmsRequireArg(fcinfo, 0, "order_id");
	order_id = PG_GETARG_INT64(0);
	location = FfTextArg(fcinfo, 1, "location", OMS_MAX_CODE_CHARS);

	SPI_connect();
	location_id = FfLocation(location);
	status = LifecycleLockOrder(order_id, &held_from);
	CreateCheckShippable(order_id, status, held_from);

	values[0] = Int64GetDatum(order_id);
	values[1] = Int32GetDatum(location_id);
	OmsQuery(OmsPlan(&plan_open,
					 "SELECT ol.id, ol.line_no, p.sku, "
					 "       CASE WHEN p.kind OPERATOR(pg_catalog.=) 'kit' THEN "
					 "         (SELECT COALESCE(pg_catalog.min(COALESCE(h.held, 0) OPERATOR(pg_catalog./) kc.qty), 0) "
					 "            FROM oms.kit_components kc "
					 "            LEFT JOIN (SELECT r.product_id, pg_catalog.sum(r.qty)::int4 AS held FROM oms.reservations r "
					 "                        WHERE r.order_line_id OPERATOR(pg_catalog.=) ol.id "
					 "                          AND r.location_id OPERATOR(pg_catalog.=) $2 "
					 "                          AND r.status OPERATOR(pg_catalog.=) 'active' GROUP BY r.product_id) h "
					 "              ON h.product_id OPERATOR(pg_catalog.=) kc.component_id "
					 "           WHERE kc.kit_id OPERATOR(pg_catalog.=) ol.product_id) "
					 "       ELSE (SELECT COALESCE(pg_catalog.sum(r.qty), 0)::int4 FROM oms.reservations r "
					 "              WHERE r.order_line_id OPERATOR(pg_catalog.=) ol.id AND r.location_id OPERATOR(pg_catalog.=) $2 "
					 "                AND r.status OPERATOR(pg_catalog.=) 'active') END "
					 "       OPERATOR(pg_catalog.-) "
					 "       (SELECT COALESCE(pg_catalog.sum(sl.qty), 0)::int4 FROM oms.shipment_lines sl "
					 "          JOIN oms.shipments s ON s.id OPERATOR(pg_catalog.=) sl.shipment_id "
					 "         WHERE sl.order_line_id OPERATOR(pg_catalog.=) ol.id AND s.location_id OPERATOR(pg_catalog.=) $2 "
					 "           AND s.status OPERATOR(pg_catalog.=) 'pending') "
					 "  FROM oms.order_lines ol JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) ol.product_id "
					 " WHERE ol.order_id OPERATOR(pg_catalog.=) $1 AND p.kind OPERATOR(pg_catalog.<>) 'service' "
					 " ORDER BY ol.line_no",
					 2, t2), values, NULL, 0);
	nlines = (int) SPI_processed;
	lines = palloc0(sizeof(CreateLine) * (nlines + 1));
	for (i = 0; i < nlines; i++)
	{
		lines[i].line_id = OmsGetInt64(i, 1, NULL);
		lines[i].line_no = OmsGetInt32(i, 2, NULL);
		lines[i].sku = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3);
		lines[i].open = Max(OmsGetInt32(i, 4, NULL), 0);
	}

	if (PG_ARGISNULL(2))
	{
		for (i = 0; i < nlines; i++)
			lines[i].want = lines[i].open;
	}
	else
	{
		static const char *const keys[] = {"line_no", "sku", "qty", NULL};
		Jsonb	   *doc = PG_GETARG_JSONB_P(2);
		int32	   *line_nos;
		char	  **skus;
		int			n;

		JsonDocument = "shipment";
		if (!JB_ROOT_IS_ARRAY(doc) || JB_ROOT_IS_SCALAR(doc))
			JsonInvalid("lines", "lines must be a JSON array of {\"line_no\" or \"sku\", \"qty\"}.",
						"Pass NULL to ship everything the order holds at the location.");
		n = JsonContainerSize(&doc->root);
		if (n == 0)
			JsonInvalid("lines", "lines is empty.", "Pass NULL to ship everything the order holds at the location.");
		line_nos = palloc(sizeof(int32) * (nlines + 1));
		skus = palloc(sizeof(char *) * (nlines + 1));
		for (j = 0; j < nlines; j++)
		{
			line_nos[j] = lines[j].line_no;
			skus[j] = lines[j].sku;
		}
		for (i = 0; i < n; i++)
		{
			JsonbValue *lv = getIthJsonbValueFromContainer(&doc->root, i);
			char	   *path = psprintf("lines[%d]", i);
			JsonbContainer *l = JsonObject(lv, path);
			JsonbValue	buf;
			JsonbValue *f;
			int			found = -1;
			int32		qty;

			JsonCheckKeys(l, keys, path);
			found = JsonOrderLine(l, path, order_id, nlines, line_nos, skus);
			if ((f = JsonGet(l, "qty", &buf)) == NULL)
				JsonInvalid(psprintf("%s.qty", path), psprintf("%s.qty is required.", path), "Give the units to ship.");
			qty = JsonInt(f, psprintf("%s.qty", path), 1, 1000000, "Give the units to ship, at least 1.");
			if (lines[found].want > 0)
				JsonInvalid(path, psprintf("Line %d is listed twice.", lines[found].line_no), "List each line once.");
			lines[found].want = qty;
		}
		for (i = 0; i < nlines; i++)
			if (lines[i].want > lines[i].open)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid shipment: line %d asks to ship more than is reserved at %s", lines[i].line_no, location),
						 errdetail("Line %d (%s) asks for %d unit(s); the order holds %d at %s that no other pending shipment has.",
								   lines[i].line_no, lines[i].sku, lines[i].want, lines[i].open, location),
						 errhint("Ship at most what is reserved at the location; see oms.get_order for where units are held.")));
	}
	for (i = 0; i < nlines; i++)
		total += lines[i].want;
	if (total == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order " INT64_FORMAT " has nothing to ship from %s", order_id, location),
				 errdetail("No unit of the order is reserved at %s outside another pending shipment.", location),
				 errhint("See oms.get_order for where the order's units are held.")));

	/* the shipment and its lines */
	{
		int64	   *ids = palloc(sizeof(int64) * (nlines + 1));
		int32	   *qtys = palloc(sizeof(int32) * (nlines + 1));
		int			k = 0;
		Oid			tw[2] = {INT8ARRAYOID, INT4ARRAYOID};
		Oid			ts[3] = {INT8OID, INT4OID, NUMERICOID};
		Oid			tl[3] = {INT8OID, INT8ARRAYOID, INT4ARRAYOID};
		Datum		weight;

		for (i = 0; i < nlines; i++)
			if (lines[i].want > 0)
			{
				ids[k] = lines[i].line_id;
				qtys[k] = lines[i].want;
				k++;
			}
		/* the weight: the stock items' weight (a kit weighs its components) */
		values[0] = PointerGetDatum(OmsInt8Array(ids, k));
		values[1] = PointerGetDatum(OmsInt4Array(qtys, k));
		OmsQuery(OmsPlan(&plan_weight,
						 "SELECT COALESCE(pg_catalog.sum(x.qty OPERATOR(pg_catalog.*) COALESCE(( "
						 "           SELECT pg_catalog.sum(kc.qty OPERATOR(pg_catalog.*) cp.weight_kg) "
						 "             FROM oms.kit_components kc JOIN oms.products cp ON cp.id OPERATOR(pg_catalog.=) kc.component_id "
						 "            WHERE kc.kit_id OPERATOR(pg_catalog.=) p.id AND p.kind OPERATOR(pg_catalog.=) 'kit'), p.weight_kg)), 0) "
						 "  FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) AS x(line_id, qty) "
						 "  JOIN oms.order_lines ol ON ol.id OPERATOR(pg_catalog.=) x.line_id "
						 "  JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) ol.product_id",
						 2, tw), values, NULL, 1);
		weight = SPI_datumTransfer(OmsGetDatum(0, 1, NULL), false, -1);
		/* weight_kg is numeric(10,3): the bare 22003 of the INSERT, told as what it is */
		if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, weight,
											  DirectFunctionCall1(int4_numeric, Int32GetDatum(10000000)))) >= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid shipment: lines"),
					 errdetail("The units to ship from %s weigh %s kg; a shipment's weight_kg is below 10000000 kg.",
							   location, OmsNumericText(weight)),
					 errhint("Ship the units in several shipments: pass lines with part of the quantities, or check the products' weight_kg.")));
		values[0] = Int64GetDatum(order_id);
		values[1] = Int32GetDatum(location_id);
		values[2] = weight;
		OmsExec(OmsPlan(&plan_ship,
						"INSERT INTO oms.shipments (order_id, location_id, currency, weight_kg, distance_km) "
						"SELECT o.id, l.id, o.currency, $3, "
						"       CASE WHEN o.ship_lat IS NOT NULL THEN "
						"         pg_catalog.round(oms.distance_km(l.latitude, l.longitude, o.ship_lat, o.ship_lon)::pg_catalog.numeric, 1) END "
						"  FROM oms.orders o, oms.locations l "
						" WHERE o.id OPERATOR(pg_catalog.=) $1 AND l.id OPERATOR(pg_catalog.=) $2 "
						"RETURNING id",
						3, ts), values, NULL, 1);
		shipment_id = OmsGetInt64(0, 1, NULL);
		values[0] = Int64GetDatum(shipment_id);
		values[1] = PointerGetDatum(OmsInt8Array(ids, k));
		values[2] = PointerGetDatum(OmsInt4Array(qtys, k));
		OmsExec(OmsPlan(&plan_lines,
						"INSERT INTO oms.shipment_lines (shipment_id, order_line_id, qty) "
						"SELECT $1, * FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3))",
						3, tl), values, NULL, 0);
	}
	/* the first shipment puts the order in fulfillment */
	if (!FfInFulfillment(status))
		LifecycleChange(order_id, "in_fulfillment", psprintf("shipment " INT64_FORMAT " created at %s", shipment_id, location), false);
	EventsEmit("shipment_created", order_id,
			   psprintf("{\"shipment_id\": " INT64_FORMAT ", \"location\": \"%s\", \"units\": " INT64_FORMAT "}",
						shipment_id, location, total));
	PG_RETURN_DATUM(OmsFinish(FfDocument(shipment_id, NULL)));
}
