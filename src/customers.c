/*-------------------------------------------------------------------------
 *
 * customers.c
 *	  A customer's contacts and personal data: saved addresses
 *	  (oms.save_customer_address), the mobile number
 *	  (oms.set_customer_phone), consent per purpose and channel
 *	  (oms.record_consent), and the two GDPR requests: the export of
 *	  everything oms holds about a customer as one JSON document
 *	  (oms.export_customer) and its erasure (oms.erase_customer).
 *
 *	  Erasure anonymises in place. The customer row stays (orders refer to
 *	  it, and the accounts must still add up), without name, email, phone
 *	  or the caller's reference (external_ref becomes "erased:<id>", which
 *	  keeps customers_identity_chk and never matches a shop's id again);
 *	  its addresses and consents are deleted; its orders lose their ship-to
 *	  (only the country and the pickup store stay), their coordinates and
 *	  their notes. Order lines, amounts, payments (which hold PSP tokens
 *	  only), shipments and the journal are kept. An erased customer cannot
 *	  be changed any more; a new order with the same email creates a new
 *	  customer.
 *
 *	  Locking: every function here locks the customer row first (FOR
 *	  UPDATE). place_order locks the customer it finds FOR KEY SHARE
 *	  (src/order_place.c, PoResolveCustomer) and re-reads it; erasure
 *	  changes external_ref, a key column, so the two wait for each other.
 *	  An order placed first is committed before the erasure reads the
 *	  orders, and is anonymised with them; an order placed after finds no
 *	  customer with that email or reference and creates a new one
 *	  (test/specs/erase_vs_place.spec).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "oms.h"

/* Lock the customer (FOR UPDATE); 22023 when there is none, 55000 when erased. */
static void
CustLock(int64 customer_id, bool allow_erased)
{
	static SPIPlanPtr plan = NULL;
	Oid			t1[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(customer_id)};
	bool		isnull;

	OmsQuery(OmsPlan(&plan, "SELECT erased_at FROM oms.customers WHERE id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
					 1, t1), values, NULL, 1);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("customer " INT64_FORMAT " does not exist", customer_id),
				 errdetail("No row in oms.customers has id " INT64_FORMAT ".", customer_id),
				 errhint("Use the customer_id of the order documents (oms.get_order).")));
	(void) OmsGetDatum(0, 1, &isnull);
	if (!isnull && !allow_erased)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("customer " INT64_FORMAT " was erased", customer_id),
				 errdetail("Its personal data was erased on request; it takes no new contact data."),
				 errhint("A customer who comes back is a new customer: place an order with their details.")));
}

/* the customer as the contact functions answer it */
static Datum
CustDocument(int64 customer_id)
{
	static SPIPlanPtr plan = NULL;
	Datum		doc;

	if (!OmsDocument(&plan,
					 "SELECT pg_catalog.jsonb_build_object('customer_id', c.id, 'external_ref', c.external_ref, "
					 "  'email', c.email, 'name', c.name, 'phone', c.phone, 'erased_at', c.erased_at, "
					 "  'addresses', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('label', a.label, "
					 "       'kind', a.kind, 'default', a.is_default, 'address', a.address) ORDER BY a.kind, a.label) "
					 "       FROM oms.customer_addresses a WHERE a.customer_id OPERATOR(pg_catalog.=) c.id), '[]'), "
					 "  'consents', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('purpose', k.purpose, "
					 "       'channel', k.channel, 'granted', k.granted, 'recorded_at', k.recorded_at, 'source', k.source) "
					 "       ORDER BY k.purpose, k.channel) "
					 "       FROM oms.customer_consents k WHERE k.customer_id OPERATOR(pg_catalog.=) c.id), '[]')) "
					 "  FROM oms.customers c WHERE c.id OPERATOR(pg_catalog.=) $1",
					 customer_id, NULL, &doc))
		elog(ERROR, "oms: customer " INT64_FORMAT " vanished", customer_id);
	return doc;
}

PG_FUNCTION_INFO_V1(save_customer_address);
/*
 * oms.save_customer_address(customer_id, address): {"label": ..., "kind":
 * shipping|billing, "default": bool, "address": {...}}; the address is
 * checked as an order's ship_to is (size, coordinates, card numbers).
 */
