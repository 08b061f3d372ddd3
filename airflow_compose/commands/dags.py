"""The DAG author's loop: the DAGs and import errors the stack knows (`afc dags`), a parse of the DAG files right
now (`afc dags check`, and the end of `afc up`), one DAG run (`afc test`) and the project's tests in the stack's
image (`afc pytest`). Each asks Airflow through one Python process in a container (compose/dag_tools.py); the
rest here is pure: paths between host and container, tracebacks to file and line, results as dataclasses."""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..errors import ProjectError, StackError, UsageError

if TYPE_CHECKING:
    from .context import Context

CONTAINER_ROOT = "/opt/airflow"       # AIRFLOW_HOME; the project's folders are mounted below it
MOUNTED = ("dags", "plugins")         # mounted in every Airflow service
TESTS = "tests"                       # mounted by `afc pytest` only
MARKER = "afc-result: "
PYTEST_TARGET = "/opt/afc/pytest"     # where `afc pytest` installs pytest when the image lacks it
WHEELS = "/opt/afc/wheels"
PYTEST_INSTALL_FAILED = 97            # the launcher's exit code when pytest cannot be installed


def tools_script() -> str:
    from importlib.resources import files

    return files("airflow_compose.compose").joinpath("dag_tools.py").read_text()


def tools_command(mode: str, *args: str) -> list[str]:
    return ["python", "-c", tools_script(), mode, *args]


def parsing_environment(major: int) -> dict[str, str]:
    """A one-off container parses DAGs with a throw-away SQLite database: it needs nothing of the stack running,
    and DAG code that reaches for the database at parse time fails at once instead of waiting for Postgres."""
    return {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:////tmp/afc-parse.db",
            "AIRFLOW__CORE__EXECUTOR": "SequentialExecutor" if major < 3 else "LocalExecutor",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "false"}


def result_of(lines: list[str]) -> dict | None:
    """The JSON result compose/dag_tools.py printed after its marker (the last one), if any."""
    for line in reversed(lines):
        if line.startswith(MARKER):
            try:
                return json.loads(line[len(MARKER):])
            except ValueError:
                return None
    return None


def tools_failure(what: str, code: int, lines: list[str]) -> StackError:
    tail = [line for line in lines if line.strip()][-15:]
    cause = next((line.strip() for line in reversed(tail) if re.search(r"Error|Exception|error:", line)), "")
    return StackError(f"could not {what} (exit {code})" + (f": {cause}" if cause else ""),
                      hint="see the output above; `afc logs scheduler` shows the scheduler's side",
                      details="\n".join(tail))


# --- paths and tracebacks ------------------------------------------------------------------------------------

def run_tool(argv: list[str], what: str, input_text: str | None = None,
             on_line: Callable[[str], None] | None = None) -> dict:
    """Run compose/dag_tools.py by this docker command line and return its JSON result; no result is a
    StackError saying what could not be done and why."""
    from .. import engine

    code, lines = engine.stream_lines(argv, on_line, input_text=input_text)
    raw = result_of(lines)
    if raw is None:
        raise tools_failure(what, code, lines)
    return raw


def in_stack(ctx: "Context", mode: str, what: str, input_text: str | None = None) -> dict:
    """Run one dag_tools action in the running stack's CLI service (the stack must be up)."""
    from .. import engine
    from .context import require_running

    require_running(ctx, ctx.spec.cli_service)
    return run_tool(engine.exec_command(ctx.stack, ctx.spec.cli_service, tools_command(mode)), what, input_text)


def host_path(path: str) -> str:
    """A file as the project sees it: /opt/airflow/dags/x.py → dags/x.py; Airflow 3 names files relative to the
    DAG bundle (the dags folder)."""
    if path.startswith(CONTAINER_ROOT + "/"):
        return path[len(CONTAINER_ROOT) + 1:]
    if not path.startswith("/"):
        return f"dags/{path}"
    return path


