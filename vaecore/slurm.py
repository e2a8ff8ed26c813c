"""A sweep's workers as Slurm jobs (dask-jobqueue's ``SLURMCluster``), and Slurm's failures in one sentence.

Partition, account, walltime, cores and memory per job come from dask-jobqueue's own configuration
(``~/.config/dask/jobqueue.yaml``, ``DASK_JOBQUEUE__SLURM__*``); the sweep passes only what its
flags override. Each job runs one worker that offers one unit of the resource ``notebook``.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import dask
from distributed import Client

from vaecore.errors import VaecoreError

# dask_jobqueue's runner module, imported with the package, makes SIGINT end the process quietly
# with status 0 (sys.exit): Ctrl-C stays a KeyboardInterrupt, which the sweep reports (exit 130).
_SIGINT = signal.getsignal(signal.SIGINT)
from dask_jobqueue import SLURMCluster  # noqa: E402

if _SIGINT is not None and threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGINT, _SIGINT)
del _SIGINT

# What a job asks for where the configuration says nothing: a run's torch threads, and the memory of
# its worker and its kernel, with room (a kernel training an n = 64 page held 0.95 GB here).
CORES, MEMORY = 1, "4GiB"

# A GPU for a --device cuda sweep, unless the configured directives already ask for one their way.
GPU = "--gres=gpu:1"
GPU_WORDS = ("--gres", "--gpus", "-G ", "--gpus-per")

# Job states in which a worker is coming or there (squeue's %T), or a job still ending, on its way
# to the state that says why; any other is an end.
ALIVE = {"PENDING", "CONFIGURING", "RUNNING", "RESIZING", "SUSPENDED", "COMPLETING"}

# What Slurm's end states mean to a reader, and what to change first.
ENDS = {
    "TIMEOUT": ("was killed at its walltime of {walltime}",
                "give a longer --walltime (or jobqueue.slurm.walltime) and rerun the same command"),
    "OUT_OF_MEMORY": ("was killed for using more than its memory, {memory}",
                      "give more memory in jobqueue.slurm.memory and rerun the same command"),
    "CANCELLED": ("was cancelled", "rerun the same command"),
    "NODE_FAIL": ("failed with its node", "rerun the same command"),
    "PREEMPTED": ("was preempted", "rerun the same command"),
}


class SlurmError(VaecoreError):
    """Slurm cannot run the sweep, or ended one of its jobs; the message names the job and what to do."""


def configured(key: str):
    """dask-jobqueue's setting ``jobqueue.slurm.<key>``, ``None`` where unset."""
    return dask.config.get(f"jobqueue.slurm.{key}", None)


def said(done: subprocess.CompletedProcess) -> str:
    """What a failed Slurm command said: its last line on stderr, else its exit status."""
    return (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]


def slurm_command(arguments: list[str], what: str) -> str:
    """Run a Slurm client command and return its output.

    Raises:
        SlurmError: the command is missing, or the controller does not answer (naming ``what`` was asked).
    """
    if shutil.which(arguments[0]) is None:
        raise SlurmError(f"{arguments[0]} is not on the PATH, so this machine cannot ask Slurm to {what}: "
                         f"run the sweep on a Slurm login node, or without --slurm")
    done = subprocess.run(arguments, capture_output=True, text=True, check=False, timeout=120)
    if done.returncode:
        raise SlurmError(f"cannot reach the Slurm controller to {what} ({said(done)}): check that slurmctld runs "
                         f"and that this machine's slurm.conf (or $SLURM_CONF) names it")
    return done.stdout


def check_partition(partition: str | None) -> None:
    """Refuse a partition that Slurm does not have, naming those it has; ``None``: Slurm's default."""
    names = [name.strip() for name in slurm_command(["sinfo", "-h", "-o", "%R"], "list its partitions").split()]
    if partition is not None and partition not in names:
        raise SlurmError(f"the Slurm partition {partition} does not exist (sinfo lists {', '.join(names) or 'none'}): "
                         f"give one of those with --partition or jobqueue.slurm.queue")


