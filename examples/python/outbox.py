#!/usr/bin/python3
"""examples/python/outbox.py: an outbox consumer with psycopg 3.

The durable channel is the table oms.events, read through the consumer API:
oms.read_events(consumer, max) hands out the next batch (in writing
transaction, then id order) and oms.ack_events(consumer, id) moves the
consumer's cursor up to and including that event. We acknowledge the id of
the LAST ROW WE HANDLED, in the order the batch came: ids are not in commit
order, so max(id) of a batch may not be its last row, and acking it would
leave the cursor in the middle of the batch.

NOTIFY oms_events (payload: the event id) is only a wake-up call: it is sent
when the writer's session has oms.notify_events on, lost when nobody listens,
and carries nothing we rely on. So we drain the outbox at start, after every
notification, and every few seconds anyway. LISTEN needs a connection of its
own (not from the pool), kept open; a thread blocks in conn.notifies() on it
and hands the payloads to the main thread, which reads and acknowledges
through the pool.

Stops on SIGTERM or SIGINT after a last drain, prints one JSON line and exits
non-zero if an event came twice or out of order, or if a notification named
an event the outbox never delivered.

Usage: outbox.py [--consumer py-outbox] [--batch 50]
"""

import argparse
import json
import os
import queue
import signal
import sys
import threading

from omsdb import error_fields, make_pool, psycopg
from psycopg.rows import dict_row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--consumer", default="py-outbox")
    ap.add_argument("--batch", type=int, default=50)
    opts = ap.parse_args()

    pool = make_pool(2, "oms-python-outbox")
    stats = {
        "client": "psycopg", "consumer": opts.consumer, "handled": 0, "kinds": {}, "batches": 0,
        "notifications": 0, "acked_id": None, "duplicates": 0, "out_of_order": 0,
        "notified_not_handled": 0,
    }
    seen = set()
    notified = set()
    last = None                     # (xid, id) of the last event handled
    stop = threading.Event()

    def handle(ev):
        # the real work goes here (send the e-mail, call the ERP, ...); it must
        # be idempotent: delivery is at least once
        nonlocal last
        if ev["id"] in seen:
            stats["duplicates"] += 1
        seen.add(ev["id"])
        pos = (int(ev["xid"]), ev["id"])   # xid8 arrives as str: compare as int
        if last is not None and pos <= last:
            stats["out_of_order"] += 1
        last = pos
        stats["kinds"][ev["kind"]] = stats["kinds"].get(ev["kind"], 0) + 1
        stats["handled"] += 1

    def drain():
        while True:
            with pool.connection() as conn:
                cur = conn.cursor(row_factory=dict_row)
                rows = cur.execute(
                    "SELECT id, xid, kind, order_id, payload, at FROM oms.read_events(%s, %s)",
                    [opts.consumer, opts.batch]).fetchall()
                if not rows:
                    return
                stats["batches"] += 1
                for ev in rows:             # in the order delivered
                    handle(ev)
                last_id = rows[-1]["id"]    # not max(id)
                conn.execute("SELECT oms.ack_events(%s, %s)", [opts.consumer, last_id])
                stats["acked_id"] = last_id

    listen = psycopg.connect(autocommit=True, application_name="oms-python-outbox-listen")
    listen.execute("LISTEN oms_events")
    # a private channel of our own marks the end of the notifications (below)
    sync_channel = f"oms_outbox_sync_{os.getpid()}"
    listen.execute(f"LISTEN {sync_channel}")
    wakeups = queue.Queue()
    synced = threading.Event()

    def listener():
        try:
            for n in listen.notifies():
                if n.channel == "oms_events":
                    wakeups.put(int(n.payload))
                elif n.channel == sync_channel:
                    synced.set()
        except psycopg.Error:
            if not stop.is_set():
                wakeups.put(None)           # tell the main thread the listener died

    threading.Thread(target=listener, daemon=True).start()
    print("# listening on oms_events", flush=True)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    def take(event_id):
        if event_id is None:
            raise RuntimeError("the LISTEN connection failed")
        stats["notifications"] += 1
        notified.add(event_id)

    while not stop.is_set():
        drain()
        try:
            event_id = wakeups.get(timeout=1)   # wait for a notification, or poll anyway
        except queue.Empty:
            continue
        take(event_id)
        while True:                              # the rest that queued up: one drain for all
            try:
                take(wakeups.get_nowait())
            except queue.Empty:
                break
    # Last drain. Notifications reach a listener in commit order, so once a
    # notification we send ourselves now arrives, every one of an event
    # committed before it has arrived too: the count is complete.
    with pool.connection() as conn:
        conn.execute("SELECT pg_notify(%s, 'sync')", [sync_channel])
    if not synced.wait(timeout=30):
        raise RuntimeError("our own notification did not arrive within 30 s")
    drain()
    while True:
        try:
            take(wakeups.get_nowait())
        except queue.Empty:
            break
    pool.close()

    stats["notified_not_handled"] = len(notified - seen)
    print(json.dumps(stats))
    sys.exit(1 if stats["duplicates"] or stats["out_of_order"] or stats["notified_not_handled"] else 0)


if __name__ == "__main__":
    try:
        main()
    except psycopg.Error as e:
        print(f"outbox consumer failed: {e.__class__.__name__} {json.dumps(error_fields(e))}", file=sys.stderr)
        sys.exit(2)
