"""Training: in-memory mini-batches, Adam, a checkpoint every epoch, exact resume."""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from vaecore.config import Config
from vaecore.data import Split
from vaecore.errors import VaecoreError
from vaecore.evaluate import elbo
from vaecore.folder import locked, write_atomically
from vaecore.loss import vae_loss
from vaecore.memory import reuse_freed_blocks
from vaecore.model import VAE, build_model
from vaecore.progress import progress_bar, report_epoch
from vaecore.provenance import commit

HISTORY_KEYS = ("epoch", "train_recon", "train_kl", "train_total",
                "test_recon", "test_kl", "test_total", "seconds", "commit")
CHECKPOINT_KEYS = ("model", "optimizer", "rng", "cuda_rng", "config", "history")


class TrainingDiverged(VaecoreError, RuntimeError):
    """The loss became NaN or infinite."""


class CheckpointMismatch(VaecoreError, ValueError):
    """A checkpoint to resume was trained with another configuration, or for more epochs."""


class CheckpointDamaged(VaecoreError):
    """A checkpoint file is empty, truncated, garbage, or not one of vaecore's."""


class CheckpointExists(VaecoreError, FileExistsError):
    """A checkpoint is in the way of a run that does not resume."""


class DeviceUnavailable(VaecoreError):
    """The config asks for a GPU on a machine without one."""


def resolve_device(name: str) -> torch.device:
    """The torch device of a config's ``device``.

    Raises:
        DeviceUnavailable: ``cuda`` where torch sees no GPU. Training on the CPU instead would
            record, and title its page, as a GPU run.
    """
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable("config key 'device' is 'cuda' but torch sees no GPU on this machine; "
                                "run it on a machine with one, or set its device to cpu (vaecore train --device cpu)")
    return torch.device(name)


def make_optimizer(model: VAE, config: Config) -> torch.optim.Adam:
    # fused Adam updates all parameters in one kernel: a few % of a CPU step, more on a GPU
    return torch.optim.Adam(model.parameters(), lr=config.lr, fused=True)


def train_epoch(model: VAE, optimizer: torch.optim.Optimizer, x: torch.Tensor, config: Config) -> torch.Tensor:
    """One shuffled pass over ``x`` (N, M).

    Returns:
        The per-image means of (total, recon, kl) over the epoch, a tensor of 3.
    """
    model.train()
    sums = torch.zeros(3, device=x.device)
    order = torch.randperm(len(x), device=x.device)
    for start in range(0, len(x), config.batch_size):
        batch = x.index_select(0, order[start:start + config.batch_size])  # (B, M); 3x faster than x[...]
        logits, mu, logvar = model(batch)
        terms = vae_loss(logits, batch, mu, logvar, config.beta, config.likelihood)
        optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        optimizer.step()
        sums += torch.stack(terms).detach() * len(batch)
    return sums / len(x)


def save_checkpoint(path: Path, model: VAE, optimizer: torch.optim.Optimizer, config: Config,
                    history: dict[str, list]) -> None:
    """Write atomically: a crash or a full disk mid-write leaves the previous checkpoint intact."""
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "config": config.to_dict(),
        "history": history,
    }
    write_atomically(path, lambda file: torch.save(state, file))


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict:
    """The checkpoint as saved by :func:`save_checkpoint`, tensors on ``device``.

    Raises:
        CheckpointDamaged: the file cannot be read, or lacks a key or a valid config.
    """
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except OSError as error:
        raise _damaged(path, f"cannot be read ({error.strerror or error})") from None
    except Exception:  # EOFError, UnpicklingError, RuntimeError: their advice (weights_only=False) is unsafe
        raise _damaged(path, "is empty, truncated or not a checkpoint") from None
    missing = [key for key in CHECKPOINT_KEYS if not isinstance(state, dict) or key not in state]
    if missing:
        raise _damaged(path, f"is not a vaecore checkpoint (no {', '.join(missing)})")
    try:
        Config.from_dict(state["config"])
        if any(len(state["history"][key]) != len(state["history"]["epoch"]) for key in HISTORY_KEYS):
            raise ValueError
    except (ValueError, TypeError, KeyError):
        raise _damaged(path, "holds an unreadable config or history") from None
    return state


def _damaged(path: Path, what: str) -> CheckpointDamaged:
    return CheckpointDamaged(f"{path} {what}; delete it, or choose another output folder")


def restore(path: Path, model: VAE, optimizer: torch.optim.Optimizer, config: Config) -> dict[str, list]:
    """Load a checkpoint into ``model`` and ``optimizer`` and restore the RNG state.

    Returns:
        The history so far.

    Raises:
        CheckpointMismatch: the checkpoint was trained with a config of another fingerprint.
        CheckpointDamaged: the checkpoint cannot be read or does not fit the model.
    """
    device = next(model.parameters()).device
    state = load_checkpoint(path, device)
    saved = Config.from_dict(state["config"])
    if saved.fingerprint() != config.fingerprint():
        raise CheckpointMismatch(f"{path} was trained with another config ({saved}); "
                                 f"it cannot be resumed as {config}")
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"].cpu())
        if state["cuda_rng"] and device.type == "cuda":
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])
    except (RuntimeError, ValueError, TypeError, KeyError, AttributeError):  # shapes or state of another model
        raise _damaged(path, "does not fit the model of its own config") from None
    return state["history"]


