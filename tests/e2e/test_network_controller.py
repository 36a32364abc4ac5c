"""The site controller on the wire, checked by a collector independent of ours (tests/vanflow_probe).

It must emit what Skupper 1.5's skupper-controller-podman emits (vanflow.md §6 and §11.3):
beacons, heartbeats, SITE/HOST/PROCESS records with exact codes and AMQP types, everything again
on FLUSH, PROCESS records that follow containers and service targets, and it must survive its
own death and a router restart.
"""
from __future__ import annotations

import json
import os
import signal

import pytest
from proton import Message, symbol, uint, ulong

from tests.conftest import init_site, podman_cli
from tests.vanflow_probe import Probe, find_record, has_record, site_endpoint, subject

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

SITE, ROUTER, PROCESS, HOST = 0, 1, 7, 13
ULONGS = {3, 4, 8, 23, 24, 25, 26, 33, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 47, 48, 51}


def strictly_typed(record: dict) -> None:
    """§4.1 and §11.3.4: uint keys, uint type, ulong times, str (never symbol) strings."""
    for key, value in record.items():
        assert type(key) is uint, (key, type(key))
        if key == 0:
            assert type(value) is uint
        elif key in ULONGS:
            assert type(value) is ulong, (key, value, type(value))
        else:
            assert type(value) is str and not isinstance(value, symbol), (key, value, type(value))


@pytest.fixture
def site(site_env):
    init_site(site_env, site_env.namespace, "ctl-site")
    status = json.loads(site_env.skupper("status", "-o", "json").stdout)
    probe = Probe(*site_endpoint(site_env.namespace)).open()
    yield site_env.namespace, status["site_id"], probe
    probe.close()


def controller_beacon(probe: Probe, site_id: str):
    probe.subscribe("mc/sfe.all")
    return probe.recv(lambda g: subject(g) == "BEACON" and g.message.properties.get("id") == site_id, 30)


def flush_and_get_site(probe: Probe, site_id: str):
    probe.send(f"sfe.{site_id}", Message(address=f"sfe.{site_id}", subject="FLUSH"))
    return probe.recv(has_record(SITE, site_id), 15)


@pytest.mark.usefixtures("flow_router")
def test_beacon_heartbeat_records_and_flush(site):
    namespace, site_id, probe = site
    beacon = controller_beacon(probe, site_id).message
    props = beacon.properties
    assert type(props["v"]) is uint and props["v"] == 1
    assert props["sourceType"] == "CONTROLLER" and props["address"] == f"mc/sfe.{site_id}"
    assert props["direct"] == f"sfe.{site_id}" and all(type(k) is str for k in props)
    assert beacon.address == "mc/sfe.all"
    assert json.loads(beacon.body) == {"version": 1, "sourceType": "CONTROLLER", "address": f"mc/sfe.{site_id}",
                                       "direct": f"sfe.{site_id}", "identity": site_id}

    probe.subscribe(f"mc/sfe.{site_id}.heartbeats")
    probe.subscribe(f"mc/sfe.{site_id}")
    first = probe.recv(lambda g: subject(g) == "HEARTBEAT", 10)
    second = probe.recv(lambda g: subject(g) == "HEARTBEAT", 10)
    for hb in (first, second):
        assert hb.link == f"mc/sfe.{site_id}.heartbeats" and hb.message.address == f"mc/sfe.{site_id}"
        assert hb.message.properties["id"] == site_id and type(hb.message.properties["now"]) is ulong
    gap = (second.message.properties["now"] - first.message.properties["now"]) / 1e6
    assert 1.0 < gap < 4.0

    got = flush_and_get_site(probe, site_id)
    site_rec = find_record(got, SITE, site_id)
    strictly_typed(site_rec)
    assert got.message.address == f"mc/sfe.{site_id}" and len(got.message.body) == 1
    assert {k: site_rec[k] for k in (30, 12, 11, 52, 53)} == {
        30: "ctl-site", 12: "", 11: "podman", 52: "1.5.5", 53: "disabled"}
    assert 4 not in site_rec and site_rec[3] > 0
    router_process = probe.recv(has_record(PROCESS), 10)
    host = probe.recv(has_record(HOST), 10)
    host_rec = find_record(host, HOST)
    strictly_typed(host_rec)
    assert host_rec[1] == "ctl-site" and host_rec[2] == site_id and host_rec[4] == 0 and host_rec[11] == "podman"
    assert host_rec[3] == site_rec[3] and host_rec[30]
    processes = [r for g in probe.seen for r in g.message.body or [] if subject(g) == "RECORD" and r.get(0) == PROCESS]
    assert router_process is not None and processes
    for rec in processes:
        strictly_typed(rec)
        assert rec[2] == site_id and rec[4] == 0 and 46 in rec and rec[46] == rec[22]
    names = {r[30]: r for r in processes}
    assert names[f"{namespace}-skupper-router"][13] == "internal"
    assert names[f"{namespace}-skupper-controller-podman"][13] == "internal"

    # FLUSH again: the whole set again
    again = flush_and_get_site(probe, site_id)
    assert find_record(again, SITE, site_id) == site_rec
    probe.recv(has_record(HOST, "ctl-site"), 10)

    # one id: the site router's ROUTER record names the SITE as its parent, and the site by name
    router_beacon = probe.recv(lambda g: subject(g) == "BEACON" and g.message.properties.get(symbol("sourceType"),
                                         g.message.properties.get("sourceType")) == "ROUTER", 15)
    rid = str(router_beacon.message.properties.get(symbol("id"), router_beacon.message.properties.get("id")))
    probe.subscribe(f"mc/sfe.{rid}")
    probe.send(f"sfe.{rid}", Message(address=f"sfe.{rid}", subject="FLUSH"))
    router = find_record(probe.recv(has_record(ROUTER, rid), 15), ROUTER, rid)
    assert router[2] == site_id and router[30] == "0/ctl-site"


