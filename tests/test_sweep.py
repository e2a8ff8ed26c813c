"""The sweep: papermill once per params file on a real Dask cluster; failures, dead workers and Ctrl-C."""

import asyncio
import contextlib
import dataclasses
import errno
import fcntl
import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import dask
import nbformat
import pytest
import torch
import yaml
from distributed import Client, LocalCluster

from vaecore import cluster as cluster_module
from vaecore.cli import main
from vaecore.config import Config
from vaecore.cost import run_cost
from vaecore.experiment import run_dir
from vaecore.train import DeviceUnavailable
from vaecore.checks import at_protocol, check_seeds, load
from vaecore.cluster import QUIET, connect
from vaecore.pages import complete, publish, stale
from vaecore.sources import code, modules, sources
from vaecore.sweep import SweepError, share_idle_cores, sweep

REPO = Path(__file__).resolve().parents[1]
WEIGHTS_SHA256 = hashlib.sha256(b"weights").hexdigest()

# A stand-in for book/experiment.ipynb: same parameters, writes the run's metrics. Every execution
# appends its kernel's pid to the run folder's `attempts`; n = 3 fails; n = 4's first execution
# leaves a checkpoint and kills its worker, the next resumes it; n = 5 runs until stopped. On the
# device cuda it stands for a page that evaluated shipped weights (on the CPU, as experiment.run does).
STAND_IN = [
    ("params = None\ndevice = None", ["parameters"]),
    ("import dataclasses, hashlib, json, os, signal, time\n"
     "from pathlib import Path\n"
     "from vaecore.config import Config, params_dir\n"
     "from vaecore.experiment import run_dir\n"
     "config = Config.from_yaml(params if Path(params).is_absolute() else params_dir().parent / params)\n"
     "config = dataclasses.replace(config, device=device or config.device)\n"
     "n, device = config.n, config.device\n"
     "assert n != 3, 'n = 3 is the configuration that fails'\n"
     "folder = run_dir(config)\n"
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
     "    {'config': config.to_dict(), 'n': n, 'device': device, 'threads': os.environ['OMP_NUM_THREADS'], 'resumed': resumed,\n"
     "     'shipped': os.environ.get('VAECORE_SHIPPED'), 'data': os.environ.get('VAECORE_DATA'),\n"
     "     'weights_sha256': hashlib.sha256(b'weights').hexdigest(),\n"
     "     **({'shipped_weights': 'stand-in'} if device == 'cuda' else {})}))\n"
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
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_a_gpu_page_of_shipped_weights_sweeps_on_a_machine_without_a_gpu(tmp_path, notebook, runs):
    """Shipped weights are evaluated on the CPU, so such a page needs no GPU; a record does, as it
    times the sweep's device, and is refused before anything starts."""
    path, out = params_file(tmp_path, "gpu", n=1, seed=0), tmp_path / "out"
    with pytest.raises(DeviceUnavailable):
        sweep([path], notebook=notebook, outdir=out, device="cuda", record=tmp_path / "sweep.json")
    assert not out.exists()
    assert sweep([path], notebook=notebook, outdir=out, device="cuda") == []
    assert json.loads((out / "gpu.json").read_text())["device"] == "cuda"


@pytest.mark.slow
def test_a_failing_configuration_is_reported_and_the_others_finish(tmp_path, notebook, monkeypatch, capsys):
    """On a local cluster of 2 workers, n = 3 fails by name; n = 2 still gets its page and metrics.

    The runs folder is given relative to a directory other than the notebook's, where kernels run;
    the sweep's device, the workers' threads and --retrain reach every kernel. The record's
    matmul floor counts only the configuration that finished; a record of a sweep where none
    finished has none.
    """
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.setenv("VAECORE_RUNS", "runs")
    monkeypatch.delenv("VAECORE_DATA", raising=False)
    good = params_file(tmp_path, "good", n=2, seed=0, device="cuda")
    bad = params_file(tmp_path, "bad", n=3, seed=0, device="cuda")
    out, record = tmp_path / "experiments", tmp_path / "sweep.json"
    failed = sweep([good, bad], notebook=notebook, outdir=out, workers=2, record=record, device="cpu", retrain=True)
    assert failed == ["bad"] and "FAILED: bad: AssertionError: n = 3" in capsys.readouterr().out
    threads = max(1, (os.cpu_count() or 1) // 2)
    assert (out / "good.ipynb").exists()
    published = json.loads((out / "good.json").read_text())
    assert published.pop("sources") == sources(good, notebook)  # what the page was computed from
    assert published.pop("config") == Config(n=2, seed=0, device="cpu").to_dict()
    assert published == {"n": 2, "device": "cpu", "threads": str(threads), "resumed": None, "shipped": "off",
                         "data": None, "weights_sha256": WEIGHTS_SHA256}
    assert (out / "good.pt").read_bytes() == b"weights"
    # the failed page is kept for reading, under a name that is never taken for a fresh page
    assert (out / "bad.failed.ipynb").exists() and not (out / "bad.ipynb").exists()
    assert not list(out.glob("*partial*"))
    timing = json.loads(record.read_text())
    assert timing["configs"] == ["good", "bad"] and timing["failed"] == ["bad"]
    assert list(timing["minutes"]) == ["good"] and 0 < timing["minutes"]["good"] <= timing["wall_minutes"]
    assert (timing["cluster"], timing["workers"], timing["threads_per_worker"]) == ("local", 2, threads)
    assert timing["machine"]["threads"] == threads
    assert timing["flops"] == run_cost(Config(n=2, device="cuda"))  # good's alone: bad never ran

    assert sweep([good, bad], notebook=notebook, outdir=out, record=record, device="cpu") == ["bad"]
    output = capsys.readouterr().out
    assert "up to date: 1 of 2 pages (good)" in output
    assert "no configuration finished" in output
    timing = json.loads(record.read_text())
    assert timing["failed"] == ["bad"] and timing["minutes"] == {} and "floor_minutes" not in timing


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
    assert stale(out / "slow.ipynb", Config.from_yaml(slow), sources(slow, notebook))


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
    assert code == 2 and error.startswith("vaecore: error: ") and str(bad) in error and culprit in error
    assert error.count("\n") == 1 and not record.exists() and not out.exists() and not attempts(2)


def test_workers_without_the_notebook_resource_are_refused(tmp_path, notebook, runs):
    """A scheduler whose workers would run several notebooks in one process is refused, saying what to do."""
    good = params_file(tmp_path, "good", n=2)
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        with pytest.raises(SweepError, match="start them with `dask worker .* --resources notebook=1`"):
            sweep([good], notebook=notebook, outdir=tmp_path / "out", scheduler=cluster.scheduler_address)
    assert not attempts(2)


def test_staleness_follows_the_contents_of_params_notebook_and_code_not_the_clocks(tmp_path, notebook):
    """A page is stale when missing, run with another config (another device too), or computed from
    other contents than the params file's, the notebook's and the package code's; touching a file,
    as a clone does, or editing a comment changes nothing."""
    params = params_file(tmp_path, "p", n=1)
    executed, config = tmp_path / "p.ipynb", Config.from_yaml(params)
    assert stale(executed, config, sources(params, notebook)) == "no complete page"
    page(tmp_path, "p", config=config.to_dict(), inputs=sources(params, notebook))
    assert stale(executed, config, sources(params, notebook)) is None
    os.utime(params, (executed.stat().st_mtime + 10,) * 2)  # newer, and the same
    assert stale(executed, config, sources(params, notebook)) is None
    assert stale(executed, dataclasses.replace(config, device="cuda"), sources(params, notebook)) == "another config"
    params.write_text(params.read_text() + "beta: 1.0\n")  # the same config, another file
    assert stale(executed, config, sources(params, notebook)) == "its params changed"


def test_the_code_digest_ignores_comments_and_docstrings_but_not_code():
    source = 'def f(x):\n    """Doc."""\n    return x + 1  # why\n'
    assert code(source) == code('def f(x):\n    # another why\n    return x + 1\n')
    assert code(source) != code('def f(x):\n    return x + 2\n')


def test_the_notebook_runs_the_package_modules_it_imports_and_theirs():
    """The experiment notebook's code is every vaecore module its cells import, directly or not,
    and none of the book's tables (a verdict's wording re-executes no page)."""
    found = modules(REPO / "book" / "experiment.ipynb")
    assert {"vaecore.experiment", "vaecore.train", "vaecore.model", "vaecore.loss", "vaecore.plots"} <= set(found)
    assert not {"vaecore.table1", "vaecore.verdict", "vaecore.sweep", "vaecore.study"} & set(found)


def test_the_readmes_sweep_on_a_fresh_clone_executes_no_page_and_changes_no_file(tmp_path):
    """`vaecore sweep params/*.yaml --workers 2` in a clone, whose files all have new clocks: every
    page of the book is up to date, none is executed, nothing changes; an edited params file makes
    exactly its page stale."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    params = sorted(str(path.relative_to(clone)) for path in (clone / "params").glob("*.yaml"))
    pages = len(list((clone / "book" / "experiments").glob("[!.]*.ipynb")))
    done = subprocess.run([sys.executable, "-m", "vaecore.cli", "sweep", *params, "--workers", "2"], cwd=clone,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"up to date: {pages} of {pages} pages" in done.stdout and "dashboard" not in done.stdout
    assert subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True).stdout == ""
    edited = clone / "params" / "n2-beta1.yaml"
    edited.write_text(edited.read_text() + "# edited\n")
    notebook = clone / "book" / "experiment.ipynb"
    stale_pages = [path.stem for path in sorted((clone / "params").glob("*.yaml"))
                   if (clone / "book" / "experiments" / f"{path.stem}.ipynb").exists()
                   and stale(clone / "book" / "experiments" / f"{path.stem}.ipynb", Config.from_yaml(path),
                             sources(path, notebook))]
    assert stale_pages == ["n2-beta1"]


def page(folder, name, weights=b"weights", text="{}", config=None, inputs=None):
    """A complete page: the notebook, its metrics with the weights' SHA-256, and the weights."""
    (folder / f"{name}.ipynb").write_text(text)
    (folder / f"{name}.json").write_text(json.dumps({"weights_sha256": hashlib.sha256(weights).hexdigest(),
                                                     "config": config, "sources": inputs}))
    (folder / f"{name}.pt").write_bytes(weights)


@pytest.mark.parametrize("damage", ["json missing", "json truncated", "weights missing", "weights changed"])
def test_a_page_without_its_metrics_and_weights_is_not_up_to_date(tmp_path, notebook, damage):
    """Up to date means the page, its metrics (readable) and the weights they name (by SHA-256), all three."""
    params = params_file(tmp_path, "p", n=1)
    page(tmp_path, "p")
    path = {"json": tmp_path / "p.json", "weights": tmp_path / "p.pt"}[damage.split()[0]]
    if damage.endswith("missing"):
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:-3])
    assert stale(tmp_path / "p.ipynb", Config.from_yaml(params), sources(params, notebook)) == "no complete page"


def test_a_full_disk_while_publishing_leaves_the_previous_page_whole(tmp_path, monkeypatch):
    """The page, its metrics and weights are replaced as one: a disk that fills while the weights are
    copied leaves the previous three untouched and no partial file; the next try replaces all three."""
    out, run = tmp_path / "experiments", tmp_path / "run"
    out.mkdir()
    run.mkdir()
    page(out, "p", weights=b"old weights", text="old page")
    (run / "metrics.json").write_text(json.dumps({"weights_sha256": WEIGHTS_SHA256}))
    (run / "model.pt").write_bytes(b"weights")
    (out / ".p.partial.ipynb").write_text("new page")
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    copy = shutil.copyfileobj

    def fills_up(source, target):
        if source.name.endswith("model.pt"):
            target.write(b"wei")
            raise OSError(errno.ENOSPC, "No space left on device")
        copy(source, target)

    monkeypatch.setattr(shutil, "copyfileobj", fills_up)
    with pytest.raises(SweepError, match=r"could not write the page p in .*No space left on device.*previous page, "
                                         r"metrics and weights are kept"):
        publish(out / ".p.partial.ipynb", run, out / "p.ipynb")
    after = {path.name: path.read_bytes() for path in out.iterdir()}
    assert after == {name: data for name, data in before.items() if "partial" not in name}
    assert complete(out / "p.ipynb")  # the previous page, whole

    monkeypatch.setattr(shutil, "copyfileobj", copy)
    (out / ".p.partial.ipynb").write_text("new page")
    publish(out / ".p.partial.ipynb", run, out / "p.ipynb")
    assert sorted(path.name for path in out.iterdir()) == ["p.ipynb", "p.json", "p.pt"]
    assert ((out / "p.ipynb").read_text(), (out / "p.pt").read_bytes()) == ("new page", b"weights")


def test_partial_files_of_a_page_are_ignored_by_git():
    """Whatever a sweep leaves half-written beside the pages is never committed by mistake."""
    names = [f"book/experiments/.n2-beta1.partial.{suffix}" for suffix in ("ipynb", "json", "pt")]
    names += ["book/experiments-gpu/.n2-beta1.partial.pt"]
    ignored = subprocess.run(["git", "check-ignore", *names], cwd=REPO, capture_output=True, text=True).stdout
    assert ignored.split() == names


def test_the_books_folders_take_only_runs_at_the_reports_protocol(capsys):
    """The README's `vaecore sweep params/*.yaml` leaves params/smoke.yaml (2 epochs on 2,000 images) out of
    book/experiments, by name, and sweeps every other params file; outside the book, smoke is swept."""
    configs = load(sorted((REPO / "params").glob("*.yaml")), device=None)
    kept = at_protocol(configs, REPO / "book" / "experiments")
    assert set(configs) - set(kept) == {"smoke"} and len(kept) == len(configs) - 1
    output = capsys.readouterr().out
    assert output.startswith("left out: smoke, not at the report's protocol (2 epochs, 2,000 training images, "
                             "500 test images, an IWAE estimate with k = 50)") and output.count("\n") == 1
    assert at_protocol(configs, Path("/tmp/smoke-pages")) == configs


def test_a_sweep_of_the_smoke_config_alone_into_the_book_is_refused(tmp_path, notebook, runs, capsys):
    """Nothing is left to sweep: one sentence naming the file and what to do; no page, no record."""
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "_toc.yml").write_text("root: intro\n")
    smoke = params_file(tmp_path, "smoke", n=2, epochs=2, train_size=2000)
    out = tmp_path / "book" / "experiments"
    code = main(["sweep", str(smoke), "--notebook", str(notebook), "--outdir", str(out)])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and "Traceback" not in error
    assert f"{smoke} is not at the report's protocol" in error and "outside" in error and not out.exists()
    short = params_file(tmp_path, "short", n=64, epochs=20)
    assert main(["sweep", str(smoke), str(short), "--notebook", str(notebook), "--outdir", str(out)]) == 2
    assert "none of the 2 params files is at the report's protocol" in capsys.readouterr().err