def follow_thread_budget(out_dir: Path) -> None:
    """Use as many threads as ``out_dir/threads`` says, if it exists: ``vaecore sweep`` writes it to
    give the cores of finished workers to the runs still going. The speed changes, and on some CPUs
    the last bits: a matmul split over more threads may sum in another order (tests/test_train.py);
    the run's metrics record the raised count."""
    try:
        threads = int((out_dir / "threads").read_text())
    except (OSError, ValueError):
        return
    if threads > 0 and threads != torch.get_num_threads():
        torch.set_num_threads(threads)


def train(config: Config, train_set: Split, test_set: Split, out_dir: str | Path,
          resume: bool = False, progress: bool = True) -> tuple[VAE, dict[str, list]]:
    """Train ``config`` for ``config.epochs`` epochs, checkpointing into ``out_dir``.

    Args:
        config: the experiment.
        train_set, test_set: data in memory; the test set is the validation set.
        out_dir: folder of ``checkpoint.pt`` and ``config.yaml``.
        resume: continue from ``out_dir/checkpoint.pt`` if it exists (else it is an error
            for one to exist). ``out_dir`` is locked while training writes to it.
        progress: show the epochs going by (see :mod:`vaecore.progress`).

    Returns:
        The trained model (in eval mode) and its history, one entry per epoch.

    Raises:
        CheckpointExists: a checkpoint exists and ``resume`` is false.
        CheckpointMismatch: the checkpoint to resume belongs to another config, or has more
            epochs than ``config.epochs``.
        CheckpointDamaged: the checkpoint to resume cannot be read.
        TrainingDiverged: the loss became NaN or infinite; the last good checkpoint, if any, is kept.
        FolderLocked, OutputError: see :func:`vaecore.folder.locked`; OutputError also when
            the disk fills.
    """
    with locked(out_dir) as out_dir:
        return _train(config, train_set, test_set, out_dir, resume, progress)


def _train(config: Config, train_set: Split, test_set: Split, out_dir: Path,
           resume: bool, progress: bool) -> tuple[VAE, dict[str, list]]:
    device = resolve_device(config.device)
    path = out_dir / "checkpoint.pt"
    if path.exists() and not resume:
        raise CheckpointExists(f"{path} exists: resume it, or choose another output folder")

    reuse_freed_blocks()
    torch.manual_seed(config.seed)
    model = build_model(config, train_set.x.shape[1]).to(device)
    optimizer = make_optimizer(model, config)
    history = restore(path, model, optimizer, config) if path.exists() else {key: [] for key in HISTORY_KEYS}
    done = len(history["epoch"])
    if done > config.epochs:  # its model is not the one asked for
        raise CheckpointMismatch(f"{out_dir} holds a run of {done} epochs, more than the {config.epochs} "
                                 f"asked for; ask for {done} or more, or choose another output folder")
    write_atomically(out_dir / "config.yaml", lambda file: file.write(config.to_yaml_text().encode()))

    x_train, x_test = train_set.x.to(device), test_set.x.to(device)
    version = commit()
    bar = progress_bar(total=config.epochs, desc=f"n={config.n} beta={config.beta:g}", unit="epoch",
                       initial=done, enabled=progress)
    for epoch in range(done, config.epochs):
        follow_thread_budget(out_dir)
        start = time.perf_counter()
        total, recon, kl = train_epoch(model, optimizer, x_train, config).tolist()
        if not all(map(math.isfinite, (total, recon, kl))):
            kept = (f"keeping the last good checkpoint {path} (epoch {epoch})" if epoch
                    else f"no checkpoint was written in {out_dir}")
            raise TrainingDiverged(f"loss became {total} (recon {recon}, kl {kl}) in epoch {epoch + 1}; "
                                   f"stopped, {kept}; try a smaller lr")
        test = elbo(model, x_test, config)
        row = {"epoch": epoch + 1, "train_recon": recon, "train_kl": kl, "train_total": total,
               "test_recon": test.recon, "test_kl": test.kl, "test_total": test.total,
               "seconds": time.perf_counter() - start, "commit": version}
        for key, value in row.items():
            history[key].append(value)
        save_checkpoint(path, model, optimizer, config, history)
        report_epoch(out_dir, epoch + 1, config.epochs, total, test.total)
        bar.set_postfix(train=f"{total:.2f}", test=f"{test.total:.2f}", refresh=False)
        bar.update()
    bar.close()
    model.eval()
    return model, history
