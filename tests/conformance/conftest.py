"""Fixtures of the router conformance suite.

The suite is black-box: it only starts router containers from an image, configures them through
config files and AMQP management, and checks what skupper-router 2.5.3 does. Every test runs
against both images (test ids ``[real]`` and ``[double]``):

* ``real``: ``$ROUTER_IMAGE`` if set, else the image ``scripts/router-image.sh`` decides (the
  upstream image or the real router built from source); skipped when that is the double, i.e.
  on a machine without the real router;
* ``double``: the router test double, ``scripts/router-image.sh --double`` (built when missing).

Where the two disagree the real router is right. Without a Podman API socket the suite skips.
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
ROUTER_IMAGE_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "router-image.sh"


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
    """A client of the rootful Podman API service (restarted here if its socket is stale)."""
    if not os.path.exists(SOCKET):
        pytest.skip(f"no Podman API socket at {SOCKET} (set TEST_PODMAN_SOCK or run scripts/setup.sh)")
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


def _router_image_script(*args: str) -> str:
    """The image ``scripts/router-image.sh`` prints (its last stdout line)."""
    result = subprocess.run(["bash", str(ROUTER_IMAGE_SCRIPT), *args], capture_output=True,
                            text=True, timeout=900)
    if result.returncode != 0 or not result.stdout.strip():
        pytest.fail(f"scripts/router-image.sh {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def double_image(podman_client: PodmanClient) -> str:
    """The router test double's image (built when missing)."""
    return _router_image_script("--double")


@pytest.fixture(scope="session", params=["real", "double"])
def router_image(request: pytest.FixtureRequest, podman_client: PodmanClient, double_image: str) -> str:
    """The image under test: the real skupper-router 2.5.3, then the double."""
    if request.param == "double":
        return double_image
    image = os.environ.get("ROUTER_IMAGE")
    if image:
        if not podman_client.images.exists(image):
            pytest.fail(f"ROUTER_IMAGE {image} does not exist locally")
    else:
        image = _router_image_script()
    if image == double_image:
        pytest.skip("no real skupper-router 2.5.3 image here: scripts/router-image.sh "
                    "(or $ROUTER_IMAGE) names the router double")
    return image


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


@pytest.fixture(scope="module")
def module_lab(podman_client: PodmanClient, router_image: str) -> Iterator[RouterLab]:
    """A lab shared by the tests of one module (and image) that can use the same routers."""
    run = uuid.uuid4().hex[:8]
    workdir = Path(tempfile.mkdtemp(prefix="router-conformance-module-"))
    workdir.chmod(0o755)
    yield RouterLab(podman_client, router_image, workdir, {LABEL: "1", RUN_LABEL: run})
    sweep(podman_client, f"{RUN_LABEL}={run}")
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def site_ca() -> CertificateAuthority:
    return CertificateAuthority("skupper-site-ca")


@pytest.fixture(scope="session")
def other_ca() -> CertificateAuthority:
    return CertificateAuthority("untrusted-ca")
