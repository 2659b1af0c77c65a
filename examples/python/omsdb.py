"""examples/python/omsdb.py: what every oms client in Python needs, in one place.

Connection settings come from the standard libpq variables (PGHOST, PGPORT,
PGDATABASE, PGUSER, PGPASSWORD): psycopg is libpq underneath.

Type mapping (psycopg 3, text protocol):
  int8          int (exact, any size)
  numeric       decimal.Decimal (exact); keep money in Decimal
  jsonb         dict / list. Numbers inside are int or float by default; we
                install a loader that reads them as Decimal, so money read
                out of an order document stays exact.
  timestamptz   datetime.datetime, timezone-aware (the session's TimeZone)
  text[]        list of str
  oms.gtin, xid8 and other types psycopg has no loader for: str

Passing jsonb: wrap the value, Jsonb(doc). A bare dict cannot be adapted
(ProgrammingError), and a bare list is sent as a Postgres array.

Errors: psycopg raises a subclass of psycopg.Error per SQLSTATE it knows
(psycopg.errors.SerializationFailure for 40001, DeadlockDetected for 40P01,
InvalidParameterValue for 22023, ...). The codes of oms (OM001, OM002) are
not PostgreSQL's, so they arrive as a plain psycopg.DatabaseError: always
branch on e.sqlstate, and read e.diag.message_primary, .message_detail and
.message_hint.
"""

import json
from decimal import Decimal
from functools import partial

import psycopg
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool

# every json/jsonb value this process reads: floats as Decimal
set_json_loads(partial(json.loads, parse_float=Decimal))


def to_json_number(value):
    """A Decimal for an order document: oms wants JSON numbers, and json.dumps
    refuses Decimal. float() is exact here: a float prints as the shortest
    decimal that reads back as itself, which is the Decimal's own text for
    any amount of up to 15 significant digits."""
    f = float(value)
    if Decimal(repr(f)) != value:
        raise ValueError(f"{value} does not survive as a JSON number")
    return f


def make_pool(size, name):
    pool = ConnectionPool(
        conninfo="", min_size=size, max_size=size, open=True,
        kwargs={"autocommit": True, "application_name": name},
    )
    pool.wait(timeout=30)
    return pool


def error_fields(e):
    """The fields of a server error as psycopg exposes them."""
    return {
        "sqlstate": e.sqlstate,                 # '40001', 'OM001', '22023', ...
        "message": e.diag.message_primary,
        "detail": e.diag.message_detail,        # None when the server sent none
        "hint": e.diag.message_hint,
    }


__all__ = ["psycopg", "make_pool", "error_fields", "to_json_number"]
