"""Figures of a trained VAE. Each function returns a matplotlib Figure and writes nothing."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from sklearn.manifold import TSNE
from torchvision.utils import make_grid

from vaecore.data import Split
from vaecore.model import VAE


def _as_images(x: torch.Tensor) -> torch.Tensor:
    """(B, D) flat pixels -> (B, 1, H, W) square images."""
    side = math.isqrt(x.shape[-1])
    return x.reshape(-1, 1, side, side)


def _show_grid(ax: plt.Axes, x: torch.Tensor, nrow: int, extent: list[float] | None = None) -> None:
    grid = make_grid(_as_images(x.detach().cpu()), nrow=nrow, padding=1, pad_value=0.0)
    ax.imshow(grid[0].numpy(), cmap="gray_r", vmin=0, vmax=1, extent=extent)


@torch.no_grad()
def decode_mean(model: VAE, z: torch.Tensor) -> torch.Tensor:
    """Pixel means sigmoid(logits) (B, D) for codes z (B, n)."""
    device = next(model.parameters()).device
    return torch.sigmoid(model.decode(z.to(device))).cpu()


def latent_traversal(model: VAE, steps: int = 21, limit: float = 5.0) -> Figure:
    """Decoded images over a regular grid of z in [-limit, limit]^n, for n = 1 or 2.

    Args:
        model: a VAE with n <= 2.
        steps: grid points per latent axis.
        limit: the grid spans [-limit, limit] on each axis.

    Returns:
        A row of images (n = 1) or a steps x steps mosaic (n = 2).
    """
    if model.n > 2:
        raise ValueError(f"a latent traversal grid needs n <= 2, this model has n = {model.n}")
    axis = torch.linspace(-limit, limit, steps)
    reach = limit + limit / (steps - 1)  # image centres sit on the grid points
    if model.n == 1:
        fig, ax = plt.subplots(figsize=(12, 1.6))
        _show_grid(ax, decode_mean(model, axis[:, None]), nrow=steps, extent=[-reach, reach, 0, 2 * reach / steps])
        ax.set_yticks([])
        ax.set_xlabel("$z$")
    else:
        z2, z1 = torch.meshgrid(axis.flip(0), axis, indexing="ij")  # rows from +limit down
        z = torch.stack([z1.flatten(), z2.flatten()], dim=1)  # (steps^2, 2)
        fig, ax = plt.subplots(figsize=(7, 7))
        _show_grid(ax, decode_mean(model, z), nrow=steps, extent=[-reach, reach, -reach, reach])
        ax.set_xlabel("$z_1$")
        ax.set_ylabel("$z_2$")
    ax.set_title(f"decoded images over $z \\in [{-limit:g}, {limit:g}]^{{{model.n}}}$")
    fig.tight_layout()
    return fig


@torch.no_grad()
def latent_codes(model: VAE, data: Split, max_points: int = 5000, seed: int = 0) -> Figure:
    """The posterior means of ``data`` coloured by label.

    n = 1: one histogram per digit; n = 2: a scatter; n > 2: a t-SNE map of the means.

    Args:
        model: the VAE.
        data: images and labels (only the first ``max_points`` are used).
        max_points: cap on the points shown (t-SNE is quadratic-ish in it).
        seed: seed of t-SNE.

    Returns:
        The figure.
    """
    x, y = data.x[:max_points], data.y[:max_points].numpy()
    device = next(model.parameters()).device
    mu = model.encode(x.to(device))[0].cpu().numpy()  # (N, n)
    labels = np.unique(y)
    colors = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(7, 4 if model.n == 1 else 6))
    if model.n == 1:
        bins = np.linspace(mu.min(), mu.max(), 80)
        for label in labels:
            ax.hist(mu[y == label, 0], bins=bins, histtype="step", color=colors(label), label=str(label))
        ax.set_xlabel("posterior mean $\\mu(x)$")
        ax.set_ylabel("test images")
    else:
        if model.n > 2:
            mu = TSNE(n_components=2, init="pca", random_state=seed).fit_transform(mu)
        for label in labels:
            points = mu[y == label]
            ax.scatter(points[:, 0], points[:, 1], s=2, color=colors(label), label=str(label))
        names = ("t-SNE 1", "t-SNE 2") if model.n > 2 else ("$\\mu_1$", "$\\mu_2$")
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
    ax.legend(title="label", markerscale=4, loc="center left", bbox_to_anchor=(1, 0.5))
    method = {1: "histogram", 2: "scatter"}.get(model.n, "t-SNE")
    ax.set_title(f"latent codes of {len(y)} test images by label ({method}, n = {model.n})")
    fig.tight_layout()
    return fig


def loss_curves(history: dict[str, list], columns: int = 3) -> Figure:
    """Train and validation (test set) loss per epoch: total, reconstruction and KL.

    Args:
        history: as returned by :func:`vaecore.train.train`.
        columns: panels side by side; ``1`` stacks them in a figure half as wide, which
            stays legible where the figure is shown at the width of a page's text column.

    Returns:
        Three panels sharing the epoch axis.
    """
    rows = math.ceil(3 / columns)
    figsize = (4 * columns, 3.5) if rows == 1 else (6, 2.3 * rows)
    fig, axes = plt.subplots(rows, columns, figsize=figsize, sharex=True, squeeze=False)
    axes = axes.ravel()
    for ax, term in zip(axes, ("total", "recon", "kl")):
        ax.plot(history["epoch"], history[f"train_{term}"], label="train")
        ax.plot(history["epoch"], history[f"test_{term}"], label="validation (test set)")
        ax.set_title({"total": "loss (recon + beta KL)", "recon": "reconstruction", "kl": "KL"}[term])
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if rows > 1:
            ax.set_ylabel("nats per image")
    for ax in axes[3:]:
        ax.set_visible(False)
    axes[0].set_ylabel("nats per image")
    axes[0].legend()
    fig.tight_layout()
    return fig


@torch.no_grad()
def reconstructions(model: VAE, x: torch.Tensor, count: int = 12) -> Figure:
    """Originals (top row) above their reconstructions from the posterior mean (bottom row)."""
    x = x[:count]
    device = next(model.parameters()).device
    recon = decode_mean(model, model.encode(x.to(device))[0])
    fig, ax = plt.subplots(figsize=(count, 2.2))
    _show_grid(ax, torch.cat([x, recon]), nrow=len(x))
    ax.set_axis_off()
    ax.set_title("test images (top) and their reconstructions (bottom)")
    fig.tight_layout()
    return fig


def prior_samples(model: VAE, count: int = 64, seed: int = 0) -> Figure:
    """Decoded means of z ~ N(0, I) drawn from the prior."""
    z = torch.randn(count, model.n, generator=torch.Generator().manual_seed(seed))
    fig, ax = plt.subplots(figsize=(6, 6))
    _show_grid(ax, decode_mean(model, z), nrow=math.isqrt(count))
    ax.set_axis_off()
    ax.set_title("samples from the prior, decoded")
    fig.tight_layout()
    return fig


@torch.no_grad()
def decoded_codes(model: VAE, x: torch.Tensor, count: int = 64) -> Figure:
    """The decoded posterior means of the first ``count`` images of ``x``."""
    device = next(model.parameters()).device
    fig, ax = plt.subplots(figsize=(6, 6))
    _show_grid(ax, decode_mean(model, model.encode(x[:count].to(device))[0]), nrow=math.isqrt(count))
    ax.set_axis_off()
    ax.set_title("test images' latent codes, decoded")
    fig.tight_layout()
    return fig


def generated(model: VAE, data: Split) -> Figure:
    """What the decoder makes of its latent space: the traversal for n <= 2, decoded test codes beyond."""
    return latent_traversal(model) if model.n <= 2 else decoded_codes(model, data.x)


def all_figures(model: VAE, history: dict[str, list], test_set: Split) -> dict[str, Figure]:
    """Every figure that suits the model, by file stem."""
    figures = {
        "loss_curves": loss_curves(history),
        "latent_codes": latent_codes(model, test_set),
        "reconstructions": reconstructions(model, test_set.x),
        "prior_samples": prior_samples(model),
    }
    if model.n <= 2:
        figures["latent_traversal"] = latent_traversal(model)
    return figures
