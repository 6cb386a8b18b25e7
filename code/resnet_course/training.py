"""A short, readable training loop for the chapters' experiments.

Data arrive as tensors already on the device (see
:func:`resnet_course.data.load_fashion_mnist`), so one epoch is a shuffled walk
over index batches -- no ``DataLoader`` workers, no per-image Python.  The loop
logs the training loss and error every ``log_every`` steps and the test error at
the end of every epoch, shows a tqdm progress bar, and returns everything as a
:class:`History` that the chapters plot.

(The GPU-speed trainer with mixed precision, checkpoints and a command line is a
separate module; this one stays short enough to read in one screen.)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from .augment import random_crop_flip  # also importable from here, its old home
from .profiles import bars_disabled
from .schedule import lr_factor, steps_per_epoch


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss."""


@dataclass
class History:
    """What a training run measured.  ``step`` counts optimiser steps from 1."""

    step: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_err: list[float] = field(default_factory=list)
    #: the step of each test evaluation
    epoch_step: list[int] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_err: list[float] = field(default_factory=list)
    seconds: float = 0.0
    images_per_second: float = 0.0

    @property
    def final_test_err(self) -> float:
        return self.test_err[-1]

    def log_train(self, step: int, loss: float, err: float) -> None:
        self.step.append(step)
        self.train_loss.append(loss)
        self.train_err.append(err)

    def log_test(self, step: int, loss: float, err: float) -> None:
        self.epoch_step.append(step)
        self.test_loss.append(loss)
        self.test_err.append(err)

    def final_train_err(self, last: int = 5) -> float:
        """Mean training error over the last ``last`` logged points (less noisy
        than one)."""
        tail = self.train_err[-last:]
        return sum(tail) / len(tail)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int = 1000,
) -> tuple[float, float]:
    """``(mean cross-entropy, error rate)`` of ``model`` in eval mode."""
    was_training = model.training
    model.eval()
    loss_sum, wrong = 0.0, 0
    for i in range(0, len(labels), batch_size):
        logits = model(images[i : i + batch_size])
        y = labels[i : i + batch_size]
        loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
        wrong += (logits.argmax(1) != y).sum().item()
    model.train(was_training)
    return loss_sum / len(labels), wrong / len(labels)


def train_classifier(
    model: nn.Module,
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    epochs: int,
    batch_size: int = 128,
    lr: float = 0.1,
    momentum: float = 0.9,
    weight_decay: float = 1e-4,
    schedule: str = "cosine",
    augment: bool = False,
    log_every: int = 10,
    seed: int | None = 0,
    desc: str = "training",
    progress: bool = True,
    eval_every: int = 0,
) -> History:
    """Train ``model`` with SGD on tensors already on the model's device.

    ``schedule`` is ``"cosine"`` (decay to zero over the run) or ``"constant"``.
    The test set is evaluated at the end of every epoch and, if
    ``eval_every > 0``, also every ``eval_every`` steps (for test curves of short
    runs). A non-finite loss stops the run with a message that names the step.
    """
    _check_settings(epochs, batch_size, len(train_labels), schedule)
    generator = torch.Generator(device="cpu")
    if seed is not None:
        generator.manual_seed(seed)
    n, device = len(train_labels), train_labels.device
    steps = steps_per_epoch(n, batch_size)
    last, total = steps - 1, epochs * steps
    opt, sched = _sgd(model, lr, momentum, weight_decay, total, schedule)
    hist = History()
    model.train()
    start, step = time.perf_counter(), 0
    bar = tqdm(
        total=total, desc=desc, disable=bars_disabled(progress), leave=False
    )
    # Running sums stay on the device; reading them (.item()) only at log points
    # avoids a GPU synchronisation every step.
    run_loss = torch.zeros((), device=device)
    run_wrong = torch.zeros((), device=device)
    run_n = 0
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator).to(device)
        for b in range(steps):
            idx = order[b * batch_size : (b + 1) * batch_size]
            x, y = train_images[idx], train_labels[idx]
            loss, logits = _step(model, opt, sched, x, y, augment)
            step += 1
            run_loss += loss.detach() * len(y)
            run_wrong += (logits.detach().argmax(1) != y).sum()
            run_n += len(y)
            if step % log_every == 0 or b == last:
                mean_loss = run_loss.item() / run_n
                if not math.isfinite(mean_loss):
                    bar.close()
                    raise NonFiniteLossError(
                        f"the loss became {mean_loss} by step {step} of {total}"
                        f" ({desc}); try a lower learning rate than lr={lr}"
                    )
                hist.log_train(step, mean_loss, run_wrong.item() / run_n)
                run_loss.zero_()
                run_wrong.zero_()
                run_n = 0
            bar.update(1)
            if eval_every > 0 and step % eval_every == 0 and b != last:
                hist.log_test(step, *evaluate(model, test_images, test_labels))
        hist.log_test(step, *evaluate(model, test_images, test_labels))
        bar.set_postfix(
            train_loss=f"{hist.train_loss[-1]:.3f}",
            test_err=f"{hist.test_err[-1]:.3f}",
        )
    bar.close()
    hist.seconds = time.perf_counter() - start
    hist.images_per_second = total * batch_size / hist.seconds
    return hist


def _check_settings(
    epochs: int, batch_size: int, n_train: int, schedule: str
) -> None:
    if epochs <= 0 or batch_size <= 0:
        raise ValueError(
            f"epochs and batch_size must be positive, got {epochs} and"
            f" {batch_size}"
        )
    if batch_size > n_train:
        raise ValueError(
            f"batch_size {batch_size} is larger than the training set "
            f"({n_train} images)"
        )
    if schedule not in {"cosine", "constant"}:
        raise ValueError(
            f"schedule must be 'cosine' or 'constant', got {schedule!r}"
        )


def _sgd(model, lr, momentum, weight_decay, total, schedule):
    """SGD (Nesterov when there is momentum) and its schedule over ``total``
    steps."""
    opt = torch.optim.SGD(
        model.parameters(),
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
        nesterov=momentum > 0,
    )
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, total, schedule, warmup=0.0)
    )
    return opt, sched


def _step(model, opt, sched, x, y, augment: bool):
    """One optimiser step; returns the loss and the logits."""
    if augment:
        x = random_crop_flip(x)
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()
    return loss, logits
