"""afc reads `.env` exactly as the real `docker compose` does, and writes values compose reads back unchanged
(issue 14). Only `docker compose config` runs: no container starts."""
from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

from airflow_compose.stack import dotenv

TRICKY = "\n".join([
    "\ufeff# a byte-order mark first, as some editors write it",
    "PLAIN=value",
    "export EXPORTED=yes",
    "YAML_STYLE: colon",
    "SPACED = around  ",
    "COMMENTED=x #comment",
    "HASH_IN_WORD=x#y",
    "DOUBLE_DOLLAR=pa$$word",
    "LONE_DOLLAR=cost$",
    "SINGLE='literal $HOME and \\n'",
    "SINGLE_ESCAPED_QUOTE='it\\'s'",
    'DOUBLE="tab\\tnew\\nline \\$HOME \\"q\\" back\\\\slash"',
    'MULTI="first',
    'second"',
    "OCTAL=\"\\0101\"",
    "EMPTY=",
    "EMPTY_QUOTED=''",
    "CRLF=windows\r",
    "",
])


def compose_environment(folder: Path, names: list[str]) -> dict[str, str]:
    """What docker compose interpolates `${NAME}` to, for each name, from the folder's `.env`."""
    lines = ["services:", "  probe:", "    image: busybox", "    environment:"]
    lines += [f"      {name}: ${{{name}}}" for name in names]
    (folder / "compose.yaml").write_text("\n".join(lines) + "\n")
    environ = {k: v for k, v in os.environ.items() if k not in names}  # the shell would win over .env
    done = subprocess.run(["docker", "compose", "config", "--format", "json"], cwd=folder, capture_output=True,
                          text=True, timeout=60, env=environ)
    assert done.returncode == 0, done.stderr
    environment = json.loads(done.stdout)["services"]["probe"]["environment"]
    return {name: (value or "").replace("$$", "$") for name, value in environment.items()}  # config re-escapes $


def test_afc_reads_every_tricky_line_as_compose_does(tmp_path):
    (tmp_path / ".env").write_text(TRICKY, encoding="utf-8")
    entries = dotenv.parse(TRICKY)
    ours = {entry.key: entry.value for entry in entries}
    assert all(not entry.references for entry in entries)
    assert compose_environment(tmp_path, list(ours)) == ours


def test_references_afc_refuses_are_the_ones_compose_substitutes(tmp_path):
    text = "HOME_REF=$HOME/x\nBRACED=${PLAIN_ONE}y\nPLAIN_ONE=first\nQUOTED=\"a$PLAIN_ONE\"\n"
    (tmp_path / ".env").write_text(text)
    entries = {entry.key: entry for entry in dotenv.parse(text)}
    seen = compose_environment(tmp_path, list(entries))
    for key, entry in entries.items():
        assert (seen[key] != entry.value) == bool(entry.references), key


def test_values_afc_writes_come_back_unchanged_from_compose(tmp_path):
    rng = random.Random(1414)
    alphabet = "aZ09 $#'\"\\={}:-_é\t"
    values = ["pa$word", "$$", "it's $HOME", "back\\", "x #y", " lead", "${X}", "new\nline", "\\'", ""]
    values += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 16))) for _ in range(60)]
    names = [f"V{index}" for index in range(len(values))]
    (tmp_path / ".env").write_text("".join(f"{n}={dotenv.quote(v)}\n" for n, v in zip(names, values)))
    assert compose_environment(tmp_path, names) == dict(zip(names, values))
