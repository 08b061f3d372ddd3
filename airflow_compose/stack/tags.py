"""What afc knows about apache/airflow image tags: the tag scheme, each Airflow line's Pythons, the variants."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UsageError

OFFICIAL_REPOSITORY = "apache/airflow"
NEWEST_RELEASE = "3.3.2"
# The default tag pins both the release and Python: an image fixed at release is reproducible, and the
# un-suffixed tags' default Python has changed between lines (and is uncertain on 3.x).
DEFAULT_TAG = "3.3.2-python3.12"
FLOOR = (2, 7)


@dataclass(frozen=True)
class Line:
    """An Airflow minor line: the Pythons its images are published for, and the un-suffixed tags' Python."""

    pythons: tuple[str, ...]
    default_python: str


# Published Python versions per line, with sources (image docs and changelog: docker-stack-docs/changelog.rst
# in apache/airflow; each release's Dockerfile ARG for the default).
# - Up to 2.8 the un-suffixed tags used the oldest supported Python (3.8); since 2.9 the newest supported
#   one (changelog "Airflow 2.9": "the images are going to use Python 3.12").
# - 3.0 and 3.1 stay on 3.12: the FAB provider did not support 3.13 when 3.1.0 shipped (changelog
#   "Airflow 3.1.0").
# - 3.2 and 3.3 default to 3.13: the Dockerfile of the 3.3.0 release (apache/airflow#69480) has
#   AIRFLOW_PYTHON_VERSION="3.13.14", unchanged from the 3.2.2 Dockerfile it replaced. 3.14 images start
#   with 3.3 (README of the 3.3.0 release: "3.10, 3.11, 3.12, 3.13, 3.14").
LINES: dict[tuple[int, int], Line] = {
    (2, 7): Line(("3.8", "3.9", "3.10", "3.11"), "3.8"),
    (2, 8): Line(("3.8", "3.9", "3.10", "3.11"), "3.8"),
    (2, 9): Line(("3.8", "3.9", "3.10", "3.11", "3.12"), "3.12"),
    (2, 10): Line(("3.8", "3.9", "3.10", "3.11", "3.12"), "3.12"),
    (2, 11): Line(("3.9", "3.10", "3.11", "3.12"), "3.12"),
    (3, 0): Line(("3.9", "3.10", "3.11", "3.12"), "3.12"),
    (3, 1): Line(("3.10", "3.11", "3.12", "3.13"), "3.12"),
    (3, 2): Line(("3.10", "3.11", "3.12", "3.13"), "3.13"),
    (3, 3): Line(("3.10", "3.11", "3.12", "3.13", "3.14"), "3.13"),
}

# Pythons a line stopped publishing at a patch release: from that release on, no such image exists.
# Changelog "Airflow 2.11.1": "The image does not support Python 3.9 anymore".
DROPPED_PYTHONS: dict[tuple[int, int, int], tuple[str, ...]] = {(2, 11, 1): ("3.9",)}

# Images published without a provider the stack needs. Changelog "Airflow 3.1.0": the Python 3.13 images
# (regular and slim) of 3.1.0 do not contain the fab provider (apache/airflow#56123).
MISSING_PROVIDERS: dict[tuple[str, str], tuple[str, ...]] = {("3.1.0", "3.13"): ("fab",)}


def pythons_of(version: tuple[int, int, int]) -> tuple[str, ...]:
    """The Pythons images of this release are published for."""
    dropped = {python for since, pythons in DROPPED_PYTHONS.items() if version[:2] == since[:2]
               and version >= since for python in pythons}
    return tuple(python for python in line_of(version).pythons if python not in dropped)


# Providers the stack needs, per major version; regular images carry them, slim images carry none.
STACK_PROVIDERS = {2: ("celery", "postgres", "redis"), 3: ("celery", "postgres", "redis", "fab")}
REGULAR_EXTRAS = (
    "aiobotocore amazon async celery cncf-kubernetes common-io docker elasticsearch fab ftp google "
    "google-auth graphviz grpc hashicorp http ldap microsoft-azure mysql odbc openlineage pandas postgres "
    "redis sendgrid sftp slack snowflake ssh statsd uv virtualenv"
).split()
PLATFORMS = ("linux/amd64", "linux/arm64")

