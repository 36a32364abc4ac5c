"""``service create|delete|status|bind|unbind``, ``expose`` and ``unexpose``."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional

import typer

from skupper_podman.cli.app import app, handle, sub_app
from skupper_podman.cli.options import Namespace, Output, Protocol
from skupper_podman.cli.output import emit, fail, progress
from skupper_podman.cli.site_commands import not_enabled, open_site
from skupper_podman.errors import InputError, SkupperError

if TYPE_CHECKING:
    from skupper_podman.services.operations import Services, ServiceStatus

service_app = sub_app("Create and manage the services of this site.")
app.add_typer(service_app, name="service")

TARGET_TYPES = ["host"]
ERROR = "Error: "

Aggregate = Annotated[Optional[Literal["json", "multipart"]], typer.Option(help="Aggregation strategy for http services.")]
EventChannel = Annotated[bool, typer.Option("--event-channel", help="Multicast http requests to every target.")]
GenerateTls = Annotated[bool, typer.Option(
    "--generate-tls-secrets", help="Serve the service with TLS, using a certificate from the site's service CA.")]
EnableTls = Annotated[bool, typer.Option("--enable-tls", hidden=True, help="Same as --generate-tls-secrets.")]
ContainerName = Annotated[str, typer.Option(metavar="NAME", help="Use a different container name (default: the service name).")]
HostIp = Annotated[str, typer.Option(metavar="IP", help="Host IP address used to bind service ports.")]
HostPorts = Annotated[Optional[list[str]], typer.Option(
    "--host-port", metavar="PORT[:HOST-PORT]",
    help="Publish a service port on the host: <port> or <service-port>:<host-port> (repeatable).")]
Labels = Annotated[Optional[list[str]], typer.Option(
    "--label", metavar="KEY=VALUE", help="Labels of the service container: key=value[,key=value] (repeatable).")]
TargetPorts = Annotated[Optional[list[str]], typer.Option(
    "--target-port", metavar="PORT[:TARGET-PORT]",
    help="Target port: <port> or <service-port>:<target-port> (repeatable).")]
HostTarget = Annotated[Optional[list[str]], typer.Argument(metavar="host HOST", help="host <hostname|ip>", show_default=False)]


def _services(namespace: str) -> Services:
    from skupper_podman.services.operations import Services

    site = open_site(namespace)
    if not site.exists():
        fail(not_enabled(site))
    return Services(site)


def _target(args: list[str], missing: str) -> tuple[str, str]:
    """1.5's checks of ``<target-type> <target-value>`` arguments; returns (type, host)."""
    if len(args) < 2:
        raise InputError(missing)
    if len(args) > 2:
        raise InputError(f"illegal argument: {args[2]}")
    if args[0] not in TARGET_TYPES:
        raise InputError(f"invalid target type: {args[0]} - valid target types are: [{' '.join(TARGET_TYPES)}]")
    from skupper_podman.services.model import validate_host

    return args[0], validate_host(args[1])


def _bind_args(args: Optional[list[str]], command: str) -> tuple[str, str]:
    values = list(args or [])
    missing = ("Service name, target type and target value must all be specified "
               f"(e.g. 'skupper {command} <service-name> <target-type> <target-value>')")
    if len(values) < 3:
        raise InputError(missing)
    return values[0], _target(values[1:], missing)[1]


def _expose_target(args: Optional[list[str]], command: str) -> tuple[str, str]:
    return _target(list(args or []), "Target type and target value must all be specified "
                                     f"(e.g. 'skupper {command} <target-type> <target-value>')")


def _create_options(protocol: str, aggregate: Optional[str], event_channel: bool, tls: bool, container_name: str,
                    host_ip: str, host_ports: Optional[list[str]], labels: Optional[list[str]]) -> dict[str, Any]:
    from skupper_podman.services.model import parse_labels, split_list

    return {"protocol": protocol, "aggregate": aggregate or "", "event_channel": event_channel, "tls": tls,
            "container_name": container_name, "host_ip": host_ip,
            "host_ports": split_list(host_ports or []), "labels": parse_labels(labels or [])}


@service_app.command("create")
def service_create(
    args: Annotated[Optional[list[str]], typer.Argument(
        metavar="NAME PORT...", help="<name> <port>... or <name>:<port>", show_default=False)] = None,
    namespace: Namespace = "",
    protocol: Protocol = "tcp",
    aggregate: Aggregate = None,
    event_channel: EventChannel = False,
    generate_tls_secrets: GenerateTls = False,
    enable_tls: EnableTls = False,
    container_name: ContainerName = "",
    host_ip: HostIp = "",
    host_port: HostPorts = None,
    label: Labels = None,
) -> None:
    """Create a service that containers on the site network reach by its name.

    A router container listens on the service ports and carries the traffic to the service's
    targets on any linked site.
    """
    from skupper_podman.services.model import parse_service_args

    try:
        name, ports = parse_service_args(list(args or []))
        options = _create_options(protocol, aggregate, event_channel, generate_tls_secrets or enable_tls,
                                  container_name, host_ip, host_port, label)
        services = _services(namespace)
        with progress() as say:
            say(f"Creating service {name}")
            services.create(name, ports, **options)
    except SkupperError as err:
        handle(err, ERROR)


@service_app.command("delete")
def service_delete(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The service to delete.", show_default=False)],
    namespace: Namespace = "",
) -> None:
    """Delete a service: its container, router config, TLS credential and definition."""
    try:
        _services(namespace).delete(name)
    except SkupperError as err:
        handle(err, ERROR)


