"""A sweep: which pages of which params files to execute, in what order, on which cluster, and
gathering them as they finish, with progress, failures by name and a timing record."""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
import uuid
from pathlib import Path

import torch
from distributed import Client, as_completed

from vaecore import sources
from vaecore.cluster import RESOURCE, WORKERS_SECONDS, check_address, open_cluster
from vaecore.checks import (Configs, at_protocol, book_of, check_device, check_gpu, check_outputs, check_seeds, load,
                            must_train)
from vaecore.cost import run_cost
from vaecore.errors import SweepError
from vaecore.experiment import run_dir
from vaecore.folder import writable, write_atomically
from vaecore.pages import NotebookFailed, clear_partials, execute, stale
from vaecore.progress import mode, progress_bar, read_epoch
from vaecore.provenance import machine
from vaecore.record import write_record
from vaecore.train import resolve_device

__all__ = ["SweepError", "Interrupted", "sweep"]


class Interrupted(Exception):
    """The sweep was stopped (Ctrl-C) before these configurations finished."""

    def __init__(self, unfinished: list[str], local: bool):
        super().__init__(", ".join(unfinished))
        self.unfinished, self.local = unfinished, local


def share_idle_cores(futures: dict, configs: Configs, threads: int) -> dict[str, int]:
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


def running(futures: dict, configs: Configs) -> str:
    """Where each running configuration is, as its run folder tells: "n64-beta1 120/300 (test 100.12)"."""
    shown = []
    for future, name in futures.items():
        if future.status == "pending" and (epoch := read_epoch(run_dir(configs[name][1]))):
            shown.append(f"{name} {epoch['epoch']}/{epoch['epochs']} (test {epoch['test']:.2f})")
    return ", ".join(shown)


def unfinished(plan: Plan) -> list[str]:
    """The configurations of ``plan`` whose pages are still stale (:func:`vaecore.pages.stale`)."""
    return [name for name in plan.todo if stale(plan.outdir / f"{name}.ipynb", plan.configs[name][1], plan.inputs[name])]


def lost(scheduler: str | None, plan: Plan, deserted: float | None = None) -> str:
    """What to say when the scheduler is gone mid-sweep, or has had no worker for ``deserted`` seconds:
    which pages are complete, which not."""
    left = unfinished(plan)
    done = [name for name in plan.todo if name not in left]
    where = f" at {scheduler}" if scheduler else ""
    what = (f"lost the Dask scheduler{where}" if deserted is None
            else f"the Dask scheduler{where} has had no worker for {deserted:g} s")
    if not left:  # its workers finished every page before it went
        return (f"{what} mid-sweep, after its workers finished every page: {', '.join(done)} complete; "
                f"restart the scheduler and its workers before the next sweep")
    return (f"{what} mid-sweep: {', '.join(done) or 'no page'} complete, {', '.join(left)} not; "
            f"restart the scheduler and its workers, then rerun the same command to finish them")


def _lost(scheduler: str | None, plan: Plan, deserted: float | None = None) -> SweepError:
    """The error of a scheduler gone mid-sweep (:func:`lost`), its client's reconnection kept quiet."""
    logging.getLogger("distributed.client").disabled = True  # its reconnection's traceback
    return SweepError(lost(scheduler, plan, deserted))


@dataclasses.dataclass
class Plan:
    """What a sweep executes: every configuration it was given, the stale ones to do (longest
    first), those of them that train on the GPU, what each page is computed from, and the kernels' environment."""

    configs: Configs
    todo: list[str]
    gpu: list[str]
    inputs: dict[str, dict[str, str]]
    costs: dict[str, int]
    notebook: Path
    outdir: Path
    environment: dict[str, str | None]


@dataclasses.dataclass
class Gathered:
    """What came back from the cluster: minutes by finished configuration, the failed ones, the
    workers' machines and the configurations given idle cores."""

    minutes: dict[str, float] = dataclasses.field(default_factory=dict)
    failed: list[str] = dataclasses.field(default_factory=list)
    machines: list[dict] = dataclasses.field(default_factory=list)
    raised: dict[str, int] = dataclasses.field(default_factory=dict)


