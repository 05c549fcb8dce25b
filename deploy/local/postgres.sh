#!/usr/bin/env bash
# A private PostgreSQL cluster for local development and tests.
#   deploy/local/postgres.sh up | down | status
# Debian's PostgreSQL packages are installed when initdb is missing. The cluster lives in
# .local/postgres (git-ignored), listens on 127.0.0.1:54320, and has the role and database
# `clients` (trust authentication on loopback: a development cluster, never a production one).
# POSTGRES_DB names the database `up` makes sure of (the tests use `clients_test`).
# POSTGRES_SHARED_BUFFERS (default 2GB) sizes the buffer cache, applied at every start: the
# benches' million-client store (about 1.1 GB of table and indexes) did not fit in 256MB, and each
# write then read and evicted pages from the OS cache (README, "Benchmarks").
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE="${POSTGRES_STATE_DIR:-$ROOT/.local/postgres}"
PORT="${POSTGRES_LOCAL_PORT:-54320}"
DB="${POSTGRES_DB:-clients}"
DATA="$STATE/data"
LOG="$STATE/postgres.log"
SHARED_BUFFERS="${POSTGRES_SHARED_BUFFERS:-2GB}"

log() { echo "postgres: $*" >&2; }

find_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

BINDIR=$(find_bindir)
if [ -z "$BINDIR" ] && [ "${1:-}" = up ]; then
  log "PostgreSQL is not installed; installing Debian's packages"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  BINDIR=$(find_bindir)
fi

# PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` system user
# (created by the Debian package), who must be able to reach the folder.
as_owner() {  # from /: the caller's folder may be one the postgres user cannot enter
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}
if [ "$(id -u)" -eq 0 ] && [ "${1:-}" = up ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi
if [ "$(id -u)" -eq 0 ] && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$ROOT"; then
  # Not reachable (e.g. a clone under /root): keep the cluster in a per-checkout folder instead.
  STATE="/var/lib/clients-pipeline/$(echo -n "$ROOT" | sha256sum | cut -c1-12)/postgres"
  DATA="$STATE/data"; LOG="$STATE/postgres.log"
  [ "${1:-}" != up ] || log "$ROOT is not reachable by the postgres user; using $STATE"
fi
if [ "$(id -u)" -eq 0 ] && [ "${1:-}" = up ]; then
  mkdir -p "$STATE" && chown postgres:postgres "$STATE"
fi

pgctl() { as_owner "$BINDIR/pg_ctl" -D "$DATA" "$@"; }

running() { [ -n "$BINDIR" ] && [ -f "$DATA/PG_VERSION" ] && pgctl status >/dev/null 2>&1; }

up() {
  if running; then log "already running on 127.0.0.1:$PORT"; else
    if [ ! -f "$DATA/PG_VERSION" ]; then
      log "initialising a cluster in $DATA"
      as_owner mkdir -p "$DATA"
      as_owner "$BINDIR/initdb" -D "$DATA" -U clients --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
      cat >>"$DATA/postgresql.conf" <<CONF
# clients pipeline: local development and tests
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DATA'
max_connections = 200
logging_collector = off
CONF
    fi
    # What may change between starts lives in clients.conf, written anew each time (a cluster
    # made before it existed gets the include line once; the last setting read wins).
    grep -q "^include_if_exists = 'clients.conf'" "$DATA/postgresql.conf" \
      || echo "include_if_exists = 'clients.conf'" | as_owner tee -a "$DATA/postgresql.conf" >/dev/null
    printf "# written by deploy/local/postgres.sh at every start\nshared_buffers = '%s'\n" \
      "$SHARED_BUFFERS" | as_owner tee "$DATA/clients.conf" >/dev/null
    as_owner touch "$LOG" 2>/dev/null || true
    if ! pgctl -l "$LOG" -w -t 60 start >/dev/null; then
      log "did not start; see $LOG"; tail -n 30 "$LOG" >&2 || true; exit 1
    fi
    log "up on 127.0.0.1:$PORT; log: $LOG"
  fi
  local exists
  exists=$("$BINDIR/psql" -h 127.0.0.1 -p "$PORT" -U clients -d postgres -tAc \
           "SELECT 1 FROM pg_database WHERE datname = '$DB'")
  [ "$exists" = 1 ] || "$BINDIR/createdb" -h 127.0.0.1 -p "$PORT" -U clients "$DB"
}

down() {
  if running; then pgctl -m fast -w stop >/dev/null; log "stopped"; else log "not running"; fi
}

status() { if running; then log "running on 127.0.0.1:$PORT"; else log "not running"; return 1; fi; }

case "${1:-}" in
  up) up ;; down) down ;; status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
