"""The forest plot of Table 1, on made-up comparisons."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgba

from vaecore import forest
from vaecore.table1 import Comparison


def made_up(name, n, beta, kind, seeds, diff, half, differs=False):
    return Comparison(name, n, beta, kind, seeds, diff, half / 4.3, 2, diff / (half / 4.3), 0.1, 0.2,
                      diff - half, diff + half, differs)


COMPARISONS = [  # in the report's order: β = 2 before β = 0.1
    made_up("n1-beta1", 1, 1.0, "seed 0", 1, -0.5, 5.0), made_up("n1-beta1", 1, 1.0, "mean of three seeds", 3, -0.4, 4.0),
    made_up("n64-beta2", 64, 2.0, "seed 0", 1, -0.12, 0.2), made_up("n64-beta2", 64, 2.0, "mean of three seeds", 3, -0.12, 0.15),
    made_up("n64-beta0p1", 64, 0.1, "seed 0", 1, 0.24, 0.5),
    made_up("n64-beta0p1", 64, 0.1, "mean of three seeds", 3, 0.15, 0.1, differs=True),
]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def markers(ax):
    """(x, y, hollow, colour) of each comparison's marker in a panel, top row first."""
    found = []
    for line in ax.get_lines():
        if line.get_marker() == "o" and len(line.get_xdata()) == 1:
            found.append((line.get_xdata()[0], line.get_ydata()[0], to_rgba(line.get_markerfacecolor()) == to_rgba("white"),
                          to_rgba(line.get_color())))
    return sorted(found, key=lambda m: -m[1])


def test_a_panel_per_latent_size_a_row_per_beta_from_the_smallest_the_report_at_zero():
    fig = forest.forest(COMPARISONS)
    assert len(fig.axes) == 2
    small, large = fig.axes
    assert small.get_ylabel() == "n = 1" and large.get_ylabel() == "n = 64"
    assert [label.get_text() for label in large.get_yticklabels()] == ["β = 0.1", "β = 2"]
    for ax in fig.axes:
        low, high = ax.get_xlim()
        assert low == pytest.approx(-high)  # the report, 0, in the middle of each panel's own scale
    assert small.get_xlim()[1] > 5 > 1 > large.get_xlim()[1]


def test_each_comparison_is_its_difference_with_its_interval_hollow_for_one_run_red_beyond_noise():
    fig = forest.forest(COMPARISONS)
    large = fig.axes[1]
    found = markers(large)
    assert [round(x, 2) for x, *_ in found] == [0.24, 0.15, -0.12, -0.12]  # β = 0.1 above β = 2, seed 0 above the mean
    assert [hollow for _, _, hollow, _ in found] == [True, False, True, False]
    red = to_rgba(forest.DIFFERS)
    assert [colour == red for *_, colour in found] == [False, True, False, False]
    bars = [collection for collection in large.collections if collection.get_segments()]
    ends = sorted((round(seg[0][0], 3), round(seg[1][0], 3)) for bar in bars for seg in bar.get_segments())
    assert (-0.27, 0.03) in ends and (0.05, 0.25) in ends  # low and high of two comparisons
    fig.canvas.draw()


def test_the_legend_names_the_kinds():
    fig = forest.forest(COMPARISONS)
    texts = [text.get_text() for text in fig.legends[0].get_texts()]
    assert texts == ["seed 0", "mean of three seeds", "differs beyond noise"]
    assert np.isfinite(fig.get_figheight())


def test_a_configuration_without_seeds_is_its_marker_alone():
    lone = COMPARISONS[:2] + [Comparison("n2-beta1", 2, 1.0, "seed 0", 1, 0.3, *[None] * 7, False)]
    fig = forest.forest(lone)
    assert [round(x, 2) for x, *_ in markers(fig.axes[1])] == [0.3]
    assert fig.axes[1].get_xlim()[1] > 0.3
