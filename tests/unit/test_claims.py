"""Redeeming claim tokens (``claims.redeem``) against the test claims server."""
from __future__ import annotations

import base64
import datetime
import http.client
import socket
import ssl

import pytest
import yaml

from skupper_podman import pki
from skupper_podman.links.claims import redeem
from skupper_podman.errors import InputError
from skupper_podman.links.tokens import cert_token, read_token, verify_token
from tests.claims_server import ClaimsServer

SITE_ID = "0b8f4a52-6a3e-4f0e-9d57-0d5c1d1e2f3a"


@pytest.fixture(scope="module")
def cas() -> dict[str, pki.Credential]:
    """CAs are slow to make: the claims endpoint's, the Kubernetes site's and a stranger's."""
    return {name: pki.new_ca(name) for name in ("claims-ca", "site-ca", "other-ca")}


@pytest.fixture
def server(cas):
    with ClaimsServer(tls_ca=cas["claims-ca"], site_ca=cas["site-ca"], link_host="kube.example",
                      link_port=31001, edge_port=31002) as running:
        yield running


def _refused(claim, site_id: str = SITE_ID) -> str:
    with pytest.raises(InputError) as caught:
        redeem(claim, site_id, timeout=10)
    message = str(caught.value)
    assert message.startswith(f'Error processing claim "{claim.name}": '), message
    assert "\n" not in message
    return message


def test_redeem_merges_the_cert_token(server, cas, tmp_path):
    name = server.add_claim(name="my-claim")
    claim = read_token(server.write_claim(tmp_path / "claim.yaml", name))
    verify_token(claim)

    token = redeem(claim, SITE_ID)

    assert token.name == "my-claim"
    assert token.labels == {"skupper.io/type": "connection-token"}
    assert token.annotations == {
        "edge-host": "kube.example", "edge-port": "31002",
        "inter-router-host": "kube.example", "inter-router-port": "31001",
        "skupper.io/generated-by": server.site_id, "skupper.io/site-version": "1.5.5",
        "skupper.io/url": f"https://127.0.0.1:{server.port}/my-claim",
    }
    assert set(token.data) == {"ca.crt", "tls.crt", "tls.key"}  # the password is gone
    assert token.data["ca.crt"] == cas["site-ca"].cert_pem
    assert pki.issued_by(token.data["tls.crt"], cas["site-ca"].cert_pem)
    assert pki.common_name(token.data["tls.crt"]) == SITE_ID  # subject = skupper-site-name
    assert token.secret_type == "kubernetes.io/tls"
    verify_token(token)
    assert token.endpoint() == ("kube.example", "31001")

    [request] = server.requests
    assert request.method == "POST" and request.path == "/my-claim"
    assert request.query == {"site-version": ["1.5.5"]}
    assert request.headers["skupper-site-name"] == SITE_ID
    assert request.body == server.records["my-claim"].password.encode()
    assert server.records["my-claim"].remaining == 0 and server.records["my-claim"].made == 1


def test_reply_labels_and_annotations_override_the_claims(server, cas):
    reply = yaml.safe_load(cert_token("subject", cas["site-ca"], server.site_id, "kube.example", 1, 2).to_yaml())
    reply["metadata"]["labels"]["extra"] = "from-reply"
    reply["metadata"]["annotations"]["skupper.io/cost"] = "4"
    server.issuer = lambda subject, claim: yaml.safe_dump(reply)
    claim = server.claim_token(server.add_claim())
    claim.labels["mine"] = "kept"
    claim.annotations["skupper.io/site-version"] = "1.5.1"

    token = redeem(claim, SITE_ID)

    assert token.labels == {"skupper.io/type": "connection-token", "extra": "from-reply", "mine": "kept"}
    assert token.annotations["skupper.io/cost"] == "4"
    assert token.annotations["skupper.io/site-version"] == "1.5.5"  # the reply wins
    assert token.annotations["skupper.io/url"] == claim.annotations["skupper.io/url"]


def test_claim_with_several_uses(server):
    name = server.add_claim(uses=2)
    claim = server.claim_token(name)
    redeem(claim, SITE_ID)
    redeem(claim, "another-site")
    assert [r.headers["skupper-site-name"] for r in server.requests] == [SITE_ID, "another-site"]
    assert _refused(claim).endswith(": 404 No such claim")


def test_wrong_password_is_refused_and_uses_nothing(server):
    name = server.add_claim()
    assert _refused(server.claim_token(name, password="not-the-password")).endswith(": 403 Claim refused")
    assert server.records[name].remaining == 1
    redeem(server.claim_token(name), SITE_ID)


@pytest.mark.parametrize("case", ["unknown", "expired", "used-up"])
def test_no_such_claim(server, case):
    if case == "unknown":
        claim = server.claim_token("never-issued")
    elif case == "expired":
        claim = server.claim_token(server.expire(server.add_claim()))
    else:
        claim = server.claim_token(server.add_claim())
        redeem(claim, SITE_ID)
    assert _refused(claim) == f'Error processing claim "{claim.name}": 404 No such claim'


def test_method_not_allowed(server):
    server.accepted_methods = frozenset({"PUT"})
    claim = server.claim_token(server.add_claim())
    assert _refused(claim).endswith(": 405 Only POST is supported")
    assert server.requests[-1].method == "POST"


def test_site_version_refused(server):
    # A verifier that finds our 1.5.5 too old (1.5.5's tests move its minimum the same way).
    server.site_version, server.minimum_site_version = "3.0.0", "2.0.0"
    claim = server.claim_token(server.add_claim())
    assert _refused(claim).endswith(": 400 minimum version required 2.0.0")


