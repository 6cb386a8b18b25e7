"""The GPU trainer: ResNet-18 on Fashion-MNIST, fast, accurate and resumable.

Where the speed comes from (each is one switch in :class:`TrainConfig`, so the
chapter can measure what it is worth):

* the whole dataset lives on the device as one tensor; a batch is an index into
  it, and the augmentation (crop, flip, erasing) is batched tensor code -- no
  per-image Python, no workers;
* mixed precision: bf16 where the GPU has it, fp16 with a gradient scaler where it
  does not (a T4); ``channels_last`` memory format; ``cudnn.benchmark``;
* ``torch.compile`` (optionally with CUDA graphs), whose one-time warm-up is run
  before training starts and reported on its own, never mixed into the training
  time;
* the GPU is asked for numbers only once per epoch (and every ``check_every``
  steps to stop on a non-finite loss), so the CPU can queue work ahead of it.

What makes it accurate: a one-cycle learning rate, Nesterov SGD, label smoothing,
weight decay on weights only, and optionally random erasing, an EMA of the weights
and flip test-time augmentation.

A checkpoint is written atomically after every epoch (the whole
:class:`~resnet_course.run_state.RunState`: model, optimiser, scheduler, scaler,
EMA, random states, history), so ``resume=True`` continues a killed run -- and, on
the CPU in deterministic mode, ends with the very same weights as a run that was
never interrupted.

This module is the loop: :func:`train_step` (one optimiser step), :func:`warm_up`,
:func:`fit` (the epochs) and :func:`train`, which checks the settings, claims the
checkpoint folder and loads the data first. The settings are in
:mod:`~resnet_course.train_config`, the run's state in
:mod:`~resnet_course.run_state`, the record and its plot in
:mod:`~resnet_course.history`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import time
from dataclasses import dataclass
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
from .data import N_TEST_FULL, N_TRAIN_FULL, FashionMNIST, load_fashion_mnist
from .distributed import (
    World,
    all_sum,
    check_launch,
    epoch_shard,
    first_bad_step,
    gather_objects,
    launched_world,
    process_group,
    rank_device,
    held_out_shard,
)
from .history import History, LivePlot, in_jupyter, plot_history
from .models import MODELS, build_model
from .profiles import bars_disabled, resolve_device
from .run_state import FlipTTA, RunState
from .schedule import steps_per_epoch
from .train_config import RESUMABLE_CHANGES, TrainConfig, validate
from .training import NonFiniteLossError, evaluate

# Importable from here too, where they used to live (the chapters and older code):
from .data import MEAN, STD  # noqa: F401,E402
from .run_state import EMA, Prepared  # noqa: F401,E402
from .schedule import lr_factor  # noqa: F401,E402
from .train_config import resolve_precision  # noqa: F401,E402

__all__ = [
    "TrainConfig",
    "History",
    "TrainResult",
    "train",
    "train_step",
    "warm_up",
    "fit",
    "evaluate",
    "build_model",
    "predict",
    "plot_history",
    "NonFiniteLossError",
    "MODELS",
]

#: For tests only: the process kills itself (SIGKILL) after this optimiser step
#: ...
KILL_AT_STEP_ENV_VAR = "RESNET_COURSE_TEST_SIGKILL_AT_STEP"
#: ... if it is this rank of a data-parallel run (unset: every rank).
KILL_RANK_ENV_VAR = "RESNET_COURSE_TEST_SIGKILL_RANK"
#: What a checkpoint must hold to be resumed from.
CHECKPOINT_KEYS = ("format", "config", *RunState.STATE_KEYS)


@dataclass
class TrainResult:
    """The trained network, ready to classify raw ``(N, 1, 28, 28)`` images in [0,
    1]."""

    net: nn.Module  # normalisation, resize and the (EMA) model, in eval mode
    model: nn.Module  # the trained model itself (its weights, not the EMA's)
    history: History
    config: TrainConfig


def train_step(
    state: RunState, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimiser step on the batch ``(x, y)``: augment, forward and loss in
    mixed precision, backward through the gradient scaler, update, schedule, EMA.

    Returns the loss and the number of correct predictions as tensors on the
    device; reading them would make the CPU wait for the GPU, so the loop adds
    them up and reads them once per epoch. A non-finite loss is only noted
    (``state.first_bad``), on the device, for the same reason.
    """
    if cfg.augment or cfg.random_erasing:
        x = augment_batch(x, cfg.augment, cfg.crop_pad, cfg.random_erasing)
    with state.autocast():
        logits = state.forward(x)
        if logits.dtype != torch.float64:
            logits = logits.float()
        loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
    state.optimizer.zero_grad(set_to_none=True)
    state.scaler.scale(loss).backward()
    state.scaler.step(state.optimizer)
    state.scaler.update()
    state.scheduler.step()
    if state.ema is not None:
        state.ema.update(state.model, state.step)
    state.step += 1
    loss = loss.detach()
    bad = (state.first_bad == 0) & ~torch.isfinite(loss)
    state.first_bad = torch.where(bad, state.step, state.first_bad)
    return loss, (logits.detach().argmax(1) == y).sum()


