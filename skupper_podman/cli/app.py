"""The ``skupper`` command: global options, the command tree and the entry point.

The command modules only declare commands; each imports the library parts it needs when it
runs, so ``--help`` and the light commands never load Podman, TLS or AMQP code.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from importlib import import_module
from typing import Annotated, Any, NoReturn, Optional

import typer

from skupper_podman.cli import platform
from skupper_podman.cli.options import NAMESPACE_HELP, PlatformName
from skupper_podman.cli.output import fail
from skupper_podman.errors import PlatformError, SkupperError

PROG = "skupper"
COMPLETE_VAR = f"_{PROG.upper()}_COMPLETE"  # set when a completion script asks for candidates
CONTEXT = {"help_option_names": ["-h", "--help"]}
# commands that work whatever the platform: they configure the CLI itself
PLATFORM_FREE = frozenset({"switch", "completion"})

app = typer.Typer(
    name=PROG,
    help="Skupper on Podman: connect services across sites into one service network.",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings=CONTEXT,
)


def help_without_command(ctx: typer.Context) -> None:
    """A group named alone prints its help on stdout and exits 0, as 1.5 (cobra) does."""
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())


def sub_app(help_text: str) -> typer.Typer:
    """A command group (``link``, ``service``, ...) with the CLI's settings."""
    group = typer.Typer(help=help_text, invoke_without_command=True, rich_markup_mode=None,
                        context_settings=CONTEXT)
    group.callback()(help_without_command)
    return group


@app.callback()
def global_options(
    ctx: typer.Context,
    platform_name: Annotated[Optional[PlatformName], typer.Option(
        "--platform", help="The platform to manage; default: SKUPPER_PLATFORM, else 'skupper switch', "
                           "else kubernetes. Accepted anywhere on the line.")] = None,
    namespace: Annotated[Optional[str], typer.Option(
        "--namespace", "-n", metavar="NAME", help=NAMESPACE_HELP)] = None,
) -> None:
    """Options every command takes, also before the command name.

    ``--platform`` is read (and removed) by :func:`run` before parsing, so it is declared here
    for the help and shell completion; ``-n`` is passed on to the command (see
    :func:`skupper_podman.cli.options.inherit_namespace`).
    """
    help_without_command(ctx)


def not_implemented(chosen: str) -> str:
    return (f"The {chosen} platform is not implemented by this skupper; "
            "use --platform podman (or 'skupper switch podman').")


def _leaf_commands(command: Any) -> Iterator[Any]:
    for sub in getattr(command, "commands", {}).values():
        if getattr(sub, "commands", None) is not None:
            yield from _leaf_commands(sub)
        else:
            yield sub


def refuse_commands(command: Any, chosen: str) -> None:
    """Make every command but ``switch``/``completion`` say that ``chosen`` is not implemented.

    Only running a command is refused: ``--help`` at any level, bare groups and parse errors
    work as on Podman.
    """
    def refuse(*_args: object, **_kwargs: object) -> NoReturn:
        fail(not_implemented(chosen))

    for leaf in _leaf_commands(command):
        if leaf.name not in PLATFORM_FREE:
            leaf.callback = refuse


# command (first word) -> the module that declares it on ``app``; the help lists the modules'
# commands in this order
COMMAND_MODULES = {
    "init": "site_commands", "delete": "site_commands", "status": "site_commands",
    "version": "site_commands", "switch": "site_commands", "enable-linger": "site_commands",
    "token": "link_commands", "link": "link_commands", "revoke-access": "link_commands",
    "service": "service_commands", "expose": "service_commands", "unexpose": "service_commands",
    "gateway": "gateway_commands",
    "network": "network_commands", "debug": "debug_commands",
    "completion": "completion_command",
}


def command_word(args: list[str]) -> str | None:
    """The command named on the line (global ``-n NAME`` may come first), or None."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("-n", "--namespace"):
            skip = True
        elif arg == "--":
            return None
        elif not arg.startswith("-"):
            return arg
    return None


def _register(args: list[str] | None = None) -> None:
    """Import the command modules: only the one declaring the command on the line when it is
    known (typer builds every registered command's parameters at each start, ~2 ms each), else
    all of them (help, completion, unknown names and their suggestions)."""
    word = None if args is None or os.environ.get(COMPLETE_VAR) else command_word(args)
    wanted = [COMMAND_MODULES[word]] if word in COMMAND_MODULES else dict.fromkeys(COMMAND_MODULES.values())
    for module in wanted:
        import_module(f"skupper_podman.cli.{module}")


def command_tree(chosen: str = "podman", args: list[str] | None = None) -> Any:
    """The click command tree of ``skupper`` for the platform ``chosen`` (``args``: the command
    line, when only its command is needed)."""
    _register(args)
    if os.environ.get(COMPLETE_VAR):
        from typer.completion import completion_init  # typer's bash/zsh/fish answers

        completion_init()
    command = typer.main.get_command(app)
    if chosen != "podman":
        refuse_commands(command, chosen)
    return command


def run(argv: list[str] | None = None) -> None:
    """Entry point: pick the platform (``--platform`` anywhere, env, ``switch`` state), then run."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        chosen = platform.current(args)
    except PlatformError as err:
        typer.echo(str(err), err=True)
        raise SystemExit(1) from None
    try:
        line = platform.strip_flag(args)
        command_tree(chosen, line).main(args=line, prog_name=PROG, standalone_mode=True)
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


def handle(err: SkupperError, prefix: str = "") -> NoReturn:
    """Turn a library error into the CLI's one-line message and exit code."""
    fail(f"{prefix}{err}", err.exit_code)
