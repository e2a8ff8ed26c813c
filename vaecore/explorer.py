"""The book's "Explore the models" page's weights: which models it shows, their networks as
JavaScript, and whether those and the executed page still match the shipped weights.

Chromium refuses ``fetch`` of local files, so a page opened from ``file://`` can only read its
weights from a ``<script src>``. Each export sets ``window.vaecoreWeights[key] = {...}`` with a
network's layers in base64 and the SHA-256 of the ``.pt`` file it came from: ``<name>.js`` the
decoder (key ``name``; float32 for the plane and the line, float16 for larger latent sizes) and,
for the plane's models, ``<name>.encoder.js`` the encoder (key ``name.encoder``, float32). The
files live in ``book/_explorer`` (the book's ``html_extra_path``), not ``book/_static``, whose
scripts every page loads.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import torch

from vaecore import runs, weights
from vaecore.errors import VaecoreError
from vaecore.folder import write_atomically

PREFIX = "(window.vaecoreWeights = window.vaecoreWeights || {})"
PLANE, LINE = 2, 1  # the latent sizes the page draws as a plane and as a line: their codes are its axes
ENCODER = ".encoder"  # the suffix of an encoder's key and file stem
DATA_ID = "vx-data"  # the id of the page's <script type="application/json"> that holds its data


class ExportError(VaecoreError):
    """The explorer's exports cannot be written, or there is nothing to export."""


def book_dir() -> Path:
    return weights.shipped_dir().parent


def exports_dir() -> Path:
    """Where the book keeps the exported networks (served as ``explorer/models/`` beside the pages)."""
    return book_dir() / "_explorer" / "explorer" / "models"


def page_path() -> Path:
    """The executed explorer page, whose output records the weights its codes came from."""
    return book_dir() / "explore.ipynb"


def families() -> dict[int, list[tuple[float, str]]]:
    """The models the page shows, by latent size, smallest first: (beta, name) of the report's
    protocol at seed 0, on the CPU (not the ``-gpu`` twins)."""
    cpu = {name: m for name, m in weights.shipped().items() if m["config"]["device"] == "cpu"}
    sizes = sorted({m["config"]["n"] for m in cpu.values()})
    return {n: models for n in sizes if (models := [(beta, name) for beta, name, _ in runs.grid(cpu, n)])}


def shown() -> list[str]:
    """The names of every model the page shows."""
    return [name for models in families().values() for _, name in models]


def encoded(name: str) -> bool:
    """Whether the page encodes digits with ``name``: the plane's models, where a posterior can be drawn."""
    return weights.shipped_metrics(name)["config"]["n"] == PLANE


def dtype(n: int) -> str:
    """float32 keeps n <= 2 within 1e-4 of torch at the plane's far edges (activations reach
    hundreds there); float16 keeps n = 64 within 2/255 and halves the files."""
    return "float32" if n <= PLANE else "float16"


def layers(network: torch.nn.Sequential) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (weight (out, in), bias (out,)) pairs of a network's linear layers, first layer first."""
    linear = [layer for layer in network if isinstance(layer, torch.nn.Linear)]
    return [(layer.weight.detach().cpu().numpy(), layer.bias.detach().cpu().numpy()) for layer in linear]


def spec(key: str, n: int, network: torch.nn.Sequential, kind: str, source: Path) -> dict:
    """What an export holds: the layer sizes, the dtype, the source's SHA-256 and the data, per
    layer the weight row by row then the bias, little-endian as the browser's typed arrays."""
    pairs = layers(network)
    flat = np.concatenate([part.ravel() for pair in pairs for part in pair]).astype("<f4" if kind == "float32" else "<f2")
    return {"name": key, "n": n, "sizes": [pairs[0][0].shape[1]] + [w.shape[0] for w, _ in pairs],
            "dtype": kind, "source": f"book/{source.parent.name}/{source.name}", "source_sha256": weights.sha256(source),
            "data": base64.b64encode(flat.tobytes()).decode("ascii")}


def script(key: str, content: dict, what: str) -> bytes:
    return (f"// the {what} for the book's explorer, written by `vaecore explorer`\n"
            f"{PREFIX}[{json.dumps(key)}] = {json.dumps(content)};\n").encode()


