/*-------------------------------------------------------------------------
 *
 * orders.c
 *	  oms.place_order, oms.cancel_order and oms.expire_reservations.
 *
 *	  place_order, step by step
 *	  -------------------------
 *	  1. Parse and validate the whole JSON document before touching any
 *	     table; every problem is a 22023 naming the field.
 *	  2. Insert the order row with INSERT ... ON CONFLICT (channel_id,
 *	     external_id) DO NOTHING. That is the idempotency door: a concurrent
 *	     duplicate waits on the first inserter's unique index entry before it
 *	     holds any balance lock, then sees its committed row and returns it
 *	     as a replay ("replayed": true). A different document reusing the
 *	     external_id is refused (22023), recognised by the SHA-256 of the
 *	     request.
 *	  3. Sum the demand per product: same-sku lines together, kits expanded
 *	     into their components.
 *	  4. Route and reserve (src/routing.c, RouteReserve): the routing
 *	     engine plans from the current balances (no locks); if the plan is
 *	     short, lapsed reservations of unpaid orders on the short products
 *	     are released first (lazy expiry) and the order planned again; this
 *	     is done only while this call holds no balance lock, to keep the
 *	     lock order.
 *	  5. The plan is executed in (product_id, location_id) order with
 *	     guarded updates: UPDATE ... SET reserved = reserved + q WHERE ...
 *	     AND on_hand - reserved - safety_stock >= q, in a subtransaction. If
 *	     one finds the stock gone, the subtransaction is rolled back and the
 *	     order planned again with fresh numbers, a bounded number of times.
 *	     The last attempt locks each row (SELECT ... FOR UPDATE) and takes
 *	     what is there, up to the plan. The decision is stored in
 *	     oms.routing_decisions.
 *	  6. Distribute what was reserved to the lines in line order (a kit line
 *	     gets whole kits only), give back what no line can use, and write
 *	     lines, reservations and their movements in two set-based
 *	     statements. The rest of each line is backordered or cancelled
 *	     according to the policy; under all_or_nothing any shortfall raises
 *	     OM001 listing every short sku and nothing is written.
 *
 *	  The locking order (orders, order lines, balance rows ascending) and
 *	  the guarded-update protocol are described in inventory.c. Balance
 *	  rows change only through inventory.c's primitives (InventoryReserve,
 *	  InventoryReserveUpTo, InventoryUnreserve); the movement rows that
 *	  belong to reservations and releases are written here, in the same
 *	  set-based statement as the reservation rows themselves.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/resowner.h"

#include "oms.h"
#include "routing.h"

#define OMS_MAX_LINES		500
#define OMS_MAX_LINE_QTY	1000000

typedef struct PoLine
{
	int			line_no;
	char	   *sku;
	OmsProduct	product;
	int32		qty;
	Datum		unit_price;		/* numeric */
	Datum		discount;		/* numeric */
	Datum		tax;			/* numeric */
	int32		reserved;
	int32		backordered;
	int32		cancelled;
	int64		id;
} PoLine;

typedef struct PoOrder
{
	char	   *channel;
	char	   *external_id;
	char	   *currency;
	char	   *policy;
	char	   *split;			/* allow, avoid or forbid */
	char	   *pickup;			/* ship_to.pickup: location code, or NULL */
	int32		pickup_location_id;
	int32		channel_id;
	bool		has_customer;
	char	   *cust_ref;
	char	   *cust_email;
	char	   *cust_name;
	char	   *ship_to;		/* JSON text or NULL */
	bool		has_coords;
	double		lat;
	double		lon;
	char	  **flags;
	int			nflags;
	char	   *notes;
	int32		hold_minutes;	/* -1 when not given */
	int			nlines;
	PoLine	   *lines;

	/* filled in while the order is placed */
	int64		order_id;
	struct PoComponent *comps;	/* components of the order's kits */
	int			ncomps;
	RouteDemand *demands;		/* per product, sorted by product_id */
	int			ndemands;
	struct PoTaken *taken;		/* reserved in the balances by this call */
	int			ntaken;
	struct PoPiece *pieces;		/* reservation rows to write */
	int			npieces;
	bool		any_reorder_point;	/* a demanded product has a reorder point */
	bool		any_backorder;
	int32		total_reserved_units;
} PoOrder;

typedef struct PoComponent
{
	int64		kit_id;
	int64		component_id;
	int32		qty;
	char	   *sku;
} PoComponent;

/* one reservation row to write: line index, product, location, units */
typedef struct PoPiece
{
	int			line;
	int64		product_id;
	int32		location_id;
	int32		qty;
} PoPiece;

typedef struct PoTaken
{
	int64		product_id;
	int32		location_id;
	int32		group;			/* the demand group the units were routed for */
	int32		qty;			/* reserved in the balance by this call */
	int32		used;			/* handed to lines */
} PoTaken;

static double
PoCoordinate(JsonbValue *v, const char *path, double limit)
{
	double		d;

	if (v->type != jbvNumeric)
		JsonInvalid(path, psprintf("%s must be a number, not %s.", path, JsonTypeName(v)),
				  "Give coordinates as decimal degrees.");
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
	if (isnan(d) || d < -limit || d > limit)
		JsonInvalid(path, psprintf("%s must be between %g and %g degrees.", path, -limit, limit),
				  "Check that lat and lon are not swapped.");
	return d;
}

