"""The ``--router-logging`` value: ``[MODULE:]level`` items separated by commas.

``info`` sets the DEFAULT module to ``info+``; ``ROUTER_CORE:debug`` sets ROUTER_CORE to
``debug+``. A ``+`` ("this level and above") is appended when missing. Errors use Skupper
1.5's wording.
"""
from __future__ import annotations

from dataclasses import dataclass

from skupper_podman.errors import InputError

DEFAULT_MODULE = "DEFAULT"

# Skupper 1.5's module list, less AUTHSERVICE: router 2.5.3 no longer has that module and
# refuses to start with a log entry for it (its schema's enum is the authority).
MODULES = (
    "ROUTER", "ROUTER_CORE", "ROUTER_HELLO", "ROUTER_LS", "ROUTER_MA", "MESSAGE", "SERVER",
    "AGENT", "CONTAINER", "ERROR", "POLICY", "HTTP", "CONN_MGR", "PYTHON", "PROTOCOL",
    "TCP_ADAPTOR", "HTTP_ADAPTOR", DEFAULT_MODULE,
)
_BASE_LEVELS = ("trace", "debug", "info", "notice", "warning", "error", "critical")
LEVELS = _BASE_LEVELS + tuple(level + "+" for level in _BASE_LEVELS)


@dataclass(frozen=True)
class LogEntry:
    """One router ``log`` entity: a module and its ``enable`` value (e.g. ``info+``)."""

    module: str
    enable: str

    def attributes(self) -> dict[str, str]:
        """The entity's attributes in config-file order."""
        return {"module": self.module, "enable": self.enable}


def parse_router_logging(spec: str | None) -> list[LogEntry]:
    """Parse a ``--router-logging`` value; empty or ``None`` means no log entries.

    A module given twice keeps its last level, at the place it first appeared.
    Raises ``InputError`` for an unknown module or level.
    """
    if not spec:
        return []
    levels: dict[str, str] = {}
    for item in spec.split(","):
        # Like 1.5: "MOD:level" or "level"; anything after a second colon is ignored.
        parts = item.split(":")
        module, level = (parts[0], parts[1]) if len(parts) > 1 else ("", parts[0])
        if module and module not in MODULES:
            raise InputError(f"Bad value for --router-logging: Invalid logging module for router: {module}")
        if level not in LEVELS:
            raise InputError(f"Bad value for --router-logging: Invalid logging level for router: {level}")
        levels[module or DEFAULT_MODULE] = level if level.endswith("+") else level + "+"
    return [LogEntry(module, enable) for module, enable in levels.items()]


def format_router_logging(entries: list[LogEntry]) -> str:
    """The ``--router-logging`` text that parses back to ``entries``."""
    return ",".join(e.enable if e.module == DEFAULT_MODULE else f"{e.module}:{e.enable}"
                    for e in entries)
