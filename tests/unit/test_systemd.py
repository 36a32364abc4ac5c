"""Start/stop scripts, unit rendering (checked with systemd-analyze) and the install/remove flows."""
from __future__ import annotations

import os
import stat
import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

from skupper_podman.errors import SystemdError
from skupper_podman.paths import SiteLayout
from skupper_podman.systemd.units import (
    NOT_ENABLED,
    CommandResult,
    SubprocessRunner,
    SystemdManager,
    default_unit_dir,
    render_scripts,
    render_unit,
    write_scripts,
)

FAKES = Path(__file__).resolve().parent.parent / "fakes"


class FakeRunner:
    """Records every argv; fails the commands whose verb is in ``fail`` with stderr ``boom <verb>``."""

    def __init__(self, fail: Sequence[str] = ()) -> None:
        self.calls: list[list[str]] = []
        self.fail = set(fail)

    def run(self, argv: Sequence[str]) -> CommandResult:
        self.calls.append(list(argv))
        verb = next(arg for arg in argv[1:] if not arg.startswith("--"))
        if verb in self.fail:
            return CommandResult(1, stderr=f"boom {verb}\n")
        return CommandResult(0)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def linger_dir(tmp_path: Path) -> Path:
    path = tmp_path / "linger"
    path.mkdir()
    return path


def _manager(tmp_path: Path, runner, *, system: bool = False, linger_dir: Path | None = None) -> SystemdManager:
    return SystemdManager(
        runner,
        system=system,
        unit_dir=tmp_path / "units",
        linger_dir=linger_dir or tmp_path / "no-linger",
        run_dir=tmp_path / "run",
        user="alice",
    )


# --- rendering -------------------------------------------------------------------------------

@pytest.mark.parametrize("namespace", ["default", "west"])
@pytest.mark.parametrize("system", [False, True], ids=["user", "system"])
@pytest.mark.parametrize("data_name", ["data", "da ta%1$x"], ids=["plain", "odd-path"])
def test_rendered_units_verify_cleanly(tmp_path: Path, namespace: str, system: bool, data_name: str) -> None:
    layout = SiteLayout(namespace, data_dir=tmp_path / data_name)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_scripts(layout)
    unit = tmp_path / "units" / layout.unit_name
    unit.parent.mkdir()
    unit.write_text(render_unit(layout, system=system, run_dir=run_dir))
    argv = ["systemd-analyze", *([] if system else ["--user"]), "verify", str(unit)]
    done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "XDG_RUNTIME_DIR": str(run_dir)},
                          check=False)
    assert (done.returncode, done.stderr) == (0, "")


def test_verify_check_catches_a_missing_script(tmp_path: Path) -> None:
    """The verify test above is meaningful: without the scripts systemd-analyze fails."""
    layout = SiteLayout(data_dir=tmp_path / "data")
    unit = tmp_path / layout.unit_name
    unit.write_text(render_unit(layout, system=True))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert "start-podman.sh is not executable" in done.stderr


@pytest.mark.parametrize("data_name", ['q"b', "b\\s", "q'b", "tab\tx"])
def test_paths_systemd_refuses_fail_the_install_not_the_scripts(tmp_path: Path, data_name: str) -> None:
    layout = SiteLayout(data_dir=tmp_path / data_name)
    with pytest.raises(SystemdError, match="quotes, backslashes and control characters are refused"):
        render_unit(layout, system=True)
    runner = FakeRunner()
    messages = _manager(tmp_path, runner).install(layout)
    assert messages[0].startswith("Unable to create startup service - systemd cannot run ")
    assert len(runner.calls) == 1 and layout.start_script.is_file()
    assert not (tmp_path / "units" / layout.unit_name).exists()