@pytest.fixture
def good(tmp_path):
    return params_file(tmp_path, "good", n=2)


def front_door(tmp_path, notebook, good):
    """Each refused argument of `vaecore sweep`, and the culprit its sentence names."""
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    base = [str(good), "--notebook", str(notebook), "--outdir", str(tmp_path / "out")]
    return {
        "mistyped params": ([str(tmp_path / "god.yaml"), *base], f"{tmp_path / 'god.yaml'} (No such file"),
        "params folder": ([str(tmp_path), *base], f"{tmp_path} (Is a directory)"),
        "binary params": ([str(tmp_path / "binary.yaml"), *base], "binary.yaml is not valid YAML"),
        "/dev/zero": (["/dev/zero", *base], "/dev/zero is larger than 64 KiB"),
        "outdir a file": ([*base, "--outdir", str(tmp_path / "a-file")], f"{tmp_path / 'a-file'} is a file"),
        "missing notebook": ([*base, "--notebook", str(tmp_path / "nb.ipynb")], f"{tmp_path / 'nb.ipynb'} is not a file"),
        "record in a missing folder": ([*base, "--record", str(tmp_path / "no" / "sweep.json")],
                                       f"in a folder that does not exist, {tmp_path / 'no'}"),
        "record a folder": ([*base, "--record", str(tmp_path)], f"{tmp_path} is a folder"),
        "workers 0": ([*base, "--workers", "0"], "1 worker or more"),
        "wait 0": ([*base, "--wait", "0"], "a wait of more than 0 s that ends, got 1 and 0"),  # Dask: no timeout
        "wait inf": ([*base, "--wait", "inf"], "a wait of more than 0 s that ends, got 1 and inf"),
        "scheduler without port": ([*base, "--scheduler", "127.0.0.1"], "127.0.0.1 has no port"),
    }


