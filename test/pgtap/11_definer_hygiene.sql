-- SECURITY DEFINER hygiene (ISSUE 6.2, SPEC §2): every SECURITY DEFINER
-- function of geo_import pins its search_path and qualifies the names it
-- uses, so objects a caller plants earlier in their own search_path — a
-- function or an operator with the name of one the function uses, a pg_temp
-- table with the name of a table it reads — change nothing it does.
--
-- The plants: schema `evil`, first in the caller's search_path (ahead of
-- pg_catalog), with functions and operators named like the ones the
-- extension uses, each recording its call in evil.calls and lying (a `=` on
-- uuid that is always true, a current_setting that names a project member,
-- a `>=` on integers that is always false, ...); tables named like the
-- extension's and the application's in evil and in pg_temp (which PostgreSQL
-- searches first for tables), claiming that the non-member belongs to
-- project 1; and pg_temp tables named like the triggers' transition tables.
--
-- The plants would fool pgTAP itself (its functions use unqualified
-- operators), so each statement under test runs through pg_temp.as_caller()
-- with the planted search_path, and the assertions run with the normal one.
BEGIN;
SET LOCAL geo_import.live_progress = off;
SET LOCAL client_min_messages = warning;
SELECT plan(40);

-- Static checks ------------------------------------------------------------------------
CREATE TEMP VIEW definers AS
  SELECT p.oid, p.oid::regprocedure::text AS name, l.lanname, p.prosrc, p.proconfig
    FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid JOIN pg_language l ON l.oid = p.prolang
   WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
     AND d.refclassid = 'pg_extension'::regclass
     AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'geo_import')
     AND p.prosecdef;

SELECT set_eq($$SELECT name FROM definers$$,
  $$VALUES ('geo_import_is_project_member(uuid)'), ('geo_import_delete_layer_features()'),
           ('geo_import_forget_project_file()'), ('geo_import_attach_project_files()'),
           ('update_import_progress(uuid,integer,integer,uuid,uuid,jsonb)'),
           ('geo_import_settle(uuid,text)'), ('geo_import_reap()'), ('import_geojson(uuid,json,jsonb)')$$,
  'the SECURITY DEFINER functions of geo_import are the eight this file covers');
SELECT is_empty(
  $$SELECT name, proconfig FROM definers
     WHERE proconfig IS NULL OR NOT 'search_path=pg_catalog, pg_temp' = ANY (proconfig)$$,
  'every one pins search_path to exactly pg_catalog, pg_temp (pg_temp last: never first for tables)');
-- With that search_path an unqualified function or operator can only be
-- pg_catalog's (pg_temp is never searched for them), and an unqualified table
-- name that is not pg_catalog's would be looked up in pg_temp: so no SQL body
-- may name a table, or a function of the extension, without its schema.
-- Comments and string literals aside; NEW/OLD/transition tables are not tables.
SELECT is_empty(
  $$SELECT name, m[1] FROM definers,
           regexp_matches(regexp_replace(regexp_replace(prosrc, '--[^\n]*', '', 'g'), '''[^'']*''', '''''', 'g'),
                          '(?<![.\w"])(import_logs|feature_collections|layers|geo_features|project_files|project_members|projects|spatial_ref_sys|geo_import_\w+|update_import_progress|import_geojson)\M',
                          'g') AS m
     WHERE lanname IN ('plpgsql', 'sql')$$,
  'no SQL SECURITY DEFINER body names a table or extension function without its schema');
SELECT is_empty(
  $$SELECT name FROM definers WHERE lanname NOT IN ('plpgsql', 'sql', 'c')$$,
  'the SECURITY DEFINER functions are SQL, PL/pgSQL or C (the C one is tested by behaviour below)');

-- The plants ------------------------------------------------------------------------------
CREATE SCHEMA evil;
GRANT USAGE ON SCHEMA evil TO PUBLIC;
CREATE TABLE evil.calls (fn text);
GRANT INSERT, SELECT ON evil.calls TO PUBLIC;

CREATE FUNCTION evil.current_setting(text, boolean) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO evil.calls VALUES ('current_setting');
  RETURN '{"sub":"aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa","role":"authenticated"}';
