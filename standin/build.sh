#!/usr/bin/env bash
# Build the stand-in images used as test fixtures (no registry is reachable, so nothing is pulled):
#
#   afc-standin/base:bookworm                  debootstrapped Debian bookworm root (`docker import`)
#   afc-standin/airflow:2.10.4-python3.11      \
#   afc-standin/airflow:2.11.2-python3.11       } base + a Python 3.11 venv with apache-airflow,
#   afc-standin/airflow:3.3.2-python3.11       /  its constraints and /entrypoint
#   afc-standin/airflow:slim-2.10.4-python3.11 the 2.10.4 stand-in without the stack's providers
#   afc-standin/postgres:16                    base + an entrypoint running Debian's PostgreSQL 15
#   afc-standin/postgres:18                    the same with the postgres:18 data layout
#   afc-standin/redis:7.2                      base + an entrypoint running Debian's Redis 7.0
#
# Usage: bash standin/build.sh [--force] [IMAGE...]
#   IMAGE is e.g. airflow:3.3.2-python3.11, afc-standin/postgres:16, base, redis (default: all of them).
#   --force rebuilds the named images even when their recipe is unchanged (without names:
#   everything, starting from a fresh debootstrap).
#
# Every image carries the label org.afc.recipe=<hash of the files that make it + package spec>;
# an image whose tag exists with the same label is "up to date" and not rebuilt.
# Network is used on the host only (debootstrap, pip inside a chroot); every `docker build`
# runs with --network none.
set -euo pipefail

STANDIN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$STANDIN_DIR/.." && pwd)
CACHE_DIR=${AFC_STANDIN_CACHE:-$REPO_DIR/.cache/standin}
MIRROR=${AFC_STANDIN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
PREFIX=afc-standin
LABEL_KEY=org.afc.recipe
# Bump when the build logic in this script changes in a way that should rebuild images.
RECIPE_SCHEMA=1
PIP_VERSION=25.3
VENV=/opt/airflow-venv
AIRFLOW_VERSIONS=(2.10.4 2.11.2 3.3.2)
PYTHON=3.11  # bookworm's Python: the stand-in tags say so, as the released images' tags do
ALL_IMAGES=(base:bookworm airflow:2.10.4-python$PYTHON airflow:2.11.2-python$PYTHON airflow:3.3.2-python$PYTHON
            airflow:slim-2.10.4-python$PYTHON postgres:16 postgres:18 redis:7.2)

ROOTFS=$CACHE_DIR/rootfs
ROOTFS_STAMP=$CACHE_DIR/rootfs.recipe
PIP_CACHE=$CACHE_DIR/pip
CTX_DIR=$CACHE_DIR/ctx

log() { printf '[standin] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() { sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

# ---------------------------------------------------------------------------------------------
# Arguments
FORCE=0
WANTED=()
for arg in "$@"; do
    case $arg in
        --force|-f) FORCE=1 ;;
        -h|--help) usage; exit 0 ;;
        -*) die "unknown option: $arg" ;;
        *)
            name=${arg#"$PREFIX"/}
            case $name in
                base) name=base:bookworm ;;
                postgres) name=postgres:16 ;;
                airflow:[0-9]*.[0-9]*.[0-9]*) [[ $name == *-python* ]] || name=$name-python$PYTHON ;;
                redis) name=redis:7.2 ;;
                airflow) die "say which Airflow version: ${AIRFLOW_VERSIONS[*]/#/airflow:}" ;;
            esac
            found=0
            for i in "${ALL_IMAGES[@]}"; do [[ $i == "$name" ]] && found=1; done
            ((found)) || die "unknown image '$arg' (known: ${ALL_IMAGES[*]})"
            WANTED+=("$name")
            ;;
    esac
