"""The Swarm stack file, pure: a StackSpec, the image and the secrets' names become a `docker stack deploy`
document (Swarm's deploy keys, secrets as files, init as a replicated job), from the blocks of
`compose/swarm.yaml` and the compose services `render.py` builds."""
from __future__ import annotations

import copy
import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any, Sequence
from urllib.parse import quote

from ..errors import UsageError
from . import render
from .spec import DATA_SERVICES, EngineFacts, StackSpec

STACK_SUFFIX = "-swarm"
# <stack>-postgres-password-<hash8> must fit a secret name (64 characters); <stack>_dag-processor fits a service's
MAX_PROJECT_LENGTH = 64 - len(STACK_SUFFIX) - len("-postgres-password-") - 8


@functools.lru_cache(maxsize=None)
def blocks() -> dict[str, Any]:
    """The building blocks of `compose/swarm.yaml`, loaded once."""
    from importlib.resources import files

    import yaml

    return yaml.safe_load(files("airflow_compose.compose").joinpath("swarm.yaml").read_text())


# --- names and secrets -----------------------------------------------------------------------------------

def stack_name(spec: StackSpec) -> str:
    """The stack's name: the project's plus a suffix, so that its volumes and networks never meet the compose
    stack's (`<project>_postgres-data` stays the compose stack's database)."""
    if len(spec.project) > MAX_PROJECT_LENGTH:
        raise UsageError(f"project name '{spec.project}' is too long for a swarm stack ({len(spec.project)} "
                         f"characters, at most {MAX_PROJECT_LENGTH})",
                         hint="set a shorter AFC_PROJECT_NAME in .env (it also renames the compose stack)")
    return spec.project + STACK_SUFFIX


@dataclass(frozen=True)
class SwarmSecret:
    """One Docker secret of the stack. Its name ends in a hash of its content: swarm secrets are immutable,
    so a changed value is a new secret, and the services are updated to it."""

    role: str
    name: str
    target: str                                 # mounted as /run/secrets/<target>
    value: str = field(repr=False, compare=False)


def secret_roles(spec: StackSpec) -> dict[str, dict[str, Any]]:
    """The secrets this stack needs (by role), from compose/swarm.yaml."""
    roles = {}
    for role, block in blocks()["secrets"].items():
        if block.get("celery") and not spec.celery:
            continue
        if block.get("airflow3") and spec.major < 3:
            continue
        roles[role] = block
    return roles


def secret_values(spec: StackSpec, values: dict[str, str]) -> dict[str, str]:
    """The value of every secret, from the project's settings (`.env`)."""
    password = values["AFC_POSTGRES_PASSWORD"]
    user, db_name = quote(spec.postgres_user, safe=""), quote(spec.postgres_db, safe="")
    db = f"{user}:{quote(password, safe='')}@postgres:5432/{db_name}"
    every = {
        "postgres-password": password,
        "sql-alchemy-conn": f"postgresql+psycopg2://{db}",
        "result-backend": f"db+postgresql://{db}",
        "fernet-key": values["AFC_FERNET_KEY"],
        "web-secret-key": values["AFC_WEB_SECRET_KEY"],
        "jwt-secret": values.get("AFC_JWT_SECRET", ""),
        "admin-password": values["_AIRFLOW_WWW_USER_PASSWORD"],
    }
    return {role: every[role] for role in secret_roles(spec)}


def plan_secrets(spec: StackSpec, values: dict[str, str]) -> list[SwarmSecret]:
    stack = stack_name(spec)
    roles = secret_roles(spec)
    planned = []
    for role, value in secret_values(spec, values).items():
        digest = hashlib.sha256(f"{role}\0{value}".encode()).hexdigest()[:8]
        planned.append(SwarmSecret(role, f"{stack}-{role}-{digest}", roles[role]["target"], value))
    return planned


# --- rendering -------------------------------------------------------------------------------------------

def _airflow(name: str) -> bool:
    return name not in DATA_SERVICES


def _secret_env(spec: StackSpec, block: dict[str, Any]) -> str:
    return block.get("env") or block.get("env3" if spec.major >= 3 else "env2") or ""


def _mounts_secret(name: str, block: dict[str, Any]) -> bool:
    users = block["services"]
    return _airflow(name) if users == "airflow" else name in users


def _healthcheck(name: str, spec: StackSpec) -> dict[str, Any] | None:
    """stack.yaml's health check of the service, in the form every swarm accepts (the docker CLI's stack loader
    has no `start_interval`), with the heartbeat check reading the database URL from its secret."""
    block = copy.deepcopy(render.blocks()["services"][name])
    if "health" not in block:
        return None
    if "job_check" in block:
        block["healthcheck"] = {"test": ["CMD", "python", "-c", blocks()["job_check"], block.pop("job_check")]}
    return render.healthcheck(name, block, spec, EngineFacts(spec.arch, start_interval=False), swarm=True)


