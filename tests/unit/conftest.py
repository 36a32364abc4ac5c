"""Fixtures of the unit tests: a service CA, a management responder and a site on a fake Podman."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from skupper_podman import pki
from tests.helpers import FakeSite
from tests.unit.mgmt_responder import MgmtResponder

SERVICE_ROUTER_ID = "west-backend"  # <site name>-<address> of the service most tests use


@pytest.fixture(scope="session")
def service_ca() -> pki.Credential:
    return pki.new_ca("skupper-service-ca")


@pytest.fixture
def responder():
    """A site router's management whose edge router ``west-backend`` is attached."""
    with MgmtResponder() as agent:
        agent.behaviour.known_remote_routers = {SERVICE_ROUTER_ID}
        agent.add("connection", "edge-in", container=SERVICE_ROUTER_ID, role="edge", dir="in")
        yield agent


@pytest.fixture
def site(tmp_path, service_ca, responder) -> FakeSite:
    return FakeSite(tmp_path, service_ca, responder.url)


@pytest.fixture
def skupper_cli(tmp_path):
    """Run the CLI as a subprocess with private XDG dirs and no platform chosen; extra env as kwargs."""
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "HOME": str(tmp_path)}
    env.pop("SKUPPER_PLATFORM", None)

    def _run(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "skupper_podman.cli", *args], capture_output=True,
                              text=True, env={**env, **extra}, timeout=60)

    return _run
