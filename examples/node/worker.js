#!/usr/bin/env node
// examples/node/worker.js: an order-taking worker with node-pg.
//
// Places ORDERS orders through oms.place_order(jsonb) from CONCURRENCY
// async workers sharing one pg.Pool, as a member of oms_app would:
//   - each order is one call and one transaction; a serialization failure
//     (40001) or deadlock (40P01) is retried, which is safe because
//     (channel, external_id) makes the call idempotent. The retries are
//     bounded by time, not by count, and wait a random 0..min(50, 2^n) ms:
//     under REPEATABLE READ or SERIALIZABLE every commit that touches the
//     same stock row fails the transactions that started before it, so a
//     hot sku sold by busy READ COMMITTED sessions can fail one order many
//     times in a row; a fixed count of 30 attempts with a growing wait
//     starved the unlucky order (its waits grew while fresh orders kept
//     winning) and gave up on it;
//   - OM001 (insufficient stock) is a business outcome, not a crash: the
//     detail names every short sku ("SKU: asked N, available M; ...") and
//     the hint says what to do; we count them per sku;
//   - other OM* codes and 22023 (a bad document) are reported with their
//     SQLSTATE, message, detail and hint; anything else is a bug and stops
//     the worker.
// Every 25th order asks for more of PLENTY than exists, so it is short
// whatever the timing; the others each take one unit of the hot sku until
// it runs out. At the end it prints one JSON line of results, and exits
// non-zero if anything unexpected happened.
//
// Usage: node worker.js [--channel node-rc] [--hot HOT-NODE-RC] [--orders 200]
//          [--concurrency 8] [--isolation read-committed|repeatable-read|serializable]
//          [--prefix N]
'use strict';

const { makePool, errorFields, toCents } = require('./db');

function options(argv) {
  const o = {
    channel: 'node-rc', hot: 'HOT-NODE-RC', orders: 200, concurrency: 8,
    isolation: 'read-committed', prefix: `N${process.pid}`,
  };
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in o) || argv[i + 1] === undefined) throw new Error(`unknown or incomplete option ${argv[i]}`);
    o[k] = typeof o[k] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
  }
  if (!['read-committed', 'repeatable-read', 'serializable'].includes(o.isolation)) {
    throw new Error(`--isolation must be read-committed, repeatable-read or serializable`);
  }
  return o;
}

const RETRYABLE = new Set(['40001', '40P01']); // serialization failure, deadlock
const RETRY_BUDGET_MS = 20000;                  // give up on an order after 20 s of retries
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// "HOT-NODE: asked 1, available 0; PLENTY: asked 200000, available 99998."
function shortSkus(detail) {
  return (detail || '').split(/;\s*/).map((part) => {
    const m = /^(.+): asked (\d+), available (\d+)/.exec(part.trim());
    return m && { sku: m[1], asked: Number(m[2]), available: Number(m[3]) };
  }).filter(Boolean);
}

function orderDocument(o, i) {
  const huge = i % 25 === 0;
  return {
    channel: o.channel,
    external_id: `${o.prefix}-${String(i).padStart(4, '0')}`,
    currency: 'EUR',
    customer: { email: `buyer${i % 40}@example.com`, name: `Buyer ${i % 40}` },
    lines: [
      { sku: o.hot, qty: 1, unit_price: 19.90, tax: 3.18 },
      { sku: 'PLENTY', qty: huge ? 200000 : 2, unit_price: 1.25 },
    ],
  };
}

// One business action = one call. The document goes in as JSON text that we
// make ourselves: node-pg serializes a plain object with JSON.stringify but
// sends a JS array as a Postgres array literal ('{...}', 22P02 as jsonb), so
// always JSON.stringify and cast to jsonb.
async function placeOnce(pool, isolation, doc) {
  const sql = 'SELECT oms.place_order($1::jsonb) AS doc';
  const params = [JSON.stringify(doc)];
  if (isolation === 'read-committed') {
    return (await pool.query(sql, params)).rows[0].doc; // autocommit: one transaction
  }
  const client = await pool.connect();
  try {
    await client.query(`BEGIN ISOLATION LEVEL ${isolation.replace('-', ' ').toUpperCase()}`);
    const res = await client.query(sql, params);
    await client.query('COMMIT');
    return res.rows[0].doc;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

async function placeWithRetry(pool, isolation, doc, stats) {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      const placed = await placeOnce(pool, isolation, doc);
      stats.most_attempts = Math.max(stats.most_attempts, attempt);
      return placed;
    } catch (err) {
      if (!RETRYABLE.has(err.code) || Date.now() - started > RETRY_BUDGET_MS) throw err;
      stats.retries++;
      stats.retried_codes[err.code] = (stats.retried_codes[err.code] || 0) + 1;
      await sleep(Math.random() * Math.min(50, 2 ** attempt)); // full jitter, at most 50 ms
    }
  }
}

