"""init → status → delete on real Podman, through the CLI and through the Python API."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import free_port, labelled, podman_cli

pytestmark = pytest.mark.e2e


def _init_args(site: str, *extra: str) -> list[str]:
    return ["init", "--site-name", site, "--ingress-host", "host.containers.internal",
            "--bind-port", str(free_port()), "--bind-port-edge", str(free_port()), "--timeout", "60s", *extra]


def test_named_namespace_init_status_delete(site_env):
    out = site_env.skupper(*_init_args("west"))
    assert out.returncode == 0, out.stderr
    ns = site_env.namespace
    assert f"Skupper is now installed for user 'root' in namespace '{ns}'.  Use 'skupper status -n {ns}'" in out.stdout
    # resources carry the namespace prefix and labels
    names = labelled(ns)
    assert f"{ns}-skupper-router" in names and f"{ns}-skupper" in names and f"{ns}-skupper-site-ca" in names
    inspect = json.loads(podman_cli("inspect", f"{ns}-skupper-router").stdout)[0]
    assert inspect["HostConfig"]["RestartPolicy"]["Name"] == "always"
    assert inspect["Config"]["Labels"]["application"] == "skupper"
    mgmt = inspect["HostConfig"]["PortBindings"]["5671/tcp"][0]
    assert mgmt["HostIp"] == "127.0.0.1"

    out = site_env.skupper("status")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        f'Skupper is enabled for "root" in namespace "{ns}" with site name "west". '
        "It is not connected to any other sites. It has no exposed services."
    )
    data = json.loads(site_env.skupper("status", "--output", "json").stdout)
    assert data["site_name"] == "west" and data["total_sites"] == 0 and data["router_state"] == "running"
    assert yaml.safe_load(site_env.skupper("status", "-o", "yaml").stdout)["site_name"] == "west"
    verbose = site_env.skupper("status", "-v").stdout
    assert "site name:" in verbose and "west" in verbose

    version = site_env.skupper("version")
    assert version.returncode == 0
    assert f"transport version              {site_env.image}" in version.stdout
    vdata = json.loads(site_env.skupper("version", "-o", "json").stdout)
    assert vdata["router_digest"].startswith("sha256:") and len(vdata["router_digest"]) == 19

    again = site_env.skupper(*_init_args("west"))
    assert again.returncode == 1
    assert again.stderr.strip() == f"Skupper has already been initialized for user 'root' in namespace '{ns}'."

    out = site_env.skupper("delete")
    assert out.returncode == 0 and f"Skupper is now removed for user 'root' in namespace '{ns}'." in out.stdout
    assert labelled(ns) == []
    out = site_env.skupper("delete")
    assert out.returncode == 0 and f"Skupper is not enabled for user 'root' in namespace '{ns}'" in out.stdout


def test_status_reports_a_dead_router(site_env):
    assert site_env.skupper(*_init_args("east")).returncode == 0
    podman_cli("update", "--restart-policy", "no", f"{site_env.namespace}-skupper-router", check=False)
    podman_cli("stop", "-t", "0", f"{site_env.namespace}-skupper-router")
    out = site_env.skupper("status")
    assert out.returncode != 0
    assert "not working" in out.stderr or "router" in out.stderr
    assert "Skupper is enabled" not in out.stdout
    podman_cli("rm", "-f", "-t", "0", f"{site_env.namespace}-skupper-router")
    out = site_env.skupper("status")
    assert out.returncode != 0
    assert f"Skupper is not enabled for user 'root' in namespace '{site_env.namespace}'" in out.stderr
    assert f"To clean them up, run: skupper delete -n {site_env.namespace}" in out.stderr
    assert site_env.skupper("delete").returncode == 0
    assert labelled(site_env.namespace) == []


def test_python_api_round_trip(site_env):
    from skupper_podman import InitOptions, Site, site_status

    site = Site.open(site_env.namespace)
    result = site.init(InitOptions(site_name="api-site", ingress_hosts=["host.containers.internal"],
                                   bind_port=free_port(), bind_port_edge=free_port(), timeout=60))
    assert result.site.name == "api-site" and result.site.ingress_hosts[0] == "skupper-router"
    assert "host.containers.internal" in result.site.ingress_hosts
    status = site_status(site)
    assert status.site_name == "api-site" and status.total_sites == 0
    assert site.delete() is True
    assert labelled(site_env.namespace) == []


def test_start_stop_scripts_round_trip(site_env):
    """The scripts systemd would run stop the site's router and bring it back answering."""
    import subprocess
    from pathlib import Path

    assert site_env.skupper(*_init_args("scripts")).returncode == 0
    data_dir = Path(site_env.env["XDG_DATA_HOME"]) / "skupper/namespaces" / site_env.namespace
    start, stop = data_dir / "start-podman.sh", data_dir / "stop-podman.sh"
    assert start.stat().st_mode & 0o111 and stop.stat().st_mode & 0o111
    subprocess.run([str(stop)], check=True, capture_output=True, timeout=120)
    state = podman_cli("inspect", "-f", "{{.State.Status}}", f"{site_env.namespace}-skupper-router").stdout.strip()
    assert state == "exited"
    assert site_env.skupper("status").returncode != 0
    subprocess.run([str(start)], check=True, capture_output=True, timeout=120)
    from skupper_podman import Site

    site = Site.open(site_env.namespace)
    with site.management() as client:
        assert client.wait_ready(30)["id"] == "scripts"
    out = site_env.skupper("status")
    assert out.returncode == 0 and 'with site name "scripts"' in out.stdout


