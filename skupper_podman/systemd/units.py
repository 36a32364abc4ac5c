"""Start/stop scripts and the systemd unit that restarts a site on boot (Skupper 1.5 §13).

Each site gets ``start-podman.sh`` and ``stop-podman.sh`` in its data directory: they start or
stop every container labelled ``application=skupper`` *and* with the site's namespace label, so
sites in other namespaces are left alone. A unit runs them: a user unit managed with
``systemctl --user`` for ordinary users (as 1.5 does), a system unit in ``/etc/systemd/system``
managed with plain ``systemctl`` for root. Every external command goes through a
:class:`CommandRunner`, so tests can replace exactly that boundary.
"""
from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from skupper_podman.errors import SystemdError
from skupper_podman.paths import (
    ADDRESS_LABEL, APP_LABEL, APP_VALUE, NAMESPACE_LABEL, SiteLayout, config_home, data_home, is_root, runtime_dir, username,
)
from skupper_podman.resources import jinja_env
from skupper_podman.systemd.boot import BootStatus, linger_command

SYSTEM_UNIT_DIR = Path("/etc/systemd/system")
LINGER_DIR = Path("/var/lib/systemd/linger")
# sd_booted(): the machine runs systemd as its init when this directory exists
BOOTED_DIR = Path("/run/systemd/system")
# Rootful Podman keeps its run-time storage state under /run/containers (``%t/containers`` of
# the system manager); rootless Podman under ``$XDG_RUNTIME_DIR/containers``.
ROOTFUL_RUN_DIR = Path("/run/containers")
ROOTFUL_STORAGE = Path("/var/lib/containers/storage")
# Transient scopes Podman creates: aardvark-dns (``run-r<id>.scope``, rootful and rootless),
# rootless slirp4netns and rootlessport, the rootless pause process. A prefix drop-in
# (``run-.scope.d``) orders every scope whose name starts with it.
SYSTEM_SCOPES = ("run-",)
ROOTLESS_SCOPES = ("run-", "rootless-netns-", "podman-")
SCRIPT_MODE = 0o755
UNIT_MODE = 0o644
NOT_ENABLED = "SystemD is not enabled at user level"
# what ``systemctl is-enabled`` prints (systemd 252)
UNIT_FILE_STATES = frozenset({
    "enabled", "enabled-runtime", "linked", "linked-runtime", "alias", "masked", "masked-runtime",
    "static", "indirect", "disabled", "generated", "transient", "bad", "not-found",
})
COMMAND_TIMEOUT = 90.0  # above the unit's TimeoutStopSec=70


@dataclass(frozen=True)
class CommandResult:
    """Outcome of one external command."""

    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def detail(self) -> str:
        """A one-line reason for a failure: stderr, else stdout, else the exit status."""
        text = (self.stderr or self.stdout).strip()
        return " ".join(text.split()) if text else f"exit status {self.returncode}"


class CommandRunner(Protocol):
    """Runs one external command (``systemctl``, ``loginctl``) and reports its outcome."""

    def run(self, argv: Sequence[str]) -> CommandResult: ...


class SubprocessRunner:
    """The real runner: executes the command with :mod:`subprocess`, never raising for failures."""

    def __init__(self, timeout: float = COMMAND_TIMEOUT) -> None:
        self.timeout = timeout

    def run(self, argv: Sequence[str]) -> CommandResult:
        try:
            done = subprocess.run(
                list(argv), capture_output=True, text=True, timeout=self.timeout, stdin=subprocess.DEVNULL,
                check=False,
            )
        except FileNotFoundError:
            return CommandResult(127, stderr=f"{argv[0]}: command not found")
        except subprocess.TimeoutExpired:
            return CommandResult(124, stderr=f"{shlex.join(argv)} timed out after {self.timeout:g}s")
        except OSError as err:
            return CommandResult(126, stderr=f"{argv[0]}: {err.strerror or err}")
        return CommandResult(done.returncode, done.stdout, done.stderr)


def _unit_value(path: Path) -> str:
    """``path`` as a unit-file value: ``%`` escaped, quoted when it holds blanks.

    systemd refuses executables whose path holds quotes, backslashes or control characters, so
    those raise :class:`SystemdError`. (``$`` needs no escape: only arguments are expanded.)
    """
    text = str(path)
    if any(ch in "\"'\\" or not ch.isprintable() for ch in text):
        raise SystemdError(
            f"systemd cannot run {text!r}: quotes, backslashes and control characters are refused"
        )
    text = text.replace("%", "%%")
    return f'"{text}"' if any(ch.isspace() for ch in text) else text


