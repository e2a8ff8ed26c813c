"""MNIST in memory, and damaged data files failing by name instead of training on garbage."""

from pathlib import Path

import pytest
import torch

from vaecore.data import DataError, data_root, load

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def test_slice_shapes_and_range(mnist):
    """A slice is (N, 784) floats in [0, 1] with N integer labels 0-9."""
    for split, size in zip(mnist, (1000, 200)):
        assert split.x.shape == (size, 784) and split.x.dtype == torch.float32
        assert split.x.min() >= 0 and split.x.max() <= 1 and split.x.max() == 1
        assert split.y.shape == (size,) and set(split.y.tolist()) == set(range(10))


def test_first_training_labels(mnist):
    """The training split is MNIST's, in its original order."""
    assert mnist[0].y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


def test_size_keeps_the_first_images(data_root, mnist):
    """size=k gives the first k images of the split."""
    small = load("mnist", True, data_root, 10)
    assert torch.equal(small.x, mnist[0].x[:10]) and torch.equal(small.y, mnist[0].y[:10])


def test_data_root_precedence(monkeypatch, tmp_path):
    """An explicit root wins over $VAECORE_DATA, which wins over the home-cache default."""
    monkeypatch.setenv("VAECORE_DATA", str(tmp_path / "env"))
    assert data_root(tmp_path / "arg") == tmp_path / "arg"
    assert data_root() == tmp_path / "env"
    monkeypatch.delenv("VAECORE_DATA")
    assert data_root() == Path.home() / ".cache" / "vaecore" / "data"


@pytest.fixture
def fake_root(data_root, tmp_path):
    """A data root whose MNIST/raw files are symlinks to the real ones."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in FILES:
        (raw / name).symlink_to(data_root / "MNIST" / "raw" / name)
    return tmp_path


def writable_copy(root: Path, name: str) -> Path:
    """Replace the symlink ``root/MNIST/raw/name`` by a private copy of the file, and return it."""
    path = root / "MNIST" / "raw" / name
    data = path.read_bytes()
    path.unlink()
    path.write_bytes(data)
    return path


def test_fake_root_loads(fake_root):
    """The symlinked root itself is fine (so the failures below are the damage's doing)."""
    assert load("mnist", False, fake_root, 5).y.tolist() == [7, 2, 1, 0, 4]


def test_flipped_byte_fails_naming_the_file(fake_root):
    """One changed byte in a labels file is a DataError naming that file."""
    path = writable_copy(fake_root, "train-labels-idx1-ubyte")
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.*corrupted"):
        load("mnist", True, fake_root, 10)


def test_truncated_file_fails_naming_the_file(fake_root):
    """A truncated labels file is a DataError naming that file."""
    path = writable_copy(fake_root, "t10k-labels-idx1-ubyte")
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.*truncated"):
        load("mnist", False, fake_root, 10)


@pytest.mark.parametrize("name", ["t10k-images-idx3-ubyte", "train-labels-idx1-ubyte"])
def test_missing_file_of_the_split_fails_naming_it(fake_root, name):
    """A missing file of the split being loaded is a DataError naming it (no download attempted)."""
    (fake_root / "MNIST" / "raw" / name).unlink()
    with pytest.raises(DataError, match=f"missing data file .*{name}"):
        load("mnist", name.startswith("train"), fake_root, 10)


def test_missing_file_of_the_other_split_fails_naming_it(fake_root):
    """Loading the training split with a test file missing is a DataError naming the missing file."""
    (fake_root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        load("mnist", True, fake_root, 10)
