"""Undo steps of a half-done operation so a failure leaves no half-made state."""
from __future__ import annotations

from collections.abc import Callable


class Rollback:
    """Collect undo actions while an operation proceeds; run them newest-first on failure.

    Use as a context manager: an exception inside the block runs every registered undo (each
    one's own failure is swallowed so the rest still run) and re-raises the original error.
    """

    def __init__(self) -> None:
        self._undo: list[Callable[[], object]] = []

    def add(self, action: Callable[[], object]) -> None:
        self._undo.append(action)

    def run(self) -> None:
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
