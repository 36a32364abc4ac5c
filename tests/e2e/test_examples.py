"""The automation examples run as they are, against real Podman."""
from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from tests.conftest import ROOT, labelled

pytestmark = pytest.mark.e2e


def test_link_two_sites_example(site_env):
    west, east = site_env.namespace, "x" + uuid.uuid4().hex[:8]
    out = subprocess.run([sys.executable, str(ROOT / "examples/link_two_sites.py"), west, east],
                         capture_output=True, text=True, env=site_env.env, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{east} -> {west}: link link1 cost 2 connected" in out.stdout
    assert f"{west}: connected to 1 other site(s)" in out.stdout
    assert labelled(west) == [] and labelled(east) == []