static bool
PoFlagOk(const char *f)
{
	const char *p;

	if (*f < 'a' || *f > 'z')
		return false;
	for (p = f; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return p - f <= 63;
}

static bool
PoEmailOk(const char *e)
{
	const char *at = strchr(e, '@');

	if (at == NULL || at == e || strchr(at + 1, '@') != NULL)
		return false;
	if (strpbrk(e, " \t\r\n") != NULL)
		return false;
	return strchr(at + 1, '.') != NULL && at[1] != '.' && e[strlen(e) - 1] != '.';
}

static void
PoParse(Jsonb *doc, PoOrder *o)
{
	static const char *const top_keys[] = {"channel", "external_id", "customer", "currency", "ship_to",
	"lines", "flags", "notes", "policy", "split", "hold_minutes", NULL};
	static const char *const customer_keys[] = {"external_ref", "email", "name", NULL};
	static const char *const line_keys[] = {"sku", "qty", "unit_price", "discount", "tax", NULL};
	JsonbContainer *root = &doc->root;
	JsonbValue	buf;
	JsonbValue *v;
	JsonbContainer *lines;
	int			i;

	memset(o, 0, sizeof(*o));
	o->hold_minutes = -1;
	JsonDocument = "order";

	if (!JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid order: the document must be a JSON object"),
				 errdetail("place_order received %s.", JB_ROOT_IS_SCALAR(doc) ? "a scalar" : "an array"),
				 errhint("Send {\"channel\": ..., \"external_id\": ..., \"currency\": ..., \"lines\": [...]}.")));
	JsonCheckKeys(root, top_keys, "the order");

	if ((v = JsonGet(root, "channel", &buf)) == NULL)
		JsonInvalid("channel", "The key channel is required.", "Name the channel by its code, for example \"web\".");
	o->channel = JsonString(v, "channel", 32, true);

	if ((v = JsonGet(root, "external_id", &buf)) == NULL)
		JsonInvalid("external_id", "The key external_id is required.",
				  "Send the order's id in your system; it makes retries safe.");
	/*
	 * Not PAN-checked: the caller's order number is often a long number
	 * (13-digit shop ids), and one in ten of those passes the Luhn check.
	 */
	o->external_id = JsonString(v, "external_id", 200, true);

	if ((v = JsonGet(root, "currency", &buf)) == NULL)
		JsonInvalid("currency", "The key currency is required.", "Use an ISO 4217 code such as \"EUR\".");
	o->currency = JsonString(v, "currency", 3, true);
	if (strlen(o->currency) != 3 || strspn(o->currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)
		JsonInvalid("currency", psprintf("currency must be three capital letters, not \"%s\".", o->currency),
				  "Use an ISO 4217 code such as \"EUR\".");

	o->policy = "all_or_nothing";
	if ((v = JsonGet(root, "policy", &buf)) != NULL)
	{
		o->policy = JsonString(v, "policy", 32, true);
		if (strcmp(o->policy, "all_or_nothing") != 0 && strcmp(o->policy, "partial") != 0 &&
			strcmp(o->policy, "backorder") != 0)
			JsonInvalid("policy", psprintf("policy must be all_or_nothing, partial or backorder, not \"%s\".", o->policy),
					  "Leave it out for all_or_nothing.");
	}

	o->split = "allow";
	if ((v = JsonGet(root, "split", &buf)) != NULL)
	{
		o->split = JsonString(v, "split", 32, true);
		if (strcmp(o->split, "allow") != 0 && strcmp(o->split, "avoid") != 0 && strcmp(o->split, "forbid") != 0)
			JsonInvalid("split", psprintf("split must be allow, avoid or forbid, not \"%s\".", o->split),
						"Leave it out to allow splitting the order over several shipments.");
	}

	if ((v = JsonGet(root, "hold_minutes", &buf)) != NULL)
		o->hold_minutes = JsonInt(v, "hold_minutes", 0, 525600,
								 "Give the hold in minutes, at most 525600 (a year); 0 holds until paid or cancelled.");

	if ((v = JsonGet(root, "notes", &buf)) != NULL)
	{
		o->notes = JsonString(v, "notes", 10000, false);
		OmsCheckNoCardNumber(o->notes, "notes");
	}

	if ((v = JsonGet(root, "flags", &buf)) != NULL)
	{
		JsonbContainer *flags = JsonArray(v, "flags");
		int			n = JsonContainerSize(flags);

		o->flags = palloc(sizeof(char *) * (n + 1));
		for (i = 0; i < n; i++)
		{
			JsonbValue *f = getIthJsonbValueFromContainer(flags, i);
			char	   *path = psprintf("flags[%d]", i);
			char	   *s = JsonString(f, path, 63, true);

			if (!PoFlagOk(s))
				JsonInvalid(path, psprintf("%s is \"%s\"; flags are lowercase letters, digits and _, starting with a letter.", path, s),
						  "Write flags such as vip, gift or fraud_review.");
			o->flags[o->nflags++] = s;
		}
	}

	if ((v = JsonGet(root, "customer", &buf)) != NULL)
	{
		JsonbContainer *c = JsonObject(v, "customer");
		JsonbValue	cbuf;
		JsonbValue *cv;

		JsonCheckKeys(c, customer_keys, "customer");
		if ((cv = JsonGet(c, "external_ref", &cbuf)) != NULL)
		{
			o->cust_ref = JsonString(cv, "customer.external_ref", 200, true);
			OmsCheckNoCardNumber(o->cust_ref, "customer.external_ref");
		}
		if ((cv = JsonGet(c, "email", &cbuf)) != NULL)
		{
			o->cust_email = JsonString(cv, "customer.email", 320, true);
			if (!PoEmailOk(o->cust_email))
				JsonInvalid("customer.email", psprintf("customer.email \"%s\" is not an email address.", o->cust_email),
						  "Send an address such as ann@example.com, or leave email out.");
		}
		if ((cv = JsonGet(c, "name", &cbuf)) != NULL)
		{
			o->cust_name = JsonString(cv, "customer.name", 200, false);
			OmsCheckNoCardNumber(o->cust_name, "customer.name");
		}
		if (o->cust_ref == NULL && o->cust_email == NULL)
			JsonInvalid("customer", "customer needs external_ref or email to be recognised.",
					  "Leave customer out for a guest order.");
		o->has_customer = true;
	}

	if ((v = JsonGet(root, "ship_to", &buf)) != NULL)
	{
		JsonbContainer *s = JsonObject(v, "ship_to");
		JsonbValue	sbuf;
		JsonbValue *lat;
		JsonbValue *lon;
		JsonbValue *pickup;
		StringInfoData txt;

		lat = JsonGet(s, "lat", &sbuf);
		if (lat)
			o->lat = PoCoordinate(lat, "ship_to.lat", 90);
		lon = JsonGet(s, "lon", &sbuf);
		if (lon)
			o->lon = PoCoordinate(lon, "ship_to.lon", 180);
		if ((lat == NULL) != (lon == NULL))
			JsonInvalid("ship_to", "ship_to has only one of lat and lon.", "Give both coordinates or neither.");
		o->has_coords = (lat != NULL);
		if ((pickup = JsonGet(s, "pickup", &sbuf)) != NULL)
			o->pickup = JsonString(pickup, "ship_to.pickup", 32, true);
		initStringInfo(&txt);
		JsonbToCString(&txt, s, -1);
		o->ship_to = txt.data;
		OmsCheckNoCardNumber(JsonStringsText(s), "ship_to");
	}

	if ((v = JsonGet(root, "lines", &buf)) == NULL)
		JsonInvalid("lines", "The key lines is required.", "Send at least one line: [{\"sku\": ..., \"qty\": ..., \"unit_price\": ...}].");
	lines = JsonArray(v, "lines");
	o->nlines = JsonContainerSize(lines);
	if (o->nlines == 0)
		JsonInvalid("lines", "lines is empty.", "An order needs at least one line.");
	if (o->nlines > OMS_MAX_LINES)
		JsonInvalid("lines", psprintf("lines has %d entries; at most %d are allowed.", o->nlines, OMS_MAX_LINES),
				  "Split the order.");
	o->lines = palloc0(sizeof(PoLine) * o->nlines);
	for (i = 0; i < o->nlines; i++)
	{
		JsonbValue *lv = getIthJsonbValueFromContainer(lines, i);
		char	   *path = psprintf("lines[%d]", i);
		JsonbContainer *l = JsonObject(lv, path);
		JsonbValue	lbuf;
		JsonbValue *f;
		PoLine	   *pl = &o->lines[i];

		JsonCheckKeys(l, line_keys, path);
		pl->line_no = i + 1;
		if ((f = JsonGet(l, "sku", &lbuf)) == NULL)
			JsonInvalid(psprintf("%s.sku", path), psprintf("%s.sku is required.", path), "Name the product by its sku.");
		pl->sku = JsonString(f, psprintf("%s.sku", path), 64, true);
		if ((f = JsonGet(l, "qty", &lbuf)) == NULL)
			JsonInvalid(psprintf("%s.qty", path), psprintf("%s.qty is required.", path), "Give the number of units.");
		pl->qty = JsonInt(f, psprintf("%s.qty", path), 1, OMS_MAX_LINE_QTY,
						"Split very large quantities into several orders.");
		if ((f = JsonGet(l, "unit_price", &lbuf)) == NULL)
			JsonInvalid(psprintf("%s.unit_price", path), psprintf("%s.unit_price is required.", path),
					  "Give the price of one unit, 0 for a free item.");
		pl->unit_price = JsonMoney(f, psprintf("%s.unit_price", path));
		pl->discount = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
		pl->tax = pl->discount;
		if ((f = JsonGet(l, "discount", &lbuf)) != NULL)
			pl->discount = JsonMoney(f, psprintf("%s.discount", path));
		if ((f = JsonGet(l, "tax", &lbuf)) != NULL)
			pl->tax = JsonMoney(f, psprintf("%s.tax", path));
		{
			Datum		gross = DirectFunctionCall2(numeric_mul, pl->unit_price,
													DirectFunctionCall1(int4_numeric, Int32GetDatum(pl->qty)));

			if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, pl->discount, gross)) > 0)
				JsonInvalid(psprintf("%s.discount", path),
						  psprintf("%s.discount %s exceeds the line amount %s.", path,
								   DatumGetCString(DirectFunctionCall1(numeric_out, pl->discount)),
								   DatumGetCString(DirectFunctionCall1(numeric_out, gross))),
						  "The discount is for the whole line, not per unit.");
		}
	}
}

/* ---- helpers ---- */

static int
PoDemandCmp(const void *a, const void *b)
{
	const RouteDemand *x = a;
	const RouteDemand *y = b;

	if (x->product_id != y->product_id)
		return x->product_id < y->product_id ? -1 : 1;
	return (x->group > y->group) - (x->group < y->group);
}

/*
 * The order document: one saved plan (the query is planned once per
 * backend, not on every call as a SQL-language function with a SET clause
 * would be), used by place_order, cancel_order and oms.get_order.
 */
#define ORDERS_DOCUMENT_SQL \
	"SELECT pg_catalog.jsonb_build_object(" \
	"  'order_id', o.id, 'channel', c.code, 'external_id', o.external_id, 'status', o.status, " \
	"  'policy', o.policy, 'currency', o.currency, 'customer_id', o.customer_id, 'total', o.total, " \
	"  'placed_at', o.placed_at, 'expires_at', o.expires_at, " \
	"  'lines', (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(" \
	"              'line_no', l.line_no, 'sku', p.sku, 'qty', l.qty, 'reserved', l.qty_reserved, " \
	"              'backordered', l.qty_backordered, 'shipped', l.qty_shipped, 'cancelled', l.qty_cancelled, " \
	"              'locations', (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(" \
	"                                 'location', loc.code, 'sku', rp.sku, 'qty', r.qty) ORDER BY loc.code, rp.sku), '[]'::pg_catalog.jsonb) " \
	"                              FROM oms.reservations r " \
	"                              JOIN oms.locations loc ON loc.id OPERATOR(pg_catalog.=) r.location_id " \
	"                              JOIN oms.products rp ON rp.id OPERATOR(pg_catalog.=) r.product_id " \
	"                             WHERE r.order_line_id OPERATOR(pg_catalog.=) l.id " \
	"                               AND r.status OPERATOR(pg_catalog.=) 'active')) ORDER BY l.line_no) " \
	"               FROM oms.order_lines l JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) l.product_id " \
	"              WHERE l.order_id OPERATOR(pg_catalog.=) o.id)) " \
	"  OPERATOR(pg_catalog.||) CASE WHEN $2 IS NULL THEN '{}'::pg_catalog.jsonb " \
	"       ELSE pg_catalog.jsonb_build_object('replayed', $2) END " \
	"  FROM oms.orders o JOIN oms.channels c ON c.id OPERATOR(pg_catalog.=) o.channel_id " \
	" WHERE o.id OPERATOR(pg_catalog.=) $1"

/* Run the document query; *found is false when there is no such order. */
static Datum
OrdersDocument(int64 order_id, int replayed, bool *found)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {INT8OID, BOOLOID};
	Datum		values[2] = {Int64GetDatum(order_id), BoolGetDatum(replayed > 0)};
	char		nulls[2] = {' ', replayed < 0 ? 'n' : ' '};
	bool		isnull;
	Datum		d;

	OmsQuery(OmsPlan(&plan, ORDERS_DOCUMENT_SQL, 2, types), values, nulls, 1);
	*found = SPI_processed > 0;
	if (!*found)
		return (Datum) 0;
	d = OmsGetDatum(0, 1, &isnull);
	return SPI_datumTransfer(d, false, -1);
}

static Datum
PoDocument(int64 order_id, bool replayed)
{
	bool		found;
	Datum		d = OrdersDocument(order_id, replayed ? 1 : 0, &found);

	if (!found)
		elog(ERROR, "oms: order " INT64_FORMAT " vanished", order_id);
	return d;
}

Datum
OrdersDocumentOf(int64 order_id)
{
	bool		found;
	Datum		d = OrdersDocument(order_id, -1, &found);

	if (!found)
		elog(ERROR, "oms: order " INT64_FORMAT " vanished", order_id);
	return d;
}

PG_FUNCTION_INFO_V1(get_order);
/*
 * oms.get_order(order_id): the order document, NULL when there is no such
 * order.
 */
Datum
get_order(PG_FUNCTION_ARGS)
{
	int64		order_id = PG_GETARG_INT64(0);
	bool		found;
	Datum		d;

	SPI_connect();
	d = OrdersDocument(order_id, -1, &found);
	SPI_finish();
	if (!found)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(d);
}

