#!/usr/bin/python3
"""test/fuzz/apifuzz.py: the API fuzzer of test/run fuzz.

Reads the signature of every function in schema oms from pg_proc (so a new
function is fuzzed without anyone listing it) and calls each one, many times,
with arguments drawn from:
  - valid values: ids and codes queried from the oms tables (the parameter's
    name picks the table: order_id -> oms.orders.id, location ->
    oms.locations.code, ...) and the literals that sql/*.sql and demo/*.sql
    pass in that argument position;
  - invalid ids, NULLs and extremes (0, -1, 2^31-1, 2^63-1, 1e308, NaN, '',
    10 kB strings, odd Unicode);
  - JSON documents mutated from the documents that sql/*.sql and demo/*.sql
    pass to the function (keys dropped, types swapped, huge and tiny numbers,
    long and odd strings, deep nesting, unknown keys).

Each call runs in its own transaction (committed when it succeeds, so the
data moves on: orders get paid, shipped, returned), as a login in a role that
may call the function (has_function_privilege: oms_app first, then oms_admin,
then oms_reporting; the bootstrap superuser for a function no oms role may
call). The random generator is seeded and the seed printed: the same seed on
the same starting data replays the same calls.

Pass means: no backend crash (a lost connection), no SQLSTATE outside
test/fuzz/sqlstates.txt, oms.check() empty at the end. Prints a table per
function (calls, successes, errors by SQLSTATE), a reproduction for each
failure, and TAP lines ("ok N - ..."/"not ok N - ...") that test/run-suites
counts: one per function, one for crashes, one for oms.check().

Usage: apifuzz.py --dsn DSN --calls N --seed S --roles app,admin,reporting
       --sqlstates FILE --sources DIR... (environment: PGHOST etc.)
"""

import argparse
import copy
import json
import math
import os
import random
import re
import sys
import time
from collections import defaultdict, Counter

import psycopg
import psycopg.sql

# ---------------------------------------------------------------------------
# signatures

SIGNATURES = """
SELECT p.oid::int, p.proname,
       coalesce(array(SELECT format_type(t, NULL) FROM unnest(p.proargtypes) WITH ORDINALITY a(t, n) ORDER BY n),
                '{}') AS argtypes,
       coalesce(array(SELECT coalesce(p.proargnames[i], '')
                        FROM generate_series(1, coalesce(array_length(p.proargmodes, 1), p.pronargs)) i
                       WHERE p.proargmodes IS NULL OR p.proargmodes[i] IN ('i', 'b', 'v')), '{}') AS argnames,
       p.pronargdefaults, format_type(p.prorettype, NULL) AS rettype, p.prokind
  FROM pg_proc p
 WHERE p.pronamespace = 'oms'::regnamespace
 ORDER BY p.proname, p.oid
"""

# argument and result types that cannot be called from SQL directly
UNCALLABLE = {'internal', 'cstring', 'trigger', 'event_trigger', 'language_handler', 'fdw_handler',
              'index_am_handler', 'table_am_handler', 'tsm_handler'}


class Func:
    def __init__(self, oid, name, argtypes, argnames, ndefaults, rettype, kind):
        self.oid, self.name, self.argtypes, self.rettype, self.kind = oid, name, argtypes, rettype, kind
        self.argnames = list(argnames) + [''] * (len(argtypes) - len(argnames))
        self.ndefaults = ndefaults
        self.role = None
        self.label = '%s(%s)' % (name, ', '.join(argtypes))

    def callable(self):
        return self.kind == 'f' and self.rettype not in UNCALLABLE and not (set(self.argtypes) & UNCALLABLE)


# ---------------------------------------------------------------------------
# examples from the SQL files: literal arguments per (function, position)

CALL_RE = re.compile(r'\boms\.([a-z_][a-z0-9_]*)\s*\(')


def scan_call(text, start):
    """From the character after '(' return (list of top-level argument texts, end)."""
    depth, i, args, cur = 1, start, [], []
    while i < len(text):
        c = text[i]
        if c == "'":
            j = i + 1
            while j < len(text):
                if text[j] == "'" and j + 1 < len(text) and text[j + 1] == "'":
                    j += 2
                    continue
                if text[j] == "'":
                    break
                j += 1
            cur.append(text[i:j + 1])
            i = j + 1
            continue
        if c == '(' or c == '[':
            depth += 1
        elif c == ')' or c == ']':
            depth -= 1
            if depth == 0:
                args.append(''.join(cur).strip())
                return args, i
        elif c == ',' and depth == 1:
            args.append(''.join(cur).strip())
            cur = []
            i += 1
            continue
        elif c == ';' and depth <= 1:
            return None, i
        cur.append(c)
        i += 1
    return None, i


