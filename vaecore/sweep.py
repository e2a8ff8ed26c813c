"""Execute the experiment notebook with papermill once per params file."""

from __future__ import annotations

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


def is_stale(params: Path, executed: Path, notebook: Path) -> bool:
    """True unless ``executed`` is newer than the params file, the notebook and the package."""
    if not executed.exists():
        return True
    sources = [params, notebook, *Path(vaecore.__file__).parent.glob("*.py")]
    return executed.stat().st_mtime < max(source.stat().st_mtime for source in sources)


def execute(params: Path, notebook: Path, outdir: Path) -> float:
    """Run the notebook for one params file; copy the run's metrics beside it.

    Returns:
        The wall-clock seconds the execution took.
    """
    config = Config.from_yaml(params)  # fail here, by name, before a kernel starts
    start = time.perf_counter()
    papermill.execute_notebook(
        str(notebook.resolve()), str((outdir / f"{params.stem}.ipynb").resolve()),
        parameters=yaml.safe_load(params.read_text()),
        progress_bar=False, cwd=str(notebook.parent.resolve()),
    )
    shutil.copyfile(run_dir(config) / "metrics.json", outdir / f"{params.stem}.json")
    return time.perf_counter() - start


def sweep(params: list[Path], notebook: Path, outdir: Path, workers: int = 1, force: bool = False) -> list[str]:
    """Execute ``notebook`` for each stale params file, ``workers`` at a time.

    Each worker's kernel gets ``cores // workers`` threads. A failing configuration is
    reported by name and does not stop the others.

    Args:
        params: params files.
        notebook: the parameterized notebook.
        outdir: where ``<name>.ipynb`` and ``<name>.json`` go.
        workers: configurations executed at once.
        force: execute up-to-date configurations too.

    Returns:
        The names of the configurations that failed.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    todo = [p for p in params if force or is_stale(p, outdir / f"{p.stem}.ipynb", notebook)]
    for skipped in sorted(set(params) - set(todo)):
        print(f"up to date: {skipped.stem}")
    # kernels inherit the environment: split the cores between the workers
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
    failed = []
    # processes, not threads: papermill changes the working directory while it executes
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(execute, p, notebook, outdir): p.stem for p in todo}
        with tqdm(total=len(futures), desc="sweep", unit="config") as bar:
            for future in as_completed(futures):
                name = futures[future]
                try:
                    bar.write(f"done: {name} in {future.result() / 60:.1f} min")
                except Exception as error:  # report every failure, finish the rest
                    failed.append(name)
                    kind = getattr(error, "ename", type(error).__name__)  # papermill's, else Python's
                    bar.write(f"FAILED: {name}: {kind}: {getattr(error, 'evalue', error)}")
                bar.update()
    if failed:
        print(f"{len(failed)} of {len(todo)} configurations failed: {', '.join(sorted(failed))}")
    return failed
