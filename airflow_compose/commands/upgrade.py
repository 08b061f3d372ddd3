"""`afc upgrade --to TAG`: check the target, back up the metadata DB, switch the image, migrate, wait healthy.

On failure the old image goes back into `.env`, compose.yaml is re-rendered, the stack is stopped, and the
error says where the backup is and how to restore it. Results are dataclasses; nothing here prints.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import StackError, UsageError
from ..project.files import Project, find_project, write_atomically
from ..stack import settings, tags
from ..stack.spec import build_spec, host_facts
from . import readiness
from .context import Context, sync_compose_file

BACKUP_DIR = "backups"


@dataclass(frozen=True)
class UpgradePlan:
    project: str
    root: Path
    current: tags.ImageRef
    target: tags.ImageRef
    current_tag: tags.Tag
    target_tag: tags.Tag
    services_before: tuple[str, ...]
    services_after: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass
class UpgradeResult:
    plan: UpgradePlan
    backup: Path
    up: object                      # lifecycle.UpResult
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.timings.values())


def target_image(current: tags.ImageRef, current_tag: tags.Tag, to: str) -> tags.ImageRef:
    """`--to TAG` keeps the project's repository (a mirror or stand-in stays in use); REPO:TAG replaces it.
    A bare release (`--to 2.11.2`) keeps the Python the project pins, so an upgrade never changes it."""
    to = to.strip()
    if not to:
        raise UsageError("--to is empty", hint="give the tag to upgrade to, e.g. --to " + tags.NEWEST_RELEASE)
    if "/" in to or ":" in to:
        return tags.split_image(to)
    if current_tag.python_pinned and "-python" not in to:
        to += f"-python{current_tag.python}"
    return tags.ImageRef(current.repository, to)


def plan_upgrade(project: Project, to: str) -> UpgradePlan:
    """Every check that needs no Docker: a valid, supported, newer target and the new service set."""
    values = project.values()
    facts = host_facts()
    current_spec = build_spec(values, facts)
    if current_spec.base is not None:
        raise UsageError(
            f"the project runs {current_spec.image.text}, built by `afc build` on {current_spec.base.text}",
            hint="rebuild it on the new release: `afc backup`, set AFC_BASE_IMAGE to the new REPO:TAG in .env, "
                 "`afc build`, then `afc up` (init migrates the database)")
    target = target_image(current_spec.image, current_spec.tag, to)
    target_tag = tags.parse_tag(target.tag)  # unknown Python, version outside the scheme: UsageError
    current_tag = current_spec.tag
    if target_tag.version_tuple < current_tag.version_tuple:
        raise UsageError(
            f"'{target.text}' is Airflow {target_tag.version}, older than the project's {current_tag.version} "
            f"({current_spec.image.text}): afc does not downgrade",
            hint="Airflow's migrations only go forward; to go back, restore a backup taken before the upgrade "
                 "(backups/ in the project) with the old image, or start a new project with `afc init`")
    if target_tag.version_tuple == current_tag.version_tuple:
        other_python = target_tag.python != current_tag.python or target_tag.slim != current_tag.slim
        raise UsageError(
            f"the project already runs Airflow {current_tag.version} ({current_spec.image.text}); "
            f"'{target.text}' is the same release",
            hint=("only the image variant differs: switch it with `afc init --force --tag " + target.tag +
                  "` and `afc up` (no migration needed)") if other_python else
                 f"give a newer release, e.g. --to {tags.NEWEST_RELEASE}-python{current_tag.python}")
    new_values = dict(values, AIRFLOW_IMAGE_NAME=target.text)
    target_spec = build_spec(new_values, facts)  # a slim target is refused here, with the fix
    notes = list(target_tag.warnings())
    if target_tag.major > current_tag.major and not current_spec.lite:
        notes.append(f"Airflow {target_tag.major}: webserver is replaced by api-server + dag-processor; "
                     f"check your DAGs for {target_tag.major}.x changes before relying on the upgrade")
    notes.append("the metadata database is backed up first; init then runs `airflow db migrate`")
    return UpgradePlan(current_spec.project, project.root, current_spec.image, target, current_tag, target_tag,
                       current_spec.services, target_spec.services, tuple(notes))


def plan_for(project_dir: Path, to: str) -> UpgradePlan:
    project = find_project(project_dir)
    if not project.env_path.exists():
        project.file_values()  # raises "not an afc project" with the fix
    return plan_upgrade(project, to)


# --- backup -------------------------------------------------------------------------------------------------

def restore_command(ctx, backup: Path) -> str:
    """How to put the backup back."""
    return f"afc -C {ctx.project.root} restore {backup} --yes"


def backup_database(ctx, label: str) -> Path:
    """`afc backup` of the metadata database into backups/ (one format, restorable by `afc restore`)."""
    from . import backup

    folder = ctx.project.root / BACKUP_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    suffix = ".sqlite" if ctx.spec.lite else ".dump"
    return Path(backup.backup(ctx, folder / f"{ctx.spec.project}-{label}-{stamp}{suffix}").path)


def _ensure_postgres(ctx, timeout: float) -> None:
    """The backup needs Postgres running: start it alone when the stack is down."""
    running = [c for c in ctx.snapshot() if c.service == "postgres" and c.ready]
    if running:
        return
    from .lifecycle import ComposeBackend

    ctx.stack.up(["postgres"], no_deps=True)
    outcome = readiness.wait(ComposeBackend(ctx, only=("postgres",)), {"postgres": 1}, timeout)
    if not outcome.ok:
        raise StackError("Postgres did not become healthy, so the database could not be backed up; nothing "
                         "was changed", hint="see `afc logs postgres`, fix it and run `afc upgrade` again")


# --- the upgrade ------------------------------------------------------------------------------------------

def run_upgrade(plan: UpgradePlan, timeout: float, on_update: Callable,
                on_pull: Callable = lambda event: None) -> UpgradeResult:
    from . import lifecycle, pull

    timings: dict[str, float] = {}

    def timed(step: str, began: float) -> None:
        timings[step] = time.monotonic() - began

    ctx = Context.load(plan.root)
    began = time.monotonic()
    try:
        pull.pull_missing({plan.target.text: "--to"}, on_pull, outcome="nothing was changed")
    except StackError as error:
        raise StackError(f"the image {plan.target.text} is not available locally and cannot be pulled; nothing was "
                         f"changed", hint="check the tag and your registry access (`docker pull "
                         f"{plan.target.text}`), or build/load the image, then run `afc upgrade` again",
                         details=error.details or error.message) from None
    timed("image", began)
    began = time.monotonic()
    if not ctx.spec.lite:  # the lite stack's backup needs no running service
        _ensure_postgres(ctx, timeout)
    backup = backup_database(ctx, f"before-{plan.target_tag.version}")
    timed("backup", began)

    old_env_text = ctx.project.env_path.read_text()
    began = time.monotonic()
    airflow_services = list(ctx.spec.airflow_services)
    running = {c.service for c in ctx.snapshot() if c.state in ("running", "restarting")}
    try:
        if running & set(airflow_services):
            ctx.stack.stop(airflow_services)
        # fresh containers for the new image: no stale init (or webserver) from before is judged or kept
        ctx.stack.remove(airflow_services)
        timed("stop", began)
        began = time.monotonic()
        values = ctx.project.file_values()
        values["AIRFLOW_IMAGE_NAME"] = plan.target.text
        write_atomically(ctx.project.env_path, settings.format_env(values), mode=0o600)
        fresh = ctx.reloaded()
        sync_compose_file(fresh)
        result = lifecycle.up(fresh, None, wait=True, timeout=timeout, on_update=on_update, on_pull=on_pull)
        timed("migrate+start", began)
    except BaseException as error:  # Ctrl-C included: never leave .env pointing at a half-done upgrade
        raise _roll_back(ctx, old_env_text, backup, error) from None
    return UpgradeResult(plan, backup, result, timings)


def _roll_back(ctx, old_env_text: str, backup: Path, error: Exception) -> StackError:
    """Put the old image back, re-render, stop the stack; the error says how to restore the backup."""
    steps: list[str] = []
    try:  # first with the new compose file: it names the services the old one lacks (api-server, ...).
        # Removing (not only stopping) the new image's containers lets a later `afc up` start clean.
        failed = ctx.reloaded()
        failed.stack.stop()
        failed.stack.remove(list(failed.spec.airflow_services))
        steps.append(f"removed the {failed.spec.image.text} containers (their last log lines are above)")
    except Exception:  # the stop below still runs with the old file
        pass
    try:
        write_atomically(ctx.project.env_path, old_env_text, mode=0o600)
        sync_compose_file(ctx.reloaded())
        steps.append(f"put {ctx.spec.image.text} back in .env and re-rendered compose.yaml")
    except Exception as undo:  # report, never hide the first error
        steps.append(f"could not restore .env ({undo}); set AIRFLOW_IMAGE_NAME={ctx.spec.image.text} by hand")
    try:
        ctx.reloaded().stack.stop()
        steps.append("stopped the stack")
    except Exception as undo:
        steps.append(f"could not stop the stack ({undo}); run `afc stop`")
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    details = "\n".join(filter(None, [getattr(error, "details", ""), "--- rolled back: " + "; ".join(steps)]))
    return StackError(
        f"the upgrade failed: {message}",
        hint=f"the database may be partly migrated. Restore the backup taken before the upgrade with "
             f"`{restore_command(ctx, backup)}`, then `afc up` (old image {ctx.spec.image.text}). Backup: {backup}",
        details=details)
