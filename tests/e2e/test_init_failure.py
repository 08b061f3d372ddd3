"""A stack whose init fails makes `afc up` fail fast, showing init's own error (not a generic timeout).

The stand-ins have the released entrypoint's semantics (a failed `airflow db migrate` or user creation does
not stop the container), so these pass only because afc's init checks its own work."""
import re
import time

from tests.helpers import afc, docker, standin_flags


def test_wrong_database_password_fails_fast_with_inits_error(tmp_path):
    project = tmp_path / "e2e-initfail"
    afc("init", str(project), *standin_flags("2.10.4"), "--executor", "local", "--port", "18084", check=True)
    try:
        afc("up", "postgres", project=project, check=True)  # the database now has the generated password
        env = project / ".env"
        env.write_text(re.sub(r"(?m)^AFC_POSTGRES_PASSWORD=.*$", "AFC_POSTGRES_PASSWORD=wrong-password",
                              env.read_text()))
        started = time.monotonic()
        failed = afc("up", "--timeout", "300", project=project)
        took = time.monotonic() - started
        print(f"\n[init failure] afc up failed after {took:.1f}s\n{failed.stderr}")
        assert failed.returncode == 5, failed.stderr
        assert took < 60, f"failed only after {took:.0f}s"
        assert "init" in failed.stderr.split("\n")[0] or "init exited" in failed.stderr
        assert "password authentication failed" in failed.stderr, "init's own error is shown"
        assert "Traceback (most recent call last)" not in failed.stderr.split("--- last log lines")[0]
        assert "wrong-password" not in failed.stderr, "no secret in error messages"
        status = afc("status", "--json", project=project, check=True)
        assert '"init"' in status.stdout, "containers are left for inspection"
    finally:
        afc("down", "--volumes", "--yes", project=project)


def test_a_migration_error_fails_init_naming_it(tmp_path):
    project = tmp_path / "e2e-migratefail"
    afc("init", str(project), *standin_flags("2.10.4"), "--executor", "local", "--port", "18085", check=True)
    try:
        afc("up", "postgres", project=project, check=True)
        # A schema stamped with a revision Airflow does not know: `airflow db migrate` cannot go on from it.
        docker("exec", "e2e-migratefail-postgres-1", "psql", "-U", "airflow", "-d", "airflow", "-v",
               "ON_ERROR_STOP=1", "-c", "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); "
               "INSERT INTO alembic_version VALUES ('afc0000bogus');")
        started = time.monotonic()
        failed = afc("up", "--timeout", "300", project=project)
        took = time.monotonic() - started
        print(f"\n[migration failure] afc up failed after {took:.1f}s\n{failed.stderr}")
        assert failed.returncode == 5 and took < 60, failed.stderr
        cause = next(line for line in failed.stderr.splitlines() if "cause:" in line)
        assert "afc-init: ERROR: reading the schema version failed" in cause or "migrate" in cause, cause
        assert "afc0000bogus" in cause, cause
    finally:
        afc("down", "--volumes", "--yes", project=project)
