"""Certificates follow Skupper 1.5's rules and work with OpenSSL (what the router uses)."""

from __future__ import annotations

import datetime
import os
import socket
import ssl
import stat
import subprocess
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from skupper_podman import pki


@pytest.fixture(scope="module")
def site_ca() -> pki.Credential:
    return pki.new_ca("skupper-site-ca")


@pytest.fixture(scope="module")
def other_ca() -> pki.Credential:
    return pki.new_ca("skupper-site-ca")


@pytest.fixture(scope="module")
def server(site_ca) -> pki.Credential:
    return pki.issue(site_ca, "skupper-router", ["skupper-router", "host1.example.com", "127.0.0.1"])


@pytest.fixture(scope="module")
def client(site_ca) -> pki.Credential:
    return pki.issue(site_ca, "skupper", ["host1.example.com", "host1.example.com"])


def _write(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _openssl_verify(tmp_path, ca_pem: bytes, cert_pem: bytes, purpose: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["openssl", "verify", "-purpose", purpose, "-CAfile", _write(tmp_path, "ca.pem", ca_pem),
         _write(tmp_path, "cert.pem", cert_pem)],
        capture_output=True, text=True, check=False)


def test_ca_is_self_signed_ca_with_cert_sign(site_ca):
    cert = pki.load_certificate(site_ca.cert_pem)
    assert site_ca.is_ca and pki.is_ca(site_ca.cert_pem)
    assert cert.issuer == cert.subject
    assert cert.subject.rfc4514_string() == "CN=skupper-site-ca"
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.digital_signature and usage.key_encipherment
    assert pki.issued_by(site_ca.cert_pem, site_ca.cert_pem)
    assert site_ca.files().keys() == {"tls.crt", "tls.key"}


def test_issued_certificate_rules(server, site_ca):
    cert = pki.load_certificate(server.cert_pem)
    assert cert.subject.rfc4514_string() == "CN=skupper-router"
    assert pki.common_name(server.cert_pem) == "skupper-router"
    assert cert.public_key().key_size == 2048
    assert cert.serial_number > 0 and cert.serial_number < 2 ** 128
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    assert server.ca_pem == site_ca.cert_pem
    assert server.files().keys() == {"tls.crt", "tls.key", "ca.crt"}
    assert not server.is_ca


def test_validity_is_five_years_from_now(server):
    cert = pki.load_certificate(server.cert_pem)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((cert.not_valid_before_utc - now).total_seconds()) < 60
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(days=5 * 365)
    assert pki.not_valid_after(server.cert_pem) == cert.not_valid_after_utc


def test_key_is_pkcs1_rsa_2048(server):
    assert server.key_pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----\n")
    key = serialization.load_pem_private_key(server.key_pem, password=None)
    assert key.key_size == 2048
    assert key.public_key().public_numbers() == pki.load_certificate(server.cert_pem).public_key().public_numbers()


def test_ip_hosts_are_dns_and_ip_sans(server):
    # Skupper 1.5 quirk: IP hosts are also DNS SANs, which is how it reads them back.
    assert pki.dns_names(server.cert_pem) == ["skupper-router", "host1.example.com", "127.0.0.1"]
    assert pki.ip_addresses(server.cert_pem) == ["127.0.0.1"]


def test_duplicate_hosts_are_kept(client):
    assert pki.dns_names(client.cert_pem) == ["host1.example.com", "host1.example.com"]


def test_empty_host_list_gives_one_empty_dns_name(site_ca, tmp_path):
    local_client = pki.issue(site_ca, "skupper-router-local")
    assert pki.dns_names(local_client.cert_pem) == [""]
    assert pki.dns_names(site_ca.cert_pem) == [""]
    # OpenSSL still parses and verifies it.
    assert _openssl_verify(tmp_path, site_ca.cert_pem, local_client.cert_pem, "sslclient").returncode == 0


def test_serials_are_random(site_ca):
    serials = {pki.load_certificate(pki.issue(site_ca, "x").cert_pem).serial_number for _ in range(3)}
    assert len(serials) == 3


@pytest.mark.parametrize("purpose", ["sslserver", "sslclient"])
def test_openssl_verifies_the_chain_for_both_purposes(tmp_path, site_ca, server, purpose):
    result = _openssl_verify(tmp_path, site_ca.cert_pem, server.cert_pem, purpose)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_openssl_rejects_a_foreign_ca(tmp_path, other_ca, server):
    result = _openssl_verify(tmp_path, other_ca.cert_pem, server.cert_pem, "sslserver")
    assert result.returncode != 0


def test_issued_by_checks_the_signature(server, client, site_ca, other_ca):
    assert pki.issued_by(server.cert_pem, site_ca.cert_pem)
    # Same subject name, different key: the signature check must tell them apart.
    assert not pki.issued_by(server.cert_pem, other_ca.cert_pem)
    assert not pki.issued_by(server.cert_pem, client.cert_pem)


def test_fingerprint_is_sha256_of_der(server, client):
    assert len(pki.fingerprint(server.cert_pem)) == 64
    assert pki.fingerprint(server.cert_pem) != pki.fingerprint(client.cert_pem)
    out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"],
                         input=server.cert_pem, capture_output=True, check=True).stdout.decode()
    assert out.strip().split("=", 1)[1].replace(":", "").lower() == pki.fingerprint(server.cert_pem)


