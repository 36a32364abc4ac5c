"""A small HTTPS claims server for tests: the claim verifier of a Skupper 1.5 Kubernetes site.

It keeps claim records (password, expiry, uses remaining) and answers ``POST /<claim>`` the way
Skupper 1.5.5's claim verifier does (``pkg/kube/claims/claim_verifier.go``), in its order:

- 405 ``Only POST is supported`` for any other method;
- 400 ``minimum version required 0.8.0`` for a ``site-version`` older than the server's and
  missing, empty or below 0.8.0 (an unreadable non-empty one is accepted, ``1.5`` is 1.5.0);
- 404 ``No such claim`` for an unknown or expired claim;
- 403 ``Claim refused`` for a wrong password, checked before the remaining uses;
- 404 ``No such claim`` for a claim with no use left;
- 200 with a cert-token YAML otherwise (one use is consumed).

As 1.5.5 creates claim records, ``expiry`` 0 means the claim never expires and ``uses`` 0 that
it can be used any number of times.

Every request is recorded (method, path, query, headers, body) for tests to assert on.
"""
from __future__ import annotations

import datetime
import secrets
import socket
import ssl
import string
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import parse_qs, urlsplit

from skupper_podman import pki
from skupper_podman.links.tokens import (
    CLAIM_URL,
    GENERATED_BY,
    SITE_VERSION,
    TOKEN_CLAIM,
    TYPE_LABEL,
    Token,
    cert_token,
    site_compatibility_error,
    write_token,
)
from skupper_podman.versions import MINIMUM_REMOTE_VERSION, SKUPPER_COMPAT_VERSION

SITE_NAME_HEADER = "skupper-site-name"
DEFAULT_EXPIRY = datetime.timedelta(minutes=15)
_PASSWORD_ALPHABET = string.ascii_letters + string.digits

# (subject, claim name) -> the cert-token YAML the server answers a valid claim with.
Issuer = Callable[[str, str], str]


def new_password(length: int = 24) -> str:
    """A password like 1.5's: random alphanumerics."""
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


@dataclass
class ClaimRecord:
    """The issuer's record of one claim (1.5 keeps it in a ``token-claim-record`` Secret)."""

    password: str
    expires: datetime.datetime | None  # None: never
    remaining: int | None  # None: no limit
    made: int = 0

    def expired(self) -> bool:
        return self.expires is not None and self.expires < datetime.datetime.now(datetime.UTC)


@dataclass
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # keys lower-case
    body: bytes


