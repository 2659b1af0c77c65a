#!/usr/bin/python3
"""test/ha/order_client.py: the order clients of the failover test (test/t/012_failover.pl).

Runs --clients threads, each with its own connection through --dsn (a libpq
multi-host string with target_session_attrs=read-write, so a connection
always lands on the current primary). Each thread places orders with
oms.place_order in an explicit transaction and logs, as one JSON line to
--log, what became of each document:

  {"ev": "ack", ...}       the COMMIT returned: the order is acknowledged
                           (order_id, external_id, the time the COMMIT
                           returned, the port of the server that answered,
                           and "replayed" when the server answered a retry
                           as a replay of an order it already had);
  {"ev": "indoubt", ...}   the COMMIT was sent and no answer came (the
                           connection broke): the order may or may not
                           exist. The same document is sent again after
                           reconnecting; place_order is idempotent on
                           (channel, external_id), so the retry is answered
                           either as a replay (it had committed) or as a new
                           order (it had not), and ends in an "ack";
  {"ev": "retry", ...}     the connection broke before the COMMIT was sent:
                           nothing was committed; the same document is sent
                           again after reconnecting;
  {"ev": "unresolved", ...} a document still not acknowledged when the
                           thread gave up (--retry-seconds): may or may not
                           exist;
  {"ev": "refused", ...}   place_order raised a business error (an SQLSTATE
                           other than a lost connection, a shutdown or a
                           read-only server): the test expects none.

A thread reconnects after every connection error (libpq tries each host in
turn) and continues. It stops after --seconds, or when --stop-file exists,
always after finishing the document in hand. --rate limits each client's
orders per second (0, the default: as fast as the server answers), except
while --burst-file exists. At the end one JSON line is
printed to stdout: {"acks", "seconds" (from the moment every thread was
connected to the last thread's end), "indoubt", "unresolved", "refused",
"replayed"}.
"""

import argparse
import json
import os
import random
import sys
import threading
import time

import psycopg

# a lost connection, a server shutting down or in recovery, a read-only
# server (a standby reached before the libpq check), a serialization
# failure or deadlock: the document is sent again
RETRY_CLASSES = ('08', '57')
RETRY_STATES = ('25006', '40001', '40P01', '55000')


class Log:
    def __init__(self, path):
        self.fh = open(path, 'a', encoding='utf-8')
        self.lock = threading.Lock()
        self.counts = {'acks': 0, 'indoubt': 0, 'unresolved': 0, 'refused': 0, 'replayed': 0}

    def write(self, **kw):
        kw['t'] = time.time()
        with self.lock:
            self.fh.write(json.dumps(kw) + '\n')
            self.fh.flush()
            ev = kw['ev']
            if ev == 'ack':
                self.counts['acks'] += 1
                if kw.get('replayed'):
                    self.counts['replayed'] += 1
            elif ev in self.counts:
                self.counts[ev] += 1


def retryable(e):
    if isinstance(e, psycopg.OperationalError) and e.sqlstate is None:
        return True    # no SQLSTATE: the connection itself failed
    state = e.sqlstate or ''
    return state[:2] in RETRY_CLASSES or state in RETRY_STATES


def should_stop(opts, deadline):
    return time.time() >= deadline or (opts.stop_file and os.path.exists(opts.stop_file))


def connect(opts, name, give_up):
    """A connection to the primary; None when give_up passed first."""
    while True:
        try:
            return psycopg.connect(opts.dsn, application_name=name)
        except psycopg.Error:
            if time.time() >= give_up:
                return None
            time.sleep(0.05)


def worker(opts, n, log, ready, go, deadline_box):
    rng = random.Random(opts.seed * 1000 + n)
    name = 'ha%d' % n
    conn = connect(opts, name, time.time() + opts.retry_seconds)
    ready.release()
    go.wait()
    if conn is None:
        log.write(ev='unresolved', c=n, ext=None, error='no connection at the start')
        return
    deadline = deadline_box[0]
    interval = 1.0 / opts.rate if opts.rate else 0
    next_start = time.time()
    i = 0
    while not should_stop(opts, deadline):
        if interval and not (opts.burst_file and os.path.exists(opts.burst_file)):
            pause = next_start - time.time()
            if pause > 0:
                time.sleep(pause)
            next_start = max(next_start + interval, time.time() - 1)
        i += 1
        ext = '%s-c%d-%d' % (opts.prefix, n, i)
        lines, seen = [], set()
        for _ in range(rng.randint(1, 3)):
            sku = rng.choice(opts.skus)
            if sku in seen:
                continue
            seen.add(sku)
            lines.append({'sku': sku, 'qty': rng.randint(1, 3), 'unit_price': round(rng.uniform(2, 40), 2)})
        doc = json.dumps({'channel': 'web', 'external_id': ext, 'currency': 'EUR', 'lines': lines})
        give_up = time.time() + opts.retry_seconds
        indoubt = False
        while True:
            if conn is None or conn.closed:
                conn = connect(opts, name, give_up)
                if conn is None:
                    log.write(ev='unresolved', c=n, ext=ext, indoubt=indoubt)
                    return
            committing = False
            try:
                cur = conn.execute('SELECT oms.place_order(%s::jsonb)', (doc,))
                r = cur.fetchone()[0]
                committing = True
                conn.commit()
                log.write(ev='ack', c=n, ext=ext, order_id=r['order_id'], replayed=bool(r.get('replayed')),
                          port=conn.info.port, after_indoubt=indoubt)
                break
            except psycopg.Error as e:
                message = str(e).splitlines()[0] if str(e) else type(e).__name__
                if not retryable(e):
                    log.write(ev='refused', c=n, ext=ext, sqlstate=e.sqlstate, error=message)
                    try:
                        conn.rollback()
                    except psycopg.Error:
                        conn.close()
                    break
                if committing:
                    indoubt = True
                    log.write(ev='indoubt', c=n, ext=ext, error=message)
                else:
                    log.write(ev='retry', c=n, ext=ext, sqlstate=e.sqlstate, error=message)
                try:
                    conn.close()
                except psycopg.Error:
                    pass
                conn = None
                if time.time() >= give_up:
                    log.write(ev='unresolved', c=n, ext=ext, indoubt=indoubt)
                    return
    if conn is not None:
        conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--dsn', required=True)
    p.add_argument('--clients', type=int, default=4)
    p.add_argument('--prefix', required=True)
    p.add_argument('--log', required=True)
    p.add_argument('--skus', required=True, help='comma-separated')
    p.add_argument('--seconds', type=float, default=600)
    p.add_argument('--stop-file')
    p.add_argument('--retry-seconds', type=float, default=60)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--rate', type=float, default=0, help='orders per second per client at most (0: no limit)')
    p.add_argument('--burst-file', help='while this file exists, --rate does not apply')
    opts = p.parse_args()
    opts.skus = opts.skus.split(',')

    log = Log(opts.log)
    ready = threading.Semaphore(0)
    go = threading.Event()
    deadline_box = [0]
    threads = [threading.Thread(target=worker, args=(opts, n, log, ready, go, deadline_box))
               for n in range(1, opts.clients + 1)]
    for t in threads:
        t.start()
    for _ in threads:
        ready.acquire()
    start = time.time()
    deadline_box[0] = start + opts.seconds
    go.set()
    for t in threads:
        t.join()
    summary = dict(log.counts, seconds=round(time.time() - start, 3))
    print(json.dumps(summary))
    sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