@service_app.command("bind")
def service_bind(
    args: Annotated[Optional[list[str]], typer.Argument(
        metavar="NAME host HOST", help="<service-name> host <hostname|ip>", show_default=False)] = None,
    namespace: Namespace = "",
    target_port: TargetPorts = None,
) -> None:
    """Send the service's traffic to a host.

    The host may be an IP, a host name, a container on the site network, or
    host.containers.internal (this machine).
    """
    from skupper_podman.services.model import split_list

    try:
        name, host = _bind_args(args, "bind")
        services = _services(namespace)
        with progress() as say:
            say(f"Binding {host} to service {name}")
            services.bind(name, host, split_list(target_port or []))
    except SkupperError as err:
        handle(err, ERROR)


@service_app.command("unbind")
def service_unbind(
    args: Annotated[Optional[list[str]], typer.Argument(
        metavar="NAME host HOST", help="<service-name> host <hostname|ip>", show_default=False)] = None,
    namespace: Namespace = "",
) -> None:
    """Stop sending the service's traffic to a host."""
    try:
        name, host = _bind_args(args, "unbind")
        _services(namespace).unbind(name, host)
    except SkupperError as err:
        handle(err, ERROR)


def _map(ports: dict[int, int]) -> str:
    """Go's ``%v`` of a ``map[int]int``: ``map[80:8080 443:8443]``."""
    return "map[" + " ".join(f"{k}:{v}" for k, v in sorted(ports.items())) + "]"


def _tree(nodes: list[tuple[str, list]], prefix: str = "") -> list[str]:
    lines = []
    for index, (text, children) in enumerate(nodes):
        last = index == len(nodes) - 1
        lines.append(f"{prefix}{'╰─ ' if last else '├─ '}{text}")
        lines += _tree(children, prefix + ("   " if last else "│  "))
    return lines


def status_text(services: list[ServiceStatus], show_labels: bool) -> str:
    """The 1.5 ``service status`` tree (one node per service port), with any problem shown."""
    if not services:
        return "No services defined"
    nodes = []
    for svc in services:
        for port in svc.ports:
            children: list[tuple[str, list]] = []
            if svc.problem:
                children.append((f"Problem: {svc.problem}", []))
            if svc.host_ports:
                published = ", ".join(f"{host} -> {target}" for target, host in sorted(svc.host_ports.items()))
                children.append(("Host ports:", [(f"ip: {svc.host_ip or '*'} - ports: {published}", [])]))
            if svc.targets:
                children.append(("Targets:", [(f"host: {t['host']} - ports: {_map(t['ports'])}", [])
                                              for t in svc.targets]))
            if show_labels and svc.labels:
                children.append(("Labels:", [(f"{k}={v}", []) for k, v in sorted(svc.labels.items())]))
            nodes.append((f"{svc.address}:{port} ({svc.protocol})", children))
    return "\n".join(["Services exposed through Skupper:", *_tree(nodes)])


@service_app.command("status")
def service_status(
    namespace: Namespace = "",
    show_labels: Annotated[bool, typer.Option("--show-labels", help="Show the labels of each service.")] = False,
    output: Output = "text",
) -> None:
    """List the services of this site with their host ports, targets and state."""
    try:
        services = _services(namespace).status()
    except SkupperError as err:
        handle(err, "Could not retrieve services: ")
    emit([s.to_dict() for s in services], output, lambda: status_text(services, show_labels))


@app.command("expose")
def expose(
    args: HostTarget = None,
    namespace: Namespace = "",
    address: Annotated[str, typer.Option(metavar="NAME", help="The service name (Skupper address).")] = "",
    port: Annotated[Optional[list[str]], typer.Option(metavar="PORT", help="The port(s) of the service (repeatable).")] = None,
    target_port: TargetPorts = None,
    protocol: Protocol = "tcp",
    aggregate: Aggregate = None,
    event_channel: EventChannel = False,
    generate_tls_secrets: GenerateTls = False,
    enable_tls: EnableTls = False,
    container_name: ContainerName = "",
    host_ip: HostIp = "",
    host_port: HostPorts = None,
    label: Labels = None,
) -> None:
    """Expose a host (or a container on the site network) as a service."""
    from skupper_podman.services.model import parse_port, split_list

    try:
        if not address:
            raise InputError("--address is required")
        ports = [parse_port(p) for p in split_list(port or [])]
        if not ports:
            raise InputError("--port is required")
        kind, host = _expose_target(args, "expose")
        options = _create_options(protocol, aggregate, event_channel, generate_tls_secrets or enable_tls,
                                  container_name, host_ip, host_port, label)
        services = _services(namespace)
        with progress() as say:
            say(f"Exposing {host} as {address}")
            services.expose(host, address, ports, target_ports=split_list(target_port or []), **options)
    except SkupperError as err:
        handle(err, ERROR)
    typer.echo(f"{kind} {host} exposed as {address}")


@app.command("unexpose")
def unexpose(
    args: HostTarget = None,
    namespace: Namespace = "",
    address: Annotated[str, typer.Option(metavar="NAME", help="The service name (Skupper address).")] = "",
) -> None:
    """Stop exposing a host; the service goes away with its last target."""
    try:
        if not address:
            raise InputError("--address is required")
        kind, host = _expose_target(args, "unexpose")
        _services(namespace).unexpose(host, address)
    except SkupperError as err:
        handle(err, ERROR)
    typer.echo(f"{kind} {host} unexposed")
