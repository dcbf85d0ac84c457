-- What CREATE EXTENSION geo_import created (SPEC §2, geo_import--1.0.sql).
-- Runs in a database prepared by scripts/test.sh: test/fixtures/supabase.sql,
-- seed.sql, then CREATE EXTENSION pgtap; CREATE EXTENSION geo_import CASCADE
-- (installed in schema public).
BEGIN;
SELECT plan(64);

-- The extension, in public -----------------------------------------------------
SELECT has_extension('geo_import', 'geo_import is installed');
SELECT is((SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'geo_import'),
          'public', 'geo_import is installed in schema public');
SELECT is((SELECT extrelocatable FROM pg_extension WHERE extname = 'geo_import'),
          false, 'geo_import is not relocatable (its functions name their schema)');

-- Tables and their columns ----------------------------------------------------
SELECT has_table('public', 'import_logs', 'table import_logs exists');
SELECT has_table('public', 'feature_collections', 'table feature_collections exists');
SELECT has_table('public', 'layers', 'table layers exists');
SELECT has_table('public', 'geo_features', 'table geo_features exists');

SELECT columns_are('public', 'import_logs', ARRAY[
  'id', 'project_file_id', 'status', 'total_features', 'imported_count', 'failed_count',
  'collection_id', 'layer_id', 'metadata', 'created_at', 'updated_at', 'import_xid'],
  'import_logs has the seed''s columns and the importing transaction''s id');
SELECT columns_are('public', 'feature_collections', ARRAY[
  'id', 'project_file_id', 'name', 'source_srid', 'srid', 'feature_count', 'import_log_id', 'import_report',
  'created_at'],
  'feature_collections has its columns');
SELECT columns_are('public', 'layers', ARRAY[
  'id', 'collection_id', 'project_file_id', 'name', 'srid', 'feature_count', 'created_at'],
  'layers has its columns');
SELECT columns_are('public', 'geo_features', ARRAY[
  'id', 'layer_id', 'collection_id', 'feature_index', 'feature_id', 'properties', 'geom'],
  'geo_features has its columns');

-- Column types, one set comparison per table: (column, type, not null).
SELECT set_eq(
  $$SELECT attname::text, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
     WHERE attrelid = 'public.import_logs'::regclass AND attnum > 0 AND NOT attisdropped$$,
  $$VALUES ('id', 'uuid', true), ('project_file_id', 'uuid', true), ('status', 'text', true),
           ('total_features', 'integer', true), ('imported_count', 'integer', true),
           ('failed_count', 'integer', true), ('collection_id', 'uuid', false),
           ('layer_id', 'uuid', false), ('metadata', 'jsonb', false),
           ('created_at', 'timestamp with time zone', true),
           ('updated_at', 'timestamp with time zone', true), ('import_xid', 'xid8', false)$$,
  'import_logs columns have the seed''s types and nullability');
SELECT set_eq(
  $$SELECT attname::text, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
     WHERE attrelid = 'public.feature_collections'::regclass AND attnum > 0 AND NOT attisdropped$$,
  $$VALUES ('id', 'uuid', true), ('project_file_id', 'uuid', true), ('name', 'text', true),
           ('source_srid', 'integer', true), ('srid', 'integer', true),
           ('feature_count', 'integer', true), ('import_log_id', 'uuid', false),
           ('import_report', 'jsonb', false), ('created_at', 'timestamp with time zone', true)$$,
  'feature_collections columns have their types');
SELECT set_eq(
  $$SELECT attname::text, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
     WHERE attrelid = 'public.layers'::regclass AND attnum > 0 AND NOT attisdropped$$,
  $$VALUES ('id', 'uuid', true), ('collection_id', 'uuid', true), ('project_file_id', 'uuid', true),
           ('name', 'text', true), ('srid', 'integer', true), ('feature_count', 'integer', true),
           ('created_at', 'timestamp with time zone', true)$$,
  'layers columns have their types');
