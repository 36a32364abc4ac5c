"""Record the vanflow messages of a live network into a unit-test fixture (tests/unit/flow_fixtures).

    python -m tests.record_flow_fixture NAMESPACE SECONDS OUT.json

It connects to the site router of NAMESPACE with tests/vanflow_probe (not our collector), follows
every beacon the way vanflow.md §7.2 says, FLUSHes each source after its first heartbeat and
writes every message it got, types kept (tests/flow_messages).
"""
from __future__ import annotations

import json
import sys
import time

from proton import Message

from tests.flow_messages import FIXTURES, to_fixture
from tests.vanflow_probe import Probe, site_endpoint, subject


def record(namespace: str, seconds: float) -> list[Message]:
    probe = Probe(*site_endpoint(namespace)).open()
    probe.subscribe("mc/sfe.all")
    sources: dict[str, str] = {}  # id -> direct, until flushed
    flushed: set[str] = set()
    kept: list[Message] = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            try:
                got = probe.recv(lambda g: True, timeout=min(1.0, max(0.1, deadline - time.monotonic())))
            except AssertionError:
                continue
            kept.append(got.message)
            props = {str(k): v for k, v in (got.message.properties or {}).items()}
            if subject(got) == "BEACON" and props.get("id") not in sources:
                sources[str(props["id"])] = str(props["direct"])
                probe.subscribe(str(props["address"]))
                if props.get("sourceType") == "CONTROLLER":
                    probe.subscribe(f"{props['address']}.heartbeats")
            elif subject(got) == "HEARTBEAT" and props.get("id") in sources and props["id"] not in flushed:
                flushed.add(str(props["id"]))
                direct = sources[str(props["id"])]
                probe.send(direct, Message(address=direct, subject="FLUSH"))
    finally:
        probe.close()
    return kept


def main() -> None:
    namespace, seconds, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    messages = record(namespace, seconds)
    data = {"source": f"recorded from namespace {namespace} on the real router 2.5.3 ({len(messages)} messages)",
            "messages": [to_fixture(m) for m in messages]}
    (FIXTURES / out).write_text(json.dumps(data, indent=1))
    print(f"{len(messages)} messages -> {FIXTURES / out}")


if __name__ == "__main__":
    main()
