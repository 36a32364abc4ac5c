#!/usr/bin/env bash
# The "VM" of the boot-persistence tests (tests/vm, ../shared/reference/vm-simulation.md).
#
#   scripts/vm-image.sh               build the image once per machine (nothing to do when it
#                                     exists) and print its name: Debian 12 with systemd as PID 1
#                                     and nested Podman, the project's dependencies preinstalled
#                                     in /opt/vmsim/venv. Run as root; needs mmdebstrap.
#   scripts/vm-image.sh --wheel DIR   build only the project's own wheel into DIR, print its path
#
# Both build from the files git knows, copied aside (no build/ or egg-info left in the checkout),
# with the system Python: the VM's is the same Debian 12 python3.11.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMAGE=${VMSIM_IMAGE:-localhost/vmsim:1}
MAKE=${VMSIM_MAKE_IMAGE:-$ROOT/../shared/tools/make-vm-image}

WORK=$(mktemp -d /tmp/vmsim-build.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
copy_tree() {
  mkdir "$WORK/src"
  (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
     | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
     | xargs -0 cp --parents -t "$WORK/src")
}

if [ "${1:-}" = --wheel ]; then
  OUT=$(mkdir -p "$2" && cd "$2" && pwd)
  copy_tree
  PIP=pip
  [ -x "$ROOT/.venv/bin/pip" ] && PIP=$ROOT/.venv/bin/pip
  "$PIP" wheel -q --no-deps -w "$OUT" "$WORK/src" >/dev/null 2>&1 \
    || "$PIP" wheel --no-deps -w "$OUT" "$WORK/src" >&2
  ls "$OUT"/skupper_podman-*.whl
  exit 0
fi

if podman image exists "$IMAGE"; then
  echo "$IMAGE"
  exit 0
fi
[ -x "$MAKE" ] || { echo "no VM image builder at $MAKE" >&2; exit 1; }
copy_tree
mkdir "$WORK/wheels"
/usr/bin/python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" wheel -q -w "$WORK/wheels" "$WORK/src" >&2
rm -f "$WORK"/wheels/skupper_podman-*.whl  # the tests install the current one
"$MAKE" --wheels "$WORK/wheels" --tag "$IMAGE" >&2
echo "$IMAGE"