SELECT set_eq(
  $$SELECT attname::text, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
     WHERE attrelid = 'public.geo_features'::regclass AND attnum > 0 AND NOT attisdropped$$,
  $$VALUES ('id', 'bigint', true), ('layer_id', 'uuid', true), ('collection_id', 'uuid', true),
           ('feature_index', 'integer', true), ('feature_id', 'text', false),
           ('properties', 'jsonb', false), ('geom', 'geometry', false)$$,
  'geo_features columns have their types');

SELECT col_has_check('public', 'import_logs', 'status', 'import_logs.status has a CHECK constraint');
SELECT col_is_pk('public', 'import_logs', 'id', 'import_logs.id is the primary key');

-- Indexes ---------------------------------------------------------------------
SELECT has_index('public', 'import_logs', 'import_logs_project_file_id_idx', ARRAY['project_file_id'],
                 'import_logs_project_file_id_idx indexes project_file_id');
SELECT has_index('public', 'import_logs', 'import_logs_status_idx', ARRAY['status'],
                 'import_logs_status_idx indexes status');
SELECT ok(EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                   JOIN pg_am am ON am.oid = c.relam
                   WHERE i.indrelid = 'public.geo_features'::regclass AND am.amname = 'gist'
                     AND i.indkey[0] = (SELECT attnum FROM pg_attribute
                                         WHERE attrelid = 'public.geo_features'::regclass
                                           AND attname = 'geom')),
          'geo_features has a GiST index on geom');
SELECT ok(EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                   JOIN pg_am am ON am.oid = c.relam
                   WHERE i.indrelid = 'public.geo_features'::regclass AND am.amname = 'btree'
                     AND i.indkey[0] = (SELECT attnum FROM pg_attribute
                                         WHERE attrelid = 'public.geo_features'::regclass
                                           AND attname = 'layer_id')),
          'geo_features has a btree index leading with layer_id');

-- Row level security and policies ---------------------------------------------
SELECT ok((SELECT relrowsecurity FROM pg_class WHERE oid = 'public.import_logs'::regclass),
          'RLS is enabled on import_logs');
SELECT ok((SELECT relrowsecurity FROM pg_class WHERE oid = 'public.feature_collections'::regclass),
          'RLS is enabled on feature_collections');
SELECT ok((SELECT relrowsecurity FROM pg_class WHERE oid = 'public.layers'::regclass),
          'RLS is enabled on layers');
SELECT ok((SELECT relrowsecurity FROM pg_class WHERE oid = 'public.geo_features'::regclass),
          'RLS is enabled on geo_features');
SELECT policies_are('public', 'import_logs', ARRAY['Users can view import logs for their projects'],
                    'import_logs has the seed''s policy');
SELECT policy_cmd_is('public', 'import_logs', 'Users can view import logs for their projects', 'select',
                     'the import_logs policy is a SELECT policy');
SELECT is((SELECT count(DISTINCT tablename)::int FROM pg_policies
            WHERE schemaname = 'public' AND cmd = 'SELECT'
              AND tablename IN ('import_logs', 'feature_collections', 'layers', 'geo_features')),
          4, 'each of the four tables has a SELECT policy');

-- The updated_at trigger ------------------------------------------------------
SELECT has_trigger('public', 'import_logs', 'set_updated_at', 'import_logs has trigger set_updated_at');
SELECT trigger_is('public', 'import_logs', 'set_updated_at', 'public', 'geo_import_set_updated_at',
                  'set_updated_at calls geo_import_set_updated_at()');
-- tgtype bits: 1 = FOR EACH ROW, 2 = BEFORE, 16 = UPDATE.
SELECT is((SELECT tgtype & (1 | 2 | 16) FROM pg_trigger
            WHERE tgrelid = 'public.import_logs'::regclass AND tgname = 'set_updated_at')::int,
          1 | 2 | 16, 'set_updated_at fires BEFORE UPDATE FOR EACH ROW');
SELECT has_trigger('public', 'project_files', 'geo_import_forget_project_file',
                   'the file-deletion cleanup trigger is attached to public.project_files');

-- Realtime publication --------------------------------------------------------
SELECT ok(EXISTS (SELECT 1 FROM pg_publication_tables
                   WHERE pubname = 'supabase_realtime' AND schemaname = 'public'
                     AND tablename = 'import_logs'),
          'import_logs is in publication supabase_realtime');

