"""`afc backup` and `afc restore`: the metadata database as a pg_dump custom-format archive.

The dump is made and restored by the running postgres container's own pg_dump/pg_restore (same major
version as the server), streamed through `docker compose exec`; nothing is installed on the host. Results are
dataclasses; nothing here prints.
"""
from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable

from .. import engine
from ..errors import StackError, UsageError
from ..project.inputs import writable_folder
from .context import Context
from .lifecycle import UpResult

BACKUP_DIR = "backups"
MAGIC = b"PGDMP"  # the first bytes of every pg_dump custom-format archive


@dataclass(frozen=True)
class BackupResult:
    project: str
    path: Path
    size: int
    elapsed: float
    database: str


@dataclass
class RestoreResult:
    project: str
    path: Path
    size: int
    stopped: list[str]
    restore_seconds: float
    elapsed: float
    up: UpResult | None = None
    notes: list[str] = field(default_factory=list)


def default_path(ctx: Context, now: dt.datetime | None = None, suffix: str = ".dump") -> Path:
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    return ctx.project.root / BACKUP_DIR / f"{ctx.spec.project}-{stamp}{suffix}"


def target_path(ctx: Context, file: Path | None, now: dt.datetime | None = None, create: bool = True,
                suffix: str = ".dump") -> Path:
    """Where the backup goes: FILE, FILE/<default name> for a folder, or <project>/backups/<default name>.
    Checked before any work (the folder exists and is writable, no file is overwritten); `create` makes the
    default backups/ folder."""
    if file is None:
        path = default_path(ctx, now, suffix)
        writable_folder(path.parent if path.parent.exists() else path.parent.parent, "afc backup")
        if create:
            path.parent.mkdir(mode=0o700, exist_ok=True)
        return path
    path = file.expanduser()
    if path.is_dir():
        writable_folder(path, "FILE")
        return path / default_path(ctx, now, suffix).name
    if path.exists():
        raise UsageError(f"{path} already exists; afc backup never overwrites a file",
                         hint="choose another FILE, or leave FILE out for a time-stamped name in backups/")
    writable_folder(path.parent, "FILE")
    return path


def _postgres_command(ctx: Context, program: str, *args: str) -> list[str]:
    """Run a Postgres client program in the postgres container as the stack's database user; the password
    comes from the container's own environment (never from our command line, where `ps` would show it)."""
    return ["sh", "-c", 'PGPASSWORD="$POSTGRES_PASSWORD" exec "$@"', program, program,
            "-U", ctx.spec.postgres_user, "-d", ctx.spec.postgres_db, *args]


def require_postgres(ctx: Context, action: str, command: str) -> None:
    running = [c for c in ctx.snapshot() if c.service == "postgres" and c.state == "running"]
    if not running:
        raise StackError(f"cannot {action}: the postgres service of '{ctx.spec.project}' is not running",
                         hint=f"start the database with `afc up postgres` (or the whole stack with `afc up`), "
                              f"then run `afc {command}` again")


def backup(ctx: Context, file: Path | None, clock: Callable[[], float] = time.monotonic) -> BackupResult:
    """pg_dump --format=custom of the metadata database into FILE, atomically, mode 0600 (a lite project:
    a copy of its SQLite file)."""
    if ctx.spec.lite:
        from . import lite

        return lite.backup(ctx, file, clock)
    began = clock()
    path = target_path(ctx, file, create=False)  # a bad FILE is named before the database is looked at
    require_postgres(ctx, "back up the database", "backup")
    path.parent.mkdir(mode=0o700, exist_ok=True)

    def dumped(code: int, errors: str, written: Path) -> None:
        if code != 0:
            raise StackError(f"pg_dump failed (exit {code}); no backup was written",
                             hint="check the database with `afc logs postgres` and `afc status`", details=errors)
        with open(written, "rb") as check:
            if check.read(len(MAGIC)) != MAGIC:
                raise StackError("pg_dump did not produce a custom-format archive; no backup was written",
                                 details=errors)

    write_privately(path, lambda sink: engine.exec_to_file(ctx.stack, "postgres",
                                                           _postgres_command(ctx, "pg_dump", "-Fc"), sink), dumped)
    return BackupResult(ctx.spec.project, path, path.stat().st_size, clock() - began,
                        f"{ctx.spec.postgres_db} as {ctx.spec.postgres_user}")


