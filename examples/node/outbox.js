#!/usr/bin/env node
// examples/node/outbox.js: an outbox consumer with node-pg.
//
// The durable channel is the table oms.events, read through the consumer
// API: oms.read_events(consumer, max) hands out the next batch (in writing
// transaction, then id order) and oms.ack_events(consumer, id) moves the
// consumer's cursor up to and including that event. We acknowledge the id of
// the LAST ROW WE HANDLED, in the order the batch came: ids are not in
// commit order, so max(id) of a batch may not be its last row, and acking it
// would leave the cursor in the middle of the batch.
//
// NOTIFY oms_events (payload: the event id) is only a wake-up call: it is
// sent when the writer's session has oms.notify_events on, it is lost when
// nobody listens, and it carries no data we rely on. So the consumer drains
// the outbox at start, after every notification, and every few seconds
// anyway. LISTEN needs a connection of its own that stays open: a pooled
// connection goes back to the pool, and its LISTEN with it.
//
// Stops on SIGTERM or SIGINT after a last drain, prints one JSON line
// (events handled per kind, notifications, the acked position) and exits
// non-zero if an event came twice or out of order, or if a notification
// named an event that the outbox never delivered.
//
// Usage: node outbox.js [--consumer node-outbox] [--batch 50]
'use strict';

const { pg, makePool, errorFields } = require('./db');

function options(argv) {
  const o = { consumer: 'node-outbox', batch: 50 };
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in o) || argv[i + 1] === undefined) throw new Error(`unknown or incomplete option ${argv[i]}`);
    o[k] = typeof o[k] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
  }
  return o;
}

// xid8 has no node-pg parser: it arrives as a decimal string; compare as BigInt
function after(a, b) { // is position a = [xid, id] after b?
  const ax = BigInt(a[0]); const bx = BigInt(b[0]);
  return ax > bx || (ax === bx && a[1] > b[1]);
}

async function main() {
  const o = options(process.argv);
  const pool = makePool(2);
  const listener = new pg.Client({ application_name: 'oms-node-outbox-listen' });
  const stats = {
    client: 'node-pg', consumer: o.consumer, handled: 0, kinds: {}, batches: 0,
    notifications: 0, acked_id: null, duplicates: 0, out_of_order: 0, notified_not_handled: 0,
  };
  const seen = new Set();
  const notified = new Set();
  let last = null;       // [xid, id] of the last event handled
  let wake = null;       // resolves the current wait early
  let stopping = false;

  function handle(ev) {
    // the real work goes here: send the e-mail, call the ERP, ... It must be
    // idempotent: delivery is at least once (a batch not acknowledged within
    // oms.event_redelivery_seconds comes again).
    if (seen.has(ev.id)) stats.duplicates++;
    seen.add(ev.id);
    if (last && !after([ev.xid, ev.id], last)) stats.out_of_order++;
    last = [ev.xid, ev.id];
    stats.kinds[ev.kind] = (stats.kinds[ev.kind] || 0) + 1;
    stats.handled++;
  }

  async function drain() {
    for (;;) {
      const { rows } = await pool.query(
        'SELECT id, xid, kind, order_id, payload, at FROM oms.read_events($1, $2)', [o.consumer, o.batch]);
      if (rows.length === 0) return;
      stats.batches++;
      for (const ev of rows) handle(ev);       // in the order delivered
      const lastId = rows[rows.length - 1].id; // not Math.max(...ids)
      await pool.query('SELECT oms.ack_events($1, $2)', [o.consumer, lastId]);
      stats.acked_id = lastId;
    }
  }

  // a private channel of our own marks the end of the notifications (below)
  const syncChannel = `oms_outbox_sync_${process.pid}`;
  let synced = null;
  listener.on('notification', (msg) => {
    if (msg.channel === syncChannel) { if (synced) synced(); return; }
    if (msg.channel !== 'oms_events') return;
    stats.notifications++;
    notified.add(Number(msg.payload));
    if (wake) wake();
  });
  listener.on('error', (err) => { console.error(`listener: ${err.message}`); process.exit(2); });
  await listener.connect();
  await listener.query('LISTEN oms_events');
  await listener.query(`LISTEN ${syncChannel}`);
  console.log('# listening on oms_events');

  const stop = () => { stopping = true; if (wake) wake(); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  while (!stopping) {
    await drain();
    if (stopping) break;
    await new Promise((resolve) => {
      const t = setTimeout(resolve, 5000); // drain now and then even without a notification
      wake = () => { clearTimeout(t); wake = null; resolve(); };
    });
  }
  // Last drain. Notifications reach a listener in commit order, so once a
  // notification we send ourselves now arrives, every one of an event
  // committed before it has arrived too: the count is complete.
  const done = new Promise((resolve) => { synced = resolve; });
  await pool.query('SELECT pg_notify($1, $2)', [syncChannel, 'sync']);
  let timer;
  await Promise.race([done, new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('our own notification did not arrive within 30 s')), 30000);
  })]);
  clearTimeout(timer);
  await drain();
  await listener.end();
  await pool.end();

  for (const id of notified) if (!seen.has(id)) stats.notified_not_handled++;
  console.log(JSON.stringify(stats));
  const bad = stats.duplicates || stats.out_of_order || stats.notified_not_handled;
  process.exit(bad ? 1 : 0);
}

main().catch((err) => {
  console.error(`outbox consumer failed: ${err.code ? JSON.stringify(errorFields(err)) : err.stack}`);
  process.exit(2);
});
