"""Shared fixtures: the data root, a small MNIST slice and tiny configs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot: no display in CI

import pytest
import torch

from vaecore.config import Config
from vaecore.data import Split, load

REPO = Path(__file__).resolve().parents[1]

N_TRAIN, N_TEST = 1000, 200


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same global RNG state."""
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def data_root() -> Path:
    """$VAECORE_DATA if set, else <repo>/../shared/data; skips when MNIST/raw is absent there.

    A missing MNIST/raw folder would make vaecore.data.load download, which tests never do.
    """
    env = os.environ.get("VAECORE_DATA")
    # absolute, so that symlinks to its files and kernels in other folders find it
    root = (Path(env).expanduser() if env else REPO.parent / "shared" / "data").resolve()
    if not (root / "MNIST" / "raw").is_dir():
        source = "$VAECORE_DATA" if env else "<repo>/../shared/data"
        pytest.skip(f"MNIST not found at {root / 'MNIST' / 'raw'} ({source}); "
                    f"set VAECORE_DATA to a folder holding MNIST/raw")
    return root


@pytest.fixture(scope="session")
def mnist(data_root) -> tuple[Split, Split]:
    """The first 1000 training and 200 test images (read-only: clone before changing)."""
    return load("mnist", True, data_root, N_TRAIN), load("mnist", False, data_root, N_TEST)


@pytest.fixture(scope="session")
def tiny_config():
    """Factory of small, fast configs: ``tiny_config(n=16, epochs=3, beta=0.5)``.

    The learning rate is 1e-3 (not the report's 1e-4) so that a few epochs visibly train.
    """

    def make(**overrides) -> Config:
        values = dict(n=2, epochs=1, train_size=N_TRAIN, test_size=N_TEST, iwae_k=8,
                      hidden=(64, 64), lr=1e-3, batch_size=100)
        values.update(overrides)
        return Config(**values)

    return make



@pytest.fixture(scope="session")
def chromium_browser():
    """Headless Chromium driven by playwright: the system's (playwright's own needs a download);
    skips without either."""
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = os.environ.get("VAECORE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set VAECORE_CHROMIUM)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()
