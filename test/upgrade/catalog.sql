-- test/upgrade/catalog.sql: the oms extension's catalog as sorted text
-- lines, one per fact, so that two databases can be compared with diff
-- (test/t/011_upgrade.pl: a 0.1.0 install updated to the current version
-- against a fresh install of it). Object identities are names, never oids;
-- columns are listed by their rank among live columns, so a column that an
-- upgrade appends must also come last in the install script.
\pset format unaligned
\pset tuples_only on
\pset footer off
WITH ext AS (
    SELECT oid FROM pg_extension WHERE extname = 'oms'
), member AS (
    SELECT d.classid, d.objid
    FROM pg_depend d, ext
    WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
), rel AS (
    SELECT c.oid, c.oid::regclass::text AS name, c.relkind
    FROM pg_class c JOIN member m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
), fn AS (
    SELECT p.oid, p.oid::regprocedure::text AS name
    FROM pg_proc p JOIN member m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
), typ AS (
    SELECT t.oid, format_type(t.oid, NULL) AS name
    FROM pg_type t JOIN member m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
), facts(line) AS (
    -- every member object, by kind
    SELECT 'member ' || pg_describe_object(m.classid, m.objid, 0) FROM member m
    -- schemas of the extension and their owners and grants
    UNION ALL
    SELECT 'schema ' || n.nspname || ' owner=' || n.nspowner::regrole || ' acl=' || coalesce(n.nspacl::text, '-')
    FROM pg_namespace n WHERE n.nspname = 'oms'
    -- relations: kind, persistence, options, owner, grants
    UNION ALL
    SELECT format('relation %s kind=%s persistence=%s options=%s owner=%s acl=%s rls=%s',
                  r.name, r.relkind, c.relpersistence, coalesce(c.reloptions::text, '-'),
                  c.relowner::regrole, coalesce(c.relacl::text, '-'), c.relrowsecurity)
    FROM rel r JOIN pg_class c ON c.oid = r.oid
    -- columns: rank, type, default, not null, identity, generated, collation, grants
    UNION ALL
    SELECT format('column %s #%s %s type=%s notnull=%s default=%s identity=%s generated=%s collation=%s acl=%s',
                  r.name, rank() OVER (PARTITION BY a.attrelid ORDER BY a.attnum), a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  coalesce(pg_get_expr(ad.adbin, ad.adrelid), '-'), a.attidentity, a.attgenerated,
                  coalesce(co.collname, '-'), coalesce(a.attacl::text, '-'))
    FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 100
    -- constraints of tables and domains
    UNION ALL
    SELECT format('constraint %s %s %s deferrable=%s deferred=%s validated=%s',
                  coalesce(r.name, format_type(con.contypid, NULL)), con.conname,
                  pg_get_constraintdef(con.oid), con.condeferrable, con.condeferred, con.convalidated)
    FROM pg_constraint con
    LEFT JOIN rel r ON r.oid = con.conrelid
    WHERE r.oid IS NOT NULL OR con.contypid IN (SELECT oid FROM typ)
    -- indexes (including those behind constraints)
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN rel r ON r.oid = i.indrelid
    -- triggers
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
    FROM pg_trigger t JOIN rel r ON r.oid = t.tgrelid WHERE NOT t.tgisinternal
    -- views: their query
    UNION ALL
    SELECT 'view ' || r.name || ' ' || regexp_replace(pg_get_viewdef(r.oid, true), '\s+', ' ', 'g')
    FROM rel r WHERE r.relkind IN ('v', 'm')
    -- sequences: their parameters
    UNION ALL
    SELECT format('sequence %s type=%s start=%s inc=%s min=%s max=%s cache=%s cycle=%s',
                  r.name, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
                  s.seqcache, s.seqcycle)
    FROM rel r JOIN pg_sequence s ON s.seqrelid = r.oid
    -- functions: whole definition, with grants (pg_get_functiondef gives
    -- language, volatility, strictness, security, configuration and body)
    UNION ALL
    SELECT 'function ' || f.name || ' acl=' || coalesce(p.proacl::text, '-') || ' owner=' || p.proowner::regrole
           || E'\n' || regexp_replace(CASE WHEN p.prokind = 'a' THEN 'aggregate' ELSE pg_get_functiondef(p.oid) END,
                                     '^', '    ', 'gn')
    FROM fn f JOIN pg_proc p ON p.oid = f.oid
    -- types: kind, enum labels, domain base, composite columns are columns above
    UNION ALL
    SELECT format('type %s kind=%s acl=%s', t.name, pt.typtype, coalesce(pt.typacl::text, '-'))
           || coalesce(' labels=' || (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                                       FROM pg_enum e WHERE e.enumtypid = t.oid), '')
           || CASE WHEN pt.typtype = 'd' THEN ' base=' || format_type(pt.typbasetype, pt.typtypmod)
                   || ' notnull=' || pt.typnotnull || ' default=' || coalesce(pt.typdefault, '-') ELSE '' END
    FROM typ t JOIN pg_type pt ON pt.oid = t.oid
    -- operators, casts and operator classes by their description are members above
    -- comments on members and on their columns, constraints and triggers
    UNION ALL
    SELECT 'comment ' || pg_describe_object(d.classoid, d.objoid, d.objsubid) || ': ' || d.description
    FROM pg_description d
    WHERE (d.classoid, d.objoid) IN (SELECT classid, objid FROM member)
       OR (d.classoid = 'pg_constraint'::regclass AND d.objoid IN
           (SELECT oid FROM pg_constraint WHERE conrelid IN (SELECT oid FROM rel)))
       OR (d.classoid = 'pg_trigger'::regclass AND d.objoid IN
           (SELECT oid FROM pg_trigger WHERE tgrelid IN (SELECT oid FROM rel)))
    -- policies
    UNION ALL
    SELECT format('policy %s %s cmd=%s roles=%s using=%s check=%s', r.name, pol.polname, pol.polcmd,
                  pol.polroles::regrole[]::text, coalesce(pg_get_expr(pol.polqual, pol.polrelid), '-'),
                  coalesce(pg_get_expr(pol.polwithcheck, pol.polrelid), '-'))
    FROM pg_policy pol JOIN rel r ON r.oid = pol.polrelid
    -- pg_dump registrations (pg_extension_config_dump)
    UNION ALL
    SELECT 'config_dump ' || cfg.rel::regclass::text || ' where=' || coalesce(nullif(cfg.cond, ''), '-')
    FROM pg_extension e, ext,
         unnest(e.extconfig, e.extcondition) AS cfg(rel, cond)
    WHERE e.oid = ext.oid
    -- the roles the extension uses and their memberships
    UNION ALL
    SELECT format('role %s login=%s inherit=%s member_of=%s', r.rolname, r.rolcanlogin, r.rolinherit,
                  coalesce((SELECT string_agg(g.rolname, ',' ORDER BY g.rolname)
                            FROM pg_auth_members am JOIN pg_roles g ON g.oid = am.roleid
                            WHERE am.member = r.oid), '-'))
    FROM pg_roles r WHERE r.rolname LIKE 'oms\_%'
    -- the rows the install script seeds (configuration that oms's code
    -- reads: statuses and their capabilities, transitions, accounts, rules)
    UNION ALL
    SELECT 'seed order_statuses ' || row_to_json(t)::text FROM oms.order_statuses t WHERE t.seeded
    UNION ALL
    SELECT 'seed order_transitions ' || row_to_json(t)::text FROM oms.order_transitions t WHERE t.seeded
    UNION ALL
    SELECT 'seed accounts ' || row_to_json(t)::text FROM oms.accounts t WHERE t.seeded
    UNION ALL
    SELECT 'seed journal_rules ' || row_to_json(t)::text FROM oms.journal_rules t WHERE t.seeded
    UNION ALL
    SELECT 'seed hold_rules ' || row_to_json(t)::text FROM oms.hold_rules t WHERE t.seeded
    UNION ALL
    SELECT 'seed message_templates ' || row_to_json(t)::text FROM oms.message_templates t WHERE t.seeded
    UNION ALL
    SELECT 'seed rejection_reasons ' || row_to_json(t)::text FROM oms.rejection_reasons t WHERE t.seeded
    UNION ALL
    SELECT 'seed return_reasons ' || row_to_json(t)::text FROM oms.return_reasons t WHERE t.seeded
    UNION ALL
    SELECT 'seed materialized_reports ' || t.report || ' source=' || t.source FROM oms.materialized_reports t
    -- anything in the schema that is not a member
    UNION ALL
    SELECT 'not a member: relation ' || c.oid::regclass::text FROM pg_class c
    WHERE c.relnamespace = 'oms'::regnamespace AND c.relkind NOT IN ('i', 'I', 't')
      AND c.oid NOT IN (SELECT oid FROM rel)
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                      AND d.deptype IN ('a', 'i') AND d.refobjid IN (SELECT oid FROM rel))
    UNION ALL
    SELECT 'not a member: function ' || p.oid::regprocedure::text FROM pg_proc p
    WHERE p.pronamespace = 'oms'::regnamespace AND p.oid NOT IN (SELECT oid FROM fn)
)
SELECT line FROM facts ORDER BY line;
