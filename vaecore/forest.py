"""A forest plot of Table 1: each configuration's difference from the report, with its interval,
for the seed-0 run and for the mean of the seeds (the comparisons of :mod:`vaecore.table1`)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from vaecore.style import WIDTH, styled

SPREAD = 0.36  # of a row's height: the markers of its kinds, one above the other
DIFFERS = "C3"  # beyond noise after the multiple-comparison correction
WITHIN = "C0"


@styled
def forest(comparisons: Sequence) -> Figure:
    """One panel per latent size n (each on its own scale of nats: n = 1 moves by nats where n = 64
    moves by tenths), a row per β from the smallest down, and in each row a marker per kind of comparison with its 95 %
    interval: hollow for a single run, filled for a mean of seeds, red where it differs from the
    report beyond noise. The line at 0 is the report.

    Args:
        comparisons: :class:`vaecore.table1.Comparison` (or objects with its fields n, beta, kind,
            seeds, diff, low, high, differs), the kinds in the order they should appear; one without
            an interval (no seeds to give a noise) is its marker alone.
    """
    sizes = list(dict.fromkeys(c.n for c in sorted(comparisons, key=lambda c: c.n)))
    betas = {n: sorted({c.beta for c in comparisons if c.n == n}) for n in sizes}
    kinds = list(dict.fromkeys(c.kind for c in comparisons))
    shift = {kind: SPREAD * (0.5 - i / (len(kinds) - 1)) if len(kinds) > 1 else 0.0 for i, kind in enumerate(kinds)}
    rows = sum(len(b) for b in betas.values())
    fig, axes = plt.subplots(len(sizes), 1, figsize=(WIDTH, 0.9 + 0.36 * rows + 0.45 * len(sizes)), squeeze=False,
                             height_ratios=[len(betas[n]) + 0.5 for n in sizes])
    for ax, n in zip(axes[:, 0], sizes):
        place = {beta: len(betas[n]) - 1 - i for i, beta in enumerate(betas[n])}  # the first β on top
        for c in (c for c in comparisons if c.n == n):
            color = DIFFERS if c.differs else WITHIN
            interval = [[c.diff - c.low], [c.high - c.diff]] if c.low is not None else None  # None: no seeds
            ax.errorbar(c.diff, place[c.beta] + shift[c.kind], xerr=interval,
                        fmt="o", ms=5, color=color, mfc="white" if c.seeds == 1 else color, capsize=2,
                        elinewidth=1, zorder=3)
        ax.axvline(0, color="0.3", lw=0.8, zorder=1)
        reach = 1.05 * max(max(abs(c.diff), abs(c.low or 0), abs(c.high or 0)) for c in comparisons if c.n == n)
        ax.set_xlim(-reach, reach)  # the report in the middle of every panel
        ax.set_yticks(list(place.values()), [f"β = {beta:g}" for beta in place])
        ax.set_ylim(-0.6, len(betas[n]) - 0.4)
        ax.set_ylabel(f"n = {n}", rotation=0, ha="right", va="center")
        ax.grid(True, axis="x")
        ax.spines["left"].set_visible(False)
        ax.tick_params(axis="y", length=0)
    axes[-1, 0].set_xlabel("ours − the report's objective D + βR (nats per test image), with its 95 % interval")
    handles = [Line2D([], [], ls="", marker="o", color=WITHIN, mfc="white" if single else WITHIN, label=kind)
               for kind, single in ((kind, any(c.seeds == 1 for c in comparisons if c.kind == kind)) for kind in kinds)]
    handles.append(Line2D([], [], ls="", marker="o", color=DIFFERS, label="differs beyond noise"))
    fig.legend(handles=handles, loc="outside upper center", ncols=len(handles))
    return fig
