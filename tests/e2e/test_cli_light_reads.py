"""Read-only commands on a real site load only what they need (the start-up goal of issue #9):
Podman is read with the standard library, cryptography and Jinja wait for commands that make keys
or render configs, and only the commands that ask the router load proton."""
from __future__ import annotations

import pytest

from tests.conftest import init_site
from tests.unit.test_cli_startup import imported

NEVER_ON_READS = {"podman", "requests", "urllib3", "rich", "pydantic", "jinja2", "yaml"}


@pytest.fixture
def light_site(site_env, tmp_path):
    init_site(site_env, site_env.namespace, "light")
    return site_env


@pytest.mark.parametrize("args, may_load", [
    (["version"], set()),
    (["status"], {"proton"}),
    (["link", "status"], {"proton"}),
    (["service", "status"], {"proton"}),
])
def test_read_only_commands_stay_light(light_site, tmp_path, args, may_load):
    env = {k: v for k, v in light_site.env.items() if k in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME",
                                                               "QDROUTERD_IMAGE")}
    names = imported(tmp_path, "--platform", "podman", *args, "-n", light_site.namespace,
                     expect_ok=True, **env)
    assert names & (NEVER_ON_READS | {"proton", "cryptography"}) <= may_load
