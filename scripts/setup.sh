#!/usr/bin/env bash
# Set up a fresh Debian 12 machine (as root) for skupper-podman: the Podman stack, its API
# service, the project's virtualenv and the locally built router image. Safe to run again.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${SKUPPER_PODMAN_STATE:-$ROOT/.ci/state}
mkdir -p "$STATE"
log() { printf '== %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
  echo "scripts/setup.sh installs system packages and starts the Podman API service: run it as root" >&2
  exit 1
fi

# podman-docker: the docker CLI emulation the docker-type gateway tests use
PKGS=(podman netavark aardvark-dns runc uidmap slirp4netns iptables catatonit busybox-static
      mmdebstrap curl systemd libssl-dev python3-venv python3-dev gcc openssl podman-docker)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends --no-upgrade "${missing[@]}"
fi

# crun fails on this machine's hybrid cgroups, nproc above 32768 fails (podman-env.md §1).
CONF=/etc/containers/containers.conf
if ! grep -q 'runtime = "runc"' "$CONF" 2>/dev/null; then
  log "writing $CONF"
  mkdir -p /etc/containers
  cat > "$CONF" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
fi
# rootless Podman (slirp4netns) needs this; devtmpfs resets it at boot
chmod 0666 /dev/net/tun 2>/dev/null || true

SOCK=/run/podman/podman.sock
if ! curl -sf --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; then
  log "starting the Podman API service on $SOCK"
  mkdir -p /run/podman
  # Started from / : a service whose working directory is later removed (a deleted clone)
  # fails every container start with "write child: broken pipe".
  (cd / && exec nohup podman system service --time=0 "unix://$SOCK" >"$STATE/podman-service.log" 2>&1 </dev/null) &
  for _ in $(seq 1 250); do curl -sf --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1 && break; sleep 0.02; done
  curl -sf --unix-socket "$SOCK" http://d/_ping >/dev/null || { echo "Podman API did not start" >&2; exit 1; }
fi

VENV=$ROOT/.venv
if [ ! -x "$VENV/bin/skupper" ] || ! "$VENV/bin/python" -c 'import skupper_podman, proton, pytest, h2' 2>/dev/null; then
  log "creating $VENV"
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -e "$ROOT[test]"
fi
"$VENV/bin/python" -c 'import proton, sys; sys.exit(0 if proton.SSL.present() else "python-qpid-proton was built without SSL: install libssl-dev and reinstall it")'

# The double is always built: the conformance suite runs against it as well as the real router.
log "building the router double image"
DOUBLE=$(bash "$ROOT/scripts/router-image.sh" --double)
log "router double image: $DOUBLE"
log "choosing the router image"
IMAGE=$(bash "$ROOT/scripts/router-image.sh")
log "router image: $IMAGE"

# Service-type gateways run skrouterd on the host (tests/vm copies it into the VM): install the
# real router under /usr/local once, when the build tool is beside the checkout.
BUILD_ROUTER=$ROOT/../shared/tools/build-real-router
if [ ! -x /usr/local/bin/skrouterd ] && [ -x "$BUILD_ROUTER" ]; then
  log "installing skrouterd under /usr/local (build-real-router --host)"
  "$BUILD_ROUTER" --host >/dev/null
fi

# The "VM" of the boot-persistence tests (tests/vm): built once per machine (~1.5 min), when the
# image builder is beside the checkout.
if [ -x "$ROOT/../shared/tools/make-vm-image" ]; then
  log "VM image for tests/vm: $(bash "$ROOT/scripts/vm-image.sh")"
fi
