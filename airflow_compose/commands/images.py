"""`afc images`: what a tag means (from `tags.py`), and which images a project uses locally. No printing."""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path

from ..stack import tags

# Providers each executor needs on top of the metadata database's (postgres), per major version.
_EXECUTOR_PROVIDERS = {"celery": ("celery", "redis"), "local": ()}


@dataclass(frozen=True)
class TagReport:
    """Everything afc knows about one apache/airflow tag."""

    tag: str
    repository: str
    airflow_version: str
    major: int
    python: str
    python_pinned: bool
    python_is_line_default: bool
    line_default_python: str
    line_pythons: tuple[str, ...]
    variant: str                      # "regular" or "slim"
    providers: tuple[str, ...]        # extras/providers the image carries
    platforms: tuple[str, ...]
    executor: str                     # the stack judged against (the project's, or celery)
    needed_providers: tuple[str, ...]
    missing_providers: tuple[str, ...]
    suits_stack: bool
    reason: str                       # why it does not suit ("" when it does)
    fix: str
    web_component: str
    notes: tuple[str, ...]            # advice: pin Python, moving tags
    other_variants: tuple[str, ...]   # every other tag of the same release

    def as_dict(self) -> dict:
        return asdict(self)


def needed_providers(major: int, executor: str) -> tuple[str, ...]:
    """Providers a stack of this executor needs (a subset of tags.STACK_PROVIDERS[major])."""
    wanted = {"postgres"} | set(_EXECUTOR_PROVIDERS.get(executor, ())) | ({"fab"} if major >= 3 else set())
    return tuple(p for p in tags.STACK_PROVIDERS[major] if p in wanted)


def all_variants(tag: tags.Tag) -> tuple[str, ...]:
    """Every tag of the release: X.Y.Z, X.Y.Z-pythonA.B for each Python, and the slim- forms of both."""
    base = "latest" if tag.latest else tag.version
    forms = []
    for prefix in ("", "slim-"):
        forms.append(prefix + base)
        forms += [f"{prefix}{base}-python{python}" for python in tag.pythons]
    return tuple(forms)


def describe_tag(text: str, executor: str = "celery") -> TagReport:
    """Describe a TAG or a REPOSITORY:TAG; raises UsageError for tags outside the scheme."""
    text = text.strip()
    if "/" in text or ":" in text:
        image = tags.split_image(text)
    else:
        image = tags.ImageRef(tags.OFFICIAL_REPOSITORY, text)
    tag = tags.parse_tag(image.tag)
    line = tag.line
    needed = needed_providers(tag.major, executor)
    missing = tuple(p for p in needed if p not in tag.providers)
    notes = list(tag.warnings())
    if not tag.python_pinned and not tag.latest and tag.major >= 3:
        notes.append("the un-suffixed 3.x tags' default Python is uncertain across releases: pin it")
    reason = fix = ""
    if missing and tag.slim:
        reason = (f"the slim image carries no providers; this {executor} stack needs "
                  f"{', '.join(missing)}")
        fix = (f"use the regular tag '{tag.variant(slim=False)}', or build an image on the slim one with "
               f"those providers (`afc build --slim`)")
    elif missing:
        reason, fix = tags.missing_provider_problem(tag, missing)
    return TagReport(
        tag=tag.text, repository=image.repository, airflow_version=tag.version, major=tag.major,
        python=tag.python, python_pinned=tag.python_pinned, python_is_line_default=tag.python == line.default_python,
        line_default_python=line.default_python, line_pythons=tag.pythons,
        variant="slim" if tag.slim else "regular", providers=tag.providers, platforms=tags.PLATFORMS,
        executor=executor, needed_providers=needed, missing_providers=missing, suits_stack=not missing,
        reason=reason, fix=fix, web_component="api-server" if tag.major >= 3 else "webserver",
        notes=tuple(notes), other_variants=tuple(v for v in all_variants(tag) if v != tag.text))


def project_executor(start: Path) -> tuple[str, bool]:
    """The executor of the project at or above `start` (celery when there is none), and whether one was found."""
    from ..project.files import find_project

    try:
        project = find_project(start)
        if not project.env_path.exists():
            return "celery", False
        executor = project.file_values().get("AFC_EXECUTOR", "celery").strip().lower() or "celery"
        return (executor if executor in _EXECUTOR_PROVIDERS else "celery"), True
    except Exception:  # a broken project does not stop a question about a tag
        return "celery", False


# --- the project's images -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProjectImage:
    role: str                 # airflow, postgres, redis
    reference: str
    present: bool
    id: str
    size: int
    created: dt.datetime | None
    platform: str
    expected_platform: str
    note: str                 # what to do when absent or of another platform


@dataclass(frozen=True)
class ProjectImages:
    project: str
    root: Path
    images: tuple[ProjectImage, ...]
    tag: TagReport

    @property
    def all_present(self) -> bool:
        return all(image.present for image in self.images)

    def as_dict(self) -> dict:
        return {"project": self.project, "root": str(self.root), "all_present": self.all_present,
                "images": [{**asdict(i), "created": i.created.isoformat() if i.created else None}
                           for i in self.images],
                "airflow_tag": self.tag.as_dict()}


def project_images(project_dir: Path) -> ProjectImages:
    """The images the project uses (Airflow, Postgres, Redis with Celery) as the local engine holds them."""
    from .. import engine
    from ..project.files import find_project

    project = find_project(project_dir)
    spec = project.spec(engine.Probe().facts)
    roles = [("airflow", spec.image.text)] + ([("base", spec.base.text)] if spec.base else [])
    if not spec.lite:
        roles.append(("postgres", spec.postgres_image))
    if spec.celery:
        roles.append(("redis", spec.redis_image))
    local = engine.inspect_images([reference for _, reference in roles])
    expected = f"linux/{spec.arch}"
    images = []
    for (role, reference), found in zip(roles, local):
        if not found.present and spec.base and role == "airflow":
            note = f"not present locally: `afc build` builds it on {spec.base.text}"
        elif not found.present:
            note = f"not present locally: `afc up` pulls it (`docker pull {reference}`), or build/load it"
        elif found.platform.split("/")[:2] != expected.split("/"):
            note = f"built for {found.platform}, the stack runs {expected}: it will run under emulation or fail"
        else:
            note = ""
        images.append(ProjectImage(role, reference, found.present, found.id, found.size, found.created,
                                   found.platform, expected, note))
    return ProjectImages(spec.project, project.root, tuple(images), describe_tag((spec.base or spec.image).text, spec.executor))
