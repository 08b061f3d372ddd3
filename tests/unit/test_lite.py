"""The lite stack (AFC_LITE): its render, its settings, its backup file checks and the refusals of commands
that have no meaning for it. No Docker."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from airflow_compose.commands import lite
from airflow_compose.errors import UsageError
from airflow_compose.stack.render import render, to_yaml
from airflow_compose.stack.spec import EngineFacts
from tests.helpers import VERSIONS, assert_valid, load_yaml, run_afc
from tests.unit.test_render import GOLDEN, spec_for


def lite_spec(version, **extra):
    return spec_for(version, "amd64", "local", AFC_LITE="true", **extra)


@pytest.mark.parametrize("version", VERSIONS)
def test_matches_golden_file(version):
    text = to_yaml(render(lite_spec(version), EngineFacts("amd64", False)))
    golden = GOLDEN / f"{version}-amd64-lite.yaml"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text(), f"rendering changed; review and run UPDATE_GOLDEN=1 pytest {__file__}"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("start_interval", [False, True])
def test_one_airflow_container_on_sqlite_in_a_named_volume(version, start_interval):
    doc = load_yaml(to_yaml(render(lite_spec(version), EngineFacts("amd64", start_interval))))
    assert_valid("compose-spec.json", doc)
    assert list(doc["services"]) == ["init", "airflow"]
    assert doc["volumes"] == {"airflow-home": {}}
    airflow = doc["services"]["airflow"]
    env = airflow["environment"]
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "sqlite:////opt/airflow/airflow.db"
    assert env["AIRFLOW__CORE__EXECUTOR"] == ("LocalExecutor" if version.startswith("3") else "SequentialExecutor")
    # the init script only mentions Postgres to wait for it, when the URL is one
    settings = {name: {k: v for k, v in service.items() if k != "command"} for name, service in doc["services"].items()}
    assert "redis" not in str(env).lower() and "postgres" not in str(settings).lower()
    assert airflow["volumes"][0] == "airflow-home:/opt/airflow"  # not a bind mount: the database stays in Docker
    assert all(v.startswith("./") for v in airflow["volumes"][1:])
    components = ["scheduler", "api-server", "dag-processor", "triggerer"] if version.startswith("3") else \
        ["scheduler", "webserver", "triggerer"]
    assert airflow["command"][:2] == ["python", "-c"] and airflow["command"][3:] == components
    assert airflow["depends_on"] == {"init": {"condition": "service_completed_successfully"}}
    assert airflow["ports"] == ["127.0.0.1:8080:8080"] and airflow["restart"] == "unless-stopped"
    check = " ".join(airflow["healthcheck"]["test"])
    assert ("/api/v2/monitor/health" if version.startswith("3") else "localhost:8080/health") in check
    assert "triggerer" in check and "scheduler" in check
    init = doc["services"]["init"]
    assert "depends_on" not in init and init["environment"]["_AIRFLOW_WWW_USER_PASSWORD"].startswith("${")
    if version.startswith("3"):
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://localhost:8080/execution/"


def test_lite_refuses_celery():
    with pytest.raises(UsageError, match="AFC_LITE=true runs no Celery"):
        spec_for("2.10.4", "amd64", "celery", AFC_LITE="true")


def test_a_full_spec_is_untouched_by_lite():
    spec = spec_for("3.3.2", "amd64", "celery")
    assert not spec.lite and spec.cli_service == "scheduler" and spec.airflow_executor == "CeleryExecutor"


def airflow_database(path: Path, tables=("alembic_version", "dag_run")) -> Path:
    db = sqlite3.connect(path)
    for table in tables:
        db.execute(f"CREATE TABLE {table} (id INTEGER)")
    db.commit()
    db.close()
    return path


def test_check_database_accepts_an_airflow_sqlite_file(tmp_path):
    assert lite.check_database(airflow_database(tmp_path / "ok.sqlite")) == (tmp_path / "ok.sqlite").resolve()


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "does not exist"),
    (lambda p: p.write_bytes(b"PGDMP" + bytes(200)), "is not a SQLite database"),
    (lambda p: airflow_database(p, ("users",)), "not an Airflow metadata database"),
    (lambda p: p.write_bytes(airflow_database(p.with_suffix(".full")).read_bytes()[:5000]), "SQLite"),
])
def test_check_database_refuses_foreign_or_damaged_files(tmp_path, make, message):
    path = tmp_path / "backup.sqlite"
    make(path)
    with pytest.raises(UsageError, match=message):
        lite.check_database(path)


def test_init_lite_writes_its_settings_and_refuses_meaningless_commands(tmp_path):
    project = tmp_path / "lite"
    done = run_afc("init", str(project), "--lite", "--tag", "3.3.2-python3.12", "--arch", "amd64")
    assert done.returncode == 0, done.stderr
    env = (project / ".env").read_text()
    assert "AFC_LITE=true" in env and "AFC_EXECUTOR=local" in env and "AFC_WEB_WORKERS=1" in env
    password = env.split("_AIRFLOW_WWW_USER_PASSWORD=", 1)[1].split("\n", 1)[0]
    assert password and password not in done.stdout + done.stderr
    assert "services: init, airflow" in done.stderr
    for command, args in (("scale", ["scale", "workers", "2"]), ("swarm", ["swarm", "status"]),
                          ("export helm", ["export", "helm"])):
        refused = run_afc(*args, project=project)
        assert refused.returncode == 2, (args, refused.stderr)
        assert f"`afc {command}` has no meaning for the lite project 'lite'" in refused.stderr
        assert "Traceback" not in refused.stderr
    assert not (project / "helm").exists()
    foreign = tmp_path / "dump.dump"
    foreign.write_bytes(b"PGDMP" + bytes(100))
    refused = run_afc("restore", str(foreign), "--yes", project=project)
    assert refused.returncode == 2 and "is not a SQLite database" in refused.stderr


def test_init_lite_with_celery_is_refused_and_writes_nothing(tmp_path):
    done = run_afc("init", str(tmp_path / "x"), "--lite", "--executor", "celery")
    assert done.returncode == 2 and "AFC_LITE=true runs no Celery" in done.stderr
    assert not (tmp_path / "x" / ".env").exists()
