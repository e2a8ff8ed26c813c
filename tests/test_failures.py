"""Every failure a user can cause: `vaecore train` exits non-zero with one sentence naming the
culprit, never a traceback, and loses nothing already written."""

import dataclasses
import errno
import fcntl
import json
import os
import re
import shlex
import tempfile
import urllib.error

import pytest
import torch
import torchvision.datasets.mnist
import yaml

import vaecore.experiment
import vaecore.folder
import vaecore.train
import vaecore.weights
from vaecore.cli import main
from vaecore.config import Config
from vaecore.data import load
from vaecore.runs import RunsError
from vaecore.train import load_checkpoint, train

TINY = {"n": 2, "epochs": 1, "hidden": [32], "lr": 1.0e-3, "batch_size": 50,
        "train_size": 100, "test_size": 50, "iwae_k": 2}


@pytest.fixture
def env(data_root, tmp_path, monkeypatch):
    """Data from the test data root, run folders in tmp_path; returns tmp_path."""
    monkeypatch.setenv("VAECORE_DATA", str(data_root))
    monkeypatch.setenv("VAECORE_RUNS", str(tmp_path / "runs"))
    return tmp_path


def params_file(folder, text=None, **overrides):
    path = folder / "tiny.yaml"
    path.write_text(text if text is not None else yaml.safe_dump({**TINY, **overrides}))
    return path


def fails(capsys, argv, code=2):
    """Run `vaecore` with ``argv``; assert the exit code, no traceback and one message, last.

    Returns:
        The message (progress bars may precede it on stderr).
    """
    assert main([str(a) for a in argv]) == code
    err = capsys.readouterr().err
    messages = [line for line in err.splitlines() if line.startswith("vaecore: ")]
    assert "Traceback" not in err and len(messages) == 1 and err.endswith(messages[0] + "\n"), err
    return messages[0]


def no_data_loading(monkeypatch):
    """Make loading data fail the test: the error must come before it."""
    monkeypatch.setattr(vaecore.experiment, "load", lambda *a, **k: pytest.fail("data loaded"))


def trained(out, **overrides):
    """Train TINY (with ``overrides``) into ``out`` as `vaecore train` would; returns the checkpoint."""
    config = Config.from_dict({**TINY, "hidden": tuple(TINY["hidden"]), **overrides})
    data = load("mnist", True, size=100), load("mnist", False, size=50)
    train(config, *data, out, progress=False)
    return out / "checkpoint.pt"


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage", "not vaecore's"])
def test_damaged_checkpoint(env, capsys, damage):
    """A checkpoint that cannot be read, or is not one of vaecore's, is named with what to do."""
    out = env / "out"
    out.mkdir()
    checkpoint = out / "checkpoint.pt"
    if damage == "truncated":
        trained(out)
        checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    else:
        with open(checkpoint, "wb") as file:
            {"empty": lambda: None, "garbage": lambda: file.write(os.urandom(3000)),
             "not vaecore's": lambda: torch.save({"weights": torch.zeros(3)}, file)}[damage]()
    err = fails(capsys, ["train", params_file(env), "--out", out, "--resume"])
    assert str(checkpoint) in err and "delete it" in err and "weights_only" not in err


def test_second_run_on_a_locked_folder_refuses_at_once(env, capsys):
    """While another process holds the folder's lock, a run refuses naming the folder and the PID."""
    out = env / "out"
    out.mkdir()
    fd = os.open(out / ".lock", os.O_RDWR | os.O_CREAT)  # another open file: flock conflicts like a process
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, b"4242\n")
        err = fails(capsys, ["train", params_file(env), "--out", out])
    finally:
        os.close(fd)
    assert str(out) in err and "PID 4242" in err
    assert not (out / "checkpoint.pt").exists()
    assert main(["train", str(params_file(env)), "--out", str(out)]) == 0  # free again: it runs


def test_full_disk_keeps_the_previous_checkpoint(env, capsys, monkeypatch):
    """A write that fills the disk leaves no .tmp, the previous checkpoint intact, and names the folder."""
    out = env / "out"
    checkpoint = trained(out)
    before = checkpoint.read_bytes()

    def full(state, file):
        file.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(vaecore.train.torch, "save", full)
    err = fails(capsys, ["train", params_file(env), "--out", out, "--resume", "--epochs", "2"])
    assert str(out) in err and "No space left on device" in err and "previous checkpoint.pt is kept" in err
    assert sorted(p.name for p in out.glob("*.tmp")) == []
    assert checkpoint.read_bytes() == before
    assert load_checkpoint(checkpoint)["history"]["epoch"] == [1]


