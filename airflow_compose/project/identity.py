"""A project's identity: the compose project name it runs under, chosen once at `afc init` and kept in `.env`,
and the one check every stack command makes before touching containers or volumes: that the stack found
under that name was started from this folder.

Compose names a stack after a folder only loosely (`MyProj` and `myproj` both become `myproj`), and it
records the folder each container was created from (label `com.docker.compose.project.working_dir`). The
decisions here are pure; the engine's answer comes in as an `engine.StackClaim`.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..errors import EnvironmentProblem, ProjectError

if TYPE_CHECKING:
    from ..engine import StackClaim

HASH_LENGTH = 6
NAME_LENGTH = 30          # of unique names: leaves room for `-swarm` and the secret names of `afc swarm`
NO_ASCII_PREFIX = "airflow"
_VALID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def slug(folder_name: str) -> str:
    """The folder name's ASCII letters, digits, '-' and '_', lower-cased; other runs become one '-'."""
    return re.sub(r"[^a-z0-9_-]+", "-", folder_name.lower()).strip("-_")


def path_hash(root: Path) -> str:
    """A short, stable hash of the project's absolute path."""
    return hashlib.sha256(str(root).encode()).hexdigest()[:HASH_LENGTH]


def unique_name(root: Path) -> str:
    """`<slug>-<hash of the path>`: unique per folder; `airflow-<hash>` when the name has no ASCII letter or digit."""
    base = slug(root.name)[:NAME_LENGTH - HASH_LENGTH - 1].strip("-_") or NO_ASCII_PREFIX
    return f"{base}-{path_hash(root)}"


def preferred_name(root: Path) -> str:
    """The folder's own name when it already is a valid compose project name; otherwise the unique form, so
    folders whose names normalise alike (`MyProj`, `myproj`, `データ`, `___`) never share a name."""
    name = root.name
    if _VALID.match(name):
        return name
    return unique_name(root)


def same_folder(recorded: str, root: Path) -> bool:
    return os.path.realpath(recorded) == os.path.realpath(root)


def other_folders(claim: "StackClaim", root: Path) -> list[str]:
    """The working folders of the stack's containers that are not this project's."""
    return [folder for folder in claim.working_dirs if not same_folder(folder, root)]


def is_free_for(claim: "StackClaim", root: Path) -> bool:
    """A name a new project in `root` may take: no other folder's containers, and no volumes unless this
    folder's containers hold them (volumes do not record their folder: an unknown database is not ours)."""
    if other_folders(claim, root):
        return False
    return not claim.volumes or bool(claim.working_dirs)


def choose_name(root: Path, claim_of: Callable[[str], "StackClaim"]) -> str:
    """The name `afc init` records for a new project: the preferred one unless the engine holds it for
    something else, then the unique one; refuses when even that is taken by another folder's stack."""
    preferred = preferred_name(root)
    claim = claim_of(preferred)
    if is_free_for(claim, root):
        return preferred
    fallback = unique_name(root)
    if fallback != preferred:
        claim = claim_of(fallback)
        if is_free_for(claim, root):
            return fallback
    raise taken_error(fallback, claim, root, at_init=True)


def taken_error(name: str, claim: "StackClaim", root: Path, at_init: bool = False) -> ProjectError:
    """The refusal: which folder's stack holds the name, and how to give this project its own."""
    others = other_folders(claim, root)
    if others:
        holder = f"the stack of another folder: {', '.join(others)}"
        elsewhere = f"; or run afc in {others[0]} if that is the project you meant"
    else:
        holder = f"volumes of a stack that is not running here ({', '.join(claim.volumes)})"
        elsewhere = ""
    own = unique_name(root)
    if own == name:
        own = f"{own}-2"
    if at_init:
        return ProjectError(f"the compose project name '{name}' is already used by {holder}",
                            hint=f"give this project its own name: `AFC_PROJECT_NAME={own} afc init …`{elsewhere}")
    env = root / ".env"
    return ProjectError(
        f"the compose project name '{name}' belongs to {holder}; this folder ({root}) would take over its "
        f"containers and its database",
        hint=f"give this project its own name: set AFC_PROJECT_NAME={own} in {env}, then run the command again"
             f"{elsewhere}")


def check_owner(root: Path, name: str, claim: "StackClaim") -> None:
    """Refuse (exit 3) when containers of the stack `name` were created from another folder."""
    if other_folders(claim, root):
        raise taken_error(name, claim, root)


def ensure_owner(root: Path, name: str) -> None:
    """The check every stack command makes once, before it acts: the engine's containers under `name`
    belong to this folder. An engine that does not answer holds no stack to take over: the command itself
    then reports the engine's problem."""
    from .. import engine

    try:
        claim = engine.stack_claim(name, with_volumes=False)
    except EnvironmentProblem:
        return
    check_owner(root, name, claim)


def name_for_init(root: Path, values: dict[str, str], existing: dict[str, str],
                  claim_of: Callable[[str], "StackClaim"], legacy: str) -> str:
    """AFC_PROJECT_NAME for `afc init`: a re-rendered project keeps the name its stack runs under (recorded, or
    `legacy`: the one it had before names were recorded); a name given by the user must be free; otherwise
    afc chooses one no other folder's stack holds. Refuses a name another folder's stack holds."""
    name = values.get("AFC_PROJECT_NAME", "")
    if existing:
        name = name or legacy
        check_owner(root, name, claim_of(name))
        return name
    if name:
        claim = claim_of(name)
        if not is_free_for(claim, root):
            raise taken_error(name, claim, root, at_init=True)
        return name
    return choose_name(root, claim_of)
