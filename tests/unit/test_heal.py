"""The health-check wrapper that heals a hung service, run with the real shells against a fake /proc and clock:
it kills the children of PID 1 only after a service that had passed its check keeps failing."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from airflow_compose.stack.render import blocks, heal_wrapper

TIMING = dict(blocks()["healthchecks"]["cheap"], timeout="3s")  # the check is given 1 s
SHELLS = [shell for shell in ("sh", "bash") if shutil.which(shell)]


class FakeContainer:
    """A fake /proc (PID 1's start time, its stdout, one child: a real `sleep` process), a clock and a check."""

    def __init__(self, root: Path, shell: str, settle: bool = False):
        self.root = root
        self.shell = shell
        self.proc = root / "proc"
        self.child = subprocess.Popen(["sleep", "600"])
        (self.proc / "1" / "fd").mkdir(parents=True)
        (self.proc / "1" / "fd" / "1").write_text("")
        (self.proc / str(self.child.pid)).mkdir()
        (self.proc / str(self.child.pid) / "status").write_text("Name:\tsleep\nPPid:\t1\n")
        (self.proc / "77").mkdir()  # a process of some other parent: never killed
        (self.proc / "77" / "status").write_text("Name:\tbash\nPPid:\t0\n")
        self.boot(4242)
        bin_dir = root / "bin"
        bin_dir.mkdir()
        (bin_dir / "date").write_text('#!/bin/sh\ncat "$FAKE_NOW_FILE"\n')
        (bin_dir / "date").chmod(0o755)
        self.env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOSTNAME": "box", "FAKE_NOW_FILE": str(root / "now")}
        self.state = root / "health-state"
        self.passing = root / "passing"
        script = heal_wrapper("scheduler", ["CMD", "test", "-e", str(self.passing)], TIMING, settle=settle)
        self.script = (script.replace("$$", "$").replace("/proc/", f"{self.proc}/")
                       .replace("/tmp/.afc-health", str(self.state)))

    def boot(self, start_time: int) -> None:
        fields = ["1", "(dumb-init)"] + ["0"] * 19 + [str(start_time)] + ["0"] * 30
        (self.proc / "1" / "stat").write_text(" ".join(fields) + "\n")

    def probe(self, now: int, passing: bool, check: str | None = None) -> int:
        """One health probe at `now` (seconds); its exit code."""
        (self.root / "now").write_text(f"{now}\n")
        if passing:
            self.passing.touch()
        elif self.passing.exists():
            self.passing.unlink()
        before = self.state.stat().st_mtime_ns if self.state.exists() else None
        done = subprocess.run([self.shell, "-c", check or self.script], env=self.env, capture_output=True, text=True,
                              timeout=30)
        if self.state.exists() and self.state.stat().st_mtime_ns != before:
            os.utime(self.state, (now, now))  # the settle part reads the state's mtime: keep it on the fake clock
        return done.returncode

    @property
    def killed(self) -> bool:
        return self.child.poll() is not None

    @property
    def logged(self) -> str:
        return (self.proc / "1" / "fd" / "1").read_text()

    def close(self) -> None:
        if self.child.poll() is None:
            self.child.send_signal(signal.SIGKILL)
        self.child.wait()


@pytest.fixture(params=SHELLS)
def box(tmp_path, request):
    container = FakeContainer(tmp_path, request.param)
    yield container
    container.close()


def test_never_healthy_is_never_killed(box):
    for now in range(0, 600, 30):
        assert box.probe(now, passing=False) == 1
    assert not box.killed and box.logged == ""


def test_healthy_then_failing_for_long_enough_is_killed(box):
    assert box.probe(0, passing=True) == 0
    assert box.probe(30, passing=False) == 1
    assert box.probe(60, passing=False) == 1
    assert box.probe(100, passing=False) == 1  # 3 failures, but only 70 s since the first
    assert not box.killed
    assert box.probe(121, passing=False) == 1  # 4 failures over 91 s
    box.child.wait(timeout=10)
    assert box.killed
    assert box.logged.startswith("afc-heal: scheduler on box failed its health check 4 times in 91 s")
    assert box.logged.count("\n") == 1


def test_quick_failures_wait_for_the_time_bound(box):
    """Older engines probe every 2 s: three failures alone must not kill."""
    box.probe(0, passing=True)
    for now in range(2, 90, 2):
        box.probe(now, passing=False)
    assert not box.killed
    box.probe(92, passing=False)
    box.child.wait(timeout=10)
    assert box.killed


def test_a_success_resets_the_count(box):
    box.probe(0, passing=True)
    box.probe(30, passing=False)
    box.probe(60, passing=False)
    box.probe(90, passing=True)
    box.probe(120, passing=False)
    box.probe(150, passing=False)
    assert not box.killed
    box.probe(211, passing=False)
    box.child.wait(timeout=10)
    assert box.killed


def test_a_restarted_container_starts_from_scratch(box):
    box.probe(0, passing=True)
    box.probe(30, passing=False)
    box.boot(9999)  # PID 1 started again: the old success and failures do not count
    for now in range(60, 400, 30):
        assert box.probe(now, passing=False) == 1
    assert not box.killed


def test_a_hung_check_counts_as_a_failure(box):
    hung = box.script.replace(f"test -e {box.passing}", "sleep 20")
    box.probe(0, passing=True)
    for now in (30, 60, 121):
        assert box.probe(now, passing=False, check=hung) == 1
    box.child.wait(timeout=10)
    assert box.killed


@pytest.mark.parametrize("shell", SHELLS)
def test_older_engines_answer_from_the_state_while_it_is_fresh(tmp_path, shell):
    box = FakeContainer(tmp_path, shell, settle=True)
    try:
        assert box.probe(1000, passing=True) == 0
        assert box.probe(1010, passing=False) == 0  # within `settle` seconds of a real success
        assert box.probe(1040, passing=False) == 1  # past it: the real check runs
        assert box.probe(1100, passing=False) == 1
        assert not box.killed
        assert box.probe(1131, passing=False) == 1  # 3 failures over 91 s
        box.child.wait(timeout=10)
        assert box.killed
    finally:
        box.close()
