"""β set italic in text, as ``$\\beta$`` is in the equations: in Markdown prose, titles, tables and the
words Python writes (glued text), so that the symbol has one shape on every page and in the PDF.

Each β in a text node outside code and mathematics becomes an emphasis node of class ``beta``.
This is done when a page is read, so that titles carry it into the navigation and the PDF's
headings, and again when the page is written, for glued text resolved only then. Outputs written
by the notebooks as HTML or images keep their own shape.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform

BETA = "β"
CLASS = "beta"
# text where β is not prose: code, mathematics, raw output, and the β already set
VERBATIM = (nodes.FixedTextElement, nodes.literal, nodes.math, nodes.raw)


def verbatim(node: nodes.Node) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, VERBATIM) or CLASS in parent.get("classes", ()):
            return True
        parent = parent.parent
    return False


def italicise(doctree: nodes.Node) -> None:
    """Replace every β in ``doctree``'s prose by an italic β (an emphasis of class ``beta``)."""
    for text in list(doctree.findall(nodes.Text)):
        if BETA not in text or verbatim(text):
            continue
        parts: list[nodes.Node] = []
        for i, piece in enumerate(str(text).split(BETA)):
            if i:
                parts.append(nodes.emphasis(BETA, BETA, classes=[CLASS]))
            if piece:
                parts.append(nodes.Text(piece))
        text.parent.replace(text, parts)


class ItaliciseGlued(SphinxPostTransform):
    """The same for glued text, which myst-nb resolves after the page is read."""

    default_priority = 900  # after myst-nb's glue (its post-transforms run at priorities up to 199)

    def run(self, **kwargs) -> None:
        italicise(self.document)


def setup(app: Sphinx) -> dict:
    app.connect("doctree-read", lambda app, doctree: italicise(doctree), priority=400)  # before titles are collected
    app.add_post_transform(ItaliciseGlued)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
