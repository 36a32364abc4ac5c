"""A "VM" that reboots: a privileged Podman container with systemd as PID 1 and nested Podman
(../shared/reference/vm-simulation.md). A reboot is ``podman stop`` (SIGRTMIN+3: systemd shuts
down and runs every ExecStop) then ``podman start``; /run and /tmp start empty, the root
filesystem and the volumes on /var/lib/containers and /home persist.
"""
from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Long enough for systemd to stop every unit (TimeoutStopSec=70) before Podman kills the VM.
STOP_TIMEOUT = 90
# The VM's network card, configured at boot like a real VM's: rootless containers reach the
# VM through its address (host.containers.internal), rootful ones through their bridge.
NIC_ADDRESS = "192.168.144.10"
APP_PORT = 8080
# Test scaffolding inside the VM: what a real machine has (shared mounts, a network card, a
# persistent journal) and an application the sites expose.
SCAFFOLDING = {
    "/etc/systemd/system/vmsim-shared-root.service": """\
[Unit]
Description=Shared mount propagation on / (systemd makes it so on a machine, not in a container)
DefaultDependencies=no
Before=sysinit.target local-fs.target
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/mount --make-rshared /
[Install]
WantedBy=sysinit.target
""",
    "/etc/systemd/system/vmsim-nic.service": f"""\
[Unit]
Description=The VM's network card (a veth pair; this kernel has no dummy interfaces)
DefaultDependencies=no
After=sysinit.target
Before=network.target network-online.target
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/sbin/ip link add vmnic0 type veth peer name vmnic0p
ExecStart=/sbin/ip address add {NIC_ADDRESS}/24 dev vmnic0
ExecStart=/sbin/ip link set vmnic0p up
ExecStart=/sbin/ip link set vmnic0 up
[Install]
WantedBy=network-online.target multi-user.target
""",
    "/etc/systemd/system/vmsim-app.service": f"""\
[Unit]
Description=An HTTP application on the VM, the target of the tests' services
After=network.target
[Service]
ExecStart=/usr/bin/python3 -m http.server {APP_PORT} --bind 0.0.0.0 --directory /srv/app
[Install]
WantedBy=multi-user.target
""",
    "/srv/app/index.html": "hello from the vmsim app\n",
    # a persistent journal, as a real VM keeps: the previous boot's shutdown can be read back
    "/etc/systemd/journald.conf.d/zz-vmsim-persistent.conf": "[Journal]\nStorage=persistent\n",
}


@dataclass(frozen=True)
class User:
    name: str
    uid: int

    @property
    def exec_args(self) -> list[str]:
        """``podman exec`` options that run as this user without a login session."""
        if self.uid == 0:
            return []
        return ["-u", self.name, "-e", f"XDG_RUNTIME_DIR=/run/user/{self.uid}", "-w", f"/home/{self.name}"]


ROOT = User("root", 0)
ALICE = User("alice", 1000)


def host_podman(*args: str, check: bool = True, timeout: float = 300, stdin=None) -> subprocess.CompletedProcess:
    done = subprocess.run(["podman", *args], capture_output=True, text=stdin is None, timeout=timeout, stdin=stdin,
                          check=False)
    if check and done.returncode != 0:
        err = done.stderr if isinstance(done.stderr, str) else done.stderr.decode(errors="replace")
        raise AssertionError(f"podman {shlex.join(args)} failed ({done.returncode}): {err.strip()[-2000:]}")
    return done


