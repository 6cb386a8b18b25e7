"""Every setting of a training run, in one dataclass, checked before any work.

Each field of :class:`TrainConfig` is also a flag of
``python -m resnet_course train`` (its help text is the field's); :func:`validate`
names the first bad setting before any data are loaded or step taken.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from .data import N_TEST_FULL, N_TRAIN_FULL
from .models import MODELS
from .profiles import resolve_device
from .recipes import TARGET
from .schedule import SCHEDULES

PRECISIONS = ("auto", "fp32", "bf16", "fp16", "fp64")
#: The precisions a run trains and tests in without autocast (no mixed precision).
FULL_PRECISIONS = ("fp32", "fp64")
COMPILE_MODES = (
    "auto",
    "none",
    "default",
    "reduce-overhead",
    "max-autotune",
    "max-autotune-no-cudagraphs",
)
AUTO_ON_OFF = ("auto", "on", "off")
#: Settings that may differ between a run and its resumption (they do not change
#: the result).
RESUMABLE_CHANGES = {
    "resume",
    "progress",
    "live_plot",
    "verbose",
    "checkpoint_dir",
}


def _opt(default: Any, help: str, choices: Sequence[str] | None = None) -> Any:
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass
class TrainConfig:
    """Every setting of a training run; each is also a flag of
    ``python -m resnet_course train``."""

    model: str = _opt("cifar_resnet18", "network", tuple(MODELS))
    width: int = _opt(
        64,
        "channels of the first stage of cifar_resnet18 (64 = ResNet-18; "
        "ignored by d2l_resnet18)",
    )
    resize: int = _opt(
        0,
        "upsample images to this many pixels on the device (0 = native 28; "
        "d2l's recipe uses 96)",
    )
    epochs: int = _opt(8, "passes over the training set")
    batch_size: int = _opt(
        512,
        "images per optimiser step, over all processes (with torchrun, each of N"
        " trains on batch_size / N)",
    )
    lr: float = _opt(
        0.4,
        "peak learning rate (0.4 suits batch 512; scale it with the batch size)",
    )
    momentum: float = _opt(0.9, "SGD momentum (0 = plain SGD)")
    nesterov: bool = _opt(True, "Nesterov momentum")
    weight_decay: float = _opt(
        5e-4, "L2 weight decay on conv/linear weights (not on BN or biases)"
    )
    schedule: str = _opt(
        "onecycle",
        "learning-rate schedule: linear warm-up then linear decay to 0 "
        "(onecycle), warm-up then cosine, or constant",
        SCHEDULES,
    )
    warmup: float = _opt(
        0.2, "fraction of the steps spent warming the learning rate up"
    )
    label_smoothing: float = _opt(0.1, "label smoothing of the cross-entropy")
    augment: bool = _opt(True, "random crop (after padding) and horizontal flip")
    crop_pad: int = _opt(2, "zero padding before the random crop, in pixels")
    random_erasing: float = _opt(
        0.0, "probability of erasing a random rectangle (0 = off)"
    )
    ema: float = _opt(
        0.0,
        "decay per step of an exponential moving average of the weights, "
        "used for testing (0 = off; try 0.999)",
    )
    tta: bool = _opt(
        True,
        "test-time augmentation: average the logits of an image and its mirror",
    )
    precision: str = _opt(
        "auto",
        "arithmetic: auto = bf16 on GPUs that have it, fp16 with a "
        "gradient scaler on older ones (T4), fp32 on the CPU; fp64 (weights and"
        " arithmetic in float64) is for checking that two runs agree exactly",
        PRECISIONS,
    )
    channels_last: str = _opt(
        "auto", "channels_last memory format (auto = on with CUDA)", AUTO_ON_OFF
    )
    compile: str = _opt(
        "auto",
        "torch.compile mode (auto = default with CUDA, none on the CPU; "
        "reduce-overhead adds CUDA graphs)",
        COMPILE_MODES,
    )
    warmup_steps: int = _opt(
        3,
        "training steps run (and undone) before training to compile and "
        "tune kernels; timed separately. Run on CUDA or when compiling",
    )
    seed: int = _opt(0, "random seed (model, shuffling, augmentation)")
    deterministic: bool = _opt(
        False, "deterministic algorithms only (bit-identical reruns on the CPU)"
    )
    sync_batchnorm: bool = _opt(
        False,
        "with several processes (torchrun): batch norm over the global batch, not"
        " each process's share of it",
    )
    n_train: int = _opt(
        0, "train on the first n training images (0 = all 60,000)"
    )
    n_test: int = _opt(0, "test on the first n test images (0 = all 10,000)")
    eval_batch_size: int = _opt(1000, "images per batch when testing")
    device: str = _opt("auto", "cpu, cuda, cuda:N, or auto (cuda when available)")
    checkpoint_dir: str = _opt(
        "checkpoints", "folder for the per-epoch checkpoint ('' = none)"
    )
    resume: bool = _opt(
        False, "continue the run whose checkpoint is in checkpoint_dir"
    )
    check_every: int = _opt(25, "steps between checks for a non-finite loss")
    target_acc: float = _opt(
        TARGET, "test accuracy whose time-to-reach is reported"
    )
    progress: bool = _opt(True, "tqdm progress bar")
    live_plot: bool = _opt(
        False, "redraw loss and accuracy after every epoch (in Jupyter)"
    )
    verbose: bool = _opt(False, "print one line per epoch")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _need(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def validate(
    cfg: TrainConfig,
    n_available: int = N_TRAIN_FULL,
    n_test_available: int = N_TEST_FULL,
) -> None:
    """Raise ``ValueError`` naming the bad setting -- before any data is loaded or
    step taken."""
    _validate_sizes(cfg, n_available, n_test_available)
    _validate_optimiser(cfg)
    _validate_hardware(cfg)


def _validate_sizes(
    cfg: TrainConfig, n_available: int, n_test_available: int
) -> None:
    _need(
        cfg.model in MODELS,
        f"unknown model {cfg.model!r}; choose one of {', '.join(MODELS)}",
    )
    _need(cfg.epochs >= 1, f"epochs must be at least 1, got {cfg.epochs}")
    _need(
        cfg.batch_size >= 1,
        f"batch_size must be at least 1, got {cfg.batch_size}",
    )
    _need(
        cfg.eval_batch_size >= 1,
        f"eval_batch_size must be at least 1, got {cfg.eval_batch_size}",
    )
    _need(cfg.width >= 1, f"width must be at least 1, got {cfg.width}")
    _need(
        0 <= cfg.n_train <= n_available,
        f"n_train must be between 0 (all) and {n_available}, got {cfg.n_train}",
    )
    _need(
        0 <= cfg.n_test <= n_test_available,
        f"n_test must be between 0 (all) and {n_test_available}, got"
        f" {cfg.n_test}",
    )
    n_train = cfg.n_train or n_available
    _need(
        cfg.batch_size <= n_train,
        f"batch_size {cfg.batch_size} is larger than the training set ({n_train}"
        " images); lower --batch-size or raise --n-train",
    )
    _need(
        cfg.resize >= 0,
        f"resize must be >= 0 (0 = native 28 px), got {cfg.resize}",
    )
    _need(
        cfg.check_every >= 1,
        f"check_every must be at least 1, got {cfg.check_every}",
    )


def _validate_optimiser(cfg: TrainConfig) -> None:
    _need(
        cfg.lr > 0 and math.isfinite(cfg.lr),
        f"lr must be a positive number, got {cfg.lr}",
    )
    _need(
        0 <= cfg.momentum < 1, f"momentum must be in [0, 1), got {cfg.momentum}"
    )
    _need(
        not (cfg.nesterov and cfg.momentum == 0),
        "nesterov needs momentum > 0 (or --no-nesterov)",
    )
    _need(
        cfg.weight_decay >= 0,
        f"weight_decay must be >= 0, got {cfg.weight_decay}",
    )
    _need(
        cfg.schedule in SCHEDULES,
        f"schedule must be one of {', '.join(SCHEDULES)}, got {cfg.schedule!r}",
    )
    _need(
        0 <= cfg.warmup < 1,
        f"warmup is a fraction of the steps in [0, 1), got {cfg.warmup}",
    )
    _need(
        0 <= cfg.label_smoothing < 1,
        f"label_smoothing must be in [0, 1), got {cfg.label_smoothing}",
    )
    _need(cfg.crop_pad >= 0, f"crop_pad must be >= 0, got {cfg.crop_pad}")
    _need(
        0 <= cfg.random_erasing <= 1,
        f"random_erasing is a probability, got {cfg.random_erasing}",
    )
    _need(0 <= cfg.ema < 1, f"ema is a decay in [0, 1) (0 = off), got {cfg.ema}")


def _validate_hardware(cfg: TrainConfig) -> None:
    _need(
        cfg.precision in PRECISIONS,
        f"precision must be one of {', '.join(PRECISIONS)}, got"
        f" {cfg.precision!r}",
    )
    _need(
        cfg.compile in COMPILE_MODES,
        f"compile must be one of {', '.join(COMPILE_MODES)}, got {cfg.compile!r}",
    )
    _need(
        cfg.channels_last in AUTO_ON_OFF,
        f"channels_last must be auto, on or off, got {cfg.channels_last!r}",
    )
    _need(
        cfg.warmup_steps >= 0,
        f"warmup_steps must be >= 0, got {cfg.warmup_steps}",
    )
    device = resolve_device(cfg.device)
    _need(
        not (cfg.precision == "fp16" and device.type == "cpu"),
        "fp16 needs a GPU; use --precision bf16 or fp32 on the CPU",
    )
    _need(
        not (cfg.deterministic and device.type == "cuda"),
        "--deterministic runs only on the CPU (CUDA has no deterministic"
        " backward for the networks' average pooling); drop --deterministic"
        " or add --device cpu",
    )


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` -> bf16 on GPUs with native bf16 (compute capability >= 8), fp16
    below, fp32 on CPU."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return (
            "bf16" if torch.cuda.get_device_capability(device)[0] >= 8 else "fp16"
        )
    return "fp32"


def resolve_compile(mode: str, device: torch.device) -> str:
    """``auto`` -> ``default`` with CUDA, ``none`` on the CPU."""
    if mode != "auto":
        return mode
    return "default" if device.type == "cuda" else "none"


def resolve_channels_last(setting: str, device: torch.device) -> bool:
    """``auto`` -> on with CUDA."""
    return setting == "on" or (setting == "auto" and device.type == "cuda")
