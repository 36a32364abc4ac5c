"""The CLI's platform selection: one-line messages and exit codes, never a traceback."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.fixture
def run(tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "HOME": str(tmp_path)}
    env.pop("SKUPPER_PLATFORM", None)

    def _run(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "skupper_podman.cli", *args], capture_output=True,
                              text=True, env={**env, **extra}, timeout=60)

    return _run


def test_kubernetes_is_valid_but_not_implemented(run):
    out = run("status")
    assert out.returncode == 1
    assert out.stderr.strip() == ("The kubernetes platform is not implemented by this skupper; "
                                  "use --platform podman (or 'skupper switch podman').")
    assert run("--platform", "kubernetes", "status").returncode == 1


def test_invalid_platform(run):
    for args in (["--platform", "docker", "status"], ["status", "--platform=docker"]):
        out = run(*args)
        assert (out.returncode, out.stderr.strip()) == (1, "invalid platform: docker")
    out = run("status", SKUPPER_PLATFORM="vms")
    assert (out.returncode, out.stderr.strip()) == (1, "invalid platform: vms")


def test_switch_then_commands_use_podman(run):
    assert run("switch").stdout.strip() == "kubernetes"
    assert run("switch", "podman").stdout.strip() == "Switched to: podman"
    out = run("version", "--output", "json", CONTAINER_HOST="unix:///nonexistent.sock")
    assert out.returncode == 0 and '"client_version"' in out.stdout
    assert run("switch", "-").stdout.strip() == "Switched to: kubernetes"


def test_bad_option_is_one_clean_error(run):
    out = run("--platform", "podman", "init", "--bind-port", "notanumber")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "Error: Invalid value for '--bind-port'" in out.stderr


@pytest.mark.parametrize("args, expected", [
    (["-n", "west", "init", "--site-name", "w"], ["init", "--site-name", "w", "-n", "west"]),
    (["--namespace", "west", "link", "status"], ["link", "status", "-n", "west"]),
    (["--namespace=west", "status", "-v"], ["status", "-v", "-n", "west"]),
    (["-nwest", "status"], ["status", "-n", "west"]),
    (["init", "-n", "west"], ["init", "-n", "west"]),          # already after the command
    (["--help"], ["--help"]),
    (["-n"], ["-n"]),                                           # no value: left for the parser to refuse
])
def test_namespace_before_the_command_moves_behind_it(args, expected):
    from skupper_podman.cli.app import hoist_namespace

    assert hoist_namespace(args) == expected


def test_global_namespace_reaches_the_command(run):
    # no Podman socket here: the command must get as far as opening the named site
    out = run("--platform", "podman", "-n", "west", "link", "status", CONTAINER_HOST="unix:///nonexistent.sock")
    assert "No such option" not in out.stderr
    assert out.returncode == 1
