#!/usr/bin/env bash
# Entrypoint of afc-standin/redis:7.2 (a test fixture standing in for the official redis image).
# `redis-server [CONFIG_FILE] [--options]` (or only --options) runs the server as the redis user,
# listening on 0.0.0.0:6379 with protected mode off and data in /data; anything else is executed.
set -euo pipefail

if [[ ${1:-} == -* ]]; then
    set -- redis-server "$@"
fi
if [[ ${1:-} != redis-server ]]; then
    exec "$@"
fi
shift
conf=()
if [[ -n ${1:-} && ${1:-} != -* ]]; then
    conf=("$1")
    shift
fi
if [[ $(id -u) == 0 ]]; then
    mkdir -p /data
    chown -R redis:redis /data
    exec setpriv --reuid=redis --regid=redis --init-groups \
        redis-server "${conf[@]}" --bind 0.0.0.0 --protected-mode no --dir /data "$@"
fi
exec redis-server "${conf[@]}" --bind 0.0.0.0 --protected-mode no --dir /data "$@"
