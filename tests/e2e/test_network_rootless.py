"""The site controller on a user's rootless Podman: it reads the site's client key and the
user's Podman socket (it runs as the user), connects and announces the site's processes."""
from __future__ import annotations

import json

import pytest

from skupper_podman._util import poll
from tests.e2e.test_rootless import RootlessUser, _free_port, rootless_user  # noqa: F401 - the fixture

pytestmark = [pytest.mark.e2e, pytest.mark.rootless, pytest.mark.timeout(300)]


def test_rootless_controller_connects_and_announces(rootless_user: RootlessUser):
    user = rootless_user
    out = user.skupper("init", "--site-name", "rootless-net", "--ingress-host", "host.containers.internal",
                       "--bind-port", str(_free_port()), "--bind-port-edge", str(_free_port()), "--timeout", "60s")
    assert out.returncode == 0, out.stderr
    try:
        events = poll(lambda: (o := user.skupper("debug", "events")).returncode == 0
                      and "RouterConnection" in o.stdout and "process skupper-router announced" in o.stdout
                      and o.stdout, 60, interval=2.0)
        assert events, user.skupper("debug", "events").stdout + user.podman("logs", "skupper-controller-podman").stderr
        assert "connected to amqps://skupper-router-local:5671" in events
        status = poll(lambda: (o := user.skupper("network", "status", "-o", "json")).returncode == 0
                      and [s for s in json.loads(o.stdout)["sites"] if s["name"] == "rootless-net"], 60, interval=2.0)
        assert status and status[0]["location"] == "local" and status[0]["platform"] == "podman"
    finally:
        assert user.skupper("delete").returncode == 0
