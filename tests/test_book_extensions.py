"""The book's own Sphinx extensions (book/_ext), on made-up nodes and entries."""

from types import SimpleNamespace

import pytest
from docutils import nodes

import author_year
import floating_tables
import italic_beta
import numbers_per_page
import numbers_right
import scripts_once


def table(classes: list[list[str]], rows: int = 1) -> nodes.table:
    """A table of ``rows`` body rows whose cells carry ``classes``, column by column."""
    group = nodes.tgroup(cols=len(classes))
    head, body = nodes.thead(), nodes.tbody()
    head += nodes.row("", *[nodes.entry("", nodes.paragraph(text="h")) for _ in classes])
    for _ in range(rows):
        body += nodes.row("", *[nodes.entry("", nodes.paragraph(text="1"), classes=c) for c in classes])
    group += [head, body]
    return nodes.table("", group)


def test_numeric_columns_are_flush_right_in_the_pdf():
    assert numbers_right.column_spec(table([[], ["text-right"], ["text-right"], ["text-center"]])) == "TRRC"
    assert numbers_right.column_spec(table([[], ["text-left"]])) is None  # all flush left: Sphinx's own
    assert numbers_right.column_spec(table([[], ["text-right"]], rows=31)) is None  # a longtable: Sphinx's own


def test_a_captioned_table_at_the_outer_level_floats_in_the_pdf_and_one_in_a_box_stays():
    def captioned():
        return nodes.table("", nodes.title(text="Table 1"), *table([[]]).children)

    outer, boxed, bare = captioned(), captioned(), table([[]])
    document = nodes.document(None, None)
    document += nodes.section("", nodes.title(text="Results"), nodes.container("", outer),
                              nodes.admonition("", boxed), bare)
    assert floating_tables.floats(outer) and not floating_tables.floats(boxed) and not floating_tables.floats(bare)


def test_figures_are_numbered_within_each_page_in_their_order():
    numbers = {"figure": {"b": (191,), "a": (190,), "c": (207,)}, "table": {"t": (40,)}}
    assert numbers_per_page.per_page(numbers) == {"figure": {"a": (1,), "b": (2,), "c": (3,)},
                                                  "table": {"t": (1,)}}


@pytest.mark.parametrize("authors, label", [(["Xue, Xiangyuan"], "Xue, 2024"),
                                            (["Kingma, D.", "Welling, M."], "Kingma and Welling, 2024"),
                                            (["Burda, Y.", "Grosse, R.", "Salakhutdinov, R."], "Burda et al., 2024"),
                                            (["{Loaiza-Ganem}, G."], "Loaiza-Ganem, 2024")])
def test_the_bibliography_is_labelled_by_author_and_year(authors, label):
    from pybtex.database import Entry, Person
    entry = Entry("misc", fields={"year": "2024"}, persons={"author": [Person(a) for a in authors]})
    assert author_year.label(entry) == label


def test_an_inline_script_added_twice_is_kept_once():
    script = SimpleNamespace(filename=None, attributes={"body": "const THEBE_JS_URL = 1"})
    again = SimpleNamespace(filename="", attributes={"body": "const THEBE_JS_URL = 1"})
    other = SimpleNamespace(filename="_static/a.js", attributes={})
    context = {"script_files": [script, other, again]}
    scripts_once.once(None, "page", "page.html", context, None)
    assert context["script_files"] == [script, other]


def test_beta_in_prose_and_titles_is_italic_and_code_and_maths_are_left_alone():
    section = nodes.section("", nodes.title(text="The β study"),
                            nodes.paragraph("", "", nodes.Text("β = 2 beats β = 1 at n = 2"), nodes.math(text="β"),
                                            nodes.literal(text="beta=β")),
                            nodes.literal_block(text="print(β)"))
    italic_beta.italicise(section)
    italic_beta.italicise(section)  # again, as glued text is: nothing set twice
    title, paragraph = section[0], section[1]
    assert [type(node).__name__ for node in title.children] == ["Text", "emphasis", "Text"]
    assert title.astext() == "The β study" and paragraph.astext().startswith("β = 2 beats β = 1 at n = 2")
    assert [node["classes"] for node in section.findall(nodes.emphasis)] == [["beta"]] * 3
    for kind in (nodes.math, nodes.literal, nodes.literal_block):
        node = next(section.findall(kind))
        assert "β" in node.astext() and not list(node.findall(nodes.emphasis))
