"""Host-side tests of the router double: run it with the project venv, no containers."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Iterator

import pytest

DOUBLE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(DOUBLE_DIR))
sys.path.insert(0, str(DOUBLE_DIR.parent / "conformance"))

from host_router import HostRouters  # noqa: E402
from skrouterd_double.cli import schema_path  # noqa: E402
from skrouterd_double.schema import Schema  # noqa: E402


@pytest.fixture(scope="session")
def schema() -> Schema:
    return Schema.load(schema_path())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def free_port():
    """A function returning a TCP port on 127.0.0.1 that is free right now."""
    return _free_port


@pytest.fixture
def host_router(tmp_path: Path) -> Iterator:
    """A function starting a router double process from a list of entities."""
    routers = HostRouters(tmp_path)
    yield routers.start
    routers.stop_all()


@pytest.fixture
def scripts_env(tmp_path: Path) -> dict[str, str]:
    """Environment for running image/configure.sh on the host."""
    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    for name in ("configure.sh", "expandvars.py"):
        target = home / "bin" / name
        target.write_bytes((DOUBLE_DIR / "image" / name).read_bytes())
        target.chmod(0o755)
    return {"PATH": os.environ["PATH"], "HOME_DIR": str(home)}
