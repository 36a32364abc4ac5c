#!/usr/bin/env bash
# The main job: two Skupper sites on this host's Podman (namespaces demo-west and demo-east),
# linked with a token; an HTTP server on west is exposed as the service "backend" and a client
# container on east fetches http://backend:8080/ through the two routers. Everything is removed
# at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SKUPPER="$ROOT/.venv/bin/skupper --platform podman"
QDROUTERD_IMAGE=$(bash "$ROOT/scripts/router-image.sh")
export QDROUTERD_IMAGE
case "$QDROUTERD_IMAGE" in
  *router-double*) echo "NOTE: the real skupper-router image is not available here; this demo uses the router test double $QDROUTERD_IMAGE";;
  *) echo "Router image: $QDROUTERD_IMAGE";;
esac
WEST=${DEMO_WEST:-demo-west}
EAST=${DEMO_EAST:-demo-east}
SERVER=$WEST-hello-server
CLIENT=$EAST-hello-client
TOKEN=$(mktemp --suffix=.token)
cleanup() {
  podman rm -f -t 0 "$SERVER" "$CLIENT" >/dev/null 2>&1 || true
  $SKUPPER delete -n "$EAST" >/dev/null || true
  $SKUPPER delete -n "$WEST" >/dev/null || true
  rm -f "$TOKEN"
}
trap cleanup EXIT
cleanup
set -x
$SKUPPER init -n "$WEST" --site-name west --ingress-host host.containers.internal --bind-port 25671 --bind-port-edge 25672
$SKUPPER init -n "$EAST" --site-name east --ingress-host host.containers.internal --bind-port 26671 --bind-port-edge 26672
$SKUPPER token create "$TOKEN" -n "$WEST"
$SKUPPER link create "$TOKEN" -n "$EAST" --cost 2
$SKUPPER link status link1 -n "$EAST" --wait 30
$SKUPPER link status -n "$WEST"

# An HTTP server on west's network (python3 comes with the router image: no registry needed).
{ set +x; } 2>/dev/null
network() { "$ROOT/.venv/bin/python" -c 'import sys; from skupper_podman import Site; print(Site.open(sys.argv[1]).get().network)' "$1"; }
WEST_NET=$(network "$WEST")
EAST_NET=$(network "$EAST")
set -x
podman run -d --name "$SERVER" --network "$WEST_NET" --stop-timeout 1 "$QDROUTERD_IMAGE" \
  python3 -c 'import http.server as h
class Hello(h.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"Hello from the west site, through the Skupper network\n"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
h.ThreadingHTTPServer(("", 8080), Hello).serve_forever()' >/dev/null

# The service: known on both sites, bound on west to the server.
$SKUPPER service create backend 8080 -n "$EAST"
$SKUPPER expose host "$SERVER" --address backend --port 8080 -n "$WEST"
$SKUPPER service status -n "$WEST"
$SKUPPER service status -n "$EAST"

# A client on east reaches "backend" by name; the listener opens once the route is known.
podman run --rm --name "$CLIENT" --network "$EAST_NET" "$QDROUTERD_IMAGE" python3 -c '
import sys, time, urllib.request
deadline = time.monotonic() + 60
while True:
    try:
        print(urllib.request.urlopen("http://backend:8080/", timeout=5).read().decode(), end="")
        break
    except OSError as err:
        if time.monotonic() > deadline:
            sys.exit(f"backend not reachable: {err}")
        time.sleep(0.5)'

$SKUPPER status -n "$WEST"
$SKUPPER status -n "$EAST" -v
$SKUPPER version -n "$EAST"

# The network as the sites' controllers and routers announce it (a beacon every 10 s): both
# sites, linked, each with the service it knows, seen from east. The router double emits no
# flow records, so there it shows east alone, at once.
{ set +x; } 2>/dev/null
case "$QDROUTERD_IMAGE" in
  *router-double*) echo "+ the router double announces nothing: network status shows the local site only";;
  *)
    echo "+ waiting for both sites in east's network status"
    for _ in $(seq 1 90); do
      $SKUPPER network status -n "$EAST" -o json 2>/dev/null | "$ROOT/.venv/bin/python" -c '
import json, sys
sites = json.load(sys.stdin)["sites"]
ready = len(sites) >= 2 and all(s["linked_sites"] and s["services"] for s in sites)
sys.exit(0 if ready else 1)' && break
      sleep 1
    done;;
esac
set -x
$SKUPPER network status -n "$EAST"
