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
    from .project.folder import IGNORED, SHOWN_ENTRIES

    for note in result.warnings:
        warn(note)
    spec = result.spec
    found = result.survey
    if found is not None and found.entries:
        more = len(found.entries) - SHOWN_ENTRIES
        shown = ", ".join(found.entries[:SHOWN_ENTRIES]) + (f" and {more} more" if more > 0 else "")
        info(f"found in {result.root}: {shown}")
    if found is not None and found.git_root is not None:
        info(f"found a git repository at {found.git_root}")
    verb = "re-rendered" if not result.created or ".env" not in result.created else "created"
    success(f"{verb} project '{spec.project}' in {result.root}")
    added = [name for name in result.created if name != str(result.root)]
    if added:
        info(f"  added: {', '.join(name + ('/' if (result.root / name).is_dir() else '') for name in added)}")
    if result.ignored:
        info(f"  .gitignore: added {', '.join(result.ignored)} (secrets and logs stay out of git)")
    elif found is not None and found.git_root is not None:
        info(f"  .gitignore already ignores {', '.join(IGNORED)}")
    executor = (f"lite: one container on SQLite, {spec.airflow_executor}" if spec.lite else
                f"{spec.executor} executor" + (f", {spec.workers} worker(s)" if spec.celery else ""))
    info(f"  Airflow {spec.tag.version} (Python {spec.tag.python}) from {spec.image.text}, {executor}, "
         f"linux/{spec.arch}")
    info(f"  services: {', '.join(spec.compose_services)}")
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
             _uptime(r.uptime), str(r.restarts) if r.restarts else "-"] for r in rows]


class PullView:
    """Image pulls: a progress bar per image (layers in place / layers) on a terminal, one line per image
    elsewhere. Standalone it runs its own live display while pulls are under way; LiveStatus embeds it."""

    def __init__(self, embedded: bool = False):
        self.embedded = embedded
        self.progress = None
        self.live = None
        self.tasks: dict[str, Any] = {}
        self.began: dict[str, float] = {}
        self.ended: set[str] = set()

    def __enter__(self) -> "PullView":
        return self

    def __exit__(self, *exc) -> None:
        self._stop()

    def update(self, event) -> None:
        import time

        self.began.setdefault(event.reference, time.monotonic())
        if event.finished:
            if event.reference in self.ended:
                return
            self.ended.add(event.reference)
        if interactive():
            self._bar(event)
        elif event.finished:
            seconds = time.monotonic() - self.began[event.reference]
            if event.error:
                info(f"could not pull {event.reference}: {event.error}")
            else:
                info(f"pulled {event.reference} ({event.layers} layers) in {seconds:.1f}s")

    def _bar(self, event) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        if self.progress is None:
            self.progress = Progress(TextColumn("pulling {task.fields[reference]}"), BarColumn(),
                                     TextColumn("{task.completed:.0f}/{task.total:.0f} layers"),
                                     TextColumn("{task.fields[status]}"), TimeElapsedColumn(), console=console())
            if not self.embedded:
                from rich.live import Live

                self.live = Live(self.progress, console=console(), refresh_per_second=4, transient=False)
                self.live.__enter__()
        if event.reference not in self.tasks:
            self.tasks[event.reference] = self.progress.add_task("", reference=event.reference, status="", total=1)
        status = f"[red]{_escape(event.error)}[/red]" if event.error else \
            "[green]pulled[/green]" if event.finished else _escape(event.status)
        self.progress.update(self.tasks[event.reference], completed=event.done, total=max(event.layers, 1),
                             status=status)
        if event.finished:
            self.progress.stop_task(self.tasks[event.reference])
        if self.live is not None and len(self.ended) == len(self.tasks):
            self._stop()  # every pull ended: what comes next prints below the bars

    def _stop(self) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)
            self.live = None


