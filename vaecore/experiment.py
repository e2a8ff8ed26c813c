"""One run end to end: data, training (resumed), evaluation and its ``metrics.json``."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import torch

from vaecore import weights
from vaecore.config import Config
from vaecore.data import Split, load
from vaecore.errors import VaecoreError
from vaecore.evaluate import draw_spread, elbo, iwae_nll, latent_usage
from vaecore.folder import locked, write_atomically
from vaecore.memory import check_fits
from vaecore.model import VAE
from vaecore.progress import tell
from vaecore.provenance import commit, machine
from vaecore.train import resolve_device, train


class NotFinite(VaecoreError):
    """A run's figure of merit is NaN or infinite: there is no number to publish."""


class Run(NamedTuple):
    """What :func:`run` returns: the trained model, its history and metrics, and the test set."""

    model: VAE
    history: dict[str, list]
    metrics: dict
    test_set: Split


def runs_dir() -> Path:
    """Where runs keep checkpoints: ``$VAECORE_RUNS``, else ``~/.cache/vaecore/runs``."""
    return Path(os.environ.get("VAECORE_RUNS") or Path.home() / ".cache" / "vaecore" / "runs").expanduser()


def shipped_weights_used() -> bool:
    """Whether a run without a checkpoint evaluates the book's weights for its config rather than
    training: yes unless ``$VAECORE_SHIPPED`` is ``off`` (``vaecore sweep --retrain`` sets it)."""
    return os.environ.get("VAECORE_SHIPPED", "on") != "off"


def run_dir(config: Config) -> Path:
    """A config's own folder under :func:`runs_dir`, named for it, its fingerprint, its epochs and its device.

    The fingerprint leaves the epochs and the device out (a run can be continued to more epochs),
    but a folder holds one run's result: configs of 10 and 300 epochs, or a CPU's and a GPU's run of
    one config sharing ``$VAECORE_RUNS``, get folders of their own.
    """
    name = (f"{config.dataset}-n{config.n}-beta{config.beta:g}-seed{config.seed}-{config.fingerprint()}"
            f"-e{config.epochs}-{config.device}")
    return runs_dir() / name


def run(config: Config, out_dir: str | Path | None = None, data_root: str | Path | None = None,
        progress: bool = True, shipped: bool = True) -> Run:
    """Train ``config`` (resuming a checkpoint in ``out_dir``), evaluate it, write metrics.json.

    Where ``out_dir`` holds no checkpoint but the book ships a model trained as ``config``
    (:func:`vaecore.weights.find`), that model is evaluated instead of training a new one,
    unless ``shipped`` or :func:`shipped_weights_used` says no; the terminal is told so.
    Shipped weights are evaluated on the CPU, whatever device trained them, so that any machine
    repeats their numbers: the sampled terms draw the same random numbers on every CPU.
    The IWAE estimate is the slow part of evaluation; one in a ``metrics.json`` already in
    ``out_dir`` for the same config and history is reused. Before any work, the config must
    be runnable here (:func:`check_runnable`) and ``out_dir`` is locked, which also checks
    that it can be written (:func:`vaecore.folder.locked`).

    Args:
        config: the experiment.
        out_dir: folder for ``checkpoint.pt``, ``model.pt`` and ``metrics.json`` (default: :func:`run_dir`).
        data_root: data folder (default: ``$VAECORE_DATA``, see :func:`vaecore.data.data_root`).
        progress: show progress bars.
        shipped: whether shipped weights may stand in for training (``vaecore train`` says no).

    Returns:
        The model, its history, the metrics and the test set it was evaluated on.

    Raises:
        NotFinite: a figure of merit is NaN or infinite; nothing is written to ``metrics.json``.
    """
    out_dir = Path(out_dir) if out_dir is not None else run_dir(config)
    shipped = shipped and shipped_weights_used() and not (out_dir / "checkpoint.pt").exists()
    source = weights.find(config) if shipped else None
    check_runnable(config, training=source is None)
    with locked(out_dir):
        return _run(config, out_dir, data_root, progress, source)


def check_runnable(config: Config, training: bool = True) -> None:
    """Refuse at once a config this machine cannot run: it cannot fit in memory
    (:func:`vaecore.memory.check_fits`), or it is to be trained and its device is missing
    (:func:`vaecore.train.resolve_device`); shipped weights are evaluated on the CPU."""
    if training:
        resolve_device(config.device)
    check_fits(config)


