"""How a site runs its controller: a labelled container from the site's own router image.

The router image ships python3 and the proton binding, so the controller needs no image of its
own (offline hosts work, nothing to build). ``init`` copies the controller's modules into the
site's ``skupper-controller`` volume and starts ``skupper-controller-podman`` with the restart
policy ``always`` and the site's labels: Podman restarts it when it dies, the site's start
script (which starts every container labelled for the site) starts it at boot, and ``delete``
removes it with everything else labelled for the site.
"""
from __future__ import annotations

import os
from importlib import resources
from typing import TYPE_CHECKING

from skupper_podman.paths import COMPONENT_LABEL, LOCAL_CLIENT, SERVICES
from skupper_podman.podman.adapter import ContainerSpec, VolumeMount
from skupper_podman.versions import SKUPPER_COMPAT_VERSION

if TYPE_CHECKING:
    from skupper_podman.site.lifecycle import Site

CONTROLLER = "skupper-controller-podman"
CONTROLLER_VOLUME = "skupper-controller"
STATE_DIR = "/var/lib/skupper-controller"
CODE_DIR = "code"
# the controller's runtime: standard library, proton, and these modules of skupper_podman.network
RUNTIME_MODULES = ("vanflow.py", "flowstate.py", "informer.py", "collecting.py", "controller.py")
SOCKET_IN_CONTAINER = "/tmp/podman.sock"
PURGE_VARIABLE = "SKUPPER_FLOW_PURGE_SECONDS"


def runtime_sources() -> dict[str, bytes]:
    """The controller's modules, as the container runs them."""
    package = resources.files("skupper_podman.network")
    return {name: package.joinpath(name).read_bytes() for name in RUNTIME_MODULES}


def install_code(site: Site) -> None:
    """Write (or refresh) the controller's modules in its volume."""
    site.files.write_all(site.vol(CONTROLLER_VOLUME), runtime_sources(), subdir=CODE_DIR)


def controller_spec(site: Site, image: str, network: str, site_id: str, site_name: str) -> ContainerSpec:
    """The ``skupper-controller-podman`` container of a site (1.5's name and environment).

    ``SKUPPER_FLOW_PURGE_SECONDS`` in the caller's environment shortens the purge time of silent
    sources (1.5: 60 s), for tests.
    """
    socket = site.podman.endpoint.socket_path
    env = {
        "SKUPPER_SITE_NAME": site_name,
        "SKUPPER_SITE_ID": site_id,
        "SKUPPER_ROUTER_MODE": "interior",
        "SKUPPER_PLATFORM": "podman",
        "PODMAN_ENDPOINT": SOCKET_IN_CONTAINER if socket else "",
        "SKUPPER_CONTROLLER_VERSION": SKUPPER_COMPAT_VERSION,
        "SKUPPER_PODMAN_NAMESPACE": site.layout.namespace,
        "SKUPPER_PODMAN_NETWORK": network,
        "SKUPPER_CONTROLLER_STATE": STATE_DIR,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if os.environ.get(PURGE_VARIABLE):
        env[PURGE_VARIABLE] = os.environ[PURGE_VARIABLE]
    rootless = site.podman.rootless
    return ContainerSpec(
        name=site.layout.name(CONTROLLER),
        image=image,
        labels={**site.layout.labels, COMPONENT_LABEL: CONTROLLER},
        env=env,
        network=network,
        aliases=[CONTROLLER],
        mounts=[VolumeMount(site.vol(LOCAL_CLIENT), "/etc/messaging", ("z",)),
                VolumeMount(site.vol(SERVICES), "/etc/skupper-services", ("z",)),
                VolumeMount(site.vol(CONTROLLER_VOLUME), STATE_DIR, ("z",))],
        binds={socket: SOCKET_IN_CONTAINER} if socket else {},
        command=["python3", f"{STATE_DIR}/{CODE_DIR}/controller.py"],
        # root in the container (the host user when rootless) reads the 0600 client key and the
        # Podman socket without chowning them
        user=None if rootless else "0:0",
        rootless_keep_id=rootless,
    )
