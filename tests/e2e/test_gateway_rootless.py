"""A podman-type gateway of a non-root user's site, on that user's rootless Podman: the gateway
router runs in the user's store (keep-id, its volume handed over with ``U``), shares the host's
network, reaches the site's edge port through rootlessport and exposes a process listening on
the host's 127.0.0.1."""
from __future__ import annotations

import json
import uuid

import pytest

from tests.e2e.test_gateway import host_server
from tests.e2e.test_rootless import RootlessUser, _free_port, rootless_user  # noqa: F401 - a fixture
from tests.e2e.test_services import CLIENT

pytestmark = [pytest.mark.e2e, pytest.mark.rootless, pytest.mark.timeout(300)]


def _ok(out):
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_rootless_podman_gateway_exposes_a_host_process(rootless_user: RootlessUser, tmp_path):  # noqa: F811
    user = rootless_user
    _ok(user.skupper("init", "--site-name", "rootless-gw", "--ingress-host", "host.containers.internal",
                     "--bind-port", str(_free_port()), "--bind-port-edge", str(_free_port()), "--timeout", "60s"))
    token = uuid.uuid4().hex
    try:
        with host_server(tmp_path, token) as port:
            _ok(user.skupper("gateway", "expose", "backend", "127.0.0.1", f"8080:{port}", "--type", "podman",
                             "--name", "rgw"))
            status = json.loads(_ok(user.skupper("gateway", "status", "-o", "json")))
            assert [(g["name"], g["state"], g["connected"]) for g in status] == [("rgw", "running", True)]
            inspect = json.loads(_ok(user.podman("inspect", "rgw")))[0]
            assert inspect["Config"]["User"] == f"{user.uid}:{user.gid}"
            assert inspect["HostConfig"]["NetworkMode"] == "host"
            fetched = user.podman("run", "--rm", "--network", "skupper", user.image, "python3", "-c", CLIENT,
                                  "http://backend:8080/token.txt", "60")
            assert fetched.stdout.strip() == token, fetched.stderr
            _ok(user.skupper("gateway", "unexpose", "backend", "--name", "rgw"))
            assert json.loads(_ok(user.skupper("gateway", "status", "-o", "json"))) == []
    finally:
        out = user.skupper("delete")
        assert out.returncode == 0, out.stderr
    assert user.labelled() == []
