#!/usr/bin/env bash
# Installs Debian's Chromium for the HTML report's browser test (playwright-core drives it; its own
# browser download cannot work offline). Needs root and Debian's package mirror; a no-op when present.
set -euo pipefail
if [ -x "${CONVBENCH_CHROMIUM:-/usr/bin/chromium}" ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "setup-browser: Chromium is missing; install Debian's chromium package (apt-get install chromium) as root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
echo "setup-browser: installed $(/usr/bin/chromium --version)"