def check_finite(state: RunState, cfg: TrainConfig) -> None:
    """Stop the run if a loss so far was NaN or infinite, in any process (this
    reads from the GPU)."""
    first_bad = first_bad_step(state.first_bad)
    if first_bad:
        raise NonFiniteLossError(
            f"the training loss became NaN or infinite at step {first_bad} of"
            f" {state.total_steps} (epoch {state.epoch + 1}); training stopped at"
            f" step {state.step}. Try a lower learning rate than lr={cfg.lr}"
            + (
                " or bf16/fp32 instead of fp16"
                if state.precision == "fp16"
                else ""
            )
        )


def score(state: RunState, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig):
    """``(loss, accuracy)`` of the network as tested (EMA, flip TTA) on
    ``(x, y)``: this process's share of the test set, the sums added up over all
    processes."""
    with state.autocast():
        loss, err = evaluate(state.tester, x, y, cfg.eval_batch_size)
    if not state.world.distributed:
        return loss, 1.0 - err
    loss_sum, wrong, n = all_sum(
        loss * len(y), err * len(y), len(y), device=state.device
    )
    return loss_sum / n, 1.0 - wrong / n


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def warm_up(
    state: RunState,
    cfg: TrainConfig,
    x: torch.Tensor,
    y: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
) -> float:
    """Compile and tune kernels on real batches, then undo every change; returns
    the seconds it took (reported on their own, never as training time)."""
    _sync(state.device)
    start = time.perf_counter()
    with state.snapshot():
        local = cfg.batch_size // state.world.size
        for i in range(cfg.warmup_steps):
            idx = (torch.arange(i * local, (i + 1) * local) % len(y)).to(y.device)
            train_step(
                state, x[idx].to(state.device), y[idx].to(state.device), cfg
            )
        score(state, x_test, y_test, cfg)
        _sync(state.device)
        seconds = time.perf_counter() - start
    return seconds


def fit(
    state: RunState,
    cfg: TrainConfig,
    x: torch.Tensor,
    y: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    callbacks: Sequence[Callable[[int, History], None]] = (),
    bar: tqdm | None = None,
    live: LivePlot | None = None,
) -> None:
    """Train from ``state.epoch`` to ``cfg.epochs``: shuffle, step through the
    batches (the ragged last one is dropped), test, record, checkpoint, call the
    callbacks.

    ``(x, y)`` is the whole training set; ``(x_test, y_test)`` is this process's
    share of the test set (all of it in a one-process run).
    """
    hist = state.history
    seconds = hist.train_seconds[-1] if hist.train_seconds else 0.0
    for epoch in range(state.epoch, cfg.epochs):
        state.model.train()
        _sync(state.device)
        start = time.perf_counter()
        order = torch.randperm(len(y), generator=state.generator).to(y.device)
        shard = epoch_shard(order, cfg.batch_size, state.world)
        xs, ys = x[shard].to(state.device), y[shard].to(state.device)
        train_loss, train_acc = _epoch(state, cfg, xs, ys, bar)
        _sync(state.device)
        seconds += time.perf_counter() - start
        test_loss, test_acc = score(state, x_test, y_test, cfg)
        lr = state.optimizer.param_groups[0]["lr"]
        hist.record(
            epoch + 1,
            lr,
            seconds,
            train_loss=train_loss,
            train_acc=train_acc,
            test_loss=test_loss,
            test_acc=test_acc,
        )
        state.epoch = epoch + 1
        if state.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(state.device)
            hist.peak_memory_bytes = max(hist.peak_memory_bytes, peak)
        if state.world.is_main:
            _report(cfg, hist, bar, live)
        if cfg.checkpoint_dir:
            _save(state, cfg)
        for callback in callbacks:
            callback(epoch + 1, hist)


