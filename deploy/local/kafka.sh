#!/usr/bin/env bash
# Apache Kafka (KRaft, combined broker+controller nodes) for local development and tests.
#   deploy/local/kafka.sh up | down | status
# The broker jars are resolved from Maven Central by Maven (kafka/pom.xml pins the version) and
# cached in .local/kafka/libs. One node by default, listening on 127.0.0.1:9092 (controller
# 9093). KAFKA_NODES=3 starts a cluster of three: node i listens on KAFKA_LOCAL_PORT + 2(i-1)
# (9092, 9094, 9096) with its controller on KAFKA_LOCAL_CONTROLLER_PORT + 2(i-1), each in
# STATE/node<i>. `up` starts whichever nodes are not running (so it restarts a killed one).
# Storage is formatted once per node. Topics are never auto-created: `clients topics` creates
# them with explicit partition counts and replication min(3, brokers).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/deploy/local/kafka"
STATE="${KAFKA_STATE_DIR:-$ROOT/.local/kafka}"
# The jars are shared by every state folder of this checkout.
LIBS="${KAFKA_LIBS_DIR:-$ROOT/.local/kafka/libs}"
PORT="${KAFKA_LOCAL_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_LOCAL_CONTROLLER_PORT:-9093}"
NODES="${KAFKA_NODES:-1}"
VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/pom.xml")

log() { echo "kafka: $*" >&2; }

case "$NODES" in 1|2|3|4|5) ;; *) log "KAFKA_NODES must be 1 to 5"; exit 2 ;; esac

# A node's folder, ports: one node keeps the folder itself (as it always had), several get one each.
node_dir() { if [ "$NODES" -eq 1 ]; then echo "$STATE"; else echo "$STATE/node$1"; fi; }
node_port() { echo $((PORT + 2 * ($1 - 1))); }
node_controller_port() { echo $((CONTROLLER_PORT + 2 * ($1 - 1))); }

