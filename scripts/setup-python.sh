#!/usr/bin/env bash
# Makes sure `python3` can import numpy, for the Python host adapter (adapters/python) and its
# examples. Silent no-op when it already can (e.g. a pyenv python3 with numpy). Otherwise, as root
# with apt-get, installs Debian's python3-numpy (no pip, nothing from anywhere else) and checks again.
# Not root, or no apt-get: says why and exits 0, so `npm test` still runs; the Python tests then
# skip themselves with the reason (and fail under CI=true, where .ci/run runs this as root).
# CONVBENCH_PYTHON names another interpreter to check instead of python3.
set -euo pipefail
PY="${CONVBENCH_PYTHON:-python3}"
has_numpy() { command -v "$1" >/dev/null 2>&1 && "$1" -c 'import numpy' >/dev/null 2>&1; }

if has_numpy "$PY"; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-python: $PY cannot import numpy and this is not root with apt-get, so nothing was installed; the Python tests will be skipped (install Debian's python3-numpy to run them)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-numpy >/dev/null; }; then
  echo "setup-python: apt-get could not install python3-numpy (offline?); the Python tests will be skipped" >&2
  exit 0
fi
if has_numpy "$PY"; then
  echo "setup-python: installed python3-numpy ($("$PY" -c 'import sys, numpy; print("Python", sys.version.split()[0], "numpy", numpy.__version__)'))"
  exit 0
fi
if has_numpy /usr/bin/python3; then
  echo "setup-python: python3-numpy is installed for /usr/bin/python3, but $PY on PATH is $(command -v "$PY" || echo missing) without numpy; run the Python hosts with /usr/bin/python3" >&2
else
  echo "setup-python: python3-numpy installed, yet $PY still cannot import numpy" >&2
fi
exit 1
