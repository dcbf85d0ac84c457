-- Cascade and lifecycle (ISSUE 6.3, SPEC §2): deleting a project file (or
-- its project) removes its logs, collections, layers and features;
-- ALTER EXTENSION ... UPDATE to 1.1 (geo_import--1.0--1.1.sql, a no-op) keeps
-- everything; DROP EXTENSION ... CASCADE and CREATE EXTENSION give a working
-- extension again, also when the application's tables come after it (as in
-- pg_restore). pg_dump/pg_restore with the cascade: test/scripts/dump_restore.sh.
-- Imports run without the progress worker: its commits would outlive this
-- file's ROLLBACK.
BEGIN;
SET LOCAL geo_import.live_progress = off;
SET LOCAL client_min_messages = warning;
SELECT plan(44);

CREATE TEMP TABLE imports (file text, import_log_id uuid, collection_id uuid, layer_id uuid);
CREATE FUNCTION pg_temp.import(p_file text, p_file_id uuid, p_payload json) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO imports SELECT p_file, import_log_id, collection_id, layer_id
    FROM public.import_geojson(p_file_id, p_payload)
$$;
-- Rows of the four tables that belong to the imports of `p_file`, as
-- logs/collections/layers/features.
CREATE FUNCTION pg_temp.rows_of(p_file text) RETURNS text
LANGUAGE sql AS $$
  SELECT format('%s/%s/%s/%s',
    (SELECT count(*) FROM public.import_logs WHERE id IN (SELECT import_log_id FROM imports WHERE file = p_file)),
    (SELECT count(*) FROM public.feature_collections WHERE id IN (SELECT collection_id FROM imports WHERE file = p_file)),
    (SELECT count(*) FROM public.layers WHERE id IN (SELECT layer_id FROM imports WHERE file = p_file)),
    (SELECT count(*) FROM public.geo_features WHERE layer_id IN (SELECT layer_id FROM imports WHERE file = p_file)))
$$;

-- Deleting a project file --------------------------------------------------------------------
-- A second file in project 1, so that a file's deletion has a neighbour to spare.
INSERT INTO public.project_files (id, project_id, name) VALUES
  ('f3f3f3f3-f3f3-f3f3-f3f3-f3f3f3f3f3f3', '11111111-1111-1111-1111-111111111111', 'third.geojson');
SELECT pg_temp.import('f1', 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1',
  '{"type":"FeatureCollection","features":[
    {"type":"Feature","properties":{"n":1},"geometry":{"type":"Point","coordinates":[1,2]}},
    {"type":"Feature","properties":{"n":2},"geometry":{"type":"Polygon","coordinates":[[[0,0],[2,2],[2,0],[0,2],[0,0]]]}}]}');
SELECT pg_temp.import('f1', 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{"type":"MultiPoint","coordinates":[[1,2],[3,4]]}');
SELECT pg_temp.import('f2', 'f2f2f2f2-f2f2-f2f2-f2f2-f2f2f2f2f2f2', '{"type":"Point","coordinates":[5,6]}');
SELECT pg_temp.import('f3', 'f3f3f3f3-f3f3-f3f3-f3f3-f3f3f3f3f3f3',
  '{"type":"FeatureCollection","features":[
    {"type":"Feature","properties":null,"geometry":{"type":"Point","coordinates":[7,8]}},
    {"type":"Feature","properties":null,"geometry":{"type":"Point","coordinates":[9,9]}},
    {"type":"Feature","properties":null,"geometry":null}]}');
SELECT is(pg_temp.rows_of('f1'), '2/2/2/3', 'file f1f1… has two imports: 2 logs, collections and layers, 3 features');
SELECT is(pg_temp.rows_of('f3'), '1/1/1/3', 'file f3f3… has one import of 3 features');

DELETE FROM public.project_files WHERE id = 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1';
SELECT is(pg_temp.rows_of('f1'), '0/0/0/0', 'deleting file f1f1… removes its logs, collections, layers and features');
SELECT is(pg_temp.rows_of('f2') || ' ' || pg_temp.rows_of('f3'), '1/1/1/1 1/1/1/3',
          'the other files'' imports stay');
