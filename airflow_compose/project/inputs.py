"""Command-line values checked at the boundary, before any work: paths afc will write, and times handed
to docker. Each check raises UsageError naming the value and the fix; nothing here touches Docker."""
from __future__ import annotations

import calendar
import os
import re
from pathlib import Path

from ..errors import UsageError

# --- files afc writes ------------------------------------------------------------------------------------


def writable_folder(folder: Path, option: str, create_hint: bool = True) -> Path:
    """An existing folder afc can create files in."""
    if not folder.exists():
        raise UsageError(f"{option}: the folder {folder} does not exist",
                         hint=f"create it first (`mkdir -p {folder}`) or choose another path" if create_hint
                         else "choose an existing folder")
    if not folder.is_dir():
        raise UsageError(f"{option}: {folder} is a file, not a folder", hint="choose a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{option}: cannot write in {folder} (read-only or not yours)",
                         hint="choose a folder you can write to, or fix its permissions")
    return folder


def creatable_folder(folder: Path, option: str) -> Path:
    """A folder afc may create (with its parents) and write in: its nearest existing ancestor is a writable
    folder, or it exists and is one."""
    folder = folder.expanduser()
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing == folder:
        return writable_folder(folder, option)
    if not existing.is_dir():
        raise UsageError(f"{option}: cannot create {folder}: {existing} is a file", hint="choose another folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{option}: cannot create {folder}: {existing} is read-only or not yours",
                         hint="choose a folder you can write to")
    return folder


def writable_file(path: Path, option: str) -> Path:
    """A file afc may (over)write: its folder exists and is writable, and it is not itself a folder."""
    path = path.expanduser()
    if path.is_dir():
        raise UsageError(f"{option}: {path} is a folder", hint=f"give a file name, e.g. {path / 'compose.yaml'}")
    writable_folder(path.parent if str(path.parent) else Path("."), option)
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"{option}: {path} is read-only", hint="choose another file, or make it writable")
    return path


def write_output(path: Path, text: str, option: str, mode: int = 0o644) -> None:
    """Write a checked output file atomically; a failure that slipped past the checks still names the file."""
    from .files import write_atomically

    try:
        write_atomically(path, text, mode)
    except OSError as error:
        raise UsageError(f"{option}: cannot write {path}: {error.strerror}",
                         hint="choose a folder you can write to (nothing was written)")


# --- times: `--since` as docker (and docker compose) read it ----------------------------------------------
# Docker's rule (github.com/docker/docker api/types/time GetTimestamp, checked against `docker logs --since`):
# a Go duration (10m, 1h30m, 1.5h, -10m) counts back from now; otherwise the text picks one time layout
# (RFC 3339 with or without zone, fractions, `T15`/`T15:04`, a date alone); a text without '-' may also be
# a Unix timestamp (seconds[.nanoseconds]).

_DURATION = re.compile(r"[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+")
_DATE = r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
_ZONE = r"(?P<zone>Z|[+-]\d{2}:\d{2})"
_LAYOUTS = {
    "nano": rf"{_DATE}T(?P<h>\d{{1,2}}):(?P<mi>\d{{2}}):(?P<s>\d{{2}})(?:\.\d+)?",
    "seconds": rf"{_DATE}T(?P<h>\d{{1,2}}):(?P<mi>\d{{2}}):(?P<s>\d{{2}})",
    "minutes": rf"{_DATE}T(?P<h>\d{{1,2}}):(?P<mi>\d{{2}})",
    "hours": rf"{_DATE}T(?P<h>\d{{1,2}})",
    "date": _DATE,
}
_UNIX = re.compile(r"\d+(?:\.\d+)?")
SINCE_EXAMPLES = "10m, 1h30m, 2026-01-02, 2026-01-02T13:00, 2026-01-02T13:00:00Z or a Unix time such as 1767355200"


def since(value: str) -> str:
    """`value` unchanged when docker accepts it as a `--since`, else UsageError naming the accepted forms."""
    if value != "0" and _DURATION.fullmatch(value):
        return value
    if _docker_time(value) or ("-" not in value and _UNIX.fullmatch(value)):
        return value
    raise UsageError(f"--since {value!r} is not a time or duration docker understands",
                     hint=f"give a duration (units h, m, s, ms; no days: 48h for two days) or a time: {SINCE_EXAMPLES}")


def _docker_time(value: str) -> bool:
    in_location = not any(c in value for c in "zZ+") and value.count("-") != 3
    zone = "" if in_location else _ZONE
    if "." in value:
        layout = _LAYOUTS["nano"]
    elif "T" in value:
        colons = value.count(":")
        if not in_location and not any(c in value for c in "zZ") and colons > 0:
            colons -= 1  # the ':' of a +hh:mm offset
        layout = _LAYOUTS["hours" if colons == 0 else "minutes" if colons == 1 else "seconds"]
    else:
        layout = _LAYOUTS["date"]
    match = re.fullmatch(layout + zone, value)
    if not match:
        return False
    parts = {k: int(v) for k, v in match.groupdict().items() if v and k != "zone"}
    if not (1 <= parts["mo"] <= 12 and 1 <= parts["d"] <= calendar.monthrange(parts["y"], parts["mo"])[1]):
        return False
    if parts.get("h", 0) > 23 or parts.get("mi", 0) > 59 or parts.get("s", 0) > 59:
        return False
    return True
