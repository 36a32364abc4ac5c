"""Running callbacks on the reactor thread from other threads.

The proton reactor is single-threaded and sleeps in ``select``; other threads (e.g. the ones
doing a blocking connect) hand it work with ``Wakeup.call``, which queues the callback and
writes a byte to a socket pair the reactor watches.
"""

from __future__ import annotations

import socket
import traceback
from collections import deque
from typing import Any, Callable


class Wakeup:
    """A reactor selectable that runs callbacks queued by any thread."""

    def __init__(self, container: Any) -> None:
        self._calls: deque[Callable[[], None]] = deque()
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._selectable = container.selectable(handler=self, delegate=self._reader)
        self._selectable._transport = None  # tells proton's IOHandler to leave it alone
        self._selectable.reading = True
        self._selectable.update()

    def call(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the reactor thread soon (thread-safe)."""
        self._calls.append(callback)
        try:
            self._writer.send(b"!")
        except BlockingIOError:  # the pipe is full of wake-ups already
            pass

    def on_selectable_readable(self, event: Any) -> None:
        try:
            while self._reader.recv(4096):
                pass
        except BlockingIOError:
            pass
        while self._calls:
            try:
                self._calls.popleft()()
            except Exception:  # a bug in one callback must not stop the router
                traceback.print_exc()
