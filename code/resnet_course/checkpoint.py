"""Checkpoints that survive a killed run, and the folder a run writes them to.

A checkpoint is a plain dictionary of tensors, numbers, strings, lists and dicts
-- nothing that needs arbitrary unpickling -- so :func:`load_checkpoint` loads it
with ``weights_only=True`` and refuses everything else. The file starts with a
header line and the SHA-256 of the rest, so a flipped byte or a truncated file is
reported instead of being trained on. It is first written to a temporary file in
the same folder and then renamed over the old one: a run killed while saving
leaves the previous checkpoint intact, never half a file.

:func:`run_folder` claims a checkpoint folder for one run: it checks that the
folder can be written before any work, removes temporary files a killed save left
behind, and locks the folder so two runs never interleave their checkpoints.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

import torch

try:  # POSIX; on Windows a folder is not locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

LAST = "last.pt"
LOCK = ".lock"
MAGIC = b"resnet_course checkpoint 2\n"
START_OVER = (
    "start a new run in another --checkpoint-dir, or over this one with"
    " --overwrite"
)


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used; the message names the file and what to do."""


class RunFolderError(RuntimeError):
    """A run cannot write its files where it was asked to; the message says
    why."""


def save_checkpoint(
    state: dict[str, Any], folder: str | Path, name: str = LAST
) -> Path:
    """Write ``state`` to ``folder/name`` atomically, with its checksum; return
    the path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    buffer = io.BytesIO()
    torch.save(state, buffer)
    body = buffer.getvalue()
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(
                MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body
            )
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _verified_body(path: Path) -> bytes:
    """The ``torch.save`` bytes of a checkpoint file, after checking its
    checksum."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(
            f"cannot read the checkpoint {path}: {exc}"
        ) from None
    if not raw:
        raise CheckpointError(
            f"the checkpoint {path} is empty (a save was cut short); {START_OVER}"
        )
    if not raw.startswith(MAGIC):
        what = (
            "was written by an older version of resnet_course (it has no"
            " checksum)"
            if raw.startswith(b"PK")
            else "is not a resnet_course checkpoint"
        )
        raise CheckpointError(f"the file {path} {what}; {START_OVER}")
    digest, _, body = raw[len(MAGIC) :].partition(b"\n")
    if hashlib.sha256(body).hexdigest().encode() != digest:
        raise CheckpointError(
            f"the checkpoint {path} is corrupt: its contents do not match the"
            " checksum stored with them (truncated, or changed on disk);"
            f" {START_OVER}"
        )
    return body


def load_checkpoint(
    folder: str | Path,
    name: str = LAST,
    map_location: str | torch.device = "cpu",
    required: Iterable[str] = (),
) -> dict[str, Any] | None:
    """The checkpoint in ``folder/name``, or ``None`` when there is none (a fresh
    start).

    Raises :class:`CheckpointError` for a file that is empty, truncated, corrupt,
    holds anything but plain data, or lacks one of the ``required`` keys.
    """
    path = Path(folder) / name
    if not path.is_file():
        return None
    body = _verified_body(path)
    try:
        state = torch.load(
            io.BytesIO(body), map_location=map_location, weights_only=True
        )
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise CheckpointError(
            f"the checkpoint {path} holds more than plain data and is refused"
            f" (loading with weights_only=True failed: {type(exc).__name__}:"
            f" {first}); {START_OVER}"
        ) from None
    missing = (
        sorted(set(required) - set(state)) if isinstance(state, dict) else "all"
    )
    if missing:
        raise CheckpointError(
            f"the checkpoint {path} lacks {missing} (an older version of"
            f" resnet_course wrote it); {START_OVER}"
        )
    return state


def check_writable_file(path: str | Path, what: str) -> None:
    """Raise :class:`RunFolderError` unless ``path`` can be written (checked
    before a run, so a bad path is not found only after training). Leaves no file
    behind.
    """
    path = Path(path)
    if path.is_dir():
        raise RunFolderError(f"{what} {path} is a folder; give a file name")
    if not path.parent.is_dir():
        raise RunFolderError(
            f"{what} {path}: the folder {path.parent} does not exist; create it"
            " first"
        )
    existed = path.exists()
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644))
    except OSError as exc:
        raise RunFolderError(
            f"{what} {path} cannot be written ({exc.strerror}); choose another"
            " path"
        ) from None
    if not existed:
        path.unlink()


def _writable_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(
            f"--checkpoint-dir {folder} is a file, not a folder; choose another"
            " path"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(
            dir=folder, prefix=".write-test.", suffix=".tmp"
        )
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise RunFolderError(
            f"--checkpoint-dir {folder} cannot be written ({exc.strerror});"
            " choose another folder"
        ) from None


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporary files that saves killed half-way left in
    ``folder``."""
    stale = sorted(Path(folder).glob(".*.tmp"))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


@contextlib.contextmanager
def run_folder(folder: str | Path) -> Iterator[Path]:
    """Claim ``folder`` for one run: create it, check that it can be written, lock
    it, then remove stale temporary files. The lock is released when the block
    ends (or the process dies)."""
    folder = Path(folder)
    _writable_folder(folder)
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = (
                    os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                )
                raise RunFolderError(
                    f"another run (process {owner}) is using --checkpoint-dir"
                    f" {folder}; wait for it to finish, or choose another folder"
                ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        remove_stale_temporaries(folder)
        yield folder
    finally:
        os.close(fd)  # closing releases the lock


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
