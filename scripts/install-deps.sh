#!/usr/bin/env bash
# Installs every Debian package geo_import needs to build, test and demo;
# with --bench also what the benchmark compares against and measures with.
# Idempotent: packages already present are left alone; apt-get runs only when
# something is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang-format
  postgresql-15 postgresql-server-dev-15 postgresql-contrib
  postgresql-15-postgis-3 postgis
  libgeos-dev libsimdjson-dev libgtest-dev
  postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
  postgresql-15-wal2json
  procps python3 jq
)
if [ "${1:-}" = "--bench" ]; then
  packages+=(gdal-bin python3-psycopg2 gnuplot-nox linux-perf valgrind time)
fi
# The demo fetches real GeoJSON with `npm pack`; keep an existing Node.js
# (e.g. NodeSource's, which bundles npm) rather than pulling Debian's.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done

if ((${#missing[@]})); then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  echo "geo_import: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
