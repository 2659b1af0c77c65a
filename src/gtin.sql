
-- ===========================================================================
-- gtin: the oms.gtin type (src/gtin.c)
-- ===========================================================================

CREATE TYPE oms.gtin;

CREATE FUNCTION oms.gtin_in(pg_catalog.cstring) RETURNS oms.gtin
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'gtin_in';
CREATE FUNCTION oms.gtin_out(oms.gtin) RETURNS pg_catalog.cstring
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'gtin_out';
CREATE FUNCTION oms.gtin_recv(pg_catalog.internal) RETURNS oms.gtin
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'gtin_recv';
CREATE FUNCTION oms.gtin_send(oms.gtin) RETURNS pg_catalog.bytea
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'gtin_send';

CREATE TYPE oms.gtin (
    INPUT          = oms.gtin_in,
    OUTPUT         = oms.gtin_out,
    RECEIVE        = oms.gtin_recv,
    SEND           = oms.gtin_send,
    INTERNALLENGTH = 8,
    PASSEDBYVALUE,
    ALIGNMENT      = double,
    STORAGE        = plain,
    CATEGORY       = 'U'
);
COMMENT ON TYPE oms.gtin IS 'Global Trade Item Number (GTIN-8, UPC-A, EAN-13, GTIN-14), check digit validated, printed as 14 digits';

CREATE FUNCTION oms.gtin_short(oms.gtin) RETURNS pg_catalog.text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'gtin_short';
COMMENT ON FUNCTION oms.gtin_short(oms.gtin) IS 'Shortest form of a GTIN: 8, 12, 13 or 14 digits';

CREATE FUNCTION oms.gtin_is_valid(pg_catalog.text) RETURNS pg_catalog.bool
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'gtin_is_valid';
COMMENT ON FUNCTION oms.gtin_is_valid(pg_catalog.text) IS 'True when the text is a valid GTIN; never raises';

CREATE FUNCTION oms.gtin_lt(oms.gtin, oms.gtin) RETURNS pg_catalog.bool
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'gtin_lt';
CREATE FUNCTION oms.gtin_le(oms.gtin, oms.gtin) RETURNS pg_catalog.bool
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'gtin_le';
CREATE FUNCTION oms.gtin_eq(oms.gtin, oms.gtin) RETURNS pg_catalog.bool
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'gtin_eq';
CREATE FUNCTION oms.gtin_ne(oms.gtin, oms.gtin) RETURNS pg_catalog.bool
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'gtin_ne';
CREATE FUNCTION oms.gtin_ge(oms.gtin, oms.gtin) RETURNS pg_catalog.bool
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'gtin_ge';
CREATE FUNCTION oms.gtin_gt(oms.gtin, oms.gtin) RETURNS pg_catalog.bool
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'gtin_gt';
CREATE FUNCTION oms.gtin_cmp(oms.gtin, oms.gtin) RETURNS pg_catalog.int4
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'gtin_cmp';
CREATE FUNCTION oms.gtin_sortsupport(pg_catalog.internal) RETURNS pg_catalog.void
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'gtin_sortsupport';
CREATE FUNCTION oms.gtin_hash(oms.gtin) RETURNS pg_catalog.int4
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'gtin_hash';
CREATE FUNCTION oms.gtin_hash_extended(oms.gtin, pg_catalog.int8) RETURNS pg_catalog.int8
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'gtin_hash_extended';

COMMENT ON FUNCTION oms.gtin_in(pg_catalog.cstring) IS 'gtin text input';
COMMENT ON FUNCTION oms.gtin_out(oms.gtin) IS 'gtin text output (14 digits)';
COMMENT ON FUNCTION oms.gtin_recv(pg_catalog.internal) IS 'gtin binary input (validated int8)';
COMMENT ON FUNCTION oms.gtin_send(oms.gtin) IS 'gtin binary output (int8)';
COMMENT ON FUNCTION oms.gtin_lt(oms.gtin, oms.gtin) IS 'gtin less than';
COMMENT ON FUNCTION oms.gtin_le(oms.gtin, oms.gtin) IS 'gtin less than or equal';
COMMENT ON FUNCTION oms.gtin_eq(oms.gtin, oms.gtin) IS 'gtin equal';
COMMENT ON FUNCTION oms.gtin_ne(oms.gtin, oms.gtin) IS 'gtin not equal';
COMMENT ON FUNCTION oms.gtin_ge(oms.gtin, oms.gtin) IS 'gtin greater than or equal';
COMMENT ON FUNCTION oms.gtin_gt(oms.gtin, oms.gtin) IS 'gtin greater than';
COMMENT ON FUNCTION oms.gtin_cmp(oms.gtin, oms.gtin) IS 'gtin btree comparison';
COMMENT ON FUNCTION oms.gtin_sortsupport(pg_catalog.internal) IS 'gtin btree sort support';
COMMENT ON FUNCTION oms.gtin_hash(oms.gtin) IS 'gtin hash';
COMMENT ON FUNCTION oms.gtin_hash_extended(oms.gtin, pg_catalog.int8) IS 'gtin seeded hash';

