#!/usr/bin/python3
"""test/fuzz/crash_client.py: the client of the crash rounds (test/t/003_crash.pl).

Client mode (default): connects in autocommit mode and runs business flows
until its connection is lost (the server was killed), then exits 0:
  - place, cancel;
  - place, authorize, capture, refund part of the payment;
  - place, authorize, capture, create a shipment, ship, create an RMA,
    receive it, refund it.
Every call that returned (in autocommit mode: after its commit) is logged as
one JSON line ("acknowledged") to --log, with the ids it returned. A call that
fails with an SQLSTATE (insufficient stock, say) ends its flow and is logged
as "refused"; any error without an SQLSTATE ends the client.

Verify mode (--verify LOG...): after the restart, checks that every
acknowledged action is in the database (orders with their external_id,
payments, captures, refunds, shipments with their tracking numbers, RMAs
received and refunded, cancels) and that a retried place_order of an
acknowledged order (up to --replays of them) is answered as a replay of the
same order. Prints one line per lost action or failed replay, then a line
"verified: N actions, M replays"; exits 1 if anything is lost.
"""

import argparse
import json
import random
import sys
import time

import psycopg

LOCATION = 'WH-BER'
SKUS = ['BEAN-ETH-250', 'BEAN-COL-250', 'BEAN-ETH-1K', 'BEAN-COL-1K']


def ack(fh, **kw):
    fh.write(json.dumps(kw) + '\n')
    fh.flush()


def one(cur, sql, args=()):
    cur.execute(sql, args)
    return cur.fetchone()[0]


def client(opts):
    rng = random.Random(opts.seed)
    conn = psycopg.connect(opts.dsn, autocommit=True, application_name='crash%d' % opts.client)
    cur = conn.cursor()
    fh = open(opts.log, 'a', encoding='utf-8')
    i = 0
    deadline = time.time() + opts.seconds
    while time.time() < deadline:
        i += 1
        ext = '%s-c%d-%d' % (opts.prefix, opts.client, i)
        lines, seen = [], set()
        for _ in range(rng.randint(1, 3)):
            sku = rng.choice(SKUS)
            if sku in seen:
                continue
            seen.add(sku)
            lines.append({'sku': sku, 'qty': rng.randint(1, 3), 'unit_price': round(rng.uniform(2, 40), 2)})
        doc = json.dumps({'channel': 'web', 'external_id': ext, 'currency': 'EUR', 'policy': 'all_or_nothing',
                          'lines': lines})
        flow = rng.choice(['cancel', 'refund', 'return', 'return'])
        step = 'place'
        try:
            r = one(cur, 'SELECT oms.place_order(%s::jsonb)', (doc,))
            order_id = r['order_id']
            ack(fh, act='place', ext=ext, order_id=order_id, doc=doc)
            if flow == 'cancel':
                step = 'cancel'
                one(cur, 'SELECT oms.cancel_order(%s, %s)', (order_id, 'crash round'))
                ack(fh, act='cancel', order_id=order_id)
                continue
            step = 'authorize'
            total = one(cur, 'SELECT total FROM oms.orders WHERE id = %s', (order_id,))
            r = one(cur, 'SELECT oms.authorize_payment(%s, %s::jsonb)',
                    (order_id, '{"method": "card", "amount": %s, "token": "tok_%s"}' % (total, ext.replace('-', '_'))))
            payment_id = r['payment_id']
            ack(fh, act='authorize', order_id=order_id, payment_id=payment_id, amount=str(total))
            step = 'capture'
            one(cur, 'SELECT oms.capture_payment(%s)', (payment_id,))
            ack(fh, act='capture', payment_id=payment_id, amount=str(total))
            if flow == 'refund':
                step = 'refund_payment'
                one(cur, 'SELECT oms.refund_payment(%s, %s, %s)', (payment_id, '1.00', 'goodwill'))
                ack(fh, act='refund_payment', payment_id=payment_id, amount='1.00')
                continue
            step = 'create_shipment'
            r = one(cur, 'SELECT oms.create_shipment(%s, %s)', (order_id, LOCATION))
            shipment_id = r['shipment_id']
            ack(fh, act='create_shipment', order_id=order_id, shipment_id=shipment_id)
            step = 'ship'
            tracking = 'T%s' % ext.replace('-', '')
            one(cur, 'SELECT oms.ship(%s, %s, %s, %s)', (shipment_id, 'dhl', 'paket', tracking))
            ack(fh, act='ship', shipment_id=shipment_id, tracking=tracking)
            step = 'create_rma'
            line = lines[0]
            r = one(cur, 'SELECT oms.create_rma(%s, %s::jsonb)', (order_id, json.dumps(
                {'lines': [{'sku': line['sku'], 'qty': 1, 'reason': 'defective'}], 'resolution': 'refund'})))
            rma_id = r['rma_id']
            ack(fh, act='create_rma', order_id=order_id, rma_id=rma_id)
            step = 'receive_rma'
            one(cur, 'SELECT oms.receive_rma(%s, %s, %s::jsonb)', (rma_id, LOCATION, json.dumps(
                [{'sku': line['sku'], 'qty': 1, 'condition': 'sellable'}])))
            ack(fh, act='receive_rma', rma_id=rma_id)
            step = 'refund_rma'
            one(cur, 'SELECT oms.refund_rma(%s)', (rma_id,))
            ack(fh, act='refund_rma', rma_id=rma_id)
        except psycopg.Error as e:
            code = getattr(e, 'sqlstate', None)
            if code is None or conn.closed or conn.broken:
                return 0     # the server went away: the round's kill
            ack(fh, act='refused', step=step, ext=ext, sqlstate=code, message=str(e).splitlines()[0])
    return 0


