"""The remedy logic of `afc audit` on pip-audit's recorded JSON (tests/data), and its pure helpers."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_compose.commands import audit
from airflow_compose.stack import tags
from tests.helpers import run_afc

REPORT = json.loads((Path(__file__).parents[1] / "data" / "pip-audit-requests-2.30.0.json").read_text())
CURRENT = {"requests": "2.30.0", "jinja2": "3.1.4"}


def findings(releases):
    found, skipped, audited = audit.findings_from_report(REPORT, "2.10.4", CURRENT, releases)
    assert audited == 2 and not skipped
    return found


def test_a_newer_release_whose_constraints_pin_a_fix_is_named():
    releases = [audit.Release("3.3.2", "img:3.3.2", {"requests": "2.32.5"}),
                audit.Release("2.11.2", "img:2.11.2", {"requests": "2.32.3"})]
    [finding] = findings(releases)
    assert (finding.package, finding.vuln_id, finding.fix_versions) == ("requests", "PYSEC-2023-74", ("2.31.0",))
    assert "CVE-2023-32681" in finding.aliases
    assert finding.remedy == audit.UPGRADE and finding.upgrade_to == "2.11.2"  # the first release that fixes it
    assert "afc upgrade --to 2.11.2" in finding.advice and finding.rebuild_pin == "requests==2.31.0"


def test_no_release_with_a_fix_means_rebuild_with_the_override():
    releases = [audit.Release("2.11.2", "img:2.11.2", {"requests": "2.30.0"})]
    [finding] = findings(releases)
    assert finding.remedy == audit.REBUILD and finding.rebuild_pin == "requests==2.31.0"
    assert "constraints.txt that overrides the release's requests==2.30.0" in finding.advice
    assert "no newer release compared (2.11.2) pins a fixed version" in finding.advice


def test_unknown_constraints_are_said_not_guessed():
    [finding] = findings([audit.Release("3.3.2", "no local image of apache/airflow:3.3.2-python3.11")])
    assert finding.remedy == audit.REBUILD
    assert "cannot tell for 3.3.2" in finding.advice
    assert "no newer Airflow release's constraints were available" in finding.advice


def test_a_package_outside_the_constraints_is_bumped_in_requirements_only():
    finding = audit.remedy_for("toolz", "0.1", "X-1", (), ("0.2",), "2.10.4", {}, [])
    assert finding.remedy == audit.REBUILD and "set toolz==0.2 in requirements.txt" in finding.advice


def test_no_fixed_version_means_research():
    finding = audit.remedy_for("pkg", "1.0", "X-2", (), (), "2.10.4", {}, [audit.Release("3.3.2", "i", {"pkg": "9"})])
    assert finding.remedy == audit.NO_FIX and "research whether it affects" in finding.advice
    # a "fix" older than the installed version fixes nothing
    assert audit.remedy_for("pkg", "2.0", "X-3", (), ("1.5",), "2.10.4", {}, []).remedy == audit.NO_FIX


@pytest.mark.parametrize("candidate, fixes, fixed", [
    ("2.31.0", ["2.31.0"], True), ("2.30.9", ["2.31.0"], False), ("1.2.6", ["1.2.5", "2.0.1"], True),
    ("2.0.0", ["1.2.5", "2.0.1"], False), ("2.1", ["1.2.5", "2.0.1"], True), ("not-a-version", ["1"], False)])
def test_is_fixed_follows_each_minor_line(candidate, fixes, fixed):
    assert audit.is_fixed(candidate, fixes) is fixed


def test_fail_on_narrows_the_exit_code():
    upgrade = audit.remedy_for("a", "1", "A", (), ("2",), "2.10.4", {}, [audit.Release("2.11.2", "i", {"a": "2"})])
    rebuild = audit.remedy_for("b", "1", "B", (), ("2",), "2.10.4", {}, [])
    none = audit.remedy_for("c", "1", "C", (), (), "2.10.4", {}, [])
    everything = [upgrade, rebuild, none]
    assert audit.counted(everything, "any") == everything
    assert audit.counted(everything, "fixable") == [upgrade, rebuild]
    assert audit.counted(everything, "upgrade") == [upgrade]
    assert audit.counted([none], "fixable") == []


def test_parse_pins_normalises_names_and_skips_other_lines():
    text = "Jinja2==3.1.4\ntyping_extensions==4.12.2\n# comment\nfoo @ file:///x.whl\n-e git+https://x\nbar>=1\n"
    assert audit.parse_pins(text) == {"jinja2": "3.1.4", "typing-extensions": "4.12.2"}


def test_newer_releases_prefer_the_same_python_and_name_the_missing_newest():
    read = {"r:2.11.2-python3.11": "requests==2.32.3\n", "r:3.3.2-python3.12": "requests==2.32.5\n"}
    local = ["2.10.4-python3.11", "2.9.3-python3.11", "2.11.2-python3.11", "2.11.2-python3.12", "slim-2.11.2-python3.11",
             "3.3.2-python3.12", "latest", "not-a-tag"]
    releases = audit.newer_releases("r", tags.parse_tag("2.10.4-python3.11"), local, lambda ref: read.get(ref, ""))
    assert [(r.version, r.source) for r in releases] == [("2.11.2", "r:2.11.2-python3.11"),
                                                        ("3.3.2", "r:3.3.2-python3.12")]
    assert releases[0].pins == {"requests": "2.32.3"}
    missing = audit.newer_releases("r", tags.parse_tag("2.10.4-python3.11"), ["2.11.2-python3.11"], lambda ref: "")
    assert [(r.version, r.pins) for r in missing] == [("2.11.2", None), (tags.NEWEST_RELEASE, None)]
    assert "no constraints file" in missing[0].source and "no local image" in missing[1].source


def test_system_facts_are_facts():
    facts = audit.system_facts('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n', "apt\t2.6.1\nbash\t5.2.15-2+b7\n")
    assert facts.base == "Debian GNU/Linux 12 (bookworm)"
    assert facts.debian_packages == (("apt", "2.6.1"), ("bash", "5.2.15-2+b7"))
    assert facts.as_dict()["checked_for_vulnerabilities"] is False


@pytest.mark.parametrize("args, word", [(["--fail-on", "critical"], "--fail-on 'critical'"),
                                        (["--service", "snyk"], "--service 'snyk'")])
def test_bad_options_are_refused_before_anything_runs(tmp_path, args, word):
    done = run_afc("audit", *args, project=tmp_path)
    assert done.returncode == 2 and word in done.stderr and "Traceback" not in done.stderr
