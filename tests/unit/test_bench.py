"""bench/: the sections `--only` accepts, their order in the report, and the report's tables (nothing is run)."""
import re
from pathlib import Path

import pytest

from bench.core import SECTIONS, Bench, Row, Series, section_names
from bench.main import parse_args
from bench.report import table

README = Path(__file__).resolve().parents[2] / "bench" / "README.md"


def test_sections_are_the_ones_the_readme_names_in_its_order():
    listed = re.findall(r"`(\w+)` \(", README.read_text().split("Sections:", 1)[1].split("\n\n", 1)[0])
    assert section_names() == listed == ["startup", "cold", "warm", "restart", "footprint", "logs", "build"]
    assert len([how for s in SECTIONS for how in s.how]) == len(listed), "one description a section in the report"


def test_only_takes_known_sections():
    args = parse_args(["--only", "startup, logs", "--versions", "3.3.2"], "bench")
    assert args.only == ["startup", "logs"] and args.versions == ["3.3.2"]
    with pytest.raises(SystemExit) as refused:
        parse_args(["--only", "startup,colds"], "bench")
    assert refused.value.code == 2


def test_engines_are_checked_and_head_their_rows():
    assert parse_args([], "bench").engines == ["machine"]
    assert parse_args(["--engines", "machine, engine2"], "bench").engines == ["machine", "engine2"]
    with pytest.raises(SystemExit) as refused:
        parse_args(["--engines", "engine3"], "bench")
    assert refused.value.code == 2
    bench = Bench(work=Path("."), quick=True, stack_runs=1, versions=[], selected=set(), deadline=0,
                  engine="Engine 26.1.5")
    bench.add(Row("2. Cold time to healthy", "a", Series([1.0])))
    assert bench.rows[0].section == "2. Cold time to healthy — Engine 26.1.5"


def test_table_groups_rows_under_their_section_in_order():
    rows = [Row("2. Cold time to healthy", "a", Series([4.0, 6.0]), Series([10.0]), "compose", target=0.5),
            Row("1. CLI start-up", "b", Series([3.0]), note="why")]
    lines = table(rows).splitlines()
    assert lines.index("### 1. CLI start-up") < lines.index("### 2. Cold time to healthy")
    assert "| a | 5.00 s (4.00–6.00, n=2) | compose: 10.00 s (1 run) | 0.50× | ≤ 0.5× | met |" in lines
    assert "| ↳ why | | | | | |" in lines
