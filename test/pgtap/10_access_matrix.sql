-- Access matrix (ISSUE 6.1): who may read the extension's four tables, call
-- import_geojson and update_import_progress, and write the tables directly.
--
-- Callers, each as PostgREST would run it (role switched on for the call,
-- JWT claims in request.jwt.claims):
--   anon          role anon, no sub
--   member        role authenticated, sub aaaaaaaa… (member of project 1, file f1f1…)
--   nonmember     role authenticated, sub cccccccc… (member of no project)
--   service_role  role service_role (BYPASSRLS), no sub
--   owner         the role that owns the tables (it ran CREATE EXTENSION)
--
-- The rule: members read their project's imports; non-members and anon see
-- nothing; service_role and the owner read everything; nobody but the owner
-- writes the tables except through import_geojson. The database is the one
-- scripts/test.sh prepares: test/fixtures/supabase.sql (Supabase's default
-- privileges in public: ALL on new tables, functions and sequences to anon,
-- authenticated and service_role) ran BEFORE CREATE EXTENSION, as on Supabase.
--
-- Every probe runs in a subtransaction that is rolled back, so the matrix
-- sees the same two imports everywhere; imports run without the progress
-- worker (its commits would outlive this file's ROLLBACK).
BEGIN;
SET LOCAL geo_import.live_progress = off;
SET LOCAL client_min_messages = warning;

-- Runs `sql` as `role` with claims {sub, role} and returns 'ok <rows>' (rows
-- read or written; 1 for a function call) or the SQLSTATE it raised. Whatever
-- it did is rolled back.
-- With p_legacy the user is named by request.jwt.claim.sub instead (older
-- PostgREST), and the claims object holds the role only.
CREATE FUNCTION pg_temp.probe(p_role text, p_sub uuid, p_sql text, p_legacy boolean DEFAULT false) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  v_rows bigint;
BEGIN
  BEGIN
    PERFORM pg_catalog.set_config('request.jwt.claims',
      pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
        'sub', CASE WHEN p_legacy THEN NULL ELSE p_sub END, 'role', p_role))::text, true);
    IF p_legacy THEN
      PERFORM pg_catalog.set_config('request.jwt.claim.sub', p_sub::text, true);
    END IF;
    PERFORM pg_catalog.set_config('role', p_role, true);
    EXECUTE p_sql;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RAISE EXCEPTION USING ERRCODE = 'P0T01', MESSAGE = v_rows::text;
  EXCEPTION
    WHEN SQLSTATE 'P0T01' THEN RETURN 'ok ' || SQLERRM;
    WHEN OTHERS THEN RETURN SQLSTATE;
  END;
END
$$;

CREATE TEMP TABLE callers (caller text PRIMARY KEY, role text, sub uuid, ord int);
INSERT INTO callers VALUES
  ('anon', 'anon', NULL, 1),
  ('member', 'authenticated', 'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa', 2),
  ('nonmember', 'authenticated', 'cccccccc-cccc-cccc-cccc-cccccccccccc', 3),
  ('service_role', 'service_role', NULL, 4),
  ('owner', (SELECT relowner::regrole::text FROM pg_class WHERE oid = 'public.import_logs'::regclass), NULL, 5);

-- Two imports as the owner: file f1f1… (project 1: 2 features) and file
-- f2f2… (project 2: 3 features).
CREATE TEMP TABLE imports AS
SELECT 'f1' AS file, * FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1',
  '{"type":"FeatureCollection","features":[
    {"type":"Feature","properties":{"n":1},"geometry":{"type":"Point","coordinates":[1,2]}},
    {"type":"Feature","properties":{"n":2},"geometry":{"type":"Point","coordinates":[3,4]}}]}')
UNION ALL
SELECT 'f2', * FROM import_geojson('f2f2f2f2-f2f2-f2f2-f2f2-f2f2f2f2f2f2',
  '{"type":"FeatureCollection","features":[
    {"type":"Feature","properties":{"n":1},"geometry":{"type":"Point","coordinates":[5,6]}},
    {"type":"Feature","properties":{"n":2},"geometry":{"type":"Point","coordinates":[7,8]}},
    {"type":"Feature","properties":{"n":3},"geometry":{"type":"Point","coordinates":[9,9]}}]}');
GRANT SELECT ON imports TO PUBLIC;

-- The matrix: (caller, what, statement, expected).
CREATE TEMP TABLE matrix (caller text, what text, sql text, expected text);

-- Reads: how many of the two imports' rows each caller sees (other test
-- files may have left rows of their own; see below for "nothing at all").
INSERT INTO matrix
SELECT c.caller, 'reads ' || t.tbl, format('SELECT * FROM public.%s WHERE %s IN (SELECT %s FROM imports)', t.tbl, t.key, t.ref),
       'ok ' || CASE c.caller WHEN 'member' THEN t.f1 WHEN 'service_role' THEN t.f1 + t.f2
                               WHEN 'owner' THEN t.f1 + t.f2 ELSE 0 END
  FROM callers c,
       (VALUES ('import_logs', 'id', 'import_log_id', 1, 1),
               ('feature_collections', 'id', 'collection_id', 1, 1),
               ('layers', 'id', 'layer_id', 1, 1),
               ('geo_features', 'layer_id', 'layer_id', 2, 3)) AS t(tbl, key, ref, f1, f2);