// The wrong ways, kept here so that a driver upgrade changing them shows up.
async function pitfalls(pool, problems) {
  // 1. a JS array as the jsonb parameter is sent as an array literal
  try {
    await pool.query('SELECT $1::jsonb', [[{ sku: 'X', qty: 1 }]]);
    problems.push('a JS array passed as jsonb did not fail');
  } catch (err) {
    if (err.code !== '22P02') problems.push(`JS array as jsonb: expected 22P02, got ${err.code}`);
    else console.log(`# pitfall shown: a JS array as a jsonb parameter is ${err.code} (${err.message})`);
  }
  // 2. without a parser int8 is a string; with ours it is a number
  const r = await pool.query('SELECT count(*) AS n, 2.50::numeric AS amount');
  if (typeof r.rows[0].n !== 'number') problems.push(`count(*) came back as ${typeof r.rows[0].n}`);
  if (r.rows[0].amount !== '2.50') problems.push(`numeric came back as ${JSON.stringify(r.rows[0].amount)}`);
}

async function main() {
  const o = options(process.argv);
  const pool = makePool(o.concurrency);
  const stats = {
    client: 'node-pg', isolation: o.isolation, placed: 0, replayed: 0, out_of_stock: 0,
    short_skus: {}, invalid: 0, other_oms_errors: 0, retries: 0, retried_codes: {}, most_attempts: 0,
    placed_ids: [], units_of_hot: 0,
  };
  const problems = [];
  await pitfalls(pool, problems);

  let next = 0;
  let firstPlaced = null;
  async function worker() {
    for (let i = next++; i < o.orders; i = next++) {
      const doc = orderDocument(o, i);
      try {
        const placed = await placeWithRetry(pool, o.isolation, doc, stats);
        if (placed.replayed) problems.push(`${doc.external_id} was replayed on first placement`);
        stats.placed++;
        stats.placed_ids.push(placed.order_id);
        stats.units_of_hot += placed.lines.find((l) => l.sku === o.hot).reserved;
        if (firstPlaced === null) firstPlaced = doc;
      } catch (err) {
        const f = errorFields(err);
        if (f.sqlstate === 'OM001') {
          stats.out_of_stock++;
          const shorts = shortSkus(f.detail);
          if (shorts.length === 0) problems.push(`OM001 without short skus in its detail: ${f.detail}`);
          for (const s of shorts) stats.short_skus[s.sku] = (stats.short_skus[s.sku] || 0) + 1;
        } else if (typeof f.sqlstate === 'string' && f.sqlstate.startsWith('OM')) {
          stats.other_oms_errors++;
          console.log(`# ${doc.external_id}: ${JSON.stringify(f)}`);
        } else {
          throw err; // not a business outcome: a bug, or the database is gone
        }
      }
    }
  }
  await Promise.all(Array.from({ length: o.concurrency }, worker));

  // Idempotency: sending a placed document again returns the same order.
  if (firstPlaced) {
    const again = await placeWithRetry(pool, o.isolation, firstPlaced, stats);
    if (!again.replayed) problems.push('a repeated document was not replayed');
    else stats.replayed++;
  }

  // A bad document: 22023 with the field in the message and detail.
  try {
    await pool.query('SELECT oms.place_order($1::jsonb)', [JSON.stringify({
      channel: o.channel, external_id: `${o.prefix}-bad`, currency: 'EUR',
      lines: [{ sku: 'NO-SUCH-SKU', qty: 1, unit_price: 1.00 }],
    })]);
    problems.push('an unknown sku was accepted');
  } catch (err) {
    const f = errorFields(err);
    if (f.sqlstate !== '22023' || !/NO-SUCH-SKU/.test(f.detail || '')) problems.push(`bad document: ${JSON.stringify(f)}`);
    else { stats.invalid++; console.log(`# rejected document: ${JSON.stringify(f)}`); }
  }

  // Reading back: int8 ids are numbers (our parser), numeric is an exact string.
  if (stats.placed_ids.length) {
    const r = await pool.query(
      'SELECT id, total, placed_at, flags FROM oms.orders WHERE id = ANY($1::int8[]) ORDER BY id',
      [stats.placed_ids]);
    if (r.rows.length !== stats.placed) problems.push(`read back ${r.rows.length} of ${stats.placed} orders`);
    const row = r.rows[0];
    if (typeof row.id !== 'number' || typeof row.total !== 'string' || !(row.placed_at instanceof Date)
        || !Array.isArray(row.flags)) {
      problems.push(`unexpected JS types: ${Object.entries(row).map(([k, v]) => `${k}=${typeof v}`).join(' ')}`);
    }
    const cents = r.rows.reduce((sum, x) => sum + toCents(x.total), 0);
    stats.total_cents = cents;
  }
  await pool.end();

  stats.placed_ids.sort((a, b) => a - b);
  console.log(JSON.stringify(stats));
  for (const p of problems) console.error(`problem: ${p}`);
  process.exit(problems.length ? 1 : 0);
}

main().catch((err) => {
  console.error(`worker failed: ${err.code ? JSON.stringify(errorFields(err)) : err.stack}`);
  process.exit(2);
});
