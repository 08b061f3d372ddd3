#!/usr/bin/env bash
# /entrypoint of the afc-standin/airflow images (test fixtures standing in for apache/airflow).
# Written for this project; it implements the behaviour the stack relies on:
#   1. an arbitrary uid works when its gid is 0 (a passwd entry is added for it);
#   2. wait for the metadata database (`airflow db check`) when a connection is configured: on Airflow 2
#      before every command (bash and python too), on Airflow 3 only before scheduler, dag-processor,
#      triggerer and api-server, as the released entrypoints do;
#   3. _AIRFLOW_DB_MIGRATE / _AIRFLOW_DB_UPGRADE -> `airflow db migrate`, whose failure is IGNORED (the
#      released entrypoint runs `airflow db migrate || true` and goes on with the command);
#   4. _AIRFLOW_WWW_USER_CREATE -> `airflow users create` from _AIRFLOW_WWW_USER_*, whose failure is
#      IGNORED as well (`|| true` in the released entrypoint); only a missing password stops it;
#   5. dispatch: bash | python | airflow <args> | <args> (run as `airflow <args>`), waiting for
#      the Celery broker first for `scheduler`/`celery` with the CeleryExecutor.
set -euo pipefail
umask 0002

readonly MAX_COUNT=${CONNECTION_CHECK_MAX_COUNT:-20}
readonly SLEEP_TIME=${CONNECTION_CHECK_SLEEP_TIME:-3}

log() { printf '[entrypoint] %s\n' "$*" >&2; }
die() { printf '[entrypoint] ERROR: %s\n' "$*" >&2; exit 1; }

[[ $MAX_COUNT =~ ^[0-9]+$ ]] || die "CONNECTION_CHECK_MAX_COUNT must be a number, got '$MAX_COUNT'"
[[ $SLEEP_TIME =~ ^[0-9]+$ ]] || die "CONNECTION_CHECK_SLEEP_TIME must be a number, got '$SLEEP_TIME'"

# --- 1. user --------------------------------------------------------------------------------
ensure_user() {
    local uid gid
    uid=$(id -u)
    gid=$(id -g)
    if [[ $uid != "${AIRFLOW_UID:-50000}" && $gid != 0 ]]; then
        die "running as uid $uid with gid $gid: an arbitrary uid needs gid 0 (e.g. --user $uid:0);" \
            "files under /opt/airflow are writable by group 0 only"
    fi
    if ! getent passwd "$uid" >/dev/null 2>&1; then
        if [[ -w /etc/passwd ]]; then
            printf '%s:x:%s:0:%s user:%s:/sbin/nologin\n' "${USER_NAME:-default}" "$uid" \
                "${USER_NAME:-default}" "${AIRFLOW_USER_HOME_DIR:-/home/airflow}" >> /etc/passwd
        else
            log "WARNING: /etc/passwd is not writable; uid $uid has no user name"
        fi
        export HOME=${AIRFLOW_USER_HOME_DIR:-/home/airflow}
    fi
}

# --- helpers --------------------------------------------------------------------------------
# retry WHAT COMMAND...: up to MAX_COUNT tries, SLEEP_TIME seconds apart.
retry() {
    local what=$1 n=0 out
    shift
    while true; do
        if out=$("$@" 2>&1); then
            ((n == 0)) || log "$what is reachable"
            return 0
        fi
        n=$((n + 1))
        if ((n >= MAX_COUNT)); then
            printf '%s\n' "$out" | tail -n 20 >&2
            die "$what is still not reachable after $n attempts ${SLEEP_TIME} s apart; giving up" \
                "(CONNECTION_CHECK_MAX_COUNT=$MAX_COUNT, CONNECTION_CHECK_SLEEP_TIME=$SLEEP_TIME)"
        fi
        log "waiting for $what (attempt $n/$MAX_COUNT failed); retrying in ${SLEEP_TIME} s"
        sleep "$SLEEP_TIME"
    done
}

# --- 2. database ----------------------------------------------------------------------------
wait_for_db() {
    if [[ -n ${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-} || -n ${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD:-} \
        || -n ${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_SECRET:-} ]]; then
        retry "the metadata database (airflow db check)" airflow db check
    fi
}

# --- 3. migrate -----------------------------------------------------------------------------
migrate_db() {
    if [[ -n ${_AIRFLOW_DB_UPGRADE:-} && -z ${_AIRFLOW_DB_MIGRATE:-} ]]; then
        log "WARNING: _AIRFLOW_DB_UPGRADE is deprecated; use _AIRFLOW_DB_MIGRATE"
    fi
    # Released semantics: a failed migration does not stop the container.
    airflow db migrate || true
}

