"""How fast are training and evaluation? Against the peers' trainers and the machine's matmul speed."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
from torch.profiler import ProfilerActivity, profile

from vaecore import plots
from vaecore.config import Config
from vaecore.cost import IWAE_PROFILE, PROFILE, count_flops, gflops_trial, matmul_trial, step_flops, sync
from vaecore.data import load
from vaecore.evaluate import iwae_nll, latent_usage
from vaecore.memory import reuse_freed_blocks
from vaecore.model import VAE
from vaecore.peers import Timer, examples_epoch, pythae_epoch
from vaecore.provenance import commit, machine
from vaecore.model import build_model
from vaecore.train import make_optimizer, resolve_device, train_epoch


def matmuls_alone(model: VAE, batch_size: int, steps: int = 50) -> Callable[[], float]:
    """A :func:`gflops_trial` of the matrix products of ``steps`` training steps of ``model``, back
    to back, on warm random operands and with nothing between them: the
    most a trainer of these shapes can reach on this machine, short of the large-product ceiling.

    Per linear layer (B = ``batch_size``): the forward ``addmm``, the weight gradient g^T h and,
    but for the encoder's first layer (the images need none), the input gradient g W.
    """
    device = next(model.parameters()).device
    layers = [layer for layer in model.modules() if isinstance(layer, torch.nn.Linear)]
    operands = [(torch.randn(batch_size, layer.in_features, device=device),  # the layer's input h
                 torch.randn(batch_size, layer.out_features, device=device),  # its output's gradient g
                 layer.weight.detach(), layer.bias.detach(), layer is not model.encoder[0])
                for layer in layers]

    def step() -> None:
        for h, g, weight, bias, input_gradient in operands:
            torch.addmm(bias, h, weight.t())
            g.t().mm(h)
            if input_gradient:
                g.mm(weight)

    return gflops_trial(device, step, count_flops(step), steps)


def vaecore_epoch(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                  config: Config) -> Timer:
    """Epochs of vaecore's trainer over ``x`` (N, M)."""
    def epoch() -> float:
        sync(x.device)
        start = time.perf_counter()
        train_epoch(model, optimizer, x, config)
        sync(x.device)
        return time.perf_counter() - start

    return epoch


def interleaved(timers: dict[str, Timer], rounds: int) -> dict[str, list[float]]:
    """Each timer's results (an epoch's seconds, a matmul trial's GFLOP/s) over ``rounds`` rounds,
    taken in turn, so that a neighbour's burst on a shared machine slows all of them rather than one."""
    times: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(rounds):
        for name, timer in timers.items():
            times[name].append(timer())
    return times


MATMULS = ("aten::mm", "aten::addmm", "aten::bmm")
# a training step's groups: the self time of some ops, the whole time of some scopes (their ops
# and the Python around them)
STEP_OPS = {"matrix products": MATMULS, "data": ("aten::index_select", "aten::randperm")}
STEP_SCOPES = {"the fused BCE": ("BernoulliNLL", "BernoulliNLLBackward"),  # vaecore.loss.BernoulliNLL, both ways
               "optimizer": ("Optimizer.step#Adam.step", "Optimizer.zero_grad#Adam.zero_grad")}
# an IWAE estimate's groups, the same way
IWAE_OPS = {"matrix products": MATMULS, "sampling z": ("aten::normal",)}
IWAE_SCOPES = {"the likelihood": ("BernoulliNLL",)}  # vaecore.loss.BernoulliNLL


def _shares(events: list, ops: dict[str, tuple[str, ...]], scopes: dict[str, tuple[str, ...]],
            order: tuple[str, ...]) -> dict[str, float]:
    """The fraction of the profiled CPU time (``events``: a profile's key averages) in each group,
    in ``order``: the self time of the ``ops`` groups' ops, the whole time of the ``scopes``
    groups' scopes, and the rest."""
    total = sum(event.self_cpu_time_total for event in events)
    shares = {group: sum(e.self_cpu_time_total for e in events if e.key in names) / total for group, names in ops.items()}
    shares |= {group: sum(e.cpu_time_total for e in events if e.key in names) / total for group, names in scopes.items()}
    shares["the rest"] = 1 - sum(shares.values())
    return {group: shares[group] for group in order}


