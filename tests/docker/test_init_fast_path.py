"""Init's fast path on a real Postgres and the stand-in Airflow 3.3.2 (real Airflow, real migrations): a start with
nothing left to do exits after one connection; anything that makes work necessary (another image's migrations,
another schema head, a missing admin user, the record gone) takes the full path, which records the head again.
Init is run alone (`docker compose run init`), as `afc up` starts it."""
from __future__ import annotations

import subprocess

import pytest

from tests.helpers import afc, docker, standin_flags

NAME = "fp-init"
FAST = "afc-init: nothing to do"
FULL = "afc-init: the admin user 'admin' is there"


def compose(root, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "compose", *args], cwd=root, capture_output=True, text=True, timeout=600)


def run_init(root) -> str:
    done = compose(root, "run", "--rm", "--no-TTY", "init")
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def sql(root, statement: str) -> str:
    done = compose(root, "exec", "-T", "postgres", "psql", "--username", "airflow", "--dbname", "airflow",
                   "--tuples-only", "--no-align", "--command", statement)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fast-path") / NAME
    afc("init", str(folder), *standin_flags("3.3.2"), "--executor", "local", "--port", "18340", check=True)
    try:
        first = run_init(folder)
        assert "migrating the metadata database" in first and "created the admin user 'admin'" in first, first
        yield folder
    finally:
        compose(folder, "down", "--volumes", "--remove-orphans")
        docker("volume", "rm", "--force", f"{NAME}_postgres-data", check=False)


def test_a_start_with_nothing_left_skips_airflow(root):
    log = run_init(root)
    assert FAST in log and "migrating" not in log, log
    assert "done in" in log


@pytest.mark.parametrize("change, why", [
    ("UPDATE afc_init SET migrations = 'another image'", "another image's migration files"),
    ("UPDATE afc_init SET head = 'alembic_version:0123abcd'", "the database at another head (a restored backup)"),
    ("DELETE FROM ab_user_role; DELETE FROM ab_user WHERE username = 'admin'", "the admin user deleted"),
    ("DROP TABLE afc_init", "no record"),
])
def test_work_to_do_takes_the_full_path_and_records_again(root, change, why):
    recorded = sql(root, "SELECT migrations || ' ' || head FROM afc_init")
    sql(root, change)
    log = run_init(root)
    assert FAST not in log and "done in" in log, f"{why}: {log}"
    assert ("created the admin user 'admin'" if "ab_user" in change else FULL) in log, log
    assert sql(root, "SELECT migrations || ' ' || head FROM afc_init") == recorded
    assert FAST in run_init(root)
