"""``init``, ``delete``, ``status``, ``version`` and ``switch``."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

from skupper_podman.cli import platform, site_messages
from skupper_podman.cli.app import app, handle
from skupper_podman.cli.options import Ingress, Namespace, Output, RouterMode, Verbose
from skupper_podman.cli.output import emit, fail, progress, table
from skupper_podman.errors import NotInitialized, PodmanUnavailable, SiteExists, SkupperError

if TYPE_CHECKING:
    from skupper_podman.site.lifecycle import Site
    from skupper_podman.site.status import SiteStatus


def open_site(namespace: str, endpoint: Optional[str] = None, systemd: bool = False) -> Site:
    """The site of ``namespace`` on its Podman endpoint (raises if Podman does not answer);
    ``systemd`` for the commands that install or remove its units (``init``, ``delete``)."""
    from skupper_podman.site.lifecycle import Site

    if not systemd:
        return Site.open(namespace, endpoint)
    from skupper_podman.systemd.units import SystemdManager

    return Site.open(namespace, endpoint, systemd=SystemdManager())


def not_enabled(site: Site | None = None, namespace: str | None = None) -> str:
    """1.5's "not enabled" report, with the clean-up hint when resources are left over."""
    ns = site.layout.namespace if site is not None else namespace or "default"
    return site_messages.not_enabled(ns, leftovers=site is not None and bool(site.leftovers()))


@app.command()
def init(
    namespace: Namespace = "",
    site_name: Annotated[str, typer.Option(metavar="NAME", help="Site name (default <hostname>-<user>-<random>).")] = "",
    ingress: Ingress = None,
    ingress_host: Annotated[Optional[list[str]], typer.Option(
        metavar="HOST", help="Host name or IP other sites use to reach this one (repeatable).")] = None,
    ingress_bind_ip: Annotated[Optional[list[str]], typer.Option(
        metavar="IP", help="Host IP the router ports are published on (repeatable).")] = None,
    bind_port: Annotated[int, typer.Option(metavar="PORT", help="Host port for inter-router links.")] = 55671,
    bind_port_edge: Annotated[int, typer.Option(metavar="PORT", help="Host port for edge links.")] = 45671,
    container_network: Annotated[str, typer.Option(metavar="NETWORK", help="Podman network of the site (default skupper).")] = "",
    enable_ipv6: Annotated[bool, typer.Option("--enable-ipv6", help="Enable IPv6 on a newly created network.")] = False,
    router_logging: Annotated[str, typer.Option(metavar="LEVELS", help="Router logging, e.g. trace or ROUTER_CORE:debug,info.")] = "",
    router_mode: RouterMode = "interior",
    timeout: Annotated[str, typer.Option(metavar="DURATION", help="How long to wait for the site, e.g. 120s or 2m.")] = "2m",
    podman_endpoint: Annotated[str, typer.Option(metavar="ENDPOINT", help="Podman API endpoint (socket path or unix:// URL).")] = "",
) -> None:
    """Turn this host into a Skupper site."""
    from skupper_podman.site.options import InitOptions

    try:
        options = InitOptions(
            site_name=site_name,
            ingress=ingress or "",
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
        site = open_site(namespace, podman_endpoint or None, systemd=True)
        with progress() as say:
            result = site.init(options, progress=say)
    except SiteExists:
        fail(site_messages.already_initialized(namespace))
    except PodmanUnavailable as err:
        handle(err)
    except SkupperError as err:
        handle(err, "Error initializing Skupper - ")
    for line in result.messages:
        typer.echo(line)
    typer.echo(site_messages.installed(namespace))


@app.command()
def delete(namespace: Namespace = "") -> None:
    """Remove the site and every resource it created."""
    try:
        removed = open_site(namespace, systemd=True).delete(notify=typer.echo)
    except SkupperError as err:
        handle(err)
    typer.echo(site_messages.removed(namespace) if removed else site_messages.not_enabled(namespace))


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
    if status.boot is not None:
        lines.append(site_messages.boot_line(status.boot))
    if verbose:
        lines = [*status.warnings, table([
            ("podman:", status.user), ("mode:", status.mode), ("site name:", status.site_name),
            ("site id:", status.site_id), ("router:", status.router_state), ("policies:", ""),
            ("warning:", str(len(status.warnings))), ("total connections:", str(status.total_sites)),
            ("direct connections:", str(status.direct_sites)),
            ("indirect connections:", str(status.indirect_sites)),
            ("exposed services:", str(status.exposed_services)),
            *([("starts at boot:", "yes" if status.boot.starts_at_boot else "no")] if status.boot else []),
        ])]
    return "\n".join(lines)


@app.command()
def status(namespace: Namespace = "", verbose: Verbose = False, output: Output = "text") -> None:
    """Report the site, as seen by its running router."""
    from skupper_podman.site.status import site_status

    site = None
    try:
        site = open_site(namespace, systemd=True)
        result = site_status(site)
    except NotInitialized:
        fail(not_enabled(site, namespace))
    except SkupperError as err:
        handle(err)
    emit(result.to_dict(), output, lambda: status_text(result, verbose))


@app.command("enable-linger")
def enable_linger(user: Annotated[Optional[str], typer.Argument(
        metavar="[USER]", help="The user (default: you).", show_default=False)] = None) -> None:
    """Start USER's sites at boot without a login (loginctl enable-linger), where allowed."""
    from skupper_podman.systemd.units import SystemdManager

    try:
        manager = SystemdManager()
        changed = manager.enable_linger(user)
    except SkupperError as err:
        handle(err)
    typer.echo(site_messages.linger_enabled(user or manager.user, changed))


@app.command()
def version(namespace: Namespace = "", output: Output = "text") -> None:
    """Print the client version and the router image of the site."""
    from skupper_podman.site.status import version_info

    problem, transport = "", "not enabled"
    site = None
    try:
        site = open_site(namespace)
    except PodmanUnavailable as err:
        problem, transport = str(err), "unknown: Podman is not reachable"
    except SkupperError as err:
        problem, transport = str(err), "unknown: the site cannot be opened"
    try:
        info = version_info(site)
    except SkupperError as err:
        handle(err)
    if info.router_image:
        transport = f"{info.router_image} ({info.router_digest or 'no digest'})"
    data = info.to_dict() | ({"error": problem} if problem else {})
    emit(data, output, lambda: f"{'client version':<30} {info.client_version}\n{'transport version':<30} {transport}")
    if problem:  # 1.5 prints the client version all the same and exits 0
        typer.echo(problem, err=True)


@app.command()
def switch(target: Annotated[Optional[str], typer.Argument(
        metavar="[kubernetes|podman|-]", help="The platform to use from now on; - for the previous one.",
        show_default=False)] = None) -> None:
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
