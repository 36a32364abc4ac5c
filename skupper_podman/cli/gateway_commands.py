"""``gateway init|delete|expose|unexpose|bind|unbind|forward|unforward|status|export-config|
generate-bundle``: Skupper 1.5's gateway commands, on a Podman site."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from skupper_podman.cli.app import app, handle, sub_app
from skupper_podman.cli.options import Namespace, Output, Protocol, one_of
from skupper_podman.cli.output import emit, fail, progress
from skupper_podman.cli.service_commands import _tree
from skupper_podman.cli.site_commands import not_enabled, open_site
from skupper_podman.errors import InputError, SkupperError

if TYPE_CHECKING:
    from skupper_podman.gateway.operations import Gateways, GatewayStatus

gateway_app = sub_app("Manage skupper gateway definitions: expose local processes to the service network "
                      "and forward network services to local ports.")
app.add_typer(gateway_app, name="gateway")

ERROR = "Error: "
T = TypeVar("T")
TYPES = ("service", "docker", "podman")
GatewayType = Annotated[str, typer.Option(
    "--type", metavar="|".join(TYPES), help="The gateway type one of: 'service', 'docker', 'podman'.",
    callback=one_of(TYPES, "{value} is not a valid gateway type. Choose 'service', 'docker' or 'podman'."),
    autocompletion=lambda: list(TYPES))]
GatewayName = Annotated[str | None, typer.Option(
    "--name", metavar="NAME", help="The gateway (default: <hostname>-<user>).")]
Address = Annotated[str, typer.Argument(metavar="ADDRESS", help="The service address.", show_default=False)]
Aggregate = Annotated[str | None, typer.Option(
    help="The aggregation strategy to use. One of 'json' or 'multipart'.")]
EventChannel = Annotated[bool, typer.Option("--event-channel", help="This service will be a channel for multicast events.")]
# bind and forward take 1.5's flags so its scripts run; as in 1.5, the service's own settings apply
SameAggregate = Annotated[str | None, typer.Option(
    "--aggregate", help="Accepted as 1.5 does; the service's own aggregation applies.")]
SameEventChannel = Annotated[bool, typer.Option(
    "--event-channel", help="Accepted as 1.5 does; the service's own setting applies.")]


def _gateways(namespace: str) -> Gateways:
    from skupper_podman.gateway.operations import Gateways

    site = open_site(namespace)
    if not site.exists():
        fail(not_enabled(site))
    return Gateways(site)


def _call(namespace: str, action: Callable[[Gateways], T]) -> T:
    """Run ``action`` on the site's gateways; a library error is the one-line message and exit 1."""
    try:
        return action(_gateways(namespace))
    except SkupperError as err:
        handle(err, ERROR)


def _host_ports(args: list[str], command: str) -> tuple[str, list[str]]:
    """``<host> <port...>`` or ``<host:port>``."""
    if not args:
        raise InputError(f"gateway {command} requires <address> <host> <port...>")
    host, ports = args[0], args[1:]
    if not ports:
        if ":" not in host:
            raise InputError(f"gateway {command} requires <address> <host> <port...> or <address> <host:port>")
        host, port = host.rsplit(":", 1)
        ports = [port]
    return host, ports


@gateway_app.command("init")
def gateway_init(
    namespace: Namespace = "",
    name: GatewayName = None,
    gateway_type: GatewayType = "service",
    config: Annotated[str | None, typer.Option(metavar="FILE", help="The gateway config file to use for initialization.")] = None,
) -> None:
    """Initialize a gateway to the service network."""
    try:
        gateways = _gateways(namespace)
        with progress() as say:
            say("Starting the gateway router")
            gateway = gateways.init(name, gateway_type, config)
    except SkupperError as err:
        handle(err, ERROR)
    typer.echo(f"Skupper gateway: '{gateway.name}'. Use 'skupper gateway status' to get more information.")


@gateway_app.command("delete")
def gateway_delete(
    namespace: Namespace = "",
    name: GatewayName = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More details on any exceptions during gateway removal.")] = False,
) -> None:
    """Stop the gateway instance and remove the definition."""
    kind = _call(namespace, lambda g: g.delete(name))
    if verbose:
        typer.echo(f"Skupper gateway ({kind}) removed")


@gateway_app.command("expose")
def gateway_expose(
    address: Address,
    args: Annotated[list[str], typer.Argument(metavar="HOST PORT[:TARGET]...", show_default=False)],
    namespace: Namespace = "",
    name: GatewayName = None,
    protocol: Protocol = "tcp",
    aggregate: Aggregate = None,
    event_channel: EventChannel = False,
    gateway_type: GatewayType = "service",
) -> None:
    """Expose a process to the service network (ensure gateway and service)."""
    try:
        host, ports = _host_ports(list(args), "expose")
        gateways = _gateways(namespace)
        with progress() as say:
            say(f"Exposing {host} as {address}")
            gateways.expose(address, host, ports, protocol=protocol, kind=gateway_type, name=name,
                            aggregate=aggregate or "", event_channel=event_channel)
    except SkupperError as err:
        handle(err, ERROR)


