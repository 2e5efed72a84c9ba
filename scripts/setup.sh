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

# Bytecode is compiled here, once: these machines set PYTHONDONTWRITEBYTECODE=1, so otherwise every
# process recompiles the ~2,000 modules Dagster and dbt import (uv writes no .pyc unless asked;
# with the flag it compiles the whole site-packages, packages already installed included).
.venv/bin/uv pip install --quiet -p .venv/bin/python --compile-bytecode -r requirements.lock
.venv/bin/uv pip install --quiet -p .venv/bin/python --no-deps -e .
# uv compiles only when it installs something: a venv made before this step gets it once here.
SITE="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
if [ ! -d "$SITE/dagster/__pycache__" ]; then
  .venv/bin/python -m compileall -q -j 0 "$SITE" >/dev/null || true
fi
# compileall writes .pyc files even under PYTHONDONTWRITEBYTECODE (only imports honour it).
.venv/bin/python -m compileall -q -j 0 orchestration policies bench >/dev/null

# dbt needs its manifest before Dagster can load the code location.
# The same values the runs will use, so dbt can reuse this parse (it hashes the env vars the profile reads).
export SPYNE_ENV="${SPYNE_ENV:-local}"
export SPYNE_HOME="${SPYNE_HOME:-$PWD/.spyne}"
mkdir -p "$SPYNE_HOME"
export SPYNE_WAREHOUSE_PATH="${SPYNE_WAREHOUSE_PATH:-$SPYNE_HOME/warehouse.duckdb}"
.venv/bin/dbt parse --quiet --project-dir dbt_project --profiles-dir dbt_project --target "$SPYNE_ENV"
echo "spyne is set up in $PWD/.venv (SPYNE_HOME=$SPYNE_HOME)" >&2
