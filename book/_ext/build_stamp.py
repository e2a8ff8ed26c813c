"""The commit this edition of the book was built from, as the MyST substitution ``{{ built_from }}``.

The chapters say which code executed them (glued when they ran); what a reader holds is also a
build, from whatever commit the pages, runs and text were at then. The stamp is taken when the
build starts, ``+dirty`` where anything tracked in the repository differs from that commit
(the package's commit, :func:`vaecore.provenance.commit`, with the repository's changes). Configured in
``_config.yml``: ``parse: myst_enable_extensions: [substitution]``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config

from vaecore import page, provenance


def built_from(root: Path) -> str:
    """The commit of the repository at ``root``, ``+dirty`` where anything it tracks differs from it."""
    head = provenance.commit().removesuffix("+dirty")  # $VAECORE_COMMIT where set; "unknown" without git
    try:
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return head
    return head + ("+dirty" if dirty else "")


def stamp(app: Sphinx, config: Config) -> None:
    root = Path(app.srcdir).resolve().parent  # the repository: book/ is its child
    config.myst_substitutions = {**config.myst_substitutions, "built_from": page.versions([built_from(root)])}


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", stamp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
