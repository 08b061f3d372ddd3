"""The validated, frozen specification of one stack, built from the project's settings."""
from __future__ import annotations

import ipaddress
import platform
import re
from dataclasses import dataclass

from ..errors import UsageError
from . import tags

ARCHES = ("amd64", "arm64")
EXECUTORS = ("celery", "local")
LITE_SERVICE = "airflow"
DATA_SERVICES = ("postgres", "redis")  # the services that do not run the Airflow image
_UNAME_TO_GOARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class EngineFacts:
    """What rendering needs to know about the Docker engine (probed once per command)."""

    arch: str                     # GOARCH style: amd64, arm64
    start_interval: bool          # Engine API >= 1.44 supports healthcheck start_interval


def host_facts() -> EngineFacts:
    """Facts to render with when no engine answers: this machine's arch, no start_interval."""
    return EngineFacts(arch=_UNAME_TO_GOARCH.get(platform.machine().lower(), "amd64"), start_interval=False)


@dataclass(frozen=True)
class PublishedPort:
    """A port the stack publishes on the host, with the setting that chooses it."""

    service: str
    host_port: int
    container_port: int
    setting: str
    what: str


@dataclass(frozen=True)
class StackSpec:
    project: str
    image: tags.ImageRef          # the image the Airflow services run
    tag: tags.Tag                 # its release: the tag of `base` when afc built the image, else of `image`
    arch: str
    executor: str
    workers: int
    worker_concurrency: int
    web_workers: int
    host: str
    port: int
    flower: bool
    flower_port: int
    postgres_port: int | None
    redis_port: int | None
    postgres_image: str
    redis_image: str
    examples: bool
    airflow_uid: int
    postgres_user: str
    postgres_db: str
    admin_user: str
    base: tags.ImageRef | None = None  # the apache/airflow image `afc build` built `image` on
    lite: bool = False                 # one Airflow container on SQLite (AFC_LITE)
    log_retention_days: int = 15       # 0: the stack has no log cleaner

    @property
    def major(self) -> int:
        return self.tag.major

    @property
    def celery(self) -> bool:
        return self.executor == "celery" and not self.lite

    @property
    def web_service(self) -> str:
        """The service serving the web UI (and Airflow's health endpoint)."""
        if self.lite:
            return LITE_SERVICE
        return "api-server" if self.major >= 3 else "webserver"

    @property
    def cli_service(self) -> str:
        """The service `afc airflow` and `afc shell` run in."""
        return LITE_SERVICE if self.lite else "scheduler"

    @property
    def airflow_executor(self) -> str:
        """Airflow's executor class. On SQLite Airflow 2 allows only the SequentialExecutor; Airflow 3 has no
        SequentialExecutor and runs the LocalExecutor on SQLite (what `airflow standalone` does)."""
        if self.celery:
            return "CeleryExecutor"
        return "SequentialExecutor" if self.lite and self.major < 3 else "LocalExecutor"

    @property
    def lite_components(self) -> tuple[str, ...]:
        """The Airflow components the lite container runs side by side."""
        web = ("api-server", "dag-processor") if self.major >= 3 else ("webserver",)
        return ("scheduler",) + web + ("triggerer",)

    @property
    def services(self) -> tuple[str, ...]:
        """Service names in start order."""
        if self.lite:
            return ("init", LITE_SERVICE)
        names = ["postgres"] + (["redis"] if self.celery else []) + ["init", "scheduler"]
        names += ["api-server", "dag-processor"] if self.major >= 3 else ["webserver"]
        names.append("triggerer")
        if self.celery:
            names.append("worker")
            if self.flower:
                names.append("flower")
        return tuple(names)

    @property
    def compose_services(self) -> tuple[str, ...]:
        """The services of the compose stack: `services` plus the log cleaner when logs expire (not in the
        one-container lite stack)."""
        return self.services + (("log-cleaner",) if self.log_retention_days and not self.lite else ())

    @property
    def data_services(self) -> tuple[str, ...]:
        """Postgres and Redis, as far as the stack has them."""
        return tuple(name for name in self.services if name in DATA_SERVICES)

    @property
    def airflow_services(self) -> tuple[str, ...]:
        """The compose services that run the Airflow image (init and the log cleaner included)."""
        return tuple(name for name in self.compose_services if name not in DATA_SERVICES)

    @property
    def published_ports(self) -> tuple[PublishedPort, ...]:
        """Every port the stack publishes on the host (the compose and Swarm stacks alike)."""
        candidates = [PublishedPort(self.web_service, self.port, 8080, "AFC_PORT", "web UI"),
                      PublishedPort("flower", self.flower_port, 5555, "AFC_FLOWER_PORT", "Flower"),
                      PublishedPort("postgres", self.postgres_port or 0, 5432, "AFC_POSTGRES_PORT", "Postgres"),
                      PublishedPort("redis", self.redis_port or 0, 6379, "AFC_REDIS_PORT", "Redis")]
        return tuple(port for port in candidates if port.host_port and port.service in self.services)

    def published_port(self, service: str) -> PublishedPort | None:
        return next((port for port in self.published_ports if port.service == service), None)

    def dependencies(self, service: str) -> dict[str, str]:
        """The services `service` waits for, each with the compose condition it waits on."""
        if self.lite:
            return {"init": "service_completed_successfully"} if service != "init" else {}
        if service in DATA_SERVICES or service == "log-cleaner":  # the log cleaner only needs the logs folder
            return {}
        needs = {"postgres": "service_healthy"}
        if service != "init":
            if self.celery:
                needs["redis"] = "service_healthy"
            needs["init"] = "service_completed_successfully"
        if service == "flower":
            needs["worker"] = "service_healthy"
        return needs

    def replicas(self, services: list[str]) -> dict[str, int]:
        """How many containers (or Swarm tasks) each service wants: the workers AFC_WORKERS, the others one."""
        return {name: (self.workers if name == "worker" else 1) for name in services}

    def with_dependencies(self, services: list[str]) -> list[str]:
        """`services` and everything they wait for, transitively."""
        needed: list[str] = []
        todo = list(services)
        while todo:
            name = todo.pop()
            if name not in needed:
                needed.append(name)
                todo += list(self.dependencies(name))
        return needed

    @property
    def postgres_major(self) -> int | None:
        """The PostgreSQL major the Postgres image's tag names (`postgres:16`, `postgres:18-bookworm`), if any."""
        tag = self.postgres_image.split("@")[0].rsplit("/", 1)[-1].partition(":")[2]
        digits = re.match(r"\d+", tag)
        return int(digits[0]) if digits else None

    @property
    def postgres_versioned_layout(self) -> bool:
        """Postgres 18+ images keep the data in <major>/docker of a volume at /var/lib/postgresql. A tag that
        names no major (`latest`, `alpine`) is today's newest release: 18 or later."""
        return self.postgres_major is None or self.postgres_major >= 18

    @property
    def postgres_data_mount(self) -> str:
        return "/var/lib/postgresql" if self.postgres_versioned_layout else "/var/lib/postgresql/data"

    @property
    def url(self) -> str:
        host = "localhost" if self.host in ("127.0.0.1", "0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"


def project_name_from(directory_name: str) -> str:
    name = re.sub(r"[^a-z0-9_-]+", "-", directory_name.lower()).strip("-_")
    return name if name and name[0].isalnum() else ("afc-" + name).strip("-") or "airflow"


def _int(values: dict[str, str], key: str, low: int, high: int, flag: str) -> int:
    raw = values.get(key, "")
    try:
        number = int(raw)
    except ValueError:
        raise UsageError(f"{key}={raw!r} is not a whole number", hint=f"set {flag} to a number from {low} to {high}")
    if not low <= number <= high:
        raise UsageError(f"{key}={number} is out of range", hint=f"set {flag} to a number from {low} to {high}")
    return number


def web_workers(values: dict[str, str], major: int) -> int:
    """AFC_WEB_WORKERS, `auto` (or unset) being 1 on Airflow 3 and 2 on Airflow 2. Airflow 3's api-server is one async
    uvicorn process; each more is another spawned interpreter building the whole app (~9 s of CPU at every start,
    ~250 MB). Airflow 2's gunicorn sync workers serve one request each, and the UI sends several at once."""
    if values.get("AFC_WEB_WORKERS", "auto").strip() in ("", "auto"):
        return 1 if major >= 3 else 2
    return _int(values, "AFC_WEB_WORKERS", 1, 32, "AFC_WEB_WORKERS (a number from 1 to 32, or auto)")


def _port(values: dict[str, str], key: str, flag: str) -> int | None:
    if values.get(key, "") == "":
        return None
    return _int(values, key, 1, 65535, flag)


def _bool(values: dict[str, str], key: str, flag: str) -> bool:
    raw = values.get(key, "").strip().lower()
    if raw in ("true", "1", "yes", "on"):
        return True
    if raw in ("false", "0", "no", "off", ""):
        return False
    raise UsageError(f"{key}={raw!r} is not true or false", hint=f"set {flag} to true or false")


def _choice(values: dict[str, str], key: str, choices: tuple[str, ...], flag: str) -> str:
    raw = values.get(key, "").strip().lower()
    if raw not in choices:
        raise UsageError(f"{key}={values.get(key, '')!r} is not one of: {', '.join(choices)}",
                         hint=f"set {flag} to one of: {', '.join(choices)}")
    return raw


def default_uid() -> int:
    """The invoking user's uid on Linux; 50000 (the image's airflow user) for root and elsewhere."""
    import os
    uid = os.getuid() if hasattr(os, "getuid") and platform.system() == "Linux" else 50000
    return 50000 if uid == 0 else uid


def check_combinations(values: dict[str, str]) -> None:
    """Settings that contradict each other are refused rather than silently ignored."""
    if _choice(values, "AFC_EXECUTOR", EXECUTORS, "--executor / AFC_EXECUTOR") == "local":
        local = "AFC_EXECUTOR=local (the LocalExecutor runs tasks in the scheduler: no Celery, no Redis)"
        if _bool(values, "AFC_FLOWER", "--flower / AFC_FLOWER"):
            raise UsageError(f"AFC_FLOWER=true needs Celery, but {local}",
                             hint="use --no-flower (AFC_FLOWER=false), or --executor celery to run Flower")
        if values.get("AFC_WORKERS", "1").strip() not in ("", "1"):
            raise UsageError(f"AFC_WORKERS={values['AFC_WORKERS']} asks for Celery workers, but {local}",
                             hint="leave AFC_WORKERS at 1 (--workers 1), or use --executor celery")
        if values.get("AFC_REDIS_PORT", ""):
            raise UsageError(f"AFC_REDIS_PORT={values['AFC_REDIS_PORT']} publishes Redis, but {local}",
                             hint="leave AFC_REDIS_PORT empty, or use --executor celery")


def build_spec(values: dict[str, str], facts: EngineFacts) -> StackSpec:
    """Validate effective settings into a StackSpec; every error names the variable or flag and the fix."""
    image = tags.split_image(values["AIRFLOW_IMAGE_NAME"], "AIRFLOW_IMAGE_NAME")
    base = tags.split_image(values["AFC_BASE_IMAGE"], "AFC_BASE_IMAGE") if values.get("AFC_BASE_IMAGE") else None
    tag = tags.parse_tag((base or image).tag)
    executor = _choice(values, "AFC_EXECUTOR", EXECUTORS, "--executor / AFC_EXECUTOR")
    arch_choice = _choice(values, "AFC_ARCH", ("auto",) + ARCHES, "--arch / AFC_ARCH")
    if tag.slim and base is None:  # every afc stack keeps its metadata in Postgres; Celery adds redis and celery
        needed = ", ".join(tags.STACK_PROVIDERS[tag.major])
        raise UsageError(
            f"the slim image '{image.text}' lacks the providers this stack needs ({needed})",
            hint=f"use the regular tag '{tag.variant(slim=False)}'; to run on the slim one, then run "
                 f"`afc build --slim`, which builds on it with those providers added")
    missing = tuple(p for p in tags.STACK_PROVIDERS[tag.major] if p not in tag.providers)
    if missing and not tag.slim and base is None:
        reason, fix = tags.missing_provider_problem(tag, missing)
        raise UsageError(f"{reason} (image '{image.text}')", hint=fix)
    lite = _bool(values, "AFC_LITE", "--lite / AFC_LITE")
    if lite and executor == "celery":
        raise UsageError("AFC_LITE=true runs no Celery (no Redis, no workers), but AFC_EXECUTOR=celery",
                         hint="set AFC_EXECUTOR=local in .env (afc init --lite writes it), or AFC_LITE=false")
    host = values.get("AFC_HOST", "127.0.0.1")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise UsageError(f"AFC_HOST={host!r} is not an IP address", hint="use --host 127.0.0.1 (or 0.0.0.0 to expose)")
    uid_raw = values.get("AIRFLOW_UID", "")
    uid = default_uid() if uid_raw == "" else _int(values, "AIRFLOW_UID", 1, 2**31 - 1, "AIRFLOW_UID")
    name = values.get("AFC_PROJECT_NAME", "")
    if not re.match(r"^[a-z0-9][a-z0-9_-]*$", name):
        raise UsageError(f"AFC_PROJECT_NAME={name!r} is not a valid compose project name",
                         hint="use lower-case letters, digits, '-' and '_', starting with a letter or digit")
    for key in ("AFC_POSTGRES_USER", "AFC_POSTGRES_DB", "_AIRFLOW_WWW_USER_USERNAME"):
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_.-]*$", values.get(key, "")):
            raise UsageError(f"{key}={values.get(key, '')!r} is not a plain name",
                             hint="use letters, digits and '_', starting with a letter")
    spec = StackSpec(
        project=name,
        image=image,
        tag=tag,
        arch=facts.arch if arch_choice == "auto" else arch_choice,
        executor=executor,
        workers=_int(values, "AFC_WORKERS", 1, 64, "--workers / AFC_WORKERS"),
        worker_concurrency=_int(values, "AFC_WORKER_CONCURRENCY", 1, 256, "AFC_WORKER_CONCURRENCY"),
        web_workers=web_workers(values, tag.major),
        host=host,
        port=_int(values, "AFC_PORT", 1, 65535, "--port / AFC_PORT"),
        flower=_bool(values, "AFC_FLOWER", "--flower / AFC_FLOWER"),
        flower_port=_int(values, "AFC_FLOWER_PORT", 1, 65535, "AFC_FLOWER_PORT"),
        postgres_port=_port(values, "AFC_POSTGRES_PORT", "AFC_POSTGRES_PORT"),
        redis_port=_port(values, "AFC_REDIS_PORT", "AFC_REDIS_PORT"),
        postgres_image=tags.check_service_image(values["AFC_POSTGRES_IMAGE"], "AFC_POSTGRES_IMAGE"),
        redis_image=tags.check_service_image(values["AFC_REDIS_IMAGE"], "AFC_REDIS_IMAGE"),
        examples=_bool(values, "AFC_EXAMPLES", "--examples / AFC_EXAMPLES"),
        airflow_uid=uid,
        postgres_user=values["AFC_POSTGRES_USER"],
        postgres_db=values["AFC_POSTGRES_DB"],
        admin_user=values["_AIRFLOW_WWW_USER_USERNAME"],
        base=base,
        lite=lite,
        log_retention_days=_int(values, "AFC_LOG_RETENTION_DAYS", 0, 36500, "AFC_LOG_RETENTION_DAYS"),
    )
    ports = [(spec.port, "AFC_PORT")]
    if spec.flower and spec.celery:
        ports.append((spec.flower_port, "AFC_FLOWER_PORT"))
    ports += [(p, k) for p, k in ((spec.postgres_port, "AFC_POSTGRES_PORT"), (spec.redis_port, "AFC_REDIS_PORT")) if p]
    seen: dict[int, str] = {}
    for port, key in ports:
        if port in seen:
            raise UsageError(f"{key} and {seen[port]} are both {port}", hint=f"give {key} another port")
        seen[port] = key
    return spec
