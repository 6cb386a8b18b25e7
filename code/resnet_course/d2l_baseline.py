"""d2l's own ``train_ch6`` on d2l's ResNet-18, run as d2l runs it, and measured.

d2l gives no hooks, so two of its names are swapped for the length of the run,
here and nowhere else, and put back afterwards:

* ``d2l.Animator`` -- d2l would draw its live plot; a recorder keeps the points it
  is given instead (the chapter draws the curves itself);
* ``d2l.evaluate_accuracy_gpu`` -- wrapped, not replaced, to time each epoch's
  test pass, so that testing can be taken out of the training time as it is for
  ours.

The ``DataLoader`` is wrapped to add up the time spent waiting for batches.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import re
import time
from typing import Any

import torch

from .history import History
from .profiles import device_name, resolve_device


class _TimedIterable:
    """Wraps a DataLoader and adds up the time spent waiting for its batches."""

    def __init__(self, loader):
        self.loader, self.seconds = loader, 0.0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        it = iter(self.loader)
        while True:
            t0 = time.perf_counter()
            try:
                batch = next(it)
            except StopIteration:
                return
            finally:
                self.seconds += time.perf_counter() - t0
            yield batch


def run_d2l_baseline(
    epochs: int = 10,
    batch_size: int = 256,
    lr: float = 0.05,
    resize: int = 96,
    n_train: int | None = None,
    n_test: int | None = None,
    device: torch.device | str | None = None,
    num_workers: int = 0,
    seed: int = 0,
) -> tuple[History, dict[str, Any]]:
    """Run ``d2l.train_ch6`` on ``d2l_resnet18`` exactly as d2l does, and record
    what it does.

    d2l's plot is replaced by a recorder (the chapter draws the curves itself) and
    its per-epoch test accuracy is timed.  Returns a :class:`History` (no test
    loss: d2l does not compute one) and extras: wall time, seconds spent testing
    and loading, d2l's own printout.
    """
    from d2l import torch as d2l

    from .data import fashion_mnist_dataloaders
    from .models import d2l_resnet18

    device = (
        torch.device(device) if device is not None else resolve_device("auto")
    )
    if device.type == "cuda":
        first_device_use(device, resize)
    torch.manual_seed(seed)
    train_iter, test_iter = fashion_mnist_dataloaders(
        batch_size,
        resize,
        n_train=n_train,
        n_test=n_test,
        num_workers=num_workers,
    )
    if len(train_iter) < 5:
        raise ValueError(
            "d2l's train_ch6 needs at least 5 batches per epoch, but"
            f" {len(train_iter.dataset)} images make {len(train_iter)} batches of"
            f" {batch_size}; use more images or a smaller batch"
        )
    timed, net, points = _TimedIterable(train_iter), d2l_resnet18(), []
    timed_eval = _TimedEval(d2l.evaluate_accuracy_gpu)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    out = io.StringIO()
    start = time.perf_counter()
    with _d2l_patched(d2l, timed_eval, points), contextlib.redirect_stdout(out):
        d2l.train_ch6(net, timed, test_iter, epochs, lr, device)
    wall = time.perf_counter() - start
    hist = _history(points, timed_eval.tests, start, lr)
    hist.images_per_epoch, hist.device = len(train_iter.dataset), device_name(
        device
    )
    if device.type == "cuda":
        hist.peak_memory_bytes = torch.cuda.max_memory_allocated(device)
    printed = out.getvalue()
    match = re.search(r"([\d.]+) examples/sec", printed)
    extras = {
        "wall_seconds": wall,
        "test_seconds": sum(t1 - t0 for _, t0, t1 in timed_eval.tests),
        "loading_seconds": timed.seconds,
        "d2l_printout": printed.strip(),
        "d2l_examples_per_sec": float(match[1]) if match else None,
    }
    return hist, extras


class _Recorder:
    """Stands in for ``d2l.Animator``: keeps the points d2l would plot."""

    def __init__(self, points: list, *args: Any, **kwargs: Any):
        self.points = points

    def add(self, x, y) -> None:
        self.points.append((x, y))


class _TimedEval:
    """Wraps ``d2l.evaluate_accuracy_gpu``; keeps ``(accuracy, start, end)`` of
    each call."""

    def __init__(self, evaluate):
        self.evaluate, self.tests = evaluate, []

    def __call__(self, net, data_iter, device=None) -> float:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        acc = self.evaluate(net, data_iter, device)
        self.tests.append((acc, start, time.perf_counter()))
        return acc


def first_device_use(device: torch.device, resize: int) -> None:
    """One forward and backward pass of a throwaway d2l network, its random
    numbers drawn apart from the run's: CUDA's one-time start-up (context, cuDNN
    and cuBLAS handles) then stays out of d2l's first epoch, as it stays out of
    our recipes' time (their warm-up)."""
    from .models import d2l_resnet18

    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        net = d2l_resnet18().to(device)
        size = resize or 28
        net(torch.zeros(2, 1, size, size, device=device)).sum().backward()
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def _d2l_patched(d2l, timed_eval: _TimedEval, points: list):
    """The one place d2l is patched (why: see the module's docstring)."""
    original = d2l.evaluate_accuracy_gpu, d2l.Animator
    d2l.evaluate_accuracy_gpu = timed_eval
    d2l.Animator = functools.partial(_Recorder, points)
    try:
        yield
    finally:
        d2l.evaluate_accuracy_gpu, d2l.Animator = original


def _history(points: list, tests: list, start: float, lr: float) -> History:
    """d2l's epochs as a :class:`History`: training seconds exclude testing; no
    test loss (d2l computes none)."""
    hist = History(precision="fp32", compile="none")
    tested = 0.0
    for epoch, (acc, t0, t1) in enumerate(tests, start=1):
        train_points = [
            y for x, y in points if y[0] is not None and epoch - 1 < x <= epoch
        ]
        hist.record(
            epoch,
            lr,
            t0 - start - tested,
            train_loss=float(train_points[-1][0]),
            train_acc=float(train_points[-1][1]),
            test_loss=math.nan,
            test_acc=float(acc),
        )
        tested += t1 - t0
    return hist
