"""Gateways on real Podman with the real router: host processes exposed to a linked site,
network services forwarded to local ports, bad inputs, a killed gateway router, docker type,
site delete and revoke-access, and the service type's messages where systemd is missing."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port, init_site, labelled, podman_cli
from tests.e2e.test_services import _backend, _fetch, _ok, _wait_for, linked  # noqa: F401 - a fixture

pytestmark = pytest.mark.e2e


# -- helpers -----------------------------------------------------------------------------------

@contextmanager
def host_server(tmp_path: Path, token: str) -> Iterator[int]:
    """``python3 -m http.server`` on 127.0.0.1 serving ``token.txt``; yields its port."""
    root = tmp_path / f"www-{uuid.uuid4().hex[:6]}"
    root.mkdir()
    (root / "token.txt").write_text(token)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                             "--directory", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait_for(lambda: _answers(port), timeout=10), "the host http.server did not start"
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def exposed_host_process(site_env, tmp_path: Path, gateway: str, kind: str = "podman") -> Iterator[tuple[str, int]]:
    """A site, a host process serving a fresh token, and ``gateway expose backend`` of it
    (service port 8080) through the gateway ``gateway``; yields (token, the process's port)."""
    init_site(site_env, site_env.namespace, "west")
    token = uuid.uuid4().hex
    with host_server(tmp_path, token) as port:
        _ok(site_env.skupper("gateway", "expose", "backend", "127.0.0.1", f"8080:{port}", "--type", kind,
                             "--name", gateway, namespace=site_env.namespace))
        yield token, port


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _local_get(port: int, path: str = "/") -> str:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).read().decode()
    except OSError:
        return ""


def _fail(out: subprocess.CompletedProcess, *fragments: str) -> str:
    """A refused command: exit 1, one line on stderr holding every fragment, no traceback."""
    assert out.returncode == 1, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _status(site_env, ns: str) -> list[dict]:
    return json.loads(_ok(site_env.skupper("gateway", "status", "-o", "json", namespace=ns)).stdout)


def _gateway(site_env, ns: str, name: str) -> dict:
    return next((g for g in _status(site_env, ns) if g["name"] == name), {})


def _snapshot(ns: str) -> dict:
    """Every labelled resource of the namespace and every file of its gateway volumes."""
    from skupper_podman import Site

    site = Site.open(ns)
    files = {}
    for vol in site.podman.volumes(site.layout.label_filter):
        if "skupper-gateway-" in vol.name:
            root = Path(vol.mountpoint)
            files.update({f"{vol.name}/{p.relative_to(root)}": p.read_bytes() for p in root.rglob("*") if p.is_file()})
    return {"resources": sorted(labelled(ns)), "files": files}


def _container_pid(name: str) -> int:
    return int(podman_cli("inspect", "-f", "{{.State.Pid}}", name).stdout.strip() or 0)


# -- podman type: expose, forward, unexpose ----------------------------------------------------

