#!/usr/bin/env bash
# Live progress (SPEC §4, ISSUE 3) on the shared test cluster: what a Supabase
# Realtime subscriber (wal2json, format-version 2, on the tables of publication
# supabase_realtime) and another session see of an import's log while it runs,
# and the one truthful terminal status of every way an import can end.
#
#   scripts/test.sh runs it with PGHOST/PGPORT/PGUSER of its cluster; by hand:
#     export GEO_IMPORT_CLUSTER=lp-dev; eval "$(scripts/cluster.sh start)"
#     bash test/scripts/live_progress.sh
#
# Prints TAP, one line per check, and exits non-zero when a check fails.
# Uses its own database (dropped at the end; LIVE_PROGRESS_KEEP_DB=1 keeps
# it). The scenarios that need a crash or a cluster without free worker
# slots are in live_progress_isolated.sh, on a throwaway cluster of their own.
#
# Sourced with LIVE_PROGRESS_LIB=1 it only defines the helpers (TAP output,
# polling, background sessions, payload generator) and returns.
set -euo pipefail

LP_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LP_DB=${LP_DB:-geo_import_live_progress}
LP_TMP=$(mktemp -d /tmp/geo_import_live_progress.XXXXXX)
MEMBER=aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa     # member of project 1 (test/fixtures/seed.sql)
NON_MEMBER=bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb # member of project 2 only
PROJECT=11111111-1111-1111-1111-111111111111
TERMINAL_TIMEOUT=10 # seconds an import's log may take to reach its terminal status

# --- TAP -------------------------------------------------------------------------
tap_n=0
tap_failed=0
ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1"; }
not_ok() { # not_ok <description> [diagnostic line...]
  tap_n=$((tap_n + 1))
  tap_failed=$((tap_failed + 1))
  echo "not ok $tap_n - $1"
  shift
  local line
  for line in "$@"; do printf '%s\n' "$line" | sed 's/^/#   /'; done
}
# A known limitation, reported but not counted as a failure.
todo() { # todo <passed 0|1> <description> [diagnostic line...]
  tap_n=$((tap_n + 1))
  local passed=$1 description=$2
  shift 2
  if [ "$passed" -eq 1 ]; then echo "ok $tap_n - $description # TODO"; else echo "not ok $tap_n - $description # TODO"; fi
  local line
  for line in "$@"; do printf '%s\n' "$line" | sed 's/^/#   /'; done
}
check() { # check <description> <expected> <got> [diagnostic line...]
  if [ "$2" = "$3" ]; then
    ok "$1"
  else
    local description=$1 expected=$2 got=$3
    shift 3
    not_ok "$description" "expected: $expected" "got:      $got" "$@"
  fi
}
note() { printf '%s\n' "$@" | sed 's/^/# /'; } # one line per argument
tap_finish() { # prints the plan, returns non-zero when a check failed
  echo "1..$tap_n"
  [ "$tap_failed" -eq 0 ] || { note "$tap_failed of $tap_n checks failed"; return 1; }
}

