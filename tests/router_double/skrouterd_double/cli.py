"""``skrouterd`` command line: ``-c FILE``, ``-v``/``--version``/``-version``, ``-T`` (check)."""

from __future__ import annotations

import argparse
import faulthandler
import os
import signal
import sys
from pathlib import Path

from .config import ConfigError, load_config
from .logs import Logger
from .schema import Schema, SchemaError

VERSION = "2.5.3"
# The real image's /etc/skupper-router/skrouterd.conf (no router id: one is made up).
_DEFAULT_CONFIG = [
    ("router", {"mode": "standalone"}),
    ("listener", {"host": "0.0.0.0", "port": "amqp", "authenticatePeer": False,
                  "saslMechanisms": "ANONYMOUS"}),
    ("address", {"prefix": "closest", "distribution": "closest"}),
    ("address", {"prefix": "multicast", "distribution": "multicast"}),
    ("address", {"prefix": "unicast", "distribution": "closest"}),
    ("address", {"prefix": "exclusive", "distribution": "closest"}),
    ("address", {"prefix": "broadcast", "distribution": "multicast"}),
]


def schema_path() -> str:
    """The skrouter.json to validate against: $SKROUTERD_SCHEMA, the copy in the package
    (inside the image) or the project's copy (when run from the source tree)."""
    candidates = [os.environ.get("SKROUTERD_SCHEMA"), str(Path(__file__).with_name("skrouter.json")),
                  str(Path(__file__).resolve().parents[3] / "skupper_podman/router/schema/skrouter-2.5.3.json")]
    for candidate in candidates:
        if candidate and os.path.exists(candidate):
            return candidate
    raise FileNotFoundError("skrouter.json not found (set SKROUTERD_SCHEMA)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skrouterd", add_help=True)
    parser.add_argument("-c", "--config", help="configuration file")
    parser.add_argument("-v", "--version", action="store_true", help="print the version and exit")
    parser.add_argument("-T", "--test", action="store_true", help="check the configuration and exit")
    parser.add_argument("-I", "--include", help="ignored (python include path)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    argv = ["--version" if arg == "-version" else arg for arg in argv]
    args = _parser().parse_args(argv)
    if args.version:
        print(VERSION)
        return 0
    log = Logger()
    schema = Schema.load(schema_path())
    try:
        if args.config:
            config = load_config(args.config, schema)
        else:
            config = schema.validate_config([[t, a] for t, a in _DEFAULT_CONFIG])
    except (ConfigError, SchemaError) as exc:
        log.log("ERROR", "error", "Python: Exception: %s" % exc)
        log.log("ROUTER", "critical", "Router start-up failed: Python: Exception: %s" % exc)
        return 1
    if args.test:
        return 0
    from . import adaptors, tcp_adaptor  # proton is only needed from here on
    from .router import Router

    if not any(isinstance(a, tcp_adaptor.TcpAdaptor) for a in adaptors.registered()):
        adaptors.register(tcp_adaptor.TcpAdaptor())

    from .management import ManagementError

    try:
        router = Router(schema, config, log)
    except ManagementError as exc:  # e.g. a tcpListener naming an unknown sslProfile
        text = exc.description if exc.status == 500 else "ValidationError: %s" % exc.description
        log.log("ERROR", "error", "Python: %s" % text)
        log.log("ROUTER", "critical", "Router start-up failed: Python: %s" % text)
        return 1
    except Exception as exc:
        log.log("ROUTER", "critical", "Router start-up failed: Python: %s: %s" % (type(exc).__name__, exc))
        return 1
    # As PID 1 in a container, SIGTERM/SIGINT are ignored unless handled: exit at once.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: os._exit(0))
    # `kill -USR1 1` prints every thread's stack (to find what holds the reactor up)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    router.run()
    return 0
