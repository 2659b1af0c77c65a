"""test/clients/interleave.py: two orders whose events commit out of id order.

Transaction A takes its transaction id first; B then places an order and
commits; A places its order and commits. A's event has the higher id but
the older transaction, so a consumer gets them in one batch as (A, B): the
last row is B, while max(id) is A. A consumer that acknowledges max(id)
leaves its cursor inside the batch, which test/clients/run sees. Runs as the
superuser of the test cluster (PG* variables), database in argv[1].
"""
import sys

import psycopg
from psycopg.types.json import Jsonb


def order(ext):
    return Jsonb({"channel": "interleave", "external_id": ext, "currency": "EUR",
                  "lines": [{"sku": "PLENTY", "qty": 1, "unit_price": 1.25}]})


with psycopg.connect(dbname=sys.argv[1]) as a, psycopg.connect(dbname=sys.argv[1], autocommit=True) as b:
    for c in (a, b):
        c.execute("SET oms.notify_events = on")
    a.commit()
    xid_a = a.execute("SELECT pg_current_xact_id()").fetchone()[0]       # A: BEGIN, xid taken
    b.execute("SELECT oms.place_order(%s)", [order("INTERLEAVE-B")])      # B commits first
    a.execute("SELECT oms.place_order(%s)", [order("INTERLEAVE-A")])
    a.commit()
    rows = b.execute("SELECT e.id, e.xid::text FROM oms.events e JOIN oms.orders o ON o.id = e.order_id"
                     " WHERE o.external_id IN ('INTERLEAVE-A', 'INTERLEAVE-B') ORDER BY e.xid, e.id").fetchall()
    ids = [r[0] for r in rows]
    ok = len(ids) == 2 and ids[0] > ids[1]
    print(f"{'ok' if ok else 'bad'} delivery order {rows}")
    sys.exit(0 if ok else 1)
