"""Contract tests for the stand-in fixture images built by ``bash standin/build.sh``.

They run against the real Docker engine through the ``docker`` CLI.  The images must exist
(``make images``); a missing image or an unreachable engine makes these tests fail, loudly.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

pytestmark = pytest.mark.docker

AIRFLOW_VERSIONS = ["2.10.4", "2.11.2", "3.3.2"]
POSTGRES_IMAGE = "afc-standin/postgres:16"
REDIS_IMAGE = "afc-standin/redis:7.2"
PG_USER = "afc_user"
PG_PASSWORD = "s3cret-pw"
PG_DB = "afc_db"
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"


def airflow_image(version: str) -> str:
    return f"afc-standin/airflow:{version}-python3.11"


def unique(prefix: str) -> str:
    return f"afc-test-{prefix}-{uuid.uuid4().hex[:10]}"


def docker(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``docker ARGS``; with ``check`` a non-zero exit fails the test with the full output."""
    proc = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"docker {' '.join(args)} exited {proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    return proc


def wait_until(what: str, probe, timeout: float = 90, interval: float = 1) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if probe():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def remove_container(name: str) -> None:
    docker("rm", "--force", "--volumes", name, check=False)


@dataclass
class Postgres:
    network: str
    name: str


@pytest.fixture(scope="module")
def network() -> Iterator[str]:
    name = unique("net")
    docker("network", "create", name)
    try:
        yield name
    finally:
        docker("network", "rm", name, check=False)


def pg_ready(container: str) -> bool:
    # Over TCP: during initialisation the temporary server listens on the Unix socket only.
    return (
        docker("exec", container, "pg_isready", "-h", "127.0.0.1", "-U", PG_USER, check=False).returncode
        == 0
    )


@pytest.fixture(scope="module")
def postgres(network: str) -> Iterator[Postgres]:
    name = unique("pg")
    try:
        docker(
            "run", "--detach", "--name", name, "--network", network,
            "-e", f"POSTGRES_USER={PG_USER}", "-e", f"POSTGRES_PASSWORD={PG_PASSWORD}",
            "-e", f"POSTGRES_DB={PG_DB}", POSTGRES_IMAGE,
        )  # fmt: skip
        wait_until("postgres to accept connections", lambda: pg_ready(name))
        yield Postgres(network=network, name=name)
    finally:
        remove_container(name)


@pytest.fixture(scope="module")
def redis(network: str) -> Iterator[str]:
    name = unique("redis")
    try:
        docker("run", "--detach", "--name", name, "--network", network, REDIS_IMAGE)
        yield name
    finally:
        remove_container(name)


