"""The wait logic with a fake clock and scripted snapshots: no Docker, no real time."""
from airflow_compose.engine import ContainerState
from airflow_compose.commands.readiness import judge, wait_until_ready
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


def test_wait_returns_when_ready_and_records_the_path():
    clock = FakeClock()
    script = [[c("postgres", health="starting")], [c("postgres"), c("init", "running", "")], HEALTHY]
    calls = iter(script + [HEALTHY] * 10)
    result = wait_until_ready(lambda: next(calls), WANTED, timeout=60, clock=clock, sleep=clock.sleep)
    assert result.verdict.ready and not result.timed_out
    assert result.elapsed == 2.0
    assert (0.0, "postgres", "running starting") in result.history


def test_wait_times_out_naming_what_is_missing():
    clock = FakeClock()
    result = wait_until_ready(lambda: [c("postgres", health="starting")], WANTED, timeout=10, clock=clock,
                              sleep=clock.sleep)
    assert result.timed_out and result.elapsed >= 10
    assert {row.service for row in result.verdict.rows if not row.ok} == set(WANTED)


def test_wait_stops_on_a_compose_error_and_waits_for_compose_to_finish():
    clock = FakeClock()
    result = wait_until_ready(lambda: [c("postgres")], WANTED, timeout=60, clock=clock, sleep=clock.sleep,
                              start_error=lambda: 'service "init" didn\'t complete successfully: exit 1')
    assert result.start_error and result.elapsed == 0
    pending = iter([True, True, False])
    clock2 = FakeClock()
    done = wait_until_ready(lambda: HEALTHY, WANTED, timeout=60, clock=clock2, sleep=clock2.sleep,
                            starting=lambda: next(pending))
    assert done.verdict.ready and done.elapsed == 2.0


def test_containers_being_replaced_do_not_fail_the_wait():
    replacing = [c("postgres"), c("init", "exited", ""), c("scheduler", state="removing", health="unhealthy"),
                 c("scheduler", state="created", health="", number=1),
                 c("worker", state="exited", health="unhealthy"), c("worker", number=2)]
    verdict = judge(replacing, WANTED)
    assert not verdict.failures and not verdict.ready


def test_status_names_the_reason_of_the_latest_restart_of_each_service():
    import datetime as dt

    from airflow_compose.commands.lifecycle import StatusResult, with_restart_reasons

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