INSERT INTO matrix
SELECT c.caller, 'reads anything at all in ' || t.tbl, 'SELECT * FROM public.' || t.tbl, 'ok 0'
  FROM callers c, (VALUES ('import_logs'), ('feature_collections'), ('layers'), ('geo_features')) AS t(tbl)
 WHERE c.caller IN ('anon', 'nonmember');

-- Calls.
INSERT INTO matrix
SELECT c.caller, 'calls import_geojson into its file',
       $$SELECT * FROM public.import_geojson(file_id => 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1',
                                            payload => '{"type":"Point","coordinates":[1,1]}')$$,
       CASE WHEN c.caller IN ('member', 'service_role', 'owner') THEN 'ok 1' ELSE '42501' END
  FROM callers c;
INSERT INTO matrix
SELECT c.caller, 'calls import_geojson into another project''s file',
       $$SELECT * FROM public.import_geojson(file_id => 'f2f2f2f2-f2f2-f2f2-f2f2-f2f2f2f2f2f2',
                                            payload => '{"type":"Point","coordinates":[1,1]}')$$,
       CASE WHEN c.caller IN ('service_role', 'owner') THEN 'ok 1' ELSE '42501' END
  FROM callers c;
INSERT INTO matrix
SELECT c.caller, 'calls import_geojson into a file that does not exist',
       $$SELECT * FROM public.import_geojson(file_id => 'dddddddd-dddd-dddd-dddd-dddddddddddd',
                                            payload => '{"type":"Point","coordinates":[1,1]}')$$,
       '42501'
  FROM callers c;
INSERT INTO matrix
SELECT c.caller, 'calls update_import_progress',
       $$SELECT public.update_import_progress((SELECT import_log_id FROM imports WHERE file = 'f1'), 2, 0)$$,
       CASE WHEN c.caller = 'owner' THEN 'ok 1' ELSE '42501' END
  FROM callers c;
-- The other SECURITY DEFINER helpers are the owner's too.
INSERT INTO matrix
SELECT c.caller, 'calls ' || f.fn, f.sql, CASE WHEN c.caller = 'owner' THEN 'ok 1' ELSE '42501' END
  FROM callers c,
       (VALUES ('geo_import_settle', $$SELECT public.geo_import_settle((SELECT import_log_id FROM imports WHERE file = 'f1'))$$),
               ('geo_import_reap', $$SELECT public.geo_import_reap()$$),
               ('geo_import_attach_project_files', $$SELECT public.geo_import_attach_project_files()$$))
         AS f(fn, sql);

