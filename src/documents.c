/*-------------------------------------------------------------------------
 *
 * documents.c
 *	  The printable documents of a shipment: the packing slip (text) and
 *	  the shipping label (ZPL, written by ZplLabel() of zpl.c, which
 *	  return labels use too). They only read.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "oms.h"

/* ship-to lines from the order's ship_to document */
#define FF_ADDRESS_SQL(o) \
	"pg_catalog.concat_ws(E'\\n', NULLIF(" o ".ship_to ->> 'name', ''), NULLIF(" o ".ship_to ->> 'company', ''), " \
	"  NULLIF(" o ".ship_to ->> 'line1', ''), NULLIF(" o ".ship_to ->> 'line2', ''), " \
	"  NULLIF(pg_catalog.concat_ws(' ', " o ".ship_to ->> 'postal_code', " o ".ship_to ->> 'city'), ''), " \
	"  NULLIF(" o ".ship_to ->> 'region', ''), NULLIF(" o ".ship_to ->> 'country', ''))"

PG_FUNCTION_INFO_V1(shipping_label);
/*
 * oms.shipping_label(shipment_id): the label of a shipped shipment (the
 * tracking number exists only once it shipped). A click-and-collect parcel
 * is addressed to the pickup store.
 */
Datum
shipping_label(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64		shipment_id = PG_GETARG_INT64(0);
	Oid			t1[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(shipment_id)};
	char	   *status;
	char	   *label;

	SPI_connect();
	OmsQuery(OmsPlan(&plan,
					 "SELECT s.status, "
					 "       pg_catalog.concat_ws(E'\\n', l.name, l.address), "
					 "       CASE WHEN pl.id IS NOT NULL "
					 "            THEN pg_catalog.concat_ws(E'\\n', COALESCE(o.ship_to ->> 'name', c.name), "
					 "                    'Click & collect: ' OPERATOR(pg_catalog.||) pl.name, pl.address) "
					 "            ELSE " FF_ADDRESS_SQL("o") " END, "
					 "       COALESCE(ca.name, ''), COALESCE(sv.name, ''), COALESCE(s.tracking_number, ''), "
					 "       pg_catalog.format('Order %s   Shipment %s   %s kg', o.external_id, s.id, s.weight_kg) "
					 "  FROM oms.shipments s "
					 "  JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) s.order_id "
					 "  JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) s.location_id "
					 "  LEFT JOIN oms.locations pl ON pl.id OPERATOR(pg_catalog.=) o.pickup_location_id "
					 "  LEFT JOIN oms.customers c ON c.id OPERATOR(pg_catalog.=) o.customer_id "
					 "  LEFT JOIN oms.carriers ca ON ca.id OPERATOR(pg_catalog.=) s.carrier_id "
					 "  LEFT JOIN oms.carrier_services sv ON sv.id OPERATOR(pg_catalog.=) s.service_id "
					 " WHERE s.id OPERATOR(pg_catalog.=) $1",
					 1, t1), values, NULL, 1);
	if (SPI_processed == 0)
		FulfillmentShipmentNotFound(shipment_id);
	status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (strcmp(status, "shipped") != 0 && strcmp(status, "delivered") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("shipment " INT64_FORMAT " has no label: it is %s", shipment_id, status),
				 errdetail("A label carries the carrier's tracking number, which a shipment gets when it ships."),
				 errhint("Call oms.ship() with the carrier, service and tracking number first; print the packing slip meanwhile.")));
	label = ZplLabel("SHIPMENT",
					 SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2),
					 SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3),
					 SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4),
					 SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5),
					 SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6),
					 SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7));
	PG_RETURN_DATUM(OmsFinish(PointerGetDatum(cstring_to_text(label))));
}

PG_FUNCTION_INFO_V1(packing_slip);
/*
 * oms.packing_slip(shipment_id): plain text for any printer; a kit line is
 * followed by its components, which is what the packer picks.
 */
