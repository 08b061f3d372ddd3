"""`afc swarm`: the project's stack on Docker Swarm. Deploy, status, scale and rm return dataclasses and never
print; the stack file they deploy is rendered by `stack/swarm_file.py`.

Deploying runs in phases, because Swarm ignores `depends_on` conditions: Postgres (and Redis) until healthy,
then `init` as a replicated job until it completes (migrations, admin user), then the Airflow services,
waiting until every replica is running — a task with a health check is `running` only once healthy.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from .. import engine
from ..errors import AfcError, EnvironmentProblem, ProjectError, StackError
from ..project import identity
from ..project.files import Project, find_project
from ..stack import swarm_file
from ..stack.spec import DATA_SERVICES, EngineFacts, StackSpec, build_spec, host_facts
from . import pull, readiness
from .context import check_scale
from .readiness import Failure, ServiceRow, Verdict

PROJECT_DIR_LABEL = "org.afc.project-dir"  # on the stack's Docker secrets: the folder it was deployed from
FAILED_STATES = ("failed", "rejected")
CRASH_LOOP = 3             # failed tasks of one service in one wait before it counts as failing
STUCK_PENDING = 20.0       # seconds a task may wait for a node ("no suitable node") before that is a failure


# --- the project -------------------------------------------------------------------------------------------

@dataclass
class SwarmContext:
    """A project, its spec and values, and its swarm stack."""

    project: Project
    spec: StackSpec
    values: dict[str, str]
    stack: engine.SwarmStack

    @classmethod
    def load(cls, project_dir: Path, facts: EngineFacts | None = None) -> "SwarmContext":
        """The project and its swarm stack, refused (exit 3) when that stack was deployed from another folder."""
        project = find_project(project_dir)
        values = project.values()
        spec = build_spec(values, facts or host_facts())
        ctx = cls(project, spec, values, engine.SwarmStack(swarm_file.stack_name(spec)))
        check_owner(ctx)
        return ctx

    @property
    def name(self) -> str:
        return self.stack.name

    def wanted(self, names: Sequence[str] | None = None) -> dict[str, int]:
        return self.spec.replicas([name for name in self.spec.services if names is None or name in names])


def deployed_from(stack: engine.SwarmStack) -> list[str]:
    """The folders the stack's secrets were created from (afc labels them); [] when the engine cannot tell
    (not a swarm manager, no engine: the command itself then says so)."""
    try:
        return stack.secret_label_values(PROJECT_DIR_LABEL)
    except AfcError:
        return []


def check_owner(ctx: SwarmContext) -> None:
    others = [folder for folder in deployed_from(ctx.stack) if not identity.same_folder(folder, ctx.project.root)]
    if others:
        raise ProjectError(
            f"the swarm stack '{ctx.name}' was deployed from another folder: {', '.join(others)}; this folder "
            f"({ctx.project.root}) would take it over",
            hint=f"give this project its own name: set AFC_PROJECT_NAME={identity.unique_name(ctx.project.root)} "
                 f"in {ctx.project.env_path}, or run afc in {others[0]}")


def require_manager() -> engine.SwarmInfo:
    info = engine.swarm_info()
    if info.state != "active":
        raise EnvironmentProblem(f"this Docker engine is not part of a swarm (swarm state: {info.state})"
                                 + (f": {info.error}" if info.error else ""),
                                 hint="create one with `docker swarm init` (on one machine: `docker swarm init "
                                      "--advertise-addr 127.0.0.1`), or point DOCKER_HOST at a swarm manager")
    if not info.manager:
        raise EnvironmentProblem("this Docker engine is a swarm worker: stacks are managed from a manager node",
                                 hint="run afc against a manager (DOCKER_HOST=ssh://<manager> or `docker context "
                                      "use`), or promote this node with `docker node promote`")
    return info


def config_text(ctx: SwarmContext, image: str | None = None, routing_mesh: bool = False) -> str:
    """`afc swarm config`: the stack file (secret names only) for the project's image or `image`."""
    return swarm_file.to_yaml(swarm_file.render_stack(ctx.spec, image or ctx.spec.image.text, swarm_file.plan_secrets(ctx.spec, ctx.values),
                                routing_mesh=routing_mesh))