def test_user_unit_content(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    layout = SiteLayout(data_dir=tmp_path / "data")
    text = render_unit(layout, system=False, run_dir=Path("/run/user/1000"))
    assert text == (
        "[Unit]\n"
        "Description=skupper-podman.service\n"
        "Wants=network-online.target\n"
        "After=network-online.target\n"
        "RequiresMountsFor=/run/user/1000/containers\n"
        "# Beyond 1.5: start after the Podman API socket (site containers may use it) and the image store;\n"
        "# at shutdown the site is then stopped before both.\n"
        "Wants=podman.socket\n"
        "After=podman.socket\n"
        f"RequiresMountsFor={tmp_path}/xdg-data/containers/storage\n"
        "\n"
        "[Service]\n"
        "TimeoutStopSec=70\n"
        "RemainAfterExit=yes\n"
        f"ExecStart={tmp_path}/data/start-podman.sh\n"
        f"ExecStop={tmp_path}/data/stop-podman.sh\n"
        "Type=simple\n"
        "\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


def test_system_unit_differs_in_mounts_and_target(tmp_path: Path) -> None:
    layout = SiteLayout("west", data_dir=tmp_path)
    lines = render_unit(layout, system=True).splitlines()
    assert "Description=skupper-podman-west.service" in lines
    assert "RequiresMountsFor=/run/containers" in lines
    assert "RequiresMountsFor=/var/lib/containers/storage" in lines
    assert lines.index("Wants=podman.socket") < lines.index("[Service]")
    assert "WantedBy=multi-user.target" in lines


def test_user_unit_defaults_to_the_current_runtime_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "xdg-run"))
    text = render_unit(SiteLayout(data_dir=tmp_path), system=False)
    assert f"RequiresMountsFor={tmp_path}/xdg-run/containers\n" in text


def test_unit_dir_defaults(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert default_unit_dir(system=False) == tmp_path / "cfg" / "systemd" / "user"
    assert default_unit_dir(system=True) == Path("/etc/systemd/system")


@pytest.mark.parametrize("namespace", ["default", "west"])
def test_scripts_are_written_executable(tmp_path: Path, namespace: str) -> None:
    layout = SiteLayout(namespace, data_dir=tmp_path / "new" / "dir")
    start, stop = write_scripts(layout)
    assert (start, stop) == (layout.start_script, layout.stop_script)
    expected = render_scripts(layout)
    for path, text in ((start, expected[0]), (stop, expected[1])):
        assert _mode(path) == 0o755
        assert path.read_text() == text
        lines = text.splitlines()
        assert lines[0] == "#!/usr/bin/env sh"
        assert "set -o errexit" in lines and "set -o nounset" in lines
        assert subprocess.run(["sh", "-n", str(path)], check=False).returncode == 0
    assert (
        "names=$(podman container ls --filter label=application=skupper "
        f"--filter label=skupper-podman.io/namespace={namespace} --format '{{{{.Names}}}}' --all)"
    ) in expected[0].splitlines()
    assert '    podman start "${name}"' in expected[0].splitlines()


FAKE_PODMAN = """#!/bin/sh
# container ls: the running containers matching every --filter label=...; stop: stop one
if [ "$1" = stop ]; then echo "$4" >> "$STATE/stopped"; sed -i "/^$4 /d" "$STATE/running"; exit 0; fi
shift 2
pattern=""
while [ $# -gt 0 ]; do
    if [ "$1" = --filter ]; then pattern="$pattern ${2#label=}"; fi
    shift
done
while read -r name labels; do
    ok=1
    for want in $pattern; do
        case ",$labels," in *",$want,"*|*",$want="*) ;; *) ok=0 ;; esac
    done
    if [ $ok = 1 ]; then echo "$name"; fi
done < "$STATE/running"
"""


def test_stop_script_stops_service_routers_before_the_rest(tmp_path: Path) -> None:
    """Service routers stopped after the site router re-dial it (a stalled name lookup there can
    outlast the 10 s stop timeout): they go first; containers of other sites are left alone."""
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    (bin_dir / "podman").write_text(FAKE_PODMAN)
    (bin_dir / "podman").chmod(0o755)
    site = "application=skupper,skupper-podman.io/namespace=west"
    (state / "running").write_text(
        f"west-skupper-router {site}\n"
        f"west-skupper-controller-podman {site}\n"
        f"west-backend {site},skupper.io/address=backend\n"
        f"east-backend application=skupper,skupper-podman.io/namespace=east,skupper.io/address=backend\n"
        f"west-db {site},skupper.io/address=db\n")
    _, stop = write_scripts(SiteLayout("west", data_dir=tmp_path / "data"))
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "STATE": str(state)}
    subprocess.run(["sh", str(stop)], check=True, env=env)
    assert (state / "stopped").read_text().split() == [
        "west-backend", "west-db", "west-skupper-router", "west-skupper-controller-podman"]
    assert (state / "running").read_text().split() == [
        "east-backend", "application=skupper,skupper-podman.io/namespace=east,skupper.io/address=backend"]


