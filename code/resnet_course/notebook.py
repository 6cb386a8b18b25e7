"""What every chapter does first: seed, pick a device, and say what produced its
outputs."""

from __future__ import annotations

import random

import numpy as np
import torch

from .profiles import current_profile, default_device, describe_run


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def setup_chapter(seed: int = 0) -> tuple[str, torch.device]:
    """Seed everything, print the run description, return ``(profile, device)``."""
    seed_everything(seed)
    print(describe_run())
    return current_profile(), default_device()