END $$;
CREATE FUNCTION evil.to_regclass(text) RETURNS regclass LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('to_regclass'); RETURN NULL; END $$;
CREATE FUNCTION evil.has_table_privilege(regclass, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('has_table_privilege'); RETURN false; END $$;
CREATE FUNCTION evil.gen_random_uuid() RETURNS uuid LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('gen_random_uuid'); RETURN '00000000-0000-0000-0000-000000000000'; END $$;
CREATE FUNCTION evil.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('clock_timestamp'); RETURN '2000-01-01'; END $$;
CREATE FUNCTION evil.hashtext(text) RETURNS integer LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('hashtext'); RETURN 0; END $$;
CREATE FUNCTION evil.pg_try_advisory_xact_lock(integer, integer) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('pg_try_advisory_xact_lock'); RETURN false; END $$;
CREATE FUNCTION evil.pg_xact_status(xid8) RETURNS text LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('pg_xact_status'); RETURN 'committed'; END $$;
CREATE FUNCTION evil.st_geomfromewkb(bytea) RETURNS geometry LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('st_geomfromewkb'); RETURN NULL; END $$;
CREATE FUNCTION evil.st_transform(geometry, integer) RETURNS geometry LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('st_transform'); RETURN NULL; END $$;
-- Same names as the extension's own functions, in a schema searched first.
CREATE FUNCTION evil.geo_import_is_project_member(uuid) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('geo_import_is_project_member'); RETURN true; END $$;
CREATE FUNCTION evil.geo_import_caller_uid() RETURNS uuid LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('geo_import_caller_uid'); RETURN 'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa'; END $$;
CREATE FUNCTION evil.update_import_progress(uuid, integer, integer, uuid, uuid, jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('update_import_progress'); END $$;
CREATE FUNCTION evil.geo_import_attach_project_files() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('geo_import_attach_project_files'); RETURN true; END $$;

-- Operators: uuid equality that always holds, integer comparisons that lie.
CREATE FUNCTION evil.uuid_eq(uuid, uuid) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('= (uuid)'); RETURN true; END $$;
CREATE OPERATOR evil.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = evil.uuid_eq);
CREATE FUNCTION evil.text_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('= (text)'); RETURN true; END $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_eq);
CREATE FUNCTION evil.int_ge(integer, integer) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('>= (integer)'); RETURN false; END $$;
CREATE OPERATOR evil.>= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.int_ge);
CREATE FUNCTION evil.int_lt(integer, integer) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('< (integer)'); RETURN true; END $$;
CREATE OPERATOR evil.< (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.int_lt);
CREATE FUNCTION evil.int_plus(integer, integer) RETURNS integer LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('+ (integer)'); RETURN 0; END $$;
CREATE OPERATOR evil.+ (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.int_plus);
CREATE FUNCTION evil.jsonb_concat(jsonb, jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('|| (jsonb)'); RETURN '{}'; END $$;
CREATE OPERATOR evil.|| (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = evil.jsonb_concat);

-- Tables: the non-member cccccccc… belongs to project 1, per these.
CREATE TABLE evil.project_files (id uuid, project_id uuid);
CREATE TABLE evil.project_members (project_id uuid, user_id uuid);
INSERT INTO evil.project_files VALUES ('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '11111111-1111-1111-1111-111111111111');
INSERT INTO evil.project_members VALUES ('11111111-1111-1111-1111-111111111111', 'cccccccc-cccc-cccc-cccc-cccccccccccc');
CREATE TEMP TABLE project_files (id uuid, project_id uuid);
CREATE TEMP TABLE project_members (project_id uuid, user_id uuid);
INSERT INTO pg_temp.project_files SELECT * FROM evil.project_files;
INSERT INTO pg_temp.project_members SELECT * FROM evil.project_members;
-- Tables named like the extension's, and like the triggers' transition tables.
CREATE TEMP TABLE import_logs (LIKE public.import_logs);
CREATE TEMP TABLE feature_collections (LIKE public.feature_collections);
CREATE TEMP TABLE layers (LIKE public.layers);
CREATE TEMP TABLE geo_features (LIKE public.geo_features);
CREATE TEMP TABLE spatial_ref_sys (srid integer);
CREATE TEMP TABLE deleted_layers (id uuid);
CREATE TEMP TABLE deleted_files (id uuid);
GRANT ALL ON ALL TABLES IN SCHEMA evil TO PUBLIC;
GRANT ALL ON pg_temp.project_files, pg_temp.project_members, pg_temp.import_logs, pg_temp.feature_collections,
  pg_temp.layers, pg_temp.geo_features, pg_temp.spatial_ref_sys, pg_temp.deleted_layers, pg_temp.deleted_files
  TO PUBLIC;

-- Runs `sql` with the caller's planted search_path (evil first, ahead of
-- pg_catalog), as `role` with JWT claims naming `sub` (role NULL: as the
-- owner, the session's superuser), and returns 'ok <first column>' or the
-- SQLSTATE it raised. What it did stays (unless it raised).
CREATE FUNCTION pg_temp.as_caller(p_role text, p_sub text, p_sql text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  v_path text := pg_catalog.current_setting('search_path');
  v_result text;
BEGIN
  BEGIN
    IF p_role IS NOT NULL THEN
      PERFORM pg_catalog.set_config('request.jwt.claims',
        pg_catalog.format('{"sub":"%s","role":"%s"}', p_sub, p_role), true);
      PERFORM pg_catalog.set_config('role', p_role, true);
    END IF;
    PERFORM pg_catalog.set_config('search_path', 'evil, pg_catalog, public', true);
    EXECUTE p_sql INTO v_result;
    PERFORM pg_catalog.set_config('search_path', v_path, true);
    PERFORM pg_catalog.set_config('role', 'none', true);
    PERFORM pg_catalog.set_config('request.jwt.claims', '', true);
    RETURN pg_catalog.concat('ok ', v_result);
  EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
  END;
END
$$;

-- The plants work where nothing guards against them: in the caller's own queries.
SELECT is(pg_temp.as_caller(NULL, NULL,
            $$SELECT 'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa'::uuid = 'cccccccc-cccc-cccc-cccc-cccccccccccc'::uuid$$),
          'ok true', 'sanity: in the caller''s own query the planted uuid = holds for two different uuids');
SELECT is(pg_temp.as_caller(NULL, NULL,
            $$SELECT count(*) FROM project_members WHERE user_id OPERATOR(pg_catalog.=) 'cccccccc-cccc-cccc-cccc-cccccccccccc'$$),
          'ok 1', 'sanity: in the caller''s own query project_members is the planted pg_temp table');
SELECT is(pg_temp.as_caller(NULL, NULL, $$SELECT current_setting('request.jwt.claims', true)$$),
          'ok {"sub":"aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa","role":"authenticated"}',
          'sanity: in the caller''s own query current_setting is the planted one');
-- A control: the membership check written without the hygiene (no pinned
-- search_path, unqualified names) is fooled by the same plants.
CREATE FUNCTION public.test_unhygienic_is_member(p_file uuid) RETURNS boolean
LANGUAGE sql SECURITY DEFINER AS $$
  SELECT EXISTS (SELECT 1 FROM project_files f JOIN project_members m ON m.project_id = f.project_id
                  WHERE f.id = p_file
                    AND m.user_id = (current_setting('request.jwt.claims', true)::jsonb ->> 'sub')::uuid)
$$;
GRANT EXECUTE ON FUNCTION public.test_unhygienic_is_member(uuid) TO PUBLIC;
SELECT is(pg_temp.as_caller('authenticated', 'cccccccc-cccc-cccc-cccc-cccccccccccc',
            $$SELECT public.test_unhygienic_is_member('f2f2f2f2-f2f2-f2f2-f2f2-f2f2f2f2f2f2')$$),
          'ok true', 'control: a SECURITY DEFINER check without the hygiene is fooled by the plants');
DELETE FROM evil.calls;

-- import_geojson ---------------------------------------------------------------------------
SELECT is(pg_temp.as_caller('authenticated', 'cccccccc-cccc-cccc-cccc-cccccccccccc',
            $$SELECT status FROM public.import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{"type":"Point","coordinates":[1,2]}')$$),
          '42501', 'a non-member with the plants still may not import into project 1''s file');
CREATE TEMP TABLE member_call AS
SELECT pg_temp.as_caller('authenticated', 'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa',
  $$SELECT pg_catalog.row_to_json(r)::text FROM public.import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1',
    '{"type":"FeatureCollection","features":[
      {"type":"Feature","id":"a","properties":{"n":1},"geometry":{"type":"Point","coordinates":[1,2]}},
      {"type":"Feature","id":"b","properties":{"n":2},"geometry":{"type":"Polygon","coordinates":[[[0,0],[2,2],[2,0],[0,2],[0,0]]]}}]}',
    '{"target_srid": 3857}') r$$) AS result;
SELECT matches((SELECT result FROM member_call), '^ok \{', 'a member''s import with the plants in place succeeds');
CREATE TEMP TABLE member_import AS
  SELECT (j ->> 'import_log_id')::uuid AS import_log_id, (j ->> 'collection_id')::uuid AS collection_id,
         (j ->> 'layer_id')::uuid AS layer_id, j
    FROM (SELECT CASE WHEN result LIKE 'ok {%' THEN substr(result, 4)::jsonb END AS j FROM member_call) c;
SELECT is((SELECT j - 'import_log_id' - 'collection_id' - 'layer_id' FROM member_import),
          '{"status": "completed", "total_features": 2, "imported_count": 2, "failed_count": 0,
            "repaired_count": 1, "error_summary": null}'::jsonb,
          'it completes with the right counts (one feature repaired)');
