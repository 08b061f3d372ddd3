"""The stack's verbs (up, down, status, logs, health, exec, scale): results as dataclasses, no printing."""
from __future__ import annotations

import datetime as dt
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Callable

from .. import engine
from ..errors import ProjectError, StackError, UsageError
from ..project.files import write_atomically
from ..stack import settings
from ..stack.spec import StackSpec
from . import pull, readiness
from .context import Context, check_scale, require_running, sync_compose_file


def postgres_data_conflict(spec: StackSpec, data: "engine.PostgresData | None") -> ProjectError | None:
    """The refusal when the database volume holds data the Postgres image would not use: another major, or
    the other data layout (postgres 18 moved it). Starting anyway means a crash loop or an empty database."""
    if data is None or data.data_major is None:
        return None
    expected_dir = f"{data.server_major}/docker" if spec.postgres_versioned_layout else ""
    if data.data_major == data.server_major and data.data_dir == expected_dir:
        return None
    where = f"in {data.data_dir}/ of the volume" if data.data_dir else "at the volume's root (postgres up to 17)"
    return ProjectError(
        f"the database volume {data.volume} holds PostgreSQL {data.data_major} data {where}, which "
        f"{spec.postgres_image} (PostgreSQL {data.server_major or '?'}, data "
        f"{'in <major>/docker/' if spec.postgres_versioned_layout else 'at the volume root'}) would not use",
        hint=f"keep the image the data was made with (AFC_POSTGRES_IMAGE=postgres:{data.data_major} in .env, "
             f"or the one you used), or move the data: put the old image back, `afc backup`, "
             f"`afc down --volumes --yes`, set the new AFC_POSTGRES_IMAGE, `afc up`, `afc restore FILE --yes`")


def check_postgres_data(ctx: Context, containers: list[engine.ContainerState]) -> None:
    """Refuse before compose (re)creates Postgres on a volume its image cannot use; skipped when the running
    container already is of the project's image."""
    if any(c.service == "postgres" and c.image == ctx.spec.postgres_image for c in containers):
        return
    conflict = postgres_data_conflict(ctx.spec, ctx.stack.postgres_data(ctx.spec.postgres_image))
    if conflict:
        raise conflict


# --- the compose project as readiness sees it ------------------------------------------------------------

class ComposeBackend:
    """The compose project for the wait loop and the failure report (readiness.Backend); `only` judges those
    services alone (the others are stopped on purpose)."""

    def __init__(self, ctx: Context, only: tuple[str, ...] = ()):
        self.ctx = ctx
        self.only = only
        self.seen: list[engine.ContainerState] | None = None  # the snapshot last judged
        self.start_checks = readiness.StartChecks(ctx.stack.passes_health_check)

    def _containers(self) -> list[engine.ContainerState]:
        found = [c for c in self.ctx.snapshot() if not self.only or c.service in self.only]
        return self.start_checks.apply(found)

    def verdict(self, wanted: dict[str, int]) -> readiness.Verdict:
        self.seen = self._containers()
        return readiness.judge(self.seen, wanted, readiness.utcnow())

    def log_lines(self, service: str) -> list[str]:
        try:
            return self.ctx.stack.logs_text(service, tail=25).rstrip().splitlines()[-25:]
        except Exception as error:  # the logs are a courtesy; the failure is what matters
            return [f"(no logs: {error})"]

    def health_output(self, service: str) -> str:
        if self.seen is None:
            self.seen = self._containers()
        container = next((c for c in self.seen if c.service == service), None)
        if container and container.health_log and container.health != "healthy":
            return container.health_log[-1]
        return ""

    def not_ready(self, timeout: float) -> str:
        return f"the stack was not healthy after {timeout:.0f} s"

    def failed(self) -> str:
        return "the stack failed to start"

    def failure_hint(self, failing: list[str], message: str) -> str:
        return (f"the containers are left for inspection: `afc logs {failing[0]}`, `afc status`; fix the cause and "
                f"run `afc up` again")


# --- up --------------------------------------------------------------------------------------------------

@dataclass
class UpResult:
    spec: StackSpec
    elapsed: float
    rerendered: bool
    already_running: bool
    waited: bool
    url: str
    admin_user: str
    password_hint: str
    history: list = field(default_factory=list)
    pulled: pull.PullSummary | None = None   # images pulled before the stack started (not in `elapsed`)


def start_checked(ctx: Context, containers: list[engine.ContainerState]) -> list[engine.ContainerState]:
    """The containers, a starting one healthy once its own check passes now (readiness.StartChecks): one look."""
    return readiness.StartChecks(ctx.stack.passes_health_check).apply(containers, wait=True)


