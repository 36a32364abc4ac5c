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
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from skupper_podman._util import atomic_write, read_small_text
from skupper_podman.errors import InputError
from skupper_podman.versions import MINIMUM_REMOTE_VERSION, SKUPPER_COMPAT_VERSION

TYPE_LABEL = "skupper.io/type"
CONNECTION_TOKEN = "connection-token"
TOKEN_CLAIM = "token-claim"
GENERATED_BY = "skupper.io/generated-by"
SITE_VERSION = "skupper.io/site-version"
COST = "skupper.io/cost"
CLAIM_URL = "skupper.io/url"
REQUIRED_CERT_KEYS = ("tls.key", "tls.crt", "ca.crt")
# A token is a few kilobytes of YAML; anything larger is not one, and is refused before reading.
MAX_TOKEN_BYTES = 1 << 20

if TYPE_CHECKING:  # cryptography is loaded by the commands that make or check tokens
    from skupper_podman import pki


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
        import yaml

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
    from skupper_podman import pki

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
    """Write the token file readable by its owner only (it grants access to the network).

    The file is replaced atomically: a symlink at ``path`` is replaced, never followed.
    """
    return atomic_write(path, token.to_yaml(), mode=0o600, what="token file")


def _string_map(value: object, what: str, source: str) -> dict[str, str]:
    """Labels or annotations: a mapping of scalars (anything else is no Secret's metadata)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
            isinstance(v, (str, int, float, bool)) or v is None for v in value.values()):
        raise InputError(f"invalid Skupper token in {source}: its {what} are not a map of strings")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def parse_token(text: str, source: str = "token") -> Token:
    """Decode a token Secret; a one-line InputError for anything that is not one."""
    import yaml

    try:
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml when present
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError):
        raise InputError(f"invalid Skupper token in {source}: not YAML") from None
    if not isinstance(doc, dict) or doc.get("kind", "Secret") != "Secret":
        raise InputError(f"invalid Skupper token in {source}: not a Secret")
    meta = doc.get("metadata") or {}
    raw_data = doc.get("data") or {}
    if not isinstance(meta, dict) or not isinstance(raw_data, dict):
        raise InputError(f"invalid Skupper token in {source}: bad metadata or data")
    data: dict[str, bytes] = {}
    for key, value in raw_data.items():
        try:
            if not isinstance(value, str):
                raise ValueError(key)
            data[str(key)] = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise InputError(f"invalid Skupper token in {source}: {str(key)[:60]} is not base64") from None
    name, secret_type = meta.get("name"), doc.get("type")
    if not isinstance(name, (str, type(None))) or not isinstance(secret_type, (str, type(None))):
        raise InputError(f"invalid Skupper token in {source}: its name and type must be strings")
    return Token(
        name=name or "",
        labels=_string_map(meta.get("labels"), "labels", source),
        annotations=_string_map(meta.get("annotations"), "annotations", source),
        data=data,
        secret_type=secret_type,
    )


def read_token(path: str | os.PathLike[str]) -> Token:
    """Read and decode a token file; only a regular UTF-8 file up to 1 MiB is read at all."""
    text = read_small_text(path, MAX_TOKEN_BYTES, what="token file")
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
    from skupper_podman.links.credential_check import CredentialRefused, check_client_credential

    try:
        check_client_credential(token.data["tls.crt"], token.data["tls.key"], token.data["ca.crt"])
    except CredentialRefused as err:
        raise InputError(f"invalid Skupper token: {err}") from None


def verify_origin(token: Token, own_site_id: str, linked_origins: dict[str, str]) -> None:
    """Not a token to ourselves, nor a second link to the same site (1.5 messages)."""
    if not token.origin:
        raise InputError("Can't find secret origin.")
    if token.origin == own_site_id:
        raise InputError("Can't create connection to self with token")
    if token.origin in linked_origins.values():
        raise InputError(f'Already connected to "{token.origin}".')


_GO_VERSION = re.compile(r"v?(\d+)[.+-](\d+)?(\.(\d+))?\W?(.+)?", re.ASCII)
_GO_INT_MAX = 2**63 - 1


def site_version(text: str) -> tuple[int, int, int, str]:
    """``(major, minor, patch, qualifier)`` as Skupper 1.5.5 reads a site version: ``1.5`` is
    1.5.0, ``0.7.x`` is 0.7.0 with qualifier ``x``, anything it cannot read is 0.0.0."""
    match = _GO_VERSION.match(text)
    if match is None:
        return 0, 0, 0, ""

    def number(group: str | None) -> int:
        return min(int(group), _GO_INT_MAX) if group else 0

    return number(match.group(1)), number(match.group(2)), number(match.group(4)), match.group(5) or ""


def site_compatibility_error(remote: str, local: str = SKUPPER_COMPAT_VERSION,
                             minimum: str = MINIMUM_REMOTE_VERSION) -> str | None:
    """1.5.5's site compatibility rule: a remote site older than ``local`` must be at least
    ``minimum`` (0.8.0), an empty version counts as older than that, and an unreadable one is
    accepted. Returns the error text (``minimum version required 0.8.0``) or None."""
    theirs, ours = site_version(remote), site_version(local)
    if theirs[:3] >= ours[:3]:
        return None
    undefined = theirs == (0, 0, 0, "")
    if remote and (undefined or theirs[:3] >= site_version(minimum)[:3]):
        return None
    return f"minimum version required {minimum}"


def verify_version(token: Token) -> None:
    """Refuse a token from a site 1.5.5 would not link to (missing, empty or too old a version)."""
    remote = token.annotations.get(SITE_VERSION, "")
    error = site_compatibility_error(remote)
    if error is not None:
        raise InputError(f"{error} - remote site version is {remote or 'undefined'}")
