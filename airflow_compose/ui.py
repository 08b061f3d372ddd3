"""The only module that prints: status and messages on stderr, data on stdout, JSON on request."""
from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def _console(stderr: bool) -> "Console":
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


_consoles: dict[bool, Any] = {}


def console(stderr: bool = True) -> "Console":
    if stderr not in _consoles:
        _consoles[stderr] = _console(stderr)
    return _consoles[stderr]


def interactive() -> bool:
    """Animations and prompts only on a real terminal."""
    return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"


def info(message: str) -> None:
    console().print(message, markup=False)


def success(message: str) -> None:
    console().print(f"[green]✓[/green] {_escape(message)}")


def warn(message: str) -> None:
    console().print(f"[yellow]warning:[/yellow] {_escape(message)}")


def error(message: str, hint: str = "", details: str = "") -> None:
    out = console()
    out.print(f"[bold red]error:[/bold red] {_escape(message)}")
    if details:
        for line in details.strip().splitlines()[-20:]:
            out.print(f"  {_escape(line)}", style="dim")
    if hint:
        out.print(f"[cyan]fix:[/cyan] {_escape(hint)}")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def data(text: str) -> None:
    """Data on stdout, unchanged."""
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
    sys.stdout.flush()


def as_json(value: Any) -> None:
    data(json.dumps(value, indent=2, default=str))


def table(title: str | None, columns: list[str], rows: list[list[str]], stderr: bool = False) -> None:
    from rich.table import Table

    grid = Table(title=title, show_edge=False, header_style="bold", pad_edge=False, box=None)
    for column in columns:
        grid.add_column(column)
    for row in rows:
        grid.add_row(*[_escape(str(cell)) for cell in row])
    console(stderr).print(grid)


# --- results ----------------------------------------------------------------------------------------------

def show_init(result) -> None:
    for note in result.warnings:
        warn(note)
    spec = result.spec
    verb = "re-rendered" if not result.created or ".env" not in result.created else "created"
    success(f"{verb} project '{spec.project}' in {result.root}")
    info(f"  Airflow {spec.tag.version} (Python {spec.tag.python}) from {spec.image.text}, {spec.executor} "
         f"executor" + (f", {spec.workers} worker(s)" if spec.celery else "") + f", linux/{spec.arch}")
    info(f"  services: {', '.join(spec.services)}")
    if result.kept_secrets:
        info("  kept the existing secrets in .env")
    info("  secrets are in .env (mode 0600); next: `afc up`")


def show_check(result) -> int:
    from .errors import OK, PROJECT

    if result.ok:
        success(f"{result.project}: .env is complete and compose.yaml is current and valid")
        return OK
    for problem in result.problems:
        error(problem.what, problem.fix)
    return PROJECT


def _uptime(seconds) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def _status_rows(rows) -> list[list[str]]:
    return [[r.service, f"{r.ready}/{r.wanted}", r.state, r.health or "-", ", ".join(dict.fromkeys(r.ports)) or "-",
             _uptime(r.uptime)] for r in rows]


class LiveStatus:
    """The view while waiting: a live table on a terminal, one plain line per change elsewhere."""

    def __init__(self, title: str):
        self.title = title
        self.live = None
        self.seen: dict[str, tuple] = {}

    def __enter__(self) -> "LiveStatus":
        if interactive():
            from rich.live import Live

            self.live = Live(console=console(), refresh_per_second=4, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def update(self, verdict, elapsed: float) -> None:
        if self.live is not None:
            from rich.table import Table

            grid = Table(title=f"{self.title} — {elapsed:.0f}s", box=None, header_style="bold", pad_edge=False)
            for column in ("service", "replicas", "state", "health", "since start"):
                grid.add_column(column)
            for row in verdict.rows:
                colour = "green" if row.ok else ("red" if row.health == "unhealthy" else "yellow")
                grid.add_row(row.service, f"{row.ready}/{row.wanted}", row.state,
                             f"[{colour}]{_escape(row.health or '-')}[/{colour}]", f"{elapsed:.0f}s")
            self.live.update(grid)
            return
        for row in verdict.rows:
            key = (row.state, row.health, row.ready)
            if self.seen.get(row.service) != key:
                self.seen[row.service] = key
                info(f"[{elapsed:5.1f}s] {row.service}: {row.ready}/{row.wanted} {row.state} {row.health}".rstrip())


def show_up(result) -> None:
    spec = result.spec
    if result.already_running:
        success(f"stack '{spec.project}' is already up and healthy; nothing to change ({result.elapsed:.1f}s)")
    elif not result.waited:
        success(f"started stack '{spec.project}' without waiting (`afc status` shows its health)")
    else:
        success(f"stack '{spec.project}' is healthy after {result.elapsed:.1f}s")
    info(f"  Airflow UI: {result.url}")
    info(f"  user: {result.admin_user}; password: {result.password_hint}")


def show_status(result, as_json_output: bool) -> None:
    if as_json_output:
        as_json(result.as_dict())
    elif not result.rows or all(r.state == "missing" for r in result.rows):
        info(f"stack '{result.project}' is not running (`afc up` starts it)")
    else:
        table(None, ["SERVICE", "REPLICAS", "STATE", "HEALTH", "PORTS", "UPTIME"], _status_rows(result.rows))


def show_health(report, as_json_output: bool) -> int:
    from .errors import OK, STACK

    if as_json_output:
        as_json(report.as_dict())
    else:
        rows = [["ok" if c.ok else "FAIL", c.component, c.detail] for c in report.checks]
        table(None, ["", "COMPONENT", "DETAIL"], rows)
        (success if report.ok else error)("all components healthy" if report.ok else "some components are not healthy")
    return OK if report.ok else STACK


def confirm_or_refuse(question: str, how_to_confirm: str) -> None:
    """Ask on a terminal; refuse (usage error) when nobody can answer."""
    from .errors import UsageError

    if not sys.stdin.isatty():
        raise UsageError("refusing to delete data without confirmation", hint=how_to_confirm)
    answer = console().input(f"{_escape(question)} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise UsageError("not confirmed; nothing was deleted", hint=how_to_confirm)
