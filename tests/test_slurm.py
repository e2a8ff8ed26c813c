"""The sweep on a real one-node Slurm, started here: a page run by a Slurm job, a job cancelled
mid-run and resumed, and each of Slurm's failures in one sentence.

The fixture starts munged (where none answers), slurmctld and slurmd on their own ports with their
own slurm.conf, installing Debian's slurm-wlm and munge where they are missing and it runs as root,
and stops exactly what it started, by PID. It starts only when asked for, ``pytest -m slurm
tests/test_slurm.py`` (``.ci/run`` does), and skips, saying why, where Slurm cannot run.
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import dask
import pytest
import torch
import yaml

pytest.importorskip("dask_jobqueue", reason="dask-jobqueue is not installed (pip install -e '.[sweep]')")

from vaecore.cli import main  # noqa: E402
from vaecore.slurm import ended, job_directives  # noqa: E402

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "params" / "smoke.yaml"
DAEMONS = ("munged", "slurmctld", "slurmd")
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def installed() -> str | None:
    """Install slurm-wlm and munge where missing (as root, with apt); why not, if they are not there."""
    if all(shutil.which(daemon, path="/usr/sbin:/usr/bin") for daemon in DAEMONS) and shutil.which("sbatch"):
        return None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "slurm-wlm and munge are not installed, and only root can install them with apt-get"
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "slurm-wlm", "munge"]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if done.returncode:
            return f"`{' '.join(command)}` failed: {done.stderr.strip()[-300:]}"
    return None


def munge_answers() -> bool:
    encode = subprocess.run(["munge", "-n"], capture_output=True, check=False)
    return not encode.returncode and not subprocess.run(["unmunge"], input=encode.stdout, capture_output=True,
                                                        check=False).returncode


def start_munged() -> int | None:
    """Start munged as the munge user where none answers; its PID, ``None`` where one already ran."""
    if munge_answers():
        return None
    key = Path("/etc/munge/munge.key")
    if not key.exists():
        subprocess.run(["mungekey", "--create"], check=True, capture_output=True)
    shutil.chown(key, "munge", "munge")
    key.chmod(0o400)
    MUNGE_SOCKET.parent.mkdir(parents=True, exist_ok=True)
    shutil.chown(MUNGE_SOCKET.parent, "munge", "munge")
    subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"], check=True, capture_output=True)
    return pid_of(MUNGE_SOCKET.parent / "munged.pid")


def slurm_conf(folder: Path) -> str:
    """A one-node slurm.conf: no cgroups, accounting or systemd; the node as `slurmd -C` sees it."""
    node = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    memory = int(node.split("RealMemory=")[1].split()[0])
    node = node.replace(f"RealMemory={memory}", f"RealMemory={memory * 9 // 10}")  # below the machine's
    return "\n".join([
        "ClusterName=vaecore-test",
        f"SlurmctldHost={socket.gethostname().split('.')[0]}",
        f"SlurmctldPort={free_port()}", f"SlurmdPort={free_port()}",
        "SlurmUser=root", "AuthType=auth/munge", "CredType=cred/munge",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none", "AccountingStorageType=accounting_storage/none",
        "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core_Memory",
        "ReturnToService=2", "MpiDefault=none", "MinJobAge=300",
        f"StateSaveLocation={folder / 'state'}", f"SlurmdSpoolDir={folder / 'spool'}",
        f"SlurmctldPidFile={folder / 'slurmctld.pid'}", f"SlurmdPidFile={folder / 'slurmd.pid'}",
        f"SlurmctldLogFile={folder / 'slurmctld.log'}", f"SlurmdLogFile={folder / 'slurmd.log'}",
        f"{node} State=UNKNOWN",
        "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP", ""])


def pid_of(pidfile: Path) -> int:
    deadline = time.monotonic() + 30
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.monotonic() < deadline, f"{pidfile} was never written"
        time.sleep(0.1)
    return int(pidfile.read_text())


def stop(pid: int) -> None:
    """Stop a daemon we started, by its PID, and wait for it to go."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def slurm(request, tmp_path_factory):
    """A running one-node Slurm: its slurm.conf, set as $SLURM_CONF for the session."""
    if "slurm" not in (request.config.getoption("-m") or ""):
        pytest.skip("a one-node Slurm starts only when asked for: pytest -m slurm tests/test_slurm.py")
    if sys.platform != "linux":
        pytest.skip("the one-node Slurm runs on Linux")
    if why := installed():
        pytest.skip(why)
    if os.geteuid() != 0 and not munge_answers():
        pytest.skip("munged does not answer, and only root can start it (and slurmd)")
    if os.geteuid() != 0:
        pytest.skip("slurmd runs jobs as their users, so only root can start it")
    folder = tmp_path_factory.mktemp("slurm")
    for sub in ("state", "spool"):
        (folder / sub).mkdir()
    (folder / "slurm.conf").write_text(slurm_conf(folder))
    started, munged = [], None
    # the scheduler and its workers talk over the loopback only, as one machine's test cluster should
    loopback = {"SLURM_CONF": str(folder / "slurm.conf"),
                "DASK_JOBQUEUE__SLURM__SCHEDULER_OPTIONS": '{"host": "127.0.0.1"}',
                "DASK_JOBQUEUE__SLURM__WORKER_EXTRA_ARGS": '["--host", "127.0.0.1"]'}
    before = {key: os.environ.get(key) for key in loopback}
    os.environ.update(loopback)
    dask.config.refresh()  # this process's sweeps read them too
    try:
        if (munged := start_munged()) is not None:
            started.append(munged)
        for daemon in ("slurmctld", "slurmd"):  # each forks into the background, then writes its pid file
            subprocess.run([f"/usr/sbin/{daemon}", "-f", str(folder / "slurm.conf")], check=True, capture_output=True)
            started.append(pid_of(folder / f"{daemon}.pid"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, check=False).stdout
            if state.strip() == "idle":
                break
            time.sleep(0.5)
        else:
            log = (folder / "slurmd.log").read_text()[-500:] if (folder / "slurmd.log").exists() else ""
            pytest.skip(f"the one-node Slurm did not come up within 60 s (sinfo: {state.strip()!r}): {log}")
        yield folder / "slurm.conf"
    finally:
        if len(started) == 2 + (munged is not None):  # no job outlives its daemons: slurmstepd would
            with contextlib.suppress(subprocess.CalledProcessError):
                subprocess.run(["scancel", "--full", *squeue()], capture_output=True, check=False)
                deadline = time.monotonic() + 60
                while squeue() and time.monotonic() < deadline:
                    time.sleep(0.5)
        for pid in reversed(started):
            stop(pid)
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        dask.config.refresh()


def squeue() -> list[str]:
    return subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True, check=True).stdout.split()


