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
REAL_IMAGE = "quay.io/skupper/skupper-router:2.5.3"


def router_image() -> str:
    """QDROUTERD_IMAGE, else the real image if present, else the locally built router double."""
    if os.environ.get("QDROUTERD_IMAGE"):
        return os.environ["QDROUTERD_IMAGE"]
    if subprocess.run(["podman", "image", "exists", REAL_IMAGE]).returncode == 0:
        return REAL_IMAGE
    out = subprocess.run(["bash", str(ROOT / "tests/router_double/build-image.sh")],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


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
