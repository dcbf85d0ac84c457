-- Who may import: calls made the PostgREST way (one transaction, SET LOCAL
-- ROLE, request.jwt.claims).
\set member_claims '{"sub":"aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa","role":"authenticated"}'
\set other_claims '{"sub":"bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb","role":"authenticated"}'
\set point '{"type":"FeatureCollection","features":[{"type":"Feature","id":1,"properties":{"name":"a"},"geometry":{"type":"Point","coordinates":[8.5,47.4]}}]}'

-- A member of project 1 imports into its file f1.
BEGIN;
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', :'member_claims', true) IS NOT NULL AS claims_set;
SELECT status, total_features, imported_count, failed_count, repaired_count, error_summary
  FROM import_geojson(file_id => 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', payload => :'point',
                      options => '{"collection_name":"member import"}');
COMMIT;
-- The member reads back the import, and its log, through RLS.
BEGIN;
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', :'member_claims', true) IS NOT NULL AS claims_set;
SELECT l.status, l.imported_count, c.name, f.feature_id, f.properties, ST_AsText(f.geom)
  FROM test_last_log() l
  JOIN feature_collections c ON c.id = l.collection_id
  JOIN geo_features f ON f.collection_id = c.id;
COMMIT;

-- A member of project 2 may not import into f1: 42501, nothing written.
BEGIN;
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', :'other_claims', true) IS NOT NULL AS claims_set;
SELECT test_error($$SELECT * FROM import_geojson(file_id => 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', payload => '{"type":"Point","coordinates":[1,2]}')$$);
-- ...and sees nothing of project 1's imports.
SELECT count(*) AS visible_logs FROM import_logs;
SELECT count(*) AS visible_features FROM geo_features;
COMMIT;
SELECT * FROM test_row_counts();

-- anon is refused.
BEGIN;
SET LOCAL ROLE anon;
SELECT set_config('request.jwt.claims', '{"role":"anon"}', true) IS NOT NULL AS claims_set;
SELECT test_error($$SELECT * FROM import_geojson(file_id => 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', payload => '{"type":"Point","coordinates":[1,2]}')$$);
SELECT count(*) AS visible_logs FROM import_logs;
COMMIT;

-- An authenticated call without claims is refused.
BEGIN;
SET LOCAL ROLE authenticated;
SELECT test_error($$SELECT * FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{"type":"Point","coordinates":[1,2]}')$$);
COMMIT;

-- service_role (BYPASSRLS) imports into any existing file.
BEGIN;
SET LOCAL ROLE service_role;
SELECT set_config('request.jwt.claims', '{"role":"service_role"}', true) IS NOT NULL AS claims_set;
SELECT status, imported_count FROM import_geojson('f2f2f2f2-f2f2-f2f2-f2f2-f2f2f2f2f2f2', '{"type":"Point","coordinates":[1,2]}');
COMMIT;

-- An unknown file is refused, even for a privileged role.
SELECT test_error($$SELECT * FROM import_geojson('00000000-0000-0000-0000-000000000000', '{"type":"Point","coordinates":[1,2]}')$$);

-- update_import_progress is not for API roles.
SET ROLE authenticated;
SELECT test_error($$SELECT update_import_progress(gen_random_uuid(), 1, 0)$$);
SET ROLE anon;
SELECT test_error($$SELECT update_import_progress(gen_random_uuid(), 1, 0)$$);
RESET ROLE;

SELECT * FROM test_row_counts();
