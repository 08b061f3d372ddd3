"""`airflow_settings.yaml`: connections, pools and variables seeded into the stack, in the shape Astro CLI users
already keep (`airflow: {connections: [...], pools: [...], variables: [...]}`), applied idempotently by
`afc settings apply` and at the end of `afc up`, and written back by `afc settings export`.

Validation is pure and complete before anything is sent: a bad entry is refused naming the entry and the field,
and nothing of that apply is written. The apply itself is one Python process in the scheduler container and one
database transaction (compose/dag_tools.py), so it cannot be half-done either."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ProjectError

if TYPE_CHECKING:
    from .context import Context

FILE = "airflow_settings.yaml"
CONNECTION_FIELDS = ("conn_id", "conn_type", "conn_host", "conn_schema", "conn_login", "conn_password",
                     "conn_port", "conn_extra")
POOL_FIELDS = ("pool_name", "pool_slot", "pool_description")
VARIABLE_FIELDS = ("variable_name", "variable_value")
SECRET_CONNECTION_FIELDS = ("conn_password", "conn_extra")
# Variable names Airflow itself masks in logs and the UI (core.sensitive_var_conn_names defaults).
SENSITIVE = re.compile(r"access_token|api_key|apikey|authorization|passphrase|passwd|password|private_key|secret"
                       r"|token|keyfile_dict|service_account", re.IGNORECASE)


@dataclass
class Seeds:
    """The validated entries. A field left out of an entry (None here) keeps what the stack holds: an export
    without secrets applies back without wiping them."""

    connections: list[dict[str, Any]] = field(default_factory=list)
    pools: list[dict[str, Any]] = field(default_factory=list)
    variables: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.connections or self.pools or self.variables)

    @property
    def has_secrets(self) -> bool:
        return any(c.get("password") or c.get("extra") for c in self.connections) or \
            any(SENSITIVE.search(v["key"]) and v.get("value") for v in self.variables)

    def as_payload(self) -> dict:
        return {"connections": self.connections, "pools": self.pools, "variables": self.variables}


def _name(kind: str, index: int, entry: dict, key: str) -> str:
    given = entry.get(key)
    return f"{kind}[{index}]" + (f" ({key} {given!r})" if given not in (None, "") else "")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse(data: Any, source: str = FILE) -> Seeds:
    """Validate the file's content; every problem names the entry and the field. Entries whose fields are all
    empty (Astro CLI's template) are skipped."""
    problems: list[str] = []
    seeds = Seeds()
    if data is None:
        return seeds
    if not isinstance(data, dict) or set(data) - {"airflow"} or not isinstance(data.get("airflow") or {}, dict):
        raise ProjectError(f"{source} must hold one mapping `airflow:` with connections, pools and variables",
                           hint="see README (Seeded settings) for the shape; `afc settings export` writes an example")
    section = data.get("airflow") or {}
    for key in set(section) - {"connections", "pools", "variables"}:
        problems.append(f"airflow.{key}: unknown section (expected connections, pools, variables)")
    kinds = {"connections": (CONNECTION_FIELDS, _connection), "pools": (POOL_FIELDS, _pool),
             "variables": (VARIABLE_FIELDS, _variable)}
    for kind, (fields, convert) in kinds.items():
        entries = section.get(kind) or []
        if not isinstance(entries, list):
            problems.append(f"airflow.{kind} must be a list of entries (`- {fields[0]}: ...`)")
            continue
        seen: set[str] = set()
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                problems.append(f"{kind}[{index}]: not a mapping of {', '.join(fields)}")
                continue
            if all(value in (None, "") for value in entry.values()):
                continue
            where = _name(kind, index, entry, fields[0])
            unknown = [k for k in entry if k not in fields]
            if unknown:
                problems.append(f"{where}: unknown field {unknown[0]!r} (expected {', '.join(fields)})")
                continue
            try:
                converted = convert(entry)
            except ValueError as error:
                problems.append(f"{where}: {error}")
                continue
            key = converted[{"connections": "conn_id", "pools": "pool", "variables": "key"}[kind]]
            if key in seen:
                problems.append(f"{where}: {fields[0]} {key!r} appears twice")
            seen.add(key)
            getattr(seeds, kind).append(converted)
    if problems:
        raise ProjectError(f"{source} has {len(problems)} bad entr{'y' if len(problems) == 1 else 'ies'}; nothing "
                           f"was applied:\n  " + "\n  ".join(problems),
                           hint=f"fix {source} and run `afc settings apply`")
    return seeds


def _required(entry: dict, key: str) -> str:
    value = entry.get(key)
    if value in (None, ""):
        raise ValueError(f"{key} is missing")
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError(f"{key} must be a string, not {type(value).__name__}")
    return str(value)


def _optional_text(entry: dict, key: str) -> str | None:
    if key not in entry:
        return None
    value = entry[key]
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        raise ValueError(f"{key} must be a string, not a {type(value).__name__}")
    return _text(value)


def _connection(entry: dict) -> dict:
    conn = {"conn_id": _required(entry, "conn_id"), "conn_type": _required(entry, "conn_type")}
    if not re.fullmatch(r"[\w.-]+", conn["conn_id"]):
        raise ValueError(f"conn_id {conn['conn_id']!r} may only hold letters, digits, '_', '.' and '-'")
    for key, target in (("conn_host", "host"), ("conn_schema", "schema"), ("conn_login", "login"),
                        ("conn_password", "password")):
        value = _optional_text(entry, key)
        if value is not None:
            conn[target] = value
    if "conn_port" in entry:
        port = entry["conn_port"]
        if port in (None, ""):
            conn["port"] = None
        else:
            try:
                number = int(str(port))
            except ValueError:
                raise ValueError(f"conn_port {port!r} is not a port number (1-65535)")
            if not 1 <= number <= 65535 or isinstance(port, bool):
                raise ValueError(f"conn_port {port!r} is not a port number (1-65535)")
            conn["port"] = number
    if "conn_extra" in entry:
        extra = entry["conn_extra"]
        if extra in (None, ""):
            conn["extra"] = ""
        elif isinstance(extra, dict):
            conn["extra"] = json.dumps(extra, sort_keys=True)
        elif isinstance(extra, str):
            try:
                parsed = json.loads(extra)
            except ValueError as error:
                raise ValueError(f"conn_extra is not valid JSON ({error.msg}); write it as a YAML mapping or a "
                                 f"JSON object in quotes")
            if not isinstance(parsed, dict):
                raise ValueError("conn_extra must be a JSON object")
            conn["extra"] = json.dumps(parsed, sort_keys=True)
        else:
            raise ValueError(f"conn_extra must be a mapping or a JSON object, not {type(extra).__name__}")
    return conn


def _pool(entry: dict) -> dict:
    pool = {"pool": _required(entry, "pool_name")}
    slots = entry.get("pool_slot")
    if slots in (None, "") or isinstance(slots, bool):
        raise ValueError("pool_slot is missing (a whole number of slots, -1 for unlimited)")
    try:
        number = int(str(slots))
    except ValueError:
        raise ValueError(f"pool_slot {slots!r} is not a whole number")
    if number < -1:
        raise ValueError(f"pool_slot {number} is below -1 (-1 means unlimited)")
    pool["slots"] = number
    description = _optional_text(entry, "pool_description")
    if description is not None:
        pool["description"] = description
    return pool


def _variable(entry: dict) -> dict:
    variable = {"key": _required(entry, "variable_name")}
    if "variable_value" in entry:
        value = entry["variable_value"]
        variable["value"] = "" if value is None else json.dumps(value) if isinstance(value, (dict, list)) \
            else _text(value)
    return variable


def load(root: Path) -> Seeds | None:
    """The project's airflow_settings.yaml, validated; None when the project has none."""
    import yaml

    path = root / FILE
    if not path.exists():
        return None
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ProjectError(f"{path} is not valid YAML{where}: {getattr(error, 'problem', error)}",
                           hint=f"fix {FILE}; nothing was applied")
    except OSError as error:
        raise ProjectError(f"cannot read {path}: {error.strerror}", hint="check the file's permissions")
    return parse(data, FILE)


# --- apply and export -------------------------------------------------------------------------------------------

@dataclass
class ApplyResult:
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    gitignored: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


def apply(ctx: "Context", seeds: Seeds) -> ApplyResult:
    """Send the validated entries to the stack: one process, one transaction; a second apply changes nothing."""
    from .dags import in_stack

    raw = in_stack(ctx, "settings-apply", f"apply {FILE}", json.dumps(seeds.as_payload()))
    if raw.get("error"):
        from ..errors import StackError

        raise StackError(f"Airflow refused {FILE}; nothing was applied: {raw['error']}",
                         hint=f"fix the entry in {FILE} and run `afc settings apply` again")
    return ApplyResult(raw.get("created", []), raw.get("updated", []), raw.get("unchanged", []),
                       ensure_gitignored(ctx.project.root, FILE) if seeds.has_secrets else False)


def read_stack(ctx: "Context") -> dict:
    from .dags import in_stack

    return in_stack(ctx, "settings-export", "read the connections, pools and variables")


def export_document(raw: dict, show_secrets: bool) -> dict:
    """The stack's connections, pools and variables in airflow_settings.yaml's shape; without `show_secrets`
    passwords, extras and sensitive variables are left out (applying the file back keeps them)."""
    connections = []
    for conn in raw.get("connections", []):
        entry: dict[str, Any] = {"conn_id": conn["conn_id"], "conn_type": conn.get("conn_type") or ""}
        for key, source in (("conn_host", "host"), ("conn_schema", "schema"), ("conn_login", "login")):
            if conn.get(source):
                entry[key] = conn[source]
        if conn.get("port"):
            entry["conn_port"] = int(conn["port"])
        if show_secrets:
            if conn.get("password"):
                entry["conn_password"] = conn["password"]
            if conn.get("extra"):
                try:
                    entry["conn_extra"] = json.loads(conn["extra"])
                except ValueError:
                    entry["conn_extra"] = conn["extra"]
        connections.append(entry)
    pools = [{"pool_name": p["pool"], "pool_slot": int(p["slots"]),
              **({"pool_description": p["description"]} if p.get("description") else {})}
             for p in raw.get("pools", [])]
    variables = []
    for var in raw.get("variables", []):
        entry = {"variable_name": var["key"]}
        if show_secrets or not SENSITIVE.search(var["key"]):
            entry["variable_value"] = var.get("value") or ""
        variables.append(entry)
    return {"airflow": {"connections": connections, "pools": pools, "variables": variables}}


def export_text(document: dict, show_secrets: bool) -> str:
    import yaml

    note = ("# Written by `afc settings export --show-secrets`: it holds passwords; keep it out of version control.\n"
            if show_secrets else
            "# Written by `afc settings export`: passwords, connection extras and sensitive variables are left out;\n"
            "# `afc settings apply` keeps what the stack holds for a field left out.\n")
    return note + yaml.safe_dump(document, sort_keys=False, default_flow_style=False, allow_unicode=True)


@dataclass
class ExportResult:
    path: Path | None
    text: str
    connections: int
    pools: int
    variables: int
    show_secrets: bool
    gitignored: bool = False


def export(ctx: "Context", output: Path | None, show_secrets: bool) -> ExportResult:
    from ..project.files import write_atomically

    document = export_document(read_stack(ctx), show_secrets)
    text = export_text(document, show_secrets)
    section = document["airflow"]
    result = ExportResult(output, text, len(section["connections"]), len(section["pools"]),
                          len(section["variables"]), show_secrets)
    if output is not None:
        write_atomically(output, text, mode=0o600)
        root = ctx.project.root.resolve()
        if show_secrets and output.resolve().parent == root:
            result.gitignored = ensure_gitignored(root, output.name)
    return result


def ensure_gitignored(root: Path, entry: str) -> bool:
    """Add `entry` to the project's .gitignore unless a line names it already; True when added."""
    path = root / ".gitignore"
    text = path.read_text() if path.exists() else ""
    if any(line.strip().lstrip("/") == entry for line in text.splitlines()):
        return False
    path.write_text(text + ("" if not text or text.endswith("\n") else "\n") + f"{entry}\n")
    return True
