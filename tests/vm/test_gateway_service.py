"""The service-type gateway where systemd runs: ``skrouterd`` (the real router 2.5.3, installed
under /usr/local by ``build-real-router --host`` and copied into the VM with the libraries it
needs) under a unit, exposing the VM's HTTP application to root's site.

In order: ``gateway expose`` (the default type) → the application answers a container on the
site network by the service name; the unit's router is SIGKILLed → systemd restarts it and the
binding works again; ``gateway unexpose`` → the unit and the service are gone; a bundle launched
by a user without skupper runs under her user unit; the VM reboots → the gateway's unit starts
at boot and the binding works with no command; site ``delete`` stops the unit and names the
bundle. The reboot comes late on purpose: after a reboot, nested netavark here sometimes loses
a SYN-ACK between the VM and its containers, and a new connection (a new gateway's) can then
hang in SYN-SENT for a minute or more, while connections the routers re-dial recover.
"""
from __future__ import annotations

import json
import os
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from tests.vm.conftest import ROUTER_IMAGE
from tests.vm.vmsim import ALICE, APP_PORT, NIC_ADDRESS, VM, poll

pytestmark = pytest.mark.e2e

NS = "gws"
GATEWAY = "svcgw"
UNIT = f"{NS}-{GATEWAY}.service"
APP_BODY = "hello from the vmsim app\n"
INSTALLED = Path("/usr/local/lib/skupper-router/installed-files.txt")
CLIENT = ("import sys,time,urllib.request\n"
          "end=time.monotonic()+float(sys.argv[2])\n"
          "while True:\n"
          "  try:\n"
          "    print(urllib.request.urlopen(sys.argv[1],timeout=5).read().decode(),end=''); break\n"
          "  except Exception as e:\n"
          "    if time.monotonic()>end: sys.exit(str(e))\n"
          "    time.sleep(0.5)\n")


def _ok(done) -> str:
    assert done.returncode == 0, f"rc {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    return done.stdout


def _router_files() -> list[str]:
    """Every file build-real-router installed, plus the shared libraries and SASL plugin
    skrouterd loads (the VM has no network to install packages)."""
    if not INSTALLED.exists():
        pytest.fail("no skrouterd on this host: run ../shared/tools/build-real-router --host (scripts/setup.sh does)")
    files = [line for line in INSTALLED.read_text().splitlines() if line and Path(line).exists()]
    ldd = subprocess.run(["ldd", "/usr/local/bin/skrouterd"], capture_output=True, text=True, check=True).stdout
    libraries = [part for line in ldd.splitlines() for part in line.split() if part.startswith("/")]
    # the ANONYMOUS SASL mechanism of the gateway's management listener (libsasl2-modules)
    sasl = [str(p) for p in Path("/usr/lib/x86_64-linux-gnu/sasl2").glob("libanonymous.so*")]
    return files + [str(Path(lib).resolve()) for lib in libraries] + libraries + sasl


def install_skrouterd(vm: VM, work: Path) -> None:
    """Copy skrouterd into the VM (without replacing a file the VM has) and check it runs."""
    bundle = work / "skrouterd.tar"
    with tarfile.open(bundle, "w") as archive:
        for path in sorted(set(_router_files())):
            archive.add(path, arcname=path.lstrip("/"), recursive=False)
    vm.copy_in(bundle, "/tmp/skrouterd.tar")
    vm.run(["tar", "-xf", "/tmp/skrouterd.tar", "--skip-old-files", "-C", "/"])
    vm.run(["ldconfig"])
    assert _ok(vm.run(["skrouterd", "--version"])).strip() == "2.5.3"


def fetch(vm: VM, seconds: float = 60, service: str = "app") -> str | None:
    """GET http://<service>:8080/ from a container on the site's network inside the VM."""
    done = vm.run(["podman", "run", "--rm", "--network", f"{NS}-skupper", ROUTER_IMAGE, "python3", "-c", CLIENT,
                   f"http://{service}:{APP_PORT}/", str(seconds)], check=False, timeout=seconds + 60)
    return done.stdout if done.returncode == 0 else None


def gateway_status(vm: VM, name: str = GATEWAY) -> dict:
    found = json.loads(_ok(vm.skupper("gateway", "status", "-o", "json", "-n", NS)))
    return next((g for g in found if g["name"] == name), {})


def main_pid(vm: VM) -> int:
    return int(vm.run(["systemctl", "show", "-p", "MainPID", "--value", UNIT], check=False).stdout.strip() or 0)


@pytest.fixture(scope="module")
def gateway_vm(vm: VM, tmp_path_factory: pytest.TempPathFactory):
    install_skrouterd(vm, tmp_path_factory.mktemp("skrouterd"))
    _ok(vm.skupper("init", "-n", NS, "--site-name", "vm-gws", "--ingress-host", NIC_ADDRESS,
                   "--bind-port", "56671", "--bind-port-edge", "46671"))
    yield vm
    if not os.environ.get("VMSIM_KEEP"):  # a kept VM keeps the site too, to look into
        vm.skupper("delete", "-n", NS)


def test_service_gateway_exposes_the_vm_application(gateway_vm: VM, figures):
    vm = gateway_vm
    start = time.monotonic()
    _ok(vm.skupper("gateway", "expose", "app", "127.0.0.1", str(APP_PORT), "--name", GATEWAY, "-n", NS))
    figures("service gateway: expose (init + bind) command", time.monotonic() - start)
    assert vm.unit_active(UNIT) == "active"
    unit = _ok(vm.run(["systemctl", "cat", UNIT]))
    assert "ExecStart=/usr/local/bin/skrouterd -c /var/lib/containers/storage/volumes/" in unit
    assert "Restart=always" in unit
    status = gateway_status(vm)
    assert status["type"] == "service" and status["state"] == "running" and status["connected"] is True
    assert status["version"] == "2.5.3"
    assert fetch(vm) == APP_BODY
    figures("service gateway: expose -> reachable by name", time.monotonic() - start)


