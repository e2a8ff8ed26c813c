"""The benchmark's FLOP count, which its GFLOP/s figure rests on."""

import torch

from vaecore.bench import matmul_gflops, step_flops


def test_step_flops_counts_forward_and_backward_matmuls(tiny_config):
    """2 B in out per layer forward, the same for each weight gradient, and for each input
    gradient but the first layer's (the images need none)."""
    config = tiny_config(n=3, hidden=(16, 8), batch_size=10)
    layers = [(784, 16), (16, 8), (8, 6), (3, 8), (8, 16), (16, 784)]  # encoder, then decoder
    macs = sum(a * b for a, b in layers) * config.batch_size
    first = 784 * 16 * config.batch_size  # z needs a gradient, so only the encoder's first layer skips one
    assert step_flops(config, 784) == 2 * (3 * macs - first)


def test_matmul_ceiling_is_a_positive_rate():
    """The ceiling is measured, not assumed."""
    assert matmul_gflops(torch.device("cpu"), size=128, repeats=2) > 0
