"""init → status → delete as a non-root user on that user's own rootless Podman.

The module's fixture makes the user ``skupper-rootless-test`` with tests/rootless/rootless-user.sh
(as root: useradd, /dev/net/tun, /run/user/<uid>, overlay storage, the user's API service, the
router image copied into the user's store) and runs our CLI as that user with runuser. At the
end it stops the user's service and pause process, and removes the user again if it created it
(a user that already existed is left in place).
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import stat
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from skupper_podman.paths import CA_VOLUMES
from tests.conftest import ROOT, podman_cli

pytestmark = [pytest.mark.e2e, pytest.mark.rootless, pytest.mark.timeout(300)]

USER = "skupper-rootless-test"
SCRIPT = ROOT / "tests/rootless/rootless-user.sh"
LINGER_DIR = Path("/var/lib/systemd/linger")
SKUPPER_LABEL = "label=application=skupper"
# Volumes holding a private key: the three CAs and the credentials with a key pair.
KEY_VOLUMES = (*CA_VOLUMES, "skupper-local-server", "skupper-local-client", "skupper-console-certs",
               "skupper-site-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def _script(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout,
                          check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"rootless-user.sh {args[0]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done


@dataclass
class RootlessUser:
    """The prepared user: ids, directories, and ways to run commands as it."""

    name: str
    uid: int
    gid: int
    home: Path
    socket: str
    image: str
    created: bool
    python: str = sys.executable
    code_root: Path = ROOT

    def run(self, *cmd: str, env: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
        """Run ``cmd`` as the user (clean env: HOME, USER, PATH, XDG_RUNTIME_DIR, plus ``env``)."""
        extra = [f"{key}={value}" for key, value in (env or {}).items()]
        return _script("run", self.name, *extra, *cmd, check=False, timeout=timeout)

    def podman(self, *args: str) -> subprocess.CompletedProcess:
        return self.run("podman", *args)

    def skupper(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Our CLI as the user: this interpreter (the project venv) and this checkout's code."""
        return self.run(
            self.python, "-m", "skupper_podman.cli", "--platform", "podman", *args,
            env={"QDROUTERD_IMAGE": self.image, "PYTHONPATH": str(self.code_root), **(env or {})},
        )

    def labelled(self) -> list[str]:
        """Names of the containers, volumes and networks labelled application=skupper in the user's podman."""
        names: list[str] = []
        listings = ((["ps", "-a"], "{{.Names}}"), (["volume", "ls"], "{{.Name}}"), (["network", "ls"], "{{.Name}}"))
        for kind, fmt in listings:
            out = self.podman(*kind, "--filter", SKUPPER_LABEL, "--format", fmt)
            assert out.returncode == 0, out.stderr
            names += out.stdout.split()
        return names

    def sweep(self) -> None:
        """Remove everything Skupper-labelled in the user's podman (the user is this test's own)."""
        self.podman("rm", "-f", "-t", "0", "--filter", SKUPPER_LABEL)
        self.podman("volume", "prune", "-f", "--filter", SKUPPER_LABEL)
        self.podman("network", "prune", "-f", "--filter", SKUPPER_LABEL)


def _first_untraversable(user: RootlessUser, path: Path) -> Path | None:
    for directory in [*reversed(path.parents), path]:
        if user.run("test", "-x", str(directory)).returncode != 0:
            return directory
    return None


def _can_run_code(user: RootlessUser) -> subprocess.CompletedProcess:
    return user.run(user.python, "-c", "import skupper_podman.cli, proton, podman",
                    env={"PYTHONPATH": str(user.code_root)})


def _make_code_readable(user: RootlessUser, scratch: Path) -> None:
    """Let the user run this checkout's code: in place when it can, else from a readable copy.

    CI may clone the repository below a directory other users cannot enter (such as /root);
    then the venv and the package folders are copied to a world-readable scratch directory.
    """
    if _can_run_code(user).returncode == 0:
        return
    venv = Path(sys.prefix)
    scratch.mkdir(mode=0o755, parents=True, exist_ok=True)
    shutil.copytree(venv, scratch / "venv", symlinks=True)
    for folder in ("skupper_podman", "templates", "systemd-units"):
        shutil.copytree(ROOT / folder, scratch / "code" / folder, symlinks=True)
    for path in [scratch, *scratch.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o055)
    user.python, user.code_root = str(scratch / "venv/bin/python"), scratch / "code"
    probe = _can_run_code(user)
    if probe.returncode != 0:
        blocked = _first_untraversable(user, Path(user.python).parent)
        where = f"{blocked} is not traversable by {user.name}" if blocked else probe.stderr.strip()[-500:]
        pytest.fail(f"{user.name} cannot run the project's code even from a copy: {where}")