def test_default_namespace_uses_the_1_5_names(site_env):
    """Without --namespace the site has exactly Skupper 1.5's resource names."""
    from tests.conftest import sweep_namespace

    if podman_cli("container", "exists", "skupper-router", check=False).returncode == 0:
        pytest.fail("a default-namespace site already exists on this machine; refusing to touch it")
    try:
        out = site_env.skupper(*_init_args("default-site"), namespace="")
        assert out.returncode == 0, out.stderr
        names = labelled("default")
        for name in ("skupper-router", "skupper", "skupper-site-ca", "skupper-local-ca", "skupper-service-ca",
                     "skupper-local-server", "skupper-local-client", "skupper-site-server",
                     "skupper-internal", "skupper-router-certs", "skupper-services"):
            assert name in names
        aliases = json.loads(podman_cli("inspect", "skupper-router").stdout)[0]["NetworkSettings"]["Networks"]
        assert set(aliases["skupper"]["Aliases"]) >= {"skupper-router", "skupper-router-local"}
        data_home = site_env.env["XDG_DATA_HOME"]
        assert (Path(data_home) / "skupper/podman.yaml").exists()
        out = site_env.skupper("status", namespace="")
        assert out.stdout.startswith('Skupper is enabled for "root" with site name "default-site".')
        assert site_env.skupper("delete", namespace="").returncode == 0
        assert labelled("default") == []
    finally:
        sweep_namespace("default")


def test_unlabelled_resources_are_never_removed(site_env):
    """A container, volume or network without application=skupper survives every removal path."""
    from skupper_podman.errors import ResourceConflict
    from skupper_podman.podman.adapter import PodmanAdapter
    from skupper_podman.podman.endpoint import resolve

    ns = site_env.namespace
    names = (f"{ns}-foreign", f"{ns}-foreign-vol", f"{ns}-foreign-net")
    podman_cli("create", "--name", names[0], site_env.image, "true")
    podman_cli("volume", "create", names[1])
    podman_cli("network", "create", names[2])
    try:
        adapter = PodmanAdapter(resolve())
        for remove, name in zip((adapter.remove_container, adapter.remove_volume, adapter.remove_network), names):
            with pytest.raises(ResourceConflict, match="not (owned by|managed by) Skupper"):
                remove(name)
        assert podman_cli("container", "exists", names[0], check=False).returncode == 0
        assert podman_cli("volume", "exists", names[1], check=False).returncode == 0
        assert podman_cli("network", "exists", names[2], check=False).returncode == 0
    finally:
        podman_cli("rm", "-f", names[0], check=False)
        podman_cli("volume", "rm", "-f", names[1], check=False)
        podman_cli("network", "rm", "-f", names[2], check=False)
