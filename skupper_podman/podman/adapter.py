"""A thin, typed wrapper over the Podman API: the only module that knows it.

Changes go through podman-py, imported on the first change; reads go through the standard
library (``podman.api``), so read-only commands never load podman-py. It answers with the typed records of ``podman.records`` so the rest of the library never sees
podman-py objects or Podman's JSON. Every resource it creates carries the labels the caller
passes (always ``application=skupper`` and the namespace label), and it refuses to remove a
container, volume or network that lacks them.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

from skupper_podman.errors import ImageUnavailable, PodmanError, PodmanUnavailable, ResourceConflict
from skupper_podman.paths import APP_LABEL, APP_VALUE
from skupper_podman.podman.api import ApiError, ApiClient
from skupper_podman.podman.endpoint import Endpoint
from skupper_podman.rollback import stop_signals_held
from skupper_podman.podman.records import (
    ContainerRecord,
    ImageRecord,
    NetworkRecord,
    VolumeRecord,
    container_from_inspect,
    container_from_list,
    image_from_api,
    network_from_api,
    volume_from_api,
)

T = TypeVar("T")
API_TIMEOUT = 120
def _lazy_module(name: str) -> Any:
    """``name`` as a module that is imported on its first attribute access."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"No module named {name!r}")
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


podman = _lazy_module("podman")  # podman-py, loaded by the first change a command makes

def _finished_before_signals(method: Callable[..., T]) -> Callable[..., T]:
    """Run a creating request with SIGTERM/SIGINT held: Podman finishes what it started, so
    the caller's rollback (registered before the call) finds and removes it."""
    @functools.wraps(method)
    def held(*args: Any, **kwargs: Any) -> T:
        with stop_signals_held():
            return method(*args, **kwargs)

    return held


_REMOVE_ATTEMPTS = 5
REMOVE_WORKERS = 8  # below podman-py's HTTP pool size (10), so every worker keeps its connection


@dataclass
class VolumeMount:
    """A named volume mounted into a container (options ``z``/``U`` as Skupper 1.5 uses)."""

    volume: str
    destination: str
    options: tuple[str, ...] = ("z", "U")


@dataclass
class ContainerSpec:
    """What the site domain asks for when it creates a container."""

    name: str
    image: str
    labels: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)
    network: str | None = None
    aliases: list[str] = field(default_factory=list)
    ports: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # "55671/tcp" -> [(ip, port)]
    mounts: list[VolumeMount] = field(default_factory=list)
    command: list[str] | None = None
    restart_policy: str = "always"
    rootless_keep_id: bool = False
    extra_hosts: dict[str, str] = field(default_factory=dict)
    network_mode: str | None = None  # "host": share the host's network (gateways)
    binds: dict[str, str] = field(default_factory=dict)  # host path -> container path
    user: str | None = None


def _short(err: Exception) -> str:
    text = getattr(err, "explanation", None) or str(err)
    return " ".join(str(text).split())