static void
PoRequestHash(Jsonb *doc, uint8 *digest)
{
	StringInfoData txt;
	pg_cryptohash_ctx *ctx;

	initStringInfo(&txt);
	JsonbToCString(&txt, &doc->root, VARSIZE(doc));
	ctx = pg_cryptohash_create(PG_SHA256);
	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (uint8 *) txt.data, txt.len) < 0 ||
		pg_cryptohash_final(ctx, digest, PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "oms: could not compute request hash");
	pg_cryptohash_free(ctx);
}

/* Is any demand of demands[i]'s product short in the plan? */
static bool
PoDemandShort(PoOrder *o, RoutePlanOut *plan, int i)
{
	int			j;

	for (j = 0; j < o->ndemands; j++)
		if (o->demands[j].product_id == o->demands[i].product_id && plan->shortfall[j] > 0)
			return true;
	return false;
}

/*
 * OM001 for an all_or_nothing order: every short product, asked and
 * available (over the eligible locations). 40001 when nothing is short any
 * more: every attempt lost a race.
 */
static void
PoRaiseInsufficient(PoOrder *o, RoutePlanOut *plan)
{
	StringInfoData detail;
	int			nshort = 0;
	int			i,
				j,
				k;

	initStringInfo(&detail);
	for (i = 0; i < o->ndemands; i++)
	{
		char	   *sku = NULL;
		int64		asked = 0;
		int32		g = o->demands[i].group;

		/* one entry per product: what all its demands ask together */
		for (j = 0; j < i; j++)
			if (o->demands[j].product_id == o->demands[i].product_id)
				break;
		if (j < i)
			continue;
		for (j = 0; j < o->ndemands; j++)
			if (o->demands[j].product_id == o->demands[i].product_id)
			{
				asked += o->demands[j].qty;
				if (plan->shortfall[j] > 0)
					g = o->demands[j].group;
			}
		/* short only because a kit cannot be assembled at one place: below */
		if (!PoDemandShort(o, plan, i) || (!plan->split_refused && plan->available[i] >= asked))
			continue;
		for (j = 0; j < o->nlines && g == 0 && sku == NULL; j++)
			if (o->lines[j].product.id == o->demands[i].product_id)
				sku = o->lines[j].sku;
		/* a kit component: name it and its kit */
		for (k = 0; k < o->ncomps && g > 0 && sku == NULL; k++)
			if (o->comps[k].component_id == o->demands[i].product_id &&
				o->comps[k].kit_id == o->lines[g - 1].product.id)
				sku = psprintf("%s (in kit %s)", o->comps[k].sku, o->lines[g - 1].sku);
		appendStringInfo(&detail, "%s%s: asked " INT64_FORMAT ", available " INT64_FORMAT,
						 nshort ? "; " : "", sku ? sku : "?", asked, plan->available[i]);
		nshort++;
	}
	for (i = 0; i < o->ndemands && nshort == 0; i++)
		if (plan->shortfall[i] > 0 && o->demands[i].group > 0)
		{
			PoLine	   *kit = &o->lines[o->demands[i].group - 1];

			ereport(ERROR,
					(errcode(ERRCODE_OMS_INSUFFICIENT_STOCK),
					 errmsg("insufficient stock: kit %s cannot be assembled at one location", kit->sku),
					 errdetail("There are enough units of every component, but no location (or set of locations) holds the components of %d whole kit(s) together.",
							   kit->qty),
					 errhint("Nothing was reserved. A kit ships from one place: move stock so its components are together, or place the order with policy partial or backorder.")));
		}
	if (nshort == 0)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not reserve the order: concurrent orders took the stock at every attempt"),
				 errdetail("Every product is available on paper, but each reservation attempt lost a race for it."),
				 errhint("Nothing was reserved. Retry the call.")));
	if (plan->split_refused)
		ereport(ERROR,
				(errcode(ERRCODE_OMS_INSUFFICIENT_STOCK),
				 errmsg("insufficient stock at any single location for %d of the order's products", nshort),
				 errdetail("%s; the split policy \"%s\" keeps the order from being split over locations.",
						   detail.data, o->split),
				 errhint("Nothing was reserved. Allow splitting, lower the quantities, or place the order with policy partial or backorder.")));
	ereport(ERROR,
			(errcode(ERRCODE_OMS_INSUFFICIENT_STOCK),
			 errmsg("insufficient stock for %d of the order's products", nshort),
			 errdetail("%s.", detail.data),
			 errhint("Nothing was reserved. Lower the quantities, or place the order with policy partial or backorder.")));
}

/* ---- place_order ---- */

/* The channel: its id, whether it takes orders, and the hold it gives. */
static int32
PoResolveChannel(PoOrder *o, bool *active, int32 *hold)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(o->channel)};
	int32		channel_hold;
	bool		channel_hold_null;

	OmsQuery(OmsPlan(&plan,
					 "SELECT id, active, hold_minutes FROM oms.channels WHERE code OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid order: unknown channel \"%s\"", o->channel),
				 errdetail("No channel in oms.channels has the code \"%s\".", o->channel),
				 errhint("Channel codes are lowercase, for example \"web\".")));
	*active = DatumGetBool(OmsGetDatum(0, 2, NULL));
	channel_hold = OmsGetInt32(0, 3, &channel_hold_null);
	*hold = o->hold_minutes >= 0 ? o->hold_minutes : (!channel_hold_null ? channel_hold : oms_hold_minutes);
	o->channel_id = OmsGetInt32(0, 1, NULL);
	return o->channel_id;
}

/*
 * Click and collect: ship_to.pickup names the location; it must be active
 * and take pickups. The parcel's destination is the store: its coordinates
 * become the ship-to's.
 */
static void
PoResolvePickup(PoOrder *o)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	if (o->pickup == NULL)
		return;
	values[0] = CStringGetTextDatum(o->pickup);
	OmsQuery(OmsPlan(&plan,
					 "SELECT id, active, pickup, latitude, longitude FROM oms.locations "
					 " WHERE code OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	if (SPI_processed == 0)
		JsonInvalid("ship_to.pickup", psprintf("ship_to.pickup names location \"%s\", which does not exist.", o->pickup),
					"Name a store by its code in oms.locations.");
	if (!DatumGetBool(OmsGetDatum(0, 2, NULL)) || !DatumGetBool(OmsGetDatum(0, 3, NULL)))
		JsonInvalid("ship_to.pickup", psprintf("Location \"%s\" is %s.", o->pickup,
											  DatumGetBool(OmsGetDatum(0, 2, NULL)) ? "not a pickup location" : "inactive"),
					"Choose an active location whose pickup flag is set, or ship the order.");
	o->pickup_location_id = OmsGetInt32(0, 1, NULL);
	o->has_coords = true;
	o->lat = DatumGetFloat8(OmsGetDatum(0, 4, NULL));
	o->lon = DatumGetFloat8(OmsGetDatum(0, 5, NULL));
}

/* The customer: found by external_ref, else email; created when new. */
static bool
PoResolveCustomer(PoOrder *o, int64 *customer_id)
{
	static SPIPlanPtr plan_ins = NULL;
	static SPIPlanPtr plan_get = NULL;
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = "   ";

	if (!o->has_customer)
		return false;
	values[0] = o->cust_ref ? CStringGetTextDatum(o->cust_ref) : (Datum) 0;
	values[1] = o->cust_email ? CStringGetTextDatum(o->cust_email) : (Datum) 0;
	values[2] = o->cust_name ? CStringGetTextDatum(o->cust_name) : (Datum) 0;
	nulls[0] = o->cust_ref ? ' ' : 'n';
	nulls[1] = o->cust_email ? ' ' : 'n';
	nulls[2] = o->cust_name ? ' ' : 'n';
	OmsExec(OmsPlan(&plan_ins,
					"INSERT INTO oms.customers (external_ref, email, name) VALUES ($1, $2, $3) "
					"ON CONFLICT DO NOTHING RETURNING id",
					3, types), values, nulls, 1);
	if (SPI_processed == 0)
	{
		OmsQuery(OmsPlan(&plan_get,
						 "SELECT id FROM (SELECT id, 1 AS o FROM oms.customers WHERE external_ref OPERATOR(pg_catalog.=) $1 "
						 "                UNION ALL "
						 "                SELECT id, 2 FROM oms.customers WHERE pg_catalog.lower(email) OPERATOR(pg_catalog.=) pg_catalog.lower($2)) c "
						 " ORDER BY o LIMIT 1",
						 2, types), values, nulls, 1);
		if (SPI_processed == 0)
			elog(ERROR, "oms: customer vanished during lookup");
	}
	*customer_id = OmsGetInt64(0, 1, NULL);
	return true;
}

/*
 * The order row: the idempotency door. Returns false when (channel,
 * external_id) already exists: o->order_id is then that order, after
 * checking that the document is the same (22023 otherwise).
 */
static bool
PoInsertOrder(PoOrder *o, int32 channel_id, int32 hold, const uint8 *digest)
{
	static SPIPlanPtr plan_order = NULL;
	static SPIPlanPtr plan_existing = NULL;
	Oid			types[18] = {INT4OID, TEXTOID, INT8OID, TEXTOID, TEXTOID, JSONBOID, FLOAT8OID, FLOAT8OID,
	TEXTARRAYOID, TEXTOID, INT4OID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID, BYTEAOID, TEXTOID, INT4OID};
	Datum		values[18];
	char		nulls[18];
	bytea	   *h = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	Datum	   *f = palloc(sizeof(Datum) * (o->nflags + 1));
	Datum		subtotal = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
	Datum		discount = subtotal;
	Datum		tax = subtotal;
	int64		customer_id;
	int			i;

	memset(nulls, ' ', sizeof(nulls));
	for (i = 0; i < o->nlines; i++)
	{
		subtotal = DirectFunctionCall2(numeric_add, subtotal,
									   DirectFunctionCall2(numeric_mul, o->lines[i].unit_price,
														   DirectFunctionCall1(int4_numeric, Int32GetDatum(o->lines[i].qty))));
		discount = DirectFunctionCall2(numeric_add, discount, o->lines[i].discount);
		tax = DirectFunctionCall2(numeric_add, tax, o->lines[i].tax);
	}
	SET_VARSIZE(h, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	memcpy(VARDATA(h), digest, PG_SHA256_DIGEST_LENGTH);
	for (i = 0; i < o->nflags; i++)
		f[i] = CStringGetTextDatum(o->flags[i]);

	values[0] = Int32GetDatum(channel_id);
	values[1] = CStringGetTextDatum(o->external_id);
	if (PoResolveCustomer(o, &customer_id))
		values[2] = Int64GetDatum(customer_id);
	else
		nulls[2] = 'n';
	values[3] = CStringGetTextDatum(o->currency);
	values[4] = CStringGetTextDatum(o->policy);
	if (o->ship_to)
		values[5] = DirectFunctionCall1(jsonb_in, CStringGetDatum(o->ship_to));
	else
		nulls[5] = 'n';
	values[6] = Float8GetDatum(o->lat);
	values[7] = Float8GetDatum(o->lon);
	if (!o->has_coords)
		nulls[6] = nulls[7] = 'n';
	values[8] = PointerGetDatum(construct_array(f, o->nflags, TEXTOID, -1, false, TYPALIGN_INT));
	if (o->notes)
		values[9] = CStringGetTextDatum(o->notes);
	else
		nulls[9] = 'n';
	values[10] = Int32GetDatum(hold);
	values[11] = subtotal;
	values[12] = discount;
	values[13] = tax;
	values[14] = DirectFunctionCall2(numeric_add, DirectFunctionCall2(numeric_sub, subtotal, discount), tax);
	values[15] = PointerGetDatum(h);
	values[16] = CStringGetTextDatum(o->split);
	values[17] = Int32GetDatum(o->pickup_location_id);
	if (o->pickup_location_id == 0)
		nulls[17] = 'n';
	OmsExec(OmsPlan(&plan_order,
					"INSERT INTO oms.orders (channel_id, external_id, customer_id, currency, status, policy, ship_to, "
					"       ship_lat, ship_lon, flags, notes, hold_minutes, expires_at, subtotal, discount, tax, total, request_hash, "
					"       split_policy, pickup_location_id) "
					"VALUES ($1, $2, $3, $4, 'pending_payment', $5, $6, $7, $8, $9, $10, $11, "
					"        CASE WHEN $11 OPERATOR(pg_catalog.>) 0 THEN pg_catalog.now() OPERATOR(pg_catalog.+) "
					"             pg_catalog.make_interval(mins => $11) END, "
					"        $12, $13, $14, $15, $16, $17, $18) "
					"ON CONFLICT (channel_id, external_id) DO NOTHING RETURNING id",
					18, types), values, nulls, 1);
	if (SPI_processed == 1)
	{
		o->order_id = OmsGetInt64(0, 1, NULL);
		return true;
	}

	/* a retry, or a concurrent duplicate that committed first */
	{
		Oid			etypes[2] = {INT4OID, TEXTOID};
		bytea	   *eh;
		bool		isnull;

		OmsQuery(OmsPlan(&plan_existing,
						 "SELECT id, request_hash FROM oms.orders WHERE channel_id OPERATOR(pg_catalog.=) $1 "
						 "   AND external_id OPERATOR(pg_catalog.=) $2",
						 2, etypes), values, NULL, 1);
		if (SPI_processed == 0)
			elog(ERROR, "oms: conflicting order vanished");
		o->order_id = OmsGetInt64(0, 1, NULL);
		eh = DatumGetByteaPP(OmsGetDatum(0, 2, &isnull));
		if (VARSIZE_ANY_EXHDR(eh) != PG_SHA256_DIGEST_LENGTH ||
			memcmp(VARDATA_ANY(eh), digest, PG_SHA256_DIGEST_LENGTH) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid order: external_id \"%s\" of channel \"%s\" belongs to another order",
							o->external_id, o->channel),
					 errdetail("Order " INT64_FORMAT " was placed with this external_id and a different document.", o->order_id),
					 errhint("A retry must resend the identical document; a new order needs a new external_id.")));
	}
	return false;
}

