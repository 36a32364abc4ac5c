"""Start-up cost: a command loads only what it needs (``python -X importtime`` lists every import)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

HEAVY = {"podman", "requests", "proton", "cryptography", "jinja2", "rich", "pydantic", "yaml"}


def imported(tmp_path, *args: str, **env: str) -> set[str]:
    """Top-level packages imported by ``skupper *args``."""
    full_env = {**os.environ, "XDG_DATA_HOME": str(tmp_path), "HOME": str(tmp_path), **env}
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "skupper_podman.cli", *args],
                         capture_output=True, text=True, env=full_env, timeout=60)
    names = {line.rsplit("|", 1)[-1].strip().split(".")[0]
             for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert "skupper_podman" in names, out.stderr[-2000:]
    return names


@pytest.mark.parametrize("args", [["--help"], [], ["status", "--help"], ["service", "create", "--help"],
                                  ["switch"], ["completion", "bash"]])
def test_help_and_cli_only_commands_load_no_library_dependency(tmp_path, args):
    assert imported(tmp_path, *args, SKUPPER_PLATFORM="podman") & HEAVY == set()


def test_kubernetes_refusal_loads_nothing_heavy(tmp_path):
    assert imported(tmp_path, "status") & HEAVY == set()


def test_version_loads_no_pydantic(tmp_path):
    # typer is pinned below the release that needs pydantic; rich comes only with podman-py here
    # (its image manager imports rich.progress), never from the CLI without a terminal
    names = imported(tmp_path, "version", SKUPPER_PLATFORM="podman", CONTAINER_HOST="unix:///nonexistent.sock")
    assert "pydantic" not in names
    assert "rich" not in names or "podman" in names
