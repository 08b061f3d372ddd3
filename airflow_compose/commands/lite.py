"""The lite stack (`afc init --lite`): one Airflow container on SQLite in a named volume.

Its backup is a copy of the SQLite file, made with SQLite's online backup API by a one-off container of the
`init` service (which mounts the volume), so it is consistent while Airflow runs. Restore checks the file on
this machine first (nothing changes for a foreign or damaged file), then replaces the database file
atomically inside the volume. Results are dataclasses; nothing here prints.
"""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Callable

from .. import engine
from ..errors import StackError, UsageError
from ..stack.spec import StackSpec

MAGIC = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file
SUFFIX = ".sqlite"
ONE_OFF_SERVICE = "init"  # has the volume and the project's user, and exits: a one-off of it touches no service

# Copies the database (argv[1]) with SQLite's backup API to a temporary file, checks it, and writes it to stdout.
_BACKUP_SCRIPT = """
import os, shutil, sqlite3, sys, tempfile
source = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=60)
handle, copy = tempfile.mkstemp(suffix=".sqlite")
os.close(handle)
target = sqlite3.connect(copy)
source.backup(target)
source.close()
verdict = target.execute("PRAGMA integrity_check").fetchone()[0]
target.close()
if verdict != "ok":
    sys.exit("the copy fails SQLite's integrity check: " + verdict)
with open(copy, "rb") as data:
    shutil.copyfileobj(data, sys.stdout.buffer)
os.unlink(copy)
"""

# Reads a database from stdin next to the live one (argv[1]), checks it, and renames it over the live one.
_RESTORE_SCRIPT = """
import os, shutil, sqlite3, sys
live = sys.argv[1]
incoming = live + ".restoring"
with open(incoming, "wb") as out:
    shutil.copyfileobj(sys.stdin.buffer, out)
    out.flush()
    os.fsync(out.fileno())
verdict = sqlite3.connect(incoming).execute("PRAGMA integrity_check").fetchone()[0]
if verdict != "ok":
    os.unlink(incoming)
    sys.exit("the uploaded file fails SQLite's integrity check: " + verdict)
for leftover in ("-journal", "-wal", "-shm"):
    if os.path.exists(live + leftover):
        os.unlink(live + leftover)
os.replace(incoming, live)
"""


def refuse(spec: StackSpec, command: str, why: str) -> None:
    """Refuse a command that has no meaning for a lite project (exit 2), naming it and why."""
    if spec.lite:
        raise UsageError(
            f"`afc {command}` has no meaning for the lite project '{spec.project}': {why}",
            hint="for the full stack (Postgres, and Redis with Celery workers), create another project with "
                 "`afc init DIR --executor celery`; the lite stack's SQLite data does not move to Postgres")


def one_off(script: str, *args: str) -> list[str]:
    """`python -c script args` in a one-off container of the init service, the image's entrypoint bypassed
    (nothing but the script may write to stdout)."""
    return ["run", "--rm", "--no-deps", "-T", "--entrypoint", "python", ONE_OFF_SERVICE, "-c", script, *args]


def backup(ctx, file: Path | None, clock: Callable[[], float] = time.monotonic):
    """A consistent copy of the SQLite database into FILE, atomically, mode 0600."""
    from ..stack.render import LITE_DATABASE
    from .backup import BackupResult, target_path, write_privately

    began = clock()
    path = target_path(ctx, file, suffix=SUFFIX)

    def copied(code: int, errors: str, written: Path) -> None:
        if code != 0:
            raise StackError(f"copying the SQLite database failed (exit {code}); no backup was written",
                             hint="run `afc up` once (it creates the database), then `afc backup` again",
                             details=errors)
        try:
            check_database(written)
        except UsageError as error:
            raise StackError(f"the copy of the database is not usable: {error.message}; no backup was written")

    write_privately(path, lambda sink: engine.compose_run_to_file(ctx.stack, one_off(_BACKUP_SCRIPT, LITE_DATABASE),
                                                                  sink), copied)
    return BackupResult(ctx.spec.project, path, path.stat().st_size, clock() - began, f"SQLite {LITE_DATABASE}")


def check_database(file: Path) -> Path:
    """Fail (changing nothing) unless FILE is a sound SQLite file holding an Airflow metadata database."""
    from .backup import read_head

    path, head = read_head(file, len(MAGIC))
    if head != MAGIC:
        raise UsageError(f"{path} is not a SQLite database (not made by `afc backup` of a lite project)",
                         hint="give a .sqlite file written by `afc backup` of a lite project; nothing was changed")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as error:
        raise UsageError(f"{path} is a damaged SQLite file: {error}",
                         hint="give a complete file written by `afc backup`; nothing was changed")
    finally:
        db.close()
    if verdict != "ok":
        raise UsageError(f"{path} fails SQLite's integrity check: {verdict}",
                         hint="give a complete file written by `afc backup`; nothing was changed")
    if not {"alembic_version", "dag_run"} <= tables:
        raise UsageError(f"{path} is a SQLite file but not an Airflow metadata database",
                         hint="give a .sqlite file written by `afc backup` of a lite project; nothing was changed")
    return path.resolve()


def restore(ctx, file: Path, *, start_up: Callable, clock: Callable[[], float] = time.monotonic):
    """Replace the SQLite database with FILE: check it, remove the Airflow containers, swap the file in the
    volume (all or nothing), then start the stack with `start_up` (init migrates an older schema)."""
    from ..stack.render import LITE_DATABASE
    from .backup import RestoreResult

    began = clock()
    path = check_database(file)
    result = RestoreResult(ctx.spec.project, path, path.stat().st_size, [], 0.0, 0.0)
    running = {c.service for c in ctx.snapshot() if c.state in ("running", "restarting")}
    result.stopped = [name for name in ctx.spec.services if name in running and name != "init"]
    ctx.stack.remove(list(ctx.spec.services))  # nothing may write the database while it is replaced
    swap_began = clock()
    with open(path, "rb") as source:
        code, errors = engine.compose_run_from_file(ctx.stack, one_off(_RESTORE_SCRIPT, LITE_DATABASE), source)
    result.restore_seconds = clock() - swap_began
    if code != 0:
        raise StackError(f"replacing the SQLite database failed (exit {code})",
                         hint="the database file was not replaced; run `afc up` to start the stack again",
                         details=errors)
    result.up = start_up(ctx)
    result.elapsed = clock() - began
    return result
