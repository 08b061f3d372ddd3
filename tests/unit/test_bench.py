"""bench/: the sections `--only` accepts, their order in the report, and the report's tables (nothing is run)."""
import re
from pathlib import Path

import pytest

from bench.core import SECTIONS, Bench, Row, Series, section_names
from bench.main import parse_args
from bench.report import table
from tests.helpers import assert_valid

README = Path(__file__).resolve().parents[2] / "bench" / "README.md"
GOLDEN = Path(__file__).parent / "golden"


def test_sections_are_the_ones_the_readme_names_in_its_order():
    listed = re.findall(r"`(\w+)` \(", README.read_text().split("Sections:", 1)[1].split("\n\n", 1)[0])
    assert section_names() == listed == ["startup", "cold", "official", "warm", "restart", "footprint",
                                                    "timeline", "idle", "soak", "logs", "build"]
    assert len([how for s in SECTIONS for how in s.how]) == len(listed), "one description a section in the report"


def test_only_takes_known_sections():
    args = parse_args(["--only", "startup, logs", "--versions", "3.3.2"], "bench")
    assert args.only == ["startup", "logs"] and args.versions == ["3.3.2"]
    with pytest.raises(SystemExit) as refused:
        parse_args(["--only", "startup,colds"], "bench")
    assert refused.value.code == 2


def test_engines_are_checked_and_head_their_rows():
    assert parse_args([], "bench").engines == ["machine", "engine2"], "every row on both engines by default"
    assert parse_args(["--engines", "machine"], "bench").engines == ["machine"]
    assert parse_args(["--engines", "machine, engine2"], "bench").engines == ["machine", "engine2"]
    with pytest.raises(SystemExit) as refused:
        parse_args(["--engines", "engine3"], "bench")
    assert refused.value.code == 2
    bench = Bench(work=Path("."), quick=True, stack_runs=1, versions=[], selected=set(), deadline=0,
                  engine="Engine 26.1.5")
    bench.add(Row("2. Cold time to healthy", "a", Series([1.0])))
    assert bench.rows[0].section == "2. Cold time to healthy — Engine 26.1.5"


def test_table_groups_rows_under_their_section_in_order():
    rows = [Row("2. Cold time to healthy", "a", Series([4.0, 6.0]), Series([10.0]), "compose", target=0.5),
            Row("1. CLI start-up", "b", Series([3.0]), note="why")]
    lines = table(rows).splitlines()
    assert lines.index("### 1. CLI start-up") < lines.index("### 2. Cold time to healthy")
    assert "| a | 5.00 s (4.00–6.00, n=2) | compose: 10.00 s (1 run) | 0.50× | ≤ 0.5× | met |" in lines
    assert "| ↳ why | | | | | |" in lines


