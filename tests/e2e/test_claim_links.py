"""``link create`` with a claim token, on real Podman.

The "Kubernetes site" that issues the claim is a real second podman site: the test claims
server answers a valid claim with a cert token that site issued, so the redeemed link really
connects. Failed claims must leave no link volume, connector or sslProfile behind.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from skupper_podman import Links, Site
from skupper_podman.links.claims import redeem
from skupper_podman.paths import METADATA_LABEL
from skupper_podman.router.config import RouterConfig
from skupper_podman.site.lifecycle import CONFIG_FILE, INTERNAL, ROUTER_CERTS
from skupper_podman.links.tokens import read_token
from tests.claims_server import ClaimsServer
from tests.conftest import init_site, labelled, podman_cli, sweep_namespace

pytestmark = pytest.mark.e2e


@pytest.fixture
def kube(site_env, tmp_path):
    """A local site (the redeemer), a second site playing Kubernetes, and its claims server."""
    local, remote = site_env.namespace, "k" + uuid.uuid4().hex[:8]
    try:
        init_site(site_env, local, "local")
        init_site(site_env, remote, "kube")
        remote_site = Site.open(remote)
        token_text = Links(remote_site).create_token(tmp_path / "kube-cert.yaml").read_text()
        with ClaimsServer(site_id=remote_site.get().site_id,
                          issuer=lambda subject, claim: token_text) as server:
            yield server, local, remote
    finally:
        sweep_namespace(remote)


def _link_state(namespace: str) -> dict[str, list]:
    """Everything a link is made of: labelled resources, config entities, live entities, certs."""
    site = Site.open(namespace)
    config = RouterConfig.parse(site.files.read(site.vol(INTERNAL), CONFIG_FILE).decode())
    with site.management() as client:
        live = sorted((etype, row["name"]) for etype in ("connector", "sslProfile")
                      for row in client.query(etype, ["name"]))
    return {
        "resources": sorted(labelled(namespace)),
        "config": sorted((etype, attrs.get("name", "")) for etype in ("connector", "sslProfile")
                         for attrs in config.entities(etype)),
        "live": live,
        "certs": sorted(p.name for p in site.files.path(site.vol(ROUTER_CERTS)).iterdir()),
    }


def _assert_refused(site_env, local: str, claim_file: Path, claim: str, status: str) -> None:
    before = _link_state(local)
    out = site_env.skupper("link", "create", str(claim_file), namespace=local)
    assert out.returncode != 0, out.stdout
    assert out.stderr.strip() == f'Failed to create link: Error processing claim "{claim}": {status}'
    assert out.stdout == ""
    assert _link_state(local) == before


def test_claim_redeemed_link_connects(site_env, kube, tmp_path):
    server, local, remote = kube
    local_id, remote_site = Site.open(local).get().site_id, Site.open(remote).get()
    claim = server.add_claim()
    claim_file = server.write_claim(tmp_path / "claim.yaml", claim)
    before = _link_state(local)

    out = site_env.skupper("link", "create", str(claim_file), namespace=local)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == (
        f"Site configured to link to host.containers.internal:{remote_site.bind_port} (name=link1)")

    [request] = server.requests
    assert request.method == "POST" and request.path == f"/{claim}"
    assert request.query == {"site-version": ["1.5.5"]}
    assert request.headers["skupper-site-name"] == local_id
    assert request.body == server.records[claim].password.encode()
    assert server.records[claim].remaining == 0

    volume = json.loads(podman_cli("volume", "inspect", f"{local}-link1").stdout)[0]
    assert volume["Labels"]["skupper.io/type"] == "connection-token"
    meta = json.loads(volume["Labels"][METADATA_LABEL])
    assert meta["name"] == claim
    assert meta["annotations"]["skupper.io/generated-by"] == remote_site.site_id
    assert meta["annotations"]["skupper.io/url"] == f"https://127.0.0.1:{server.port}/{claim}"
    issued = read_token(tmp_path / "kube-cert.yaml")
    assert Path(volume["Mountpoint"], "tls.crt").read_bytes() == issued.data["tls.crt"]
    state = _link_state(local)
    assert ("connector", "link1") in state["live"] and ("sslProfile", "link1-profile") in state["live"]
    assert ("connector", "link1") in state["config"] and "link1-profile" in state["certs"]

    out = site_env.skupper("link", "status", "link1", "--wait", "30", namespace=local)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip() == "Link link1 is connected"

    # after the link is gone, the used-up claim creates nothing
    out = site_env.skupper("link", "delete", "link1", namespace=local)
    assert out.returncode == 0, out.stderr
    assert _link_state(local) == before
    _assert_refused(site_env, local, claim_file, claim, "404 No such claim")


def test_refused_claims_leave_nothing_behind(site_env, kube, tmp_path):
    server, local, _ = kube
    cases = {
        "wrong-password": (server.add_claim(), "x" * 24, "403 Claim refused"),
        "unknown": (str(uuid.uuid4()), None, "404 No such claim"),
        "expired": (server.expire(server.add_claim()), None, "404 No such claim"),
        "used-up": (server.add_claim(), None, "404 No such claim"),
    }
    used_up = cases["used-up"][0]
    redeem(server.claim_token(used_up), "some-other-site")  # another site got there first

    for case, (claim, password, status) in cases.items():
        claim_file = server.write_claim(tmp_path / f"{case}.yaml", claim, password=password)
        _assert_refused(site_env, local, claim_file, claim, status)
    assert [r.path for r in server.requests][1:] == [f"/{c[0]}" for c in cases.values()]
    assert server.records[cases["wrong-password"][0]].remaining == 1
