"""Execute the experiment notebook with papermill once per params file."""

from __future__ import annotations

import json
import os
import shutil
import time
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import papermill
import yaml
from tqdm import tqdm

import vaecore
from vaecore.config import Config
from vaecore.experiment import run_dir
from vaecore.provenance import commit, machine
from vaecore.train import resolve_device


def is_stale(params: Path, executed: Path, notebook: Path) -> bool:
    """True unless ``executed`` is newer than the params file, the notebook and the package."""
    if not executed.exists():
        return True
    sources = [params, notebook, *Path(vaecore.__file__).parent.glob("*.py")]
    return executed.stat().st_mtime < max(source.stat().st_mtime for source in sources)


def execute(params: Path, notebook: Path, outdir: Path, device: str | None = None) -> float:
    """Run the notebook for one params file (on ``device``, if given); copy the run's metrics and weights beside it.

    Returns:
        The wall-clock seconds the execution took.
    """
    config = Config.from_yaml(params)  # fail here, by name, before a kernel starts
    values = yaml.safe_load(params.read_text()) | ({"device": device} if device else {})
    page, failed = outdir / f"{params.stem}.ipynb", outdir / f"{params.stem}.failed.ipynb"
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebook.resolve()), str(page.resolve()), parameters=values,
            progress_bar=False, cwd=str(notebook.parent.resolve()),
        )
    except BaseException:
        # papermill saves the page up to the error: keep it for reading, never as an up-to-date page
        if page.exists():
            os.replace(page, failed)
        raise
    failed.unlink(missing_ok=True)
    for source, copy in (("metrics.json", f"{params.stem}.json"), ("model.pt", f"{params.stem}.pt")):
        shutil.copyfile(run_dir(config) / source, outdir / copy)
    return time.perf_counter() - start


def sweep(params: list[Path], notebook: Path, outdir: Path, workers: int = 1, force: bool = False,
          record: Path | None = None, device: str | None = None) -> list[str]:
    """Execute ``notebook`` for each stale params file, ``workers`` at a time.

    Each worker's kernel gets ``cores // workers`` threads. A failing configuration is
    reported by name and does not stop the others; its page is kept as ``<name>.failed.ipynb``.

    Args:
        params: params files, started in this order.
        notebook: the parameterized notebook.
        outdir: where ``<name>.ipynb`` and ``<name>.json`` go.
        workers: configurations executed at once.
        force: execute up-to-date configurations too.
        record: write the sweep's timing here as JSON (wall-clock and per-configuration
            minutes, workers, threads, commit, machine).
        device: ``"cpu"`` or ``"cuda"`` for every configuration, instead of its params file's.

    Returns:
        The names of the configurations that failed.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    todo = [p for p in params if force or is_stale(p, outdir / f"{p.stem}.ipynb", notebook)]
    for skipped in sorted(set(params) - set(todo)):
        print(f"up to date: {skipped.stem}")
    # kernels inherit the environment: split the cores between the workers, and pin relative
    # data and runs folders to this directory, as kernels run in the notebook's folder
    threads = max(1, (os.cpu_count() or 1) // workers)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    for folder in ("VAECORE_DATA", "VAECORE_RUNS"):
        if os.environ.get(folder):
            os.environ[folder] = str(Path(os.environ[folder]).expanduser().resolve())
    failed, minutes = [], {}
    start = time.perf_counter()
    # processes, not threads: papermill changes the working directory while it executes
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(execute, p, notebook, outdir, device): p.stem for p in todo}
        with tqdm(total=len(futures), desc="sweep", unit="config") as bar:
            for future in as_completed(futures):
                name = futures[future]
                try:
                    minutes[name] = future.result() / 60
                    bar.write(f"done: {name} in {minutes[name]:.1f} min")
                except Exception as error:  # report every failure, finish the rest
                    failed.append(name)
                    kind = getattr(error, "ename", type(error).__name__)  # papermill's, else Python's
                    bar.write(f"FAILED: {name}: {kind}: {getattr(error, 'evalue', error)}")
                bar.update()
    wall = (time.perf_counter() - start) / 60
    print(f"sweep of {len(todo)} configurations: {wall:.1f} min with {workers} worker(s) x {threads} thread(s)")
    if failed:
        print(f"{len(failed)} of {len(todo)} configurations failed: {', '.join(sorted(failed))}")
    if record is not None:
        used = device or ("cuda" if any(Config.from_yaml(p).device == "cuda" for p in todo) else "cpu")
        record.write_text(json.dumps({
            "wall_minutes": wall, "workers": workers, "threads_per_worker": threads,
            "configs": [p.stem for p in todo], "minutes": minutes, "failed": sorted(failed),
            # the workers' threads, not this process's
            "commit": commit(), "machine": machine(resolve_device(used)) | {"threads": threads},
        }, indent=1))
    return failed
