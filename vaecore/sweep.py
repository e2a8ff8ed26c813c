"""Execute the experiment notebook with papermill once per params file, as tasks on a Dask cluster."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dask
import papermill
import yaml
from distributed import Client, LocalCluster, as_completed, get_worker

import vaecore
from vaecore.config import Config, ConfigError
from vaecore.cost import matmul_gflops, run_cost
from vaecore.errors import VaecoreError
from vaecore.experiment import run_dir
from vaecore.folder import write_atomically
from vaecore.progress import progress_bar, read_epoch
from vaecore.provenance import commit, machine
from vaecore.train import resolve_device

# A sweep task takes a whole worker: papermill changes its process's working directory and
# its kernel inherits the process's environment. Workers offer one unit of this resource.
RESOURCE = "notebook"


class SweepError(VaecoreError):
    """A sweep, or one of its configurations, cannot start; the message names the culprit."""


class NotebookFailed(RuntimeError):
    """A configuration's notebook raised; the message is the notebook's error."""


class Interrupted(Exception):
    """The sweep was stopped (Ctrl-C) before these configurations finished."""

    def __init__(self, unfinished: list[str], local: bool):
        super().__init__(", ".join(unfinished))
        self.unfinished, self.local = unfinished, local


def is_stale(params: Path, executed: Path, notebook: Path) -> bool:
    """True unless ``executed`` is newer than the params file, the notebook and the package."""
    if not executed.exists():
        return True
    sources = [params, notebook, *Path(vaecore.__file__).parent.glob("*.py")]
    return executed.stat().st_mtime < max(source.stat().st_mtime for source in sources)


def load(params: list[Path], device: str | None) -> dict[str, tuple[Path, Config, dict]]:
    """Validate every params file before anything starts: name -> (file, config, notebook parameters).

    Raises:
        ConfigError: a file is not valid YAML or not a valid config (naming the file and key).
        SweepError: two files have the same name, so they would write the same page.
    """
    configs = {}
    for path in params:
        if path.stem in configs:
            raise SweepError(f"{configs[path.stem][0]} and {path} would both write the page "
                             f"{path.stem}.ipynb: rename one of them")
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML ({' '.join(str(error).split())})") from None
        config = Config.from_yaml(path)
        if device:
            config, values = dataclasses.replace(config, device=device), values | {"device": device}
        configs[path.stem] = (path, config, values)
    return configs


@contextmanager
def locked(path: Path, what: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` while writing ``what``, or refuse: two sweeps must not write it at once.

    The lock goes with the process that holds it, also when that process is killed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SweepError(f"another sweep is executing {what}: wait for it to finish, "
                             f"or write to another folder") from None
        yield


def execute(name: str, config: Config, values: dict, notebook: Path, outdir: Path, environment: dict[str, str]) -> dict:
    """A sweep task: run the notebook for one configuration on a Dask worker, with the worker's threads.

    The page is written as ``.<name>.partial.ipynb`` and becomes ``<name>.ipynb`` only when
    complete, after the run's metrics and weights are copied beside it as ``<name>.json`` and
    ``<name>.pt``. A page that
    fails is kept as ``<name>.failed.ipynb``.

    Args:
        environment: for the kernel: ``VAECORE_DATA`` and ``VAECORE_RUNS`` as absolute paths, where
            the sweep set them, and ``VAECORE_SHIPPED=off`` for a sweep that retrains.

    Returns:
        The seconds the notebook took, the threads its kernel had and the worker's machine.
    """
    # the kernel is a process started by papermill: it takes its folders and threads from this one's environment
    os.environ.update(environment)
    page, run = outdir / f"{name}.ipynb", run_dir(config)
    # the run folder needs no lock here: experiment.run holds it while the kernel writes there
    with locked(outdir / f".{name}.lock", page):
        threads = get_worker().state.nthreads
        os.environ.update(dict.fromkeys(("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"), str(threads)))
        os.environ["VAECORE_PROGRESS"] = "off"  # the sweep shows each run's epoch itself, in one line
        partial, failed = outdir / f".{name}.partial.ipynb", outdir / f"{name}.failed.ipynb"
        start = time.perf_counter()
        try:
            papermill.execute_notebook(str(notebook), str(partial), parameters=values,
                                       progress_bar=False, cwd=str(notebook.parent))
        except Exception as error:
            # papermill saves the page up to the error: keep it for reading, never as an up-to-date page
            if partial.exists():
                os.replace(partial, failed)
            kind = getattr(error, "ename", type(error).__name__)  # papermill's, else Python's
            raise NotebookFailed(f"{kind}: {getattr(error, 'evalue', error)}") from None
        seconds = time.perf_counter() - start
        failed.unlink(missing_ok=True)
        for source, suffix in (("metrics.json", "json"), ("model.pt", "pt")):
            copy = outdir / f".{name}.partial.{suffix}"
            shutil.copyfile(run / source, copy)
            os.replace(copy, outdir / f"{name}.{suffix}")
        os.replace(partial, page)
    return {"seconds": seconds, "threads": threads,
            "machine": machine(resolve_device(config.device)) | {"threads": threads}}


def share_idle_cores(futures: dict, configs: dict[str, tuple[Path, Config, dict]], threads: int) -> dict[str, int]:
    """Once fewer configurations are left than the local cluster has workers, give the idle
    workers' cores to the ones still running, as threads (:func:`vaecore.train.follow_thread_budget`).

    Returns:
        The configurations given more threads than their worker's, with their new count.
    """
    left = [name for future, name in futures.items() if future.status == "pending"]
    share = (os.cpu_count() or 1) // max(1, len(left))
    if not left or share <= threads or any(configs[name][1].device != "cpu" for name in left):
        return {}
    for name in left:
        folder = run_dir(configs[name][1])
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(folder / "threads", lambda file: file.write(str(share).encode()))
    return dict.fromkeys(left, share)


def running(futures: dict, configs: dict[str, tuple[Path, Config, dict]]) -> str:
    """Where each running configuration is, as its run folder tells: "n64-beta1 120/300 (test 100.12)"."""
    shown = []
    for future, name in futures.items():
        if future.status == "pending" and (epoch := read_epoch(run_dir(configs[name][1]))):
            shown.append(f"{name} {epoch['epoch']}/{epoch['epochs']} (test {epoch['test']:.2f})")
    return ", ".join(shown)


# Dask's defaults wake each process every 20 ms, sample a running task's stack every 10 ms and the
# machine every 0.5 s: 4-6% of a core per process (client and two workers idle: 15%, measured),
# taken from the runs on the same cores. A sweep's hour-long tasks need none of it.
QUIET = {"distributed.admin.tick.interval": "200ms", "distributed.worker.profile.enabled": False,
         "distributed.admin.system-monitor.interval": "5s"}


@contextmanager
def connect(scheduler: str | None, workers: int) -> Iterator[tuple[Client, dict]]:
    """A client of the scheduler at ``scheduler``, else of a new local cluster of ``workers`` processes.

    Yields:
        The client and the cluster's description for the record.
    """
    if scheduler is None:
        threads = max(1, (os.cpu_count() or 1) // workers)
        # processes, not threads: papermill changes the working directory while it executes
        with dask.config.set(QUIET), LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True,
                                                  resources={RESOURCE: 1}, dashboard_address=":0") as cluster, \
                Client(cluster) as client:
            yield client, {"scheduler": "local", "workers": workers, "threads_per_worker": threads}
        return
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as error:
        raise SweepError(f"cannot reach the Dask scheduler at {scheduler} ({error}): "
                         f"start one with `dask scheduler`, or correct the address") from None
    with client:
        found = client.scheduler_info()["workers"].values()
        able = [worker["nthreads"] for worker in found if worker.get("resources", {}).get(RESOURCE)]
        if found and not able:
            raise SweepError(f"none of the {len(found)} workers of {scheduler} offers the resource "
                             f"'{RESOURCE}': start them with `dask worker {scheduler} --resources {RESOURCE}=1`")
        threads = sorted(set(able))
        yield client, {"scheduler": scheduler, "workers": len(able),
                       "threads_per_worker": threads[0] if len(threads) == 1 else threads}


def sweep(params: list[Path], notebook: Path, outdir: Path, workers: int = 1, force: bool = False,
          record: Path | None = None, device: str | None = None, scheduler: str | None = None,
          retrain: bool = False) -> list[str]:
    """Execute ``notebook`` for each stale params file, one Dask task each, and gather them as they finish.

    Without ``scheduler`` a local cluster of ``workers`` processes
    runs them, each with ``cores // workers`` threads. A worker that dies has its task
    rescheduled, and the run resumes from its checkpoint. A failing configuration is reported
    by name and does not stop the others; its page is kept as ``<name>.failed.ipynb``.

    Args:
        params: params files, all validated before anything starts; they run longest first
            (by :func:`vaecore.bench.run_cost`), in this order among equals.
        notebook: the parameterized notebook.
        outdir: where ``<name>.ipynb`` and ``<name>.json`` go.
        workers: worker processes of the local cluster, one configuration at a time each.
        force: execute up-to-date configurations too.
        record: write the sweep's timing here as JSON (wall-clock and per-configuration
            minutes, the cluster, commit, machine).
        device: ``"cpu"`` or ``"cuda"`` for every configuration, instead of its params file's.
        scheduler: address of a running Dask scheduler (``tcp://host:port``) whose workers
            offer the resource ``notebook``.
        retrain: train configurations without a checkpoint even where the book ships their
            weights (else their pages evaluate those weights).

    Returns:
        The names of the configurations that failed.

    Raises:
        Interrupted: on Ctrl-C, after cancelling what had not finished.
    """
    configs = load(params, device)
    outdir.mkdir(parents=True, exist_ok=True)
    todo = [name for name, (path, _, _) in configs.items()
            if force or is_stale(path, outdir / f"{name}.ipynb", notebook)]
    for skipped in sorted(set(configs) - set(todo)):
        print(f"up to date: {skipped}")
    if not todo:
        return []
    # absolute, as workers and their kernels run elsewhere: in the notebook's folder, or on other machines
    environment = {var: str(Path(os.environ[var]).expanduser().resolve())
                   for var in ("VAECORE_DATA", "VAECORE_RUNS") if os.environ.get(var)}
    if retrain:
        environment["VAECORE_SHIPPED"] = "off"
    notebook, outdir = notebook.resolve(), outdir.resolve()
    costs = {name: run_cost(configs[name][1]) for name in todo}
    failed, minutes, machines, raised = [], {}, [], {}
    start = time.perf_counter()
    try:
        with connect(scheduler, workers) as (client, cluster):
            if "dashboard" in client.scheduler_info()["services"]:
                print(f"dashboard: {client.dashboard_link}")
            # longest first, in the given order among equals: the shortest start last, so the workers end together
            order = sorted(todo, key=lambda name: -costs[name])[::-1]  # popped from the end
            futures: dict = {}

            def submit_next() -> None:
                # one task per free worker, submitted when it frees: Dask would otherwise place every task
                # at once, and never move one whose duration it cannot estimate to an idle worker
                name = order.pop()
                future = client.submit(execute, name, configs[name][1], configs[name][2], notebook, outdir,
                                       environment, key=f"{name}-{uuid.uuid4().hex[:8]}", resources={RESOURCE: 1})
                futures[future] = name
                pending.add(future)

            try:
                pending = as_completed()
                for _ in range(min(max(1, cluster["workers"]), len(order))):  # the first waits for a worker to join
                    submit_next()
                with progress_bar(total=len(todo), desc="sweep", unit="config") as bar:
                    shown = time.monotonic()
                    while not pending.is_empty():
                        ready = pending.next_batch(block=False)
                        if not ready:  # show where the running configurations are, and look again
                            bar.set_postfix_str(running(futures, configs), refresh=False)
                            if not bar.disable and time.monotonic() - shown >= bar.mininterval:  # logs: every 30 s
                                bar.refresh()
                                shown = time.monotonic()
                            time.sleep(2)
                        for future in ready:
                            name = futures[future]
                            if future.status == "finished":
                                result = future.result()
                                minutes[name] = result["seconds"] / 60
                                machines.append(result["machine"])
                                bar.write(f"done: {name} in {minutes[name]:.1f} min")
                            else:  # an error in the notebook, a refusal, or a task whose workers kept dying
                                failed.append(name)
                                error = future.exception()
                                ours = isinstance(error, (NotebookFailed, SweepError))
                                kind = "" if ours else f"{type(error).__name__}: "
                                bar.write(f"FAILED: {name}: {kind}{error}")
                            bar.update()
                            if order:
                                submit_next()
                        if ready and scheduler is None:
                            raised |= share_idle_cores(futures, configs, cluster["threads_per_worker"])
            except KeyboardInterrupt:
                client.cancel(list(futures))  # nothing queued starts; a local cluster's workers stop with it
                raise
    except KeyboardInterrupt:
        raise Interrupted([name for name in todo if name not in minutes and name not in failed],
                          local=scheduler is None) from None
    finally:
        for name in raised:  # a later run of the same config starts with its own threads again
            (run_dir(configs[name][1]) / "threads").unlink(missing_ok=True)
    wall = (time.perf_counter() - start) / 60
    print(f"sweep of {len(todo)} configurations: {wall:.1f} min on {cluster['scheduler']} with "
          f"{cluster['workers']} worker(s) x {cluster['threads_per_worker']} thread(s)")
    if failed:
        print(f"{len(failed)} of {len(todo)} configurations failed: {', '.join(sorted(failed))}")
    if record is not None:
        # the least time the same matmuls take on this machine's cores, measured now they are idle
        ceiling = matmul_gflops(resolve_device(device or "cpu"))
        floor = sum(costs.values()) / ceiling / 1e9 / 60
        print(f"matmul floor of the same configurations: {floor:.1f} min at {ceiling:.0f} GFLOP/s; "
              f"the sweep took {wall / floor:.2f} times that")
        record.write_text(json.dumps({
            "wall_minutes": wall, "floor_minutes": floor, "wall_over_floor": wall / floor,
            "matmul_gflops": ceiling, "flops": sum(costs.values()),
            "cluster": cluster["scheduler"], "workers": cluster["workers"],
            "threads_per_worker": cluster["threads_per_worker"],
            "configs": todo, "minutes": minutes, "failed": sorted(failed), "threads_raised": raised,
            # a worker's machine, with its kernels' threads; this one's where none finished
            "commit": commit(), "machine": machines[0] if machines else machine(),
        }, indent=1))
    return failed
