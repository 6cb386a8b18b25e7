"""The GPU trainer: ResNet-18 on Fashion-MNIST, fast, accurate and resumable.

Where the speed comes from (each is one switch in :class:`TrainConfig`, so the chapter
can measure what it is worth):

* the whole dataset lives on the device as one tensor; a batch is an index into it, and
  the augmentation (crop, flip, erasing) is batched tensor code -- no per-image Python,
  no workers;
* mixed precision: bf16 where the GPU has it, fp16 with a gradient scaler where it does
  not (a T4); ``channels_last`` memory format; ``cudnn.benchmark``;
* ``torch.compile`` (optionally with CUDA graphs), whose one-time warm-up is run before
  training starts and reported on its own, never mixed into the training time;
* the GPU is asked for numbers only once per epoch (and every ``check_every`` steps to
  stop on a non-finite loss), so the CPU can queue work ahead of it.

What makes it accurate: a one-cycle learning rate, Nesterov SGD, label smoothing, weight
decay on weights only, and optionally random erasing, an EMA of the weights and flip
test-time augmentation.

A checkpoint is written atomically after every epoch (model, optimiser, scheduler,
scaler, EMA, random states, history), so ``resume=True`` continues a killed run -- and,
on the CPU in deterministic mode, ends with the very same weights as a run that was
never interrupted.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from .augment import augment_batch
from .checkpoint import (
    LAST,
    START_OVER,
    CheckpointError,
    load_checkpoint,
    rng_state,
    run_folder,
    save_checkpoint,
    set_rng_state,
)
from .data import FashionMNIST, load_fashion_mnist
from .models import cifar_resnet18, d2l_resnet18
from .profiles import device_name
from .training import NonFiniteLossError, evaluate

__all__ = [
    "TrainConfig",
    "History",
    "TrainResult",
    "train",
    "build_model",
    "predict",
    "plot_history",
    "NonFiniteLossError",
    "MODELS",
]

#: Mean and standard deviation of Fashion-MNIST's training pixels (in [0, 1]).
MEAN, STD = 0.2860, 0.3530
N_TRAIN_FULL, N_TEST_FULL = 60_000, 10_000

MODELS: dict[str, Callable[..., nn.Module]] = {
    "cifar_resnet18": lambda width: cifar_resnet18(width=width),
    "d2l_resnet18": lambda width: d2l_resnet18(),
}
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
COMPILE_MODES = (
    "auto",
    "none",
    "default",
    "reduce-overhead",
    "max-autotune",
    "max-autotune-no-cudagraphs",
)
SCHEDULES = ("onecycle", "cosine", "constant")
AUTO_ON_OFF = ("auto", "on", "off")
#: Settings that may differ between a run and its resumption (they do not change the
#: result).
RESUMABLE_CHANGES = {"resume", "progress", "live_plot", "verbose", "checkpoint_dir"}
#: For tests only: the process kills itself (SIGKILL) after this optimiser step.
KILL_AT_STEP_ENV_VAR = "RESNET_COURSE_TEST_SIGKILL_AT_STEP"


def _opt(default: Any, help: str, choices: Sequence[str] | None = None) -> Any:
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass
class TrainConfig:
    """Every setting of a training run; each is also a flag of ``python -m resnet_course
    train``."""

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
    batch_size: int = _opt(512, "images per optimiser step")
    lr: float = _opt(
        0.4, "peak learning rate (0.4 suits batch 512; scale it with the batch size)"
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
        True, "test-time augmentation: average the logits of an image and its mirror"
    )
    precision: str = _opt(
        "auto",
        "arithmetic: auto = bf16 on GPUs that have it, fp16 with a "
        "gradient scaler on older ones (T4), fp32 on the CPU",
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
    n_train: int = _opt(0, "train on the first n training images (0 = all 60,000)")
    n_test: int = _opt(0, "test on the first n test images (0 = all 10,000)")
    eval_batch_size: int = _opt(1000, "images per batch when testing")
    device: str = _opt("auto", "cpu, cuda, cuda:N, or auto (cuda when available)")
    checkpoint_dir: str = _opt(
        "checkpoints", "folder for the per-epoch checkpoint ('' = none)"
    )
    resume: bool = _opt(False, "continue the run whose checkpoint is in checkpoint_dir")
    check_every: int = _opt(25, "steps between checks for a non-finite loss")
    target_acc: float = _opt(0.914, "test accuracy whose time-to-reach is reported")
    progress: bool = _opt(True, "tqdm progress bar")
    live_plot: bool = _opt(
        False, "redraw loss and accuracy after every epoch (in Jupyter)"
    )
    verbose: bool = _opt(False, "print one line per epoch")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class History:
    """What a run measured, one entry per epoch; ``train_seconds`` is cumulative.

    Training time counts the steps (data indexing and augmentation included), not
    testing and not the warm-up, which is ``warmup_seconds``.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)
    images_per_epoch: int = 0
    warmup_seconds: float = 0.0
    peak_memory_bytes: int = 0
    device: str = ""
    precision: str = ""
    compile: str = ""

    @property
    def final_test_acc(self) -> float:
        return self.test_acc[-1]

    @property
    def images_per_second(self) -> float:
        return len(self.epoch) * self.images_per_epoch / self.train_seconds[-1]

    def time_to(self, accuracy: float) -> float | None:
        """Training seconds until the end of the first epoch with test accuracy >=
        ``accuracy``."""
        for acc, seconds in zip(self.test_acc, self.train_seconds):
            if acc >= accuracy:
                return seconds
        return None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "History":
        return cls(**d)


