"""Podman's JSON -> the adapter's records, from answers of the Podman 4.3.1 service."""
from __future__ import annotations

from skupper_podman.podman.records import (
    PortBinding,
    container_from_inspect,
    container_from_list,
    image_from_api,
    network_from_api,
    volume_from_api,
)

LIST_ENTRY = {
    "Created": "2026-11-29T07:31:10.89451143Z", "Id": "c519ac57", "Image": "localhost/skupper-router-real:2.5.3",
    "ImageID": "e8e1ddb5", "Labels": {"application": "skupper", "skupper-podman.io/namespace": "mt1"},
    "Names": ["mt1-skupper-router"], "Networks": ["mt1-skupper"], "State": "running",
    "Ports": [{"host_ip": "127.0.0.1", "container_port": 5671, "host_port": 41887, "range": 1, "protocol": "tcp"},
              {"host_ip": "", "container_port": 55671, "host_port": 31671, "range": 2, "protocol": "tcp"}],
}
INSPECT = {
    "Name": "mt1-skupper-router", "Created": "2026-11-29T07:31:10.89451143Z", "Image": "e8e1ddb5",
    "ImageName": "localhost/skupper-router-real:2.5.3",
    "Config": {"Image": "localhost/skupper-router-real:2.5.3", "Labels": {"application": "skupper"}},
    "State": {"Status": "exited", "Running": False},
    "HostConfig": {"PortBindings": {"45671/tcp": [{"HostIp": "", "HostPort": "31672"}], "55672/tcp": None,
                                    "55671/tcp": [{"HostIp": "10.0.0.1", "HostPort": "31671"},
                                                  {"HostIp": "10.0.0.2", "HostPort": "31671"}]}},
    "NetworkSettings": {"Networks": {"mt1-skupper": {"Aliases": ["skupper-router", "skupper-router-local"]}}},
}


def test_a_listed_container():
    ctr = container_from_list(LIST_ENTRY)
    assert (ctr.name, ctr.image, ctr.image_id, ctr.state) == (
        "mt1-skupper-router", "localhost/skupper-router-real:2.5.3", "e8e1ddb5", "running")
    assert ctr.running and ctr.labels["skupper-podman.io/namespace"] == "mt1"
    assert ctr.networks == {"mt1-skupper": ()}
    assert ctr.host_port(5671) == 41887 and ctr.published(5671) == [PortBinding(5671, "127.0.0.1", 41887)]
    assert ctr.host_port(55672) == 31672  # a range of 2 is two bindings
    assert ctr.host_port(1) is None


def test_an_inspected_container():
    ctr = container_from_inspect(INSPECT)
    assert (ctr.name, ctr.image, ctr.image_id, ctr.state, ctr.running) == (
        "mt1-skupper-router", "localhost/skupper-router-real:2.5.3", "e8e1ddb5", "exited", False)
    assert ctr.networks == {"mt1-skupper": ("skupper-router", "skupper-router-local")}
    assert sorted(p.host_ip for p in ctr.published(55671)) == ["10.0.0.1", "10.0.0.2"]
    assert ctr.host_port(45671) == 31672 and ctr.host_port(55672) is None  # unpublished: null bindings
    assert ctr.created == "2026-11-29T07:31:10.89451143Z"


def test_sparse_answers_give_defaults():
    ctr = container_from_inspect({"Name": "/x"})
    assert (ctr.name, ctr.image, ctr.state, ctr.ports, dict(ctr.networks), dict(ctr.labels)) == (
        "x", "", "unknown", (), {}, {})
    assert container_from_list({"Id": "abc"}).name == "abc"


def test_volumes_networks_and_images():
    vol = volume_from_api({"Name": "v", "Mountpoint": "/var/lib/v/_data", "CreatedAt": "2026-01-01T00:00:00Z",
                           "Labels": {"skupper.io/type": "connection-token"}})
    assert (vol.name, vol.mountpoint, vol.created, vol.labels["skupper.io/type"]) == (
        "v", "/var/lib/v/_data", "2026-01-01T00:00:00Z", "connection-token")
    assert volume_from_api({"Name": "w", "Labels": None}).labels == {}
    net = network_from_api({"name": "skupper", "dns_enabled": True, "labels": {"application": "skupper"}})
    assert (net.name, net.dns_enabled, net.labels["application"]) == ("skupper", True, "skupper")
    assert network_from_api({"name": "podman"}).dns_enabled is False
    image = image_from_api({"Id": "4b09", "Digest": "sha256:7344", "RepoTags": ["localhost/a:1", "localhost/a:2"]})
    assert (image.id, image.digest, image.tags) == ("4b09", "sha256:7344", ("localhost/a:1", "localhost/a:2"))
    assert image_from_api({"Id": "x", "RepoTags": None}).tags == ()
