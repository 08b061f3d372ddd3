"""`afc swarm`: the stack file (secrets never inline, init as a job, overlay network, health checks, replicas, no
bind mounts), the phased deploy, the wait decisions and removal, against a fake engine: no Docker, no real time."""
import datetime as dt
import re
import sys
from pathlib import Path

import pytest

from airflow_compose import engine
from airflow_compose.commands import readiness, swarm
from airflow_compose.errors import EnvironmentProblem, StackError, UsageError
from airflow_compose.stack import render, settings, swarm_file
from airflow_compose.stack.spec import EngineFacts, build_spec
from tests import helpers
from tests.helpers import VERSIONS, FakeClock, assert_valid, load_yaml, run_afc

IMAGE = "demo-airflow:0123456789ab"


def values(**overrides):
    return helpers.values("Secret-{}-Value/+=", **overrides)  # characters a URL must quote


def spec_for(version="2.10.4", executor="celery", **extra):
    return build_spec(values(AIRFLOW_IMAGE_NAME=VERSIONS[version], AFC_EXECUTOR=executor, **extra),
                      EngineFacts(arch="amd64", start_interval=False))


def stack(version="2.10.4", executor="celery", routing_mesh=False, services=None, **extra):
    spec = spec_for(version, executor, **extra)
    secrets = swarm_file.plan_secrets(spec, values(AIRFLOW_IMAGE_NAME=VERSIONS[version], AFC_EXECUTOR=executor, **extra))
    return spec, secrets, swarm_file.render_stack(spec, IMAGE, secrets, routing_mesh=routing_mesh, services=services)


VARIANTS = [(v, e) for v in VERSIONS for e in ("celery", "local")]


# --- the stack file ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version, executor", VARIANTS)
def test_no_secret_value_is_in_the_stack_file(version, executor):
    spec, secrets, document = stack(version, executor)
    text = swarm_file.to_yaml(document)
    for name in settings.SECRET_NAMES:
        assert f"Secret-{name.lower()}" not in text, name
    assert not re.search(r"(?<!\$)\$\{", text), "no interpolation of .env: the stack file stands alone"
    for secret in secrets:
        assert secret.value not in text
        assert secret.value not in repr(secret), "a secret's repr never shows its value"
    for service in document["services"].values():
        for key, value in service.get("environment", {}).items():
            assert not key.endswith(("PASSWORD", "FERNET_KEY", "SECRET_KEY", "JWT_SECRET", "SQL_ALCHEMY_CONN",
                                     "RESULT_BACKEND")), key