def dry_run(script: str, asks: str) -> None:
    """Have Slurm validate a worker's job script without queueing it (``sbatch --test-only``).

    Raises:
        SlurmError: Slurm refuses the job (an account, memory or GPU it cannot give), in its words.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".sh") as file:
        file.write(script)
        file.flush()
        done = subprocess.run(["sbatch", "--test-only", file.name], capture_output=True, text=True,
                              check=False, timeout=120)
    if done.returncode:
        raise SlurmError(f"Slurm refuses the sweep's worker job, which asks for {asks} "
                         f"({said(done).removeprefix('sbatch: error: ')}): "
                         f"change the request in jobqueue.yaml or with --partition/--walltime")


def job_directives(device: str | None) -> list[str]:
    """The configured ``#SBATCH`` lines of a worker's job, with :data:`GPU` for a ``"cuda"`` sweep unless
    they already ask for a GPU their way."""
    directives = list(configured("job-extra-directives") or [])
    if device == "cuda" and not any(word in f"{directive} " for directive in directives for word in GPU_WORDS):
        directives.append(GPU)
    return directives


def job_states(jobs: list[str]) -> dict[str, tuple[str, str]]:
    """Slurm's state and reason of each job it still knows (``squeue -t all``): id -> (state, reason)."""
    if not jobs:
        return {}
    out = slurm_command(["squeue", "-h", "-t", "all", "-j", ",".join(jobs), "-o", "%i|%T|%r"], "ask for its jobs")
    states = {}
    for line in out.splitlines():
        job, state, reason = (line.split("|") + ["", ""])[:3]
        states[job.strip()] = (state.strip(), reason.strip())
    return states


def ended(job: str, state: str, reason: str, names: list[str], walltime: str, memory: str) -> str:
    """The sentence for a job that Slurm ended mid-sweep, naming the configurations it was running."""
    how, advice = ENDS.get(state, (f"ended {state}", "rerun the same command"))
    why = f", reason {reason}" if reason and reason != "None" else ""
    pages = "its page resumes from its checkpoint" if len(names) == 1 else "their pages resume from their checkpoints"
    return (f"{', '.join(names)} lost: its Slurm job {job} {how.format(walltime=walltime, memory=memory)} "
            f"({state}{why}); {advice}: {pages}")


