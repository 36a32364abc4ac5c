"""Links without Podman: create and delete against a fake Podman and a management responder."""
from __future__ import annotations

import pytest

from skupper_podman import pki
from skupper_podman.links.operations import Links
from skupper_podman.router.config import RouterConfig
from skupper_podman.paths import INTERNAL, ROUTER_CERTS
from skupper_podman.site.lifecycle import CONFIG_FILE
from skupper_podman.links.tokens import cert_token, write_token
from tests.helpers import FakeSite

REMOTE_SITE_ID = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"


@pytest.fixture
def token(tmp_path):
    remote_ca = pki.new_ca("skupper-site-ca")
    return write_token(cert_token("skupper", remote_ca, REMOTE_SITE_ID, "west.example", 55671, 45671),
                       tmp_path / "west.token")


def _config(site: FakeSite) -> RouterConfig:
    return RouterConfig.parse(site.files.read(site.vol(INTERNAL), CONFIG_FILE).decode())


def _live(responder, entity_type: str) -> set[str]:
    return set(responder.table.get(f"io.skupper.router.{entity_type}", {}))


def test_create_adds_the_link_live_and_to_the_config(site, responder, token):
    created = Links(site).create(token, cost=3)

    assert (created.name, created.host, created.port, created.cost) == ("link1", "west.example", "55671", 3)
    assert _live(responder, "connector") == {"link1"} and _live(responder, "sslProfile") == {"link1-profile"}
    assert _config(site).get("connector", "link1")["cost"] == 3
    assert (site.files.path(site.vol(ROUTER_CERTS)) / "link1-profile" / "tls.key").is_file()


def test_delete_converges_when_the_router_dies_on_the_connector_delete(site, responder, token):
    """Router 2.5.3 can crash on the connector's DELETE (#1734): the request is never answered.
    The link must be gone from the persisted config (so the restarted router does not dial it),
    its certificates and volume removed, and delete waits for the router to come back."""
    links = Links(site)
    links.create(token)
    responder.behaviour.silent = True  # accepts the DELETE and never answers: the router died
    waited: list[float] = []
    site.wait_router = lambda info, deadline: waited.append(deadline)  # the restart boundary

    links.delete("link1")

    assert waited, "delete must wait for the crashed router to come back"
    config = _config(site)
    assert config.get("connector", "link1") is None and config.get("sslProfile", "link1-profile") is None
    assert not (site.files.path(site.vol(ROUTER_CERTS)) / "link1-profile").exists()
    assert site.podman.volume(site.vol("link1")) is None


def test_delete_of_a_link_the_router_already_lost_is_quiet(site, responder, token):
    links = Links(site)
    links.create(token)
    responder.table["io.skupper.router.connector"].clear()  # e.g. the router restarted meanwhile
    waited: list[float] = []
    site.wait_router = lambda info, deadline: waited.append(deadline)

    links.delete("link1")

    assert not waited and _live(responder, "sslProfile") == set()
    assert _config(site).get("connector", "link1") is None


@pytest.mark.parametrize("status, message, connected, description", [
    # what 2.5.3 reports while an attempt is under way, or for ever against a silent peer
    ("SUCCESS", "", False, "connecting"),
    ("SUCCESS", "[C4] Connection Opened: dir=out host=west.example:55671 encrypted=TLSv1.3", True, ""),
    ("CONNECTING", "Connection to west.example:55671 failed: SSL Failure: certificate verify failed", False,
     "Connection to west.example:55671 failed: SSL Failure: certificate verify failed"),
])
def test_link_is_connected_only_once_the_router_says_the_connection_opened(
        site, responder, token, status, message, connected, description):  # noqa: F811
    links = Links(site)
    links.create(token)
    record = responder.table["io.skupper.router.connector"]["link1"]
    record.update(connectionStatus=status, connectionMsg=message)

    [state] = links.status("link1").outgoing

    assert (state.connected, state.description) == (connected, description)
