"""Data-parallel training with torchrun, on the CPU with gloo and 2 processes.

The launches are real ``torchrun --standalone --nproc_per_node=N -m resnet_course
train`` runs (as ``python -m torch.distributed.run``). Tolerances:

* in fp64, a 2-process run with SyncBN reaches the weights of the 1-process run with
  the same global batch to 1e-8 (measured: ~1e-11 after 8 steps): the same images,
  the same statistics, only the order of the sums differs;
* the same 2-process run, killed on one rank and resumed, reaches *bitwise* the same
  weights as the uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

from resnet_course.distributed import (
    CrossProcessBatchNorm2d,
    LaunchError,
    World,
    check_launch,
    epoch_shard,
    held_out_shard,
)
from resnet_course.multiprocess import (
    TORCHRUN_LOGS,
    config_flags,
    failure_message,
    folder_command,
    process_counts,
    run_processes,
    weights_difference,
)
from resnet_course.cli import main
from resnet_course.train_config import TrainConfig
from resnet_course.trainer import train

#: 256 images, global batch 64: 4 steps per epoch, 2 epochs (fp64 convolutions are
#: slow on a CPU, so the run is small).
CFG = TrainConfig(
    width=4,
    n_train=256,
    n_test=128,
    batch_size=64,
    epochs=2,
    augment=False,
    deterministic=True,
    precision="fp64",
    sync_batchnorm=True,
    device="cpu",
    progress=False,
    verbose=False,
)
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def launch(nproc, folder, cfg=CFG, extra=(), env=None, timeout=120):
    command, _ = folder_command(nproc, cfg, folder)
    return subprocess.run(
        [*command, *extra],
        capture_output=True,
        text=True,
        env={**ENV, **(env or {})},
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The 1-process run of CFG (in this process: no launch to wait for) and the
    2-process SyncBN run (torchrun)."""
    root = tmp_path_factory.mktemp("ddp")
    train(dataclasses.replace(CFG, checkpoint_dir=str(root / "n1")))
    (root / "tmp").mkdir()  # the launch's temporary folder, to look into after
    run_processes(2, CFG, root / "n2", env={"TMPDIR": str(root / "tmp")})
    return root


# -- the arithmetic, without launching --------------------------------------------------


def test_the_shards_of_a_global_batch_are_its_images_split_in_rank_order():
    order = torch.randperm(1000)
    one = epoch_shard(order, 128, World())
    assert torch.equal(one, order[: 7 * 128])  # the ragged end is dropped
    shards = [epoch_shard(order, 128, World(rank=r, size=4)) for r in range(4)]
    for b in range(7):
        pieces = [s[b * 32 : (b + 1) * 32] for s in shards]
        assert torch.equal(torch.cat(pieces), one[b * 128 : (b + 1) * 128])


def test_the_test_shards_cover_the_test_set_once():
    idx = torch.arange(1001)
    parts = [idx[held_out_shard(1001, World(rank=r, size=3))] for r in range(3)]
    assert sorted(torch.cat(parts).tolist()) == list(range(1001))


def test_a_batch_that_does_not_split_is_refused_naming_multiples():
    with pytest.raises(
        LaunchError, match="choose a multiple of 2, such as 126 or 128"
    ):
        check_launch(World(rank=0, size=2, local_size=2), 127, "cpu")
    check_launch(World(rank=0, size=2, local_size=2), 128, "cpu")
    check_launch(World(), 127, "cpu")  # one process takes any batch


@pytest.mark.skipif(torch.cuda.is_available(), reason="counts a GPU-less machine")
def test_more_processes_than_gpus_is_refused():
    with pytest.raises(LaunchError, match="0 GPU.*--device cpu"):
        check_launch(World(rank=0, size=2, local_size=2), 128, "cuda")


def test_cross_process_batchnorm_is_batchnorm_in_one_process():
    bn, cross = torch.nn.BatchNorm2d(3), CrossProcessBatchNorm2d(3)
    x = torch.randn(8, 3, 5, 5)
    assert torch.allclose(bn(x), cross(x))


def test_a_config_becomes_the_flags_that_give_it_back():
    from resnet_course.cli import build_parser

    args = build_parser().parse_args(["train", *config_flags(CFG)])
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    assert TrainConfig(**{n: getattr(args, n) for n in names}) == CFG
    assert process_counts(8) == [1, 2, 4, 8] and process_counts(6) == [1, 2, 4, 6]


# -- real launches ------------------------------------------------------------------


def test_two_processes_reach_the_weights_of_one_with_the_same_global_batch(runs):
    assert weights_difference(runs / "n1", runs / "n2") < 1e-8


def test_a_launch_keeps_torchruns_logs_in_its_folder_not_the_temporary_one(runs):
    assert list((runs / "tmp").iterdir()) == []
    assert (runs / "n2" / TORCHRUN_LOGS).is_dir()


def test_without_syncbn_the_two_processes_normalise_differently(runs, tmp_path):
    """The check above can fail: per-process batch statistics change the weights."""
    cfg = dataclasses.replace(CFG, sync_batchnorm=False)
    proc = launch(2, tmp_path / "per_process_bn", cfg)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert weights_difference(runs / "n1", tmp_path / "per_process_bn") > 1e-3


