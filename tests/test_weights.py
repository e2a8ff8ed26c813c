"""Trained weights: saved beside a run, shipped with the book, loaded in one line, checked on load."""

import dataclasses
import json

import pytest
import torch

import vaecore
from vaecore import weights
from vaecore.cli import main
from vaecore.evaluate import elbo
from vaecore.experiment import run
from vaecore.train import DeviceUnavailable
from vaecore.weights import WeightsError


@pytest.fixture(scope="module")
def trained(mnist, tiny_config, data_root, tmp_path_factory):
    """(config, run folder, metrics) of a 2-epoch run through experiment.run."""
    folder = tmp_path_factory.mktemp("run")
    config = tiny_config(n=4, epochs=2)
    result = run(config, folder, data_root=data_root, progress=False)
    return config, folder, result.metrics


@pytest.fixture
def shelf(trained, tmp_path, monkeypatch):
    """A shipped-models folder holding the trained run as ``tiny``."""
    _, folder, metrics = trained
    (tmp_path / "tiny.pt").write_bytes((folder / "model.pt").read_bytes())
    (tmp_path / "tiny.json").write_text(json.dumps(metrics))
    monkeypatch.setattr(weights, "shipped_dir", lambda: tmp_path)
    return tmp_path


def test_run_writes_weights_and_their_checksum(trained):
    _, folder, metrics = trained
    assert metrics["weights_sha256"] == weights.sha256(folder / "model.pt")


def test_shipped_model_loads_by_name_in_eval_mode_and_gives_the_recorded_numbers(shelf, trained, mnist):
    config, _, metrics = trained
    model = vaecore.load("tiny")
    assert not model.training
    assert elbo(model, mnist[1].x, config).total == pytest.approx(metrics["test_total"], abs=1e-4)


def test_a_checkpoint_loads_as_the_same_model(trained):
    _, folder, _ = trained
    a, b = vaecore.load(folder / "checkpoint.pt"), vaecore.load(folder / "model.pt")
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name


def test_unknown_name_lists_the_shipped_ones(shelf):
    with pytest.raises(WeightsError, match=r"'n99'.*tiny"):
        vaecore.load("n99")


@pytest.mark.parametrize("damage", [lambda b: b[:-100], lambda b: b[:50] + b"x" + b[51:]], ids=["truncated", "changed"])
def test_changed_or_truncated_shipped_file_is_refused_by_name(shelf, damage):
    path = shelf / "tiny.pt"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(WeightsError, match=r"tiny\.pt do not match the SHA-256"):
        vaecore.load("tiny")


def test_a_file_that_is_no_model_is_refused_by_name(tmp_path):
    path = tmp_path / "junk.pt"
    torch.save({"something": torch.zeros(3)}, path)
    with pytest.raises(WeightsError, match="junk.pt is not a vaecore model"):
        vaecore.load(path)


def test_find_matches_fingerprint_epochs_and_device(shelf, trained):
    config = trained[0]
    assert weights.find(config) == "tiny"
    assert weights.find(config.__class__(**{**config.to_dict(), "hidden": (64, 64), "epochs": 3})) is None
    assert weights.find(config.__class__(**{**config.to_dict(), "hidden": (64, 64), "seed": 1})) is None
    assert weights.find(config.__class__(**{**config.to_dict(), "hidden": (64, 64), "device": "cuda"})) is None


def test_a_gpu_page_finds_the_gpu_runs_weights_not_the_cpu_runs(repo_root):
    """Re-executing a GPU page evaluates the weights shipped beside it, after checking their SHA-256."""
    from vaecore.config import Config

    cpu = Config.from_yaml(repo_root / "params" / "n2-beta1.yaml")
    gpu = dataclasses.replace(cpu, device="cuda")
    if not (repo_root / "book" / "experiments-gpu" / "n2-beta1.json").exists():
        pytest.skip("no GPU pages")
    assert (weights.find(cpu), weights.find(gpu)) == ("n2-beta1", "n2-beta1-gpu")
    assert weights.shipped_path("n2-beta1-gpu") == repo_root / "book" / "experiments-gpu" / "n2-beta1.pt"
    model, config = weights.load_with_config("n2-beta1-gpu")
    assert config == gpu
    assert weights.shipped()["n2-beta1-gpu"]["weights_sha256"] == weights.sha256(weights.shipped_path("n2-beta1-gpu"))


def test_run_without_a_checkpoint_evaluates_the_shipped_model_instead_of_training(shelf, trained, data_root, tmp_path):
    config, _, metrics = trained
    result = run(config, tmp_path / "fresh", data_root=data_root, progress=False)
    assert result.metrics["shipped_weights"] == "tiny"
    assert not (tmp_path / "fresh" / "checkpoint.pt").exists()
    assert result.history == metrics["history"]
    assert result.metrics["test_total"] == pytest.approx(metrics["test_total"], abs=1e-4)


