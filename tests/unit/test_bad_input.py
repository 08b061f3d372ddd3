"""Bad input, second round (issue 14): every input checked the way compose and docker read it, at the
boundary of the command: the bad value named, the fix given, the right exit code, nothing written.

The CLI runs in-process through `cli.main()` (the real error handling, no subprocess) with no Docker engine
reachable, so any command that got as far as the engine would fail with exit 4."""
from __future__ import annotations

import ast
import functools
import random
import shlex
import stat
from pathlib import Path

import pytest
import typer

from airflow_compose import cli, engine
from airflow_compose.commands import build
from airflow_compose.errors import ENVIRONMENT, PROJECT, USAGE, AfcError, EnvironmentProblem, ProjectError
from airflow_compose.project import inputs
from airflow_compose.project.files import Project
from airflow_compose.stack import dotenv, settings, tags
from tests.helpers import run_afc

PACKAGE = Path(cli.__file__).parent
DIGEST = "sha256:" + "ab" * 32


@pytest.fixture
def afc():
    """Run `afc ARGS` in-process through `cli.main` (tests.helpers.run_afc): (exit code, stdout, stderr)."""
    def run(*args: str, env: dict[str, str] | None = None):
        ran = run_afc(*args, env=env)
        assert "Traceback" not in ran.stderr
        return ran.returncode, ran.stdout, ran.stderr
    return run


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def project(afc, tmp_path):
    root = tmp_path / "proj"
    code, _, err = afc("init", str(root), "--tag", "2.10.4-python3.12", "--arch", "amd64")
    assert code == 0, err
    return root


def set_env_line(root: Path, key: str, line: str) -> None:
    env = root / ".env"
    kept = [raw for raw in env.read_text().splitlines() if not raw.startswith(f"{key}=")]
    env.write_text("\n".join(kept + [line]) + "\n")


# --- 1. `.env` read exactly as compose reads it ---------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("A=plain", "plain"),
    ("\ufeffA=bom", "bom"),                               # compose skips a UTF-8 byte-order mark
    ("export A=exported", "exported"),
    ("A: yaml-style", "yaml-style"),
    ("A = spaced  ", "spaced"),
    ("A=x #comment", "x"),                                # ' #' starts a comment...
    ("A=x#not-a-comment", "x#not-a-comment"),             # ...a '#' inside a word does not
    ("A='single $HOME \\n'", "single $HOME \\n"),        # single quotes are literal
    ("A='it\\'s'", "it's"),
    ('A="tab\\there"', "tab\there"),
    ('A="line\\nbreak"', "line\nbreak"),
    ('A="dollar \\$HOME"', "dollar $HOME"),               # \$ is a literal dollar in double quotes
    ('A="back\\\\slash"', "back\\slash"),
    ('A="say \\"hi\\""', 'say "hi"'),
    ('A="multi\nline"', "multi\nline"),
    ("A=pa$$word", "pa$word"),                            # $$ is one literal dollar
    ("A=cost$", "cost$"),                                 # a lone $ before nothing stays
    ("A=5$%", "5$%"),
    ('A="\\0101"', "A"),                                  # octal escape
    ("A=", ""),
    ("A=''", ""),
])
def test_values_are_read_as_compose_reads_them(text, expected):
    [entry] = dotenv.parse(text + "\n# trailing comment\n")
    assert (entry.key, entry.value, entry.references) == ("A", expected, ())


@pytest.mark.parametrize("text, reference", [
    ("A=pa$word", "$word"), ("A=${HOME}/x", "${HOME}"), ('A="x$Y"', "$Y"), ("A=\\$HOME", "$HOME"),
    ("A=${UNSET:-default}", "${UNSET:-default}"),
])
def test_references_compose_would_substitute_are_found(text, reference):
    [entry] = dotenv.parse(text)
    assert entry.references == (reference,)


@pytest.mark.parametrize("text, words", [
    ("A='never closed\n", "never closed"),
    ('A="x" B=y\n', "text after the closing quote"),
    ("this is garbage\n", "is not KEY=value"),
    ("A/B=1\n", "unexpected '/'"),
    ("=1\n", "no variable name"),
])
def test_lines_compose_rejects_or_misreads_are_named(text, words):
    with pytest.raises(ProjectError) as caught:
        dotenv.parse("OK=1\n" + text, ".env")
    assert words in caught.value.message and "line 2" in caught.value.message