@pytest.mark.parametrize("version", ["2.10.4", "3.3.2"])
def test_baselines_keep_the_real_probes_and_take_the_official_design(tmp_path, version):
    import yaml

    from bench.stack_tools import baseline_project, official_design_project
    source = tmp_path / "afc"
    source.mkdir()
    (source / "compose.yaml").write_text((GOLDEN / f"{version}-amd64-celery.yaml").read_text())
    rendered = yaml.safe_load((source / "compose.yaml").read_text())
    web = "webserver" if version.startswith("2.") else "api-server"

    plain = yaml.safe_load((baseline_project(source, tmp_path, "b", 18901) / "compose.yaml").read_text())
    official = yaml.safe_load((official_design_project(source, tmp_path, "o", 18902, version)
                               / "compose.yaml").read_text())
    for document in (plain, official):
        assert_valid("compose-spec.json", document)
        checks = {name: s["healthcheck"] for name, s in document["services"].items() if "healthcheck" in s}
        assert not any("afc-health" in str(c["test"]) or "start_interval" in c for c in checks.values())
        curl = ["CMD-SHELL", "curl --fail --silent --show-error http://localhost:8974/health"]
        official_3 = document is official and web == "api-server"
        assert (checks["scheduler"]["test"] == curl) is not official_3, "the 3.x file checks the heartbeat"
        assert checks[web]["interval"] == "30s" and checks[web]["start_period"] == "30s"
    assert plain["services"]["init"]["command"] == rendered["services"]["init"]["command"]
    assert plain["services"]["redis"]["healthcheck"]["retries"] == 5
    # the golden file is rendered for an engine without start_interval: the baseline waits on health as designed
    assert rendered["services"]["scheduler"]["depends_on"]["postgres"]["condition"] == "service_started"
    assert {wait["condition"] for s in plain["services"].values() for wait in s.get("depends_on", {}).values()} \
        == {"service_healthy", "service_completed_successfully"}
    assert "psycopg2" in plain["services"]["triggerer"]["healthcheck"]["test"][1], "afc's heartbeat query kept"

    services = official["services"]
    assert services["triggerer"]["healthcheck"]["test"] == [
        "CMD-SHELL", 'airflow jobs check --job-type TriggererJob --hostname "$${HOSTNAME}"']
    assert "celery_executor.app inspect ping" in services["worker"]["healthcheck"]["test"][1]
    assert ("dag-processor" in services) is (web == "api-server")
    assert "log-cleaner" not in services and services["init"]["command"] == ["version"]
    assert services["init"]["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"
    assert services["redis"]["healthcheck"] == {"test": ["CMD", "redis-cli", "ping"], "interval": "10s",
                                                "timeout": "30s", "retries": 50, "start_period": "30s"}
    waits = {name: set(s.get("depends_on", {})) for name, s in services.items()}
    assert waits["scheduler"] == {"postgres", "redis", "init"}
    assert waits["worker"] == {"postgres", "redis", "init"} | ({"api-server"} if web == "api-server" else set())
    assert services[web]["ports"] == ["127.0.0.1:18902:8080"]


def test_timeline_reads_each_service_s_first_events():
    from bench.sections.timeline import phases

    def event(service, action, seconds):
        return {"Action": action, "timeNano": str(int((1000 + seconds) * 1e9)),
                "Actor": {"Attributes": {"com.docker.compose.service": service}}}
    found = [event("postgres", "create", 0.5), event("postgres", "start", 1.0),
             event("postgres", "health_status: healthy", 3.0), event("init", "start", 3.5),
             event("init", "die", 9.0), event("postgres", "health_status: healthy", 30.0),
             event("scheduler", "exec_start: sh -c probe", 12.0)]
    assert phases(found, 1000.0) == {"postgres": {"created": 0.5, "started": 1.0, "healthy": 3.0},
                                     "init": {"started": 3.5, "exited": 9.0}}


@pytest.mark.parametrize("version", ["2.10.4", "3.3.2"])
def test_the_floor_starts_every_component_and_polls_its_real_probe(version):
    import subprocess

    import yaml

    from bench.sections.timeline import floor_script
    script = floor_script(yaml.safe_load((GOLDEN / f"{version}-amd64-celery.yaml").read_text()))
    web = "webserver" if version.startswith("2.") else "api-server"
    components = [web, "scheduler", "triggerer"] + ([] if web == "webserver" else ["dag-processor"])
    for component in components:
        assert f"airflow {component} >/tmp/{component.replace('-', '_')}.log" in script
    assert "airflow celery worker --without-mingle >/tmp/worker.log" in script and "afc-health" not in script
    assert "$$" not in script and "probe_worker() { timeout 20 sh -c" in script
    assert subprocess.run(["bash", "-n", "-c", script]).returncode == 0, "the floor script parses"


def test_a_restart_names_the_services_whose_stop_ran_out_of_grace():
    from bench.stack_tools import sigkilled

    def event(service, action, signal=None):
        attributes = {"com.docker.compose.service": service, **({"signal": signal} if signal else {})}
        return {"Action": action, "Actor": {"Attributes": attributes}}
    found = [event("triggerer", "kill", "15"), event("worker", "kill", "15"), event("triggerer", "kill", "9"),
             event("triggerer", "die"), event("scheduler", "kill", "9"), event("postgres", "kill", "2"),
             event("scheduler", "kill", "9"), event("api-server", "stop")]
    assert sigkilled(found) == ["scheduler", "triggerer"]
    assert sigkilled([event("worker", "kill", "15")]) == []


@pytest.mark.parametrize("before, after, value", [
    ("A=1\nAFC_WORKER_CONCURRENCY=4\nB=2\n", "A=1\nAFC_WORKER_CONCURRENCY=5\nB=2\n", 5),
    ("AFC_WORKER_CONCURRENCY=7\n", "AFC_WORKER_CONCURRENCY=8\n", 8),
    ("A=1\n", "A=1\nAFC_WORKER_CONCURRENCY=5\n", 5),
])
def test_the_env_change_row_raises_the_worker_concurrency(tmp_path, before, after, value):
    from bench.stack_tools import bump_worker_concurrency
    env = tmp_path / ".env"
    env.write_text(before)
    assert bump_worker_concurrency(env) == value
    assert env.read_text() == after
