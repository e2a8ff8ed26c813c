"""The training set against the test set from the runs' histories, on made-up metrics."""

import matplotlib.pyplot as plt
import pytest

from vaecore import generalisation
from vaecore.config import Config


def run(n, beta, seed=0, test_total=(100.0, 99.0, 99.5), gap=5.0):
    """A run whose last epoch's training distortion lies ``gap`` below its test distortion."""
    recon, kl = 60 + 10 * beta, 30 / (1 + beta)
    history = {"epoch": [1, 2, 3], "test_total": list(test_total), "train_recon": [90.0, 80.0, recon - gap],
               "train_kl": [1.0, 2.0, kl + 0.5]}
    return {"config": Config(n=n, beta=beta, seed=seed).to_dict(), "test_recon": recon, "test_kl": kl,
            "history": history}


@pytest.fixture
def runs():
    found = {f"n2-beta{b:g}-seed{s}": run(2, b, s, gap=5.0 + s) for b in (0.5, 1.0) for s in (0, 1)}
    found |= {f"n64-beta{b:g}": run(64, b, gap=0.0) for b in (1.0, 2.0)}
    found["n64-beta1-seed1"] = run(64, 1.0, 1, test_total=(100.0, 98.0, 98.7), gap=0.0)
    return found


def test_the_training_point_is_the_last_epochs_rate_and_distortion(runs):
    assert generalisation.train_point(runs["n2-beta1-seed0"]) == (15.5, 65.0)
    assert generalisation.test_point(runs["n2-beta1-seed0"]) == (15.0, 70.0)


def test_points_are_means_over_the_seeds_by_beta(runs):
    (beta, train, test), _ = generalisation.points(runs, 2)
    assert beta == 0.5
    assert train == pytest.approx((30 / 1.5 + 0.5, 65 - 5.5))  # the gaps of seeds 0 and 1: 5 and 6
    assert test == pytest.approx((20.0, 65.0))


def test_best_below_last_is_what_the_best_epoch_gains_over_the_last(runs):
    assert generalisation.best_below_last(runs["n64-beta1"]) == pytest.approx(0.5)
    found = generalisation.table1_best_below_last(runs)
    assert found["n64-beta1-seed1"] == pytest.approx(0.7)
    assert "n64-beta1" in found and "n2-beta0.5-seed0" not in found  # only the report's configurations


def test_the_figure_has_a_panel_per_latent_size_with_both_sets(runs):
    fig = generalisation.train_and_test(runs)
    assert [ax.get_title() for ax in fig.axes] == ["n = 64", "n = 2"]
    labels = [text.get_text() for text in fig.axes[1].get_legend().get_texts()]
    assert labels == ["training set", "test set"]
    train = [line for line in fig.axes[1].get_lines() if line.get_label() == "training set"][0]
    assert list(train.get_ydata()) == pytest.approx([59.5, 64.5])
    fig.canvas.draw()
    plt.close(fig)
