"""A site on the fake Podman: discovery from records, leftovers, delete, version and status
helpers, and file access inside volumes."""
from __future__ import annotations

import os

import pytest

from skupper_podman import pki
from skupper_podman.errors import NotInitialized, RouterUnavailable, SkupperError
from skupper_podman.paths import ADDRESS_LABEL, APP_LABEL, APP_VALUE, SERVICES, SITE_SERVER
from skupper_podman.podman.records import ContainerRecord, ImageRecord, PortBinding
from skupper_podman.podman.volumes import VolumeFiles
from skupper_podman.site.lifecycle import SERVICES_FILE, Site
from skupper_podman.site.status import _require_running, exposed_services, version_info
from tests.helpers import FakePodman, FakeSite

IMAGE = "localhost/skupper-router-real:2.5.3"


def _router(site: Site, state: str = "running", ports: tuple[PortBinding, ...] | None = None) -> ContainerRecord:
    if ports is None:
        ports = (PortBinding(5671, "127.0.0.1", 41887), PortBinding(55671, "10.0.0.2", 31671),
                 PortBinding(55671, "10.0.0.1", 31671), PortBinding(45671, "10.0.0.1", 31672))
    record = ContainerRecord(
        name=site.layout.router_container, image=IMAGE, image_id="e8e1ddb5",
        labels={**site.layout.labels, "skupper.io/component": "skupper-router"}, state=state, ports=ports,
        networks={"ut-skupper": ("skupper-router", "skupper-router-local")})
    return site.podman.add_container(record)  # type: ignore[attr-defined]


@pytest.fixture
def real_site(site: FakeSite) -> Site:
    """A plain Site (real discovery) over the fake Podman and files that init left."""
    plain = Site(site.layout, site.podman)
    ca = pki.new_ca("skupper-site-ca")
    plain.files.write_all(plain.vol(SITE_SERVER), pki.issue(ca, "skupper-router",
                                                            ["skupper-router", "west.example"]).files())
    return plain


def test_discovery_reads_the_router_record_config_and_certificate(real_site):
    _router(real_site)
    info = real_site.get()
    assert (info.namespace, info.name, info.mode, info.image, info.network) == (
        "ut", "west", "interior", IMAGE, "ut-skupper")
    assert info.site_id and info.router_state == "running"
    assert info.ingress_hosts == ["skupper-router", "west.example"]
    assert (info.bind_ips, info.bind_port, info.bind_port_edge, info.management_port) == (
        ["10.0.0.1", "10.0.0.2"], 31671, 31672, 41887)
    assert not info.ingress_none and real_site.exists()


def test_discovery_of_a_site_without_ingress_or_router(real_site):
    assert not real_site.exists()
    with pytest.raises(NotInitialized, match="^ut-skupper-router component not found$"):
        real_site.get()
    _router(real_site, state="exited", ports=(PortBinding(5671, "127.0.0.1", 41887),))
    info = real_site.get()
    assert info.ingress_none and info.bind_ips == [] and info.router_state == "exited"
    with pytest.raises(RouterUnavailable, match="ut-skupper-router is exited; the site is not working"):
        _require_running(real_site, info)


def test_discovery_of_an_incomplete_site(real_site):
    _router(real_site)
    (real_site.files.path(real_site.vol(SITE_SERVER)) / "tls.crt").unlink()
    with pytest.raises(SkupperError, match="tls.crt"):
        real_site.get()