def _run(config: Config, out_dir: Path, data_root: str | Path | None, progress: bool, source: str | None) -> Run:
    threads = torch.get_num_threads()  # the run's own: a sweep may raise it for the last epochs
    test_set = load(config.dataset, train=False, root=data_root, size=config.test_size)
    if source is None:
        train_set = load(config.dataset, train=True, root=data_root, size=config.train_size)
        model, history = train(config, train_set, test_set, out_dir, resume=True, progress=progress)
        train_images = len(train_set.x)
    else:
        tell(f"vaecore: note: no training: {out_dir} holds no checkpoint, so the shipped weights "
             f"{weights.shipped_path(source)} are evaluated on the CPU (VAECORE_SHIPPED=off trains instead)")
        model = weights.load(source, "cpu")
        record = weights.shipped_metrics(source)  # a GPU run's (<name>-gpu) from the GPU runs' folder
        history, train_images = record["history"], record["train_images"]
    x_test = test_set.x.to(next(model.parameters()).device)

    path = out_dir / "metrics.json"
    metrics = _read_json(path)
    if metrics.get("config") != config.to_dict() or metrics.get("history") != history:
        metrics = _evaluate(model, config, history, x_test, train_images, progress)
        if torch.get_num_threads() != threads:
            metrics["machine"] |= {"threads": threads, "threads_raised_to": torch.get_num_threads()}
        if source is not None:  # the run's cost is its training's, where it trained; this evaluation is apart
            metrics["evaluated_on"] = metrics["machine"] | {"seconds": metrics["eval_seconds"]}
            metrics |= {key: record[key] for key in ("machine", "eval_seconds")}
    metrics.update(latent_usage(model, x_test)._asdict())
    check_finite(metrics, f"the run in {out_dir}")
    if source is None:
        metrics["weights_sha256"] = weights.save(model, config, out_dir / "model.pt")
    else:  # the shipped file itself, byte for byte, so that its SHA-256 stays the one the book records
        metrics["weights_sha256"] = weights.copy(source, out_dir / "model.pt")
    metrics["shipped_weights"] = source
    write_atomically(path, lambda file: file.write(json.dumps(metrics, indent=1).encode()))
    return Run(model, history, metrics, test_set)


def check_finite(values: dict, what: str) -> None:
    """Raise :class:`NotFinite` naming ``what`` and the first NaN or infinite number in ``values``,
    nested ones too (the history): such a number is no result, and must not reach a page."""
    for key, value in _numbers(values):
        if not math.isfinite(value):
            raise NotFinite(f"{what} gave {key} = {value}: its model is numerically broken, and nothing "
                            f"was recorded; train it with a smaller lr")


def _numbers(value: object, key: str = "") -> Iterator[tuple[str, float]]:
    """Every float in nested dicts and lists, with its place: ``history.test_total[2]``."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _numbers(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _numbers(item, f"{key}[{index}]")
    elif isinstance(value, float):
        yield key, value


def _read_json(path: Path) -> dict:
    """The metrics in ``path``, or none if it is missing or damaged (they are then recomputed)."""
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return metrics if isinstance(metrics, dict) else {}


def _evaluate(model: VAE, config: Config, history: dict[str, list], x_test: torch.Tensor, train_images: int,
              progress: bool) -> dict:
    """The test-set ELBO terms and IWAE estimate on ``x_test`` (on the model's device), with where
    and by what they were computed."""
    start = time.perf_counter()
    test = elbo(model, x_test, config)
    metrics = {
        "config": config.to_dict(),
        "test_total": test.total,
        "test_recon": test.recon,
        "test_kl": test.kl,
        "test_elbo": -(test.recon + test.kl),
        "test_total_draw_sd": draw_spread(model, x_test, config),
        "test_iwae_nll": iwae_nll(model, x_test, config, k=config.iwae_k, progress=progress),
        "iwae_k": config.iwae_k,
        "train_images": train_images,
        "test_images": len(x_test),
        "train_seconds": sum(history["seconds"]),
        "eval_seconds": time.perf_counter() - start,
        "trained_by": sorted(set(history["commit"])),
        "evaluated_by": commit(),
        "machine": machine(x_test.device),
        "history": history,
    }
    if config.likelihood == "bernoulli":
        metrics["test_bce"] = test.recon
    return metrics
