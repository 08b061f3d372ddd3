"""A project on disk: finding it, reading its settings, and writing its files atomically."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import settings
from .errors import ProjectError, UsageError
from .folder import Survey
from .spec import EngineFacts, StackSpec, build_spec, project_name_from

ENV_FILE = ".env"
COMPOSE_FILE = "compose.yaml"
OVERRIDE_FILE = "compose.override.yaml"
USER_DIRS = ("dags", "logs", "plugins", "config")


def write_atomically(path: Path, text: str, mode: int = 0o644) -> None:
    """Write through a temporary file in the same folder and rename: readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class Project:
    root: Path
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    @property
    def env_path(self) -> Path:
        return self.root / ENV_FILE

    @property
    def compose_path(self) -> Path:
        return self.root / COMPOSE_FILE

    @property
    def override_path(self) -> Path:
        return self.root / OVERRIDE_FILE

    @property
    def compose_files(self) -> list[Path]:
        return [self.compose_path] + ([self.override_path] if self.override_path.exists() else [])

    def exists(self) -> bool:
        return self.env_path.exists() or self.compose_path.exists()

    def file_values(self) -> dict[str, str]:
        """The raw values of `.env`, strictly parsed."""
        if not self.env_path.exists():
            raise ProjectError(f"{self.root} is not an afc project (no {ENV_FILE})",
                               hint="run `afc init` here, or pass --project-dir to a project's folder")
        try:
            text = self.env_path.read_text()
        except OSError as error:
            raise ProjectError(f"cannot read {self.env_path}: {error.strerror}",
                               hint="check the file's owner and permissions")
        values = settings.parse_env_text(text, str(self.env_path))
        unknown = [k for k in values if k.startswith("AFC_") and k not in settings.BY_NAME]
        if unknown:
            raise ProjectError(f"{self.env_path} has unknown setting(s): {', '.join(unknown)}",
                               hint="check the spelling against .env.example, or remove them")
        return values

    def values(self, flags: dict[str, str] | None = None) -> dict[str, str]:
        values = settings.effective(self.file_values(), self.environ, flags)
        if not values.get("AFC_PROJECT_NAME"):  # a project from before the name was recorded: as it always was
            values["AFC_PROJECT_NAME"] = project_name_from(self.root.name)
        missing = [name for name in settings.SECRET_NAMES if not values.get(name)]
        if missing:
            raise ProjectError(f"{self.env_path} is missing secret(s): {', '.join(missing)}",
                               hint="run `afc init --force` to generate the missing ones "
                                    "(existing secrets, files and data are kept)")
        return values

    def spec(self, facts: EngineFacts, flags: dict[str, str] | None = None) -> StackSpec:
        return build_spec(self.values(flags), facts)


def find_project(start: Path) -> Project:
    """The project at `start` or in the nearest parent folder holding an afc `.env`."""
    start = start.resolve()
    for folder in [start, *start.parents]:
        if (folder / ENV_FILE).exists() and (folder / COMPOSE_FILE).exists():
            return Project(folder)
    if not start.exists():
        raise UsageError(f"project folder {start} does not exist", hint="pass --project-dir an existing folder")
    return Project(start)


@dataclass(frozen=True)
class InitResult:
    root: Path
    spec: StackSpec
    created: tuple[str, ...]
    kept_secrets: bool
    warnings: tuple[str, ...]
    survey: Survey | None = None        # what the folder held before
    ignored: tuple[str, ...] = ()       # entries added to .gitignore


def init_values(project: Project, flags: dict[str, str], force: bool,
                choose_name: Callable[[dict[str, str], dict[str, str]], str] | None = None
                ) -> tuple[dict[str, str], bool]:
    """The values `init` writes: existing `.env` (with --force), environment, flags, then new secrets.
    `choose_name(values, existing)` decides AFC_PROJECT_NAME (identity.py: unique against the engine)."""
    if project.exists() and not force:
        raise ProjectError(f"{project.root} already holds an afc project",
                           hint="run `afc up` to use it, or `afc init --force` to re-render it "
                                "(secrets, DAGs, logs and data are kept)")
    existing = project.file_values() if force and project.env_path.exists() else {}
    values = settings.effective(existing, project.environ, flags)
    if choose_name is not None:
        values["AFC_PROJECT_NAME"] = choose_name(values, existing)
    elif not values.get("AFC_PROJECT_NAME"):
        values["AFC_PROJECT_NAME"] = project_name_from(project.root.name)
    kept = any(existing.get(name) for name in settings.SECRET_NAMES)
    for name in settings.SECRET_NAMES:
        if not values.get(name):
            values[name] = settings.generate_secret(name)
    return values, kept


def write_project(project: Project, values: dict[str, str], compose_text: str) -> list[str]:
    """Create the folders and write `.env` (0600) and `compose.yaml`; undo what was created on failure."""
    created: list[Path] = []
    try:
        if not project.root.exists():
            project.root.mkdir(parents=True)
            created.append(project.root)
        for name in USER_DIRS:
            folder = project.root / name
            if not folder.exists():
                folder.mkdir()
                created.append(folder)
                # group-writable: containers run as AIRFLOW_UID with gid 0, which may not be the owner
                folder.chmod(0o775)
        env_new = not project.env_path.exists()
        write_atomically(project.env_path, settings.format_env(values), mode=0o600)
        if env_new:
            created.append(project.env_path)
        if not project.compose_path.exists():
            created.append(project.compose_path)
        write_atomically(project.compose_path, compose_text)
    except BaseException as error:
        for path in reversed(created):
            if path.is_dir():
                try:
                    path.rmdir()
                except OSError:
                    pass
            else:
                path.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise ProjectError(f"cannot write the project in {project.root}: {error.strerror} ({error.filename})",
                               hint="choose a folder you can write to")
        raise
    return [str(p.relative_to(project.root)) if p != project.root else str(p) for p in created]