@pytest.fixture(scope="module")
def rootless_user(router_image: str) -> Iterator[RootlessUser]:
    if os.geteuid() != 0:
        pytest.fail("the rootless test runs as root: it creates a user and runs commands as it")
    with open(Path(tempfile.gettempdir()) / f"{USER}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one user: concurrent sessions (or xdist workers) take turns
        yield from _prepared_user(router_image)


def _prepared_user(router_image: str) -> Iterator[RootlessUser]:
    try:
        prepared = _script("prepare", USER, router_image)
    except AssertionError:
        _script("stop", USER, check=False)
        raise
    values = dict(line.split("=", 1) for line in prepared.stdout.splitlines() if "=" in line)
    user = RootlessUser(
        name=USER, uid=int(values["USER_UID"]), gid=int(values["USER_GID"]), home=Path(values["USER_HOME"]),
        socket=values["PODMAN_SOCKET"], image=router_image, created=values["USER_CREATED"] == "1",
    )
    scratch = Path(tempfile.mkdtemp(prefix="skupper-rootless-code-", dir="/var/tmp"))
    scratch.chmod(0o755)
    try:
        _make_code_readable(user, scratch / "tree")
        user.sweep()  # leftovers of an interrupted earlier run
        yield user
    finally:
        user.skupper("delete")
        user.sweep()
        _script("remove" if user.created else "stop", USER)
        shutil.rmtree(scratch, ignore_errors=True)


def _volume_dir(user: RootlessUser, volume: str) -> Path:
    out = user.podman("volume", "inspect", "--format", "{{.Mountpoint}}", volume)
    assert out.returncode == 0, out.stderr
    return Path(out.stdout.strip())


def test_rootless_init_status_delete(rootless_user: RootlessUser):
    user = rootless_user
    assert not (LINGER_DIR / user.name).exists(), "the test user must not have lingering enabled"
    out = user.skupper("init", "--site-name", "rootless-west", "--ingress-host", "host.containers.internal",
                       "--bind-port", str(_free_port()), "--bind-port-edge", str(_free_port()), "--timeout", "60s")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[-1] == (f"Skupper is now installed for user '{user.name}'.  "
                         "Use 'skupper status' to get more information.")
    assert (f"It is recommended to enable lingering for {user.name}, otherwise Skupper may not start on boot."
            in lines)

    # status comes from the live router: AMQP management over the rootlessport-published port
    out = user.skupper("status")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        f'Skupper is enabled for "{user.name}" with site name "rootless-west". '
        "It is not connected to any other sites. It has no exposed services."
    )
    data = json.loads(user.skupper("status", "-o", "json").stdout)
    assert data["user"] == user.name and data["router_state"] == "running" and data["total_sites"] == 0

    # the router runs in the user's podman, not root's, as the user's own uid (keep-id)
    assert Path(user.socket).stat().st_uid == user.uid
    inspect = user.podman("inspect", "skupper-router")
    assert inspect.returncode == 0, inspect.stderr
    router = json.loads(inspect.stdout)[0]
    assert router["State"]["Running"] and router["Config"]["Labels"]["application"] == "skupper"
    assert router["Config"]["User"] == f"{user.uid}:{user.gid}"
    assert router["HostConfig"]["PortBindings"]["5671/tcp"][0]["HostIp"] == "127.0.0.1"
    assert podman_cli("container", "exists", router["Id"], check=False).returncode == 1
    proc = Path(f"/proc/{router['State']['Pid']}")
    assert proc.stat().st_uid == user.uid
    assert os.readlink(proc / "ns/user") != os.readlink("/proc/self/ns/user")

    # credentials are written straight into the user's volumes: keys 0600, all owned by the user
    volumes_root = user.home / ".local/share/containers/storage/volumes"
    for volume in KEY_VOLUMES:
        base = _volume_dir(user, volume)
        assert base.is_relative_to(volumes_root), base
        key = (base / "tls.key").stat()
        assert stat.S_IMODE(key.st_mode) == 0o600, f"{volume}/tls.key is {oct(key.st_mode)}"
        for path in base.iterdir():
            owner = path.stat()
            assert (owner.st_uid, owner.st_gid) == (user.uid, user.gid), f"{path} is owned by {owner.st_uid}"

    out = user.skupper("delete")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"Skupper is now removed for user '{user.name}'."
    assert user.labelled() == []


def test_rootless_default_endpoint_is_the_users_socket(rootless_user: RootlessUser):
    """Without a service at $XDG_RUNTIME_DIR/podman/podman.sock the user gets the user-level hint."""
    empty = rootless_user.home / "no-podman-runtime"
    assert rootless_user.run("mkdir", "-p", str(empty)).returncode == 0
    out = rootless_user.skupper("status", env={"XDG_RUNTIME_DIR": str(empty)})
    assert out.returncode != 0
    assert out.stderr.strip() == (
        f"Podman endpoint is not available: default (no socket at {empty}/podman/podman.sock). "
        "Run: systemctl --user enable --now podman.socket"
    )
