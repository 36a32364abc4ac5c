"""A token's credential checked as the linked router will check it: a TLS handshake in memory.

OpenSSL loads the token's certificate and key (a key of another certificate is refused), the
credential is presented as a TLS client certificate, and the other end verifies it against the
token's CA with the purpose a router checks (TLS client) and proof that the key signs. Validity
dates are left to the linked router, which checks them with its own clock: a token made on a host
whose clock runs ahead would otherwise be refused here for a while.

Standard library only: importing cryptography would cost ``link create`` ~30 ms.
"""
from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path

from skupper_podman._util import openssl_reason

_NO_CHECK_TIME = 0x200000  # OpenSSL's X509_V_FLAG_NO_CHECK_TIME (1.1.0 and later)
# verify errors that mean "another CA signed this" (OpenSSL X509_V_ERR_*)
_NOT_ISSUED_BY = {7, 20, 21}  # CERT_SIGNATURE_FAILURE, UNABLE_TO_GET_ISSUER_CERT_LOCALLY, UNABLE_TO_VERIFY_LEAF_SIGNATURE
_ROUNDS = 8


class CredentialRefused(ValueError):
    """Why the credential would not be accepted (one line, for ``invalid Skupper token: ...``)."""


def check_client_credential(cert_pem: bytes, key_pem: bytes, ca_pem: bytes) -> None:
    """Raise CredentialRefused unless ``cert_pem``/``key_pem`` authenticate as a TLS client
    to a peer that trusts ``ca_pem``."""
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.verify_mode = ssl.CERT_REQUIRED
    server.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | _NO_CHECK_TIME
    _load_credential((client, server), cert_pem, key_pem)
    try:
        server.load_verify_locations(cadata=ca_pem.decode("ascii"))
    except (ssl.SSLError, UnicodeDecodeError, ValueError) as exc:
        raise CredentialRefused(f"unreadable CA certificate ({openssl_reason(exc)})") from None
    try:
        _handshake(client, server)
    except ssl.SSLCertVerificationError as exc:
        if exc.verify_code in _NOT_ISSUED_BY:
            raise CredentialRefused("its certificate was not issued by its CA") from None
        raise CredentialRefused(f"its certificate does not verify against its CA "
                                f"({exc.verify_message})") from None
    except ssl.SSLError as exc:
        raise CredentialRefused(f"its credential fails a TLS handshake ({openssl_reason(exc)})") from None


def _load_credential(contexts: tuple[ssl.SSLContext, ...], cert_pem: bytes, key_pem: bytes) -> None:
    """OpenSSL reads a credential from files only: a private directory, removed at once."""
    with tempfile.TemporaryDirectory(prefix="skupper-token-") as private:  # mode 0700
        cert, key = Path(private, "tls.crt"), Path(private, "tls.key")
        cert.write_bytes(cert_pem)
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key_pem)
        for context in contexts:
            try:
                context.load_cert_chain(cert, key)
            except ssl.SSLError as exc:
                if "KEY_VALUES_MISMATCH" in str(exc):
                    raise CredentialRefused("its key does not match its certificate") from None
                raise CredentialRefused(f"unreadable certificate data ({openssl_reason(exc)})") from None


def _handshake(client: ssl.SSLContext, server: ssl.SSLContext) -> None:
    """Both ends of one TLS handshake, their records passed through memory."""
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()  # what each end reads
    ends = [client.wrap_bio(to_client, to_server), server.wrap_bio(to_server, to_client, server_side=True)]
    done = [False, False]
    for _ in range(_ROUNDS):
        for index, end in enumerate(ends):
            if not done[index]:
                try:
                    end.do_handshake()
                    done[index] = True
                except ssl.SSLWantReadError:
                    pass
        if all(done):  # the server has checked the client's certificate (TLS 1.3: last)
            return
    raise ssl.SSLError("the handshake did not finish")
