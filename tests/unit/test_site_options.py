"""init flag validation, durations and rollback."""
from __future__ import annotations

import pytest

from skupper_podman.cli.site_commands import parse_duration
from skupper_podman.errors import InputError
from skupper_podman.rollback import Rollback
from skupper_podman.site.options import InitOptions, default_site_name


def test_defaults_are_valid():
    assert InitOptions().validate().router_mode == "interior"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"router_mode": "edge"}, "edge mode is not yet allowed"),
    ({"ingress": "route"}, "Invalid value for ingress: route"),
    ({"bind_port": 70000}, "invalid value for --bind-port: 70000"),
    ({"bind_port": 5000, "bind_port_edge": 5000}, "must differ"),
    ({"site_name": "two words"}, "invalid value for --site-name: 'two words'"),
    ({"site_name": "west/east"}, "invalid value for --site-name: 'west/east'"),
    ({"site_name": "-west"}, "invalid value for --site-name"),
    ({"site_name": "w" * 129}, "invalid value for --site-name"),
    ({"ingress_hosts": [""]}, "invalid value for --ingress-host: '' is neither a DNS name nor an IP"),
    ({"ingress_hosts": ["evil;rm -rf /"]}, "invalid value for --ingress-host: 'evil;rm -rf /'"),
    ({"ingress_hosts": ["999.1.1.1"]}, "invalid value for --ingress-host: '999.1.1.1'"),
    ({"ingress_hosts": ["a" * 300]}, "invalid value for --ingress-host: 'aaaa"),
    ({"ingress_hosts": ["a b"]}, "invalid value for --ingress-host: 'a b'"),
    ({"ingress_hosts": ["ok.example", "bad_host"]}, "'bad_host'"),
    ({"ingress": "none", "ingress_hosts": ["west.example"]}, "--ingress-host cannot be used with --ingress none"),
    ({"ingress": "none", "ingress_bind_ips": ["127.0.0.1"]}, "--ingress-bind-ip cannot be used with --ingress none"),
    ({"ingress_bind_ips": ["300.0.0.1"]}, "invalid value for --ingress-bind-ip: '300.0.0.1' is not an IP address"),
    ({"ingress_bind_ips": ["localhost"]}, "invalid value for --ingress-bind-ip: 'localhost'"),
    ({"timeout": -5}, "invalid value for --timeout: -5"),
    ({"timeout": float("nan")}, "invalid value for --timeout: nan"),
    ({"bind_port": 99999999999999999999}, "invalid value for --bind-port: 99999999999999999999"),
    ({"container_network": "a/b"}, "invalid value for --container-network"),
])
def test_bad_values(kwargs, message):
    with pytest.raises(InputError, match=message):
        InitOptions(**kwargs).validate()


@pytest.mark.parametrize("kwargs", [
    {"site_name": "west"}, {"site_name": "host-1.example_x@corp"},
    {"ingress_hosts": ["west.example", "10.0.0.5", "::1", "localhost", "host.containers.internal"]},
    {"ingress_bind_ips": ["127.0.0.1", "::1", ""]},
    {"ingress": "none"},
])
def test_good_values(kwargs):
    InitOptions(**kwargs).validate()


def test_default_site_name_is_a_valid_site_name(monkeypatch):
    monkeypatch.setattr("skupper_podman.site.options.username", lambda: "CORP\\Jane Doe")
    monkeypatch.setattr("socket.gethostname", lambda: "box/1")
    name = default_site_name()
    InitOptions(site_name=name).validate()
    assert name.startswith("box-1-corp-jane-doe-")


def test_default_site_name_shape():
    name = default_site_name()
    assert name.count("-") >= 2 and len(name.rsplit("-", 1)[1]) == 5


@pytest.mark.parametrize(("text", "seconds"), [("120", 120), ("90s", 90), ("2m", 120), ("1m30s", 90), ("1h", 3600)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_rollback_undoes_in_reverse_and_reraises():
    done = []
    with pytest.raises(RuntimeError):
        with Rollback() as undo:
            undo.add(lambda: done.append(1))
            undo.add(lambda: 1 / 0)
            undo.add(lambda: done.append(3))
            raise RuntimeError("boom")
    assert done == [3, 1]
