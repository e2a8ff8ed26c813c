"""What a book folder holds is what it says: the protocol covers every setting the book compares,
a run folder names its device, and a listing counts only whole, published runs (issue 38)."""

import dataclasses
import hashlib
import json

import pytest

import vaecore
import vaecore.weights
from vaecore.config import Config
from vaecore.experiment import run_dir
from vaecore.original import departures
from vaecore.runs import load as load_runs
from vaecore.weights import WeightsError

# A value other than the report's for every setting of the config; the protocol must name each.
OTHER = {"dataset": "fashion-mnist", "likelihood": "gaussian", "hidden": (64,), "epochs": 10, "batch_size": 100,
         "lr": 1e-3, "train_size": 100, "test_size": 100, "iwae_k": 1}
VARIED = {"n": 64, "beta": 0.5, "seed": 2, "device": "cuda"}  # what the runs vary, in and out of one folder


def test_every_setting_the_runs_do_not_vary_is_part_of_the_protocol():
    """A Config field added without a word in the protocol fails here: each changes a number the book compares."""
    assert set(OTHER) | set(VARIED) == {field.name for field in dataclasses.fields(Config)}
    for key, value in OTHER.items():
        assert departures(Config(**{"n": 2, key: value}).to_dict()), key
    assert departures(Config(n=2, iwae_k=1).to_dict()) == ["an IWAE estimate with k = 1"]
    for key, value in VARIED.items():
        assert departures(Config(**{"n": 2, key: value}).to_dict()) == [], key


def test_a_run_folder_names_its_device(tmp_path, monkeypatch):
    """A CPU page never resumes (and publishes as its own) a GPU run's checkpoint of the same config."""
    monkeypatch.setenv("VAECORE_RUNS", str(tmp_path))
    cpu, gpu = run_dir(Config(n=2)), run_dir(Config(n=2, device="cuda"))
    assert cpu.parent == gpu.parent == tmp_path
    assert cpu.name.endswith("-cpu") and gpu.name.endswith("-cuda") and cpu.name[:-4] == gpu.name[:-5]


def run(folder, name, config):
    """A published run: its metrics with the weights' SHA-256, and the weights."""
    weights = f"weights of {name}".encode()
    (folder / f"{name}.json").write_text(json.dumps({"config": config.to_dict(), "test_total": 100.0,
                                                     "weights_sha256": hashlib.sha256(weights).hexdigest()}))
    (folder / f"{name}.pt").write_bytes(weights)


def test_half_published_runs_are_never_listed_nor_served(tmp_path, monkeypatch):
    """A sweep killed inside its publication leaves `.<name>.partial.json` and `.pt`: neither the
    book's tables, nor the shipped models, nor `vaecore.load` take them for a run; a failed page is none either."""
    shelf = tmp_path / "experiments"
    shelf.mkdir()
    run(shelf, "n64-beta0p05", Config(n=64, beta=0.05))
    run(shelf, ".n64-beta0p05-seed3.partial", Config(n=64, beta=0.05, seed=3))
    run(shelf, "n64-beta0p05-seed4.failed", Config(n=64, beta=0.05, seed=4))
    monkeypatch.setattr(vaecore.weights, "shipped_dir", lambda: shelf)
    assert list(load_runs(shelf)) == ["n64-beta0p05"]
    assert list(vaecore.weights.shipped()) == ["n64-beta0p05"]
    with pytest.raises(WeightsError):
        vaecore.load(".n64-beta0p05-seed3.partial")
