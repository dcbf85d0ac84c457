#!/usr/bin/env bash
# Faults and limits (ISSUE 6.5, SPEC §3 "Cancellation", §6 memory):
#
# 1. statement_timeout and pg_cancel_backend stop a 1,000,000-feature import
#    within 0.5 s of the signal, at up to 16 (cancel) and 5 (timeout) points
#    of its first seconds, each before 80% of the time the whole import takes
#    here (measured first), and leave nothing but the log saying failed,
#    with PostgreSQL's own reason (early signals too: while the progress
#    worker starts, while the payload is read from its table). The latency
#    is measured with the server's clock: from the signal (the
#    pg_cancel_backend call's clock_timestamp, or the import's query_start +
#    the timeout) to the next
#    statement of the importing session, which runs as soon as the import
#    has returned its error.
# 2. A payload near the 1 GB value limit (1,000,000,000 bytes: one feature
#    whose property string jsonb cannot hold): that feature fails alone with
#    a reason that names the property, the import completes, the server does
#    not crash, and the backend's peak memory (VmHWM) stays within SPEC §6's
#    2.5x the payload (the reader refuses the string before copying it);
#    pg_cancel_backend stops its import within 0.5 s too. Skipped when the
#    machine has less than 8 GB available (FAULTS_BIG=0 skips it too).
# 3. Two features GEOS needs long to repair (star polygons of 1201 edges
#    that all cross: about 37 s each), repaired side by side by the
#    producer and its helper thread: pg_cancel_backend 0.5 s into their
#    import stops it within 0.5 s, though GEOS 3.11 polls its interrupt
#    callback only between some steps of the repair (about 3 s apart here):
#    the import leaves both threads to finish that step on their own.
# 4. 200 imports in one backend (PostgREST reuses its connections), every
#    tenth of them failing, leave its memory flat: private RSS (RssAnon; the
#    shared buffers it touches are not its own) grows less than 10 MB from
#    import 20 to import 200.
#
# TAP output, one line per check; exits non-zero on failure. Needs the
# cluster environment (PGHOST, PGPORT, PGUSER) of scripts/test.sh, on this
# machine (it reads the backends' /proc/<pid>/status).
set -euo pipefail
cd "$(dirname "$0")/../.."

