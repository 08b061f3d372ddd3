"""Pure rendering: a StackSpec (plus the YAML blocks in `compose/`) becomes a compose document."""
from __future__ import annotations

import copy
import functools
from typing import Any

from .spec import DATA_SERVICES, EngineFacts, StackSpec

# The lite stack's home: a named volume at AIRFLOW_HOME holding the image's default SQLite file.
LITE_VOLUME = "airflow-home"
LITE_HOME = "/opt/airflow"
LITE_DATABASE = f"{LITE_HOME}/airflow.db"


@functools.lru_cache(maxsize=None)
def blocks() -> dict[str, Any]:
    """The building blocks of `compose/stack.yaml`, loaded once."""
    from importlib.resources import files

    import yaml

    return yaml.safe_load(files("airflow_compose.compose").joinpath("stack.yaml").read_text())


def _secret(name: str) -> str:
    """A `${VAR}` reference compose resolves from .env, failing with a pointer when it is missing."""
    return f"${{{name}:?see afc config --check}}"


def airflow_environment(spec: StackSpec) -> dict[str, str]:
    env_blocks = blocks()["airflow_environment"]
    env = dict(env_blocks["common"])
    env.update(env_blocks["airflow3" if spec.major >= 3 else "airflow2"])
    env.update(env_blocks["celery" if spec.celery else "local"])
    env["AIRFLOW__CORE__EXECUTOR"] = spec.airflow_executor
    db = f"{spec.postgres_user}:{_secret('AFC_POSTGRES_PASSWORD')}@postgres:5432/{spec.postgres_db}"
    if spec.lite:
        env.update(env_blocks["lite_airflow3" if spec.major >= 3 else "lite_airflow2"])
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{LITE_DATABASE}"
        if spec.major >= 3:  # the LocalExecutor's tasks reach the api-server in their own container
            env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = "http://localhost:8080/execution/"
    else:
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"postgresql+psycopg2://{db}"
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "true" if spec.examples else "false"
    if spec.celery:
        env["AIRFLOW__CELERY__RESULT_BACKEND"] = f"db+postgresql://{db}"
        env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = str(spec.worker_concurrency)
    if spec.major >= 3:
        env["AIRFLOW__API_AUTH__JWT_ISSUER"] = f"afc-{spec.project}"
        env["AIRFLOW__API__WORKERS"] = str(spec.web_workers)
    else:
        env["AIRFLOW__WEBSERVER__WORKERS"] = str(spec.web_workers)
    return dict(sorted(env.items()))


def healthcheck(service: str, block: dict[str, Any], spec: StackSpec, facts: EngineFacts,
                swarm: bool = False) -> dict[str, Any]:
    """The service's check and timings: fast while starting only where the engine has `start_interval`; on older
    engines every 30 s (afc runs a starting container's check itself, readiness.StartChecks); on Swarm, where
    nothing else probes a starting task, every couple of seconds with a calm spell after each success."""
    timing = blocks()["healthchecks"][block["health"]]
    if service == "postgres":
        test = ["CMD", "pg_isready", "--username", spec.postgres_user, "--dbname", spec.postgres_db]
    elif "lite_check" in block:
        test = ["CMD", "python", "-c", blocks()["lite_check"], f"http://localhost:8080{health_path(spec)}",
                *health_components(spec)]
    elif "job_check" in block:
        test = ["CMD", "python", "-c", blocks()["job_check"], block["job_check"]]
    elif "queue_check" in block:
        test = ["CMD", "python", "-c", blocks()["queue_check"]]
    else:
        test = list(block["healthcheck"]["test"])
    check: dict[str, Any] = {"test": test}
    if service not in DATA_SERVICES:  # Airflow images are Debian: cut, stat, date, timeout are there
        check["test"] = ["CMD-SHELL", heal_wrapper(service, test, timing, settle=swarm)]
    check.update(interval=timing["swarm_interval"] if swarm else timing["interval"], timeout=timing["timeout"],
                 retries=timing["retries"], start_period=timing["start_period"])
    if facts.start_interval and not swarm:
        check["start_interval"] = timing["start_interval"]
    return check


def heal_wrapper(service: str, test: list[str], timing: dict[str, Any], settle: bool) -> str:
    """The check of an Airflow service inside the wrapper that heals it (see `heal_wrapper` in
    compose/stack.yaml); `settle` adds Swarm's calm spell after a success."""
    import shlex

    argv = ["sh", "-c", test[1]] if test[0] == "CMD-SHELL" else test[1:]
    command = shlex.join(argv)
    if test[0] != "CMD-SHELL":  # CMD-SHELL texts in stack.yaml are written for compose already
        command = command.replace("$", "$$")
    limit = int(str(timing["timeout"]).rstrip("s")) - 2
    settle_part = blocks()["swarm_settle"].replace("SETTLE", str(timing["swarm_settle_seconds"])) if settle else ""
    wrapper = blocks()["heal_wrapper"].replace("$", "$$")
    return (wrapper.replace("SETTLE", settle_part.replace("$", "$$")).replace("SERVICE", service)
            .replace("HEAL_AFTER", str(timing["heal_after"])).replace("LIMIT", str(limit))
            .replace("CHECK", command))