alive() {  # pid: a live process (a killed broker nobody has reaped yet is a zombie, not alive)
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

running() { local pidfile; pidfile="$(node_dir "$1")/kafka.pid"
            [ -f "$pidfile" ] && alive "$(cat "$pidfile")"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

fetch_jars() {
  if [ -f "$LIBS/kafka_2.13-$VERSION.jar" ]; then return; fi
  command -v mvn >/dev/null || { log "Maven (mvn) is required to resolve the Kafka jars"; exit 1; }
  command -v java >/dev/null || { log "Java 17 is required to run Kafka"; exit 1; }
  log "resolving Apache Kafka $VERSION from Maven Central into $LIBS"
  rm -rf "$LIBS.tmp"
  mkdir -p "$(dirname "$LIBS")"
  mvn -q -B -Dstyle.color=never -f "$HERE/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$LIBS.tmp"
  rm -rf "$LIBS" && mv "$LIBS.tmp" "$LIBS"
}

voters() {
  local i out=""
  for i in $(seq 1 "$NODES"); do out="$out${out:+,}$i@127.0.0.1:$(node_controller_port "$i")"; done
  echo "$out"
}

write_config() {  # node
  local dir rf min_isr
  dir=$(node_dir "$1")
  rf=$(( NODES < 3 ? NODES : 3 )); min_isr=$(( rf < 3 ? 1 : 2 ))
  mkdir -p "$dir/data" "$dir/logs"
  sed -e "s|@DATA@|$dir/data|g" -e "s|@PORT@|$(node_port "$1")|g" \
      -e "s|@CONTROLLER_PORT@|$(node_controller_port "$1")|g" -e "s|@NODE_ID@|$1|g" \
      -e "s|@VOTERS@|$(voters)|g" -e "s|@RF@|$rf|g" -e "s|@MIN_ISR@|$min_isr|g" \
      "$HERE/server.properties.in" > "$dir/server.properties"
  cp "$HERE/log4j.properties" "$dir/log4j.properties"
}

cluster_id() {  # one id for every node of the cluster, kept beside them
  local file="$STATE/cluster.id"
  if [ ! -s "$file" ]; then
    mkdir -p "$STATE"
    java -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1 >"$file"
  fi
  cat "$file"
}

format_storage() {  # node
  local dir; dir=$(node_dir "$1")
  if [ -f "$dir/data/meta.properties" ]; then return; fi
  log "formatting KRaft storage of node $1 (cluster $(cluster_id))"
  java -cp "$LIBS/*" -Dlog4j.configuration="file:$dir/log4j.properties" -Dkafka.logs.dir="$dir/logs" \
      kafka.tools.StorageTool format -t "$(cluster_id)" -c "$dir/server.properties" \
      >>"$dir/logs/kafka.out" 2>&1
}

start_node() {  # node: starts it in the background, returns at once
  local dir port; dir=$(node_dir "$1"); port=$(node_port "$1")
  if running "$1"; then log "node $1 already running (pid $(cat "$dir/kafka.pid")) on 127.0.0.1:$port"; return; fi
  if port_open "$port"; then log "something already listens on 127.0.0.1:$port; not starting another broker"; exit 1; fi
  write_config "$1"
  format_storage "$1"
  : >"$dir/logs/kafka.out"
  rm -f "$dir/logs/server.log"
  # setsid: the broker outlives the shell that started it (and Ctrl-C of `make run`).
  setsid java -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
      -Dlog4j.configuration="file:$dir/log4j.properties" -Dkafka.logs.dir="$dir/logs" \
      -cp "$LIBS/*" kafka.Kafka "$dir/server.properties" >>"$dir/logs/kafka.out" 2>&1 </dev/null &
  echo $! >"$dir/kafka.pid"
}

started() {  # node: it answers and has said so
  local dir; dir=$(node_dir "$1")
  port_open "$(node_port "$1")" && grep -q "Kafka Server started" "$dir/logs/server.log" 2>/dev/null
}

up() {
  local i pending
  fetch_jars
  for i in $(seq 1 "$NODES"); do start_node "$i"; done
  # A node of a cluster finishes starting only once a quorum of controllers is up: wait for all.
  for _ in $(seq 1 240); do
    pending=0
    for i in $(seq 1 "$NODES"); do
      if ! running "$i"; then
        log "node $i exited; see $(node_dir "$i")/logs"; tail -n 30 "$(node_dir "$i")/logs/kafka.out" >&2 || true
        down; exit 1
      fi
      started "$i" || pending=1
    done
    if [ "$pending" -eq 0 ]; then
      for i in $(seq 1 "$NODES"); do
        log "node $i up on 127.0.0.1:$(node_port "$i") (pid $(cat "$(node_dir "$i")/kafka.pid")); log: $(node_dir "$i")/logs/server.log"
      done
      return
    fi
    sleep 0.5
  done
  log "the broker(s) did not come up; see the logs under $STATE"
  down
  exit 1
}

down() {  # every node this folder has, whatever KAFKA_NODES says now, all at once: a node
          # left alone without its quorum would wait in controlled shutdown
  local pidfile pid pids=() any=0
  for pidfile in "$STATE/kafka.pid" "$STATE"/node*/kafka.pid; do
    [ -f "$pidfile" ] || continue
    any=1; pid=$(cat "$pidfile"); rm -f "$pidfile"
    if alive "$pid"; then kill "$pid"; pids+=("$pid"); fi
  done
  for _ in $(seq 1 60); do
    local left=0
    for pid in "${pids[@]+"${pids[@]}"}"; do alive "$pid" && left=1; done
    [ "$left" -eq 0 ] && break
    sleep 0.5
  done
  for pid in "${pids[@]+"${pids[@]}"}"; do
    if alive "$pid"; then log "forcing stop of pid $pid"; kill -9 "$pid"; fi
  done
  if [ "$any" -eq 1 ]; then log "stopped"; else log "not running"; fi
}

status() {
  local i rc=0
  for i in $(seq 1 "$NODES"); do
    if running "$i"; then log "node $i running (pid $(cat "$(node_dir "$i")/kafka.pid"))"
    else log "node $i not running"; rc=1; fi
  done
  return $rc
}

case "${1:-}" in
  up) up ;; down) down ;; status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