SELECT is(pg_temp.as_caller('authenticated', 'cccccccc-cccc-cccc-cccc-cccccccccccc',
            $$SELECT count(*) FROM public.import_logs$$),
          'ok 0', 'a non-member with the plants reads no log (the RLS policy is not fooled)');
SELECT is(pg_temp.as_caller('authenticated', 'cccccccc-cccc-cccc-cccc-cccccccccccc',
            $$SELECT count(*) FROM public.geo_features$$),
          'ok 0', 'a non-member with the plants reads no feature');
SELECT is((SELECT row(l.status, l.imported_count, l.project_file_id)::text FROM public.import_logs l
            WHERE l.id = (SELECT import_log_id FROM member_import)),
          row('completed', 2, 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1'::uuid)::text,
          'its log is in public.import_logs, completed');
SELECT is((SELECT count(*)::int FROM public.geo_features f
            WHERE f.layer_id = (SELECT layer_id FROM member_import) AND public.st_srid(f.geom) = 3857),
          2, 'its two features are in public.geo_features, reprojected by PostGIS''s own st_transform');
SELECT isnt((SELECT collection_id FROM member_import), '00000000-0000-0000-0000-000000000000'::uuid,
            'its ids come from pg_catalog.gen_random_uuid, not the planted one');
SELECT is((SELECT count(*)::int FROM pg_temp.import_logs) + (SELECT count(*)::int FROM pg_temp.feature_collections)
          + (SELECT count(*)::int FROM pg_temp.layers) + (SELECT count(*)::int FROM pg_temp.geo_features),
          0, 'nothing was written to the pg_temp look-alike tables');
SELECT is((SELECT string_agg(DISTINCT fn, ', ') FROM evil.calls), NULL,
          'no planted function or operator was called by the import');

-- update_import_progress (owner), with the lying integer operators in the path -------------
INSERT INTO public.import_logs (id, project_file_id, status, total_features) VALUES
  ('00000000-0000-0000-0000-0000000000e1', 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', 'started', 3);
SELECT is(pg_temp.as_caller(NULL, NULL, $$SELECT public.update_import_progress('00000000-0000-0000-0000-0000000000e1', 1, 0)$$),
          'ok ', 'update_import_progress runs with the plants in the path');
SELECT is((SELECT row(status, imported_count)::text FROM public.import_logs
            WHERE id = '00000000-0000-0000-0000-0000000000e1'),
          row('processing', 1)::text, 'progress 1 of 3 is processing (the planted >= and + were not used)');
SELECT is(pg_temp.as_caller(NULL, NULL, $$SELECT public.update_import_progress('00000000-0000-0000-0000-0000000000e1', 2, 1,
                              p_metadata => '{"k": 1}')$$),
          'ok ', 'the last update');
SELECT is((SELECT row(status, imported_count, failed_count, metadata)::text FROM public.import_logs
            WHERE id = '00000000-0000-0000-0000-0000000000e1'),
          row('completed', 2, 1, '{"k": 1}'::jsonb)::text, 'progress 3 of 3 completes');
SELECT is(pg_temp.as_caller(NULL, NULL, $$SELECT public.update_import_progress('00000000-0000-0000-0000-0000000000e1', -1, 0)$$),
          '22023', 'a negative count is still refused (the planted < was not used)');
SELECT ok((SELECT updated_at > '2000-01-02'::timestamptz FROM public.import_logs
            WHERE id = '00000000-0000-0000-0000-0000000000e1'),
          'the updated_at trigger used pg_catalog.clock_timestamp, not the planted one');

-- geo_import_settle and geo_import_reap (owner) ------------------------------------------------
INSERT INTO public.import_logs (id, project_file_id, status, total_features, import_xid) VALUES
  ('00000000-0000-0000-0000-0000000000e2', 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', 'processing', 3,
   pg_current_xact_id());
SELECT is(pg_temp.as_caller(NULL, NULL, $$SELECT public.geo_import_settle('00000000-0000-0000-0000-0000000000e2')$$),
          'ok processing', 'geo_import_settle leaves a log whose import (this transaction) still runs alone');
SELECT is(pg_temp.as_caller(NULL, NULL, $$SELECT public.geo_import_reap()$$),
          'ok 0', 'geo_import_reap settles nothing that still runs');
SELECT is(pg_temp.as_caller(NULL, NULL, $$SELECT public.geo_import_settle('00000000-0000-0000-0000-0000000000e1')$$),
          'ok completed', 'geo_import_settle leaves a completed log as it is');
SELECT is((SELECT string_agg(DISTINCT fn, ', ') FROM evil.calls), NULL,
          'no planted function or operator was called by the progress functions');

-- The triggers -------------------------------------------------------------------------------
-- A second import (project 2), so that there is something to keep.
CREATE TEMP TABLE other_import AS
  SELECT * FROM public.import_geojson('f2f2f2f2-f2f2-f2f2-f2f2-f2f2f2f2f2f2',
    '{"type":"MultiPoint","coordinates":[[1,2],[3,4]]}');
INSERT INTO pg_temp.deleted_layers SELECT layer_id FROM other_import;
INSERT INTO pg_temp.deleted_files VALUES ('f2f2f2f2-f2f2-f2f2-f2f2-f2f2f2f2f2f2');
SELECT is(pg_temp.as_caller(NULL, NULL, format(
            $$WITH d AS (DELETE FROM public.layers WHERE id OPERATOR(pg_catalog.=) %L RETURNING 1) SELECT count(*) FROM d$$,
            (SELECT layer_id FROM member_import))),
          'ok 1', 'the member''s layer is deleted, with the plants in the path');
SELECT is((SELECT count(*)::int FROM public.geo_features WHERE layer_id = (SELECT layer_id FROM member_import)),
          0, 'deleting a layer removes its features ...');
SELECT is((SELECT count(*)::int FROM public.geo_features WHERE layer_id = (SELECT layer_id FROM other_import)),
          1, '... and not those of the layer named in a pg_temp table called deleted_layers');
SELECT is(pg_temp.as_caller(NULL, NULL,
            $$WITH d AS (DELETE FROM public.project_files WHERE id OPERATOR(pg_catalog.=) 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1' RETURNING 1)
              SELECT count(*) FROM d$$),
          'ok 1', 'project file f1f1… is deleted, with the plants in the path');
SELECT is((SELECT count(*)::int FROM public.import_logs WHERE project_file_id = 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1'),
          0, 'deleting a project file removes its logs ...');
SELECT is((SELECT count(*)::int FROM public.feature_collections WHERE project_file_id = 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1'),
          0, '... and its collections ...');
SELECT is((SELECT count(*)::int FROM public.import_logs WHERE project_file_id = 'f2f2f2f2-f2f2-f2f2-f2f2-f2f2f2f2f2f2')
          + (SELECT count(*)::int FROM public.geo_features WHERE layer_id = (SELECT layer_id FROM other_import)),
          2, '... and not those of the file named in a pg_temp table called deleted_files');
SELECT is(pg_temp.as_caller(NULL, NULL, $$SELECT public.geo_import_attach_project_files()$$),
          'ok true', 'geo_import_attach_project_files finds its trigger on public.project_files ...');
SELECT is((SELECT count(*)::int FROM pg_trigger
            WHERE tgname = 'geo_import_forget_project_file' AND tgrelid = 'pg_temp.project_files'::regclass),
          0, '... and attaches nothing to the pg_temp look-alike');
SELECT is((SELECT string_agg(DISTINCT fn, ', ') FROM evil.calls), NULL,
          'no planted function or operator was called by the triggers');

-- An overload planted next to the extension's function, in its own schema ------------------------
CREATE FUNCTION public.geo_import_is_project_member(p_project_file_id text) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN INSERT INTO evil.calls VALUES ('public overload'); RETURN true; END $$;
GRANT EXECUTE ON FUNCTION public.geo_import_is_project_member(text) TO PUBLIC;
SELECT is(pg_temp.as_caller('authenticated', 'cccccccc-cccc-cccc-cccc-cccccccccccc',
            $$SELECT status FROM public.import_geojson('f2f2f2f2-f2f2-f2f2-f2f2-f2f2f2f2f2f2', '{"type":"Point","coordinates":[1,2]}')$$),
          '42501', 'an overload geo_import_is_project_member(text) in public does not let a non-member import');
SELECT is((SELECT string_agg(DISTINCT fn, ', ') FROM evil.calls), NULL, 'the planted overload was not called');

SELECT * FROM finish();
ROLLBACK;
