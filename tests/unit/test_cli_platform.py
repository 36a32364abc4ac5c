"""The CLI's platform selection and global options: help everywhere, one-line refusals, -n before or after the command."""
from __future__ import annotations

import pytest


def test_kubernetes_is_valid_but_not_implemented(skupper_cli):
    out = skupper_cli("status")
    assert out.returncode == 1
    assert out.stderr.strip() == ("The kubernetes platform is not implemented by this skupper; "
                                  "use --platform podman (or 'skupper switch podman').")
    assert skupper_cli("--platform", "kubernetes", "status").returncode == 1


@pytest.mark.parametrize("args", [[], ["--help"], ["-h"], ["link"], ["link", "--help"], ["status", "--help"],
                                  ["--platform", "kubernetes", "service", "create", "-h"]])
def test_help_works_on_every_platform(skupper_cli, args):
    out = skupper_cli(*args)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Usage: skupper") and "not implemented" not in out.stdout + out.stderr


def test_main_help_lists_the_global_options_and_every_command(skupper_cli):
    text = skupper_cli("--help").stdout
    assert "--platform [kubernetes|podman]" in text.replace("<", "[").replace(">", "]")
    assert "-n, --namespace NAME" in text
    for command in ("init", "delete", "status", "version", "switch", "completion", "revoke-access",
                    "expose", "unexpose", "token", "link", "service"):
        assert f"\n  {command} " in text, command


def test_platform_free_commands_run_on_kubernetes(skupper_cli):
    assert skupper_cli("switch").stdout.strip() == "kubernetes"
    out = skupper_cli("completion", "bash")
    assert out.returncode == 0 and "_SKUPPER_COMPLETE=complete_bash" in out.stdout


def test_invalid_platform(skupper_cli):
    for args in (["--platform", "docker", "status"], ["status", "--platform=docker"]):
        out = skupper_cli(*args)
        assert (out.returncode, out.stderr.strip()) == (1, "invalid platform: docker")
    out = skupper_cli("status", SKUPPER_PLATFORM="vms")
    assert (out.returncode, out.stderr.strip()) == (1, "invalid platform: vms")


def test_switch_then_commands_use_podman(skupper_cli):
    assert skupper_cli("switch").stdout.strip() == "kubernetes"
    assert skupper_cli("switch", "podman").stdout.strip() == "Switched to: podman"
    out = skupper_cli("version", "--output", "json", CONTAINER_HOST="unix:///nonexistent.sock")
    assert out.returncode == 0 and '"client_version"' in out.stdout
    assert skupper_cli("switch", "-").stdout.strip() == "Switched to: kubernetes"


def test_bad_option_is_one_clean_error(skupper_cli):
    out = skupper_cli("--platform", "podman", "init", "--bind-port", "notanumber")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "Error: Invalid value for '--bind-port'" in out.stderr


def _saved_endpoint(tmp_path, namespace: str) -> str:
    """Give ``namespace`` a saved Podman endpoint that names it, so errors show which site was opened."""
    where = tmp_path / "data/skupper" / ("" if namespace == "default" else f"namespaces/{namespace}")
    where.mkdir(parents=True, exist_ok=True)
    (where / "podman.yaml").write_text(f"endpoint: /nonexistent-{namespace}.sock\n")
    return f"/nonexistent-{namespace}.sock"


@pytest.mark.parametrize("args", [
    ["-n", "west", "status"],
    ["status", "-n", "west"],
    ["--namespace", "west", "link", "status"],
    ["--namespace=west", "service", "status"],
    ["-nwest", "delete"],
    ["-n", "east", "status", "-n", "west"],        # the command's own -n wins
])
def test_namespace_before_or_after_the_command_opens_that_site(skupper_cli, tmp_path, args):
    socket = _saved_endpoint(tmp_path, "west")
    _saved_endpoint(tmp_path, "east")
    out = skupper_cli("--platform", "podman", *args)
    assert out.returncode == 1, out.stderr
    assert f"Podman endpoint is not available: {socket} " in out.stderr, out.stderr


def test_global_options_after_platform(skupper_cli, tmp_path):
    socket = _saved_endpoint(tmp_path, "west")
    for args in (["--platform", "podman", "-n", "west", "status"],
                 ["--namespace", "west", "--platform", "podman", "link", "status"],
                 ["-n", "west", "--platform=podman", "token", "create", str(tmp_path / "t.yaml")]):
        out = skupper_cli(*args)
        assert out.returncode == 1 and socket in out.stderr, (args, out.stderr)
