"""The project's settings: every variable afc keeps in `.env`, how it is read, and how `.env` is written.

Precedence: command-line flags > environment (`AFC_*`) > the project's `.env` > defaults.
"""
from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass

from ..errors import ProjectError
from . import dotenv


@dataclass(frozen=True)
class Setting:
    """One variable of `.env`: its name, default and the line that documents it."""

    name: str
    default: str
    doc: str
    secret: bool = False
    generated: bool = False  # a secret afc generates at `init`


# The order here is the order of `.env` and `.env.example`.
SETTINGS: tuple[Setting, ...] = (
    Setting("AFC_PROJECT_NAME", "", "Compose project name, chosen once by afc init: the folder's name, or "
            "<name>-<hash of the folder's path> when that is not a valid name or another folder's stack holds it"),
    Setting("AIRFLOW_IMAGE_NAME", "apache/airflow:3.3.2-python3.12",
            "Airflow image REPOSITORY:TAG; the tag decides the Airflow version and Python (--image, --tag)"),
    Setting("AFC_BASE_IMAGE", "", "the apache/airflow REPO:TAG `afc build` builds on; set by afc build, whose image "
            "AIRFLOW_IMAGE_NAME then names (empty: AIRFLOW_IMAGE_NAME is a stock image)"),
    Setting("AFC_ARCH", "auto", "CPU architecture of every service: auto (the engine's), amd64 or arm64 (--arch)"),
    Setting("AFC_EXECUTOR", "celery", "celery (Redis + Celery workers) or local (LocalExecutor) (--executor)"),
    Setting("AFC_LITE", "false", "true: one Airflow container on SQLite in a named volume, no Postgres or Redis "
            "(afc init --lite; needs AFC_EXECUTOR=local)"),
    Setting("AFC_WORKERS", "1", "number of Celery workers (--workers)"),
    Setting("AFC_WORKER_CONCURRENCY", "4", "task slots per Celery worker (Celery's default of 16 costs memory)"),
    Setting("AFC_WEB_WORKERS", "auto", "processes of the webserver (2.x) or api-server (3.x); auto: 1 on 3.x (one "
            "async process serves the UI and the task API), 2 on 2.x (a sync gunicorn worker serves one request)"),
    Setting("AFC_HOST", "127.0.0.1", "address published ports bind to; 0.0.0.0 exposes Airflow to your network (--host)"),
    Setting("AFC_PORT", "8080", "host port of the web UI (--port); auto: `afc up` picks a free one and writes it here"),
    Setting("AFC_FLOWER", "false", "run Flower, the Celery monitor (--flower)"),
    Setting("AFC_FLOWER_PORT", "5555", "host port of Flower"),
    Setting("AFC_POSTGRES_PORT", "", "publish Postgres on this host port (empty: not published)"),
    Setting("AFC_REDIS_PORT", "", "publish Redis on this host port (empty: not published)"),
    Setting("AFC_POSTGRES_IMAGE", "postgres:16", "Postgres image (--postgres-image)"),
    Setting("AFC_REDIS_IMAGE", "redis:7.2-bookworm", "Redis image (--redis-image)"),
    Setting("AFC_EXAMPLES", "false", "load Airflow's example DAGs (--examples/--no-examples)"),
    Setting("AFC_LOG_RETENTION_DAYS", "15", "task and component logs under logs/ older than this many days are "
            "deleted every 15 minutes (0: keep every log)"),
    Setting("AIRFLOW_UID", "", "uid the Airflow containers run as, with gid 0 (default: yours; 50000 for root)"),
    Setting("AFC_POSTGRES_USER", "airflow", "Postgres user of the metadata database"),
    Setting("AFC_POSTGRES_DB", "airflow", "Postgres database of the metadata database"),
    Setting("_AIRFLOW_WWW_USER_USERNAME", "admin", "the admin user created by init"),
    Setting("_AIRFLOW_WWW_USER_PASSWORD", "", "the admin user's password (generated)", secret=True, generated=True),
    Setting("AFC_POSTGRES_PASSWORD", "", "Postgres password (generated)", secret=True, generated=True),
    Setting("AFC_FERNET_KEY", "", "Fernet key encrypting connections and variables (generated)",
            secret=True, generated=True),
    Setting("AFC_WEB_SECRET_KEY", "", "secret key of the webserver/api-server sessions (generated)",
            secret=True, generated=True),
    Setting("AFC_JWT_SECRET", "", "JWT secret shared by every Airflow 3 container (generated)",
            secret=True, generated=True),
)
BY_NAME = {s.name: s for s in SETTINGS}
SECRET_NAMES = tuple(s.name for s in SETTINGS if s.secret)
# Variables a user may set in the environment to override `.env` (secrets only come from `.env`).
ENV_OVERRIDABLE = tuple(s.name for s in SETTINGS if not s.secret and s.name.startswith("AFC_"))


