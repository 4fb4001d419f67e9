#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs pnpm and the dependencies, starts the
# services, builds and typechecks every package, lints, runs every test project with vitest and
# the bounded chaos run, and closes with one summary line: "tests: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/services.sh
bash scripts/chromium.sh
pnpm exec turbo run build typecheck --output-logs=errors-only
pnpm exec biome check .

report=$(mktemp -d)/vitest.json
status=0
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
# The bounded chaos run (chaos/README.md): every server driver's real `queue work` processes under
# kills, pauses, connection cuts and restarts. It fails on a lost job (or follow-up, or poison body
# not dead-lettered) and on two runs of one job at once within a live lease; the other overlap
# checks and crashes are printed, not failed on, until the open ones in chaos/README.md are fixed. Only with the whole suite (no vitest arguments); QK_CHAOS=0 leaves it out.
if [ "$#" -eq 0 ] && [ "${QK_CHAOS:-1}" != 0 ]; then
  pnpm --filter @queuekit/chaos run chaos --driver all --jobs 300 --duration 25 --fail-on loss,concurrent || status=1
fi
if [ -s "$report" ]; then
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const skipped = r.numPendingTests + r.numTodoTests;
    console.log(`\ntests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
    if (r.numTotalTests === 0) { console.error("tests: no test ran"); process.exit(1); }
  ' "$report" || status=1
fi
exit "$status"
