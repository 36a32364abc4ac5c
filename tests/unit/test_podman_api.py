"""The standard-library reader of the Podman API (podman/api.py), against a small HTTP server on
a unix socket that answers as Podman does (JSON bodies, 404 with a JSON message)."""
from __future__ import annotations

import json
import socketserver
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from skupper_podman.podman.api import API_PREFIX, ApiError, ApiClient, _Connection


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the Podman service

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        if self.path.startswith(f"{API_PREFIX}/volumes/missing/"):
            self._reply(404, {"cause": "no such volume", "message": "no volume with name \"missing\" found"})
        elif self.path.startswith(f"{API_PREFIX}/volumes/broken/"):
            self._reply(500, {"message": "storage is damaged"})
        elif self.path.startswith(f"{API_PREFIX}/containers/json"):  # Go streams large lists chunked
            data = json.dumps([{"Names": [f"c{i}"]} for i in range(500)]).encode()
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(data), 4096):
                part = data[start:start + 4096]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path.startswith(f"{API_PREFIX}/volumes/once/"):  # answers, then drops the connection
            self._reply(200, {"Name": "once"})
            self.close_connection = True
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
    reader = ApiClient(f"unix://{server.server_address}", 5)
    assert reader.inspect("volumes", "vol") == {"Name": "vol"}
    assert reader.inspect("volumes", "missing") is None
    with pytest.raises(ApiError, match="storage is damaged") as err:
        reader.inspect("volumes", "broken")
    assert err.value.status == 500


def test_names_and_filters_are_encoded(server):
    reader = ApiClient(f"unix://{server.server_address}", 5)
    reader.inspect("images", "localhost/router:2.5.3")
    reader.list("containers", {"label": ["a=b"]}, all="true")
    assert server.paths[0] == f"{API_PREFIX}/images/localhost%2Frouter%3A2.5.3/json"
    assert server.paths[1].startswith(f"{API_PREFIX}/containers/json?all=true&filters=")


def test_a_request_cut_short_leaves_the_reader_usable(server, monkeypatch):
    """A stop signal raised mid-request (here: while reading headers) must not leave the kept-alive
    connection in the middle of a request: the rollback that follows reads Podman again."""
    reader = ApiClient(f"unix://{server.server_address}", 5)
    original = _Connection._headers

    def interrupted(self):
        monkeypatch.setattr(_Connection, "_headers", original)
        raise KeyboardInterrupt

    monkeypatch.setattr(_Connection, "_headers", interrupted)
    with pytest.raises(KeyboardInterrupt):
        reader.inspect("volumes", "vol")
    assert reader.inspect("volumes", "vol") == {"Name": "vol"}


def test_chunked_answers_are_read_whole(server):
    reader = ApiClient(f"unix://{server.server_address}", 5)
    assert len(reader.list("containers", {})) == 500
    assert reader.inspect("volumes", "vol") == {"Name": "vol"}  # the connection is still in step


def test_a_connection_the_service_dropped_is_replaced(server):
    reader = ApiClient(f"unix://{server.server_address}", 5)
    assert reader.inspect("volumes", "once") == {"Name": "once"}
    assert reader.inspect("volumes", "vol") == {"Name": "vol"}


def test_no_service_is_a_transport_error(tmp_path):
    with pytest.raises(ApiError) as err:
        ApiClient(f"unix://{tmp_path}/none.sock", 5).request("/_ping", prefix="")
    assert err.value.status == 0
