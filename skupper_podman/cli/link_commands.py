"""``token create``, ``link create|delete|status`` and ``revoke-access``."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

from skupper_podman.cli.app import app, handle, sub_app
from skupper_podman.cli.options import Namespace, Output, Verbose
from skupper_podman.cli.output import emit, fail, progress, table
from skupper_podman.cli.site_commands import not_enabled, open_site
from skupper_podman.errors import NotInitialized, SkupperError

if TYPE_CHECKING:
    from skupper_podman.links.operations import LinkReport, Links

token_app = sub_app("Create tokens that let other sites link to this one.")
link_app = sub_app("Link this site to other sites.")
app.add_typer(token_app, name="token")
app.add_typer(link_app, name="link")


def _links(namespace: str) -> Links:
    from skupper_podman.links.operations import Links

    site = open_site(namespace)
    if not site.exists():
        fail(not_enabled(site))
    return Links(site)


@token_app.command("create")
def token_create(
    file: Annotated[str, typer.Argument(metavar="FILE", help="Where to write the token.", show_default=False)],
    namespace: Namespace = "",
    name: Annotated[str, typer.Option(metavar="NAME", help="Name of the token (the certificate CN).")] = "skupper",
    ingress_host: Annotated[Optional[str], typer.Option(metavar="HOST", help="Ingress host the token points at.")] = None,
) -> None:
    """Write a token file for linking to this site.

    The token grants access to the service network: anyone who has the file can link a site to
    this one. Keep it secret, and use revoke-access to invalidate every token issued so far.
    """
    try:
        path = _links(namespace).create_token(file, name, ingress_host)
    except SkupperError as err:
        handle(err, "Failed to create token: ")
    typer.echo(f"Connection token written to {path} ")


@link_app.command("create")
def link_create(
    file: Annotated[str, typer.Argument(metavar="FILE", help="A token file from another site.", show_default=False)],
    namespace: Namespace = "",
    name: Annotated[Optional[str], typer.Option(metavar="NAME", help="Link name (default link<N>).")] = None,
    cost: Annotated[Optional[int], typer.Option(metavar="COST", help="Link cost (default: the token's, else 1).")] = None,
) -> None:
    """Link this site to the site that issued the token."""
    try:
        created = _links(namespace).create(file, name, cost)
    except SkupperError as err:
        handle(err, "Failed to create link: ")
    typer.echo(f"Site configured to link to {created.host}:{created.port} (name={created.name})")
    typer.echo("Check the status of the link using 'skupper link status'.")


@link_app.command("delete")
def link_delete(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The link to remove.", show_default=False)],
    namespace: Namespace = "",
) -> None:
    """Remove a link."""
    try:
        _links(namespace).delete(name)
    except SkupperError as err:
        handle(err, "Failed to remove link: ")
    typer.echo(f"Link '{name}' has been removed")


def _status_text(report: LinkReport, name: Optional[str], verbose: bool) -> str:
    if verbose:
        link = report.outgoing[0]
        status = "Connected" if link.connected else "Not connected" + (f" ({link.description})" if link.description else "")
        return table([("Cost:", str(link.cost)), ("Created:", link.created), ("Name:", link.name),
                      ("Site:", link.site), ("Status:", status)])
    lines = []
    for link in report.outgoing:
        state = "is connected" if link.connected else "not connected" + (f" ({link.description})" if link.description else "")
        lines.append(f"Link {link.name} {state}" if name else f"\t Link {link.name} {state}")
    if name:
        return "\n".join(lines)
    out = ["", "Links created from this site:", ""]
    out += lines or ["\t There are no links configured or connected"]
    out += ["", "Currently connected links from other sites:", ""]
    out += [f"\t Incoming link from site {site} " for site in report.incoming] or ["\t There are no connected links"]
    return "\n".join(out)


@link_app.command("status")
def link_status(
    name: Annotated[Optional[str], typer.Argument(metavar="[NAME|all]", help="A link name, or all.", show_default=False)] = None,
    namespace: Namespace = "",
    wait: Annotated[int, typer.Option(metavar="SECONDS", help="Seconds to wait for the link(s) to connect.")] = 0,
    verbose: Verbose = False,
    output: Output = "text",
) -> None:
    """Show the state of links from and to this site, read from the running router."""
    only = None if name in (None, "all") else name
    if verbose and only is None:
        fail("In order to provide detailed information about the link, specify the link name")
    try:
        links = _links(namespace)
        with progress(enabled=wait > 0) as say:
            say(f"Waiting up to {wait}s for the link(s) to connect")
            report = links.status(only, float(wait))
    except NotInitialized:
        fail(not_enabled(namespace=namespace))
    except SkupperError as err:
        handle(err)
    emit(report.to_dict(), output, lambda: _status_text(report, only, verbose))
    if wait and not all(link.connected for link in report.outgoing):
        raise typer.Exit(1)


@app.command("revoke-access")
def revoke_access(namespace: Namespace = "") -> None:
    """Invalidate every token issued by this site so far (links made with them drop)."""
    try:
        site = open_site(namespace)
        with progress() as say:
            say("Issuing a new site CA and restarting the router")
            site.revoke_access()
    except NotInitialized:
        fail(not_enabled(namespace=namespace))
    except SkupperError as err:
        handle(err)
    typer.echo("Access to this site has been revoked: all tokens issued before are no longer valid.")
