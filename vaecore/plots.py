"""Figures of a trained VAE. Each function returns a matplotlib Figure, drawn at the book's column
width in :mod:`vaecore.style`, and writes nothing."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.manifold import TSNE
from torchvision.utils import make_grid

from vaecore.data import Split
from vaecore.model import VAE
from vaecore.progress import progress_bar
from vaecore.style import WIDTH, styled


def _as_images(x: torch.Tensor) -> torch.Tensor:
    """(B, M) flat pixels -> (B, 1, H, W) square images."""
    side = math.isqrt(x.shape[-1])
    return x.reshape(-1, 1, side, side)


def tiles(x: torch.Tensor, nrow: int) -> np.ndarray:
    """Flat images (B, M) as one (H, W) mosaic of ``nrow`` per row, a pixel of padding between them."""
    return make_grid(_as_images(x.detach().cpu()), nrow=nrow, padding=1, pad_value=0.0)[0].numpy()


def show_grid(ax: plt.Axes, x: torch.Tensor, nrow: int, extent: list[float] | None = None) -> None:
    ax.imshow(tiles(x, nrow), cmap="gray_r", vmin=0, vmax=1, extent=extent)


@torch.no_grad()
def decode_mean(model: VAE, z: torch.Tensor) -> torch.Tensor:
    """Pixel means sigmoid(logits) (B, M) for codes z (B, n)."""
    device = next(model.parameters()).device
    return torch.sigmoid(model.decode(z.to(device))).cpu()


@styled
def latent_traversal(model: VAE, steps: int = 21, limit: float = 5.0, per_row: int = 7) -> Figure:
    """Decoded images over a regular grid of z in [-limit, limit]^n, for n = 1 or 2.

    Args:
        model: a VAE with n <= 2.
        steps: grid points per latent axis.
        limit: the grid spans [-limit, limit] on each axis.
        per_row: n = 1 only: images per row; the line of codes is cut into rows of this many,
            each on its own z axis, so that each image is a seventh of the column wide.

    Returns:
        Rows of images along z (n = 1) or a steps x steps mosaic (n = 2).
    """
    if model.n > 2:
        raise ValueError(f"a latent traversal grid needs n <= 2, this model has n = {model.n}")
    axis = torch.linspace(-limit, limit, steps)
    half = limit / (steps - 1)  # image centres sit on the grid points
    title = f"decoded images over $z \\in [{-limit:g}, {limit:g}]^{{{model.n}}}$"
    if model.n == 1:
        rows = math.ceil(steps / per_row)
        fig, axes = plt.subplots(rows, 1, figsize=(WIDTH, 0.25 + rows * WIDTH / per_row), squeeze=False)
        images = decode_mean(model, axis[:, None])  # (steps, M)
        for row, ax in enumerate(axes[:, 0]):
            z = axis[row * per_row:(row + 1) * per_row]
            left = z[0].item() - half
            right = left + 2 * half * per_row
            show_grid(ax, images[row * per_row:(row + 1) * per_row], nrow=per_row,
                       extent=[left, left + 2 * half * len(z), 0, 2 * half])
            ax.set_xlim(left, right)
            ax.set_xticks(z.tolist(), [f"{value:g}".replace("-", "\u2212") for value in z.tolist()])
            ax.set_yticks([])
            ax.spines[["left", "right", "top", "bottom"]].set_visible(False)
            ax.tick_params(length=2, pad=1)
        axes[-1, 0].set_xlabel("$z$")
        fig.suptitle(title, fontsize=9)
    else:
        z2, z1 = torch.meshgrid(axis.flip(0), axis, indexing="ij")  # rows from +limit down
        z = torch.stack([z1.flatten(), z2.flatten()], dim=1)  # (steps^2, 2)
        fig, ax = plt.subplots(figsize=(WIDTH, WIDTH * 0.86))
        reach = limit + half
        show_grid(ax, decode_mean(model, z), nrow=steps, extent=[-reach, reach, -reach, reach])
        ax.set_xlabel("$z_1$")
        ax.set_ylabel("$z_2$")
        ax.set_title(title)
    return fig


def codes_shown(n: int, images: int) -> int:
    """How many of ``images`` codes :func:`latent_codes` shows by default for latent size ``n``:
    5,000 in a histogram or scatter, 2,000 in a t-SNE map, which takes about 12 s for 2,000 codes
    on one thread and 42 s for 5,000 (scikit-learn's Barnes-Hut; openTSNE's FFT method took 7 s
    and 27 s, not enough to add a dependency)."""
    return min(images, 5000 if n <= 2 else 2000)


@styled
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
    fig, ax = plt.subplots(figsize=(WIDTH, 3.6 if model.n == 1 else 5.4))
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
            ax.scatter(points[:, 0], points[:, 1], s=2, color=colors(label), label=str(label), rasterized=True)
        names = ("t-SNE 1", "t-SNE 2") if model.n > 2 else ("$\\mu_1$", "$\\mu_2$")
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
    ax.legend(title="label", markerscale=4, loc="center left", bbox_to_anchor=(1, 0.5))
    method = {1: "histogram", 2: "scatter"}.get(model.n, "t-SNE")
    ax.set_title(f"latent codes of {len(y):,} test images by label ({method}, n = {model.n})")
    if model.n == 2:
        ax.set_aspect("equal", adjustable="datalim")
    return fig


def tsne(points: np.ndarray, seed: int = 0) -> np.ndarray:
    """A t-SNE map (N, 2) of ``points`` (N, d). Its perplexity, scikit-learn's 30, must stay below N:
    for fewer than 91 points it is (N - 1) / 3, and a single point is mapped to the origin."""
    if len(points) < 2:
        return np.zeros((len(points), 2), dtype=points.dtype)
    perplexity = min(30.0, (len(points) - 1) / 3)
    return TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed).fit_transform(points)


def settled(epochs: int) -> int:
    """How many of ``epochs`` epochs the loss curves leave out of their y-range: the first 5%, at
    least the first epoch, whose loss is far above the rest (but none of a one-epoch run)."""
    return min(max(1, math.ceil(0.05 * epochs)), epochs - 1)


@styled
def loss_curves(history: dict[str, list]) -> Figure:
    """Train and validation (test set) loss per epoch: the loss D + βR, the distortion D and the rate R.

    Args:
        history: as returned by :func:`vaecore.train.train`.

    Returns:
        Three panels stacked on one epoch axis; each panel's y-range covers the epochs after
        the first :func:`settled` ones, whose values run off the top (or bottom) of the panel.
    """
    fig, axes = plt.subplots(3, 1, figsize=(WIDTH, 4.6), sharex=True)
    skip = settled(len(history["epoch"]))
    names = {"total": "loss $D + \\beta R$", "recon": "distortion $D$", "kl": "rate $R$"}
    for ax, term in zip(axes, names):
        train, test = history[f"train_{term}"], history[f"test_{term}"]
        ax.plot(history["epoch"], train, label="train")
        ax.plot(history["epoch"], test, label="validation (test set)")
        low, high = min(train[skip:] + test[skip:]), max(train[skip:] + test[skip:])
        margin = 0.08 * (high - low) or 0.05 * abs(high) or 1.0
        ax.set_ylim(low - margin, high + margin)
        ax.set_ylabel(f"{names[term]}\n(nats)")
        ax.grid(True)
    axes[-1].set_xlabel("epoch")
    axes[-1].set_xlim(history["epoch"][0] - 0.5, history["epoch"][-1] + 0.5)
    axes[0].legend(loc="upper right", ncols=2)
    return fig


@styled
@torch.no_grad()
def reconstructions(model: VAE, x: torch.Tensor, count: int = 12) -> Figure:
    """Originals (top row) above their reconstructions from the posterior mean (bottom row)."""
    x = x[:count]
    recon = reconstruct(model, x)
    fig, ax = plt.subplots(figsize=(WIDTH, 0.35 + 2 * WIDTH / max(len(x), 12)))
    show_grid(ax, torch.cat([x, recon]), nrow=len(x))
    ax.set_axis_off()
    ax.set_title("test images (top) and their reconstructions (bottom)")
    return fig


@styled
def prior_samples(model: VAE, count: int = 64, seed: int = 0, per_row: int = 16) -> Figure:
    """Decoded means of z ~ N(0, I) drawn from the prior, ``per_row`` to a row."""
    z = sample_codes(model.n, count, seed)
    per_row = min(per_row, count)
    fig, ax = plt.subplots(figsize=(WIDTH, 0.3 + math.ceil(count / per_row) * WIDTH / per_row))
    show_grid(ax, decode_mean(model, z), nrow=per_row)
    ax.set_axis_off()
    ax.set_title("samples from the prior, decoded")
    return fig


@torch.no_grad()
def interpolate(model: VAE, a: torch.Tensor, b: torch.Tensor, steps: int = 10) -> torch.Tensor:
    """Decoded means along straight lines between the posterior means of images ``a`` and ``b``.

    Args:
        a, b: images (P, M), paired row by row.
        steps: evenly spaced points per line, both ends included.

    Returns:
        (P, steps, M) pixel means; [:, 0] decodes a's code, [:, -1] b's.
    """
    device = next(model.parameters()).device
    mu_a, mu_b = model.encode(a.to(device))[0], model.encode(b.to(device))[0]  # (P, n)
    t = torch.linspace(0, 1, steps, device=device)[None, :, None]  # (1, steps, 1)
    path = torch.lerp(mu_a[:, None], mu_b[:, None], t)  # (P, steps, n)
    return decode_mean(model, path.flatten(0, 1)).reshape(len(a), steps, -1)


@styled
def interpolations(model: VAE, x: torch.Tensor, pairs: int = 6, steps: int = 10) -> Figure:
    """Row i runs from test image ``x[2i]`` (left) to ``x[2i + 1]`` (right) through the decoded
    :func:`interpolate` path between their codes; as many rows as ``x`` has pairs, and one for a
    single image, which runs to itself."""
    pairs = max(1, min(pairs, len(x) // 2))
    a, b = x[0:2 * pairs:2], x[1:2 * pairs:2] if len(x) > 1 else x[:1]  # (pairs, M) each
    rows = torch.cat([a[:, None], interpolate(model, a, b, steps), b[:, None]], dim=1)  # (pairs, steps + 2, M)
    fig, ax = plt.subplots(figsize=(WIDTH, 0.3 + len(a) * WIDTH / (steps + 2)))
    show_grid(ax, rows.flatten(0, 1), nrow=steps + 2)
    ax.set_axis_off()
    ax.set_title("from one test image (left) to another (right) along a straight line between their codes")
    return fig


def generated(model: VAE, data: Split) -> Figure:
    """What the decoder makes of its latent space: the traversal for n <= 2, interpolations beyond."""
    return latent_traversal(model) if model.n <= 2 else interpolations(model, data.x)


@styled
def kl_per_dim(kls: list[float], labelled: int = 8) -> Figure:
    """The test-set rate of each latent dimension, largest first: how the rate R is spread.

    Up to ``labelled`` dimensions each bar carries its value and a tick of its own, and the figure
    narrows with their number, so that one or two bars are bars, not the whole width of the column.
    """
    order = np.sort(np.asarray(kls))[::-1]
    few = len(order) <= labelled
    width = min(WIDTH, 1.5 + 0.55 * len(order)) if few else WIDTH  # inches: the y label, then the bars
    fig, ax = plt.subplots(figsize=(width, 2.2))
    bars = ax.bar(np.arange(1, len(order) + 1), order, width=0.6 if few else 0.8, color="C0")
    ax.set_xlabel("latent dimension, by its rate")
    ax.set_ylabel("rate of the\ndimension (nats)")
    ax.set_xlim(0.3, len(order) + 0.7)
    if few:
        ax.set_xticks(np.arange(1, len(order) + 1))
        ax.bar_label(bars, fmt="%.2f", fontsize=8, padding=1)
        ax.set_ylim(0, max(order.max(), 1e-3) * 1.15)  # room for the labels above the bars
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


@torch.no_grad()
def sample_codes(n: int, count: int, seed: int = 0) -> torch.Tensor:
    """``count`` draws (count, n) from the prior N(0, I), the same for every model of latent size n."""
    return torch.randn(count, n, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def reconstruct(model: VAE, x: torch.Tensor) -> torch.Tensor:
    """Pixel means (B, M) decoded from the posterior means of images ``x`` (B, M)."""
    device = next(model.parameters()).device
    return decode_mean(model, model.encode(x.to(device))[0])


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
