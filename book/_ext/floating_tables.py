"""Tables that float in the PDF, as its figures do: a captioned table at a page's outer level may move
to the top or bottom of a page, or to a page of its own, instead of leaving the rest of a page empty
where it does not fit.

Sphinx sets every table where it stands. This marks each captioned table whose ancestors are only
sections and output cells with the class ``float``, which ``book/_templates/tabulary.tex.jinja``
wraps in a ``table`` float. A table in a box, a list or another table stays where it is: LaTeX
cannot float it there.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform

FLOAT = "float"
OUTER = (nodes.section, nodes.document, nodes.container)


def floats(table: nodes.table) -> bool:
    """Whether ``table`` has a caption and stands at the page's outer level."""
    if not isinstance(table.children[0], nodes.title):
        return False
    parent = table.parent
    while not isinstance(parent, nodes.document):
        if not isinstance(parent, OUTER):
            return False
        parent = parent.parent
    return True


class FloatingTables(SphinxPostTransform):
    default_priority = 400
    formats = ("latex",)

    def run(self, **kwargs) -> None:
        for table in self.document.findall(nodes.table):
            if floats(table):
                table["classes"].append(FLOAT)


def setup(app: Sphinx) -> dict:
    app.add_post_transform(FloatingTables)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
