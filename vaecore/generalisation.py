"""The training set against the test set, from the runs' histories: the rate and distortion each
reached at the last epoch (a gap between them is generalisation, not optimisation), and how much
the best epoch's test loss lies below the last's."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from vaecore.original import ORIGINAL_TABLE1
from vaecore.runs import by_seed, seeds, spread, study_sizes
from vaecore.study import styles
from vaecore.style import WIDTH, styled


def train_point(metrics: dict) -> tuple[float, float]:
    """(rate, distortion) on the training set at the last epoch: the means over its batches, as the
    history records them (the weights move a little within the epoch)."""
    history = metrics["history"]
    return history["train_kl"][-1], history["train_recon"][-1]


def test_point(metrics: dict) -> tuple[float, float]:
    """(rate, distortion) of the evaluation on the test set after the last epoch."""
    return metrics["test_kl"], metrics["test_recon"]


def points(runs: dict[str, dict], n: int) -> list[tuple[float, tuple[float, float], tuple[float, float]]]:
    """Each β of latent size ``n``: (β, train (R, D), test (R, D)), each the mean over its seeds."""
    rows = []
    for beta, names in by_seed(runs, n):
        pairs = []
        for where in (train_point, test_point):
            values = [where(runs[name]) for name in names]
            pairs.append((spread([r for r, _ in values])[0], spread([d for _, d in values])[0]))
        rows.append((beta, *pairs))
    return rows


def best_below_last(metrics: dict, term: str = "test_total") -> float:
    """How far the best epoch's ``term`` in the history lies below the last epoch's, in nats (>= 0):
    what choosing the best epoch over the last would have gained on it."""
    values = metrics["history"][term]
    return values[-1] - min(values)


def table1_best_below_last(runs: dict[str, dict]) -> dict[str, float]:
    """:func:`best_below_last` of every seed's run of the report's Table 1 configurations, by run name."""
    return {name: best_below_last(runs[name]) for k, names in seeds(runs).items() if k in ORIGINAL_TABLE1
            for name in names.values()}


@styled
def train_and_test(runs: dict[str, dict]) -> Figure:
    """Distortion against rate on the training set (hollow) and on the test set (filled) at the last
    epoch, one panel per latent size of the β study, each β's two points joined and labelled by β;
    the means over each β's seeds."""
    style = styles(runs)
    sizes = study_sizes(runs)
    fig, axes = plt.subplots(1, len(sizes), figsize=(WIDTH, 3.2), squeeze=False)
    for ax, n in zip(axes[0], sizes):
        rows = points(runs, n)
        color = style[n]["color"]
        for beta, train, test in rows:
            ax.plot(*zip(train, test), color=color, lw=0.8, alpha=0.6)
            ax.annotate(f"{beta:g}", test, textcoords="offset points", xytext=(3, 3), fontsize=8, color=color)
        # the training set's marker larger and hollow: where the two coincide, both show
        ax.plot(*zip(*[train for _, train, _ in rows]), ls="", marker=style[n]["marker"], ms=7, color=color,
                mfc="white", label="training set")
        ax.plot(*zip(*[test for _, _, test in rows]), ls="", marker=style[n]["marker"], ms=3.5, color=color,
                label="test set")
        ax.set_title(f"n = {n}")
        ax.set_xlabel("rate R (nats)")
        ax.grid(True)
        ax.legend(loc="upper right")
    axes[0, 0].set_ylabel("distortion D (nats)")
    return fig