# --- 4. web user ----------------------------------------------------------------------------
create_www_user() {
    local password=${_AIRFLOW_WWW_USER_PASSWORD:-}
    if [[ -n ${_AIRFLOW_WWW_USER_PASSWORD_CMD:-} ]]; then  # the command wins, as in the released entrypoint
        password=$(eval "$_AIRFLOW_WWW_USER_PASSWORD_CMD") || die "_AIRFLOW_WWW_USER_PASSWORD_CMD failed"
    fi
    [[ -n $password ]] || die "_AIRFLOW_WWW_USER_CREATE is set but neither _AIRFLOW_WWW_USER_PASSWORD" \
        "nor _AIRFLOW_WWW_USER_PASSWORD_CMD gives a password"
    if [[ ${AIRFLOW_VERSION:-} != 2.* ]]; then
        # On Airflow 3 `airflow users` exists only with the FAB auth manager.
        local am=${AIRFLOW__CORE__AUTH_MANAGER:-}
        [[ -n $am ]] || am=$(airflow config get-value core auth_manager 2>/dev/null || true)
        if [[ $am != *FabAuthManager* ]]; then
            log "WARNING: _AIRFLOW_WWW_USER_CREATE ignored: the auth manager is '${am:-default}'," \
                "users can be created only with the FAB auth manager"
            return 0
        fi
    fi
    # Released semantics: a failed user creation (or an existing user) does not stop the container.
    airflow users create \
        --username "${_AIRFLOW_WWW_USER_USERNAME:-admin}" \
        --firstname "${_AIRFLOW_WWW_USER_FIRSTNAME:-Airflow}" \
        --lastname "${_AIRFLOW_WWW_USER_LASTNAME:-Admin}" \
        --email "${_AIRFLOW_WWW_USER_EMAIL:-airflowadmin@example.com}" \
        --role "${_AIRFLOW_WWW_USER_ROLE:-Admin}" \
        --password "$password" || true
}

# --- 5. broker ------------------------------------------------------------------------------
wait_for_broker() {
    local url=${AIRFLOW__CELERY__BROKER_URL:-}
    if [[ -z $url && -n ${AIRFLOW__CELERY__BROKER_URL_CMD:-} ]]; then
        url=$(eval "$AIRFLOW__CELERY__BROKER_URL_CMD") || die "AIRFLOW__CELERY__BROKER_URL_CMD failed"
    fi
    [[ -n $url ]] || { log "no AIRFLOW__CELERY__BROKER_URL set; not waiting for the broker"; return 0; }
    local scheme=${url%%://*} rest host port
    [[ $url == *://* ]] || { log "cannot parse the broker URL; not waiting for it"; return 0; }
    rest=${url#*://}
    rest=${rest%%/*}
    rest=${rest%%\?*}
    rest=${rest##*@}
    case $scheme in
        redis|rediss) port=6379 ;;
        amqp|amqps|pyamqp) port=5672 ;;
        postgres|postgresql|postgresql+*) port=5432 ;;
        mysql|mysql+*) port=3306 ;;
        *) log "broker scheme '$scheme' is not a network broker; not waiting for it"; return 0 ;;
    esac
    if [[ $rest == \[*\]* ]]; then          # [ipv6]:port
        host=${rest%%]*}; host=${host#[}
        [[ $rest == *]:* ]] && port=${rest##*]:}
    elif [[ $rest == *:* ]]; then
        host=${rest%%:*}; port=${rest##*:}
    else
        host=$rest
    fi
    [[ -n $host ]] || host=localhost
    retry "the Celery broker at $host:$port" nc -z -w 3 "$host" "$port"
}

# ---------------------------------------------------------------------------------------------
ensure_user

# Airflow 2 waits before any command; Airflow 3 only before the components that need the database.
command_name=${1:-}
[[ $command_name == airflow ]] && command_name=${2:-}
if ((MAX_COUNT > 0)) && { [[ ${AIRFLOW_VERSION:-} == 2.* ]] \
        || [[ $command_name =~ ^(scheduler|dag-processor|triggerer|api-server)$ ]]; }; then
    wait_for_db
fi
if [[ -n ${_AIRFLOW_DB_MIGRATE:-} || -n ${_AIRFLOW_DB_UPGRADE:-} ]]; then
    migrate_db
fi
if [[ -n ${_AIRFLOW_WWW_USER_CREATE:-} ]]; then
    create_www_user
fi
if [[ -n ${_PIP_ADDITIONAL_REQUIREMENTS:-} ]]; then
    log "WARNING: _PIP_ADDITIONAL_REQUIREMENTS is ignored by this stand-in image (no network inside" \
        "containers): '${_PIP_ADDITIONAL_REQUIREMENTS}' is not installed"
fi

case ${1:-} in
    bash) shift; exec /bin/bash "$@" ;;
    python) shift; exec python "$@" ;;
    airflow) shift ;;
esac
(($#)) || set -- --help

if [[ $1 == scheduler || $1 == celery ]] && [[ ${AIRFLOW__CORE__EXECUTOR:-} == *CeleryExecutor* ]] \
    && ((MAX_COUNT > 0)); then
    wait_for_broker
fi
exec airflow "$@"