def _epoch(
    state: RunState,
    cfg: TrainConfig,
    xs: torch.Tensor,
    ys: torch.Tensor,
    bar: tqdm | None,
) -> tuple[float, float]:
    """One pass over this process's shard ``(xs, ys)`` of the epoch, in step
    order; returns the epoch's mean training loss and accuracy over all
    processes."""
    world = state.world
    local = cfg.batch_size // world.size
    steps = len(ys) // local
    kill_at = int(os.environ.get(KILL_AT_STEP_ENV_VAR) or 0)
    kill_rank = os.environ.get(KILL_RANK_ENV_VAR, "")
    kill_here = kill_rank in ("", str(world.rank))
    loss_sum = torch.zeros((), device=state.device)
    correct = torch.zeros((), dtype=torch.long, device=state.device)
    for b in range(steps):
        batch = slice(b * local, (b + 1) * local)
        loss, right = train_step(state, xs[batch], ys[batch], cfg)
        loss_sum += loss
        correct += right
        if (b + 1) % cfg.check_every == 0:
            check_finite(state, cfg)
        if state.step == kill_at and kill_here:
            os.kill(os.getpid(), signal.SIGKILL)  # the tests' hard kill
        if bar is not None:
            bar.update(1)
    check_finite(state, cfg)
    loss_total, correct_total = all_sum(loss_sum, correct, device=state.device)
    return (
        loss_total / world.size / steps,
        correct_total / state.history.images_per_epoch,
    )


def _save(state: RunState, cfg: TrainConfig) -> None:
    """The checkpoint of the epoch just finished, written by rank 0 only; it also
    holds the number of processes and each one's random state, so a run of N
    processes can be resumed by N processes."""
    rngs = gather_objects(rng_state(state.generator), state.world)
    if state.world.is_main:
        checkpoint = {
            "format": 2,
            "config": cfg.to_dict(),
            **state.state_dict(),
            "world_size": state.world.size,
            "rng_per_rank": rngs,
        }
        save_checkpoint(checkpoint, cfg.checkpoint_dir)


def _report(cfg: TrainConfig, hist: History, bar, live) -> None:
    """The progress bar's figures, the line per epoch (``verbose``), the live
    plot."""
    train_loss, test_acc = hist.train_loss[-1], hist.test_acc[-1]
    if bar is not None:
        bar.set_postfix(loss=f"{train_loss:.3f}", test_acc=f"{test_acc:.4f}")
    if cfg.verbose:
        tqdm.write(
            f"epoch {hist.epoch[-1]:3d}/{cfg.epochs}  train loss {train_loss:.4f}"
            f"  train acc {hist.train_acc[-1]:.4f}  test acc {test_acc:.4f} "
            f" {hist.train_seconds[-1]:7.1f} s"
        )
    if live is not None:
        live.update(hist)


def train(
    config: TrainConfig | None = None,
    data: FashionMNIST | None = None,
    callbacks: Sequence[Callable[[int, History], None]] = (),
    **overrides: Any,
) -> TrainResult:
    """Train a network on Fashion-MNIST as ``config`` (or keyword ``overrides``)
    says.

    ``data`` may hold the dataset already on the device (the chapter loads it
    once); the first ``n_train``/``n_test`` images of it are used.  ``callbacks``
    are called as ``callback(epoch, history)`` after each epoch's checkpoint is
    written; one that raises stops the run there.  Launched by ``torchrun``, each
    process trains its share of every batch (:mod:`~resnet_course.distributed`).
    """
    cfg = dataclasses.replace(config or TrainConfig(), **overrides)
    world = launched_world()
    n_avail = len(data.train_labels) if data is not None else N_TRAIN_FULL
    n_test_avail = len(data.test_labels) if data is not None else N_TEST_FULL
    check_launch(world, cfg.batch_size, cfg.device)  # first: it counts the GPUs
    validate(cfg, n_avail, n_test_avail)
    device = rank_device(world, resolve_device(cfg.device))
    with contextlib.ExitStack() as stack:
        stack.enter_context(process_group(world, device))
        # checked, locked and cleaned first
        if cfg.checkpoint_dir and world.is_main:
            stack.enter_context(run_folder(cfg.checkpoint_dir))
        previous = _previous_run(cfg, world) if cfg.resume else None
        # several processes: the whole set on the host, shards moved
        if data is None:
            home = torch.device("cpu") if world.distributed else device
            data = load_fashion_mnist(
                home, n_train=cfg.n_train or None, n_test=cfg.n_test or None
            )
        stack.enter_context(_algorithms(cfg, device))
        return _run(cfg, device, data, previous, callbacks, world)


