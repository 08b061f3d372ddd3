"""What every benchmark section uses: timed commands, series of figures, report rows, and the registry of sections."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
AFC = [str(BIN / "afc")] if (BIN / "afc").exists() else [sys.executable, "-m", "airflow_compose"]
UP_TIMEOUT = 900  # seconds for any single command (a cold stack on a busy 2-core machine)

ENV = {k: v for k, v in os.environ.items() if not k.startswith("AFC_")}
ENV.update(NO_COLOR="1", COMPOSE_PROGRESS="quiet", COMPOSE_ANSI="never")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(command: list[str], *, cwd: Path | None = None, check: bool = True, timeout: float = UP_TIMEOUT,
        quiet: bool = True) -> tuple[float, subprocess.CompletedProcess]:
    """Run a command with the benchmark's environment; its wall time in seconds and the finished process."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=ENV, capture_output=quiet, text=True, timeout=timeout)
    elapsed = time.perf_counter() - start
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    return elapsed, done


def docker_calls(command: list[str], work: Path, cwd: Path | None = None) -> list[str]:
    """The docker commands `command` starts (one line each, arguments joined), counted by a `docker` on PATH
    that logs its arguments and runs the real one."""
    import shutil

    real = shutil.which("docker", path=ENV.get("PATH"))
    shim = work / "docker-shim"
    shim.mkdir(exist_ok=True)
    calls = shim / "calls.log"
    calls.write_text("")
    (shim / "docker").write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {calls}\nexec {real} "$@"\n')
    (shim / "docker").chmod(0o755)
    env = {**ENV, "PATH": f"{shim}:{ENV.get('PATH', '')}"}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=UP_TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}\n{done.stderr}")
    return [line for line in calls.read_text().splitlines() if line]


@dataclass
class Series:
    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    def text(self, unit: str = "s", digits: int = 2) -> str:
        if not self.values:
            return "n/a"
        fmt = f"{{:.{digits}f}}"
        if len(self.values) == 1:
            return f"{fmt.format(self.values[0])} {unit} (1 run)"
        return (f"{fmt.format(self.median)} {unit} ({fmt.format(min(self.values))}–{fmt.format(max(self.values))}, "
                f"n={len(self.values)})")


@dataclass
class Row:
    section: str
    what: str
    afc: Series
    base: Series | None = None
    base_name: str = ""
    unit: str = "s"
    digits: int = 2
    target: float | None = None  # ratio afc/baseline must be <= target (or >= when higher_is_better)
    higher_is_better: bool = False
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.base is None or not self.base.values or not self.afc.values or self.base.median == 0:
            return None
        return self.afc.median / self.base.median

    @property
    def verdict(self) -> str:
        if self.target is None or self.ratio is None:
            return "–"
        met = self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target
        return "met" if met else "MISSED"

    def cells(self) -> list[str]:
        ratio = f"{self.ratio:.2f}×" if self.ratio is not None else "–"
        target = "–" if self.target is None else (f"≥ {self.target:g}×" if self.higher_is_better
                                                  else f"≤ {self.target:g}×")
        base = f"{self.base_name}: {self.base.text(self.unit, self.digits)}" if self.base is not None else "–"
        return [self.what, self.afc.text(self.unit, self.digits), base, ratio, target, self.verdict]


@dataclass
class Bench:
    """One benchmark run: what was asked for, and the rows, notes and machine loads it has recorded."""
    work: Path
    quick: bool
    stack_runs: int
    versions: list[str]
    selected: set[str]
    deadline: float  # time.monotonic() by which the whole run should end
    idle_minutes: float = 5  # how long the idle section leaves each stack alone
    soak_minutes: float = 20  # how long the soak section keeps each stack up
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    loads: list[str] = field(default_factory=list)
    engine: str = ""  # the label of the engine being measured, e.g. "Engine 26.1.5"; it heads the rows' sections
    engines: list[str] = field(default_factory=list)  # every engine measured so far

    def add(self, row: Row) -> None:
        if self.engine:
            row.section = f"{row.section} — {self.engine}"
        self.rows.append(row)

    def note(self, text: str) -> None:
        self.notes.append(text)
        log(text)

    def load(self, label: str) -> None:
        """Record how busy the machine is (`uptime`, containers running) under `label`."""
        text = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        others = subprocess.run(["docker", "ps", "-q"], capture_output=True, text=True).stdout.split()
        where = f" ({self.engine})" if self.engine else ""
        self.loads.append(f"{label}{where}: `{text}`; {len(others)} containers running on the engine")
        log(self.loads[-1])

    def each_version(self, what: str, function: Callable, first_port: int) -> None:
        """`function(bench, version, port)` for every version in turn, five ports apart, each guarded."""
        for n, version in enumerate(self.versions):
            self.guarded(f"Airflow {version} {what}", function, self, version, first_port + 5 * n)

    def guarded(self, label: str, function: Callable, *args) -> None:
        """Run one part; a failure is noted in the report and the next part still runs."""
        try:
            function(*args)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as error:
            self.note(f"**{label} failed**: {str(error).strip()[:600]}")


@dataclass(frozen=True)
class Section:
    names: tuple[str, ...]  # the `--only` names that run it
    title: str  # names it in a failure note
    how: tuple[str, ...]  # how its rows are measured, for the report
    measure: Callable[[Bench], None]


SECTIONS: list[Section] = []


def section(*names: str, title: str, how: tuple[str, ...] = ()) -> Callable:
    """Register a benchmark: `measure(bench)` adds its rows with `bench.add(Row(...))`; sections run (and their
    descriptions appear) in the order their modules are imported by bench/sections/__init__.py."""
    def register(measure: Callable[[Bench], None]) -> Callable[[Bench], None]:
        SECTIONS.append(Section(names, title, how, measure))
        return measure
    return register


def section_names() -> list[str]:
    return list(dict.fromkeys(name for s in SECTIONS for name in s.names))