@pytest.mark.parametrize("case", ["mistyped params", "params folder", "binary params", "/dev/zero", "outdir a file",
                                  "missing notebook", "record in a missing folder", "record a folder", "workers 0",
                                  "wait 0", "wait inf", "scheduler without port"])
def test_the_sweep_refuses_bad_arguments_before_anything_starts(tmp_path, notebook, runs, good, capsys, case):
    """One sentence naming the culprit, exit 2, at once: no traceback, no page, no record, no cluster."""
    argv, culprit = front_door(tmp_path, notebook, good)[case]
    refused(capsys, argv, culprit)
    assert not (tmp_path / "out").exists() and not list(tmp_path.rglob("sweep.json")) and not attempts(2)


def test_a_record_on_a_full_disk_is_refused_before_the_sweep(tmp_path, notebook, runs, good, capsys, monkeypatch):
    """The record's folder must take a record's bytes before anything runs."""
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    code = main(["sweep", str(good), "--notebook", str(notebook), "--outdir", str(tmp_path / "out"),
                 "--record", str(tmp_path / "sweep.json")])
    error = capsys.readouterr().err
    assert code == 2 and f"cannot write the record {tmp_path / 'sweep.json'} (No space left on device)" in error
    assert not (tmp_path / "out").exists() and not (tmp_path / "sweep.json").exists()


