"""Project identity: the names afc init records, and the decisions of the owner check (no Docker: the
engine's answer is a StackClaim made here)."""
import re
from pathlib import Path

import pytest

from airflow_compose.engine import StackClaim
from airflow_compose.errors import PROJECT, ProjectError
from airflow_compose.project import identity
from airflow_compose.project.files import Project
from airflow_compose.stack import settings
from airflow_compose.stack.spec import project_name_from

COMPOSE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def nothing(name: str) -> StackClaim:
    return StackClaim(name, (), ())


def held_by(folder: str, *, volumes: bool = True, only: str | None = None):
    """A claim function: the engine holds `only` (or every name) for containers created in `folder`."""
    def claim(name: str) -> StackClaim:
        if only is not None and name != only:
            return nothing(name)
        return StackClaim(name, (folder,), (f"{name}_postgres-data",) if volumes else ())
    return claim


def test_folder_names_that_normalise_alike_get_different_names():
    upper, lower = Path("/home/u/a/MyProj"), Path("/home/u/b/myproj")
    assert identity.preferred_name(lower) == "myproj", "a name that already is a compose name is kept"
    assert identity.preferred_name(upper) != identity.preferred_name(lower)
    assert identity.preferred_name(upper).startswith("myproj-")


@pytest.mark.parametrize("folder", ["データ", "Ελληνικά", "Кириллица", "___", "---", "日本語"])
def test_names_without_ascii_letters_are_meaningful_unique_and_valid(folder):
    one, two = Path("/home/u/one") / folder, Path("/home/u/two") / folder
    name = identity.preferred_name(one)
    assert COMPOSE_NAME.match(name) and name.startswith("airflow-")
    assert name != identity.preferred_name(two), "the same folder name in two places is two projects"
    assert name == identity.preferred_name(Path("/home/u/one") / folder), "stable for one folder"
    assert project_name_from(folder) in ("afc", "airflow"), "the old derivation gave them all one name"


@pytest.mark.parametrize("folder", ["My Airflow", "Ünïcode-proj", "x" * 80, "proj.v2", "A"])
def test_unique_names_are_valid_short_and_keep_the_ascii_part(folder):
    name = identity.unique_name(Path("/srv") / folder)
    assert COMPOSE_NAME.match(name) and len(name) <= identity.NAME_LENGTH
    assert name.split("-")[0] == identity.slug(folder).split("-")[0][:identity.NAME_LENGTH - 7]


def test_init_keeps_the_preferred_name_while_the_engine_holds_nothing():
    root = Path("/p/airflow")
    assert identity.name_for_init(root, {}, {}, nothing, "legacy") == "airflow"


def test_init_avoids_a_name_another_folder_runs_under():
    root = Path("/p/airflow")
    name = identity.name_for_init(root, {}, {}, held_by("/q/airflow", only="airflow"), "legacy")
    assert name == identity.unique_name(root) and name != "airflow"


def test_init_avoids_a_name_whose_volumes_outlived_their_containers():
    def orphan_volumes(name):
        return StackClaim(name, (), (f"{name}_postgres-data",)) if name == "airflow" else nothing(name)
    assert identity.name_for_init(Path("/p/airflow"), {}, {}, orphan_volumes, "legacy") != "airflow"


def test_init_may_take_the_name_of_its_own_folders_stack():
    root = Path("/p/airflow")
    assert identity.name_for_init(root, {}, {}, held_by(str(root)), "legacy") == "airflow"


def test_init_refuses_a_given_name_that_another_folders_stack_holds():
    with pytest.raises(ProjectError) as error:
        identity.name_for_init(Path("/p/mine"), {"AFC_PROJECT_NAME": "taken"}, {}, held_by("/q/theirs"),
                                "legacy")
    assert error.value.exit_code == PROJECT
    assert "'taken'" in error.value.message and "/q/theirs" in error.value.message
    assert "AFC_PROJECT_NAME=" in error.value.hint


def test_reinit_keeps_the_recorded_or_legacy_name_and_checks_its_owner():
    root, old = Path("/p/My Proj"), {"AFC_FERNET_KEY": "x"}
    assert identity.name_for_init(root, {"AFC_PROJECT_NAME": "kept"}, old, nothing, "my-proj") == "kept"
    assert identity.name_for_init(root, {}, old, nothing, "my-proj") == "my-proj", \
        "a project from before names were recorded keeps the name its stack runs under"
    with pytest.raises(ProjectError):
        identity.name_for_init(root, {}, old, held_by("/elsewhere/my-proj"), "my-proj")


def test_the_owner_check_refuses_another_folder_and_names_it_and_the_fix():
    root = Path("/home/u/b/myproj")
    identity.check_owner(root, "myproj", nothing("myproj"))
    identity.check_owner(root, "myproj", StackClaim("myproj", (str(root),), ("myproj_postgres-data",)))
    with pytest.raises(ProjectError) as error:
        identity.check_owner(root, "myproj", StackClaim("myproj", ("/home/u/a/MyProj",), ()))
    assert error.value.exit_code == 3
    assert "/home/u/a/MyProj" in error.value.message and "database" in error.value.message
    assert f"AFC_PROJECT_NAME={identity.unique_name(root)}" in error.value.hint
    assert str(root / ".env") in error.value.hint and "run afc in /home/u/a/MyProj" in error.value.hint


def test_the_owner_check_follows_symlinks(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    identity.check_owner(real, "x", StackClaim("x", (str(tmp_path / "link"),), ()))


def test_a_project_without_a_recorded_name_derives_it_as_before(tmp_path):
    root = tmp_path / "Old Project"
    root.mkdir()
    values = {s.name: settings.generate_secret(s.name) for s in settings.SETTINGS if s.generated}
    (root / ".env").write_text(settings.format_env(values))
    assert Project(root, environ={}).values()["AFC_PROJECT_NAME"] == "old-project"


class SwarmSecrets:
    """The part of engine.SwarmStack the swarm owner check reads: labels of the stack's secrets."""

    def __init__(self, folders=(), error=None):
        self.name = "demo-swarm"
        self.folders, self.error = list(folders), error

    def secret_label_values(self, label):
        assert label == "org.afc.project-dir"
        if self.error:
            raise self.error
        return self.folders


def swarm_ctx(root, stack):
    from types import SimpleNamespace

    return SimpleNamespace(project=Project(root), stack=stack, name=stack.name)


def test_a_swarm_stack_deployed_from_another_folder_is_refused(tmp_path):
    from airflow_compose.commands import swarm

    swarm.check_owner(swarm_ctx(tmp_path, SwarmSecrets([str(tmp_path)])))
    swarm.check_owner(swarm_ctx(tmp_path, SwarmSecrets([])))
    with pytest.raises(ProjectError) as error:
        swarm.check_owner(swarm_ctx(tmp_path, SwarmSecrets(["/other/demo"])))
    assert error.value.exit_code == 3 and "/other/demo" in error.value.message
    assert "AFC_PROJECT_NAME=" in error.value.hint


def test_the_swarm_check_leaves_a_missing_swarm_to_the_command(tmp_path):
    from airflow_compose.commands import swarm
    from airflow_compose.errors import EnvironmentProblem

    swarm.check_owner(swarm_ctx(tmp_path, SwarmSecrets(error=EnvironmentProblem("not a swarm manager"))))
