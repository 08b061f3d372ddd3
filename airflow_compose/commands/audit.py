"""`afc audit`: the known vulnerabilities of the Python packages in the project's image, each with the remedy
the Airflow image documentation recommends: upgrade to a newer Airflow release, rebuild with a newer pin, or
(no fix yet) research whether it affects you.

pip-audit (the PyPA tool) does the vulnerability look-up on the image's `pip list --format=freeze`. A newer
release "fixes" a finding when its constraints (read from its image, when the engine holds one) pin a fixed
version. The Debian packages and the base system are listed as facts only: pip-audit does not check them.
Results are dataclasses; nothing here prints.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EnvironmentProblem, UsageError
from ..stack import tags

SERVICES = ("pypi", "osv")
FAIL_ON = ("any", "fixable", "upgrade")
UPGRADE, REBUILD, NO_FIX = "upgrade", "rebuild", "no-fix"
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;#]+)")
_NETWORK_WORDS = ("ConnectionError", "NameResolutionError", "Max retries exceeded", "Failed to resolve",
                  "Connection refused", "Network is unreachable", "timed out", "ConnectTimeout")


def canonical(name: str) -> str:
    """PEP 503 normalised package name (`Jinja2` and `jinja2`, `typing_extensions` and `typing-extensions`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(text: str) -> dict[str, str]:
    """`name==version` lines (pip freeze, constraints files) as {canonical name: version}; other lines ignored."""
    pins = {}
    for line in text.splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[canonical(match["name"])] = match["version"]
    return pins


def _version(text: str):
    from packaging.version import InvalidVersion, Version

    try:
        return Version(text)
    except InvalidVersion:
        return None


def is_fixed(candidate: str, fixes: list[str]) -> bool:
    """Whether `candidate` carries a fix: at least a fix of its own minor line, or at least the newest fix
    (an advisory may name fixes on several lines, e.g. 1.2.5 and 2.0.1; 2.0.0 has neither)."""
    version = _version(candidate)
    fixed = [v for v in (_version(f) for f in fixes) if v is not None]
    if version is None or not fixed:
        return False
    if version >= max(fixed):
        return True
    return any(version >= f and version.release[:2] == f.release[:2] for f in fixed)


@dataclass(frozen=True)
class Release:
    """A newer Airflow release to compare with: its version and the pins of its constraints (None: unknown)."""

    version: str
    source: str                          # where its constraints came from (an image), or why they are unknown
    pins: dict[str, str] | None = None


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    vuln_id: str
    aliases: tuple[str, ...]
    fix_versions: tuple[str, ...]
    remedy: str                          # UPGRADE, REBUILD or NO_FIX
    advice: str                          # what to do, in one sentence
    upgrade_to: str = ""                 # the first newer Airflow release whose constraints pin a fixed version
    rebuild_pin: str = ""                # `package==version` to build with

    def as_dict(self) -> dict:
        return {"package": self.package, "version": self.version, "id": self.vuln_id, "aliases": list(self.aliases),
                "fix_versions": list(self.fix_versions), "remedy": self.remedy, "advice": self.advice,
                "upgrade_to": self.upgrade_to or None, "rebuild_pin": self.rebuild_pin or None}


def remedy_for(package: str, version: str, vuln_id: str, aliases: tuple[str, ...], fix_versions: tuple[str, ...],
               airflow_version: str, current_pins: dict[str, str], releases: list[Release]) -> Finding:
    """Which of the documentation's remedies applies to one finding (pure)."""
    current = _version(version)
    fixes = sorted((f for f in fix_versions if (v := _version(f)) is not None and current is not None and v > current),
                   key=_version)
    base = dict(package=package, version=version, vuln_id=vuln_id, aliases=aliases, fix_versions=fix_versions)
    if not fixes:
        return Finding(**base, remedy=NO_FIX, advice=(
            "no fixed version is published yet: research whether it affects the way you use Airflow (one "
            "finding at a time, with evidence), and audit again when a fix is out"))
    pin = f"{package}=={fixes[0]}"
    unknown = [r.version for r in releases if r.pins is None]
    for release in sorted((r for r in releases if r.pins is not None), key=lambda r: _version(r.version)):
        pinned = release.pins.get(canonical(package))
        if pinned and is_fixed(pinned, list(fixes)):
            return Finding(**base, remedy=UPGRADE, upgrade_to=release.version, rebuild_pin=pin, advice=(
                f"fixed by upgrading to Airflow {release.version} (its constraints pin {package}=={pinned}): "
                f"`afc upgrade --to {release.version}`; or rebuild now with {pin}"))
    compared = [r.version for r in releases if r.pins is not None]
    if compared:
        told = f"no newer release compared ({', '.join(compared)}) pins a fixed version"
    else:
        told = "no newer Airflow release's constraints were available to compare"
    if unknown:
        told += f"; cannot tell for {', '.join(unknown)} (its image is not here: pull it and audit again)"
    in_constraints = canonical(package) in current_pins
    how = (f"add {pin} to requirements.txt and to a constraints.txt that overrides the release's "
           f"{package}=={current_pins[canonical(package)]}" if in_constraints else f"set {pin} in requirements.txt")
    return Finding(**base, remedy=REBUILD, rebuild_pin=pin, advice=(
        f"fixed by rebuilding with {pin}: {how}, then `afc build` (pip refuses it if Airflow {airflow_version}'s "
        f"own requirements do not allow it); {told}"))


def findings_from_report(report: dict, airflow_version: str, current_pins: dict[str, str],
                         releases: list[Release]) -> tuple[list[Finding], list[tuple[str, str]], int]:
    """pip-audit's JSON report → (findings with their remedies, skipped packages with why, packages audited)."""
    findings, skipped, audited = [], [], 0
    for dependency in report.get("dependencies", []):
        if "skip_reason" in dependency:
            skipped.append((dependency["name"], dependency["skip_reason"]))
            continue
        audited += 1
        for vuln in dependency.get("vulns", []):
            findings.append(remedy_for(dependency["name"], dependency["version"], vuln["id"],
                                       tuple(vuln.get("aliases", [])), tuple(vuln.get("fix_versions", [])),
                                       airflow_version, current_pins, releases))
    return findings, skipped, audited


def counted(findings: list[Finding], fail_on: str) -> list[Finding]:
    """The findings that make `afc audit` exit 1 under --fail-on."""
    if fail_on == "upgrade":
        return [f for f in findings if f.remedy == UPGRADE]
    if fail_on == "fixable":
        return [f for f in findings if f.remedy != NO_FIX]
    return list(findings)


@dataclass(frozen=True)
class SystemFacts:
    """The image's base system as facts: pip-audit does not check Debian packages, and neither does afc."""

    base: str                            # PRETTY_NAME of /etc/os-release
    os_release: dict[str, str]
    debian_packages: tuple[tuple[str, str], ...]

    def as_dict(self) -> dict:
        return {"base": self.base, "os_release": self.os_release, "checked_for_vulnerabilities": False,
                "debian_packages": [{"name": n, "version": v} for n, v in self.debian_packages]}


def system_facts(os_release_text: str, dpkg_text: str) -> SystemFacts:
    release = {}
    for line in os_release_text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            release[key.strip()] = value.strip().strip('"')
    packages = tuple(tuple(line.split("\t", 1)) for line in dpkg_text.splitlines() if "\t" in line)
    return SystemFacts(release.get("PRETTY_NAME", "unknown (no /etc/os-release)"), release, packages)


@dataclass
class AuditResult:
    project: str
    image: str
    airflow_version: str
    service: str
    packages: int
    audited: int
    findings: list[Finding]
    skipped: list[tuple[str, str]]
    not_pinned: list[str]
    releases: list[Release]
    system: SystemFacts
    fail_on: str
    notes: list[str] = field(default_factory=list)

    @property
    def failing(self) -> list[Finding]:
        return counted(self.findings, self.fail_on)

    @property
    def exit_code(self) -> int:
        return 1 if self.failing else 0

    def as_dict(self) -> dict:
        return {"project": self.project, "image": self.image, "airflow_version": self.airflow_version,
                "service": self.service, "python_packages": self.packages, "audited": self.audited,
                "findings": [f.as_dict() for f in self.findings],
                "skipped": [{"package": n, "reason": r} for n, r in self.skipped],
                "not_audited": self.not_pinned,
                "compared_releases": [{"version": r.version, "source": r.source, "known": r.pins is not None}
                                      for r in self.releases],
                "system": self.system.as_dict(), "fail_on": self.fail_on, "exit_code": self.exit_code,
                "notes": self.notes}


# --- running it -------------------------------------------------------------------------------------------

def newer_releases(repository: str, current: tags.Tag, local_tags: list[str], read_constraints) -> list[Release]:
    """One Release per newer Airflow version the engine holds an image of (regular, same Python preferred),
    with the pins of that image's constraints; the newest known release is listed as unknown when absent."""
    candidates: dict[str, tuple[int, str]] = {}
    for text in local_tags:
        try:
            tag = tags.parse_tag(text)
        except UsageError:
            continue
        if tag.version_tuple <= current.version_tuple or tag.latest:
            continue
        rank = (0 if tag.python == current.python else 1) + (2 if tag.slim else 0)
        if tag.version not in candidates or rank < candidates[tag.version][0]:
            candidates[tag.version] = (rank, text)
    releases = []
    for version, (_rank, text) in sorted(candidates.items(), key=lambda item: tags.parse_tag(item[1][1]).version_tuple):
        reference = f"{repository}:{text}"
        pins = parse_pins(read_constraints(reference))
        releases.append(Release(version, reference if pins else f"{reference} (no constraints file in it)",
                                pins or None))
    newest = tags.NEWEST_RELEASE
    if tags.parse_tag(newest).version_tuple > current.version_tuple and newest not in candidates:
        releases.append(Release(newest, f"no local image of {repository}:{newest}-python{current.python}"))
    return releases


def run_pip_audit(pins: dict[str, str], service: str, osv_url: str | None) -> dict:
    """pip-audit on the pinned packages (no resolution, no pip of ours involved); its JSON report."""
    try:
        import pip_audit  # noqa: F401 - only whether it is installed
    except ImportError:
        raise EnvironmentProblem("pip-audit is not installed in afc's environment",
                                 hint=f"install it: `{sys.executable} -m pip install pip-audit` (or install afc "
                                      f"with its extra: pip install 'airflow-compose[audit]')")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="afc-audit-") as requirements:
        requirements.write("".join(f"{name}=={version}\n" for name, version in sorted(pins.items())))
        requirements.flush()
        command = [sys.executable, "-m", "pip_audit", "--requirement", requirements.name, "--no-deps",
                   "--disable-pip", "--format", "json", "--aliases", "on", "--progress-spinner", "off",
                   "--vulnerability-service", service]
        if osv_url:
            command += ["--osv-url", osv_url]
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    try:
        return json.loads(done.stdout)
    except ValueError:
        pass
    errors = done.stderr.strip()
    last = errors.splitlines()[-1] if errors else ""
    where = osv_url or ("PyPI's JSON API" if service == "pypi" else "the OSV API")
    if any(word in errors for word in _NETWORK_WORDS):
        raise EnvironmentProblem(f"cannot reach the vulnerability service ({where}): no network, or it is blocked",
                                 hint="connect this machine to the internet (or give --osv-url of an OSV mirror "
                                      "you can reach), then run `afc audit` again",
                                 details=last[-500:])
    raise EnvironmentProblem(f"pip-audit failed (exit {done.returncode}) without a report",
                             hint="see pip-audit's message below", details=errors[-2000:])