def test_quote_writes_any_value_so_compose_reads_it_back():
    nasty = ["", "plain", "pa$word", "$$", "a b", " lead", "trail ", "x #y", "#", "'", '"', "it's $HOME",
             "back\\", "back\\slash", "new\nline", "\\'", "tab\tx", "${X}", "é ü", "\\$", "=", "a=b"]
    alphabet = "aZ09 $#'\"\\\n\t={}:-_é"
    rng = random.Random(14)
    nasty += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(400)]
    for value in nasty:
        [entry] = dotenv.parse(f"K={dotenv.quote(value)}\n")
        assert entry.value == value and not entry.references, (value, dotenv.quote(value))


def test_afc_setting_compose_would_interpolate_is_refused_without_showing_the_secret(afc, project):
    set_env_line(project, "AFC_POSTGRES_PASSWORD", "AFC_POSTGRES_PASSWORD=s3cr3t$word")
    before = snapshot(project)
    for args in (["config", "--check"], ["config"], ["status"], ["backup"]):
        code, out, err = afc("-C", str(project), *args)
        assert code == PROJECT, (args, err)
        assert "AFC_POSTGRES_PASSWORD" in err + out and "single quotes" in err + out
        assert "s3cr3t" not in err + out
    assert snapshot(project) == before


def test_quoted_dollar_password_is_read_literally_and_kept_through_rewrites(afc, project):
    set_env_line(project, "AFC_POSTGRES_PASSWORD", "AFC_POSTGRES_PASSWORD='pa$word'")
    set_env_line(project, "MY_DIR", "MY_DIR=${HOME}/data")  # the user's own variable: kept as written
    assert Project(project).file_values()["AFC_POSTGRES_PASSWORD"] == "pa$word"
    code, out, _ = afc("-C", str(project), "config", "--show-secrets")
    assert code == 0 and "pa$word" in out
    code, _, err = afc("init", str(project), "--force", "--workers", "2")
    assert code == 0, err
    text = (project / ".env").read_text()
    assert "AFC_POSTGRES_PASSWORD='pa$word'" in text and "MY_DIR=${HOME}/data" in text
    assert Project(project).file_values()["AFC_POSTGRES_PASSWORD"] == "pa$word"


def test_generated_secrets_never_need_quoting():
    for name in settings.SECRET_NAMES:
        for _ in range(50):
            value = settings.generate_secret(name)
            assert dotenv.quote(value) == value


def test_bom_and_crlf_env_is_accepted(afc, project):
    env = project / ".env"
    env.write_bytes(b"\xef\xbb\xbf" + env.read_bytes().replace(b"\n", b"\r\n"))
    code, _, err = afc("-C", str(project), "config")
    assert code == 0, err


def test_env_that_is_not_utf8_names_the_line(afc, project):
    env = project / ".env"
    env.write_bytes(env.read_bytes() + b"AFC_POSTGRES_DB=caf\xe9\n")
    code, _, err = afc("-C", str(project), "config")
    assert code == PROJECT and "not UTF-8" in err and "line" in err


def test_secret_exported_in_the_shell_would_win_in_compose_and_is_refused(afc, project):
    code, _, err = afc("-C", str(project), "config", env={"AFC_FERNET_KEY": "from-the-shell"})
    assert code == ENVIRONMENT and "AFC_FERNET_KEY" in err and "unset AFC_FERNET_KEY" in err


# --- 2. a lost or foreign .env ----------------------------------------------------------------------------

def test_lost_env_says_what_is_missing_what_is_lost_and_how_to_recover(afc, project):
    (project / ".env").unlink()
    before = snapshot(project)
    code, _, err = afc("-C", str(project), "status")
    assert code == PROJECT and ".env is missing" in err and "proj_postgres-data" in err
    assert "--new-secrets" in err and "Fernet" in err
    for args in (["init", str(project)], ["init", str(project), "--force"]):
        code, _, err = afc(*args)
        assert code == PROJECT and ".env is missing" in err, args
    assert snapshot(project) == before
    code, _, err = afc("init", str(project), "--force", "--new-secrets", "--tag", "2.10.4-python3.12")
    assert code == 0, err
    assert "generated new AFC_POSTGRES_PASSWORD" in err and "old Postgres password" in err
    assert "name: proj" in (project / "compose.yaml").read_text()


