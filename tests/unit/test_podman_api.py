"""The standard-library reader of the Podman API (podman/api.py), against a small HTTP server on
a unix socket that answers as Podman does (JSON bodies, 404 with a JSON message)."""
from __future__ import annotations

import http.client
import json
import socketserver
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from skupper_podman.podman.api import API_PREFIX, ApiError, ApiReader


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the Podman service

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        if self.path.startswith(f"{API_PREFIX}/volumes/missing/"):
            self._reply(404, {"cause": "no such volume", "message": "no volume with name \"missing\" found"})
        elif self.path.startswith(f"{API_PREFIX}/volumes/broken/"):
            self._reply(500, {"message": "storage is damaged"})
        else:
            self._reply(200, {"Name": "vol"})

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):  # BaseHTTPRequestHandler wants a (host, port) client address
        sock, _ = super().get_request()
        return sock, ("local", 0)


@pytest.fixture
def server(tmp_path):
    srv = _Server(str(tmp_path / "podman.sock"), _Handler)
    srv.paths = []  # type: ignore[attr-defined]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_inspect_answers_json_and_none_for_404(server):
    reader = ApiReader(f"unix://{server.server_address}", 5)
    assert reader.inspect("volumes", "vol") == {"Name": "vol"}
    assert reader.inspect("volumes", "missing") is None
    with pytest.raises(ApiError, match="storage is damaged") as err:
        reader.inspect("volumes", "broken")
    assert err.value.status == 500


def test_names_and_filters_are_encoded(server):
    reader = ApiReader(f"unix://{server.server_address}", 5)
    reader.inspect("images", "localhost/router:2.5.3")
    reader.list("containers", {"label": ["a=b"]}, all="true")
    assert server.paths[0] == f"{API_PREFIX}/images/localhost%2Frouter%3A2.5.3/json"
    assert server.paths[1].startswith(f"{API_PREFIX}/containers/json?all=true&filters=")


def test_a_request_cut_short_leaves_the_reader_usable(server, monkeypatch):
    """A stop signal raised mid-request (here: in getresponse) must not leave the kept-alive
    connection in the middle of a request: the rollback that follows reads Podman again."""
    reader = ApiReader(f"unix://{server.server_address}", 5)
    original = http.client.HTTPConnection.getresponse

    def interrupted(self):
        monkeypatch.setattr(http.client.HTTPConnection, "getresponse", original)
        raise KeyboardInterrupt

    monkeypatch.setattr(http.client.HTTPConnection, "getresponse", interrupted)
    with pytest.raises(KeyboardInterrupt):
        reader.inspect("volumes", "vol")
    assert reader.inspect("volumes", "vol") == {"Name": "vol"}


def test_no_service_is_a_transport_error(tmp_path):
    with pytest.raises(ApiError) as err:
        ApiReader(f"unix://{tmp_path}/none.sock", 5).request("/_ping", prefix="")
    assert err.value.status == 0