@pytest.mark.usefixtures("flow_router")
def test_processes_follow_containers_and_targets(site_env, site):
    namespace, site_id, probe = site
    controller_beacon(probe, site_id)
    probe.subscribe(f"mc/sfe.{site_id}")
    name = f"{namespace}-workload"
    podman_cli("run", "-d", "--name", name, "--label", f"skupper-podman.io/namespace={namespace}",
               "--network", f"{namespace}-skupper", "--entrypoint", "sleep", site_env.image, "600")
    cid = podman_cli("inspect", name, "--format", "{{.Id}}").stdout.strip()
    added = find_record(probe.recv(has_record(PROCESS, cid, ended=False), 20), PROCESS, cid)
    strictly_typed(added)
    assert added[30] == name and added[13] == "external" and added[14] and added[46] == name

    podman_cli("rm", "-f", "-t", "0", name)
    gone = find_record(probe.recv(has_record(PROCESS, cid, ended=True), 20), PROCESS, cid)
    assert gone[4] > gone[3]

    assert site_env.skupper("service", "create", "backend", "8080").returncode == 0
    bind = site_env.skupper("service", "bind", "backend", "host", "10.99.0.7")
    assert bind.returncode == 0, bind.stderr
    target = find_record(probe.recv(has_record(PROCESS, "backend-10.99.0.7", ended=False), 20),
                         PROCESS, "backend-10.99.0.7")
    strictly_typed(target)
    assert {k: target[k] for k in (30, 46, 22, 14, 13, 2)} == {
        30: "backend-10.99.0.7", 46: "backend", 22: "10.99.0.7", 14: "10.99.0.7", 13: "external", 2: site_id}
    assert site_env.skupper("service", "unbind", "backend", "host", "10.99.0.7").returncode == 0
    probe.recv(has_record(PROCESS, "backend-10.99.0.7", ended=True), 20)


def test_controller_comes_back_and_router_restart_reconnects(site):
    namespace, site_id, probe = site
    controller_beacon(probe, site_id)
    probe.subscribe(f"mc/sfe.{site_id}")
    first = find_record(flush_and_get_site(probe, site_id), SITE, site_id)

    ctr = f"{namespace}-skupper-controller-podman"
    pid = int(podman_cli("inspect", ctr, "--format", "{{.State.Pid}}").stdout)
    os.kill(pid, signal.SIGKILL)
    # restarted by its policy, it announces itself again without being asked (with a new start
    # time; copies of the old SITE record may still be on their way)
    def newer_site(got) -> bool:
        return has_record(SITE, site_id)(got) and find_record(got, SITE, site_id)[3] > first[3]

    reborn = find_record(probe.recv(newer_site, 60), SITE, site_id)
    assert reborn[30] == first[30] and reborn[1] == site_id
    probe.recv(lambda g: subject(g) == "BEACON" and g.message.properties.get("id") == site_id, 20)

    podman_cli("restart", "-t", "1", f"{namespace}-skupper-router")
    probe.close()
    probe.open(60)
    controller_beacon(probe, site_id)
    probe.subscribe(f"mc/sfe.{site_id}.heartbeats")
    probe.subscribe(f"mc/sfe.{site_id}")
    probe.recv(lambda g: subject(g) == "HEARTBEAT", 15)
    flush_and_get_site(probe, site_id)
