"""Columns of numbers set flush right in the PDF, as the Markdown tables' ``---:`` asks.

MyST marks each cell of a right-aligned column with the class ``text-right``, which the HTML
theme honours and Sphinx's LaTeX writer ignores: every column of a ``tabulary`` comes out ``T``,
flush left. For the LaTeX builder this gives each such table the column specification Sphinx
reads from a ``tabularcolumns`` directive: ``R`` (tabulary's flush right) where the body's cells
are ``text-right``, ``C`` where ``text-center``, ``T`` elsewhere. Tables Sphinx would set as a
``longtable`` (more than 30 rows), or that hold literal blocks, keep its own specification.
"""

from __future__ import annotations

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform

LONGTABLE_ROWS = 30  # sphinx.writers.latex.Table.is_longtable
KINDS = {"text-right": "R", "text-center": "C"}


def column_spec(table: nodes.table) -> str | None:
    """The tabulary specification of ``table``'s columns, or None where every column is flush left
    or Sphinx would not set the table as a tabulary."""
    rows = list(table.findall(nodes.row))
    if len(rows) > LONGTABLE_ROWS or any(True for _ in table.findall(nodes.literal_block)):
        return None
    body = [row for row in rows if isinstance(row.parent, nodes.tbody)]
    if not body:
        return None
    kinds = []
    for entry in body[0].children:
        found = [KINDS[c] for c in entry.get("classes", []) if c in KINDS]
        kinds.append(found[0] if found else "T")
    return "".join(kinds) if set(kinds) != {"T"} else None


class NumbersRight(SphinxPostTransform):
    default_priority = 400
    formats = ("latex",)

    def run(self, **kwargs) -> None:
        for table in list(self.document.findall(nodes.table)):
            spec = column_spec(table)
            if spec and not isinstance(table.previous_sibling(), addnodes.tabular_col_spec):
                table.parent.insert(table.parent.index(table), addnodes.tabular_col_spec(spec=spec))


def setup(app: Sphinx) -> dict:
    app.add_post_transform(NumbersRight)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
