"""7. Image build: `afc build` against `docker build` (the classic builder, as afc uses) of the same Dockerfile
and context, cold and with nothing changed."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from ..core import AFC, ENV, ROOT, Bench, Row, Series, run, section
from ..stack_tools import afc_project, remove

SECTION = "7. Image build"
BASELINE_TAG = "bench-build-baseline:latest"


def project_with_a_requirement(work: Path) -> Path:
    """A 2.10.4 LocalExecutor project with requirements.txt (toolz==1.0.0) and its wheel in wheels/."""
    folder = afc_project(work, "bench-build", "2.10.4", 18360, "--executor", "local")
    wheels = ROOT / ".cache" / "test-wheels"
    if not list(wheels.glob("toolz-1.0.0-*.whl")):
        run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "--dest",
             str(wheels), "toolz==1.0.0"], timeout=300)
    (folder / "wheels").mkdir()
    for wheel in wheels.glob("toolz-1.0.0-*.whl"):
        shutil.copy(wheel, folder / "wheels" / wheel.name)
    (folder / "requirements.txt").write_text("toolz==1.0.0\n")
    return folder


def staged_context(folder: Path, context: Path) -> Path:
    """The Dockerfile and build context `afc build` would use, staged in `context`."""
    from airflow_compose.commands import build as afc_build
    from airflow_compose.project.files import Project

    plan = afc_build.plan_build(Project(folder, environ={}), Project(folder, environ={}).values())
    context.mkdir()
    afc_build.stage(afc_build.context_files(plan), context, afc_build.render_dockerfile(plan, "50000"))
    return context


@section("build", title="Image build", how=(
    "**Image build**: a 2.10.4 LocalExecutor project with `requirements.txt` (toolz==1.0.0) and its wheel in "
    "`wheels/` (pip offline). Baseline: `DOCKER_BUILDKIT=0 docker build --quiet` of the Dockerfile and context "
    "afc stages, tagged separately. Cold: both images removed first (and with them their untagged layers, the "
    "classic builder's cache). Unchanged: right after a build, the same command again.",))
def build(bench: Bench) -> None:
    folder = project_with_a_requirement(bench.work)
    context = staged_context(folder, bench.work / "bench-build-context")
    afc_cmd = AFC + ["--project-dir", str(folder), "build"]
    base_cmd = ["docker", "build", "--quiet", "--tag", BASELINE_TAG, str(context)]
    env_before = (folder / ".env").read_text()

    def forget() -> None:
        """Remove both images and with them their untagged layers: the next build starts cold."""
        tags = [line.split("=", 1)[1] for line in (folder / ".env").read_text().splitlines()
                if line.startswith("AIRFLOW_IMAGE_NAME=bench-build-airflow:")]
        for tag in tags + [BASELINE_TAG]:
            subprocess.run(["docker", "image", "rm", "--force", tag], capture_output=True)
        (folder / ".env").write_text(env_before)

    cold_a, cold_b, warm_a, warm_b = Series(), Series(), Series(), Series()
    previous = ENV.get("DOCKER_BUILDKIT")
    ENV["DOCKER_BUILDKIT"] = "0"
    try:
        for _ in range(1 if bench.quick else 3):
            forget()
            cold_a.add(run(afc_cmd)[0])
            forget()
            cold_b.add(run(base_cmd)[0])
            run(afc_cmd)  # both images present: the next two are rebuilds with nothing changed
            warm_a.add(run(afc_cmd)[0])
            warm_b.add(run(base_cmd)[0])
        forget()
    finally:
        ENV.pop("DOCKER_BUILDKIT") if previous is None else ENV.update(DOCKER_BUILDKIT=previous)
    remove("bench-build")
    base_name = "`docker build` (classic builder) of the same Dockerfile and context"
    bench.add(Row(SECTION, "`afc build`, cold: requirements.txt offline from wheels/ on 2.10.4",
                  cold_a, cold_b, base_name, target=1.2,
                  note="afc adds: reading the project, inspecting the base, staging the context, hashing"))
    bench.add(Row(SECTION, "`afc build` again, inputs unchanged", warm_a, warm_b,
                  base_name + ", every layer cached",
                  note="afc finds the image of this content hash and does not call the builder"))