@dataclass
class TrainResult:
    """The trained network, ready to classify raw ``(N, 1, 28, 28)`` images in [0,
    1]."""

    net: nn.Module  # normalisation, resize and the (EMA) model, in eval mode
    model: nn.Module  # the trained model itself (its weights, not the EMA's)
    history: History
    config: TrainConfig


class Prepared(nn.Module):
    """Normalise, optionally upsample, and set the memory format, then run ``model``."""

    def __init__(self, model: nn.Module, resize: int = 0, channels_last: bool = False):
        super().__init__()
        self.model, self.resize, self.channels_last = model, resize, channels_last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - MEAN) / STD
        if self.resize:
            x = F.interpolate(
                x, size=(self.resize, self.resize), mode="bilinear", align_corners=False
            )
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.model(x)


class FlipTTA(nn.Module):
    """Average the logits of each image and its horizontal mirror."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.net(x) + self.net(x.flip(3)))


def build_model(name: str, width: int = 64) -> nn.Module:
    """A fresh network by name (see :data:`MODELS`)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name](width)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(
            f"device must be cpu, cuda, cuda:N or auto, got {name!r}"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {name!r} asked for, but CUDA is not available; use --device cpu"
        )
    if device.type not in {"cpu", "cuda"}:
        raise ValueError(f"device must be cpu, cuda, cuda:N or auto, got {name!r}")
    return device


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` -> bf16 on GPUs with native bf16 (compute capability >= 8), fp16 below,
    fp32 on CPU."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.get_device_capability(device)[0] >= 8 else "fp16"
    return "fp32"


def _autocast(
    precision: str, device: torch.device
) -> contextlib.AbstractContextManager:
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def validate(
    cfg: TrainConfig,
    n_available: int = N_TRAIN_FULL,
    n_test_available: int = N_TEST_FULL,
) -> None:
    """Raise ``ValueError`` naming the bad setting -- before any data is loaded or step
    taken."""

    def need(ok: bool, msg: str) -> None:
        if not ok:
            raise ValueError(msg)

    need(
        cfg.model in MODELS,
        f"unknown model {cfg.model!r}; choose one of {', '.join(MODELS)}",
    )
    need(cfg.epochs >= 1, f"epochs must be at least 1, got {cfg.epochs}")
    need(cfg.batch_size >= 1, f"batch_size must be at least 1, got {cfg.batch_size}")
    need(
        cfg.eval_batch_size >= 1,
        f"eval_batch_size must be at least 1, got {cfg.eval_batch_size}",
    )
    need(cfg.width >= 1, f"width must be at least 1, got {cfg.width}")
    need(
        0 <= cfg.n_train <= n_available,
        f"n_train must be between 0 (all) and {n_available}, got {cfg.n_train}",
    )
    need(
        0 <= cfg.n_test <= n_test_available,
        f"n_test must be between 0 (all) and {n_test_available}, got {cfg.n_test}",
    )
    n_train = cfg.n_train or n_available
    need(
        cfg.batch_size <= n_train,
        f"batch_size {cfg.batch_size} is larger than the training set ({n_train}"
        " images); lower --batch-size or raise --n-train",
    )
    need(
        cfg.lr > 0 and math.isfinite(cfg.lr),
        f"lr must be a positive number, got {cfg.lr}",
    )
    need(0 <= cfg.momentum < 1, f"momentum must be in [0, 1), got {cfg.momentum}")
    need(
        not (cfg.nesterov and cfg.momentum == 0),
        "nesterov needs momentum > 0 (or --no-nesterov)",
    )
    need(cfg.weight_decay >= 0, f"weight_decay must be >= 0, got {cfg.weight_decay}")
    need(
        cfg.schedule in SCHEDULES,
        f"schedule must be one of {', '.join(SCHEDULES)}, got {cfg.schedule!r}",
    )
    need(
        0 <= cfg.warmup < 1,
        f"warmup is a fraction of the steps in [0, 1), got {cfg.warmup}",
    )
    need(
        0 <= cfg.label_smoothing < 1,
        f"label_smoothing must be in [0, 1), got {cfg.label_smoothing}",
    )
    need(cfg.crop_pad >= 0, f"crop_pad must be >= 0, got {cfg.crop_pad}")
    need(
        0 <= cfg.random_erasing <= 1,
        f"random_erasing is a probability, got {cfg.random_erasing}",
    )
    need(0 <= cfg.ema < 1, f"ema is a decay in [0, 1) (0 = off), got {cfg.ema}")
    need(
        cfg.precision in PRECISIONS,
        f"precision must be one of {', '.join(PRECISIONS)}, got {cfg.precision!r}",
    )
    need(
        cfg.compile in COMPILE_MODES,
        f"compile must be one of {', '.join(COMPILE_MODES)}, got {cfg.compile!r}",
    )
    need(
        cfg.channels_last in AUTO_ON_OFF,
        f"channels_last must be auto, on or off, got {cfg.channels_last!r}",
    )
    need(cfg.resize >= 0, f"resize must be >= 0 (0 = native 28 px), got {cfg.resize}")
    need(cfg.warmup_steps >= 0, f"warmup_steps must be >= 0, got {cfg.warmup_steps}")
    need(cfg.check_every >= 1, f"check_every must be at least 1, got {cfg.check_every}")
    device = resolve_device(cfg.device)
    need(
        not (cfg.precision == "fp16" and device.type == "cpu"),
        "fp16 needs a GPU; use --precision bf16 or fp32 on the CPU",
    )


def lr_factor(step: int, total: int, schedule: str, warmup: float) -> float:
    """Multiplier of the peak learning rate at optimiser step ``step`` (0-based) of
    ``total``."""
    if schedule == "constant":
        return 1.0
    w = int(warmup * total)
    if step < w:
        return (step + 1) / w
    t = (step - w) / max(1, total - w)
    return (
        max(0.0, 1.0 - t)
        if schedule == "onecycle"
        else 0.5 * (1 + math.cos(math.pi * t))
    )


class EMA:
    """Exponential moving average of a model's weights; buffers (BN statistics) are
    copied.

    The decay ramps up as ``min(decay, (1 + t) / (10 + t))`` after ``t`` updates, so
    that a short run is not dominated by the random initial weights.
    """

    def __init__(self, model: nn.Module, decay: float):
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, model: nn.Module, t: int) -> None:
        decay = min(self.decay, (1 + t) / (10 + t))
        ema_p = list(self.model.parameters())
        torch._foreach_lerp_(
            ema_p, [p.detach() for p in model.parameters()], 1.0 - decay
        )
        for e, b in zip(self.model.buffers(), model.buffers()):
            e.copy_(b)


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _in_jupyter() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def plot_history(
    history: History | dict[str, History], axes=None, title: str | None = None
):
    """Loss and accuracy per epoch (train and test), for one run or a dict of named
    runs."""
    import matplotlib.pyplot as plt

    runs = history if isinstance(history, dict) else {"": history}
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(8, 3.3))
    else:
        fig = axes[0].figure
        for ax in axes:
            ax.clear()
    for i, (name, h) in enumerate(runs.items()):
        colour = f"C{i}"
        label = f"{name} " if name else ""
        axes[0].plot(h.epoch, h.train_loss, "--", color=colour, label=f"{label}train")
        axes[0].plot(h.epoch, h.test_loss, "-", color=colour, label=f"{label}test")
        axes[1].plot(h.epoch, h.train_acc, "--", color=colour, label=f"{label}train")
        axes[1].plot(h.epoch, h.test_acc, "-", color=colour, label=f"{label}test")
    axes[0].set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    axes[1].set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


class LivePlot:
    """A figure in the notebook, redrawn in place after every epoch (Jupyter and
    Colab)."""

    def __init__(self, title: str):
        import matplotlib.pyplot as plt
        from IPython.display import display

        self.fig, self.axes = plt.subplots(1, 2, figsize=(8, 3.3))
        self.title = title
        plt.close(
            self.fig
        )  # shown through the display handle only, not again at cell end
        self.handle = display(self.fig, display_id=True)

    def update(self, history: History) -> None:
        plot_history(history, self.axes, self.title)
        self.handle.update(self.fig)


@torch.no_grad()
def predict(
    net: nn.Module, images: torch.Tensor, batch_size: int = 1000, tta: bool = True
) -> torch.Tensor:
    """Logits of ``net`` (e.g. ``TrainResult.net``) for raw images, in fp32 on the
    CPU."""
    device = next(net.parameters()).device
    model = FlipTTA(net) if tta else net
    model.eval()
    out = [
        model(images[i : i + batch_size].to(device)).float().cpu()
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(out)


def train(
    config: TrainConfig | None = None,
    data: FashionMNIST | None = None,
    callbacks: Sequence[Callable[[int, History], None]] = (),
    **overrides: Any,
) -> TrainResult:
    """Train a network on Fashion-MNIST as ``config`` (or keyword ``overrides``) says.

    ``data`` may hold the dataset already on the device (the chapter loads it once); the
    first ``n_train``/``n_test`` images of it are used.  ``callbacks`` are called as
    ``callback(epoch, history)`` after each epoch's checkpoint is written; one that
    raises stops the run there (which is how the tests kill a run).
    """
    cfg = dataclasses.replace(config or TrainConfig(), **overrides)
    n_avail = len(data.train_labels) if data is not None else N_TRAIN_FULL
    n_test_avail = len(data.test_labels) if data is not None else N_TEST_FULL
    validate(cfg, n_avail, n_test_avail)
    device = resolve_device(cfg.device)
    with contextlib.ExitStack() as stack:
        if cfg.checkpoint_dir:  # checked, locked and cleaned before any work
            stack.enter_context(run_folder(cfg.checkpoint_dir))
        previous = _previous_run(cfg) if cfg.resume else None
        return _load_and_train(cfg, data, callbacks, device, previous)


CHECKPOINT_KEYS = (
    "config",
    "epoch",
    "model",
    "optimizer",
    "scheduler",
    "scaler",
    "ema",
    "rng",
    "history",
)


def _previous_run(cfg: TrainConfig) -> dict[str, Any]:
    """The checkpoint to resume from, after checking it was made with ``cfg``."""
    previous = (
        load_checkpoint(cfg.checkpoint_dir, required=CHECKPOINT_KEYS)
        if cfg.checkpoint_dir
        else None
    )
    if previous is None:
        raise FileNotFoundError(
            f"resume asked for, but there is no checkpoint in {cfg.checkpoint_dir!r}"
        )
    path = f"{cfg.checkpoint_dir}/{LAST}"
    lacking = sorted(set(cfg.to_dict()) - set(previous["config"]))
    if lacking:
        raise CheckpointError(
            f"the checkpoint {path} was made by an older version of resnet_course"
            f" whose settings lack {', '.join(lacking)}; {START_OVER}"
        )
    changed = {
        k
        for k, v in cfg.to_dict().items()
        if k not in RESUMABLE_CHANGES and previous["config"][k] != v
    }
    if changed:
        raise ValueError(
            f"the checkpoint in {cfg.checkpoint_dir!r} was made with other settings: "
            + ", ".join(
                f"{k}={previous['config'][k]!r} (now {getattr(cfg, k)!r})"
                for k in sorted(changed)
            )
            + "; resume with the same settings, or start a new run in another"
            " checkpoint_dir"
        )
    return previous


def _load_and_train(cfg, data, callbacks, device, previous) -> TrainResult:
    precision = resolve_precision(cfg.precision, device)
    compile_mode = (
        cfg.compile
        if cfg.compile != "auto"
        else ("default" if device.type == "cuda" else "none")
    )
    channels_last = cfg.channels_last == "on" or (
        cfg.channels_last == "auto" and device.type == "cuda"
    )
    # --- data, on the device, once
    # -------------------------------------------------------
    if data is None:
        data = load_fashion_mnist(
            device, n_train=cfg.n_train or None, n_test=cfg.n_test or None
        )
    n_train = cfg.n_train or len(data.train_labels)
    n_test = cfg.n_test or len(data.test_labels)
    x_train, y_train = data.train_images[:n_train].to(device), data.train_labels[
        :n_train
    ].to(device)
    x_test, y_test = data.test_images[:n_test].to(device), data.test_labels[:n_test].to(
        device
    )

    deterministic_before = torch.are_deterministic_algorithms_enabled()
    benchmark_before = torch.backends.cudnn.benchmark
    torch.use_deterministic_algorithms(cfg.deterministic)
    torch.backends.cudnn.benchmark = device.type == "cuda" and not cfg.deterministic
    try:
        return _train(
            cfg,
            device,
            precision,
            compile_mode,
            channels_last,
            previous,
            x_train,
            y_train,
            x_test,
            y_test,
            callbacks,
        )
    finally:
        torch.use_deterministic_algorithms(deterministic_before)
        torch.backends.cudnn.benchmark = benchmark_before


def _train(
    cfg: TrainConfig,
    device: torch.device,
    precision: str,
    compile_mode: str,
    channels_last: bool,
    previous: dict[str, Any] | None,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    callbacks: Sequence[Callable[[int, History], None]],
) -> TrainResult:
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)  # shuffling, on the CPU
    model = build_model(cfg.model, cfg.width).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    steps_per_epoch = len(y_train) // cfg.batch_size  # the ragged last batch is dropped
    total_steps = cfg.epochs * steps_per_epoch
    opt = torch.optim.SGD(
        _param_groups(model, cfg.weight_decay),
        lr=cfg.lr,
        momentum=cfg.momentum,
        nesterov=cfg.nesterov,
    )
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, total_steps, cfg.schedule, cfg.warmup)
    )
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    ema = EMA(model, cfg.ema) if cfg.ema > 0 else None
    hist = History(
        images_per_epoch=steps_per_epoch * cfg.batch_size,
        precision=precision,
        compile=compile_mode,
        device=device_name(device),
    )
    start_epoch = 0
    if previous is not None:
        model.load_state_dict(previous["model"])
        opt.load_state_dict(previous["optimizer"])
        sched.load_state_dict(previous["scheduler"])
        scaler.load_state_dict(previous["scaler"])
        if ema is not None:
            ema.model.load_state_dict(previous["ema"])
        set_rng_state(previous["rng"], generator)
        hist = History.from_dict(previous["history"])
        start_epoch = previous["epoch"]

    train_net = Prepared(model, cfg.resize, channels_last)
    eval_net = (
        Prepared(ema.model, cfg.resize, channels_last) if ema is not None else train_net
    )
    if compile_mode != "none":
        fwd = torch.compile(
            train_net, mode=None if compile_mode == "default" else compile_mode
        )
        eval_fwd = (
            fwd
            if ema is None
            else torch.compile(
                eval_net, mode=None if compile_mode == "default" else compile_mode
            )
        )
    else:
        fwd, eval_fwd = train_net, eval_net
    tester = FlipTTA(eval_fwd) if cfg.tta else eval_fwd
    amp = _autocast(precision, device)

    bad_step = torch.zeros(
        (), dtype=torch.long, device=device
    )  # first non-finite step, 0 = none
    step_t = torch.zeros((), dtype=torch.long, device=device)

    def train_step(
        x: torch.Tensor, y: torch.Tensor, step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        nonlocal bad_step
        if cfg.augment or cfg.random_erasing:
            x = augment_batch(x, cfg.augment, cfg.crop_pad, cfg.random_erasing)
        with amp:
            logits = fwd(x)
            loss = F.cross_entropy(
                logits.float(), y, label_smoothing=cfg.label_smoothing
            )
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        if ema is not None:
            ema.update(model, step)
        loss = loss.detach()
        step_t.add_(1)
        bad_step = torch.where(
            (bad_step == 0) & ~torch.isfinite(loss), step_t, bad_step
        )
        return loss, (logits.detach().argmax(1) == y).sum()

    def test() -> tuple[float, float]:
        with amp:
            loss, err = evaluate(tester, x_test, y_test, cfg.eval_batch_size)
        return loss, 1.0 - err

    def check_finite(epoch: int) -> None:
        first_bad = int(bad_step.item())
        if first_bad:
            raise NonFiniteLossError(
                f"the training loss became NaN or infinite at step {first_bad} of"
                f" {total_steps} (epoch {epoch + 1}); training stopped at step"
                f" {int(step_t.item())}. Try a lower"
                f" learning rate than lr={cfg.lr}"
                + (" or bf16/fp32 instead of fp16" if precision == "fp16" else "")
            )

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    # --- warm-up: compile and tune kernels on real batches, then undo every change
    # ---------
    if (
        cfg.warmup_steps
        and start_epoch < cfg.epochs
        and (device.type == "cuda" or compile_mode != "none")
    ):
        snapshot = {
            "model": copy.deepcopy(model.state_dict()),
            "opt": copy.deepcopy(opt.state_dict()),
            "scaler": scaler.state_dict(),
            "rng": rng_state(generator),
            "ema": copy.deepcopy(ema.model.state_dict()) if ema is not None else None,
        }
        _sync(device)
        t0 = time.perf_counter()
        for i in range(cfg.warmup_steps):
            idx = torch.arange(
                i * cfg.batch_size, (i + 1) * cfg.batch_size, device=device
            ) % len(y_train)
            train_step(x_train[idx], y_train[idx], i)
        test()
        _sync(device)
        hist.warmup_seconds += time.perf_counter() - t0
        model.load_state_dict(snapshot["model"])
        opt.load_state_dict(snapshot["opt"])
        scaler.load_state_dict(snapshot["scaler"])
        set_rng_state(snapshot["rng"], generator)
        if ema is not None:
            ema.model.load_state_dict(snapshot["ema"])
        bad_step.zero_()
    step_t.fill_(start_epoch * steps_per_epoch)

    live = (
        LivePlot(f"{cfg.model}, {precision}")
        if cfg.live_plot and _in_jupyter()
        else None
    )
    bar = tqdm(
        total=total_steps,
        initial=start_epoch * steps_per_epoch,
        desc=f"{cfg.model}",
        disable=not cfg.progress,
        leave=False,
    )
    seconds = hist.train_seconds[-1] if hist.train_seconds else 0.0
    kill_at = int(os.environ.get(KILL_AT_STEP_ENV_VAR, "0") or 0)
    try:
        for epoch in range(start_epoch, cfg.epochs):
            model.train()
            _sync(device)
            t0 = time.perf_counter()
            order = torch.randperm(len(y_train), generator=generator).to(device)
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), dtype=torch.long, device=device)
            for b in range(steps_per_epoch):
                idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
                loss, right = train_step(
                    x_train[idx], y_train[idx], epoch * steps_per_epoch + b
                )
                sched.step()
                loss_sum += loss
                correct += right
                if (b + 1) % cfg.check_every == 0:
                    check_finite(epoch)
                if epoch * steps_per_epoch + b + 1 == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)  # the tests' hard kill
                bar.update(1)
            check_finite(epoch)
            train_loss = loss_sum.item() / steps_per_epoch
            train_acc = correct.item() / hist.images_per_epoch
            _sync(device)
            seconds += time.perf_counter() - t0
            test_loss, test_acc = test()
            hist.epoch.append(epoch + 1)
            hist.train_loss.append(train_loss)
            hist.train_acc.append(train_acc)
            hist.test_loss.append(test_loss)
            hist.test_acc.append(test_acc)
            hist.lr.append(opt.param_groups[0]["lr"])
            hist.train_seconds.append(seconds)
            if device.type == "cuda":
                hist.peak_memory_bytes = max(
                    hist.peak_memory_bytes, torch.cuda.max_memory_allocated(device)
                )
            bar.set_postfix(loss=f"{train_loss:.3f}", test_acc=f"{test_acc:.4f}")
            if cfg.verbose:
                tqdm.write(
                    f"epoch {epoch + 1:3d}/{cfg.epochs}  train loss {train_loss:.4f} "
                    f" train acc {train_acc:.4f}  test acc {test_acc:.4f} "
                    f" {seconds:7.1f} s"
                )
            if live is not None:
                live.update(hist)
            if cfg.checkpoint_dir:
                save_checkpoint(
                    {
                        "format": 1,
                        "config": cfg.to_dict(),
                        "epoch": epoch + 1,
                        "model": model.state_dict(),
                        "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict(),
                        "scaler": scaler.state_dict(),
                        "ema": ema.model.state_dict() if ema is not None else None,
                        "rng": rng_state(generator),
                        "history": hist.to_dict(),
                    },
                    cfg.checkpoint_dir,
                )
            for callback in callbacks:
                callback(epoch + 1, hist)
    finally:
        bar.close()
    eval_net.eval()
    return TrainResult(net=eval_net, model=model, history=hist, config=cfg)
