"""The DAG author's loop on one real (stand-in 2.10.4, LocalExecutor) stack shared by the whole module: import errors
at the end of `afc up`, in `afc dags` and `afc health`; `afc dags check`; `afc test`; `afc pytest`; seeded
settings; busy ports named, `--port auto`, `afc ls`, `afc open`. Each command with its failure path."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import afc, docker, standin_flags, wait_for

PORT = 18391
TWO_TASKS = '''from datetime import datetime
from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("two_tasks", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    BashOperator(task_id="first", bash_command="echo 'first task says hi'") >> \\
        BashOperator(task_id="second", bash_command="echo 'second task says {{ dag_run.conf.get(\\"who\\", \\"nobody\\") }}'")
'''
FAILS = '''from datetime import datetime
from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("fails", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    BashOperator(task_id="ok", bash_command="echo fine") >> BashOperator(task_id="boom", bash_command="exit 3")
'''
BROKEN = '''from datetime import datetime
from airflow import DAG

schedule = undefined_schedule
'''


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("loop") / "dag-loop"
    afc("init", str(root), *standin_flags("2.10.4"), "--executor", "local", "--port", str(PORT), check=True)
    (root / "dags" / "two_tasks.py").write_text(TWO_TASKS)
    (root / "dags" / "fails.py").write_text(FAILS)
    (root / "dags" / "broken.py").write_text(BROKEN)
    # the stand-ins have no network inside containers: pytest comes from wheels/, downloaded here
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "pytest", "-d", str(root / "wheels"),
                    "--only-binary=:all:", "--python-version", "3.11"], check=True, timeout=300)
    try:
        up = afc("up", project=root, timeout=900)
        assert up.returncode == 0, up.stderr[-3000:]
        yield root, up
    finally:
        afc("down", "--volumes", "--yes", project=root)


def test_up_ends_with_the_import_errors(stack):
    _root, up = stack
    assert "1 DAG file(s) failed to import" in up.stderr
    assert "dags/broken.py:4" in up.stderr and "NameError: name 'undefined_schedule' is not defined" in up.stderr


def test_dags_lists_dags_and_import_errors_and_health_warns(stack):
    root, _up = stack

    def listing():
        done = afc("dags", "--json", project=root)
        report = json.loads(done.stdout) if done.stdout.startswith("{") else {}
        ids = {d["dag_id"] for d in report.get("dags", [])}
        return (done, report) if {"two_tasks", "fails"} <= ids and report.get("import_errors") else None

    done, report = wait_for("the DAG processor to record the DAGs and the import error", listing, timeout=240)
    assert done.returncode == 1  # an import error is there
    row = next(d for d in report["dags"] if d["dag_id"] == "two_tasks")
    assert row == {"dag_id": "two_tasks", "file": "dags/two_tasks.py", "paused": True, "last_run": ""}
    assert report["import_errors"][0]["file"] == "dags/broken.py" and report["import_errors"][0]["line"] == 4
    table = afc("dags", project=root)
    assert "two_tasks" in table.stdout and "dags/broken.py:4" in table.stderr

    health = afc("health", "--json", project=root)
    body = json.loads(health.stdout)
    assert health.returncode == 0 and body["healthy"], health.stdout  # a warning, not a failed component
    assert any("dags/broken.py:4" in w["detail"] for w in body["warnings"])


def test_dags_check_names_file_and_line_then_passes_once_fixed(stack):
    root, _up = stack
    failed = afc("dags", "check", project=root)
    assert failed.returncode == 1, failed.stderr
    assert "dags/broken.py:4: NameError" in failed.stderr and "1 of 3 file(s) failed" in failed.stderr
    one = afc("dags", "check", str(root / "dags" / "two_tasks.py"), project=root)
    assert one.returncode == 0 and "two_tasks" in one.stdout, one.stderr
    outside = afc("dags", "check", str(root / ".env"), project=root)
    assert outside.returncode == 2 and "not in the project's dags/" in outside.stderr
    (root / "dags" / "broken.py").write_text(BROKEN.replace("undefined_schedule", "None"))
    fixed = afc("dags", "check", "--json", project=root)
    assert fixed.returncode == 0, fixed.stdout
    assert json.loads(fixed.stdout)["ok"]


def test_test_runs_a_dag_and_streams_its_task_logs(stack):
    root, _up = stack
    done = afc("test", "two_tasks", "--conf", '{"who": "afc"}', project=root, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "first task says hi" in done.stdout and "second task says afc" in done.stdout
    assert "succeeded" in done.stderr and "second" in done.stderr


def test_test_fails_on_a_failing_task_an_unknown_dag_and_bad_conf(stack):
    root, _up = stack
    failing = afc("test", "fails", project=root, timeout=600)
    assert failing.returncode == 1, failing.stderr
    assert "failed task(s): boom" in failing.stderr
    unknown = afc("test", "no_such_dag", project=root, timeout=300)
    assert unknown.returncode == 1 and "no_such_dag" in unknown.stderr
    bad = afc("test", "two_tasks", "--conf", "{who: afc}", project=root)
    assert bad.returncode == 2 and "not valid JSON" in bad.stderr


def test_pytest_runs_the_example_test_offline_and_passes_pytest_exit_codes(stack):
    root, _up = stack
    assert (root / "tests" / "test_dag_integrity.py").exists()
    passed = afc("pytest", project=root, timeout=600)
    assert passed.returncode == 0, passed.stdout[-3000:] + passed.stderr[-2000:]
    assert "2 passed" in passed.stdout and "from wheels/" in passed.stderr
    (root / "tests" / "test_failing.py").write_text("def test_fails():\n    assert 1 == 2\n\n"
                                                    "def test_other():\n    pass\n")
    failed = afc("pytest", project=root, timeout=600)
    assert failed.returncode == 1 and "1 failed" in failed.stdout, failed.stdout[-2000:]
    selected = afc("pytest", "tests/test_failing.py", "--", "-k", "other", project=root, timeout=600)
    assert selected.returncode == 0 and "1 passed" in selected.stdout, selected.stdout[-2000:]
    (root / "dags" / "broken.py").write_text(BROKEN)
    integrity = afc("pytest", "tests/test_dag_integrity.py", project=root, timeout=600)
    assert integrity.returncode == 1 and "undefined_schedule" in integrity.stdout


SETTINGS = {"airflow": {
    "connections": [{"conn_id": "warehouse", "conn_type": "postgres", "conn_host": "db.example.com",
                     "conn_login": "reader", "conn_password": "s3cret", "conn_port": 5432,
                     "conn_extra": {"sslmode": "require"}}],
    "pools": [{"pool_name": "warehouse_pool", "pool_slot": 3, "pool_description": "three at a time"}],
    "variables": [{"variable_name": "environment", "variable_value": "dev"}]}}


def test_settings_apply_is_idempotent_refuses_bad_entries_and_exports(stack):
    root, _up = stack
    path = root / "airflow_settings.yaml"
    path.write_text(yaml.safe_dump(SETTINGS))
    first = afc("settings", "apply", project=root)
    assert first.returncode == 0 and "3 created" in first.stderr, first.stderr
    assert "airflow_settings.yaml" in (root / ".gitignore").read_text()
    again = afc("settings", "apply", project=root)
    assert again.returncode == 0 and "0 created, 0 updated, 3 unchanged" in again.stderr, again.stderr
    changed = json.loads(json.dumps(SETTINGS))
    changed["airflow"]["pools"][0]["pool_slot"] = 5
    path.write_text(yaml.safe_dump(changed))
    third = afc("settings", "apply", project=root)
    assert "0 created, 1 updated, 2 unchanged" in third.stderr and "~ pool warehouse_pool" in third.stderr

    bad = json.loads(json.dumps(changed))
    bad["airflow"]["variables"].append({"variable_name": "new_one", "variable_value": "x"})
    bad["airflow"]["connections"].append({"conn_id": "api", "conn_type": "http", "conn_port": "eighty"})
    path.write_text(yaml.safe_dump(bad))
    refused = afc("settings", "apply", project=root)
    assert refused.returncode == 3
    assert "connections[1] (conn_id 'api'): conn_port 'eighty' is not a port number" in refused.stderr
    held = afc("airflow", "variables", "get", "new_one", project=root)
    assert held.returncode != 0  # nothing of the refused apply was written

    exported = root / "exported.yaml"
    done = afc("settings", "export", "--output", str(exported), project=root)
    assert done.returncode == 0, done.stderr
    assert exported.stat().st_mode & 0o777 == 0o600
    document = yaml.safe_load(exported.read_text())["airflow"]
    warehouse = next(c for c in document["connections"] if c["conn_id"] == "warehouse")
    assert warehouse["conn_host"] == "db.example.com" and "conn_password" not in warehouse
    assert {"pool_name": "warehouse_pool", "pool_slot": 5, "pool_description": "three at a time"} in document["pools"]
    secrets = afc("settings", "export", "--show-secrets", project=root)
    assert "s3cret" in secrets.stdout and "sslmode: require" in secrets.stdout
    conn = afc("airflow", "connections", "get", "warehouse", "-o", "json", project=root)
    assert "db.example.com" in conn.stdout
    path.write_text(yaml.safe_dump(changed))


def test_ls_and_open_show_the_stack(stack):
    root, _up = stack
    listed = afc("ls", "--json", project=root)
    rows = {row["project"]: row for row in json.loads(listed.stdout)}
    assert rows["dag-loop"]["url"] == f"http://localhost:{PORT}" and rows["dag-loop"]["folder"] == str(root)
    assert rows["dag-loop"]["version"] == "2.10.4" and rows["dag-loop"]["state"] == "running"
    opened = afc("open", project=root, env={"AFC_NO_BROWSER": "1"})
    assert opened.returncode == 0 and opened.stdout.strip() == f"http://localhost:{PORT}"


def compose_exec(root: Path, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "compose", "exec", "-T", "scheduler", *command], cwd=root, capture_output=True,
                          text=True, timeout=900)


def test_timings_against_plain_docker_compose_exec(stack):
    """The report's figures: `afc dags check` on a 20-DAG folder with one broken file against learning the same
    from `airflow dags list-import-errors` (which waits for the DAG processor), and `afc test` against
    `airflow dags test` on the two-task DAG. Both ways must reach the same verdicts."""
    import time

    root, _up = stack
    folder = root / "dags" / "bench"
    folder.mkdir()
    for number in range(19):
        (folder / f"dag_{number:02d}.py").write_text(TWO_TASKS.replace('"two_tasks"', f'"bench_{number:02d}"'))
    (folder / "dag_19.py").write_text(BROKEN.replace("undefined_schedule", "bench_typo"))
    try:
        began = time.monotonic()
        check = afc("dags", "check", str(folder), project=root)
        check_seconds = time.monotonic() - began
        assert check.returncode == 1 and "dags/bench/dag_19.py:4" in check.stderr, check.stderr[-2000:]
        began = time.monotonic()
        wait_for("list-import-errors to show the broken file",
                 lambda: "dag_19.py" in compose_exec(root, "airflow", "dags", "list-import-errors").stdout,
                 timeout=300, every=1)
        plain_seconds = time.monotonic() - began
        began = time.monotonic()
        once = compose_exec(root, "airflow", "dags", "list-import-errors")
        once_seconds = time.monotonic() - began
        assert "dag_19.py" in once.stdout

        began = time.monotonic()
        ours = afc("test", "two_tasks", project=root, timeout=600)
        test_seconds = time.monotonic() - began
        assert ours.returncode == 0, ours.stderr[-2000:]
        began = time.monotonic()
        plain = compose_exec(root, "airflow", "dags", "test", "two_tasks")
        plain_test_seconds = time.monotonic() - began
        assert plain.returncode == 0, plain.stderr[-2000:]
    finally:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    print(f"\nTIMINGS afc dags check (20 files): {check_seconds:.1f}s; plain list-import-errors until it shows the "
          f"broken file: {plain_seconds:.1f}s (one call: {once_seconds:.1f}s); afc test: {test_seconds:.1f}s; plain "
          f"airflow dags test: {plain_test_seconds:.1f}s")


def test_a_busy_port_names_its_holder_and_port_auto_picks_a_free_one(stack, tmp_path):
    root, _up = stack
    other = tmp_path / "other"
    afc("init", str(other), *standin_flags("2.10.4"), "--executor", "local", "--port", str(PORT), check=True)
    clash = afc("up", project=other)
    assert clash.returncode == 4, clash.stderr
    assert f"port {PORT} on 127.0.0.1 is already in use by afc stack 'dag-loop' ({root})" in clash.stderr

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        busy = listener.getsockname()[1]
        env = (other / ".env").read_text().replace(f"AFC_PORT={PORT}", f"AFC_PORT={busy}")
        (other / ".env").write_text(env)
        held = afc("up", project=other)
        assert held.returncode == 4 and f"already in use by process {os.getpid()}" in held.stderr, held.stderr
        assert docker("ps", "-aq", "--filter", "label=com.docker.compose.project=other").stdout.strip() == ""

        # the shared stack itself: its own port is kept by --port auto; a port someone else holds is replaced
        kept = afc("up", "--port", "auto", project=root, timeout=600)
        assert kept.returncode == 0 and f"AFC_PORT={PORT}" in (root / ".env").read_text(), kept.stderr
        (root / ".env").write_text((root / ".env").read_text().replace(f"AFC_PORT={PORT}", f"AFC_PORT={busy}"))
        moved = afc("up", "--port", "auto", project=root, timeout=900)
        assert moved.returncode == 0, moved.stderr[-3000:]
    chosen = int(next(line.split("=")[1] for line in (root / ".env").read_text().splitlines()
                      if line.startswith("AFC_PORT=")))
    assert chosen != busy and f"web UI port: {chosen}" in moved.stderr
    assert f"http://localhost:{chosen}" in moved.stderr