Datum
save_customer_address(PG_FUNCTION_ARGS)
{
	static const char *const keys[] = {"label", "kind", "default", "address", NULL};
	static const char *const coordinates[] = {"lat", "lon", NULL};
	static SPIPlanPtr plan_undefault = NULL;
	static SPIPlanPtr plan_save = NULL;
	Oid			t5[5] = {INT8OID, TEXTOID, TEXTOID, BOOLOID, JSONBOID};
	Datum		values[5];
	int64		customer_id;
	Jsonb	   *doc;
	JsonbValue	buf;
	JsonbValue *v;
	char	   *label;
	char	   *kind = "shipping";
	bool		is_default = false;
	JsonbContainer *addr;
	StringInfoData txt;
	const char *p;

	OmsRequireArg(fcinfo, 0, "customer_id");
	OmsRequireArg(fcinfo, 1, "address");
	customer_id = PG_GETARG_INT64(0);
	doc = PG_GETARG_JSONB_P(1);
	JsonDocument = "address";
	if (!JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
		JsonInvalid("address", "The address must be a JSON object.",
					"Send {\"label\": \"home\", \"address\": {\"name\": ..., \"line1\": ..., \"city\": ..., \"country\": ...}}.");
	JsonCheckKeys(&doc->root, keys, "the address");
	if ((v = JsonGet(&doc->root, "label", &buf)) == NULL)
		JsonInvalid("label", "The key label is required.", "Name the address, for example \"home\" or \"office\".");
	label = JsonString(v, "label", 32, true);
	for (p = label; *p; p++)
		if (!(islower((unsigned char) *p) || isdigit((unsigned char) *p) || ((*p == '_' || *p == '-') && p != label)))
			JsonInvalid("label", psprintf("label \"%s\" has a character other than lowercase letters, digits, _ and -.", label),
						"Use a short lowercase name such as \"home\".");
	if ((v = JsonGet(&doc->root, "kind", &buf)) != NULL)
	{
		kind = JsonString(v, "kind", 16, true);
		if (strcmp(kind, "shipping") != 0 && strcmp(kind, "billing") != 0)
			JsonInvalid("kind", psprintf("kind must be shipping or billing, not \"%s\".", kind),
						"Leave it out for a shipping address.");
	}
	if ((v = JsonGet(&doc->root, "default", &buf)) != NULL)
	{
		if (v->type != jbvBool)
			JsonInvalid("default", psprintf("default must be true or false, not %s.", JsonTypeName(v)),
						"Send true to make it the default address of its kind.");
		is_default = v->val.boolean;
	}
	if ((v = JsonGet(&doc->root, "address", &buf)) == NULL)
		JsonInvalid("address", "The key address is required.",
					"Send the address as an order's ship_to holds it: name, line1, city, postcode, country, lat, lon.");
	addr = JsonObject(v, "address");
	initStringInfo(&txt);
	JsonbToCString(&txt, addr, -1);
	if (txt.len > 16384)
		JsonInvalid("address", psprintf("address is %d bytes as JSON text; at most 16384 bytes are allowed.", txt.len),
					"Send the address and delivery instructions only.");
	if (JsonGet(addr, "pickup", &buf) != NULL)
		JsonInvalid("address.pickup", "A saved address is a postal address; a pickup store is named per order.",
					"Leave pickup out; place a click-and-collect order with ship_to.pickup.");
	{
		JsonbValue *lat = JsonGet(addr, "lat", &buf);
		bool		has_lat = lat != NULL;
		JsonbValue	buf2;
		JsonbValue *lon = JsonGet(addr, "lon", &buf2);

		if (has_lat != (lon != NULL))
			JsonInvalid("address", "address has only one of lat and lon.", "Give both coordinates or neither.");
		/* strtod of the text: an out-of-range number is out of range, never an overflow error */
		if (has_lat && (lat->type != jbvNumeric || lon->type != jbvNumeric ||
						!(fabs(strtod(OmsNumericText(NumericGetDatum(lat->val.numeric)), NULL)) <= 90) ||
						!(fabs(strtod(OmsNumericText(NumericGetDatum(lon->val.numeric)), NULL)) <= 180)))
			JsonInvalid("address", "address.lat and address.lon must be numbers within -90..90 and -180..180.",
						"Send WGS84 degrees, for example {\"lat\": 52.52, \"lon\": 13.40}.");
	}
	OmsCheckNoCardNumber(JsonScanText(addr, coordinates), "address");

	SPI_connect();
	CustLock(customer_id, false);
	values[0] = Int64GetDatum(customer_id);
	values[1] = CStringGetTextDatum(label);
	values[2] = CStringGetTextDatum(kind);
	values[3] = BoolGetDatum(is_default);
	values[4] = DirectFunctionCall1(jsonb_in, CStringGetDatum(txt.data));
	/* one default per kind: the new default takes the place of the old */
	if (is_default)
		OmsExec(OmsPlan(&plan_undefault,
						"UPDATE oms.customer_addresses SET is_default = false, updated_at = pg_catalog.now() "
						" WHERE customer_id OPERATOR(pg_catalog.=) $1 AND kind OPERATOR(pg_catalog.=) $3 AND is_default "
						"   AND label OPERATOR(pg_catalog.<>) $2",
						3, t5), values, NULL, 0);
	OmsExec(OmsPlan(&plan_save,
					"INSERT INTO oms.customer_addresses AS a (customer_id, label, kind, is_default, address) "
					"VALUES ($1, $2, $3, $4, $5) "
					"ON CONFLICT (customer_id, label) DO UPDATE SET kind = EXCLUDED.kind, is_default = EXCLUDED.is_default, "
					"       address = EXCLUDED.address, updated_at = pg_catalog.now()",
					5, t5), values, NULL, 0);
	PG_RETURN_DATUM(OmsFinish(CustDocument(customer_id)));
}

PG_FUNCTION_INFO_V1(set_customer_phone);
/*
 * oms.set_customer_phone(customer_id, phone): E.164 after dropping spaces,
 * dashes, dots and brackets; NULL removes it.
 */
Datum
set_customer_phone(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			t2[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	char		nulls[2] = "  ";
	int64		customer_id;
	StringInfoData norm;

	OmsRequireArg(fcinfo, 0, "customer_id");
	customer_id = PG_GETARG_INT64(0);
	initStringInfo(&norm);
	if (!PG_ARGISNULL(1))
	{
		char	   *typed = text_to_cstring(PG_GETARG_TEXT_PP(1));
		const char *p;
		int			digits = 0;

		if (strlen(typed) > 40)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("phone is too long"),
					 errdetail("phone has %d characters; at most 40 are allowed.", (int) strlen(typed)),
					 errhint("Send the number in international form, for example +49 151 12345678.")));
		for (p = typed; *p; p++)
		{
			if (strchr(" -.()/", *p))
				continue;
			if (*p == '+' && norm.len == 0)
				appendStringInfoChar(&norm, '+');
			else if (isdigit((unsigned char) *p))
			{
				appendStringInfoChar(&norm, *p);
				digits++;
			}
			else
			{
				norm.len = 0;
				break;
			}
		}
		if (norm.len == 0 || norm.data[0] != '+' || digits < 7 || digits > 15 || norm.data[1] == '0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid phone number"),
					 errdetail("A phone number is a + and the country code, then 7 to 15 digits in all (E.164)."),
					 errhint("Send the number in international form, for example +49 151 12345678.")));
	}
	SPI_connect();
	CustLock(customer_id, false);
	values[0] = Int64GetDatum(customer_id);
	values[1] = norm.len > 0 ? CStringGetTextDatum(norm.data) : (Datum) 0;
	nulls[1] = norm.len > 0 ? ' ' : 'n';
	OmsExec(OmsPlan(&plan, "UPDATE oms.customers SET phone = $2 WHERE id OPERATOR(pg_catalog.=) $1", 2, t2),
			values, nulls, 1);
	PG_RETURN_DATUM(OmsFinish(CustDocument(customer_id)));
}

