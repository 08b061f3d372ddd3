"""The one user-facing error type, and the exit codes it carries."""
from __future__ import annotations

# Exit codes, documented in the README ("Exit codes").
OK = 0
USAGE = 2          # a bad flag, value or name: fix the command line
PROJECT = 3        # the project's files are missing, malformed or out of date
ENVIRONMENT = 4    # Docker engine, compose plugin, ports, resources
STACK = 5          # the stack failed: init failed, a service is unhealthy, a timeout
INTERRUPTED = 130  # Ctrl-C


class AfcError(Exception):
    """An error the user can act on: what went wrong, and what to do about it."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "", exit_code: int | None = None, details: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(AfcError):
    exit_code = USAGE


class ProjectError(AfcError):
    exit_code = PROJECT


class EnvironmentProblem(AfcError):
    exit_code = ENVIRONMENT


class StackError(AfcError):
    exit_code = STACK
