"""The project's stack as values for the official `apache-airflow` Helm chart (`afc export helm`; written by
`commands/export.py`).

Pure: a StackSpec and the project's values become a values dict (secret REFERENCES only) and the
Kubernetes Secret manifests holding the secret values of `.env`. Written against the chart's values schema
of chart 1.20.0-dev (appVersion 3.1.7).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..errors import UsageError
from .spec import StackSpec

DEFAULT_RELEASE = "airflow"
CHART_MIN_AIRFLOW = (2, 11, 0)   # "Version 2.11.0 and above is supported" (chart 1.20 values schema)
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
ADMIN_PASSWORD_ENV = "AFC_ADMIN_PASSWORD"


@dataclass(frozen=True)
class HelmExport:
    values: dict[str, Any]
    secrets: list[dict[str, Any]]
    warnings: tuple[str, ...]


def check_release(release: str) -> str:
    if not re.match(r"^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$", release):
        raise UsageError(f"release name {release!r} is not a valid Helm release name",
                         hint="use lower-case letters, digits and '-', starting and ending with a letter or digit "
                              "(at most 53 characters), e.g. --release airflow")
    return release


def secret_names(spec: StackSpec) -> dict[str, str]:
    """Kubernetes Secret names (DNS labels) for this project's secrets, keyed by role."""
    base = re.sub(r"[^a-z0-9-]+", "-", spec.project.lower()).strip("-")[:40] or "afc"
    roles = ["fernet-key", "metadata", "postgresql", "admin-user"]
    roles += ["api-secret-key", "jwt-secret"] if spec.major >= 3 else ["webserver-secret-key"]
    return {role: f"{base}-{role}" for role in roles}


def build_values(spec: StackSpec, release: str = DEFAULT_RELEASE) -> dict[str, Any]:
    """The chart's values for this stack: topology, image, executor and references to the secrets."""
    names = secret_names(spec)
    airflow3 = spec.major >= 3
    config: dict[str, dict[str, Any]] = {
        "core": {"load_examples": "True" if spec.examples else "False", "dags_are_paused_at_creation": "True"},
        "scheduler": {"enable_health_check": "True"},
    }
    if airflow3:
        config["core"]["auth_manager"] = FAB_AUTH_MANAGER
        config["api"] = {"workers": spec.web_workers}
    else:
        config["webserver"] = {"workers": spec.web_workers}
    if spec.celery:
        config["celery"] = {"worker_concurrency": spec.worker_concurrency}
    values: dict[str, Any] = {
        "airflowVersion": spec.tag.version,
        "defaultAirflowRepository": spec.image.repository,
        "defaultAirflowTag": spec.image.tag,
        "images": {"airflow": {"repository": spec.image.repository, "tag": spec.image.tag,
                               **({"digest": spec.image.digest} if spec.image.digest else {}),
                               "pullPolicy": "IfNotPresent"}},
        "executor": "CeleryExecutor" if spec.celery else "LocalExecutor",
        "uid": spec.airflow_uid,
        "gid": 0,
        "config": config,
        "scheduler": {"enabled": True, "replicas": 1},
        "triggerer": {"enabled": True, "replicas": 1},
        "dagProcessor": {"enabled": airflow3, "replicas": 1},
        "apiServer": {"enabled": airflow3},
        "webserver": {"enabled": not airflow3},
        "postgresql": {"enabled": True, "auth": {"username": spec.postgres_user, "database": spec.postgres_db,
                                                 "existingSecret": names["postgresql"]}},
        "redis": {"enabled": spec.celery},
        "flower": {"enabled": spec.celery and spec.flower},
        "fernetKeySecretName": names["fernet-key"],
        "data": {"metadataSecretName": names["metadata"]},
        "secret": [{"envName": ADMIN_PASSWORD_ENV, "secretName": names["admin-user"], "secretKey": "password"}],
        "createUserJob": {
            "defaultUser": {"enabled": True, "role": "Admin", "username": spec.admin_user},
            # the chart's default args pass the password from values; this one reads it from the Secret
            # (`--password=`: a password starting with '-' must not be read as a flag)
            "args": ["bash", "-c", f'exec airflow users create "$@" --password="${ADMIN_PASSWORD_ENV}"', "--",
                     "-r", "Admin", "-u", spec.admin_user, "-e", "admin@example.com", "-f", "admin", "-l", "user"],
        },
    }
    if airflow3:
        values["apiServer"]["replicas"] = 1
        values["apiSecretKeySecretName"] = names["api-secret-key"]
        values["jwtSecretName"] = names["jwt-secret"]
    else:
        values["webserver"]["replicas"] = 1
        values["webserverSecretKeySecretName"] = names["webserver-secret-key"]
    if spec.celery:
        # `workers.replicas` is valid in every chart release (1.20 also has workers.celery.replicas, which
        # falls back to this when unset); older releases reject the `celery` block.
        values["workers"] = {"replicas": spec.workers}
    return values


