"""The beta study: rate, distortion, likelihood and latent usage across beta, from the runs' metrics."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from vaecore import plots
from vaecore.model import VAE
from vaecore.report import ORIGINAL_TABLE1, follows_protocol
from vaecore.style import WIDTH, styled

STYLE = {64: dict(color="C0", marker="o"), 2: dict(color="C1", marker="s")}


def grid(runs: dict[str, dict], n: int) -> list[tuple[float, str, dict]]:
    """The runs of latent size ``n`` at the report's protocol (:func:`vaecore.report.follows_protocol`)
    and seed 0, as (beta, name, metrics) by increasing beta."""
    chosen = [(m["config"]["beta"], name, m) for name, m in runs.items()
              if m["config"]["n"] == n and m["config"]["seed"] == 0 and follows_protocol(m)]
    return sorted(chosen, key=lambda row: row[0])


def _label(beta: float) -> str:
    return f"{beta:g}"


def _beta_ticks(betas: list[float], multiples: tuple[int, ...] = (1, 2, 5)) -> list[float]:
    """Steps of β (``multiples`` of powers of ten) over the range of ``betas``, for a log axis
    labelled in plain numbers."""
    steps = [m * 10.0 ** e for e in range(-3, 4) for m in multiples]
    return [t for t in steps if min(betas) <= t * 1.001 and t <= max(betas) * 1.001]


def _beta_axis(ax: plt.Axes, betas: list[float], multiples: tuple[int, ...] = (1, 2, 5)) -> None:
    ticks = _beta_ticks(betas, multiples)
    ax.set_xscale("log")
    ax.set_xticks(ticks, [_label(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("β")


def _report_points(n: int) -> list[tuple[float, float, float]]:
    """The report's Table 1 for latent size n as (beta, R, D), by beta."""
    return sorted((beta, kl, bce) for (rn, beta), (bce, kl, _) in ORIGINAL_TABLE1.items() if rn == n)


@styled
def rate_distortion(runs: dict[str, dict], models: dict[float, VAE] | None = None,
                    images: torch.Tensor | None = None, thumbnails: tuple[float, ...] | None = None) -> Figure:
    """Distortion D against rate R for every β, n = 64 and n = 2, with the report's points and
    lines of constant D + R, the negative ELBO (after Alemi et al., "Fixing a Broken ELBO").

    Args:
        runs: the runs' metrics, as :func:`vaecore.report.load_runs` gives them.
        models: n = 64 models by β; with ``images``, a box beside each of the ``thumbnails``
            points shows the model's reconstructions of the first three ``images`` (top) and three
            samples from the prior, decoded (bottom; the same draws for every β).
        images: test images (B, M).
        thumbnails: the β values that get a box; by default those of the report's Table 1.

    Returns:
        The figure.
    """
    fig, ax = plt.subplots(figsize=(WIDTH, 5.1))
    points = []
    for n in (64, 2):
        rows = grid(runs, n)
        rate = [m["test_kl"] for _, _, m in rows]
        distortion = [m["test_recon"] for _, _, m in rows]
        points += list(zip(rate, distortion))
        ax.plot(rate, distortion, **STYLE[n], label=f"n = {n}, our runs", zorder=3)
        for i, ((beta, _, _), r, d) in enumerate(zip(rows, rate, distortion)):
            below = n == 64  # n = 64 labels go below the curve; n = 2's points crowd: its ends only
            if not below and 0 < i < len(rows) - 1:
                continue
            ax.annotate(f"{_label(beta)}", (r, d), textcoords="offset points", xytext=(-3, -3) if below else (4, 0),
                        ha="right" if below else "left", va="top" if below else "center", fontsize=8,
                        color=STYLE[n]["color"])
        report = _report_points(n)
        if report:
            ax.scatter([r for _, r, _ in report], [d for _, _, d in report], s=60, facecolors="none",
                       edgecolors=STYLE[n]["color"], marker="D", label=f"n = {n}, the report", zorder=2)
    best = min(r + d for r, d in points)
    top = max(r + d for r, d in points)
    span = np.array([0, top])
    for level in np.arange(np.ceil(best / 20) * 20, top + 20, 20):
        ax.plot(span, level - span, color="0.85", lw=0.8, zorder=0)
    ax.plot([], [], color="0.85", lw=0.8, label="D + R constant, every 20 nats")
    ax.plot(span, best - span, color="0.3", ls="--", lw=1, zorder=1,
            label=f"D + R = {best:.1f}, the best negative ELBO")
    ax.set_xlim(0, max(r for r, _ in points) * 1.08)
    ax.set_ylim(min(d for _, d in points) * 0.9, max(d for _, d in points) * 1.05)
    ax.set_xlabel("rate R = KL(q(z|x) ‖ p(z))  (nats)")
    ax.set_ylabel("distortion D = −E$_q$ log p(x|z)  (nats)")
    ax.text(0.995, 0.995, "point labels: β", transform=ax.transAxes, ha="right", va="top", fontsize=8, color="0.3")
    if models and images is not None:
        _thumbnails(ax, runs, models, images, thumbnails or tuple(beta for beta, _, _ in _report_points(64)))
    fig.legend(loc="outside lower center", ncols=3)
    return fig


