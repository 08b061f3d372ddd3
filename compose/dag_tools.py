# Runs INSIDE an Airflow container (`python -c <this file> MODE ARGS…`), never on the host: the DAG author's
# commands (`afc dags`, `afc dags check`, `afc test`, `afc settings`) as one Python process each, so every
# command pays one Airflow import. It works on Airflow 2.7+ and 3.x, and prints its result as one JSON line
# after a marker (`afc-result: {...}`); Airflow's own output (warnings, task logs) goes where it always goes.
import inspect
import json
import os
import sys
import time

MARKER = "afc-result: "


def emit(result):
    sys.stdout.flush()
    print(MARKER + json.dumps(result, default=str), flush=True)


def first_line(error):
    text = str(error).strip() or type(error).__name__
    return type(error).__name__ + ": " + text.splitlines()[0]


def dagbag_class():
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3.1+
    except ImportError:
        from airflow.models.dagbag import DagBag
    return DagBag


def check(paths):
    """Parse DAG files now, as the DAG processor would: the DAGs found and each file's import error."""
    began = time.monotonic()
    from airflow.configuration import conf

    folder = conf.get("core", "dags_folder")
    explicit = bool(paths)
    files = []
    for path in paths or [folder]:
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path, followlinks=True):
                dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
                files += [os.path.join(root, n) for n in sorted(names) if n.endswith(".py")]
        else:
            files.append(path)
    bag_class = dagbag_class()
    examples = {"include_examples": False} if "include_examples" in inspect.signature(bag_class).parameters else {}
    bag = bag_class(dag_folder=folder, collect_dags=False, **examples)  # Airflow 3.1+ has no include_examples
    for path in files:
        # a folder's helper modules without "airflow" and "dag" in them are skipped, as the processor does
        bag.process_file(path, only_if_updated=False, safe_mode=not explicit)
    dags = [{"dag_id": dag_id, "file": dag.fileloc, "tasks": len(dag.tasks)}
            for dag_id, dag in sorted(bag.dags.items())]
    errors = [{"file": name, "trace": trace} for name, trace in sorted(bag.import_errors.items())]
    emit({"files": files, "dags": dags, "errors": errors, "seconds": round(time.monotonic() - began, 2)})


def listing():
    """The DAGs and import errors the metadata database holds (what the UI shows)."""
    from sqlalchemy import func

    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.models.errors import ParseImportError
    from airflow.utils.session import create_session

    with create_session() as session:
        latest = dict(session.query(DagRun.dag_id, func.max(DagRun.id)).group_by(DagRun.dag_id).all())
        states = dict(session.query(DagRun.id, DagRun.state).filter(DagRun.id.in_(list(latest.values()))).all()) \
            if latest else {}
        dags = []
        for model in session.query(DagModel).order_by(DagModel.dag_id).all():
            if getattr(model, "is_stale", False) or getattr(model, "is_active", True) is False:
                continue  # the file is gone: Airflow keeps the row, the UI hides it
            dags.append({"dag_id": model.dag_id, "file": model.fileloc, "paused": bool(model.is_paused),
                         "last_run": states.get(latest.get(model.dag_id)) or ""})
        errors = [{"file": e.filename, "trace": e.stacktrace or "", "bundle": getattr(e, "bundle_name", None)}
                  for e in session.query(ParseImportError).order_by(ParseImportError.filename).all()]
    emit({"dags": dags, "errors": errors})


