"""Runs inside the bench client container (python3 + iperf3); prints one JSON line.

    measure HOST ECHO_PORT IPERF_PORT SECONDS N_RTT N_CONNECT
        iperf3 throughput (one stream, receiver side), echo round trips of 64 bytes on one
        open connection, and new connection + first echo, sequentially
    wait HOST PORT TIMEOUT
        wait until HOST:PORT echoes
    poll NAME PORT TIMEOUT
        print a "started" line, then resolve NAME and try an echo every 20 ms until one comes
        back; print the wall-clock time of that first answer (the host compares it with when
        it ran a command; the container shares the host's clock)

Every loop is bounded by its timeout or its count; every socket has a timeout.
"""
import json
import socket
import statistics
import subprocess
import sys
import threading
import time

PAYLOAD = b"x" * 64


def echo(sock, payload):
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        data = sock.recv(len(payload) - len(got))
        if not data:
            raise OSError("connection closed before the echo came back")
        got += data
    if got != payload:
        raise OSError("wrong echo")


def open_echo(host, port, timeout):
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(timeout)
    return sock


def try_echo(host, port, timeout=2.0):
    try:
        with open_echo(host, port, timeout) as sock:
            echo(sock, b"ping")
        return True
    except OSError:
        return False


def resolve(name, timeout):
    """getaddrinfo in a thread so a stalled DNS server cannot hold the poll loop."""
    answer = []
    worker = threading.Thread(target=lambda: answer.append(_lookup(name)), daemon=True)
    worker.start()
    worker.join(timeout)
    return answer[0] if answer else None


def _lookup(name):
    try:
        return socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
    except OSError:
        return None


def round_trips(host, port, count):
    with open_echo(host, port, 10) as sock:
        for _ in range(20):  # warm up
            echo(sock, PAYLOAD)
        samples = []
        for _ in range(count):
            start = time.perf_counter()
            echo(sock, PAYLOAD)
            samples.append(time.perf_counter() - start)
    return samples


def new_connections(host, port, count):
    samples, failures = [], 0
    for _ in range(count):
        start = time.perf_counter()
        try:
            with open_echo(host, port, 10) as sock:
                echo(sock, PAYLOAD)
        except OSError:
            failures += 1
            continue
        samples.append(time.perf_counter() - start)
    return samples, failures


def iperf(host, port, seconds):
    """Receiver-side Gbit/s of one iperf3 stream (one retry if the run fails)."""
    error = ""
    for _ in range(2):
        try:
            out = subprocess.run(["iperf3", "-c", host, "-p", str(port), "-t", str(seconds), "-J",
                                  "--connect-timeout", "5000"],
                                 capture_output=True, text=True, timeout=seconds + 30)
            data = json.loads(out.stdout or "{}")
        except (subprocess.TimeoutExpired, ValueError) as err:
            error = str(err)
            continue
        if "error" in data or "end" not in data:
            error = data.get("error", "no result")
            time.sleep(1)
            continue
        return data["end"]["sum_received"]["bits_per_second"] / 1e9, ""
    return None, error


def percentile(samples, fraction):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "measure":
        host, echo_port, iperf_port = args[0], int(args[1]), int(args[2])
        seconds, n_rtt, n_connect = int(args[3]), int(args[4]), int(args[5])
        rtt = round_trips(host, echo_port, n_rtt)
        connects, failures = new_connections(host, echo_port, n_connect)
        gbps, error = iperf(host, iperf_port, seconds)
        print(json.dumps({
            "gbps": gbps, "iperf_error": error,
            "rtt_ms": statistics.median(rtt) * 1000, "rtt_p90_ms": percentile(rtt, 0.9) * 1000,
            "connect_ms": statistics.median(connects) * 1000 if connects else None,
            "connect_p90_ms": percentile(connects, 0.9) * 1000 if connects else None,
            "connect_failures": failures,
        }))
    elif command == "wait":
        host, port, timeout = args[0], int(args[1]), float(args[2])
        start = time.monotonic()
        while not try_echo(host, port):
            if time.monotonic() - start > timeout:
                print(json.dumps({"ready": False}))
                return
            time.sleep(0.1)
        print(json.dumps({"ready": True, "waited_s": time.monotonic() - start}))
    elif command == "poll":
        name, port, timeout = args[0], int(args[1]), float(args[2])
        print(json.dumps({"started": time.time()}), flush=True)
        start = time.monotonic()
        tries = 0
        while time.monotonic() - start < timeout:
            tries += 1
            address = resolve(name, 1.0)
            if address and try_echo(address, port, timeout=1.0):
                print(json.dumps({"at": time.time(), "tries": tries}))
                return
            time.sleep(0.02)
        print(json.dumps({"at": None, "tries": tries}))
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
