"""The book's "Explore the models" page: the shipped decoders as JavaScript, and the page's data.

Chromium refuses ``fetch`` of local files, so a page opened from ``file://`` can only read its
weights from a ``<script src>``. Each export ``<name>.js`` sets
``window.vaecoreWeights[name] = {...}`` with the decoder's layers in base64, float32 for n <= 2
and float16 for n = 64, and the SHA-256 of the ``.pt`` file it came from. The files live in
``book/_explorer`` (the book's ``html_extra_path``), not ``book/_static``, whose scripts every
page loads.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import torch

from vaecore import plots, runs, weights
from vaecore.data import Split
from vaecore.errors import VaecoreError

PREFIX = "(window.vaecoreWeights = window.vaecoreWeights || {})"


class ExportError(VaecoreError):
    """An exported decoder is missing or unreadable."""


def exports_dir() -> Path:
    """Where the book keeps the exported decoders (served as ``explorer/models/`` beside the pages)."""
    return weights.shipped_dir().parent / "_explorer" / "explorer" / "models"


def families() -> dict[int, list[tuple[float, str]]]:
    """The models the page shows, by latent size: (beta, name) of the report's protocol at seed 0, on the CPU."""
    cpu = {name: m for name, m in weights.shipped().items() if m["config"]["device"] == "cpu"}  # not the -gpu twins
    return {n: [(beta, name) for beta, name, _ in runs.grid(cpu, n)] for n in (2, 64, 1)}


def dtype(n: int) -> str:
    """float32 keeps n <= 2 within 1e-4 of torch at the plane's far edges (activations reach
    hundreds there); float16 keeps n = 64 within 2/255 and halves the files."""
    return "float32" if n <= 2 else "float16"


def decoder_arrays(model: torch.nn.Module) -> list[tuple[np.ndarray, np.ndarray]]:
    """The decoder's (weight (out, in), bias (out,)) pairs, first layer first, as float32."""
    linear = [layer for layer in model.decoder if isinstance(layer, torch.nn.Linear)]
    return [(layer.weight.detach().cpu().numpy(), layer.bias.detach().cpu().numpy()) for layer in linear]


