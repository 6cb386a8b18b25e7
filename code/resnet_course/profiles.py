"""One switch that sizes every experiment in the course.

A *profile* says how big an experiment should be:

* ``smoke`` -- seconds per notebook on 2 CPU cores; CI uses it to execute every
  line.
* ``cpu``   -- a reader's laptop: each chapter in at most ten minutes, still
  showing the effect it teaches.  The default without a GPU, and on a GPU older
  than the gpu profile's class (Colab's T4, an L4, an A100) or an AMD one: those
  run the same sizes on the GPU.
* ``gpu``   -- the real experiment, sized for one data-centre GPU of the H100/H200
  class (compute capability 9.0 or newer); the default on such a GPU.  Its time on
  a smaller GPU has not been measured, so a chapter could take far longer than ten
  minutes there.

The environment variable ``RESNET_COURSE_PROFILE`` overrides the default.
Chapters never test the profile name themselves; they call :func:`pick` with one
value per profile, so the sizes of an experiment sit next to each other where a
reader can compare them.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import platform
from typing import TypeVar

import torch

PROFILES = ("smoke", "cpu", "gpu")
PROFILE_ENV_VAR = "RESNET_COURSE_PROFILE"
#: The oldest GPU generation the gpu profile is the default on: Hopper (H100,
#: H200).
FULL_SIZE_CAPABILITY = (9, 0)

T = TypeVar("T")


def _profile_from_env() -> str:
    """``$RESNET_COURSE_PROFILE`` as the reader set it ('' when unset)."""
    return os.environ.get(PROFILE_ENV_VAR, "").strip().lower()


def default_profile() -> str:
    """``gpu`` on a GPU of its class (H100/H200 or newer), else ``cpu`` (laptop
    sizes, on any GPU present).  On ROCm the capability is AMD's architecture
    number (an MI250 reports 9.0), not NVIDIA's generation, so AMD GPUs get
    ``cpu`` too: untimed there.
    """
    if not torch.cuda.is_available() or getattr(torch.version, "hip", None):
        return "cpu"
    full = tuple(torch.cuda.get_device_capability(0)) >= FULL_SIZE_CAPABILITY
    return "gpu" if full else "cpu"


def current_profile() -> str:
    """The active profile: ``$RESNET_COURSE_PROFILE`` if set, else
    :func:`default_profile`."""
    name = _profile_from_env()
    if not name:
        return default_profile()
    if name not in PROFILES:
        raise ValueError(
            f"{PROFILE_ENV_VAR}={name!r} is not a profile; choose one of"
            f" {', '.join(PROFILES)} (or unset it: 'gpu' on an H100/H200-class"
            " GPU, 'cpu' otherwise)."
        )
    return name


def pick(smoke: T, cpu: T, gpu: T) -> T:
    """Return the value that belongs to the active profile."""
    return {"smoke": smoke, "cpu": cpu, "gpu": gpu}[current_profile()]


def resolve_device(name: str = "auto") -> torch.device:
    """The device a setting names: ``cpu``, ``cuda``, ``cuda:N``, or ``auto``
    (``cuda`` when available, else ``cpu``); ``ValueError`` for anything else or a
    missing GPU.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in {"cpu", "cuda"}:
        raise ValueError(
            f"device must be cpu, cuda, cuda:N or auto, got {name!r}"
        )
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {name!r} asked for, but CUDA is not available; use"
            " --device cpu"
        )
    return device


def default_device() -> torch.device:
    """``cuda`` when available, else ``cpu`` (the smoke profile always runs on the
    CPU)."""
    return resolve_device("cpu" if current_profile() == "smoke" else "auto")


def device_name(device: torch.device | str | None = None) -> str:
    """A human-readable name for the device: the GPU model, or the CPU and its
    core count."""
    device = torch.device(device) if device is not None else default_device()
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cores, threads = os.cpu_count(), torch.get_num_threads()
    return f"CPU ({cpu_model()}, {cores} cores, {threads} threads)"


def names_a_cpu(name: str) -> bool:
    """Whether a device name as :func:`device_name` writes it (or a stored result
    records it) is a CPU's, or no device at all: such a figure is never a GPU one.
    """
    return name.startswith("CPU") or name in {"cpu", "none", ""}


@functools.lru_cache(maxsize=None)
def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The processor's model and architecture ("AMD EPYC, x86_64"): timings taken
    on two machines of the same core count differ with it.  Just the architecture
    where the model cannot be read (not Linux)."""
    arch = platform.machine() or platform.processor() or "unknown"
    try:
        with open(cpuinfo) as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model") and value.strip():
                    return f"{value.strip()}, {arch}"
    except OSError:
        pass
    return arch


def describe_run() -> str:
    """One line that tells a reader which profile, device and torch produced the
    outputs; a second when a GPU runs the cpu sizes by default, saying how to ask
    for gpu."""
    device, profile = default_device(), current_profile()
    line = (
        f"profile: {profile} | device: {device} = {device_name(device)} | "
        f"torch {torch.__version__} | run on {_dt.date.today().isoformat()}"
    )
    if profile == "cpu" and device.type == "cuda" and not _profile_from_env():
        line += (
            "\nThe cpu profile's sizes, run on this GPU: the gpu profile is"
            " sized for an H100/H200 and has not been timed on this one. For the"
            f" full size, set {PROFILE_ENV_VAR}=gpu (in a notebook: %env"
            f" {PROFILE_ENV_VAR}=gpu) and run again from the top."
        )
    return line


def bars_disabled(progress: bool = True) -> bool:
    """True when a progress bar should stay silent: ``progress=False``, or
    ``TQDM_DISABLE`` set in the environment (``reproduce --no-progress`` sets it,
    so the training loops it calls stay quiet too; an explicit ``disable=False``
    would override tqdm's own reading of the variable)."""
    return not progress or os.environ.get("TQDM_DISABLE", "") not in ("", "0")
