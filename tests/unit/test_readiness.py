"""Readiness with a fake clock and scripted snapshots, no Docker and no real time: the judgement, the one wait
loop, the one failure report and the one status result of Compose and Swarm."""
import pytest

from airflow_compose.commands.readiness import StartChecks, StatusResult, failure_report, judge, wait
from airflow_compose.engine import ContainerState
from tests.helpers import FakeClock

WANTED = {"postgres": 1, "init": 1, "scheduler": 1, "worker": 2}


def c(service, state="running", health="healthy", number=1, exit_code=0, restarts=0):
    return ContainerState(service=service, name=f"p-{service}-{number}", number=number, state=state,
                          health=health, exit_code=exit_code, restarts=restarts, started_at=None, ports=())


HEALTHY = [c("postgres"), c("init", "exited", ""), c("scheduler"), c("worker"), c("worker", number=2)]


def test_ready_only_when_every_replica_is_healthy():
    assert judge(HEALTHY, WANTED).ready
    one_worker = [x for x in HEALTHY if not (x.service == "worker" and x.number == 2)]
    verdict = judge(one_worker, WANTED)
    assert not verdict.ready and not verdict.failures
    starting = HEALTHY[:2] + [c("scheduler", health="starting")] + HEALTHY[3:]
    assert not judge(starting, WANTED).ready


def test_init_failure_and_unhealthy_and_crash_loops_fail_fast():
    failed_init = [c("postgres"), c("init", "exited", "", exit_code=1)]
    assert judge(failed_init, WANTED).failures[0].reason == "init exited with code 1"
    unhealthy = HEALTHY[:2] + [c("scheduler", health="unhealthy")]
    assert judge(unhealthy, WANTED).failures[0].service == "scheduler"
    looping = HEALTHY[:2] + [c("scheduler", state="restarting", health="starting", restarts=3, exit_code=137)]
    assert "keeps crashing" in judge(looping, WANTED).failures[0].reason


class Scripted:
    """A readiness.Backend whose snapshots come from a script (the last one repeats)."""

    def __init__(self, *snapshots, logs=(), health=""):
        self.snapshots = list(snapshots)
        self.logs = list(logs)
        self.health = health

    def verdict(self, wanted):
        snapshot = self.snapshots.pop(0) if len(self.snapshots) > 1 else self.snapshots[0]
        return judge(snapshot, wanted)

    def log_lines(self, service):
        return self.logs

    def health_output(self, service):
        return self.health

    def not_ready(self, timeout):
        return f"not ready after {timeout:.0f} s"

    def failed(self):
        return "failed"

    def failure_hint(self, failing, message):
        return f"look at {failing[0]}"


def test_wait_returns_when_ready_and_records_the_path():
    clock = FakeClock()
    script = [[c("postgres", health="starting")], [c("postgres"), c("init", "running", "")], HEALTHY]
    result = wait(Scripted(*script), WANTED, timeout=60, clock=clock, sleep=clock.sleep)
    assert result.verdict.ready and not result.timed_out
    assert result.elapsed == 2.0
    assert (0.0, "postgres", "running starting") in result.history


def test_wait_times_out_naming_what_is_missing():
    clock = FakeClock()
    result = wait(Scripted([c("postgres", health="starting")]), WANTED, timeout=10, clock=clock, sleep=clock.sleep)
    assert result.timed_out and result.elapsed >= 10
    assert {row.service for row in result.verdict.rows if not row.ok} == set(WANTED)


def test_wait_stops_on_a_compose_error_and_waits_for_compose_to_finish():
    clock = FakeClock()
    result = wait(Scripted([c("postgres")]), WANTED, timeout=60, clock=clock, sleep=clock.sleep,
                  start_error=lambda: 'service "init" didn\'t complete successfully: exit 1')
    assert result.start_error and result.elapsed == 0
    pending = iter([True, True, False])
    clock2 = FakeClock()
    done = wait(Scripted(HEALTHY), WANTED, timeout=60, clock=clock2, sleep=clock2.sleep, starting=lambda: next(pending))
    assert done.verdict.ready and done.elapsed == 2.0


def test_containers_being_replaced_do_not_fail_the_wait():
    replacing = [c("postgres"), c("init", "exited", ""), c("scheduler", state="removing", health="unhealthy"),
                 c("scheduler", state="created", health="", number=1),
                 c("worker", state="exited", health="unhealthy"), c("worker", number=2)]
    verdict = judge(replacing, WANTED)
    assert not verdict.failures and not verdict.ready


def test_status_names_the_reason_of_the_latest_restart_of_each_service():
    import datetime as dt

    from airflow_compose.commands.lifecycle import with_restart_reasons

    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

    class Stack:
        def restart_reason(self, container):
            return f"reason of {container.name}"

    class Ctx:
        stack = Stack()

    containers = [c("postgres"), ContainerState("worker", "p-worker-1", 1, "running", "healthy", 0, 1, at, ()),
                  ContainerState("worker", "p-worker-2", 2, "running", "healthy", 0, 2, at.replace(hour=3), ())]
    rows = with_restart_reasons(Ctx(), judge(containers, {"postgres": 1, "worker": 2}).rows, containers)
    by_service = {row.service: row for row in rows}
    assert by_service["worker"].restarts == 3 and by_service["worker"].restart_reason == "reason of p-worker-2"
    assert by_service["postgres"].restart_reason == ""
    shown = StatusResult("p", rows, True).as_dict()["services"]
    assert [s["last_restart_reason"] for s in shown] == [None, "reason of p-worker-2"]


# --- the one failure report ---------------------------------------------------------------------------------