PG_FUNCTION_INFO_V1(record_consent);
/*
 * oms.record_consent(customer_id, purpose, channel, granted, source): the
 * current state per purpose and channel, with when and how.
 */
Datum
record_consent(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			t5[5] = {INT8OID, TEXTOID, TEXTOID, BOOLOID, TEXTOID};
	Datum		values[5];
	int64		customer_id;
	char	   *purpose;
	char	   *channel;
	char	   *source;

	OmsRequireArg(fcinfo, 0, "customer_id");
	customer_id = PG_GETARG_INT64(0);
	purpose = OmsIdentifierArg(fcinfo, 1, "purpose", 32);
	channel = OmsIdentifierArg(fcinfo, 2, "channel", 32);
	OmsRequireArg(fcinfo, 3, "granted");
	OmsRequireArg(fcinfo, 4, "source");
	source = text_to_cstring(PG_GETARG_TEXT_PP(4));
	if (strcmp(purpose, "order_updates") != 0 && strcmp(purpose, "marketing") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown consent purpose \"%s\"", purpose),
				 errdetail("The purposes are order_updates and marketing."),
				 errhint("order_updates covers the messages about the customer's orders.")));
	if (strcmp(channel, "email") != 0 && strcmp(channel, "sms") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown consent channel \"%s\"", channel),
				 errdetail("The channels are email and sms."),
				 errhint("Record one consent per channel.")));
	if (strspn(source, " \t\r\n") == strlen(source))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source must not be empty"),
				 errdetail("A consent is recorded with how it was given or withdrawn."),
				 errhint("Say where, for example \"checkout checkbox\" or \"phone call with support\".")));
	OmsCheckFreeText(source, "source", 500);
	SPI_connect();
	CustLock(customer_id, false);
	values[0] = Int64GetDatum(customer_id);
	values[1] = CStringGetTextDatum(purpose);
	values[2] = CStringGetTextDatum(channel);
	values[3] = PG_GETARG_DATUM(3);
	values[4] = CStringGetTextDatum(source);
	OmsExec(OmsPlan(&plan,
					"INSERT INTO oms.customer_consents AS k (customer_id, purpose, channel, granted, source) "
					"VALUES ($1, $2, $3, $4, $5) "
					"ON CONFLICT (customer_id, purpose, channel) DO UPDATE SET granted = EXCLUDED.granted, "
					"       source = EXCLUDED.source, recorded_at = pg_catalog.now()",
					5, t5), values, NULL, 0);
	PG_RETURN_DATUM(OmsFinish(CustDocument(customer_id)));
}

