"""The benchmark: its FLOP count, which its GFLOP/s figure rests on, and the command end to end."""

import json
import subprocess
import sys

import pytest
import torch

from vaecore.bench import interleaved, matmuls_alone, profile_iwae, profile_step
from vaecore.cli import main
from vaecore.config import Config
from vaecore.cost import count_flops, matmul_gflops, run_flops, step_flops
from vaecore.evaluate import iwae_nll
from vaecore.peers import pythae_epoch
from vaecore.model import build_model
from vaecore.train import make_optimizer


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


def test_matmuls_alone_are_a_training_steps_products(tiny_config):
    """The products timed alone are a training step's, FLOP for FLOP, step after step."""
    config = tiny_config(n=3, hidden=(16, 8), batch_size=10)
    trial = matmuls_alone(build_model(config, 784), config.batch_size, steps=2)
    assert count_flops(trial) == 2 * step_flops(config, 784)
    assert trial() > 0


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
    assert 2 * (3 * (encoder + decoder) - 784 * 16) * config.batch_size == step_flops(config, 784)  # as counted
    model = build_model(config, 784).eval()
    assert count_flops(lambda: iwae_nll(model, torch.rand(3, 784), config, config.iwae_k)) == 3 * iwae


def test_run_flops_of_a_config_too_big_for_memory_allocates_nothing():
    """A 10^6-wide model (160 GB of weights) costs its FLOPs at once: the sweep orders by them."""
    config = Config(n=64, hidden=(10**6, 10**6))
    assert run_flops(config, 784, 60000, 10000) > 10**18


def test_timers_take_turns():
    """Side by side means in turn: a burst on a shared machine slows every trainer, not one."""
    calls = []
    times = interleaved({"a": lambda: calls.append("a") or 1.0, "b": lambda: calls.append("b") or 2.0}, rounds=3)
    assert calls == ["a", "b"] * 3
    assert times == {"a": [1.0] * 3, "b": [2.0] * 3}


def test_profile_groups_a_steps_time(tiny_config):
    """The groups share the step's whole time, and matrix products and the optimizer have a part."""
    config = tiny_config(n=3, hidden=(16, 8), batch_size=10)
    model = build_model(config, 784)
    shares = profile_step(model, make_optimizer(model, config), torch.rand(50, 784), config, batches=5)
    assert set(shares) == {"matrix products", "the fused BCE", "data", "optimizer", "the rest"}
    assert sum(shares.values()) == pytest.approx(1)
    assert all(shares[group] > 0 for group in ("matrix products", "the fused BCE", "data", "optimizer"))


def test_profile_groups_an_iwae_estimates_time(tiny_config):
    """The groups share the estimate's whole time; the decoder's products and the likelihood have a part."""
    config = tiny_config(n=3, hidden=(16, 8), iwae_k=50)
    shares = profile_iwae(build_model(config, 784), torch.rand(4, 784), config)
    assert set(shares) == {"matrix products", "the likelihood", "sampling z", "the rest"}
    assert sum(shares.values()) == pytest.approx(1)
    assert all(shares[group] > 0 for group in ("matrix products", "the likelihood", "sampling z"))


def test_pythae_trains_the_same_layers(tiny_config):
    """pythae's trainer, given vaecore's layers and the images in memory, trains them for an epoch."""
    pytest.importorskip("pythae")
    config = tiny_config(n=3, hidden=(16, 8), batch_size=10)
    layers = build_model(config, 784)
    before = [p.clone() for p in layers.parameters()]
    epoch = pythae_epoch(layers, config, torch.rand(40, 784))
    assert epoch() > 0
    assert all(not torch.equal(a, b) for a, b in zip(before, layers.parameters()))


def test_nothing_above_the_runs_needs_the_timing_tool():
    """The book's tables and the sweep take a configuration's cost from vaecore.cost, which needs sizes,
    not the trainer: neither vaecore.bench nor vaecore.train comes with them."""
    code = ("import sys, vaecore.cost, vaecore.timings, vaecore.table1, vaecore.study; "
            "print('vaecore.bench' in sys.modules, 'vaecore.train' in sys.modules); import vaecore.sweep; "
            "print('vaecore.bench' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False", "False"]


def test_vaecore_bench_runs_end_to_end_and_ends_with_its_speedup(data_root, capsys, tmp_path):
    """`vaecore bench` as documented, on 512 images: every timer runs and the last line is the speedup."""
    code = main(["bench", "--epochs", "1", "--train-images", "512", "--eval-images", "20",
                 "--data", str(data_root), "--json", str(tmp_path / "bench.json")])
    out = capsys.readouterr().out
    assert code == 0 and out.splitlines()[-1].startswith("speedup: ")
    record = json.loads((tmp_path / "bench.json").read_text())
    assert record["speedup"] > 0 and record["evaluation"]["iwae_seconds"] > 0