# --- install / remove ------------------------------------------------------------------------

def test_install_user_unit_exact_calls_files_and_linger_advice(tmp_path: Path, linger_dir: Path) -> None:
    layout = SiteLayout("west", data_dir=tmp_path / "data")
    runner = FakeRunner()
    manager = _manager(tmp_path, runner, linger_dir=linger_dir)
    messages = manager.install(layout)
    unit = "skupper-podman-west.service"
    assert runner.calls == [
        ["systemctl", "--user", "list-units", "--no-pager"],
        ["systemctl", "--user", "enable", unit],
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "start", unit],
    ]
    path = tmp_path / "units" / unit
    assert path.read_text() == render_unit(layout, system=False, run_dir=tmp_path / "run")
    assert _mode(path) == 0o644
    for prefix in ("run-", "rootless-netns-", "podman-"):
        drop_in = (tmp_path / "units" / f"{prefix}.scope.d" / f"50-{unit}.conf").read_text()
        assert f"[Unit]\nBefore={unit}\n" in drop_in
    assert _mode(layout.start_script) == _mode(layout.stop_script) == 0o755
    assert messages == [
        "It is recommended to enable lingering for alice, otherwise Skupper may not start on boot.",
        "To start the site at boot without a login, run as root: loginctl enable-linger alice",
    ]


def test_install_with_lingering_enabled_says_nothing(tmp_path: Path, linger_dir: Path) -> None:
    (linger_dir / "alice").touch()
    assert _manager(tmp_path, FakeRunner(), linger_dir=linger_dir).install(SiteLayout(data_dir=tmp_path)) == []


def test_install_system_unit_uses_plain_systemctl(tmp_path: Path) -> None:
    layout = SiteLayout(data_dir=tmp_path / "data")
    runner = FakeRunner()
    messages = _manager(tmp_path, runner, system=True).install(layout)
    assert runner.calls == [
        ["systemctl", "list-units", "--no-pager"],
        ["systemctl", "enable", "skupper-podman.service"],
        ["systemctl", "daemon-reload"],
        ["systemctl", "start", "skupper-podman.service"],
    ]
    assert messages == []
    assert "WantedBy=multi-user.target" in (tmp_path / "units" / "skupper-podman.service").read_text()
    assert sorted(p.name for p in (tmp_path / "units").iterdir()) == ["run-.scope.d", "skupper-podman.service"]


def test_install_without_systemd_keeps_the_scripts(tmp_path: Path) -> None:
    layout = SiteLayout(data_dir=tmp_path / "data")
    runner = FakeRunner(fail=["list-units"])
    messages = _manager(tmp_path, runner).install(layout)
    assert runner.calls == [["systemctl", "--user", "list-units", "--no-pager"]]
    assert messages[:2] == [
        f"Unable to create startup service - {NOT_ENABLED}",
        f"The startup scripts: start-podman.sh and stop-podman.sh are available at {tmp_path / 'data'}",
    ]
    assert NOT_ENABLED == "SystemD is not enabled at user level"
    assert not (tmp_path / "units").exists()
    assert layout.start_script.is_file() and layout.stop_script.is_file()


