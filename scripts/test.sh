#!/usr/bin/env bash
# Set up, start the real Kafka broker and redis-server, run the whole test suite, stop them.
# Set FLEETSTREAM_SKIP_SERVICES=1 to run without the integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
started=0
if [ "${FLEETSTREAM_SKIP_SERVICES:-0}" != "1" ] && [ -x scripts/services.sh ]; then
  scripts/services.sh start
  started=1
  eval "$(scripts/services.sh env)"
fi
cleanup() { if [ "$started" = 1 ]; then scripts/services.sh stop || true; fi; }
trap cleanup EXIT
set +e
.venv/bin/python -m pytest -n 2 --dist loadfile "$@"
rc=$?
set -e
# pytest exits 5 when no test ran: that is a failure here, not a pass.
exit $rc