def _condition(condition: str, facts: EngineFacts) -> str:
    """What a dependency waits on. Without `start_interval` a health check runs every 30 s from the start, so
    waiting on one would add up to 30 s per step: services then wait for their dependencies to start (init waits
    for Postgres itself; Airflow's components retry the broker) and afc judges health itself."""
    return "service_started" if condition == "service_healthy" and not facts.start_interval else condition


def health_path(spec: StackSpec) -> str:
    """The path of Airflow's health endpoint on the web component."""
    return "/api/v2/monitor/health" if spec.major >= 3 else "/health"


def health_components(spec: StackSpec) -> list[str]:
    """The components Airflow's health endpoint must report healthy."""
    return ["metadatabase", "scheduler", "triggerer"] + (["dag_processor"] if spec.major >= 3 else [])


def _ports(service: str, spec: StackSpec) -> list[str]:
    port = spec.published_port(service)
    return [f"{spec.host}:{port.host_port}:{port.container_port}"] if port else []


def service(name: str, spec: StackSpec, facts: EngineFacts) -> dict[str, Any]:
    block = copy.deepcopy(blocks()["services"][name])
    airflow = name not in DATA_SERVICES
    out: dict[str, Any] = {}
    if name == "postgres":
        out["image"] = spec.postgres_image
        out["environment"] = {"POSTGRES_USER": spec.postgres_user, "POSTGRES_DB": spec.postgres_db,
                              "POSTGRES_PASSWORD": _secret("AFC_POSTGRES_PASSWORD")}
    elif name == "redis":
        out["image"] = spec.redis_image
    elif name == "log-cleaner":
        out["image"] = spec.image.text
        out["user"] = f"{spec.airflow_uid}:0"
        out["environment"] = {"AFC_LOG_RETENTION_DAYS": str(spec.log_retention_days)}
    else:
        out["image"] = spec.image.text
        out["user"] = f"{spec.airflow_uid}:0"
        out["environment"] = {**airflow_environment(spec), **block.get("environment", {})}
        if name == "init":
            out["environment"]["_AIRFLOW_WWW_USER_USERNAME"] = spec.admin_user
    out["platform"] = f"linux/{spec.arch}"
    if block.get("init_script"):
        out["command"] = ["python", "-c", blocks()["init_script"]]
    elif block.get("lite_script"):
        out["command"] = ["python", "-c", blocks()["lite_script"], *spec.lite_components]
    elif "command" in block:
        out["command"] = block["command"]
    if name == "worker":
        out["deploy"] = {"replicas": spec.workers}
    out["restart"] = block["restart"]
    if "stop_grace_period" in block:
        out["stop_grace_period"] = block["stop_grace_period"]
    ports = _ports(name, spec)
    if ports:
        out["ports"] = ports
    if name == "log-cleaner":
        out["volumes"] = [volume for volume in blocks()["airflow_volumes"] if volume.endswith(":/opt/airflow/logs")]
    elif airflow:
        out["volumes"] = ([f"{LITE_VOLUME}:{LITE_HOME}"] if spec.lite else []) + list(blocks()["airflow_volumes"])
    elif name == "postgres":
        out["volumes"] = [f"postgres-data:{spec.postgres_data_mount}"]
    depends = {other: {"condition": _condition(condition, facts)}
               for other, condition in spec.dependencies(name).items()}
    if depends:
        out["depends_on"] = depends
    if "health" in block:
        out["healthcheck"] = healthcheck(name, block, spec, facts)
    return out


def render(spec: StackSpec, facts: EngineFacts) -> dict[str, Any]:
    """The compose document of a stack, as data."""
    return {
        "name": spec.project,
        "services": {name: service(name, spec, facts) for name in spec.compose_services},
        "volumes": {LITE_VOLUME if spec.lite else "postgres-data": {}},
    }


def to_yaml(document: dict[str, Any]) -> str:
    """Deterministic, readable YAML: document order kept, no anchors, multi-line strings as blocks."""
    import yaml

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    def sequence(dumper: yaml.SafeDumper, value: list) -> yaml.SequenceNode:
        # short lists of plain values (commands, health-check tests) read best on one line
        flow = all(isinstance(item, (str, int)) and "\n" not in str(item) for item in value)
        return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow and len(value) <= 12)

    Dumper.add_representer(str, text)
    Dumper.add_representer(list, sequence)
    header = ("# Generated by airflow-compose (afc) from .env; `afc config` re-renders it.\n"
              "# Edits here are overwritten: put your changes in compose.override.yaml.\n")
    return header + yaml.dump(document, Dumper=Dumper, sort_keys=False, default_flow_style=False, width=4096)
