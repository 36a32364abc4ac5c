"""Router config snippets shaped like the ones Skupper 1.5 writes (``[type, attrs]`` pairs)."""

from __future__ import annotations

from typing import Any

from routers import CONFIG_DIR

Entity = list[Any]


def router(router_id: str, mode: str = "interior", **extra: Any) -> Entity:
    return ["router", {"id": router_id, "mode": mode, "helloMaxAgeSeconds": "3", **extra}]


def amqp_listener(port: int = 5672, host: str = "0.0.0.0", name: str = "amqp") -> Entity:
    """Plain AMQP management listener (the tests reach it through a published port)."""
    return ["listener", {"name": name, "host": host, "port": port}]


def http_listener(port: int = 9090) -> Entity:
    return ["listener", {"name": f"@{port}", "role": "normal", "port": port, "http": True,
                         "httpRootDir": "disabled", "healthz": True, "metrics": True}]


def ssl_profile(name: str, directory: str | None = None, *, ca_only: bool = False) -> Entity:
    base = f"{CONFIG_DIR}/{directory or name}"
    if ca_only:
        return ["sslProfile", {"name": name, "caCertFile": f"{base}/ca.crt"}]
    return ["sslProfile", {"name": name, "certFile": f"{base}/tls.crt",
                           "privateKeyFile": f"{base}/tls.key", "caCertFile": f"{base}/ca.crt"}]


def mtls_listener(name: str, port: int, profile: str, role: str = "normal") -> Entity:
    attrs = {"name": name, "role": role, "port": port, "sslProfile": profile,
             "saslMechanisms": "EXTERNAL", "authenticatePeer": True}
    if role != "normal":
        attrs.update(maxFrameSize=16384, maxSessionFrames=640)
    return ["listener", attrs]


def connector(name: str, host: str, port: int, profile: str, role: str = "inter-router",
              **extra: Any) -> Entity:
    return ["connector", {"name": name, "role": role, "host": host, "port": str(port),
                          "sslProfile": profile, **extra}]


def tcp_listener(address: str, port: int, **extra: Any) -> Entity:
    """A tcpListener as Skupper 1.5 writes it: name = address = ``<service>:<port>``."""
    return ["tcpListener", {"name": address, "port": str(port), "address": address, **extra}]


def tcp_connector(address: str, host: str, port: int, **extra: Any) -> Entity:
    """A tcpConnector as Skupper 1.5 names it: ``<address>@<host>:<port>``."""
    return ["tcpConnector", {"name": f"{address}@{host}:{port}", "host": host, "port": str(port),
                             "address": address, **extra}]
