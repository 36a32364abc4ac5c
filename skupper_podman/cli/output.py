"""Printing for the CLI: human text, ``--output json|yaml``, one-line errors, TTY progress.

``json``, ``yaml`` and ``rich`` are imported only when a command prints in that form or shows
a spinner, so commands that print text start fast.
"""
from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable, NoReturn

import typer


def emit(data: Any, fmt: str, text: Callable[[], str]) -> None:
    """Print ``data`` as JSON or YAML (``fmt``), or else the human ``text()``."""
    if fmt == "json":
        import json

        typer.echo(json.dumps(data, indent=2))
    elif fmt == "yaml":
        import yaml

        typer.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip())
    else:
        typer.echo(text())


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error on stderr (one line, unless it is a multi-line report) and exit with ``code``."""
    typer.echo(" ".join(message.split()) if "\n" not in message.strip() else message.strip(), err=True)
    raise typer.Exit(code)


@contextmanager
def progress(enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """A progress callback: a spinner on a terminal, silent otherwise (scripts, pipes, CI)."""
    if not (enabled and sys.stderr.isatty()):
        yield lambda _msg: None
        return
    from rich.console import Console

    console = Console(stderr=True)
    with console.status("Starting") as status:
        yield lambda msg: status.update(msg)


def table(rows: list[tuple[str, str]]) -> str:
    """Left-aligned two-column rows, like Go's tabwriter in 1.5's ``-v`` output."""
    width = max((len(k) for k, _ in rows), default=0) + 1
    return "\n".join(f"{k:<{width}}{v}" for k, v in rows)
