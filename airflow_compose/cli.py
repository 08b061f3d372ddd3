"""The `afc` command line: Typer commands only. Each parses its flags, calls one function, hands the result
to `ui`. Heavy modules (python-on-whales, yaml, rich) are imported inside the commands."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import __version__
from .errors import INTERRUPTED, AfcError

app = typer.Typer(
    name="afc",
    help="Generate and run a local Apache Airflow stack on Docker Compose.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich's help renderer costs ~0.1 s of imports on every --help
    context_settings={"help_option_names": ["-h", "--help"]},
)


class State:
    project_dir: Path = Path(".")
    debug: bool = False


def _version(value: bool) -> None:
    if value:
        typer.echo(f"afc {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    project_dir: Annotated[Path, typer.Option("--project-dir", "-C", envvar="AFC_PROJECT_DIR",
                                              help="The project folder (default: here or the nearest parent "
                                                   "holding one).", show_default=False)] = Path("."),
    debug: Annotated[bool, typer.Option("--debug", help="Show Python tracebacks of errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print afc's version and exit.")] = False,
) -> None:
    State.project_dir = project_dir
    State.debug = debug


def _project():
    from .project.files import find_project

    return find_project(State.project_dir)


def _facts():
    from . import engine

    return engine.Probe().facts


# --- generate ------------------------------------------------------------------------------------------

Tag = Annotated[Optional[str], typer.Option(
    "--tag", envvar="AFC_TAG", show_default=False,
    help="apache/airflow tag, e.g. 3.3.2-python3.12, 2.10.4, slim-… [default: 3.3.2-python3.12: a pinned "
         "release and Python, so the stack starts the same way tomorrow]")]
Image = Annotated[Optional[str], typer.Option("--image", envvar="AFC_IMAGE", show_default=False,
                                              help="Full Airflow image REPO:TAG, for mirrors and private "
                                                   "registries; its tag decides the version.")]


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Project folder (created if missing).")] = Path("."),
    tag: Tag = None,
    image: Image = None,
    arch: Annotated[Optional[str], typer.Option(envvar="AFC_ARCH", help="auto (the engine's), amd64 or arm64. "
                                                "[default: auto]", show_default=False)] = None,
    executor: Annotated[Optional[str], typer.Option(envvar="AFC_EXECUTOR", help="celery or local. "
                                                    "[default: celery]", show_default=False)] = None,
    workers: Annotated[Optional[int], typer.Option(envvar="AFC_WORKERS", help="Celery workers. [default: 1]",
                                                   show_default=False)] = None,
    port: Annotated[Optional[int], typer.Option(envvar="AFC_PORT", help="Host port of the web UI. "
                                                "[default: 8080]", show_default=False)] = None,
    host: Annotated[Optional[str], typer.Option(envvar="AFC_HOST", help="Address the ports bind to. "
                                                "[default: 127.0.0.1]", show_default=False)] = None,
    flower: Annotated[Optional[bool], typer.Option("--flower/--no-flower", envvar="AFC_FLOWER",
                                                   help="Run Flower. [default: no]", show_default=False)] = None,
    postgres_image: Annotated[Optional[str], typer.Option(envvar="AFC_POSTGRES_IMAGE", show_default=False,
                                                          help="Postgres image. [default: postgres:16]")] = None,
    redis_image: Annotated[Optional[str], typer.Option(envvar="AFC_REDIS_IMAGE", show_default=False,
                                                       help="Redis image. [default: redis:7.2-bookworm]")] = None,
    examples: Annotated[Optional[bool], typer.Option("--examples/--no-examples", envvar="AFC_EXAMPLES",
                                                     help="Load Airflow's example DAGs. [default: no]",
                                                     show_default=False)] = None,
    lite: Annotated[Optional[bool], typer.Option("--lite/--no-lite", envvar="AFC_LITE", show_default=False,
                                                 help="One Airflow container on SQLite in a named volume, no "
                                                      "Postgres or Redis: for small machines and trying Airflow "
                                                      "out. [default: no]")] = None,
    force: Annotated[bool, typer.Option("--force", help="Re-render an existing project (keeps its secrets, "
                                        "DAGs, logs and data).")] = False,
    new_secrets: Annotated[bool, typer.Option("--new-secrets", help="With --force: generate the Postgres password, "
                                              "Fernet key or admin password when .env lacks them (the data kept "
                                              "from before does not know the new ones).")] = False,
) -> None:
    """Create a project: dags/, logs/, plugins/, config/, .env (0600, with generated secrets), compose.yaml."""
    from . import ui
    from .commands import initialize
    from .project import inputs
    from .project.files import Project

    folder = directory if directory.is_absolute() else State.project_dir / directory
    project = Project(inputs.creatable_folder(folder, "DIRECTORY").resolve())
    existing = project.file_values() if force and project.env_path.exists() else {}
    current = existing.get("AFC_BASE_IMAGE") or existing.get("AIRFLOW_IMAGE_NAME")  # --tag keeps its repository
    flags = {"AIRFLOW_IMAGE_NAME": initialize.image_flag(tag, image, current), "AFC_ARCH": arch,
             "AFC_BASE_IMAGE": "" if tag or image else None,  # a new stock image replaces an afc-built one
             "AFC_EXECUTOR": executor, "AFC_WORKERS": _str(workers), "AFC_PORT": _str(port), "AFC_HOST": host,
             "AFC_FLOWER": _bool(flower), "AFC_POSTGRES_IMAGE": postgres_image, "AFC_REDIS_IMAGE": redis_image,
             "AFC_EXAMPLES": _bool(examples), "AFC_LITE": _bool(lite)}
    if lite:  # no Celery on SQLite; one web process is plenty for one user
        flags["AFC_EXECUTOR"] = executor or "local"
        if "AFC_WEB_WORKERS" not in existing:
            flags["AFC_WEB_WORKERS"] = "1"
    ui.show_init(initialize.init_project(project, flags, force, _facts(), new_secrets))


def _str(value: Optional[int]) -> Optional[str]:
    return None if value is None else str(value)


def _bool(value: Optional[bool]) -> Optional[str]:
    return None if value is None else ("true" if value else "false")


@app.command()
def config(
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to FILE instead of stdout.")] = None,
    check: Annotated[bool, typer.Option("--check", help="Validate .env and compose.yaml; exit 3 naming what is "
                                        "wrong.")] = False,
    show_secrets: Annotated[bool, typer.Option("--show-secrets", help="Print secret values instead of ${VAR} "
                                               "references (careful: your terminal keeps them; --output then "
                                               "writes the file with mode 0600).")] = False,
) -> None:
    """Print the compose file rendered from .env (secrets as ${VAR} references)."""
    from . import engine, ui
    from .commands import initialize
    from .errors import UsageError
    from .project import inputs

    if check and (output or show_secrets):
        raise UsageError("--check validates the project and prints no compose file",
                         hint="leave out --output/--show-secrets, or run them without --check")
    project = _project()
    if output:
        output = inputs.writable_file(output, "--output")
    if check:
        result = initialize.check_project(project, _facts(), lambda p: engine.validate_compose_files(
            [str(f) for f in p.compose_files], str(p.root)))
        raise typer.Exit(ui.show_check(result))
    _spec, text = initialize.current_text(project, _facts())
    if show_secrets:
        text = initialize.show_secrets(text, project.values())
    if output:
        inputs.write_output(output, text, "--output", mode=0o600 if show_secrets else 0o644)
        ui.success(f"wrote {output}" + (" (mode 0600: it holds the project's secrets)" if show_secrets else ""))
    else:
        if show_secrets and not sys.stdout.isatty():
            ui.warn("--show-secrets: the project's secrets are going to a pipe or file, not a terminal")
        ui.data(text)


# --- run --------------------------------------------------------------------------------------------------

def _ctx(render_missing: bool = False):
    from .commands.context import Context

    return Context.load(State.project_dir, render_missing)


Services = Annotated[Optional[list[str]], typer.Argument(help="Services (default: all), e.g. scheduler worker.",
                                                         show_default=False)]
Timeout = Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait for healthy.")]


@app.command()
def up(services: Services = None, timeout: Timeout = 300.0,
       no_wait: Annotated[bool, typer.Option("--no-wait", help="Start and return without waiting.")] = False,
       port: Annotated[Optional[str], typer.Option("--port", help="Host port of the web UI, or auto: a free one (the "
                                                   "current port while it is free), kept in .env as AFC_PORT.",
                                                   show_default=False)] = None) -> None:
    """Start the stack and wait until every service is healthy (re-renders compose.yaml if .env changed)."""
    from . import ui
    from .commands import lifecycle, ports

    chosen = ports.resolve_port(State.project_dir, port)
    if chosen is not None:
        ports.save_port(State.project_dir, chosen[0])
        if chosen[1]:
            ui.info(f"web UI port: {chosen[0]} (free; saved as AFC_PORT in .env)")
    ctx = _ctx(render_missing=True)
    with ui.LiveStatus(f"starting {ctx.spec.project}") as live:
        result = lifecycle.up(ctx, services, wait=not no_wait, timeout=timeout, on_update=live.update,
                              on_pull=live.pull)
    ui.show_up(result)
    if result.waited and (not services or ctx.spec.cli_service in services):
        _after_up(ctx)


def _after_up(ctx) -> None:
    """Once Airflow is healthy: airflow_settings.yaml applied (a bad entry fails `afc up` after the start, naming
    it), then the DAG files that fail to import, as a table (a warning, not a failure)."""
    from . import ui
    from .commands import dags, seeds
    from .errors import AfcError

    wanted = seeds.load(ctx.project.root)
    if wanted is not None and not wanted.empty:
        ui.show_settings_apply(seeds.apply(ctx, wanted))
    if dags.has_dag_files(ctx.project.root):
        try:
            ui.show_import_problems(dags.check_in_stack(ctx).problems)
        except AfcError as error:
            ui.warn(f"could not parse the DAG files: {error.message}")


@app.command()
def down(volumes: Annotated[bool, typer.Option("--volumes", "-v", help="Also delete the database volume "
                                               "(all DAG runs, connections, variables).")] = False,
         yes: Annotated[bool, typer.Option("--yes", "-y", help="Confirm --volumes without asking.")] = False) -> None:
    """Stop and remove the stack's containers (the database is kept unless --volumes)."""
    from . import ui
    from .commands import lifecycle

    ctx = _ctx()
    if volumes and not yes:
        ui.confirm(f"Delete the database volume of '{ctx.spec.project}' (all Airflow metadata)?",
                   "add --yes to confirm deleting the database")
    ui.show_down(ctx.spec.project, lifecycle.down(ctx, volumes))


