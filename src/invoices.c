/*-------------------------------------------------------------------------
 *
 * invoices.c
 *	  Invoices and receivables of customers on payment terms.
 *
 *	  InvoicesIssue: placement confirms an order of a customer flagged
 *	  terms (src/order_place.c, PoApplyRules) and issues its invoice: the
 *	  next number of oms.invoice_number_seq, issued today, due after the
 *	  customer's terms_days, for the order's total (shipping and tax
 *	  included).
 *
 *	  InvoicesFollow: the invoice follows its order. After an edit or a
 *	  line cancel changed the total (src/order_edit_apply.c) its amount is
 *	  the new total; after a cancel (src/order_actions.c) it is void.
 *	  Its status is open while amount > paid, paid once paid reaches the
 *	  amount (an edit that raises the total opens it again).
 *
 *	  oms.settle_invoice(invoice_id, payment): a payment of method
 *	  invoice, check or bank_transfer of at most what the invoice still
 *	  asks for, authorized and captured on the order through
 *	  oms.authorize_payment and oms.capture_payment (so the one money path,
 *	  the journal's capture entry and the events are those of any payment),
 *	  then added to the invoice's paid.
 *
 *	  The journal: what an open invoice asks for (amount - paid; 0 for a
 *	  paid or void one) sits on invoices_receivable. Each change posts the
 *	  difference (invoice_issue: Dr invoices_receivable, Cr
 *	  accounts_receivable; negative when it shrinks), each settlement its
 *	  amount (invoice_settle: Dr accounts_receivable, Cr
 *	  invoices_receivable), so the account's balance is the open invoices'
 *	  sum (oms.check(): invoices_receivable_posted).
 *
 *	  Locking: the order row, then the invoice row, as every payment
 *	  action (payments.c). Two settlements of one invoice queue on the
 *	  order row; the second sees what the first paid.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "oms.h"

/* post the change of what an invoice asks for */
static void
InvPost(const char *event, const char *currency, int64 order_id, int64 payment_id, Datum amount)
{
	LedgerPost("invoice", currency, order_id, payment_id, 0, 0, 1, &event, &amount);
}

/*
 * The invoice of a (locked) order just confirmed on terms: written once
 * (a second call finds it), posted to invoices_receivable.
 */
void
InvoicesIssue(int64 order_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(order_id)};

	OmsQuery(OmsPlan(&plan,
					 "INSERT INTO oms.invoices (number, order_id, customer_id, currency, issued_on, due_on, amount) "
					 "SELECT 'INV-' OPERATOR(pg_catalog.||) pg_catalog.lpad(pg_catalog.nextval('oms.invoice_number_seq')::text, 6, '0'), "
					 "       o.id, o.customer_id, o.currency, CURRENT_DATE, CURRENT_DATE OPERATOR(pg_catalog.+) c.terms_days, o.total "
					 "  FROM oms.orders o JOIN oms.customers c ON c.id OPERATOR(pg_catalog.=) o.customer_id "
					 " WHERE o.id OPERATOR(pg_catalog.=) $1 "
					 "ON CONFLICT (order_id) DO NOTHING RETURNING currency, amount",
					 1, types), values, NULL, 0);
	if (SPI_processed == 1)
		InvPost("invoice_issue", SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), order_id, 0,
				SPI_datumTransfer(OmsGetDatum(0, 2, NULL), false, -1));
}

/*
 * The (locked) order's invoice, if any, follows it: void when the order
 * is terminal, else its amount is the order's total; the change of what
 * it asks for is posted.
 */