@pytest.mark.parametrize(
    ("failing", "calls", "reason"),
    [
        ("enable", 2, "unable to enable service skupper-podman.service: boom enable"),
        ("daemon-reload", 3, "unable to reload the daemon for service skupper-podman.service: boom daemon-reload"),
        ("start", 4, "unable to start service skupper-podman.service: boom start"),
    ],
)
def test_install_stops_at_the_first_failing_step(tmp_path: Path, failing: str, calls: int, reason: str) -> None:
    runner = FakeRunner(fail=[failing])
    messages = _manager(tmp_path, runner).install(SiteLayout(data_dir=tmp_path / "data"))
    assert len(runner.calls) == calls
    assert messages[0] == f"Unable to create startup service - {reason}"


def test_remove_exact_calls_and_files(tmp_path: Path) -> None:
    layout = SiteLayout("west", data_dir=tmp_path / "data")
    manager = _manager(tmp_path, FakeRunner())
    manager.install(layout)
    runner = FakeRunner(fail=["stop", "disable", "daemon-reload", "reset-failed"])
    manager.runner = runner
    manager.remove(layout)
    unit = "skupper-podman-west.service"
    assert runner.calls == [
        ["systemctl", "--user", "list-units", "--no-pager"],
        ["systemctl", "--user", "stop", unit],
        ["systemctl", "--user", "disable", unit],
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "reset-failed", unit],
    ]
    assert not manager.unit_path(layout).exists()
    assert manager.scope_drop_ins(layout) and not any(p.exists() for p in manager.scope_drop_ins(layout))
    assert not layout.start_script.exists() and not layout.stop_script.exists()


def test_remove_without_systemd_deletes_files_only(tmp_path: Path) -> None:
    layout = SiteLayout(data_dir=tmp_path / "data")
    manager = _manager(tmp_path, FakeRunner())
    manager.install(layout)
    manager.runner = runner = FakeRunner(fail=["list-units"])
    manager.remove(layout)
    assert runner.calls == [["systemctl", "--user", "list-units", "--no-pager"]]
    assert not manager.unit_path(layout).exists() and not layout.start_script.exists()
    manager.remove(layout)  # nothing left: still fine


# --- lingering -------------------------------------------------------------------------------

def test_linger_advice(tmp_path: Path, linger_dir: Path) -> None:
    manager = _manager(tmp_path, FakeRunner(), linger_dir=linger_dir)
    assert manager.linger_advice("bob") == (
        "It is recommended to enable lingering for bob, otherwise Skupper may not start on boot."
    )
    (linger_dir / "bob").touch()
    assert manager.linger_advice("bob") is None
    assert _manager(tmp_path, FakeRunner(), system=True, linger_dir=linger_dir).linger_advice("carol") is None


def test_enable_linger_runs_loginctl_once_and_checks_the_result(tmp_path: Path, linger_dir: Path) -> None:
    class LogindRunner(FakeRunner):
        def run(self, argv: Sequence[str]) -> CommandResult:
            (linger_dir / argv[-1]).touch()
            return super().run(argv)

    runner = LogindRunner()
    manager = _manager(tmp_path, runner, linger_dir=linger_dir)
    assert manager.enable_linger() is True
    assert manager.enable_linger() is False  # on already: loginctl is not run again
    assert runner.calls == [["loginctl", "enable-linger", "alice"]]


def test_enable_linger_refused_gives_the_advice(tmp_path: Path, linger_dir: Path) -> None:
    manager = _manager(tmp_path, FakeRunner(fail=["enable-linger"]), linger_dir=linger_dir)
    with pytest.raises(SystemdError) as err:
        manager.enable_linger("bob")
    assert str(err.value) == (
        "Unable to enable lingering for bob - boom enable-linger. It is recommended to enable lingering for bob, "
        "otherwise Skupper may not start on boot: run as root 'loginctl enable-linger bob'"
    )
    # loginctl said yes but logind wrote no linger file: not believed
    with pytest.raises(SystemdError, match=f"no {linger_dir}/bob after loginctl"):
        _manager(tmp_path, FakeRunner(), linger_dir=linger_dir).enable_linger("bob")


