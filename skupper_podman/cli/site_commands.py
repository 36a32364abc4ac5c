"""``init``, ``delete``, ``status``, ``version`` and ``switch``."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from skupper_podman.cli import platform
from skupper_podman.errors import NotInitialized, PodmanUnavailable, SiteExists, SkupperError
from skupper_podman.paths import username
from skupper_podman.site.lifecycle import Site
from skupper_podman.site.options import InitOptions
from skupper_podman.site.status import SiteStatus, site_status, version_info
from skupper_podman.systemd.units import SystemdManager
from skupper_podman.cli.app import app, handle
from skupper_podman.cli.output import OutputFormat, emit, fail, progress, table

Namespace = Annotated[
    str, typer.Option("--namespace", "-n", help="Site namespace: several sites can live side by side.")
]
Output = Annotated[OutputFormat, typer.Option("--output", "-o", help="Output format: text, json or yaml.")]


def open_site(namespace: str, endpoint: Optional[str] = None) -> Site:
    return Site.open(namespace, endpoint, systemd=SystemdManager())


def not_enabled(site: Site | None = None) -> str:
    lines = [f"Skupper is not enabled for user '{username()}'"]
    if site is not None and site.leftovers():
        lines += [
            "There are podman resources missing or left from an earlier installation",
            "To clean them up, run: skupper delete" + ("" if site.layout.is_default else f" -n {site.layout.namespace}"),
        ]
    return "\n".join(lines)


@app.command()
def init(
    namespace: Namespace = "default",
    site_name: Annotated[str, typer.Option(help="Site name (default <hostname>-<user>-<random>).")] = "",
    ingress: Annotated[str, typer.Option(help="external (default) or none.")] = "",
    ingress_host: Annotated[Optional[list[str]], typer.Option(help="Host name or IP other sites use to reach this one (repeatable).")] = None,
    ingress_bind_ip: Annotated[Optional[list[str]], typer.Option(help="Host IP the router ports are published on (repeatable).")] = None,
    bind_port: Annotated[int, typer.Option(help="Host port for inter-router links.")] = 55671,
    bind_port_edge: Annotated[int, typer.Option(help="Host port for edge links.")] = 45671,
    container_network: Annotated[str, typer.Option(help="Podman network of the site (default skupper).")] = "",
    enable_ipv6: Annotated[bool, typer.Option(help="Enable IPv6 on a newly created network.")] = False,
    router_logging: Annotated[str, typer.Option(help="Router logging, e.g. trace or ROUTER_CORE:debug,info.")] = "",
    router_mode: Annotated[str, typer.Option(help="interior (edge is not yet allowed).")] = "interior",
    timeout: Annotated[str, typer.Option(help="How long to wait for the site, e.g. 120s or 2m.")] = "2m",
    podman_endpoint: Annotated[str, typer.Option(help="Podman API endpoint (socket path or unix:// URL).")] = "",
) -> None:
    """Turn this host into a Skupper site."""
    try:
        options = InitOptions(
            site_name=site_name,
            ingress=ingress,
            ingress_hosts=list(ingress_host or []),
            ingress_bind_ips=list(ingress_bind_ip or []),
            bind_port=bind_port,
            bind_port_edge=bind_port_edge,
            container_network=container_network,
            enable_ipv6=enable_ipv6,
            router_logging=router_logging,
            router_mode=router_mode,
            timeout=parse_duration(timeout),
        ).validate()
        site = open_site(namespace, podman_endpoint or None)
        with progress() as say:
            result = site.init(options, progress=say)
    except (SiteExists, PodmanUnavailable) as err:
        handle(err)
    except SkupperError as err:
        handle(err, "Error initializing Skupper - ")
    for line in result.messages:
        typer.echo(line)
    typer.echo(f"Skupper is now installed for user '{username()}'.  Use 'skupper status' to get more information.")


@app.command()
def delete(namespace: Namespace = "default") -> None:
    """Remove the site and every resource it created."""
    try:
        removed = open_site(namespace).delete()
    except SkupperError as err:
        handle(err)
    if removed:
        typer.echo(f"Skupper is now removed for user '{username()}'.")
    else:
        typer.echo(f"Skupper is not enabled for user '{username()}'")


def status_text(status: SiteStatus, verbose: bool) -> str:
    where = "" if status.namespace == "default" else f' in namespace "{status.namespace}"'
    head = f'Skupper is enabled for "{status.user}"{where} with site name "{status.site_name}".'
    if status.total_sites == 0:
        links = " It is not connected to any other sites."
    elif status.total_sites == 1:
        links = " It is connected to 1 other site."
    elif status.indirect_sites == 0:
        links = f" It is connected to {status.total_sites} other sites."
    else:
        links = f" It is connected to {status.total_sites} other sites ({status.indirect_sites} indirectly)."
    n = status.exposed_services
    services = {0: " It has no exposed services.", 1: " It has 1 exposed service."}.get(n, f" It has {n} exposed services.")
    lines = [*status.warnings, head + links + services]
    if verbose:
        lines = [*status.warnings, table([
            ("podman:", status.user), ("mode:", status.mode), ("site name:", status.site_name),
            ("site id:", status.site_id), ("router:", status.router_state), ("policies:", ""),
            ("warning:", str(len(status.warnings))), ("total connections:", str(status.total_sites)),
            ("direct connections:", str(status.direct_sites)),
            ("indirect connections:", str(status.indirect_sites)),
            ("exposed services:", str(status.exposed_services)),
        ])]
    return "\n".join(lines)


@app.command()
def status(
    namespace: Namespace = "default",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show more detail.")] = False,
    output: Output = OutputFormat.text,
) -> None:
    """Report the site, as seen by its running router."""
    site = None
    try:
        site = open_site(namespace)
        result = site_status(site)
    except NotInitialized:
        fail(not_enabled(site))
    except SkupperError as err:
        handle(err)
    emit(result.to_dict(), output, lambda: status_text(result, verbose))


@app.command()
def version(namespace: Namespace = "default", output: Output = OutputFormat.text) -> None:
    """Print the client version and the router image of the site."""
    site = None
    try:
        site = open_site(namespace)
    except SkupperError:
        site = None
    info = version_info(site)
    if info.router_image:
        transport = f"{info.router_image} ({info.router_digest or 'no digest'})"
    else:
        transport = "not enabled"
    emit(info.to_dict(), output, lambda: f"{'client version':<30} {info.client_version}\n{'transport version':<30} {transport}")


@app.command(hidden=True)
def switch(target: Annotated[Optional[str], typer.Argument(help="kubernetes, podman or - (previous).")] = None) -> None:
    """Show or set the default platform."""
    try:
        now = platform.switch(target)
    except SkupperError as err:
        handle(err)
    typer.echo(now if target is None else f"Switched to: {now}")


def parse_duration(text: str) -> float:
    """``120``, ``90s``, ``2m``, ``1m30s`` → seconds."""
    import re

    from skupper_podman.errors import InputError

    value = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", value)
    if not value or not match:
        raise InputError(f"invalid duration: {text}")
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)
