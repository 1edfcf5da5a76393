#!/usr/bin/env bash
# Local services for fleetstream live mode and its integration tests:
# a real Apache Kafka broker (KRaft, combined broker+controller, single node)
# and redis-server, both on 127.0.0.1 with persistence off for Redis.
#
#   scripts/services.sh start    fetch (first time), start, wait until both answer
#   scripts/services.sh stop     stop what this script started (never anything else)
#   scripts/services.sh status   what runs, where, and whether it answers
#   scripts/services.sh env      the export lines: eval "$(scripts/services.sh env)"
#   scripts/services.sh logs     the last lines of both logs
#   scripts/services.sh clean    stop, then delete the state dir (Kafka data, logs)
#   scripts/services.sh start-extra | stop-extra | kill-extra | status-extra
#                                a second, private broker for tests that kill it (see below)
#
# Idempotent: `start` on running services only checks them; `stop` on stopped
# ones does nothing.  Details, ports and caches: docs/services.md.
#
# Extra broker (tests and benchmarks/live_parity.py that kill and restart a broker
# without disturbing the shared one): FLEETSTREAM_SERVICES_DIR must name a state dir
# of its own and FLEETSTREAM_KAFKA_PORT / FLEETSTREAM_KAFKA_CONTROLLER_PORT free
# ports; FLEETSTREAM_KAFKA__BOOTSTRAP / FLEETSTREAM_REDIS__URL are ignored.  The same
# jars, config and checks as `start`; heap 384m unless FLEETSTREAM_KAFKA_HEAP.
# `kill-extra` is SIGKILL (a crash); `start-extra` again restarts it on its data.
#
# Environment (all optional):
#   FLEETSTREAM_KAFKA__BOOTSTRAP an existing broker: nothing is started for Kafka
#   FLEETSTREAM_REDIS__URL       an existing Redis: nothing is started for Redis
#                                (the engine's own settings variables, docs/configuration.md;
#                                the old FLEETSTREAM_KAFKA_BOOTSTRAP / FLEETSTREAM_REDIS_URL
#                                spellings are still read, for one release)
#   KAFKA_HOME                   a Kafka 4.x distribution: its libs/ replace the Maven fetch
#   FLEETSTREAM_KAFKA_VERSION    Kafka release fetched from Maven Central (default 4.1.1)
#   FLEETSTREAM_KAFKA_PORT / FLEETSTREAM_KAFKA_CONTROLLER_PORT / FLEETSTREAM_REDIS_PORT
#                                (defaults 19092 / 19093 / 16379)
#   FLEETSTREAM_KAFKA_HEAP       JVM heap (default 1g)
#   FLEETSTREAM_SERVICES_DIR     state dir: pids, logs, Kafka data
#                                (default /tmp/fleetstream-services-$UID)
#   FLEETSTREAM_SERVICES_TIMEOUT seconds `start` waits for each service (default 90)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

KAFKA_VERSION=${FLEETSTREAM_KAFKA_VERSION:-4.1.1}
LOG4J_VERSION=2.25.3
SLF4J_VERSION=2.0.17
KAFKA_PORT=${FLEETSTREAM_KAFKA_PORT:-19092}
CONTROLLER_PORT=${FLEETSTREAM_KAFKA_CONTROLLER_PORT:-19093}
REDIS_PORT=${FLEETSTREAM_REDIS_PORT:-16379}
case "${1:-}" in
  *-extra)
    [ -n "${FLEETSTREAM_SERVICES_DIR:-}" ] || { echo "services: ERROR: $1 needs FLEETSTREAM_SERVICES_DIR (a state dir of its own)" >&2; exit 2; }
    [ "$FLEETSTREAM_SERVICES_DIR" != "/tmp/fleetstream-services-$(id -u)" ] || { echo "services: ERROR: $1 must not use the shared state dir" >&2; exit 2; }
    [ -n "${FLEETSTREAM_KAFKA_PORT:-}" ] && [ -n "${FLEETSTREAM_KAFKA_CONTROLLER_PORT:-}" ] || { echo "services: ERROR: $1 needs FLEETSTREAM_KAFKA_PORT and FLEETSTREAM_KAFKA_CONTROLLER_PORT" >&2; exit 2; }
    unset FLEETSTREAM_KAFKA_BOOTSTRAP FLEETSTREAM_REDIS_URL FLEETSTREAM_KAFKA__BOOTSTRAP FLEETSTREAM_REDIS__URL
    FLEETSTREAM_KAFKA_HEAP=${FLEETSTREAM_KAFKA_HEAP:-384m}
    ;;