void
InvoicesFollow(int64 order_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(order_id)};

	OmsQuery(OmsPlan(&plan,
					 "WITH old AS (SELECT i.id, CASE WHEN i.status OPERATOR(pg_catalog.=) 'open' "
					 "                               THEN i.amount OPERATOR(pg_catalog.-) i.paid ELSE 0 END AS asks "
					 "               FROM oms.invoices i WHERE i.order_id OPERATOR(pg_catalog.=) $1 "
					 "                AND i.status OPERATOR(pg_catalog.<>) 'void' FOR UPDATE), "
					 "     o AS (SELECT o.total, s.terminal FROM oms.orders o "
					 "             JOIN oms.order_statuses s ON s.status OPERATOR(pg_catalog.=) o.status "
					 "            WHERE o.id OPERATOR(pg_catalog.=) $1), "
					 "     up AS (UPDATE oms.invoices i "
					 "               SET amount = CASE WHEN o.terminal THEN i.amount ELSE o.total END, "
					 "                   status = CASE WHEN o.terminal THEN 'void' "
					 "                                 WHEN i.paid OPERATOR(pg_catalog.>=) o.total THEN 'paid' ELSE 'open' END, "
					 "                   voided_at = CASE WHEN o.terminal THEN pg_catalog.now() END "
					 "              FROM old, o WHERE i.id OPERATOR(pg_catalog.=) old.id "
					 "            RETURNING i.currency, old.asks, "
					 "                      CASE WHEN i.status OPERATOR(pg_catalog.=) 'open' "
					 "                           THEN i.amount OPERATOR(pg_catalog.-) i.paid ELSE 0 END AS asks_now) "
					 "SELECT currency, asks_now OPERATOR(pg_catalog.-) asks FROM up",
					 1, types), values, NULL, 0);
	if (SPI_processed == 1)
		InvPost("invoice_issue", SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), order_id, 0,
				SPI_datumTransfer(OmsGetDatum(0, 2, NULL), false, -1));
}

static void
InvNotFound(int64 invoice_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invoice " INT64_FORMAT " does not exist", invoice_id),
			 errdetail("No row in oms.invoices has id " INT64_FORMAT ".", invoice_id),
			 errhint("Invoices are issued for orders of customers on payment terms; see oms.invoices.")));
}

PG_FUNCTION_INFO_V1(settle_invoice);
/*
 * oms.settle_invoice(invoice_id, payment): see the banner. The document
 * is {"method": "invoice" | "check" | "bank_transfer", "amount": n,
 * "reference": "..."}.
 */