@app.command()
def stop(services: Services = None) -> None:
    """Stop the stack's containers without removing them."""
    from . import ui

    ctx = _ctx()
    ctx.stack.stop(ctx.check_services(services))
    ui.success("stopped")


@app.command()
def start(services: Services = None, timeout: Timeout = 300.0) -> None:
    """Start stopped containers again and wait until healthy."""
    up(services=services, timeout=timeout, no_wait=False)


@app.command()
def restart(services: Services = None, timeout: Timeout = 300.0) -> None:
    """Restart services (default: all) and wait until healthy."""
    from . import ui
    from .commands import lifecycle

    ctx = _ctx(render_missing=True)
    ctx.stack.restart(ctx.check_services(services))
    with ui.LiveStatus(f"restarting {ctx.spec.project}") as live:
        result = lifecycle.up(ctx, services, wait=True, timeout=timeout, on_update=live.update, on_pull=live.pull)
    ui.show_up(result)


@app.command("status")
def status_command(as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False) -> None:
    """Per service: replicas, state, health, published ports, uptime."""
    from . import ui
    from .commands import lifecycle

    ui.show_status(lifecycle.status(_ctx()), as_json)


app.command("ps", help="Alias of `afc status`.")(status_command)


@app.command()
def health(as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False) -> None:
    """Deep check: containers, Airflow's health endpoint, a Celery ping of each worker. Exit 0 only if all healthy."""
    from . import ui
    from .commands import dags, lifecycle

    ctx = _ctx()
    report = lifecycle.deep_health(ctx)
    report.warnings += dags.health_warnings(ctx)
    raise typer.Exit(ui.show_health(report, as_json))