_TAG = re.compile(r"^(?P<slim>slim-)?(?P<version>latest|\d+\.\d+\.\d+)(?:-python(?P<python>\d+\.\d+))?$")
_SCHEME = "latest, latest-pythonX.Y, X.Y.Z, X.Y.Z-pythonX.Y, or any of those with a 'slim-' prefix"


@dataclass(frozen=True)
class Tag:
    """A parsed apache/airflow tag, e.g. ``slim-2.10.4-python3.11``."""

    text: str
    version: str          # "2.10.4"; for `latest` the newest release afc knows
    python: str           # the pinned Python, or the line's default when not pinned
    slim: bool
    latest: bool
    python_pinned: bool

    @property
    def version_tuple(self) -> tuple[int, int, int]:
        major, minor, patch = (int(part) for part in self.version.split("."))
        return major, minor, patch

    @property
    def major(self) -> int:
        return self.version_tuple[0]

    @property
    def line(self) -> Line:
        return line_of(self.version_tuple)

    @property
    def pythons(self) -> tuple[str, ...]:
        return pythons_of(self.version_tuple)

    @property
    def providers(self) -> tuple[str, ...]:
        if self.slim:
            return ()
        missing = MISSING_PROVIDERS.get((self.version, self.python), ())
        return tuple(e for e in REGULAR_EXTRAS if not (self.major >= 3 and e == "virtualenv") and e not in missing)

    def warnings(self) -> list[str]:
        notes = []
        if self.latest:
            notes.append(f"tag '{self.text}' moves with every release; pin a version such as "
                         f"{NEWEST_RELEASE}-python{self.python} for a stack that starts the same way tomorrow")
        elif not self.python_pinned:
            notes.append(f"tag '{self.text}' does not pin Python (today it means {self.python}); "
                         f"pin it with '{self.text}-python{self.python}'")
        return notes

    def variant(self, *, slim: bool | None = None, python: str | None = None, pin: bool = True) -> str:
        """The tag text of a sibling variant (same release)."""
        slim = self.slim if slim is None else slim
        text = ("slim-" if slim else "") + ("latest" if self.latest else self.version)
        if pin or self.python_pinned or python:
            text += f"-python{python or self.python}"
        return text


def missing_provider_problem(tag: "Tag", missing: tuple[str, ...]) -> tuple[str, str]:
    """Why a regular image published without a provider the stack needs cannot run it, and the fix."""
    others = [p for p in tag.pythons if (tag.version, p) not in MISSING_PROVIDERS]
    return (f"the {tag.version} images for Python {tag.python} were published without the "
            f"{', '.join(missing)} provider this stack needs",
            f"use another Python, e.g. --tag {tag.variant(python=others[-1])}, or build an image with it: "
            f"`afc build --with {','.join(missing)}`")


def line_of(version: tuple[int, ...]) -> Line:
    key = (version[0], version[1])
    if key in LINES:
        return LINES[key]
    return LINES[max(LINES)]


def parse_tag(text: str) -> Tag:
    """Parse and validate a tag; raises UsageError naming the problem and the fix."""
    match = _TAG.match(text.strip())
    if not match:
        raise UsageError(f"'{text}' is not an apache/airflow image tag",
                         hint=f"use one of: {_SCHEME} (for example {DEFAULT_TAG})")
    latest = match["version"] == "latest"
    version = NEWEST_RELEASE if latest else match["version"]
    numbers = tuple(int(p) for p in version.split("."))
    if numbers[:2] < FLOOR:
        raise UsageError(f"Airflow {version} (tag '{text}') is older than afc supports",
                         hint=f"use Airflow {FLOOR[0]}.{FLOOR[1]} or newer, e.g. --tag {DEFAULT_TAG}")
    if numbers[0] > 3:
        raise UsageError(f"Airflow {version} (tag '{text}') is a major version afc does not know yet",
                         hint=f"use a 2.x or 3.x tag, e.g. --tag {DEFAULT_TAG}")
    line = line_of(numbers)
    pythons = pythons_of(numbers)
    python = match["python"]
    if python and python not in pythons:
        raise UsageError(
            f"Python {python} is not published for Airflow {version} (tag '{text}'): "
            f"there is no such image",
            hint=f"choose one of Python {', '.join(pythons)}, e.g. "
                 f"{'slim-' if match['slim'] else ''}{match['version']}-python{line.default_python}")
    return Tag(text=text.strip(), version=version, python=python or line.default_python,
               slim=bool(match["slim"]), latest=latest, python_pinned=python is not None)