def poll(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> float:
    """Seconds until ``check()`` holds; AssertionError naming ``what`` after ``timeout``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not after {timeout:g} s")
        time.sleep(interval)
    return time.monotonic() - start


class VM:
    """One VM container ``vmsim-<id>`` with its two volumes."""

    def __init__(self, name: str, image: str, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.image = image
        self.env = env or {}
        self.volumes = {f"{name}-containers": "/var/lib/containers", f"{name}-home": "/home"}
        self.booted_at = 0.0

    # -- life cycle ----------------------------------------------------------------------------
    def create(self) -> None:
        for volume in self.volumes:
            host_podman("volume", "create", volume)
        mounts = [arg for vol, path in self.volumes.items() for arg in ("-v", f"{vol}:{path}")]
        # --systemd=false + --cgroupns=private + these flags do by hand what --systemd=always would
        # (which breaks on this cgroup-v1 host); --no-hosts: the VM's own /etc/hosts, so nested
        # Podman sets host.containers.internal itself instead of copying the outer one.
        host_podman(
            "create", "--name", self.name, "--hostname", self.name, "--privileged", "--systemd=false",
            "--cgroupns=private", "--tmpfs", "/run:rw,mode=755", "--tmpfs", "/run/lock",
            "--tmpfs", "/tmp:rw,mode=1777", "-e", "container=podman", "--stop-signal=SIGRTMIN+3",
            "--stop-timeout", str(STOP_TIMEOUT), "--network", "none", "--no-hosts", *mounts,
            self.image, "/sbin/init",
        )

    def boot(self) -> None:
        """Start the VM; return once systemd reports the boot done (``running``)."""
        self.booted_at = time.monotonic()
        host_podman("start", self.name)
        poll(lambda: self.system_state() in ("running", "degraded"), 60, f"{self.name} booting")
        assert self.system_state() == "running", self.sh("systemctl --failed --no-legend", check=False).stdout

    def shutdown(self) -> float:
        """Stop the VM as a shutdown would; return how long it took."""
        start = time.monotonic()
        host_podman("stop", "-t", str(STOP_TIMEOUT), self.name, timeout=STOP_TIMEOUT + 30)
        return time.monotonic() - start

    def reboot(self) -> None:
        self.shutdown()
        self.boot()

    def since_boot(self) -> float:
        return time.monotonic() - self.booted_at

    def remove(self) -> None:
        host_podman("rm", "-f", "-t", "0", self.name, check=False)
        for volume in self.volumes:
            host_podman("volume", "rm", "-f", volume, check=False)

    # -- running things inside ------------------------------------------------------------------
    def run(self, argv: list[str], user: User = ROOT, check: bool = True, timeout: float = 180,
            stdin=None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        envs = [arg for key, value in (env or {}).items() for arg in ("-e", f"{key}={value}")]
        interactive = ["-i"] if stdin is not None else []
        return host_podman("exec", *interactive, *user.exec_args, *envs, self.name, *argv,
                           check=check, timeout=timeout, stdin=stdin)

    def sh(self, script: str, user: User = ROOT, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess:
        return self.run(["sh", "-c", script], user, check, timeout)

    def login_sh(self, script: str, user: User, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``script`` in a login session of ``user`` (``su -l``: logind starts their manager)."""
        return self.run(["su", "-l", user.name, "-c", script], ROOT, check)

    def skupper(self, *args: str, user: User = ROOT, login: bool = False) -> subprocess.CompletedProcess:
        argv = ["skupper", "--platform", "podman", *args]
        if login:
            exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
            return self.login_sh(f"{exports} {shlex.join(argv)}", user, check=False)
        return self.run(argv, user, check=False, env=self.env)

    def write(self, path: str, text: str, mode: str = "0644") -> None:
        done = subprocess.run(
            ["podman", "exec", "-i", self.name, "sh", "-c",
             f'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod {mode} "$1"', "-", path],
            input=text, capture_output=True, text=True, timeout=60, check=False,
        )
        assert done.returncode == 0, done.stderr

    def copy_in(self, source: Path, dest: str) -> None:
        host_podman("cp", str(source), f"{self.name}:{dest}")

    def load_image(self, tarball: Path, user: User) -> None:
        with tarball.open("rb") as stream:
            self.run(["podman", "load", "-q"], user, stdin=stream, timeout=300)

    # -- what is true inside --------------------------------------------------------------------
    def system_state(self) -> str:
        return self.run(["systemctl", "is-system-running"], check=False).stdout.strip()

    def unit_active(self, unit: str) -> str:
        return self.run(["systemctl", "is-active", unit], check=False).stdout.strip()

    def container(self, name: str, user: User, field: str = "{{.State.Status}}") -> str:
        """A field of a container in ``user``'s store ("" when it does not exist)."""
        return self.run(["podman", "container", "inspect", "--format", field, name], user, check=False).stdout.strip()

    def processes(self, user: User) -> list[str]:
        return self.run(["ps", "-u", user.name, "-o", "comm="], check=False).stdout.split()

    def http_get(self, url: str) -> str | None:
        """The body at ``url`` fetched inside the VM, or None when it cannot be fetched now."""
        done = self.run(["curl", "-sf", "--max-time", "3", url], check=False, timeout=30)
        return done.stdout if done.returncode == 0 else None
