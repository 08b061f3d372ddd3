"""Docker commands run as child processes: attached to the terminal, streamed line by line, or with a file
as stdin or stdout (bytes never pass through Python)."""
from __future__ import annotations

import contextlib
import subprocess
from typing import Any, Callable

from ..errors import EnvironmentProblem
from .errors import classify


def run_child(argv: list[str], stdin: Any = None, stdout: Any = None,
              capture_stderr: bool = False, own_group: bool = False) -> tuple[int, bytes]:
    """Run a docker command built by python-on-whales with our terminal or files attached; on Ctrl-C stop
    it and wait for it, so no `docker compose` process is left behind. `own_group` puts the command in a
    process group of its own that is stopped as a whole: the docker CLI does not always pass a stop on to
    the compose plugin it runs (seen with `logs -f` on Docker 26), so both are signalled."""
    import os
    import signal

    try:
        child = subprocess.Popen(argv, stdin=stdin, stdout=stdout, start_new_session=own_group,
                                 stderr=subprocess.PIPE if capture_stderr else None)
    except FileNotFoundError:
        raise EnvironmentProblem("the docker command is not installed (or not on PATH)",
                                 hint="install Docker Engine or Docker Desktop")

    def stop(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, sig) if own_group else child.send_signal(sig)

    try:
        _, errors = child.communicate()
    except BaseException:
        stop(signal.SIGTERM)
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            stop(signal.SIGKILL)
            child.wait()
        raise
    return child.returncode, errors or b""


def stream_lines(argv: list[str], on_line: Callable[[str], None] | None = None,
                 input_text: str | None = None) -> tuple[int, list[str]]:
    """Run a docker command built by python-on-whales, stdout and stderr merged, each line handed to `on_line`
    as it comes and kept; `input_text` is its stdin (never an argument: it may hold secrets). On Ctrl-C stop
    it and wait, so no docker process is left behind."""
    try:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL if input_text is None else subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                                 bufsize=1)
    except FileNotFoundError:
        raise EnvironmentProblem("the docker command is not installed (or not on PATH)",
                                 hint="install Docker Engine or Docker Desktop")
    lines: list[str] = []
    try:
        assert child.stdout is not None
        if input_text is not None:
            assert child.stdin is not None
            child.stdin.write(input_text)
            child.stdin.close()
        for line in child.stdout:
            line = line.rstrip("\n")
            lines.append(line)
            if on_line is not None:
                on_line(line)
        child.wait()
    except BaseException:
        child.terminate()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise
    if child.returncode != 0:
        problem = classify("run a command in the stack", "\n".join(lines[-5:]), child.returncode)
        if isinstance(problem, EnvironmentProblem):
            raise problem
    return child.returncode, lines