@app.command()
def logs(services: Services = None,
         follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
         tail: Annotated[Optional[int], typer.Option("--tail", "-n", min=0, help="Lines from the end of each log.",
                                                     show_default=False)] = None,
         since: Annotated[Optional[str], typer.Option("--since", help="Only lines since a time or duration "
                                                      "(e.g. 10m, 2h, 2026-01-02T13:00).", show_default=False)] = None,
         timestamps: Annotated[bool, typer.Option("--timestamps", "-t", help="Show timestamps.")] = False) -> None:
    """Show service logs, several services merged with a prefix each."""
    from .commands import lifecycle
    from .project import inputs

    since = inputs.since(since) if since is not None else None
    raise typer.Exit(lifecycle.logs(_ctx(), services, follow=follow, tail=tail, since=since, timestamps=timestamps))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def airflow(ctx: typer.Context) -> None:
    """Run the Airflow CLI in the stack's scheduler, e.g. `afc airflow dags list` (exit code passed on)."""
    from .commands import lifecycle

    stack = _ctx()
    raise typer.Exit(lifecycle.exec_in(stack, stack.spec.cli_service, ["airflow", *ctx.args]))


@app.command()
def shell(service: Annotated[Optional[str], typer.Argument(help="Service to open a shell in. [default: scheduler; "
                                                           "airflow in a lite project]", show_default=False)] = None,
          ) -> None:
    """Open an interactive shell in a service (default: scheduler)."""
    from .commands import lifecycle

    ctx = _ctx()
    raise typer.Exit(lifecycle.exec_in(ctx, service or ctx.spec.cli_service, ["bash"]))


