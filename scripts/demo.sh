#!/usr/bin/env bash
# The main job: turn this host into a Skupper site on Podman and show its status.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SKUPPER="$ROOT/.venv/bin/skupper --platform podman"
REAL=quay.io/skupper/skupper-router:2.5.3
if [ -z "${QDROUTERD_IMAGE:-}" ] && ! podman image exists "$REAL"; then
  QDROUTERD_IMAGE=$(cat "$ROOT/.ci/state/router-double-image")
  export QDROUTERD_IMAGE
  echo "NOTE: $REAL cannot be pulled here; this demo uses the locally built router test double $QDROUTERD_IMAGE"
fi
NS=${DEMO_NAMESPACE:-demo}
$SKUPPER delete -n "$NS" >/dev/null
set -x
$SKUPPER init -n "$NS" --site-name demo-site --ingress-host host.containers.internal \
  --bind-port 25671 --bind-port-edge 25672
$SKUPPER status -n "$NS"
$SKUPPER status -n "$NS" -v
$SKUPPER version -n "$NS"
$SKUPPER delete -n "$NS"
