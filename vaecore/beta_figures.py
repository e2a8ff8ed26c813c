"""The β study's figures drawn by its models: test images and samples, latent planes and paths, one row per β."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from vaecore.data import Split
from vaecore.model import VAE
from vaecore.style import WIDTH, styled
from vaecore.plots import show_grid, decode_mean, interpolate, reconstruct, sample_codes


def _row_label(ax: plt.Axes, text: str) -> None:
    ax.text(-0.02, 0.5, text, transform=ax.transAxes, ha="right", va="center")


@styled
@torch.no_grad()
def by_beta(models: dict[float, VAE], x: torch.Tensor, count: int = 8, seed: int = 0) -> Figure:
    """One row per β: reconstructions of the same test images (left), prior samples (right).

    The top row shows the test images; every model decodes the same prior draws.
    """
    z = sample_codes(next(iter(models.values())).n, count, seed)
    x = x[:count]
    label = 0.75  # inches left of the images for the row labels
    tile = (WIDTH - label - 0.15) / (2 * count)  # inches per image
    fig, axes = plt.subplots(len(models) + 1, 2, figsize=(WIDTH, 0.45 + (len(models) + 1) * tile * 1.04),
                             layout="none", gridspec_kw={"wspace": 0.15 / (count * tile), "hspace": 0.04,
                                                       "left": label / WIDTH, "right": 0.995})
    fig.subplots_adjust(top=1 - 0.4 / fig.get_figheight(), bottom=0.02)
    show_grid(axes[0, 0], x, nrow=count)
    axes[0, 0].set_title("test images, reconstructed below")
    axes[0, 1].set_title("samples from the prior, decoded below")
    _row_label(axes[0, 0], "test")
    for row, (beta, model) in enumerate(sorted(models.items()), start=1):
        show_grid(axes[row, 0], reconstruct(model, x), nrow=count)
        show_grid(axes[row, 1], decode_mean(model, z), nrow=count)
        _row_label(axes[row, 0], f"β = {beta:g}")
    for ax in axes.flat:
        ax.set_axis_off()
    return fig


@styled
@torch.no_grad()
def latent_maps(models: dict[float, VAE], data: Split, pair: tuple[int, int] = (0, 1),
                max_points: int = 5000, columns: int = 3, prior: tuple[float, ...] = (1.0, 2.0)) -> Figure:
    """The test set's posterior means for each β of an n = 2 model, ``columns`` maps to a row,
    coloured by label, with the straight path between the codes of the test images ``pair`` drawn
    on each; the legend takes the cell after the last map.

    Every map has the same axes, square and centred on 0, so that the spread of the codes compares
    across β, and dashed circles of the radii ``prior``: the prior N(0, I) puts 39% of its mass
    within 1 and 86% within 2.
    """
    x, y = data.x[:max_points], data.y[:max_points].numpy()
    colors = plt.get_cmap("tab10")
    codes = {}
    for beta, model in sorted(models.items()):
        device = next(model.parameters()).device
        codes[beta] = model.encode(x.to(device))[0].cpu().numpy()  # (N, 2)
    reach = 1.05 * max(max(np.abs(mu).max() for mu in codes.values()), *prior)
    rows = math.ceil((len(models) + 1) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(WIDTH, rows * WIDTH / columns * 1.02), squeeze=False,
                             sharex=True, sharey=True)
    for ax, (beta, mu) in zip(axes.flat, codes.items()):
        ax.scatter(mu[:, 0], mu[:, 1], s=0.6, c=[colors(label) for label in y], rasterized=True)
        for radius in prior:
            ax.add_patch(Circle((0, 0), radius, fill=False, ec="black", ls="--", lw=1.1, zorder=3))
        ends = mu[list(pair)]
        ax.plot(ends[:, 0], ends[:, 1], color="black", lw=1.5, marker="o", ms=4, zorder=4)
        ax.set_title(f"β = {beta:g}")
        ax.set_xlim(-reach, reach)
        ax.set_ylim(-reach, reach)
        ax.set_aspect("equal")
        ax.tick_params(labelbottom=True, labelleft=True)
        ax.set_xlabel("$\\mu_1$", labelpad=1)
        ax.set_ylabel("$\\mu_2$", labelpad=1)
        ax.locator_params(nbins=5)
    for ax in axes.flat[len(models):]:
        ax.set_axis_off()
    handles = [plt.Line2D([], [], ls="", marker="o", color=colors(label), label=str(label)) for label in np.unique(y)]
    axes.flat[len(models)].legend(handles=handles, title="label", loc="center", ncols=2)
    return fig


@styled
@torch.no_grad()
def paths_by_beta(models: dict[float, VAE], a: torch.Tensor, b: torch.Tensor, steps: int = 10) -> Figure:
    """One row per β: the decoded :func:`interpolate` path from image ``a`` (M,) to ``b`` (M,)."""
    label = 0.75  # inches left of the images for the row labels
    tile = (WIDTH - label - 0.1) / (steps + 2)
    fig, axes = plt.subplots(len(models), 1, figsize=(WIDTH, 0.1 + len(models) * tile * 1.05), squeeze=False,
                             layout="none", gridspec_kw={"hspace": 0.05, "left": label / WIDTH, "right": 0.99,
                                                       "top": 0.99, "bottom": 0.01})
    for ax, (beta, model) in zip(axes[:, 0], sorted(models.items())):
        path = interpolate(model, a[None], b[None], steps)[0]  # (steps, M)
        show_grid(ax, torch.cat([a[None], path, b[None]]), nrow=steps + 2)
        ax.set_axis_off()
        _row_label(ax, f"β = {beta:g}")
    return fig
