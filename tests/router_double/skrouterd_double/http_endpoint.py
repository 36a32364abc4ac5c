"""The HTTP side of a ``listener`` with ``http: true``: ``GET /healthz`` and ``GET /metrics``.

Served from a thread with the standard library's HTTP server (plain HTTP; the double does not
implement AMQP over WebSockets or ``httpRootDir`` file serving).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


class HttpEndpoint:
    """Serves /healthz (when ``healthz``) and /metrics (when ``metrics``) on host:port."""

    def __init__(self, host: str, port: int, *, healthz: bool, metrics: bool,
                 metrics_text: Callable[[], str]) -> None:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "skrouterd"
            sys_version = ""

            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                path = self.path.split("?", 1)[0]
                if path == "/healthz" and endpoint.healthz:
                    self._reply(200, "OK\n")
                elif path == "/metrics" and endpoint.metrics:
                    self._reply(200, endpoint.metrics_text(), "text/plain; version=0.0.4")
                else:
                    self._reply(404, "Not Found\n")

            def _reply(self, code: int, body: str, content_type: str = "text/plain") -> None:
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.healthz, self.metrics, self.metrics_text = healthz, metrics, metrics_text
        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-%d" % port,
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