/* Products of the lines: every unknown or inactive sku is reported at once. */
static void
PoResolveProducts(PoOrder *o)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {TEXTARRAYOID};
	Datum		values[1];
	Datum	   *skus = palloc(sizeof(Datum) * o->nlines);
	StringInfoData unknown;
	StringInfoData inactive;
	int			n,
				i,
				j;

	for (i = 0; i < o->nlines; i++)
		skus[i] = CStringGetTextDatum(o->lines[i].sku);
	values[0] = PointerGetDatum(construct_array(skus, o->nlines, TEXTOID, -1, false, TYPALIGN_INT));
	OmsQuery(OmsPlan(&plan,
					 "SELECT sku, id, kind, active, reorder_point OPERATOR(pg_catalog.>) 0 FROM oms.products WHERE sku OPERATOR(pg_catalog.=) ANY ($1)",
					 1, types), values, NULL, 0);
	n = (int) SPI_processed;
	for (i = 0; i < o->nlines; i++)
	{
		o->lines[i].product.id = 0;
		for (j = 0; j < n; j++)
		{
			char	   *sku = SPI_getvalue(SPI_tuptable->vals[j], SPI_tuptable->tupdesc, 1);
			char	   *kind;

			if (strcmp(sku, o->lines[i].sku) != 0)
				continue;
			kind = SPI_getvalue(SPI_tuptable->vals[j], SPI_tuptable->tupdesc, 3);
			o->lines[i].product.id = OmsGetInt64(j, 2, NULL);
			o->lines[i].product.kind = strcmp(kind, "kit") == 0 ? OMS_KIND_KIT :
				strcmp(kind, "service") == 0 ? OMS_KIND_SERVICE : OMS_KIND_STOCK;
			o->lines[i].product.active = DatumGetBool(OmsGetDatum(j, 4, NULL));
			if (DatumGetBool(OmsGetDatum(j, 5, NULL)))
				o->any_reorder_point = true;
		}
	}
	initStringInfo(&unknown);
	initStringInfo(&inactive);
	for (i = 0; i < o->nlines; i++)
	{
		if (o->lines[i].product.id == 0)
			appendStringInfo(&unknown, "%s%s (line %d)", unknown.len ? ", " : "", o->lines[i].sku, i + 1);
		else if (!o->lines[i].product.active)
			appendStringInfo(&inactive, "%s%s (line %d)", inactive.len ? ", " : "", o->lines[i].sku, i + 1);
	}
	if (unknown.len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid order: unknown sku"),
				 errdetail("No product has the sku: %s.", unknown.data),
				 errhint("Skus are case-sensitive; create missing products in oms.products first.")));
	if (inactive.len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid order: inactive product"),
				 errdetail("These products are not sold any more: %s.", inactive.data),
				 errhint("Remove the lines, or reactivate the products.")));
}

/* Components of the order's kits; a kit without components is refused. */
static void
PoLoadKits(PoOrder *o)
{
	static SPIPlanPtr plan = NULL;
	int64	   *kit_ids = palloc(sizeof(int64) * o->nlines);
	int			nkits = 0;
	int			i,
				j;

	for (i = 0; i < o->nlines; i++)
		if (o->lines[i].product.kind == OMS_KIND_KIT)
			kit_ids[nkits++] = o->lines[i].product.id;
	if (nkits == 0)
		return;
	{
		Oid			types[1] = {INT8ARRAYOID};
		Datum		values[1] = {PointerGetDatum(OmsInt8Array(kit_ids, nkits))};

		OmsQuery(OmsPlan(&plan,
						 "SELECT kc.kit_id, kc.component_id, kc.qty, p.sku, p.reorder_point OPERATOR(pg_catalog.>) 0 FROM oms.kit_components kc "
						 "  JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) kc.component_id "
						 " WHERE kc.kit_id OPERATOR(pg_catalog.=) ANY ($1) ORDER BY kc.kit_id, kc.component_id",
						 1, types), values, NULL, 0);
	}
	o->ncomps = (int) SPI_processed;
	o->comps = palloc(sizeof(PoComponent) * (o->ncomps + 1));
	for (i = 0; i < o->ncomps; i++)
	{
		o->comps[i].kit_id = OmsGetInt64(i, 1, NULL);
		o->comps[i].component_id = OmsGetInt64(i, 2, NULL);
		o->comps[i].qty = OmsGetInt32(i, 3, NULL);
		o->comps[i].sku = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 4);
		if (DatumGetBool(OmsGetDatum(i, 5, NULL)))
			o->any_reorder_point = true;
	}
	for (i = 0; i < o->nlines; i++)
	{
		bool		has = false;

		if (o->lines[i].product.kind != OMS_KIND_KIT)
			continue;
		for (j = 0; j < o->ncomps; j++)
			if (o->comps[j].kit_id == o->lines[i].product.id)
				has = true;
		if (!has)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid order: kit \"%s\" has no components", o->lines[i].sku),
					 errdetail("A kit is reserved through its components, and this one lists none."),
					 errhint("Add its components in oms.kit_components.")));
	}
}

/*
 * The stock products a line needs: itself for a stock line, its components
 * for a kit line, nothing for a service. Fills pids/per and returns how many.
 */
static int
PoLineProducts(PoOrder *o, PoLine *l, int64 *pids, int32 *per)
{
	int			n = 0;
	int			j;

	if (l->product.kind == OMS_KIND_STOCK)
	{
		pids[0] = l->product.id;
		per[0] = 1;
		return 1;
	}
	if (l->product.kind == OMS_KIND_KIT)
		for (j = 0; j < o->ncomps; j++)
			if (o->comps[j].kit_id == l->product.id)
			{
				pids[n] = o->comps[j].component_id;
				per[n] = o->comps[j].qty;
				n++;
			}
	return n;
}

/*
 * The demands: one per product for the stock lines (same-sku lines
 * summed), and one per component for each kit line, in a group of its own
 * (group = the line's index + 1) that routing keeps at one location: a kit
 * ships from one place. Demands of one product share its stock.
 */