@torch.no_grad()
def _thumbnails(ax: plt.Axes, runs: dict[str, dict], models: dict[float, VAE], images: torch.Tensor,
                betas: tuple[float, ...]) -> None:
    """Boxes of reconstructions (top row) and prior samples (bottom row) on a diagonal from the top
    left to the right of the axes, largest β first, each joined to its n = 64 point."""
    where = {beta: (m["test_kl"], m["test_recon"]) for beta, _, m in grid(runs, 64)}
    shown = sorted((beta for beta in betas if beta in models and beta in where), reverse=True)
    x = images[:3]
    z = plots.sample_codes(64, len(x))
    width, first, last = 0.16, (0.14, 0.72), (0.82, 0.14)  # of the axes: boxes' size, first and last corner
    for i, beta in enumerate(shown):
        t = i / max(len(shown) - 1, 1)
        left, bottom = first[0] + t * (last[0] - first[0]), first[1] + t * (last[1] - first[1])
        inset = ax.inset_axes((left, bottom, width, width))
        model = models[beta]
        inset.imshow(plots.tiles(torch.cat([plots.reconstruct(model, x), plots.decode_mean(model, z)]), len(x)),
                     cmap="gray_r", vmin=0, vmax=1)
        inset.set_xticks([])
        inset.set_yticks([])
        inset.set_anchor("S")
        for spine in inset.spines.values():
            spine.set(visible=True, color=STYLE[64]["color"], lw=0.8)
        inset.set_title(f"β = {_label(beta)}", fontsize=8, pad=2, color=STYLE[64]["color"])
        ax.annotate("", xy=where[beta], xytext=(left, bottom), textcoords="axes fraction",
                    arrowprops=dict(arrowstyle="-", color=STYLE[64]["color"], lw=0.7, shrinkA=0, shrinkB=3))
    if shown:
        ax.text(first[0] + width + 0.01, first[1] + width, "in each box: reconstructions of three test images (top),\n"
                "three samples from the prior, decoded (bottom)", transform=ax.transAxes, fontsize=8,
                va="top", color="0.3")


@styled
def likelihood(runs: dict[str, dict]) -> Figure:
    """The IWAE estimate of −log p(x) and the negative ELBO D + R against β."""
    fig, ax = plt.subplots(figsize=(WIDTH, 3.4))
    for n in (64, 2):
        rows = grid(runs, n)
        beta = [b for b, _, _ in rows]
        ax.plot(beta, [m["test_iwae_nll"] for _, _, m in rows], **STYLE[n], label=f"n = {n}: IWAE −log p(x)")
        ax.plot(beta, [m["test_recon"] + m["test_kl"] for _, _, m in rows], color=STYLE[n]["color"], ls="--",
                marker=STYLE[n]["marker"], mfc="none", label=f"n = {n}: negative ELBO, D + R")
    _beta_axis(ax, [b for b, _, _ in grid(runs, 64) + grid(runs, 2)])
    ax.set_ylabel("nats per test image")
    ax.legend(loc="upper left")
    ax.grid(True)
    return fig


@styled
def usage(runs: dict[str, dict]) -> Figure:
    """Active units against β (n = 64), and each run's rate per dimension, largest first."""
    rows = [row for row in grid(runs, 64) if "kl_per_dim" in row[2]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(WIDTH, 3.0), width_ratios=(1, 1.35))
    left.plot([b for b, _, _ in rows], [m["active_units"] for _, _, m in rows], **STYLE[64])
    _beta_axis(left, [b for b, _, _ in rows], multiples=(1,))
    left.set_ylim(0, 66)
    left.set_ylabel("active units (of 64)")
    left.grid(True)
    norm = LogNorm(min(b for b, _, _ in rows), max(b for b, _, _ in rows))
    for beta, _, metrics in rows:
        kls = np.sort(metrics["kl_per_dim"])[::-1]
        right.plot(np.arange(1, len(kls) + 1), np.maximum(kls, 1e-4), color=plt.cm.viridis(norm(beta)), lw=1.2)
    right.set_yscale("log")
    right.set_xlabel("latent dimension, by its rate")
    right.set_ylabel("rate of the dimension (nats)")
    right.grid(True)
    bar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="viridis"), ax=right, label="β")
    ticks = _beta_ticks([b for b, _, _ in rows])
    bar.set_ticks(ticks, labels=[_label(t) for t in ticks])
    bar.minorticks_off()
    return fig


def table(runs: dict[str, dict]) -> str:
    """Every run of the study as a markdown table: beta, n, D, R, D + R, IWAE NLL, active units."""
    lines = ["| n | β | D (BCE) | R (KL) | D + R | IWAE NLL | active units | run |",
             "|---:|---:|---:|---:|---:|---:|---:|:---|"]
    for n in (64, 2):
        for beta, name, m in grid(runs, n):
            active = f"{m['active_units']}" if "active_units" in m else "—"
            lines.append(f"| {n} | {_label(beta)} | {m['test_recon']:.2f} | {m['test_kl']:.2f} | "
                         f"{m['test_recon'] + m['test_kl']:.2f} | {m['test_iwae_nll']:.2f} | {active} | "
                         f"[{name}](experiments/{name}.ipynb) |")
    return "\n".join(lines)
