"""The ``skupper`` command: platform selection first, then the Podman command tree."""
from __future__ import annotations

import os
import sys

import typer

from skupper_podman.cli import platform
from skupper_podman.errors import PlatformError, SkupperError
from skupper_podman.cli.output import fail

app = typer.Typer(
    name="skupper",
    help="Skupper on Podman: connect services across sites into one service network.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _register() -> None:
    from skupper_podman.cli import link_commands, service_commands, site_commands  # noqa: F401 - they register commands on ``app``


def run(argv: list[str] | None = None) -> None:
    """Entry point: pick the platform (``--platform`` anywhere, env, ``switch`` state), then run."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        chosen = platform.current(args)
    except PlatformError as err:
        typer.echo(str(err), err=True)
        raise SystemExit(1) from None
    args = hoist_namespace(platform.strip_flag(args))
    is_switch = bool(args) and args[0] == "switch"
    if chosen != "podman" and not is_switch:
        typer.echo(
            f"The {chosen} platform is not implemented by this skupper; "
            "use --platform podman (or 'skupper switch podman').",
            err=True,
        )
        raise SystemExit(1)
    _register()
    try:
        app(args=args, prog_name="skupper", standalone_mode=True)
    except SkupperError as err:  # raised outside a command's own handler
        typer.echo(str(err), err=True)
        raise SystemExit(err.exit_code) from None
    except SystemExit:
        raise
    except Exception as err:  # noqa: BLE001 - never show a traceback to a user
        if os.environ.get("SKUPPER_DEBUG"):
            raise
        typer.echo(f"Error: unexpected failure: {type(err).__name__}: {' '.join(str(err).split())}", err=True)
        raise SystemExit(2) from None


_NAMESPACE_FLAGS = ("-n", "--namespace")


def hoist_namespace(args: list[str]) -> list[str]:
    """Move a namespace flag given before the command (``skupper -n west init``) behind it.

    Skupper 1.5 takes ``-n/--namespace`` as a global flag; here every command that works on a
    site declares it, so the flag is moved to the end of the command line, where the (sub)command
    parses it exactly as if it had been written there.
    """
    rest = list(args)
    hoisted: list[str] = []
    while rest and rest[0].startswith("-") and rest[0] not in ("--", "--help", "-h"):
        arg = rest.pop(0)
        if arg in _NAMESPACE_FLAGS and rest:
            hoisted += ["-n", rest.pop(0)]
        elif arg.startswith("--namespace="):
            hoisted += ["-n", arg.split("=", 1)[1]]
        elif arg.startswith("-n") and len(arg) > 2 and not arg.startswith("--"):
            hoisted += ["-n", arg[2:].removeprefix("=")]
        else:
            rest.insert(0, arg)
            break
    return rest + hoisted if hoisted else list(args)


def handle(err: SkupperError, prefix: str = "") -> None:
    """Turn a library error into the CLI's one-line message and exit code."""
    fail(f"{prefix}{err}", err.exit_code)