static void
PoBuildDemand(PoOrder *o)
{
	int64	   *pids = palloc(sizeof(int64) * (o->ncomps + 1));
	int32	   *per = palloc(sizeof(int32) * (o->ncomps + 1));
	int64	   *total = palloc0(sizeof(int64) * (o->nlines + o->ncomps + 1));
	int			i,
				j,
				k,
				n;

	o->demands = palloc0(sizeof(RouteDemand) * (o->nlines + o->ncomps + 1));
	for (i = 0; i < o->nlines; i++)
	{
		bool		kit = o->lines[i].product.kind == OMS_KIND_KIT;
		int32		gid = kit ? i + 1 : 0;

		n = PoLineProducts(o, &o->lines[i], pids, per);
		for (j = 0; j < n; j++)
		{
			for (k = 0; k < o->ndemands; k++)
				if (o->demands[k].product_id == pids[j] && o->demands[k].group == gid)
					break;
			if (k == o->ndemands)
			{
				o->demands[k].product_id = pids[j];
				o->demands[k].qty = 0;
				o->demands[k].group = gid;
				o->demands[k].per = kit ? per[j] : 1;
				o->ndemands++;
			}
			o->demands[k].qty += (int64) o->lines[i].qty * per[j];
		}
	}
	/* no product may be asked for more than int4 can count */
	for (k = 0; k < o->ndemands; k++)
		for (j = 0; j < o->ndemands; j++)
			if (o->demands[j].product_id == o->demands[k].product_id)
			{
				total[k] += o->demands[j].qty;
				if (total[k] > PG_INT32_MAX / 2)
					JsonInvalid("lines", "The order asks for more than 1073741823 units of one product.",
								"Split the order.");
			}
	qsort(o->demands, o->ndemands, sizeof(RouteDemand), PoDemandCmp);
}

/* The routing request for this order. */
static void
PoRouteRequest(PoOrder *o, RouteRequest *req)
{
	memset(req, 0, sizeof(*req));
	req->order_id = o->order_id;
	req->channel_id = o->channel_id;
	req->has_coords = o->has_coords;
	req->lat = o->lat;
	req->lon = o->lon;
	req->pickup_location_id = o->pickup_location_id;
	req->split = o->split;
	req->all_or_nothing = strcmp(o->policy, "all_or_nothing") == 0;
	req->demands = o->demands;
	req->ndemands = o->ndemands;
}

/*
 * Route and reserve (src/routing.c: plans, guarded updates, bounded
 * re-planning), then record the decision. An all_or_nothing order that is
 * short raises OM001 here, holding nothing.
 */
static void
PoReserve(PoOrder *o, bool rejections, const char *trigger, RouteAllocation *release, int nrelease)
{
	RouteRequest req;
	RoutePlanOut plan;
	RouteAllocation *taken;
	int			ntaken;
	int			i;

	o->ntaken = 0;
	o->taken = NULL;
	if (o->ndemands == 0)
		return;
	PoRouteRequest(o, &req);
	req.expire = rejections ? NULL : OrdersExpireForProducts;
	req.rejections = rejections;
	req.release = release;
	req.nrelease = nrelease;
	req.explain = nrelease > 0;	/* released units may sit where nothing is available */
	if (!RouteReserve(&req, &plan, &taken, &ntaken))
	{
		if (!req.all_or_nothing)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not reserve the order: concurrent orders took the locations' capacity at every attempt"),
					 errdetail("Each reservation attempt found a chosen location's daily capacity used up meanwhile."),
					 errhint("Nothing was reserved. Retry the call.")));
		PoRaiseInsufficient(o, &plan);
	}
	o->taken = palloc(sizeof(PoTaken) * (ntaken + 1));
	for (i = 0; i < ntaken; i++)
	{
		o->taken[i].product_id = taken[i].product_id;
		o->taken[i].location_id = taken[i].location_id;
		o->taken[i].group = taken[i].group;
		o->taken[i].qty = taken[i].qty;
		o->taken[i].used = 0;
	}
	o->ntaken = ntaken;
	RouteRecord(&req, &plan, trigger, taken, ntaken);
}

/*
 * Hand qty units of product (at location loc, or anywhere when loc < 0)
 * that were routed for group from what this call reserved to line i, as
 * reservation pieces.
 */
static void
PoTakeUnits(PoOrder *o, int i, int32 group, int64 product_id, int32 loc, int32 qty)
{
	int			k;

	for (k = 0; k < o->ntaken && qty > 0; k++)
	{
		PoTaken    *t = &o->taken[k];
		int32		give;

		if (t->product_id != product_id || t->group != group || t->used == t->qty ||
			(loc >= 0 && t->location_id != loc))
			continue;
		give = Min(qty, t->qty - t->used);
		t->used += give;
		qty -= give;
		o->pieces[o->npieces].line = i;
		o->pieces[o->npieces].product_id = product_id;
		o->pieces[o->npieces].location_id = t->location_id;
		o->pieces[o->npieces].qty = give;
		o->npieces++;
	}
	if (qty != 0)
		elog(ERROR, "oms: reservation distribution came up short");
}

/*
 * Distribute what was reserved to the lines in line order; kits get whole
 * kits only. Each line's units are taken out of "taken" at once (used), so
 * two lines that need the same product (repeated sku, or a kit and one of
 * its components) share what was reserved instead of both counting it. The
 * rest of each line is backordered or cancelled according to the policy.
 */
static void
PoDistribute(PoOrder *o)
{
	int64	   *pids = palloc(sizeof(int64) * (o->ncomps + 1));
	int32	   *per = palloc(sizeof(int32) * (o->ncomps + 1));
	int			i,
				j,
				k,
				n;

	o->pieces = palloc(sizeof(PoPiece) * (o->nlines * (o->ncomps + 1) * (o->ntaken + 1) + 1));
	for (i = 0; i < o->nlines; i++)
	{
		PoLine	   *l = &o->lines[i];
		int32		units = l->qty;

		if (l->product.kind == OMS_KIND_SERVICE)
		{
			l->reserved = l->qty;
			continue;
		}
		n = PoLineProducts(o, l, pids, per);
		if (l->product.kind == OMS_KIND_KIT)
		{
			/* whole kits, each from one location: a kit ships from one place */
			int32		gid = i + 1;
			int			t;

			units = 0;
			for (t = 0; t < o->ntaken && units < l->qty; t++)
			{
				int32		loc = o->taken[t].location_id;
				int32		kits = l->qty - units;
				bool		seen = false;

				if (o->taken[t].group != gid)
					continue;
				for (k = 0; k < t; k++)
					if (o->taken[k].group == gid && o->taken[k].location_id == loc)
						seen = true;
				if (seen)
					continue;
				for (j = 0; j < n; j++)
				{
					int64		free_units = 0;

					for (k = 0; k < o->ntaken; k++)
						if (o->taken[k].product_id == pids[j] && o->taken[k].location_id == loc &&
							o->taken[k].group == gid)
							free_units += o->taken[k].qty - o->taken[k].used;
					kits = (int32) Min((int64) kits, free_units / per[j]);
				}
				if (kits <= 0)
					continue;
				for (j = 0; j < n; j++)
					PoTakeUnits(o, i, gid, pids[j], loc, kits * per[j]);
				units += kits;
			}
		}
		else if (n > 0)
		{
			int64		free_units = 0;

			for (k = 0; k < o->ntaken; k++)
				if (o->taken[k].product_id == pids[0] && o->taken[k].group == 0)
					free_units += o->taken[k].qty - o->taken[k].used;
			units = (int32) Min((int64) units, free_units);
			if (units > 0)
				PoTakeUnits(o, i, 0, pids[0], -1, units);
		}
		l->reserved = units;
		o->total_reserved_units += units;
		if (l->qty > units)
		{
			if (strcmp(o->policy, "backorder") == 0)
			{
				l->backordered = l->qty - units;
				o->any_backorder = true;
			}
			else
				l->cancelled = l->qty - units;
		}
	}

	if (strcmp(o->policy, "all_or_nothing") == 0)
	{
		for (i = 0; i < o->nlines; i++)
			if (o->lines[i].reserved != o->lines[i].qty)
				ereport(ERROR,
						(errcode(ERRCODE_OMS_INSUFFICIENT_STOCK),
						 errmsg("insufficient stock: kit %s cannot be assembled at one location", o->lines[i].sku),
						 errdetail("Line %d asks for %d kit(s); the reserved components make %d whole kit(s) at single locations.",
								   o->lines[i].line_no, o->lines[i].qty, o->lines[i].reserved),
						 errhint("Nothing was reserved. Place the order with policy partial or backorder, or move stock so the components are together.")));
	}
	else if (strcmp(o->policy, "partial") == 0 && o->total_reserved_units == 0)
	{
		bool		any_stock_line = false;

		for (i = 0; i < o->nlines; i++)
			if (o->lines[i].product.kind != OMS_KIND_SERVICE)
				any_stock_line = true;
		if (any_stock_line)
			ereport(ERROR,
					(errcode(ERRCODE_OMS_INSUFFICIENT_STOCK),
					 errmsg("insufficient stock: nothing of the order is available"),
					 errdetail("Policy partial reserves what is available, and no line can be served: its products are out of stock, or a kit's components are not together at any one location."),
					 errhint("Nothing was reserved. Place the order with policy backorder to wait for stock.")));
	}
}

