"""A token's credential is checked by a TLS handshake in memory, as the linked router checks it."""
from __future__ import annotations

import datetime
import os
import stat
import tempfile

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from skupper_podman import pki
from skupper_podman.links.credential_check import CredentialRefused, check_client_credential

NOW = datetime.datetime.now(datetime.timezone.utc)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def make(cn: str, issuer: tuple[x509.Certificate, object] | None = None, *, ca: bool = False,
         usages: tuple = (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH),
         not_before: datetime.datetime = NOW - datetime.timedelta(minutes=5),
         not_after: datetime.datetime = NOW + datetime.timedelta(days=1), key=None):
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer[0].subject if issuer else name).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca and usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
    cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    return cert, key


@pytest.fixture(scope="module")
def site_ca():
    return make("skupper-site-ca", ca=True)


def check(cert, key, ca) -> None:
    check_client_credential(_pem(cert), _key_pem(key), _pem(ca))


def test_a_skupper_token_credential_passes():
    ca = pki.new_ca("skupper-site-ca")
    client = pki.issue(ca, "skupper")
    check_client_credential(client.cert_pem, client.key_pem, ca.cert_pem)


def test_client_only_and_ecdsa_credentials_pass(site_ca):
    check(*make("client", site_ca, usages=(ExtendedKeyUsageOID.CLIENT_AUTH,)), site_ca[0])
    check(*make("ec", site_ca, key=ec.generate_private_key(ec.SECP256R1())), site_ca[0])


def test_dates_are_left_to_the_linked_router(site_ca):
    """Its clock decides: a token from a host whose clock runs ahead must not fail here."""
    check(*make("expired", site_ca, not_before=NOW - datetime.timedelta(days=3),
                not_after=NOW - datetime.timedelta(days=1)), site_ca[0])
    check(*make("future", site_ca, not_before=NOW + datetime.timedelta(hours=1)), site_ca[0])


def test_an_intermediate_ca_in_the_token_is_a_trust_anchor(site_ca):
    intermediate = make("intermediate", site_ca, ca=True)
    check(*make("leaf", intermediate), intermediate[0])


def test_another_ca_is_refused(site_ca):
    other = make("other-ca", ca=True)
    with pytest.raises(CredentialRefused, match="^its certificate was not issued by its CA$"):
        check(*make("client", site_ca), other[0])


def test_a_server_only_certificate_is_refused(site_ca):
    with pytest.raises(CredentialRefused, match=r"does not verify against its CA \(uns\w+ certificate purpose\)"):
        check(*make("server", site_ca, usages=(ExtendedKeyUsageOID.SERVER_AUTH,)), site_ca[0])


def test_a_key_of_another_certificate_is_refused(site_ca):
    cert, _ = make("client", site_ca)
    _, other_key = make("other", site_ca)
    with pytest.raises(CredentialRefused, match="^its key does not match its certificate$"):
        check(cert, other_key, site_ca[0])


@pytest.mark.parametrize("field", ["cert", "key", "ca"])
@pytest.mark.parametrize("garbage", [b"", b"not pem", b"\xff\xfe\x00binary",
                                     b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])
def test_unreadable_data_is_refused(site_ca, field, garbage):
    cert, key = make("client", site_ca)
    parts = {"cert": _pem(cert), "key": _key_pem(key), "ca": _pem(site_ca[0])} | {field: garbage}
    with pytest.raises(CredentialRefused, match="unreadable"):
        check_client_credential(parts["cert"], parts["key"], parts["ca"])


def test_the_key_is_written_private_and_removed(site_ca, monkeypatch):
    seen = []
    real = tempfile.TemporaryDirectory

    class Watching(real):
        def cleanup(self):
            seen.extend((p, stat.S_IMODE(os.stat(os.path.join(self.name, p)).st_mode))
                        for p in os.listdir(self.name))
            seen.append(("dir", stat.S_IMODE(os.stat(self.name).st_mode)))
            super().cleanup()
            seen.append(("gone", os.path.exists(self.name)))

    monkeypatch.setattr(tempfile, "TemporaryDirectory", Watching)
    check(*make("client", site_ca), site_ca[0])
    assert ("tls.key", 0o600) in seen and ("dir", 0o700) in seen and ("gone", False) in seen
