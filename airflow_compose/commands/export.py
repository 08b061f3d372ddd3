"""`afc export helm`: the Helm values and secrets of the project (rendered by `stack/helm.py`) written into a
folder, atomically; the other files there are left alone."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..project.files import write_atomically
from ..project.inputs import creatable_folder
from ..stack.helm import DEFAULT_RELEASE, HelmExport, secrets_text, values_text

VALUES_FILE = "values.yaml"
SECRETS_FILE = "secrets.yaml"


@dataclass(frozen=True)
class ExportResult:
    directory: Path
    values_path: Path
    secrets_path: Path
    secret_names: tuple[str, ...]
    release: str
    warnings: tuple[str, ...]



def write_export(result: HelmExport, directory: Path, release: str = DEFAULT_RELEASE) -> ExportResult:
    """Write values.yaml and secrets.yaml (0600) atomically into `directory`; other files are left alone."""
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"--output {directory} is a file, not a folder", hint="pass a folder, e.g. --output helm")
    creatable_folder(directory, "--output")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        values_path, secrets_path = directory / VALUES_FILE, directory / SECRETS_FILE
        write_atomically(secrets_path, secrets_text(result), mode=0o600)
        write_atomically(values_path, values_text(result))
    except OSError as error:
        raise UsageError(f"cannot write the Helm files in {directory}: {error.strerror}",
                         hint="choose a folder you can write to with --output")
    return ExportResult(directory, values_path, secrets_path,
                        tuple(s["metadata"]["name"] for s in result.secrets), release, result.warnings)
