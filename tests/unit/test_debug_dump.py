"""What the debug dump lets through (never keys) and how events print."""
from __future__ import annotations

from skupper_podman.cli.debug_commands import age, events_text
from skupper_podman.network.debug import EventGroup, redact

KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"


def test_redact_removes_pem_keys_and_secret_fields():
    text = f'cert ok\n{KEY}\n{{"password": "hunter2", "tls.key": "abc", "name": "link1"}}'
    out = redact(text)
    assert "PRIVATE KEY" not in out and "hunter2" not in out and '"tls.key": "[redacted]"' in out
    assert "cert ok" in out and '"name": "link1"' in out
    ec = "-----BEGIN EC PRIVATE KEY-----\nabc\n-----END EC PRIVATE KEY-----"
    assert redact(ec) == "[redacted]"


def test_age_like_go_durations():
    assert [age(s) for s in (0, 45, 552, 3723)] == ["0s", "45s", "9m12s", "1h2m3s"]


def test_events_table():
    groups = [EventGroup("RouterConnection", 2, 90.0, [(1, "lost", 90.0), (1, "connected", 10.0)])]
    lines = events_text(groups, 100.0).splitlines()
    assert lines[0].split() == ["NAME", "COUNT", "AGE"]
    assert lines[1].split() == ["RouterConnection", "2", "10s"]
    assert lines[2].split() == ["1", "lost", "10s"] and lines[3].split() == ["1", "connected", "1m30s"]
