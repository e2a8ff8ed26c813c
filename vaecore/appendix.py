"""The compact appendix of runs: every shipped run in a table and, per family, one figure of small multiples."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from vaecore import weights
from vaecore.plots import decode_mean, sample_codes, tiles
from vaecore.words import markdown_row

# one figure of small multiples per family fills a page of the PDF: its width and most height, inches
PAGE = (6.3, 8.0)
# the families of runs, by the key :func:`vaecore.runs.families` gives them
TITLES = {"table1": "Table 1 (seed 0)", "seeds": "Table 1 with other seeds", "gpu": "Table 1 on a GPU",
          "beta": "The β study", "beta-seeds": "The β study with other seeds"}


def label(metrics: dict) -> str:
    """``"n = 64, β = 0.1, seed 0"``."""
    config = metrics["config"]
    return f"n = {config['n']}, β = {config['beta']:g}, seed {config['seed']}"


def page_path(name: str) -> str:
    """A shipped model's run page, relative to the book's folder, without its suffix."""
    path = weights.shipped_path(name)
    return f"{path.parent.name}/{path.stem}"


def runs_table(runs: dict[str, dict]) -> str:
    """A family's runs as a markdown table: the run (its page's name, linked to it), n, β, seed, the
    test numbers D, R, D + βR and IWAE NLL, and the first 8 hex digits of the weights' SHA-256."""
    lines = [markdown_row(["run", "n", "β", "seed", "D", "R", "D + βR", "IWAE NLL", "SHA-256"]),
             markdown_row(["---", *["---:"] * 7, "---"])]
    for name, m in runs.items():
        config = m["config"]
        path = page_path(name)
        lines.append(markdown_row([f"[{path.split('/')[-1]}]({path}.ipynb)", config["n"], f"{config['beta']:g}",
                                   config["seed"], f"{m['test_recon']:.2f}", f"{m['test_kl']:.2f}",
                                   f"{m['test_total']:.2f}", f"{m['test_iwae_nll']:.2f}",
                                   f"`{m['weights_sha256'][:8]}`"]))
    return "\n".join(lines)


@torch.no_grad()
def small_multiples(runs: dict[str, dict], samples: int = 16, seed: int = 0) -> Figure:
    """One panel per run of a family: its shipped model's decoded means of the same ``samples``
    codes drawn from the prior N(0, I) (for each latent size), titled with its configuration and
    its D + βR. The figure fills a page."""
    columns = 4 if len(runs) > 12 else 3 if len(runs) > 4 else 2
    rows = math.ceil(len(runs) / columns)
    width, most = PAGE
    fig, axes = plt.subplots(rows, columns, figsize=(width, min(most, rows * width / columns * 1.12)),
                             squeeze=False, layout="constrained")
    side = math.isqrt(samples)
    for ax, (name, m) in zip(axes.flat, runs.items()):
        model = weights.load(name)
        images = decode_mean(model, sample_codes(model.n, samples, seed))
        ax.imshow(tiles(images, side), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"{label(m)}\nD + βR = {m['test_total']:.2f}", fontsize=8)
    for ax in axes.flat:
        ax.set_axis_off()
    return fig
