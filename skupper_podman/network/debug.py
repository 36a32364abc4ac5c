"""``debug dump`` (one .tar.gz for a bug report) and ``debug events`` (the controller's recent events).

The dump holds versions, Podman's ``version``/``info``, the inspect of every container, volume and
network of the site, router and controller logs, the router config, the services file, the
router's answers to the management queries behind ``skstat -g -c -l -n -a -m``, link and token
metadata (names, labels, certificate files' names; never their keys), and the flow records the
site controller holds. It never reads a key or token file, and every text goes through
:func:`redact` on its way in, so a PEM private key or a password field cannot slip through.
"""
from __future__ import annotations

import io
import json
import re
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skupper_podman.errors import SkupperError, StateError
from skupper_podman.links.tokens import CONNECTION_TOKEN, TOKEN_CLAIM
from skupper_podman.paths import INTERNAL, SERVICES, TYPE_LABEL

if TYPE_CHECKING:
    from skupper_podman.site.lifecycle import Site

# skstat flag -> the management entity type it shows
SKSTAT = {"g": "router", "c": "connection", "l": "router.link", "n": "router.node", "a": "router.address",
          "m": "allocator"}
LOG_TAIL = 5000
_PEM_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL)
_SECRET_FIELD = re.compile(r'("(?:password|tls\.key|token|secret)"\s*:\s*)"[^"]*"', re.IGNORECASE)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """Text with PEM private keys and password/key/secret JSON fields replaced."""
    return _SECRET_FIELD.sub(rf'\1"{REDACTED}"', _PEM_KEY.sub(REDACTED, text))


@dataclass
class DumpResult:
    path: Path
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # parts that could not be collected


class _Archive:
    """The tar.gz being written: every member redacted; a part that fails is noted, not fatal."""

    def __init__(self, tar: tarfile.TarFile, root: str) -> None:
        self.tar, self.root = tar, root
        self.result_files: list[str] = []
        self.problems: list[str] = []

    def add(self, name: str, content: str | Any) -> None:
        text = content if isinstance(content, str) else json.dumps(content, indent=2, default=str)
        data = redact(text).encode()
        info = tarfile.TarInfo(f"{self.root}/{name}")
        info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
        self.tar.addfile(info, io.BytesIO(data))
        self.result_files.append(name)

    def collect(self, name: str, produce: Callable[[], str | Any]) -> None:
        try:
            self.add(name, produce())
        except (SkupperError, OSError, ValueError, KeyError) as err:
            self.problems.append(f"{name}: {' '.join(str(err).split())}")


def debug_dump(site: Site, path: str | Path) -> DumpResult:
    """Write the site's debug archive to ``path`` (``.tar.gz`` added when missing)."""
    target = Path(path)
    if not target.name.endswith((".tar.gz", ".tgz")):
        target = target.with_name(target.name + ".tar.gz")
    info = site.get()
    root = target.name.removesuffix(".tar.gz").removesuffix(".tgz") or "skupper-dump"
    try:
        with tarfile.open(target, "w:gz") as tar:
            archive = _Archive(tar, root)
            _collect(site, info, archive)
            archive.add("problems.txt", "\n".join(archive.problems) + "\n")
    except OSError as err:
        raise StateError(f"cannot write {target}: {err.strerror or err}") from None
    return DumpResult(target, archive.result_files, archive.problems)


def _collect(site: Site, info: Any, archive: _Archive) -> None:
    from skupper_podman.network.collector import read_report
    from skupper_podman.site.status import version_info

    podman = site.podman
    archive.collect("versions.json", lambda: {**version_info(site).to_dict(), "site_version": info.version,
                                              "router_build": _router_build(site)})
    archive.collect("podman/version-info.json", podman.describe)
    containers = podman.containers([site.layout.label_filter])
    for ctr in containers:
        archive.collect(f"containers/{ctr.name}.json", lambda n=ctr.name: podman.inspect_raw("containers", n))
        archive.collect(f"logs/{ctr.name}.txt", lambda n=ctr.name: podman.container_logs(n, LOG_TAIL))
    for vol in podman.volumes(site.layout.label_filter):
        archive.collect(f"volumes/{vol.name}.json", lambda n=vol.name: podman.inspect_raw("volumes", n))
        if vol.labels.get(TYPE_LABEL) in (CONNECTION_TOKEN, TOKEN_CLAIM):
            archive.collect(f"links/{vol.name}.json", lambda v=vol: _link_metadata(site, v))
    for net in podman.networks(site.layout.label_filter):
        archive.collect(f"networks/{net.name}.json", lambda n=net.name: podman.inspect_raw("networks", n))
    archive.collect("config/skrouterd.json", lambda: site.files.read(site.vol(INTERNAL), "skrouterd.json").decode())
    archive.collect("config/skupper-services.json",
                    lambda: site.files.read(site.vol(SERVICES), "skupper-services.json").decode())
    for flag, entity in SKSTAT.items():
        archive.collect(f"skstat/skstat-{flag}.json", lambda e=entity: _query(site, info, e))
    archive.collect("flow/network.json", lambda: read_report(site, require_fresh=False).raw)


def _router_build(site: Site) -> str:
    with site.management() as client:
        rows = client.query("router", ["version"])
    return str(rows[0].get("version", "")) if rows else ""


def _query(site: Site, info: Any, entity: str) -> list[dict[str, Any]]:
    with site.management(info) as client:
        return client.query(entity)


def _link_metadata(site: Site, volume: Any) -> dict[str, Any]:
    """A link's token volume: its labels and the names (only) of the files it holds."""
    names = sorted(p.name for p in site.files.path(volume.name).iterdir())
    return {"volume": volume.name, "labels": dict(volume.labels), "files": names}


@dataclass
class EventGroup:
    """Events of one name: how many, the latest time, and each distinct message with its count."""

    name: str
    count: int
    last: float
    messages: list[tuple[int, str, float]] = field(default_factory=list)  # (count, message, last time)


def controller_events(site: Site) -> list[EventGroup]:
    """The site controller's recent events grouped by name, newest group first (1.5's layout)."""
    from skupper_podman.network.collector import read_report

    report = read_report(site, require_fresh=False)
    groups: dict[str, dict[str, list[float]]] = {}
    for item in report.events:
        groups.setdefault(str(item.get("name")), {}).setdefault(str(item.get("message")), []).append(
            float(item.get("time") or 0))
    result = []
    for name, messages in groups.items():
        rows = sorted(((len(t), msg, max(t)) for msg, t in messages.items()), key=lambda r: -r[2])
        result.append(EventGroup(name, sum(r[0] for r in rows), max(r[2] for r in rows), rows))
    return sorted(result, key=lambda g: -g.last)


def dump_files(path: str | Path) -> dict[str, bytes]:
    """Every member of a dump (for tests and tools)."""
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
