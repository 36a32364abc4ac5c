"""Options shared by several commands: names, metavars and the choices the parser checks.

Choices are ``Literal`` types, so typer turns them into click choices: the help shows
``[text|json|yaml]`` and a wrong value is refused by the parser in click's words.
"""
from __future__ import annotations

from typing import Annotated, Literal, Optional

import typer

from skupper_podman.paths import DEFAULT_NAMESPACE

OutputFormat = Literal["text", "json", "yaml"]
ProtocolName = Literal["tcp", "http", "http2"]
IngressType = Literal["external", "none"]
RouterMode = Literal["interior", "edge"]
PlatformName = Literal["kubernetes", "podman"]

NAMESPACE_HELP = "Site namespace: several sites can live side by side (default: default)."


def inherit_namespace(ctx: typer.Context, value: Optional[str]) -> str:
    """A command's ``-n`` value, else the global one (``skupper -n west init``), else the default."""
    return value or ctx.find_root().params.get("namespace") or DEFAULT_NAMESPACE


Namespace = Annotated[str, typer.Option(
    "--namespace", "-n", metavar="NAME", callback=inherit_namespace, show_default=False, help=NAMESPACE_HELP)]
Output = Annotated[OutputFormat, typer.Option("--output", "-o", help="Output format.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show more detail.")]
Protocol = Annotated[ProtocolName, typer.Option(help="The protocol to proxy.")]
