"""Running router containers for the conformance tests (podman-py against the API socket).

Everything created carries ``LABEL`` (for sweeping leftovers) and a per-test run label.
Configs and certificates come from a host directory bind-mounted read-only at ``CONFIG_DIR``.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podman import PodmanClient
from podman.errors import APIError

from mgmt_client import ManagementClient

LABEL = "skupper-podman.io/conformance"
RUN_LABEL = "skupper-podman.io/conformance-run"
CONFIG_DIR = "/etc/router-test"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sweep(client: PodmanClient, label: str) -> None:
    """Remove containers (in parallel), then networks, carrying the label ``label`` (``k=v``)."""
    filters = {"label": label}
    containers = client.containers.list(all=True, filters=filters)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda c: client.api.delete(f"/containers/{c.id}",
                                                  params={"force": True, "timeout": 0, "v": True}),
                      containers))
    for network in client.networks.list(filters=filters):
        for attempt in range(20):  # a just-removed container may still hold the network
            try:
                network.remove(force=True)
                break
            except APIError:
                time.sleep(0.1)


@dataclass
class RouterContainer:
    """A started router container and the host ports its container ports are published on."""

    container: Any
    name: str
    ports: dict[int, int]
    config_dir: Path

    def url(self, container_port: int = 5672, scheme: str = "amqp") -> str:
        return f"{scheme}://127.0.0.1:{self.ports[container_port]}"

    def logs(self) -> str:
        return b"".join(self.container.logs(stdout=True, stderr=True)).decode(errors="replace")

    def status(self) -> str:
        self.container.reload()
        return self.container.status

    def management(self, port: int = 5672, **kwargs: Any) -> ManagementClient:
        """A management client; 5 s per step, so that a poll whose connection got stuck (e.g.
        while other tests' networks are rewritten) is retried within the poll's deadline."""
        kwargs.setdefault("timeout", 5)
        return ManagementClient(self.url(port), **kwargs)

    def wait_for_management(self, port: int = 5672, timeout: float = 20) -> None:
        """Wait until a management QUERY on ``port`` answers."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.status() not in ("running", "created", "configured"):
                raise AssertionError(f"router {self.name} is {self.status()}:\n{self.logs()}")
            try:
                with self.management(port, timeout=3) as client:
                    client.rows("router", ["id"])
                    return
            except Exception as exc:  # not listening yet
                last = exc
                time.sleep(0.1)
        raise AssertionError(f"router {self.name} management not ready: {last}\n{self.logs()}")

    def exec(self, *cmd: str) -> tuple[int, str]:
        rc, (out, err) = self.container.exec_run(list(cmd), demux=True)
        return rc, ((out or b"") + (err or b"")).decode(errors="replace")


@dataclass
class RouterLab:
    """Starts routers for one test and removes them afterwards."""

    client: PodmanClient
    image: str
    workdir: Path
    labels: dict[str, str]
    network: str | None = None
    prefix: str = field(default_factory=lambda: "cf" + uuid.uuid4().hex[:6])
    routers: list[RouterContainer] = field(default_factory=list)
    addresses: dict[str, str] = field(default_factory=dict)

    def ip(self, name: str) -> str:
        """The static IP of router ``name`` on the lab network (reserved on first use).

        Routers get every reserved name as a hosts entry, so dialling a peer never waits for
        aardvark-dns (which can stall for seconds after a container leaves a network).
        """
        if name not in self.addresses:
            network = self.client.networks.get(self.ensure_network())
            subnet = ipaddress.ip_network(network.attrs["subnets"][0]["subnet"])
            self.addresses[name] = str(subnet.network_address + 10 + len(self.addresses))
        return self.addresses[name]

    def ensure_network(self) -> str:
        if self.network is None:
            self.network = f"{self.prefix}-net"
            self.client.networks.create(self.network, dns_enabled=True, driver="bridge", labels=self.labels)
        return self.network

    def config_dir(self, name: str) -> Path:
        directory = self.workdir / name
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
        return directory

    def write_config(self, name: str, entities: list[Any], filename: str = "skrouterd.json") -> Path:
        path = self.config_dir(name) / filename
        path.write_text(json.dumps(entities, indent=4))
        path.chmod(0o644)
        return path

    def create(self, name: str, *, entities: list[Any] | None = None, environment: dict[str, str] | None = None,
               ports: tuple[int, ...] = (5672,), command: list[str] | None = None,
               aliases: tuple[str, ...] = (), user: str | None = None, start: bool = True,
               config_name: str | None = None, image: str | None = None) -> RouterContainer:
        """Create (and start) a router container named ``<prefix>-<name>``.

        With ``entities`` the config is written to ``<workdir>/<name>/skrouterd.json`` and passed
        the way Skupper does (``QDROUTERD_CONF`` + ``QDROUTERD_CONF_TYPE=json``). The directory
        mounted at ``CONFIG_DIR`` is ``<workdir>/<config_name or name>``. ``image`` replaces the
        router image (e.g. for a server container).
        """
        config_dir = self.config_dir(config_name or name)
        env = dict(environment or {})
        if entities is not None:
            self.write_config(name, entities)
            env.setdefault("QDROUTERD_CONF", f"{CONFIG_DIR}/skrouterd.json")
            env.setdefault("QDROUTERD_CONF_TYPE", "json")
        published = {port: free_port() for port in ports}
        container_name = f"{self.prefix}-{name}"
        kwargs: dict[str, Any] = dict(
            name=container_name, labels=self.labels, environment=env, stop_timeout=0,
            mounts=[{"type": "bind", "source": str(config_dir), "target": CONFIG_DIR,
                     "read_only": True, "relabel": "z"}],
            ports={f"{port}/tcp": ("127.0.0.1", host) for port, host in published.items()},
            hostname=container_name,
        )
        if command is not None:
            kwargs["command"] = command
        if user is not None:
            kwargs["user"] = user
        network = self.ensure_network()
        address = self.ip(name)
        for alias in aliases:
            self.addresses.setdefault(alias, address)
        kwargs.update(networks={network: {"aliases": [name, *aliases], "static_ips": [address]}},
                      network_mode="bridge",
                      extra_hosts={host: ip for host, ip in self.addresses.items() if host != name})
        container = self.client.containers.create(image or self.image, **kwargs)
        router = RouterContainer(container, container_name, published, config_dir)
        self.routers.append(router)
        if start:
            container.start()
        return router

    def run_once(self, name: str, command: list[str], **kwargs: Any) -> tuple[int, str]:
        """Run a container to completion; return its exit code and output."""
        router = self.create(name, command=command, ports=(), **kwargs)
        rc = router.container.wait(condition="exited", timeout=60)
        return rc, router.logs()

    def start_and_wait(self, name: str, **kwargs: Any) -> RouterContainer:
        router = self.create(name, **kwargs)
        router.wait_for_management()
        return router

    def start_stream_server(self, name: str, image: str, services: dict[int, str]) -> str:
        """Run ``STREAM_SERVER`` (needs python3 in ``image``) serving ``{port: mode}``; wait
        until every port answers and return the container's IP."""
        directory = self.config_dir(name)
        script = directory / "stream_server.py"
        script.write_text(STREAM_SERVER)
        script.chmod(0o644)
        self.create(name, image=image, ports=(),
                    command=["python3", f"{CONFIG_DIR}/stream_server.py",
                             *(f"{port}={mode}" for port, mode in services.items())])
        address = self.ip(name)
        for port in services:
            wait_for_tcp(address, port)
        return address


def wait_for_tcp(host: str, port: int, timeout: float = 20) -> None:
    """Wait until ``host:port`` accepts a TCP connection (closing it at once)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# A TCP server for data-plane tests, run in a container: ``python3 stream_server.py PORT=MODE …``.
# Modes: ``echo`` (echo until EOF, then close), ``count`` (read until EOF, answer
# "received <n> bytes", close) and ``name:<text>`` (send "<text>\n", then echo).
STREAM_SERVER = """\
import socket, sys, threading

def serve(conn, mode):
    with conn:
        try:
            if mode.startswith("name:"):
                conn.sendall(mode[5:].encode() + b"\\n")
                mode = "echo"
            total = 0
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                total += len(data)
                if mode == "echo":
                    conn.sendall(data)
            if mode == "count":
                conn.sendall(b"received %d bytes" % total)
        except OSError:
            pass

def listen(port, mode):
    server = socket.create_server(("0.0.0.0", port), backlog=128)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn, mode), daemon=True).start()

for spec in sys.argv[1:]:
    port, mode = spec.split("=", 1)
    threading.Thread(target=listen, args=(int(port), mode), daemon=True).start()
threading.Event().wait()
"""
