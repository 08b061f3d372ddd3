"""`afc audit` on real images: a project image built with `afc build` from a wheel of requests 2.30.0 (an
old release with a published advisory, PYSEC-2023-74), audited by the real pip-audit against a local OSV
stand-in serving the recorded advisory (tests/osv_stub.py); the stock image; no reachable service."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import afc, docker, standin_flags
from tests.osv_stub import OsvStub

VULNERABLE = "requests==2.30.0"


def test_audit_names_each_finding_and_its_remedy(tmp_path: Path) -> None:
    project = tmp_path / "afc-audit-probe"
    afc("init", str(project), *standin_flags("2.10.4"), "--port", "18231", check=True)
    stock = (project / ".env").read_text().split("AIRFLOW_IMAGE_NAME=", 1)[1].split("\n", 1)[0]
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    "--dest", str(project / "wheels"), VULNERABLE], check=True, timeout=300)
    (project / "requirements.txt").write_text(VULNERABLE + "\n")
    built = ""
    try:
        with OsvStub() as url:
            clean = afc("audit", "--json", "--osv-url", url, project=project)
            assert clean.returncode == 0, clean.stdout + clean.stderr
            report = json.loads(clean.stdout)
            assert report["findings"] == [] and report["image"] == stock and report["audited"] > 100

            done = afc("build", "--no-constraints", project=project, timeout=1200)
            assert done.returncode == 0, done.stdout + done.stderr
            built = (project / ".env").read_text().split("AIRFLOW_IMAGE_NAME=", 1)[1].split("\n", 1)[0]

            found = afc("audit", "--json", "--osv-url", url, project=project)
            assert found.returncode == 1, found.stdout + found.stderr
            report = json.loads(found.stdout)
            assert report["image"] == built and report["exit_code"] == 1
            [finding] = report["findings"]
            assert (finding["package"], finding["version"], finding["id"]) == ("requests", "2.30.0", "PYSEC-2023-74")
            assert finding["fix_versions"] == ["2.31.0"] and "CVE-2023-32681" in finding["aliases"]
            # the 2.11.2 stand-in's constraints pin requests 2.34.2: upgrading Airflow removes the finding
            assert finding["remedy"] == "upgrade" and finding["upgrade_to"] == "2.11.2", finding
            assert finding["rebuild_pin"] == "requests==2.31.0"
            compared = {r["version"]: r for r in report["compared_releases"]}
            assert compared["2.11.2"]["known"] and compared["3.3.2"]["known"]
            assert report["system"]["base"] == "Debian GNU/Linux 12 (bookworm)"
            assert report["system"]["checked_for_vulnerabilities"] is False
            assert any(p["name"] == "bash" for p in report["system"]["debian_packages"])

            text = afc("audit", "--osv-url", url, "--fail-on", "upgrade", project=project)
            assert text.returncode == 1
            assert "afc upgrade --to 2.11.2" in text.stdout and "PYSEC-2023-74" in text.stdout
            assert "Debian GNU/Linux 12 (bookworm)" in text.stdout and "not checked for vulnerabilities" in text.stdout

        offline = afc("audit", "--osv-url", "http://127.0.0.1:9/v1/query", project=project)
        assert offline.returncode == 4, offline.stdout + offline.stderr
        assert "cannot reach the vulnerability service" in offline.stderr and "Traceback" not in offline.stderr
    finally:
        if built:
            docker("rmi", "--force", built, check=False)
