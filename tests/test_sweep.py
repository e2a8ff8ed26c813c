"""The sweep: papermill once per params file on a real Dask cluster; failures, dead workers and Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time

import dask
import nbformat
import pytest
import yaml
from distributed import LocalCluster

from vaecore.cli import main
from vaecore.config import Config
from vaecore.experiment import run_dir
from vaecore.sweep import QUIET, SweepError, connect, is_stale, share_idle_cores, sweep

# A stand-in for book/experiment.ipynb: same parameters, writes the run's metrics. Every execution
# appends its kernel's pid to the run folder's `attempts`; n = 3 fails; n = 4's first execution
# leaves a checkpoint and kills its worker, the next resumes it; n = 5 runs until stopped.
STAND_IN = [
    ("n = 1\nseed = 0\ndevice = 'cpu'", ["parameters"]),
    ("import json, os, signal, time\n"
     "from vaecore.config import Config\n"
     "from vaecore.experiment import run_dir\n"
     "assert n != 3, 'n = 3 is the configuration that fails'\n"
     "folder = run_dir(Config(n=n, seed=seed))\n"
     "folder.mkdir(parents=True, exist_ok=True)\n"
     "with (folder / 'attempts').open('a') as attempts:\n"
     "    attempts.write(f'{os.getpid()}\\n')\n"
     "checkpoint = folder / 'checkpoint'\n"
     "if n == 4 and not checkpoint.exists():\n"
     "    checkpoint.write_text('epoch 1')\n"
     "    os.kill(os.getppid(), signal.SIGKILL)  # the worker process that runs papermill\n"
     "    time.sleep(600)\n"
     "if n == 5:\n"
     "    time.sleep(600)\n"
     "resumed = checkpoint.read_text() if checkpoint.exists() else None\n"
     "(folder / 'metrics.json').write_text(json.dumps(\n"
     "    {'n': n, 'device': device, 'threads': os.environ['OMP_NUM_THREADS'], 'resumed': resumed,\n"
     "     'shipped': os.environ.get('VAECORE_SHIPPED')}))\n"
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


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("VAECORE_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


def params_file(folder, name, **values):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def attempts(n):
    """The pids of the kernels that executed the stand-in for ``n``."""
    path = run_dir(Config(n=n, seed=0)) / "attempts"
    return path.read_text().split() if path.exists() else []


def test_the_local_cluster_keeps_quiet_while_the_runs_compute():
    """Its workers neither profile the running notebook nor wake every 20 ms (dask's defaults):
    they share the cores with the runs."""
    with connect(None, 1) as (client, _):
        settings = client.run(lambda: {key: dask.config.get(key) for key in QUIET})
    assert list(settings.values()) == [QUIET]


class Future:
    """A Dask future's status, as share_idle_cores reads it."""

    def __init__(self, status):
        self.status = status


def test_idle_cores_go_to_the_runs_still_going(runs, monkeypatch):
    """Two of four single-thread workers idle: the two runs left get two threads each, in their folders."""
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    configs = {name: (None, Config(n=n), {}) for name, n in (("a", 1), ("b", 2), ("c", 64), ("d", 16))}
    futures = {Future("finished"): "a", Future("pending"): "b", Future("pending"): "c", Future("error"): "d"}
    assert share_idle_cores(futures, configs, threads=1) == {"b": 2, "c": 2}
    assert [(run_dir(configs[name][1]) / "threads").read_text() for name in "bc"] == ["2", "2"]
    assert share_idle_cores(futures, configs, threads=2) == {}  # they have their share already
    futures[Future("pending")] = "a"
    assert share_idle_cores(futures, configs, threads=1) == {}  # three runs on four cores: none to spare


@pytest.mark.slow
def test_longest_configurations_run_first_and_the_record_has_the_floor(tmp_path, notebook, runs):
    """One worker runs n = 2 (more FLOPs) before n = 1 though given after it; the record puts the
    wall clock beside the matmul floor of the same configurations."""
    short, long = params_file(tmp_path, "short", n=1, seed=0), params_file(tmp_path, "long", n=2, seed=0)
    record = tmp_path / "sweep.json"
    assert sweep([short, long], notebook=notebook, outdir=tmp_path / "out", workers=1, record=record) == []
    timing = json.loads(record.read_text())
    assert list(timing["minutes"]) == ["long", "short"]  # in the order they finished
    assert timing["floor_minutes"] > 0 and timing["matmul_gflops"] > 0
    assert timing["wall_over_floor"] == pytest.approx(timing["wall_minutes"] / timing["floor_minutes"])


@pytest.mark.slow
def test_a_failing_configuration_is_reported_and_the_others_finish(tmp_path, notebook, monkeypatch, capsys):
    """On a local cluster of 2 workers, n = 3 fails by name; n = 2 still gets its page and metrics.

    The runs folder is given relative to a directory other than the notebook's, where kernels run;
    the sweep's device, the workers' threads and --retrain reach every kernel.
    """
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.setenv("VAECORE_RUNS", "runs")
    good = params_file(tmp_path, "good", n=2, seed=0, device="cuda")
    bad = params_file(tmp_path, "bad", n=3, seed=0, device="cuda")
    out, record = tmp_path / "experiments", tmp_path / "sweep.json"
    failed = sweep([good, bad], notebook=notebook, outdir=out, workers=2, record=record, device="cpu", retrain=True)
    assert failed == ["bad"] and "FAILED: bad: AssertionError: n = 3" in capsys.readouterr().out
    threads = max(1, (os.cpu_count() or 1) // 2)
    assert (out / "good.ipynb").exists()
    assert json.loads((out / "good.json").read_text()) == {"n": 2, "device": "cpu", "threads": str(threads),
                                                           "resumed": None, "shipped": "off"}
    assert (out / "good.pt").read_bytes() == b"weights"
    # the failed page is kept for reading, under a name that is never taken for a fresh page
    assert (out / "bad.failed.ipynb").exists() and not (out / "bad.ipynb").exists()
    assert not list(out.glob("*partial*"))
    timing = json.loads(record.read_text())
    assert timing["configs"] == ["good", "bad"] and timing["failed"] == ["bad"]
    assert list(timing["minutes"]) == ["good"] and 0 < timing["minutes"]["good"] <= timing["wall_minutes"]
    assert (timing["cluster"], timing["workers"], timing["threads_per_worker"]) == ("local", 2, threads)
    assert timing["machine"]["threads"] == threads

    assert sweep([good, bad], notebook=notebook, outdir=out) == ["bad"]
    output = capsys.readouterr().out
    assert "up to date: good" in output and "up to date: bad" not in output


@pytest.mark.slow
def test_a_worker_killed_mid_run_is_survived_and_the_run_resumes(tmp_path, notebook, runs, capsys):
    """The first execution kills its worker after a checkpoint; Dask reschedules it, and it resumes."""
    dies = params_file(tmp_path, "dies", n=4, seed=0)
    out = tmp_path / "experiments"
    assert sweep([dies], notebook=notebook, outdir=out, workers=1) == []
    assert len(attempts(4)) == 2 and "done: dies" in capsys.readouterr().out
    assert json.loads((out / "dies.json").read_text())["resumed"] == "epoch 1"
    assert (out / "dies.ipynb").exists()


@pytest.mark.slow
def test_ctrl_c_stops_the_sweep_and_a_second_sweep_is_refused_the_page(tmp_path, notebook, runs):
    """While a sweep executes a page, another sweep on the same outputs is refused it by name.

    Ctrl-C then stops the first: its queued configuration never starts, the running kernel ends,
    no page is left under its final name, and the message says what to rerun (exit 130).
    """
    slow, queued = params_file(tmp_path, "slow", n=5, seed=0), params_file(tmp_path, "queued", n=2, seed=0)
    out = tmp_path / "experiments"
    command = [sys.executable, "-m", "vaecore.cli", "sweep", str(slow), str(queued),
               "--notebook", str(notebook), "--outdir", str(out), "--workers", "1"]
    # its own session, as a terminal's process group: Ctrl-C reaches the sweep and its workers.
    # A child inherits an ignored SIGINT (tests started as `cmd &` by a script): handled here, it is not
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 start_new_session=True)
    finally:
        signal.signal(signal.SIGINT, handler)
    try:
        deadline = time.monotonic() + 180
        while not attempts(5):
            assert first.poll() is None and time.monotonic() < deadline, "the slow configuration never started"
            time.sleep(0.5)
        assert sweep([slow], notebook=notebook, outdir=out, force=True) == ["slow"]
        os.killpg(first.pid, signal.SIGINT)
        stdout, stderr = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert first.returncode == 130, stderr
    assert "slow, queued did not finish" in stderr and "rerun the same command" in stderr
    assert "Traceback" not in stderr + stdout
    assert attempts(2) == [] and len(attempts(5)) == 1
    kernel = int(attempts(5)[0])
    deadline = time.monotonic() + 30
    while os.path.exists(f"/proc/{kernel}") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not os.path.exists(f"/proc/{kernel}"), "the interrupted configuration's kernel still runs"
    assert is_stale(slow, out / "slow.ipynb", notebook)


def test_two_params_files_of_the_same_name_are_refused_before_anything_starts(tmp_path, notebook):
    first, second = params_file(tmp_path / "a", "x", n=2), params_file(tmp_path / "b", "x", n=2)
    with pytest.raises(SweepError, match=f"{first} and {second} would both write the page x.ipynb"):
        sweep([first, second], notebook=notebook, outdir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text, culprit", [("n: 2\nbeta: -1\n", "'beta'"), ("n: [2\n", "not valid YAML")])
def test_a_bad_params_file_stops_the_sweep_before_anything_starts(tmp_path, notebook, runs, capsys, text, culprit):
    """One sentence naming the file and the key; no page, no record, no traceback."""
    good = params_file(tmp_path, "good", n=2)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    out, record = tmp_path / "out", tmp_path / "sweep.json"
    code = main(["sweep", str(good), str(bad), "--notebook", str(notebook), "--outdir", str(out),
                 "--record", str(record)])
    error = capsys.readouterr().err
    assert code == 2 and error.startswith(f"vaecore: error: {bad}: ") and culprit in error
    assert error.count("\n") == 1 and not record.exists() and not out.exists() and not attempts(2)


def test_workers_without_the_notebook_resource_are_refused(tmp_path, notebook, runs):
    """A scheduler whose workers would run several notebooks in one process is refused, saying what to do."""
    good = params_file(tmp_path, "good", n=2)
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        with pytest.raises(SweepError, match="start them with `dask worker .* --resources notebook=1`"):
            sweep([good], notebook=notebook, outdir=tmp_path / "out", scheduler=cluster.scheduler_address)
    assert not attempts(2)


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
