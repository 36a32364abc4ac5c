"""The network as the library sees it: the site controller's report, or a live collector.

``read_report(site)`` reads what the site's controller knows (``network.json`` in its volume,
rewritten every 2 s): instant, and already subject to 1.5's purge rule. ``FlowCollector(site)``
runs the same collector (``collecting.NetworkCollector``) from this process, on the site
router's published management port with the site's local client credential::

    with FlowCollector(site) as collector:
        for change in collector.changes(timeout=15):
            print(change)
        for record in collector:          # the records it holds now
            print(record.type_name, record.identity)
"""
from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from skupper_podman.errors import DamagedState, NotInitialized, RouterUnavailable
from skupper_podman.network import deploy
from skupper_podman.network.collecting import Every, NetworkCollector, RouterAccess
from skupper_podman.network.flowstate import PURGE_AFTER, Change, FlowRecord, FlowState
from skupper_podman.paths import LOCAL_CLIENT

if TYPE_CHECKING:
    from skupper_podman.site.lifecycle import Site

REPORT_FILE = "network.json"
STALE_AFTER = 30.0  # seconds without a rewrite: the controller is not running
_STOP_CHECK = 0.2


@dataclass
class ControllerReport:
    """What a site's controller last wrote: its network view, counters and recent events."""

    written: float
    site_id: str
    connected: bool
    state: FlowState
    events: list[dict[str, Any]] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def age(self) -> float:
        return max(0.0, time.time() - self.written)


def controller_name(site: Site) -> str:
    return site.layout.name(deploy.CONTROLLER)


def read_report(site: Site, require_fresh: bool = True) -> ControllerReport:
    """The controller's report; NotInitialized/RouterUnavailable when there is none or it is stale."""
    info = site.get()
    name = controller_name(site)
    ctr = site.podman.container(name)
    if ctr is None:
        raise NotInitialized(f"{name} component not found (a site made before the site controller existed: "
                             "delete and init it again)")
    try:
        data = json.loads(site.files.read(site.vol(deploy.CONTROLLER_VOLUME), REPORT_FILE))
    except FileNotFoundError:
        raise RouterUnavailable(f"the site controller {name} has not reported yet ({ctr.state})") from None
    except (OSError, ValueError) as err:
        raise DamagedState(f"cannot read the site controller's report: {' '.join(str(err).split())}") from None
    report = ControllerReport(
        written=float(data.get("written") or 0), site_id=str(data.get("siteId") or info.site_id),
        connected=bool(data.get("connected")), state=FlowState.from_snapshot(data),
        events=list(data.get("events") or []), counters=dict(data.get("counters") or {}), raw=data)
    if require_fresh and report.age > STALE_AFTER:
        raise RouterUnavailable(f"the site controller {name} is {ctr.state} and has not reported for "
                                f"{report.age:.0f}s")
    return report


def site_access(site: Site) -> RouterAccess:
    """How this host reaches the site router: its published amqps port, the local client credential."""
    info = site.get()
    if info.management_port is None:
        raise NotInitialized("the site router does not publish its management port")
    return RouterAccess(f"amqps://127.0.0.1:{info.management_port}", str(site.files.path(site.vol(LOCAL_CLIENT))))


class _ThreadedCollector(NetworkCollector):
    """The collector with a lock around its state and a stop flag checked by a timer."""

    def __init__(self, access: RouterAccess, purge_after: float, changes: queue.Queue[Change]) -> None:
        super().__init__(access, purge_after, on_change=changes.put)
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def on_start(self, event: Any) -> None:
        super().on_start(event)
        self.container.schedule(_STOP_CHECK, Every(_STOP_CHECK, self._check_stop))

    def _check_stop(self) -> None:
        if self.stopping.is_set():
            self.stop()

    def on_message(self, event: Any) -> None:
        with self.lock:
            super().on_message(event)

    def age(self) -> None:
        with self.lock:
            super().age()


class FlowCollector:
    """A live vanflow collector on a site's router, in a background thread."""

    def __init__(self, site: Site, purge_after: float = PURGE_AFTER) -> None:
        self._changes: queue.Queue[Change] = queue.Queue()
        self._handler = _ThreadedCollector(site_access(site), purge_after, self._changes)
        self._thread: threading.Thread | None = None

    def start(self) -> FlowCollector:
        from proton.reactor import Container

        if self._thread is None:
            self._thread = threading.Thread(target=Container(self._handler).run, name="flow-collector", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self._handler.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def state(self) -> FlowState:
        """A copy of what the collector holds now."""
        with self._handler.lock:
            return FlowState.from_snapshot(self._handler.state.snapshot(), self._handler.state.purge_after)

    def __iter__(self) -> Iterator[FlowRecord]:
        return iter(list(self.state.records.values()))

    def changes(self, timeout: float) -> Iterator[Change]:
        """Changes as they happen (new sources, records added, updated, deleted, purged) for ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                yield self._changes.get(timeout=left)
            except queue.Empty:
                return
