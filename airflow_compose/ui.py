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
