#!/usr/bin/env bash
# Set up, then run the main job: the engine over the shipped metro replay (no services needed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/fleetstream replay "${1:-replay_data/metro}" --out "${2:-out/metro}" --alerts 15