class LiveStatus:
    """The view while waiting: a live table on a terminal, one plain line per change elsewhere; image pulls
    before it (`pull`) as a PullView above the table."""

    def __init__(self, title: str):
        self.title = title
        self.live = None
        self.seen: dict[str, tuple] = {}
        self.pulls = PullView(embedded=True)

    def pull(self, event) -> None:
        self.pulls.update(event)
        if self.live is not None and self.pulls.progress is not None:
            self.live.update(self.pulls.progress)

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
            if self.pulls.progress is not None:
                from rich.console import Group

                self.live.update(Group(self.pulls.progress, grid))
            else:
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
        pulled = result.pulled.pulled if result.pulled else ()
        success(f"stack '{spec.project}' is healthy after {result.elapsed:.1f}s" +
                (f" (after pulling {len(pulled)} image(s) in {result.pulled.seconds:.1f}s)" if pulled else ""))
    info(f"  Airflow UI: {result.url}")
    info(f"  user: {result.admin_user}; password: {result.password_hint}")


def show_status(result, as_json_output: bool, stderr: bool = False) -> None:
    """`afc status` and `afc swarm status` (on Swarm the last column counts the failed tasks the swarm still
    remembers). The table is data on stdout; after a deploy it is part of the report, on stderr."""
    if as_json_output:
        as_json(result.as_dict())
    elif result.swarm and not result.deployed:
        info(f"swarm stack '{result.stack}' is not deployed (`afc swarm deploy` deploys it)")
    elif not result.rows or all(r.state == "missing" for r in result.rows):
        info(f"stack '{result.project}' is not running (`afc up` starts it)")
    else:
        table(None, ["SERVICE", "REPLICAS", "STATE", "HEALTH", "PORTS", "UPTIME",
                     "FAILED TASKS" if result.swarm else "RESTARTS"], _status_rows(result.rows), stderr=stderr)
        for r in result.rows:
            if r.restart_reason:
                info(f"  {r.service}, last restart: {r.restart_reason}")


def show_health(report, as_json_output: bool) -> int:
    from .errors import OK, STACK

    if as_json_output:
        as_json(report.as_dict())
    else:
        rows = [["ok" if c.ok else "FAIL", c.component, c.detail] for c in report.checks]
        rows += [["warn", c.component, c.detail] for c in report.warnings]
        table(None, ["", "COMPONENT", "DETAIL"], rows)
        (success if report.ok else error)("all components healthy" if report.ok else "some components are not healthy")
        if report.warnings:
            warn(f"{len(report.warnings)} warning(s): `afc dags` lists the DAGs and their import errors")
    return OK if report.ok else STACK