def export(name: str, folder: Path | None = None) -> list[Path]:
    """Write the decoder of the shipped model ``name`` to ``<folder>/<name>.js``, and its encoder
    to ``<name>.encoder.js`` if the page encodes with it; returns the paths.

    Raises:
        ExportError: ``folder`` is a file or cannot be created.
        OutputError: a file cannot be written (a full disk, a file-size limit); the previous one is kept.
    """
    folder = _prepared(folder)
    model, source = weights.load(name), weights.shipped_path(name)
    parts = [(name, model.decoder, dtype(model.n), f"decoder of {name}")]
    if encoded(name):
        parts.append((name + ENCODER, model.encoder, "float32", f"encoder of {name}"))
    paths = []
    for key, network, kind, what in parts:
        path = folder / f"{key}.js"
        data = script(key, spec(key, model.n, network, kind, source), what)
        write_atomically(path, lambda file, data=data: file.write(data))
        paths.append(path)
    return paths


def export_all(folder: Path | None = None) -> list[Path]:
    """Export every model the page shows into ``folder`` (created if need be).

    Raises:
        ExportError: no shipped model to export, or ``folder`` is a file or cannot be created.
        OutputError: a file cannot be written; the files already written stay whole.
    """
    names = shown()
    if not names:
        raise ExportError(f"there are no shipped models in {weights.shipped_dir()} to export; "
                          f"restore them with git checkout, or publish runs with `vaecore sweep`")
    return [path for name in names for path in export(name, folder)]


def _prepared(folder: Path | None) -> Path:
    """``folder`` (default :func:`exports_dir`), created if need be.

    Raises:
        ExportError: ``folder`` is a file or cannot be created.
    """
    folder = exports_dir() if folder is None else Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"--out {folder} is a file, not a folder; name a folder for the exports")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ExportError(f"cannot create the folder {folder} ({error.strerror or error}); "
                          f"name a folder that can be written") from None
    return folder


def exported_sha256(path: Path) -> str | None:
    """The SHA-256 of the weights an export was made from, or None if it is missing or unreadable."""
    try:
        found = re.search(r'"source_sha256": "([0-9a-f]{64})"', path.read_text())
    except (OSError, UnicodeDecodeError):
        return None
    return found[1] if found else None


def page_sha256(notebook: Path | None = None) -> dict[str, str]:
    """The SHA-256 of each model's weights that the executed page's codes came from (empty if none)."""
    try:
        cells = json.loads((page_path() if notebook is None else notebook).read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return {}
    pattern = re.compile(f'<script type="application/json" id="{DATA_ID}">(.*?)</script>', re.DOTALL)
    for cell in cells:
        for output in cell.get("outputs", []):
            found = pattern.search("".join(output.get("data", {}).get("text/html", "")))
            if found:
                return json.loads(found[1].replace("<\\/", "</")).get("weights", {})
    return {}


def stale(folder: Path | None = None, notebook: Path | None = None) -> list[str]:
    """The models the page shows whose exports or whose page data were not made from their shipped
    weights (missing, unreadable or another SHA-256); empty when all agree.

    ``vaecore explorer`` writes the exports again; the page's data come from executing
    ``book/explore.ipynb`` (from ``book/``: ``papermill explore.ipynb explore.ipynb``).
    """
    folder = exports_dir() if folder is None else Path(folder)
    recorded, shipped = page_sha256(notebook), weights.shipped()
    out = []
    for name in shown():
        sha = shipped[name]["weights_sha256"]
        files = [folder / f"{name}.js"] + ([folder / f"{name}{ENCODER}.js"] if encoded(name) else [])
        if recorded.get(name) != sha or any(exported_sha256(path) != sha for path in files):
            out.append(name)
    return out


def advice(names: list[str], exported: bool = False) -> str:
    """One sentence naming the stale models and the commands that bring them up to date (only the
    page's when the exports were just written)."""
    page = "execute book/explore.ipynb again (cd book && papermill explore.ipynb explore.ipynb)"
    if exported:
        return f"the explorer page's codes were not computed from the shipped weights of {', '.join(names)}: {page}"
    return (f"the explorer's exports or page were not made from the shipped weights of {', '.join(names)}: "
            f"run `vaecore explorer`, then {page}")
