"""The book refuses to build while the explorer's exports or page lag the shipped weights.

``vaecore explorer`` exports the networks of the models ``explore.ipynb`` shows, and executing
that page computes their codes; both record the SHA-256 of the weights they came from. When a
sweep publishes new weights, :func:`vaecore.explorer.stale` names the models whose exports or
page disagree with them, and the build stops with one sentence naming the commands that fix it.
Configured in ``_config.yml`` under ``sphinx: local_extensions``.
"""

from __future__ import annotations

from sphinx.application import Sphinx
from sphinx.errors import SphinxError


class ExplorerStale(SphinxError):
    category = "Explorer out of date"


def check(app: Sphinx) -> None:
    from vaecore import explorer

    names = explorer.stale()
    if names:
        raise ExplorerStale(explorer.advice(names))


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", check)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
