"""The commit this edition of the book was built from, as the MyST substitution ``{{ built_from }}``.

The chapters say which code executed them (glued when they ran); what a reader holds is also a
build, from whatever commit the pages, runs and text were at then. The stamp is taken when the
build starts, ``+dirty`` where anything tracked in the repository differs from that commit
(:func:`vaecore.provenance.commit` over the repository, not only the package). Configured in
``_config.yml``: ``parse: myst_enable_extensions: [substitution]``.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config

from vaecore import page, provenance


def stamp(app: Sphinx, config: Config) -> None:
    root = Path(app.srcdir).resolve().parent  # the repository: book/ is its child
    config.myst_substitutions = {**config.myst_substitutions,
                                 "built_from": page.versions([provenance.commit(root)])}


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", stamp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
