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


@pytest.mark.parametrize("version, shown", [("", "undefined"), (None, "undefined"), ("0.7", "0.7"),
                                            ("v0.5.x", "v0.5.x"), ("0.0.0-rc1", "0.0.0-rc1")])
def test_versions_1_5_5_refuses(token, version, shown):
    if version is None:
        token.annotations.pop("skupper.io/site-version")
    else:
        token.annotations["skupper.io/site-version"] = version
    with pytest.raises(InputError) as caught:
        verify_version(token)
    assert str(caught.value) == f"minimum version required 0.8.0 - remote site version is {shown}"


@pytest.mark.parametrize("version", ["1.5", "0.8", "garbage", "1", "1.5.5", "2"])
def test_versions_1_5_5_accepts(token, version):
    token.annotations["skupper.io/site-version"] = version
    verify_version(token)


# -- what a token file may be --------------------------------------------------------------

def _refused_file(path) -> str:
    with pytest.raises(InputError) as caught:
        read_token(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    return message


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "token.fifo"
    os.mkfifo(fifo)
    assert "not a regular file" in _refused_file(fifo)


def test_device_and_directory_are_refused(tmp_path):
    assert "not a regular file" in _refused_file("/dev/zero")
    assert "not a regular file" in _refused_file(tmp_path)


def test_large_file_is_refused_before_reading(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MB that costs no disk
    assert "larger than 1048576 bytes" in _refused_file(big)


def test_binary_file_is_refused(tmp_path):
    binary = tmp_path / "token.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    assert "not UTF-8" in _refused_file(binary)


def test_missing_file(tmp_path):
    assert "No such file or directory" in _refused_file(tmp_path / "absent.yaml")


@pytest.mark.parametrize("text", [
    "metadata: {labels: [a, b]}\n",
    "metadata: {annotations: {a: {b: c}}}\n",
    "data: [1, 2]\n",
    "data: {ca.crt: 12}\n",
    "metadata: {name: [x]}\n",
    "metadata: {labels: &x {a: *x}}\n",
    "t: 2001-13-45\n",
    "a: &a [1]\nb: &b [*a, *a, *a]\nmetadata: {labels: {x: *b}}\n",
])
def test_odd_yaml_is_an_invalid_token(text):
    with pytest.raises(InputError, match="invalid Skupper token"):
        parse_token(text)


def test_write_token_replaces_a_symlink_and_keeps_its_target(token, tmp_path):
    target = tmp_path / "precious"
    target.write_text("keep me")
    link = tmp_path / "west.token"
    link.symlink_to(target)
    write_token(token, link)
    assert target.read_text() == "keep me"
    assert not link.is_symlink() and stat.S_IMODE(link.stat().st_mode) == 0o600
    assert read_token(link).name == "skupper"


def test_write_token_onto_a_directory_is_refused(token, tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        write_token(token, tmp_path)