def export(name: str, folder: Path | None = None) -> Path:
    """Write the decoder of the shipped model ``name`` to ``<folder>/<name>.js``; returns the path."""
    folder = exports_dir() if folder is None else Path(folder)
    model, source = weights.load(name), weights.shipped_path(name)
    layers = decoder_arrays(model)
    kind = dtype(model.n)
    # per layer: the weight row by row, then the bias; little-endian as the browser's typed arrays
    flat = np.concatenate([part.ravel() for pair in layers for part in pair]).astype("<f4" if kind == "float32" else "<f2")
    spec = {
        "name": name,
        "n": model.n,
        "sizes": [layers[0][0].shape[1]] + [weight.shape[0] for weight, _ in layers],
        "dtype": kind,
        "source": f"book/{source.parent.name}/{source.name}",
        "source_sha256": weights.sha256(source),
        "data": base64.b64encode(flat.tobytes()).decode("ascii"),
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.js"
    path.write_text(f"// the decoder of {name} for the book's explorer, written by `vaecore explorer`\n"
                    f"{PREFIX}[{json.dumps(name)}] = {json.dumps(spec)};\n")
    return path


def export_all(folder: Path | None = None) -> list[Path]:
    """Export every model the page shows."""
    return [export(name, folder) for models in families().values() for _, name in models]


def read_export(path: Path) -> dict:
    """The spec an export file sets (name, n, sizes, dtype, source_sha256, data)."""
    try:
        text = Path(path).read_text()
        return json.loads(text[text.index("] = ") + 4:].rstrip().rstrip(";"))
    except (OSError, ValueError) as error:
        raise ExportError(f"exported decoder {path} is missing or unreadable ({type(error).__name__}); "
                          f"write it again with `vaecore explorer`") from None


def decode(spec: dict, z: np.ndarray) -> np.ndarray:
    """Pixel means (B, 784) of an export for codes z (B, n), computed in float64 as the page does."""
    flat = np.frombuffer(base64.b64decode(spec["data"]), "<f4" if spec["dtype"] == "float32" else "<f2")
    h, start, sizes = np.asarray(z, dtype=np.float64), 0, spec["sizes"]
    for i, (cols, rows) in enumerate(zip(sizes, sizes[1:])):
        weight = flat[start:start + rows * cols].reshape(rows, cols).astype(np.float64)
        bias = flat[start + rows * cols:start + rows * cols + rows].astype(np.float64)
        start += rows * cols + rows
        h = h @ weight.T + bias
        h = np.maximum(h, 0) if i < len(sizes) - 2 else np.exp(-np.logaddexp(0, -h))
    return h


@torch.no_grad()
def page_data(test: Split, points: int = 1000, strip: int = 12, draws: int = 16, seed: int = 0) -> dict:
    """What the page shows besides the decoders, computed from the shipped weights.

    Args:
        test: the test split.
        points: test digits whose posterior means make the n = 2 plane.
        strip: test digits offered as ends of the n = 64 interpolation.
        draws: draws from the prior decoded by every n = 64 model.
        seed: seed of the draws.

    Returns:
        A JSON-ready dict: per family the models' names and betas, the plane's codes (see
        :func:`_hundredths`) and labels,
        the prior draws, the strip's pixels (uint8, base64) and its codes under each n = 64 model.
    """
    models = families()
    means = {name: weights.load(name).encode for models_n in models.values() for _, name in models_n}
    x, strip_x = test.x[:points], test.x[:strip]
    z = plots.sample_codes(64, draws, seed)  # (draws, 64)
    return {
        "n2": {"names": [name for _, name in models[2]], "betas": [beta for beta, _ in models[2]],
               "labels": test.y[:points].tolist(),
               "codes": [_hundredths(means[name](x)[0]) for _, name in models[2]]},
        "n64": {"names": [name for _, name in models[64]], "betas": [beta for beta, _ in models[64]],
                "draws": _rounded(z, 4),
                "strip": [base64.b64encode((image * 255).round().to(torch.uint8).numpy().tobytes()).decode()
                          for image in strip_x],
                "strip_labels": test.y[:strip].tolist(),
                "codes": [_rounded(means[name](strip_x)[0], 3) for _, name in models[64]]},
        "n1": {"names": [name for _, name in models[1]], "betas": [beta for beta, _ in models[1]], "limit": 5.0},
    }


def _rounded(values: torch.Tensor, places: int) -> list:
    """Nested lists of ``values`` to ``places`` decimals (float64 first: a float32 prints 17 digits)."""
    return np.round(values.double().numpy(), places).tolist()


def _hundredths(values: torch.Tensor) -> str:
    """``values`` (N, 2) in hundredths as base64 little-endian int16, row by row: a third of the
    size of JSON decimals, which keeps the n = 2 part under 1.5 MB."""
    return base64.b64encode((values * 100).round().numpy().astype("<i2").tobytes()).decode()


def page(test: Split, **options) -> dict[str, str]:
    """The page's output as a mime bundle: the explorer in HTML, a note pointing to it elsewhere (PDF)."""
    data = page_data(test, **options)
    return {"text/html": markup(data),
            "text/markdown": "The explorer runs in the browser: open this chapter, `explore.html`, in the HTML "
                             "version of the book to move through the latent spaces of the trained models."}


def markup(data: dict) -> str:
    """The explorer's HTML: three parts, the data as a global, and the script that draws them."""
    n2, n64, n1 = data["n2"], data["n64"], data["n1"]
    radios = "".join(
        f'<label><input type="radio" name="vx-n2-beta" value="{i}"{" checked" if beta == 1 else ""}>'
        f" {beta:g}</label>" for i, beta in enumerate(n2["betas"]))
    strip = "".join(
        f'<button type="button" class="vx-pick" data-index="{i}" aria-label="test digit {i + 1}, a {label}">'
        f'<canvas width="28" height="28"></canvas><span class="vx-role"></span></button>'
        for i, label in enumerate(n64["strip_labels"]))
    first64 = min(range(len(n64["betas"])), key=lambda i: abs(n64["betas"][i] - 1))
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    limit = n1["limit"]
    return f"""<link rel="stylesheet" href="explorer/explorer.css">
<div class="vx" id="vaecore-explorer">
<section class="vx-part" id="vx-n2">
<h2>n = 2: the latent plane</h2>
<p class="vx-caption">Posterior means of {len(n2["labels"]):,} test digits, coloured by digit; point, drag or use the arrow keys to decode a z.</p>
<fieldset class="vx-betas"><legend>β</legend>{radios}</fieldset>
<div class="vx-row">
<canvas class="vx-plane" id="vx-n2-plane" tabindex="0" role="img" aria-label="latent plane: arrow keys move z, shift for larger steps"></canvas>
<div class="vx-out"><canvas class="vx-digit" id="vx-n2-digit" width="28" height="28"></canvas>
<output class="vx-z" id="vx-n2-z"></output><div class="vx-legend" id="vx-n2-legend"></div></div>
</div>
</section>
<section class="vx-part" id="vx-n64">
<h2>n = 64: samples and a path</h2>
<p class="vx-caption">The same {len(n64["draws"])} draws from the prior, decoded by the model of each β, and a straight path between the codes of two test digits.</p>
<label class="vx-slider">β <input type="range" id="vx-n64-beta" min="0" max="{len(n64["betas"]) - 1}" step="1" value="{first64}">
<output id="vx-n64-beta-value"></output></label>
<div class="vx-row">
<canvas class="vx-samples" id="vx-n64-samples" width="115" height="115" role="img" aria-label="decoded draws from the prior"></canvas>
<div class="vx-path">
<div class="vx-strip" id="vx-n64-strip" role="group" aria-label="test digits: pick the two ends of the path">{strip}</div>
<label class="vx-slider">along the path <input type="range" id="vx-n64-t" min="0" max="100" step="1" value="50"></label>
<canvas class="vx-digit" id="vx-n64-digit" width="28" height="28"></canvas>
<output class="vx-z" id="vx-n64-z"></output>
</div>
</div>
</section>
<section class="vx-part" id="vx-n1">
<h2>n = 1: the latent line</h2>
<p class="vx-caption">The digit the n = 1 model decodes from each z between −{limit:g} and {limit:g}.</p>
<label class="vx-slider">z <input type="range" id="vx-n1-z-input" min="{-limit}" max="{limit}" step="0.05" value="0"></label>
<div class="vx-row"><canvas class="vx-digit" id="vx-n1-digit" width="28" height="28"></canvas>
<output class="vx-z" id="vx-n1-z"></output></div>
</section>
<p class="vx-status" id="vx-status" aria-live="polite"></p>
</div>
<script>window.vaecoreExplorerData = {payload};</script>
<script src="explorer/explorer.js"></script>
"""


def sizes(folder: Path | None = None) -> dict[str, int]:
    """Bytes of each export, by model name."""
    folder = exports_dir() if folder is None else Path(folder)
    return {path.stem: path.stat().st_size for path in sorted(folder.glob("*.js"))}

