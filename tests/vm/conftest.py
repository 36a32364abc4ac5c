"""The booted VM the boot-persistence tests share (one per session: reboots are what cost).

Built once per machine: the image (``scripts/vm-image.sh``). Per session: the project's wheel,
installed into the VM's venv, and the router image, loaded into root's and alice's stores.
"""
from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT as REPO
from tests.vm.vmsim import ALICE, ROOT, SCAFFOLDING, VM, host_podman

pytestmark = pytest.mark.e2e

ROUTER_IMAGE = os.environ.get("ROUTER_IMAGE", "localhost/skupper-router-real:2.5.3")
FIGURES: list[tuple[str, float]] = []


def _script(*args: str) -> str:
    done = subprocess.run(["bash", str(REPO / "scripts/vm-image.sh"), *args], capture_output=True, text=True,
                          timeout=900, check=False)
    if done.returncode != 0:
        pytest.fail(f"scripts/vm-image.sh {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def vm(tmp_path_factory: pytest.TempPathFactory):
    """A booted VM with the project installed, the router image loaded for root and alice, the
    network card and the application units enabled, a persistent journal, and alice not lingering."""
    if host_podman("image", "exists", ROUTER_IMAGE, check=False).returncode != 0:
        pytest.fail(f"no router image {ROUTER_IMAGE} (set ROUTER_IMAGE or run scripts/setup.sh)")
    image = _script()
    work = tmp_path_factory.mktemp("vmsim")
    wheel = Path(_script("--wheel", str(work)))
    tarball = work / "router.tar"
    host_podman("save", "-q", "-o", str(tarball), ROUTER_IMAGE)
    machine = VM(f"vmsim-{uuid.uuid4().hex[:8]}", image, env={"QDROUTERD_IMAGE": ROUTER_IMAGE})
    try:
        machine.create()
        machine.boot()
        for path, text in SCAFFOLDING.items():
            machine.write(path, text)
        units = [path.rsplit("/", 1)[1] for path in SCAFFOLDING if path.endswith(".service")]
        machine.run(["systemctl", "enable", "--now", *units])
        machine.run(["sh", "-c", "mkdir -p /var/log/journal && systemctl restart systemd-journald && journalctl --flush"])
        machine.copy_in(wheel, f"/tmp/{wheel.name}")
        machine.run(["/opt/vmsim/venv/bin/pip", "install", "-q", "--no-index", "--find-links", "/opt/vmsim/wheels",
                     f"/tmp/{wheel.name}"])
        machine.run(["ln", "-sf", "/opt/vmsim/venv/bin/skupper", "/usr/local/bin/skupper"])
        machine.load_image(tarball, ROOT)
        # alice's store needs her runtime directory: lend her a user manager for the load
        machine.run(["loginctl", "enable-linger", ALICE.name])
        machine.load_image(tarball, ALICE)
        machine.run(["loginctl", "disable-linger", ALICE.name])
        yield machine
    finally:
        if os.environ.get("VMSIM_KEEP"):
            print(f"\nkept {machine.name} (VMSIM_KEEP)")
        else:
            machine.remove()


@pytest.fixture(scope="session")
def figures():
    """Record a measured figure: ``figures(name, seconds)``; printed after the run."""
    return lambda name, seconds: FIGURES.append((name, seconds))


def pytest_terminal_summary(terminalreporter) -> None:
    if FIGURES:
        terminalreporter.section("boot persistence figures (VM, seconds since podman start)")
        for name, seconds in FIGURES:
            terminalreporter.write_line(f"{name:<66} {seconds:6.2f}")
