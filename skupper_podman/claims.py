"""Redeeming claim tokens (issued by Skupper 1.5 Kubernetes sites) for cert tokens."""
from __future__ import annotations

import http.client
import ssl
from urllib.parse import urlencode, urlparse

from .errors import InputError
from .tokens import CLAIM_URL, CONNECTION_TOKEN, TYPE_LABEL, Token, parse_token
from .versions import SKUPPER_COMPAT_VERSION

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
    url = claim.annotations[CLAIM_URL]
    parsed = urlparse(url)
    if parsed.scheme != "https" or not parsed.hostname:
        raise InputError(f'Error processing claim "{claim.name}": unsupported claim URL {url}')
    path = (parsed.path or "/") + "?" + urlencode({"site-version": SKUPPER_COMPAT_VERSION})
    try:
        conn = http.client.HTTPSConnection(
            parsed.hostname, parsed.port or 443, timeout=timeout, context=_context(claim.data.get("ca.crt", b""))
        )
        conn.request("POST", path, body=claim.data["password"],
                     headers={"skupper-site-name": site_id, "Content-Type": "text/plain"})
        response = conn.getresponse()
        body = response.read().decode(errors="replace")
        conn.close()
    except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as err:
        raise InputError(f'Error processing claim "{claim.name}": {" ".join(str(err).split())}') from err
    if response.status != 200:
        reason = " ".join(body.split()) or response.reason
        raise InputError(f'Error processing claim "{claim.name}": {response.status} {reason}')
    issued = parse_token(body, f"the answer to claim {claim.name}")
    merged = Token(
        name=claim.name,
        labels={**claim.labels, **issued.labels, TYPE_LABEL: CONNECTION_TOKEN},
        annotations={**claim.annotations, **issued.annotations},
        data=issued.data,
        secret_type=issued.secret_type,
    )
    return merged