def audit(project_dir: Path, service: str = "pypi", osv_url: str | None = None, fail_on: str = "any") -> AuditResult:
    from .. import engine
    from ..project.files import find_project
    from ..stack.spec import host_facts

    if service not in SERVICES:
        raise UsageError(f"--service {service!r} is not one of {', '.join(SERVICES)}",
                         hint="use --service pypi (PyPI's JSON API) or --service osv")
    if fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on {fail_on!r} is not one of {', '.join(FAIL_ON)}",
                         hint="any: every finding; fixable: those with a fix; upgrade: those a newer Airflow fixes")
    if osv_url and service != "osv":
        service = "osv"
    project = find_project(project_dir)
    spec = project.spec(host_facts())
    image = spec.image.text
    if not engine.image_exists(image):
        raise UsageError(f"the project's image {image} is not present locally",
                         hint="`afc build` (a built project) or `afc up` (pulls it), then `afc audit` again")
    inventory = engine.image_inventory(image)
    installed = parse_pins(inventory["pip"])
    if not installed:
        raise EnvironmentProblem(f"could not list the Python packages of {image} (`pip list` printed nothing)",
                                 hint="check that the image runs: `docker run --rm --entrypoint python "
                                      f"{image} -m pip list`")
    listed = [line.split("==")[0].split(" @ ")[0] for line in inventory["pip"].splitlines() if line.strip()]
    not_pinned = sorted(name for name in listed if canonical(name) not in installed)
    airflow_version = installed.get("apache-airflow", spec.tag.version)
    repository = (spec.base or spec.image).repository
    releases = newer_releases(repository, tags.parse_tag(f"{airflow_version}-python{spec.tag.python}"),
                              engine.repository_tags(repository),
                              lambda ref: engine.image_inventory(ref, ("constraints",))["constraints"])
    report = run_pip_audit(installed, service, osv_url)
    findings, skipped, audited = findings_from_report(report, airflow_version, parse_pins(inventory["constraints"]),
                                                      releases)
    if audited == 0:
        reason = skipped[0][1] if skipped else "no package in the report"
        raise EnvironmentProblem(
            f"the vulnerability service answered for none of the {len(installed)} packages ({reason})",
            hint="PyPI's per-release JSON API must be reachable for --service pypi; try --service osv (or "
                 "--osv-url of an OSV mirror), then run `afc audit` again")
    notes = []
    if skipped:
        notes.append(f"{len(skipped)} package(s) could not be audited (see skipped)")
    return AuditResult(spec.project, image, airflow_version, service if not osv_url else f"osv ({osv_url})",
                       len(installed), audited, findings, skipped, not_pinned, releases,
                       system_facts(inventory["os"], inventory["dpkg"]), fail_on, notes)