Datum
packing_slip(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan_head = NULL;
	static SPIPlanPtr plan_lines = NULL;
	int64		shipment_id = PG_GETARG_INT64(0);
	Oid			t1[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(shipment_id)};
	StringInfoData s;
	int			i;
	int64		units = 0;

	SPI_connect();
	OmsQuery(OmsPlan(&plan_head,
					 "SELECT o.external_id, o.id, ch.code, s.id, l.name, l.code, s.status, "
					 "       pg_catalog.to_char(s.created_at, 'YYYY-MM-DD'), "
					 "       CASE WHEN pl.id IS NOT NULL "
					 "            THEN pg_catalog.concat_ws(E'\\n', COALESCE(o.ship_to ->> 'name', c.name), "
					 "                    'Click & collect: ' OPERATOR(pg_catalog.||) pl.name) "
					 "            ELSE " FF_ADDRESS_SQL("o") " END "
					 "  FROM oms.shipments s "
					 "  JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) s.order_id "
					 "  JOIN oms.channels ch ON ch.id OPERATOR(pg_catalog.=) o.channel_id "
					 "  JOIN oms.locations l ON l.id OPERATOR(pg_catalog.=) s.location_id "
					 "  LEFT JOIN oms.locations pl ON pl.id OPERATOR(pg_catalog.=) o.pickup_location_id "
					 "  LEFT JOIN oms.customers c ON c.id OPERATOR(pg_catalog.=) o.customer_id "
					 " WHERE s.id OPERATOR(pg_catalog.=) $1",
					 1, t1), values, NULL, 1);
	if (SPI_processed == 0)
		FulfillmentShipmentNotFound(shipment_id);
	initStringInfo(&s);
	{
		HeapTuple	t = SPI_tuptable->vals[0];
		TupleDesc	d = SPI_tuptable->tupdesc;
		char	   *to = SPI_getvalue(t, d, 9);
		char	   *line;

		appendStringInfoString(&s, "PACKING SLIP\n");
		appendStringInfo(&s, "Order:     %s (#%s, channel %s)\n", SPI_getvalue(t, d, 1), SPI_getvalue(t, d, 2), SPI_getvalue(t, d, 3));
		appendStringInfo(&s, "Shipment:  %s (%s), created %s\n", SPI_getvalue(t, d, 4), SPI_getvalue(t, d, 7), SPI_getvalue(t, d, 8));
		appendStringInfo(&s, "Ship from: %s (%s)\n", SPI_getvalue(t, d, 5), SPI_getvalue(t, d, 6));
		appendStringInfoString(&s, "Ship to:\n");
		for (line = strtok(to ? to : pstrdup(""), "\n"); line; line = strtok(NULL, "\n"))
			appendStringInfo(&s, "  %s\n", line);
	}
	OmsQuery(OmsPlan(&plan_lines,
					 "SELECT x.line_no, x.sku, COALESCE(x.gtin, ''), x.qty, x.name, x.component "
					 "  FROM (SELECT ol.line_no, p.sku, p.gtin::pg_catalog.text AS gtin, sl.qty, p.name, false AS component, 0 AS ord "
					 "          FROM oms.shipment_lines sl JOIN oms.order_lines ol ON ol.id OPERATOR(pg_catalog.=) sl.order_line_id "
					 "          JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) ol.product_id "
					 "         WHERE sl.shipment_id OPERATOR(pg_catalog.=) $1 "
					 "        UNION ALL "
					 "        SELECT ol.line_no, cp.sku, cp.gtin::pg_catalog.text, sl.qty OPERATOR(pg_catalog.*) kc.qty, cp.name, true, 1 "
					 "          FROM oms.shipment_lines sl JOIN oms.order_lines ol ON ol.id OPERATOR(pg_catalog.=) sl.order_line_id "
					 "          JOIN oms.kit_components kc ON kc.kit_id OPERATOR(pg_catalog.=) ol.product_id "
					 "          JOIN oms.products cp ON cp.id OPERATOR(pg_catalog.=) kc.component_id "
					 "         WHERE sl.shipment_id OPERATOR(pg_catalog.=) $1) x "
					 " ORDER BY x.line_no, x.ord, x.sku",
					 1, t1), values, NULL, 0);
	appendStringInfoString(&s, "\nLine  SKU                   GTIN              Qty  Description\n");
	appendStringInfoString(&s, "----  --------------------  --------------  -----  ------------------------------\n");
	for (i = 0; i < (int) SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		component = DatumGetBool(OmsGetDatum(i, 6, NULL));

		if (component)
			appendStringInfo(&s, "        - %-16s  %-14s  %5s  %s\n", SPI_getvalue(t, d, 2), SPI_getvalue(t, d, 3),
							 SPI_getvalue(t, d, 4), SPI_getvalue(t, d, 5));
		else
		{
			appendStringInfo(&s, "%4s  %-20s  %-14s  %5s  %s\n", SPI_getvalue(t, d, 1), SPI_getvalue(t, d, 2),
							 SPI_getvalue(t, d, 3), SPI_getvalue(t, d, 4), SPI_getvalue(t, d, 5));
			units += OmsGetInt32(i, 4, NULL);
		}
	}
	appendStringInfo(&s, "\nTotal units: " INT64_FORMAT "\n", units);
	PG_RETURN_DATUM(OmsFinish(PointerGetDatum(cstring_to_text_with_len(s.data, s.len))));
}
