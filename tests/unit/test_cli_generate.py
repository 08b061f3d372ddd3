"""`afc init` and `afc config` through the command line's entry point, in this process (no Docker: DOCKER_HOST
points nowhere); the help and a refusal also through a real process."""
import stat

import pytest

from tests.helpers import NO_ENGINE, afc, run_afc


def test_version_and_the_help_of_the_real_entry_point():
    from airflow_compose import __version__
    assert run_afc("--version").stdout.strip() == f"afc {__version__}"
    assert "init" in afc("--help").stdout


def test_the_real_entry_point_refuses_bad_input_without_a_traceback(tmp_path):
    done = afc("init", str(tmp_path / "new"), "--tag", "2.10", env=NO_ENGINE)
    assert done.returncode == 2 and "not an apache/airflow image tag" in done.stderr and "fix:" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "new").exists()


def test_init_creates_a_private_project(tmp_path):
    done = run_afc("init", str(tmp_path / "p"), "--tag", "2.10.4-python3.11", "--executor", "local")
    assert done.returncode == 0, done.stderr
    root = tmp_path / "p"
    for folder in ("dags", "logs", "plugins", "config"):
        assert (root / folder).is_dir()
    assert stat.S_IMODE((root / ".env").stat().st_mode) == 0o600
    env = (root / ".env").read_text()
    assert "AIRFLOW_IMAGE_NAME=apache/airflow:2.10.4-python3.11" in env and "AFC_EXECUTOR=local" in env
    compose = (root / "compose.yaml").read_text()
    assert compose.startswith("# Generated") and "\nname: p\n" in compose
    password = [line for line in env.splitlines() if line.startswith("_AIRFLOW_WWW_USER_PASSWORD=")][0].split("=", 1)[1]
    assert len(password) >= 16 and password not in done.stdout + done.stderr
    # the summary names every service the file has, the log cleaner included
    assert "services: postgres, init, scheduler, webserver, triggerer, log-cleaner" in done.stderr


def test_init_refuses_an_existing_project_and_force_keeps_secrets(tmp_path):
    assert run_afc("init", str(tmp_path)).returncode == 0
    before = (tmp_path / ".env").read_text()
    (tmp_path / "dags" / "mine.py").write_text("# user file\n")
    (tmp_path / "compose.override.yaml").write_text("services: {}\n")
    refused = run_afc("init", str(tmp_path), "--workers", "2")
    assert refused.returncode == 3 and "already holds an afc project" in refused.stderr and "--force" in refused.stderr
    assert (tmp_path / ".env").read_text() == before
    forced = run_afc("init", str(tmp_path), "--workers", "2", "--force")
    assert forced.returncode == 0, forced.stderr
    after = (tmp_path / ".env").read_text()
    for line in before.splitlines():
        if line.startswith(("AFC_FERNET_KEY=", "AFC_POSTGRES_PASSWORD=", "AFC_JWT_SECRET=")):
            assert line in after
    assert "AFC_WORKERS=2" in after
    assert (tmp_path / "dags" / "mine.py").read_text() == "# user file\n"
    assert (tmp_path / "compose.override.yaml").read_text() == "services: {}\n"


@pytest.mark.parametrize("args, words", [
    (["--tag", "2.10"], "'2.10' is not an apache/airflow image tag"),
    (["--tag", "2.10.4-python3.13"], "Python 3.13 is not published"),
    (["--tag", "2.6.0"], "older than afc supports"),
    (["--arch", "s390x"], "AFC_ARCH='s390x'"),
    (["--executor", "dask"], "AFC_EXECUTOR='dask'"),
    (["--workers", "0"], "AFC_WORKERS=0 is out of range"),
    (["--port", "99999"], "AFC_PORT=99999 is out of range"),
    (["--tag", "slim-2.10.4"], "lacks the providers"),
    (["--tag", "2.10.4", "--image", "x/y:2.10.4"], "both given"),
])
def test_bad_input_fails_cleanly_and_writes_nothing(tmp_path, args, words):
    target = tmp_path / "new"
    done = run_afc("init", str(target), *args)
    assert done.returncode == 2, done.stderr
    assert words in done.stderr and "fix:" in done.stderr
    assert "Traceback" not in done.stderr
    assert not target.exists(), "a failed init leaves nothing behind"


