"""Linking sites in namespaces on one host: tokens, link create/status/delete, revoke-access."""
from __future__ import annotations

import json
import time
import uuid

import pytest
import yaml

from tests.conftest import init_site, labelled, podman_cli, sweep_namespace

pytestmark = pytest.mark.e2e


def _status_json(site_env, ns: str) -> dict:
    out = site_env.skupper("status", "-o", "json", namespace=ns)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _wait_for(predicate, timeout: float = 30.0, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@pytest.fixture
def two_sites(site_env):
    west, east = site_env.namespace, "e" + uuid.uuid4().hex[:8]
    init_site(site_env, west, "west")
    init_site(site_env, east, "east")
    yield west, east
    sweep_namespace(east)


def test_token_link_status_delete(site_env, two_sites, tmp_path):
    west, east = two_sites
    token = tmp_path / "west.token"
    out = site_env.skupper("token", "create", str(token), namespace=west)
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"Connection token written to {token} \n"
    assert oct(token.stat().st_mode & 0o777) == "0o600"

    out = site_env.skupper("link", "create", str(token), "--cost", "2", namespace=east)
    assert out.returncode == 0, out.stderr
    assert "(name=link1)" in out.stdout
    out = site_env.skupper("link", "status", "link1", "--wait", "30", namespace=east)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip() == "Link link1 is connected"
    verbose = site_env.skupper("link", "status", "link1", "-v", namespace=east).stdout
    assert "Cost:" in verbose and " 2" in verbose.split("Cost:")[1].splitlines()[0]
    assert "Status:" in verbose and "Connected" in verbose

    west_id = _status_json(site_env, west)["site_id"]
    incoming = _wait_for(lambda: "Incoming link from site" in site_env.skupper("link", "status", namespace=west).stdout)
    assert incoming
    assert _wait_for(lambda: _status_json(site_env, west)["total_sites"] == 1)
    assert _status_json(site_env, east)["total_sites"] == 1
    text = site_env.skupper("status", namespace=east).stdout
    assert "It is connected to 1 other site." in text
    assert west_id

    # a second link to the same site is refused, nothing created
    again = site_env.skupper("link", "create", str(token), namespace=east)
    assert again.returncode != 0 and f'Already connected to "{west_id}".' in again.stderr
    # a token to self is refused
    self_link = site_env.skupper("link", "create", str(token), namespace=west)
    assert self_link.returncode != 0 and "Can't create connection to self with token" in self_link.stderr

    out = site_env.skupper("link", "delete", "link1", namespace=east)
    assert out.returncode == 0 and "Link 'link1' has been removed" in out.stdout
    deleted = time.monotonic()
    assert _wait_for(lambda: _status_json(site_env, west)["total_sites"] == 0, timeout=15)
    # gone on the far side within the router's hello max age (3 s), plus one status round trip
    assert time.monotonic() - deleted < 3 + 3
    out = site_env.skupper("link", "delete", "link1", namespace=east)
    assert out.returncode != 0 and 'no such link "link1"' in out.stderr


def test_tampered_tokens_leave_nothing(site_env, two_sites, tmp_path):
    west, east = two_sites
    token = tmp_path / "west.token"
    assert site_env.skupper("token", "create", str(token), namespace=west).returncode == 0
    doc = yaml.safe_load(token.read_text())
    other = tmp_path / "east.token"
    assert site_env.skupper("token", "create", str(other), namespace=east).returncode == 0
    other_doc = yaml.safe_load(other.read_text())

    cases = {
        "empty": "",
        "not-yaml": "{[}",
        "missing-key": yaml.safe_dump({**doc, "data": {k: v for k, v in doc["data"].items() if k != "tls.key"}}),
        "wrong-ca": yaml.safe_dump({**doc, "data": {**doc["data"], "ca.crt": other_doc["data"]["ca.crt"]}}),
        "foreign-cert": yaml.safe_dump({**doc, "data": {**doc["data"], "tls.crt": other_doc["data"]["tls.crt"]}}),
    }
    before = sorted(labelled(east))
    for name, text in cases.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        out = site_env.skupper("link", "create", str(path), namespace=east)
        assert out.returncode != 0, name
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr, (name, out.stderr)
        assert sorted(labelled(east)) == before, name


def test_python_api_links(site_env, two_sites, tmp_path):
    from skupper_podman import Links, Site

    west, east = two_sites
    west_links, east_links = Links(Site.open(west)), Links(Site.open(east))
    token = west_links.create_token(tmp_path / "t.yaml")
    created = east_links.create(token, cost=3)
    assert created.name == "link1" and created.cost == 3
    report = east_links.status("link1", wait=30)
    assert report.outgoing[0].connected and report.outgoing[0].cost == 3
    east_links.delete("link1")
    assert east_links.status().outgoing == []


def test_revoke_access_drops_links_and_new_tokens_work(site_env, two_sites, tmp_path):
    west, east = two_sites
    old = tmp_path / "old.token"
    assert site_env.skupper("token", "create", str(old), namespace=west).returncode == 0
    assert site_env.skupper("link", "create", str(old), namespace=east).returncode == 0
    assert site_env.skupper("link", "status", "link1", "--wait", "30", namespace=east).returncode == 0
    out = site_env.skupper("revoke-access", namespace=west)
    assert out.returncode == 0, out.stderr
    # the old token's certificate no longer verifies: the link drops and stays down
    assert _wait_for(lambda: "not connected" in site_env.skupper("link", "status", "link1", namespace=east).stdout)
    assert site_env.skupper("link", "delete", "link1", namespace=east).returncode == 0
    new = tmp_path / "new.token"
    assert site_env.skupper("token", "create", str(new), namespace=west).returncode == 0
    out = site_env.skupper("link", "create", str(new), namespace=east)
    assert out.returncode == 0 and "(name=link1)" in out.stdout  # names restart after a delete, as in 1.5
    assert site_env.skupper("link", "status", "link1", "--wait", "30", namespace=east).returncode == 0


@pytest.mark.parametrize("victim", ["west", "east"])
def test_link_survives_a_killed_router(site_env, two_sites, tmp_path, victim):
    """The router process dies (as 2.5.3 can on a SIGSEGV): restart policy brings it back with
    the persisted link. ``podman kill`` is not used: Podman treats it as a stop by the user and
    never applies the restart policy to it (podman-run(1), --restart)."""
    import os
    import signal

    west, east = two_sites
    token = tmp_path / "t.yaml"
    assert site_env.skupper("token", "create", str(token), namespace=west).returncode == 0
    assert site_env.skupper("link", "create", str(token), namespace=east).returncode == 0
    assert site_env.skupper("link", "status", "link1", "--wait", "30", namespace=east).returncode == 0
    router = f"{west if victim == 'west' else east}-skupper-router"
    os.kill(int(podman_cli("inspect", "-f", "{{.State.Pid}}", router).stdout), signal.SIGKILL)
    assert _wait_for(lambda: podman_cli("inspect", "-f", "{{.RestartCount}}", router).stdout.strip() not in ("", "0"))
    out = site_env.skupper("link", "status", "link1", "--wait", "60", namespace=east)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "is connected" in out.stdout


def test_third_site_counts_indirectly(site_env, two_sites, tmp_path):
    west, east = two_sites
    north = "n" + uuid.uuid4().hex[:8]
    try:
        init_site(site_env, north, "north")
        west_token, east_token = tmp_path / "west.yaml", tmp_path / "east.yaml"
        assert site_env.skupper("token", "create", str(west_token), namespace=west).returncode == 0
        assert site_env.skupper("token", "create", str(east_token), namespace=east).returncode == 0
        assert site_env.skupper("link", "create", str(west_token), namespace=east).returncode == 0
        assert site_env.skupper("link", "create", str(east_token), namespace=north).returncode == 0
        assert site_env.skupper("link", "status", "--wait", "30", namespace=north).returncode == 0

        def west_view():
            data = _status_json(site_env, west)
            return (data["total_sites"], data["direct_sites"], data["indirect_sites"])

        assert _wait_for(lambda: west_view() == (2, 1, 1)), west_view()
        text = site_env.skupper("status", namespace=west).stdout
        assert "It is connected to 2 other sites (1 indirectly)." in text
        east_data = _status_json(site_env, east)
        assert (east_data["total_sites"], east_data["direct_sites"]) == (2, 2)
    finally:
        sweep_namespace(north)


def test_token_create_refusals(site_env, tmp_path):
    ns = site_env.namespace
    out = site_env.skupper("init", "--site-name", "closed", "--ingress", "none", "--timeout", "60s")
    assert out.returncode == 0, out.stderr
    inspect = json.loads(podman_cli("inspect", f"{ns}-skupper-router").stdout)[0]
    published = {port for port, hosts in inspect["HostConfig"]["PortBindings"].items() if hosts}
    assert published == {"5671/tcp"}  # nothing but management, on loopback
    out = site_env.skupper("token", "create", str(tmp_path / "t.yaml"))
    assert out.returncode != 0
    assert out.stderr.strip() == ("Failed to create token: tokens cannot be generated for sites initialized "
                                  "with ingress type none")
    assert not (tmp_path / "t.yaml").exists()
    assert site_env.skupper("delete").returncode == 0
    init_site(site_env, ns, "open")
    out = site_env.skupper("token", "create", str(tmp_path / "t.yaml"), "--ingress-host", "elsewhere.example")
    assert out.returncode != 0
    assert out.stderr.strip() == ("Failed to create token: tokens can only be generated for the available "
                                  "ingress hosts: [skupper-router host.containers.internal]")
    help_text = site_env.skupper("token", "create", "--help").stdout
    assert "access to the service network" in " ".join(help_text.split())


def test_deleting_failing_links_converges(site_env, two_sites, tmp_path):
    """Router 2.5.3 can crash when a connector whose connections fail is deleted (#1734). Links
    that fail their TLS handshake (the token's CA was revoked) are deleted a few seconds after
    creation, several times: each delete succeeds, the link is gone from the live router and the
    persisted config, and the router answers afterwards whether it crashed or not."""
    west, east = two_sites
    token = tmp_path / "revoked.token"
    assert site_env.skupper("token", "create", str(token), namespace=west).returncode == 0
    assert site_env.skupper("revoke-access", namespace=west).returncode == 0
    router = f"{east}-skupper-router"
    for _ in range(3):
        out = site_env.skupper("link", "create", str(token), "--name", "doomed", namespace=east)
        assert out.returncode == 0, out.stderr
        failing = _wait_for(lambda: "not connected" in site_env.skupper(
            "link", "status", "doomed", namespace=east).stdout, timeout=15)
        assert failing
        out = site_env.skupper("link", "delete", "doomed", namespace=east)
        assert out.returncode == 0, out.stdout + out.stderr
        status = site_env.skupper("link", "status", namespace=east)
        assert status.returncode == 0, status.stderr
        assert "There are no links configured or connected" in status.stdout
    from skupper_podman import Site

    site = Site.open(east)
    config = site.files.read(site.vol("skupper-internal"), "skrouterd.json").decode()
    assert "doomed" not in config
    with site.management() as client:
        assert "doomed" not in {c["name"] for c in client.query("connector", ["name"])}
    assert podman_cli("inspect", "-f", "{{.State.Status}}", router).stdout.strip() == "running"


def test_router_reads_its_keys_and_nobody_else_does(site_env, two_sites, tmp_path):
    """Every key the router mounts (site credentials and a link's profile written after start)
    belongs to the uid the router runs as and is 0600: the router reads it, another uid cannot."""
    west, east = two_sites
    token = tmp_path / "t.yaml"
    assert site_env.skupper("token", "create", str(token), namespace=west).returncode == 0
    assert site_env.skupper("link", "create", str(token), namespace=east).returncode == 0
    router = f"{east}-skupper-router"
    user = podman_cli("exec", router, "id", "-u").stdout.strip()
    keys = podman_cli("exec", router, "find", "/etc/skupper-router-certs", "-name", "tls.key").stdout.split()
    assert "/etc/skupper-router-certs/link1-profile/tls.key" in keys
    assert "/etc/skupper-router-certs/skupper-internal/tls.key" in keys
    for key in keys:
        owner_mode = podman_cli("exec", router, "stat", "-c", "%u %a", key).stdout.split()
        assert owner_mode == [user, "600"], key
        assert podman_cli("exec", router, "cat", key).returncode == 0
        assert podman_cli("exec", "--user", "4242", router, "cat", key, check=False).returncode != 0
    out = site_env.skupper("link", "status", "link1", "--wait", "30", namespace=east)
    assert "is connected" in out.stdout, out.stdout + out.stderr
