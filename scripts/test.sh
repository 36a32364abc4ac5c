#!/usr/bin/env bash
# Run the whole test suite (unit, router double conformance, end-to-end on real Podman).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m pytest -q -ra "$@"
