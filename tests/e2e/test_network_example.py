"""examples/network_status.py runs as it is, against real Podman and the real router."""
from __future__ import annotations

import subprocess
import sys
import tarfile
import uuid

import pytest

from tests.conftest import ROOT, labelled, sweep_namespace

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


@pytest.mark.usefixtures("flow_router")
def test_network_status_example(site_env, tmp_path):
    west, east = site_env.namespace, "x" + uuid.uuid4().hex[:8]
    try:
        out = subprocess.run([sys.executable, str(ROOT / "examples/network_status.py"), west, east, str(tmp_path)],
                             capture_output=True, text=True, env=site_env.env, timeout=500, check=False)
        assert out.returncode == 0, out.stdout + out.stderr
        assert f"{west} sees [local] {west}: linked to {east} (incoming); services: backend:8080" in out.stdout
        assert f"{west} sees [remote] {east}: linked to {west} (outgoing)" in out.stdout
        assert f"{east} sees [local] {east}: linked to {west} (outgoing)" in out.stdout
        assert "live collector: site record" in out.stdout
        held = int(out.stdout.split("live collector holds ")[1].split()[0])
        assert held >= 4  # two SITEs, two ROUTERs at least
        with tarfile.open(tmp_path / f"{west}-dump.tar.gz") as tar:
            assert any(n.endswith("flow/network.json") for n in tar.getnames())
        assert labelled(west) == [] and labelled(east) == []
    finally:
        sweep_namespace(east)
