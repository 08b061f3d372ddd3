"""Images: local inspection, pulling, building, the project's own images and what an image holds."""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ..errors import StackError
from .client import client, parse_time, run_docker
from .errors import classify, docker_errors, last_line, said, step_failed


@dataclass(frozen=True)
class LocalImage:
    """What the engine holds locally for one image reference (nothing is pulled)."""

    reference: str
    present: bool
    id: str = ""
    size: int = 0
    created: dt.datetime | None = None
    platform: str = ""


def _local_image(reference: str, image: Any) -> LocalImage:
    created = image.created
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=dt.timezone.utc)
    platform = f"{image.os}/{image.architecture}" + (f"/{image.variant}" if image.variant else "")
    return LocalImage(reference, True, str(image.id), int(image.size or 0), created, platform)


def _from_json(reference: str, raw: dict[str, Any]) -> LocalImage:
    platform = f"{raw.get('Os')}/{raw.get('Architecture')}" + (f"/{raw['Variant']}" if raw.get("Variant") else "")
    return LocalImage(reference, True, str(raw.get("Id", "")), int(raw.get("Size") or 0),
                      parse_time(str(raw.get("Created", ""))), platform)


def inspect_images(references: list[str]) -> list[LocalImage]:
    """`docker image inspect` of the references; one the engine does not hold is `present=False`. All of them in
    one call when the engine holds them all (the usual case: python-on-whales would inspect each twice), else one
    call each."""
    from python_on_whales.exceptions import DockerException, NoSuchImage

    docker = client()
    if len(references) > 1:
        try:
            raw = json.loads(run_docker(docker, "image", "inspect", *references))
            return [_from_json(reference, item) for reference, item in zip(references, raw)]
        except DockerException:  # one is missing or invalid: find out which below
            pass
    found: list[LocalImage] = []
    for reference in references:
        try:
            with docker_errors(f"inspect the image {reference}"):
                try:
                    found.append(_local_image(reference, docker.image.inspect(reference)))
                except NoSuchImage:
                    found.append(LocalImage(reference, False))
        except StackError as error:  # e.g. an invalid reference: report it as absent, keep the others
            found.append(LocalImage(reference, False, platform=f"({error.message})"))
    return found


# Sections of one `sh` run in a one-off container (entrypoint bypassed): the Python packages as pip lists
# them, the base system, the Debian packages and the release's constraints (in every image since 2.9).
_INVENTORY_SECTIONS = {
    "pip": "python -m pip list --format=freeze --disable-pip-version-check 2>/dev/null",
    "os": "cat /etc/os-release 2>/dev/null",
    "dpkg": "dpkg-query -W -f '${Package}\t${Version}\n' 2>/dev/null",
    "constraints": "cat /home/airflow/constraints.txt 2>/dev/null",
}


def image_inventory(reference: str, sections: tuple[str, ...] = tuple(_INVENTORY_SECTIONS)) -> dict[str, str]:
    """The text of each section (pip freeze, os-release, dpkg list, constraints) of a local image, read by
    one short-lived container of it; a missing part is an empty text."""
    script = "; ".join(f"echo '@@afc {name}'; {_INVENTORY_SECTIONS[name]}" for name in sections) + "; true"
    docker = client()
    with docker_errors(f"read the packages of the image {reference}"):
        output = str(docker.run(reference, ["-c", script], entrypoint="sh", remove=True, networks=["none"]))
    found: dict[str, list[str]] = {name: [] for name in sections}
    current = None
    for line in output.splitlines():
        if line.startswith("@@afc "):
            current = line[6:].strip()
        elif current in found:
            found[current].append(line)
    return {name: "\n".join(lines) for name, lines in found.items()}


def repository_tags(repository: str) -> list[str]:
    """The tags the engine holds of one image repository (e.g. apache/airflow)."""
    docker = client()
    with docker_errors(f"list the local images of {repository}"):
        images = docker.image.list(repository)
    prefix = repository + ":"
    return sorted({tag[len(prefix):] for image in images for tag in (image.repo_tags or []) if tag.startswith(prefix)})


@dataclass(frozen=True)
class BuiltImage:
    """One tag of the project's image repository."""

    reference: str
    id: str
    created: dt.datetime | None
    labels: dict[str, str] = field(default_factory=dict, compare=False)


def repository_images(repository: str) -> list[BuiltImage]:
    """Every tag of a local repository (e.g. `<project>-airflow`), newest first."""
    docker = client()
    with docker_errors(f"list the images {repository}:*"):
        images = docker.image.list(repository)
    found = []
    for image in images:
        created = image.created
        if created is not None and created.tzinfo is None:
            created = created.replace(tzinfo=dt.timezone.utc)
        for reference in image.repo_tags or []:
            if reference.rsplit(":", 1)[0] == repository:
                found.append(BuiltImage(reference, str(image.id), created, dict(image.config.labels or {})))
    oldest = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    return sorted(found, key=lambda i: (i.created or oldest, i.reference), reverse=True)


def image_ids_in_use() -> set[str]:
    """Ids of the images of every container on the engine, running or not (they cannot be removed)."""
    docker = client()
    with docker_errors("list the containers"):
        return {str(container.image) for container in docker.container.list(all=True)}


def remove_image_tags(references: list[str]) -> list[str]:
    """Remove image tags (never forced: an image a container uses stays); the ones removed."""
    from python_on_whales.exceptions import DockerException

    docker = client()
    removed = []
    for reference in references:
        try:
            docker.image.remove(reference)
            removed.append(reference)
        except DockerException:  # in use, or removed meanwhile: it stays, or is gone anyway
            continue
    return removed


@dataclass(frozen=True)
class BaseImage:
    """What a build needs to know of its base: the image id (part of the content hash) and its user."""

    id: str
    user: str


