"""A run page and its run's files on disk: executing one as a sweep task, publishing the three
together, and whether a page is up to date."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import BinaryIO
from pathlib import Path

import papermill
from distributed import get_worker

from vaecore import sources
from vaecore.config import Config
from vaecore.errors import SweepError
from vaecore.experiment import run_dir
from vaecore.provenance import machine
from vaecore.train import resolve_device
from vaecore.weights import sha256

THREADS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class NotebookFailed(RuntimeError):
    """A configuration's notebook raised; the message is the notebook's error."""


def stale(page: Path, config: Config, inputs: dict[str, str]) -> str | None:
    """Why ``page`` must be executed again, in words, or None where it is up to date: it is not
    :func:`complete`, was run with another config (the device too), or was computed from other
    sources than ``inputs`` (:func:`vaecore.sources.changed`)."""
    metrics = _complete(page)
    if metrics is None:
        return "no complete page"
    if metrics.get("config") != config.to_dict():
        return "another config"
    if not metrics.get("sources"):
        return "no record of what it was computed from"
    if changed := sources.changed(metrics["sources"], inputs):
        return f"its {' and '.join(changed)} changed"
    return None


def complete(page: Path) -> bool:
    """Whether ``page`` (``<name>.ipynb``) is there with its run's metrics, ``<name>.json``, readable,
    and weights, ``<name>.pt``, whose SHA-256 is the one those metrics record."""
    return _complete(page) is not None


def _complete(page: Path) -> dict | None:
    """The metrics of ``page`` where it is :func:`complete`, else None."""
    try:
        metrics = json.loads(page.with_suffix(".json").read_text())
        if page.is_file() and sha256(page.with_suffix(".pt")) == metrics["weights_sha256"]:
            return metrics
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def partials(page: Path) -> list[Path]:
    """What a sweep writes beside ``page`` before it publishes it: ``.<name>.partial.{ipynb,json,pt}``."""
    return [page.with_name(f".{page.stem}.partial.{suffix}") for suffix in ("ipynb", "json", "pt")]


def lock_of(page: Path) -> Path:
    """The lock a sweep holds while it executes or publishes ``page``."""
    return page.with_name(f".{page.stem}.lock")


def clear_partials(page: Path) -> None:
    """Remove what an interrupted execution or publication of ``page`` left beside it (:func:`partials`),
    under the page's lock; where another sweep holds it, the partial files are that sweep's and stay."""
    if not any(path.exists() for path in partials(page)):
        return
    with suppress(SweepError), locked(lock_of(page), page):
        for path in partials(page):
            path.unlink(missing_ok=True)


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


def execute(name: str, config: Config, parameters: dict, notebook: Path, outdir: Path,
            environment: dict[str, str | None], inputs: dict[str, str]) -> dict:
    """A sweep task: run the notebook for one configuration on a Dask worker, with the worker's threads.

    The page is written as ``.<name>.partial.ipynb`` and becomes ``<name>.ipynb`` only when
    complete, after the run's metrics and weights are copied beside it as ``<name>.json`` and
    ``<name>.pt``. A page that
    fails is kept as ``<name>.failed.ipynb``.

    Args:
        parameters: the notebook's (:mod:`vaecore.parameters`): the params file and any key it overrides.
        inputs: what the page is computed from (:func:`vaecore.sources.sources`), recorded in its metrics.
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
        result = _execute(name, config, parameters, notebook, outdir, inputs)
    trained = not json.loads((outdir / f"{name}.json").read_text()).get("shipped_weights")
    device = resolve_device(config.device) if trained else "cpu"
    return result | {"threads": threads, "machine": machine(device) | {"threads": threads}}


def _execute(name: str, config: Config, parameters: dict, notebook: Path, outdir: Path, inputs: dict[str, str]) -> dict:
    page, run = outdir / f"{name}.ipynb", run_dir(config)
    # the run folder needs no lock here: experiment.run holds it while the kernel writes there
    with locked(lock_of(page), page):
        for path in partials(page):  # of an attempt killed before it published (its worker died)
            path.unlink(missing_ok=True)
        partial, failed = partials(page)[0], outdir / f"{name}.failed.ipynb"
        start = time.perf_counter()
        try:
            papermill.execute_notebook(str(notebook), str(partial), parameters=parameters,
                                       progress_bar=False, cwd=str(notebook.parent))
        except Exception as error:
            # papermill saves the page up to the error: keep it for reading, never as an up-to-date page
            if partial.exists():
                os.replace(partial, failed)
            kind = getattr(error, "ename", type(error).__name__)  # papermill's, else Python's
            raise NotebookFailed(f"{kind}: {getattr(error, 'evalue', error)}") from None
        seconds = time.perf_counter() - start
        failed.unlink(missing_ok=True)
        publish(partial, run, page, inputs)
    return {"seconds": seconds}


def _write_durably(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write ``path`` by calling ``write`` on it open, and have it on the disk before returning: the
    renames that publish it must not outlive the data on a crash."""
    with open(path, "wb") as file:
        write(file)
        file.flush()
        os.fsync(file.fileno())


def publish(partial: Path, run: Path, page: Path, inputs: dict[str, str] | None = None) -> None:
    """Put the executed ``partial`` page in place as ``page``, with its run's metrics and weights
    beside it (``<name>.json``, ``<name>.pt``): the three are replaced together or not at all.
    The metrics record ``inputs``, what the page was computed from, as ``sources``.

    The copies are written in full first; a failure there (a full disk) leaves the previous
    three as they were and no partial file. The previous page goes before the renames and the
    new one comes last, so a process killed between them leaves no page: :func:`stale`.

    Raises:
        SweepError: the copies could not be written.
    """
    copies = partials(page)[1:]  # the metrics' and the weights'
    try:
        metrics = json.loads((run / "metrics.json").read_text()) | {"sources": inputs or {}}
        _write_durably(copies[0], lambda file: file.write(json.dumps(metrics, indent=1).encode()))
        with open(run / "model.pt", "rb") as weights:
            _write_durably(copies[1], lambda file: shutil.copyfileobj(weights, file))
    except OSError as error:
        for path in (*copies, partial):
            with suppress(OSError):
                path.unlink(missing_ok=True)
        where = f": {error.filename}" if error.filename else ""  # the run's file that was not there
        raise SweepError(f"could not write the page {page.stem} in {page.parent} ({error.strerror or error}{where}); "
                         f"its previous page, metrics and weights are kept: free some space or fix the folder, "
                         f"then run the sweep again") from None
    page.unlink(missing_ok=True)
    for copy in copies:
        os.replace(copy, page.with_suffix(copy.suffix))
    os.replace(partial, page)