def test_podman_gateway_exposes_a_host_process_and_forwards_a_network_service(site_env, linked, tmp_path):  # noqa: F811
    west, east = linked  # east is linked to west, where the gateway lives
    token = uuid.uuid4().hex
    with host_server(tmp_path, token) as port:
        started = time.monotonic()
        out = _ok(site_env.skupper("gateway", "expose", "backend", "127.0.0.1", f"8080:{port}", "--type", "podman",
                                   "--name", "gw1", namespace=west))
        print(f"gateway expose (init + bind) took {time.monotonic() - started:.2f}s")
        assert out.stdout == ""
        gw = _gateway(site_env, west, "gw1")
        assert gw["type"] == "podman" and gw["state"] == "running" and gw["connected"] is True
        assert gw["bindings"] == [{"name": "backend:8080", "protocol": "tcp", "address": "backend:8080",
                                   "host": "127.0.0.1", "service_port": 8080, "port": port}]
        text = _ok(site_env.skupper("gateway", "status", namespace=west)).stdout
        assert text.startswith("Gateway Definition:\n╰─ gw1 type:podman version:2.5.3\n")
        assert f"╰─ backend:8080 tcp backend:8080 127.0.0.1 {port}" in text
        assert "connected to the site" in text
        # the container carries the site's labels, so sweeps and site delete find it
        assert f"{west}-gw1" in labelled(west)
        router_pid = _container_pid(f"{west}-gw1")
        # its key: owner-only, handed to the router's uid 10000 by the U mount option
        from skupper_podman import Site

        key = Site.open(west).files.path(f"{west}-skupper-gateway-gw1", "skupper-router-certs/conn1-profile/tls.key")
        assert (key.stat().st_mode & 0o777, key.stat().st_uid) == (0o600, 10000)

        _ok(site_env.skupper("service", "create", "backend", "8080", namespace=east))
        started = time.monotonic()
        assert _fetch(site_env, east, "http://backend:8080/token.txt") == token
        print(f"linked site reached the host process {time.monotonic() - started:.2f}s after service create")

        # forward: a service bound on east answers on a local port of this host
        far_token = uuid.uuid4().hex
        _backend(site_env, east, "far-target", far_token)
        _ok(site_env.skupper("expose", "host", "far-target", "--address", "far", "--port", "8080", namespace=east))
        _ok(site_env.skupper("service", "create", "far", "8080", namespace=west))
        local = free_port()
        _ok(site_env.skupper("gateway", "forward", "far", str(local), "--loopback", "--name", "gw1", namespace=west))
        assert _wait_for(lambda: _local_get(local) == far_token, timeout=30)
        forwards = _gateway(site_env, west, "gw1")["forwards"]
        assert forwards == [{"name": "far:8080", "protocol": "tcp", "address": "far:8080", "host": "127.0.0.1",
                             "service_port": 8080, "port": local}]
        _ok(site_env.skupper("gateway", "unforward", "far", "--name", "gw1", namespace=west))
        assert _wait_for(lambda: not _answers(local), timeout=10)
        assert _gateway(site_env, west, "gw1")["forwards"] == []
        # every change went to the running router through management: it never restarted
        assert _container_pid(f"{west}-gw1") == router_pid

        # unexpose: the last binding takes the gateway and the service expose made with it
        _ok(site_env.skupper("gateway", "unexpose", "backend", "--name", "gw1", namespace=west))
        assert _status(site_env, west) == []
        assert "backend" not in _ok(site_env.skupper("service", "status", namespace=west)).stdout
        assert not [n for n in labelled(west) if "gw1" in n]
        assert _fetch(site_env, east, "http://backend:8080/token.txt", seconds=5, check=False) == ""


def test_http_protocol_binding_and_forward(site_env, tmp_path):
    """--protocol http: an httpConnector to the host process and an httpListener on a local
    port, both accepted by the real router and carrying requests."""
    ns = site_env.namespace
    init_site(site_env, ns, "west")
    token = uuid.uuid4().hex
    with host_server(tmp_path, token) as port:
        _ok(site_env.skupper("gateway", "expose", "web", "127.0.0.1", f"8080:{port}", "--protocol", "http",
                             "--type", "podman", "--name", "hgw", namespace=ns))
        assert _fetch(site_env, ns, "http://web:8080/token.txt") == token
        local = free_port()
        _ok(site_env.skupper("gateway", "forward", "web", str(local), "--loopback", "--name", "hgw", namespace=ns))
        assert _wait_for(lambda: _local_get(local, "/token.txt") == token, timeout=30)
        gw = _gateway(site_env, ns, "hgw")
        assert {b["protocol"] for b in gw["bindings"] + gw["forwards"]} == {"http"}


def test_unexpose_keeps_the_gateway_with_delete_last_false(site_env, tmp_path):
    ns = site_env.namespace
    init_site(site_env, ns, "west")
    with host_server(tmp_path, "x") as port:
        _ok(site_env.skupper("gateway", "expose", "db", "127.0.0.1", f"5432:{port}", "--type", "podman",
                             "--name", "keep", namespace=ns))
        _ok(site_env.skupper("gateway", "unexpose", "db", "--name", "keep", "--delete-last=false", namespace=ns))
        gw = _gateway(site_env, ns, "keep")
        assert gw["bindings"] == [] and gw["state"] == "running"
        assert "db:5432" not in _ok(site_env.skupper("service", "status", namespace=ns)).stdout
        _fail(site_env.skupper("gateway", "unexpose", "db", "--name", "keep", "--delete-last=maybe", namespace=ns),
              'invalid argument "maybe" for "--delete-last" flag')
        _ok(site_env.skupper("gateway", "delete", "--name", "keep", namespace=ns))
        assert _status(site_env, ns) == [] and not [n for n in labelled(ns) if "keep" in n]