def profile_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                 config: Config, batches: int = 40) -> dict[str, float]:
    """Where a training step's time goes (torch.profiler over ``batches`` steps): the fraction of
    the CPU time in each of :data:`PROFILE`'s groups."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        train_epoch(model, optimizer, x[: batches * config.batch_size], config)
    return _shares(prof.key_averages(), STEP_OPS, STEP_SCOPES, PROFILE)


def profile_iwae(model: torch.nn.Module, x: torch.Tensor, config: Config) -> dict[str, float]:
    """Where an IWAE estimate's time goes (torch.profiler over images ``x``): the fraction of
    the CPU time in each of :data:`IWAE_PROFILE`'s groups."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        iwae_nll(model, x, config, k=config.iwae_k)
    return _shares(prof.key_averages(), IWAE_OPS, IWAE_SCOPES, IWAE_PROFILE)


def evaluation(model: torch.nn.Module, config: Config, root: str | None, images: int, gflops: float) -> dict:
    """Seconds of an n > 2 page's evaluation: the IWAE estimate at ``config.iwae_k`` (the median
    of three on ``images`` test images, given per 10,000), the t-SNE map of the codes a page
    shows, and the other figures but the loss curves."""
    test = load(config.dataset, train=False, root=root)
    x = test.x[:images].to(next(model.parameters()).device)
    seconds = []
    for _ in range(3):  # the median of three, like the trainer's epochs
        start = time.perf_counter()
        iwae_nll(model, x, config, k=config.iwae_k)
        seconds.append(time.perf_counter() - start)
    iwae = statistics.median(seconds) * 10_000 / images
    flops = count_flops(lambda: iwae_nll(model, x[:1], config, k=config.iwae_k)) * 10_000
    start = time.perf_counter()
    plt.close(plots.latent_codes(model, test))
    tsne = time.perf_counter() - start
    start = time.perf_counter()
    kls = latent_usage(model, test.x).kl_per_dim
    for figure in (plots.kl_per_dim(kls), plots.generated(model, test), plots.prior_samples(model),
                   plots.reconstructions(model, test.x)):
        plt.close(figure)
    figures = time.perf_counter() - start
    shares = profile_iwae(model, x[:20], config) if x.device.type == "cpu" else {}
    return {"iwae_seconds": iwae, "iwae_gflops": flops / iwae / 1e9, "iwae_fraction": flops / iwae / 1e9 / gflops,
            "iwae_profile": shares, "tsne_seconds": tsne, "tsne_codes": plots.codes_shown(model.n, len(test.x)),
            "figures_seconds": figures}


