"""Platform selection and ``switch`` state, as Skupper 1.5 does it."""
from __future__ import annotations

import pytest
import yaml

from skupper_podman.cli import platform
from skupper_podman.errors import PlatformError


@pytest.fixture(autouse=True)
def _data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("SKUPPER_PLATFORM", raising=False)


def test_flag_anywhere_on_the_line_wins():
    assert platform.current(["status", "--platform", "podman"], env={"SKUPPER_PLATFORM": "kubernetes"}) == "podman"
    assert platform.current(["--platform=podman", "status"], env={}) == "podman"
    assert platform.strip_flag(["status", "--platform", "podman", "-v"]) == ["status", "-v"]
    assert platform.strip_flag(["--platform=podman", "init"]) == ["init"]


def test_env_then_file_then_kubernetes(tmp_path):
    assert platform.current([], env={}) == "kubernetes"
    assert platform.current([], env={"SKUPPER_PLATFORM": "podman"}) == "podman"
    platform.switch("podman")
    assert platform.current([], env={}) == "podman"


def test_invalid_platform_is_refused():
    with pytest.raises(PlatformError, match="invalid platform: docker"):
        platform.current(["--platform", "docker"], env={})
    with pytest.raises(PlatformError, match="invalid platform: docker"):
        platform.switch("docker")


def test_switch_records_previous_and_dash_goes_back(tmp_path):
    assert platform.switch(None) == "kubernetes"
    assert platform.switch("podman") == "podman"
    state = yaml.safe_load((tmp_path / "skupper/platform.yaml").read_text())
    assert state == {"current": "podman", "previous": "kubernetes"}
    assert platform.switch("-") == "kubernetes"
    assert platform.switch("-") == "podman"
