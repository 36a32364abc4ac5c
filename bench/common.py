"""Shared helpers for the benchmark scripts: timing, the router image, isolated XDG dirs."""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
    """Median, min and max in ms; samples that are NaN (timed out) are counted apart."""
    missing = sum(1 for s in samples if s != s)
    samples = [s for s in samples if s == s]
    if not samples:
        return f"no figures ({missing} timed out)"
    return (f"median {statistics.median(samples) * 1000:8.1f} ms   min {min(samples) * 1000:8.1f} ms   "
            f"max {max(samples) * 1000:8.1f} ms   (n={len(samples)})" + (f" ({missing} timed out)" if missing else ""))


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


# -- containers and networks a bench makes itself ------------------------------------------------

BENCH_LABEL = "skupper-podman.io/bench"
TOOLS_IMAGE = os.environ.get("BENCH_TOOLS_IMAGE", "localhost/acc-tools:1")
BENCH_DIR = Path(__file__).resolve().parent


def podman(*args: str, timeout: float = 120) -> str:
    """Run the podman CLI; its stdout, or RuntimeError with its stderr."""
    try:
        out = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"podman {' '.join(args[:3])} timed out after {timeout:.0f} s") from None
    if out.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args[:3])} failed: {out.stderr.strip()}")
    return out.stdout.strip()


class Workspace:
    """Containers and networks of one bench run: unique names (``<prefix>-...``), the labels
    ``skupper-podman.io/bench=1`` and ``skupper-podman.io/bench-run=<prefix>``, a private
    directory mounted read-only at ``/bench`` in its containers; ``cleanup`` removes exactly
    what carries this run's label."""

    def __init__(self, kind: str) -> None:
        self.prefix = f"bench-{kind}-{uuid.uuid4().hex[:6]}"
        self.dir = Path(tempfile.mkdtemp(prefix=f"skupper-{self.prefix}-"))
        self.dir.chmod(0o755)
        self.labels = ["--label", f"{BENCH_LABEL}=1", "--label", f"{BENCH_LABEL}-run={self.prefix}"]

    def name(self, base: str) -> str:
        return f"{self.prefix}-{base}"

    def write(self, relative: str, data: str | bytes) -> Path:
        """A world-readable file under the workspace (the router runs as uid 10000)."""
        path = self.dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(self.dir).parents:
            (self.dir / parent).chmod(0o755)
        if isinstance(data, str):
            data = data.encode()
        path.write_bytes(data)
        path.chmod(0o644)
        return path

    def network(self, base: str, dns: bool = True) -> tuple[str, str, str]:
        """Create a network; its name, subnet (e.g. 10.89.3.0/24) and gateway. Without ``dns``
        aardvark-dns serves nothing on it (removing containers cannot make it stall)."""
        name = self.name(base)
        podman("network", "create", *self.labels, *([] if dns else ["--disable-dns"]), name)
        subnet = json.loads(podman("network", "inspect", name))[0]["subnets"][0]
        return name, subnet["subnet"], subnet["gateway"]

    def run(self, base: str, *args: str, timeout: float = 120) -> str:
        """``podman run -d`` a labelled container named ``<prefix>-<base>``; its name."""
        name = self.name(base)
        podman("run", "-d", "--name", name, *self.labels, "-v", f"{self.dir}:/bench:ro,z", *args,
               timeout=timeout)
        return name

    def cleanup(self) -> None:
        containers = podman("ps", "-a", "--filter", f"label={BENCH_LABEL}-run={self.prefix}",
                            "--format", "{{.Names}}").split()
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda n: subprocess.run(["podman", "rm", "-f", "-t", "0", n],
                                                   capture_output=True, timeout=120), containers))
        for net in podman("network", "ls", "--filter", f"label={BENCH_LABEL}-run={self.prefix}",
                          "--format", "{{.Name}}").split():
            subprocess.run(["podman", "network", "rm", "-f", net], capture_output=True, timeout=120)
        shutil.rmtree(self.dir, ignore_errors=True)


def ip_of(container: str, network: str) -> str:
    data = json.loads(podman("inspect", container))[0]
    return data["NetworkSettings"]["Networks"][network]["IPAddress"]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