@dataclass(frozen=True)
class ImageRef:
    """An image reference split into repository, tag and optional digest
    (``registry:5000/apache/airflow:2.10.4@sha256:…``)."""

    repository: str
    tag: str
    digest: str = ""  # "sha256:<hex>": pins the exact image; the tag still names the release

    @property
    def text(self) -> str:
        return f"{self.repository}:{self.tag}" + (f"@{self.digest}" if self.digest else "")


_HOST = re.compile(r"^[a-zA-Z0-9.-]+(?::[0-9]+)?$")
_PATH = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG_TEXT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")
EXAMPLE_DIGEST = "sha256:" + "0" * 8 + "…"


def parse_reference(reference: str, what: str = "image") -> tuple[str, str, str]:
    """(repository, tag, digest) of a Docker image reference, validated as docker does; tag or digest may be ''."""
    ref = reference.strip()
    name, _, digest = ref.partition("@")
    if "@" in ref and not _DIGEST.match(digest):
        raise UsageError(f"{what} '{reference}' has an invalid digest '{digest}'",
                         hint=f"a digest looks like sha256:<64 hex digits>, e.g. {OFFICIAL_REPOSITORY}:{DEFAULT_TAG}"
                              f"@{EXAMPLE_DIGEST}")
    slash, colon = name.rfind("/"), name.rfind(":")
    repository, tag = (name[:colon], name[colon + 1:]) if colon > slash else (name, "")
    if not _valid_repository(repository):
        raise UsageError(f"{what} '{reference}': repository '{repository}' is not valid",
                         hint="use lower-case letters, digits, '.', '_', '-' and '/' (a registry may add host:port/)")
    if tag and not _TAG_TEXT.match(tag):
        raise UsageError(f"{what} '{reference}': tag '{tag}' is not valid",
                         hint="a tag is letters, digits, '_', '.' and '-', at most 128, not starting with '.' or '-'")
    return repository, tag, digest


def _valid_repository(repository: str) -> bool:
    first, _, rest = repository.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):  # docker's rule for a registry host
        return bool(_HOST.match(first) and _PATH.match(rest))
    return bool(_PATH.match(repository))


def split_image(reference: str, what: str = "image") -> ImageRef:
    """An Airflow image reference: it needs a tag (which names the release); a digest may pin it as well."""
    repository, tag, digest = parse_reference(reference, what)
    if not tag and digest:
        raise UsageError(f"{what} '{reference}' is pinned by digest only; afc needs the tag to know the Airflow "
                         f"version",
                         hint=f"give both, REPOSITORY:TAG@DIGEST (the tag names the release, the digest pins the "
                              f"image), e.g. {repository}:{DEFAULT_TAG}@{digest}")
    if not tag:
        raise UsageError(f"{what} '{reference}' has no tag",
                         hint="give REPOSITORY:TAG, e.g. apache/airflow:" + DEFAULT_TAG)
    return ImageRef(repository, tag, digest)


def check_service_image(reference: str, setting: str) -> str:
    """Any valid image reference (Postgres, Redis, a swarm --image): a missing tag means latest, a digest
    alone is fine."""
    if not reference.strip():
        raise UsageError(f"{setting} is empty", hint=f"set {setting} to an image, e.g. postgres:16")
    parse_reference(reference, setting)
    return reference.strip()


def pinned_reference(reference: str, what: str = "image") -> str:
    """An image to deploy as given (swarm --image): a tag or a digest, or both; never an implicit latest."""
    repository, tag, digest = parse_reference(reference, what)
    if not tag and not digest:
        raise UsageError(f"{what} '{reference}' has no tag",
                         hint=f"give REPOSITORY:TAG or REPOSITORY@DIGEST, e.g. {repository}:1 or {repository}@"
                              f"{EXAMPLE_DIGEST}")
    return reference.strip()
