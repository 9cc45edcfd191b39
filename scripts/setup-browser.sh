#!/usr/bin/env bash
# Makes a Chromium available for the HTML report's browser test (harness/report/html.browser.test.ts;
# playwright-core drives it, and its own browser download cannot work offline). It looks where the
# test looks (harness/report/find-chromium.ts): $CONVBENCH_CHROMIUM, the system's Chromium or Chrome,
# Playwright's cache. Without one it installs Debian's chromium, but only as root with apt-get.
# It never fails (`npm test` runs it first): when it cannot install it says why and exits 0, and the
# browser test then skips itself with the reason (or fails, under CI=true).
set -uo pipefail

is_executable() { [ -f "$1" ] && [ -x "$1" ]; }

have_chromium() {
  local c cache="${PLAYWRIGHT_BROWSERS_PATH:-${HOME:-/nonexistent}/.cache/ms-playwright}"
  for c in ${CONVBENCH_CHROMIUM:+"$CONVBENCH_CHROMIUM"} /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome \
    /usr/bin/google-chrome-stable /snap/bin/chromium "$cache"/chromium-*/chrome-linux/chrome "$cache"/chromium-*/chrome-linux64/chrome; do
    if is_executable "$c"; then return 0; fi
  done
  return 1
}

say() { echo "setup-browser: $*" >&2; }
skip_note="the HTML report's browser test will be skipped (set CONVBENCH_CHROMIUM to a Chromium binary to run it)"

if have_chromium; then exit 0; fi
if [ "${EUID:-$(id -u)}" != 0 ]; then
  say "no Chromium found, and not root, so not installing Debian's chromium; $skip_note"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  say "no Chromium found, and no apt-get to install one with; $skip_note"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
  say "installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
else
  say "apt-get could not install chromium (offline, or no Debian mirror?); $skip_note"
fi
exit 0