class Cluster(SLURMCluster):
    """A ``SLURMCluster`` that knows which configurations its jobs run, and says how a job ended."""

    def __init__(self, *args, limits: tuple[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.limits = limits  # walltime and memory, as the jobs asked for them
        self.running: dict[str, set[str]] = {}  # job id -> task keys last seen processing there

    def ids(self) -> list[str]:
        """The ids of the jobs submitted so far."""
        return [job.job_id for job in list(self.workers.values()) if getattr(job, "job_id", None)]

    def check(self, names: dict[str, str]) -> None:
        """Raise if Slurm ended a job while it ran one of ``names`` (task key -> unfinished configuration),
        or ended them all.

        Raises:
            SlurmError: naming the configuration, the job and Slurm's reason.
        """
        address = {worker.get("name"): where for where, worker in self.scheduler_info["workers"].items()}
        processing = self.sync(self.scheduler_comm.processing)
        for name, job in list(self.workers.items()):
            if name in address and getattr(job, "job_id", None):
                keys = set(processing.get(address[name], ()))
                self.running[job.job_id] = keys or self.running.get(job.job_id, set())
        states = job_states(self.ids())
        for job, (state, reason) in states.items():
            lost = sorted(names[key] for key in self.running.get(job, ()) if key in names)
            if state not in ALIVE and lost:
                raise SlurmError(ended(job, state, reason, lost, *self.limits))
        if states and all(state not in ALIVE for state, _ in states.values()):
            job, (state, reason) = next(iter(states.items()))
            raise SlurmError(ended(job, state, reason, sorted(set(names.values())), *self.limits))
        for keys in self.running.values():
            keys &= set(names)  # a configuration that finished there is no longer at stake


def pending(states: dict[str, tuple[str, str]], wait: float, logs: Path) -> str:
    """The sentence for jobs none of which brought a worker within ``wait`` seconds."""
    job, (state, reason) = next(iter(states.items()))
    if state not in ALIVE:
        return (f"Slurm job {job} ended ({state}, reason {reason}) before its worker joined: "
                f"read its output, {logs}/dask-worker-{job}.err, then rerun")
    return (f"Slurm job {job} is still {state} after {wait:g} s (reason {reason}): "
            f"wait longer with --wait, or free the partition or choose another with --partition")


@contextmanager
def stopped_as_by_ctrl_c() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed login session) raise KeyboardInterrupt, as Ctrl-C does, so that
    the jobs are cancelled; by default they end Python at once. A worker whose sweep was killed
    outright ends its job itself, after dask-jobqueue's death-timeout (60 s)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(number, frame):
        raise KeyboardInterrupt

    before = {number: signal.signal(number, interrupt) for number in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)


@contextmanager
def cluster(jobs: int, device: str | None, wait: float, logs: Path, partition: str | None = None,
            walltime: str | None = None) -> Iterator[tuple[Client, dict]]:
    """A client of a new :class:`Cluster` scaled to ``jobs`` jobs of one worker each; its jobs are
    cancelled on leaving, also on Ctrl-C and on errors.

    Args:
        jobs: how many jobs to submit.
        device: ``"cuda"`` asks each job for a GPU (:data:`GPU`), unless the configured directives do.
        wait: seconds to wait for the first worker.
        logs: the folder for the jobs' output where ``jobqueue.slurm.log-directory`` names none
            (Slurm would write ``slurm-<id>.out`` into the working directory).
        partition, walltime: instead of the configured ``jobqueue.slurm.queue`` and ``walltime``.

    Yields:
        The client (its ``cluster`` is the :class:`Cluster`) and the cluster's description for the record.

    Raises:
        SlurmError: sbatch is missing, the controller does not answer, the partition does not exist,
            Slurm refuses the job, or no job has brought a worker within ``wait`` seconds (naming it
            and Slurm's reason).
    """
    if shutil.which("sbatch") is None:
        raise SlurmError("sbatch is not on the PATH, so this machine cannot submit the sweep's jobs to Slurm: "
                         "run it on a Slurm login node, or without --slurm")
    partition = partition or configured("queue")
    check_partition(partition)
    cores, memory = configured("cores") or CORES, configured("memory") or MEMORY
    walltime = walltime or configured("walltime")
    directives = job_directives(device)
    asks = (f"{cores} core(s), {memory} and {walltime}{''.join(' ' + directive for directive in directives)} "
            f"in {'partition ' + partition if partition else 'the default partition'}")
    logs = Path(configured("log-directory") or logs)
    options = {"dashboard_address": ":0"} | (configured("scheduler-options") or {})
    slurm = Cluster(queue=partition, walltime=walltime, cores=cores, memory=memory, processes=1,
                    job_extra_directives=directives, scheduler_options=options, limits=(walltime, memory),
                    log_directory=str(logs),
                    worker_extra_args=[*(configured("worker-extra-args") or []), "--resources", "notebook=1"])
    try:
        dry_run(slurm.job_script(), asks)
        with Client(slurm) as client, stopped_as_by_ctrl_c():
            slurm.scale(jobs=jobs)
            deadline = time.monotonic() + wait
            while not client.nthreads():
                states = job_states(slurm.ids())
                if states and all(state not in ALIVE for state, _ in states.values()) or time.monotonic() > deadline:
                    raise SlurmError(pending(states, wait, logs) if states else
                                     f"Slurm took none of the sweep's {jobs} job(s) within {wait:g} s: "
                                     f"check that sbatch accepts a job here")
                time.sleep(1)
            yield client, {"scheduler": f"Slurm ({asks})", "workers": jobs, "threads_per_worker": cores,
                           "jobs": slurm.ids()}
    finally:
        ids = slurm.ids()
        slurm.close()
        if ids:  # dask-jobqueue cancels them as it closes; again here, for a close cut short by Ctrl-C
            with suppress(OSError, subprocess.SubprocessError):
                subprocess.run(["scancel", *ids], capture_output=True, check=False, timeout=60)
