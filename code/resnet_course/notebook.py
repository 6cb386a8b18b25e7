"""What every chapter does first (seed, device, figure style, what produced its
outputs), and ``glue``, which puts a computed number into the chapter's text."""

from __future__ import annotations

import random

import numpy as np
import torch

from .profiles import current_profile, default_device, describe_run

#: MyST-NB's prefix for glued outputs that are stored but not shown in the cell.
GLUE_PREFIX = "application/papermill.record/"


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def setup_chapter(seed: int = 0) -> tuple[str, torch.device]:
    """Seed everything, set the book's figure style, print the run description,
    and return ``(profile, device)``."""
    from .plotting import use_book_style

    seed_everything(seed)
    use_book_style()
    print(describe_run())
    return current_profile(), default_device()


class _Text(str):
    """A string that displays without quotes, so ``{glue:}`name``` shows it as
    text."""

    def __repr__(self) -> str:
        return str(self)


def glue(name: str, text: str) -> None:
    """Store ``text`` under ``name`` for the book's ``{glue:}`name``` roles.

    The same output MyST-NB's own ``glue`` writes (``display=False``), made here
    so that a chapter also runs where MyST-NB is not installed (Colab).  The text
    is stored, not shown: the markdown cell that quotes it is what the reader
    sees.
    """
    from IPython.core.formatters import format_display_data
    from IPython.display import display

    bundle, metadata = format_display_data(_Text(text))
    metadata["scrapbook"] = {"name": name, "mime_prefix": GLUE_PREFIX}
    display(
        {GLUE_PREFIX + k: v for k, v in bundle.items()},
        raw=True,
        metadata=metadata,
    )


def glue_rows(
    prefix: str, rows: list[dict], by: tuple[str, ...], metrics
) -> list[str]:
    """Glue ``mean ± sd`` of each metric of each summary row as
    ``<prefix>_<by values>_<metric>`` (spaces and commas dropped) and return the
    keys; e.g. ``cnn_plain_56_train_err`` = "28.7 ± 3.2 %"."""
    from .experiments.common import pm

    keys = []
    for row in rows:
        label = "_".join(str(row[k]) for k in by)
        label = label.replace(", ", "_").replace("-", "").replace(" ", "_")
        for m in metrics:
            key = f"{prefix}_{label}_{m}"
            glue(key, pm(row[f"{m}_mean"], row[f"{m}_sd"]))
            keys.append(key)
    return keys
