"""The experiment notebook's parameters: papermill's injected cell is checked before it runs, and
the config is read from a params file, so that no params file can run code.

papermill writes each parameter as ``name = value`` into a cell of its own; a key of a params file
given with ``-f`` becomes a name, and a hostile key (``a = __import__('os').system(...); b``) would
run. :class:`Given` refuses, before it runs, any cell that is not plain assignments of literal
values to the notebook's parameters: ``params`` (the params file) and the keys of
:class:`vaecore.config.Config`, which override the file's.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

from IPython import get_ipython
from IPython.core.error import InputRejected

from vaecore.config import Config, params_dir


def names() -> tuple[str, ...]:
    """The parameters the notebook takes: ``params`` and every key of the config."""
    return ("params", *(field.name for field in dataclasses.fields(Config)))


class Given(ast.NodeTransformer):
    """Installed in the kernel as ``given``, it checks every cell until the one that is exactly
    ``config = given.config()``, and keeps the values assigned: the parameters cell's defaults,
    then papermill's injected ones. A cell that only reads the config does no harm, wherever it
    comes from."""

    READ = "config = given.config()"

    def __init__(self) -> None:
        self.values: dict[str, object] = {}
        get_ipython().ast_transformers.append(self)

    def visit_Module(self, module: ast.Module) -> ast.Module:
        if ast.dump(module) == ast.dump(ast.parse(self.READ)):
            get_ipython().ast_transformers.remove(self)
            return module
        for statement in module.body:
            target = statement.targets[0] if isinstance(statement, ast.Assign) and len(statement.targets) == 1 else None
            if not isinstance(target, ast.Name):
                raise InputRejected(f"the parameters must be plain assignments, not `{ast.unparse(statement)[:80]}`: "
                                    f"give a params file with -p params FILE")
            if target.id not in names():
                raise InputRejected(f"the notebook takes no parameter {target.id!r}: give a params file with "
                                    f"-p params FILE, and override its keys ({', '.join(names()[1:])}) with -p KEY VALUE")
            try:
                self.values[target.id] = ast.literal_eval(statement.value)
            except ValueError:
                raise InputRejected(f"the parameter {target.id} must be a plain value, not "
                                    f"`{ast.unparse(statement.value)[:80]}`") from None
        return module

    def config(self) -> Config:
        """The config: the params file's (relative to the repository's root), with the keys given
        beside it; with no params file, the keys alone (``papermill -f FILE``)."""
        values = dict(self.values)
        path = values.pop("params", None)
        given = {name: value for name, value in values.items() if value is not None}
        if path is None:
            return Config.from_dict(given)
        path = Path(path) if Path(path).is_absolute() else params_dir().parent / path
        return Config.from_dict(Config.from_yaml(path).to_dict() | given)
