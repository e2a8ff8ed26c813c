"""The benchmark's FLOP count, which its GFLOP/s figure rests on."""

import torch

from vaecore.bench import matmul_gflops, run_flops, step_flops


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


def test_run_flops_counts_every_epoch_then_the_evaluation(tiny_config):
    """epochs x (training steps + validation forward) + the final ELBO forward and the IWAE
    pass: the encoder once per image, the decoder k times."""
    config = tiny_config(n=3, hidden=(16, 8), batch_size=10, epochs=4, iwae_k=7)
    encoder, decoder = 784 * 16 + 16 * 8 + 8 * 6, 3 * 8 + 8 * 16 + 16 * 784  # multiply-adds per image
    train = 2 * (3 * (encoder + decoder) - 784 * 16)
    forward = 2 * (encoder + decoder)
    iwae = 2 * (encoder + config.iwae_k * decoder)
    expected = 4 * (50 * train + 20 * forward) + 20 * (forward + iwae)
    assert run_flops(config, 784, train_images=50, test_images=20) == expected