def _truth(value: str) -> bool:
    """Go's ``strconv.ParseBool``, as cobra reads ``--delete-last=false``."""
    lowered = value.strip()
    if lowered in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if lowered in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    fail(f'invalid argument "{value}" for "--delete-last" flag: strconv.ParseBool: parsing "{value}": invalid syntax')


@gateway_app.command("unexpose")
def gateway_unexpose(
    address: Address,
    namespace: Namespace = "",
    name: GatewayName = None,
    delete_last: Annotated[str, typer.Option(
        "--delete-last", metavar="true|false", help="Delete the gateway if no services remain.")] = "true",
) -> None:
    """Unexpose a process previously exposed to the service network."""
    remove = _truth(delete_last)
    _call(namespace, lambda g: g.unexpose(address, delete_last=remove, name=name))


@gateway_app.command("bind")
def gateway_bind(
    address: Address,
    args: Annotated[list[str], typer.Argument(metavar="HOST PORT...", show_default=False)],
    namespace: Namespace = "",
    name: GatewayName = None,
    aggregate: SameAggregate = None,
    event_channel: SameEventChannel = False,
) -> None:
    """Bind a process to the service network."""
    try:
        host, ports = _host_ports(list(args), "bind")
    except SkupperError as err:
        handle(err, ERROR)
    _call(namespace, lambda g: g.bind(address, host, ports, name=name))


@gateway_app.command("unbind")
def gateway_unbind(address: Address, namespace: Namespace = "", name: GatewayName = None) -> None:
    """Unbind a process from the service network."""
    _call(namespace, lambda g: g.unbind(address, name=name))


@gateway_app.command("forward")
def gateway_forward(
    address: Address,
    ports: Annotated[list[str], typer.Argument(metavar="PORT...", show_default=False)],
    namespace: Namespace = "",
    name: GatewayName = None,
    loopback: Annotated[bool, typer.Option("--loopback", help="Forward from loopback only.")] = False,
    aggregate: SameAggregate = None,
    event_channel: SameEventChannel = False,
) -> None:
    """Forward an address to the service network."""
    for port in ports:
        if not port.strip().isdigit():
            fail(f"{ERROR}{port} is not a valid forward port")
    _call(namespace, lambda g: g.forward(address, ports, loopback=loopback, name=name))


@gateway_app.command("unforward")
def gateway_unforward(address: Address, namespace: Namespace = "", name: GatewayName = None) -> None:
    """Stop forwarding an address to the service network."""
    _call(namespace, lambda g: g.unforward(address, name=name))


def status_text(gateways: list[GatewayStatus]) -> str:
    """1.5's ``gateway status`` tree, with each router's state."""
    if not gateways:
        return "No gateway definition found"
    nodes = []
    for gw in gateways:
        children: list[tuple[str, list]] = []
        connected = {True: "connected to the site", False: "not connected", None: "connection unknown"}
        if gw.state != "damaged":
            children.append((f"Router: {gw.router_id} {gw.state}, {connected[gw.connected]}", []))
        if gw.problem:
            children.append((f"Problem: {gw.problem}", []))
        if gw.bindings:
            children.append(("Bindings:", [(f"{b['name']} {b['protocol']} {b['address']} {b['host']} {b['port']}", [])
                                           for b in gw.bindings]))
        if gw.forwards:
            children.append(("Forwards:", [(f"{f['name']} {f['protocol']} {f['address']} {f['host']} "
                                             + f"{f['service_port']}:{f['port']}", []) for f in gw.forwards]))
        version = gw.version or "unknown"
        nodes.append((f"{gw.name} type:{gw.type} version:{version}", children))
    return "\n".join(["Gateway Definition:", *_tree(nodes)])


@gateway_app.command("status")
def gateway_status(
    gateway: Annotated[str | None, typer.Argument(metavar="[GATEWAY]", help="Only this gateway.", show_default=False)] = None,
    namespace: Namespace = "",
    output: Output = "text",
) -> None:
    """Report the status of the gateway(s) for the current skupper site."""
    found = _call(namespace, lambda g: g.status())
    if gateway is not None:
        found = [g for g in found if g.name == gateway]
    emit([g.to_dict() for g in found], output, lambda: status_text(found))


@gateway_app.command("export-config")
def gateway_export_config(
    export_name: Annotated[str, typer.Argument(metavar="EXPORT-GATEWAY-NAME", show_default=False)],
    output_path: Annotated[str, typer.Argument(metavar="OUTPUT-PATH", show_default=False)],
    namespace: Namespace = "",
    name: GatewayName = None,
) -> None:
    """Export the configuration for a gateway definition."""
    path = _call(namespace, lambda g: g.export_config(export_name, output_path, name=name))
    typer.echo(f"Skupper gateway definition configuration written to '{path}'")


@gateway_app.command("generate-bundle")
def gateway_generate_bundle(
    config_file: Annotated[str, typer.Argument(metavar="CONFIG-FILE", show_default=False)],
    output_path: Annotated[str, typer.Argument(metavar="OUTPUT-PATH", show_default=False)],
    namespace: Namespace = "",
) -> None:
    """Generate an installation bundle using a gateway config file."""
    path = _call(namespace, lambda g: g.generate_bundle(config_file, output_path))
    typer.echo(f"Skupper gateway bundle written to '{path}'")
