#!/usr/bin/env bash
# Entrypoint of afc-standin/postgres:16 (a test fixture standing in for the official postgres image).
#  - `postgres [ARGS]` (or only -flags): initialise $PGDATA on first start from POSTGRES_USER
#    (default postgres), POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust) and
#    POSTGRES_DB (default: the user), then run the server as the postgres user on 0.0.0.0:5432.
#  - anything else (psql, pg_dump, bash, ...) is executed as given.
set -euo pipefail

log() { printf '[postgres-entrypoint] %s\n' "$*" >&2; }
die() { printf '[postgres-entrypoint] ERROR: %s\n' "$*" >&2; exit 1; }

PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA


if [[ ${1:-} == -* ]]; then
    set -- postgres "$@"
fi
if [[ ${1:-} != postgres ]]; then
    exec "$@"
fi

# POSTGRES_*_FILE (Docker secrets), read only for the server, as the official entrypoint does; setting
# both a variable and its _FILE is an error.
for name in POSTGRES_PASSWORD POSTGRES_USER POSTGRES_DB POSTGRES_INITDB_ARGS; do
    file_var=${name}_FILE
    if [[ -n ${!file_var:-} ]]; then
        [[ -z ${!name:-} ]] || die "both $name and $file_var are set (but are exclusive)"
        export "$name=$(< "${!file_var}")"
        unset "$file_var"
    fi
done

# Images with the 18+ layout keep PGDATA in a major-specific folder of the volume /var/lib/postgresql;
# data mounted at the old path would be silently unused, so the server refuses to start (as postgres:18).
if [[ $PGDATA != /var/lib/postgresql/data ]] && mountpoint -q /var/lib/postgresql/data 2>/dev/null; then
    die "this image keeps its data in $PGDATA (the postgres 18+ layout: mount the volume at" \
        "/var/lib/postgresql), but a volume or bind mount is at /var/lib/postgresql/data, where it" \
        "would be unused; move the mount, or upgrade the data with pg_upgrade / a dump and restore"
fi

if [[ $(id -u) == 0 ]]; then
    # A volume or bind mount may be owned by root: hand it to postgres, then drop privileges.
    mkdir -p "$PGDATA" /var/run/postgresql
    if [[ -n $(find "$PGDATA" /var/run/postgresql \! -user postgres -print -quit) ]]; then
        chown -R postgres:postgres "$PGDATA"
        chown postgres:postgres /var/run/postgresql
    fi
    chmod 0700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [[ ! -s $PGDATA/PG_VERSION ]]; then
    POSTGRES_USER=${POSTGRES_USER:-postgres}
    POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
    auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
    if [[ -z ${POSTGRES_PASSWORD:-} && $auth != trust ]]; then
        die "the database is uninitialised and POSTGRES_PASSWORD is not set: set POSTGRES_PASSWORD" \
            "(or POSTGRES_HOST_AUTH_METHOD=trust to allow connections without a password)"
    fi
    [[ -z $(ls -A "$PGDATA") ]] || die "$PGDATA is not empty but holds no database (no PG_VERSION)"
    log "initialising the database cluster in $PGDATA (user '$POSTGRES_USER', database '$POSTGRES_DB')"
    pwfile=$(mktemp)
    trap 'rm -f "$pwfile"' EXIT
    printf '%s\n' "${POSTGRES_PASSWORD:-}" > "$pwfile"
    pwargs=()
    [[ -z ${POSTGRES_PASSWORD:-} ]] || pwargs=(--pwfile="$pwfile")
    # shellcheck disable=SC2086
    initdb --username="$POSTGRES_USER" "${pwargs[@]}" --auth-local=trust --auth-host="$auth" \
        --encoding=UTF8 --locale=C.UTF-8 ${POSTGRES_INITDB_ARGS:-} >/dev/null
    rm -f "$pwfile"
    printf '\n# added by the stand-in entrypoint: password authentication for network clients\nhost all all all %s\n' \
        "$auth" >> "$PGDATA/pg_hba.conf"
    printf "\nlisten_addresses = '*'\n" >> "$PGDATA/postgresql.conf"

    # A temporary server on the Unix socket only, to create the database and run init scripts.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
    psql_init=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres -q)
    if [[ $POSTGRES_DB != postgres ]]; then
        "${psql_init[@]}" -v db="$POSTGRES_DB" -v owner="$POSTGRES_USER" <<<'CREATE DATABASE :"db" OWNER :"owner";'
    fi
    shopt -s nullglob
    for f in /docker-entrypoint-initdb.d/*; do
        case $f in
            *.sh) log "running $f"; bash "$f" ;;
            *.sql) log "running $f"; "${psql_init[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
            *) log "ignoring $f" ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop
    log "initialisation done"
else
    log "reusing the existing database cluster in $PGDATA"
fi

exec "$@"
