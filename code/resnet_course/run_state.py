"""Everything a training run changes as it trains, in one object.

:class:`RunState` holds the model, the optimiser, the learning-rate scheduler, the
gradient scaler, the EMA of the weights, the random state, the history and the
step count. Its :meth:`~RunState.state_dict` is what a checkpoint stores and
:meth:`~RunState.load_state_dict` is how a run resumes; :meth:`~RunState.snapshot`
uses both to undo the warm-up steps. It also holds the networks built around the
model (the normalising :class:`Prepared` wrapper, compiled when asked, and the
tester with flip TTA), so a training step needs nothing else.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from typing import Any, Iterator

import torch
from torch import nn
from torch.nn import functional as F

from .checkpoint import rng_state, set_rng_state
from .data import MEAN, STD
from .distributed import World, data_parallel, sync_batchnorm
from .history import History
from .models import build_model
from .profiles import device_name
from .schedule import lr_factor
from .train_config import (
    FULL_PRECISIONS,
    TrainConfig,
    resolve_channels_last,
    resolve_compile,
    resolve_precision,
)


class Prepared(nn.Module):
    """Normalise, optionally upsample, and set the memory format, then run
    ``model`` (the images are cast to the model's dtype: float32, or float64 in an
    fp64 run).
    """

    def __init__(
        self, model: nn.Module, resize: int = 0, channels_last: bool = False
    ):
        super().__init__()
        self.model, self.resize, self.channels_last = model, resize, channels_last
        self.dtype = next(model.parameters()).dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.to(self.dtype) - MEAN) / STD
        if self.resize:
            x = F.interpolate(
                x,
                size=(self.resize, self.resize),
                mode="bilinear",
                align_corners=False,
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
        # Cloned: under CUDA graphs (compile "reduce-overhead", "max-autotune")
        # the second call would overwrite the first call's output in place.
        plain = self.net(x).clone()
        return 0.5 * (plain + self.net(x.flip(3)))


class EMA:
    """Exponential moving average of a model's weights; buffers (BN statistics)
    are copied.

    The decay ramps up as ``min(decay, (1 + t) / (10 + t))`` after ``t`` updates,
    so that a short run is not dominated by the random initial weights.
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


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on conv and linear weights only, not on BN parameters or
    biases."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def _compiled(net: nn.Module, mode: str) -> nn.Module:
    if mode == "none":
        return net
    return torch.compile(net, mode=None if mode == "default" else mode)


def _networks(
    model: nn.Module,
    ema: EMA | None,
    cfg: TrainConfig,
    channels_last: bool,
    compile_mode: str,
    world: World,
) -> tuple[nn.Module, nn.Module, nn.Module]:
    """The network as trained (normalised, all-reducing its gradients when there
    are several processes, maybe compiled), the network as tested, and its forward
    pass (maybe compiled; never through DistributedDataParallel)."""
    train_net = Prepared(model, cfg.resize, channels_last)
    if world.distributed:
        forward = _compiled(
            data_parallel(train_net, model_device(model)), compile_mode
        )
        eval_source = (
            train_net
            if ema is None
            else Prepared(ema.model, cfg.resize, channels_last)
        )
        return forward, eval_source, _compiled(eval_source, compile_mode)
    forward = _compiled(train_net, compile_mode)
    if ema is None:
        return forward, train_net, forward
    eval_net = Prepared(ema.model, cfg.resize, channels_last)
    return forward, eval_net, _compiled(eval_net, compile_mode)


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@dataclass(eq=False)
class RunState:
    """A run's state (saved, restored, snapshotted) and the networks that use
    it."""

    #: The keys of :meth:`state_dict`.
    STATE_KEYS = (
        "epoch",
        "step",
        "model",
        "optimizer",
        "scheduler",
        "scaler",
        "ema",
    )
    STATE_KEYS += ("rng", "history")

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    ema: EMA | None
    generator: torch.Generator  # shuffling, on the CPU
    history: History
    device: torch.device
    precision: str
    forward: nn.Module  # the model as trained: normalised, maybe compiled
    eval_net: nn.Module  # the (EMA) model as tested, not compiled
    tester: nn.Module  # eval_net, maybe compiled, maybe with flip TTA
    total_steps: int
    world: World = World()  # which of how many data-parallel processes this is
    epoch: int = 0  # epochs finished
    step: int = 0  # optimiser steps taken
    #: first step with a non-finite loss, 0: none
    first_bad: torch.Tensor | None = None

    @classmethod
    def create(
        cls,
        cfg: TrainConfig,
        device: torch.device,
        steps_per_epoch: int,
        world: World = World(),
    ):
        """A fresh run as ``cfg`` says, seeded with ``cfg.seed`` (in every process
        of a data-parallel run, whose augmentations then draw from a seed per
        rank).
        """
        torch.manual_seed(cfg.seed)
        precision = resolve_precision(cfg.precision, device)
        compile_mode = resolve_compile(cfg.compile, device)
        channels_last = resolve_channels_last(cfg.channels_last, device)
        model = build_model(cfg.model, cfg.width).to(device)
        if precision == "fp64":
            model = model.double()
        if cfg.sync_batchnorm and world.distributed:
            model = sync_batchnorm(model, device)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        optimizer = torch.optim.SGD(
            param_groups(model, cfg.weight_decay),
            lr=cfg.lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov,
        )
        total = cfg.epochs * steps_per_epoch
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: lr_factor(s, total, cfg.schedule, cfg.warmup)
        )
        ema = EMA(model, cfg.ema) if cfg.ema > 0 else None
        forward, eval_net, eval_forward = _networks(
            model, ema, cfg, channels_last, compile_mode, world
        )
        if world.distributed:
            torch.manual_seed(cfg.seed * 1000 + world.rank)
        history = History(
            images_per_epoch=steps_per_epoch * cfg.batch_size,
            precision=precision,
            compile=compile_mode,
            device=device_name(device),
            processes=world.size,
        )
        return cls(
            model=model,
            optimizer=optimizer,
            scheduler=scheduler,
            scaler=torch.amp.GradScaler(device.type, enabled=precision == "fp16"),
            ema=ema,
            generator=torch.Generator().manual_seed(cfg.seed),
            history=history,
            device=device,
            precision=precision,
            forward=forward,
            eval_net=eval_net,
            tester=FlipTTA(eval_forward) if cfg.tta else eval_forward,
            total_steps=total,
            world=world,
            first_bad=torch.zeros((), dtype=torch.long, device=device),
        )

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision as the run asks for it (nothing in fp32 or fp64)."""
        if self.precision in FULL_PRECISIONS:
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def state_dict(self) -> dict[str, Any]:
        """Everything that changes as the run trains (what a checkpoint holds)."""
        return {
            "epoch": self.epoch,
            "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "ema": self.ema.model.state_dict() if self.ema is not None else None,
            "rng": rng_state(self.generator),
            "history": self.history.to_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state`` (a :meth:`state_dict` or a checkpoint)."""
        self.epoch, self.step = state["epoch"], state["step"]
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None:
            self.ema.model.load_state_dict(state["ema"])
        set_rng_state(state["rng"], self.generator)
        self.history = History.from_dict(state["history"])
        self.first_bad.zero_()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[RunState]:
        """Whatever the block does to the run is undone when it ends."""
        saved = copy.deepcopy(self.state_dict())
        try:
            yield self
        finally:
            self.load_state_dict(saved)