def _stack_current(ctx: Context, containers: list[engine.ContainerState], wanted: dict[str, int]) -> bool:
    """Every wanted service ready and created from the current compose files: nothing for compose to do."""
    verdict = readiness.judge(start_checked(ctx, containers), wanted)
    if not verdict.ready:
        return False
    hashes = ctx.stack.config_hashes()
    return all(hashes.get(c.service) == c.config_hash for c in containers if c.service in wanted)


def up(ctx: Context, services: list[str] | None, *, wait: bool, timeout: float,
       on_update: Callable[[readiness.Verdict, float], None],
       on_pull: Callable[[engine.PullProgress], None] = lambda event: None) -> UpResult:
    began = time.monotonic()
    services = ctx.check_services(services)
    rerendered = sync_compose_file(ctx)
    before = ctx.snapshot()
    from .doctor import ensure_startable

    ensure_startable(ctx, before)  # engine, compose, ports, emulation: stop before starting anything
    wanted = ctx.wanted(ctx.spec.with_dependencies(services) if services else None)
    # missing images next (the database check runs the Postgres image): the start and its timeout begin
    # once they are here
    pulled = pull.pull_missing(pull.stack_images(ctx.spec, list(wanted)), on_pull)
    began += pulled.seconds
    if not ctx.spec.lite:
        check_postgres_data(ctx, before)  # every Airflow service needs Postgres
    result = UpResult(ctx.spec, 0.0, rerendered, False, wait, ctx.spec.url, ctx.spec.admin_user,
                      f"_AIRFLOW_WWW_USER_PASSWORD in {ctx.project.env_path}", pulled=pulled)
    if not rerendered and _stack_current(ctx, before, wanted):
        result.already_running = True
        result.elapsed = time.monotonic() - began
        return result
    if any(c.service == "init" and c.state == "exited" and c.exit_code != 0 for c in before):
        ctx.stack.remove(["init"])  # a failed or interrupted init of an earlier `up` must not fail this one
    errors: list[str] = []

    def compose_up() -> None:
        try:
            ctx.stack.up(services)
        except Exception as error:  # reported by the wait loop below
            errors.append(getattr(error, "details", "") or getattr(error, "message", str(error)))

    worker = threading.Thread(target=compose_up, daemon=True)
    worker.start()
    if not wait:
        worker.join()
        if errors:
            raise StackError("docker compose could not start the stack", hint="see the message above; "
                             "`afc logs` shows the services' output", details=errors[0])
        result.elapsed = time.monotonic() - began
        return result
    backend = ComposeBackend(ctx)
    outcome = readiness.wait(backend, wanted, timeout, on_update=on_update,
                             start_error=lambda: errors[0] if errors else "", starting=worker.is_alive)
    result.history = outcome.history
    if not outcome.ok:
        raise readiness.failure_report(backend, outcome, timeout)
    result.elapsed = time.monotonic() - began
    return result


# --- status and health -----------------------------------------------------------------------------------

def status(ctx: Context) -> readiness.StatusResult:
    containers = start_checked(ctx, ctx.snapshot())
    verdict = readiness.judge(containers, ctx.wanted(), readiness.utcnow())
    return readiness.StatusResult(ctx.spec.project, with_restart_reasons(ctx, verdict.rows, containers),
                                  verdict.ready)


def with_restart_reasons(ctx: Context, rows: tuple[readiness.ServiceRow, ...],
                         containers: list[engine.ContainerState]) -> tuple[readiness.ServiceRow, ...]:
    """The rows, each service that was restarted with the reason of its latest restart."""
    import dataclasses

    out = []
    never = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    for row in rows:
        restarted = [c for c in containers if c.service == row.service and c.restarts]
        if restarted:
            latest = max(restarted, key=lambda c: c.started_at or never)
            row = dataclasses.replace(row, restart_reason=ctx.stack.restart_reason(latest))
        out.append(row)
    return tuple(out)


@dataclass(frozen=True)
class Check:
    component: str
    ok: bool
    detail: str


@dataclass
class HealthReport:
    checks: list[Check]
    warnings: list[Check] = field(default_factory=list)   # worth knowing, not a failed component

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def as_dict(self) -> dict:
        return {"healthy": self.ok, "checks": [vars(c) for c in self.checks],
                "warnings": [vars(c) for c in self.warnings]}


def health_endpoint(spec: StackSpec) -> str:
    host = "127.0.0.1" if spec.host in ("0.0.0.0", "127.0.0.1") else spec.host
    from ..stack.render import health_path

    return f"http://{host}:{spec.port}{health_path(spec)}"


