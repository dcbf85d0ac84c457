#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for tests and the demo.
#
#   scripts/cluster.sh start   start (or reuse) the cluster; prints export lines
#   scripts/cluster.sh env     prints the export lines of the running cluster
#   scripts/cluster.sh status  says whether the recorded cluster runs
#   scripts/cluster.sh stop    stops it and removes its temporary directory
#   scripts/cluster.sh crash   `pg_ctl stop -m immediate`: a simulated server crash
#                              (data, state and port are kept)
#   scripts/cluster.sh restart starts the recorded cluster again after a crash
#                              (or a stop by hand), with crash recovery
#
#   eval "$(scripts/cluster.sh start)"   # connect with plain psql afterwards
#
# Messages go to stderr, export lines to stdout, so `eval "$(...)"` works.
# Sourcing the file defines cluster_start/cluster_env/cluster_stop instead.
#
# State lives in .cluster/<name>.state in the repository; <name> comes from
# GEO_IMPORT_CLUSTER (default "default"), so scripts/test.sh can run its own
# cluster ("test") next to the one the demo leaves running.
#
# The cluster: initdb in a fresh directory under /tmp (owned by the `postgres`
# OS user when run as root, since initdb and pg_ctl refuse to run as root),
# the first free port from 54320 up, its unix socket in that directory only
# (no TCP unless GEO_IMPORT_CLUSTER_LISTEN is set, e.g. to 127.0.0.1), trust
# authentication, superuser `postgres`, plus a superuser role named after the
# invoking OS user. wal_level = logical and wal2json allowed, for the
# progress/Realtime tests; no shared_preload_libraries (the extension must not
# need it).
#
# Settings for a new cluster (ignored when a running one is reused; stop it
# first to apply them):
#   GEO_IMPORT_CLUSTER_MAX_WORKERS  max_worker_processes (default 32). The
#       logical replication launcher takes one slot, and every running import
#       one more for its progress worker, so 2 leaves a single free slot.
#   GEO_IMPORT_CLUSTER_SETTINGS     extra postgresql.conf lines, appended last
#       (e.g. $'max_parallel_workers_per_gather = 0\nlog_min_messages = log').
set -euo pipefail

PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
CLUSTER_REPO=${CLUSTER_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
CLUSTER_NAME=${GEO_IMPORT_CLUSTER:-default}
CLUSTER_STATE_DIR="$CLUSTER_REPO/.cluster"
CLUSTER_STATE="$CLUSTER_STATE_DIR/$CLUSTER_NAME.state"
CLUSTER_FIRST_PORT=${GEO_IMPORT_CLUSTER_FIRST_PORT:-54320}
CLUSTER_DATABASE=${GEO_IMPORT_CLUSTER_DATABASE:-postgres}

cluster_log() { echo "cluster.sh: $*" >&2; }
cluster_die() { echo "cluster.sh: error: $*" >&2; exit 1; }

# Runs a server binary as the OS user that owns the cluster: `postgres` when
# we are root (initdb/pg_ctl refuse root), ourselves otherwise.
cluster_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Reads the state file into CLUSTER_DIR and CLUSTER_PORT; fails when absent.
cluster_read_state() {
  [ -f "$CLUSTER_STATE" ] || return 1
  CLUSTER_DIR=$(sed -n 's/^dir=//p' "$CLUSTER_STATE")
  CLUSTER_PORT=$(sed -n 's/^port=//p' "$CLUSTER_STATE")
  [ -n "$CLUSTER_DIR" ] && [ -n "$CLUSTER_PORT" ]
}

cluster_running() {
  [ -d "$CLUSTER_DIR/data" ] &&
    cluster_as_owner "$PG_BINDIR/pg_ctl" -D "$CLUSTER_DIR/data" status >/dev/null 2>&1 &&
    "$PG_BINDIR/pg_isready" -q -h "$CLUSTER_DIR" -p "$CLUSTER_PORT" -t 5
}

# A port is free when nothing listens on it over TCP, no other throwaway
# cluster (of any checkout) has its socket on it, and no cluster of this
# checkout recorded it (a stopped-but-recorded cluster may come back).
cluster_port_free() {
  local port=$1
  if command -v ss >/dev/null 2>&1; then
    [ -z "$(ss -Hltn "sport = :$port" 2>/dev/null)" ] || return 1
  elif (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    return 1
  fi
  ! compgen -G "/tmp/geo_import_cluster.*/.s.PGSQL.$port" >/dev/null || return 1
  ! grep -qsx "port=$port" "$CLUSTER_STATE_DIR"/*.state
}

cluster_env() {
  cluster_read_state || cluster_die "no cluster recorded in $CLUSTER_STATE; run: scripts/cluster.sh start"
  cat <<EOF
export PGHOST=$CLUSTER_DIR
export PGPORT=$CLUSTER_PORT
export PGUSER=postgres
export PGDATABASE=$CLUSTER_DATABASE
export GEO_IMPORT_CLUSTER_DIR=$CLUSTER_DIR
export GEO_IMPORT_CLUSTER_LOG=$CLUSTER_DIR/postgres.log
EOF
}

# Stops the recorded cluster (if any) and removes its directory and state.
cluster_stop() {
  if cluster_read_state; then
    if [ -d "$CLUSTER_DIR/data" ]; then
      cluster_as_owner "$PG_BINDIR/pg_ctl" -D "$CLUSTER_DIR/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
        cluster_as_owner "$PG_BINDIR/pg_ctl" -D "$CLUSTER_DIR/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    # Only ever remove what we created: a directory under /tmp with our prefix.
    case "$CLUSTER_DIR" in
      /tmp/geo_import_cluster.*) rm -rf -- "$CLUSTER_DIR" ;;
      *) cluster_log "not removing unexpected directory $CLUSTER_DIR" ;;
    esac
    cluster_log "stopped cluster '$CLUSTER_NAME' (port $CLUSTER_PORT)"
  fi
  rm -f -- "$CLUSTER_STATE"
}

cluster_start() {
  [ -x "$PG_BINDIR/initdb" ] || cluster_die "$PG_BINDIR/initdb not found; run scripts/install-deps.sh"
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    cluster_die "running as root needs the 'postgres' OS user (created by the postgresql-15 package)"
  fi

  if cluster_read_state; then
    if cluster_running; then
      cluster_log "reusing running cluster '$CLUSTER_NAME' on port $CLUSTER_PORT ($CLUSTER_DIR)"
      cluster_env
      return 0
    fi
    cluster_log "recorded cluster '$CLUSTER_NAME' is stale; starting a new one"
    cluster_stop
  fi
  mkdir -p "$CLUSTER_STATE_DIR"

  CLUSTER_DIR=$(mktemp -d /tmp/geo_import_cluster.XXXXXX)
  # 0700: trust authentication, so only the owner (and root) may reach the socket.
  chmod 0700 "$CLUSTER_DIR"
  [ "$(id -u)" -ne 0 ] || chown postgres: "$CLUSTER_DIR"

  cluster_as_owner "$PG_BINDIR/initdb" -D "$CLUSTER_DIR/data" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C --no-sync >"$CLUSTER_DIR/initdb.log" 2>&1 ||
    { cat "$CLUSTER_DIR/initdb.log" >&2; rm -rf -- "$CLUSTER_DIR"; cluster_die "initdb failed"; }

  cluster_as_owner tee -a "$CLUSTER_DIR/data/postgresql.conf" >/dev/null <<EOF

# --- geo_import throwaway cluster (scripts/cluster.sh) ---
listen_addresses = '${GEO_IMPORT_CLUSTER_LISTEN:-}'
unix_socket_directories = '$CLUSTER_DIR'
wal_level = logical
max_worker_processes = ${GEO_IMPORT_CLUSTER_MAX_WORKERS:-32}
max_replication_slots = 10
max_wal_senders = 10
output_plugin_libraries = 'pgoutput, test_decoding, wal2json'
# Throwaway data: durability only costs time. synchronous_commit stays on:
# logical decoding (pg_logical_slot_get_changes, wal2json) only sees commits
# whose WAL is flushed, and tests read slots right after committing.
fsync = off
full_page_writes = off
max_wal_size = 4GB
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
EOF
  if [ -n "${GEO_IMPORT_CLUSTER_SETTINGS:-}" ]; then
    printf '# GEO_IMPORT_CLUSTER_SETTINGS\n%s\n' "$GEO_IMPORT_CLUSTER_SETTINGS" |
      cluster_as_owner tee -a "$CLUSTER_DIR/data/postgresql.conf" >/dev/null
  fi

  # Try ports upwards; retry when another process grabs ours between the
  # check and the start.
  local port=$CLUSTER_FIRST_PORT started=0 attempt
  for attempt in $(seq 1 50); do
    while ! cluster_port_free "$port"; do port=$((port + 1)); done
    if cluster_as_owner "$PG_BINDIR/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/postgres.log" \
      -o "-p $port" -w -t 60 start >/dev/null 2>&1; then
      started=1
      break
    fi
    cluster_log "could not start on port $port (attempt $attempt), trying the next one"
    port=$((port + 1))
  done
  if [ "$started" -ne 1 ]; then
    tail -n 30 "$CLUSTER_DIR/postgres.log" >&2 || true
    rm -rf -- "$CLUSTER_DIR"
    cluster_die "could not start PostgreSQL"
  fi
  # The port goes into postgresql.conf too, so a manual pg_ctl restart keeps it.
  echo "port = $port" | cluster_as_owner tee -a "$CLUSTER_DIR/data/postgresql.conf" >/dev/null
  CLUSTER_PORT=$port
  printf 'dir=%s\nport=%s\n' "$CLUSTER_DIR" "$CLUSTER_PORT" >"$CLUSTER_STATE"

  # A superuser role for the invoking OS user, so plain `psql -U $USER` works too.
  local me
  me=$(id -un)
  if [ "$me" != postgres ]; then
    "$PG_BINDIR/psql" -X -q -h "$CLUSTER_DIR" -p "$CLUSTER_PORT" -U postgres -d postgres \
      -v ON_ERROR_STOP=1 -v me="$me" >/dev/null <<'EOF' || cluster_die "could not create role $me"
SELECT format('CREATE ROLE %I SUPERUSER LOGIN', :'me')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'me') \gexec
EOF
  fi
  cluster_log "started cluster '$CLUSTER_NAME' on port $CLUSTER_PORT ($CLUSTER_DIR, log $CLUSTER_DIR/postgres.log)"
  cluster_env
}

# A simulated server crash: every server process stops at once, without a
# checkpoint; the next start runs crash recovery.
cluster_crash() {
  cluster_read_state || cluster_die "no cluster recorded in $CLUSTER_STATE"
  cluster_as_owner "$PG_BINDIR/pg_ctl" -D "$CLUSTER_DIR/data" -m immediate -w -t 60 stop >/dev/null ||
    cluster_die "pg_ctl stop -m immediate failed"
  cluster_log "crashed cluster '$CLUSTER_NAME' (pg_ctl stop -m immediate); scripts/cluster.sh restart brings it back"
}

# Starts the recorded cluster again (same directory, same port).
cluster_restart() {
  cluster_read_state || cluster_die "no cluster recorded in $CLUSTER_STATE"
  if ! cluster_running; then
    cluster_as_owner "$PG_BINDIR/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/postgres.log" -w -t 120 start \
      >/dev/null || { tail -n 30 "$CLUSTER_DIR/postgres.log" >&2; cluster_die "could not restart the cluster"; }
  fi
  cluster_log "restarted cluster '$CLUSTER_NAME' on port $CLUSTER_PORT"
  cluster_env
}

cluster_status() {
  if cluster_read_state && cluster_running; then
    cluster_log "cluster '$CLUSTER_NAME' runs on port $CLUSTER_PORT ($CLUSTER_DIR)"
  else
    cluster_log "cluster '$CLUSTER_NAME' is not running"
    return 1
  fi
}

# Executed (not sourced): dispatch the subcommand.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    start) cluster_start ;;
    stop) cluster_stop ;;
    crash) cluster_crash ;;
    restart) cluster_restart ;;
    env) cluster_read_state && cluster_running || cluster_die "cluster '$CLUSTER_NAME' is not running; run: scripts/cluster.sh start"
         cluster_env ;;
    status) cluster_status ;;
    *) echo "usage: $0 start|stop|crash|restart|env|status   (cluster name from GEO_IMPORT_CLUSTER, default 'default')" >&2; exit 2 ;;
  esac
fi
