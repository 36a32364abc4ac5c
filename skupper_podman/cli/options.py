"""Options shared by several commands: names, metavars and the choices the parser checks.

``--output`` is a click choice (``[text|json|yaml]``, click's message on a wrong value).
``--protocol``, ``--ingress`` and ``--router-mode`` are checked while the line is parsed too,
before any Podman work, but answer in Skupper 1.5's words on one line (exit 1), as 1.5 users
and scripts know them; their help and shell completion list the choices.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal, Optional

import typer

from skupper_podman.cli.output import fail
from skupper_podman.paths import DEFAULT_NAMESPACE

OutputFormat = Literal["text", "json", "yaml"]
PlatformName = Literal["kubernetes", "podman"]
PROTOCOLS = ("tcp", "http", "http2")
INGRESS_TYPES = ("external", "none")
ROUTER_MODES = ("interior", "edge")


def one_of(choices: tuple[str, ...], message: str) -> Callable[[Optional[str]], Optional[str]]:
    """An option callback that refuses a value outside ``choices`` with ``message`` (``{value}``
    is replaced by the value given)."""
    def check(value: Optional[str]) -> Optional[str]:
        if value is not None and value not in choices:
            fail(message.format(value=value))
        return value

    return check


def choice_option(choices: tuple[str, ...], message: str, help_text: str) -> typer.models.OptionInfo:
    """A ``--flag a|b|c`` option checked by :func:`one_of` and completed from ``choices``."""
    return typer.Option(metavar="|".join(choices), help=help_text, callback=one_of(choices, message),
                        autocompletion=lambda: list(choices))


NAMESPACE_HELP = "Site namespace: several sites can live side by side (default: default)."


def inherit_namespace(ctx: typer.Context, value: Optional[str]) -> str:
    """A command's ``-n`` value, else the global one (``skupper -n west init``), else the default."""
    return value or ctx.find_root().params.get("namespace") or DEFAULT_NAMESPACE


Namespace = Annotated[str, typer.Option(
    "--namespace", "-n", metavar="NAME", callback=inherit_namespace, show_default=False, help=NAMESPACE_HELP)]
Output = Annotated[OutputFormat, typer.Option("--output", "-o", help="Output format.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show more detail.")]
Protocol = Annotated[str, choice_option(
    PROTOCOLS, "{value} is not a valid mapping. Choose 'tcp', 'http' or 'http2'.", "The protocol to proxy.")]
Ingress = Annotated[Optional[str], choice_option(
    INGRESS_TYPES, "Invalid value for ingress: {value}", "How other sites reach this one (default external).")]
RouterMode = Annotated[str, choice_option(
    ROUTER_MODES, 'invalid "--router-mode={value}", it must be one of "interior, edge"',
    "Router mode (edge is not yet allowed on Podman).")]