def resolve_given(root: Path, given: Path, cwd: Path) -> Path:
    """A path as the user gave it: relative to the current folder, or else to the project (`afc -C DIR`)."""
    if given.is_absolute():
        return given.resolve()
    here = (cwd / given).resolve()
    return here if here.exists() or not (root / given).exists() else (root / given).resolve()


def container_paths(root: Path, files: list[Path], cwd: Path) -> list[str]:
    """Each file (or folder) the user named, as the container sees it; refused unless it is under the project's
    dags/ or plugins/ folder (the only ones the containers see)."""
    found = []
    for given in files:
        path = resolve_given(root, given, cwd)
        if not path.exists():
            raise UsageError(f"{given} does not exist", hint="name DAG files or folders under dags/")
        try:
            relative = path.relative_to(root.resolve())
        except ValueError:
            relative = None
        if relative is None or not relative.parts or relative.parts[0] not in MOUNTED:
            raise UsageError(f"{given} is not in the project's dags/ or plugins/ folder",
                             hint=f"the containers only see {root / 'dags'} and {root / 'plugins'}: move the file "
                                  f"there, or name files under them")
        found.append(f"{CONTAINER_ROOT}/{relative.as_posix()}")
    return found


_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')
_SHORT = re.compile(r"\((?P<file>[^,()]+), line (?P<line>\d+)\)")


@dataclass(frozen=True)
class ImportProblem:
    """One DAG file that failed to import: where, and Airflow's own words."""

    file: str                 # as the project sees it: dags/x.py
    line: int | None          # the line of that file the error points at, when the traceback tells
    error: str                # the exception line, e.g. "NameError: name 'x' is not defined"
    trace: str = field(default="", compare=False)

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "error": self.error, "trace": self.trace}


def import_problem(file: str, trace: str) -> ImportProblem:
    """File, line and error line of an import error as Airflow records it: a traceback (its last frame in the
    file, its last line the exception) or, with tracebacks off, `ExceptionType: message (file.py, line N)`."""
    lines = [line.rstrip() for line in trace.strip().splitlines() if line.strip()]
    error = next((line.strip() for line in reversed(lines)
                  if not line.startswith(" ") and not set(line.strip()) <= set("^~ ")), "") or \
        (lines[-1].strip() if lines else "unknown error")
    line = None
    name = file.rsplit("/", 1)[-1]
    for match in _FRAME.finditer(trace):
        if match["file"] == file or match["file"].endswith("/" + name) or host_path(match["file"]) == host_path(file):
            line = int(match["line"])
    if line is None:
        short = [m for m in _SHORT.finditer(trace) if m["file"].rsplit("/", 1)[-1] == name]
        if short:
            line = int(short[-1]["line"])
    return ImportProblem(host_path(file), line, error[:300], trace)


def problems_from(raw: list[dict]) -> list[ImportProblem]:
    return [import_problem(str(item.get("file", "")), str(item.get("trace", ""))) for item in raw]


# --- afc dags ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DagRow:
    dag_id: str
    file: str
    paused: bool
    last_run: str


@dataclass
class DagsReport:
    project: str
    dags: list[DagRow]
    problems: list[ImportProblem]

    def as_dict(self) -> dict:
        return {"project": self.project, "dags": [vars(d) for d in self.dags],
                "import_errors": [p.as_dict() for p in self.problems]}


def dags_report(raw: dict, project: str) -> DagsReport:
    rows = [DagRow(str(d["dag_id"]), host_path(str(d.get("file") or "")), bool(d.get("paused")),
                   str(d.get("last_run") or "")) for d in raw.get("dags", [])]
    return DagsReport(project, rows, problems_from(raw.get("errors", [])))


def list_dags(ctx: "Context") -> DagsReport:
    """What the metadata database holds: the DAGs the DAG processor has seen, and its import errors."""
    return dags_report(in_stack(ctx, "list", "list the DAGs"), ctx.spec.project)


