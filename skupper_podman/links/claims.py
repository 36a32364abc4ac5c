"""Redeeming claim tokens (issued by Skupper 1.5 Kubernetes sites) for cert tokens."""
from __future__ import annotations

import http.client
import ssl
from urllib.parse import urlencode, urlparse

from skupper_podman.errors import InputError
from skupper_podman._util import one_line
from skupper_podman.links.tokens import (
    CLAIM_URL,
    CONNECTION_TOKEN,
    MAX_TOKEN_BYTES,
    TYPE_LABEL,
    Token,
    parse_token,
)
from skupper_podman.versions import SKUPPER_COMPAT_VERSION

REDEEM_TIMEOUT = 30.0


def _context(ca_pem: bytes) -> ssl.SSLContext:
    """Trust only the claim's own CA certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=ca_pem.decode())
    return ctx


def redeem(claim: Token, site_id: str, timeout: float = REDEEM_TIMEOUT) -> Token:
    """POST the claim's password to its URL; return the cert token merged as 1.5 does.

    Any answer but 200 raises a one-line InputError, so the caller creates no link.
    """
    url = claim.annotations.get(CLAIM_URL, "")
    try:
        parsed = urlparse(url)
        scheme, host, port = parsed.scheme, parsed.hostname, parsed.port or 443
    except ValueError:
        scheme, host, port = "", None, None
    if scheme != "https" or not host or not port:
        raise InputError(f'Error processing claim "{claim.name}": unsupported claim URL {url[:200]}')
    if "password" not in claim.data:
        raise InputError(f'Error processing claim "{claim.name}": the claim has no password')
    ca_pem = claim.data.get("ca.crt", b"")
    if not ca_pem.strip():
        raise InputError(f'Error processing claim "{claim.name}": the claim has no ca.crt to verify its server with')
    path = (parsed.path or "/") + "?" + urlencode({"site-version": SKUPPER_COMPAT_VERSION})
    conn: http.client.HTTPSConnection | None = None
    try:
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=_context(ca_pem))
        conn.request("POST", path, body=claim.data["password"],
                     headers={"skupper-site-name": site_id, "Content-Type": "text/plain"})
        response = conn.getresponse()
        body = response.read(MAX_TOKEN_BYTES + 1).decode(errors="replace")
    except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as err:
        raise InputError(f'Error processing claim "{claim.name}": {one_line(err)}') from err
    finally:
        if conn is not None:
            conn.close()
    if response.status == 200 and len(body) > MAX_TOKEN_BYTES:
        raise InputError(f'Error processing claim "{claim.name}": the answer is larger than a token')
    if response.status != 200:
        reason = one_line(body)[:200] or response.reason
        raise InputError(f'Error processing claim "{claim.name}": {response.status} {reason}')
    try:
        issued = parse_token(body, "the answer")
    except InputError as err:
        raise InputError(f'Error processing claim "{claim.name}": {err}') from err
    merged = Token(
        name=claim.name,
        labels={**claim.labels, **issued.labels, TYPE_LABEL: CONNECTION_TOKEN},
        annotations={**claim.annotations, **issued.annotations},
        data=issued.data,
        secret_type=issued.secret_type,
    )
    return merged
