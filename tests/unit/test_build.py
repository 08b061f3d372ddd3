"""`afc build` without Docker: planning, the rendered Dockerfile, the content hash, failures, and a project
that runs a built image (spec, images, upgrade, init --force)."""
import pytest

from airflow_compose import engine
from airflow_compose.commands import build
from airflow_compose.errors import ProjectError, UsageError
from airflow_compose.project.files import Project
from airflow_compose.stack import settings
from airflow_compose.stack.spec import EngineFacts, build_spec
from tests.helpers import run_afc

FACTS = EngineFacts(arch="amd64", start_interval=False)


def make_project(tmp_path, image="apache/airflow:2.10.4-python3.12", executor="celery", **extra):
    root = tmp_path / "proj"
    for folder in ("dags", "plugins"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    values = settings.effective({"AIRFLOW_IMAGE_NAME": image, "AFC_EXECUTOR": executor, **extra}, environ={})
    values["AFC_PROJECT_NAME"] = "proj"
    for name in settings.SECRET_NAMES:
        values[name] = settings.generate_secret(name)
    (root / ".env").write_text(settings.format_env(values))
    return Project(root, environ={}), values


def plan(project, values, **flags):
    return build.plan_build(project, values, **flags)


def test_requirements_pin_airflow_to_the_base_release(tmp_path):
    project, values = make_project(tmp_path)
    (project.root / "requirements.txt").write_text("toolz==1.0.0\n")
    p = plan(project, values)
    assert p.base.text == "apache/airflow:2.10.4-python3.12" and p.python and not p.packages
    text = build.python_requirements(p)
    assert "apache-airflow==2.10.4" in text and "-r project-requirements.txt" in text
    dockerfile = build.render_dockerfile(p, "airflow")
    assert dockerfile.startswith(build.GENERATED_MARK)
    assert "FROM apache/airflow:2.10.4-python3.12" in dockerfile
    assert "apt-get" not in dockerfile and "--no-index" not in dockerfile and "/opt/airflow/dags" not in dockerfile
    assert "COPY --chown=airflow:0 afc-python/" in dockerfile


def test_layers_run_packages_then_python_then_dags(tmp_path):
    project, values = make_project(tmp_path)
    (project.root / "packages.txt").write_text("# tools\ngit  curl\nlibpq-dev=15.10-0+deb12u1 git\n")
    (project.root / "requirements.txt").write_text("toolz\n")
    p = plan(project, values, bake_dags=True)
    assert p.packages == ("git", "curl", "libpq-dev=15.10-0+deb12u1")
    dockerfile = build.render_dockerfile(p, "50000")
    apt, pip, dags = (dockerfile.index(s) for s in ("apt-get install", "pip install", "/opt/airflow/dags"))
    assert apt < pip < dags
    after_apt = dockerfile[apt:pip]
    assert "USER root" in dockerfile[:apt] and "USER 50000" in after_apt, "apt as root, then back to the user"
    assert "#@" not in dockerfile and "${" not in dockerfile


def test_slim_base_gets_exactly_the_stack_providers(tmp_path):
    project, values = make_project(tmp_path, "apache/airflow:3.3.2-python3.12")
    p = plan(project, values, slim=True, extras="amazon")
    assert p.base.text == "apache/airflow:slim-3.3.2-python3.12"
    assert p.auto_extras == ("celery", "postgres", "redis", "fab")
    assert p.airflow_requirement == "apache-airflow[amazon,celery,fab,postgres,redis]==3.3.2"
    local_project, local_values = make_project(tmp_path / "l", "apache/airflow:2.10.4", executor="local")
    local = plan(local_project, local_values, slim=True)
    assert "celery" not in local.extras and "redis" not in local.extras and "postgres" in local.extras


def test_wheels_make_pip_offline_and_constraints_are_used(tmp_path):
    project, values = make_project(tmp_path)
    (project.root / "requirements.txt").write_text("toolz\n")
    (project.root / "wheels").mkdir()
    (project.root / "wheels" / "toolz-1.0.0-py3-none-any.whl").write_bytes(b"wheel")
    (project.root / "constraints.txt").write_text("toolz==1.0.0\n")
    p = plan(project, values)
    assert p.offline and p.constraints == "constraints.txt"
    dockerfile = build.render_dockerfile(p, "airflow")
    assert "--no-index --find-links /tmp/afc-python/wheels" in dockerfile
    assert "--constraint /tmp/afc-python/constraints.txt" in dockerfile
    files = build.context_files(p)
    assert set(files) == {"afc-python/requirements.txt", "afc-python/project-requirements.txt",
                          "afc-python/constraints.txt", "afc-python/wheels/toolz-1.0.0-py3-none-any.whl"}
    url = plan(project, values, constraints="https://example.org/constraints-3.12.txt")
    assert "--constraint https://example.org/constraints-3.12.txt" in build.render_dockerfile(url, "airflow")


def test_the_build_context_never_holds_the_env_file(tmp_path):
    project, values = make_project(tmp_path)
    (project.root / "requirements.txt").write_text("toolz\n")
    (project.root / "dags" / "a.py").write_text("x = 1\n")
    (project.root / "dags" / "__pycache__").mkdir()
    (project.root / "dags" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    files = build.context_files(plan(project, values, bake_dags=True))
    assert "dags/a.py" in files and not any("pycache" in name for name in files)
    assert not any(".env" in name for name in files)
    sources = [str(v) for v in files.values()]
    assert not any(s.endswith(".env") for s in sources)


def test_content_hash_follows_the_inputs(tmp_path):
    project, values = make_project(tmp_path)
    req = project.root / "requirements.txt"
    req.write_text("toolz\n")

    def digest(base_id="sha256:1"):
        p = plan(project, values)
        return build.content_hash(build.render_dockerfile(p, "airflow"), base_id, build.context_files(p))

    first = digest()
    assert digest() == first, "unchanged inputs: the same tag, so no rebuild"
    assert digest("sha256:2") != first, "a rebuilt base image changes the tag"
    req.write_text("toolz\nhumanize\n")
    assert digest() != first, "a changed requirements file means a rebuild"
    assert build.image_name("proj", first) == f"proj-airflow:{first}" and len(first) == 12


def test_bad_inputs_name_the_value_and_the_fix(tmp_path):
    project, values = make_project(tmp_path)
    with pytest.raises(ProjectError) as nothing:
        plan(project, values)
    assert "nothing to build" in nothing.value.message and "requirements.txt" in nothing.value.hint
    (project.root / "packages.txt").write_text("git\nBad_Name!\n")
    with pytest.raises(ProjectError) as bad_package:
        plan(project, values)
    assert "line 2" in bad_package.value.message and "Bad_Name!" in bad_package.value.message
    (project.root / "packages.txt").unlink()
    with pytest.raises(UsageError) as bad_extra:
        plan(project, values, extras="celery,Not An Extra")
    assert "'not an extra'" in bad_extra.value.message
    with pytest.raises(UsageError) as bad_constraints:
        plan(project, values, extras="celery", constraints="missing.txt")
    assert "missing.txt" in bad_constraints.value.message


def test_a_users_own_dockerfile_is_never_overwritten(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM mine\n")
    with pytest.raises(ProjectError) as refused:
        build.write_dockerfile(tmp_path, "# Generated by `afc build` x\n")
    assert "not written by afc build" in refused.value.message
    assert (tmp_path / "Dockerfile").read_text() == "FROM mine\n"
    (tmp_path / "Dockerfile").write_text(build.GENERATED_MARK + " old\n")
    build.write_dockerfile(tmp_path, build.GENERATED_MARK + " new\n")
    assert "new" in (tmp_path / "Dockerfile").read_text()


def test_a_failed_pip_step_reports_pips_own_words(tmp_path):
    project, values = make_project(tmp_path)
    (project.root / "requirements.txt").write_text("apache-airflow<2.10\n")
    p = plan(project, values)
    output = ("Step 3/6 : RUN pip install -r /tmp/afc-python/requirements.txt",
              "Requirement already satisfied: six in /x",
              "ERROR: Cannot install apache-airflow<2.10 and apache-airflow==2.10.4 because these package "
              "versions have conflicting dependencies.",
              "The conflict is caused by:", "    The user requested apache-airflow==2.10.4",
              "The command '/bin/sh -c pip install' returned a non-zero code: 1")
    error = build.build_failure(p, engine.BuildOutcome(False, output, "returned a non-zero code: 1"),
                                "apache/airflow:2.10.4")
    assert error.message.startswith("the image build failed (pip): Cannot install apache-airflow<2.10")
    assert "The user requested apache-airflow==2.10.4" in error.details
    assert "still uses apache/airflow:2.10.4" in error.hint
    assert not build.shown("Requirement already satisfied: six") and build.shown("Step 1/3 : FROM x")


def test_a_built_image_takes_its_release_from_the_base(tmp_path):
    project, values = make_project(tmp_path, "proj-airflow:0123456789ab",
                                   AFC_BASE_IMAGE="apache/airflow:slim-3.3.2-python3.12")
    spec = build_spec(values, FACTS)
    assert spec.image.text == "proj-airflow:0123456789ab" and spec.tag.version == "3.3.2"
    assert spec.base.text == "apache/airflow:slim-3.3.2-python3.12", "a slim base is fine once afc built on it"
    assert spec.web_service == "api-server"
    again = plan(project, values, extras="http")
    assert again.base.text == "apache/airflow:slim-3.3.2-python3.12", "rebuilds start from the recorded base"


def test_built_projects_upgrade_by_rebuilding_and_init_force_tag_drops_the_base(tmp_path):
    root = tmp_path / "bp"
    assert run_afc("init", str(root), "--image", "afc-standin/airflow:2.10.4-python3.11").returncode == 0
    env = root / ".env"
    env.write_text(env.read_text().replace("AIRFLOW_IMAGE_NAME=afc-standin/airflow:2.10.4-python3.11",
                                           "AIRFLOW_IMAGE_NAME=bp-airflow:0123456789ab")
                   .replace("AFC_BASE_IMAGE=", "AFC_BASE_IMAGE=afc-standin/airflow:2.10.4-python3.11"))
    refused = run_afc("--project-dir", str(root), "upgrade", "--to", "2.11.2", "--yes")
    assert refused.returncode == 2 and "built by `afc build`" in refused.stderr and "AFC_BASE_IMAGE" in refused.stderr
    assert "Traceback" not in refused.stderr
    forced = run_afc("init", str(root), "--force", "--tag", "2.11.2-python3.11")
    assert forced.returncode == 0, forced.stderr
    text = env.read_text()
    assert "AIRFLOW_IMAGE_NAME=afc-standin/airflow:2.11.2-python3.11" in text, "--tag keeps the base's repository"
    assert "AFC_BASE_IMAGE=\n" in text or "AFC_BASE_IMAGE" not in text


def test_superseded_images_keep_the_current_and_the_previous_of_each_kind():
    import datetime as dt

    from airflow_compose.engine import BuiltImage

    def image(tag, minutes, baked=False, id_=None):
        labels = {"io.airflow-compose.dags": "baked"} if baked else {}
        return BuiltImage(f"demo-airflow:{tag}", id_ or f"sha256:{tag}",
                          dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=minutes), labels)

    newest_first = [image("c5", 50), image("s3", 40, baked=True), image("c4", 30), image("s2", 20, baked=True),
                    image("c3", 15), image("c2", 10, id_="sha256:running"), image("s1", 5, baked=True), image("c1", 1)]
    assert build.superseded(newest_first, keep={"demo-airflow:c5", "demo-airflow:c4"}, in_use=set()) == \
        ["demo-airflow:c3", "demo-airflow:c2", "demo-airflow:s1", "demo-airflow:c1"]
    # what .env names and what a container runs stay
    assert build.superseded(newest_first, keep={"demo-airflow:c1"}, in_use={"sha256:running"}) == \
        ["demo-airflow:c3", "demo-airflow:s1"]
    assert build.superseded(newest_first[:2], keep=set(), in_use=set()) == []


def test_the_base_images_own_constraints_by_default(tmp_path):
    project, values = make_project(tmp_path)
    (project.root / "requirements.txt").write_text("toolz==1.0.0\n")
    default = plan(project, values)
    assert default.image_constraints and not default.constraints
    assert f"--constraint {build.IMAGE_CONSTRAINTS} " in build.render_dockerfile(default, "airflow")
    slim = plan(project, values, slim=True)
    assert slim.image_constraints and "--constraint /home/airflow/constraints.txt" in build.render_dockerfile(slim, "airflow")
    none = plan(project, values, no_constraints=True)
    assert not none.image_constraints and "--constraint" not in build.render_dockerfile(none, "airflow")
    given = plan(project, values, constraints="https://example.org/c.txt")
    assert not given.image_constraints and build.IMAGE_CONSTRAINTS not in build.render_dockerfile(given, "airflow")
    (project.root / "constraints.txt").write_text("toolz==1.0.0\n")
    assert not plan(project, values).image_constraints, "the project's own constraints.txt wins"
    with pytest.raises(UsageError) as both:
        plan(project, values, constraints="constraints.txt", no_constraints=True)
    assert "--no-constraints" in both.value.message


def test_images_before_2_9_carry_no_constraints_file(tmp_path):
    project, values = make_project(tmp_path, image="apache/airflow:2.8.4-python3.11")
    (project.root / "requirements.txt").write_text("toolz==1.0.0\n")
    assert not plan(project, values).image_constraints
