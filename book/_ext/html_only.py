"""Pages that only the HTML book has: the PDF leaves them out and points their links elsewhere.

The full run pages are in the HTML book; the PDF shows them in a compact appendix instead
(a table and small multiples per family of runs). Configured in ``_config.yml``:

    sphinx:
      local_extensions: {html_only: _ext}
      config:
        html_only_docs: ["experiments/*", "experiments-gpu/*"]  # docnames, fnmatch patterns
        html_only_stand_in: runs   # where the PDF's links to those pages lead

For a LaTeX build the matching documents are excluded before they are read, dropped from the
table of contents (with a part of the contents left empty by that), and every link to one
of them, a Markdown link or a ``{doc}`` role, leads to the stand-in page.
"""

from __future__ import annotations

from fnmatch import fnmatch

from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform


def _html_only(app: Sphinx, docname: str) -> bool:
    return any(fnmatch(docname, pattern) for pattern in app.config.html_only_docs)


def leave_out(app: Sphinx) -> None:
    """For the LaTeX builder: exclude the HTML-only pages and take them out of the contents."""
    if app.builder.format != "latex" or not app.config.html_only_docs:
        return
    app.config.exclude_patterns = [*app.config.exclude_patterns,
                                   *(f"{pattern}.*" for pattern in app.config.html_only_docs)]
    site_map = app.config.external_site_map
    for docname in site_map:
        document = site_map[docname]
        for tree in document.subtrees:
            tree.items[:] = [item for item in tree.items if not (isinstance(item, str) and _html_only(app, item))]
        document.subtrees[:] = [tree for tree in document.subtrees if tree.items]


class StandIn(SphinxPostTransform):
    """Links to an HTML-only page lead to the stand-in page in the PDF."""

    default_priority = 5  # before the references are resolved (MyST's at 9, Sphinx's at 10)
    formats = ("latex",)

    def run(self, **kwargs) -> None:
        stand_in = self.app.config.html_only_stand_in
        for node in self.document.findall(addnodes.pending_xref):
            target = node.get("reftarget", "")
            if node.get("reftype") == "myst" and node.get("refdomain") == "doc" and _html_only(self.app, target):
                node["reftarget"], node["reftargetid"] = stand_in, None
            elif node.get("reftype") == "doc" and _html_only(self.app, target.lstrip("/")):
                node["reftarget"] = "/" + stand_in


def setup(app: Sphinx) -> dict:
    app.add_config_value("html_only_docs", [], "env")
    app.add_config_value("html_only_stand_in", "", "env")
    app.connect("builder-inited", leave_out, priority=400)  # before sphinx-jupyterbook-latex reads the parts
    app.add_post_transform(StandIn)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
