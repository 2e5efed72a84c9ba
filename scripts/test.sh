#!/usr/bin/env bash
# Run the whole test suite: lint (ruff), format check, types (mypy), then pytest. Starts a real
# PostgreSQL server for the postgres-marked tests when PostgreSQL is installed (CI installs it);
# pytest's "no tests ran" (exit 5) is a failure. Tests run on one worker per core (pytest-xdist,
# a test file per worker at a time); SPYNE_TEST_WORKERS=0 runs them in this process instead.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1

if [ -z "${SPYNE_TEST_PG_URL:-}" ] && ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  eval "$(bash scripts/start-postgres.sh)" || { echo "could not start PostgreSQL" >&2; exit 1; }
fi

.venv/bin/ruff check . || exit 1
.venv/bin/ruff format --check . || exit 1
.venv/bin/mypy || exit 1

.venv/bin/pytest -n "${SPYNE_TEST_WORKERS:-auto}" --dist loadfile "$@"
code=$?
if [ "$code" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$code"