def run_test(dag_id, date, conf):
    """`airflow dags test` in this process, then the run's state and its tasks' states from the database."""
    from airflow.cli.cli_parser import get_parser
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        before = session.query(DagRun.id).filter(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).first()
    argv = ["dags", "test", dag_id] + ([date] if date else []) + (["--conf", conf] if conf else [])
    args = get_parser().parse_args(argv)
    failure = ""
    try:
        args.func(args)
    except SystemExit as error:
        failure = "" if error.code in (None, 0) else str(error.code)
    except Exception as error:  # the CLI's own error (an unknown DAG, a bad date): reported as the cause
        failure = first_line(error)
    sys.stdout.flush()
    sys.stderr.flush()
    with create_session() as session:
        runs = session.query(DagRun).filter(DagRun.dag_id == dag_id)
        if before:
            runs = runs.filter(DagRun.id > before[0])
        run = runs.order_by(DagRun.id.desc()).first()
        if run is None and date:  # the run of that date existed already and was run again
            run = session.query(DagRun).filter(DagRun.dag_id == dag_id).order_by(
                DagRun.end_date.desc()).first()
        tasks = []
        if run is not None:
            tasks = [{"task_id": ti.task_id, "state": ti.state or "", "try_number": ti.try_number,
                      "map_index": ti.map_index}
                     for ti in session.query(TaskInstance).filter(TaskInstance.dag_id == dag_id,
                                                                 TaskInstance.run_id == run.run_id)
                     .order_by(TaskInstance.task_id, TaskInstance.map_index).all()]
        emit({"run_id": run.run_id if run else "", "state": (run.state if run else "") or "",
              "tasks": tasks, "failure": failure})


def settings_apply():
    """Connections, pools and variables from stdin (validated by afc), written in one transaction: an entry
    equal to what the database holds is left alone; a field afc did not send keeps its value."""
    payload = json.load(sys.stdin)
    from airflow.models.connection import Connection
    from airflow.models.pool import Pool
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    created, updated, unchanged = [], [], []

    def record(kind, name, row, wanted, make):
        label = kind + " " + name
        if row is None:
            session.add(make())
            created.append(label)
            return
        changed = False
        for attribute, value in wanted.items():
            if getattr(row, attribute) != value:
                setattr(row, attribute, value)
                changed = True
        (updated if changed else unchanged).append(label)

    try:
        with create_session() as session:
            for conn in payload["connections"]:
                fields = {k: v for k, v in conn.items() if k != "conn_id"}
                if "extra" in fields:
                    fields["extra"] = fields["extra"] or None
                row = session.query(Connection).filter(Connection.conn_id == conn["conn_id"]).one_or_none()
                record("connection", conn["conn_id"], row, fields,
                       lambda: Connection(conn_id=conn["conn_id"], **fields))
            for pool in payload["pools"]:
                fields = {"slots": pool["slots"]}
                if "description" in pool:
                    fields["description"] = pool["description"]
                row = session.query(Pool).filter(Pool.pool == pool["pool"]).one_or_none()
                extra = {"include_deferred": False} if hasattr(Pool, "include_deferred") else {}
                record("pool", pool["pool"], row, fields, lambda: Pool(pool=pool["pool"], **fields, **extra))
            for var in payload["variables"]:
                row = session.query(Variable).filter(Variable.key == var["key"]).one_or_none()
                if "value" not in var:
                    if row is None:
                        raise ValueError("variable " + var["key"] + ": variable_value is missing and the stack "
                                         "has no value for it")
                    unchanged.append("variable " + var["key"])
                    continue
                record("variable", var["key"], row, {"val": var["value"]},
                       lambda: Variable(key=var["key"], val=var["value"]))
            session.flush()
    except Exception as error:  # rolled back by create_session: nothing of this apply is written
        emit({"error": first_line(error)})
        return
    emit({"created": created, "updated": updated, "unchanged": unchanged})


def settings_export():
    from airflow.models.connection import Connection
    from airflow.models.pool import Pool
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        connections = [{"conn_id": c.conn_id, "conn_type": c.conn_type, "host": c.host, "schema": c.schema,
                        "login": c.login, "password": c.password, "port": c.port, "extra": c.extra}
                       for c in session.query(Connection).order_by(Connection.conn_id).all()]
        pools = [{"pool": p.pool, "slots": p.slots, "description": p.description}
                 for p in session.query(Pool).order_by(Pool.pool).all()]
        variables = [{"key": v.key, "value": v.val} for v in session.query(Variable).order_by(Variable.key).all()]
    emit({"connections": connections, "pools": pools, "variables": variables})


MODES = {"check": lambda argv: check(argv), "list": lambda argv: listing(),
         "test": lambda argv: run_test(argv[0], argv[1], argv[2]),
         "settings-apply": lambda argv: settings_apply(), "settings-export": lambda argv: settings_export()}

if __name__ == "__main__":
    MODES[sys.argv[1]](sys.argv[2:])
