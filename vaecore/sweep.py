"""Execute the experiment notebook with papermill once per params file, as tasks on a Dask cluster."""

from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import dask
import papermill
from distributed import Client, LocalCluster, as_completed, get_worker
from distributed.comm import connect as handshake
from distributed.comm.addressing import parse_address, parse_host_port

import vaecore
from vaecore.config import Config
from vaecore.cost import matmul_gflops, run_cost
from vaecore.errors import VaecoreError
from vaecore.experiment import run_dir
from vaecore.folder import writable, write_atomically
from vaecore.progress import progress_bar, read_epoch
from vaecore.provenance import commit, machine
from vaecore.report import departures
from vaecore.train import resolve_device
from vaecore.weights import sha256

# A sweep task takes a whole worker: papermill changes its process's working directory and
# its kernel inherits the process's environment. Workers offer one unit of this resource.
RESOURCE = "notebook"

# Bounds on what a sweep waits for: a scheduler's answer (Dask's own timeout leaves its handshake
# unbounded: an HTTP port, the dashboard's, never answers it) and, by default, its first worker.
ANSWER_SECONDS = 10
WORKERS_SECONDS = 60

THREADS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


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
    """True unless ``executed`` is :func:`complete` and newer than the params file, the notebook and the package."""
    if not complete(executed):
        return True
    sources = [params, notebook, *Path(vaecore.__file__).parent.glob("*.py")]
    return executed.stat().st_mtime < max(source.stat().st_mtime for source in sources)


def complete(page: Path) -> bool:
    """Whether ``page`` (``<name>.ipynb``) is there with its run's metrics, ``<name>.json``, readable,
    and weights, ``<name>.pt``, whose SHA-256 is the one those metrics record."""
    try:
        recorded = json.loads(page.with_suffix(".json").read_text())["weights_sha256"]
        return page.is_file() and sha256(page.with_suffix(".pt")) == recorded
    except (OSError, ValueError, KeyError, TypeError):
        return False


def load(params: list[Path], device: str | None) -> dict[str, tuple[Path, Config, dict]]:
    """Validate every params file before anything starts: name -> (file, config, notebook parameters).

    Each is read as ``vaecore train`` reads it (:meth:`Config.from_yaml`), and the notebook gets
    every key of the config it validated, so that it runs that config and no other.

    Raises:
        ConfigError: a file is missing, unreadable, not valid YAML or not a valid config (naming
            the file and key).
        SweepError: two files have the same name, so they would write the same page.
    """
    configs = {}
    for path in params:
        if path.stem in configs:
            raise SweepError(f"{configs[path.stem][0]} and {path} would both write the page "
                             f"{path.stem}.ipynb: rename one of them")
        config = Config.from_yaml(path)
        if device:
            config = dataclasses.replace(config, device=device)
        configs[path.stem] = (path, config, config.to_dict())
    return configs


def book_of(outdir: Path) -> Path | None:
    """The book ``outdir`` is in (the nearest folder above it with a ``_toc.yml``), if any."""
    for folder in [outdir.resolve(), *outdir.resolve().parents]:
        if (folder / "_toc.yml").is_file():
            return folder
    return None


def at_protocol(configs: dict[str, tuple[Path, Config, dict]], outdir: Path) -> dict[str, tuple[Path, Config, dict]]:
    """The configurations that may write pages into ``outdir``: in a book, only those at the
    report's protocol (:func:`vaecore.report.departures`); the others are named and left out.

    Raises:
        SweepError: none is left.
    """
    book = book_of(outdir)
    off = {name: departures(config.to_dict()) for name, (_, config, _) in configs.items()} if book else {}
    off = {name: words for name, words in off.items() if words}
    for name, words in off.items():
        print(f"left out: {name}, not at the report's protocol ({', '.join(words)}), "
              f"as the book's pages in {outdir} are: sweep it into a folder outside {book}")
    if off and len(off) == len(configs):
        path, _, _ = next(iter(configs.values()))
        which = f"{path} is not" if len(off) == 1 else f"none of the {len(off)} params files is"
        raise SweepError(f"{which} at the report's protocol, as the book's pages in {outdir} are: "
                         f"sweep {'it' if len(off) == 1 else 'them'} into a folder outside {book}")
    return {name: values for name, values in configs.items() if name not in off}