DB=${FAULTS_DB:-geo_import_faults}
FILE=f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1
BIG_FILE=f2f2f2f2-f2f2-f2f2-f2f2-f2f2f2f2f2f2
LOOP_FILE=f3f3f3f3-f3f3-f3f3-f3f3-f3f3f3f3f3f3
WORK=$(mktemp -d /tmp/geo_import_faults.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

psql_quiet() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
sql() { psql -X -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

tests=0
failures=0
pass() { tests=$((tests + 1)); echo "ok $tests - $1"; }
fail() { tests=$((tests + 1)); failures=$((failures + 1)); echo "not ok $tests - $1"; }
check() { # check <description> <expected> <actual>
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1"; echo "#   expected: $2"; echo "#   got:      $3"; fi
}
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }     # calc <expression>
is_true() { awk "BEGIN { exit !($1) }"; }             # is_true <condition>
check_le() { # check_le <description> <value> <limit>: value <= limit (numbers)
  if is_true "$2 <= $3"; then pass "$1"; else fail "$1"; echo "#   $2 > $3"; fi
}
skip() { tests=$((tests + 1)); echo "ok $tests - $1 # SKIP $2"; }

echo "1..18"

# --- the database and the 1M-point payload ---------------------------------------------------
psql_quiet -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" 2>/dev/null
psql_quiet -d "$DB" -f test/fixtures/supabase.sql -f test/fixtures/seed.sql >/dev/null
psql_quiet -d "$DB" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION geo_import CASCADE;
INSERT INTO project_files (id, project_id, name) VALUES
  ('$LOOP_FILE', '11111111-1111-1111-1111-111111111111', 'loop.geojson');
-- Uncompressed, so that reading it back costs a copy, not a decompression.
CREATE TABLE payloads (name text, doc json);
ALTER TABLE payloads ALTER doc SET STORAGE EXTERNAL;
SQL
python3 - "$WORK/points.json" <<'PY'
import sys
# 1,000,000 points with 3 properties (SPEC §6's first workload), ~150 MB.
with open(sys.argv[1], "w") as out:
    out.write('{"type":"FeatureCollection","features":[')
    for start in range(1, 1000001, 100000):
        chunk = ",".join(
            '{"type":"Feature","id":%d,"properties":{"n":%d,"name":"p%d","v":%s},'
            '"geometry":{"type":"Point","coordinates":[%.6f,%.6f]}}'
            % (i, i, i, i * 0.5, (i % 360) - 180 + 0.123456, (i % 170) - 85 + 0.654321)
            for i in range(start, start + 100000))
        out.write(("," if start > 1 else "") + chunk)
    out.write("]}\n")
PY
psql_quiet -d "$DB" -c "\\copy payloads (doc) FROM '$WORK/points.json'" -c "UPDATE payloads SET name = 'points_1m'"
rm -f "$WORK/points.json"
postmaster_start=$(sql "SELECT pg_postmaster_start_time()")

# --- 1. cancellation -----------------------------------------------------------------------------
# Runs the 1M import in the background as application <app>, with extra
# settings <set>; sets pid and query_start (epoch) once it runs. The same
# session then prints "ended <epoch>": the server's clock when the import had
# returned (its next statement runs at once).
start_import() { # <app> <set>
  PGAPPNAME=$1 psql -X -At -d "$DB" -c "SET client_min_messages = warning" -c "$2" \
    -c "SELECT status FROM import_geojson('$FILE', (SELECT doc FROM payloads WHERE name = 'points_1m'))" \
    -c "SELECT 'ended ' || extract(epoch FROM clock_timestamp())" \
    >"$WORK/$1.out" 2>&1 &
  local row=
  for _ in $(seq 500); do
    row=$(sql "SELECT pid, extract(epoch FROM query_start) FROM pg_stat_activity
                WHERE application_name = '$1' AND state = 'active' AND query LIKE '%import_geojson%'")
    [ -n "$row" ] && break
    sleep 0.02
  done
  pid=${row%%|*}
  query_start=${row#*|}
}
# The server's clock when the import of <app> had returned (see start_import).
ended() { sed -n 's/^ended //p' "$WORK/$1.out"; }
# Seconds from <from> to <to> (epochs), or 999 when either is missing.
seconds() { if [ -n "$1" ] && [ -n "$2" ]; then calc "$2 - $1"; else echo 999; fi; }

# Waits (up to 5 s) until the progress workers have settled every log.
wait_settled() {
  for _ in $(seq 250); do
    [ "$(sql "SELECT count(*) FROM import_logs WHERE status IN ('started', 'processing')")" = 0 ] && break
    sleep 0.02
  done
}

# What of the imports into $FILE is left: "<logs>|<not failed>|<collections>|<layers>|<features>",
# once every log is settled.
leftovers() {
  wait_settled
  sql "SELECT (SELECT count(*) FROM import_logs WHERE project_file_id = '$FILE'),
              (SELECT count(*) FROM import_logs WHERE project_file_id = '$FILE'
                  AND (status <> 'failed' OR metadata ->> 'error' IS NULL)),
              (SELECT count(*) FROM feature_collections WHERE project_file_id = '$FILE'),
              (SELECT count(*) FROM layers WHERE project_file_id = '$FILE'),
              (SELECT count(*) FROM geo_features)"
}

# How long the whole import takes here, as the runs below make it (live
# progress on), rolled back: the signals below come before its end. Its
# log, which the progress worker settles as failed, is removed after.
duration=$(psql_quiet -d "$DB" -At <<SQL | sed -n 's/^took //p'
BEGIN;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT status FROM import_geojson('$FILE', (SELECT doc FROM payloads WHERE name = 'points_1m')) \g /dev/null
SELECT 'took ' || round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 2);
ROLLBACK;
SQL
)
echo "# the import takes ${duration}s to the end here"
wait_settled
sql "DELETE FROM import_logs WHERE project_file_id = '$FILE'" >/dev/null
late=$(calc "0.8 * $duration")
# Points in time (seconds after the statement started) before <late>, then <late>.
points_before_late() { for t in "$@"; do is_true "$t < $late - 0.1" && echo "$t"; done; echo "$late"; }

# The signal at many points of the run: the import's phases (reading the
# payload, starting the progress worker, the reader's first pass over the
# document, the batches) each have their own interrupt checks, or lack them.
runs=0
worst=0
worst_at=
messages=0
for after in $(points_before_late $(seq 0.1 0.1 1.5)); do
  runs=$((runs + 1))
  app=faults_cancel_$runs
  start_import "$app" "SET geo_import.live_progress = on"
  if [ -z "$pid" ]; then echo "# the import of run $runs did not start"; worst=999; continue; fi
  # Signal `after` seconds after the statement started.
  sleep "$(calc "$query_start + $after - $(date +%s.%N)" | sed 's/^-.*/0/')"
  signal=$(sql "SELECT extract(epoch FROM clock_timestamp()) FROM (SELECT pg_cancel_backend($pid)) c")
  wait || true
  latency=$(seconds "$signal" "$(ended "$app")")
  echo "# pg_cancel_backend ${after}s into the import: stopped after ${latency}s"
  if is_true "$latency > $worst"; then worst=$latency; worst_at=$after; fi
  grep -q 'canceling statement due to user request' "$WORK/$app.out" && messages=$((messages + 1))
done
check_le "pg_cancel_backend at $runs points of a 1M-feature import stops it within 0.5 s (worst: ${worst}s, signalled ${worst_at}s in)" "$worst" 0.5
check "... each time with 'canceling statement due to user request'" "$runs" "$messages"
cancels=$runs
worst=0
worst_at=
messages=0
timeouts=0
for timeout in $(points_before_late 0.3 0.6 0.9 1.2); do
  runs=$((runs + 1))
  timeouts=$((timeouts + 1))
  app=faults_timeout_$runs
  start_import "$app" "SET statement_timeout = '${timeout}s'"
  if [ -z "$pid" ]; then echo "# the import of run $runs did not start"; worst=999; continue; fi
  wait || true
  latency=$(seconds "$(calc "$query_start + $timeout")" "$(ended "$app")")
  echo "# statement_timeout = ${timeout}s: stopped ${latency}s after the timeout"
  if is_true "$latency > $worst"; then worst=$latency; worst_at=$timeout; fi
  grep -q 'canceling statement due to statement timeout' "$WORK/$app.out" && messages=$((messages + 1))
done
check_le "statement_timeout at $timeouts points of a 1M-feature import stops it within 0.5 s (worst: ${worst}s, timeout ${worst_at}s)" "$worst" 0.5
check "... each time with 'canceling statement due to statement timeout'" "$timeouts" "$messages"
check "the $runs stopped imports left nothing but their $runs logs, each failed with a reason" \
  "$runs|0|0|0|0" "$(leftovers)"
check "... and each log's reason is PostgreSQL's own (user request, statement timeout), early signals too" \
  "$cancels|$timeouts" \
  "$(sql "SELECT count(*) FILTER (WHERE metadata ->> 'error' = 'canceling statement due to user request')
            || '|' || count(*) FILTER (WHERE metadata ->> 'error' = 'canceling statement due to statement timeout')
            FROM import_logs WHERE project_file_id = '$FILE'")"
check "no progress worker is left behind" "0" \
  "$(sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'geo_import progress'")"

# --- 2. a payload near the 1 GB value limit ----------------------------------------------------------
available_kb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
if [ "${FAULTS_BIG:-1}" = 0 ] || [ "$available_kb" -lt $((8 * 1024 * 1024)) ]; then
  for what in "the feature fails alone, with its reason" "the server stays up" "the import completes" \
              "peak memory within 2.5x" "pg_cancel_backend within 0.5 s"; do
    skip "1 GB payload: $what" "FAULTS_BIG=0 or less than 8 GB available ($((available_kb / 1024)) MB)"
  done
else
  # Built once by the server (repeat, concatenation, the json check) and
  # stored uncompressed: reading it back is a copy, not a decompression.
  psql_quiet -d "$DB" >/dev/null <<'SQL'
CREATE TABLE big_payload (doc json);
ALTER TABLE big_payload ALTER doc SET STORAGE EXTERNAL;
INSERT INTO big_payload SELECT ('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"s":"'
  || repeat('x', 1000000000 - 125) || '"},"geometry":{"type":"Point","coordinates":[1,2]}}]}')::json;
SQL
  size=$(sql "SELECT pg_column_size(doc) - 4 FROM big_payload")
  cat >"$WORK/big.sql" <<SQL
SELECT pg_backend_pid() AS pid \gset
\setenv BACKEND_PID :pid
SELECT status, imported_count, failed_count, error_summary FROM import_geojson('$BIG_FILE', (SELECT doc FROM big_payload));
\echo error :LAST_ERROR_SQLSTATE :LAST_ERROR_MESSAGE
\! awk '/VmHWM/ {print "peak", \$2}' /proc/\$BACKEND_PID/status
SELECT 'alive';
SQL
  psql -X -At -d "$DB" -f "$WORK/big.sql" >"$WORK/big.out" 2>&1 || true
  grep -E 'ERROR|^error|^alive|^completed|^failed' "$WORK/big.out" | sed 's/^/# /' | cut -c1-200
  result=$(grep -E '^(completed|failed)[|]' "$WORK/big.out" || true)
  if [[ "$result" =~ ^completed\|0\|1\|.*property\ \"s\"\ is\ longer\ than\ jsonb\ can\ store ]]; then
    pass "a ${size}-byte payload: its one feature fails alone, with its reason: ${result:0:160}"
  else
    fail "a ${size}-byte payload: its one feature fails alone, with a reason that names the property"
    echo "#   got: ${result:-nothing} $(sed -n 's/^error //p' "$WORK/big.out")"
  fi
  check "the server stays up (same postmaster, the session answers)" "$postmaster_start|1" \
    "$(sql "SELECT pg_postmaster_start_time()")|$(grep -c '^alive$' "$WORK/big.out" || true)"
  for _ in $(seq 250); do
    [ "$(sql "SELECT count(*) FROM import_logs WHERE status IN ('started', 'processing')")" = 0 ] && break
    sleep 0.02
  done
  check "its log is completed, 0 imported and 1 failed, and no feature was stored" "completed|0|1|0" \
    "$(sql "SELECT string_agg(status || '|' || imported_count || '|' || failed_count, ','),
                   (SELECT count(*) FROM geo_features f JOIN layers l ON l.id = f.layer_id
                     WHERE l.project_file_id = '$BIG_FILE')
              FROM import_logs WHERE project_file_id = '$BIG_FILE'")"
  # The payload's own copy is in the peak: at most 1.5x more for the import.
  peak_kb=$(awk '$1 == "peak" {print $2}' "$WORK/big.out")
  check_le "the backend's peak memory (VmHWM ${peak_kb:-?} kB) is within 2.5x the payload (SPEC §6)" \
    "${peak_kb:-999999999}" "$((size * 5 / 2 / 1024))"
  # Cancellation at any size: pg_cancel_backend 0.3 s after PostgreSQL has
  # read the payload into the backend's memory (its private RSS has grown by
  # the payload's size: reading a 1 GB value back is PostgreSQL's own,
  # uninterruptible work, and a PostgREST parameter would be in memory already).
  PGAPPNAME=faults_big_cancel psql -X -At -d "$DB" -c "SELECT status FROM import_geojson('$BIG_FILE', (SELECT doc FROM big_payload))" \
    -c "SELECT 'ended ' || extract(epoch FROM clock_timestamp())" >"$WORK/big_cancel.out" 2>&1 &
  pid=
  for _ in $(seq 500); do
    pid=$(sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'faults_big_cancel' AND state = 'active'")
    [ -n "$pid" ] && break
    sleep 0.02
  done
  in_memory=
  for _ in $(seq 3000); do
    rss_kb=$(awk '/RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ "${rss_kb:-0}" -ge $((size / 1024)) ] && { in_memory=$(date +%s.%N); break; }
    sleep 0.02
  done
  if [ -z "$pid" ] || [ -z "$in_memory" ]; then
    fail "pg_cancel_backend stops the import of the ${size}-byte payload within 0.5 s (it never had the payload in memory)"
    wait || true
  else
    sleep 0.3
    signal=$(sql "SELECT extract(epoch FROM clock_timestamp()) FROM (SELECT pg_cancel_backend($pid)) c")
    wait || true
    latency=$(seconds "$signal" "$(sed -n 's/^ended //p' "$WORK/big_cancel.out")")
    if grep -q 'canceling statement due to user request' "$WORK/big_cancel.out"; then
      check_le "pg_cancel_backend 0.3 s after the ${size}-byte payload is in memory stops its import within 0.5 s (took ${latency}s)" "$latency" 0.5
    else
      fail "pg_cancel_backend 0.3 s after the ${size}-byte payload is in memory stops its import within 0.5 s"
      sed 's/^/#   /' "$WORK/big_cancel.out" | head -n 5
    fi
  fi
  sql "DROP TABLE big_payload" >/dev/null
fi

# --- 3. a repair GEOS does not interrupt promptly ------------------------------------------------
python3 - >"$WORK/star.json" <<'PY'
import json, math
n, k = 1201, 600  # the star polygon {1201/600}: every edge crosses hundreds of others
ring = [[round(math.cos(2 * math.pi * (i * k % n) / n), 9), round(math.sin(2 * math.pi * (i * k % n) / n), 9)]
        for i in range(n)]
star = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring + ring[:1]]}}
print(json.dumps({"type": "FeatureCollection", "features": [star, star]}))
PY
psql_quiet -d "$DB" -c "\\copy payloads (doc) FROM '$WORK/star.json'" -c "UPDATE payloads SET name = 'star' WHERE name IS NULL"
PGAPPNAME=faults_star psql -X -At -d "$DB" -c "SELECT status FROM import_geojson('$FILE', (SELECT doc FROM payloads WHERE name = 'star'))" \
  -c "SELECT 'ended ' || extract(epoch FROM clock_timestamp())" >"$WORK/star.out" 2>&1 &
pid=
for _ in $(seq 500); do
  pid=$(sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'faults_star' AND state = 'active'")
  [ -n "$pid" ] && break
  sleep 0.02
done
sleep 0.5
threads=$(ls "/proc/$pid/task" 2>/dev/null | wc -l)
signal=$(sql "SELECT extract(epoch FROM clock_timestamp()) FROM (SELECT pg_cancel_backend($pid)) c")
check "two stars in one batch: the backend runs the producer and its helper beside its own thread" 3 "$threads"
wait || true
latency=$(seconds "$signal" "$(sed -n 's/^ended //p' "$WORK/star.out")")
check_le "pg_cancel_backend 0.5 s into the repair of two 1201-edge star polygons on two threads stops the import within 0.5 s (took ${latency}s)" \
  "$latency" 0.5
check "... with 'canceling statement due to user request'" 1 \
  "$(grep -c 'canceling statement due to user request' "$WORK/star.out" || true)"

# --- 4. 200 imports in one backend -------------------------------------------------------------
# Import i: 1,000 points and 5 bowties (repaired, with GEOS), reprojected to
# 3857 (PostGIS), with the progress worker; every tenth one fails (on_invalid
# "fail"), so the error path is in the loop too.
{
  echo "SET client_min_messages = warning;"
  echo "CREATE TEMP TABLE payload AS SELECT json_build_object('type', 'FeatureCollection', 'features',
          (SELECT json_agg(f) FROM (
             SELECT json_build_object('type', 'Feature', 'id', n, 'properties', json_build_object('n', n, 'name', 'p' || n),
                      'geometry', json_build_object('type', 'Point', 'coordinates', json_build_array(n % 360 - 180, n % 170 - 85))) f
               FROM generate_series(1, 1000) n
             UNION ALL
             SELECT json_build_object('type', 'Feature', 'properties', NULL, 'geometry', json_build_object('type', 'Polygon',
                      'coordinates', json_build_array(json_build_array(json_build_array(0, 0), json_build_array(2, 2),
                        json_build_array(2, 0), json_build_array(0, 2), json_build_array(0, 0)))))
               FROM generate_series(1, 5)) x)) AS doc;"
  echo "SELECT pg_backend_pid() AS pid \\gset"
  echo "\\setenv BACKEND_PID :pid"
  for i in $(seq 1 200); do
    if [ $((i % 10)) -eq 0 ]; then options='{"target_srid": 3857, "on_invalid": "fail"}'; else options='{"target_srid": 3857}'; fi
    echo "SELECT status FROM import_geojson('$LOOP_FILE', (SELECT doc FROM payload), '$options');"
    case $i in
      20 | 100 | 200) echo "\\! awk '/RssAnon|RssShmem|VmRSS/ {printf \"%s %s \", \$1, \$2} END {print \"at $i\"}' /proc/\$BACKEND_PID/status" ;;
    esac
  done
} >"$WORK/loop.sql"
start=$(date +%s)
psql -X -At -d "$DB" -f "$WORK/loop.sql" >"$WORK/loop.out" 2>"$WORK/loop.err" || true
grep '^VmRSS' "$WORK/loop.out" | sed 's/^/# /'
rss_at() { awk -v at="$1" '$NF == at { for (i = 1; i < NF; i++) if ($i == "RssAnon:") print $(i + 1) }' "$WORK/loop.out"; }
check "200 imports in one backend: 180 completed, 20 refused by on_invalid fail (took $(($(date +%s) - start)) s)" "180|20" \
  "$(grep -c '^completed$' "$WORK/loop.out" || true)|$(grep -c 'cannot be imported' "$WORK/loop.err" || true)"
rss20=$(rss_at 20)
rss200=$(rss_at 200)
growth=$(( ${rss200:-999999} - ${rss20:-0} ))
check_le "its private RSS grows less than 10 MB from import 20 to import 200 (${rss20:-?} kB -> ${rss200:-?} kB: ${growth} kB)" \
  "$growth" 10239

check "the server never restarted" "$postmaster_start" "$(sql "SELECT pg_postmaster_start_time()")"

psql_quiet -d postgres -c "DROP DATABASE $DB"
[ "$failures" -eq 0 ]
