--
-- security: PUBLIC gets nothing, the three roles get what they need and no
-- more, SECURITY DEFINER functions pin search_path, every public object is
-- documented.
--
SET client_min_messages = warning;

-- no object in schema oms grants anything to PUBLIC, explicitly or by a
-- default ACL (functions and types default to PUBLIC access when acl is NULL)
SELECT 'function' AS kind, p.oid::regprocedure::text AS object FROM pg_proc p
 WHERE p.pronamespace = 'oms'::regnamespace
   AND (p.proacl IS NULL OR EXISTS (SELECT FROM aclexplode(p.proacl) a WHERE a.grantee = 0))
UNION ALL
SELECT 'relation', c.oid::regclass::text FROM pg_class c
 WHERE c.relnamespace = 'oms'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'S', 'p')
   AND EXISTS (SELECT FROM aclexplode(c.relacl) a WHERE a.grantee = 0)
UNION ALL
SELECT 'type', t.oid::regtype::text FROM pg_type t
 WHERE t.typnamespace = 'oms'::regnamespace AND t.typtype = 'b' AND t.typcategory <> 'A'
   AND (t.typacl IS NULL OR EXISTS (SELECT FROM aclexplode(t.typacl) a WHERE a.grantee = 0))
UNION ALL
SELECT 'schema', n.nspname::text FROM pg_namespace n
 WHERE n.nspname = 'oms' AND (n.nspacl IS NULL OR EXISTS (SELECT FROM aclexplode(n.nspacl) a WHERE a.grantee = 0));

-- SECURITY DEFINER only with a pinned search_path
SELECT p.oid::regprocedure AS definer_without_search_path FROM pg_proc p
 WHERE p.pronamespace = 'oms'::regnamespace AND p.prosecdef
   AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%');

-- every table, view, column, function and type is documented
SELECT 'relation' AS kind, c.oid::regclass::text AS undocumented FROM pg_class c
 WHERE c.relnamespace = 'oms'::regnamespace AND c.relkind IN ('r', 'v', 'm')
   AND obj_description(c.oid, 'pg_class') IS NULL
UNION ALL
SELECT 'column', c.oid::regclass || '.' || a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
 WHERE c.relnamespace = 'oms'::regnamespace AND c.relkind IN ('r', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped
   AND col_description(c.oid, a.attnum) IS NULL
UNION ALL
SELECT 'function', p.oid::regprocedure::text FROM pg_proc p
 WHERE p.pronamespace = 'oms'::regnamespace AND obj_description(p.oid, 'pg_proc') IS NULL
UNION ALL
SELECT 'type', t.oid::regtype::text FROM pg_type t
 WHERE t.typnamespace = 'oms'::regnamespace AND t.typtype = 'b' AND t.typcategory <> 'A' AND obj_description(t.oid, 'pg_type') IS NULL;

-- every constraint on an oms table has a name we chose (no generated
-- *_check / *_not_null style names)
SELECT conrelid::regclass, conname FROM pg_constraint
 WHERE connamespace = 'oms'::regnamespace AND conname ~ '_(check|fkey[0-9]+|key[0-9]+)$';

-- what each role may do with the catalog tables
SELECT r.rolname, c.relname,
       string_agg(p.priv, ',' ORDER BY p.priv) AS privileges
  FROM (VALUES ('oms_admin'), ('oms_app'), ('oms_reporting')) AS r(rolname)
 CROSS JOIN pg_class c
 CROSS JOIN (VALUES ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE')) AS p(priv)
 WHERE c.relnamespace = 'oms'::regnamespace AND c.relkind = 'r'
   AND has_table_privilege(r.rolname, c.oid, p.priv)
 GROUP BY 1, 2 ORDER BY 1, 2;

-- in practice: an app login can read the catalog but not write it; a
-- reporting login reads reports and events only; a login without an oms
-- role sees nothing
CREATE ROLE regress_shop LOGIN IN ROLE oms_app;
CREATE ROLE regress_bi LOGIN IN ROLE oms_reporting;
CREATE ROLE regress_admin LOGIN IN ROLE oms_admin;
CREATE ROLE regress_nobody LOGIN;
SET ROLE regress_shop;
SELECT count(*) >= 0 AS app_reads_products FROM oms.products;
INSERT INTO oms.products (sku, name) VALUES ('APP-WRITE', 'Written by an app');
UPDATE oms.products SET name = 'x';
SELECT count(*) FROM oms.customers;
RESET ROLE;
SET ROLE regress_bi;
SELECT count(*) >= 0 AS reporting_reads_events FROM oms.events;
SELECT count(*) FROM oms.customers;
DELETE FROM oms.channels;
RESET ROLE;
SET ROLE regress_admin;
INSERT INTO oms.products (sku, gtin, name) VALUES ('ADMIN-1', '12345670', 'Written by an admin');
DELETE FROM oms.products WHERE sku = 'ADMIN-1';
RESET ROLE;
SET ROLE regress_nobody;
SELECT count(*) FROM oms.products;
SELECT '96385074'::oms.gtin;
SELECT oms.version() IS NOT NULL;
RESET ROLE;
DROP ROLE regress_shop, regress_bi, regress_admin, regress_nobody;
