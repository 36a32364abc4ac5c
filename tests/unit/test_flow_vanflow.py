"""vanflow encoding: the exact AMQP types 1.5's Go collector demands (vanflow.md §4, §6.6)."""
from __future__ import annotations

import json

from proton import Message, symbol, uint, ulong

from skupper_podman.network import vanflow


def test_encode_uint_keys_uint_type_ulong_times_str_strings():
    out = vanflow.encode({0: 7, 1: "id", 2: "site", 3: 5, 4: 0, 30: "name", 33: 2, 46: "g", 12: ""})
    assert all(type(k) is uint for k in out)
    assert type(out[uint(0)]) is uint and out[uint(0)] == 7
    assert type(out[uint(3)]) is ulong and type(out[uint(4)]) is ulong and type(out[uint(33)]) is ulong
    assert all(type(out[uint(k)]) is str for k in (1, 2, 30, 46, 12))


def test_encode_round_trips_through_amqp():
    message = vanflow.record_message("site", [{0: 0, 1: "site", 3: 12, 30: "west", 11: "podman"}])
    again = Message()
    again.decode(message.encode())
    assert again.subject == "RECORD" and again.address == "mc/sfe.site"
    (record,) = again.body
    assert all(type(k) is uint for k in record) and type(record[uint(3)]) is ulong
    assert vanflow.parse(again).records == ({0: 0, 1: "site", 3: 12, 30: "west", 11: "podman"},)


def test_decode_accepts_router_quirks_and_skips_junk():
    assert vanflow.decode({uint(0): uint(4), uint(1): symbol("r:2")}) == {0: 4, 1: "r:2"}  # a bare touch
    assert vanflow.decode({"x": 1, uint(0): uint(1), uint(1): "r:0", uint(9): 1.5}) == {0: 1, 1: "r:0"}
    assert vanflow.decode({uint(0): uint(1)}) is None and vanflow.decode("nope") is None


def test_controller_beacon_and_heartbeat_as_go_sends_them():
    beacon = vanflow.beacon_message("sid")
    assert beacon.address == "mc/sfe.all" and beacon.subject == "BEACON"
    assert type(beacon.properties["v"]) is uint and all(type(k) is str for k in beacon.properties)
    assert json.loads(beacon.body) == {"version": 1, "sourceType": "CONTROLLER", "address": "mc/sfe.sid",
                                       "direct": "sfe.sid", "identity": "sid"}
    heartbeat = vanflow.heartbeat_message("sid")
    assert heartbeat.address == "mc/sfe.sid" and heartbeat.body is None
    assert type(heartbeat.properties["now"]) is ulong and heartbeat.properties["id"] == "sid"


def test_parse_ignores_other_subjects_and_reads_symbol_keys():
    assert vanflow.parse(Message(subject="service-sync-update-v2")) is None
    got = vanflow.parse(Message(address="mc/sfe.all", subject="BEACON",
                                properties={symbol("id"): "abcde:0", symbol("sourceType"): "ROUTER"}))
    assert got.source_id == "abcde:0" and got.properties["sourceType"] == "ROUTER"
    assert vanflow.parse(Message(address="mc/sfe.abcde:0.flows", subject="RECORD", body=[])).source_id == "abcde:0"