def _run(
    cfg: TrainConfig,
    device: torch.device,
    data: FashionMNIST,
    previous: dict[str, Any] | None,
    callbacks: Sequence[Callable[[int, History], None]],
    world: World = World(),
) -> TrainResult:
    """Build the run's state (or resume it), warm up, then :func:`fit`."""
    n_train = cfg.n_train or len(data.train_labels)
    n_test = cfg.n_test or len(data.test_labels)
    home = data.train_images.device if world.distributed else device
    x, y = data.train_images[:n_train].to(home), data.train_labels[:n_train].to(
        home
    )
    tests = held_out_shard(n_test, world)
    x_test = data.test_images[:n_test][tests].to(device)
    y_test = data.test_labels[:n_test][tests].to(device)
    steps = steps_per_epoch(n_train, cfg.batch_size)
    state = RunState.create(cfg, device, steps_per_epoch=steps, world=world)
    if previous is not None:
        state.load_state_dict(previous)
        if world.distributed:
            set_rng_state(previous["rng_per_rank"][world.rank], state.generator)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    compiled = state.history.compile != "none"
    if (
        cfg.warmup_steps
        and state.epoch < cfg.epochs
        and (device.type == "cuda" or compiled)
    ):
        seconds = warm_up(state, cfg, x, y, x_test, y_test)  # restores history
        state.history.warmup_seconds += seconds
    live = None
    if cfg.live_plot and in_jupyter() and world.is_main:
        live = LivePlot(f"{cfg.model}, {state.precision}")
    bar = tqdm(
        total=state.total_steps,
        initial=state.step,
        desc=cfg.model,
        disable=bars_disabled(cfg.progress) or not world.is_main,
        leave=False,
    )
    with contextlib.closing(bar):
        fit(state, cfg, x, y, x_test, y_test, callbacks, bar, live)
    state.eval_net.eval()
    return TrainResult(state.eval_net, state.model, state.history, cfg)


@contextlib.contextmanager
def _algorithms(cfg: TrainConfig, device: torch.device):
    """Deterministic algorithms and cudnn.benchmark as ``cfg`` says, for one
    run."""
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    benchmark_before = torch.backends.cudnn.benchmark
    torch.use_deterministic_algorithms(cfg.deterministic)
    torch.backends.cudnn.benchmark = (
        device.type == "cuda" and not cfg.deterministic
    )
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic_before)
        torch.backends.cudnn.benchmark = benchmark_before


def _previous_run(cfg: TrainConfig, world: World = World()) -> dict[str, Any]:
    """The checkpoint to resume from, after checking it was made with ``cfg`` and
    by as many processes as this run has."""
    previous = (
        load_checkpoint(cfg.checkpoint_dir, required=CHECKPOINT_KEYS)
        if cfg.checkpoint_dir
        else None
    )
    if previous is None:
        raise FileNotFoundError(
            "resume asked for, but there is no checkpoint in"
            f" {cfg.checkpoint_dir!r}"
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
            f"the checkpoint in {cfg.checkpoint_dir!r} was made with other"
            " settings: "
            + ", ".join(
                f"{k}={previous['config'][k]!r} (now {getattr(cfg, k)!r})"
                for k in sorted(changed)
            )
            + "; resume with the same settings, or start a new run in another"
            " checkpoint_dir"
        )
    _check_world_size(
        previous.get("world_size", 1), world.size, cfg.checkpoint_dir
    )
    return previous


def _processes(n: int) -> str:
    return f"{n} process" + ("es" if n != 1 else "")


def _check_world_size(saved: int, now: int, folder: str) -> None:
    """A run of N processes resumes with N: each one's random state is in the
    checkpoint."""
    if saved == now:
        return
    how = (
        f"torchrun --nproc_per_node={saved} -m resnet_course train ..."
        if saved > 1
        else "python -m resnet_course train ... (one process, no torchrun)"
    )
    raise ValueError(
        f"the checkpoint in {folder!r} was made by a run of {_processes(saved)},"
        f" and this run has {now}; resume it with the same number, {how}"
        " --resume, or start a new run in another --checkpoint-dir"
    )


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
