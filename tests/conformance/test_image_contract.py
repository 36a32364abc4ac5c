"""The router image's start contract: version flags, QDROUTERD_CONF forms, env expansion,
refusing invalid configs, and running as uid 10000 like quay.io/skupper/skupper-router:2.5.3."""

from __future__ import annotations

import json
import re
import time

import pytest

import configs
from routers import CONFIG_DIR


@pytest.mark.parametrize("flag", ["--version", "-v", "-version"])
def test_version_flags_print_the_version(lab, flag):
    rc, output = lab.run_once("version", ["skrouterd", flag])
    assert rc == 0
    assert output.strip() == "2.5.3"


def test_image_metadata_matches_the_real_image(podman_client, router_image):
    config = podman_client.images.get(router_image).attrs["Config"]
    assert config["Cmd"] == ["/home/skrouterd/bin/launch.sh"]
    assert not config.get("Entrypoint")
    assert config["User"] == "10000"
    assert config["WorkingDir"] == "/home/skrouterd/bin"
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["QDROUTERD_HOME"] == "/home/skrouterd"
    assert env["VERSION"] == "2.5.3"
    assert {"5672/tcp", "55672/tcp", "5671/tcp"} <= set(config["ExposedPorts"])


def test_default_config_is_standalone_with_amqp_on_5672(lab):
    router = lab.start_and_wait("default")
    with router.management() as client:
        (row,) = client.rows("router", ["mode", "version"])
    assert row == {"mode": "standalone", "version": "2.5.3"}


def test_router_process_runs_as_uid_10000_as_pid_1(lab):
    router = lab.start_and_wait("uid", entities=[configs.router("uid-check"), configs.amqp_listener()])
    rc, status = router.exec("cat", "/proc/1/status")
    assert rc == 0
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    assert uid_line.split()[1] == "10000"
    rc, cmdline = router.exec("cat", "/proc/1/cmdline")
    assert "skrouterd" in cmdline and "/tmp/skrouterd.json" in cmdline


def _router_id(router) -> str:
    with router.management() as client:
        (row,) = client.rows("router", ["id"])
    return row["id"]


def test_conf_as_a_file_path(lab):
    router = lab.start_and_wait("file", entities=[configs.router("from-file"), configs.amqp_listener()])
    assert _router_id(router) == "from-file"


def test_conf_as_a_list_of_directories_and_files_is_concatenated(lab):
    conf_d = lab.config_dir("list") / "conf.d"
    conf_d.mkdir()
    conf_d.chmod(0o755)
    # Each directory contributes its *.conf files in order; other names are ignored.
    (conf_d / "1-head.conf").write_text('[["router", {"id": "from-list", "mode": "interior"}],\n')
    (conf_d / "2-tail.conf").write_text('["listener", {"name": "amqp", "port": 5672}]\n')
    (conf_d / "ignored.json").write_text("not json at all")
    extra = lab.config_dir("list") / "extra"
    extra.write_text("]\n")
    for path in (conf_d / "1-head.conf", conf_d / "2-tail.conf", conf_d / "ignored.json", extra):
        path.chmod(0o644)
    router = lab.start_and_wait("list", environment={
        "QDROUTERD_CONF": f"{CONFIG_DIR}/conf.d:{CONFIG_DIR}/extra",
        "QDROUTERD_CONF_TYPE": "json"})
    assert _router_id(router) == "from-list"

    comma = lab.start_and_wait("comma", config_name="list", environment={
        "QDROUTERD_CONF": f"{CONFIG_DIR}/conf.d,{CONFIG_DIR}/extra", "QDROUTERD_CONF_TYPE": "json"})
    assert _router_id(comma) == "from-list"


def test_conf_inline_text_with_variable_expansion(lab):
    inline = json.dumps([configs.router("inline-${HOSTNAME}"), configs.amqp_listener(port=5672)])
    router = lab.start_and_wait("inline", environment={"QDROUTERD_CONF": inline,
                                                       "QDROUTERD_CONF_TYPE": "json"})
    assert _router_id(router) == f"inline-{router.name}"


def test_variables_expand_in_a_config_file_but_not_in_comment_lines(lab):
    path = lab.write_config("expand", [configs.router("id-${SITE_SUFFIX}"), configs.amqp_listener()])
    path.write_text("# ${NOT_EXPANDED} $ALSO_NOT\n" + path.read_text())
    router = lab.start_and_wait("expand", environment={
        "QDROUTERD_CONF": f"{CONFIG_DIR}/skrouterd.json", "QDROUTERD_CONF_TYPE": "json",
        "SITE_SUFFIX": "abc"})
    assert _router_id(router) == "id-abc"
    rc, text = router.exec("cat", "/tmp/skrouterd.json")
    assert rc == 0
    assert text.startswith("# ${NOT_EXPANDED} $ALSO_NOT")