# --- reading the stack's state -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Snapshot:
    services: tuple[engine.SwarmService, ...]
    tasks: tuple[engine.SwarmTask, ...]


def snapshot(stack: engine.SwarmStack) -> Snapshot:
    services = stack.services()
    return Snapshot(tuple(services), tuple(stack.tasks(services)))


def short_name(stack: str, service_name: str) -> str:
    prefix = stack + "_"
    return service_name[len(prefix):] if service_name.startswith(prefix) else service_name


def current_tasks(service: engine.SwarmService, tasks: Sequence[engine.SwarmTask]) -> list[engine.SwarmTask]:
    """The tasks that count now: of a job, its latest run; of a service, those the swarm wants running."""
    own = [t for t in tasks if t.service_id == service.id]
    if service.job:
        return [t for t in own if (t.job_iteration or 0) == (service.job_iteration or 0)]
    return [t for t in own if t.desired_state in ("running", "ready", "accepted", "new")]


def _task_ready(service: engine.SwarmService, task: engine.SwarmTask) -> bool:
    if service.job:
        return task.state == "complete"
    return task.state == "running"


def _health_word(service: engine.SwarmService, tasks: Sequence[engine.SwarmTask]) -> str:
    if service.job:
        done = [t for t in tasks if t.state in ("complete", "failed")]
        return f"exit {done[-1].exit_code}" if done and done[-1].exit_code is not None else ""
    if not service.healthcheck:
        return ""
    words = {"running": "healthy", "starting": "starting"}
    return "/".join(sorted({words.get(t.state, "-") for t in tasks})) if tasks else ""


def rows(stack: str, snap: Snapshot, wanted: dict[str, int] | None, now: dt.datetime | None = None,
         since: dt.datetime | None = None, others: bool = True) -> tuple[ServiceRow, ...]:
    """One row per service: replicas running (for a job: completed) of those wanted, task states, health,
    published ports, uptime and failed tasks. `wanted` None: what each service's spec wants; `others`: also
    the stack's services that are not wanted."""
    by_name = {short_name(stack, s.name): s for s in snap.services}
    order = list(wanted) if wanted is not None else []
    order += sorted(set(by_name) - set(order)) if others else []
    out = []
    for name in order:
        service = by_name.get(name)
        if service is None:
            out.append(ServiceRow(name, 0, (wanted or {}).get(name, 1), "missing", ""))
            continue
        tasks = current_tasks(service, snap.tasks)
        ready = sum(1 for t in tasks if _task_ready(service, t))
        states = "/".join(sorted({t.state for t in tasks})) or "no tasks"
        failed = [t for t in snap.tasks if t.service_id == service.id and t.state in FAILED_STATES
                  and (since is None or (t.timestamp is not None and t.timestamp >= since))]
        uptimes = [(now - t.timestamp).total_seconds() for t in tasks
                   if now and t.state == "running" and t.timestamp is not None and not service.job]
        want = service.replicas if wanted is None or name not in wanted else wanted[name]
        if service.update_state == "updating" and not service.job:
            ready = max(0, min(ready, want - 1))   # old replicas answer while the update replaces them
            states += " (updating)"
        out.append(ServiceRow(name, ready, want, states, _health_word(service, tasks), service.ports,
                              max(0.0, min(uptimes)) if uptimes else None, len(failed)))
    return tuple(out)


def judge(stack: str, snap: Snapshot, wanted: dict[str, int], since: dt.datetime,
          now: dt.datetime) -> Verdict:
    """Ready when every wanted service has its replicas running (a job: completed); failed as soon as one
    cannot get there: a failed job, a service whose tasks keep failing, a task no node can take."""
    failures = []
    by_name = {short_name(stack, s.name): s for s in snap.services}
    for name in wanted:
        service = by_name.get(name)
        if service is None:
            continue
        tasks = current_tasks(service, snap.tasks)
        if service.job:
            for task in tasks:
                if task.state in FAILED_STATES:
                    reason = task.error or task.message or task.state
                    failures.append(Failure(name, f"{name} failed: {reason}"))
            continue
        if service.update_state == "paused" or service.update_state.startswith("rollback"):
            failures.append(Failure(name, f"the update of {name} stopped ({service.update_state}): "
                                          f"{service.update_message}"))
            continue
        recent = [t for t in snap.tasks if t.service_id == service.id and t.state in FAILED_STATES
                  and t.timestamp is not None and t.timestamp >= since]
        running = [t for t in tasks if t.state == "running"]
        if recent and (len(recent) >= CRASH_LOOP or any("no such image" in t.error.lower() for t in recent)) \
                and len(running) < wanted[name]:
            last = max(recent, key=lambda t: t.timestamp or since)
            failures.append(Failure(name, f"{name} keeps failing ({len(recent)} failed tasks): "
                                          f"{last.error or last.message or last.state}"))
        for task in tasks:
            why = task.error or task.message
            if task.state == "pending" and "no suitable node" in why and task.timestamp is not None \
                    and (now - task.timestamp).total_seconds() > STUCK_PENDING:
                failures.append(Failure(name, f"no node can run {name}: {why}"))
                break
    unique = tuple({(f.service, f.reason): f for f in failures}.values())
    return Verdict(rows(stack, snap, wanted, now, since, others=False), unique)


