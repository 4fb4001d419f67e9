#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed for the dashboard's browser tests (playwright-core
# drives it; no browser is downloaded from anywhere else). Skips the install when it is there.
set -euo pipefail
if [ -x /usr/bin/chromium ] || [ -n "${CHROMIUM_PATH:-}" ]; then exit 0; fi
echo "chromium: installing Chromium from Debian's packages"
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