@pytest.mark.parametrize("version, executor", VARIANTS)
def test_secrets_are_docker_secrets_read_through_cmd_variables(version, executor):
    spec, secrets, document = stack(version, executor)
    declared = document["secrets"]
    assert {s.role for s in secrets} == set(declared)
    for role, entry in declared.items():
        assert entry["external"] is True and entry["name"].startswith("demo-swarm-" + role + "-")
    for name, service in document["services"].items():
        targets = {s["target"] for s in service.get("secrets", [])}
        for key, value in service.get("environment", {}).items():
            if key.endswith(("_CMD", "_FILE")):
                path = value.split()[-1]
                assert path.startswith("/run/secrets/") and path.rsplit("/", 1)[1] in targets, (name, key)
        assert {s["source"] for s in service.get("secrets", [])} <= set(declared)
    airflow = document["services"]["scheduler"]["environment"]
    assert airflow["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD"] == "cat /run/secrets/sql_alchemy_conn"
    assert airflow["AIRFLOW__CORE__FERNET_KEY_CMD"] == "cat /run/secrets/fernet_key"
    if version.startswith("3"):
        assert "AIRFLOW__API_AUTH__JWT_SECRET_CMD" in airflow and "AIRFLOW__API__SECRET_KEY_CMD" in airflow
    else:
        assert "AIRFLOW__WEBSERVER__SECRET_KEY_CMD" in airflow and "jwt-secret" not in declared
    assert ("AIRFLOW__CELERY__RESULT_BACKEND_CMD" in airflow) == (executor == "celery")
    init = document["services"]["init"]
    assert init["environment"]["_AIRFLOW_WWW_USER_PASSWORD_CMD"] == "cat /run/secrets/admin_password"
    assert "admin_password" not in {s["target"] for s in document["services"]["scheduler"]["secrets"]}
    postgres = document["services"]["postgres"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert "POSTGRES_PASSWORD" not in postgres["environment"]
    assert [s["target"] for s in postgres["secrets"]] == ["postgres_password"]
    assert "docker-entrypoint.sh postgres" in postgres["command"][-1]


def test_secret_values_build_the_urls_with_the_password_quoted():
    spec = spec_for()
    found = swarm_file.secret_values(spec, values(AFC_POSTGRES_PASSWORD="p@ss:/word"))
    assert found["sql-alchemy-conn"] == "postgresql+psycopg2://airflow:p%40ss%3A%2Fword@postgres:5432/airflow"
    assert found["result-backend"].startswith("db+postgresql://airflow:p%40ss%3A%2Fword@postgres:5432/")
    assert found["postgres-password"] == "p@ss:/word"


def test_secret_names_carry_a_content_hash():
    spec = spec_for()
    first = {s.role: s.name for s in swarm_file.plan_secrets(spec, values())}
    again = {s.role: s.name for s in swarm_file.plan_secrets(spec, values())}
    changed = {s.role: s.name for s in swarm_file.plan_secrets(spec, values(AFC_FERNET_KEY="another"))}
    assert first == again
    assert changed["fernet-key"] != first["fernet-key"]
    assert {k: v for k, v in changed.items() if k != "fernet-key"} == \
        {k: v for k, v in first.items() if k != "fernet-key"}


def test_names_fit_swarm_limits_and_a_too_long_project_is_refused():
    longest = "p" * swarm_file.MAX_PROJECT_LENGTH
    spec = spec_for("3.3.2", AFC_PROJECT_NAME=longest)
    for secret in swarm_file.plan_secrets(spec, values(AFC_PROJECT_NAME=longest)):
        assert len(secret.name) <= 64, secret.name
    assert all(len(f"{swarm_file.stack_name(spec)}_{name}") <= 63 for name in spec.services)
    too_long = spec_for(AFC_PROJECT_NAME=longest + "x")
    with pytest.raises(UsageError) as error:
        swarm_file.stack_name(too_long)
    assert longest + "x" in error.value.message and "AFC_PROJECT_NAME" in error.value.hint


def test_stack_name_never_meets_the_compose_project():
    assert swarm_file.stack_name(spec_for()) == "demo-swarm"


@pytest.mark.parametrize("version, executor", VARIANTS)
def test_init_is_a_one_shot_job_the_rest_restart(version, executor):
    spec, _, document = stack(version, executor)
    init = document["services"]["init"]
    assert init["deploy"]["mode"] == "replicated-job" and init["deploy"]["replicas"] == 1
    assert init["deploy"]["restart_policy"] == {"condition": "none"}
    assert "healthcheck" not in init and "depends_on" not in init
    for name, service in document["services"].items():
        assert "restart" not in service and "depends_on" not in service and "platform" not in service
        if name != "init":
            assert service["deploy"]["mode"] == "replicated"
            assert service["deploy"]["restart_policy"]["condition"] == "any"
        assert "node.platform.arch == x86_64" in service["deploy"]["placement"]["constraints"]


def test_arm64_places_on_aarch64_nodes():
    spec = spec_for(AFC_ARCH="arm64")
    document = swarm_file.render_stack(spec, IMAGE, swarm_file.plan_secrets(spec, values()))
    assert "node.platform.arch == aarch64" in document["services"]["worker"]["deploy"]["placement"]["constraints"]


@pytest.mark.parametrize("version, executor", VARIANTS)
def test_overlay_network_named_volumes_only_and_the_baked_image(version, executor):
    spec, _, document = stack(version, executor)
    assert document["networks"] == {"default": {"driver": "overlay"}}
    assert set(document["volumes"]) == {"postgres-data", "airflow-logs"}
    for name, service in document["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source in document["volumes"], f"{name}: {volume} is a bind mount"
            assert not source.startswith((".", "/", "~"))
        if name in ("postgres", "redis"):
            assert service["image"] in (spec.postgres_image, spec.redis_image)
        else:
            assert service["image"] == IMAGE
            assert service["volumes"] == ["airflow-logs:/opt/airflow/logs"]
            assert service["user"] == "1000:0"
            assert "CONNECTION_CHECK_MAX_COUNT" not in service["environment"], "the image's DB wait stays on"
            assert not any("/opt/airflow/dags" in v for v in service["volumes"]), "DAGs are baked into the image"


@pytest.mark.parametrize("version, executor", VARIANTS)
def test_every_long_running_service_keeps_its_health_check(version, executor):
    spec, _, document = stack(version, executor)
    compose = render.render(spec, EngineFacts("amd64", False))["services"]
    for name, service in document["services"].items():
        if name == "init":
            continue
        check = service["healthcheck"]
        assert "start_interval" not in check, "the docker CLI's stack loader rejects start_interval"
        # nothing else probes a starting task: a short interval, calm for 30 s after each success
        assert check["interval"] in ("2s", "3s") and compose[name]["healthcheck"]["interval"] == "30s"
        assert check["start_period"] == compose[name]["healthcheck"]["start_period"]
        test = " ".join(check["test"])
        if name in ("triggerer", "dag-processor"):
            assert "/run/secrets/sql_alchemy_conn" in test and 'environ["AIRFLOW__DATABASE' not in test
        elif name in ("postgres", "redis"):
            assert check["test"] == compose[name]["healthcheck"]["test"]
        else:
            calm = re.compile(r"if \[ -n \"\$\$1\" \] && \[ \"\$\$2\" = 0 \] && .*? -lt 30 \]; then exit 0; fi;")
            assert calm.search(check["test"][1]), name
            plain = compose[name]["healthcheck"]["test"][1]
            assert " ".join(calm.sub("", check["test"][1]).split()) == " ".join(plain.split())


def test_worker_replicas_follow_the_spec():
    _, _, document = stack(AFC_WORKERS="3")
    assert document["services"]["worker"]["deploy"]["replicas"] == 3
    assert document["services"]["worker"]["stop_grace_period"] == "30s"


def test_ports_on_the_node_by_default_or_through_the_routing_mesh():
    _, _, plain = stack(AFC_PORT="18500", AFC_FLOWER="true")
    assert plain["services"]["webserver"]["ports"] == [{"target": 8080, "published": 18500, "protocol": "tcp",
                                                       "mode": "host"}]
    assert plain["services"]["flower"]["ports"][0]["published"] == 5555
    assert all(s["deploy"].get("endpoint_mode", "dnsrr") == "dnsrr" for s in plain["services"].values())
    assert "ports" not in plain["services"]["postgres"]
    _, _, mesh = stack(routing_mesh=True, AFC_POSTGRES_PORT="15432")
    assert mesh["services"]["webserver"]["ports"][0]["mode"] == "ingress"
    assert mesh["services"]["postgres"]["ports"][0] == {"target": 5432, "published": 15432, "protocol": "tcp",
                                                        "mode": "ingress"}
    assert mesh["services"]["scheduler"]["deploy"]["endpoint_mode"] == "vip"


def test_a_phase_renders_only_its_services_and_secrets():
    _, _, first = stack(services=["postgres", "redis"])
    assert list(first["services"]) == ["postgres", "redis"]
    assert list(first["secrets"]) == ["postgres-password"]
    assert set(first["volumes"]) == {"postgres-data"}
    _, _, third = stack(services=["postgres", "redis", "scheduler", "webserver", "triggerer", "worker"])
    assert "init" not in third["services"] and "admin-password" not in third["secrets"]


def test_rendering_is_deterministic_and_leaves_the_compose_file_alone():
    spec = spec_for("3.3.2")
    compose_before = render.to_yaml(render.render(spec, EngineFacts("amd64", False)))
    first = swarm_file.to_yaml(stack("3.3.2")[2])
    assert first == swarm_file.to_yaml(stack("3.3.2")[2])
    assert "&id" not in first and "*id" not in first
    assert first.startswith("# Docker Swarm stack generated by airflow-compose")
    assert render.to_yaml(render.render(spec, EngineFacts("amd64", False))) == compose_before


@pytest.mark.parametrize("version, executor", VARIANTS)
def test_valid_against_compose_spec_schema(version, executor):
    assert_valid("compose-spec.json", load_yaml(swarm_file.to_yaml(stack(version, executor, AFC_FLOWER="true")[2])))


# --- judging a stack's tasks -------------------------------------------------------------------------------

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)


def svc(name, replicas=1, job=False, update="", healthcheck=True, iteration=0):
    return engine.SwarmService(id=f"id-{name}", name=f"demo-swarm_{name}",
                               mode="replicated-job" if job else "replicated",
                               replicas=replicas, image=IMAGE, healthcheck=healthcheck and not job, ports=(),
                               job_iteration=iteration if job else None, update_state=update)


def task(name, state="running", slot=1, desired="running", error="", seconds=0, exit_code=None, iteration=None):
    return engine.SwarmTask(id=f"t-{name}-{slot}-{state}-{seconds}", service_id=f"id-{name}", slot=slot, node_id="n",
                            state=state, desired_state=desired, message="", error=error, exit_code=exit_code,
                            container_id="", timestamp=T0 + dt.timedelta(seconds=seconds), job_iteration=iteration)


def judge(services, tasks, wanted, now_seconds=5):
    return swarm.judge("demo-swarm", swarm.Snapshot(tuple(services), tuple(tasks)), wanted, T0,
                       T0 + dt.timedelta(seconds=now_seconds))


def test_ready_when_every_replica_runs_and_the_job_completed():
    services = [svc("postgres"), svc("init", job=True), svc("worker", 2)]
    tasks = [task("postgres"), task("init", "complete", desired="complete", exit_code=0, iteration=0),
             task("worker"), task("worker", "starting", slot=2)]
    verdict = judge(services, tasks, {"postgres": 1, "init": 1, "worker": 2})
    assert not verdict.ready and not verdict.failures
    worker = [r for r in verdict.rows if r.service == "worker"][0]
    assert (worker.ready, worker.wanted, worker.health) == (1, 2, "healthy/starting")
    tasks[-1] = task("worker", slot=2)
    assert judge(services, tasks, {"postgres": 1, "init": 1, "worker": 2}).ready


def test_a_failed_init_fails_at_once_an_old_run_does_not_count():
    services = [svc("init", job=True, iteration=2)]
    old = task("init", "failed", desired="complete", error="task: non-zero exit (1)", exit_code=1, iteration=1)
    verdict = judge(services, [old, task("init", "running", desired="complete", iteration=2)], {"init": 1})
    assert not verdict.failures and not verdict.ready
    failed = task("init", "failed", desired="complete", error="task: non-zero exit (1)", exit_code=1, iteration=2)
    verdict = judge(services, [old, failed], {"init": 1})
    assert [f.service for f in verdict.failures] == ["init"] and "non-zero exit (1)" in verdict.failures[0].reason
    assert verdict.rows[0].health == "exit 1"


def test_a_crash_loop_fails_a_missing_image_fails_at_once():
    services = [svc("scheduler")]
    crashes = [task("scheduler", "failed", desired="shutdown", error="task: non-zero exit (1)", seconds=i)
               for i in range(2)]
    assert not judge(services, crashes + [task("scheduler", "starting", seconds=3)], {"scheduler": 1}).failures
    crashes.append(task("scheduler", "failed", desired="shutdown", error="task: non-zero exit (1)", seconds=4))
    verdict = judge(services, crashes, {"scheduler": 1})
    assert "keeps failing (3 failed tasks)" in verdict.failures[0].reason
    before = task("scheduler", "failed", desired="shutdown", error="old", seconds=-60)
    assert not judge(services, [before] * 3, {"scheduler": 1}).failures, "failures before this deploy do not count"
    missing = task("scheduler", "rejected", desired="shutdown", error="No such image: demo-airflow:0123")
    assert "No such image" in judge(services, [missing], {"scheduler": 1}).failures[0].reason


def test_a_task_no_node_can_take_fails_after_a_while():
    services = [svc("webserver")]
    stuck = task("webserver", "pending", error="no suitable node (host-mode port already in use on 1 node)")
    assert not judge(services, [stuck], {"webserver": 1}, now_seconds=5).failures
    verdict = judge(services, [stuck], {"webserver": 1}, now_seconds=swarm.STUCK_PENDING + 1)
    assert "host-mode port already in use" in verdict.failures[0].reason


def test_an_update_in_progress_is_not_ready_a_paused_one_fails():
    running = [task("scheduler")]
    verdict = judge([svc("scheduler", update="updating")], running, {"scheduler": 1})
    assert not verdict.ready and not verdict.failures and "(updating)" in verdict.rows[0].state
    assert judge([svc("scheduler", update="completed")], running, {"scheduler": 1}).ready
    paused = judge([svc("scheduler", update="paused")], running, {"scheduler": 1})
    assert "update of scheduler stopped (paused)" in paused.failures[0].reason


def test_tasks_being_replaced_are_not_counted():
    tasks = [task("worker", "running", desired="shutdown"), task("worker", "running", slot=2),
             task("worker", "running", slot=3, desired="remove")]
    verdict = judge([svc("worker", 1)], tasks, {"worker": 1})
    assert verdict.ready and verdict.rows[0].ready == 1


def test_wait_times_out_and_reports_each_poll():
    clock = FakeClock()
    seen = []
    snap = swarm.Snapshot((svc("scheduler"),), (task("scheduler", "starting"),))

    class Phase(swarm.SwarmBackend):
        def verdict(self, wanted):
            return swarm.judge("demo-swarm", snap, wanted, T0, T0)

    outcome = readiness.wait(Phase(None, "airflow", T0), {"scheduler": 1}, 10,
                             lambda verdict, elapsed: seen.append(elapsed), clock=clock, sleep=clock.sleep, poll=2.0)
    assert outcome.timed_out and seen[0] == 0 and seen[-1] >= 10 and seen[1] == 2.0


# --- deploy, scale and rm against a fake engine ---------------------------------------------------------------

class FakeStack:
    """A swarm that runs what it is given at once; `init_fails` makes the init job fail."""

    def __init__(self, name="demo-swarm", init_fails=False):
        self.name = name
        self.init_fails = init_fails
        self.deployed: list[dict] = []
        self.live: dict[str, engine.SwarmService] = {}
        self.created: dict[str, str] = {}
        self.removed_secrets: list[str] = []
        self.stopped_removed = 0
        self.volume_list = ["demo-swarm_airflow-logs", "demo-swarm_postgres-data"]
        self.removed_volumes: list[str] = []
        self.scaled = None

    def deploy(self, path, registry_auth=False):
        document = load_yaml(Path(path).read_text())
        self.deployed.append(document)
        for name, service in document["services"].items():
            job = service["deploy"]["mode"] == "replicated-job"
            iteration = (self.live[name].job_iteration + 1) if name in self.live and job else 0
            self.live[name] = svc(name, service["deploy"]["replicas"], job=job, iteration=iteration)

    def services(self):
        return list(self.live.values())

    def tasks(self, services):
        out = []
        for s in services:
            name = swarm.short_name(self.name, s.name)
            if s.job:
                failed = self.init_fails
                out.append(task(name, "failed" if failed else "complete", desired="complete",
                                exit_code=1 if failed else 0, error="task: non-zero exit (1)" if failed else "",
                                iteration=s.job_iteration, seconds=3600))
            else:
                out += [task(name, slot=i + 1, seconds=3600) for i in range(s.replicas)]
        return out

    def secrets(self):
        return sorted(set(self.created) | {"demo-swarm-fernet-key-00000000"}) if self.deployed else []

    def create_secret(self, name, value, labels):
        self.created[name] = value

    def remove_secret(self, name):
        self.removed_secrets.append(name)
        return True

    def logs_text(self, service, tail=25):
        return "[entrypoint] running airflow db migrate\nsqlalchemy.exc.OperationalError: FATAL:  password " \
               "authentication failed for user \"airflow\""

    def scale(self, service, replicas):
        self.scaled = (service, replicas)
        self.live[service] = svc(service, replicas)

    def remove(self):
        self.live.clear()

    def containers(self, running=False):
        return []

    def networks(self):
        return []

    def remove_stopped_containers(self):
        self.stopped_removed += 1
        return 1

    def volumes(self):
        return list(self.volume_list)

    def remove_volume(self, name):
        self.removed_volumes.append(name)
        return True


class FakeBuild:
    def __init__(self):
        self.calls = []

    def build(self, project, **kwargs):
        self.calls.append(kwargs)
        from types import SimpleNamespace
        return SimpleNamespace(image=IMAGE, built=True, seconds=1.0)


@pytest.fixture
def fake(monkeypatch, tmp_path):
    from airflow_compose.project.files import Project

    monkeypatch.setattr(swarm, "require_manager", lambda: None)
    monkeypatch.setattr(swarm.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(engine, "docker_endpoint", lambda: "ssh://elsewhere")
    from airflow_compose.commands import pull
    monkeypatch.setattr(pull, "pull_missing", lambda images, on_progress, outcome="": pull.PullSummary((), 0.0))
    builder = FakeBuild()
    from airflow_compose import commands
    monkeypatch.setitem(sys.modules, "airflow_compose.commands.build", builder)
    monkeypatch.setattr(commands, "build", builder, raising=False)

    def make(init_fails=False, **extra):
        spec = spec_for(**extra)
        fake_stack = FakeStack(init_fails=init_fails)
        ctx = swarm.SwarmContext(Project(tmp_path), spec, values(**extra), fake_stack)
        return ctx, fake_stack, builder
    return make


def test_deploy_builds_with_dags_then_runs_three_phases(fake):
    ctx, stack_, builder = fake(AFC_WORKERS="2")
    phases = []
    result = swarm.deploy(ctx, timeout=30, on_phase=phases.append)
    assert builder.calls[0]["bake_dags"] is True and builder.calls[0]["switch"] is False
    first, second, third = (list(doc["services"]) for doc in stack_.deployed)
    assert first == ["postgres", "redis"], "nothing but the databases starts first"
    assert second == ["postgres", "redis", "init"], "init runs once the databases are healthy"
    assert "init" not in third and {"scheduler", "webserver", "triggerer", "worker"} <= set(third)
    assert len(phases) == 4 and phases[1].startswith("phase 1/3")
    assert result.image == IMAGE and result.built and result.status.healthy
    assert list(result.phases) == ["build", "databases", "init", "airflow"]
    assert set(result.secrets_created) == {s.name for s in swarm_file.plan_secrets(ctx.spec, ctx.values)}
    assert result.secrets_removed == ("demo-swarm-fernet-key-00000000",), "a replaced secret is removed"
    assert any("cannot bind published ports to 127.0.0.1" in w for w in result.warnings)
    for secret in swarm_file.plan_secrets(ctx.spec, ctx.values):
        assert stack_.created[secret.name] == secret.value


def test_a_first_deploy_needs_its_ports_free(fake, monkeypatch):
    from airflow_compose.commands import ports

    ctx, stack_, builder = fake(AFC_PORT="18080")
    monkeypatch.setattr(engine, "docker_endpoint", lambda: "unix:///var/run/docker.sock")
    monkeypatch.setattr(ports, "port_free", lambda host, port: port != 18080)
    with pytest.raises(EnvironmentProblem) as error:
        swarm.deploy(ctx, timeout=30)
    assert "port 18080 (AFC_PORT) is already in use" in error.value.message and "AFC_PORT" in error.value.hint
    assert not stack_.deployed and not stack_.created and not builder.calls, "nothing was changed"


def test_deploy_with_a_given_image_does_not_build(fake):
    ctx, stack_, builder = fake()
    result = swarm.deploy(ctx, timeout=30, image="registry.example/airflow:1")
    assert not builder.calls and not result.built and "build" not in result.phases
    assert stack_.deployed[-1]["services"]["scheduler"]["image"] == "registry.example/airflow:1"


def test_a_failed_init_stops_the_deploy_before_airflow_starts(fake):
    ctx, stack_, _ = fake(init_fails=True)
    with pytest.raises(StackError) as error:
        swarm.deploy(ctx, timeout=30)
    assert error.value.exit_code == 5
    assert "init failed: task: non-zero exit (1)" in error.value.message
    assert "password authentication failed" in error.value.message, "the cause line from init's logs"
    assert "--- last log lines of init:" in error.value.details
    assert len(stack_.deployed) == 2, "the Airflow services were never deployed"


def test_scale_checks_its_input_and_waits_for_the_workers(fake):
    ctx, stack_, _ = fake()
    with pytest.raises(UsageError, match="cannot scale 'scheduler'"):
        swarm.scale(ctx, "scheduler", 2, 30)
    with pytest.raises(UsageError, match="cannot scale workers to 0"):
        swarm.scale(ctx, "workers", 0, 30)
    with pytest.raises(StackError, match="not deployed"):
        swarm.scale(ctx, "workers", 3, 30)
    swarm.deploy(ctx, timeout=30)
    result = swarm.scale(ctx, "workers", 3, 30)
    assert stack_.scaled == ("worker", 3) and result.replicas == 3 and result.configured == 1
    local, _, _ = fake(executor="local")
    with pytest.raises(UsageError, match="LocalExecutor"):
        swarm.scale(local, "workers", 2, 30)


def test_rm_keeps_volumes_unless_asked(fake):
    ctx, stack_, _ = fake()
    swarm.deploy(ctx, timeout=30)
    kept = swarm.remove(ctx, volumes=False)
    assert kept.deployed and "scheduler" in kept.services and kept.kept_volumes == tuple(stack_.volume_list)
    assert stack_.stopped_removed == 1, "the completed init's container is removed: it holds the volumes"
    assert not stack_.removed_volumes and kept.secrets
    gone = swarm.remove(ctx, volumes=True)
    assert gone.volumes == tuple(stack_.volume_list) and not gone.kept_volumes


def test_status_of_a_stack_that_is_not_deployed(fake):
    ctx, _, _ = fake()
    result = swarm.status(ctx)
    assert not result.deployed and result.as_dict()["services"] == []


def test_require_manager_explains_what_to_do(monkeypatch):
    info = engine.SwarmInfo(state="inactive", manager=False, node_id="", node_addr="", nodes=0, error="")
    monkeypatch.setattr(engine, "swarm_info", lambda: info)
    with pytest.raises(EnvironmentProblem) as error:
        swarm.require_manager()
    assert error.value.exit_code == 4 and "docker swarm init --advertise-addr 127.0.0.1" in error.value.hint
    monkeypatch.setattr(engine, "swarm_info", lambda: engine.SwarmInfo("active", False, "n", "10.0.0.2", 0, ""))
    with pytest.raises(EnvironmentProblem, match="swarm worker"):
        swarm.require_manager()


# --- the command line (no Docker: DOCKER_HOST points nowhere) -------------------------------------------------

@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("swarm") / "proj"
    done = run_afc("init", str(root), "--tag", "2.10.4-python3.11", "--workers", "2")
    assert done.returncode == 0, done.stderr
    return root


def test_swarm_config_prints_a_stack_file_without_secrets(project):
    done = run_afc("-C", str(project), "swarm", "config")
    assert done.returncode == 0, done.stderr
    document = load_yaml(done.stdout)
    assert document["services"]["init"]["deploy"]["mode"] == "replicated-job"
    env = (project / ".env").read_text()
    for line in env.splitlines():
        if "=" in line and line.split("=", 1)[0] in settings.SECRET_NAMES:
            assert line.split("=", 1)[1] not in done.stdout
    assert not (project / "swarm.yaml").exists(), "config prints; it writes nothing"


@pytest.mark.parametrize("args, code, words", [
    (["swarm", "scale", "scheduler", "2"], 2, "cannot scale 'scheduler'"),
    (["swarm", "scale", "workers", "0"], 2, "cannot scale workers to 0"),
    (["swarm", "config", "--image", "no-tag"], 2, "image 'no-tag' has no tag"),
    (["swarm", "rm", "--volumes"], 2, "add --yes"),
    (["swarm", "status"], 4, "Docker engine"),
    (["swarm", "deploy"], 4, "Docker engine"),
])
def test_bad_input_and_no_engine_exit_by_category(project, args, code, words):
    done = run_afc("-C", str(project), *args)
    assert done.returncode == code, done.stderr
    assert words in done.stderr and "Traceback" not in done.stderr


def test_a_too_long_project_name_is_refused_before_anything_changes(project, tmp_path):
    done = run_afc("-C", str(project), "swarm", "config", env={"AFC_PROJECT_NAME": "x" * 40})
    assert done.returncode == 2 and "too long for a swarm stack" in done.stderr and "AFC_PROJECT_NAME" in done.stderr


def test_removing_stopped_containers_tolerates_swarms_own_reaping(monkeypatch):
    """After `docker stack rm` Swarm removes its tasks' containers while afc removes the stopped ones: a container
    the engine already removed or is removing counts as removed; any other refusal still fails (exit 5)."""
    from python_on_whales.exceptions import DockerException

    def refusal(words):
        return DockerException(["docker", "container", "rm"], 1, stderr=f"Error response from daemon: {words}".encode())

    answers = {"a1": None, "b2": refusal("removal of container b2 is already in progress"),
               "c3": refusal("No such container: c3"), "d4": None}
    removed = []

    def remove(container):
        removed.append(container)
        if answers[container] is not None:
            raise answers[container]

    stack_ = engine.SwarmStack("demo")
    monkeypatch.setattr(engine.swarm, "run_docker", lambda *args, **kwargs: "a1\nb2\nc3\nd4\n")
    monkeypatch.setattr(stack_.docker.container, "remove", remove)
    assert stack_.remove_stopped_containers() == 4
    assert removed == ["a1", "b2", "c3", "d4"]

    for words in ("conflict: unable to remove container e5: container is running",
                  "driver \"overlay2\" failed to remove root filesystem"):
        answers["a1"] = refusal(words)
        with pytest.raises(StackError) as failure:
            stack_.remove_stopped_containers()
        assert failure.value.exit_code == 5 and words.split(":")[0] in failure.value.message
