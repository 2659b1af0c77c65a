#!/usr/bin/python3
"""test/shard/client.py: concurrent clients of the router (test/t/013_sharding.pl).

--clients threads, each with its own connection to the router database in
autocommit mode, place orders for random merchants through
oms_router.place_order(merchant, doc) for --seconds seconds; unless
--only-place, some calls instead pay (authorize_payment + capture_payment)
or cancel one of the client's own acknowledged orders of that merchant.

Every place_order that returned is logged to --log as one JSON line
{"merchant", "external_id", "order_id"} (acknowledged); OM001 (insufficient
stock, the hot sku runs out) is counted as refused. Any other error of a
place_order is retried with the same document (same external_id) until it
returns or is refused: 57P03 while the merchant is being moved, a
connection cut by the move; the retry of a call that had committed is
answered as a replay. A pay or cancel that fails with another error than
the documented 55000 / 22023 stops the client.

Prints one JSON line of totals at the end: acknowledged and refused per
merchant, retries per SQLSTATE, pays, cancels, errors.
"""

import argparse
import json
import random
import sys
import threading
import time

import psycopg

SKUS = ['P1', 'P2', 'P3', 'HOT']


def doc_for(rng, ext):
    lines, seen = [], set()
    for _ in range(rng.randint(1, 3)):
        sku = rng.choice(SKUS)
        if sku in seen:
            continue
        seen.add(sku)
        lines.append({'sku': sku, 'qty': rng.randint(1, 2), 'unit_price': 10 + len(lines)})
    return {'channel': 'web', 'external_id': ext, 'currency': 'EUR', 'lines': lines}


def run_client(opts, c, totals, lock, fh):
    rng = random.Random(opts.seed * 1000 + c)
    conn = psycopg.connect(opts.dsn, autocommit=True, application_name='shard%d' % c)
    cur = conn.cursor()
    mine = {}  # merchant -> [order_id] acknowledged by this client
    i = 0
    deadline = time.time() + opts.seconds
    while time.time() < deadline:
        merchant = rng.choice(opts.merchants)
        roll = rng.random()
        if not opts.only_place and mine.get(merchant) and roll < 0.2:
            oid = rng.choice(mine[merchant])
            try:
                if roll < 0.12:
                    cur.execute("SELECT oms_router.authorize_payment(%s, %s, %s::jsonb) ->> 'payment_id'",
                                (merchant, oid, json.dumps({'method': 'cash', 'amount': 1})))
                    pid = cur.fetchone()[0]
                    cur.execute('SELECT oms_router.capture_payment(%s, %s)', (merchant, int(pid)))
                    what = 'pays'
                else:
                    cur.execute('SELECT oms_router.cancel_order(%s, %s)', (merchant, oid))
                    mine[merchant].remove(oid)
                    what = 'cancels'
            except psycopg.Error as e:
                if e.sqlstate not in ('55000', '22023'):
                    raise
                what = 'refused_' + e.sqlstate
            with lock:
                totals[what] = totals.get(what, 0) + 1
            continue
        i += 1
        ext = '%s-c%d-%d' % (opts.prefix, c, i)
        doc = json.dumps(doc_for(rng, ext))
        tries = 0
        while True:
            try:
                cur.execute('SELECT oms_router.place_order(%s, %s::jsonb)', (merchant, doc))
                res = cur.fetchone()[0]
                with lock:
                    fh.write(json.dumps({'merchant': merchant, 'external_id': ext, 'order_id': res['order_id'],
                                         'replayed': res.get('replayed', False)}) + '\n')
                    fh.flush()
                    totals['ack'][merchant] = totals['ack'].get(merchant, 0) + 1
                mine.setdefault(merchant, []).append(res['order_id'])
                break
            except psycopg.Error as e:
                if e.sqlstate == 'OM001':
                    with lock:
                        totals['refused'][merchant] = totals['refused'].get(merchant, 0) + 1
                    break
                tries += 1
                with lock:
                    key = e.sqlstate or 'none'
                    totals['retries'][key] = totals['retries'].get(key, 0) + 1
                    if len(totals['retry_messages']) < 5:
                        totals['retry_messages'].append('%s: %s' % (key, str(e).splitlines()[0]))
                if tries > 200:
                    raise
                if conn.closed or conn.broken:
                    time.sleep(0.05)
                    conn = psycopg.connect(opts.dsn, autocommit=True, application_name='shard%d' % c)
                    cur = conn.cursor()
                else:
                    time.sleep(0.05)
    conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dsn', required=True)
    ap.add_argument('--merchants', required=True, help='comma-separated merchant keys')
    ap.add_argument('--clients', type=int, default=6)
    ap.add_argument('--seconds', type=float, default=10)
    ap.add_argument('--prefix', required=True)
    ap.add_argument('--log', required=True)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--only-place', action='store_true')
    opts = ap.parse_args()
    opts.merchants = opts.merchants.split(',')
    totals = {'ack': {}, 'refused': {}, 'retries': {}, 'retry_messages': [], 'errors': []}
    lock = threading.Lock()
    fh = open(opts.log, 'a', encoding='utf-8')

    def worker(c):
        try:
            run_client(opts, c, totals, lock, fh)
        except Exception as e:  # reported in the totals, the test fails on it
            with lock:
                totals['errors'].append('client %d: %s: %s' % (c, type(e).__name__, e))

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(1, opts.clients + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fh.close()
    print(json.dumps(totals, sort_keys=True))
    return 1 if totals['errors'] else 0


if __name__ == '__main__':
    sys.exit(main())
