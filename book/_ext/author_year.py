"""The bibliography labelled by author and year, as the citations in the text are.

sphinxcontrib-bibtex cites ``author_year`` in the text (``bibtex_reference_style``), but labels
the list of references with pybtex's formatting style, by default ``alpha`` ([Xue24]). This
registers the style ``author_year``: pybtex's ``unsrt`` formatting, entries sorted by author,
year and title, each labelled "Xue, 2024", "Kingma and Welling, 2014" or "Burda et al., 2016".
Configured in ``_config.yml``: ``sphinx: config: bibtex_default_style: author_year``.
"""

from __future__ import annotations

from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting.author_year_title import SortingStyle
from sphinx.application import Sphinx


def label(entry) -> str:
    """"Xue, 2024", "Kingma and Welling, 2014", "Burda et al., 2016": last names without braces."""
    names = [" ".join(person.last_names).replace("{", "").replace("}", "") for person in entry.persons["author"]]
    who = names[0] if len(names) == 1 else " and ".join(names) if len(names) == 2 else f"{names[0]} et al."
    return f"{who}, {entry.fields['year']}"


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            yield label(entry)


class AuthorYearStyle(UnsrtStyle):
    default_label_style = AuthorYearLabels
    default_sorting_style = SortingStyle


def setup(app: Sphinx) -> dict:
    register_plugin("pybtex.style.formatting", "author_year", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
