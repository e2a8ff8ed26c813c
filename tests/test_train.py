"""The trainer: it learns, is reproducible, resumes exactly and fails safely."""

import dataclasses

import pytest
import torch

from vaecore.data import Split
from vaecore.evaluate import elbo
from vaecore.model import build_model
from vaecore.train import (HISTORY_KEYS, CheckpointMismatch, TrainingDiverged, load_checkpoint,
                           make_optimizer, train, train_epoch)


def without_seconds(history):
    """A history minus its wall-clock times, which differ between identical runs."""
    return {key: value for key, value in history.items() if key != "seconds"}


def weights(model):
    return {name: value.clone() for name, value in model.state_dict().items()}


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def small(split: Split, size: int) -> Split:
    return Split(split.x[:size], split.y[:size])


def test_train_epoch_changes_weights(mnist, tiny_config):
    """One epoch of optimiser steps moves every parameter and reports finite (total, recon, kl)."""
    config = tiny_config()
    model = build_model(config, 784)
    before = weights(model)
    terms = train_epoch(model, make_optimizer(model, config), mnist[0].x[:200], config)
    after = weights(model)
    assert all(not torch.equal(before[k], after[k]) for k in before)
    assert terms.shape == (3,) and torch.isfinite(terms).all()
    torch.testing.assert_close(terms[0], terms[1] + config.beta * terms[2])


def test_elbo_changes_neither_weights_nor_global_rng(mnist, tiny_config):
    """Evaluation is side-effect free: same weights and same global RNG state afterwards."""
    config = tiny_config()
    model = build_model(config, 784)
    before, rng = weights(model), torch.get_rng_state()
    elbo(model, mnist[1].x, config, seed=3)
    assert same_weights(before, weights(model))
    assert torch.equal(torch.get_rng_state(), rng)


@pytest.mark.slow
@pytest.mark.parametrize("n", [1, 2, 16])
def test_a_few_epochs_lower_the_test_loss(mnist, tiny_config, tmp_path, n):
    """Three epochs on 1000 images lower the test-set loss, with one history row per epoch."""
    config = tiny_config(n=n, epochs=3)
    model, history = train(config, *mnist, tmp_path, progress=False)
    assert history["epoch"] == [1, 2, 3]
    assert set(history) == set(HISTORY_KEYS) and all(len(v) == 3 for v in history.values())
    assert history["test_total"][-1] < history["test_total"][0]
    assert not model.training


def test_same_seed_same_run(mnist, tiny_config, tmp_path):
    """Two runs of one config give identical histories and bit-identical weights."""
    config, data = tiny_config(epochs=2), (small(mnist[0], 300), small(mnist[1], 100))
    model_a, history_a = train(config, *data, tmp_path / "a", progress=False)
    model_b, history_b = train(config, *data, tmp_path / "b", progress=False)
    assert without_seconds(history_a) == without_seconds(history_b)
    assert same_weights(model_a.state_dict(), model_b.state_dict())


def test_a_threads_file_sets_the_threads_and_changes_the_numbers_at_most_by_rounding(mnist, tiny_config, tmp_path):
    """A run told to use two threads by its folder's ``threads`` file (vaecore sweep writes it for
    the last runs of a sweep) takes them. It trains to the same numbers as on one thread up to float
    rounding: on some CPUs to the bit, on others a matmul split over two threads sums in another order."""
    config, data = tiny_config(n=64, hidden=(256, 256), epochs=2), (small(mnist[0], 600), small(mnist[1], 100))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one, history_one = train(config, *data, tmp_path / "a", progress=False)
        (tmp_path / "b").mkdir()
        (tmp_path / "b" / "threads").write_text("2")
        two, history_two = train(config, *data, tmp_path / "b", progress=False)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    for key, values in without_seconds(history_one).items():
        numbers = all(isinstance(value, float) for value in values)
        assert history_two[key] == (pytest.approx(values, rel=1e-5) if numbers else values), key
    for name, value in one.state_dict().items():
        torch.testing.assert_close(two.state_dict()[name], value, rtol=1e-3, atol=1e-4)


def test_other_seed_other_run(mnist, tiny_config, tmp_path):
    """The seed matters: another seed gives other weights."""
    data = (small(mnist[0], 100), small(mnist[1], 50))
    model_a, _ = train(tiny_config(seed=0), *data, tmp_path / "a", progress=False)
    model_b, _ = train(tiny_config(seed=1), *data, tmp_path / "b", progress=False)
    assert not same_weights(model_a.state_dict(), model_b.state_dict())


