"""Checkpoints: what is written is what is loaded, and nothing else is."""

from __future__ import annotations

import argparse

import pytest
import torch

from resnet_course import checkpoint as ckpt
from resnet_course.checkpoint import CheckpointError, RunFolderError


def test_a_saved_state_loads_back_equal(tmp_path):
    state = {"epoch": 3, "w": torch.arange(5.0), "config": {"lr": 0.1}}
    ckpt.save_checkpoint(state, tmp_path)
    loaded = ckpt.load_checkpoint(tmp_path)
    assert loaded["epoch"] == 3 and torch.equal(loaded["w"], state["w"])
    assert ckpt.load_checkpoint(tmp_path / "nothing-here") is None


def test_anything_but_plain_data_is_refused(tmp_path):
    # Loaded with weights_only=False this would come back as a Namespace.
    ckpt.save_checkpoint({"epoch": 1, "extra": argparse.Namespace(a=1)}, tmp_path)
    with pytest.raises(CheckpointError, match="weights_only=True"):
        ckpt.load_checkpoint(tmp_path)


def test_a_flipped_byte_anywhere_is_caught_by_the_checksum(tmp_path):
    ckpt.save_checkpoint({"w": torch.zeros(1000)}, tmp_path)
    path = tmp_path / "last.pt"
    raw = bytearray(path.read_bytes())
    raw[
        len(raw) // 2
    ] ^= 1  # in the middle of the zeros: torch.load would not notice
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="do not match the checksum"):
        ckpt.load_checkpoint(tmp_path)


def test_required_keys_are_checked(tmp_path):
    ckpt.save_checkpoint({"epoch": 1}, tmp_path)
    with pytest.raises(CheckpointError, match=r"lacks \['model'\]"):
        ckpt.load_checkpoint(tmp_path, required=("epoch", "model"))


def test_a_failed_save_leaves_the_previous_checkpoint_intact(
    tmp_path, monkeypatch
):
    ckpt.save_checkpoint({"epoch": 1, "w": torch.ones(3)}, tmp_path)

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.os, "fsync", broken_fsync)  # after half the bytes
    with pytest.raises(OSError, match="disk full"):
        ckpt.save_checkpoint({"epoch": 2, "w": torch.zeros(3)}, tmp_path)
    monkeypatch.undo()
    assert ckpt.load_checkpoint(tmp_path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == [
        "last.pt"
    ], "a temporary file was left behind"


def test_run_folder_locks_cleans_and_checks(tmp_path):
    folder = tmp_path / "ck"
    folder.mkdir()
    (folder / ".last.pt.abc.tmp").write_bytes(b"half")
    with ckpt.run_folder(folder):
        assert not (folder / ".last.pt.abc.tmp").exists()
        with pytest.raises(RunFolderError, match="another run"):
            with ckpt.run_folder(folder):
                pass
    with ckpt.run_folder(folder):  # released again
        pass
    (tmp_path / "file").write_text("")
    with pytest.raises(RunFolderError, match="is a file"):
        with ckpt.run_folder(tmp_path / "file"):
            pass


def test_check_writable_file_leaves_nothing_behind(tmp_path):
    ckpt.check_writable_file(tmp_path / "h.json", "--history-json")
    assert not (tmp_path / "h.json").exists()
    with pytest.raises(RunFolderError, match="is a folder"):
        ckpt.check_writable_file(tmp_path, "--history-json")
    with pytest.raises(RunFolderError, match="does not exist"):
        ckpt.check_writable_file(tmp_path / "no" / "h.json", "--history-json")
