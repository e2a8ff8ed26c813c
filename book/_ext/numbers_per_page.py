"""Figures and tables numbered within each page of the HTML book: Fig. 1, 2, ... on every page.

Without section numbers Sphinx counts figures, tables and code blocks across the whole book,
so that a chapter after the run pages shows "Fig. 191". After Sphinx has assigned its numbers
(``env-get-updated``), this numbers each page's own from 1, in the order Sphinx gave them.
The PDF is not touched: LaTeX numbers by chapter itself (Figure 3.2).
"""

from __future__ import annotations

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment


def per_page(numbers: dict[str, dict[str, tuple[int, ...]]]) -> dict[str, dict[str, tuple[int, ...]]]:
    """One page's numbers {figtype: {id: number}} counted from 1 for each figtype, order kept."""
    return {figtype: {node_id: (place,) for place, node_id in enumerate(sorted(ids, key=ids.get), start=1)}
            for figtype, ids in numbers.items()}


def renumber(app: Sphinx, env: BuildEnvironment) -> list[str]:
    if app.builder.format == "html":
        env.toc_fignumbers = {docname: per_page(numbers) for docname, numbers in env.toc_fignumbers.items()}
    return []


def setup(app: Sphinx) -> dict:
    app.connect("env-get-updated", renumber, priority=900)  # after Sphinx's own numbering (500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