def render_unit(layout: SiteLayout, *, system: bool | None = None, run_dir: Path | None = None) -> str:
    """The unit file text for ``layout``.

    ``system`` selects a root system unit (default: whether we run as root). ``run_dir`` is the
    ``XDG_RUNTIME_DIR`` of a user unit (default: the current one); system units use
    ``/run/containers``.
    """
    system = is_root() if system is None else system
    mounts = ROOTFUL_RUN_DIR if system else (run_dir or runtime_dir()) / "containers"
    storage = ROOTFUL_STORAGE if system else data_home().parent / "containers" / "storage"
    return jinja_env("systemd-units").get_template("skupper-podman.service.j2").render(
        description=layout.unit_name,
        requires_mounts_for=_unit_value(mounts),
        storage=_unit_value(storage),
        exec_start=_unit_value(layout.start_script),
        exec_stop=_unit_value(layout.stop_script),
        wanted_by=wanted_by(system),
    )


def wanted_by(system: bool) -> str:
    """The target a site's unit is enabled for: ``multi-user.target`` (system), ``default.target`` (user)."""
    return "multi-user.target" if system else "default.target"


def render_scripts(layout: SiteLayout) -> tuple[str, str]:
    """The texts of ``(start-podman.sh, stop-podman.sh)`` for ``layout``."""
    env = jinja_env("systemd-units")
    values = {
        "namespace": layout.namespace,
        "unit_name": layout.unit_name,
        "app_filter": shlex.quote(f"label={APP_LABEL}={APP_VALUE}"),
        "namespace_filter": shlex.quote(f"label={NAMESPACE_LABEL}={layout.namespace}"),
        "service_filter": shlex.quote(f"label={ADDRESS_LABEL}"),
    }
    return (
        env.get_template("start-podman.sh.j2").render(**values),
        env.get_template("stop-podman.sh.j2").render(**values),
    )


def _write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def write_scripts(layout: SiteLayout) -> tuple[Path, Path]:
    """Write the start and stop scripts (mode 0755) into the site's data directory."""
    start, stop = render_scripts(layout)
    _write(layout.start_script, start, SCRIPT_MODE)
    _write(layout.stop_script, stop, SCRIPT_MODE)
    return layout.start_script, layout.stop_script


def remove_scripts(layout: SiteLayout) -> None:
    """Delete the start and stop scripts if they exist."""
    layout.start_script.unlink(missing_ok=True)
    layout.stop_script.unlink(missing_ok=True)


def default_unit_dir(system: bool) -> Path:
    """``/etc/systemd/system`` for root, else ``$XDG_CONFIG_HOME/systemd/user``."""
    return SYSTEM_UNIT_DIR if system else config_home() / "systemd" / "user"