@app.command()
def scale(what: Annotated[str, typer.Argument(help="What to scale: workers.")],
          count: Annotated[int, typer.Argument(help="How many.")], timeout: Timeout = 300.0) -> None:
    """Scale Celery workers up or down (`afc scale workers 3`); no other service is recreated."""
    from . import ui
    from .commands import lifecycle
    from .commands.context import check_scale

    check_scale(what, count, "scale")  # the arguments first, before the project is looked at
    ctx = _ctx(render_missing=True)
    with ui.LiveStatus("scaling workers") as live:
        result = lifecycle.scale_workers(ctx, count, timeout, live.update)
    ui.success(f"{count} worker(s) healthy after {result.elapsed:.1f}s (AFC_WORKERS={count} saved in .env)")


# --- the DAG author's loop ---------------------------------------------------------------------------------

dags_app = typer.Typer(help="List the DAGs (id, file, paused, last run state) and import errors the stack holds; "
                                "`afc dags check` parses DAG files now.",
                       invoke_without_command=True)
app.add_typer(dags_app, name="dags")
AsJson = Annotated[bool, typer.Option("--json", help="JSON on stdout.")]


@dags_app.callback()
def dags_list(ctx: typer.Context, as_json: AsJson = False) -> None:
    """List the DAGs (id, file, paused, last run state) and the import errors the stack holds."""
    if ctx.invoked_subcommand is not None:
        return
    from . import ui
    from .commands import dags

    raise typer.Exit(ui.show_dags(dags.list_dags(_ctx()), as_json))


@dags_app.command("check")
def dags_check(files: Annotated[Optional[list[Path]], typer.Argument(
                   help="DAG files or folders under dags/ (default: the whole dags/ folder).",
                   show_default=False)] = None,
               as_json: AsJson = False) -> None:
    """Parse DAG files right now in a one-off container of the project's image (no waiting for the DAG
    processor, no running stack needed); exit 1 when any fails to import, naming file and line."""
    from . import ui
    from .commands import dags

    raise typer.Exit(ui.show_dags_check(dags.check(_ctx(), files or [], Path.cwd()), as_json))