PG_FUNCTION_INFO_V1(export_customer);
/*
 * oms.export_customer(customer_id): the contact document, then every order
 * with its lines, ship-to, payments (masked), shipments and RMAs.
 */
Datum
export_customer(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64		customer_id = PG_GETARG_INT64(0);
	Oid			t2[2] = {INT8OID, JSONBOID};
	Datum		values[2];

	SPI_connect();
	{
		static SPIPlanPtr plan_exists = NULL;
		Oid			t1[1] = {INT8OID};

		values[0] = Int64GetDatum(customer_id);
		OmsQuery(OmsPlan(&plan_exists, "SELECT 1 FROM oms.customers WHERE id OPERATOR(pg_catalog.=) $1", 1, t1),
				 values, NULL, 1);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("customer " INT64_FORMAT " does not exist", customer_id),
					 errdetail("No row in oms.customers has id " INT64_FORMAT ".", customer_id),
					 errhint("Use the customer_id of the order documents (oms.get_order).")));
	}
	values[1] = CustDocument(customer_id);
	OmsQuery(OmsPlan(&plan,
					 "SELECT $2 OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object("
					 "  'exported_at', pg_catalog.now(), "
					 "  'orders', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
					 "      'order_id', o.id, 'channel', ch.code, 'external_id', o.external_id, 'status', o.status, "
					 "      'placed_at', o.placed_at, 'currency', o.currency, 'total', o.total, 'ship_to', o.ship_to, "
					 "      'notes', o.notes, 'deliver_by', o.deliver_by, "
					 "      'lines', (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('sku', p.sku, 'name', p.name, "
					 "                  'qty', l.qty, 'unit_price', l.unit_price) ORDER BY l.line_no) "
					 "                  FROM oms.order_lines l JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) l.product_id "
					 "                 WHERE l.order_id OPERATOR(pg_catalog.=) o.id), "
					 "      'payments', (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('method', y.method, "
					 "                  'captured', y.captured, 'refunded', y.refunded, 'card_brand', y.card_brand, "
					 "                  'card_last4', y.card_last4) ORDER BY y.id) "
					 "                  FROM oms.payments y WHERE y.order_id OPERATOR(pg_catalog.=) o.id), "
					 "      'shipments', (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('status', s.status, "
					 "                  'tracking_number', s.tracking_number, 'shipped_at', s.shipped_at, "
					 "                  'delivered_at', s.delivered_at, 'handover', s.handover) ORDER BY s.id) "
					 "                  FROM oms.shipments s WHERE s.order_id OPERATOR(pg_catalog.=) o.id), "
					 "      'returns', (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('rma_id', r.id, "
					 "                  'status', r.status, 'created_at', r.created_at) ORDER BY r.id) "
					 "                  FROM oms.rmas r WHERE r.order_id OPERATOR(pg_catalog.=) o.id)) ORDER BY o.id) "
					 "    FROM oms.orders o JOIN oms.channels ch ON ch.id OPERATOR(pg_catalog.=) o.channel_id "
					 "   WHERE o.customer_id OPERATOR(pg_catalog.=) $1), '[]'))",
					 2, t2), values, NULL, 1);
	PG_RETURN_DATUM(OmsFinish(OmsGetDatum(0, 1, NULL)));
}

