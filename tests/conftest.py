"""Shared fixtures: the real Podman API socket, the router double image, isolated sites."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import free_port  # noqa: F401 - the e2e tests import it from here

ROOT = Path(__file__).resolve().parent.parent
SOCK = os.environ.get("TEST_PODMAN_SOCK", "/run/podman/podman.sock")
NAMESPACE_LABEL = "skupper-podman.io/namespace"


def init_site(env: "SiteEnv", namespace: str, name: str, *extra: str) -> None:
    """``skupper init`` a site reachable at host.containers.internal on free ports; assert success."""
    out = env.skupper("init", "--site-name", name, "--ingress-host", "host.containers.internal",
                      "--bind-port", str(free_port()), "--bind-port-edge", str(free_port()),
                      "--timeout", "60s", *extra, namespace=namespace)
    assert out.returncode == 0, out.stderr


def podman_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check, timeout=300)


@pytest.fixture(scope="session")
def podman_socket() -> str:
    """The rootful Podman API socket (scripts/setup.sh starts it)."""
    if not os.path.exists(SOCK):
        pytest.fail(f"no Podman API socket at {SOCK}: run scripts/setup.sh first")
    return SOCK


def decided_router_image() -> str:
    """``$ROUTER_IMAGE``, else the image scripts/router-image.sh decides (the real router
    wherever it is available, the double only on a clone without it)."""
    image = os.environ.get("ROUTER_IMAGE")
    if image:
        return image
    out = subprocess.run(["bash", str(ROOT / "scripts/router-image.sh")],
                         capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        pytest.fail(f"scripts/router-image.sh failed:\n{out.stderr[-3000:]}")
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def router_image(podman_socket: str) -> str:
    """The router image e2e sites use (see :func:`decided_router_image`)."""
    return decided_router_image()


@pytest.fixture
def flow_router(router_image: str) -> str:
    """The router image, for tests of what the routers announce (vanflow records, ``network
    status``): the real router emits them; the router double, the fallback of a clone without
    ../shared, does not, so these tests are skipped there."""
    if "router-double" in router_image:
        pytest.skip("needs the real skupper-router: the router double emits no flow records")
    return router_image


def sweep_namespace(namespace: str) -> None:
    """Remove every resource labelled for ``namespace`` (containers, then volumes and networks)."""
    label = f"label={NAMESPACE_LABEL}={namespace}"
    podman_cli("rm", "-f", "-t", "0", "--filter", label, check=False)
    podman_cli("volume", "prune", "-f", "--filter", label, check=False)
    podman_cli("network", "prune", "-f", "--filter", label, check=False)


def labelled(namespace: str) -> list[str]:
    """Names of all containers, volumes and networks still labelled for ``namespace``."""
    label = f"label={NAMESPACE_LABEL}={namespace}"
    names: list[str] = []
    for kind in (["ps", "-a"], ["volume", "ls"], ["network", "ls"]):
        out = podman_cli(*kind, "--filter", label, "--format", "{{.Name}}" if kind[0] != "ps" else "{{.Names}}")
        names += [n for n in out.stdout.split() if n]
    return names


@dataclass
class SiteEnv:
    """An isolated user environment for one test: its own XDG dirs and a unique namespace."""

    namespace: str
    home: Path
    image: str
    env: dict[str, str] = field(default_factory=dict)

    def skupper(self, *args: str, timeout: float = 240, namespace: str | None = None) -> subprocess.CompletedProcess:
        ns = self.namespace if namespace is None else namespace
        cmd = [sys.executable, "-m", "skupper_podman.cli", "--platform", "podman", *args]
        if ns and "-n" not in args and "--namespace" not in args and args[0] not in ("switch",):
            cmd += ["-n", ns]
        return subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=timeout, cwd=ROOT)


@pytest.fixture
def site_env(tmp_path: Path, router_image: str, monkeypatch: pytest.MonkeyPatch):
    """A unique namespace and private XDG directories; everything labelled for it is swept after."""
    namespace = "t" + uuid.uuid4().hex[:8]
    home = tmp_path / "home"
    dirs = {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "QDROUTERD_IMAGE": router_image,
    }
    for key, value in dirs.items():
        monkeypatch.setenv(key, value)
    home.mkdir()
    env = {**os.environ, **dirs}
    env.pop("SKUPPER_PLATFORM", None)
    yield SiteEnv(namespace, home, router_image, env)
    sweep_namespace(namespace)