class SwarmBackend:
    """One phase of the Swarm stack for the wait loop and the failure report (readiness.Backend): its tasks count
    as failed from `since` on."""

    def __init__(self, ctx: "SwarmContext", phase: str, since: dt.datetime):
        self.ctx = ctx
        self.phase = phase
        self.since = since

    def verdict(self, wanted: dict[str, int]) -> Verdict:
        return judge(self.ctx.name, snapshot(self.ctx.stack), wanted, self.since, readiness.utcnow())

    def log_lines(self, service: str) -> list[str]:
        lines = self.ctx.stack.logs_text(service, tail=25).rstrip().splitlines()[-25:]
        return lines or ["(no output: the container never ran)"]

    def health_output(self, service: str) -> str:
        return ""  # the swarm keeps no health check output; the task errors are in the failures

    def not_ready(self, timeout: float) -> str:
        return f"the swarm stack was not ready after {timeout:.0f} s ({self.phase})"

    def failed(self) -> str:
        return f"the swarm stack failed ({self.phase})"

    def failure_hint(self, failing: list[str], message: str) -> str:
        if "no such image" in message.lower():
            return ("the node does not hold the image and cannot pull it: build it there (`afc swarm deploy` without "
                    "--image builds it), or push it to a registry every node can pull from and pass --image "
                    "REGISTRY/REPOSITORY:TAG")
        first, name = (failing[0] if failing else "init"), self.ctx.name
        return (f"the stack is left for inspection: `afc swarm status`, `docker service logs {name}_{first}`, "
                f"`docker service ps --no-trunc {name}_{first}`; fix the cause and run `afc swarm deploy` again "
                f"(or `afc swarm rm`)")


def wait_for(ctx: "SwarmContext", phase: str, since: dt.datetime, wanted: dict[str, int], timeout: float,
             on_update: Callable[[Verdict, float], None]) -> None:
    """Wait until the phase's wanted services are ready; its failure report otherwise."""
    backend = SwarmBackend(ctx, phase, since)
    outcome = readiness.wait(backend, wanted, timeout, on_update=on_update, poll=2.0)
    if not outcome.ok:
        raise readiness.failure_report(backend, outcome, timeout)


# --- deploy ----------------------------------------------------------------------------------------------

@dataclass
class DeployResult:
    spec: StackSpec
    stack: str
    image: str
    built: bool
    phases: dict[str, float]
    elapsed: float
    url: str
    admin_user: str
    password_hint: str
    warnings: tuple[str, ...]
    secrets_created: tuple[str, ...]
    secrets_removed: tuple[str, ...]
    status: readiness.StatusResult


def deploy_warnings(spec: StackSpec, routing_mesh: bool) -> list[str]:
    ports = [str(port.host_port) for port in spec.published_ports]
    where = "every node (routing mesh)" if routing_mesh else "the node running the service"
    notes = []
    if spec.host not in ("0.0.0.0", "::"):
        notes.append(f"Swarm cannot bind published ports to {spec.host} (AFC_HOST): port(s) {', '.join(ports)} "
                     f"listen on all interfaces of {where}, reachable from other machines unless a firewall "
                     f"blocks them")
    return notes


def _write_phase(folder: Path, phase: str, document: dict[str, Any]) -> str:
    path = folder / f"{phase}.yaml"
    path.write_text(swarm_file.to_yaml(document))
    return str(path)


