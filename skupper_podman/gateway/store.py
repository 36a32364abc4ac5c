"""Where a site keeps its gateways: one labelled volume per gateway.

The volume ``[<namespace>-]skupper-gateway-<name>`` carries the site's labels (so ``delete``
and test sweeps find it) and holds everything the gateway router needs, in 1.5's gateway
directory layout, plus the definition::

    gateway.json                                     what the gateway is (model.Gateway)
    config/skrouterd.json                            its router config
    skupper-router-certs/conn1-profile/{tls.crt,tls.key,ca.crt}   its client credential (key 0600)

A podman gateway mounts the volume at ``/opt/skupper``; a docker or service gateway reads its
directory on the host.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from skupper_podman._util import exclusive_lock
from skupper_podman.errors import DamagedState, InputError, PodmanError, StateError
from skupper_podman.gateway.model import Gateway
from skupper_podman.gateway.routerconf import CERTS_SUBDIR, CONFIG_PATH
from skupper_podman.paths import TYPE_LABEL
from skupper_podman.pki import Credential
from skupper_podman.rollback import Rollback
from skupper_podman.site.lifecycle import Site

GATEWAY_TYPE = "gateway-definition"
NAME_LABEL = "skupper.io/gateway-name"
KIND_LABEL = "skupper.io/gateway-type"
DEFINITION = "gateway.json"
VOLUME_PREFIX = "skupper-gateway-"


class GatewayStore:
    """The gateway volumes of one site."""

    def __init__(self, site: Site) -> None:
        self.site = site

    def volume(self, name: str) -> str:
        return self.site.vol(f"{VOLUME_PREFIX}{name}")

    def names(self) -> list[str]:
        """Names of every gateway of the site, sorted."""
        return sorted(v.labels.get(NAME_LABEL, "") for v in self.site.podman.volumes(self.site.layout.label_filter)
                      if v.labels.get(TYPE_LABEL) == GATEWAY_TYPE and v.labels.get(NAME_LABEL))

    def find(self, name: str) -> Gateway | None:
        """The gateway ``name``, or None."""
        volume = self.volume(name)
        if self.site.podman.volume(volume) is None:
            return None
        source = f"{DEFINITION} in volume {volume}"
        try:
            data = json.loads(self.site.files.read(volume, DEFINITION))
            return Gateway.from_json(data, source)
        except (OSError, ValueError, KeyError, TypeError, InputError) as err:
            raise DamagedState(f"gateway {name} is damaged ({source}: {' '.join(str(err).split())}); "
                               "'skupper gateway delete' removes it") from None

    def get(self, name: str) -> Gateway:
        found = self.find(name)
        if found is None:
            raise InputError(f"gateway {name} not found")
        return found

    def all(self) -> list[tuple[str, Gateway | DamagedState]]:
        """Every gateway by name, or the error that says why its definition cannot be read."""
        found: list[tuple[str, Gateway | DamagedState]] = []
        for name in self.names():
            try:
                gateway = self.find(name)
            except DamagedState as err:
                found.append((name, err))
                continue
            if gateway is not None:
                found.append((name, gateway))
        return found

    def directory(self, name: str) -> Path:
        """The gateway's directory on this host (the volume's mountpoint)."""
        return self.site.files.mountpoint(self.volume(name))

    def create(self, gateway: Gateway, credential: Credential, undo: Rollback) -> Path:
        """Create the gateway's volume with its credential; return its directory (the config
        and definition follow with :meth:`save`, once the directory is known)."""
        volume = self.volume(gateway.name)
        labels = {**self.site.layout.labels, TYPE_LABEL: GATEWAY_TYPE, NAME_LABEL: gateway.name,
                  KIND_LABEL: gateway.kind}
        try:
            self.site.podman.create_volume(volume, labels)
        except PodmanError as err:
            raise StateError(f"cannot store gateway {gateway.name}: {err}") from None
        undo.add(lambda: self.site.podman.remove_volume(volume))
        self.site.files.write_all(volume, credential.files(), subdir=CERTS_SUBDIR)
        return self.directory(gateway.name)

    def save(self, gateway: Gateway, config_text: str) -> None:
        """Write the router config, then the definition (the definition is the record)."""
        volume = self.volume(gateway.name)
        self.site.files.write(volume, CONFIG_PATH, config_text)
        self.site.files.write(volume, DEFINITION, json.dumps(gateway.to_json(), indent=2))

    def credential(self, name: str) -> Credential:
        return Credential.from_data(self.site.files.read_all(self.volume(name), CERTS_SUBDIR))

    @contextmanager
    def locked(self, name: str) -> Iterator[None]:
        """Serialise read-modify-write cycles of one gateway across processes."""
        with exclusive_lock(self.directory(name), f"gateway {name}", error=StateError):
            yield

    def remove(self, name: str) -> None:
        self.site.podman.remove_volume(self.volume(name))
