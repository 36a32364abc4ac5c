"""What the CLI shows and checks before any site work: choices, metavars, messages, completion."""
from __future__ import annotations

import re

import pytest

from skupper_podman.cli import site_messages
from skupper_podman.paths import username

NO_PODMAN = {"SKUPPER_PLATFORM": "podman", "CONTAINER_HOST": "unix:///nonexistent.sock"}

COMMANDS = [[], ["init"], ["delete"], ["status"], ["version"], ["switch"], ["completion"], ["revoke-access"],
            ["expose"], ["unexpose"], ["token", "create"], ["link", "create"], ["link", "delete"],
            ["link", "status"], ["service", "create"], ["service", "delete"], ["service", "status"],
            ["service", "bind"], ["service", "unbind"]]


@pytest.mark.parametrize("args, error", [
    (["status", "--output", "xml"], "Invalid value for '--output' / '-o': 'xml' is not one of 'text', 'json', 'yaml'."),
    (["version", "-o", "xml"], "Invalid value for '--output' / '-o': 'xml' is not one of 'text', 'json', 'yaml'."),
    (["expose", "host", "h", "--address", "a", "--port", "80", "--aggregate", "csv"],
     "Invalid value for '--aggregate': 'csv' is not one of 'json', 'multipart'."),
])
def test_choices_are_checked_by_the_parser(skupper_cli, args, error):
    out = skupper_cli(*args, **NO_PODMAN)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines()[-1] == f"Error: {error}"
    assert "Value error" not in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("args, error", [
    (["service", "create", "db", "5432", "--protocol", "udp"], "udp is not a valid mapping. Choose 'tcp', 'http' or 'http2'."),
    (["expose", "host", "h", "--address", "a", "--port", "80", "--protocol", "sctp"],
     "sctp is not a valid mapping. Choose 'tcp', 'http' or 'http2'."),
    (["init", "--ingress", "loadbalancer"], "Invalid value for ingress: loadbalancer"),
    (["init", "--router-mode", "hub"], 'invalid "--router-mode=hub", it must be one of "interior, edge"'),
])
def test_15_choices_are_checked_while_parsing_in_15s_words(skupper_cli, args, error):
    # Podman is unreachable: the value is refused before any site work, on one line
    out = skupper_cli(*args, **NO_PODMAN)
    assert (out.returncode, out.stderr.strip()) == (1, error)


def test_choices_complete_in_the_shell(skupper_cli):
    words = {"_SKUPPER_COMPLETE": "complete_bash", "SKUPPER_PLATFORM": "podman"}
    assert skupper_cli(**words, COMP_WORDS="skupper init --router-mode ", COMP_CWORD="3").stdout.split() == ["interior", "edge"]
    assert skupper_cli(**words, COMP_WORDS="skupper service create --protocol ", COMP_CWORD="4").stdout.split() == [
        "tcp", "http", "http2"]


def test_edge_passes_the_parser_and_is_refused_as_15_does(skupper_cli):
    out = skupper_cli("init", "--router-mode", "edge", **NO_PODMAN)
    assert (out.returncode, out.stderr.strip()) == (1, "Error initializing Skupper - edge mode is not yet allowed")


@pytest.mark.parametrize("args, choices", [
    (["status"], "text|json|yaml"), (["service", "create"], "tcp|http|http2"),
    (["init"], "external|none"), (["init"], "interior|edge"), (["expose"], "json|multipart"),
])
def test_help_shows_the_choices(skupper_cli, args, choices):
    assert choices in skupper_cli(*args, "--help").stdout


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "skupper")
def test_help_has_plain_metavars(skupper_cli, args):
    out = skupper_cli(*args, "--help")
    assert out.returncode == 0, out.stderr
    # no Python types as metavars: <str>, <int>, <list[str]>, TEXT, INTEGER
    assert not re.search(r"<(str|int|float|bool|list\[\w+\])>|\b(TEXT|INTEGER)\b", out.stdout), out.stdout


def test_namespace_is_named_only_when_not_the_default():
    user = username()
    assert site_messages.not_enabled("default") == f"Skupper is not enabled for user '{user}'"
    assert site_messages.not_enabled("west") == f"Skupper is not enabled for user '{user}' in namespace 'west'"
    assert site_messages.installed("default") == (
        f"Skupper is now installed for user '{user}'.  Use 'skupper status' to get more information.")
    assert site_messages.installed("west") == (f"Skupper is now installed for user '{user}' in namespace 'west'.  "
                                               "Use 'skupper status -n west' to get more information.")
    assert site_messages.already_initialized("default") == f"Skupper has already been initialized for user '{user}'."
    assert site_messages.already_initialized("west") == (
        f"Skupper has already been initialized for user '{user}' in namespace 'west'.")
    assert site_messages.removed("default") == f"Skupper is now removed for user '{user}'."
    assert site_messages.removed("west") == f"Skupper is now removed for user '{user}' in namespace 'west'."
    assert site_messages.not_enabled("west", leftovers=True).splitlines()[1:] == [
        "There are podman resources missing or left from an earlier installation",
        "To clean them up, run: skupper delete -n west"]


def test_version_says_podman_is_unreachable(skupper_cli):
    out = skupper_cli("version", **NO_PODMAN)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["client", "version", lines[0].split()[-1]]
    assert lines[1] == f"{'transport version':<30} unknown: Podman is not reachable"
    assert out.stderr.startswith("Podman endpoint is not available: unix:///nonexistent.sock")
    data = skupper_cli("version", "-o", "json", **NO_PODMAN).stdout
    assert '"error": "Podman endpoint is not available' in data


@pytest.mark.parametrize("shell, marker", [
    ("bash", "_SKUPPER_COMPLETE=complete_bash"), ("zsh", "#compdef skupper"), ("fish", "complete --command skupper")])
def test_completion_scripts(skupper_cli, shell, marker):
    out = skupper_cli("completion", shell)
    assert out.returncode == 0 and marker in out.stdout, out.stderr


def test_completion_answers_from_the_command_tree(skupper_cli):
    words = {"_SKUPPER_COMPLETE": "complete_bash", "SKUPPER_PLATFORM": "podman"}
    assert skupper_cli(**words, COMP_WORDS="skupper li", COMP_CWORD="1").stdout.split() == ["link"]
    assert skupper_cli(**words, COMP_WORDS="skupper link ", COMP_CWORD="2").stdout.split() == ["create", "delete", "status"]
    assert skupper_cli(**words, COMP_WORDS="skupper status --output ", COMP_CWORD="3").stdout.split() == ["text", "json", "yaml"]
