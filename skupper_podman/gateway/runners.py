"""How a gateway router runs on this host, one runner per gateway type.

- ``podman``: a router container on the host's network through the Podman API (the adapter),
  mounting the gateway's volume at ``/opt/skupper``, restart policy ``always``;
- ``docker``: the same container made with a ``docker`` CLI (Docker, or Podman's
  ``podman-docker`` emulation), the gateway directory bind-mounted;
- ``service``: ``skrouterd`` on ``PATH`` run by a systemd unit (a user unit; a system unit for
  root, as the site's own unit) with ``Restart=always``.

Each runner starts, stops and reports the state of one gateway; nothing else here knows about
containers or units.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Protocol

from skupper_podman.errors import PodmanError, ResourceConflict, SystemdError
from skupper_podman.gateway.model import Gateway
from skupper_podman.gateway.routerconf import CONFIG_PATH, CONTAINER_DIR
from skupper_podman.paths import COMPONENT_LABEL
from skupper_podman.podman.adapter import ContainerSpec, VolumeMount
from skupper_podman.resources import jinja_env
from skupper_podman.site.lifecycle import Site
from skupper_podman.systemd.units import (
    CommandResult,
    CommandRunner,
    SubprocessRunner,
    SystemdManager,
)

GATEWAY_COMPONENT = "gateway"
GATEWAY_LABEL = "skupper.io/gateway"
SKROUTERD_MISSING = "skrouterd not found, please 'dnf install skupper-router' first or use --type [docker|podman]"


def process_name(site: Site, gateway: str) -> str:
    """The container or unit name: the gateway name (1.5), prefixed in a named namespace."""
    return site.layout.name(gateway)


def container_env(gateway: Gateway) -> dict[str, str]:
    return {"QDROUTERD_CONF": f"{CONTAINER_DIR}/{CONFIG_PATH}", "QDROUTERD_CONF_TYPE": "json",
            "SKUPPER_SITE_ID": f"gateway_{gateway.name}_{gateway.site_id}"}


class Runner(Protocol):
    """Starts, stops and reports one gateway router."""

    kind: str
    working_dir_in_process: bool  # True: the router reads the host directory (not /opt/skupper)

    def check(self, site: Site, gateway: str) -> None: ...
    def start(self, site: Site, gateway: Gateway, directory: Path) -> None: ...
    def stop(self, site: Site, gateway: str) -> None: ...
    def state(self, site: Site, gateway: str) -> str: ...


class PodmanRunner:
    """A router container made through the Podman API (the site's own Podman)."""

    kind = "podman"
    working_dir_in_process = False

    def check(self, site: Site, gateway: str) -> None:
        name = process_name(site, gateway)
        if site.podman.container(name) is not None:
            raise ResourceConflict(f"a container named {name} already exists")

    def start(self, site: Site, gateway: Gateway, directory: Path) -> None:
        info = site.get()
        site.podman.create_container(ContainerSpec(
            name=process_name(site, gateway.name), image=gateway.image or info.image,
            labels={**site.layout.labels, COMPONENT_LABEL: GATEWAY_COMPONENT, GATEWAY_LABEL: gateway.name},
            env=container_env(gateway), network_mode="host", extra_hosts=dict(gateway.extra_hosts),
            mounts=[VolumeMount(site.vol(f"skupper-gateway-{gateway.name}"), CONTAINER_DIR)],
            rootless_keep_id=site.podman.rootless,
        ))

    def stop(self, site: Site, gateway: str) -> None:
        site.podman.remove_container(process_name(site, gateway))

    def state(self, site: Site, gateway: str) -> str:
        found = site.podman.container(process_name(site, gateway))
        return found.state if found is not None else "missing"


class DockerRunner:
    """The same router container made with a ``docker`` command line."""

    kind = "docker"
    working_dir_in_process = False

    def __init__(self, runner: CommandRunner | None = None, binary: str = "docker") -> None:
        self.runner = runner or SubprocessRunner(timeout=120)
        self.binary = binary

    def _docker(self, *args: str) -> CommandResult:
        return self.runner.run([self.binary, *args])

    def check(self, site: Site, gateway: str) -> None:
        if shutil.which(self.binary) is None:
            raise PodmanError(f"Failed to start gateway as container: {self.binary} could not be found")
        name = process_name(site, gateway)
        if self._docker("container", "inspect", name).ok:
            raise ResourceConflict(f"a container named {name} already exists")

    def start(self, site: Site, gateway: Gateway, directory: Path) -> None:
        info = site.get()
        labels = {**site.layout.labels, COMPONENT_LABEL: GATEWAY_COMPONENT, GATEWAY_LABEL: gateway.name}
        args = ["run", "--restart", "always", "-d", "--name", process_name(site, gateway.name),
                "--network", "host", "--user", f"{directory.stat().st_uid}:{directory.stat().st_gid}"]
        for key, value in container_env(gateway).items():
            args += ["-e", f"{key}={value}"]
        for host, ip in gateway.extra_hosts.items():
            args += ["--add-host", f"{host}:{ip}"]
        for key, value in labels.items():
            args += ["--label", f"{key}={value}"]
        args += ["-v", f"{directory}:{CONTAINER_DIR}:z", gateway.image or info.image]
        result = self._docker(*args)
        if not result.ok:
            raise PodmanError(f"Failed to start gateway as container: {result.detail}")

    def stop(self, site: Site, gateway: str) -> None:
        result = self._docker("rm", "-f", process_name(site, gateway))
        if not result.ok and "no such container" not in result.detail.lower():
            raise PodmanError(f"Unable to remove gateway container: {result.detail}")

    def state(self, site: Site, gateway: str) -> str:
        result = self._docker("inspect", "--format", "{{.State.Status}}", process_name(site, gateway))
        return (result.stdout.strip() or "unknown") if result.ok else "missing"


class ServiceRunner:
    """``skrouterd`` run by a systemd unit ``<name>.service`` (1.5's unit, plus Restart=always)."""

    kind = "service"
    working_dir_in_process = True

    def __init__(self, systemd: SystemdManager | None = None) -> None:
        self.systemd = systemd or SystemdManager()

    def unit(self, site: Site, gateway: str) -> str:
        return f"{process_name(site, gateway)}.service"

    def unit_path(self, site: Site, gateway: str) -> Path:
        return self.systemd.unit_dir / self.unit(site, gateway)

    def check(self, site: Site, gateway: str) -> None:
        if shutil.which("skrouterd") is None:
            raise SystemdError(SKROUTERD_MISSING)
        if self.unit_path(site, gateway).exists():
            raise ResourceConflict(f"a unit {self.unit_path(site, gateway)} already exists")

    def start(self, site: Site, gateway: Gateway, directory: Path) -> None:
        binary = shutil.which("skrouterd")
        if binary is None:
            raise SystemdError(SKROUTERD_MISSING)
        text = jinja_env("templates").get_template("gateway.service.j2").render(
            binary=binary, config=directory / CONFIG_PATH, system=self.systemd.system)
        path = self.unit_path(site, gateway.name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        except OSError as err:
            raise SystemdError(f"Failed to write unit file: {err.strerror or err}") from None
        unit = self.unit(site, gateway.name)
        for args, failure in ((("enable", unit), "Unable to enable user service"),
                              (("daemon-reload",), "Unable to user service daemon-reload"),
                              (("start", unit), "Unable to start user service")):
            result = self.systemd.systemctl(*args)
            if not result.ok:
                self.stop(site, gateway.name)
                raise SystemdError(f"Failed to create user service: {failure}: {result.detail}")

    def stop(self, site: Site, gateway: str) -> None:
        unit = self.unit(site, gateway)
        path = self.unit_path(site, gateway)
        for args in (("stop", unit), ("disable", unit)):
            self.systemd.systemctl(*args)
        existed = path.exists()
        path.unlink(missing_ok=True)
        if existed:
            self.systemd.systemctl("daemon-reload")
            self.systemd.systemctl("reset-failed", unit)

    def state(self, site: Site, gateway: str) -> str:
        if not self.unit_path(site, gateway).exists():
            return "missing"
        result = self.systemd.systemctl("is-active", self.unit(site, gateway))
        return "running" if result.stdout.strip() == "active" else (result.stdout.strip() or "unknown")


def runner_for(kind: str) -> Runner:
    """The runner of a gateway type (``bundle`` gateways run elsewhere: no runner)."""
    runners: dict[str, type] = {"podman": PodmanRunner, "docker": DockerRunner, "service": ServiceRunner}
    return runners[kind]()
