#!/usr/bin/env bash
# `npm run test:busy`: the whole suite beside a bounded CPU burner that keeps both cores busy (load ~8), to show
# that no test assumes how fast the machine is. The burner ends with this script, whatever way it ends.
set -uo pipefail
cd "$(dirname "$0")/.."
node scripts/cpu-burner.mjs --workers "${MAM_BURNER_WORKERS:-8}" --seconds "${MAM_BURNER_SECONDS:-2400}" &
burner=$!
trap 'kill "$burner" 2>/dev/null; wait "$burner" 2>/dev/null' EXIT
node scripts/test.mjs "$@"
