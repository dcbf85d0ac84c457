#!/usr/bin/env bash
# The GeoJSON conformance corpus (test/corpus/, format in its README.md):
# imports every case into a database of its own, as a superuser, into file
# f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1 of the Supabase fixtures, and compares
# the outcome with the case's expectations. TAP, one `ok N - <case>` line per
# case. After every case it also checks that no backend crashed (a sentinel
# session is still connected, the postmaster did not restart, a new session
# works) and, for an import that failed as a whole, that it left no
# collection, layer or feature.
#
# Needs the cluster environment (PGHOST, PGPORT, PGUSER) that scripts/test.sh
# exports. CORPUS_CASES="12_crs_urn_2056_to_4326 ..." runs only those cases;
# CORPUS_KEEP_DB=1 keeps the database for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."

corpus_dir=test/corpus
database=geo_import_corpus
file_id=f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1

psql_in() { psql -X -q -v ON_ERROR_STOP=1 -d "$database" "$@"; }

psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "CREATE DATABASE $database" \
  2>/dev/null
psql_in -f test/fixtures/supabase.sql -f test/fixtures/seed.sql >/dev/null
psql_in >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION geo_import CASCADE;
CREATE SCHEMA corpus;

CREATE FUNCTION corpus.counts() RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('collections', (SELECT count(*) FROM public.feature_collections),
                            'layers', (SELECT count(*) FROM public.layers),
                            'features', (SELECT count(*) FROM public.geo_features))
$$;

-- How one import turned out against a case's expectations (test/corpus/README.md):
-- one line per mismatch, none when the case passes. `result` is the import's
-- result row, or NULL when it raised `error_state` with `error_message`;
-- `before` is corpus.counts() just before the import.
CREATE FUNCTION corpus.check(result jsonb, error_state text, error_message text, before jsonb, expected text)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  after jsonb := corpus.counts();
  directive text;
  parts text[];
  verb text;
  rest text;
  idx integer;
  argument text;
  feature public.geo_features;
  import_log public.import_logs;
  want_error boolean := false;
  features integer := 0;
  failures integer := 0;
  repairs integer := 0;
  stored integer;
  tolerance float8;
  wanted geometry;
