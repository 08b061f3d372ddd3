"""Waiting for a stack to become healthy, and deciding when it has failed: pure logic over snapshots,
with the clock, the sleep and the snapshot source injected (so tests need no Docker and no time)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from ..engine import ContainerState

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


@dataclass
class WaitResult:
    verdict: Verdict
    elapsed: float
    timed_out: bool = False
    start_error: str = ""
    history: list[tuple[float, str, str]] = field(default_factory=list)


def wait_until_ready(
    snapshot: Callable[[], Sequence[ContainerState]],
    wanted: dict[str, int],
    timeout: float,
    on_update: Callable[[Verdict, float], None] = lambda verdict, elapsed: None,
    start_error: Callable[[], str] = lambda: "",
    starting: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    poll: float = 1.0,
    now: Callable[[], object] = lambda: None,
) -> WaitResult:
    """Poll snapshots until the stack is ready, has failed, or `timeout` seconds have passed.

    `start_error` reports a failure of the `compose up` running beside the wait (e.g. init failed);
    `starting` tells whether that `compose up` is still running (the stack is not ready before it ends).
    """
    began = clock()
    history: list[tuple[float, str, str]] = []
    last: dict[str, tuple[str, str, int]] = {}
    while True:
        elapsed = clock() - began
        verdict = judge(snapshot(), wanted, now())
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