def test_real_loginctl_failure_raises_one_line(tmp_path: Path) -> None:
    """PID 1 is not systemd here, so the real loginctl fails; an unknown user keeps any host safe."""
    user = f"skupper-podman-nouser-{uuid.uuid4().hex[:6]}"
    with pytest.raises(SystemdError) as err:
        SystemdManager(SubprocessRunner(), system=False, linger_dir=tmp_path).enable_linger(user)
    text = str(err.value)
    assert text.startswith(f"Unable to enable lingering for {user} - ") and "\n" not in text
    assert text.endswith(f"run as root 'loginctl enable-linger {user}'")


# --- starts at boot --------------------------------------------------------------------------

class StateRunner(FakeRunner):
    """Answers ``is-enabled`` with ``state`` (or nothing, like a user without a user manager)."""

    def __init__(self, state: str) -> None:
        super().__init__()
        self.state = state

    def run(self, argv: Sequence[str]) -> CommandResult:
        super().run(argv)
        return CommandResult(0 if self.state == "enabled" else 1, stdout=f"{self.state}\n" if self.state else "")


def _booted(tmp_path: Path, runner, **kwargs) -> SystemdManager:
    booted = tmp_path / "run-systemd-system"
    booted.mkdir(exist_ok=True)
    manager = _manager(tmp_path, runner, **kwargs)
    manager.booted_dir = booted
    return manager


def test_no_boot_status_without_systemd(tmp_path: Path) -> None:
    assert _manager(tmp_path, StateRunner("enabled")).boot_status(SiteLayout(data_dir=tmp_path)) is None


@pytest.mark.parametrize(
    ("system", "state", "linger", "starts", "fix"),
    [
        (True, "enabled", False, True, None),
        (True, "disabled", False, False, "systemctl enable skupper-podman.service"),
        (False, "enabled", True, True, None),
        (False, "enabled", False, False, "loginctl enable-linger alice"),
        (False, "disabled", True, False, "systemctl --user enable skupper-podman.service"),
        (False, "not-found", True, False, None),
        (False, "masked", True, False, None),
    ],
)
def test_boot_status(tmp_path: Path, linger_dir: Path, system: bool, state: str, linger: bool, starts: bool,
                     fix: str | None) -> None:
    if linger:
        (linger_dir / "alice").touch()
    runner = StateRunner(state)
    boot = _booted(tmp_path, runner, system=system, linger_dir=linger_dir).boot_status(SiteLayout(data_dir=tmp_path))
    assert boot is not None
    assert (boot.unit_state, boot.starts_at_boot, boot.fix) == (state, starts, fix)
    assert boot.lingering == (None if system else linger)
    assert runner.calls == [["systemctl", *([] if system else ["--user"]), "is-enabled", "skupper-podman.service"]]
    assert boot.to_dict()["starts_at_boot"] is starts


def test_unit_state_read_from_files_without_a_user_manager(tmp_path: Path) -> None:
    layout = SiteLayout(data_dir=tmp_path / "data")
    manager = _booted(tmp_path, StateRunner(""))
    assert manager.unit_state(layout) == "not-found"
    manager.unit_path(layout).parent.mkdir()
    manager.unit_path(layout).write_text(render_unit(layout, system=False, run_dir=tmp_path))
    assert manager.unit_state(layout) == "disabled"
    wants = tmp_path / "units" / "default.target.wants"
    wants.mkdir()
    (wants / layout.unit_name).symlink_to(manager.unit_path(layout))
    assert manager.unit_state(layout) == "enabled"


# --- the real runner -------------------------------------------------------------------------

