"""Certificate authorities and credentials, made the way Skupper 1.5 makes them.

Skupper 1.5 rules (its ``pkg/certs``): RSA 2048 keys stored as PKCS#1 PEM (``RSA PRIVATE
KEY``); a random positive 128-bit serial; valid from now for 5×365 days; subject ``CN=<cn>``
only; KeyUsage DigitalSignature|KeyEncipherment (plus CertSign for a CA); ExtKeyUsage
ServerAuth+ClientAuth on every certificate; BasicConstraints always present. CAs are
self-signed. Every host becomes a DNS SAN and an IP host additionally an IP SAN.

A credential is stored as the files of a Kubernetes TLS Secret: ``tls.crt``, ``tls.key`` and
``ca.crt`` (the issuing CA's certificate). A CA has no ``ca.crt``; a "simple" credential holds
only ``ca.crt``.
"""
from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KEY_SIZE = 2048
VALIDITY = datetime.timedelta(days=5 * 365)
CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"
CA_FILE = "ca.crt"
_FILE_MODES = {CERT_FILE: 0o644, KEY_FILE: 0o600, CA_FILE: 0o644}


@dataclass(frozen=True)
class Credential:
    """PEM material of one Secret-like credential. Absent parts are ``None``."""

    cert_pem: bytes | None
    key_pem: bytes | None
    ca_pem: bytes | None = None

    @property
    def is_ca(self) -> bool:
        """True for a certificate authority (a self-signed CA certificate with its key)."""
        return self.cert_pem is not None and self.key_pem is not None and is_ca(self.cert_pem)

    @property
    def is_simple(self) -> bool:
        """True for a "simple" credential, which only carries a CA certificate to trust."""
        return self.cert_pem is None and self.key_pem is None and self.ca_pem is not None

    def files(self) -> dict[str, bytes]:
        """The Secret data keys (``tls.crt``, ``tls.key``, ``ca.crt``) that are present."""
        parts = {CERT_FILE: self.cert_pem, KEY_FILE: self.key_pem, CA_FILE: self.ca_pem}
        return {name: data for name, data in parts.items() if data is not None}

    @classmethod
    def from_data(cls, data: Mapping[str, bytes]) -> "Credential":
        """Build from Secret data (file name -> PEM bytes); other keys are ignored."""
        if not any(name in data for name in _FILE_MODES):
            raise ValueError("no tls.crt, tls.key or ca.crt in the credential data")
        return cls(cert_pem=data.get(CERT_FILE), key_pem=data.get(KEY_FILE),
                   ca_pem=data.get(CA_FILE))

    @classmethod
    def from_files(cls, directory: str | os.PathLike[str]) -> "Credential":
        """Read ``tls.crt``/``tls.key``/``ca.crt`` from a directory (missing ones stay ``None``)."""
        folder = Path(directory)
        data = {name: (folder / name).read_bytes() for name in _FILE_MODES
                if (folder / name).is_file()}
        if not data:
            raise FileNotFoundError(f"no credential files in {folder}")
        return cls.from_data(data)


def new_ca(cn: str) -> Credential:
    """A new self-signed certificate authority whose subject is ``CN=<cn>``."""
    key = _new_key()
    cert = _build(cn, hosts=(), public_key=key.public_key(), issuer_cert=None, signing_key=key)
    return Credential(cert_pem=_cert_pem(cert), key_pem=_key_pem(key))


def issue(ca: Credential, cn: str, hosts: Iterable[str] = ()) -> Credential:
    """A new certificate and key for ``CN=<cn>`` with SANs for ``hosts``, signed by ``ca``.

    Hosts keep their order and duplicates (Skupper's tokens name the same host twice).
    """
    if ca.cert_pem is None or ca.key_pem is None:
        raise ValueError("the issuing CA needs both its certificate and its key")
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    key = _new_key()
    cert = _build(cn, hosts=tuple(hosts), public_key=key.public_key(), issuer_cert=ca_cert,
                  signing_key=ca_key)
    return Credential(cert_pem=_cert_pem(cert), key_pem=_key_pem(key), ca_pem=ca.cert_pem)


def simple(ca: Credential) -> Credential:
    """A "simple" credential: only the CA certificate, as trust for clients."""
    if ca.cert_pem is None:
        raise ValueError("a simple credential needs the CA certificate")
    return Credential(cert_pem=None, key_pem=None, ca_pem=ca.cert_pem)


