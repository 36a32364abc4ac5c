#!/usr/bin/env bash
# The one place that decides which skupper-router image setup, the demo, the tests and the
# benches use. Prints the image name as the last line of stdout; progress goes to stderr.
#
#   1. $QDROUTERD_IMAGE, if set (it must exist locally or be pullable);
#   2. the upstream image quay.io/skupper/skupper-router:2.5.3, if present or pullable;
#   3. the real router built from source with ../shared/tools/build-real-router, when that
#      tool exists (building takes about a minute, and only once: it is a no-op when the
#      image exists), together with localhost/acc-tools:1 for the benches;
#   4. the router test double (tests/router_double), built offline.
#
#   router-image.sh            decide, building what is needed (needs root to build)
#   router-image.sh --double   print the router double's image (building it if needed)
#
# The decision is remembered in $SKUPPER_PODMAN_STATE/router-image (default .ci/state) while
# that image exists, so the upstream pull is tried once per machine, not once per call.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${SKUPPER_PODMAN_STATE:-$ROOT/.ci/state}
UPSTREAM=quay.io/skupper/skupper-router:2.5.3
REAL_BUILDER=${REAL_ROUTER_BUILDER:-$ROOT/../shared/tools/build-real-router}
CHOICE_FILE=$STATE/router-image
log() { printf 'router-image: %s\n' "$*" >&2; }

double() { bash "$ROOT/tests/router_double/build-image.sh" | tail -n 1; }

if [ "${1:-}" = --double ]; then
  double
  exit 0
fi

if [ -n "${QDROUTERD_IMAGE:-}" ]; then
  if ! podman image exists "$QDROUTERD_IMAGE" && ! podman pull -q "$QDROUTERD_IMAGE" >/dev/null 2>&1; then
    log "QDROUTERD_IMAGE=$QDROUTERD_IMAGE is neither present nor pullable"
    exit 1
  fi
  echo "$QDROUTERD_IMAGE"
  exit 0
fi

if [ -r "$CHOICE_FILE" ]; then
  remembered=$(cat "$CHOICE_FILE")
  if [ -n "$remembered" ] && podman image exists "$remembered"; then
    echo "$remembered"
    exit 0
  fi
fi

choose() {
  if podman image exists "$UPSTREAM"; then
    echo "$UPSTREAM"; return
  fi
  log "trying to pull $UPSTREAM"
  if timeout 60 podman pull -q "$UPSTREAM" >/dev/null 2>&1; then
    echo "$UPSTREAM"; return
  fi
  if [ -x "$REAL_BUILDER" ]; then
    log "$UPSTREAM cannot be pulled; building the real router from source with $REAL_BUILDER"
    # --tools: also the small tools image (iperf3, curl, python3) the benches run clients in
    "$REAL_BUILDER" --tools | tail -n 1
    return
  fi
  log "$UPSTREAM cannot be pulled and $REAL_BUILDER is absent: using the router test double"
  double
}

image=$(choose)
mkdir -p "$STATE"
echo "$image" > "$CHOICE_FILE"
echo "$image"
