#!/usr/bin/env bash
# THE test command (also what .ci/run calls):
#
#   scripts/test.sh
#
# 1. installs the Debian packages (scripts/install-deps.sh),
# 2. builds and installs the extension (make; make install, with sudo when
#    not root),
# 3. builds and runs the core unit tests (CMake/CTest, build/core),
# 4. starts a throwaway cluster of its own (scripts/cluster.sh, name "test",
#    stopped and removed on exit),
# 5. runs `make installcheck` (pg_regress over sql/*.sql) against it,
# 6. runs the pgTAP tests test/pgtap/*.sql with pg_prove, in a database with
#    the Supabase fixtures and `CREATE EXTENSION geo_import CASCADE`,
# 7. runs every test/scripts/*.sh scenario script with the cluster's
#    environment (PGHOST, PGPORT, PGUSER, PGDATABASE, GEO_IMPORT_REPO, ...);
#    each exits non-zero on failure,
# then prints one `N passed, N failed` line per suite and a total, and exits
# non-zero if anything failed. Setup steps (packages, build, cluster) fail
# fast; test suites all run so one report shows every failure.
# Logs go to build/test-logs/.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"

export GEO_IMPORT_REPO=$REPO
# This script's own cluster, separate from the one the demo may leave running.
export GEO_IMPORT_CLUSTER=${GEO_IMPORT_TEST_CLUSTER:-test}
LOG_DIR="$REPO/build/test-logs"
PGTAP_DB=geo_import_pgtap
SCRIPT_TIMEOUT=${GEO_IMPORT_SCRIPT_TIMEOUT:-600}

START_TIME=$(date +%s)
suite_names=()
suite_passed=()
suite_failed=()

SCRIPT_NAME=test.sh
# shellcheck source=scripts/lib.sh
source "$REPO/scripts/lib.sh"
record() { # record <suite> <passed> <failed>
  suite_names+=("$1")
  suite_passed+=("$2")
  suite_failed+=("$3")
  printf -- '--- %s: %d passed, %d failed\n' "$1" "$2" "$3"
}

trap stop_cluster_on_exit EXIT
trap 'exit 130' INT TERM

mkdir -p "$LOG_DIR"

# --- 1. packages -------------------------------------------------------------
say "Installing Debian packages (scripts/install-deps.sh)"
bash scripts/install-deps.sh || die "scripts/install-deps.sh failed"

# --- 2. build and install ----------------------------------------------------
build_and_install

# --- 3. core unit tests ------------------------------------------------------
say "Core unit tests (CMake/CTest)"
[ -f CMakeLists.txt ] || die "no CMakeLists.txt in $REPO"
cmake -S . -B build/core -DCMAKE_BUILD_TYPE=RelWithDebInfo || die "cmake configure failed"
cmake --build build/core -j2 || die "cmake build failed"
set +e
ctest --test-dir build/core --output-on-failure --no-tests=error --timeout 600 2>&1 | tee "$LOG_DIR/ctest.log"
ctest_rc=${PIPESTATUS[0]}
set -e
# "100% tests passed, 0 tests failed out of 12"
passed=0
failed=0
if summary=$(grep -Eo '[0-9]+ tests? failed out of [0-9]+' "$LOG_DIR/ctest.log" | tail -n 1); then
  read -r failed _ _ _ _ total <<<"$summary"
  passed=$((total - failed))
