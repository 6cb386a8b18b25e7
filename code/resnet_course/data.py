"""Fashion-MNIST (Xiao et al. 2017): found or fetched, always verified.

Where the files are looked for, in this order:

1. an explicit ``root`` argument, or the environment variable
   ``FASHION_MNIST_DIR``;
2. Debian's package ``dataset-fashion-mnist``
   (``/usr/share/datasets/fashion-mnist``);
3. a cache directory (``$RESNET_COURSE_CACHE``, default
   ``~/.cache/resnet_course``) that torchvision's downloader fills -- only when
   downloading is allowed.

Each of the four IDX files may be stored gzipped (``*.gz``) or decompressed.  Its
*decompressed* bytes are checked against the MD5 of the official release before
use, so a truncated or corrupt file is reported, never silently trained on.

The data come back either as whole tensors (the fast path: put all 70,000 images
on the GPU once) or as ordinary ``DataLoader``s, as d2l's
``load_data_fashion_mnist`` returns them.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

DATA_ENV_VAR = "FASHION_MNIST_DIR"
CACHE_ENV_VAR = "RESNET_COURSE_CACHE"
NO_DOWNLOAD_ENV_VAR = "RESNET_COURSE_NO_DOWNLOAD"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")

#: File stem -> MD5 of the decompressed IDX file (identical in the official
#: release and Debian).
FILES = {
    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}
SPLITS = {"train": "train", "test": "t10k"}
N_TRAIN_FULL, N_TEST_FULL = 60_000, 10_000
#: Mean and standard deviation of Fashion-MNIST's training pixels (in [0, 1]).
MEAN, STD = 0.2860, 0.3530
CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

HOW_TO_FIX = (
    "To fix it, do one of:\n  * Debian/Ubuntu: sudo apt-get install"
    f" dataset-fashion-mnist\n  * point {DATA_ENV_VAR} at a folder holding the"
    " four files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],"
    " t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz])\n  * allow the"
    f" download (on by default; unset {NO_DOWNLOAD_ENV_VAR}) on a machine with"
    " internet access"
)


class DatasetError(RuntimeError):
    """Fashion-MNIST is missing or corrupt; the message says which file and how to
    fix it."""


@dataclass(frozen=True)
class FashionMNIST:
    """The whole dataset as tensors: images ``(N, 1, 28, 28)`` float in [0, 1],
    labels int64."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor

    @property
    def device(self) -> torch.device:
        return self.train_images.device


def cache_dir() -> Path:
    return Path(
        os.environ.get(CACHE_ENV_VAR, Path.home() / ".cache" / "resnet_course")
    )


def _download_allowed() -> bool:
    return os.environ.get(NO_DOWNLOAD_ENV_VAR, "").strip() not in {
        "1",
        "true",
        "yes",
    }