def confirm(question: str, how_to_confirm: str, refused: str = "delete data", undone: str = "nothing was deleted") -> None:
    """Ask on a terminal; without one (or on 'no') refuse with a usage error saying how to confirm."""
    from .errors import UsageError

    if not sys.stdin.isatty():
        raise UsageError(f"refusing to {refused} without confirmation", hint=how_to_confirm)
    answer = console().input(f"{_escape(question)} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise UsageError(f"not confirmed; {undone}", hint=how_to_confirm)


# --- afc images / afc upgrade ------------------------------------------------------------------------------

def _size(size: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return str(size)


def show_tag(report, as_json_output: bool) -> None:
    """`afc images TAG`: the tag's facts on stdout (data), advice as warnings."""
    if as_json_output:
        as_json(report.as_dict())
        return
    python = f"{report.python} ({'pinned' if report.python_pinned else 'not pinned'}"
    python += ", the line's default)" if report.python_is_line_default else ")"
    lines = [
        f"image:       {report.repository}:{report.tag}",
        f"airflow:     {report.airflow_version} (web component: {report.web_component})",
        f"python:      {python}; published for {', '.join(report.line_pythons)}",
        f"variant:     {report.variant}",
        f"providers:   {', '.join(report.providers) if report.providers else 'none (slim images carry no extras)'}",
        f"platforms:   {', '.join(report.platforms)}",
        f"stack:       {report.executor} executor needs {', '.join(report.needed_providers)}: "
        + ("suits" if report.suits_stack else f"does NOT suit: {report.reason}"),
    ]
    if report.fix:
        lines.append(f"fix:         {report.fix}")
    lines.append("other tags of this release:")
    lines += [f"  {variant}" for variant in report.other_variants]
    data("\n".join(lines))
    for note in report.notes:
        warn(note)


def show_project_images(result, as_json_output: bool) -> None:
    """`afc images` in a project: the images it uses as the local engine holds them."""
    if as_json_output:
        as_json(result.as_dict())
        return
    rows = []
    for image in result.images:
        if image.present:
            created = image.created.strftime("%Y-%m-%d %H:%M") if image.created else "-"
            rows.append([image.role, image.reference, image.id.split(":")[-1][:12], _size(image.size), created,
                         image.platform])
        else:
            rows.append([image.role, image.reference, "not present locally", "-", "-", "-"])
    header = ["ROLE", "IMAGE", "ID", "SIZE", "CREATED", "PLATFORM"]
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
    data("\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
                   for row in [header] + rows))
    tag = result.tag
    info(f"Airflow {tag.airflow_version}, Python {tag.python}, {tag.variant} image")
    for image in result.images:
        if image.note:
            warn(f"{image.role} image {image.reference}: {image.note}")
    for note in tag.notes:
        warn(note)


def show_upgrade_plan(plan) -> None:
    info(f"upgrade '{plan.project}': {plan.current.text} → {plan.target.text}")
    for note in plan.notes:
        info(f"  {note}")


def show_upgrade(result) -> None:
    plan = result.plan
    success(f"'{plan.project}' upgraded to Airflow {plan.target_tag.version} ({plan.target.text}); healthy after "
            f"{result.total:.1f}s")
    info(f"  backup of the metadata database: {result.backup}")
    timings = ", ".join(f"{step} {seconds:.1f}s" for step, seconds in result.timings.items())
    info(f"  timings: {timings}")
    info(f"  services: {', '.join(plan.services_after)}")
    info(f"  Airflow UI: {result.up.url}")


def show_export(result) -> None:
    """`afc export helm`: where the files went, the private-file warning and the next commands (no values)."""
    for warning in result.warnings:
        warn(warning)
    success(f"wrote {result.values_path} (Helm values: secret references only)")
    success(f"wrote {result.secrets_path} (mode 0600; Secrets: {', '.join(result.secret_names)})")
    warn(f"{result.secrets_path} holds your secrets in clear text: keep it out of version control "
         f"(add it to .gitignore) and delete it once applied")
    folder = result.directory
    info("next, with kubectl pointing at your cluster and namespace:")
    info("  helm repo add apache-airflow https://airflow.apache.org")
    info(f"  kubectl apply -f {folder / 'secrets.yaml'}")
    info(f"  helm install {result.release} apache-airflow/airflow -f {folder / 'values.yaml'}")
    info("DAGs are not copied: bake them into the image, or set dags.gitSync / dags.persistence in values.yaml")


# --- afc build ---------------------------------------------------------------------------------------------

def build_line(line: str) -> None:
    """One line of the builder's progress (steps, pip, apt), dimmed so afc's own lines stand out."""
    console().print(f"  {_escape(line)}", style="dim", highlight=False)


def show_build_plan(plan) -> None:
    parts = [f"base {plan.base.text} (Airflow {plan.tag.version})"]
    if plan.packages:
        parts.append(f"apt: {' '.join(plan.packages)}")
    if plan.extras:
        auto = f" ({', '.join(plan.auto_extras)} for the slim base)" if plan.auto_extras else ""
        parts.append(f"extras: {','.join(plan.extras)}{auto}")
    if plan.requirements:
        parts.append("requirements.txt")
    if plan.constraints:
        parts.append(f"constraints: {plan.constraints}")
    elif plan.image_constraints:
        parts.append("constraints: the base image's own (/home/airflow/constraints.txt)")
    if plan.offline:
        parts.append(f"offline from wheels/ ({len(plan.wheels)} files)")
    if plan.bake_dags:
        parts.append("DAGs and plugins baked in")
    info("building: " + "; ".join(parts))


def show_down(project: str, result) -> None:
    success(f"stack '{project}' removed" + (f"; deleted volumes: {', '.join(result.volumes)}" if result.volumes
                                            else "; the database volume is kept"))
    if result.images:
        info(f"  removed the images afc built: {', '.join(result.images)}")


def show_build(result) -> None:
    verb = f"built in {result.seconds:.1f}s" if result.built else "unchanged inputs: reused the existing image"
    success(f"{result.image} ({verb})")
    info(f"  Dockerfile: {result.dockerfile}")
    if result.switched and result.previous != result.image:
        info(f"  .env: AIRFLOW_IMAGE_NAME {result.previous} → {result.image}; run `afc up` to use it")
    elif result.switched:
        info("  the project already uses this image")
    if result.pruned:
        info(f"  removed superseded images (the current and the previous one are kept): {', '.join(result.pruned)}")


# --- backup and restore -----------------------------------------------------------------------------------


def show_backup(result) -> None:
    success(f"backed up the database of '{result.project}' ({result.database}) in {result.elapsed:.1f}s")
    info(f"  {result.path} ({_size(result.size)}, mode 0600: it holds connections and variables)")
    info(f"  restore it with: afc restore {result.path}")


def show_restore(result) -> None:
    for note in result.notes:
        info(f"  {note}")
    stopped = f"; stopped and started again: {', '.join(result.stopped)}" if result.stopped else ""
    success(f"restored the database of '{result.project}' from {result.path} ({_size(result.size)}) in "
            f"{result.restore_seconds:.1f}s{stopped}")
    if result.up is not None:
        show_up(result.up)


def show_doctor(report, as_json_output: bool) -> int:
    """`afc doctor`: one line per check (status, name, finding) and its fix; returns the exit code."""
    if as_json_output:
        as_json(report.as_dict())
        return report.exit_code
    colours = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}
    out = console(stderr=False)
    width = max(len(r.name) for r in report.results)
    for result in report.results:
        colour = colours.get(result.status, "")
        label = f"{result.status.upper() if result.status != 'ok' else 'ok':<4}"
        out.print(f"[{colour}]{label}[/{colour}] {result.name:<{width}}  {_escape(result.finding)}")
        if result.fix and result.status in ("warn", "fail"):
            out.print(f"     {'':<{width}}  [cyan]fix:[/cyan] {_escape(result.fix)}")
    if not report.inside_project:
        info(f"outside a project ({report.location}): project checks (ports, arch, airflow-uid, project-files, "
             f"images) skipped; run `afc doctor` in a project folder or pass -C DIR")
    summary = f"{report.count('ok')} ok, {report.count('warn')} warning(s), {report.count('fail')} failure(s)"
    if report.count("skip"):
        summary += f", {report.count('skip')} skipped"
    if report.failed:
        error(f"doctor found problems: {summary}", "apply the fix: lines above, then run `afc doctor` again")
    else:
        success(f"ready: {summary}")
    return report.exit_code


