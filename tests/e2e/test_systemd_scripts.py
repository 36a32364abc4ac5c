"""The rendered start/stop scripts, run for real against rootful Podman.

Each test creates busybox containers labelled like two sites in two throw-away namespaces, runs
one site's scripts and checks that only that site's containers changed state.
"""
from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from skupper_podman.paths import SiteLayout
from skupper_podman.systemd.units import write_scripts

pytestmark = pytest.mark.e2e

IMAGE = "localhost/skupper-podman-busybox:latest"
SUITE_LABEL = "skupper-podman.io/test=systemd-scripts"
RUN_LABEL = "skupper-podman.io/test-run"
# sh as PID 1 ignores SIGTERM unless it traps it; trapping keeps `podman stop -t 10` fast.
SLEEPER = ["sh", "-c", 'trap "exit 0" TERM; sleep 3600 & wait']
# A system service gets only systemd's default PATH and no HOME; the scripts must cope.
SYSTEMD_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin", "LANG": "C.UTF-8"}


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed: {done.stderr.strip()}")
    return done


def _remove_by_label(label: str) -> None:
    names = podman("container", "ls", "--all", "--filter", f"label={label}", "--format", "{{.Names}}").stdout.split()
    if names:
        podman("rm", "--force", "--time", "0", *names)


@pytest.fixture(scope="session")
def busybox_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny image built from the static busybox binary; kept for reuse under the project's name."""
    if podman("image", "exists", IMAGE, check=False).returncode != 0:
        root = tmp_path_factory.mktemp("busybox-rootfs")
        (root / "bin").mkdir()
        shutil.copy2("/bin/busybox", root / "bin" / "busybox")
        for applet in ("sh", "sleep"):
            (root / "bin" / applet).symlink_to("busybox")
        tarball = root.parent / f"{root.name}.tar"
        subprocess.run(["tar", "-C", str(root), "-cf", str(tarball), "."], check=True)
        podman("import", str(tarball), IMAGE)
    _remove_by_label(SUITE_LABEL)  # leftovers of an interrupted earlier run of this module
    return IMAGE


@pytest.fixture
def run_id(busybox_image: str):
    run = uuid.uuid4().hex[:8]
    yield run
    _remove_by_label(f"{RUN_LABEL}={run}")


def _container(image: str, run: str, layout: SiteLayout, base: str) -> str:
    name = f"{layout.name(base)}"
    labels = [f"{key}={value}" for key, value in layout.labels.items()] + [SUITE_LABEL, f"{RUN_LABEL}={run}"]
    podman(
        "run", "--detach", "--pull=never", "--network", "none", "--stop-timeout", "1", "--name", name,
        *(arg for label in labels for arg in ("--label", label)), image, *SLEEPER,
    )
    return name


def _running(name: str) -> bool:
    return podman("container", "inspect", "--format", "{{.State.Running}}", name).stdout.strip() == "true"


def _run_script(path: Path) -> None:
    done = subprocess.run([str(path)], capture_output=True, text=True, timeout=120, env=SYSTEMD_ENV, cwd="/")
    assert done.returncode == 0, done.stderr


def test_scripts_stop_and_start_only_their_namespace(busybox_image: str, run_id: str, tmp_path: Path) -> None:
    site_a = SiteLayout(f"t{run_id}a", data_dir=tmp_path / "a")
    site_b = SiteLayout(f"t{run_id}b", data_dir=tmp_path / "b")
    a_names = [_container(busybox_image, run_id, site_a, base) for base in ("skupper-router", "backend")]
    b_name = _container(busybox_image, run_id, site_b, "skupper-router")
    start_a, stop_a = write_scripts(site_a)

    _run_script(stop_a)
    assert [_running(name) for name in a_names] == [False, False]
    assert _running(b_name)

    _run_script(start_a)
    assert [_running(name) for name in a_names] == [True, True]
    assert _running(b_name)


def test_scripts_succeed_for_a_namespace_without_containers(busybox_image: str, run_id: str, tmp_path: Path) -> None:
    other = _container(busybox_image, run_id, SiteLayout(f"t{run_id}c", data_dir=tmp_path / "c"), "skupper-router")
    start, stop = write_scripts(SiteLayout(f"t{run_id}d", data_dir=tmp_path / "d"))
    _run_script(stop)
    _run_script(start)
    assert _running(other)
