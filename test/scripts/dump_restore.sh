#!/usr/bin/env bash
# pg_dump of a database with imports, restored into an empty database, keeps
# every row of the extension's four tables, the feature id sequence, the
# partition a large import's layer has of its own, and the cascade from
# project_files (SPEC §2). Needs the cluster environment
# (PGHOST, PGPORT, PGUSER) that scripts/test.sh exports.
set -euo pipefail
cd "$(dirname "$0")/../.."

source_db=geo_import_dump_source
target_db=geo_import_dump_target
dump_file=$(mktemp /tmp/geo_import_dump.XXXXXX)
trap 'rm -f "$dump_file"' EXIT

psql_quiet() { psql -X -q -v ON_ERROR_STOP=1 -v client_min_messages=warning "$@"; }
fail() { echo "not ok - $*"; exit 1; }

echo "1..7"
for db in "$source_db" "$target_db"; do
  psql_quiet -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" 2>/dev/null
done
psql_quiet -d "$source_db" -f test/fixtures/supabase.sql -f test/fixtures/seed.sql \
  -c "SET client_min_messages = warning" -c "CREATE EXTENSION geo_import CASCADE"
# Two imports as a project member, the PostgREST way, one of them repaired;
# the second counts as large (geo_import.layer_table_threshold), so its
# layer is a partition of its own.
for file in f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1 f2f2f2f2-f2f2-f2f2-f2f2-f2f2f2f2f2f2; do
  member=$([ "$file" = f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1 ] && echo aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa || echo bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb)
  threshold=$([ "$file" = f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1 ] && echo 10000 || echo 2)
  psql_quiet -d "$source_db" >/dev/null <<SQL
BEGIN;
SET LOCAL geo_import.layer_table_threshold = $threshold;
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"sub":"$member","role":"authenticated"}', true);
SELECT status FROM import_geojson('$file', '{"type":"FeatureCollection","features":[
  {"type":"Feature","id":"a","properties":{"n":1},"geometry":{"type":"Point","coordinates":[1,2]}},
  {"type":"Feature","id":"b","properties":{"n":2},"geometry":{"type":"Polygon","coordinates":[[[0,0],[2,2],[2,0],[0,2],[0,0]]]}}]}');
COMMIT;
SQL

done

snapshot() {
  psql -X -At -d "$1" -c "
    SELECT 'import_logs', count(*), md5(string_agg(id::text || status || imported_count || coalesce(metadata::text, ''), ',' ORDER BY id)) FROM import_logs
    UNION ALL SELECT 'feature_collections', count(*), md5(string_agg(id::text || name, ',' ORDER BY id)) FROM feature_collections
    UNION ALL SELECT 'layers', count(*), md5(string_agg(id::text || collection_id::text, ',' ORDER BY id)) FROM layers
    UNION ALL SELECT 'geo_features', count(*), md5(string_agg(id || layer_id::text || coalesce(feature_id, '') || properties::text || ST_AsEWKT(geom), ',' ORDER BY id)) FROM geo_features"
}

# The logs are settled by the imports' progress workers just after commit.
for _ in $(seq 100); do
  [ "$(psql -X -At -d "$source_db" -c "SELECT count(*) FROM import_logs WHERE status IN ('started', 'processing')")" = 0 ] && break
  sleep 0.1
done
before=$(snapshot "$source_db")
pg_dump -Fc -d "$source_db" -f "$dump_file"
restore_log=$(pg_restore -d "$target_db" "$dump_file" 2>&1) || true
echo "$restore_log" | sed 's/^/# pg_restore: /'
after=$(snapshot "$target_db")

passed=0
check() {
  if [ "$2" = "$3" ]; then echo "ok - $1"; passed=$((passed + 1)); else echo "not ok - $1"; echo "#   expected: $2"; echo "#   got:      $3"; failed=1; fi
}
failed=0
check "the four tables hold the same rows after pg_dump/pg_restore" "$before" "$after"
# Expected, and ignored by pg_restore: the publication CREATE EXTENSION
# already made, and the large layer's two indexes, which PostgreSQL built
# when pg_restore attached the table to the extension's geo_features.
check "restore reported no error but the publication and the large layer's indexes already made" "" \
  "$(echo "$restore_log" | grep -E 'error:' | grep -v 'publication "supabase_realtime" already exists' \
       | grep -v 'multiple primary keys for table "layer_ffffffff[0-9a-f]*" are not allowed' \
       | grep -v 'relation "layer_ffffffff[0-9a-f]*_geom_idx" already exists' || true)"
check "import_logs is still in supabase_realtime" "1" \
  "$(psql -X -At -d "$target_db" -c "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'supabase_realtime' AND tablename = 'import_logs'")"

own_partition="SELECT c.relname, pg_get_expr(c.relpartbound, c.oid),
    (SELECT string_agg(ip.inhparent::regclass::text, ',' ORDER BY ip.inhparent::regclass::text) FROM pg_index i
       JOIN pg_inherits ip ON ip.inhrelid = i.indexrelid WHERE i.indrelid = c.oid)
  FROM pg_class c JOIN layers l ON c.relname = 'layer_' || replace(l.id::text, '-', '')
 WHERE l.project_file_id = 'f2f2f2f2-f2f2-f2f2-f2f2-f2f2f2f2f2f2' AND c.relispartition"
partition_before=$(psql -X -At -d "$source_db" -c "$own_partition")
check "before the dump the large import's layer is a partition of its own, with both indexes" \
  "geo_features_geom_idx,geo_features_pkey" "$(echo "$partition_before" | cut -d'|' -f3)"
check "after restore it still is, with the same bounds and indexes" \
  "$partition_before" "$(psql -X -At -d "$target_db" -c "$own_partition")"

# A new import after restore continues the feature id sequence.
psql_quiet -d "$target_db" -c "SELECT status FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{\"type\":\"Point\",\"coordinates\":[5,5]}')" >/dev/null
check "feature ids keep growing after restore" "5" "$(psql -X -At -d "$target_db" -c "SELECT count(DISTINCT id) FROM geo_features")"

# Deleting a project file still removes its imports (the cascade survived).
psql_quiet -d "$target_db" -c "DELETE FROM project_files WHERE id = 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1'"
check "deleting a file after restore removes its logs, collections, layers, features" "0|0|0|0|2" \
  "$(psql -X -At -d "$target_db" -c "SELECT (SELECT count(*) FROM import_logs WHERE project_file_id = 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1'),
    (SELECT count(*) FROM feature_collections WHERE project_file_id = 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1'),
    (SELECT count(*) FROM layers WHERE project_file_id = 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1'),
    (SELECT count(*) FROM geo_features f JOIN layers l ON l.id = f.layer_id WHERE l.project_file_id = 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1'),
    (SELECT count(*) FROM geo_features)" | tr '\n' ' ' | sed 's/ $//')"

for db in "$source_db" "$target_db"; do psql_quiet -d postgres -c "DROP DATABASE $db"; done
[ "$failed" -eq 0 ]