@app.command("test")
def test_command(dag_id: Annotated[str, typer.Argument(help="The DAG to run.")],
                 date: Annotated[Optional[str], typer.Option("--date", help="Logical date of the run (ISO, e.g. "
                                                             "2024-01-02) [default: now].", show_default=False)] = None,
                 conf: Annotated[Optional[str], typer.Option("--conf", help="Run configuration, a JSON object.",
                                                             show_default=False)] = None) -> None:
    """Run a DAG once in the stack (`airflow dags test`), streaming its task logs; exit 0 only when the run
    succeeded."""
    from . import ui
    from .commands import dags

    result = dags.test_dag(_ctx(), dag_id, date, conf, ui.task_line)
    raise typer.Exit(ui.show_test(result))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def pytest(ctx: typer.Context) -> None:
    """Run the project's tests/ with pytest in a one-off container of the project's image (dags/, plugins/, tests/
    mounted), e.g. `afc pytest`, `afc pytest tests/test_x.py -- -k name -x`; pytest's exit code is passed on.

    pytest is installed into .afc/pytest when the image lacks it (offline from wheels/ when that folder exists).
    Paths come first; everything from the first argument starting with '-' goes to pytest."""
    from .commands import dags

    paths: list[Path] = []
    extra: list[str] = []
    for argument in ctx.args:
        if extra or argument.startswith("-"):
            extra.append(argument)
        else:
            paths.append(Path(argument))
    raise typer.Exit(dags.run_pytest(_ctx(), paths, extra, Path.cwd(), sys.stdout.isatty()))


settings_app = typer.Typer(help="Connections, pools and variables seeded from airflow_settings.yaml (Astro CLI's "
                                "shape).", no_args_is_help=True)
app.add_typer(settings_app, name="settings")


@settings_app.command("apply")
def settings_apply() -> None:
    """Apply airflow_settings.yaml to the running stack: new entries created, changed ones updated, the rest left
    alone; a bad entry is refused (naming entry and field) and nothing is written."""
    from . import ui
    from .commands import seeds
    from .errors import ProjectError

    ctx = _ctx()
    wanted = seeds.load(ctx.project.root)
    if wanted is None:
        raise ProjectError(f"{ctx.project.root / seeds.FILE} does not exist",
                           hint="write it (see README: Seeded settings), or `afc settings export --output "
                                "airflow_settings.yaml` to start from what the stack holds")
    ui.show_settings_apply(seeds.apply(ctx, wanted))


@settings_app.command("export")
def settings_export(
        output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to FILE (mode 0600) instead of "
                                                       "stdout.", show_default=False)] = None,
        show_secrets: Annotated[bool, typer.Option("--show-secrets", help="Include passwords, connection extras and "
                                                   "sensitive variables.")] = False) -> None:
    """Write the stack's connections, pools and variables in airflow_settings.yaml's shape."""
    from . import ui
    from .commands import seeds

    ui.show_settings_export(seeds.export(_ctx(), output, show_secrets))


@app.command("ls")
def ls_command(as_json: AsJson = False) -> None:
    """List every afc stack on the Docker engine: project, folder, Airflow version, state, health, URL."""
    from . import ui
    from .commands import ports

    ui.show_stacks(ports.list_stacks(), as_json)


@app.command("open")
def open_command() -> None:
    """Open the stack's web UI in a browser (prints the URL when there is no browser to open)."""
    from . import ui
    from .commands import ports

    url = _ctx().spec.url
    ui.data(url)
    if not ports.open_url(url):
        ui.info("no browser to open here (no display); open the URL above")


# --- images and upgrade ---------------------------------------------------------------------------------

@app.command()
def images(tag: Annotated[Optional[str], typer.Argument(help="A tag (e.g. 2.10.4, slim-3.3.2-python3.12) or "
                                                        "REPO:TAG to explain; without it, the project's images.",
                                                        show_default=False)] = None,
           as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False) -> None:
    """Explain an Airflow image tag, or show the project's images as the local engine holds them."""
    from . import ui
    from .commands import images as images_module

    if tag:
        executor, _found = images_module.project_executor(State.project_dir)
        ui.show_tag(images_module.describe_tag(tag, executor), as_json)
    else:
        ui.show_project_images(images_module.project_images(State.project_dir), as_json)


