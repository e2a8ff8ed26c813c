"""The beta study's selection, table and figures, on made-up metrics."""

import matplotlib.pyplot as plt
from matplotlib.collections import PathCollection
import pytest

from vaecore import study
from vaecore.config import Config
from vaecore.runs import grid
from vaecore.words import NBSP

PM = f"{NBSP}±{NBSP}"


def metrics(n, beta, **config):
    kl = 30 / (1 + beta)
    values = {"config": Config(n=n, beta=beta, **config).to_dict(), "test_recon": 60 + 10 * beta,
              "test_kl": kl, "test_iwae_nll": 90 + beta}
    if beta != 1:  # runs evaluated before latent usage was measured have none
        values |= {"kl_per_dim": [kl / n] * n, "active_units": n}
    return values


@pytest.fixture
def runs():
    runs = {f"n64-beta{b:g}": metrics(64, b) for b in (0.1, 1, 10, 2)}
    runs |= {f"n2-beta{b:g}": metrics(2, b) for b in (1, 0.5)}
    runs["n64-beta1-seed1"] = metrics(64, 1, seed=1)
    runs["smoke"] = metrics(2, 1, epochs=2, train_size=2000)
    return runs


def test_grid_takes_seed_0_full_protocol_runs_by_beta(runs):
    assert [name for _, name, _ in grid(runs, 64)] == ["n64-beta0.1", "n64-beta1", "n64-beta2", "n64-beta10"]
    assert [name for _, name, _ in grid(runs, 2)] == ["n2-beta0.5", "n2-beta1"]


def test_table_has_a_row_per_configuration_with_its_seeds_and_a_dash_where_usage_is_unmeasured(runs):
    rows = study.table(runs).splitlines()[2:]
    assert len(rows) == 6
    row = next(r for r in rows if "| 64 | 1 |" in r)
    assert row == (f"| 64 | 1 | 70.00{PM}0.00 | 15.00{PM}0.00 | 85.00{PM}0.00 | 91.00{PM}0.00 | — | "
                   "[0](experiments/n64-beta1.ipynb), [1](experiments/n64-beta1-seed1.ipynb) |")
    assert "| 64 | 0.1 | 61.00 | 27.27 | 88.27 | 90.10 | 64 | [0](experiments/n64-beta0.1.ipynb) |" in rows


def test_figures_draw_every_configuration_and_every_seed(runs):
    rd = study.rate_distortion(runs)
    assert len(rd.axes[0].lines[0].get_xdata()) == 4  # n = 64, four betas
    likelihood = study.likelihood(runs).axes[0]
    assert len(likelihood.containers) == 4  # IWAE and R + D for two latent sizes, with their bars
    dots = [c for c in likelihood.collections if isinstance(c, PathCollection)]
    assert len(dots[0].get_offsets()) == 5  # n = 64's IWAE: four betas, one with two seeds
    assert len(study.usage(runs).axes[1].lines) == 3  # n = 64 runs with per-dimension KLs
    plt.close("all")


def seeded(iwae, active=None):
    """Runs of n = 64 with the IWAE NLL (and active units) of each seed, by β."""
    runs = {}
    for beta, values in iwae.items():
        for seed, value in enumerate(values):
            runs[f"b{beta}-s{seed}"] = metrics(64, beta, seed=seed) | {"test_iwae_nll": value}
            if active:
                runs[f"b{beta}-s{seed}"]["active_units"] = active[beta][seed]
    return runs


def test_best_likelihood_holds_when_the_gap_exceeds_the_seeds_spread():
    best = study.best_likelihood(seeded({1: [95.9, 96.0, 95.8], 2: [97.2, 97.3, 97.1], 0.5: [99.0]}), 64)
    assert (best["beta"], best["seeds"]) == (1, 3) and best["mean"] == pytest.approx(95.9)
    assert best["text"] == f"95.90{PM}0.10"
    assert best["sentence"] == (f"The next best, β{NBSP}={NBSP}2 at 97.20{PM}0.10 over three seeds, is 1.30 nats "
                                "worse, 13.0 times the larger σ of the two: the optimum holds against the seeds.")


def test_best_likelihood_says_when_the_lead_is_narrow():
    """Between two and four σ the lead holds, narrowly (β = 1 and 1.5 of the book: 2.1σ)."""
    best = study.best_likelihood(seeded({1: [95.9, 96.0, 95.8], 1.5: [96.2, 96.3, 96.1]}), 64)
    assert best["sentence"].endswith("3.0 times the larger σ of the two: the optimum holds against the seeds, "
                                     "if narrowly.")


def test_best_likelihood_says_when_the_seeds_cannot_tell_the_two_apart():
    best = study.best_likelihood(seeded({1: [95.9, 96.4, 95.4], 1.5: [96.2]}), 64)
    assert f"0.30 nats worse, 0.6 times the σ of β{NBSP}={NBSP}1's seeds: within the seeds' noise" in best["sentence"]
    assert best["sentence"].endswith(f"though β{NBSP}={NBSP}1.5 has one seed.")


def test_usage_trend_judges_each_rise_of_the_count_against_the_seeds():
    iwae = {0.05: [1.0], 0.1: [1.0, 1.0, 1.0], 0.2: [1.0], 1: [1.0]}
    noisy = study.usage_trend(seeded(iwae, {0.05: [50], 0.1: [54, 38, 38], 0.2: [55], 1: [20]}), 64)
    assert noisy.startswith(f"The seeds of one β differ by up to σ{NBSP}={NBSP}9.2 units (β{NBSP}={NBSP}0.1).")
    assert "rises once as β grows, from 43 at β\u00a0=\u00a00.1 to 55 at β\u00a0=\u00a00.2: not by more" in noisy
    steady = study.usage_trend(seeded(iwae, {0.05: [44], 0.1: [45, 44, 46], 0.2: [60], 1: [20]}), 64)
    assert "rises twice" in steady and steady.endswith(f"one of them by more than 2{NBSP}σ.")


def test_collapse_holds_only_when_every_seed_of_the_largest_beta_keeps_fewer_units_than_any_at_beta_1():
    iwae = {1: [1.0, 1.0, 1.0], 20: [1.0, 1.0, 1.0]}
    held = study.collapse(seeded(iwae, {1: [18, 19, 17], 20: [1, 2, 1]}), 64)
    assert held == (f"At β{NBSP}={NBSP}20 its three seeds keep 1, 2 and 1 of the 64 dimensions, "
                    f"against 18.0{PM}1.0 at β{NBSP}={NBSP}1: the collapse holds in every seed.")
    assert study.collapse(seeded(iwae, {1: [18, 19, 9], 20: [1, 2, 10]}), 64).endswith("do not show a collapse.")
    one = study.collapse(seeded({1: [1.0], 20: [1.0]}, {1: [18], 20: [1]}), 64)
    assert one.startswith(f"At β{NBSP}={NBSP}20 its one seed keeps 1 of the 64 dimensions, against 18")
    assert one.endswith("the collapse holds on its one seed.")


def test_coverage_says_which_seeds_every_configuration_has():
    full = seeded({0.5: [1.0, 1.0, 1.0], 1: [1.0, 1.0, 1.0]})
    assert study.coverage(full).startswith("Every configuration was trained with seeds 0, 1 and 2, and each claim")
    partial = seeded({0.5: [1.0], 1: [1.0, 1.0, 1.0], 2: [1.0, 1.0]})
    assert study.coverage(partial).startswith("Every configuration has a run with seed 0, and two of the three also")
