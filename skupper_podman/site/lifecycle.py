"""A Skupper site on Podman: discover it, create it (``init``) and remove it (``delete``).

Everything about an existing site is derived from Podman and the site's volumes, as
Skupper 1.5 does: the router config names the site, the site-server certificate lists the
ingress hosts, and the router container's published ports give the bind addresses.
"""
from __future__ import annotations

import functools
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from skupper_podman._util import atomic_write, read_small_text
from skupper_podman.errors import (
    DamagedState,
    ImageUnavailable,
    NotInitialized,
    PodmanError,
    ResourceConflict,
    SiteExists,
    SkupperError,
    StateError,
)
from skupper_podman.site.ingress import check_port_free, default_ingress_hosts, free_local_port
from skupper_podman.paths import (
    ADDRESS_LABEL,
    CA_VOLUMES,
    COMPONENT_LABEL,
    CONSOLE_CERTS,
    CREDENTIAL_VOLUMES,
    INTERNAL,
    LOCAL_CA,
    LOCAL_CLIENT,
    LOCAL_SERVER,
    METADATA_LABEL,
    OTHER_VOLUMES,
    ROUTER_CERTS,
    SERVICE_CA,
    SERVICE_CLIENT,
    SERVICES,
    SITE_CA,
    SITE_SERVER,
    TYPE_LABEL,
    SiteLayout,
    username,
)
from skupper_podman.podman.adapter import ContainerSpec, PodmanAdapter, VolumeMount
from skupper_podman.podman.records import ContainerRecord
from skupper_podman.podman.endpoint import resolve
from skupper_podman.rollback import Rollback, stop_signals_raise
from skupper_podman.router.config import RouterConfig
from skupper_podman.site.options import InitOptions, default_site_name
from skupper_podman.versions import router_image
from skupper_podman.podman.volumes import VolumeFiles

if TYPE_CHECKING:  # imported where used: reading a site needs no key making nor AMQP
    from skupper_podman import pki
    from skupper_podman.router.management import ManagementClient, TlsFiles

Progress = Callable[[str], None]

ROUTER = "skupper-router"
CONFIG_FILE = "skrouterd.json"
SERVICES_FILE = "skupper-services.json"
INTER_ROUTER_PORT, EDGE_PORT, AMQPS_PORT = 55671, 45671, 5671
ROUTER_ALIASES = ["skupper-router", "skupper-router-local"]
# volume base name -> mount point inside the router container (skupper-1.5-podman.md §4)
ROUTER_MOUNTS = {
    INTERNAL: "/etc/skupper-router/config/",
    SITE_SERVER: "/etc/skupper-router-certs/skupper-internal/",
    LOCAL_SERVER: "/etc/skupper-router-certs/skupper-amqps/",
    ROUTER_CERTS: "/etc/skupper-router-certs",
}
# credential volume -> (issuing CA volume, CN, extra SAN hosts or None for "simple")
CREDENTIALS: dict[str, tuple[str, str, list[str] | None]] = {
    LOCAL_SERVER: (LOCAL_CA, "skupper-router-local", ["skupper-router-local"]),
    LOCAL_CLIENT: (LOCAL_CA, "skupper-router-local", []),
    SERVICE_CLIENT: (SERVICE_CA, "", None),
    CONSOLE_CERTS: (LOCAL_CA, "skupper", ["flow-collector"]),
    SITE_SERVER: (SITE_CA, "skupper-router", ["skupper-router"]),
}


@dataclass
class SiteInfo:
    """What an existing site is, as discovered from Podman."""

    namespace: str
    name: str
    site_id: str
    version: str
    mode: str
    image: str
    network: str
    bind_ips: list[str]
    bind_port: int | None
    bind_port_edge: int | None
    management_port: int | None
    router_state: str
    platform: str = "podman"
    server_cert: bytes = field(default=b"", repr=False, compare=False)  # the site-server tls.crt

    @property
    def ingress_none(self) -> bool:
        return self.bind_port is None

    @functools.cached_property
    def ingress_hosts(self) -> list[str]:
        """The hosts links and tokens may use: the site-server certificate's DNS names, as 1.5
        reads them (parsed on first use, so commands that need none never load cryptography)."""
        from skupper_podman.pki import dns_names

        try:
            return dns_names(self.server_cert)
        except ValueError as err:
            raise DamagedState(f"damaged site-server certificate of namespace {self.namespace}: "
                               f"{' '.join(str(err).split())}") from None