esac
HEAP=${FLEETSTREAM_KAFKA_HEAP:-1g}
TIMEOUT=${FLEETSTREAM_SERVICES_TIMEOUT:-90}
STATE=${FLEETSTREAM_SERVICES_DIR:-/tmp/fleetstream-services-$(id -u)}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/fleetstream/services
KDIR=$STATE/kafka
RDIR=$STATE/redis
OUR_BOOTSTRAP=127.0.0.1:$KAFKA_PORT
OUR_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
EXT_BOOTSTRAP=${FLEETSTREAM_KAFKA__BOOTSTRAP:-${FLEETSTREAM_KAFKA_BOOTSTRAP:-}}
EXT_REDIS_URL=${FLEETSTREAM_REDIS__URL:-${FLEETSTREAM_REDIS_URL:-}}

say() { echo "services: $*" >&2; }
die() { echo "services: ERROR: $*" >&2; exit 1; }

# An address in the environment is "external" unless it is our own (a shell that
# already ran `eval "$(services.sh env)"` must still start and stop our services).
external_kafka() { [ -n "$EXT_BOOTSTRAP" ] && [ "$EXT_BOOTSTRAP" != "$OUR_BOOTSTRAP" ]; }
external_redis() { [ -n "$EXT_REDIS_URL" ] && [ "$EXT_REDIS_URL" != "$OUR_REDIS_URL" ]; }
kafka_addr() { if external_kafka; then echo "$EXT_BOOTSTRAP"; else echo "$OUR_BOOTSTRAP"; fi; }
redis_url() { if external_redis; then echo "$EXT_REDIS_URL"; else echo "$OUR_REDIS_URL"; fi; }

