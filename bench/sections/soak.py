"""11. Soak: a stack kept up with a DAG run every minute, afc's against the official design's: failed runs and
memory per component at the start and the end."""
from __future__ import annotations

import time
from pathlib import Path

import yaml

from ..core import Bench, Row, Series, log, run, section
from ..stack_tools import afc_project, afc_up, base_up, compose, footprint, official_design_project, remove, web_service

SECTION = "11. Soak"
PORT = 18390
DAG = '''"""bench/ soak: one run every minute, a task on a Celery worker."""
from datetime import datetime

try:  # Airflow 3
    from airflow.sdk import DAG
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.operators.bash import BashOperator

with DAG("afc_soak", schedule="* * * * *", start_date=datetime(2024, 1, 1), catchup=False, tags=["bench"]):
    BashOperator(task_id="tick", bash_command="echo tick on $(hostname)")
'''
UNPAUSED = {"AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "false"}
AIRFLOW_SERVICES_SKIP = {"postgres", "redis", "log-cleaner"}


def runs_by_state(name: str, folder: Path) -> dict[str, int]:
    _, done = run(compose(name, folder, "exec", "-T", "postgres", "psql", "-U", "airflow", "-d", "airflow", "-Atc",
                          "SELECT state, count(*) FROM dag_run WHERE dag_id = 'afc_soak' GROUP BY state"))
    return {state: int(count) for state, count in (line.split("|") for line in done.stdout.split())}


def soak(name: str, folder: Path, web: str, minutes: float) -> tuple[dict[str, int], dict, dict]:
    """Memory per container once healthy and after `minutes`, and the DAG's runs by state at the end (runs
    still going at the end are counted as they stand)."""
    start = footprint(name, web)[1]
    time.sleep(minutes * 60)
    end = footprint(name, web)[1]
    runs = runs_by_state(name, folder)
    if not runs.get("success"):
        raise RuntimeError(f"{name}: no successful run of the soak DAG in {minutes:g} min (runs: {runs})")
    return runs, start, end


def memory_note(start: dict, end: dict) -> str:
    return ", ".join(f"{k} {start.get(k, 0):.0f}→{v:.0f}" for k, v in sorted(end.items()))


@section("soak", title="Soak", how=(
    "**Soak** (`soak`): afc's Celery stack and the official design (as in the cold rows) on the same "
    "images, one after the other, each kept up for `--soak-minutes` (default 20) with a DAG scheduled every "
    "minute (`* * * * *`, created unpaused, one BashOperator task on the Celery worker); at the end the DAG's "
    "runs by state from the metadata database (failed runs: the goal is none) and memory per container "
    "(`docker stats`) once healthy and at the end.",))
def soak_section(bench: Bench) -> None:
    bench.each_version("soak", version_soak, PORT)


def version_soak(bench: Bench, version: str, port: int) -> None:
    tag = version.replace(".", "")
    a_name, o_name = f"bench-soak-afc-{tag}", f"bench-soak-official-{tag}"
    web = web_service(version)
    a = afc_project(bench.work, a_name, version, port)
    (a / "dags" / "afc_soak.py").write_text(DAG)
    services = yaml.safe_load((a / "compose.yaml").read_text())["services"]
    airflow = [s for s in services if s not in AIRFLOW_SERVICES_SKIP]
    (a / "compose.override.yaml").write_text(yaml.safe_dump(
        {"services": {s: {"environment": UNPAUSED} for s in airflow}}, sort_keys=False))
    log(f"{version} soak: afc up, then {bench.soak_minutes:g} min with a run every minute")
    afc_up(a)
    afc_runs, afc_start, afc_end = soak(a_name, a, web, bench.soak_minutes)
    remove(a_name)
    o = official_design_project(a, bench.work, o_name, port + 1, version)
    data = yaml.safe_load((o / "compose.yaml").read_text())
    for s in airflow:
        data["services"][s]["environment"].update(UNPAUSED)
    (o / "compose.yaml").write_text(yaml.safe_dump(data, sort_keys=False, width=200))
    log(f"{version} soak: official design up, then {bench.soak_minutes:g} min")
    base_up(o_name, o)
    off_runs, off_start, off_end = soak(o_name, o, web, bench.soak_minutes)
    remove(o_name)
    label = f"Airflow {version} Celery, {bench.soak_minutes:g} min"
    bench.add(Row(SECTION, f"{label}: failed DAG runs (a run every minute)",
                  Series([afc_runs.get("failed", 0)]), Series([off_runs.get("failed", 0)]), "official design",
                  "runs", 0, note=f"runs by state: afc {afc_runs}, official design {off_runs}"))
    bench.add(Row(SECTION, f"{label}: memory of all containers at the end", Series([sum(afc_end.values())]),
                  Series([sum(off_end.values())]), "official design", "MiB", 0, target=1.0,
                  note=f"MiB once healthy→at the end: afc {memory_note(afc_start, afc_end)}; official design "
                       f"{memory_note(off_start, off_end)}"))