@dataclass
class ClaimsServer:
    """A threaded HTTPS claim verifier; use as a context manager (or ``start``/``stop``).

    ``site_ca`` is the CA of the fake Kubernetes site; the default issuer answers a valid claim
    with a cert token from it (subject = the ``skupper-site-name`` header, else the claim
    name) pointing at ``link_host``:``link_port``/``edge_port``. Pass ``issuer`` to answer with
    other content. The server's own certificate comes from ``tls_ca`` for ``tls_hosts``.
    """

    bind: str = "127.0.0.1"
    tls_hosts: tuple[str, ...] = ("127.0.0.1",)
    site_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    site_version: str = SKUPPER_COMPAT_VERSION
    link_host: str = "kube.example"
    link_port: int = 55671
    edge_port: int = 45671
    issuer: Issuer | None = None
    tls_ca: pki.Credential = field(default_factory=lambda: pki.new_ca("skupper-site-ca"))
    site_ca: pki.Credential | None = None
    minimum_site_version: str = MINIMUM_REMOTE_VERSION
    accepted_methods: frozenset[str] = frozenset({"POST"})
    records: dict[str, ClaimRecord] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.site_ca is None:
            self.site_ca = self.tls_ca
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Self:
        """Listen on ``bind`` at a free port and serve in a background thread."""
        context = _server_context(pki.issue(self.tls_ca, "skupper-claims", self.tls_hosts))
        self._httpd = _TLSServer((self.bind, 0), _handler_for(self), context)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="claims-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the claims server is not running")
        return self._httpd.server_address[1]

    # -- claims ----------------------------------------------------------------------------
    def add_claim(self, name: str | None = None, password: str | None = None,
                  expiry: datetime.timedelta = DEFAULT_EXPIRY, uses: int = 1) -> str:
        """Record a claim (defaults as 1.5's ``token create``: UUID name, 15m, 1 use); as 1.5
        does, an expiry of 0 (or less) never expires and 0 uses (or less) is no limit."""
        claim = name or str(uuid.uuid4())
        expires = datetime.datetime.now(datetime.UTC) + expiry if expiry > datetime.timedelta(0) else None
        with self._lock:
            self.records[claim] = ClaimRecord(password or new_password(), expires, uses if uses > 0 else None)
        return claim

    def expire(self, claim: str) -> str:
        """Make the recorded ``claim`` expired (a second ago); returns its name."""
        with self._lock:
            self.records[claim].expires = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
        return claim

    def claim_token(self, name: str, url_host: str | None = None, password: str | None = None) -> Token:
        """The claim token for ``name``: the recorded password unless ``password`` is given
        (an unrecorded claim gets a random one)."""
        host = url_host or self.tls_hosts[0]
        if password is None:
            record = self.records.get(name)
            password = record.password if record is not None else new_password()
        return Token(
            name=name,
            labels={TYPE_LABEL: TOKEN_CLAIM},
            annotations={
                CLAIM_URL: f"https://{host}:{self.port}/{name}",
                GENERATED_BY: self.site_id,
                SITE_VERSION: self.site_version,
            },
            data={
                "ca.crt": self.tls_ca.cert_pem or b"",
                "password": password.encode(),
            },
        )

    def write_claim(self, path: str | Path, name: str, url_host: str | None = None,
                    password: str | None = None) -> Path:
        """Write the claim token file a Kubernetes site's ``token create`` would write."""
        return write_token(self.claim_token(name, url_host, password), path)

    # -- answering -------------------------------------------------------------------------
    def answer(self, request: RecordedRequest) -> tuple[int, str, str]:
        """Status, content type and body for a request (the verifier's rules, in its order)."""
        with self._lock:
            self.requests.append(request)
        if request.method not in self.accepted_methods:
            return _text(405, "Only POST is supported")
        version = (request.query.get("site-version") or [""])[0]
        refusal = site_compatibility_error(version, self.site_version, self.minimum_site_version)
        if refusal is not None:
            return _text(400, refusal)
        claim = request.path.replace("/", "")
        subject = request.headers.get(SITE_NAME_HEADER) or claim
        with self._lock:
            record = self.records.get(claim)
            if record is None or record.expired():
                return _text(404, "No such claim")
            if request.body != record.password.encode():
                return _text(403, "Claim refused")
            if record.remaining is not None:
                if record.remaining == 0:
                    return _text(404, "No such claim")
                record.remaining -= 1
            record.made += 1
        return 200, "application/yaml", self._issue(subject, claim)

    def _issue(self, subject: str, claim: str) -> str:
        if self.issuer is not None:
            return self.issuer(subject, claim)
        assert self.site_ca is not None
        return cert_token(subject, self.site_ca, self.site_id, self.link_host, self.link_port,
                          self.edge_port).to_yaml()


def _text(status: int, message: str) -> tuple[int, str, str]:
    # Go's http.Error: text/plain and a trailing newline.
    return status, "text/plain; charset=utf-8", message + "\n"


class _TLSServer(ThreadingHTTPServer):
    """Handshakes in the request thread, so a client that drops the handshake blocks nothing."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 context: ssl.SSLContext) -> None:
        self.context = context
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, tuple]:
        sock, addr = super().get_request()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address) -> None:
        # TLS failures (a client that does not trust us, a hostname mismatch) are expected in tests.
        pass


def _server_context(credential: pki.Credential) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory(prefix="claims-tls-") as folder:
        pki.write_credential(folder, credential)
        context.load_cert_chain(Path(folder) / pki.CERT_FILE, Path(folder) / pki.KEY_FILE)
    return context


def _handler_for(server: ClaimsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = RecordedRequest(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            status, content_type, body = server.answer(request)
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
