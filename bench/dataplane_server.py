"""Runs inside the bench server container: an echo server on each port given (threads, one
per connection, TCP_NODELAY). iperf3 runs next to it in the same container."""
import socket
import sys
import threading


def serve(conn):
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)
        except OSError:
            return


def listen(port):
    server = socket.create_server(("0.0.0.0", port), backlog=256)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


for arg in sys.argv[1:]:
    threading.Thread(target=listen, args=(int(arg),), daemon=True).start()
threading.Event().wait()