def check_outputs(notebook: Path, outdir: Path, record: Path | None) -> None:
    """Refuse, before anything runs, a missing notebook, an output folder that is a file, and a
    record that cannot be written: a record's folder must exist and take a record's bytes now."""
    if not notebook.is_file():
        raise SweepError(f"the notebook {notebook} is not a file: give the experiment notebook, "
                         f"book/experiment.ipynb of the repository")
    if outdir.exists() and not outdir.is_dir():
        raise SweepError(f"the output folder {outdir} is a file: give a folder for the pages")
    if record is None:
        return
    if record.is_dir() or not record.parent.is_dir():
        what = "is a folder" if record.is_dir() else f"is in a folder that does not exist, {record.parent}"
        raise SweepError(f"the record {record} {what}: give a file in an existing folder")
    try:
        with tempfile.TemporaryFile(dir=record.parent) as file:  # a record's size, on the disk it will take
            file.write(bytes(4096))
            file.flush()
            os.fsync(file.fileno())
    except OSError as error:
        raise SweepError(f"cannot write the record {record} ({error.strerror or error}): "
                         f"free some space, or write it to another folder") from None


@contextmanager
def environ(values: dict[str, str | None]) -> Iterator[None]:
    """``os.environ`` with ``values`` set (``None``: unset) for the block, and as it was after it."""
    before = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            _setenv(key, value)
        yield
    finally:
        for key, value in before.items():
            _setenv(key, value)


