"""Host-side tests of the router double: run it with the project venv, no containers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

DOUBLE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(DOUBLE_DIR))
sys.path.insert(0, str(DOUBLE_DIR.parent / "conformance"))

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


class HostRouter:
    """A router double process on the host, configured from a JSON file."""

    def __init__(self, config: Path) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "skrouterd_double", "-c", str(config)],
                                        cwd=DOUBLE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)

    def wait_port(self, port: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(self.process.stdout.read())
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("router did not listen on %d" % port)

    def stop(self) -> str:
        self.process.terminate()
        output, _ = self.process.communicate(timeout=10)
        return output


@pytest.fixture
def host_router(tmp_path: Path) -> Iterator:
    started: list[HostRouter] = []

    def start(entities: list) -> HostRouter:
        import json

        path = tmp_path / ("r%d.json" % len(started))
        path.write_text(json.dumps(entities))
        router = HostRouter(path)
        started.append(router)
        return router

    yield start
    for router in started:
        if router.process.poll() is None:
            router.stop()


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
