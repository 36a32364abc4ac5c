"""A router double process on the host (the project venv's Python), for the host-side tests."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

DOUBLE_DIR = Path(__file__).resolve().parents[1]


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


class HostRouters:
    """Starts router processes from entity lists (configs written to ``directory``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[HostRouter] = []

    def start(self, entities: list) -> HostRouter:
        path = self.directory / ("r%d.json" % len(self.started))
        path.write_text(json.dumps(entities))
        router = HostRouter(path)
        self.started.append(router)
        return router

    def stop_all(self) -> None:
        for router in self.started:
            if router.process.poll() is None:
                router.stop()