def _file_in(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        try:
            if (folder / name).is_file():
                return folder / name
        except OSError as exc:  # a folder that cannot be listed (permissions)
            raise DatasetError(
                f"Fashion-MNIST folder {folder} cannot be read: {exc.strerror}."
                " Give this user read access to it, or use another"
                f" folder.\n{HOW_TO_FIX}"
            ) from None
    return None


def _folder_complete(folder: Path) -> bool:
    return all(_file_in(folder, stem) is not None for stem in FILES)


def _candidate_folders(root: str | Path | None) -> list[tuple[str, Path]]:
    """Where to look, in order, each with the reason it is looked at."""
    if root is not None:
        return [("the root argument", Path(root))]
    if os.environ.get(DATA_ENV_VAR):
        return [(f"${DATA_ENV_VAR}", Path(os.environ[DATA_ENV_VAR]))]
    cache = cache_dir() / "FashionMNIST" / "raw"
    return [
        ("Debian's dataset-fashion-mnist", DEBIAN_DIR),
        ("the download cache", cache),
    ]


def find_fashion_mnist(
    root: str | Path | None = None, download: bool | None = None
) -> Path:
    """Return the folder that holds all four Fashion-MNIST files, downloading if
    allowed.

    An explicit ``root`` (or ``$FASHION_MNIST_DIR``) is used as it is: a folder
    that lacks a file is an error, not a reason to look elsewhere, so a typo never
    goes unnoticed.
    """
    candidates = _candidate_folders(root)
    for _, folder in candidates:
        if _folder_complete(folder):
            return folder
    explicit = root is not None or bool(os.environ.get(DATA_ENV_VAR))
    if explicit:
        reason, folder = candidates[0]
        if not folder.exists():
            raise DatasetError(
                f"Fashion-MNIST folder {folder} (from {reason}) does not exist."
                f"\n{HOW_TO_FIX}"
            )
        if not folder.is_dir():
            raise DatasetError(
                f"Fashion-MNIST folder {folder} (from {reason}) is a file, not a"
                f" folder.\n{HOW_TO_FIX}"
            )
        missing = [s for s in FILES if _file_in(folder, s) is None]
        raise DatasetError(
            f"Fashion-MNIST folder {folder} (from {reason}) lacks"
            f" {', '.join(missing)} (each may be stored as .gz).\n{HOW_TO_FIX}"
        )
    download = _download_allowed() if download is None else download
    looked = "; ".join(f"{folder} ({reason})" for reason, folder in candidates)
    if not download:
        raise DatasetError(
            f"Fashion-MNIST was not found. Looked in: {looked}.\n{HOW_TO_FIX}"
        )
    return _download(cache_dir(), looked)


def _download(cache: Path, looked: str) -> Path:
    import torchvision  # imported here: only the download path needs it

    print(f"Fashion-MNIST not found locally; downloading it into {cache} ...")
    try:
        torchvision.datasets.FashionMNIST(
            root=str(cache), train=True, download=True
        )
        torchvision.datasets.FashionMNIST(
            root=str(cache), train=False, download=True
        )
    # any failure becomes one clear message
    except Exception as exc:  # noqa: BLE001
        raise DatasetError(
            f"Fashion-MNIST was not found (looked in: {looked}) and downloading"
            f" it into {cache} failed: {type(exc).__name__}: {exc}\n{HOW_TO_FIX}"
        ) from None
    return cache / "FashionMNIST" / "raw"


@lru_cache(maxsize=16)
def _read_verified(path: Path, stem: str, mtime_ns: int, size: int) -> bytes:
    """Decompressed bytes of one IDX file, after checking their MD5 (cached per
    file version)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DatasetError(
            f"Cannot read {path}: {type(exc).__name__}: {exc}\n{HOW_TO_FIX}"
        ) from None
    try:
        data = gzip.decompress(raw) if path.suffix == ".gz" else raw
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise DatasetError(
            f"{path} is corrupt: it is not a complete gzip stream ({exc}). Delete"
            f" or replace the file.\n{HOW_TO_FIX}"
        ) from None
    digest = hashlib.md5(data).hexdigest()
    if digest != FILES[stem]:
        raise DatasetError(
            f"{path} is corrupt: the MD5 of its decompressed bytes is {digest},"
            f" expected {FILES[stem]} (the official Fashion-MNIST release)."
            f" Delete or replace the file.\n{HOW_TO_FIX}"
        )
    return data


def read_idx(path: Path) -> torch.Tensor:
    """Parse one verified IDX file into a uint8 tensor (images ``N x 28 x 28``,
    labels ``N``)."""
    stem = path.name.removesuffix(".gz")
    stat = path.stat()
    data = _read_verified(path, stem, stat.st_mtime_ns, stat.st_size)
    ndim = data[3]
    shape = [
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    ]
    offset = 4 + 4 * ndim
    return torch.frombuffer(bytearray(data[offset:]), dtype=torch.uint8).reshape(
        shape
    )


def load_split(
    split: str = "train",
    root: str | Path | None = None,
    download: bool | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (uint8, ``N x 28 x 28``) and labels (int64) of ``split`` (``train``
    or ``test``)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    folder = find_fashion_mnist(root, download)
    prefix = SPLITS[split]
    images = read_idx(_file_in(folder, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_file_in(folder, f"{prefix}-labels-idx1-ubyte")).long()
    return images, labels


def load_fashion_mnist(
    device: torch.device | str = "cpu",
    root: str | Path | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
    download: bool | None = None,
) -> FashionMNIST:
    """The dataset as tensors on ``device``, optionally cut to the first
    ``n_train``/``n_test``.

    Images are float32 in [0, 1] with a channel axis, ``(N, 1, 28, 28)``, exactly
    what ``transforms.ToTensor()`` gives per image -- but for all images at once.
    """
    parts = []
    for split, limit in (("train", n_train), ("test", n_test)):
        images, labels = load_split(split, root, download)
        if limit is not None:
            if limit <= 0:
                raise ValueError(f"n_{split} must be positive, got {limit}")
            images, labels = images[:limit], labels[:limit]
        images = images.to(device).unsqueeze(1).float().div_(255)
        parts += [images, labels.to(device)]
    return FashionMNIST(*parts)


class TensorImageDataset(Dataset):
    """``(image, label)`` pairs from tensors, optionally resized per image like
    d2l does."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        resize: int | None = None,
    ):
        self.images, self.labels, self.resize = images, labels, resize

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.images[i]
        if self.resize:
            from torchvision.transforms.functional import resize

            x = resize(x, [self.resize, self.resize], antialias=True)
        return x, self.labels[i]


def fashion_mnist_dataloaders(
    batch_size: int,
    resize: int | None = None,
    root: str | Path | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
    num_workers: int = 0,
) -> tuple[DataLoader, DataLoader]:
    """``(train_iter, test_iter)`` like ``d2l.load_data_fashion_mnist(batch_size,
    resize)``.

    The difference: the files are found and verified by this module, never
    downloaded into ``../data`` behind the reader's back.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    data = load_fashion_mnist("cpu", root, n_train, n_test)
    train = TensorImageDataset(data.train_images, data.train_labels, resize)
    test = TensorImageDataset(data.test_images, data.test_labels, resize)
    return (
        DataLoader(train, batch_size, shuffle=True, num_workers=num_workers),
        DataLoader(test, batch_size, shuffle=False, num_workers=num_workers),
    )
