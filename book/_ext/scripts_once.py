"""Every script a page links or holds, once.

sphinx-thebe, which Jupyter Book 1 always loads, adds its inline configuration
(``const THEBE_JS_URL = ...``) at each ``env-before-read-docs``; a build that emits it twice
gives every page two copies, and the browser's console an error for the second ``const``. Sphinx
drops a script it already has, but one copy names no file (``None``) and the other the empty
name (``''``), so they differ to it: this takes the two for one.
"""

from __future__ import annotations

from sphinx.application import Sphinx


def once(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Keep the first of each script with the same file and the same attributes (an inline body among them)."""
    if "script_files" not in context:
        return
    seen, kept = set(), []
    for script in context["script_files"]:
        key = (getattr(script, "filename", script) or "", tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", once)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