def base_image(reference: str) -> BaseImage:
    """Inspect the base image, pulling it first when the engine does not hold it."""
    image, _pulled = _inspect_or_pull(reference)
    return BaseImage(id=str(image.id), user=str(image.config.user or ""))


def image_exists(reference: str) -> bool:
    return inspect_images([reference])[0].present


@dataclass(frozen=True)
class BuildOutcome:
    ok: bool
    output: tuple[str, ...]       # every line the builder printed, for the failure report
    error: str = ""               # the builder's own error line when not ok


_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the builder colours the failing step's stderr


class _LineSink:
    """A stdout stand-in: python-on-whales prints the build's progress; each line goes to a callback."""

    def __init__(self, on_line: Callable[[str], None]) -> None:
        self.on_line = on_line
        self.lines: list[str] = []
        self._partial = ""

    def write(self, text: str) -> int:
        self._partial += text
        *complete, self._partial = self._partial.split("\n")
        for line in complete:
            line = _ANSI.sub("", line).rstrip()
            self.lines.append(line)
            self.on_line(line)
        return len(text)

    def flush(self) -> None:
        pass


def build_image(context: str, tag: str, on_line: Callable[[str], None]) -> BuildOutcome:
    """`docker build` of a prepared context with the classic builder, streaming its lines to `on_line`.

    A failing build step (pip, apt) comes back as `ok=False` with the output; an engine problem raises."""
    import os
    from contextlib import redirect_stdout

    from python_on_whales.exceptions import DockerException

    sink = _LineSink(on_line)
    previous = os.environ.get("DOCKER_BUILDKIT")
    os.environ["DOCKER_BUILDKIT"] = "0"  # the classic builder: its plain step output is what we stream
    try:
        with redirect_stdout(sink):
            client().legacy_build(context, tags=[tag], quiet=False)
    except DockerException as error:
        message = _ANSI.sub("", said(error))
        if step_failed(message) or sink.lines:
            _remove_failed_step(sink.lines)
            return BuildOutcome(False, tuple(sink.lines), last_line(message))
        raise classify(f"build {tag}", message, error.return_code) from None
    finally:
        if previous is None:
            os.environ.pop("DOCKER_BUILDKIT", None)
        else:
            os.environ["DOCKER_BUILDKIT"] = previous
    return BuildOutcome(True, tuple(sink.lines))


def _remove_failed_step(lines: list[str]) -> None:
    """The classic builder keeps the container of a failed step; nothing of a failed build should stay."""
    running = [line.split("Running in", 1)[1].strip() for line in lines if "---> Running in" in line]
    if running:
        try:
            client().container.remove(running[-1], force=True)
        except Exception:  # already gone, or never created: nothing to clean
            pass


@dataclass(frozen=True)
class PullProgress:
    """Where the pull of one image stands. The CLI's plain output counts layers, not bytes."""

    reference: str
    layers: int = 0           # layers of the image announced so far
    done: int = 0             # layers in place: pulled, or already held by the engine
    status: str = ""          # the engine's latest word on it ("Pulling fs layer", "Download complete", ...)
    finished: bool = False
    error: str = ""           # the registry's words when this image could not be pulled


def missing_images(references: list[str]) -> list[str]:
    """The references the engine does not hold (nothing is pulled)."""
    return [image.reference for image in inspect_images(list(dict.fromkeys(references))) if not image.present]


_LAYER_LINE = re.compile(r"^([0-9a-f]{12}): (.+)$")
_LAYER_DONE = ("Pull complete", "Already exists")


def pull_images(references: list[str]) -> Iterator[PullProgress]:
    """Pull images, several at once, yielding their progress. When one cannot be pulled the others still end,
    then afc's classified error (the registry's words, exit 4) is raised for the first that failed."""
    from python_on_whales.exceptions import DockerException

    layers: dict[str, dict[str, str]] = {reference: {} for reference in references}
    failed: dict[str, str] = {}
    docker = client()

    def progress(reference: str, status: str, finished: bool = False) -> PullProgress:
        states = layers[reference]
        return PullProgress(reference, len(states), sum(s in _LAYER_DONE for s in states.values()), status,
                            finished, failed.get(reference, ""))

    with docker_errors("pull images"):
        try:
            stream = docker.image.pull(references if len(references) > 1 else references[0], stream_logs=True)
            for reference, raw in stream:
                line = raw.decode(errors="replace").strip()
                layer = _LAYER_LINE.match(line)
                if layer:
                    layers[reference][layer.group(1)] = layer.group(2)
                    yield progress(reference, layer.group(2))
                elif line.startswith("Error") or line.startswith("error"):
                    failed[reference] = line.removeprefix("Error response from daemon: ")
                    yield progress(reference, "failed", finished=True)
                elif line.startswith("Status:"):
                    yield progress(reference, line.removeprefix("Status: "), finished=True)
        except DockerException as error:
            command = [str(part) for part in (error.docker_command or [])]
            first = command[-1] if command and command[-1] in layers else next(iter(failed), references[0])
            problem = classify(f"pull the image {first}", said(error), error.return_code)
            if len(failed) > 1:
                problem.details = "\n".join(f"{name}: {words}" for name, words in failed.items())
            raise problem from None


def _inspect_or_pull(reference: str) -> tuple[Any, bool]:
    """The image as the engine holds it, pulled first when missing; and whether it had to pull."""
    from python_on_whales.exceptions import NoSuchImage

    docker = client()
    with docker_errors(f"inspect the image {reference}"):
        try:
            return docker.image.inspect(reference), False
        except NoSuchImage:
            pass
    with docker_errors(f"pull the image {reference}"):
        docker.image.pull(reference, quiet=True)
        return docker.image.inspect(reference), True