def _setenv(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value


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


def execute(name: str, config: Config, values: dict, notebook: Path, outdir: Path,
            environment: dict[str, str | None]) -> dict:
    """A sweep task: run the notebook for one configuration on a Dask worker, with the worker's threads.

    The page is written as ``.<name>.partial.ipynb`` and becomes ``<name>.ipynb`` only when
    complete, after the run's metrics and weights are copied beside it as ``<name>.json`` and
    ``<name>.pt``. A page that
    fails is kept as ``<name>.failed.ipynb``.

    Args:
        environment: for the kernel: ``VAECORE_DATA`` and ``VAECORE_RUNS``, as absolute paths or
            ``None`` (unset) as the sweep had them, and ``VAECORE_SHIPPED``.

    Returns:
        The seconds the notebook took, the threads its kernel had and the worker's machine (with
        its GPU where the run trained on one; shipped weights are evaluated on the CPU).
    """
    threads = get_worker().state.nthreads
    # the kernel is a process started by papermill: it takes its folders and threads from this one's
    # environment, which is the long-lived worker's: set for this task alone
    # (the sweep shows each run's epoch itself, in one line)
    with environ(environment | dict.fromkeys(THREADS, str(threads)) | {"VAECORE_PROGRESS": "off"}):
        result = _execute(name, config, values, notebook, outdir)
    trained = not json.loads((outdir / f"{name}.json").read_text()).get("shipped_weights")
    device = resolve_device(config.device) if trained else "cpu"
    return result | {"threads": threads, "machine": machine(device) | {"threads": threads}}


def _execute(name: str, config: Config, values: dict, notebook: Path, outdir: Path) -> dict:
    page, run = outdir / f"{name}.ipynb", run_dir(config)
    # the run folder needs no lock here: experiment.run holds it while the kernel writes there
    with locked(outdir / f".{name}.lock", page):
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
        publish(partial, run, page)
    return {"seconds": seconds}


def publish(partial: Path, run: Path, page: Path) -> None:
    """Put the executed ``partial`` page in place as ``page``, with its run's metrics and weights
    beside it (``<name>.json``, ``<name>.pt``): the three are replaced together or not at all.

    The copies are written in full first; a failure there (a full disk) leaves the previous
    three as they were and no partial file. The previous page goes before the renames and the
    new one comes last, so a process killed between them leaves no page: :func:`is_stale`.

    Raises:
        SweepError: the copies could not be written.
    """
    copies = {source: page.with_name(f".{page.stem}.partial.{suffix}")
              for source, suffix in (("metrics.json", "json"), ("model.pt", "pt"))}
    try:
        for source, copy in copies.items():
            with open(run / source, "rb") as original, open(copy, "wb") as file:
                shutil.copyfileobj(original, file)
                file.flush()
                os.fsync(file.fileno())  # the renames must not outlive the data on a crash
    except OSError as error:
        for path in (*copies.values(), partial):
            with suppress(OSError):
                path.unlink(missing_ok=True)
        where = f": {error.filename}" if error.filename else ""  # the run's file that was not there
        raise SweepError(f"could not write the page {page.stem} in {page.parent} ({error.strerror or error}{where}); "
                         f"its previous page, metrics and weights are kept: free some space or fix the folder, "
                         f"then run the sweep again") from None
    page.unlink(missing_ok=True)
    for source, copy in copies.items():
        os.replace(copy, page.with_suffix(copy.suffix))
    os.replace(partial, page)


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
        asyncio.run(greet())
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


def lost(scheduler: str | None, configs: dict[str, tuple[Path, Config, dict]], outdir: Path, notebook: Path,
         deserted: float | None = None) -> str:
    """What to say when the scheduler is gone mid-sweep, or has had no worker for ``deserted`` seconds:
    which pages are complete, which not."""
    done = [name for name, (path, _, _) in configs.items() if not is_stale(path, outdir / f"{name}.ipynb", notebook)]
    left = [name for name in configs if name not in done]
    where = f" at {scheduler}" if scheduler else ""
    what = (f"lost the Dask scheduler{where}" if deserted is None
            else f"the Dask scheduler{where} has had no worker for {deserted:g} s")
    return (f"{what} mid-sweep: {', '.join(done) or 'no page'} complete, {', '.join(left)} not; "
            f"restart the scheduler and its workers, then rerun the same command to finish them")


def sweep(params: list[Path], notebook: Path, outdir: Path, workers: int = 1, force: bool = False,
          record: Path | None = None, device: str | None = None, scheduler: str | None = None,
          retrain: bool = False, wait: float = WORKERS_SECONDS) -> list[str]:
    """Execute ``notebook`` for each stale params file, one Dask task each, and gather them as they finish.

    Without ``scheduler`` a local cluster of ``workers`` processes
    runs them, each with ``cores // workers`` threads. A worker that dies has its task
    rescheduled, and the run resumes from its checkpoint. A failing configuration is reported
    by name and does not stop the others; its page is kept as ``<name>.failed.ipynb``.
    Into a book's folder, only configurations at the report's protocol are swept (:func:`at_protocol`).

    Args:
        params: params files, all validated before anything starts; they run longest first
            (by :func:`vaecore.cost.run_cost`), in this order among equals.
        notebook: the parameterized notebook.
        outdir: where ``<name>.ipynb``, ``<name>.json`` and ``<name>.pt`` go.
        workers: worker processes of the local cluster, one configuration at a time each.
        force: execute up-to-date configurations too.
        record: write the sweep's timing here as JSON (wall-clock and per-configuration
            minutes, the cluster, commit, machine, and the matmul floor of the configurations
            that finished); checked before anything starts, written atomically.
        device: ``"cpu"`` or ``"cuda"`` for every configuration, instead of its params file's.
        scheduler: address of a running Dask scheduler (``tcp://host:port``) whose workers
            offer the resource ``notebook``.
        retrain: train configurations without a checkpoint even where the book ships their
            weights (else their pages evaluate those weights).
        wait: seconds to wait for the first worker of ``scheduler``, and for a new one after all have left.

    Returns:
        The names of the configurations that failed.

    Raises:
        SweepError, ConfigError: an argument or params file is refused (before anything runs),
            or the scheduler was lost mid-sweep (naming the pages that are complete).
        OutputError: the output folder cannot be created or written (before anything runs).
        Interrupted: on Ctrl-C, after cancelling what had not finished.
    """
    if workers < 1 or not wait >= 0:
        raise SweepError(f"the sweep needs 1 worker or more and a wait of 0 s or more, got {workers} and {wait:g}")
    if scheduler is not None:
        check_address(scheduler)
    configs = at_protocol(load(params, device), outdir)
    check_outputs(notebook, outdir, record)
    if record is not None:
        resolve_device(device or "cpu")  # the record's floor is measured there, once the sweep is done
    writable(outdir)
    todo = [name for name, (path, _, _) in configs.items()
            if force or is_stale(path, outdir / f"{name}.ipynb", notebook)]
    for skipped in sorted(set(configs) - set(todo)):
        print(f"up to date: {skipped}")
    if not todo:
        return []
    # absolute, as workers and their kernels run elsewhere: in the notebook's folder, or on other machines
    # and every one set, or unset, as here: a worker outlives the task, and its environment is not the sweep's
    environment = {var: str(Path(os.environ[var]).expanduser().resolve()) if os.environ.get(var) else None
                   for var in ("VAECORE_DATA", "VAECORE_RUNS")}
    environment["VAECORE_SHIPPED"] = "off" if retrain else os.environ.get("VAECORE_SHIPPED", "on")
    notebook, outdir = notebook.resolve(), outdir.resolve()
    costs = {name: run_cost(configs[name][1]) for name in todo}
    failed, minutes, machines, raised = [], {}, [], {}
    start = time.perf_counter()
    try:
        with connect(scheduler, workers, wait) as (client, cluster):
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
                    alone_since = None  # since when the scheduler has had no worker
                    while not pending.is_empty():
                        ready = pending.next_batch(block=False)
                        if not ready:  # show where the running configurations are, and look again
                            bar.set_postfix_str(running(futures, configs), refresh=False)
                            if not bar.disable and time.monotonic() - shown >= bar.mininterval:  # logs: every 30 s
                                bar.refresh()
                                shown = time.monotonic()
                            # Dask keeps the tasks of workers that all left until one joins: bound that wait
                            alone_since = None if client.nthreads() else alone_since or time.monotonic()
                            if alone_since and time.monotonic() - alone_since >= wait:
                                raise SweepError(lost(scheduler, configs, outdir, notebook, deserted=wait))
                            time.sleep(2)
                        if any(future.status == "cancelled" for future in ready) or client.status != "running":
                            # only the scheduler cancels our tasks, as it leaves: its workers went with it
                            logging.getLogger("distributed.client").disabled = True  # its reconnection's traceback
                            raise SweepError(lost(scheduler, configs, outdir, notebook))
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
        logging.getLogger("distributed.client").disabled = False
        for name in raised:  # a later run of the same config starts with its own threads again
            (run_dir(configs[name][1]) / "threads").unlink(missing_ok=True)
    wall = (time.perf_counter() - start) / 60
    print(f"sweep of {len(todo)} configurations: {wall:.1f} min on {cluster['scheduler']} with "
          f"{cluster['workers']} worker(s) x {cluster['threads_per_worker']} thread(s)")
    if failed:
        print(f"{len(failed)} of {len(todo)} configurations failed: {', '.join(sorted(failed))}")
    if record is not None:
        timing = {"wall_minutes": wall}
        flops = sum(costs[name] for name in minutes)  # of the configurations that finished, as the wall-clock is
        if flops:
            # the least time the same matmuls take on this machine's cores, measured now they are idle
            ceiling = matmul_gflops(resolve_device(device or "cpu"))
            floor = flops / ceiling / 1e9 / 60
            print(f"matmul floor of the {len(minutes)} configurations that finished: {floor:.1f} min at "
                  f"{ceiling:.0f} GFLOP/s; the sweep took {wall / floor:.2f} times that")
            timing |= {"floor_minutes": floor, "wall_over_floor": wall / floor, "matmul_gflops": ceiling,
                       "flops": flops}
        else:
            print("no configuration finished: the record has no matmul floor")
        timing |= {
            "cluster": cluster["scheduler"], "workers": cluster["workers"],
            "threads_per_worker": cluster["threads_per_worker"],
            "configs": todo, "minutes": minutes, "failed": sorted(failed), "threads_raised": raised,
            # a worker's machine, with its kernels' threads; this one's where none finished
            "commit": commit(), "machine": machines[0] if machines else machine(),
        }
        write_atomically(record, lambda file: file.write(json.dumps(timing, indent=1).encode()))
    return failed