def test_recovery_from_a_lost_env_keeps_what_compose_yaml_still_tells(afc, tmp_path):
    root = tmp_path / "kept"
    assert afc("init", str(root), "--tag", "2.10.4-python3.11", "--executor", "local", "--port", "8181",
               "--arch", "arm64")[0] == 0
    (root / ".env").unlink()
    code, _, err = afc("init", str(root), "--force", "--new-secrets")
    assert code == 0, err
    values = Project(root).file_values()
    assert values["AIRFLOW_IMAGE_NAME"] == "apache/airflow:2.10.4-python3.11"  # not the default 3.x release
    assert (values["AFC_EXECUTOR"], values["AFC_PORT"], values["AFC_ARCH"]) == ("local", "8181", "arm64")


def test_lost_env_in_a_subfolder_is_not_mistaken_for_a_parent_project(afc, tmp_path):
    assert afc("init", str(tmp_path / "outer"), "--tag", "2.10.4-python3.12")[0] == 0
    assert afc("init", str(tmp_path / "outer" / "inner"), "--tag", "2.10.4-python3.12")[0] == 0
    (tmp_path / "outer" / "inner" / ".env").unlink()
    code, _, err = afc("-C", str(tmp_path / "outer" / "inner" / "dags"), "status")
    assert code == PROJECT and "inner/.env is missing" in err


def test_missing_data_secret_needs_new_secrets(afc, project):
    env = project / ".env"
    env.write_text("\n".join(l for l in env.read_text().splitlines() if not l.startswith("AFC_FERNET_KEY=")) + "\n")
    code, _, err = afc("-C", str(project), "config")
    assert code == PROJECT and "AFC_FERNET_KEY" in err and "--new-secrets" in err
    before = snapshot(project)
    code, _, err = afc("init", str(project), "--force")
    assert code == PROJECT and "--new-secrets" in err and "unreadable" in err
    assert snapshot(project) == before
    code, _, err = afc("init", str(project), "--force", "--new-secrets")
    assert code == 0 and "AFC_FERNET_KEY=" in env.read_text()


def test_new_secrets_without_force_is_refused(afc, tmp_path):
    code, _, err = afc("init", str(tmp_path / "p"), "--new-secrets")
    assert code == USAGE and "--force" in err and not (tmp_path / "p").exists()


QUICKSTART = """# Airflow's docker-compose quick start (abridged from airflow.apache.org, docker-compose.yaml)
x-airflow-common:
  &airflow-common
  image: ${AIRFLOW_IMAGE_NAME:-apache/airflow:2.10.4}
services:
  airflow-scheduler:
    <<: *airflow-common
    command: scheduler
"""


@pytest.mark.parametrize("with_env", [True, False])
def test_airflow_quick_start_folder_is_not_called_an_afc_project(afc, tmp_path, with_env):
    (tmp_path / "docker-compose.yaml").write_text(QUICKSTART)
    if with_env:
        (tmp_path / ".env").write_text("AIRFLOW_UID=50000\n")  # what the quick start tells you to write
    before = snapshot(tmp_path)
    for args in (["-C", str(tmp_path), "status"], ["-C", str(tmp_path), "config", "--check"],
                 ["init", str(tmp_path)], ["init", str(tmp_path), "--force"]):
        code, out, err = afc(*args)
        assert code == PROJECT, args
        assert "another Airflow stack" in err + out and "not an afc project" in err + out
        assert "already holds an afc project" not in err + out
    assert snapshot(tmp_path) == before


def test_foreign_env_is_not_afcs(afc, tmp_path):
    (tmp_path / ".env").write_text("DATABASE_URL=postgres://x\n")
    code, _, err = afc("-C", str(tmp_path), "status")
    assert code == PROJECT and "not afc's" in err


# --- 3. writes checked before work ------------------------------------------------------------------------

@pytest.mark.parametrize("target, words", [
    ("missing/compose.yaml", "does not exist"),
    ("/proc/1/compose.yaml", "cannot write in /proc/1"),   # read-only even for root
    (".", "is a folder"),
])
def test_config_output_that_cannot_be_written_is_a_usage_error(afc, project, tmp_path, target, words):
    path = target if target.startswith("/") else str(tmp_path / target)
    before = snapshot(tmp_path)
    code, _, err = afc("-C", str(project), "config", "--output", path)
    assert code == USAGE and words in err and "--output" in err
    assert snapshot(tmp_path) == before


