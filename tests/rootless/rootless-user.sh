#!/bin/bash
# A throw-away non-root user with its own rootless Podman API service (podman-env.md §4).
# Run as root. Used by tests/e2e/test_rootless.py; also handy by hand.
#
#   rootless-user.sh prepare USER [IMAGE...]   create/configure USER, start its API service,
#                                              copy the IMAGEs from root's store into USER's;
#                                              prints KEY=VALUE lines (uid, home, socket, ...)
#   rootless-user.sh run USER CMD [ARG...]     run CMD as USER with a clean login-like env;
#                                              extra VAR=value words before CMD are passed on
#   rootless-user.sh stop USER                 stop USER's API service and its pause process
#   rootless-user.sh remove USER               stop, then delete USER, its home and run dir
#
# prepare is idempotent. The API service's PID is kept in $XDG_RUNTIME_DIR/skupper-test-service.pid.
set -euo pipefail

die() { echo "rootless-user: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
[ $# -ge 2 ] || die "usage: $0 prepare|run|stop|remove USER [...]"
ACTION=$1
USER_NAME=$2
shift 2

user_vars() {
    USER_UID=$(id -u "$USER_NAME")
    USER_GID=$(id -g "$USER_NAME")
    USER_HOME=$(getent passwd "$USER_NAME" | cut -d: -f6)
    RUN_DIR=/run/user/$USER_UID
    SOCK=$RUN_DIR/podman/podman.sock
    PID_FILE=$RUN_DIR/skupper-test-service.pid
}

# as_user [VAR=value...] CMD...: no sudo here, no logind; runuser keeps root's cwd, so cd home.
as_user() {
    local extra=()
    while [ $# -gt 0 ] && [[ $1 == [A-Za-z_]*=* ]]; do extra+=("$1"); shift; done
    (cd "$USER_HOME" && runuser -u "$USER_NAME" -- env -i HOME="$USER_HOME" USER="$USER_NAME" \
        LOGNAME="$USER_NAME" PATH=/usr/bin:/bin XDG_RUNTIME_DIR="$RUN_DIR" LANG=C.UTF-8 \
        "${extra[@]}" "$@")
}

ping_service() { curl -sf --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; }

ensure_subids() {
    local file
    for file in /etc/subuid /etc/subgid; do
        grep -q "^$USER_NAME:" "$file" 2>/dev/null && continue
        # the first free block of 65536 after every range already handed out
        local start
        start=$(awk -F: 'BEGIN { m = 100000 } { e = $2 + $3; if (e > m) m = e } END { print m }' "$file" 2>/dev/null || echo 100000)
        if [ "$file" = /etc/subuid ]; then
            usermod --add-subuids "$start-$((start + 65535))" "$USER_NAME"
        else
            usermod --add-subgids "$start-$((start + 65535))" "$USER_NAME"
        fi
        MIGRATE=1
    done
}

start_service() {
    ping_service && return 0
    mkdir -p "$RUN_DIR/podman"
    chown "$USER_NAME:" "$RUN_DIR/podman"
    rm -f "$SOCK"
    # The inner shell records its own PID and execs podman, so the file names the service itself.
    as_user sh -c 'echo $$ >"$0"; exec podman system service --time=0 "unix://$1"' "$PID_FILE" "$SOCK" \
        </dev/null >"$RUN_DIR/skupper-test-service.log" 2>&1 &
    local _
    for _ in $(seq 1 500); do ping_service && return 0; sleep 0.02; done
    die "the API service of $USER_NAME did not answer on $SOCK: $(tail -n 5 "$RUN_DIR/skupper-test-service.log")"
}

prepare() {
    local created=0
    if ! id "$USER_NAME" >/dev/null 2>&1; then
        useradd -m -s /bin/bash "$USER_NAME"
        created=1
    fi
    user_vars
    MIGRATE=0
    ensure_subids
    # slirp4netns opens /dev/net/tun as the user; devtmpfs resets it to 0600 at boot
    chmod 0666 /dev/net/tun
    # no logind: make the runtime directory by hand
    mkdir -p "$RUN_DIR"
    chown "$USER_NAME:" "$RUN_DIR"
    chmod 0700 "$RUN_DIR"
    # rootless Podman picks vfs without this; it must exist before the user's first podman call
    local conf=$USER_HOME/.config/containers/storage.conf
    if [ ! -f "$conf" ]; then
        as_user mkdir -p "$USER_HOME/.config/containers"
        as_user sh -c 'printf "[storage]\ndriver = \"overlay\"\n" >"$0"' "$conf"
    fi
    [ "$MIGRATE" = 1 ] && as_user podman system migrate >/dev/null
    local driver
    driver=$(as_user podman info --format '{{.Store.GraphDriverName}}')
    if [ "$driver" != overlay ]; then
        echo "rootless-user: $USER_NAME's storage uses $driver; resetting it to overlay" >&2
        as_user podman system reset -f >/dev/null 2>&1
    fi
    start_service
    local image
    for image in "$@"; do
        as_user podman image exists "$image" && continue
        podman save "$image" | as_user podman load -q >/dev/null
        as_user podman image exists "$image" || die "loading $image into $USER_NAME's storage failed"
    done
    echo "USER_CREATED=$created"
    echo "USER_UID=$USER_UID"
    echo "USER_GID=$USER_GID"
    echo "USER_HOME=$USER_HOME"
    echo "XDG_RUNTIME_DIR=$RUN_DIR"
    echo "PODMAN_SOCKET=$SOCK"
    echo "SERVICE_PID=$(cat "$PID_FILE" 2>/dev/null || true)"
}

# stop_pid PID EXPECTED_COMM: SIGTERM, then SIGKILL after 5 s; only a process of USER named so.
stop_pid() {
    local pid=$1 comm=$2 _
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 0
    [ "$(stat -c %u "/proc/$pid")" = "$USER_UID" ] || return 0
    [ "$(cat "/proc/$pid/comm")" = "$comm" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 250); do [ -d "/proc/$pid" ] || return 0; sleep 0.02; done
    kill -KILL "$pid" 2>/dev/null || true
}

stop() {
    id "$USER_NAME" >/dev/null 2>&1 || return 0
    user_vars
    stop_pid "$(cat "$PID_FILE" 2>/dev/null || true)" podman
    rm -f "$PID_FILE" "$SOCK"
    # rootless Podman's per-user pause process (catatonit -P) holds the user namespace
    stop_pid "$(cat "$RUN_DIR/libpod/tmp/pause.pid" 2>/dev/null || true)" catatonit
}

# user_processes: "PID:COMM" of every process (zombies included) still owned by USER
user_processes() {
    local d
    for d in /proc/[0-9]*; do
        [ "$(stat -c %u "$d" 2>/dev/null)" = "$USER_UID" ] && echo "${d#/proc/}:$(cat "$d/comm" 2>/dev/null)"
    done
    return 0
}

remove() {
    id "$USER_NAME" >/dev/null 2>&1 || return 0
    stop
    # conmon and slirp4netns of removed containers exit (and get reaped) shortly after
    local left _
    for _ in $(seq 1 100); do
        left=$(user_processes)
        [ -z "$left" ] && break
        sleep 0.1
    done
    [ -z "$left" ] || die "$USER_NAME still has processes, not removing it: $(echo $left)"
    userdel -r "$USER_NAME" 2> >(grep -v 'mail spool' >&2)
    rm -rf "$RUN_DIR"
}

case $ACTION in
    prepare) prepare "$@" ;;
    run) user_vars; as_user "$@" ;;
    stop) stop ;;
    remove) remove ;;
    *) die "unknown action $ACTION" ;;
esac
