#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs pnpm and the dependencies, starts the
# services, builds and typechecks every package, lints, then runs every test project with vitest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/services.sh
pnpm exec turbo run build typecheck --output-logs=errors-only
pnpm exec biome check .
pnpm exec vitest run "$@"