def deep_health(ctx: Context) -> HealthReport:
    """Container health, the web component's view of Airflow, and a Celery ping of every worker."""
    st = status(ctx)
    checks = [Check(f"container {r.service}", r.ok, f"{r.ready}/{r.wanted} ready, {r.state} {r.health}".strip()
                    + (f"; restarted {r.restarts}x, last: {r.restart_reason}" if r.restarts else ""))
              for r in st.rows]
    checks += _endpoint_checks(ctx.spec)
    if ctx.spec.celery:
        checks.append(_celery_ping(ctx))
    return HealthReport(checks)


def _endpoint_checks(spec: StackSpec) -> list[Check]:
    url = health_endpoint(spec)
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.loads(response.read().decode())
    except (urllib.error.URLError, OSError, ValueError) as error:
        return [Check(spec.web_service, False, f"{url}: {getattr(error, 'reason', error)}")]
    checks = [Check(spec.web_service, True, f"{url} answered")]
    from ..stack.render import health_components

    for name in health_components(spec):
        part = body.get(name) or {}
        state = part.get("status")
        beat = next((v for k, v in part.items() if k.startswith("latest") and v), "")
        checks.append(Check(f"airflow {name}", state == "healthy", f"{state or 'unknown'}"
                                                                    + (f", last heartbeat {beat}" if beat else "")))
    return checks


def _celery_ping(ctx: Context) -> Check:
    code, output = ctx.stack.exec_capture("worker", ["bash", "-c", 'celery --broker "$AIRFLOW__CELERY__BROKER_URL" '
                                                     'inspect ping --timeout 5'])
    answered = output.count(": OK")
    wanted = ctx.spec.workers
    return Check("celery workers", code == 0 and answered >= wanted,
                 f"{answered}/{wanted} worker(s) answered the ping" + ("" if code == 0 else f": {output[-200:]}"))


# --- other verbs -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DownResult:
    volumes: tuple[str, ...]   # named volumes deleted (only with --volumes)
    images: tuple[str, ...]    # images afc built for the project, removed (only with --volumes)


def down(ctx: Context, volumes: bool) -> DownResult:
    """Remove the stack (and its anonymous volumes); with `volumes` also its named volumes and the images afc
    built for the project, so that nothing of the project is left on the engine."""
    names = ctx.stack.volume_names() if volumes else []
    ctx.stack.down(volumes=volumes)
    images: list[str] = []
    if volumes:
        from .build import repository

        images = engine.remove_image_tags([i.reference for i in engine.repository_images(repository(ctx.spec.project))])
    return DownResult(tuple(names), tuple(images))


def scale_workers(ctx: Context, count: int, timeout: float,
                  on_update: Callable[[readiness.Verdict, float], None]) -> UpResult:
    check_scale("workers", count, "scale", ctx.spec)
    values = ctx.project.file_values()
    values["AFC_WORKERS"] = str(count)
    write_atomically(ctx.project.env_path, settings.format_env(values), mode=0o600)
    fresh = ctx.reloaded()
    sync_compose_file(fresh)
    began = time.monotonic()
    fresh.stack.up(["worker"], scales={"worker": count}, no_deps=True)
    backend = ComposeBackend(fresh)
    outcome = readiness.wait(backend, {"worker": count}, timeout, on_update=on_update)
    if not outcome.ok:
        raise readiness.failure_report(backend, outcome, timeout)
    return UpResult(fresh.spec, time.monotonic() - began, True, False, True, fresh.spec.url, fresh.spec.admin_user, "")


def logs(ctx: Context, services: list[str] | None, *, follow: bool, tail: int | None, since: str | None,
         timestamps: bool) -> int:
    """`docker compose logs` for the named services; Ctrl-C ends it and leaves no process behind."""
    import os
    import sys

    services = ctx.check_services(services)
    args = ["logs"]
    if follow:
        args.append("--follow")
    if tail is not None:
        if tail < 0:
            raise UsageError(f"--tail {tail} is negative", hint="give a number of lines, e.g. --tail 50")
        args += ["--tail", str(tail)]
    if since:
        args += ["--since", since]
    if timestamps:
        args.append("--timestamps")
    if not sys.stdout.isatty() or os.environ.get("NO_COLOR"):
        args.append("--no-color")
    if len(services) == 1 and services[0] != "worker":
        args.append("--no-log-prefix")
    return engine.run_child(ctx.stack.compose_command(*args, *services), own_group=follow)[0]


def exec_in(ctx: Context, service: str, command: list[str]) -> int:
    """Run a command in a service's container, attached; its exit code is returned unchanged."""
    import sys

    ctx.check_services([service])
    require_running(ctx, service)
    flags = [] if sys.stdin.isatty() and sys.stdout.isatty() else ["-T"]
    return engine.run_child(ctx.stack.compose_command("exec", *flags, service, *command))[0]
