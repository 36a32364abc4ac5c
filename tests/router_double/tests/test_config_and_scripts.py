"""Config loading and the image's start scripts, run on the host."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from skrouterd_double.config import ConfigError, load_config, read_config_text


def test_json_reader_drops_comment_lines(tmp_path: Path):
    path = tmp_path / "c.json"
    path.write_text('# a comment\n[\n  # another\n  ["router", {"id": "a"}]\n]\n')
    assert read_config_text(str(path)) == [["router", {"id": "a"}]]


def test_non_json_file_names_are_refused_like_a_conf_parse_failure(tmp_path: Path):
    path = tmp_path / "skrouterd.conf"
    path.write_text('[["router", {"id": "a"}]]')
    with pytest.raises(ConfigError, match="Cannot load configuration file .*skrouterd.conf"):
        read_config_text(str(path))


def test_load_order_puts_profiles_before_links(tmp_path: Path, schema):
    path = tmp_path / "c.json"
    path.write_text('[["listener", {"name": "l", "port": 1, "sslProfile": "p"}],'
                    ' ["router", {"id": "a"}], ["sslProfile", {"name": "p"}], ["log", {"module": "DEFAULT"}]]')
    types = [schema.entity_type(t).short_name for t, _ in load_config(str(path), schema)]
    assert types == ["log", "router", "sslProfile", "listener"]


def test_invalid_attribute_is_named(tmp_path: Path, schema):
    path = tmp_path / "c.json"
    path.write_text('[["router", {"id": "a"}], ["listener", {"name": "l", "colour": "red"}]]')
    with pytest.raises(ConfigError, match="colour"):
        load_config(str(path), schema)


def _configure(env: dict[str, str], conf: str, target: Path, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", f"{env['HOME_DIR']}/bin/configure.sh", env["HOME_DIR"], str(target)],
                          env={**env, "QDROUTERD_CONF": conf, **extra}, capture_output=True, text=True)


def test_configure_concatenates_files_and_directory_conf_files(tmp_path: Path, scripts_env):
    conf_dir = tmp_path / "d"
    conf_dir.mkdir()
    (conf_dir / "a.conf").write_text("A\n")
    (conf_dir / "b.conf").write_text("B\n")
    (conf_dir / "c.txt").write_text("not included\n")
    single = tmp_path / "single"
    single.write_text("S\n")
    target = tmp_path / "out.json"
    result = _configure(scripts_env, f"{single},{conf_dir}:{single}", target)
    assert result.returncode == 0, result.stderr
    assert target.read_text() == "S\nA\nB\nS\n"


def test_configure_writes_inline_text_and_expands_variables_outside_comments(tmp_path: Path, scripts_env):
    target = tmp_path / "out.json"
    result = _configure(scripts_env, '# ${X}\n[["router", {"id": "r-${X}-$X-${UNSET}"}]]', target, X="1")
    assert result.returncode == 0, result.stderr
    assert target.read_text() == '# ${X}\n[["router", {"id": "r-1-1-${UNSET}"}]]\n'


def test_configure_fails_on_a_missing_path(tmp_path: Path, scripts_env):
    result = _configure(scripts_env, str(tmp_path / "missing"), tmp_path / "out.json")
    assert result.returncode != 0