def test_simple_credential_has_only_the_ca(site_ca):
    cred = pki.simple(site_ca)
    assert cred.is_simple
    assert cred.files() == {"ca.crt": site_ca.cert_pem}


def test_issue_needs_a_ca_key(site_ca):
    with pytest.raises(ValueError):
        pki.issue(pki.simple(site_ca), "x")


def test_write_and_read_back_with_modes(tmp_path, server):
    folder = tmp_path / "skupper-site-server"
    paths = pki.write_credential(folder, server)
    assert sorted(p.name for p in paths) == ["ca.crt", "tls.crt", "tls.key"]
    assert stat.S_IMODE(os.stat(folder / "tls.key").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(folder / "tls.crt").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(folder / "ca.crt").st_mode) == 0o644
    assert pki.Credential.from_files(folder) == server
    assert sorted(os.listdir(folder)) == ["ca.crt", "tls.crt", "tls.key"]  # no temp files left


def test_rewrite_replaces_files_and_sets_owner(tmp_path, server, client):
    folder = tmp_path / "cred"
    pki.write_credential(folder, server)
    pki.write_credential(folder, client, uid=os.getuid(), gid=os.getgid())
    assert pki.Credential.from_files(folder) == client
    assert os.stat(folder / "tls.key").st_uid == os.getuid()


def test_from_files_of_an_empty_directory_fails(tmp_path):
    with pytest.raises(FileNotFoundError):
        pki.Credential.from_files(tmp_path)


def test_from_data_ignores_other_keys(site_ca):
    cred = pki.Credential.from_data({"ca.crt": site_ca.cert_pem, "connect.json": b"{}"})
    assert cred.is_simple


def _serve_once(context: ssl.SSLContext, listener: socket.socket, result: dict) -> None:
    conn, _ = listener.accept()
    try:
        with context.wrap_socket(conn, server_side=True) as tls:
            result["peer_cn"] = dict(x[0] for x in tls.getpeercert()["subject"])["commonName"]
            tls.sendall(b"ok")
    except (ssl.SSLError, OSError) as err:
        result["error"] = err


@pytest.mark.parametrize("server_name", ["skupper-router", "host1.example.com", "127.0.0.1"])
def test_mutual_tls_handshake_with_hostname_checks(tmp_path, site_ca, server, client, server_name):
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(_write(tmp_path, "s.crt", server.cert_pem), _write(tmp_path, "s.key", server.key_pem))
    server_ctx.load_verify_locations(_write(tmp_path, "ca.crt", site_ca.cert_pem))
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    client_ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    client_ctx.load_cert_chain(_write(tmp_path, "c.crt", client.cert_pem), _write(tmp_path, "c.key", client.key_pem))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        result: dict = {}
        thread = threading.Thread(target=_serve_once, args=(server_ctx, listener, result))
        thread.start()
        with socket.create_connection(listener.getsockname(), timeout=10) as raw:
            with client_ctx.wrap_socket(raw, server_hostname=server_name) as tls:
                assert tls.recv(2) == b"ok"
        thread.join(10)
    assert result.get("peer_cn") == "skupper", result


def test_hostname_not_in_sans_is_rejected(tmp_path, site_ca, server):
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(_write(tmp_path, "s.crt", server.cert_pem), _write(tmp_path, "s.key", server.key_pem))
    client_ctx = ssl.create_default_context(cafile=_write(tmp_path, "ca.crt", site_ca.cert_pem))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        result: dict = {}
        thread = threading.Thread(target=_serve_once, args=(server_ctx, listener, result))
        thread.start()
        with socket.create_connection(listener.getsockname(), timeout=10) as raw:
            with pytest.raises(ssl.SSLCertVerificationError):
                client_ctx.wrap_socket(raw, server_hostname="elsewhere.example.com")
        thread.join(10)
    assert "error" in result
