"""Progress of long work, on the process's own stderr: a terminal sees it, an executed page never.

A notebook kernel captures what its process writes to stderr into the page, but
``sys.stderr.fileno()`` there is a copy of the process's original stderr, which papermill's
terminal shows and the page does not. ``$VAECORE_PROGRESS`` picks
the form: ``bar`` (redrawn in place; the default on a terminal), ``lines`` (a line every
half minute; the default elsewhere, such as CI logs, and what ``--quiet`` asks for) or
``off`` (what a sweep gives its kernels, whose progress it shows itself).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from vaecore.errors import VaecoreError
from vaecore.folder import write_atomically

MODES = ("bar", "lines", "off")
FILE = "progress.json"  # a run folder's latest epoch, for whoever watches the run


class _Lines:
    """A stream that writes each of tqdm's in-place redraws as a line of its own, for logs."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        for line in text.replace("\r", "\n").split("\n"):
            if line.strip():
                self.stream.write(line.rstrip() + "\n")

    def flush(self) -> None:
        self.stream.flush()


def _terminal() -> TextIO | None:
    """The process's own stderr, also inside a notebook kernel (see above); None where there is none."""
    try:
        return open(sys.stderr.fileno(), "w", buffering=1, closefd=False)
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return None


def mode(stream: TextIO | None) -> str:
    value = os.environ.get("VAECORE_PROGRESS") or ("bar" if stream is not None and stream.isatty() else "lines")
    if value not in MODES:
        raise VaecoreError(f"VAECORE_PROGRESS must be one of {', '.join(MODES)}, got {value!r}")
    return value


def progress_bar(total: int, desc: str, unit: str, initial: int = 0, enabled: bool = True) -> tqdm:
    """A tqdm bar on the process's own stderr, in the form :func:`mode` picks (none unless ``enabled``)."""
    stream = _terminal()
    shown = mode(stream)
    lines = shown == "lines"
    return tqdm(total=total, desc=desc, unit=unit, initial=initial,
                disable=not enabled or shown == "off" or stream is None,
                file=_Lines(stream) if lines else stream, mininterval=30 if lines else 0.1,
                ncols=100 if lines else None, ascii=lines)


def tell(message: str) -> None:
    """Say ``message`` on the process's own stderr, as a line: a terminal sees it, a page never."""
    stream = _terminal()
    if stream is not None:
        stream.write(message + "\n")


def report_epoch(folder: Path, epoch: int, epochs: int, train: float, test: float) -> None:
    """Record a run's latest epoch in ``folder/progress.json`` (whole, never half-written)."""
    record = json.dumps({"epoch": epoch, "epochs": epochs, "train": train, "test": test}).encode()
    write_atomically(folder / FILE, lambda file: file.write(record))


def read_epoch(folder: Path) -> dict | None:
    """A run's latest epoch as :func:`report_epoch` wrote it, or None before its first epoch."""
    try:
        return json.loads((folder / FILE).read_text())
    except (OSError, ValueError):
        return None
