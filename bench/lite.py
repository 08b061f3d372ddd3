"""The lite stack against the Celery and Local stacks on the same image: time to healthy and memory.

    .venv/bin/python bench/lite.py [--versions 2.10.4,3.3.2] [--settle 60]

For each version and variant (lite, local, celery): a fresh project from the stand-in images, `afc up` timed
until it returns healthy, then `docker stats --no-stream` summed over the stack's running containers right
away and again after `--settle` seconds, then `afc down --volumes --yes`. One stack at a time (run it under
the stack lock on a shared machine). Prints a Markdown table for BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers import afc, standin_flags  # noqa: E402

UNITS = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1, "GiB": 1024}
VARIANTS = {"lite": ["--lite"], "local": ["--executor", "local"], "celery": ["--executor", "celery"]}


def memory_mib(project: str) -> tuple[float, int]:
    """Memory summed over the project's running containers (docker stats), and how many there are."""
    ids = subprocess.run(["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={project}"],
                         capture_output=True, text=True, check=True).stdout.split()
    stats = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", *ids],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    total = 0.0
    for line in stats:
        match = re.match(r"([\d.]+)\s*([KMG]?i?B)", line.strip())
        total += float(match[1]) * UNITS[match[2]]
    return total, len(ids)


def measure(version: str, variant: str, port: int, settle: float, root: Path) -> dict:
    name = f"bench-lite-{variant}-{version.replace('.', '')}"
    project = root / name
    afc("init", str(project), *standin_flags(version), *VARIANTS[variant], "--port", str(port), check=True)
    try:
        began = time.monotonic()
        up = afc("up", "--timeout", "600", project=project)
        elapsed = time.monotonic() - began
        if up.returncode != 0:
            return {"error": (up.stderr or up.stdout).strip().splitlines()[0]}
        reported = re.search(r"healthy after ([\d.]+)s", up.stdout + up.stderr)
        first, containers = memory_mib(name)
        time.sleep(settle)
        settled, _ = memory_mib(name)
        return {"healthy": float(reported[1]) if reported else elapsed, "memory": first, "settled": settled,
                "containers": containers}
    finally:
        afc("down", "--volumes", "--yes", project=project)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", default="2.10.4,3.3.2")
    parser.add_argument("--settle", type=float, default=60.0)
    args = parser.parse_args()
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    rows = []
    with tempfile.TemporaryDirectory(prefix="afc-bench-lite-") as folder:
        port = 18390
        for version in args.versions.split(","):
            for variant in VARIANTS:
                port += 1
                result = measure(version, variant, port, args.settle, Path(folder))
                rows.append((version, variant, result))
                print(f"{version} {variant}: {result}", file=sys.stderr, flush=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"`bench/lite.py`, {stamp}, n=1 per row, load at the start: `{load}`\n")
    print("| Airflow | stack | containers running | time to healthy | memory when healthy | "
          f"memory {args.settle:.0f} s later |")
    print("|---|---|---|---|---|---|")
    for version, variant, result in rows:
        if "error" in result:
            print(f"| {version} | {variant} | – | failed: {result['error']} | – | – |")
            continue
        print(f"| {version} | {variant} | {result['containers']} | {result['healthy']:.1f} s | "
              f"{result['memory']:.0f} MiB | {result['settled']:.0f} MiB |")


if __name__ == "__main__":
    main()