def deploy(ctx: SwarmContext, *, timeout: float, image: str | None = None, routing_mesh: bool = False,
           registry_auth: bool = False, on_update: Callable[[Verdict, float], None] = lambda verdict, elapsed: None,
           on_phase: Callable[[str], None] = lambda text: None,
           on_build_output: Callable[[str], None] | None = None,
           on_pull: Callable[[engine.PullProgress], None] = lambda event: None) -> DeployResult:
    """Build the image with the DAGs baked in (unless `image` is given), create the secrets, then deploy
    in three phases, each waited for: databases healthy, init completed, Airflow healthy."""
    import tempfile

    began = time.monotonic()
    require_manager()
    secrets = swarm_file.plan_secrets(ctx.spec, ctx.values)      # validates the stack name before anything changes
    existing = snapshot(ctx.stack)
    _check_ports(ctx, existing)
    phases: dict[str, float] = {}
    built = False
    # this node pulls what it lacks before anything is created (the build pulls its own base)
    images = pull.stack_images(ctx.spec, [name for name in pull.DATA_IMAGES if name in ctx.spec.services])
    if image is not None:
        images[image] = "--image"
    step = time.monotonic()
    if pull.pull_missing(images, on_pull).pulled:
        phases["pull"] = time.monotonic() - step
    if image is None:
        on_phase("building the image with the project's DAGs")
        step = time.monotonic()
        result = build_image(ctx, on_build_output, on_pull)
        image, built = result.image, result.built
        phases["build"] = time.monotonic() - step
    have = set(ctx.stack.secrets())
    created = []
    for secret in secrets:
        if secret.name not in have:
            ctx.stack.create_secret(secret.name, secret.value,
                                    {"org.afc.role": secret.role, PROJECT_DIR_LABEL: str(ctx.project.root)})
            created.append(secret.name)
    plan = [("databases", list(DATA_SERVICES)), ("init", list(DATA_SERVICES) + ["init"]),
            ("airflow", [name for name in ctx.spec.services if name != "init"])]
    with tempfile.TemporaryDirectory(prefix="afc-swarm-") as folder:
        for phase, names in plan:
            names = [name for name in names if name in ctx.spec.services]
            on_phase({"databases": "phase 1/3: Postgres" + (" and Redis" if ctx.spec.celery else ""),
                      "init": "phase 2/3: init (migrations, admin user)",
                      "airflow": "phase 3/3: Airflow services"}[phase])
            step = time.monotonic()
            since = readiness.utcnow() - dt.timedelta(seconds=2)
            document = swarm_file.render_stack(ctx.spec, image, secrets, routing_mesh=routing_mesh, services=names)
            ctx.stack.deploy(_write_phase(Path(folder), phase, document), registry_auth=registry_auth)
            time.sleep(1.0)   # let the orchestrator take the update before the first look
            wait_for(ctx, phase, since, ctx.wanted(["init"] if phase == "init" else names), timeout, on_update)
            phases[phase] = time.monotonic() - step
    removed = tuple(name for name in sorted(set(ctx.stack.secrets()) - {s.name for s in secrets})
                    if ctx.stack.remove_secret(name))
    return DeployResult(ctx.spec, ctx.name, image, built, phases, time.monotonic() - began, ctx.spec.url,
                        ctx.spec.admin_user, f"_AIRFLOW_WWW_USER_PASSWORD in {ctx.project.env_path}",
                        tuple(deploy_warnings(ctx.spec, routing_mesh)), tuple(created), removed, status(ctx))


def build_image(ctx: SwarmContext, on_output: Callable[[str], None] | None = None,
                on_pull: Callable[[engine.PullProgress], None] = lambda event: None):
    """The project's image with dags/ and plugins/ baked in (`afc build`'s machinery; `.env` is left as it
    is): a BuildResult with `image`, `built` and `seconds`. Unchanged inputs reuse the image."""
    from . import build

    return build.build(ctx.project, bake_dags=True, switch=False, on_output=on_output or (lambda line: None),
                       on_pull=on_pull)


