"""Bad input and damaged state through the CLI: each a one-line error naming what is at fault,
exit 1, quickly, and nothing half-made."""
from __future__ import annotations

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import free_port, init_site, labelled, podman_cli

pytestmark = pytest.mark.e2e


def _one_line_failure(out: subprocess.CompletedProcess, *expected: str) -> str:
    assert out.returncode == 1, (out.returncode, out.stdout, out.stderr)
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "Traceback" not in out.stderr and "unexpected failure" not in out.stderr, out.stderr
    for text in expected:
        assert text in out.stderr, out.stderr
    return out.stderr


def _init_args(*extra: str) -> list[str]:
    return ["init", "--bind-port", str(free_port()), "--bind-port-edge", str(free_port()),
            "--timeout", "30s", *extra]


@pytest.mark.parametrize(("flags", "expected"), [
    (["--site-name", "west/east"], "invalid value for --site-name: 'west/east'"),
    (["--ingress-host", ""], "invalid value for --ingress-host: ''"),
    (["--ingress-host", "evil;rm -rf /"], "invalid value for --ingress-host: 'evil;rm -rf /'"),
    (["--ingress-host", "999.1.1.1"], "invalid value for --ingress-host: '999.1.1.1'"),
    (["--ingress-host", "a" * 300], "invalid value for --ingress-host: 'aaaa"),
    (["--ingress-host", "a b"], "invalid value for --ingress-host: 'a b'"),
    (["--ingress", "none", "--ingress-host", "west.example"], "--ingress-host cannot be used with --ingress none"),
    (["--ingress-bind-ip", "300.1.1.1"], "invalid value for --ingress-bind-ip: '300.1.1.1' is not an IP address"),
])
def test_init_refuses_bad_values_up_front(site_env, flags, expected):
    started = time.monotonic()
    message = _one_line_failure(site_env.skupper(*_init_args(*flags), timeout=60), expected)
    assert "already bound" not in message
    assert time.monotonic() - started < 15
    assert labelled(site_env.namespace) == []


def _sparse(path: Path, size: int) -> Path:
    with open(path, "wb") as handle:
        handle.truncate(size)
    return path


def test_link_create_refuses_what_is_no_token_file_and_bad_numbers(site_env, tmp_path):
    init_site(site_env, site_env.namespace, "west")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    binary = tmp_path / "bin.token"
    binary.write_bytes(bytes(range(256)) * 8)
    cases = [(fifo, "not a regular file"), (Path("/dev/zero"), "not a regular file"),
             (_sparse(tmp_path / "big.yaml", 50 * 1024 * 1024), "larger than 1048576 bytes"),
             (binary, "not UTF-8 text"), (tmp_path, "not a regular file")]
    for path, expected in cases:
        started = time.monotonic()
        _one_line_failure(site_env.skupper("link", "create", str(path), timeout=30), str(path), expected)
        assert time.monotonic() - started < 10, path

    token = tmp_path / "t.yaml"
    token.write_text("kind: Secret\n")
    _one_line_failure(site_env.skupper("link", "create", str(token), "--cost", "99999999999999999999"), "cost")
    _one_line_failure(site_env.skupper("link", "status", "--wait=-5"), "--wait")


def _volume_path(volume: str, *parts: str) -> Path:
    mountpoint = podman_cli("volume", "inspect", "--format", "{{.Mountpoint}}", volume).stdout.strip()
    return Path(mountpoint, *parts)


def test_damaged_state_is_named_and_delete_still_cleans_up(site_env, tmp_path):
    ns = site_env.namespace
    init_site(site_env, ns, "west")

    # token create onto a symlink replaces the link, never writes through it
    precious = tmp_path / "precious"
    precious.write_text("keep me")
    link = tmp_path / "west.token"
    link.symlink_to(precious)
    out = site_env.skupper("token", "create", str(link))
    assert out.returncode == 0, out.stderr
    assert precious.read_text() == "keep me" and not link.is_symlink()

    services = _volume_path(f"{ns}-skupper-services", "skupper-services.json")
    services.write_text('{"backend": ')
    _one_line_failure(site_env.skupper("status"), "damaged services file", "skupper-services.json")
    services.write_text("{}")

    config = _volume_path(f"{ns}-skupper-internal", "skrouterd.json")
    intact = config.read_bytes()
    config.write_bytes(intact[: len(intact) // 2])
    message = _one_line_failure(site_env.skupper("status"), "damaged router config skrouterd.json",
                                f"{ns}-skupper-internal")
    assert "not enabled" not in message
    config.write_bytes(intact)

    podman_cli("volume", "rm", f"{ns}-skupper-site-ca")
    _one_line_failure(site_env.skupper("status"), f"{ns}-skupper-site-ca")

    podman_yaml = Path(site_env.env["XDG_DATA_HOME"], "skupper/namespaces", ns, "podman.yaml")
    podman_yaml.write_bytes(b"\x00\xff: [")
    out = site_env.skupper("delete")
    assert out.returncode == 0, out.stderr
    assert labelled(ns) == [] and not podman_yaml.exists()


def test_concurrent_link_creates_keep_both_connectors(site_env, tmp_path):
    ns = site_env.namespace
    tokens = []
    for far in ("a", "b"):
        init_site(site_env, f"{ns}{far}", far)
        token = tmp_path / f"{far}.token"
        out = site_env.skupper("token", "create", str(token), namespace=f"{ns}{far}")
        assert out.returncode == 0, out.stderr
        tokens.append(token)
    try:
        init_site(site_env, ns, "hub")
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda t: site_env.skupper("link", "create", str(t)), tokens))
        assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
        text = _volume_path(f"{ns}-skupper-internal", "skrouterd.json").read_text()
        assert '"link1"' in text and '"link2"' in text
    finally:
        for far in ("a", "b"):
            site_env.skupper("delete", namespace=f"{ns}{far}")