/* The order lines, one statement; their ids go back into o->lines. */
static void
PoBookLines(PoOrder *o)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[10] = {INT8OID, INT4ARRAYOID, INT8ARRAYOID, INT4ARRAYOID, NUMERICARRAYOID,
	NUMERICARRAYOID, NUMERICARRAYOID, INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID};
	Datum		values[10];
	int32	   *a_no = palloc(sizeof(int32) * o->nlines);
	int64	   *a_pid = palloc(sizeof(int64) * o->nlines);
	int32	   *a_qty = palloc(sizeof(int32) * o->nlines);
	int32	   *a_res = palloc(sizeof(int32) * o->nlines);
	int32	   *a_bo = palloc(sizeof(int32) * o->nlines);
	int32	   *a_can = palloc(sizeof(int32) * o->nlines);
	Datum	   *a_price = palloc(sizeof(Datum) * o->nlines);
	Datum	   *a_disc = palloc(sizeof(Datum) * o->nlines);
	Datum	   *a_tax = palloc(sizeof(Datum) * o->nlines);
	int			i;

	for (i = 0; i < o->nlines; i++)
	{
		a_no[i] = o->lines[i].line_no;
		a_pid[i] = o->lines[i].product.id;
		a_qty[i] = o->lines[i].qty;
		a_res[i] = o->lines[i].reserved;
		a_bo[i] = o->lines[i].backordered;
		a_can[i] = o->lines[i].cancelled;
		a_price[i] = o->lines[i].unit_price;
		a_disc[i] = o->lines[i].discount;
		a_tax[i] = o->lines[i].tax;
	}
	values[0] = Int64GetDatum(o->order_id);
	values[1] = PointerGetDatum(OmsInt4Array(a_no, o->nlines));
	values[2] = PointerGetDatum(OmsInt8Array(a_pid, o->nlines));
	values[3] = PointerGetDatum(OmsInt4Array(a_qty, o->nlines));
	values[4] = PointerGetDatum(construct_array(a_price, o->nlines, NUMERICOID, -1, false, TYPALIGN_INT));
	values[5] = PointerGetDatum(construct_array(a_disc, o->nlines, NUMERICOID, -1, false, TYPALIGN_INT));
	values[6] = PointerGetDatum(construct_array(a_tax, o->nlines, NUMERICOID, -1, false, TYPALIGN_INT));
	values[7] = PointerGetDatum(OmsInt4Array(a_res, o->nlines));
	values[8] = PointerGetDatum(OmsInt4Array(a_bo, o->nlines));
	values[9] = PointerGetDatum(OmsInt4Array(a_can, o->nlines));
	OmsExec(OmsPlan(&plan,
					"INSERT INTO oms.order_lines (order_id, line_no, product_id, qty, unit_price, discount, tax, "
					"       qty_reserved, qty_backordered, qty_cancelled) "
					"SELECT $1, * FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), "
					"       pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8), "
					"       pg_catalog.unnest($9), pg_catalog.unnest($10)) "
					"RETURNING line_no, id",
					10, types), values, NULL, 0);
	for (i = 0; i < (int) SPI_processed; i++)
		o->lines[OmsGetInt32(i, 1, NULL) - 1].id = OmsGetInt64(i, 2, NULL);
}

/*
 * The reservations and their movements (one statement), the units no line
 * could use given back, and the low-stock check.
 */
static void
PoBookReservations(PoOrder *o)
{
	static SPIPlanPtr plan = NULL;
	int			i,
				k;

	/* what no line could use (a partial kit) goes back */
	for (k = 0; k < o->ntaken; k++)
		if (o->taken[k].used < o->taken[k].qty)
			InventoryUnreserve(o->taken[k].product_id, o->taken[k].location_id, o->taken[k].qty - o->taken[k].used);

	/* availability that fell to the reorder point (only products that have one) */
	if (o->ntaken > 0 && o->any_reorder_point)
	{
		int64	   *lp = palloc(sizeof(int64) * o->ntaken);
		int32	   *lq = palloc(sizeof(int32) * o->ntaken);

		for (k = 0; k < o->ntaken; k++)
		{
			lp[k] = o->taken[k].product_id;
			lq[k] = o->taken[k].used;
		}
		InventoryLowStock(lp, lq, o->ntaken);
	}

	if (o->npieces > 0)
	{
		int64	   *r_line = palloc(sizeof(int64) * o->npieces);
		int64	   *r_pid = palloc(sizeof(int64) * o->npieces);
		int32	   *r_loc = palloc(sizeof(int32) * o->npieces);
		int32	   *r_qty = palloc(sizeof(int32) * o->npieces);
		Oid			types[6] = {INT8OID, INT8ARRAYOID, INT8ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, TEXTOID};
		Datum		values[6];

		for (i = 0; i < o->npieces; i++)
		{
			r_line[i] = o->lines[o->pieces[i].line].id;
			r_pid[i] = o->pieces[i].product_id;
			r_loc[i] = o->pieces[i].location_id;
			r_qty[i] = o->pieces[i].qty;
		}
		values[0] = Int64GetDatum(o->order_id);
		values[1] = PointerGetDatum(OmsInt8Array(r_line, o->npieces));
		values[2] = PointerGetDatum(OmsInt8Array(r_pid, o->npieces));
		values[3] = PointerGetDatum(OmsInt4Array(r_loc, o->npieces));
		values[4] = PointerGetDatum(OmsInt4Array(r_qty, o->npieces));
		values[5] = CStringGetTextDatum(psprintf("order %s/%s", o->channel, o->external_id));
		OmsExec(OmsPlan(&plan,
						"WITH r AS (INSERT INTO oms.reservations (order_id, order_line_id, product_id, location_id, qty) "
						"           SELECT $1, * FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), "
						"                                        pg_catalog.unnest($4), pg_catalog.unnest($5)) "
						"           RETURNING id, product_id, location_id, qty) "
						"INSERT INTO oms.stock_movements (product_id, location_id, kind, reserved_delta, order_id, reservation_id, reference) "
						"SELECT product_id, location_id, 'reservation', qty, $1, id, $6 FROM r",
						6, types), values, NULL, 0);
	}
}

/*
 * The status after placement: backordered when units wait; customers on
 * payment terms are confirmed (their invoice is the payment); then the hold
 * rules: an order or customer flag listed in oms.hold_rules puts the new
 * order on hold, remembering its status.
 */
static void
PoApplyRules(PoOrder *o)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(o->order_id)};
	bool		isnull;
	char	   *hold_reason;

	if (o->any_backorder)
		LifecycleChange(o->order_id, "backordered", "some units wait for stock", false);
	/* a guest order without flags matches no rule */
	if (!o->has_customer && o->nflags == 0)
		return;
	OmsQuery(OmsPlan(&plan,
					 "SELECT COALESCE('terms' OPERATOR(pg_catalog.=) ANY (c.flags), false), "
					 "       (SELECT r.reason FROM oms.hold_rules r WHERE r.active "
					 "           AND (r.flag OPERATOR(pg_catalog.=) ANY (o.flags) "
					 "                OR r.flag OPERATOR(pg_catalog.=) ANY (COALESCE(c.flags, '{}'))) "
					 "         ORDER BY r.flag LIMIT 1) "
					 "  FROM oms.orders o LEFT JOIN oms.customers c ON c.id OPERATOR(pg_catalog.=) o.customer_id "
					 " WHERE o.id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	(void) OmsGetDatum(0, 2, &isnull);
	hold_reason = isnull ? NULL : SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	if (DatumGetBool(OmsGetDatum(0, 1, NULL)))
		LifecycleChange(o->order_id, "confirmed", "customer on payment terms", true);
	if (hold_reason)
		LifecycleHold(o->order_id, hold_reason);
}

PG_FUNCTION_INFO_V1(place_order);
/*
 * oms.place_order(order jsonb): validate, insert idempotently, reserve
 * atomically, return the order document. The steps are described in the
 * banner of this file.
 */
Datum
place_order(PG_FUNCTION_ARGS)
{
	Jsonb	   *doc;
	PoOrder		o;
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	int32		channel_id;
	bool		channel_active;
	int32		hold;
	Datum		result;

	OmsRequireArg(fcinfo, 0, "order");
	doc = PG_GETARG_JSONB_P(0);
	PoParse(doc, &o);
	PoRequestHash(doc, digest);

	SPI_connect();
	channel_id = PoResolveChannel(&o, &channel_active, &hold);
	PoResolvePickup(&o);
	if (!PoInsertOrder(&o, channel_id, hold, digest))
	{
		result = PoDocument(o.order_id, true);
		SPI_finish();
		PG_RETURN_DATUM(result);
	}
	if (!channel_active)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid order: channel \"%s\" is inactive", o.channel),
				 errdetail("Inactive channels accept no new orders."),
				 errhint("Reactivate the channel in oms.channels, or use another one.")));
	PoResolveProducts(&o);
	PoLoadKits(&o);
	PoBuildDemand(&o);
	PoReserve(&o, false, "place_order", NULL, 0);
	PoDistribute(&o);
	PoBookLines(&o);
	PoBookReservations(&o);
	PoApplyRules(&o);

	result = PoDocument(o.order_id, false);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * For oms.explain_route: the routing request place_order would make for
 * this document, validated the same way, without writing anything.
 */
void
OrdersRouteRequest(Jsonb *doc, RouteRequest *req)
{
	PoOrder    *o = palloc(sizeof(PoOrder));
	bool		channel_active;
	int32		hold;

	PoParse(doc, o);
	(void) PoResolveChannel(o, &channel_active, &hold);
	if (!channel_active)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid order: channel \"%s\" is inactive", o->channel),
				 errdetail("Inactive channels accept no new orders."),
				 errhint("Reactivate the channel in oms.channels, or use another one.")));
	PoResolvePickup(o);
	PoResolveProducts(o);
	PoLoadKits(o);
	PoBuildDemand(o);
	PoRouteRequest(o, req);
}

/* ---- re-routing after a rejection ---- */

/*
 * A location rejected an order (src/fulfillment.c has locked the order and
 * cancelled its pending shipments there). Release what the location holds
 * for the order and route those units again, excluding every location that
 * rejected it, in this transaction.
 *
 * Stock lines give up only their units at the rejecting location. A kit
 * line gives up all its reservations (at every location), because kits are
 * whole: its kits are routed again as one demand. Units no eligible
 * location has are backordered whatever the order's policy: the order was
 * accepted, and a shortage found later is waited out, not cancelled
 * silently (cancel_order remains the caller's choice).
 *
 * With adjust_stock (reason inventory_mismatch) the released units are
 * written off the location's on_hand before re-routing, as far as they are
 * not reserved for other orders. Returns a JSON object text.
 */
