--
-- oms.gtin: valid and invalid literals, canonical and short forms,
-- operators, btree and hash opclasses, casts and binary I/O.
--
SET client_min_messages = warning;
-- operators of oms.gtin live in schema oms, like the type
SET search_path = public, oms;

-- valid: GTIN-8, UPC-A (12), EAN-13 and GTIN-14, with white space trimmed
SELECT v AS input, v::oms.gtin AS canonical, oms.gtin_short(v::oms.gtin) AS short
  FROM (VALUES
    ('96385074'), ('12345670'), ('00000017'), ('40170725'),
    ('036000291452'), ('012345678905'), ('042100005264'), ('614141000036'),
    ('4006381333931'), ('5901234123457'), ('7622210449283'), ('4902430735063'),
    ('8712345678906'), ('0001234500007'), ('9780306406157'), ('3017620422003'),
    ('10012345678902'), ('00012345678905'), ('04006381333931'), ('00000096385074'),
    ('  4006381333931'), ('4006381333931  '), (E'\t96385074 ')
  ) AS t(v);

-- every padded form of one product is the same value
SELECT '4006381333931'::oms.gtin = '04006381333931'::oms.gtin AS ean13_eq_gtin14,
       '036000291452'::oms.gtin = '0036000291452'::oms.gtin AS upca_eq_ean13,
       '96385074'::oms.gtin = '000096385074'::oms.gtin AS gtin8_eq_padded12;

-- invalid: every kind of problem, each error text locked in
SELECT ''::oms.gtin;
SELECT '   '::oms.gtin;
SELECT 'abc'::oms.gtin;
SELECT '4006381333930'::oms.gtin;
SELECT '4006381333932'::oms.gtin;
SELECT '4006381333939'::oms.gtin;
SELECT '96385075'::oms.gtin;
SELECT '036000291453'::oms.gtin;
SELECT '10012345678901'::oms.gtin;
SELECT '4006381333391'::oms.gtin;  -- transposed digits
SELECT '1234567'::oms.gtin;         -- 7 digits
SELECT '123456789'::oms.gtin;       -- 9 digits
SELECT '1234567890'::oms.gtin;      -- 10 digits
SELECT '12345678901'::oms.gtin;     -- 11 digits
SELECT '123456789012345'::oms.gtin; -- 15 digits
SELECT '12345678901234567890123'::oms.gtin;
SELECT '1'::oms.gtin;
SELECT '00000000'::oms.gtin;
SELECT '00000000000000'::oms.gtin;
SELECT '4006381-333931'::oms.gtin;
SELECT '4006381 333931'::oms.gtin;
SELECT '40063813339.1'::oms.gtin;
SELECT '+4006381333931'::oms.gtin;
SELECT '-4006381333931'::oms.gtin;
SELECT '4006381333931x'::oms.gtin;
SELECT 'EAN4006381333931'::oms.gtin;
SELECT '４００６３８１３３３９３１'::oms.gtin;  -- full-width digits
SELECT '400638133393é'::oms.gtin;
SELECT '0x1F'::oms.gtin;
SELECT '1e13'::oms.gtin;

-- NULL in, NULL out
SELECT NULL::oms.gtin AS null_gtin, oms.gtin_short(NULL) AS null_short, oms.gtin_is_valid(NULL) AS null_valid;

-- oms.gtin_is_valid never raises
SELECT v, oms.gtin_is_valid(v)
  FROM (VALUES ('4006381333931'), ('4006381333932'), (''), ('abc'), ('1234567'),
               ('00000000'), ('96385074'), (' 036000291452 ')) AS t(v);

-- casts
SELECT '4006381333931'::text::oms.gtin AS from_text,
       ('4006381333931'::oms.gtin)::text AS to_text,
       pg_typeof(('4006381333931'::oms.gtin)::text) AS to_text_type;
CREATE TEMP TABLE gtin_cast (g oms.gtin);
INSERT INTO gtin_cast VALUES ('96385074'::text);  -- assignment cast from text
INSERT INTO gtin_cast VALUES ('96385075'::text);
SELECT * FROM gtin_cast;

-- operators
SELECT a, b, a < b AS lt, a <= b AS le, a = b AS eq, a <> b AS ne, a >= b AS ge, a > b AS gt
  FROM (VALUES ('96385074'::oms.gtin, '036000291452'::oms.gtin),
               ('4006381333931', '04006381333931'),
               ('10012345678902', '4006381333931')) AS t(a, b);

-- btree: ordering equals canonical text ordering, the index is used,
-- and uniqueness sees padded forms as duplicates
CREATE TEMP TABLE gtins (g oms.gtin PRIMARY KEY);
INSERT INTO gtins VALUES ('4006381333931'), ('96385074'), ('036000291452'),
                         ('10012345678902'), ('5901234123457'), ('12345670');
INSERT INTO gtins VALUES ('04006381333931');
SELECT g, oms.gtin_short(g) FROM gtins ORDER BY g;
SELECT g FROM gtins ORDER BY g DESC LIMIT 2;
SELECT count(*) AS ordered_like_text
  FROM (SELECT g, g::text AS t, row_number() OVER (ORDER BY g) AS r1,
               row_number() OVER (ORDER BY g::text) AS r2 FROM gtins) s
 WHERE r1 = r2;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM gtins WHERE g = '4006381333931';
SELECT * FROM gtins WHERE g = '4006381333931';
SELECT * FROM gtins WHERE g BETWEEN '12345670' AND '4006381333931' ORDER BY g;
RESET enable_seqscan;

-- hash: hash index, hash join and hash aggregate
CREATE TEMP TABLE gtins_h AS SELECT g FROM gtins;
CREATE INDEX gtins_h_hash ON gtins_h USING hash (g);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM gtins_h WHERE g = '96385074';
SELECT * FROM gtins_h WHERE g = '96385074';
RESET enable_seqscan;
RESET enable_bitmapscan;
SET enable_mergejoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM gtins a JOIN gtins b USING (g);
SELECT count(*) FROM gtins a JOIN gtins b USING (g);
RESET enable_mergejoin;
RESET enable_nestloop;
SET enable_sort = off;
SELECT count(*) FROM (SELECT DISTINCT g FROM gtins) d;
RESET enable_sort;

-- binary I/O: round trip, and the receive function validates like input
SELECT '/tmp/oms_gtin_regress_' || pg_backend_pid() || '.bin' AS binfile \gset
COPY gtins TO :'binfile' (FORMAT binary);
CREATE TEMP TABLE gtins_copy (g oms.gtin);
COPY gtins_copy FROM :'binfile' (FORMAT binary);
SELECT count(*) AS round_trip_equal FROM gtins JOIN gtins_copy USING (g);
COPY (SELECT 4006381333932::int8) TO :'binfile' (FORMAT binary);
COPY gtins_copy FROM :'binfile' (FORMAT binary);
COPY (SELECT 0::int8) TO :'binfile' (FORMAT binary);
COPY gtins_copy FROM :'binfile' (FORMAT binary);
COPY (SELECT 100000000000000::int8) TO :'binfile' (FORMAT binary);
COPY gtins_copy FROM :'binfile' (FORMAT binary);
SELECT count(*) AS rows_after_bad_copies FROM gtins_copy;
\! rm -f /tmp/oms_gtin_regress_*.bin
