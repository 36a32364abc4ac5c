"""Start-up cost: a command loads only what it needs."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

HEAVY = {"podman", "requests", "proton", "cryptography", "jinja2", "rich", "pydantic", "yaml"}


# Runs the CLI and prints, at exit, every module it loaded: ``-X importtime`` misses modules
# loaded through importlib (the command modules) and lazy modules (podman-py in the adapter).
_RUN_AND_LIST = """
import atexit, sys
from importlib.util import _LazyModule
def _loaded():
    real = [n for n, m in list(sys.modules.items()) if not isinstance(m, _LazyModule)]
    print("\\nLOADED " + " ".join(real), file=sys.stderr)
atexit.register(_loaded)
from skupper_podman.cli import main
sys.argv[0] = "skupper"
main()
"""


def imported_modules(tmp_path, *args: str, expect_ok: bool = False, **env: str) -> set[str]:
    """Every module ``skupper *args`` loaded (lazy modules that were never used excluded)."""
    inherited = {k: v for k, v in os.environ.items() if k != "SKUPPER_PLATFORM"}  # only what a test sets
    full_env = {**inherited, "XDG_DATA_HOME": str(tmp_path), "HOME": str(tmp_path), **env}
    out = subprocess.run([sys.executable, "-c", _RUN_AND_LIST, *args],
                         capture_output=True, text=True, env=full_env, timeout=60)
    listed = [line for line in out.stderr.splitlines() if line.startswith("LOADED ")]
    assert listed, out.stderr[-2000:]
    assert out.returncode == 0 or not expect_ok, out.stderr[-2000:]
    return set(listed[-1].split()[1:])


def imported(tmp_path, *args: str, expect_ok: bool = False, **env: str) -> set[str]:
    """Top-level packages loaded by ``skupper *args``."""
    names = {name.split(".")[0] for name in imported_modules(tmp_path, *args, expect_ok=expect_ok, **env)}
    assert "skupper_podman" in names
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


def test_every_top_level_command_is_mapped_to_its_module():
    """``run`` imports only the module of the command on the line: the map must be complete."""
    from skupper_podman.cli import app as cli_app

    tree = cli_app.command_tree("podman")
    assert set(tree.commands) == set(cli_app.COMMAND_MODULES)


@pytest.mark.parametrize("args, word", [
    (["status"], "status"), (["-n", "west", "link", "status"], "link"), (["--namespace", "x", "init"], "init"),
    (["--help"], None), ([], None), (["-n", "status"], None), (["--", "status"], None),
])
def test_command_word_skips_the_global_namespace_option(args, word):
    from skupper_podman.cli.app import command_word

    assert command_word(args) == word


def test_a_command_loads_only_its_own_command_module(tmp_path):
    names = imported_modules(tmp_path, "link", "--help", expect_ok=True, SKUPPER_PLATFORM="podman")
    assert "skupper_podman.cli.link_commands" in names
    # link_commands uses site_commands' helpers; the service and completion modules stay out
    assert not {"skupper_podman.cli.service_commands", "skupper_podman.cli.completion_command"} & names