def test_environment_variables_set_options(tmp_path):
    done = run_afc("init", str(tmp_path), env={"AFC_WORKERS": "3", "AFC_TAG": "2.10.4-python3.12"})
    assert done.returncode == 0, done.stderr
    env = (tmp_path / ".env").read_text()
    assert "AFC_WORKERS=3" in env and "apache/airflow:2.10.4-python3.12" in env


def test_config_is_byte_identical_and_hides_secrets(tmp_path):
    run_afc("init", str(tmp_path))
    shown = run_afc("config", cwd=tmp_path)
    assert shown.returncode == 0
    assert shown.stdout == (tmp_path / "compose.yaml").read_text()
    secrets = [line.split("=", 1)[1] for line in (tmp_path / ".env").read_text().splitlines()
               if line.split("=")[0] in ("AFC_FERNET_KEY", "AFC_POSTGRES_PASSWORD")]
    assert all(s not in shown.stdout for s in secrets)
    revealed = run_afc("config", "--show-secrets", cwd=tmp_path).stdout
    assert all(s in revealed for s in secrets)
    out = tmp_path / "copy.yaml"
    assert run_afc("config", "--output", str(out), cwd=tmp_path).returncode == 0
    assert out.read_text() == shown.stdout


def test_config_check_names_what_is_wrong(tmp_path):
    run_afc("init", str(tmp_path))
    env_path = tmp_path / ".env"
    env_path.write_text(env_path.read_text() + "AFC_WORKERS=2\n")
    stale = run_afc("config", "--check", cwd=tmp_path)
    assert stale.returncode == 3 and "compose.yaml is not what .env describes" in stale.stderr
    env_path.write_text(env_path.read_text() + "garbage here\n")
    garbage = run_afc("config", "--check", cwd=tmp_path)
    number = len(env_path.read_text().splitlines())
    assert garbage.returncode == 3 and f"line {number}" in garbage.stderr


def test_missing_secret_is_reported(tmp_path):
    run_afc("init", str(tmp_path))
    env_path = tmp_path / ".env"
    env_path.write_text("\n".join(l for l in env_path.read_text().splitlines() if not l.startswith("AFC_FERNET_KEY=")))
    done = run_afc("config", cwd=tmp_path)
    assert done.returncode == 3 and "missing secret(s): AFC_FERNET_KEY" in done.stderr and "init --force" in done.stderr


def test_commands_outside_a_project(tmp_path):
    done = run_afc("config", cwd=tmp_path)
    assert done.returncode == 3 and "is not an afc project" in done.stderr and "afc init" in done.stderr


def test_unknown_setting_in_env(tmp_path):
    run_afc("init", str(tmp_path))
    (tmp_path / ".env").write_text((tmp_path / ".env").read_text() + "AFC_WORKRS=2\n")
    done = run_afc("config", cwd=tmp_path)
    assert done.returncode == 3 and "AFC_WORKRS" in done.stderr


@pytest.mark.parametrize("command", [["logs", "schedulr"], ["restart", "webserver"], ["shell", "nosuch"]])
def test_unknown_service_names_list_the_valid_ones(tmp_path, command):
    run_afc("init", str(tmp_path))  # a 3.x project: no webserver
    done = run_afc(*command, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"unknown service '{command[1]}'" in done.stderr
    assert "api-server" in done.stderr and "scheduler" in done.stderr


def test_down_volumes_refuses_without_yes_off_a_terminal(tmp_path):
    run_afc("init", str(tmp_path))
    done = run_afc("down", "--volumes", cwd=tmp_path)
    assert done.returncode == 2 and "--yes" in done.stderr


def test_key_error_line_picks_the_cause():
    from airflow_compose.commands.readiness import key_error_line
    lines = ["starting", 'psycopg2.OperationalError: FATAL:  password authentication failed for user "airflow"',
             "(Background on this error at: https://sqlalche.me/e/14/e3q8)", "[entrypoint] done"]
    assert "password authentication failed" in key_error_line(lines)
    assert key_error_line(["all fine"]) == ""


def test_exposing_ports_warns_and_default_binds_loopback(tmp_path):
    exposed = run_afc("init", str(tmp_path / "open"), "--host", "0.0.0.0")
    assert exposed.returncode == 0 and "reachable from other machines" in exposed.stderr
    assert "0.0.0.0:8080:8080" in (tmp_path / "open" / "compose.yaml").read_text()
    closed = run_afc("init", str(tmp_path / "closed"))
    assert "reachable from other machines" not in closed.stderr
    assert "127.0.0.1:8080:8080" in (tmp_path / "closed" / "compose.yaml").read_text()
