"""docs/tutorial.md cannot go stale: its `bash` blocks are run in order against a real (stand-in) stack."""
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.helpers import afc, docker

TUTORIAL = Path(__file__).parents[2] / "docs" / "tutorial.md"


def tutorial_script() -> str:
    blocks = re.findall(r"```bash\n(.*?)```", TUTORIAL.read_text(), flags=re.S)
    assert len(blocks) >= 6, "the tutorial's runnable steps"
    return "set -euo pipefail\n" + "\n".join(blocks)


def test_tutorial_runs_as_written(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFC_")}
    env.update(PATH=f"{Path(sys.executable).parent}:{env['PATH']}", NO_COLOR="1",
               # the tutorial uses the default (real) images; this machine has the stand-ins instead
               AFC_IMAGE="afc-standin/airflow:3.3.2-python3.11", AFC_POSTGRES_IMAGE="afc-standin/postgres:16",
               AFC_REDIS_IMAGE="afc-standin/redis:7.2", AFC_PORT="18085")
    docker("compose", "-p", "my-airflow", "down", "--volumes", check=False)  # a leftover of an earlier run
    try:
        done = subprocess.run(["timeout", "900", "bash", "-c", tutorial_script()], cwd=tmp_path, env=env,
                              capture_output=True, text=True)
        print(done.stdout[-3000:], done.stderr[-3000:])
        assert done.returncode == 0, done.stderr[-3000:]
        assert "hello from a Celery worker" in done.stdout
        assert "exit code 3" in done.stdout
        assert re.search(r"hello_broken.*failed", done.stdout)
        assert "stack 'my-airflow' removed" in done.stderr
        # the DAG author's loop: the typo named with file and line, the seeded connection read by `afc test`
        assert "afc dags check found the broken file" in done.stdout
        assert "dags/report.py:3: ImportError" in done.stderr
        assert "0 created, 0 updated, 2 unchanged" in done.stderr
        assert "the warehouse is at db.example.com" in done.stdout
    finally:
        afc("down", "--volumes", "--yes", project=tmp_path / "my-airflow")
