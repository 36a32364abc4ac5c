"""``debug dump`` and ``debug events``."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from skupper_podman.cli.app import app, handle, sub_app
from skupper_podman.cli.options import Namespace
from skupper_podman.cli.output import fail
from skupper_podman.cli.site_commands import not_enabled, open_site
from skupper_podman.errors import SkupperError

if TYPE_CHECKING:
    from skupper_podman.network.debug import EventGroup
    from skupper_podman.site.lifecycle import Site

debug_app = sub_app("Debug skupper installation.")
app.add_typer(debug_app, name="debug")


def _site(namespace: str) -> Site:
    site = open_site(namespace)
    if not site.exists():
        fail(not_enabled(site))
    return site


@debug_app.command("dump")
def debug_dump(
    file: Annotated[str, typer.Argument(metavar="FILE", help="The archive to write (.tar.gz added).")]
    = "skupper-dump",
    namespace: Namespace = "",
) -> None:
    """Collect and save skupper logs, config, and network information (no keys, no token secrets)."""
    from skupper_podman.network.debug import debug_dump as dump

    try:
        result = dump(_site(namespace), file)
    except SkupperError as err:
        handle(err, "Unable to save skupper dump details: ")
    typer.echo(f"Skupper dump details written to compressed archive:  {result.path}")
    for problem in result.problems:
        typer.echo(f"Not collected: {problem}", err=True)


def age(seconds: float) -> str:
    """Go's duration style, to the second: ``45s``, ``9m12s``, ``1h2m3s``."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if hours or minutes else "") + f"{secs}s"


def events_text(groups: list[EventGroup], now: float) -> str:
    rows = [("NAME", "COUNT", "", "AGE")]
    for group in groups:
        rows.append((group.name, str(group.count), "", age(now - group.last)))
        rows += [("", str(count), message, age(now - last)) for count, message, last in group.messages]
    widths = [max(len(r[i]) for r in rows) + 2 for i in range(3)]
    return "\n".join("".join(c.ljust(w) for c, w in zip(r[:3], widths)) + r[3] for r in rows)


@debug_app.command("events")
def debug_events(namespace: Namespace = "") -> None:
    """Show the site controller's recent events: what changed, and when."""
    from skupper_podman.network.debug import controller_events

    try:
        groups = controller_events(_site(namespace))
    except SkupperError as err:
        handle(err)
    typer.echo(events_text(groups, time.time()))
