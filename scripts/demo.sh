#!/usr/bin/env bash
# The main job: two Skupper sites on this host's Podman (namespaces west and east), linked with a
# token, then their status; everything is removed at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SKUPPER="$ROOT/.venv/bin/skupper --platform podman"
REAL=quay.io/skupper/skupper-router:2.5.3
if [ -z "${QDROUTERD_IMAGE:-}" ] && ! podman image exists "$REAL"; then
  QDROUTERD_IMAGE=$(bash "$ROOT/tests/router_double/build-image.sh" 2>/dev/null | tail -n 1)
  export QDROUTERD_IMAGE
  echo "NOTE: $REAL cannot be pulled here; this demo uses the locally built router test double $QDROUTERD_IMAGE"
fi
WEST=${DEMO_WEST:-demo-west}
EAST=${DEMO_EAST:-demo-east}
TOKEN=$(mktemp --suffix=.token)
cleanup() { $SKUPPER delete -n "$EAST" >/dev/null || true; $SKUPPER delete -n "$WEST" >/dev/null || true; rm -f "$TOKEN"; }
trap cleanup EXIT
cleanup
set -x
$SKUPPER init -n "$WEST" --site-name west --ingress-host host.containers.internal --bind-port 25671 --bind-port-edge 25672
$SKUPPER init -n "$EAST" --site-name east --ingress-host host.containers.internal --bind-port 26671 --bind-port-edge 26672
$SKUPPER token create "$TOKEN" -n "$WEST"
$SKUPPER link create "$TOKEN" -n "$EAST" --cost 2
$SKUPPER link status link1 -n "$EAST" --wait 30
$SKUPPER link status -n "$WEST"
$SKUPPER status -n "$WEST"
$SKUPPER status -n "$EAST" -v
$SKUPPER version -n "$EAST"
