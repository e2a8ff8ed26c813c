"""The Dask plumbing of a sweep: a client of a local cluster or of a running scheduler, checked
to answer and to offer workers that take one configuration at a time."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import dask
from distributed import Client, LocalCluster
from distributed.comm import connect as handshake
from distributed.comm.addressing import parse_address, parse_host_port

from vaecore.errors import SweepError
from vaecore.experiment import runs_dir

# A sweep task takes a whole worker: papermill changes its process's working directory and
# its kernel inherits the process's environment. Workers offer one unit of this resource.
RESOURCE = "notebook"

# Bounds on what a sweep waits for: a scheduler's answer (Dask's own timeout leaves its handshake
# unbounded: an HTTP port, the dashboard's, never answers it) and, by default, its first worker.
ANSWER_SECONDS = 10
WORKERS_SECONDS = 60

# Dask's defaults wake each process every 20 ms, sample a running task's stack every 10 ms and the
# machine every 0.5 s: 4-6% of a core per process (client and two workers idle: 15%, measured),
# taken from the runs on the same cores. A sweep's hour-long tasks need none of it.
QUIET = {"distributed.admin.tick.interval": "200ms", "distributed.worker.profile.enabled": False,
         "distributed.admin.system-monitor.interval": "5s"}


def check_address(scheduler: str) -> None:
    """Refuse a scheduler address without a port, before anything starts."""
    scheme, location = parse_address(scheduler, strict=False)
    if scheme in ("tcp", "tls"):
        try:
            parse_host_port(location)
        except ValueError:
            raise SweepError(f"the scheduler address {scheduler} has no port: give tcp://HOST:PORT, "
                             f"as `dask scheduler` prints it (port 8786 by default)") from None


def answers(scheduler: str, seconds: float) -> None:
    """Check within ``seconds`` that ``scheduler`` answers as a Dask scheduler: connected and handshaken.

    Raises:
        SweepError: it cannot be reached, or does not answer (an HTTP port, as the dashboard's).
    """
    async def greet() -> None:
        comm = await asyncio.wait_for(handshake(scheduler, timeout=seconds), seconds)
        await comm.close()

    try:
        # on a thread of its own: the caller's may run an event loop (a Jupyter kernel, playwright's)
        with ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, greet()).result()
    except TimeoutError:
        raise SweepError(f"{scheduler} did not answer as a Dask scheduler within {seconds:g} s (is it another "
                         f"service's port, such as the dashboard's? the scheduler's is 8786 by default): "
                         f"give the address `dask scheduler` prints") from None
    except (OSError, ValueError) as error:
        raise SweepError(f"cannot reach the Dask scheduler at {scheduler} ({error}): "
                         f"start one with `dask scheduler`, or correct the address") from None


@contextmanager
def connect(scheduler: str | None, workers: int, wait: float = WORKERS_SECONDS) -> Iterator[tuple[Client, dict]]:
    """A client of the scheduler at ``scheduler``, else of a new local cluster of ``workers`` processes.

    Args:
        wait: seconds to wait for the scheduler's first worker.

    Yields:
        The client and the cluster's description for the record.

    Raises:
        SweepError: the scheduler does not answer, has no worker within ``wait`` seconds, or
            none that offers the resource ``notebook``.
    """
    if scheduler is None:
        threads = max(1, (os.cpu_count() or 1) // workers)
        # processes, not threads: papermill changes the working directory while it executes
        with dask.config.set(QUIET), LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True,
                                                  resources={RESOURCE: 1}, dashboard_address=":0") as cluster, \
                Client(cluster) as client:
            yield client, {"scheduler": "local", "workers": workers, "threads_per_worker": threads}
        return
    if not scheduler.startswith("inproc://"):  # in this process: nothing to hang on
        answers(scheduler, ANSWER_SECONDS)
    try:
        client = Client(scheduler, timeout=f"{ANSWER_SECONDS}s")
    except (OSError, TimeoutError) as error:
        raise SweepError(f"cannot reach the Dask scheduler at {scheduler} ({error}): "
                         f"start one with `dask scheduler`, or correct the address") from None
    with client:
        try:
            client.wait_for_workers(1, timeout=wait)
        except TimeoutError:
            raise SweepError(f"the Dask scheduler at {scheduler} has no worker after {wait:g} s: start them "
                             f"with `dask worker {scheduler} --resources {RESOURCE}=1`") from None
        found = client.scheduler_info()["workers"].values()
        able = [worker["nthreads"] for worker in found if worker.get("resources", {}).get(RESOURCE)]
        if found and not able:
            raise SweepError(f"none of the {len(found)} workers of {scheduler} offers the resource "
                             f"'{RESOURCE}': start them with `dask worker {scheduler} --resources {RESOURCE}=1`")
        threads = sorted(set(able))
        yield client, {"scheduler": scheduler, "workers": len(able),
                       "threads_per_worker": threads[0] if len(threads) == 1 else threads}


def open_cluster(scheduler: str | None, workers: int, wait: float, slurm: dict | None, configs: int,
               device: str | None):
    """The client and description of the sweep's cluster: :func:`connect`'s, or with
    ``slurm`` one Slurm job per configuration, up to ``slurm["max_jobs"]`` (:func:`vaecore.slurm.cluster`)."""
    if slurm is None:
        return connect(scheduler, workers, wait)
    try:
        from vaecore import slurm as jobs
    except ImportError:
        raise SweepError("--slurm needs dask-jobqueue, which is not installed: "
                         "pip install 'vaecore[sweep]', or sweep without --slurm") from None
    return jobs.cluster(min(configs, slurm["max_jobs"]), device, wait, runs_dir() / "slurm",
                        partition=slurm.get("partition"), walltime=slurm.get("walltime"))