LITERAL_RE = re.compile(r"^(?:E)?'((?:[^']|'')*)'(?:::[a-z_. \[\]]+)?$", re.S)
NUMBER_RE = re.compile(r'^-?\d+(?:\.\d+)?$')


def harvest_examples(dirs):
    """{fname: {position or name: [literal text values]}} and a pool of all JSON documents."""
    per_func = defaultdict(lambda: defaultdict(list))
    json_pool = []
    for d in dirs:
        if not os.path.isdir(d):
            continue
        for fn in sorted(os.listdir(d)):
            if not fn.endswith('.sql'):
                continue
            with open(os.path.join(d, fn), encoding='utf-8', errors='replace') as f:
                text = f.read()
            for m in CALL_RE.finditer(text):
                args, _ = scan_call(text, m.end())
                if not args:
                    continue
                for pos, a in enumerate(args):
                    key = pos
                    nm = re.match(r'^([a-z_]+)\s*=>\s*(.*)$', a, re.S)
                    if nm:
                        key, a = nm.group(1), nm.group(2).strip()
                    lm = LITERAL_RE.match(a)
                    if lm:
                        val = lm.group(1).replace("''", "'")
                    elif NUMBER_RE.match(a):
                        val = a
                    else:
                        continue
                    per_func[m.group(1)][key].append(val)
                    if val[:1] in '{[':
                        try:
                            doc = json.loads(val)
                        except ValueError:
                            continue
                        if isinstance(doc, (dict, list)):
                            json_pool.append(doc)
    return per_func, json_pool


# ---------------------------------------------------------------------------
# value pools from the database

ODD_STRINGS = [
    '', ' ', '\t\n', 'x' * 10240, 'é' * 5000, '\U0001F642' * 2000, 'e\u0301', '\u202eevil', '\ufeffBOM',
    '\U0001d546\U0001d544\U0001d54a', 'ｓｋｕ', "' OR 1=1 --", '%s%n%x', '\\x00', '\\', '"', 'NULL', 'null',
    '4111111111111111', '4111 1111 1111 1111', '-1', '0', '1e308', 'NaN', 'Infinity', '9223372036854775808',
    '{}', '[]', '{"a":', '<script>', '../../etc/passwd', 'a' * 64, 'a' * 65, 'mailer', 'UPPER', '\u00a0',
]
INT4 = ['0', '-1', '1', '2', '3', '5', '100', '2147483647', '-2147483648', '1000000']
INT8 = INT4 + ['9223372036854775807', '-9223372036854775808', '4294967296']
INT2 = ['0', '-1', '1', '32767', '-32768']
NUMERIC = ['0', '-1', '1', '0.01', '0.005', '-0.01', '1e308', '-1e308', '1e-300', 'NaN', 'Infinity', '-Infinity',
           '99999999999999999999.99', '12.5', '1000000', '2147483647', '9223372036854775807', '1.999999999']
FLOAT8 = ['0', '-0', '1', '-1', '90', '-90', '180', '-180', '90.0000001', '1e308', '-1e308', '1e-308', 'NaN',
          'Infinity', '-Infinity', '52.52', '13.40']
DATES = ['2024-01-01', '1970-01-01', '0001-01-01', '4713-01-01 BC', '5874897-12-31', 'infinity', '-infinity',
         '2030-02-28', 'today', 'tomorrow']
BOOLS = ['true', 'false']


