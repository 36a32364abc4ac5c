#!/bin/bash
# Build (offline) the images of the skupper-router 2.5.3 test double.
#
#   localhost/skupper-podman-pybase:<recipe hash>        Debian bookworm + python3-qpid-proton
#   localhost/skupper-podman-router-double:<input hash>  the double, also tagged :latest
#
# Idempotent: an image whose tag (a hash of its inputs) exists is not rebuilt.
# Progress goes to stderr; the last line of stdout is the double's image name.
# The router schema is the project's copy, skupper_podman/router/schema/skrouter-2.5.3.json.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HERE/../.." && pwd)
SCHEMA_FILE=$REPO_ROOT/skupper_podman/router/schema/skrouter-2.5.3.json
BASE_REPO=localhost/skupper-podman-pybase
DOUBLE_REPO=localhost/skupper-podman-router-double

log() { echo "build-image: $*" >&2; }

[ -r "$SCHEMA_FILE" ] || { log "cannot read the router schema $SCHEMA_FILE"; exit 1; }

# One build at a time on this machine (test sessions may start concurrently).
exec 9>"${TMPDIR:-/tmp}/skupper-podman-router-double.lock"
flock 9

# --- base image -------------------------------------------------------------------
BASE_RECIPE=(mmdebstrap --variant=essential --include=python3-qpid-proton
    --aptopt='APT::Install-Recommends "false"'
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*'
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*'
    --dpkgopt='path-include=/usr/share/doc/*/copyright'
    bookworm -)
BASE_HASH=$(printf '%s\n' "${BASE_RECIPE[@]}" | sha256sum | cut -c1-12)
BASE_IMAGE=$BASE_REPO:$BASE_HASH

if podman image exists "$BASE_IMAGE"; then
    log "base image $BASE_IMAGE exists"
else
    log "building base image $BASE_IMAGE with mmdebstrap"
    rootfs_tar=$(mktemp --tmpdir=/var/tmp skupper-pybase.XXXXXX.tar)
    trap 'rm -f "$rootfs_tar"' EXIT
    "${BASE_RECIPE[@]}" >"$rootfs_tar" 2> >(tail -n 20 >&2)
    podman import --quiet "$rootfs_tar" "$BASE_IMAGE" >/dev/null
    rm -f "$rootfs_tar"
    trap - EXIT
fi

# --- double image -----------------------------------------------------------------
# Inputs: this script, the Containerfile, image/ files, the Python package and the schema.
input_files() {
    (cd "$HERE" && find build-image.sh Containerfile image skrouterd_double -type f \
        ! -path '*/__pycache__/*' ! -name '*.pyc' | LC_ALL=C sort)
}
DOUBLE_HASH=$( {
    echo "$BASE_IMAGE"
    input_files | while read -r f; do echo "$f"; sha256sum <"$HERE/$f"; done
    sha256sum <"$SCHEMA_FILE"
} | sha256sum | cut -c1-12)
DOUBLE_IMAGE=$DOUBLE_REPO:$DOUBLE_HASH

if podman image exists "$DOUBLE_IMAGE"; then
    log "router double image $DOUBLE_IMAGE exists"
else
    log "building router double image $DOUBLE_IMAGE"
    ctx=$(mktemp -d --tmpdir=/var/tmp skupper-router-double.XXXXXX)
    trap 'rm -rf "$ctx"' EXIT
    site_pkgs=$ctx/rootfs/usr/local/lib/python3.11/dist-packages
    mkdir -p "$site_pkgs" "$ctx/rootfs/home/skrouterd/bin" "$ctx/rootfs/usr/sbin" \
        "$ctx/rootfs/etc" "$ctx/home-runner"
    (cd "$HERE" && tar -c --exclude=__pycache__ --exclude='*.pyc' skrouterd_double) | tar -x -C "$site_pkgs"
    cp "$SCHEMA_FILE" "$site_pkgs/skrouterd_double/skrouter.json"
    # Byte-compile with the host's Python 3.11 (same as bookworm's) so the image needs no RUN.
    python3 -m compileall -q --invalidation-mode unchecked-hash "$site_pkgs/skrouterd_double" >/dev/null
    install -m 0755 "$HERE/image/launch.sh" "$HERE/image/configure.sh" "$HERE/image/expandvars.py" \
        "$ctx/rootfs/home/skrouterd/bin/"
    install -m 0755 "$HERE/image/skrouterd" "$ctx/rootfs/usr/sbin/skrouterd"
    # passwd/group of the base plus the real image's user "runner" (uid 10000, gid 0).
    podman run --rm --pull=never --net=none "$BASE_IMAGE" cat /etc/passwd >"$ctx/rootfs/etc/passwd"
    podman run --rm --pull=never --net=none "$BASE_IMAGE" cat /etc/group >"$ctx/rootfs/etc/group"
    echo 'runner:x:10000:0:runner:/home/runner:/bin/sh' >>"$ctx/rootfs/etc/passwd"
    cp "$HERE/Containerfile" "$ctx/Containerfile"
    podman build --quiet --pull=never --build-arg "BASE_IMAGE=$BASE_IMAGE" \
        --label "io.skupper-podman.inputs=$DOUBLE_HASH" -t "$DOUBLE_IMAGE" -f "$ctx/Containerfile" "$ctx" >/dev/null
    rm -rf "$ctx"
    trap - EXIT
fi
podman tag "$DOUBLE_IMAGE" "$DOUBLE_REPO:latest"
# Drop tags of earlier builds made more than 6 hours ago (an image still used by a container is
# kept by podman). Younger ones stay: a test session working from another checkout may be using
# its build right now, between two containers.
podman images --format '{{.Repository}}:{{.Tag}}' --filter "reference=$DOUBLE_REPO" --filter until=6h |
    { grep -v -x -e "$DOUBLE_IMAGE" -e "$DOUBLE_REPO:latest" || true; } |
    while read -r stale; do podman rmi "$stale" >/dev/null 2>&1 || true; done
echo "$DOUBLE_IMAGE"
