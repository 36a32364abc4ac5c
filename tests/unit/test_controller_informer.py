"""PROCESS records from Podman containers and service targets (vanflow.md §6.4)."""
from __future__ import annotations

import json
from pathlib import Path

from skupper_podman.network import vanflow
from skupper_podman.network.informer import (
    ProcessInformer,
    process_role,
    service_targets,
)

NS = "west"


class FakeApi:
    def __init__(self) -> None:
        self.items: dict[str, dict] = {}
        self.ips: dict[str, dict[str, str]] = {}

    def add(self, cid: str, name: str, labels: dict, ip: str | None, state: str = "running", started: int = 100):
        self.items[cid] = {"Id": cid, "Names": [name], "Image": "img", "Labels": labels, "State": state,
                           "StartedAt": started, "ExitedAt": 0 if state == "running" else started + 5, "PodName": ""}
        self.ips[cid] = {f"{NS}-skupper": ip} if ip else {}

    def containers(self) -> list[dict]:
        return list(self.items.values())

    def inspect(self, cid: str) -> dict:
        return {"NetworkSettings": {"Networks": {n: {"IPAddress": ip} for n, ip in self.ips[cid].items()}}}


def informer(tmp_path: Path, api: FakeApi) -> ProcessInformer:
    return ProcessInformer("SITE", NS, f"{NS}-skupper", api, str(tmp_path / "services.json"), clock=lambda: 999)


def test_containers_come_and_go(tmp_path):
    api = FakeApi()
    api.add("c1", "west-skupper-router", {"application": "skupper", "skupper-podman.io/namespace": NS}, "10.0.0.2")
    api.add("c2", "backend", {}, "10.0.0.3")
    api.add("c3", "east-skupper-router", {"application": "skupper", "skupper-podman.io/namespace": "east"}, "10.1.0.2")
    inf = informer(tmp_path, api)
    first = {r[1]: r for r in inf.poll()}
    assert set(first) == {"c1", "c2"}  # another namespace's containers belong to its own site
    router = first["c1"]
    assert router == {0: vanflow.PROCESS, 1: "c1", 2: "SITE", 3: 100_000_000, 4: 0, 30: "west-skupper-router",
                      20: "img", 22: "west-skupper-router", 46: "west-skupper-router", 14: "10.0.0.2",
                      13: "internal"}
    assert first["c2"][13] == "external"
    assert inf.poll() == []  # nothing changed
    del api.items["c2"]
    (ended,) = inf.poll()
    assert ended[1] == "c2" and ended[4] == 999
    assert [r[1] for r in inf.records()] == ["c1"]


def test_a_container_without_ip_ends_the_record_of_its_name(tmp_path):
    api = FakeApi()
    api.add("c1", "app", {}, "10.0.0.5")
    inf = informer(tmp_path, api)
    inf.poll()
    api.add("c1", "app", {}, None, started=200)
    (ended,) = inf.poll()
    assert ended[1] == "c1" and ended[4] == 999 and inf.records() == []


def test_service_targets_by_ip_only(tmp_path):
    services = {"backend": {"targets": [{"service": "10.0.0.7"}, {"service": "backend-host"}]}}
    (tmp_path / "services.json").write_text(json.dumps(services))
    inf = ProcessInformer("SITE", NS, "net", None, str(tmp_path / "services.json"), clock=lambda: 5)
    (target,) = inf.poll()
    assert target == {0: 7, 1: "backend-10.0.0.7", 2: "SITE", 3: 5, 4: 0, 30: "backend-10.0.0.7", 46: "backend",
                      22: "10.0.0.7", 14: "10.0.0.7", 13: "external"}
    (tmp_path / "services.json").write_text("{}")
    (gone,) = inf.poll()
    assert gone[1] == "backend-10.0.0.7" and gone[4] == 5


def test_roles_and_damaged_services_file():
    assert process_role({"application": "skupper"}) == "internal"
    assert process_role({"application": "skupper", "skupper.io/address": "backend"}) == "external"
    assert service_targets(b"not json") == set()
