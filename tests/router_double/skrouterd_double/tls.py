"""TLS setup from ``sslProfile`` entities, done per connection like the real router.

The profile's files are read when a connection starts, not when the profile is created: a
profile whose files are missing or unreadable (e.g. a key owned by root, mode 0600, with the
router running as uid 10000) is accepted, and each TLS connection that uses it then fails with
"Cannot set SSL credentials".
"""

from __future__ import annotations

from typing import Any

from proton import SSLDomain, SSLException


class CredentialsError(Exception):
    """The profile's certificate, key or CA file cannot be used."""


def _readable(path: str) -> None:
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise CredentialsError("%s: %s" % (path, exc.strerror)) from None


def _load_credentials(domain: SSLDomain, profile: dict[str, Any]) -> None:
    cert, key = profile.get("certFile"), profile.get("privateKeyFile")
    if cert:
        _readable(cert)
        if key:
            _readable(key)
        try:
            domain.set_credentials(cert, key or cert, profile.get("password"))
        except SSLException as exc:
            raise CredentialsError(str(exc)) from None


def _trust(domain: SSLDomain, ca_file: str) -> None:
    _readable(ca_file)
    try:
        domain.set_trusted_ca_db(ca_file)
    except SSLException as exc:
        raise CredentialsError(str(exc)) from None


def server_domain(profile: dict[str, Any], *, authenticate_peer: bool) -> SSLDomain:
    """Server-side TLS for a listener; with ``authenticate_peer`` a client cert signed by
    the profile's ``caCertFile`` is required."""
    domain = SSLDomain(SSLDomain.MODE_SERVER)
    _load_credentials(domain, profile)
    if not profile.get("certFile"):
        raise CredentialsError("sslProfile %s has no certFile" % profile.get("name"))
    ca_file = profile.get("caCertFile")
    if authenticate_peer:
        if not ca_file:
            raise CredentialsError("sslProfile %s has no caCertFile to verify peers"
                                   % profile.get("name"))
        _trust(domain, ca_file)
        domain.set_peer_authentication(SSLDomain.VERIFY_PEER, ca_file)
    else:
        domain.set_peer_authentication(SSLDomain.ANONYMOUS_PEER)
    return domain


def client_domain(profile: dict[str, Any], *, verify_hostname: bool) -> SSLDomain:
    """Client-side TLS for a connector: present the profile's cert (if any) and verify the
    server against ``caCertFile`` (and its name when ``verify_hostname``)."""
    domain = SSLDomain(SSLDomain.MODE_CLIENT)
    _load_credentials(domain, profile)
    ca_file = profile.get("caCertFile")
    if ca_file:
        _trust(domain, ca_file)
        mode = SSLDomain.VERIFY_PEER_NAME if verify_hostname else SSLDomain.VERIFY_PEER
        domain.set_peer_authentication(mode, ca_file)
    else:
        domain.set_peer_authentication(SSLDomain.ANONYMOUS_PEER)
    return domain
