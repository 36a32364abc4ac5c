"""Connection tokens in Skupper 1.5's format: a Kubernetes Secret in YAML.

A *cert token* carries ``ca.crt`` (the issuing site's CA), ``tls.crt``/``tls.key`` (a client
certificate issued by that CA) and the host/port annotations of the issuing site. A *claim
token* (issued only by Kubernetes sites) carries a ``password`` and a ``skupper.io/url`` to
redeem for a cert token.
"""
from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from skupper_podman import pki
from skupper_podman.errors import InputError
from skupper_podman.versions import MINIMUM_REMOTE_VERSION, SKUPPER_COMPAT_VERSION, parse_version

TYPE_LABEL = "skupper.io/type"
CONNECTION_TOKEN = "connection-token"
TOKEN_CLAIM = "token-claim"
GENERATED_BY = "skupper.io/generated-by"
SITE_VERSION = "skupper.io/site-version"
COST = "skupper.io/cost"
CLAIM_URL = "skupper.io/url"
REQUIRED_CERT_KEYS = ("tls.key", "tls.crt", "ca.crt")


@dataclass
class Token:
    """A decoded token Secret: name, labels, annotations and binary data."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    data: dict[str, bytes] = field(default_factory=dict)
    secret_type: str | None = None

    @property
    def kind(self) -> str:
        return self.labels.get(TYPE_LABEL, "")

    @property
    def origin(self) -> str:
        return self.annotations.get(GENERATED_BY, "")

    def endpoint(self, edge: bool = False) -> tuple[str, str]:
        prefix = "edge" if edge else "inter-router"
        return self.annotations.get(f"{prefix}-host", ""), self.annotations.get(f"{prefix}-port", "")

    def to_yaml(self) -> str:
        """The Secret as the apimachinery serializer writes it (keys sorted)."""
        doc: dict = {
            "apiVersion": "v1",
            "data": {k: base64.b64encode(v).decode() for k, v in sorted(self.data.items())},
            "kind": "Secret",
            "metadata": {
                "annotations": dict(sorted(self.annotations.items())),
                "creationTimestamp": None,
                "labels": dict(sorted(self.labels.items())),
                "name": self.name,
            },
        }
        if self.secret_type:
            doc["type"] = self.secret_type
        return yaml.safe_dump(doc, sort_keys=True, default_flow_style=False)

    def metadata_json(self) -> dict:
        return {"name": self.name, "creationTimestamp": None, "labels": self.labels,
                "annotations": self.annotations}


def cert_token(name: str, site_ca: pki.Credential, site_id: str, host: str,
               inter_router_port: int, edge_port: int) -> Token:
    """A new cert token: a client certificate ``CN=<name>`` issued by the site CA."""
    client = pki.issue(site_ca, name, [host])
    return Token(
        name=name,
        labels={TYPE_LABEL: CONNECTION_TOKEN},
        annotations={
            "edge-host": host,
            "edge-port": str(edge_port),
            "inter-router-host": host,
            "inter-router-port": str(inter_router_port),
            GENERATED_BY: site_id,
            SITE_VERSION: SKUPPER_COMPAT_VERSION,
        },
        data={"ca.crt": site_ca.cert_pem or b"", "tls.crt": client.cert_pem or b"", "tls.key": client.key_pem or b""},
        secret_type="kubernetes.io/tls",
    )


def write_token(token: Token, path: str | os.PathLike[str]) -> Path:
    """Write the token file readable by its owner only (it grants access to the network)."""
    target = Path(path)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token.to_yaml())
    except OSError as err:
        raise InputError(f"cannot write token file {target}: {err.strerror or err}") from err
    return target


def parse_token(text: str, source: str = "token") -> Token:
    """Decode a token Secret; a one-line InputError for anything that is not one."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise InputError(f"invalid Skupper token in {source}: not YAML") from err
    if not isinstance(doc, dict) or doc.get("kind", "Secret") != "Secret":
        raise InputError(f"invalid Skupper token in {source}: not a Secret")
    meta = doc.get("metadata") or {}
    if not isinstance(meta, dict):
        raise InputError(f"invalid Skupper token in {source}: bad metadata")
    data: dict[str, bytes] = {}
    for key, value in (doc.get("data") or {}).items():
        try:
            data[str(key)] = base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError) as err:
            raise InputError(f"invalid Skupper token in {source}: {key} is not base64") from err
    return Token(
        name=str(meta.get("name") or ""),
        labels={str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
        annotations={str(k): str(v) for k, v in (meta.get("annotations") or {}).items()},
        data=data,
        secret_type=doc.get("type"),
    )


def read_token(path: str | os.PathLike[str]) -> Token:
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise InputError(f"cannot read token file {path}: {err.strerror or err}") from err
    if not text.strip():
        raise InputError(f"invalid Skupper token in {path}: the file is empty")
    return parse_token(text, str(path))


def verify_token(token: Token) -> None:
    """Skupper 1.5's ``VerifyToken`` plus a consistency check of the certificate chain."""
    if not token.labels:
        raise InputError("invalid Skupper token")
    if TYPE_LABEL not in token.labels:
        raise InputError("unable to determine token type")
    if token.kind == CONNECTION_TOKEN:
        for key in REQUIRED_CERT_KEYS:
            if key not in token.data:
                raise InputError(f"Expected {key} field in secret data")
        _verify_chain(token)
    elif token.kind == TOKEN_CLAIM:
        if "password" not in token.data:
            raise InputError("Expected password field in secret data")
        if CLAIM_URL not in token.annotations:
            raise InputError(f"Expected {CLAIM_URL} annotation in token")
    else:
        raise InputError("Secret is not a valid skupper token")


def _verify_chain(token: Token) -> None:
    try:
        cert, key, ca = token.data["tls.crt"], token.data["tls.key"], token.data["ca.crt"]
        if not pki.issued_by(cert, ca):
            raise InputError("invalid Skupper token: its certificate was not issued by its CA")
        if not pki.key_matches(cert, key):
            raise InputError("invalid Skupper token: its key does not match its certificate")
    except ValueError as err:
        raise InputError(f"invalid Skupper token: unreadable certificate data ({err})") from err


def verify_origin(token: Token, own_site_id: str, linked_origins: dict[str, str]) -> None:
    """Not a token to ourselves, nor a second link to the same site (1.5 messages)."""
    if not token.origin:
        raise InputError("Can't find secret origin.")
    if token.origin == own_site_id:
        raise InputError("Can't create connection to self with token")
    if token.origin in linked_origins.values():
        raise InputError(f'Already connected to "{token.origin}".')


def verify_version(token: Token) -> None:
    """A remote site older than us must be at least 0.8.0."""
    remote = token.annotations.get(SITE_VERSION, "")
    parsed, ours = parse_version(remote), parse_version(SKUPPER_COMPAT_VERSION)
    if parsed is None or ours is None or parsed >= ours:
        return
    if parsed < parse_version(MINIMUM_REMOTE_VERSION):  # type: ignore[operator]
        raise InputError(f"minimum version required {MINIMUM_REMOTE_VERSION} - remote site version is {remote}")
