"""The compact appendix of runs: every shipped run in a table and, per family, one figure of small multiples."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from vaecore import weights
from vaecore.plots import decode_mean, sample_codes, tiles
from vaecore.report import ORIGINAL_TABLE1, follows_protocol, markdown_row, table1_runs

# one figure of small multiples per family fills a page of the PDF: its width and most height, inches
PAGE = (6.3, 8.0)
# the families of runs, by the key :func:`families` gives them
TITLES = {"table1": "Table 1 (seed 0)", "seeds": "Table 1 with other seeds", "gpu": "Table 1 on a GPU",
          "beta": "The β study", "beta-seeds": "The β study with other seeds"}


def families(cpu: dict[str, dict], gpu: dict[str, dict]) -> dict[str, dict[str, dict]]:
    """The book's runs in the families the appendix shows (:data:`TITLES`), each by shipped model
    name (see :func:`vaecore.weights.shipped`): Table 1's seed-0 runs, the same with other seeds,
    Table 1 on the GPU, the β study (every other run with seed 0, or away from the protocol) and
    the β study with other seeds.

    Args:
        cpu: the CPU runs' metrics by name (``book/experiments``).
        gpu: the GPU runs' metrics by name (``book/experiments-gpu``).
    """
    table1 = table1_runs(cpu)
    seeds = {name: m for name, m in cpu.items() if m["config"]["seed"] != 0 and follows_protocol(m)}
    rest = {name: m for name, m in cpu.items() if name not in table1 and name not in seeds}
    reported = {name for name, m in seeds.items() if (m["config"]["n"], m["config"]["beta"]) in ORIGINAL_TABLE1}
    groups = {"table1": table1, "seeds": dict(sorted(((n, seeds[n]) for n in reported), key=_order)),
              "gpu": {f"{name}-gpu": m for name, m in table1_runs(gpu).items()},
              "beta": dict(sorted(rest.items(), key=_order)),
              "beta-seeds": dict(sorted(((n, m) for n, m in seeds.items() if n not in reported), key=_order))}
    return {family: runs for family, runs in groups.items() if runs}


def _order(item: tuple[str, dict]) -> tuple:
    config = item[1]["config"]
    return -config["n"], config["beta"], config["seed"]


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