def test_exported_config_starts_a_second_gateway_with_the_same_bindings(site_env, tmp_path):
    ns = site_env.namespace
    with exposed_host_process(site_env, tmp_path, "first") as (token, _port):
        out = _ok(site_env.skupper("gateway", "export-config", "second", str(tmp_path), "--name", "first",
                                   namespace=ns))
        exported = tmp_path / "second.yaml"
        assert out.stdout == f"Skupper gateway definition configuration written to '{exported}'\n"
        assert "name: second\nbindings:\n- name: backend\n  host: 127.0.0.1\n" in exported.read_text()
        _ok(site_env.skupper("gateway", "init", "--name", "second", "--type", "podman", "--config", str(exported),
                             namespace=ns))
        first, second = _gateway(site_env, ns, "first"), _gateway(site_env, ns, "second")
        assert second["connected"] is True and second["bindings"] == first["bindings"]
        # the first gateway goes: the second one, configured from the file, still serves
        _ok(site_env.skupper("gateway", "delete", "--name", "first", namespace=ns))
        assert _fetch(site_env, ns, "http://backend:8080/token.txt") == token


# -- failures ----------------------------------------------------------------------------------

def test_bad_inputs_give_one_line_errors_and_change_nothing(site_env, tmp_path):
    ns = site_env.namespace
    init_site(site_env, ns, "west")
    _ok(site_env.skupper("service", "create", "backend", "8080", namespace=ns))
    _ok(site_env.skupper("gateway", "init", "--name", "gw", "--type", "podman", namespace=ns))
    before = _snapshot(ns)

    _fail(site_env.skupper("gateway", "bind", "nosuch", "127.0.0.1", "80", "--name", "gw", namespace=ns),
          "Error: Unable to update gateway endpoint, service not found for nosuch")
    _fail(site_env.skupper("gateway", "bind", "backend", "127.0.0.1", "80", "81", "--name", "gw", namespace=ns),
          "the given service provides 1 ports, but only 2 provided")
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        _fail(site_env.skupper("gateway", "forward", "backend", str(taken), "--name", "gw", namespace=ns),
              f"port {taken} is already in use")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: other\nbindings:\n  - host: 127.0.0.1\n    service: {address: backend, ports: [http]}\n")
    _fail(site_env.skupper("gateway", "init", "--name", "other", "--type", "podman", "--config", str(bad), namespace=ns),
          f"bad gateway config {bad} line 4", "'http' is not a port")
    bad.write_text("name: other\nbindings: [\n")
    _fail(site_env.skupper("gateway", "init", "--name", "other", "--config", str(bad), namespace=ns),
          f"bad gateway config {bad} line 3: not YAML")
    _fail(site_env.skupper("gateway", "init", "--name", "gw", "--type", "podman", namespace=ns),
          "gateway gw already exists")
    _fail(site_env.skupper("gateway", "expose", "backend", "127.0.0.1", "80", "--name", "gw", "--type", "docker",
                           namespace=ns),
          "gateway previously created as podman type, delete current gateway to change to docker type")
    _fail(site_env.skupper("gateway", "init", "--name", "Bad_Name", namespace=ns),
          "Gateway name must consist of lower case letters, numerals and '-'. Must start with a letter.")
    _fail(site_env.skupper("gateway", "init", "--type", "vm", namespace=ns),
          "vm is not a valid gateway type. Choose 'service', 'docker' or 'podman'.")
    _fail(site_env.skupper("gateway", "unbind", "backend", "--name", "gw", namespace=ns), "gateway gw has no binding for backend")
    assert _snapshot(ns) == before

    # a gateway to a site that was deleted
    _ok(site_env.skupper("delete", namespace=ns))
    _fail(site_env.skupper("gateway", "init", "--name", "late", "--type", "podman", namespace=ns), "is not enabled")
    _fail(site_env.skupper("gateway", "status", namespace=ns), "is not enabled")
    assert labelled(ns) == []


