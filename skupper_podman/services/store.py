"""``skupper-services.json``: the locked, atomically written store of service definitions."""
from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from skupper_podman.errors import DamagedState, InputError
from skupper_podman.services.model import ServiceDefinition

# -- the JSON store ----------------------------------------------------------------------------

class ServiceStore:
    """``skupper-services.json``: reads are lock-free (writes replace the file atomically);
    every change is a read-modify-write under an exclusive ``flock`` on the ``.lock`` file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def load(self) -> dict[str, ServiceDefinition]:
        """Every definition by address; a missing or empty file means none."""
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as err:
            raise DamagedState(f"cannot read services file {self.path}: {err.strerror or err}") from None
        if not text.strip():
            return {}
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as err:
            raise DamagedState(f"damaged services file {self.path}: not JSON ({err})") from None
        if not isinstance(data, dict):
            raise DamagedState(f"damaged services file {self.path}: not a JSON object keyed by address")
        try:
            return {address: ServiceDefinition.from_json({**entry, "address": entry.get("address") or address})
                    for address, entry in data.items()}
        except (AttributeError, TypeError, ValueError, OverflowError):
            raise DamagedState(f"damaged services file {self.path}: a service entry is malformed") from None

    def get(self, address: str) -> ServiceDefinition:
        found = self.load().get(address)
        if found is None:
            raise InputError(f"Service {address} not defined")
        return found

    @contextmanager
    def edit(self) -> Iterator[dict[str, ServiceDefinition]]:
        """Yield the definitions to change; they are written back when the block succeeds."""
        with self._locked():
            services = self.load()
            yield services
            self._write(services)

    def add(self, definition: ServiceDefinition) -> None:
        with self.edit() as services:
            if definition.address in services:
                raise InputError(f"Service {definition.address} already defined")
            services[definition.address] = definition

    def remove(self, address: str) -> ServiceDefinition | None:
        with self.edit() as services:
            return services.pop(address, None)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _chown_like_parent(self.lock_path)
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _write(self, services: Mapping[str, ServiceDefinition]) -> None:
        data = {address: services[address].to_json() for address in sorted(services)}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            os.fchmod(fd, 0o644)
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle, separators=(",", ":"))
            _chown_like_parent(Path(tmp))
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _chown_like_parent(path: Path) -> None:
    """Files in a volume stay owned like the volume (the router's user after a ``U`` mount)."""
    if os.geteuid() == 0:
        parent = path.parent.stat()
        os.chown(path, parent.st_uid, parent.st_gid)


