"""What a run page says about itself: title, the command that reproduces it, its weights."""

import dataclasses

import pytest

from vaecore import page
from vaecore.config import Config


@pytest.fixture
def params(repo_root):
    return lambda name: Config.from_yaml(repo_root / "params" / f"{name}.yaml")


def test_title_names_the_run(params):
    assert page.title(params("n64-beta0p1")) == "n = 64, β = 0.1 (seed 0)"
    assert page.title(params("n2-beta1-seed2")) == "n = 2, β = 1 (seed 2)"


def test_title_names_the_gpu_and_a_shortened_protocol(params):
    assert page.title(dataclasses.replace(params("n64-beta1"), device="cuda")) == "n = 64, β = 1 (seed 0, GPU)"
    assert page.title(params("smoke")) == "n = 2, β = 1 (seed 0, 2 epochs, 2,000 training images)"


def test_every_params_file_gives_its_own_title(repo_root):
    titles = [page.title(Config.from_yaml(path)) for path in (repo_root / "params").glob("*.yaml")]
    assert len(set(titles)) == len(titles)


def test_command_names_the_params_file_and_what_the_page_changed(params):
    assert page.command(params("n64-beta0p1")) == ("papermill book/experiment.ipynb out.ipynb "
                                                   "-p params params/n64-beta0p1.yaml")
    gpu = dataclasses.replace(params("n64-beta1-seed1"), device="cuda", epochs=3)
    assert page.command(gpu) == ("papermill book/experiment.ipynb out.ipynb -p params params/n64-beta1-seed1.yaml "
                                 "-p epochs 3 -p device cuda")


def test_command_without_a_params_file_lists_every_value_that_is_not_a_default():
    config = Config(n=5, beta=0.25, hidden=(32,))
    assert page.command(config) == "papermill book/experiment.ipynb out.ipynb -p n 5 -p beta 0.25 -p hidden [32]"


def test_weights_note_says_when_no_training_ran(params):
    config = params("n2-beta1")
    assert "n2-beta1.pt" in page.weights_note(config, {"weights_sha256": "ab" * 32, "shipped_weights": None})
    shipped = {"shipped_weights": "n2-beta1", "weights_sha256": "cd" * 32}
    assert page.weights_note(config, shipped) == ("No training ran for this page: it evaluates the weights shipped as "
                                                  f"book/experiments/n2-beta1.pt (SHA-256 {'cd' * 8}…).")
    evaluated = shipped | {"evaluated_on": {"cpu": "Intel Xeon", "threads": 1, "seconds": 99.0}}
    assert page.weights_note(config, evaluated).endswith(f"{'cd' * 8}…), on Intel Xeon (1 CPU thread).")


def test_reproduce_box_names_the_weights_a_rerun_evaluates(params):
    """A GPU page promises the GPU run's own weights, a CPU page the CPU run's, a new config training."""
    gpu = dataclasses.replace(params("n2-beta1"), device="cuda")
    assert "`book/experiments-gpu/n2-beta1.pt`" in page.reproduce(gpu)
    assert "`book/experiments/n2-beta1.pt`" in page.reproduce(params("n2-beta1"))
    assert "trains from scratch" in page.reproduce(params("smoke"))


def test_weights_note_names_the_gpu_runs_folder(params):
    note = page.weights_note(params("n2-beta1"), {"shipped_weights": "n2-beta1-gpu", "weights_sha256": "ab" * 32})
    assert f"book/experiments-gpu/n2-beta1.pt (SHA-256 {'ab' * 8}…)" in note


def test_versions_in_words():
    assert page.versions(["8c373ca9f1e2"]) == "version 8c373ca"
    assert page.versions(["8c373ca9f1e2", "72de02a00000+dirty", "abcdef0"]) == "versions 8c373ca, 72de02a+dirty and abcdef0"
