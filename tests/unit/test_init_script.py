"""afc's init script (compose/stack.yaml `init_script`) against a fake Airflow (tests/unit/fake_airflow):
work that is done is skipped, and every failure fails init with the cause on one `afc-init: ERROR:` line."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_compose.stack.render import blocks

FAKE = Path(__file__).parent / "fake_airflow"


def run_init(tmp_path, environment=None, **state):
    calls = tmp_path / "calls"
    calls.write_text("")
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(FAKE), "FAKE_CALLS": str(calls), **(environment or {}),
           "_AIRFLOW_WWW_USER_USERNAME": "admin", "_AIRFLOW_WWW_USER_PASSWORD": "pw-123",
           **{f"FAKE_{k.upper()}": v for k, v in state.items() if not k.startswith("_")},
           **{k: v for k, v in state.items() if k.startswith("_")}}
    done = subprocess.run([sys.executable, "-c", blocks()["init_script"]], env=env, capture_output=True,
                          text=True, timeout=60)
    return done, calls.read_text().split("\n")[:-1]


def test_a_fresh_database_is_migrated_checked_and_gets_its_admin(tmp_path):
    done, calls = run_init(tmp_path)
    assert done.returncode == 0, done.stderr
    assert calls == ["check-migrations", "migrate", "check-migrations", "select-user admin",
                     "users-create admin pw-123", "select-user admin"]
    assert "created the admin user 'admin'" in done.stderr and "pw-123" not in done.stderr


def test_work_already_done_is_skipped(tmp_path):
    done, calls = run_init(tmp_path, at_head="1", user_present="1")
    assert done.returncode == 0, done.stderr
    assert calls == ["check-migrations", "select-user admin"]
    assert "no migration needed" in done.stderr and "is there" in done.stderr


@pytest.mark.parametrize("state, words, step", [
    ({"db_error": 'connection failed: FATAL:  password authentication failed for user "airflow"'},
     'password authentication failed for user "airflow"', "reading the schema version"),
    ({"migrate_error": "Can't locate revision identified by 'bogus'"}, "Can't locate revision", "airflow db migrate"),
    ({"migrate_leaves_old": "1"}, "not at the image's head after `airflow db migrate`", ""),
    ({"create_exit": "Admin is not a valid role"}, "Admin is not a valid role", "creating the admin user"),
    ({"create_noop": "1"}, "did not create the admin user 'admin'", ""),
    ({"_AIRFLOW_WWW_USER_PASSWORD": ""}, "no admin password", ""),
    ({"_AIRFLOW_WWW_USER_PASSWORD": "", "_AIRFLOW_WWW_USER_PASSWORD_CMD": "echo oops >&2; exit 3"},
     "_AIRFLOW_WWW_USER_PASSWORD_CMD failed: oops", ""),
])
def test_every_failure_fails_init_with_its_cause_on_one_line(tmp_path, state, words, step):
    done, _calls = run_init(tmp_path, **state)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("afc-init: ERROR:")]
    assert len(errors) == 1 and words in errors[0], done.stderr
    assert step in errors[0]
    assert "Background on this error" not in errors[0] and "Traceback" not in done.stderr


def test_the_password_command_wins(tmp_path):
    done, calls = run_init(tmp_path, _AIRFLOW_WWW_USER_PASSWORD_CMD="printf 'from-cmd\\n'")
    assert done.returncode == 0, done.stderr
    assert "users-create admin from-cmd" in calls


@pytest.mark.parametrize("password", ["-starts-with-a-dash", "--looks-like-a-flag", "-", "has spaces and = signs"])
def test_any_password_reaches_users_create_as_the_value(tmp_path, password):
    """token_urlsafe draws '-' first once in 64 projects: `--password -x...` would be read as a flag and init
    would fail with the usage text (seen on a Swarm deploy)."""
    done, calls = run_init(tmp_path, _AIRFLOW_WWW_USER_PASSWORD=password)
    assert done.returncode == 0, done.stderr
    assert f"users-create admin {password}" in calls


@pytest.mark.parametrize("psycopg2", [None, "class OperationalError(Exception): pass\n"
                                            "def connect(*args, **kwargs): raise ValueError('invalid dsn')\n"])
def test_the_database_wait_and_fast_path_never_stop_init_themselves(tmp_path, psycopg2):
    """The fast path is an optimisation: whatever goes wrong in it (no psycopg2, a URL libpq cannot read), init
    takes the full path, where Airflow says what is wrong."""
    path = str(FAKE)
    if psycopg2:
        (tmp_path / "psycopg2.py").write_text(psycopg2)
        path += os.pathsep + str(tmp_path)
    done, calls = run_init(tmp_path, environment={
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://airflow:pw@postgres/airflow", "PYTHONPATH": path})
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "nothing to do" not in done.stderr
    assert calls[:2] == ["check-migrations", "migrate"]
