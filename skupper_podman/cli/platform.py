"""Platform selection as Skupper 1.5 does it: flag, ``SKUPPER_PLATFORM``, ``platform.yaml``.

``kubernetes`` is a valid platform that this tool does not implement: help and ``switch`` work
there, every other command says so (see ``cli.app``).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from skupper_podman.errors import PlatformError
from skupper_podman.paths import data_home

PLATFORMS = ("kubernetes", "podman")
DEFAULT_PLATFORM = "kubernetes"


def platform_file() -> Path:
    return data_home() / "platform.yaml"


def _validate(value: str) -> str:
    if value not in PLATFORMS:
        raise PlatformError(f"invalid platform: {value}")
    return value


def flag_value(argv: Sequence[str]) -> str | None:
    """The ``--platform X`` / ``--platform=X`` value anywhere on the command line, if any."""
    for i, arg in enumerate(argv):
        if arg == "--platform" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--platform="):
            return arg.split("=", 1)[1]
    return None


def strip_flag(argv: Sequence[str]) -> list[str]:
    """``argv`` without the ``--platform`` option (it is handled before the command tree is built)."""
    out: list[str] = []
    skip = False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg == "--platform" and i + 1 < len(argv):
            skip = True
            continue
        if arg.startswith("--platform="):
            continue
        out.append(arg)
    return out


def _load_state() -> dict[str, str]:
    path = platform_file()
    if not path.exists():
        return {}
    import yaml  # only when the file exists: most runs choose the platform by flag or env

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise PlatformError(f"cannot read {path}: {err}".splitlines()[0]) from err
    return {k: str(v) for k, v in data.items() if v} if isinstance(data, dict) else {}


def current(argv: Sequence[str] = (), env: dict[str, str] | None = None) -> str:
    """The platform in force: flag, then ``SKUPPER_PLATFORM``, then ``platform.yaml``, then kubernetes."""
    env = os.environ if env is None else env
    value = flag_value(argv) or env.get("SKUPPER_PLATFORM") or _load_state().get("current") or DEFAULT_PLATFORM
    return _validate(value)


def switch(target: str | None) -> str:
    """Implement ``skupper switch [kubernetes|podman|-]``; return the platform now current."""
    state = _load_state()
    now = state.get("current") or DEFAULT_PLATFORM
    if target is None:
        return now
    new = (state.get("previous") or now) if target == "-" else _validate(target)
    import yaml

    path = platform_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"current": new, "previous": now}, default_flow_style=False))
    return new
