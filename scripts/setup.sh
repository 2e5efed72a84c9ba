#!/usr/bin/env bash
# Set up Spyne on a fresh machine: virtualenv, pinned dependencies, the package, a parsed dbt project.
# Idempotent: re-running only installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
# Trust the system certificate store (corporate proxies add their CA there).
export UV_NATIVE_TLS="${UV_NATIVE_TLS:-1}"
if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv 2>/dev/null; then
    # Debian without python3-venv: bootstrap a venv through uv instead.
    rm -rf .venv
    "$PY" -m pip install --quiet --user uv || "$PY" -m pip install --quiet --user --break-system-packages uv
    "$("$PY" -m site --user-base)/bin/uv" venv --quiet -p "$PY" .venv
  fi
fi
if [ ! -x .venv/bin/uv ]; then
  if [ -x .venv/bin/pip ]; then .venv/bin/pip install --quiet uv; else "$("$PY" -m site --user-base)/bin/uv" pip install --quiet -p .venv/bin/python uv; fi
fi

.venv/bin/uv pip install --quiet -p .venv/bin/python -r requirements.lock
.venv/bin/uv pip install --quiet -p .venv/bin/python --no-deps -e .

# dbt needs its manifest before Dagster can load the code location.
# The same values the runs will use, so dbt can reuse this parse (it hashes the env vars the profile reads).
export SPYNE_ENV="${SPYNE_ENV:-local}"
export SPYNE_HOME="${SPYNE_HOME:-$PWD/.spyne}"
mkdir -p "$SPYNE_HOME"
export SPYNE_WAREHOUSE_PATH="${SPYNE_WAREHOUSE_PATH:-$SPYNE_HOME/warehouse.duckdb}"
.venv/bin/dbt parse --quiet --project-dir dbt_project --profiles-dir dbt_project --target "$SPYNE_ENV"
echo "spyne is set up in $PWD/.venv (SPYNE_HOME=$SPYNE_HOME)" >&2
