#!/usr/bin/env bash
# Start the machine's Debian PostgreSQL cluster for tests and CI, and make sure the two
# login roles a deployment uses and their databases exist. Safe to run again, or from
# several processes at once.
#
#   - the owner role (`spyne`, CREATEDB): runs the migrations (`spyne init`) and owns every
#     catalog table; tests also use it to create and drop a database per test;
#   - the application role (`spyne_app`, nothing more than LOGIN): what Spyne connects as;
#     `spyne init` grants it read/insert/update on the catalog and it owns nothing.
#
#   eval "$(scripts/start-postgres.sh)"   # exports SPYNE_TEST_PG_URL (owner), SPYNE_TEST_PG_APP_URL
#   scripts/start-postgres.sh spyne_test spyne_dagster   # more databases
#
# Only the export lines go to stdout; progress and errors go to stderr.
# Install PostgreSQL first: apt-get install -y postgresql
set -euo pipefail

PG_ROLE="${SPYNE_PG_ROLE:-spyne}"
PG_PASSWORD="${SPYNE_PG_PASSWORD:-spyne}"
APP_ROLE="${SPYNE_PG_APP_ROLE:-spyne_app}"
APP_PASSWORD="${SPYNE_PG_APP_PASSWORD:-spyne_app}"
PG_HOST=127.0.0.1
if [ "$#" -gt 0 ]; then DATABASES=("$@"); else DATABASES=(spyne_test); fi

say() { echo "start-postgres: $*" >&2; }
die() { say "$*"; exit 1; }

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
    die "PostgreSQL is not installed. Install it with:
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql"
fi

VERSION="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
[ -x "/usr/lib/postgresql/$VERSION/bin/postgres" ] || die "no postgres binary for version $VERSION"

# Run a command as the cluster owner (from /, which that user can always enter).
as_postgres() ( cd /
    if [ "$(id -un)" = postgres ]; then
        "$@"
    elif [ "$(id -u)" -eq 0 ]; then
        if command -v runuser >/dev/null 2>&1; then runuser -u postgres -- "$@"; else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; fi
    elif sudo -n true 2>/dev/null; then
        sudo -n -u postgres "$@"
    else
        die "cannot act as the postgres user: run this as root or postgres, or set SPYNE_TEST_PG_URL to a server you already have"
    fi
)

cluster_line() { pg_lsclusters --no-header 2>/dev/null | awk -v v="$VERSION" '$1 == v && $2 == "main"'; }

if [ -z "$(cluster_line)" ]; then
    say "creating cluster $VERSION/main"
    if [ "$(id -u)" -eq 0 ]; then pg_createcluster "$VERSION" main >&2; else die "cluster $VERSION/main is missing and only root can create it"; fi
fi

PORT="$(cluster_line | awk '{print $3}')"
STATUS="$(cluster_line | awk '{print $4}')"

if [ "$STATUS" != "online" ]; then
    say "starting cluster $VERSION/main on port $PORT"
    if [ "$(id -u)" -eq 0 ] || [ "$(id -un)" = postgres ]; then
        # A parallel run may have started it already; readiness is checked below.
        pg_ctlcluster "$VERSION" main start >&2 || say "start reported an error; checking whether it is up anyway"
    else
        as_postgres pg_ctlcluster "$VERSION" main start >&2 || true
    fi
fi

PG_ISREADY="/usr/lib/postgresql/$VERSION/bin/pg_isready"
for _ in $(seq 1 60); do
    if "$PG_ISREADY" -q -h "$PG_HOST" -p "$PORT"; then break; fi
    sleep 0.5
done
"$PG_ISREADY" -q -h "$PG_HOST" -p "$PORT" || die "PostgreSQL did not become ready on $PG_HOST:$PORT; see /var/log/postgresql/postgresql-$VERSION-main.log"

psql_admin() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" -d postgres "$@"; }

# Roles: create or bring up to date. The owner may create databases (tests use throw-away
# ones) and signal backends, so dropping a test database can end the application role's
# leftover sessions (and autovacuum, which PostgreSQL 15 counts as nobody's session). The
# application role gets no attribute beyond LOGIN. Tolerates a parallel run creating them first.
ensure_roles() {
    psql_admin -v role="$PG_ROLE" -v pw="$PG_PASSWORD" -v app="$APP_ROLE" -v apppw="$APP_PASSWORD" >&2 <<'SQL'
SET client_min_messages TO warning;
SELECT format('CREATE ROLE %I LOGIN', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', :'pw') \gexec
SELECT format('GRANT pg_signal_backend TO %I', :'role') \gexec
SELECT format('CREATE ROLE %I LOGIN', :'app')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app') \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L', :'app', :'apppw') \gexec
SQL
}
[ "$PG_ROLE" != "$APP_ROLE" ] || die "the owner and application roles must differ (both are $PG_ROLE)"
ensure_roles || ensure_roles || die "could not create or update roles $PG_ROLE and $APP_ROLE"

for db in "${DATABASES[@]}"; do
    exists="$(psql_admin -At -v db="$db" <<'SQL'
SELECT 1 FROM pg_database WHERE datname = :'db'
SQL
)"
    if [ "$exists" != "1" ]; then
        say "creating database $db"
        as_postgres createdb -p "$PORT" -O "$PG_ROLE" "$db" >&2 || {
            exists="$(psql_admin -At -v db="$db" <<'SQL'
SELECT 1 FROM pg_database WHERE datname = :'db'
SQL
)"
            [ "$exists" = "1" ] || die "could not create database $db"
        }
    fi
done

echo "export SPYNE_TEST_PG_URL=postgresql://${PG_ROLE}:${PG_PASSWORD}@${PG_HOST}:${PORT}/${DATABASES[0]}"
echo "export SPYNE_TEST_PG_APP_URL=postgresql://${APP_ROLE}:${APP_PASSWORD}@${PG_HOST}:${PORT}/${DATABASES[0]}"