-- pg_dump of user data --------------------------------------------------------
SELECT ok('public.import_logs'::regclass IN (SELECT unnest(extconfig)::regclass FROM pg_extension WHERE extname = 'geo_import'),
          'import_logs is registered with pg_extension_config_dump');
SELECT ok('public.feature_collections'::regclass IN (SELECT unnest(extconfig)::regclass FROM pg_extension WHERE extname = 'geo_import'),
          'feature_collections is registered with pg_extension_config_dump');
SELECT ok('public.layers'::regclass IN (SELECT unnest(extconfig)::regclass FROM pg_extension WHERE extname = 'geo_import'),
          'layers is registered with pg_extension_config_dump');
SELECT ok('public.geo_features'::regclass IN (SELECT unnest(extconfig)::regclass FROM pg_extension WHERE extname = 'geo_import'),
          'geo_features is registered with pg_extension_config_dump');
SELECT is((SELECT count(*)::int FROM pg_depend
            WHERE refclassid = 'pg_extension'::regclass
              AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'geo_import')
              AND deptype = 'e' AND classid = 'pg_class'::regclass
              AND objid IN ('public.import_logs'::regclass, 'public.feature_collections'::regclass,
                            'public.layers'::regclass, 'public.geo_features'::regclass)),
          4, 'the four tables are members of the extension');

-- Table privileges: API roles read (RLS filters), only the functions write ----
SELECT table_privs_are('public', 'import_logs', 'authenticated', ARRAY['SELECT'],
                       'authenticated may only SELECT import_logs');
SELECT table_privs_are('public', 'feature_collections', 'authenticated', ARRAY['SELECT'],
                       'authenticated may only SELECT feature_collections');
SELECT table_privs_are('public', 'layers', 'authenticated', ARRAY['SELECT'],
                       'authenticated may only SELECT layers');
SELECT table_privs_are('public', 'geo_features', 'authenticated', ARRAY['SELECT'],
                       'authenticated may only SELECT geo_features');
