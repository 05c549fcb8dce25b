#!/usr/bin/env bash
# Apache Kafka (KRaft, one combined broker+controller) for local development and tests.
#   deploy/local/kafka.sh up | down | status
# The broker jars are resolved from Maven Central by Maven (kafka/pom.xml pins the version) and
# cached in .local/kafka/libs; storage is formatted once; the broker listens on 127.0.0.1:9092.
# Topics are never auto-created: `clients topics` creates them with explicit partition counts.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/deploy/local/kafka"
STATE="${KAFKA_STATE_DIR:-$ROOT/.local/kafka}"
LIBS="$STATE/libs"
PORT="${KAFKA_LOCAL_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_LOCAL_CONTROLLER_PORT:-9093}"
PIDFILE="$STATE/kafka.pid"
LOG="$STATE/logs/server.log"
OUT="$STATE/logs/kafka.out"
VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/pom.xml")

log() { echo "kafka: $*" >&2; }

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

fetch_jars() {
  if [ -f "$LIBS/kafka_2.13-$VERSION.jar" ]; then return; fi
  command -v mvn >/dev/null || { log "Maven (mvn) is required to resolve the Kafka jars"; exit 1; }
  command -v java >/dev/null || { log "Java 17 is required to run Kafka"; exit 1; }
  log "resolving Apache Kafka $VERSION from Maven Central into $LIBS"
  rm -rf "$LIBS.tmp"
  mvn -q -B -Dstyle.color=never -f "$HERE/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$LIBS.tmp"
  rm -rf "$LIBS" && mv "$LIBS.tmp" "$LIBS"
}

write_config() {
  mkdir -p "$STATE/data" "$STATE/logs"
  sed -e "s|@DATA@|$STATE/data|g" -e "s|@PORT@|$PORT|g" -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" \
      "$HERE/server.properties.in" > "$STATE/server.properties"
  cp "$HERE/log4j.properties" "$STATE/log4j.properties"
}

format_storage() {
  if [ -f "$STATE/data/meta.properties" ]; then return; fi
  local cluster_id
  cluster_id=$(java -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
  log "formatting KRaft storage (cluster $cluster_id)"
  java -cp "$LIBS/*" -Dlog4j.configuration="file:$STATE/log4j.properties" -Dkafka.logs.dir="$STATE/logs" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$STATE/server.properties" >>"$OUT" 2>&1
}

up() {
  if running; then log "already running (pid $(cat "$PIDFILE")) on 127.0.0.1:$PORT"; return; fi
  if port_open; then log "something already listens on 127.0.0.1:$PORT; not starting another broker"; exit 1; fi
  fetch_jars
  write_config
  format_storage
  : >"$OUT"
  # setsid: the broker outlives the shell that started it (and Ctrl-C of `make run`).
  setsid java -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
      -Dlog4j.configuration="file:$STATE/log4j.properties" -Dkafka.logs.dir="$STATE/logs" \
      -cp "$LIBS/*" kafka.Kafka "$STATE/server.properties" >>"$OUT" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 120); do
    if ! running; then break; fi
    if port_open && grep -q "Kafka Server started" "$LOG" 2>/dev/null; then
      log "up on 127.0.0.1:$PORT (pid $(cat "$PIDFILE")); log: $LOG"; return
    fi
    sleep 0.5
  done
  log "broker did not come up; see $LOG and $OUT"
  tail -n 30 "$OUT" "$LOG" >&2 2>/dev/null || true
  down
  exit 1
}

down() {
  if ! running; then log "not running"; rm -f "$PIDFILE"; return; fi
  local pid; pid=$(cat "$PIDFILE")
  kill "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then log "forcing stop"; kill -9 "$pid"; fi
  rm -f "$PIDFILE"
  log "stopped"
}

status() { if running; then log "running (pid $(cat "$PIDFILE"))"; else log "not running"; return 1; fi; }

case "${1:-}" in
  up) up ;; down) down ;; status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