class SystemdManager:
    """Installs and removes a site's unit and gives the lingering advice.

    Defaults follow the running user: root gets a system unit and plain ``systemctl``, anyone
    else a user unit and ``systemctl --user``. Every directory can be overridden for tests.
    """

    def __init__(
        self,
        runner: CommandRunner | None = None,
        *,
        system: bool | None = None,
        unit_dir: Path | None = None,
        linger_dir: Path = LINGER_DIR,
        run_dir: Path | None = None,
        user: str | None = None,
        booted_dir: Path = BOOTED_DIR,
    ) -> None:
        self.runner = runner or SubprocessRunner()
        self.system = is_root() if system is None else system
        self.unit_dir = Path(unit_dir) if unit_dir is not None else default_unit_dir(self.system)
        self.linger_dir = Path(linger_dir)
        self.run_dir = run_dir
        self.user = user or username()
        self.booted_dir = Path(booted_dir)

    def systemctl(self, *args: str) -> CommandResult:
        argv = ["systemctl", *([] if self.system else ["--user"]), *args]
        return self.runner.run(argv)

    def unit_path(self, layout: SiteLayout) -> Path:
        return self.unit_dir / layout.unit_name

    def scope_drop_ins(self, layout: SiteLayout) -> list[Path]:
        """The drop-ins that keep Podman's scopes up until the site's unit has stopped."""
        prefixes = SYSTEM_SCOPES if self.system else ROOTLESS_SCOPES
        return [self.unit_dir / f"{prefix}.scope.d" / f"50-{layout.unit_name}.conf" for prefix in prefixes]

    def available(self) -> bool:
        """Whether the systemd manager answers (``systemctl [--user] list-units`` succeeds)."""
        return self.systemctl("list-units", "--no-pager").ok

    def create_unit(self, layout: SiteLayout) -> Path:
        """Write, enable and start the site's unit (1.5 order); raise :class:`SystemdError`.

        The scripts the unit runs must exist already (see :func:`write_scripts`).
        """
        if not self.available():
            raise SystemdError(NOT_ENABLED)
        path = self.unit_path(layout)
        order = jinja_env("systemd-units").get_template("scope-order.conf.j2").render(unit_name=layout.unit_name)
        try:
            _write(path, render_unit(layout, system=self.system, run_dir=self.run_dir), UNIT_MODE)
            for drop_in in self.scope_drop_ins(layout):
                _write(drop_in, order, UNIT_MODE)
        except OSError as err:
            raise SystemdError(f"unable to write unit file {path}: {err.strerror or err}") from err
        steps = (
            (("enable", layout.unit_name), "enable"),
            (("daemon-reload",), "reload the daemon for"),
            (("start", layout.unit_name), "start"),
        )
        for args, what in steps:
            result = self.systemctl(*args)
            if not result.ok:
                raise SystemdError(f"unable to {what} service {layout.unit_name}: {result.detail}")
        return path

    def install(self, layout: SiteLayout) -> list[str]:
        """Write the scripts, then try the unit; return the messages to show the user.

        A systemd failure is not fatal: it becomes ``Unable to create startup service - <err>``
        plus where the scripts are. The lingering advice follows when it applies.
        """
        write_scripts(layout)
        messages: list[str] = []
        try:
            self.create_unit(layout)
        except SystemdError as err:
            messages.append(f"Unable to create startup service - {err}")
            messages.append(
                f"The startup scripts: {layout.start_script.name} and {layout.stop_script.name} "
                f"are available at {layout.start_script.parent}"
            )
        advice = self.linger_advice()
        if advice:
            messages += [advice, f"To start the site at boot without a login, run as root: {linger_command(self.user)}"]
        return messages

    def remove(self, layout: SiteLayout) -> None:
        """Stop, disable and delete the unit, reload, reset its failed state; delete the scripts.

        Errors are ignored; without a running systemd only the files are deleted.
        """
        active = self.available()
        if active:
            self.systemctl("stop", layout.unit_name)
            self.systemctl("disable", layout.unit_name)
        for path in (self.unit_path(layout), *self.scope_drop_ins(layout)):
            path.unlink(missing_ok=True)
        if active:
            self.systemctl("daemon-reload")
            self.systemctl("reset-failed", layout.unit_name)
        remove_scripts(layout)

    def lingering(self, user: str | None = None) -> bool:
        return (self.linger_dir / (user or self.user)).exists()

    def linger_advice(self, user: str | None = None) -> str | None:
        """1.5's advice for a non-root user without lingering, else ``None``."""
        user = user or self.user
        if self.system or self.lingering(user):
            return None
        return f"It is recommended to enable lingering for {user}, otherwise Skupper may not start on boot."

    def enable_linger(self, user: str | None = None) -> bool:
        """Turn lingering on for ``user`` (default: the current one) with ``loginctl enable-linger``,
        so their user units start at boot without a login; False when it was on already.

        Raises :class:`SystemdError` with 1.5's advice when the system does not allow it (without
        polkit only root may; with it, a user in an active session may for themselves).
        """
        user = user or self.user
        if self.lingering(user):
            return False
        result = self.runner.run(["loginctl", "enable-linger", user])
        if not result.ok or not self.lingering(user):
            reason = result.detail if not result.ok else f"no {self.linger_dir / user} after loginctl"
            raise SystemdError(
                f"Unable to enable lingering for {user} - {reason}. It is recommended to enable lingering "
                f"for {user}, otherwise Skupper may not start on boot: run as root '{linger_command(user)}'"
            )
        return True

    def boot_status(self, layout: SiteLayout) -> BootStatus | None:
        """Whether the site of ``layout`` starts at boot (unit enabled; for users, lingering on);
        ``None`` when this machine does not run systemd."""
        if not self.booted_dir.is_dir():
            return None
        return BootStatus(
            unit=layout.unit_name,
            system=self.system,
            user=self.user,
            unit_state=self.unit_state(layout),
            lingering=None if self.system else self.lingering(),
        )

    def unit_state(self, layout: SiteLayout) -> str:
        """``systemctl is-enabled`` of the site's unit (``enabled``, ``disabled``, ``not-found``, ...).

        Without an answer (no user manager: no login and no lingering) it is read from the files:
        ``enabled`` when the unit is linked into its target's ``.wants``.
        """
        words = self.systemctl("is-enabled", layout.unit_name).stdout.split()
        if words and words[0] in UNIT_FILE_STATES:
            return words[0]
        if not self.unit_path(layout).exists():
            return "not-found"
        wants = self.unit_dir / f"{wanted_by(self.system)}.wants" / layout.unit_name
        return "enabled" if wants.exists() else "disabled"