def test_failure_report_names_the_services_their_logs_the_cause_and_the_fix():
    clock = FakeClock()
    backend = Scripted(HEALTHY[:2] + [c("scheduler", health="unhealthy")],
                       logs=["starting", "sqlalchemy.exc.OperationalError: could not connect", "retrying"],
                       health="curl: (7) Failed to connect")
    outcome = wait(backend, WANTED, timeout=60, clock=clock, sleep=clock.sleep)
    error = failure_report(backend, outcome, 60)
    assert error.message.startswith("failed: p-scheduler-1 is unhealthy")
    assert "cause: sqlalchemy.exc.OperationalError: could not connect" in error.message
    assert "--- last log lines of scheduler:" in error.details and "retrying" in error.details
    assert "--- last health check of scheduler: curl: (7)" in error.details
    assert error.hint == "look at scheduler" and error.exit_code == 5


def test_failure_report_of_a_timeout_and_of_a_compose_error():
    clock = FakeClock()
    backend = Scripted([c("postgres", health="starting")])
    late = failure_report(backend, wait(backend, WANTED, timeout=10, clock=clock, sleep=clock.sleep), 10)
    assert late.message == "not ready after 10 s: waiting for postgres, init, scheduler, worker"
    said = 'Error response: service "init" didn\'t complete successfully: exit 1'
    broken = wait(Scripted([c("postgres")]), WANTED, timeout=60, clock=clock, sleep=clock.sleep,
                  start_error=lambda: said)
    error = failure_report(Scripted([c("postgres")]), broken, 60)
    assert error.message == "failed: init failed to start" and error.hint == "look at init"
    assert error.details.endswith("--- docker compose said: " + said)


# --- the one status result ------------------------------------------------------------------------------------

@pytest.mark.parametrize("swarm", [False, True])
def test_status_json_of_compose_and_swarm(swarm):
    rows = judge(HEALTHY, WANTED).rows
    result = StatusResult("p", rows, True, stack="p-swarm" if swarm else "")
    shown = result.as_dict()
    assert list(shown) == (["project", "stack", "deployed", "healthy", "services"] if swarm
                           else ["project", "healthy", "services"])
    assert {s["service"] for s in shown["services"]} == set(WANTED)
    counted = "failed_tasks" if swarm else "restarts"
    assert all(counted in s for s in shown["services"])
    assert all(("last_restart_reason" in s) != swarm for s in shown["services"])


def probed(service, health="starting", started=0, start_interval=False, state="running"):
    import dataclasses
    import datetime as dt

    base = c(service, state=state, health=health)
    return dataclasses.replace(base, started_at=dt.datetime(2026, 1, 1, 0, 0, started, tzinfo=dt.timezone.utc),
                               health_test=("CMD", "pg_isready"), health_start_interval=start_interval)


class Checks:
    """A scripted run_check: which containers pass, and every container it was asked about."""

    def __init__(self, passing=(), broken=()):
        self.passing, self.broken, self.asked = set(passing), set(broken), []

    def __call__(self, container):
        self.asked.append(container.service)
        if container.service in self.broken:
            raise RuntimeError("docker exec failed")
        return container.service in self.passing


def test_a_starting_container_whose_own_check_passes_is_healthy_before_docker_says_so():
    checks = Checks(passing={"postgres", "scheduler"})
    start = StartChecks(checks, clock=FakeClock())
    seen = start.apply([probed("postgres"), probed("scheduler", start_interval=True), probed("worker"),
                        probed("redis", health=""), probed("api-server", health="unhealthy"),
                        probed("triggerer", state="restarting")], wait=True)
    assert [x.health for x in seen] == ["healthy", "starting", "starting", "", "unhealthy", "starting"]
    assert sorted(checks.asked) == ["postgres", "worker"], "only starting containers without start_interval"
    assert judge(seen[:1], {"postgres": 1}).ready and not judge(seen[2:3], {"worker": 1}).ready


def test_a_failing_check_runs_again_only_after_the_interval_and_a_pass_is_kept():
    clock = FakeClock()
    checks = Checks(passing={"postgres"}, broken={"redis"})
    start = StartChecks(checks, every=2.0, clock=clock)
    snapshot = [probed("postgres"), probed("worker"), probed("redis")]
    start.apply(snapshot, wait=True)
    clock.sleep(1.0)
    assert [x.health for x in start.apply(snapshot, wait=True)] == ["healthy", "starting", "starting"]
    assert sorted(checks.asked) == ["postgres", "redis", "worker"], "nothing is asked twice within 2 s"
    clock.sleep(1.0)
    start.apply(snapshot, wait=True)
    assert sorted(checks.asked) == ["postgres", "redis", "redis", "worker", "worker"], "a pass is not asked again"


def test_a_restarted_container_is_judged_afresh():
    checks = Checks(passing={"postgres"})
    start = StartChecks(checks, clock=FakeClock())
    assert start.apply([probed("postgres")], wait=True)[0].health == "healthy"
    checks.passing.clear()
    assert start.apply([probed("postgres", started=30)], wait=True)[0].health == "starting"


def test_without_waiting_a_result_counts_from_a_later_look():
    import threading
    import time

    answered = threading.Event()
    start = StartChecks(lambda container: answered.wait(5))
    assert start.apply([probed("postgres")])[0].health == "starting", "the wait loop does not wait for a check"
    answered.set()
    deadline = time.monotonic() + 5
    while start.apply([probed("postgres")])[0].health != "healthy":
        assert time.monotonic() < deadline, "the check's result never counted"
        time.sleep(0.01)


def test_a_hanging_check_does_not_hang_a_one_shot_look():
    import threading
    import time

    never = threading.Event()
    start = StartChecks(lambda container: never.wait(30), limit=0.2)
    began = time.monotonic()
    assert start.apply([probed("redis")], wait=True)[0].health == "starting"
    assert time.monotonic() - began < 5, "afc status would wait for a check Docker itself cuts off"
