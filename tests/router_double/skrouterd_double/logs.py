"""Router-style log lines on stderr: ``<timestamp> <MODULE> (<level>) <text>``.

Levels follow the real router (``trace`` is an alias of ``debug``). The ``log`` entities'
``enable`` setting (e.g. ``info+``, ``debug+``, ``none``) picks which levels a module prints;
modules without their own setting follow ``DEFAULT`` (``info+`` unless configured).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

LEVELS = ("debug", "info", "notice", "warning", "error", "critical")
MODULES = ("ROUTER", "ROUTER_CORE", "ROUTER_HELLO", "ROUTER_LS", "ROUTER_MA", "MESSAGE", "SERVER",
           "AGENT", "AUTHSERVICE", "CONTAINER", "ERROR", "POLICY", "HTTP", "CONN_MGR", "PYTHON",
           "PROTOCOL", "TCP_ADAPTOR", "HTTP_ADAPTOR", "FLOW_LOG", "DEFAULT")


def parse_enable(text: str) -> set[str]:
    """The set of levels an ``enable`` string turns on (``info+`` = info and above)."""
    enabled: set[str] = set()
    for item in (part.strip() for part in text.split(",")):
        if not item or item == "none":
            continue
        plus = item.endswith("+")
        level = item.rstrip("+")
        level = "debug" if level == "trace" else level
        if level not in LEVELS:
            raise ValueError("Invalid log level '%s'" % item)
        start = LEVELS.index(level)
        enabled.update(LEVELS[start:] if plus else [level])
    return enabled


class Logger:
    """Prints router-style log lines for enabled module/level pairs."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self._stream = stream
        self._enabled: dict[str, set[str]] = {"DEFAULT": parse_enable("info+")}

    def configure(self, module: str, enable: str | None) -> None:
        """Apply a ``log`` entity's ``enable`` setting to ``module`` (None: back to DEFAULT)."""
        if enable is None:
            self._enabled.pop(module, None)
        else:
            self._enabled[module] = parse_enable(enable)

    def enabled(self, module: str, level: str) -> bool:
        """True when ``module`` prints ``level``."""
        return level in self._enabled.get(module, self._enabled["DEFAULT"])

    def log(self, module: str, level: str, text: str) -> None:
        """Write one line if ``module`` has ``level`` enabled."""
        if not self.enabled(module, level):
            return
        now = time.time()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))
        micros = int((now % 1) * 1_000_000)
        self._stream.write("%s.%06d +0000 %s (%s) %s\n" % (stamp, micros, module, level, text))
        self._stream.flush()

    def info(self, module: str, text: str) -> None:
        self.log(module, "info", text)

    def error(self, module: str, text: str) -> None:
        self.log(module, "error", text)

    def debug(self, module: str, text: str) -> None:
        self.log(module, "debug", text)
