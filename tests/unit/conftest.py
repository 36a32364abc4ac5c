"""Fixtures of the unit tests: a service CA, a management responder and a site on a fake Podman."""
from __future__ import annotations

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
