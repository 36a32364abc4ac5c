"""The controller's emitter without a router: credit rules and FLUSH order (vanflow.md §6.5, §11.3.7)."""
from __future__ import annotations

from proton import Endpoint, uint

from skupper_podman.network.controller import EmitterLinks, Settings, SiteController
from skupper_podman.network.informer import ProcessInformer


class FakeSender:
    def __init__(self, credit: int = 0) -> None:
        self.credit, self.state, self.sent = credit, Endpoint.LOCAL_ACTIVE | Endpoint.REMOTE_ACTIVE, []

    def send(self, message) -> None:
        self.credit -= 1
        self.sent.append(message)


def controller(tmp_path) -> SiteController:
    processes = ProcessInformer("SID", "west", "net", None, str(tmp_path / "none.json"))
    processes.held = {"c1": {0: 7, 1: "c1", 2: "SID", 3: 1, 4: 0, 30: "p", 46: "p"}}
    ctl = SiteController(Settings("SID", "west"), processes, "host1")
    ctl.links = EmitterLinks(records=FakeSender(), beacons=FakeSender(), heartbeats=FakeSender())
    return ctl


def identities(sender: FakeSender) -> list[str]:
    return [m.body[0][uint(1)] for m in sender.sent]


def test_no_credit_nothing_sent_nothing_lost_no_pile_up(tmp_path):
    ctl = controller(tmp_path)
    ctl.flush()
    ctl.flush()
    ctl.send_beacon()
    ctl.send_heartbeat()
    assert ctl.links.records.sent == [] and ctl.links.beacons.sent == [] and ctl.links.heartbeats.sent == []
    assert list(ctl.pending) == ["SID", "c1", "west"]  # one waiting copy per record
    ctl.links.records.credit = 250
    ctl.drain()
    assert identities(ctl.links.records) == ["SID", "c1", "west"]  # SITE, PROCESS..., HOST
    assert all(m.address == "mc/sfe.SID" and m.subject == "RECORD" for m in ctl.links.records.sent)


def test_beacon_and_heartbeat_go_when_credit_exists(tmp_path):
    ctl = controller(tmp_path)
    ctl.links.beacons.credit = ctl.links.heartbeats.credit = 5
    ctl.send_beacon()
    ctl.send_heartbeat()
    (beacon,) = ctl.links.beacons.sent
    (heartbeat,) = ctl.links.heartbeats.sent
    assert beacon.subject == "BEACON" and heartbeat.subject == "HEARTBEAT" and heartbeat.address == "mc/sfe.SID"
    assert ctl.links.beacon_sent and ctl.links.heartbeat_sent


def test_site_and_host_records_as_1_5_sends_them(tmp_path):
    ctl = controller(tmp_path)
    assert ctl.site_record == {0: 0, 1: "SID", 3: ctl.started, 30: "west", 12: "", 11: "podman", 52: "1.5.5",
                               53: "disabled"}
    assert ctl.host_record == {0: 13, 1: "west", 2: "SID", 3: ctl.started, 4: 0, 30: "host1", 11: "podman"}