# --- SQL -----------------------------------------------------------------------------
q() { psql -X -At -q -v ON_ERROR_STOP=1 -d "$LP_DB" "$@"; }
# q with -c SQL, as one string; errors to stdout too (for diagnostics).
qc() { q -c "$1" 2>&1; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# poll <seconds> <expected> <sql>: runs sql until it prints expected.
# Sets POLL_GOT (the last output) and POLL_MS (time taken).
poll() {
  local limit_ms=$(($1 * 1000)) expected=$2 sql=$3 t0
  t0=$(now_ms)
  while :; do
    POLL_GOT=$(qc "$sql") || true
    POLL_MS=$(($(now_ms) - t0))
    [ "$POLL_GOT" = "$expected" ] && return 0
    [ "$POLL_MS" -lt "$limit_ms" ] || return 1
    sleep 0.05
  done
}

# The statuses of a file's logs (oldest first), and how many collections of
# it committed: "failed|0", "completed|1", "failed,completed|1".
file_state_sql() {
  echo "SELECT coalesce((SELECT string_agg(status, ',' ORDER BY created_at) FROM import_logs
                          WHERE project_file_id = '$1'), '<no log>')
               || '|' || (SELECT count(*) FROM feature_collections WHERE project_file_id = '$1')"
}
log_reason() { qc "SELECT string_agg(coalesce(metadata ->> 'error', '<none>'), ' / ' ORDER BY created_at)
                     FROM import_logs WHERE project_file_id = '$1' AND status = 'failed'"; }
# A project file of project 1 (so MEMBER may import into it), one per scenario.
file_id() { printf 'e1e1e1e1-0000-4000-8000-%012d' "$1"; }

# --- background sessions ------------------------------------------------------------
# bg <name> <psql args...>: a psql session in the background, application_name
# lp_<name>, output in $LP_TMP/<name>.out; bg_wait <name> waits for it.
declare -A bg_pids=()
bg() {
  local name=$1
  shift
  PGAPPNAME="lp_$name" psql -X -At -q -v ON_ERROR_STOP=1 -d "$LP_DB" "$@" >"$LP_TMP/$name.out" 2>&1 &
  bg_pids[$name]=$!
}
bg_running() { kill -0 "${bg_pids[$1]}" 2>/dev/null; }
bg_wait() { # returns the session's exit status
  local rc=0
  wait "${bg_pids[$1]}" || rc=$?
  unset "bg_pids[$1]"
  return "$rc"
}
bg_output() { cat "$LP_TMP/$1.out"; }
# The pid of the backend serving background session <name>.
backend_pid() { qc "SELECT pid FROM pg_stat_activity WHERE application_name = 'lp_$1' AND backend_type = 'client backend'"; }
lp_cleanup() {
  local name
  for name in "${!bg_pids[@]}"; do kill "${bg_pids[$name]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # A slot left by a failed run would hold WAL back.
  psql -X -q -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                              WHERE database = '$LP_DB' AND NOT active" >/dev/null 2>&1 || true
  rm -rf -- "$LP_TMP"
}

# --- the database ---------------------------------------------------------------------
# A database with the Supabase fixtures, the extension, project files 1..20 of
# project 1, a payload generator and a flag table sessions can wait on.
lp_setup_db() {
  psql -X -q -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                              WHERE database = '$LP_DB'" >/dev/null
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $LP_DB WITH (FORCE)" -c "CREATE DATABASE $LP_DB" 2>/dev/null
  (cd "$LP_REPO" && q -f test/fixtures/supabase.sql -f test/fixtures/seed.sql -f test/fixtures/postgrest.sql \
    -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION geo_import CASCADE') >/dev/null
  q >/dev/null <<SQL
INSERT INTO project_files (id, project_id, name)
SELECT format('e1e1e1e1-0000-4000-8000-%s', lpad(i::text, 12, '0'))::uuid, '$PROJECT', 'live progress ' || i
  FROM generate_series(1, 20) i;

-- A FeatureCollection of n points with 3 properties; the features whose index
-- is in bad are self-intersecting polygons (invalid: repaired, skipped or
-- fatal, depending on on_invalid). Deterministic.
CREATE FUNCTION lp_points(n integer, bad integer[] DEFAULT '{}') RETURNS text
LANGUAGE sql IMMUTABLE AS \$\$
  SELECT '{"type":"FeatureCollection","features":[' || coalesce(string_agg(
    CASE WHEN i = ANY (bad) THEN
      format('{"type":"Feature","id":%s,"properties":{"name":"bowtie %s"},'
             '"geometry":{"type":"Polygon","coordinates":[[[0,0],[2,2],[2,0],[0,2],[0,0]]]}}', i, i)
    ELSE
      format('{"type":"Feature","id":%s,"properties":{"name":"point %s","rank":%s,"value":%s},'
             '"geometry":{"type":"Point","coordinates":[%s,%s]}}',
             i, i, i % 100, round((i * 37 % 10000) / 100.0, 2),
             round((i * 7919 % 36000) / 100.0 - 180, 2), round((i * 104729 % 18000) / 100.0 - 90, 2))
    END, ',' ORDER BY i), '') || ']}'
  FROM generate_series(0::bigint, n - 1) i
\$\$;
CREATE TABLE lp_payloads (name text PRIMARY KEY, doc json NOT NULL);

-- A session holding its transaction open waits in lp_wait until the test
-- sets the flag (READ COMMITTED: each loop sees new commits).
CREATE TABLE lp_flags (name text PRIMARY KEY);
CREATE FUNCTION lp_wait(flag text) RETURNS void LANGUAGE plpgsql AS \$\$
BEGIN
  FOR i IN 1..1200 LOOP
    IF EXISTS (SELECT 1 FROM lp_flags WHERE name = flag) THEN RETURN; END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RAISE EXCEPTION 'lp_wait: flag % was never set', flag;
END
\$\$;

-- The value of a column in a wal2json (format-version 2) change.
CREATE FUNCTION lp_col(change jsonb, col text) RETURNS text LANGUAGE sql IMMUTABLE AS
\$\$ SELECT c ->> 'value' FROM jsonb_array_elements(change -> 'columns') c WHERE c ->> 'name' = col \$\$;
SQL
}
lp_payload() { # lp_payload <name> <n> [bad indexes, e.g. {3,7}]
  q -c "INSERT INTO lp_payloads VALUES ('$1', lp_points($2, '${3:-{\}}')::json)" >/dev/null
}
# An import_geojson call of a stored payload, printing status|total|imported|failed.
import_sql() { # import_sql <file number> <payload name> [options json]
  echo "SELECT status || '|' || total_features || '|' || imported_count || '|' || failed_count
          FROM import_geojson('$(file_id "$1")', (SELECT doc FROM lp_payloads WHERE name = '$2'), '${3:-{\}}')"
}

if [ -n "${LIVE_PROGRESS_LIB:-}" ]; then
  return 0
fi

# ======================================================================================
trap lp_cleanup EXIT
trap 'exit 143' INT TERM
cd "$LP_REPO"
t_start=$(now_ms)
lp_setup_db
lp_payload p300k 300000
lp_payload p50k 50000
lp_payload p20k 20000
lp_payload p60k_bad_late 60000 '{55000}'
lp_payload p12_two_bad 12 '{3,7}'
q -c "INSERT INTO lp_payloads VALUES ('not_an_array', '{\"type\":\"FeatureCollection\",\"features\":7}')"
note "payloads ready ($(($(now_ms) - t_start)) ms)"
t_section=$(now_ms)

# --- 1. A 300,000-feature import seen live: by another session and through wal2json ---
# The slot reads what Supabase Realtime reads: the tables of publication
# supabase_realtime (import_logs), plus feature_collections, which only the
# import's own transaction writes, to place that transaction in the stream.
SLOT=lp_wal2json
add_tables=$(qc "SELECT string_agg(format('%s.%s', schemaname, tablename), ',')
                   FROM pg_publication_tables WHERE pubname = 'supabase_realtime'"),public.feature_collections
q -c "SELECT pg_create_logical_replication_slot('$SLOT', 'wal2json')" >/dev/null
F1=$(file_id 1)
t0=$(now_ms)
bg stream -c "$(import_sql 1 p300k '{"batch_size": 1000}')"
seen_running=""
seen_states=""
while bg_running stream; do
  row=$(qc "SELECT status || ' ' || imported_count || '/' || total_features || ' ' || pg_xact_status(import_xid)
              FROM import_logs WHERE project_file_id = '$F1'")
  [ -z "$row" ] || case " $seen_states " in *" ${row%% *} "*) ;; *) seen_states="$seen_states ${row%% *}" ;; esac
  if [ -z "$seen_running" ] &&
    [[ "$row" =~ ^processing\ ([0-9]+)/([0-9]+)\ in\ progress$ ]] &&
    [ "${BASH_REMATCH[1]}" -gt 0 ] && [ "${BASH_REMATCH[1]}" -lt "${BASH_REMATCH[2]}" ]; then
    seen_running="${BASH_REMATCH[1]}/${BASH_REMATCH[2]} after $(($(now_ms) - t0)) ms"
  fi
  sleep 0.03
done
rc=0
bg_wait stream || rc=$?
import_ms=$(($(now_ms) - t0))
check "the 300,000-feature import (batch_size 1000) returns completed 300000/300000/0" \
  "0 completed|300000|300000|0" "$rc $(bg_output stream)"
if [ -n "$seen_running" ]; then
  ok "while it ran, another session read its log as processing with 0 < imported_count < total_features ($seen_running of ${import_ms} ms; its transaction in progress)"
else
  not_ok "while it ran, another session read its log as processing with 0 < imported_count < total_features" \
    "statuses seen while it ran:${seen_states:- none}"
fi
poll "$TERMINAL_TIMEOUT" "completed|1" "$(file_state_sql "$F1")" || true
check "its log is completed once the import's transaction committed (${POLL_MS} ms)" "completed|1" "$POLL_GOT"
LOG1=$(qc "SELECT id FROM import_logs WHERE project_file_id = '$F1'")

# Everything decoded since the slot was made, in commit order.
q -c "CREATE TABLE lp_stream AS
        SELECT ord, data::jsonb AS d
          FROM pg_logical_slot_get_changes('$SLOT', NULL, NULL, 'format-version', '2', 'include-xids', '1',
                                           'include-timestamp', '1', 'add-tables', '$add_tables')
               WITH ORDINALITY AS c(lsn, xid, data, ord)" \
  -c "SELECT pg_drop_replication_slot('$SLOT')" >/dev/null
q >/dev/null <<SQL
CREATE TABLE lp_changes AS
WITH c AS (
  SELECT ord, (d ->> 'xid')::bigint AS xid, d ->> 'action' AS action, d ->> 'table' AS tbl,
         lp_col(d, 'id') AS id, lp_col(d, 'import_log_id') AS collection_log, lp_col(d, 'status') AS status,
         lp_col(d, 'total_features')::int AS total, lp_col(d, 'imported_count')::int AS imported,
         lp_col(d, 'failed_count')::int AS failed, lp_col(d, 'updated_at')::timestamptz AS updated_at
    FROM lp_stream)
SELECT c.*, k.ord AS commit_ord
  FROM c JOIN c k ON k.xid = c.xid AND k.action = 'C'
 WHERE c.action IN ('I', 'U', 'D');
SQL
# The import's own transaction: the one that inserted its collection.
import_commit=$(qc "SELECT coalesce(max(commit_ord), 0) FROM lp_changes
                     WHERE tbl = 'feature_collections' AND action = 'I' AND collection_log = '$LOG1'")
log_changes=$(qc "SELECT count(*) FROM lp_changes WHERE tbl = 'import_logs' AND id = '$LOG1'")
[ "$import_commit" -gt 0 ] && ok "wal2json decoded the import's own transaction (its feature_collections insert) and $log_changes changes of its log" ||
  not_ok "wal2json decoded the import's own transaction (its feature_collections insert)"
check "the started INSERT is decoded in a transaction that commits before the import's" "started I 1" \
  "$(qc "SELECT status || ' ' || action || ' ' || (commit_ord < $import_commit) FROM lp_changes
           WHERE tbl = 'import_logs' AND id = '$LOG1' ORDER BY ord LIMIT 1" | sed 's/true$/1/; s/false$/0/')"
early=$(qc "SELECT count(*) FROM lp_changes WHERE tbl = 'import_logs' AND id = '$LOG1' AND action = 'U'
              AND status = 'processing' AND commit_ord < $import_commit")
[ "$early" -ge 1 ] && ok "$early processing UPDATEs are decoded in transactions that commit before the import's" ||
  not_ok "at least one processing UPDATE is decoded in a transaction that commits before the import's" "found $early"
check "processing arrives before completed, completed arrives after the import's commit, exactly once, and is the last change" \
  "true|true|1|true" \
  "$(qc "SELECT (max(ord) FILTER (WHERE status = 'processing') < min(ord) FILTER (WHERE status = 'completed'))::text
                || '|' || (min(commit_ord) FILTER (WHERE status = 'completed') > $import_commit)::text
                || '|' || count(*) FILTER (WHERE status IN ('completed', 'failed'))
                || '|' || (max(ord) = max(ord) FILTER (WHERE status = 'completed'))::text
           FROM lp_changes WHERE tbl = 'import_logs' AND id = '$LOG1'")"
check "the processing updates' counts only grow, with the total fixed at 300000 (and completed's counts are the final ones)" \
  "0|300000|300000|0" \
  "$(qc "WITH p AS (SELECT status, total, imported, failed,
                           lag(imported) OVER (ORDER BY ord) AS prev_imported, lag(failed) OVER (ORDER BY ord) AS prev_failed
                      FROM lp_changes WHERE tbl = 'import_logs' AND id = '$LOG1' AND action = 'U')
         SELECT count(*) FILTER (WHERE imported < prev_imported OR failed < prev_failed)
                || '|' || coalesce(string_agg(DISTINCT total::text, ',') FILTER (WHERE status = 'processing'), '-')
                || '|' || coalesce(max(imported) FILTER (WHERE status = 'completed'), -1)
                || '|' || coalesce(max(failed) FILTER (WHERE status = 'completed'), -1)
           FROM p")"
# Throttling: the worker commits progress at most every 100 ms (its design),
# so N processing updates span at least (N - 1) x 100 ms (10% clock slack).
read -r n_updates span_ms < <(qc "SELECT count(*), coalesce(round(extract(epoch FROM max(updated_at) - min(updated_at)) * 1000), 0)
                                     FROM lp_changes WHERE tbl = 'import_logs' AND id = '$LOG1' AND status = 'processing'" | tr '|' ' ')
if [ $(((n_updates - 1) * 90)) -le "$span_ms" ]; then
  ok "progress is throttled: $n_updates processing updates over $span_ms ms (at most one per 100 ms)"
else
  not_ok "progress is throttled to at most one processing update per 100 ms" \
    "$n_updates processing updates (300 batches of 1000) over $span_ms ms: one every $((span_ms / (n_updates > 1 ? n_updates - 1 : 1))) ms"
fi

note "section took $(($(now_ms) - t_section)) ms"; t_section=$(now_ms)
# --- 2. Endings: exactly one truthful terminal status each --------------------------------
# ending <description> <file number> <expected file state> [reason regex]
ending() {
  local description=$1 file expected=$3 pattern=${4:-} reason
  file=$(file_id "$2")
  if poll "$TERMINAL_TIMEOUT" "$expected" "$(file_state_sql "$file")"; then
    reason=$(log_reason "$file")
    if [ -z "$pattern" ] || [[ "$reason" =~ $pattern ]]; then
      ok "$description: ${expected%%|*} within ${POLL_MS} ms${pattern:+ (reason: $reason)}"
    else
      not_ok "$description: ${expected%%|*} with a reason matching /$pattern/" "reason: $reason"
    fi
  else
    not_ok "$description: ${expected%%|*} within ${TERMINAL_TIMEOUT} s" "expected logs|collections: $expected" \
      "got: $POLL_GOT" "reason: $(log_reason "$file")"
  fi
}

# Commit, with the caller's transaction held open after the call returned:
# until it commits, others see progress, never completed.
F2=$(file_id 2)
bg commit -c "BEGIN" -c "$(import_sql 2 p12_two_bad '{"on_invalid": "skip", "batch_size": 5}')" \
  -c "SELECT lp_wait('commit')" -c "COMMIT"
poll "$TERMINAL_TIMEOUT" "processing|12|10|2|0" \
  "SELECT status || '|' || total_features || '|' || imported_count || '|' || failed_count || '|'
          || (SELECT count(*) FROM feature_collections WHERE project_file_id = '$F2')
     FROM import_logs WHERE project_file_id = '$F2'" || true
check "commit: after the call returned, while the caller's transaction is open, others read processing 10 imported + 2 failed of 12 (and no collection yet)" \
  "processing|12|10|2|0" "$POLL_GOT"
q -c "INSERT INTO lp_flags VALUES ('commit')"
bg_wait commit || true
ending "commit: after COMMIT the log" 2 "completed|1"
check "commit: the completed log has the final counts 12/10/2, the collection and layer, and the 2 reasons" \
  "12|10|2|true|true|2" \
  "$(qc "SELECT total_features || '|' || imported_count || '|' || failed_count || '|' || (collection_id IS NOT NULL)
                || '|' || (layer_id IS NOT NULL) || '|' || jsonb_array_length(metadata -> 'errors')
           FROM import_logs WHERE project_file_id = '$F2'")"

# Errors raised after the worker started.
qc "$(import_sql 3 p20k '{"target_srid": 998000}')" >/dev/null || true
ending "error (target_srid 998000, not in spatial_ref_sys: raised after the log started)" 3 "failed|0" '998000'
qc "$(import_sql 4 p60k_bad_late '{"on_invalid": "fail", "batch_size": 1000}')" >/dev/null || true
ending "error (on_invalid fail, invalid feature 55000 of 60000, batch 56)" 4 "failed|0" 'feature 55000'
qc "$(import_sql 5 not_an_array)" >/dev/null || true
ending "error (features is not an array)" 5 "failed|0" 'features'

# Savepoints and rollbacks around a call that succeeded.
q -c "BEGIN" -c "SAVEPOINT s" -c "$(import_sql 6 p20k)" -c "ROLLBACK TO SAVEPOINT s" -c "COMMIT" >/dev/null
ending "savepoint rolled back around the call, then COMMIT" 6 "failed|0" 'rolled back'
q -c "BEGIN" -c "SAVEPOINT s" -c "$(import_sql 7 p20k)" -c "ROLLBACK TO SAVEPOINT s" \
  -c "$(import_sql 7 p20k)" -c "COMMIT" >/dev/null
ending "savepoint rolled back around one call, a second call in the same transaction commits" 7 "failed,completed|1"
q -c "BEGIN" -c "SAVEPOINT s" -c "$(import_sql 8 p20k)" -c "RELEASE SAVEPOINT s" -c "COMMIT" >/dev/null
ending "savepoint released around the call, then COMMIT" 8 "completed|1"
q -c "BEGIN" -c "SAVEPOINT s" -c "$(import_sql 9 p20k)" -c "RELEASE SAVEPOINT s" -c "ROLLBACK" >/dev/null
ending "savepoint released around the call, then the caller's transaction rolled back" 9 "failed|0"
q -c "BEGIN" -c "$(import_sql 10 p20k)" -c "ROLLBACK" >/dev/null
ending "the caller's transaction rolled back after a successful call" 10 "failed|0" 'rolled back'
q -c "BEGIN" -c "$(import_sql 11 p20k)" -c "SELECT 1 / 0" -c "COMMIT" >/dev/null 2>&1 || true
ending "an error later in the caller's transaction (COMMIT then rolls back)" 11 "failed|0"

# Interruptions of a running 300,000-feature import (about 1 s here; the
# timeout comes well before its end).
out=$(q -c "SET statement_timeout = '300ms'" -c "$(import_sql 12 p300k)" 2>&1) || true
[[ "$out" == *"statement timeout"* ]] || note "statement_timeout: unexpected client output: $out"
ending "statement_timeout (0.3 s)" 12 "failed|0" 'statement timeout'

# interrupt <name> <file number> <pg_cancel_backend|pg_terminate_backend>:
# starts the import, waits until its log shows features imported, interrupts it and
# notes how long the backend took to stop.
interrupt() {
  local name=$1 file function=$3 pid t0 rc=0
  file=$(file_id "$2")
  bg "$name" -c "$(import_sql "$2" p300k)"
  poll 30 processing "SELECT status FROM import_logs WHERE project_file_id = '$file' AND imported_count > 0" || true
  pid=$(backend_pid "$name")
  t0=$(now_ms)
  q -c "SELECT $function($pid)" >/dev/null
  bg_wait "$name" || rc=$?
  note "$function: the import's session ended (exit $rc) $(($(now_ms) - t0)) ms after the signal: $(bg_output "$name" | head -n 2 | tr '\n' ' ')"
}
interrupt cancel 13 pg_cancel_backend
ending "pg_cancel_backend during the import" 13 "failed|0" 'cancel'
interrupt terminate 14 pg_terminate_backend
# The backend exits at once (FATAL), so nothing tells the worker why; it
# records that the transaction rolled back.
ending "pg_terminate_backend during the import" 14 "failed|0" '.'

note "section took $(($(now_ms) - t_section)) ms"; t_section=$(now_ms)
# --- 3. PostgREST-style calls, READ COMMITTED and REPEATABLE READ ----------------------------
q -c "SELECT doc FROM lp_payloads WHERE name = 'p20k'" >"$LP_TMP/p20k.json"
postgrest_import() { # postgrest_import <file number> <isolation>
  psql -X -At -q -v ON_ERROR_STOP=1 -d "$LP_DB" -v content_file="$LP_TMP/p20k.json" \
    -v pgrst_role=authenticated -v pgrst_sub="$MEMBER" -v file_id="$(file_id "$1")" -v isolation="$2" 2>&1 <<'SQL'
\set content `cat :'content_file'`
SET default_transaction_isolation = :'isolation';
\ir test/fixtures/postgrest.sql
SELECT current_setting('transaction_isolation') || '|' || current_user || '|' || current_setting('statement_timeout')
       || '|' || status || '|' || total_features || '|' || imported_count || '|' || failed_count
  FROM import_geojson(file_id => :'file_id', payload => :'content', options => '{"batch_size": 2000}');
COMMIT;
SQL
}
check "PostgREST-style call (authenticated, JWT claims, 8 s timeout) in READ COMMITTED returns completed" \
  "read committed|authenticated|8s|completed|20000|20000|0" "$(postgrest_import 15 'read committed')"
ending "PostgREST-style call in READ COMMITTED: the log" 15 "completed|1"
check "PostgREST-style call in REPEATABLE READ returns completed" \
  "repeatable read|authenticated|8s|completed|20000|20000|0" "$(postgrest_import 16 'repeatable read')"
ending "PostgREST-style call in REPEATABLE READ: the log" 16 "completed|1"
check "the member reads the logs through RLS (as Realtime filters them), the non-member none" \
  "2|0" \
  "$(qc "SELECT (SELECT count(*) FROM test_postgrest_call('authenticated', '$MEMBER',
                  \$\$SELECT 1 FROM import_logs WHERE project_file_id IN ('$(file_id 15)', '$(file_id 16)')
                                                   AND status = 'completed'\$\$))
                || '|' || (SELECT count(*) FROM test_postgrest_call('authenticated', '$NON_MEMBER',
                  \$\$SELECT 1 FROM import_logs\$\$))")"

note "section took $(($(now_ms) - t_section)) ms"; t_section=$(now_ms)
# --- 4. Four imports at once -------------------------------------------------------------
for i in 17 18 19 20; do bg "parallel$i" -c "$(import_sql "$i" p50k '{"batch_size": 1000}')"; done
files="'$(file_id 17)', '$(file_id 18)', '$(file_id 19)', '$(file_id 20)'"
max_live=0
while bg_running parallel17 || bg_running parallel18 || bg_running parallel19 || bg_running parallel20; do
  live=$(qc "SELECT count(*) FROM import_logs WHERE project_file_id IN ($files)
               AND status = 'processing' AND pg_xact_status(import_xid) = 'in progress'")
  [ "$live" -le "$max_live" ] || max_live=$live
  sleep 0.03
done
results=""
for i in 17 18 19 20; do
  bg_wait "parallel$i" || true
  results="$results$(bg_output "parallel$i");"
done
check "4 imports at once all return completed 50000/50000/0" \
  "completed|50000|50000|0;completed|50000|50000|0;completed|50000|50000|0;completed|50000|50000|0;" "$results"
[ "$max_live" -ge 2 ] && ok "they ran at the same time: up to $max_live logs processing at once, their transactions in progress" ||
  not_ok "the 4 imports ran at the same time (at least 2 logs processing at once)" "max seen: $max_live"
poll "$TERMINAL_TIMEOUT" "4|200000" \
  "SELECT count(*) || '|' || sum(imported_count) FROM import_logs WHERE project_file_id IN ($files) AND status = 'completed'
                                                  AND total_features = 50000 AND failed_count = 0" || true
check "the 4 logs are completed with exact counts (${POLL_MS} ms)" "4|200000" "$POLL_GOT"
check "each of the 4 layers holds its 50000 features" "50000,50000,50000,50000" \
  "$(qc "SELECT string_agg(n::text, ',') FROM (SELECT count(f.*) AS n FROM layers l LEFT JOIN geo_features f ON f.layer_id = l.id
                                               WHERE l.project_file_id IN ($files) GROUP BY l.id) s")"

# --- 5. Nothing left over ------------------------------------------------------------------------
poll "$TERMINAL_TIMEOUT" 0 "SELECT count(*) FROM import_logs WHERE status IN ('started', 'processing')" || true
check "no log is left started or processing" 0 "$POLL_GOT" \
  "$(qc "SELECT string_agg(project_file_id || ' ' || status, ', ') FROM import_logs WHERE status IN ('started', 'processing')")"
# One call per file 1..20, two on file 7: 21 calls, 21 logs.
check "the 21 import calls above left exactly one log each" "21" \
  "$(qc "SELECT count(*) FROM import_logs")" \
  "logs per file: $(qc "SELECT string_agg(right(project_file_id::text, 2) || ':' || n, ' ' ORDER BY project_file_id)
                          FROM (SELECT project_file_id, count(*) n FROM import_logs GROUP BY 1) s")"

note "section took $(($(now_ms) - t_section)) ms"; t_section=$(now_ms)
# --- 6. What live progress costs (measured, not asserted) ---------------------------------------
# The same 300,000-feature import with live progress on and off, in rounds
# of on, off then off, on (LIVE_PROGRESS_OVERHEAD_ROUNDS, default 1), each
# into an emptied geo_features, so neither table growth nor order favours a
# mode. Wall-clock time is noisy on a shared or busy machine, so when the
# server's processes are readable in /proc it also notes CPU time: the
# importing backend's, and the rest of the server's (mostly the progress
# worker; with live progress off it is the baseline: autovacuum and such),
# taken from the postmaster's reaped-children counters.
postmaster_pid=$(head -n 1 "$(qc "SHOW data_directory")/postmaster.pid" 2>/dev/null || true)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
children_ticks() { awk '{print $16 + $17}' "/proc/$1/stat" 2>/dev/null || echo 0; }
timed_import() { # timed_import <on|off>: prints "wall_s importer_cpu_s other_cpu_s"
  local out c0 c1 wall pm0 pm1
  q -c "TRUNCATE geo_features" -c "CHECKPOINT"
  pm0=$(children_ticks "$postmaster_pid")
  out=$(q <<SQL
SET geo_import.live_progress = $1;
SELECT pg_backend_pid() AS pid \gset
\set statfile /proc/:pid/stat
\setenv LP_STAT :statfile
\! awk '{printf "%d ", \$14 + \$15}' "\$LP_STAT" 2>/dev/null || printf '0 '
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
$(import_sql 1 p300k) \g /dev/null
SELECT round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 3) AS wall \gset
\! awk '{printf "%d ", \$14 + \$15}' "\$LP_STAT" 2>/dev/null || printf '0 '
\echo :wall
SQL
)
  read -r c0 c1 wall <<<"$out"
  # The importing backend and the worker have exited once the log is settled.
  poll "$TERMINAL_TIMEOUT" 0 "SELECT count(*) FROM import_logs WHERE status IN ('started', 'processing')" || true
  sleep 0.3
  pm1=$(children_ticks "$postmaster_pid")
  awk -v w="$wall" -v i=$((c1 - c0)) -v o=$((pm1 - pm0 - (c1 - c0))) -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%s %.2f %.2f\n", w, i / hz, (o < 0 ? 0 : o) / hz }'
}
declare -a t_on=() t_off=()
for round in $(seq 1 "${LIVE_PROGRESS_OVERHEAD_ROUNDS:-1}"); do
  for mode in $([ $((round % 2)) -eq 1 ] && echo on off || echo off on); do
    t=$(timed_import "$mode")
    read -r wall importer_cpu other_cpu <<<"$t"
    note "live progress $mode: $wall s wall clock, $importer_cpu s CPU of the importing backend, $other_cpu s other server CPU"
    if [ "$mode" = on ]; then t_on+=("$t"); else t_off+=("$t"); fi
  done
done
sum_field() { # sum_field <n> <values...>
  local n=$1
  shift
  printf '%s\n' "$@" | awk -v n="$n" '{ s += $n } END { printf "%.3f", s }'
}
overhead() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%+.1f%%", 100 * (a / b - 1); else print "n/a" }'; }
note "live progress overhead, 300,000 points, batch_size 5000, ${#t_on[@]} run(s) each:" \
  "  wall clock:               $(overhead "$(sum_field 1 "${t_on[@]}")" "$(sum_field 1 "${t_off[@]}")")" \
  "  importing backend's CPU:  $(overhead "$(sum_field 2 "${t_on[@]}")" "$(sum_field 2 "${t_off[@]}")")" \
  "  importer + rest of server CPU: $(overhead "$(awk "BEGIN{print $(sum_field 2 "${t_on[@]}") + $(sum_field 3 "${t_on[@]}")}")" "$(awk "BEGIN{print $(sum_field 2 "${t_off[@]}") + $(sum_field 3 "${t_off[@]}")}")")" \
  "  (target: at most 5%; load average $(cut -d' ' -f1-3 /proc/loadavg); more rounds: LIVE_PROGRESS_OVERHEAD_ROUNDS)"

psql -X -q -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '$LP_DB'" >/dev/null
[ -n "${LIVE_PROGRESS_KEEP_DB:-}" ] || psql -X -q -d postgres -c "DROP DATABASE $LP_DB WITH (FORCE)"
note "took $(($(now_ms) - t_start)) ms"
tap_finish
