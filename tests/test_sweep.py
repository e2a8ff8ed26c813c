"""The sweep: papermill once per params file, failures reported by name, fresh pages skipped."""

import json
import os

import nbformat
import pytest
import yaml

from vaecore.sweep import is_stale, sweep

# A stand-in for book/experiment.ipynb: same parameters, writes the run's metrics, fails for n = 3.
STAND_IN = [
    ("n = 1\nseed = 0\ndevice = 'cpu'", ["parameters"]),
    ("import json\n"
     "from vaecore.config import Config\n"
     "from vaecore.experiment import run_dir\n"
     "assert n != 3, 'n = 3 is the configuration that fails'\n"
     "folder = run_dir(Config(n=n, seed=seed))\n"
     "folder.mkdir(parents=True, exist_ok=True)\n"
     "(folder / 'metrics.json').write_text(json.dumps({'n': n, 'device': device}))\n"
     "(folder / 'model.pt').write_bytes(b'weights')", []),
]


@pytest.fixture
def notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source, metadata={"tags": tags}) for source, tags in STAND_IN]
    path = tmp_path / "experiment.ipynb"
    nbformat.write(nb, path)
    return path


def params_file(folder, name, **values):
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:device 'cuda' asked for")  # the record's device, on a machine without one
def test_a_failing_configuration_is_reported_and_the_others_finish(tmp_path, notebook, monkeypatch, capsys):
    """n = 3 fails by name; n = 2 still gets its executed page and its metrics beside it.

    The runs folder is given relative to a directory other than the notebook's, where kernels run;
    the sweep's device reaches every kernel in place of the params files' own.
    """
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.setenv("VAECORE_RUNS", "runs")
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    good = params_file(tmp_path, "good", n=2, seed=0, device="cpu")
    bad = params_file(tmp_path, "bad", n=3, seed=0, device="cpu")
    out, record = tmp_path / "experiments", tmp_path / "sweep.json"
    failed = sweep([good, bad], notebook=notebook, outdir=out, workers=2, record=record, device="cuda")
    assert failed == ["bad"] and "FAILED: bad" in capsys.readouterr().out
    assert (out / "good.ipynb").exists()
    assert json.loads((out / "good.json").read_text()) == {"n": 2, "device": "cuda"}
    assert (out / "good.pt").read_bytes() == b"weights"
    # the failed page is kept for reading, under a name that is never taken for a fresh page
    assert (out / "bad.failed.ipynb").exists() and not (out / "bad.ipynb").exists()
    timing = json.loads(record.read_text())
    assert timing["configs"] == ["good", "bad"] and timing["failed"] == ["bad"]
    assert list(timing["minutes"]) == ["good"] and 0 < timing["minutes"]["good"] <= timing["wall_minutes"]
    threads = max(1, (os.cpu_count() or 1) // 2)
    assert (timing["workers"], timing["threads_per_worker"], timing["machine"]["threads"]) == (2, threads, threads)

    assert sweep([good, bad], notebook=notebook, outdir=out) == ["bad"]
    output = capsys.readouterr().out
    assert "up to date: good" in output and "up to date: bad" not in output


def test_is_stale_follows_the_params_file_and_the_notebook(tmp_path, notebook):
    """A page is stale when missing or older than its params file or the notebook; else fresh."""
    params = params_file(tmp_path, "p", n=1)
    executed = tmp_path / "p.ipynb"
    assert is_stale(params, executed, notebook)
    executed.write_text("{}")
    assert not is_stale(params, executed, notebook)
    for source in (params, notebook):
        os.utime(source, (executed.stat().st_mtime + 10,) * 2)
        assert is_stale(params, executed, notebook)
        os.utime(source, (executed.stat().st_mtime - 10,) * 2)