# --- swarm ---------------------------------------------------------------------------------------------------


class SwarmLive(LiveStatus):
    """The live view of `afc swarm deploy|scale`: the status table of the current phase, phase headings, and the
    image build's output (dimmed)."""

    def phase(self, text: str) -> None:
        self.title = text
        if self.live is None:
            info(text)

    def output(self, line: str) -> None:
        console().print(f"  {line}", markup=False, style="dim")


def show_swarm_deploy(result) -> None:
    for note in result.warnings:
        warn(note)
    success(f"swarm stack '{result.stack}' is healthy after {result.elapsed:.1f}s")
    phases = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in result.phases.items())
    info(f"  phases: {phases}")
    origin = ("built with the DAGs baked in" if result.built else "reused: DAGs unchanged") \
        if "build" in result.phases else "given with --image"
    info(f"  image: {result.image} ({origin})")
    info(f"  Airflow UI: {result.url} (port published on the node running {result.spec.web_service})")
    info(f"  user: {result.admin_user}; password: {result.password_hint}")
    if result.secrets_created:
        info(f"  Docker secrets created: {', '.join(result.secrets_created)}")
    if result.secrets_removed:
        info(f"  replaced Docker secrets removed: {', '.join(result.secrets_removed)}")
    show_status(result.status, False, stderr=True)


def show_swarm_build(result, stack: str) -> None:
    """`afc swarm build`: the image, and how a multi-node swarm gets it (the tag on stdout, as data)."""
    success(f"{'built' if result.built else 'reused (DAGs unchanged)'} {result.image} with the project's DAGs "
            f"and plugins baked in")
    info("  for a swarm of several nodes, push it where every node can pull from, then deploy it:")
    info(f"    docker tag {result.image} REGISTRY/REPOSITORY:TAG && docker push REGISTRY/REPOSITORY:TAG")
    info("    afc swarm deploy --image REGISTRY/REPOSITORY:TAG [--with-registry-auth]")
    if result.pruned:
        info(f"  removed superseded images (the current and the previous one are kept): {', '.join(result.pruned)}")
    data(result.image)