@dataclass
class InitResult:
    site: SiteInfo
    messages: list[str] = field(default_factory=list)


class Site:
    """One site (one namespace) on one Podman endpoint."""

    def __init__(self, layout: SiteLayout, podman: PodmanAdapter, systemd: object | None = None) -> None:
        self.layout = layout
        self.podman = podman
        self.files = VolumeFiles(podman, layout.label_filter)
        self.systemd = systemd

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def open(cls, namespace: str = "default", endpoint: str | None = None, systemd: object | None = None) -> "Site":
        """Connect to Podman for ``namespace`` (endpoint: flag, then the one saved at init, ...)."""
        layout = SiteLayout(namespace)
        return cls(layout, PodmanAdapter(resolve(endpoint, _saved_endpoint(layout))), systemd)

    def vol(self, base: str) -> str:
        return self.layout.name(base)

    # -- discovery -------------------------------------------------------------------------
    def router_container(self) -> ContainerRecord | None:
        return self.podman.container(self.layout.router_container)

    def leftovers(self) -> list[str]:
        """Names of every resource labelled for this namespace (containers, volumes, network)."""
        names = [c.name for c in self.podman.containers([self.layout.label_filter])]
        names += [v.name for v in self.podman.volumes(self.layout.label_filter)]
        names += [n.name for n in self.podman.networks(self.layout.label_filter)]
        return names

    def get(self) -> SiteInfo:
        """Discover the site; raise NotInitialized when there is none, DamagedState when its
        router container is there but a volume or file it needs is missing or damaged."""
        ctr = self.router_container()
        if ctr is None:
            raise NotInitialized(f"{self.layout.router_container} component not found")
        where = f"{CONFIG_FILE} in volume {self.vol(INTERNAL)}"
        try:
            config = RouterConfig.parse(self.files.read(self.vol(INTERNAL), CONFIG_FILE), where)
            server_cert = self.files.read(self.vol(SITE_SERVER), "tls.crt")
            self.files.mountpoint(self.vol(SITE_CA))
            router, meta = config.router(), config.metadata()
        except StateError as err:
            raise DamagedState(f"{self._damaged()}: {err}") from None
        except (OSError, PodmanError, ValueError) as err:
            raise DamagedState(f"{self._damaged()}: {' '.join(str(err).split())}") from None
        networks = list(ctr.networks)
        return SiteInfo(
            namespace=self.layout.namespace,
            name=router.get("id", ""),
            site_id=meta.get("id", ""),
            version=meta.get("version", ""),
            mode=router.get("mode", "interior"),
            image=ctr.image,
            network=networks[0] if networks else self.layout.network,
            bind_ips=sorted({b.host_ip for b in ctr.published(INTER_ROUTER_PORT)}),
            bind_port=ctr.host_port(INTER_ROUTER_PORT),
            bind_port_edge=ctr.host_port(EDGE_PORT),
            management_port=ctr.host_port(AMQPS_PORT),
            router_state=ctr.state,
            server_cert=server_cert,
        )

    def _damaged(self) -> str:
        namespace = "" if self.layout.is_default else f" in namespace {self.layout.namespace}"
        return f"the site{namespace} is damaged (skupper delete removes it)"

    def exists(self) -> bool:
        try:
            self.get()
        except NotInitialized:
            return False
        return True

    # -- management ------------------------------------------------------------------------
    def client_tls(self) -> TlsFiles:
        from skupper_podman.router.management import TlsFiles

        base = self.files.path(self.vol(LOCAL_CLIENT))
        return TlsFiles(ca=base / "ca.crt", cert=base / "tls.crt", key=base / "tls.key")

    def management(self, info: SiteInfo | None = None, timeout: float = 5.0) -> ManagementClient:
        """A management client for the site router's published, mutual-TLS ``amqps`` listener."""
        from skupper_podman.router.management import ManagementClient

        info = info or self.get()
        if info.management_port is None:
            raise NotInitialized("the site router does not publish its management port")
        return ManagementClient(
            f"amqps://127.0.0.1:{info.management_port}", tls=self.client_tls(), timeout=timeout
        )

    # -- init ------------------------------------------------------------------------------
    def init(self, options: InitOptions, progress: Progress | None = None) -> InitResult:
        """Create the site; on any failure, SIGTERM or SIGINT remove everything this call created."""
        options.validate()
        with stop_signals_raise():
            return self._init(options, progress)

    def _init(self, options: InitOptions, progress: Progress | None) -> InitResult:
        from skupper_podman.router.config import site_config
        from skupper_podman.router.logging_spec import parse_router_logging

        say = progress or (lambda _msg: None)
        if self.exists():
            raise SiteExists(f"Skupper has already been initialized for user '{username()}'.")
        deadline = time.monotonic() + options.timeout
        network = options.container_network or self.layout.network
        image = options.image or router_image()
        hosts = [] if options.ingress_none else (options.ingress_hosts or default_ingress_hosts())
        bind_ips = options.ingress_bind_ips or [""]
        say("Checking Podman resources")
        self._can_create(options, network, bind_ips)
        say(f"Checking router image {image}")
        self.podman.ensure_image(image)
        from concurrent.futures import ThreadPoolExecutor  # init only: reads need no threads

        with ThreadPoolExecutor(max_workers=1) as pool:  # the image check runs while keys are made
            image_check = pool.submit(
                self._check_image_runs, image, min(30.0, max(1.0, deadline - time.monotonic())))
            credentials = self._make_credentials(hosts)
            image_check.result()
        site_name = options.site_name or default_site_name()
        site_id = str(uuid.uuid4())
        messages: list[str] = []
        with Rollback() as undo:
            self._save_endpoint(undo)
            if self.podman.network(network) is None:
                undo.add(lambda: self.podman.remove_network(network))
                self.podman.create_network(network, self.layout.labels, options.enable_ipv6)
            say("Storing certificates")
            self._store_credentials(credentials, undo)
            say("Writing router configuration")
            self._create_volume(INTERNAL, undo)
            config = site_config(site_name, site_id, parse_router_logging(options.router_logging))
            self.files.write(self.vol(INTERNAL), CONFIG_FILE, config)
            self._create_volume(SERVICES, undo)
            self.files.write(self.vol(SERVICES), SERVICES_FILE, "{}")
            self._create_volume(ROUTER_CERTS, undo)
            say("Starting the router")
            spec = self._router_spec(image, network, site_id, options, bind_ips)
            undo.add(lambda: self.podman.remove_container(spec.name))
            self.podman.create_container(spec)
            info = self.get()
            say("Waiting for the router to answer")
            self.wait_router(info, deadline)
            say("Starting the site controller")
            self._start_controller(image, network, site_id, site_name, undo)
            messages += self._install_startup(undo)
        return InitResult(info, messages)

    def _start_controller(self, image: str, network: str, site_id: str, site_name: str, undo: Rollback) -> None:
        """The site controller container (skupper_podman.network.deploy says how it runs)."""
        from skupper_podman.network import deploy

        self._create_volume(deploy.CONTROLLER_VOLUME, undo)
        deploy.install_code(self)
        spec = deploy.controller_spec(self, image, network, site_id, site_name)
        undo.add(lambda: self.podman.remove_container(spec.name))
        self.podman.create_container(spec)

    def _can_create(self, options: InitOptions, network: str, bind_ips: list[str]) -> None:
        """Skupper 1.5's ``canCreate`` checks, in its order."""
        if self.router_container() is not None:
            raise ResourceConflict(f"{self.layout.router_container} container already defined")
        net = self.podman.network(network)
        if net is not None and not net.dns_enabled:
            raise ResourceConflict(
                f"network {network} cannot be used as DNS is not enabled, "
                "fix the existing network or use a different one"
            )
        if not options.ingress_none:
            for ip in bind_ips:
                for port in (options.bind_port, options.bind_port_edge):
                    check_port_free(ip or "0.0.0.0", port)
        for base in CA_VOLUMES + CREDENTIAL_VOLUMES + OTHER_VOLUMES:
            if self.podman.volume(self.vol(base)) is not None:
                raise ResourceConflict(f"required volume already exists {self.vol(base)}")
        if not self.podman.endpoint.is_local:
            raise ResourceConflict(
                f"You cannot use a remote podman endpoint - {self.podman.endpoint.describe()}"
            )

    def _check_image_runs(self, image: str, timeout: float) -> None:
        """Run ``skrouterd -version`` in a throw-away container, as 1.5.3+ does."""
        spec = ContainerSpec(
            name=f"{self.layout.name('skupper-temp')}-{uuid.uuid4().hex[:5]}",
            image=image,
            labels=self.layout.labels,
            command=["skrouterd", "-version"],
            restart_policy="no",
        )
        code, logs = self.podman.run_to_completion(spec, timeout)
        if code != 0:
            reason = " ".join(logs.split()) or f"exit code {code}"
            raise ImageUnavailable(f"site cannot be created: unable to run {image} - reason: {reason}")

    def _save_endpoint(self, undo: Rollback) -> None:
        """Remember the endpoint in ``podman.yaml`` (written as JSON, which YAML readers take)."""
        path = self.layout.podman_yaml
        existed = path.exists()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StateError(f"cannot write site state to {path.parent}: {err.strerror or err}") from err
        if not existed:
            undo.add(lambda: path.unlink(missing_ok=True))
        atomic_write(path, json.dumps({"endpoint": self.podman.endpoint.given}) + "\n", mode=0o600,
                     what="site state", error=StateError)

    def _create_volume(self, base: str, undo: Rollback, labels: dict[str, str] | None = None) -> str:
        name = self.vol(base)
        # the undo first: a stop signal may arrive once Podman made the volume, before we return
        undo.add(lambda: self.podman.remove_volume(name))
        self.podman.create_volume(name, {**self.layout.labels, **(labels or {})})
        return name

    def _secret_labels(self, base: str, kind: str) -> dict[str, str]:
        meta = json.dumps({"name": base, "creationTimestamp": None}, separators=(",", ":"))
        return {TYPE_LABEL: kind, METADATA_LABEL: meta}

    @staticmethod
    def _make_credentials(ingress_hosts: list[str]) -> dict[str, pki.Credential]:
        from skupper_podman import pki

        """The site's CAs and credentials, made in memory; key generation runs in parallel."""

        def credential(base: str) -> pki.Credential:
            ca_base, cn, sans = CREDENTIALS[base]
            if sans is None:
                return pki.simple(cas[ca_base])
            extra = ingress_hosts if base in (SITE_SERVER, CONSOLE_CERTS) else []
            return pki.issue(cas[ca_base], cn, [*sans, *extra])

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            cas = dict(zip(CA_VOLUMES, pool.map(pki.new_ca, CA_VOLUMES)))
            return {**cas, **dict(zip(CREDENTIAL_VOLUMES, pool.map(credential, CREDENTIAL_VOLUMES)))}

    def _store_credentials(self, credentials: dict[str, pki.Credential], undo: Rollback) -> None:
        for base, cred in credentials.items():
            kind = "CertAuthority" if base in CA_VOLUMES else "Credential"
            name = self._create_volume(base, undo, self._secret_labels(base, kind))
            self.files.write_all(name, cred.files())
            if base == LOCAL_CLIENT:
                self.files.write(name, "connect.json", _CONNECT_JSON)

    def _router_spec(
        self, image: str, network: str, site_id: str, options: InitOptions, bind_ips: list[str]
    ) -> ContainerSpec:
        ports: dict[str, list[tuple[str, int]]] = {f"{AMQPS_PORT}/tcp": [("127.0.0.1", free_local_port())]}
        if not options.ingress_none:
            ports[f"{INTER_ROUTER_PORT}/tcp"] = [(ip, options.bind_port) for ip in bind_ips]
            ports[f"{EDGE_PORT}/tcp"] = [(ip, options.bind_port_edge) for ip in bind_ips]
        return ContainerSpec(
            name=self.layout.router_container,
            image=image,
            labels={**self.layout.labels, COMPONENT_LABEL: ROUTER},
            env={
                "APPLICATION_NAME": "skupper-router",
                "QDROUTERD_CONF": "/etc/skupper-router/config/skrouterd.json",
                "QDROUTERD_CONF_TYPE": "json",
                "SKUPPER_SITE_ID": site_id,
            },
            network=network,
            aliases=list(ROUTER_ALIASES),
            ports=ports,
            mounts=[VolumeMount(self.vol(base), dest) for base, dest in ROUTER_MOUNTS.items()],
            rootless_keep_id=self.podman.rootless,
        )

    def wait_router(self, info: SiteInfo, deadline: float) -> None:
        """Wait until the site router answers management, or raise RouterUnavailable."""
        with self.management(info) as client:
            client.wait_ready(max(0.1, deadline - time.monotonic()))

    def _install_startup(self, undo: Rollback) -> list[str]:
        if self.systemd is None:
            return []
        messages = self.systemd.install(self.layout)  # type: ignore[attr-defined]
        undo.add(lambda: self.systemd.remove(self.layout))  # type: ignore[union-attr]
        return list(messages)

    # -- revoke-access ---------------------------------------------------------------------
    def revoke_access(self, timeout: float = 120.0) -> SiteInfo:
        """New site CA and site-server certificate: every token issued before stops working.

        The router is restarted to load them (as 1.5 does); links it dials itself stay in
        its config and come back.
        """
        from skupper_podman import pki

        info = self.get()
        ca = pki.new_ca(SITE_CA)
        server = pki.issue(ca, "skupper-router", info.ingress_hosts)
        self.files.write_all(self.vol(SITE_CA), ca.files())
        self.files.write_all(self.vol(SITE_SERVER), server.files())
        self.podman.restart_container(self.layout.router_container)
        info = self.get()
        self.wait_router(info, time.monotonic() + timeout)
        return info

    # -- delete ----------------------------------------------------------------------------
    def delete(self, notify: Progress | None = None) -> bool:
        """Remove every resource labelled for this site and its saved endpoint (``podman.yaml``);
        return False when there was nothing. Damaged files do not stop it. ``notify`` hears
        which gateways lose their site (their credentials go with its volumes)."""
        found = self.leftovers()
        if found:
            from skupper_podman.gateway.operations import retire_gateways

            for notice in retire_gateways(self):
                (notify or (lambda _msg: None))(notice)
        if self.systemd is not None:
            self.systemd.remove(self.layout)  # type: ignore[attr-defined]
        self.layout.podman_yaml.unlink(missing_ok=True)
        if not found:
            return False
        # Service routers first, in parallel, while the site router still answers them: once it
        # is gone every service router retries its uplink and the host slows down. The rest
        # (the site router, leftovers of a failed init) after them.
        self.podman.remove_containers([self.layout.label_filter, ADDRESS_LABEL])
        self.podman.remove_containers([self.layout.label_filter])
        for vol in self.podman.volumes(self.layout.label_filter):
            self.podman.remove_volume(vol.name)
        for net in self.podman.networks(self.layout.label_filter):
            self.podman.remove_network(net.name)
        return True


_CONNECT_JSON = json.dumps(
    {
        "scheme": "amqps",
        "host": "skupper-router-local",
        "port": "5671",
        "tls": {"ca": "/etc/messaging/ca.crt", "cert": "/etc/messaging/tls.crt", "key": "/etc/messaging/tls.key",
                "verify": True},
    }
)


def _saved_endpoint(layout: SiteLayout) -> str | None:
    """The endpoint saved at init; None when there is none or ``podman.yaml`` is damaged
    (so a damaged file never blocks ``delete``)."""
    try:
        text = read_small_text(layout.podman_yaml, 64 * 1024, "site state")
    except SkupperError:
        return None
    try:  # we write it as JSON, which is YAML: the common case needs no YAML parser
        data = json.loads(text)
    except RecursionError:
        return None
    except ValueError:
        import yaml

        try:
            data = yaml.safe_load(text)
        except (yaml.YAMLError, ValueError, TypeError, RecursionError):
            return None
    endpoint = data.get("endpoint") if isinstance(data, dict) else None
    return endpoint if isinstance(endpoint, str) and endpoint else None

