"""Data-parallel training over several processes, as ``torchrun`` launches them.

``torchrun --standalone --nproc_per_node=N -m resnet_course train ...`` starts N
copies of the training command and tells each, through environment variables,
which one it is (:func:`launched_world`). Each copy is one *rank*: one GPU with
NCCL, or one CPU process with gloo. They start from the same weights, and after
every backward pass :class:`~torch.nn.parallel.DistributedDataParallel` averages
their gradients with an all-reduce, so every rank takes the same optimiser step.

What is shared out, and how:

* **the batch** -- ``batch_size`` is the *global* batch, the same for every N;
  each rank trains on ``batch_size / N`` of its images (:func:`check_launch`
  refuses a batch that does not divide);
* **the data** -- all ranks draw the same shuffle of the training set each epoch,
  and each keeps on its device only its share of it, :func:`epoch_shard`: one copy
  per epoch, then every step's batch is a slice of it. Global batch ``b``
  therefore holds the very images it holds in a one-process run;
* **batch norm** -- each rank normalises by the statistics of its own
  ``batch_size / N`` images unless ``sync_batchnorm`` asks for the statistics of
  the whole global batch (:func:`sync_batchnorm`);
* **testing** -- each rank tests its slice of the test set,
  :func:`held_out_shard`, and the sums are added up across ranks
  (:func:`all_sum`).

Only rank 0 writes checkpoints and history and shows a progress bar
(:attr:`World.is_main`).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
import threading
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.distributed as dist
from torch import nn

from .schedule import steps_per_epoch

#: How long a rank waits for the others in one collective before giving up.
TIMEOUT = datetime.timedelta(minutes=10)


class LaunchError(ValueError):
    """The processes were launched in a way this run cannot use; the message says
    how to launch it instead."""


class RunStopped(RuntimeError):
    """Another process of the run stopped (it failed, or was killed), so this one
    stopped too."""


@dataclass(frozen=True)
class World:
    """Which of how many processes this one is (``size == 1``: a run on its
    own)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1  # processes on this machine

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files and reports."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def launched_world() -> World:
    """This process's place in the run, from the variables ``torchrun`` sets."""
    env = os.environ
    return World(
        rank=int(env.get("RANK", 0)),
        size=int(env.get("WORLD_SIZE", 1)),
        local_rank=int(env.get("LOCAL_RANK", 0)),
        local_size=int(env.get("LOCAL_WORLD_SIZE", env.get("WORLD_SIZE", 1))),
    )


def check_launch(world: World, batch_size: int, device_setting: str) -> None:
    """``LaunchError`` for N processes this machine or this batch cannot take
    (before the device is even looked at, so a GPU-less machine hears how many
    GPUs it has).
    """
    if not world.distributed:
        return
    n = world.size
    wants_cuda = device_setting.startswith("cuda") or (
        device_setting == "auto" and torch.cuda.is_available()
    )
    gpus = torch.cuda.device_count()
    if wants_cuda and world.local_size > gpus:
        fix = (
            f"use --nproc_per_node={gpus} or fewer (or --device cpu to train with"
            " gloo on the CPU)"
            if gpus
            else "use --device cpu to train with gloo on the CPU"
        )
        raise LaunchError(
            f"torchrun started {world.local_size} processes on this machine,"
            f" which has {gpus} GPU(s), and each process needs a GPU of its own;"
            f" {fix}"
        )
    if batch_size % n:
        lower, upper = (
            batch_size - batch_size % n,
            batch_size + n - batch_size % n,
        )
        raise LaunchError(
            f"the global batch --batch-size {batch_size} cannot be split evenly"
            f" over {n} processes; choose a multiple of {n}, such as "
            + (f"{lower} or {upper}" if lower else f"{upper}")
        )


def rank_device(world: World, device: torch.device) -> torch.device:
    """The device of this rank: its own GPU (``cuda:LOCAL_RANK``), or the CPU."""
    if device.type == "cuda" and world.distributed:
        return torch.device("cuda", world.local_rank)
    return device


@contextlib.contextmanager
def process_group(world: World, device: torch.device) -> Iterator[None]:
    """Join the run's process group (NCCL on CUDA, gloo on the CPU) for the block;
    SIGTERM -- how ``torchrun`` stops the others when one rank fails -- raises
    :class:`RunStopped`, so this rank can say why it stopped."""
    if not world.distributed:
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(
        backend, timeout=TIMEOUT, device_id=_device_id(device)
    )
    previous = signal.signal(signal.SIGTERM, _stopped_by_signal)
    try:
        yield
    except BaseException:
        # torchrun's SIGTERM must not cut short what this rank says
        _STOPPING.set()
        raise
    else:
        signal.signal(signal.SIGTERM, previous)
    finally:
        with contextlib.suppress(Exception):
            dist.destroy_process_group()


def _device_id(device: torch.device) -> torch.device | None:
    return device if device.type == "cuda" else None


#: Set once this process is on its way out; later SIGTERMs are then ignored.
_STOPPING = threading.Event()


def _stopped_by_signal(signum: int, frame: Any) -> None:
    if _STOPPING.is_set():
        return
    _STOPPING.set()
    raise RunStopped("torchrun stopped this process (another process had failed)")