char *
OrdersReroute(int64 order_id, int32 location_id, bool adjust_stock, const char *why)
{
	static SPIPlanPtr plan_order = NULL;
	static SPIPlanPtr plan_lines = NULL;
	static SPIPlanPtr plan_release = NULL;
	static SPIPlanPtr plan_book = NULL;
	Oid			t2[2] = {INT8OID, INT4OID};
	Datum		values[4];
	PoOrder    *o = palloc0(sizeof(PoOrder));
	RouteAllocation *freed;		/* per reservation released: product, location, qty */
	int64	   *res_ids;
	int			nfreed = 0;
	int64		released_units = 0;
	int64		written_off = 0;
	int64		backordered = 0;
	int			i,
				j;
	StringInfoData out;

	/* the order's routing inputs */
	values[0] = Int64GetDatum(order_id);
	OmsQuery(OmsPlan(&plan_order,
					 "SELECT c.code, o.external_id, o.channel_id, o.ship_lat, o.ship_lon, "
					 "       COALESCE(o.pickup_location_id, 0), o.split_policy "
					 "  FROM oms.orders o JOIN oms.channels c ON c.id OPERATOR(pg_catalog.=) o.channel_id "
					 " WHERE o.id OPERATOR(pg_catalog.=) $1",
					 1, t2), values, NULL, 1);
	if (SPI_processed != 1)
		OmsOrderNotFound(order_id);
	o->order_id = order_id;
	o->channel = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	o->external_id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	o->channel_id = OmsGetInt32(0, 3, NULL);
	{
		bool		isnull;
		Datum		lat = OmsGetDatum(0, 4, &isnull);

		o->has_coords = !isnull;
		if (!isnull)
		{
			o->lat = DatumGetFloat8(lat);
			o->lon = DatumGetFloat8(OmsGetDatum(0, 5, NULL));
		}
	}
	o->pickup_location_id = OmsGetInt32(0, 6, NULL);
	o->split = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7);
	o->policy = "backorder";

	/*
	 * The reservations to release, locked with their lines: a stock line's
	 * at this location, all of a kit line's that has any here.
	 */
	values[1] = Int32GetDatum(location_id);
	OmsQuery(OmsPlan(&plan_lines,
					 "SELECT r.id, r.product_id, r.location_id, r.qty, l.id, l.line_no, l.product_id, p.kind, "
					 "       l.qty_reserved, p.sku "
					 "  FROM oms.order_lines l "
					 "  JOIN oms.products p ON p.id OPERATOR(pg_catalog.=) l.product_id "
					 "  JOIN oms.reservations r ON r.order_line_id OPERATOR(pg_catalog.=) l.id "
					 "       AND r.status OPERATOR(pg_catalog.=) 'active' "
					 " WHERE l.order_id OPERATOR(pg_catalog.=) $1 "
					 "   AND EXISTS (SELECT FROM oms.reservations h WHERE h.order_line_id OPERATOR(pg_catalog.=) l.id "
					 "               AND h.status OPERATOR(pg_catalog.=) 'active' AND h.location_id OPERATOR(pg_catalog.=) $2) "
					 "   AND (p.kind OPERATOR(pg_catalog.=) 'kit' OR r.location_id OPERATOR(pg_catalog.=) $2) "
					 " ORDER BY l.line_no, r.product_id, r.location_id, r.id "
					 "   FOR UPDATE OF l, r",
					 2, t2), values, NULL, 0);
	nfreed = (int) SPI_processed;
	freed = palloc(sizeof(RouteAllocation) * (nfreed + 1));
	res_ids = palloc(sizeof(int64) * (nfreed + 1));
	o->lines = palloc0(sizeof(PoLine) * (nfreed + 1));
	for (i = 0; i < nfreed; i++)
	{
		int64		line_id = OmsGetInt64(i, 5, NULL);
		char	   *kind = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 8);
		bool		kit = strcmp(kind, "kit") == 0;
		int32		qty = OmsGetInt32(i, 4, NULL);
		PoLine	   *l = NULL;

		res_ids[i] = OmsGetInt64(i, 1, NULL);
		freed[i].product_id = OmsGetInt64(i, 2, NULL);
		freed[i].location_id = OmsGetInt32(i, 3, NULL);
		freed[i].qty = qty;
		freed[i].group = 0;
		for (j = 0; j < o->nlines; j++)
			if (o->lines[j].id == line_id)
				l = &o->lines[j];
		if (l == NULL)
		{
			l = &o->lines[o->nlines++];
			l->id = line_id;
			l->line_no = OmsGetInt32(i, 6, NULL);
			l->product.id = OmsGetInt64(i, 7, NULL);
			l->product.kind = kit ? OMS_KIND_KIT : OMS_KIND_STOCK;
			l->product.active = true;
			l->sku = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 10);
			/* a kit line re-routes all its kits; a stock line what is here */
			l->qty = kit ? OmsGetInt32(i, 9, NULL) : 0;
		}
		if (!kit)
			l->qty += qty;
		released_units += qty;
	}
	if (o->nlines == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order " INT64_FORMAT " holds nothing at this location", order_id),
				 errdetail("No active reservation of the order is at the rejecting location."),
				 errhint("Reject only at a location the order was routed to (see oms.get_order).")));

	/*
	 * Route the released units again, excluding rejecting locations. The
	 * balance rows are released inside the routing attempt, merged with the
	 * new reservations in (product, location) order, so this call takes
	 * balance locks in the one global order like every other.
	 */
	PoLoadKits(o);
	PoBuildDemand(o);
	PoReserve(o, true, "reroute", freed, nfreed);
	PoDistribute(o);

	/* the released reservations and their movements */
	values[0] = PointerGetDatum(OmsInt8Array(res_ids, nfreed));
	values[1] = CStringGetTextDatum(psprintf("order %s/%s rejected: %s", o->channel, o->external_id, why));
	{
		Oid			trel[2] = {INT8ARRAYOID, TEXTOID};

		OmsExec(OmsPlan(&plan_release,
						"WITH r AS (UPDATE oms.reservations SET status = 'released', ended_at = pg_catalog.now() "
						"            WHERE id OPERATOR(pg_catalog.=) ANY ($1) "
						"           RETURNING id, order_id, order_line_id, product_id, location_id, qty) "
						"INSERT INTO oms.stock_movements (product_id, location_id, kind, reserved_delta, "
						"       order_id, reservation_id, reference) "
						"SELECT product_id, location_id, 'release', OPERATOR(pg_catalog.-) qty, order_id, id, $2 FROM r",
						2, trel), values, NULL, 0);
	}
	PoBookReservations(o);

	/* the count was wrong: the units are not there */
	if (adjust_stock)
	{
		for (i = 0; i < nfreed; i++)
			if (freed[i].location_id == location_id)
				written_off += InventoryWriteOff(freed[i].product_id, location_id, freed[i].qty,
												 psprintf("inventory mismatch: order %s/%s rejected",
														  o->channel, o->external_id));
	}

	/* the lines: what was released, what came back, what waits */
	for (i = 0; i < o->nlines; i++)
	{
		Oid			tb[4] = {INT8OID, INT4OID, INT4OID, INT4OID};

		values[0] = Int64GetDatum(o->lines[i].id);
		values[1] = Int32GetDatum(o->lines[i].qty);
		values[2] = Int32GetDatum(o->lines[i].reserved);
		values[3] = Int32GetDatum(o->lines[i].backordered);
		OmsExec(OmsPlan(&plan_book,
						"UPDATE oms.order_lines SET qty_reserved = qty_reserved OPERATOR(pg_catalog.-) $2 OPERATOR(pg_catalog.+) $3, "
						"       qty_backordered = qty_backordered OPERATOR(pg_catalog.+) $4 "
						" WHERE id OPERATOR(pg_catalog.=) $1",
						4, tb), values, NULL, 0);
		backordered += o->lines[i].backordered;
	}

	/* an unpaid order with units waiting is backordered */
	if (backordered > 0)
	{
		static SPIPlanPtr plan_status = NULL;
		Oid			t1[1] = {INT8OID};

		values[0] = Int64GetDatum(order_id);
		OmsQuery(OmsPlan(&plan_status, "SELECT status FROM oms.orders WHERE id OPERATOR(pg_catalog.=) $1",
						 1, t1), values, NULL, 1);
		if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "pending_payment") == 0)
			LifecycleChange(order_id, "backordered", "re-routed units wait for stock", false);
	}

	initStringInfo(&out);
	appendStringInfo(&out, "{\"released_units\": " INT64_FORMAT ", \"written_off\": " INT64_FORMAT
					 ", \"backordered_units\": " INT64_FORMAT ", \"rerouted\": [",
					 released_units, written_off, backordered);
	for (i = 0; i < o->npieces; i++)
	{
		appendStringInfo(&out, "%s{\"line_no\": %d, \"location_id\": %d, \"product_id\": " INT64_FORMAT ", \"qty\": %d}",
						 i ? ", " : "", o->lines[o->pieces[i].line].line_no, o->pieces[i].location_id,
						 o->pieces[i].product_id, o->pieces[i].qty);
	}
	appendStringInfoString(&out, "]}");
	return out.data;
}

/* ---- releasing orders: cancel, expiry ---- */

/*
 * Release every active reservation and backorder of the given orders, which
 * the caller has locked. Balance rows are taken in (product, location)
 * order across all the orders at once. Returns the number of reservations
 * released.
 */