def test_sigterm_half_way_through_expose_rolls_everything_back(site_env, tmp_path):
    ns = site_env.namespace
    init_site(site_env, ns, "west")
    before = sorted(labelled(ns))
    cmd = [sys.executable, "-m", "skupper_podman.cli", "--platform", "podman", "-n", ns, "gateway", "expose",
           "backend", "127.0.0.1", "8080", "--type", "podman", "--name", "halfway"]
    proc = subprocess.Popen(cmd, env=site_env.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # half-way: the service and the gateway's volume are made, its router not yet connected
        assert _wait_for(lambda: f"{ns}-skupper-gateway-halfway" in labelled(ns) or proc.poll() is not None,
                         timeout=60, interval=0.05)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1 and "interrupted by SIGTERM" in stderr, stderr
    assert sorted(labelled(ns)) == before
    assert _ok(site_env.skupper("service", "status", namespace=ns)).stdout.strip() == "No services defined"


def test_killed_gateway_router_comes_back_and_its_binding_works_again(site_env, tmp_path):
    ns = site_env.namespace
    with exposed_host_process(site_env, tmp_path, "phoenix") as (token, _port):
        assert _fetch(site_env, ns, "http://backend:8080/token.txt") == token
        container = f"{ns}-phoenix"
        victim = _container_pid(container)
        # SIGKILL the router process: `podman kill` counts as a user stop and is never restarted
        os.kill(victim, signal.SIGKILL)
        assert _wait_for(lambda: _container_pid(container) not in (0, victim), timeout=60)
        assert _wait_for(lambda: _gateway(site_env, ns, "phoenix").get("connected") is True, timeout=60)
        assert _fetch(site_env, ns, "http://backend:8080/token.txt") == token


# -- docker type -------------------------------------------------------------------------------

def test_docker_gateway_through_podman_docker(site_env, tmp_path):
    if not Path("/usr/bin/docker").exists():
        pytest.fail("Debian's podman-docker is missing (scripts/setup.sh installs it)")
    ns = site_env.namespace
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").symlink_to("/usr/bin/docker")  # podman-docker, ahead of any other docker
    site_env.env["PATH"] = f"{bin_dir}:{site_env.env['PATH']}"
    with exposed_host_process(site_env, tmp_path, "dgw", "docker") as (token, _port):
        gw = _gateway(site_env, ns, "dgw")
        assert gw["type"] == "docker" and gw["state"] == "running" and gw["connected"] is True
        assert _fetch(site_env, ns, "http://backend:8080/token.txt") == token
        _ok(site_env.skupper("gateway", "delete", "--name", "dgw", namespace=ns))
        assert podman_cli("container", "exists", f"{ns}-dgw", check=False).returncode == 1
        assert _status(site_env, ns) == []


# -- bundles -----------------------------------------------------------------------------------

BUNDLE_YAML = """\
name: {name}
bindings:
  - name: database
    host: 127.0.0.1
    service:
      address: database:8080
      protocol: tcp
      ports:
        - 8080
    target_ports:
      - {port}
qdr-listeners:
  - name: amqp
    host: localhost
    port: {amqp}
"""


@pytest.mark.parametrize("tool", ["podman", "docker"])
def test_bundle_launched_without_skupper_exposes_a_host_process_and_remove_cleans_up(site_env, tmp_path, tool):
    """docker is Debian's podman-docker in /usr/bin (scripts/setup.sh installs it)."""
    ns = site_env.namespace
    init_site(site_env, ns, "west")
    _ok(site_env.skupper("service", "create", "database", "8080", namespace=ns))
    name = "b" + uuid.uuid4().hex[:8]
    token = uuid.uuid4().hex
    remote_home = tmp_path / "remote-home"
    remote_home.mkdir()
    plain_path = "/usr/bin:/bin"
    assert subprocess.run(["sh", "-c", "command -v skupper"], env={"PATH": plain_path},
                          capture_output=True, check=False).returncode != 0
    with host_server(tmp_path, token) as port:
        config = tmp_path / "database.yaml"
        config.write_text(BUNDLE_YAML.format(name=name, port=port, amqp=free_port()))
        out_dir = tmp_path / "out"
        out_dir.mkdir()
        out = _ok(site_env.skupper("gateway", "generate-bundle", str(config), str(out_dir), namespace=ns))
        bundle = out_dir / f"{name}.tar.gz"
        assert out.stdout == f"Skupper gateway bundle written to '{bundle}'\n"
        assert bundle.stat().st_mode & 0o777 == 0o600
        unpacked = tmp_path / "unpacked"
        unpacked.mkdir()
        subprocess.run(["tar", "-xzf", str(bundle), "--directory", str(unpacked)], check=True)
        assert {p.name for p in unpacked.iterdir()} == {
            "config", f"{name}.yaml", "launch.py", "remove.py", "service", "skupper-router-certs"}
        env = {"PATH": plain_path, "HOME": str(remote_home), "QDROUTERD_IMAGE": site_env.image}
        try:
            started = time.monotonic()
            launch = subprocess.run(["sh", "./launch.py", "-t", tool], cwd=unpacked, env=env,
                                    capture_output=True, text=True, timeout=120, check=False)
            assert launch.returncode == 0, launch.stdout + launch.stderr
            assert _wait_for(lambda: _gateway(site_env, ns, name).get("connected") is True, timeout=60)
            print(f"bundle launch -> connected in {time.monotonic() - started:.2f}s")
            gw = _gateway(site_env, ns, name)
            assert gw["type"] == "bundle" and gw["state"] == "remote"
            assert _fetch(site_env, ns, "http://database:8080/token.txt") == token
            removed = subprocess.run(["sh", "./remove.py"], cwd=unpacked, env=env, capture_output=True,
                                     text=True, timeout=120, check=False)
            assert removed.returncode == 0, removed.stdout + removed.stderr
            assert podman_cli("container", "exists", name, check=False).returncode == 1
            assert not (remote_home / ".local/share/skupper/bundle" / name).exists()
            assert _wait_for(lambda: _gateway(site_env, ns, name).get("connected") is False, timeout=30)
        finally:
            podman_cli("rm", "-f", "-t", "0", name, check=False)


# -- the site going away -----------------------------------------------------------------------

def test_revoke_access_cuts_gateways_off_and_delete_names_them(site_env, tmp_path):
    ns = site_env.namespace
    with exposed_host_process(site_env, tmp_path, "cut") as (token, port):
        config = tmp_path / "remote.yaml"
        config.write_text(BUNDLE_YAML.format(name="faraway", port=port, amqp=5672).replace("database", "backend"))
        _ok(site_env.skupper("gateway", "generate-bundle", str(config), str(tmp_path), namespace=ns))
        assert _fetch(site_env, ns, "http://backend:8080/token.txt") == token

        _ok(site_env.skupper("revoke-access", namespace=ns))
        assert _wait_for(lambda: _gateway(site_env, ns, "cut").get("connected") is False, timeout=60)
        gw = _gateway(site_env, ns, "cut")
        assert gw["revoked"] is True and "revoked" in gw["problem"]
        assert _gateway(site_env, ns, "faraway")["revoked"] is True
        assert _fetch(site_env, ns, "http://backend:8080/token.txt", seconds=5, check=False) == ""

        out = _ok(site_env.skupper("delete", namespace=ns))
        assert f"Gateway cut (podman container {ns}-cut) removed" in out.stdout
        assert "Gateway faraway runs from a bundle elsewhere: it can no longer connect" in out.stdout
        assert labelled(ns) == []


# -- service type ------------------------------------------------------------------------------

def _systemd_is_pid1() -> bool:
    return Path("/proc/1/comm").read_text().strip() == "systemd"


def test_service_gateway_without_skrouterd_or_systemd_says_so_and_leaves_nothing(site_env, tmp_path):
    if _systemd_is_pid1():
        pytest.skip("systemd runs here: the service type is tested in tests/vm/test_gateway_service.py")
    ns = site_env.namespace
    init_site(site_env, ns, "west")
    plain = tmp_path / "plain"
    plain.mkdir()
    for tool in ("podman", "systemctl"):
        found = subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True, text=True, check=False).stdout.strip()
        if found:
            (plain / tool).symlink_to(found)
    site_env.env["PATH"] = f"{plain}:/bin"
    before = sorted(labelled(ns))
    _fail(site_env.skupper("gateway", "init", "--name", "svc", namespace=ns),
          "skrouterd not found, please 'dnf install skupper-router' first or use --type [docker|podman]")
    skrouterd = plain / "skrouterd"  # found on PATH; systemd is what is missing now
    skrouterd.write_text("#!/bin/sh\nexit 0\n")
    skrouterd.chmod(0o755)
    _fail(site_env.skupper("gateway", "init", "--name", "svc", namespace=ns),
          "Failed to create user service: Unable to")
    # expose (the default type) rolls back the service it created, too
    _fail(site_env.skupper("gateway", "expose", "app", "127.0.0.1", "8080", "--name", "svc", namespace=ns),
          "Failed to create user service: Unable to")
    assert _ok(site_env.skupper("service", "status", namespace=ns)).stdout.strip() == "No services defined"
    assert sorted(labelled(ns)) == before
    assert not list(Path("/etc/systemd/system").glob(f"*{ns}-svc*"))
    assert not list(Path("/etc/systemd/system").glob(f"*/{ns}-svc*"))


# -- the example -------------------------------------------------------------------------------

def test_gateway_expose_example(site_env):
    out = subprocess.run([sys.executable, str(ROOT / "examples/gateway_expose.py"), site_env.namespace],
                         capture_output=True, text=True, env=site_env.env, timeout=300, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "http://hello:8080/ answered: hello through a gateway" in out.stdout
    assert "example: router running, connected=True, bindings=['hello:8080']" in out.stdout
    assert "gateways left after unexpose: 0" in out.stdout
    assert labelled(site_env.namespace) == []
