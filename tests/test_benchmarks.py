"""BENCHMARKS.md holds only figures that come from files in the repository, and the
goals' status follows from those files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

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
    for name, section in module.generated().items():
        assert section in text, (
            f"BENCHMARKS.md's {name} section and results/ disagree: run python"
            " tools/benchmarks_tables.py --write"
        )


def test_a_changed_figure_is_noticed():
    module = tables()
    sections = module.generated()
    tampered = dict(
        sections, tables=sections["tables"].replace("| 0 | ", "| 0 | 9", 1)
    )
    assert tampered["tables"] != sections["tables"]
    text = module.replace_sections((ROOT / "BENCHMARKS.md").read_text(), tampered)
    assert sections["tables"] not in text


def test_every_committed_benchmark_file_is_a_gpu_run_with_provenance():
    module = tables()
    from resnet_course.bench_report import BenchRow
    from resnet_course.results import PROVENANCE_KEYS

    for name, stored in module.stored_bench().items():
        made = stored["meta"].get("provenance", {})
        assert set(PROVENANCE_KEYS) <= set(
            made
        ), f"results/bench/{name}.json: {made}"
        rows = [BenchRow(**r) for r in stored["rows"]]
        assert rows and module.gpu_run(
            stored
        ), f"results/bench/{name}.json: not a GPU run"


def row(recipe, device="NVIDIA H200", **figures):
    base = dict(
        recipe=recipe,
        device=device,
        model="cifar_resnet18 (width 64)",
        pixels=28,
        epochs=4,
        n_train=60000,
        n_test=10000,
        seed=0,
        time_to_target=None,
        final_acc=0.9,
        images_per_second=1000.0,
        train_seconds=10.0,
        wall_seconds=12.0,
        warmup_seconds=5.0,
        peak_memory_gb=2.0,
        precision="bf16",
    )
    return {**base, **figures}


def store(
    folder: Path, name: str, rows: list[dict], profile: str = "gpu"
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "profile": profile,
        "torch": "2.11.0",
        "complete": True,
        "provenance": {
            "command": "python -m resnet_course bench",
            "commit": "0123abc",
            "date": "2026-12-07T10:00:00+00:00",
            "device": rows[0]["device"],
            "torch": "2.11.0",
            "wall_seconds": 100.0,
        },
    }
    (folder / f"{name}.json").write_text(json.dumps({"meta": meta, "rows": rows}))


@pytest.fixture
def bench(tmp_path, monkeypatch):
    module = tables()
    monkeypatch.setattr(module, "BENCH_DIR", tmp_path / "bench")
    return module, tmp_path / "bench"


def test_without_a_gpu_benchmark_every_gpu_goal_is_owed(bench):
    module, folder = bench
    assert [module.speed_status({}), module.accuracy_status({})] == [
        module.OWED
    ] * 2
    # A CPU run (a rehearsal) is stored but never fills a GPU goal.
    store(
        folder,
        "d2l_fast",
        [row("d2l", "CPU (x86_64)"), row("fast", "CPU (x86_64)")],
    )
    assert module.speed_status(module.stored_bench()) == module.OWED
    assert "No benchmark stored" not in "\n".join(module.bench_section())


def test_the_speed_goal_is_met_only_within_5_s_and_12x_d2l(bench):
    module, folder = bench

    def speed(d2l: dict, fast: dict) -> str:
        store(folder, "d2l_fast", [row("d2l", **d2l), row("fast", **fast)])
        return module.speed_status(module.stored_bench())

    status = speed(dict(time_to_target=60.0), dict(time_to_target=4.0))
    assert status.startswith(
        "met: 4.0 s (15.0x faster than d2l's 60.0 s)"
    ), status
    assert speed(dict(time_to_target=40.0), dict(time_to_target=4.0)).startswith(
        "**missed**: 4.0 s (10.0x"
    )
    assert "never reached" in speed(dict(time_to_target=60.0), {})
    # d2l itself short of 91.4 %: its whole training time is a lower bound (fixed in
    # advance, as d2l's reference run ended at 91.4 % exactly).
    status = speed(dict(train_seconds=60.0), dict(time_to_target=4.0))
    assert status.startswith(
        "met: 4.0 s (>= 15.0x: d2l did not reach 91.4 %"
    ), status


def test_the_accuracy_goal_needs_the_mean_of_three_seeds(bench):
    module, folder = bench
    best = [
        row("best", seed=s, final_acc=a)
        for s, a in enumerate([0.956, 0.957, 0.955])
    ]
    store(folder, "best", best)
    assert module.accuracy_status(module.stored_bench()).startswith("met: 95.60")
    store(folder, "best", best[:1])
    status = module.accuracy_status(module.stored_bench())
    assert status.startswith("**missed**") and "not the 3 the goal asks" in status
    store(folder, "best", [dict(r, train_seconds=130.0) for r in best])
    assert module.accuracy_status(module.stored_bench()).startswith("**missed**")


def test_the_t4_bound_follows_the_rule_fixed_in_gpu_md():
    module = tables()
    assert module.t4_bound("cpu", 30) == ""
    assert module.t4_bound("gpu", 40).endswith("yes")  # 15 x 40 s = 10 min
    assert module.t4_bound("gpu", 41).endswith("no: cpu sizes")


def test_unfinished_gpu_runs_are_listed_but_apart(tmp_path, monkeypatch):
    module = tables()
    monkeypatch.setattr(module, "ROOT", tmp_path)
    assert module.partial_table() == []
    (tmp_path / "results" / "lesion").mkdir(parents=True)
    run = dict(seed=0, device="NVIDIA H200", wall_seconds=90.0)
    partial = tmp_path / "results" / "lesion" / ".gpu.partial.json"
    partial.write_text(json.dumps({"runs": [run, dict(run, seed=1)]}))
    assert "| lesion | 2 | 2 | 3.0 min | NVIDIA H200 |" in module.partial_table()


def test_the_memory_goal_names_the_run_of_its_peak(bench):
    module, folder = bench
    store(folder, "d2l_fast", [row("d2l"), row("fast", peak_memory_gb=2.0)])
    status = module.memory_status(module.stored_bench())
    assert status.startswith("met: at most 2.00 GB (fast, fast only)"), status
    store(folder, "best", [row("best", device="NVIDIA H100", peak_memory_gb=9.0)])
    status = module.memory_status(module.stored_bench())
    assert (
        status.startswith("**missed**: at most 9.00 GB (best)")
        and "H100" in status
    )


def test_the_target_is_the_anchor_quoted_in_the_repository():
    """The 91.4 % every recipe is timed against is quoted, with its source, in
    BENCHMARKS.md itself, not only in notes outside the repository."""
    from resnet_course.recipes import TARGET

    text = (ROOT / "BENCHMARKS.md").read_text()
    anchors = text.split("## Anchors measured elsewhere", 1)
    assert (
        len(anchors) == 2
    ), "BENCHMARKS.md lost its 'Anchors measured elsewhere'"
    section = anchors[1].split("\n## ", 1)[0]
    assert f"**test accuracy {TARGET:.3f}**" in section
    assert "../shared/" not in text, "BENCHMARKS.md points outside the repository"
