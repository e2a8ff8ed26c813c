"""The explorer's exports read back and run in numpy as the page runs them: what the tests check
against torch."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np


def read(path: Path) -> dict:
    """The spec an export file sets (name, n, sizes, dtype, source_sha256, data)."""
    text = Path(path).read_text()
    return json.loads(text[text.index("] = ") + 4:].rstrip().rstrip(";"))


def run(spec: dict, x: np.ndarray) -> np.ndarray:
    """The network's output for inputs ``x`` (B, sizes[0]) in float64, as the page computes it:
    ReLU between the layers, nothing after the last."""
    flat = np.frombuffer(base64.b64decode(spec["data"]), "<f4" if spec["dtype"] == "float32" else "<f2")
    h, start, sizes = np.asarray(x, dtype=np.float64), 0, spec["sizes"]
    for i, (cols, rows) in enumerate(zip(sizes, sizes[1:])):
        weight = flat[start:start + rows * cols].reshape(rows, cols).astype(np.float64)
        bias = flat[start + rows * cols:start + rows * cols + rows].astype(np.float64)
        start += rows * cols + rows
        h = h @ weight.T + bias
        h = np.maximum(h, 0) if i < len(sizes) - 2 else h
    return h


def decode(spec: dict, z: np.ndarray) -> np.ndarray:
    """Pixel means (B, 784) of a decoder's export for codes z (B, n)."""
    return np.exp(-np.logaddexp(0, -run(spec, z)))


def encode(spec: dict, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """mu and log sigma^2 (B, n) each of an encoder's export for images x (B, 784)."""
    out = run(spec, x)
    return out[:, :spec["n"]], out[:, spec["n"]:]


def sizes(folder: Path) -> dict[str, int]:
    """Bytes of each export in ``folder``, by its stem (``n2-beta1``, ``n2-beta1.encoder``)."""
    return {path.name[:-3]: path.stat().st_size for path in sorted(folder.glob("*.js"))}
