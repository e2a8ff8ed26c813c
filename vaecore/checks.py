"""What a sweep refuses before anything starts: its params files, what a book's folder takes (the
report's protocol, one device, one run per seed of a configuration), and its outputs."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

from vaecore.config import Config, params_dir
from vaecore.errors import SweepError
from vaecore.experiment import run_dir
from vaecore.original import departures
from vaecore.runs import published, read_metrics
from vaecore.weights import find

Configs = dict[str, tuple[Path, Config, dict]]  # name -> (params file, config, notebook parameters)


def load(params: list[Path], device: str | None) -> Configs:
    """Validate every params file before anything starts: name -> (file, config, notebook parameters).

    Each is read as ``vaecore train`` reads it (:meth:`Config.from_yaml`); the notebook is given the
    file itself (:mod:`vaecore.parameters`), and ``device`` where it overrides the file's.

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
        parameters = {"params": _repository_path(path)}
        if device:
            config = dataclasses.replace(config, device=device)
            parameters["device"] = device
        configs[path.stem] = (path, config, parameters)
    return configs


def book_of(outdir: Path) -> Path | None:
    """The book ``outdir`` is in (the nearest folder above it with a ``_toc.yml``), if any."""
    for folder in [outdir.resolve(), *outdir.resolve().parents]:
        if (folder / "_toc.yml").is_file():
            return folder
    return None


def at_protocol(configs: Configs, outdir: Path) -> Configs:
    """The configurations that may write pages into ``outdir``: in a book, only those at the
    report's protocol (:func:`vaecore.original.departures`); the others are named and left out.

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
        which = (f"{path} is not at the report's protocol ({', '.join(next(iter(off.values())))})" if len(off) == 1
                 else f"none of the {len(off)} params files is at the report's protocol")
        raise SweepError(f"{which}, as the book's pages in {outdir} are: "
                         f"sweep {'it' if len(off) == 1 else 'them'} into a folder outside {book}")
    return {name: values for name, values in configs.items() if name not in off}


def check_device(configs: Configs, outdir: Path) -> None:
    """Refuse to sweep into a book's folder runs of another device than those it holds: a book
    folder's runs are of one device (``book/experiments`` the CPU's, ``book/experiments-gpu`` the GPU's)."""
    if book_of(outdir) is None or not outdir.is_dir():
        return
    held = {read_metrics(path)["config"]["device"] for path in published(outdir).values()}
    for name, (path, config, _) in configs.items():
        if held and config.device not in held:
            raise SweepError(f"{outdir} holds {'/'.join(sorted(held))} runs, and {path} would put a {config.device} run "
                             f"there: sweep it into the folder of its device (--outdir), or give --device "
                             f"{'/'.join(sorted(held))}")


def check_seeds(configs: Configs, outdir: Path) -> None:
    """Refuse a params file that would add a second run of one seed of a configuration to a book's
    folder, under another name than the run that is there: naming both files."""
    if book_of(outdir) is None:
        return
    runs = {name: read_metrics(path)["config"] for name, path in published(outdir).items()}
    runs |= {name: config.to_dict() for name, (_, config, _) in configs.items()}
    seen: dict[tuple, str] = {}
    for name, config in runs.items():
        if departures(config):
            continue
        slot = (config["n"], float(config["beta"]), config["seed"])
        if slot in seen:
            first = configs[seen[slot]][0] if seen[slot] in configs else outdir / f"{seen[slot]}.json"
            second = configs[name][0] if name in configs else outdir / f"{name}.json"
            raise SweepError(f"{first} and {second} are both seed {slot[2]} of n = {slot[0]}, β = {slot[1]:g} in "
                             f"{outdir}: a configuration has one run per seed there; remove or rename one of them")
        seen[slot] = name


def must_train(config: Config, shipped: bool) -> bool:
    """Whether a page of ``config`` trains, as :func:`vaecore.experiment.run` decides: where shipped
    weights may not stand in (``shipped`` false), its run folder holds a checkpoint, or the book
    ships no weights of it; else it evaluates shipped weights, on the CPU."""
    return not shipped or (run_dir(config) / "checkpoint.pt").exists() or find(config) is None


def check_gpu(configs: Configs, training: list[str], workers: str | None, gpu: bool) -> None:
    """Refuse, before any of them runs, the configurations ``training`` on the GPU where ``gpu`` is
    false: this machine has none (``workers`` None: the local cluster's workers are its processes),
    or none of ``workers`` (e.g. "the Dask scheduler at tcp://…") has one."""
    if not training or gpu:
        return
    files = [str(configs[name][0]) for name in training]
    named = files[0] if len(files) == 1 else f"{files[0]} and {len(files) - 1} more"
    where = f"no worker of {workers} sees a GPU" if workers else "torch sees no GPU here"
    raise SweepError(f"{named} trains on the GPU (no shipped weights are evaluated in its stead), but "
                     f"{where}: sweep it where one is, or with --device cpu into a CPU run's folder")


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


def _repository_path(path: Path) -> str:
    """A params file as the notebook is given it: relative to the repository's root where it is
    inside, so that a page reruns from any clone; else absolute."""
    root = params_dir().parent
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path.resolve())
