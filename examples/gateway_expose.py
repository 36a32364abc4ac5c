"""Automation example: a process on this host joins the service network through a gateway.

A site is made, a small HTTP server is started on 127.0.0.1, a podman-type gateway exposes it
as the service ``hello``, a client container on the site's network fetches
``http://hello:8080/`` by the service name, then everything is removed.

Run: .venv/bin/python examples/gateway_expose.py [namespace]
Set QDROUTERD_IMAGE to use a router image other than quay.io/skupper/skupper-router:2.5.3.
"""
from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
import time

from skupper_podman import Gateways, InitOptions, Site, SkupperError

MESSAGE = b"hello through a gateway"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(MESSAGE)))
        self.end_headers()
        self.wfile.write(MESSAGE)

    def log_message(self, *args: object) -> None:
        pass


def fetch_from_site_network(site: Site, url: str, timeout: float = 60) -> str:
    """GET ``url`` from a throw-away container on the site's network (the router image has
    python3), retrying until it answers or ``timeout`` passes."""
    info = site.get()
    client = ("import sys,time,urllib.request\n"
              "end=time.monotonic()+float(sys.argv[2])\n"
              "while True:\n"
              "  try:\n"
              "    print(urllib.request.urlopen(sys.argv[1],timeout=5).read().decode()); break\n"
              "  except Exception as e:\n"
              "    if time.monotonic()>end: sys.exit(str(e))\n"
              "    time.sleep(0.5)\n")
    out = subprocess.run(["podman", "run", "--rm", "--network", info.network, info.image,
                          "python3", "-c", client, url, str(timeout)],
                         capture_output=True, text=True, timeout=timeout + 60, check=False)
    return out.stdout.strip() if out.returncode == 0 else f"no answer: {out.stderr.strip()}"


def main(namespace: str = "example-gw") -> int:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    site = Site.open(namespace)
    try:
        site.init(InitOptions(site_name=namespace, ingress_hosts=["host.containers.internal"],
                              bind_port=free_port(), bind_port_edge=free_port(), timeout=60))
        gateways = Gateways(site)
        started = time.monotonic()
        gateway = gateways.expose("hello", "127.0.0.1", [f"8080:{server.server_port}"], kind="podman",
                                  name="example")
        print(f"gateway {gateway.name} ({gateway.kind}) exposes 127.0.0.1:{server.server_port} as hello:8080 "
              f"in {time.monotonic() - started:.1f}s")
        for status in gateways.status():
            print(f"{status.name}: router {status.state}, connected={status.connected}, "
                  f"bindings={[b['name'] for b in status.bindings]}")
        answer = fetch_from_site_network(site, "http://hello:8080/")
        print(f"http://hello:8080/ answered: {answer}")
        gateways.unexpose("hello", name="example")
        print(f"gateways left after unexpose: {len(gateways.status())}")
        return 0 if answer == MESSAGE.decode() else 1
    except SkupperError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        site.delete()
        server.shutdown()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