def health_warnings(ctx: "Context") -> list:
    """`afc health`: import errors are a warning (the stack is healthy; some DAGs are missing from it)."""
    from ..errors import AfcError
    from .lifecycle import Check

    try:
        report = list_dags(ctx)
    except AfcError as error:
        return [Check("dag files", False, f"could not read the import errors: {error.message}")]
    return [Check("dag files", False, f"{p.location}: {p.error}") for p in report.problems]


# --- afc dags check (and the end of afc up) ------------------------------------------------------------------

@dataclass(frozen=True)
class FoundDag:
    dag_id: str
    file: str
    tasks: int


@dataclass
class CheckReport:
    files: list[str]
    dags: list[FoundDag]
    problems: list[ImportProblem]
    elapsed: float            # from the command to its verdict
    where: str                # "a one-off container of IMAGE" or "the running scheduler"

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"ok": self.ok, "files": self.files, "dags": [vars(d) for d in self.dags],
                "import_errors": [p.as_dict() for p in self.problems], "seconds": round(self.elapsed, 2),
                "where": self.where}


def check_report(raw: dict, elapsed: float, where: str) -> CheckReport:
    dags = [FoundDag(str(d["dag_id"]), host_path(str(d.get("file") or "")), int(d.get("tasks") or 0))
            for d in raw.get("dags", [])]
    return CheckReport([host_path(f) for f in raw.get("files", [])], dags, problems_from(raw.get("errors", [])),
                       elapsed, where)


def check(ctx: "Context", files: list[Path], cwd: Path) -> CheckReport:
    """Parse DAG files right now in a one-off container of the project's image: no waiting for the DAG
    processor, and no running stack needed."""
    from .. import engine

    began = time.monotonic()
    paths = container_paths(ctx.project.root, files, cwd) if files else []
    argv = engine.oneoff_command(ctx.stack, ctx.spec.cli_service, tools_command("check", *paths),
                                 env=parsing_environment(ctx.spec.major))
    with engine.oneoff_leaves_nothing(ctx.stack):
        raw = run_tool(argv, "parse the DAG files")
    return check_report(raw, time.monotonic() - began, f"a one-off container of {ctx.spec.image.text}")


def has_dag_files(root: Path) -> bool:
    folder = root / "dags"
    return folder.is_dir() and any(folder.rglob("*.py"))


def check_in_stack(ctx: "Context") -> CheckReport:
    """Parse the dags folder in the running scheduler (the end of `afc up`: Airflow is imported there already
    warm on disk, and the DAG processor's first cycle may not have run yet)."""
    from .. import engine

    began = time.monotonic()
    raw = run_tool(engine.exec_command(ctx.stack, ctx.spec.cli_service, tools_command("check")),
                   "parse the DAG files")
    return check_report(raw, time.monotonic() - began, "the running scheduler")


# --- afc test --------------------------------------------------------------------------------------------------

def conf_argument(conf: str | None) -> str:
    """`--conf` as Airflow wants it: a JSON object, checked here so a typo fails before anything runs."""
    if not conf:
        return ""
    try:
        value = json.loads(conf)
    except ValueError as error:
        raise UsageError(f"--conf {conf!r} is not valid JSON ({error.msg} at character {error.pos})",
                         hint="give a JSON object, e.g. --conf '{\"day\": \"2024-01-02\"}'")
    if not isinstance(value, dict):
        raise UsageError(f"--conf {conf!r} is not a JSON object", hint="give a JSON object, e.g. --conf '{\"n\": 1}'")
    return json.dumps(value)


def date_argument(date: str | None) -> str:
    if not date:
        return ""
    import datetime as dt

    try:
        dt.datetime.fromisoformat(date.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--date {date!r} is not a date", hint="give an ISO date or time, e.g. 2024-01-02 or "
                                                                "2024-01-02T03:00:00+00:00")
    return date


@dataclass(frozen=True)
class TaskState:
    task_id: str
    state: str
    try_number: int
    map_index: int = -1


