"""The ``{run-verdict}`` directive: a run page's "Against the report" box, computed from the book's
committed runs when the book is built (:func:`vaecore.verdict.box`).

A verdict sets one run against the others (their spread over seeds), so it belongs to the build,
not to the page's execution: a change to any run, to the wording or to the test changes every box
and re-executes no page. The page's own metrics are ``<page>.json`` beside it; the spread comes
from ``experiments/``, the CPU runs. On a page without metrics beside it (the notebook itself) the
directive shows nothing.
"""

from __future__ import annotations

import functools
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from vaecore import runs, verdict


class RunVerdict(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        metrics = Path(self.env.doc2path(self.env.docname)).with_suffix(".json")
        folder = Path(self.env.srcdir) / self.config.run_verdict_runs
        if not metrics.is_file():
            return []
        published = runs.published(folder)
        for path in [metrics, *published.values()]:
            self.env.note_dependency(str(path))  # a changed run rebuilds every box
        stamps = tuple((str(path), path.stat().st_mtime_ns) for path in published.values())
        return self.parse_text_to_nodes(verdict.box(runs.read_metrics(metrics), book_runs(folder, stamps)))


@functools.lru_cache(maxsize=1)
def book_runs(folder: Path, stamps: tuple[tuple[str, int], ...]) -> dict[str, dict]:
    """The runs in ``folder`` (:func:`vaecore.runs.load`), read once for all the pages of a build rather
    than once a page (57 files, 0.14 s); ``stamps``, each run's file and modification time, has a
    changed run read again.
    """
    return runs.load(folder)


def setup(app: Sphinx) -> dict:
    app.add_config_value("run_verdict_runs", "experiments", "env")
    app.add_directive("run-verdict", RunVerdict)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