class Pools:
    """Valid values queried from the oms tables, refreshed now and then."""

    def __init__(self, conn):
        self.conn = conn
        self.tables = {}      # table -> set of columns
        with conn.cursor() as cur:
            cur.execute("""SELECT c.relname, array_agg(a.attname::text)
                             FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
                                  AND NOT a.attisdropped
                            WHERE c.relnamespace = 'oms'::regnamespace AND c.relkind IN ('r', 'p')
                            GROUP BY 1""")
            for t, cols in cur.fetchall():
                self.tables[t] = set(cols)
        self.cache = {}
        self.all_ids = []

    def refresh(self):
        self.cache = {}
        ids = []
        with self.conn.cursor() as cur:
            for t, cols in self.tables.items():
                if 'id' in cols:
                    cur.execute('SELECT id::text FROM oms.%s ORDER BY id DESC LIMIT 200' % psycopg.sql.Identifier(t).as_string(self.conn))
                    ids += [r[0] for r in cur.fetchall()]
        self.conn.rollback()
        self.all_ids = ids or ['1']

    def column_values(self, table, col, limit=200):
        key = (table, col)
        if key not in self.cache:
            q = psycopg.sql.SQL('SELECT DISTINCT {c}::text FROM oms.{t} WHERE {c} IS NOT NULL LIMIT {n}').format(
                c=psycopg.sql.Identifier(col), t=psycopg.sql.Identifier(table), n=psycopg.sql.Literal(limit))
            try:
                with self.conn.cursor() as cur:
                    cur.execute(q)
                    self.cache[key] = [r[0] for r in cur.fetchall()]
            except psycopg.Error:
                self.cache[key] = []
            self.conn.rollback()
        return self.cache[key]

    def for_param(self, name, typ):
        """Valid values for a parameter, by its name."""
        if not name:
            return []
        vals = []
        if name.endswith('_id') and typ in ('bigint', 'integer', 'smallint'):
            stem = name[:-3]
            for t in (stem + 's', stem, stem + 'es'):
                if t in self.tables and 'id' in self.tables[t]:
                    vals += self.column_values(t, 'id')
            if not vals:
                vals = self.all_ids
            return vals
        if typ in ('text', 'character varying', 'oms.gtin'):
            col = 'gtin' if typ == 'oms.gtin' else name
            for t, cols in self.tables.items():
                if col in cols:
                    vals += self.column_values(t, col)
                if re.search(r'(^|_)%ss?($|_)' % re.escape(name), t) or t.startswith(name):
                    for c in ('code', 'sku', 'name'):
                        if c in cols:
                            vals += self.column_values(t, c)
                            break
        return vals


# ---------------------------------------------------------------------------
# JSON mutation

def rand_scalar(rng):
    return rng.choice([
        None, True, False, 0, -1, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 63 - 1, 2 ** 63, -2 ** 63, 10 ** 400,
        1e308, -1e308, 1e-308, 5e-324, 0.5, 0.001, -0.0, 3.14159, 1.005, 99999999999.999,
        '', ' ', 'x' * 10240, rng.choice(ODD_STRINGS), 'NaN', 'Infinity', '1', '-1', '1e308', '2024-01-01',
        'true', 'null', [], {},
    ])


class Raw:
    """JSON text kept as it is: nesting too deep for Python's json module."""

    def __init__(self, text):
        self.text = text


def deep(rng, depth):
    leaf = json.dumps(rand_scalar(rng))
    if depth <= 50:
        v = json.loads(leaf)
        for _ in range(depth):
            v = [v] if rng.random() < 0.5 else {'a': v}
        return v
    opens = ''.join(rng.choice(['[', '{"a":']) for _ in range(depth))
    closes = ''.join(']' if o == '[' else '}' for o in reversed(re.findall(r'\[|\{"a":', opens)))
    return Raw(opens + leaf + closes)


def paths(doc, prefix=()):
    yield prefix, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from paths(v, prefix + (i,))


def set_path(doc, path, value):
    if not path:
        return value
    cur = doc
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value
    return doc