def _ports(name: str, spec: StackSpec, routing_mesh: bool) -> list[dict[str, Any]]:
    port = spec.published_port(name)
    if port is None:
        return []
    return [{"target": port.container_port, "published": port.host_port, "protocol": "tcp",
             "mode": "ingress" if routing_mesh else "host"}]


def _deploy(name: str, spec: StackSpec, routing_mesh: bool) -> dict[str, Any]:
    swarm = blocks()
    constraints = [f"node.platform.arch == {swarm['node_arch'][spec.arch]}"]
    if name == "postgres":
        constraints += swarm["database_placement"]
    deploy: dict[str, Any] = {}
    if name == "init":
        deploy.update(mode="replicated-job", replicas=1, restart_policy=dict(swarm["restart_policy"]["job"]))
    else:
        deploy.update(mode="replicated", replicas=spec.workers if name == "worker" else 1,
                      endpoint_mode="vip" if routing_mesh else "dnsrr",
                      restart_policy=dict(swarm["restart_policy"]["long_running"]),
                      update_config=dict(swarm["update_config"]))
    deploy["placement"] = {"constraints": constraints}
    deploy["labels"] = {"org.afc.project": spec.project, "org.afc.service": name}
    return deploy


def service(name: str, spec: StackSpec, image: str, secrets: Sequence[SwarmSecret],
            routing_mesh: bool = False) -> dict[str, Any]:
    """One service of the stack file: stack.yaml's service, with secrets as files, swarm's deploy policies,
    named volumes only (no bind mounts: they would tie a service to one node's folders)."""
    swarm = blocks()
    compose = render.service(name, spec, EngineFacts(spec.arch, start_interval=False))
    roles = secret_roles(spec)
    mounted = [s for s in secrets if _mounts_secret(name, roles[s.role])]
    out: dict[str, Any] = {"image": image if _airflow(name) else compose["image"]}
    if name == "postgres":
        out["command"] = list(swarm["postgres_command"])
    elif "command" in compose:
        out["command"] = compose["command"]
    if "user" in compose:
        out["user"] = compose["user"]
    environment = {key: value for key, value in compose.get("environment", {}).items()
                   if key not in swarm["drop_environment"] and "${" not in str(value)}
    for secret in mounted:
        variable = _secret_env(spec, roles[secret.role])
        if variable:
            environment[variable] = f"cat /run/secrets/{secret.target}"
    if name == "postgres":
        environment["POSTGRES_PASSWORD_FILE"] = "/run/secrets/" + roles["postgres-password"]["target"]
    if environment:
        out["environment"] = dict(sorted(environment.items()))
    if mounted:
        out["secrets"] = [{"source": s.role, "target": s.target} for s in mounted]
    volumes = swarm["volumes"]
    if name == "postgres":
        out["volumes"] = [f"postgres-data:{spec.postgres_data_mount}"]
    elif _airflow(name):
        out["volumes"] = [f"airflow-logs:{volumes['airflow-logs']}"]
    ports = _ports(name, spec, routing_mesh)
    if ports:
        out["ports"] = ports
    check = _healthcheck(name, spec)
    if check:
        out["healthcheck"] = check
    if "stop_grace_period" in compose:
        out["stop_grace_period"] = compose["stop_grace_period"]
    out["deploy"] = _deploy(name, spec, routing_mesh)
    return out


def render_stack(spec: StackSpec, image: str, secrets: Sequence[SwarmSecret], *, routing_mesh: bool = False,
                 services: Sequence[str] | None = None) -> dict[str, Any]:
    """The stack file as data: every service of the spec, or the named ones (a deploy phase)."""
    names = [name for name in spec.services if services is None or name in services]
    used = {s.role for name in names for s in secrets if _mounts_secret(name, secret_roles(spec)[s.role])}
    document: dict[str, Any] = {
        "version": blocks()["version"],
        "services": {name: service(name, spec, image, secrets, routing_mesh) for name in names},
        "networks": {"default": {"driver": "overlay"}},
    }
    volumes = {}
    if "postgres" in names:
        volumes["postgres-data"] = {}
    if any(_airflow(name) for name in names):
        volumes["airflow-logs"] = {}
    if volumes:
        document["volumes"] = volumes
    if used:
        document["secrets"] = {s.role: {"external": True, "name": s.name} for s in secrets if s.role in used}
    return document


def to_yaml(document: dict[str, Any]) -> str:
    """The stack file's text: render's deterministic YAML under a header of its own."""
    body = render.to_yaml(document).splitlines(keepends=True)
    while body and body[0].startswith("#"):
        body.pop(0)
    return ("# Docker Swarm stack generated by airflow-compose (`afc swarm config`); deploy it with `afc swarm "
            "deploy`,\n# which creates the Docker secrets it names and deploys it in phases. No secret is in "
            "this file.\n" + "".join(body))
