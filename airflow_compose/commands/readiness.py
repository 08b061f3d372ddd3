"""Whether a stack is ready, on Compose or on Swarm: the rows of the live view and of `status`, the judgement of a
compose snapshot, the one wait loop, the one failure report and the one status result. A `Backend` (the
compose project, or a phase of the Swarm stack) supplies its verdicts and logs; the clock and the sleep are
injected, so tests need no Docker and no time."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

from ..engine import ContainerState
from ..errors import StackError

CRASH_LOOP_RESTARTS = 3


@dataclass(frozen=True)
class ServiceRow:
    """One line of the live table and of `afc status`."""

    service: str
    ready: int
    wanted: int
    state: str
    health: str
    ports: tuple[str, ...] = ()
    uptime: float | None = None
    restarts: int = 0
    restart_reason: str = ""  # why Docker last restarted one of its containers (engine.Stack.restart_reason)

    @property
    def ok(self) -> bool:
        return self.ready >= self.wanted


@dataclass(frozen=True)
class Failure:
    service: str
    reason: str


@dataclass(frozen=True)
class Verdict:
    rows: tuple[ServiceRow, ...]
    failures: tuple[Failure, ...]

    @property
    def ready(self) -> bool:
        return not self.failures and all(row.ok for row in self.rows)


def _state_word(containers: Sequence[ContainerState]) -> str:
    states = sorted({c.state for c in containers})
    return "/".join(states) if states else "missing"


def _health_word(service: str, containers: Sequence[ContainerState]) -> str:
    if service == "init":
        done = [c for c in containers if c.state == "exited"]
        return f"exit {done[0].exit_code}" if done else ""
    words = sorted({c.health or "-" for c in containers})
    return "/".join(words) if words else ""


def rows(containers: Sequence[ContainerState], wanted: dict[str, int], now=None) -> tuple[ServiceRow, ...]:
    by_service: dict[str, list[ContainerState]] = {}
    for container in containers:
        by_service.setdefault(container.service, []).append(container)
    out = []
    for service in list(wanted) + sorted(set(by_service) - set(wanted)):
        group = by_service.get(service, [])
        ready = sum(1 for c in group if c.ready)
        uptimes = [u for u in (c.uptime(now) for c in group) if u is not None] if now else []
        out.append(ServiceRow(service=service, ready=ready, wanted=wanted.get(service, len(group)),
                              state=_state_word(group), health=_health_word(service, group),
                              ports=tuple(p for c in group for p in c.ports),
                              uptime=min(uptimes) if uptimes else None,
                              restarts=sum(c.restarts for c in group)))
    return tuple(out)


def judge(containers: Sequence[ContainerState], wanted: dict[str, int], now=None) -> Verdict:
    """Ready when every wanted service has its replicas ready; failed as soon as one cannot get there."""
    failures = []
    for container in containers:
        # containers compose is replacing (removing, or stopped with a stale health status) say nothing
        if container.service not in wanted or container.state == "removing":
            continue
        if container.service == "init":
            if container.state == "exited" and container.exit_code != 0:
                failures.append(Failure("init", f"init exited with code {container.exit_code}"))
        elif container.health == "unhealthy" and container.state == "running":
            failures.append(Failure(container.service, f"{container.name} is unhealthy"))
        elif container.restarts >= CRASH_LOOP_RESTARTS and container.state != "running":
            failures.append(Failure(container.service, f"{container.name} keeps crashing "
                                                       f"({container.restarts} restarts, exit {container.exit_code})"))
        elif container.state in ("exited", "dead") and container.restarts >= CRASH_LOOP_RESTARTS:
            failures.append(Failure(container.service, f"{container.name} exited with code {container.exit_code}"))
    unique = tuple({(f.service, f.reason): f for f in failures}.values())
    return Verdict(rows(containers, wanted, now), unique)


class StartChecks:
    """A starting container's health, sooner, on engines without `start_interval`: there Docker runs a check every
    30 s from the start, so afc runs the container's own check itself (`run_check`), every `every` seconds, each
    in its own thread. A container whose check passed is judged healthy until Docker's own record says otherwise.
    `apply(..., wait=True)` waits for the checks it starts (a one-shot look such as `afc status`), each at most
    `limit` seconds (a check that hangs has not passed); otherwise their results count from the next call (the wait
    loop)."""

    def __init__(self, run_check: Callable[[ContainerState], bool], every: float = 2.0,
                 clock: Callable[[], float] = time.monotonic, limit: float = 20.0):
        self.run_check = run_check
        self.every = every
        self.clock = clock
        self.limit = limit  # the longest timeout of afc's checks: Docker too would have cut the check off by then
        self.lock = threading.Lock()
        self.passed: set[tuple[str, object]] = set()
        self.running: set[tuple[str, object]] = set()
        self.last: dict[tuple[str, object], float] = {}

    @staticmethod
    def applies(container: ContainerState) -> bool:
        return (container.state == "running" and container.health == "starting" and bool(container.health_test)
                and not container.health_start_interval)

    @staticmethod
    def _key(container: ContainerState) -> tuple[str, object]:
        return container.name, container.started_at  # a restarted container starts afresh

    def apply(self, containers: Sequence[ContainerState], wait: bool = False) -> list[ContainerState]:
        now = self.clock()
        threads = []
        for container in containers:
            key = self._key(container)
            with self.lock:
                due = (self.applies(container) and key not in self.passed and key not in self.running
                       and now - self.last.get(key, -self.every) >= self.every)
                if due:
                    self.running.add(key)
                    self.last[key] = now
            if due:
                threads.append(threading.Thread(target=self._check, args=(container,), daemon=True))
                threads[-1].start()
        deadline = time.monotonic() + self.limit
        for thread in threads if wait else ():
            thread.join(max(0.0, deadline - time.monotonic()))
        with self.lock:
            return [dataclasses.replace(c, health="healthy") if self.applies(c) and self._key(c) in self.passed
                    else c for c in containers]

    def _check(self, container: ContainerState) -> None:
        try:
            passed = self.run_check(container)
        except Exception:  # a check that cannot run has not passed
            passed = False
        with self.lock:
            self.running.discard(self._key(container))
            if passed:
                self.passed.add(self._key(container))


def utcnow() -> dt.datetime:
    """Now, as the engine's timestamps are: aware, in UTC."""
    return dt.datetime.now(dt.timezone.utc)