@pytest.mark.parametrize("text, says", [
    ("n: 2\nbeta: [1, 2\n", "not valid YAML at line"),
    ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "n: &n [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n", "aliases"),
    ("n: 2\n" + "# padding\n" * 10000, "larger than 64 KiB"),
], ids=["syntax error", "alias bomb", "too big"])
def test_bad_yaml(env, capsys, text, says):
    """A params file that is not valid YAML, has aliases or is huge is refused naming the file."""
    err = fails(capsys, ["train", params_file(env, text), "--out", env / "out"])
    assert "tiny.yaml" in err and says in err
    assert not (env / "out").exists()


def test_huge_value_is_shortened_in_the_message(env, capsys):
    """A value of thousands of characters is shown shortened, not whole."""
    err = fails(capsys, ["train", params_file(env, dataset="x" * 20000), "--out", env / "out"])
    assert "'dataset'" in err and len(err) < 300


def test_missing_data_without_network(env, capsys, monkeypatch):
    """An empty data folder and no internet: one sentence naming the folder and VAECORE_DATA."""
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive", offline)
    empty = env / "empty"
    empty.mkdir()
    monkeypatch.setenv("VAECORE_DATA", str(empty))
    err = fails(capsys, ["train", params_file(env), "--out", env / "out"])
    assert str(empty / "MNIST" / "raw") in err and "VAECORE_DATA" in err
    assert not (empty / "MNIST" / "raw").exists()  # no half download to trip over next time


@pytest.mark.parametrize("kind", ["file", "symlink loop"])
def test_data_folder_that_cannot_be_a_folder(env, capsys, monkeypatch, kind):
    """VAECORE_DATA naming a file or a symlink loop is one sentence naming it, before any download."""
    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive",
                        lambda *a, **k: pytest.fail("download attempted"))
    root = env / "data"
    if kind == "file":
        root.write_text("not a folder")
    else:
        root.symlink_to(env / "loop")
        (env / "loop").symlink_to(root)
    monkeypatch.setenv("VAECORE_DATA", str(root))
    err = fails(capsys, ["train", params_file(env), "--out", env / "out"])
    assert f"data folder {root}" in err and "VAECORE_DATA" in err


def test_read_only_output_folder(env, capsys, monkeypatch):
    """An output folder that cannot be written is found before the data loads, naming the folder."""
    out = env / "out"
    out.mkdir()
    out.chmod(0o555)
    if os.geteuid() == 0:  # root writes anyway: fail the write probe as the kernel would for a user
        def denied(*args, **kwargs):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

        monkeypatch.setattr(tempfile, "TemporaryFile", denied)
    no_data_loading(monkeypatch)
    try:
        err = fails(capsys, ["train", params_file(env), "--out", out])
    finally:
        out.chmod(0o755)
    assert f"output folder {out}" in err and "Permission denied" in err


@pytest.mark.parametrize("key, value", [("lr", ".inf"), ("beta", ".inf"), ("lr", ".nan"), ("beta", "-.inf")])
def test_non_finite_rate_or_weight(env, capsys, key, value):
    """lr and beta must be finite numbers."""
    text = yaml.safe_dump({**TINY, key: 1.0}).replace(f"{key}: 1.0", f"{key}: {value}")
    err = fails(capsys, ["train", params_file(env, text), "--out", env / "out"])
    assert f"'{key}'" in err and "finite" in err


@pytest.mark.parametrize("key, value", [("n", 10**9), ("hidden", [10**6, 10**6]), ("n", 10**400)])
def test_too_big_for_memory_is_refused_up_front(env, capsys, monkeypatch, key, value):
    """A config that cannot fit in memory is refused before the data loads, naming the key."""
    no_data_loading(monkeypatch)
    err = fails(capsys, ["train", params_file(env, **{key: value}), "--out", env / "out"])
    assert f"config key '{key}'" in err and "GiB" in err


def test_ctrl_c_says_how_to_resume(env, capsys, monkeypatch):
    """Ctrl-C in epoch 2: exit 130, no traceback, and the printed command finishes the run."""
    epochs = []
    real_epoch = vaecore.train.train_epoch

    def interrupted_in_epoch_2(*args):
        epochs.append(1)
        if len(epochs) == 2:
            raise KeyboardInterrupt
        return real_epoch(*args)

    monkeypatch.setattr(vaecore.train, "train_epoch", interrupted_in_epoch_2)
    out = env / "out"
    err = fails(capsys, ["train", params_file(env), "--out", out, "--epochs", "3"], code=130)
    command = shlex.split(err.split("continue with ", 1)[1])
    assert command[:2] == ["vaecore", "train"] and command[-1] == "--resume" and "KeyboardInterrupt" not in err
    assert load_checkpoint(out / "checkpoint.pt")["history"]["epoch"] == [1]
    assert main(command[1:]) == 0
    assert load_checkpoint(out / "checkpoint.pt")["history"]["epoch"] == [1, 2, 3]


