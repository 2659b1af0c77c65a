--
-- install: the extension installs cleanly, refuses a schema it does not
-- own or that already holds objects, and never runs code from a hostile
-- search_path, neither during CREATE EXTENSION nor when its functions and
-- triggers run later.
--
SET client_min_messages = warning;

-- 1. a schema "oms" owned by another role: refused (installed as a fixed
--    superuser role so that the message does not depend on who runs the test)
CREATE ROLE regress_mallory;
CREATE ROLE regress_installer SUPERUSER;
CREATE SCHEMA oms AUTHORIZATION regress_mallory;
SET ROLE regress_installer;
CREATE EXTENSION oms;
RESET ROLE;
SELECT count(*) AS extensions FROM pg_extension WHERE extname = 'oms';
DROP SCHEMA oms;

-- 2. a schema "oms" we own but that already holds a decoy: refused
CREATE SCHEMA oms;
CREATE FUNCTION oms.lower(text) RETURNS text LANGUAGE sql AS $$ SELECT 'decoy' $$;
CREATE EXTENSION oms;
SELECT count(*) AS extensions FROM pg_extension WHERE extname = 'oms';
DROP SCHEMA oms CASCADE;
DROP ROLE regress_mallory, regress_installer;

-- 3. a hostile schema first in search_path, shadowing functions and
--    operators the extension uses with exact-signature decoys that raise
CREATE SCHEMA evil;
CREATE FUNCTION evil.trap() RETURNS boolean LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'decoy in schema evil was called'; END $$;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS
$$ BEGIN PERFORM evil.trap(); RETURN NULL; END $$;
CREATE FUNCTION evil.length(text) RETURNS integer LANGUAGE plpgsql AS
$$ BEGIN PERFORM evil.trap(); RETURN 1; END $$;
CREATE FUNCTION evil.btrim(text) RETURNS text LANGUAGE plpgsql AS
$$ BEGIN PERFORM evil.trap(); RETURN $1; END $$;
CREATE FUNCTION evil.lower(text) RETURNS text LANGUAGE plpgsql AS
$$ BEGIN PERFORM evil.trap(); RETURN $1; END $$;
CREATE FUNCTION evil.array_position(anyarray, anyelement) RETURNS integer LANGUAGE plpgsql AS
$$ BEGIN PERFORM evil.trap(); RETURN NULL; END $$;
CREATE FUNCTION evil.array_to_string(anyarray, text) RETURNS text LANGUAGE plpgsql AS
$$ BEGIN PERFORM evil.trap(); RETURN ''; END $$;
CREATE FUNCTION evil.pg_extension_config_dump(regclass, text) RETURNS void LANGUAGE plpgsql AS
$$ BEGIN PERFORM evil.trap(); END $$;
CREATE FUNCTION evil.text_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS
$$ BEGIN RETURN evil.trap(); END $$;
CREATE FUNCTION evil.int_cmp(integer, integer) RETURNS boolean LANGUAGE plpgsql AS
$$ BEGIN RETURN evil.trap(); END $$;
CREATE FUNCTION evil.num_cmp(numeric, numeric) RETURNS boolean LANGUAGE plpgsql AS
$$ BEGIN RETURN evil.trap(); END $$;
CREATE FUNCTION evil.float_cmp(float8, float8) RETURNS boolean LANGUAGE plpgsql AS
$$ BEGIN RETURN evil.trap(); END $$;
CREATE FUNCTION evil.big_cmp(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
$$ BEGIN RETURN evil.trap(); END $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_eq);
CREATE OPERATOR evil.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_eq);
CREATE OPERATOR evil.~ (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_eq);
CREATE OPERATOR evil.> (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.int_cmp);
CREATE OPERATOR evil.>= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.int_cmp);
CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.big_cmp);
CREATE OPERATOR evil.<> (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.big_cmp);
CREATE OPERATOR evil.> (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.big_cmp);
CREATE OPERATOR evil.>= (LEFTARG = numeric, RIGHTARG = numeric, FUNCTION = evil.num_cmp);
CREATE OPERATOR evil.>= (LEFTARG = float8, RIGHTARG = float8, FUNCTION = evil.float_cmp);
CREATE OPERATOR evil.<= (LEFTARG = float8, RIGHTARG = float8, FUNCTION = evil.float_cmp);
-- the decoys work: unqualified calls under this search_path do hit them
SET search_path = evil, pg_catalog, public;
SELECT lower('X');
SELECT 'a' = 'a';
-- the install does not
CREATE EXTENSION oms;
SELECT extname, extversion, nspname AS schema
  FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace;
-- nor do the catalog's constraints, defaults and triggers, nor oms.check()
INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web shop', 'web');
INSERT INTO oms.locations (code, name, kind, latitude, longitude) VALUES ('WH1', 'Warehouse', 'warehouse', 52.52, 13.40);
INSERT INTO oms.products (sku, gtin, name, kind) VALUES ('KIT-1', '4006381333931', 'Kit', 'kit'), ('PART-1', NULL, 'Part', 'stock');
INSERT INTO oms.kit_components (kit_id, component_id, qty)
     SELECT k.id, c.id, 2 FROM oms.products k, oms.products c
      WHERE k.sku OPERATOR(pg_catalog.=) 'KIT-1' AND c.sku OPERATOR(pg_catalog.=) 'PART-1';
UPDATE oms.products SET kind = 'stock' WHERE sku OPERATOR(pg_catalog.=) 'KIT-1';
INSERT INTO oms.customers (external_ref, email, flags) VALUES ('c-1', 'Ann@Example.com', '{vip}');
SELECT * FROM oms.check();
SELECT oms.distance_km(52.52, 13.40, 48.14, 11.58)::numeric(8,1) AS berlin_munich_km;
RESET search_path;
DELETE FROM oms.kit_components;
DELETE FROM oms.products;
DELETE FROM oms.customers;
DELETE FROM oms.locations;
DELETE FROM oms.channels;
DROP SCHEMA evil CASCADE;

-- what was installed: roles, dump registration, library version
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname IN ('oms_admin', 'oms_app', 'oms_reporting') ORDER BY 1;
SELECT c::regclass AS dumped FROM pg_extension, unnest(extconfig) AS c WHERE extname = 'oms' ORDER BY c::regclass::text;
SELECT oms.version() = (SELECT extversion FROM pg_extension WHERE extname = 'oms') AS library_matches_script;

-- drop and re-create: the schema stays (PostgreSQL does not make it a
-- member of the extension), and a re-install into it works
DROP EXTENSION oms;
SELECT nspname FROM pg_namespace WHERE nspname = 'oms';
CREATE EXTENSION oms;
SELECT count(*) AS extensions FROM pg_extension WHERE extname = 'oms';