def mutate(doc, rng):
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        all_paths = list(paths(doc))
        path, val = rng.choice(all_paths)
        op = rng.randrange(12)
        if op == 0 and path:                      # drop a key or an element
            parent = doc
            for p in path[:-1]:
                parent = parent[p]
            del parent[path[-1]]
        elif op == 1:                             # swap the type
            doc = set_path(doc, path, rand_scalar(rng))
        elif op == 2:                             # huge and tiny numbers
            doc = set_path(doc, path, rng.choice([10 ** 400, 1e308, -1e308, 1e-308, 2 ** 63, -2 ** 63 - 1,
                                                  2 ** 31, -2 ** 31 - 1, 0, -1, 0.000001]))
        elif op == 3:                             # long and odd strings
            doc = set_path(doc, path, rng.choice(ODD_STRINGS + ['y' * rng.choice([256, 4096, 10240, 100000])]))
        elif op == 4:                             # deep nesting
            doc = set_path(doc, path, deep(rng, rng.choice([10, 100, 1000, 5000])))
        elif op == 5 and isinstance(val, dict):   # unknown keys
            val[rng.choice(['colour', 'extra', '', 'x' * 300, '\u202e', 'lines', 'id', 'qty'])] = rand_scalar(rng)
        elif op == 6 and isinstance(val, list) and val:   # duplicate or many elements
            n = rng.choice([2, 10, 200])
            val.extend([copy.deepcopy(rng.choice(val)) for _ in range(n)])
        elif op == 7 and isinstance(val, list):    # empty the list
            val.clear()
        elif op == 8 and isinstance(val, (int, float)) and not isinstance(val, bool):
            doc = set_path(doc, path, rng.choice([-val, val * 1000, val + 1, val - 1, str(val), 0]))
        elif op == 9 and isinstance(val, str):
            doc = set_path(doc, path, rng.choice([val.upper(), val + ' ', ' ' + val, val * 100, val[:1], '']))
        elif op == 10:                            # wrap a value in a list or an object
            doc = set_path(doc, path, rng.choice([[val], {'value': val}]))
        else:                                     # replace a whole subtree with another example's
            doc = set_path(doc, path, deep(rng, rng.randint(0, 3)))
    return doc


def dumps(doc):
    """JSON text of doc, Raw parts spliced in (json.dumps writes Infinity and NaN for
    floats it cannot represent: invalid JSON, which PostgreSQL refuses with 22P02)."""
    raws = []

    def default(o):
        if isinstance(o, Raw):
            raws.append(o.text)
            return '\x01raw%d\x01' % (len(raws) - 1)
        raise TypeError(type(o))
    text = json.dumps(doc, ensure_ascii=False, default=default)
    for k, r in enumerate(raws):
        text = text.replace('"\\u0001raw%d\\u0001"' % k, r)
    return text


# ---------------------------------------------------------------------------
# argument generation