int
OrdersRelease(int64 *order_ids, int norders, const char *status,
			  const char *reason, const char *movement_kind, char **filled)
{
	static SPIPlanPtr plan_sums = NULL;
	static SPIPlanPtr plan_res = NULL;
	static SPIPlanPtr plan_lines = NULL;
	static SPIPlanPtr plan_orders = NULL;
	Oid			t1[1] = {INT8ARRAYOID};
	Oid			t4[4] = {INT8ARRAYOID, TEXTOID, TEXTOID, TEXTOID};
	Oid			t3[3] = {INT8ARRAYOID, TEXTOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = "    ";
	int			n,
				i;
	int64	   *pids;
	int32	   *locs;
	int32	   *qtys;
	int			released;

	if (norders == 0)
		return 0;
	values[0] = PointerGetDatum(OmsInt8Array(order_ids, norders));
	OmsQuery(OmsPlan(&plan_sums,
					 "SELECT product_id, location_id, pg_catalog.sum(qty)::int4 FROM oms.reservations "
					 " WHERE order_id OPERATOR(pg_catalog.=) ANY ($1) AND status OPERATOR(pg_catalog.=) 'active' "
					 " GROUP BY 1, 2 ORDER BY 1, 2",
					 1, t1), values, NULL, 0);
	n = (int) SPI_processed;
	pids = palloc(sizeof(int64) * (n + 1));
	locs = palloc(sizeof(int32) * (n + 1));
	qtys = palloc(sizeof(int32) * (n + 1));
	for (i = 0; i < n; i++)
	{
		pids[i] = OmsGetInt64(i, 1, NULL);
		locs[i] = OmsGetInt32(i, 2, NULL);
		qtys[i] = OmsGetInt32(i, 3, NULL);
	}
	for (i = 0; i < n; i++)
		InventoryUnreserve(pids[i], locs[i], qtys[i]);

	values[1] = CStringGetTextDatum(strcmp(movement_kind, "expiry") == 0 ? "expired" : "released");
	values[2] = CStringGetTextDatum(movement_kind);
	if (reason)
		values[3] = CStringGetTextDatum(reason);
	else
		nulls[3] = 'n';
	OmsExec(OmsPlan(&plan_res,
					"WITH r AS (UPDATE oms.reservations SET status = $2, ended_at = pg_catalog.now() "
					"            WHERE order_id OPERATOR(pg_catalog.=) ANY ($1) AND status OPERATOR(pg_catalog.=) 'active' "
					"           RETURNING id, order_id, product_id, location_id, qty) "
					"INSERT INTO oms.stock_movements (product_id, location_id, kind, reserved_delta, order_id, reservation_id, reference) "
					"SELECT product_id, location_id, $3, OPERATOR(pg_catalog.-) qty, order_id, id, $4 FROM r",
					4, t4), values, nulls, 0);
	released = (int) SPI_processed;

	OmsExec(OmsPlan(&plan_lines,
					"UPDATE oms.order_lines SET qty_cancelled = qty_cancelled OPERATOR(pg_catalog.+) qty_reserved "
					"       OPERATOR(pg_catalog.+) qty_backordered, qty_reserved = 0, qty_backordered = 0 "
					" WHERE order_id OPERATOR(pg_catalog.=) ANY ($1) "
					"   AND (qty_reserved OPERATOR(pg_catalog.>) 0 OR qty_backordered OPERATOR(pg_catalog.>) 0)",
					1, t1), values, NULL, 0);

	values[1] = CStringGetTextDatum(status);
	values[2] = values[3];
	nulls[2] = nulls[3];
	LifecycleSetReason(reason);
	OmsExec(OmsPlan(&plan_orders,
					"UPDATE oms.orders SET status = $2, cancel_reason = $3, expires_at = NULL, held_from = NULL, updated_at = pg_catalog.now() "
					" WHERE id OPERATOR(pg_catalog.=) ANY ($1)",
					3, t3), values, nulls, 0);
	LifecycleSetReason(NULL);

	/*
	 * The released units go to waiting backorders first, as a receipt's do.
	 * This call still holds every released balance row, which is what the
	 * fill requires, and the fill never waits (SKIP LOCKED). The orders
	 * just released are closed and no longer match.
	 */
	if (filled)
	{
		StringInfoData all;

		initStringInfo(&all);
		appendStringInfoChar(&all, '[');
		for (i = 0; i < n; i++)
		{
			char	   *f = InventoryFillBackorders(pids[i], locs[i]);
			size_t		len = strlen(f);

			if (len > 2)
				appendStringInfo(&all, "%s%.*s", all.len > 1 ? ", " : "", (int) (len - 2), f + 1);
		}
		appendStringInfoChar(&all, ']');
		*filled = all.data;
	}
	return released;
}

/*
 * Lazy expiry: release lapsed unpaid orders holding stock of these
 * products. Orders being changed by someone else are skipped.
 */
int
OrdersExpireForProducts(int64 *product_ids, int nproducts)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8ARRAYOID};
	Datum		values[1] = {PointerGetDatum(OmsInt8Array(product_ids, nproducts))};
	int64	   *ids;
	int			n,
				i;

	OmsQuery(OmsPlan(&plan,
					 "SELECT o.id FROM oms.orders o "
					 " WHERE o.expires_at OPERATOR(pg_catalog.<=) pg_catalog.now() "
					 "   AND o.status OPERATOR(pg_catalog.=) ANY ('{pending_payment,backordered}'::text[]) "
					 "   AND o.id IN (SELECT r.order_id FROM oms.reservations r "
					 "                 WHERE r.product_id OPERATOR(pg_catalog.=) ANY ($1) AND r.status OPERATOR(pg_catalog.=) 'active') "
					 " ORDER BY o.id FOR UPDATE OF o SKIP LOCKED",
					 1, types), values, NULL, 0);
	n = (int) SPI_processed;
	if (n == 0)
		return 0;
	ids = palloc(sizeof(int64) * n);
	for (i = 0; i < n; i++)
		ids[i] = OmsGetInt64(i, 1, NULL);
	/* the stock freed here is for the order being placed: no backorder fill */
	return OrdersRelease(ids, n, "expired", "reservation hold expired", "expiry", NULL);
}

/*
 * Cancel an order (the caller is connected to SPI): release its stock and
 * backorders, void open authorizations, refund captures, and move it to
 * cancelled through the lifecycle trigger. Returns the order document with
 * what was done; a cancelled or expired order is left alone and says so.
 */
Datum
OrdersCancel(int64 order_id, const char *reason)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	char	   *status;
	int64		shipped;
	int			released;
	char	   *filled = NULL;
	char	   *payments;
	Datum		doc;

	/*
	 * Lock first, then count what shipped in a statement of its own: after
	 * waiting for the lock (a concurrent ship) only a new snapshot sees the
	 * lines that ship committed.
	 */
	status = LifecycleLockOrder(order_id, NULL);
	values[0] = Int64GetDatum(order_id);
	OmsQuery(OmsPlan(&plan,
					 "SELECT COALESCE(pg_catalog.sum(l.qty_shipped), 0)::int8 FROM oms.order_lines l "
					 " WHERE l.order_id OPERATOR(pg_catalog.=) $1",
					 1, types), values, NULL, 1);
	shipped = OmsGetInt64(0, 1, NULL);

	if (strcmp(status, "cancelled") == 0 || strcmp(status, "expired") == 0)
	{
		StringInfoData note;

		initStringInfo(&note);
		appendStringInfo(&note, "{\"cancelled\": false, \"note\": \"order " INT64_FORMAT " is already %s; nothing to do\"}",
						 order_id, status);
		doc = PoDocument(order_id, false);
		return DirectFunctionCall2(jsonb_concat, doc,
								   DirectFunctionCall1(jsonb_in, CStringGetDatum(note.data)));
	}
	if (shipped > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order " INT64_FORMAT " cannot be cancelled: it has shipped", order_id),
				 errdetail("from %s to cancelled: " INT64_FORMAT " unit(s) have already shipped.", status, shipped),
				 errhint("Create a return for shipped units instead.")));

	FulfillmentCancelOrder(order_id);
	released = OrdersRelease(&order_id, 1, "cancelled", reason ? reason : "cancelled", "release", &filled);
	payments = PaymentsCancelOrder(order_id, reason ? reason : "order cancelled");
	doc = PoDocument(order_id, false);
	return DirectFunctionCall2(jsonb_concat, doc,
							   DirectFunctionCall1(jsonb_in,
												   CStringGetDatum(psprintf("{\"cancelled\": true, \"reservations_released\": %d, "
																			"\"backorders_filled\": %s, \"payments\": %s}",
																			released, filled, payments))));
}

PG_FUNCTION_INFO_V1(cancel_order);
/*
 * oms.cancel_order(order_id, reason): release everything the order holds.
 */
Datum
cancel_order(PG_FUNCTION_ARGS)
{
	int64		order_id;
	char	   *reason = NULL;
	Datum		result;

	OmsRequireArg(fcinfo, 0, "order_id");
	order_id = PG_GETARG_INT64(0);
	if (!PG_ARGISNULL(1))
	{
		reason = text_to_cstring(PG_GETARG_TEXT_PP(1));
		OmsCheckNoCardNumber(reason, "reason");
	}
	SPI_connect();
	result = SPI_datumTransfer(OrdersCancel(order_id, reason), false, -1);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

PG_FUNCTION_INFO_V1(expire_reservations);
/*
 * oms.expire_reservations(): release the reservations of unpaid orders whose
 * hold has lapsed. Returns the number of reservations released.
 */
Datum
expire_reservations(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64	   *ids;
	int			n,
				i;
	int			released = 0;

	(void) fcinfo;
	SPI_connect();
	OmsQuery(OmsPlan(&plan,
					 "SELECT id FROM oms.orders WHERE expires_at OPERATOR(pg_catalog.<=) pg_catalog.now() "
					 "   AND status OPERATOR(pg_catalog.=) ANY ('{pending_payment,backordered}'::text[]) "
					 " ORDER BY id FOR UPDATE SKIP LOCKED",
					 0, NULL), NULL, NULL, 0);
	n = (int) SPI_processed;
	if (n > 0)
	{
		char	   *filled;

		ids = palloc(sizeof(int64) * n);
		for (i = 0; i < n; i++)
			ids[i] = OmsGetInt64(i, 1, NULL);

		released = OrdersRelease(ids, n, "expired", "reservation hold expired", "expiry", &filled);
	}
	SPI_finish();
	PG_RETURN_INT32(released);
}
