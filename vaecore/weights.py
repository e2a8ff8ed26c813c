"""Trained weights: written beside each run, shipped beside the book's run pages, loaded in one line.

A weights file is ``torch.save`` of a plain dict, ``{"config": ..., "model": state_dict}``, read
back with ``weights_only=True``, so loading one executes no code. A shipped model
``book/experiments/<name>.pt`` has its SHA-256 in the run's metrics, ``<name>.json``, under
``weights_sha256``; every load checks it. The GPU runs beside their pages in
``book/experiments-gpu/`` are shipped models too, named ``<name>-gpu``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from vaecore.config import Config, ConfigError, params_dir
from vaecore.errors import VaecoreError
from vaecore.folder import write_atomically
from vaecore.model import VAE
from vaecore.runs import RunsError, published, read_metrics


class WeightsError(VaecoreError):
    """A model to load is unknown, missing, changed or not a vaecore model."""


def shipped_dir() -> Path:
    """Where the book's runs keep their pages, metrics and weights."""
    return Path(__file__).resolve().parents[1] / "book" / "experiments"


def _shipped_files() -> dict[str, Path]:
    """Every shipped run's metrics file by model name: ``<stem>`` in :func:`shipped_dir`, ``<stem>-gpu``
    in the GPU runs' folder beside it (their stems are the CPU runs')."""
    folders = {"": shipped_dir(), "-gpu": shipped_dir().parent / "experiments-gpu"}
    return {name + suffix: path for suffix, folder in folders.items() for name, path in published(folder).items()}


def shipped_path(name: str) -> Path:
    """The weights file of the shipped model ``name`` (see :func:`shipped`)."""
    return _shipped_files()[name].with_suffix(".pt")


def shipped_metrics(name: str) -> dict:
    """The metrics of the shipped model ``name`` (see :func:`shipped`), read by :func:`read_metrics`."""
    return read_metrics(_shipped_files()[name])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save(model: VAE, config: Config, path: Path) -> str:
    """Write the model's weights and config (no optimizer state) atomically; returns the SHA-256."""
    write_atomically(path, lambda file: torch.save({"config": config.to_dict(), "model": model.state_dict()}, file))
    return sha256(path)


def copy(name: str, path: Path) -> str:
    """Write the shipped model ``name``'s weights file to ``path`` as it is, after checking it; returns its SHA-256."""
    data = _verified(name).read_bytes()
    write_atomically(path, lambda file: file.write(data))
    return shipped_metrics(name)["weights_sha256"]  # the bytes _verified just hashed


def shipped() -> dict[str, dict]:
    """The metrics of every shipped model, by name (the params file's stem; ``-gpu`` after it for a GPU run).

    Raises:
        RunsError: a metrics file is damaged or from a newer vaecore (naming it).
    """
    runs = {name: read_metrics(path) for name, path in _shipped_files().items()}
    return {name: metrics for name, metrics in runs.items() if "weights_sha256" in metrics}


def find(config: Config) -> str | None:
    """The name of a shipped model trained as ``config`` (same fingerprint, epochs and device), if any.

    The device counts: a GPU run's numbers differ from the CPU run's in the last decimals, so a
    GPU page evaluates the GPU run's weights (``<name>-gpu``), never the CPU run's as if they were its own.
    A metrics file that cannot be read is passed over unless its params file,
    ``params/<name>.yaml``, is ``config``'s run: then it was the one needed, and is named.

    Raises:
        RunsError: the metrics file of ``config``'s run cannot be read.
    """
    for name, path in _shipped_files().items():
        try:
            metrics = read_metrics(path)
        except RunsError:
            if _same_run(_params_config(path.stem), config):
                raise
            continue
        if "weights_sha256" in metrics and _same_run(Config.from_dict(metrics["config"]), config):
            return name
    return None


def _same_run(other: Config | None, config: Config) -> bool:
    return other is not None and ((other.fingerprint(), other.epochs, other.device)
                                  == (config.fingerprint(), config.epochs, config.device))


def _params_config(name: str) -> Config | None:
    """The config of ``params/<name>.yaml``, the params file a shipped run is named for, if readable."""
    try:
        return Config.from_yaml(params_dir() / f"{name}.yaml")
    except ConfigError:
        return None


def load(source: str | Path, device: str | torch.device = "cpu") -> VAE:
    """A trained VAE in eval mode.

    Args:
        source: a shipped model's name (``"n64-beta1"``, the params file's stem), or the path
            of a weights file or of a ``checkpoint.pt`` written by ``vaecore train``.
        device: where to put it.

    Raises:
        WeightsError: an unknown name (the message lists the shipped ones), a missing file,
            a file whose SHA-256 is not the recorded one, or a file that is not a vaecore model.
    """
    return load_with_config(source, device)[0]


def load_with_config(source: str | Path, device: str | torch.device = "cpu") -> tuple[VAE, Config]:
    """Like :func:`load`, and the config the model was trained with."""
    path = Path(source)
    if not path.is_file():
        path = _verified(str(source))
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        config = Config.from_dict(state["config"])
        model = VAE(state["model"]["encoder.0.weight"].shape[1], config.n, config.hidden)
        model.load_state_dict(state["model"])
    except Exception as error:  # any unreadable or foreign file is the same user error
        raise WeightsError(f"{path} is not a vaecore model or checkpoint ({type(error).__name__}); "
                           f"pass a file written by vaecore") from None
    return model.to(device).eval(), config


def _verified(name: str) -> Path:
    """The shipped weights file of ``name``, after checking its SHA-256."""
    files = _shipped_files()
    if name not in files:
        names = [known for known, path in files.items() if path.with_suffix(".pt").is_file()]
        raise WeightsError(f"no shipped model or file {name!r}; shipped models: {', '.join(names) or 'none'}")
    metrics = shipped_metrics(name)
    path = files[name].with_suffix(".pt")
    if "weights_sha256" not in metrics:
        raise WeightsError(f"{files[name]} records no weights: its run shipped none")
    if not path.is_file():
        raise WeightsError(f"shipped weights {path} are missing; restore them with git checkout")
    if sha256(path) != metrics["weights_sha256"]:
        raise WeightsError(f"shipped weights {path} do not match the SHA-256 in {path.with_suffix('.json')}: "
                           f"the file was changed or truncated; restore it with git checkout")
    return path
