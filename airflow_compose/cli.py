"""The `afc` command line: Typer commands only. Each parses its flags, calls one function, hands the result
to `ui`. Heavy modules (python-on-whales, yaml, rich) are imported inside the commands."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import __version__
from .errors import AfcError, INTERRUPTED

app = typer.Typer(
    name="afc",
    help="Generate and run a local Apache Airflow stack on Docker Compose.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
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
    from .project import find_project

    return find_project(State.project_dir)


def _facts():
    from . import engine

    return engine.facts()


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
    force: Annotated[bool, typer.Option("--force", help="Re-render an existing project (keeps its secrets, "
                                        "DAGs, logs and data).")] = False,
) -> None:
    """Create a project: dags/, logs/, plugins/, config/, .env (0600, with generated secrets), compose.yaml."""
    from . import generate, ui
    from .project import Project

    folder = directory if directory.is_absolute() else State.project_dir / directory
    project = Project(folder.resolve())
    current = project.file_values().get("AIRFLOW_IMAGE_NAME") if force and project.env_path.exists() else None
    flags = {"AIRFLOW_IMAGE_NAME": generate.image_flag(tag, image, current), "AFC_ARCH": arch,
             "AFC_EXECUTOR": executor, "AFC_WORKERS": _str(workers), "AFC_PORT": _str(port), "AFC_HOST": host,
             "AFC_FLOWER": _bool(flower), "AFC_POSTGRES_IMAGE": postgres_image, "AFC_REDIS_IMAGE": redis_image,
             "AFC_EXAMPLES": _bool(examples)}
    ui.show_init(generate.init_project(project, flags, force, _facts()))


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
                                               "references (careful: your terminal keeps them).")] = False,
) -> None:
    """Print the compose file rendered from .env (secrets as ${VAR} references)."""
    from . import engine, generate, ui

    project = _project()
    if check:
        result = generate.check_project(project, _facts(), lambda p: engine.validate_compose_file(
            str(p.compose_path), str(p.root)))
        raise typer.Exit(ui.show_check(result))
    _spec, text = generate.current_text(project, _facts())
    if show_secrets:
        text = generate.show_secrets(text, project.values())
    if output:
        generate.write_output(output, text)
        ui.success(f"wrote {output}")
    else:
        ui.data(text)


def main() -> None:
    """Entry point: run the app, turning AfcError into a message and an exit code (no traceback)."""
    try:
        code = app(prog_name="afc", standalone_mode=False)
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
