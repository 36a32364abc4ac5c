"""Fixtures of the router conformance suite.

The suite is black-box: it only starts containers from ``$ROUTER_IMAGE`` (default: the router
double, built with tests/router_double/build-image.sh when missing), configures them through
config files and AMQP management, and checks what skupper-router 2.5.3 does.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from podman import PodmanClient

sys.path.insert(0, str(Path(__file__).parent))

from pki import CertificateAuthority  # noqa: E402
from routers import LABEL, RUN_LABEL, RouterLab, sweep  # noqa: E402

SOCKET = os.environ.get("TEST_PODMAN_SOCK", "/run/podman/podman.sock")
BUILD_SCRIPT = Path(__file__).resolve().parents[1] / "router_double" / "build-image.sh"


def _ping(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2)
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
            return b" 200 " in sock.recv(64)
    except OSError:
        return False


@pytest.fixture(scope="session")
def podman_client() -> Iterator[PodmanClient]:
    """A client of the rootful Podman API service (started here if it is not running)."""
    service = None
    if not _ping(SOCKET):
        os.makedirs(os.path.dirname(SOCKET), exist_ok=True)
        if os.path.exists(SOCKET):
            os.unlink(SOCKET)
        service = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{SOCKET}"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        deadline = time.monotonic() + 10
        while not _ping(SOCKET):
            if time.monotonic() > deadline:
                service.terminate()
                pytest.fail("the Podman API service did not start")
            time.sleep(0.02)
    client = PodmanClient(base_url=f"unix://{SOCKET}", timeout=120)
    sweep(client, f"{LABEL}=1")  # leftovers of an earlier, killed run
    yield client
    client.close()
    if service is not None:
        service.terminate()
        service.wait(10)


@pytest.fixture(scope="session")
def router_image(podman_client: PodmanClient) -> str:
    """$ROUTER_IMAGE, or the router double (built when missing)."""
    image = os.environ.get("ROUTER_IMAGE")
    if image:
        if not podman_client.images.exists(image):
            pytest.fail(f"ROUTER_IMAGE {image} does not exist locally")
        return image
    result = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        pytest.fail(f"build-image.sh failed:\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A host directory the router container (uid 10000) can read."""
    path = Path(tempfile.mkdtemp(prefix="router-conformance-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def lab(podman_client: PodmanClient, router_image: str, workdir: Path) -> Iterator[RouterLab]:
    """Starts routers for one test; removes its containers and network afterwards."""
    run = uuid.uuid4().hex[:8]
    labels = {LABEL: "1", RUN_LABEL: run}
    lab = RouterLab(podman_client, router_image, workdir, labels)
    yield lab
    sweep(podman_client, f"{RUN_LABEL}={run}")


@pytest.fixture(scope="session")
def site_ca() -> CertificateAuthority:
    return CertificateAuthority("skupper-site-ca")


@pytest.fixture(scope="session")
def other_ca() -> CertificateAuthority:
    return CertificateAuthority("untrusted-ca")