def test_killed_gateway_router_is_restarted_by_systemd(gateway_vm: VM, figures):
    vm = gateway_vm
    victim = main_pid(vm)
    assert victim > 0
    start = time.monotonic()
    vm.run(["kill", "-9", str(victim)])
    poll(lambda: main_pid(vm) not in (0, victim) and vm.unit_active(UNIT) == "active", 60, "the restarted unit")
    poll(lambda: gateway_status(vm).get("connected") is True, 60, "the restarted gateway connected")
    figures("service gateway: SIGKILL -> connected again", time.monotonic() - start)
    assert fetch(vm) == APP_BODY


def test_unexpose_removes_the_unit_and_the_service(gateway_vm: VM):
    vm = gateway_vm
    _ok(vm.skupper("gateway", "unexpose", "app", "--name", GATEWAY, "-n", NS))
    assert vm.unit_active(UNIT) != "active"
    assert vm.run(["test", "-e", f"/etc/systemd/system/{UNIT}"], check=False).returncode != 0
    assert _ok(vm.skupper("gateway", "status", "-n", NS)).strip() == "No gateway definition found"
    assert "app:8080" not in _ok(vm.skupper("service", "status", "-n", NS))


BUNDLE_YAML = f"""\
name: vmbundle
bindings:
  - name: vmapp
    host: 127.0.0.1
    service: {{address: "vmapp:{APP_PORT}", protocol: tcp, ports: [{APP_PORT}]}}
    target_ports: [{APP_PORT}]
qdr-listeners:
  - {{name: amqp, host: localhost, port: 25672}}
"""


def test_a_bundle_launched_by_a_user_runs_under_a_user_unit(gateway_vm: VM, figures):
    """``sh ./launch.py`` (the service type) as alice, who has no skupper and no site: her
    user unit runs skrouterd, which reaches root's site by its ingress address."""
    vm = gateway_vm
    _ok(vm.skupper("service", "create", "vmapp", str(APP_PORT), "-n", NS))
    vm.write("/root/vmbundle.yaml", BUNDLE_YAML)
    _ok(vm.skupper("gateway", "generate-bundle", "/root/vmbundle.yaml", "/tmp", "-n", NS))
    vm.run(["loginctl", "enable-linger", ALICE.name])
    poll(lambda: vm.unit_active(f"user@{ALICE.uid}.service") == "active", 60, "alice's user manager")
    vm.run(["sh", "-c", "mkdir -p /home/alice/gw && tar -xzf /tmp/vmbundle.tar.gz -C /home/alice/gw"
                        + " && chown -R alice: /home/alice/gw"])
    start = time.monotonic()
    launch = vm.run(["sh", "-c", "cd /home/alice/gw && PATH=/usr/local/bin:/usr/bin:/bin sh ./launch.py"], ALICE,
                    check=False)
    assert launch.returncode == 0, launch.stdout + launch.stderr
    try:
        poll(lambda: gateway_status(vm, "vmbundle").get("connected") is True, 90, "the bundle's router connected")
    except AssertionError as err:
        journal = vm.run(["journalctl", "--user", "-u", "vmbundle.service", "-n", "40", "--no-pager"], ALICE,
                         check=False)
        raise AssertionError(f"{err}\n{gateway_status(vm, 'vmbundle')}\n{journal.stdout}{journal.stderr}") from None
    figures("bundle (service type, user unit): launch.py -> connected", time.monotonic() - start)
    assert gateway_status(vm, "vmbundle")["type"] == "bundle"
    assert fetch(vm, service="vmapp") == APP_BODY
    removed = vm.run(["sh", "-c", "cd /home/alice/gw && sh ./remove.py"], ALICE, check=False)
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert vm.run(["test", "-e", "/home/alice/.local/share/skupper/bundle/vmbundle"], check=False).returncode != 0
    assert vm.run(["test", "-e", "/home/alice/.config/systemd/user/vmbundle.service"], check=False).returncode != 0
    poll(lambda: gateway_status(vm, "vmbundle").get("connected") is False, 30, "the removed bundle disconnected")
    vm.run(["loginctl", "disable-linger", ALICE.name])


def test_gateway_unit_starts_at_boot(gateway_vm: VM, figures):
    vm = gateway_vm
    _ok(vm.skupper("gateway", "expose", "app", "127.0.0.1", str(APP_PORT), "--name", GATEWAY, "-n", NS))
    assert fetch(vm) == APP_BODY
    vm.reboot()
    poll(lambda: vm.unit_active(UNIT) == "active", 60, "the gateway unit after boot")
    poll(lambda: fetch(vm, seconds=5) == APP_BODY, 90, "the application through the gateway after boot", 0.5)
    figures("service gateway: reboot -> reachable by name", vm.since_boot())


def test_site_delete_stops_the_gateway_unit(gateway_vm: VM):
    vm = gateway_vm
    assert vm.unit_active(UNIT) == "active"  # the gateway the reboot test brought back
    out = _ok(vm.skupper("delete", "-n", NS))
    assert f"Gateway {GATEWAY} (service unit {NS}-{GATEWAY}) removed" in out
    assert "Gateway vmbundle runs from a bundle elsewhere: it can no longer connect" in out
    assert vm.unit_active(UNIT) != "active"
    assert vm.run(["test", "-e", f"/etc/systemd/system/{UNIT}"], check=False).returncode != 0