def plan(params: list[Path], notebook: Path, outdir: Path, force: bool = False, device: str | None = None,
         retrain: bool = False) -> Plan:
    """Check everything before anything starts, and choose the pages to execute: the stale ones
    (:func:`vaecore.pages.stale`), or all with ``force``; the up-to-date ones are named."""
    configs = at_protocol(load(params, device), outdir)
    check_device(configs, outdir)
    check_seeds(configs, outdir)
    shared = sources.program(notebook)  # the same for every page: the notebook and the code it runs
    inputs = {name: sources.sources(path, notebook, shared) for name, (path, _, _) in configs.items()}
    todo, fresh = [], []
    for name, (_, config, _) in configs.items():
        why = stale(outdir / f"{name}.ipynb", config, inputs[name])
        (todo if force or why else fresh).append(name)
        if why and why != "no complete page":
            print(f"stale: {name}: {why}")
    if fresh:
        print(f"up to date: {len(fresh)} of {len(configs)} pages" + (f" ({', '.join(sorted(fresh))})" if len(fresh) <= 8 else ""))
    costs = {name: run_cost(configs[name][1]) for name in todo}
    # absolute, as workers and their kernels run elsewhere: in the notebook's folder, or on other machines
    # and every one set, or unset, as here: a worker outlives the task, and its environment is not the sweep's
    environment = {var: str(Path(os.environ[var]).expanduser().resolve()) if os.environ.get(var) else None
                   for var in ("VAECORE_DATA", "VAECORE_RUNS")}
    environment["VAECORE_SHIPPED"] = "off" if retrain else os.environ.get("VAECORE_SHIPPED", "on")
    # longest first, in the given order among equals: the shortest start last, so the workers end together
    todo = sorted(todo, key=lambda name: -costs[name])
    shipped = environment["VAECORE_SHIPPED"] != "off"
    gpu = [name for name in todo if configs[name][1].device == "cuda" and must_train(configs[name][1], shipped)]
    return Plan(configs, todo, gpu, inputs, costs, notebook.resolve(), outdir.resolve(), environment)


def gather(client: Client, cluster: dict, plan: Plan, scheduler: str | None, wait: float) -> Gathered:
    """Submit the plan's configurations, one per free worker, and gather them as they finish,
    showing where the running ones are.

    Raises:
        SweepError: the scheduler was lost, or had no worker for ``wait`` seconds.
        KeyboardInterrupt: after cancelling what had not finished.
    """
    order, futures, result = plan.todo[::-1], {}, Gathered()  # popped from the end
    pending = as_completed()

    def submit_next() -> None:
        # one task per free worker, submitted when it frees: Dask would otherwise place every task
        # at once, and never move one whose duration it cannot estimate to an idle worker
        name = order.pop()
        _, config, parameters = plan.configs[name]
        future = client.submit(execute, name, config, parameters, plan.notebook, plan.outdir, plan.environment,
                               plan.inputs[name], key=f"{name}-{uuid.uuid4().hex[:8]}", resources={RESOURCE: 1})
        futures[future] = name
        pending.add(future)

    try:
        for _ in range(min(max(1, cluster["workers"]), len(order))):  # the first waits for a worker to join
            submit_next()
        with progress_bar(total=len(plan.todo), desc="sweep", unit="config") as bar:
            watch = _Watch(client, wait)
            while not pending.is_empty():
                ready = pending.next_batch(block=False)
                if not ready:
                    _show(bar, futures, plan.configs)
                    if hasattr(client.cluster, "check"):  # a vaecore.slurm.Cluster: did Slurm end a job?
                        client.cluster.check({future.key: name for future, name in futures.items()
                                              if future.status == "pending"})
                    try:
                        deserted = watch.deserted()
                    except OSError:  # the scheduler closed its connection (CommClosedError) as it went
                        raise _lost(scheduler, plan) from None
                    if deserted:
                        raise _lost(scheduler, plan, deserted=wait)
                    time.sleep(2)
                if any(future.status == "cancelled" for future in ready) or client.status != "running":
                    # only the scheduler cancels our tasks, as it leaves: its workers went with it
                    raise _lost(scheduler, plan)
                for future in ready:
                    try:
                        _report(bar, futures[future], future, result)
                    except OSError:  # gone before its result came back (CommClosedError)
                        raise _lost(scheduler, plan) from None
                    if order:
                        submit_next()
                if ready and cluster["scheduler"] == "local":
                    result.raised |= share_idle_cores(futures, plan.configs, cluster["threads_per_worker"])
    except KeyboardInterrupt:
        client.cancel(list(futures))  # nothing queued starts; a local cluster's workers stop with it
        raise
    return result


