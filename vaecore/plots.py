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
from vaecore.progress import progress_bar


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


def codes_shown(n: int, images: int) -> int:
    """How many of ``images`` codes :func:`latent_codes` shows by default for latent size ``n``:
    5,000 in a histogram or scatter, 2,000 in a t-SNE map, which takes about 12 s for 2,000 codes
    on one thread and 42 s for 5,000 (scikit-learn's Barnes-Hut; openTSNE's FFT method took 7 s
    and 27 s, not enough to add a dependency)."""
    return min(images, 5000 if n <= 2 else 2000)


@torch.no_grad()
def latent_codes(model: VAE, data: Split, max_points: int | None = None, seed: int = 0) -> Figure:
    """The posterior means of ``data`` coloured by label.

    n = 1: one histogram per digit; n = 2: a scatter; n > 2: a t-SNE map of the means.

    Args:
        model: the VAE.
        data: images and labels (only the first ``max_points`` are used).
        max_points: cap on the points shown; by default :func:`codes_shown`.
        seed: seed of t-SNE.

    Returns:
        The figure.
    """
    shown = max_points or codes_shown(model.n, len(data.x))
    x, y = data.x[:shown], data.y[:shown].numpy()
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
            with progress_bar(total=1, desc=f"t-SNE map of {len(mu):,} codes", unit="map") as bar:
                mu = tsne(mu, seed)
                bar.update()
        for label in labels:
            points = mu[y == label]
            ax.scatter(points[:, 0], points[:, 1], s=2, color=colors(label), label=str(label))
        names = ("t-SNE 1", "t-SNE 2") if model.n > 2 else ("$\\mu_1$", "$\\mu_2$")
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
    ax.legend(title="label", markerscale=4, loc="center left", bbox_to_anchor=(1, 0.5))
    method = {1: "histogram", 2: "scatter"}.get(model.n, "t-SNE")
    ax.set_title(f"latent codes of {len(y):,} test images by label ({method}, n = {model.n})")
    fig.tight_layout()
    return fig


def tsne(points: np.ndarray, seed: int = 0) -> np.ndarray:
    """A t-SNE map (N, 2) of ``points`` (N, d). Its perplexity, scikit-learn's 30, must stay below N:
    for fewer than 91 points it is (N - 1) / 3, and a single point is mapped to the origin."""
    if len(points) < 2:
        return np.zeros((len(points), 2), dtype=points.dtype)
    perplexity = min(30.0, (len(points) - 1) / 3)
    return TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed).fit_transform(points)


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
def interpolate(model: VAE, a: torch.Tensor, b: torch.Tensor, steps: int = 10) -> torch.Tensor:
    """Decoded means along straight lines between the posterior means of images ``a`` and ``b``.

    Args:
        a, b: images (P, D), paired row by row.
        steps: evenly spaced points per line, both ends included.

    Returns:
        (P, steps, D) pixel means; [:, 0] decodes a's code, [:, -1] b's.
    """
    device = next(model.parameters()).device
    mu_a, mu_b = model.encode(a.to(device))[0], model.encode(b.to(device))[0]  # (P, n)
    t = torch.linspace(0, 1, steps, device=device)[None, :, None]  # (1, steps, 1)
    path = torch.lerp(mu_a[:, None], mu_b[:, None], t)  # (P, steps, n)
    return decode_mean(model, path.flatten(0, 1)).reshape(len(a), steps, -1)


