"""The experiment notebook runs exactly the config that `Config` validates from its params file,
keys left out included: Config's defaults are the only ones."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from IPython.core.error import InputRejected

from vaecore import parameters, runs, verdict
from vaecore.config import Config, ConfigError
from vaecore.experiment import run_dir

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "book" / "experiment.ipynb"


class Shell:
    """What :class:`vaecore.parameters.Given` needs of IPython: its list of AST transformers."""

    def __init__(self):
        self.ast_transformers = []


def notebook_config(values: dict, monkeypatch) -> Config:
    """The config the notebook makes of papermill's ``values``: its parameters cell and papermill's
    injected cell, each checked as the kernel checks it, then ``config = given.config()``."""
    shell = Shell()
    monkeypatch.setattr(parameters, "get_ipython", lambda: shell)
    given = parameters.Given()
    notebook = parameterize_notebook(load_notebook_node(str(NOTEBOOK)), values)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    start = next(i for i, cell in enumerate(code) if "given = Given()" in cell.source) + 1
    for cell in code[start:]:
        if given in shell.ast_transformers:
            source = ast.parse(cell.source)
            given.visit(source)  # as IPython runs its AST transformers, before the cell runs
            if given not in shell.ast_transformers:
                return given.config()
    raise AssertionError("no cell makes the config")


@pytest.mark.parametrize("values", [{"n": 64}, {"n": 2, "epochs": 2, "train_size": 2000}, {"n": 2, "hidden": [32]}],
                         ids=["n only", "smoke without test_size and iwae_k", "hidden as a list"])
def test_keys_left_out_take_configs_defaults(values, tmp_path, monkeypatch):
    path = tmp_path / "partial.yaml"
    path.write_text(yaml.safe_dump(values))
    assert notebook_config(values, monkeypatch) == Config.from_yaml(path)


def test_every_params_file_runs_as_validated_named_or_given_key_by_key(monkeypatch):
    for path in sorted((REPO / "params").glob("*.yaml")):
        named = notebook_config({"params": f"params/{path.name}"}, monkeypatch)
        assert named == notebook_config(yaml.safe_load(path.read_text()), monkeypatch) == Config.from_yaml(path)


def test_keys_given_beside_the_params_file_override_it(monkeypatch):
    config = notebook_config({"params": "params/n64-beta1.yaml", "device": "cuda", "epochs": 2}, monkeypatch)
    assert (config.device, config.epochs, config.n) == ("cuda", 2, 64)


def test_a_params_file_without_n_is_refused_naming_it(monkeypatch):
    with pytest.raises(ConfigError, match="'n'"):
        notebook_config({"beta": 2.0}, monkeypatch)


@pytest.mark.parametrize("key, culprit", [("train_sz", "no parameter 'train_sz'"),
                                          ("a = __import__('os').system('touch pwned'); b", "no parameter 'a'"),
                                          ("n = 2\nimport os\ny", "plain assignments")])
def test_an_injected_name_that_is_no_parameter_is_refused_before_it_runs(key, culprit, monkeypatch):
    with pytest.raises(InputRejected, match=culprit):
        notebook_config({"n": 2, key: 512}, monkeypatch)


@pytest.mark.slow
def test_papermill_with_a_hostile_params_file_runs_no_code_of_it(tmp_path):
    """`papermill -f` writes each key of the file into the notebook as code: the kernel refuses the
    cell before it runs, naming the key, and the payload never runs."""
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(yaml.safe_dump({"n": 2, f"a = __import__('os').system('touch {tmp_path}/pwned'); b": 1}))
    done = subprocess.run([sys.executable, "-m", "papermill", str(NOTEBOOK), str(tmp_path / "page.ipynb"),
                           "-f", str(hostile), "--cwd", str(REPO / "book")],
                          capture_output=True, text=True, timeout=300, env=os.environ | {"HOME": str(tmp_path)})
    assert done.returncode != 0 and "the notebook takes no parameter 'a'" in done.stderr
    assert not (tmp_path / "pwned").exists()


@pytest.mark.slow
def test_papermill_with_a_partial_params_file_runs_the_validated_config(data_root, tmp_path):
    """`papermill -f` with keys left out: the run folder and metrics are those of Config's defaults
    (IWAE with k = 1000, all the batch of 256), not of other defaults in the notebook."""
    params = tmp_path / "partial.yaml"
    params.write_text(yaml.safe_dump({"n": 2, "epochs": 1, "hidden": [32], "lr": 1e-3, "train_size": 100,
                                      "test_size": 20}))
    env = {"VAECORE_DATA": str(data_root), "VAECORE_RUNS": str(tmp_path / "runs"), "VAECORE_PROGRESS": "off",
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "papermill", str(NOTEBOOK), str(tmp_path / "page.ipynb"),
                           "-f", str(params), "--cwd", str(REPO / "book")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    config = Config.from_yaml(params)
    folder = tmp_path / "runs" / run_dir(config).name
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["config"] == config.to_dict() and metrics["iwae_k"] == 1000


def test_every_run_page_in_the_book_is_this_notebook_executed():
    """Every page in book/experiments*/ has the notebook's cells word for word, its injected
    parameters apart: no page shows an older template than the others."""
    template = [cell.source for cell in load_notebook_node(str(NOTEBOOK)).cells]
    pages = sorted(NOTEBOOK.parent.glob("experiments*/*.ipynb"))
    if not pages:
        pytest.skip("no run pages")
    for page in pages:
        cells = [cell.source for cell in load_notebook_node(str(page)).cells
                 if "injected-parameters" not in cell.metadata.get("tags", [])]
        assert cells == template, f"{page.relative_to(REPO)} is not book/experiment.ipynb executed: re-execute it"


def test_no_run_page_bakes_in_a_verdict_the_book_builds_each_one():
    """A page's "Against the report" box depends on the other runs, so the book's build computes
    it ({run-verdict}): no executed page holds one, and the box exists for every run the book shows."""
    pages = sorted(NOTEBOOK.parent.glob("experiments*/*.ipynb"))
    if not pages:
        pytest.skip("no run pages")
    book = runs.load(NOTEBOOK.parent / "experiments")
    for page in pages:
        names = [output.get("metadata", {}).get("scrapbook", {}).get("name")
                 for cell in load_notebook_node(str(page)).cells for output in cell.get("outputs", [])]
        assert "verdict" not in names, f"{page.relative_to(REPO)} glues a verdict: re-execute it"
        assert "Against the report" in verdict.box(runs.read_metrics(page.with_suffix(".json")), book)