def show_swarm_scale(result) -> None:
    success(f"{result.replicas} worker(s) of '{result.stack}' running and healthy after {result.elapsed:.1f}s")
    if result.replicas != result.configured:
        info(f"  not saved: .env has AFC_WORKERS={result.configured}, which the next `afc swarm deploy` applies "
             f"again (set AFC_WORKERS={result.replicas} there to keep this)")


def show_swarm_rm(result) -> None:
    if not result.deployed:
        info(f"swarm stack '{result.stack}' is not deployed; nothing to remove")
        return
    removed = f"{len(result.services)} service(s)" if result.services else "no services"
    success(f"swarm stack '{result.stack}' removed ({removed}) in {result.elapsed:.1f}s")
    if result.secrets:
        info(f"  Docker secrets removed: {', '.join(result.secrets)}")
    if result.volumes:
        info(f"  volumes deleted: {', '.join(result.volumes)}")
    if result.kept_volumes:
        info(f"  volumes kept (the database): {', '.join(result.kept_volumes)}; `afc swarm rm --volumes --yes` "
             f"deletes them")


# --- the DAG author's loop ------------------------------------------------------------------------------------

def _problem_rows(problems) -> list[list[str]]:
    return [[p.location, p.error] for p in problems]


def show_import_problems(problems) -> None:
    """The end of `afc up`: the DAG files that fail to import, one line each (nothing when all import)."""
    if not problems:
        return
    warn(f"{len(problems)} DAG file(s) failed to import; their DAGs are not in Airflow:")
    table(None, ["FILE", "ERROR"], _problem_rows(problems), stderr=True)
    info("  `afc dags check FILE` shows the whole traceback; fix the file and check again")


def show_dags(report, as_json_output: bool) -> int:
    """`afc dags`: the DAGs on stdout, the import errors after them; exit 1 when a file fails to import."""
    if as_json_output:
        as_json(report.as_dict())
    else:
        if report.dags:
            table(None, ["DAG", "FILE", "PAUSED", "LAST RUN"],
                  [[d.dag_id, d.file, "yes" if d.paused else "no", d.last_run or "-"] for d in report.dags])
        else:
            info(f"no DAGs in '{report.project}' yet (the DAG processor reads dags/ every few seconds)")
        if report.problems:
            warn(f"{len(report.problems)} DAG file(s) failed to import:")
            table(None, ["FILE", "ERROR"], _problem_rows(report.problems), stderr=True)
    return 1 if report.problems else 0


def show_dags_check(report, as_json_output: bool) -> int:
    """`afc dags check`: each failing file with its traceback, then the verdict; exit 1 when any fails."""
    if as_json_output:
        as_json(report.as_dict())
        return 0 if report.ok else 1
    for problem in report.problems:
        error(f"{problem.location}: {problem.error}")
        for line in problem.trace.strip().splitlines()[-12:]:
            console().print(f"  {_escape(line)}", style="dim")
    if report.dags:
        table(None, ["DAG", "FILE", "TASKS"], [[d.dag_id, d.file, str(d.tasks)] for d in report.dags])
    files = len(report.files)
    summary = f"{files} file(s), {len(report.dags)} DAG(s) in {report.elapsed:.1f}s ({report.where})"
    if report.ok:
        success(f"every DAG file imports: {summary}")
        return 0
    error(f"{len(report.problems)} of {files} file(s) failed to import: {summary}")
    return 1


