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
# The cluster is LEFT RUNNING so you can look around; the last lines say how
# to connect and how to stop it (scripts/cluster.sh stop).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"

PG_BINDIR=/usr/lib/postgresql/15/bin
export PG_CONFIG=${PG_CONFIG:-$PG_BINDIR/pg_config}
export PATH="$PG_BINDIR:$PATH"
export GEO_IMPORT_CLUSTER=default

DEMO_DB=geo_import_demo
DATA_PACKAGE=@geo-maps/countries-land-10km@0.6.0 # pinned: the demo's output stays the same
DATA_DIR="$REPO/.cache/geodata"
DATA_FILE="$DATA_DIR/countries-land-10km.geo.json"
FILE_ID=f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1 # project 1's file (test/fixtures/seed.sql)
USER_ID=aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa # member of project 1
OTHER_USER_ID=bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb # member of project 2 only
SLOT=geo_import_demo

say() { printf '\n==> %s\n' "$*"; }
die() {
  printf '\ndemo.sh: FAILED: %s\n' "$*" >&2
  exit 1
}
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  else
    command -v sudo >/dev/null 2>&1 || die "need root or sudo for: $*"
    sudo "$@"
  fi
}
demo_psql() { psql -X -q -v ON_ERROR_STOP=1 -d "$DEMO_DB" "$@"; }

say "Installing Debian packages (scripts/install-deps.sh)"
bash scripts/install-deps.sh || die "scripts/install-deps.sh failed"

say "Building and installing geo_import"
make -j2 PG_CONFIG="$PG_CONFIG" || die "make failed"
as_root make install PG_CONFIG="$PG_CONFIG" || die "make install failed"

say "Starting the throwaway cluster (scripts/cluster.sh start)"
cluster_env=$(bash scripts/cluster.sh start) || die "could not start the cluster"
eval "$cluster_env"

say "Creating database $DEMO_DB (Supabase fixtures, seed, CREATE EXTENSION geo_import CASCADE)"
# Afresh on every run, so the demo shows one import. Drop the demo's
# replication slot first: it belongs to the database.
psql -X -q -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                            WHERE slot_name = '$SLOT'" >/dev/null
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

# --- LIVE PROGRESS: place reserved -------------------------------------------
# To show progress while the import runs, start a reader here in the
# background, e.g.
#   pg_recvlogical -d "$DEMO_DB" --slot "$SLOT" --start -o format-version=2 \
#     -o add-tables=public.import_logs -f - | <print status/counts per change> &
# and stop it after the import. Until then the slot is read after the import
# ("What Supabase Realtime saw" below), which already shows in which
# transactions, and so when, each progress update became visible.
# ------------------------------------------------------------------------------

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

cat <<EOF

The cluster is still running (database $DEMO_DB). To look around:
  eval "\$(scripts/cluster.sh env)"; psql -d $DEMO_DB
To stop it and remove its files:
  scripts/cluster.sh stop
EOF
