"""CLI start-up: wall time of ``skupper --help``, ``version``, ``status``, ``link status`` and
``service status`` (a new process each time, against a running site), as ratios to
``python -c pass`` measured in the same run, rounds interleaved so load drifts hit all alike.
The CPU time of each process (user + system) is printed too: on a busy machine it is closer to
what the wall time would be on a quiet one.

The CLI is run as users get it: a wheel of this checkout installed in a fresh virtualenv (byte
code compiled at install, no editable-install finder, which alone costs every start of the
development venv ~10 ms), its dependencies taken from the project's venv. The development
venv's ``skupper`` is timed too, for comparison.

The site lives in a private XDG directory under a random namespace (``--ingress none``, so no
host ports) and is deleted at the end, also when the run fails.

Usage: .venv/bin/python bench/bench_cli.py [rounds, default 15]
"""
from __future__ import annotations

import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from common import ROOT, IsolatedUser, router_image

GOAL_MS = 150  # version and status, on a quiet machine (issue #9)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``cmd``."""
    cpu, start = _cpu(), time.perf_counter()
    out = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd[1:])} failed: {out.stderr.strip()}")
    return elapsed, _cpu() - cpu


def installed_venv(where: Path) -> Path:
    """A fresh venv at ``where`` with this checkout installed from a wheel; returns its bin/."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    wheels = where / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
                   check=True)
    pip = where / "bin" / "pip"
    subprocess.run([str(pip), "install", "-q", "--no-deps", *map(str, wheels.glob("*.whl"))], check=True)
    site = Path(subprocess.run([str(where / "bin" / "python"), "-c",
                                "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # the dependencies: the project venv's site-packages as a plain path (its .pth files, among
    # them the editable finder, are not run from there)
    (site / "zz-project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return where / "bin"


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    user = IsolatedUser(router_image())
    namespace = f"{user.prefix}-cli"
    user.env["SKUPPER_PLATFORM"] = "podman"
    # as users run it: byte code cached (an installed wheel ships it; an editable install
    # writes it on the first run). PYTHONDONTWRITEBYTECODE would recompile ours every start.
    user.env.pop("PYTHONDONTWRITEBYTECODE", None)
    scratch = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    installed = installed_venv(scratch / "venv")
    dev = str(ROOT / ".venv/bin/skupper")
    skupper = str(installed / "skupper")
    cases = {
        "python -c pass": [str(installed / "python"), "-c", "pass"],
        "--help": [skupper, "--help"],
        "version": [skupper, "version", "-n", namespace],
        "status": [skupper, "status", "-n", namespace],
        "link status": [skupper, "link", "status", "-n", namespace],
        "service status": [skupper, "service", "status", "-n", namespace],
        "dev venv: python -c pass": [sys.executable, "-c", "pass"],
        "dev venv: status": [dev, "status", "-n", namespace],
    }
    try:
        user.skupper("init", "-n", namespace, "--ingress", "none")
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for name, cmd in cases.items():  # warm the page cache and byte code once
            timed_run(cmd, user.env)
        for _ in range(rounds):
            for name, cmd in cases.items():
                samples[name].append(timed_run(cmd, user.env))
    finally:
        user.cleanup([namespace])
        shutil.rmtree(scratch, ignore_errors=True)
    base_wall = statistics.median(w for w, _ in samples["python -c pass"])
    base_cpu = statistics.median(c for _, c in samples["python -c pass"])
    print(f"CLI start-up, {rounds} rounds, a new process each: median wall (min), ratio to python -c pass; "
          "median CPU, ratio")
    for name, values in samples.items():
        wall = statistics.median(w for w, _ in values)
        low = min(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        goal = f"   goal < {GOAL_MS} ms wall" if name in ("version", "status") else ""
        print(f"  {name:<26} {wall * 1000:7.1f} ms ({low * 1000:6.1f})  x{wall / base_wall:5.1f}   "
              f"cpu {cpu * 1000:7.1f} ms  x{cpu / base_cpu:5.1f}{goal}")


if __name__ == "__main__":
    main()
