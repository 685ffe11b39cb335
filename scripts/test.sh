#!/usr/bin/env bash
# Install everything the tests need (venv from the lock file, Chromium for the browser test) and run them.
# Usage: bash scripts/test.sh [pytest args...]  (options only, e.g. -q: the whole suite in two parallel parts)
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
# Bytecode for the venv's packages, written here once (about 30 s the first time, 5 s when up to date): uv
# writes none, and where PYTHONDONTWRITEBYTECODE is set no process writes it either, so each Python
# process the tests start (CLI runs, training workers, Streamlit servers) would compile TensorFlow, Keras
# and pandas from source again: a bad-input CLI run took 12 s instead of 4.4 s.
.venv/bin/python -m compileall -q -j0 .venv/lib/python*/site-packages >/dev/null \
  || echo "warning: some of the venv's files did not compile to bytecode; the tests will compile them as they go"

# Debian's Chromium for the real-browser test (skipped with a reason when it cannot be installed)
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "warning: could not install chromium; the browser test will be skipped"
fi

.venv/bin/ruff check .

# Paths, test ids or option values given (e.g. `tests/unit`, `-m e2e`): one pytest run with those arguments.
for arg in "$@"; do
  if [[ "$arg" != -* ]]; then
    exec .venv/bin/python -m pytest "$@"
  fi
done

# The whole suite (options only, e.g. `-q`): two pytest processes side by side, since many tests wait on
# worker processes, a Streamlit server or the browser rather than compute. Part B (pages, browser,
# multi-worker training, and test_pipeline.py to even the two parts' times) runs in the background into a
# log printed when both have ended; the exit status is part A's, else part B's.
DIST="tests/unit/test_distributed_workers.py tests/unit/test_distributed_resume.py tests/unit/test_pipeline.py"
LOG=$(mktemp -t rnn-studio-tests-b.XXXXXX)
# shellcheck disable=SC2086
.venv/bin/python -m pytest -p no:cacheprovider "$@" tests/app tests/e2e $DIST >"$LOG" 2>&1 &
PART_B=$!
status_a=0
# shellcheck disable=SC2086
.venv/bin/python -m pytest -p no:cacheprovider "$@" tests/unit $(for f in $DIST; do echo --ignore="$f"; done) || status_a=$?
status_b=0
wait "$PART_B" || status_b=$?
echo
echo "==== part B: tests/app tests/e2e $DIST (exit status $status_b) ===="
cat "$LOG"
rm -f "$LOG"
echo "==== part A (tests/unit, without the files of part B): exit status $status_a; part B: exit status $status_b ===="
if [ "$status_a" -ne 0 ]; then exit "$status_a"; fi
exit "$status_b"
