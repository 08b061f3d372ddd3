"""`bench/run.py`: the options, the run of the chosen sections, cleaning up, the report."""
from __future__ import annotations

import argparse
import shutil
import signal
import tempfile
import time
from pathlib import Path

from . import sections  # noqa: F401 - registers the sections
from .core import ROOT, SECTIONS, Bench, log, section_names
from .engines import ENGINES, on_engine
from .report import write_report
from .stack_tools import cleanup_all

VERSIONS = ["2.10.4", "3.3.2"]


def parse_args(argv: list[str] | None, description: str) -> argparse.Namespace:
    names = section_names()
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="1 run per stack measurement (for development)")
    parser.add_argument("--only", default=",".join(names), help=f"comma-separated subset of {names}")
    parser.add_argument("--runs", type=int, help="runs per stack measurement (default 3, --quick 1)")
    parser.add_argument("--budget", type=float, default=25, help="minutes for the whole benchmark: further "
                        "cold-start runs are skipped when they would not fit (default 25)")
    parser.add_argument("--versions", default=",".join(VERSIONS), help="Airflow versions of the cold rows")
    parser.add_argument("--idle-minutes", type=float, default=5, help="minutes each stack is left alone in the "
                        "idle section (default 5)")
    parser.add_argument("--soak-minutes", type=float, default=20, help="minutes each stack is kept up in the "
                        "soak section (default 20)")
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"comma-separated engines to measure on, in "
                        f"turn, each with the whole budget (default: both): {list(ENGINES)} (engine2: "
                        "scripts/engine2, Docker 26.1.5)")
    args = parser.parse_args(argv)
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    wrong = [e for e in args.engines if e not in ENGINES]
    if wrong or not args.engines:
        parser.error(f"unknown engine(s) {wrong}; choose from {list(ENGINES)}")
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    bad = [s for s in args.only if s not in names]
    if bad:
        parser.error(f"unknown section(s) {bad}; choose from {names}")
    args.versions = [v.strip() for v in args.versions.split(",") if v.strip()]
    return args


def main(argv: list[str] | None = None, description: str = "Benchmarks of afc against plain Docker Compose.") -> int:
    args = parse_args(argv, description)
    bench = Bench(work=Path(tempfile.mkdtemp(prefix="afc-bench-")), quick=args.quick,
                  stack_runs=args.runs or (1 if args.quick else 3), versions=args.versions,
                  selected=set(args.only), deadline=0, idle_minutes=args.idle_minutes,
                  soak_minutes=args.soak_minutes)

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    t0 = time.perf_counter()
    status = 0
    try:
        for engine in args.engines:
            with on_engine(engine) as label:
                bench.engine = label if len(args.engines) > 1 or engine != "machine" else ""
                bench.engines.append(label)
                bench.deadline = time.monotonic() + args.budget * 60
                bench.load("start")
                try:
                    for section in SECTIONS:
                        if bench.selected & set(section.names):
                            bench.guarded(section.title, section.measure, bench)
                finally:
                    cleanup_all()  # on this engine, before it goes
                bench.load("end")
    except KeyboardInterrupt:
        log("interrupted: removing the bench stacks")
        status = 130
    except Exception as error:
        log(f"benchmark failed: {error}")
        status = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        cleanup_all()
        shutil.rmtree(bench.work, ignore_errors=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if bench.rows:
        text = write_report(bench, args.only, started, time.perf_counter() - t0)
        print(text[text.index("###"):] if "###" in text else text)
        log(f"wrote {ROOT / 'BENCHMARKS.md'}")
    return status