@dataclass
class TestResult:
    dag_id: str
    run_id: str
    state: str
    tasks: list[TaskState]
    failure: str
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.state == "success"

    def as_dict(self) -> dict:
        return {"dag_id": self.dag_id, "run_id": self.run_id, "state": self.state, "ok": self.ok,
                "failure": self.failure, "seconds": round(self.elapsed, 2), "tasks": [vars(t) for t in self.tasks]}


def test_result(dag_id: str, raw: dict, elapsed: float) -> TestResult:
    tasks = [TaskState(str(t["task_id"]), str(t.get("state") or "none"), int(t.get("try_number") or 0),
                       int(t.get("map_index", -1) if t.get("map_index") is not None else -1))
             for t in raw.get("tasks", [])]
    return TestResult(dag_id, str(raw.get("run_id") or ""), str(raw.get("state") or ""), tasks,
                      str(raw.get("failure") or ""), elapsed)


def test_dag(ctx: "Context", dag_id: str, date: str | None, conf: str | None,
             on_line: Callable[[str], None]) -> TestResult:
    """One run of a DAG in the stack's scheduler container (`airflow dags test`: tasks run in that process, their
    logs stream to `on_line`), then the run's state and its tasks' states from the metadata database."""
    from .. import engine
    from .context import require_running

    conf_text, date_text = conf_argument(conf), date_argument(date)
    require_running(ctx, ctx.spec.cli_service)
    began = time.monotonic()

    def relay(line: str) -> None:
        if not line.startswith(MARKER):
            on_line(line)

    argv = engine.exec_command(ctx.stack, ctx.spec.cli_service, tools_command("test", dag_id, date_text, conf_text))
    raw = run_tool(argv, f"test the DAG {dag_id}", on_line=relay)
    return test_result(dag_id, raw, time.monotonic() - began)


# --- afc pytest ---------------------------------------------------------------------------------------------

# Runs in the one-off container: pytest from the image when it has it, else installed once into a folder of the
# project (mounted at PYTEST_TARGET, appended to sys.path so the image's own packages always win), offline from
# wheels/ when the project has that folder.
PYTEST_LAUNCHER = f"""
import importlib, importlib.util, os, subprocess, sys
if importlib.util.find_spec("pytest") is None:
    sys.path.append({PYTEST_TARGET!r})
    if importlib.util.find_spec("pytest") is None:
        offline = os.path.isdir({WHEELS!r})
        print("afc: installing pytest into .afc/pytest" + (" from wheels/" if offline else ""), file=sys.stderr,
              flush=True)
        source = ["--no-index", "--find-links", {WHEELS!r}] if offline else []
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                               "--no-warn-script-location", "--target", {PYTEST_TARGET!r}, *source, "pytest"],
                              env=dict(os.environ, PIP_USER="0"))
        importlib.invalidate_caches()
        if done.returncode or importlib.util.find_spec("pytest") is None:
            sys.exit({PYTEST_INSTALL_FAILED})
import pytest
sys.exit(pytest.main(sys.argv[1:]))
"""


def pytest_arguments(root: Path, paths: list[Path], cwd: Path) -> list[str]:
    """The test paths as the container sees them (default: tests/); each must be under tests/, dags/ or
    plugins/ of the project."""
    if not paths:
        if not (root / TESTS).is_dir():
            raise ProjectError(f"{root / TESTS} does not exist", hint="write tests there (`afc init` writes "
                                                                      "tests/test_dag_integrity.py in new projects)")
        return [TESTS]
    found = []
    for given in paths:
        text = str(given)
        name, _, selector = text.partition("::")
        path = resolve_given(root, Path(name), cwd)
        if not path.exists():
            raise UsageError(f"{name} does not exist", hint="name test files or folders under tests/")
        try:
            relative = path.relative_to(root.resolve())
        except ValueError:
            relative = None
        if relative is None or not relative.parts or relative.parts[0] not in (TESTS, *MOUNTED):
            raise UsageError(f"{name} is not in the project's tests/, dags/ or plugins/ folder",
                             hint="the container only sees those folders of the project")
        found.append(relative.as_posix() + (f"::{selector}" if selector else ""))
    return found