def _exits_with_error(lab, name: str, **kwargs) -> str:
    router = lab.create(name, **kwargs)
    rc = router.container.wait(condition="exited", timeout=30)
    assert rc != 0, router.logs()
    return router.logs()


def test_json_config_without_conf_type_json_is_refused(lab):
    lab.write_config("notype", [configs.router("x"), configs.amqp_listener()])
    logs = _exits_with_error(lab, "notype", environment={"QDROUTERD_CONF": f"{CONFIG_DIR}/skrouterd.json"})
    assert "Cannot load configuration file /tmp/skrouterd.conf" in logs


@pytest.mark.parametrize("entities, error", [
    ([configs.router("x"), ["listener", {"name": "l", "port": 5672, "bogusAttribute": 1}]],
     "io.skupper.router.listener: Unknown attribute 'bogusAttribute' for 'io.skupper.router.listener'"),
    ([configs.router("x"), ["listener", {"name": "l", "port": 5672, "role": "sideways"}]],
     ("io.skupper.router.listener: Invalid value for enum['normal', 'inter-router', 'route-container', "
      "'edge', 'inter-edge']: 'sideways'")),
    ([configs.router("x"), ["connector", {"name": "c", "port": "5672", "cost": "cheap"}]],
     "io.skupper.router.connector: invalid literal for int() with base 10: 'cheap'"),
    ([configs.router("x"), configs.router("y")], "Adding io.skupper.router.router singleton"),
    ([configs.router("x"), ["noSuchType", {"name": "n"}]], "No such entity type 'io.skupper.router.noSuchType'"),
], ids=["unknown-attribute", "bad-enum", "bad-integer", "two-routers", "unknown-type"])
def test_invalid_config_stops_the_router(lab, entities, error):
    logs = _exits_with_error(lab, "invalid", entities=entities)
    assert f"Cannot load configuration file /tmp/skrouterd.json: {error}" in logs
    assert "Router start-up failed: Python: Exception: Cannot load configuration file" in logs


@pytest.mark.parametrize("entity, errors", [
    (["tcpListener", {"name": "t", "port": "9000", "address": "a", "sslProfile": "nope"}],
     ["Adaptor listener t configuration error: failed to find sslProfile 'nope'",
      "Router start-up failed: Python: ValidationError: Invalid tcpListener configuration: see logs for details."]),
    (["tcpConnector", {"name": "t", "host": "127.0.0.1", "port": "9000", "address": "a", "sslProfile": "nope"}],
     ["Adaptor connector t configuration error: failed to find sslProfile 'nope'",
      "Router start-up failed: Python: ValidationError: Invalid tcpConnector configuration: see logs for details."]),
    (["tcpListener", {"name": "t", "port": "9000"}],
     ["Router start-up failed: Python: CError: Python: KeyError: ('address',)"]),
], ids=["listener-missing-profile", "connector-missing-profile", "no-address"])
def test_tcp_adaptor_config_errors_stop_the_router(lab, entity, errors):
    logs = _exits_with_error(lab, "tcp-invalid", entities=[configs.router("x"), configs.amqp_listener(), entity])
    for error in errors:
        assert error in logs


def test_config_without_router_entity_runs_a_standalone_router(lab):
    router = lab.start_and_wait("norouter", entities=[configs.amqp_listener()])
    with router.management() as client:
        (row,) = client.rows("router", ["id", "mode"])
    assert row["mode"] == "standalone"
    assert re.fullmatch(r"Standalone_\S{15}", row["id"]), row


def test_broken_json_stops_the_router(lab):
    path = lab.write_config("broken", [configs.router("x")])
    path.write_text(path.read_text()[:-3])
    logs = _exits_with_error(lab, "broken", environment={
        "QDROUTERD_CONF": f"{CONFIG_DIR}/skrouterd.json", "QDROUTERD_CONF_TYPE": "json"})
    assert "Cannot load configuration file" in logs


def test_sigterm_stops_the_router_at_once_with_exit_code_0(lab):
    router = lab.start_and_wait("stop", entities=[configs.router("stop"), configs.amqp_listener()])
    started = time.monotonic()
    router.container.stop(timeout=5)
    assert time.monotonic() - started < 4
    router.container.reload()
    assert router.container.attrs["State"]["ExitCode"] == 0
