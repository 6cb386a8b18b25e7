"""BENCHMARKS.md holds only figures that come from files in the repository."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tables():
    spec = importlib.util.spec_from_file_location(
        "benchmarks_tables", ROOT / "tools" / "benchmarks_tables.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmarks_md_holds_exactly_the_tables_generated_from_results():
    module = tables()
    text = (ROOT / "BENCHMARKS.md").read_text()
    assert module.generated() in text, (
        "BENCHMARKS.md and results/ disagree: run python tools/benchmarks_tables.py"
        " --write"
    )


def test_a_changed_figure_is_noticed():
    module = tables()
    section = module.generated()
    tampered = section.replace("| 0 | ", "| 0 | 99.99% ", 1)
    assert tampered != section and tampered not in section
    text = module.replace_section((ROOT / "BENCHMARKS.md").read_text(), tampered)
    assert module.generated() not in text
