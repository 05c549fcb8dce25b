#!/usr/bin/env bash
# Local infrastructure for development and tests: Apache Kafka and PostgreSQL.
#   deploy/local/infra.sh up | down | status
# When KAFKA_BOOTSTRAP_SERVERS (or DATABASE_URL) is set, that service is taken as given and
# nothing is started or stopped for it.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cmd="${1:-}"
case "$cmd" in up|down|status) ;; *) echo "usage: $0 up|down|status" >&2; exit 2 ;; esac
rc=0
if [ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
  echo "kafka: using KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS (nothing started)" >&2
else
  "$HERE/kafka.sh" "$cmd" || rc=$?
fi
if [ -n "${DATABASE_URL:-}" ]; then
  echo "postgres: using DATABASE_URL from the environment (nothing started)" >&2
else
  "$HERE/postgres.sh" "$cmd" || rc=$?
fi
exit $rc
