"""`afc init` and `afc config`: settings → spec → compose file, written or checked."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..errors import EnvironmentProblem, ProjectError, UsageError
from ..project import folder, identity
from ..project.files import DATA_SECRETS, InitResult, Project, init_values, secret_consequences, write_project
from ..stack import tags
from ..stack.render import render, to_yaml
from ..stack.spec import EngineFacts, StackSpec

if TYPE_CHECKING:
    from ..engine import StackClaim


def image_flag(tag: str | None, image: str | None, current: str | None) -> str | None:
    """AIRFLOW_IMAGE_NAME from --tag/--image: --tag keeps the current repository (a mirror stays in use)."""
    if tag and image:
        raise UsageError("--tag and --image were both given", hint="give --image REPO:TAG, or --tag TAG alone")
    if image:
        return tags.split_image(image).text
    if tag:
        tags.parse_tag(tag)
        repository = tags.split_image(current).repository if current else tags.OFFICIAL_REPOSITORY
        return f"{repository}:{tag}"
    return None


def render_text(spec: StackSpec, facts: EngineFacts) -> str:
    return to_yaml(render(spec, facts))


def init_project(project: Project, flags: dict[str, str], force: bool, facts: EngineFacts,
                 new_secrets: bool = False, claim_of: Callable[[str], StackClaim] | None = None) -> InitResult:
    """Create (or with force, re-render) a project; validates everything before writing anything.
    `claim_of` reads what the engine holds under a compose project name (default: engine.stack_claim)."""
    if new_secrets and not force:
        raise UsageError("--new-secrets only applies with --force (re-rendering an existing project)",
                         hint="add --force, or leave --new-secrets out (a new project always gets new secrets)")
    notes: list[str] = []

    def choose_name(values: dict[str, str], existing: dict[str, str]) -> str:
        legacy = project.compose_name()  # what a project from before names were recorded runs under
        try:
            return identity.name_for_init(project.root, values, existing, claim_of or _engine_claim, legacy)
        except EnvironmentProblem:  # no engine now: the name is checked by every stack command later
            name = values.get("AFC_PROJECT_NAME") or (legacy if existing else identity.preferred_name(project.root))
            notes.append(f"the Docker engine did not answer, so the project name '{name}' was not checked against "
                         f"existing stacks (`afc up` checks it)")
            return name

    existed = project.exists()
    before = project.file_values() if force and project.env_path.exists() else {}
    survey = folder.survey(project.root)
    if not (project.quickstart_file() and not project.rendered_by_afc()):  # init_values names that stack
        folder.refuse_conflicts(survey, project.root)
    values, kept = init_values(project, flags, force, new_secrets, choose_name)
    spec = _spec(values, facts)
    created = write_project(project, values, render_text(spec, facts))
    ignored = folder.update_gitignore(project.root, survey)
    from .dags import write_example_test

    example = write_example_test(project.root)
    if example:
        created.append(example)
    warnings = tuple(spec.tag.warnings()) + tuple(exposure_warnings(spec)) + tuple(notes)
    renewed = [name for name in DATA_SECRETS if existed and not before.get(name)]
    if renewed:
        warnings += (f"generated new {', '.join(renewed)} (--new-secrets): {secret_consequences(renewed)}",)
    return InitResult(project.root, spec, tuple(created), kept, warnings, survey, ignored)


def _engine_claim(name: str) -> StackClaim:
    from .. import engine

    return engine.stack_claim(name)


def _spec(values: dict[str, str], facts: EngineFacts) -> StackSpec:
    from ..stack.spec import build_spec, check_combinations

    check_combinations(values)
    return build_spec(values, facts)


def exposure_warnings(spec: StackSpec) -> list[str]:
    if spec.host in ("127.0.0.1", "::1"):
        return []
    return [f"published ports bind to {spec.host}: Airflow is reachable from other machines; "
            f"use --host 127.0.0.1 unless you mean it"]


def current_text(project: Project, facts: EngineFacts) -> tuple[StackSpec, str]:
    spec = project.spec(facts)
    return spec, render_text(spec, facts)


def show_secrets(text: str, values: dict[str, str]) -> str:
    """Replace `${SECRET:?…}` references with their values (only for `afc config --show-secrets`)."""
    def value(match: re.Match) -> str:
        return values.get(match[1], match[0])
    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)(?::\?[^}]*)?\}", value, text)


@dataclass(frozen=True)
class Problem:
    what: str
    fix: str


@dataclass(frozen=True)
class CheckResult:
    project: Path
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_project(project: Project, facts: EngineFacts, validate) -> CheckResult:
    """`afc config --check`: `.env` complete and well-formed, compose file current and valid."""
    problems: list[Problem] = []
    try:
        spec, text = current_text(project, facts)
    except (ProjectError, UsageError) as error:
        return CheckResult(project.root, (Problem(error.message, error.hint),))
    mode = project.env_path.stat().st_mode & 0o777
    if mode & 0o077:
        problems.append(Problem(f"{project.env_path} is readable by others (mode {mode:o}); it holds secrets",
                                f"chmod 600 {project.env_path}"))
    if not project.compose_path.exists():
        problems.append(Problem(f"{project.compose_path} is missing", f"run `afc up` (renders it again), or "
                                                                          f"`afc config --output {project.compose_path}`"))
    elif project.compose_path.read_text() != text:
        problems.append(Problem(f"{project.compose_path} is not what .env describes (edited by hand, or .env "
                                f"changed since)", f"run `afc up` (re-renders it), or `afc config --output "
                                                   f"{project.compose_path}`; put hand edits in compose.override.yaml"))
    for name in ("dags", "logs", "plugins", "config"):
        if not (project.root / name).is_dir():
            problems.append(Problem(f"folder {name}/ is missing", f"mkdir {project.root / name}"))
    if validate is not None and project.compose_path.exists():
        try:
            validate(project)
        except Exception as error:  # compose's own message says what is invalid
            message = getattr(error, "details", "") or getattr(error, "message", str(error))
            problems.append(Problem(f"docker compose rejects the stack: {message.strip()}",
                                    "fix the file named in the message (compose.override.yaml if you have one)"))
    return CheckResult(project.root, tuple(problems))