class _Watch:
    """Since when the scheduler has had no worker: Dask keeps the tasks of workers that all left
    until one joins, so the sweep bounds that wait."""

    def __init__(self, client: Client, wait: float):
        self.client, self.wait, self.since = client, wait, None

    def deserted(self) -> bool:
        self.since = None if self.client.nthreads() else self.since or time.monotonic()
        return bool(self.since) and time.monotonic() - self.since >= self.wait


def _show(bar, futures: dict, configs: Configs) -> None:
    """Where the running configurations are, on the bar (in logs: every 30 s)."""
    bar.set_postfix_str(running(futures, configs), refresh=False)
    if not bar.disable and time.monotonic() - bar.last_print_t >= bar.mininterval:
        bar.refresh()


def _report(bar, name: str, future, result: Gathered) -> None:
    """A finished task: its minutes and machine, or its failure by name."""
    if future.status == "finished":
        done = future.result()
        result.minutes[name] = done["seconds"] / 60
        result.machines.append(done["machine"])
        bar.write(f"done: {name} in {result.minutes[name]:.1f} min")
    else:  # an error in the notebook, a refusal, or a task whose workers kept dying
        result.failed.append(name)
        error = future.exception()
        kind = "" if isinstance(error, (NotebookFailed, SweepError)) else f"{type(error).__name__}: "
        bar.write(f"FAILED: {name}: {kind}{error}")
    bar.update()


def prepare(params: list[Path], notebook: Path, outdir: Path, workers: int, force: bool, record: Path | None,
            device: str | None, scheduler: str | None, retrain: bool, wait: float, slurm: bool) -> Plan:
    """Everything a sweep refuses, refused before anything starts (:func:`sweep`'s arguments), and its plan."""
    if workers < 1 or not 0 < wait < math.inf:  # Dask reads a timeout of 0 as none: an endless wait
        raise SweepError(f"the sweep needs 1 worker or more and a wait of more than 0 s that ends, "
                         f"got {workers} and {wait:g}")
    mode(None)  # a $VAECORE_PROGRESS it does not know, named now rather than once the cluster runs
    if scheduler is not None:
        check_address(scheduler)
    check_outputs(notebook, outdir, record)
    if record is not None:
        resolve_device(device or "cpu")  # the record's floor is measured there, once the sweep is done
    todo = plan(params, notebook, outdir, force, device, retrain)
    if scheduler is None and not slurm:  # the local cluster's workers have this machine's GPU, if any
        check_gpu(todo.configs, todo.gpu, None, torch.cuda.is_available())
    writable(outdir)
    for name in todo.configs:  # what a sweep killed mid-publication left; an up-to-date page keeps none
        if name not in todo.todo:
            clear_partials(todo.outdir / f"{name}.ipynb")
    return todo


def finish(todo: Plan, cluster: dict, result: Gathered, wall: float, record: Path | None, device: str | None) -> None:
    """Say what the sweep did in ``wall`` minutes, write its ``record``, and whether the book's explorer lags."""
    print(f"sweep of {len(todo.todo)} configurations: {wall:.1f} min on {cluster['scheduler']} with "
          f"{cluster['workers']} worker(s) x {cluster['threads_per_worker']} thread(s)")
    if result.failed:
        print(f"{len(result.failed)} of {len(todo.todo)} configurations failed: {', '.join(sorted(result.failed))}")
    if record is not None:
        write_record(record, {
            "wall_minutes": wall, "cluster": cluster["scheduler"], "workers": cluster["workers"],
            "threads_per_worker": cluster["threads_per_worker"], "minutes": result.minutes,
            "configs": [name for name in todo.configs if name in todo.todo],  # as given
            "failed": sorted(result.failed), "threads_raised": result.raised,
            # a worker's machine, with its kernels' threads; this one's where none finished
            "machine": result.machines[0] if result.machines else machine(),
        }, flops=sum(todo.costs[name] for name in result.minutes), device=device)
    if result.minutes and book_of(todo.outdir) is not None:
        _check_explorer()


