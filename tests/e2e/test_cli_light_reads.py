"""Read-only commands on a real site load only what they need (the start-up goal of issue #9):
Podman and the router's management agent are asked with the standard library (proton is for the
site controller's long-lived flow connections), and cryptography and Jinja wait for commands that
make keys or render configs."""
from __future__ import annotations

import pytest

from tests.conftest import init_site
from tests.unit.test_cli_startup import imported

NEVER_ON_READS = {"podman", "requests", "urllib3", "rich", "pydantic", "jinja2", "yaml", "proton",
                  "cryptography"}


@pytest.fixture
def light_site(site_env, tmp_path):
    init_site(site_env, site_env.namespace, "light")
    return site_env


@pytest.mark.parametrize("args", [["version"], ["status"], ["link", "status"], ["service", "status"]])
def test_read_only_commands_stay_light(light_site, tmp_path, args):
    env = {k: v for k, v in light_site.env.items() if k in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME",
                                                               "QDROUTERD_IMAGE")}
    names = imported(tmp_path, "--platform", "podman", *args, "-n", light_site.namespace,
                     expect_ok=True, **env)
    assert not names & NEVER_ON_READS
