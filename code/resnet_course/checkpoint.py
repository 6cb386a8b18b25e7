"""Checkpoints that survive a killed run: written atomically, loaded with
``weights_only=True``.

A checkpoint is a plain dictionary of tensors, numbers, strings, lists and dicts --
nothing that needs arbitrary unpickling -- so :func:`load_checkpoint` can refuse
everything else. It is first written to a temporary file in the same folder and then
renamed over the old one: a run killed while saving leaves the previous checkpoint
intact, never half a file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

LAST = "last.pt"


def save_checkpoint(
    state: dict[str, Any], folder: str | Path, name: str = LAST
) -> Path:
    """Write ``state`` to ``folder/name`` atomically and return the path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(
    folder: str | Path, name: str = LAST, map_location: str | torch.device = "cpu"
) -> dict[str, Any] | None:
    """The checkpoint in ``folder/name``, or ``None`` when there is none (a fresh
    start)."""
    path = Path(folder) / name
    if not path.is_file():
        return None
    return torch.load(path, map_location=map_location, weights_only=True)


def rng_state(generator: torch.Generator) -> dict[str, Any]:
    """Every random state a training run draws from: torch's CPU and CUDA ones and
    ``generator``."""
    state = {"torch": torch.get_rng_state(), "generator": generator.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any], generator: torch.Generator) -> None:
    """Restore what :func:`rng_state` saved."""
    torch.set_rng_state(state["torch"])
    generator.set_state(state["generator"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
