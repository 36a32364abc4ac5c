"""Token format (1.5 Secret YAML) and the checks ``link create`` makes before touching anything."""
from __future__ import annotations

import base64
import os
import stat

import pytest
import yaml

from skupper_podman import pki
from skupper_podman.errors import InputError
from skupper_podman.links.tokens import (
    cert_token,
    parse_token,
    read_token,
    verify_origin,
    verify_token,
    verify_version,
    write_token,
)


@pytest.fixture(scope="module")
def site_ca():
    return pki.new_ca("skupper-site-ca")


@pytest.fixture
def token(site_ca):
    return cert_token("skupper", site_ca, "site-uuid-1", "west.example", 55671, 45671)


def test_cert_token_yaml_is_the_1_5_secret(token, site_ca, tmp_path):
    path = write_token(token, tmp_path / "t.yaml")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    doc = yaml.safe_load(path.read_text())
    assert list(doc) == ["apiVersion", "data", "kind", "metadata", "type"]
    assert doc["kind"] == "Secret" and doc["type"] == "kubernetes.io/tls"
    assert doc["metadata"]["labels"] == {"skupper.io/type": "connection-token"}
    assert doc["metadata"]["annotations"] == {
        "edge-host": "west.example", "edge-port": "45671",
        "inter-router-host": "west.example", "inter-router-port": "55671",
        "skupper.io/generated-by": "site-uuid-1", "skupper.io/site-version": "1.5.5",
    }
    assert doc["metadata"]["creationTimestamp"] is None
    ca = base64.b64decode(doc["data"]["ca.crt"])
    cert = base64.b64decode(doc["data"]["tls.crt"])
    assert ca == site_ca.cert_pem and pki.issued_by(cert, ca)
    assert pki.common_name(cert) == "skupper"
    assert b"RSA PRIVATE KEY" in base64.b64decode(doc["data"]["tls.key"])
    again = read_token(path)
    verify_token(again)
    assert again.endpoint() == ("west.example", "55671")


@pytest.mark.parametrize("text", ["", "   \n", "{[}", "- a\n- b\n", "kind: ConfigMap\n"])
def test_not_a_token(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match="invalid Skupper token"):
        read_token(path)


def test_missing_keys_and_labels(token):
    for key in ("tls.key", "tls.crt", "ca.crt"):
        broken = parse_token(token.to_yaml())
        del broken.data[key]
        with pytest.raises(InputError, match=f"Expected {key} field in secret data"):
            verify_token(broken)
    unlabeled = parse_token(token.to_yaml())
    unlabeled.labels = {}
    with pytest.raises(InputError, match="invalid Skupper token"):
        verify_token(unlabeled)
    untyped = parse_token(token.to_yaml())
    untyped.labels = {"x": "y"}
    with pytest.raises(InputError, match="unable to determine token type"):
        verify_token(untyped)
    other = parse_token(token.to_yaml())
    other.labels = {"skupper.io/type": "something"}
    with pytest.raises(InputError, match="Secret is not a valid skupper token"):
        verify_token(other)


def test_wrong_ca_and_foreign_cert_are_refused(token):
    wrong_ca = parse_token(token.to_yaml())
    wrong_ca.data["ca.crt"] = pki.new_ca("other-ca").cert_pem
    with pytest.raises(InputError, match="not issued by its CA"):
        verify_token(wrong_ca)
    other = cert_token("skupper", pki.new_ca("skupper-site-ca"), "site-2", "east", 1, 2)
    mixed = parse_token(token.to_yaml())
    mixed.data["tls.key"] = other.data["tls.key"]
    with pytest.raises(InputError, match="key does not match"):
        verify_token(mixed)


def test_origin_checks(token):
    with pytest.raises(InputError, match="Can't create connection to self with token"):
        verify_origin(token, "site-uuid-1", {})
    with pytest.raises(InputError, match='Already connected to "site-uuid-1".'):
        verify_origin(token, "me", {"link1": "site-uuid-1"})
    token.annotations.pop("skupper.io/generated-by")
    with pytest.raises(InputError, match="Can't find secret origin."):
        verify_origin(token, "me", {})


def test_old_remote_versions(token):
    token.annotations["skupper.io/site-version"] = "0.7.9"
    with pytest.raises(InputError, match="minimum version required 0.8.0 - remote site version is 0.7.9"):
        verify_version(token)
    token.annotations["skupper.io/site-version"] = "0.8.0"
    verify_version(token)
    token.annotations["skupper.io/site-version"] = "1.6.0"
    verify_version(token)
