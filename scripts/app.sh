#!/usr/bin/env bash
# Install the app (venv from the lock file) and start it on http://localhost:8501 with a bundled sample.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
command -v uv >/dev/null || "$PY" -m pip install --quiet uv==0.13.8
[ -x .venv/bin/python ] || uv venv --quiet --python "$PY" .venv
VIRTUAL_ENV=.venv uv pip sync --quiet requirements.lock
VIRTUAL_ENV=.venv uv pip install --quiet --no-deps -e .
exec .venv/bin/streamlit run app.py "$@"