CREATE OPERATOR oms.< (
    LEFTARG = oms.gtin, RIGHTARG = oms.gtin, FUNCTION = oms.gtin_lt,
    COMMUTATOR = OPERATOR(oms.>), NEGATOR = OPERATOR(oms.>=),
    RESTRICT = pg_catalog.scalarltsel, JOIN = pg_catalog.scalarltjoinsel
);
CREATE OPERATOR oms.<= (
    LEFTARG = oms.gtin, RIGHTARG = oms.gtin, FUNCTION = oms.gtin_le,
    COMMUTATOR = OPERATOR(oms.>=), NEGATOR = OPERATOR(oms.>),
    RESTRICT = pg_catalog.scalarlesel, JOIN = pg_catalog.scalarlejoinsel
);
CREATE OPERATOR oms.= (
    LEFTARG = oms.gtin, RIGHTARG = oms.gtin, FUNCTION = oms.gtin_eq,
    COMMUTATOR = OPERATOR(oms.=), NEGATOR = OPERATOR(oms.<>),
    RESTRICT = pg_catalog.eqsel, JOIN = pg_catalog.eqjoinsel,
    HASHES, MERGES
);
CREATE OPERATOR oms.<> (
    LEFTARG = oms.gtin, RIGHTARG = oms.gtin, FUNCTION = oms.gtin_ne,
    COMMUTATOR = OPERATOR(oms.<>), NEGATOR = OPERATOR(oms.=),
    RESTRICT = pg_catalog.neqsel, JOIN = pg_catalog.neqjoinsel
);
CREATE OPERATOR oms.>= (
    LEFTARG = oms.gtin, RIGHTARG = oms.gtin, FUNCTION = oms.gtin_ge,
    COMMUTATOR = OPERATOR(oms.<=), NEGATOR = OPERATOR(oms.<),
    RESTRICT = pg_catalog.scalargesel, JOIN = pg_catalog.scalargejoinsel
);
CREATE OPERATOR oms.> (
    LEFTARG = oms.gtin, RIGHTARG = oms.gtin, FUNCTION = oms.gtin_gt,
    COMMUTATOR = OPERATOR(oms.<), NEGATOR = OPERATOR(oms.<=),
    RESTRICT = pg_catalog.scalargtsel, JOIN = pg_catalog.scalargtjoinsel
);

CREATE OPERATOR CLASS oms.gtin_ops
    DEFAULT FOR TYPE oms.gtin USING btree AS
        OPERATOR 1 oms.<,
        OPERATOR 2 oms.<=,
        OPERATOR 3 oms.=,
        OPERATOR 4 oms.>=,
        OPERATOR 5 oms.>,
        FUNCTION 1 oms.gtin_cmp(oms.gtin, oms.gtin),
        FUNCTION 2 oms.gtin_sortsupport(pg_catalog.internal);

CREATE OPERATOR CLASS oms.gtin_hash_ops
    DEFAULT FOR TYPE oms.gtin USING hash AS
        OPERATOR 1 oms.=,
        FUNCTION 1 oms.gtin_hash(oms.gtin),
        FUNCTION 2 oms.gtin_hash_extended(oms.gtin, pg_catalog.int8);

-- text <-> gtin through the type's I/O functions. text -> gtin is
-- assignment-level so that INSERT ... VALUES ('4006381333931') works from
-- any driver that binds text parameters.
CREATE CAST (pg_catalog.text AS oms.gtin) WITH INOUT AS ASSIGNMENT;
CREATE CAST (oms.gtin AS pg_catalog.text) WITH INOUT AS ASSIGNMENT;
COMMENT ON CAST (pg_catalog.text AS oms.gtin) IS 'Parse and validate a GTIN';
COMMENT ON CAST (oms.gtin AS pg_catalog.text) IS 'Canonical 14-digit form';