def _check_ports(ctx: SwarmContext, existing: Snapshot) -> None:
    """A first deploy must find its host ports free on this machine (when the engine is local): otherwise the
    web service would wait for a node forever ("host-mode port already in use")."""
    if existing.services or engine.docker_endpoint() not in ("", "unix:///var/run/docker.sock"):
        return
    from . import ports

    for port in ctx.spec.published_ports:
        if not ports.port_free("0.0.0.0", port.host_port):
            raise EnvironmentProblem(f"port {port.host_port} ({port.setting}) is already in use on this machine; the "
                                     f"swarm stack publishes it on all interfaces",
                                     hint=f"stop what uses it (the compose stack? `afc down`), or set {port.setting} "
                                          f"in .env to a free port")


# --- status, scale, rm -------------------------------------------------------------------------------------

def status(ctx: SwarmContext) -> readiness.StatusResult:
    require_manager()
    snap = snapshot(ctx.stack)
    if not snap.services:
        return readiness.StatusResult(ctx.spec.project, (), False, stack=ctx.name, deployed=False)
    wanted = {name: replicas for name, replicas in ctx.wanted().items()
              if any(short_name(ctx.name, s.name) == name for s in snap.services)}
    current = {short_name(ctx.name, s.name): s.replicas for s in snap.services}
    wanted = {name: current.get(name, count) for name, count in wanted.items()}   # scaled replicas count
    table = rows(ctx.name, snap, wanted, readiness.utcnow())
    return readiness.StatusResult(ctx.spec.project, table, all(row.ok for row in table), stack=ctx.name)


@dataclass
class ScaleResult:
    stack: str
    service: str
    replicas: int
    elapsed: float
    configured: int


def scale(ctx: SwarmContext, what: str, count: int, timeout: float,
          on_update: Callable[[Verdict, float], None] = lambda verdict, elapsed: None) -> ScaleResult:
    check_scale(what, count, "swarm scale", ctx.spec)
    require_manager()
    if not any(short_name(ctx.name, s.name) == "worker" for s in ctx.stack.services()):
        raise StackError(f"stack '{ctx.name}' is not deployed (no worker service)",
                         hint="deploy it first with `afc swarm deploy`")
    began = time.monotonic()
    since = readiness.utcnow() - dt.timedelta(seconds=2)
    ctx.stack.scale("worker", count)
    wait_for(ctx, "scale", since, {"worker": count}, timeout, on_update)
    return ScaleResult(ctx.name, "worker", count, time.monotonic() - began, ctx.spec.workers)


@dataclass
class RemoveResult:
    stack: str
    deployed: bool
    services: tuple[str, ...]
    secrets: tuple[str, ...]
    volumes: tuple[str, ...]
    kept_volumes: tuple[str, ...]
    elapsed: float


def remove(ctx: SwarmContext, volumes: bool, timeout: float = 120.0, clock: Callable[[], float] = time.monotonic,
           sleep: Callable[[float], None] = time.sleep) -> RemoveResult:
    """`docker stack rm`, then wait until its containers and network are gone, remove its secrets and, with
    `volumes`, its volumes on this node (the database!)."""
    require_manager()
    began = clock()
    services = tuple(short_name(ctx.name, s.name) for s in ctx.stack.services())
    if services:
        ctx.stack.remove()
    while services and (ctx.stack.services() or ctx.stack.containers(running=True) or ctx.stack.networks()):
        if clock() - began > timeout:
            raise StackError(f"stack '{ctx.name}' was removed but its containers or network are still there after "
                             f"{timeout:.0f} s",
                             hint=f"check `docker ps -a --filter label={engine.SWARM_STACK_LABEL}={ctx.name}` and "
                                  f"run `afc swarm rm` again")
        sleep(1.0)
    ctx.stack.remove_stopped_containers()
    secrets = tuple(name for name in ctx.stack.secrets() if ctx.stack.remove_secret(name))
    found = ctx.stack.volumes()
    removed: list[str] = []
    if volumes:
        for name in found:
            while not ctx.stack.remove_volume(name):
                if clock() - began > timeout:
                    raise StackError(f"volume {name} is still in use after {timeout:.0f} s",
                                     hint="check `docker ps -a` for a container using it, then run "
                                          "`afc swarm rm --volumes --yes` again")
                sleep(1.0)
            removed.append(name)
    kept = tuple(name for name in found if name not in removed)
    return RemoveResult(ctx.name, bool(services or secrets or found), services, secrets, tuple(removed), kept,
                        clock() - began)
