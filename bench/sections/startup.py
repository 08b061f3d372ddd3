"""1. CLI start-up: wall time of afc's process against `docker compose version` and a bare interpreter."""
from __future__ import annotations

import sys

from ..core import AFC, Bench, Row, Series, run, section

SECTION = "1. CLI start-up"
COMMANDS = {
    "afc --version": AFC + ["--version"],
    "afc --help": AFC + ["--help"],
    "afc status (outside a project)": AFC + ["status"],
    "docker compose version": ["docker", "compose", "version"],
    "python -c pass": [sys.executable, "-c", "pass"],
}
TARGETS = {"afc --help": 3}  # at most this many times `docker compose version`


@section("startup", title="CLI start-up", how=(
    "**CLI start-up**: wall time of the process, run from an empty folder (so `afc status` fails fast with "
    "\"not an afc project\", exit 3), each command once per round, rounds repeated; one warm-up round first.",))
def startup(bench: Bench) -> None:
    empty = bench.work / "not-a-project"
    empty.mkdir(exist_ok=True)
    series = {k: Series() for k in COMMANDS}
    for command in COMMANDS.values():  # warm the page cache once
        run(command, cwd=empty, check=False)
    for _ in range(5 if bench.quick else 15):
        for k, command in COMMANDS.items():
            elapsed, done = run(command, cwd=empty, check=False)
            if k.startswith("afc status") and done.returncode == 0:
                raise RuntimeError("afc status outside a project succeeded: not measuring what we think")
            series[k].add(elapsed * 1000)
    compose, python = series["docker compose version"], series["python -c pass"]
    for k in ["afc --version", "afc --help", "afc status (outside a project)"]:
        bench.add(Row(SECTION, f"`{k}`", series[k], compose, "`docker compose version`", "ms", 0,
                      target=TARGETS.get(k)))
        bench.add(Row(SECTION, f"`{k}` vs bare interpreter", series[k], python, "`python -c pass`", "ms", 0))
