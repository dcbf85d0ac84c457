#!/usr/bin/env bash
# Load (ISSUE 6.4): 50 imports, 8 at a time, each a PostgREST-style request
# (BEGIN; role settings, SET LOCAL ROLE, JWT claims; import_geojson; COMMIT)
# into 4 files of 2 projects, as the file's project member or as
# service_role, with the live-progress worker on. Checks exact counts for
# every import and in total, that they ran concurrently, and that no
# deadlock (or any other error) happened. TAP output; exits non-zero on
# failure. Needs the cluster environment (PGHOST, PGPORT, PGUSER) that
# scripts/test.sh exports; GEO_IMPORT_CLUSTER_LOG, when set, is searched too.
#
#   LOAD_IMPORTS=50 LOAD_PARALLEL=8 test/scripts/load.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD

DB=${LOAD_DB:-geo_import_load}
IMPORTS=${LOAD_IMPORTS:-50}
PARALLEL=${LOAD_PARALLEL:-8}
WORK=$(mktemp -d /tmp/geo_import_load.XXXXXX)
trap 'rm -rf "$WORK"; [ -n "${sampler_pid:-}" ] && kill "$sampler_pid" 2>/dev/null || true' EXIT

psql_quiet() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
sql() { psql -X -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

tests=0
failures=0
check() { # check <description> <expected> <actual>
  tests=$((tests + 1))
  if [ "$2" = "$3" ]; then
    echo "ok $tests - $1"
  else
    echo "not ok $tests - $1"
    echo "#   expected: $2"
    echo "#   got:      $3"
    failures=$((failures + 1))
  fi
}

echo "1..12"

# --- the database ----------------------------------------------------------------
psql_quiet -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" 2>/dev/null
psql_quiet -d "$DB" -f test/fixtures/supabase.sql -f test/fixtures/seed.sql >/dev/null
psql_quiet -d "$DB" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION geo_import CASCADE;
-- Two more files, one per project: 4 files, 2 projects.
INSERT INTO project_files (id, project_id, name) VALUES
  ('f3f3f3f3-f3f3-f3f3-f3f3-f3f3f3f3f3f3', '11111111-1111-1111-1111-111111111111', 'third.geojson'),
  ('f4f4f4f4-f4f4-f4f4-f4f4-f4f4f4f4f4f4', '22222222-2222-2222-2222-222222222222', 'fourth.geojson');
-- The payload of import i: points(i) points with 3 properties, bowties(i)
-- self-intersecting polygons (repaired: imported) and broken(i) features of
-- an unknown geometry type (failed).
CREATE FUNCTION load_points(i int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 2000 + (i * 397) % 3000';
CREATE FUNCTION load_bowties(i int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT i % 4';
CREATE FUNCTION load_broken(i int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT i % 3';
CREATE FUNCTION load_payload(i int) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT json_build_object('type', 'FeatureCollection', 'features', json_agg(f ORDER BY n))
    FROM (
      SELECT n, json_build_object('type', 'Feature', 'id', n,
               'properties', json_build_object('import', i, 'n', n, 'name', 'p' || n),
               'geometry', json_build_object('type', 'Point', 'coordinates', json_build_array(n % 360 - 180, n % 170 - 85))) AS f
        FROM generate_series(1, load_points(i)) n
      UNION ALL
      SELECT 100000 + n, json_build_object('type', 'Feature', 'properties', NULL,
               'geometry', json_build_object('type', 'Polygon', 'coordinates',
                 json_build_array(json_build_array(json_build_array(0, 0), json_build_array(2, 2),
                   json_build_array(2, 0), json_build_array(0, 2), json_build_array(0, 0)))))
        FROM generate_series(1, load_bowties(i)) n
      UNION ALL
      SELECT 200000 + n, json_build_object('type', 'Feature', 'properties', NULL,
               'geometry', json_build_object('type', 'Hexagon', 'coordinates', json_build_array()))
        FROM generate_series(1, load_broken(i)) n
    ) features
$$;
GRANT EXECUTE ON FUNCTION load_payload(int), load_points(int), load_bowties(int), load_broken(int) TO PUBLIC;
SQL
deadlocks_before=$(psql -X -At -d postgres -c "SELECT deadlocks FROM pg_stat_database WHERE datname = '$DB'")
log_lines_before=0
if [ -n "${GEO_IMPORT_CLUSTER_LOG:-}" ] && [ -r "$GEO_IMPORT_CLUSTER_LOG" ]; then
  log_lines_before=$(wc -l <"$GEO_IMPORT_CLUSTER_LOG")
fi

# --- the imports -------------------------------------------------------------------
# Import i goes to file i % 4, as that file's project member, every fifth one
# as service_role instead.
files=(f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1 f2f2f2f2-f2f2-f2f2-f2f2-f2f2f2f2f2f2
       f3f3f3f3-f3f3-f3f3-f3f3-f3f3f3f3f3f3 f4f4f4f4-f4f4-f4f4-f4f4-f4f4f4f4f4f4)
members=(aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb
         aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb)
: >"$WORK/jobs"
for i in $(seq 1 "$IMPORTS"); do
  k=$((i % 4))
  if [ $((i % 5)) -eq 0 ]; then role=service_role; sub=; else role=authenticated; sub=${members[$k]}; fi
  echo "$i ${files[$k]} $role ${sub:--}" >>"$WORK/jobs"
done

run_one() { # <i> <file> <role> <sub or ->
  local i=$1 file=$2 role=$3 sub=$4 args=()
  [ "$sub" = - ] || args=(-v "pgrst_sub=$sub")
  psql -X -At -v ON_ERROR_STOP=1 -d "$DB" -v pgrst_role="$role" "${args[@]}" \
    -v pgrst_call="SELECT '$i', '$file', status, total_features, imported_count, failed_count, repaired_count, import_log_id FROM import_geojson(file_id => '$file', payload => load_payload($i), options => '{\"collection_name\": \"load $i\"}')" \
    -f "$REPO/test/fixtures/postgrest.sql" >"$WORK/result.$i" 2>"$WORK/error.$i"
  echo $? >"$WORK/rc.$i"
}
export -f run_one
export DB REPO WORK

# Samples how many imports run at once (active import_geojson statements).
(
  while :; do
    psql -X -At -d postgres -c "SELECT count(*) FROM pg_stat_activity
      WHERE datname = '$DB' AND state = 'active' AND query LIKE '%import_geojson(file_id%'
        AND backend_type = 'client backend'" 2>/dev/null || true
    sleep 0.05
  done
) >"$WORK/concurrency" &
sampler_pid=$!

start=$(date +%s.%N)
xargs -P "$PARALLEL" -L 1 bash -c 'run_one "$@"' _ <"$WORK/jobs"
elapsed=$(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $start }")
kill "$sampler_pid" 2>/dev/null || true
wait "$sampler_pid" 2>/dev/null || true
sampler_pid=

# --- the checks ----------------------------------------------------------------------
failed_calls=$(for i in $(seq 1 "$IMPORTS"); do [ "$(cat "$WORK/rc.$i" 2>/dev/null)" = 0 ] || echo "$i"; done | tr '\n' ' ')
check "all $IMPORTS import requests succeeded" "" "$failed_calls"
for i in $(seq 1 "$IMPORTS"); do
  [ -s "$WORK/error.$i" ] && sed "s/^/# import $i: /" "$WORK/error.$i" | head -5
done
# Each result line: i|file|status|total|imported|failed|repaired|log id
cat "$WORK"/result.* | grep -E '^[0-9]+\|' | sort -t'|' -k1,1n >"$WORK/results"
sql "COPY (SELECT i, load_points(i) + load_bowties(i) + load_broken(i), load_points(i) + load_bowties(i),
                  load_broken(i), load_bowties(i)
             FROM generate_series(1, $IMPORTS) i ORDER BY i) TO STDOUT WITH (FORMAT csv, DELIMITER '|')" >"$WORK/expected"
check "each import returned completed with its exact total, imported, failed and repaired counts" \
  "$(sed 's/$/|completed/' "$WORK/expected")" \
  "$(awk -F'|' '{print $1 "|" $4 "|" $5 "|" $6 "|" $7 "|" $3}' "$WORK/results")"

# The terminal status is written by each import's worker just after commit.
for _ in $(seq 200); do
  [ "$(sql "SELECT count(*) FROM import_logs WHERE status IN ('started', 'processing')")" = 0 ] && break
  sleep 0.05
done
expected_total=$(sql "SELECT sum(load_points(i) + load_bowties(i)) FROM generate_series(1, $IMPORTS) i")
check "import_logs: $IMPORTS logs, all completed" "$IMPORTS|$IMPORTS|0" \
  "$(sql "SELECT count(*), count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status <> 'completed') FROM import_logs")"
check "$IMPORTS collections and $IMPORTS layers, one of each per import" "$IMPORTS|$IMPORTS|$IMPORTS" \
  "$(sql "SELECT (SELECT count(*) FROM feature_collections), (SELECT count(*) FROM layers),
                 (SELECT count(DISTINCT import_log_id) FROM feature_collections)")"
check "geo_features holds exactly the $expected_total imported features" "$expected_total" \
  "$(sql "SELECT count(*) FROM geo_features")"
check "every log's counts match its payload and its rows (0 mismatches)" "0" \
  "$(sql "SELECT count(*) FROM import_logs l
            JOIN feature_collections c ON c.id = l.collection_id
            JOIN layers y ON y.id = l.layer_id,
            LATERAL (SELECT substring(c.name FROM 'load (\\d+)')::int AS i) n,
            LATERAL (SELECT count(*) AS features, count(DISTINCT feature_index) AS indexes,
                            max(feature_index) AS last_index
                       FROM geo_features f WHERE f.layer_id = y.id) g
           WHERE l.total_features <> load_points(n.i) + load_bowties(n.i) + load_broken(n.i)
              OR l.imported_count <> load_points(n.i) + load_bowties(n.i)
              OR l.failed_count <> load_broken(n.i)
              OR g.features <> l.imported_count OR g.indexes <> g.features
              OR y.feature_count <> l.imported_count OR c.feature_count <> l.imported_count
              OR (l.metadata ->> 'failed_count')::int <> load_broken(n.i)")"
check "feature ids are unique" "$expected_total" "$(sql "SELECT count(DISTINCT id) FROM geo_features")"
check "imports per file: 12/13/13/12 of $IMPORTS, each under its own file" \
  "f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1|12 f2f2f2f2-f2f2-f2f2-f2f2-f2f2f2f2f2f2|13 f3f3f3f3-f3f3-f3f3-f3f3-f3f3f3f3f3f3|13 f4f4f4f4-f4f4-f4f4-f4f4-f4f4f4f4f4f4|12" \
  "$(sql "SELECT l.project_file_id, count(*) FROM import_logs l
            JOIN feature_collections c ON c.id = l.collection_id AND c.project_file_id = l.project_file_id
            JOIN layers y ON y.id = l.layer_id AND y.project_file_id = l.project_file_id
           GROUP BY l.project_file_id ORDER BY 1" | tr '\n' ' ' | sed 's/ $//')"
max_concurrent=$(sort -n "$WORK/concurrency" | tail -n 1)
# Sampled: an import of a few thousand features may start and end between
# two samples, so the sampler need not see all $PARALLEL at once.
check "the imports overlapped: at least $((PARALLEL / 2)) seen running at once (most: ${max_concurrent:-0} of $PARALLEL)" \
  "yes" "$([ "${max_concurrent:-0}" -ge $((PARALLEL / 2)) ] && echo yes || echo no)"
check "no deadlock (pg_stat_database.deadlocks unchanged)" "$deadlocks_before" \
  "$(psql -X -At -d postgres -c "SELECT deadlocks FROM pg_stat_database WHERE datname = '$DB'")"
if [ -n "${GEO_IMPORT_CLUSTER_LOG:-}" ] && [ -r "$GEO_IMPORT_CLUSTER_LOG" ]; then
  check "the server log has no deadlock, error or crash since the load began" "" \
    "$(tail -n +"$((log_lines_before + 1))" "$GEO_IMPORT_CLUSTER_LOG" | grep -E 'deadlock|ERROR|FATAL|PANIC|terminated by signal' | head -5 || true)"
else
  tests=$((tests + 1))
  echo "ok $tests - the server log has no deadlock, error or crash # SKIP GEO_IMPORT_CLUSTER_LOG is not set"
fi
for _ in $(seq 100); do
  [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'geo_import progress'")" = 0 ] && break
  sleep 0.05
done
check "every progress worker has exited" "0" \
  "$(sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'geo_import progress'")"

echo "# $IMPORTS imports ($expected_total features), $PARALLEL at a time, in ${elapsed}s"
psql_quiet -d postgres -c "DROP DATABASE $DB"
[ "$failures" -eq 0 ]
