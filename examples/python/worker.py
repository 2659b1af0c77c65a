#!/usr/bin/python3
"""examples/python/worker.py: an order-taking worker with psycopg 3.

Places --orders orders through oms.place_order(jsonb) from --concurrency
threads sharing one psycopg_pool.ConnectionPool, as a member of oms_app would:
  - each order is one call and one transaction; SerializationFailure (40001)
    and DeadlockDetected (40P01) are retried, which is safe because
    (channel, external_id) makes the call idempotent. Retries are bounded by
    time (20 s), not by count, and wait a random 0..min(50, 2^n) ms: under
    REPEATABLE READ every commit touching the same stock row fails the
    transactions that started before it, so a hot sku sold by busy READ
    COMMITTED sessions can fail one order many times in a row, and a fixed
    count with a growing wait starved that order while fresh ones won;
  - OM001 (insufficient stock) is a business outcome: psycopg raises it as a
    plain DatabaseError, so we look at e.sqlstate, and e.diag.message_detail
    names every short sku ("SKU: asked N, available M; ..."); we count them;
  - other OM* codes are reported with SQLSTATE, message, detail and hint;
    anything else is a bug and stops the worker.
Every 25th order asks for more of PLENTY than exists, so it is short whatever
the timing; the others each take one unit of the hot sku until it runs out.
Prints one JSON line of results; exits non-zero if anything was unexpected.

Usage: worker.py [--channel py-rc] [--hot HOT-PY-RC] [--orders 200]
         [--concurrency 8] [--isolation read-committed|repeatable-read|serializable]
         [--prefix P]
"""

import argparse
import json
import os
import random
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from omsdb import error_fields, make_pool, psycopg, to_json_number
from psycopg import IsolationLevel, errors
from psycopg.types.json import Jsonb

RETRYABLE = (errors.SerializationFailure, errors.DeadlockDetected)  # 40001, 40P01
RETRY_BUDGET_S = 20.0   # give up on an order after 20 s of retries
SHORT = re.compile(r"^(.+): asked (\d+), available (\d+)")
LEVELS = {
    "read-committed": IsolationLevel.READ_COMMITTED,
    "repeatable-read": IsolationLevel.REPEATABLE_READ,
    "serializable": IsolationLevel.SERIALIZABLE,
}


def short_skus(detail):
    """'HOT-PY: asked 1, available 0; PLENTY: asked 200000, ...' -> skus"""
    out = []
    for part in (detail or "").split(";"):
        m = SHORT.match(part.strip())
        if m:
            out.append(m.group(1))
    return out


def order_document(opts, i):
    huge = i % 25 == 0
    return {
        "channel": opts.channel,
        "external_id": f"{opts.prefix}-{i:04d}",
        "currency": "EUR",
        "customer": {"email": f"buyer{i % 40}@example.com", "name": f"Buyer {i % 40}"},
        "lines": [
            {"sku": opts.hot, "qty": 1,
             "unit_price": to_json_number(Decimal("19.90")), "tax": to_json_number(Decimal("3.18"))},
            {"sku": "PLENTY", "qty": 200000 if huge else 2, "unit_price": to_json_number(Decimal("1.25"))},
        ],
    }


def place_once(pool, level, doc):
    with pool.connection() as conn:
        conn.isolation_level = level
        with conn.transaction():          # BEGIN [ISOLATION LEVEL ...] ... COMMIT
            return conn.execute("SELECT oms.place_order(%s)", [Jsonb(doc)]).fetchone()[0]


def place_with_retry(pool, level, doc, stats, lock):
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            placed = place_once(pool, level, doc)
            with lock:
                stats["most_attempts"] = max(stats["most_attempts"], attempt)
            return placed
        except RETRYABLE as e:
            if time.monotonic() - started > RETRY_BUDGET_S:
                raise
            with lock:
                stats["retries"] += 1
                stats["retried_codes"][e.sqlstate] = stats["retried_codes"].get(e.sqlstate, 0) + 1
            time.sleep(random.random() * min(0.05, 0.001 * 2 ** attempt))  # full jitter, at most 50 ms


