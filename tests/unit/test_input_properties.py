"""Property-based proof of the error contract: whatever a user feeds a parser (token files, the
site's YAML/JSON files, flag values, ports, hosts, names, costs, durations), nothing but a
one-line SkupperError comes out."""
from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from skupper_podman.cli.site_commands import parse_duration
from skupper_podman.errors import SkupperError
from skupper_podman.links.tokens import parse_token, read_token, site_compatibility_error, verify_token
from skupper_podman.paths import SiteLayout, validate_namespace
from skupper_podman.router.config import RouterConfig
from skupper_podman.router.logging_spec import parse_router_logging
from skupper_podman.services.model import (
    parse_labels,
    parse_port,
    parse_service_args,
    target_port_mapping,
    validate_address,
    validate_host,
)
from skupper_podman.services.store import ServiceStore
from skupper_podman.site.lifecycle import _saved_endpoint
from skupper_podman.site.options import InitOptions
from skupper_podman.validation import (
    check_cost,
    check_duration,
    check_host,
    check_ip,
    check_port,
    check_site_name,
)

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Text a user types or a damaged file holds: any characters, and the ones parsers split on.
TEXT = st.one_of(st.text(), st.text(alphabet=":,=./-+ 0123456789abcxyzE\n\t;@_[]{}'\"\\", max_size=40))
NUMBERS = st.one_of(st.integers(), st.integers(min_value=-(10**30), max_value=10**30),
                    st.floats(allow_nan=True, allow_infinity=True))
FLAG_VALUE = st.one_of(TEXT, NUMBERS, st.booleans(), st.none())
# JSON/YAML-like documents: nested scalars, lists and maps.
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
DOCS = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=20)


def only_skupper_errors(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``call``; a SkupperError is fine (and must be one line), anything else fails."""
    try:
        return call(*args, **kwargs)
    except SkupperError as err:
        assert "\n" not in str(err) and str(err).strip(), repr(str(err))
        return None


def _token_text(doc: Any) -> str:
    return yaml.safe_dump(doc)


TOKEN_DOCS = st.fixed_dictionaries({}, optional={
    "kind": st.one_of(st.just("Secret"), SCALARS),
    "type": SCALARS,
    "metadata": st.one_of(DOCS, st.fixed_dictionaries({}, optional={
        "name": SCALARS, "labels": DOCS, "annotations": DOCS})),
    "data": st.one_of(DOCS, st.dictionaries(st.sampled_from(["ca.crt", "tls.crt", "tls.key", "password"]),
                                            st.one_of(st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()),
                                                      SCALARS))),
})


# -- tokens --------------------------------------------------------------------------------

@SETTINGS
@given(st.one_of(TEXT, TOKEN_DOCS.map(_token_text), DOCS.map(_token_text)))
@example("metadata: {labels: &x {a: *x}}\n")
@example("t: 2001-13-45\n")
@example("[" * 5000)
def test_token_text(text):
    token = only_skupper_errors(parse_token, text, "token.yaml")
    if token is not None:
        only_skupper_errors(verify_token, token)


@SETTINGS
@given(st.binary(max_size=300))
def test_token_file_bytes(tmp_path, data):
    path = tmp_path / "token.yaml"
    path.write_bytes(data)
    only_skupper_errors(read_token, path)


@SETTINGS
@given(TEXT)
def test_site_versions_never_raise(version):
    assert site_compatibility_error(version) in (None, "minimum version required 0.8.0")


# -- the site's files ----------------------------------------------------------------------

def _router_config(data: bytes) -> None:
    config = RouterConfig.parse(data, "skrouterd.json")
    config.router()
    config.metadata()
    config.log_entries()
    config.dumps()


@SETTINGS
@given(st.one_of(st.binary(max_size=200), DOCS.map(lambda d: yaml.safe_dump(d).encode()),
                 st.lists(st.tuples(st.sampled_from(["router", "log", "connector", "x"]), DOCS),
                          max_size=4).map(lambda items: __import__("json").dumps(
                              [[t, a] for t, a in items]).encode())))
@example(b'[["router", {"id": "a", "metadata": 7}]]')
@example(b'[["router", {"id": "a", "metadata": "[1]"}]]')
@example(b'[["log", {"enable": "info+"}]]')
def test_router_config_file(data):
    only_skupper_errors(_router_config, data)


@SETTINGS
@given(st.one_of(st.binary(max_size=200),
                 st.dictionaries(st.text(max_size=8), DOCS, max_size=3).map(
                     lambda d: __import__("json").dumps(d).encode())))
@example(b'{"a": {"ports": ["x"]}}')
@example(b'{"a": {"targets": [{"targetPorts": {"1": "y"}}]}}')
def test_services_file(tmp_path, data):
    path = tmp_path / "skupper-services.json"
    path.write_bytes(data)
    only_skupper_errors(ServiceStore(path).load)


@SETTINGS
@given(st.one_of(st.binary(max_size=200), DOCS.map(lambda d: yaml.safe_dump(d).encode())))
@example(b"endpoint: [1, 2]\n")
@example(b"- endpoint\n")
def test_podman_yaml(tmp_path, data):
    layout = SiteLayout("west", data_dir=tmp_path)
    Path(layout.podman_yaml).write_bytes(data)
    endpoint = only_skupper_errors(_saved_endpoint, layout)
    assert endpoint is None or isinstance(endpoint, str)


# -- flags ---------------------------------------------------------------------------------

@SETTINGS
@given(st.fixed_dictionaries({}, optional={
    "site_name": TEXT, "ingress": st.one_of(st.sampled_from(["", "none", "external"]), TEXT),
    "ingress_hosts": st.lists(TEXT, max_size=3), "ingress_bind_ips": st.lists(TEXT, max_size=3),
    "bind_port": FLAG_VALUE, "bind_port_edge": FLAG_VALUE, "container_network": TEXT,
    "router_logging": TEXT, "router_mode": st.one_of(st.sampled_from(["interior", "edge"]), TEXT),
    "timeout": FLAG_VALUE,
}))
@example({"bind_port": 99999999999999999999})
@example({"ingress": "none", "ingress_hosts": ["a"]})
def test_init_flags(kwargs):
    only_skupper_errors(InitOptions(**kwargs).validate)


@pytest.mark.parametrize("check", [check_host, check_ip, check_site_name, validate_namespace,
                                   parse_router_logging, parse_port, validate_host, validate_address,
                                   parse_duration])
@SETTINGS
@given(value=TEXT)
@example(value="99999999999999999999")
@example(value="9" * 5000)
@example(value="a" * 300)
@example(value="evil;rm -rf /")
@example(value="999.1.1.1")
def test_text_parsers(check, value):
    only_skupper_errors(check, value)


@pytest.mark.parametrize("check", [check_port, check_cost])
@SETTINGS
@given(value=FLAG_VALUE)
@example(value="99999999999999999999")
@example(value=99999999999999999999)
@example(value="9" * 5000)
def test_number_parsers(check, value):
    only_skupper_errors(check, value)


@SETTINGS
@given(value=FLAG_VALUE, allow_zero=st.booleans())
@example(value="-5", allow_zero=True)
@example(value=10**400, allow_zero=True)
def test_durations(value, allow_zero):
    only_skupper_errors(check_duration, value, "--wait", allow_zero)


@SETTINGS
@given(st.lists(TEXT, max_size=4))
def test_list_parsers(items):
    only_skupper_errors(parse_service_args, items)
    only_skupper_errors(parse_labels, items)
    only_skupper_errors(target_port_mapping, [8080, 9090], items)
