"""TLS for the byte streams of tcp/http listeners and connectors (Python ``ssl`` contexts).

Built from the ``sslProfile`` when each connection starts, as the real router does, so
unreadable or broken files fail that connection only (``tls.CredentialsError``).
"""

from __future__ import annotations

import ssl
from typing import Any

from .tls import CredentialsError


def _load(action: str, load: Any, *args: Any) -> None:
    try:
        load(*args)
    except (OSError, ssl.SSLError) as exc:
        raise CredentialsError("cannot load %s %s: %s" % (action, args[0], exc)) from None


def listener_context(profile: dict[str, Any], *, authenticate_peer: bool) -> ssl.SSLContext:
    """Server side towards clients: the profile's certificate and key; with
    ``authenticate_peer`` a client certificate signed by ``caCertFile`` is required."""
    if not profile.get("certFile"):
        raise CredentialsError("sslProfile %s has no certFile" % profile.get("name"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _load("certificate", context.load_cert_chain, profile["certFile"],
          profile.get("privateKeyFile") or profile["certFile"], profile.get("password"))
    if authenticate_peer:
        if not profile.get("caCertFile"):
            raise CredentialsError("sslProfile %s has no caCertFile to verify peers" % profile.get("name"))
        _load("CA", context.load_verify_locations, profile["caCertFile"])
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def connector_context(profile: dict[str, Any], *, verify_hostname: bool) -> ssl.SSLContext:
    """Client side towards targets: verify the server against ``caCertFile`` (the system's
    CAs without one) and its name when ``verify_hostname``; present the profile's
    certificate when it has one."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = verify_hostname
    if profile.get("caCertFile"):
        _load("CA", context.load_verify_locations, profile["caCertFile"])
    else:
        context.load_default_certs()
    if profile.get("certFile"):
        _load("certificate", context.load_cert_chain, profile["certFile"],
              profile.get("privateKeyFile") or profile["certFile"], profile.get("password"))
    return context
