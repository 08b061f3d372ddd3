"""What every compose stack command starts from, resolved once and handed down: the project, the engine's facts
(one `docker version`, asked when the spec is built), the spec, and the client of the stack; with the checks of
a command's service and scale arguments, and keeping compose.yaml in step with `.env`."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import engine
from ..errors import ProjectError, StackError, UsageError
from ..project import identity
from ..project.files import Project, find_project, write_atomically
from ..stack.spec import StackSpec

MAX_WORKERS = 64


@dataclass
class Context:
    """A project with its spec, the engine probe that answered for it, and a client for its stack."""

    project: Project
    spec: StackSpec
    stack: engine.Stack
    probe: engine.Probe = field(repr=False)

    @classmethod
    def load(cls, project_dir: Path, render_missing: bool = False, probe: engine.Probe | None = None) -> "Context":
        """The project's context; a deleted compose.yaml is rendered again (`render_missing`, for the commands
        that start the stack) or named with the fix, instead of compose's own error. Refused (exit 3) when the
        engine's stack under the project's name was started from another folder: every stack command starts
        here, before it acts. `probe`: the engine's answers a command already has (after rewriting `.env`)."""
        project = find_project(project_dir)
        probe = probe or engine.Probe()
        spec = project.spec(probe.facts)
        identity.ensure_owner(project.root, spec.project)
        ctx = cls(project, spec, engine.Stack(project, spec.project), probe)
        if not project.compose_path.exists():
            if not render_missing:
                raise ProjectError(f"{project.compose_path} is missing (afc renders it from .env)",
                                   hint=f"`afc up` renders it again and starts the stack; `afc config --output "
                                        f"{project.compose_path}` only writes it")
            sync_compose_file(ctx)
        return ctx

    def reloaded(self) -> "Context":
        """The context again after afc rewrote `.env`, with the same engine answers."""
        return Context.load(self.project.root, probe=self.probe)

    def wanted(self, services: list[str] | None = None) -> dict[str, int]:
        return self.spec.replicas([name for name in self.spec.compose_services if not services or name in services])

    def check_services(self, services: list[str] | None, what: str = "service") -> list[str]:
        for name in services or []:
            if name not in self.spec.compose_services:
                raise UsageError(f"unknown {what} '{name}'",
                                 hint=f"choose from: {', '.join(self.spec.compose_services)}")
        return list(services or [])

    def snapshot(self) -> list[engine.ContainerState]:
        return self.stack.containers()


def sync_compose_file(ctx: Context) -> bool:
    """Re-render compose.yaml when `.env` (or afc) changed it; True when it was rewritten."""
    from .initialize import render_text

    text = render_text(ctx.spec, ctx.probe.facts)
    path = ctx.project.compose_path
    if path.exists() and path.read_text() == text:
        return False
    write_atomically(path, text)
    return True


def require_running(ctx: Context, service: str) -> None:
    running = [c for c in ctx.snapshot() if c.service == service and c.state == "running"]
    if not running:
        raise StackError(f"service '{service}' is not running (is the stack up?)",
                         hint="run `afc up` first, then try again")


def check_scale(what: str, count: int, verb: str, spec: StackSpec | None = None) -> None:
    """The one check of `afc scale` and `afc swarm scale` (`verb`): only Celery workers scale, from 1 to MAX_WORKERS;
    with the project's spec, also that it has Celery workers (the arguments are checked before the project)."""
    from .lite import refuse

    if what not in ("workers", "worker"):
        raise UsageError(f"cannot scale '{what}'", hint=f"only Celery workers scale: `afc {verb} workers N`")
    if not 1 <= count <= MAX_WORKERS:
        raise UsageError(f"cannot scale workers to {count}", hint=f"give a number from 1 to {MAX_WORKERS}")
    if spec is None:
        return
    refuse(spec, verb, "its one Airflow container runs every component and the tasks, with no Celery workers "
                          "to scale")
    if not spec.celery:
        raise UsageError("this project uses the LocalExecutor: it has no Celery workers to scale",
                         hint="re-create it with `afc init --force --executor celery` to use workers")
