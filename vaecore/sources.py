"""What a run page is computed from, by content: the SHA-256 of its params file, of the notebook
and of the package code the notebook runs, so that a page is stale when one of them changed,
whatever the files' clocks say (a clone writes every file anew)."""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

import vaecore


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def code(source: str) -> str:
    """Python source as it runs: its syntax tree without docstrings, so that comments, docstrings
    and layout change no page."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def _imported(source: str) -> set[str]:
    """The vaecore modules ``source`` imports, as ``vaecore.<module>``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "vaecore":
            found |= {f"vaecore.{alias.name}" for alias in node.names} if node.module == "vaecore" else {node.module}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "vaecore"}
    return found


def modules(notebook: Path) -> list[str]:
    """The vaecore modules the notebook's code cells run, directly or through each other, sorted."""
    package = Path(vaecore.__file__).parent
    cells = [cell["source"] for cell in json.loads(notebook.read_text())["cells"] if cell["cell_type"] == "code"]
    todo = set().union(*(_imported("".join(cell)) for cell in cells))
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        path = package / f"{name.removeprefix('vaecore.')}.py"
        if name in seen or not path.is_file():  # the package itself, or a name imported from it
            continue
        seen.add(name)
        todo |= _imported(path.read_text())
    return sorted(seen | {"vaecore.__init__"})


def notebook_code(notebook: Path) -> str:
    """The notebook as it runs and reads: its cells' sources and tags, not its outputs."""
    cells = json.loads(notebook.read_text())["cells"]
    return json.dumps([[cell["cell_type"], cell["source"], cell.get("metadata", {}).get("tags", [])]
                       for cell in cells])


def program(notebook: Path) -> dict[str, str]:
    """The SHA-256 of what every page of ``notebook`` is computed from: ``notebook`` and ``code`` (the
    package modules the notebook runs, by :func:`code`)."""
    package = Path(vaecore.__file__).parent
    texts = [code((package / f"{name.removeprefix('vaecore.')}.py").read_text()) for name in modules(notebook)]
    return {"notebook": digest(notebook_code(notebook)), "code": digest("\n".join(texts))}


def sources(params: Path, notebook: Path, shared: dict[str, str] | None = None) -> dict[str, str]:
    """The SHA-256 of what a page is computed from: ``params`` and the notebook's :func:`program`
    (``shared``, where already computed for the notebook)."""
    return {"params": digest(params.read_text())} | (shared or program(notebook))


def changed(recorded: dict | None, current: dict[str, str]) -> list[str]:
    """Which of the sources differ from those a page recorded (all, where it recorded none)."""
    return [what for what in current if (recorded or {}).get(what) != current[what]]