def generate_secret(name: str) -> str:
    if name == "AFC_FERNET_KEY":
        return base64.urlsafe_b64encode(os.urandom(32)).decode()
    # token_urlsafe never yields '$', so compose interpolation cannot mangle it
    return secrets.token_urlsafe(24 if "PASSWORD" in name else 32)


def parse_env_text(text: str, source: str = ".env", environ: dict[str, str] | None = None) -> dict[str, str]:
    """Parse `.env` text as docker compose does (see `dotenv`). afc's own settings get the value compose
    reads, and one compose would interpolate (`$NAME`, `${…}`) is refused: the stack would silently get
    another value than the one written. The user's own variables are kept as written, to be written back."""
    values: dict[str, str] = {}
    for entry in dotenv.parse(text, source):
        if entry.key not in BY_NAME:
            if not entry.inherited:  # a bare name only repeats the environment, which compose reads anyway
                values[entry.key] = entry.source
            continue
        if entry.inherited:
            environ = os.environ if environ is None else environ
            if entry.key in environ:
                values[entry.key] = environ[entry.key]
            continue
        if entry.references:
            raise ProjectError(interpolation_problem(entry, source), hint=interpolation_fix(entry))
        values[entry.key] = entry.value
    return values


def interpolation_problem(entry: "dotenv.Entry", source: str) -> str:
    shown = "a '$' followed by a name" if BY_NAME[entry.key].secret else repr(entry.references[0])
    return (f"{entry.key} on line {entry.line} of {source} contains {shown}: docker compose replaces it with "
            f"another variable's value, so the stack would not get the value written there")


def interpolation_fix(entry: "dotenv.Entry") -> str:
    return (f"write the value in single quotes ({entry.key}='...': compose takes every character literally), "
            f"or write each '$' as '$$'")


def env_line(key: str, value: str) -> str:
    return f"{key}={dotenv.quote(value)}"


def format_env(values: dict[str, str]) -> str:
    """`.env` text: afc's settings in their documented order, then any of the user's own variables."""
    lines = ["# airflow-compose project settings. Keep this file private: it holds the stack's secrets.",
             "# Edit a value and run `afc up` to apply it. Documentation of every variable: .env.example", ""]
    for setting in SETTINGS:
        if setting.name in values:
            lines.append(f"# {setting.doc}")
            lines.append(env_line(setting.name, values[setting.name]))
    extra = [k for k in values if k not in BY_NAME]
    if extra:
        lines += ["", "# Your own variables"]
        lines += [f"{k}={values[k]}" for k in extra]  # as the user wrote them (see parse_env_text)
    return "\n".join(lines) + "\n"


def format_env_example() -> str:
    """The text of `.env.example`: every variable, its default and what it does."""
    lines = ["# airflow-compose: every variable of a project's .env, with its default.",
             "# `afc init` writes .env (mode 0600) with your choices and generated secrets;",
             "# AFC_* variables set in your environment override .env (secrets excepted);",
             "# command-line flags override both. Not stored in .env: AFC_TAG and AFC_IMAGE (for `afc init",
             "# --tag/--image`, which write AIRFLOW_IMAGE_NAME) and AFC_PROJECT_DIR (`--project-dir`).", ""]
    for setting in SETTINGS:
        lines.append(f"# {setting.doc}")
        value = "<generated by afc init>" if setting.generated else setting.default
        lines.append(f"{setting.name}={value}")
    return "\n".join(lines) + "\n"


def effective(file_values: dict[str, str], environ: dict[str, str] | None = None,
              flags: dict[str, str] | None = None) -> dict[str, str]:
    """Merge the layers: defaults < .env < AFC_* environment < flags."""
    environ = os.environ if environ is None else environ
    merged = {s.name: s.default for s in SETTINGS if not s.generated}
    merged.update(file_values)
    merged.update({k: environ[k] for k in ENV_OVERRIDABLE if environ.get(k, "") != ""})
    merged.update({k: v for k, v in (flags or {}).items() if v is not None})
    return merged


if __name__ == "__main__":  # `python -m airflow_compose.stack.settings > .env.example`
    print(format_env_example(), end="")
