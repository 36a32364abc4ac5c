"""Mutual TLS on listeners: accepted with a certificate from the profile's CA, refused with
one from another CA or none, and unreadable credentials only failing the handshakes."""

from __future__ import annotations

import os
import socket
import ssl

import pytest

import configs
from proton import ConnectionException

from mgmt_client import ManagementClient, tls_domain
from routers import CONFIG_DIR


@pytest.fixture(scope="module")
def tls_router(module_lab, site_ca):
    lab = module_lab
    cfg = lab.config_dir("tls")
    site_ca.issue(cfg / "skupper-amqps", "skupper-router-local", ("skupper-router-local",))
    entities = [
        configs.router("tls-router"),
        configs.amqp_listener(),
        configs.ssl_profile("skupper-amqps"),
        configs.mtls_listener("amqps", 5671, "skupper-amqps"),
    ]
    return lab.start_and_wait("tls", entities=entities, ports=(5672, 5671))


def _client(router, credential_dir=None, ca=None, **kwargs) -> ManagementClient:
    cert = key = None
    if credential_dir is not None:
        cert, key = str(credential_dir / "tls.crt"), str(credential_dir / "tls.key")
    return ManagementClient(router.url(5671, "amqps"), ssl_domain=tls_domain(cert, key, ca),
                            allowed_mechs="EXTERNAL", timeout=5, **kwargs)


def test_client_certificate_from_the_profile_ca_is_accepted(tls_router, site_ca, workdir):
    client_dir = workdir / "client"
    site_ca.issue(client_dir, "conformance-client")
    with _client(tls_router, client_dir, str(client_dir / "ca.crt"), container_id="tls-client") as client:
        rows = client.rows("connection", ["container", "role", "dir", "isEncrypted", "isAuthenticated",
                                          "sslProto", "sasl", "user"])
    (mine,) = [row for row in rows if row["container"] == "tls-client"]
    assert mine["isEncrypted"] is True and mine["isAuthenticated"] is True
    assert mine["sslProto"].startswith("TLSv1.")
    assert mine["sasl"] == "EXTERNAL"
    assert "conformance-client" in mine["user"]


def test_client_certificate_from_another_ca_is_refused(tls_router, site_ca, other_ca, workdir):
    client_dir = workdir / "untrusted"
    other_ca.issue(client_dir, "intruder")
    with pytest.raises(ConnectionException):
        _client(tls_router, client_dir, str(site_ca_file(workdir, site_ca)))


def test_client_without_certificate_is_refused(tls_router, site_ca, workdir):
    with pytest.raises(ConnectionException):
        _client(tls_router, None, str(site_ca_file(workdir, site_ca)))


def test_server_certificate_is_verified_by_the_client(tls_router, other_ca, site_ca, workdir):
    client_dir = workdir / "client2"
    site_ca.issue(client_dir, "conformance-client")
    wrong_ca = workdir / "wrong-ca.crt"
    wrong_ca.write_bytes(other_ca.cert_pem())
    with pytest.raises(ConnectionException):
        _client(tls_router, client_dir, str(wrong_ca))


def site_ca_file(workdir, site_ca):
    path = workdir / "site-ca.crt"
    path.write_bytes(site_ca.cert_pem())
    return path


def _handshake_is_unanswered(host: str, port: int) -> bool:
    """True when a TLS client hello to ``host:port`` gets no answer for 1 s and the connection
    stays open (the real router neither answers nor closes)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=1) as sock:
        try:
            context.wrap_socket(sock)
        except TimeoutError:
            return True
        except (ssl.SSLError, OSError):
            return False
    return False


def test_unusable_credentials_do_not_stop_the_router_but_leave_handshakes_unanswered(lab, site_ca):
    cfg = lab.config_dir("nokey")
    credential = site_ca.issue(cfg / "skupper-amqps", "skupper-router-local", ("skupper-router-local",))
    os.chown(credential.key, 0, 0)
    credential.key.chmod(0o600)  # the router runs as uid 10000 and cannot read it
    entities = [configs.router("nokey-router"), configs.amqp_listener(),
                configs.ssl_profile("skupper-amqps"), configs.mtls_listener("amqps", 5671, "skupper-amqps"),
                # a listener may name an sslProfile that does not exist: the same happens
                ["listener", {"name": "ghost", "port": 5673, "sslProfile": "no-such-profile"}]]
    router = lab.start_and_wait("nokey", entities=entities, ports=(5672, 5671, 5673))
    host = lab.ip("nokey")
    assert _handshake_is_unanswered(host, 5671)
    assert _handshake_is_unanswered(host, 5673)
    with router.management() as plain:  # the plain listener still works
        assert plain.rows("router", ["id"]) == [{"id": "nokey-router"}]
    logs = router.logs()
    assert "Cannot set SSL credentials" in logs
    assert "(to :5671) failed: amqp:internal-error" in logs and "(to :5673) failed: amqp:internal-error" in logs


def test_profile_with_missing_ca_file_does_not_stop_the_router(lab):
    # Skupper 1.5 configures skupper-service-client with a ca.crt that is never mounted.
    entities = [configs.router("noca"), configs.amqp_listener(),
                ["sslProfile", {"name": "skupper-service-client",
                                "caCertFile": f"{CONFIG_DIR}/skupper-service-client/ca.crt"}]]
    router = lab.start_and_wait("noca", entities=entities)
    with router.management() as client:
        (row,) = client.rows("sslProfile", ["name", "caCertFile"])
    assert row["name"] == "skupper-service-client"