class Gen:
    def __init__(self, rng, pools, examples, json_pool):
        self.rng, self.pools, self.examples, self.json_pool = rng, pools, examples, json_pool

    def value(self, f, pos):
        rng = self.rng
        typ, name = f.argtypes[pos], f.argnames[pos]
        ex = self.examples.get(f.name, {})
        from_sql = ex.get(pos, []) + (ex.get(name, []) if name else [])
        r = rng.random()
        if r < 0.08:
            return None
        if typ == 'jsonb' or typ == 'json':
            docs = [json.loads(v) for v in from_sql if self._is_json(v)] or self.json_pool or [{}]
            r = rng.random()
            if r < 0.25:
                return dumps(self.repair(rng.choice(docs)))
            if r < 0.85:
                return dumps(mutate(self.repair(rng.choice(docs)), rng))
            if r < 0.93:
                return dumps(deep(rng, rng.randint(0, 6)))
            return rng.choice(['', '{', 'not json', '{"a": 1,}', '[1, 2', '"\\u0000"', '{"a": "\\ud800"}',
                               '1e999999', 'NaN', '{"lines": [' * 50])
        valid = self.pools.for_param(name, typ) + from_sql
        if valid and r < 0.55:
            return rng.choice(valid)
        if typ in ('bigint', 'integer', 'smallint'):
            pool = {'bigint': INT8, 'integer': INT4, 'smallint': INT2}[typ]
            if rng.random() < 0.3 and self.pools.all_ids:
                v = int(rng.choice(self.pools.all_ids))
                cand = str(v + rng.choice([1, 1000, 10 ** 6, -v, -v - 1]))
                return cand if typ == 'bigint' or abs(int(cand)) < 2 ** 31 - 1 else rng.choice(pool)
            return rng.choice(pool)
        if typ == 'numeric':
            return rng.choice(NUMERIC)
        if typ in ('double precision', 'real'):
            return rng.choice(FLOAT8)
        if typ == 'boolean':
            return rng.choice(BOOLS)
        if typ == 'date':
            return rng.choice(DATES)
        if typ.startswith('timestamp'):
            return rng.choice(DATES + ['2024-01-01 12:00:00+00', 'epoch', 'now'])
        if typ.endswith('[]'):
            elems = [json.dumps(rng.choice(valid + ODD_STRINGS)) for _ in range(rng.choice([0, 1, 2, 5]))]
            return '{' + ','.join(elems) + '}'
        if typ == 'oms.gtin':
            return rng.choice(valid + ['4006381333931', '4006381333932', '0', '00000000000000', '12345670',
                                       '123456789012345678', 'abc', '', '96385074'] if valid else ['4006381333931', '0', ''])
        if typ in ('text', 'character varying', 'name', 'character'):
            return rng.choice(ODD_STRINGS + [v[::-1] for v in valid[:5]] + [v + 'X' for v in valid[:5]])
        if typ == 'bytea':
            return rng.choice(['\\x', '\\x00ff', 'abc'])
        return rng.choice(ODD_STRINGS + valid)

    def repair(self, doc):
        """A copy of an example document whose codes (channel, sku, location, ...) are mostly
        ones this database knows, and whose external_id is mostly fresh: the examples come
        from other catalogs, and a document that passes validation reaches deeper code."""
        doc = copy.deepcopy(doc)
        for path, val in list(paths(doc)):
            if not path or not isinstance(path[-1], str) or self.rng.random() < 0.2:
                continue
            key = path[-1]
            if key == 'external_id':
                set_path(doc, path, 'fz-%d' % self.rng.randrange(10 ** 9))
            elif isinstance(val, str):
                valid = self.pools.for_param(key, 'text')
                if valid:
                    set_path(doc, path, self.rng.choice(valid))
            elif isinstance(val, int) and not isinstance(val, bool) and key.endswith('_id'):
                valid = self.pools.for_param(key, 'bigint')
                if valid:
                    set_path(doc, path, int(self.rng.choice(valid)))
        return doc

    @staticmethod
    def _is_json(v):
        if v[:1] not in '{[':
            return False
        try:
            json.loads(v)
            return True
        except ValueError:
            return False

    def call(self, f):
        n = len(f.argtypes)
        if f.ndefaults and self.rng.random() < 0.3:
            n -= self.rng.randint(1, f.ndefaults)
        args = [self.value(f, i) for i in range(n)]
        sql = 'SELECT * FROM oms.%s(%s)' % ('"%s"' % f.name.replace('"', '""'),
                                           ', '.join('%%s::%s' % t for t in f.argtypes[:n]))
        return sql, args


# ---------------------------------------------------------------------------

# SQLSTATEs that PostgreSQL raises while it converts a typed argument (text
# with a cast) before any oms code runs. When a call fails with one of them,
# the casts are run alone: if they fail the same way, the error was
# PostgreSQL's input function (counted as "arg:CODE", accepted); if not, oms
# raised it and it is judged against sqlstates.txt like any other.
CONVERSION = {'22P02', '22P03', '22P05', '22003', '22007', '22008', '22009', '22021', '54001', '54000', '22025'}


def conversion_fails(conn, sql, args, code):
    casts = re.findall(r'%s::[^,)]+(?:\([^)]*\))?', sql)
    try:
        with conn.cursor() as cur:
            cur.execute('SELECT ' + ', '.join(casts), args)
        conn.rollback()
        return False
    except psycopg.Error as e:
        try:
            conn.rollback()
        except psycopg.Error:
            pass
        return getattr(e, 'sqlstate', None) == code


def load_sqlstates(path):
    codes = {}
    with open(path, encoding='utf-8') as fh:
        for line in fh:
            line = line.split('#', 1)
            code = line[0].strip()
            if code:
                codes[code] = line[1].strip() if len(line) > 1 else ''
    return codes


def connect(dsn, user):
    conn = psycopg.connect(dsn, user=user, autocommit=False)
    conn.prepare_threshold = None   # every call is different: no server-side prepare
    return conn


