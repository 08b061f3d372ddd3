"""The pure parts of the DAG author's loop: tracebacks to file and line, paths between host and container, the
results of compose/dag_tools.py, `--conf`/`--date`, the example test."""
import json
import runpy
import traceback
from pathlib import Path

import pytest

from airflow_compose.commands import dags
from airflow_compose.errors import ProjectError, UsageError


def real_traceback(folder: Path, name: str, source: str) -> tuple[str, str]:
    """Import a broken file the way Airflow's DagBag does, and return (its path, the formatted traceback)."""
    path = folder / name
    path.write_text(source)
    try:
        runpy.run_path(str(path))
    except BaseException:  # noqa: BLE001 - the error is the point
        return str(path), traceback.format_exc(limit=-2)
    raise AssertionError("the file imported")


def test_a_runtime_error_names_its_line_and_exception(tmp_path):
    path, trace = real_traceback(tmp_path, "broken.py", "import os\n\nx = 1\ny = undefined_name + x\n")
    problem = dags.import_problem(path, trace)
    assert problem.line == 4
    assert problem.error == "NameError: name 'undefined_name' is not defined"
    assert problem.location.endswith("broken.py:4")


def test_a_syntax_error_names_its_line(tmp_path):
    path, trace = real_traceback(tmp_path, "syntax.py", "a = 1\nb = 2\ndef f(:\n    pass\n")
    problem = dags.import_problem(path, trace)
    assert problem.line == 3
    assert problem.error.startswith("SyntaxError:")


def test_the_error_raised_in_a_helper_module_points_at_the_dag_files_line(tmp_path):
    (tmp_path / "helper.py").write_text("def load():\n    raise ValueError('no config')\n")
    source = f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\nimport helper\n\nhelper.load()\n"
    path, trace = real_traceback(tmp_path, "dag_file.py", source)
    problem = dags.import_problem(path, trace)
    assert problem.line == 5 and problem.error == "ValueError: no config"


def test_the_short_form_without_traceback_still_gives_the_line():
    problem = dags.import_problem("/opt/airflow/dags/x.py", "invalid syntax (x.py, line 7)")
    assert (problem.file, problem.line) == ("dags/x.py", 7)


def test_a_dag_level_error_has_no_line():
    problem = dags.import_problem("/opt/airflow/dags/cycle.py", "AirflowDagCycleException: Cycle detected in DAG: a")
    assert problem.line is None and problem.location == "dags/cycle.py"
    assert problem.error.startswith("AirflowDagCycleException")


@pytest.mark.parametrize("path, shown", [
    ("/opt/airflow/dags/a/b.py", "dags/a/b.py"),
    ("/opt/airflow/plugins/p.py", "plugins/p.py"),
    ("b.py", "dags/b.py"),              # Airflow 3: relative to the DAG bundle
    ("/somewhere/else.py", "/somewhere/else.py"),
])
def test_host_path(path, shown):
    assert dags.host_path(path) == shown


def test_container_paths_maps_dag_files_and_refuses_others(tmp_path):
    (tmp_path / "dags" / "sub").mkdir(parents=True)
    (tmp_path / "dags" / "sub" / "a.py").write_text("")
    (tmp_path / "outside.py").write_text("")
    assert dags.container_paths(tmp_path, [Path("sub/a.py")], tmp_path / "dags") == ["/opt/airflow/dags/sub/a.py"]
    assert dags.container_paths(tmp_path, [Path("dags")], tmp_path) == ["/opt/airflow/dags"]
    with pytest.raises(UsageError, match="outside.py is not in the project's dags/"):
        dags.container_paths(tmp_path, [Path("outside.py")], tmp_path)
    with pytest.raises(UsageError, match="missing.py does not exist"):
        dags.container_paths(tmp_path, [Path("dags/missing.py")], tmp_path)


def test_result_of_takes_the_last_marker_line_among_airflow_output():
    lines = ["WARNING some deprecation", "afc-result: {\"n\": 1}", "log line", "afc-result: {\"n\": 2}", "bye"]
    assert dags.result_of(lines) == {"n": 2}
    assert dags.result_of(["Traceback", "ImportError: x"]) is None


def test_tools_failure_names_the_cause():
    error = dags.tools_failure("list the DAGs", 1, ["Traceback (most recent call last):", "  File x",
                                                    "ModuleNotFoundError: No module named 'airflow'"])
    assert "ModuleNotFoundError: No module named 'airflow'" in error.message and error.exit_code == 5