def test_more_epochs_on_disk_than_asked(env, capsys):
    """A checkpoint of 2 epochs is never returned as a 1-epoch run: an error naming the folder."""
    out = env / "out"
    trained(out, epochs=2)
    err = fails(capsys, ["train", params_file(env), "--out", out, "--resume", "--epochs", "1"])
    assert f"{out} holds a run of 2 epochs" in err


def test_torch_reporting_a_full_disk_as_runtime_error(env, capsys, monkeypatch):
    """torch.save reports a disk that fills mid-write as a RuntimeError raised while handling the
    OSError (as measured on a full tmpfs): still one sentence, and the previous checkpoint kept."""
    out = env / "out"
    checkpoint = trained(out)
    before = checkpoint.read_bytes()

    def full(state, file):
        file.write(b"PK\x03\x04 half a checkpoint")
        try:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    monkeypatch.setattr(vaecore.train.torch, "save", full)
    err = fails(capsys, ["train", params_file(env), "--out", out, "--resume", "--epochs", "2"])
    assert str(out) in err and "No space left on device" in err and "previous checkpoint.pt is kept" in err
    assert "enforce fail" not in err and sorted(p.name for p in out.glob("*.tmp")) == []
    assert checkpoint.read_bytes() == before


def test_a_full_disk_that_a_library_does_not_report_as_such(tmp_path, monkeypatch):
    """A writer that drops the OSError of a full disk: the free space tells, and the message says so."""
    def lost(file):
        raise RuntimeError("write failed")

    monkeypatch.setattr(os, "statvfs", lambda path: os.statvfs_result((4096,) * 3 + (0, 0) + (0,) * 5))
    with pytest.raises(vaecore.folder.OutputError, match="No space left on device"):
        vaecore.folder.write_atomically(tmp_path / "x.pt", lost)
    assert list(tmp_path.iterdir()) == []


def test_lr_too_large_for_a_finite_likelihood(env, capsys):
    """lr 1 trains a model whose IWAE estimate is NaN: an error naming the run and the quantity,
    and no metrics.json or weights to publish (with lr 0.3 the report's model does the same)."""
    out = env / "out"
    err = fails(capsys, ["train", params_file(env, lr=1.0), "--out", out])
    assert f"the run in {out}" in err and "test_iwae_nll = nan" in err and "smaller lr" in err
    assert not (out / "metrics.json").exists() and not (out / "model.pt").exists()


def test_non_finite_numbers_are_found_wherever_they_are():
    from vaecore.experiment import NotFinite, check_finite

    check_finite({"test_total": 1.0, "history": {"test_kl": [1.0, 2.0]}, "iwae_k": 2}, "ok")
    with pytest.raises(NotFinite, match=r"the run gave history\.test_kl\[1\] = inf"):
        check_finite({"test_total": 1.0, "history": {"test_kl": [1.0, float("inf")]}}, "the run")


def test_cuda_without_a_gpu_is_refused_not_run_on_the_cpu(env, capsys, monkeypatch):
    """--device cuda on a machine without a GPU: one sentence, before any data or folder, no
    run recorded as a GPU run."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    no_data_loading(monkeypatch)
    out = env / "out"
    err = fails(capsys, ["train", params_file(env), "--out", out, "--device", "cuda"])
    assert "'device'" in err and "'cuda'" in err and "no GPU" in err
    assert not out.exists()


@pytest.fixture(scope="module")
def made(data_root, tmp_path_factory):
    """The folder of TINY trained by `vaecore train`, once for the tests below."""
    folder = tmp_path_factory.mktemp("made")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VAECORE_DATA", str(data_root))
        patch.setenv("VAECORE_RUNS", str(folder / "runs"))
        assert main(["train", str(params_file(folder)), "--out", str(folder / "out")]) == 0
    return folder / "out"


@pytest.fixture
def shelf(env, made, monkeypatch):
    """Shipped models in env/shelf, TINY's as ``tiny``, and params files in env/params, TINY's as ``tiny.yaml``."""
    shelf, params = env / "shelf", env / "params"
    shelf.mkdir()
    params.mkdir()
    (shelf / "tiny.pt").write_bytes((made / "model.pt").read_bytes())
    (shelf / "tiny.json").write_text((made / "metrics.json").read_text())
    (params / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    monkeypatch.setattr(vaecore.weights, "shipped_dir", lambda: shelf)
    monkeypatch.setattr(vaecore.weights, "params_dir", lambda: params, raising=False)  # absent before it read them
    return shelf


def test_train_trains_where_the_book_ships_the_weights(env, shelf, capsys):
    """`vaecore train` writes a checkpoint (and can resume it) although a shipped model matches."""
    out = env / "out"
    assert main(["train", str(params_file(env)), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert (out / "checkpoint.pt").is_file() and metrics["shipped_weights"] is None
    assert main(["train", str(params_file(env)), "--out", str(out), "--resume", "--epochs", "2"]) == 0
    assert load_checkpoint(out / "checkpoint.pt")["history"]["epoch"] == [1, 2]


def test_evaluating_shipped_weights_instead_of_training_says_so(env, shelf, capfd):
    """A page's run without a checkpoint evaluates the shipped model, and says so on the terminal."""
    config = Config.from_dict({**TINY, "hidden": tuple(TINY["hidden"])})
    result = vaecore.experiment.run(config, env / "page", progress=False)
    assert result.metrics["shipped_weights"] == "tiny" and not (env / "page" / "checkpoint.pt").exists()
    err = capfd.readouterr().err
    assert "no training" in err and str(shelf / "tiny.pt") in err