def write_credential(directory: str | os.PathLike[str], credential: Credential,
                     uid: int | None = None, gid: int | None = None) -> list[Path]:
    """Write the credential's files into ``directory`` (created if needed); return their paths.

    Keys are owner-only (0600), certificates 0644. Each file is replaced atomically, so a
    reader never sees half a file. ``uid``/``gid`` set the owner of the files (root only).
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in credential.files().items():
        written.append(_write_file(folder / name, data, _FILE_MODES[name], uid, gid))
    return written


# -- inspection ------------------------------------------------------------------------------

def load_certificate(cert_pem: bytes) -> x509.Certificate:
    """Parse a PEM certificate."""
    return x509.load_pem_x509_certificate(cert_pem)


def common_name(cert_pem: bytes) -> str:
    """The CN of the certificate's subject (empty when there is none)."""
    names = load_certificate(cert_pem).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def dns_names(cert_pem: bytes) -> list[str]:
    """The DNS SANs in certificate order (1.5 also lists IP hosts here, and may list ``""``)."""
    return _san_values(cert_pem, x509.DNSName)


def ip_addresses(cert_pem: bytes) -> list[str]:
    """The IP SANs as text, in certificate order."""
    return [str(ip) for ip in _san_values(cert_pem, x509.IPAddress)]


def is_ca(cert_pem: bytes) -> bool:
    """True when the certificate's BasicConstraints say it is a CA."""
    try:
        constraints = load_certificate(cert_pem).extensions.get_extension_for_class(
            x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def issued_by(cert_pem: bytes, ca_pem: bytes) -> bool:
    """True when ``ca_pem``'s subject is the issuer and its key made the signature."""
    cert = load_certificate(cert_pem)
    ca_cert = load_certificate(ca_pem)
    if cert.issuer != ca_cert.subject:
        return False
    public_key = ca_cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey) or cert.signature_hash_algorithm is None:
        return False
    try:
        public_key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                          cert.signature_hash_algorithm)
    except InvalidSignature:
        return False
    return True


def fingerprint(cert_pem: bytes) -> str:
    """SHA-256 of the DER certificate as lowercase hex."""
    der = load_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def not_valid_after(cert_pem: bytes) -> datetime.datetime:
    """The certificate's expiry time (UTC, timezone-aware)."""
    return load_certificate(cert_pem).not_valid_after_utc


# -- building --------------------------------------------------------------------------------

def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def _serial() -> int:
    # Like Go's rand.Int(rand.Reader, 2^128): uniform in [0, 2^128), but X.509 needs > 0.
    return secrets.randbelow(2 ** 128 - 1) + 1


def _subject_alternative_names(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    # Skupper 1.5 splits its comma-joined host string, so an empty host list becomes one
    # empty DNS name (CAs included). Kept on purpose: OpenSSL (the router) and Go (Skupper
    # on Kubernetes) both accept such certificates, and it matches what 1.5 sites produce.
    names: list[x509.GeneralName] = []
    for host in hosts or ("",):
        names.append(x509.DNSName(host))
        ip = _parse_ip(host)
        if ip is not None:
            names.append(x509.IPAddress(ip))
    return names


def _parse_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if "%" in host:  # Go's net.ParseIP rejects scoped addresses
        return None
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _build(cn: str, hosts: tuple[str, ...], public_key: rsa.RSAPublicKey,
           issuer_cert: x509.Certificate | None, signing_key) -> x509.Certificate:
    self_signed = issuer_cert is None
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if self_signed else issuer_cert.subject)
        .public_key(public_key)
        .serial_number(_serial())
        .not_valid_before(now)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=True,
            data_encipherment=False, key_agreement=False, key_cert_sign=self_signed,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=self_signed, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(_subject_alternative_names(hosts)),
                       critical=False)
    )
    # Go adds a subject key id to CAs and an authority key id to what they sign; chain
    # builders (OpenSSL included) use them to pick the issuer.
    if self_signed:
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key),
                                        critical=False)
    else:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key()),
            critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def _san_values(cert_pem: bytes, kind: type) -> list:
    try:
        san = load_certificate(cert_pem).extensions.get_extension_for_class(
            x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return list(san.value.get_values_for_type(kind))


def _write_file(path: Path, data: bytes, mode: int, uid: int | None, gid: int | None) -> Path:
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            os.fchmod(stream.fileno(), mode)
            if uid is not None or gid is not None:
                os.fchown(stream.fileno(), -1 if uid is None else uid, -1 if gid is None else gid)
            stream.write(data)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path
