"""``skupper debug dump`` holds what a bug report needs and never a key or token secret;
``skupper debug events`` shows the controller's recent events."""
from __future__ import annotations

import base64
import json
import tarfile
import uuid
from pathlib import Path

import pytest
import yaml

from skupper_podman._util import poll
from tests.conftest import init_site, podman_cli, sweep_namespace

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def secrets_of(namespace: str) -> list[bytes]:
    """Every key (and password) file in the site's volumes, as the bytes that must not leak."""
    found = []
    names = podman_cli("volume", "ls", "--filter", f"label=skupper-podman.io/namespace={namespace}",
                       "--format", "{{.Name}}").stdout.split()
    for name in names:
        mount = Path(json.loads(podman_cli("volume", "inspect", name).stdout)[0]["Mountpoint"])
        for path in mount.rglob("*"):
            if path.is_file() and (path.name.endswith(".key") or path.name == "password"):
                data = path.read_bytes()
                found.append(data)
                if b"-----BEGIN" in data:  # the base64 body, line by line, must not appear either
                    found += [line for line in data.splitlines() if len(line) > 40 and b"-----" not in line]
    return found


@pytest.mark.usefixtures("flow_router")
def test_dump_has_the_parts_and_no_secrets(site_env, tmp_path):
    west, east = site_env.namespace, "d" + uuid.uuid4().hex[:8]
    init_site(site_env, west, "dump-west")
    init_site(site_env, east, "dump-east")
    try:
        token = tmp_path / "west.token"
        assert site_env.skupper("token", "create", str(token), namespace=west).returncode == 0
        assert site_env.skupper("link", "create", str(token), namespace=east).returncode == 0
        assert site_env.skupper("service", "create", "backend", "8080", namespace=east).returncode == 0
        out = site_env.skupper("debug", "dump", str(tmp_path / "east-dump"), namespace=east)
        assert out.returncode == 0, out.stderr
        archive = tmp_path / "east-dump.tar.gz"
        assert out.stdout.strip() == f"Skupper dump details written to compressed archive:  {archive}"

        with tarfile.open(archive, "r:gz") as tar:
            files = {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
        router, controller = f"{east}-skupper-router", f"{east}-skupper-controller-podman"
        for part in ("versions.json", "podman/version-info.json", f"containers/{router}.json",
                     f"containers/{controller}.json", f"logs/{router}.txt", f"logs/{controller}.txt",
                     f"networks/{east}-skupper.json", f"volumes/{east}-link1.json", f"links/{east}-link1.json",
                     "config/skrouterd.json", "config/skupper-services.json", "flow/network.json",
                     *(f"skstat/skstat-{f}.json" for f in "gclnam")):
            assert part in files, part
        assert json.loads(files["skstat/skstat-g.json"])[0]["id"] == "dump-east"
        assert json.loads(files["versions.json"])["router_build"] == "2.5.3"
        assert "backend" in json.loads(files["config/skupper-services.json"])
        assert "tls.key" in json.loads(files[f"links/{east}-link1.json"])["files"]  # named, never read
        assert any(r["type"] == "SITE" for r in json.loads(files["flow/network.json"])["records"])
        assert files["problems.txt"].strip() == b""

        everything = b"\n".join(files.values())
        assert b"PRIVATE KEY" not in everything
        leaked = [s[:30] for s in secrets_of(east) if s.strip() and s.strip() in everything]
        assert leaked == []
        key_b64 = yaml.safe_load(token.read_text())["data"]["tls.key"]
        key_pem = base64.b64decode(key_b64)
        assert key_b64.encode()[:60] not in everything and key_pem.splitlines()[1] not in everything
    finally:
        sweep_namespace(east)


def test_events_show_the_controller_at_work(site_env):
    init_site(site_env, site_env.namespace, "events-site")
    # the controller writes its report every 2 s
    out = poll(lambda: (o := site_env.skupper("debug", "events")).returncode == 0
               and "RouterConnection" in o.stdout and o, 30, interval=1.0) or site_env.skupper("debug", "events")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["NAME", "COUNT", "AGE"]
    assert any(line.startswith("ControllerStarted ") for line in lines)
    assert any(line.startswith("RouterConnection ") for line in lines)
    assert any("connected to amqps://skupper-router-local:5671" in line for line in lines)