@app.command()
def build(
    slim: Annotated[bool, typer.Option("--slim", help="Build on the slim form of the project's tag, adding the "
                                       "providers the stack needs.")] = False,
    with_extras: Annotated[Optional[str], typer.Option("--with", help="Airflow extras (providers) to add, "
                                                       "comma-separated, e.g. amazon,http.",
                                                       show_default=False)] = None,
    constraints: Annotated[Optional[str], typer.Option("--constraints", help="pip constraints: a file or URL "
                                                       "(default: constraints.txt in the project if any, else the "
                                                       "base image's own /home/airflow/constraints.txt).",
                                                       show_default=False)] = None,
    no_constraints: Annotated[bool, typer.Option("--no-constraints", help="Install without any constraints "
                                                 "(pip resolves today's newest versions).")] = False,
) -> None:
    """Build the project's image from requirements.txt, packages.txt, wheels/ and extras, and switch to it.

    The image is tagged <project>-airflow:<content hash>: unchanged inputs reuse it. When wheels/ exists it
    is pip's only package source (offline builds). `afc up` then runs the new image."""
    from . import ui
    from .commands import build as build_module

    project = _project()
    with ui.PullView() as pulls:
        result = build_module.build(project, slim=slim, extras=with_extras, constraints=constraints,
                                    no_constraints=no_constraints, on_output=ui.build_line,
                                    on_plan=ui.show_build_plan, on_pull=pulls.update)
    ui.show_build(result)


@app.command()
def upgrade(to: Annotated[str, typer.Option("--to", help="Tag to upgrade to (keeps the project's image "
                                            "repository), or a full REPO:TAG.", show_default=False)],
            yes: Annotated[bool, typer.Option("--yes", "-y", help="Upgrade without asking.")] = False,
            timeout: Timeout = 600.0) -> None:
    """Upgrade Airflow: back up the metadata DB, switch the image, migrate, wait healthy (rolls back on failure)."""
    from . import ui
    from .commands import upgrade as upgrade_module

    plan = upgrade_module.plan_for(State.project_dir, to)
    ui.show_upgrade_plan(plan)
    if not yes:
        ui.confirm(f"Upgrade '{plan.project}' to {plan.target.text}?", "add --yes to upgrade without asking",
                   refused="upgrade", undone="did not upgrade")
    with ui.LiveStatus(f"upgrading {plan.project} to {plan.target_tag.version}") as live:
        result = upgrade_module.run_upgrade(plan, timeout, live.update, live.pull)
    ui.show_upgrade(result)


@app.command()
def audit(as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
          fail_on: Annotated[str, typer.Option("--fail-on", help="Which findings make the exit code 1: any, "
                                               "fixable (a fixed version exists) or upgrade (a newer Airflow "
                                               "release fixes it). pip-audit reports no severities.")] = "any",
          service: Annotated[str, typer.Option("--service", help="pip-audit's vulnerability service: pypi "
                                               "(PyPI's JSON API) or osv.")] = "pypi",
          osv_url: Annotated[Optional[str], typer.Option("--osv-url", help="An OSV API URL to query instead of "
                                                         "api.osv.dev (a mirror); implies --service osv.",
                                                         show_default=False)] = None) -> None:
    """Known vulnerabilities of the Python packages in the project's image (pip-audit), each with its remedy:
    upgrade Airflow, rebuild with a newer pin, or no fix yet. Lists the base system and Debian packages as facts.

    Exit 0: no finding; 1: findings remain (see --fail-on); 4: the vulnerability service cannot be reached."""
    from . import ui
    from .commands import audit as audit_module

    raise typer.Exit(ui.show_audit(audit_module.audit(State.project_dir, service, osv_url, fail_on), as_json))


# --- export (helm) ------------------------------------------------------------------------------------------

export_app = typer.Typer(help="Export the project for running Airflow beyond one machine.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("helm")
def export_helm(
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Folder to write values.yaml and "
                                                   "secrets.yaml to (default: <project>/helm).",
                                                   show_default=False)] = None,
    release: Annotated[str, typer.Option("--release", help="The Helm release name you will install with "
                                         "(names the chart's PostgreSQL host).")] = "airflow",
) -> None:
    """Write values.yaml for the official apache-airflow Helm chart, and secrets.yaml (0600).

    values.yaml names Secrets only; secrets.yaml holds the secrets of .env as Kubernetes Secrets.

    Both files are overwritten; other files in the folder are left alone."""
    from . import ui
    from .commands import export
    from .commands.lite import refuse
    from .stack import helm
    from .stack.spec import host_facts

    project = _project()
    spec = project.spec(host_facts())
    refuse(spec, "export helm", "the Helm chart runs Airflow on Postgres with separate components, and SQLite "
                                "cannot be shared between pods")
    result = helm.export(spec, project.values(), release)
    ui.show_export(export.write_export(result, output or project.root / "helm", release))