class PodmanAdapter:
    """Labeled create/list/remove of containers, volumes and networks over the Podman API."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        socket = endpoint.socket_path
        if socket is not None and not os.path.exists(socket):
            raise PodmanUnavailable(
                f"Podman endpoint is not available: {endpoint.describe()} "
                f"(no socket at {socket}). {endpoint.hint()}"
            )
        self.api = ApiClient(endpoint.url, API_TIMEOUT)
        self._check_version()

    @functools.cached_property
    def client(self) -> Any:
        """The podman-py client, made (and podman-py imported) on the first change."""
        return podman.PodmanClient(base_url=self.endpoint.url, timeout=API_TIMEOUT)

    def _unavailable(self, err: Exception) -> PodmanUnavailable:
        return PodmanUnavailable(f"Podman endpoint is not available: {self.endpoint.describe()} "
                                 f"({_short(err)}). {self.endpoint.hint()}")

    def _inspect(self, kind: str, name: str) -> Any:
        try:
            return self.api.inspect(kind, name)
        except ApiError as err:
            raise self._failure(err, f"error inspecting {kind[:-1]} {name}") from err

    def _list(self, kind: str, label_filters: Iterable[str], **params: Any) -> list[Any]:
        try:
            return self.api.list(kind, {"label": list(label_filters)}, **params)
        except ApiError as err:
            raise self._failure(err, f"error listing {kind}") from err

    def _change(self, method: str, path: str, failure: str, params: dict[str, str] | None = None,
                body: Any = None) -> Any:
        """A change over the standard-library client; a 404 (already gone) answers None."""
        try:
            return self.api.call(method, path, params, body)
        except ApiError as err:
            raise self._failure(err, failure) from err

    def _failure(self, err: ApiError, failure: str) -> PodmanError:
        """A transport failure means Podman is unavailable; an API one is ``<failure> - <why>``."""
        if err.status == 0:
            return self._unavailable(err)
        return PodmanError(f"{failure} - {_short(err)}")

    # -- connection -------------------------------------------------------------------------
    def _check_version(self) -> None:
        """``GET /_ping`` (about 1 ms; ``info`` takes hundreds): its header names the API version."""
        try:
            status, headers, _body = self.api.request("/_ping", prefix="")
        except ApiError as err:
            raise self._unavailable(err) from err
        if status != 200:
            raise self._unavailable(ApiError(status, f"_ping answered HTTP {status}"))
        version = str(headers.get("libpod-api-version") or "0")
        self.api_version = version
        major = version.split(".")[0]
        if not major.isdigit() or int(major) < 4:
            raise PodmanUnavailable(f"podman version must be 4.0.0 or greater, found: {version}")

    @functools.cached_property
    def rootless(self) -> bool:
        """Whether the Podman service runs rootless (asked of ``info`` once, when needed)."""
        try:
            info = self.api.get_json("/info") or {}
        except ApiError as err:
            raise self._unavailable(err) from err
        return bool(info.get("host", {}).get("security", {}).get("rootless"))

    def close(self) -> None:
        self.api.close()
        if "client" in self.__dict__:
            self.client.close()

    # -- networks ---------------------------------------------------------------------------
    def network(self, name: str) -> NetworkRecord | None:
        found = self._inspect("networks", name)
        return None if found is None else network_from_api(found)

    @_finished_before_signals
    def create_network(self, name: str, labels: Mapping[str, str], ipv6: bool = False) -> None:
        all_labels = {**labels, "app.kubernetes.io/part-of": "skupper"}
        try:
            self.client.networks.create(
                name, driver="bridge", dns_enabled=True, internal=False, ipv6_enabled=ipv6, labels=all_labels
            )
        except podman.errors.APIError as err:
            raise PodmanError(f"error creating network {name} - {_short(err)}") from err

    def networks(self, label_filter: str) -> list[NetworkRecord]:
        """Networks carrying the ``k=v`` label."""
        return [network_from_api(n) for n in self._list("networks", [label_filter])]

    def remove_network(self, name: str) -> None:
        net = self.network(name)
        if net is None:
            return
        if net.labels.get(APP_LABEL) != APP_VALUE:
            raise ResourceConflict(f"network {name} is not owned by Skupper")
        try:
            self.client.networks.get(name).remove(force=True)
        except podman.errors.NotFound:
            pass

    # -- volumes ----------------------------------------------------------------------------
    def volume(self, name: str) -> VolumeRecord | None:
        found = self._inspect("volumes", name)
        return None if found is None else volume_from_api(found)

    @_finished_before_signals
    def create_volume(self, name: str, labels: Mapping[str, str]) -> VolumeRecord:
        created = self._change("POST", "/volumes/create", f"error creating volume {name}",
                               body={"Name": name, "Label": dict(labels)})
        return volume_from_api(created or {"Name": name, "Labels": dict(labels)})

    def volumes(self, label_filter: str) -> list[VolumeRecord]:
        """Volumes carrying the ``k=v`` label."""
        return [volume_from_api(v) for v in self._list("volumes", [label_filter])]

    def remove_volume(self, name: str) -> None:
        vol = self.volume(name)
        if vol is None:
            return
        if vol.labels.get(APP_LABEL) != APP_VALUE:
            raise ResourceConflict(f"volume {name} is not owned by Skupper")
        self._change("DELETE", f"/volumes/{quote(name, safe='')}", f"error removing volume {name}",
                     params={"force": "true"})

    # -- images -----------------------------------------------------------------------------
    def image(self, name: str) -> ImageRecord | None:
        found = self._inspect("images", name)
        return None if found is None else image_from_api(found)

    def ensure_image(self, name: str) -> ImageRecord:
        """Return the local image, pulling it only when it is missing (offline hosts work)."""
        found = self.image(name)
        if found is not None:
            return found
        reason = "the registry did not provide it"
        try:
            self.client.images.pull(name)
        except Exception as err:  # noqa: BLE001 - pull failures come in many types
            reason = _short(err)
        found = self.image(name)
        if found is None:
            raise ImageUnavailable(
                f"router image {name} is not present and could not be pulled ({reason}); "
                "pull or load it with podman (podman pull / podman load), or set QDROUTERD_IMAGE "
                "to an image you have"
            )
        return found

    # -- containers -------------------------------------------------------------------------
    def container(self, name: str) -> ContainerRecord | None:
        """The inspected container (with its network aliases), or None."""
        found = self._inspect("containers", name)
        return None if found is None else container_from_inspect(found)

    def containers(self, label_filters: Iterable[str]) -> list[ContainerRecord]:
        """Containers matching every ``k=v`` (or bare ``k``) label filter, in one list call."""
        return [container_from_list(c) for c in self._list("containers", label_filters, all="true")]

    @_finished_before_signals
    def create_container(self, spec: ContainerSpec, start: bool = True) -> ContainerRecord:
        kwargs: dict[str, Any] = {
            "name": spec.name,
            "labels": {**spec.labels, APP_LABEL: APP_VALUE},
            "environment": dict(spec.env),
            "restart_policy": {"Name": spec.restart_policy},
            "volumes": {
                m.volume: {"bind": m.destination, "extended_mode": list(m.options)} for m in spec.mounts
            },
        }
        if spec.command is not None:
            kwargs["command"] = spec.command
        if spec.network_mode:
            kwargs["network_mode"] = spec.network_mode
        elif spec.network:
            kwargs["network_mode"] = "bridge"
            kwargs["networks"] = {spec.network: {"aliases": spec.aliases or [spec.name]}}
        if spec.ports:
            kwargs["ports"] = {cport: list(hosts) for cport, hosts in spec.ports.items()}
        if spec.extra_hosts:
            kwargs["extra_hosts"] = dict(spec.extra_hosts)
        if spec.binds:
            kwargs["mounts"] = [{"type": "bind", "source": src, "target": dst} for src, dst in spec.binds.items()]
        if spec.user:
            kwargs["user"] = spec.user
        if spec.rootless_keep_id:
            kwargs["user"] = f"{os.getuid()}:{os.getgid()}"
            kwargs["userns_mode"] = "keep-id"
        try:
            ctr = self.client.containers.create(spec.image, **kwargs)
        except podman.errors.APIError as err:
            raise PodmanError(f"error creating container {spec.name} - {_short(err)}") from err
        if start:
            try:
                ctr.start()
            except podman.errors.APIError as err:
                raise PodmanError(f"error starting container {spec.name} - {_short(err)}") from err
        ctr.reload()
        return container_from_inspect(ctr.attrs)

    def run_to_completion(self, spec: ContainerSpec, timeout: float) -> tuple[int, str]:
        """Create, start and wait for a short-lived container; return (exit code, logs). Always removed."""
        ctr = None
        try:
            ctr = self.client.containers.create(
                spec.image, command=spec.command, name=spec.name, labels={**spec.labels, APP_LABEL: APP_VALUE}
            )
            ctr.start()
            code = ctr.wait(timeout=timeout)
            logs = b"".join(ctr.logs(stdout=True, stderr=True)).decode(errors="replace")
            return int(code if isinstance(code, int) else code.get("StatusCode", 1)), logs.strip()
        except podman.errors.APIError as err:
            raise PodmanError(f"unable to run {spec.image} - {_short(err)}") from err
        finally:
            if ctr is not None:
                self.remove_container(spec.name)

    def start_container(self, name: str) -> None:
        self._change("POST", f"/containers/{quote(name, safe='')}/start", f"error starting container {name}")

    def restart_container(self, name: str) -> None:
        self._change("POST", f"/containers/{quote(name, safe='')}/restart", f"error restarting container {name}",
                     params={"t": "10"})

    def remove_container(self, name: str) -> None:
        """Force-remove a Skupper container (no stop grace period); refuse one without our label."""
        found = self.container(name)
        if found is None:
            return
        if found.labels.get(APP_LABEL) != APP_VALUE:
            raise ResourceConflict(f"container {name} is not managed by Skupper")
        self._force_remove(name)

    def remove_containers(self, label_filters: Iterable[str]) -> list[str]:
        """Force-remove every Skupper container matching the label filters; return their names.

        One list call, then removals ``REMOVE_WORKERS`` at a time: Podman tears a container's
        network down in ~0.1-0.2 s and a few at once overlap the waits. Containers without
        ``application=skupper`` are never touched.
        """
        names = [c.name for c in self.containers(label_filters) if c.labels.get(APP_LABEL) == APP_VALUE]
        if names:
            with ThreadPoolExecutor(max_workers=min(REMOVE_WORKERS, len(names))) as pool:
                list(pool.map(self._force_remove, names))
        return names

    def _force_remove(self, name: str) -> None:
        for attempt in range(_REMOVE_ATTEMPTS):
            try:
                self._change("DELETE", f"/containers/{quote(name, safe='')}", f"error removing container {name}",
                             params={"force": "true", "timeout": "0", "v": "false"})
                return
            except PodmanError as err:
                text = str(err).lower()
                if "no such container" in text:  # removed meanwhile: what we wanted
                    return
                # Podman 4.3 refuses to kill a container that stopped under it (a restarting
                # "always" container): the next try finds it stopped and removes it
                if "container state improper" not in text or attempt == _REMOVE_ATTEMPTS - 1:
                    raise
                time.sleep(0.2)

    # -- diagnostics (debug dump) -------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """Podman's ``version`` and ``info`` answers as Podman gives them."""
        try:
            return {"version": self.client.version(), "info": self.client.info()}
        except Exception as err:  # noqa: BLE001 - any transport or API failure
            raise PodmanError(f"error asking podman version and info - {_short(err)}") from err

    def inspect_raw(self, kind: str, name: str) -> dict[str, Any]:
        """The inspect answer of a ``containers``, ``volumes`` or ``networks`` resource, unparsed."""
        managers = {"containers": self.client.containers, "volumes": self.client.volumes,
                    "networks": self.client.networks}
        try:
            return dict(managers[kind].get(name).attrs)
        except Exception as err:  # noqa: BLE001 - any transport or API failure
            raise PodmanError(f"error inspecting {name} - {_short(err)}") from err

    def container_logs(self, name: str, tail: int) -> str:
        """The last ``tail`` lines a container wrote (stdout and stderr)."""
        try:
            chunks = self.client.containers.get(name).logs(stdout=True, stderr=True, tail=tail)
            return b"".join(chunks).decode(errors="replace")
        except Exception as err:  # noqa: BLE001 - any transport or API failure
            raise PodmanError(f"error reading the logs of {name} - {_short(err)}") from err
