"""What a configuration costs: the FLOPs of its matrix products and the machine's matmul speed.

Below the book's tables and the sweep, which need a run's least time (its FLOPs at the
ceiling) but not the timing tool, :mod:`vaecore.bench`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from vaecore.config import Config
from vaecore.data import PIXELS, images
from vaecore.loss import vae_loss
from vaecore.model import build_model

# the groups of vaecore.bench's profiles, in the order its records and the book's table give them
PROFILE = ("matrix products", "the fused BCE", "data", "optimizer", "the rest")  # a training step's
IWAE_PROFILE = ("matrix products", "the likelihood", "sampling z", "the rest")  # an IWAE estimate's


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so that a clock read after it counts that work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def gflops_trial(device: torch.device, work: Callable[[], object], flops: int,
                 repeats: int) -> Callable[[], float]:
    """A function that runs ``work`` (``flops`` of matrix products) ``repeats`` times and returns
    their GFLOP/s; ``work`` runs once here first, as a warm-up."""
    work()

    def trial() -> float:
        sync(device)
        start = time.perf_counter()
        for _ in range(repeats):
            work()
        sync(device)
        return flops * repeats / (time.perf_counter() - start) / 1e9

    return trial


def matmul_trial(device: torch.device, size: int = 2048, repeats: int = 10) -> Callable[[], float]:
    """A :func:`gflops_trial` of ``repeats`` square fp32 matmuls of ``size``: the machine's
    practical ceiling (one trial read 72 to 85 GFLOP/s on one thread within an hour of a shared
    machine)."""
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    return gflops_trial(device, lambda: a @ b, 2 * size**3, repeats)


def matmul_gflops(device: torch.device, size: int = 2048, repeats: int = 10, trials: int = 3) -> float:
    """The best of ``trials`` of :func:`matmul_trial`: the ceiling a run's least time rests on."""
    trial = matmul_trial(device, size, repeats)
    return max(trial() for _ in range(trials))


def count_flops(fn: Callable[[], object]) -> int:
    """Floating-point operations of the matrix products ``fn()`` runs."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def step_flops(config: Config, x_dim: int) -> int:
    """Floating-point operations of one training step at ``config.batch_size`` (matmuls only)."""
    model = build_model(config, x_dim)
    x = torch.rand(config.batch_size, x_dim)

    def step() -> None:
        logits, mu, logvar = model(x)
        vae_loss(logits, x, mu, logvar, config.beta, config.likelihood).total.backward()

    return count_flops(step)


def run_flops(config: Config, x_dim: int, train_images: int, test_images: int) -> int:
    """Matmul FLOPs of a whole run as vaecore makes it: every epoch's training steps and its
    validation pass over the test set, then the final ELBO and IWAE evaluation.

    Computed from the layers' sizes, without building the model (a config too big for memory
    has a cost too); ``tests/test_bench.py`` checks it against :func:`step_flops`' count.

    Args:
        config: the run's configuration (epochs, model sizes, IWAE k).
        x_dim: pixels per image.
        train_images, test_images: sizes of the two splits.

    Returns:
        The FLOPs; divided by a FLOP/s ceiling, the least time the run can take.
    """
    def macs(sizes: list[int]) -> int:  # multiply-adds per image of an MLP of these widths
        return sum(a * b for a, b in zip(sizes, sizes[1:]))

    encoder = macs([x_dim, *config.hidden, 2 * config.n])
    decoder = macs([config.n, *reversed(config.hidden), x_dim])
    # per image: forward, weight gradients, and input gradients but the first layer's (the images need none)
    train = 2 * (3 * (encoder + decoder) - x_dim * config.hidden[0])
    forward = 2 * (encoder + decoder)
    iwae = 2 * (encoder + config.iwae_k * decoder)  # the encoder once, the decoder k times
    return config.epochs * (train_images * train + test_images * forward) + test_images * (forward + iwae)


def run_cost(config: Config) -> int:
    """The matrix FLOPs of ``config``'s run on its dataset, training and evaluation: what
    ``vaecore sweep`` orders its configurations by, the most first."""
    return run_flops(config, PIXELS, images(config.train_size, train=True), images(config.test_size, train=False))
