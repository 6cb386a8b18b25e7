import gzip
import shutil
import zlib

import pytest
import torch

from resnet_course import data
from resnet_course.data import (
    DatasetError,
    fashion_mnist_dataloaders,
    load_fashion_mnist,
)


def test_real_files_load_with_the_official_sizes(fashion_dir):
    images, labels = data.load_split("train", fashion_dir)
    assert images.shape == (60000, 28, 28) and images.dtype == torch.uint8
    assert (
        labels.shape == (60000,)
        and int(labels.min()) == 0
        and int(labels.max()) == 9
    )
    test_images, test_labels = data.load_split("test", fashion_dir)
    assert test_images.shape == (10000, 28, 28) and test_labels.shape == (10000,)
    # every class has exactly 6000 training images
    assert torch.bincount(labels).tolist() == [6000] * 10


def test_tensors_are_scaled_to_unit_interval_with_a_channel_axis(fashion_dir):
    d = load_fashion_mnist(root=fashion_dir, n_train=100, n_test=50)
    assert d.train_images.shape == (100, 1, 28, 28) and d.test_images.shape == (
        50,
        1,
        28,
        28,
    )
    assert d.train_images.dtype == torch.float32
    assert (
        0.0 <= float(d.train_images.min()) and float(d.train_images.max()) <= 1.0
    )
    assert float(d.train_images.max()) == 1.0


def test_dataloaders_match_d2l_shapes_with_and_without_resize(fashion_dir):
    train_iter, test_iter = fashion_mnist_dataloaders(
        32, resize=96, root=fashion_dir, n_train=64, n_test=64
    )
    x, y = next(iter(train_iter))
    assert (
        x.shape == (32, 1, 96, 96) and y.shape == (32,) and y.dtype == torch.int64
    )
    train_iter, _ = fashion_mnist_dataloaders(
        16, root=fashion_dir, n_train=64, n_test=64
    )
    assert next(iter(train_iter))[0].shape == (16, 1, 28, 28)


def copy_dataset(src, dst, decompress=False):
    dst.mkdir(exist_ok=True)
    for stem in data.FILES:
        source = data._file_in(src, stem)
        if decompress and source.suffix == ".gz":
            (dst / stem).write_bytes(gzip.decompress(source.read_bytes()))
        else:
            shutil.copy(source, dst / source.name)
    return dst


def test_decompressed_files_are_accepted(fashion_dir, tmp_path):
    folder = copy_dataset(fashion_dir, tmp_path / "raw", decompress=True)
    labels = data.load_split("test", folder)[1]
    assert labels.shape == (10000,)


def test_corrupt_file_names_the_file_and_the_expected_checksum(
    fashion_dir, tmp_path
):
    folder = copy_dataset(fashion_dir, tmp_path / "raw", decompress=True)
    target = folder / "t10k-labels-idx1-ubyte"
    raw = bytearray(target.read_bytes())
    raw[100] ^= 1  # flip one bit of one label
    target.write_bytes(bytes(raw))
    with pytest.raises(DatasetError) as err:
        data.load_split("test", folder)
    message = str(err.value)
    assert (
        str(target) in message and data.FILES["t10k-labels-idx1-ubyte"] in message
    )
    assert "apt-get install dataset-fashion-mnist" in message


def test_truncated_gzip_is_reported_not_crashed(fashion_dir, tmp_path):
    folder = copy_dataset(fashion_dir, tmp_path / "raw")
    target = folder / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:200])
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz"):
        data.load_split("test", folder)


def test_a_bit_flipped_inside_the_deflate_data_is_reported_not_crashed(
    fashion_dir, tmp_path
):
    folder = copy_dataset(fashion_dir, tmp_path / "raw")
    target = folder / "t10k-labels-idx1-ubyte.gz"
    raw = target.read_bytes()
    for pos in range(20, len(raw) - 8):  # find a flip that zlib itself rejects
        flipped = bytearray(raw)
        flipped[pos] ^= 1
        try:
            gzip.decompress(bytes(flipped))
        except zlib.error:
            break
        except OSError:
            continue
    else:
        pytest.fail("no bit flip raised zlib.error")
    target.write_bytes(bytes(flipped))
    with pytest.raises(
        DatasetError, match="t10k-labels-idx1-ubyte.gz is corrupt"
    ):
        data.load_split("test", folder)


def test_an_explicit_folder_that_does_not_exist_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_ENV_VAR, str(tmp_path / "typo"))
    with pytest.raises(DatasetError, match="typo .*does not exist"):
        data.find_fashion_mnist()
    (tmp_path / "a-file").write_text("")
    with pytest.raises(DatasetError, match="is a file, not a folder"):
        data.find_fashion_mnist(tmp_path / "a-file")


def test_missing_file_in_an_explicit_folder_is_an_error_that_says_which(
    fashion_dir, tmp_path
):
    folder = copy_dataset(fashion_dir, tmp_path / "raw")
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="lacks train-labels-idx1-ubyte"):
        data.find_fashion_mnist(folder)


def test_environment_variable_takes_precedence(
    fashion_dir, tmp_path, monkeypatch
):
    folder = copy_dataset(fashion_dir, tmp_path / "env", decompress=True)
    monkeypatch.setenv(data.DATA_ENV_VAR, str(folder))
    assert data.find_fashion_mnist() == folder


def test_nothing_found_and_no_download_says_where_it_looked(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setenv(data.CACHE_ENV_VAR, str(tmp_path / "cache"))
    monkeypatch.delenv(data.DATA_ENV_VAR, raising=False)
    with pytest.raises(DatasetError) as err:
        data.find_fashion_mnist(download=False)
    assert "no-debian" in str(err.value) and "FASHION_MNIST_DIR" in str(err.value)


def test_a_failed_download_becomes_one_clear_error(tmp_path, monkeypatch):
    # The network is blocked in tests, so torchvision's download must fail -- and be
    # reported.
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setenv(data.CACHE_ENV_VAR, str(tmp_path / "cache"))
    monkeypatch.delenv(data.DATA_ENV_VAR, raising=False)
    with pytest.raises(DatasetError, match="downloading it into .* failed"):
        data.find_fashion_mnist(download=True)


def test_bad_arguments_are_rejected(fashion_dir):
    with pytest.raises(ValueError, match="split"):
        data.load_split("validation", fashion_dir)
    with pytest.raises(ValueError, match="n_train"):
        load_fashion_mnist(root=fashion_dir, n_train=0)
