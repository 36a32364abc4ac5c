"""Version numbers and default images.

``SKUPPER_COMPAT_VERSION`` is the Skupper release whose wire formats we implement. It is what
tokens and router metadata carry, because Skupper 1.5 sites compare it when linking.
"""
from __future__ import annotations

import os

CLIENT_VERSION = "0.1.0"  # the package's version: pyproject.toml reads it from here
SKUPPER_COMPAT_VERSION = "1.5.5"
MINIMUM_REMOTE_VERSION = "0.8.0"
ROUTER_IMAGE_NAME = "skupper-router"
ROUTER_IMAGE_TAG = "2.5.3"
DEFAULT_IMAGE_REGISTRY = "quay.io/skupper"


def client_version() -> str:
    """The version of this package (a constant: importlib.metadata costs ~10 ms at each start)."""
    return CLIENT_VERSION


def router_image(env: dict[str, str] | None = None) -> str:
    """The router image: ``QDROUTERD_IMAGE``, else ``$SKUPPER_IMAGE_REGISTRY/skupper-router:2.5.3``."""
    env = os.environ if env is None else env
    if env.get("QDROUTERD_IMAGE"):
        return env["QDROUTERD_IMAGE"]
    registry = env.get("SKUPPER_IMAGE_REGISTRY") or DEFAULT_IMAGE_REGISTRY
    return f"{registry.rstrip('/')}/{ROUTER_IMAGE_NAME}:{ROUTER_IMAGE_TAG}"


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``"1.5.5"`` → ``(1, 5, 5)``; ``None`` for anything that is not ``X.Y.Z`` (a leading v is allowed)."""
    parts = text.strip().lstrip("v").split("-")[0].split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1]), int(parts[2])