def interpolations(model: VAE, x: torch.Tensor, pairs: int = 6, steps: int = 10) -> Figure:
    """Row i runs from test image ``x[2i]`` (left) to ``x[2i + 1]`` (right) through the decoded
    :func:`interpolate` path between their codes; as many rows as ``x`` has pairs, and one for a
    single image, which runs to itself."""
    pairs = max(1, min(pairs, len(x) // 2))
    a, b = x[0:2 * pairs:2], x[1:2 * pairs:2] if len(x) > 1 else x[:1]  # (pairs, D) each
    rows = torch.cat([a[:, None], interpolate(model, a, b, steps), b[:, None]], dim=1)  # (pairs, steps + 2, D)
    fig, ax = plt.subplots(figsize=(steps + 2, pairs * 1.05))
    _show_grid(ax, rows.flatten(0, 1), nrow=steps + 2)
    ax.set_axis_off()
    ax.set_title("from one test image (left) to another (right) along a straight line between their codes")
    fig.tight_layout()
    return fig


def generated(model: VAE, data: Split) -> Figure:
    """What the decoder makes of its latent space: the traversal for n <= 2, interpolations beyond."""
    return latent_traversal(model) if model.n <= 2 else interpolations(model, data.x)


def kl_per_dim(kls: list[float]) -> Figure:
    """The test-set KL of each latent dimension, largest first: how the rate is spread."""
    order = np.sort(np.asarray(kls))[::-1]
    fig, ax = plt.subplots(figsize=(7, 2.6))
    ax.bar(np.arange(1, len(order) + 1), order, width=0.8, color="C0")
    ax.set_xlabel("latent dimension, by KL")
    ax.set_ylabel("KL (nats)")
    ax.set_xlim(0.3, len(order) + 0.7)
    fig.tight_layout()
    return fig


@torch.no_grad()
def by_beta(models: dict[float, VAE], x: torch.Tensor, count: int = 8, seed: int = 0) -> Figure:
    """One row per beta: reconstructions of the same test images (left), prior samples (right).

    The top row shows the test images; every model decodes the same prior draws.
    """
    n = next(iter(models.values())).n
    z = torch.randn(count, n, generator=torch.Generator().manual_seed(seed))  # (count, n)
    x = x[:count]
    fig, axes = plt.subplots(len(models) + 1, 2, figsize=(2 * count * 0.62, (len(models) + 1) * 0.75),
                             gridspec_kw={"wspace": 0.04, "hspace": 0.08})
    _show_grid(axes[0, 0], x, nrow=count)
    axes[0, 0].set_title("test images, reconstructed below", fontsize=9)
    axes[0, 1].set_title("samples from the prior, decoded below", fontsize=9)
    for row, (beta, model) in enumerate(sorted(models.items()), start=1):
        device = next(model.parameters()).device
        _show_grid(axes[row, 0], decode_mean(model, model.encode(x.to(device))[0]), nrow=count)
        _show_grid(axes[row, 1], decode_mean(model, z), nrow=count)
        axes[row, 0].text(-0.01, 0.5, f"β = {beta:g}", transform=axes[row, 0].transAxes, ha="right", va="center")
    for ax in axes.flat:
        ax.set_axis_off()
    return fig


@torch.no_grad()
def latent_maps(models: dict[float, VAE], data: Split, pair: tuple[int, int] = (0, 1),
                max_points: int = 5000) -> Figure:
    """The test set's posterior means for each beta of an n = 2 model, side by side, coloured by
    label, with the straight path between the codes of the test images ``pair`` drawn on each."""
    x, y = data.x[:max_points], data.y[:max_points].numpy()
    colors = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, len(models), figsize=(3.2 * len(models), 3.4), squeeze=False)
    for ax, (beta, model) in zip(axes[0], sorted(models.items())):
        device = next(model.parameters()).device
        mu = model.encode(x.to(device))[0].cpu().numpy()  # (N, 2)
        ax.scatter(mu[:, 0], mu[:, 1], s=1, c=[colors(label) for label in y], rasterized=True)
        ends = mu[list(pair)]
        ax.plot(ends[:, 0], ends[:, 1], color="black", lw=1.5, marker="o", ms=4)
        ax.set_title(f"β = {beta:g}")
        ax.set_xlabel("$\\mu_1$")
        ax.set_aspect("equal", adjustable="datalim")
    axes[0, 0].set_ylabel("$\\mu_2$")
    handles = [plt.Line2D([], [], ls="", marker="o", color=colors(label), label=str(label)) for label in np.unique(y)]
    fig.legend(handles=handles, title="label", loc="center right", fontsize=8)
    fig.tight_layout(rect=(0, 0, 0.93, 1))
    return fig


@torch.no_grad()
def paths_by_beta(models: dict[float, VAE], a: torch.Tensor, b: torch.Tensor, steps: int = 10) -> Figure:
    """One row per beta: the decoded :func:`interpolate` path from image ``a`` (D,) to ``b`` (D,)."""
    fig, axes = plt.subplots(len(models), 1, figsize=((steps + 2) * 0.62, len(models) * 0.75), squeeze=False)
    for ax, (beta, model) in zip(axes[:, 0], sorted(models.items())):
        path = interpolate(model, a[None], b[None], steps)[0]  # (steps, D)
        _show_grid(ax, torch.cat([a[None], path, b[None]]), nrow=steps + 2)
        ax.set_axis_off()
        ax.text(-0.01, 0.5, f"β = {beta:g}", transform=ax.transAxes, ha="right", va="center")
    return fig


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