def test_check_report_from_the_tools_result():
    raw = {"files": ["/opt/airflow/dags/a.py", "/opt/airflow/dags/b.py"],
           "dags": [{"dag_id": "a", "file": "/opt/airflow/dags/a.py", "tasks": 2}],
           "errors": [{"file": "/opt/airflow/dags/b.py", "trace": 'File "/opt/airflow/dags/b.py", line 9\n'
                                                                  'KeyError: \'x\''}]}
    report = dags.check_report(raw, 1.5, "here")
    assert not report.ok and report.files == ["dags/a.py", "dags/b.py"]
    assert report.dags == [dags.FoundDag("a", "dags/a.py", 2)]
    assert report.problems[0].location == "dags/b.py:9" and report.problems[0].error == "KeyError: 'x'"
    assert json.loads(json.dumps(report.as_dict()))["import_errors"][0]["line"] == 9


def test_dags_report_rows():
    raw = {"dags": [{"dag_id": "a", "file": "/opt/airflow/dags/a.py", "paused": True, "last_run": "failed"}],
           "errors": [{"file": "c.py", "trace": "SyntaxError: invalid syntax (c.py, line 2)"}]}
    report = dags.dags_report(raw, "demo")
    assert report.dags == [dags.DagRow("a", "dags/a.py", True, "failed")]
    assert report.problems[0].location == "dags/c.py:2"


def test_conf_must_be_a_json_object():
    assert json.loads(dags.conf_argument('{"a": 1}')) == {"a": 1}
    assert dags.conf_argument(None) == ""
    with pytest.raises(UsageError, match="not valid JSON"):
        dags.conf_argument("{a: 1}")
    with pytest.raises(UsageError, match="not a JSON object"):
        dags.conf_argument("[1]")


def test_date_is_checked_before_anything_runs():
    assert dags.date_argument("2024-01-02") == "2024-01-02"
    assert dags.date_argument("2024-01-02T03:00:00Z") == "2024-01-02T03:00:00Z"
    with pytest.raises(UsageError, match="not a date"):
        dags.date_argument("yesterday")


def test_test_result_ok_only_on_success():
    raw = {"run_id": "manual__1", "state": "failed", "failure": "DagRun failed",
           "tasks": [{"task_id": "a", "state": "success", "try_number": 1, "map_index": -1},
                     {"task_id": "b", "state": "failed", "try_number": 1, "map_index": -1}]}
    result = dags.test_result("d", raw, 3.0)
    assert not result.ok and [t.state for t in result.tasks] == ["success", "failed"]
    assert dags.test_result("d", {"run_id": "r", "state": "success", "tasks": []}, 1.0).ok
    assert not dags.test_result("d", {"failure": "Dag 'd' could not be found"}, 1.0).ok


def test_pytest_arguments(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("")
    assert dags.pytest_arguments(tmp_path, [], tmp_path) == ["tests"]
    assert dags.pytest_arguments(tmp_path, [Path("test_a.py::test_x")], tmp_path / "tests") == \
        ["tests/test_a.py::test_x"]
    elsewhere = tmp_path.parent / "somewhere-else"
    elsewhere.mkdir(exist_ok=True)
    assert dags.pytest_arguments(tmp_path, [Path("tests/test_a.py")], elsewhere) == ["tests/test_a.py"]  # afc -C
    (tmp_path / "elsewhere.py").write_text("")
    with pytest.raises(UsageError, match="not in the project's tests/"):
        dags.pytest_arguments(tmp_path, [Path("elsewhere.py")], tmp_path)


def test_pytest_without_a_tests_folder_says_how_to_get_one(tmp_path):
    with pytest.raises(ProjectError, match="tests does not exist"):
        dags.pytest_arguments(tmp_path, [], tmp_path)


def test_parsing_environment_needs_no_database_server():
    assert dags.parsing_environment(2)["AIRFLOW__CORE__EXECUTOR"] == "SequentialExecutor"
    assert dags.parsing_environment(3)["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert dags.parsing_environment(3)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("sqlite:////")


def test_the_launcher_and_the_tools_script_are_valid_python():
    compile(dags.PYTEST_LAUNCHER, "launcher", "exec")
    compile(dags.tools_script(), "dag_tools", "exec")


def test_example_test_is_written_once(tmp_path):
    assert dags.write_example_test(tmp_path) == "tests/test_dag_integrity.py"
    text = (tmp_path / "tests" / "test_dag_integrity.py").read_text()
    compile(text, "example", "exec")
    assert "import_errors" in text
    (tmp_path / "tests" / "test_dag_integrity.py").write_text("mine")
    assert dags.write_example_test(tmp_path) is None
    assert (tmp_path / "tests" / "test_dag_integrity.py").read_text() == "mine"