def _leftover(marker: str) -> list[str]:
    ps = subprocess.run(
        ["ps", "-eo", "args"], capture_output=True, text=True
    ).stdout
    return [
        line
        for line in ps.splitlines()
        if marker in line and "ps -eo" not in line
    ]


def test_a_rank_killed_mid_run_stops_all_and_resumes_to_the_same_weights(
    runs, tmp_path
):
    """Rank 0, the one that writes checkpoints and reports, is the one killed: the
    survivor must say why the run stopped (torchrun's SIGTERM must not cut it short),
    and the checkpoint rank 0 wrote before it died must resume exactly."""
    folder = tmp_path / "killed"
    kill = {
        "RESNET_COURSE_TEST_SIGKILL_AT_STEP": "6",
        "RESNET_COURSE_TEST_SIGKILL_RANK": "0",
    }
    start = time.perf_counter()
    proc = launch(2, folder, env=kill)
    assert proc.returncode != 0
    assert time.perf_counter() - start < 60
    errors = [
        line for line in proc.stderr.splitlines() if line.startswith("error:")
    ]
    assert errors == [
        f"error: another process of this run stopped; the checkpoint of the last"
        f" finished epoch is in {folder}/last.pt; continue the run with the same"
        " command and --resume"
    ]
    message = failure_message(2, proc.stdout, proc.stderr)
    assert message.startswith(
        "the run of 2 process(es) failed: rank 0 exited with code -9 (SIGKILL)"
    ), message
    log = Path(message.rsplit("torchrun's output: ", 1)[1].rstrip(")"))
    assert proc.stderr in log.read_text()
    log.unlink()
    time.sleep(0.5)
    assert _leftover(str(folder)) == []  # no hung processes
    proc = launch(2, folder, extra=["--resume"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert weights_difference(runs / "n2", folder) == 0.0


@pytest.mark.parametrize("rank", [0, 1])
def test_a_batch_that_does_not_split_is_one_error_from_rank_0(
    rank, monkeypatch, capsys, tmp_path
):
    """What each of torchrun's two processes does (before any collective)."""
    for name, value in dict(RANK=rank, LOCAL_RANK=rank, WORLD_SIZE=2).items():
        monkeypatch.setenv(name, str(value))
    cfg = dataclasses.replace(CFG, batch_size=127, checkpoint_dir=str(tmp_path))
    assert main(["train", *config_flags(cfg)]) == 2
    err = capsys.readouterr().err
    if rank == 0:
        assert err.startswith(
            "error: the global batch --batch-size 127 cannot be split"
        )
        assert err.count("error:") == 1 and "Traceback" not in err
    else:
        assert err == ""


def test_resuming_with_another_number_of_processes_is_refused(runs):
    cfg = dataclasses.replace(CFG, checkpoint_dir=str(runs / "n2"), resume=True)
    proc = subprocess.run(
        [sys.executable, "-m", "resnet_course", "train", *config_flags(cfg)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "made by a run of 2 processes, and this run has 1" in proc.stderr
    assert "torchrun --nproc_per_node=2" in proc.stderr


def test_compare_process_counts_measures_each_run_against_its_precisions_first(
    monkeypatch,
):
    # The runs themselves are faked: what is checked is the bookkeeping, each run's
    # weights compared with the first run of the same precision, and its scale.
    from resnet_course import multiprocess

    weights = {
        0: {"w": torch.tensor([1.0, -2.0])},  # fp64, 1 process: the reference
        1: {"w": torch.tensor([1.5, -2.0])},  # fp64: 0.5 away
        2: {"w": torch.tensor([0.0, 3.0])},  # fp32, 1 process: a new reference
        3: {"w": torch.tensor([0.0, 3.25])},  # fp32: 0.25 away
    }

    def fake_run(nproc, cfg, folder):
        return {"folder": folder, "processes": nproc}

    monkeypatch.setattr(multiprocess, "run_processes", fake_run)
    monkeypatch.setattr(multiprocess, "_summary", lambda run: {})
    monkeypatch.setattr(
        multiprocess, "_trained", lambda folder: weights[int(Path(folder).name)]
    )
    runs = [("one", 1, False, "fp64"), ("two", 2, True, "fp64")]
    runs += [("one", 1, False, "fp32"), ("two", 2, True, "fp32")]
    rows = multiprocess.compare_process_counts(TrainConfig(), runs)
    assert [r["max_weight_difference"] for r in rows] == [0.0, 0.5, 0.0, 0.25]
    assert [r["max_abs_weight"] for r in rows] == [2.0, 2.0, 3.0, 3.25]


def test_a_failed_launch_is_reported_by_the_rank_that_failed_first(
    tmp_path, monkeypatch
):
    """A rank that raised, and the survivor that says another process stopped:
    the message gives the traceback's last line, not the survivor's."""
    stderr = "\n".join(
        [
            "error: another process of this run stopped; the checkpoint ...",
            "Traceback (most recent call last):",
            '  File "trainer.py", line 1, in train',
            "RuntimeError: Gloo connectFullMesh failed",
            "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: ",
        ]
    )
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the logs
    message = failure_message(2, "", stderr)
    assert "failed: RuntimeError: Gloo connectFullMesh failed (" in message
    own = "error: the global batch --batch-size 127 cannot be split"
    assert f"failed: {own} (" in failure_message(2, "", stderr + "\n" + own)
