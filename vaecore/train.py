"""Training: in-memory mini-batches, Adam, a checkpoint every epoch, exact resume."""

from __future__ import annotations

import math
import os
import time
import warnings
from pathlib import Path

import torch
from tqdm import tqdm

from vaecore.config import Config
from vaecore.data import Split
from vaecore.evaluate import elbo
from vaecore.loss import vae_loss
from vaecore.model import VAE
from vaecore.provenance import commit

HISTORY_KEYS = ("epoch", "train_recon", "train_kl", "train_total",
                "test_recon", "test_kl", "test_total", "seconds", "commit")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class CheckpointMismatch(ValueError):
    """A checkpoint to resume was trained with another configuration."""


def resolve_device(name: str) -> torch.device:
    """``cuda`` when asked for and present, else the CPU (with a warning if cuda was asked for)."""
    if name == "cuda" and not torch.cuda.is_available():
        warnings.warn("device 'cuda' asked for but no GPU is available: training on the CPU")
        return torch.device("cpu")
    return torch.device(name)


def make_model(config: Config, x_dim: int) -> VAE:
    return VAE(x_dim, config.n, config.hidden)


def make_optimizer(model: VAE, config: Config) -> torch.optim.Adam:
    # fused Adam updates all parameters in one kernel: a few % of a CPU step, more on a GPU
    return torch.optim.Adam(model.parameters(), lr=config.lr, fused=True)


def train_epoch(model: VAE, optimizer: torch.optim.Optimizer, x: torch.Tensor, config: Config) -> torch.Tensor:
    """One shuffled pass over ``x`` (N, D).

    Returns:
        The per-image means of (total, recon, kl) over the epoch, a tensor of 3.
    """
    model.train()
    sums = torch.zeros(3, device=x.device)
    order = torch.randperm(len(x), device=x.device)
    for start in range(0, len(x), config.batch_size):
        batch = x[order[start:start + config.batch_size]]  # (B, D)
        logits, mu, logvar = model(batch)
        terms = vae_loss(logits, batch, mu, logvar, config.beta, config.likelihood)
        optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        optimizer.step()
        sums += torch.stack(terms).detach() * len(batch)
    return sums / len(x)


def save_checkpoint(path: Path, model: VAE, optimizer: torch.optim.Optimizer, config: Config,
                    history: dict[str, list]) -> None:
    """Write atomically: a crash mid-write leaves the previous checkpoint intact."""
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "config": config.to_dict(),
        "history": history,
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict:
    """The checkpoint as saved by :func:`save_checkpoint`, tensors on ``device``."""
    return torch.load(path, map_location=device, weights_only=True)


def restore(path: Path, model: VAE, optimizer: torch.optim.Optimizer, config: Config) -> dict[str, list]:
    """Load a checkpoint into ``model`` and ``optimizer`` and restore the RNG state.

    Returns:
        The history so far.

    Raises:
        CheckpointMismatch: the checkpoint was trained with a config of another fingerprint.
    """
    device = next(model.parameters()).device
    state = load_checkpoint(path, device)
    saved = Config.from_dict(state["config"])
    if saved.fingerprint() != config.fingerprint():
        raise CheckpointMismatch(f"{path} was trained with another config ({saved}); "
                                 f"it cannot be resumed as {config}")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"].cpu())
    if state["cuda_rng"] and device.type == "cuda":
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])
    return state["history"]


def train(config: Config, train_set: Split, test_set: Split, out_dir: str | Path,
          resume: bool = False, progress: bool = True) -> tuple[VAE, dict[str, list]]:
    """Train ``config`` for ``config.epochs`` epochs, checkpointing into ``out_dir``.

    Args:
        config: the experiment.
        train_set, test_set: data in memory; the test set is the validation set.
        out_dir: folder of ``checkpoint.pt`` and ``config.yaml``.
        resume: continue from ``out_dir/checkpoint.pt`` if it exists (else it is an error
            for one to exist).
        progress: show a tqdm bar over epochs.

    Returns:
        The trained model (in eval mode) and its history, one entry per epoch.

    Raises:
        FileExistsError: a checkpoint exists and ``resume`` is false.
        CheckpointMismatch: the checkpoint to resume belongs to another config.
        TrainingDiverged: the loss became NaN or infinite; the last good checkpoint is kept.
    """
    device = resolve_device(config.device)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "checkpoint.pt"
    if path.exists() and not resume:
        raise FileExistsError(f"{path} exists: resume it, or choose another output folder")

    torch.manual_seed(config.seed)
    model = make_model(config, train_set.x.shape[1]).to(device)
    optimizer = make_optimizer(model, config)
    history = restore(path, model, optimizer, config) if path.exists() else {key: [] for key in HISTORY_KEYS}
    config.to_yaml(out_dir / "config.yaml")

    x_train, x_test = train_set.x.to(device), test_set.x.to(device)
    version = commit()
    epochs = range(len(history["epoch"]), config.epochs)
    bar = tqdm(epochs, desc=f"n={config.n} beta={config.beta:g}", unit="epoch",
               initial=epochs.start, total=config.epochs, disable=not progress)
    for epoch in bar:
        start = time.perf_counter()
        total, recon, kl = train_epoch(model, optimizer, x_train, config).tolist()
        if not all(map(math.isfinite, (total, recon, kl))):
            raise TrainingDiverged(f"loss became {total} (recon {recon}, kl {kl}) in epoch {epoch + 1}; "
                                   f"stopped, keeping the last good checkpoint {path}")
        test = elbo(model, x_test, config)
        row = {"epoch": epoch + 1, "train_recon": recon, "train_kl": kl, "train_total": total,
               "test_recon": test.recon, "test_kl": test.kl, "test_total": test.total,
               "seconds": time.perf_counter() - start, "commit": version}
        for key, value in row.items():
            history[key].append(value)
        save_checkpoint(path, model, optimizer, config, history)
        bar.set_postfix(train=f"{total:.2f}", test=f"{test.total:.2f}")
    model.eval()
    return model, history