def metadata_connection(spec: StackSpec, password: str, release: str) -> str:
    user, db = quote(spec.postgres_user, safe=""), quote(spec.postgres_db, safe="")
    return f"postgresql://{user}:{quote(password, safe='')}@{release}-postgresql:5432/{db}?sslmode=disable"


def build_secrets(spec: StackSpec, values: dict[str, str], release: str = DEFAULT_RELEASE) -> list[dict[str, Any]]:
    """v1 Secret manifests (Opaque, stringData) with the secret values of `.env`, under the chart's key names."""
    names = secret_names(spec)
    password = values["AFC_POSTGRES_PASSWORD"]
    data = {
        "fernet-key": {"fernet-key": values["AFC_FERNET_KEY"]},
        "metadata": {"connection": metadata_connection(spec, password, release)},
        # the PostgreSQL subchart's auth.existingSecret keys: admin ('postgres') and the custom user
        "postgresql": {"postgres-password": password, "password": password},
        "admin-user": {"username": spec.admin_user, "password": values["_AIRFLOW_WWW_USER_PASSWORD"]},
        "api-secret-key": {"api-secret-key": values["AFC_WEB_SECRET_KEY"]},
        "jwt-secret": {"jwt-secret": values["AFC_JWT_SECRET"]},
        "webserver-secret-key": {"webserver-secret-key": values["AFC_WEB_SECRET_KEY"]},
    }
    return [{"apiVersion": "v1", "kind": "Secret",
             "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "airflow-compose"}},
             "type": "Opaque", "stringData": data[role]}
            for role, name in sorted(names.items(), key=lambda item: item[1])]


def export(spec: StackSpec, values: dict[str, str], release: str = DEFAULT_RELEASE) -> HelmExport:
    release = check_release(release)
    warnings = []
    if spec.tag.version_tuple < CHART_MIN_AIRFLOW:
        warnings.append(f"Airflow {spec.tag.version} is older than the chart's current line supports "
                        f"(2.11.0 and above): use a newer tag, or pin an older chart release with "
                        f"`helm install --version`")
    return HelmExport(build_values(spec, release), build_secrets(spec, values, release), tuple(warnings))


_HEADER = ("# Generated by airflow-compose (`afc export helm`) from .env for the apache-airflow Helm chart.\n"
           "# Secrets are referenced by name only; their values are in secrets.yaml (keep it out of git).\n")


def dump(document: Any, *, many: bool = False) -> str:
    """Deterministic YAML: sorted keys, no anchors, block style."""
    import yaml

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    if many:
        return yaml.dump_all(document, Dumper=Dumper, sort_keys=True, default_flow_style=False,
                             explicit_start=True, width=4096)
    return yaml.dump(document, Dumper=Dumper, sort_keys=True, default_flow_style=False, width=4096)


def values_text(result: HelmExport) -> str:
    return _HEADER + dump(result.values)


def secrets_text(result: HelmExport) -> str:
    return ("# Generated by airflow-compose (`afc export helm`): the secret values of .env as Kubernetes Secrets.\n"
            "# PRIVATE: never commit this file. Apply with `kubectl apply -f secrets.yaml`.\n"
            + dump(result.secrets, many=True))
