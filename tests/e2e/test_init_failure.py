"""A stack whose init fails makes `afc up` fail fast, showing init's own error (not a generic timeout)."""
import re
import time

from tests.helpers import afc, standin_flags


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
        assert took < 120, f"failed only after {took:.0f}s"
        assert "init" in failed.stderr.split("\n")[0] or "init exited" in failed.stderr
        assert "password authentication failed" in failed.stderr, "init's own error is shown"
        assert "Traceback (most recent call last)" not in failed.stderr.split("--- last log lines")[0]
        assert "wrong-password" not in failed.stderr, "no secret in error messages"
        status = afc("status", "--json", project=project, check=True)
        assert '"init"' in status.stdout, "containers are left for inspection"
    finally:
        afc("down", "--volumes", "--yes", project=project)