def task_line(line: str) -> None:
    """A line of `afc test`'s output (task logs), passed through unchanged."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def show_test(result) -> int:
    """`afc test`: the run's tasks and its verdict; exit 0 only when the run succeeded."""
    if result.tasks:
        grid_rows = [[t.task_id + (f"[{t.map_index}]" if t.map_index >= 0 else ""), t.state, str(t.try_number)]
                     for t in result.tasks]
        table(None, ["TASK", "STATE", "TRIES"], grid_rows, stderr=True)
    if result.ok:
        success(f"DAG {result.dag_id} run {result.run_id} succeeded in {result.elapsed:.1f}s")
        return 0
    failed = [t.task_id for t in result.tasks if t.state in ("failed", "upstream_failed")]
    what = f"run {result.run_id} {result.state or 'did not finish'}" if result.run_id else "did not run"
    detail = f": failed task(s): {', '.join(failed)}" if failed else (f": {result.failure}" if result.failure else "")
    error(f"DAG {result.dag_id} {what} after {result.elapsed:.1f}s{detail}",
          "the task logs above say why; fix the DAG and run `afc test` again" if result.run_id else
          "check the DAG id (`afc dags` lists them) and its file (`afc dags check`)")
    return 1


def show_settings_apply(result) -> None:
    parts = [f"{len(result.created)} created", f"{len(result.updated)} updated", f"{len(result.unchanged)} unchanged"]
    success(f"airflow_settings.yaml applied: {', '.join(parts)}")
    for label in result.created:
        info(f"  + {label}")
    for label in result.updated:
        info(f"  ~ {label}")
    if result.gitignored:
        info("  added airflow_settings.yaml to .gitignore (it holds secrets)")


def show_settings_export(result) -> None:
    counts = f"{result.connections} connection(s), {result.pools} pool(s), {result.variables} variable(s)"
    if result.path is None:
        data(result.text)
        info(f"{counts}" + ("" if result.show_secrets else "; secrets left out (--show-secrets includes them)"))
        return
    success(f"wrote {result.path} (mode 0600): {counts}" +
            ("" if result.show_secrets else "; secrets left out (--show-secrets includes them)"))
    if result.gitignored:
        info(f"  added {result.path.name} to .gitignore (it holds secrets)")


def show_stacks(rows, as_json_output: bool) -> None:
    """`afc ls`: every afc stack on the engine (data on stdout)."""
    if as_json_output:
        as_json([row.as_dict() for row in rows])
    elif not rows:
        info("no afc stacks on this Docker engine")
    else:
        table(None, ["PROJECT", "FOLDER", "AIRFLOW", "STATE", "HEALTH", "URL"],
              [[r.project, r.folder or "-", r.version, r.state, r.health, r.url] for r in rows])


def show_audit(result, as_json_output: bool) -> int:
    """`afc audit`: each finding with its remedy, what was compared, the base system as facts; the exit code."""
    if as_json_output:
        as_json(result.as_dict())
        return result.exit_code
    out = console(stderr=False)
    out.print(f"{result.image}: Airflow {result.airflow_version}, {result.packages} Python packages, "
              f"{result.audited} audited against {result.service}", markup=False)
    for release in result.releases:
        known = "constraints from " + release.source if release.pins is not None else release.source
        out.print(f"  compared with Airflow {release.version}: {known}", markup=False)
    if not result.releases:
        out.print("  no newer Airflow release to compare with", markup=False)
    if result.findings:
        rows = [[f.package, f.version, f.vuln_id + (f" ({', '.join(a for a in f.aliases if a.startswith('CVE'))})"
                                                     if any(a.startswith("CVE") for a in f.aliases) else ""),
                 ", ".join(f.fix_versions) or "-", f.remedy] for f in result.findings]
        table(None, ["PACKAGE", "VERSION", "VULNERABILITY", "FIXED IN", "REMEDY"], rows)
        for finding in result.findings:
            out.print(f"- {finding.package} {finding.version} {finding.vuln_id}: {finding.advice}", markup=False)
    else:
        out.print("no known vulnerabilities in the audited Python packages", markup=False)
    for name, reason in result.skipped:
        out.print(f"  not audited: {name}: {reason}", markup=False)
    if result.not_pinned:
        out.print(f"  not audited (no name==version): {', '.join(result.not_pinned)}", markup=False)
    system = result.system
    out.print(f"base system: {system.base}, {len(system.debian_packages)} Debian packages (listed with --json; "
              f"not checked for vulnerabilities: pip-audit reads Python packages only)", markup=False)
    for note in result.notes:
        out.print(f"note: {note}", markup=False)
    failing = result.failing
    if failing:
        warn(f"{len(failing)} finding(s) remain (--fail-on {result.fail_on})")
    return result.exit_code
