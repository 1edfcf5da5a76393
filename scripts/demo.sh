#!/usr/bin/env bash
# Set up, then run the main job: the engine over the shipped metro replay (no services needed).
# --force replaces the outputs of an earlier demo run (only those: docs/operations.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
out="${2:-out/metro}"
.venv/bin/fleetstream replay "${1:-replay_data/metro}" --out "$out" --force --alerts 15
cat <<EOF

Watch the day in the operations console (map, alerts, approvals; scrub through the day):
  .venv/bin/fleetstream console --replay $out
then open http://127.0.0.1:8765/ in a browser (Ctrl-C stops it). Live mode and every
view: docs/console.md.
EOF