def sweep(params: list[Path], notebook: Path, outdir: Path, workers: int = 1, force: bool = False,
          record: Path | None = None, device: str | None = None, scheduler: str | None = None,
          retrain: bool = False, wait: float = WORKERS_SECONDS, slurm: dict | None = None) -> list[str]:
    """Execute ``notebook`` for each stale params file, one Dask task each, and gather them as they finish.

    Without ``scheduler`` a local cluster of ``workers`` processes runs them, each with
    ``cores // workers`` threads. A worker that dies has its task rescheduled, and the run resumes
    from its checkpoint. A failing configuration is reported by name and does not stop the others;
    its page is kept as ``<name>.failed.ipynb``. Into a book's folder, only configurations at the
    report's protocol and of the folder's device are swept (:func:`at_protocol`, :func:`check_device`).

    Args:
        params: params files, all validated before anything starts; they run longest first
            (by :func:`vaecore.cost.run_cost`), in this order among equals.
        notebook: the parameterized notebook.
        outdir: where ``<name>.ipynb``, ``<name>.json`` and ``<name>.pt`` go.
        workers: worker processes of the local cluster, one configuration at a time each.
        force: execute up-to-date configurations too.
        record: write the sweep's timing here as JSON (:func:`vaecore.record.write_record`); checked before anything starts.
        device: ``"cpu"`` or ``"cuda"`` for every configuration, instead of its params file's.
        scheduler: address of a running Dask scheduler (``tcp://host:port``) whose workers
            offer the resource ``notebook``.
        retrain: train configurations without a checkpoint even where the book ships their
            weights (else their pages evaluate those weights).
        wait: seconds to wait for the first worker of ``scheduler`` or Slurm job, and for a new one after all have left.
        slurm: run on Slurm jobs instead (:func:`vaecore.slurm.cluster`), at most ``max_jobs`` of them,
            with ``partition`` and ``walltime`` where given (else dask-jobqueue's configuration).

    Returns:
        The names of the configurations that failed.

    Raises:
        SweepError, ConfigError: an argument or params file is refused (before anything runs),
            or the scheduler was lost mid-sweep (naming the pages that are complete).
        OutputError: the output folder cannot be created or written (before anything runs).
        Interrupted: on Ctrl-C, after cancelling what had not finished.
    """
    todo = prepare(params, notebook, outdir, workers, force, record, device, scheduler, retrain, wait, slurm is not None)
    if not todo.todo:
        return []
    start = time.perf_counter()
    try:
        with open_cluster(scheduler, workers, wait, slurm, len(todo.todo), device) as (client, cluster):
            if cluster["scheduler"] != "local" and todo.gpu:  # Slurm's jobs or a scheduler's workers
                workers_are = f"the Dask scheduler at {scheduler}" if scheduler else "the sweep's Slurm jobs"
                check_gpu(todo.configs, todo.gpu, workers_are, any(client.run(torch.cuda.is_available).values()))
            if "dashboard" in client.scheduler_info()["services"]:
                print(f"dashboard: {client.dashboard_link}")
            result = gather(client, cluster, todo, scheduler, wait)
    except KeyboardInterrupt:
        raise Interrupted(unfinished(todo), local=scheduler is None) from None
    finally:
        logging.getLogger("distributed.client").disabled = False
        for name in todo.todo:  # a later run of the same config starts with its own threads again
            (run_dir(todo.configs[name][1]) / "threads").unlink(missing_ok=True)
    finish(todo, cluster, result, (time.perf_counter() - start) / 60, record, device)
    return result.failed


def _check_explorer() -> None:
    """Say so where the pages just published leave the book's explorer behind its weights (the book's
    build refuses it until it is refreshed)."""
    from vaecore import explorer  # the book's, loaded only where a sweep published into it

    if names := explorer.stale():
        print(f"vaecore: note: {explorer.advice(names)}")
