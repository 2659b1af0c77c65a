// examples/node/db.js: what every oms client in Node needs, in one place.
//
// Connection settings come from the standard libpq variables (PGHOST,
// PGPORT, PGDATABASE, PGUSER, PGPASSWORD), which node-pg reads too; PGHOST
// may be a Unix socket directory.
//
// Type mapping. node-pg hands every column over as text and converts only
// the types it has a parser for:
//   int8 (bigint: order ids, event ids, count(*))  string by default, because
//        a JS number is exact only up to 2^53. We install a parser that makes
//        it a Number and throws beyond Number.MAX_SAFE_INTEGER, so a
//        rounding can never go unnoticed. (BigInt is the other choice; it
//        does not survive JSON.stringify.)
//   numeric (money: total, unit_price)  string, and we leave it so: a double
//        would round 0.1 + 0.2. Compare or sum money in SQL, or in integer
//        cents (toCents below).
//   jsonb  parsed into objects; numbers inside it are JS doubles, so read
//        money out of a document with ->> if you need it exact.
//   timestamptz  Date.   text[]  Array of strings.
//   oms.gtin, xid8 and other types without a parser  string.
'use strict';

const pg = require('pg');

const INT8_OID = 20; // pg.types.builtins is missing from older node-pg

function parseInt8(text) {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) {
    throw new RangeError(`int8 value ${text} does not fit a JS number exactly`);
  }
  return n;
}
pg.types.setTypeParser(INT8_OID, parseInt8);

// '12.4000' -> 1240; exact for the 4 decimals oms stores
function toCents(numericText) {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(numericText);
  if (!m) throw new TypeError(`not a numeric: ${numericText}`);
  const frac = (m[3] || '').padEnd(4, '0');
  if (!/^\d\d00$/.test(frac.slice(0, 4)) || /[1-9]/.test(frac.slice(4))) {
    throw new RangeError(`${numericText} has fractions of a cent`);
  }
  const cents = Number(m[2]) * 100 + Number(frac.slice(0, 2));
  return m[1] ? -cents : cents;
}

function makePool(max) {
  const pool = new pg.Pool({ max, application_name: 'oms-node-example' });
  // an idle client that loses its connection emits 'error' on the pool;
  // without a listener that would crash the process
  pool.on('error', (err) => console.error(`# idle client error: ${err.message}`));
  return pool;
}

// The fields of a server error, as node-pg exposes them on the Error.
function errorFields(err) {
  return {
    sqlstate: err.code,      // '40001', 'OM001', '22023', ...
    message: err.message,
    detail: err.detail,      // undefined when the server sent none
    hint: err.hint,
  };
}

module.exports = { pg, makePool, errorFields, toCents, parseInt8 };
