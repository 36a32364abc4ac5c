"""CLI start-up: wall time of ``skupper --help``, ``version``, ``status``, ``link status`` and
``service status`` (a new process each time, against a running site), as ratios to
``python -c pass`` measured in the same run, rounds interleaved so load drifts hit all alike.

The site lives in a private XDG directory under a random namespace (``--ingress none``, so no
host ports) and is deleted at the end, also when the run fails.

Usage: .venv/bin/python bench/bench_cli.py [rounds, default 15]
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time

from common import ROOT, IsolatedUser, router_image

GOAL_MS = 150  # version and status, on a quiet machine (issue #9)


def wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    out = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd[1:])} failed: {out.stderr.strip()}")
    return elapsed


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    user = IsolatedUser(router_image())
    namespace = f"{user.prefix}-cli"
    user.env["SKUPPER_PLATFORM"] = "podman"
    skupper = str(ROOT / ".venv/bin/skupper")
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "--help": [skupper, "--help"],
        "version": [skupper, "version", "-n", namespace],
        "status": [skupper, "status", "-n", namespace],
        "link status": [skupper, "link", "status", "-n", namespace],
        "service status": [skupper, "service", "status", "-n", namespace],
    }
    try:
        user.skupper("init", "-n", namespace, "--ingress", "none")
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for name, cmd in cases.items():  # warm the page cache and byte code once
            wall(cmd, user.env)
        for _ in range(rounds):
            for name, cmd in cases.items():
                samples[name].append(wall(cmd, user.env))
    finally:
        user.cleanup([namespace])
    base = statistics.median(samples["python -c pass"])
    print(f"CLI start-up, {rounds} rounds, a new process each (median / min wall; ratio of medians "
          f"to python -c pass)")
    for name, values in samples.items():
        med, low = statistics.median(values) * 1000, min(values) * 1000
        goal = f"   goal < {GOAL_MS} ms" if name in ("version", "status") else ""
        print(f"  {name:<16} {med:8.1f} ms  min {low:8.1f} ms  x{med / (base * 1000):5.1f}{goal}")


if __name__ == "__main__":
    main()
