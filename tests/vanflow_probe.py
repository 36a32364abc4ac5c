"""A test collector written from vanflow.md alone, independent of skupper_podman.network.

It connects to a site router's published amqps port with the site's local client credential
(read straight from the volume on disk), subscribes where a 1.5 collector would, and keeps every
message it receives with its raw AMQP types, so tests can check codes and types exactly.
"""
from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from proton import Message, SSLDomain
from proton.utils import BlockingConnection, BlockingReceiver


def podman_json(*args: str) -> Any:
    out = subprocess.run(["podman", *args], capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout)


def site_endpoint(namespace: str) -> tuple[str, str]:
    """(amqps URL of the router's published 5671, directory of the local client credential)."""
    router = podman_json("container", "inspect", f"{namespace}-skupper-router")[0]
    port = router["NetworkSettings"]["Ports"]["5671/tcp"][0]["HostPort"]
    volume = podman_json("volume", "inspect", f"{namespace}-skupper-local-client")[0]
    return f"amqps://127.0.0.1:{port}", volume["Mountpoint"]


@dataclass
class Got:
    """One received message: the address it was subscribed on, and the message itself."""

    link: str
    message: Message


@dataclass
class Probe:
    """A blocking collector; ``recv`` polls every receiver until a predicate matches."""

    url: str
    tls_dir: str
    connection: BlockingConnection | None = None
    receivers: dict[str, BlockingReceiver] = field(default_factory=dict)
    seen: list[Got] = field(default_factory=list)

    def open(self, timeout: float = 30.0) -> Probe:
        domain = SSLDomain(SSLDomain.MODE_CLIENT)
        domain.set_trusted_ca_db(f"{self.tls_dir}/ca.crt")
        domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME, f"{self.tls_dir}/ca.crt")
        domain.set_credentials(f"{self.tls_dir}/tls.crt", f"{self.tls_dir}/tls.key", None)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.connection = BlockingConnection(self.url, timeout=10, ssl_domain=domain,
                                                     allowed_mechs="EXTERNAL", sni="skupper-router-local",
                                                     virtual_host="skupper-router-local")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        self.receivers = {}
        return self

    def subscribe(self, address: str) -> None:
        if address not in self.receivers:
            assert self.connection is not None
            self.receivers[address] = self.connection.create_receiver(address, credit=250)

    def send(self, address: str, message: Message) -> None:
        assert self.connection is not None
        sender = self.connection.create_sender(address)
        sender.send(message, timeout=10)
        sender.close()

    def recv(self, predicate: Callable[[Got], bool], timeout: float = 30.0) -> Got:
        """The first new message for which ``predicate`` holds (older ones stay in ``seen``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for address, receiver in list(self.receivers.items()):
                try:
                    message = receiver.receive(timeout=0.05)
                except Exception:  # noqa: BLE001 - proton's Timeout: nothing there yet
                    continue
                try:
                    receiver.accept()
                except IndexError:  # it came pre-settled: nothing to accept
                    pass
                got = Got(address, message)
                self.seen.append(got)
                if predicate(got):
                    return got
        raise AssertionError(f"no matching message within {timeout}s; saw {len(self.seen)}")

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except Exception:  # noqa: BLE001
                pass
            self.connection = None


def subject(got: Got) -> str:
    return str(got.message.subject or "")


def records(got: Got) -> list[dict]:
    body = got.message.body
    return list(body) if subject(got) == "RECORD" and isinstance(body, list) else []


def has_record(rtype: int, identity: str | None = None, ended: bool | None = None) -> Callable[[Got], bool]:
    """A predicate: a RECORD message holding a record of ``rtype`` (and identity, end state)."""
    def check(got: Got) -> bool:
        for rec in records(got):
            if rec.get(0) != rtype or (identity is not None and rec.get(1) != identity):
                continue
            if ended is None or (int(rec.get(4) or 0) > 0) == ended:
                return True
        return False
    return check


def find_record(got: Got, rtype: int, identity: str | None = None) -> dict:
    return next(r for r in records(got) if r.get(0) == rtype and (identity is None or r.get(1) == identity))
