"""Benchmarks of afc against plain Docker Compose, measured in the same run (see bench/README.md).

    .venv/bin/python bench/run.py [--quick] [--only startup,cold,warm,restart,footprint,logs,build]

Every figure is a median over several runs with its spread (min-max); afc and its baseline run alternately,
so both see the same machine load. Prints a table and writes BENCHMARKS.md at the top of the repository.
Stacks use project names `bench-*` and host ports 18300-18399, and are removed (with their volumes) at the
end, also on Ctrl-C or failure.
"""
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # import the `bench` package, not its modules

from bench.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(description=__doc__.splitlines()[0]))