def bench(device: str = "cpu", epochs: int = 3, root: str | None = None, eval_images: int = 500,
          train_images: int | None = None) -> dict:
    """Print epoch times of vaecore's trainer and its peers, where a step's time goes, the
    evaluation's times, and the fractions of the matmul ceiling; last, the speedup over the
    PyTorch examples' loop.

    Args:
        device: ``cpu`` or ``cuda``.
        epochs: timed epochs of vaecore's and pythae's trainers, and trials of the matmul ceiling
            and of a step's products alone, interleaved (the medians count).
        root: data folder.
        eval_images: test images the IWAE estimate is timed on (0: no evaluation timing).
        train_images: the first training images an epoch goes over (None: all 60,000, as a run's).

    Returns:
        The measurements, with the machine they were taken on.
    """
    config = Config(n=64, device=device)
    dev = resolve_device(device)
    reuse_freed_blocks()  # as training and evaluation do; for the peers too, in this process
    print(f"device {dev}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"model: the report's n=64 VAE, batch {config.batch_size}")
    x = load(config.dataset, train=True, root=root, size=train_images).x.to(dev)
    torch.manual_seed(0)
    model = build_model(config, x.shape[1]).to(dev)
    optimizer = make_optimizer(model, config)
    train_epoch(model, optimizer, x[: 20 * config.batch_size], config)  # warm-up
    timers = {"vaecore": vaecore_epoch(model, optimizer, x, config)}
    pythae = pythae_epoch(build_model(config, x.shape[1]).to(dev), config, x)
    if pythae is None:
        print("pythae:            not installed (pip install -e \".[peers]\"), left out")
    else:
        timers["pythae"] = pythae
    # the ceiling is taken between the epochs and its median kept, as the epochs' is: the best of
    # a few trials against a median epoch would count this machine's noise (+-15%) against the trainer
    timers |= {"matmul": matmul_trial(dev), "alone": matmuls_alone(model, config.batch_size)}
    times = interleaved(timers, epochs)
    examples = examples_epoch(config, root, dev, train_images)()  # 3-4 times slower: one epoch tells
    ours = statistics.median(times["vaecore"])
    flops = step_flops(config, x.shape[1]) * len(x) / config.batch_size
    achieved, ceiling = flops / ours / 1e9, statistics.median(times["matmul"])
    alone = statistics.median(times["alone"])
    shares = profile_step(model, optimizer, x, config) if dev.type == "cpu" else {}

    result = {"trainer_epoch_seconds": ours, "trainer_epochs_seconds": times["vaecore"],
              "reference_epoch_seconds": examples, "speedup": examples / ours,
              "trainer_gflops": achieved, "matmul_gflops": ceiling, "matmul_trials_gflops": times["matmul"],
              "matmuls_alone_gflops": alone,
              "profile": shares}
    print(f"vaecore trainer:   {ours:6.2f} s/epoch (median of {epochs}: "
          f"{', '.join(f'{t:.2f}' for t in times['vaecore'])})")
    if pythae is not None:
        theirs = statistics.median(times["pythae"])
        result |= {"pythae_epoch_seconds": theirs, "pythae_epochs_seconds": times["pythae"],
                   "speedup_pythae": theirs / ours}
        print(f"pythae trainer:    {theirs:6.2f} s/epoch (median of {epochs}, interleaved: "
              f"{', '.join(f'{t:.2f}' for t in times['pythae'])}); vaecore {theirs / ours:.2f}x faster")
    print(f"reference loop:    {examples:6.2f} s/epoch (pytorch/examples: Dataset + DataLoader)")
    print(f"trainer:           {achieved:6.1f} GFLOP/s ({flops / 1e9:.0f} GFLOP of matmuls per epoch)")
    print(f"matmul ceiling:    {ceiling:6.1f} GFLOP/s (2048x2048 fp32, median of {epochs} trials between the "
          f"epochs: {', '.join(f'{g:.1f}' for g in times['matmul'])}); trainer at {achieved / ceiling:.0%} of it")
    print(f"a step's matmuls:  {alone:6.1f} GFLOP/s alone, back to back ({alone / ceiling:.0%} of the ceiling): "
          f"the most these shapes allow")
    if shares:
        print("a step's time:     " + ", ".join(f"{group} {share:.0%}" for group, share in shares.items()))
    if eval_images:
        result["evaluation"] = timed = evaluation(model.eval(), config, root, eval_images, ceiling)
        print(f"IWAE, k = {config.iwae_k}:    {timed['iwae_seconds']:6.1f} s per 10,000 test images "
              f"(median of 3 on {eval_images:,}), {timed['iwae_gflops']:.1f} GFLOP/s, {timed['iwae_fraction']:.0%} of the ceiling")
        if timed["iwae_profile"]:
            print("an IWAE's time:    " + ", ".join(f"{group} {share:.0%}" for group, share in timed["iwae_profile"].items()))
        print(f"t-SNE map:         {timed['tsne_seconds']:6.1f} s ({timed['tsne_codes']:,} codes)")
        print(f"other figures:     {timed['figures_seconds']:6.1f} s")
    print(f"speedup: {examples / ours:.2f}")
    return result | {"commit": commit(), "machine": machine(dev)}
