# Shell helpers for scripts/test.sh, scripts/demo.sh and bench/run.sh.
# Source it after setting REPO and SCRIPT_NAME (used in messages).

# PostgreSQL 15's binaries first (psql, pg_ctl, pg_recvlogical), and its pg_config.
PG_BINDIR=/usr/lib/postgresql/15/bin
export PG_CONFIG=${PG_CONFIG:-$PG_BINDIR/pg_config}
export PATH="$PG_BINDIR:$PATH"

say() { printf '\n==> %s\n' "$*"; }

die() {
  printf '\n%s: FAILED: %s\n' "${SCRIPT_NAME:-geo_import}" "$*" >&2
  exit 1
}

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  else
    command -v sudo >/dev/null 2>&1 || die "need root or sudo for: $*"
    sudo "$@"
  fi
}

# Builds the extension and installs it into the PostgreSQL of $PG_CONFIG.
build_and_install() {
  say "Building the extension (make -j2)"
  make -j2 PG_CONFIG="$PG_CONFIG" || die "make failed"
  say "Installing the extension (make install)"
  as_root make install PG_CONFIG="$PG_CONFIG" || die "make install failed"
}

# Stops the script's throwaway cluster when the script exits, once
# cluster_started=1 says it was started.
cluster_started=0
stop_cluster_on_exit() {
  local rc=$?
  if [ "$cluster_started" -eq 1 ]; then
    bash "$REPO/scripts/cluster.sh" stop || true
  fi
  exit "$rc"
}
