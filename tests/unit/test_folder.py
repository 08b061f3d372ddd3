"""`afc init` in a folder with content (git repository, another compose file) and the modes of the files afc
writes with secrets, through the real command line; the .gitignore logic as pure functions."""
import os
import pty
import stat
import subprocess
import sys
import threading

import pytest

from airflow_compose.project import folder
from tests.helpers import NO_ENGINE, run_afc


def afc_process_to(stdout, *args, cwd=None):
    """The real `afc` process with its stdout on `stdout` (a terminal, for the one test that needs one)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AFC_")}
    environ.update(NO_COLOR="1", **NO_ENGINE)
    return subprocess.run([sys.executable, "-m", "airflow_compose", *args], cwd=cwd, env=environ,
                          stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=60)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- .gitignore -------------------------------------------------------------------------------------------

def test_every_entry_is_added_to_an_empty_gitignore():
    text, added = folder.extended_gitignore("")
    assert added == list(folder.IGNORED)
    assert [line for line in text.splitlines() if not line.startswith("#")] == \
        ["/.env", "/backups/", "/helm/secrets.yaml", "/logs/"]


def test_entries_already_covered_are_not_repeated_and_user_lines_are_kept():
    existing = "node_modules/\n.env\n/logs\n# backups/\n!helm/secrets.yaml"
    text, added = folder.extended_gitignore(existing)
    assert added == ["backups/", "helm/secrets.yaml"], "a comment or a negation does not ignore anything"
    assert text.startswith(existing + "\n") and text.endswith("/backups/\n/helm/secrets.yaml\n")
    assert folder.extended_gitignore(text) == (text, []), "extending twice changes nothing"


def test_a_git_worktree_or_submodule_counts_as_a_repository(tmp_path):
    (tmp_path / ".git").write_text("gitdir: /elsewhere\n")
    (tmp_path / "sub").mkdir()
    assert folder.find_git_root(tmp_path / "sub" / "new") == tmp_path


# --- afc init in a folder with content -------------------------------------------------------------------

def test_init_in_a_git_repository_names_it_and_ignores_the_secret_files(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("*.pyc\n")
    (tmp_path / "README.md").write_text("mine\n")
    done = run_afc("init", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert f"found a git repository at {tmp_path}" in done.stderr and "README.md" in done.stderr
    assert ".gitignore: added .env, backups/, helm/secrets.yaml, logs/" in done.stderr
    assert (tmp_path / ".gitignore").read_text().startswith("*.pyc\n")
    (tmp_path / "logs" / "task.log").write_text("a task's log\n")  # git does not list empty folders
    ignored = subprocess.run(["git", "-C", str(tmp_path), "status", "--porcelain", "--ignored"],
                             capture_output=True, text=True).stdout
    assert "!! .env" in ignored and "!! logs/" in ignored, ignored
    again = run_afc("init", str(tmp_path), "--force")
    assert again.returncode == 0 and "already ignores" in again.stderr
    assert (tmp_path / ".gitignore").read_text().count("/.env") == 1


def test_init_outside_a_repository_writes_no_gitignore(tmp_path):
    assert run_afc("init", str(tmp_path / "p")).returncode == 0
    assert not (tmp_path / "p" / ".gitignore").exists()


@pytest.mark.parametrize("name", ["docker-compose.yaml", "docker-compose.yml", "compose.yml"])
def test_init_refuses_to_shadow_another_compose_file_and_writes_nothing(tmp_path, name):
    (tmp_path / name).write_text("services: {app: {image: busybox}}\n")
    done = run_afc("init", str(tmp_path))
    assert done.returncode == 3, done.stderr
    assert name in done.stderr and "silently" in done.stderr and "fix:" in done.stderr
    assert f"e.g. {tmp_path / 'airflow'} (`afc init DIR`)" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [name], "nothing was written"
    assert run_afc("init", str(tmp_path / "airflow")).returncode == 0, "the fix works"


def test_init_never_overwrites_a_compose_yaml_it_did_not_write(tmp_path):
    (tmp_path / "compose.yaml").write_text("services: {app: {image: busybox}}\n")
    for args in ([], ["--force"]):
        done = run_afc("init", str(tmp_path), *args)
        assert done.returncode == 3 and "was not written by afc" in done.stderr, done.stderr
    assert (tmp_path / "compose.yaml").read_text() == "services: {app: {image: busybox}}\n"
    assert not (tmp_path / ".env").exists()


# --- secrets on disk -------------------------------------------------------------------------------------

@pytest.fixture
def project(tmp_path):
    assert run_afc("init", str(tmp_path / "p")).returncode == 0
    return tmp_path / "p"


def secret_of(project) -> str:
    return [line for line in (project / ".env").read_text().splitlines()
            if line.startswith("AFC_FERNET_KEY=")][0].split("=", 1)[1]


def test_config_with_secrets_to_a_file_is_private(project, tmp_path):
    out = tmp_path / "with-secrets.yaml"
    out.write_text("old\n")
    out.chmod(0o644)
    done = run_afc("config", "--show-secrets", "-o", str(out), cwd=project)
    assert done.returncode == 0, done.stderr
    assert mode(out) == 0o600 and secret_of(project) in out.read_text()
    assert "0600" in done.stderr
    plain = tmp_path / "plain.yaml"
    assert run_afc("config", "-o", str(plain), cwd=project).returncode == 0
    assert mode(plain) == 0o644 and secret_of(project) not in plain.read_text()


def test_show_secrets_into_a_pipe_says_so_on_stderr(project):
    done = run_afc("config", "--show-secrets", cwd=project)
    assert done.returncode == 0 and secret_of(project) in done.stdout
    assert "not a terminal" in done.stderr
    assert "not a terminal" not in run_afc("config", cwd=project).stderr, "no secrets, no warning"


def test_show_secrets_to_a_terminal_does_not_warn(project):
    leader, follower = pty.openpty()
    shown = bytearray()

    def drain():  # a terminal nobody reads fills up and blocks the writer
        try:
            while chunk := os.read(leader, 65536):
                shown.extend(chunk)
        except OSError:  # the follower side closed
            pass

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        done = afc_process_to(follower, "config", "--show-secrets", cwd=project)
    finally:
        os.close(follower)
        reader.join(timeout=10)
        os.close(leader)
    assert done.returncode == 0 and "not a terminal" not in done.stderr, done.stderr
    assert secret_of(project).encode() in bytes(shown)


def test_every_secret_file_afc_init_and_export_write_is_0600(project):
    assert run_afc("export", "helm", cwd=project).returncode == 0
    assert mode(project / ".env") == 0o600 and mode(project / "helm" / "secrets.yaml") == 0o600
    assert mode(project / "compose.yaml") == 0o644 and secret_of(project) not in (project / "compose.yaml").read_text()
    assert secret_of(project) not in (project / "helm" / "values.yaml").read_text()


def test_init_names_what_the_folder_held(tmp_path):
    for number in range(8):
        (tmp_path / f"file{number}.txt").write_text("mine\n")
    done = run_afc("init", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert f"found in {tmp_path}: file0.txt, file1.txt" in done.stderr and "and 2 more" in done.stderr
    assert "added: dags/, logs/, plugins/, config/, .env, compose.yaml" in done.stderr
    assert "git repository" not in done.stderr
