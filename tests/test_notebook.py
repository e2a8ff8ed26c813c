"""The experiment notebook runs exactly the config that `Config` validates from its params file,
keys left out included: Config's defaults are the only ones."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from vaecore.config import Config, ConfigError
from vaecore.experiment import run_dir

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "book" / "experiment.ipynb"


def notebook_config(values: dict) -> Config:
    """The config the notebook makes of papermill's ``values``: its parameters cell, papermill's
    injected cell and the statement that makes ``config``, executed here without a kernel."""
    notebook = parameterize_notebook(load_notebook_node(str(NOTEBOOK)), values)
    namespace = {"Config": Config}
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if "parameters" in tags or "injected-parameters" in tags:
            exec(cell.source, namespace)
        elif cell.cell_type == "code":
            for statement in ast.parse(cell.source).body:
                if isinstance(statement, ast.Assign) and ast.unparse(statement.targets[0]) == "config":
                    exec(ast.unparse(statement), namespace)
                    return namespace["config"]
    raise AssertionError("no cell makes the config")


@pytest.mark.parametrize("values", [{"n": 64}, {"n": 2, "epochs": 2, "train_size": 2000}, {"n": 2, "hidden": [32]}],
                         ids=["n only", "smoke without test_size and iwae_k", "hidden as a list"])
def test_keys_left_out_take_configs_defaults(values, tmp_path):
    path = tmp_path / "partial.yaml"
    path.write_text(yaml.safe_dump(values))
    assert notebook_config(values) == Config.from_yaml(path)


def test_every_params_file_runs_as_validated():
    for path in sorted((REPO / "params").glob("*.yaml")):
        assert notebook_config(yaml.safe_load(path.read_text())) == Config.from_yaml(path), path.name


def test_a_params_file_without_n_is_refused_naming_it():
    with pytest.raises(ConfigError, match="'n'"):
        notebook_config({"beta": 2.0})


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


def test_every_run_pages_verdict_is_the_one_the_book_gives_now():
    """A page's opening box depends on the other runs (its seeds' σ): one executed before its
    seeds existed says "one seed" until it is executed again."""
    from vaecore.report import load_runs, verdict
    from vaecore.weights import shipped_dir

    runs, pages = load_runs(shipped_dir()), sorted(NOTEBOOK.parent.glob("experiments*/*.ipynb"))
    if not pages:
        pytest.skip("no run pages")
    for page in pages:
        glued = [output["data"]["application/papermill.record/text/markdown"]
                 for cell in load_notebook_node(str(page)).cells for output in cell.get("outputs", [])
                 if output.get("metadata", {}).get("scrapbook", {}).get("name") == "verdict"]
        metrics = json.loads(page.with_suffix(".json").read_text())
        assert glued == [verdict(metrics, runs)], f"{page.relative_to(REPO)} has an outdated verdict: re-execute it"
