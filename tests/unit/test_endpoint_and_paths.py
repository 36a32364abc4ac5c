"""Endpoint resolution and the names of a site's resources."""
from __future__ import annotations

import pytest

from skupper_podman.errors import InputError
from skupper_podman.paths import SiteLayout
from skupper_podman.podman.endpoint import default_socket, normalize, resolve


def test_precedence_flag_saved_env_default():
    env = {"PODMAN_ENDPOINT": "/env.sock", "CONTAINER_HOST": "unix:///ch.sock"}
    assert resolve("/flag.sock", "/saved.sock", env).url == "unix:///flag.sock"
    assert resolve(None, "/saved.sock", env).url == "unix:///saved.sock"
    assert resolve(None, None, env).url == "unix:///env.sock"
    assert resolve(None, None, {"CONTAINER_HOST": "unix:///ch.sock"}).url == "unix:///ch.sock"
    assert resolve(None, None, {}).url == "unix://" + default_socket()


def test_root_uses_the_rootful_socket(monkeypatch):
    monkeypatch.setattr("skupper_podman.podman.endpoint.is_root", lambda: True)
    assert default_socket() == "/run/podman/podman.sock"


def test_tcp_endpoints_and_local_addresses():
    assert normalize("tcp://podman.example:8888") == "http://podman.example:8888"
    assert normalize("podman.example:8888") == "http://podman.example:8888"
    with pytest.raises(InputError, match="local addresses cannot be used, got: 127.0.0.1"):
        normalize("tcp://127.0.0.1:8888")
    with pytest.raises(InputError, match="invalid endpoint: ftp://x"):
        normalize("ftp://x")


def test_default_namespace_uses_the_1_5_names(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    layout = SiteLayout()
    assert (layout.network, layout.router_container, layout.name("skupper-site-ca")) == (
        "skupper", "skupper-router", "skupper-site-ca")
    assert layout.data_dir == tmp_path / "skupper"
    assert layout.unit_name == "skupper-podman.service"


def test_named_namespace_prefixes_everything(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    layout = SiteLayout("west")
    assert (layout.network, layout.router_container) == ("west-skupper", "west-skupper-router")
    assert layout.data_dir == tmp_path / "skupper/namespaces/west"
    assert layout.labels == {"application": "skupper", "skupper-podman.io/namespace": "west"}
    assert layout.unit_name == "skupper-podman-west.service"


@pytest.mark.parametrize("bad", ["West", "-x", "a_b", "x" * 40, ""])
def test_bad_namespace_names(bad):
    with pytest.raises(InputError, match="invalid namespace"):
        SiteLayout(bad)
