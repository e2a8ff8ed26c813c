"""How the IWAE estimate converges with k: the estimate at several k from one growing sample, with
its standard errors, and its figure."""

from __future__ import annotations

import math
from typing import NamedTuple

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from vaecore.config import Config
from vaecore.evaluate import log_weights, passes, seeded
from vaecore.memory import reuse_freed_blocks
from vaecore.model import VAE
from vaecore.progress import progress_bar
from vaecore.style import WIDTH, styled


class IwaeCurve(NamedTuple):
    """The IWAE estimate of -log p(x) at several k, each k's samples the first of the largest k's."""

    k: list[int]  # increasing
    nll: list[float]  # the mean over images of -log 1/k sum_s w_s, nats
    stderr: list[float]  # its standard error over the images
    excess: list[float]  # nll minus that at the largest k, the same images and samples
    excess_stderr: list[float]  # the standard error of that difference over the images
    images: int  # how many images the means are over


@torch.no_grad()
def iwae_curve(model: VAE, x: torch.Tensor, config: Config, ks: list[int], seed: int = 0,
               progress: bool = False) -> IwaeCurve:
    """How the IWAE estimate (:func:`vaecore.evaluate.iwae_nll`) converges with k: one draw of max(ks) samples per
    image, whose first k give the estimate at each k of ``ks``, so that the curve is that of one
    growing sample and its differences are not blurred by independent draws.

    At the largest k the samples are drawn as :func:`vaecore.evaluate.iwae_nll` draws them (same seed, same parts),
    so the curve ends at its estimate, to rounding.

    Args:
        model: the VAE.
        x: images (N, M), N >= 2.
        config: gives the likelihood.
        ks: sample counts, each at least 1.
        seed: seed of the samples.
        progress: show the images going by.

    Returns:
        The estimate at each k with its standard error over the images, and its excess over the
        estimate at the largest k with the standard error of that paired difference. Since the
        bound only tightens with k, the excess at k is a lower bound on the bias left at k.
    """
    ks = sorted(set(ks))
    reuse_freed_blocks()
    k = ks[-1]
    chunk, part = passes(x, k)
    per_image = []  # (len(ks), B) per pass: -log 1/k sum_{s <= k} w_s
    bar = progress_bar(total=len(x), desc=f"IWAE curve, k up to {k}", unit="image", enabled=progress)
    with seeded(seed, x.device), bar:
        for batch in x.split(chunk):
            running, drawn, at = None, 0, []  # log sum of the weights so far (B,), their count, per k
            for log_w in log_weights(model, batch, config, k, part):
                cumulative = torch.logcumsumexp(log_w, dim=0)  # (part, B)
                if running is not None:
                    cumulative = torch.logaddexp(cumulative, running)
                at += [cumulative[size - drawn - 1] for size in ks if drawn < size <= drawn + len(log_w)]
                running, drawn = cumulative[-1], drawn + len(log_w)
            per_image.append(-(torch.stack(at) - torch.tensor(ks, dtype=log_w.dtype, device=x.device).log()[:, None]))
            bar.update(len(batch))
    nll = torch.cat(per_image, dim=1).double()  # (len(ks), N)
    excess = nll - nll[-1]
    root_n = math.sqrt(nll.shape[1])
    return IwaeCurve(k=ks, nll=nll.mean(1).tolist(), stderr=(nll.std(1) / root_n).tolist(),
                     excess=excess.mean(1).tolist(), excess_stderr=(excess.std(1) / root_n).tolist(),
                     images=nll.shape[1])


@styled
def iwae_convergence(curves: dict[str, IwaeCurve], marked: int = 1000) -> Figure:
    """The IWAE estimate of -log p(x) against k, one panel per model (titled by its key), each k's
    samples the first of the next k's (:func:`iwae_curve`).

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