BEGIN
  FOR directive IN SELECT btrim(line) FROM regexp_split_to_table(expected, E'\n') AS line LOOP
    CONTINUE WHEN directive = '' OR directive LIKE '#%';
    parts := regexp_match(directive, '^(\S+)\s*(.*)$');
    verb := parts[1];
    rest := parts[2];
    IF verb IN ('options', 'send', 'payload') THEN
      CONTINUE;  -- read by the runner
    END IF;
    IF verb = 'error' THEN
      want_error := true;
      parts := regexp_match(rest, '^([0-9A-Z]{5})\s+(.+)$');
      IF parts IS NULL THEN
        RETURN NEXT format('bad directive: %s', directive);
      ELSIF error_state IS NULL THEN
        RETURN NEXT format('expected error %s "%s", but the import completed', parts[1], parts[2]);
      ELSIF error_state <> parts[1] OR strpos(error_message, parts[2]) = 0 THEN
        RETURN NEXT format('expected error %s "%s", got %s "%s"', parts[1], parts[2], error_state, error_message);
      END IF;
      CONTINUE;
    END IF;
    parts := regexp_match(rest, '^([0-9]+)\s*(.*)$');
    IF verb NOT IN ('feature', 'id', 'properties', 'failed', 'repaired') OR parts IS NULL THEN
      RETURN NEXT format('bad directive: %s', directive);
      CONTINUE;
    END IF;
    idx := parts[1]::integer;
    argument := parts[2];
    CONTINUE WHEN result IS NULL;  -- the import failed; reported below
    IF verb IN ('failed', 'repaired') THEN
      IF verb = 'failed' THEN failures := failures + 1; ELSE repairs := repairs + 1; END IF;
      SELECT * INTO import_log FROM public.import_logs WHERE id = (result ->> 'import_log_id')::uuid;
      IF NOT EXISTS (SELECT FROM jsonb_array_elements(import_log.metadata -> (CASE verb WHEN 'failed' THEN 'errors' ELSE 'repairs' END)) e
                      WHERE (e ->> 'index')::integer = idx AND strpos(e ->> 'reason', argument) > 0) THEN
        RETURN NEXT format('feature %s: expected %s with a reason containing "%s"; the log says %s', idx,
                           CASE verb WHEN 'failed' THEN 'a failure' ELSE 'a repair' END, argument,
                           coalesce((SELECT string_agg(format('%s %s: %s', CASE kind WHEN 'errors' THEN 'failed' ELSE 'repaired' END,
                                                              e ->> 'index', e ->> 'reason'), '; ')
                                       FROM unnest(ARRAY['errors', 'repairs']) AS kind,
                                            jsonb_array_elements(import_log.metadata -> kind) e
                                      WHERE (e ->> 'index')::integer = idx), 'nothing'));
      END IF;
      CONTINUE;
    END IF;
    SELECT * INTO feature FROM public.geo_features
     WHERE layer_id = (result ->> 'layer_id')::uuid AND feature_index = idx;
    IF NOT FOUND THEN
      RETURN NEXT format('feature %s was not stored (%s expected)', idx, directive);
      IF verb = 'feature' THEN features := features + 1; END IF;
      CONTINUE;
    END IF;
    IF verb = 'feature' THEN
      features := features + 1;
      IF argument = 'NULL' THEN
        IF feature.geom IS NOT NULL THEN
          RETURN NEXT format('feature %s: stored %s, expected no geometry', idx, ST_AsEWKT(feature.geom));
        END IF;
      ELSIF argument LIKE '~%' THEN
        parts := regexp_match(argument, '^~(\S+)\s+(.+)$');
        tolerance := parts[1]::float8;
        wanted := ST_GeomFromEWKT(parts[2]);
        IF feature.geom IS NULL OR ST_SRID(feature.geom) <> ST_SRID(wanted)
           OR GeometryType(feature.geom) <> GeometryType(wanted) OR ST_NDims(feature.geom) <> ST_NDims(wanted)
           OR ST_NPoints(feature.geom) <> ST_NPoints(wanted)
           OR ST_HausdorffDistance(feature.geom, wanted) > tolerance THEN
          RETURN NEXT format('feature %s: stored %s, expected %s within %s', idx, ST_AsEWKT(feature.geom), parts[2],
                             parts[1]);
        END IF;
      ELSIF feature.geom IS NULL OR ST_AsEWKT(feature.geom) <> argument THEN
        RETURN NEXT format('feature %s: stored %s, expected %s', idx, coalesce(ST_AsEWKT(feature.geom), 'no geometry'),
                           argument);
      END IF;
    ELSIF verb = 'id' THEN
      IF argument = 'NULL' AND feature.feature_id IS NOT NULL OR argument <> 'NULL' AND feature.feature_id IS DISTINCT FROM argument THEN
        RETURN NEXT format('feature %s: id %s, expected %s', idx, coalesce(quote_literal(feature.feature_id), 'NULL'),
                           CASE argument WHEN 'NULL' THEN argument ELSE quote_literal(argument) END);
      END IF;
    ELSIF verb = 'properties' THEN
      IF argument = 'NULL' AND feature.properties IS NOT NULL
         OR argument <> 'NULL' AND feature.properties IS DISTINCT FROM argument::jsonb THEN
        RETURN NEXT format('feature %s: properties %s, expected %s', idx, coalesce(feature.properties::text, 'NULL'), argument);
      END IF;
    END IF;
  END LOOP;

  IF result IS NULL THEN
    IF NOT want_error THEN
      RETURN NEXT format('the import failed: %s %s', error_state, error_message);
    END IF;
    IF after <> before THEN
      RETURN NEXT format('the failed import left rows behind: before %s, after %s', before, after);
    END IF;
    RETURN;
  END IF;
  -- Every feature is accounted for: stored ones listed, failed and repaired ones named.
  SELECT * INTO import_log FROM public.import_logs WHERE id = (result ->> 'import_log_id')::uuid;
  SELECT count(*) INTO stored FROM public.geo_features WHERE layer_id = (result ->> 'layer_id')::uuid;
  IF result ->> 'status' <> 'completed' OR import_log.status IS DISTINCT FROM 'completed' THEN
    RETURN NEXT format('status %s, log status %s; expected completed', result ->> 'status', import_log.status);
  END IF;
  IF stored <> features OR (result ->> 'imported_count')::integer <> features THEN
    RETURN NEXT format('%s features stored (imported_count %s); the case lists %s', stored,
                       result ->> 'imported_count', features);
  END IF;
  IF (result ->> 'failed_count')::integer <> failures
     OR jsonb_array_length(coalesce(import_log.metadata -> 'errors', '[]')) <> failures THEN
    RETURN NEXT format('failed_count %s, errors %s; the case lists %s failures', result ->> 'failed_count',
                       coalesce(import_log.metadata -> 'errors', '[]'), failures);
  END IF;
  IF (result ->> 'repaired_count')::integer <> repairs
     OR jsonb_array_length(coalesce(import_log.metadata -> 'repairs', '[]')) <> repairs THEN
    RETURN NEXT format('repaired_count %s, repairs %s; the case lists %s repairs', result ->> 'repaired_count',
                       coalesce(import_log.metadata -> 'repairs', '[]'), repairs);
  END IF;
  IF (result ->> 'total_features')::integer <> features + failures THEN
    RETURN NEXT format('total_features %s; the case lists %s features and %s failures', result ->> 'total_features',
                       features, failures);
  END IF;
  IF (after ->> 'collections')::integer <> (before ->> 'collections')::integer + 1
     OR (after ->> 'layers')::integer <> (before ->> 'layers')::integer + 1
     OR (after ->> 'features')::integer <> (before ->> 'features')::integer + stored THEN
    RETURN NEXT format('rows: before %s, after %s; expected one collection, one layer and %s features more', before,
                       after, stored);
  END IF;
END
$$;
SQL

