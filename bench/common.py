"""Shared helpers for the benchmark scripts: timing, the router image, isolated XDG dirs."""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUTER_IMAGE_SCRIPT = ROOT / "scripts" / "router-image.sh"


def _image_from_script(*args: str) -> str:
    """The last stdout line of ``scripts/router-image.sh`` (it honours ``QDROUTERD_IMAGE``)."""
    out = subprocess.run(["bash", str(ROUTER_IMAGE_SCRIPT), *args], capture_output=True, text=True)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        sys.exit(f"scripts/router-image.sh {' '.join(args)} failed: {out.stderr.strip()}")
    return lines[-1].strip()


def router_image() -> str:
    """The router image the project decided on: ``scripts/router-image.sh`` (QDROUTERD_IMAGE,
    else the real router, else the double)."""
    return _image_from_script()


def double_image() -> str:
    """The router test double's image (``scripts/router-image.sh --double``, built if needed)."""
    return _image_from_script("--double")


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def summary(samples: list[float]) -> str:
    return (f"median {statistics.median(samples) * 1000:8.1f} ms   min {min(samples) * 1000:8.1f} ms   "
            f"max {max(samples) * 1000:8.1f} ms   (n={len(samples)})")


class IsolatedUser:
    """Private XDG directories and a unique namespace prefix for benchmark sites."""

    def __init__(self, image: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="skupper-bench-"))
        self.env = {**os.environ, "XDG_DATA_HOME": str(self.dir / "share"),
                    "XDG_CONFIG_HOME": str(self.dir / "config"), "QDROUTERD_IMAGE": image}
        self.prefix = "b" + uuid.uuid4().hex[:6]

    def skupper(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(ROOT / ".venv/bin/skupper"), "--platform", "podman", *args]
        out = subprocess.run(cmd, capture_output=True, text=True, env=self.env)
        if check and out.returncode != 0:
            sys.exit(f"{' '.join(args)} failed: {out.stderr.strip()}")
        return out

    def cleanup(self, namespaces: list[str]) -> None:
        for ns in namespaces:
            self.skupper("delete", "-n", ns, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]
