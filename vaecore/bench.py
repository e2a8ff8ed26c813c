"""How fast is the trainer? Against a DataLoader loop and against the machine's matmul speed."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode
from torchvision import datasets, transforms

from vaecore.config import Config
from vaecore.data import data_root, load
from vaecore.evaluate import elbo, iwae_nll
from vaecore.loss import vae_loss
from vaecore.provenance import machine
from vaecore.train import make_model, make_optimizer, resolve_device, train_epoch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_gflops(device: torch.device, size: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of a large square fp32 matmul: the machine's practical ceiling."""
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    a @ b  # warm-up
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def count_flops(fn: Callable[[], object]) -> int:
    """Floating-point operations of the matrix products ``fn()`` runs."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def step_flops(config: Config, x_dim: int) -> int:
    """Floating-point operations of one training step at ``config.batch_size`` (matmuls only)."""
    model = make_model(config, x_dim)
    x = torch.rand(config.batch_size, x_dim)

    def step() -> None:
        logits, mu, logvar = model(x)
        vae_loss(logits, x, mu, logvar, config.beta, config.likelihood).total.backward()

    return count_flops(step)


def run_flops(config: Config, x_dim: int, train_images: int, test_images: int) -> int:
    """Matmul FLOPs of a whole run as vaecore makes it: every epoch's training steps and its
    validation pass over the test set, then the final ELBO and IWAE evaluation.

    Args:
        config: the run's configuration (epochs, batch size, model sizes, IWAE k).
        x_dim: pixels per image.
        train_images, test_images: sizes of the two splits.

    Returns:
        The FLOPs; divided by a FLOP/s ceiling, the least time the run can take.
    """
    model = make_model(config, x_dim).eval()
    image = torch.rand(1, x_dim)
    train = step_flops(config, x_dim) / config.batch_size  # per image: FLOPs are linear in the batch
    forward = count_flops(lambda: elbo(model, image, config))
    iwae = count_flops(lambda: iwae_nll(model, image, config, config.iwae_k))
    return round(config.epochs * (train_images * train + test_images * forward) + test_images * (forward + iwae))


def reference_epoch(config: Config, loader: DataLoader, x_dim: int, device: torch.device) -> float:
    """One epoch as pytorch/examples/vae writes it: Dataset + DataLoader, sigmoid + BCE. Returns seconds."""
    model = make_model(config, x_dim).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    start = time.perf_counter()
    for data, _ in loader:
        data = data.to(device).view(-1, x_dim)
        optimizer.zero_grad()
        mu, logvar = model.encode(data)
        recon = torch.sigmoid(model.decode(model.reparameterize(mu, logvar)))
        bce = F.binary_cross_entropy(recon, data, reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        (bce + kld).backward()
        optimizer.step()
    _sync(device)
    return time.perf_counter() - start


def bench(device: str = "cpu", epochs: int = 3, root: str | None = None) -> dict:
    """Print epoch times of both loops, the trainer's GFLOP/s, the matmul ceiling and the speedup.

    Returns:
        The measurements, with the machine they were taken on.
    """
    config = Config(n=64, device=device)
    dev = resolve_device(device)
    print(f"device {dev}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"model: the report's n=64 VAE, batch {config.batch_size}")
    x = load(config.dataset, train=True, root=root).x.to(dev)
    torch.manual_seed(0)
    model = make_model(config, x.shape[1]).to(dev)
    optimizer = make_optimizer(model, config)
    train_epoch(model, optimizer, x[: 20 * config.batch_size], config)  # warm-up
    times = []
    for _ in range(epochs):
        _sync(dev)
        start = time.perf_counter()
        train_epoch(model, optimizer, x, config)
        _sync(dev)
        times.append(time.perf_counter() - start)
    ours = statistics.median(times)  # robust to a neighbour's burst on a shared machine

    mnist = datasets.MNIST(root=data_root(root), train=True, download=False, transform=transforms.ToTensor())
    loader = DataLoader(mnist, batch_size=config.batch_size, shuffle=True)
    reference = reference_epoch(config, loader, x.shape[1], dev)

    flops = step_flops(config, x.shape[1]) * len(x) / config.batch_size
    achieved, ceiling = flops / ours / 1e9, matmul_gflops(dev)
    print(f"vaecore trainer:   {ours:6.2f} s/epoch (median of {epochs}: {', '.join(f'{t:.2f}' for t in times)})")
    print(f"reference loop:    {reference:6.2f} s/epoch (Dataset + DataLoader)")
    print(f"trainer:           {achieved:6.1f} GFLOP/s ({flops / 1e9:.0f} GFLOP of matmuls per epoch)")
    print(f"matmul ceiling:    {ceiling:6.1f} GFLOP/s (2048x2048 fp32); trainer at {achieved / ceiling:.0%} of it")
    print(f"speedup: {reference / ours:.2f}")
    return {"trainer_epoch_seconds": ours, "trainer_epochs_seconds": times,
            "reference_epoch_seconds": reference, "speedup": reference / ours,
            "trainer_gflops": achieved, "matmul_gflops": ceiling, "machine": machine(dev)}
