"""No port fights: who holds a busy port (another afc stack, another container, or a process of this machine),
`--port auto` (a free port, kept in `.env`), `afc ls` (every afc stack on the engine) and `afc open`."""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from ..errors import UsageError

DEFAULT_PORT = 8080
AUTO = "auto"
TCP_LISTEN = "0A"


# --- who holds a port ------------------------------------------------------------------------------------------

def port_free(host: str, port: int) -> bool:
    """Whether this machine lets a program bind `host:port` now."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def listening_inodes(table: str, port: int) -> set[str]:
    """Socket inodes listening on `port` in a /proc/net/tcp or tcp6 table."""
    inodes = set()
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != TCP_LISTEN:
            continue
        local_port = fields[1].rsplit(":", 1)[-1]
        try:
            if int(local_port, 16) == port:
                inodes.add(fields[9])
        except ValueError:
            continue
    return inodes


def socket_owners(inodes: set[str], proc: Path = Path("/proc")) -> list[tuple[int, str]]:
    """(pid, command line) of the processes holding any of these socket inodes (only those we may inspect)."""
    wanted = {f"socket:[{inode}]" for inode in inodes}
    owners = []
    for entry in proc.iterdir() if wanted else []:
        if not entry.name.isdigit():
            continue
        try:
            descriptors = list((entry / "fd").iterdir())
        except OSError:
            continue
        links = set()
        for descriptor in descriptors:
            try:
                links.add(os.readlink(descriptor))
            except OSError:  # closed meanwhile (the listing's own descriptor, for one)
                continue
        if links & wanted:
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                command = ""
            owners.append((int(entry.name), command or "?"))
    return sorted(owners)


def process_holding(port: int, proc: Path = Path("/proc")) -> str:
    """"process 1234 (python3 -m http.server)" for a listener of this machine, or "" when it cannot be told."""
    inodes: set[str] = set()
    for name in ("tcp", "tcp6"):
        try:
            inodes |= listening_inodes((proc / "net" / name).read_text(), port)
        except OSError:
            continue
    owners = socket_owners(inodes, proc)
    if not owners:
        return ""
    pid, command = owners[0]
    return f"process {pid} ({command[:80]})"


def describe_container(container: dict) -> str:
    """Words for a container that publishes a port: the afc (or compose) stack it belongs to, else its name."""
    labels = container.get("labels") or {}
    project = labels.get("com.docker.compose.project")
    if project:
        folder = labels.get("com.docker.compose.project.working_dir", "")
        kind = "afc stack" if _is_afc(labels.get("com.docker.compose.project.config_files", "")) else "compose project"
        return f"{kind} '{project}'" + (f" ({folder})" if folder else "")
    return f"container '{container.get('name', '?')}'"


def _is_afc(config_files: str) -> bool:
    first = config_files.split(",")[0].strip()
    try:
        with open(first) as handle:
            return "airflow-compose" in handle.readline()
    except OSError:
        return first.endswith("compose.yaml")


def holder(port: int) -> str:
    """Who holds a busy port, as well as this machine can tell; "" when it cannot."""
    from .. import engine

    try:
        containers = engine.containers_publishing(port)
    except Exception:  # the engine is the other checks' business
        containers = []
    if containers:
        return describe_container(containers[0])
    return process_holding(port)


# --- --port auto ----------------------------------------------------------------------------------------------------

def pick_port(host: str, start: int, is_free: Callable[[str, int], bool], taken: Iterable[int] = ()) -> int:
    """The first free port from `start` up (skipping `taken`: ports the stack's other services use)."""
    skip = set(taken)
    for port in range(start, min(start + 1000, 65536)):
        if port not in skip and is_free(host, port):
            return port
    raise UsageError(f"no free port between {start} and {min(start + 999, 65535)} on {host}",
                     hint="free a port, or set AFC_PORT in .env to one you know is free")


def resolve_port(root: Path, flag: str | None) -> tuple[int, bool] | None:
    """`afc up --port N|auto` and `AFC_PORT=auto` in `.env`: the port to write into `.env` (and whether afc chose
    it), or None when `.env` already says what to use. `auto` keeps the current port while it is free or held by
    this stack, and otherwise picks the next free one, so the URL changes only when it must."""
    from .. import engine
    from ..project.files import find_project
    from ..stack.spec import host_facts
    from .doctor import held_ports

    project = find_project(root)
    values = project.file_values()
    stored = values.get("AFC_PORT", "").strip().lower()
    wanted = (flag or "").strip().lower() or (AUTO if stored == AUTO else "")
    if not wanted:
        return None
    if wanted != AUTO:
        try:
            number = int(wanted)
        except ValueError:
            raise UsageError(f"--port {flag!r} is not a port", hint="give a number from 1 to 65535, or auto")
        if not 1 <= number <= 65535:
            raise UsageError(f"--port {number} is out of range", hint="give a number from 1 to 65535, or auto")
        return number, False
    provisional = dict(values, AFC_PORT=str(DEFAULT_PORT) if stored in ("", AUTO) else stored)
    from ..stack import settings
    from ..stack.spec import build_spec

    spec = build_spec(settings.effective(provisional, project.environ), host_facts())
    held = held_ports(engine.Stack(project, spec.project).containers())
    current = spec.port
    if current in held or port_free(spec.host, current):
        return current, stored == AUTO
    others = [spec.flower_port, spec.postgres_port or 0, spec.redis_port or 0]
    return pick_port(spec.host, current + 1, port_free, others), True


def save_port(root: Path, port: int) -> None:
    from ..project.files import find_project, write_atomically
    from ..stack import settings

    project = find_project(root)
    values = project.file_values()
    if values.get("AFC_PORT") != str(port):
        values["AFC_PORT"] = str(port)
        write_atomically(project.env_path, settings.format_env(values), mode=0o600)


# --- afc ls ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StackRow:
    project: str
    folder: str
    version: str
    state: str         # running, stopped, partly running (n/m)
    health: str        # healthy, unhealthy, starting, -
    url: str

    def as_dict(self) -> dict:
        return vars(self)


WEB_SERVICES = ("webserver", "api-server")


def stack_rows(containers: list[dict]) -> list[StackRow]:
    """Group containers (from `engine.compose_containers`) into afc stacks: compose projects with afc's init and
    scheduler services."""
    projects: dict[str, list[dict]] = {}
    for container in containers:
        project = (container.get("labels") or {}).get("com.docker.compose.project")
        if project and (container.get("labels") or {}).get("com.docker.compose.oneoff") != "True":
            projects.setdefault(project, []).append(container)
    rows = []
    for project, members in sorted(projects.items()):
        services = {(c.get("labels") or {}).get("com.docker.compose.service") for c in members}
        if not {"init", "scheduler"} <= services or not services & set(WEB_SERVICES):
            continue
        labels = members[0].get("labels") or {}
        long_running = [c for c in members if (c.get("labels") or {}).get("com.docker.compose.service") != "init"]
        running = [c for c in long_running if c.get("state") == "running"]
        state = "running" if len(running) == len(long_running) else "stopped" if not running else \
            f"partly running ({len(running)}/{len(long_running)})"
        healths = {c.get("health") or "" for c in running if c.get("health")}
        health = "-" if not running else "unhealthy" if "unhealthy" in healths else \
            "starting" if "starting" in healths else "healthy"
        scheduler = next(c for c in members if (c.get("labels") or {}).get("com.docker.compose.service") == "scheduler")
        version = scheduler.get("airflow_version") or scheduler.get("image", "?").rsplit(":", 1)[-1]
        url = ""
        for c in members:
            if (c.get("labels") or {}).get("com.docker.compose.service") in WEB_SERVICES:
                for host, port in c.get("ports") or []:
                    url = f"http://{'localhost' if host in ('', '0.0.0.0', '127.0.0.1', '::') else host}:{port}"
        rows.append(StackRow(project, labels.get("com.docker.compose.project.working_dir", ""), version, state,
                             health, url or "-"))
    return rows


def list_stacks() -> list[StackRow]:
    from .. import engine

    return stack_rows(engine.compose_containers())


# --- afc open -------------------------------------------------------------------------------------------------------

def can_open_browser(environ: dict[str, str], system: str) -> bool:
    """A graphical browser can be started: macOS, Windows, or a Linux desktop session (a console browser such as
    lynx would take over the terminal, so none is started without a display)."""
    if environ.get("AFC_NO_BROWSER"):
        return False
    return system in ("Darwin", "Windows") or bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def open_url(url: str) -> bool:
    """Open the UI in a browser; False when there is none to open (the caller prints the URL)."""
    import platform
    import webbrowser

    if not can_open_browser(dict(os.environ), platform.system()):
        return False
    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False