class Backend(Protocol):
    """A stack as the wait loop and the failure report see it: the compose project, or a Swarm stack's phase."""

    def verdict(self, wanted: dict[str, int]) -> Verdict:
        """The stack now, judged against the replicas wanted of each service."""

    def log_lines(self, service: str) -> list[str]:
        """The last lines a service printed (a line saying why, when there are none)."""

    def health_output(self, service: str) -> str:
        """The output of the service's last failed health check ("" when there is none to show)."""

    def not_ready(self, timeout: float) -> str:
        """The start of the message when `timeout` passed."""

    def failed(self) -> str:
        """The start of the message when a service failed."""

    def failure_hint(self, failing: list[str], message: str) -> str:
        """What to do next, given the failing services and the message."""


@dataclass
class WaitResult:
    verdict: Verdict
    elapsed: float
    timed_out: bool = False
    start_error: str = ""
    history: list[tuple[float, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.timed_out or self.verdict.failures or self.start_error)


def wait(backend: Backend, wanted: dict[str, int], timeout: float,
         on_update: Callable[[Verdict, float], None] = lambda verdict, elapsed: None,
         start_error: Callable[[], str] = lambda: "", starting: Callable[[], bool] = lambda: False,
         clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
         poll: float = 1.0) -> WaitResult:
    """Poll the backend until the wanted services are ready, one has failed, or `timeout` seconds have passed.

    `start_error` reports a failure of the `compose up` running beside the wait (e.g. init failed);
    `starting` tells whether that `compose up` is still running (the stack is not ready before it ends).
    """
    began = clock()
    history: list[tuple[float, str, str]] = []
    last: dict[str, tuple[str, str, int]] = {}
    while True:
        elapsed = clock() - began
        verdict = backend.verdict(wanted)
        for row in verdict.rows:
            key = (row.state, row.health, row.ready)
            if last.get(row.service) != key:
                last[row.service] = key
                history.append((elapsed, row.service, f"{row.state} {row.health}".strip()))
        on_update(verdict, elapsed)
        error = start_error()
        if verdict.failures or error:
            return WaitResult(verdict, elapsed, start_error=error, history=history)
        if verdict.ready and not starting():
            return WaitResult(verdict, elapsed, history=history)
        if elapsed >= timeout:
            return WaitResult(verdict, elapsed, timed_out=True, history=history)
        sleep(poll)


def failure_report(backend: Backend, outcome: WaitResult, timeout: float) -> StackError:
    """The error of a failed wait: which services, their last log lines and health-check output, the likeliest
    cause, and what to do."""
    failing = [f.service for f in outcome.verdict.failures]
    if outcome.start_error and "init" in outcome.start_error and "init" not in failing:
        failing.insert(0, "init")
    if not failing:
        failing = [row.service for row in outcome.verdict.rows if not row.ok]
    failing = list(dict.fromkeys(failing))
    details: list[str] = []
    cause = ""
    for service in failing:
        details.append(f"--- last log lines of {service}:")
        lines = backend.log_lines(service)
        details += lines
        cause = cause or key_error_line(lines)
        health = backend.health_output(service)
        if health:
            details.append(f"--- last health check of {service}: {health[-400:]}")
    if outcome.start_error:
        details.append("--- docker compose said: " + outcome.start_error.strip().splitlines()[-1])
    if outcome.timed_out:
        message = f"{backend.not_ready(timeout)}: waiting for {', '.join(failing)}"
    else:
        reasons = [f.reason for f in outcome.verdict.failures] or [f"{failing[0]} failed to start"]
        message = f"{backend.failed()}: " + "; ".join(dict.fromkeys(reasons))
    if cause:
        message += f"\n  cause: {cause}"
    return StackError(message, hint=backend.failure_hint(failing, message), details="\n".join(details))


def key_error_line(lines: list[str]) -> str:
    """The most telling line of a failed service's log: the last FATAL/Error line, if any."""
    for line in reversed(lines):
        if re.search(r"FATAL|Error:|Exception:|ERROR", line) and "Background on this error" not in line:
            return line.strip()[-300:]
    return ""


@dataclass
class StatusResult:
    """`afc status` and `afc swarm status`: a row per service, and whether all are ready. On Swarm `stack` names
    the stack, `deployed` says whether it exists, and a row's `restarts` counts its failed tasks."""

    project: str
    rows: tuple[ServiceRow, ...]
    healthy: bool
    stack: str = ""
    deployed: bool = True

    @property
    def swarm(self) -> bool:
        return bool(self.stack)

    def as_dict(self) -> dict:
        head = {"project": self.project, "stack": self.stack, "deployed": self.deployed} if self.swarm \
            else {"project": self.project}
        services = []
        for r in self.rows:
            row = {"service": r.service, "replicas": r.ready, "wanted": r.wanted, "state": r.state,
                   "health": r.health, "ports": list(r.ports),
                   "uptime_seconds": None if r.uptime is None else round(r.uptime)}
            row.update({"failed_tasks": r.restarts} if self.swarm else
                       {"restarts": r.restarts, "last_restart_reason": r.restart_reason or None})
            services.append(row)
        return {**head, "healthy": self.healthy, "services": services}