# --- swarm -----------------------------------------------------------------------------------------------

swarm_app = typer.Typer(help="Run the project's stack on Docker Swarm: DAGs baked into the image, secrets as "
                             "Docker secrets, init as a one-shot job.", no_args_is_help=True)
app.add_typer(swarm_app, name="swarm")

SwarmImage = Annotated[Optional[str], typer.Option(
    "--image", show_default=False, help="Deploy this Airflow image (with the DAGs baked in, e.g. pushed to a "
                                        "registry every node can pull from) instead of building one.")]
RoutingMesh = Annotated[bool, typer.Option(
    "--routing-mesh", help="Publish ports through the ingress routing mesh (reachable on every node; needs the "
                           "ip_vs kernel module) instead of on the node running the service.")]


def _swarm_ctx(engine_facts: bool = False):
    from .commands.lite import refuse
    from .commands.swarm import SwarmContext

    ctx = SwarmContext.load(State.project_dir, _facts() if engine_facts else None)
    refuse(ctx.spec, "swarm", "Swarm spreads services over nodes, and a SQLite file lives in one container's "
                              "volume on one node")
    return ctx


@swarm_app.command("deploy")
def swarm_deploy(image: SwarmImage = None, routing_mesh: RoutingMesh = False,
                 registry_auth: Annotated[bool, typer.Option("--with-registry-auth", help="Send your registry login "
                                                             "to the nodes (a private registry).")] = False,
                 timeout: Timeout = 600.0) -> None:
    """Build the image with the DAGs, create the secrets, deploy in phases and wait until every replica is healthy."""
    from . import ui
    from .commands import swarm
    from .stack import tags

    ctx = _swarm_ctx(engine_facts=True)
    image = tags.pinned_reference(image) if image is not None else None
    with ui.SwarmLive(f"deploying {ctx.name}") as live:
        result = swarm.deploy(ctx, timeout=timeout, image=image, routing_mesh=routing_mesh,
                              registry_auth=registry_auth, on_update=live.update, on_phase=live.phase,
                              on_build_output=live.output, on_pull=live.pull)
    ui.show_swarm_deploy(result)


@swarm_app.command("build")
def swarm_build() -> None:
    """Build the image with dags/ and plugins/ baked in, without deploying (push it for a multi-node swarm)."""
    from . import ui
    from .commands import swarm

    ctx = _swarm_ctx()
    with ui.SwarmLive("building") as live:
        ui.show_swarm_build(swarm.build_image(ctx, live.output, live.pull), ctx.name)


@swarm_app.command("status")
def swarm_status(as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False) -> None:
    """Per service: replicas running/wanted, task states, health, published ports, uptime."""
    from . import ui
    from .commands import swarm

    ui.show_status(swarm.status(_swarm_ctx()), as_json)


@swarm_app.command("scale")
def swarm_scale(what: Annotated[str, typer.Argument(help="What to scale: workers.")],
                count: Annotated[int, typer.Argument(help="How many.")], timeout: Timeout = 300.0) -> None:
    """Scale the Celery workers of the swarm stack (`afc swarm scale workers 3`) and wait until all are healthy."""
    from . import ui
    from .commands import swarm

    ctx = _swarm_ctx()
    with ui.SwarmLive(f"scaling the workers of {ctx.name}") as live:
        ui.show_swarm_scale(swarm.scale(ctx, what, count, timeout, live.update))


