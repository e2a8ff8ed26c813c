"""The beta study: rate, distortion, likelihood and latent usage across beta, from the runs' metrics."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from vaecore.config import Config
from vaecore.report import ORIGINAL_TABLE1

STYLE = {64: dict(color="C0", marker="o"), 2: dict(color="C1", marker="s")}


def grid(runs: dict[str, dict], n: int) -> list[tuple[float, str, dict]]:
    """The runs of latent size ``n`` at the report's protocol and seed 0, as (beta, name, metrics)
    by increasing beta."""
    protocol = Config(n=n)
    chosen = []
    for name, metrics in runs.items():
        config = Config.from_dict(metrics["config"])
        if (config.n, config.seed, config.epochs, config.train_size, config.test_size, config.dataset,
                config.likelihood, config.hidden) == (n, 0, protocol.epochs, None, None, protocol.dataset,
                                                      protocol.likelihood, protocol.hidden):
            chosen.append((config.beta, name, metrics))
    return sorted(chosen, key=lambda row: row[0])


def _label(beta: float) -> str:
    return f"{beta:g}"


def rate_distortion(runs: dict[str, dict]) -> Figure:
    """Distortion (BCE) against rate (KL) for every beta, n = 64 and n = 2, with the report's
    points and lines of constant R + D, the negative ELBO at beta = 1."""
    fig, ax = plt.subplots(figsize=(8, 5.6))
    points = []
    for n in (64, 2):
        rows = grid(runs, n)
        rate = [m["test_kl"] for _, _, m in rows]
        distortion = [m["test_recon"] for _, _, m in rows]
        points += list(zip(rate, distortion))
        ax.plot(rate, distortion, **STYLE[n], label=f"n = {n}, our runs", ms=5)
        for (beta, _, _), r, d in zip(rows, rate, distortion):
            ax.annotate(f"β={_label(beta)}", (r, d), textcoords="offset points", xytext=(5, 4), fontsize=7,
                        color=STYLE[n]["color"])
        report = sorted((beta, kl, bce) for (rn, beta), (bce, kl, _) in ORIGINAL_TABLE1.items() if rn == n)
        if report:
            ax.scatter([kl for _, kl, _ in report], [bce for _, _, bce in report], s=70, facecolors="none",
                       edgecolors=STYLE[n]["color"], marker="D", label=f"n = {n}, the report", zorder=3)
    best = min(r + d for r, d in points)
    top = max(r + d for r, d in points)
    span = np.array([0, top])
    for level in np.arange(np.ceil(best / 20) * 20, top + 20, 20):
        ax.plot(span, level - span, color="0.8", lw=0.8, zorder=0)
    ax.plot(span, best - span, color="0.3", ls="--", lw=1, zorder=0,
            label=f"R + D = {best:.1f}, the best negative ELBO")
    ax.set_xlim(0, max(r for r, _ in points) * 1.08)
    ax.set_ylim(min(d for _, d in points) * 0.9, max(d for _, d in points) * 1.05)
    ax.set_xlabel("rate R = KL(q(z|x) ‖ p(z)) (nats)")
    ax.set_ylabel("distortion D = −E_q log p(x|z) (nats)")
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.2)
    fig.tight_layout()
    return fig


def likelihood(runs: dict[str, dict]) -> Figure:
    """The IWAE estimate of −log p(x) and the negative ELBO R + D against beta."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for n in (64, 2):
        rows = grid(runs, n)
        beta = [b for b, _, _ in rows]
        ax.plot(beta, [m["test_iwae_nll"] for _, _, m in rows], **STYLE[n], label=f"n = {n}: IWAE −log p(x)")
        ax.plot(beta, [m["test_recon"] + m["test_kl"] for _, _, m in rows], color=STYLE[n]["color"], ls="--",
                marker=STYLE[n]["marker"], mfc="none", label=f"n = {n}: negative ELBO, R + D")
    ax.set_xscale("log")
    ax.set_xlabel("β")
    ax.set_ylabel("nats per test image")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.2, which="both")
    fig.tight_layout()
    return fig


def usage(runs: dict[str, dict]) -> Figure:
    """Active units against beta (n = 64), and each run's per-dimension KL, largest first."""
    rows = [row for row in grid(runs, 64) if "kl_per_dim" in row[2]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot([b for b, _, _ in rows], [m["active_units"] for _, _, m in rows], **STYLE[64])
    left.set_xscale("log")
    left.set_ylim(0, 66)
    left.set_xlabel("β")
    left.set_ylabel("active units (of 64)")
    left.grid(alpha=0.2, which="both")
    norm = LogNorm(min(b for b, _, _ in rows), max(b for b, _, _ in rows))
    for beta, _, metrics in rows:
        kls = np.sort(metrics["kl_per_dim"])[::-1]
        right.plot(np.arange(1, len(kls) + 1), np.maximum(kls, 1e-4), color=plt.cm.viridis(norm(beta)), lw=1.2)
    right.set_yscale("log")
    right.set_xlabel("latent dimension, by KL")
    right.set_ylabel("KL of the dimension (nats)")
    right.grid(alpha=0.2, which="both")
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="viridis"), ax=right, label="β")
    fig.tight_layout()
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
