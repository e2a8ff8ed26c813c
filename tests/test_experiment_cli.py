"""`vaecore train` end to end: checkpoint, metrics.json, config.yaml and figures; errors exit 2."""

import dataclasses
import json
import shutil

import pytest
import yaml

from vaecore.cli import main
from vaecore.config import Config
from vaecore.experiment import run, run_dir

pytestmark = pytest.mark.slow

TINY = {"n": 2, "epochs": 2, "hidden": [64, 64], "lr": 1.0e-3, "batch_size": 100,
        "train_size": 500, "test_size": 100, "iwae_k": 8}
FIGURES = ("loss_curves", "latent_codes", "reconstructions", "prior_samples", "latent_traversal")


@pytest.fixture
def env(data_root, tmp_path, monkeypatch):
    """Data from the test data root; default run folders inside tmp_path, never in ~/.cache."""
    monkeypatch.setenv("VAECORE_DATA", str(data_root))
    monkeypatch.setenv("VAECORE_RUNS", str(tmp_path / "runs"))
    return tmp_path


def params_file(folder, **overrides):
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump({**TINY, **overrides}))
    return path


@pytest.fixture(scope="module")
def finished(data_root, tmp_path_factory):
    """(params file, out folder) of one completed `vaecore train` run, shared by the tests below."""
    folder = tmp_path_factory.mktemp("cli")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VAECORE_DATA", str(data_root))
        patch.setenv("VAECORE_RUNS", str(folder / "runs"))
        assert main(["train", str(params_file(folder)), "--out", str(folder / "out")]) == 0
    return folder / "tiny.yaml", folder / "out"


def test_train_writes_checkpoint_metrics_config_and_figures(finished):
    """A run leaves checkpoint.pt, metrics.json, config.yaml and one PNG per figure (n = 2)."""
    _, out = finished
    for name in ("checkpoint.pt", "metrics.json", "config.yaml", *(f"{f}.png" for f in FIGURES)):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert (out / "loss_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_metrics_json_contents(finished):
    """metrics.json has the test terms, the IWAE NLL, the config and the per-epoch history."""
    params, out = finished
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("test_bce", "test_kl", "test_total", "test_iwae_nll", "config", "history"):
        assert key in metrics, key
    assert metrics["config"] == Config.from_yaml(params).to_dict()
    assert metrics["history"]["epoch"] == [1, 2]
    assert metrics["test_total"] == pytest.approx(metrics["test_bce"] + metrics["test_kl"])
    assert metrics["test_iwae_nll"] < metrics["test_total"]
    assert (metrics["train_images"], metrics["test_images"], metrics["iwae_k"]) == (500, 100, 8)
    assert Config.from_yaml(out / "config.yaml") == Config.from_yaml(params)


def test_second_run_without_resume_exits_2(env, finished, capsys):
    """Training again into a folder with a checkpoint is refused with exit code 2 and a message."""
    params, out = finished
    assert main(["train", str(params), "--out", str(out)]) == 2
    assert "checkpoint.pt exists" in capsys.readouterr().err


def test_resume_continues_to_more_epochs(env, finished):
    """--resume with more --epochs continues the run instead of starting over."""
    params, out = finished
    copy = shutil.copytree(out, env / "copy")
    assert main(["train", str(params), "--out", str(copy), "--resume", "--epochs", "3"]) == 0
    metrics = json.loads((copy / "metrics.json").read_text())
    old = json.loads((out / "metrics.json").read_text())
    assert metrics["history"]["epoch"] == [1, 2, 3]
    assert metrics["history"]["test_total"][:2] == old["history"]["test_total"]


def test_epochs_override(env, capsys):
    """--epochs 1 overrides the params file, in the run, config.yaml and metrics.json."""
    out = env / "out"
    assert main(["train", str(params_file(env)), "--out", str(out), "--epochs", "1"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(printed) == {"test_recon", "test_kl", "test_total", "test_iwae_nll"}
    assert Config.from_yaml(out / "config.yaml").epochs == 1
    assert json.loads((out / "metrics.json").read_text())["history"]["epoch"] == [1]


@pytest.mark.parametrize("bad, key", [({"latent": 3}, "latent"), ({"beta": -1}, "beta"),
                                      ({"likelihood": "poisson"}, "likelihood")])
def test_bad_params_file_exits_2_naming_the_key(env, capsys, bad, key):
    """A bad params file exits with code 2 and names the key on stderr, before any training."""
    assert main(["train", str(params_file(env, **bad)), "--out", str(env / "out")]) == 2
    assert f"'{key}'" in capsys.readouterr().err
    assert not (env / "out").exists()


def test_run_reuses_metrics_of_a_finished_run(env):
    """experiment.run defaults to a folder under $VAECORE_RUNS and does not re-evaluate a finished run."""
    config = Config(**{**TINY, "hidden": (64, 64), "epochs": 1})
    first = run(config, progress=False)
    assert (run_dir(config) / "metrics.json").is_file()
    assert run_dir(config).parent == env / "runs"
    second = run(config, progress=False)
    assert second.metrics == first.metrics  # eval_seconds included: the file was reused


def test_run_folders_differ_in_epochs():
    """Configs differing only in epochs get folders of their own, named as before plus -e<epochs>."""
    config = Config(**{**TINY, "hidden": (64, 64)})
    short, long = run_dir(config), run_dir(dataclasses.replace(config, epochs=300))
    assert short != long and short.parent == long.parent
    assert long.name == f"mnist-n2-beta1-seed0-{config.fingerprint()}-e300-cpu"


def test_missing_params_file_exits_2(env, capsys):
    """A params path that does not exist exits with code 2 and names the path."""
    assert main(["train", str(env / "nope.yaml"), "--out", str(env / "out")]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_resume_with_another_config_exits_2(env, finished, capsys):
    """--resume on a checkpoint trained with another config exits with code 2 and a message."""
    _, out = finished
    copy = shutil.copytree(out, env / "copy")
    assert main(["train", str(params_file(env, beta=2.0)), "--out", str(copy), "--resume"]) == 2
    assert "another config" in capsys.readouterr().err