def test_evaluating_shipped_weights_keeps_the_file_and_where_it_trained(shelf, trained, data_root, tmp_path):
    """The page's weights are the shipped file byte for byte (the same SHA-256), and its record keeps the
    machine and time of the training, with this evaluation's machine and seconds beside them."""
    config, _, metrics = trained
    shipped = json.loads((shelf / "tiny.json").read_text())
    shipped["machine"] = {**metrics["machine"], "cpu": "the training machine"}
    (shelf / "tiny.json").write_text(json.dumps(shipped))
    result = run(config, tmp_path / "fresh", data_root=data_root, progress=False)
    assert (tmp_path / "fresh" / "model.pt").read_bytes() == (shelf / "tiny.pt").read_bytes()
    assert result.metrics["weights_sha256"] == metrics["weights_sha256"]
    assert result.metrics["machine"]["cpu"] == "the training machine"
    assert result.metrics["eval_seconds"] == metrics["eval_seconds"]
    assert result.metrics["evaluated_on"]["cpu"] == metrics["machine"]["cpu"]
    assert result.metrics["evaluated_on"]["seconds"] > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_a_gpu_runs_shipped_weights_are_evaluated_on_the_cpu(shelf, trained, data_root, tmp_path, monkeypatch):
    """A GPU page re-executes on a machine without a GPU: its shipped weights are evaluated on the
    CPU, giving the CPU's numbers; only training it anew needs the GPU, and says so."""
    config, _, metrics = trained
    gpu = dataclasses.replace(config, device="cuda")
    shipped = json.loads((shelf / "tiny.json").read_text())
    shipped["config"]["device"] = "cuda"
    (shelf / "tiny.json").write_text(json.dumps(shipped))
    result = run(gpu, tmp_path / "fresh", data_root=data_root, progress=False)
    assert result.metrics["shipped_weights"] == "tiny"
    assert "gpu" not in result.metrics["evaluated_on"]
    assert result.metrics["test_total"] == pytest.approx(metrics["test_total"], abs=1e-4)
    monkeypatch.setenv("VAECORE_SHIPPED", "off")
    with pytest.raises(DeviceUnavailable, match="'device' is 'cuda'"):
        run(gpu, tmp_path / "anew", data_root=data_root, progress=False)


def test_run_trains_anew_where_shipped_weights_are_turned_off(shelf, trained, data_root, tmp_path, monkeypatch):
    """VAECORE_SHIPPED=off (vaecore sweep --retrain): the run trains although the book ships its weights."""
    monkeypatch.setenv("VAECORE_SHIPPED", "off")
    result = run(trained[0], tmp_path / "fresh", data_root=data_root, progress=False)
    assert result.metrics["shipped_weights"] is None
    assert (tmp_path / "fresh" / "checkpoint.pt").exists()


def test_a_run_given_more_threads_says_so(trained, data_root, tmp_path, monkeypatch):
    """A run whose sweep raised its threads records the count it started with and the raised one."""
    monkeypatch.setenv("VAECORE_SHIPPED", "off")
    (tmp_path / "raised").mkdir()
    (tmp_path / "raised" / "threads").write_text("2")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        machine = run(trained[0], tmp_path / "raised", data_root=data_root, progress=False).metrics["machine"]
    finally:
        torch.set_num_threads(before)
    assert (machine["threads"], machine["threads_raised_to"]) == (1, 2)


def test_cli_evaluate_prints_the_recorded_numbers(shelf, trained, data_root, capsys):
    metrics = trained[2]
    assert main(["evaluate", "tiny", "--iwae-k", str(metrics["iwae_k"]), "--data", str(data_root)]) == 0
    printed = json.loads(capsys.readouterr().out)
    for key in ("test_recon", "test_kl", "test_total", "test_iwae_nll"):
        assert printed[key] == pytest.approx(metrics[key], abs=1e-3), key


def test_cli_evaluate_names_an_unknown_model(shelf, capsys):
    assert main(["evaluate", "n99"]) == 2
    assert "no shipped model or file 'n99'" in capsys.readouterr().err


def test_every_shipped_model_gives_its_committed_numbers(data_root):
    """The chain from the weights in the repository to the numbers in the book, the GPU runs'
    too: every page's numbers come from an evaluation on the CPU."""
    from vaecore.data import load

    models = weights.shipped()
    if not models:
        pytest.skip("no shipped models")
    x = {}
    for name, metrics in models.items():
        model, config = weights.load_with_config(name)
        key = (config.dataset, config.test_size)
        if key not in x:
            x[key] = load(config.dataset, train=False, root=data_root, size=config.test_size).x
        terms = elbo(model, x[key], config)
        for term in ("recon", "kl", "total"):
            assert getattr(terms, term) == pytest.approx(metrics[f"test_{term}"], abs=0.01), (name, term)


def test_every_gpu_page_evaluated_its_gpu_runs_weights_on_the_cpu():
    """A GPU page's numbers are its own GPU run's weights (their SHA-256 as recorded), evaluated on the
    CPU, where any reader repeats them; its record keeps the GPU that trained them."""
    pages = sorted((weights.shipped_dir().parent / "experiments-gpu").glob("*.json"))
    if not pages:
        pytest.skip("no GPU pages")
    for page in pages:
        metrics, path = json.loads(page.read_text()), page.with_suffix(".pt")
        assert weights.sha256(path) == metrics["weights_sha256"], path.name
        assert metrics["config"]["device"] == "cuda", path.name
        assert metrics["shipped_weights"] == f"{page.stem}-gpu", path.name
        assert "gpu" in metrics["machine"] and "gpu" not in metrics["evaluated_on"], path.name
