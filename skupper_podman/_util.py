"""The few helpers every feature needs: one-line text, safe file reads and atomic writes, and
polling with a deadline."""
from __future__ import annotations

import fcntl
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from skupper_podman.errors import InputError, SkupperError

T = TypeVar("T")


def one_line(text: object) -> str:
    """``text`` with every run of whitespace (newlines included) collapsed to one space."""
    return " ".join(str(text).split())


def openssl_reason(exc: Exception) -> str:
    """OpenSSL's words in an ``ssl.SSLError``, without its ``[LIB: CODE]`` prefix and source line."""
    text = str(exc.args[1] if isinstance(exc, OSError) and len(exc.args) > 1 else exc)
    return one_line(text.split("] ", 1)[-1].split(" (_ssl.c:", 1)[0])


def _why(err: OSError) -> str:
    return one_line(err.strerror or err)


def read_small_file(path: str | os.PathLike[str], limit: int, what: str = "file",
                    error: type[SkupperError] = InputError) -> bytes:
    """The bytes of the regular file ``path``, refused before reading when it is anything else
    (FIFO, device, directory) or larger than ``limit`` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as err:
        raise error(f"cannot read {what} {path}: {_why(err)}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"cannot read {what} {path}: not a regular file")
        if info.st_size > limit:
            raise error(f"cannot read {what} {path}: larger than {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise error(f"cannot read {what} {path}: larger than {limit} bytes")
        return b"".join(chunks)
    except OSError as err:
        raise error(f"cannot read {what} {path}: {_why(err)}") from None
    finally:
        os.close(fd)


def read_small_text(path: str | os.PathLike[str], limit: int, what: str = "file",
                    error: type[SkupperError] = InputError) -> str:
    """:func:`read_small_file` decoded as UTF-8 (a binary file is refused)."""
    data = read_small_file(path, limit, what, error)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"cannot read {what} {path}: not UTF-8 text") from None


def atomic_write(path: str | os.PathLike[str], data: bytes | str, mode: int = 0o644,
                 what: str = "file", error: type[SkupperError] = InputError) -> Path:
    """Write ``path`` through a temporary file renamed over it, with permission bits ``mode``.

    A symlink at ``path`` is replaced, never followed, so its target is left untouched; readers
    see the old content or the new one, never half of it. A directory at ``path`` is refused.
    """
    target = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    if target.is_dir() and not target.is_symlink():
        raise error(f"cannot write {what} {target}: it is a directory")
    import tempfile  # writers only (~1 ms): reads never load it

    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent or Path("."), prefix=f".{target.name}.")
    except OSError as err:
        raise error(f"cannot write {what} {target}: {_why(err)}") from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise error(f"cannot write {what} {target}: {_why(err)}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


@contextmanager
def exclusive_lock(path: str | os.PathLike[str], what: str = "lock",
                   error: type[SkupperError] = InputError) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (a file or a directory, which must exist) for the
    block, so read-modify-write cycles of several processes take turns."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as err:
        raise error(f"cannot lock {what} {path}: {_why(err)}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def poll(check: Callable[[], T], timeout: float, interval: float = 0.1,
         sleep: Callable[[float], None] = time.sleep) -> T | None:
    """Call ``check`` until it returns something truthy (returned) or ``timeout`` seconds pass
    (``None``); it is always called at least once, and once more at the deadline."""
    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        result = check()
        if result:
            return result
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sleep(min(interval, left))
