"""The chapters' descriptions of an experiment's setup match the settings it ran with.

A paragraph such as "30,000 training images, 8 epochs, batch 128" describes the stored
result the chapter plots (the largest size in ``results/``) or the size a reader's "run
it yourself" cell runs.  When a result file is replaced (a GPU run brings
``results/NAME/gpu.json``, which the chapters then plot) or a size changes, the test
names the paragraph and the phrase to rewrite, instead of leaving the text to contradict
the figure under it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import nbformat
import pytest

from book_files import BOOK
from resnet_course.experiments import experiments
from resnet_course.results import load_result

WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
STORED = "stored"


def n(x: int) -> str:
    return f"{x:,}"


def listed(values) -> str:
    """6, 20 and 50"""
    values = [str(v) for v in values]
    return (
        values[0]
        if len(values) == 1
        else f"{', '.join(values[:-1])} and {values[-1]}"
    )


def seeds(result: dict) -> str:
    k = len({r["seed"] for r in result["runs"]})
    return f"{WORDS[k]} seed{'' if k == 1 else 's'}"


def nets(pairs) -> list[str]:
    return [
        ("ResNet" if kind == "residual" else "plain") + f"-{d}"
        for kind, d in pairs
    ]


# (chapter, a phrase that finds the paragraph, experiment, size, what it must say)
SETUPS: list[tuple[str, str, str, str, Callable[[dict, dict], list[str]]]] = [
    (
        "01_degradation",
        "The stored experiment trains MLPs",
        "mlp_degradation",
        STORED,
        lambda s, r: [
            f"MLPs of {listed(s['depths'])} layers",
            f"{s['width']} units wide",
            f"{n(s['n_train'])} training images for {s['epochs']} epochs",
            f"on {n(s['n_train_eval'])} of the training images",
        ],
    ),
    (
        "01_degradation",
        "The stored experiment trains plain-20",
        "cnn_degradation",
        STORED,
        lambda s, r: [
            *[f"{k}-{d}" for d in s["depths"] for k in ("plain", "ResNet")],
            f"{s['pixels']}\\times {s['pixels']}",
            f"({listed(s['widths'])} channels",
            f"{n(s['n_train'])} training images, {s['epochs']} epochs, batch"
            f" {s['batch_size']}",
            f"the same {seeds(r)}",
        ],
    ),
    (
        "01_degradation",
        "At the `cpu` size (",
        "cnn_degradation",
        "cpu",
        lambda s, r: [f"({n(s['n_train'])} images, {s['epochs']} epochs"],
    ),
    (
        "02_residual_learning",
        "experiment trains stacks of",
        "identity",
        STORED,
        lambda s, r: [
            f"stacks of {listed(s['blocks'])} blocks",
            f"for {n(s['steps'])} Adam steps",
            f"batches of {s['batch_size']}, {n(s['n_examples'])} examples",
            f"from {seeds(r)} each",
        ],
    ),
    (
        "02_residual_learning",
        "the `cpu` size trains",
        "identity",
        "cpu",
        lambda s, r: [
            f"trains {listed(s['blocks'])} blocks for {s['steps']} steps"
        ],
    ),
    (
        "02_residual_learning",
        "The stored experiment trains both kinds",
        "preact",
        STORED,
        lambda s, r: [
            *[f"depth {d} ({(d - 2) // 2} blocks)" for d in s["depths"]],
            f"widths {listed(s['widths'])}",
            f"downsampled to ${s['pixels']}\\times {s['pixels']}$",
            f"{n(s['n_train'])} training images, {s['epochs']} epochs",
            f"from the same {seeds(r)}",
        ],
    ),
    (
        "03_backprop",
        "measures the same ratios",
        "gradient_ratios",
        STORED,
        lambda s, r: [
            f"of {listed(s['block_counts'])} blocks",
            f"({s['width']} units wide, {n(s['n_train'])} training images,"
            f" {s['epochs']} epochs",
            f"learning rate from {s['lr']}, {seeds(r)})",
        ],
    ),
    (
        "03_backprop",
        "At the `cpu` size (networks of",
        "gradient_ratios",
        "cpu",
        lambda s, r: [
            f"(networks of {listed(s['block_counts'])} blocks,"
            f" {n(s['n_train'])} images, {s['epochs']} epochs)"
        ],
    ),
    (
        "04_ensembles",
        "The stored experiment therefore",
        "lesion",
        STORED,
        lambda s, r: [
            *nets(s["nets"]),
            f"({s['pixels']}-pixel images",
            f"widths {'-'.join(map(str, s['widths']))}",
            f"{n(s['n_train'])} training images, {s['epochs']} epochs, {seeds(r)})",
            f"on the {n(s['n_test'])} test images",
        ],
    ),
    (
        "04_ensembles",
        "At the `cpu` size (ResNet-20",
        "lesion",
        "cpu",
        lambda s, r: [
            f"({' and '.join(nets(s['nets']))}, {n(s['n_train'])} images,"
            f" {s['epochs']} epochs"
        ],
    ),
    (
        "06_training_resnet18",
        "The stored runs train the",
        "ablation",
        STORED,
        lambda s, r: [
            f"({s['width']} channels) on {n(s['n_train'])} images for {s['epochs']}"
            f" epochs, {len(r['runs'])} runs in all",
            f"the last {n(s['n_val'])} images of the training set",
            f"from **{seeds(r)}**",
        ],
    ),
    (
        "06_training_resnet18",
        "that is the ablation's `gpu` size",
        "ablation",
        "gpu",
        lambda s, r: [f"{s['epochs']} epochs on {n(s['n_train'])} images"],
    ),
    (
        "06_training_resnet18",
        "The same ablation at your machine's size",
        "ablation",
        "cpu",
        lambda s, r: [f"(`cpu`: {n(s['n_train'])} images, {s['epochs']} epochs"],
    ),
    (
        "06_training_resnet18",
        "result trains it from",
        "final",
        STORED,
        lambda s, r: [
            f"from {seeds(r)}, on {n(s['n_train'])} images for {s['epochs']} epochs",
            f"on all {n(s['n_test'])} test images",
        ],
    ),
]


def paragraph(chapter: str, anchor: str) -> str:
    """The markdown cell that holds ``anchor``, its whitespace collapsed."""
    nb = nbformat.read(BOOK / f"{chapter}.ipynb", as_version=4)
    found = [
        re.sub(r"\s+", " ", c.source)
        for c in nb.cells
        if c.cell_type == "markdown" and anchor in re.sub(r"\s+", " ", c.source)
    ]
    assert len(found) == 1, f"{chapter}: {len(found)} paragraphs say {anchor!r}"
    return found[0]


@pytest.mark.parametrize(
    "chapter, anchor, name, size, says",
    SETUPS,
    ids=[f"{c[:2]}-{name}-{size}" for c, _, name, size, _ in SETUPS],
)
def test_the_setup_in_the_text_is_the_one_that_ran(
    chapter, anchor, name, size, says
):
    if size == STORED:
        result = load_result(name)
        settings, where = (
            result["settings"],
            f"results/{name}/{result['size']}.json",
        )
    else:
        result = {"runs": []}
        settings, where = experiments()[name].sizes[size], f"{name}'s {size} size"
    text = paragraph(chapter, anchor)
    missing = [phrase for phrase in says(settings, result) if phrase not in text]
    assert not missing, (
        f"book/{chapter}.ipynb, the paragraph with {anchor!r}, does not say what"
        f" {where} ran: rewrite it to say {missing}"
    )