def test_leftovers_and_delete_remove_service_routers_before_the_site_router(real_site):
    fake: FakePodman = real_site.podman  # type: ignore[assignment]
    _router(real_site)
    for i in range(3):
        fake.add_container(ContainerRecord(f"ut-svc{i}", IMAGE, labels={
            **real_site.layout.labels, ADDRESS_LABEL: f"svc{i}"}, state="running"))
    fake.add_container(ContainerRecord("someone-else", IMAGE, labels={APP_LABEL: "other"}))
    fake.create_network("ut-skupper", real_site.layout.labels)
    leftovers = real_site.leftovers()
    assert {"ut-skupper-router", "ut-svc0", "ut-skupper", "ut-skupper-internal"} <= set(leftovers)
    assert "someone-else" not in leftovers

    assert real_site.delete() is True
    assert fake.removed[-1] == "ut-skupper-router" and sorted(fake.removed[:3]) == ["ut-svc0", "ut-svc1", "ut-svc2"]
    assert "remove_container" not in fake.calls  # bulk removal, no per-container lookups
    assert real_site.leftovers() == [] and list(fake.ctrs) == ["someone-else"]
    assert real_site.delete() is False


def test_version_names_the_image_tag_and_short_digest(real_site):
    assert version_info(None).router_image is None
    assert version_info(real_site).router_image is None  # no router: client version only
    _router(real_site)
    real_site.podman.images["e8e1ddb5"] = ImageRecord(  # type: ignore[attr-defined]
        "e8e1ddb5", "sha256:73449b6d245a6e4070a3e3a6c5b8c87", ("quay.io/skupper/skupper-router:2.5.3",))
    version = version_info(real_site)
    assert (version.router_image, version.router_digest) == ("quay.io/skupper/skupper-router:2.5.3",
                                                             "sha256:73449b6d245a")
    real_site.podman.images.clear()  # type: ignore[attr-defined]
    version = version_info(real_site)
    assert (version.router_image, version.router_digest) == (IMAGE, None)


def test_exposed_services_counts_the_definitions(site):
    assert exposed_services(site) == 0
    site.files.write(site.vol(SERVICES), SERVICES_FILE, '{"a": {}, "b": {}}')
    assert exposed_services(site) == 2


# -- files inside volumes ----------------------------------------------------------------------

def test_volume_files_are_written_atomically_with_their_modes(site):
    files = site.files
    volume = site.vol("skupper-router-certs")
    files.write_all(volume, {"tls.key": b"k", "tls.crt": b"c"}, subdir="profile")
    folder = files.path(volume, "profile")
    assert oct(os.stat(folder / "tls.key").st_mode & 0o777) == "0o600"
    assert oct(os.stat(folder / "tls.crt").st_mode & 0o777) == "0o644"
    assert files.read_all(volume, "profile") == {"tls.crt": b"c", "tls.key": b"k"}
    assert files.exists(volume, "profile/tls.crt") and not [p for p in folder.iterdir() if p.name.startswith(".")]
    files.remove_tree(volume, "profile")
    assert not folder.exists() and files.read_all(volume, "profile") == {}


def test_volume_files_refuse_paths_outside_the_volume_and_missing_volumes(site):
    with pytest.raises(SkupperError, match="outside volume"):
        site.files.path(site.vol("skupper-internal"), "../ut-skupper-site-ca/tls.key")
    with pytest.raises(SkupperError, match="volume nope not found"):
        site.files.read("nope", "x")


def test_a_remote_endpoint_has_no_local_mountpoint(tmp_path):
    podman = FakePodman(tmp_path)
    podman.create_volume("v", {APP_LABEL: APP_VALUE})
    os.rmdir(tmp_path / "v")  # the mountpoint lives on another machine
    with pytest.raises(SkupperError, match="You cannot use a remote podman endpoint - volume v is not available"):
        VolumeFiles(podman).mountpoint("v")  # type: ignore[arg-type]


def test_volume_mountpoints_come_from_one_labelled_list(site):
    files = VolumeFiles(site.podman, site.layout.label_filter)  # type: ignore[arg-type]
    site.fake.calls.clear()
    for base in ("skupper-internal", "skupper-services", "skupper-site-ca", "skupper-internal"):
        files.mountpoint(site.vol(base))
    assert site.fake.calls == ["volumes"]
    site.podman.create_volume("ut-link1", site.layout.labels)  # made after the list: one inspect
    assert files.mountpoint("ut-link1").is_dir() and site.fake.calls == ["volumes", "create_volume", "volume"]