@swarm_app.command("rm")
def swarm_rm(volumes: Annotated[bool, typer.Option("--volumes", "-v", help="Also delete the stack's volumes on "
                                                   "this node (the database: all DAG runs, connections, "
                                                   "variables).")] = False,
             yes: Annotated[bool, typer.Option("--yes", "-y", help="Confirm --volumes without asking.")] = False,
             ) -> None:
    """Remove the swarm stack and its Docker secrets (its volumes are kept unless --volumes)."""
    from . import ui
    from .commands import swarm

    ctx = _swarm_ctx()
    if volumes and not yes:
        ui.confirm(f"Delete the volumes of swarm stack '{ctx.name}' (all Airflow metadata)?",
                   "add --yes to confirm deleting the database")
    ui.show_swarm_rm(swarm.remove(ctx, volumes))


@swarm_app.command("config")
def swarm_config(image: SwarmImage = None, routing_mesh: RoutingMesh = False) -> None:
    """Print the swarm stack file (secrets by name only; `afc swarm deploy` creates them and deploys in phases)."""
    from . import ui
    from .commands import swarm
    from .stack import tags

    ui.data(swarm.config_text(_swarm_ctx(engine_facts=True), tags.pinned_reference(image) if image is not None else None,
                              routing_mesh))


# --- backup and restore -----------------------------------------------------------------------------------

def _wait_up(ctx, services, timeout: float, title: str):
    from . import ui
    from .commands import lifecycle

    with ui.LiveStatus(title) as live:
        return lifecycle.up(ctx, services, wait=True, timeout=timeout, on_update=live.update, on_pull=live.pull)


@app.command("backup")
def backup_command(file: Annotated[Optional[Path], typer.Argument(
        help="Where to write the dump (default: backups/<project>-<UTC time>.dump in the project).",
        show_default=False)] = None) -> None:
    """Dump the metadata database (pg_dump custom format, compressed; a lite project: a copy of its SQLite
    file; mode 0600: it holds connections)."""
    from . import ui
    from .commands import backup

    ui.show_backup(backup.backup(_ctx(), file))


@app.command("restore")
def restore_command(file: Annotated[Path, typer.Argument(help="A file written by `afc backup`.")],
                    yes: Annotated[bool, typer.Option("--yes", "-y", help="Replace the database without asking.")] = False,
                    timeout: Timeout = 300.0) -> None:
    """Replace the metadata database with a backup: stops Airflow, restores, starts it and waits for healthy."""
    from . import ui
    from .commands import backup
    from .commands.lite import check_database

    ctx = _ctx()
    path = check_database(file) if ctx.spec.lite else backup.check_archive(file)
    if not yes:
        ui.confirm(f"Replace the whole database of '{ctx.spec.project}' with {path}?",
                   "add --yes to replace the database with the backup")
    ui.show_restore(backup.restore(ctx, path, timeout=timeout,
                                   start_up=lambda c: _wait_up(c, None, timeout, f"starting {c.spec.project}"),
                                   start_postgres=lambda c: _wait_up(c, ["postgres"], timeout, "starting postgres")))


# --- doctor ----------------------------------------------------------------------------------------------

@app.command()
def doctor(as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False) -> None:
    """Check Docker, compose, memory/CPU/disk and, inside a project, ports, arch, AIRFLOW_UID, files, images.
    Exit 4 when a check fails."""
    from . import ui
    from .commands import doctor as checks

    raise typer.Exit(ui.show_doctor(checks.diagnose(State.project_dir), as_json))


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point: run the app on `argv` (default: the process's arguments), turning AfcError into a message
    and an exit code (no traceback)."""
    import signal

    # Ctrl-C always interrupts afc (and what it runs), even when started from a shell's background job,
    # which passes SIGINT on as ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code = app(args=argv, prog_name="afc", standalone_mode=False)
        sys.exit(code or 0)
    except AfcError as error:
        if State.debug:
            import traceback

            traceback.print_exc()
        from . import ui

        ui.error(error.message, error.hint, error.details)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        sys.exit(INTERRUPTED)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        sys.stderr.write("Aborted.\n")
        sys.exit(1)
    except Exception as error:  # click's usage errors and friends
        _handle_click(error)


def _handle_click(error: Exception) -> None:
    show = getattr(error, "show", None)
    if show is not None and hasattr(error, "exit_code"):
        show()
        sys.exit(error.exit_code)
    raise error


if __name__ == "__main__":  # pragma: no cover
    main()