def test_config_output_with_secrets_is_private(afc, project, tmp_path):
    code, _, err = afc("-C", str(project), "config", "--show-secrets", "--output", str(tmp_path / "full.yaml"))
    assert code == 0, err
    assert stat.S_IMODE((tmp_path / "full.yaml").stat().st_mode) == 0o600


def test_backup_into_a_missing_folder_is_named_before_postgres_is_asked(afc, project, tmp_path):
    code, _, err = afc("-C", str(project), "backup", str(tmp_path / "nope" / "x.dump"))
    assert code == USAGE and "does not exist" in err and "mkdir -p" in err and "postgres" not in err.lower()
    code, _, err = afc("-C", str(project), "backup", "/proc/1/x.dump")
    assert code == USAGE and "cannot write" in err


def test_export_helm_into_a_file_is_a_usage_error(afc, project, tmp_path):
    (tmp_path / "afile").write_text("x")
    code, _, err = afc("-C", str(project), "export", "helm", "--output", str(tmp_path / "afile"))
    assert code == USAGE and "is a file" in err


def _string_texts(tree: ast.AST):
    """Every string literal of a module, f-strings and `+` chains joined, expressions as {expr}."""
    def stringish(node):
        return (isinstance(node, ast.Constant) and isinstance(node.value, str)) or isinstance(node, ast.JoinedStr) \
            or (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and (stringish(node.left)
                                                                                 or stringish(node.right)))

    def render(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(render(v) if isinstance(v, ast.Constant) else "{" + ast.unparse(v.value) + "}"
                           for v in node.values)
        if isinstance(node, ast.BinOp) and stringish(node):
            return render(node.left) + render(node.right)
        return "{" + ast.unparse(node) + "}"

    found = []

    def visit(node):
        if stringish(node):
            found.append(render(node))
            return
        for child in ast.iter_child_nodes(node):
            visit(child)
    visit(tree)
    return found


# Sample values for the expressions and placeholders hints put in their commands.
SAMPLES = {"{project.compose_path}": "/tmp/p/compose.yaml", "{engine_arch}": "arm64", "{flag}": " --port",
           "{port + 1}": "8081", "{command}": "backup", "{verb}": "swarm scale", "{target.tag}": "2.11.2", "{failing[0]}": "scheduler",
           "{path}": "/tmp/x.dump", "{release.version}": "2.11.2", "{','.join(missing)}": "amazon,http", "{name}": "demo", "{folder}": "/tmp", "{tag}": "2.10.4",
           "N": "3", "TAG": "2.10.4", "FILE": "x.dump", "DIR": "/tmp", "REPO:TAG": "apache/airflow:2.10.4"}


def _commands():
    import re

    for path in sorted(PACKAGE.rglob("*.py")):
        for text in _string_texts(ast.parse(path.read_text())):
            for command in re.findall(r"`(afc(?: [^`]*)?)`", text):
                yield path.name, command


@functools.lru_cache(maxsize=1)
def _cli_command():
    return typer.main.get_command(cli.app)


def _parse(command: str) -> None:
    """Parse an `afc …` command line with the real CLI (no command runs); click raises on any mistake."""
    for expression, sample in SAMPLES.items():
        if expression.startswith("{"):
            command = command.replace(expression, sample)
    assert "{" not in command, f"add a sample value for the placeholder in: {command}"
    words = [SAMPLES.get(word, word) for word in shlex.split(command)[1:] if word not in ("…", "...")]
    if not words:
        return  # `afc` alone prints the help
    group = _cli_command()
    context = group.make_context("afc", list(words))
    while hasattr(group, "resolve_command"):  # a group: its subcommand is parsed in turn
        rest = list(getattr(context, "_protected_args", None) or getattr(context, "protected_args", [])) + context.args
        if not rest:
            return
        name, group, rest = group.resolve_command(context, rest)
        context = group.make_context(name, rest, parent=context)


def test_every_afc_command_named_in_a_message_exists_and_parses():
    commands = list(_commands())
    assert len(commands) > 40  # the extraction itself works
    bad = []
    for source, command in commands:
        for alternative in _alternatives(command):
            try:
                _parse(alternative)
            except Exception as error:  # click's usage errors name the problem
                # a command named without its required arguments ("see `afc restore`") is a name, not a call
                if type(error).__name__ not in ("MissingParameter", "NoArgsIsHelpError"):
                    bad.append(f"{source}: `{alternative}`: {error}")
    assert not bad, "\n".join(bad)


def _alternatives(command: str) -> list[str]:
    """`afc swarm deploy|scale` names two commands."""
    words = command.split(" ")
    for index, word in enumerate(words):
        if "|" in word:
            return [" ".join(words[:index] + [choice] + words[index + 1:]) for choice in word.split("|")]
    return [command]


def test_the_hint_audit_catches_a_command_that_does_not_exist():
    with pytest.raises(Exception):
        _parse("afc back")
    with pytest.raises(Exception):
        _parse("afc up --timeout")
    with pytest.raises(Exception):
        _parse("afc scale workers many")
    with pytest.raises(Exception):
        _parse("afc init --force --fresh-secrets")


# --- 4. arguments checked ---------------------------------------------------------------------------------
# Accepted and refused `--since` values as measured with `docker logs --since VALUE` (Docker CLI 20.10.24).
SINCE_OK = ["10m", "1h30m", "0", "1.5h", ".5h", "-10m", "5us", "3µs", "2026-01-02", "2026-01-02Z",
            "2026-01-02+01:00", "2026-01-02T13", "2026-01-02T13:00", "2026-01-02T13:00:00", "2026-01-02T13:00:00Z",
            "2026-01-02T13:00:00+01:00", "2026-01-02T13:00:00.5", "2026-01-02T13:00:00.5Z", "1700000000",
            "1700000000.123", "10"]
SINCE_BAD = ["10x", "yesterday", "2026-13-02", "10 m", "1d", "1h-", "1e5", "1.2.3", "2026-01-02T25:00", "1h30"]


@pytest.mark.parametrize("value", SINCE_OK)
def test_since_accepts_what_docker_accepts(value):
    assert inputs.since(value) == value


@pytest.mark.parametrize("value", SINCE_BAD)
def test_since_refuses_what_docker_refuses(value):
    with pytest.raises(AfcError) as caught:
        inputs.since(value)
    assert caught.value.exit_code == USAGE and repr(value) in caught.value.message and "48h" in caught.value.hint


def test_logs_since_is_checked_before_docker_is_asked(afc, project):
    code, _, err = afc("-C", str(project), "logs", "--since", "2d")
    assert code == USAGE and "'2d'" in err


@pytest.mark.parametrize("args", [["up", "--timeout", "0"], ["logs", "--tail", "-1"], ["restart", "--timeout", "-5"],
                                  ["upgrade", "--to", "2.11.2", "--timeout", "0"]])
def test_numbers_out_of_range_are_usage_errors(afc, project, args):
    code, _, err = afc("-C", str(project), *args)
    assert code == USAGE and ("--timeout" in err or "--tail" in err)


@pytest.mark.parametrize("args, words", [
    (["--executor", "local", "--flower"], "AFC_FLOWER=true needs Celery"),
    (["--executor", "local", "--workers", "3"], "AFC_WORKERS=3 asks for Celery workers"),
    (["--tag", "2.10.4", "--image", "apache/airflow:2.10.4"], "--tag and --image were both given"),
])
def test_contradicting_init_options_are_refused_and_nothing_is_written(afc, tmp_path, args, words):
    code, _, err = afc("init", str(tmp_path / "p"), *args)
    assert code == USAGE and words in err
    assert not (tmp_path / "p").exists()


def test_contradiction_in_env_is_refused_by_every_command_as_the_projects(afc, project):
    set_env_line(project, "AFC_EXECUTOR", "AFC_EXECUTOR=local")
    set_env_line(project, "AFC_REDIS_PORT", "AFC_REDIS_PORT=6380")
    for args in (["config"], ["status"], ["export", "helm"]):
        code, _, err = afc("-C", str(project), *args)
        assert code == PROJECT and "AFC_REDIS_PORT=6380 publishes Redis" in err and ".env" in err, args
    code, _, err = afc("-C", str(project), "config", env={"AFC_REDIS_PORT": "6381"})  # given in the shell
    assert code == USAGE and "AFC_REDIS_PORT=6381" in err


@pytest.mark.parametrize("line, words", [("AFC_WORKERS=many", "AFC_WORKERS='many'"),
                                         ("AIRFLOW_IMAGE_NAME=apache/airflow", "has no tag"),
                                         ("AFC_POSTGRES_IMAGE=postgres:16 x", "is not valid")])
def test_a_bad_value_in_env_is_a_project_error_and_a_bad_flag_a_usage_error(afc, project, line, words):
    set_env_line(project, line.split("=")[0], line)
    code, _, err = afc("-C", str(project), "config")
    assert code == PROJECT and words in err and line.split("=")[0] in err
    code, _, err = afc("init", str(project), "--force", "--workers", "0")
    assert code == USAGE


def test_config_check_with_output_is_a_contradiction(afc, project, tmp_path):
    code, _, err = afc("-C", str(project), "config", "--check", "--output", str(tmp_path / "x.yaml"))
    assert code == USAGE and "--check" in err and not (tmp_path / "x.yaml").exists()


def test_image_pinned_by_tag_and_digest_is_accepted(afc, tmp_path):
    root = tmp_path / "p"
    code, _, err = afc("init", str(root), "--image", f"apache/airflow:2.10.4-python3.12@{DIGEST}",
                       "--postgres-image", f"postgres:16@{DIGEST}", "--redis-image", f"redis@{DIGEST}")
    assert code == 0, err
    compose = (root / "compose.yaml").read_text()
    assert f"image: apache/airflow:2.10.4-python3.12@{DIGEST}" in compose
    assert f"image: postgres:16@{DIGEST}" in compose and f"image: redis@{DIGEST}" in compose
    code, out, _ = afc("images", f"apache/airflow:2.10.4-python3.12@{DIGEST}", "--json")
    assert code == 0 and '"2.10.4"' in out
    code, _, err = afc("-C", str(root), "export", "helm")
    assert code == 0, err
    assert f"digest: {DIGEST}" in (root / "helm" / "values.yaml").read_text()  # the chart's images.airflow.digest


@pytest.mark.parametrize("flag, image, words", [
    ("--image", f"apache/airflow@{DIGEST}", "pinned by digest only"),
    ("--image", "apache/airflow:2.10.4@sha256:short", "invalid digest"),
    ("--image", "Apache/Airflow:2.10.4", "is not valid"),
    ("--postgres-image", "postgres:16 latest", "is not valid"),
    ("--redis-image", "redis:$TAG", "is not valid"),
])
def test_bad_image_references_are_named(afc, tmp_path, flag, image, words):
    code, _, err = afc("init", str(tmp_path / "p"), flag, image)
    assert code == USAGE and words in err
    assert not (tmp_path / "p").exists()


def test_digest_only_hint_shows_the_pinned_form():
    with pytest.raises(AfcError) as caught:
        tags.split_image(f"mirror.example.com:5000/apache/airflow@{DIGEST}")
    assert f"mirror.example.com:5000/apache/airflow:{tags.DEFAULT_TAG}@{DIGEST}" in caught.value.hint


# --- 5. right blame and right categories ----------------------------------------------------------------

def _plan(tmp_path):
    root = tmp_path / "b"
    root.mkdir()
    (root / "requirements.txt").write_text("toolz==1.0.0\n")
    values = settings.effective({"AFC_PROJECT_NAME": "b", "AIRFLOW_IMAGE_NAME": "apache/airflow:2.10.4-python3.12"},
                                {})
    return build.plan_build(Project(root), values, slim=False, extras=None, constraints=None)


def test_engine_failure_mid_build_is_not_blamed_on_requirements(tmp_path):
    outcome = engine.BuildOutcome(False, ("Step 1/6 : FROM apache/airflow:2.10.4", " ---> 1234"),
                                  "error during connect: Post http://docker/build: EOF")
    error = build.build_failure(_plan(tmp_path), outcome, "apache/airflow:2.10.4-python3.12")
    assert isinstance(error, EnvironmentProblem) and error.exit_code == ENVIRONMENT
    assert "not a problem of requirements.txt" in error.hint


def test_network_failure_during_pip_is_not_blamed_on_requirements(tmp_path):
    output = ("Step 4/6 : RUN pip install -r requirements.txt",
              "WARNING: Retrying (Retry(total=4)) after connection broken by 'NewConnectionError(': Failed to "
              "establish a new connection: [Errno -3] Temporary failure in name resolution')'",
              "ERROR: Could not find a version that satisfies the requirement toolz==1.0.0",
              "ERROR: No matching distribution found for toolz==1.0.0")
    error = build.build_failure(_plan(tmp_path), engine.BuildOutcome(False, output, "returned a non-zero code: 1"),
                                "apache/airflow:2.10.4-python3.12")
    assert error.exit_code == ENVIRONMENT and "network" in error.message and "wheels/" in error.hint


def test_a_real_conflict_is_still_the_requirements(tmp_path):
    output = ("Step 4/6 : RUN pip install -r requirements.txt",
              "ERROR: Cannot install apache-airflow==2.10.4 and toolz==0.1 because these package versions have "
              "conflicting dependencies.")
    error = build.build_failure(_plan(tmp_path), engine.BuildOutcome(False, output, "returned a non-zero code: 1"),
                                "apache/airflow:2.10.4-python3.12")
    assert error.exit_code == PROJECT and "requirements.txt" in error.hint


def test_deleted_compose_file_gets_the_fix_not_composes_message(afc, project):
    (project / "compose.yaml").unlink()
    for args in (["status"], ["logs"], ["down"]):
        code, _, err = afc("-C", str(project), *args)
        assert code == PROJECT and "compose.yaml is missing" in err and "afc up" in err, args
    assert not (project / "compose.yaml").exists()
    code, out, _ = afc("-C", str(project), "config", "--check")
    assert code == PROJECT and "compose.yaml is missing" in out + _
    code, _, err = afc("-C", str(project), "config", "--output", str(project / "compose.yaml"))
    assert code == 0 and (project / "compose.yaml").exists()
    rendered = (project / "compose.yaml").read_text()
    (project / "compose.yaml").unlink()
    code, _, err = afc("-C", str(project), "up")  # renders it again, then finds no engine (exit 4, not 3)
    assert code == ENVIRONMENT and (project / "compose.yaml").read_text() == rendered


def test_every_raised_error_has_a_category():
    """No AfcError leaves with the generic exit code 1: each is a usage, project, environment or stack error."""
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "AfcError":
                assert any(k.arg == "exit_code" for k in node.keywords), f"{path.name}:{node.lineno}"


def test_swarm_image_may_be_pinned_by_digest_alone(afc, project):
    code, out, err = afc("-C", str(project), "swarm", "config", "--image", f"registry.example.com/team/airflow@{DIGEST}")
    assert code == 0, err
    assert f"image: registry.example.com/team/airflow@{DIGEST}" in out
    code, _, err = afc("-C", str(project), "swarm", "config", "--image", "Team/Airflow:1")
    assert code == USAGE and "'Team/Airflow' is not valid" in err
    code, _, err = afc("-C", str(project), "swarm", "config", "--image", "team/airflow")
    assert code == USAGE and "has no tag" in err and "@sha256:" in err


def test_init_into_a_file_is_a_usage_error(afc, tmp_path):
    (tmp_path / "afile").write_text("x")
    code, _, err = afc("init", str(tmp_path / "afile"))
    assert code == USAGE and "is a file" in err
    code, _, err = afc("init", str(tmp_path / "afile" / "sub"))
    assert code == USAGE and "is a file" in err


def test_doctor_in_a_quick_start_folder_checks_only_the_machine(afc, tmp_path):
    import json

    (tmp_path / "docker-compose.yaml").write_text(QUICKSTART)
    (tmp_path / ".env").write_text("AIRFLOW_UID=50000\n")
    _, out, _ = afc("-C", str(tmp_path), "doctor", "--json")
    report = json.loads(out)
    assert report["project"] is None and not any(c["name"] == "project-files" for c in report["checks"])


def test_every_setting_named_in_a_message_exists():
    """A hint telling to set AFC_SOMETHING names a variable afc reads (a setting of .env, or AFC_TAG, AFC_IMAGE,
    AFC_PROJECT_DIR of the environment)."""
    import re

    known = set(settings.BY_NAME) | {"AFC_TAG", "AFC_IMAGE", "AFC_PROJECT_DIR"}
    named = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        for text in _string_texts(ast.parse(path.read_text())):
            if " " in text:  # a sentence, not an identifier
                named |= set(re.findall(r"\bAFC_[A-Z_]*[A-Z]\b", text))
    assert {"AFC_WORKERS", "AFC_BASE_IMAGE", "AFC_REDIS_PORT"} <= named  # the extraction itself works
    assert not named - known, named - known
