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
    ({"site_name": "two words"}, "invalid site name"),
])
def test_bad_values(kwargs, message):
    with pytest.raises(InputError, match=message):
        InitOptions(**kwargs).validate()


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