-- Direct writes to each table.
INSERT INTO matrix
SELECT c.caller, w.what, w.sql, CASE WHEN c.caller = 'owner' THEN w.owner_result ELSE '42501' END
  FROM callers c,
       (VALUES
         ('inserts into import_logs',
          $$INSERT INTO public.import_logs (project_file_id, status) VALUES ('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', 'completed')$$, 'ok 1'),
         ('updates import_logs', $$UPDATE public.import_logs SET status = 'failed' WHERE id IN (SELECT import_log_id FROM imports)$$, 'ok 2'),
         ('deletes from import_logs', $$DELETE FROM public.import_logs WHERE id IN (SELECT import_log_id FROM imports)$$, 'ok 2'),
         ('truncates import_logs', $$TRUNCATE public.import_logs$$, 'ok 0'),
         ('inserts into feature_collections',
          $$INSERT INTO public.feature_collections (project_file_id, name, source_srid, srid)
            VALUES ('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', 'x', 4326, 4326)$$, 'ok 1'),
         ('updates feature_collections', $$UPDATE public.feature_collections SET name = 'x' WHERE id IN (SELECT collection_id FROM imports)$$, 'ok 2'),
         ('deletes from feature_collections', $$DELETE FROM public.feature_collections WHERE id IN (SELECT collection_id FROM imports)$$, 'ok 2'),
         ('truncates feature_collections', $$TRUNCATE public.feature_collections CASCADE$$, 'ok 0'),
         ('inserts into layers',
          $$INSERT INTO public.layers (collection_id, project_file_id, name, srid)
            VALUES ((SELECT collection_id FROM imports WHERE file = 'f1'), 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', 'x', 4326)$$, 'ok 1'),
         ('updates layers', $$UPDATE public.layers SET name = 'x' WHERE id IN (SELECT layer_id FROM imports)$$, 'ok 2'),
         ('deletes from layers', $$DELETE FROM public.layers WHERE id IN (SELECT layer_id FROM imports)$$, 'ok 2'),
         ('truncates layers', $$TRUNCATE public.layers CASCADE$$, 'ok 0'),
         ('inserts into geo_features',
          $$INSERT INTO public.geo_features (layer_id, collection_id, feature_index)
            VALUES ((SELECT layer_id FROM imports WHERE file = 'f1'), (SELECT collection_id FROM imports WHERE file = 'f1'), 9)$$, 'ok 1'),
         ('updates geo_features', $$UPDATE public.geo_features SET properties = '{}' WHERE layer_id IN (SELECT layer_id FROM imports)$$, 'ok 5'),
         ('deletes from geo_features', $$DELETE FROM public.geo_features WHERE layer_id IN (SELECT layer_id FROM imports)$$, 'ok 5'),
         ('truncates geo_features', $$TRUNCATE public.geo_features$$, 'ok 0'),
         ('draws from the feature id sequence', $$SELECT pg_catalog.nextval('public.geo_features_id_seq')$$, 'ok 1'))
         AS w(what, sql, owner_result);

SELECT plan((SELECT count(*)::int FROM matrix) + 11);

-- The setting the matrix is meant for ------------------------------------------
SELECT set_has(
  $$SELECT a.grantee::regrole::text, d.defaclobjtype::text
      FROM pg_default_acl d, aclexplode(d.defaclacl) a
     WHERE d.defaclnamespace = 'public'::regnamespace AND a.privilege_type = 'INSERT'$$,
  $$VALUES ('anon', 'r'), ('authenticated', 'r'), ('service_role', 'r')$$,
  'the database has Supabase''s default privileges in public (ALL on new tables to the API roles)');
SELECT is((SELECT count(*)::int FROM imports WHERE status = 'completed'), 2,
          'the two imports of the matrix completed');
SELECT is((SELECT relowner::regrole::text FROM pg_class WHERE oid = 'public.import_logs'::regclass),
          (SELECT extowner::regrole::text FROM pg_extension WHERE extname = 'geo_import'),
          'the tables'' owner is the role that created the extension');

-- The matrix ---------------------------------------------------------------------
SELECT is(pg_temp.probe(c.role, c.sub, m.sql), m.expected,
          format('%s %s: %s', m.caller, m.what, m.expected))
  FROM matrix m JOIN callers c USING (caller)
 ORDER BY m.what, c.ord;

-- What a member reads is exactly their project's --------------------------------
SELECT is(pg_temp.probe('authenticated', 'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa',
            $$SELECT * FROM public.import_logs WHERE project_file_id <> 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1'$$),
          'ok 0', 'member reads no log of another project''s file');
SELECT is(pg_temp.probe('authenticated', 'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa',
            $$SELECT * FROM public.geo_features f JOIN public.layers l ON l.id = f.layer_id
               WHERE l.project_file_id <> 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1'$$),
          'ok 0', 'member reads no feature of another project''s file');
SELECT is(pg_temp.probe('authenticated', 'bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb',
            $$SELECT * FROM public.geo_features WHERE layer_id IN (SELECT layer_id FROM imports)$$),
          'ok 3', 'the member of project 2 reads the 3 features of its import, none of project 1''s');
SELECT is(pg_temp.probe('authenticated', 'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa',
            $$SELECT * FROM public.import_logs WHERE id IN (SELECT import_log_id FROM imports)$$, p_legacy => true),
          'ok 1', 'a member named by request.jwt.claim.sub (older PostgREST) reads their project''s log');

-- An import by a member is readable by that member only ---------------------------
SET LOCAL request.jwt.claims = '{"sub":"aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa","role":"authenticated"}';
SET LOCAL ROLE authenticated;
CREATE TEMP TABLE member_import AS
  SELECT * FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{"type":"Point","coordinates":[1,1]}');
RESET ROLE;
GRANT SELECT ON member_import TO PUBLIC;
SELECT is(pg_temp.probe('authenticated', 'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa',
            $$SELECT * FROM public.geo_features WHERE layer_id = (SELECT layer_id FROM member_import)$$),
          'ok 1', 'a member reads the feature of the import they just made');
SELECT is(pg_temp.probe('authenticated', 'bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb',
            $$SELECT * FROM public.import_logs WHERE id = (SELECT import_log_id FROM member_import)$$),
          'ok 0', 'the member of another project does not read its log');

-- An API role cannot switch the protection off ------------------------------------
SELECT is(pg_temp.probe('service_role', NULL, 'ALTER TABLE public.import_logs DISABLE ROW LEVEL SECURITY'),
          '42501', 'service_role cannot disable RLS on import_logs');
SELECT is(pg_temp.probe('authenticated', 'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa',
            $$ALTER POLICY "Users can view import logs for their projects" ON public.import_logs USING (true)$$),
          '42501', 'authenticated cannot widen the import_logs policy');

SELECT * FROM finish();
ROLLBACK;