done
((${#WANTED[@]})) || WANTED=("${ALL_IMAGES[@]}")

[[ $(id -u) == 0 ]] || die "run as root (debootstrap and chroot need it)"
command -v docker >/dev/null || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "cannot reach the Docker engine"

# ---------------------------------------------------------------------------------------------
# Recipe hashes
hash_inputs() {  # hash_inputs STRING... -- FILE...   -> 16 hex digits
    local strings=() files=()
    while (($#)) && [[ $1 != -- ]]; do strings+=("$1"); shift; done
    (($#)) && shift
    files=("$@")
    {
        printf 'schema=%s\n' "$RECIPE_SCHEMA"
        printf 'str=%s\n' "${strings[@]}"
        local f
        for f in "${files[@]}"; do
            printf '== %s\n' "${f#"$STANDIN_DIR"/}"
            cat "$f"
        done
    } | sha256sum | cut -c1-16
}

# Files a requirements file pulls in with -c/-r (relative to it), recursively, and itself.
req_files() {
    local f=$1 dir line ref
    dir=$(dirname "$f")
    printf '%s\n' "$f"
    while IFS= read -r line; do
        line=${line%%#*}
        if [[ $line =~ ^[[:space:]]*-(c|r|-constraint|-requirement)[[:space:]=]+([^[:space:]]+) ]]; then
            ref=${BASH_REMATCH[2]}
            [[ $ref == /* ]] || ref=$dir/$ref
            [[ -f $ref ]] || die "$f refers to missing file $ref"
            req_files "$ref"
        fi
    done < "$f"
}

airflow_req() {
    local v=$1 f=$STANDIN_DIR/airflow/requirements/$1.txt
    [[ -f $f ]] || die "missing $f"
    printf '%s\n' "$f"
}

airflow_version() {  # airflow:2.10.4-python3.11 -> 2.10.4
    local v=${1#airflow:}
    printf '%s\n' "${v%-python*}"
}

# The constraints file the image carries at /home/airflow/constraints.txt, as the released images carry
# their release's: the official file where we have it, else the lock the venv was installed from.
constraints_of() {
    local official=$STANDIN_DIR/constraints/constraints-$1-python$PYTHON.txt
    if [[ -f $official ]]; then printf '%s\n' "$official"; else printf '%s\n' "$STANDIN_DIR/airflow/locks/$1.txt"; fi
}

venv_hash() {  # what the venv of version $1 depends on: a venv with this hash is reused from the cache
    local files
    mapfile -t files < <(req_files "$(airflow_req "$1")")
    hash_inputs "base=$BASE_HASH" "airflow=$1" "pip=$PIP_VERSION" "venv=$VENV" "venv-owner=50000:0" -- "${files[@]}"
}

BASE_HASH=$(hash_inputs "suite=$SUITE" "mirror-independent" -- \
    "$STANDIN_DIR/base/packages.txt" "$STANDIN_DIR/base/setup.sh")

recipe_hash() {  # recipe_hash IMAGE
    local img=$1
    case $img in
        base:bookworm) printf '%s\n' "$BASE_HASH" ;;
        airflow:slim-*)
            local regular=airflow:${img#airflow:slim-}
            hash_inputs "regular=$(recipe_hash "$regular")" -- "$STANDIN_DIR/airflow/Dockerfile.slim"
            ;;
        airflow:*)
            local v files
            v=$(airflow_version "$img")
            mapfile -t files < <(req_files "$(airflow_req "$v")")
            hash_inputs "base=$BASE_HASH" "venv=$(venv_hash "$v")" -- \
                "$STANDIN_DIR/airflow/Dockerfile" "$STANDIN_DIR/airflow/entrypoint.sh" "$(constraints_of "$v")"
            ;;
        postgres:*|redis:7.2)
            local d=${img%%:*}
            hash_inputs "base=$BASE_HASH" "image=$img" -- \
                "$STANDIN_DIR/$d/Dockerfile" "$STANDIN_DIR/$d/entrypoint.sh"
            ;;
        *) die "no recipe for $img" ;;
    esac
}

image_label() {  # image_label TAG -> recipe label or empty
    docker image inspect --format "{{ index .Config.Labels \"$LABEL_KEY\" }}" "$1" 2>/dev/null || true
}

image_current() {  # image_current IMAGE HASH
    [[ $(image_label "$PREFIX/$1") == "$2" ]]
}

# ---------------------------------------------------------------------------------------------
# Chroot handling: /proc is mounted and the pip cache bind-mounted while pip runs; the host's CA
# bundle and resolv.conf are copied in. All of it is undone on exit, whatever happens.
MOUNTS=()
TEMP_FILES=()
cleanup() {
    local i
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" 2>/dev/null || true
    done
    MOUNTS=()
    for i in "${TEMP_FILES[@]}"; do rm -rf --one-file-system "$i"; done
    TEMP_FILES=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

assert_unmounted() {  # refuse to delete a directory with anything mounted below it
    local dir
    dir=$(readlink -f "$1")
    if awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { found = 1 } END { exit !found }' /proc/mounts; then
        die "something is still mounted below $dir; not deleting it"
    fi
}

remove_tree() {
    [[ -e $1 ]] || return 0
    assert_unmounted "$1"
    rm -rf --one-file-system "$1"
}

chroot_enter() {  # prepare ROOTFS for running pip inside it
    local root=$ROOTFS
    mkdir -p "$PIP_CACHE"
    mount -t proc proc "$root/proc"; MOUNTS+=("$root/proc")
    mkdir -p "$root/tmp/afc-pip-cache"; TEMP_FILES+=("$root/tmp/afc-pip-cache")
    mount --bind "$PIP_CACHE" "$root/tmp/afc-pip-cache"; MOUNTS+=("$root/tmp/afc-pip-cache")
    TEMP_FILES+=("$root/etc/resolv.conf" "$root/tmp/afc-host-ca.pem" "$root/tmp/afc-standin")
    cp -L /etc/resolv.conf "$root/etc/resolv.conf"
    cp -L /etc/ssl/certs/ca-certificates.crt "$root/tmp/afc-host-ca.pem"
    mkdir -p "$root/tmp/afc-standin"
    cp -a "$STANDIN_DIR/airflow" "$STANDIN_DIR/constraints" "$root/tmp/afc-standin/"
}

chroot_leave() { cleanup; }

in_chroot() {  # run a command in ROOTFS with a clean environment (host PIP_*/SSL_* point at host paths)
    chroot "$ROOTFS" /usr/bin/env -i \
        PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
        PIP_CERT=/tmp/afc-host-ca.pem SSL_CERT_FILE=/tmp/afc-host-ca.pem \
        REQUESTS_CA_BUNDLE=/tmp/afc-host-ca.pem PIP_CACHE_DIR=/tmp/afc-pip-cache \
        PIP_DEFAULT_TIMEOUT=180 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 \
        PIP_PROGRESS_BAR=off PIP_ROOT_USER_ACTION=ignore \
        "$@"
}

# ---------------------------------------------------------------------------------------------
# Base root filesystem and image
ensure_debootstrap() {  # only a build from nothing needs it: a fresh machine fetches it from Debian's archive
    command -v debootstrap >/dev/null && return 0
    log "installing debootstrap (apt-get)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; } >/dev/null \
        || die "debootstrap is missing and apt-get could not install it"
}

ensure_rootfs() {
    if [[ -d $ROOTFS && -f $ROOTFS_STAMP && $(cat "$ROOTFS_STAMP") == "$BASE_HASH" ]]; then
        return 0
    fi
    remove_tree "$ROOTFS"; rm -f "$ROOTFS_STAMP"
    mkdir -p "$CACHE_DIR"
    local tmp=$ROOTFS.tmp
    remove_tree "$tmp"
    if ((!BASE_FORCED)) && image_current base:bookworm "$BASE_HASH"; then
        log "base: unpacking the root filesystem from $PREFIX/base:bookworm"
        mkdir -p "$tmp"
        local cid
        cid=$(docker create "$PREFIX/base:bookworm" /bin/true)
        docker export "$cid" | tar -x -C "$tmp" --numeric-owner
        docker rm "$cid" >/dev/null
        rm -f "$tmp/.dockerenv"
    else
        ensure_debootstrap
        local pkgs
        pkgs=$(sed -e 's/#.*//' "$STANDIN_DIR/base/packages.txt" | tr -s ' \t\n' '\n' | grep -v '^$' | paste -sd, -)
        log "base: debootstrap $SUITE ($pkgs)"
        local t0=$SECONDS
        if ! debootstrap --variant=minbase --include="$pkgs" "$SUITE" "$tmp" "$MIRROR" \
            >"$CACHE_DIR/debootstrap.log" 2>&1; then
            tail -n 30 "$CACHE_DIR/debootstrap.log" >&2
            die "debootstrap failed (log: $CACHE_DIR/debootstrap.log)"
        fi
        log "base: debootstrap took $((SECONDS - t0)) s"
        cp "$STANDIN_DIR/base/setup.sh" "$tmp/tmp/afc-setup.sh"
        chroot "$tmp" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root /bin/bash /tmp/afc-setup.sh
        rm -f "$tmp/tmp/afc-setup.sh"
    fi
    mv "$tmp" "$ROOTFS"
    printf '%s\n' "$BASE_HASH" > "$ROOTFS_STAMP"
}

build_base() {
    ensure_rootfs
    log "base: docker import"
    tar --numeric-owner -C "$ROOTFS" \
        --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' --exclude='./tmp/*' \
        --exclude='./run/*' -cf - . \
        | docker import \
            --change "LABEL $LABEL_KEY=$BASE_HASH" \
            --change 'ENV LANG=C.UTF-8' \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'CMD ["/bin/bash"]' \
            - "$PREFIX/base:bookworm" >/dev/null
}

# ---------------------------------------------------------------------------------------------
# Airflow: resolve and install in the chroot, tar the venv, docker build FROM the base.
build_airflow() {
    local img=$1 hash=$2 v ctx
    v=$(airflow_version "$img")
    ctx=$CTX_DIR/airflow-$v
    remove_tree "$ctx"; mkdir -p "$ctx"
    local venv_tar
    venv_tar=$CACHE_DIR/venv-$v-$(venv_hash "$v").tar
    if [[ -f $venv_tar ]]; then
        log "$img: reusing the venv of the same recipe ($venv_tar)"
    else
        ensure_rootfs
        chroot_enter
        remove_tree "$ROOTFS$VENV"
        TEMP_FILES+=("$ROOTFS$VENV")
        log "$img: pip install (inside the bookworm root)"
        in_chroot python3 -m venv "$VENV"
        in_chroot "$VENV/bin/pip" install --quiet "pip==$PIP_VERSION"
        if ! in_chroot "$VENV/bin/pip" install --no-warn-script-location \
            -r "/tmp/afc-standin/airflow/requirements/$v.txt" >"$CACHE_DIR/pip-$v.log" 2>&1; then
            tail -n 40 "$CACHE_DIR/pip-$v.log" >&2
            die "pip install for Airflow $v failed (log: $CACHE_DIR/pip-$v.log)"
        fi
        in_chroot "$VENV/bin/pip" check >&2 || log "$img: WARNING: pip check reports conflicts (above)"
        in_chroot "$VENV/bin/pip" freeze --all > "$ROOTFS$VENV/afc-standin-freeze.txt"
        cp "$ROOTFS$VENV/afc-standin-freeze.txt" "$CACHE_DIR/freeze-$v.txt"
        # Owned by the airflow user (50000:0) and group-writable, as the real image's Python packages are:
        # a derived image (`afc build`) pip-installs as that user.
        rm -f "$CACHE_DIR"/venv-"$v"-*.tar
        tar --numeric-owner --owner=50000 --group=0 --mode=g+w -C "$ROOTFS" -cf "$venv_tar.tmp" "${VENV#/}"
        mv "$venv_tar.tmp" "$venv_tar"
        chroot_leave
    fi
    ln "$venv_tar" "$ctx/venv.tar" 2>/dev/null || cp "$venv_tar" "$ctx/venv.tar"
    cp "$STANDIN_DIR/airflow/Dockerfile" "$ctx/Dockerfile"
    cp "$STANDIN_DIR/airflow/entrypoint.sh" "$ctx/entrypoint.sh"
    cp "$(constraints_of "$v")" "$ctx/constraints.txt"
    log "$img: docker build"
    docker_build "airflow-$v" --label "$LABEL_KEY=$hash" \
        --build-arg "AIRFLOW_VERSION=$v" -t "$PREFIX/$img" "$ctx"
    remove_tree "$ctx"
}

build_slim() {  # airflow:slim-V-pythonP: FROM the regular stand-in, the stack's providers uninstalled
    local img=$1 hash=$2 regular=airflow:${1#airflow:slim-}
    log "$img: docker build (from $PREFIX/$regular)"
    docker_build "airflow-slim" --label "$LABEL_KEY=$hash" --build-arg "REGULAR=$PREFIX/$regular" \
        -t "$PREFIX/$img" -f "$STANDIN_DIR/airflow/Dockerfile.slim" "$STANDIN_DIR/airflow"
}

remove_replaced() {  # remove_replaced OLD_ID TAG: drop the image a rebuild replaced, if unused
    local old=$1 new
    [[ -n $old ]] || return 0
    new=$(docker image inspect --format '{{.Id}}' "$2" 2>/dev/null || true)
    if [[ $old != "$new" ]]; then
        docker image rm "$old" >/dev/null 2>&1 || log "$2: the replaced image ${old:7:12} is still in use; kept"
    fi
}

docker_build() {  # docker_build LOGNAME ARGS...: no network, output to a log shown on failure
    local logf=$CACHE_DIR/docker-build-$1.log
    shift
    mkdir -p "$CACHE_DIR"
    local extra=()
    ((FORCE)) && extra=(--no-cache)
    if ! docker build --network none "${extra[@]}" "$@" >"$logf" 2>&1; then
        tail -n 40 "$logf" >&2
        die "docker build failed (log: $logf)"
    fi
}

build_simple() {  # postgres:16|18 / redis:7.2: small context straight from standin/<name>/
    local img=$1 hash=$2 d=${1%%:*}
    log "$img: docker build"
    local layout=()
    if [[ $img == postgres:* ]] && ((${img#postgres:} >= 18)); then
        layout=(--build-arg "PGDATA_DIR=/var/lib/postgresql/${img#postgres:}/docker"
                --build-arg "VOLUME_DIR=/var/lib/postgresql")
    fi
    docker_build "$d-${img#*:}" --label "$LABEL_KEY=$hash" "${layout[@]}" -t "$PREFIX/$img" "$STANDIN_DIR/$d"
}

# ---------------------------------------------------------------------------------------------
# Main
T_START=$SECONDS
declare -A HASH STATUS
NEED_BASE=0
BUILD_LIST=()
for img in "${WANTED[@]}"; do
    HASH[$img]=$(recipe_hash "$img")
    if ((FORCE)) || ! image_current "$img" "${HASH[$img]}"; then
        BUILD_LIST+=("$img")
    fi
done
# Everything is built FROM the base: make sure it is current first.
BASE_FORCED=0
for img in "${BUILD_LIST[@]}"; do [[ $img == base:bookworm ]] && NEED_BASE=1; done
if ((NEED_BASE && FORCE)); then
    BASE_FORCED=1
    # A forced base build starts from a fresh debootstrap.
    remove_tree "$ROOTFS"; rm -f "$ROOTFS_STAMP"
fi
if ((${#BUILD_LIST[@]})) && ! image_current base:bookworm "$BASE_HASH"; then
    NEED_BASE=1
fi

if ((NEED_BASE)); then
    t0=$SECONDS
    build_base
    STATUS[base:bookworm]="built in $((SECONDS - t0)) s"
fi

for img in "${BUILD_LIST[@]}"; do
    [[ $img == base:bookworm ]] && continue
    t0=$SECONDS
    old_id=$(docker image inspect --format '{{.Id}}' "$PREFIX/$img" 2>/dev/null || true)
    case $img in
        airflow:slim-*) build_slim "$img" "${HASH[$img]}" ;;
        airflow:*) build_airflow "$img" "${HASH[$img]}" ;;
        *) build_simple "$img" "${HASH[$img]}" ;;
    esac
    remove_replaced "$old_id" "$PREFIX/$img"
    STATUS[$img]="built in $((SECONDS - t0)) s"
    log "$img: ${STATUS[$img]}"
done

printf '\n%-32s %-18s %s\n' IMAGE RECIPE RESULT
for img in "${WANTED[@]}"; do
    printf '%-32s %-18s %s\n' "$PREFIX/$img" "${HASH[$img]}" "${STATUS[$img]:-up to date}"
done
if ((NEED_BASE)) && [[ " ${WANTED[*]} " != *" base:bookworm "* ]]; then
    printf '%-32s %-18s %s\n' "$PREFIX/base:bookworm" "$BASE_HASH" "${STATUS[base:bookworm]}"
fi
printf 'total: %d s\n' "$((SECONDS - T_START))"