CHECKS = {
    # act: (SQL returning true when the action is in the database, argument keys)
    'place': ('SELECT EXISTS (SELECT FROM oms.orders o WHERE o.id = %s AND o.external_id = %s'
              ' AND EXISTS (SELECT FROM oms.order_lines l WHERE l.order_id = o.id))', ('order_id', 'ext')),
    'cancel': ("SELECT EXISTS (SELECT FROM oms.orders WHERE id = %s AND status = 'cancelled')", ('order_id',)),
    'authorize': ('SELECT EXISTS (SELECT FROM oms.payments WHERE id = %s AND order_id = %s AND authorized >= %s)',
                  ('payment_id', 'order_id', 'amount')),
    'capture': ('SELECT EXISTS (SELECT FROM oms.payments WHERE id = %s AND captured >= %s)', ('payment_id', 'amount')),
    'refund_payment': ('SELECT EXISTS (SELECT FROM oms.payments WHERE id = %s AND refunded >= %s)',
                       ('payment_id', 'amount')),
    'create_shipment': ('SELECT EXISTS (SELECT FROM oms.shipments WHERE id = %s AND order_id = %s)',
                        ('shipment_id', 'order_id')),
    'ship': ("SELECT EXISTS (SELECT FROM oms.shipments WHERE id = %s AND tracking_number = %s"
             " AND status IN ('shipped', 'delivered'))", ('shipment_id', 'tracking')),
    'create_rma': ('SELECT EXISTS (SELECT FROM oms.rmas WHERE id = %s AND order_id = %s)', ('rma_id', 'order_id')),
    'receive_rma': ('SELECT EXISTS (SELECT FROM oms.rmas WHERE id = %s AND received_at IS NOT NULL)', ('rma_id',)),
    'refund_rma': ('SELECT EXISTS (SELECT FROM oms.rmas WHERE id = %s AND resolved_at IS NOT NULL)', ('rma_id',)),
}


def verify(opts):
    conn = psycopg.connect(opts.dsn, autocommit=True)
    cur = conn.cursor()
    acts, places = 0, []
    lost = 0
    for path in opts.verify:
        with open(path, encoding='utf-8') as fh:
            for line in fh:
                a = json.loads(line)
                if a['act'] not in CHECKS:
                    continue
                sql, keys = CHECKS[a['act']]
                acts += 1
                if not one(cur, sql, tuple(a[k] for k in keys)):
                    lost += 1
                    print('lost: %s' % json.dumps({k: v for k, v in a.items() if k != 'doc'}))
                if a['act'] == 'place':
                    places.append(a)
    rng = random.Random(opts.seed)
    sample = rng.sample(places, min(opts.replays, len(places)))
    if places and places[-1] not in sample:
        sample.append(places[-1])     # the last one acknowledged before the kill
    for a in sample:
        r = one(cur, 'SELECT oms.place_order(%s::jsonb)', (a['doc'],))
        if r.get('order_id') != a['order_id'] or r.get('replayed') is not True:
            lost += 1
            print('replay: %s answered %s' % (a['ext'], json.dumps({k: r.get(k) for k in ('order_id', 'replayed')})))
    print('verified: %d actions, %d replays' % (acts, len(sample)))
    return 1 if lost else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dsn', required=True)
    ap.add_argument('--client', type=int, default=1)
    ap.add_argument('--prefix', default='r1')
    ap.add_argument('--log')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--seconds', type=float, default=120, help='stop by then even if the server lives on')
    ap.add_argument('--verify', nargs='*')
    ap.add_argument('--replays', type=int, default=3)
    opts = ap.parse_args()
    return verify(opts) if opts.verify else client(opts)


if __name__ == '__main__':
    sys.exit(main())
