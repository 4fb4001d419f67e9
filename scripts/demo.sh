#!/usr/bin/env bash
# The quick start: installs what is needed, then dispatches jobs with then/catch/chain to the
# embedded default backend and runs a worker that processes them, printing what happens.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
exec node --conditions=source --import tsx examples/quick-start.ts "$@"