def pitfalls(pool, problems):
    """The wrong ways, kept here so that a driver upgrade changing them shows up."""
    with pool.connection() as conn:
        try:
            conn.execute("SELECT %s::jsonb", [{"sku": "X"}])   # a bare dict
            problems.append("a bare dict was adapted")
        except psycopg.ProgrammingError as e:
            print(f"# pitfall shown: a bare dict as a parameter: {e}")
        row = conn.execute("SELECT count(*), 2.50::numeric, '{\"p\": 0.10}'::jsonb").fetchone()
        if not isinstance(row[0], int) or row[1] != Decimal("2.50") or row[2]["p"] != Decimal("0.10"):
            problems.append(f"unexpected types: {[type(x).__name__ for x in row]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--channel", default="py-rc")
    ap.add_argument("--hot", default="HOT-PY-RC")
    ap.add_argument("--orders", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--isolation", choices=sorted(LEVELS), default="read-committed")
    ap.add_argument("--prefix", default=f"P{os.getpid()}")
    opts = ap.parse_args()
    level = LEVELS[opts.isolation]

    pool = make_pool(opts.concurrency, "oms-python-example")
    lock = threading.Lock()
    stats = {
        "client": "psycopg", "isolation": opts.isolation, "placed": 0, "replayed": 0,
        "out_of_stock": 0, "short_skus": {}, "invalid": 0, "other_oms_errors": 0,
        "retries": 0, "retried_codes": {}, "most_attempts": 0, "placed_ids": [], "units_of_hot": 0,
    }
    problems = []
    pitfalls(pool, problems)
    first_placed = []

    def place(i):
        doc = order_document(opts, i)
        try:
            placed = place_with_retry(pool, level, doc, stats, lock)
        except psycopg.DatabaseError as e:
            f = error_fields(e)
            with lock:
                if f["sqlstate"] == "OM001":
                    stats["out_of_stock"] += 1
                    skus = short_skus(f["detail"])
                    if not skus:
                        problems.append(f"OM001 without short skus in its detail: {f['detail']}")
                    for s in skus:
                        stats["short_skus"][s] = stats["short_skus"].get(s, 0) + 1
                    return
                if (f["sqlstate"] or "").startswith("OM"):
                    stats["other_oms_errors"] += 1
                    print(f"# {doc['external_id']}: {json.dumps(f)}")
                    return
            raise                      # not a business outcome
        with lock:
            if placed["replayed"]:
                problems.append(f"{doc['external_id']} was replayed on first placement")
            stats["placed"] += 1
            stats["placed_ids"].append(placed["order_id"])
            stats["units_of_hot"] += next(l["reserved"] for l in placed["lines"] if l["sku"] == opts.hot)
            if not first_placed:
                first_placed.append(doc)

    with ThreadPoolExecutor(max_workers=opts.concurrency) as ex:
        for fut in [ex.submit(place, i) for i in range(opts.orders)]:
            fut.result()               # re-raises what a thread could not handle

    # Idempotency: sending a placed document again returns the same order.
    if first_placed:
        again = place_with_retry(pool, level, first_placed[0], stats, lock)
        if again["replayed"]:
            stats["replayed"] += 1
        else:
            problems.append("a repeated document was not replayed")

    # A bad document: 22023 (psycopg.errors.InvalidParameterValue) naming the field.
    try:
        with pool.connection() as conn:
            conn.execute("SELECT oms.place_order(%s)", [Jsonb({
                "channel": opts.channel, "external_id": f"{opts.prefix}-bad", "currency": "EUR",
                "lines": [{"sku": "NO-SUCH-SKU", "qty": 1, "unit_price": 1}]})])
        problems.append("an unknown sku was accepted")
    except errors.InvalidParameterValue as e:
        f = error_fields(e)
        if "NO-SUCH-SKU" in (f["detail"] or ""):
            stats["invalid"] += 1
            print(f"# rejected document: {json.dumps(f)}")
        else:
            problems.append(f"bad document: {json.dumps(f)}")

    # Reading back: int8 is int, numeric is Decimal, timestamptz an aware datetime.
    if stats["placed_ids"]:
        with pool.connection() as conn:
            rows = conn.execute(
                "SELECT id, total, placed_at, flags FROM oms.orders WHERE id = ANY(%s) ORDER BY id",
                [stats["placed_ids"]]).fetchall()
        if len(rows) != stats["placed"]:
            problems.append(f"read back {len(rows)} of {stats['placed']} orders")
        r = rows[0]
        if not (isinstance(r[0], int) and isinstance(r[1], Decimal) and r[2].tzinfo is not None
                and isinstance(r[3], list)):
            problems.append(f"unexpected Python types: {[type(x).__name__ for x in r]}")
        stats["total_cents"] = int(sum(row[1] for row in rows) * 100)
    pool.close()

    stats["placed_ids"].sort()
    print(json.dumps(stats))
    for p in problems:
        print(f"problem: {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    try:
        main()
    except psycopg.Error as e:
        print(f"worker failed: {e.__class__.__name__} {json.dumps(error_fields(e))}", file=sys.stderr)
        sys.exit(2)
