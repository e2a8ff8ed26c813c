"""What the book's "Explore the models" page shows: its data, its markup and its static panel.

The markup is ``book/_explorer/explorer/page.html`` (a :class:`string.Template`), drawn by
``explorer.js`` from the data computed here from the shipped weights, which the data record
by SHA-256 (:func:`vaecore.explorer.stale` compares them). The static panel is the figure that
the PDF, the printed page and a browser without JavaScript show instead.
"""

from __future__ import annotations

import base64
import json
import math
from string import Template

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from vaecore import explorer, plots, weights
from vaecore.data import Split
from vaecore.style import WIDTH, styled

STEPS = 8  # decoded steps of a path, both ends included
SLIDERS = 6  # dimensions of the largest latent size offered as sliders, by their KL


def template_path():
    return explorer.exports_dir().parent / "page.html"


def draws(seed: int, count: int, n: int) -> np.ndarray:
    """``count`` codes (count, n) from N(0, I) as the page draws them for ``seed``: mulberry32's
    uniforms (Tommy Ettinger's 32-bit generator, a few lines in any language), two per normal by
    Box-Muller, so that a seed shown on the page gives the same codes here."""
    state, out = seed & 0xFFFFFFFF, np.empty(count * n)
    for i in range(count * n):
        pair = []
        for _ in range(2):
            state = (state + 0x6D2B79F5) & 0xFFFFFFFF
            t = ((state ^ (state >> 15)) * (state | 1)) & 0xFFFFFFFF
            t ^= (t + ((t ^ (t >> 7)) * (t | 61))) & 0xFFFFFFFF
            pair.append(((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296)
        out[i] = math.sqrt(-2 * math.log(1 - pair[0])) * math.cos(2 * math.pi * pair[1])
    return out.reshape(count, n)


def picks(test: Split) -> list[int]:
    """The first test digit of each label, in label order: the digits offered for encoding."""
    labels = test.y.tolist()
    return [labels.index(label) for label in sorted(set(labels))]


def dimensions(metrics: dict, count: int = SLIDERS) -> list[dict]:
    """The ``count`` latent dimensions of a run with the highest test-set KL, highest first: each
    its index, KL in nats and whether it is active (among the ``active_units`` dimensions whose
    posterior means vary most over the test set)."""
    kl, variance = np.asarray(metrics["kl_per_dim"]), np.asarray(metrics["mean_variance"])
    active = set(np.argsort(-variance)[:metrics["active_units"]].tolist())
    return [{"dim": int(d), "kl": round(float(kl[d]), 3), "active": int(d) in active} for d in np.argsort(-kl)[:count]]


def _pixels(x: torch.Tensor) -> list[str]:
    """Test images (B, D) in [0, 1] as base64 uint8, exact: MNIST's pixels are bytes over 255."""
    return [base64.b64encode((image * 255).round().to(torch.uint8).numpy().tobytes()).decode() for image in x]


def _rounded(values: torch.Tensor, places: int) -> list:
    """Nested lists of ``values`` to ``places`` decimals (float64 first: a float32 prints 17 digits)."""
    return np.round(values.double().numpy(), places).tolist()


def _hundredths(values: torch.Tensor) -> str:
    """``values`` (N, 2) in hundredths as base64 little-endian int16, row by row: a third of the
    size of JSON decimals, which keeps the plane's part under 1.5 MB."""
    return base64.b64encode((values * 100).round().numpy().astype("<i2").tobytes()).decode()


@torch.no_grad()
def page_data(test: Split, points: int = 1000, strip: int = 12) -> dict:
    """What the page shows besides the networks, computed from the shipped weights.

    Args:
        test: the test split.
        points: test digits whose posterior means make the plane.
        strip: test digits offered as ends of the largest latent size's path.

    Returns:
        A JSON-ready dict: per part (``plane``, ``line``, ``space``: the largest latent size) the
        models' names and betas; the plane's codes (see :func:`_hundredths`), labels and the
        digits offered for encoding; the space's path ends, their codes under each model and the
        dimensions of each with the highest KL; and ``weights``, the SHA-256 of every model's
        weights that all of it came from.
    """
    families = explorer.families()
    plane, line, (n, space) = families[explorer.PLANE], families[explorer.LINE], max(families.items())
    shipped = weights.shipped()
    mu = {name: weights.load(name).encode for models in families.values() for _, name in models}
    x, strip_x, offered = test.x[:points], test.x[:strip], picks(test)
    return {
        "plane": {"names": [name for _, name in plane], "betas": [beta for beta, _ in plane],
                  "labels": test.y[:points].tolist(),
                  "codes": [_hundredths(mu[name](x)[0]) for _, name in plane],
                  "picks": _pixels(test.x[offered]), "pick_labels": test.y[offered].tolist()},
        "space": {"n": n, "names": [name for _, name in space], "betas": [beta for beta, _ in space],
                  "draws": 16, "steps": STEPS,
                  "strip": _pixels(strip_x), "strip_labels": test.y[:strip].tolist(),
                  "codes": [_rounded(mu[name](strip_x)[0], 3) for _, name in space],
                  "dims": [dimensions(shipped[name]) for _, name in space],
                  "active": [shipped[name]["active_units"] for _, name in space]},
        "line": {"names": [name for _, name in line], "betas": [beta for beta, _ in line], "limit": 5.0},
        "weights": {name: shipped[name]["weights_sha256"] for name in explorer.shown()},
    }


def markup(data: dict) -> str:
    """The page's HTML: :func:`template_path` filled with the data, which ``explorer.js`` draws."""
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return Template(template_path().read_text()).substitute(
        data=payload, data_id=explorer.DATA_ID, points=f"{len(data['plane']['labels']):,}",
        draws=data["space"]["draws"], n=data["space"]["n"], steps=data["space"]["steps"],
        sliders=SLIDERS, limit=f"{data['line']['limit']:g}")


def page(test: Split, **options) -> dict[str, str]:
    """The page's output as a mime bundle: the explorer in HTML, a pointer to it elsewhere (PDF)."""
    return {"text/html": markup(page_data(test, **options)),
            "text/markdown": "In the HTML version of this book this chapter is live: its page `explore.html` runs "
                             "the decoders and encoders in the browser, offline too. The figure below shows "
                             "the same models at fixed codes."}


@styled
@torch.no_grad()
def panel(test: Split, limit: float = 2.5, grid: int = 9, shown: int = 8, seed: int = 0) -> Figure:
    """The page at fixed codes, for the PDF, print and a browser without JavaScript.

    Top, each plane model's decoded grid over ``[-limit, limit]^2`` (the prior's bulk); below,
    one row per model of the largest latent size at the plane's betas: ``shown`` of the page's
    prior draws for ``seed`` (the same codes in every row), then the path from the first test
    digit to the second in :data:`STEPS` decoded steps, between the two digits.
    """
    families = explorer.families()
    plane, (n, space) = families[explorer.PLANE], max(families.items())
    space = [(beta, name) for beta, name in space if beta in dict(plane)]
    z = torch.from_numpy(draws(seed, shown, n)).float()
    a, b = test.x[0], test.x[1]
    label = 0.65  # inches left of the rows for their labels
    tile = (WIDTH - label) / (shown + STEPS + 3)  # inches per image: draws, a gap, the path with its ends
    top = WIDTH / len(plane)  # inches per plane grid
    fig = plt.figure(figsize=(WIDTH, top + 0.5 + len(space) * tile * 1.06 + 0.05), layout="none")
    grids = fig.add_gridspec(1, len(plane), left=0.01, right=0.99, top=1 - 0.2 / fig.get_figheight(),
                             bottom=1 - (top + 0.2) / fig.get_figheight(), wspace=0.08)
    axis = torch.linspace(-limit, limit, grid)
    z2, z1 = torch.meshgrid(axis.flip(0), axis, indexing="ij")  # rows from +limit down
    codes = torch.stack([z1.flatten(), z2.flatten()], dim=1)
    for column, (beta, name) in enumerate(plane):
        ax = fig.add_subplot(grids[0, column])
        ax.imshow(plots.tiles(plots.decode_mean(weights.load(name), codes), grid), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"n = {explorer.PLANE}, β = {beta:g}", pad=2)
        ax.set_axis_off()
    rows = fig.add_gridspec(len(space), 1, left=label / WIDTH, right=0.99, hspace=0.06,
                            top=1 - (top + 0.5) / fig.get_figheight(), bottom=0.01)
    for row, (beta, name) in enumerate(space):
        model = weights.load(name)
        path = plots.interpolate(model, a[None], b[None], STEPS)[0]
        images = torch.cat([plots.decode_mean(model, z), torch.zeros(1, a.numel()), a[None], path, b[None]])
        ax = fig.add_subplot(rows[row, 0])
        ax.imshow(plots.tiles(images, len(images)), cmap="gray_r", vmin=0, vmax=1)
        ax.set_axis_off()
        ax.text(-0.01, 0.5, f"β = {beta:g}", transform=ax.transAxes, ha="right", va="center")
        if row == 0:
            ax.set_title(f"n = {n}: {shown} prior draws (seed {seed}), and a path between two test digits", pad=3)
    return fig