fi
# No summary (e.g. no tests) or a non-zero exit without failures still fails.
[ "$ctest_rc" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
record core "$passed" "$failed"

# --- 4. the cluster ------------------------------------------------------------
say "Starting a throwaway PostgreSQL cluster (scripts/cluster.sh)"
# A fresh cluster for every run: nothing left over from an earlier one.
bash scripts/cluster.sh stop
cluster_env=$(bash scripts/cluster.sh start) || die "could not start the test cluster"
cluster_started=1
eval "$cluster_env"
psql -X -q -d postgres -c 'SELECT 1' >/dev/null || die "cannot connect to the test cluster"

# --- 5. pg_regress -------------------------------------------------------------
# pg_regress and the isolation tester end with "All N tests passed." or
# "M of N tests failed."; each runs on its own so that one failing does not
# hide the other.
run_installcheck() { # run_installcheck <suite> <make variable to empty> <diffs file>
  local suite=$1 skip=$2 diffs=$3 rc passed=0 failed=0 all some total
  rm -f "$diffs"
  set +e
  make installcheck PG_CONFIG="$PG_CONFIG" "$skip=" 2>&1 | tee "$LOG_DIR/$suite.log"
  rc=${PIPESTATUS[0]}
  set -e
  if all=$(grep -Eo 'All [0-9]+ tests passed' "$LOG_DIR/$suite.log" | grep -Eo '[0-9]+'); then
    passed=$all
  elif some=$(grep -Eo '[0-9]+ of [0-9]+ tests failed' "$LOG_DIR/$suite.log"); then
    read -r failed _ total _ <<<"$some"
    passed=$((total - failed))
  fi
  [ "$rc" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
  record "$suite" "$passed" "$failed"
  if [ "$failed" -gt 0 ] && [ -f "$diffs" ]; then
    echo "--- $diffs (first 400 lines)"
    head -n 400 "$diffs"
  fi
}

say "Regression tests (make installcheck: sql/*.sql)"
run_installcheck installcheck ISOLATION regression.diffs
say "Isolation tests (make installcheck: specs/*.spec)"
run_installcheck isolation REGRESS output_iso/regression.diffs

# --- 6. pgTAP ----------------------------------------------------------------------
say "pgTAP tests (pg_prove test/pgtap/*.sql)"
if compgen -G 'test/pgtap/*.sql' >/dev/null; then
  if dropdb --if-exists "$PGTAP_DB" && createdb "$PGTAP_DB" &&
    psql -X -q -v ON_ERROR_STOP=1 -d "$PGTAP_DB" \
      -f test/fixtures/supabase.sql -f test/fixtures/seed.sql -f test/fixtures/postgrest.sql \
      -c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION geo_import CASCADE' \
      >"$LOG_DIR/pgtap-setup.log" 2>&1; then
    set +e
    pg_prove --verbose -d "$PGTAP_DB" test/pgtap/*.sql >"$LOG_DIR/pgtap.log" 2>&1
    prove_rc=$?
    set -e
    # Show failures and the summary; passing assertions are in the log.
    grep -Ev '^ok [0-9]' "$LOG_DIR/pgtap.log" || true
    # TAP: "ok N - ...", "not ok N - ..."; a failing TODO counts as expected.
    passed=$(grep -Ec '^ok [0-9]|^not ok [0-9].*# TODO' "$LOG_DIR/pgtap.log" || true)
    failed=$(grep -E '^not ok [0-9]' "$LOG_DIR/pgtap.log" | grep -vc '# TODO' || true)
    # A file that died or missed its plan fails without a "not ok" line.
    [ "$prove_rc" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
    record pgtap "$passed" "$failed"
  else
    cat "$LOG_DIR/pgtap-setup.log"
    echo "pgTAP database setup failed (fixtures or CREATE EXTENSION); see above"
    record pgtap 0 1
  fi
else
  echo "no test/pgtap/*.sql tests"
  record pgtap 0 0
fi

# --- 7. scenario scripts ---------------------------------------------------------------
say "Scenario scripts (test/scripts/*.sh)"
passed=0
failed=0
for script in test/scripts/*.sh; do
  [ -e "$script" ] || { echo "no test/scripts/*.sh scripts"; break; }
  name=$(basename "$script" .sh)
  echo "--- $script"
  set +e
  # Each script gets the cluster's environment and a database of its choice;
  # PGDATABASE=postgres is the default.
  timeout "$SCRIPT_TIMEOUT" bash "$script" 2>&1 | tee "$LOG_DIR/script-$name.log"
  script_rc=${PIPESTATUS[0]}
  set -e
  if [ "$script_rc" -eq 0 ]; then
    echo "PASS $script"
    passed=$((passed + 1))
  else
    [ "$script_rc" -ne 124 ] || echo "(timed out after ${SCRIPT_TIMEOUT}s)"
    echo "FAIL $script (exit $script_rc)"
    failed=$((failed + 1))
  fi
done
record scripts "$passed" "$failed"

# --- summary ---------------------------------------------------------------------------
total_passed=0
total_failed=0
echo
echo "==================== geo_import test summary ===================="
for i in "${!suite_names[@]}"; do
  printf '%-14s %d passed, %d failed\n' "${suite_names[$i]}:" "${suite_passed[$i]}" "${suite_failed[$i]}"
  total_passed=$((total_passed + suite_passed[i]))
  total_failed=$((total_failed + suite_failed[i]))
done
printf '%-14s %d passed, %d failed   (%ds)\n' "total:" "$total_passed" "$total_failed" "$(($(date +%s) - START_TIME))"
[ "$total_failed" -eq 0 ] || exit 1