def in_thread(function, seconds):
    """``function()``'s result, or a failure if it has not returned within ``seconds``."""
    result = []
    thread = threading.Thread(target=lambda: result.append(function()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s"
    return result[0]


def test_an_http_port_given_as_the_scheduler_is_refused_in_bounded_time(tmp_path, notebook, runs, good, capsys,
                                                                          monkeypatch):
    """The dashboard's port answers HTTP, not Dask's handshake: refused within the bound, by address."""
    class Quiet(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):  # its lines on stderr are not the sweep's
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(cluster_module, "ANSWER_SECONDS", 2)
    address = f"tcp://127.0.0.1:{server.server_address[1]}"
    try:
        code = in_thread(lambda: main(["sweep", str(good), "--notebook", str(notebook), "--outdir",
                                       str(tmp_path / "out"), "--scheduler", address]), 30)
    finally:
        server.shutdown()
    error = capsys.readouterr().err
    assert code == 2 and f"{address} did not answer as a Dask scheduler within 2 s" in error
    assert error.count("\n") == 1 and "Traceback" not in error and not attempts(2)


def test_a_scheduler_is_checked_from_a_thread_that_runs_an_event_loop():
    """As from a Jupyter kernel's cell: the handshake does not need the caller's thread free of a loop."""
    async def cell(address):
        cluster_module.answers(address, 10)
        return "answered"

    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster:
        assert in_thread(lambda: asyncio.run(cell(cluster.scheduler_address)), 60) == "answered"


def test_a_scheduler_without_workers_is_refused_after_the_wait(tmp_path, notebook, runs, good, capsys):
    """No worker joins within --wait: one sentence saying how to start them, not a silent hang."""
    with LocalCluster(n_workers=0, processes=True, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        code = in_thread(lambda: main(["sweep", str(good), "--notebook", str(notebook), "--outdir",
                                       str(tmp_path / "out"), "--scheduler", address, "--wait", "1"]), 60)
    error = capsys.readouterr().err
    assert code == 2 and f"the Dask scheduler at {address} has no worker after 1 s" in error
    assert "--resources notebook=1" in error and "Traceback" not in error and not attempts(2)


@pytest.mark.slow
def test_a_task_leaves_its_workers_environment_as_it_found_it(tmp_path, notebook, runs, monkeypatch):
    """A --retrain sweep on a long-lived worker sets VAECORE_SHIPPED=off and the folders for its kernels
    only: the worker's environment is the same after it, and the next sweep evaluates shipped weights."""
    monkeypatch.delenv("VAECORE_DATA", raising=False)
    one = params_file(tmp_path, "one", n=2)
    keys = ("VAECORE_SHIPPED", "VAECORE_RUNS", "VAECORE_DATA", "OMP_NUM_THREADS", "VAECORE_PROGRESS")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, resources={"notebook": 1},
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.run(lambda: os.environ.update({"VAECORE_DATA": "/the/workers/data"}))
        before = client.run(lambda: {key: os.environ.get(key) for key in keys})
        out = tmp_path / "out"
        assert sweep([one], notebook=notebook, outdir=out, scheduler=cluster.scheduler_address, retrain=True) == []
        first = json.loads((out / "one.json").read_text())
        assert client.run(lambda: {key: os.environ.get(key) for key in keys}) == before
        assert sweep([one], notebook=notebook, outdir=out, scheduler=cluster.scheduler_address, force=True) == []
        second = json.loads((out / "one.json").read_text())
    assert (first["shipped"], first["data"]) == ("off", None)  # the sweep's own, not the worker's
    assert second["shipped"] == "on"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def a_sweep_on_a_cluster_of_processes(tmp_path, notebook, *options):
    """A scheduler and one worker as processes, and a sweep of ``slow`` (n = 5, runs until stopped) and
    ``done`` (an up-to-date page) on them, started and running ``slow``: yields (scheduler, worker, sweep)."""
    address = f"tcp://127.0.0.1:{free_port()}"
    background = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    scheduler = subprocess.Popen(["dask", "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                                  "--dashboard-address", ":0"], **background)
    worker = subprocess.Popen(["dask", "worker", address, "--nthreads", "1", "--resources", "notebook=1"],
                              **background)
    out = tmp_path / "out"
    out.mkdir()
    slow, done = params_file(tmp_path, "slow", n=5), params_file(tmp_path, "done", n=2)
    page(out, "done", config=Config(n=2).to_dict(), inputs=sources(done, notebook))
    command = [sys.executable, "-m", "vaecore.cli", "sweep", str(slow), str(done), "--notebook", str(notebook),
               "--outdir", str(out), "--scheduler", address, *options]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not attempts(5):
            assert first.poll() is None and time.monotonic() < deadline, "the slow configuration never started"
            time.sleep(0.5)
        yield address, scheduler, worker, first
    finally:
        first.kill()
        for process in (worker, scheduler):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        for pid in attempts(5):  # the kernel, which may outlive its worker
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.slow
def test_a_scheduler_killed_mid_sweep_is_named_with_the_pages_complete(tmp_path, notebook, runs):
    """Killing the scheduler while a page executes ends the sweep in one sentence (exit 2): the
    scheduler was lost, the up-to-date page is complete, the running one is not."""
    with a_sweep_on_a_cluster_of_processes(tmp_path, notebook) as (address, scheduler, _, first):
        os.killpg(scheduler.pid, signal.SIGKILL)
        stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 2, stderr
    assert f"vaecore: error: lost the Dask scheduler at {address} mid-sweep: no page complete, slow not" in stderr
    assert "Traceback" not in stdout + stderr and "NoneType" not in stdout
    assert not (tmp_path / "out" / "slow.ipynb").exists()


@pytest.mark.slow
def test_a_sweep_whose_workers_all_left_ends_after_the_wait(tmp_path, notebook, runs):
    """The only worker dies mid-run and none joins: Dask would keep the task for ever; the sweep ends
    after --wait seconds in one sentence naming the scheduler and the pages complete."""
    with a_sweep_on_a_cluster_of_processes(tmp_path, notebook, "--wait", "3") as (address, _, worker, first):
        os.killpg(worker.pid, signal.SIGKILL)
        stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 2, stderr
    assert (f"vaecore: error: the Dask scheduler at {address} has had no worker for 3 s mid-sweep: "
            f"no page complete, slow not") in stderr
    assert "Traceback" not in stdout + stderr


def book_folder(tmp_path):
    """A book's folder of run pages: ``tmp_path/book/experiments``, in a book (its ``_toc.yml``)."""
    (tmp_path / "book" / "experiments").mkdir(parents=True)
    (tmp_path / "book" / "_toc.yml").write_text("root: intro\n")
    return tmp_path / "book" / "experiments"


def refused(capsys, argv, *culprits):
    """`vaecore sweep argv` exits 2 at once with one sentence naming every culprit, no traceback."""
    start = time.monotonic()
    code = main(["sweep", *map(str, argv)])
    captured = capsys.readouterr()
    assert code == 2 and captured.err.startswith("vaecore: error: ") and captured.err.count("\n") == 1, captured.err
    assert "Traceback" not in captured.out + captured.err and time.monotonic() - start < 10
    for culprit in culprits:
        assert str(culprit) in captured.err, captured.err
    return captured.err


@pytest.mark.parametrize("held, swept", [("cpu", "cuda"), ("cuda", "cpu")])
def test_a_book_folder_takes_runs_of_its_own_device_only(tmp_path, notebook, runs, capsys, held, swept):
    """The README's GPU line without --outdir, or a CPU sweep into the GPU runs' folder: refused
    before anything runs, naming the folder, its device and the params file."""
    out = book_folder(tmp_path)
    page(out, "n2-beta1", config=Config(n=2, device=held).to_dict())
    before = sorted(path.name for path in out.iterdir())
    path = params_file(tmp_path / "params", "n1-beta1", n=1, device=held)
    refused(capsys, [path, "--notebook", notebook, "--outdir", out, "--device", swept],
            f"{out} holds {held} runs", path, f"a {swept} run")
    assert sorted(path.name for path in out.iterdir()) == before


def test_an_iwae_estimate_of_another_k_is_left_out_of_the_book(tmp_path, notebook, runs, capsys):
    """Table 1's IWAE column is k = 1000: a params file with k = 1 is not at the book's protocol."""
    path = params_file(tmp_path, "n2-beta1", n=2, iwae_k=1)
    refused(capsys, [path, "--notebook", notebook, "--outdir", book_folder(tmp_path)],
            f"{path} is not at the report's protocol", "k = 1")
    assert attempts(2) == []


def test_a_second_seed_0_run_under_another_name_is_refused_naming_both(tmp_path, notebook, runs, capsys):
    """Into a book folder, a configuration has one run per seed: the page already there and a params
    file, or two params files, are named together before anything runs; the page's own file is no clash."""
    out = book_folder(tmp_path)
    page(out, "n2-beta1", config=Config(n=2).to_dict())
    copy = params_file(tmp_path / "params", "n2-beta1-copy", n=2)
    refused(capsys, [copy, "--notebook", notebook, "--outdir", out],
            f"{out / 'n2-beta1.json'} and {copy} are both seed 0 of n = 2, β = 1")
    first, second = params_file(tmp_path / "a", "x", n=1), params_file(tmp_path / "b", "y", n=1, seed=0)
    refused(capsys, [first, second, "--notebook", notebook, "--outdir", out],
            f"{first} and {second} are both seed 0 of n = 1, β = 1")
    assert attempts(1) == attempts(2) == [] and not (out / "n2-beta1-copy.ipynb").exists()
    check_seeds(load([params_file(tmp_path / "params", "n2-beta1", n=2)], None), out)


def test_a_page_of_another_device_is_not_up_to_date(tmp_path, notebook):
    """A CPU page is no GPU page of the same params file: `--device cuda` executes it again."""
    params = params_file(tmp_path, "p", n=1)
    config, inputs = Config.from_yaml(params), sources(params, notebook)
    page(tmp_path, "p", config=config.to_dict(), inputs=inputs)
    assert stale(tmp_path / "p.ipynb", config, inputs) is None
    assert stale(tmp_path / "p.ipynb", dataclasses.replace(config, device="cuda"), inputs) == "another config"


@pytest.mark.parametrize("other_sweep", [False, True], ids=["left by a killed sweep", "another sweep's"])
def test_an_up_to_date_page_keeps_no_partial_files_beside_it(tmp_path, notebook, runs, capsys, other_sweep):
    """A sweep killed inside its publication left `.p.partial.*` beside a whole page: the next sweep
    says the page is up to date and clears them, under the page's lock; those of a sweep that holds
    the lock (executing the page now) stay."""
    out = tmp_path / "out"
    out.mkdir()
    params = params_file(tmp_path, "p", n=1)
    page(out, "p", config=Config.from_yaml(params).to_dict(), inputs=sources(params, notebook))
    partial = [out / f".p.partial.{suffix}" for suffix in ("ipynb", "json", "pt")]
    for path in partial:
        path.write_text("half")
    with open(out / ".p.lock", "a") as lock:
        if other_sweep:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another open file: as another process
        assert sweep([params], notebook=notebook, outdir=out) == []
    assert "up to date: 1 of 1 pages (p)" in capsys.readouterr().out
    assert [path.exists() for path in partial] == [other_sweep] * 3 and complete(out / "p.ipynb")


def test_an_unknown_progress_form_is_named_before_anything_starts(tmp_path, notebook, runs, good, capsys,
                                                                  monkeypatch):
    """`VAECORE_PROGRESS=none`: one sentence naming the variable and its values, no cluster, no page."""
    monkeypatch.setenv("VAECORE_PROGRESS", "none")
    refused(capsys, [good, "--notebook", notebook, "--outdir", tmp_path / "out"],
            "VAECORE_PROGRESS must be one of bar, lines, off, got 'none'")
    assert not (tmp_path / "out").exists() and attempts(2) == []


@pytest.mark.parametrize("case", ["no shipped weights", "--retrain"])
def test_gpu_training_without_a_gpu_is_refused_before_the_cluster_starts(tmp_path, notebook, runs, capsys,
                                                                         monkeypatch, case):
    """A cuda configuration that must train (the book ships no weights of it, or --retrain) on a
    machine without a GPU: one sentence naming its params file, no failed page, no Dask traceback."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    path = params_file(tmp_path, "p", n=7 if case == "no shipped weights" else 1)
    retrain = ["--retrain"] if case == "--retrain" else []
    refused(capsys, [path, "--notebook", notebook, "--outdir", tmp_path / "out", "--device", "cuda", *retrain],
            f"{path} trains on the GPU", "no GPU", "--device cpu")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs workers without a GPU")
def test_gpu_training_on_a_scheduler_whose_workers_have_no_gpu_is_refused(tmp_path, notebook, runs, capsys):
    """Where the scheduler's workers run the pages, it is their GPU that counts: none has one here."""
    path = params_file(tmp_path, "p", n=7)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, resources={"notebook": 1},
                      dashboard_address=None) as cluster:
        err = refused(capsys, [path, "--notebook", notebook, "--outdir", tmp_path / "out", "--device", "cuda",
                               "--scheduler", cluster.scheduler_address], path)
    assert f"no worker of the Dask scheduler at {cluster.scheduler_address} sees a GPU" in err
    assert not list((tmp_path / "out").glob("*.ipynb")) and attempts(7) == []


@pytest.mark.slow
def test_a_scheduler_killed_after_its_worker_finished_the_page_is_one_sentence(tmp_path, notebook, runs):
    """The page is published, then the scheduler dies before the sweep heard of it: the sweep's next
    question to the scheduler meets a reset connection; it ends in one sentence naming the page complete."""
    address = f"tcp://127.0.0.1:{free_port()}"
    background = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    scheduler = subprocess.Popen(["dask", "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                                  "--dashboard-address", ":0"], **background)
    worker = subprocess.Popen(["dask", "worker", address, "--nthreads", "1", "--resources", "notebook=1"],
                              **background)
    out, path = tmp_path / "out", params_file(tmp_path, "x", n=2)
    first = subprocess.Popen([sys.executable, "-m", "vaecore.cli", "sweep", str(path), "--notebook", str(notebook),
                              "--outdir", str(out), "--scheduler", address],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not (out / "x.ipynb").exists():
            assert first.poll() is None and time.monotonic() < deadline, "the page was never published"
            time.sleep(0.005)
        os.killpg(scheduler.pid, signal.SIGKILL)
        stdout, stderr = first.communicate(timeout=120)
    finally:
        first.kill()
        for process in (worker, scheduler):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    assert "Traceback" not in stdout + stderr and "ConnectionResetError" not in stderr, stderr
    if first.returncode == 0:  # the sweep had its result before the scheduler went
        assert "done: x" in stdout
    else:
        assert first.returncode == 2 and stderr.strip().endswith("before the next sweep"), stderr
        assert f"vaecore: error: lost the Dask scheduler at {address} mid-sweep, after its workers finished " \
               f"every page: x complete" in stderr