def test_subprocess_runner_reports_missing_commands_and_timeouts() -> None:
    missing = SubprocessRunner().run([f"no-such-command-{uuid.uuid4().hex}"])
    assert missing.returncode == 127 and "command not found" in missing.detail
    slow = SubprocessRunner(timeout=0.2).run(["sleep", "5"])
    assert slow.returncode == 124 and "timed out" in slow.detail
    done = SubprocessRunner().run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (done.returncode, done.stdout, done.stderr, done.ok) == (3, "out\n", "err\n", False)


@pytest.fixture
def fake_binaries(tmp_path: Path, monkeypatch) -> dict[str, Path]:
    """Put tests/fakes first on PATH; their logs and the linger dir live in tmp_path."""
    logs = {"systemctl": tmp_path / "systemctl.log", "loginctl": tmp_path / "loginctl.log"}
    linger = tmp_path / "linger"
    linger.mkdir()
    monkeypatch.setenv("PATH", f"{FAKES}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SYSTEMCTL_LOG", str(logs["systemctl"]))
    monkeypatch.setenv("FAKE_LOGINCTL_LOG", str(logs["loginctl"]))
    monkeypatch.setenv("FAKE_LINGER_DIR", str(linger))
    return {**logs, "linger": linger}


def test_real_runner_drives_systemctl_from_path(tmp_path: Path, fake_binaries, monkeypatch) -> None:
    layout = SiteLayout("east", data_dir=tmp_path / "data")
    manager = SystemdManager(system=False, unit_dir=tmp_path / "units", linger_dir=fake_binaries["linger"],
                             run_dir=tmp_path, user="alice")
    assert isinstance(manager.runner, SubprocessRunner)
    assert manager.install(layout)[-2].startswith("It is recommended to enable lingering for alice")
    manager.remove(layout)
    unit = "skupper-podman-east.service"
    assert fake_binaries["systemctl"].read_text().splitlines() == [
        "--user list-units --no-pager",
        f"--user enable {unit}",
        "--user daemon-reload",
        f"--user start {unit}",
        "--user list-units --no-pager",
        f"--user stop {unit}",
        f"--user disable {unit}",
        "--user daemon-reload",
        f"--user reset-failed {unit}",
    ]
    monkeypatch.setenv("FAKE_SYSTEMCTL_FAIL", "start")
    assert manager.install(layout)[0] == (
        f"Unable to create startup service - unable to start service {unit}: Failed to start: fake failure"
    )


def test_real_runner_enables_linger_with_loginctl_from_path(fake_binaries) -> None:
    manager = SystemdManager(system=False, linger_dir=fake_binaries["linger"], user="alice")
    assert manager.linger_advice() is not None
    assert manager.enable_linger() is True
    assert fake_binaries["loginctl"].read_text() == "enable-linger alice\n"
    assert manager.linger_advice() is None


# --- the status line ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("system", "state", "linger", "line"),
    [
        (True, "enabled", None, "The site starts at boot (system unit skupper-podman.service is enabled)."),
        (False, "enabled", True,
         "The site starts at boot (user unit skupper-podman.service is enabled, lingering is on for alice)."),
        (False, "enabled", False,
         ("The site does not start at boot (user unit skupper-podman.service is enabled, lingering is off for "
          "alice). To fix, run: loginctl enable-linger alice")),
        (True, "disabled", None, ("The site does not start at boot (system unit skupper-podman.service is "
                                  "disabled). To fix, run: systemctl enable skupper-podman.service")),
        (False, "not-found", True, ("The site does not start at boot (user unit skupper-podman.service is not "
                                    "installed, lingering is on for alice).")),
    ],
)
def test_boot_line(system: bool, state: str, linger: bool | None, line: str) -> None:
    from skupper_podman.cli.site_messages import boot_line
    from skupper_podman.systemd.boot import BootStatus

    assert boot_line(BootStatus("skupper-podman.service", system, "alice", state, linger)) == line