# pid from a pid file, only if that process is alive and is what we started.
alive_pid() {  # file pattern
  local f=$1 pat=$2 pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f" 2>/dev/null || true)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pat" || return 1
  echo "$pid"
}
kafka_pid() { alive_pid "$KDIR/kafka.pid" "kafka.Kafka"; }
redis_pid() { alive_pid "$RDIR/redis.pid" "redis-server"; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

python_bin() {
  if [ -x "$ROOT/.venv/bin/python" ] && "$ROOT/.venv/bin/python" -c 'import confluent_kafka' 2>/dev/null; then
    echo "$ROOT/.venv/bin/python"
  fi
}

# Kafka answers when a metadata request returns a broker (confluent_kafka from the
# venv); without the venv, when its port accepts and the log says it started.
kafka_answers() {  # bootstrap
  local py; py=$(python_bin)
  if [ -n "$py" ]; then
    "$py" - "$1" <<'EOF' 2>/dev/null
import sys
from confluent_kafka.admin import AdminClient
md = AdminClient({"bootstrap.servers": sys.argv[1], "socket.timeout.ms": 3000}).list_topics(timeout=3)
sys.exit(0 if md.brokers else 1)
EOF
  else
    local host=${1%:*} port=${1##*:}
    port_open "$host" "$port" && { external_kafka || grep -q "Kafka Server started" "$KDIR/kafka.log" 2>/dev/null; }
  fi
}

redis_answers() {  # url
  local hp=${1#redis://}; hp=${hp#*@}; hp=${hp%%/*}
  local host=${hp%:*} port=${hp##*:}
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -u "$1" ping 2>/dev/null)" = "PONG" ]
  else
    port_open "$host" "$port"
  fi
}

# ---------------------------------------------------------------- Kafka

kafka_libs() {
  if [ -n "${KAFKA_HOME:-}" ]; then
    [ -d "$KAFKA_HOME/libs" ] || die "KAFKA_HOME=$KAFKA_HOME has no libs/ folder"
    echo "$KAFKA_HOME/libs"
    return
  fi
  local dir=$CACHE/kafka-$KAFKA_VERSION
  if [ ! -f "$dir/libs/.complete" ]; then
    command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is needed to fetch the Kafka jars (apt-get install maven), or set KAFKA_HOME"
    say "fetching Kafka $KAFKA_VERSION jars with Maven into $dir/libs (once)"
    mkdir -p "$dir"
    rm -rf "$dir/libs"
    cat >"$dir/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>fleetstream.services</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>$SLF4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
    if ! mvn -q -B -f "$dir/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
         -DoutputDirectory="$dir/libs" >"$dir/mvn.log" 2>&1; then
      tail -30 "$dir/mvn.log" >&2
      die "Maven could not fetch the Kafka jars (log: $dir/mvn.log)"
    fi
    touch "$dir/libs/.complete"
  fi
  echo "$dir/libs"
}

write_kafka_config() {
  mkdir -p "$KDIR/data"
  cat >"$KDIR/server.properties" <<EOF
# Written by scripts/services.sh: single-node KRaft (combined broker + controller).
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KDIR/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
log.segment.bytes=67108864
EOF
  cat >"$KDIR/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $KDIR/kafka.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
}

java_bin() {
  local j=${JAVA_HOME:+$JAVA_HOME/bin/java}
  j=${j:-java}
  command -v "$j" >/dev/null 2>&1 || die "Java 17+ is needed for the Kafka broker (apt-get install openjdk-17-jre-headless)"
  local v; v=$("$j" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ "${v:-0}" -ge 17 ] || die "Kafka 4.x needs Java 17+, $j is version ${v:-unknown} (set JAVA_HOME)"
  echo "$j"
}

start_kafka() {
  if external_kafka; then
    say "Kafka: using the existing broker at $EXT_BOOTSTRAP (FLEETSTREAM_KAFKA__BOOTSTRAP)"
    wait_for kafka "$EXT_BOOTSTRAP" "" && return
    die "Kafka at $EXT_BOOTSTRAP does not answer"
  fi
  if kafka_pid >/dev/null; then
    say "Kafka already running (pid $(kafka_pid)) on $OUR_BOOTSTRAP"
  else
    port_open 127.0.0.1 "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by another process (set FLEETSTREAM_KAFKA_PORT)"
    port_open 127.0.0.1 "$CONTROLLER_PORT" && die "port $CONTROLLER_PORT is taken by another process (set FLEETSTREAM_KAFKA_CONTROLLER_PORT)"
    local java libs cp
    java=$(java_bin)
    libs=$(kafka_libs)
    cp="$libs/*"
    write_kafka_config
    local jvm=(-Xms"$HEAP" -Xmx"$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
               -Dlog4j2.configurationFile="$KDIR/log4j2.properties" -Dkafka.logs.dir="$KDIR")
    if [ ! -f "$KDIR/data/meta.properties" ]; then
      local cid
      cid=$("$java" "${jvm[@]}" -cp "$cp" kafka.tools.StorageTool random-uuid 2>>"$KDIR/format.log" | tail -1)
      [ -n "$cid" ] || { cat "$KDIR/format.log" >&2; die "kafka.tools.StorageTool random-uuid failed"; }
      echo "$cid" >"$KDIR/cluster.id"
      if ! "$java" "${jvm[@]}" -cp "$cp" kafka.tools.StorageTool format --standalone -t "$cid" \
           -c "$KDIR/server.properties" >>"$KDIR/format.log" 2>&1; then
        tail -20 "$KDIR/format.log" >&2
        die "formatting the Kafka storage failed (log: $KDIR/format.log)"
      fi
      say "Kafka storage formatted in $KDIR/data (cluster id $cid)"
    fi
    say "starting Kafka $( [ -n "${KAFKA_HOME:-}" ] && echo "from KAFKA_HOME=$KAFKA_HOME" || echo "$KAFKA_VERSION") on $OUR_BOOTSTRAP (controller 127.0.0.1:$CONTROLLER_PORT)"
    : >"$KDIR/kafka.out"
    setsid nohup "$java" "${jvm[@]}" -cp "$cp" kafka.Kafka "$KDIR/server.properties" \
      >>"$KDIR/kafka.out" 2>&1 </dev/null &
    echo $! >"$KDIR/kafka.pid"
  fi
  wait_for kafka "$OUR_BOOTSTRAP" "$KDIR/kafka.log" || {
    echo "--- $KDIR/kafka.out (tail)" >&2; tail -20 "$KDIR/kafka.out" >&2 || true
    echo "--- $KDIR/kafka.log (tail)" >&2; tail -40 "$KDIR/kafka.log" >&2 || true
    die "Kafka did not answer on $OUR_BOOTSTRAP within ${TIMEOUT}s"
  }
  kafka_warm "$OUR_BOOTSTRAP" || say "warning: Kafka answers metadata but an idempotent produce and a group commit did not complete within ${TIMEOUT}s"
}

# A broker that answers metadata may still be loading its coordinators: the first
# idempotent producer then gets "Coordinator load in progress" and the first group
# consumer waits.  Wait until an idempotent produce and a group commit both work.
kafka_warm() {  # bootstrap
  local py; py=$(python_bin)
  [ -n "$py" ] || return 0
  "$py" - "$1" "$TIMEOUT" <<'EOF' 2>/dev/null
import sys, time
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
bs, limit = sys.argv[1], float(sys.argv[2])
end = time.monotonic() + limit
topic = "_fleetstream_warmup"
admin = AdminClient({"bootstrap.servers": bs})
while topic not in admin.list_topics(timeout=10).topics and time.monotonic() < end:
    for f in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        try:
            f.result(timeout=10)
        except Exception:
            time.sleep(0.5)  # controller still starting, or the topic exists already
delivered = []
p = Producer({"bootstrap.servers": bs, "enable.idempotence": True})
while not delivered and time.monotonic() < end:
    try:
        p.produce(topic, b"warm", on_delivery=lambda err, msg: err is None and delivered.append(1))
    except Exception:
        time.sleep(0.5)
    p.flush(10)
c = Consumer({"bootstrap.servers": bs, "group.id": "_fleetstream_warmup",
              "auto.offset.reset": "earliest", "enable.auto.commit": False})
c.subscribe([topic])
ok = False
while not ok and time.monotonic() < end:
    m = c.poll(1.0)
    if m is not None and not m.error():
        try:
            c.commit(message=m, asynchronous=False)
            ok = True
        except Exception:
            time.sleep(0.5)
c.close()
sys.exit(0 if delivered and ok else 1)
EOF
}

# ---------------------------------------------------------------- test tools

# Debian tools the integration and browser tests use: kcat (an independent Kafka
# producer, so live tests do not only publish with our own client) and headless
# Chromium with its WebDriver (reports and the console are checked in a real browser).
debian_tools() {
  local missing=()
  command -v kcat >/dev/null 2>&1 || missing+=(kcat)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    say "WARNING: ${missing[*]} missing (sudo apt-get install -y ${missing[*]}); the tests that need them will fail"
    return 0
  fi
  say "installing ${missing[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1; apt-get install -y -q "${missing[@]}" >/dev/null; } \
    || die "apt-get install ${missing[*]} failed"
}

# ---------------------------------------------------------------- Redis

redis_bin() {
  if ! command -v redis-server >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "redis-server is missing: install Debian's package (sudo apt-get install -y redis-server)"
    say "installing redis-server (Debian package)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q redis-server >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1; apt-get install -y -q redis-server >/dev/null; } \
      || die "apt-get install redis-server failed"
  fi
  command -v redis-server
}

start_redis() {
  if external_redis; then
    say "Redis: using the existing server at $(redis_url) (FLEETSTREAM_REDIS__URL)"
    wait_for redis "$EXT_REDIS_URL" "" && return
    die "Redis at $EXT_REDIS_URL does not answer"
  fi
  if redis_pid >/dev/null; then
    say "Redis already running (pid $(redis_pid)) on 127.0.0.1:$REDIS_PORT"
  else
    port_open 127.0.0.1 "$REDIS_PORT" && die "port $REDIS_PORT is taken by another process (set FLEETSTREAM_REDIS_PORT)"
    local bin; bin=$(redis_bin)
    mkdir -p "$RDIR"
    say "starting redis-server on 127.0.0.1:$REDIS_PORT (persistence off)"
    "$bin" --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --daemonize yes \
      --dir "$RDIR" --pidfile "$RDIR/redis.pid" --logfile "$RDIR/redis.log" \
      || { tail -20 "$RDIR/redis.log" >&2 2>/dev/null; die "redis-server did not start"; }
  fi
  wait_for redis "$OUR_REDIS_URL" "$RDIR/redis.log" || {
    echo "--- $RDIR/redis.log (tail)" >&2; tail -20 "$RDIR/redis.log" >&2 || true
    die "Redis did not answer on $OUR_REDIS_URL within ${TIMEOUT}s"
  }
}

# ---------------------------------------------------------------- common

wait_for() {  # kafka|redis address logfile
  local what=$1 addr=$2 t0=$SECONDS
  while [ $((SECONDS - t0)) -lt "$TIMEOUT" ]; do
    if "${what}_answers" "$addr"; then
      say "$what answers at $addr ($((SECONDS - t0)) s)"
      return 0
    fi
    # Our own process died: no point in waiting.
    if [ -n "$3" ] && ! "${what}_pid" >/dev/null; then
      say "$what process exited"
      return 1
    fi
    sleep 0.5
  done
  return 1
}

stop_one() {  # name pidfn pidfile
  local name=$1 pid
  if pid=$("$2"); then
    say "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      say "$name did not stop in 30 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  else
    say "$name: not running (nothing started by this script)"
  fi
  rm -f "$3"
}

cmd_status() {
  local rc=0 pid
  if external_kafka; then
    printf 'kafka  external %-24s ' "$(kafka_addr)"
  elif pid=$(kafka_pid); then
    printf 'kafka  pid %-7s %-22s ' "$pid" "$OUR_BOOTSTRAP"
  else
    printf 'kafka  stopped    %-22s ' "$OUR_BOOTSTRAP"
  fi
  if kafka_answers "$(kafka_addr)"; then echo "answers"; else echo "no answer"; rc=1; fi
  if external_redis; then
    printf 'redis  external %-24s ' "$(redis_url)"
  elif pid=$(redis_pid); then
    printf 'redis  pid %-7s %-22s ' "$pid" "$OUR_REDIS_URL"
  else
    printf 'redis  stopped    %-22s ' "$OUR_REDIS_URL"
  fi
  if redis_answers "$(redis_url)"; then echo "answers"; else echo "no answer"; rc=1; fi
  echo "state  $STATE"
  echo "cache  $CACHE"
  return $rc
}

case "${1:-}" in
  start)
    mkdir -p "$STATE"
    debian_tools
    start_redis
    start_kafka
    say "ready: eval \"\$(scripts/services.sh env)\""
    ;;
  stop)
    if external_kafka; then say "Kafka is external ($EXT_BOOTSTRAP): left alone"; else stop_one kafka kafka_pid "$KDIR/kafka.pid"; fi
    if external_redis; then say "Redis is external ($EXT_REDIS_URL): left alone"; else stop_one redis redis_pid "$RDIR/redis.pid"; fi
    ;;
  status) cmd_status ;;
  env)
    # the settings' one convention, FLEETSTREAM_<SECTION>__<KEY> (docs/configuration.md)
    echo "export FLEETSTREAM_KAFKA__BOOTSTRAP=$(kafka_addr)"
    echo "export FLEETSTREAM_REDIS__URL=$(redis_url)"
    ;;
  logs)
    echo "--- $KDIR/kafka.log"; tail -n "${2:-40}" "$KDIR/kafka.log" 2>/dev/null || true
    echo "--- $RDIR/redis.log"; tail -n "${2:-40}" "$RDIR/redis.log" 2>/dev/null || true
    ;;
  start-extra)
    mkdir -p "$STATE"
    start_kafka
    echo "$OUR_BOOTSTRAP"
    ;;
  stop-extra) stop_one kafka kafka_pid "$KDIR/kafka.pid" ;;
  kill-extra)
    if pid=$(kafka_pid); then
      say "SIGKILL kafka (pid $pid)"
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    fi
    rm -f "$KDIR/kafka.pid"
    ;;
  status-extra)
    if pid=$(kafka_pid); then echo "kafka  pid $pid $OUR_BOOTSTRAP"; else echo "kafka  stopped $OUR_BOOTSTRAP"; exit 1; fi
    ;;
  clean)
    "$0" stop
    say "removing $STATE"
    rm -rf "$STATE"
    ;;
  *)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ] || exit 2
    ;;
esac