def test_server_cert_from_another_ca_is_not_trusted(server, cas):
    claim = server.claim_token(server.add_claim())
    claim.data["ca.crt"] = cas["other-ca"].cert_pem
    assert "CERTIFICATE_VERIFY_FAILED" in _refused(claim)
    assert server.requests == []  # the password never left


def test_system_trust_is_not_used(server, monkeypatch, tmp_path):
    claim = server.claim_token(server.add_claim())
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(server.tls_ca.cert_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))  # even a trusting system store is ignored
    claim.data["ca.crt"] = pki.new_ca("unrelated").cert_pem
    assert "CERTIFICATE_VERIFY_FAILED" in _refused(claim)


def test_hostname_mismatch(server):
    claim = server.claim_token(server.add_claim(), url_host="localhost")  # the cert names 127.0.0.1 only
    message = _refused(claim)
    assert "Hostname mismatch" in message or "CERTIFICATE_VERIFY_FAILED" in message
    assert server.requests == []


def test_closed_port(server):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    claim = server.claim_token(server.add_claim())
    claim.annotations["skupper.io/url"] = f"https://127.0.0.1:{port}/{claim.name}"
    assert "refused" in _refused(claim).lower()


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/x", "not a url", ""])
def test_unusable_claim_url(server, url):
    claim = server.claim_token(server.add_claim())
    claim.annotations["skupper.io/url"] = url
    _refused(claim)


def test_claim_without_ca_or_password(server):
    claim = server.claim_token(server.add_claim())
    del claim.data["ca.crt"]
    assert "ca.crt" in _refused(claim)
    claim = server.claim_token(server.add_claim())
    del claim.data["password"]
    assert "password" in _refused(claim)


def test_answer_that_is_not_a_token(server):
    server.issuer = lambda subject, claim: "{[}"
    claim = server.claim_token(server.add_claim())
    assert "invalid Skupper token" in _refused(claim)


# -- the server itself, spoken to directly -------------------------------------------------

def _raw(server: ClaimsServer, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    context = ssl.create_default_context(cadata=server.tls_ca.cert_pem.decode())
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def test_server_rules(server):
    name = server.add_claim()
    password = server.records[name].password.encode()
    assert _raw(server, "GET", f"/{name}?site-version=1.5.5") == (405, "Only POST is supported\n")
    too_old = (400, "minimum version required 0.8.0\n")
    assert _raw(server, "POST", f"/{name}", password) == too_old
    assert _raw(server, "POST", f"/{name}?site-version=", password) == too_old
    assert _raw(server, "POST", f"/{name}?site-version=0.7.9", password) == too_old
    assert _raw(server, "POST", f"/{name}?site-version=1.5.5", b"wrong") == (403, "Claim refused\n")
    status, body = _raw(server, "POST", f"/{name}?site-version=0.8.0", password)
    assert status == 200
    token = yaml.safe_load(body)
    assert token["metadata"]["name"] == name  # no skupper-site-name header: subject = claim name
    assert pki.common_name(base64.b64decode(token["data"]["tls.crt"])) == name
    assert _raw(server, "POST", f"/{name}?site-version=1.5.5", password) == (404, "No such claim\n")
    assert [r.method for r in server.requests] == ["GET", "POST", "POST", "POST", "POST", "POST", "POST"]


# -- as Skupper 1.5.5's verifier (pkg/kube/claims/claim_verifier.go, pkg/utils/version.go) ------

@pytest.mark.parametrize("version, status", [
    ("1.5", 200),          # partial: 1.5.0
    ("0.8", 200),          # 0.8.0, the minimum
    ("0.7", 400),          # 0.7.0
    ("v0.7.x", 400),       # 0.7.0 with qualifier "x"
    ("garbage", 200),      # unreadable: undefined, accepted
    ("1", 200),            # no separator: unreadable, accepted
    ("0.0.0-rc1", 400),    # 0.0.0 with a qualifier is not undefined
    ("2.0.0", 200),        # newer than the verifier
    ("", 400),             # empty: assumed older than 0.5
])
def test_site_versions_as_1_5_5_reads_them(server, version, status):
    name = server.add_claim()
    password = server.records[name].password.encode()
    answer = _raw(server, "POST", f"/{name}?site-version={version}", password)
    assert answer[0] == status, answer
    if status == 400:
        assert answer[1] == "minimum version required 0.8.0\n"


def test_zero_uses_is_unlimited_and_zero_expiry_never_expires(server):
    name = server.add_claim(uses=0, expiry=datetime.timedelta(0))
    claim = server.claim_token(name)
    for _ in range(3):
        redeem(claim, SITE_ID)
    assert server.records[name].remaining is None and server.records[name].expires is None
    assert server.records[name].made == 3


def test_password_checked_before_remaining_uses(server):
    name = server.add_claim(uses=1)
    claim = server.claim_token(name)
    redeem(claim, SITE_ID)
    claim.data["password"] = b"wrong"
    assert _refused(claim).endswith(": 403 Claim refused")  # not 404: the password comes first


def test_expired_claim_is_no_such_claim_even_with_the_right_password(server):
    claim = server.claim_token(server.expire(server.add_claim()))
    assert _refused(claim).endswith(": 404 No such claim")


def test_claim_name_is_the_path_without_slashes(server):
    name = server.add_claim(name="ab")
    password = server.records[name].password.encode()
    assert _raw(server, "POST", "/a/b?site-version=1.5.5", password)[0] == 200