def test_a_gpu_runs_shipped_weights_are_evaluated_from_their_own_folder(env, shelf, capfd, monkeypatch):
    """A GPU page's stand-in, ``<name>-gpu``, is read from the GPU runs' folder beside the shipped
    models: its weights, and the history its page shows."""
    gpu = shelf.parent / "experiments-gpu"
    gpu.mkdir()
    for suffix in ("pt", "json"):
        (gpu / f"tiny.{suffix}").write_bytes((shelf / f"tiny.{suffix}").read_bytes())
    (shelf / "tiny.json").unlink()  # only the GPU run's copy can answer
    monkeypatch.setattr(vaecore.weights, "find", lambda config: "tiny-gpu")
    config = Config.from_dict({**TINY, "hidden": tuple(TINY["hidden"])})
    result = vaecore.experiment.run(config, env / "page", progress=False)
    assert result.metrics["shipped_weights"] == "tiny-gpu"
    assert result.history == json.loads((gpu / "tiny.json").read_text())["history"]
    assert str(gpu / "tiny.pt") in capfd.readouterr().err


def truncated(path):
    path.write_text(path.read_text()[:200])


def test_a_truncated_shipped_json_breaks_only_what_needs_it(env, shelf, capsys):
    """Another model's truncated metrics: loading, evaluating and training this one still work;
    loading that one names its file."""
    (shelf / "other.pt").write_bytes((shelf / "tiny.pt").read_bytes())
    (shelf / "other.json").write_text((shelf / "tiny.json").read_text())
    truncated(shelf / "other.json")
    assert vaecore.load("tiny") is not None
    assert main(["evaluate", "tiny"]) == 0
    capsys.readouterr()
    assert main(["train", str(params_file(env, seed=1)), "--out", str(env / "out")]) == 0
    capsys.readouterr()
    err = fails(capsys, ["evaluate", "other"])
    assert str(shelf / "other.json") in err and "not valid JSON" in err


def test_a_truncated_shipped_json_is_named_by_the_run_that_needs_it(env, shelf, capsys):
    """The run whose shipped metrics are damaged is told which file; an unrelated run trains."""
    truncated(shelf / "tiny.json")
    config = Config.from_dict({**TINY, "hidden": tuple(TINY["hidden"])})
    with pytest.raises(RunsError, match=re.escape(f"{shelf / 'tiny.json'} is not valid JSON")):
        vaecore.experiment.run(config, env / "page", progress=False)
    other = vaecore.experiment.run(dataclasses.replace(config, seed=1), env / "other", progress=False)
    assert other.metrics["shipped_weights"] is None


def test_a_config_key_from_a_newer_version_names_its_file(env, shelf, capsys):
    metrics = json.loads((shelf / "tiny.json").read_text())
    metrics["config"]["prior"] = "vamp"
    (shelf / "tiny.json").write_text(json.dumps(metrics))
    err = fails(capsys, ["evaluate", "tiny"])
    assert str(shelf / "tiny.json") in err and "'prior'" in err and "newer vaecore" in err


def test_the_books_tables_name_a_damaged_metrics_file(tmp_path):
    from vaecore.runs import load as load_runs

    (tmp_path / "n2-beta1.json").write_text('{"config": {"n": 2}, "test_total": 1')
    (tmp_path / "n2-beta1.pt").write_bytes(b"weights")  # a published run: its metrics are damaged
    with pytest.raises(RunsError, match=re.escape(f"{tmp_path / 'n2-beta1.json'} is not valid JSON")):
        load_runs(tmp_path)


def test_a_test_set_too_small_for_the_default_tsne(env, capsys):
    """10 test images and n = 3, whose codes are drawn as a t-SNE map: the run finishes with every figure."""
    out = env / "out"
    assert main(["train", str(params_file(env, n=3, test_size=10)), "--out", str(out)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert (out / "latent_codes.png").stat().st_size > 0 and (out / "metrics.json").is_file()