def wait_for_server(dsn, user, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            return connect(dsn, user)
        except psycopg.OperationalError:
            time.sleep(0.5)
    return None


def literal_sql(sql, args):
    """The call with its arguments written in as literals, for psql."""
    lits = ['NULL' if a is None else "'" + a.replace("'", "''") + "'" for a in args]
    return sql.replace('%s', '{}').format(*lits)


def short(v, n=160):
    if v is None:
        return 'NULL'
    s = repr(v)
    return s if len(s) <= n else s[:n] + '... (%d chars)' % len(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dsn', default='dbname=oms_fuzz')
    ap.add_argument('--calls', type=int, default=int(os.environ.get('OMS_FUZZ_CALLS', 20000)))
    ap.add_argument('--seed', type=int, default=None)
    ap.add_argument('--roles', default='fuzz_app,fuzz_admin,fuzz_reporting',
                    help='logins in oms_app, oms_admin and oms_reporting, in order of preference')
    ap.add_argument('--superuser', default=os.environ.get('PGUSER'))
    ap.add_argument('--sqlstates', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'sqlstates.txt'))
    ap.add_argument('--sources', nargs='*', default=[])
    ap.add_argument('--only', default=None, help='comma-separated function names (replaying)')
    ap.add_argument('--timeout', default='10s', help='statement_timeout of every call')
    ap.add_argument('--max-reports', type=int, default=3, help='reproductions shown per function and SQLSTATE')
    ap.add_argument('--repro', default=None, help='write every failing call, arguments in full, to this SQL file')
    opts = ap.parse_args()

    seed = opts.seed
    if seed is None:
        env = os.environ.get('OMS_FUZZ_SEED', '')
        seed = int(env) if env else random.SystemRandom().randrange(1, 2 ** 31)
    rng = random.Random(seed)
    print('# api fuzzer: seed %d (replay: OMS_FUZZ_SEED=%d), %d calls' % (seed, seed, opts.calls), flush=True)

    allowed = load_sqlstates(opts.sqlstates)
    su = connect(opts.dsn, opts.superuser)
    with su.cursor() as cur:
        cur.execute(SIGNATURES)
        funcs = [Func(*row) for row in cur.fetchall()]
    su.rollback()
    roles = opts.roles.split(',')
    skipped = [f for f in funcs if not f.callable()]
    funcs = [f for f in funcs if f.callable()]
    if opts.only:
        funcs = [f for f in funcs if f.name in opts.only.split(',')]
    with su.cursor() as cur:
        for f in funcs:
            for r in roles:
                cur.execute('SELECT has_function_privilege(%s, %s::oid, \'EXECUTE\')', (r, f.oid))
                if cur.fetchone()[0]:
                    f.role = r
                    break
            if f.role is None:
                f.role = opts.superuser    # no oms role may call it: the DBA does
    su.rollback()
    print('# %d functions to fuzz; not callable from SQL (trigger or type support): %s'
          % (len(funcs), ', '.join(sorted({f.name for f in skipped})) or 'none'), flush=True)

    examples, json_pool = harvest_examples(opts.sources)
    print('# %d JSON documents harvested from %s' % (len(json_pool), ' '.join(opts.sources)), flush=True)
    pools = Pools(su)
    pools.refresh()
    gen = Gen(rng, pools, examples, json_pool)

    conns = {}

    def conn_for(role):
        c = conns.get(role)
        if c is None or c.closed:
            c = connect(opts.dsn, role)
            with c.cursor() as cur:
                cur.execute("SELECT set_config('statement_timeout', %s, false)", (opts.timeout,))
            c.commit()
            conns[role] = c
        return c

    stats = {f.label: Counter() for f in funcs}
    bad = defaultdict(list)        # label -> [(sqlstate, message, sql, args)]
    crashes = []
    started = time.time()
    for i in range(opts.calls):
        if i % 500 == 499:
            try:
                pools.refresh()
            except psycopg.OperationalError:
                pass
        f = rng.choice(funcs)
        sql, args = gen.call(f)
        st = stats[f.label]
        st['calls'] += 1
        try:
            c = conn_for(f.role)
        except psycopg.OperationalError as e:
            crashes.append((i, f, sql, args, 'cannot connect: %s' % e))
            break
        try:
            with c.cursor() as cur:
                cur.execute(sql, args)
                if cur.description is not None:
                    cur.fetchall()
            c.commit()
            st['ok'] += 1
        except psycopg.Error as e:
            code = getattr(e, 'sqlstate', None)
            if code is None or c.closed or c.broken:
                # the connection is gone: the backend crashed (or the server did)
                st['CRASH'] += 1
                crashes.append((i, f, sql, args, str(e).strip()))
                for cc in conns.values():
                    try:
                        cc.close()
                    except Exception:
                        pass
                conns.clear()
                su = wait_for_server(opts.dsn, opts.superuser)
                if su is None or len(crashes) >= 3:
                    break
                pools.conn = su
                continue
            try:
                c.rollback()
            except psycopg.Error:
                pass
            if code in CONVERSION and conversion_fails(c, sql, args, code):
                code = 'arg:' + code
            st[code] += 1
            if code not in allowed and not code.startswith('arg:'):
                bad[f.label].append((code, str(e).splitlines()[0], sql, args))
        if (i + 1) % 5000 == 0:
            print('# %d calls, %.0f calls/s' % (i + 1, (i + 1) / (time.time() - started)), flush=True)
    elapsed = time.time() - started
    ncalls = sum(s['calls'] for s in stats.values())

    # ---- the table ----------------------------------------------------------------
    print('# %-58s %-14s %7s %7s  errors by SQLSTATE' % ('function', 'as', 'calls', 'ok'))
    total = Counter()
    for f in funcs:
        st = stats[f.label]
        total.update(st)
        errs = ' '.join('%s:%d' % (k, v) for k, v in sorted(st.items()) if k not in ('calls', 'ok'))
        print('# %-58s %-14s %7d %7d  %s' % (f.label[:58], f.role, st['calls'], st['ok'], errs))
    errs = ' '.join('%s:%d' % (k, v) for k, v in sorted(total.items()) if k not in ('calls', 'ok'))
    print('# %-58s %-14s %7d %7d  %s' % ('total', '', total['calls'], total['ok'], errs))
    print('# %d calls in %.1f s (%.0f calls/s), seed %d' % (ncalls, elapsed, ncalls / max(elapsed, 0.001), seed),
          flush=True)

    # ---- the verdicts (TAP) ----------------------------------------------------------
    n = 0
    failed = 0

    def tap(ok, text):
        nonlocal n, failed
        n += 1
        if not ok:
            failed += 1
        print('%s %d - %s' % ('ok' if ok else 'not ok', n, text), flush=True)

    if opts.repro:
        with open(opts.repro, 'w', encoding='utf-8') as fh:
            fh.write('-- failing calls of the API fuzzer, seed %d; run each as the role named\n' % seed)
            for f in funcs:
                for code, msg, sql, args in bad.get(f.label, []):
                    fh.write('-- %s %s (as %s)\n%s;\n' % (code, msg[:200], f.role, literal_sql(sql, args)))
            for i, f, sql, args, msg in crashes:
                fh.write('-- CRASH at call %d (as %s)\n%s;\n' % (i, f.role, literal_sql(sql, args)))
    for i, f, sql, args, msg in crashes:
        print('# CRASH at call %d (seed %d), as %s:\n#   %s\n#   args: %s\n#   %s'
              % (i, seed, f.role, sql, ', '.join(short(a) for a in args), msg))
    tap(not crashes, 'no backend crash in %d API calls' % ncalls)
    for f in funcs:
        st = stats[f.label]
        problems = bad.get(f.label, [])
        codes = Counter(p[0] for p in problems)
        tap(not problems and not st['CRASH'],
            '%s: %d calls, no crash, no undocumented SQLSTATE%s'
            % (f.label, st['calls'], (' (found %s)' % ', '.join('%s x%d' % kv for kv in sorted(codes.items())))
               if problems else ''))
        shown = Counter()
        for code, msg, sql, args in problems:
            shown[code] += 1
            if shown[code] > opts.max_reports:
                continue
            print('#   %s %s, as %s: %s\n#     args: %s' % (code, msg, f.role, sql, ', '.join(short(a) for a in args)))

    try:
        su = su if not su.closed else connect(opts.dsn, opts.superuser)
        with su.cursor() as cur:
            cur.execute('SELECT invariant, detail FROM oms.check() ORDER BY 1, 2')
            rows = cur.fetchall()
        su.rollback()
    except psycopg.Error as e:
        rows = [('(oms.check() failed)', str(e))]
    for r in rows[:20]:
        print('#   check: %s: %s' % r)
    tap(not rows, 'oms.check() is empty after the API fuzzer (%d rows)' % len(rows))
    print('1..%d' % n)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