def psql(pg: Postgres, sql: str, *, user: str = PG_USER, password: str = PG_PASSWORD,
         db: str = PG_DB, check: bool = True) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """psql from a separate container (the postgres image as a client) over the network."""
    return docker(
        "run", "--rm", "--network", pg.network, "-e", f"PGPASSWORD={password}", POSTGRES_IMAGE,
        "psql", "-h", pg.name, "-U", user, "-d", db, "-v", "ON_ERROR_STOP=1", "-tAc", sql,
        check=check,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Airflow images: configuration and entrypoint dispatch


@pytest.mark.parametrize("version", AIRFLOW_VERSIONS)
def test_airflow_version_command(version: str) -> None:
    out = docker("run", "--rm", airflow_image(version), "version").stdout
    assert out.strip().splitlines()[-1] == version


@pytest.mark.parametrize("version", AIRFLOW_VERSIONS)
def test_airflow_image_config(version: str) -> None:
    info = json.loads(docker("image", "inspect", airflow_image(version)).stdout)[0]
    config = info["Config"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert config["Entrypoint"] == ["/usr/bin/dumb-init", "--", "/entrypoint"]
    assert not config["Cmd"]
    assert config["WorkingDir"] == "/opt/airflow"
    assert config["User"] == "50000"
    assert "8080/tcp" in config["ExposedPorts"]
    assert env["AIRFLOW_HOME"] == "/opt/airflow"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    assert env["DUMB_INIT_SETSID"] == "1"
    assert env["PATH"].split(":")[0] == "/opt/airflow-venv/bin"
    assert config["Labels"]["org.afc.recipe"]


@pytest.mark.parametrize("version", AIRFLOW_VERSIONS)
def test_airflow_default_user_and_environment(version: str) -> None:
    script = (
        "id -u; id -g; id -un; echo $AIRFLOW_HOME; pwd; echo $HOME; "
        "command -v airflow python celery pip curl; "
        "stat -c '%a %g %n' /opt/airflow /opt/airflow/dags /opt/airflow/logs /opt/airflow/plugins "
        "/opt/airflow/config /etc/passwd"
    )
    lines = docker("run", "--rm", airflow_image(version), "bash", "-c", script).stdout.splitlines()
    assert lines[:6] == ["50000", "0", "airflow", "/opt/airflow", "/opt/airflow", "/home/airflow"]
    assert lines[6:10] == [f"/opt/airflow-venv/bin/{tool}" for tool in ("airflow", "python", "celery", "pip")]
    assert lines[10] == "/usr/bin/curl"
    for line in lines[11:]:
        mode, gid, path = line.split()
        assert gid == "0" or path == "/etc/passwd", line
        assert int(mode[-2]) & 2, f"{path} is not group-writable: {line}"


@pytest.mark.parametrize("version", ["2.10.4", "3.3.2"])
def test_airflow_arbitrary_uid_with_gid_0(version: str) -> None:
    script = "id -u; id -g; whoami; echo $HOME; touch /opt/airflow/logs/probe && echo writable"
    proc = docker("run", "--rm", "--user", "12345:0", airflow_image(version), "bash", "-c", script)
    assert proc.stdout.splitlines() == ["12345", "0", "default", "/home/airflow", "writable"]


def test_airflow_arbitrary_uid_with_other_gid_is_refused() -> None:
    proc = docker("run", "--rm", "--user", "12345:12345", airflow_image("3.3.2"), "version", check=False)
    assert proc.returncode == 1
    assert "gid 0" in proc.stderr


@pytest.mark.parametrize("version", ["2.10.4", "3.3.2"])
def test_airflow_dispatch(version: str) -> None:
    image = airflow_image(version)
    out = docker("run", "--rm", image, "bash", "-c", 'echo "from-bash $0 $1"', "zero", "one").stdout
    assert out.strip() == "from-bash zero one"
    out = docker("run", "--rm", image, "python", "-c", "import sys, airflow; print(sys.prefix, airflow.__version__)")
    assert out.stdout.split() == ["/opt/airflow-venv", version]
    # A leading `airflow` is dropped; anything else is an airflow sub-command.
    assert docker("run", "--rm", image, "airflow", "version").stdout.strip().endswith(version)
    out = docker("run", "--rm", image, "config", "get-value", "core", "load_examples").stdout
    assert out.strip().lower() == "false"


def test_airflow_gives_up_waiting_for_an_unreachable_db() -> None:
    start = time.monotonic()
    proc = docker(
        "run", "--rm",
        "-e", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgresql+psycopg2://u:p@no-such-host.invalid/db",
        "-e", "CONNECTION_CHECK_MAX_COUNT=2", "-e", "CONNECTION_CHECK_SLEEP_TIME=1",
        airflow_image("2.10.4"), "version",
        check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "metadata database" in proc.stderr and "giving up" in proc.stderr
    assert time.monotonic() - start < 120


def test_airflow_gives_up_waiting_for_an_unreachable_broker() -> None:
    proc = docker(
        "run", "--rm",
        "-e", "AIRFLOW__CORE__EXECUTOR=CeleryExecutor",
        "-e", "AIRFLOW__CELERY__BROKER_URL=redis://:@no-such-host.invalid:6399/0",
        "-e", "CONNECTION_CHECK_MAX_COUNT=2", "-e", "CONNECTION_CHECK_SLEEP_TIME=1",
        airflow_image("3.3.2"), "celery", "--help",
        check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "no-such-host.invalid:6399" in proc.stderr and "giving up" in proc.stderr


def test_airflow_user_create_without_password_fails() -> None:
    proc = docker(
        "run", "--rm", "-e", "_AIRFLOW_WWW_USER_CREATE=true", "-e", "CONNECTION_CHECK_MAX_COUNT=0",
        airflow_image("2.10.4"), "version",
        check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "_AIRFLOW_WWW_USER_PASSWORD" in proc.stderr


def test_airflow_pip_additional_requirements_is_ignored_with_a_warning() -> None:
    proc = docker(
        "run", "--rm", "-e", "_PIP_ADDITIONAL_REQUIREMENTS=some-package==1.0",
        airflow_image("3.3.2"), "bash", "-c", "echo ran",
    )  # fmt: skip
    assert proc.stdout.strip() == "ran"
    assert "_PIP_ADDITIONAL_REQUIREMENTS" in proc.stderr


# --------------------------------------------------------------------------------------------
# Airflow against the stand-in Postgres: migrate and web user through the entrypoint


@pytest.mark.parametrize("version", ["2.10.4", "3.3.2"])
def test_airflow_migrate_and_user_create(postgres: Postgres, version: str) -> None:
    db = "airflow_" + version.replace(".", "_")
    psql(postgres, f'CREATE DATABASE "{db}"')
    env = [
        "-e", f"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgresql+psycopg2://{PG_USER}:{PG_PASSWORD}@{postgres.name}/{db}",
        "-e", "_AIRFLOW_DB_MIGRATE=true",
        "-e", "_AIRFLOW_WWW_USER_CREATE=true",
        "-e", "_AIRFLOW_WWW_USER_USERNAME=afc-admin",
        "-e", "_AIRFLOW_WWW_USER_PASSWORD=afc-admin-pw",
        "-e", f"AIRFLOW__CORE__AUTH_MANAGER={FAB_AUTH_MANAGER}",
    ]  # fmt: skip
    run = ["run", "--rm", "--network", postgres.network, *env, airflow_image(version)]
    first = docker(*run, "users", "list", "--output", "plain")
    assert "afc-admin" in first.stdout, first.stdout + first.stderr
    assert "airflowadmin@example.com" in first.stdout
    # Second start against the same database: migrate is a no-op, the existing user is fine.
    second = docker(*run, "users", "list", "--output", "plain")
    assert "afc-admin" in second.stdout
    tables = psql(postgres, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'dag_run'", db=db)
    assert tables.stdout.strip() == "1"


# --------------------------------------------------------------------------------------------
# Postgres


def test_postgres_accepts_configured_credentials(postgres: Postgres) -> None:
    out = psql(
        postgres,
        "SELECT current_user, current_database(), r.rolsuper, pg_get_userbyid(d.datdba) "
        "FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database()",
    ).stdout.strip()
    assert out == f"{PG_USER}|{PG_DB}|t|{PG_USER}"
    assert psql(postgres, "SHOW listen_addresses").stdout.strip() == "*"


def test_postgres_rejects_a_wrong_password(postgres: Postgres) -> None:
    proc = psql(postgres, "SELECT 1", password="wrong", check=False)
    assert proc.returncode != 0
    assert "password authentication failed" in proc.stderr


def test_postgres_client_tools_on_path() -> None:
    out = docker(
        "run", "--rm", POSTGRES_IMAGE, "bash", "-c", "command -v pg_isready psql pg_dump pg_restore"
    ).stdout.split()  # fmt: skip
    assert [p.rsplit("/", 1)[1] for p in out] == ["pg_isready", "psql", "pg_dump", "pg_restore"]


def test_postgres_requires_a_password_on_first_start() -> None:
    proc = docker("run", "--rm", POSTGRES_IMAGE, check=False, timeout=60)
    assert proc.returncode != 0
    assert "POSTGRES_PASSWORD" in proc.stderr


def test_postgres_root_owned_volume_restart_and_clean_stop(network: str) -> None:
    volume = unique("pgdata")
    name = unique("pg-vol")
    docker("volume", "create", volume)
    try:
        # Make the volume root-owned, as a fresh bind mount would be.
        docker(
            "run", "--rm", "-v", f"{volume}:/data", "--entrypoint", "chown", POSTGRES_IMAGE, "0:0", "/data"
        )  # fmt: skip
        docker(
            "run", "--detach", "--name", name, "--network", network,
            "-v", f"{volume}:/var/lib/postgresql/data",
            "-e", "POSTGRES_USER=vol_user", "-e", "POSTGRES_PASSWORD=vol-pw", POSTGRES_IMAGE,
        )  # fmt: skip
        ready = lambda: docker("exec", name, "pg_isready", "-h", "127.0.0.1", check=False).returncode == 0  # noqa: E731
        wait_until("postgres on a root-owned volume", ready)
        docker("exec", name, "psql", "-U", "vol_user", "-c", "CREATE TABLE kept (x int)")

        start = time.monotonic()
        docker("stop", "--time", "30", name)
        assert time.monotonic() - start < 15, "postgres did not stop promptly"
        state = json.loads(docker("inspect", name).stdout)[0]["State"]
        assert state["ExitCode"] == 0
        logs = docker("logs", name)
        assert "database system is shut down" in logs.stdout + logs.stderr

        docker("start", name)
        wait_until("postgres after a restart", ready)
        logs = docker("logs", name)
        assert "reusing the existing database cluster" in logs.stdout + logs.stderr
        out = docker("exec", name, "psql", "-U", "vol_user", "-tAc", "SELECT count(*) FROM kept").stdout
        assert out.strip() == "0"

        # SIGTERM is PostgreSQL's smart shutdown (the server is PID 1, as in the official image): with no
        # client connected it stops at once.
        start = time.monotonic()
        docker("kill", "--signal", "TERM", name)
        docker("wait", name, timeout=30)
        assert time.monotonic() - start < 15
        assert json.loads(docker("inspect", name).stdout)[0]["State"]["ExitCode"] == 0
    finally:
        remove_container(name)
        docker("volume", "rm", "--force", volume, check=False)


# --------------------------------------------------------------------------------------------
# Redis


def test_redis_answers_ping_from_another_container(redis: str, network: str) -> None:
    def pong() -> bool:
        proc = docker("run", "--rm", "--network", network, REDIS_IMAGE, "redis-cli", "-h", redis, "ping", check=False)
        return proc.stdout.strip() == "PONG"

    wait_until("redis to answer PING", pong, timeout=30)
    out = docker("exec", redis, "redis-cli", "config", "get", "protected-mode").stdout.split()
    assert out == ["protected-mode", "no"]


# --------------------------------------------------------------------------------------------
# Released semantics the stack must not rely on away (tests fail where users would)


def wrong_password_url(pg: Postgres) -> str:
    return f"postgresql+psycopg2://{PG_USER}:not-the-password@{pg.name}/{PG_DB}"


@pytest.mark.parametrize("version", ["2.10.4", "3.3.2"])
def test_airflow_failed_migration_and_user_creation_do_not_stop_the_command(postgres: Postgres, version: str) -> None:
    # The released entrypoint runs `airflow db migrate || true` and `airflow users create ... || true`.
    proc = docker(
        "run", "--rm", "--network", postgres.network, "-e", "CONNECTION_CHECK_MAX_COUNT=0",
        "-e", f"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN={wrong_password_url(postgres)}",
        "-e", "_AIRFLOW_DB_MIGRATE=true", "-e", "_AIRFLOW_WWW_USER_CREATE=true",
        "-e", "_AIRFLOW_WWW_USER_PASSWORD=pw", "-e", f"AIRFLOW__CORE__AUTH_MANAGER={FAB_AUTH_MANAGER}",
        airflow_image(version), "version", check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith(version)
    assert "password authentication failed" in proc.stderr


def test_airflow_3_waits_for_the_database_only_before_its_components() -> None:
    env = ["-e", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgresql+psycopg2://u:p@no-such-host.invalid/db",
           "-e", "CONNECTION_CHECK_MAX_COUNT=2", "-e", "CONNECTION_CHECK_SLEEP_TIME=1"]
    version = docker("run", "--rm", *env, airflow_image("3.3.2"), "version", check=False)
    assert version.returncode == 0 and version.stdout.split()[-1] == "3.3.2", version.stderr
    python = docker("run", "--rm", *env, airflow_image("3.3.2"), "python", "-c", "print('ran')", check=False)
    assert python.stdout.strip() == "ran" and "metadata database" not in python.stderr
    scheduler = docker("run", "--rm", *env, airflow_image("3.3.2"), "scheduler", check=False)
    assert scheduler.returncode == 1 and "giving up" in scheduler.stderr
    # Airflow 2 waits before every command, python included.
    old = docker("run", "--rm", *env, airflow_image("2.10.4"), "python", "-c", "print('ran')", check=False)
    assert old.returncode == 1 and "giving up" in old.stderr


@pytest.mark.parametrize("version", AIRFLOW_VERSIONS)
def test_airflow_carries_its_constraints_and_says_its_python(version: str) -> None:
    out = docker("run", "--rm", airflow_image(version), "bash", "-c",
                 "python --version; grep -ci '^apache-airflow-providers-postgres==' /home/airflow/constraints.txt").stdout
    assert out.split()[:2] == ["Python", out.split()[1]] and out.split()[2] == "1", out
    assert out.split()[1].startswith("3.11."), "the tag says python3.11"


def test_slim_airflow_lacks_the_stacks_providers() -> None:
    probe = ("import importlib.util as u; print(sum(u.find_spec('airflow.providers.' + p) is not None "
             "for p in ('celery', 'postgres', 'redis')))")
    slim = docker("run", "--rm", "afc-standin/airflow:slim-2.10.4-python3.11", "python", "-c", probe).stdout
    regular = docker("run", "--rm", airflow_image("2.10.4"), "python", "-c", probe).stdout
    assert (slim.strip(), regular.strip()) == ("0", "3")
    assert docker("run", "--rm", "afc-standin/airflow:slim-2.10.4-python3.11", "bash", "-c",
                  "test -f /home/airflow/constraints.txt", check=False).returncode == 0


def test_postgres_smart_shutdown_on_sigterm_fast_on_docker_stop(network: str) -> None:
    name = unique("pg-signals")
    try:
        docker("run", "--detach", "--name", name, "--network", network, "-e", "POSTGRES_PASSWORD=pw", POSTGRES_IMAGE)
        wait_until("postgres", lambda: docker("exec", name, "pg_isready", "-h", "127.0.0.1", check=False).returncode == 0)
        docker("exec", "--detach", name, "psql", "-U", "postgres", "-c", "SELECT pg_sleep(60)")
        time.sleep(1)
        docker("kill", "--signal", "TERM", name)
        time.sleep(3)
        assert json.loads(docker("inspect", name).stdout)[0]["State"]["Running"], \
            "SIGTERM is a smart shutdown: the server waits for the connected client"
        start = time.monotonic()
        docker("stop", "--time", "30", name)  # STOPSIGNAL SIGINT: fast shutdown
        assert time.monotonic() - start < 10
    finally:
        remove_container(name)


def test_postgres_password_file(network: str) -> None:
    name = unique("pg-file")
    try:
        docker("run", "--detach", "--name", name, "--network", network, "-e", "POSTGRES_PASSWORD_FILE=/tmp/pw",
               "--entrypoint", "bash", POSTGRES_IMAGE, "-c",
               "echo file-pw > /tmp/pw && exec /usr/local/bin/docker-entrypoint.sh postgres")
        wait_until("postgres", lambda: docker("exec", name, "pg_isready", "-h", "127.0.0.1", check=False).returncode == 0)
        ok = docker("run", "--rm", "--network", network, "-e", "PGPASSWORD=file-pw", POSTGRES_IMAGE,
                    "psql", "-h", name, "-U", "postgres", "-tAc", "SELECT 1")
        assert ok.stdout.strip() == "1"
        both = docker("run", "--rm", "-e", "POSTGRES_PASSWORD=a", "-e", "POSTGRES_PASSWORD_FILE=/etc/hostname",
                      POSTGRES_IMAGE, check=False, timeout=60)
        assert both.returncode == 1 and "exclusive" in both.stderr
    finally:
        remove_container(name)


def test_postgres_18_layout_and_refusal_of_the_old_mount() -> None:
    image = "afc-standin/postgres:18"
    config = json.loads(docker("image", "inspect", image).stdout)[0]["Config"]
    assert "PGDATA=/var/lib/postgresql/18/docker" in config["Env"]
    assert list(config["Volumes"]) == ["/var/lib/postgresql"]
    volume = unique("pg18-old")
    try:
        refused = docker("run", "--rm", "-v", f"{volume}:/var/lib/postgresql/data", "-e", "POSTGRES_PASSWORD=pw",
                         image, check=False, timeout=60)
        assert refused.returncode == 1 and "/var/lib/postgresql/data" in refused.stderr, refused.stderr
    finally:
        docker("volume", "rm", "--force", volume, check=False)