def first_to_report(world: World) -> bool:
    """Whether this process is the first survivor to report that the run stopped,
    so that exactly one line says so, whichever rank died.  The ranks count
    themselves in ``torchrun``'s store, which outlives them; without it, rank 0
    reports."""
    try:
        store = dist.TCPStore(
            os.environ["MASTER_ADDR"],
            int(os.environ["MASTER_PORT"]),
            is_master=False,
            timeout=datetime.timedelta(seconds=3),
        )
        return store.add("resnet_course/stop_reported", 1) == 1
    except Exception:  # no store to ask: a launch without torchrun's agent
        return world.is_main


def peer_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is a collective failing because another rank went away."""
    if isinstance(exc, RunStopped):
        return True
    backend_error = getattr(dist, "DistBackendError", ())
    text = str(exc)
    return isinstance(exc, backend_error) or (
        isinstance(exc, RuntimeError)
        and any(
            s in text for s in ("Connection closed by peer", "Connection reset")
        )
    )


def all_sum(*values: float | torch.Tensor, device: torch.device) -> list[float]:
    """Each value added up over the ranks (itself in a one-process run)."""
    t = torch.tensor(
        [float(v) for v in values], dtype=torch.float64, device=device
    )
    if dist.is_initialized():
        dist.all_reduce(t)
    return t.tolist()


def first_bad_step(first_bad: torch.Tensor) -> int:
    """The earliest step at which any rank saw a non-finite loss (0: none did)."""
    if not dist.is_initialized():
        return int(first_bad.item())
    never = torch.iinfo(torch.long).max
    t = torch.where(first_bad == 0, torch.full_like(first_bad, never), first_bad)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return 0 if int(t.item()) == never else int(t.item())


def epoch_shard(
    order: torch.Tensor,
    batch_size: int,
    world: World,
) -> torch.Tensor:
    """The indices this rank trains on in an epoch, in step order.

    ``order`` is the epoch's shuffle of the training set, the same on every
    rank. Global batch ``b`` is ``order[b * batch_size : (b + 1) * batch_size]``,
    as in a one-process run, and rank ``r`` takes the ``r``-th of its ``N``
    equal parts; so local batch ``b`` is, with ``n = batch_size // N``,
    ``shard[b * n : (b + 1) * n]``. The ragged end of the epoch is dropped, as
    :func:`~resnet_course.schedule.steps_per_epoch` counts the epoch's steps.
    """
    steps = steps_per_epoch(len(order), batch_size)
    parts = order[: steps * batch_size].view(steps, world.size, -1)
    return parts[:, world.rank].reshape(-1)


def held_out_shard(n: int, world: World) -> slice:
    """This rank's share of ``n`` test images: every N-th, starting at its
    rank."""
    return slice(world.rank, n, world.size)


class _AllReduceSum(torch.autograd.Function):
    """Sum over the ranks, differentiably: the gradient of a sum that every rank
    uses is the sum of every rank's gradient."""

    @staticmethod
    def forward(ctx: Any, t: torch.Tensor) -> torch.Tensor:
        t = t.clone()
        dist.all_reduce(t)
        return t

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class CrossProcessBatchNorm2d(nn.BatchNorm2d):
    """Batch norm whose training statistics are those of the global batch:
    per-channel sums and counts are all-reduced (differentiably) across the ranks,
    the mean first and then the squared deviations from it (two passes:
    ``E[x^2] - E[x]^2`` would lose digits where the mean is large). It works with
    any backend, gloo included; ``nn.SyncBatchNorm`` is used on GPUs instead."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized()):
            return super().forward(x)
        c = x.shape[1]
        count = torch.full((1,), x.numel() // c, dtype=x.dtype, device=x.device)
        stats = _AllReduceSum.apply(torch.cat([x.sum((0, 2, 3)), count]))
        n = stats[c]
        mean = stats[:c] / n
        # two passes, as torch's own BN does
        centred = x - mean[None, :, None, None]
        var = _AllReduceSum.apply((centred * centred).sum((0, 2, 3))) / n
        self._update_running_stats(mean, var, n)
        scale = self.weight * torch.rsqrt(var + self.eps)
        return (
            centred * scale[None, :, None, None] + self.bias[None, :, None, None]
        )

    @torch.no_grad()
    def _update_running_stats(self, mean, var, n) -> None:
        momentum = 0.1 if self.momentum is None else self.momentum
        self.running_mean.lerp_(mean.detach(), momentum)
        self.running_var.lerp_(var.detach() * n / (n - 1), momentum)
        self.num_batches_tracked += 1


def sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` with every ``BatchNorm2d`` normalising over the global batch:
    ``nn.SyncBatchNorm`` on CUDA, :class:`CrossProcessBatchNorm2d` on the CPU
    (torch's own supports GPUs only). The weights and buffers are kept, under the
    same names.
    """
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for name, child in model.named_children():
        if isinstance(child, nn.BatchNorm2d):
            synced = CrossProcessBatchNorm2d(
                child.num_features, child.eps, child.momentum, child.affine
            ).to(device=child.weight.device, dtype=child.weight.dtype)
            synced.load_state_dict(child.state_dict())
            setattr(model, name, synced)
        else:
            sync_batchnorm(child, device)
    return model


def data_parallel(net: nn.Module, device: torch.device) -> nn.Module:
    """``net`` wrapped for gradient all-reduce (``DistributedDataParallel``),
    which also makes every rank start from rank 0's weights."""
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(net, device_ids=ids)


def gather_objects(obj: Any, world: World) -> list[Any]:
    """``obj`` of every rank, in rank order (``[obj]`` in a one-process run)."""
    if not world.distributed:
        return [obj]
    out: list[Any] = [None] * world.size
    dist.all_gather_object(out, obj)
    return out
