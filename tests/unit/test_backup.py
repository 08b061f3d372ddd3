"""The pure parts of backup/restore: where a backup goes, which files restore accepts, the commands run."""
from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from airflow_compose.commands import backup
from airflow_compose.errors import UsageError

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def ctx_for(root: Path):
    return SimpleNamespace(project=SimpleNamespace(root=root),
                           spec=SimpleNamespace(project="demo", postgres_user="airflow", postgres_db="meta"))


def test_default_path_is_timestamped_in_backups_folder(tmp_path):
    path = backup.target_path(ctx_for(tmp_path), None, NOW)
    assert path == tmp_path / "backups" / "demo-20260102T030405Z.dump"
    assert path.parent.is_dir() and path.parent.stat().st_mode & 0o777 == 0o700


def test_target_folder_gets_default_name(tmp_path):
    assert backup.target_path(ctx_for(tmp_path), tmp_path, NOW) == tmp_path / "demo-20260102T030405Z.dump"


def test_existing_file_is_never_overwritten(tmp_path):
    existing = tmp_path / "old.dump"
    existing.write_bytes(b"PGDMP keep me")
    with pytest.raises(UsageError, match="already exists"):
        backup.target_path(ctx_for(tmp_path), existing, NOW)
    assert existing.read_bytes() == b"PGDMP keep me"


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(UsageError, match="does not exist") as raised:
        backup.target_path(ctx_for(tmp_path), tmp_path / "nope" / "x.dump", NOW)
    assert "mkdir -p" in raised.value.hint


@pytest.mark.parametrize("content, words", [(None, "does not exist"), (b"", "not a pg_dump"),
                                            (b"SQL text\n", "not a pg_dump")])
def test_check_archive_rejects(tmp_path, content, words):
    path = tmp_path / "x.dump"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UsageError, match=words) as raised:
        backup.check_archive(path)
    assert raised.value.exit_code == 2 and raised.value.hint


def test_check_archive_rejects_folder(tmp_path):
    with pytest.raises(UsageError, match="is not a file"):
        backup.check_archive(tmp_path)


def test_check_archive_accepts_custom_format(tmp_path):
    path = tmp_path / "x.dump"
    path.write_bytes(b"PGDMP\x01\x0e\x00")
    assert backup.check_archive(path) == path.resolve()


def test_password_never_on_the_command_line(tmp_path):
    command = backup._postgres_command(ctx_for(tmp_path), "pg_dump", "-Fc")
    assert command[:2] == ["sh", "-c"] and "$POSTGRES_PASSWORD" in command[2]
    assert command[3:] == ["pg_dump", "pg_dump", "-U", "airflow", "-d", "meta", "-Fc"]
    # the shell passes the arguments through unchanged, whatever they contain
    echoed = subprocess.run(["sh", "-c", command[2].replace("exec", "exec echo"), "echo", "printf", "a b", "$x"],
                            capture_output=True, text=True, env={"POSTGRES_PASSWORD": "s"}).stdout
    assert echoed.strip() == "printf a b $x"


def test_first_error_line():
    assert backup._first_error("pg_restore: warning: x\npg_restore: error: bad\n") == "pg_restore: error: bad"
    assert backup._first_error("") == "no message"

