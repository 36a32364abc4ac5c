"""Read and write files inside a site's named volumes, as Skupper 1.5 does: directly in the
volume's mountpoint on the host (which is why only a local Podman endpoint can be used).

Files are chowned to the owner of the volume's data directory. Podman's ``U`` mount option
makes that the router's user once a container has mounted the volume, so files written
afterwards stay readable by the router (uid 10000 in the real image) without a restart.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from skupper_podman.errors import PodmanError, SkupperError
from skupper_podman.podman.adapter import PodmanAdapter
from skupper_podman.podman.records import VolumeRecord

SECRET_MODE = 0o600
PUBLIC_MODE = 0o644


class VolumeFiles:
    """File access inside the named volumes of one Podman endpoint."""

    def __init__(self, podman: PodmanAdapter, label_filter: str = "") -> None:
        """``label_filter`` (``k=v``): the first lookup lists every volume carrying it in one
        call and remembers their mountpoints, instead of one inspect per volume."""
        self.podman = podman
        self.label_filter = label_filter
        self._mountpoints: dict[str, Path] = {}
        self._listed: dict[str, VolumeRecord] | None = None

    def _lookup(self, volume: str) -> VolumeRecord | None:
        if self._listed is None and self.label_filter:
            self._listed = {v.name: v for v in self.podman.volumes(self.label_filter)}
        if self._listed is not None and volume in self._listed:
            return self._listed[volume]
        return self.podman.volume(volume)  # created since the list, or not labelled

    def mountpoint(self, volume: str) -> Path:
        if volume not in self._mountpoints:
            info = self._lookup(volume)
            if info is None:
                raise PodmanError(f"volume {volume} not found")
            path = Path(info.mountpoint)
            if not info.mountpoint or not path.is_dir():
                raise SkupperError(
                    f"You cannot use a remote podman endpoint - volume {volume} is not available at {path}"
                )
            self._mountpoints[volume] = path
        return self._mountpoints[volume]

    def path(self, volume: str, relpath: str = "") -> Path:
        root = self.mountpoint(volume)
        target = (root / relpath).resolve() if relpath else root
        if root != target and root.resolve() not in target.parents:
            raise SkupperError(f"refusing to access {relpath} outside volume {volume}")
        return target

    def write(self, volume: str, relpath: str, data: bytes | str, mode: int = PUBLIC_MODE) -> Path:
        """Atomically write ``relpath`` in ``volume`` with ``mode``, owned like the volume's root."""
        target = self.path(volume, relpath)
        root_stat = self.mountpoint(volume).stat()
        target.parent.mkdir(parents=True, exist_ok=True)
        self._chown(target.parent, root_stat)
        payload = data.encode() if isinstance(data, str) else data
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
            self._chown(Path(tmp), root_stat)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def write_all(self, volume: str, files: dict[str, bytes], subdir: str = "") -> None:
        """Write several files; keys (``tls.key``) are owner-only, everything else world-readable."""
        for name, data in files.items():
            mode = SECRET_MODE if name.endswith(".key") or name == "password" else PUBLIC_MODE
            self.write(volume, f"{subdir}/{name}" if subdir else name, data, mode)

    def read(self, volume: str, relpath: str) -> bytes:
        return self.path(volume, relpath).read_bytes()

    def exists(self, volume: str, relpath: str) -> bool:
        return self.path(volume, relpath).exists()

    def read_all(self, volume: str, subdir: str = "") -> dict[str, bytes]:
        base = self.path(volume, subdir)
        return {p.name: p.read_bytes() for p in sorted(base.iterdir()) if p.is_file()} if base.is_dir() else {}

    def remove_tree(self, volume: str, relpath: str) -> None:
        target = self.path(volume, relpath)
        if not target.exists():
            return
        for child in sorted(target.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            child.rmdir() if child.is_dir() else child.unlink()
        target.rmdir()

    @staticmethod
    def _chown(path: Path, like: os.stat_result) -> None:
        if os.geteuid() == 0:
            os.chown(path, like.st_uid, like.st_gid)