def write_privately(path: Path, write: Callable[[BinaryIO], tuple[int, str]],
                    accept: Callable[[int, str, Path], None]) -> None:
    """Write `path` atomically, mode 0600 (a backup holds connections, variables and users): `write` streams into
    a hidden partial file beside it and returns (exit code, stderr); `accept` raises unless that file is sound;
    only then does it replace `path`. Nothing is left behind when either fails or the user interrupts."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as sink:
            code, errors = write(sink)
            sink.flush()
            os.fsync(sink.fileno())
        accept(code, errors, Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_head(file: Path, length: int) -> tuple[Path, bytes]:
    """The first bytes of a backup FILE given on the command line; UsageError (changing nothing) when it is
    missing, not a file or unreadable."""
    path = file.expanduser()
    if not path.exists():
        raise UsageError(f"backup file {path} does not exist",
                         hint="give the path of a file written by `afc backup` (default folder: backups/)")
    if not path.is_file():
        raise UsageError(f"{path} is not a file", hint="give the path of a file written by `afc backup`")
    try:
        with open(path, "rb") as handle:
            return path, handle.read(length)
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}", hint="check the file's permissions")


def check_archive(file: Path) -> Path:
    """Fail (changing nothing) unless FILE is a readable pg_dump custom-format archive."""
    path, head = read_head(file, len(MAGIC))
    if head != MAGIC:
        raise UsageError(f"{path} is not a pg_dump custom-format archive (not made by `afc backup`)",
                         hint="give a file written by `afc backup`; nothing was changed")
    return path.resolve()


def restore(ctx: Context, file: Path, *, timeout: float, start_up: Callable[[Context], UpResult],
            start_postgres: Callable[[Context], object], clock: Callable[[], float] = time.monotonic) -> RestoreResult:
    """Replace the metadata database with FILE: check the archive, stop Airflow, pg_restore in one
    transaction (all or nothing), then start the stack again with `start_up` (which waits for healthy)."""
    if ctx.spec.lite:
        from . import lite

        return lite.restore(ctx, file, start_up=start_up, clock=clock)
    began = clock()
    path = check_archive(file)
    result = RestoreResult(ctx.spec.project, path, path.stat().st_size, [], 0.0, 0.0)
    if not any(c.service == "postgres" and c.state == "running" and c.health in ("healthy", "")
               for c in ctx.snapshot()):
        start_postgres(ctx)
        result.notes.append("started postgres for the restore")
    with open(path, "rb") as source:  # read the whole archive's table of contents: catches truncated files
        code, errors = engine.exec_from_file(ctx.stack, "postgres", ["pg_restore", "--list"], source)
    if code != 0:
        raise UsageError(f"{path} is not a readable pg_dump archive: {_first_error(errors)}",
                         hint="give a complete file written by `afc backup`; nothing was changed")
    airflow = [name for name in ctx.spec.airflow_services if name in ctx.spec.services]  # not the log cleaner
    running = {c.service for c in ctx.snapshot() if c.state in ("running", "restarting")}
    result.stopped = [name for name in airflow if name in running and name != "init"]
    # removed, not just stopped: a stopped container keeps its last health ('unhealthy'), and `up` then
    # re-creates them, re-running the init job (migrations) on the restored database
    ctx.stack.remove(airflow)
    restore_began = clock()
    with open(path, "rb") as source:
        code, errors = engine.exec_from_file(ctx.stack, "postgres", _postgres_command(
            ctx, "pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction"), source)
    result.restore_seconds = clock() - restore_began
    if code != 0:
        try:
            start_up(ctx)
            again = "the stack was started again"
        except Exception as error:  # the restore failure is the news; say what state we left
            again = f"starting the stack again failed too ({getattr(error, 'message', error)}): run `afc up`"
        raise StackError(f"pg_restore failed (exit {code}): {_first_error(errors)}",
                         hint=f"the restore ran in one transaction, so the database is unchanged; {again}",
                         details=errors)
    result.up = start_up(ctx)
    result.elapsed = clock() - began
    return result


def _first_error(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    for line in lines:
        if "error" in line.lower():
            return line
    return lines[-1] if lines else "no message"
