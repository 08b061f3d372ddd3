"""`afc export helm`: values for the official apache-airflow chart (validated against its values schema,
chart 1.20.0-dev / appVersion 3.1.7) and the Secret manifests; the command through the real CLI, no Docker."""
import json
import stat

import pytest

from airflow_compose.errors import UsageError
from airflow_compose.stack import helm, settings
from airflow_compose.stack.spec import EngineFacts, build_spec
from tests import helpers
from tests.helpers import DATA, VERSIONS, assert_valid, load_yaml, load_yaml_documents, run_afc, schema_validator

SCHEMA = "airflow-helm-chart-values.schema.json"
MATRIX = [(v, e) for v in VERSIONS for e in ("celery", "local")]


def values(**overrides):
    return helpers.values("s3cr3t-{}-value", **overrides)


def exported(version, executor, **extra):
    vals = values(AIRFLOW_IMAGE_NAME=VERSIONS[version], AFC_EXECUTOR=executor, **extra)
    spec = build_spec(vals, EngineFacts(arch="amd64", start_interval=False))
    return spec, vals, helm.export(spec, vals)


def loaded_values(result):
    return load_yaml(helm.values_text(result))


def test_schema_is_the_chart_1_20_values_schema():
    schema = json.loads((DATA / SCHEMA).read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema"
    assert schema["properties"]["airflowVersion"]["default"] == "3.1.7"
    assert "celery" in schema["properties"]["workers"]["properties"]  # the 1.20 worker layout


@pytest.mark.parametrize("version, executor", MATRIX)
@pytest.mark.parametrize("flower", ["true", "false"])
def test_values_are_valid_against_the_chart_schema(version, executor, flower):
    _spec, _vals, result = exported(version, executor, AFC_FLOWER=flower, AFC_WORKERS="3", AFC_EXAMPLES="true")
    assert_valid(SCHEMA, loaded_values(result))


def test_the_schema_catches_a_wrong_key():
    """The validation above means something: the chart's sections reject unknown keys."""
    _spec, _vals, result = exported("3.3.2", "celery")
    document = loaded_values(result)
    document["workers"]["replica"] = 2
    assert any("replica" in e.message for e in schema_validator(SCHEMA).iter_errors(document))


@pytest.mark.parametrize("version, executor", MATRIX)
def test_secret_values_never_appear_in_values_yaml(version, executor):
    _spec, vals, result = exported(version, executor)
    text = helm.values_text(result)
    for name in settings.SECRET_NAMES:
        assert vals[name] not in text, name
    assert "s3cr3t" not in text and "password:" not in text


@pytest.mark.parametrize("version, executor", MATRIX)
def test_secrets_yaml_holds_every_referenced_secret(version, executor):
    spec, vals, result = exported(version, executor)
    manifests = load_yaml_documents(helm.secrets_text(result))
    by_name = {m["metadata"]["name"]: m for m in manifests}
    for manifest in manifests:
        assert (manifest["apiVersion"], manifest["kind"], manifest["type"]) == ("v1", "Secret", "Opaque")
        assert all(isinstance(v, str) for v in manifest["stringData"].values())
    document = loaded_values(result)
    # every reference in values.yaml points at a manifest holding the key the chart reads
    references = {document["fernetKeySecretName"]: "fernet-key", document["data"]["metadataSecretName"]: "connection",
                  document["postgresql"]["auth"]["existingSecret"]: "password"}
    if version.startswith("3"):
        references[document["apiSecretKeySecretName"]] = "api-secret-key"
        references[document["jwtSecretName"]] = "jwt-secret"
        assert "webserverSecretKeySecretName" not in document
    else:
        references[document["webserverSecretKeySecretName"]] = "webserver-secret-key"
        assert "apiSecretKeySecretName" not in document and "jwtSecretName" not in document
    for env in document["secret"]:
        references[env["secretName"]] = env["secretKey"]
    for name, key in references.items():
        assert key in by_name[name]["stringData"], (name, key)
    assert set(references) == set(by_name)
    text = helm.secrets_text(result)
    used = ["AFC_FERNET_KEY", "AFC_POSTGRES_PASSWORD", "AFC_WEB_SECRET_KEY", "_AIRFLOW_WWW_USER_PASSWORD"]
    used += ["AFC_JWT_SECRET"] if version.startswith("3") else []
    for name in used:
        assert vals[name] in text, name
    connection = by_name[document["data"]["metadataSecretName"]]["stringData"]["connection"]
    assert connection == (f"postgresql://airflow:{vals['AFC_POSTGRES_PASSWORD']}@airflow-postgresql:5432/airflow"
                          "?sslmode=disable")


def test_topology_differs_by_version():
    _s, _v, two = exported("2.10.4", "celery")
    _s, _v, three = exported("3.3.2", "celery")
    v2, v3 = loaded_values(two), loaded_values(three)
    assert v2["webserver"] == {"enabled": True, "replicas": 1} and v2["apiServer"] == {"enabled": False}
    assert v2["dagProcessor"]["enabled"] is False
    assert v3["apiServer"] == {"enabled": True, "replicas": 1} and v3["webserver"] == {"enabled": False}
    assert v3["dagProcessor"]["enabled"] is True
    assert v2["config"]["webserver"] == {"workers": 2} and "api" not in v2["config"]
    assert v3["config"]["api"] == {"workers": 1} and "webserver" not in v3["config"]  # AFC_WEB_WORKERS=auto
    assert v3["config"]["core"]["auth_manager"].endswith("FabAuthManager")
    assert (v2["airflowVersion"], v3["airflowVersion"]) == ("2.10.4", "3.3.2")
    assert two.warnings and "2.11.0" in two.warnings[0] and not three.warnings


@pytest.mark.parametrize("version", VERSIONS)
def test_executor_settings(version):
    _s, _v, celery = exported(version, "celery", AFC_WORKERS="3", AFC_FLOWER="true", AFC_WORKER_CONCURRENCY="8")
    _s, _v, local = exported(version, "local", AFC_FLOWER="true", AFC_EXAMPLES="true")
    c, l = loaded_values(celery), loaded_values(local)
    assert c["executor"] == "CeleryExecutor" and c["redis"] == {"enabled": True} and c["flower"] == {"enabled": True}
    assert c["workers"] == {"replicas": 3} and c["config"]["celery"] == {"worker_concurrency": 8}
    assert c["config"]["core"]["load_examples"] == "False"
    assert l["executor"] == "LocalExecutor" and l["redis"] == {"enabled": False} and l["flower"] == {"enabled": False}
    assert "workers" not in l and "celery" not in l["config"]
    assert l["config"]["core"]["load_examples"] == "True"
    for doc in (c, l):
        assert doc["images"]["airflow"] == {"repository": "apache/airflow", "tag": f"{version}-python3.12",
                                            "pullPolicy": "IfNotPresent"}
        assert doc["defaultAirflowTag"] == f"{version}-python3.12"
        assert (doc["uid"], doc["gid"]) == (1000, 0) and doc["postgresql"]["enabled"] is True


def test_output_is_deterministic_and_has_no_anchors():
    _s, _v, first = exported("3.3.2", "celery")
    _s, _v, second = exported("3.3.2", "celery")
    for render in (helm.values_text, helm.secrets_text):
        text = render(first)
        assert text == render(second)
        assert "&id" not in text and "*id" not in text


@pytest.mark.parametrize("release", ["Airflow", "my_release", "-x", "a" * 54])
def test_bad_release_names_are_refused(release):
    spec, vals, _ = exported("3.3.2", "local")
    with pytest.raises(UsageError, match="not a valid Helm release name"):
        helm.export(spec, vals, release)


def test_release_name_sets_the_postgres_host():
    spec, vals, _ = exported("3.3.2", "local")
    manifests = helm.export(spec, vals, "prod").secrets
    connection = [m for m in manifests if m["metadata"]["name"] == "demo-metadata"][0]["stringData"]["connection"]
    assert "@prod-postgresql:5432/" in connection


# --- through the command line --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("helm") / "proj"
    run_afc("init", str(root), "--tag", "3.3.2-python3.12", "--workers", "2", check=True)
    return root


def _env_secrets(root):
    env = settings.parse_env_text((root / ".env").read_text())
    return {name: env[name] for name in settings.SECRET_NAMES}


def test_cli_writes_values_and_private_secrets(project):
    helm_dir = project / "helm"
    helm_dir.mkdir(exist_ok=True)
    (helm_dir / "README.txt").write_text("mine\n")
    (helm_dir / "values.yaml").write_text("old: true\n")
    done = run_afc("export", "helm", project=project, check=True)
    secrets_path, values_path = helm_dir / "secrets.yaml", helm_dir / "values.yaml"
    assert stat.S_IMODE(secrets_path.stat().st_mode) == 0o600
    assert (helm_dir / "README.txt").read_text() == "mine\n"
    values_text, secrets_text = values_path.read_text(), secrets_path.read_text()
    assert "old: true" not in values_text
    document = load_yaml(values_text)
    assert_valid(SCHEMA, document)
    assert document["workers"] == {"replicas": 2}
    for name, secret in _env_secrets(project).items():
        assert secret not in values_text, name
        assert secret in secrets_text, name
        assert secret not in done.stdout + done.stderr, name
    assert "keep it out of version control" in done.stderr
    assert "helm install airflow apache-airflow/airflow -f" in done.stderr
    assert "kubectl apply -f" in done.stderr


def test_cli_output_option_and_rerun_is_identical(project, tmp_path):
    target = tmp_path / "out" / "chart"
    run_afc("export", "helm", "--output", str(target), "--release", "prod", project=project, check=True)
    first = (target / "values.yaml").read_text(), (target / "secrets.yaml").read_text()
    assert "@prod-postgresql:5432/" in first[1]
    run_afc("export", "helm", "-o", str(target), "--release", "prod", project=project, check=True)
    assert ((target / "values.yaml").read_text(), (target / "secrets.yaml").read_text()) == first
    assert sorted(p.name for p in target.iterdir()) == ["secrets.yaml", "values.yaml"]


@pytest.mark.parametrize("args, words", [
    (["--release", "Bad_Name"], "release name 'Bad_Name' is not a valid Helm release name"),
    (["--output", ".env"], "is a file, not a folder"),
])
def test_cli_bad_input_fails_cleanly(project, args, words):
    if args[0] == "--output":
        args = ["--output", str(project / ".env")]
    done = run_afc("export", "helm", *args, project=project)
    assert done.returncode == 2, done.stderr
    assert words in done.stderr and "fix:" in done.stderr and "Traceback" not in done.stderr


def test_cli_outside_a_project_names_the_fix(tmp_path):
    done = run_afc("export", "helm", project=tmp_path)
    assert done.returncode == 3 and "is not an afc project" in done.stderr and "afc init" in done.stderr
    assert not (tmp_path / "helm").exists()


@pytest.mark.parametrize("password", ["-starts-with-a-dash", "plain"])
def test_the_create_user_job_hands_any_password_to_airflow_as_a_value(tmp_path, password):
    """The job's args run as given (bash, with a stand-in `airflow` that prints its arguments): the password
    from the Secret reaches `users create` as the value of --password, even when it starts with '-'."""
    import os
    import subprocess

    _spec, _vals, result = exported("3.3.2", "celery")
    args = result.values["createUserJob"]["args"]
    (tmp_path / "airflow").write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    (tmp_path / "airflow").chmod(0o755)
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}", helm.ADMIN_PASSWORD_ENV: password}
    printed = subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout.splitlines()
    assert printed[:2] == ["users", "create"] and f"--password={password}" in printed
