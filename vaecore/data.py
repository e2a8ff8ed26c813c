"""MNIST and Fashion-MNIST as in-memory tensors, with their files checked first."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path
from typing import NamedTuple

import torch
from torchvision import datasets

from vaecore.errors import VaecoreError

# MD5 of the uncompressed IDX files: MNIST's as published with the originals (see
# ../shared/data/README.md), Fashion-MNIST's as Debian's dataset-fashion-mnist ships them.
# A file that does not match is never used.
CHECKSUMS = {
    "mnist": {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}

PIXELS = 28 * 28  # per image, in both datasets
IMAGES = {True: 60_000, False: 10_000}  # per split (train: True), in both datasets


def images(size: int | None, train: bool) -> int:
    """How many images a split of at most ``size`` holds (all of them where ``size`` is None)."""
    return min(size or IMAGES[train], IMAGES[train])


class DataError(VaecoreError, RuntimeError):
    """The data folder is unusable, or a dataset file is missing, truncated or corrupted."""


class Split(NamedTuple):
    """One split in memory: ``x`` (N, M) floats in [0, 1] and ``y`` (N,) labels."""

    x: torch.Tensor
    y: torch.Tensor


def data_root(root: str | Path | None = None) -> Path:
    """The data folder: ``root`` if given, else ``$VAECORE_DATA``, else ``~/.cache/vaecore/data``."""
    if root is None:
        root = os.environ.get("VAECORE_DATA") or Path.home() / ".cache" / "vaecore" / "data"
    return Path(root).expanduser()


def load(dataset: str, train: bool, root: str | Path | None = None, size: int | None = None) -> Split:
    """Load one split as flat float tensors.

    Downloads (as torchvision does) only when the dataset's folder does not exist
    at all; a folder with a missing or damaged file is an error naming the file, and so
    is a failed download (no internet) or a data folder that is a file or a symlink loop.

    Args:
        dataset: ``"mnist"`` or ``"fashion-mnist"``.
        train: the 60,000-image training split, else the 10,000-image test split.
        root: data folder (default: see :func:`data_root`).
        size: keep only the first ``size`` images.

    Returns:
        The split, images flattened to (N, 784) and scaled to [0, 1].
    """
    kind = {"mnist": datasets.MNIST, "fashion-mnist": datasets.FashionMNIST}[dataset]
    root = data_root(root)
    check_folder(root)
    raw = root / kind.__name__ / "raw"
    if not raw.exists():
        print(f"{raw} not found: downloading {kind.__name__} into {root}")
        try:
            kind(root=root, train=train, download=True)
        except Exception:  # torchvision's urlopen and mirror errors, or a folder it cannot create
            shutil.rmtree(raw, ignore_errors=True)  # half a download would read as damaged files next time
            raise DataError(f"{raw} does not exist and downloading {kind.__name__} into it failed; "
                            f"connect to the internet, or set VAECORE_DATA to a folder holding "
                            f"{kind.__name__}/raw (see README)") from None
    for name, md5 in CHECKSUMS[dataset].items():  # torchvision needs all four files for either split
        verify(raw / name, md5)
    data = kind(root=root, train=train, download=False)
    x = data.data[:size].flatten(1).float().div_(255)  # (N, 784)
    return Split(x, data.targets[:size].clone())


def check_folder(root: Path) -> None:
    """Raise :class:`DataError` unless ``root`` is a folder or does not exist yet."""
    try:
        mode = root.stat().st_mode
    except FileNotFoundError:
        return  # the download creates it
    except OSError as error:  # a symlink loop, a folder we may not enter
        raise DataError(f"data folder {root} cannot be used ({error.strerror}); "
                        f"set VAECORE_DATA to a folder holding MNIST/raw (see README)") from None
    if not stat.S_ISDIR(mode):
        raise DataError(f"data folder {root} is not a folder; set VAECORE_DATA to a folder holding "
                        f"MNIST/raw (see README)")


def verify(path: Path, md5: str) -> None:
    """Raise :class:`DataError` naming ``path`` unless it exists with the given MD5."""
    if not path.is_file():
        raise DataError(f"missing data file {path}; set VAECORE_DATA to a folder holding "
                        f"MNIST/raw (see README), or remove {path.parent} to download again")
    try:
        digest = hashlib.md5(path.read_bytes()).hexdigest()
    except OSError as error:
        raise DataError(f"cannot read data file {path} ({error.strerror}); make it readable") from None
    if digest != md5:
        raise DataError(f"data file {path} is truncated or corrupted "
                        f"(md5 {digest}, expected {md5}, size {path.stat().st_size} bytes)")
