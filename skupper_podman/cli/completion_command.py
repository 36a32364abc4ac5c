"""``skupper completion bash|zsh|fish``: the shell completion script.

The script calls ``skupper`` back with ``_SKUPPER_COMPLETE`` set; the command tree answers
those calls itself (click's shell completion, as typer drives it).
"""
from __future__ import annotations

from typing import Annotated, Literal

import typer

from skupper_podman.cli.app import COMPLETE_VAR, PROG, app

Shell = Literal["bash", "zsh", "fish"]


@app.command()
def completion(shell: Annotated[Shell, typer.Argument(
        metavar="SHELL", help="bash, zsh or fish.", show_default=False)]) -> None:
    """Print the shell completion script; load it with: source <(skupper completion bash)"""
    from typer.completion import get_completion_script

    typer.echo(get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell))
