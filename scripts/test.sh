#!/usr/bin/env bash
# Install everything the tests need (venv from the lock file, Chromium for the browser test) and run them.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if ! command -v uv >/dev/null; then
  "$PY" -m pip install --quiet uv==0.13.8
fi
[ -x .venv/bin/python ] || uv venv --quiet --python "$PY" .venv
VIRTUAL_ENV=.venv uv pip sync --quiet requirements.lock
VIRTUAL_ENV=.venv uv pip install --quiet --no-deps -e .

# Debian's Chromium for the real-browser test (skipped with a reason when it cannot be installed)
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "warning: could not install chromium; the browser test will be skipped"
fi

.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