@pytest.mark.parametrize("stop_after", [1, 2])
def test_resumed_run_equals_uninterrupted_run(mnist, tiny_config, tmp_path, stop_after):
    """Stopping after epoch k and resuming gives the same weights and history as never stopping."""
    config, data = tiny_config(epochs=3), (small(mnist[0], 300), small(mnist[1], 100))
    train(dataclasses.replace(config, epochs=stop_after), *data, tmp_path / "a", progress=False)
    resumed, history_resumed = train(config, *data, tmp_path / "a", resume=True, progress=False)
    straight, history_straight = train(config, *data, tmp_path / "b", progress=False)
    assert history_resumed["epoch"] == [1, 2, 3]
    assert without_seconds(history_resumed) == without_seconds(history_straight)
    assert same_weights(resumed.state_dict(), straight.state_dict())


def test_existing_checkpoint_needs_resume(mnist, tiny_config, tmp_path):
    """Training into a folder holding a checkpoint, without resume, refuses to overwrite it."""
    config, data = tiny_config(), (small(mnist[0], 100), small(mnist[1], 50))
    train(config, *data, tmp_path, progress=False)
    with pytest.raises(FileExistsError, match="checkpoint.pt"):
        train(config, *data, tmp_path, progress=False)


def test_resume_with_another_config_fails(mnist, tiny_config, tmp_path):
    """A checkpoint cannot be resumed under a config with another beta."""
    data = (small(mnist[0], 100), small(mnist[1], 50))
    train(tiny_config(beta=1.0), *data, tmp_path, progress=False)
    with pytest.raises(ValueError, match="another config"):
        train(tiny_config(beta=2.0, epochs=2), *data, tmp_path, resume=True, progress=False)


def test_checkpoint_loads_with_weights_only(mnist, tiny_config, tmp_path):
    """checkpoint.pt holds only plain data: torch.load(weights_only=True) reads it."""
    config, data = tiny_config(), (small(mnist[0], 100), small(mnist[1], 50))
    model, history = train(config, *data, tmp_path, progress=False)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["config"] == config.to_dict()
    assert state["history"] == history
    assert same_weights(state["model"], model.state_dict())
    assert not (tmp_path / "checkpoint.pt.tmp").exists()


def test_nan_loss_raises_and_keeps_last_good_checkpoint(mnist, tiny_config, tmp_path):
    """A NaN loss stops training with TrainingDiverged; the checkpoint on disk is the last good epoch."""
    config, (train_set, test_set) = tiny_config(), (small(mnist[0], 100), small(mnist[1], 50))
    model, _ = train(config, train_set, test_set, tmp_path, progress=False)
    poisoned = train_set.x.clone()
    poisoned[3, 100] = float("nan")
    with pytest.raises(TrainingDiverged, match="epoch 2"):
        train(dataclasses.replace(config, epochs=3), Split(poisoned, train_set.y), test_set, tmp_path,
              resume=True, progress=False)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["history"]["epoch"] == [1]
    assert same_weights(state["model"], model.state_dict())
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_nan_loss_in_the_first_epoch_says_no_checkpoint_was_written(mnist, tiny_config, tmp_path):
    """Divergence before any checkpoint says so, instead of claiming a last good one."""
    train_set, test_set = small(mnist[0], 100), small(mnist[1], 50)
    poisoned = train_set.x.clone()
    poisoned[3, 100] = float("nan")
    with pytest.raises(TrainingDiverged, match=f"epoch 1; stopped, no checkpoint was written in {tmp_path}") as error:
        train(tiny_config(), Split(poisoned, train_set.y), test_set, tmp_path, progress=False)
    assert "last good" not in str(error.value)
    assert not (tmp_path / "checkpoint.pt").exists()


def test_checkpoint_with_more_epochs_than_asked_is_refused(mnist, tiny_config, tmp_path):
    """A 2-epoch checkpoint is never returned as the result of a 1-epoch config."""
    data = (small(mnist[0], 100), small(mnist[1], 50))
    train(tiny_config(epochs=2), *data, tmp_path, progress=False)
    with pytest.raises(CheckpointMismatch, match=f"{tmp_path} holds a run of 2 epochs, more than the 1"):
        train(tiny_config(epochs=1), *data, tmp_path, resume=True, progress=False)