# A session that stays connected: if any backend crashes, the postmaster
# ends every session, this one included.
sentinel_pid=
sentinel_backend=
start_sentinel() {
  psql -X -q -d "$database" -c "SET application_name = 'geo_import_corpus_sentinel'" -c "SELECT pg_sleep(86400)" \
    >/dev/null 2>&1 &
  sentinel_pid=$!
  for _ in $(seq 100); do
    sentinel_backend=$(psql -X -At -d "$database" -c \
      "SELECT pid FROM pg_stat_activity WHERE application_name = 'geo_import_corpus_sentinel' ORDER BY backend_start DESC LIMIT 1")
    [ -n "$sentinel_backend" ] && return
    sleep 0.1
  done
  echo "Bail out! the sentinel session did not connect"
  exit 1
}
stop_sentinel() {
  [ -n "$sentinel_pid" ] || return 0
  kill "$sentinel_pid" 2>/dev/null || true
  wait "$sentinel_pid" 2>/dev/null || true
  sentinel_pid=
}
cleanup() {
  stop_sentinel
  if [ "${CORPUS_KEEP_DB:-0}" != 1 ]; then
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

# Prints the directive's argument from a case's expectations, or $3.
directive() { # directive <expected-file> <verb> <default>
  local line
  line=$(grep -m 1 -E "^$2( |$)" "$1" || true)
  if [ -z "$line" ]; then
    echo "$3"
    return
  fi
  line=${line#"$2"}
  echo "${line#"${line%%[! ]*}"}"
}

postmaster_start=$(psql -X -At -d "$database" -c "SELECT pg_postmaster_start_time()")
start_sentinel

if [ -n "${CORPUS_CASES:-}" ]; then
  read -r -a cases <<<"$CORPUS_CASES"
else
  cases=()
  for expected in "$corpus_dir"/*.expected; do cases+=("$(basename "$expected" .expected)"); done
fi

echo "1..${#cases[@]}"
n=0
failed=0
for name in "${cases[@]}"; do
  n=$((n + 1))
  expected="$corpus_dir/$name.expected"
  payload="$corpus_dir/$(directive "$expected" payload "$name.geojson")"
  options=$(directive "$expected" options '{}')
  case $(directive "$expected" send json) in
    json) payload_sql=":'payload'::json" ;;
    text) payload_sql="to_json(:'payload'::text)" ;;
    *) payload_sql="bad send directive" ;;
  esac
  diagnostics=()
  set +e
  output=$(psql -X -q -At -d "$database" -v options="$options" 2>&1 <<SQL
SET client_min_messages = warning;
SET geo_import.live_progress = off;
\\set payload \`cat '$payload'\`
\\set expected \`cat '$expected'\`
SELECT corpus.counts() AS before \\gset
SELECT to_jsonb(r) AS result FROM import_geojson('$file_id', $payload_sql, :'options'::jsonb) AS r \\gset
-- From here on an error is the runner's own: it ends the session before
-- 'case checked', so the case fails.
\\set ON_ERROR_STOP on
\\if :ERROR
SELECT 'mismatch: ' || line FROM corpus.check(NULL, :'LAST_ERROR_SQLSTATE', :'LAST_ERROR_MESSAGE', :'before', :'expected') AS line;
\\else
SELECT 'mismatch: ' || line FROM corpus.check(:'result', NULL, NULL, :'before', :'expected') AS line;
\\endif
SELECT 'case checked';
SQL
  )
  psql_rc=$?
  set -e
  while IFS= read -r line; do diagnostics+=("$line"); done < <(printf '%s\n' "$output" | sed -n 's/^mismatch: //p')
  if ! printf '%s\n' "$output" | grep -qx 'case checked'; then
    diagnostics+=("the case's session ended early (psql exit $psql_rc):")
    while IFS= read -r line; do diagnostics+=("  $line"); done < <(printf '%s\n' "$output" | grep -v '^mismatch: ' | head -n 5)
  fi
  # No backend crashed: the sentinel is still there, the postmaster did not
  # restart, and a new session works.
  alive=$(psql -X -At -d "$database" -c "SELECT count(*) FROM pg_stat_activity WHERE pid = $sentinel_backend" 2>&1 || true)
  now_start=$(psql -X -At -d "$database" -c "SELECT pg_postmaster_start_time()" 2>&1 || true)
  if [ "$alive" != 1 ] || [ "$now_start" != "$postmaster_start" ]; then
    diagnostics+=("a backend crashed (sentinel session: '$alive', postmaster start: '$now_start')")
    stop_sentinel
    for _ in $(seq 100); do psql -X -At -d "$database" -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done
    postmaster_start=$(psql -X -At -d "$database" -c "SELECT pg_postmaster_start_time()")
    start_sentinel
  fi
  if [ "${#diagnostics[@]}" -eq 0 ]; then
    echo "ok $n - $name"
  else
    echo "not ok $n - $name"
    for line in "${diagnostics[@]}"; do echo "#   $line"; done
    note=$(grep -m 1 -E '^# KNOWN FAILURE' "$expected" || true)
    [ -z "$note" ] || echo "#   ${note#\# }"
    failed=$((failed + 1))
  fi
done

[ "$failed" -eq 0 ] || echo "# $failed of ${#cases[@]} corpus cases failed"
[ "$failed" -eq 0 ]
