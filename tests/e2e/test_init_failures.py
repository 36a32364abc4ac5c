"""init failure cases: each a one-line error, a non-zero exit, and nothing left behind."""
from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from tests.conftest import free_port, labelled, podman_cli

pytestmark = pytest.mark.e2e

EXITING_ROUTER = "localhost/skupper-podman-test-exiting-router:1"


@pytest.fixture(scope="session")
def exiting_router_image(tmp_path_factory, podman_socket) -> str:
    """An image whose ``skrouterd -version`` works but whose router exits at once."""
    if podman_cli("image", "exists", EXITING_ROUTER, check=False).returncode == 0:
        return EXITING_ROUTER
    root = tmp_path_factory.mktemp("rootfs")
    for d in ("bin", "usr/sbin", "tmp"):
        (root / d).mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin/busybox")
    (root / "bin/sh").symlink_to("busybox")
    script = root / "usr/sbin/skrouterd"
    script.write_text('#!/bin/sh\ncase "$1" in -v|-version|--version) echo 2.5.3; exit 0;; esac\n'
                      'echo "router failed to start" >&2\nexit 1\n')
    script.chmod(0o755)
    tar = tmp_path_factory.mktemp("tar") / "rootfs.tar"
    with tarfile.open(tar, "w") as t:
        t.add(root, arcname=".")
    podman_cli("import", "--change", 'CMD ["/usr/sbin/skrouterd"]', "--change", "ENV PATH=/usr/sbin:/bin",
               str(tar), EXITING_ROUTER)
    return EXITING_ROUTER


def _assert_clean_failure(out: subprocess.CompletedProcess, namespace: str, expected: str) -> None:
    assert out.returncode != 0, out.stdout
    assert expected in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "Traceback" not in out.stderr
    assert labelled(namespace) == []


def _args(*extra: str) -> list[str]:
    return ["init", "--ingress-host", "host.containers.internal", "--bind-port", str(free_port()),
            "--bind-port-edge", str(free_port()), "--timeout", "30s", *extra]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--router-mode", "edge"], "edge mode is not yet allowed"),
        (["--router-mode", "hub"], 'invalid "--router-mode=hub", it must be one of "interior, edge"'),
        (["--ingress", "loadbalancer"], "Invalid value for ingress: loadbalancer"),
        (["--router-logging", "NOPE:debug"], "Bad value for --router-logging: Invalid logging module for router: NOPE"),
        (["--router-logging", "ROUTER_CORE:loud"], "Bad value for --router-logging: Invalid logging level for router: loud"),
        (["--timeout", "soon"], "invalid duration: soon"),
    ],
)
def test_bad_flag_values(site_env, flags, message):
    _assert_clean_failure(site_env.skupper(*_args(*flags)), site_env.namespace, message)


def test_busy_bind_port(site_env):
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = site_env.skupper("init", "--ingress-host", "h", "--bind-port", str(port),
                               "--bind-port-edge", str(free_port()))
    _assert_clean_failure(out, site_env.namespace, f"ingress port already bound 0.0.0.0:{port}")


def test_existing_volume_blocks_init(site_env):
    ns = site_env.namespace
    podman_cli("volume", "create", "--label", f"skupper-podman.io/namespace={ns}", f"{ns}-skupper-site-ca")
    out = site_env.skupper(*_args())
    assert out.returncode != 0 and f"required volume already exists {ns}-skupper-site-ca" in out.stderr
    assert labelled(ns) == [f"{ns}-skupper-site-ca"]


def test_dns_less_network_is_refused(site_env):
    net = f"{site_env.namespace}-nodns"
    podman_cli("network", "create", "--disable-dns", "--label", f"skupper-podman.io/namespace={site_env.namespace}", net)
    out = site_env.skupper(*_args("--container-network", net))
    assert out.returncode != 0
    assert f"network {net} cannot be used as DNS is not enabled" in out.stderr
    assert labelled(site_env.namespace) == [net]


def test_missing_socket(site_env, tmp_path):
    out = site_env.skupper(*_args("--podman-endpoint", str(tmp_path / "nope.sock")))
    _assert_clean_failure(out, site_env.namespace, "Podman endpoint is not available:")
    assert "podman system service" in out.stderr


def test_unwritable_state(site_env, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    site_env.env["XDG_DATA_HOME"] = str(blocker)
    out = site_env.skupper(*_args())
    _assert_clean_failure(out, site_env.namespace, "cannot write site state")


def test_router_that_never_answers(site_env, exiting_router_image):
    site_env.env["QDROUTERD_IMAGE"] = exiting_router_image
    out = site_env.skupper(*_args("--timeout", "6s"))
    _assert_clean_failure(out, site_env.namespace, "router not ready after")
    assert not Path(site_env.env["XDG_DATA_HOME"], "skupper/namespaces", site_env.namespace, "podman.yaml").exists()


def test_image_that_cannot_run(site_env):
    site_env.env["QDROUTERD_IMAGE"] = "localhost/skupper-podman-no-such-image:0"
    out = site_env.skupper(*_args())
    _assert_clean_failure(out, site_env.namespace, "localhost/skupper-podman-no-such-image:0")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_during_init_rolls_back(site_env, stop):
    ns = site_env.namespace
    cmd = [sys.executable, "-m", "skupper_podman.cli", "--platform", "podman", "-n", ns, *_args()]
    proc = subprocess.Popen(cmd, env=site_env.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        # poll until init is half-way: volumes made, the router not yet answering
        while f"{ns}-skupper-internal" not in labelled(ns) and proc.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(stop)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, stderr
    assert f"interrupted by {stop.name}" in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert labelled(ns) == []
    assert not Path(site_env.env["XDG_DATA_HOME"], "skupper/namespaces", ns, "podman.yaml").exists()
    out = site_env.skupper(*_args())
    assert out.returncode == 0, out.stderr