def pytest_command(ctx: "Context", paths: list[Path], extra: list[str], cwd: Path, tty: bool) -> list[str]:
    """The `docker compose run` of the project's tests; prepares the folder pytest is installed into."""
    from .. import engine

    root = ctx.project.root
    arguments = pytest_arguments(root, paths, cwd)
    cache = root / ".afc" / "pytest"
    if not cache.is_dir():
        cache.mkdir(parents=True)
        # group-writable: containers run as AIRFLOW_UID with gid 0, which may not be the owner
        cache.chmod(0o775)
        cache.parent.chmod(0o775)
        from .seeds import ensure_gitignored

        ensure_gitignored(root, ".afc/")
    volumes = [(str(root / TESTS), f"{CONTAINER_ROOT}/{TESTS}", "ro"), (str(cache), PYTEST_TARGET, "rw")]
    if (root / "wheels").is_dir():
        volumes.append((str(root / "wheels"), WHEELS, "ro"))
    env = parsing_environment(ctx.spec.major)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # nothing written into the mounted tests/ and dags/
    color = ["--color=yes"] if tty else []
    command = ["python", "-c", PYTEST_LAUNCHER, "-p", "no:cacheprovider", *color, *arguments, *extra]
    return engine.oneoff_command(ctx.stack, ctx.spec.cli_service, command,
                                 env=env, volumes=volumes, workdir=CONTAINER_ROOT)


def run_pytest(ctx: "Context", paths: list[Path], extra: list[str], cwd: Path, tty: bool) -> int:
    """pytest's exit code; a pytest that cannot be installed is an environment problem (exit 4)."""
    from .. import engine
    from ..errors import EnvironmentProblem

    with engine.oneoff_leaves_nothing(ctx.stack):
        code = engine.run_child(pytest_command(ctx, paths, extra, cwd, tty))[0]
    if code == PYTEST_INSTALL_FAILED:
        offline = (ctx.project.root / "wheels").is_dir()
        raise EnvironmentProblem(
            "pytest is not in the image and could not be installed" + (" from wheels/" if offline else ""),
            hint="put pytest's wheels in wheels/ (`pip download pytest -d wheels/`)" if offline else
            "let the containers reach PyPI, or put pytest's wheels in wheels/ (`pip download pytest -d wheels/`), "
            "or build an image with pytest (`echo pytest >> requirements.txt && afc build`)")
    return code


EXAMPLE_TEST = '''"""Every DAG file imports, and every DAG has tasks (written by `afc init`; `afc pytest` runs it
in a one-off container of the stack's image, where dags/ is mounted)."""
import inspect
import os

DAGS_FOLDER = os.environ.get("AIRFLOW__CORE__DAGS_FOLDER", "/opt/airflow/dags")


def dag_bag():
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3.1+
    except ImportError:
        from airflow.models.dagbag import DagBag
    # Airflow 3.1+ has no include_examples (core.load_examples decides; afc pytest sets it off)
    examples = {"include_examples": False} if "include_examples" in inspect.signature(DagBag).parameters else {}
    return DagBag(dag_folder=DAGS_FOLDER, **examples)


def test_every_dag_file_imports():
    errors = dag_bag().import_errors
    assert not errors, "\\n\\n".join(f"{path}:\\n{trace}" for path, trace in errors.items())


def test_every_dag_has_tasks():
    empty = [dag_id for dag_id, dag in dag_bag().dags.items() if not dag.tasks]
    assert not empty, f"DAGs without tasks: {empty}"
'''


def write_example_test(root: Path) -> str | None:
    """tests/test_dag_integrity.py in a new project; None when tests/ already exists (never overwritten)."""
    folder = root / TESTS
    if folder.exists():
        return None
    folder.mkdir()
    folder.chmod(0o775)
    (folder / "test_dag_integrity.py").write_text(EXAMPLE_TEST)
    return f"{TESTS}/test_dag_integrity.py"
