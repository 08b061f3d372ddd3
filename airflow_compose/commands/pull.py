"""Pull the images a command needs before it starts anything: a download never counts against a health
timeout, and an image the registry will not give fails before any container, network or volume exists."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from .. import engine
from ..errors import EnvironmentProblem

if TYPE_CHECKING:
    from ..stack.spec import StackSpec

DATA_IMAGES = {"postgres": "AFC_POSTGRES_IMAGE", "redis": "AFC_REDIS_IMAGE"}


@dataclass(frozen=True)
class PullSummary:
    pulled: tuple[str, ...]
    seconds: float


def stack_images(spec: "StackSpec", services: list[str]) -> dict[str, str]:
    """The images of these services, each with the `.env` setting that names it. An image `afc build` made is
    left out: it cannot be pulled (the pre-flight says `afc build`)."""
    images: dict[str, str] = {}
    if spec.base is None and any(name not in DATA_IMAGES for name in services):
        images[spec.image.text] = "AIRFLOW_IMAGE_NAME in .env"
    for service, setting in DATA_IMAGES.items():
        if service in services:
            images.setdefault(getattr(spec, f"{service}_image"), f"{setting} in .env")
    return images


def pull_missing(images: dict[str, str], on_progress: Callable[[engine.PullProgress], None],
                 outcome: str = "nothing was started") -> PullSummary:
    """Pull the images (reference -> where afc took its name from) the engine does not hold; present ones are
    never pulled again. A failure raises exit 4 with the registry's words, `outcome` and where to fix the name."""
    missing = engine.missing_images(list(images))
    if not missing:
        return PullSummary((), 0.0)
    began = time.monotonic()
    failed: list[str] = []

    def seen(event: engine.PullProgress) -> None:
        if event.error:
            failed.append(event.reference)
        on_progress(event)

    try:
        for event in engine.pull_images(missing):
            seen(event)
    except EnvironmentProblem as error:
        origins = [f"{reference} comes from {images[reference]}" for reference in failed or missing[:1]
                   if images.get(reference)]
        if origins:
            error.hint = f"{error.hint}. {'; '.join(origins)}"
        error.message += f"; {outcome}"
        raise
    return PullSummary(tuple(missing), time.monotonic() - began)
