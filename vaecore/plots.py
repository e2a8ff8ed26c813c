"""Figures of a trained VAE. Each function returns a matplotlib Figure, drawn at the book's column
width in :mod:`vaecore.style`, and writes nothing."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch, Polygon
from matplotlib.ticker import FuncFormatter, MaxNLocator
from sklearn.manifold import TSNE
from torchvision.utils import make_grid

from vaecore.data import Split
from vaecore.evaluate import IwaeCurve
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


def _show_grid(ax: plt.Axes, x: torch.Tensor, nrow: int, extent: list[float] | None = None) -> None:
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
            _show_grid(ax, images[row * per_row:(row + 1) * per_row], nrow=per_row,
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
        _show_grid(ax, decode_mean(model, z), nrow=steps, extent=[-reach, reach, -reach, reach])
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
    _show_grid(ax, torch.cat([x, recon]), nrow=len(x))
    ax.set_axis_off()
    ax.set_title("test images (top) and their reconstructions (bottom)")
    return fig


@styled
def prior_samples(model: VAE, count: int = 64, seed: int = 0, per_row: int = 16) -> Figure:
    """Decoded means of z ~ N(0, I) drawn from the prior, ``per_row`` to a row."""
    z = sample_codes(model.n, count, seed)
    per_row = min(per_row, count)
    fig, ax = plt.subplots(figsize=(WIDTH, 0.3 + math.ceil(count / per_row) * WIDTH / per_row))
    _show_grid(ax, decode_mean(model, z), nrow=per_row)
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
    _show_grid(ax, rows.flatten(0, 1), nrow=steps + 2)
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
    _show_grid(axes[0, 0], x, nrow=count)
    axes[0, 0].set_title("test images, reconstructed below")
    axes[0, 1].set_title("samples from the prior, decoded below")
    _row_label(axes[0, 0], "test")
    for row, (beta, model) in enumerate(sorted(models.items()), start=1):
        _show_grid(axes[row, 0], reconstruct(model, x), nrow=count)
        _show_grid(axes[row, 1], decode_mean(model, z), nrow=count)
        _row_label(axes[row, 0], f"β = {beta:g}")
    for ax in axes.flat:
        ax.set_axis_off()
    return fig


@styled
@torch.no_grad()
def latent_maps(models: dict[float, VAE], data: Split, pair: tuple[int, int] = (0, 1),
                max_points: int = 5000, columns: int = 3) -> Figure:
    """The test set's posterior means for each β of an n = 2 model, ``columns`` maps to a row,
    coloured by label, with the straight path between the codes of the test images ``pair`` drawn
    on each; the legend takes the cell after the last map."""
    x, y = data.x[:max_points], data.y[:max_points].numpy()
    colors = plt.get_cmap("tab10")
    rows = math.ceil((len(models) + 1) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(WIDTH, rows * WIDTH / columns * 1.02), squeeze=False)
    for ax, (beta, model) in zip(axes.flat, sorted(models.items())):
        device = next(model.parameters()).device
        mu = model.encode(x.to(device))[0].cpu().numpy()  # (N, 2)
        ax.scatter(mu[:, 0], mu[:, 1], s=0.6, c=[colors(label) for label in y], rasterized=True)
        ends = mu[list(pair)]
        ax.plot(ends[:, 0], ends[:, 1], color="black", lw=1.5, marker="o", ms=4)
        ax.set_title(f"β = {beta:g}")
        ax.set_xlabel("$\\mu_1$", labelpad=1)
        ax.set_ylabel("$\\mu_2$", labelpad=1)
        ax.set_aspect("equal", adjustable="datalim")
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
        _show_grid(ax, torch.cat([a[None], path, b[None]]), nrow=steps + 2)
        ax.set_axis_off()
        _row_label(ax, f"β = {beta:g}")
    return fig


@styled
def iwae_convergence(curves: dict[str, IwaeCurve], marked: int = 1000) -> Figure:
    """The IWAE estimate of -log p(x) against k, one panel per model (titled by its key), each k's
    samples the first of the next k's (:func:`vaecore.evaluate.iwae_curve`).

    Bars are ± one standard error of the estimate's difference from the largest k's, paired image by
    image: how well the curve's shape is known. The estimate at ``marked`` is labelled with that
    difference, a lower bound on the bias left there; a dotted line marks the largest k's level.
    """
    fig, axes = plt.subplots(1, len(curves), figsize=(WIDTH, 2.9), squeeze=False)
    for ax, (title, curve) in zip(axes[0], curves.items()):
        ax.errorbar(curve.k, curve.nll, yerr=curve.excess_stderr, marker="o", ms=3.5, capsize=2, elinewidth=0.8)
        ax.axhline(curve.nll[-1], color="0.5", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("importance samples $k$")
        ax.set_title(title)
        ax.grid(True)
        if marked in curve.k[:-1]:
            at = curve.k.index(marked)
            ax.annotate(f"at $k$ = {marked:,}: {curve.excess[at]:.2f} ± {curve.excess_stderr[at]:.2f}\n"
                        f"above $k$ = {curve.k[-1]:,}", (marked, curve.nll[at]), xytext=(0.97, 0.62),
                        textcoords="axes fraction", ha="right", fontsize=8,
                        arrowprops=dict(arrowstyle="-", color="0.3", lw=0.7, shrinkB=3))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda k, _: f"{k:,.0f}"))
    axes[0, 0].set_ylabel("IWAE estimate of $-\\log p(\\mathbf{x})$\n(nats per image)")
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


@styled
def model_diagram() -> Figure:
    """The VAE as a diagram: encoder, the sampled code z, decoder and the two terms of the loss,
    the distortion D and the rate R (the method's figure; :func:`save_model_diagram` writes it)."""
    fig = plt.figure(figsize=(WIDTH, 2.9), layout="none")
    ax = fig.add_axes((0, 0, 1, 1), xlim=(0, WIDTH), ylim=(0, 2.9))
    ax.set_axis_off()
    blue, orange, grey = "#dce9f5", "#fde6cf", "0.93"

    def box(x, y, text, width, height=0.5, color=grey, **kw):
        ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, fc=color, ec="0.3", lw=0.8,
                                    boxstyle="round,pad=0,rounding_size=0.06"))
        ax.text(x, y, text, ha="center", va="center", **kw)

    def arrow(start, end, **kw):
        ax.annotate("", xy=end, xytext=start,
                    arrowprops=dict(arrowstyle="-|>", color="0.25", lw=0.9, shrinkA=0, shrinkB=0, **kw))

    def trapezoid(left, right, wide_left, text, sizes):
        tall, short = 1.1, 0.45
        h_left, h_right = (tall, short) if wide_left else (short, tall)
        ax.add_patch(Polygon([(left, 2.0 - h_left / 2), (right, 2.0 - h_right / 2), (right, 2.0 + h_right / 2),
                              (left, 2.0 + h_left / 2)], closed=True, fc=blue, ec="0.3", lw=0.8))
        ax.text((left + right) / 2, 2.0, text, ha="center", va="center")
        ax.text((left + right) / 2, 2.0 - tall / 2 - 0.12, sizes, ha="center", va="top", fontsize=8, color="0.3")

    box(0.5, 2.0, "image\n$\\mathbf{x}$", 0.72, 0.62)
    trapezoid(1.05, 2.25, True, "encoder\n$q_\\phi(\\mathbf{z} \\mid \\mathbf{x})$", "$M$ → 256 → 256 → $2n$")
    box(2.62, 2.3, "$\\boldsymbol{\\mu}$", 0.42, 0.34)
    box(2.62, 1.7, "$\\boldsymbol{\\sigma}$", 0.42, 0.34)
    ax.add_patch(Circle((3.5, 2.0), 0.27, fc=orange, ec="0.3", lw=0.8))
    ax.text(3.5, 2.0, "$\\mathbf{z}$", ha="center", va="center", fontsize=11)
    box(3.5, 2.68, "$\\boldsymbol{\\varepsilon} \\sim \\mathcal{N}(\\mathbf{0}, \\mathbf{I})$", 1.05, 0.3)
    ax.text(3.5, 1.58, "$\\mathbf{z} = \\boldsymbol{\\mu} + \\boldsymbol{\\sigma} \\odot \\boldsymbol{\\varepsilon}$",
            ha="center", va="top", fontsize=8)
    trapezoid(4.05, 5.25, False, "decoder\n$p_\\theta(\\mathbf{x} \\mid \\mathbf{z})$", "$n$ → 256 → 256 → $M$")
    box(6.2, 2.0, "pixel means\nsigmoid($\\mathbf{l}$)", 1.15, 0.62)
    for start, end in (((0.86, 2.0), (1.05, 2.0)), ((2.25, 2.1), (2.41, 2.28)), ((2.25, 1.9), (2.41, 1.72)),
                       ((2.83, 2.28), (3.25, 2.1)), ((2.83, 1.72), (3.25, 1.9)), ((3.5, 2.53), (3.5, 2.27)),
                       ((3.77, 2.0), (4.05, 2.0)), ((5.25, 2.0), (5.62, 2.0))):
        arrow(start, end)
    box(1.75, 0.72, "rate  $R = \\mathrm{KL}(q_\\phi(\\mathbf{z} \\mid \\mathbf{x}) \\,\\|\\, p(\\mathbf{z}))$\n"
        "the code's cost against the prior $p(\\mathbf{z}) = \\mathcal{N}(\\mathbf{0}, \\mathbf{I})$", 3.2, 0.62,
        color=orange)
    box(5.3, 0.72, "distortion  $D = -\\mathbb{E}_q \\log p_\\theta(\\mathbf{x} \\mid \\mathbf{z})$\n"
        "the decoded pixels against $\\mathbf{x}$", 3.0, 0.62, color=blue)
    arrow((2.62, 1.53), (2.2, 1.03), connectionstyle="arc3,rad=0")
    arrow((6.2, 1.69), (5.9, 1.03))
    ax.text(3.5, 0.18, "loss per image:  $D + \\beta R$  (the negative ELBO at $\\beta = 1$)", ha="center",
            va="center", fontsize=9.5)
    return fig


def save_model_diagram(folder: Path) -> list[Path]:
    """Write :func:`model_diagram` as ``folder``/model.svg (for the HTML) and model.pdf (for the
    PDF), without a date, so that drawing an unchanged diagram again changes no file."""
    figure = model_diagram()
    paths = [folder / "model.svg", folder / "model.pdf"]
    with plt.rc_context({"svg.hashsalt": "model", "svg.fonttype": "path"}):
        for path in paths:
            figure.savefig(path, metadata={"Date": None, "CreationDate": None} if path.suffix == ".pdf"
                           else {"Date": None})
    plt.close(figure)
    return paths