SELECT is((SELECT count(*)::int FROM public.import_logs WHERE project_file_id = 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1')
          + (SELECT count(*)::int FROM public.feature_collections WHERE project_file_id = 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1')
          + (SELECT count(*)::int FROM public.layers WHERE project_file_id = 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1'),
          0, 'nothing of file f1f1… is left at all');

-- Deleting a project cascades to its files (the application's foreign key),
-- and from there to their imports.
DELETE FROM public.projects WHERE id = '22222222-2222-2222-2222-222222222222';
SELECT is(pg_temp.rows_of('f2'), '0/0/0/0', 'deleting project 2 removes the imports of its file f2f2…');
SELECT is(pg_temp.rows_of('f3'), '1/1/1/3', 'project 1''s file f3f3… keeps its import');

-- Deleting several files in one statement.
INSERT INTO public.projects (id, name) VALUES ('22222222-2222-2222-2222-222222222222', 'Project Two');
INSERT INTO public.project_files (id, project_id, name) VALUES
  ('f2f2f2f2-f2f2-f2f2-f2f2-f2f2f2f2f2f2', '22222222-2222-2222-2222-222222222222', 'parcels.geojson');
SELECT pg_temp.import('f2', 'f2f2f2f2-f2f2-f2f2-f2f2-f2f2f2f2f2f2', '{"type":"Point","coordinates":[5,6]}');
DELETE FROM public.project_files WHERE id IN ('f2f2f2f2-f2f2-f2f2-f2f2-f2f2f2f2f2f2', 'f3f3f3f3-f3f3-f3f3-f3f3-f3f3f3f3f3f3');
SELECT is(pg_temp.rows_of('f2') || ' ' || pg_temp.rows_of('f3'), '0/0/0/0 0/0/0/0',
          'deleting two files in one statement removes the imports of both');

-- Within the extension: a collection takes its layer and features with it;
-- its log stays, pointing nowhere.
INSERT INTO public.project_files (id, project_id, name) VALUES
  ('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '11111111-1111-1111-1111-111111111111', 'countries.geojson');
SELECT pg_temp.import('c', 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{"type":"MultiPoint","coordinates":[[1,2],[3,4]]}');
DELETE FROM public.feature_collections WHERE id = (SELECT collection_id FROM imports WHERE file = 'c');
SELECT is(pg_temp.rows_of('c'), '1/0/0/0', 'deleting a collection removes its layer and features, not its log');
SELECT is((SELECT row(collection_id, layer_id)::text FROM public.import_logs
            WHERE id = (SELECT import_log_id FROM imports WHERE file = 'c')),
          row(NULL::uuid, NULL::uuid)::text, 'the log''s collection_id and layer_id are set to NULL');
DELETE FROM public.import_logs WHERE id = (SELECT import_log_id FROM imports WHERE file = 'c');

-- ALTER EXTENSION ... UPDATE -------------------------------------------------------------------
-- The state to keep: rows, members, privileges, policies.
SELECT pg_temp.import('u', 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{"type":"MultiPoint","coordinates":[[1,2],[3,4]]}');
CREATE FUNCTION pg_temp.extension_state() RETURNS TABLE (version text, members bigint, table_acls text,
                                                         function_acls text, policies bigint)
LANGUAGE sql AS $$
  SELECT (SELECT extversion FROM pg_extension WHERE extname = 'geo_import'),
         (SELECT count(*) FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
             AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'geo_import')),
         (SELECT string_agg(c.relname || ':' || coalesce(c.relacl::text, ''), ' ' ORDER BY c.relname) FROM pg_class c
           WHERE c.relnamespace = 'public'::regnamespace
             AND c.relname IN ('import_logs', 'feature_collections', 'layers', 'geo_features', 'geo_features_id_seq')),
         (SELECT string_agg(p.proname || ':' || coalesce(p.proacl::text, ''), ' ' ORDER BY p.proname) FROM pg_proc p
           WHERE p.pronamespace = 'public'::regnamespace
             AND (p.proname LIKE 'geo\_import\_%' OR p.proname IN ('import_geojson', 'update_import_progress'))),
         (SELECT count(*) FROM pg_policies WHERE schemaname = 'public'
             AND tablename IN ('import_logs', 'feature_collections', 'layers', 'geo_features'))
$$;
CREATE TEMP TABLE state_before AS SELECT *, pg_temp.rows_of('u') AS rows FROM pg_temp.extension_state();

SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'geo_import'), '1.0', 'geo_import is at 1.0');
SELECT ok(EXISTS (SELECT 1 FROM pg_extension_update_paths('geo_import')
                   WHERE source = '1.0' AND target = '1.1' AND path = '1.0--1.1'),
          'there is an update path 1.0 -> 1.1 (geo_import--1.0--1.1.sql is installed)');
SELECT lives_ok($$ALTER EXTENSION geo_import UPDATE TO '1.1'$$, 'ALTER EXTENSION geo_import UPDATE TO ''1.1''');
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'geo_import'), '1.1', 'geo_import is at 1.1');
SELECT is((SELECT row(members, table_acls, function_acls, policies, pg_temp.rows_of('u'))::text FROM pg_temp.extension_state()),
          (SELECT row(members, table_acls, function_acls, policies, rows)::text FROM state_before),
          'the update keeps the members, privileges, policies and rows');
SELECT pg_temp.import('u11', 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{"type":"Point","coordinates":[1,2]}');
SELECT is(pg_temp.rows_of('u11'), '1/1/1/1', 'an import works at 1.1');
SELECT lives_ok($$ALTER EXTENSION geo_import UPDATE TO '1.1'$$, 'updating to the version installed is a no-op');

-- DROP EXTENSION and CREATE EXTENSION -----------------------------------------------------------
-- A plain DROP refuses while project_files has the cleanup trigger (see
-- 01_schema.sql); CASCADE drops the extension and that trigger only.
SELECT lives_ok('DROP EXTENSION geo_import CASCADE', 'DROP EXTENSION geo_import CASCADE');
SELECT hasnt_table('public', 'import_logs', 'import_logs is gone');
SELECT hasnt_table('public', 'geo_features', 'geo_features is gone');
SELECT is((SELECT count(*)::int FROM pg_proc WHERE pronamespace = 'public'::regnamespace
            AND (proname LIKE 'geo\_import\_%' OR proname IN ('import_geojson', 'update_import_progress'))),
          0, 'every function of geo_import is gone');
SELECT hasnt_trigger('public', 'project_files', 'geo_import_forget_project_file', 'the cleanup trigger is gone');
SELECT is((SELECT count(*)::int FROM pg_publication_tables WHERE pubname = 'supabase_realtime'), 0,
          'supabase_realtime publishes nothing of geo_import any more (the publication itself stays)');
SELECT is((SELECT count(*)::int FROM public.project_files WHERE id = 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1'), 1,
          'the application''s project_files stays, with its rows');
SELECT has_extension('postgis', 'postgis stays');

SELECT lives_ok('CREATE EXTENSION geo_import', 'CREATE EXTENSION geo_import again');
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'geo_import'), '1.0', 'it is at the default version, 1.0');
SELECT is((SELECT count(*)::int FROM public.import_logs) + (SELECT count(*)::int FROM public.geo_features), 0,
          'its tables start empty');
SELECT is((SELECT row(members, table_acls, function_acls, policies)::text FROM pg_temp.extension_state()),
          (SELECT row(members, table_acls, function_acls, policies)::text FROM state_before),
          'the same members, privileges (Supabase''s defaults taken back again) and policies as the first time');
SELECT has_trigger('public', 'project_files', 'geo_import_forget_project_file', 'the cleanup trigger is attached again');
SELECT ok(EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = 'supabase_realtime' AND tablename = 'import_logs'),
          'import_logs is in supabase_realtime again');
DELETE FROM imports;
SELECT pg_temp.import('r', 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{"type":"MultiPoint","coordinates":[[1,2],[3,4]]}');
SELECT is(pg_temp.rows_of('r'), '1/1/1/1', 'an import works after the re-create');
SELECT is((SELECT min(id)::int FROM public.geo_features), 1, 'feature ids start again at 1');
DELETE FROM public.project_files WHERE id = 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1';
SELECT is(pg_temp.rows_of('r'), '0/0/0/0', 'the cascade works after the re-create');

-- CREATE EXTENSION ... VERSION '1.1' (1.0 then the update script).
SELECT lives_ok($$DROP EXTENSION geo_import CASCADE$$, 'DROP EXTENSION again');
SELECT lives_ok($$CREATE EXTENSION geo_import VERSION '1.1'$$, 'CREATE EXTENSION geo_import VERSION ''1.1''');
SELECT is((SELECT row(version, members, table_acls, function_acls, policies)::text FROM pg_temp.extension_state()),
          (SELECT row('1.1', members, table_acls, function_acls, policies)::text FROM state_before),
          'at 1.1 directly: the same members, privileges and policies');

-- The extension before the application's tables (the order of pg_restore) ---------------------
SELECT lives_ok($$DROP EXTENSION geo_import CASCADE$$, 'DROP EXTENSION once more');
ALTER TABLE public.project_files RENAME TO project_files_later;
SELECT lives_ok('CREATE EXTENSION geo_import', 'CREATE EXTENSION geo_import without public.project_files');
SELECT is(public.geo_import_attach_project_files(), false, 'there is nothing to attach the cleanup trigger to');
ALTER TABLE public.project_files_later RENAME TO project_files;
INSERT INTO public.project_files (id, project_id, name) VALUES
  ('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '11111111-1111-1111-1111-111111111111', 'countries.geojson');
SELECT hasnt_trigger('public', 'project_files', 'geo_import_forget_project_file',
                     'project_files, there before the extension''s first import, has no cleanup trigger yet');
DELETE FROM imports;
SELECT pg_temp.import('late', 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{"type":"Point","coordinates":[1,2]}');
SELECT has_trigger('public', 'project_files', 'geo_import_forget_project_file',
                   'the first import attaches the cleanup trigger');
SELECT is(pg_temp.rows_of('late'), '1/1/1/1', 'the import is there ...');
DELETE FROM public.project_files WHERE id = 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1';
SELECT is(pg_temp.rows_of('late'), '0/0/0/0', '... and goes with its file');

SELECT * FROM finish();
ROLLBACK;
