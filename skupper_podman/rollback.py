"""Undo steps of a half-done operation so a failure, or a SIGTERM/SIGINT, leaves no half-made
state."""
from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from skupper_podman.errors import Interrupted

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def stop_signals_held() -> Iterator[None]:
    """SIGTERM and SIGINT wait until the block ends (in the main thread, where Python handles them).

    Around a request that changes something in Podman: a signal that cut the request short would
    leave Podman finishing the change after our undo ran, so the change would outlive the undo.
    """
    if not _in_main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class Rollback:
    """Collect undo actions while an operation proceeds; run them newest-first on failure.

    Use as a context manager: an exception inside the block runs every registered undo (each
    one's own failure is swallowed so the rest still run) and re-raises the original error.
    SIGTERM and SIGINT are held back while the undo actions run, so a second signal cannot cut
    the clean-up short.
    """

    def __init__(self) -> None:
        self._undo: list[Callable[[], object]] = []

    def add(self, action: Callable[[], object]) -> None:
        """Register ``action`` to run if the operation fails."""
        self._undo.append(action)

    def run(self) -> None:
        """Run every registered undo, newest first, with stop signals held back."""
        with stop_signals_held():
            while self._undo:
                action = self._undo.pop()
                try:
                    action()
                except Exception:  # noqa: BLE001 - keep undoing the rest
                    pass

    def __enter__(self) -> "Rollback":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            self.run()
        return False


@contextmanager
def stop_signals_raise() -> Iterator[None]:
    """Within the block, SIGTERM and SIGINT raise :class:`Interrupted` (once; later ones are
    ignored) so that enclosing :class:`Rollback` blocks undo what was made. Outside the main
    thread, where Python cannot handle signals, this does nothing."""
    if not _in_main_thread():
        yield
        return
    raised = False

    def handler(signum: int, _frame: FrameType | None) -> None:
        nonlocal raised
        if not raised:
            raised = True
            raise Interrupted(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