def vaecore(*arguments: str, env: dict | None = None, **options) -> subprocess.Popen:
    """``vaecore`` as a process from the repository's root, as a user types it."""
    return subprocess.Popen([sys.executable, "-m", "vaecore.cli", *arguments], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ | (env or {}), **options)


EPOCHS = 20


def longer(tmp_path: Path) -> Path:
    """The smoke configuration trained for more epochs, so that a job can be cancelled mid-run."""
    values = yaml.safe_load(SMOKE.read_text()) | {"epochs": EPOCHS, "train_size": 4000}
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def sleeper(tmp_path: Path) -> Path:
    """A stand-in for the experiment notebook that says it started, then sleeps: its kernel starts
    in seconds, where the real page's imports and data take many."""
    notebook = tmp_path / "sleeps.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("params = None\ndevice = None", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("import os, pathlib, time\n"
                                  "pathlib.Path(os.environ['VAECORE_RUNS'], 'started').write_text('')\n"
                                  "time.sleep(600)")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}), notebook)
    return notebook


def checkpoint(runs: Path) -> Path | None:
    found = sorted(runs.glob("*/checkpoint.pt"))
    return found[0] if found else None


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("VAECORE_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


@pytest.fixture
def mnist_here(data_root, monkeypatch):
    """MNIST for the sweeps' kernels, wherever their jobs run."""
    monkeypatch.setenv("VAECORE_DATA", str(data_root))


def test_the_smoke_sweep_runs_in_a_slurm_job_and_leaves_none(slurm, tmp_path, runs, mnist_here):
    """The README's command: the page is written by a Slurm job, whose id its metrics record, and
    the sweep leaves no job behind."""
    sweep = vaecore("sweep", "params/smoke.yaml", "--slurm", "--outdir", str(tmp_path / "pages"), "--quiet")
    stdout, stderr = sweep.communicate(timeout=600)
    assert sweep.returncode == 0, stderr[-3000:]
    metrics = json.loads((tmp_path / "pages" / "smoke.json").read_text())
    job = metrics["machine"]["slurm_job"]
    assert (runs / "slurm" / f"dask-worker-{job}.out").exists()  # the job the sweep submitted ran it
    assert (tmp_path / "pages" / "smoke.ipynb").exists() and "on Slurm (" in stdout
    assert squeue() == []


def cancel_mid_run(command: list[str], started, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """Start a sweep on Slurm and cancel its job once ``started()`` says its page is executing:
    (the sweep, the job id)."""
    sweep = vaecore(*command, env=env)
    try:
        deadline = time.monotonic() + 600  # minutes on a machine whose cores other work takes
        while not started():
            assert sweep.poll() is None and time.monotonic() < deadline, "the page never started"
            time.sleep(0.2)
        job = squeue()
        subprocess.run(["scancel", *job], check=True)
        sweep.wait(timeout=120)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    return sweep, job[0]


def test_a_job_cancelled_mid_run_is_named_and_the_rerun_resumes_its_checkpoint(slurm, tmp_path, runs, mnist_here):
    """scancel of the worker's job: one sentence names the configuration and the job (exit 2); the
    same command again resumes the run from its checkpoint in a new job."""
    command = ["sweep", str(longer(tmp_path)), "--slurm", "--outdir", str(tmp_path / "pages"), "--quiet"]
    sweep, job = cancel_mid_run(command, lambda: checkpoint(runs) is not None)
    stderr = sweep.stderr.read()
    assert sweep.returncode == 2, stderr[-3000:]
    assert (f"vaecore: error: long lost: its Slurm job {job} was cancelled (CANCELLED); rerun the same "
            f"command: its page resumes from its checkpoint") in stderr
    assert "Traceback" not in stderr and squeue() == []
    kept = torch.load(checkpoint(runs), weights_only=True)["history"]
    assert 1 <= len(kept["epoch"]) < EPOCHS  # cancelled mid-run
    rerun = vaecore(*command)
    _, stderr = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, stderr[-3000:]
    metrics = json.loads((tmp_path / "pages" / "long.json").read_text())
    assert metrics["machine"]["slurm_job"] != job
    # the epochs before the cancel are the checkpoint's, to their timings: resumed, not trained anew
    assert metrics["history"]["seconds"][:len(kept["epoch"])] == kept["seconds"]
    assert len(metrics["history"]["epoch"]) == EPOCHS and squeue() == []


def test_a_job_killed_at_its_walltime_names_the_configuration_and_the_limit(slurm, tmp_path, runs):
    """A job Slurm kills at its walltime (a squeue that reports the real job's cancel as that end:
    this Slurm takes a minute or more to enforce it) is named with the limit to raise."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "squeue").write_text(f"#!/bin/sh\n{shutil.which('squeue')} \"$@\" | "
                                 f"sed 's/|CANCELLED|.*$/|TIMEOUT|TimeLimit/'\n")
    (fake / "squeue").chmod(0o755)
    command = ["sweep", str(longer(tmp_path)), "--slurm", "--notebook", str(sleeper(tmp_path)), "--outdir",
               str(tmp_path / "pages"), "--quiet"]
    sweep, job = cancel_mid_run(command, (runs / "started").exists, env={"PATH": f"{fake}:{os.environ['PATH']}"})
    stderr = sweep.stderr.read()
    assert sweep.returncode == 2, stderr[-3000:]
    assert (f"vaecore: error: long lost: its Slurm job {job} was killed at its walltime of 00:30:00 "
            f"(TIMEOUT, reason TimeLimit); give a longer --walltime (or jobqueue.slurm.walltime) and rerun "
            f"the same command: its page resumes from its checkpoint") in stderr
    assert squeue() == []


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_a_sweep_stopped_cancels_its_jobs(slurm, tmp_path, runs, stop):
    """Ctrl-C, or a SIGTERM (as a closed session's), stops the sweep, naming what did not finish, and
    leaves no job running."""
    command = ["sweep", str(longer(tmp_path)), "--slurm", "--notebook", str(sleeper(tmp_path)), "--outdir",
               str(tmp_path / "pages"), "--quiet"]
    # its own session, as a terminal's process group; a SIGINT ignored by whatever started pytest is restored
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        sweep = vaecore(*command, start_new_session=True)
    finally:
        signal.signal(signal.SIGINT, handler)
    try:
        deadline = time.monotonic() + 600
        while not (runs / "started").exists():
            assert sweep.poll() is None and time.monotonic() < deadline, "the page never started"
            time.sleep(0.2)
        os.kill(sweep.pid, stop)
        _, stderr = sweep.communicate(timeout=120)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 130, stderr[-3000:]
    assert "vaecore: interrupted: long did not finish; rerun the same command to resume them" in stderr
    assert squeue() == []


def test_a_missing_partition_is_refused_naming_those_there_are(slurm, tmp_path, runs, capsys):
    code = main(["sweep", str(SMOKE), "--slurm", "--partition", "gpu-large", "--outdir", str(tmp_path / "pages")])
    assert code == 2
    assert ("vaecore: error: the Slurm partition gpu-large does not exist (sinfo lists debug): give one of "
            "those with --partition or jobqueue.slurm.queue") in capsys.readouterr().err
    assert squeue() == []


def test_a_job_pending_past_the_wait_is_named_with_its_reason_and_cancelled(slurm, tmp_path, runs, capsys):
    """A job Slurm holds back (here: not to begin for an hour) ends the sweep after --wait seconds."""
    import dask

    with dask.config.set({"jobqueue.slurm.job-extra-directives": ["--begin=now+3600"]}):
        code = main(["sweep", str(SMOKE), "--slurm", "--wait", "3", "--outdir", str(tmp_path / "pages")])
    error = capsys.readouterr().err
    assert code == 2, error
    assert "is still PENDING after 3 s (reason BeginTime): wait longer with --wait" in error
    assert "vaecore: error: Slurm job " in error and squeue() == []


def test_an_unreachable_controller_is_one_sentence(slurm, tmp_path, runs, capsys, monkeypatch):
    conf = tmp_path / "slurm.conf"
    text = slurm.read_text()
    port = text.split("SlurmctldPort=")[1].split()[0]
    conf.write_text(text.replace(f"SlurmctldPort={port}", f"SlurmctldPort={free_port()}"))
    monkeypatch.setenv("SLURM_CONF", str(conf))
    code = main(["sweep", str(SMOKE), "--slurm", "--outdir", str(tmp_path / "pages")])
    error = capsys.readouterr().err
    assert code == 2
    assert error.startswith("vaecore: error: cannot reach the Slurm controller to list its partitions "
                            "(slurm_load_partitions: Unable to contact slurm controller")


def test_a_gpu_sweep_is_asked_of_slurm_not_of_this_machines_torch(slurm, tmp_path, runs, capsys):
    """--device cuda from a login node without a GPU: the jobs ask Slurm for one (this one-node Slurm
    has none to give, and says so), rather than the sweep refusing for want of a GPU here."""
    code = main(["sweep", str(SMOKE), "--slurm", "--device", "cuda", "--outdir", str(tmp_path / "pages")])
    error = capsys.readouterr().err
    assert code == 2 and "torch sees no GPU here" not in error
    assert error.startswith("vaecore: error: Slurm refuses the sweep's worker job, which asks for ")
    assert " --gres=gpu:1 in the default partition (" in error and squeue() == []


@pytest.mark.parametrize("device, configured, asks", [
    ("cuda", [], ["--gres=gpu:1"]),
    ("cuda", ["--gpus=1"], ["--gpus=1"]),  # the site's own way: not asked twice
    ("cuda", ["--constraint=a100", "--gres=gpu:a100:1"], ["--constraint=a100", "--gres=gpu:a100:1"]),
    ("cpu", ["--account=lab"], ["--account=lab"]),
    (None, [], []),
])
def test_a_cuda_sweeps_jobs_ask_for_one_gpu_unless_configured_to(device, configured, asks):
    import dask

    with dask.config.set({"jobqueue.slurm.job-extra-directives": configured}):
        assert job_directives(device) == asks


def test_without_sbatch_the_sweep_says_so(tmp_path, runs, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no Slurm commands there
    code = main(["sweep", str(SMOKE), "--slurm", "--outdir", str(tmp_path / "pages")])
    assert code == 2
    assert ("vaecore: error: sbatch is not on the PATH, so this machine cannot submit the sweep's jobs to "
            "Slurm: run it on a Slurm login node, or without --slurm") in capsys.readouterr().err


@pytest.mark.parametrize("state, names, says", [
    ("CANCELLED", ["a"], "a lost: its Slurm job 7 was cancelled (CANCELLED); rerun the same command: "
                         "its page resumes from its checkpoint"),
    ("NODE_FAIL", ["a", "b"], "a, b lost: its Slurm job 7 failed with its node (NODE_FAIL, reason x); "
                              "rerun the same command: their pages resume from their checkpoints"),
    # this Slurm has no cgroups, so it never kills a job for memory: the sentence alone
    ("OUT_OF_MEMORY", ["a"], "a lost: its Slurm job 7 was killed for using more than its memory, 2G "
                             "(OUT_OF_MEMORY, reason x); give more memory in jobqueue.slurm.memory and rerun "
                             "the same command: its page resumes from its checkpoint"),
])
def test_the_sentence_of_a_job_slurm_ended(state, names, says):
    assert ended("7", state, "None" if state == "CANCELLED" else "x", names, "01:00:00", "2G") == says


@pytest.mark.parametrize("options, says", [
    (["--slurm", "--scheduler", "tcp://127.0.0.1:8786"], "--slurm and --scheduler tcp://127.0.0.1:8786 (or "
                                                         "$VAECORE_SCHEDULER) both give the sweep's cluster"),
    (["--partition", "gpu"], "--partition and --walltime are for Slurm jobs: add --slurm"),
    (["--slurm", "--max-jobs", "0"], "--max-jobs must be 1 or more, got 0"),
], ids=["with --scheduler", "--partition alone", "no job"])
def test_slurm_options_that_contradict_are_refused_before_anything_starts(tmp_path, runs, capsys, options, says):
    assert main(["sweep", str(SMOKE), "--outdir", str(tmp_path / "pages"), *options]) == 2
    assert f"vaecore: error: {says}" in capsys.readouterr().err
    assert not (tmp_path / "pages").exists()
