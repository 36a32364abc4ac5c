"""Which Podman API endpoint to talk to, and how to say it is missing.

Order (Skupper 1.5 plus ``CONTAINER_HOST``, the variable Podman's own tools use): the
``--podman-endpoint`` flag, the endpoint saved by ``init`` in ``podman.yaml``,
``PODMAN_ENDPOINT``, ``CONTAINER_HOST``, then the user's socket
``$XDG_RUNTIME_DIR/podman/podman.sock`` (``/run/podman/podman.sock`` for root).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlparse

from skupper_podman.errors import InputError
from skupper_podman.paths import is_root, runtime_dir

ROOT_SOCKET = "/run/podman/podman.sock"


@dataclass(frozen=True)
class Endpoint:
    """A resolved endpoint: ``url`` for podman-py and ``given`` as the user wrote it (or ``""``)."""

    url: str
    given: str = ""

    @property
    def socket_path(self) -> str | None:
        if self.url.startswith("unix://"):
            return self.url[len("unix://"):]
        return None

    @property
    def is_local(self) -> bool:
        return self.socket_path is not None

    def describe(self) -> str:
        return self.given or "default"

    def hint(self) -> str:
        """The 1.5 hint printed when the endpoint does not answer."""
        if self.socket_path is None:
            return "Make sure the Podman service listens on " + self.url
        if is_root():
            return f"Run: podman system service --time=0 unix://{self.socket_path} &"
        if self.socket_path == default_socket():
            return "Run: systemctl --user enable --now podman.socket"
        return f"Run: podman system service --time=0 unix://{self.socket_path} &"


def default_socket() -> str:
    if is_root():
        return ROOT_SOCKET
    return str(runtime_dir() / "podman" / "podman.sock")


def normalize(value: str) -> str:
    """Turn a user-given endpoint into a URL podman-py understands."""
    if value.startswith("/"):
        return "unix://" + value
    parsed = urlparse(value if "://" in value else "http://" + value)
    if parsed.scheme == "unix":
        return value
    if parsed.scheme not in ("http", "https", "tcp"):
        raise InputError(f"invalid endpoint: {value}")
    host = parsed.hostname or ""
    if host in ("127.0.0.1", "::1", "0.0.0.0", "::", "localhost"):
        raise InputError(f"local addresses cannot be used, got: {host}")
    scheme = "http" if parsed.scheme == "tcp" else parsed.scheme
    return f"{scheme}://{parsed.netloc}"


def resolve(flag: str | None = None, saved: str | None = None, env: dict[str, str] | None = None) -> Endpoint:
    """Pick the endpoint by the documented precedence."""
    env = os.environ if env is None else env
    for given in (flag, saved, env.get("PODMAN_ENDPOINT"), env.get("CONTAINER_HOST")):
        if given:
            return Endpoint(normalize(given), given)
    return Endpoint("unix://" + default_socket())
