#!/usr/bin/env bash
# Installs what queuekit's scripts need on a fresh Debian machine with Node 20: pnpm, then the
# workspace's dependencies from the lockfile. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v pnpm >/dev/null 2>&1; then
  echo "setup: installing pnpm 10 with npm"
  npm install -g pnpm@10 >/dev/null
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node >= 20 is required, found $(node --version)" >&2
  exit 1
fi
if [ -n "${CI:-}" ]; then
  pnpm install --frozen-lockfile
else
  pnpm install --frozen-lockfile --reporter=silent || pnpm install --frozen-lockfile
fi