SELECT is_empty(
  $$SELECT c.relname, p.priv FROM pg_class c
      CROSS JOIN (VALUES ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE')) AS p(priv)
     WHERE c.oid IN ('public.import_logs'::regclass, 'public.feature_collections'::regclass,
                     'public.layers'::regclass, 'public.geo_features'::regclass)
       AND has_table_privilege('anon', c.oid, p.priv)$$,
  'anon may not write any of the four tables');

-- update_import_progress: internal, not for API roles ---------------------------
SELECT has_function('public', 'update_import_progress',
                    ARRAY['uuid', 'integer', 'integer', 'uuid', 'uuid', 'jsonb'],
                    'update_import_progress has the seed''s signature');
SELECT ok(NOT EXISTS (
            SELECT 1 FROM pg_proc p,
                   aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
             WHERE p.oid = 'public.update_import_progress(uuid,integer,integer,uuid,uuid,jsonb)'::regprocedure
               AND a.grantee = 0 AND a.privilege_type = 'EXECUTE'),
          'PUBLIC may not execute update_import_progress');
SELECT ok(NOT has_function_privilege('anon',
            'public.update_import_progress(uuid,integer,integer,uuid,uuid,jsonb)', 'EXECUTE'),
          'anon may not execute update_import_progress');
SELECT ok(NOT has_function_privilege('authenticated',
            'public.update_import_progress(uuid,integer,integer,uuid,uuid,jsonb)', 'EXECUTE'),
          'authenticated may not execute update_import_progress');

-- import_geojson: one signature, SECURITY DEFINER, pinned search_path ------------
SELECT is((SELECT count(*)::int FROM pg_proc
            WHERE proname = 'import_geojson' AND pronamespace = 'public'::regnamespace),
          1, 'import_geojson has exactly one signature (PostgREST cannot choose between overloads)');
SELECT matches((SELECT pg_get_function_identity_arguments(oid) FROM pg_proc
                 WHERE proname = 'import_geojson' AND pronamespace = 'public'::regnamespace),
               '^file_id uuid, payload jsonb?, options jsonb$',
               'import_geojson takes named arguments file_id, payload, options');
SELECT is((SELECT pronargdefaults::int FROM pg_proc
            WHERE proname = 'import_geojson' AND pronamespace = 'public'::regnamespace),
          1, 'import_geojson''s options argument has a default');
SELECT set_has(
  $$SELECT unnest(proargnames[pronargs + 1:]) FROM pg_proc
     WHERE proname = 'import_geojson' AND pronamespace = 'public'::regnamespace$$,
  $$VALUES ('import_log_id'), ('status'), ('total_features'), ('imported_count'),
           ('failed_count'), ('collection_id'), ('layer_id')$$,
  'import_geojson returns the log id, status, counts, collection and layer');
SELECT ok((SELECT proretset FROM pg_proc
            WHERE proname = 'import_geojson' AND pronamespace = 'public'::regnamespace),
          'import_geojson returns a table (one row), callable as SELECT * FROM import_geojson(...)');
SELECT ok((SELECT prosecdef FROM pg_proc
            WHERE proname = 'import_geojson' AND pronamespace = 'public'::regnamespace),
          'import_geojson is SECURITY DEFINER');
SELECT ok(EXISTS (SELECT 1 FROM pg_proc p, unnest(p.proconfig) c
                   WHERE p.proname = 'import_geojson' AND p.pronamespace = 'public'::regnamespace
                     AND c LIKE 'search\_path=%'),
          'import_geojson pins its search_path');
SELECT ok(has_function_privilege('authenticated',
            (SELECT oid FROM pg_proc WHERE proname = 'import_geojson'
                AND pronamespace = 'public'::regnamespace), 'EXECUTE'),
          'authenticated may execute import_geojson (it checks project membership itself)');
SELECT ok(has_function_privilege('service_role',
            (SELECT oid FROM pg_proc WHERE proname = 'import_geojson'
                AND pronamespace = 'public'::regnamespace), 'EXECUTE'),
          'service_role may execute import_geojson');

-- Every SECURITY DEFINER function of the extension ------------------------------
SELECT is_empty(
  $$SELECT p.oid::regprocedure::text FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
     WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
       AND d.refclassid = 'pg_extension'::regclass
       AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'geo_import')
       AND p.prosecdef
       AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search\_path=%')$$,
  'every SECURITY DEFINER function of geo_import pins its search_path');
-- pg_temp must be named, and last: otherwise it is searched first for tables.
SELECT is_empty(
  $$SELECT p.oid::regprocedure::text, c FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid,
           unnest(p.proconfig) c
     WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
       AND d.refclassid = 'pg_extension'::regclass
       AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'geo_import')
       AND p.prosecdef AND c LIKE 'search\_path=%'
       AND (c !~ 'pg_temp"?\s*$' OR c ~ '\$user|(^|[=,\s"])public("|\s*,|\s*$)')$$,
  'SECURITY DEFINER search_paths end with pg_temp and name neither $user nor public');
SELECT is((SELECT count(*)::int FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
            WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
              AND d.refclassid = 'pg_extension'::regclass
              AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'geo_import')
              AND p.proname IN ('import_geojson', 'update_import_progress')),
          2, 'import_geojson and update_import_progress are members of the extension');

-- DROP EXTENSION (rolled back with the rest of this file) ------------------------
-- The cleanup trigger on the application's project_files depends on the
-- extension, so a plain DROP names it, as PostgreSQL does for any object of
-- the application that uses an extension; CASCADE removes the trigger only.
SELECT throws_ok('DROP EXTENSION geo_import', '2BP01', NULL,
                 'DROP EXTENSION without CASCADE refuses while project_files has the cleanup trigger');
SELECT lives_ok('DROP EXTENSION geo_import CASCADE', 'DROP EXTENSION geo_import CASCADE succeeds');
SELECT hasnt_table('public', 'import_logs', 'DROP EXTENSION removes import_logs');
SELECT hasnt_trigger('public', 'project_files', 'geo_import_forget_project_file',
                     'DROP EXTENSION removes the cleanup trigger on project_files');
SELECT has_table('public', 'project_files', 'DROP EXTENSION keeps the application table project_files');

SELECT * FROM finish();
ROLLBACK;