Datum
settle_invoice(PG_FUNCTION_ARGS)
{
	static const char *const keys[] = {"method", "amount", "reference", NULL};
	static SPIPlanPtr plan_find = NULL;
	static SPIPlanPtr plan_lock = NULL;
	static SPIPlanPtr plan_pay = NULL;
	static SPIPlanPtr plan_paid = NULL;
	int64		invoice_id;
	Jsonb	   *doc;
	JsonbValue	buf;
	JsonbValue *v;
	char	   *method;
	char	   *reference = NULL;
	Datum		amount;
	int64		order_id;
	int64		payment_id;
	char	   *status;
	char	   *currency;
	char	   *number;
	Datum		asks;
	Oid			t1[1] = {INT8OID};
	Datum		v1[1];
	StringInfoData pay;
	Datum		result;

	OmsRequireArg(fcinfo, 0, "invoice_id");
	OmsRequireArg(fcinfo, 1, "payment");
	invoice_id = PG_GETARG_INT64(0);
	doc = PG_GETARG_JSONB_P(1);

	/* the document, before any table is read */
	JsonDocument = "settlement";
	if (!JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
		JsonInvalid("document", "The settlement must be a JSON object.",
					"Send {\"method\": \"bank_transfer\", \"amount\": ..., \"reference\": ...}.");
	JsonCheckKeys(&doc->root, keys, "the settlement");
	if ((v = JsonGet(&doc->root, "method", &buf)) == NULL)
		JsonInvalid("method", "The key method is required.", "Use invoice, check or bank_transfer.");
	method = JsonString(v, "method", 32, true);
	if (strcmp(method, "invoice") != 0 && strcmp(method, "check") != 0 && strcmp(method, "bank_transfer") != 0)
		JsonInvalid("method", psprintf("method must be invoice, check or bank_transfer, not \"%s\".", method),
					"Cards and gift cards pay through oms.authorize_payment.");
	if ((v = JsonGet(&doc->root, "amount", &buf)) == NULL)
		JsonInvalid("amount", "The key amount is required.", "Give the amount received.");
	amount = JsonMoney(v, "amount");
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, amount, DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) <= 0)
		JsonInvalid("amount", "amount must be greater than 0.", "Give the amount received.");
	if ((v = JsonGet(&doc->root, "reference", &buf)) != NULL)
	{
		reference = JsonString(v, "reference", 200, true);
		OmsCheckNoCardNumber(reference, "reference");
	}

	SPI_connect();
	v1[0] = Int64GetDatum(invoice_id);
	OmsQuery(OmsPlan(&plan_find, "SELECT order_id FROM oms.invoices WHERE id OPERATOR(pg_catalog.=) $1", 1, t1), v1, NULL, 1);
	if (SPI_processed == 0)
		InvNotFound(invoice_id);
	order_id = OmsGetInt64(0, 1, NULL);

	/* the order row, then the invoice (the lock order of payments) */
	v1[0] = Int64GetDatum(order_id);
	OmsQuery(OmsPlan(&plan_lock,
					 "SELECT i.status, i.currency, i.number, i.amount OPERATOR(pg_catalog.-) i.paid "
					 "  FROM oms.orders o JOIN oms.invoices i ON i.order_id OPERATOR(pg_catalog.=) o.id "
					 " WHERE o.id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
					 1, t1), v1, NULL, 1);
	status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	currency = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	number = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	asks = SPI_datumTransfer(OmsGetDatum(0, 4, NULL), false, -1);
	if (strcmp(status, "open") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("invoice %s cannot be settled: it is %s", number, status),
				 errdetail(strcmp(status, "paid") == 0 ? "It is paid in full." : "Its order was cancelled."),
				 errhint(strcmp(status, "paid") == 0 ? "A payment received twice is paid back with oms.refund_payment."
						 : "Nothing is owed on a void invoice.")));
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, amount, asks)) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("settlement of %s exceeds the %s invoice %s still asks for",
						OmsNumericText(amount), OmsNumericText(asks), number),
				 errdetail("An invoice is settled up to its open amount (amount less what is paid)."),
				 errhint("Record at most the open amount; pay back a surplus received with oms.refund_payment.")));

	/* the payment, through the payments area */
	initStringInfo(&pay);
	appendStringInfo(&pay, "{\"method\": \"%s\", \"amount\": %s", method, OmsNumericText(amount));
	if (reference)
	{
		appendStringInfoString(&pay, ", \"psp_reference\": ");
		escape_json(&pay, reference);
	}
	appendStringInfoChar(&pay, '}');
	{
		Oid			t2[2] = {INT8OID, JSONBOID};
		Datum		v2[2];

		v2[0] = Int64GetDatum(order_id);
		v2[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(pay.data));
		OmsQuery(OmsPlan(&plan_pay,
						 "SELECT ((oms.authorize_payment($1, $2) OPERATOR(pg_catalog.->>) 'payment_id')::int8) AS id",
						 2, t2), v2, NULL, 1);
		payment_id = OmsGetInt64(0, 1, NULL);
	}
	{
		Oid			t2[3] = {INT8OID, NUMERICOID, INT8OID};
		Datum		v2[3];

		v2[0] = Int64GetDatum(payment_id);
		v2[1] = amount;
		v2[2] = Int64GetDatum(invoice_id);
		OmsQuery(OmsPlan(&plan_paid,
						 "WITH c AS (SELECT oms.capture_payment($1, $2)) "
						 "UPDATE oms.invoices i SET paid = i.paid OPERATOR(pg_catalog.+) $2, paid_at = pg_catalog.now(), "
						 "       status = CASE WHEN i.paid OPERATOR(pg_catalog.+) $2 OPERATOR(pg_catalog.>=) i.amount THEN 'paid' ELSE 'open' END "
						 "  FROM c WHERE i.id OPERATOR(pg_catalog.=) $3 "
						 "RETURNING pg_catalog.jsonb_build_object('invoice_id', i.id, 'number', i.number, 'status', i.status, "
						 "          'amount', i.amount, 'paid', i.paid, 'open', i.amount OPERATOR(pg_catalog.-) i.paid, "
						 "          'due_on', i.due_on, 'payment_id', $1::int8, 'order_id', i.order_id)",
						 3, t2), v2, NULL, 1);
	}
	result = SPI_datumTransfer(OmsGetDatum(0, 1, NULL), false, -1);
	InvPost("invoice_settle", currency, order_id, payment_id, amount);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

