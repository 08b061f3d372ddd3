"""BENCHMARKS.md: the rows as Markdown tables by section, the machine's load and how each row is measured."""
from __future__ import annotations

import os
import subprocess

from .core import ROOT, SECTIONS, Bench, Row, section_names


def table(rows: list[Row]) -> str:
    head = ["Measured", "afc: median (min–max)", "Baseline: median (min–max)", "Ratio", "Target", "Met"]
    out = []
    section = None
    for row in sorted(rows, key=lambda r: r.section):  # stable: versions keep their order within a section
        if row.section != section:
            section = row.section
            out += ["", f"### {section}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out.append("| " + " | ".join(row.cells()) + " |")
        if row.note:
            out.append(f"| ↳ {row.note} | | | | | |")
    return "\n".join(out)


def write_report(bench: Bench, only: list[str], started: str, elapsed: float) -> str:
    compose_v = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True,
                               text=True).stdout.strip()
    how = [text for s in SECTIONS for text in s.how]
    text = f"""# Benchmarks

Written by `bench/run.py` ({'quick: 1 run per stack measurement' if bench.quick else 'full run'}; sections: \
{', '.join(only)}), {started} UTC, {elapsed / 60:.1f} min. Machine: {os.cpu_count()} CPUs, Docker \
{' and '.join(bench.engines)}, compose {compose_v}, stand-in images `afc-standin/*`.

Every figure is the median over n runs with the spread (min–max); a ratio is afc's median over the
baseline's median, both measured in this run with afc and baseline runs alternating. Re-run with
`make bench` (or `.venv/bin/python bench/run.py [--quick] [--only {','.join(section_names())}]`).

Absolute times swing with the machine's load (written down below, at the start, between versions and at the
end); the ratios, from afc and baseline runs alternating, are the meaningful figures. Load:

""" + "\n".join(f"- {l}" for l in bench.loads) + "\n" + table(bench.rows) + "\n\n## How each row is measured\n\n" \
        + "\n".join(f"- {n}" for n in how + bench.notes) + "\n"
    (ROOT / "BENCHMARKS.md").write_text(text)
    return text