PG_FUNCTION_INFO_V1(erase_customer);
/*
 * oms.erase_customer(customer_id, reason): anonymise in place (see the
 * banner); a second call is a no-op that says so.
 */
Datum
erase_customer(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan_orders = NULL;
	static SPIPlanPtr plan_addresses = NULL;
	static SPIPlanPtr plan_consents = NULL;
	static SPIPlanPtr plan_customer = NULL;
	static SPIPlanPtr plan_erased = NULL;
	Oid			t1[1] = {INT8OID};
	Oid			t2[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	int64		customer_id;
	char	   *reason;
	uint64		orders;
	bool		isnull;

	OmsRequireArg(fcinfo, 0, "customer_id");
	OmsRequireArg(fcinfo, 1, "reason");
	customer_id = PG_GETARG_INT64(0);
	reason = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (strspn(reason, " \t\r\n") == strlen(reason))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("reason must not be empty"),
				 errdetail("An erasure is recorded with its reason."),
				 errhint("Say why, for example \"GDPR request of 2026-12-05\".")));
	OmsCheckFreeText(reason, "reason", OMS_MAX_REASON_CHARS);

	SPI_connect();
	CustLock(customer_id, true);
	values[0] = Int64GetDatum(customer_id);
	values[1] = CStringGetTextDatum(reason);
	OmsQuery(OmsPlan(&plan_erased, "SELECT erased_at FROM oms.customers WHERE id OPERATOR(pg_catalog.=) $1", 1, t1),
			 values, NULL, 1);
	(void) OmsGetDatum(0, 1, &isnull);
	if (!isnull)
		PG_RETURN_DATUM(OmsFinish(DirectFunctionCall1(jsonb_in, CStringGetDatum(
			psprintf("{\"customer_id\": " INT64_FORMAT ", \"erased\": false, \"note\": \"customer " INT64_FORMAT " is already erased; nothing to do\"}",
					 customer_id, customer_id)))));
	/* the orders: ship-to down to its country (and pickup store), no coordinates, no notes */
	OmsExec(OmsPlan(&plan_orders,
					"UPDATE oms.orders o SET ship_to = CASE WHEN o.ship_to IS NULL THEN NULL ELSE "
					"         pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('erased', true, "
					"           'country', o.ship_to OPERATOR(pg_catalog.->) 'country', "
					"           'pickup', o.ship_to OPERATOR(pg_catalog.->) 'pickup')) END, "
					"       ship_lat = NULL, ship_lon = NULL, notes = NULL "
					" WHERE o.customer_id OPERATOR(pg_catalog.=) $1",
					1, t1), values, NULL, 0);
	orders = SPI_processed;
	OmsExec(OmsPlan(&plan_addresses, "DELETE FROM oms.customer_addresses WHERE customer_id OPERATOR(pg_catalog.=) $1",
					1, t1), values, NULL, 0);
	OmsExec(OmsPlan(&plan_consents, "DELETE FROM oms.customer_consents WHERE customer_id OPERATOR(pg_catalog.=) $1",
					1, t1), values, NULL, 0);
	OmsExec(OmsPlan(&plan_customer,
					"UPDATE oms.customers SET external_ref = 'erased:' OPERATOR(pg_catalog.||) id::pg_catalog.text, "
					"       email = NULL, name = NULL, phone = NULL, erased_at = pg_catalog.now(), erase_reason = $2 "
					" WHERE id OPERATOR(pg_catalog.=) $1",
					2, t2), values, NULL, 1);
	PG_RETURN_DATUM(OmsFinish(DirectFunctionCall1(jsonb_in, CStringGetDatum(
		psprintf("{\"customer_id\": " INT64_FORMAT ", \"erased\": true, \"orders_anonymised\": " UINT64_FORMAT "}",
				 customer_id, orders)))));
}