PG_FUNCTION_INFO_V1(invoice_document);
/* oms.invoice_document(invoice_id): the invoice as text (it only reads) */
Datum
invoice_document(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64		invoice_id = PG_GETARG_INT64(0);
	Oid			t1[1] = {INT8OID};
	Datum		v1[1] = {Int64GetDatum(invoice_id)};
	Datum		doc;
	bool		isnull;

	SPI_connect();
	OmsQuery(OmsPlan(&plan,
					 "SELECT pg_catalog.concat_ws(E'\\n', "
					 "  pg_catalog.format('INVOICE %s%s', i.number, CASE i.status WHEN 'void' THEN '   (VOID)' WHEN 'paid' THEN '   (PAID)' ELSE '' END), "
					 "  pg_catalog.format('Issued %s   Due %s   Order %s', pg_catalog.to_char(i.issued_on, 'YYYY-MM-DD'), pg_catalog.to_char(i.due_on, 'YYYY-MM-DD'), o.external_id), "
					 "  '', 'Bill to:', pg_catalog.concat_ws(E'\\n', c.name, c.email, "
					 "      NULLIF(pg_catalog.concat_ws(', ', o.ship_to ->> 'line1', o.ship_to ->> 'city', o.ship_to ->> 'country'), '')), "
					 "  '', pg_catalog.format('%-6s %-24s %12s %12s %12s %12s', 'Qty', 'Item', 'Unit price', 'Discount', 'Tax', 'Amount'), "
					 "  (SELECT pg_catalog.string_agg(pg_catalog.format('%-6s %-24s %12s %12s %12s %12s', l.qty OPERATOR(pg_catalog.-) l.qty_cancelled, "
					 "          pg_catalog.left(p.name, 24), pg_catalog.round(l.unit_price, 2), "
					 "          pg_catalog.round(l.discount OPERATOR(pg_catalog.*) (l.qty OPERATOR(pg_catalog.-) l.qty_cancelled) OPERATOR(pg_catalog./) l.qty, 2), "
					 "          pg_catalog.round(l.tax OPERATOR(pg_catalog.*) (l.qty OPERATOR(pg_catalog.-) l.qty_cancelled) OPERATOR(pg_catalog./) l.qty, 2), "
					 "          pg_catalog.round((l.unit_price OPERATOR(pg_catalog.*) l.qty OPERATOR(pg_catalog.-) l.discount OPERATOR(pg_catalog.+) l.tax) "
					 "                           OPERATOR(pg_catalog.*) (l.qty OPERATOR(pg_catalog.-) l.qty_cancelled) OPERATOR(pg_catalog./) l.qty, 2)), "
					 "          E'\\n' ORDER BY l.line_no) "
					 "     FROM oms.order_lines l JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) l.product_id "
					 "    WHERE l.order_id OPERATOR(pg_catalog.=) o.id AND l.qty OPERATOR(pg_catalog.>) l.qty_cancelled), "
					 "  '', pg_catalog.format('%56s %12s', 'Subtotal', pg_catalog.round(o.subtotal, 2)), "
					 "  pg_catalog.format('%56s %12s', 'Discount', pg_catalog.round(o.discount, 2)), "
					 "  pg_catalog.format('%56s %12s', 'Tax', pg_catalog.round(o.tax, 2)), "
					 "  pg_catalog.format('%56s %12s', 'Shipping', pg_catalog.round(o.shipping, 2)), "
					 "  pg_catalog.format('%56s %12s', 'Total ' OPERATOR(pg_catalog.||) i.currency, pg_catalog.round(i.amount, 2)), "
					 "  pg_catalog.format('%56s %12s', 'Paid', pg_catalog.round(i.paid, 2)), "
					 "  pg_catalog.format('%56s %12s', 'Due by ' OPERATOR(pg_catalog.||) pg_catalog.to_char(i.due_on, 'YYYY-MM-DD'), "
					 "                    pg_catalog.round(CASE WHEN i.status OPERATOR(pg_catalog.=) 'open' THEN i.amount OPERATOR(pg_catalog.-) i.paid ELSE 0 END, 2)), "
					 "  '', pg_catalog.format('Payment terms: %s days. Please quote %s with your payment.', i.due_on OPERATOR(pg_catalog.-) i.issued_on, i.number)) "
					 "  FROM oms.invoices i JOIN oms.orders o ON o.id OPERATOR(pg_catalog.=) i.order_id "
					 "  JOIN oms.customers c ON c.id OPERATOR(pg_catalog.=) i.customer_id "
					 " WHERE i.id OPERATOR(pg_catalog.=) $1",
					 1, t1), v1, NULL, 1);
	if (SPI_processed == 0)
		InvNotFound(invoice_id);
	doc = SPI_datumTransfer(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull), false, -1);
	SPI_finish();
	PG_RETURN_DATUM(doc);
}
